"""`Configuration` and `ApiClient` as the package exports them: the hooks under the generated API.

They extend the generated classes. `Configuration` adds timeouts, retries, the https-only
rule and a debug switch that never prints secrets. `ApiClient` reuses the generated urllib3
pool with quiet connections and adds `call_operation`, which every generated operation
(owned/api.mustache) calls with its `Operation` and checked form: it authenticates, sends
through `transport.send` and parses the answer (`responses`), raising only the package's
own exceptions (see `errors`).
"""

from __future__ import annotations

import platform
import threading
from typing import Any, ClassVar, Optional, Sequence, Union

from pydantic import SecretStr

from pinterest_oauth import __version__
from pinterest_oauth.api_client import ApiClient as _GeneratedApiClient
from pinterest_oauth.configuration import Configuration as _GeneratedConfiguration
from pinterest_oauth.exceptions import ApiTypeError, ApiValueError
from pinterest_oauth.lib import errors, redact, transport
from pinterest_oauth.lib.calls import OperationCalls
from pinterest_oauth.lib.operations import Operation
from pinterest_oauth.lib.transport import RetryPolicy, TimeoutArg, Timeouts, coerce_timeouts

USER_AGENT = f"pinterest-oauth-sdk/{__version__} python/{platform.python_version()}"

DEFAULT_TIMEOUTS = Timeouts()
DEFAULT_RETRY = RetryPolicy()


class Configuration(_GeneratedConfiguration):
    """Connection settings: credentials, host, timeouts, retries, body cap, debug logging.

    Build one with `Configuration.for_app(client_id, client_secret, host=..., timeout=...)`;
    the generated form `Configuration(host=..., username=client_id, password=client_secret)`
    works too. Defaults: host
    https://api.pinterest.com/v5, `Timeouts(connect=10, read=30, total=60)`, `RetryPolicy()`
    (3 attempts; failed connects and 429/503 only), `max_response_bytes` 1 MiB (a longer
    answer is not read and fails the call). Plain http is refused except to loopback hosts or with
    `allow_insecure_http=True`. `debug=True` sends the package's redacted log to stderr;
    unlike the generated class it never switches on http.client's printing.
    """

    def __init__(
        self,
        host: Optional[str] = None,
        username: Optional[str] = None,
        password: Optional[str] = None,
        *,
        timeouts: TimeoutArg = None,
        timeout: TimeoutArg = None,
        retry: Optional[RetryPolicy] = None,
        allow_insecure_http: bool = False,
        debug: Optional[bool] = None,
        max_response_bytes: int = transport.DEFAULT_MAX_RESPONSE_BYTES,
        **kwargs: Any,
    ) -> None:
        if kwargs.get("retries") is not None:
            raise ApiValueError("Configuration(retries=...) is not used: pass retry=RetryPolicy(...)")
        # Configuration(app_id, app_secret) lands as host=app_id, username=app_secret.
        check_host(host, "Configuration", positional_hint=bool(username) and password is None)
        for name, value in (("username", username), ("password", password)):
            if value is not None and not isinstance(value, str):
                raise ApiTypeError(f"Configuration({name}=...) must be a str, got {type(value).__name__}")
        if bool(username) != bool(password):
            given, missing = ("username", "password") if username else ("password", "username")
            raise ApiValueError(f"Configuration({given}=...) was given without {missing}=: pass both, "
                                "the app id as username and the app secret as password")
        kwargs.setdefault("connection_pool_maxsize", 32)
        self.timeouts = one_timeout(timeout, timeouts, "Configuration")  # the setters coerce and check
        self.retry = retry
        self.allow_insecure_http = allow_insecure_http
        self.max_response_bytes = max_response_bytes
        super().__init__(host=host, username=username, password=password, debug=debug, **kwargs)

    @classmethod
    def for_app(
        cls,
        client_id: str,
        client_secret: Union[str, SecretStr],
        *,
        host: Optional[str] = None,
        timeout: TimeoutArg = None,
        timeouts: TimeoutArg = None,
        **options: Any,
    ) -> "Configuration":
        """The configuration of the app `client_id` (its secret `client_secret`, a str or a
        `SecretStr`): `host` (default https://api.pinterest.com/v5), `timeout` (or `timeouts`:
        seconds for the whole call, or `Timeouts`), and any other keyword of `Configuration`
        (`retry`, `allow_insecure_http`, `max_response_bytes`, `debug`)."""
        client_id, secret = check_credentials(client_id, client_secret, "Configuration.for_app")
        check_host(host, "Configuration.for_app")
        return cls(host=host, username=client_id, password=secret,
                   timeouts=one_timeout(timeout, timeouts, "Configuration.for_app"), **options)

    @property
    def timeouts(self) -> Timeouts:
        """Default `Timeouts` of every call; assign `Timeouts`, seconds (the whole call),
        a (connect, read) pair, a (connect, read, total) triple, or None for the defaults
        (10 s, 30 s, 60 s)."""
        return self._timeouts

    @timeouts.setter
    def timeouts(self, value: TimeoutArg) -> None:
        self._timeouts = coerce_timeouts(value, DEFAULT_TIMEOUTS)

    @property
    def max_response_bytes(self) -> int:
        """The longest response body a call reads, in bytes after decompression (default
        1 MiB); a longer one fails the call without being read."""
        return self._max_response_bytes

    @max_response_bytes.setter
    def max_response_bytes(self, value: int) -> None:
        self._max_response_bytes = transport.check_max_response_bytes(value)

    @property
    def retry(self) -> RetryPolicy:
        """Default `RetryPolicy` of every call; None means `RetryPolicy()`."""
        return self._retry

    @retry.setter
    def retry(self, value: Optional[RetryPolicy]) -> None:
        if value is not None and not isinstance(value, RetryPolicy):
            raise ApiTypeError("retry must be a RetryPolicy")
        self._retry = value if value is not None else DEFAULT_RETRY

    @property
    def debug(self) -> bool:
        """Whether the package's redacted DEBUG log goes to stderr (process-wide, like the
        generated switch). Never turns on http.client's or urllib3's own debug output."""
        return bool(self.__dict__.get("_debug_on", False))

    @debug.setter
    def debug(self, value: bool) -> None:
        self.__dict__["_debug_on"] = bool(value)
        if value:
            transport.enable_debug_logging()
        else:
            transport.disable_debug_logging()

    def __repr__(self) -> str:
        return (
            f"Configuration(host={self.host!r}, username={self.username!r}, "
            f"password={redact.MASK if self.password else None!r}, timeouts={self.timeouts!r}, "
            f"retry={self.retry!r}, allow_insecure_http={self.allow_insecure_http!r})"
        )

    __str__ = __repr__


