"""Check recorded exchanges against openapi.yaml (OpenAPI 3.0.3) with jsonschema.

The operation's schemas are resolved (every local `$ref` inlined) and turned into JSON Schema
draft 4, the draft OpenAPI 3.0's Schema Object extends: OpenAPI-only keywords are dropped and
`nullable: true` becomes a `"null"` type. `additionalProperties` keeps its JSON Schema meaning
(absent or `true`: extra properties allowed). Each check returns a list of problems, empty when
the exchange conforms.
"""

from __future__ import annotations

import copy
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Optional

import jsonschema
import yaml

SPEC_PATH = Path(__file__).resolve().parent.parent / "openapi.yaml"
TOKEN_PATH = "/oauth/token"
FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
JSON_MEDIA_TYPE = "application/json"

#: Schema Object keywords of OpenAPI 3.0 that JSON Schema does not have (or must not enforce).
OPENAPI_ONLY = frozenset({"discriminator", "xml", "externalDocs", "example", "deprecated", "readOnly", "writeOnly"})
_INTEGER = re.compile(r"-?[0-9]+")


@lru_cache(maxsize=None)
def _load(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        spec = yaml.safe_load(fh)
    if not str(spec.get("openapi", "")).startswith("3.0."):
        raise ValueError(f"{path}: expected OpenAPI 3.0.x, got {spec.get('openapi')!r}")
    return spec


def load_spec(path: Path = SPEC_PATH) -> dict[str, Any]:
    """The parsed OpenAPI document (cached; do not mutate)."""
    return _load(str(path))


def resolve_refs(node: Any, spec: dict[str, Any], trail: tuple[str, ...] = ()) -> Any:
    """A deep copy of `node` with every local `$ref` replaced by its target (cycles refused)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            if not ref.startswith("#/"):
                raise ValueError(f"only local $refs are supported, got {ref!r}")
            if ref in trail:
                raise ValueError(f"recursive $ref {ref!r}")
            target: Any = spec
            for part in ref[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            return resolve_refs(target, spec, trail + (ref,))
        return {key: resolve_refs(value, spec, trail) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve_refs(item, spec, trail) for item in node]
    return copy.deepcopy(node)


def to_json_schema(schema: Any) -> Any:
    """Turn a resolved OpenAPI 3.0 Schema Object into JSON Schema draft 4."""
    if isinstance(schema, list):
        return [to_json_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in OPENAPI_ONLY or key == "nullable" or key.startswith("x-"):
            continue
        if key in ("properties", "patternProperties", "definitions"):
            out[key] = {name: to_json_schema(sub) for name, sub in value.items()}
        elif key in ("items", "not", "allOf", "oneOf", "anyOf") or (
            key == "additionalProperties" and isinstance(value, dict)
        ):
            out[key] = to_json_schema(value)
        else:
            out[key] = copy.deepcopy(value)
    if schema.get("nullable") is True:
        kind = out.get("type")
        if isinstance(kind, str):
            out["type"] = [kind, "null"]
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
    return out


def _operation(spec: dict[str, Any]) -> dict[str, Any]:
    return spec["paths"][TOKEN_PATH]["post"]


def request_schema(spec: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    """JSON Schema of the form body of POST /oauth/token."""
    spec = spec or load_spec()
    content = _operation(spec)["requestBody"]["content"]
    return to_json_schema(resolve_refs(content[FORM_MEDIA_TYPE]["schema"], spec))


def response_schema(status: int, spec: Optional[dict[str, Any]] = None) -> tuple[str, Optional[dict[str, Any]]]:
    """(media type, JSON Schema) the spec declares for `status`: exact code, then `2XX` range, then `default`."""
    spec = spec or load_spec()
    responses = _operation(spec)["responses"]
    entry = responses.get(str(status)) or responses.get(f"{status // 100}XX") or responses.get("default")
    if entry is None or not entry.get("content"):
        return "", None
    media_type, media = next(iter(entry["content"].items()))
    return media_type, to_json_schema(resolve_refs(media["schema"], spec))


def _schema_errors(instance: Any, schema: dict[str, Any]) -> list[str]:
    jsonschema.Draft4Validator.check_schema(schema)
    validator = jsonschema.Draft4Validator(schema)
    return [
        f"{'/'.join(str(p) for p in err.absolute_path) or '<root>'}: {err.message}"
        for err in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    ]


def form_to_object(fields: Iterable[tuple[str, str]], schema: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The form fields as a JSON object, typed per `schema` ("true"/"false" to booleans, digits to integers)."""
    obj: dict[str, Any] = {}
    problems: list[str] = []
    properties = schema.get("properties", {})
    for name, value in fields:
        if name in obj:
            problems.append(f"{name}: sent more than once")
            continue
        kind = properties.get(name, {}).get("type")
        if kind == "boolean" and value in ("true", "false"):
            obj[name] = value == "true"
        elif kind == "integer" and _INTEGER.fullmatch(value):
            obj[name] = int(value)
        else:
            obj[name] = value  # left as a string: a wrong type then fails validation
    return obj, problems


def undeclared_form_fields(fields: Iterable[tuple[str, str]], spec: Optional[dict[str, Any]] = None) -> list[str]:
    """Form field names the request schema does not declare (the schema itself allows them)."""
    declared = request_schema(spec).get("properties", {})
    return [name for name, _ in fields if name not in declared]


def _media_type(content_type: Optional[str]) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def validate_request(content_type: Optional[str], fields: Iterable[tuple[str, str]], spec: Optional[dict[str, Any]] = None) -> list[str]:
    """Problems of a token request (its Content-Type and ordered form fields) against the spec."""
    spec = spec or load_spec()
    problems = []
    declared = _operation(spec)["requestBody"]["content"]
    if _media_type(content_type) not in declared:
        problems.append(f"Content-Type {content_type!r} is not one the spec declares ({', '.join(declared)})")
    schema = request_schema(spec)
    obj, duplicates = form_to_object(fields, schema)
    return problems + duplicates + _schema_errors(obj, schema)


def validate_response(status: int, content_type: Optional[str], body: bytes, spec: Optional[dict[str, Any]] = None) -> list[str]:
    """Problems of a response (status, Content-Type, body bytes) against the 200 or `default` schema."""
    media_type, schema = response_schema(status, spec)
    if schema is None:
        return [f"the spec declares no content for status {status}"]
    problems = []
    if _media_type(content_type) != media_type:
        problems.append(f"Content-Type {content_type!r} is not the declared {media_type}")
    if media_type != JSON_MEDIA_TYPE:
        return problems + [f"cannot check a {media_type} body"]
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        return problems + [f"body is not JSON ({type(exc).__name__})"]
    return problems + _schema_errors(document, schema)
