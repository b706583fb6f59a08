"""`mypy --strict` accepts a user's script against the installed wheel (py.typed ships)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pinterest_oauth
from conftest import REPO

USER_SCRIPT = Path(__file__).parent / "user" / "five_calls.py"
ASYNC_USER_SCRIPT = Path(__file__).parent / "user" / "async_calls.py"


def test_py_typed_ships_in_the_wheel() -> None:
    assert (Path(pinterest_oauth.__file__).parent / "py.typed").is_file()


def test_mypy_strict_passes_on_a_user_script() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(USER_SCRIPT), str(ASYNC_USER_SCRIPT)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_strict_catches_a_wrong_type(tmp_path: Path) -> None:
    """The check has teeth: a misuse of the typed API is reported."""
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from pinterest_oauth import ApiClient, Configuration, OauthApi\n"
        "api = OauthApi(ApiClient(Configuration(username='a', password='b')))\n"
        "token = api.oauth_token(grant_type='refresh_token', refresh_token='x', refresh_on='yes')\n"
        "n: str = token.expires_in\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(bad)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 1
    assert 'Argument "refresh_on"' in proc.stdout
    assert "expires_in" in proc.stdout or "Incompatible types in assignment" in proc.stdout


def test_mypy_strict_passes_on_our_own_modules(tmp_path: Path) -> None:
    """The hand-written part of the package (pinterest_oauth.lib, as installed) is strictly typed."""
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "-p", "pinterest_oauth.lib"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    modules = len(list((REPO / "owned" / "lib").glob("*.py")))
    assert f"no issues found in {modules} source files" in proc.stdout  # every owned module was checked
