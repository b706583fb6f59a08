"""Extract one operation from a full OpenAPI 3.0 description and normalize it.

Polymorphic body schemas (discriminator / allOf / oneOf / anyOf) become one
flat object whose properties are the union of every variant's, because the
python generator cannot send or accept fields it only reaches through
``discriminator.mapping``. Everything is computed from the upstream schemas.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any, Iterator

SCHEMA_PREFIX = "#/components/schemas/"
OPERATION_FIELDS = ("operationId", "summary", "description", "tags", "parameters",
                    "requestBody", "responses", "security", "deprecated")
POLYMORPHIC_KEYS = ("discriminator", "allOf", "oneOf", "anyOf")
#: Vendor extension on a request property: the discriminator values whose variant requires it.
REQUIRED_WHEN = "x-required-when"


class SpecError(ValueError):
    """The upstream description lacks something the fragment needs."""


# --------------------------------------------------------------------------- refs

def split_ref(ref: str) -> tuple[str, str]:
    """``#/components/<kind>/<name>`` -> (kind, name); anything else is an error."""
    match = re.fullmatch(r"#/components/([A-Za-z]+)/([^/]+)", ref)
    if not match:
        raise SpecError(f"unsupported $ref {ref!r} (only local #/components/... refs)")
    return match.group(1), match.group(2).replace("~1", "/").replace("~0", "~")


def lookup(doc: dict[str, Any], ref: str) -> Any:
    """Return the upstream component a local ref points to."""
    kind, name = split_ref(ref)
    try:
        return doc["components"][kind][name]
    except (KeyError, TypeError):
        raise SpecError(f"$ref {ref} points to nothing") from None


def resolve(doc: dict[str, Any], node: Any) -> tuple[str | None, Any]:
    """Follow a chain of ``$ref``; return (last component name, node)."""
    name = None
    seen: set[str] = set()
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if ref in seen:
            raise SpecError(f"$ref cycle at {ref}")
        seen.add(ref)
        name = split_ref(ref)[1]
        node = lookup(doc, ref)
    return name, node


def iter_refs(node: Any) -> Iterator[str]:
    """Every ``$ref`` and ``discriminator.mapping`` value below a node."""
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        mapping = node.get("discriminator", {}).get("mapping", {}) if isinstance(node.get("discriminator"), dict) else {}
        for value in mapping.values():
            yield value if str(value).startswith("#") else SCHEMA_PREFIX + str(value)
        for value in node.values():
            yield from iter_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from iter_refs(item)


# ------------------------------------------------------------------- flattening

@dataclass
class Variant:
    """One variant a discriminator (or oneOf/anyOf) reaches."""
    prop: str | None
    key: str | None
    label: str
    required: list[str]


@dataclass
class Flat:
    """The union view of a polymorphic schema."""
    properties: dict[str, Any] = field(default_factory=dict)
    required: list[str] = field(default_factory=list)
    variants: list[Variant] = field(default_factory=list)
    discriminators: dict[str, list[str]] = field(default_factory=dict)


def _add_unique(items: list[Any], values: Any) -> None:
    for value in values or []:
        if value not in items:
            items.append(value)


def merge_property(props: dict[str, Any], name: str, schema: Any, owner: str) -> None:
    """Add a property; a repeat fills in missing keywords and unions enums."""
    if name not in props:
        props[name] = copy.deepcopy(schema)
        return
    current = props[name]
    if not isinstance(current, dict) or not isinstance(schema, dict):
        return
    if "type" in current and "type" in schema and current["type"] != schema["type"]:
        raise SpecError(f"property {name} of {owner} has conflicting types {current['type']} and {schema['type']}")
    for key, value in schema.items():
        if key == "enum" and isinstance(current.get("enum"), list):
            _add_unique(current["enum"], value)
        elif key not in current and not ("$ref" in current or "$ref" in schema):
            current[key] = copy.deepcopy(value)


def variants_of(doc: dict[str, Any], schema: dict[str, Any]) -> Iterator[tuple[str | None, str | None, str | None, Any]]:
    """Yield (discriminator property, mapping key, component name, schema) per variant."""
    disc: dict[str, Any] = schema["discriminator"] if isinstance(schema.get("discriminator"), dict) else {}
    prop = disc.get("propertyName")
    mapped: set[str] = set()
    for key, target in (disc.get("mapping") or {}).items():
        ref = target if str(target).startswith("#") else SCHEMA_PREFIX + str(target)
        mapped.add(ref)
        name, variant = resolve(doc, {"$ref": ref})
        yield prop, str(key), name, variant
    for entry in (schema.get("oneOf") or []) + (schema.get("anyOf") or []):
        if isinstance(entry, dict) and entry.get("$ref") in mapped:
            continue
        name, variant = resolve(doc, entry)
        yield (prop if prop else None), (name if prop else None), name, variant


