"""Helpers for the command-line tests: run the installed `pinterest-oauth`, drive a login, check
every output for secrets (the app secret, codes and refresh tokens never appear on stdout or
stderr; access tokens only on the stdout of `token` / `client-token`)."""

from __future__ import annotations

import base64
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Optional
from urllib.parse import parse_qsl, quote, urlsplit

import pytest

from conftest import CLIENT_ID, CLIENT_SECRET
from pinterest_oauth import FileTokenStore, Token
from tokenkit import ACCESS_LIFE, DAY, REFRESH_LIFE

BIN = Path(sys.executable).parent
CLI = str(BIN / "pinterest-oauth")
RUN_TIMEOUT = 60  # seconds, for every subprocess

CODE = "TESTCODE-0001/x+y="
A1, R1 = "pina_CLITESTACCESS0001", "pinr_CLITESTREFRESH0001"
A2, R2 = "pina_CLITESTACCESS0002", "pinr_CLITESTREFRESH0002"
BASIC = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()  # the Authorization header's value
NEVER_SHOWN = (CLIENT_SECRET, CODE, quote(CODE, safe=""), R1, R2, "CLITESTREFRESH", BASIC, BASIC[8:24])
ACCESS = (A1, A2, "CLITESTACCESS")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "home").mkdir()
    return tmp_path


def environment(home: Path, **changes: Optional[str]) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home / "home"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "LANG": "C.UTF-8",
        "TZ": "UTC",
        "PINTEREST_APP_ID": CLIENT_ID,
        "PINTEREST_APP_SECRET": CLIENT_SECRET,
    }
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def default_store(home: Path) -> Path:
    return home / "config" / "pinterest-oauth" / "token.json"


def check_secrets(stdout: str, stderr: str, *, token_on_stdout: Optional[str] = None) -> None:
    for secret in NEVER_SHOWN:
        assert secret not in stdout and secret not in stderr, f"a secret ({secret[:6]}...) was printed"
    for access in ACCESS:
        assert access not in stderr, "an access token reached stderr"
        if token_on_stdout is None:
            assert access not in stdout, "an access token reached stdout"
    if token_on_stdout is not None:
        assert stdout == token_on_stdout + "\n"
    assert "Traceback" not in stderr


def cli(home: Path, *args: str, env: Optional[dict[str, str]] = None, stdin: Optional[str] = None,
        token_on_stdout: Optional[str] = None) -> subprocess.CompletedProcess[str]:
    """Run the installed command to completion (bounded), and check its output for secrets."""
    proc = subprocess.run(
        [CLI, *args], env=env or environment(home), text=True, capture_output=True, timeout=RUN_TIMEOUT,
        input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL,
    )
    check_secrets(proc.stdout, proc.stderr, token_on_stdout=token_on_stdout)
    return proc


def stored_token(access: str = A1, refresh: Optional[str] = R1, *, access_left: float = 10 * DAY + 3600,
                 refresh_left: Optional[float] = 50 * DAY + 3600) -> Token:
    now = time.time()
    return Token.from_dict({
        "version": 1, "access_token": access, "token_type": "bearer", "scope": "boards:read,pins:read",
        "expires_in": ACCESS_LIFE, "expires_at": now + access_left, "obtained_at": now + access_left - ACCESS_LIFE,
        "refresh_token": refresh, "refresh_token_expires_in": REFRESH_LIFE if refresh else None,
        "refresh_token_expires_at": now + refresh_left if refresh and refresh_left is not None else None,
        "response_type": "authorization_code",
    })


def save(path: Path, token: Token) -> bytes:
    FileTokenStore(path).save(token)
    return path.read_bytes()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Login:
    """A running `pinterest-oauth login`; stderr is read by a thread so the URL can be awaited."""

    def __init__(self, home: Path, *args: str, env: Optional[dict[str, str]] = None, browser: bool = False,
                 host: str = "127.0.0.1") -> None:
        self.port = free_port()
        self.redirect = f"http://{host}:{self.port}/"
        argv = [CLI, "login", "--redirect-uri", self.redirect, *args]
        if not browser:
            argv.append("--no-browser")
        self.proc = subprocess.Popen(argv, env=env or environment(home), text=True, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=_ctrl_c_default)
        self.lines: "queue.Queue[str]" = queue.Queue()
        self.stderr: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)
            self.lines.put(line)

    def url(self) -> str:
        """The consent URL the command printed to stderr (waits for it, bounded)."""
        deadline = time.monotonic() + RUN_TIMEOUT
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line.startswith("https://"):
                return line.strip()
        raise AssertionError(f"no URL printed; stderr so far: {''.join(self.stderr)!r}")

    def browse(self, target: str, address: str = "127.0.0.1", timeout: float = 10) -> tuple[int, str]:
        """GET http://ADDRESS:PORT + target as a browser would; (status, page)."""
        try:
            with urllib.request.urlopen(f"http://{address}:{self.port}{target}", timeout=timeout) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def finish(self) -> tuple[int, str, str]:
        assert self.proc.stdout is not None
        try:
            code = self.proc.wait(timeout=RUN_TIMEOUT)  # its stdout is a few lines: no pipe can fill
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(timeout=10)
        out = self.proc.stdout.read()
        self.proc.stdout.close()
        self.reader.join(timeout=10)
        assert self.proc.stderr is not None
        self.proc.stderr.close()  # the reader saw its end: a pipe left to the collector warns later
        err = "".join(self.stderr)
        check_secrets(out, err)
        return code, out, err


def ipv6_loopback() -> bool:
    """Whether this machine can listen on ::1."""
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


def _ctrl_c_default() -> None:
    """In the login child before exec: SIGINT at its default, so that Python installs its
    KeyboardInterrupt handler even when the tests were started with SIGINT ignored (a
    background job of a non-interactive shell); the Ctrl-C tests send it one."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def consent_params(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "www.pinterest.com", "/oauth/")
    pairs = parse_qsl(parts.query, strict_parsing=True)
    assert [name for name, _ in pairs] == ["client_id", "redirect_uri", "response_type", "scope", "state"]
    return dict(pairs)
