"""Every bad answer maps to one clear exception of the package's own family (issue 5, item 1)."""

from __future__ import annotations

import email.utils
import gzip
import json
import pickle
import time

import pytest
from fakes import ACCESS, NEW_REFRESH, REFRESH, T0, exception_texts, leaks, make_api, make_token, ok, refresh, token_json
from localserver import Reply, TokenServer
from urllib3 import HTTPHeaderDict

from pinterest_oauth import (
    ApiException,
    ApiTypeError,
    ApiValueError,
    BadRequestError,
    ConnectionFailedError,
    ForbiddenError,
    InvalidResponseError,
    InsecureTransportError,
    NotFoundError,
    OpenApiException,
    PinterestApiError,
    RateLimitError,
    ReauthorizationRequired,
    RequestTimeoutError,
    ServerError,
    Token,
    TokenStoreError,
    TokenConflictError,
    AuthorizationError,
    AuthorizationDeniedError,
    StateMismatchError,
    TransportError,
    UnauthorizedError,
    UnexpectedStatusError,
)
from pinterest_oauth.exceptions import (
    BadRequestException,
    ForbiddenException,
    NotFoundException,
    ServiceException,
    UnauthorizedException,
)
from pinterest_oauth.models.error import Error


def json_reply(status: int, obj: object, *headers: tuple[str, str]) -> Reply:
    return Reply(status=status, headers=[("Content-Type", "application/json"), *headers], body=json.dumps(obj).encode())


STATUS_CASES = [
    (400, BadRequestError, BadRequestException),
    (401, UnauthorizedError, UnauthorizedException),
    (403, ForbiddenError, ForbiddenException),
    (404, NotFoundError, NotFoundException),
    (429, RateLimitError, ApiException),
    (500, ServerError, ServiceException),
    (502, ServerError, ServiceException),
    (503, ServerError, ServiceException),
    (504, ServerError, ServiceException),
    (599, ServerError, ServiceException),
    (302, UnexpectedStatusError, ApiException),
    (499, UnexpectedStatusError, ApiException),
    (600, UnexpectedStatusError, ApiException),
    (405, UnexpectedStatusError, ApiException),
    (418, UnexpectedStatusError, ApiException),
]


@pytest.mark.parametrize(("status", "cls", "generated_cls"), STATUS_CASES)
def test_code_message_body_maps_to_status_class(token_server: TokenServer, status: int, cls: type, generated_cls: type) -> None:
    token_server.enqueue(json_reply(status, {"code": 283, "message": "Authentication failed."}))
    with pytest.raises(cls) as info:
        refresh(make_api(token_server))
    exc = info.value
    assert type(exc) is cls
    assert isinstance(exc, generated_cls) and isinstance(exc, ApiException) and isinstance(exc, OpenApiException)
    assert exc.status == status
    assert (exc.code, exc.message) == (283, "Authentication failed.")
    assert exc.data is not None and exc.data.code == 283
    assert (exc.error, exc.error_description) == (None, None)
    assert exc.is_invalid_grant
    assert str(exc).startswith(f"HTTP {status}")
    url = "" if status != 404 else f" (POST {token_server.url}/oauth/token)"  # a 404 names the URL called
    assert str(exc).endswith("code 283: Authentication failed." + url)
    assert len(token_server.requests) == 1


def test_rfc6749_body_exposes_error_and_description(token_server: TokenServer) -> None:
    token_server.enqueue(json_reply(400, {"error": "invalid_grant", "error_description": "Refresh token expired"}))
    with pytest.raises(BadRequestError) as info:
        refresh(make_api(token_server))
    exc = info.value
    assert (exc.error, exc.error_description) == ("invalid_grant", "Refresh token expired")
    assert (exc.code, exc.message, exc.data) == (None, None, None)
    assert exc.is_invalid_grant
    assert str(exc) == "HTTP 400 Bad Request: invalid_grant: Refresh token expired"


