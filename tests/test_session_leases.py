"""TokenSession with a store whose lock yields a `RefreshLease` (a store shared by machines),
without a database: `LeasingStore` keeps the token in memory and scripts what its lease says
(a dead holder's unfinished refresh, a re-authorization mark, a lease lost at `record()`,
`save()` or `require_reauthorization()`) and logs every call. Requests go to the local token
server. tests/test_postgres_store.py runs the same paths against a real database; these are
the fast ones `make mutate` runs for every mutant of session.py."""

from __future__ import annotations

import contextlib
import hashlib
import logging
from typing import Iterator, Optional

import pytest

from conftest import CLIENT_ID, CLIENT_SECRET
from fakes import A1, A2, A3, ACCESS_LIFE, R1, R2, R3, SECRETS, T0, Clock, form, make_token, ok, token_body
from localserver import Reply, TokenServer
from pinterest_oauth import (
    PinterestApiError, ReauthorizationRequired, RefreshLease, RefreshRecord, RetryPolicy, Timeouts, Token,
    TokenConflictError, TokenSession, TokenStoreError,
)

EXPIRED = T0 + ACCESS_LIFE  # the clock when the token saved at T0 must be refreshed
REJECTED = Reply(401, body=b'{"code": 283, "message": "Authorization grant is invalid, expired or revoked"}')
DEAD_HOLDER = RefreshRecord(hashlib.sha256(R1.encode()).hexdigest(), "host9:123:4:dead", T0 - 60)


class LeasingStore:
    """An in-memory store whose `lock()` yields a `ScriptedLease`.

    `lost_at` ("record", "save" or "mark") is where the next lease turns out to be lost: there
    the stored token becomes `winner` (what another worker saved meanwhile; None: nothing) and
    the lease says so (TokenConflictError, or False from `require_reauthorization`). `calls`
    lists (method, argument) in order.
    """

    def __init__(self, token: Optional[Token], *, lease_seconds: Optional[float] = None) -> None:
        self.token = token
        self.lease_seconds = lease_seconds
        self.in_flight: Optional[RefreshRecord] = None
        self.reauthorization: Optional[str] = None
        self.lost_at: Optional[str] = None
        self.winner: Optional[Token] = None
        self.calls: list[tuple[str, str]] = []

    def load(self) -> Optional[Token]:
        self.calls.append(("load", ""))
        return self.token

    def save(self, token: Token) -> None:
        self.calls.append(("save", token.access_token.get_secret_value()))
        if self.lose("save"):
            raise TokenConflictError("a newer token is stored")
        self.token, self.reauthorization, self.in_flight = token, None, None

    def lose(self, step: str) -> bool:
        if self.lost_at != step:
            return False
        self.lost_at, self.token = None, self.winner
        return True

    @contextlib.contextmanager
    def lock(self) -> Iterator[object]:
        self.calls.append(("lock", ""))
        yield ScriptedLease(self)

    def __repr__(self) -> str:
        return "LeasingStore()"


class ScriptedLease(RefreshLease):
    def __init__(self, store: LeasingStore) -> None:
        self.store = store
        self.in_flight = store.in_flight
        self.reauthorization = store.reauthorization

    def record(self, refresh_token: str) -> None:
        self.store.calls.append(("record", refresh_token))
        if self.store.lose("record"):
            raise TokenConflictError("the lease was taken over")

    def require_reauthorization(self, reason: str) -> bool:
        self.store.calls.append(("require_reauthorization", reason))
        if self.store.lose("mark"):
            return False
        self.store.reauthorization = reason
        return True


class Transaction:
    """What a store's lock may yield that is not a lease (say, its database transaction)."""


class TransactionStore(LeasingStore):
    """A store whose lock yields a `Transaction`: the session uses no lease with it."""

    @contextlib.contextmanager
    def lock(self) -> Iterator[object]:
        self.calls.append(("lock", ""))
        yield Transaction()


def session_for(server: TokenServer, store: object, clock: Clock, **kwargs: object) -> TokenSession:
    return TokenSession(CLIENT_ID, CLIENT_SECRET, store, host=server.url, clock=clock,  # type: ignore[arg-type]
                        retry=RetryPolicy(max_attempts=1), **kwargs)


def sent_refresh_tokens(server: TokenServer) -> list[str]:
    return [dict(form(seen))["refresh_token"] for seen in server.requests]


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "pinterest_oauth.session" and r.levelno == logging.WARNING]


LOST = "the refresh lease expired and another worker saved a token meanwhile; using the stored token"


# -- each request's deadline under a lease --------------------------------------------------------

