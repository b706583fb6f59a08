"""The installed `pinterest-oauth` command (token, status, refresh, exchange, client-token, exit
statuses), run as a subprocess against the token server on 127.0.0.1; login is in test_cli_login."""

from __future__ import annotations

import json
import os
import select
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

import pytest

from clikit import (
    A1, A2, CLI, CODE, R1, R2, RUN_TIMEOUT, check_secrets, cli, default_store, environment, free_port, home,
    save, stored_token,
)
from conftest import CLIENT_ID, CLIENT_SECRET
from localserver import Reply, Seen, TokenServer
from pinterest_oauth import FileTokenStore, Token
from tokenkit import DAY, form, ok, token_body

__all__ = ["home"]  # the fixture


def test_token_prints_only_the_stored_token_without_a_request(home: Path, token_server: TokenServer) -> None:
    save(default_store(home), stored_token())
    proc = cli(home, "token", "--host", token_server.url, token_on_stdout=A1)
    assert proc.returncode == 0 and proc.stderr == ""
    assert token_server.requests == []


def test_eight_concurrent_token_processes_refresh_once(home: Path, token_server: TokenServer) -> None:
    path = default_store(home)
    save(path, stored_token(access_left=-60))  # expired a minute ago

    def slow_refresh(seen: Seen) -> Reply:
        time.sleep(0.5)  # the other processes queue on the store's lock meanwhile
        return ok(token_body(A2, R2))

    token_server.enqueue(slow_refresh)  # any second request would get the default 500
    procs = [subprocess.Popen([CLI, "token", "--host", token_server.url], env=environment(home), text=True,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(8)]
    try:
        results = [(proc.communicate(timeout=RUN_TIMEOUT), proc.returncode) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
    for (out, err), code in results:
        assert code == 0, err
        check_secrets(out, err, token_on_stdout=A2)
    assert len(token_server.requests) == 1
    assert form(token_server.requests[0]) == [("grant_type", "refresh_token"), ("refresh_token", R1)]
    saved = FileTokenStore(path).load()
    assert saved is not None and saved.refresh_token is not None
    assert saved.refresh_token.get_secret_value() == R2


def test_verbose_token_logs_the_refresh_without_secrets(home: Path, token_server: TokenServer) -> None:
    save(default_store(home), stored_token(access_left=-60))
    token_server.enqueue(ok(token_body(A2, R2)))
    proc = cli(home, "token", "-v", "--host", token_server.url, token_on_stdout=A2)
    assert proc.returncode == 0
    assert f"POST {token_server.url}/oauth/token" in proc.stderr and "DEBUG" in proc.stderr


def test_refresh_forces_a_refresh_and_reports_the_new_expiry(home: Path, token_server: TokenServer) -> None:
    path = default_store(home)
    save(path, stored_token())  # still valid for 10 days
    token_server.enqueue(ok(token_body(A2, R2)))
    proc = cli(home, "refresh", "--host", token_server.url)
    assert proc.returncode == 0, proc.stderr
    assert "Refreshed." in proc.stdout
    assert "access token:   expires" in proc.stdout and "(in 29 days)" in proc.stdout
    assert "refresh token:  expires" in proc.stdout and "(in 59 days)" in proc.stdout
    assert [form(seen) for seen in token_server.requests] == [[("grant_type", "refresh_token"), ("refresh_token", R1)]]
    saved = FileTokenStore(path).load()
    assert saved is not None and saved.access_token.get_secret_value() == A2


def test_exchange_saves_the_token_for_a_code_given_as_option_or_on_stdin(home: Path, token_server: TokenServer) -> None:
    token_server.enqueue(ok(token_body(A1, R1, response_type="authorization_code")))
    store = home / "elsewhere" / "t.json"
    proc = cli(home, "exchange", "--host", token_server.url, "--store", str(store),
               "--code", "TESTCODE-FROM-ARG", "--redirect-uri", "https://example.com/cb")
    assert proc.returncode == 0, proc.stderr
    assert "Code exchanged" in proc.stdout and str(store) in proc.stdout
    token_server.enqueue(ok(token_body(A2, R2, response_type="authorization_code")))
    proc = cli(home, "exchange", "--host", token_server.url, "--store", str(store),
               "--redirect-uri", "https://example.com/cb", stdin=CODE + "\n")
    assert proc.returncode == 0, proc.stderr
    assert [dict(form(seen))["code"] for seen in token_server.requests] == ["TESTCODE-FROM-ARG", CODE]
    saved = FileTokenStore(store).load()
    assert saved is not None and saved.access_token.get_secret_value() == A2
    assert stat.S_IMODE(store.parent.stat().st_mode) == 0o700


def test_client_token_prints_the_token_and_stores_nothing(home: Path, token_server: TokenServer) -> None:
    token_server.enqueue(ok(token_body(A1, None, response_type="client_credentials", scope="ads:read")))
    proc = cli(home, "client-token", "--scope", "ads:read", "--host", token_server.url, token_on_stdout=A1)
    assert proc.returncode == 0
    assert [form(seen) for seen in token_server.requests] == [[("grant_type", "client_credentials"), ("scope", "ads:read")]]
    assert not (home / "config").exists()


def test_a_save_that_fails_once_is_tried_again_and_one_that_keeps_failing_exits_6(home: Path, token_server: TokenServer) -> None:
    """A rotated refresh token is not dropped when the first write fails (fault injected through
    FileTokenStore's test hook from a sitecustomize)."""
    hook = home / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import os\n"
        "from pinterest_oauth.lib import stores\n"
        "left = [int(os.environ['FAIL_SAVES'])]\n"
        "def _step(self, name):\n"
        "    if name == 'tmp_written' and left[0] > 0:\n"
        "        left[0] -= 1\n"
        "        raise OSError(28, 'No space left on device')\n"
        "stores.FileTokenStore._step = _step\n"
    )
    path = default_store(home)
    before = save(path, stored_token(access_left=-60))
    token_server.enqueue(ok(token_body(A2, R2)))
    proc = cli(home, "token", "--host", token_server.url, token_on_stdout=A2,
               env=environment(home, PYTHONPATH=str(hook), FAIL_SAVES="1"))
    assert proc.returncode == 0, proc.stderr
    assert "No space left on device" in proc.stderr  # the warning
    saved = FileTokenStore(path).load()
    assert saved is not None and saved.access_token.get_secret_value() == A2

    token_server.enqueue(ok(token_body(A1, R1, response_type="authorization_code")))
    other = home / "other.json"
    proc = cli(home, "exchange", "--host", token_server.url, "--store", str(other), "--redirect-uri",
               "https://example.com/cb", stdin=CODE + "\n", env=environment(home, PYTHONPATH=str(hook), FAIL_SAVES="1"))
    assert proc.returncode == 0, proc.stderr
    assert "trying once more" in proc.stderr
    saved = FileTokenStore(other).load()
    assert saved is not None and saved.access_token.get_secret_value() == A1

    save(path, Token.from_dict(json.loads(before)))
    token_server.enqueue(ok(token_body(A2, R2)))
    proc = cli(home, "token", "--host", token_server.url, env=environment(home, PYTHONPATH=str(hook), FAIL_SAVES="9"))
    assert proc.returncode == 6
    assert proc.stdout == "" and "could not save the token" in proc.stderr
    assert path.read_bytes() == before


def test_status_json_describes_the_token_without_secrets(home: Path) -> None:
    path = default_store(home)
    token = stored_token()
    save(path, token)
    proc = cli(home, "status", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["store"] == str(path) and data["stored"] is True and data["usable"] is True
    assert data["scopes"] == ["boards:read", "pins:read"]
    assert (data["token_type"], data["response_type"]) == ("bearer", "authorization_code")
    assert data["access_token"]["expired"] is False
    assert abs(data["access_token"]["expires_in_seconds"] - (10 * DAY + 3600)) < 60
    assert data["access_token"]["expires_at"].endswith("+00:00")  # local time (TZ=UTC here) with its offset
    assert data["refresh_token"]["present"] is True
    assert abs(data["refresh_token"]["expires_in_seconds"] - (50 * DAY + 3600)) < 60


def test_status_text_shows_local_times_and_days_left(home: Path) -> None:
    save(default_store(home), stored_token())
    proc = cli(home, "status", env=environment(home, TZ="America/New_York"))
    assert proc.returncode == 0, proc.stderr
    assert f"store:          {default_store(home)}" in proc.stdout
    assert "scopes:         boards:read, pins:read" in proc.stdout
    assert "access token:   expires" in proc.stdout and "(in 10 days)" in proc.stdout
    assert "refresh token:  expires" in proc.stdout and "(in 50 days)" in proc.stdout
    assert " EST " in proc.stdout or " EDT " in proc.stdout


def test_status_of_an_expired_token_without_refresh_token_says_to_log_in(home: Path) -> None:
    save(default_store(home), stored_token(refresh=None, access_left=-2 * DAY))
    proc = cli(home, "status", "--json")
    assert proc.returncode == 3
    assert json.loads(proc.stdout)["usable"] is False
    assert "pinterest-oauth login" in proc.stderr


def test_every_subcommand_has_help(home: Path) -> None:
    for sub in ("login", "token", "status", "refresh", "exchange", "client-token"):
        proc = cli(home, sub, "--help")
        assert proc.returncode == 0 and proc.stdout.startswith(f"usage: pinterest-oauth {sub}")
        assert "exit statuses:" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "pinterest_oauth", "--help"], capture_output=True, text=True,
                          timeout=RUN_TIMEOUT, env=environment(home))
    assert proc.returncode == 0 and "3    re-authorization required" in proc.stdout


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["token", "--bogus"], "unrecognized arguments: --bogus"),
        ([], "required: COMMAND"),
        (["login", "--timeout", "0"], "positive number of seconds"),
        (["exchange", "--code", "x"], "--redirect-uri"),
        (["client-token"], "--scope"),
    ],
)
def test_usage_errors_exit_2(home: Path, args: list[str], words: str) -> None:
    proc = cli(home, *args)
    assert proc.returncode == 2 and words in proc.stderr


