"""What every client does around its transport, sync or async: prepare a call, read its answer.

`OperationCalls` is mixed into `ApiClient` (urllib3) and `AsyncApiClient` (httpx). `prepare`
checks the URL (https-only), authenticates with the operation's security schemes, builds the
headers and the form body; `finish` turns the transport's `Exchange` into the operation's
model (or the package's exception). Only sending differs between the two clients.
"""

from __future__ import annotations

import base64
from typing import Any, NamedTuple, Optional, Sequence
from urllib.parse import urlencode

from pinterest_oauth.exceptions import ApiTypeError, ApiValueError
from pinterest_oauth.lib import errors, redact, responses, transport
from pinterest_oauth.lib.operations import Operation
from pinterest_oauth.lib.transport import RetryPolicy, TimeoutArg, Timeouts, coerce_timeouts


class PreparedCall(NamedTuple):
    """Everything a transport's `send` needs for one call."""

    url: str
    shown_url: str
    body: bytes
    headers: dict[str, str]
    form: Sequence[tuple[str, str]]
    timeouts: Timeouts
    retry: RetryPolicy
    secrets: tuple[Optional[str], ...]
    max_body: int


class OperationCalls:
    """The transport-independent half of `call_operation` (needs `configuration`,
    `default_headers` and `cookie` on the instance)."""

    configuration: Any
    default_headers: dict[str, str]
    cookie: Optional[str]
    _credentials: tuple[Any, Any, str] = (None, None, "")

    def prepare(
        self,
        operation: Operation,
        form: Sequence[tuple[str, str]],
        secrets: Sequence[str],
        timeout: TimeoutArg,
        retry: Optional[RetryPolicy],
    ) -> PreparedCall:
        """Check the URL and the per-call settings, authenticate, build headers and body."""
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise ApiTypeError("retry must be a RetryPolicy")
        config = self.configuration
        url = config.host.rstrip("/") + operation.path
        shown_url = transport.check_secure_url(url, config.allow_insecure_http)
        headers: dict[str, str] = {}
        credentials = self._authenticate(operation, headers)
        if operation.content_type:
            headers["Content-Type"] = operation.content_type
        if operation.accept:
            headers["Accept"] = operation.accept
        for name, value in self.default_headers.items():  # User-Agent, and any set_default_header
            headers.setdefault(name, value)
        if self.cookie:
            headers.setdefault("Cookie", self.cookie)
        return PreparedCall(
            url, shown_url, urlencode(form).encode("ascii"), headers, form,
            coerce_timeouts(timeout, config.timeouts),
            retry if retry is not None else config.retry,
            (config.password, credentials, *secrets),
            config.max_response_bytes,
        )

    @staticmethod
    def undecodable(exc: transport.BodyDecodeError) -> Exception:
        """The error for an answer whose body could not be decoded."""
        problem = "the body could not be decoded (bad Content-Encoding)"
        if 200 <= exc.status <= 299:
            return errors.InvalidResponseError(problem, status=exc.status)
        return errors.error_class_for(exc.status)(status=exc.status, summary=problem)

    @staticmethod
    def finish(operation: Operation, answer: transport.Exchange, call: PreparedCall,
               with_http_info: bool) -> Any:
        """The operation's model parsed from a 2xx answer (in an `ApiResponse` if
        `with_http_info`, else in an object with only `data`); the package's error otherwise."""
        model = operation.response_model(answer.status)
        if not 200 <= answer.status <= 299:
            error = responses.http_error(answer, model, call.secrets)
            error.url = call.shown_url
            raise error
        data = responses.parse_success(answer, model, call.secrets)
        if not with_http_info:
            return _Result(data)
        from pinterest_oauth.api_response import ApiResponse

        return ApiResponse(
            status_code=answer.status,
            headers=redact.redact_headers(answer.headers),
            data=data,
            raw_data=b"",
        )

    def _authenticate(self, operation: Operation, headers: dict[str, str]) -> Optional[str]:
        """Add the operation's credentials to `headers`; return the secret value added."""
        for name, kind in operation.auth:
            if kind != "basic":
                raise ApiValueError(f"{operation.name}: security scheme {name} ({kind}) is not supported")
            credentials = self._basic_credentials()
            headers["Authorization"] = "Basic " + credentials
            return credentials
        return None

    def _basic_credentials(self) -> str:
        """base64(username:password) in UTF-8 (RFC 7617), cached per credential pair."""
        config = self.configuration
        username, password, encoded = self._credentials
        if username == config.username and password == config.password and encoded:
            return encoded
        if not config.username or not config.password:
            raise ApiValueError("Configuration needs username (app id) and password (app secret): "
                                "Configuration.for_app(client_id, client_secret)")
        if not isinstance(config.username, str) or not isinstance(config.password, str):
            raise ApiTypeError("Configuration username and password must be str")
        raw = f"{config.username}:{config.password}".encode("utf-8")
        encoded = base64.b64encode(raw).decode("ascii")
        self._credentials = (config.username, config.password, encoded)
        return encoded


class _Result:
    """`call_operation`'s answer when the caller wants only the model (no ApiResponse built)."""

    __slots__ = ("data",)

    def __init__(self, data: Any) -> None:
        self.data = data
