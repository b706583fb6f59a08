"""Replace every secret in a recorded exchange by a stable placeholder, and prove none is left.

Pure functions over plain data (the recording document as dicts, lists and strings) and text;
nothing here touches the network or the disk. scripts/record.py uses them; the tests in
tests/test_record_scrub.py run them offline.

Secrets are found three ways, and each found value is then replaced everywhere (also in its
JSON-escaped and percent-encoded forms):
- known values the caller registers (app id and secret, code, refresh token, ...);
- by name: form fields / JSON keys such as `code`, `access_token`, `refresh_token` (also inside
  JSON text such as a body or a header value), headers such as Authorization and Cookie, and
  the credentials inside any `Basic ...` value;
- by shape: anything that looks like a Pinterest token, `pina_…`, `pinr_…`, `pinc_…`.

Placeholders keep the shape: `pina_REDACTED0001`, `pinr_REDACTED0001`, `pinc_REDACTED0001`,
`REDACTED_CODE`, `REDACTED_APP_ID`, `REDACTED_APP_SECRET`, and Authorization becomes the basic
header of `REDACTED_APP_ID:REDACTED_APP_SECRET`. The same value always gets the same placeholder
within one `Secrets`, so a refresh token returned by one exchange and sent by the next still match.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterator
from urllib.parse import quote, quote_plus, unquote, unquote_plus

#: JSON keys / form fields / call arguments whose string values are secrets (compared lower-case).
SECRET_NAMES = frozenset(
    {"code", "access_token", "refresh_token", "id_token", "client_secret", "app_secret", "password", "secret", "token"}
)
#: Headers whose values are secrets (compared lower-case).
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
#: Anything shaped like a Pinterest access / refresh / client token.
TOKEN_SHAPE = re.compile(r"(?<![A-Za-z0-9])pin[arc]_[A-Za-z0-9._~+/=%-]+")
PLACEHOLDER_TOKEN = re.compile(r"pin[arc]_REDACTED[0-9]{4}")
BASIC_VALUE = re.compile(r"Basic\s+([A-Za-z0-9+/=_-]+)")

PLACEHOLDER_APP_ID = "REDACTED_APP_ID"
PLACEHOLDER_APP_SECRET = "REDACTED_APP_SECRET"
PLACEHOLDER_BASIC_CREDENTIALS = base64.b64encode(f"{PLACEHOLDER_APP_ID}:{PLACEHOLDER_APP_SECRET}".encode()).decode()
PLACEHOLDER_AUTHORIZATION = "Basic " + PLACEHOLDER_BASIC_CREDENTIALS
PLACEHOLDER_HEADER = "REDACTED"
MIN_SECRET_LEN = 4  # a shorter value cannot be told apart from ordinary text

_PLAIN_PLACEHOLDER = re.compile(r"REDACTED(_[A-Z_]+?)?[0-9]*")
_ALNUM = "A-Za-z0-9"


class ScrubError(Exception):
    """A secret could not be scrubbed, or is still in the text. Messages never hold the value."""


def is_placeholder(value: str) -> bool:
    """True for the placeholders this module hands out."""
    return bool(
        PLACEHOLDER_TOKEN.fullmatch(value)
        or _PLAIN_PLACEHOLDER.fullmatch(value)
        or value in (PLACEHOLDER_BASIC_CREDENTIALS, PLACEHOLDER_AUTHORIZATION)
    )


def basic_credentials(token: str) -> tuple[str, str] | None:
    """(user, password) if `token` is base64 of UTF-8 `user:password`, else None."""
    try:
        decoded = base64.b64decode(token + "=" * (-len(token) % 4), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def encodings(value: str) -> set[str]:
    """The forms a value can take in recorded text: as is, JSON-escaped, percent-encoded."""
    forms = {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}
    forms |= {form.replace("/", "\\/") for form in list(forms)}
    for encoded in (quote(value, safe=""), quote(value), quote_plus(value, safe=""), quote_plus(value)):
        forms |= {encoded, re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), encoded)}
    return forms


@dataclass
class Secrets:
    """The secret values known so far, each with its placeholder."""

    placeholders: dict[str, str] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    _compiled: tuple[int, list[tuple[re.Pattern[str], str, str]]] = field(default=(-1, []), repr=False)

    def add(self, value: Any, kind: str = "secret") -> None:
        """Register `value` (a str; anything else is ignored) as a secret of `kind`.

        Kinds: app_id, app_secret, code, basic (base64 credentials), access_token, refresh_token,
        header, secret. A value shaped like a Pinterest token keeps its prefix whatever the kind.
        """
        if not isinstance(value, str) or not value or value in self.placeholders or is_placeholder(value):
            return
        if len(value) < MIN_SECRET_LEN:
            raise ScrubError(f"a {kind} value is shorter than {MIN_SECRET_LEN} characters: cannot scrub it safely")
        self.placeholders[value] = self._placeholder(value, kind)
        self.kinds[value] = kind
        if kind == "basic":
            self._add_credentials(value)

    def _placeholder(self, value: str, kind: str) -> str:
        if TOKEN_SHAPE.fullmatch(value):
            stem = value[:5] + "REDACTED"
            self.counters[stem] = self.counters.get(stem, 0) + 1
            return f"{stem}{self.counters[stem]:04d}"
        stem = {
            "app_id": PLACEHOLDER_APP_ID,
            "app_secret": PLACEHOLDER_APP_SECRET,
            "code": "REDACTED_CODE",
            "basic": PLACEHOLDER_BASIC_CREDENTIALS,
            "access_token": "REDACTED_ACCESS_TOKEN",
            "refresh_token": "REDACTED_REFRESH_TOKEN",
        }.get(kind, "REDACTED_SECRET")
        self.counters[stem] = self.counters.get(stem, 0) + 1
        if kind == "basic" or self.counters[stem] == 1:
            return stem
        return f"{stem}{self.counters[stem]}"

    def _add_credentials(self, token: str) -> None:
        credentials = basic_credentials(token)
        if credentials:
            self.add(credentials[0], "app_id")
            self.add(credentials[1], "app_secret")

    def patterns(self) -> list[tuple[re.Pattern[str], str, str]]:
        """(pattern, placeholder, kind) for every encoding of every secret, longest first.

        App ids (often short numbers) only match as whole words, so digits inside a larger
        number are left alone.
        """
        if self._compiled[0] == len(self.placeholders):
            return self._compiled[1]
        found = []
        for value, placeholder in self.placeholders.items():
            kind = self.kinds[value]
            for form in encodings(value):
                text = re.escape(form)
                if kind == "app_id":
                    text = f"(?<![{_ALNUM}]){text}(?![{_ALNUM}])"
                found.append((len(form), re.compile(text), placeholder, kind))
        found.sort(key=lambda item: -item[0])
        self._compiled = (len(self.placeholders), [(p, placeholder, kind) for _, p, placeholder, kind in found])
        return self._compiled[1]


def replace_secrets(text: str, secrets: Secrets) -> str:
    """`text` with every known secret (in any of its encodings) replaced by its placeholder."""
    for pattern, placeholder, _ in secrets.patterns():
        text = pattern.sub(placeholder, text)
    return text


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(key)
            yield from _strings(value)
    elif isinstance(node, (list, tuple)):
        for item in node:
            yield from _strings(item)


def _named_values(node: Any) -> Iterator[tuple[str, Any]]:
    """(name, value) for every mapping entry and every [name, value] pair, at any depth."""
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(key, str):
                yield key, value
            yield from _named_values(value)
    elif isinstance(node, (list, tuple)):
        if len(node) == 2 and isinstance(node[0], str):
            yield node[0], node[1]
        for item in node:
            yield from _named_values(item)
    elif isinstance(node, str) and node.lstrip()[:1] in ("{", "["):
        try:
            parsed = json.loads(node)
        except ValueError:
            return
        yield from _named_values(parsed)


def _kind_of(name: str) -> str:
    name = name.lower()
    return name if name in ("code", "access_token", "refresh_token") else "secret"


def discover(document: Any, secrets: Secrets) -> None:
    """Register every secret `document` holds: by name, in secret headers, in Basic values, by shape."""
    for name, value in _named_values(document):
        lowered = name.lower()
        if lowered in SECRET_NAMES and isinstance(value, str):
            secrets.add(value, _kind_of(lowered))
        elif lowered in SECRET_HEADERS and isinstance(value, str):
            match = BASIC_VALUE.fullmatch(value.strip())
            if match and basic_credentials(match.group(1)):
                secrets.add(match.group(1), "basic")
            else:
                secrets.add(value, "header")
    for text in _strings(document):
        for match in BASIC_VALUE.finditer(text):
            if basic_credentials(match.group(1)):
                secrets.add(match.group(1), "basic")
        for match in TOKEN_SHAPE.finditer(text):
            secrets.add(match.group(0), "token")


def _scrub_node(node: Any, secrets: Secrets) -> Any:
    if isinstance(node, str):
        return replace_secrets(node, secrets)
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            clean_key = _scrub_node(key, secrets)
            if isinstance(key, str) and key.lower() in SECRET_HEADERS and isinstance(value, str):
                out[clean_key] = _header_placeholder(value)
            else:
                out[clean_key] = _scrub_node(value, secrets)
        return out
    if isinstance(node, (list, tuple)):
        if len(node) == 2 and isinstance(node[0], str) and node[0].lower() in SECRET_HEADERS and isinstance(node[1], str):
            return [node[0], _header_placeholder(node[1])]
        return [_scrub_node(item, secrets) for item in node]
    return node


def _header_placeholder(value: str) -> str:
    return PLACEHOLDER_AUTHORIZATION if BASIC_VALUE.fullmatch(value.strip()) else PLACEHOLDER_HEADER


def scrub(document: Any, secrets: Secrets) -> Any:
    """A copy of `document` with every secret replaced. `secrets` learns the ones it finds."""
    discover(document, secrets)
    return _scrub_node(document, secrets)


def find_leaks(text: str, secrets: Secrets) -> list[str]:
    """What is still secret in `text`: known secrets (any encoding), token-shaped values that are
    not placeholders, Basic credentials that are not the placeholder ones. Names kinds, never values."""
    leaks = []
    for pattern, _, kind in secrets.patterns():
        if pattern.search(text):
            leaks.append(f"a known {kind} value")
    for match in TOKEN_SHAPE.finditer(text):
        if not PLACEHOLDER_TOKEN.fullmatch(match.group(0)):
            leaks.append(f"a {match.group(0)[:5]}… token")
    for match in BASIC_VALUE.finditer(text):
        if match.group(1) != PLACEHOLDER_BASIC_CREDENTIALS and basic_credentials(match.group(1)):
            leaks.append("Basic credentials")
    return sorted(set(leaks))


def _decoded_views(value: str) -> Iterator[str]:
    """`value`, percent-decoded, and every string inside it if it is JSON (however escaped)."""
    yield value
    yield unquote(value)
    yield unquote_plus(value)
    if value.lstrip()[:1] in ("{", "[", '"'):
        try:
            parsed = json.loads(value)
        except ValueError:
            return
        for inner in _strings(parsed):
            yield from _decoded_views(inner)


def assert_clean(text: str, secrets: Secrets, loaded: Any = None) -> None:
    """Raise ScrubError unless neither `text` nor any string of `loaded` (the text parsed back),
    percent-decoded or JSON-decoded, leaks."""
    leaks = find_leaks(text, secrets)
    for value in _strings(loaded):
        for view in _decoded_views(value):
            leaks += find_leaks(view, secrets)
    if leaks:
        raise ScrubError("refusing to write: the recording still holds " + ", ".join(sorted(set(leaks))))