def base_parts(doc: dict[str, Any], schema: Any, seen: frozenset[str]) -> Iterator[dict[str, Any]]:
    """The schema itself and its allOf parts (recursively), skipping visited components."""
    if not isinstance(schema, dict):
        return
    yield schema
    for part in schema.get("allOf") or []:
        name, resolved = resolve(doc, part)
        if name in seen:
            continue
        yield from base_parts(doc, resolved, seen | {name} if name else seen)


def flatten(doc: dict[str, Any], name: str | None, schema: Any, seen: frozenset[str] = frozenset()) -> Flat:
    """Union every property reachable via properties/allOf/oneOf/anyOf/mapping."""
    seen = seen | {name} if name else seen
    flat = Flat()
    owner = name or "inline schema"
    variant_cache: dict[str, Flat] = {}
    parts = list(base_parts(doc, schema, seen))
    for part in parts:
        for prop_name, prop_schema in (part.get("properties") or {}).items():
            merge_property(flat.properties, prop_name, prop_schema, owner)
        _add_unique(flat.required, part.get("required"))
    for part in parts:
        for prop, key, vname, variant in variants_of(doc, part):
            if vname in seen:
                continue
            sub = variant_cache.get(vname) if vname else None
            if sub is None:
                sub = flatten(doc, vname, variant, seen)
                if vname:
                    variant_cache[vname] = sub
            for prop_name, prop_schema in sub.properties.items():
                merge_property(flat.properties, prop_name, prop_schema, owner)
            for sub_prop, keys in sub.discriminators.items():
                _add_unique(flat.discriminators.setdefault(sub_prop, []), keys)
            label = str(variant.get("description") or variant.get("title") or vname or key or "variant")
            flat.variants.append(Variant(prop, key, label, list(sub.required)))
            if prop and key is not None:
                _add_unique(flat.discriminators.setdefault(prop, []), [key])
    return flat


def pascal_case(name: str) -> str:
    """``grant_type`` -> ``GrantType``."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", name) if part)


def _join_or(values: list[str]) -> str:
    return values[0] if len(values) == 1 else ", ".join(values[:-1]) + " or " + values[-1]


def condition_sentence(prop: str, variants: list[Variant], verb: str) -> str | None:
    """E.g. "Required when grant_type is authorization_code." for a property."""
    clauses = []
    by_disc: dict[str, list[str]] = {}
    for variant in variants:
        if prop in variant.required:
            if variant.prop and variant.key is not None:
                _add_unique(by_disc.setdefault(variant.prop, []), [variant.key])
            else:
                clauses.append(f"in the variant \"{variant.label}\"")
    clauses = [f"when {disc} is {_join_or(keys)}" for disc, keys in by_disc.items()] + clauses
    return f"{verb} {' or '.join(clauses)}." if clauses else None


def required_when(prop: str, variants: list[Variant]) -> list[dict[str, str]]:
    """The discriminator values whose variant requires ``prop``, as the fragment records them
    (``x-required-when``); the generated operation refuses a call that leaves it out."""
    return [
        {"property": v.prop, "value": v.key}
        for v in variants
        if prop in v.required and v.prop and v.key is not None
    ]


def _append_sentence(text: Any, sentence: str) -> str:
    text = str(text or "").rstrip()
    if not text:
        return sentence
    return f"{text}{'' if text.endswith(('.', '!', '?')) else '.'} {sentence}"


def enum_of(doc: dict[str, Any], prop_schema: Any) -> tuple[list[Any], str | None, str]:
    """(declared enum, description, type) of a property, following a $ref."""
    _, resolved = resolve(doc, prop_schema)
    resolved = resolved if isinstance(resolved, dict) else {}
    return list(resolved.get("enum") or []), resolved.get("description"), resolved.get("type", "string")


def flatten_schema(doc: dict[str, Any], name: str, verb: str, emitted: dict[str, Any]) -> dict[str, Any]:
    """Build the flat object for a polymorphic component; add its enum components to ``emitted``."""
    upstream = doc["components"]["schemas"][name]
    flat = flatten(doc, name, upstream)
    base_required = flat.required
    for prop in flat.discriminators:  # a discriminator no schema declares still needs its property
        flat.properties.setdefault(prop, {"type": "string"})
    properties: dict[str, Any] = {}
    for prop, schema in flat.properties.items():
        schema = copy.deepcopy(schema)
        if prop in flat.discriminators:
            values, description, kind = enum_of(doc, schema)
            _add_unique(values, flat.discriminators[prop])
            enum_name = pascal_case(prop)
            upstream_names = doc["components"]["schemas"]
            if enum_name in upstream_names and schema.get("$ref") != SCHEMA_PREFIX + enum_name:
                raise SpecError(f"derived enum component {enum_name} collides with the upstream schema of that name")
            enum_schema = {"type": kind, "description": description or
                           f"Every {prop} value of {name}: the declared enum and every discriminator mapping key.",
                           "enum": values}
            if emitted.get(enum_name, enum_schema) != enum_schema:
                raise SpecError(f"component name {enum_name} (enum of {prop}) collides with another component")
            emitted[enum_name] = enum_schema
            schema = {"$ref": SCHEMA_PREFIX + enum_name}
        elif prop not in base_required and isinstance(schema, dict) and "$ref" not in schema:
            sentence = condition_sentence(prop, flat.variants, verb)
            if sentence:
                schema["description"] = _append_sentence(schema.get("description"), sentence)
            conditions = required_when(prop, flat.variants) if verb == "Required" else []
            if conditions:
                schema[REQUIRED_WHEN] = conditions
        properties[prop] = schema
    result = {key: copy.deepcopy(value) for key, value in upstream.items() if key not in POLYMORPHIC_KEYS + ("properties", "required")}
    result["type"] = "object"
    result["description"] = _describe_variants(upstream.get("description"), flat.variants)
    if base_required:
        result["required"] = list(base_required)
    result["properties"] = properties
    return result


def _describe_variants(description: Any, variants: list[Variant]) -> str:
    lines = [str(description or "").rstrip()] if description else []
    if variants:
        props = sorted({v.prop for v in variants if v.prop})
        heading = f"Variants, by {', '.join(props)}:" if props else "Variants:"
        lines += ["", heading] if lines else [heading]
        lines += [f"- {v.key}: {v.label}" if v.key is not None else f"- {v.label}" for v in variants]
    return "\n".join(lines)


# ------------------------------------------------------------------- extraction

def find_operation(doc: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    """Return the upstream operation or raise SpecError."""
    operation = (doc.get("paths") or {}).get(path, {})
    operation = operation.get(method) if isinstance(operation, dict) else None
    if not isinstance(operation, dict):
        raise SpecError(f"upstream has no {method.upper()} {path} operation")
    return operation


def build_operation(doc: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    """Copy the operation's OpenAPI fields, inlining requestBody/response refs."""
    upstream = find_operation(doc, path, method)
    operation = {key: copy.deepcopy(upstream[key]) for key in OPERATION_FIELDS if key in upstream}
    path_params = doc["paths"][path].get("parameters")
    if path_params:
        operation["parameters"] = copy.deepcopy(path_params) + operation.get("parameters", [])
    if "requestBody" in operation:
        operation["requestBody"] = copy.deepcopy(resolve(doc, operation["requestBody"])[1])
    responses = operation.get("responses") or {}
    operation["responses"] = {code: copy.deepcopy(resolve(doc, resp)[1]) for code, resp in responses.items()}
    if "security" not in operation and "security" in doc:
        operation["security"] = copy.deepcopy(doc["security"])
    return operation


