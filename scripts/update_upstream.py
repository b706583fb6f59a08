#!/usr/bin/env python3
"""Fetch a version of Pinterest's v5 description into upstream/ and record where it came from.

    python scripts/update_upstream.py --version X.Y.Z [--base-url URL] [--ref REF] [--commit SHA]

Downloads BASE/REF/v5/openapi.yaml (default: the raw file of pinterest/api-description at the
tag vX.Y.Z), checks that it is an OpenAPI description of version X.Y.Z with POST /oauth/token,
then writes upstream/pinterest-api-vX.Y.Z.yaml, its line in upstream/SHA256SUMS and its row in
upstream/README.md, each atomically. An existing file with other bytes is never overwritten.

Exit status: 0 written (or already present), 2 error (one line on stderr, nothing written).
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))

from http_fetch import FetchError, download_to  # noqa: E402
from sync_spec import SyncError, check_upstream, load_document, write_atomically  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BASE_URL = "https://raw.githubusercontent.com/pinterest/api-description"
SPEC_PATH = "v5/openapi.yaml"
SUMS = "SHA256SUMS"
START, END = "<!-- upstream-files:start -->", "<!-- upstream-files:end -->"
VERSION_RE = re.compile(r"^\d+\.\d+\.\d+$")
FILE_RE = re.compile(r"^pinterest-api-v(\d+)\.(\d+)\.(\d+)\.yaml$")


class UpdateError(Exception):
    """Reported as one line on stderr, exit status 2."""


def file_name(version: str) -> str:
    return f"pinterest-api-v{version}.yaml"


def _order(name: str) -> tuple[int, ...]:
    """Version files by version number, then any other file (LICENSE) by name."""
    match = FILE_RE.match(name)
    return tuple(int(part) for part in match.groups()) if match else (1 << 30,)


def sums_with(text: str, name: str, digest: str) -> str:
    """SHA256SUMS content with `name`'s line set to `digest` (sha256sum format, sorted)."""
    entries = {}
    for line in text.splitlines():
        if line.strip():
            value, _, other = line.partition("  ")
            entries[other] = value
    entries[name] = digest
    return "".join(f"{entries[key]}  {key}\n" for key in sorted(entries, key=lambda n: (_order(n), n)))


def readme_with(text: str, name: str, row: str) -> str:
    """upstream/README.md with `name`'s table row replaced or added (rows sorted by version)."""
    if START not in text or END not in text:
        raise UpdateError(f"upstream/README.md has no {START} ... {END} table")
    head, rest = text.split(START, 1)
    table, tail = rest.split(END, 1)
    lines = [line for line in table.strip("\n").splitlines()]
    header, rows = lines[:2], [line for line in lines[2:] if line.split("|")[1].strip() != name]
    rows.append(row)
    rows.sort(key=lambda line: _order(line.split("|")[1].strip()))
    return head + START + "\n" + "\n".join(header + rows) + "\n" + END + tail


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="update-upstream", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", required=True, help="the API version, e.g. 5.28.0")
    parser.add_argument("--base-url", default=DEFAULT_BASE_URL,
                        help=f"raw-file base of the repository (default {DEFAULT_BASE_URL})")
    parser.add_argument("--ref", help="tag, branch or commit to fetch (default vX.Y.Z)")
    parser.add_argument("--commit", default="", help="the upstream commit, if known, to record (40 hex digits)")
    parser.add_argument("--dir", type=Path, default=REPO_ROOT / "upstream", help="the upstream folder")
    return parser.parse_args(argv)


def update(args: argparse.Namespace) -> str:
    """Do the update; return what to print."""
    version = args.version.strip()
    if not VERSION_RE.match(version):
        raise UpdateError(f"VERSION must look like 5.28.0, not {version!r}")
    if args.commit and not re.fullmatch(r"[0-9a-f]{40}", args.commit):
        raise UpdateError(f"COMMIT must be a full 40-digit commit id, not {args.commit!r}")
    ref = args.ref or f"v{version}"
    url = f"{args.base_url.rstrip('/')}/{ref}/{SPEC_PATH}"
    folder: Path = args.dir
    target = folder / file_name(version)
    fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()
    try:
        size, digest = download_to(url, tmp)
        doc = load_document(tmp, f"the description downloaded from {url}, saved as")
        check_upstream(doc, url)
        if str(doc["info"]["version"]) != version:
            raise UpdateError(f"{url} describes version {doc['info']['version']}, not {version}")
        if target.exists() and target.read_bytes() != tmp.read_bytes():
            raise UpdateError(f"{target} exists with other content; nothing written (git rm it first to replace it)")
        sums = sums_with((folder / SUMS).read_text(encoding="utf-8") if (folder / SUMS).exists() else "",
                         target.name, digest)
        today = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
        row = (f"| {target.name} | {version} | {args.commit or 'not recorded'} | not recorded | "
               f"make update-upstream from {url}, {today} |")
        readme_path = folder / "README.md"
        readme = readme_path.read_text(encoding="utf-8")
        if not target.exists() or args.commit or f"| {target.name} |" not in readme:
            readme = readme_with(readme, target.name, row)
        if target.exists():
            tmp.unlink()
            outcome = f"{target} already present (sha256 {digest})"
        else:
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
            outcome = f"wrote {target} ({size} bytes, sha256 {digest}) from {url}"
        write_atomically(folder / SUMS, sums.encode("utf-8"))
        write_atomically(readme_path, readme.encode("utf-8"))
        return outcome
    finally:
        tmp.unlink(missing_ok=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        print(update(args))
        return 0
    except (UpdateError, FetchError, SyncError, OSError) as exc:
        print(f"update-upstream: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
