"""A user's script: the five documented calls, typed, as a newcomer would write them.

Run as `python five_calls.py HOST`; prints one JSON line per call. `tests/test_typing.py`
type-checks this file with `mypy --strict` against the installed wheel, and
`tests/test_wheel_install.py` runs it in a fresh virtualenv against a server on 127.0.0.1.
"""

from __future__ import annotations

import json
import sys

from pinterest_oauth import ApiClient, Configuration, OauthAccessTokenResponse, OauthApi

CLIENT_ID = "1234567"
CLIENT_SECRET = "s3cr:t+Päss/wörd=="
CODE = "TESTCODE0001"
REDIRECT_URI = "https://example.com/cb?a=1&b=two words&c=é"
REFRESH = "pinr_TESTREFRESH0001"


def summary(token: OauthAccessTokenResponse) -> dict[str, object]:
    """Every typed field, secrets read explicitly."""
    refresh = token.refresh_token.get_secret_value() if token.refresh_token is not None else None
    return {
        "access_token": token.access_token.get_secret_value(),
        "refresh_token": refresh,
        "token_type": token.token_type,
        "expires_in": token.expires_in,
        "scope": token.scope,
        "response_type": token.response_type,
        "refresh_token_expires_in": token.refresh_token_expires_in,
        "refresh_token_expires_at": token.refresh_token_expires_at,
        "extra": token.additional_properties,
    }


def main(host: str) -> None:
    config = Configuration(host=host, username=CLIENT_ID, password=CLIENT_SECRET)
    with ApiClient(config) as client:
        api = OauthApi(client)
        calls = [
            api.oauth_token(grant_type="authorization_code", code=CODE, redirect_uri=REDIRECT_URI),
            api.oauth_token(
                grant_type="authorization_code", code=CODE, redirect_uri=REDIRECT_URI, continuous_refresh=True
            ),
            api.oauth_token(grant_type="refresh_token", refresh_token=REFRESH, scope="boards:read,pins:read"),
            api.oauth_token(grant_type="refresh_token", refresh_token=REFRESH, refresh_on=True),
            api.oauth_token(grant_type="client_credentials", scope="ads:read"),
        ]
    for token in calls:
        print(json.dumps(summary(token), ensure_ascii=False))


if __name__ == "__main__":
    main(sys.argv[1])
