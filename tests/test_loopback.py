"""`CallbackReceiver` in-process: the bytes a browser gets on 127.0.0.1, which paths and
callbacks end the wait, the addresses it listens on, idle connections, its deadline.

(tests/test_cli_login.py drives the same receiver through the installed command.)"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any, Iterator

import pytest

from clikit import free_port, ipv6_loopback
from pinterest_oauth import ApiValueError, AuthorizationDeniedError, AuthorizationError, StateMismatchError
from pinterest_oauth.lib.loopback import CallbackReceiver, CallbackTimeoutError

STATE = "TESTSTATE_loopback_0001"
CODE = "TESTCODE-loop/0001+x="
QCODE = "TESTCODE-loop%2F0001%2Bx%3D"
WAIT = 30.0  # the receiver's own deadline in the tests that do not test it: never reached


class Waiting:
    """`receiver.wait()` on a thread; `result()` is its code or the exception it raised."""

    def __init__(self, receiver: CallbackReceiver, state: str = STATE, timeout: float = WAIT) -> None:
        self.receiver = receiver
        self.outcome: Any = None
        self.thread = threading.Thread(target=self._run, args=(state, timeout), daemon=True)
        self.thread.start()

    def _run(self, state: str, timeout: float) -> None:
        try:
            self.outcome = self.receiver.wait(state, timeout)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            self.outcome = exc

    def result(self) -> Any:
        self.thread.join(WAIT + 5)
        assert not self.thread.is_alive(), "wait() did not return"
        return self.outcome


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def receiver(port: int) -> Iterator[CallbackReceiver]:
    with CallbackReceiver(f"http://127.0.0.1:{port}/") as r:
        yield r


def get(port: int, target: str, address: str = "127.0.0.1") -> bytes:
    """A browser's GET of `target`, raw: everything the receiver sent until it closed."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect((address, port))
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: localhost:{port}\r\nUser-Agent: test\r\n\r\n".encode())
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


def split(raw: bytes) -> tuple[str, dict[str, str], str]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    assert len(headers) == len(lines)  # no header twice
    return status, headers, body.decode("utf-8")


def page(title: str, text: str) -> str:
    return ("<!doctype html><html><head><meta charset=\"utf-8\"><title>pinterest-oauth</title></head>"
            f"<body style=\"font-family: sans-serif; margin: 3em\"><h1>{title}</h1><p>{text}</p></body></html>")


def refused(port: int, address: str = "127.0.0.1") -> bool:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        try:
            sock.connect((address, port))
        except ConnectionRefusedError:
            return True
        return False


def test_the_callback_gets_a_complete_page_and_ends_the_wait(receiver: CallbackReceiver, port: int,
                                                           capfd: pytest.CaptureFixture[str]) -> None:
    waiting = Waiting(receiver)
    status, headers, body = split(get(port, f"/?code={QCODE}&state={STATE}"))
    assert status == "HTTP/1.0 200 OK"
    expected = page("Pinterest approved the app", "pinterest-oauth is now getting the token: see the terminal. "
                    "You may close this window.")
    assert body == expected
    assert headers.pop("Date")
    assert headers == {
        "Server": "pinterest-oauth ",  # (BaseHTTPRequestHandler adds " " + an empty sys_version)
        "Content-Type": "text/html; charset=utf-8",
        "Content-Length": str(len(expected.encode())), "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer", "Connection": "close",
    }
    assert waiting.result() == CODE
    assert refused(port)  # stopped listening
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")  # nothing logged: the request line holds the code


def test_other_paths_and_plain_visits_do_not_end_the_wait(receiver: CallbackReceiver, port: int) -> None:
    waiting = Waiting(receiver)
    status, headers, body = split(get(port, "/favicon.ico"))
    assert status == "HTTP/1.0 404 Not Found"
    assert body == page("Not found", "This address only receives Pinterest&#x27;s redirect.")
    assert headers["Content-Length"] == str(len(body.encode()))
    status, _, body = split(get(port, "/?utm=1&scope=x"))
    assert status == "HTTP/1.0 400 Bad Request"
    assert body == page("Waiting for Pinterest",
                        "This address receives Pinterest&#x27;s redirect after you approve the app.")
    status, _, body = split(get(port, "/?code="))  # a blank callback is still a callback
    assert status == "HTTP/1.0 400 Bad Request"
    assert body.startswith(page("Login failed", "the callback has no state")[:-len("</p></body></html>")])
    result = waiting.result()
    assert type(result) is StateMismatchError
    assert refused(port)


