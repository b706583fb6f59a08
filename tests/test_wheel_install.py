"""The built wheel installs into a fresh virtualenv and makes the five documented calls."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import venv
from pathlib import Path
from urllib.parse import parse_qsl

import pytest

from conftest import REPO
from localserver import Reply, Seen, TokenServer

USER_SCRIPT = Path(__file__).parent / "user" / "five_calls.py"

EXPECTED_FORMS = [
    [("grant_type", "authorization_code"), ("code", "TESTCODE0001"),
     ("redirect_uri", "https://example.com/cb?a=1&b=two words&c=é")],
    [("grant_type", "authorization_code"), ("code", "TESTCODE0001"),
     ("redirect_uri", "https://example.com/cb?a=1&b=two words&c=é"), ("continuous_refresh", "true")],
    [("grant_type", "refresh_token"), ("refresh_token", "pinr_TESTREFRESH0001"), ("scope", "boards:read,pins:read")],
    [("grant_type", "refresh_token"), ("refresh_token", "pinr_TESTREFRESH0001"), ("refresh_on", "true")],
    [("grant_type", "client_credentials"), ("scope", "ads:read")],
]


def answer(seen: Seen) -> Reply:
    """A token whose fields echo which call this was, so mix-ups show."""
    form = dict(parse_qsl(seen.body.decode()))
    grant = form["grant_type"]
    body: dict[str, object] = {
        "access_token": f"pina_TEST_{grant}",
        "token_type": "bearer",
        "expires_in": 2592000,
        "scope": form.get("scope", "boards:read"),
        "response_type": "everlasting_refresh" if form.get("refresh_on") == "true" else grant,
    }
    if grant != "client_credentials":
        body.update(refresh_token=f"pinr_TEST_{grant}", refresh_token_expires_in=5184000,
                    refresh_token_expires_at=1790000000)
    return Reply(200, [("Content-Type", "application/json")], json.dumps(body).encode())


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    wheels = sorted((REPO / "dist").glob("pinterest_oauth_sdk-*.whl"))
    assert len(wheels) == 1, f"expected one built wheel in dist/, found {wheels}: run `make`"
    env_dir = tmp_path_factory.mktemp("fresh-venv")
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    proc = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(wheels[0])],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return python


@pytest.mark.slow
def test_wheel_in_fresh_venv_makes_the_five_calls(fresh_venv: Path) -> None:
    with TokenServer(default=answer) as server:
        proc = subprocess.run(
            [str(fresh_venv), str(USER_SCRIPT), server.url],
            capture_output=True, text=True, timeout=120, cwd="/",
        )
        assert proc.returncode == 0, proc.stderr
        requests = list(server.requests)
    results = [json.loads(line) for line in proc.stdout.splitlines()]

    assert [parse_qsl(r.body.decode(), strict_parsing=True) for r in requests] == EXPECTED_FORMS
    for seen in requests:
        assert (seen.method, seen.path) == ("POST", "/v5/oauth/token")
        scheme, _, creds = seen.header("Authorization").partition(" ")
        assert scheme == "Basic"
        assert base64.b64decode(creds).decode("utf-8") == "1234567:s3cr:t+Päss/wörd=="
        assert seen.header("Content-Type") == "application/x-www-form-urlencoded"
        assert seen.header("Accept") == "application/json"

    grants = ["authorization_code", "authorization_code", "refresh_token", "refresh_token", "client_credentials"]
    for result, grant, form in zip(results, grants, EXPECTED_FORMS):
        everlasting = ("refresh_on", "true") in form
        assert result["access_token"] == f"pina_TEST_{grant}"
        assert result["token_type"] == "bearer"
        assert result["expires_in"] == 2592000
        assert result["response_type"] == ("everlasting_refresh" if everlasting else grant)
        assert result["scope"] == dict(form).get("scope", "boards:read")
        assert result["extra"] == {}
        if grant == "client_credentials":
            assert result["refresh_token"] is None and result["refresh_token_expires_in"] is None
        else:
            assert result["refresh_token"] == f"pinr_TEST_{grant}"
            assert result["refresh_token_expires_in"] == 5184000
            assert result["refresh_token_expires_at"] == 1790000000


@pytest.mark.slow
def test_fresh_venv_imports_the_wheel_not_the_source_tree(fresh_venv: Path) -> None:
    proc = subprocess.run(
        [str(fresh_venv), "-c", "import pinterest_oauth, importlib.metadata as m;"
         "print(pinterest_oauth.__file__); print(m.version('pinterest-oauth-sdk'))"],
        capture_output=True, text=True, timeout=60, cwd="/",
    )
    location, version = proc.stdout.split()
    assert "site-packages" in location and str(REPO) not in location
    assert version == sys.modules["pinterest_oauth"].__version__
