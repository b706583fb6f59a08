"""The one module that owns HTTP: timeouts, retries, https-only credentials, redacted logging.

Retry rules (a token request must never be sent twice once the server may have seen it:
authorization codes are single-use and a refresh may already have rotated the refresh token):

- retried: a connection that could not be established (nothing was sent), and 429 / 503
  answers, after the server's Retry-After (seconds or HTTP date) or else a capped
  exponential backoff with full jitter;
- never retried: read timeouts, connections dropped after sending, 500 / 502 / 504.

Logging goes to the `pinterest_oauth` logger at DEBUG: method, URL, status, timing and
redacted headers and body. Switch it on with `Configuration(debug=True)` or the environment
variable `PINTEREST_OAUTH_DEBUG=1`. http.client's own printing is disabled on our connections,
so no setting prints the Authorization header or the form body.
"""

from __future__ import annotations

import email.utils
import ipaddress
import logging
import os
import random
import sys
import time
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence
from urllib.parse import urlsplit

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ReadTimeoutError,
)

from pinterest_oauth.lib import redact
from pinterest_oauth.lib.errors import (
    ConnectionFailedError,
    InsecureTransportError,
    RequestTimeoutError,
    TransportError,
)

logger = logging.getLogger("pinterest_oauth")

DEBUG_ENV = "PINTEREST_OAUTH_DEBUG"


@dataclass(frozen=True)
class Timeouts:
    """Seconds to wait for a connection and, once sent, for the answer."""

    connect: float = 10.0
    read: float = 30.0

    def __post_init__(self) -> None:
        for name in ("connect", "read"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"Timeouts.{name} must be a positive number of seconds")

    def as_urllib3(self) -> urllib3.Timeout:
        return urllib3.Timeout(connect=self.connect, read=self.read)


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to wait before sending a token request again.

    `max_attempts` counts the first try (1 disables retries). A Retry-After longer than
    `max_retry_after` is not waited for: the 429/503 is raised with `retry_after` set.
    """

    max_attempts: int = 3
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    max_retry_after: float = 60.0
    retry_statuses: frozenset[int] = frozenset({429, 503})

    def __post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise ValueError("RetryPolicy.max_attempts must be an integer >= 1")
        if self.backoff_base < 0 or self.backoff_max < 0 or self.max_retry_after < 0:
            raise ValueError("RetryPolicy delays must not be negative")

    def backoff(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Full-jitter exponential backoff before retry number `attempt` (1-based)."""
        return rand() * min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))


NO_RETRIES = RetryPolicy(max_attempts=1)


def parse_retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now())


class _QuietHTTPConnection(HTTPConnection):
    """An HTTP connection that ignores http.client's process-wide debug printing."""

    @property  # type: ignore[override]
    def debuglevel(self) -> int:
        return 0

    @debuglevel.setter
    def debuglevel(self, value: int) -> None:
        pass


class _QuietHTTPSConnection(HTTPSConnection):
    """An HTTPS connection that ignores http.client's process-wide debug printing."""

    debuglevel = _QuietHTTPConnection.debuglevel  # type: ignore[assignment]


class _QuietHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _QuietHTTPConnection


class _QuietHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _QuietHTTPSConnection


QUIET_POOL_CLASSES = {"http": _QuietHTTPConnectionPool, "https": _QuietHTTPSConnectionPool}


