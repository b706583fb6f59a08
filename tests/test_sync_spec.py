"""Tests for scripts/sync_spec.py (issue 4): derive openapi.yaml from Pinterest's full spec."""

from __future__ import annotations

import ast
import copy
import functools
import os
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import pytest
import yaml
from openapi_spec_validator import validate

REPO = Path(__file__).resolve().parents[1]
UPSTREAM = REPO / "upstream"
VERSIONS = ("5.14.0", "5.18.0", "5.23.0")
GENERATOR = Path(sys.executable).parent / "openapi-generator-cli"
REQUEST_PARAMS = {"grant_type", "code", "redirect_uri", "refresh_token", "scope", "refresh_on", "continuous_refresh"}
RESPONSE_FIELDS = {"access_token", "token_type", "expires_in", "scope", "response_type", "refresh_token",
                   "refresh_token_expires_in", "refresh_token_expires_at"}

sys.path.insert(0, str(REPO / "scripts"))
import spec_overlay  # noqa: E402
import sync_spec  # noqa: E402


def upstream(version: str) -> Path:
    return UPSTREAM / f"pinterest-api-v{version}.yaml"


#: The upstream description the checked-in openapi.yaml was derived from (its info.version).
SOURCE = upstream(yaml.safe_load((REPO / "openapi.yaml").read_text(encoding="utf-8"))["info"]["version"])


@pytest.fixture(autouse=True, scope="module")
def cache_upstream_parsing() -> Any:
    """Parse each 1.5 MB upstream file once per module (the sync never mutates its input)."""
    original = sync_spec.load_document
    cached = functools.lru_cache(maxsize=8)(original)

    def load(path: Path, what: str) -> Any:
        if Path(path).resolve().parent == UPSTREAM.resolve():
            return cached(Path(path).resolve(), what)
        return original(path, what)

    sync_spec.load_document = load
    yield
    sync_spec.load_document = original


Sync = Callable[..., tuple[int, str, str]]


@pytest.fixture
def sync(capsys: pytest.CaptureFixture[str]) -> Sync:
    """Run the CLI in-process; return (exit status, stdout, stderr)."""
    def run(*argv: Any) -> tuple[int, str, str]:
        capsys.readouterr()
        status = sync_spec.main([str(arg) for arg in argv])
        out, err = capsys.readouterr()
        return status, out, err
    return run


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


# ------------------------------------------------------------- real upstreams

class Generation:
    """A generator run started in the background as soon as its fragment exists."""

    def __init__(self, fragment: Path, target: Path, wanted: bool) -> None:
        self.target = target
        self.proc: Optional[subprocess.Popen[str]] = None
        if not wanted or not GENERATOR.exists():  # e.g. `make test-python`: only the tests that generate need it
            return
        env = {**os.environ, "JAVA_OPTS": "-XX:TieredStopAtLevel=1"}  # faster JVM start; same output
        self.proc = subprocess.Popen(
            [str(GENERATOR), "generate", "-g", "python", "-i", str(fragment), "-o", str(target),
             "--additional-properties=packageName=pinterest_oauth,library=urllib3"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)

    def result(self) -> Path:
        assert self.proc is not None, f"{GENERATOR} is not installed: run the tests with `make test`"
        log, _ = self.proc.communicate(timeout=120)
        assert self.proc.returncode == 0, log[-2000:]
        return self.target


@pytest.fixture(scope="module")
def synced(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[Path, Generation]]]:
    """openapi.yaml synced from each upstream version, and its client generation (in the background,
    only if a selected test uses it: `-m "not slow"` starts no JVM)."""
    wanted = any("generated" in getattr(item, "fixturenames", ()) for item in request.session.items)
    out = {}
    for version in VERSIONS:
        path = tmp_path_factory.mktemp(f"sync-{version}") / "openapi.yaml"
        assert sync_spec.main(["--upstream", str(upstream(version)), "--output", str(path)]) == 0
        out[version] = (path, Generation(path, tmp_path_factory.mktemp(f"gen-{version}"), wanted))
    yield out
    for _, generation in out.values():
        if generation.proc is not None:
            if generation.proc.poll() is None:  # the quick tests never wait for it
                generation.proc.kill()
            generation.proc.communicate()  # reaps it and closes its pipe


