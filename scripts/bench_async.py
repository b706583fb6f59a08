"""The async half of `make bench` (called by scripts/bench.py): per-call cost of
`pinterest_oauth.aio` against raw httpx2 and raw aiohttp making the same POST, and authlib's
async client, all on one event loop against the same keep-alive responder.

Each call is awaited one after the other (the per-call cost, not concurrency); trials are
interleaved across the clients like the sync ones. Ratios are against raw httpx2, the library
the async client runs on; raw aiohttp shows what the other library choice would cost.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import json
import time
from typing import Any, Awaitable, Callable
from urllib.parse import parse_qsl, urlencode

from bench import (CLIENT_ID, CLIENT_SECRET, CODE, FORM, REDIRECT_URI, check_token, rotations, server_stats,
                   summary)

ASYNC_CLIENTS = ("httpx2", "aiohttp", "pinterest_oauth.aio", "authlib_async")
ASYNC_LABELS = {"httpx2": "raw httpx2 (a)", "aiohttp": "raw aiohttp", "pinterest_oauth.aio": "pinterest_oauth.aio (b)",
                "authlib_async": "authlib AsyncOAuth2Client (on httpx2)"}


async def _clients(base_url: str, stack: Any) -> dict[str, Callable[[], Awaitable[Any]]]:
    import aiohttp
    import httpx2

    token_url = base_url + "/oauth/token"
    body = urlencode(FORM).encode("ascii")
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode("ascii")
    headers = {"Authorization": "Basic " + basic, "Content-Type": "application/x-www-form-urlencoded",
               "Accept": "application/json"}

    raw_httpx = await stack.enter_async_context(httpx2.AsyncClient())

    async def httpx_call() -> Any:
        return json.loads((await raw_httpx.post(token_url, content=body, headers=headers)).content)

    raw_aiohttp = await stack.enter_async_context(aiohttp.ClientSession())

    async def aiohttp_call() -> Any:
        async with raw_aiohttp.post(token_url, data=body, headers=headers) as response:
            return json.loads(await response.read())

    from pinterest_oauth import Configuration
    from pinterest_oauth.aio import AsyncApiClient, AsyncOauthApi

    ours = await stack.enter_async_context(
        AsyncApiClient(Configuration(host=base_url, username=CLIENT_ID, password=CLIENT_SECRET)))
    api = AsyncOauthApi(ours)

    async def ours_call() -> Any:
        return await api.oauth_token("authorization_code", code=CODE, redirect_uri=REDIRECT_URI)

    from authlib.integrations.httpx_client import AsyncOAuth2Client  # type: ignore[import-untyped]

    authlib = await stack.enter_async_context(AsyncOAuth2Client(
        CLIENT_ID, CLIENT_SECRET, token_endpoint_auth_method="client_secret_basic", redirect_uri=REDIRECT_URI))

    async def authlib_call() -> Any:
        return await authlib.fetch_token(token_url, grant_type="authorization_code", code=CODE)

    return {"httpx2": httpx_call, "aiohttp": aiohttp_call, "pinterest_oauth.aio": ours_call,
            "authlib_async": authlib_call}


async def _per_call(port: int, trials: int, calls: int, warmup: int) -> dict[str, Any]:
    import contextlib

    async with contextlib.AsyncExitStack() as stack:
        clients = await _clients(f"http://127.0.0.1:{port}/v5", stack)
        for name, call in clients.items():
            for _ in range(warmup):
                check_token("pinterest_oauth" if name == "pinterest_oauth.aio" else name, await call())
        forms = [parse_qsl(body) for body in server_stats(port)["bodies"]]  # every distinct body so far
        if not all(sorted(form) == sorted(FORM) for form in forms):
            raise SystemExit("bench: the async clients sent different forms")
        samples: dict[str, dict[str, list[float]]] = {
            name: {"cpu_us": [], "wall_us": [], "server_cpu_us": []} for name in clients}
        for _, name in rotations(ASYNC_CLIENTS, trials):
            call = clients[name]
            gc.collect()
            before = server_stats(port)
            cpu0, wall0 = time.process_time(), time.perf_counter()
            for _ in range(calls):
                await call()
            cpu1, wall1 = time.process_time(), time.perf_counter()
            after = server_stats(port)
            if after["requests"] - before["requests"] != calls:
                raise SystemExit(f"bench: the responder did not see {calls} {name} calls")
            samples[name]["cpu_us"].append((cpu1 - cpu0) / calls * 1e6)
            samples[name]["wall_us"].append((wall1 - wall0) / calls * 1e6)
            samples[name]["server_cpu_us"].append((after["cpu_s"] - before["cpu_s"]) / calls * 1e6)
    result: dict[str, Any] = {
        "trials": trials, "calls_per_trial": calls, "warmup_calls": warmup, "same_form": True,
        "clients": {name: {k: summary(v) for k, v in s.items()} for name, s in samples.items()},
    }
    floor = result["clients"]["httpx2"]
    for name in ASYNC_CLIENTS[1:]:
        mine = result["clients"][name]
        mine["cpu_ratio"] = mine["cpu_us"]["median"] / floor["cpu_us"]["median"]
        mine["wall_ratio"] = mine["wall_us"]["median"] / floor["wall_us"]["median"]
        pairs = zip(samples[name]["cpu_us"], samples["httpx2"]["cpu_us"])
        mine["cpu_ratio_per_trial"] = summary([m / f for m, f in pairs])
    return result


def per_call_async(port: int, trials: int, calls: int, warmup: int) -> dict[str, Any]:
    """The async per-call measure, on a fresh asyncio event loop."""
    return asyncio.run(_per_call(port, trials, calls, warmup))


def async_table(results: dict[str, Any], sync_floor_cpu_us: float) -> list[str]:
    """The async clients' ratio table (markdown lines)."""
    pc = results["clients"]
    lines = [
        "| async client | CPU µs/call | wall µs/call | CPU vs raw httpx2 (a) | wall vs (a) | CPU vs raw urllib3 (sync floor) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name in ASYNC_CLIENTS:
        c = pc[name]
        cpu_ratio = (f"{c['cpu_ratio']:.2f}x ({c['cpu_ratio_per_trial']['min']:.2f}–"
                     f"{c['cpu_ratio_per_trial']['max']:.2f})" if "cpu_ratio" in c else "1")
        wall_ratio = f"{c['wall_ratio']:.2f}x" if "wall_ratio" in c else "1"
        lines.append(f"| {ASYNC_LABELS[name]} | {c['cpu_us']['median']:.0f} ({c['cpu_us']['min']:.0f}–"
                     f"{c['cpu_us']['max']:.0f}) | {c['wall_us']['median']:.0f} | {cpu_ratio} | {wall_ratio} "
                     f"| {c['cpu_us']['median'] / sync_floor_cpu_us:.2f}x |")
    return lines
