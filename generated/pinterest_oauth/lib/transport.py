"""The one module that owns HTTP: timeouts, retries, https-only credentials, redacted logging.

Retry rules (a token request must never be sent twice once the server may have seen it:
authorization codes are single-use and a refresh may already have rotated the refresh token):

- retried: a connection that could not be established (refused, DNS failure, connect
  timeout, proxy unreachable: nothing was sent), and 429 / 503 answers, after the server's
  Retry-After (seconds or HTTP date; a longer wait than `RetryPolicy.max_retry_after` is not
  made, the error is raised instead) or else a capped exponential backoff with full jitter;
- never retried: read timeouts, connections dropped after sending, TLS failures, 500 / 502 / 504
  and every other status.

Bounds: every call has a total deadline (`Timeouts.total`) covering connect, send, the wait
for the answer, reading it, and every retry's sleep; a retry is not started unless its wait
plus `MIN_ATTEMPT_S` fits before the deadline. Connections made through a pool manager
prepared by `silence_http_client_debug` read the answer through `_DeadlineReader`, which caps
each socket read at the time left, so a server sending one byte at a time cannot stretch a
call. The answer's body is read up to `max_body` bytes (after decompression); a longer one is
not read further, its connection is closed, and the call fails saying the body was too large.

Logging goes to the `pinterest_oauth` logger at DEBUG: method, URL, status, timing and
redacted headers and body. Switch it on with `Configuration(debug=True)` or the environment
variable `PINTEREST_OAUTH_DEBUG=1` (read at import), or configure the logger yourself.
http.client's own printing is disabled on our connections, so no setting (not even the
generated `Configuration.debug`, which sets it process-wide) prints headers or the form body.
"""

from __future__ import annotations

import email.utils
import http.client
import io
import ipaddress
import logging
import math
import os
import random
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from http.client import HTTPException
from typing import Any, Callable, Mapping, Optional, Sequence, Union
from urllib.parse import urlsplit

import urllib3
from urllib3.exceptions import (
    ClosedPoolError,
    ConnectTimeoutError,
    DecodeError,
    HTTPError,
    NewConnectionError,
    ProxyError,
    ReadTimeoutError,
    SSLError,
)

from pinterest_oauth.exceptions import ApiTypeError, ApiValueError
from pinterest_oauth.lib import errors, redact
from pinterest_oauth.lib.errors import (
    ConnectionFailedError,
    InsecureTransportError,
    RequestTimeoutError,
    TransportError,
)

logger = logging.getLogger("pinterest_oauth")

DEBUG_ENV = "PINTEREST_OAUTH_DEBUG"


def _positive_seconds(owner: str, name: str, value: Any, *, allow_zero: bool = False) -> None:
    ok = (
        not isinstance(value, bool)
        and isinstance(value, (int, float))
        and math.isfinite(value)
        and (value >= 0 if allow_zero else value > 0)
    )
    if not ok:
        kind = "a non-negative" if allow_zero else "a positive"
        raise ApiValueError(f"{owner}.{name} must be {kind} finite number of seconds, got {value!r}")


@dataclass(frozen=True, init=False)
class Timeouts:
    """How long a call may take, in seconds; keywords only.

    `connect`: to establish a connection (default 10). `read`: for each read of the answer,
    i.e. the longest silence tolerated (default 30). `total`: the whole call, retries and their
    waits included, whatever the server does (default 60); `connect` and `read` are cut to
    what is left of it. `Timeouts(5)` is refused (it would read as "5 seconds in all"): plain
    seconds, `timeout=5`, mean `Timeouts(connect=5, read=5, total=5)`.
    """

    connect: float = 10.0
    read: float = 30.0
    total: float = 60.0

    def __init__(self, *args: Any, connect: float = 10.0, read: float = 30.0, total: float = 60.0) -> None:
        if args:
            raise ApiTypeError(
                "Timeouts takes keywords: Timeouts(connect=..., read=..., total=...); to bound the "
                "whole call pass plain seconds instead (timeout=5 means Timeouts(connect=5, read=5, total=5))"
            )
        object.__setattr__(self, "connect", connect)
        object.__setattr__(self, "read", read)
        object.__setattr__(self, "total", total)
        self.__post_init__()

    def __post_init__(self) -> None:
        _positive_seconds("Timeouts", "connect", self.connect)
        _positive_seconds("Timeouts", "read", self.read)
        _positive_seconds("Timeouts", "total", self.total)
        object.__setattr__(self, "_urllib3", urllib3.Timeout(connect=self.connect, read=self.read))
        object.__setattr__(self, "_longest", max(self.connect, self.read))

    def as_urllib3(self, remaining: Optional[float] = None) -> urllib3.Timeout:
        """urllib3's connect / read timeouts, each cut to `remaining` seconds if given."""
        if remaining is None or remaining >= self._longest:  # type: ignore[attr-defined]
            return self._urllib3  # type: ignore[attr-defined, no-any-return]
        remaining = max(remaining, 0.001)
        return urllib3.Timeout(connect=min(self.connect, remaining), read=min(self.read, remaining))


