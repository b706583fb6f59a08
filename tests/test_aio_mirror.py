"""The sync failure-mode suites, run again against the async client (issue 18).

Every test function of the modules in MIRRORED is collected here too, with `make_api`,
`OauthApi` and `ApiClient` (in its module and in `pinterest_oauth`) replaced by blocking
stand-ins that drive `AsyncOauthApi` / `AsyncApiClient` on a real event loop (`aio_kit`): the
same servers (tests/localserver.py, tests/rawserver.py), the same misbehaviour, the same
assertions on wire, timing, exceptions and texts. A test added to those modules is mirrored
automatically; SYNC_ONLY names the few that test the sync machinery itself, and why.
Warnings are errors here: an unclosed connection or client fails the test.
"""

from __future__ import annotations

from typing import Any, Iterator

import pytest

import pinterest_oauth
import test_bounded_calls
import test_errors
import test_https_only
import test_retries_timeouts
import test_secrets
import test_credentials_change
from aio_kit import AsyncBridge
from test_retries_timeouts import unanswered_port  # noqa: F401  (fixtures the mirrored tests use)
from test_secrets import restore_logging, scripted_server  # noqa: F401

pytestmark = pytest.mark.filterwarnings("error")

MIRRORED = (test_retries_timeouts, test_bounded_calls, test_errors, test_https_only, test_secrets,
            test_credentials_change)

SYNC_ONLY = {
    "test_documented_defaults_reach_urllib3": "spies on urllib3's pool (test_aio_client checks httpx2's timeouts)",
    "test_send_bounds_any_pool_manager": "transport.send with a urllib3 PoolManager",
    "test_token_session_refresh_deadline_is_half_the_store_lease": "TokenSession (test_aio_session has its own)",
    "test_peak_memory_stays_near_baseline_on_a_64_mib_body": "a sync child process (test_aio_client has an async one)",
    "test_the_memory_measure_sees_a_body_that_is_read": "the control of the sync child's measure",
    "test_closed_without_answer": "asserts http.client's exception name (test_aio_client checks httpx2's)",
    "test_connection_refused": "asserts urllib3's exception name (test_aio_client checks httpx2's)",
    "test_generated_debug_switch_prints_nothing_secret": "asserts urllib3's own log records (test_aio_client: httpx2's)",
    "test_both_debug_switches_and_root_debug_logging": "asserts urllib3's own log records (test_aio_client: httpx2's)",
    "test_urllib3_header_parse_warning_hides_header_content":
        "urllib3's lenient header parsing; h11 refuses the bad line (test_aio_client checks that nothing leaks)",
}
#: Tests that never make a client (policy arithmetic, parsing, exception classes): nothing to mirror.
NO_CLIENT = {
    "test_backoff_is_capped_exponential_with_full_jitter", "test_policy_validation", "test_parse_retry_after",
    "test_timeouts_total_is_checked_and_coerced", "test_is_loopback",
    "test_https_passes_and_the_shown_url_drops_userinfo_and_query",
}


def _mirror() -> None:
    for module in MIRRORED:
        short = module.__name__.removeprefix("test_")
        for name, test in vars(module).items():
            if name.startswith("test_") and callable(test) and test.__module__ == module.__name__:
                if name not in SYNC_ONLY and name not in NO_CLIENT and not any(
                        m.name == "skip" for m in getattr(test, "pytestmark", [])):
                    globals()[f"test_{short}__{name.removeprefix('test_')}"] = test


_mirror()


@pytest.fixture(autouse=True)
def async_clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[AsyncBridge]:
    """Every client the mirrored tests make is an async one, on this test's event loop."""
    bridge = AsyncBridge()
    for target in (*MIRRORED, pinterest_oauth):
        for name, value in (("make_api", bridge.make_api), ("OauthApi", bridge.OauthApi), ("ApiClient", bridge.ApiClient)):
            if hasattr(target, name) or target is pinterest_oauth:
                monkeypatch.setattr(target, name, value, raising=False)
    yield bridge
    bridge.close()


def test_every_sync_exclusion_names_an_existing_test() -> None:
    names = {name for module in MIRRORED for name in vars(module) if name.startswith("test_")}
    assert set(SYNC_ONLY) | NO_CLIENT <= names
    mirrored = [name for name in globals() if "__" in name and name.startswith("test_")]
    assert len(mirrored) >= 55, mirrored


def test_the_stand_ins_are_async_underneath(async_clients: AsyncBridge) -> Any:
    api = test_errors.make_api(type("S", (), {"url": "http://127.0.0.1:9/v5"})())
    assert type(api.inner).__name__ == "AsyncOauthApi" and pinterest_oauth.OauthApi is async_clients.OauthApi
