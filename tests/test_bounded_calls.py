"""Bounded calls (issue 14): no server on 127.0.0.1 can keep a call past its total deadline plus
a second, or make the client read more than `max_response_bytes`; error texts stay short."""

from __future__ import annotations

import functools
import gzip
import json
import logging
import re
import socket
import threading
import time
from typing import Any, Callable, Optional

import pytest
from conftest import CLIENT_ID, CLIENT_SECRET
from failure_kit import ACCESS, REFRESH, make_api, ok, refresh, token_json
from localserver import Reply, TokenServer
from rawserver import PLAY_LIMIT_S, RawServer, dribble, flood, send

from pinterest_oauth import (
    ApiValueError,
    BadRequestError,
    Configuration,
    InvalidResponseError,
    MemoryTokenStore,
    RateLimitError,
    RequestTimeoutError,
    RetryPolicy,
    ServerError,
    Timeouts,
    TokenSession,
    UnexpectedStatusError,
)

CAP = 1024 * 1024  # the documented default of max_response_bytes
TOTAL = 1.5  # the total deadline of the timing tests; their read timeout (1 s) outlasts a dribble step
LATE = 1.0  # how far past its deadline a call may end (the bound)
MiB = 1024 * 1024


def head(status: int = 200, *headers: str) -> bytes:
    lines = [f"HTTP/1.1 {status} X", "Content-Type: application/json", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def with_length(body: bytes, status: int = 200) -> bytes:
    return head(status, f"Content-Length: {len(body)}") + body


def as_chunks(body: bytes, piece: int = 64 * 1024) -> bytes:
    out = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + piece]), body[i:i + piece]) for i in range(0, len(body), piece))
    return out + b"0\r\n\r\n"


def call(server: RawServer, **config: Any) -> Any:
    config.setdefault("retry", RetryPolicy(max_attempts=1))
    api = make_api(server, **config)  # type: ignore[arg-type]
    try:
        return refresh(api)
    finally:
        api.api_client.close()


def timed(fn: Callable[[], Any]) -> tuple[BaseException, float]:
    started = time.monotonic()
    with pytest.raises(Exception) as info:
        fn()
    return info.value, time.monotonic() - started


# -- the total deadline: whatever the server does ---------------------------------------------

def dribbled_headers(n: int, conn: socket.socket, stop: threading.Event) -> bool:
    dribble(conn, with_length(token_json()), 0.5, stop)
    return False


def dribbled_body(n: int, conn: socket.socket, stop: threading.Event) -> bool:
    body = token_json()
    send(conn, head(200, f"Content-Length: {len(body)}"))
    dribble(conn, body, 0.5, stop)
    return False


def endless_chunked(n: int, conn: socket.socket, stop: threading.Event) -> bool:
    send(conn, head(200, "Transfer-Encoding: chunked") + b"1\r\n{\r\n")
    while not stop.wait(0.1):  # ten small chunks a second, forever: never near the size cap
        send(conn, b"4\r\n    \r\n")
    return False


@pytest.mark.parametrize("play", [dribbled_headers, dribbled_body, endless_chunked])
def test_a_stalling_server_cannot_outlast_the_deadline(play: Any) -> None:
    with RawServer(play) as server:
        exc, elapsed = timed(lambda: call(server, timeouts=Timeouts(connect=1, read=1, total=TOTAL)))
    assert isinstance(exc, RequestTimeoutError), repr(exc)
    assert TOTAL - 0.05 <= elapsed < TOTAL + LATE
    assert exc.request_sent is True
    assert f"the call's {TOTAL:g} s total deadline expired" in str(exc)
    assert "not retried: the server may have processed the request" in str(exc)


def test_per_call_seconds_bound_the_whole_call() -> None:
    """`timeout=1.5` on the call: connect, read and total all 1.5 s (the client's default is 60)."""
    with RawServer(dribbled_body) as server:
        api = make_api(server)  # type: ignore[arg-type]
        exc, elapsed = timed(lambda: refresh(api, timeout=TOTAL))
    assert isinstance(exc, RequestTimeoutError) and exc.request_sent is True
    assert TOTAL - 0.05 <= elapsed < TOTAL + LATE


