"""Token stores: where a `TokenSession` keeps its token between calls, runs and processes.

A store is any object with three methods (the `TokenStore` protocol):

- `load() -> Token | None`: the stored token, or None when nothing was ever saved. A store
  that holds something it cannot read must raise (`TokenStoreError`), never return None:
  None makes the session ask for a new authorization.
- `save(token)`: replace the stored token atomically: afterwards (even after a crash) a
  reader sees either the old token or the new one, complete. Raise if it did not happen.
  A store whose `lock()` is a transaction may commit when the lock is released instead:
  an exception raised then counts as a failed save.
- `lock()`: a context manager that excludes every other session sharing this storage
  (threads and, for shared storage, processes) while a token is read, refreshed and saved.
  The session calls `load()` and `save()` while it holds the lock, from the same thread.

Stores shared by several machines cannot hold a lock across the HTTP call safely, so `lock()`
may yield a `RefreshLease` (optional; a store whose lock yields anything else, e.g. None, is
used exactly as before). A lease promises:

- `save()` under the lease is a compare-and-set against the token the last `load()` under the
  same lease returned; if the stored token changed since (the lease expired and another
  worker saved), it raises `TokenConflictError` and writes nothing;
- `record(refresh_token)` writes, before the refresh is sent, which refresh token is about to
  be used (a hash), by whom and when; a later holder sees an unfinished one as `in_flight`;
- `require_reauthorization(reason)` marks the stored token as rejected by Pinterest, so other
  workers raise `ReauthorizationRequired` (`reauthorization`) instead of sending it again.

A leasing store says how long its lease lasts with a `lease_seconds` attribute: `TokenSession`
then cuts each request's total deadline to half of it, so a refresh always ends before the lease. `MemoryTokenStore` and `FileTokenStore` yield a lease
too: their lock spans the whole refresh, so their saves never conflict (the memory store also
keeps the re-authorization mark; the file store does not persist it). `PostgresTokenStore`
(module `postgres_store`, extra `[postgres]`) implements all of it for many machines.

`MemoryTokenStore` keeps the token in this process. `FileTokenStore` keeps it in a JSON
file (mode 0600, replaced atomically and durably) and locks across processes with `flock`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import secrets
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ContextManager, Iterator, Optional, Protocol, Union, runtime_checkable

from pinterest_oauth.exceptions import OpenApiException
from pinterest_oauth.lib.tokens import Token

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger("pinterest_oauth.stores")


class TokenStoreError(OpenApiException):
    """A token could not be loaded or saved.

    `token` is the new token that could not be saved (None for load failures): it is not in
    the store, so keep it somewhere if you must. `committed` is True when the new file was
    already in place but a later step (syncing the directory) failed.
    """

    def __init__(self, message: str, *, token: Optional[Token] = None, committed: bool = False) -> None:
        super().__init__(message)
        self.token = token
        self.committed = committed


class TokenConflictError(TokenStoreError):
    """The stored token changed since it was loaded under this lease (the lease expired and
    another worker saved a newer token, or the lease was lost): nothing was written."""


def refresh_token_digest(refresh_token: str) -> str:
    """The SHA-256 (hex) of a refresh token: how write-ahead records name it, never in clear."""
    return hashlib.sha256(refresh_token.encode("utf-8")).hexdigest()


@dataclasses.dataclass(frozen=True)
class RefreshRecord:
    """A write-ahead record: a refresh that was about to be sent and never finished.

    `refresh_token_sha256` names the refresh token sent (see `refresh_token_digest`), `by`
    the worker (host:pid:thread:nonce), `at` when (Unix seconds, the store's clock).
    """

    refresh_token_sha256: str
    by: str
    at: float

    def describe(self) -> str:
        when = datetime.fromtimestamp(self.at, tz=timezone.utc).isoformat(timespec="seconds")
        return f"refresh token sha256:{self.refresh_token_sha256[:12]}… sent by {self.by} at {when}"


class RefreshLease:
    """What a store's `lock()` may yield to coordinate one refresh (see the module docstring).

    This base class is what a store whose lock spans the whole refresh needs (memory, file):
    nothing in flight, nothing to record, saves that cannot conflict. Override the methods in
    a store shared by machines.
    """

    #: A previous holder's refresh whose outcome is unknown (it died or stalled), or None.
    in_flight: Optional[RefreshRecord] = None
    #: Why the stored token needs re-authorization (Pinterest rejected it), or None.
    reauthorization: Optional[str] = None

    def record(self, refresh_token: str) -> None:
        """Write-ahead: `refresh_token` is about to be sent. Raise `TokenConflictError` if the
        lease was lost (the refresh must then not be sent)."""

    def require_reauthorization(self, reason: str) -> bool:
        """Mark the stored token as rejected (`reason` is shown to every worker). False if the
        stored token changed since it was loaded (then nothing was marked)."""
        self.reauthorization = reason
        return True


@runtime_checkable
class TokenStore(Protocol):
    """What `TokenSession` needs from a place that keeps a token (see the module docstring)."""

    def load(self) -> Optional[Token]:
        """The stored token, None if none was saved; raise if the stored data is unreadable."""
        ...

    def save(self, token: Token) -> None:
        """Replace the stored token atomically; raise if it was not saved."""
        ...

    def lock(self) -> ContextManager[Any]:
        """Exclude every other user of this storage while the context is open; may yield a
        `RefreshLease`."""
        ...


class MemoryTokenStore:
    """Keeps the token in memory: for tests, and for one process that can re-authorize."""

    def __init__(self, token: Optional[Token] = None) -> None:
        self._token = token
        self._lock = threading.RLock()
        self._reauthorization: Optional[str] = None

    def load(self) -> Optional[Token]:
        return self._token

    def save(self, token: Token) -> None:
        self._token = token
        self._reauthorization = None

    @contextlib.contextmanager
    def lock(self) -> Iterator[RefreshLease]:
        with self._lock:
            lease = _MemoryLease(self)
            yield lease

    def __repr__(self) -> str:
        return f"MemoryTokenStore(token={self._token!r})"


class _MemoryLease(RefreshLease):
    def __init__(self, store: MemoryTokenStore) -> None:
        self._store = store
        self.reauthorization = store._reauthorization

    def require_reauthorization(self, reason: str) -> bool:
        self._store._reauthorization = self.reauthorization = reason
        return True


def _check_file_path(path: Path) -> None:
    """TokenStoreError now (before any code is exchanged) if `path` can never hold the file:
    it is a directory, or one of its parents exists and is not a directory. A parent that does
    not exist yet is created (mode 0700) on first use."""
    if path.is_dir():
        raise TokenStoreError(f"FileTokenStore: {path} is a directory; give the path of a file in it, "
                              f"e.g. {path / 'token.json'}")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise TokenStoreError(f"FileTokenStore: cannot keep a file at {path}: {parent} is not a directory")
            return


class FileTokenStore:
    """Keeps the token in a JSON file, safe across threads and processes (POSIX).

    - `save` writes a temporary file in the same directory (created with mode 0600), fsyncs
      it, renames it over `path` and fsyncs the directory: a crash at any point leaves either
      the old file or the new one, complete.
    - `lock` takes an exclusive `flock` on the side file `<path>.lock` (never deleted), so
      processes sharing `path` refresh one at a time. It is re-entrant within a thread;
      `save` takes it too. A killed process releases it.
    - `load` returns None only when the file does not exist; an empty, truncated or
      otherwise unreadable file raises `TokenStoreError` (and is left for you to inspect).
    """

    #: The steps of `save`, in order; `_step` is called after each (tests inject faults there).
    STEPS = ("tmp_created", "tmp_written", "tmp_synced", "renamed", "dir_synced")

    def __init__(self, path: Union[str, "os.PathLike[str]"]) -> None:
        if fcntl is None:  # pragma: no cover - not POSIX
            raise TokenStoreError("FileTokenStore needs POSIX file locking (fcntl); use your own TokenStore")
        self.path = Path(path).absolute()
        _check_file_path(self.path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self._tmp_prefix = f".{self.path.name}.tmp-"
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._lock_fd: Optional[int] = None

    def __repr__(self) -> str:
        return f"FileTokenStore({str(self.path)!r})"

    def load(self) -> Optional[Token]:
        try:
            with open(self.path, "rb") as file:
                mode = os.fstat(file.fileno()).st_mode
                data = file.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise TokenStoreError(f"cannot read token file {self.path}: {exc.strerror or type(exc).__name__}") from None
        if mode & 0o077:
            logger.warning("token file %s is accessible to other users (mode %o); run chmod 600 on it",
                           self.path, mode & 0o777)
        try:
            obj = json.loads(data)
        except ValueError:
            raise TokenStoreError(
                f"token file {self.path} is not valid JSON ({len(data)} bytes); it was left as it is: "
                "restore it or remove it and authorize again"
            ) from None
        try:
            return Token.from_dict(obj)
        except ValueError as exc:
            raise TokenStoreError(f"token file {self.path} does not hold a valid token: {exc}") from None

    def save(self, token: Token) -> None:
        data = (json.dumps(token.to_dict(), indent=2, sort_keys=True) + "\n").encode("utf-8")
        with self.lock():
            self._remove_stale_temporaries()
            tmp = self.path.with_name(f"{self._tmp_prefix}{os.getpid()}-{secrets.token_hex(4)}")
            fd: Optional[int] = None
            renamed = False
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
                os.fchmod(fd, 0o600)  # exactly 0600 whatever the umask
                self._step("tmp_created")
                _write_all(fd, data)
                self._step("tmp_written")
                os.fsync(fd)
                self._step("tmp_synced")
                os.close(fd)
                fd = None
                os.replace(tmp, self.path)
                renamed = True
                self._step("renamed")
                _fsync_directory(self.path.parent)
                self._step("dir_synced")
            except Exception as exc:
                if fd is not None:
                    os.close(fd)
                if not renamed:
                    with contextlib.suppress(OSError):
                        os.unlink(tmp)
                what = getattr(exc, "strerror", None) or type(exc).__name__
                state = ("the new token is in place but may not be durable" if renamed
                         else "the previous token was left as it was")
                raise TokenStoreError(
                    f"could not save the token to {self.path} ({what}); {state}",
                    token=token, committed=renamed,
                ) from exc

    @contextlib.contextmanager
    def lock(self) -> Iterator[RefreshLease]:
        with self._thread_lock:
            if self._depth == 0:
                self._lock_fd = self._acquire_file_lock()
            self._depth += 1
            try:
                yield RefreshLease()
            finally:
                self._depth -= 1
                if self._depth == 0 and self._lock_fd is not None:
                    fd, self._lock_fd = self._lock_fd, None
                    os.close(fd)  # releases the flock

    def _acquire_file_lock(self) -> int:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise TokenStoreError(f"cannot open lock file {self.lock_path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _remove_stale_temporaries(self) -> None:
        """Delete temporary files a killed writer left behind (we hold the lock: none is live)."""
        try:
            names = os.listdir(self.path.parent)
        except OSError:
            return
        for name in names:
            if name.startswith(self._tmp_prefix):
                with contextlib.suppress(OSError):
                    os.unlink(self.path.parent / name)

    def _step(self, step: str) -> None:
        """Called after each step of `save` (see STEPS); does nothing. A test hook."""


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