def test_error_without_description(token_server: TokenServer) -> None:
    token_server.enqueue(json_reply(401, {"error": "invalid_client"}))
    with pytest.raises(UnauthorizedError) as info:
        refresh(make_api(token_server))
    assert (info.value.error, info.value.error_description) == ("invalid_client", None)
    assert not info.value.is_invalid_grant
    assert str(info.value) == "HTTP 401 Unauthorized: invalid_client"


def test_mistyped_code_message_body_is_not_parsed(token_server: TokenServer) -> None:
    token_server.enqueue(json_reply(400, {"code": "283", "message": ["x"]}))
    with pytest.raises(BadRequestError) as info:
        refresh(make_api(token_server))
    assert (info.value.code, info.value.message, info.value.data) == (None, None, None)
    assert "JSON body without code/message or error" in str(info.value)


def test_html_error_page_is_described_not_quoted(token_server: TokenServer) -> None:
    page = b"<html><body>502 Bad Gateway from the edge</body></html>"
    token_server.enqueue(Reply(status=502, headers=[("Content-Type", "text/html")], body=page))
    with pytest.raises(ServerError) as info:
        refresh(make_api(token_server))
    assert str(info.value) == f"HTTP 502 Bad Gateway: non-JSON body ({len(page)} bytes, text/html)"
    assert info.value.body == page.decode()  # still readable explicitly
    assert info.value.headers["Content-Type"] == "text/html"


def test_empty_error_body(token_server: TokenServer) -> None:
    token_server.enqueue(Reply(status=403, headers=[], body=b""))
    with pytest.raises(ForbiddenError) as info:
        refresh(make_api(token_server))
    assert str(info.value) == "HTTP 403 Forbidden"


@pytest.mark.parametrize(
    ("header", "expected"),
    [("7", 7.0), ("0", 0.0), (" 12 ", 12.0), ("soon", None), ("-3", None), ("1.5", None), ("²", None), (None, None)],
)
def test_rate_limit_retry_after_seconds(token_server: TokenServer, header: str | None, expected: float | None) -> None:
    headers = [("Retry-After", header)] if header is not None else []
    token_server.enqueue(json_reply(429, {"code": 8, "message": "Too many requests"}, *headers))
    with pytest.raises(RateLimitError) as info:
        refresh(make_api(token_server))
    assert info.value.retry_after == expected
    assert (info.value.code, info.value.message) == (8, "Too many requests")


def test_rate_limit_retry_after_http_date(token_server: TokenServer) -> None:
    when = email.utils.formatdate(time.time() + 120, usegmt=True)
    token_server.enqueue(json_reply(429, {"code": 8, "message": "slow down"}, ("Retry-After", when)))
    with pytest.raises(RateLimitError) as info:
        refresh(make_api(token_server))
    assert info.value.retry_after is not None and 115 <= info.value.retry_after <= 120


def test_service_unavailable_carries_retry_after(token_server: TokenServer) -> None:
    token_server.enqueue(json_reply(503, {"code": 0, "message": "down"}, ("Retry-After", "45")))
    with pytest.raises(ServerError) as info:
        refresh(make_api(token_server))
    assert info.value.retry_after == 45.0


# -- invalid 2xx bodies ----------------------------------------------------------------------

