"""Tests for the edges of scripts/sync_spec.py: reading inputs, checking them, writing the output,
downloading the upstream, and the command line. A small synthetic upstream keeps each test fast."""

from __future__ import annotations

import functools
import http.server
import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
import sync_spec  # noqa: E402
from test_sync_spec import Sync, sync  # noqa: E402,F401 (a fixture: the CLI run in-process)

NO_DEVIATIONS = {"overlay": "1.0.0", "info": {"title": "none", "version": "1"},
                 "actions": [{"target": "$.info", "description": "no deviation", "update": {}}]}


def mini_upstream(**top: Any) -> dict[str, Any]:
    """The smallest description with a POST /oauth/token, plus an unrelated path."""
    ref = lambda name: {"$ref": f"#/components/schemas/{name}"}  # noqa: E731
    return {
        "openapi": "3.0.3", "info": {"title": "Mini", "version": "1.2.3"},
        "paths": {
            "/oauth/token": {"post": {
                "operationId": "oauth/token", "tags": ["oauth"],
                "requestBody": {"content": {"application/x-www-form-urlencoded": {"schema": ref("Req")}}},
                "responses": {"200": {"description": "ok",
                                      "content": {"application/json": {"schema": ref("Resp")}}}}}},
            "/other": {"get": {"responses": {"200": {"description": "unrelated"}}}}},
        "components": {"schemas": {
            "Req": {"type": "object", "properties": {"grant_type": {"type": "string"}}},
            "Resp": {"type": "object", "properties": {"access_token": {"type": "string"}}}}},
        **top,
    }


@pytest.fixture
def overlay(tmp_path: Path) -> Path:
    path = tmp_path / "overlay.yaml"
    path.write_text(yaml.safe_dump(NO_DEVIATIONS), encoding="utf-8")
    return path


def write_yaml(path: Path, doc: Any) -> Path:
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


# --------------------------------------------------------------------- reading

def test_json_is_read_as_json(tmp_path: Path) -> None:
    # YAML 1.1 reads 1e3 as a string; a JSON file (by name, or by its opening brace) is read as JSON.
    as_json = tmp_path / "list.json"
    as_json.write_text("[1e3, 2]", encoding="utf-8")
    assert sync_spec.load_document(as_json, "x") == [1000.0, 2]
    braced = tmp_path / "braced.yaml"
    braced.write_text('  {"a": 1e3}', encoding="utf-8")
    assert sync_spec.load_document(braced, "x") == {"a": 1000.0}
    plain = tmp_path / "plain.yaml"
    plain.write_text("[1e3, 2]", encoding="utf-8")
    assert sync_spec.load_document(plain, "x") == ["1e3", 2]


def test_yaml_flow_mapping_is_read_as_yaml(tmp_path: Path) -> None:
    flow = tmp_path / "flow.json"
    flow.write_text("{openapi: 3.0.3, info: {version: '1'}}", encoding="utf-8")
    assert sync_spec.load_document(flow, "x") == {"openapi": "3.0.3", "info": {"version": "1"}}


@pytest.mark.parametrize("content", [None, b"openapi: 3.0.3\ninfo: caf\xe9\n"])
def test_unreadable_upstream(sync: Sync, tmp_path: Path, content: bytes | None) -> None:
    source = tmp_path / "upstream.yaml"
    if content is not None:
        source.write_bytes(content)
    status, _, err = sync("--upstream", source, "--output", tmp_path / "out.yaml")
    assert status == 2
    assert err.startswith(f"sync-spec: error: cannot read upstream description {source}: ") and err.count("\n") == 1
    assert not (tmp_path / "out.yaml").exists()


INVALID = "is not a valid OpenAPI description:"


