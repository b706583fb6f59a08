"""Tests for the output form of scripts/sync_spec.py: canonical key order and the YAML writer.

A deliberately disordered fragment goes through `canonical` and `render`, and the result is
compared, as text, with the canonical form written out below: every nested level (schemas in
properties, items, additionalProperties, not, allOf / oneOf / anyOf members, media types of the
request body and responses, parameters) and every writer option shows in those bytes.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
import sync_spec  # noqa: E402


def disordered_fragment() -> dict[str, Any]:
    """Every mapping the canonical pass orders, with its keys in the wrong order."""
    return {
        "x-origin": "test",
        "tags": [{"description": "Token calls", "name": "oauth"}],
        "security": [{"basic": []}],
        "components": {
            "x-note": "unknown component keys go last",
            "securitySchemes": {"basic": {"scheme": "basic", "type": "http"}},
            "headers": {"X-Trace": {"schema": {"type": "string"}}},
            "schemas": {
                "Token": {
                    "x-kind": "token",
                    "additionalProperties": {"nullable": True, "type": "string"},
                    "properties": {
                        "scope": {"example": "a,b", "description": "Scopes.", "type": "string"},
                        "access_token": {"format": "password", "readOnly": True, "type": "string"},
                        "ids": {"items": {"format": "int64", "type": "integer"}, "type": "array"},
                    },
                    "required": ["access_token"],
                    "description": "A token.",
                    "type": "object",
                },
                "Grant": {
                    "not": {"enum": ["password"], "type": "string"},
                    "anyOf": [{"maxLength": 9, "type": "string"}, {"format": "date", "type": "string"}],
                    "oneOf": [{"required": ["code"], "title": "Code", "type": "object"},
                              {"writeOnly": True, "type": "string"}],
                    "allOf": [{"properties": {"grant_type": {"default": "authorization_code", "type": "string"}},
                               "type": "object"},
                              {"$ref": "#/components/schemas/Token"}],
                    "deprecated": True,
                    "title": "Grant",
                },
                "Free": {"additionalProperties": True, "type": "object"},
            },
        },
        "paths": {
            "/oauth/token": {
                "summary": "a path-level string before the operation",
                "post": {
                    "x-internal": "kept after the operation fields",
                    "responses": {
                        "default": {"content": {"application/json": {"schema": {
                            "properties": {"message": {"type": "string"}}, "type": "object"}}},
                            "description": "error"},
                        "204": {"description": "nothing"},
                        "200": {"description": "ok", "content": {
                            "application/json": {"schema": {"required": ["a"], "type": "object"}},
                            "text/plain": {"example": "x"}}},
                    },
                    "requestBody": {"content": {
                        "application/x-www-form-urlencoded": {"schema": {
                            "properties": {"code": {"description": "The code.\nSecond line.", "type": "string"}},
                            "type": "object"}},
                        "application/json": {"schema": {"items": {"type": "string"}, "type": "array"}}},
                        "required": True},
                    "parameters": [{"$ref": "#/components/parameters/Trace"},
                                   {"schema": {"default": 1, "maximum": 5, "type": "integer"}, "in": "query",
                                    "name": "n"}],
                    "tags": ["oauth"],
                    "summary": "Get a token",
                    "operationId": "oauth/token",
                },
            },
        },
        "servers": [{"url": "https://api.example.test/v5"}],
        "info": {"x-logo": "logo.png", "license": {"url": "https://example.test/l", "name": "MIT"},
                 "version": "1.0", "description": "d", "title": "T"},
        "openapi": "3.0.3",
    }


# Keywords in the conventional order, unknown keys after them in their original order; the order
# of names (properties, schemas, media types, responses, parameters, members) is never changed.
CANONICAL = """\
openapi: 3.0.3
info:
  title: T
  description: d
  version: '1.0'
  license:
    url: https://example.test/l
    name: MIT
  x-logo: logo.png
servers:
- url: https://api.example.test/v5
paths:
  /oauth/token:
    summary: a path-level string before the operation
    post:
      operationId: oauth/token
      summary: Get a token
      tags:
      - oauth
      parameters:
      - $ref: '#/components/parameters/Trace'
      - schema:
          type: integer
          default: 1
          maximum: 5
        in: query
        name: n
      requestBody:
        content:
          application/x-www-form-urlencoded:
            schema:
              type: object
              properties:
                code:
                  type: string
                  description: |-
                    The code.
                    Second line.
          application/json:
            schema:
              type: array
              items:
                type: string
        required: true
      responses:
        default:
          content:
            application/json:
              schema:
                type: object
                properties:
                  message:
                    type: string
          description: error
        '204':
          description: nothing
        '200':
          description: ok
          content:
            application/json:
              schema:
                type: object
                required:
                - a
            text/plain:
              example: x
      x-internal: kept after the operation fields