INVALID_BODIES = [
    ("empty", b"", "text/plain", "empty body (text/plain)"),
    ("whitespace", b"  \r\n", "application/json", "empty body (application/json)"),
    ("html", b"<html>maintenance</html>", "text/html", "not JSON (Expecting value: char 0; text/html, 24 bytes)"),
    ("truncated", token_json()[:30], "application/json", "truncated JSON: the body ends after 30 bytes (Unterminated string starting at: char 17)"),
    ("truncated after comma", b'{"access_token": "x",', "application/json", "truncated JSON: the body ends after 21 bytes (Expecting property name enclosed in double quotes: char 21)"),
    ("truncated at a minus sign", b'{"access_token": "x", "expires_in": -', "application/json",
     "truncated JSON: the body ends after 37 bytes (Expecting value: char 36)"),
    ("truncated after non-ASCII", '{"scope": "éééé", "expires_in": 36.'.encode(), "application/json",
     "truncated JSON: the body ends after 39 bytes (Expecting ',' delimiter: char 34)"),
    ("bad value before the end", b'{"access_token": x}', "application/json",
     "not JSON (Expecting value: char 17; application/json, 19 bytes)"),
    ("bad value after leading space", b'   {"access_token": x}', "application/json",
     "not JSON (Expecting value: char 20; application/json, 22 bytes)"),
    ("extra data at the end", b'{"access_token": "x"}}', "application/json",
     "not JSON (Extra data: char 21; application/json, 22 bytes)"),
    ("array", b"[1, 2]", "application/json", "expected a JSON object, got array"),
    ("string", b'"pina_x"', "application/json", "expected a JSON object, got string"),
    ("null", b"null", "application/json", "expected a JSON object, got null"),
    ("invalid utf-8", b'{"access_token": "\xff\xfe"}', "application/json", "not JSON ("),
    ("deep nesting", b"[" * 100_000 + b"]" * 100_000, "application/json", "JSON nested too deeply"),
    ("missing fields", b'{"token_type": "bearer"}', "application/json",
     "missing required field access_token; missing required field expires_in; missing required field scope"),
    ("wrong types", json.dumps({"access_token": 12345, "expires_in": "3600", "scope": "a"}).encode(), "application/json",
     "access_token: Input should be a valid string; expires_in: Input should be a valid integer"),
    ("null token", token_json(access_token=None), "application/json", "missing required field access_token"),
    ("float expiry", token_json(expires_in=3600.5), "application/json", "expires_in: Input should be a valid integer"),
]


@pytest.mark.parametrize(("name", "body", "ctype", "problem"), INVALID_BODIES, ids=[c[0] for c in INVALID_BODIES])
def test_invalid_2xx_body(token_server: TokenServer, name: str, body: bytes, ctype: str, problem: str) -> None:
    token_server.enqueue(Reply(status=200, headers=[("Content-Type", ctype)], body=body))
    with pytest.raises(InvalidResponseError) as info:
        refresh(make_api(token_server))
    exc = info.value
    assert exc.status == 200
    assert exc.problem.startswith(problem), exc.problem
    assert str(exc) == f"invalid token response (HTTP 200): {exc.problem}"
    assert exc.__context__ is None and exc.__cause__ is None  # pydantic/json errors quote the input
    assert leaks(exception_texts(exc)) == []


def test_mistyped_token_is_not_quoted(token_server: TokenServer) -> None:
    token_server.enqueue(ok(token_json(expires_in=ACCESS, refresh_token_expires_in=NEW_REFRESH)))
    with pytest.raises(InvalidResponseError) as info:
        refresh(make_api(token_server))
    assert "expires_in: Input should be a valid integer" in info.value.problem
    assert leaks(exception_texts(info.value)) == []


def test_garbage_content_encoding(token_server: TokenServer) -> None:
    token_server.enqueue(Reply(status=200, headers=[("Content-Type", "application/json"), ("Content-Encoding", "gzip")],
                               body=b"not gzip at all"))
    with pytest.raises(InvalidResponseError, match="could not be decoded"):
        refresh(make_api(token_server))


@pytest.mark.parametrize(("status", "error"), [(200, InvalidResponseError), (299, InvalidResponseError),
                                              (300, UnexpectedStatusError), (400, BadRequestError)])
def test_an_undecodable_body_raises_the_statuss_own_error(token_server: TokenServer, status: int,
                                                          error: type[Exception]) -> None:
    token_server.enqueue(Reply(status=status, headers=[("Content-Type", "application/json"), ("Content-Encoding", "gzip")],
                               body=b"not gzip at all"))
    with pytest.raises(error) as info:
        refresh(make_api(token_server))
    assert type(info.value) is error and info.value.status == status  # type: ignore[attr-defined]
    assert "the body could not be decoded (bad Content-Encoding)" in str(info.value)