@pytest.mark.parametrize("change, message", [
    ({"openapi": "2.0"}, "is not an OpenAPI 3.x description (no 'openapi: 3.x' field)"),
    ({"info": "Mini 1.2.3"}, f"{INVALID} info.title / info.version missing"),
    ({"info": {"title": "Mini", "version": 1}}, f"{INVALID} info.title / info.version missing"),
    ({"info": {"version": "1.2.3"}}, f"{INVALID} info.title / info.version missing"),
    ({"paths": ["/oauth/token"]}, f"{INVALID} 'paths' is not a mapping"),
    ({"components": ["schemas"]}, f"{INVALID} 'components' is not a mapping"),
    ({"paths": {"/oauth/token": "post"}}, "has no POST /oauth/token operation"),
    ({"paths": {"/oauth/token": {"post": "token"}}}, "has no POST /oauth/token operation"),
])
def test_malformed_upstream(sync: Sync, tmp_path: Path, overlay: Path, change: dict[str, Any],
                            message: str) -> None:
    source = write_yaml(tmp_path / "upstream.yaml", mini_upstream(**change))
    status, _, err = sync("--upstream", source, "--output", tmp_path / "out.yaml", "--overlay", overlay)
    assert status == 2
    assert err == f"sync-spec: error: {source} {message}\n"


def test_mini_upstream_is_valid(sync: Sync, tmp_path: Path, overlay: Path) -> None:
    source = write_yaml(tmp_path / "upstream.yaml", mini_upstream())
    status, out, err = sync("--upstream", source, "--output", tmp_path / "out.yaml", "--overlay", overlay)
    assert status == 0, err
    doc = yaml.safe_load((tmp_path / "out.yaml").read_text(encoding="utf-8"))
    assert list(doc) == ["openapi", "info", "paths", "components"]
    assert list(doc["info"]) == ["title", "description", "version"]


def test_servers_license_and_used_tags_are_copied() -> None:
    upstream = mini_upstream(servers=[{"url": "https://example.test/v5"}],
                             tags=[{"name": "pins"}, "oauth", {"name": "oauth", "description": "Tokens"}])
    upstream["info"]["license"] = {"name": "MIT", "url": "https://example.test/license"}
    fragment = sync_spec.build_fragment(upstream, NO_DEVIATIONS)
    assert fragment["servers"] == [{"url": "https://example.test/v5"}]
    assert fragment["info"]["license"] == {"name": "MIT", "url": "https://example.test/license"}
    assert fragment["tags"] == [{"name": "oauth", "description": "Tokens"}]
    upstream["info"]["license"] = "MIT"
    upstream["paths"]["/oauth/token"]["post"].pop("tags")
    fragment = sync_spec.build_fragment(upstream, NO_DEVIATIONS)
    assert "license" not in fragment["info"] and "tags" not in fragment


def test_upstream_the_fragment_cannot_be_extracted_from(sync: Sync, tmp_path: Path, overlay: Path) -> None:
    upstream = mini_upstream()
    upstream["components"]["schemas"]["Req"]["properties"]["grant_type"] = {"$ref": "#/components/schemas/Nope"}
    source = write_yaml(tmp_path / "upstream.yaml", upstream)
    status, _, err = sync("--upstream", source, "--output", tmp_path / "out.yaml", "--overlay", overlay)
    assert status == 2
    assert err == "sync-spec: error: upstream: $ref #/components/schemas/Nope points to nothing\n"


def test_validation_errors_report_the_first_paragraph_bounded() -> None:
    with pytest.raises(sync_spec.SyncError) as caught:
        sync_spec.validate_openapi({"openapi": "3.0.3", "info": {"title": "x", "version": "1"},
                                    "paths": {"/a": {"get": {"summary": "no responses"}}}}, "W")
    assert str(caught.value) == "W is not valid OpenAPI: 'responses' is a required property"
    with pytest.raises(sync_spec.SyncError) as caught:
        sync_spec.validate_openapi({"openapi": "3.0.3", "info": {"title": "x", "version": "1", "license": "y" * 400},
                                    "paths": {}}, "W")
    assert str(caught.value) == "W is not valid OpenAPI: '" + "y" * 299


def test_validate_upstream_checks_the_whole_description(sync: Sync, tmp_path: Path, overlay: Path) -> None:
    upstream = mini_upstream()
    upstream["paths"]["/other"]["get"].pop("responses")  # outside the fragment
    source = write_yaml(tmp_path / "upstream.yaml", upstream)
    output = tmp_path / "out.yaml"
    status, _, err = sync("--upstream", source, "--output", output, "--overlay", overlay)
    assert status == 0, err
    output.unlink()
    status, _, err = sync("--upstream", source, "--output", output, "--overlay", overlay, "--validate-upstream")
    assert status == 2
    assert err == (f"sync-spec: error: upstream {source} is not valid OpenAPI: "
                   "'responses' is a required property\n")
    assert not output.exists()


