"""A minimal keep-alive HTTP/1.1 token responder on 127.0.0.1 for scripts/bench.py.

Runs in its own process (`python scripts/bench_responder.py`): prints its port on stdout, then
answers every request with the same fixed token response, on as many keep-alive connections as
clients open. It reads each request (headers up to the blank line, then Content-Length bytes of
body) and writes one pre-built response: no parsing beyond that, so it costs far less CPU per
request than any client it serves.

`GET /__stats` answers `{"requests": n, "cpu_s": t, "bodies": [...]}`: token requests served,
the process's CPU time, and the distinct request bodies seen (at most 8), so the benchmark can
check that the responder is not the bottleneck and that every client sent the same exchange.
The process stops when its stdin, if a pipe, closes (the parent went away), or after
`--max-seconds`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import stat
import sys
import threading
import time

#: The one token answer every client parses (fake tokens, obviously not real ones).
TOKEN = {
    "access_token": "pina_BENCHACCESS0001",
    "refresh_token": "pinr_BENCHREFRESH0001",
    "response_type": "authorization_code",
    "token_type": "bearer",
    "expires_in": 2592000,
    "refresh_token_expires_in": 31536000,
    "scope": "boards:read,pins:read,user_accounts:read",
}
MAX_BODIES = 8


def response(body: bytes) -> bytes:
    """A complete 200 response with a JSON body."""
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode() + b"\r\nCache-Control: no-store\r\n\r\n" + body
    )


TOKEN_RESPONSE = response(json.dumps(TOKEN, separators=(",", ":")).encode())


class Stats:
    requests = 0
    bodies: set[bytes] = set()


class Responder(asyncio.Protocol):
    """One connection: split the byte stream into requests, answer each with TOKEN_RESPONSE."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.buf = b""

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data if self.buf else data
        out = []
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                break
            head = buf[:end]
            length = 0
            at = head.lower().find(b"\r\ncontent-length:")
            if at >= 0:
                eol = head.find(b"\r\n", at + 2)
                length = int(head[at + 17: eol if eol >= 0 else len(head)])
            total = end + 4 + length
            if len(buf) < total:
                break
            if head.startswith(b"GET /__stats "):
                stats = {"requests": Stats.requests, "cpu_s": time.process_time(),
                         "bodies": sorted(b.decode("latin-1") for b in Stats.bodies)}
                out.append(response(json.dumps(stats).encode()))
            else:
                Stats.requests += 1
                if len(Stats.bodies) < MAX_BODIES:
                    Stats.bodies.add(buf[end + 4: total])
                out.append(TOKEN_RESPONSE)
            buf = buf[total:]
        self.buf = buf
        if out:
            self.transport.write(b"".join(out))


async def serve(max_seconds: float) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Responder, "127.0.0.1", 0, backlog=128)
    print(server.sockets[0].getsockname()[1], flush=True)
    stdin_closed = loop.create_future()

    def stop() -> None:
        if not stdin_closed.done():
            stdin_closed.set_result(None)

    def watch_stdin() -> None:
        sys.stdin.buffer.read()  # returns at EOF: the parent closed the pipe or exited
        loop.call_soon_threadsafe(stop)

    if stat.S_ISFIFO(os.fstat(sys.stdin.fileno()).st_mode):
        threading.Thread(target=watch_stdin, daemon=True).start()
    try:
        await asyncio.wait_for(stdin_closed, max_seconds)
    except asyncio.TimeoutError:
        pass
    server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-seconds", type=float, default=1800.0, help="stop after this long")
    asyncio.run(serve(parser.parse_args().max_seconds))


if __name__ == "__main__":
    main()
