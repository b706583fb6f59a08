"""Details of TokenSession the scenario tests do not pin down (found by `make mutate`)."""

from __future__ import annotations

import contextlib
import logging
import socket
from datetime import timedelta
from typing import Iterator, Optional

import pytest

from conftest import CLIENT_ID, CLIENT_SECRET
from fakes import A1, A2, ACCESS_LIFE, CODE, DAY, R1, R2, REDIRECT_URI, T0, Clock, make_token, ok, token_body
from localserver import Reply, TokenServer
from pinterest_oauth import (
    InsecureTransportError, MemoryTokenStore, ReauthorizationRequired, RetryPolicy, Token, TokenSession, TokenStoreError,
)


def session_for(server: TokenServer, store: object, clock: Clock, **kwargs: object) -> TokenSession:
    return TokenSession(CLIENT_ID, CLIENT_SECRET, store, host=server.url, clock=clock,  # type: ignore[arg-type]
                        retry=RetryPolicy(max_attempts=1), **kwargs)


@pytest.mark.parametrize("value", [0, 0.0, 5, 2.5])
def test_zero_and_positive_durations_are_accepted(token_server: TokenServer, value: float) -> None:
    session = session_for(token_server, MemoryTokenStore(), Clock(), refresh_margin=value, retry_refresh_after=value,
                          warn_refresh_days=value)
    assert (session.refresh_margin, session.retry_refresh_after, session.warn_refresh_days) == (value,) * 3


@pytest.mark.parametrize("value", [-0.001, float("inf"), float("nan"), True, "5"])
def test_negative_infinite_and_non_numbers_are_refused(token_server: TokenServer, value: object) -> None:
    with pytest.raises(ValueError):
        session_for(token_server, MemoryTokenStore(), Clock(), refresh_margin=value)


def test_forcing_a_refresh_without_a_refresh_token_asks_for_authorization(token_server: TokenServer) -> None:
    store = MemoryTokenStore(make_token(A1, None))  # valid, but nothing to refresh with
    session = session_for(token_server, store, Clock(T0 + 1))
    assert session.access_token() == A1
    with pytest.raises(ReauthorizationRequired, match="no refresh token"):
        session.refresh()
    assert token_server.requests == []


class RaisingSave(MemoryTokenStore):
    def save(self, token: Token) -> None:
        raise RuntimeError("database is down")


def test_a_custom_store_failing_to_save_an_exchanged_token_hands_it_over(token_server: TokenServer) -> None:
    session = session_for(token_server, RaisingSave(), Clock())
    token_server.enqueue(ok(token_body(A1, R1, response_type="authorization_code")))
    with pytest.raises(TokenStoreError, match="could not save the new token") as info:
        session.exchange_code(CODE, REDIRECT_URI)
    assert isinstance(info.value.__cause__, RuntimeError)
    assert info.value.token is not None and info.value.token.access_token.get_secret_value() == A1


class CommitFails(MemoryTokenStore):
    """Staging store: save stages, releasing the lock commits, and the commit fails."""

    def __init__(self, token: Optional[Token] = None) -> None:
        super().__init__(token)
        self.staged: Optional[Token] = None

    def save(self, token: Token) -> None:
        self.staged = token

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        with super().lock():
            self.staged = None
            yield
            if self.staged is not None:
                raise RuntimeError("commit failed")


def test_a_failed_commit_says_the_next_call_retries_it(token_server: TokenServer) -> None:
    clock = Clock()
    fresh = session_for(token_server, CommitFails(), clock)
    token_server.enqueue(ok(token_body(A1, R1, response_type="authorization_code")))
    with pytest.raises(TokenStoreError) as info:
        fresh.exchange_code(CODE, REDIRECT_URI)  # an exchanged token is kept and saved first next time
    assert str(info.value).endswith("it may not have been saved; the next call will try again")

    refreshing = session_for(token_server, CommitFails(make_token(A1, R1)), clock)
    clock.set(T0 + ACCESS_LIFE)
    token_server.enqueue(ok(token_body(A2, R2)))
    with pytest.raises(TokenStoreError) as info:
        refreshing.access_token()
    assert str(info.value).endswith("it may not have been saved; the next call will try again")


