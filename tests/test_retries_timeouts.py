"""Timeouts by default, and retries that can never send a token request twice once the server
may have seen it (issue 5, items 2 and 3)."""

from __future__ import annotations

import email.utils
import socket
import threading
import time
from typing import Any, Iterator

import pytest
from urllib3.connectionpool import HTTPConnectionPool
from fakes import ACCESS, CODE, REDIRECT_URI, make_api, no_sleep_policy, ok, refresh, token_json
from localserver import Reply, TokenServer

from pinterest_oauth import (
    ApiValueError,
    ConnectionFailedError,
    Configuration,
    RateLimitError,
    RequestTimeoutError,
    RetryPolicy,
    ServerError,
    Timeouts,
)
from pinterest_oauth.lib.transport import NO_RETRIES, parse_retry_after

SHORT = 0.3  # seconds: the timeout the tests wait for
# Upper bounds only prove that a timeout fired at all (a hanging reply lasts 30 s, a dropped SYN
# minutes), so they leave seconds of room for a loaded 2-core machine; lower bounds are exact.
LATE = 5.0


def rate_limited(retry_after: str | None = None, status: int = 429) -> Reply:
    headers = [("Content-Type", "application/json")] + ([("Retry-After", retry_after)] if retry_after else [])
    return Reply(status=status, headers=headers, body=b'{"code": 8, "message": "slow down"}')


def server_error(status: int) -> Reply:
    return Reply(status=status, headers=[("Content-Type", "application/json")], body=b'{"code": 1, "message": "oops"}')