@pytest.fixture(scope="module")
def fragments(synced: dict[str, tuple[Path, Generation]]) -> dict[str, Path]:
    return {version: path for version, (path, _) in synced.items()}


@pytest.fixture(scope="module")
def generated(synced: dict[str, tuple[Path, Generation]]) -> dict[str, Path]:
    """The python client generated from each fragment."""
    return {version: generation.result() for version, (_, generation) in synced.items()}


def test_checked_in_openapi_yaml_is_reproduced(tmp_path: Path) -> None:
    output = tmp_path / "openapi.yaml"
    assert sync_spec.main(["--upstream", str(SOURCE), "--output", str(output)]) == 0
    assert output.read_bytes() == (REPO / "openapi.yaml").read_bytes()
    first_line = (REPO / "openapi.yaml").read_text(encoding="utf-8").splitlines()[0]
    assert first_line.startswith("#") and "make sync-spec" in first_line and "deviations.overlay.yaml" in first_line


@pytest.mark.parametrize("version", VERSIONS)
def test_fragment_is_valid_and_flat(version: str, fragments: dict[str, Path]) -> None:
    doc = load(fragments[version])
    validate(doc)
    assert doc["info"]["version"] == version
    assert doc["servers"] == [{"url": "https://api.pinterest.com/v5"}]
    schemas = doc["components"]["schemas"]
    request, response = schemas["OauthAccessTokenRequest"], schemas["OauthAccessTokenResponse"]
    for schema in (request, response):
        assert not {"discriminator", "allOf", "oneOf", "anyOf"} & schema.keys()
    assert set(request["properties"]) == REQUEST_PARAMS
    assert request["required"] == ["grant_type"]
    assert request["properties"]["grant_type"] == {"$ref": "#/components/schemas/GrantType"}
    assert "Required when grant_type is authorization_code." in request["properties"]["code"]["description"]
    assert request["properties"]["refresh_on"]["deprecated"] is True
    assert set(response["properties"]) == RESPONSE_FIELDS
    assert response["required"] == ["access_token", "token_type", "expires_in", "scope"]
    assert response["additionalProperties"] is True
    assert response["properties"]["response_type"]["type"] == "string"
    assert response["properties"]["access_token"]["format"] == "password"
    assert response["properties"]["refresh_token"]["format"] == "password"
    assert schemas["GrantType"]["enum"] == ["authorization_code", "refresh_token", "client_credentials"]
    assert {"everlasting_refresh", "integration_refresh"} <= set(schemas["ResponseType"]["enum"])
    assert len(schemas["ResponseType"]["enum"]) == len(set(schemas["ResponseType"]["enum"]))
    assert schemas["Error"]["properties"] == {"code": {"type": "integer"}, "message": {"type": "string"}}
    assert not {name for name in schemas if name.startswith("OauthAccessTokenRe") and name not in
                ("OauthAccessTokenRequest", "OauthAccessTokenResponse")}


def test_cli_runs_as_a_script(tmp_path: Path) -> None:
    output = tmp_path / "openapi.yaml"
    output.write_bytes((REPO / "openapi.yaml").read_bytes())
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "sync_spec.py"), "--upstream",
                           str(SOURCE), "--output", str(output), "--check"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "no contract changes" in proc.stdout


# ------------------------------------------------------------ idempotence, check

def test_idempotent(sync: Sync, tmp_path: Path) -> None:
    output = tmp_path / "openapi.yaml"
    assert sync("--upstream", upstream("5.18.0"), "--output", output)[0] == 0
    first = output.read_bytes()
    status, out, _ = sync("--upstream", upstream("5.18.0"), "--output", output)
    assert status == 0
    assert output.read_bytes() == first
    assert out.splitlines()[0] == "no contract changes"


