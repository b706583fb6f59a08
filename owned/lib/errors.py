"""The exception family of `OauthApi.oauth_token`.

Every failure is a subclass of the generated `pinterest_oauth.exceptions.OpenApiException`,
so `except OpenApiException` catches them all; no json, pydantic, urllib3 or socket error
escapes. HTTP errors also subclass the generated `ApiException` (and its per-status classes),
so code written against the plain generated client keeps working.

Exception texts never contain the client secret, the Authorization header, codes or tokens.
"""

from __future__ import annotations

from typing import Any, Mapping

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


class PinterestApiError(ApiException):
    """The server answered with a non-2xx status.

    Attributes: `status`, `reason`, `headers`, `body` (raw text), `data` (the parsed
    `Error` model for `{code, message}` bodies, else None), `code` / `message` (from
    `{code, message}` bodies), `error` / `error_description` (from RFC 6749 bodies).
    """

    def __init__(
        self,
        *,
        status: int,
        reason: str | None,
        headers: Mapping[str, str] | None,
        body: str | None,
        data: Any = None,
        error: str | None = None,
        error_description: str | None = None,
        summary: str = "",
    ) -> None:
        super().__init__(status=status, reason=reason, body=body, data=data)
        self.headers = headers
        self.code: int | None = getattr(data, "code", None)
        self.message: str | None = getattr(data, "message", None)
        self.error = error
        self.error_description = error_description
        self._summary = summary

    @property
    def is_invalid_grant(self) -> bool:
        """True when the server rejected the code or refresh token itself."""
        return self.code == INVALID_GRANT_CODE or self.error == "invalid_grant"

    def __str__(self) -> str:
        text = f"HTTP {self.status}"
        if self.reason:
            text += f" {self.reason}"
        return f"{text}: {self._summary}" if self._summary else text

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class BadRequestError(PinterestApiError, BadRequestException):
    """400: the request was malformed (missing field, bad redirect_uri, invalid grant...)."""


class UnauthorizedError(PinterestApiError, UnauthorizedException):
    """401: bad client credentials, or (code 283) an invalid authorization grant."""


class ForbiddenError(PinterestApiError, ForbiddenException):
    """403: the app may not do this."""


class NotFoundError(PinterestApiError, NotFoundException):
    """404: wrong host or path."""


class RateLimitError(PinterestApiError):
    """429: rate limited. `retry_after` is the server's Retry-After in seconds, if sent."""

    def __init__(self, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.retry_after = retry_after


class ServerError(PinterestApiError, ServiceException):
    """5xx: the server failed; the request may or may not have been processed."""


class UnexpectedStatusError(PinterestApiError):
    """Any other non-2xx status (3xx, 405, 409, ...)."""


class InvalidResponseError(OpenApiException):
    """A 2xx answer whose body is not a valid token response (not JSON, truncated, wrong types...).

    `status` and `problem` (what was wrong) are set; the body itself is never part of the text.
    """

    def __init__(self, problem: str, *, status: int | None = None) -> None:
        super().__init__(f"invalid token response (HTTP {status}): {problem}")
        self.status = status
        self.problem = problem


class TransportError(OpenApiException):
    """The HTTP exchange itself failed. `request_sent` says whether the request may have
    reached the server (then it was not retried: a code or refresh token may be used up)."""

    def __init__(self, message: str, *, request_sent: bool) -> None:
        super().__init__(message)
        self.request_sent = request_sent


class ConnectionFailedError(TransportError):
    """Could not connect, or the connection broke before a complete answer arrived."""


class RequestTimeoutError(TransportError):
    """The connect or read timeout expired."""


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