#: What `timeout=` / `timeouts=` accept: `Timeouts`, seconds (the whole call), (connect, read) or (connect, read, total).
TimeoutArg = Union[Timeouts, float, "tuple[float, float]", "tuple[float, float, float]", None]


def coerce_timeouts(value: Any, default: Timeouts) -> Timeouts:
    """`Timeouts`; seconds (connect, read and total all that long: the call takes at most
    that); a (connect, read) pair (total: the default 60 s); a (connect, read, total)
    triple; None means `default`."""
    if value is None:
        return default
    if isinstance(value, Timeouts):
        return value
    if isinstance(value, tuple) and len(value) == 2:
        return Timeouts(connect=value[0], read=value[1])
    if isinstance(value, tuple) and len(value) == 3:
        return Timeouts(connect=value[0], read=value[1], total=value[2])
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Timeouts(connect=value, read=value, total=value)
    raise ApiValueError("timeout must be Timeouts, seconds, a (connect, read) pair or a "
                        "(connect, read, total) triple")


#: Default cap on a response body, in bytes after decompression (a token answer is < 1 KiB).
DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024


def check_max_response_bytes(value: Any) -> int:
    """`value` if it is a usable body cap (an int >= 1), else ApiValueError."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ApiValueError(f"max_response_bytes must be an integer >= 1, got {value!r}")
    return value


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to wait before sending a token request again.

    `max_attempts` counts the first try (1 disables retries). Without a Retry-After, retry n
    waits a random time in [0, min(backoff_max, backoff_base * 2**(n-1))]. A Retry-After longer
    than `max_retry_after` is not waited for: the 429/503 is raised with `retry_after` set.
    `sleep` and `rand` are injectable for tests (the async client awaits what `sleep`
    returns if it is awaitable; with the default it waits with the event loop's sleep).
    """

    max_attempts: int = 3
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    max_retry_after: float = 30.0
    retry_statuses: frozenset[int] = frozenset({429, 503})
    sleep: Callable[[float], object] = field(default=time.sleep, repr=False, compare=False)
    rand: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    def __post_init__(self) -> None:
        attempts = self.max_attempts
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
            raise ApiValueError(f"RetryPolicy.max_attempts must be an integer >= 1, got {attempts!r}")
        for name in ("backoff_base", "backoff_max", "max_retry_after"):
            _positive_seconds("RetryPolicy", name, getattr(self, name), allow_zero=True)
        if not self.retry_statuses <= {429, 503}:
            raise ApiValueError("RetryPolicy.retry_statuses may only hold 429 and 503: other "
                                "statuses may mean the request was processed")
        object.__setattr__(self, "retry_statuses", frozenset(self.retry_statuses))

    def backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff before retry number `attempt` (1-based)."""
        return float(self.rand() * min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1)))


#: A policy that never retries.
NO_RETRIES = RetryPolicy(max_attempts=1)


def parse_retry_after(value: Optional[str], now: Callable[[], float] = time.time) -> Optional[float]:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        digits = value.lstrip("0")  # a bounded prefix of the significant digits: huge values clamp
        return float(min(int(digits[:12] or "0"), 10**9))
    try:
        when = email.utils.parsedate_to_datetime(value)
        if when is None or when.tzinfo is None:
            return None
        return max(0.0, when.timestamp() - now())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


# -- connections that never print -------------------------------------------------------

def _no_debuglevel(self: object) -> int:
    return 0


def _ignore_debuglevel(self: object, value: int) -> None:
    pass


_quiet_pool_classes: dict[type, type] = {}
_QUIET_POOLS: set[type] = set()


def _quiet_pool_class(pool_cls: type) -> type:
    """A subclass of `pool_cls` whose connections ignore http.client's debuglevel (which the
    generated Configuration.debug sets process-wide and which prints headers and bodies)."""
    if pool_cls in _QUIET_POOLS:
        return pool_cls
    quiet = _quiet_pool_classes.get(pool_cls)
    if quiet is None:
        conn_cls = pool_cls.ConnectionCls  # type: ignore[attr-defined]
        quiet_conn = type(f"Quiet{conn_cls.__name__}", (conn_cls,), {
            "debuglevel": property(_no_debuglevel, _ignore_debuglevel),
            "response_class": _BoundedHTTPResponse,
            "__module__": __name__,
        })
        quiet = type(f"Quiet{pool_cls.__name__}", (pool_cls,), {
            "ConnectionCls": quiet_conn, "__module__": __name__,
        })
        _quiet_pool_classes[pool_cls] = quiet
        _QUIET_POOLS.add(quiet)
    return quiet


def silence_http_client_debug(pool_manager: urllib3.PoolManager) -> None:
    """Make `pool_manager` (plain, proxy or SOCKS) open only connections that never print and
    whose answers, inside `send`, are read under the call's deadline (`_DeadlineReader`)."""
    pool_manager.pool_classes_by_scheme = {
        scheme: _quiet_pool_class(cls) for scheme, cls in pool_manager.pool_classes_by_scheme.items()
    }


