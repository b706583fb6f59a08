"""scripts/record.py and scripts/scrub_recording.py, offline: no secret may reach a recording.

The scrubber runs on sample exchanges holding fake "live" secrets (a token echoed in an error
message, a secret inside a JSON string in a header, non-ASCII in every encoding); the recorder
runs end to end against a TokenServer on 127.0.0.1, and its output must replay as a contract
recording. Nothing here touches any other host.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
import yaml

from conftest import REPO
from localserver import Reply, TokenServer

sys.path.insert(0, str(REPO / "scripts"))
import record  # noqa: E402
import scrub_recording  # noqa: E402
from scrub_recording import PLACEHOLDER_AUTHORIZATION, ScrubError, Secrets  # noqa: E402

import test_contract  # noqa: E402

# Fake "live" secrets: short and obviously fake, but treated exactly as real ones would be.
APP_ID = "7654321"
APP_SECRET = "sécret:Ünï+cødé/="
CODE = "LIVECODEc0ffee"
REFRESH = "pinr_LIVEREFRESH01"
NEW_ACCESS = "pina_LIVEACCESS01"
NEW_REFRESH = "pinr_LIVEREFRESH02"
STRAY = "pinc_STRAYTOKEN99"
BASIC = base64.b64encode(f"{APP_ID}:{APP_SECRET}".encode()).decode()
ALL_SECRETS = (APP_ID, APP_SECRET, CODE, REFRESH, NEW_ACCESS, NEW_REFRESH, STRAY, BASIC)


def primed() -> Secrets:
    """A registry primed the way record.py primes it."""
    settings = record.Settings("https://api.pinterest.com/v5", APP_ID, APP_SECRET, CODE, "https://x.example/cb", REFRESH)
    return record.known_secrets(settings)


def exchange(body: dict[str, Any] | str, status: int = 200, headers: list[list[str]] | None = None,
             expect: dict[str, Any] | None = None) -> dict[str, Any]:
    text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    return {
        "name": "live-sample",
        "source": "recorded live 2026-01-01 by scripts/record.py",
        "call": {"grant_type": "authorization_code", "code": CODE, "redirect_uri": "https://x.example/cb?a=b c&ü"},
        "request": {
            "method": "POST",
            "path": "/v5/oauth/token",
            "headers": {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json",
                        "Authorization": "Basic " + BASIC},
            "form": [["grant_type", "authorization_code"], ["code", CODE], ["redirect_uri", "https://x.example/cb?a=b c&ü"]],
        },
        "response": {"status": status, "headers": headers or [["Content-Type", "application/json"]], "body": text},
        "expect": {"requests": 1, **(expect or {})},
    }


def leaked(text: str) -> list[str]:
    """Which fake secrets (in any encoding) still show in `text`."""
    found = []
    for secret in ALL_SECRETS:
        forms = scrub_recording.encodings(secret)
        if secret == APP_ID:
            if re.search(r"(?<![0-9A-Za-z])7654321(?![0-9A-Za-z])", text):
                found.append(secret)
        elif any(form in text for form in forms):
            found.append(secret)
    return found


# --- the scrubber --------------------------------------------------------------------------


def test_success_exchange_every_secret_replaced_by_a_placeholder_of_its_shape() -> None:
    body = {"access_token": NEW_ACCESS, "refresh_token": NEW_REFRESH, "response_type": "authorization_code",
            "token_type": "bearer", "expires_in": 2592000, "scope": "boards:read,pins:read"}
    doc = exchange(body, expect={"result": {**body, "refresh_token_expires_at": None, "additional_properties": {}}})
    clean = scrub_recording.scrub(doc, primed())
    text = yaml.safe_dump(clean, allow_unicode=True)
    assert leaked(text) == [] and leaked(json.dumps(clean)) == []
    assert clean["request"]["headers"]["Authorization"] == PLACEHOLDER_AUTHORIZATION
    assert test_contract.decode_basic(PLACEHOLDER_AUTHORIZATION) == ("REDACTED_APP_ID", "REDACTED_APP_SECRET")
    assert clean["call"]["code"] == "REDACTED_CODE"
    assert clean["request"]["form"][1] == ["code", "REDACTED_CODE"]
    # Placeholders keep the prefix; the refresh token from the environment came first.
    parsed = json.loads(clean["response"]["body"])
    assert parsed["access_token"] == "pina_REDACTED0001"
    assert parsed["refresh_token"] == "pinr_REDACTED0002"
    assert clean["expect"]["result"]["access_token"] == parsed["access_token"]
    assert clean["expect"]["result"]["refresh_token"] == parsed["refresh_token"]
    # Everything else is left byte for byte.
    original = doc["response"]["body"].replace(NEW_ACCESS, "pina_REDACTED0001").replace(NEW_REFRESH, "pinr_REDACTED0002")
    assert clean["response"]["body"] == original
    assert clean["call"]["redirect_uri"] == doc["call"]["redirect_uri"]
    assert doc["call"]["code"] == CODE, "scrub must not modify its input"


def test_token_echoed_inside_an_error_message() -> None:
    message = f"Refresh token {REFRESH} is invalid; also saw {STRAY} and code {CODE}"
    doc = exchange({"code": 283, "message": message}, status=401,
                   expect={"error": {"class": "UnauthorizedError", "status": 401, "code": 283, "message": message}})
    clean = scrub_recording.scrub(doc, primed())
    assert leaked(yaml.safe_dump(clean, allow_unicode=True)) == []
    want = "Refresh token pinr_REDACTED0001 is invalid; also saw pinc_REDACTED0001 and code REDACTED_CODE"
    assert json.loads(clean["response"]["body"]) == {"code": 283, "message": want}
    assert clean["expect"]["error"]["message"] == want
    assert clean["expect"]["error"]["code"] == 283


def test_secret_inside_a_json_string_in_a_header() -> None:
    header = json.dumps({"refresh_token": "opaque-refresh-value-42", "app": APP_ID,
                         "note": APP_SECRET, "auth": "Basic " + BASIC})  # ASCII-escaped non-ASCII
    doc = exchange({"code": 1, "message": "m"}, status=400,
                   headers=[["Content-Type", "application/json"], ["X-Debug-Context", header],
                            ["Set-Cookie", "session=abcdef123456; Secure"]])
    secrets = primed()
    clean = scrub_recording.scrub(doc, secrets)
    name, value = clean["response"]["headers"][1]
    assert name == "X-Debug-Context"
    assert json.loads(value) == {"refresh_token": "REDACTED_REFRESH_TOKEN", "app": "REDACTED_APP_ID",
                                 "note": "REDACTED_APP_SECRET",
                                 "auth": "Basic " + scrub_recording.PLACEHOLDER_BASIC_CREDENTIALS}
    assert clean["response"]["headers"][2] == ["Set-Cookie", "REDACTED"]
    text = yaml.safe_dump(clean, allow_unicode=True)
    assert "opaque-refresh-value-42" not in text and "abcdef123456" not in text and leaked(text) == []


@pytest.mark.parametrize(
    "form",
    [APP_SECRET, json.dumps(APP_SECRET)[1:-1], json.dumps(APP_SECRET).replace("/", "\\/")[1:-1],
     quote(APP_SECRET, safe=""), quote_plus(APP_SECRET), quote(APP_SECRET, safe="").lower()],
    ids=["raw", "json-ascii", "json-slash", "percent", "form-plus", "percent-lower"],
)
def test_non_ascii_secret_scrubbed_in_every_encoding(form: str) -> None:
    doc = exchange(f'{{"code": 1, "message": "echo [{form}] end"}}', status=400)
    clean = scrub_recording.scrub(doc, primed())
    assert json.loads(clean["response"]["body"])["message"] == "echo [REDACTED_APP_SECRET] end"


def test_placeholders_are_stable_short_and_keep_the_prefix() -> None:
    secrets = primed()
    first = scrub_recording.scrub(exchange({"access_token": NEW_ACCESS, "refresh_token": NEW_REFRESH}), secrets)
    second = scrub_recording.scrub(exchange({"refresh_token": NEW_REFRESH, "other": "pina_ANOTHER1"}), secrets)
    assert json.loads(first["response"]["body"])["refresh_token"] == json.loads(second["response"]["body"])["refresh_token"]
    assert json.loads(second["response"]["body"])["other"] == "pina_REDACTED0002"
    short = [p for p in secrets.placeholders.values() if p != scrub_recording.PLACEHOLDER_BASIC_CREDENTIALS]
    assert all(len(p) <= 24 and scrub_recording.is_placeholder(p) for p in short)
    again = scrub_recording.scrub(second, secrets)
    assert again == second, "scrubbing a scrubbed recording changes nothing"


def test_app_id_is_scrubbed_as_a_whole_word_only() -> None:
    body = {"access_token": NEW_ACCESS, "expires_in": 76543219, "note": f"app {APP_ID}, ref 9{APP_ID}"}
    clean = scrub_recording.scrub(exchange(body), primed())
    parsed = json.loads(clean["response"]["body"])
    assert parsed["expires_in"] == 76543219
    assert parsed["note"] == f"app REDACTED_APP_ID, ref 9{APP_ID}"


def test_find_leaks_names_kinds_never_values() -> None:
    secrets = primed()
    for text in (f"x {APP_SECRET} y", json.dumps(APP_SECRET), f"token pina_UNKNOWN7 here", f"Basic {BASIC}",
                 quote_plus(CODE + "/")[:-3]):
        with pytest.raises(ScrubError) as info:
            scrub_recording.assert_clean(text, secrets)
        assert not any(s in str(info.value) for s in ALL_SECRETS + ("pina_UNKNOWN7",))
    scrub_recording.assert_clean("pina_REDACTED0001 REDACTED_CODE " + PLACEHOLDER_AUTHORIZATION + " Basic realm", secrets)
    with pytest.raises(ScrubError):
        scrub_recording.assert_clean("clean text", secrets, loaded={"k": [f"nested {REFRESH}"]})


@pytest.mark.parametrize(
    "body",
    ['{"note": "' + "".join(f"\\u{ord(c):04x}" for c in CODE) + '"}',  # every character JSON-escaped
     '{"note": "https://x.example/?c=LIVECODE%630ffee"}'],  # oddly percent-encoded
    ids=["json-escaped-every-char", "partly-percent-encoded"],
)
def test_encodings_the_scrubber_misses_still_stop_the_write(body: str) -> None:
    doc = exchange(body)
    with pytest.raises(ScrubError):
        record.prepare([(Path("live-sample.yaml"), doc)], primed())


def test_a_secret_too_short_to_scrub_is_refused() -> None:
    with pytest.raises(ScrubError):
        Secrets().add("abc", "code")
    with pytest.raises(ScrubError):
        scrub_recording.scrub(exchange({"access_token": "xy", "scope": "s"}), Secrets())


# --- rendering and writing -----------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    ['{"a": 1}', '{"a": 1}\n', "<html>\n  <b>x</b>\n</html>\n\n", "line\r\nline", "trailing space \nx",
     "\ttab first", "  indented\nfirst", "ünï\u2028cødé", "", "- not a list", "\x00bin"],
)
def test_rendered_body_reads_back_verbatim(body: str) -> None:
    doc = exchange(body)
    loaded = yaml.safe_load(record.render(doc))
    assert loaded == doc
    assert loaded["response"]["body"].encode() == body.encode()


def test_write_atomically_keeps_the_old_file_on_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "live-x.yaml"
    record.write_atomically(target, "old: 1\n")
    assert target.read_text() == "old: 1\n"

    def boom(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(record.os, "replace", boom)
    with pytest.raises(OSError):
        record.write_atomically(target, "new: 2\n")
    assert target.read_text() == "old: 1\n"
    assert [p.name for p in tmp_path.iterdir()] == ["live-x.yaml"], "no temporary file left behind"


def test_prepare_refuses_when_scrubbing_misses_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    doc = exchange({"access_token": NEW_ACCESS, "scope": "s"})
    monkeypatch.setattr(scrub_recording, "scrub", lambda document, secrets: document)  # a broken scrubber
    with pytest.raises(ScrubError) as info:
        record.prepare([(Path("live-sample.yaml"), doc)], primed())
    assert not any(s in str(info.value) for s in ALL_SECRETS)


# --- the command -----------------------------------------------------------------------------


def run_record(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("PINTEREST_")}
    return subprocess.run(
        [sys.executable, str(REPO / "scripts" / "record.py"), "--out", str(tmp_path / "out"), *args],
        env={**base, **env}, capture_output=True, text=True, timeout=60,
    )


@pytest.mark.parametrize(
    "env, missing",
    [
        ({}, ["PINTEREST_APP_ID", "PINTEREST_APP_SECRET", "PINTEREST_AUTH_CODE", "PINTEREST_REFRESH_TOKEN"]),
        ({"PINTEREST_APP_ID": APP_ID, "PINTEREST_APP_SECRET": APP_SECRET}, ["PINTEREST_REFRESH_TOKEN"]),
        ({"PINTEREST_APP_ID": APP_ID, "PINTEREST_AUTH_CODE": CODE}, ["PINTEREST_APP_SECRET", "PINTEREST_REDIRECT_URI"]),
        ({"PINTEREST_APP_SECRET": APP_SECRET, "PINTEREST_REFRESH_TOKEN": REFRESH}, ["PINTEREST_APP_ID"]),
    ],
    ids=["nothing", "no-grant", "code-without-redirect", "no-app-id"],
)
def test_missing_environment_exits_2_and_writes_nothing(tmp_path: Path, env: dict[str, str], missing: list[str]) -> None:
    done = run_record(tmp_path, env)
    assert done.returncode == 2, done.stderr
    for name in missing:
        assert name in done.stderr
    assert "Nothing was recorded" in done.stderr
    assert not (tmp_path / "out").exists()
    assert not any(s in done.stderr + done.stdout for s in ALL_SECRETS)


@pytest.mark.parametrize("host", ["https://api.example.com/v5", "http://api.pinterest.com/v5", "ftp://127.0.0.1/v5"])
def test_hosts_other_than_pinterest_or_loopback_are_refused(tmp_path: Path, host: str) -> None:
    env = {"PINTEREST_APP_ID": APP_ID, "PINTEREST_APP_SECRET": APP_SECRET, "PINTEREST_REFRESH_TOKEN": REFRESH,
           "PINTEREST_API_HOST": host}
    done = run_record(tmp_path, env)
    assert done.returncode == 2 and "PINTEREST_API_HOST" in done.stderr
    assert not (tmp_path / "out").exists()


def test_a_code_is_replayed_at_most_once(tmp_path: Path) -> None:
    env = {"PINTEREST_APP_ID": APP_ID, "PINTEREST_APP_SECRET": APP_SECRET, "PINTEREST_AUTH_CODE": CODE,
           "PINTEREST_REDIRECT_URI": "https://x.example/cb"}
    done = run_record(tmp_path, env, "--only", "authorization_code_success", "authorization_code_continuous_refresh")
    assert done.returncode == 2 and "single-use" in done.stderr
    assert not (tmp_path / "out").exists()


def _live_env(server: TokenServer) -> dict[str, str]:
    return {"PINTEREST_APP_ID": APP_ID, "PINTEREST_APP_SECRET": APP_SECRET, "PINTEREST_AUTH_CODE": CODE,
            "PINTEREST_REDIRECT_URI": "https://x.example/cb?next=/a b&ü=1", "PINTEREST_REFRESH_TOKEN": REFRESH,
            "PINTEREST_API_HOST": server.url}


def test_recorder_end_to_end_writes_clean_recordings_that_replay(tmp_path: Path, token_server: TokenServer) -> None:
    code_answer = {"access_token": NEW_ACCESS, "refresh_token": NEW_REFRESH, "response_type": "authorization_code",
                   "token_type": "bearer", "expires_in": 2592000, "refresh_token_expires_in": 5184000,
                   "scope": "boards:read,pins:read", "debug": f"issued for app {APP_ID}"}
    refresh_error = json.dumps({"code": 283, "message": f"The authorization grant is invalid: {REFRESH} / {APP_SECRET}"})
    token_server.enqueue(
        Reply(headers=[("Content-Type", "application/json"), ("Set-Cookie", f"s={NEW_ACCESS}"),
                       ("X-Echo", json.dumps({"refresh_token": NEW_REFRESH}))],
              body=json.dumps(code_answer).encode()),
        Reply(status=401, headers=[("Content-Type", "application/json"), ("X-RateLimit-Remaining", "99")],
              body=refresh_error.encode()),
    )
    out = tmp_path / "out"
    assert record.main(["--out", str(out)], env=_live_env(token_server), today=lambda: "2026-02-03") == 0
    assert len(token_server.requests) == 2
    written = sorted(out.iterdir())
    assert [p.name for p in written] == ["live-authorization_code_success.yaml", "live-refresh_continuous_success.yaml"]
    for path in written:
        text = path.read_text(encoding="utf-8")
        assert leaked(text) == [], f"{path.name} leaks"
        rec = test_contract.load_recording(path)
        assert rec.source == "recorded live 2026-02-03 by scripts/record.py" and rec.live
        assert rec.credentials == ("REDACTED_APP_ID", "REDACTED_APP_SECRET")
        test_contract.test_recording_is_well_formed_with_honest_provenance(path)
        test_contract.test_recording_against_openapi(path)
        test_contract.check_replay(rec)  # the scrubbed recording still replays exactly
    code_rec = test_contract.load_recording(written[0])
    assert code_rec.form == [("grant_type", "authorization_code"), ("code", "REDACTED_CODE"),
                             ("redirect_uri", "https://x.example/cb?next=/a b&ü=1")]
    assert code_rec.response_headers == [("Content-Type", "application/json")], "only allow-listed headers are kept"
    assert code_rec.expect["result"]["additional_properties"] == {"debug": "issued for app REDACTED_APP_ID"}
    refresh_rec = test_contract.load_recording(written[1])
    assert refresh_rec.call["refresh_token"] == "pinr_REDACTED0001"
    assert refresh_rec.expect["error"]["message"] == (
        "The authorization grant is invalid: pinr_REDACTED0001 / REDACTED_APP_SECRET"
    )
    assert ("X-RateLimit-Remaining", "99") in refresh_rec.response_headers


def test_recorder_writes_nothing_if_any_secret_survives(tmp_path: Path, token_server: TokenServer,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    out.mkdir()
    old = out / "live-authorization_code_success.yaml"
    old.write_text("old recording\n")
    token_server.enqueue(Reply(body=json.dumps({"access_token": NEW_ACCESS, "token_type": "bearer",
                                                "expires_in": 1, "scope": "s"}).encode()))
    monkeypatch.setattr(scrub_recording, "scrub", lambda document, secrets: document)  # a broken scrubber
    env = {**_live_env(token_server), "PINTEREST_REFRESH_TOKEN": ""}
    assert record.main(["--out", str(out)], env=env) == 1
    assert old.read_text() == "old recording\n"
    assert sorted(p.name for p in out.iterdir()) == ["live-authorization_code_success.yaml"]