def body_schemas(operation: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(role, media object) for the request body and each response's media types."""
    for media in (operation.get("requestBody") or {}).get("content", {}).values():
        yield "request", media
    for code, response in operation.get("responses", {}).items():
        for media in (response or {}).get("content", {}).values():
            yield f"response {code}", media


def collect_components(doc: dict[str, Any], roots: list[Any], done: dict[str, dict[str, Any]]) -> None:
    """Copy every upstream component reachable from ``roots`` into ``done`` (kind -> name -> node)."""
    queue = [ref for root in roots for ref in iter_refs(root)]
    while queue:
        ref = queue.pop(0)
        kind, name = split_ref(ref)
        if name in done.setdefault(kind, {}):
            continue
        node = copy.deepcopy(lookup(doc, ref))
        done[kind][name] = node
        queue.extend(iter_refs(node))


def extract_fragment(doc: dict[str, Any], path: str = "/oauth/token", method: str = "post") -> dict[str, Any]:
    """Build the normalized single-operation fragment (before the overlay)."""
    operation = build_operation(doc, path, method)
    components: dict[str, dict[str, Any]] = {"schemas": {}}
    for role, media in body_schemas(operation):
        schema = media.get("schema")
        name, resolved = resolve(doc, schema)
        if not isinstance(resolved, dict) or not any(key in resolved for key in POLYMORPHIC_KEYS):
            continue
        if name is None:
            raise SpecError(f"inline polymorphic {role} schema is not supported; expected a $ref")
        if name not in components["schemas"]:
            verb = "Required" if role == "request" else "Present"
            emitted: dict[str, Any] = {}
            components["schemas"][name] = flatten_schema(doc, name, verb, emitted)
            for enum_name, enum_schema in emitted.items():
                if enum_name in components["schemas"] and components["schemas"][enum_name] != enum_schema:
                    raise SpecError(f"component {enum_name} is emitted twice with different values")
                components["schemas"][enum_name] = enum_schema
        media["schema"] = {"$ref": SCHEMA_PREFIX + name}
    collect_components(doc, [operation, *components["schemas"].values()], components)
    security = {}
    for requirement in operation.get("security") or []:
        for scheme in requirement:
            try:
                security[scheme] = copy.deepcopy(doc["components"]["securitySchemes"][scheme])
            except (KeyError, TypeError):
                raise SpecError(f"security scheme {scheme} is not defined upstream") from None
    if security:
        components["securitySchemes"] = security
    return {"operation": operation, "components": {k: v for k, v in components.items() if v}}
