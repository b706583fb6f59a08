"""Mutation testing of the owned code with cosmic-ray, one module at a time (`make mutate`).

    python scripts/mutate.py                      # every module, each within its time box
    python scripts/mutate.py transport stores     # just these
    python scripts/mutate.py --minutes 3 session  # a different time box (per module)
    python scripts/mutate.py --fresh errors       # forget earlier results, start over
    python scripts/mutate.py --survivors redact   # run only the mutants that survived last time
    python scripts/mutate.py --report             # rewrite docs/mutation.md from the sessions

The tests import the *installed* wheel, so a runtime module is mutated where the tests import
it: the copy in .venv's site-packages (cosmic-ray's `module-path` points there). cosmic-ray
writes one mutant at a time into that file, runs the module's own test selection (`pytest -x`,
so a killed mutant costs one failing test), and puts the original back. This script checks
that the installed copy is byte-identical to owned/lib before starting, keeps its own copy,
and restores it whatever happens (an interrupted run included).

Sessions (.mutation/<module>.sqlite) persist: a run that hits its time box stops after the
current mutant and the next run goes on from there. A session is rebuilt when the module's
source or the operator set changed; added tests do not invalidate a kill, so after adding tests
`--survivors` re-runs only what survived (`--fresh` re-runs everything, e.g. after removing one). The report (docs/mutation.md, between
its markers) counts killed / survived / timeout per module and lists every survivor, marked
equivalent when docs/mutation-equivalents.yaml explains it.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import shlex
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".mutation"
REPORT = ROOT / "docs" / "mutation.md"
README = ROOT / "docs" / "MAINTAINERS.md"  # its "How good the tests are" section shows the scores
EQUIVALENTS = ROOT / "docs" / "mutation-equivalents.yaml"
# What each module's last session found, checked in: a report written on a machine without an
# earlier session (a fresh clone, another developer) keeps the other modules' results.
RESULTS = ROOT / "docs" / "mutation-results.json"
BEGIN, END = "<!-- mutation:begin -->", "<!-- mutation:end -->"
README_BEGIN, README_END = "<!-- mutation-scores:start -->", "<!-- mutation-scores:end -->"
# A mutant that makes a test hang (say, a lock never released) is stopped by pytest-timeout after
# PER_TEST_TIMEOUT_S and counted as a timeout (caught); cosmic-ray's own limit is the backstop.
PER_TEST_TIMEOUT_S = 20
PER_MUTANT_TIMEOUT_S = 300.0
DEFAULT_MINUTES = 6.0

# Operators whose mutants are all but duplicates of a kept one are filtered out: of the
# cartesian product of binary / comparison operators keep the realistic slips (+/-, * and /,
# | and &, off-by-one boundaries, negations, is / is not, in / not in); of the unary ones,
# dropping a `not` or a minus. Everything else cosmic-ray has (AddNot, numbers, booleans,
# and/or, exceptions, loops, break/continue, decorators) stays.
EXCLUDED_OPERATORS = [
    r"core/ReplaceBinaryOperator_(?!(Add_Sub|Sub_Add|Mul_Div|Div_Mul|FloorDiv_Div|Pow_Mul|Mod_FloorDiv"
    r"|BitOr_BitAnd|BitAnd_BitOr)$)",
    r"core/ReplaceComparisonOperator_(?!(Eq_NotEq|NotEq_Eq|Lt_LtE|LtE_Lt|Gt_GtE|GtE_Gt|Is_IsNot|IsNot_Is"
    r"|In_NotIn|NotIn_In)$)",
    r"core/ReplaceUnaryOperator_(?!(Delete_Not|Delete_USub)$)",
]


@dataclass(frozen=True)
class Target:
    """A module to mutate and the tests that exercise it (first the quickest to fail)."""

    name: str
    tests: tuple[str, ...]
    runtime: bool = True  # owned/lib module, mutated in the installed copy; else a script

    def source(self) -> Path:
        return ROOT / ("owned/lib" if self.runtime else "scripts") / f"{self.name}.py"

    def mutated_file(self) -> Path:
        return installed_lib() / f"{self.name}.py" if self.runtime else self.source()


TARGETS = {t.name: t for t in [
    Target("errors", ("tests/test_errors.py", "tests/test_session.py", "tests/test_session_retry_after.py",
                      "tests/test_secrets.py")),
    Target("redact", ("tests/test_redact.py", "tests/test_secrets.py", "tests/test_errors.py",
                      "tests/test_tokens.py")),
    Target("transport", ("tests/test_transport_details.py", "tests/test_https_only.py", "tests/test_errors.py",
                         "tests/test_retries_timeouts.py", "tests/test_connections.py",
                         "tests/test_credentials_change.py", "tests/test_secrets.py", "tests/test_bounded_calls.py",
                         "tests/test_guiding_errors.py")),
    Target("tokens", ("tests/test_tokens.py", "tests/test_stores.py", "tests/test_session.py",
                      "tests/test_session_retry_after.py")),
    Target("stores", ("tests/test_store_durability.py", "tests/test_stores.py", "tests/test_session.py",
                      "tests/test_session_single_flight.py", "tests/test_guiding_errors.py")),
    Target("session", ("tests/test_session_details.py", "tests/test_session.py", "tests/test_session_single_flight.py",
                       "tests/test_session_retry_after.py", "tests/test_session_leases.py",
                       "tests/test_readme_examples.py")),
    Target("operations", ("tests/test_operations.py", "tests/test_generated_client.py", "tests/test_errors.py",
                          "tests/test_contract.py")),
    Target("client", ("tests/test_generated_client.py", "tests/test_contract.py", "tests/test_credentials_change.py",
                      "tests/test_https_only.py", "tests/test_guiding_errors.py", "tests/test_errors.py",
                      "tests/test_bounded_calls.py", "tests/test_lossless_serialization.py", "tests/test_secrets.py")),
    Target("calls", ("tests/test_generated_client.py", "tests/test_operations.py", "tests/test_errors.py",
                     "tests/test_credentials_change.py", "tests/test_contract.py", "tests/test_guiding_errors.py",
                     "tests/test_retries_timeouts.py", "tests/test_aio_contract.py")),
    Target("responses", ("tests/test_responses.py", "tests/test_contract.py", "tests/test_generated_client.py",
                         "tests/test_lossless_serialization.py", "tests/test_contract_mutations.py",
                         "tests/test_errors.py", "tests/test_bounded_calls.py")),
    Target("model_base", ("tests/test_model_base.py", "tests/test_lossless_serialization.py", "tests/test_generated_client.py",
                          "tests/test_contract.py", "tests/test_tokens.py")),
    Target("aio_transport", ("tests/test_aio_transport_details.py", "tests/test_aio_client.py", "tests/test_aio_contract.py",
                             "tests/test_aio_mirror.py")),
    Target("aio_client", ("tests/test_aio_client_api.py", "tests/test_aio_client.py", "tests/test_aio_contract.py",
                          "tests/test_aio_mirror.py")),
    Target("aio_session", ("tests/test_aio_session.py", "tests/test_aio_client.py", "tests/test_aio_mirror.py")),
    Target("authorize", ("tests/test_authorize.py", "tests/test_cli_login.py", "tests/test_errors.py")),
    Target("loopback", ("tests/test_loopback.py", "tests/test_cli_login.py", "tests/test_authorize.py")),
    Target("cli", ("tests/test_cli.py", "tests/test_cli_login.py")),
    Target("postgres_store", ("tests/test_postgres_store_details.py", "tests/test_postgres_store.py", "tests/test_readme_examples.py::test_the_many_machines_example")),
    Target("generate", ("tests/test_generate_script.py",), runtime=False),
    Target("sync_spec", ("tests/test_sync_spec_canonical.py", "tests/test_sync_spec_io.py", "tests/test_sync_spec.py"),
           runtime=False),
]}
def installed_lib() -> Path:
    spec = importlib.util.find_spec("pinterest_oauth")
    if spec is None or spec.origin is None:
        raise SystemExit("mutate: pinterest_oauth is not installed in this interpreter; run `make install-wheel`")
    lib = Path(spec.origin).parent / "lib"
    if ROOT / "generated" in lib.parents:
        raise SystemExit(f"mutate: pinterest_oauth is imported from the source tree ({lib}); install the wheel")
    return lib


def test_command(target: Target) -> str:
    args = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-m", "not slow",
            f"--timeout={PER_TEST_TIMEOUT_S}", *target.tests]
    return shlex.join(args)


def digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def cosmic_ray(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / args[0]
    return subprocess.run([str(exe), *args[1:]], cwd=ROOT, text=True, capture_output=True, **kwargs)


def prepare(target: Target, fresh: bool) -> Path:
    """The module's session, (re)built when its source, tests or operators changed."""
    WORK.mkdir(exist_ok=True)
    config, session, stamp = (WORK / f"{target.name}.{ext}" for ext in ("toml", "sqlite", "stamp"))
    key = source_key(target.name)
    config.write_text(
        "[cosmic-ray]\n"
        f"module-path = {json.dumps(str(target.mutated_file()))}\n"
        f"timeout = {PER_MUTANT_TIMEOUT_S}\n"
        "excluded-modules = []\n"
        f"test-command = {json.dumps(test_command(target))}\n"
        "[cosmic-ray.distributor]\nname = \"local\"\n"
        "[cosmic-ray.filters.operators-filter]\n"
        f"exclude-operators = {json.dumps(EXCLUDED_OPERATORS)}\n"
    )
    if not fresh and session.exists() and stamp.exists() and stamp.read_text() == key:
        relocate(session, target.mutated_file())  # same source, maybe another virtualenv's copy
        return session
    session.unlink(missing_ok=True)
    for step in (("cosmic-ray", "init", str(config), str(session)),
                 ("cr-filter-operators", str(session), str(config))):
        done = cosmic_ray(*step)
        if done.returncode != 0:
            raise SystemExit(f"mutate: {' '.join(step[:2])} failed:\n{done.stdout}{done.stderr}")
    stamp.write_text(key)
    return session


