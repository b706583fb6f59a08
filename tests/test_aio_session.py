"""`AsyncTokenSession` (issue 18): the sync session suites run again through it, and what only
async code has: many tasks, a file lock waited for off the loop, cancellation at every await.

The mirrored tests (test_session, test_session_retry_after) get a blocking stand-in for
`TokenSession` that drives an `AsyncTokenSession` on a real event loop (`aio_kit`); their
child processes (two processes sharing a file) run `AsyncTokenSession` too. Warnings are
errors: an unclosed connection, a never-retrieved task exception, fails the test.
"""

from __future__ import annotations

import asyncio
import fcntl
import inspect
import json
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import pytest

import test_session
import test_session_retry_after
from aio_kit import AsyncBridge
from conftest import CLIENT_ID, CLIENT_SECRET
from fakes import A1, A2, ACCESS_LIFE, R1, R2, T0, Clock, form, make_token, ok, token_body
from localserver import Reply, Seen, TokenServer
from test_session import clock, session_and_file  # noqa: F401  (fixtures the mirrored tests use)
from test_session_single_flight import UnlockedStore

from pinterest_oauth import (
    ApiValueError, FileTokenStore, InsecureTransportError, MemoryTokenStore, RetryPolicy, Timeouts, Token, TokenSession,
)
from pinterest_oauth.aio import AsyncTokenSession

pytestmark = pytest.mark.filterwarnings("error")

MIRRORED = (test_session, test_session_retry_after)
SYNC_ONLY = {
    "test_32_threads_across_the_expiry_boundary_cause_one_refresh":
        "threads calling one session; here: test_200_tasks_cause_one_refresh",
}

ASYNC_CHILD = test_session.TWO_PROCESS_CHILD.replace(
    "from pinterest_oauth import FileTokenStore, RetryPolicy, TokenSession",
    "import asyncio\nfrom pinterest_oauth import FileTokenStore, RetryPolicy\n"
    "from pinterest_oauth.aio import AsyncTokenSession as TokenSession",
).replace(
    "print(session.access_token(), flush=True)",
    "async def main():\n    async with session:\n        return await session.access_token()\n"
    "print(asyncio.run(main()), flush=True)",
)

for _module in MIRRORED:
    for _name, _test in list(vars(_module).items()):
        if _name.startswith("test_") and callable(_test) and _test.__module__ == _module.__name__ and _name not in SYNC_ONLY:
            globals()[f"test_{_module.__name__.removeprefix('test_')}__{_name.removeprefix('test_')}"] = _test


@pytest.fixture(autouse=True)
def async_sessions(monkeypatch: pytest.MonkeyPatch) -> Iterator[AsyncBridge]:
    bridge = AsyncBridge()
    for module in MIRRORED:
        monkeypatch.setattr(module, "TokenSession", bridge.TokenSession)
    monkeypatch.setattr(test_session, "TWO_PROCESS_CHILD", ASYNC_CHILD)
    yield bridge
    bridge.close()


def test_the_mirror_runs_async_sessions(async_sessions: AsyncBridge, token_server: TokenServer) -> None:
    assert ASYNC_CHILD.count("AsyncTokenSession") == 1 and "asyncio.run(main())" in ASYNC_CHILD
    session = test_session.make_session(token_server, UnlockedStore(make_token()), Clock())
    assert type(session.inner) is AsyncTokenSession
    assert len([n for n in globals() if n.startswith("test_session")]) >= 25


# -- many tasks ------------------------------------------------------------------------------------

def test_200_tasks_cause_one_refresh() -> None:
    """The store's lock excludes nothing (test_session_single_flight's store): only the session
    keeps the refreshes to one."""
    store = UnlockedStore(make_token(A1, R1))

    def slow(seen: Seen) -> Reply:
        time.sleep(0.3)  # every task asks while the refresh is in flight
        return ok(token_body(A2, R2))

    async def main(url: str) -> list[str]:
        async with AsyncTokenSession(CLIENT_ID, CLIENT_SECRET, store, host=url,  # type: ignore[arg-type]
                                     retry=RetryPolicy(max_attempts=1), clock=Clock(T0 + ACCESS_LIFE)) as session:
            return await asyncio.gather(*(session.access_token() for _ in range(200)))

    with TokenServer(default=ok(token_body("pina_TESTACCESS0099", "pinr_TESTREFRESH0099"))) as server:
        server.enqueue(slow)
        tokens = asyncio.run(main(server.url))
    assert tokens == [A2] * 200
    [seen] = server.requests
    assert form(seen) == [("grant_type", "refresh_token"), ("refresh_token", R1)]
    assert store.saves == 1


