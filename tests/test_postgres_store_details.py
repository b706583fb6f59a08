"""`PostgresTokenStore` details against a real PostgreSQL server (tests/pgserver.py): argument
checks, the lease owner and holder named in errors, saves retried or repeated under one lease,
a failed re-authorization mark, which errors are retried, the statement timeout."""

from __future__ import annotations

import re
import socket
import threading
import time
import uuid
from typing import Any

import psycopg
import pytest

from pgserver import PostgresServer
from pinterest_oauth import PostgresTokenStore, TokenConflictError, TokenStoreError
from test_postgres_store import row, store, table, token

__all__ = ["table"]  # the fixture


@pytest.mark.parametrize("name", ["lease_seconds", "retry_seconds", "timeout", "wait_seconds"])
@pytest.mark.parametrize("value", [0, 0.0, -0.5, -1, float("inf"), float("nan"), True, "5"])
def test_durations_must_be_positive_finite_numbers(name: str, value: Any) -> None:
    if name == "wait_seconds" and value in ("5", True):
        return  # float() of these is a number: wait_seconds takes what float() takes
    with pytest.raises(ValueError, match=f"^{name} must be a positive number of seconds$"):
        PostgresTokenStore("host=127.0.0.1", "k", **{name: value})


def test_the_lease_owner_names_the_machine_process_and_thread(postgres: PostgresServer, table: str) -> None:
    s = store(postgres, table)
    with s.lock():
        owner = row(postgres, table)["lease_owner"]
    assert re.fullmatch(rf"{re.escape(socket.gethostname())}:\d+:{threading.get_ident()}:[0-9a-f]{{6}}", owner)
    assert row(postgres, table)["lease_owner"] is None


def test_a_row_created_by_a_lease_holds_no_token_yet(postgres: PostgresServer, table: str) -> None:
    s = store(postgres, table)
    with s.lock():
        assert s.load() is None
    assert s.load() is None and row(postgres, table)["token"] is None


def test_a_waiter_that_gives_up_names_the_holder(postgres: PostgresServer, table: str) -> None:
    holder, waiter = store(postgres, table), store(postgres, table, wait_seconds=0.5)
    with holder.lock():
        owner = row(postgres, table)["lease_owner"]
        with pytest.raises(TokenStoreError) as caught:
            waiter.lock().__enter__()
    assert str(caught.value) == f"{waiter!r}: waited 0.5 s for the refresh lease held by {owner}"


def test_saves_under_one_lease_follow_each_other(postgres: PostgresServer, table: str) -> None:
    s = store(postgres, table)
    s.save(token("pina_A"))
    with s.lock():
        s.load()
        s.save(token("pina_B"))
        s.save(token("pina_C"))  # the lease's version moved on with the first save
    assert s.load() == token("pina_C") and row(postgres, table)["version"] == 3


def test_a_save_already_committed_is_not_a_conflict(postgres: PostgresServer, table: str) -> None:
    """A save retried after its first attempt committed finds the row already holds its token."""
    s, other = store(postgres, table), store(postgres, table)
    s.save(token("pina_A"))
    with s.lock():
        s.load()
        other.save(token("pina_SAME"))  # the row moved on, to exactly the token this save writes
        s.save(token("pina_SAME"))
    assert s.load() == token("pina_SAME") and row(postgres, table)["version"] == 2


def test_a_reauthorization_mark_on_a_row_that_moved_on_fails(postgres: PostgresServer, table: str) -> None:
    s, other = store(postgres, table), store(postgres, table)
    s.save(token("pina_A"))
    with s.lock() as lease:
        s.load()
        other.save(token("pina_NEWER"))  # someone re-authorized meanwhile
        assert lease.require_reauthorization("rejected") is False
        assert lease.reauthorization is None
    assert row(postgres, table)["reauth_reason"] is None


def test_an_sql_error_is_not_retried(postgres: PostgresServer) -> None:
    missing = PostgresTokenStore(postgres.conninfo, "k", table="no_such_table", retry_seconds=10)
    started = time.monotonic()
    with pytest.raises(TokenStoreError) as caught:
        missing.load()
    assert time.monotonic() - started < 5
    assert type(caught.value) is TokenStoreError
    assert str(caught.value) == (f"{missing!r} could not load the token: "
                                 'UndefinedTable [42P01]: relation "no_such_table" does not exist')


