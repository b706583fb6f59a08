"""A maintainer's round trip, end to end: Pinterest publishes a version with a new optional request
field, a new response field and a new grant type; `make update-upstream`, `make sync-spec` and
`make` in a copy of the repository give users all three, with no other edit (issue 13), in the
sync and the async client alike (issue 18).

Slow: it builds a tool virtualenv and runs the generator and `make test-fast` in the copy.
"""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator
from urllib.parse import parse_qsl

import pytest
import yaml

from conftest import CLIENT_ID, CLIENT_SECRET, REPO
from localserver import Reply, Seen, TokenServer
from test_self_contained import _clean_env

NEW_VERSION = "5.90.0"  # not one tests/test_upstream_download.py adds
BASE = REPO / "upstream" / "pinterest-api-v5.23.0.yaml"

#: What the new version adds, as Pinterest would describe it.
NEW_REQUEST_FIELD = ("code_verifier", {"type": "string", "description": "The PKCE code verifier."})
NEW_RESPONSE_FIELD = ("id_token", {"type": "string", "description": "An OpenID Connect ID token."})
NEW_GRANT, NEW_GRANT_FIELD = "device_code", "device_code"

#: Run in a fresh virtualenv with only the rebuilt wheel (and its `async` extra): makes the same
#: calls through the sync and the async client; prints what each observed as JSON.
USER_SCRIPT = """
import asyncio, json, sys
from pinterest_oauth import ApiClient, ApiValueError, Configuration, OauthApi
from pinterest_oauth.aio import AsyncApiClient, AsyncOauthApi

def config():
    return Configuration(host=sys.argv[1], username=sys.argv[2], password=sys.argv[3])

async def observe(oauth_token):
    out = {}
    token = await oauth_token(grant_type="authorization_code", code="c0de", redirect_uri="https://example.com/cb",
                              code_verifier="v3rifier")
    out["id_token"] = [type(token.id_token).__name__, token.id_token]
    out["additional_properties"] = token.additional_properties
    out["model"] = type(token).__module__ + "." + type(token).__qualname__
    try:
        await oauth_token(grant_type="device_code")
        out["missing"] = None
    except ApiValueError as exc:
        out["missing"] = str(exc)
    token = await oauth_token(grant_type="device_code", device_code="d3vice")
    out["device_scope"] = token.scope
    return out

async def main():
    sync_api = OauthApi(ApiClient(config()))

    async def sync_call(**kwargs):
        return sync_api.oauth_token(**kwargs)

    results = {"sync": await observe(sync_call)}
    async with AsyncApiClient(config()) as client:
        results["async"] = await observe(AsyncOauthApi(client).oauth_token)
    return results

print(json.dumps(asyncio.run(main())))
"""


def new_version_description() -> str:
    doc = yaml.safe_load(BASE.read_text(encoding="utf-8"))
    doc["info"]["version"] = NEW_VERSION
    schemas = doc["components"]["schemas"]
    name, schema = NEW_REQUEST_FIELD
    schemas["OauthAccessTokenRequestCode"]["allOf"][0]["properties"][name] = schema
    name, schema = NEW_RESPONSE_FIELD
    schemas["OauthAccessTokenResponseCode"]["allOf"][0]["properties"][name] = schema
    request = schemas["OauthAccessTokenRequest"]
    request["properties"]["grant_type"]["enum"].append(NEW_GRANT)
    request["discriminator"]["mapping"][NEW_GRANT] = "#/components/schemas/OauthAccessTokenRequestDeviceCode"
    schemas["OauthAccessTokenRequestDeviceCode"] = {
        "type": "object", "title": NEW_GRANT, "required": ["grant_type"],
        "allOf": [{"type": "object", "properties": {NEW_GRANT_FIELD: {"type": "string"}},
                   "required": [NEW_GRANT_FIELD]}],
    }
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