@pytest.mark.parametrize("status", [200, 299])
def test_every_2xx_status_is_a_success(token_server: TokenServer, status: int) -> None:
    token_server.enqueue(Reply(status=status, headers=[("Content-Type", "application/json")], body=token_json()))
    assert refresh(make_api(token_server)).access_token.get_secret_value() == ACCESS


def test_a_3xx_status_is_an_error_not_a_redirect(token_server: TokenServer) -> None:
    token_server.enqueue(Reply(status=300, headers=[("Content-Type", "application/json"), ("Location", "/elsewhere")],
                               body=b'{"code": 1, "message": "choose"}'))
    with pytest.raises(UnexpectedStatusError) as info:
        refresh(make_api(token_server))
    assert info.value.status == 300 and info.value.code == 1 and len(token_server.requests) == 1


def test_gzip_answer_is_decoded(token_server: TokenServer) -> None:
    token_server.enqueue(Reply(status=200, headers=[("Content-Type", "application/json"), ("Content-Encoding", "gzip")],
                               body=gzip.compress(token_json())))
    assert refresh(make_api(token_server)).access_token.get_secret_value() == ACCESS


def test_no_content_2xx(token_server: TokenServer) -> None:
    token_server.enqueue(Reply(status=204, headers=[], body=b""))
    with pytest.raises(InvalidResponseError) as info:
        refresh(make_api(token_server))
    assert info.value.status == 204 and info.value.problem == "empty body (no Content-Type)"


def test_everlasting_refresh_and_unknown_fields_parse(token_server: TokenServer) -> None:
    token_server.enqueue(ok(token_json(response_type="everlasting_refresh", refresh_token_expires_in=None,
                                       brand_new_field={"nested": [1, 2]})))
    token = refresh(make_api(token_server), refresh_on=True)
    assert token.response_type == "everlasting_refresh"
    assert token.access_token.get_secret_value() == ACCESS
    assert token.refresh_token is not None and token.refresh_token.get_secret_value() == NEW_REFRESH
    assert token.refresh_token_expires_in is None
    assert token.additional_properties == {"brand_new_field": {"nested": [1, 2]}}
    assert token_server.requests[0].body == f"grant_type=refresh_token&refresh_token={REFRESH}&refresh_on=true".encode()


def test_with_http_info_gives_status_and_headers(token_server: TokenServer) -> None:
    token_server.enqueue(ok(None, **{"X-RateLimit-Remaining": "9", "Set-Cookie": "session=abc"}))
    info = make_api(token_server).oauth_token_with_http_info(grant_type="refresh_token", refresh_token=REFRESH)
    assert info.status_code == 200
    assert info.headers is not None and info.headers["X-RateLimit-Remaining"] == "9"
    assert info.headers["Set-Cookie"] == "<redacted>"
    assert info.raw_data == b""
    assert info.data.access_token.get_secret_value() == ACCESS
    assert leaks([repr(info), str(info)]) == []


# -- transport failures are ours too ---------------------------------------------------------

def test_reset_mid_body(token_server: TokenServer) -> None:
    token_server.enqueue(Reply(status=200, body=token_json(), action="reset_mid_body"))
    with pytest.raises(ConnectionFailedError) as info:
        refresh(make_api(token_server))
    assert info.value.request_sent is True
    assert "not retried" in str(info.value)
    assert isinstance(info.value, TransportError) and isinstance(info.value, OpenApiException)
    assert leaks(exception_texts(info.value)) == []


def test_closed_without_answer(token_server: TokenServer) -> None:
    token_server.enqueue(Reply(action="close"))
    with pytest.raises(ConnectionFailedError) as info:
        refresh(make_api(token_server))
    assert info.value.request_sent is True
    assert "RemoteDisconnected" in str(info.value)


def test_connection_refused() -> None:
    server = TokenServer()
    server.stop()  # the port is now closed
    with pytest.raises(ConnectionFailedError) as info:
        refresh(make_api(server))
    assert info.value.request_sent is False
    assert str(info.value).startswith(f"could not connect to http://127.0.0.1:{server.port}/v5/oauth/token (NewConnectionError")
    assert "ConnectionRefusedError" in str(info.value)


