"""Hiding secrets: the client secret, the Authorization header, codes and tokens.

Three layers, used on error and debug paths only (nothing here runs on a successful call
with debug logging off):

- by name: form fields, JSON keys and headers known to carry secrets are masked;
- by value: free text (a server's error message, a logged body) has every secret value of the
  current call scrubbed, in plain and URL-encoded form, when it is at least
  `MIN_SCRUBBED_LENGTH` characters long (a shorter value, e.g. a test secret "b", would
  mangle ordinary words; structured fields are masked whole by name whatever their length);
- by shape: anything that looks like a Pinterest token (`pina_…`, `pinr_…`, `pinc_…`) is masked,
  even one the client has never seen.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable, Mapping, Optional
from urllib.parse import quote, quote_plus

#: Form fields and JSON keys whose string values are secrets.
SECRET_FIELDS = frozenset(
    {"code", "refresh_token", "access_token", "client_secret", "password", "id_token", "token"}
)
#: HTTP headers whose values are secrets (compared lower-case).
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
#: Pinterest token shapes: pina_ (access), pinr_ (refresh), pinc_ (client) and the like.
TOKEN_PATTERN = re.compile(r"pin[a-z]_[A-Za-z0-9._~+/=-]+")

MASK = "<redacted>"
#: Secret values shorter than this are not replaced inside free text (see the module docstring).
MIN_SCRUBBED_LENGTH = 8
MAX_LOGGED_BODY = 2000  # characters of a (redacted) body in a debug log line


def is_secret_key(key: str) -> bool:
    """True for a JSON key / form field whose value must not be shown."""
    lowered = key.lower()
    return lowered in SECRET_FIELDS or lowered.endswith(("_token", "_secret"))


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Return a copy of `headers` with secret-bearing values masked."""
    return {k: (MASK if k.lower() in SECRET_HEADERS else v) for k, v in headers.items()}


def redact_fields(fields: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Return form fields with secret values masked (names kept, so logs stay useful)."""
    return [(k, MASK if is_secret_key(k) else v) for k, v in fields]


def redact_body_text(text: str, secrets: Iterable[Optional[str]] = ()) -> str:
    """A body as it may be logged: secret JSON keys masked, known secrets and token shapes
    scrubbed; a body that is not JSON is described, not shown."""
    try:
        doc = json.loads(text)
        shown = json.dumps(_redact_obj(doc), ensure_ascii=False)
    except (ValueError, RecursionError):
        return f"<{len(text)} characters, not JSON>"
    if len(shown) > MAX_LOGGED_BODY:
        shown = shown[:MAX_LOGGED_BODY] + f"…<{len(shown) - MAX_LOGGED_BODY} more characters>"
    return scrub(shown, secrets)


#: Kept for callers of the first version.
redact_json_text = redact_body_text


def _redact_obj(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {
            k: (MASK if is_secret_key(k) and not _harmless(v) else _redact_obj(v))
            for k, v in obj.items()
        }
    if isinstance(obj, list):
        return [_redact_obj(v) for v in obj]
    return obj


def _harmless(value: Any) -> bool:
    """Numbers, booleans and null are not secrets (e.g. the integer `code` of an error body)."""
    return value is None or isinstance(value, (bool, int, float))


def scrub(text: str, secrets: Iterable[Optional[str]] = ()) -> str:
    """Replace every known secret value (plain or URL-encoded) and every token-shaped word."""
    forms = {form for s in secrets if s and len(s) >= MIN_SCRUBBED_LENGTH
             for form in (s, quote_plus(s), quote(s, safe=""))}
    for form in sorted(forms, key=len, reverse=True):  # longest first: one may contain another
        if form in text:
            text = text.replace(form, MASK)
    return TOKEN_PATTERN.sub(MASK, text)