@pytest.mark.parametrize("name", ["code", "state", "error"])
def test_any_callback_parameter_ends_the_wait(receiver: CallbackReceiver, port: int, name: str) -> None:
    waiting = Waiting(receiver)
    assert split(get(port, f"/?{name}=TESTX"))[0] == "HTTP/1.0 400 Bad Request"
    assert isinstance(waiting.result(), StateMismatchError)


def test_a_refused_callback_shows_why_escaped_and_raises_it(receiver: CallbackReceiver, port: int) -> None:
    waiting = Waiting(receiver)
    status, _, body = split(get(port, f"/?error=access_denied&error_description=%3Cb%3Eno%3C%2Fb%3E&state={STATE}"))
    assert status == "HTTP/1.0 400 Bad Request"
    assert body == page("Login failed", "Pinterest did not authorize the app (error=access_denied: &lt;b&gt;no&lt;/b&gt;)"
                        "; nothing was exchanged, start the login again. See the terminal; you may close this window.")
    result = waiting.result()
    assert type(result) is AuthorizationDeniedError and result.error == "access_denied"


def test_the_redirect_uris_path_is_the_one_served(port: int) -> None:
    with CallbackReceiver(f"http://127.0.0.1:{port}/cb") as receiver:
        assert receiver.path == "/cb"
        waiting = Waiting(receiver)
        assert split(get(port, f"/?code={QCODE}&state={STATE}"))[0] == "HTTP/1.0 404 Not Found"
        assert split(get(port, f"/cb?code={QCODE}&state={STATE}"))[0] == "HTTP/1.0 200 OK"
        assert waiting.result() == CODE
    with CallbackReceiver(f"http://127.0.0.1:{port}") as receiver:  # no path: "/"
        assert (receiver.port, receiver.path) == (port, "/")
        waiting = Waiting(receiver)
        assert split(get(port, f"?code={QCODE}&state={STATE}"))[0] == "HTTP/1.0 200 OK"  # an empty path is "/"
        assert waiting.result() == CODE


def test_the_deadline(receiver: CallbackReceiver, port: int) -> None:
    started, cpu = time.monotonic(), time.thread_time()
    with pytest.raises(CallbackTimeoutError) as caught:
        receiver.wait(STATE, 0.5)
    assert time.monotonic() - started >= 0.5
    assert time.thread_time() - cpu < 0.25  # it slept in select(), it did not spin
    assert str(caught.value) == "no redirect from Pinterest arrived within 0.5 seconds; nothing was exchanged"
    assert isinstance(caught.value, AuthorizationError)
    assert refused(port)


def test_a_deadline_already_past_serves_nothing(receiver: CallbackReceiver, port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as pending:
        pending.sendall(f"GET /?code={QCODE}&state={STATE} HTTP/1.0\r\n\r\n".encode())
        with pytest.raises(CallbackTimeoutError, match="within 0 seconds"):
            receiver.wait(STATE, 0)
        pending.settimeout(5)
        try:
            assert pending.recv(100) == b""  # closed unanswered (never accepted, or accepted and dropped)
        except ConnectionResetError:
            pass


def test_many_idle_connections_keep_the_newest_16(receiver: CallbackReceiver, port: int) -> None:
    waiting = Waiting(receiver)
    idle = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(17)]
    try:
        idle[0].settimeout(10)
        assert idle[0].recv(1) == b""  # the oldest was closed to make room for the 17th
        # the 16 kept are still served
        idle[1].sendall(b"GET /favicon.ico HTTP/1.0\r\n\r\n")
        idle[1].settimeout(10)
        assert idle[1].recv(100).startswith(b"HTTP/1.0 404 ")
        assert split(get(port, f"/?code={QCODE}&state={STATE}"))[0] == "HTTP/1.0 200 OK"
        assert waiting.result() == CODE
        for sock in idle[2:]:
            sock.settimeout(10)
            assert sock.recv(1) == b""  # closed when the wait ended
    finally:
        for sock in idle:
            sock.close()