@pytest.fixture
def unanswered_port() -> Iterator[int]:
    """A port whose accept queue is full: connecting to it hangs (SYNs are dropped)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    filler = socket.create_connection(("127.0.0.1", port), timeout=1)
    probe = socket.socket()
    probe.settimeout(0.1)
    try:
        probe.connect(("127.0.0.1", port))
        pytest.fail("could not saturate the accept queue on this system")
    except TimeoutError:
        pass
    finally:
        probe.close()
    yield port
    filler.close()
    listener.close()


# -- timeouts -------------------------------------------------------------------------------

def test_documented_defaults_reach_urllib3(token_server: TokenServer, monkeypatch: pytest.MonkeyPatch) -> None:
    config = Configuration()
    assert config.timeouts == Timeouts(connect=10.0, read=30.0, total=60.0)
    assert config.retry == RetryPolicy(max_attempts=3, backoff_base=0.5, backoff_max=8.0, max_retry_after=30.0)
    api = make_api(token_server, retry=None)
    seen: list[Any] = []
    real = HTTPConnectionPool.urlopen

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append((kwargs["timeout"], kwargs["retries"], kwargs["redirect"]))
        return real(*args, **kwargs)

    monkeypatch.setattr(HTTPConnectionPool, "urlopen", spy)
    token_server.enqueue(ok())
    refresh(api)
    timeout, retries, redirect = seen[0]
    assert (timeout.connect_timeout, timeout.read_timeout) == (10.0, 30.0)
    assert (retries, redirect) == (False, False)  # urllib3 never retries or redirects on its own


def test_read_timeout_fires_and_is_not_retried(token_server: TokenServer) -> None:
    token_server.enqueue(Reply(action="hang"), ok())
    policy, sleeps = no_sleep_policy()
    api = make_api(token_server, timeouts=Timeouts(connect=5, read=SHORT), retry=policy)
    started = time.monotonic()
    with pytest.raises(RequestTimeoutError) as info:
        refresh(api)
    elapsed = time.monotonic() - started
    assert SHORT <= elapsed < SHORT + LATE
    assert info.value.request_sent is True
    assert "not retried: the server may have processed the request" in str(info.value)
    assert len(token_server.requests) == 1 and sleeps == []


@pytest.mark.parametrize("timeout", [SHORT, (5, SHORT), Timeouts(connect=5, read=SHORT)], ids=["seconds", "pair", "Timeouts"])
def test_per_call_timeout_overrides_the_client(token_server: TokenServer, timeout: Any) -> None:
    token_server.enqueue(Reply(action="hang"))
    api = make_api(token_server, timeouts=Timeouts(connect=5, read=20))
    started = time.monotonic()
    with pytest.raises(RequestTimeoutError):
        refresh(api, timeout=timeout)
    assert SHORT <= time.monotonic() - started < SHORT + LATE


def test_client_timeout_as_seconds(token_server: TokenServer) -> None:
    token_server.enqueue(Reply(action="hang"))
    api = make_api(token_server, timeouts=SHORT)
    assert api.api_client.configuration.timeouts == Timeouts(connect=SHORT, read=SHORT, total=SHORT)
    started = time.monotonic()
    with pytest.raises(RequestTimeoutError):
        refresh(api)
    assert SHORT <= time.monotonic() - started < SHORT + LATE


def test_connect_timeout_is_retried_then_raised(unanswered_port: int) -> None:
    policy, sleeps = no_sleep_policy(max_attempts=3, rand=lambda: 1.0)
    config = Configuration(host=f"http://127.0.0.1:{unanswered_port}/v5", username="1", password="s",
                           timeouts=Timeouts(connect=0.2, read=5), retry=policy)
    from pinterest_oauth import ApiClient, OauthApi

    started = time.monotonic()
    with pytest.raises(RequestTimeoutError) as info:
        OauthApi(ApiClient(config)).oauth_token(grant_type="client_credentials", scope="ads:read")
    elapsed = time.monotonic() - started
    assert info.value.request_sent is False
    assert str(info.value) == f"timed out connecting to http://127.0.0.1:{unanswered_port}/v5/oauth/token"
    assert sleeps == [0.5, 1.0]  # nothing was sent: safe to try again, with capped backoff
    assert 3 * 0.2 <= elapsed < 3 * 0.2 + LATE


def test_connect_is_cut_to_the_total_deadline_and_not_retried_past_it(unanswered_port: int) -> None:
    policy, sleeps = no_sleep_policy(max_attempts=3)
    config = Configuration(host=f"http://127.0.0.1:{unanswered_port}/v5", username="1", password="s",
                           timeouts=Timeouts(connect=5, read=5, total=1), retry=policy)
    from pinterest_oauth import ApiClient, OauthApi

    started = time.monotonic()
    with pytest.raises(RequestTimeoutError) as info:
        OauthApi(ApiClient(config)).oauth_token(grant_type="client_credentials", scope="ads:read")
    elapsed = time.monotonic() - started
    assert info.value.request_sent is False
    assert str(info.value) == (f"timed out connecting to http://127.0.0.1:{unanswered_port}/v5/oauth/token"
                               " (the call's 1 s total deadline expired)")
    assert sleeps == []  # no time left for a retry
    assert 1.0 <= elapsed < 2.0


# -- connections that never carried the request are retried -------------------------------

def test_refused_then_answered_is_retried_once() -> None:
    """The port refuses the first connect; the server starts listening during the backoff."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    received: list[bytes] = []

    def serve_one() -> None:
        conn, _ = listener.accept()
        with conn:
            data = b""
            while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < int(
                data.lower().split(b"content-length: ", 1)[1].split(b"\r\n", 1)[0]
            ):
                data += conn.recv(65536)
            received.append(data)
            body = token_json()
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(body), body))

    def start_listening(seconds: float) -> None:
        sleeps.append(seconds)
        listener.listen(1)
        threading.Thread(target=serve_one, daemon=True).start()

    sleeps: list[float] = []
    policy = RetryPolicy(max_attempts=3, sleep=start_listening, rand=lambda: 0.5)
    config = Configuration(host=f"http://127.0.0.1:{port}/v5", username="1", password="s", retry=policy)
    from pinterest_oauth import ApiClient, OauthApi

    try:
        token = OauthApi(ApiClient(config)).oauth_token(grant_type="client_credentials", scope="ads:read")
    finally:
        listener.close()
    assert token.access_token.get_secret_value() == ACCESS
    assert sleeps == [0.25]
    assert len(received) == 1 and received[0].endswith(b"grant_type=client_credentials&scope=ads%3Aread")


