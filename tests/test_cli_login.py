"""`pinterest-oauth login` as a user runs it: the installed command, a simulated browser, and the
token server on 127.0.0.1."""

from __future__ import annotations

import signal
import socket
import stat
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from clikit import (
    A1, CODE, R1, RUN_TIMEOUT, Login, cli, consent_params, default_store, environment, home, ipv6_loopback, save,
    stored_token,
)
from conftest import CLIENT_ID
from localserver import Reply, Seen, TokenServer
from pinterest_oauth import FileTokenStore
from tokenkit import form, ok, token_body

__all__ = ["home"]  # the fixture


def test_login_with_a_simulated_browser_saves_the_token(home: Path, token_server: TokenServer) -> None:
    token_server.enqueue(ok(token_body(A1, R1, response_type="authorization_code")))
    login = Login(home, "--host", token_server.url, "--scope", "boards:read,pins:read", "--continuous-refresh", "-v")
    params = consent_params(login.url())
    assert params["client_id"] == CLIENT_ID
    assert params["redirect_uri"] == login.redirect
    assert (params["response_type"], params["scope"]) == ("code", "boards:read,pins:read")
    assert len(params["state"]) >= 43

    assert login.browse("/favicon.ico")[0] == 404  # ignored: still waiting
    assert login.browse("/")[0] == 400  # the redirect path without a callback: still waiting
    status, page = login.browse(f"/?code={quote(CODE, safe='')}&state={params['state']}")
    assert status == 200 and "You may close this window" in page and "TESTCODE" not in page
    code, out, err = login.finish()

    assert code == 0, err
    assert "Logged in" in out and str(default_store(home)) in out and "boards:read, pins:read" in out
    assert "DEBUG: POST" in err  # verbose: the exchange was logged (and checked for secrets)
    assert len(token_server.requests) == 1
    assert form(token_server.requests[0]) == [
        ("grant_type", "authorization_code"), ("code", CODE), ("redirect_uri", login.redirect),
        ("continuous_refresh", "true"),
    ]
    path = default_store(home)
    saved = FileTokenStore(path).load()
    assert saved is not None and saved.access_token.get_secret_value() == A1
    assert saved.refresh_token is not None and saved.refresh_token.get_secret_value() == R1
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


@pytest.mark.parametrize(
    ("callback", "page_words", "message"),
    [
        ("/?code=TESTCODE-0001&state=not-the-state", "Login failed", "not the one this login sent"),
        ("/?code=TESTCODE-0001", "Login failed", "the callback has no state"),
        ("/?error=access_denied&state={state}", "Login failed", "did not authorize the app (error=access_denied"),
    ],
)
def test_login_refuses_a_wrong_state_or_an_error_and_exchanges_nothing(
    home: Path, token_server: TokenServer, callback: str, page_words: str, message: str,
) -> None:
    path = default_store(home)
    before = save(path, stored_token())
    login = Login(home, "--host", token_server.url)
    state = consent_params(login.url())["state"]
    status, page = login.browse(callback.format(state=state))
    assert status == 400 and page_words in page
    code, out, err = login.finish()
    assert code == 1
    assert message in err and "nothing was exchanged" in err
    assert token_server.requests == []
    assert path.read_bytes() == before


def test_login_on_localhost_listens_on_both_loopback_addresses(home: Path, token_server: TokenServer) -> None:
    """A browser may resolve localhost to ::1 or to 127.0.0.1: both reach the command."""
    token_server.enqueue(ok(token_body(A1, R1, response_type="authorization_code")))
    login = Login(home, "--host", token_server.url, host="localhost")
    params = consent_params(login.url())
    assert params["redirect_uri"] == f"http://localhost:{login.port}/"
    if ipv6_loopback():  # this machine has ::1: the command must listen there too
        assert login.browse("/favicon.ico", address="[::1]")[0] == 404
    assert login.browse(f"/?code={quote(CODE, safe='')}&state={params['state']}")[0] == 200
    code, _, err = login.finish()
    assert code == 0, err
    assert dict(form(token_server.requests[0]))["redirect_uri"] == f"http://localhost:{login.port}/"


