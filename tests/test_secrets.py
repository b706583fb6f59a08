"""No secret in any repr, exception text, log record, stdout or stderr (issue 5, item 4).

The secrets: the client secret, the Authorization header (base64 of id:secret), the code, the
refresh token sent, and the access / refresh tokens received (see failure_kit.SECRETS).
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import pprint
import subprocess
import sys
import textwrap
from typing import Any, Iterator

import pytest
from conftest import CLIENT_ID, CLIENT_SECRET
from fakes import (
    ACCESS, BASIC, CODE, NEW_REFRESH, REDIRECT_URI, REFRESH, SECRETS, exception_texts, leaks, make_api, no_sleep_policy,
    ok, refresh, token_json,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from localserver import Reply, Seen, TokenServer

import pinterest_oauth
from pinterest_oauth import (
    ApiClient, Configuration, InvalidResponseError, OauthAccessTokenResponse, OauthApi, PinterestApiError,
    RetryPolicy, Timeouts, TransportError,
)
from pinterest_oauth.configuration import Configuration as GeneratedConfiguration
from pinterest_oauth.lib import transport

PACKAGE_LOGGERS = ("pinterest_oauth", "urllib3")


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Undo every debug switch a test flips: logger levels, our handler, http.client's global."""
    levels = {name: logging.getLogger(name).level for name in PACKAGE_LOGGERS}
    yield
    transport.disable_debug_logging("all")
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    http.client.HTTPConnection.debuglevel = 0


def echoing_error(status: int = 400, *, code: bool = False) -> Reply:
    """An error body that quotes the secrets the client sent, as a careless server might
    (the code only for a call that sent it: the client cannot know a code it never had)."""
    message = f"bad request: {f'code={CODE} ' if code else ''}refresh_token={REFRESH} secret={CLIENT_SECRET} auth=Basic {BASIC}"
    return Reply(status=status, body=json.dumps({"code": 283, "message": message}).encode())


def every_exchange(api: OauthApi) -> list[BaseException]:
    """Success, retried 429, echoing errors, invalid 2xx bodies, a reset: everything logs."""
    failures: list[BaseException] = []
    refresh(api)
    api.oauth_token(grant_type="authorization_code", code=CODE, redirect_uri=REDIRECT_URI)
    for call in (lambda: refresh(api), lambda: api.oauth_token(grant_type="authorization_code", code=CODE,
                                                                 redirect_uri=REDIRECT_URI)):
        for _ in range(4):
            try:
                call()
            except Exception as exc:  # noqa: BLE001 - every failure is inspected below
                failures.append(exc)
    # Of the eight answers queued for the loop, only the last (a token with extra fields) is valid.
    assert [type(f).__name__ for f in failures] == [
        "BadRequestError", "UnauthorizedError", "InvalidResponseError", "ConnectionFailedError",
        "ServerError", "InvalidResponseError", "ServerError"]
    return failures


def queue_every_exchange(server: TokenServer) -> None:
    server.enqueue(
        ok(), Reply(status=429, headers=[("Retry-After", "0"), ("X-Echo", REFRESH)], body=b"{}"), ok(),
        echoing_error(400),
        Reply(status=401, body=json.dumps({"error": "invalid_client", "error_description": f"not {CLIENT_SECRET}"}).encode()),
        ok(token_json(expires_in=ACCESS)),
        Reply(status=200, body=token_json(), action="reset_mid_body"),
        echoing_error(500, code=True),
        ok(token_json()[:-5]),
        Reply(status=502, headers=[("Content-Type", "text/plain")], body=f"upstream said {ACCESS}".encode()),
        ok(token_json(extra_token=NEW_REFRESH, note=f"your refresh token {NEW_REFRESH}")),
    )


# -- reprs and dumps ---------------------------------------------------------------------------

def test_token_response_shows_no_token(token_server: TokenServer) -> None:
    token_server.enqueue(ok())
    token = refresh(make_api(token_server))
    # Displays hide the tokens; serializers (to_dict, to_json, model_dump*) keep them, for storage
    # (tests/test_lossless_serialization.py).
    shown = [repr(token), str(token), token.to_str(), pprint.pformat(token)]
    assert leaks(shown) == []
    assert "SecretStr('**********')" in repr(token)
    assert (token.access_token.get_secret_value(), token.refresh_token.get_secret_value()) == (ACCESS, NEW_REFRESH)  # type: ignore[union-attr]