def test_check_mode(sync: Sync, tmp_path: Path) -> None:
    output = tmp_path / "openapi.yaml"
    output.write_bytes((REPO / "openapi.yaml").read_bytes())
    assert sync("--upstream", SOURCE, "--output", output, "--check")[0] == 0
    output.write_bytes(output.read_bytes() + b"# stray edit\n")
    before = output.read_bytes()
    status, _, err = sync("--upstream", SOURCE, "--output", output, "--check")
    assert status == 1 and "sync-spec: error:" in err
    assert output.read_bytes() == before


def test_deviations_keep_everything_older_versions_had(sync: Sync, tmp_path: Path) -> None:
    output = tmp_path / "openapi.yaml"
    assert sync("--upstream", upstream("5.14.0"), "--output", output)[0] == 0
    status, out, err = sync("--upstream", upstream("5.23.0"), "--output", output)
    assert status == 0, err
    assert out.splitlines()[0] == "no contract changes"
    assert load(output)["info"]["version"] == "5.23.0"


NO_DEVIATIONS = {"overlay": "1.0.0", "info": {"title": "none", "version": "1"},
                 "actions": [{"target": "$.info", "description": "no deviation", "update": {}}]}


def test_changelog_between_real_versions_without_deviations(sync: Sync, tmp_path: Path) -> None:
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(yaml.safe_dump(NO_DEVIATIONS), encoding="utf-8")
    output = tmp_path / "openapi.yaml"
    assert sync("--upstream", upstream("5.14.0"), "--output", output, "--overlay", overlay)[0] == 0
    before = output.read_bytes()
    status, _, err = sync("--upstream", upstream("5.18.0"), "--output", output, "--overlay", overlay)
    assert status == 1
    assert "request parameter 'refresh_on' (boolean) removed" in err
    assert "enum ResponseType: value 'everlasting_refresh' removed" in err
    assert output.read_bytes() == before
    status, out, _ = sync("--upstream", upstream("5.18.0"), "--output", output, "--overlay", overlay,
                          "--accept-removals")
    assert status == 0
    assert "request: added parameter 'continuous_refresh' (boolean)" in out
    assert "request: removed parameter 'refresh_on' (boolean)" in out
    assert "enum ResponseType: removed value(s) everlasting_refresh" in out


# ------------------------------------------------------------- removal guard

def _old_fragment_with_extras(path: Path) -> bytes:
    doc = load(REPO / "openapi.yaml")
    schemas = doc["components"]["schemas"]
    schemas["OauthAccessTokenRequest"]["properties"]["legacy_param"] = {"type": "string"}
    schemas["OauthAccessTokenResponse"]["properties"]["legacy_field"] = {"type": "integer"}
    schemas["ResponseType"]["enum"].append("ancient_refresh")
    schemas["OauthAccessTokenResponse"]["properties"]["expires_in"]["type"] = "number"
    data = b"# an older fragment\n" + yaml.safe_dump(doc, sort_keys=False).encode()
    path.write_bytes(data)
    return data


def test_removal_is_refused(sync: Sync, tmp_path: Path) -> None:
    output = tmp_path / "openapi.yaml"
    before = _old_fragment_with_extras(output)
    status, _, err = sync("--upstream", SOURCE, "--output", output)
    assert status == 1
    for item in ("'legacy_param'", "'legacy_field'", "'ancient_refresh'", "'expires_in' retyped number -> integer"):
        assert sum(item in line for line in err.splitlines()) == 1, (item, err)
    assert output.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["openapi.yaml"]


def test_removal_is_accepted_on_request(sync: Sync, tmp_path: Path) -> None:
    output = tmp_path / "openapi.yaml"
    _old_fragment_with_extras(output)
    status, out, _ = sync("--upstream", SOURCE, "--output", output, "--accept-removals")
    assert status == 0
    assert "removed parameter 'legacy_param'" in out
    assert "removed field 'legacy_field'" in out
    assert "removed value(s) ancient_refresh" in out
    assert output.read_bytes() == (REPO / "openapi.yaml").read_bytes()


# --------------------------------------------------------------- bad inputs

MINIMAL_OAS = {"openapi": "3.0.3", "info": {"title": "x", "version": "1"},
               "paths": {"/pins": {"get": {"responses": {"200": {"description": "ok"}}}}}}


