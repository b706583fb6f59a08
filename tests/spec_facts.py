"""What openapi.yaml says about the token operation, for tests that derive their expectations
from the spec instead of restating it (a field added upstream then needs no test edit)."""

from __future__ import annotations

from typing import Any, Optional

import spec_validation

SpecDict = dict[str, Any]


def _operation(spec: Optional[SpecDict]) -> SpecDict:
    spec = spec or spec_validation.load_spec()
    return spec["paths"][spec_validation.TOKEN_PATH]["post"]


def request_properties(spec: Optional[SpecDict] = None) -> dict[str, SpecDict]:
    """Form fields of the request, in declared order, each schema with `$ref`s resolved."""
    spec = spec or spec_validation.load_spec()
    media = _operation(spec)["requestBody"]["content"][spec_validation.FORM_MEDIA_TYPE]
    schema = spec_validation.resolve_refs(media["schema"], spec)
    return dict(schema.get("properties", {}))


def request_required(spec: Optional[SpecDict] = None) -> list[str]:
    spec = spec or spec_validation.load_spec()
    media = _operation(spec)["requestBody"]["content"][spec_validation.FORM_MEDIA_TYPE]
    return list(spec_validation.resolve_refs(media["schema"], spec).get("required", []))


def parameter_order(spec: Optional[SpecDict] = None) -> list[str]:
    """The generated method's parameters: required fields first, each group in declared order."""
    props, required = request_properties(spec), request_required(spec)
    return [p for p in props if p in required] + [p for p in props if p not in required]


def required_when(spec: Optional[SpecDict] = None) -> list[tuple[str, str, str]]:
    """(field, property, value): `field` must be sent when `property` is `value` (x-required-when)."""
    return [
        (name, cond["property"], cond["value"])
        for name, schema in request_properties(spec).items()
        for cond in schema.get("x-required-when", [])
    ]


def needed_for(prop: str, value: str, spec: Optional[SpecDict] = None) -> list[str]:
    return [name for name, p, v in required_when(spec) if (p, v) == (prop, value)]


def enum_values(name: str, spec: Optional[SpecDict] = None) -> list[str]:
    return list(request_properties(spec)[name].get("enum", []))


def response_properties(spec: Optional[SpecDict] = None) -> dict[str, SpecDict]:
    """Fields of the 200 response, with `$ref`s resolved."""
    spec = spec or spec_validation.load_spec()
    media = _operation(spec)["responses"]["200"]["content"][spec_validation.JSON_MEDIA_TYPE]
    return dict(spec_validation.resolve_refs(media["schema"], spec).get("properties", {}))


def is_secret(schema: SpecDict) -> bool:
    return schema.get("format") == "password"


def sample_value(name: str, schema: SpecDict) -> Any:
    """A valid argument for a request field of this schema (enum: its first value)."""
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "boolean":
        return True
    if kind == "integer":
        return 7
    if kind == "number":
        return 1.5
    return f"value of {name}: a/b c+é&="


def wire_value(value: Any) -> str:
    """How the generated client puts a sample value in the form."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def wrong_type(schema: SpecDict) -> Any:
    """An argument of the wrong Python type for this schema."""
    return 12345 if schema.get("type") in ("string", None) or "enum" in schema else "12345"
