"""A scriptable HTTP/1.1 server on 127.0.0.1 for the tests: plays back replies, records requests.

Each request gets the next queued `Reply` (or the default one). A reply can also misbehave:
`hang` (accept, read the request, never answer until the server stops), `reset_mid_body`
(send the headers and part of the body, then reset the connection) or `close` (close without
answering). Every request is recorded byte for byte as a `Seen`.
"""

from __future__ import annotations

import collections
import socket
import struct
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Deque, Optional, Union

HANG_LIMIT_S = 30.0  # a hanging reply never outlives this, even if a test forgets to stop


class _Server(ThreadingHTTPServer):
    # The default listen backlog (5) overflows when many client threads connect at once, and an
    # overflowed accept queue shows up as connection resets, not as slowness.
    request_queue_size = 128


@dataclass
class Reply:
    """What the server answers to one request."""

    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=lambda: [("Content-Type", "application/json")])
    body: bytes = b""
    action: Optional[str] = None  # None | "hang" | "reset_mid_body" | "close"


@dataclass
class Seen:
    """One request as it arrived on the socket."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    connection: int = 0  # serial number of the TCP connection it arrived on (1, 2, ...)

    def header(self, name: str) -> Optional[str]:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None


ReplySource = Union[Reply, Callable[[Seen], Reply]]


class TokenServer:
    """Start with `TokenServer()` (or as a context manager); `url` is the API base (…/v5)."""

    def __init__(self, default: Optional[ReplySource] = None) -> None:
        self.default: ReplySource = default or Reply(status=500, body=b'{"code": 0, "message": "no reply queued"}')
        self.queue: Deque[ReplySource] = collections.deque()
        self.requests: list[Seen] = []
        self.connections = 0  # TCP connections accepted so far
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.httpd = _Server(("127.0.0.1", 0), self._handler_class())
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v5"

    def enqueue(self, *replies: ReplySource) -> None:
        with self.lock:
            self.queue.extend(replies)

    def stop(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> "TokenServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _next(self, seen: Seen) -> Reply:
        with self.lock:
            self.requests.append(seen)
            source = self.queue.popleft() if self.queue else self.default
        return source(seen) if callable(source) else source

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall
            serial = 0

            def setup(self) -> None:
                super().setup()
                with server.lock:
                    server.connections += 1
                    self.serial = server.connections

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                seen = Seen(self.command, self.path, dict(self.headers.items()), body, self.serial)
                server._answer(self, server._next(seen))

            do_GET = do_POST

            def log_message(self, *args: object) -> None:
                pass

        return Handler

    def _answer(self, handler: BaseHTTPRequestHandler, reply: Reply) -> None:
        if reply.action == "hang":
            server_stops = self.stopping.wait(HANG_LIMIT_S)
            handler.close_connection = True
            del server_stops
            return
        if reply.action == "close":
            handler.close_connection = True
            return
        handler.send_response(reply.status)
        names = {k.lower() for k, _ in reply.headers}
        for key, value in reply.headers:
            handler.send_header(key, value)
        if "content-length" not in names:
            handler.send_header("Content-Length", str(len(reply.body)))
        handler.end_headers()
        if reply.action == "reset_mid_body":
            handler.wfile.write(reply.body[: max(1, len(reply.body) // 2)])
            handler.wfile.flush()
            sock = handler.connection
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
            handler.close_connection = True
            return
        handler.wfile.write(reply.body)
        handler.wfile.flush()
