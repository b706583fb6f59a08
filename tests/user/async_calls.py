"""A user's async script, typed as a newcomer would write it: `tests/test_typing.py` checks it
with `mypy --strict` against the installed wheel (the async API is typed like the sync one)."""

from __future__ import annotations

import asyncio

from pinterest_oauth import Configuration, FileTokenStore, OauthAccessTokenResponse, Token
from pinterest_oauth.aio import AsyncApiClient, AsyncOauthApi, AsyncTokenSession


async def main(host: str) -> None:
    config = Configuration(host=host, username="1234567", password="secret", timeouts=(5, 15, 30))
    async with AsyncApiClient(config) as client:
        api = AsyncOauthApi(client)
        token: OauthAccessTokenResponse = await api.oauth_token(grant_type="client_credentials", scope="ads:read")
        print(token.expires_in + 1)
        info = await api.oauth_token_with_http_info(grant_type="refresh_token", refresh_token="pinr_x")
        print(info.status_code, info.data.scope)
    async with AsyncTokenSession("1234567", "secret", FileTokenStore("token.json"), host=host) as session:
        bearer: str = await session.access_token()
        whole: Token = await session.token()
        print(bearer, whole.expires_at)


if __name__ == "__main__":
    asyncio.run(main("http://127.0.0.1:9/v5"))
