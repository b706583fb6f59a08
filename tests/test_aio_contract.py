"""Every recording in tests/recordings/ replayed through the async client (issue 18), checked
by test_contract's own checks: the request on the wire field by field, the parsed result (the
same `OauthAccessTokenResponse` class) or the exception attribute by attribute. And the two
clients put the same request on the wire."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from localserver import Reply, Seen, TokenServer
from test_contract import RECORDING_FILES, Recording, check_replay, load_recording, replay

from pinterest_oauth import Configuration, OpenApiException, RetryPolicy
from pinterest_oauth.aio import AsyncApiClient, AsyncOauthApi


pytestmark = pytest.mark.filterwarnings("error")


def replay_async(rec: Recording) -> tuple[Any, list[Seen]]:
    """`test_contract.replay`, through `AsyncOauthApi` on a fresh event loop."""
    reply = Reply(status=rec.status, headers=list(rec.response_headers), body=rec.body)
    client_id, client_secret = rec.credentials

    async def call(url: str) -> Any:
        config = Configuration(host=url, username=client_id, password=client_secret, timeouts=5,
                               retry=RetryPolicy(**rec.retry) if rec.retry else None)
        async with AsyncApiClient(config) as client:
            try:
                return await AsyncOauthApi(client).oauth_token(**rec.call)
            except OpenApiException as exc:
                return exc

    with TokenServer(default=reply) as server:
        return asyncio.run(call(server.url)), list(server.requests)


@pytest.mark.parametrize("path", RECORDING_FILES, ids=lambda p: p.stem)
def test_replay_through_the_async_client(path: Path) -> None:
    check_replay(load_recording(path), replay=replay_async)


def _wire(seen: Seen) -> tuple[str, str, dict[str, str], bytes]:
    headers = {k.lower(): v for k, v in seen.headers.items() if k.lower() != "host"}
    return seen.method, seen.path, headers, seen.body


@pytest.mark.parametrize("path", RECORDING_FILES[:3], ids=lambda p: p.stem)
def test_both_clients_send_the_same_request(path: Path) -> None:
    rec = load_recording(path)
    (_, sync_seen), (_, async_seen) = replay(rec), replay_async(rec)
    assert [_wire(s) for s in async_seen] == [_wire(s) for s in sync_seen]