def test_send_bounds_any_pool_manager() -> None:
    """`transport.send` (what an ApiClient calls) prepares a plain urllib3 PoolManager itself."""
    import urllib3

    from pinterest_oauth.lib import transport

    manager = urllib3.PoolManager()
    with RawServer(dribbled_headers) as server:
        exc, elapsed = timed(lambda: transport.send(
            manager, server.url + "/oauth/token", b"grant_type=client_credentials", {}, (),
            Timeouts(connect=1, read=1, total=TOTAL), RetryPolicy(max_attempts=1)))
    assert isinstance(exc, RequestTimeoutError) and exc.request_sent is True
    assert TOTAL - 0.05 <= elapsed < TOTAL + LATE


def test_retry_after_that_does_not_fit_is_not_waited_for(token_server: TokenServer) -> None:
    """503 + Retry-After 2 s under a 3 s deadline: the first retry fits (2 s + 0.5 s), the
    second would end past the deadline, so the 503 is raised at about 2 s, not slept on."""
    busy = Reply(status=503, headers=[("Retry-After", "2")], body=b'{"code": 1, "message": "busy"}')
    token_server.enqueue(busy, busy, busy, ok())
    api = make_api(token_server, retry=RetryPolicy(max_attempts=4), timeouts=Timeouts(total=3))
    exc, elapsed = timed(lambda: refresh(api))
    assert isinstance(exc, ServerError) and exc.status == 503 and exc.retry_after == 2.0
    assert len(token_server.requests) == 2
    assert 2.0 <= elapsed < 3.0


def test_retry_after_longer_than_the_deadline_is_raised_at_once(token_server: TokenServer) -> None:
    token_server.enqueue(Reply(status=503, headers=[("Retry-After", "3")], body=b"{}"), ok())
    api = make_api(token_server, retry=RetryPolicy(max_attempts=3), timeouts=Timeouts(total=3))
    exc, elapsed = timed(lambda: refresh(api))
    assert isinstance(exc, ServerError) and exc.retry_after == 3.0
    assert len(token_server.requests) == 1 and elapsed < 2.5  # not the 3 s wait (slack for load)


def test_timeouts_total_is_checked_and_coerced() -> None:
    assert Timeouts() == Timeouts(connect=10, read=30, total=60)
    assert Configuration(timeouts=(1, 2, 3)).timeouts == Timeouts(connect=1, read=2, total=3)
    assert Configuration(timeouts=(1, 2)).timeouts == Timeouts(connect=1, read=2, total=60)
    assert Configuration(timeouts=4).timeouts == Timeouts(connect=4, read=4, total=4)
    for bad in (0, -1, float("inf"), float("nan"), True, "5"):
        with pytest.raises(ApiValueError, match="Timeouts.total"):
            Timeouts(total=bad)  # type: ignore[arg-type]


def test_token_session_refresh_deadline_is_half_the_store_lease() -> None:
    """A refresh holds the session's and the store's locks: under a store whose lock expires
    after `lease_seconds` seconds, the request gives up after half of it."""

    class LeasedStore(MemoryTokenStore):
        lease_seconds = 2 * TOTAL

    with RawServer(dribbled_body) as server:
        session = TokenSession(CLIENT_ID, CLIENT_SECRET, LeasedStore(), host=server.url,
                               timeouts=Timeouts(connect=1, read=1, total=30))
        assert session.request_timeouts == Timeouts(connect=1, read=1, total=TOTAL)
        exc, elapsed = timed(lambda: session.start_from_refresh_token(REFRESH))
        session.close()
    assert isinstance(exc, RequestTimeoutError) and exc.request_sent is True
    assert TOTAL - 0.05 <= elapsed < TOTAL + LATE
    plain = TokenSession(CLIENT_ID, CLIENT_SECRET, MemoryTokenStore(), timeouts=(1, 1, 30))
    assert plain.request_timeouts.total == 30


# -- the body cap -----------------------------------------------------------------------------

def endless_spaces_chunked(n: int, conn: socket.socket, stop: threading.Event) -> bool:
    send(conn, head(200, "Transfer-Encoding: chunked") + b"1\r\n{\r\n")
    flood(conn, b"10000\r\n" + b" " * 0x10000 + b"\r\n", stop, 256 * MiB)
    return False


