"""The README's code runs as written against a token server on 127.0.0.1.

Each python block is executed unchanged except for one substitution: Pinterest's address,
https://api.pinterest.com/v5, becomes the test server's. Blocks define every name they use
(credentials come from the environment variables the README names), so a block that refers to
an undefined name fails here."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Optional

import json
import os

import pytest

from conftest import CLIENT_ID, CLIENT_SECRET, REPO
from localserver import Reply, TokenServer
from fakes import A1, A2, A3, ACCESS_LIFE, R1, R2, R3, T0, Clock, form, make_token, ok, token_body

from pinterest_oauth import RetryPolicy, TokenSession, TokenStore


def readme_block(marker: str) -> str:
    """The README's python code block containing `marker` (fails if there is not exactly one)."""
    blocks = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(encoding="utf-8"), re.S)
    found = [block for block in blocks if marker in block]
    assert len(found) == 1, f"{len(found)} README python blocks contain {marker!r}"
    return found[0]


def test_the_sqlite_store_example(token_server: TokenServer, tmp_path: Path) -> None:
    namespace: dict[str, Any] = {}
    exec(compile(readme_block("class SqliteTokenStore"), "README.md", "exec"), namespace)
    store_class = namespace["SqliteTokenStore"]
    db = str(tmp_path / "tokens.db")
    clock = Clock(T0)

    def session() -> TokenSession:
        store = store_class(db)
        assert isinstance(store, TokenStore)
        return TokenSession(CLIENT_ID, CLIENT_SECRET, store, host=token_server.url, clock=clock,
                            retry=RetryPolicy(max_attempts=1))

    first, second = session(), session()  # two connections to one database, like two processes
    token_server.enqueue(ok(token_body("pina_A1", "pinr_R1", response_type="authorization_code")))
    first.exchange_code("TESTCODE", "https://example.com/cb")
    assert second.access_token() == "pina_A1"  # read from the database, no request

    clock.set(T0 + ACCESS_LIFE)  # expired: one refresh, seen by both sessions
    token_server.enqueue(ok(token_body("pina_A2", "pinr_R2")))
    assert first.access_token() == "pina_A2"
    assert second.access_token() == "pina_A2"
    assert [dict(form(seen)) for seen in token_server.requests] == [
        {"grant_type": "authorization_code", "code": "TESTCODE", "redirect_uri": "https://example.com/cb"},
        {"grant_type": "refresh_token", "refresh_token": "pinr_R1"},
    ]
    reopened = store_class(db).load()
    assert reopened.refresh_token.get_secret_value() == "pinr_R2"
    assert reopened.expires_at == T0 + ACCESS_LIFE + ACCESS_LIFE
    first.close()
    second.close()


def test_every_python_block_in_the_readme_compiles() -> None:
    blocks = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 5
    for number, block in enumerate(blocks, 1):
        compile(block, f"README.md python block {number}", "exec")


PINTEREST = "https://api.pinterest.com/v5"
REFRESH = "pinr_TESTREFRESH0000"
#: One distinctive piece of each python block of the README: every block must be run by a test.
MARKERS = {
    "quickstart": "callback = input(",
    "web": "def finish_login",
    "fresh": "def get(path: str)",
    "sqlite": "class SqliteTokenStore",
    "machines": "store = PostgresTokenStore(",
    "async": "async def client_token()",
    "async web": "app.cleanup_ctx.append(pinterest)",
    "direct": "app_token = api.oauth_token",
    "errors": "except RateLimitError as exc",
    "timeouts": "timeout=Timeouts(connect=3, read=10, total=20)",
    "logging": "saved = token.to_json()",
}


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(encoding="utf-8"), re.S)


def test_every_python_block_is_run_by_a_test() -> None:
    blocks = python_blocks()
    assert sorted(i for i, block in enumerate(blocks) for marker in MARKERS.values() if marker in block) == \
        list(range(len(blocks)))