@pytest.mark.parametrize("content, message", [
    ("openapi: [unclosed\n  - : :", "cannot parse"),
    ("just some words\n", "not a mapping"),
    ("- a\n- list\n", "not a mapping"),
    ("title: a mapping, not OpenAPI\n", "not an OpenAPI 3.x description"),
    (yaml.safe_dump(MINIMAL_OAS), "no POST /oauth/token"),
    (yaml.safe_dump({**MINIMAL_OAS, "paths": {"/oauth/token": {"post": {"summary": "no responses"}}}}),
     "not valid OpenAPI"),
])
def test_bad_upstream(sync: Sync, tmp_path: Path, content: str, message: str) -> None:
    bad = tmp_path / "upstream.yaml"
    bad.write_text(content, encoding="utf-8")
    output = tmp_path / "openapi.yaml"
    output.write_bytes(b"previous content\n")
    status, out, err = sync("--upstream", bad, "--output", output)
    assert status == 2
    assert err.count("\n") == 1 and err.startswith("sync-spec: error: ") and message in err, err
    assert output.read_bytes() == b"previous content\n"


def test_overlay_target_matching_nothing(sync: Sync, tmp_path: Path) -> None:
    overlay = load(REPO / "deviations.overlay.yaml")
    overlay["actions"].append({"target": "$.components.schemas.NoSuchSchema.properties",
                               "description": "stale deviation", "update": {"x": {"type": "string"}}})
    overlay_path = tmp_path / "overlay.yaml"
    overlay_path.write_text(yaml.safe_dump(overlay), encoding="utf-8")
    output = tmp_path / "openapi.yaml"
    output.write_bytes(b"previous content\n")
    status, _, err = sync("--upstream", upstream("5.23.0"), "--output", output, "--overlay", overlay_path)
    assert status == 2
    assert err.count("\n") == 1 and "NoSuchSchema" in err and "matches nothing" in err
    assert output.read_bytes() == b"previous content\n"


# --------------------------------------------------- synthetic upstream: general logic

