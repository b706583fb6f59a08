"""A raw TCP server on 127.0.0.1 that answers each request by running a script on the socket:
for answers no well-behaved HTTP server library would send (dribbled headers, endless or
oversized bodies).

`RawServer(play)`: for every request (read whole: headers and Content-Length body) it calls
`play(n, sock, stop)`, n counting requests from 1. `play` writes what it likes and returns True
to keep the connection for another request. It must return once `stop` is set (`dribble` and
`flood` do); `stop()` sets it, and a script never outlives `PLAY_LIMIT_S` anyway.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Callable, Optional

PLAY_LIMIT_S = 30.0

Play = Callable[[int, socket.socket, threading.Event], bool]


class RawServer:
    def __init__(self, play: Play) -> None:
        self.play = play
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.connections = 0
        self.request_connections: list[int] = []  # the connection serial of each request
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        self.threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}/v5"

    def stop(self) -> None:
        self.stopping.set()
        self._accepting.join(5)
        for thread in self.threads:
            thread.join(5)
        self.listener.close()

    def __enter__(self) -> "RawServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except (TimeoutError, OSError):
                continue
            with self.lock:
                self.connections += 1
                serial = self.connections
            thread = threading.Thread(target=self._serve, args=(conn, serial), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket, serial: int) -> None:
        deadline = time.monotonic() + PLAY_LIMIT_S
        conn.settimeout(0.05)
        with conn:
            while not self.stopping.is_set() and time.monotonic() < deadline:
                if read_request(conn, self.stopping) is None:
                    return
                with self.lock:
                    self.request_connections.append(serial)
                    number = len(self.request_connections)
                try:
                    keep = self.play(number, conn, self.stopping)
                except OSError:  # the client hung up: that is what most tests wait for
                    return
                if not keep:
                    return


def read_request(conn: socket.socket, stop: threading.Event) -> Optional[bytes]:
    """One whole request (headers and Content-Length body), or None if the client hung up."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = _recv(conn, stop)
        if not chunk:
            return None
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(rest) < length:
        chunk = _recv(conn, stop)
        if not chunk:
            return None
        rest += chunk
    return head + b"\r\n\r\n" + rest


def _recv(conn: socket.socket, stop: threading.Event) -> bytes:
    while not stop.is_set():
        try:
            return conn.recv(65536)
        except TimeoutError:
            continue
        except OSError:
            return b""
    return b""


def send(conn: socket.socket, data: bytes) -> None:
    """sendall despite the socket's short timeout (a full send buffer is not an error here)."""
    view = memoryview(data)
    while view:
        try:
            sent = conn.send(view)
        except TimeoutError:
            continue
        view = view[sent:]


def dribble(conn: socket.socket, data: bytes, every: float, stop: threading.Event) -> None:
    """Send `data` one byte every `every` seconds, until done or `stop`."""
    for i in range(len(data)):
        if stop.wait(every):
            return
        send(conn, data[i:i + 1])


def flood(conn: socket.socket, piece: bytes, stop: threading.Event, limit: int) -> int:
    """Send `piece` again and again (at most `limit` bytes) until the client stops reading or
    hangs up, or `stop`; return the bytes sent."""
    sent = 0
    conn.settimeout(1.0)
    try:
        while sent < limit and not stop.is_set():
            try:
                conn.sendall(piece)
            except TimeoutError:  # the client stopped reading: its buffers are full
                return sent
            sent += len(piece)
    except OSError:
        pass
    return sent