@pytest.fixture
def upstream_site(tmp_path: Path) -> Iterator[str]:
    """Pinterest's raw-file host, played by a static server on 127.0.0.1: {base}/v{version}/v5/openapi.yaml."""
    root = tmp_path / "site"
    target = root / f"v{NEW_VERSION}" / "v5" / "openapi.yaml"
    target.parent.mkdir(parents=True)
    target.write_text(new_version_description(), encoding="utf-8")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None  # type: ignore[assignment]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def copy_repository(dest: Path) -> Path:
    """The tracked files as they are in the working tree, committed into a new git repository."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True,
                           timeout=60).stdout.decode().split("\0")
    for name in filter(None, files):
        src = REPO / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@127.0.0.1"]
    subprocess.run(git + ["init", "--quiet"], cwd=dest, check=True, timeout=60)
    subprocess.run(git + ["add", "-A"], cwd=dest, check=True, timeout=60)
    subprocess.run(git + ["commit", "--quiet", "-m", "copy"], cwd=dest, check=True, timeout=60)
    return dest


def make(repo: Path, env: dict[str, str], *args: str) -> str:
    proc = subprocess.run(["make", "--no-print-directory", *args], cwd=repo, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, f"make {' '.join(args)} failed:\n{(proc.stdout + proc.stderr)[-6000:]}"
    return proc.stdout


def answer(seen: Seen) -> Reply:
    form = dict(parse_qsl(seen.body.decode()))
    body = {"access_token": "pina_EVOLVED", "token_type": "bearer", "expires_in": 60,
            "scope": form["grant_type"], "response_type": form["grant_type"]}
    if form["grant_type"] == "authorization_code":
        body.update(refresh_token="pinr_EVOLVED", refresh_token_expires_in=120,
                    refresh_token_expires_at=1_800_000_000, id_token="header.payload.signature")
    return Reply(200, [("Content-Type", "application/json")], json.dumps(body).encode())


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_a_new_upstream_version_reaches_users_with_no_hand_edit(tmp_path: Path, upstream_site: str) -> None:
    repo = copy_repository(tmp_path / "repo")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = _clean_env(scratch)

    make(repo, env, "update-upstream", f"VERSION={NEW_VERSION}", f"UPSTREAM_BASE_URL={upstream_site}")
    changes = make(repo, env, "sync-spec", f"UPSTREAM=upstream/pinterest-api-v{NEW_VERSION}.yaml")
    assert "request: added parameter 'code_verifier' (string)" in changes
    assert "response: added field 'id_token' (string)" in changes
    assert f"enum GrantType: added value(s) {NEW_GRANT}" in changes
    assert f"request: now required: {NEW_GRANT_FIELD} when grant_type is {NEW_GRANT}" in changes
    make(repo, env, "all")

    venv = tmp_path / "user-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    wheel = next((repo / "dist").glob("pinterest_oauth_sdk-*.whl"))
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", f"{wheel}[async]"], env=env,
                   check=True, timeout=600)
    with TokenServer() as server:
        server.default = answer
        proc = subprocess.run([str(venv / "bin" / "python"), "-c", USER_SCRIPT, server.url, CLIENT_ID, CLIENT_SECRET],
                              capture_output=True, text=True, timeout=120, env={**env, "PYTHONPATH": ""})
        assert proc.returncode == 0, proc.stderr[-4000:]
        seen = list(server.requests)
    results = json.loads(proc.stdout)
    forms = [dict(parse_qsl(s.body.decode())) for s in seen]
    assert forms == 2 * [
        {"grant_type": "authorization_code", "code": "c0de", "redirect_uri": "https://example.com/cb",
         "code_verifier": "v3rifier"},
        {"grant_type": NEW_GRANT, NEW_GRANT_FIELD: "d3vice"},
    ]  # the calls without device_code never reached the server
    assert sorted(results) == ["async", "sync"]
    for out in results.values():  # both clients, the same observations
        assert out["missing"] == f"oauth_token: grant_type={NEW_GRANT} needs {NEW_GRANT_FIELD}"
        assert out["id_token"] == ["str", "header.payload.signature"]  # a typed attribute, not an extra
        assert out["additional_properties"] == {}
        assert out["device_scope"] == NEW_GRANT
        assert out["model"] == "pinterest_oauth.models.oauth_access_token_response.OauthAccessTokenResponse"

    tests = make(repo, env, "test-fast")
    assert " passed" in tests.splitlines()[-1] and " failed" not in tests.splitlines()[-1]
