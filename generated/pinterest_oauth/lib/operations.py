"""What a generated operation hands to `ApiClient.call_operation`, and its argument checks.

The generated API modules (rendered from owned/api.mustache) describe each operation as an
`Operation` built from openapi.yaml: method, path, media types, security schemes, response
models and the conditional requirements recorded as `x-required-when`. They turn each
argument into a form value with the checks below, chosen by the parameter's type in the spec.
Nothing here knows any operation's fields: that knowledge is generated.
"""

from __future__ import annotations

import enum
import importlib
import math
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

from pydantic import SecretStr

from pinterest_oauth.exceptions import ApiTypeError, ApiValueError


@dataclass(frozen=True)
class Operation:
    """One operation of openapi.yaml, as the generated code describes it.

    `auth` lists (security scheme name, kind) pairs, kind "basic" or "bearer"; `responses`
    maps a status code (or "default") to the name of the model in `pinterest_oauth.models`
    for its JSON body (None: no body), imported on first use;
    `required_when` lists (parameter, property, value): the parameter must be sent when the
    form's `property` has `value`.
    """

    name: str
    method: str
    path: str
    content_type: Optional[str]
    accept: Optional[str]
    auth: tuple[tuple[str, str], ...]
    responses: Mapping[str, Any]
    required_when: tuple[tuple[str, str, str], ...] = ()

    def check_required_when(self, form: Sequence[tuple[str, str]]) -> None:
        """Refuse, before anything is sent, a form that leaves out a conditionally required
        parameter (for example `code` when grant_type is authorization_code)."""
        if not self.required_when:
            return
        sent = dict(form)
        missing: dict[tuple[str, str], list[str]] = {}
        for param, prop, value in self.required_when:
            if sent.get(prop) == value and param not in sent:
                missing.setdefault((prop, value), []).append(param)
        if missing:
            (prop, value), names = next(iter(missing.items()))
            raise ApiValueError(f"{self.name}: {prop}={value} needs {', '.join(names)}")

    def response_model(self, status: int) -> Any:
        """The model class for a body with this status (exact code first, then "default")."""
        exact, status_range = str(status), f"{status // 100}XX"
        if exact in self.responses:  # declared, perhaps without a body (None)
            name = self.responses[exact]
        elif status_range in self.responses:
            name = self.responses[status_range]
        elif 200 <= status <= 299:  # an undeclared 2xx still answers with the operation's result
            name = next((v for k, v in self.responses.items() if k.startswith("2") and v), None)
        else:
            name = self.responses.get("default")
        if name is None:
            return None
        model = _MODELS.get(name)
        if model is None:
            model = _MODELS[name] = getattr(importlib.import_module("pinterest_oauth.models"), name)
        return model


_MODELS: dict[str, Any] = {}


def _type_name(value: Any) -> str:
    return type(value).__name__


def required(op: str, name: str, value: Any) -> None:
    """A required parameter left as None."""
    if value is None:
        raise ApiValueError(f"{op}: {name} is required")


def str_value(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ApiTypeError(f"{name} must be a str, got {_type_name(value)}")
    return value


def secret_value(name: str, value: Any) -> str:
    """A secret parameter (`format: password`): a str or a pydantic `SecretStr`."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if not isinstance(value, str):
        raise ApiTypeError(f"{name} must be a str or SecretStr, got {_type_name(value)}")
    return value


def bool_value(name: str, value: Any) -> str:
    """Booleans go over the wire as `true` / `false`."""
    if not isinstance(value, bool):
        raise ApiTypeError(f"{name} must be a bool, got {_type_name(value)}")
    return "true" if value else "false"


def int_value(name: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiTypeError(f"{name} must be an int, got {_type_name(value)}")
    return str(value)


def number_value(name: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ApiTypeError(f"{name} must be a finite number, got {_type_name(value)}")
    return repr(value)


def enum_value(name: str, value: Any, enum_cls: type[enum.Enum]) -> str:
    """A member of the generated enum, or one of its values as a str."""
    if isinstance(value, enum_cls):
        return str(value.value)
    if isinstance(value, str) and value in enum_cls._value2member_map_:
        return value
    allowed = [str(member.value) for member in enum_cls]
    shown = repr(value) if isinstance(value, str) and len(value) <= 40 else _type_name(value)
    raise ApiValueError(f"{name} must be one of {', '.join(sorted(allowed))}, got {shown}")
