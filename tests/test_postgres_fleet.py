"""Many machines, one token (issue 17): worker processes sharing a PostgresTokenStore against a
strict-rotation token server, under load, killed at each step, stalled, with the database
connection cut and the database restarted. Slow: each runs for seconds."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Iterator, Optional

import psycopg
import pytest

from conftest import CLIENT_ID, CLIENT_SECRET
from localserver import TokenServer
from pgserver import PostgresServer
from pinterest_oauth import PostgresTokenStore, RetryPolicy, Token, TokenSession
from rotation import StrictRotation

pytestmark = pytest.mark.slow

WORKER = Path(__file__).parent / "pg_worker.py"
LEASE = 6.0  # TokenSession gives each request half of it (3 s): timeouts (2, 2), one attempt; room for a loaded machine
R0 = "pinr_FLEET000000"


class Fleet:
    """A table, a strict-rotation server and the worker processes started against them."""

    def __init__(self, postgres: PostgresServer, access_life: int) -> None:
        self.postgres = postgres
        self.conninfo = postgres.conninfo
        self.table = "fleet_" + uuid.uuid4().hex[:10]
        self.strict = StrictRotation(R0, access_life)
        self.server = TokenServer(default=self.strict)
        self.procs: list[subprocess.Popen[str]] = []
        store = self.store()
        store.create_schema()
        store.save(Token.from_dict({  # expired: the first worker must refresh with R0
            "version": 1, "access_token": "pina_EXPIRED", "token_type": "bearer", "scope": "boards:read",
            "expires_in": access_life, "expires_at": time.time() - 1, "obtained_at": time.time() - 1 - access_life,
            "refresh_token": R0,
        }))

    def store(self) -> PostgresTokenStore:
        return PostgresTokenStore(self.postgres.conninfo, "app", table=self.table, lease_seconds=LEASE)

    def spawn(self, threads: int, seconds: float, margin: float, **extra: Any) -> subprocess.Popen[str]:
        cfg = {"conninfo": self.conninfo, "table": self.table, "key": "app", "url": self.server.url,
               "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "lease": LEASE, "threads": threads,
               "seconds": seconds, "margin": margin, **extra}
        proc = subprocess.Popen([sys.executable, str(WORKER), json.dumps(cfg)], text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        self.procs.append(proc)
        return proc

    def result(self, proc: subprocess.Popen[str], timeout: float = 90) -> dict[str, Any]:
        out, err = proc.communicate(timeout=timeout)
        assert proc.returncode == 0, err[-3000:]
        return json.loads(out)  # type: ignore[no-any-return]

    def row(self) -> dict[str, Any]:
        with psycopg.connect(self.postgres.conninfo) as conn:  # directly, never through a test's proxy
            cur = conn.execute(f'SELECT * FROM "{self.table}" WHERE key = %s', ("app",))
            names = [d.name for d in cur.description or []]
            found = cur.fetchone()
        assert found is not None
        return dict(zip(names, found))

    def assert_all_valid_when_handed_out(self, result: dict[str, Any]) -> None:
        for access, (first, last) in result["handed"].items():
            assert self.strict.valid_at(access, first) and self.strict.valid_at(access, last), access

    def assert_store_holds_the_live_token(self) -> None:
        row = self.row()
        live = self.strict.issued[-1]
        assert row["token"]["access_token"] == live.access and row["token"]["refresh_token"] == live.refresh
        assert row["reauth_reason"] is None and row["inflight_sha256"] is None

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGCONT)
                proc.kill()
            proc.communicate(timeout=10)  # also closes the pipes of a worker a test killed
        self.server.stop()


@pytest.fixture
def make_fleet(postgres: PostgresServer) -> Iterator[Any]:
    fleets: list[Fleet] = []

    def make(access_life: int) -> Fleet:
        fleets.append(Fleet(postgres, access_life))
        return fleets[-1]

    yield make
    for fleet in fleets:
        fleet.close()


def test_four_machines_of_eight_threads_refresh_once_per_lifetime(make_fleet: Any) -> None:
    life, margin, seconds = 4, 1.0, 30.0
    fleet: Fleet = make_fleet(life)
    procs = [fleet.spawn(threads=8, seconds=seconds, margin=margin, pause=0.02) for _ in range(4)]
    results = [fleet.result(p) for p in procs]
    for result in results:
        assert result["errors"] == {}, result["messages"]
        fleet.assert_all_valid_when_handed_out(result)
    assert fleet.strict.replays == []  # no spent refresh token was ever sent again
    refreshes = len(fleet.strict.issued)
    per_lifetime = seconds / (life - margin)  # one refresh each time the margin is reached
    print(f"\n4x8 workers, {seconds:g} s, access life {life} s: {refreshes} refreshes "
          f"(one per lifetime: {per_lifetime:.1f}); "
          f"{sum(len(r['handed']) for r in results)} (process, token) pairs")
    assert seconds / life <= refreshes <= 1.5 * per_lifetime + 2
    handed_out = set().union(*(r["handed"] for r in results))
    assert len(handed_out) >= refreshes - 1  # tokens are shared by all machines, not per worker
    fleet.assert_store_holds_the_live_token()


def _stopped(pid: int) -> bool:
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] == "T"


def stall_at(fleet: Fleet, step: str, seconds: float, requests: int) -> subprocess.Popen[str]:
    """A one-thread machine stopped (SIGSTOP) at `step` of its first refresh, after checking it
    stopped exactly there: its write-ahead record and lease in the row, the stored token not
    replaced, `requests` requests received by the server."""
    stalled = fleet.spawn(threads=1, seconds=seconds, margin=5, step=step, action="stop")
    deadline = time.monotonic() + 30
    while not _stopped(stalled.pid):
        assert time.monotonic() < deadline and stalled.poll() is None, stalled.poll()
        time.sleep(0.05)
    row = fleet.row()
    assert f":{stalled.pid}:" in (row["inflight_by"] or "") and row["lease_owner"] == row["inflight_by"], row
    assert row["version"] == 1 and row["token"]["refresh_token"] == R0 and row["reauth_reason"] is None
    assert fleet.strict.requests == requests and fleet.strict.replays == []
    return stalled


@pytest.mark.parametrize("step", ["leased", "recorded", "in_flight", "saving", "saved"])
def test_the_refreshing_machine_killed_at_each_step(make_fleet: Any, step: str) -> None:
    fleet: Fleet = make_fleet(60)
    if step == "in_flight":
        victim = fleet.spawn(threads=1, seconds=15, margin=5)

        def kill_victim(_sent: str) -> None:  # Pinterest rotated; its answer never arrives
            os.kill(victim.pid, signal.SIGKILL)
            victim.wait(5)

        fleet.strict.before_answer = kill_victim
    else:
        victim = fleet.spawn(threads=1, seconds=15, margin=5, step=step, action="kill")
    victim.wait(30)
    died = time.time()
    assert victim.returncode == -signal.SIGKILL
    lease_left = fleet.row()["lease_until"]  # the dead machine's lease runs out then (None: released)
    fleet.strict.before_answer = None
    sent_by_victim = fleet.strict.requests
    result = fleet.result(fleet.spawn(threads=4, seconds=LEASE + 4, margin=5))
    fleet.assert_all_valid_when_handed_out(result)
    if step in ("leased", "recorded", "saved"):  # nothing was lost: the others go on
        assert result["errors"] == {}, result["messages"]
        first = min(t for t, _ in result["handed"].values())
        # Measured from when the other machine was ready, or the dead one's lease ran out if later
        # (how long the other process takes to start says nothing about the store).
        free = died if lease_left is None else lease_left.timestamp()
        assert (lease_left is None) == (step == "saved") and free - died <= LEASE
        since = first - max(result["started"], free)
        print(f"\nkilled after {step!r}: first token handed out {first - died:.2f} s after the kill, "
              f"{since:.2f} s after the other machine was ready and the lease (of {LEASE:g} s) free")
        assert since < (1.5 if step == "saved" else 2.5)  # a load; a refresh after the lease
        assert fleet.strict.replays == []
        assert fleet.strict.requests == sent_by_victim + (0 if step == "saved" else 1)
        fleet.assert_store_holds_the_live_token()
    else:  # the rotated refresh token died with the victim: one try, then a clear diagnostic
        assert result["handed"] == {}
        assert set(result["errors"]) == {"pinterest_oauth.lib.session.ReauthorizationRequired"}
        message = result["messages"]["pinterest_oauth.lib.session.ReauthorizationRequired"]
        assert f":{victim.pid}:" in message and "sha256:" in message and "never saved" in message
        assert R0 not in message
        assert [sent for sent, _ in fleet.strict.replays] == [R0]  # tried exactly once
        assert fleet.strict.requests == 2
        assert fleet.row()["reauth_reason"] == message


def test_a_stalled_machine_never_overwrites_the_token_saved_after_its_lease(make_fleet: Any) -> None:
    """Stopped after writing its record (before sending): another machine refreshes after the
    lease; the stalled one wakes, sends the spent token once, and adopts the stored token."""
    fleet: Fleet = make_fleet(60)
    stalled = stall_at(fleet, "recorded", seconds=LEASE + 6, requests=0)  # R0 not sent
    other = fleet.result(fleet.spawn(threads=2, seconds=LEASE + 2, margin=5))  # first calls wait for the lease
    assert other["errors"] == {} and list(other["handed"]) == ["pina_FLEET000001"], other.get("messages")
    assert fleet.strict.requests == 1 and fleet.strict.replays == []  # R0 tried once, by the other
    os.kill(stalled.pid, signal.SIGCONT)
    woke = fleet.result(stalled)
    assert woke["errors"] == {} and list(woke["handed"]) == ["pina_FLEET000001"], woke.get("messages")
    fleet.assert_all_valid_when_handed_out(woke)
    assert [sent for sent, _ in fleet.strict.replays] == [R0]  # the spent token, sent once
    assert len(fleet.strict.issued) == 1
    fleet.assert_store_holds_the_live_token()
    assert fleet.row()["version"] == 2


def test_a_stalled_machine_cannot_overwrite_a_reauthorization(make_fleet: Any) -> None:
    """Stopped after Pinterest answered, before saving: after its lease the others find its
    record, the spent token is rejected, the user re-authorizes; the stalled machine wakes and
    its compare-and-set fails: the re-authorized token stays."""
    fleet: Fleet = make_fleet(60)
    stalled = stall_at(fleet, "saving", seconds=LEASE + 8, requests=1)  # R0 sent and rotated: pinr_FLEET000001 unsaved
    assert [i.access for i in fleet.strict.issued] == ["pina_FLEET000001"]
    other = fleet.result(fleet.spawn(threads=2, seconds=LEASE + 1.5, margin=5))  # first calls wait for the lease
    assert set(other["errors"]) == {"pinterest_oauth.lib.session.ReauthorizationRequired"}, other.get("messages")
    assert other["handed"] == {}
    assert [sent for sent, _ in fleet.strict.replays] == [R0] and fleet.strict.requests == 2  # tried once
    assert fleet.row()["reauth_reason"] == other["messages"]["pinterest_oauth.lib.session.ReauthorizationRequired"]
    fleet.strict.live = "pinr_REAUTHORIZED"
    with TokenSession(CLIENT_ID, CLIENT_SECRET, fleet.store(), host=fleet.server.url,
                      retry=RetryPolicy(max_attempts=1), timeouts=(2, 2)) as admin:
        admin.start_from_refresh_token("pinr_REAUTHORIZED")
    version = fleet.row()["version"]
    os.kill(stalled.pid, signal.SIGCONT)
    woke = fleet.result(stalled)
    assert woke["errors"] == {} and list(woke["handed"]) == ["pina_FLEET000002"], woke.get("messages")
    fleet.assert_all_valid_when_handed_out(woke)
    assert fleet.strict.requests == 3  # the stalled machine only tried to save
    assert fleet.row()["version"] == version
    fleet.assert_store_holds_the_live_token()  # pina_FLEET000002, not the stalled one's 000001
    assert fleet.row()["token"]["access_token"] == "pina_FLEET000002"


class TcpProxy:
    """127.0.0.1 forwarder to the database; `cut()` drops every open connection, `close()`
    stops it: no connection accepted after that, every socket closed, every thread ended."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.threads: list[threading.Thread] = []
        self.lock = threading.Lock()
        self.closed = False
        self.cuts = 0
        self.acceptor = threading.Thread(target=self._accept, daemon=True)
        self.acceptor.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                client.close()
                continue
            with self.lock:
                if self.closed:
                    client.close()
                    upstream.close()
                    return
                self.sockets += [client, upstream]
                for a, b in ((client, upstream), (upstream, client)):
                    pump = threading.Thread(target=self._pump, args=(a, b), daemon=True)
                    self.threads.append(pump)
                    pump.start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self) -> None:
        with self.lock:
            sockets, self.sockets = self.sockets, []
            self.cuts += 1
        for s in sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self) -> None:
        with self.lock:
            self.closed = True
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() (close alone does not)
        except OSError:
            pass
        self.listener.close()
        self.acceptor.join(timeout=10)
        self.cut()
        for pump in self.threads:
            pump.join(timeout=10)
        assert not self.acceptor.is_alive() and not any(t.is_alive() for t in self.threads)


