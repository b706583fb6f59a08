"""The owned pieces a generated operation is built from (pinterest_oauth.lib.operations), including
the paths today's spec does not reach: integer and number parameters, `2XX` response ranges,
undeclared 2xx statuses. A spec that grows such a parameter or response relies on them."""

from __future__ import annotations

import dataclasses
import enum
import math
from typing import Any

import pytest
from pydantic import SecretStr

from pinterest_oauth import ApiTypeError, ApiValueError
from pinterest_oauth.lib import operations
from pinterest_oauth.lib.operations import Operation


def op(responses: dict[str, Any], required_when: tuple[tuple[str, str, str], ...] = ()) -> Operation:
    return Operation(name="op", method="POST", path="/p", content_type=None, accept=None, auth=(),
                     responses=responses, required_when=required_when)


def test_an_operation_is_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        op({}).path = "/elsewhere"  # type: ignore[misc]


@pytest.mark.parametrize(("responses", "status", "model"), [
    ({"200": "OauthAccessTokenResponse", "default": "Error"}, 200, "OauthAccessTokenResponse"),
    ({"200": "OauthAccessTokenResponse", "default": "Error"}, 201, "OauthAccessTokenResponse"),  # undeclared 2xx
    ({"200": "OauthAccessTokenResponse", "default": "Error"}, 299, "OauthAccessTokenResponse"),
    ({"200": "OauthAccessTokenResponse", "default": "Error"}, 199, "Error"),
    ({"200": "OauthAccessTokenResponse", "default": "Error"}, 300, "Error"),
    ({"200": "OauthAccessTokenResponse", "default": "Error"}, 404, "Error"),
    ({"2XX": "OauthAccessTokenResponse", "4XX": "Error"}, 204, "OauthAccessTokenResponse"),
    ({"2XX": "OauthAccessTokenResponse", "4XX": "Error"}, 404, "Error"),
    ({"2XX": "OauthAccessTokenResponse", "4XX": "Error"}, 499, "Error"),
    ({"2XX": "OauthAccessTokenResponse", "4XX": "Error"}, 500, None),
    ({"200": None, "201": "OauthAccessTokenResponse"}, 200, None),  # declared without a body
    ({"204": None, "200": "OauthAccessTokenResponse"}, 202, "OauthAccessTokenResponse"),
    ({"default": "Error"}, 200, None),
])
def test_response_model_exact_then_range_then_any_2xx_then_default(responses: dict[str, Any], status: int,
                                                                    model: Any) -> None:
    found = op(responses).response_model(status)
    assert (found.__name__ if found is not None else None) == model


def test_required_when_names_every_missing_field_of_the_first_condition() -> None:
    o = op({}, (("code", "grant_type", "authorization_code"), ("redirect_uri", "grant_type", "authorization_code"),
                ("scope", "grant_type", "client_credentials")))
    with pytest.raises(ApiValueError, match=r"^op: grant_type=authorization_code needs code, redirect_uri$"):
        o.check_required_when([("grant_type", "authorization_code")])
    o.check_required_when([("grant_type", "authorization_code"), ("code", "c"), ("redirect_uri", "r")])
    o.check_required_when([("grant_type", "refresh_token")])  # a value with no condition needs nothing
    op({}).check_required_when([])


def test_required_refuses_none_only() -> None:
    operations.required("op", "grant_type", "x")
    operations.required("op", "flag", False)
    with pytest.raises(ApiValueError, match="op: grant_type is required"):
        operations.required("op", "grant_type", None)


@pytest.mark.parametrize(("check", "good", "wire", "bad"), [
    (operations.str_value, "a b", "a b", [1, None, b"x", SecretStr("s")]),
    (operations.secret_value, SecretStr("s3cret"), "s3cret", [1, None, b"x"]),
    (operations.secret_value, "s3cret", "s3cret", [1.0]),
    (operations.bool_value, True, "true", ["true", 1, None]),
    (operations.bool_value, False, "false", [0]),
    (operations.int_value, 7, "7", [True, False, 7.0, "7", None]),
    (operations.int_value, -3, "-3", [1.5]),
    (operations.number_value, 1.5, "1.5", [True, "1.5", None, math.inf, -math.inf, math.nan]),
    (operations.number_value, 2, "2", [False]),
])
def test_each_spec_type_has_its_check(check: Any, good: Any, wire: str, bad: list[Any]) -> None:
    assert check("field", good) == wire
    for value in bad:
        with pytest.raises(ApiTypeError, match="^field must be "):
            check("field", value)


class Colour(str, enum.Enum):
    RED = "red"
    GREEN = "green"


def test_enum_value_takes_a_member_or_its_string_and_names_the_choices() -> None:
    assert operations.enum_value("colour", Colour.RED, Colour) == "red"
    assert operations.enum_value("colour", "green", Colour) == "green"
    with pytest.raises(ApiValueError, match=r"^colour must be one of green, red, got 'blue'$"):
        operations.enum_value("colour", "blue", Colour)
    forty = "b" * 40
    with pytest.raises(ApiValueError, match=f"got '{forty}'$"):
        operations.enum_value("colour", forty, Colour)
    with pytest.raises(ApiValueError, match="got str$"):  # a long value is not echoed
        operations.enum_value("colour", forty + "b", Colour)
    with pytest.raises(ApiValueError, match="got int$"):
        operations.enum_value("colour", 3, Colour)