def test_configuration_and_clients_show_no_secret(token_server: TokenServer) -> None:
    config = Configuration(host=token_server.url, username=CLIENT_ID, password=CLIENT_SECRET)
    client = ApiClient(config)
    api = OauthApi(client)
    token_server.enqueue(ok())
    refresh(api)  # caches the encoded credentials on the api object
    shown = [repr(config), str(config), repr(client), str(client), repr(api), str(api), config.to_debug_report()]
    assert leaks(shown) == []
    assert "password='<redacted>'" in repr(config) and f"username='{CLIENT_ID}'" in repr(config)


def test_error_texts_scrub_echoed_secrets(token_server: TokenServer) -> None:
    token_server.enqueue(echoing_error(400, code=True))
    with pytest.raises(PinterestApiError) as info:
        make_api(token_server).oauth_token(grant_type="authorization_code", code=CODE, redirect_uri=REDIRECT_URI)
    exc = info.value
    assert leaks(exception_texts(exc)) == []
    assert str(exc).startswith("HTTP 400 Bad Request: code 283: bad request: code=<redacted> refresh_token=<redacted> "
                               "secret=<redacted>")
    # The parsed fields and the raw body stay as the server sent them, for explicit reading.
    assert exc.code == 283 and exc.message is not None and CODE in exc.message and REFRESH in (exc.body or "")


def test_error_texts_scrub_url_encoded_and_unknown_tokens(token_server: TokenServer) -> None:
    from urllib.parse import quote_plus

    description = f"got client_secret={quote_plus(CLIENT_SECRET)} and issued {ACCESS}"
    token_server.enqueue(Reply(status=400, body=json.dumps({"error": "invalid_request", "error_description": description}).encode()))
    with pytest.raises(PinterestApiError) as info:
        refresh(make_api(token_server))
    assert leaks(exception_texts(info.value)) == []
    assert str(info.value) == "HTTP 400 Bad Request: invalid_request: got client_secret=<redacted> and issued <redacted>"
    assert info.value.error_description == description


# -- debug switches -----------------------------------------------------------------------------

def test_package_debug_switch_logs_redacted_exchange(token_server: TokenServer, capfd: pytest.CaptureFixture[str],
                                                     restore_logging: None) -> None:
    queue_every_exchange(token_server)
    api = make_api(token_server, debug=True, retry=RetryPolicy(max_attempts=2))
    assert api.api_client.configuration.debug is True
    failures = every_exchange(api)
    out, err = capfd.readouterr()
    assert leaks([out, err] + [t for f in failures for t in exception_texts(f)]) == []
    url = f"{token_server.url}/oauth/token"
    assert f"pinterest_oauth DEBUG POST {url} attempt 1/2 timeouts=(10, 30, 60) headers={{'Authorization': '<redacted>'" in err
    assert "form=[('grant_type', 'refresh_token'), ('refresh_token', '<redacted>')]" in err
    assert "('code', '<redacted>'), ('redirect_uri', 'https://example.com/cb')" in err
    assert f"POST {url} -> 200 OK in " in err and " ms headers=" in err
    assert '"access_token": "<redacted>"' in err and '"expires_in": 2592000' in err
    assert "-> 429 Too Many Requests" in err and "retrying in 0.00 s" in err
    assert '"code": 283, "message": "bad request: code=<redacted>' in err
    assert "attempt 1 failed after" in err  # the reset mid-body
    assert "<33 characters, not JSON>" in err  # the text/plain 502
    assert out == ""
    Configuration(debug=False)
    token_server.enqueue(ok())
    refresh(make_api(token_server))  # default reply; nothing logged once switched off
    assert capfd.readouterr().err == ""


def test_generated_debug_switch_prints_nothing_secret(token_server: TokenServer, capfd: pytest.CaptureFixture[str],
                                                      caplog: pytest.LogCaptureFixture, restore_logging: None) -> None:
    """The generated Configuration.debug sets http.client's debuglevel process-wide; our
    connections ignore it. A plain http.client connection shows what it would print."""
    caplog.set_level(logging.DEBUG)
    GeneratedConfiguration(debug=True)
    assert http.client.HTTPConnection.debuglevel == 1
    raw = http.client.HTTPConnection("127.0.0.1", token_server.port)
    token_server.enqueue(ok())
    raw.request("POST", "/v5/oauth/token", body=f"refresh_token={REFRESH}", headers={"Authorization": f"Basic {BASIC}"})
    raw.getresponse().read()
    raw.close()
    assert REFRESH in capfd.readouterr().out  # the capture works: http.client printed the body

    queue_every_exchange(token_server)
    failures = every_exchange(make_api(token_server, retry=RetryPolicy(max_attempts=2)))
    out, err = capfd.readouterr()
    records = [caplog.text] + [r.getMessage() for r in caplog.records]
    assert leaks([out, err] + records + [t for f in failures for t in exception_texts(f)]) == []
    assert "send:" not in out and "reply:" not in out
    assert any(r.name == "urllib3.connectionpool" for r in caplog.records)  # urllib3 did log, at DEBUG


