"""Downloading Pinterest's description: `sync-spec --upstream URL` and `update-upstream` (issue 11).

Served by the scripted server on 127.0.0.1; "offline" is a port nothing listens on.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from localserver import Reply, TokenServer

REPO = Path(__file__).resolve().parents[1]
V523 = REPO / "upstream" / "pinterest-api-v5.23.0.yaml"
#: The upstream description the checked-in openapi.yaml was derived from (its info.version).
SOURCE = REPO / "upstream" / f"pinterest-api-v{yaml.safe_load((REPO / 'openapi.yaml').read_text(encoding='utf-8'))['info']['version']}.yaml"
YAML = [("Content-Type", "text/plain; charset=utf-8")]

sys.path.insert(0, str(REPO / "scripts"))
import http_fetch  # noqa: E402
import update_upstream  # noqa: E402


def base(server: TokenServer) -> str:
    return f"http://127.0.0.1:{server.port}"


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/pinterest/api-description/v5.23.0/v5/openapi.yaml"


def one_line_error(err: str, prefix: str) -> str:
    assert err.count("\n") == 1 and err.startswith(prefix), err
    return err


def run_script(name: str, *args: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(REPO / "scripts" / name), *map(str, args)],
                          capture_output=True, text=True, timeout=120)


# ------------------------------------------------------------------ sync-spec --upstream URL

def test_sync_spec_from_a_url_matches_the_checked_in_fragment(tmp_path: Path) -> None:
    output = tmp_path / "openapi.yaml"
    with TokenServer(default=Reply(headers=YAML, body=SOURCE.read_bytes())) as server:
        proc = run_script("sync_spec.py", "--upstream", f"{base(server)}/spec/openapi.yaml", "--output", output)
    assert proc.returncode == 0, proc.stderr
    digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()
    assert proc.stdout.splitlines()[0] == (f"downloaded {base(server)}/spec/openapi.yaml "
                                           f"({SOURCE.stat().st_size} bytes, sha256 {digest})")
    assert output.read_bytes() == (REPO / "openapi.yaml").read_bytes()
    assert [(seen.method, seen.path) for seen in server.requests] == [("GET", "/spec/openapi.yaml")]


def test_sync_spec_offline_is_one_line_and_touches_nothing(tmp_path: Path) -> None:
    output = tmp_path / "openapi.yaml"
    output.write_bytes(b"previous\n")
    url = closed_port_url()
    proc = run_script("sync_spec.py", "--upstream", url, "--output", output)
    assert proc.returncode == 2 and proc.stdout == ""
    err = one_line_error(proc.stderr, f"sync-spec: error: cannot download {url}: cannot connect to 127.0.0.1")
    assert "offline" in err and "refused" in err.lower()
    assert output.read_bytes() == b"previous\n"
    assert [p.name for p in tmp_path.iterdir()] == ["openapi.yaml"]


def test_sync_spec_http_error_and_not_openapi(tmp_path: Path) -> None:
    output = tmp_path / "openapi.yaml"
    output.write_bytes(b"previous\n")
    with TokenServer() as server:
        server.enqueue(Reply(status=404, headers=YAML, body=b"404: Not Found"),
                       Reply(headers=YAML, body=b"<html>a login page</html>\n"))
        missing = run_script("sync_spec.py", "--upstream", f"{base(server)}/v9.9.9/v5/openapi.yaml", "--output", output)
        garbage = run_script("sync_spec.py", "--upstream", f"{base(server)}/x.yaml", "--output", output)
    one_line_error(missing.stderr, "sync-spec: error: cannot download ")
    assert missing.returncode == 2 and "HTTP 404" in missing.stderr
    assert garbage.returncode == 2 and "not a mapping" in one_line_error(garbage.stderr, "sync-spec: error: ")
    assert output.read_bytes() == b"previous\n"


# ------------------------------------------------------------------ the download's bounds

def test_plain_http_only_to_loopback() -> None:
    for url in ("http://example.com/openapi.yaml", "ftp://127.0.0.1/x", "file:///etc/passwd"):
        with pytest.raises(http_fetch.FetchError, match="only https:// URLs"):
            http_fetch.download(url, io.BytesIO())


def test_size_limit_declared_and_streamed() -> None:
    bomb = gzip.compress(b"x" * 50_000)  # ~100 bytes on the wire, 50 kB decoded
    with TokenServer() as server:
        server.enqueue(Reply(headers=YAML, body=b"x" * 5000),
                       Reply(headers=YAML + [("Content-Encoding", "gzip")], body=bomb))
        out = io.BytesIO()
        with pytest.raises(http_fetch.FetchError, match="5000 bytes is over the 4096-byte limit"):
            http_fetch.download(f"{base(server)}/declared", out, max_bytes=4096)
        assert out.getvalue() == b""
        with pytest.raises(http_fetch.FetchError, match="more than the 4096-byte limit"):
            http_fetch.download(f"{base(server)}/streamed", out, max_bytes=4096)
    assert len(bomb) < 4096 and len(out.getvalue()) <= 4096


def test_silent_server_times_out() -> None:
    with TokenServer(default=Reply(action="hang")) as server:
        started = time.monotonic()
        with pytest.raises(http_fetch.FetchError, match=r"^cannot download .*: timed out talking to 127\.0\.0\.1"):
            http_fetch.download(f"{base(server)}/slow", io.BytesIO(), read_timeout=0.5)
        assert time.monotonic() - started < 15


def test_download_returns_size_and_sha256(tmp_path: Path) -> None:
    body = b"openapi: 3.0.3\n" * 1000
    with TokenServer(default=Reply(headers=YAML, body=body)) as server:
        size, digest = http_fetch.download_to(f"{base(server)}/ok", tmp_path / "f.yaml")
    assert (size, digest) == (len(body), hashlib.sha256(body).hexdigest())
    assert (tmp_path / "f.yaml").read_bytes() == body


# ------------------------------------------------------------------ update-upstream

@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A copy of upstream/'s bookkeeping (README, SHA256SUMS, LICENSE) and one description."""
    target = tmp_path / "upstream"
    target.mkdir()
    for name in ("README.md", "SHA256SUMS", "LICENSE", "pinterest-api-v5.23.0.yaml"):
        shutil.copy2(REPO / "upstream" / name, target / name)
    return target