def test_nothing_is_served_after_the_callback(receiver: CallbackReceiver, port: int) -> None:
    """Two callbacks ready at once: the first ends the wait, the other is closed unanswered."""
    conns = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(4)]
    first, second, stalled, probe = conns
    try:
        waiting = Waiting(receiver)
        probe.sendall(b"GET /favicon.ico HTTP/1.0\r\n\r\n")
        assert probe.recv(100).startswith(b"HTTP/1.0 404 ")  # so all four were accepted (in order)
        stalled.sendall(b"GET /favicon.ico HTTP/1.0\r\n")  # the receiver now waits for the rest of it
        time.sleep(0.2)  # (lets it start reading; the outcome below holds either way for the real code)
        first.sendall(f"GET /?code={QCODE}&state={STATE} HTTP/1.0\r\n\r\n".encode())
        second.sendall(f"GET /?code=TESTCODE-2&state={STATE} HTTP/1.0\r\n\r\n".encode())
        time.sleep(0.2)
        stalled.sendall(b"\r\n")
        assert waiting.result() == CODE
        assert recv_all(first).startswith(b"HTTP/1.0 200 OK\r\n")
        assert recv_all(second) == b""
    finally:
        for sock in conns:
            sock.close()


def recv_all(sock: socket.socket) -> bytes:
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except ConnectionResetError:
        pass
    return b"".join(chunks)


@pytest.mark.parametrize(("uri", "words"), [
    ("https://127.0.0.1:8085/", "must be http://localhost:PORT/"),
    ("http://example.com:8085/", "must be http://localhost:PORT/"),
    ("http://127.0.0.2:8085/", "must be http://localhost:PORT/"),
    ("http://127.0.0.1:99999/", "the redirect URI has an invalid port"),
])
def test_redirect_uris_it_cannot_serve(uri: str, words: str) -> None:
    with pytest.raises(ApiValueError, match=words):
        CallbackReceiver(uri)


def test_127_0_0_1_listens_there_only(port: int) -> None:
    with CallbackReceiver(f"http://127.0.0.1:{port}/") as receiver:
        assert [s.getsockname()[:2] for s in receiver._listeners] == [("127.0.0.1", port)]
        assert all(s.getblocking() is False for s in receiver._listeners)
        assert all(s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR) for s in receiver._listeners)
    assert receiver._listeners == [] and refused(port)


@pytest.mark.skipif(not ipv6_loopback(), reason="this machine has no ::1")  # noqa - the IPv4 tests still run
def test_localhost_listens_on_both_loopback_addresses(port: int) -> None:
    with CallbackReceiver(f"http://localhost:{port}/") as receiver:
        assert [s.getsockname()[:2] for s in receiver._listeners] == [("127.0.0.1", port), ("::1", port)]
        waiting = Waiting(receiver)
        assert split(get(port, "/favicon.ico", address="::1"))[0] == "HTTP/1.0 404 Not Found"
        assert split(get(port, f"/?code={QCODE}&state={STATE}", address="::1"))[0] == "HTTP/1.0 200 OK"
        assert waiting.result() == CODE
    with CallbackReceiver(f"http://[::1]:{port}/") as receiver:
        assert [s.getsockname()[:2] for s in receiver._listeners] == [("::1", port)]


@pytest.mark.skipif(not ipv6_loopback(), reason="this machine has no ::1")  # noqa - the IPv4 tests still run
def test_localhost_without_a_free_ipv6_port_still_listens_on_127_0_0_1(port: int) -> None:
    with socket.socket(socket.AF_INET6) as taken:
        taken.bind(("::1", port))
        taken.listen()
        with CallbackReceiver(f"http://localhost:{port}/") as receiver:
            assert [s.getsockname()[:2] for s in receiver._listeners] == [("127.0.0.1", port)]
        with pytest.raises(OSError):
            CallbackReceiver(f"http://[::1]:{port}/")  # asked for ::1 itself: an error


def test_a_taken_port_is_an_os_error_and_nothing_stays_open(port: int) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        with pytest.raises(OSError):
            CallbackReceiver(f"http://127.0.0.1:{port}/")
        with pytest.raises(OSError):
            CallbackReceiver(f"http://localhost:{port}/")
    if ipv6_loopback():
        assert refused(port, "::1")  # not left listening there

