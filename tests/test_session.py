"""`TokenSession`: a valid access token on demand, one refresh at a time, no lost refresh token."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Iterator, Optional

import pytest

from conftest import CLIENT_ID, CLIENT_SECRET
from localserver import Reply, Seen, TokenServer
from pinterest_oauth import (
    FileTokenStore,
    MemoryTokenStore,
    ReauthorizationRequired,
    RetryPolicy,
    ServerError,
    Token,
    TokenSession,
    TokenStoreError,
    UnauthorizedError,
)
from fakes import (
    A1, A2, A3, ACCESS_LIFE, BASIC_HEADER as BASIC, CODE, DAY, R1, R2, R3, REDIRECT_URI as REDIRECT, REFRESH_LIFE,
    SECRETS, T0, Clock, form, ok, run_child, token_body,
)
EXPIRY = T0 + ACCESS_LIFE  # when the first token expires
MARGIN = 300.0


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


def make_session(server: TokenServer, store: object, clock: Clock, **kwargs: object) -> TokenSession:
    kwargs.setdefault("retry", RetryPolicy(max_attempts=1))
    return TokenSession(CLIENT_ID, CLIENT_SECRET, store, host=server.url, clock=clock, **kwargs)  # type: ignore[arg-type]


def started(server: TokenServer, store: object, clock: Clock, **kwargs: object) -> TokenSession:
    """A session whose store holds A1/R1 from a code exchange at T0 (one request, then cleared)."""
    session = make_session(server, store, clock, **kwargs)
    server.enqueue(ok(token_body(A1, R1, response_type="authorization_code")))
    session.exchange_code(CODE, REDIRECT)
    server.requests.clear()
    return session


@pytest.fixture
def session_and_file(token_server: TokenServer, clock: Clock, tmp_path: Path) -> Iterator[tuple[TokenSession, Path]]:
    path = tmp_path / "token.json"
    with started(token_server, FileTokenStore(path), clock, continuous_refresh=True) as session:
        yield session, path


def assert_refresh_request(seen: Seen, refresh: str, *extra: tuple[str, str]) -> None:
    assert (seen.method, seen.path) == ("POST", "/v5/oauth/token")
    assert seen.header("Authorization") == BASIC
    assert seen.header("Content-Type") == "application/x-www-form-urlencoded"
    assert form(seen) == [("grant_type", "refresh_token"), ("refresh_token", refresh), *extra]


def test_exchange_code_sends_the_code_and_stores_absolute_times(token_server: TokenServer, clock: Clock, tmp_path: Path) -> None:
    path = tmp_path / "token.json"
    session = make_session(token_server, FileTokenStore(path), clock, continuous_refresh=True)
    token_server.enqueue(ok(token_body(A1, R1, response_type="authorization_code", refresh_at=int(T0) + REFRESH_LIFE - 5)))
    token = session.exchange_code(CODE, REDIRECT)
    [seen] = token_server.requests
    assert seen.header("Authorization") == BASIC
    assert form(seen) == [("grant_type", "authorization_code"), ("code", CODE), ("redirect_uri", REDIRECT),
                          ("continuous_refresh", "true")]
    assert token.expires_at == T0 + ACCESS_LIFE and token.obtained_at == T0
    assert token.refresh_token_expires_at == T0 + REFRESH_LIFE - 5
    assert json.loads(path.read_text()) == token.to_dict()
    assert json.loads(path.read_text())["refresh_token"] == R1
    assert session.access_token() == A1
    assert len(token_server.requests) == 1  # valid: no request
    assert CLIENT_SECRET not in repr(session)


def test_a_valid_token_is_served_without_requests_until_the_margin(session_and_file: tuple[TokenSession, Path],
                                                                    token_server: TokenServer, clock: Clock) -> None:
    session, path = session_and_file
    clock.set(EXPIRY - MARGIN - 0.001)
    assert session.access_token() == A1
    assert token_server.requests == []
    clock.set(EXPIRY - MARGIN)
    token_server.enqueue(ok(token_body(A2, R2, refresh_at=int(EXPIRY) + REFRESH_LIFE)))
    assert session.access_token() == A2
    [seen] = token_server.requests
    assert_refresh_request(seen, R1, ("continuous_refresh", "true"))
    stored = json.loads(path.read_text())
    assert stored["access_token"] == A2 and stored["refresh_token"] == R2  # the rotated token is on disk
    assert stored["expires_at"] == EXPIRY - MARGIN + ACCESS_LIFE
    assert stored["refresh_token_expires_at"] == EXPIRY + REFRESH_LIFE
    assert session.token().expires_at == EXPIRY - MARGIN + ACCESS_LIFE


def test_margin_scope_and_continuous_refresh_are_configurable(token_server: TokenServer, clock: Clock) -> None:
    session = started(token_server, MemoryTokenStore(), clock, refresh_margin=timedelta(days=2), scope="pins:read")
    clock.set(EXPIRY - 2 * DAY - 1)
    assert session.access_token() == A1
    clock.set(EXPIRY - 2 * DAY)
    token_server.enqueue(ok(token_body(A2, R2)))
    assert session.access_token() == A2
    [seen] = token_server.requests
    assert_refresh_request(seen, R1, ("scope", "pins:read"))  # continuous_refresh=None: not sent


def test_a_non_rotating_refresh_keeps_the_stored_refresh_token(session_and_file: tuple[TokenSession, Path],
                                                                token_server: TokenServer, clock: Clock) -> None:
    session, path = session_and_file
    clock.set(EXPIRY)
    token_server.enqueue(ok(token_body(A2, None)))
    assert session.access_token() == A2
    stored = json.loads(path.read_text())
    assert stored["refresh_token"] == R1 and stored["refresh_token_expires_at"] == T0 + REFRESH_LIFE


def test_32_threads_across_the_expiry_boundary_cause_one_refresh(session_and_file: tuple[TokenSession, Path],
                                                                 token_server: TokenServer, clock: Clock) -> None:
    session, path = session_and_file

    def slow_refresh(seen: Seen) -> Reply:
        time.sleep(0.3)  # every other thread arrives while this refresh is in flight
        return ok(token_body(A2, R2))

    token_server.enqueue(slow_refresh)
    clock.set(EXPIRY - MARGIN - 1)
    before: list[str] = []
    after: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(33)

    def worker() -> None:
        try:
            before.append(session.access_token())
            barrier.wait(10)  # everyone has the old token
            barrier.wait(10)  # the clock crossed the boundary
            after.append(session.access_token())
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(32)]
    for thread in threads:
        thread.start()
    barrier.wait(10)
    clock.set(EXPIRY - MARGIN + 1)
    barrier.wait(10)
    for thread in threads:
        thread.join(10)
    assert errors == []
    assert before == [A1] * 32
    assert after == [A2] * 32
    [seen] = token_server.requests
    assert_refresh_request(seen, R1, ("continuous_refresh", "true"))
    assert json.loads(path.read_text())["refresh_token"] == R2


TWO_PROCESS_CHILD = r"""
import sys
from pinterest_oauth import FileTokenStore, RetryPolicy, TokenSession
host, path, now = sys.argv[1], sys.argv[2], float(sys.argv[3])
session = TokenSession("1234567", "s3cr:t+Päss/wörd==", FileTokenStore(path), host=host,
                       retry=RetryPolicy(max_attempts=1), continuous_refresh=True, clock=lambda: now)
