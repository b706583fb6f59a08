"""The async transport: `transport`'s rules, on httpx2 (asyncio or trio, through anyio).

Everything that is not I/O comes from `transport`: `Timeouts`, `RetryPolicy`, Retry-After
parsing, the retry decisions (`wait_after_failure`, `wait_after_status`), the https-only
check, the too-large error and the redacted log lines. So the rules are the sync client's:

- retried: a connection never established (refused, DNS, connect timeout, no free pooled
  connection in time: nothing was sent) and 429 / 503 (Retry-After, else backoff), waiting
  with `anyio.sleep` (`asyncio.sleep` under asyncio) unless the policy's `sleep` was replaced;
- never retried: read timeouts, connections dropped after sending, TLS failures, other statuses;
- a total deadline (`Timeouts.total`) over the whole call, retries included: a cancel scope
  around each attempt, so a server dribbling bytes cannot stretch a call;
- the body is read raw and decoded here (gzip / deflate), at most `max_body` bytes after
  decoding, never more than one 64 KiB step at a time: a bomb stays small; a longer body is
  not read further and its connection is closed, not reused.

httpx2's own environment handling is off (`trust_env=False`: no proxy or netrc from the
environment, as with the sync client); `Configuration.proxy`, `verify_ssl`, `ssl_ca_cert`,
`cert_file` / `key_file` are honoured.
"""

from __future__ import annotations

import functools
import inspect
import logging
import ssl
import time
import zlib
from typing import Any, Mapping, Optional, Sequence
from urllib.parse import urlsplit, urlunsplit

try:
    import anyio
    import httpx2
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        "pinterest_oauth.aio needs the optional async dependencies: "
        'pip install "pinterest-oauth-sdk[async]"',
        name=exc.name,
    ) from exc

from urllib3 import HTTPHeaderDict

from pinterest_oauth.lib import redact, transport
from pinterest_oauth.lib.errors import TransportError
from pinterest_oauth.lib.transport import (
    DEFAULT_MAX_RESPONSE_BYTES,
    BodyDecodeError,
    Exchange,
    RetryPolicy,
    Timeouts,
)

logger = transport.logger

_READ_CHUNK = 64 * 1024
#: A cancel scope ends an attempt this long after httpx's own (connect / read) timeouts would.
_GRACE_S = 0.05


class _HttpxScrubber(logging.Filter):
    """Scrubs httpx2's and httpcore2's own log records: the answers' headers httpcore2 logs at
    DEBUG are hidden, and any token-shaped word is masked. (URLs reach httpx2 without userinfo.)"""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        head, sep, _ = text.partition(" return_value=")
        if sep:
            text = head + " return_value=(hidden)"
        text = redact.scrub(text)
        if text != record.msg or record.args:
            record.msg, record.args = text, ()
        return True


_HTTPX_SCRUBBER = _HttpxScrubber()
for _name in ("httpx2", "httpcore2.connection", "httpcore2.http11", "httpcore2.http2", "httpcore2.proxy",
              "httpcore2.socks"):
    logging.getLogger(_name).addFilter(_HTTPX_SCRUBBER)


