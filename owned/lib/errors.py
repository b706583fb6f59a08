"""The exception family of `OauthApi.oauth_token`.

Every failure is a subclass of the generated `pinterest_oauth.exceptions.OpenApiException`,
so `except OpenApiException` catches them all; no json, pydantic, urllib3 or socket error
escapes. HTTP errors also subclass the generated `ApiException` (and its per-status classes),
so code written against the plain generated client keeps working.

Exception texts never contain the client secret, the Authorization header, codes or tokens:
they are built from parsed fields that have been scrubbed (see `redact`), never from raw
bodies, and the underlying urllib3 / pydantic error is not chained into the traceback.
Whatever the server sends, a text stays short (server-chosen parts are cut to
`MAX_TEXT_CHARS`) and `.body` keeps at most the first `MAX_BODY_CHARS` characters.
All classes pickle (for multiprocessing and task queues).
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

from pinterest_oauth.exceptions import (
    ApiException,
    ApiValueError,
    BadRequestException,
    ForbiddenException,
    NotFoundException,
    OpenApiException,
    ServiceException,
    UnauthorizedException,
)

#: Pinterest error code for a rejected authorization grant (code or refresh token).
INVALID_GRANT_CODE = 283

#: The most of an error body an exception keeps in `.body` (characters).
MAX_BODY_CHARS = 4096
#: The most of any server-chosen text (reason, message, problem) in an exception's text.
MAX_TEXT_CHARS = 300


def _shorten(text: Optional[str], limit: int = MAX_TEXT_CHARS) -> Optional[str]:
    """`text` cut to `limit` characters, marked with "..." where it was cut."""
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 3] + "..."


class PinterestApiError(ApiException):
    """The server answered with a non-2xx status.

    Attributes: `status`, `reason`, `headers`, `body` (the raw text, at most its first
    `MAX_BODY_CHARS` characters; read it explicitly, it is never part of the exception text), `data` (the parsed `Error` model for `{code, message}`
    bodies, else None), `code` / `message` (from `{code, message}` bodies), `error` /
    `error_description` (from RFC 6749 `{error, error_description}` bodies), `retry_after`
    (seconds, from a Retry-After header, else None), `url` (the URL called, without query),
    and `request_sent`, always True: the server answered, so it received the request (which is
    why a 500 / 502 / 504 is never retried).
    """

    #: The server answered, so the request reached it.
    request_sent = True

    def __init__(
        self,
        *,
        status: int,
        reason: Optional[str] = None,
        headers: Optional[Mapping[str, str]] = None,
        body: Optional[str] = None,
        data: Any = None,
        error: Optional[str] = None,
        error_description: Optional[str] = None,
        retry_after: Optional[float] = None,
        summary: str = "",
        url: Optional[str] = None,
    ) -> None:
        if body is not None and len(body) > MAX_BODY_CHARS:
            body = body[:MAX_BODY_CHARS]
        super().__init__(status=status, reason=reason, body=body, data=data)
        self.headers = headers
        self.code: Optional[int] = getattr(data, "code", None)
        self.message: Optional[str] = getattr(data, "message", None)
        self.error = error
        self.error_description = error_description
        self.retry_after = retry_after
        self._summary = _shorten(summary) or ""
        self.url = url

    @property
    def is_invalid_grant(self) -> bool:
        """True when the server rejected the code or refresh token itself."""
        return self.code == INVALID_GRANT_CODE or self.error == "invalid_grant"

    def __str__(self) -> str:
        text = f"HTTP {self.status}"
        if self.reason:
            text += f" {_shorten(str(self.reason), 100)}"
        return f"{text}: {self._summary}" if self._summary else text

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    def __reduce__(self) -> Any:
        state = dict(
            status=self.status, reason=self.reason, body=self.body, data=self.data,
            error=self.error, error_description=self.error_description,
            retry_after=self.retry_after, summary=self._summary,
            url=self.url,
            headers=self.headers,  # urllib3's HTTPHeaderDict pickles: lookups stay case-insensitive
        )
        return (_rebuild, (type(self), state))


def _rebuild(cls: type, kwargs: dict[str, Any]) -> Any:
    return cls(**kwargs)


class BadRequestError(PinterestApiError, BadRequestException):
    """400: the request was malformed (missing field, bad redirect_uri, invalid grant...)."""


class UnauthorizedError(PinterestApiError, UnauthorizedException):
    """401: bad client credentials, or (code 283) an invalid authorization grant."""


class ForbiddenError(PinterestApiError, ForbiddenException):
    """403: the app may not do this."""


#: Where Pinterest's API lives; the token operation is `POST {PINTEREST_HOST}/oauth/token`.
PINTEREST_HOST = "https://api.pinterest.com/v5"


class NotFoundError(PinterestApiError, NotFoundException):
    """404: wrong host or path. The text names the URL called and, when that URL does not end
    in /v5/oauth/token, says what the host should be."""

    def __str__(self) -> str:
        text = super().__str__()
        if not self.url:
            return text
        text += f" (POST {self.url})"
        if not self.url.rstrip("/").endswith("/v5/oauth/token"):
            text += (f"; the host should be {PINTEREST_HOST} (the package adds /oauth/token): "
                     f"Configuration.for_app(..., host=...) or TokenSession(..., host=...)")
        return text


class RateLimitError(PinterestApiError):
    """429: rate limited. `retry_after` is the server's Retry-After in seconds, if sent."""