def forget_survivors(session: Path) -> None:
    """Make the mutants that survived pending again."""
    db = sqlite3.connect(session)
    try:
        with db:
            db.execute("DELETE FROM work_results WHERE lower(worker_outcome) = 'normal' "
                       "AND lower(test_outcome) = 'survived'")
    finally:
        db.close()


def relocate(session: Path, path: Path) -> None:
    """Point a session's mutants at `path` (the same source installed in another virtualenv)."""
    db = sqlite3.connect(session)
    try:
        with db:
            db.execute("UPDATE mutation_specs SET module_path = ? WHERE module_path != ?", (str(path), str(path)))
    finally:
        db.close()


def run(target: Target, minutes: float, fresh: bool, survivors: bool = False) -> None:
    mutated = target.mutated_file()
    original = target.source().read_bytes()
    if mutated.read_bytes() != original:
        raise SystemExit(f"mutate: {mutated} differs from {target.source()}; run `make install-wheel` first")
    session = prepare(target, fresh)
    if survivors:
        forget_survivors(session)
    backup = WORK / f"{target.name}.orig.py"
    backup.write_bytes(original)
    for pyc in (mutated.parent / "__pycache__").glob(f"{target.name}.*.pyc"):
        pyc.unlink()  # compiled from source every time (cosmic-ray also stops new .pyc files)
    try:
        baseline = subprocess.run(shlex.split(test_command(target)), cwd=ROOT, capture_output=True, text=True)
        if baseline.returncode != 0:
            raise SystemExit(f"mutate: {target.name}: the tests fail without any mutant:\n{baseline.stdout[-3000:]}")
        print(f"mutate: {target.name}: {counts(session)['pending']} mutants to run (time box {minutes:g} min)",
              flush=True)
        exe = Path(sys.executable).parent / "cosmic-ray"
        proc = subprocess.Popen([str(exe), "exec", str(WORK / f"{target.name}.toml"), str(session)], cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            proc.wait(timeout=minutes * 60)
        except subprocess.TimeoutExpired:
            stop(proc)
            print(f"mutate: {target.name}: time box reached; `make mutate` goes on from here", flush=True)
        except KeyboardInterrupt:
            stop(proc)
            raise
    finally:
        if mutated.read_bytes() != original:
            print(f"mutate: restoring {mutated}", file=sys.stderr)
        mutated.write_bytes(original)  # whatever happened, the module is the original again
        backup.unlink(missing_ok=True)
    c = counts(session)
    print(f"mutate: {target.name}: killed {c['killed']}, survived {c['survived']}, timeout {c['timeout']}, "
          f"pending {c['pending']} ({score(c)})", flush=True)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop `cosmic-ray exec` after its current mutant: SIGINT lets it put the module back (and
    record nothing for that mutant, which the next run picks up); SIGKILL if it does not end."""
    os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=PER_MUTANT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def results(session: Path) -> list[dict[str, Any]]:
    """One row per mutant that was not filtered out."""
    db = sqlite3.connect(session)
    try:
        rows = db.execute(
            "SELECT m.operator_name, m.start_pos_row, m.start_pos_col, r.worker_outcome, r.test_outcome, r.output, "
            "r.diff FROM mutation_specs m LEFT JOIN work_results r ON r.job_id = m.job_id ORDER BY m.start_pos_row")
        keys = ("operator", "line", "col", "worker", "test", "output", "diff")
        return [dict(zip(keys, row)) for row in rows if (row[3] or "").lower() != "skipped"]
    finally:
        db.close()


def outcome(row: dict[str, Any]) -> str:
    worker, test = (row["worker"] or "").lower(), (row["test"] or "").lower()
    if not worker:
        return "pending"
    if worker != "normal":
        return "incompetent" if worker != "no-test" else "no-test"
    if test == "killed":
        output = row["output"] or ""
        return "timeout" if output == "timeout" or "Timeout (>" in output else "killed"
    return test  # survived / incompetent


def counts(session: Path) -> dict[str, int]:
    c = {k: 0 for k in ("killed", "timeout", "survived", "incompetent", "no-test", "pending")}
    for row in results(session):
        c[outcome(row)] += 1
    return c


def score(c: dict[str, int]) -> str:
    done = c["killed"] + c["timeout"] + c["survived"]
    return f"{100 * (c['killed'] + c['timeout']) / done:.1f}% killed" if done else "nothing run"


def mutated_line(row: dict[str, Any]) -> str:
    """The changed source line, from cosmic-ray's diff (`-old` / `+new`)."""
    lines = (row["diff"] or "").splitlines()
    old = next((l[1:].strip() for l in lines if l.startswith("-") and not l.startswith("---")), "")
    new = next((l[1:].strip() for l in lines if l.startswith("+") and not l.startswith("+++")), "")
    return f"`{old}` → `{new}`"


def load_equivalents() -> list[dict[str, Any]]:
    if not EQUIVALENTS.exists():
        return []
    import yaml

    return list(yaml.safe_load(EQUIVALENTS.read_text()) or [])


def explanation(module: str, row: dict[str, Any], equivalents: list[dict[str, Any]]) -> Optional[tuple[bool, str]]:
    """(equivalent?, reason) for a survivor listed in the equivalents file, else None. An entry
    with `equivalent: false` explains a known, accepted survivor that still counts against the score."""
    lines = (row["diff"] or "").splitlines()
    old = next((l[1:].strip() for l in lines if l.startswith("-") and not l.startswith("---")), "")
    new = next((l[1:].strip() for l in lines if l.startswith("+") and not l.startswith("+++")), "")
    for entry in equivalents:
        if (entry["module"] == module and entry["operator"] == row["operator"].removeprefix("core/")
                and entry["line"].strip() == old and entry.get("to", new).strip() == new):
            return bool(entry.get("equivalent", True)), entry["reason"]
    return None


def source_key(name: str) -> str:
    """What a session was built from: the module's source and the operator set."""
    return digest(TARGETS[name].source().read_text(), json.dumps(EXCLUDED_OPERATORS))


def load_results() -> dict[str, Any]:
    return json.loads(RESULTS.read_text()) if RESULTS.exists() else {}


def recorded(name: str, saved: dict[str, Any]) -> Optional[dict[str, Any]]:
    """The module's results: from its session when there is one (and saved for later), else the
    checked-in record of the last session; None if it never ran."""
    session, stamp = WORK / f"{name}.sqlite", WORK / f"{name}.stamp"
    if session.exists() and stamp.exists():
        rows = results(session)
        saved[name] = {
            "measured": time.strftime("%Y-%m-%d", time.gmtime(session.stat().st_mtime)),
            "source": stamp.read_text().strip(),
            "outcomes": {k: v for k, v in counts(session).items() if v},
            "survivors": [{"operator": r["operator"], "line": r["line"], "diff": r["diff"]}
                          for r in rows if outcome(r) == "survived"],
        }
    return saved.get(name)


def summarize(name: str, record: dict[str, Any], equivalents: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts and survivors of one module's record."""
    c: dict[str, Any] = {k: record["outcomes"].get(k, 0)
                         for k in ("killed", "timeout", "survived", "incompetent", "no-test", "pending")}
    survivors = [(r, explanation(name, r, equivalents)) for r in record["survivors"]]
    equivalent = sum(1 for _, why in survivors if why and why[0])
    explained = sum(1 for _, why in survivors if why)
    judged = c["killed"] + c["timeout"] + c["survived"] - equivalent
    c.update(mutants=sum(c.values()), equivalent=equivalent, unexplained=len(survivors) - explained,
             score=f"{100 * (c['killed'] + c['timeout']) / judged:.1f}%" if judged else "-")
    return {"counts": c, "survivors": survivors}


def describe(why: Optional[tuple[bool, str]]) -> str:
    if why is None:
        return "UNEXPLAINED"
    return ("equivalent: " if why[0] else "not equivalent, accepted: ") + why[1]


def report() -> tuple[str, str]:
    """The full report (docs/mutation.md) and the maintainers' score table; updates RESULTS."""
    equivalents = load_equivalents()
    saved = load_results()
    full = ["| module | mutants | killed | timeout | survived | of which equivalent | unexplained | not run yet "
            "| score | measured |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    short = ["| module | mutants | killed + timeout | equivalent | unexplained | not run yet | score |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    details: list[str] = []
    for name in TARGETS:
        record = recorded(name, saved)
        if record is None:
            full.append(f"| {name} | not run | | | | | | | | |")
            short.append(f"| {name} | not run | | | | | |")
            continue
        summary = summarize(name, record, equivalents)
        c = summary["counts"]
        stale = "" if record["source"] == source_key(name) else " (source changed since)"
        full.append(f"| {name} | {c['mutants']} | {c['killed']} | {c['timeout']} | {c['survived']} | "
                    f"{c['equivalent']} | {c['unexplained']} | {c['pending']} | {c['score']} | "
                    f"{record['measured']}{stale} |")
        short.append(f"| {name} | {c['mutants']} | {c['killed'] + c['timeout']} | {c['equivalent']} | "
                     f"{c['unexplained']} | {c['pending']} | {c['score']} |")
        if summary["survivors"]:
            details.append(f"\n**{name}** survivors:\n")
            for row, why in summary["survivors"]:
                details.append(f"- line {row['line']}, {row['operator'].removeprefix('core/')}: {mutated_line(row)}"
                               f" — {describe(why)}")
    RESULTS.write_text(json.dumps(saved, indent=1, sort_keys=True) + "\n")
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    note = ("Score = (killed + timeout) / (mutants run − equivalent survivors). "
            f"Report written {when}.")
    full_text = "\n".join(full + ["", note, *details]) + "\n"
    short_text = "\n".join(short + ["", note]) + "\n"
    return full_text, short_text


def replace_between(path: Path, begin: str, end: str, body: str) -> None:
    """Rewrite the text between two marker lines of `path`, atomically."""
    text = path.read_text()
    if text.count(begin) != 1 or text.count(end) != 1:
        raise SystemExit(f"mutate: {path} needs one {begin} and one {end} marker")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(f"{head}{begin}\n{body}{end}{tail}")
    tmp.replace(path)


def write_report() -> None:
    full, short = report()
    replace_between(REPORT, BEGIN, END, full)
    replace_between(README, README_BEGIN, README_END, short)
    print(f"mutate: wrote {REPORT.relative_to(ROOT)} and the table in {README.relative_to(ROOT)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help=f"any of {', '.join(TARGETS)} (default: all)")
    parser.add_argument("--minutes", type=float, default=float(os.environ.get("MUTATE_MINUTES", DEFAULT_MINUTES)),
                        help="time box per module (default %(default)s)")
    parser.add_argument("--fresh", action="store_true", help="discard earlier results of these modules")
    parser.add_argument("--survivors", action="store_true",
                        help="run again only the mutants that survived (after adding tests)")
    parser.add_argument("--report", action="store_true", help="only rewrite the report")
    args = parser.parse_args()
    unknown = [m for m in args.modules if m not in TARGETS]
    if unknown:
        parser.error(f"unknown module(s) {', '.join(unknown)}; choose from {', '.join(TARGETS)}")
    if not args.report:
        for name in args.modules or list(TARGETS):
            started = time.monotonic()
            run(TARGETS[name], args.minutes, args.fresh, args.survivors)
            print(f"mutate: {name}: {time.monotonic() - started:.0f} s", flush=True)
    write_report()
    return 0


if __name__ == "__main__":
    sys.exit(main())
