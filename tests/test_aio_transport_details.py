"""Details of the async transport the shared suites leave open: a total deadline under a
second, the pool's size, and TLS (a self-signed certificate for 127.0.0.1, made here with
`cryptography`): verification on, off, with the server's own CA, a client certificate."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import gzip
import ipaddress
import logging
import secrets
import socket
import ssl
import threading
import time
import zlib
from typing import Any, Callable, Iterator, Optional

import pytest

from conftest import CLIENT_ID, CLIENT_SECRET
from fakes import ACCESS, REFRESH, make_api, ok, token_json
from localserver import Reply, Seen, TokenServer
from rawserver import RawServer, dribble, send
from test_bounded_calls import head
from test_retries_timeouts import unanswered_port  # noqa: F401  (a fixture)

from pinterest_oauth import (
    Configuration, ConnectionFailedError, OauthAccessTokenResponse, OpenApiException, RequestTimeoutError, RetryPolicy,
    Timeouts,
)
from pinterest_oauth.aio import AsyncApiClient, AsyncOauthApi

pytestmark = pytest.mark.filterwarnings("error")


def config(url: str, **kwargs: Any) -> Configuration:
    kwargs.setdefault("retry", RetryPolicy(max_attempts=1))
    return Configuration(host=url, username=CLIENT_ID, password=CLIENT_SECRET, **kwargs)


async def refresh(client: AsyncApiClient) -> OauthAccessTokenResponse:
    return await AsyncOauthApi(client).oauth_token(grant_type="refresh_token", refresh_token=REFRESH)


def dribbled_body(n: int, conn: socket.socket, stop: threading.Event) -> bool:
    body = token_json()
    send(conn, head(200, f"Content-Length: {len(body)}"))
    dribble(conn, body, 0.1, stop)  # every read gets a byte in time: only the total deadline ends it
    return False


def test_a_total_deadline_under_a_second_ends_the_call_on_time(caplog: pytest.LogCaptureFixture) -> None:
    """0.3 s in all: the attempt's cancel scope ends it at the deadline (plus a 50 ms grace),
    not at some floor of its own. A timeout after sending is never retried, and the debug log
    does not claim that a retry was weighed against the time left."""
    caplog.set_level(logging.DEBUG, logger="pinterest_oauth")

    async def main() -> float:
        settings = config(server.url, timeouts=Timeouts(connect=1, read=1, total=0.3), retry=RetryPolicy(max_attempts=3))
        async with AsyncApiClient(settings) as client:
            started = time.monotonic()
            with pytest.raises(RequestTimeoutError) as info:
                await refresh(client)
            assert "the call's 0.3 s total deadline expired" in str(info.value) and info.value.request_sent is True
            return time.monotonic() - started

    with RawServer(dribbled_body) as server:
        elapsed = asyncio.run(main())
    assert 0.3 <= elapsed < 0.85
    lines = [r.getMessage() for r in caplog.records if r.name == "pinterest_oauth"]
    assert len([line for line in lines if "attempt 1 failed after" in line]) == 1
    assert not [line for line in lines if "not retrying" in line], lines


def test_a_connect_under_a_deadline_shorter_than_a_second_times_out_as_a_connect(unanswered_port: int) -> None:
    """0.4 s in all and a 5 s connect timeout: httpx2's connect timeout is cut to the time left,
    so the call ends as a connection never made (not as a lost answer, which the attempt's
    cancel scope, 50 ms later, would report)."""
    url = f"http://127.0.0.1:{unanswered_port}/v5"

    async def main() -> None:
        async with AsyncApiClient(config(url, timeouts=Timeouts(connect=5, read=5, total=0.4))) as client:
            with pytest.raises(RequestTimeoutError) as info:
                await refresh(client)
        assert info.value.request_sent is False
        assert str(info.value) == f"timed out connecting to {url}/oauth/token (the call's 0.4 s total deadline expired)"

    asyncio.run(main())


def _hold_until(server: TokenServer, count: int) -> Any:
    def answer(seen: Seen) -> Reply:
        for _ in range(500):  # at most 5 s: a smaller pool never gets `count` requests in at once
            with server.lock:
                if len(server.requests) >= count:
                    break
            time.sleep(0.01)
        return ok()
    return answer


@pytest.mark.parametrize(("maxsize", "expected"), [(None, 32), (3, 3)])
def test_the_pool_opens_as_many_connections_as_configured(maxsize: Optional[int], expected: int) -> None:
    """Each answer waits until `expected` requests are in at once; the calls beyond the pool's
    size wait for a pooled connection. Unset (None after construction) means 32."""
    with TokenServer() as server:
        server.default = _hold_until(server, expected)
        settings = config(server.url)
        settings.connection_pool_maxsize = maxsize

        async def main() -> list[OauthAccessTokenResponse]:
            async with AsyncApiClient(settings) as client:
                return await asyncio.gather(*(refresh(client) for _ in range(expected + 5)))

        tokens = asyncio.run(main())
    assert [t.access_token.get_secret_value() for t in tokens] == [ACCESS] * (expected + 5)
    assert server.connections == expected and len(server.requests) == expected + 5


def test_a_proxy_refusing_the_tunnel_is_a_connection_never_made(token_server: TokenServer) -> None:
    """An https call through a proxy that refuses CONNECT (the local server answers 501): nothing
    reached the host, so the call is tried again, and fails as a connection never established."""
    sleeps: list[float] = []
    settings = config("https://api.example.com/v5", proxy=f"http://127.0.0.1:{token_server.port}",
                      retry=RetryPolicy(max_attempts=2, sleep=sleeps.append, rand=lambda: 1.0))

    async def main() -> None:
        async with AsyncApiClient(settings) as client:
            with pytest.raises(ConnectionFailedError) as info:
                await refresh(client)
        assert info.value.request_sent is False
        assert str(info.value).startswith("could not connect to https://api.example.com/v5/oauth/token (ProxyError")

    asyncio.run(main())
    assert sleeps == [0.5] and token_server.connections == 2 and token_server.requests == []


# -- Content-Encoding -------------------------------------------------------------------------------

ENCODINGS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress, "x-gzip": gzip.compress, "GZIP": gzip.compress, "deflate": zlib.compress,
    "x-unknown": lambda body: body,  # an encoding neither client knows: the body is kept as it came
}


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_each_content_encoding_is_decoded_as_the_sync_client_decodes_it(token_server: TokenServer,
                                                                         encoding: str) -> None:
    # An unknown field repeated 24 KiB apart: decoding needs the full 32 KiB window.
    far = secrets.token_hex(12 * 1024)
    body = ENCODINGS[encoding](token_json(note=far, note_again=far))
    answer = Reply(status=200, headers=[("Content-Type", "application/json"), ("Content-Encoding", encoding)], body=body)
    token_server.enqueue(answer, answer)
    sync_api = make_api(token_server)
    sync_token = sync_api.oauth_token(grant_type="refresh_token", refresh_token=REFRESH)
    sync_api.api_client.close()

    async def main() -> OauthAccessTokenResponse:
        async with AsyncApiClient(config(token_server.url)) as client:
            return await refresh(client)

    async_token = asyncio.run(main())
    assert async_token.access_token.get_secret_value() == sync_token.access_token.get_secret_value() == ACCESS
    assert async_token.to_dict() == sync_token.to_dict()


# -- TLS: a self-signed certificate for 127.0.0.1 ---------------------------------------------------

@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """(certificate file, key file): self-signed, for IP 127.0.0.1, valid for a day."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_file), str(key_file)


