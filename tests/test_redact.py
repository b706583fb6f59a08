"""`pinterest_oauth.lib.redact` on its own: what a debug log or an error text may show."""

from __future__ import annotations

import json

import pytest

from pinterest_oauth.lib.redact import (
    MASK, MAX_LOGGED_BODY, is_secret_key, redact_body_text, redact_fields, redact_headers, scrub,
)


@pytest.mark.parametrize(("key", "secret"), [
    ("access_token", True), ("Refresh_Token", True), ("client_secret", True), ("code", True), ("password", True),
    ("id_token", True), ("token", True), ("my_token", True), ("app_secret", True), ("scope", False),
    ("expires_in", False), ("token_type", False), ("secretive", False), ("message", False),
])
def test_secret_keys(key: str, secret: bool) -> None:
    assert is_secret_key(key) is secret


def test_headers_and_fields_keep_their_names_and_lose_secret_values() -> None:
    headers = {"Authorization": "Basic eHg6eXk=", "proxy-authorization": "x", "Cookie": "a=1", "Set-Cookie": "b=2",
               "Content-Type": "application/json"}
    assert redact_headers(headers) == {"Authorization": MASK, "proxy-authorization": MASK, "Cookie": MASK,
                                       "Set-Cookie": MASK, "Content-Type": "application/json"}
    fields = [("grant_type", "refresh_token"), ("refresh_token", "opaque"), ("code", "c"), ("scope", "pins:read")]
    assert redact_fields(fields) == [("grant_type", "refresh_token"), ("refresh_token", MASK), ("code", MASK),
                                     ("scope", "pins:read")]


def test_secret_keys_are_masked_at_any_depth_whatever_their_value_looks_like() -> None:
    body = {"access_token": "opaque-1", "nested": {"refresh_token": "opaque-2", "list": [{"id_token": "opaque-3"}]},
            "code": 283, "message": "Authentication failed.", "token": None, "app_secret": True, "scope": "a,b"}
    shown = json.loads(redact_body_text(json.dumps(body)))
    assert shown == {"access_token": MASK, "nested": {"refresh_token": MASK, "list": [{"id_token": MASK}]},
                     "code": 283, "message": "Authentication failed.", "token": None, "app_secret": True,
                     "scope": "a,b"}  # numbers, booleans and null are not secrets


def test_a_logged_body_keeps_non_ascii_text_readable() -> None:
    assert redact_body_text(json.dumps({"message": "Zugriff verweigert für Päss"})) == \
        '{"message": "Zugriff verweigert für Päss"}'


def test_a_body_that_is_not_json_is_described_not_shown() -> None:
    assert redact_body_text("<html>pina_x</html>") == "<19 characters, not JSON>"
    assert redact_body_text("[" * 100_000) == "<100000 characters, not JSON>"


def test_long_bodies_are_cut_at_the_limit_and_say_how_much_is_left() -> None:
    def body_of(length: int) -> str:
        text = json.dumps({"m": ""})
        return json.dumps({"m": "x" * (length - len(text))})

    exact = body_of(MAX_LOGGED_BODY)
    assert len(exact) == MAX_LOGGED_BODY
    assert redact_body_text(exact) == exact  # at the limit: whole
    longer = body_of(MAX_LOGGED_BODY + 7)
    assert redact_body_text(longer) == longer[:MAX_LOGGED_BODY] + "…<7 more characters>"
    assert MAX_LOGGED_BODY == 2000


def test_scrub_replaces_known_values_in_every_encoding_longest_first() -> None:
    secret = "s3cr:t+Päss/wörd=="
    text = f"plain {secret} form s3cr%3At%2BP%C3%A4ss%2Fw%C3%B6rd%3D%3D path s3cr%3At%2BP%C3%A4ss%2Fw%C3%B6rd%3D%3D"
    assert scrub(text, [secret]) == f"plain {MASK} form {MASK} path {MASK}"
    # One secret inside another: the longer goes first, so no tail of it is left behind.
    assert scrub("id=abcdefgh12.", ["abcdefgh", "abcdefgh12", None, ""]) == f"id={MASK}."
    assert scrub("id=abcdefgh12.", ["abcdefgh12", "abcdefgh"]) == f"id={MASK}."
    # Values shorter than MIN_SCRUBBED_LENGTH are not searched for in free text (they would
    # mangle ordinary words); secret fields are still masked whole by name.
    assert scrub("id=abcdef.", ["abcdef"]) == "id=abcdef."
    # The boundary: 8 characters (MIN_SCRUBBED_LENGTH) are scrubbed, 7 are not.
    assert scrub("id=abcdefgh.", ["abcdefgh"]) == f"id={MASK}."
    assert scrub("id=abcdefg.", ["abcdefg"]) == "id=abcdefg."


def test_scrub_masks_token_shapes_it_was_never_told_about() -> None:
    assert scrub("got pina_AbC.d-e~f+g/h= and pinr_x then pinc_1 but not pin_x or pinterest") == \
        f"got {MASK} and {MASK} then {MASK} but not pin_x or pinterest"
