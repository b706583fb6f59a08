"""Helpers for the token, store and session tests: a fake clock, token bodies, child processes."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Optional
from urllib.parse import parse_qsl

from localserver import Reply, Seen

T0 = 1_760_000_000.0  # a fixed "now" (2025-10-09)
DAY = 86400.0
ACCESS_LIFE = 2_592_000  # 30 days, as Pinterest sends
REFRESH_LIFE = 5_184_000  # 60 days


class Clock:
    """A settable clock: `clock()` returns `clock.now`."""

    def __init__(self, now: float = T0) -> None:
        self.now = now
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def set(self, now: float) -> None:
        with self._lock:
            self.now = now


def token_body(
    access: str,
    refresh: Optional[str] = None,
    *,
    expires_in: int = ACCESS_LIFE,
    refresh_in: Optional[int] = REFRESH_LIFE,
    refresh_at: Optional[int] = None,
    response_type: str = "refresh_token",
    scope: str = "boards:read,pins:read",
    **extra: Any,
) -> bytes:
    body: dict[str, Any] = {
        "access_token": access, "token_type": "bearer", "expires_in": expires_in,
        "scope": scope, "response_type": response_type, **extra,
    }
    if refresh is not None:
        body["refresh_token"] = refresh
        if refresh_in is not None:
            body["refresh_token_expires_in"] = refresh_in
        if refresh_at is not None:
            body["refresh_token_expires_at"] = refresh_at
    return json.dumps(body).encode()


def ok(body: bytes) -> Reply:
    return Reply(200, [("Content-Type", "application/json")], body)


def form(seen: Seen) -> list[tuple[str, str]]:
    return parse_qsl(seen.body.decode("ascii"), keep_blank_values=True)


def run_child(script: str, *args: str, cwd: Path) -> subprocess.Popen[str]:
    """Start `python -c script args...` with the installed package, pipes on stdin/stdout."""
    return subprocess.Popen(
        [sys.executable, "-c", script, *args], cwd=cwd, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
