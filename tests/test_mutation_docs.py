"""The mutation report's data files (read by scripts/mutate.py) stay consistent with the code:
every equivalent names a module `make mutate` knows and a line that is still in its source."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))

import mutate  # noqa: E402

KEYS = {"module", "operator", "line", "to", "equivalent", "reason"}


def test_every_equivalent_is_complete_and_names_a_line_of_the_current_source() -> None:
    entries = yaml.safe_load(mutate.EQUIVALENTS.read_text(encoding="utf-8"))
    assert isinstance(entries, list) and entries
    for entry in entries:
        assert set(entry) <= KEYS and {"module", "operator", "line", "reason"} <= set(entry), entry
        assert entry["module"] in mutate.TARGETS, entry
        source = mutate.TARGETS[entry["module"]].source().read_text(encoding="utf-8")
        assert entry["line"].strip() in {line.strip() for line in source.splitlines()}, entry
        assert isinstance(entry.get("equivalent", True), bool) and entry["reason"].strip(), entry


def test_recorded_results_name_known_modules() -> None:
    if not mutate.RESULTS.exists():
        return
    for name, record in json.loads(mutate.RESULTS.read_text(encoding="utf-8")).items():
        assert name in mutate.TARGETS
        assert {"measured", "source", "outcomes", "survivors"} <= set(record)
        assert all(isinstance(n, int) and n >= 0 for n in record["outcomes"].values())