# -- arguments: rejected before anything is sent ---------------------------------------------

@pytest.mark.parametrize(
    ("kwargs", "cls", "message"),
    [
        ({"grant_type": "password"}, ApiValueError, "grant_type must be one of"),
        ({"grant_type": "authorization_code", "code": "c"}, ApiValueError, "needs redirect_uri"),
        ({"grant_type": "refresh_token"}, ApiValueError, "needs refresh_token"),
        ({"grant_type": "refresh_token", "refresh_token": 5}, ApiTypeError, "refresh_token must be a str"),
        ({"grant_type": "refresh_token", "refresh_token": "r", "refresh_on": "yes"}, ApiTypeError, "refresh_on must be a bool"),
        ({"grant_type": "client_credentials", "scope": "ads:read", "timeout": -1}, ApiValueError, "Timeouts.connect must be a positive"),
        ({"grant_type": "client_credentials", "scope": "ads:read", "timeout": float("nan")}, ApiValueError, "finite"),
        ({"grant_type": "client_credentials", "scope": "ads:read", "timeout": "10"}, ApiValueError, "timeout must be"),
        ({"grant_type": "client_credentials", "scope": "ads:read", "retry": 3}, ApiTypeError, "retry must be a RetryPolicy"),
    ],
)
def test_bad_arguments_send_nothing(token_server: TokenServer, kwargs: dict, cls: type, message: str) -> None:
    with pytest.raises(cls, match=message) as info:
        make_api(token_server).oauth_token(**kwargs)
    assert isinstance(info.value, OpenApiException)
    assert token_server.requests == []


def test_missing_credentials_send_nothing(token_server: TokenServer) -> None:
    from pinterest_oauth import ApiClient, Configuration, OauthApi

    with pytest.raises(ApiValueError, match=r"Configuration\(username=...\) was given without password="):
        Configuration(host=token_server.url, username="1234567")
    config = Configuration(host=token_server.url)  # no credentials at all: refused when called
    api = OauthApi(ApiClient(config))
    with pytest.raises(ApiValueError, match="needs username"):
        api.oauth_token(grant_type="client_credentials", scope="ads:read")
    assert token_server.requests == []


# -- the family -----------------------------------------------------------------------------

def _token() -> Token:
    return make_token(extra_field={"nested": [1, 2]}, sent_at=T0 + 0.5)


def _headers() -> HTTPHeaderDict:
    headers = HTTPHeaderDict({"Content-Type": "application/json", "Retry-After": "3"})
    headers.add("Set-Cookie", "a=1")
    headers.add("Set-Cookie", "b=2")
    return headers


def _samples() -> list[BaseException]:
    """One instance of every exception class the package defines, every attribute set."""
    http = dict(reason="Reason", headers=_headers(), body='{"code": 8, "message": "m"}',
                data=Error(code=8, message="m"), error="slow_down", error_description="wait",
                retry_after=3.0, summary="code 8: m")
    samples: list[BaseException] = [
        cls(status=status, **http)  # type: ignore[arg-type]
        for cls, status in [(PinterestApiError, 400), (BadRequestError, 400), (UnauthorizedError, 401),
                            (ForbiddenError, 403), (NotFoundError, 404), (RateLimitError, 429),
                            (ServerError, 503), (UnexpectedStatusError, 418)]
    ]
    samples += [
        InvalidResponseError("empty body", status=200),
        TransportError("broke", request_sent=True),
        ConnectionFailedError("could not connect", request_sent=False),
        RequestTimeoutError("timed out", request_sent=True),
        InsecureTransportError("refusing to send client credentials over plain http"),
        TokenStoreError("could not save", token=_token(), committed=True),
        TokenConflictError("a newer token is stored", token=_token(), committed=True),
        AuthorizationError("no code in the callback", error="server_error", error_description="try again"),
        AuthorizationDeniedError("declined", error="access_denied", error_description="the user said no"),
        StateMismatchError("state does not match"),
        ReauthorizationRequired("authorize again", cause=UnauthorizedError(
            status=401, data=Error(code=283, message="invalid grant"), error="invalid_grant",
            error_description="revoked")),
    ]
    return samples