def test_the_database_connection_cut_during_every_refresh(make_fleet: Any, postgres: PostgresServer) -> None:
    fleet: Fleet = make_fleet(3)
    proxy = TcpProxy(postgres.port)
    try:
        fleet.conninfo = f"host=127.0.0.1 port={proxy.port} dbname=postgres user=postgres"
        fleet.strict.before_answer = lambda _sent: proxy.cut()  # the refresher's save must reconnect
        procs = [fleet.spawn(threads=4, seconds=12, margin=1) for _ in range(2)]
        results = [fleet.result(p) for p in procs]
        cuts = proxy.cuts
    finally:
        proxy.close()
    for result in results:
        assert result["errors"] == {}, result["messages"]
        fleet.assert_all_valid_when_handed_out(result)
    assert cuts >= 3 and cuts == len(fleet.strict.issued)
    assert fleet.strict.replays == []
    fleet.assert_store_holds_the_live_token()


def test_the_database_restarted_while_machines_run(make_fleet: Any, postgres: PostgresServer) -> None:
    fleet: Fleet = make_fleet(3)
    procs = [fleet.spawn(threads=4, seconds=14, margin=1) for _ in range(2)]
    time.sleep(5)
    postgres.restart()
    results = [fleet.result(p) for p in procs]
    for result in results:
        assert set(result["errors"]) <= {"pinterest_oauth.lib.stores.TokenStoreError"}, result["messages"]
        fleet.assert_all_valid_when_handed_out(result)
    assert fleet.strict.replays == []
    assert len(fleet.strict.issued) >= 4
    fleet.assert_store_holds_the_live_token()
