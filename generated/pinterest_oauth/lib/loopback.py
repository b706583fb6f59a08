"""`CallbackReceiver`: a one-shot web server on a loopback redirect URI, for `pinterest-oauth login`.

It listens on the host and port of a redirect URI such as `http://localhost:8085/` (for
`localhost`: 127.0.0.1 and, when available, ::1), answers requests for other paths (a
browser's `/favicon.ico`) with 404, and takes exactly one callback on the URI's path: the
first request there carrying `code`, `state` or `error`. That callback is checked with
`code_from_callback`; the browser gets a short page either way, and the receiver stops.
Idle connections (browsers open spare ones) never block it. Nothing it handles is logged.
"""

from __future__ import annotations

import contextlib
import html
import http.server
import select
import socket
import time
from typing import Any, Optional, Union, cast
from urllib.parse import parse_qsl, urlsplit

from pinterest_oauth.exceptions import ApiValueError
from pinterest_oauth.lib.authorize import AuthorizationError, code_from_callback

_ADDRESSES = {"localhost": ("127.0.0.1", "::1"), "127.0.0.1": ("127.0.0.1",), "::1": ("::1",)}
_CALLBACK_PARAMS = ("code", "state", "error")
_MAX_IDLE = 16  # connections kept open waiting for a request
_READ_TIMEOUT = 5.0  # a connection that started a request must finish it within this


class CallbackTimeoutError(AuthorizationError):
    """No callback arrived before the deadline."""


def _page(title: str, text: str) -> bytes:
    return (
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>pinterest-oauth</title></head>"
        f"<body style=\"font-family: sans-serif; margin: 3em\"><h1>{html.escape(title)}</h1>"
        f"<p>{html.escape(text)}</p></body></html>"
    ).encode("utf-8")


class CallbackReceiver:
    """Listen on `redirect_uri` (http, loopback host, explicit or default port) at once.

    Raises `ApiValueError` for a redirect URI it cannot listen on (not http, not loopback) and
    `OSError` when the port cannot be bound (e.g. already in use). Use as a context manager.
    """

    def __init__(self, redirect_uri: str) -> None:
        parts = urlsplit(redirect_uri)
        host = parts.hostname or ""
        if parts.scheme != "http" or host not in _ADDRESSES:
            raise ApiValueError(
                "the redirect URI must be http://localhost:PORT/ (or 127.0.0.1 / [::1]) to be "
                "received here; for any other redirect URI, get the code there and use `exchange`"
            )
        try:
            self.port = parts.port or 80
        except ValueError:
            raise ApiValueError("the redirect URI has an invalid port") from None
        self.path = parts.path or "/"
        self._listeners: list[socket.socket] = []
        try:
            for address in _ADDRESSES[host]:
                try:
                    self._listeners.append(_listen(address, self.port))
                except OSError:
                    if address != "::1" or host == "::1":
                        raise
                    # IPv6 missing or ::1 taken: 127.0.0.1 alone serves "localhost".
        except BaseException:
            self.close()
            raise
        self._outcome: Optional[Union[str, AuthorizationError]] = None
        self._state = ""

    def wait(self, expected_state: str, timeout: float) -> str:
        """Serve until the callback arrives; return its code or raise what `code_from_callback`
        raised, or `CallbackTimeoutError` after `timeout` seconds."""
        self._state = expected_state
        deadline = time.monotonic() + timeout
        idle: list[socket.socket] = []
        try:
            while self._outcome is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise CallbackTimeoutError(
                        f"no redirect from Pinterest arrived within {timeout:g} seconds; nothing was exchanged"
                    )
                readable, _, _ = select.select(self._listeners + idle, [], [], min(remaining, 1.0))
                for sock in readable:
                    if sock in self._listeners:
                        with contextlib.suppress(OSError):
                            conn, _ = sock.accept()
                            idle.append(conn)
                            if len(idle) > _MAX_IDLE:
                                idle.pop(0).close()
                        continue
                    idle.remove(sock)
                    with sock:
                        with contextlib.suppress(OSError):
                            _Handler(sock, ("", 0), cast(Any, self))  # the handler only calls answer()
                    if self._outcome is not None:
                        break
        finally:
            for conn in idle:
                conn.close()
            self.close()
        if isinstance(self._outcome, AuthorizationError):
            raise self._outcome
        assert self._outcome is not None
        return self._outcome

    def answer(self, target: str) -> tuple[int, bytes]:
        """The status and page for a GET of `target`; records the outcome of a callback."""
        parts = urlsplit(target)
        if (parts.path or "/") != self.path:
            return 404, _page("Not found", "This address only receives Pinterest's redirect.")
        names = {name for name, _ in parse_qsl(parts.query, keep_blank_values=True)}
        if not names.intersection(_CALLBACK_PARAMS):
            return 400, _page("Waiting for Pinterest",
                              "This address receives Pinterest's redirect after you approve the app.")
        try:
            self._outcome = code_from_callback(target, self._state)
        except AuthorizationError as exc:
            self._outcome = exc
            return 400, _page("Login failed", f"{exc}. See the terminal; you may close this window.")
        return 200, _page("Pinterest approved the app",
                          "pinterest-oauth is now getting the token: see the terminal. "
                          "You may close this window.")

    def close(self) -> None:
        for sock in self._listeners:
            sock.close()
        self._listeners = []

    def __enter__(self) -> "CallbackReceiver":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _listen(address: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((address, port))
        sock.listen(16)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


class _Handler(http.server.BaseHTTPRequestHandler):
    """Handles one request on an accepted connection (constructed per connection)."""

    server: Any  # the CallbackReceiver
    server_version = "pinterest-oauth"
    sys_version = ""
    timeout = _READ_TIMEOUT  # set on the connection by setup()

    def do_GET(self) -> None:
        status, body = self.server.answer(self.path)
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the request line holds the code
        pass
