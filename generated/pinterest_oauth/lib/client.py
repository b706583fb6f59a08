"""`Configuration`, `ApiClient` and `OauthApi` as the package exports them.

They extend the generated classes: `Configuration` adds timeouts, retries, the https-only
rule and a debug switch that never prints secrets; `ApiClient` reuses the generated urllib3
pool with quiet connections; `OauthApi.oauth_token` checks its arguments, sends the form
through `transport.send` and parses the answer into the generated model, raising only the
package's own exceptions (see `errors`).
"""

from __future__ import annotations

import base64
import json
import platform
from typing import Any, Optional, Union
from urllib.parse import urlencode

from pydantic import ValidationError

from pinterest_oauth import __version__
from pinterest_oauth.api_client import ApiClient as _GeneratedApiClient
from pinterest_oauth.api_response import ApiResponse
from pinterest_oauth.configuration import Configuration as _GeneratedConfiguration
from pinterest_oauth.exceptions import ApiTypeError, ApiValueError
from pinterest_oauth.lib import errors, redact, transport
from pinterest_oauth.lib.transport import RetryPolicy, Timeouts, coerce_timeouts
from pinterest_oauth.models.error import Error
from pinterest_oauth.models.grant_type import GrantType
from pinterest_oauth.models.oauth_access_token_response import OauthAccessTokenResponse

USER_AGENT = f"pinterest-oauth-sdk/{__version__} python/{platform.python_version()}"
TOKEN_PATH = "/oauth/token"

#: Form fields each grant type needs (Pinterest answers 400 without them; we say so first).
REQUIRED_FIELDS = {
    "authorization_code": ("code", "redirect_uri"),
    "refresh_token": ("refresh_token",),
    "client_credentials": (),
}
_GRANT_TYPES = frozenset(g.value for g in GrantType)
_STR_FIELDS = ("code", "redirect_uri", "refresh_token", "scope")
_BOOL_FIELDS = ("refresh_on", "continuous_refresh")

TimeoutArg = Union[Timeouts, float, "tuple[float, float]", "tuple[float, float, float]", None]
DEFAULT_TIMEOUTS = Timeouts()
DEFAULT_RETRY = RetryPolicy()