def test_a_secret_option_is_refused_without_echoing_it(home: Path) -> None:
    for args in (["token", "--client-secret", "TOPSECRETVALUE"], ["token", "--app-secret=TOPSECRETVALUE"]):
        proc = cli(home, *args)
        assert proc.returncode == 2
        assert "visible to other users" in proc.stderr and "PINTEREST_APP_SECRET" in proc.stderr
        assert "TOPSECRETVALUE" not in proc.stderr + proc.stdout


def test_missing_credentials_without_a_terminal_exit_2(home: Path, token_server: TokenServer) -> None:
    save(default_store(home), stored_token())
    proc = cli(home, "token", "--host", token_server.url, env=environment(home, PINTEREST_APP_SECRET=None))
    assert proc.returncode == 2 and "no app secret: set PINTEREST_APP_SECRET" in proc.stderr
    proc = cli(home, "token", "--host", token_server.url, env=environment(home, PINTEREST_APP_ID=None))
    assert proc.returncode == 2 and "no app id: set PINTEREST_APP_ID" in proc.stderr
    proc = cli(home, "token", "--client-id", CLIENT_ID, "--host", token_server.url, token_on_stdout=A1,
               env=environment(home, PINTEREST_APP_ID=None))
    assert proc.returncode == 0


def test_an_insecure_host_is_a_usage_error(home: Path) -> None:
    proc = cli(home, "client-token", "--scope", "ads:read", "--host", "http://192.0.2.1/v5")
    assert proc.returncode == 2 and "http" in proc.stderr


