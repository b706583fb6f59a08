"""`Token`: absolute expiry times from a token response, stored form, hidden secrets."""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr

from pinterest_oauth import OauthAccessTokenResponse, Token
from fakes import A1 as ACCESS, A2, ACCESS_LIFE, R1 as REFRESH, REFRESH_LIFE, T0, token_body


def response(body: bytes) -> OauthAccessTokenResponse:
    parsed = OauthAccessTokenResponse.from_json(body.decode())
    assert parsed is not None
    return parsed


def test_times_are_counted_from_the_send_time() -> None:
    token = Token.from_response(response(token_body(ACCESS, REFRESH)), sent_at=T0)
    assert token.access_token.get_secret_value() == ACCESS
    assert token.refresh_token is not None and token.refresh_token.get_secret_value() == REFRESH
    assert token.obtained_at == T0
    assert token.expires_in == ACCESS_LIFE
    assert token.expires_at == T0 + ACCESS_LIFE
    assert token.refresh_token_expires_in == REFRESH_LIFE
    assert token.refresh_token_expires_at == T0 + REFRESH_LIFE  # computed: the server sent none
    assert (token.token_type, token.scope, token.response_type) == ("bearer", "boards:read,pins:read", "refresh_token")
    assert dict(token.additional_properties) == {}


def test_the_servers_refresh_expiry_wins_over_the_computed_one() -> None:
    body = token_body(ACCESS, REFRESH, refresh_at=int(T0) + 1000)
    token = Token.from_response(response(body), sent_at=T0)
    assert token.refresh_token_expires_at == T0 + 1000
    assert token.refresh_token_expires_in == REFRESH_LIFE


def test_a_non_rotating_refresh_keeps_the_previous_refresh_token() -> None:
    first = Token.from_response(response(token_body(ACCESS, REFRESH, refresh_at=int(T0) + 5000)), sent_at=T0)
    body = token_body(A2, None, response_type="refresh_token")
    second = Token.from_response(response(body), sent_at=T0 + 100, previous=first)
    assert second.access_token.get_secret_value() == A2
    assert second.expires_at == T0 + 100 + ACCESS_LIFE
    assert second.refresh_token == first.refresh_token
    assert second.refresh_token_expires_at == T0 + 5000
    assert second.refresh_token_expires_in == REFRESH_LIFE
    alone = Token.from_response(response(body), sent_at=T0)
    assert alone.refresh_token is None and alone.refresh_token_expires_at is None


def test_is_valid_respects_the_margin() -> None:
    token = Token.from_response(response(token_body(ACCESS, expires_in=100)), sent_at=T0)
    assert token.is_valid(T0 + 99.9)
    assert not token.is_valid(T0 + 100)
    assert token.is_valid(T0 + 39.9, margin=60)
    assert not token.is_valid(T0 + 40, margin=60)


def test_dict_round_trip_through_json_is_exact() -> None:
    body = token_body(ACCESS, REFRESH, refresh_at=int(T0) + 7, new_field={"a": [1, 2]})
    token = Token.from_response(response(body), sent_at=T0 + 0.123456789)
    data = json.loads(json.dumps(token.to_dict()))
    assert data == {
        "version": 1, "access_token": ACCESS, "token_type": "bearer", "scope": "boards:read,pins:read",
        "expires_in": ACCESS_LIFE, "expires_at": T0 + 0.123456789 + ACCESS_LIFE,
        "obtained_at": T0 + 0.123456789, "refresh_token": REFRESH,
        "refresh_token_expires_in": REFRESH_LIFE, "refresh_token_expires_at": T0 + 7,
        "response_type": "refresh_token", "additional_properties": {"new_field": {"a": [1, 2]}},
    }
    again = Token.from_dict(data)
    assert again == token
    assert again.to_dict() == token.to_dict()


@pytest.mark.parametrize("change, field", [
    ({"version": 2}, "version"),
    ({"access_token": None}, "access_token"),
    ({"expires_at": "soon"}, "expires_at"),
    ({"expires_in": 1.5}, "expires_in"),
    ({"expires_in": True}, "expires_in"),
    ({"refresh_token": 12345}, "refresh_token"),
    ({"expires_at": float("nan")}, "expires_at"),
    ({"additional_properties": [1]}, "additional_properties"),
])
def test_from_dict_names_the_bad_field_never_its_value(change: dict[str, object], field: str) -> None:
    data = Token.from_response(response(token_body(ACCESS, REFRESH)), sent_at=T0).to_dict()
    data.update(change)
    with pytest.raises(ValueError) as info:
        Token.from_dict(data)
    assert field in str(info.value)
    assert ACCESS not in str(info.value) and REFRESH not in str(info.value)


