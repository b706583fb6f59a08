"""`authorization_url` and `code_from_callback`: Pinterest's consent URL and the checked redirect."""

from __future__ import annotations

import pickle
from urllib.parse import parse_qsl, urlsplit

import pytest

import pinterest_oauth
from pinterest_oauth import (
    ApiTypeError,
    ApiValueError,
    AuthorizationDeniedError,
    AuthorizationError,
    OpenApiException,
    StateMismatchError,
    authorization_url,
    code_from_callback,
)

CLIENT_ID = "1234567"
REDIRECT = "http://localhost:8085/"
CODE = "TESTCODE-abc/def+ghi="
STATE = "TESTSTATE_0123456789"


def query(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).query, keep_blank_values=True, strict_parsing=True)


def test_the_url_is_pinterests_consent_page_with_every_parameter() -> None:
    url, state = authorization_url(CLIENT_ID, "https://example.com/cb?x=1&y=2", "boards:read,pins:read")
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path, parts.fragment) == ("https", "www.pinterest.com", "/oauth/", "")
    assert query(url) == [
        ("client_id", CLIENT_ID),
        ("redirect_uri", "https://example.com/cb?x=1&y=2"),  # encoded, and decodes back exactly
        ("response_type", "code"),
        ("scope", "boards:read,pins:read"),
        ("state", state),
    ]


def test_a_fresh_unguessable_state_each_time_unless_one_is_given() -> None:
    states = {authorization_url(CLIENT_ID, REDIRECT, "pins:read")[1] for _ in range(50)}
    assert len(states) == 50
    assert all(len(s) >= 43 and s.replace("-", "").replace("_", "").isalnum() for s in states)  # 256 bits, URL-safe
    url, state = authorization_url(CLIENT_ID, REDIRECT, "pins:read", state="my state/é")
    assert state == "my state/é"
    assert dict(query(url))["state"] == "my state/é"


def test_scopes_may_be_a_list() -> None:
    url, _ = authorization_url(CLIENT_ID, REDIRECT, ["boards:read", "pins:read", "user_accounts:read"])
    assert dict(query(url))["scope"] == "boards:read,pins:read,user_accounts:read"
    url, _ = authorization_url(CLIENT_ID, REDIRECT, ("pins:read",))
    assert dict(query(url))["scope"] == "pins:read"


@pytest.mark.parametrize(
    ("args", "error", "words"),
    [
        ((None, REDIRECT, "pins:read"), ApiTypeError, "client_id must be a str"),
        (("", REDIRECT, "pins:read"), ApiValueError, "client_id must not be empty"),
        ((CLIENT_ID, "localhost:8085", "pins:read"), ApiValueError, "absolute http(s) URL"),
        ((CLIENT_ID, "/callback", "pins:read"), ApiValueError, "absolute http(s) URL"),
        ((CLIENT_ID, "ftp://example.com/", "pins:read"), ApiValueError, "absolute http(s) URL"),
        ((CLIENT_ID, "https://example.com/cb#frag", "pins:read"), ApiValueError, "fragment"),
        ((CLIENT_ID, REDIRECT, ""), ApiValueError, "at least one scope"),
        ((CLIENT_ID, REDIRECT, []), ApiValueError, "at least one scope"),
        ((CLIENT_ID, REDIRECT, 42), ApiTypeError, "scope must be a str or an iterable"),
        ((CLIENT_ID, REDIRECT, ["pins:read", 1]), ApiTypeError, "scope must be a str or an iterable"),
        ((CLIENT_ID, REDIRECT, "pins:read", ""), ApiValueError, "state must not be empty"),
    ],
)
def test_bad_arguments_are_refused_with_the_packages_errors(args: tuple[object, ...], error: type, words: str) -> None:
    with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)")):
        authorization_url(*args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "callback",
    [
        f"http://localhost:8085/?code={CODE.replace('/', '%2F').replace('+', '%2B').replace('=', '%3D')}&state={STATE}",
        f"/?state={STATE}&code={CODE.replace('/', '%2F').replace('+', '%2B').replace('=', '%3D')}",
        f"code={CODE.replace('/', '%2F').replace('+', '%2B').replace('=', '%3D')}&state={STATE}",
        {"code": CODE, "state": STATE},
        {"code": [CODE], "state": [STATE]},
    ],
)
def test_the_code_of_a_matching_callback(callback: object) -> None:
    assert code_from_callback(callback, STATE) == CODE  # type: ignore[arg-type]


def secret_free(exc: BaseException) -> str:
    text = str(exc) + repr(exc)
    assert CODE not in text and STATE not in text and "TESTCODE" not in text
    return text


@pytest.mark.parametrize(
    "callback",
    [
        {"code": CODE, "state": STATE + "x"},
        {"code": CODE, "state": STATE[:-1]},
        {"code": CODE, "state": ""},
        {"code": CODE},
        f"/?code={CODE}&state=other",
    ],
)
def test_a_wrong_or_missing_state_is_refused_before_anything_else(callback: object) -> None:
    with pytest.raises(StateMismatchError) as caught:
        code_from_callback(callback, STATE)  # type: ignore[arg-type]
    text = secret_free(caught.value)
    assert "not started by this login" in text and "nothing was exchanged" in text
    assert isinstance(caught.value, AuthorizationError) and isinstance(caught.value, OpenApiException)


def test_an_error_callback_with_a_forged_state_is_a_state_mismatch_that_names_the_error() -> None:
    with pytest.raises(StateMismatchError, match="error=access_denied") as caught:
        code_from_callback({"error": "access_denied", "state": "forged"}, STATE)
    assert caught.value.error == "access_denied"