def test_refused_every_time_gives_up_after_max_attempts() -> None:
    server = TokenServer()
    server.stop()
    policy, sleeps = no_sleep_policy(max_attempts=4, backoff_base=0.5, backoff_max=1.5, rand=lambda: 1.0)
    with pytest.raises(ConnectionFailedError) as info:
        refresh(make_api(server, retry=policy))
    assert info.value.request_sent is False
    assert sleeps == [0.5, 1.0, 1.5]


# -- 429 / 503 are retried, honouring Retry-After -----------------------------------------

def test_429_then_200_waits_retry_after_in_real_time(token_server: TokenServer) -> None:
    token_server.enqueue(rate_limited("1"), ok())
    api = make_api(token_server, retry=RetryPolicy())
    started = time.monotonic()
    token = api.oauth_token(grant_type="authorization_code", code=CODE, redirect_uri=REDIRECT_URI)
    elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 1.0 + LATE
    assert token.access_token.get_secret_value() == ACCESS
    first, second = token_server.requests
    assert (first.body, first.headers["Authorization"]) == (second.body, second.headers["Authorization"])


def test_429_retry_after_seconds_is_honoured(token_server: TokenServer) -> None:
    token_server.enqueue(rate_limited("7"), ok())
    policy, sleeps = no_sleep_policy()
    assert refresh(make_api(token_server, retry=policy)).access_token.get_secret_value() == ACCESS
    assert sleeps == [7.0] and len(token_server.requests) == 2


def test_429_retry_after_http_date_is_honoured(token_server: TokenServer) -> None:
    token_server.enqueue(rate_limited(email.utils.formatdate(time.time() + 20, usegmt=True)), ok())
    policy, sleeps = no_sleep_policy()
    refresh(make_api(token_server, retry=policy))
    assert len(sleeps) == 1 and 17 <= sleeps[0] <= 20


def test_503_without_retry_after_backs_off_with_jitter(token_server: TokenServer) -> None:
    token_server.enqueue(rate_limited(None, 503), rate_limited(None, 503), rate_limited(None, 503))
    policy, sleeps = no_sleep_policy(max_attempts=3, rand=lambda: 0.5)
    with pytest.raises(ServerError) as info:
        refresh(make_api(token_server, retry=policy))
    assert info.value.status == 503
    assert sleeps == [0.25, 0.5]  # 0.5 * base * 2**(n-1)
    assert len(token_server.requests) == 3


def test_429_every_time_raises_after_max_attempts(token_server: TokenServer) -> None:
    token_server.enqueue(rate_limited("2"), rate_limited("2"), rate_limited("2"), ok())
    policy, sleeps = no_sleep_policy(max_attempts=3)
    with pytest.raises(RateLimitError) as info:
        refresh(make_api(token_server, retry=policy))
    assert info.value.retry_after == 2.0
    assert sleeps == [2.0, 2.0] and len(token_server.requests) == 3


def test_retry_after_beyond_the_cap_is_not_waited_for(token_server: TokenServer) -> None:
    token_server.enqueue(rate_limited("120"), ok())
    policy, sleeps = no_sleep_policy(max_retry_after=60)
    with pytest.raises(RateLimitError) as info:
        refresh(make_api(token_server, retry=policy))
    assert info.value.retry_after == 120.0
    assert sleeps == [] and len(token_server.requests) == 1


@pytest.mark.parametrize("where", ["client", "call"])
def test_retries_can_be_disabled(token_server: TokenServer, where: str) -> None:
    token_server.enqueue(rate_limited("1"), ok())
    api = make_api(token_server, retry=NO_RETRIES if where == "client" else RetryPolicy())
    with pytest.raises(RateLimitError):
        refresh(api, **({"retry": RetryPolicy(max_attempts=1)} if where == "call" else {}))
    assert len(token_server.requests) == 1