class FailingClock(Clock):
    """Raises on the call numbered `fail_at` (1-based)."""

    def __init__(self, fail_at: int) -> None:
        super().__init__(T0)
        self.calls = 0
        self.fail_at = fail_at

    def __call__(self) -> float:
        self.calls += 1
        if self.calls == self.fail_at:
            raise RuntimeError("clock broke")
        return super().__call__()


def test_an_error_after_a_successful_save_is_not_reported_as_a_store_failure(token_server: TokenServer) -> None:
    store = MemoryTokenStore()
    session = session_for(token_server, store, FailingClock(fail_at=2))  # 1: the send time, 2: after saving
    token_server.enqueue(ok(token_body(A1, R1, response_type="authorization_code")))
    with pytest.raises(RuntimeError, match="clock broke"):
        session.exchange_code(CODE, REDIRECT_URI)
    saved = store.load()
    assert saved is not None and saved.access_token.get_secret_value() == A1  # it was saved


def test_an_expired_refresh_token_is_warned_about_as_zero_days(token_server: TokenServer,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    token = make_token(A1, R1, refresh_in=int(DAY))
    store = MemoryTokenStore(token)
    session = session_for(token_server, store, Clock(T0 + 2 * DAY))  # access valid, refresh token expired
    with caplog.at_level(logging.WARNING, logger="pinterest_oauth.session"):
        assert session.access_token() == A1
    assert "the Pinterest refresh token expires in 0.0 days" in caplog.text


@pytest.mark.parametrize(("warn", "left", "warned"), [
    (None, 7 * DAY - 1, True), (None, 7 * DAY, False),  # the default: 7 days
    (10, 10 * DAY - 1, True), (10, 10 * DAY, False),
    (timedelta(days=10), 10 * DAY - 1, True), (timedelta(days=10), 10 * DAY, False),
])
def test_the_refresh_token_warning_starts_exactly_warn_refresh_days_ahead(
        token_server: TokenServer, caplog: pytest.LogCaptureFixture, warn: object, left: float, warned: bool) -> None:
    now = T0 + DAY
    store = MemoryTokenStore(make_token(A1, R1, refresh_in=int(DAY + left)))
    kwargs = {} if warn is None else {"warn_refresh_days": warn}
    session = session_for(token_server, store, Clock(now), **kwargs)
    with caplog.at_level(logging.WARNING, logger="pinterest_oauth.session"):
        assert session.access_token() == A1
    assert ("refresh token expires in" in caplog.text) is warned


def test_arguments_after_the_store_are_keyword_only(token_server: TokenServer) -> None:
    with pytest.raises(TypeError):
        TokenSession(CLIENT_ID, CLIENT_SECRET, MemoryTokenStore(), token_server.url)  # type: ignore[misc]
    with pytest.raises(TypeError):
        ReauthorizationRequired("again", None)  # type: ignore[misc]


def test_plain_http_to_a_remote_host_is_refused_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_lookups(*args: object, **kwargs: object) -> object:
        raise AssertionError("tried to resolve a remote host")

    monkeypatch.setattr(socket, "getaddrinfo", no_lookups)
    session = TokenSession(CLIENT_ID, CLIENT_SECRET, MemoryTokenStore(), host="http://api.example.com/v5",
                           retry=RetryPolicy(max_attempts=1))
    with pytest.raises(InsecureTransportError):
        session.start_from_refresh_token(R1)


def test_a_store_error_from_a_custom_store_is_raised_as_it_is(token_server: TokenServer) -> None:
    own = TokenStoreError("disk full")

    class Full(MemoryTokenStore):
        def save(self, token: Token) -> None:
            raise own

    session = session_for(token_server, Full(), Clock())
    token_server.enqueue(ok(token_body(A1, R1, response_type="authorization_code")))
    with pytest.raises(TokenStoreError) as info:
        session.exchange_code(CODE, REDIRECT_URI)
    assert info.value is own and str(own) == "disk full"
    assert own.token is not None and own.token.access_token.get_secret_value() == A1  # the token it could not save


def test_a_transient_failure_logs_how_long_the_token_stays_valid(token_server: TokenServer,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    session = session_for(token_server, MemoryTokenStore(make_token(A1, R1)), Clock(T0 + ACCESS_LIFE - 200))
    token_server.enqueue(Reply(503, body=b'{"code": 1, "message": "unavailable"}'))
    with caplog.at_level(logging.WARNING, logger="pinterest_oauth.session"):
        assert session.access_token() == A1
    assert ("refreshing the access token failed (ServerError); the current one is valid for 200 more seconds, "
            "retrying in 30 seconds") in caplog.text


class Unreadable(MemoryTokenStore):
    """A store whose data cannot be read until a save replaces it; its next `failing_saves`
    saves fail."""

    def __init__(self) -> None:
        super().__init__()
        self.unreadable = True
        self.failing_saves = 0

    def load(self) -> Optional[Token]:
        if self.unreadable:
            raise TokenStoreError("the stored data is unreadable")
        return super().load()

    def save(self, token: Token) -> None:
        if self.failing_saves:
            self.failing_saves -= 1
            raise RuntimeError("database is down")
        super().save(token)
        self.unreadable = False


def test_an_exchanged_token_replaces_an_unreadable_one(token_server: TokenServer) -> None:
    store = Unreadable()
    session = session_for(token_server, store, Clock())
    token_server.enqueue(ok(token_body(A1, R1, response_type="authorization_code")))
    assert session.exchange_code(CODE, REDIRECT_URI).access_token.get_secret_value() == A1
    saved = store.load()
    assert saved is not None and saved.access_token.get_secret_value() == A1


def test_an_exchanged_token_whose_save_failed_still_replaces_an_unreadable_one(token_server: TokenServer) -> None:
    """Unreadable when the save failed and still unreadable on the next call: the next call saves
    the new token over it (nothing readable is lost) and hands it out, without a request."""
    store = Unreadable()
    store.failing_saves = 1
    session = session_for(token_server, store, Clock())
    token_server.enqueue(ok(token_body(A1, R1, response_type="authorization_code")))
    with pytest.raises(TokenStoreError, match="could not save the new token") as info:
        session.exchange_code(CODE, REDIRECT_URI)
    assert info.value.token is not None and info.value.token.access_token.get_secret_value() == A1
    assert store.unreadable
    assert session.access_token() == A1
    saved = store.load()
    assert saved is not None and saved.access_token.get_secret_value() == A1
    assert len(token_server.requests) == 1  # the exchange only


def test_a_store_unreadable_after_a_failed_save_of_a_refresh_is_an_error_until_it_is_readable(
        token_server: TokenServer) -> None:
    """The failed save replaced a token that was readable: an unreadable store is not
    overwritten (the error is raised), and once readable again the new token is saved."""
    store = Unreadable()
    store.save(make_token(A1, R1))
    clock = Clock(T0 + ACCESS_LIFE)
    session = session_for(token_server, store, clock)
    store.failing_saves = 1
    token_server.enqueue(ok(token_body(A2, R2)))
    with pytest.raises(TokenStoreError, match="could not save the refreshed token"):
        session.access_token()
    store.unreadable = True
    with pytest.raises(TokenStoreError, match="^the stored data is unreadable$"):
        session.access_token()
    store.unreadable = False
    assert session.access_token() == A2
    saved = store.load()
    assert saved is not None and saved.access_token.get_secret_value() == A2
    assert len(token_server.requests) == 1