class Configuration(_GeneratedConfiguration):
    """Connection settings: credentials, host, timeouts, retries, body cap, debug logging.

    `username` / `password` are the app id and secret (HTTP basic). Defaults: host
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
        retry: Optional[RetryPolicy] = None,
        allow_insecure_http: bool = False,
        debug: Optional[bool] = None,
        max_response_bytes: int = transport.DEFAULT_MAX_RESPONSE_BYTES,
        **kwargs: Any,
    ) -> None:
        if kwargs.get("retries") is not None:
            raise ApiValueError("Configuration(retries=...) is not used: pass retry=RetryPolicy(...)")
        kwargs.setdefault("connection_pool_maxsize", 32)
        self.timeouts = timeouts  # the setters coerce and check
        self.retry = retry
        self.allow_insecure_http = allow_insecure_http
        self.max_response_bytes = max_response_bytes
        super().__init__(host=host, username=username, password=password, debug=debug, **kwargs)

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


class ApiClient(_GeneratedApiClient):
    """The generated ApiClient, with connections that never print headers or bodies.

    Thread-safe: share one instance between threads (its urllib3 pool keeps up to
    `connection_pool_maxsize` connections, default 32).
    """

    configuration: Configuration

    def __init__(self, configuration: Optional[Configuration] = None, *args: Any, **kwargs: Any) -> None:
        if configuration is None:
            configuration = Configuration()
        elif not isinstance(configuration, Configuration):
            raise ApiTypeError("pinterest_oauth.ApiClient needs a pinterest_oauth.Configuration")
        super().__init__(configuration, *args, **kwargs)
        self.user_agent = USER_AGENT
        transport.silence_http_client_debug(self.rest_client.pool_manager)

    def close(self) -> None:
        """Close pooled connections (the client stays usable: later calls reconnect)."""
        transport.close_pools(self.rest_client.pool_manager)

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ApiClient({self.configuration!r})"


class OauthApi:
    """Pinterest's token endpoint, `POST /oauth/token`."""

    def __init__(self, api_client: Optional[ApiClient] = None) -> None:
        if api_client is None:
            api_client = ApiClient()
        elif not isinstance(api_client, ApiClient):
            raise ApiTypeError("OauthApi needs a pinterest_oauth.ApiClient")
        self.api_client = api_client
        self._credentials: tuple[Any, Any, str] = (None, None, "")

    def __repr__(self) -> str:
        return f"OauthApi({self.api_client!r})"

    def oauth_token(
        self,
        grant_type: Union[GrantType, str],
        code: Optional[str] = None,
        redirect_uri: Optional[str] = None,
        refresh_token: Optional[str] = None,
        scope: Optional[str] = None,
        refresh_on: Optional[bool] = None,
        continuous_refresh: Optional[bool] = None,
        *,
        timeout: TimeoutArg = None,
        retry: Optional[RetryPolicy] = None,
    ) -> OauthAccessTokenResponse:
        """Exchange a code, refresh a token, or get a client token.

        :param grant_type: authorization_code, refresh_token or client_credentials.
        :param code: the authorization code (authorization_code).
        :param redirect_uri: the redirect URI used to obtain the code (authorization_code).
        :param refresh_token: the refresh token (refresh_token).
        :param scope: comma-separated scopes (refresh_token, client_credentials).
        :param refresh_on: deprecated; asks for an everlasting_refresh answer (older apps).
        :param continuous_refresh: asks for a continuous refresh token (apps created before
            2025-09-25).
        :param timeout: this call's `Timeouts`, seconds (the whole call), (connect, read) or
            (connect, read, total); default: the Configuration's.
        :param retry: this call's `RetryPolicy` (`RetryPolicy(max_attempts=1)` disables
            retries); default: the Configuration's.
        :return: the token response; `access_token` / `refresh_token` are `SecretStr`.
        :raises OpenApiException: always a subclass from `pinterest_oauth.lib.errors`, or
            `ApiValueError` / `ApiTypeError` for bad arguments (nothing is sent then).
        """
        return self._exchange(
            grant_type, code, redirect_uri, refresh_token, scope, refresh_on, continuous_refresh,
            timeout, retry,
        )[1]

    def oauth_token_with_http_info(
        self,
        grant_type: Union[GrantType, str],
        code: Optional[str] = None,
        redirect_uri: Optional[str] = None,
        refresh_token: Optional[str] = None,
        scope: Optional[str] = None,
        refresh_on: Optional[bool] = None,
        continuous_refresh: Optional[bool] = None,
        *,
        timeout: TimeoutArg = None,
        retry: Optional[RetryPolicy] = None,
    ) -> ApiResponse[OauthAccessTokenResponse]:
        """Like `oauth_token`, but returns an `ApiResponse`: `status_code`, `headers` (secret
        headers masked) and `data` (the token). `raw_data` is always empty: the raw body
        holds the tokens, so it is not kept."""
        answer, token = self._exchange(
            grant_type, code, redirect_uri, refresh_token, scope, refresh_on, continuous_refresh,
            timeout, retry,
        )
        return ApiResponse(
            status_code=answer.status,
            headers=redact.redact_headers(answer.headers),
            data=token,
            raw_data=b"",
        )

    def _exchange(
        self,
        grant_type: Union[GrantType, str],
        code: Optional[str],
        redirect_uri: Optional[str],
        refresh_token: Optional[str],
        scope: Optional[str],
        refresh_on: Optional[bool],
        continuous_refresh: Optional[bool],
        timeout: TimeoutArg,
        retry: Optional[RetryPolicy],
    ) -> tuple[transport.Exchange, OauthAccessTokenResponse]:
        """Check, send, and parse one token request (the body of both public methods)."""
        fields = _form_fields(
            grant_type, code=code, redirect_uri=redirect_uri, refresh_token=refresh_token,
            scope=scope, refresh_on=refresh_on, continuous_refresh=continuous_refresh,
        )
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise ApiTypeError("retry must be a RetryPolicy")
        config = self.api_client.configuration
        url = config.host.rstrip("/") + TOKEN_PATH
        shown_url = transport.check_secure_url(url, config.allow_insecure_http)
        credentials = self._basic_credentials(config)
        headers = {
            "Authorization": "Basic " + credentials,
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        secrets = (config.password, credentials, code, refresh_token)
        try:
            answer = transport.send(
                self.api_client.rest_client.pool_manager,
                url,
                urlencode(fields).encode("ascii"),
                headers,
                fields,
                coerce_timeouts(timeout, config.timeouts),
                retry if retry is not None else config.retry,
                secrets,
                shown_url,
                max_body=config.max_response_bytes,
            )
        except transport.BodyDecodeError as exc:
            undecodable = "the body could not be decoded (bad Content-Encoding)"
            if 200 <= exc.status <= 299:
                raise errors.InvalidResponseError(undecodable, status=exc.status) from None
            raise errors.error_class_for(exc.status)(status=exc.status, summary=undecodable) from None
        if 200 <= answer.status <= 299:
            return answer, _parse_token(answer, secrets)
        raise _http_error(answer, secrets)

    def _basic_credentials(self, config: Configuration) -> str:
        """base64(client_id:client_secret) in UTF-8 (RFC 7617), cached per credential pair."""
        username, password, encoded = self._credentials
        if username == config.username and password == config.password and encoded:
            return encoded
        if not config.username or not config.password:
            raise ApiValueError("Configuration needs username (app id) and password (app secret)")
        if not isinstance(config.username, str) or not isinstance(config.password, str):
            raise ApiTypeError("Configuration username and password must be str")
        raw = f"{config.username}:{config.password}".encode("utf-8")
        encoded = base64.b64encode(raw).decode("ascii")
        self._credentials = (config.username, config.password, encoded)
        return encoded


def _form_fields(grant_type: Union[GrantType, str], **optional: Any) -> list[tuple[str, str]]:
    """Check the caller's arguments and return the form fields to send, in a stable order."""
    grant = grant_type.value if isinstance(grant_type, GrantType) else grant_type
    if not isinstance(grant, str) or grant not in _GRANT_TYPES:
        shown = grant if isinstance(grant, str) and len(grant) <= 40 else type(grant).__name__
        raise ApiValueError(
            f"grant_type must be one of {', '.join(sorted(_GRANT_TYPES))}, got {shown!r}"
        )
    fields = [("grant_type", grant)]
    for name in _STR_FIELDS:
        value = optional[name]
        if value is None:
            continue
        if not isinstance(value, str):
            raise ApiTypeError(f"{name} must be a str, got {type(value).__name__}")
        fields.append((name, value))
    for name in _BOOL_FIELDS:
        value = optional[name]
        if value is None:
            continue
        if not isinstance(value, bool):
            raise ApiTypeError(f"{name} must be a bool, got {type(value).__name__}")
        fields.append((name, "true" if value else "false"))
    missing = [name for name in REQUIRED_FIELDS[grant] if not optional[name]]
    if missing:
        raise ApiValueError(f"grant_type={grant} needs {', '.join(missing)}")
    return fields


def _describe_type(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number"
    )


def _parse_token(answer: transport.Exchange, secrets: tuple[Optional[str], ...]) -> OauthAccessTokenResponse:
    """Parse a 2xx body into the token model, or raise InvalidResponseError saying why.

    Raised outside any `except` block so pydantic's error (which quotes input values, i.e.
    tokens) is not even kept as the exception's context.
    """
    obj = _token_problem(answer.data, answer.headers)
    problem = obj if isinstance(obj, str) else None
    token = None
    if problem is None:
        try:
            token = OauthAccessTokenResponse.from_dict(obj)  # type: ignore[arg-type]
        except ValidationError as exc:
            problem = "; ".join(
                _field_problem(obj, e["loc"], e["msg"])  # type: ignore[arg-type]
                for e in exc.errors(include_url=False, include_input=False, include_context=False)
            )
    if token is None:
        raise errors.InvalidResponseError(redact.scrub(problem or "no token", secrets),
                                          status=answer.status)
    return token


def _field_problem(obj: dict[str, Any], loc: tuple[Any, ...], msg: str) -> str:
    """One pydantic error, without the input value (which may be a token)."""
    name = ".".join(map(str, loc)) or "body"
    if loc and obj.get(loc[0]) is None:  # the generated from_dict turns absent into None
        return f"missing required field {name}"
    return f"{name}: {msg}"


def _token_problem(data: bytes, headers: Any) -> Union[str, dict[str, Any]]:
    """The parsed JSON object, or a description of why the body is not one."""
    ctype = headers.get("Content-Type") or "no Content-Type"
    if not data.strip():
        return f"empty body ({ctype})"
    try:
        obj = json.loads(data)
    except ValueError as exc:
        stripped = data.strip()
        pos = getattr(exc, "pos", None)
        msg = getattr(exc, "msg", None) or type(exc).__name__
        if stripped[:1] in (b"{", b"[") and pos is not None and (
            pos >= len(stripped) - 1 or msg.startswith("Unterminated string")
        ):
            return f"truncated JSON: the body ends after {len(data)} bytes ({msg}: char {pos})"
        where = f": char {pos}" if pos is not None else ""
        return f"not JSON ({msg}{where}; {ctype}, {len(data)} bytes)"
    except RecursionError:
        return f"JSON nested too deeply ({len(data)} bytes)"
    if not isinstance(obj, dict):
        return f"expected a JSON object, got {_describe_type(obj)}"
    return obj


def _http_error(answer: transport.Exchange, secrets: tuple[Optional[str], ...]) -> errors.PinterestApiError:
    """Build the exception for a non-2xx answer, parsing `{code, message}` or RFC 6749 bodies."""
    status = answer.status
    text = answer.data.decode("utf-8", "replace")
    data = error = description = None
    summary = ""
    try:
        obj = json.loads(text) if text.strip() else None
    except (ValueError, RecursionError):
        obj = None
    if isinstance(obj, dict):
        if isinstance(obj.get("code"), int) and isinstance(obj.get("message"), str):
            try:
                data = Error.from_dict(obj)
            except ValidationError:
                data = None
        if data is not None:
            summary = f"code {data.code}: {data.message}"
        if isinstance(obj.get("error"), str):
            error = obj["error"]
            raw = obj.get("error_description")
            description = raw if isinstance(raw, str) else None
            rfc = f"{error}: {description}" if description else error
            summary = f"{summary}; {rfc}" if summary else rfc
        if not summary:
            summary = f"JSON body without code/message or error ({len(text)} characters)"
    elif text.strip():
        ctype = answer.headers.get("Content-Type") or "no Content-Type"
        summary = f"non-JSON body ({len(answer.data)} bytes, {ctype})"
    cls = errors.error_class_for(status)
    retry_after = None
    if status == 429 or status == 503:
        retry_after = transport.parse_retry_after(answer.headers.get("Retry-After"))
    return cls(
        status=status,
        reason=redact.scrub(answer.reason, secrets) if answer.reason else None,
        headers=answer.headers,
        body=text,
        data=data,
        error=error,
        error_description=description,
        retry_after=retry_after,
        summary=redact.scrub(summary, secrets),
    )