def test_both_debug_switches_and_root_debug_logging(token_server: TokenServer, capfd: pytest.CaptureFixture[str],
                                                    caplog: pytest.LogCaptureFixture, restore_logging: None) -> None:
    caplog.set_level(logging.DEBUG)
    GeneratedConfiguration(debug=True)
    queue_every_exchange(token_server)
    api = make_api(token_server, debug=True, retry=RetryPolicy(max_attempts=2))
    failures = every_exchange(api)
    out, err = capfd.readouterr()
    assert leaks([out, err, caplog.text] + [t for f in failures for t in exception_texts(f)]) == []
    assert "pinterest_oauth DEBUG POST" in err
    assert {r.name for r in caplog.records} >= {"pinterest_oauth", "urllib3.connectionpool"}


def test_urllib3_header_parse_warning_hides_header_content(token_server: TokenServer, caplog: pytest.LogCaptureFixture,
                                                           capfd: pytest.CaptureFixture[str]) -> None:
    """urllib3 logs unparsed response headers at WARNING when a header line is malformed."""
    caplog.set_level(logging.DEBUG)
    token_server.enqueue(Reply(status=200, headers=[("Content-Type", "application/json"), ("Connection", "close"),
                                                    ("X-Broken", "a\rb"), ("X-Echo", REFRESH)], body=token_json()))
    # http.client stops parsing at the bad line; the status line and body still make a token.
    token = refresh(make_api(token_server, timeouts=2))
    assert token.access_token.get_secret_value() == ACCESS
    assert leaks([repr(token), str(token)]) == []
    warnings = [r for r in caplog.records if r.name == "urllib3.connection"]
    assert warnings, "urllib3 did not complain: the test no longer exercises its header warning"
    assert "content hidden" in warnings[0].getMessage()
    assert leaks([caplog.text, *capfd.readouterr()]) == []


@pytest.mark.parametrize("value", ["1", "0", None])
def test_environment_switch_in_a_fresh_process(token_server: TokenServer, tmp_path: Any, value: str | None) -> None:
    token_server.enqueue(ok(), echoing_error(400, code=True))
    script = textwrap.dedent(f"""
        import sys
        from pinterest_oauth import ApiClient, Configuration, OauthApi, OpenApiException
        api = OauthApi(ApiClient(Configuration(host={token_server.url!r}, username={CLIENT_ID!r}, password={CLIENT_SECRET!r})))
        token = api.oauth_token(grant_type="refresh_token", refresh_token={REFRESH!r})
        print(repr(token))
        try:
            api.oauth_token(grant_type="authorization_code", code={CODE!r}, redirect_uri="https://e.x/cb")
        except OpenApiException as exc:
            print(repr(exc))
    """)
    env = {k: v for k, v in os.environ.items() if k != transport.DEBUG_ENV}
    if value is not None:
        env[transport.DEBUG_ENV] = value
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert leaks([done.stdout, done.stderr]) == []
    assert "SecretStr('**********')" in done.stdout
    assert "BadRequestError('HTTP 400 Bad Request: code 283: bad request: code=<redacted>" in done.stdout
    logged = "pinterest_oauth DEBUG POST" in done.stderr
    assert logged is (value == "1")
    if logged:
        assert "-> 200 OK in" in done.stderr and "-> 400 Bad Request in" in done.stderr


# -- property: random answers only ever raise our exceptions, and never leak ---------------------

class Scripted:
    """One server for every example: it plays whatever reply the current example set."""

    def __init__(self) -> None:
        self.reply = Reply()

    def __call__(self, seen: Seen) -> Reply:
        return self.reply


SECRET_VALUES = st.sampled_from([CODE, REFRESH, ACCESS, NEW_REFRESH, CLIENT_SECRET, BASIC, f"Basic {BASIC}"])
HEADER_TEXT = st.text(st.characters(codec="latin-1", exclude_characters="\r\n"), max_size=30)
HEADER_NAMES = st.sampled_from(["Content-Type", "Retry-After", "Content-Encoding", "Transfer-Encoding", "Connection",
                                "Set-Cookie", "WWW-Authenticate", "X-Echo", "Location"])