@contextlib.contextmanager
def tls_server(certificate: tuple[str, str], *, client_certificate: bool = False) -> Iterator[TokenServer]:
    """A TokenServer whose listening socket speaks TLS with `certificate` (the handshake runs at
    accept); `client_certificate`: it also demands one signed by that certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    if client_certificate:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(certificate[0])
    with TokenServer(default=ok()) as server:
        server.httpd.socket = context.wrap_socket(server.httpd.socket, server_side=True)  # same descriptor
        yield server


def https_url(server: TokenServer) -> str:
    return f"https://127.0.0.1:{server.port}/v5"


async def call_once(settings: Configuration) -> Any:
    async with AsyncApiClient(settings) as client:
        try:
            return (await refresh(client)).access_token.get_secret_value()
        except OpenApiException as exc:
            return exc


@pytest.mark.parametrize("options", [{"verify_ssl": False}, {"ssl_ca_cert": "cert"}], ids=["verification off", "own CA"])
def test_tls_with_verification_off_or_the_servers_own_ca(certificate: tuple[str, str], options: dict[str, Any]) -> None:
    """verify_ssl=False checks neither chain nor name (a context that still checked names would
    refuse CERT_NONE); ssl_ca_cert trusts the given CA."""
    options = {k: certificate[0] if v == "cert" else v for k, v in options.items()}
    with tls_server(certificate) as server:
        assert asyncio.run(call_once(config(https_url(server), **options))) == ACCESS
        assert len(server.requests) == 1


def test_an_unverifiable_certificate_fails_at_once_and_is_not_retried(certificate: tuple[str, str]) -> None:
    with tls_server(certificate) as server:
        url = https_url(server)
        sleeps: list[float] = []
        error = asyncio.run(call_once(config(url, retry=RetryPolicy(max_attempts=3, sleep=sleeps.append))))
        assert server.requests == [] and sleeps == []
    assert isinstance(error, ConnectionFailedError) and error.request_sent is True, repr(error)
    assert str(error) == (f"TLS with {url}/oauth/token failed (ConnectError: ConnectError: SSLCertVerificationError "
                          "(self-signed certificate)); not retried: the server may have processed the request")


def test_a_client_certificate_is_presented(certificate: tuple[str, str]) -> None:
    cert_file, key_file = certificate
    with tls_server(certificate, client_certificate=True) as server:
        settings = config(https_url(server), ssl_ca_cert=cert_file)
        settings.cert_file, settings.key_file = cert_file, key_file
        assert asyncio.run(call_once(settings)) == ACCESS
        assert len(server.requests) == 1
