"""The client-visible contract of a fragment, and what changed between two.

A contract is a flat set of facts (property present / type / format /
deprecated, enum values, required entries, and the conditional requirements
that ``x-required-when`` records, e.g. scope when grant_type is client_credentials). A fact of the old fragment that
the new one lacks is a loss; the changelog reports both directions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SCHEMA_PREFIX = "#/components/schemas/"


@dataclass(frozen=True, order=True)
class Prop:
    """One property as the generated client sees it."""
    type: str
    format: str
    deprecated: bool

    def __str__(self) -> str:
        return self.type + (f" ({self.format})" if self.format else "")


@dataclass
class Contract:
    """properties: scope -> name -> Prop; enums: scope -> values; required: scope -> names;
    conditions: scope -> ["name when property is value", ...]."""
    properties: dict[str, dict[str, Prop]]
    enums: dict[str, list[Any]]
    required: dict[str, list[str]]
    conditions: dict[str, list[str]] = field(default_factory=dict)


def _ref_name(node: Any) -> str | None:
    ref = node.get("$ref") if isinstance(node, dict) else None
    return ref[len(SCHEMA_PREFIX):] if isinstance(ref, str) and ref.startswith(SCHEMA_PREFIX) else None


def type_of(schema: Any) -> str:
    """A short type label: ``string``, ``GrantType``, ``array of integer``."""
    if not isinstance(schema, dict):
        return "any"
    if _ref_name(schema):
        return str(_ref_name(schema))
    if schema.get("type") == "array":
        return f"array of {type_of(schema.get('items'))}"
    for key in ("allOf", "oneOf", "anyOf"):
        if schema.get(key):
            return f"{key}[{', '.join(type_of(s) for s in schema[key])}]"
    return str(schema.get("type", "any"))


def _roles(fragment: dict[str, Any]) -> dict[str, str]:
    """Schema name -> 'request' / 'response' for the operation's body schemas."""
    roles: dict[str, str] = {}
    for path_item in (fragment.get("paths") or {}).values():
        for operation in (path_item or {}).values():
            if not isinstance(operation, dict):
                continue
            for media in ((operation.get("requestBody") or {}).get("content") or {}).values():
                if _ref_name(media.get("schema")):
                    roles.setdefault(str(_ref_name(media["schema"])), "request")
            for code, response in (operation.get("responses") or {}).items():
                for media in ((response or {}).get("content") or {}).values():
                    if _ref_name(media.get("schema")):
                        role = "response" if str(code).startswith("2") else f"{code} response"
                        roles.setdefault(str(_ref_name(media["schema"])), role)
    return roles


def contract_of(fragment: dict[str, Any]) -> Contract:
    """Extract the comparable facts of a fragment."""
    roles = _roles(fragment)
    schemas = ((fragment.get("components") or {}).get("schemas")) or {}
    contract = Contract({}, {}, {})
    for name, schema in schemas.items():
        if not isinstance(schema, dict):
            continue
        scope = roles.get(name, f"schema {name}")
        if isinstance(schema.get("enum"), list):
            contract.enums[f"enum {name}"] = list(schema["enum"])
        if "properties" in schema or "required" in schema:
            contract.required[scope] = list(schema.get("required") or [])
        props = contract.properties.setdefault(scope, {}) if "properties" in schema else {}
        for prop, prop_schema in (schema.get("properties") or {}).items():
            prop_schema = prop_schema if isinstance(prop_schema, dict) else {}
            props[prop] = Prop(type_of(prop_schema), str(prop_schema.get("format", "")),
                               bool(prop_schema.get("deprecated", False)))
            if isinstance(prop_schema.get("enum"), list):
                contract.enums[f"enum of {scope} property {prop}"] = list(prop_schema["enum"])
            for cond in prop_schema.get("x-required-when") or []:
                if isinstance(cond, dict):
                    contract.conditions.setdefault(scope, []).append(
                        f"{prop} when {cond.get('property')} is {cond.get('value')}")
    return contract


def _noun(scope: str) -> str:
    return "parameter" if scope == "request" else "field" if scope == "response" else "property"


def losses(old: Contract, new: Contract) -> list[str]:
    """Everything the old contract promises that the new one does not (one line each)."""
    lines: list[str] = []
    for scope, props in old.properties.items():
        new_props = new.properties.get(scope, {})
        for name, prop in props.items():
            if name not in new_props:
                lines.append(f"{scope} {_noun(scope)} '{name}' ({prop}) removed")
                continue
            now = new_props[name]
            if (prop.type, prop.format) != (now.type, now.format):
                lines.append(f"{scope} {_noun(scope)} '{name}' retyped {prop} -> {now}")
            if prop.deprecated and not now.deprecated:
                lines.append(f"{scope} {_noun(scope)} '{name}' lost its deprecated flag")
    for scope, values in old.enums.items():
        for value in values:
            if value not in new.enums.get(scope, []):
                lines.append(f"{scope}: value '{value}' removed")
    for scope, names in old.required.items():
        for name in names:
            if name not in new.required.get(scope, []):
                lines.append(f"{scope}: '{name}' no longer required")
    return lines


def changelog(old: Contract, new: Contract) -> list[str]:
    """Human-readable contract changes from ``old`` to ``new`` (empty: none)."""
    lines: list[str] = []
    for scope in dict.fromkeys([*old.properties, *new.properties]):
        before, after = old.properties.get(scope, {}), new.properties.get(scope, {})
        noun = _noun(scope)
        for name, prop in after.items():
            if name not in before:
                lines.append(f"{scope}: added {noun} '{name}' ({prop})" + (" [deprecated]" if prop.deprecated else ""))
            else:
                was = before[name]
                if (was.type, was.format) != (prop.type, prop.format):
                    lines.append(f"{scope}: {noun} '{name}' retyped {was} -> {prop}")
                if prop.deprecated != was.deprecated:
                    state = "deprecated" if prop.deprecated else "no longer deprecated"
                    lines.append(f"{scope}: {noun} '{name}' {state}")
        for name, prop in before.items():
            if name not in after:
                lines.append(f"{scope}: removed {noun} '{name}' ({prop})")
    for scope in dict.fromkeys([*old.enums, *new.enums]):
        before_values, after_values = old.enums.get(scope, []), new.enums.get(scope, [])
        added = [v for v in after_values if v not in before_values]
        removed = [v for v in before_values if v not in after_values]
        if added:
            lines.append(f"{scope}: added value(s) {', '.join(map(str, added))}")
        if removed:
            lines.append(f"{scope}: removed value(s) {', '.join(map(str, removed))}")
    for scope in dict.fromkeys([*old.required, *new.required]):
        before_req, after_req = old.required.get(scope, []), new.required.get(scope, [])
        now_required = [n for n in after_req if n not in before_req]
        dropped = [n for n in before_req if n not in after_req]
        if now_required:
            lines.append(f"{scope}: now required: {', '.join(now_required)}")
        if dropped:
            lines.append(f"{scope}: no longer required: {', '.join(dropped)}")
    for scope in dict.fromkeys([*old.conditions, *new.conditions]):
        before_c, after_c = old.conditions.get(scope, []), new.conditions.get(scope, [])
        for cond in after_c:
            if cond not in before_c:
                lines.append(f"{scope}: now required: {cond}")
        for cond in before_c:
            if cond not in after_c:
                lines.append(f"{scope}: no longer required: {cond}")
    return lines
