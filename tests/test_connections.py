"""Connection reuse: keep-alive across calls, a fresh connection after close(), host changes honoured."""

from __future__ import annotations

import json

from conftest import CLIENT_ID, CLIENT_SECRET
from localserver import Reply, TokenServer

from pinterest_oauth import ApiClient, Configuration, OauthApi

TOKEN = Reply(body=json.dumps({"access_token": "pina_X", "token_type": "bearer", "expires_in": 60,
                               "scope": "pins:read", "response_type": "client_credentials"}).encode())


def _call(api: OauthApi) -> str:
    return api.oauth_token(grant_type="client_credentials", scope="pins:read").access_token.get_secret_value()


def test_calls_share_one_keep_alive_connection_and_reconnect_after_close() -> None:
    with TokenServer(default=TOKEN) as server:
        client = ApiClient(Configuration(host=server.url, username=CLIENT_ID, password=CLIENT_SECRET))
        api = OauthApi(client)
        assert [_call(api) for _ in range(3)] == ["pina_X"] * 3
        assert [seen.connection for seen in server.requests] == [1, 1, 1]

        client.close()  # closes the pooled connections; the client stays usable
        assert _call(api) == "pina_X"
        assert _call(api) == "pina_X"
        assert [seen.connection for seen in server.requests[3:]] == [2, 2]
        assert [seen.path for seen in server.requests] == ["/v5/oauth/token"] * 5
        client.close()


def test_changing_the_host_sends_to_the_new_host() -> None:
    with TokenServer(default=TOKEN) as first, TokenServer(default=TOKEN) as second:
        config = Configuration(host=first.url, username=CLIENT_ID, password=CLIENT_SECRET)
        with ApiClient(config) as client:
            api = OauthApi(client)
            _call(api)
            config.host = second.url
            _call(api)
            config.host = first.url
            _call(api)
        assert (len(first.requests), len(second.requests)) == (2, 1)


def test_many_hosts_do_not_break_reuse() -> None:
    """More hosts than the pool manager keeps (it closes the least recently used pool)."""
    servers = [TokenServer(default=TOKEN) for _ in range(12)]
    try:
        config = Configuration(username=CLIENT_ID, password=CLIENT_SECRET)
        with ApiClient(config) as client:
            api = OauthApi(client)
            for _ in range(2):
                for server in servers:
                    config.host = server.url
                    assert _call(api) == "pina_X"
        assert [len(s.requests) for s in servers] == [2] * 12
    finally:
        for server in servers:
            server.stop()


def test_close_while_other_threads_call() -> None:
    """close() from one thread while others are mid-call: every call still gets its token."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    with TokenServer(default=TOKEN) as server:
        client = ApiClient(Configuration(host=server.url, username=CLIENT_ID, password=CLIENT_SECRET))
        api = OauthApi(client)
        done = threading.Event()

        def closer() -> int:
            closes = 0
            while not done.is_set() and closes < 200:
                client.close()
                closes += 1
                done.wait(0.002)
            return closes

        with ThreadPoolExecutor(5) as pool:
            closing = pool.submit(closer)
            tokens = list(pool.map(lambda _: [_call(api) for _ in range(50)], range(4)))
            done.set()
            assert closing.result() > 1
        assert tokens == [["pina_X"] * 50] * 4
        assert len(server.requests) == 200 and server.connections > 1
        client.close()
