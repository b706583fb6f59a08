"""Credentials changed on a live client (a rotated app secret) are used by the next request."""

from __future__ import annotations

import base64

import pytest

from conftest import CLIENT_ID, CLIENT_SECRET
from fakes import ok
from localserver import TokenServer
from pinterest_oauth import ApiClient, ApiTypeError, ApiValueError, Configuration, OauthApi


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_a_changed_password_or_username_reaches_the_next_request(token_server: TokenServer) -> None:
    config = Configuration(host=token_server.url, username=CLIENT_ID, password=CLIENT_SECRET)
    api = OauthApi(ApiClient(config))
    token_server.enqueue(*[ok()] * 5)
    api.oauth_token(grant_type="client_credentials", scope="ads:read")
    config.password = "n3w-s3cret:ü"
    api.oauth_token(grant_type="client_credentials", scope="ads:read")
    api.oauth_token(grant_type="client_credentials", scope="ads:read")
    config.username = "7654321"
    api.oauth_token(grant_type="client_credentials", scope="ads:read")
    config.password = CLIENT_SECRET
    api.oauth_token(grant_type="client_credentials", scope="ads:read")
    assert [seen.header("Authorization") for seen in token_server.requests] == [
        basic(CLIENT_ID, CLIENT_SECRET), basic(CLIENT_ID, "n3w-s3cret:ü"), basic(CLIENT_ID, "n3w-s3cret:ü"),
        basic("7654321", "n3w-s3cret:ü"), basic("7654321", CLIENT_SECRET),
    ]


def test_a_second_api_on_the_same_client_sees_the_change(token_server: TokenServer) -> None:
    client = ApiClient(Configuration(host=token_server.url, username=CLIENT_ID, password=CLIENT_SECRET))
    first, second = OauthApi(client), OauthApi(client)
    token_server.enqueue(ok(), ok())
    first.oauth_token(grant_type="client_credentials", scope="ads:read")
    client.configuration.password = "rotated"
    second.oauth_token(grant_type="client_credentials", scope="ads:read")
    assert token_server.requests[1].header("Authorization") == basic(CLIENT_ID, "rotated")


def test_a_removed_password_is_refused_before_sending(token_server: TokenServer) -> None:
    config = Configuration(host=token_server.url, username=CLIENT_ID, password=CLIENT_SECRET)
    api = OauthApi(ApiClient(config))
    token_server.enqueue(ok())
    api.oauth_token(grant_type="client_credentials", scope="ads:read")
    config.password = None
    with pytest.raises(ApiValueError, match="needs username"):
        api.oauth_token(grant_type="client_credentials", scope="ads:read")
    assert len(token_server.requests) == 1


@pytest.mark.parametrize("change", [{"password": b"bytes-secret"}, {"username": 7654321}])
def test_a_credential_of_the_wrong_type_set_later_is_refused_before_sending(token_server: TokenServer,
                                                                            change: dict[str, object]) -> None:
    config = Configuration(host=token_server.url, username=CLIENT_ID, password=CLIENT_SECRET)
    api = OauthApi(ApiClient(config))
    for name, value in change.items():
        setattr(config, name, value)
    with pytest.raises(ApiTypeError, match="^Configuration username and password must be str$"):
        api.oauth_token(grant_type="client_credentials", scope="ads:read")
    assert token_server.requests == []
