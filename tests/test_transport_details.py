"""Details of the transport the end-to-end tests do not pin down (found by `make mutate`):
how a failure's cause chain is described, TLS verification messages, the Retry-After
boundary, urllib3's own log records, and what RetryPolicy shows."""

from __future__ import annotations

import dataclasses
import logging
import ssl

import pytest
from conftest import CLIENT_ID, CLIENT_SECRET
from fakes import make_api, no_sleep_policy, ok, refresh
from localserver import Reply, TokenServer
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError, SSLError

from pinterest_oauth import (
    ApiClient, Configuration, ConnectionFailedError, OauthApi, RateLimitError, RequestTimeoutError, RetryPolicy,
    Timeouts,
)
from pinterest_oauth.lib import transport

URL = "https://api.example.com/v5/oauth/token"


def test_the_cause_chain_follows_reason_then_a_trailing_argument_then_the_context() -> None:
    root = ConnectionResetError(104, "Connection reset by peer")
    aborted = ProtocolError("Connection aborted.", root)  # wrapped as the last argument
    assert [type(e).__name__ for e in transport._causes(aborted)] == ["ProtocolError", "ConnectionResetError"]
    three = ValueError("a", "b", KeyError("k"))
    assert [type(e).__name__ for e in transport._causes(three)] == ["ValueError", "KeyError"]
    try:
        try:
            raise KeyError("inner")
        except KeyError:
            raise ValueError("outer")  # noqa: B904 - the implicit context is the point
    except ValueError as exc:
        chained = exc
    assert [type(e).__name__ for e in transport._causes(chained)] == ["ValueError", "KeyError"]
    bare = OSError()
    assert transport._causes(bare) == [bare]  # no arguments: no crash
    deep = ValueError(ValueError(ValueError(ValueError(ValueError()))))
    assert len(transport._causes(deep)) == 4  # at most four deep


def test_tls_failures_name_the_local_verification_reason_only() -> None:
    verify = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    verify.verify_message = "self-signed certificate"  # type: ignore[attr-defined]
    error = transport._transport_error(SSLError(verify), URL, request_sent=True)
    assert isinstance(error, ConnectionFailedError) and error.request_sent is True
    assert str(error) == (f"TLS with {URL} failed (SSLError: SSLCertVerificationError (self-signed certificate)); "
                          "not retried: the server may have processed the request")
    plain = transport._transport_error(SSLError(ssl.SSLError(1, "wrong version number")), URL, request_sent=True)
    assert str(plain).startswith(f"TLS with {URL} failed (SSLError: SSLError); not retried")


def test_a_connection_that_never_opened_names_its_causes() -> None:
    refused = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")
    error = transport._transport_error(MaxRetryError(None, URL, refused), URL, request_sent=False)
    assert str(error) == f"could not connect to {URL} (MaxRetryError: NewConnectionError)"
    assert error.request_sent is False


def test_a_retry_after_equal_to_the_cap_is_waited_for(token_server: TokenServer) -> None:
    token_server.enqueue(Reply(429, [("Retry-After", "7")], b"{}"), ok())
    policy, sleeps = no_sleep_policy(max_retry_after=7)
    refresh(make_api(token_server, retry=policy))
    assert sleeps == [7.0] and len(token_server.requests) == 2


def test_token_shaped_words_in_urllib3_records_are_masked(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="urllib3"):
        logging.getLogger("urllib3.connectionpool").debug("echo %s and %s", "pina_SHAPED0001", "plain words")
    [record] = [r for r in caplog.records if r.name == "urllib3.connectionpool"]
    assert record.getMessage() == "echo <redacted> and plain words"


def test_retry_policy_shows_its_numbers_not_its_functions() -> None:
    assert repr(RetryPolicy()) == ("RetryPolicy(max_attempts=3, backoff_base=0.5, backoff_max=8.0, "
                                   "max_retry_after=30.0, retry_statuses=frozenset({429, 503}))")


def test_policies_compare_by_their_numbers_and_timeouts_are_frozen() -> None:
    assert RetryPolicy(rand=lambda: 0.5, sleep=lambda s: None) == RetryPolicy()
    assert RetryPolicy(max_attempts=2) != RetryPolicy()
    with pytest.raises(dataclasses.FrozenInstanceError):
        Timeouts().connect = 1.0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        RetryPolicy().max_attempts = 9  # type: ignore[misc]


def test_the_https_decision_cache_is_bounded() -> None:
    for n in range(300):
        transport.check_secure_url(f"https://host-{n}.example/v5/oauth/token", False)
    assert len(transport._checked_urls) == 256


