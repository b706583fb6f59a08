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

`MemoryTokenStore` keeps the token in this process. `FileTokenStore` keeps it in a JSON
file (mode 0600, replaced atomically and durably) and locks across processes with `flock`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import threading
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
        """Exclude every other user of this storage while the context is open."""
        ...


class MemoryTokenStore:
    """Keeps the token in memory: for tests, and for one process that can re-authorize."""

    def __init__(self, token: Optional[Token] = None) -> None:
        self._token = token
        self._lock = threading.RLock()

    def load(self) -> Optional[Token]:
        return self._token

    def save(self, token: Token) -> None:
        self._token = token

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        with self._lock:
            yield

    def __repr__(self) -> str:
        return f"MemoryTokenStore(token={self._token!r})"


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
    def lock(self) -> Iterator[None]:
        with self._thread_lock:
            if self._depth == 0:
                self._lock_fd = self._acquire_file_lock()
            self._depth += 1
            try:
                yield
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
