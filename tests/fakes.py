"""The one module of shared test fixtures: fake secrets and tokens, token response bodies,
server replies, a settable clock, a client factory, leak checks and child processes.

Test modules import from here instead of defining their own copies.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import threading
import traceback
from pathlib import Path
from typing import Any, Iterable, Optional
from urllib.parse import parse_qsl, quote, quote_plus

from conftest import CLIENT_ID, CLIENT_SECRET
from localserver import Reply, Seen, TokenServer

from pinterest_oauth import ApiClient, Configuration, OauthAccessTokenResponse, OauthApi, RetryPolicy, Token

# -- fake secrets -------------------------------------------------------------------------------

CODE = "TESTCODE0001"
REDIRECT_URI = "https://example.com/cb"
A1, R1 = "pina_TESTACCESS0001", "pinr_TESTREFRESH0001"
A2, R2 = "pina_TESTACCESS0002", "pinr_TESTREFRESH0002"
A3, R3 = "pina_TESTACCESS0003", "pinr_TESTREFRESH0003"
#: The names the failure-mode tests use: the refresh token sent, the tokens received.
ACCESS, REFRESH, NEW_REFRESH = A1, R1, R2
BASIC = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
BASIC_HEADER = f"Basic {BASIC}"

#: Every value that must never be shown, in every form it could be shown in.
SECRETS = sorted(
    {CLIENT_SECRET, BASIC, CODE, A1, R1, A2, R2, A3, R3}
    | {quote_plus(CLIENT_SECRET), quote(CLIENT_SECRET, safe=""), CLIENT_SECRET.encode("unicode_escape").decode()}
)

# -- time ---------------------------------------------------------------------------------------

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


# -- token response bodies and replies ------------------------------------------------------------

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
    """A token response with these tokens (refresh fields only with a refresh token)."""
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


def token_json(**fields: Any) -> bytes:
    """The failure tests' token response (ACCESS / NEW_REFRESH), `fields` changed; None drops a
    field. Its byte layout is fixed: tests quote offsets into it."""
    body: dict[str, Any] = {
        "access_token": ACCESS,
        "refresh_token": NEW_REFRESH,
        "token_type": "bearer",
        "expires_in": ACCESS_LIFE,
        "refresh_token_expires_in": REFRESH_LIFE,
        "scope": "boards:read,pins:read",
        "response_type": "refresh_token",
    }
    body.update(fields)
    return json.dumps({k: v for k, v in body.items() if v is not None}).encode()


def make_token(access: str = A1, refresh: Optional[str] = R1, *, sent_at: float = T0, **body: Any) -> Token:
    """A `Token` as a session would build it from `token_body(access, refresh, **body)`."""
    response = OauthAccessTokenResponse.from_json(token_body(access, refresh, **body).decode())
    assert response is not None
    return Token.from_response(response, sent_at=sent_at)


def ok(body: Optional[bytes] = None, **headers: str) -> Reply:
    """A 200 JSON reply with `body` (default: `token_json()`) and extra headers."""
    return Reply(status=200, headers=[("Content-Type", "application/json"), *headers.items()],
                 body=token_json() if body is None else body)


def form(seen: Seen) -> list[tuple[str, str]]:
    """The form fields of a request, in order."""
    return parse_qsl(seen.body.decode("ascii"), keep_blank_values=True)


# -- clients ------------------------------------------------------------------------------------

class Sleeps(list[float]):
    """A RetryPolicy `sleep` that records instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def no_sleep_policy(**kwargs: Any) -> tuple[RetryPolicy, Sleeps]:
    sleeps = Sleeps()
    return RetryPolicy(sleep=sleeps, **kwargs), sleeps


def make_api(server: TokenServer, **config: Any) -> OauthApi:
    """An OauthApi for `server` with the test credentials (no retries unless `retry=`)."""
    config.setdefault("retry", RetryPolicy(max_attempts=1))
    return OauthApi(ApiClient(Configuration(host=server.url, username=CLIENT_ID, password=CLIENT_SECRET, **config)))


def refresh(api: OauthApi, **kwargs: Any) -> Any:
    return api.oauth_token(grant_type="refresh_token", refresh_token=REFRESH, **kwargs)


# -- leak checks --------------------------------------------------------------------------------

def leaks(texts: Iterable[str]) -> list[str]:
    """The secrets (by value) that appear in any of `texts`."""
    joined = "\n".join(texts)
    return [s for s in SECRETS if s in joined]


def exception_texts(exc: BaseException) -> list[str]:
    """Everything a logger or crash report would print for `exc`."""
    return [str(exc), repr(exc), "".join(traceback.format_exception(exc))]


# -- processes ----------------------------------------------------------------------------------

def run_child(script: str, *args: str, cwd: Path) -> subprocess.Popen[str]:
    """Start `python -c script args...` with the installed package, pipes on stdin/stdout."""
    return subprocess.Popen(
        [sys.executable, "-c", script, *args], cwd=cwd, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
