"""`PostgresTokenStore`: one token per key in a PostgreSQL table, shared by many machines.

Needs psycopg 3 (`pip install "pinterest-oauth-sdk[postgres]"`); `import pinterest_oauth`
never imports this module until `PostgresTokenStore` is used.

    store = PostgresTokenStore("postgresql://app@db/app", key="pinterest:client")
    store.create_schema()          # once (CREATE TABLE IF NOT EXISTS; no superuser needed)
    session = TokenSession(APP_ID, APP_SECRET, store)

How a refresh is coordinated (every statement is its own short, committed transaction; none
is open while the HTTP request is):

1. `lock()` takes the key's *lease* (owner, expiry by the database clock, `lease_seconds`
   long); a worker that finds it held waits (LISTEN/NOTIFY on the row's own channel, only
   while it waits; re-checking every 0.2 s) and then usually finds the new token already
   stored, without sending a request.
2. `RefreshLease.record()` writes, before the request is sent, the SHA-256 of the refresh
   token about to be used, by whom and when (and renews the lease); it fails if the lease was
   lost, so a stalled worker never sends.
3. `save()` is a compare-and-set on the row's `version`: it writes only if nobody saved since
   this worker's `load()`, and clears the record and the lease in the same statement.

Every step is idempotent, so a dropped connection (a restarted database, a cut network) is
retried with a new connection for up to `retry_seconds` before `TokenStoreError` is raised.
4. A worker that takes a lease and finds a record left by a dead (or stalled) holder tries
   that refresh token once; if Pinterest rejects it, `require_reauthorization()` stores the
   diagnostic and every worker raises `ReauthorizationRequired` without sending it again.

The unavoidable window: a worker killed after Pinterest rotated the refresh token and before
step 3 committed loses the new one; the record then turns that loss into one clear
`ReauthorizationRequired`. Every database failure raises `TokenStoreError`.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import secrets
import socket
import threading
import time
from typing import Any, Callable, Iterator, Optional, TypeVar

from pinterest_oauth.lib.stores import (
    RefreshLease,
    RefreshRecord,
    TokenConflictError,
    TokenStoreError,
    refresh_token_digest,
)
from pinterest_oauth.lib.tokens import Token

try:
    import psycopg
    from psycopg import sql
    from psycopg.types.json import Jsonb
except ImportError as _exc:  # pragma: no cover - depends on the install
    raise ImportError(
        'PostgresTokenStore needs psycopg 3: pip install "pinterest-oauth-sdk[postgres]"'
    ) from _exc

logger = logging.getLogger("pinterest_oauth.stores")
_R = TypeVar("_R")

#: The table `create_schema()` creates; `{table}` is the (quoted) table name.
SCHEMA_SQL = """\
CREATE TABLE IF NOT EXISTS {table} (
    key             text PRIMARY KEY,
    token           jsonb,           -- Token.to_dict(), secrets in clear: restrict access
    version         bigint NOT NULL DEFAULT 0,   -- +1 on every save (compare-and-set)
    updated_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    lease_owner     text,            -- who may refresh now ...
    lease_until     timestamptz,     -- ... until then (database clock)
    inflight_sha256 text,            -- write-ahead record: SHA-256 of the refresh token sent,
    inflight_by     text,            --   by whom,
    inflight_at     timestamptz,     --   when; cleared by the save
    reauth_reason   text             -- set when Pinterest rejected the stored refresh token
)"""

_TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$")
_ROW = "version, inflight_sha256, inflight_by, extract(epoch FROM inflight_at)::float8, reauth_reason"


class PostgresTokenStore:
    """Keeps tokens in a PostgreSQL table, one row per `key`, safe across machines.

    :param conninfo: a libpq connection string or URL (`postgresql://user@host/db`).
    :param key: which token (an app's client token, one user's token among thousands).
    :param table: the table (`name` or `schema.name`); create it with `create_schema()`.
    :param lease_seconds: how long one worker may refresh before another may take over;
        `TokenSession` keeps each request under half of it (its total deadline is cut to fit).
    :param wait_seconds: how long `lock()` waits for a lease (default `2 * lease_seconds`).
    :param retry_seconds: how long a call keeps retrying after a failed connection.
    :param timeout: seconds for connecting and for each statement.
    """

    #: The test hook points; `_step` is called after each (see the module docstring).
    STEPS = ("leased", "recorded", "saving", "saved")

    def __init__(
        self,
        conninfo: str,
        key: str = "default",
        *,
        table: str = "pinterest_oauth_tokens",
        lease_seconds: float = 300.0,
        wait_seconds: Optional[float] = None,
        retry_seconds: float = 10.0,
        timeout: float = 10.0,
    ) -> None:
        if not isinstance(key, str) or not key:
            raise ValueError("key must be a non-empty string")
        if not isinstance(table, str) or not _TABLE_NAME.match(table):
            raise ValueError("table must be an identifier, optionally schema-qualified (schema.table)")
        for name, value in (("lease_seconds", lease_seconds), ("retry_seconds", retry_seconds),
                            ("timeout", timeout)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < float("inf"):
                raise ValueError(f"{name} must be a positive number of seconds")
        self.key = key
        self.table = table
        self.lease_seconds = float(lease_seconds)
        self.wait_seconds = float(wait_seconds) if wait_seconds is not None else 2 * self.lease_seconds
        if not 0 < self.wait_seconds < float("inf"):
            raise ValueError("wait_seconds must be a positive number of seconds")
        self.retry_seconds = float(retry_seconds)
        self.timeout = float(timeout)
        self._conninfo = conninfo
        self._table = sql.Identifier(*table.split("."))
        # One notification channel per row, listened to only while waiting for its lease.
        self._channel = "pinterest_oauth_" + hashlib.sha256(f"{table}\0{key}".encode()).hexdigest()[:24]
        self._listening = False
        self._conn: Optional[psycopg.Connection[Any]] = None
        self._conn_lock = threading.RLock()
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._lease: Optional[_PostgresLease] = None
        self._version: Optional[int] = None  # the row version the last load() under the lease saw

    def __repr__(self) -> str:
        return f"PostgresTokenStore(table={self.table!r}, key={self.key!r})"

    # -- schema ---------------------------------------------------------------------------

    def schema_sql(self) -> str:
        """The CREATE TABLE statement `create_schema()` runs (to review or run yourself)."""
        with self._db("render the schema") as conn:
            return sql.SQL(SCHEMA_SQL).format(table=self._table).as_string(conn)

    def create_schema(self) -> None:
        """Create the table if it does not exist (needs CREATE on the schema, not superuser)."""
        with self._db("create the token table") as conn:
            conn.execute(sql.SQL(SCHEMA_SQL).format(table=self._table))

    # -- TokenStore -----------------------------------------------------------------------

    def load(self) -> Optional[Token]:
        row = self._retrying(self._select)
        if self._depth and threading.current_thread() is self._holder:
            self._version = int(row[1]) if row is not None else None
        if row is None or row[0] is None:
            return None
        try:
            return Token.from_dict(row[0])
        except ValueError as exc:
            raise TokenStoreError(f"{self!r} does not hold a valid token: {exc}") from None

    def save(self, token: Token) -> None:
        """Save `token`. Under a lease after a `load()`: only if the row is still the version
        loaded (else `TokenConflictError`); retried after connection failures."""
        self._step("saving")
        data = Jsonb(token.to_dict())
        try:
            self._retrying(lambda: self._save_once(token, data))
        except TokenConflictError:
            raise
        except TokenStoreError as exc:
            raise TokenStoreError(f"{exc}; the token may not have been saved", token=token) from None
        self._step("saved")

    @contextlib.contextmanager
    def lock(self) -> Iterator[RefreshLease]:
        """Take this key's refresh lease (re-entrant in a thread); release it on exit."""
        with self._thread_lock:
            if self._depth:
                self._depth += 1
                try:
                    assert self._lease is not None
                    yield self._lease
                finally:
                    self._depth -= 1
                return
            lease = self._acquire()
            self._lease, self._depth, self._version, self._holder = lease, 1, None, threading.current_thread()
            try:
                self._step("leased")
                yield lease
            finally:
                self._lease, self._depth, self._version, self._holder = None, 0, None, None
                self._release(lease.owner)

    def close(self) -> None:
        """Close the database connection (the next call opens a new one)."""
        with self._conn_lock:
            self._discard()

    # -- internals ------------------------------------------------------------------------

    _holder: Optional[threading.Thread] = None

    def _q(self, text: str) -> sql.Composed:
        return sql.SQL(text).format(t=self._table)

    def _retrying(self, call: Callable[[], _R]) -> _R:
        """`call()`, again on a new connection while the connection fails (`retry_seconds`)."""
        deadline = time.monotonic() + self.retry_seconds
        delay = 0.1
        while True:
            try:
                return call()
            except _ConnectionLost as exc:
                if time.monotonic() + delay > deadline:
                    raise
                logger.warning("%s; retrying", exc)
                time.sleep(delay)
                delay = min(2 * delay, 1.0)

    def _select(self) -> Any:
        with self._db("load the token") as conn:
            return conn.execute(self._q("SELECT token, version FROM {t} WHERE key = %s"), (self.key,)).fetchone()

    def _acquire(self) -> "_PostgresLease":
        owner = f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}:{secrets.token_hex(3)}"
        deadline = time.monotonic() + self.wait_seconds
        holder = None
        while True:
            got = self._retrying(lambda: self._try_acquire(owner, deadline))
            if isinstance(got, _PostgresLease):
                self._stop_listening()
                return got
            holder = got
            if time.monotonic() >= deadline:
                break
        self._stop_listening()
        raise TokenStoreError(f"{self!r}: waited {self.wait_seconds:g} s for the refresh lease held by {holder}")

    def _stop_listening(self) -> None:
        """UNLISTEN and drop notifications received meanwhile (psycopg keeps them until read)."""
        if not self._listening:
            return
        try:
            with self._db("stop listening") as conn:
                conn.execute(sql.SQL("UNLISTEN {}").format(sql.Identifier(self._channel)))
                self._listening = False
                for _ in conn.notifies(timeout=0):
                    pass
        except TokenStoreError as exc:  # the connection is gone, and its LISTEN with it
            logger.debug("%s", exc)

    def _try_acquire(self, owner: str, deadline: float) -> "_PostgresLease | Optional[str]":
        """Take the lease (or find it is already ours: a retried attempt), else wait a little
        for a notification and return the holder."""
        with self._db("take the refresh lease") as conn:
            row = conn.execute(self._q(
                "UPDATE {t} SET lease_owner = %s, lease_until = clock_timestamp() + %s * interval '1 second' "
                "WHERE key = %s AND (lease_owner IS NULL OR lease_until <= clock_timestamp() OR lease_owner = %s) "
                "RETURNING " + _ROW), (owner, self.lease_seconds, self.key, owner)).fetchone()
            if row is not None:
                return _PostgresLease(self, owner, row)
            busy = conn.execute(self._q(
                "SELECT lease_owner, extract(epoch FROM lease_until - clock_timestamp())::float8 "
                "FROM {t} WHERE key = %s"), (self.key,)).fetchone()
            if busy is None:
                conn.execute(self._q("INSERT INTO {t} (key) VALUES (%s) ON CONFLICT (key) DO NOTHING"), (self.key,))
                return None
            if not self._listening:
                conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
                self._listening = True
            wait = min(0.2, float(busy[1] or 0.0), deadline - time.monotonic())
            if wait > 0:
                for _ in conn.notifies(timeout=wait, stop_after=1):
                    pass
            return str(busy[0])

    def _release(self, owner: str) -> None:
        def release() -> None:
            with self._db("release the refresh lease") as conn:
                conn.execute(self._q(
                    "WITH r AS (UPDATE {t} SET lease_owner = NULL, lease_until = NULL "
                    "WHERE key = %s AND lease_owner = %s RETURNING key) SELECT pg_notify(%s, key) FROM r"),
                    (self.key, owner, self._channel))
        try:
            self._retrying(release)
        except TokenStoreError as exc:  # it expires by itself
            logger.warning("%s; it expires by itself within %g s", exc, self.lease_seconds)

    def _record(self, owner: str, refresh_token: str) -> None:
        row = self._retrying(lambda: self._record_once(owner, refresh_token))
        if row is None:
            raise TokenConflictError(f"{self!r}: the refresh lease expired or the token changed; not refreshing")
        self._step("recorded")

    def _record_once(self, owner: str, refresh_token: str) -> Any:
        with self._db("write the refresh record") as conn:
            return conn.execute(self._q(
                "UPDATE {t} SET inflight_sha256 = %s, inflight_by = %s, inflight_at = clock_timestamp(), "
                "lease_until = clock_timestamp() + %s * interval '1 second' "
                "WHERE key = %s AND lease_owner = %s AND lease_until > clock_timestamp() "
                "AND version IS NOT DISTINCT FROM coalesce(%s::bigint, version) RETURNING key"),
                (refresh_token_digest(refresh_token), owner, self.lease_seconds, self.key, owner,
                 self._version)).fetchone()

    def _mark_reauthorization(self, reason: str) -> bool:
        return self._retrying(lambda: self._mark_once(reason)) is not None

    def _mark_once(self, reason: str) -> Any:
        with self._db("mark the token as needing re-authorization") as conn:
            return conn.execute(self._q(
                "WITH u AS (UPDATE {t} SET reauth_reason = %s, inflight_sha256 = NULL, inflight_by = NULL, "
                "inflight_at = NULL WHERE key = %s AND version IS NOT DISTINCT FROM coalesce(%s::bigint, version) "
                "RETURNING key) SELECT pg_notify(%s, key) FROM u"),
                (reason, self.key, self._version, self._channel)).fetchone()

    def _save_once(self, token: Token, data: Jsonb) -> None:
        under_lease = self._depth and threading.current_thread() is self._holder
        base = self._version if under_lease else None
        owner = self._lease.owner if under_lease and self._lease is not None else None
        clear = ("inflight_sha256 = NULL, inflight_by = NULL, inflight_at = NULL, reauth_reason = NULL, "
                 "updated_at = clock_timestamp()")
        with self._db("save the token") as conn:
            if base is None:
                row = conn.execute(self._q(
                    "WITH u AS (INSERT INTO {t} AS old (key, token, version) VALUES (%s, %s, 1) "
                    "ON CONFLICT (key) DO UPDATE SET token = EXCLUDED.token, version = old.version + 1, "
                    + clear + " RETURNING key, version) SELECT version, pg_notify(%s, key) FROM u"),
                    (self.key, data, self._channel)).fetchone()
            else:
                row = conn.execute(self._q(
                    "WITH u AS (UPDATE {t} SET token = %s, version = version + 1, " + clear +
                    ", lease_owner = CASE WHEN lease_owner = %s THEN NULL ELSE lease_owner END, "
                    "lease_until = CASE WHEN lease_owner = %s THEN NULL ELSE lease_until END "
                    "WHERE key = %s AND version = %s RETURNING key, version) "
                    "SELECT version, pg_notify(%s, key) FROM u"),
                    (data, owner, owner, self.key, base, self._channel)).fetchone()
                if row is None:  # changed since load(), or an earlier attempt committed
                    now = conn.execute(self._q("SELECT token, version FROM {t} WHERE key = %s"),
                                       (self.key,)).fetchone()
                    if now is None or now[0] != token.to_dict():
                        raise TokenConflictError(
                            f"{self!r}: another worker saved a newer token; this one was not saved")
        if under_lease and row is not None:
            self._version = int(row[0])

    @contextlib.contextmanager
    def _db(self, what: str) -> Iterator["psycopg.Connection[Any]"]:
        """The connection, under the connection lock; any psycopg error becomes TokenStoreError
        (and drops the connection if it is broken)."""
        with self._conn_lock:
            try:
                yield self._connection()
            except psycopg.Error as exc:
                lost = isinstance(exc, psycopg.OperationalError) or (
                    self._conn is not None and (self._conn.closed or self._conn.broken))
                if lost:
                    self._discard()
                kind = _ConnectionLost if lost else TokenStoreError
                raise kind(f"{self!r} could not {what}: {_describe(exc)}") from None

    def _connection(self) -> "psycopg.Connection[Any]":
        if self._conn is not None and not self._conn.closed and not self._conn.broken:
            return self._conn
        self._discard()
        conn = psycopg.connect(
            self._conninfo, autocommit=True, connect_timeout=max(1, round(self.timeout)),
            keepalives=1, keepalives_idle=max(1, round(self.timeout)), keepalives_interval=1,
            keepalives_count=3, tcp_user_timeout=round(self.timeout * 1000),
        )
        try:
            conn.execute(sql.SQL("SET statement_timeout = {}").format(sql.Literal(f"{round(self.timeout * 1000)}ms")))
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        self._listening = False
        return conn

    def _discard(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def _step(self, step: str) -> None:
        """Called after each of STEPS ("saving": before the save); does nothing. A test hook."""


class _ConnectionLost(TokenStoreError):
    """The database connection failed (retried by `_retrying`)."""


class _PostgresLease(RefreshLease):
    def __init__(self, store: PostgresTokenStore, owner: str, row: Any) -> None:
        self._store = store
        self.owner = owner
        if row[1] is not None:
            self.in_flight = RefreshRecord(refresh_token_sha256=row[1], by=row[2] or "?", at=float(row[3] or 0.0))
        self.reauthorization = row[4]

    def record(self, refresh_token: str) -> None:
        self._store._record(self.owner, refresh_token)

    def require_reauthorization(self, reason: str) -> bool:
        if not self._store._mark_reauthorization(reason):
            return False
        self.reauthorization = reason
        return True


def _describe(exc: BaseException) -> str:
    """Class, SQLSTATE and primary message of a psycopg error (never its DETAIL, which may
    quote data)."""
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    if not primary:
        primary = (str(exc).strip().splitlines() or [""])[0]
    state = getattr(exc, "sqlstate", None)
    return f"{type(exc).__name__}{f' [{state}]' if state else ''}: {primary}"
