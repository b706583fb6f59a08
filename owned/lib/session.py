"""`TokenSession`: hands out a valid access token for as long as the refresh token lives.

    session = TokenSession(client_id, client_secret, FileTokenStore("/var/lib/app/pinterest.json"))
    session.exchange_code(code, redirect_uri)      # once, after the user's consent
    headers = {"Authorization": f"Bearer {session.access_token()}"}   # every time

`access_token()` refreshes ahead of expiry (`refresh_margin`). Many threads asking at once
cause one refresh (single flight); processes sharing a `FileTokenStore` too (its lock spans
read, refresh and write, and a token another process refreshed is picked up without a
request). The rotated refresh token is saved before the new access token is handed out; if
saving fails (after a refresh, `exchange_code` or `start_from_refresh_token`) the caller gets
`TokenStoreError` (its `.token` is the new token), the stored token is left as it was, and the
next call tries to save the new token again before anything else. A rejected refresh token
raises `ReauthorizationRequired` and leaves the stored token as it was.

Locks are held only for bounded time: each request the session sends (a refresh, a code
exchange) ends within its total deadline, `timeouts.total` (default 60 s, retries included),
whatever the server does. A store whose lock expires by itself (a lease, e.g. a lock shared
across machines) says so with a `lease_seconds` attribute; each request's deadline is then at
most `LEASE_SHARE` (half) of it, so the lease cannot lapse while a refresh is in flight.

With a store whose `lock()` yields a `RefreshLease` (`PostgresTokenStore`: many machines), the
lock is a lease: before sending, the session writes which refresh token it is about to use;
the save is a compare-and-set (a worker whose lease expired never overwrites a newer token:
it hands out the token it got once and adopts the stored one afterwards); a rejected refresh
token is marked in the store so that other workers raise `ReauthorizationRequired` without
sending it again; and a worker that finds a dead holder's record tries that refresh token once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator, Optional, Union

from pydantic import SecretStr

from pinterest_oauth.exceptions import ApiTypeError, ApiValueError, OpenApiException
from pinterest_oauth.api.oauth_api import OauthApi
from pinterest_oauth.lib.client import ApiClient, Configuration, check_credentials, check_host, one_timeout
from pinterest_oauth.lib.transport import TimeoutArg
from pinterest_oauth.lib.errors import PinterestApiError, RateLimitError, ServerError, TransportError
from pinterest_oauth.lib.stores import RefreshLease, TokenConflictError, TokenStore, TokenStoreError
from pinterest_oauth.lib.tokens import Token
from pinterest_oauth.lib.transport import RetryPolicy, Timeouts
from pinterest_oauth.models.oauth_access_token_response import OauthAccessTokenResponse

logger = logging.getLogger("pinterest_oauth.session")

_DAY = 86400.0

#: The most of a store's `lease_seconds` one request's total deadline may use.
LEASE_SHARE = 0.5

#: Stands for a stored token that could not be read when a new token's save failed.
_UNREADABLE = object()


def request_timeouts(timeouts: Timeouts, store: object) -> Timeouts:
    """`timeouts`, with `total` cut to `LEASE_SHARE` of `store.lease_seconds` if the store has one
    (so a refresh, retries included, always ends well before the lease it holds expires)."""
    lease = getattr(store, "lease_seconds", None)
    if lease is None:
        return timeouts
    if isinstance(lease, bool) or not isinstance(lease, (int, float)) or not 0 < lease < float("inf"):
        raise ValueError(f"{type(store).__name__}.lease_seconds must be a positive number of seconds or None")
    total = lease * LEASE_SHARE
    return dataclasses.replace(timeouts, total=total) if total < timeouts.total else timeouts


class ReauthorizationRequired(OpenApiException):
    """The user must go through Pinterest's consent screen again (then `exchange_code`).

    Raised when Pinterest rejects the refresh token (401 with code 283, or RFC 6749
    `invalid_grant`), or when the store holds no usable token. The stored token is left as it
    was. `status`, `code`, `error`, `error_description` come from the server's answer (None
    otherwise); the original exception is `__cause__`.
    """

    def __init__(self, message: str, *, cause: Optional[PinterestApiError] = None) -> None:
        super().__init__(message)
        self.status: Optional[int] = cause.status if cause is not None else None
        self.code: Optional[int] = cause.code if cause is not None else None
        self.error: Optional[str] = cause.error if cause is not None else None
        self.error_description: Optional[str] = cause.error_description if cause is not None else None


def _seconds(value: Union[float, timedelta], name: str) -> float:
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 <= seconds < float("inf"):
        raise ApiValueError(f"TokenSession({name}=...) must be a non-negative number of seconds or a timedelta")
    return float(seconds)


def _check_options(*, continuous_refresh: object, scope: object, clock: object) -> None:
    """ApiTypeError naming the TokenSession option that has the wrong type."""
    if continuous_refresh is not None and not isinstance(continuous_refresh, bool):
        raise ApiTypeError("TokenSession(continuous_refresh=...) must be True, False or None, "
                           f"got {type(continuous_refresh).__name__}")
    if scope is not None and not isinstance(scope, str):
        raise ApiTypeError(f"TokenSession(scope=...) must be a str such as 'boards:read,pins:read', got {type(scope).__name__}")
    if not callable(clock):
        raise ApiTypeError("TokenSession(clock=...) must be a function returning Unix seconds")


class TokenSession:
    """A valid access token on demand, kept in `store`.

    :param client_id: the app id. :param client_secret: the app secret (str or SecretStr).
    :param store: any `TokenStore` (`FileTokenStore`, `MemoryTokenStore`, your own).
    :param host: where the API lives (default https://api.pinterest.com/v5; a sandbox or a
        test server's URL).
    :param timeout, retry, allow_insecure_http: as for `Configuration.for_app` (`timeouts=` is
        the same as `timeout=`); each request's total deadline is the timeout's total, at most
        half the store's `lease_seconds` if it has one (the result is `request_timeouts`).
    :param refresh_margin: refresh when the access token has less than this left
        (seconds or timedelta; default 5 minutes).
    :param continuous_refresh: sent with every exchange and refresh when not None (apps
        created before 2025-09-25 need True to get rotating 60-day refresh tokens).
    :param scope: sent with every refresh when not None (narrows the token's scopes).
    :param warn_refresh_days: log a warning when the refresh token has fewer days left
        (a number of days or a timedelta).
    :param retry_refresh_after: after a refresh failed for a transient reason (connection,
        timeout, 429, 5xx) while the current access token is still valid, keep handing that
        token out and try again only after this many seconds (or after the server's
        Retry-After of a 429 / 503, when that is longer).
    :param clock: returns the current Unix time in seconds (injectable for tests).
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
        if not isinstance(store, TokenStore):
            raise ApiTypeError("TokenSession: store must have load(), save(token) and lock() (see TokenStore)")
        _check_options(continuous_refresh=continuous_refresh, scope=scope, clock=clock)
        client_id, client_secret = check_credentials(client_id, client_secret, "TokenSession")
        check_host(host, "TokenSession")
        config = Configuration.for_app(
            client_id, client_secret, host=host, timeouts=one_timeout(timeout, timeouts, "TokenSession"),
            retry=retry, allow_insecure_http=allow_insecure_http,
        )
        self.store = store
        self.request_timeouts = request_timeouts(config.timeouts, store)
        self._client = ApiClient(config)
        self._api = OauthApi(self._client)
        self.refresh_margin = _seconds(refresh_margin, "refresh_margin")
        self.retry_refresh_after = _seconds(retry_refresh_after, "retry_refresh_after")
        self.warn_refresh_days = _seconds(warn_refresh_days, "warn_refresh_days") / (
            _DAY if isinstance(warn_refresh_days, timedelta) else 1.0
        )
        self.continuous_refresh = continuous_refresh
        self.scope = scope
        self._clock = clock
        self._lock = threading.Lock()
        self._current: Optional[Token] = None
        # A new token whose save failed: (the stored token it replaces, or None when the store
        # was empty, or _UNREADABLE; the new token). Saved first by the next call.
        self._pending: Optional[tuple[object, Token]] = None
        self._quiet_until = float("-inf")
        self._warned_for: Optional[float] = None
        # What the current store-locked section saved: (the token it replaced or None, new).
        self._saved: Optional[tuple[object, Token]] = None
        # The lease the store's lock yielded (None for stores whose lock yields none).
        self._lease: Optional[RefreshLease] = None

    # -- public API -----------------------------------------------------------------------

    def access_token(self) -> str:
        """A valid access token as a plain string, for `Authorization: Bearer <token>`.

        Refreshes first when less than `refresh_margin` is left. Raises
        `ReauthorizationRequired`, `TokenStoreError`, or the request's own exceptions.
        """
        return self.token().access_token.get_secret_value()

    def token(self) -> Token:
        """The current `Token` (valid for more than `refresh_margin`), refreshed if needed."""
        current = self._valid_current()
        if current is not None:
            return current
        with self._lock:
            reusable = self._reusable()
            if reusable is not None:
                return reusable
            with self._store_locked():
                return self._get_locked(force=False)

    def refresh(self) -> Token:
        """Refresh now, e.g. after the API rejected the current access token. If another
        session or process has already replaced the token this one handed out, that token is
        used instead of sending a request."""
        with self._lock, self._store_locked():
            return self._get_locked(force=True)

    def exchange_code(self, code: str, redirect_uri: str) -> Token:
        """Exchange an authorization code for tokens and save them (replacing any stored token).

        If saving fails, `TokenStoreError.token` holds the new token (the code is used up) and
        the next call of any method saves it before anything else, as after a refresh.
        """
        with self._lock, self._store_locked():
            sent_at = self._clock()
            response = self._api.oauth_token(
                "authorization_code", code=code, redirect_uri=redirect_uri,
                continuous_refresh=self.continuous_refresh, timeout=self.request_timeouts,
            )
            return self._save_fresh(Token.from_response(response, sent_at=sent_at))

    def start_from_refresh_token(self, refresh_token: str) -> Token:
        """Refresh once with an existing refresh token and save the result (replacing any
        stored token). Raises `ReauthorizationRequired` if Pinterest rejects it. A failed save is
        handled as in `exchange_code`."""
        with self._lock, self._store_locked():
            sent_at = self._clock()
            response = self._send_refresh(refresh_token)
            return self._save_fresh(self._started(response, refresh_token, sent_at))

    @staticmethod
    def _started(response: OauthAccessTokenResponse, refresh_token: str, sent_at: float) -> Token:
        """The token of a first refresh (a refresh that does not rotate keeps the given one)."""
        token = Token.from_response(response, sent_at=sent_at)
        if token.refresh_token is None:
            token = dataclasses.replace(token, refresh_token=SecretStr(refresh_token))
        return token

    def close(self) -> None:
        """Close pooled connections."""
        self._client.close()

    def __enter__(self) -> "TokenSession":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"TokenSession(client_id={self._client.configuration.username!r}, store={self.store!r})"

    # -- internals (called with self._lock and the store's lock held) --------------------

    @contextlib.contextmanager
    def _store_locked(self) -> Iterator[None]:
        """Hold the store's lock. A store may commit a save when its lock is released (a
        database transaction): if releasing fails after a save, the save counts as failed."""
        self._saved = None
        done = False
        try:
            with self.store.lock() as lease:
                self._lease = lease if isinstance(lease, RefreshLease) else None
                yield
                done = True
        except BaseException as exc:
            self._lease = None
            saved, self._saved = self._saved, None
            if not done or saved is None:
                raise
            base, new = saved
            self._current = None
            self._pending = (base, new)  # tried again on the next call
            if not isinstance(exc, Exception):
                raise
            raise TokenStoreError(
                f"{self.store!r} failed after saving the token ({type(exc).__name__}); it may not "
                "have been saved; the next call will try again",
                token=new,
            ) from exc
        self._saved = None
        self._lease = None

    def _valid_current(self) -> Optional[Token]:
        """The token handed out last if it is valid for more than the margin (no lock needed)."""
        current = self._current
        now = self._clock()
        if current is not None and self._pending is None and current.is_valid(now, self.refresh_margin):
            self._warn_if_expiring(current, now)
            return current
        return None

    def _reusable(self) -> Optional[Token]:
        """The token handed out last, if it may be handed out again without the store: valid
        for more than the margin, or still valid during the quiet time after a failed refresh."""
        now = self._clock()
        current = self._current
        if current is not None and self._pending is None:
            if current.is_valid(now, self.refresh_margin):
                return current
            if now < self._quiet_until and current.is_valid(now):
                self._warn_if_expiring(current, now)
                return current
        return None

    def _get_locked(self, force: bool) -> Token:
        stored = self._load()
        now = self._clock()
        token = self._without_request(stored, now, force)
        if token is not None:
            return token
        assert stored is not None and stored.refresh_token is not None
        refresh_token = stored.refresh_token.get_secret_value()
        token = self._before_request(refresh_token)
        if token is not None:
            return token
        sent_at = self._clock()
        try:
            response = self._send_refresh(refresh_token)
        except ReauthorizationRequired as exc:
            return self._rejected(exc)
        except (TransportError, ServerError, RateLimitError) as exc:
            return self._refresh_failed(exc, stored, now, force)
        return self._refreshed(stored, response, sent_at)

    # The steps of `_get_locked`, shared with `AsyncTokenSession` (which awaits the request).

    def _without_request(self, stored: Optional[Token], now: float, force: bool) -> Optional[Token]:
        """The token to hand out without refreshing (None: refresh `stored`), or
        ReauthorizationRequired."""
        if stored is None:
            raise ReauthorizationRequired(
                f"no token in {self.store!r}: authorize the app, then call exchange_code "
                "(or start_from_refresh_token)"
            )
        if force:
            replaced = self._current is not None and stored != self._current
            if replaced and stored.is_valid(now, self.refresh_margin):
                return self._adopt(stored, now)
        elif stored.is_valid(now, self.refresh_margin):
            return self._adopt(stored, now)
        if stored.refresh_token is None:
            if not force and stored.is_valid(now):
                return self._adopt(stored, now)
            raise ReauthorizationRequired("the stored token has expired and there is no refresh token")
        return None

    def _before_request(self, refresh_token: str) -> Optional[Token]:
        """With a leasing store: refuse a key marked for re-authorization, and write the
        write-ahead record of the refresh about to be sent (None: send it; a token: the lease
        was lost and another worker's token is used instead)."""
        lease = self._lease
        if lease is None:
            return None
        if lease.reauthorization is not None:
            raise ReauthorizationRequired(lease.reauthorization)
        if lease.in_flight is not None:
            logger.warning("a refresh did not finish (%s); trying that refresh token once",
                           lease.in_flight.describe())
        try:
            lease.record(refresh_token)
        except TokenConflictError:
            return self._adopt_stored_after_conflict(None)
        return None

    def _rejected(self, exc: ReauthorizationRequired) -> Token:
        """Pinterest rejected the refresh token: with a leasing store, mark the key so other
        workers do not send it again (saying which earlier refresh was lost, if one was)."""
        lease = self._lease
        if lease is None:
            raise exc
        reason = str(exc) + (f"; an earlier refresh had not finished: {lease.in_flight.describe()}, "
                             "and its answer (the new refresh token) was never saved"
                             if lease.in_flight is not None else "")
        if not lease.require_reauthorization(reason):
            return self._adopt_stored_after_conflict(None)
        cause = exc.__cause__ if isinstance(exc.__cause__, PinterestApiError) else None
        raise ReauthorizationRequired(reason, cause=cause) from cause

    def _refresh_failed(self, exc: Exception, stored: Token, now: float, force: bool) -> Token:
        """After a transient failure (connection, timeout, 429, 5xx): keep handing out the
        still valid `stored` token for a while, or re-raise `exc`."""
        if force or not stored.is_valid(now):
            raise exc
        wait = self.retry_refresh_after
        if isinstance(exc, PinterestApiError) and exc.retry_after is not None:  # 429, 503
            wait = max(wait, exc.retry_after)
        self._quiet_until = now + wait
        logger.warning(
            "refreshing the access token failed (%s); the current one is valid for %d more "
            "seconds, retrying in %d seconds", type(exc).__name__, stored.expires_at - now, wait,
        )
        return self._adopt(stored, now)

    def _refreshed(self, stored: Token, response: OauthAccessTokenResponse, sent_at: float) -> Token:
        """Save the refreshed token (replacing `stored`) and hand it out."""
        new = Token.from_response(response, sent_at=sent_at, previous=stored)
        try:
            self._save(stored, new)
        except TokenConflictError:
            return self._adopt_stored_after_conflict(new)
        self._quiet_until = float("-inf")
        return self._adopt(new, self._clock())

    def _adopt_stored_after_conflict(self, new: Optional[Token]) -> Token:
        """The lease was lost and another worker saved a token meanwhile: use the stored token
        (no request); if it is not valid, hand out `new` (this call only) when there is one."""
        stored = self.store.load()
        now = self._clock()
        logger.warning("the refresh lease expired and another worker saved a token meanwhile; "
                       "using the stored token")
        if stored is not None and stored.is_valid(now):
            return self._adopt(stored, now)
        self._current = None
        if new is not None:
            return new
        raise TokenStoreError(f"{self.store!r}: the refresh lease was lost and the stored token "
                              "is not valid; try again")

    def _send_refresh(self, refresh_token: str) -> OauthAccessTokenResponse:
        try:
            return self._api.oauth_token(**self._refresh_arguments(refresh_token))
        except PinterestApiError as exc:
            self._raise_if_rejected(exc)
            raise

    def _refresh_arguments(self, refresh_token: str) -> dict[str, Any]:
        return dict(grant_type="refresh_token", refresh_token=refresh_token, scope=self.scope,
                    continuous_refresh=self.continuous_refresh, timeout=self.request_timeouts)

    @staticmethod
    def _raise_if_rejected(exc: PinterestApiError) -> None:
        """ReauthorizationRequired if Pinterest rejected the refresh token itself."""
        if exc.is_invalid_grant:
            raise ReauthorizationRequired(
                f"Pinterest rejected the refresh token ({exc}): the user must authorize the "
                "app again; the stored token was left as it was",
                cause=exc,
            ) from exc

    def _load(self) -> Optional[Token]:
        """Load the stored token, first saving a refreshed token whose save failed before."""
        pending = self._pending
        try:
            stored: object = self.store.load()
        except Exception:
            if pending is None or pending[0] is not _UNREADABLE:
                raise
            stored = _UNREADABLE  # unreadable then and now: the new token replaces it
        if pending is not None:
            base, new = pending
            if stored is base or stored == base:
                try:
                    self._save(base, new)
                    stored = new
                except TokenConflictError:  # saved by another worker meanwhile: use the stored one
                    self._pending = None
                    stored = self.store.load()
            else:
                logger.info("the stored token changed since a failed save; using the stored one")
            self._pending = None
        assert stored is None or isinstance(stored, Token)
        return stored

    def _save(self, base: object, new: Token, what: str = "refreshed") -> None:
        """Save `new` (replacing `base`); on failure remember it and raise TokenStoreError."""
        try:
            self.store.save(new)
        except TokenConflictError:
            raise  # a newer token is stored: nothing to save again
        except BaseException as exc:
            self._pending = (base, new)
            if isinstance(exc, TokenStoreError) and exc.token is None:
                exc.token = new
            if isinstance(exc, TokenStoreError) or not isinstance(exc, Exception):
                raise
            raise TokenStoreError(
                f"{self.store!r} could not save the {what} token ({type(exc).__name__}); "
                "the next call will try again", token=new,
            ) from exc
        self._pending = None
        self._saved = (base, new)

    def _save_fresh(self, token: Token) -> Token:
        """Save a token from a code exchange or a given refresh token, replacing whatever is
        stored; on failure it is saved first by the next call, like a refreshed one."""
        try:
            base: object = self.store.load()
        except Exception:
            base = _UNREADABLE
        self._save(base, token, "new")
        self._quiet_until = float("-inf")
        return self._adopt(token, self._clock())

    def _adopt(self, token: Token, now: float) -> Token:
        """Make `token` the one handed out; warn once if its refresh token expires soon."""
        self._current = token
        self._warn_if_expiring(token, now)
        return token

    def _warn_if_expiring(self, token: Token, now: float) -> None:
        expires = token.refresh_token_expires_at
        if (token.refresh_token is not None and expires is not None and expires != self._warned_for
                and expires - now < self.warn_refresh_days * _DAY):
            self._warned_for = expires
            logger.warning(
                "the Pinterest refresh token expires in %.1f days (%s); when it does, the user "
                "must authorize the app again", max(0.0, (expires - now) / _DAY),
                datetime.fromtimestamp(expires, tz=timezone.utc).isoformat(timespec="seconds"),
            )