# --------------------------------------------------------------------- writing

def test_check_without_an_output_file(sync: Sync, tmp_path: Path, overlay: Path) -> None:
    source = write_yaml(tmp_path / "upstream.yaml", mini_upstream())
    status, _, err = sync("--upstream", source, "--output", tmp_path / "out.yaml", "--overlay", overlay, "--check")
    assert status == 1 and "is not what" in err
    assert not (tmp_path / "out.yaml").exists()


def test_unchanged_output_is_not_rewritten(sync: Sync, tmp_path: Path, overlay: Path) -> None:
    source = write_yaml(tmp_path / "upstream.yaml", mini_upstream())
    output = tmp_path / "out.yaml"
    assert sync("--upstream", source, "--output", output, "--overlay", overlay)[1].splitlines()[-1] == f"wrote {output}"
    inode = output.stat().st_ino
    status, out, _ = sync("--upstream", source, "--output", output, "--overlay", overlay)
    assert status == 0 and out.splitlines() == ["no contract changes", f"{output} unchanged"]
    assert output.stat().st_ino == inode  # not replaced


def test_empty_output_file_counts_as_none(sync: Sync, tmp_path: Path, overlay: Path) -> None:
    source = write_yaml(tmp_path / "upstream.yaml", mini_upstream())
    output = tmp_path / "out.yaml"
    output.write_bytes(b"")
    status, out, err = sync("--upstream", source, "--output", output, "--overlay", overlay)
    assert status == 0, err
    assert out.startswith("contract changes (out.yaml -> upstream 1.2.3):\n")
    assert yaml.safe_load(output.read_text(encoding="utf-8"))["info"]["version"] == "1.2.3"


def test_output_that_is_not_a_mapping_is_left_alone(sync: Sync, tmp_path: Path, overlay: Path) -> None:
    source = write_yaml(tmp_path / "upstream.yaml", mini_upstream())
    output = tmp_path / "out.yaml"
    output.write_bytes(b"- a list\n")
    status, _, err = sync("--upstream", source, "--output", output, "--overlay", overlay)
    assert status == 2
    assert err == f"sync-spec: error: current fragment {output} is not a mapping; move it away to start afresh\n"
    assert output.read_bytes() == b"- a list\n"


def test_output_in_a_missing_directory(sync: Sync, tmp_path: Path, overlay: Path) -> None:
    source = write_yaml(tmp_path / "upstream.yaml", mini_upstream())
    output = tmp_path / "missing" / "out.yaml"
    status, _, err = sync("--upstream", source, "--output", output, "--overlay", overlay)
    assert status == 2
    assert err.startswith(f"sync-spec: error: cannot write {output}: ") and err.count("\n") == 1


def test_write_keeps_the_mode_of_the_file_it_replaces(tmp_path: Path) -> None:
    new = tmp_path / "new.yaml"
    sync_spec.write_atomically(new, b"a: 1\n")
    assert stat.S_IMODE(new.stat().st_mode) == 0o644 and new.read_bytes() == b"a: 1\n"
    for mode in (0o600, 0o755):
        old = tmp_path / f"old-{mode:o}.yaml"
        old.write_bytes(b"old\n")
        old.chmod(mode)
        sync_spec.write_atomically(old, b"b: 2\n")
        assert stat.S_IMODE(old.stat().st_mode) == mode and old.read_bytes() == b"b: 2\n"


def test_failed_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "a-directory"
    target.mkdir()
    with pytest.raises(OSError):
        sync_spec.write_atomically(target, b"a: 1\n")  # a file cannot replace a directory
    assert [p.name for p in tmp_path.iterdir()] == ["a-directory"]
    assert list(target.iterdir()) == []


# ------------------------------------------------------------------ download

