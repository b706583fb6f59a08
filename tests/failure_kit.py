"""Shared by the failure-mode tests: fake secrets, token bodies, a client factory, leak checks."""

from __future__ import annotations

import base64
import json
from typing import Any, Iterable
from urllib.parse import quote, quote_plus

from conftest import CLIENT_ID, CLIENT_SECRET
from localserver import Reply, TokenServer

from pinterest_oauth import ApiClient, Configuration, OauthApi, RetryPolicy

CODE = "TESTCODE0001"
REDIRECT_URI = "https://example.com/cb"
REFRESH = "pinr_TESTREFRESH0001"
ACCESS = "pina_TESTACCESS0001"
NEW_REFRESH = "pinr_TESTREFRESH0002"
BASIC = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()

#: Every value that must never be shown, in every form it could be shown in.
SECRETS = sorted(
    {CLIENT_SECRET, BASIC, CODE, REFRESH, ACCESS, NEW_REFRESH}
    | {quote_plus(CLIENT_SECRET), quote(CLIENT_SECRET, safe=""), CLIENT_SECRET.encode("unicode_escape").decode()}
)

#: A retry policy that records its sleeps instead of sleeping.
class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def no_sleep_policy(**kwargs: Any) -> tuple[RetryPolicy, Sleeps]:
    sleeps = Sleeps()
    return RetryPolicy(sleep=sleeps, **kwargs), sleeps


def token_json(**fields: Any) -> bytes:
    body: dict[str, Any] = {
        "access_token": ACCESS,
        "refresh_token": NEW_REFRESH,
        "token_type": "bearer",
        "expires_in": 2592000,
        "refresh_token_expires_in": 5184000,
        "scope": "boards:read,pins:read",
        "response_type": "refresh_token",
    }
    body.update(fields)
    return json.dumps({k: v for k, v in body.items() if v is not None}).encode()


def ok(body: bytes | None = None, **headers: str) -> Reply:
    return Reply(status=200, headers=[("Content-Type", "application/json"), *headers.items()],
                 body=token_json() if body is None else body)


def make_api(server: TokenServer, **config: Any) -> OauthApi:
    config.setdefault("retry", RetryPolicy(max_attempts=1))
    return OauthApi(ApiClient(Configuration(host=server.url, username=CLIENT_ID, password=CLIENT_SECRET, **config)))


def refresh(api: OauthApi, **kwargs: Any) -> Any:
    return api.oauth_token(grant_type="refresh_token", refresh_token=REFRESH, **kwargs)


def leaks(texts: Iterable[str]) -> list[str]:
    """The secrets (by name of value) that appear in any of `texts`."""
    joined = "\n".join(texts)
    return [s for s in SECRETS if s in joined]


def exception_texts(exc: BaseException) -> list[str]:
    """Everything a logger or crash report would print for `exc`."""
    import traceback

    return [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
