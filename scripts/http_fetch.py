"""Download one file over HTTPS with urllib3, bounded in time and size.

Used by `make sync-spec UPSTREAM=https://...` and `make update-upstream`. Plain http:// is
accepted for loopback hosts only (the tests' local server). Every failure is a FetchError
whose message is one line.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

import urllib3
from urllib3.exceptions import HTTPError, MaxRetryError, NameResolutionError, NewConnectionError, TimeoutError

CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 30.0  # longest silence between two reads
TOTAL_TIMEOUT_S = 120.0  # the whole download, however the bytes trickle in
MAX_BYTES = 64 * 1024 * 1024  # Pinterest's description is ~1.6 MB; anything this big is not it
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
CHUNK = 64 * 1024


class FetchError(Exception):
    """A download that failed; the message is one line and names the URL."""


def is_url(text: str) -> bool:
    return text.startswith(("https://", "http://"))


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _why(url: str, exc: BaseException) -> str:
    reason = exc.reason if isinstance(exc, MaxRetryError) and exc.reason is not None else exc
    host = urlsplit(url).hostname
    if isinstance(reason, (NewConnectionError, NameResolutionError)):
        detail = _one_line(reason).rsplit(": ", 1)[-1]
        return f"cannot connect to {host} (offline, or the host is unreachable): {detail}"
    if isinstance(reason, TimeoutError):
        return f"timed out talking to {host}: {_one_line(reason).rsplit(': ', 1)[-1]}"
    return _one_line(reason)


def check_url(url: str) -> None:
    """Refuse anything but https://, or http:// to a loopback host."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        return
    raise FetchError(f"cannot download {url}: only https:// URLs (or http:// to 127.0.0.1) are accepted")


def download(url: str, out: BinaryIO, *, connect_timeout: float = CONNECT_TIMEOUT_S,
             read_timeout: float = READ_TIMEOUT_S, total_timeout: float = TOTAL_TIMEOUT_S,
             max_bytes: int = MAX_BYTES) -> tuple[int, str]:
    """Stream `url` into `out`; return (size, sha256 hex). Raises FetchError."""
    check_url(url)
    retries = urllib3.Retry(total=3, connect=1, read=0, status=0, other=0, redirect=3, backoff_factor=0.2)
    timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
    deadline = time.monotonic() + total_timeout
    digest, size = hashlib.sha256(), 0
    with urllib3.PoolManager(retries=retries, timeout=timeout) as pool:
        try:
            response = pool.request("GET", url, preload_content=False,
                                    headers={"User-Agent": "pinterest-oauth-sdk-tools"})
        except (HTTPError, OSError) as exc:
            raise FetchError(f"cannot download {url}: {_why(url, exc)}") from None
        try:
            if response.status != 200:
                raise FetchError(f"cannot download {url}: HTTP {response.status} {response.reason or ''}".rstrip())
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise FetchError(f"cannot download {url}: {declared} bytes is over the {max_bytes}-byte limit")
            for chunk in response.stream(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise FetchError(f"cannot download {url}: more than the {max_bytes}-byte limit")
                if time.monotonic() > deadline:
                    raise FetchError(f"cannot download {url}: not finished after {total_timeout:g} s")
                digest.update(chunk)
                out.write(chunk)
        except (HTTPError, OSError) as exc:
            raise FetchError(f"cannot download {url}: {_why(url, exc)}") from None
        finally:
            response.release_conn()
    if size == 0:
        raise FetchError(f"cannot download {url}: the response is empty")
    return size, digest.hexdigest()


def download_to(url: str, path: Path, **limits: Any) -> tuple[int, str]:
    """Download into a new file at `path` (which must not exist); remove it on failure."""
    try:
        with open(path, "xb") as out:
            return download(url, out, **limits)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
