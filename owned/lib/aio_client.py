"""`AsyncApiClient`: what the generated `AsyncOauthApi` calls; the async twin of `ApiClient`.

It takes the same `Configuration` and shares everything but the sending with `ApiClient`
(`calls.OperationCalls`: https-only check, authentication, headers, parsing the answer into
the same model classes and exceptions); it sends through `aio_transport` (httpx2).

Use one client per event loop, and close it: `async with AsyncApiClient(config) as client:`
or `await client.close()`. Its connections are opened on first use.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar, Optional, Sequence

from typing_extensions import Self

from pinterest_oauth.exceptions import ApiTypeError
from pinterest_oauth.lib import aio_transport
from pinterest_oauth.lib.calls import OperationCalls
from pinterest_oauth.lib.client import USER_AGENT, Configuration
from pinterest_oauth.lib.operations import Operation
from pinterest_oauth.lib.transport import BodyDecodeError, RetryPolicy, TimeoutArg


class AsyncApiClient(OperationCalls):
    """Holds a `Configuration` and an httpx2 connection pool (up to `connection_pool_maxsize`
    connections, default 32), shared by every task of one event loop.

    :param configuration: credentials, host, timeouts, retries, body cap (default: a fresh
        `Configuration()`).
    :param header_name, header_value: one default header to send with every request.
    :param cookie: a Cookie header value to send with every request.
    """

    _shared: ClassVar[Optional["AsyncApiClient"]] = None
    _default_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self,
        configuration: Optional[Configuration] = None,
        header_name: Optional[str] = None,
        header_value: Optional[str] = None,
        cookie: Optional[str] = None,
    ) -> None:
        if configuration is None:
            configuration = Configuration()
        elif not isinstance(configuration, Configuration):
            raise ApiTypeError("AsyncApiClient needs a pinterest_oauth.Configuration")
        self.configuration = configuration
        self.default_headers: dict[str, str] = {"User-Agent": USER_AGENT}
        if header_name is not None and header_value is not None:
            self.default_headers[header_name] = header_value
        self.cookie = cookie
        self._http: Any = None  # the httpx2.AsyncClient, created on first use

    @property
    def user_agent(self) -> str:
        """The User-Agent header sent with every request."""
        return self.default_headers["User-Agent"]

    @user_agent.setter
    def user_agent(self, value: str) -> None:
        self.default_headers["User-Agent"] = value

    def set_default_header(self, header_name: str, header_value: str) -> None:
        """Send `header_name: header_value` with every request."""
        self.default_headers[header_name] = header_value

    @classmethod
    def get_default(cls) -> "AsyncApiClient":
        """The shared client of `AsyncOauthApi()` created without one (made on first use with
        a default `Configuration`; replace it with `set_default`)."""
        with cls._default_lock:
            if AsyncApiClient._shared is None:
                AsyncApiClient._shared = AsyncApiClient()
            return AsyncApiClient._shared

    @classmethod
    def set_default(cls, default: Optional["AsyncApiClient"]) -> None:
        """Make `default` the client of `AsyncOauthApi()` created without one."""
        if default is not None and not isinstance(default, AsyncApiClient):
            raise ApiTypeError("AsyncApiClient.set_default needs a pinterest_oauth.aio.AsyncApiClient")
        with cls._default_lock:
            AsyncApiClient._shared = default

    async def call_operation(
        self,
        operation: Operation,
        form: Sequence[tuple[str, str]],
        secrets: Sequence[str] = (),
        *,
        timeout: TimeoutArg = None,
        retry: Optional[RetryPolicy] = None,
        with_http_info: bool = False,
    ) -> Any:
        """`ApiClient.call_operation`, awaited: the same checks, rules, results and errors."""
        call = self.prepare(operation, form, secrets, timeout, retry)
        if self._http is None:
            self._http = aio_transport.new_http_client(self.configuration)
        try:
            answer = await aio_transport.send(
                self._http, call.url, call.body, call.headers, call.form,
                call.timeouts, call.retry, call.secrets, call.shown_url, max_body=call.max_body,
            )
        except BodyDecodeError as exc:
            raise self.undecodable(exc) from None
        return self.finish(operation, answer, call, with_http_info)

    async def close(self) -> None:
        """Close pooled connections (the client stays usable: a later call reconnects)."""
        http, self._http = self._http, None
        if http is not None:
            await http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"AsyncApiClient({self.configuration!r})"