@pytest.mark.parametrize(("lease", "timeouts", "total"), [
    (5, None, 2.5),  # default total 60 s, cut to half the lease
    (0.5, None, 0.25),  # leases under a second too
    (10.0, (1, 2, 8), 5.0),
    (10.0, (1, 2, 4), 4.0),  # half the lease is more than the timeout's total: kept
    (200, None, 60.0),
    (None, None, 60.0),  # no lease_seconds: no cut
])
def test_each_request_gets_at_most_half_the_lease(token_server: TokenServer, lease: Optional[float],
                                                  timeouts: object, total: float) -> None:
    session = session_for(token_server, LeasingStore(None, lease_seconds=lease), Clock(), timeouts=timeouts)
    connect, read = (10.0, 30.0) if timeouts is None else timeouts[:2]  # type: ignore[index]
    assert session.request_timeouts == Timeouts(connect=connect, read=read, total=total)


@pytest.mark.parametrize("lease", [0, 0.0, -1, float("inf"), float("nan"), True, "5"])
def test_a_lease_that_is_not_a_positive_number_of_seconds_is_refused(token_server: TokenServer, lease: object) -> None:
    with pytest.raises(ValueError) as info:
        session_for(token_server, LeasingStore(None, lease_seconds=lease), Clock())  # type: ignore[arg-type]
    assert str(info.value) == "LeasingStore.lease_seconds must be a positive number of seconds or None"


# -- before sending: the mark and the write-ahead record ------------------------------------------

def test_a_refresh_is_recorded_before_it_is_sent(token_server: TokenServer) -> None:
    store = LeasingStore(make_token(A1, R1))
    token_server.enqueue(ok(token_body(A2, R2)))
    assert session_for(token_server, store, Clock(EXPIRED)).access_token() == A2
    assert store.calls == [("lock", ""), ("load", ""), ("record", R1), ("save", A2)]
    assert sent_refresh_tokens(token_server) == [R1]


def test_a_token_marked_for_reauthorization_is_not_sent_again(token_server: TokenServer) -> None:
    store = LeasingStore(make_token(A1, R1))
    store.reauthorization = "Pinterest rejected the refresh token (marked by host9:123:4:dead)"
    with pytest.raises(ReauthorizationRequired) as info:
        session_for(token_server, store, Clock(EXPIRED)).access_token()
    assert str(info.value) == store.reauthorization
    assert token_server.requests == [] and ("record", R1) not in store.calls


def test_a_lock_yielding_no_lease_is_used_as_a_plain_lock(token_server: TokenServer) -> None:
    """Nothing recorded, nothing marked: a rejection is raised as Pinterest gave it."""
    store = TransactionStore(make_token(A1, R1))
    clock = Clock(EXPIRED)
    session = session_for(token_server, store, clock)
    token_server.enqueue(ok(token_body(A2, R2)), REJECTED)
    assert session.access_token() == A2
    clock.set(EXPIRED + ACCESS_LIFE)
    with pytest.raises(ReauthorizationRequired) as info:
        session.access_token()
    assert str(info.value).startswith("Pinterest rejected the refresh token (")
    assert str(info.value).endswith("the user must authorize the app again; the stored token was left as it was")
    assert (info.value.status, info.value.code) == (401, 283)
    assert [call for call, _ in store.calls] == ["lock", "load", "save", "lock", "load"]
    assert sent_refresh_tokens(token_server) == [R1, R2]
    assert store.token is not None and store.token.access_token.get_secret_value() == A2


def test_a_dead_holders_rejected_refresh_token_is_marked_for_every_worker(
        token_server: TokenServer, caplog: pytest.LogCaptureFixture) -> None:
    store = LeasingStore(make_token(A1, R1))
    store.in_flight = DEAD_HOLDER
    token_server.enqueue(REJECTED)
    with caplog.at_level(logging.WARNING, "pinterest_oauth.session"), pytest.raises(ReauthorizationRequired) as info:
        session_for(token_server, store, Clock(EXPIRED)).access_token()
    text = str(info.value)
    assert text.startswith("Pinterest rejected the refresh token (")
    assert text.endswith("; an earlier refresh had not finished: " + DEAD_HOLDER.describe()
                         + ", and its answer (the new refresh token) was never saved")
    assert (info.value.status, info.value.code) == (401, 283)
    assert isinstance(info.value.__cause__, PinterestApiError) and info.value.__cause__.status == 401
    assert not any(s in text for s in SECRETS)
    assert warnings(caplog) == [f"a refresh did not finish ({DEAD_HOLDER.describe()}); trying that refresh token once"]
    assert store.calls == [("lock", ""), ("load", ""), ("record", R1), ("require_reauthorization", text)]
    assert store.reauthorization == text
    # Another worker (a new session) raises the same without sending the spent token again.
    with pytest.raises(ReauthorizationRequired) as again:
        session_for(token_server, store, Clock(EXPIRED)).access_token()
    assert str(again.value) == text
    assert sent_refresh_tokens(token_server) == [R1]


