"""Shared fixtures: the package under test comes from the installed wheel, never the source tree."""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import pytest
from hypothesis import settings

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from localserver import TokenServer  # noqa: E402

if TYPE_CHECKING:
    from pgserver import PostgresServer

# Test credentials: a secret with ':', '+' and non-ASCII, as a real one may have.
CLIENT_ID = "1234567"
CLIENT_SECRET = "s3cr:t+Päss/wörd=="


# Property tests draw the same examples on every run ("ci", the default): a failure in CI is
# reproduced by running the same test here; HYPOTHESIS_PROFILE=explore draws new ones each run
# (a failure then prints its seed and a @reproduce_failure blob).
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", derandomize=False, database=None, print_blob=True)
HYPOTHESIS_PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
settings.load_profile(HYPOTHESIS_PROFILE)


def pytest_report_header(config: pytest.Config) -> str:
    mode = "derandomized: the same examples every run" if settings.default.derandomize else "random seed, printed on failure"
    return f"hypothesis: profile {HYPOTHESIS_PROFILE!r} ({mode})"


def pytest_configure(config: pytest.Config) -> None:
    import pinterest_oauth

    location = Path(pinterest_oauth.__file__).resolve()
    if REPO / "generated" in location.parents:
        raise pytest.UsageError(f"pinterest_oauth was imported from the source tree ({location}); install the wheel")


@pytest.fixture(scope="module", autouse=True)
def _garbage_collected_at_module_end() -> Iterator[None]:
    """A full collection after each module's last test. pytest.ini makes a ResourceWarning an
    error, so a socket, pipe or file a module leaves open fails that module, and never a later
    test that happens to trigger the collection. (A full collection per test would cost ~40 ms
    each; young garbage is collected often anyway.)"""
    yield
    gc.collect()


@pytest.fixture(scope="session")
def postgres() -> Iterator["PostgresServer"]:
    """A real PostgreSQL server for this test run (tests/pgserver.py), stopped at the end.
    Starting it is never skipped: if it fails, the tests that need it fail."""
    from pgserver import PostgresServer

    _track_postgres_stores()
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


_OPEN_STORES: list[Any] = []  # strong references: a store dropped mid-test is closed at its end


def _track_postgres_stores() -> None:
    """Remember every PostgresTokenStore the tests make, so that each test's stores are closed
    when it ends: an open psycopg connection collected later warns (ResourceWarning) inside
    whichever test runs then, and the async tests turn warnings into errors."""
    from pinterest_oauth.lib import postgres_store

    cls = postgres_store.PostgresTokenStore
    if getattr(cls.__init__, "_tracked", False):
        return
    original = cls.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        _OPEN_STORES.append(self)

    init._tracked = True  # type: ignore[attr-defined]
    cls.__init__ = init  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def _close_postgres_stores() -> Iterator[None]:
    yield
    while _OPEN_STORES:
        _OPEN_STORES.pop().close()


@pytest.fixture
def token_server() -> Iterator[TokenServer]:
    """A fresh scripted server on 127.0.0.1, stopped after the test."""
    with TokenServer() as server:
        yield server