components:
  schemas:
    Token:
      type: object
      description: A token.
      required:
      - access_token
      properties:
        scope:
          type: string
          description: Scopes.
          example: a,b
        access_token:
          type: string
          format: password
          readOnly: true
        ids:
          type: array
          items:
            type: integer
            format: int64
      additionalProperties:
        type: string
        nullable: true
      x-kind: token
    Grant:
      title: Grant
      deprecated: true
      not:
        type: string
        enum:
        - password
      anyOf:
      - type: string
        maxLength: 9
      - type: string
        format: date
      oneOf:
      - type: object
        title: Code
        required:
        - code
      - type: string
        writeOnly: true
      allOf:
      - type: object
        properties:
          grant_type:
            type: string
            default: authorization_code
      - $ref: '#/components/schemas/Token'
    Free:
      type: object
      additionalProperties: true
  headers:
    X-Trace:
      schema:
        type: string
  securitySchemes:
    basic:
      scheme: basic
      type: http
  x-note: unknown component keys go last
security:
- basic: []
tags:
- description: Token calls
  name: oauth
x-origin: test
"""


def test_disordered_fragment_is_written_in_canonical_order() -> None:
    data = sync_spec.render(sync_spec.canonical(disordered_fragment()))
    assert data.decode("utf-8") == sync_spec.HEADER + CANONICAL


def test_canonical_keeps_content() -> None:
    original = disordered_fragment()
    assert sync_spec.canonical(disordered_fragment()) == original  # dict equality ignores order
    assert yaml.safe_load(CANONICAL) == original


def test_canonical_form_is_a_fixed_point() -> None:
    once = sync_spec.canonical(disordered_fragment())
    assert sync_spec.render(sync_spec.canonical(yaml.safe_load(CANONICAL))) == sync_spec.render(once)


def test_fragment_without_components_gets_none() -> None:
    fragment = {"paths": {"/x": {"get": {"responses": {"204": {"description": "none"}}}}},
                "info": {"version": "1", "title": "t"}, "openapi": "3.0.3"}
    out = sync_spec.canonical(fragment)
    assert list(out) == ["openapi", "info", "paths"]
    assert list(out["info"]) == ["title", "version"]


def test_components_without_schemas_are_ordered() -> None:
    fragment = {"components": {"securitySchemes": {"basic": {"type": "http", "scheme": "basic"}},
                               "parameters": {"P": {"name": "p", "in": "query"}}}}
    assert list(sync_spec.canonical(fragment)["components"]) == ["parameters", "securitySchemes"]


def test_non_mapping_schemas_pass_through() -> None:
    assert sync_spec.canonical_schema(True) is True
    assert sync_spec.canonical_schema(None) is None
    schema = {"items": True, "additionalProperties": False, "properties": None, "allOf": None, "type": "array"}
    assert list(sync_spec.canonical_schema(schema).items()) == [
        ("type", "array"), ("properties", None), ("additionalProperties", False), ("items", True), ("allOf", None)]


# ------------------------------------------------------------------- the YAML writer

def body(data: bytes) -> str:
    text = data.decode("utf-8")
    assert text.startswith(sync_spec.HEADER)
    return text[len(sync_spec.HEADER):]


def test_writer_keeps_insertion_order_block_style_two_space_indent() -> None:
    doc = {"zeta": {"b": [1, {"y": "v", "x": []}], "a": {}}, "alpha": ["s"]}
    assert body(sync_spec.render(doc)) == (
        "zeta:\n"
        "  b:\n"
        "  - 1\n"
        "  - y: v\n"
        "    x: []\n"
        "  a: {}\n"
        "alpha:\n"
        "- s\n")


def test_writer_strings_unicode_multiline_and_quoting() -> None:
    doc = {"d": {"e": {
        "unicode": "Déjà vu — “quoted” ✓",
        "lines": "first line\n  indented second line",
        "trailing": "ends with a newline\n",
        "one_line": "a plain: sentence, with # marks",
        "looks_boolean": "yes",
        "looks_number": "5.23",
        "empty": "",
    }}}
    data = sync_spec.render(doc)
    assert body(data) == (
        "d:\n"
        "  e:\n"
        "    unicode: Déjà vu — “quoted” ✓\n"
        "    lines: |-\n"
        "      first line\n"
        "        indented second line\n"
        "    trailing: |\n"
        "      ends with a newline\n"
        "    one_line: 'a plain: sentence, with # marks'\n"
        "    looks_boolean: 'yes'\n"
        "    looks_number: '5.23'\n"
        "    empty: ''\n")
    assert "Déjà".encode("utf-8") in data
    assert yaml.safe_load(data) == doc


def test_writer_does_not_fold_lines_up_to_4096_columns() -> None:
    # PyYAML folds a plain scalar at the first space past its width; ours is 4096 columns.
    unfolded = {"d": "x" * 4089 + " y z w"}
    folded = {"d": "x" * 4090 + " y z w"}
    assert body(sync_spec.render(unfolded)) == "d: " + unfolded["d"] + "\n"
    assert body(sync_spec.render(folded)).splitlines()[1:] == ["  w"]
    assert yaml.safe_load(sync_spec.render(folded)) == folded
    long_description = " ".join(["word"] * 400)  # 2,000 columns: one line
    assert body(sync_spec.render({"description": long_description})).count("\n") == 1


def test_writer_repeats_shared_nodes_instead_of_aliasing() -> None:
    shared = {"type": "string", "enum": ["a"]}
    data = sync_spec.render({"one": shared, "two": shared})
    assert body(data) == "one:\n  type: string\n  enum:\n  - a\ntwo:\n  type: string\n  enum:\n  - a\n"
    assert b"&id" not in data and b"*id" not in data