@pytest.fixture
def readme_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The environment the README's blocks read, and a scratch working directory."""
    monkeypatch.setenv("PINTEREST_APP_ID", CLIENT_ID)
    monkeypatch.setenv("PINTEREST_APP_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("PINTEREST_REFRESH_TOKEN", REFRESH)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(name: str, server: TokenServer, namespace: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    code = readme_block(MARKERS[name])
    assert PINTEREST in code or name == "sqlite"
    namespace = {"__name__": f"readme_{name}"} if namespace is None else namespace
    exec(compile(code.replace(PINTEREST, server.url), f"README.md ({name})", "exec"), namespace)
    return namespace


def test_the_quickstart(token_server: TokenServer, readme_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    namespace: dict[str, Any] = {"__name__": "readme_quickstart"}
    namespace["input"] = lambda prompt: f"http://localhost:8085/?code=TESTCODE&state={namespace['state']}"
    token_server.enqueue(ok(token_body(A1, R1, response_type="authorization_code")))
    run("quickstart", token_server, namespace)
    assert capsys.readouterr().out.startswith("Open this page and approve the app: https://www.pinterest.com/oauth/?client_id=")
    [seen] = token_server.requests
    assert form(seen) == [("grant_type", "authorization_code"), ("code", "TESTCODE"), ("redirect_uri", "http://localhost:8085/")]
    assert namespace["bearer"] == A1 and namespace["headers"] == {"Authorization": f"Bearer {A1}"}
    assert json.loads((readme_env / "pinterest-token.json").read_text())["refresh_token"] == R1
    namespace["session"].close()


def test_the_web_login(token_server: TokenServer, readme_env: Path) -> None:
    namespace = run("web", token_server)
    user: dict[str, str] = {}
    url = namespace["start_login"](user)
    assert f"state={user['pinterest_state']}" in url and "response_type=code" in url
    token_server.enqueue(ok(token_body(A1, R1, response_type="authorization_code")))
    namespace["finish_login"](user, f"https://example.com/pinterest/callback?code=TESTCODE&state={user['pinterest_state']}")
    assert namespace["session"].access_token() == A1
    other: dict[str, str] = {}
    namespace["start_login"](other)
    with pytest.raises(PermissionError, match="Pinterest login failed"):
        namespace["finish_login"](other, "https://example.com/pinterest/callback?code=TESTCODE&state=forged")
    assert len(token_server.requests) == 1  # a forged redirect exchanges nothing
    namespace["session"].close()


def test_keeping_a_token_fresh(token_server: TokenServer, readme_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    token_server.enqueue(ok(token_body(A1, R1)), Reply(401, body=b"{}"), ok(token_body(A2, R2)), ok(b"{}"))
    run("fresh", token_server)
    assert capsys.readouterr().out == "200\n"
    start, rejected, refresh, retried = token_server.requests
    assert dict(form(start)) == {"grant_type": "refresh_token", "refresh_token": REFRESH, "continuous_refresh": "true"}
    assert (rejected.method, rejected.path, rejected.headers["Authorization"]) == ("GET", "/v5/user_account", f"Bearer {A1}")
    assert dict(form(refresh))["refresh_token"] == R1
    assert retried.headers["Authorization"] == f"Bearer {A2}"
    assert json.loads((readme_env / "pinterest-token.json").read_text())["refresh_token"] == R2


def test_calling_the_endpoint_directly(token_server: TokenServer, readme_env: Path) -> None:
    token_server.enqueue(ok(token_body(A1, R1)), ok(token_body(A2, R2)), ok(token_body("pina_TESTAPP", None, response_type="client_credentials")))
    namespace = run("direct", token_server)
    first, second, app = token_server.requests
    assert dict(form(first))["refresh_token"] == REFRESH
    assert dict(form(second))["refresh_token"] == R1  # the rotated token, passed as a SecretStr
    assert dict(form(app)) == {"grant_type": "client_credentials", "scope": "ads:read"}
    assert namespace["access"] == A2


def test_the_errors_example(token_server: TokenServer, readme_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    token_server.enqueue(Reply(401, body=b'{"code": 283, "message": "Authorization grant is invalid"}'))
    run("errors", token_server)
    out = capsys.readouterr().out
    assert out.splitlines() == ["send the user through the consent screen again",
                                f"HTTP 401 283 Authorization grant is invalid from {token_server.url}/oauth/token"]


def test_the_timeouts_example(token_server: TokenServer, readme_env: Path) -> None:
    token_server.enqueue(ok(token_body("pina_TESTAPP", None, response_type="client_credentials")))
    namespace = run("timeouts", token_server)
    assert namespace["config"].timeouts.total == 20 and namespace["config"].retry.max_attempts == 5
    assert dict(form(token_server.requests[0])) == {"grant_type": "client_credentials", "scope": "ads:read"}


def test_the_logging_example(token_server: TokenServer, readme_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    token_server.enqueue(ok(token_body(A1, R1)))
    namespace = run("logging", token_server)
    out = capsys.readouterr().out
    assert "SecretStr('**********')" in out and A1 not in out
    assert json.loads(namespace["saved"])["access_token"] == A1  # stored with its real value


def test_the_wheels_long_description_is_for_users_and_links_nothing_it_does_not_ship() -> None:
    from importlib.metadata import metadata

    import pinterest_oauth

    description = metadata("pinterest-oauth-sdk").get_payload()  # type: ignore[attr-defined]
    assert "TokenSession" in description and "authorization_url" in description
    assert re.findall(r"\]\((?!https://)[^)]*\)", description) == []  # no relative links
    assert "docs/" not in description and "make " not in description
    assert "Rendered from" not in (pinterest_oauth.__doc__ or "") and "owned/" not in (pinterest_oauth.__doc__ or "")


def test_the_readme_documents_every_token_session_option_with_its_default() -> None:
    import inspect

    text = (REPO / "README.md").read_text(encoding="utf-8")
    table = text.split("options, all keywords:", 1)[1].split("\n\n", 2)[1]
    rows = [line.split("|")[1:3] for line in table.splitlines()[2:]]
    documented = {}
    for names, default in rows:
        for name in re.findall(r"`(\w+)`", names):
            documented[name] = default.strip()
    params = inspect.signature(TokenSession).parameters
    keywords = {name: p.default for name, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}
    assert set(documented) == set(keywords)
    for name, default in keywords.items():
        if isinstance(default, (int, float)) and not isinstance(default, bool):
            assert float(documented[name]) == default, name
        elif default is None:
            assert documented[name].startswith("None") or name in ("host", "timeout", "timeouts", "retry"), name
    assert documented["allow_insecure_http"] == "False" and keywords["allow_insecure_http"] is False


def test_the_many_machines_example(token_server: TokenServer, readme_env: Path, postgres: Any,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Two 'machines' (two runs of the block, two sessions) share one row: one exchange, one refresh."""
    monkeypatch.setenv("DATABASE_URL", postgres.conninfo)
    token_server.enqueue(ok(token_body(A1, R1)))
    first = run("machines", token_server)
    second = run("machines", token_server)  # the row exists now: no second start
    assert first["bearer"] == second["bearer"] == A1
    [seen] = token_server.requests
    assert dict(form(seen)) == {"grant_type": "refresh_token", "refresh_token": REFRESH, "continuous_refresh": "true"}
    assert first["store"].load().refresh_token.get_secret_value() == R1
    first["session"].close()
    second["session"].close()


@pytest.mark.filterwarnings("error")
def test_the_async_client_example(token_server: TokenServer, readme_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    token_server.enqueue(ok(token_body("pina_TESTAPP", None, response_type="client_credentials")))
    run("async", token_server)
    assert capsys.readouterr().out == "pina_TESTAPP\n"
    [seen] = token_server.requests
    assert dict(form(seen)) == {"grant_type": "client_credentials", "scope": "ads:read"}


@pytest.mark.filterwarnings("error")
def test_the_async_web_app_example(token_server: TokenServer, readme_env: Path) -> None:
    """The aiohttp app: 20 concurrent requests with an expired token cause one refresh; a 401
    from the API forces a refresh; shutdown closes the session."""
    import asyncio

    from aiohttp.test_utils import TestClient, TestServer

    from pinterest_oauth import FileTokenStore

    FileTokenStore(readme_env / "pinterest-token.json").save(make_token(A1, R1, sent_at=1_000_000_000.0))  # long expired
    token_server.enqueue(ok(token_body(A2, R2)))
    for _ in range(20):
        token_server.enqueue(Reply(200, [("Content-Type", "application/json")], b'{"items": []}'))
    token_server.enqueue(Reply(401, [("Content-Type", "application/json")], b'{"code": 2, "message": "x"}'),
                         ok(token_body(A3, R3)))
    namespace = run("async web", token_server)

    async def scenario() -> list[int]:
        async with TestClient(TestServer(namespace["app"])) as client:
            answers = await asyncio.gather(*(client.get("/boards") for _ in range(20)))
            statuses = [a.status for a in answers]
            rejected = await client.get("/boards")
            statuses.append(rejected.status)
            return statuses

    assert asyncio.run(scenario()) == [200] * 20 + [401]
    posts = [s for s in token_server.requests if s.method == "POST"]
    gets = [s for s in token_server.requests if s.method == "GET"]
    assert [dict(form(p))["refresh_token"] for p in posts] == [R1, R2]  # one refresh, then the forced one
    assert {g.headers["Authorization"] for g in gets} == {f"Bearer {A2}"} and len(gets) == 21
    assert json.loads((readme_env / "pinterest-token.json").read_text())["refresh_token"] == R3
