"""Regeneration: generated/ matches its inputs, edits flow through `make`, and drift is named."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from conftest import REPO

INPUTS = ["openapi.yaml", "generator-config.yaml", "Makefile", "requirements-tools.txt", "owned", "generated", "scripts"]


def _copy_repo(dest: Path) -> Path:
    dest.mkdir(parents=True)
    for name in INPUTS:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, symlinks=True, copy_function=shutil.copy2,
                            ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, dest / name)
    (dest / ".venv").symlink_to(REPO / ".venv")
    return dest


def _make(repo: Path, *targets: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", "--no-print-directory", *targets], cwd=repo, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.slow
def test_check_generated_passes_on_the_checked_in_tree() -> None:
    proc = _make(REPO, "check-generated")
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.slow
def test_description_edit_flows_through_make_and_drift_is_named(tmp_path: Path) -> None:
    repo = _copy_repo(tmp_path / "repo")
    spec = repo / "openapi.yaml"
    text = spec.read_text()
    assert "summary: Generate OAuth access token" in text
    spec.write_text(text.replace("summary: Generate OAuth access token", "summary: Mint a fresh Pinterest token", 1))

    proc = _make(repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    api = (repo / "generated/pinterest_oauth/api/oauth_api.py").read_text()
    assert "Mint a fresh Pinterest token" in api
    wheel = next((repo / "dist").glob("*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        assert "Mint a fresh Pinterest token" in zf.read("pinterest_oauth/api/oauth_api.py").decode()

    again = _make(repo, "generate")
    assert "up to date" in again.stdout

    assert _make(repo, "check-generated").returncode == 0
    doc = repo / "generated/docs/OauthApi.md"
    doc.write_text(doc.read_text() + "\nhand edit\n")
    (repo / "generated/pinterest_oauth/stray.py").write_text("x = 1\n")
    drift = _make(repo, "check-generated")
    assert drift.returncode != 0
    assert "differs: docs/OauthApi.md" in drift.stdout
    assert "extra:   pinterest_oauth/stray.py" in drift.stdout


@pytest.mark.slow
def test_failed_generation_leaves_generated_tree_intact(tmp_path: Path) -> None:
    repo = _copy_repo(tmp_path / "repo")
    before = {p: p.read_bytes() for p in (repo / "generated").rglob("*") if p.is_file()}
    (repo / "openapi.yaml").write_text("openapi: 3.0.3\npaths: [not, a, mapping\n")
    proc = _make(repo, "generate")
    assert proc.returncode != 0
    assert "generated/ left as it was" in proc.stderr
    after = {p: p.read_bytes() for p in (repo / "generated").rglob("*") if p.is_file()}
    assert after == before
