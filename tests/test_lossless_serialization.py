"""Every serializer of the token response and of `Token` keeps the real secret values (no mask is
ever written), so storing a token by any documented method and reading it back loses nothing;
displays (`repr`, `str`, `to_str`) still hide the secrets."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pinterest_oauth import OauthAccessTokenResponse, Token
from pinterest_oauth.models import Error

MASK = "**********"
FIELDS = set(OauthAccessTokenResponse.wire_names.values())
SECRETS = st.text(max_size=40).map(lambda s: "pin-secret-" + s)  # never equal to a plain field
JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20)
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)


@st.composite
def wire_bodies(draw: Any) -> dict[str, Any]:
    """A token response as Pinterest sends it: every variant's optional fields, unknown extras."""
    body: dict[str, Any] = {
        "access_token": draw(SECRETS),
        "expires_in": draw(st.integers(min_value=0, max_value=2**40)),
        "scope": draw(st.text(max_size=30)),
        "token_type": draw(st.sampled_from(["bearer", "Bearer"])),
    }
    optional = {
        "response_type": st.sampled_from(["authorization_code", "refresh_token", "client_credentials", "integration_refresh", "future_kind"]),
        "refresh_token": SECRETS,
        "refresh_token_expires_in": st.integers(min_value=0, max_value=2**40),
        "refresh_token_expires_at": st.integers(min_value=0, max_value=2**40),
    }
    for name, strategy in optional.items():
        if draw(st.booleans()):
            body[name] = draw(strategy)
    extras = draw(st.dictionaries(st.text(min_size=1, max_size=10).filter(lambda k: k not in FIELDS), JSON_VALUES, max_size=3))
    body.update(extras)
    return body


def parse(body: dict[str, Any]) -> OauthAccessTokenResponse:
    parsed = OauthAccessTokenResponse.from_json(json.dumps(body))
    assert parsed is not None
    return parsed


@settings(deadline=None)  # the suite's profile otherwise; no timing on a shared machine
@given(wire_bodies())
def test_the_response_round_trips_through_every_serializer_with_real_secrets(body: dict[str, Any]) -> None:
    token = parse(body)
    assert token.to_dict() == body  # exactly what the server sent, secrets included
    assert json.loads(token.to_json()) == body
    assert OauthAccessTokenResponse.from_dict(token.to_dict()) == token
    assert OauthAccessTokenResponse.from_json(token.to_json()) == token
    assert OauthAccessTokenResponse.model_validate_json(token.model_dump_json()) == token
    assert OauthAccessTokenResponse.model_validate(token.model_dump()) == token
    dumped = json.loads(token.model_dump_json())
    assert dumped["access_token"] == body["access_token"]
    assert dumped["refresh_token"] == body.get("refresh_token")
    assert token.model_dump()["access_token"] == body["access_token"]
    for shown in (repr(token), str(token), token.to_str()):
        assert "SecretStr('**********')" in shown
        assert f"'{body['access_token']}'" not in shown and repr(body["access_token"]) not in shown


@settings(deadline=None)
@given(wire_bodies(), st.floats(min_value=0, max_value=2**34), st.booleans())
def test_a_token_round_trips_through_to_dict_and_to_json(body: dict[str, Any], sent_at: float, with_previous: bool) -> None:
    previous = Token.from_response(parse({**body, "refresh_token": "previous-refresh"}), sent_at=sent_at) if with_previous else None
    token = Token.from_response(parse(body), sent_at=sent_at, previous=previous)
    assert Token.from_dict(token.to_dict()) == token
    assert Token.from_dict(json.loads(json.dumps(token.to_dict()))) == token
    assert Token.from_json(token.to_json()) == token
    stored = json.loads(token.to_json())
    assert stored["access_token"] == body["access_token"]
    assert MASK not in (stored["access_token"], stored["refresh_token"])
    assert f"'{body['access_token']}'" not in repr(token) and f"'{body['access_token']}'" not in str(token)


def test_a_models_dict_is_plain_json_data() -> None:
    token = parse({"access_token": "pina_A", "expires_in": 1, "scope": "s", "token_type": "bearer", "refresh_token": "pinr_B"})
    assert json.dumps(token.to_dict()) == token.to_json()  # no SecretStr objects left in it
    assert token.to_dict()["refresh_token"] == "pinr_B"
    error = Error.from_dict({"code": 2, "message": "Authentication failed."})
    assert error is not None and Error.from_json(error.to_json()) == error


def test_token_from_json_rejects_text_that_is_not_json() -> None:
    with pytest.raises(ValueError, match="not JSON"):
        Token.from_json("{not json")
