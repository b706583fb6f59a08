"""Sending the user to Pinterest's consent screen, and reading the redirect that comes back.

    url, state = authorization_url(client_id, "https://example.com/callback", "boards:read,pins:read")
    # redirect the user to `url`; keep `state` (e.g. in the user's session)
    ...
    # on https://example.com/callback?code=...&state=...:
    code = code_from_callback(request_url, expected_state=state)
    session.exchange_code(code, "https://example.com/callback")

`code_from_callback` refuses a callback whose `state` is not the one handed out (a forged or
replayed redirect: `StateMismatchError`) and one that reports an error, e.g. the user clicked
"Cancel" (`AuthorizationDeniedError`). Neither the code nor the state is ever part of an
exception text.
"""

from __future__ import annotations

import re
import secrets
from typing import Any, Iterable, Mapping, Optional, Union
from urllib.parse import parse_qsl, urlencode, urlsplit

from pinterest_oauth.exceptions import ApiTypeError, ApiValueError, OpenApiException

#: Pinterest's consent screen.
AUTHORIZE_URL = "https://www.pinterest.com/oauth/"

_SAFE_WORD = re.compile(r"[A-Za-z0-9_.\-]{1,64}")


class AuthorizationError(OpenApiException):
    """The redirect back from Pinterest does not carry a usable authorization code.

    `error` / `error_description` are what the callback said (None when it said nothing).
    """

    def __init__(self, message: str, *, error: Optional[str] = None,
                 error_description: Optional[str] = None) -> None:
        super().__init__(message)
        self.error = error
        self.error_description = error_description

    def __reduce__(self) -> Any:
        return (_rebuild, (type(self), str(self), self.error, self.error_description))


def _rebuild(cls: type, message: str, error: Optional[str], description: Optional[str]) -> Any:
    return cls(message, error=error, error_description=description)


class AuthorizationDeniedError(AuthorizationError):
    """The callback reports an error instead of a code (e.g. `access_denied`: the user declined)."""


class StateMismatchError(AuthorizationError):
    """The callback's `state` is missing or is not the one `authorization_url` handed out:
    the redirect was not started by this login (forged, replayed or from another attempt)."""


def authorization_url(
    client_id: str,
    redirect_uri: str,
    scope: Union[str, Iterable[str]],
    state: Optional[str] = None,
) -> tuple[str, str]:
    """Pinterest's consent-screen URL for this app, and the `state` it carries.

    :param client_id: the app id.
    :param redirect_uri: where Pinterest sends the user back; must be registered in the app's
        settings exactly as written here (and passed again to `exchange_code`).
    :param scope: comma-separated scopes ("boards:read,pins:read") or an iterable of scopes.
    :param state: the anti-forgery value to send; default a fresh random one (256 bits).
    :return: (url, state). Keep `state` and give it to `code_from_callback`.
    :raises ApiValueError, ApiTypeError: for a missing or malformed argument.
    """
    _require_str("client_id", client_id)
    _require_str("redirect_uri", redirect_uri)
    parts = urlsplit(redirect_uri)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ApiValueError("redirect_uri must be an absolute http(s) URL, e.g. http://localhost:8085/")
    if parts.fragment or redirect_uri.endswith("#"):
        raise ApiValueError("redirect_uri must not contain a fragment ('#')")
    if isinstance(scope, str):
        scopes = scope
    else:
        try:
            items = list(scope)
        except TypeError:
            raise ApiTypeError(f"scope must be a str or an iterable of str, got {type(scope).__name__}") from None
        if not all(isinstance(item, str) for item in items):
            raise ApiTypeError("scope must be a str or an iterable of str")
        scopes = ",".join(item.strip() for item in items)
    if not scopes.strip(", "):
        raise ApiValueError("scope must name at least one scope, e.g. 'boards:read,pins:read'")
    if state is None:
        state = secrets.token_urlsafe(32)
    else:
        _require_str("state", state)
    query = urlencode([
        ("client_id", client_id),
        ("redirect_uri", redirect_uri),
        ("response_type", "code"),
        ("scope", scopes),
        ("state", state),
    ])
    return f"{AUTHORIZE_URL}?{query}", state


def code_from_callback(
    callback: Union[str, Mapping[str, Any]],
    expected_state: str,
) -> str:
    """The authorization code from Pinterest's redirect, after checking `state` and `error`.

    :param callback: the URL the redirect arrived at (absolute, or path and query such as
        "/?code=...&state=..."), its query string, or its query parameters as a mapping
        (values `str`, or lists of one `str` as `parse_qs` gives).
    :param expected_state: the state `authorization_url` returned for this login.
    :return: the code, for `TokenSession.exchange_code` (use it at once: it expires quickly).
    :raises StateMismatchError: state missing or different (checked first, in constant time).
    :raises AuthorizationDeniedError: the callback carries `error=` (e.g. access_denied).
    :raises AuthorizationError: no code, or a parameter given twice.
    :raises ApiTypeError, ApiValueError: `callback` or `expected_state` of the wrong kind.
    """
    _require_str("expected_state", expected_state)
    params = _params(callback)
    state = params.get("state")
    error = params.get("error")
    if state is None or not secrets.compare_digest(state.encode("utf-8"), expected_state.encode("utf-8")):
        said = f" (it reports error={_shown(error)})" if error is not None else ""
        raise StateMismatchError(
            ("the callback has no state" if state is None else "the callback's state is not the one this login sent")
            + f"{said}: it was not started by this login; nothing was exchanged, start the login again",
            error=error,
        )
    if error is not None:
        description = params.get("error_description")
        detail = f": {_describe(description)}" if description else ""
        raise AuthorizationDeniedError(
            f"Pinterest did not authorize the app (error={_shown(error)}{detail}); "
            "nothing was exchanged, start the login again",
            error=error, error_description=description,
        )
    code = params.get("code")
    if not code:
        raise AuthorizationError("the callback carries neither a code nor an error")
    return code


def _params(callback: Union[str, Mapping[str, Any]]) -> dict[str, str]:
    """The callback's parameters; a parameter given more than once is refused."""
    pairs: list[tuple[str, str]] = []
    if isinstance(callback, str):
        query = urlsplit(callback).query if ("?" in callback or "://" in callback) else callback
        pairs = parse_qsl(query, keep_blank_values=True)
    elif isinstance(callback, Mapping):
        for key, value in callback.items():
            values = [value] if isinstance(value, str) else value
            if not isinstance(key, str) or not isinstance(values, (list, tuple)) or not all(
                isinstance(v, str) for v in values
            ):
                raise ApiTypeError("callback parameters must map str to str (or to a list of str)")
            pairs.extend((key, v) for v in values)
    else:
        raise ApiTypeError(f"callback must be a URL, a query string or a mapping, got {type(callback).__name__}")
    params: dict[str, str] = {}
    for key, value in pairs:
        if key in params:
            raise AuthorizationError(f"the callback carries {key!r} more than once; nothing was exchanged")
        params[key] = value
    return params


def _require_str(name: str, value: object) -> None:
    if not isinstance(value, str):
        raise ApiTypeError(f"{name} must be a str, got {type(value).__name__}")
    if not value.strip():
        raise ApiValueError(f"{name} must not be empty")


def _shown(value: Optional[str]) -> str:
    """An error word from the callback, shown only if it looks like one (it is attacker input)."""
    return value if value is not None and _SAFE_WORD.fullmatch(value) else "<unreadable>"


def _describe(text: str) -> str:
    """A callback's error_description, printable and bounded."""
    clean = "".join(ch if ch.isprintable() else " " for ch in text)
    return clean[:200] + ("..." if len(clean) > 200 else "")