def test_a_failed_connection_says_why_on_one_line(postgres: PostgresServer) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: refused
        down = PostgresTokenStore(f"host=127.0.0.1 port={port} dbname=postgres", "k", retry_seconds=0.1, timeout=2)
        with pytest.raises(TokenStoreError) as caught:
            down.load()
    text = str(caught.value)
    assert text.startswith(f"{down!r} could not load the token: OperationalError: connection ")
    assert "\n" not in text and "refused" in text


def test_a_statement_waiting_on_a_lock_is_cut_at_the_timeout(postgres: PostgresServer, table: str) -> None:
    s = store(postgres, table, timeout=1, retry_seconds=0.1)
    s.save(token("pina_A"))
    with psycopg.connect(postgres.conninfo) as blocker:
        blocker.execute(f'SELECT * FROM "{table}" FOR UPDATE')  # holds the row lock (open transaction)
        started = time.monotonic()
        with pytest.raises(TokenStoreError, match=r"QueryCanceled \[57014\]: canceling statement due to statement timeout"):
            s.save(token("pina_B"))
        assert time.monotonic() - started < 8
    assert s.load() == token("pina_A")


def test_the_next_lease_sees_who_recorded_what_and_when(postgres: PostgresServer, table: str) -> None:
    s = store(postgres, table, lease_seconds=0.5)
    s.save(token("pina_A", "pinr_TESTPG0"))
    ctx = s.lock()
    ctx.__enter__()
    s.load()
    before = time.time()
    s._lease.record("pinr_TESTPG0")  # type: ignore[union-attr]
    after = time.time()
    record = row(postgres, table)
    del ctx  # the holder "dies" without releasing
    time.sleep(0.6)  # its lease expires
    with store(postgres, table).lock() as lease:
        assert lease.in_flight is not None
        assert lease.in_flight.by == record["inflight_by"] == record["lease_owner"]
        assert before - 1 <= lease.in_flight.at <= after + 1  # the database clock, seconds since the epoch
        assert lease.in_flight.at == record["inflight_at"].timestamp()


def test_a_table_name_must_be_an_identifier() -> None:
    for bad in ("bad name", 'x"; DROP TABLE y; --', "a.b.c", "1abc", ""):
        with pytest.raises(ValueError, match=r"^table must be an identifier, optionally schema-qualified"):
            PostgresTokenStore("host=127.0.0.1", "k", table=bad)


def backends(postgres: PostgresServer, name: str) -> list[int]:
    with psycopg.connect(postgres.conninfo) as conn:
        return [r[0] for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s",
                                           (name,)).fetchall()]


def test_one_connection_is_kept_across_calls_and_sql_errors(postgres: PostgresServer, table: str) -> None:
    name = "reuse_" + uuid.uuid4().hex[:8]
    s = PostgresTokenStore(f"{postgres.conninfo} application_name={name}", "k", table=table)
    missing = PostgresTokenStore(f"{postgres.conninfo} application_name={name}x", "k", table="no_such_table")
    try:
        s.load()
        first = backends(postgres, name)
        s.save(token("pina_A"))
        s.load()
        assert backends(postgres, name) == first and len(first) == 1
        for _ in range(2):
            with pytest.raises(TokenStoreError):
                missing.load()
            assert len(backends(postgres, name + "x")) == 1
        kept = backends(postgres, name + "x")
        with pytest.raises(TokenStoreError):
            missing.load()
        assert backends(postgres, name + "x") == kept  # an SQL error leaves the connection usable
    finally:
        s.close()
        missing.close()


def test_a_refused_connection_is_retried_until_retry_seconds(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        down = PostgresTokenStore(f"host=127.0.0.1 port={port} dbname=postgres", "k", retry_seconds=1.5, timeout=2)
        started = time.monotonic()
        with caplog.at_level("WARNING", logger="pinterest_oauth.stores"), pytest.raises(TokenStoreError):
            down.load()
    assert time.monotonic() - started >= 0.7  # slept 0.1 + 0.2 + 0.4 (+ 0.8) between attempts
    assert sum("; retrying" in r.getMessage() for r in caplog.records) >= 3


def test_a_nested_lock_leaves_the_outer_lease_in_force(postgres: PostgresServer, table: str) -> None:
    s, other = store(postgres, table), store(postgres, table)
    s.save(token("pina_A"))
    with s.lock() as outer:
        with s.lock() as inner:
            assert inner is outer
        s.load()
        other.save(token("pina_NEWER"))
        with pytest.raises(TokenConflictError):
            s.save(token("pina_STALE"))  # still a compare-and-set under the outer lease
    assert s.load() == token("pina_NEWER")