def test_a_rejection_not_marked_because_another_worker_saved_uses_that_token(
        token_server: TokenServer, caplog: pytest.LogCaptureFixture) -> None:
    store = LeasingStore(make_token(A1, R1))
    store.lost_at, store.winner = "mark", make_token(A3, R3, sent_at=EXPIRED - 1)
    token_server.enqueue(REJECTED)
    with caplog.at_level(logging.WARNING, "pinterest_oauth.session"):
        assert session_for(token_server, store, Clock(EXPIRED)).access_token() == A3
    assert store.reauthorization is None and warnings(caplog) == [LOST]
    assert sent_refresh_tokens(token_server) == [R1]


# -- a lease lost half-way ------------------------------------------------------------------------

def test_a_lease_lost_before_sending_uses_the_token_another_worker_saved(
        token_server: TokenServer, caplog: pytest.LogCaptureFixture) -> None:
    store = LeasingStore(make_token(A1, R1))
    store.lost_at, store.winner = "record", make_token(A3, R3, sent_at=EXPIRED - 1)
    session = session_for(token_server, store, Clock(EXPIRED))
    with caplog.at_level(logging.WARNING, "pinterest_oauth.session"):
        assert session.access_token() == A3
        assert session.access_token() == A3  # handed out again without the store
    assert token_server.requests == []
    assert store.calls == [("lock", ""), ("load", ""), ("record", R1), ("load", "")]
    assert warnings(caplog) == [LOST]


@pytest.mark.parametrize("winner", [None, make_token(A3, R3)], ids=["store emptied", "expired token"])
def test_a_lease_lost_before_sending_with_no_valid_token_stored_is_an_error(
        token_server: TokenServer, winner: Optional[Token]) -> None:
    store = LeasingStore(make_token(A1, R1))
    store.lost_at, store.winner = "record", winner
    with pytest.raises(TokenStoreError) as info:
        session_for(token_server, store, Clock(EXPIRED)).access_token()
    assert str(info.value) == "LeasingStore(): the refresh lease was lost and the stored token is not valid; try again"
    assert info.value.token is None and token_server.requests == []
    assert store.token is winner


def test_a_lease_lost_while_saving_adopts_the_newer_token_and_keeps_it(
        token_server: TokenServer, caplog: pytest.LogCaptureFixture) -> None:
    store = LeasingStore(make_token(A1, R1))
    newer = make_token(A3, R3, sent_at=EXPIRED - 1)
    store.lost_at, store.winner = "save", newer
    token_server.enqueue(ok(token_body(A2, R2)))
    session = session_for(token_server, store, Clock(EXPIRED))
    with caplog.at_level(logging.WARNING, "pinterest_oauth.session"):
        assert session.access_token() == A3
        assert session.access_token() == A3
    assert store.token is newer  # never overwritten by the late worker
    assert store.calls == [("lock", ""), ("load", ""), ("record", R1), ("save", A2), ("load", "")]
    assert sent_refresh_tokens(token_server) == [R1] and warnings(caplog) == [LOST]


def test_a_lease_lost_while_saving_hands_out_the_new_token_once_if_no_valid_one_is_stored(
        token_server: TokenServer) -> None:
    """The late worker's new token is good (Pinterest just issued it), but it is not stored: it
    is handed out by this call only, and the next call goes back to the store."""
    store = LeasingStore(make_token(A1, R1))
    store.lost_at, store.winner = "save", make_token(A3, R3)  # expired by now
    token_server.enqueue(ok(token_body(A2, R2)), ok(token_body(A1, R1)))
    session = session_for(token_server, store, Clock(EXPIRED))
    assert session.access_token() == A2
    assert store.token is store.winner
    assert session.access_token() == A1  # the stored token, refreshed
    assert sent_refresh_tokens(token_server) == [R1, R3]
    assert store.token is not None and store.token.access_token.get_secret_value() == A1


def test_a_lease_lost_while_saving_into_an_emptied_store_hands_out_the_new_token_once(
        token_server: TokenServer) -> None:
    store = LeasingStore(make_token(A1, R1))
    store.lost_at = "save"  # winner None: the stored token was deleted meanwhile
    token_server.enqueue(ok(token_body(A2, R2)))
    session = session_for(token_server, store, Clock(EXPIRED))
    assert session.access_token() == A2
    with pytest.raises(ReauthorizationRequired, match="^no token in LeasingStore"):
        session.access_token()
    assert store.token is None and sent_refresh_tokens(token_server) == [R1]
