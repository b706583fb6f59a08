"""`scripts/bench.py --quick` runs end to end and reports every metric (no timing is asserted:
the targets are judged in the benchmark's own output)."""

from __future__ import annotations

import importlib.util
import json
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import REPO

BENCH = REPO / "scripts" / "bench.py"
CLIENTS = ("urllib3", "pinterest_oauth", "authlib")
ASYNC_CLIENTS = ("httpx2", "aiohttp", "pinterest_oauth.aio", "authlib_async")
TARGETS = {"per_call_cpu_ratio", "first_token_ratio", "import_ratio", "noop_generate_s", "full_regenerate_s"}
CHILD_KEYS = {"startup_ms", "work_ms", "to_done_ms", "process_ms", "cpu_ms", "maxrss_mib"}
# The benchmark's fake credentials and tokens must not be written anywhere.
SECRETS = ("bench-secret", "BENCHCODE0001", "pina_BENCHACCESS0001", "pinr_BENCHREFRESH0001",
           "MTIzNDU2NzpiZW5jaC1zZWNyZXQ=")


def positive_summary(summary: dict[str, Any], samples: int) -> None:
    assert len(summary["samples"]) == samples
    assert all(v > 0 for v in summary["samples"])
    assert 0 < summary["min"] <= summary["median"] <= summary["max"]


def test_quick_run_reports_every_metric(tmp_path: Path) -> None:
    out_json, out_md = tmp_path / "results.json", tmp_path / "bench.md"
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--json", str(out_json), "--markdown", str(out_md)],
        cwd=tmp_path, capture_output=True, text=True, timeout=110,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(out_json.read_text())

    per_call = results["per_call"]
    assert per_call["same_form"] is True
    trials = per_call["trials"]
    assert trials >= 2 and per_call["calls_per_trial"] > 0
    for name in CLIENTS:
        client = per_call["clients"][name]
        for key in ("cpu_us", "wall_us", "server_cpu_us"):
            positive_summary(client[key], trials)
    for name in ("pinterest_oauth", "authlib"):
        client = per_call["clients"][name]
        assert client["cpu_ratio"] > 0 and client["wall_ratio"] > 0
        positive_summary(client["cpu_ratio_per_trial"], trials)
    assert per_call["responder_cpu_share"] > 0

    per_call_async = results["per_call_async"]
    assert per_call_async["same_form"] is True and per_call_async["trials"] == trials
    assert set(per_call_async["clients"]) == set(ASYNC_CLIENTS)
    for name in ASYNC_CLIENTS:
        for key in ("cpu_us", "wall_us", "server_cpu_us"):
            positive_summary(per_call_async["clients"][name][key], trials)
    for name in ASYNC_CLIENTS[1:]:  # ratios against raw httpx2
        client = per_call_async["clients"][name]
        assert client["cpu_ratio"] > 0 and client["wall_ratio"] > 0
        positive_summary(client["cpu_ratio_per_trial"], trials)

    cold = results["cold_start"]
    expected = {"interpreter", "first_token:pydantic_floor"}
    expected |= {f"{kind}:{name}" for kind in ("import", "first_token") for name in CLIENTS}
    assert set(cold["processes"]) == expected
    for process in cold["processes"].values():
        assert set(process) == CHILD_KEYS
        for summary in process.values():
            positive_summary(summary, cold["runs"])
    for key in ("import_ratio:pinterest_oauth", "import_ratio:authlib", "first_token_ratio:pinterest_oauth",
                "first_token_ratio:authlib", "first_token_ratio:pydantic_floor"):
        assert cold[key] > 0

    assert "regeneration" not in results  # --quick skips it
    targets = results["targets"]
    assert set(targets) == TARGETS
    for name in ("per_call_cpu_ratio", "first_token_ratio", "import_ratio"):
        assert targets[name]["value"] > 0 and isinstance(targets[name]["met"], bool)
    for name in ("noop_generate_s", "full_regenerate_s"):
        assert targets[name]["value"] is None and targets[name]["met"] is None

    machine = results["machine"]
    assert machine["cores"] >= 1 and machine["python"] == platform.python_version()

    table = out_md.read_text()
    assert f"Machine: {machine['cpu']}, {machine['cores']} cores" in table
    assert "| CPU per call (keep-alive) | " in table
    assert "| process start to first parsed token | " in table
    assert f"{per_call['clients']['pinterest_oauth']['cpu_ratio']:.2f}x" in table
    assert "## Async per call" in table and "| pinterest_oauth.aio (b) | " in table
    assert f"{per_call_async['clients']['pinterest_oauth.aio']['cpu_ratio']:.2f}x" in table
    for name in TARGETS:
        assert f"| {name} | " in table
    assert table in proc.stdout

    for text in (out_json.read_text(), table, proc.stdout, proc.stderr):
        for secret in SECRETS:
            assert secret not in text


def _bench_module() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_under_test", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_block_is_replaced_and_nothing_else(tmp_path: Path) -> None:
    bench = _bench_module()
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\nbefore\n{bench.README_START}\nold table\n{bench.README_END}\nafter\n")
    bench.update_readme(readme, "| new | table |")
    assert readme.read_text() == (
        f"# Title\n\nbefore\n{bench.README_START}\n| new | table |\n{bench.README_END}\nafter\n"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["README.md"]


def test_a_readme_without_its_markers_is_refused_untouched(tmp_path: Path) -> None:
    bench = _bench_module()
    readme = tmp_path / "README.md"
    for text in ("no markers\n", f"{bench.README_END}\n{bench.README_START}\n",
                 f"{bench.README_START}\n{bench.README_START}\n{bench.README_END}\n"):
        readme.write_text(text)
        with pytest.raises(SystemExit, match="needs one"):
            bench.update_readme(readme, "x")
        assert readme.read_text() == text


def test_the_maintainers_document_has_the_bench_block_and_bench_writes_there() -> None:
    bench = _bench_module()
    head, tail = bench.readme_parts(REPO / "docs" / "MAINTAINERS.md")
    assert "## Performance" in head and tail.strip()
    assert bench.README_START not in (REPO / "README.md").read_text(encoding="utf-8")  # users' README has no tables to rewrite
    assert '"docs" / "MAINTAINERS.md"' in (REPO / "scripts" / "bench.py").read_text(encoding="utf-8")


def test_make_mutate_writes_its_scores_into_the_maintainers_document() -> None:
    spec = importlib.util.spec_from_file_location("mutate_script", REPO / "scripts" / "mutate.py")
    assert spec is not None and spec.loader is not None
    mutate = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mutate  # its dataclasses look their module up
    try:
        spec.loader.exec_module(mutate)
    finally:
        del sys.modules[spec.name]
    assert mutate.README == REPO / "docs" / "MAINTAINERS.md"
    text = mutate.README.read_text(encoding="utf-8")
    assert text.count(mutate.README_BEGIN) == 1 and text.count(mutate.README_END) == 1
    assert mutate.README_BEGIN not in (REPO / "README.md").read_text(encoding="utf-8")