def _obj(props: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": props, **extra}
    if required:
        schema["required"] = required
    return schema


def synthetic_upstream() -> dict[str, Any]:
    """A small Pinterest-like spec: variants only reachable via discriminator.mapping / allOf / oneOf."""
    s = {"type": "string"}
    ref = lambda name: {"$ref": f"#/components/schemas/{name}"}  # noqa: E731
    schemas = {
        "OauthAccessTokenRequest": _obj({"grant_type": {"type": "string", "enum": ["authorization_code"]}},
                                        ["grant_type"], discriminator={"propertyName": "grant_type", "mapping": {
                                            "authorization_code": "#/components/schemas/ReqCode",
                                            "device_code": "#/components/schemas/ReqDevice"}}),
        "ReqCode": {"allOf": [ref("OauthAccessTokenRequest"), _obj({"code": s, "redirect_uri": s}, ["code"])]},
        "ReqDevice": {"allOf": [ref("OauthAccessTokenRequest"), ref("DevicePart")]},
        "DevicePart": _obj({"device_code": {"type": "string", "description": "The device code."}},
                           ["device_code"]),
        "OauthAccessTokenResponse": {
            "allOf": [ref("BaseResponse")],
            "oneOf": [ref("RespPlain"), ref("RespRefresh")],
            "discriminator": {"propertyName": "response_type",
                              "mapping": {"refresh_token": "#/components/schemas/RespRefresh"}}},
        "BaseResponse": _obj({"access_token": s, "response_type": {"type": "string", "enum": ["plain"]},
                              "scope": {"$ref": "#/components/schemas/Scope"}}, ["access_token"]),
        "RespPlain": _obj({"expires_in": {"type": "integer"}}),
        "RespRefresh": _obj({"refresh_token": s, "id_token": s}, ["refresh_token", "id_token"]),
        "Scope": {"type": "string", "description": "Comma-separated scopes."},
        "Error": _obj({"code": {"type": "integer"}, "message": s}, ["code", "message"]),
        "Unrelated": _obj({"x": s}),
    }
    media = lambda name: {"content": {"application/json": {"schema": ref(name)}}}  # noqa: E731
    operation = {
        "operationId": "oauth/token", "summary": "Token", "tags": ["oauth"], "security": [{"basic": []}],
        "requestBody": {"required": True, "content": {
            "application/x-www-form-urlencoded": {"schema": ref("OauthAccessTokenRequest")}}},
        "responses": {"200": {"description": "ok", **media("OauthAccessTokenResponse")},
                      "default": {"description": "error", **media("Error")}},
        "x-internal": "dropped"}
    return {"openapi": "3.0.3", "info": {"title": "Synthetic", "version": "9.9.9"},
            "servers": [{"url": "https://example.test/v5"}],
            "paths": {"/oauth/token": {"post": operation}, "/other": {"get": {"responses": {"default": {
                "description": "x", **media("Unrelated")}}}}},
            "components": {"schemas": schemas, "securitySchemes": {"basic": {"type": "http", "scheme": "basic"},
                                                                    "unused": {"type": "http", "scheme": "bearer"}}}}


SYNTHETIC_OVERLAY = {"overlay": "1.0.0", "info": {"title": "test", "version": "1"}, "actions": [
    {"target": "$.components.schemas.ResponseType.enum", "description": "keep old", "update": ["plain", "legacy"]},
    {"target": "$.components.schemas.OauthAccessTokenResponse.properties['access_token']",
     "description": "secret", "update": {"format": "password"}},
]}


def _write(path: Path, doc: Any) -> Path:
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def test_synthetic_variant_fields_and_mapping_keys(sync: Sync, tmp_path: Path) -> None:
    source = tmp_path / "up.json"
    source.write_text(json.dumps(synthetic_upstream()), encoding="utf-8")
    overlay = _write(tmp_path / "overlay.yaml", SYNTHETIC_OVERLAY)
    output = tmp_path / "out.yaml"
    status, out, err = sync("--upstream", source, "--output", output, "--overlay", overlay)
    assert status == 0, err
    doc = load(output)
    validate(doc)
    schemas = doc["components"]["schemas"]
    assert set(schemas) == {"OauthAccessTokenRequest", "GrantType", "OauthAccessTokenResponse", "ResponseType",
                            "Scope", "Error"}
    request = schemas["OauthAccessTokenRequest"]
    assert list(request["properties"]) == ["grant_type", "code", "redirect_uri", "device_code"]
    assert request["required"] == ["grant_type"]
    assert request["properties"]["device_code"]["description"] == (
        "The device code. Required when grant_type is device_code.")
    assert request["properties"]["redirect_uri"] == {"type": "string"}
    assert schemas["GrantType"]["enum"] == ["authorization_code", "device_code"]
    response = schemas["OauthAccessTokenResponse"]
    # base parts first, then variants: mapping order, then unmapped oneOf entries
    assert list(response["properties"]) == ["access_token", "response_type", "scope", "refresh_token", "id_token",
                                            "expires_in"]
    assert response["required"] == ["access_token"]
    assert response["properties"]["id_token"]["description"] == "Present when response_type is refresh_token."
    assert response["properties"]["access_token"] == {"type": "string", "format": "password"}
    # declared enum, then mapping keys, then implicit (schema-name) keys of unmapped oneOf entries, then overlay
    assert schemas["ResponseType"]["enum"] == ["plain", "refresh_token", "RespPlain", "legacy"]
    assert set(doc["components"]["securitySchemes"]) == {"basic"}
    assert "x-internal" not in doc["paths"]["/oauth/token"]["post"]
    assert doc["info"]["version"] == "9.9.9"
    assert "added field 'id_token' (string)" in out


def test_synthetic_new_variant_shows_in_changelog(sync: Sync, tmp_path: Path) -> None:
    overlay = _write(tmp_path / "overlay.yaml", SYNTHETIC_OVERLAY)
    output = tmp_path / "out.yaml"
    assert sync("--upstream", _write(tmp_path / "a.yaml", synthetic_upstream()), "--output", output,
                "--overlay", overlay)[0] == 0
    newer = synthetic_upstream()
    schemas = newer["components"]["schemas"]
    schemas["OauthAccessTokenRequest"]["discriminator"]["mapping"]["jwt_bearer"] = "#/components/schemas/ReqJwt"
    schemas["ReqJwt"] = _obj({"assertion": {"type": "string"}}, ["assertion"])
    status, out, err = sync("--upstream", _write(tmp_path / "b.yaml", newer), "--output", output, "--overlay", overlay)
    assert status == 0, err
    assert "request: added parameter 'assertion' (string)" in out
    assert "enum GrantType: added value(s) jwt_bearer" in out
    assert load(output)["components"]["schemas"]["GrantType"]["enum"][-1] == "jwt_bearer"


# ------------------------------------------------------------------ overlay unit

def test_overlay_jsonpath_and_semantics() -> None:
    doc = {"a": {"b-c": [1, 2], "d": {"e": 1, "f": {"g": 1}}}, "list": [{"x": 1}, {"x": 2}]}
    assert spec_overlay.parse_path("$.a['b-c'][0]") == ["a", "b-c", 0]
    spec_overlay.apply_action(doc, {"target": "$.a['b-c']", "update": 3})
    spec_overlay.apply_action(doc, {"target": "$.a.d", "update": {"f": {"h": 2}, "e": 5}})
    spec_overlay.apply_action(doc, {"target": "$.list[*]", "update": {"y": 0}})
    spec_overlay.apply_action(doc, {"target": "$.list[0].x", "remove": True})
    assert doc == {"a": {"b-c": [1, 2, 3], "d": {"e": 5, "f": {"g": 1, "h": 2}}}, "list": [{"y": 0}, {"x": 2, "y": 0}]}
    with pytest.raises(spec_overlay.OverlayError, match="matches nothing"):
        spec_overlay.apply_action(doc, {"target": "$.a.nope", "update": {}})
    with pytest.raises(spec_overlay.OverlayError, match="unsupported"):
        spec_overlay.parse_path("$..a")
    enums = {"enum": ["a", "b", "a"], "p": {"enum": [1, 1]}}
    spec_overlay.dedupe_enums(enums)
    assert enums == {"enum": ["a", "b"], "p": {"enum": [1]}}
    assert copy.deepcopy(doc) == doc


# ------------------------------------------- generated clients (last: generation runs in the background)

def _function_params(source: str, name: str) -> set[str]:
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return {arg.arg for arg in node.args.args + node.args.kwonlyargs}
    raise AssertionError(f"no function {name}")


def _class_fields(source: str, name: str) -> set[str]:
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef) and node.name == name:
            return {stmt.target.id for stmt in node.body
                    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)}
    raise AssertionError(f"no class {name}")