@functools.lru_cache(maxsize=64)
def _without_userinfo(url: str) -> str:
    """`url` minus any user:password@ (httpx2 would send it as basic credentials, replacing
    the app's, and log it; urllib3 ignores it)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def new_http_client(config: Any) -> httpx2.AsyncClient:
    """The httpx2 client of an `AsyncApiClient`: pool size, proxy and TLS from `config`."""
    size = int(getattr(config, "connection_pool_maxsize", None) or 32)
    context: Any
    if config.verify_ssl:
        context = ssl.create_default_context(cafile=config.ssl_ca_cert)
    else:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if config.cert_file:
        context.load_cert_chain(config.cert_file, config.key_file)
    client = httpx2.AsyncClient(
        verify=context,
        proxy=config.proxy or None,
        trust_env=False,
        follow_redirects=False,
        limits=httpx2.Limits(max_connections=size, max_keepalive_connections=size),
    )
    # The sync client's headers on the wire, not httpx2's defaults (which ask for compression).
    client.headers["Accept-Encoding"] = "identity"
    del client.headers["Connection"]
    return client


def _httpx_timeout(timeouts: Timeouts, remaining: float) -> httpx2.Timeout:
    left = max(remaining, 0.001)
    read = min(timeouts.read, left)
    return httpx2.Timeout(connect=min(timeouts.connect, left), read=read, write=read, pool=left)


async def _sleep(retry: RetryPolicy, seconds: float) -> None:
    """Wait without blocking the event loop; a replaced `RetryPolicy.sleep` is called instead
    (awaited if it returns an awaitable): tests record waits that way."""
    if retry.sleep is time.sleep:
        await anyio.sleep(seconds)
        return
    result = retry.sleep(seconds)
    if inspect.isawaitable(result):
        await result


async def send(
    client: httpx2.AsyncClient,
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
    """POST `body` to `url` under the sync transport's rules; return the final answer.

    Raises what `transport.send` raises, for the same reasons.
    """
    shown = shown_url or url
    deadline = time.monotonic() + timeouts.total
    debug = logger.isEnabledFor(logging.DEBUG)
    attempt = 1
    while True:
        remaining = deadline - time.monotonic()
        if debug:
            transport.log_attempt(shown, attempt, headers, fields, timeouts, retry)
        started = time.perf_counter()
        request = client.build_request("POST", _without_userinfo(url), content=body, headers=headers,
                                       timeout=_httpx_timeout(timeouts, remaining))
        with anyio.move_on_after(max(remaining, 0.0) + _GRACE_S) as scope:
            answer, failure, retryable = await _attempt(client, request, shown, deadline, timeouts,
                                                        max_body, secrets)
        if scope.cancelled_caught:  # the total deadline, mid-answer (connects end by themselves)
            failure = transport.failure("read_timeout", TimeoutError(), shown, (deadline, timeouts.total))
            retryable = False
        if failure is not None:
            wait = transport.wait_after_failure(failure, retryable, retry, attempt, deadline, debug,
                                                shown, started)
            if wait is None:
                raise failure
        else:
            assert answer is not None
            if debug:
                transport.log_answer(shown, answer.status, answer.reason, answer.headers, answer.data,
                                     secrets, started)
            wait = transport.wait_after_status(answer.status, answer.headers, retry, attempt, deadline,
                                               debug, shown)
            if wait is None:
                return answer
        await _sleep(retry, wait)
        attempt += 1


async def _attempt(
    client: httpx2.AsyncClient, request: httpx2.Request, shown: str, deadline: float,
    timeouts: Timeouts, max_body: int, secrets: Sequence[Optional[str]],
) -> tuple[Optional[Exchange], Optional[TransportError], bool]:
    """One attempt: (answer, None, _) or (None, failure, retryable)."""
    bound = (deadline, timeouts.total)
    try:
        response = await client.send(request, stream=True)
    except (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout, httpx2.ProxyError) as exc:
        if _is_tls_failure(exc):
            return None, _error(exc, shown, request_sent=True, deadline=bound), False
        return None, _error(exc, shown, request_sent=False, deadline=bound), True
    except (httpx2.TransportError, OSError, ValueError) as exc:
        return None, _error(exc, shown, request_sent=True, deadline=bound), False
    status, reason = response.status_code, response.reason_phrase or None
    fields = HTTPHeaderDict()  # the sync client's headers type: errors pickle and compare alike
    for name, value in response.headers.raw:  # names as the server spelled them
        fields.add(name.decode("latin-1"), value.decode("latin-1"))
    try:
        data = await _read_body(response, max_body)
    except transport._BodyTooLarge as exc:
        raise transport.too_large(status, reason, fields, exc.declared, max_body, secrets) from None
    except zlib.error:
        raise BodyDecodeError(status) from None
    except (httpx2.TransportError, OSError, ValueError) as exc:
        return None, _error(exc, shown, request_sent=True, deadline=bound), False
    finally:
        await response.aclose()  # unread: the connection is closed, not pooled
    return Exchange(status, reason, fields, data), None, False


def _decoder(encoding: str) -> Any:
    """A zlib decompressor for the Content-Encoding (None: the body is kept as it came,
    as urllib3 does with encodings it does not know)."""
    encoding = encoding.strip().lower()
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return zlib.decompressobj()
    return None


async def _read_body(response: httpx2.Response, max_body: int) -> bytes:
    """The whole decoded body; _BodyTooLarge once it is known to exceed `max_body` bytes."""
    declared = response.headers.get("Content-Length")
    if declared is not None and declared.isdigit() and int(declared) > max_body:
        raise transport._BodyTooLarge(int(declared))
    decoder = _decoder(response.headers.get("Content-Encoding", ""))
    parts: list[bytes] = []
    size = 0
    async for raw in response.aiter_raw(_READ_CHUNK):
        if decoder is None:
            size = _append(parts, size, raw, max_body)
            continue
        while raw:  # decompress one step at a time: a bomb never grows past the cap + a step
            size = _append(parts, size, decoder.decompress(raw, _READ_CHUNK), max_body)
            raw = decoder.unconsumed_tail
    if decoder is not None:
        _append(parts, size, decoder.flush(), max_body)
    return b"".join(parts)


def _append(parts: list[bytes], size: int, chunk: bytes, max_body: int) -> int:
    """Add `chunk` to the body read so far (`size` bytes); return the new size."""
    size += len(chunk)
    if size > max_body:
        raise transport._BodyTooLarge(None)
    parts.append(chunk)
    return size


def _is_tls_failure(exc: BaseException) -> bool:
    return any(isinstance(e, ssl.SSLError) for e in transport._causes(exc))


def _error(exc: BaseException, shown: str, *, request_sent: bool,
           deadline: tuple[float, float]) -> TransportError:
    """An httpx2 failure as the package's exception, worded as the sync transport words it."""
    if isinstance(exc, httpx2.ConnectTimeout):
        kind = "connect_timeout"
    elif isinstance(exc, httpx2.PoolTimeout):
        kind = "pool_timeout"
    elif isinstance(exc, (httpx2.ReadTimeout, httpx2.WriteTimeout, TimeoutError)):
        kind = "read_timeout"
    elif _is_tls_failure(exc):
        kind = "tls"
    else:
        kind = "broken" if request_sent else "connect"
    return transport.failure(kind, exc, shown, deadline)