def silence_http_client_debug(pool_manager: urllib3.PoolManager) -> None:
    """Make `pool_manager` open only connections that never print headers or bodies."""
    pool_manager.pool_classes_by_scheme = dict(QUIET_POOL_CLASSES)  # type: ignore[assignment]


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_secure_url(url: str, allow_insecure_http: bool) -> None:
    """Refuse to send credentials anywhere but https, loopback, or an explicit opt-in."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return
    if parts.scheme == "http" and (allow_insecure_http or is_loopback(parts.hostname or "")):
        return
    raise InsecureTransportError(
        f"refusing to send client credentials to {parts.scheme}://{parts.hostname}: "
        "use https, or set Configuration(allow_insecure_http=True) to opt in"
    )


def debug_enabled_by_env() -> bool:
    """True when PINTEREST_OAUTH_DEBUG asks for the package's redacted debug log."""
    return os.environ.get(DEBUG_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def enable_debug_logging() -> None:
    """Send the package's redacted DEBUG log to stderr (idempotent)."""
    logger.setLevel(logging.DEBUG)
    if not any(getattr(h, "_pinterest_oauth", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        handler._pinterest_oauth = True  # type: ignore[attr-defined]
        logger.addHandler(handler)


def disable_debug_logging() -> None:
    """Undo `enable_debug_logging`."""
    logger.setLevel(logging.NOTSET)
    for handler in [h for h in logger.handlers if getattr(h, "_pinterest_oauth", False)]:
        logger.removeHandler(handler)


if debug_enabled_by_env():
    enable_debug_logging()


def send(
    pool: urllib3.PoolManager,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    fields: Sequence[tuple[str, str]],
    timeouts: Timeouts,
    retry: RetryPolicy,
    sleep: Callable[[float], None] = time.sleep,
) -> urllib3.BaseHTTPResponse:
    """POST `body` to `url` under the retry rules above; return the final response.

    `fields` are the form fields, used only for the redacted debug log.
    Raises ConnectionFailedError / RequestTimeoutError (TransportError).
    """
    timeout = timeouts.as_urllib3()
    debug = logger.isEnabledFor(logging.DEBUG)
    attempt = 1
    while True:
        if debug:
            logger.debug(
                "POST %s attempt %d headers=%s form=%s",
                url, attempt, redact.redact_headers(headers), redact.redact_fields(fields),
            )
        started = time.perf_counter()
        try:
            response = pool.urlopen(
                "POST", url, body=body, headers=headers, retries=False,
                redirect=False, timeout=timeout, preload_content=True,
            )
        except (NewConnectionError, ConnectTimeoutError) as exc:
            # Nothing reached the server: safe to try again.
            if attempt < retry.max_attempts:
                delay = retry.backoff(attempt)
                _log_retry(debug, url, attempt, f"connection failed ({type(exc).__name__})", delay)
                sleep(delay)
                attempt += 1
                continue
            raise _transport_error(exc, url, request_sent=False) from None
        except (HTTPError, OSError) as exc:
            raise _transport_error(exc, url, request_sent=True) from None
        elapsed_ms = (time.perf_counter() - started) * 1000
        if debug:
            logger.debug(
                "POST %s -> %d in %.1f ms headers=%s body=%s",
                url, response.status, elapsed_ms, redact.redact_headers(dict(response.headers)),
                redact.redact_json_text(response.data.decode("utf-8", "replace")),
            )
        if response.status in retry.retry_statuses and attempt < retry.max_attempts:
            wait = parse_retry_after(response.headers.get("Retry-After"))
            if wait is None:
                wait = retry.backoff(attempt)
            if wait <= retry.max_retry_after:
                _log_retry(debug, url, attempt, f"HTTP {response.status}", wait)
                sleep(wait)
                attempt += 1
                continue
        return response


def _log_retry(debug: bool, url: str, attempt: int, why: str, delay: float) -> None:
    if debug:
        logger.debug("POST %s attempt %d: %s; retrying in %.2f s", url, attempt, why, delay)


def _transport_error(exc: BaseException, url: str, *, request_sent: bool) -> TransportError:
    """Translate a urllib3/socket failure into the package's own exception, without secrets."""
    where = urlsplit(url)
    target = f"{where.scheme}://{where.netloc}{where.path}"
    if isinstance(exc, (ReadTimeoutError, ConnectTimeoutError, TimeoutError)) and not isinstance(
        exc, NewConnectionError
    ):
        phase = "reading the answer" if request_sent else "connecting"
        return RequestTimeoutError(
            f"timed out {phase} from POST {target}"
            + ("; not retried, the server may have processed the request" if request_sent else ""),
            request_sent=request_sent,
        )
    detail = type(exc).__name__
    reason = getattr(exc, "reason", None) or (exc.args[0] if exc.args else None)
    if isinstance(reason, BaseException):
        detail = f"{detail}: {type(reason).__name__}"
    return ConnectionFailedError(
        f"connection to {target} failed ({detail})"
        + ("; not retried, the server may have processed the request" if request_sent else ""),
        request_sent=request_sent,
    )
