"""Turning an answer into the operation's model or into the package's exception.

`parse_success` parses a 2xx JSON body into the model the spec gives the status (the
generated `from_dict`), describing what was wrong (empty, not JSON, truncated, not an
object, missing or mistyped fields) without ever quoting a value; `http_error` builds the
exception for a non-2xx answer, parsing the spec's error model (Pinterest's `{code,
message}`) and RFC 6749 `{error, error_description}` bodies. Texts are scrubbed of the
call's secrets.
"""

from __future__ import annotations

import json
from typing import Any, Optional, Sequence, Union

from pydantic import ValidationError

from pinterest_oauth.lib import errors, redact, transport

def _describe_type(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number"
    )


def parse_success(answer: transport.Exchange, model: Any, secrets: Sequence[Optional[str]]) -> Any:
    """Parse a 2xx body into `model` (None: no body expected), or raise InvalidResponseError.

    Raised outside any `except` block so pydantic's error (which quotes input values, i.e.
    tokens) is not even kept as the exception's context.
    """
    if model is None:
        return None
    obj = _body_problem(answer.data, answer.headers)
    problem = obj if isinstance(obj, str) else None
    token = None
    if problem is None:
        try:
            token = model.from_dict(obj)
        except ValidationError as exc:
            problem = "; ".join(
                _field_problem(obj, e["loc"], e["msg"])  # type: ignore[arg-type]
                for e in exc.errors(include_url=False, include_input=False, include_context=False)
            )
    if token is None:
        raise errors.InvalidResponseError(redact.scrub(problem or "no token", secrets),
                                          status=answer.status)
    return token


def _field_problem(obj: dict[str, Any], loc: tuple[Any, ...], msg: str) -> str:
    """One pydantic error, without the input value (which may be a token)."""
    name = ".".join(map(str, loc)) or "body"
    if loc and obj.get(loc[0]) is None:  # the generated from_dict turns absent into None
        return f"missing required field {name}"
    return f"{name}: {msg}"


def _body_problem(data: bytes, headers: Any) -> Union[str, dict[str, Any]]:
    """The parsed JSON object, or a description of why the body is not one."""
    ctype = headers.get("Content-Type") or "no Content-Type"
    if not data.strip():
        return f"empty body ({ctype})"
    try:
        obj = json.loads(data)
    except ValueError as exc:
        pos = getattr(exc, "pos", None)  # a character index into the decoded body
        msg = getattr(exc, "msg", None) or type(exc).__name__
        # Truncated: an object or array whose parse failed on its last character or past it
        # (not "Extra data": that is a complete value followed by more).
        end = len(data.decode("utf-8", "replace").rstrip())
        if data.lstrip()[:1] in (b"{", b"[") and pos is not None and msg != "Extra data" and (
            pos >= end - 1 or msg.startswith("Unterminated string")
        ):
            return f"truncated JSON: the body ends after {len(data)} bytes ({msg}: char {pos})"
        where = f": char {pos}" if pos is not None else ""
        return f"not JSON ({msg}{where}; {ctype}, {len(data)} bytes)"
    except RecursionError:
        return f"JSON nested too deeply ({len(data)} bytes)"
    if not isinstance(obj, dict):
        return f"expected a JSON object, got {_describe_type(obj)}"
    return obj


def http_error(answer: transport.Exchange, model: Any, secrets: Sequence[Optional[str]]) -> errors.PinterestApiError:
    """Build the exception for a non-2xx answer, parsing `model` (the spec's error body) or an
    RFC 6749 body."""
    status = answer.status
    text = answer.data.decode("utf-8", "replace")
    data = error = description = None
    summary = ""
    try:
        obj = json.loads(text) if text.strip() else None
    except (ValueError, RecursionError):
        obj = None
    if isinstance(obj, dict):
        if model is not None:
            try:
                data = model.from_dict(obj)
            except ValidationError:
                data = None
        if data is not None:
            summary = _error_summary(data)
        if isinstance(obj.get("error"), str):
            error = obj["error"]
            raw = obj.get("error_description")
            description = raw if isinstance(raw, str) else None
            rfc = f"{error}: {description}" if description else error
            summary = f"{summary}; {rfc}" if summary else rfc
        if not summary:
            summary = f"JSON body without code/message or error ({len(text)} characters)"
    elif text.strip():
        ctype = answer.headers.get("Content-Type") or "no Content-Type"
        summary = f"non-JSON body ({len(answer.data)} bytes, {ctype})"
    cls = errors.error_class_for(status)
    retry_after = None
    if status == 429 or status == 503:
        retry_after = transport.parse_retry_after(answer.headers.get("Retry-After"))
    return cls(
        status=status,
        reason=redact.scrub(answer.reason, secrets) if answer.reason else None,
        headers=answer.headers,
        body=text,
        data=data,
        error=error,
        error_description=description,
        retry_after=retry_after,
        summary=redact.scrub(summary, secrets),
    )


def _error_summary(data: Any) -> str:
    """`code N: message` for Pinterest's error model; the model's fields otherwise."""
    code, message = getattr(data, "code", None), getattr(data, "message", None)
    if code is not None and message is not None:
        return f"code {code}: {message}"
    fields = data.to_dict() if hasattr(data, "to_dict") else {}
    return ", ".join(f"{k}={v}" for k, v in fields.items() if not redact.is_secret_key(k))
