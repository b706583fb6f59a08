"""The error summary for a spec whose error body is not Pinterest's `{code, message}`: the
generated client passes whatever error model the spec declares, and the summary lists its
fields, secret ones left out."""

from __future__ import annotations

import json
from typing import Any

from urllib3 import HTTPHeaderDict

from pinterest_oauth import BadRequestError
from pinterest_oauth.lib import responses, transport


class _Parsed:
    """What a generated model's from_dict returns: attributes, and to_dict()."""

    def __init__(self, fields: dict[str, Any]) -> None:
        self.__dict__.update(fields)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class OtherErrorModel:
    @staticmethod
    def from_dict(obj: dict[str, Any]) -> _Parsed:
        return _Parsed(obj)


def answer(body: dict[str, Any]) -> transport.Exchange:
    return transport.Exchange(400, "Bad Request", HTTPHeaderDict({"Content-Type": "application/json"}),
                              json.dumps(body).encode())


def test_a_code_without_a_message_lists_the_fields_without_secrets() -> None:
    exc = responses.http_error(answer({"code": 7, "detail": "quota", "client_secret": "zzz-not-shown"}),
                               OtherErrorModel, secrets=[])
    assert isinstance(exc, BadRequestError)
    assert str(exc) == "HTTP 400 Bad Request: detail=quota"  # `code` is a secret form field's name too
    assert exc.data.detail == "quota" and exc.code == 7 and exc.message is None


def test_a_model_without_to_dict_gives_the_generic_summary() -> None:
    class Bare:
        @staticmethod
        def from_dict(obj: dict[str, Any]) -> object:
            return object()

    exc = responses.http_error(answer({"detail": "quota"}), Bare, secrets=[])
    assert str(exc) == "HTTP 400 Bad Request: JSON body without code/message or error (19 characters)"


def test_code_and_message_make_the_pinterest_summary() -> None:
    exc = responses.http_error(answer({"code": 7, "message": "slow down", "detail": "x"}), OtherErrorModel, secrets=[])
    assert str(exc) == "HTTP 400 Bad Request: code 7: slow down"
