"""Credentials go only over https, to loopback, or with an explicit opt-in (issue 5, item 5).

To prove that a refused request sends nothing, the client is pointed at a local server as its
HTTP proxy: anything it did send to a plain-http host would arrive there.
"""

from __future__ import annotations

import pytest
from conftest import CLIENT_ID, CLIENT_SECRET
from fakes import ACCESS, leaks, exception_texts, ok, token_json
from localserver import Reply, TokenServer

from pinterest_oauth import (
    ApiClient, ApiValueError, BadRequestError, Configuration, ConnectionFailedError, InsecureTransportError,
    InvalidResponseError, OauthApi, RequestTimeoutError, RetryPolicy,
)
from pinterest_oauth.lib.transport import check_secure_url, is_loopback


def api_via_proxy(server: TokenServer, host: str, **config: object) -> OauthApi:
    return OauthApi(ApiClient(Configuration(host=host, username=CLIENT_ID, password=CLIENT_SECRET,
                                            proxy=f"http://127.0.0.1:{server.port}", retry=RetryPolicy(max_attempts=1),
                                            **config)))


@pytest.mark.parametrize("host", ["http://api.pinterest.com/v5", "http://10.0.0.7:8080/v5", "HTTP://Example.COM/v5",
                                  "http://localhost.evil.example/v5", "http://127.0.0.1.nip.io/v5"])
def test_plain_http_to_a_remote_host_is_refused_before_sending(token_server: TokenServer, host: str) -> None:
    token_server.enqueue(ok())
    api = api_via_proxy(token_server, host)
    with pytest.raises(InsecureTransportError) as info:
        api.oauth_token(grant_type="client_credentials", scope="ads:read")
    assert isinstance(info.value, ApiValueError)
    assert "refusing to send client credentials over plain http" in str(info.value)
    assert "allow_insecure_http=True" in str(info.value)
    assert token_server.requests == []


def test_opt_in_allows_plain_http(token_server: TokenServer) -> None:
    token_server.enqueue(ok())
    api = api_via_proxy(token_server, "http://api.example.com/v5", allow_insecure_http=True)
    token = api.oauth_token(grant_type="client_credentials", scope="ads:read")
    assert token.access_token.get_secret_value() == ACCESS
    (seen,) = token_server.requests
    assert seen.path == "http://api.example.com/v5/oauth/token"  # absolute form: it went through the proxy


def test_loopback_http_is_allowed_without_opt_in(token_server: TokenServer) -> None:
    token_server.enqueue(ok(), ok())
    for host in (token_server.url, f"http://localhost:{token_server.port}/v5"):
        api = OauthApi(ApiClient(Configuration(host=host, username=CLIENT_ID, password=CLIENT_SECRET)))
        assert api.oauth_token(grant_type="client_credentials", scope="ads:read").access_token.get_secret_value() == ACCESS
    assert len(token_server.requests) == 2


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.9.8.7", True), ("localhost", True), ("LOCALHOST.", True), ("[::1]", True),
     ("::1", True), ("10.0.0.1", False), ("0.0.0.0", False), ("localhost.example", False), ("foo.localhost", False),
     ("api.pinterest.com", False), ("", False)],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_https_passes_and_the_shown_url_drops_userinfo_and_query() -> None:
    assert check_secure_url("https://api.pinterest.com/v5/oauth/token", False) == "https://api.pinterest.com/v5/oauth/token"
    shown = check_secure_url("https://user:hunter2@api.example.com:8443/v5/oauth/token?x=1#f", False)
    assert shown == "https://api.example.com:8443/v5/oauth/token"


@pytest.mark.parametrize("host", ["ftp://api.pinterest.com/v5", "api.pinterest.com/v5", "https:///v5", "https://h:99999/v5"])
def test_malformed_hosts_are_refused_before_sending(host: str) -> None:
    with pytest.raises(ApiValueError, match=r"Configuration(\.|: )host (must be|is not a valid)") as info:
        api = OauthApi(ApiClient(Configuration(host=host, username=CLIENT_ID, password=CLIENT_SECRET)))
        api.oauth_token(grant_type="client_credentials", scope="ads:read")  # a host without a scheme fails above
    assert CLIENT_SECRET not in str(info.value)