def snapshot(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in folder.iterdir()}


def spec_of_version(version: str) -> bytes:
    data = V523.read_bytes()
    assert data.count(b"\n  version: 5.23.0\n") == 1
    return data.replace(b"\n  version: 5.23.0\n", f"\n  version: {version}\n".encode())


def test_update_upstream_writes_file_sum_and_row(folder: Path) -> None:
    body = spec_of_version("5.99.0")
    before = snapshot(folder)
    with TokenServer(default=Reply(headers=YAML, body=body)) as server:
        url_base = f"{base(server)}/pinterest/api-description"
        proc = run_script("update_upstream.py", "--version", "5.99.0", "--base-url", url_base, "--dir", folder)
        again = run_script("update_upstream.py", "--version", "5.99.0", "--base-url", url_base, "--dir", folder)
    assert proc.returncode == 0, proc.stderr
    assert [seen.path for seen in server.requests] == ["/pinterest/api-description/v5.99.0/v5/openapi.yaml"] * 2
    written = folder / "pinterest-api-v5.99.0.yaml"
    assert written.read_bytes() == body
    digest = hashlib.sha256(body).hexdigest()
    sums = (folder / "SHA256SUMS").read_text(encoding="utf-8").splitlines()
    assert sums == before["SHA256SUMS"].decode().splitlines()[:-1] + [f"{digest}  {written.name}", sums[-1]]
    assert sums[-1].endswith("  LICENSE")
    readme = (folder / "README.md").read_text(encoding="utf-8")
    row = [line for line in readme.splitlines() if line.startswith(f"| {written.name} |")]
    assert len(row) == 1 and row[0].startswith(f"| {written.name} | 5.99.0 | not recorded | not recorded | "
                                               f"make update-upstream from {url_base}/v5.99.0/v5/openapi.yaml, ")
    assert readme.replace(row[0] + "\n", "") == before["README.md"].decode()
    assert again.returncode == 0 and "already present" in again.stdout
    assert (folder / "README.md").read_text(encoding="utf-8") == readme
    assert sorted(snapshot(folder)) == sorted([*before, written.name])  # no temporary file left


def test_update_upstream_records_a_given_ref_and_commit(folder: Path) -> None:
    commit = "0123456789abcdef0123456789abcdef01234567"
    with TokenServer(default=Reply(headers=YAML, body=spec_of_version("5.99.1"))) as server:
        proc = run_script("update_upstream.py", "--version", "5.99.1", "--base-url", base(server), "--ref", "main",
                          "--commit", commit, "--dir", folder)
    assert proc.returncode == 0, proc.stderr
    assert [seen.path for seen in server.requests] == ["/main/v5/openapi.yaml"]
    assert f"| pinterest-api-v5.99.1.yaml | 5.99.1 | {commit} | not recorded |" in (
        folder / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("reply, version, message", [
    (Reply(status=404, headers=YAML, body=b"404: Not Found"), "5.99.0", "HTTP 404"),
    (Reply(headers=YAML, body=V523.read_bytes()), "5.99.0", "describes version 5.23.0, not 5.99.0"),
    (Reply(headers=YAML, body=b"title: not openapi\n"), "5.99.0", "not an OpenAPI 3.x description"),
    (Reply(headers=YAML, body=spec_of_version("5.23.0").replace(b"sha", b"shA", 1)), "5.23.0",
     "exists with other content"),
    (None, "5.99.0", "cannot connect to 127.0.0.1"),
    (None, "5.99", "VERSION must look like 5.28.0"),
])
def test_update_upstream_failures_write_nothing(folder: Path, reply: Reply | None, version: str,
                                                message: str) -> None:
    before = snapshot(folder)
    if reply is None:
        url_base = closed_port_url().split("/pinterest/")[0]
        proc = run_script("update_upstream.py", "--version", version, "--base-url", url_base, "--dir", folder)
    else:
        with TokenServer(default=reply) as server:
            proc = run_script("update_upstream.py", "--version", version, "--base-url", base(server), "--dir", folder)
    assert proc.returncode == 2 and proc.stdout == ""
    assert message in one_line_error(proc.stderr, "update-upstream: error: ")
    assert snapshot(folder) == before


def test_sums_and_rows_sort_by_version_number() -> None:
    sums = update_upstream.sums_with("a  LICENSE\nb  pinterest-api-v5.9.0.yaml\n", "pinterest-api-v5.10.0.yaml", "c")
    assert sums == "b  pinterest-api-v5.9.0.yaml\nc  pinterest-api-v5.10.0.yaml\na  LICENSE\n"