def test_idle_connections_do_not_hold_up_the_callback(home: Path, token_server: TokenServer) -> None:
    """Browsers open spare connections that send nothing; the receiver (which gives a started
    request 5 s) must answer the real one on another connection at once."""
    token_server.enqueue(ok(token_body(A1, R1, response_type="authorization_code")))
    login = Login(home, "--host", token_server.url)
    state = consent_params(login.url())["state"]
    idle = [socket.create_connection(("127.0.0.1", login.port), timeout=10) for _ in range(3)]
    try:
        time.sleep(0.2)  # accepted by now
        assert login.browse(f"/?code={quote(CODE, safe='')}&state={state}", timeout=3)[0] == 200
    finally:
        for sock in idle:
            sock.close()
    code, _, err = login.finish()
    assert code == 0, err


def test_login_through_the_browser_command(home: Path, token_server: TokenServer) -> None:
    """Without --no-browser the URL goes to `webbrowser` (here a $BROWSER that records it)."""
    seen = home / "browser-saw.txt"
    fake = home / "fake_browser.py"
    fake.write_text("import sys\nopen(sys.argv[1], 'w').write(sys.argv[2])\n")
    env = environment(home, BROWSER=f"{sys.executable} {fake} {seen} %s", DISPLAY=None)
    token_server.enqueue(ok(token_body(A1, R1, response_type="authorization_code")))
    login = Login(home, "--host", token_server.url, env=env, browser=True)
    printed = login.url()
    deadline = time.monotonic() + 30
    while not seen.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert seen.read_text() == printed
    assert any("browser should open" in line for line in login.stderr)
    state = consent_params(printed)["state"]
    assert login.browse(f"/?code={quote(CODE, safe='')}&state={state}")[0] == 200
    code, _, err = login.finish()
    assert code == 0, err
    assert len(token_server.requests) == 1


def test_login_gives_up_after_the_timeout(home: Path, token_server: TokenServer) -> None:
    path = default_store(home)
    before = save(path, stored_token())
    login = Login(home, "--host", token_server.url, "--timeout", "1")
    login.url()
    code, _, err = login.finish()
    assert code == 1
    assert "no redirect from Pinterest arrived within 1 seconds" in err
    assert token_server.requests == [] and path.read_bytes() == before


def test_ctrl_c_during_login_leaves_the_store_untouched(home: Path, token_server: TokenServer) -> None:
    path = default_store(home)
    before = save(path, stored_token())
    login = Login(home, "--host", token_server.url)
    login.url()  # listening, waiting for the browser
    login.proc.send_signal(signal.SIGINT)
    code, _, err = login.finish()
    assert code == 130
    assert "interrupted" in err
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["token.json", "token.json.lock"]
    assert token_server.requests == []


def test_ctrl_c_during_the_exchange_lets_it_finish_and_save(home: Path, token_server: TokenServer) -> None:
    """The code is single-use: once it is sent, Ctrl-C waits for the answer and the save."""
    arrived = threading.Event()

    def slow_answer(seen: Seen) -> Reply:
        arrived.set()
        time.sleep(1.0)
        return ok(token_body(A1, R1, response_type="authorization_code"))

    token_server.enqueue(slow_answer)
    login = Login(home, "--host", token_server.url)
    state = consent_params(login.url())["state"]
    assert login.browse(f"/?code={quote(CODE, safe='')}&state={state}")[0] == 200
    assert arrived.wait(RUN_TIMEOUT)
    login.proc.send_signal(signal.SIGINT)
    code, _, err = login.finish()
    assert code == 130
    assert "finishing the token request first" in err and "interrupted" in err
    saved = FileTokenStore(default_store(home)).load()
    assert saved is not None and saved.access_token.get_secret_value() == A1


def test_login_when_the_port_is_taken(home: Path, token_server: TokenServer) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = cli(home, "login", "--no-browser", "--host", token_server.url,
                   "--redirect-uri", f"http://127.0.0.1:{port}/")
    assert proc.returncode == 1
    assert f"cannot listen for the redirect on http://127.0.0.1:{port}/" in proc.stderr


@pytest.mark.parametrize("uri", ["https://localhost:8085/", "http://example.com/cb", "http://localhost:99999/"])
def test_login_needs_a_loopback_http_redirect_uri(home: Path, uri: str) -> None:
    proc = cli(home, "login", "--no-browser", "--redirect-uri", uri)
    assert proc.returncode == 2
    assert "redirect URI" in proc.stderr