def hold_file_lock(path: Path) -> Callable[[], None]:
    """Take `path`'s FileTokenStore lock as another process would (a separate open file
    description); returns the release."""
    fd = os.open(str(path) + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return lambda: os.close(fd)


def lock_is_free(path: Path) -> bool:
    fd = os.open(str(path) + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def test_the_file_lock_is_waited_for_without_blocking_the_loop(token_server: TokenServer, tmp_path: Path) -> None:
    path = tmp_path / "token.json"
    FileTokenStore(path).save(make_token(A1, R1))
    token_server.enqueue(ok(token_body(A2, R2)))
    release = hold_file_lock(path)
    ticks: list[float] = []

    async def main() -> str:
        async with AsyncTokenSession(CLIENT_ID, CLIENT_SECRET, FileTokenStore(path), host=token_server.url,
                                     clock=Clock(T0 + ACCESS_LIFE)) as session:
            task = asyncio.create_task(session.access_token())
            for _ in range(10):  # the loop runs on while the lock is held elsewhere
                ticks.append(time.monotonic())
                await asyncio.sleep(0.03)
            assert not task.done() and token_server.requests == []
            release()
            return await task

    assert asyncio.run(main()) == A2
    assert len(ticks) == 10 and len(token_server.requests) == 1
    assert json.loads(path.read_text())["refresh_token"] == R2 and lock_is_free(path)


# -- cancellation at each await point of a refresh -------------------------------------------------

POINTS = ("lock", "load", "request", "save", "release")


class GatedStore(FileTokenStore):
    """A FileTokenStore that stops at one point of a refresh until the test opens the gate."""

    def __init__(self, path: Path, point: str) -> None:
        super().__init__(path)
        self.point = point
        self.reached = threading.Event()
        self.gate = threading.Event()
        self.releases: list[tuple[Any, str]] = []  # the outermost lock's release: (exception type, thread)

    def _stop(self, point: str) -> None:
        if point == self.point:
            self.reached.set()
            assert self.gate.wait(10)

    def _acquire_file_lock(self) -> int:
        self._stop_without_waiting("lock")
        return super()._acquire_file_lock()

    def _stop_without_waiting(self, point: str) -> None:
        if point == self.point:
            self.reached.set()  # the lock is held elsewhere: flock itself waits

    def load(self) -> Optional[Token]:
        self._stop("load")
        return super().load()

    def save(self, token: Token) -> None:
        self._stop("save")
        super().save(token)

    def lock(self) -> Any:
        outer = super().lock()
        store = self

        class Gated:
            def __enter__(self) -> None:
                outer.__enter__()

            def __exit__(self, *exc: Any) -> Any:
                if store._depth == 1:
                    store.releases.append((exc[0], threading.current_thread().name))
                    store._stop("release")
                return outer.__exit__(*exc)

        return Gated()


def _scenario(point: str, tmp_path: Path, server: TokenServer) -> tuple[GatedStore, Path, Callable[[], None]]:
    path = tmp_path / "token.json"
    FileTokenStore(path).save(make_token(A1, R1))
    store = GatedStore(path, point)
    release = lambda: None  # noqa: E731
    if point == "lock":
        release = hold_file_lock(path)
    if point == "request":
        def answer(seen: Seen) -> Reply:
            store.reached.set()
            assert store.gate.wait(10)
            return ok(token_body(A2, R2))
        server.enqueue(answer)
    else:
        server.enqueue(ok(token_body(A2, R2)))
    return store, path, release


def _after(path: Path, store: GatedStore) -> dict[str, Any]:
    assert lock_is_free(path), "the store's lock is still held"
    assert sorted(p.name for p in path.parent.iterdir()) == ["token.json", "token.json.lock"], "a temporary file is left"
    return json.loads(path.read_text())  # type: ignore[no-any-return]


async def _until(event: threading.Event) -> None:
    for _ in range(1000):
        if event.is_set():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the refresh never reached the point")


@pytest.mark.parametrize("point", POINTS)
def test_a_caller_cancelled_at_any_point_loses_nothing(point: str, token_server: TokenServer, tmp_path: Path) -> None:
    """The caller goes away; the refresh it started finishes, saves the rotated token and
    releases the lock; the next caller gets the new token without a request."""
    store, path, release = _scenario(point, tmp_path, token_server)

    async def main() -> str:
        session = AsyncTokenSession(CLIENT_ID, CLIENT_SECRET, store, host=token_server.url,
                                    retry=RetryPolicy(max_attempts=1), clock=Clock(T0 + ACCESS_LIFE))
        caller = asyncio.create_task(session.access_token())
        await _until(store.reached)
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller
        release()
        store.gate.set()
        await session.close()  # waits for the refresh the caller left
        assert _after(path, store)["refresh_token"] == R2
        token = await session.access_token()
        await session.close()
        return token

    assert asyncio.run(main()) == A2
    assert len(token_server.requests) == 1


@pytest.mark.parametrize("point", POINTS)
def test_a_refresh_cancelled_at_any_point_leaves_a_whole_store_and_no_lock(point: str, token_server: TokenServer,
                                                                          tmp_path: Path) -> None:
    """The refresh itself is cancelled (as at a loop's shutdown, which cancels every task):
    the store holds the old token or, once Pinterest answered, the new one, whole; the lock is
    free; nothing is left running, and nothing reaches the loop's exception handler."""
    store, path, release = _scenario(point, tmp_path, token_server)
    reported: list[dict[str, Any]] = []

    async def main() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda loop, context: reported.append(context))
        session = AsyncTokenSession(CLIENT_ID, CLIENT_SECRET, store, host=token_server.url,
                                    retry=RetryPolicy(max_attempts=1), clock=Clock(T0 + ACCESS_LIFE))
        caller = asyncio.create_task(session.access_token())
        await _until(store.reached)
        # The worker thread is stopped at `point` until the gate opens: open it a little after
        # the cancellation (the refresh unwinds only once what the worker was given is done: a
        # save is never abandoned, and the lock is released after it).
        threading.Timer(0.2, lambda: (release(), store.gate.set())).start()
        for task in asyncio.all_tasks() - {asyncio.current_task()}:
            task.cancel()  # the caller and the refresh
        with pytest.raises(asyncio.CancelledError):
            await caller
        await session.close()
        assert asyncio.all_tasks() == {asyncio.current_task()}
        # Released once, on the store's thread, before close() returned; as unused (no exception)
        # if the refresh never got to use it.
        [(exc_type, thread)] = store.releases
        assert thread.startswith("pinterest-oauth-store")
        assert exc_type is (asyncio.CancelledError if point in ("load", "request", "save") else None)

    asyncio.run(main())
    stored = _after(path, store)
    answered = point in ("save", "release")  # the answer was in before the cancel
    assert stored["refresh_token"] == (R2 if answered else R1)
    assert len(token_server.requests) == (0 if point in ("lock", "load") else 1) and reported == []


# -- the arguments, and what a cancelled refresh leaves to the loop --------------------------------

def test_the_arguments_and_defaults_are_token_sessions(token_server: TokenServer) -> None:
    """Every TokenSession argument, with its kind and default, and `timeout=` (the spelling
    OauthApi calls use) meaning what it means there."""
    def shape(cls: type) -> list[tuple[str, Any, Any]]:
        return [(p.name, p.kind, p.default) for p in inspect.signature(cls).parameters.values()]

    assert shape(AsyncTokenSession) == shape(TokenSession)
    token_server.enqueue(ok(token_body(A2, R2)))

    async def main() -> tuple[Timeouts, str]:
        async with AsyncTokenSession(CLIENT_ID, CLIENT_SECRET, UnlockedStore(make_token(A1, R1)),
                                     host=token_server.url, timeout=5, clock=Clock(T0 + ACCESS_LIFE)) as session:
            return session.request_timeouts, await session.access_token()

    assert asyncio.run(main()) == (Timeouts(connect=5, read=5, total=5), A2)
    with pytest.raises(ApiValueError, match="TokenSession: pass timeout= or timeouts="):
        AsyncTokenSession(CLIENT_ID, CLIENT_SECRET, MemoryTokenStore(), timeout=5, timeouts=5)


def test_plain_http_to_a_remote_host_is_refused_by_default(token_server: TokenServer) -> None:
    """0.0.0.0 is no loopback name, so the https-only check refuses it; a connection to it would
    still reach this machine's server, where nothing arrives."""
    store = UnlockedStore(make_token(A1, R1))

    async def main() -> None:
        async with AsyncTokenSession(CLIENT_ID, CLIENT_SECRET, store, host=f"http://0.0.0.0:{token_server.port}/v5",
                                     retry=RetryPolicy(max_attempts=1), clock=Clock(T0 + ACCESS_LIFE)) as session:
            with pytest.raises(InsecureTransportError, match="plain http to 0.0.0.0: use https"):
                await session.access_token()

    asyncio.run(main())
    assert token_server.requests == [] and store.saves == 0


def test_a_refresh_cancelled_once_the_worker_took_the_lock_releases_it(token_server: TokenServer,
                                                                      tmp_path: Path) -> None:
    """The refresh is cancelled after the worker thread took the store's lock, before the
    refresh task learnt it had: nobody will use the lock, so the worker releases it."""
    store, path, release = _scenario("lock", tmp_path, token_server)
    reported: list[dict[str, Any]] = []

    async def main() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda loop, context: reported.append(context))
        session = AsyncTokenSession(CLIENT_ID, CLIENT_SECRET, store, host=token_server.url,
                                    retry=RetryPolicy(max_attempts=1), clock=Clock(T0 + ACCESS_LIFE))
        caller = asyncio.create_task(session.access_token())
        await _until(store.reached)  # the worker waits in flock: the lock is held elsewhere
        release()
        # The loop stands still until the worker has taken the lock (its one thread runs this
        # no-op after that), so the cancellation reaches the task still waiting for the lock.
        session._executor().submit(lambda: None).result(timeout=10)
        for task in asyncio.all_tasks() - {asyncio.current_task()}:
            task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller
        await session.close()
        assert asyncio.all_tasks() == {asyncio.current_task()}
        [(exc_type, thread)] = store.releases  # released unused, on the store's thread, already
        assert exc_type is None and thread.startswith("pinterest-oauth-store")

    asyncio.run(main())
    assert _after(path, store)["refresh_token"] == R1 and store._depth == 0
    assert token_server.requests == [] and reported == []
