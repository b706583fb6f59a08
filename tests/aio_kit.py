"""Running the sync test suites against the async client: blocking stand-ins for `OauthApi`
and `ApiClient` whose calls run `AsyncOauthApi` / `AsyncApiClient` on a real event loop.

`AsyncBridge` owns one event loop (run in the test's thread) and every client made through it;
`close()` closes them all, then the loop. `bridge.OauthApi(bridge.ApiClient(config))` and
`bridge.make_api(server, **config)` mirror `pinterest_oauth.OauthApi(ApiClient(config))` and
`fakes.make_api`; `bridge.TokenSession(...)` mirrors `TokenSession` with an AsyncTokenSession.
"""

from __future__ import annotations

import asyncio
import gc
from typing import Any, Coroutine, Iterator, Optional, TypeVar

import pytest

from conftest import CLIENT_ID, CLIENT_SECRET

from pinterest_oauth import Configuration, RetryPolicy
from pinterest_oauth.aio import AsyncApiClient, AsyncOauthApi, AsyncTokenSession

T = TypeVar("T")


class AsyncBridge:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.clients: list[AsyncApiClient] = []
        self.sessions: list[AsyncTokenSession] = []
        bridge = self

        class ApiClient:
            """Blocking stand-in for `pinterest_oauth.ApiClient`, backed by an AsyncApiClient."""

            def __init__(self, configuration: Optional[Configuration] = None, *args: Any, **kwargs: Any) -> None:
                self.inner = AsyncApiClient(configuration, *args, **kwargs)
                bridge.clients.append(self.inner)
                self.configuration = self.inner.configuration

            def close(self) -> None:
                bridge.run(self.inner.close())

            def __repr__(self) -> str:
                return repr(self.inner)

        class OauthApi:
            """Blocking stand-in for `pinterest_oauth.OauthApi`, backed by an AsyncOauthApi."""

            def __init__(self, api_client: Optional[ApiClient] = None) -> None:
                self.api_client = api_client if api_client is not None else ApiClient()
                self.inner = AsyncOauthApi(self.api_client.inner)

            def oauth_token(self, *args: Any, **kwargs: Any) -> Any:
                return bridge.run(self.inner.oauth_token(*args, **kwargs))

            def oauth_token_with_http_info(self, *args: Any, **kwargs: Any) -> Any:
                return bridge.run(self.inner.oauth_token_with_http_info(*args, **kwargs))

        class TokenSession:
            """Blocking stand-in for `pinterest_oauth.TokenSession`, backed by an AsyncTokenSession
            (private attributes a test inspects are the shared decision core's)."""

            def __init__(self, *args: Any, **kwargs: Any) -> None:
                self.inner = AsyncTokenSession(*args, **kwargs)
                bridge.sessions.append(self.inner)

            def __getattr__(self, name: str) -> Any:
                target = self.inner if hasattr(self.inner, name) else self.inner._core
                value = getattr(target, name)
                if name in ("access_token", "token", "refresh", "exchange_code", "start_from_refresh_token", "close"):
                    return lambda *args, **kwargs: bridge.run(value(*args, **kwargs))
                return value

            def __enter__(self) -> Any:
                return self

            def __exit__(self, *exc: object) -> None:
                bridge.run(self.inner.close())

        self.ApiClient = ApiClient
        self.OauthApi = OauthApi
        self.TokenSession = TokenSession

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    def make_api(self, server: Any, **config: Any) -> Any:
        """`fakes.make_api`, async underneath."""
        config.setdefault("retry", RetryPolicy(max_attempts=1))
        return self.OauthApi(self.ApiClient(Configuration(host=server.url, username=CLIENT_ID,
                                                          password=CLIENT_SECRET, **config)))

    def close(self) -> None:
        for session in self.sessions:
            self.run(session.close())
        for client in self.clients:
            self.run(client.close())
        self.run(self.loop.shutdown_asyncgens())
        self.loop.close()
        gc.collect(1)  # young garbage (cheap); the full collection runs once per module


@pytest.fixture(scope="module", autouse=True)
def garbage_collected_at_module_end() -> Iterator[None]:
    """For a test module run without tests/conftest.py (which does this for every module): a
    full collection after its last test, so that an unclosed socket, transport or client warns
    (ResourceWarning) inside the module, where warnings are errors."""
    yield
    gc.collect()
