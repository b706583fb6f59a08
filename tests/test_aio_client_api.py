"""`AsyncApiClient`'s own surface, next to `ApiClient`'s: constructor arguments and header
settings on the wire, the shared default client, the checks of what it is given, its repr."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest

from conftest import CLIENT_ID, CLIENT_SECRET
from fakes import ACCESS, REFRESH, leaks, ok
from localserver import Seen, TokenServer

from pinterest_oauth import ApiClient, ApiTypeError, Configuration, OauthApi, RetryPolicy
from pinterest_oauth.aio import AsyncApiClient, AsyncOauthApi
from pinterest_oauth.lib.client import USER_AGENT

pytestmark = pytest.mark.filterwarnings("error")


def config(server: TokenServer) -> Configuration:
    return Configuration(host=server.url, username=CLIENT_ID, password=CLIENT_SECRET, retry=RetryPolicy(max_attempts=1))


def headers(seen: Seen) -> dict[str, str]:
    return {k.lower(): v for k, v in seen.headers.items() if k.lower() != "host"}


def test_header_arguments_and_settings_reach_the_wire_as_the_sync_clients_do(token_server: TokenServer) -> None:
    token_server.default = ok()
    settings = config(token_server)
    clients: list[Any] = [(ApiClient(settings, "X-Trace", "t1", "c=1"), ApiClient(settings, "X-Half")),
                          (AsyncApiClient(settings, "X-Trace", "t1", "c=1"), AsyncApiClient(settings, "X-Half"))]
    for full, half in clients:
        assert full.user_agent == USER_AGENT and half.default_headers == {"User-Agent": USER_AGENT}
        full.user_agent = "mine/1.0"
        full.set_default_header("X-Other", "2")
        assert full.default_headers == {"User-Agent": "mine/1.0", "X-Trace": "t1", "X-Other": "2"}

    for client in clients[0]:
        OauthApi(client).oauth_token(grant_type="refresh_token", refresh_token=REFRESH)
        client.close()

    async def main() -> None:
        for client in clients[1]:
            async with client:
                await AsyncOauthApi(client).oauth_token(grant_type="refresh_token", refresh_token=REFRESH)

    asyncio.run(main())
    sync_full, sync_half, async_full, async_half = (headers(s) for s in token_server.requests)
    assert async_full == sync_full and async_half == sync_half
    assert async_full["user-agent"] == "mine/1.0" and async_full["cookie"] == "c=1"
    assert async_full["x-trace"] == "t1" and async_full["x-other"] == "2"
    assert async_half["user-agent"] == USER_AGENT and "x-half" not in async_half and "cookie" not in async_half


def test_async_oauth_api_without_a_client_gets_the_shared_one(token_server: TokenServer) -> None:
    try:
        AsyncApiClient.set_default(None)
        shared = AsyncApiClient.get_default()
        assert type(shared) is AsyncApiClient and AsyncApiClient.get_default() is shared
        assert AsyncOauthApi().api_client is shared
        assert shared.configuration.host == "https://api.pinterest.com/v5"  # a fresh Configuration()
        mine = AsyncApiClient(config(token_server))
        AsyncApiClient.set_default(mine)
        assert AsyncApiClient.get_default() is mine
        token_server.enqueue(ok())

        async def main() -> str:
            async with mine:
                token = await AsyncOauthApi().oauth_token(grant_type="refresh_token", refresh_token=REFRESH)
            return token.access_token.get_secret_value()

        assert asyncio.run(main()) == ACCESS and len(token_server.requests) == 1
        with pytest.raises(ApiTypeError, match=r"^AsyncApiClient.set_default needs a pinterest_oauth.aio.AsyncApiClient$"):
            AsyncApiClient.set_default(ApiClient())  # type: ignore[arg-type]
        assert AsyncApiClient.get_default() is mine  # a refused default changes nothing
    finally:
        AsyncApiClient.set_default(None)


def test_a_configuration_is_checked_and_a_fresh_one_made_when_none_is_given() -> None:
    with pytest.raises(ApiTypeError, match=r"^AsyncApiClient needs a pinterest_oauth.Configuration$"):
        AsyncApiClient({"host": "https://api.pinterest.com/v5"})  # type: ignore[arg-type]
    first, second = AsyncApiClient(), AsyncApiClient()
    assert isinstance(first.configuration, Configuration) and first.configuration is not second.configuration


def test_repr_names_the_configuration_and_no_secret(token_server: TokenServer) -> None:
    settings = config(token_server)
    client = AsyncApiClient(settings)
    assert repr(client) == f"AsyncApiClient({settings!r})"
    assert leaks([repr(client)]) == [] and CLIENT_SECRET not in repr(client)


def test_call_operation_takes_what_the_sync_clients_takes() -> None:
    """The generated AsyncOauthApi calls it as OauthApi calls ApiClient's: the options keyword-only."""
    def shape(fn: Any) -> list[tuple[str, Any, Any]]:
        return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]

    assert shape(AsyncApiClient.call_operation) == shape(ApiClient.call_operation)
    assert [name for name, kind, _ in shape(AsyncApiClient.call_operation) if kind is inspect.Parameter.KEYWORD_ONLY] == [
        "timeout", "retry", "with_http_info"]
