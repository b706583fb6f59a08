"""Mistakes a new user makes get a message that says what to do, at construction where possible,
naming the parameters the user wrote; redaction never mangles those messages."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from conftest import CLIENT_ID, CLIENT_SECRET
from localserver import Reply, TokenServer
from pinterest_oauth import (
    ApiClient, ApiTypeError, ApiValueError, Configuration, FileTokenStore, MemoryTokenStore, NotFoundError, OauthApi,
    PinterestApiError, RetryPolicy, ServerError, Timeouts, TokenSession, TokenStoreError,
)
from pinterest_oauth.lib import redact

NOT_FOUND = Reply(404, body=b'{"code": 404, "message": "Not found"}')


def call(host: str) -> NotFoundError:
    config = Configuration.for_app(CLIENT_ID, CLIENT_SECRET, host=host, retry=RetryPolicy(max_attempts=1))
    with ApiClient(config) as client, pytest.raises(NotFoundError) as info:
        OauthApi(client).oauth_token(grant_type="client_credentials", scope="ads:read")
    return info.value


@pytest.mark.parametrize("suffix", ["", "/oauth/token"])
def test_a_404_from_a_wrong_host_names_the_url_and_the_right_host(token_server: TokenServer, suffix: str) -> None:
    base = token_server.url.removesuffix("/v5") + suffix  # without /v5, or the whole token URL pasted
    token_server.enqueue(NOT_FOUND)
    error = call(base)
    url = base + "/oauth/token"
    assert token_server.requests[0].path == url.split(str(token_server.port), 1)[1]
    assert error.url == url
    assert f"(POST {url})" in str(error)
    assert "the host should be https://api.pinterest.com/v5" in str(error)
    assert str(pickle.loads(pickle.dumps(error))) == str(error)


def test_a_404_from_the_right_path_names_the_url_without_a_host_hint(token_server: TokenServer) -> None:
    token_server.enqueue(NOT_FOUND)
    error = call(token_server.url)
    assert str(error) == f"HTTP 404 Not Found: code 404: Not found (POST {token_server.url}/oauth/token)"


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_every_http_error_says_the_request_was_sent(token_server: TokenServer, status: int) -> None:
    token_server.enqueue(Reply(status, body=b'{"code": 1, "message": "boom"}'))
    config = Configuration.for_app(CLIENT_ID, CLIENT_SECRET, host=token_server.url, retry=RetryPolicy(max_attempts=1))
    with ApiClient(config) as client, pytest.raises(ServerError) as info:
        OauthApi(client).oauth_token(grant_type="client_credentials", scope="ads:read")
    assert info.value.request_sent is True  # what the README's retry section says
    assert info.value.url == token_server.url + "/oauth/token"
    assert len(token_server.requests) == 1  # and so it was not sent again
    assert PinterestApiError.request_sent is True


def test_positional_app_credentials_are_recognised() -> None:
    with pytest.raises(ApiValueError) as info:
        Configuration(CLIENT_ID, CLIENT_SECRET)  # type: ignore[arg-type]
    text = str(info.value)
    assert "first argument is the host URL" in text
    assert "Configuration.for_app(client_id, client_secret)" in text
    assert CLIENT_ID not in text and CLIENT_SECRET not in text


def test_for_app_and_the_generated_form_build_the_same_configuration() -> None:
    a = Configuration.for_app(CLIENT_ID, CLIENT_SECRET, timeout=5)
    b = Configuration(username=CLIENT_ID, password=CLIENT_SECRET, timeouts=5)
    assert (a.host, a.username, a.password, a.timeouts) == (b.host, b.username, b.password, b.timeouts)
    assert a.host == "https://api.pinterest.com/v5"
    assert a.timeouts == Timeouts(connect=5, read=5, total=5)
    assert Configuration.for_app(CLIENT_ID, CLIENT_SECRET, timeouts=Timeouts(connect=1)).timeouts.connect == 1
    with pytest.raises(ApiValueError, match="timeout= or timeouts="):
        Configuration.for_app(CLIENT_ID, CLIENT_SECRET, timeout=5, timeouts=5)


@pytest.mark.parametrize("make, kind, words", [
    (lambda: Configuration.for_app(CLIENT_ID, ""), ApiValueError, "Configuration.for_app needs client_secret"),
    (lambda: Configuration.for_app(None, CLIENT_SECRET), ApiValueError, "Configuration.for_app needs client_id"),
    (lambda: Configuration.for_app(1234567, CLIENT_SECRET), ApiTypeError, "client_id must be a str, got int"),
    (lambda: Configuration.for_app(CLIENT_ID, CLIENT_SECRET, host="api.pinterest.com/v5"), ApiValueError,
     "host must be a URL such as https://api.pinterest.com/v5"),
    (lambda: Configuration(username=CLIENT_ID), ApiValueError, "Configuration(username=...) was given without password="),
    (lambda: Configuration(username=CLIENT_ID, password=123), ApiTypeError, "Configuration(password=...) must be a str"),
    (lambda: TokenSession(CLIENT_ID, None, MemoryTokenStore()), ApiValueError, "TokenSession needs client_secret"),
    (lambda: TokenSession("", CLIENT_SECRET, MemoryTokenStore()), ApiValueError, "TokenSession needs client_id"),
    (lambda: TokenSession(CLIENT_ID, CLIENT_SECRET, MemoryTokenStore(), continuous_refresh="true"), ApiTypeError,
     "TokenSession(continuous_refresh=...) must be True, False or None, got str"),
    (lambda: TokenSession(CLIENT_ID, CLIENT_SECRET, MemoryTokenStore(), scope=["ads:read"]), ApiTypeError,
     "TokenSession(scope=...) must be a str"),
    (lambda: TokenSession(CLIENT_ID, CLIENT_SECRET, MemoryTokenStore(), refresh_margin="5m"), ApiValueError,
     "TokenSession(refresh_margin=...) must be a non-negative number"),
    (lambda: TokenSession(CLIENT_ID, CLIENT_SECRET, MemoryTokenStore(), host="localhost:8080"), ApiValueError,
     "TokenSession: host must be a URL"),
    (lambda: TokenSession(CLIENT_ID, CLIENT_SECRET, MemoryTokenStore(), timeout=5, timeouts=5), ApiValueError,
     "TokenSession: pass timeout= or timeouts="),
    (lambda: Timeouts(5), ApiTypeError, "Timeouts takes keywords"),
])
def test_mistakes_fail_at_construction_naming_what_the_user_wrote(make: object, kind: type, words: str) -> None:
    with pytest.raises(kind) as info:
        make()  # type: ignore[operator]
    assert words in str(info.value)
    assert CLIENT_SECRET not in str(info.value)


def test_timeout_means_the_same_in_every_place(token_server: TokenServer) -> None:
    session = TokenSession(CLIENT_ID, CLIENT_SECRET, MemoryTokenStore(), host=token_server.url, timeout=5)
    assert session.request_timeouts == Timeouts(connect=5, read=5, total=5)
    session.close()
    assert TokenSession(CLIENT_ID, CLIENT_SECRET, MemoryTokenStore(), timeouts=(3, 10)).request_timeouts == \
        Timeouts(connect=3, read=10)
    default = TokenSession(CLIENT_ID, CLIENT_SECRET, MemoryTokenStore())  # the README's table of defaults
    assert default.request_timeouts == Timeouts(connect=10, read=30, total=60)
    assert default._client.configuration.host == "https://api.pinterest.com/v5"


def test_a_store_path_that_can_never_hold_the_file_fails_at_construction(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(TokenStoreError, match=f"cannot keep a file at {afile}/token.json: {afile} is not a directory"):
        FileTokenStore(afile / "token.json")
    with pytest.raises(TokenStoreError, match=f"{afile} is not a directory"):
        FileTokenStore(afile / "deeper" / "token.json")
    with pytest.raises(TokenStoreError, match=f"{tmp_path} is a directory; give the path of a file in it, "
                                              f"e.g. {tmp_path}/token.json$"):
        FileTokenStore(tmp_path)
    assert FileTokenStore(tmp_path / "new" / "dir" / "token.json").load() is None  # created on first save
    assert afile.read_text() == "x"


def test_a_session_with_a_bad_store_path_fails_before_any_code_is_exchanged(token_server: TokenServer, tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    with pytest.raises(TokenStoreError):
        TokenSession(CLIENT_ID, CLIENT_SECRET, FileTokenStore(tmp_path / "afile" / "t.json"), host=token_server.url)
    assert token_server.requests == []


def test_short_secrets_do_not_mangle_messages() -> None:
    assert redact.scrub("Unavailable", ["b"]) == "Unavailable"
    assert redact.scrub("Unavailable: abcdefgh", ["b", "abcdefgh"]) == f"Unavailable: {redact.MASK}"
    assert redact.redact_fields([("client_secret", "b")]) == [("client_secret", redact.MASK)]  # structured: whole value


def test_a_short_test_secret_leaves_the_servers_message_intact(token_server: TokenServer) -> None:
    token_server.enqueue(Reply(503, body=b'{"code": 503, "message": "Service Unavailable"}'))
    config = Configuration.for_app("a", "b", host=token_server.url, retry=RetryPolicy(max_attempts=1))
    with ApiClient(config) as client, pytest.raises(ServerError) as info:
        OauthApi(client).oauth_token(grant_type="client_credentials", scope="ads:read")
    assert "Service Unavailable" in str(info.value)
    assert redact.MASK not in str(info.value)


def test_for_app_takes_id_and_secret_by_position_or_name_and_options_by_name_only() -> None:
    named = Configuration.for_app(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    assert (named.username, named.password) == (CLIENT_ID, CLIENT_SECRET)
    with pytest.raises(TypeError):  # a host given by position would be easy to mistake for the secret
        Configuration.for_app(CLIENT_ID, CLIENT_SECRET, "https://api.pinterest.com/v5")  # type: ignore[misc]
