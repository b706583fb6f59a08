"""A strict-rotation token endpoint for the multi-machine tests (plugs into `TokenServer`).

Each refresh token works once; reusing one gets 401 code 283, as Pinterest answers. Every token
issued and every replay of a spent refresh token is recorded with the server's clock.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Callable, Optional

from localserver import Reply, Seen
from tokenkit import form, ok, token_body

INVALID_GRANT = json.dumps({"code": 283, "message": "The authorization grant is invalid"}).encode()


@dataclass(frozen=True)
class Issued:
    access: str
    refresh: str
    issued_at: float  # server clock (time.time()) when answered
    expires_at: float


class StrictRotation:
    """Call with a `Seen` (use as `TokenServer(default=...)`). `live` is the one refresh token
    that works; `before_answer(refresh_token)` runs after rotating, before answering (tests
    kill or stop the client there)."""

    def __init__(self, first_refresh: str, access_life: int) -> None:
        self.access_life = access_life
        self.live: Optional[str] = first_refresh
        self.issued: list[Issued] = []
        self.replays: list[tuple[str, float]] = []
        self.requests = 0
        self.before_answer: Optional[Callable[[str], None]] = None
        self._lock = threading.Lock()

    def __call__(self, seen: Seen) -> Reply:
        fields = dict(form(seen))
        sent = fields.get("refresh_token", "")
        with self._lock:
            self.requests += 1
            if fields.get("grant_type") != "refresh_token" or sent != self.live:
                self.replays.append((sent, time.time()))
                return Reply(401, [("Content-Type", "application/json")], INVALID_GRANT)
            n = len(self.issued) + 1
            issued = Issued(f"pina_FLEET{n:06d}", f"pinr_FLEET{n:06d}", time.time(), time.time() + self.access_life)
            self.issued.append(issued)
            self.live = issued.refresh
        hook = self.before_answer
        if hook is not None:
            hook(sent)
        return ok(token_body(issued.access, issued.refresh, expires_in=self.access_life))

    def valid_at(self, access: str, when: float) -> bool:
        """True if `access` was issued by this server and had not expired at `when`."""
        with self._lock:
            return any(i.access == access and i.issued_at - 0.05 <= when < i.expires_at for i in self.issued)

    @property
    def live_access(self) -> Optional[str]:
        with self._lock:
            return self.issued[-1].access if self.issued else None