def endless_spaces_close_delimited(n: int, conn: socket.socket, stop: threading.Event) -> bool:
    send(conn, head(200, "Connection: close") + b"{")
    flood(conn, b" " * 0x10000, stop, 256 * MiB)
    return False


@functools.lru_cache(maxsize=1)
def bomb_64_mib() -> bytes:
    return gzip.compress(b" " * (64 * MiB), compresslevel=9)  # ~64 KiB on the wire


def gzip_bomb(n: int, conn: socket.socket, stop: threading.Event) -> bool:
    bomb = bomb_64_mib()
    send(conn, head(200, "Content-Encoding: gzip", f"Content-Length: {len(bomb)}") + bomb)
    return False


@pytest.mark.parametrize("play", [endless_spaces_chunked, endless_spaces_close_delimited, gzip_bomb])
def test_a_body_found_too_large_while_reading_is_refused(play: Any) -> None:
    bomb_64_mib()  # compressed before the clock starts
    with RawServer(play) as server:
        exc, elapsed = timed(lambda: call(server, timeouts=Timeouts(total=20)))
    assert isinstance(exc, InvalidResponseError), repr(exc)
    assert exc.status == 200
    assert exc.problem == (f"the response body is too large: the limit is {CAP} bytes "
                           "(max_response_bytes), the body is larger than that; it was not read")
    assert elapsed < 10.0  # refused on reading past the cap, long before the 20 s deadline (slack for load)


def declared_64_mib_then_silent(n: int, conn: socket.socket, stop: threading.Event) -> bool:
    if n == 1:
        send(conn, head(200, f"Content-Length: {64 * MiB}"))
        return True  # wait on this connection for another request (a pooled connection's)
    send(conn, with_length(token_json()))
    return True


def test_a_declared_oversized_body_is_not_read_and_its_connection_is_dropped() -> None:
    with RawServer(declared_64_mib_then_silent) as server:
        api = make_api(server, timeouts=Timeouts(total=20))  # type: ignore[arg-type]
        exc, elapsed = timed(lambda: refresh(api))
        token = refresh(api)  # the same client: must not reuse the connection of the refused answer
        api.api_client.close()
        seen = server.request_connections
    assert isinstance(exc, InvalidResponseError)
    assert exc.problem == (f"the response body is too large: the limit is {CAP} bytes "
                           f"(max_response_bytes), the body is {64 * MiB} bytes (Content-Length); it was not read")
    assert elapsed < 10.0  # nothing of the body was waited for (the deadline is 20 s; slack for load)
    assert token.access_token.get_secret_value() == ACCESS
    assert seen == [1, 2]


def flood_400(n: int, conn: socket.socket, stop: threading.Event) -> bool:
    send(conn, head(400, "Transfer-Encoding: chunked") + b'1\r\n{\r\n')
    flood(conn, b"10000\r\n" + b" " * 0x10000 + b"\r\n", stop, 256 * MiB)
    return False


def test_an_oversized_error_body_raises_the_status_error() -> None:
    with RawServer(flood_400) as server:
        exc, elapsed = timed(lambda: call(server))
    assert isinstance(exc, BadRequestError) and exc.status == 400 and exc.body is None
    assert str(exc).startswith("HTTP 400 X: the response body is too large: the limit is 1048576 bytes")
    assert elapsed < 10.0  # refused on reading past the cap, long before the 60 s default deadline (slack for load)


FRAMINGS = {
    "content-length": lambda body: with_length(body),
    "chunked": lambda body: head(200, "Transfer-Encoding: chunked") + as_chunks(body),
    "close-delimited": lambda body: head(200, "Connection: close") + body,
    "gzip": lambda body: head(200, "Content-Encoding: gzip", "Transfer-Encoding: chunked") + as_chunks(gzip.compress(body)),
}


def padded(size: int) -> bytes:
    """A valid token answer of exactly `size` bytes (JSON may end in whitespace)."""
    body = token_json()
    return body + b" " * (size - len(body))