print("ready", flush=True)
sys.stdin.readline()
print(session.access_token(), flush=True)
"""


def test_two_processes_sharing_a_file_cause_one_refresh(session_and_file: tuple[TokenSession, Path],
                                                         token_server: TokenServer, tmp_path: Path) -> None:
    _, path = session_and_file

    def slow_refresh(seen: Seen) -> Reply:
        time.sleep(0.5)  # the other process asks while this refresh is in flight
        return ok(token_body(A2, R2))

    token_server.enqueue(slow_refresh)
    children = [run_child(TWO_PROCESS_CHILD, token_server.url, str(path), str(EXPIRY + 1), cwd=tmp_path) for _ in range(2)]
    try:
        for child in children:
            assert child.stdout is not None and child.stdout.readline() == "ready\n"
        for child in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        outputs = [child.communicate(timeout=20) for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.communicate()
    assert [child.returncode for child in children] == [0, 0], outputs
    assert [out for out, _ in outputs] == [A2 + "\n", A2 + "\n"]  # the second picked up the new token
    [seen] = token_server.requests
    assert_refresh_request(seen, R1, ("continuous_refresh", "true"))
    assert FileTokenStore(path).load() == Token.from_dict(json.loads(path.read_text()))
    assert json.loads(path.read_text())["refresh_token"] == R2


class SaveFails(FileTokenStore):
    """A file store whose save fails (at a chosen step) while `failing` is set."""

    def __init__(self, path: Path, step: str = "tmp_synced") -> None:
        super().__init__(path)
        self.failing = True
        self.fail_step = step

    def _step(self, step: str) -> None:
        if self.failing and step == self.fail_step:
            raise OSError(28, "No space left on device")


def test_a_failed_save_surfaces_keeps_the_old_token_and_is_retried_without_a_new_refresh(
        token_server: TokenServer, clock: Clock, tmp_path: Path) -> None:
    path = tmp_path / "token.json"
    store = SaveFails(path)
    store.failing = False
    session = started(token_server, store, clock)
    old_bytes = path.read_bytes()
    store.failing = True
    clock.set(EXPIRY)
    token_server.enqueue(ok(token_body(A2, R2)))
    with pytest.raises(TokenStoreError) as info:
        session.access_token()
    assert info.value.token is not None and info.value.token.refresh_token is not None
    assert info.value.token.refresh_token.get_secret_value() == R2
    assert path.read_bytes() == old_bytes  # the previous stored token is intact
    assert not any(s in str(info.value) for s in SECRETS)
    with pytest.raises(TokenStoreError):
        session.access_token()  # still failing: no new access token handed out, no new request
    assert len(token_server.requests) == 1
    store.failing = False
    assert session.access_token() == A2  # the pending token is saved first, not refreshed again
    assert len(token_server.requests) == 1
    assert json.loads(path.read_text())["refresh_token"] == R2


def test_a_failed_save_is_dropped_when_another_process_updated_the_store(
        token_server: TokenServer, clock: Clock, tmp_path: Path) -> None:
    path = tmp_path / "token.json"
    store = SaveFails(path)
    store.failing = False
    session = started(token_server, store, clock)
    store.failing = True
    clock.set(EXPIRY)
    token_server.enqueue(ok(token_body(A2, R2)))
    with pytest.raises(TokenStoreError):
        session.access_token()
    store.failing = False
    other = Token.from_dict({**json.loads(path.read_text()), "access_token": A3, "refresh_token": R3,
                             "expires_at": EXPIRY + ACCESS_LIFE})
    FileTokenStore(path).save(other)  # another process refreshed meanwhile
    assert session.access_token() == A3
    assert json.loads(path.read_text())["refresh_token"] == R3
    assert len(token_server.requests) == 1


def test_a_save_failing_after_the_rename_serves_the_token_that_is_on_disk(
        token_server: TokenServer, clock: Clock, tmp_path: Path) -> None:
    path = tmp_path / "token.json"
    store = SaveFails(path, step="renamed")
    store.failing = False
    session = started(token_server, store, clock)
    store.failing = True
    clock.set(EXPIRY)
    token_server.enqueue(ok(token_body(A2, R2)))
    with pytest.raises(TokenStoreError) as info:
        session.access_token()
    assert info.value.committed
    store.failing = False
    assert session.access_token() == A2
    assert len(token_server.requests) == 1


class RaisingStore(MemoryTokenStore):
    def __init__(self) -> None:
        super().__init__()
        self.fail = False

    def save(self, token: Token) -> None:
        if self.fail:
            raise RuntimeError("database is down")
        super().save(token)


def test_any_exception_from_a_custom_store_becomes_token_store_error(token_server: TokenServer, clock: Clock) -> None:
    store = RaisingStore()
    session = started(token_server, store, clock)
    old = store.load()
    store.fail = True
    clock.set(EXPIRY)
    token_server.enqueue(ok(token_body(A2, R2)))
    with pytest.raises(TokenStoreError) as info:
        session.access_token()
    assert isinstance(info.value.__cause__, RuntimeError)
    assert store.load() == old


@pytest.mark.parametrize("reply", [
    Reply(401, body=b'{"code": 283, "message": "Authorization grant is invalid, expired or revoked"}'),
    Reply(400, body=b'{"error": "invalid_grant", "error_description": "refresh token revoked"}'),
])
def test_a_rejected_refresh_token_asks_for_reauthorization_and_keeps_the_store(
        session_and_file: tuple[TokenSession, Path], token_server: TokenServer, clock: Clock, reply: Reply) -> None:
    session, path = session_and_file
    before = path.read_bytes()
    clock.set(EXPIRY)
    token_server.enqueue(reply)
    with pytest.raises(ReauthorizationRequired) as info:
        session.access_token()
    err = info.value
    assert err.status == reply.status
    assert (err.code, err.error) in {(283, None), (None, "invalid_grant")}
    assert "authorize the app again" in str(err)
    assert err.__cause__ is not None and getattr(err.__cause__, "is_invalid_grant") is True
    assert not any(s in str(err) for s in SECRETS)
    assert path.read_bytes() == before


def test_other_errors_are_not_reauthorization(session_and_file: tuple[TokenSession, Path],
                                              token_server: TokenServer, clock: Clock) -> None:
    session, path = session_and_file
    before = path.read_bytes()
    clock.set(EXPIRY)
    token_server.enqueue(Reply(401, body=b'{"code": 2, "message": "Authentication failed."}'))
    with pytest.raises(UnauthorizedError) as info:
        session.access_token()
    assert not isinstance(info.value, ReauthorizationRequired)
    assert path.read_bytes() == before


def test_an_empty_store_asks_for_authorization_without_a_request(token_server: TokenServer, clock: Clock) -> None:
    session = make_session(token_server, MemoryTokenStore(), clock)
    with pytest.raises(ReauthorizationRequired, match="exchange_code"):
        session.access_token()
    assert token_server.requests == []


def test_a_corrupt_store_is_an_error_not_a_new_authorization(token_server: TokenServer, clock: Clock, tmp_path: Path) -> None:
    path = tmp_path / "token.json"
    path.write_text('{"version": 1, "access_tok')
    session = make_session(token_server, FileTokenStore(path), clock)
    with pytest.raises(TokenStoreError, match="not valid JSON"):
        session.access_token()
    assert token_server.requests == []


def test_start_from_refresh_token(token_server: TokenServer, clock: Clock, tmp_path: Path) -> None:
    path = tmp_path / "token.json"
    session = make_session(token_server, FileTokenStore(path), clock, continuous_refresh=False)
    token_server.enqueue(ok(token_body(A2, R2)))
    token = session.start_from_refresh_token(R1)
    [seen] = token_server.requests
    assert_refresh_request(seen, R1, ("continuous_refresh", "false"))
    assert token.refresh_token is not None and token.refresh_token.get_secret_value() == R2
    assert FileTokenStore(path).load() == token
    assert session.access_token() == A2


def test_start_from_a_non_rotating_refresh_keeps_the_given_token(token_server: TokenServer, clock: Clock) -> None:
    store = MemoryTokenStore()
    session = make_session(token_server, store, clock)
    token_server.enqueue(ok(token_body(A2, None)))
    token = session.start_from_refresh_token(R1)
    assert token.refresh_token is not None and token.refresh_token.get_secret_value() == R1
    assert token.refresh_token_expires_at is None
    assert store.load() == token


def test_start_from_a_rejected_refresh_token(token_server: TokenServer, clock: Clock) -> None:
    store = MemoryTokenStore()
    session = make_session(token_server, store, clock)
    token_server.enqueue(Reply(401, body=b'{"code": 283, "message": "Authorization grant is invalid"}'))
    with pytest.raises(ReauthorizationRequired):
        session.start_from_refresh_token(R1)
    assert store.load() is None


def test_a_transient_failure_before_expiry_keeps_serving_the_valid_token(
        session_and_file: tuple[TokenSession, Path], token_server: TokenServer, clock: Clock,
        caplog: pytest.LogCaptureFixture) -> None:
    session, path = session_and_file
    clock.set(EXPIRY - 200)  # inside the margin, still valid
    token_server.enqueue(Reply(503, body=b'{"code": 1, "message": "unavailable"}'))
    with caplog.at_level(logging.WARNING, logger="pinterest_oauth"):
        assert session.access_token() == A1
    assert "refreshing the access token failed (ServerError)" in caplog.text
    assert len(token_server.requests) == 1
    clock.set(EXPIRY - 200 + 29)
    assert session.access_token() == A1  # within retry_refresh_after: no new request
    assert len(token_server.requests) == 1
    clock.set(EXPIRY - 200 + 30)
    token_server.enqueue(ok(token_body(A2, R2)))
    assert session.access_token() == A2
    assert len(token_server.requests) == 2
    assert json.loads(path.read_text())["refresh_token"] == R2


def test_a_transient_failure_after_expiry_is_raised(session_and_file: tuple[TokenSession, Path],
                                                    token_server: TokenServer, clock: Clock) -> None:
    session, _ = session_and_file
    clock.set(EXPIRY)
    token_server.enqueue(Reply(500, body=b'{"code": 1, "message": "oops"}'))
    with pytest.raises(ServerError):
        session.access_token()


def test_refresh_forces_a_request_unless_another_process_already_refreshed(
        session_and_file: tuple[TokenSession, Path], token_server: TokenServer, clock: Clock) -> None:
    session, path = session_and_file
    token_server.enqueue(ok(token_body(A2, R2)))
    assert session.refresh().access_token.get_secret_value() == A2
    assert len(token_server.requests) == 1
    newer = Token.from_dict({**json.loads(path.read_text()), "access_token": A3, "refresh_token": R3})
    FileTokenStore(path).save(newer)
    assert session.refresh() == newer  # picked up, no request
    assert len(token_server.requests) == 1


def test_a_warning_when_the_refresh_token_nears_its_expiry(token_server: TokenServer, clock: Clock,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    store = MemoryTokenStore()
    session = make_session(token_server, store, clock, warn_refresh_days=10)
    token_server.enqueue(ok(token_body(A1, R1, refresh_in=12 * int(DAY), response_type="authorization_code")))
    with caplog.at_level(logging.WARNING, logger="pinterest_oauth"):
        session.exchange_code(CODE, REDIRECT)
        assert caplog.records == []
        clock.set(T0 + 2 * DAY + 1)
        session.access_token()
        session.access_token()
    [record] = caplog.records
    assert record.name == "pinterest_oauth.session"
    assert "refresh token expires in 10.0 days" in record.getMessage()
    assert not any(s in record.getMessage() for s in SECRETS)


def test_no_secret_reaches_the_debug_log(session_and_file: tuple[TokenSession, Path], token_server: TokenServer,
                                         clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    session, _ = session_and_file
    clock.set(EXPIRY)
    token_server.enqueue(ok(token_body(A2, R2)), Reply(503, body=b"{}"))
    with caplog.at_level(logging.DEBUG, logger="pinterest_oauth"):
        session.access_token()
        clock.set(EXPIRY + ACCESS_LIFE - 100)
        session.access_token()
    assert "POST" in caplog.text  # the transport's debug log ran
    assert not any(s in caplog.text for s in SECRETS)


def test_arguments_are_checked(token_server: TokenServer, clock: Clock) -> None:
    with pytest.raises(TypeError):
        TokenSession(CLIENT_ID, CLIENT_SECRET, object(), host=token_server.url)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        make_session(token_server, MemoryTokenStore(), clock, refresh_margin=-1)


class CommitOnRelease(MemoryTokenStore):
    """A transactional store: save stages the token, releasing the lock commits it (or fails)."""

    def __init__(self) -> None:
        super().__init__()
        self.staged: Optional[Token] = None
        self.commit_fails = False

    def save(self, token: Token) -> None:
        self.staged = token

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        with super().lock():
            self.staged = None
            yield
            if self.staged is not None:
                staged, self.staged = self.staged, None
                if self.commit_fails:
                    raise RuntimeError("commit failed")
                MemoryTokenStore.save(self, staged)


def test_a_commit_failing_when_the_lock_is_released_counts_as_a_failed_save(token_server: TokenServer,
                                                                            clock: Clock) -> None:
    store = CommitOnRelease()
    session = started(token_server, store, clock)
    old = store.load()
    assert old is not None and old.access_token.get_secret_value() == A1
    store.commit_fails = True
    clock.set(EXPIRY)
    token_server.enqueue(ok(token_body(A2, R2)))
    with pytest.raises(TokenStoreError, match="may not have been saved") as info:
        session.access_token()
    assert isinstance(info.value.__cause__, RuntimeError)
    assert info.value.token is not None and info.value.token.access_token.get_secret_value() == A2
    assert store.load() == old
    with pytest.raises(TokenStoreError):
        session.access_token()  # the unsaved token is never handed out
    store.commit_fails = False
    assert session.access_token() == A2  # saved now, without a second refresh
    assert len(token_server.requests) == 1
    saved = store.load()
    assert saved is not None and saved.refresh_token is not None and saved.refresh_token.get_secret_value() == R2


class FailsOnce(MemoryTokenStore):
    """A store whose next save fails once (then works), counting saves."""

    def __init__(self) -> None:
        super().__init__()
        self.fail_next = False
        self.saves = 0

    def save(self, token: Token) -> None:
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("database is down")
        self.saves += 1
        super().save(token)


@pytest.mark.parametrize("stored_before", [False, True])
def test_a_code_exchange_whose_save_failed_is_saved_first_by_the_next_call(
        token_server: TokenServer, clock: Clock, stored_before: bool) -> None:
    store = FailsOnce()
    session = started(token_server, store, clock) if stored_before else make_session(token_server, store, clock)
    old = store.load()
    store.fail_next = True
    token_server.enqueue(ok(token_body(A2, R2, response_type="authorization_code")))
    with pytest.raises(TokenStoreError) as info:
        session.exchange_code(CODE, REDIRECT)
    assert info.value.token is not None and info.value.token.access_token.get_secret_value() == A2
    assert "the next call will try again" in str(info.value)
    assert not any(s in str(info.value) for s in SECRETS)
    assert store.load() == old  # nothing half-written
    saves = store.saves
    assert session.access_token() == A2  # saved first, no request, no ReauthorizationRequired
    assert store.saves == saves + 1
    stored = store.load()
    assert stored is not None and stored.refresh_token is not None and stored.refresh_token.get_secret_value() == R2
    [seen] = token_server.requests  # the exchange only
    assert form(seen)[:3] == [("grant_type", "authorization_code"), ("code", CODE), ("redirect_uri", REDIRECT)]


def test_a_failed_save_after_start_from_refresh_token_is_saved_first_by_the_next_call(
        token_server: TokenServer, clock: Clock, tmp_path: Path) -> None:
    path = tmp_path / "token.json"
    store = SaveFails(path)  # the real file store, failing on its first save
    session = make_session(token_server, store, clock)
    token_server.enqueue(ok(token_body(A2, R2)))
    with pytest.raises(TokenStoreError) as info:
        session.start_from_refresh_token(R1)
    assert info.value.token is not None and not path.exists()
    store.failing = False
    assert session.token().refresh_token == info.value.token.refresh_token
    assert json.loads(path.read_text())["refresh_token"] == R2
    assert len(token_server.requests) == 1
