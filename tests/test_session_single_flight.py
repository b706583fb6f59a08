"""TokenSession's own lock makes many threads cause one refresh, whatever the store.

`FileTokenStore`'s lock also serialises threads, which would hide a session that does not;
the store here has a `lock()` that excludes nothing (like a store whose lock only spans
processes, or the README's SQLite store), so only the session can keep the refreshes to one.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any, Optional

from conftest import CLIENT_ID, CLIENT_SECRET
from localserver import Reply, Seen, TokenServer
from fakes import A1, A2, ACCESS_LIFE, R1, R2, T0, Clock, form, make_token, ok, token_body
from pinterest_oauth import RetryPolicy, Token, TokenSession

THREADS = 32
WINDOW_S = 0.5  # how long the first refresh stays in flight once every thread has asked


class UnlockedStore:
    """A store whose lock() excludes nothing; counts loads and saves."""

    def __init__(self, token: Token) -> None:
        self.token: Optional[Token] = token
        self.saves = 0

    def load(self) -> Optional[Token]:
        return self.token

    def save(self, token: Token) -> None:
        self.saves += 1
        self.token = token

    def lock(self) -> Any:
        return contextlib.nullcontext()


def test_32_threads_with_a_store_that_does_not_lock_cause_one_refresh() -> None:
    store = UnlockedStore(make_token(A1, R1))
    clock = Clock(T0 + ACCESS_LIFE)  # expired: every thread needs a refresh
    asking = 0
    counter = threading.Lock()
    all_asking = threading.Event()

    def refresh_in_flight(seen: Seen) -> Reply:
        # Hold the refresh until every thread has asked, and then a little longer: a second
        # refresh sent meanwhile (no single flight) ends the wait early and is counted below.
        all_asking.wait(10)
        deadline = time.monotonic() + WINDOW_S
        while time.monotonic() < deadline and len(server.requests) < 2:
            time.sleep(0.01)
        return ok(token_body(A2, R2))

    def later(seen: Seen) -> Reply:
        return ok(token_body("pina_TESTACCESS0099", "pinr_TESTREFRESH0099"))

    with TokenServer(default=later) as server:
        server.enqueue(refresh_in_flight)
        session = TokenSession(CLIENT_ID, CLIENT_SECRET, store, host=server.url,  # type: ignore[arg-type]
                               retry=RetryPolicy(max_attempts=1), clock=clock)
        results: list[str] = []
        errors: list[BaseException] = []

        def worker() -> None:
            nonlocal asking
            with counter:
                asking += 1
                if asking == THREADS:
                    all_asking.set()
            try:
                results.append(session.access_token())
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=worker) for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        session.close()
    assert errors == []
    assert results == [A2] * THREADS
    [seen] = server.requests
    assert form(seen) == [("grant_type", "refresh_token"), ("refresh_token", R1)]
    assert store.saves == 1
    assert store.token is not None and store.token.refresh_token is not None
    assert store.token.refresh_token.get_secret_value() == R2