def test_every_exception_class_has_a_pickle_sample() -> None:
    """A new exception class must join the pickle test below."""
    import pinterest_oauth.lib.authorize as authorize_module
    import pinterest_oauth.lib.errors as errors_module
    import pinterest_oauth.lib.session as session_module
    import pinterest_oauth.lib.stores as stores_module

    modules = (errors_module, stores_module, session_module, authorize_module)
    defined = {obj for module in modules for obj in vars(module).values()
               if isinstance(obj, type) and issubclass(obj, BaseException) and obj.__module__ == module.__name__}
    assert defined == {type(e) for e in _samples()}


@pytest.mark.parametrize("exc", _samples(), ids=lambda e: type(e).__name__)
def test_exceptions_pickle_with_every_attribute(exc: BaseException) -> None:
    back = pickle.loads(pickle.dumps(exc))
    assert type(back) is type(exc)
    assert (str(back), repr(back), back.args) == (str(exc), repr(exc), exc.args)
    assert set(vars(back)) == set(vars(exc))
    for name, value in vars(exc).items():
        assert getattr(back, name) == value, name
    if isinstance(exc, PinterestApiError):
        # Every field a handler reads, checked by name (a rebuilt exception that dropped one
        # would fail the loop above only if it also dropped it from vars()).
        for name in ("status", "reason", "body", "data", "code", "message", "error", "error_description",
                     "retry_after"):
            assert getattr(back, name) == getattr(exc, name) is not None, name
        assert back.is_invalid_grant == exc.is_invalid_grant
        # The headers stay a case-insensitive, multi-valued mapping.
        assert back.headers["content-type"] == "application/json"
        assert back.headers.getlist("Set-Cookie") == ["a=1", "b=2"]
    if isinstance(exc, TokenStoreError):
        assert back.token == exc.token and back.committed is True
        assert back.token is not None and back.token.additional_properties == {"extra_field": {"nested": [1, 2]}}


def test_every_http_class_is_an_api_exception() -> None:
    for cls in (BadRequestError, UnauthorizedError, ForbiddenError, NotFoundError, RateLimitError, ServerError,
                UnexpectedStatusError):
        assert issubclass(cls, PinterestApiError) and issubclass(cls, ApiException)
    for cls in (InvalidResponseError, ConnectionFailedError, RequestTimeoutError):
        assert issubclass(cls, OpenApiException) and not issubclass(cls, ApiException)


def test_optional_constructor_arguments_are_keyword_only() -> None:
    """`status=`, `request_sent=` and the HTTP fields cannot be passed by position (a reordering
    of the parameters would otherwise change meaning silently)."""
    with pytest.raises(TypeError):
        InvalidResponseError("empty body", 200)  # type: ignore[misc]
    with pytest.raises(TypeError):
        ConnectionFailedError("could not connect", False)  # type: ignore[misc]
    with pytest.raises(TypeError):
        ServerError(500)  # type: ignore[misc]


def test_exception_text_and_body_are_cut_at_their_documented_limits() -> None:
    """The reason at 100 characters, the summary at 300 (MAX_TEXT_CHARS), `.body` at 4096
    (MAX_BODY_CHARS, the README's number): kept whole at the limit, cut one past it."""
    exact = PinterestApiError(status=400, reason="R" * 100, summary="s" * 300, body="b" * 4096)
    assert str(exact) == "HTTP 400 " + "R" * 100 + ": " + "s" * 300
    assert exact.body == "b" * 4096
    over = PinterestApiError(status=400, reason="R" * 101, summary="s" * 301, body="b" * 4097)
    assert str(over) == "HTTP 400 " + "R" * 97 + "...: " + "s" * 297 + "..."
    assert over.body == "b" * 4096
    assert str(PinterestApiError(status=503)) == "HTTP 503"
    assert over.request_sent is True  # the server answered: it had the request