def test_an_error_callback_says_what_pinterest_said() -> None:
    with pytest.raises(AuthorizationDeniedError) as caught:
        code_from_callback(f"/?error=access_denied&error_description=The+user+denied+access&state={STATE}", STATE)
    exc = caught.value
    assert (exc.error, exc.error_description) == ("access_denied", "The user denied access")
    assert str(exc) == ("Pinterest did not authorize the app (error=access_denied: The user denied access); "
                        "nothing was exchanged, start the login again")
    secret_free(exc)


def test_an_error_callback_cannot_inject_text() -> None:
    with pytest.raises(AuthorizationDeniedError) as caught:
        code_from_callback({"error": "x\n<script>" + "A" * 100, "error_description": "line\nbreak" + "B" * 300,
                            "state": STATE}, STATE)
    text = str(caught.value)
    assert "error=<unreadable>" in text and "\n" not in text and "<script>" not in text
    assert "line break" + "B" * 190 in text and "B" * 250 not in text


@pytest.mark.parametrize(
    ("callback", "words"),
    [
        ({"state": STATE}, "neither a code nor an error"),
        ({"state": STATE, "code": ""}, "neither a code nor an error"),
        (f"/?code=a&code=b&state={STATE}", "'code' more than once"),
        (f"/?code=a&state={STATE}&state={STATE}", "'state' more than once"),
        ({"code": ["a", "b"], "state": STATE}, "'code' more than once"),
    ],
)
def test_a_callback_without_exactly_one_code_is_refused(callback: object, words: str) -> None:
    with pytest.raises(AuthorizationError, match=words) as caught:
        code_from_callback(callback, STATE)  # type: ignore[arg-type]
    assert type(caught.value) is AuthorizationError


@pytest.mark.parametrize(
    ("callback", "state", "error"),
    [
        (None, STATE, ApiTypeError),
        (b"code=x", STATE, ApiTypeError),
        ({"code": 1, "state": STATE}, STATE, ApiTypeError),
        ({"code": CODE}, None, ApiTypeError),
        ({"code": CODE}, "", ApiValueError),
    ],
)
def test_bad_arguments_to_code_from_callback(callback: object, state: object, error: type) -> None:
    with pytest.raises(error):
        code_from_callback(callback, state)  # type: ignore[arg-type]


def test_the_errors_pickle_with_their_fields() -> None:
    for exc in (AuthorizationDeniedError("denied", error="access_denied", error_description="no"),
                StateMismatchError("mismatch", error="e"), AuthorizationError("plain")):
        copy = pickle.loads(pickle.dumps(exc))
        assert (type(copy), str(copy), copy.error, copy.error_description) == (
            type(exc), str(exc), exc.error, exc.error_description)


def test_the_url_built_is_accepted_back_by_the_callback_check() -> None:
    """The state returned with the URL is what the redirect must carry."""
    url, state = authorization_url(CLIENT_ID, REDIRECT, "pins:read")
    redirect = f"{REDIRECT}?code=abc&state={dict(query(url))['state']}"
    assert code_from_callback(redirect, state) == "abc"


def test_exported_lazily_from_the_package() -> None:
    names = {"authorization_url", "code_from_callback", "AuthorizationError", "AuthorizationDeniedError",
             "StateMismatchError"}
    assert names <= set(pinterest_oauth.__all__)
    assert pinterest_oauth.authorization_url.__module__ == "pinterest_oauth.lib.authorize"


def test_the_default_state_carries_exactly_256_random_bits() -> None:
    import base64

    _, state = authorization_url(CLIENT_ID, REDIRECT, "pins:read")
    assert len(state) == 43  # 32 bytes, URL-safe base64 without padding
    assert len(base64.urlsafe_b64decode(state + "=")) == 32


@pytest.mark.parametrize(
    ("callback", "error", "words"),
    [
        # a blank parameter is still a parameter: an empty error is an error, not "no error" ...
        (f"/?error=&code=abc&state={STATE}", AuthorizationDeniedError, r"error=<unreadable>\); nothing"),
        # ... an empty state is the wrong state, not a missing one ...
        ("/?state=&code=abc", StateMismatchError, "state is not the one this login sent"),
        # ... and an empty code next to a real one is a code given twice
        (f"/?code=&code=abc&state={STATE}", AuthorizationError, "'code' more than once"),
    ],
)
def test_blank_callback_parameters_count(callback: str, error: type, words: str) -> None:
    with pytest.raises(error, match=words) as caught:
        code_from_callback(callback, STATE)
    assert type(caught.value) is error
    if error is AuthorizationDeniedError:
        assert (caught.value.error, caught.value.error_description) == ("", None)


@pytest.mark.parametrize(("length", "shown"), [(199, "D" * 199), (200, "D" * 200), (201, "D" * 200 + "..."),
                                               (250, "D" * 200 + "...")])
def test_an_error_description_is_cut_after_200_characters(length: int, shown: str) -> None:
    with pytest.raises(AuthorizationDeniedError) as caught:
        code_from_callback({"error": "access_denied", "error_description": "D" * length, "state": STATE}, STATE)
    assert str(caught.value) == (f"Pinterest did not authorize the app (error=access_denied: {shown}); "
                                 "nothing was exchanged, start the login again")
    assert caught.value.error_description == "D" * length  # the field keeps all of it


def test_the_error_fields_are_keyword_only() -> None:
    exc = AuthorizationError(message="plain", error="e", error_description="d")
    assert (str(exc), exc.error, exc.error_description) == ("plain", "e", "d")
    with pytest.raises(TypeError):
        AuthorizationError("plain", "e")  # type: ignore[misc]
