"""The contract check is sensitive: change any single wire detail or parsed field of a
recording and its replay fails.

Each case takes a real recording, changes one thing in what it expects (a form value, a field
added, dropped or reordered, a header, one parsed attribute's value or type, the exception
class or one of its fields, the request count) and asserts that `check_replay` rejects it.
The unchanged recording must pass first, so a failure really comes from the change.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any, Callable

import pytest

from test_contract import RECORDINGS, Recording, check_replay, load_recording

Mutation = Callable[[Recording], Recording]


def _form(change: Callable[[list[tuple[str, str]]], list[tuple[str, str]]]) -> Mutation:
    return lambda rec: dataclasses.replace(rec, form=change(list(rec.form)))


def _header(name: str, value: str) -> Mutation:
    return lambda rec: dataclasses.replace(rec, headers={**rec.headers, name: value})


def _expect(section: str, key: str, value: Any) -> Mutation:
    def mutate(rec: Recording) -> Recording:
        expect = copy.deepcopy(rec.expect)
        expect[section][key] = value
        return dataclasses.replace(rec, expect=expect)
    return mutate


def _requests(n: int) -> Mutation:
    return lambda rec: dataclasses.replace(rec, expect={**rec.expect, "requests": n})


def _replace_value(index: int, value: str) -> Callable[[list[tuple[str, str]]], list[tuple[str, str]]]:
    return lambda form: form[:index] + [(form[index][0], value)] + form[index + 1:]


SUCCESS = "authorization_code_continuous_refresh"
SUCCESS_MUTATIONS: dict[str, Mutation] = {
    "grant_type value": _form(_replace_value(0, "refresh_token")),
    "code value": _form(_replace_value(1, "TESTCODE0003")),
    "redirect_uri one character": _form(_replace_value(2, "https://app.example.com/oauth/callback")),
    "boolean spelling": _form(_replace_value(3, "True")),
    "field dropped": _form(lambda f: f[:-1]),
    "extra field": _form(lambda f: f + [("scope", "boards:read")]),
    "fields reordered": _form(lambda f: [f[1], f[0]] + f[2:]),
    "Accept header": _header("Accept", "application/json; charset=utf-8"),
    "Content-Type header": _header("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
    "access_token": _expect("result", "access_token", "pina_TESTACCESS0003"),
    "refresh_token": _expect("result", "refresh_token", None),
    "expires_in value": _expect("result", "expires_in", 2592001),
    "expires_in type": _expect("result", "expires_in", "2592000"),
    "refresh_token_expires_in": _expect("result", "refresh_token_expires_in", 31536000),
    "refresh_token_expires_at": _expect("result", "refresh_token_expires_at", None),
    "scope": _expect("result", "scope", "boards:read"),
    "token_type": _expect("result", "token_type", "Bearer"),
    "response_type": _expect("result", "response_type", "refresh_token"),
    "additional_properties": _expect("result", "additional_properties", {"x": 1}),
    "request count": _requests(2),
}

ERROR = "error_429_retry_after"
ERROR_MUTATIONS: dict[str, Mutation] = {
    "exception class": _expect("error", "class", "ServerError"),
    "status": _expect("error", "status", 503),
    "code value": _expect("error", "code", 9),
    "code type": _expect("error", "code", 8.0),
    "message": _expect("error", "message", "Rate limit exceeded."),
    "retry_after value": _expect("error", "retry_after", 31.0),
    "retry_after type": _expect("error", "retry_after", 30),
    "is_invalid_grant": _expect("error", "is_invalid_grant", True),
    "refresh_token sent": _form(_replace_value(1, "pinr_TESTREFRESH0430")),
}


@pytest.mark.parametrize("name", [SUCCESS, ERROR])
def test_the_unchanged_recordings_pass(name: str) -> None:
    check_replay(load_recording(RECORDINGS / f"{name}.yaml"))


@pytest.mark.parametrize("what", sorted(SUCCESS_MUTATIONS))
def test_a_changed_success_detail_fails(what: str) -> None:
    rec = SUCCESS_MUTATIONS[what](load_recording(RECORDINGS / f"{SUCCESS}.yaml"))
    with pytest.raises(AssertionError):
        check_replay(rec)


@pytest.mark.parametrize("what", sorted(ERROR_MUTATIONS))
def test_a_changed_error_detail_fails(what: str) -> None:
    rec = ERROR_MUTATIONS[what](load_recording(RECORDINGS / f"{ERROR}.yaml"))
    with pytest.raises(AssertionError):
        check_replay(rec)