@pytest.mark.slow
@pytest.mark.parametrize("version", VERSIONS)
def test_generated_client_has_every_parameter_and_field(version: str, generated: dict[str, Path]) -> None:
    package = generated[version] / "pinterest_oauth"
    api = (package / "api" / "oauth_api.py").read_text(encoding="utf-8")
    assert REQUEST_PARAMS <= _function_params(api, "oauth_token")
    model = (package / "models" / "oauth_access_token_response.py").read_text(encoding="utf-8")
    assert RESPONSE_FIELDS <= _class_fields(model, "OauthAccessTokenResponse")
    response_type = (package / "models" / "response_type.py").read_text(encoding="utf-8")
    assert "'everlasting_refresh'" in response_type and "'integration_refresh'" in response_type


@pytest.mark.slow
def test_generated_response_model_keeps_secrets_and_unknown_values(generated: dict[str, Path]) -> None:
    script = (
        "from pinterest_oauth.models.oauth_access_token_response import OauthAccessTokenResponse as R\n"
        "r = R.from_dict({'access_token': 'pina_SECRET1', 'refresh_token': 'pinr_SECRET2', 'token_type': 'bearer',"
        " 'expires_in': 1, 'scope': 'a', 'response_type': 'brand_new_type', 'new_field': 7})\n"
        "assert 'SECRET' not in repr(r) + str(r), repr(r)\n"
        "assert r.access_token.get_secret_value() == 'pina_SECRET1'\n"
        "assert r.response_type == 'brand_new_type'\n"
        "assert r.additional_properties == {'new_field': 7}\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=generated["5.23.0"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