def test_a_retry_after_beyond_the_cap_is_logged_when_debugging(token_server: TokenServer,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    token_server.enqueue(Reply(429, [("Retry-After", "120")], b"{}"))
    policy, sleeps = no_sleep_policy(max_retry_after=60)
    with caplog.at_level(logging.DEBUG, logger="pinterest_oauth"), pytest.raises(RateLimitError):
        refresh(make_api(token_server, retry=policy))
    assert "Retry-After 120 s exceeds max_retry_after 60 s; not retrying" in caplog.text
    assert sleeps == []


def test_close_also_closes_connections_through_a_proxy(token_server: TokenServer) -> None:
    """Through a proxy the pools live only in urllib3's manager (not in our cache)."""
    token_server.enqueue(ok(), ok(), ok())
    client = ApiClient(Configuration(host="http://api.example.com/v5", username=CLIENT_ID, password=CLIENT_SECRET,
                                     proxy=f"http://127.0.0.1:{token_server.port}", allow_insecure_http=True,
                                     retry=RetryPolicy(max_attempts=1)))
    api = OauthApi(client)
    for _ in range(2):
        api.oauth_token(grant_type="client_credentials", scope="ads:read")
    manager = client.rest_client.pool_manager
    pools = [manager.pools[key] for key in manager.pools.keys()]
    assert pools and all(pool.pool is not None for pool in pools)
    client.close()
    assert all(pool.pool is None for pool in pools)  # closed, not just forgotten
    api.oauth_token(grant_type="client_credentials", scope="ads:read")
    client.close()
    assert [seen.connection for seen in token_server.requests] == [1, 1, 2]


def test_withdrawing_every_request_for_the_debug_log_restores_the_logger() -> None:
    logger = logging.getLogger("pinterest_oauth")
    before = (logger.level, list(logger.handlers))
    transport.enable_debug_logging("config")
    transport.enable_debug_logging("env")
    transport.disable_debug_logging("config")
    assert logger.level == logging.DEBUG and len(logger.handlers) == len(before[1]) + 1  # env still asks
    transport.disable_debug_logging("all")
    assert (logger.level, list(logger.handlers)) == before


def test_the_pool_cache_holds_at_most_16_urls(token_server: TokenServer) -> None:
    config = Configuration(host=token_server.url, username=CLIENT_ID, password=CLIENT_SECRET,
                           retry=RetryPolicy(max_attempts=1))
    client = ApiClient(config)
    api = OauthApi(client)
    cache = lambda: client.rest_client.pool_manager.__dict__.get(transport._POOLS, {})  # noqa: E731
    token_server.enqueue(*[ok()] * 17)
    for n in range(17):
        config.host = f"{token_server.url}/n{n}"
        api.oauth_token(grant_type="client_credentials", scope="ads:read")
        assert len(cache()) == (n + 1 if n < 16 else 1)  # the 17th URL starts it afresh
    client.close()


def test_close_closes_the_pooled_connections(token_server: TokenServer) -> None:
    token_server.enqueue(ok())
    api = make_api(token_server)
    manager = api.api_client.rest_client.pool_manager
    refresh(api)
    pool = manager.connection_from_url(token_server.url)
    assert pool.pool is not None and pool.num_connections == 1
    api.api_client.close()
    assert pool.pool is None  # closed, not just forgotten


def test_an_http_date_without_a_zone_is_ignored() -> None:
    """`-0000` or no zone: the time is unknown, so no wait is derived from it."""
    now = 1_700_000_000.0
    for value in ("Wed, 21 Oct 2035 07:28:00 -0000", "Wed, 21 Oct 2035 07:28:00"):
        assert transport.parse_retry_after(value, now=lambda: now) is None


def test_zero_seconds_are_allowed_where_they_make_sense() -> None:
    policy = RetryPolicy(backoff_base=0, backoff_max=0, max_retry_after=0)
    assert policy.backoff(1) == 0.0
    with pytest.raises(ValueError):
        Timeouts(connect=0)


def test_urllib3_header_warning_keeps_the_url_and_hides_the_headers(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="urllib3"):
        logging.getLogger("urllib3.connection").warning("Failed to parse headers (url=%s): %s",
                                                        "http://127.0.0.1:1/v5/oauth/token", "X-Echo: pinr_x")
    [record] = caplog.records
    assert record.getMessage() == ("Failed to parse headers (url=http://127.0.0.1:1/v5/oauth/token): "
                                   "malformed response headers (content hidden)")


def test_no_free_pooled_connection_in_time_means_the_request_was_never_sent() -> None:
    """What the async transport raises on httpx2's PoolTimeout (the wording is shared)."""
    exc = transport.failure("pool_timeout", TimeoutError(), "https://api.pinterest.com/v5/oauth/token")
    assert isinstance(exc, RequestTimeoutError) and exc.request_sent is False
    assert str(exc) == "timed out waiting for a free connection to https://api.pinterest.com/v5/oauth/token"
