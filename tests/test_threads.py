"""One ApiClient shared by 16 threads, 200 calls each: every call gets its own answer (issue 5, item 6)."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs

from conftest import CLIENT_ID, CLIENT_SECRET
from fakes import BASIC
from localserver import Reply, Seen, TokenServer

from pinterest_oauth import ApiClient, Configuration, OauthApi

THREADS = 16
CALLS = 200


def echo_token(seen: Seen) -> Reply:
    """Mint a token from the request's code, so each answer belongs to exactly one call."""
    form = parse_qs(seen.body.decode())
    (code,) = form["code"]
    ok = seen.header("Authorization") == f"Basic {BASIC}" and form["grant_type"] == ["authorization_code"]
    body = {"access_token": f"pina_FOR_{code}", "refresh_token": f"pinr_FOR_{code}", "token_type": "bearer",
            "expires_in": 3600 if ok else -1, "scope": code, "response_type": "authorization_code"}
    return Reply(status=200, body=json.dumps(body).encode())


def test_shared_client_under_16_threads() -> None:
    with TokenServer(default=echo_token) as server:
        config = Configuration(host=server.url, username=CLIENT_ID, password=CLIENT_SECRET)
        with ApiClient(config) as client:
            api = OauthApi(client)
            start = threading.Barrier(THREADS)

            def worker(n: int) -> list[str]:
                start.wait()
                problems = []
                for i in range(CALLS):
                    code = f"T{n:02d}C{i:03d}"
                    token = api.oauth_token(grant_type="authorization_code", code=code, redirect_uri="https://e.x/cb")
                    got = (token.access_token.get_secret_value(), token.refresh_token.get_secret_value()  # type: ignore[union-attr]
                           if token.refresh_token else None, token.scope, token.expires_in)
                    if got != (f"pina_FOR_{code}", f"pinr_FOR_{code}", code, 3600):
                        problems.append(f"{code}: {got}")
                return problems

            with ThreadPoolExecutor(THREADS) as pool:
                results = list(pool.map(worker, range(THREADS)))
        assert [p for r in results for p in r] == []
        assert len(server.requests) == THREADS * CALLS
        codes = sorted(parse_qs(s.body.decode())["code"][0] for s in server.requests)
        assert codes == sorted(f"T{n:02d}C{i:03d}" for n in range(THREADS) for i in range(CALLS))