def test_nothing_stored_exits_3_and_says_to_log_in(home: Path, token_server: TokenServer) -> None:
    for sub in ("token", "refresh", "status"):
        proc = cli(home, sub, *(["--host", token_server.url] if sub != "status" else []))
        assert proc.returncode == 3
        assert f"no token stored in {default_store(home)}: run `pinterest-oauth login`" in proc.stderr
    assert token_server.requests == []


@pytest.mark.parametrize(
    "reply",
    [
        Reply(401, body=b'{"code": 283, "message": "Authentication failed."}'),
        Reply(400, body=b'{"error": "invalid_grant", "error_description": "refresh token expired"}'),
    ],
)
def test_a_rejected_refresh_token_exits_3_and_keeps_the_store(home: Path, token_server: TokenServer, reply: Reply) -> None:
    path = default_store(home)
    before = save(path, stored_token(access_left=-60))
    token_server.enqueue(reply)
    proc = cli(home, "token", "--host", token_server.url)
    assert proc.returncode == 3
    assert "re-authorization required" in proc.stderr and "run `pinterest-oauth login`" in proc.stderr
    assert proc.stdout == "" and path.read_bytes() == before


def test_a_rejected_code_exits_3(home: Path, token_server: TokenServer) -> None:
    token_server.enqueue(Reply(400, body=b'{"error": "invalid_grant", "error_description": "code expired"}'))
    proc = cli(home, "exchange", "--host", token_server.url, "--code", "TESTCODE-OLD", "--redirect-uri", "https://e.com/")
    assert proc.returncode == 3 and "pinterest-oauth login" in proc.stderr
    assert not default_store(home).exists()


def test_network_failures_exit_4(home: Path) -> None:
    save(default_store(home), stored_token(access_left=-60))
    host = f"http://127.0.0.1:{free_port()}/v5"  # nothing listens there
    proc = cli(home, "token", "--host", host)
    assert proc.returncode == 4 and proc.stdout == ""
    assert proc.stderr.startswith("pinterest-oauth: network: ")