class ServerError(PinterestApiError, ServiceException):
    """5xx: the server failed; except for 503, the request may have been processed."""


class UnexpectedStatusError(PinterestApiError):
    """Any other non-2xx status (1xx, 3xx, 405, 409, ...). Redirects are never followed."""


class InvalidResponseError(OpenApiException):
    """A 2xx answer whose body is not a valid token response.

    `problem` says what was wrong (empty body, not JSON, truncated JSON, not an object,
    missing or mistyped fields, a body over `max_response_bytes`); `status` is the HTTP
    status. The body is never part of the text.
    """

    def __init__(self, problem: str, *, status: Optional[int] = None) -> None:
        problem = _shorten(problem) or ""
        super().__init__(f"invalid token response (HTTP {status}): {problem}")
        self.status = status
        self.problem = problem

    def __reduce__(self) -> Any:
        return (_rebuild_invalid, (type(self), self.problem, self.status))


def _rebuild_invalid(cls: type, problem: str, status: Optional[int]) -> Any:
    return cls(problem, status=status)


class TransportError(OpenApiException):
    """The HTTP exchange itself failed.

    `request_sent` is False when the request certainly never reached the server (it may have
    been retried), True when it may have: then it is never sent again, because an
    authorization code is single-use and a refresh may already have rotated the refresh token.
    """

    def __init__(self, message: str, *, request_sent: bool) -> None:
        super().__init__(message)
        self.request_sent = request_sent

    def __reduce__(self) -> Any:
        return (_rebuild_transport, (type(self), str(self), self.request_sent))


def _rebuild_transport(cls: type, message: str, request_sent: bool) -> Any:
    return cls(message, request_sent=request_sent)


class ConnectionFailedError(TransportError):
    """Could not connect, or the connection broke before a complete answer arrived."""


class RequestTimeoutError(TransportError):
    """The connect timeout (`request_sent` False), the read timeout or the call's total
    deadline expired (`request_sent` True once the request may have been sent)."""


class InsecureTransportError(ApiValueError):
    """Refused to send credentials over plain http to a host that is not loopback."""


STATUS_CLASSES: dict[int, type[PinterestApiError]] = {
    400: BadRequestError,
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    429: RateLimitError,
}


def error_class_for(status: int) -> type[PinterestApiError]:
    """The exception class for a non-2xx HTTP status."""
    if 500 <= status <= 599:
        return ServerError
    return STATUS_CLASSES.get(status, UnexpectedStatusError)