def check_credentials(client_id: Any, client_secret: Any, where: str) -> tuple[str, str]:
    """(client_id, client_secret as a str), or ApiValueError / ApiTypeError naming what is
    missing or mistyped (never its value)."""
    if isinstance(client_secret, SecretStr):
        client_secret = client_secret.get_secret_value()
    for name, value, what in (("client_id", client_id, "app id"), ("client_secret", client_secret, "app secret")):
        if value is None or value == "":
            raise ApiValueError(f"{where} needs {name}: the {what} shown at developers.pinterest.com/apps")
        if not isinstance(value, str):
            raise ApiTypeError(f"{where}: {name} must be a str, got {type(value).__name__}")
    return client_id, client_secret


def check_host(host: Any, where: str, *, positional_hint: bool = False) -> None:
    """ApiValueError / ApiTypeError unless `host` is None or an http(s) URL (never shown)."""
    if host is None:
        return
    if not isinstance(host, str):
        raise ApiTypeError(f"{where}: host must be a str URL such as {errors.PINTEREST_HOST}, got {type(host).__name__}")
    if "://" in host:
        return
    if positional_hint:
        raise ApiValueError(
            "Configuration's first argument is the host URL, and this one is not a URL: for an app's "
            "credentials write Configuration.for_app(client_id, client_secret) or "
            "Configuration(username=client_id, password=client_secret)"
        )
    raise ApiValueError(f"{where}: host must be a URL such as {errors.PINTEREST_HOST} (it has no scheme)")


def one_timeout(timeout: TimeoutArg, timeouts: TimeoutArg, where: str) -> TimeoutArg:
    """The one of `timeout=` / `timeouts=` (the same setting, two spellings) that was given."""
    if timeout is not None and timeouts is not None:
        raise ApiValueError(f"{where}: pass timeout= or timeouts= (the same setting), not both")
    return timeout if timeout is not None else timeouts


class ApiClient(OperationCalls, _GeneratedApiClient):
    """The generated ApiClient, with connections that never print headers or bodies.

    Thread-safe: share one instance between threads (its urllib3 pool keeps up to
    `connection_pool_maxsize` connections, default 32).
    """

    configuration: Configuration
    _shared: ClassVar[Optional["ApiClient"]] = None
    _default_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, configuration: Optional[Configuration] = None, *args: Any, **kwargs: Any) -> None:
        if configuration is None:
            configuration = Configuration()
        elif not isinstance(configuration, Configuration):
            raise ApiTypeError("pinterest_oauth.ApiClient needs a pinterest_oauth.Configuration")
        super().__init__(configuration, *args, **kwargs)
        self.user_agent = USER_AGENT
        transport.silence_http_client_debug(self.rest_client.pool_manager)

    @classmethod
    def get_default(cls) -> "ApiClient":
        """The shared client a generated API class uses when given none (created on first use
        with a default `Configuration`; replace it with `set_default`)."""
        with cls._default_lock:
            if ApiClient._shared is None:
                ApiClient._shared = ApiClient()
            return ApiClient._shared

    @classmethod
    def set_default(cls, default: Optional["ApiClient"]) -> None:
        """Make `default` the client of API classes created without one (None: a fresh one)."""
        if default is not None and not isinstance(default, ApiClient):
            raise ApiTypeError("ApiClient.set_default needs a pinterest_oauth.ApiClient")
        with cls._default_lock:
            ApiClient._shared = default

    def call_operation(
        self,
        operation: Operation,
        form: Sequence[tuple[str, str]],
        secrets: Sequence[str] = (),
        *,
        timeout: TimeoutArg = None,
        retry: Optional[RetryPolicy] = None,
        with_http_info: bool = False,
    ) -> Any:
        """Send one generated operation's checked form and parse the answer.

        The hook between the generated API classes and the transport: authenticates with the
        operation's security schemes, posts through `transport.send` (timeouts, retries,
        https-only, redacted logging) and returns an `ApiResponse` whose `data` is the model
        the spec gives the 2xx status. Every failure raises a `pinterest_oauth.lib.errors`
        class. `secrets` are the call's secret argument values, scrubbed from every text.
        """
        call = self.prepare(operation, form, secrets, timeout, retry)
        try:
            answer = transport.send(
                self.rest_client.pool_manager, call.url, call.body, call.headers, call.form,
                call.timeouts, call.retry, call.secrets, call.shown_url, max_body=call.max_body,
            )
        except transport.BodyDecodeError as exc:
            raise self.undecodable(exc) from None
        return self.finish(operation, answer, call, with_http_info)

    def close(self) -> None:
        """Close pooled connections (the client stays usable: later calls reconnect)."""
        transport.close_pools(self.rest_client.pool_manager)

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ApiClient({self.configuration!r})"