# -- reading under a deadline -----------------------------------------------------------

# (deadline on the time.monotonic clock, read timeout) of the `send` running in this thread.
_CALL = threading.local()


class _DeadlineReader(io.RawIOBase):
    """The raw stream an answer is read from: before each socket read, the socket's timeout
    is set to the time left before the deadline (at most the read timeout). A socket timeout
    alone restarts on every read, so a server dribbling bytes could hold a call forever."""

    def __init__(self, sock: socket.socket, deadline: float, read: float) -> None:
        super().__init__()
        self._sock = sock
        self._raw = sock.makefile("rb", buffering=0)  # counts as an open file of the socket
        self._deadline = deadline
        self._read = read

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> Optional[int]:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("the call's total deadline expired")
        self._sock.settimeout(left if left < self._read else self._read)
        return self._raw.readinto(buffer)

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


class _DeadlineSocket:
    """Stands in for the socket when http.client opens its reader (`makefile`)."""

    __slots__ = ("_sock", "_bound")

    def __init__(self, sock: socket.socket, bound: tuple[float, float]) -> None:
        self._sock = sock
        self._bound = bound

    def makefile(self, mode: str = "rb") -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self._sock, *self._bound))


class _BoundedHTTPResponse(http.client.HTTPResponse):
    """http.client's response, reading under the deadline of the `send` in this thread (the
    CONNECT answer of a proxy tunnel too); outside `send`, exactly http.client's."""

    def __init__(self, sock: Any, debuglevel: int = 0, method: Optional[str] = None,
                 url: Optional[str] = None) -> None:
        bound = getattr(_CALL, "bound", None)
        if bound is not None and isinstance(sock, socket.socket):
            sock = _DeadlineSocket(sock, bound)
        super().__init__(sock, debuglevel, method, url)


# -- https only ------------------------------------------------------------------------

def is_loopback(host: str) -> bool:
    """True for `localhost` and loopback address literals (127.0.0.0/8, ::1)."""
    host = host.strip("[]").lower().rstrip(".")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_checked_urls: dict[tuple[str, bool], str] = {}


def check_secure_url(url: str, allow_insecure_http: bool) -> str:
    """Refuse to send credentials anywhere but https, loopback, or an explicit opt-in.

    Returns the URL as it may be shown (no userinfo, query or fragment); results are cached.
    """
    key = (url, allow_insecure_http)
    shown = _checked_urls.get(key)
    if shown is not None:
        return shown
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ApiValueError("Configuration.host is not a valid URL") from None
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host:
        raise ApiValueError(
            f"Configuration.host must be an http(s) URL with a host, got scheme {parts.scheme!r}"
        )
    netloc = f"[{host}]" if ":" in host else host
    shown = f"{parts.scheme}://{netloc}{f':{port}' if port is not None else ''}{parts.path}"
    if parts.scheme == "http" and not (allow_insecure_http or is_loopback(host)):
        raise InsecureTransportError(
            f"refusing to send client credentials over plain http to {netloc}: use https, "
            "or opt in with Configuration(allow_insecure_http=True)"
        )
    if len(_checked_urls) < 256:
        _checked_urls[key] = shown
    return shown


