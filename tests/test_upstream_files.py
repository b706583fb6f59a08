"""upstream/ holds Pinterest's descriptions unedited, listed with their SHA-256 and provenance (issue 11)."""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
UPSTREAM = REPO / "upstream"
NOT_HASHED = {"README.md", "SHA256SUMS"}


def listed() -> dict[str, str]:
    """SHA256SUMS as file name -> hex digest."""
    entries = {}
    for line in (UPSTREAM / "SHA256SUMS").read_text(encoding="utf-8").splitlines():
        match = re.fullmatch(r"([0-9a-f]{64})  (\S+)", line)
        assert match, f"malformed SHA256SUMS line: {line!r}"
        entries[match.group(2)] = match.group(1)
    return entries


def readme_rows() -> dict[str, list[str]]:
    text = (UPSTREAM / "README.md").read_text(encoding="utf-8")
    table = text.split("<!-- upstream-files:start -->", 1)[1].split("<!-- upstream-files:end -->", 1)[0]
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in table.strip().splitlines()]
    assert rows[0] == ["file", "version", "upstream commit", "commit date", "obtained"]
    return {row[0]: row for row in rows[2:]}


def test_every_file_is_listed_and_nothing_else() -> None:
    present = {path.name for path in UPSTREAM.iterdir() if path.name not in NOT_HASHED}
    assert present == set(listed())
    assert {"LICENSE", "pinterest-api-v5.14.0.yaml", "pinterest-api-v5.18.0.yaml",
            "pinterest-api-v5.23.0.yaml"} <= present


@pytest.mark.parametrize("name", sorted(listed()))
def test_file_matches_its_sha256(name: str) -> None:
    assert hashlib.sha256((UPSTREAM / name).read_bytes()).hexdigest() == listed()[name]


def test_each_description_has_its_provenance_row() -> None:
    rows = readme_rows()
    descriptions = sorted(name for name in listed() if name.endswith(".yaml"))
    assert sorted(rows) == descriptions
    for name in descriptions:
        _, version, commit, date, obtained = rows[name]
        assert name == f"pinterest-api-v{version}.yaml"
        head = (UPSTREAM / name).read_text(encoding="utf-8").splitlines()[:10]
        assert f"  version: {version}" in head, f"{name}: info.version is not {version}"
        assert re.fullmatch(r"[0-9a-f]{40}|not recorded", commit), commit
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}|not recorded", date), date
        assert obtained
    assert rows["pinterest-api-v5.18.0.yaml"][2] == "not recorded"


def test_license_is_pinterests_mit_text() -> None:
    text = (UPSTREAM / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("Copyright © 2021 Pinterest, Inc.\n")
    assert "Permission is hereby granted, free of charge" in text


def test_make_sync_spec_default_is_the_version_openapi_yaml_comes_from() -> None:
    proc = subprocess.run(["make", "--no-print-directory", "-n", "sync-spec"], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    default = re.search(r"--upstream '([^']+)'", proc.stdout)
    assert default, proc.stdout
    path = REPO / default.group(1)
    assert path.parent == UPSTREAM and path.name in listed()
    version = re.search(r"^  version: (\S+)$", (REPO / "openapi.yaml").read_text(encoding="utf-8"), re.M)
    assert version and path.name == f"pinterest-api-v{version.group(1)}.yaml"
