"""`Token`: a token response pinned to absolute times, ready to be stored and reloaded.

The server says how long a token lives (`expires_in`, seconds); a `Token` turns that into
`expires_at` (Unix seconds) counted from the moment the request was *sent*, so network and
server time only ever make the token look shorter-lived than it is, never longer.
`refresh_token_expires_at` is the server's value when it sends one, else computed the same way
from `refresh_token_expires_in`.

`repr()` and `str()` never show a token; read one explicitly with `.get_secret_value()`.
`to_dict()` / `from_dict()` and `to_json()` / `from_json()` convert to and from a JSON-able dict
or string with secrets in clear (that is what a token store persists), losing nothing:
`Token.from_dict(t.to_dict()) == t` and `Token.from_json(t.to_json()) == t`.
"""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any, Mapping, Optional

from pydantic import SecretStr

from pinterest_oauth.lib.redact import MASK, SECRET_FIELDS
from pinterest_oauth.models.oauth_access_token_response import OauthAccessTokenResponse

#: Version of the `to_dict()` layout; `from_dict()` refuses others.
FORMAT_VERSION = 1

_REQUIRED = ("access_token", "token_type", "scope", "expires_in", "expires_at", "obtained_at")


@dataclasses.dataclass(frozen=True, eq=True, repr=False)
class Token:
    """One access token (and refresh token, if any) with absolute expiry times.

    Times are Unix seconds (float). `obtained_at` is when the request that produced the token
    was sent; `expires_at = obtained_at + expires_in`.
    """

    access_token: SecretStr
    token_type: str
    scope: str
    expires_in: int
    expires_at: float
    obtained_at: float
    refresh_token: Optional[SecretStr] = None
    refresh_token_expires_in: Optional[int] = None
    refresh_token_expires_at: Optional[float] = None
    response_type: Optional[str] = None
    additional_properties: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "additional_properties", MappingProxyType(dict(self.additional_properties)))

    @classmethod
    def from_response(
        cls,
        response: OauthAccessTokenResponse,
        *,
        sent_at: float,
        previous: Optional["Token"] = None,
    ) -> "Token":
        """Build a Token from a token response and the time its request was sent.

        When the response carries no refresh token (a refresh that does not rotate), the
        refresh token and its expiry are carried over from `previous`.
        """
        refresh = response.refresh_token
        refresh_in = response.refresh_token_expires_in
        refresh_at: Optional[float]
        if refresh is not None:
            if response.refresh_token_expires_at is not None:
                refresh_at = float(response.refresh_token_expires_at)
            elif refresh_in is not None:
                refresh_at = sent_at + refresh_in
            else:
                refresh_at = None
        elif previous is not None:
            refresh = previous.refresh_token
            refresh_in = previous.refresh_token_expires_in
            refresh_at = previous.refresh_token_expires_at
        else:
            refresh_at = None
        return cls(
            access_token=response.access_token,
            token_type=response.token_type,
            scope=response.scope,
            expires_in=response.expires_in,
            expires_at=sent_at + response.expires_in,
            obtained_at=sent_at,
            refresh_token=refresh,
            refresh_token_expires_in=refresh_in,
            refresh_token_expires_at=refresh_at,
            response_type=response.response_type,
            additional_properties=_extras(response),
        )

    def is_valid(self, now: float, margin: float = 0.0) -> bool:
        """True while the access token has more than `margin` seconds left at time `now`."""
        return now < self.expires_at - margin

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict with every field, secrets in clear (for token stores)."""
        return {
            "version": FORMAT_VERSION,
            "access_token": self.access_token.get_secret_value(),
            "token_type": self.token_type,
            "scope": self.scope,
            "expires_in": self.expires_in,
            "expires_at": self.expires_at,
            "obtained_at": self.obtained_at,
            "refresh_token": self.refresh_token.get_secret_value() if self.refresh_token is not None else None,
            "refresh_token_expires_in": self.refresh_token_expires_in,
            "refresh_token_expires_at": self.refresh_token_expires_at,
            "response_type": self.response_type,
            "additional_properties": dict(self.additional_properties),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Token":
        """Rebuild a Token from `to_dict()` output. Raises ValueError naming the bad field
        (never its value) when the data is incomplete or mistyped."""
        if not isinstance(data, Mapping):
            raise ValueError(f"expected a JSON object, got {type(data).__name__}")
        if data.get("version") != FORMAT_VERSION:
            raise ValueError(f"unsupported token format version (expected {FORMAT_VERSION})")
        missing = [name for name in _REQUIRED if data.get(name) is None]
        if missing:
            raise ValueError(f"missing field(s): {', '.join(missing)}")
        extra = data.get("additional_properties") or {}
        if not isinstance(extra, Mapping):
            raise ValueError("additional_properties: expected an object")
        refresh = _opt_str(data, "refresh_token")
        return cls(
            access_token=SecretStr(_str(data, "access_token")),
            token_type=_str(data, "token_type"),
            scope=_str(data, "scope"),
            expires_in=_int(data, "expires_in"),
            expires_at=_time(data, "expires_at"),
            obtained_at=_time(data, "obtained_at"),
            refresh_token=SecretStr(refresh) if refresh is not None else None,
            refresh_token_expires_in=_opt_int(data, "refresh_token_expires_in"),
            refresh_token_expires_at=_opt_time(data, "refresh_token_expires_at"),
            response_type=_opt_str(data, "response_type"),
            additional_properties=dict(extra),
        )

    def to_json(self) -> str:
        """`to_dict()` as a JSON string, secrets in clear (what `FileTokenStore` writes)."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Token":
        """Rebuild a Token from `to_json()` output; ValueError naming the problem otherwise."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"not JSON ({type(exc).__name__} at position {getattr(exc, 'pos', '?')})") from None
        return cls.from_dict(data)

    def __repr__(self) -> str:
        extra = {k: (MASK if k in SECRET_FIELDS else v) for k, v in self.additional_properties.items()}
        return (
            f"Token(access_token={MASK}, token_type={self.token_type!r}, scope={self.scope!r}, "
            f"expires_at={_iso(self.expires_at)}, "
            f"refresh_token={MASK if self.refresh_token is not None else None}, "
            f"refresh_token_expires_at={_iso(self.refresh_token_expires_at)}, "
            f"response_type={self.response_type!r}, additional_properties={extra!r})"
        )

    __str__ = __repr__

    def __reduce__(self) -> Any:
        """Pickle (and copy) through the constructor: the read-only mapping does not pickle."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        fields["additional_properties"] = dict(self.additional_properties)
        return (_rebuild, (type(self), fields))