def test_repr_and_str_hide_every_secret() -> None:
    body = token_body(ACCESS, REFRESH, id_token="TESTIDTOKEN0001", plan="pro")
    token = Token.from_response(response(body), sent_at=T0)
    for text in (repr(token), str(token), repr([token]), f"{token}"):
        assert ACCESS not in text and REFRESH not in text and "TESTIDTOKEN0001" not in text
        assert "2025-11-08T08:53:20+00:00" in text  # expires_at = T0 + 30 days, readable
        assert "'plan': 'pro'" in text
    assert token.additional_properties["id_token"] == "TESTIDTOKEN0001"  # kept, just not shown


def test_token_is_frozen() -> None:
    token = Token.from_response(response(token_body(ACCESS)), sent_at=T0)
    with pytest.raises(AttributeError):
        token.access_token = SecretStr("x")  # type: ignore[misc]
    with pytest.raises(TypeError):
        token.additional_properties["x"] = 1  # type: ignore[index]


def test_token_pickles_and_copies() -> None:
    import copy
    import pickle

    token = Token.from_response(response(token_body(ACCESS, REFRESH, plan="pro")), sent_at=T0)
    for back in (pickle.loads(pickle.dumps(token)), copy.copy(token), copy.deepcopy(token)):
        assert back == token and back.to_dict() == token.to_dict()
        with pytest.raises(TypeError):
            back.additional_properties["x"] = 1  # type: ignore[index]  # still read-only


@pytest.mark.parametrize("when", [1e12, 1e17, 1e19, -1e18], ids=["ValueError", "OSError", "OverflowError", "negative"])
def test_repr_survives_times_no_calendar_can_show(when: float) -> None:
    """A stored token may carry any finite time; repr shows it as a number instead of failing
    (each value makes datetime raise a different error on Linux)."""
    data = Token.from_response(response(token_body(ACCESS, REFRESH)), sent_at=T0).to_dict()
    token = Token.from_dict({**data, "expires_at": when, "refresh_token_expires_at": when})
    assert f"expires_at={when!r}" in repr(token) and f"refresh_token_expires_at={when!r}" in repr(token)


def test_repr_says_whether_there_is_a_refresh_token() -> None:
    with_refresh = Token.from_response(response(token_body(ACCESS, REFRESH)), sent_at=T0)
    without = Token.from_response(response(token_body(ACCESS)), sent_at=T0)
    assert "refresh_token=<redacted>," in repr(with_refresh)
    assert "refresh_token=None," in repr(without) and "refresh_token_expires_at=None" in repr(without)


def test_the_send_time_is_keyword_only() -> None:
    with pytest.raises(TypeError):
        Token.from_response(response(token_body(ACCESS)), T0)  # type: ignore[misc]


def test_json_text_round_trip_is_sorted_and_bad_text_is_a_value_error() -> None:
    token = Token.from_response(response(token_body(ACCESS, REFRESH, plan="pro")), sent_at=T0)
    text = token.to_json()
    keys = list(json.loads(text))
    assert keys == sorted(keys)  # a stable file: the same token always writes the same bytes
    assert Token.from_json(text) == token
    with pytest.raises(ValueError, match=r"^not JSON \(JSONDecodeError at position 1\)$"):
        Token.from_json("{{" + ACCESS)


def test_a_field_a_newer_spec_declares_is_kept_in_additional_properties() -> None:
    """A regenerated model may declare a field `Token` has no attribute for: its value is kept
    (a secret unwrapped, so the store can write it), an absent one adds nothing."""
    from typing import Optional

    class Newer(OauthAccessTokenResponse):
        team_id: Optional[str] = None
        id_token: Optional[SecretStr] = None
        never_sent: Optional[int] = None

    body = json.loads(token_body(ACCESS, REFRESH, plan="pro"))
    newer = Newer.model_validate({**body, "team_id": "T1", "id_token": SecretStr("TESTIDTOKEN0002")})
    newer.additional_properties = {"plan": "pro"}
    token = Token.from_response(newer, sent_at=T0)
    assert dict(token.additional_properties) == {"plan": "pro", "team_id": "T1", "id_token": "TESTIDTOKEN0002"}
    assert token.access_token.get_secret_value() == ACCESS and token.scope == "boards:read,pins:read"
