"""The repository needs nothing beside it (issue 11).

The fast test reads every tracked file for a path into a sibling folder; the slow one clones
the committed HEAD into an empty directory and runs the README's commands there (`make` and
`make test-fast`, which excludes this slow test, so it does not recurse). Uncommitted changes
are not part of the clone: commit first.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SIBLING = "../" + "shar" + "ed"  # built at runtime, so this file does not match itself


def tracked_files() -> list[str]:
    proc = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, timeout=60, check=True)
    return [name for name in proc.stdout.decode().split("\0") if name]


def test_no_tracked_file_refers_to_the_sibling_folder() -> None:
    names = tracked_files()
    assert "Makefile" in names and "README.md" in names
    offenders = []
    for name in names:
        path = REPO / name
        if path.is_file() and SIBLING.encode() in path.read_bytes():
            offenders.append(name)
    assert offenders == []


def _clean_env(home: Path) -> dict[str, str]:
    """The caller's environment minus its virtualenv and make state; pip keeps its cache."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(part for part in env.get("PATH", "").split(os.pathsep) if part != venv_bin)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.setdefault("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip"))
    env.pop("PIP_NO_CACHE_DIR", None)
    env["TMPDIR"] = str(home)
    return env


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_bare_clone_builds_and_passes(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True,
                          timeout=60, check=True).stdout.strip()
    clone = empty / "repo"
    subprocess.run(["git", "clone", "--quiet", "--no-checkout", str(REPO), str(clone)], check=True, timeout=300)
    subprocess.run(["git", "checkout", "--quiet", head], cwd=clone, check=True, timeout=120)
    assert [p.name for p in empty.iterdir()] == ["repo"]  # nothing beside the clone
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = _clean_env(scratch)
    for target in ("all", "test-fast"):
        proc = subprocess.run(["make", target], cwd=clone, env=env, capture_output=True, text=True, timeout=420)
        assert proc.returncode == 0, f"make {target} in a bare clone failed:\n{(proc.stdout + proc.stderr)[-6000:]}"
    assert re.search(r"\b\d+ passed\b", proc.stdout.splitlines()[-1]), proc.stdout[-2000:]
    status = subprocess.run(["git", "status", "--porcelain"], cwd=clone, capture_output=True, text=True,
                            timeout=60, check=True).stdout
    assert status == "", f"make changed tracked files or left untracked ones:\n{status}"
