"""Hiding secrets: the client secret, the Authorization header, codes and tokens.

A value is redacted by name (form fields, JSON keys, headers known to carry secrets) and,
for free text such as a server's error message, by scrubbing every secret value the
current call knows about.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Mapping

#: Form fields and JSON keys whose values are secrets.
SECRET_FIELDS = frozenset(
    {"code", "refresh_token", "access_token", "client_secret", "password", "id_token"}
)
#: HTTP headers whose values are secrets (compared lower-case).
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})

MASK = "<redacted>"
_MIN_SCRUB_LEN = 4  # shorter values would blank out ordinary words


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Return a copy of `headers` with secret-bearing values masked."""
    return {k: (MASK if k.lower() in SECRET_HEADERS else v) for k, v in headers.items()}


def redact_fields(fields: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Return form fields with secret values masked (names kept, so logs stay useful)."""
    return [(k, MASK if k in SECRET_FIELDS else v) for k, v in fields]


def redact_json_text(text: str) -> str:
    """Mask secret keys in a JSON document; text that is not a JSON object is masked whole."""
    try:
        doc = json.loads(text)
    except ValueError:
        return f"<{len(text)} characters, not JSON>"
    return json.dumps(_redact_obj(doc), ensure_ascii=False)


def _redact_obj(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: (MASK if k in SECRET_FIELDS else _redact_obj(v)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_redact_obj(v) for v in obj]
    return obj


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """Replace every occurrence of each known secret value in `text` with the mask."""
    for secret in secrets:
        if secret and len(secret) >= _MIN_SCRUB_LEN and secret in text:
            text = text.replace(secret, MASK)
    return text