HEADER_VALUES = st.one_of(HEADER_TEXT, SECRET_VALUES, st.sampled_from(
    ["application/json", "text/html", "gzip", "deflate", "chunked", "close", "0", "1", "3", "-1", "Wed, 21 Oct 2015 07:28:00 GMT"]))
JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20), SECRET_VALUES)
TEXT_WITH_SECRETS = st.builds(lambda a, s, b: f"{a}{s}{b}", st.text(max_size=10), SECRET_VALUES, st.text(max_size=10))


@st.composite
def token_bodies(draw: st.DrawFn) -> bytes:
    body = json.loads(token_json())
    for key in draw(st.lists(st.sampled_from(sorted(body) + ["extra", "id_token"]), max_size=3)):
        body[key] = draw(st.one_of(JSON_SCALARS, st.lists(JSON_SCALARS, max_size=2)))
    raw = json.dumps(body).encode()
    return raw[: draw(st.integers(0, len(raw)))] if draw(st.booleans()) and draw(st.booleans()) else raw


ERROR_BODIES = st.one_of(
    st.builds(lambda c, m: json.dumps({"code": c, "message": m}).encode(), st.one_of(st.integers(), SECRET_VALUES), TEXT_WITH_SECRETS),
    st.builds(lambda e, d: json.dumps({"error": e, "error_description": d}).encode(), st.one_of(st.text(max_size=10), SECRET_VALUES),
              st.one_of(st.none(), TEXT_WITH_SECRETS)),
)
BODIES = st.one_of(token_bodies(), token_bodies(), ERROR_BODIES, st.binary(max_size=60), TEXT_WITH_SECRETS.map(str.encode),
                   st.just(b"[" * 5000), st.just(b""))
STATUSES = st.one_of(st.just(200), st.sampled_from([200, 201, 204, 400, 401, 403, 404, 429, 500, 502, 503, 504, 302, 418]), st.integers(200, 599))


@pytest.fixture(scope="module")
def scripted_server() -> Iterator[tuple[TokenServer, Scripted]]:
    script = Scripted()
    with TokenServer(default=script) as server:
        yield server, script


HEADERS = st.lists(st.one_of(st.tuples(HEADER_NAMES, HEADER_VALUES), st.sampled_from(
    [("Transfer-Encoding", "chunked"), ("Content-Encoding", "gzip"), ("Content-Encoding", "deflate"),
     ("Connection", "close"), ("Retry-After", "0")])), max_size=4)


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(status=STATUSES, headers=HEADERS, body=BODIES)
def test_random_answers_raise_only_our_exceptions_and_leak_nothing(
    scripted_server: tuple[TokenServer, Scripted], capfd: pytest.CaptureFixture[str], restore_logging: None,
    status: int, headers: list[tuple[str, str]], body: bytes,
) -> None:
    server, script = scripted_server
    if any(name == "Transfer-Encoding" for name, _ in headers):
        headers = [*headers, ("Connection", "close")]  # a misframed chunked body ends at EOF, not at a timeout
    script.reply = Reply(status=status, headers=headers, body=body)
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = records.append  # type: ignore[method-assign]
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.DEBUG)
    transport.enable_debug_logging()
    policy, _ = no_sleep_policy(max_attempts=2)
    api = OauthApi(make_api(server, timeouts=Timeouts(connect=2, read=0.25), retry=policy).api_client)
    texts: list[str] = []
    try:
        result: Any = api.oauth_token(grant_type="authorization_code", code=CODE, redirect_uri=REDIRECT_URI)
        assert isinstance(result, OauthAccessTokenResponse)
        # A secret the server itself put in a plain field (say scope) is data the model shows;
        # the token fields never are.
        plain = repr({k: v for k, v in result.to_dict().items() if k not in ("access_token", "refresh_token")})
        assert set(leaks([repr(result), str(result), result.to_str()])) <= set(leaks([plain]))
    except (PinterestApiError, InvalidResponseError, TransportError) as exc:
        assert type(exc).__module__ == "pinterest_oauth.lib.errors"
        texts += exception_texts(exc)
    finally:
        api.api_client.close()
        root.removeHandler(handler)
        root.setLevel(level)
    texts += [logging.Formatter().format(r) for r in records]
    out, err = capfd.readouterr()
    assert leaks(texts + [out, err]) == []