class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A static file server on 127.0.0.1: (base URL, its root directory)."""
    root = tmp_path / "site"
    root.mkdir()
    handler = functools.partial(QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_upstream_downloaded_from_a_url(sync: Sync, tmp_path: Path, overlay: Path,
                                        site: tuple[str, Path]) -> None:
    base, root = site
    data = json.dumps(mini_upstream()).encode()
    (root / "openapi.json").write_bytes(data)
    output = tmp_path / "out.yaml"
    url = f"{base}/openapi.json?ref=main"
    status, out, err = sync("--upstream", url, "--output", output, "--overlay", overlay)
    assert status == 0, err
    assert out.splitlines()[0].startswith(f"downloaded {url} ({len(data)} bytes, sha256 ")
    assert yaml.safe_load(output.read_text(encoding="utf-8"))["info"]["version"] == "1.2.3"


@pytest.mark.parametrize("path, name", [("specs/bad.json?x=1", "upstream.json"), ("specs/bad.yaml#x", "upstream.yaml"),
                                        ("specs/bad.json/..", "upstream.yaml"), ("specs/" + "b" * 300, "upstream.yaml")])
def test_downloaded_copy_takes_only_its_kind_from_the_url(sync: Sync, tmp_path: Path, site: tuple[str, Path],
                                                         path: str, name: str) -> None:
    # Named after the URL, '..' made the copy's path the temporary directory's parent, and 300
    # characters are too many for a file name: both ended in a traceback.
    base, root = site
    (root / "specs").mkdir()
    for served in ("bad.json", "bad.yaml"):
        (root / "specs" / served).write_bytes(b"- not a mapping\n")
    status, _, err = sync("--upstream", f"{base}/{path}", "--output", tmp_path / "out.yaml")
    assert status == 2
    assert err.startswith("sync-spec: error: ") and err.count("\n") == 1, err
    if "bad" in path:
        prefix, _, rest = err.partition(" is not an OpenAPI description")
        assert rest == " (not a mapping)\n"
        assert Path(prefix.removeprefix("sync-spec: error: ")).name == name


def test_download_name() -> None:
    assert sync_spec.download_name("https://example.test/v5/openapi.json?ref=main") == "upstream.json"
    assert sync_spec.download_name("https://example.test/v5/openapi.yaml") == "upstream.yaml"
    assert sync_spec.download_name("https://example.test/get?file=openapi.json") == "upstream.yaml"
    assert sync_spec.download_name("https://example.test/..") == "upstream.yaml"


def test_failed_download(sync: Sync, tmp_path: Path, site: tuple[str, Path]) -> None:
    base, _ = site
    status, _, err = sync("--upstream", f"{base}/missing.yaml", "--output", tmp_path / "out.yaml")
    assert status == 2
    assert err == f"sync-spec: error: cannot download {base}/missing.yaml: HTTP 404 File not found\n"
    assert not (tmp_path / "out.yaml").exists()


# ---------------------------------------------------------------- command line

def test_default_paths_are_the_repository_files() -> None:
    args = sync_spec.parse_args(["--upstream", "u.yaml"])
    assert args.output == REPO / "openapi.yaml"
    assert args.overlay == REPO / "deviations.overlay.yaml"
    assert (args.upstream, args.check, args.accept_removals, args.validate_upstream) == ("u.yaml", False, False, False)


def test_upstream_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        sync_spec.main([])
    assert stopped.value.code == 2
    assert "the following arguments are required: --upstream" in capsys.readouterr().err


def test_help_states_what_the_script_does(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        sync_spec.main(["--help"])
    assert stopped.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert out.startswith("usage: sync-spec ")
    assert "Derive openapi.yaml (POST /oauth/token) from Pinterest's full v5 OpenAPI description." in out


def test_script_imports_its_own_sibling_modules(tmp_path: Path) -> None:
    # A same-named module in the working directory (sys.path[0] for `python -c`) must not win.
    (tmp_path / "http_fetch.py").write_text("raise ImportError('the wrong http_fetch')\n", encoding="utf-8")
    code = f"import runpy; runpy.run_path({str(REPO / 'scripts' / 'sync_spec.py')!r}, run_name='not_main')"
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": ""})
    assert proc.returncode == 0, proc.stderr