# -- debug logging ---------------------------------------------------------------------

def debug_enabled_by_env() -> bool:
    """True when PINTEREST_OAUTH_DEBUG asks for the package's redacted debug log."""
    return os.environ.get(DEBUG_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def enable_debug_logging(source: str = "config") -> None:
    """Send the package's redacted DEBUG log to stderr (idempotent). `source` names who asked
    ("config" for Configuration.debug, "env" for PINTEREST_OAUTH_DEBUG)."""
    ours = [h for h in logger.handlers if getattr(h, "_pinterest_oauth", None)]
    if not ours:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        handler._pinterest_oauth = {source}  # type: ignore[attr-defined]
        handler._previous_level = logger.level  # type: ignore[attr-defined]
        logger.addHandler(handler)
    else:
        ours[0]._pinterest_oauth.add(source)  # type: ignore[attr-defined]
    logger.setLevel(logging.DEBUG)


def disable_debug_logging(source: str = "config") -> None:
    """Withdraw `source`'s request for the debug log; when nobody asks any more, remove the
    handler and restore the logger's earlier level. `disable_debug_logging("all")` forces it."""
    for handler in [h for h in logger.handlers if getattr(h, "_pinterest_oauth", None)]:
        sources = handler._pinterest_oauth  # type: ignore[attr-defined]
        if source == "all":
            sources.clear()
        else:
            sources.discard(source)
        if not sources:
            logger.removeHandler(handler)
            logger.setLevel(handler._previous_level)  # type: ignore[attr-defined]


class _Urllib3Scrubber(logging.Filter):
    """Keeps server-sent bytes out of urllib3's own log records: its "Failed to parse headers"
    warning quotes unparsed response headers (and attaches a traceback that does too); any
    token-shaped word in its other records is masked. Runs only when urllib3 emits a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == "Failed to parse headers (url=%s): %s" and record.args:
            url = record.args[0] if isinstance(record.args, tuple) else "?"
            record.msg = "Failed to parse headers (url=%s): malformed response headers (content hidden)"
            record.args = (url,)
            record.exc_info = record.exc_text = None
            return True
        text = record.getMessage()
        scrubbed = redact.scrub(text)
        if scrubbed != text:
            record.msg, record.args = scrubbed, ()
        return True


_URLLIB3_SCRUBBER = _Urllib3Scrubber()
for _name in ("urllib3.connection", "urllib3.connectionpool", "urllib3.response", "urllib3.poolmanager",
              "urllib3.util.retry"):
    logging.getLogger(_name).addFilter(_URLLIB3_SCRUBBER)

if debug_enabled_by_env():
    enable_debug_logging("env")


# -- sending ---------------------------------------------------------------------------

_POOLS = "_pinterest_oauth_pools"


def _open(manager: urllib3.PoolManager, url: str, **kw: Any) -> Any:
    """`manager.urlopen("POST", url, **kw)`, minus the per-call pool lookup.

    For a plain PoolManager the host's connection pool and the request path are cached on
    the manager (keyed by URL, at most 16), which is what `PoolManager.urlopen` would
    resolve on every call. A cached pool closed by `close_pools` (even by another thread,
    mid-call) raises ClosedPoolError before anything is sent; it is then looked up again.
    Proxy managers (they add proxy headers) and managers whose `urlopen` was wrapped on the
    instance (as `scripts/record.py` does) go through their own `urlopen`.
    """
    if type(manager) is not urllib3.PoolManager or "urlopen" in manager.__dict__:
        return manager.urlopen("POST", url, **kw)
    for _ in range(3):
        cache: dict[str, tuple[Any, str]] = manager.__dict__.setdefault(_POOLS, {})
        entry = cache.get(url)
        if entry is None:
            if len(cache) >= 16:
                cache.clear()
            entry = (manager.connection_from_url(url), urllib3.util.parse_url(url).request_uri)
            cache[url] = entry
        pool, path = entry
        try:
            return pool.urlopen("POST", path, assert_same_host=False, **kw)
        except ClosedPoolError:
            cache.pop(url, None)
    return manager.urlopen("POST", url, **kw)


def close_pools(manager: urllib3.PoolManager) -> None:
    """Close every pooled connection of `manager` (urllib3 2.x `clear()` only forgets them,
    leaving their sockets open until garbage collection); the manager stays usable."""
    cached = list(manager.__dict__.pop(_POOLS, {}).values())  # one C call: safe if a caller adds
    pools = [pool for pool, _ in cached]
    for key in manager.pools.keys():
        pool = manager.pools.get(key)
        if pool is not None:
            pools.append(pool)
    manager.clear()
    for pool in pools:
        pool.close()


class Exchange:
    """The final answer: status, reason, headers and the whole body."""

    __slots__ = ("status", "reason", "headers", "data")

    def __init__(self, status: int, reason: Optional[str], headers: Any, data: bytes) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.data = data


class BodyDecodeError(Exception):
    """The body could not be decoded (bad Content-Encoding); carries the status."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class _BodyTooLarge(Exception):
    """The body is longer than the cap; `declared` is its Content-Length if that said so."""

    def __init__(self, declared: Optional[int]) -> None:
        super().__init__(declared)
        self.declared = declared


#: A retry starts only if at least this many seconds of the deadline are left after its wait.
MIN_ATTEMPT_S = 0.5

_READ_CHUNK = 64 * 1024


def _read_body(response: Any, max_body: int) -> bytes:
    """The whole decoded body; _BodyTooLarge once it is known to exceed `max_body` bytes."""
    length = response.length_remaining  # None: chunked or close-delimited
    if length is not None:
        if length > max_body:
            raise _BodyTooLarge(length)
        if "content-encoding" not in response.headers:
            return response.data  # type: ignore[no-any-return]  # `length` bytes; cached for urlopen wrappers
    parts = []
    size = 0
    while True:  # urllib3 decompresses at most the amount asked for: a bomb stays small
        chunk = response.read(min(_READ_CHUNK, max_body + 1 - size))
        if not chunk:
            break
        size += len(chunk)
        if size > max_body:
            raise _BodyTooLarge(None)
        parts.append(chunk)
    data = b"".join(parts)
    response._body = data  # what `response.data` caches, for wrappers of urlopen
    return data


def send(
    pool: urllib3.PoolManager,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    fields: Sequence[tuple[str, str]],
    timeouts: Timeouts,
    retry: RetryPolicy,
    secrets: Sequence[Optional[str]] = (),
    shown_url: Optional[str] = None,
    *,
    max_body: int = DEFAULT_MAX_RESPONSE_BYTES,
) -> Exchange:
    """POST `body` to `url` under the retry rules and bounds above; return the final answer.

    The call ends within `timeouts.total` seconds (plus scheduling delays); the answer's body
    is at most `max_body` bytes after decoding. `fields` (the form) and `secrets` serve only
    the redacted debug log; `shown_url` is the URL as it may appear in logs and messages.
    Raises ConnectionFailedError / RequestTimeoutError (TransportError); for a body over
    `max_body`, InvalidResponseError (2xx) or the status's PinterestApiError; BodyDecodeError
    for an undecodable body.
    """
    deadline = time.monotonic() + timeouts.total
    if pool.pool_classes_by_scheme.get("https") not in _QUIET_POOLS:  # dribbled bytes would escape the deadline
        silence_http_client_debug(pool)
    _CALL.bound = (deadline, timeouts.read)
    try:
        return _send(pool, url, body, headers, fields, timeouts, retry, secrets, shown_url or url,
                     max_body, deadline)
    finally:
        _CALL.bound = None


def _send(
    pool: urllib3.PoolManager,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    fields: Sequence[tuple[str, str]],
    timeouts: Timeouts,
    retry: RetryPolicy,
    secrets: Sequence[Optional[str]],
    shown: str,
    max_body: int,
    deadline: float,
) -> Exchange:
    debug = logger.isEnabledFor(logging.DEBUG)
    attempt = 1
    while True:
        remaining = deadline - time.monotonic()
        if debug:
            log_attempt(shown, attempt, headers, fields, timeouts, retry)
        started = time.perf_counter()
        failure: Optional[TransportError] = None
        retryable = False
        try:
            response = _open(
                pool, url, body=body, headers=headers, retries=False, redirect=False,
                timeout=timeouts.as_urllib3(remaining), preload_content=False, decode_content=True,
            )
            try:
                data = _read_body(response, max_body)
            except BaseException as exc:
                response.close()  # the rest of the answer is never read: do not reuse the connection
                if isinstance(exc, DecodeError):
                    raise BodyDecodeError(response.status) from None
                raise
            finally:
                response.release_conn()
        except (NewConnectionError, ConnectTimeoutError, ProxyError) as exc:
            # The connection was never established: nothing reached the server.
            failure = _transport_error(exc, shown, request_sent=False, deadline=(deadline, timeouts.total))
            retryable = True
        except BodyDecodeError:
            raise
        except _BodyTooLarge as exc:
            raise too_large(response.status, response.reason, response.headers, exc.declared, max_body,
                            secrets) from None
        except (HTTPError, HTTPException, OSError, ValueError) as exc:
            failure = _transport_error(exc, shown, request_sent=True, deadline=(deadline, timeouts.total))
        if failure is not None:
            wait = wait_after_failure(failure, retryable, retry, attempt, deadline, debug, shown, started)
            if wait is None:
                raise failure
        else:
            if debug:
                log_answer(shown, response.status, response.reason, response.headers, data, secrets, started)
            wait = wait_after_status(response.status, response.headers, retry, attempt, deadline, debug, shown)
            if wait is None:
                return Exchange(response.status, response.reason, response.headers, data)
        retry.sleep(wait)
        attempt += 1


# -- the retry decisions and log lines (shared with the async transport, aio_transport) --

def log_attempt(shown: str, attempt: int, headers: Mapping[str, str], fields: Sequence[tuple[str, str]],
                timeouts: Timeouts, retry: RetryPolicy) -> None:
    logger.debug(
        "POST %s attempt %d/%d timeouts=(%g, %g, %g) headers=%s form=%s",
        shown, attempt, retry.max_attempts, timeouts.connect, timeouts.read, timeouts.total,
        redact.redact_headers(headers), redact.redact_fields(fields),
    )


def log_answer(shown: str, status: int, reason: Optional[str], headers: Any, data: bytes,
               secrets: Sequence[Optional[str]], started: float) -> None:
    logger.debug(
        "POST %s -> %d %s in %.1f ms headers=%s body=%s",
        shown, status, redact.scrub(reason or "", secrets),
        (time.perf_counter() - started) * 1000,
        redact.scrub(repr(redact.redact_headers(headers)), secrets),
        redact.redact_body_text(data.decode("utf-8", "replace"), secrets),
    )


def wait_after_failure(failure: TransportError, retryable: bool, retry: RetryPolicy, attempt: int,
                       deadline: float, debug: bool, shown: str, started: float) -> Optional[float]:
    """Seconds to wait before trying again after `failure`, or None: raise it. Only a
    connection that was never established (`retryable`) is tried again."""
    if debug:
        logger.debug("POST %s attempt %d failed after %.1f ms: %s", shown, attempt,
                     (time.perf_counter() - started) * 1000, failure)
    if not retryable or attempt >= retry.max_attempts:
        return None
    delay = retry.backoff(attempt)
    if not _fits(deadline, delay):
        _log_no_time(debug, shown, delay, deadline)
        return None
    _log_retry(debug, shown, attempt, "connection failed", delay)
    return delay


def wait_after_status(status: int, headers: Any, retry: RetryPolicy, attempt: int, deadline: float,
                      debug: bool, shown: str) -> Optional[float]:
    """Seconds to wait before sending again after an answer with `status` (429 / 503: the
    Retry-After, else the backoff), or None: the answer is final."""
    if status not in retry.retry_statuses or attempt >= retry.max_attempts:
        return None
    wait = parse_retry_after(headers.get("Retry-After"))
    if wait is None:
        wait = retry.backoff(attempt)
    if wait > retry.max_retry_after:
        if debug:
            logger.debug("POST %s: Retry-After %.0f s exceeds max_retry_after %.0f s; "
                         "not retrying", shown, wait, retry.max_retry_after)
        return None
    if not _fits(deadline, wait):
        _log_no_time(debug, shown, wait, deadline)
        return None
    _log_retry(debug, shown, attempt, f"HTTP {status}", wait)
    return wait


def _fits(deadline: float, wait: float) -> bool:
    """Whether a retry after `wait` seconds still leaves MIN_ATTEMPT_S before the deadline."""
    return time.monotonic() + wait + MIN_ATTEMPT_S <= deadline


def _log_no_time(debug: bool, url: str, wait: float, deadline: float) -> None:
    if debug:
        logger.debug("POST %s: not retrying: a %.2f s wait does not fit in the %.2f s left",
                     url, wait, max(0.0, deadline - time.monotonic()))


def too_large(status: int, reason: Optional[str], headers: Any, declared: Optional[int], max_body: int,
              secrets: Sequence[Optional[str]]) -> Exception:
    """The error for an answer whose body is over the cap: InvalidResponseError for a 2xx,
    else the status's own error class (with `body` None)."""
    size = f"{declared} bytes (Content-Length)" if declared is not None else "larger than that"
    problem = (f"the response body is too large: the limit is {max_body} bytes "
               f"(max_response_bytes), the body is {size}; it was not read")
    if 200 <= status <= 299:
        return errors.InvalidResponseError(problem, status=status)
    retry_after = None
    if status == 429 or status == 503:
        retry_after = parse_retry_after(headers.get("Retry-After"))
    return errors.error_class_for(status)(
        status=status,
        reason=redact.scrub(reason, secrets) if reason else None,
        headers=headers,
        retry_after=retry_after,
        summary=problem,
    )


def _log_retry(debug: bool, url: str, attempt: int, why: str, delay: float) -> None:
    if debug:
        logger.debug("POST %s attempt %d: %s; retrying in %.2f s", url, attempt, why, delay)


_MAY_HAVE_BEEN_PROCESSED = "; not retried: the server may have processed the request"


def _transport_error(exc: BaseException, url: str, *, request_sent: bool,
                     deadline: Optional[tuple[float, float]] = None) -> TransportError:
    """Translate a urllib3/socket failure into the package's own exception (see `failure`)."""
    if isinstance(exc, ConnectTimeoutError) and not isinstance(exc, NewConnectionError):
        kind = "connect_timeout"
    elif isinstance(exc, (ReadTimeoutError, TimeoutError)):
        kind = "read_timeout"
    elif isinstance(exc, SSLError):
        kind = "tls"
    else:
        kind = "broken" if request_sent else "connect"
    return failure(kind, exc, url, deadline)


def failure(kind: str, exc: BaseException, url: str,
            deadline: Optional[tuple[float, float]] = None) -> TransportError:
    """The package's exception for a failed attempt, without secrets (both transports).

    `kind`: "connect_timeout", "pool_timeout" (no free pooled connection in time),
    "read_timeout", "tls", "connect" (never established) or "broken" (after sending).
    Only exception type names (and, for TLS, the local OpenSSL reason) go into the message:
    HTTP libraries' texts can quote bytes the server sent. `deadline` is the call's
    (monotonic deadline, total seconds): a timeout at the deadline says so.
    """
    expired = ""
    if deadline is not None and time.monotonic() >= deadline[0] - 0.01:
        expired = f" (the call's {deadline[1]:g} s total deadline expired)"
    if kind == "connect_timeout":
        return RequestTimeoutError(f"timed out connecting to {url}{expired}", request_sent=False)
    if kind == "pool_timeout":
        return RequestTimeoutError(f"timed out waiting for a free connection to {url}{expired}",
                                   request_sent=False)
    if kind == "read_timeout":
        return RequestTimeoutError(
            f"timed out waiting for the answer from POST {url}{expired}{_MAY_HAVE_BEEN_PROCESSED}",
            request_sent=True,
        )
    chain = _causes(exc)
    detail = ": ".join(type(e).__name__ for e in chain)
    if kind == "tls":
        verify = next((v for v in (getattr(e, "verify_message", None) for e in chain) if isinstance(v, str)), None)
        if verify:
            detail += f" ({verify})"
        return ConnectionFailedError(f"TLS with {url} failed ({detail}){_MAY_HAVE_BEEN_PROCESSED}",
                                     request_sent=True)
    if kind == "connect":
        return ConnectionFailedError(f"could not connect to {url} ({detail})", request_sent=False)
    return ConnectionFailedError(
        f"connection to {url} broke before a complete answer ({detail}){_MAY_HAVE_BEEN_PROCESSED}",
        request_sent=True,
    )


def _causes(exc: BaseException) -> list[BaseException]:
    """`exc` and the errors it wraps (urllib3 `reason`, a trailing exception argument, or
    the chained cause), at most four deep."""
    chain = [exc]
    while len(chain) < 4:
        cur = chain[-1]
        nxt = getattr(cur, "reason", None)
        if not isinstance(nxt, BaseException):
            nxt = cur.args[-1] if cur.args and isinstance(cur.args[-1], BaseException) else None
        if nxt is None:
            nxt = cur.__cause__ or cur.__context__
        if nxt is None or nxt in chain:
            break
        chain.append(nxt)
    return chain