def _rebuild(cls: type[Token], fields: dict[str, Any]) -> Token:
    return cls(**fields)


def _iso(ts: Optional[float]) -> str:
    if ts is None:
        return "None"
    try:
        return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="seconds")
    except (OverflowError, OSError, ValueError):
        return repr(ts)


def _str(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str):
        raise ValueError(f"{name}: expected a string")
    return value


def _opt_str(data: Mapping[str, Any], name: str) -> Optional[str]:
    return None if data.get(name) is None else _str(data, name)


def _int(data: Mapping[str, Any], name: str) -> int:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name}: expected an integer")
    return value


def _opt_int(data: Mapping[str, Any], name: str) -> Optional[int]:
    return None if data.get(name) is None else _int(data, name)


def _time(data: Mapping[str, Any], name: str) -> float:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name}: expected a number of seconds")
    return float(value)


def _opt_time(data: Mapping[str, Any], name: str) -> Optional[float]:
    return None if data.get(name) is None else _time(data, name)


def _extras(response: OauthAccessTokenResponse) -> dict[str, Any]:
    """The response's unknown fields plus every model field `Token` has no attribute for (a field
    a newer spec added), so that regenerating the model never makes a `Token` drop a value."""
    own = {f.name for f in dataclasses.fields(Token)}
    extras = dict(response.additional_properties)
    for name in type(response).model_fields:
        value = getattr(response, name)
        if name in own or name == "additional_properties" or value is None:
            continue
        extras[name] = value.get_secret_value() if isinstance(value, SecretStr) else value
    return extras
