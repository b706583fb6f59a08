"""The README's code runs: its custom token store example works with TokenSession."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from conftest import CLIENT_ID, CLIENT_SECRET, REPO
from localserver import TokenServer
from fakes import ACCESS_LIFE, T0, Clock, form, ok, token_body

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
