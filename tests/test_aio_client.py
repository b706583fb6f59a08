"""The async client itself (issue 18): the optional dependency, what only async code can do
(many tasks on one client, cancellation, a loop that keeps running during waits), and the few
failure details that name the HTTP library. The shared failure modes run in test_aio_mirror.py,
the recordings in test_aio_contract.py."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import time
from typing import Any

import httpx2
import pytest

from conftest import CLIENT_ID, CLIENT_SECRET
from aio_kit import AsyncBridge
from fakes import ACCESS, REFRESH, exception_texts, leaks, ok, token_json
from test_secrets import every_exchange, queue_every_exchange, restore_logging  # noqa: F401
from localserver import Reply, TokenServer
from test_bounded_calls import BIG, CAP, CHILD, big_answer, child_peak

from pinterest_oauth import (
    ApiTypeError, Configuration, ConnectionFailedError, OauthAccessTokenResponse, RateLimitError, RetryPolicy,
)
from pinterest_oauth.aio import AsyncApiClient, AsyncOauthApi


pytestmark = pytest.mark.filterwarnings("error")


def config(server: Any, **kwargs: Any) -> Configuration:
    kwargs.setdefault("retry", RetryPolicy(max_attempts=1))
    return Configuration(host=server.url, username=CLIENT_ID, password=CLIENT_SECRET, **kwargs)


async def refresh(api: AsyncOauthApi, **kwargs: Any) -> OauthAccessTokenResponse:
    return await api.oauth_token(grant_type="refresh_token", refresh_token=REFRESH, **kwargs)


# -- the optional dependency --------------------------------------------------------------------

def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


BLOCK_HTTPX = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("httpx2", "httpcore2", "anyio"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Block())
"""


def test_the_base_package_never_imports_the_async_dependencies() -> None:
    done = _python("import sys, pinterest_oauth\n"
                   "pinterest_oauth.OauthApi, pinterest_oauth.ApiClient, pinterest_oauth.TokenSession\n"
                   "print(sorted(m for m in sys.modules if m.split('.')[0] in ('httpx2', 'httpcore2', 'anyio') or m == 'pinterest_oauth.aio'))")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_without_httpx_the_sync_client_works_and_aio_names_the_extra(token_server: TokenServer) -> None:
    token_server.enqueue(ok())
    done = _python(BLOCK_HTTPX + f"""
from pinterest_oauth import ApiClient, Configuration, OauthApi
api = OauthApi(ApiClient(Configuration(host={token_server.url!r}, username="1", password="s")))
print(api.oauth_token(grant_type="client_credentials", scope="ads:read").token_type)
for name in ("pinterest_oauth.aio", "pinterest_oauth.lib.aio_session"):
    try:
        __import__(name)
    except ImportError as exc:
        print(type(exc).__name__, exc.name, "|", exc)
""")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "bearer"
    extra = 'pip install "pinterest-oauth-sdk[async]"'
    assert len(lines) == 3 and all(line.startswith("ImportError ") and extra in line for line in lines[1:]), lines
    assert lines[1].split()[1] in ("httpx2", "anyio")


def test_the_wheel_declares_the_extra() -> None:
    from importlib.metadata import requires

    reqs = requires("pinterest-oauth-sdk") or []
    assert any(r.startswith("httpx2") and 'extra == "async"' in r for r in reqs), reqs
    assert not any(r.startswith("httpx2") and "extra" not in r for r in reqs)


def test_async_api_needs_an_async_client() -> None:
    from pinterest_oauth import ApiClient

    with pytest.raises(ApiTypeError, match="AsyncApiClient"):
        AsyncOauthApi(ApiClient())  # type: ignore[arg-type]


# -- many tasks, one client ---------------------------------------------------------------------

def test_200_concurrent_tasks_on_one_client(token_server: TokenServer) -> None:
    token_server.default = ok()

    async def main() -> list[OauthAccessTokenResponse]:
        async with AsyncApiClient(config(token_server)) as client:
            api = AsyncOauthApi(client)
            return await asyncio.gather(*(refresh(api) for _ in range(200)))

    tokens = asyncio.run(main())
    assert len(tokens) == 200 and all(t.access_token.get_secret_value() == ACCESS for t in tokens)
    assert len(token_server.requests) == 200
    assert token_server.connections <= 32  # the pool's size (connection_pool_maxsize)
    assert {s.body for s in token_server.requests} == {f"grant_type=refresh_token&refresh_token={REFRESH}".encode()}