# -- never re-sent once the server may have processed it ---------------------------------

@pytest.mark.parametrize("status", [500, 502, 504])
def test_5xx_then_200_is_not_retried(token_server: TokenServer, status: int) -> None:
    token_server.enqueue(server_error(status), ok())
    policy, sleeps = no_sleep_policy()
    with pytest.raises(ServerError) as info:
        api = make_api(token_server, retry=policy)
        api.oauth_token(grant_type="authorization_code", code=CODE, redirect_uri=REDIRECT_URI)
    assert info.value.status == status
    assert len(token_server.requests) == 1 and sleeps == []


@pytest.mark.parametrize("action", ["reset_mid_body", "close"])
def test_dropped_after_sending_is_not_retried(token_server: TokenServer, action: str) -> None:
    token_server.enqueue(Reply(status=200, body=token_json(), action=action), ok())
    policy, sleeps = no_sleep_policy()
    with pytest.raises(ConnectionFailedError) as info:
        refresh(make_api(token_server, retry=policy))
    assert info.value.request_sent is True
    assert len(token_server.requests) == 1 and sleeps == []


# -- policy arithmetic ------------------------------------------------------------------------

def test_backoff_is_capped_exponential_with_full_jitter() -> None:
    top = RetryPolicy(backoff_base=1, backoff_max=3, rand=lambda: 1.0)
    assert [top.backoff(n) for n in range(1, 6)] == [1, 2, 3, 3, 3]
    assert RetryPolicy(rand=lambda: 0.0).backoff(4) == 0.0
    real = RetryPolicy(backoff_base=0.5, backoff_max=8)
    assert all(0 <= real.backoff(3) <= 2.0 for _ in range(200))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_attempts": 0}, "max_attempts"),
        ({"max_attempts": True}, "max_attempts"),
        ({"backoff_max": -1}, "backoff_max"),
        ({"max_retry_after": float("inf")}, "max_retry_after"),
        ({"retry_statuses": frozenset({429, 500})}, "may only hold 429 and 503"),
    ],
)
def test_policy_validation(kwargs: dict, message: str) -> None:
    with pytest.raises(ApiValueError, match=message):
        RetryPolicy(**kwargs)


def test_parse_retry_after() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after("30", now=lambda: now) == 30.0
    assert parse_retry_after(email.utils.formatdate(now + 90, usegmt=True), now=lambda: now) == 90.0
    assert parse_retry_after(email.utils.formatdate(now - 90, usegmt=True), now=lambda: now) == 0.0
    assert parse_retry_after("9" * 400) == 1e9
    assert parse_retry_after("0" * 20 + "7") == 7.0  # leading zeros do not hide the value
    assert parse_retry_after("0") == 0.0 and parse_retry_after("000") == 0.0
    for bad in (None, "", "-1", "1.5", "٣", "Mon, 99 Foo 2025 xx", "Mon, 01 Jan 99999 00:00:00 GMT"):
        assert parse_retry_after(bad) is None


def test_assigning_settings_later_is_checked(token_server: TokenServer) -> None:
    api = make_api(token_server)
    config = api.api_client.configuration
    config.timeouts = (5, SHORT)
    assert config.timeouts == Timeouts(connect=5, read=SHORT)
    config.timeouts = None
    assert config.timeouts == Timeouts()
    with pytest.raises(ApiValueError):
        config.timeouts = 0
    with pytest.raises(TypeError):
        config.retry = 3  # type: ignore[assignment]
    config.retry = None
    assert config.retry == RetryPolicy()
    config.timeouts = SHORT
    token_server.enqueue(Reply(action="hang"))
    started = time.monotonic()
    with pytest.raises(RequestTimeoutError):
        refresh(api)
    assert SHORT <= time.monotonic() - started < SHORT + LATE