def test_refusal_never_quotes_credentials_in_the_url(token_server: TokenServer) -> None:
    api = api_via_proxy(token_server, f"http://{CLIENT_ID}:{ACCESS}@api.example.com/v5")
    with pytest.raises(InsecureTransportError) as info:
        api.oauth_token(grant_type="client_credentials", scope="ads:read")
    assert leaks(exception_texts(info.value)) == []
    assert token_server.requests == []


# -- the decision is cached per (URL, opt-in): one never answers for the other -----------------

@pytest.mark.parametrize("first_allowed", [True, False], ids=["opt-in first", "refusal first"])
def test_the_same_url_with_and_without_the_opt_in(token_server: TokenServer, first_allowed: bool) -> None:
    host = "http://api.cache-check.example/v5"
    token_server.enqueue(ok(), ok())
    allowed, refused = (api_via_proxy(token_server, host, allow_insecure_http=flag) for flag in (True, False))
    for api in ([allowed, refused, allowed, refused] if first_allowed else [refused, allowed, refused, allowed]):
        if api is allowed:
            assert api.oauth_token(grant_type="client_credentials", scope="ads:read").access_token.get_secret_value() == ACCESS
        else:
            with pytest.raises(InsecureTransportError):
                api.oauth_token(grant_type="client_credentials", scope="ads:read")
    assert [seen.path for seen in token_server.requests] == [f"{host}/oauth/token"] * 2
    url = f"{host}/oauth/token"
    assert check_secure_url(url, True) == url
    with pytest.raises(InsecureTransportError):
        check_secure_url(url, False)


# -- a host with user:password@ never shows them -----------------------------------------------

USERINFO = "someuser:pa55-w0rd"


def _without_userinfo_everywhere(texts: list[str]) -> None:
    joined = "\n".join(texts)
    assert "pa55-w0rd" not in joined and "someuser" not in joined, joined


FAILURES = {"refused": ConnectionFailedError, "reset": ConnectionFailedError, "closed": ConnectionFailedError,
            "read timeout": RequestTimeoutError, "http error": BadRequestError, "invalid body": InvalidResponseError,
            "plain http": InsecureTransportError, "bad port": ApiValueError}


@pytest.mark.parametrize("case", FAILURES)
def test_no_userinfo_in_any_error_text_or_log(token_server: TokenServer, case: str,
                                              caplog: pytest.LogCaptureFixture) -> None:
    host = f"http://{USERINFO}@127.0.0.1:{token_server.port}/v5"
    config: dict[str, object] = {"timeouts": (5, 0.3)}
    if case == "refused":
        token_server.stop()
    elif case == "plain http":
        host, config = f"http://{USERINFO}@api.example.com/v5", {}
    elif case == "bad port":
        host = f"https://{USERINFO}@api.example.com:99999/v5"
    else:
        token_server.enqueue({
            "reset": Reply(status=200, body=token_json(), action="reset_mid_body"),
            "closed": Reply(action="close"),
            "read timeout": Reply(action="hang"),
            "http error": Reply(status=400, body=b'{"code": 1, "message": "bad"}'),
            "invalid body": Reply(status=200, body=b"{}"),
        }[case])
    api = (api_via_proxy(token_server, host, **config) if case == "plain http" else
           OauthApi(ApiClient(Configuration(host=host, username=CLIENT_ID, password=CLIENT_SECRET,
                                            retry=RetryPolicy(max_attempts=1), **config))))  # type: ignore[arg-type]
    with caplog.at_level("DEBUG"), pytest.raises(FAILURES[case]) as info:
        api.oauth_token(grant_type="client_credentials", scope="ads:read")
    _without_userinfo_everywhere(exception_texts(info.value) + [caplog.text])
    if case not in ("refused", "plain http", "bad port"):
        assert len(token_server.requests) == 1  # it was sent (to the host, not to the userinfo)