@pytest.mark.parametrize("framing", sorted(FRAMINGS))
@pytest.mark.parametrize(("size", "accepted"), [(CAP, True), (CAP + 1, False)], ids=["at-cap", "one-over"])
def test_the_cap_is_exact(framing: str, size: int, accepted: bool) -> None:
    wire = FRAMINGS[framing](padded(size))

    def answer(n: int, conn: socket.socket, stop: threading.Event) -> bool:
        send(conn, wire)
        return False

    with RawServer(answer) as server:
        started = time.monotonic()
        if accepted:
            assert call(server).access_token.get_secret_value() == ACCESS
        else:
            with pytest.raises(InvalidResponseError, match="too large"):
                call(server)
        assert time.monotonic() - started < 2.0


def test_the_cap_is_configurable(token_server: TokenServer) -> None:
    token_server.enqueue(ok(padded(5000)), ok(padded(5000)))
    assert refresh(make_api(token_server, max_response_bytes=5000)).access_token.get_secret_value() == ACCESS
    with pytest.raises(InvalidResponseError, match="the limit is 4999 bytes"):
        refresh(make_api(token_server, max_response_bytes=4999))
    for bad in (0, -1, 1.5, True, "1"):
        with pytest.raises(ApiValueError, match="max_response_bytes"):
            Configuration(max_response_bytes=bad)  # type: ignore[arg-type]


# -- error texts and bodies stay short -----------------------------------------------------------

def test_error_body_and_text_are_bounded(token_server: TokenServer) -> None:
    message = "m" * 500_000
    body = json.dumps({"code": 7, "message": message, "error": "e" * 1000, "error_description": "d" * 1000}).encode()
    token_server.enqueue(Reply(status=400, body=body))
    with pytest.raises(BadRequestError) as info:
        refresh(make_api(token_server))
    exc = info.value
    assert exc.body == body.decode()[:4096]
    assert len(str(exc)) <= 430 and len(repr(exc)) <= 470  # "HTTP 400 " + reason (<= 100) + ": " + 300
    assert str(exc).startswith(f"HTTP 400 Bad Request: code 7: {'m' * 100}") and str(exc).endswith("...")


def test_invalid_2xx_text_is_bounded(token_server: TokenServer) -> None:
    fields = {f"expires_in{'x' * 2000}": 1}
    token_server.enqueue(ok(json.dumps({"access_token": [fields]}).encode()))
    with pytest.raises(InvalidResponseError) as info:
        refresh(make_api(token_server))
    assert len(str(info.value)) <= 360


# -- peak memory, measured in a child process -----------------------------------------------------

CHILD = """
import json, sys
from pinterest_oauth import ApiClient, Configuration, OauthApi, OpenApiException, RetryPolicy

def peak_rss():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))

url, cap = sys.argv[1], int(sys.argv[2])
api = OauthApi(ApiClient(Configuration(host=url, username="1", password="s", max_response_bytes=cap,
                                       retry=RetryPolicy(max_attempts=1))))
api.oauth_token(grant_type="client_credentials", scope="ads:read")  # warm-up: every code path loaded once
baseline = peak_rss()
try:
    api.oauth_token(grant_type="client_credentials", scope="ads:read")
    outcome = "accepted"
except OpenApiException as exc:
    outcome = type(exc).__name__
print(json.dumps({"baseline": baseline, "peak": peak_rss(), "outcome": outcome}))
"""

BIG = 64 * MiB


def big_answer(framing: str, size: int) -> Callable[[int, socket.socket, threading.Event], bool]:
    """A play: a small token answer first (the child's warm-up), then a `size`-byte body."""

    def play(n: int, conn: socket.socket, stop: threading.Event) -> bool:
        if n == 1:
            send(conn, with_length(token_json()))
            return True
        if framing == "gzip":
            bomb = gzip.compress(padded(size), compresslevel=9)
            send(conn, head(200, "Content-Encoding: gzip", f"Content-Length: {len(bomb)}") + bomb)
            return False
        headers = {"content-length": f"Content-Length: {size}", "chunked": "Transfer-Encoding: chunked",
                   "close-delimited": "Connection: close"}[framing]
        send(conn, head(200, headers))
        body = memoryview(padded(size))
        for i in range(0, size, 0x10000):
            piece = bytes(body[i:i + 0x10000])
            send(conn, b"%x\r\n%s\r\n" % (len(piece), piece) if framing == "chunked" else piece)
        if framing == "chunked":
            send(conn, b"0\r\n\r\n")
        return False

    return play


