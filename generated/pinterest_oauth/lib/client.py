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
import time
from typing import Any, Optional, Union
from urllib.parse import urlencode

from pydantic import ValidationError

from pinterest_oauth import __version__
from pinterest_oauth.api_client import ApiClient as _GeneratedApiClient
from pinterest_oauth.configuration import Configuration as _GeneratedConfiguration
from pinterest_oauth.exceptions import ApiTypeError, ApiValueError
from pinterest_oauth.lib import errors, redact, transport
from pinterest_oauth.lib.transport import RetryPolicy, Timeouts
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

TimeoutArg = Union[Timeouts, float, "tuple[float, float]", None]


def _as_timeouts(value: TimeoutArg, default: Timeouts) -> Timeouts:
    if value is None:
        return default
    if isinstance(value, Timeouts):
        return value
    if isinstance(value, tuple) and len(value) == 2:
        return Timeouts(connect=value[0], read=value[1])
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Timeouts(connect=value, read=value)
    raise ApiTypeError("timeout must be Timeouts, seconds, or a (connect, read) pair")


class Configuration(_GeneratedConfiguration):
    """Connection settings: credentials, host, timeouts, retries, debug logging.

    `username` / `password` are the app id and secret (HTTP basic). Defaults: host
    https://api.pinterest.com/v5, `Timeouts(connect=10, read=30)`, `RetryPolicy()` (3 attempts,
    429/503 and failed connects only). `debug=True` turns on the package's redacted log;
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
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("connection_pool_maxsize", 32)
        super().__init__(host=host, username=username, password=password, debug=debug, **kwargs)
        self.timeouts = _as_timeouts(timeouts, Timeouts())
        self.retry = retry if retry is not None else RetryPolicy()
        self.allow_insecure_http = allow_insecure_http

    @property  # type: ignore[override]
    def debug(self) -> bool:
        """Whether the package's redacted DEBUG log goes to stderr."""
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
            f"password={'<redacted>' if self.password else None}, timeouts={self.timeouts!r}, "
            f"retry={self.retry!r})"
        )

    __str__ = __repr__


class ApiClient(_GeneratedApiClient):
    """The generated ApiClient, with connections that never print headers or bodies."""

    configuration: Configuration

    def __init__(self, configuration: Optional[Configuration] = None, *args: Any, **kwargs: Any) -> None:
        if configuration is None:
            configuration = Configuration()
        elif not isinstance(configuration, Configuration):
            raise ApiTypeError(
                "pinterest_oauth.ApiClient needs a pinterest_oauth.Configuration"
            )
        super().__init__(configuration, *args, **kwargs)
        self.user_agent = USER_AGENT
        transport.silence_http_client_debug(self.rest_client.pool_manager)

    def close(self) -> None:
        """Close pooled connections."""
        self.rest_client.pool_manager.clear()

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
        :param timeout: overrides the configured `Timeouts` for this call.
        :param retry: overrides the configured `RetryPolicy` for this call.
        :return: the token response; `access_token` / `refresh_token` are `SecretStr`.
        :raises OpenApiException: always a subclass from `pinterest_oauth.lib.errors`, or
            `ApiValueError` / `ApiTypeError` for bad arguments (nothing is sent then).
        """
        fields = _form_fields(
            grant_type, code=code, redirect_uri=redirect_uri, refresh_token=refresh_token,
            scope=scope, refresh_on=refresh_on, continuous_refresh=continuous_refresh,
        )
        config = self.api_client.configuration
        url = config.host.rstrip("/") + TOKEN_PATH
        transport.check_secure_url(url, config.allow_insecure_http)
        credentials = _basic_credentials(config)
        headers = {
            "Authorization": "Basic " + credentials,
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        response = transport.send(
            self.api_client.rest_client.pool_manager,
            url,
            urlencode(fields).encode("ascii"),
            headers,
            fields,
            _as_timeouts(timeout, config.timeouts),
            retry if retry is not None else config.retry,
        )
        secrets = (config.password, credentials, code, refresh_token)
        if 200 <= response.status <= 299:
            return _parse_token(response.status, response.data)
        raise _http_error(response, secrets)


def _form_fields(grant_type: Union[GrantType, str], **optional: Any) -> list[tuple[str, str]]:
    """Check the caller's arguments and return the form fields to send, in a stable order."""
    grant = grant_type.value if isinstance(grant_type, GrantType) else grant_type
    if not isinstance(grant, str) or grant not in _GRANT_TYPES:
        raise ApiValueError(
            f"grant_type must be one of {', '.join(sorted(_GRANT_TYPES))}, got {grant!r}"
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
    missing = [name for name in REQUIRED_FIELDS.get(grant, ()) if not optional[name]]
    if missing:
        raise ApiValueError(f"grant_type={grant} needs {', '.join(missing)}")
    return fields


def _basic_credentials(config: Configuration) -> str:
    """base64(client_id:client_secret) in UTF-8 (RFC 7617), so any secret works."""
    if not config.username or not config.password:
        raise ApiValueError("Configuration needs username (app id) and password (app secret)")
    raw = f"{config.username}:{config.password}".encode("utf-8")
    return base64.b64encode(raw).decode("ascii")


def _parse_token(status: int, data: bytes) -> OauthAccessTokenResponse:
    """Parse a 2xx body into the token model, or raise InvalidResponseError saying why."""
    if not data:
        raise errors.InvalidResponseError("empty body", status=status)
    try:
        obj = json.loads(data)
    except ValueError as exc:
        problem = "truncated JSON" if getattr(exc, "pos", -1) >= len(data.strip()) else "not JSON"
        raise errors.InvalidResponseError(problem, status=status) from None
    if not isinstance(obj, dict):
        raise errors.InvalidResponseError(
            f"expected a JSON object, got {type(obj).__name__}", status=status
        )
    try:
        token = OauthAccessTokenResponse.from_dict(obj)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
            for e in exc.errors(include_url=False, include_input=False, include_context=False)
        )
        raise errors.InvalidResponseError(problems, status=status) from None
    assert token is not None
    return token


def _http_error(response: Any, secrets: tuple[Optional[str], ...]) -> errors.PinterestApiError:
    """Build the exception for a non-2xx answer, parsing `{code, message}` or RFC 6749 bodies."""
    status = response.status
    text = response.data.decode("utf-8", "replace")
    data = error = description = None
    summary = ""
    try:
        obj = json.loads(text) if text else None
    except ValueError:
        obj = None
    if isinstance(obj, dict):
        try:
            data = Error.from_dict(obj) if {"code", "message"} <= obj.keys() else None
        except ValidationError:
            data = None
        if data is not None:
            summary = f"code {data.code}: {data.message}"
        if isinstance(obj.get("error"), str):
            error = obj["error"]
            raw = obj.get("error_description")
            description = raw if isinstance(raw, str) else None
            summary = f"{error}: {description}" if description else error
    elif text:
        ctype = response.headers.get("Content-Type", "unknown type")
        summary = f"non-JSON body ({len(text)} characters, {ctype})"
    kwargs: dict[str, Any] = dict(
        status=status,
        reason=response.reason,
        headers=response.headers,
        body=text,
        data=data,
        error=error,
        error_description=description,
        summary=redact.scrub(summary, secrets),
    )
    cls = errors.error_class_for(status)
    if cls is errors.RateLimitError:
        kwargs["retry_after"] = transport.parse_retry_after(response.headers.get("Retry-After"))
    return cls(**kwargs)
