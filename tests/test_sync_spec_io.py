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
from typing import Any, Callable, Iterator

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
import sync_spec  # noqa: E402

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


@pytest.fixture
def overlay(tmp_path: Path) -> Path:
    path = tmp_path / "overlay.yaml"
    path.write_text(yaml.safe_dump(NO_DEVIATIONS), encoding="utf-8")
    return path


def write_yaml(path: Path, doc: Any) -> Path:
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


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