def child_peak(play: Any, cap: int, script: str = CHILD) -> dict[str, Any]:
    """Run `script` (CHILD, or a variant printing the same JSON) against `play`."""
    import subprocess
    import sys

    with RawServer(play) as server:
        done = subprocess.run([sys.executable, "-c", script, server.url, str(cap)],
                              capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)  # type: ignore[no-any-return]


@pytest.mark.parametrize("framing", ["content-length", "chunked", "close-delimited", "gzip"])
def test_peak_memory_stays_near_baseline_on_a_64_mib_body(framing: str) -> None:
    result = child_peak(big_answer(framing, BIG), CAP)
    assert result["outcome"] == "InvalidResponseError"
    assert result["peak"] - result["baseline"] < 8 * MiB


def test_the_memory_measure_sees_a_body_that_is_read() -> None:
    """The control: with the cap raised, the same child reading a 32 MiB body peaks far higher."""
    result = child_peak(big_answer("close-delimited", 32 * MiB), 64 * MiB)
    assert result["outcome"] == "accepted"
    assert result["peak"] - result["baseline"] > 32 * MiB


def declared_oversized(status: int, *headers: str) -> Any:
    def play(n: int, conn: socket.socket, stop: threading.Event) -> bool:
        send(conn, head(status, f"Content-Length: {64 * MiB}", *headers))
        return False
    return play


@pytest.mark.parametrize(("status", "header", "error", "retry_after"), [
    (299, "X-Status: last 2xx", InvalidResponseError, None),
    (300, "X-Status: first 3xx", UnexpectedStatusError, None),
    (400, "Retry-After: 7", BadRequestError, None),  # Retry-After means something on 429 and 503 only
    (429, "Retry-After: 7", RateLimitError, 7.0),
    (503, "Retry-After: 7", ServerError, 7.0),
])
def test_an_oversized_answer_raises_its_statuss_error_with_its_retry_after(
        status: int, header: str, error: type[Exception], retry_after: Optional[float]) -> None:
    with RawServer(declared_oversized(status, header)) as server:
        exc, _ = timed(lambda: call(server, timeouts=Timeouts(total=20)))
    assert type(exc) is error and exc.status == status  # type: ignore[attr-defined]
    assert getattr(exc, "retry_after", None) == retry_after
    assert "the response body is too large: the limit is 1048576 bytes" in str(exc)


def silent(n: int, conn: socket.socket, stop: threading.Event) -> bool:
    stop.wait(PLAY_LIMIT_S)
    return False


def test_a_read_timeout_well_before_the_deadline_does_not_blame_the_deadline() -> None:
    """The read timeout (1.2 s) fires with 0.8 s of the 2 s deadline left: the message says
    the answer did not come, not that the deadline expired (it says that only at the deadline)."""
    with RawServer(silent) as server:
        exc, elapsed = timed(lambda: call(server, timeouts=Timeouts(connect=1, read=1.2, total=2)))
    assert isinstance(exc, RequestTimeoutError), repr(exc)
    assert str(exc).startswith("timed out waiting for the answer from POST http://127.0.0.1:")
    assert "deadline expired" not in str(exc)
    with RawServer(silent) as server:
        exc, elapsed = timed(lambda: call(server, timeouts=Timeouts(connect=1, read=5, total=1.2)))
    assert isinstance(exc, RequestTimeoutError) and "(the call's 1.2 s total deadline expired)" in str(exc)


def test_a_cap_of_one_byte_is_allowed() -> None:
    assert Configuration(max_response_bytes=1).max_response_bytes == 1


def test_the_retry_that_does_not_fit_is_logged_with_the_time_left(token_server: TokenServer,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    token_server.enqueue(Reply(status=503, headers=[("Retry-After", "1")], body=b"{}"), ok())
    api = make_api(token_server, retry=RetryPolicy(max_attempts=3), timeouts=Timeouts(total=0.9))
    with caplog.at_level(logging.DEBUG, logger="pinterest_oauth"):
        exc, _ = timed(lambda: refresh(api))
    assert isinstance(exc, ServerError) and len(token_server.requests) == 1
    [line] = [r.getMessage() for r in caplog.records if "does not fit" in r.getMessage()]
    assert re.search(r": not retrying: a 1\.00 s wait does not fit in the 0\.\d\d s left$", line), line