@pytest.mark.parametrize(
    ("reply", "words"),
    [
        (Reply(500, body=b'{"code": 1, "message": "Internal error"}'), "HTTP 500"),
        (Reply(401, body=b'{"code": 2, "message": "Authentication failed."}'), "check the app id and PINTEREST_APP_SECRET"),
        (Reply(200, body=b'{"access_token": 1}'), "invalid token response"),
    ],
)
def test_server_errors_exit_5(home: Path, token_server: TokenServer, reply: Reply, words: str) -> None:
    path = default_store(home)
    before = save(path, stored_token(access_left=-60))
    token_server.enqueue(reply)
    proc = cli(home, "refresh", "--host", token_server.url)
    assert proc.returncode == 5 and words in proc.stderr
    assert path.read_bytes() == before


def test_an_unreadable_store_exits_6(home: Path, token_server: TokenServer) -> None:
    path = default_store(home)
    path.parent.mkdir(parents=True)
    path.write_text('{"access_token": "pina_CLITESTACCESS0001", "refresh_tok')
    for sub in ("token", "status"):
        proc = cli(home, sub, *(["--host", token_server.url] if sub == "token" else []))
        assert proc.returncode == 6 and "is not valid JSON" in proc.stderr
    assert token_server.requests == []


def test_a_store_path_that_is_a_directory_is_refused_before_login(home: Path) -> None:
    (home / "dir").mkdir()
    proc = cli(home, "login", "--no-browser", "--store", str(home / "dir"))
    assert proc.returncode == 2 and "is a directory" in proc.stderr


def test_the_secret_is_asked_on_the_terminal_without_echo(home: Path, token_server: TokenServer) -> None:
    import pty

    save(default_store(home), stored_token())
    master, slave = pty.openpty()
    proc: Optional["subprocess.Popen[bytes]"] = None
    try:
        proc = subprocess.Popen([CLI, "token", "--host", token_server.url], stdin=slave, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=environment(home, PINTEREST_APP_SECRET=None),
                                start_new_session=True)  # no controlling terminal: getpass uses stdin
        os.close(slave)
        slave = -1
        assert proc.stderr is not None
        prompt = b""
        deadline = time.monotonic() + RUN_TIMEOUT
        while b"(not shown): " not in prompt and time.monotonic() < deadline:
            if not select.select([proc.stderr], [], [], 1.0)[0]:
                continue
            chunk = os.read(proc.stderr.fileno(), 100)
            assert chunk, "the command ended without asking"
            prompt += chunk
        assert prompt == b"Pinterest app secret (not shown): "
        os.write(master, (CLIENT_SECRET + "\n").encode())
        out, err = proc.communicate(timeout=RUN_TIMEOUT)
        assert proc.returncode == 0, err
        check_secrets(out.decode(), err.decode(), token_on_stdout=A1)
        echoed = b""
        os.set_blocking(master, False)
        try:
            echoed = os.read(master, 1000)
        except (BlockingIOError, OSError):
            pass
        assert CLIENT_SECRET.encode() not in echoed and b"s3cr" not in echoed
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        os.close(master)
        if slave >= 0:
            os.close(slave)


def test_the_readme_lists_the_same_exit_statuses_as_the_help(home: Path) -> None:
    from conftest import REPO

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Exit statuses", 1)[1].split("\n## ", 1)[0]
    documented = [line.split("|")[1].strip() for line in section.splitlines() if line.startswith("| ") and
                  line.split("|")[1].strip().isdigit()]
    helped = [line.split()[0] for line in cli(home, "--help").stdout.split("exit statuses:", 1)[1].splitlines()
              if line[:6].strip().isdigit()]
    assert documented == helped == ["0", "1", "2", "3", "4", "5", "6", "130"]


def test_help_and_usage_errors_do_not_load_pydantic(home: Path) -> None:
    """The command imports the token machinery only when a command needs it (`--help` is instant)."""
    script = ("import sys\nfrom pinterest_oauth.lib import cli\n"
              "for argv in (['--help'], ['token', '--bogus']):\n"
              "    try:\n        cli.main(argv)\n    except SystemExit:\n        pass\n"
              "print(sorted(m for m in ('pydantic', 'urllib3') if m in sys.modules))\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=RUN_TIMEOUT,
                          env=environment(home))
    assert proc.stdout.strip().endswith("[]"), proc.stdout + proc.stderr
