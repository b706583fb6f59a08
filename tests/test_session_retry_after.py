"""A refresh answered 429 (or 503) with a Retry-After is not tried again before the server
said, even when that is longer than `retry_refresh_after`; the valid token is served meanwhile."""

from __future__ import annotations

import json

import pytest

from conftest import CLIENT_ID, CLIENT_SECRET
from localserver import Reply, TokenServer
from fakes import A1, A2, ACCESS_LIFE, R1, R2, T0, Clock, make_token, ok, token_body
from pinterest_oauth import MemoryTokenStore, RetryPolicy, TokenSession

QUIET = 30.0  # retry_refresh_after
START = T0 + ACCESS_LIFE - 200  # inside the 300 s refresh margin, still valid


@pytest.mark.parametrize(("status", "retry_after", "quiet"), [
    (429, "120", 120.0),  # longer than retry_refresh_after: the server's wait wins
    (429, "5", QUIET),    # shorter: retry_refresh_after still applies
    (429, None, QUIET),
    (503, "90", 90.0),
])
def test_the_session_waits_for_the_servers_retry_after(token_server: TokenServer, status: int,
                                                       retry_after: str | None, quiet: float) -> None:
    store = MemoryTokenStore(make_token(A1, R1))
    clock = Clock(START)
    sleeps: list[float] = []
    # The transport's own retry is on, as by default; a Retry-After beyond its cap is not slept.
    session = TokenSession(CLIENT_ID, CLIENT_SECRET, store, host=token_server.url, clock=clock,
                           retry=RetryPolicy(max_attempts=2, max_retry_after=3, sleep=sleeps.append),
                           retry_refresh_after=QUIET)
    headers = [("Content-Type", "application/json")] + ([("Retry-After", retry_after)] if retry_after else [])
    limited = Reply(status, headers, json.dumps({"code": 8, "message": "slow down"}).encode())
    retried = retry_after is None  # a backoff within the cap; a Retry-After of 5 s or more is not slept
    token_server.enqueue(*[limited] * (2 if retried else 1))
    assert session.access_token() == A1
    requests = len(token_server.requests)
    assert (requests, len(sleeps)) == ((2, 1) if retried else (1, 0))
    for offset in (1.0, QUIET - 0.001, quiet - 0.001):
        clock.set(START + offset)
        assert session.access_token() == A1
    assert len(token_server.requests) == requests  # nothing sent while the server asked to wait
    clock.set(START + quiet)
    token_server.enqueue(ok(token_body(A2, R2)))
    assert session.access_token() == A2
    assert len(token_server.requests) == requests + 1
    saved = store.load()
    assert saved is not None and saved.refresh_token is not None and saved.refresh_token.get_secret_value() == R2
    session.close()
