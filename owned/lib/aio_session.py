"""`AsyncTokenSession`: `TokenSession` for asyncio, without a thread pool for HTTP.

    session = AsyncTokenSession(APP_ID, APP_SECRET, FileTokenStore("/var/lib/app/pinterest.json"))
    await session.exchange_code(code, redirect_uri)   # once, after the user's consent
    headers = {"Authorization": f"Bearer {await session.access_token()}"}
    await session.close()                             # or: async with AsyncTokenSession(...)

Every decision is `TokenSession`'s own (a `TokenSession` inside holds the state and makes
them: when to refresh, when a token another process saved is adopted, what a failed save
leaves behind); this class only awaits the request (`AsyncOauthApi`) and runs the store's
`lock()`, `load()` and `save()` on one worker thread of its own, so a `FileTokenStore`'s
`flock` is waited for without blocking the event loop (and a store sees lock, load and save
from one thread, as the `TokenStore` protocol promises).

Single flight: tasks asking at once cause one refresh (an `asyncio.Lock`, then the store's
lock across processes). Cancellation: the locked work (lock, load, request, save, unlock)
runs in a task of its own that a caller's cancellation does not reach (`asyncio.shield`):
a caller cancelled after Pinterest answered does not lose the rotated refresh token, which
is saved anyway; the store's lock is released on the worker thread after the save, even if
that work itself is cancelled (at loop shutdown): never a half-written store or a lock held.
`close()` waits for such work (bounded by the request's total deadline).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
import time
from datetime import timedelta
from typing import Any, AsyncIterator, Awaitable, Callable, Optional, TypeVar, Union

from typing_extensions import Self

from pinterest_oauth.api.oauth_api import AsyncOauthApi
from pinterest_oauth.lib.aio_client import AsyncApiClient
from pinterest_oauth.lib.errors import PinterestApiError, RateLimitError, ServerError, TransportError
from pinterest_oauth.lib.session import ReauthorizationRequired, TokenSession
from pinterest_oauth.lib.stores import TokenStore
from pinterest_oauth.lib.tokens import Token
from pinterest_oauth.lib.transport import RetryPolicy, TimeoutArg
from pinterest_oauth.models.oauth_access_token_response import OauthAccessTokenResponse

T = TypeVar("T")


class AsyncTokenSession:
    """A valid access token on demand, kept in `store`, for asyncio code.

    Takes `TokenSession`'s arguments, with the same meaning and defaults. Use it from one
    event loop; close it (`async with`, or `await session.close()`).
    """

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        store: TokenStore,
        *,
        host: Optional[str] = None,
        timeout: TimeoutArg = None,
        timeouts: TimeoutArg = None,
        retry: Optional[RetryPolicy] = None,
        allow_insecure_http: bool = False,
        refresh_margin: Union[float, timedelta] = 300.0,
        continuous_refresh: Optional[bool] = None,
        scope: Optional[str] = None,
        warn_refresh_days: Union[float, timedelta] = 7.0,
        retry_refresh_after: Union[float, timedelta] = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        # Holds the state and makes every decision; its own (sync) client never sends.
        self._core = TokenSession(
            client_id, client_secret, store, host=host, timeout=timeout, timeouts=timeouts, retry=retry,
            allow_insecure_http=allow_insecure_http, refresh_margin=refresh_margin,
            continuous_refresh=continuous_refresh, scope=scope, warn_refresh_days=warn_refresh_days,
            retry_refresh_after=retry_refresh_after, clock=clock,
        )
        self.store = store
        self.request_timeouts = self._core.request_timeouts
        self._client = AsyncApiClient(self._core._client.configuration)
        self._api = AsyncOauthApi(self._client)
        self._lock = asyncio.Lock()
        self._worker: Optional[concurrent.futures.ThreadPoolExecutor] = None
        self._work: set[asyncio.Task[Any]] = set()

    # -- public API -----------------------------------------------------------------------

    async def access_token(self) -> str:
        """A valid access token as a plain string (see `TokenSession.access_token`)."""
        return (await self.token()).access_token.get_secret_value()

    async def token(self) -> Token:
        """The current `Token`, refreshed first if needed (see `TokenSession.token`)."""
        current = self._core._valid_current()
        if current is not None:
            return current
        return await self._locked(self._get_locked, False, reuse=True)

    async def refresh(self) -> Token:
        """Refresh now (see `TokenSession.refresh`)."""
        return await self._locked(self._get_locked, True)

    async def exchange_code(self, code: str, redirect_uri: str) -> Token:
        """Exchange an authorization code for tokens and save them (see `TokenSession.exchange_code`)."""
        core = self._core

        async def work() -> Token:
            sent_at = core._clock()
            response = await self._api.oauth_token(
                "authorization_code", code=code, redirect_uri=redirect_uri,
                continuous_refresh=core.continuous_refresh, timeout=core.request_timeouts,
            )
            return await self._on_worker(core._save_fresh, Token.from_response(response, sent_at=sent_at))

        return await self._locked(work)

    async def start_from_refresh_token(self, refresh_token: str) -> Token:
        """Refresh once with an existing refresh token and save the result (see
        `TokenSession.start_from_refresh_token`)."""
        core = self._core

        async def work() -> Token:
            sent_at = core._clock()
            response = await self._send_refresh(refresh_token)
            return await self._on_worker(core._save_fresh, core._started(response, refresh_token, sent_at))

        return await self._locked(work)

    async def close(self) -> None:
        """Wait for locked work still running (each bounded by its request's deadline) and for
        what the store's worker thread was given, then close the connections and the worker.
        The session stays usable."""
        while self._work:
            await asyncio.wait(list(self._work))
        await self._client.close()
        worker, self._worker = self._worker, None
        if worker is not None:
            # What the worker was given runs to the end (a save, releasing the store's lock,
            # even for cancelled work): wait for it without blocking the loop.
            await asyncio.wrap_future(worker.submit(_nothing))
            worker.shutdown(wait=False)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"AsyncTokenSession(client_id={self._client.configuration.username!r}, store={self.store!r})"

    # -- internals ------------------------------------------------------------------------

    async def _locked(self, work: Callable[..., Awaitable[T]], *args: Any, reuse: bool = False) -> T:
        """Run `work(*args)` holding the session's and the store's locks, in a task of its own
        that the caller's cancellation does not reach. `reuse`: first hand out the current
        token if another task made it valid while this one waited for the lock."""
        task = asyncio.get_running_loop().create_task(self._run_locked(work, args, reuse))
        self._work.add(task)
        task.add_done_callback(self._done)
        return await asyncio.shield(task)

    def _done(self, task: "asyncio.Task[Any]") -> None:
        self._work.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: no "exception was never retrieved" if every caller left

    async def _run_locked(self, work: Callable[..., Awaitable[T]], args: tuple[Any, ...], reuse: bool) -> Any:
        async with self._lock:
            if reuse:
                reusable = self._core._reusable()
                if reusable is not None:
                    return reusable
            async with self._store_locked():
                return await work(*args)

    async def _get_locked(self, force: bool) -> Token:
        """`TokenSession._get_locked`, step by step, with the request awaited."""
        core = self._core
        stored = await self._on_worker(core._load)
        now = core._clock()
        token = core._without_request(stored, now, force)
        if token is not None:
            return token
        assert stored is not None and stored.refresh_token is not None
        refresh_token = stored.refresh_token.get_secret_value()
        token = await self._on_worker(core._before_request, refresh_token)
        if token is not None:
            return token
        sent_at = core._clock()
        try:
            response = await self._send_refresh(refresh_token)
        except ReauthorizationRequired as exc:
            return await self._on_worker(core._rejected, exc)
        except (TransportError, ServerError, RateLimitError) as exc:
            return core._refresh_failed(exc, stored, now, force)
        # Pinterest answered: from here on the rotated token is saved whatever happens.
        return await self._on_worker(core._refreshed, stored, response, sent_at)

    async def _send_refresh(self, refresh_token: str) -> OauthAccessTokenResponse:
        try:
            return await self._api.oauth_token(**self._core._refresh_arguments(refresh_token))
        except PinterestApiError as exc:
            self._core._raise_if_rejected(exc)
            raise

    def _executor(self) -> concurrent.futures.ThreadPoolExecutor:
        if self._worker is None:
            self._worker = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="pinterest-oauth-store")
        return self._worker

    async def _on_worker(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` on the store's worker thread. Once submitted it runs to the end, even
        if this task is cancelled meanwhile (a save is never abandoned half-way; the store's
        lock is released after it, on the same thread)."""
        future = self._executor().submit(fn, *args)
        return await asyncio.shield(asyncio.wrap_future(future))

    @contextlib.asynccontextmanager
    async def _store_locked(self) -> AsyncIterator[None]:
        """`TokenSession._store_locked` (the store's lock, and what a failed release after a
        save means), entered and left on the worker thread."""
        locked = self._core._store_locked()
        guard = threading.Lock()
        state = {"abandoned": False, "entered": False}

        def enter() -> None:
            locked.__enter__()
            with guard:
                if state["abandoned"]:  # the task waiting for the lock was cancelled meanwhile
                    locked.__exit__(None, None, None)
                    return
                state["entered"] = True

        entering = self._executor().submit(enter)
        try:
            await asyncio.shield(asyncio.wrap_future(entering))
        except BaseException:
            with guard:
                state["abandoned"] = True
                entered = state["entered"]
            if entered:  # taken, but nobody will use it: release it (on the worker, after `enter`)
                self._executor().submit(locked.__exit__, None, None, None)
            raise
        try:
            yield
        except BaseException as exc:
            if not await self._on_worker(locked.__exit__, type(exc), exc, exc.__traceback__):
                raise
        else:
            await self._on_worker(locked.__exit__, None, None, None)


def _nothing() -> None:
    """Queued last on the worker: done once everything before it is."""