def test_keep_alive_reuses_one_connection(token_server: TokenServer) -> None:
    token_server.default = ok()

    async def main() -> None:
        async with AsyncApiClient(config(token_server)) as client:
            for _ in range(5):
                await refresh(AsyncOauthApi(client))
            await client.close()  # closing twice is fine; the client stays usable
            await refresh(AsyncOauthApi(client))

    asyncio.run(main())
    assert [s.connection for s in token_server.requests] == [1, 1, 1, 1, 1, 2]


def test_the_default_timeouts_reach_httpx2(token_server: TokenServer, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[dict[str, float]] = []
    real = httpx2.AsyncClient.send

    async def spy(self: httpx2.AsyncClient, request: httpx2.Request, **kwargs: Any) -> httpx2.Response:
        seen.append(request.extensions["timeout"])
        return await real(self, request, **kwargs)

    monkeypatch.setattr(httpx2.AsyncClient, "send", spy)
    token_server.enqueue(ok())

    async def main() -> None:
        async with AsyncApiClient(config(token_server, retry=None)) as client:
            assert client.configuration.timeouts.total == 60
            await refresh(AsyncOauthApi(client))

    asyncio.run(main())
    (timeout,) = seen
    assert timeout["connect"] == 10 and timeout["read"] == timeout["write"] == 30
    assert 59 < timeout["pool"] <= 60


# -- the loop keeps running, and cancelling is clean ---------------------------------------------

def test_retry_after_waits_without_blocking_the_loop(token_server: TokenServer) -> None:
    token_server.enqueue(Reply(status=429, headers=[("Retry-After", "1")], body=b'{"code": 8, "message": "slow"}'), ok())
    ticks: list[float] = []

    async def ticker() -> None:
        while True:
            ticks.append(time.monotonic())
            await asyncio.sleep(0.05)

    async def main() -> tuple[OauthAccessTokenResponse, float]:
        tick = asyncio.create_task(ticker())
        started = time.monotonic()
        async with AsyncApiClient(config(token_server, retry=RetryPolicy())) as client:
            token = await refresh(AsyncOauthApi(client))
        tick.cancel()
        return token, time.monotonic() - started

    token, elapsed = asyncio.run(main())
    assert token.access_token.get_secret_value() == ACCESS
    assert 1.0 <= elapsed < 6.0
    assert len(ticks) >= 10  # the loop ran other tasks during the wait (a blocking sleep: 1 tick)
    assert len(token_server.requests) == 2


def test_a_retry_after_beyond_the_cap_raises_at_once(token_server: TokenServer) -> None:
    token_server.enqueue(Reply(status=429, headers=[("Retry-After", "120")], body=b"{}"), ok())

    async def main() -> None:
        async with AsyncApiClient(config(token_server, retry=RetryPolicy())) as client:
            with pytest.raises(RateLimitError) as info:
                await refresh(AsyncOauthApi(client))
            assert info.value.retry_after == 120.0

    asyncio.run(main())
    assert len(token_server.requests) == 1


def test_a_cancelled_call_leaves_the_client_usable(token_server: TokenServer) -> None:
    token_server.enqueue(Reply(action="hang"), ok())

    async def main() -> OauthAccessTokenResponse:
        async with AsyncApiClient(config(token_server)) as client:
            api = AsyncOauthApi(client)
            task = asyncio.create_task(refresh(api))
            while not token_server.requests:
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return await refresh(api)

    assert asyncio.run(main()).access_token.get_secret_value() == ACCESS
    assert [s.connection for s in token_server.requests] == [1, 2]  # the cancelled one is not reused


# -- failure details that name the library --------------------------------------------------------

def test_closed_without_answer(token_server: TokenServer) -> None:
    token_server.enqueue(Reply(action="close"))

    async def main() -> None:
        async with AsyncApiClient(config(token_server)) as client:
            with pytest.raises(ConnectionFailedError) as info:
                await refresh(AsyncOauthApi(client))
            assert info.value.request_sent is True
            assert str(info.value).startswith("connection to http://127.0.0.1:")
            assert "RemoteProtocolError" in str(info.value) and "not retried" in str(info.value)

    asyncio.run(main())


def test_connection_refused_is_retried_then_raised() -> None:
    server = TokenServer()
    server.stop()
    sleeps: list[float] = []

    async def record(seconds: float) -> None:
        sleeps.append(seconds)

    async def main() -> None:
        policy = RetryPolicy(max_attempts=3, sleep=record, rand=lambda: 1.0)  # type: ignore[arg-type]
        async with AsyncApiClient(config(server, retry=policy)) as client:
            with pytest.raises(ConnectionFailedError) as info:
                await refresh(AsyncOauthApi(client))
            assert info.value.request_sent is False
            assert str(info.value).startswith(f"could not connect to {server.url}/oauth/token (ConnectError")
            assert "ConnectionRefusedError" in str(info.value)

    asyncio.run(main())
    assert sleeps == [0.5, 1.0]  # an async `sleep` is awaited


# -- httpx2's and httpcore2's own logs ----------------------------------------------------------------

def test_root_debug_logging_shows_no_secret(token_server: TokenServer, caplog: pytest.LogCaptureFixture,
                                            capfd: pytest.CaptureFixture[str], restore_logging: None) -> None:
    """Every kind of exchange (test_secrets' set) with the package's debug log on and the root
    logger at DEBUG: httpx2 and httpcore2 log too, and nothing secret reaches any output."""
    caplog.set_level(logging.DEBUG)
    queue_every_exchange(token_server)
    bridge = AsyncBridge()
    try:
        failures = every_exchange(bridge.make_api(token_server, debug=True, retry=RetryPolicy(max_attempts=2)))
    finally:
        bridge.close()
    out, err = capfd.readouterr()
    assert leaks([out, err, caplog.text] + [t for f in failures for t in exception_texts(f)]) == []
    assert "pinterest_oauth DEBUG POST" in err
    assert {r.name for r in caplog.records} >= {"pinterest_oauth", "httpx2", "httpcore2.http11"}
    assert "return_value=(hidden)" in caplog.text  # httpcore2's answer headers


def test_a_malformed_header_fails_the_call_and_leaks_nothing(token_server: TokenServer, caplog: pytest.LogCaptureFixture) -> None:
    """h11 refuses a header line with a bare CR (http.client, under the sync client, skips it)."""
    caplog.set_level(logging.DEBUG)
    token_server.enqueue(Reply(status=200, headers=[("Content-Type", "application/json"), ("Connection", "close"),
                                                    ("X-Broken", "a\rb"), ("X-Echo", REFRESH)], body=token_json()))

    async def main() -> None:
        async with AsyncApiClient(config(token_server)) as client:
            with pytest.raises(ConnectionFailedError) as info:
                await refresh(AsyncOauthApi(client))
            assert info.value.request_sent is True
            assert leaks(exception_texts(info.value)) == []

    asyncio.run(main())
    assert leaks([caplog.text]) == []


# -- memory ------------------------------------------------------------------------------------

ASYNC_CHILD = CHILD.replace(
    "from pinterest_oauth import ApiClient, Configuration, OauthApi, OpenApiException, RetryPolicy",
    "import asyncio\nfrom pinterest_oauth import Configuration, OpenApiException, RetryPolicy\n"
    "from pinterest_oauth.aio import AsyncApiClient, AsyncOauthApi\n"
    "loop = asyncio.new_event_loop()\n"
    "class OauthApi:\n"
    "    def __init__(self, client): self.api = AsyncOauthApi(client)\n"
    "    def oauth_token(self, **kw): return loop.run_until_complete(self.api.oauth_token(**kw))\n"
    "ApiClient = AsyncApiClient",
)


@pytest.mark.parametrize("framing", ["content-length", "chunked", "gzip"])
def test_peak_memory_stays_near_baseline_on_a_64_mib_body(framing: str) -> None:
    assert ASYNC_CHILD != CHILD
    result = child_peak(big_answer(framing, BIG), CAP, script=ASYNC_CHILD)
    assert result["outcome"] == "InvalidResponseError"
    assert result["peak"] - result["baseline"] < 8 * 1024 * 1024


# -- the leak check has teeth ----------------------------------------------------------------------

LEAKY_TEST = '''
import asyncio
import pytest
from aio_kit import garbage_collected_at_module_end  # noqa: F401
from fakes import ok
from localserver import TokenServer
from pinterest_oauth import Configuration
from pinterest_oauth.aio import AsyncApiClient, AsyncOauthApi

pytestmark = pytest.mark.filterwarnings("error")

def test_a_client_left_open():
    with TokenServer(default=ok()) as server:
        async def main():
            client = AsyncApiClient(Configuration(host=server.url, username="1", password="s"))
            await AsyncOauthApi(client).oauth_token("client_credentials", scope="ads:read")
        asyncio.run(main())
'''


def test_a_client_left_open_fails_its_module(tmp_path: Any) -> None:
    """What every async test module here relies on: an unclosed client is an error."""
    (tmp_path / "test_leaky.py").write_text(LEAKY_TEST)
    tests = str(__import__("pathlib").Path(__file__).parent)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", "/dev/null",
                           "--rootdir", str(tmp_path), str(tmp_path / "test_leaky.py")],
                          capture_output=True, text=True, timeout=120, env={**__import__("os").environ, "PYTHONPATH": tests})
    assert done.returncode == 1, done.stdout[-2000:]
    assert "ResourceWarning: unclosed" in done.stdout and "1 passed, 1 error" in done.stdout
