"""Record live token exchanges as new recordings (`make record`).

Replays recordings' client calls against Pinterest with your credentials, substituting your
code / refresh token, and writes what went over the wire as `live-<recording>.yaml` (in
tests/recordings/ or --out), with `source: recorded live <date> by scripts/record.py`.
Every secret is replaced by a placeholder of the same shape before anything is written
(scripts/scrub_recording.py); the final text is checked against every secret value known and
every token shape, and nothing at all is written if one is left. Files are written atomically.

Environment:
  PINTEREST_APP_ID, PINTEREST_APP_SECRET     always required
  PINTEREST_AUTH_CODE + PINTEREST_REDIRECT_URI  replays authorization_code_success (or --only ...)
  PINTEREST_REFRESH_TOKEN                    replays refresh_continuous_success (or --only ...)
  PINTEREST_API_HOST                         default https://api.pinterest.com/v5;
                                             https://api-sandbox.pinterest.com/v5 for the sandbox

Each call is sent once (no retries). A code is single-use, and a refresh may rotate the refresh
token: the new tokens are NOT shown or kept, so use a throwaway (sandbox) authorization.
Exit status: 0 written, 1 a call or the scrub failed (nothing written), 2 bad configuration.
"""

from __future__ import annotations

import argparse
import base64
import datetime as _dt
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence
from urllib.parse import parse_qsl, urlsplit

import yaml

REPO = Path(__file__).resolve().parent.parent
RECORDINGS = REPO / "tests" / "recordings"
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(REPO / "tests"))

import scrub_recording  # noqa: E402
from scrub_recording import ScrubError, Secrets  # noqa: E402

DEFAULT_HOST = "https://api.pinterest.com/v5"
LIVE_HOSTS = frozenset({"api.pinterest.com", "api-sandbox.pinterest.com"})
DEFAULT_CODE_RECORDING = "authorization_code_success"
DEFAULT_REFRESH_RECORDING = "refresh_continuous_success"
#: Request headers kept in a recording; response headers kept (others: dates, cookies, CDN ids).
REQUEST_HEADERS = ("Content-Type", "Accept", "Authorization")
RESPONSE_HEADERS = frozenset({"content-type", "retry-after", "www-authenticate"})
RESPONSE_HEADER_PREFIXES = ("x-ratelimit-",)
ERROR_ATTRIBUTES = ("status", "code", "message", "error", "error_description", "is_invalid_grant")


class ConfigError(Exception):
    """The environment or the arguments do not allow a recording run (exit status 2)."""


@dataclass(frozen=True)
class Settings:
    host: str
    app_id: str
    app_secret: str
    code: Optional[str]
    redirect_uri: Optional[str]
    refresh_token: Optional[str]


def read_settings(env: Mapping[str, str]) -> Settings:
    """Settings from the environment, or ConfigError listing everything missing or wrong."""
    get = lambda name: (env.get(name) or "").strip() or None  # noqa: E731
    missing = [name for name in ("PINTEREST_APP_ID", "PINTEREST_APP_SECRET") if not get(name)]
    code, redirect, refresh = get("PINTEREST_AUTH_CODE"), get("PINTEREST_REDIRECT_URI"), get("PINTEREST_REFRESH_TOKEN")
    if code and not redirect:
        missing.append("PINTEREST_REDIRECT_URI (needed with PINTEREST_AUTH_CODE)")
    elif redirect and not code:
        missing.append("PINTEREST_AUTH_CODE (needed with PINTEREST_REDIRECT_URI)")
    elif not code and not refresh:
        missing.append("PINTEREST_AUTH_CODE + PINTEREST_REDIRECT_URI, and/or PINTEREST_REFRESH_TOKEN")
    if missing:
        raise ConfigError("missing environment variables:\n  " + "\n  ".join(missing))
    host = (get("PINTEREST_API_HOST") or DEFAULT_HOST).rstrip("/")
    parts = urlsplit(host)
    loopback = parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")
    if not ((parts.scheme == "https" and parts.hostname in LIVE_HOSTS) or loopback):
        raise ConfigError(
            f"PINTEREST_API_HOST={host!r}: use https://api.pinterest.com/v5 or https://api-sandbox.pinterest.com/v5"
        )
    return Settings(host, str(get("PINTEREST_APP_ID")), str(get("PINTEREST_APP_SECRET")), code, redirect, refresh)


def known_secrets(settings: Settings) -> Secrets:
    """A registry primed with every secret value the run starts with."""
    secrets = Secrets()
    secrets.add(settings.app_id, "app_id")
    secrets.add(settings.app_secret, "app_secret")
    secrets.add(base64.b64encode(f"{settings.app_id}:{settings.app_secret}".encode("utf-8")).decode(), "basic")
    secrets.add(settings.code, "code")
    secrets.add(settings.refresh_token, "refresh_token")
    return secrets


def plan(settings: Settings, only: Sequence[str], recordings: Path = RECORDINGS) -> list[tuple[str, dict[str, Any]]]:
    """(recording name, live call) for each exchange to make, or ConfigError."""
    names = list(only) or [
        name
        for name, wanted in ((DEFAULT_CODE_RECORDING, settings.code), (DEFAULT_REFRESH_RECORDING, settings.refresh_token))
        if wanted
    ]
    steps = []
    for name in names:
        path = recordings / f"{name}.yaml"
        if name.startswith("live-") or not path.is_file():
            raise ConfigError(f"no recording {name!r} in {recordings} to replay")
        call = dict(yaml.safe_load(path.read_text(encoding="utf-8"))["call"])
        grant = call.get("grant_type")
        if grant == "authorization_code":
            if not settings.code:
                raise ConfigError(f"{name} exchanges a code: set PINTEREST_AUTH_CODE and PINTEREST_REDIRECT_URI")
            call.update(code=settings.code, redirect_uri=settings.redirect_uri)
        elif grant == "refresh_token":
            if not settings.refresh_token:
                raise ConfigError(f"{name} refreshes a token: set PINTEREST_REFRESH_TOKEN")
            call.update(refresh_token=settings.refresh_token)
        steps.append((name, call))
    codes = [name for name, call in steps if call.get("grant_type") == "authorization_code"]
    if len(codes) > 1:
        raise ConfigError(f"an authorization code is single-use: replay one of {', '.join(codes)}, not all")
    return steps


def _capture(pool: Any) -> list[dict[str, Any]]:
    """Wrap `pool.urlopen` so each exchange's request and response are kept."""
    seen: list[dict[str, Any]] = []
    urlopen = pool.urlopen

    def recording_urlopen(method: str, url: str, body: Any = None, headers: Any = None, **kwargs: Any) -> Any:
        entry: dict[str, Any] = {"method": method, "url": url, "body": body, "headers": dict(headers or {})}
        seen.append(entry)
        response = urlopen(method, url, body=body, headers=headers, **kwargs)
        entry["response"] = response
        return response

    pool.urlopen = recording_urlopen
    return seen


def call_live(settings: Settings, call: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    """Make one call, never retried; return (result or exception, the captured exchange)."""
    from pinterest_oauth import ApiClient, Configuration, OauthApi, OpenApiException, RetryPolicy

    config = Configuration(host=settings.host, username=settings.app_id, password=settings.app_secret,
                           retry=RetryPolicy(max_attempts=1))
    api_client = ApiClient(config)
    seen = _capture(api_client.rest_client.pool_manager)
    try:
        outcome: Any = OauthApi(api_client).oauth_token(**call)
    except OpenApiException as exc:
        outcome = exc
    finally:
        api_client.close()
    if len(seen) != 1 or "response" not in seen[0]:
        raise RuntimeError(f"expected one complete exchange, got {len(seen)}: {type(outcome).__name__}: {outcome}")
    return outcome, seen[0]


def expected_outcome(outcome: Any) -> dict[str, Any]:
    """The `result` / `error` block a replay must reproduce."""
    from pinterest_oauth import OauthAccessTokenResponse
    from pinterest_oauth.lib.errors import PinterestApiError, RateLimitError

    if isinstance(outcome, OauthAccessTokenResponse):
        result: dict[str, Any] = {}
        for name in type(outcome).model_fields:
            value = getattr(outcome, name)
            result[name] = value.get_secret_value() if hasattr(value, "get_secret_value") else value
        return {"result": result}
    error: dict[str, Any] = {"class": type(outcome).__name__}
    if isinstance(outcome, PinterestApiError):
        error.update({name: getattr(outcome, name) for name in ERROR_ATTRIBUTES})
        if isinstance(outcome, RateLimitError):
            error["retry_after"] = outcome.retry_after
    else:
        error.update(status=getattr(outcome, "status", None), code=None)
    return {"error": error}


def build_document(name: str, call: Mapping[str, Any], outcome: Any, exchange: Mapping[str, Any], today: str) -> dict[str, Any]:
    """The recording for one live exchange, secrets still in it."""
    import spec_validation

    response = exchange["response"]
    body = bytes(response.data or b"")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise RuntimeError(f"{name}: the response body is not UTF-8; a recording holds text") from None
    form = parse_qsl(exchange["body"].decode("ascii"), keep_blank_values=True, strict_parsing=True)
    headers = {key: exchange["headers"][key] for key in REQUEST_HEADERS}
    response_headers = [
        [key, value] for key, value in response.headers.items()
        if key.lower() in RESPONSE_HEADERS or key.lower().startswith(RESPONSE_HEADER_PREFIXES)
    ]
    problems = spec_validation.validate_response(response.status, response.headers.get("Content-Type"), body)
    document: dict[str, Any] = {
        "name": f"live-{name}",
        "description": f"The call of {name}.yaml made against {urlsplit(exchange['url']).hostname}, one attempt.",
        "source": f"recorded live {today} by scripts/record.py",
        "spec": "outside" if problems else "conforms",
    }
    if problems:
        document["spec_reason"] = "; ".join(problems)
    document.update({
        "client": {"retry": {"max_attempts": 1}},
        "call": dict(call),
        "request": {
            "method": exchange["method"],
            "path": urlsplit(exchange["url"]).path,
            "headers": headers,
            "form": [list(pair) for pair in form],
        },
        "response": {"status": response.status, "headers": response_headers, "body": text},
        "expect": {"requests": 1, **expected_outcome(outcome)},
    })
    return document


class _Block(str):
    """A string written as a YAML literal block."""


class _Flow(list):  # type: ignore[type-arg]
    """A list written inline, `[name, value]`."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Block, lambda d, v: d.represent_scalar("tag:yaml.org,2002:str", str(v), style="|"))
_Dumper.add_representer(_Flow, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", list(v), flow_style=True))


def render(document: Mapping[str, Any]) -> str:
    """The recording as YAML: body as a literal block where YAML allows it, pairs inline."""
    doc = dict(document)
    request = dict(doc["request"], form=[_Flow(pair) for pair in doc["request"]["form"]])
    response = dict(doc["response"], headers=[_Flow(pair) for pair in doc["response"]["headers"]],
                    body=_Block(doc["response"]["body"]))
    doc.update(request=request, response=response)
    header = "# Written by scripts/record.py: a live exchange, every secret replaced by a placeholder.\n"
    return header + yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=4096)


def prepare(documents: Sequence[tuple[Path, Mapping[str, Any]]], secrets: Secrets) -> list[tuple[Path, str]]:
    """Scrub and render every document; raise ScrubError unless every text is clean and exact."""
    for _, document in documents:
        scrub_recording.discover(document, secrets)  # learn every secret of the run first
    ready = []
    for path, document in documents:
        clean = scrub_recording.scrub(document, secrets)
        text = render(clean)
        loaded = yaml.safe_load(text)
        scrub_recording.assert_clean(text, secrets, loaded)
        if loaded != clean:
            raise ScrubError(f"{path.name}: the YAML does not read back as written")
        ready.append((path, text))
    return ready


def write_atomically(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file in the same directory and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def main(
    argv: Optional[Sequence[str]] = None,
    env: Optional[Mapping[str, str]] = None,
    today: Callable[[], str] = lambda: _dt.datetime.now(_dt.timezone.utc).date().isoformat(),
) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=RECORDINGS, help="directory for live-*.yaml (default tests/recordings)")
    parser.add_argument("--only", nargs="+", default=[], metavar="NAME", help="recordings whose calls to replay")
    args = parser.parse_args(argv)
    try:
        settings = read_settings(os.environ if env is None else env)
        steps = plan(settings, args.only)
        secrets = known_secrets(settings)
    except (ConfigError, ScrubError) as exc:
        print(f"record.py: {exc}\nNothing was recorded. See `python scripts/record.py --help`.", file=sys.stderr)
        return 2
    documents = []
    for name, call in steps:
        try:
            outcome, exchange = call_live(settings, call)
            documents.append((args.out / f"live-{name}.yaml", build_document(name, call, outcome, exchange, today())))
        except Exception as exc:  # noqa: BLE001 - report and write nothing
            message = scrub_recording.replace_secrets(f"{type(exc).__name__}: {exc}", secrets)
            print(f"record.py: {name}: {message}\nNothing was written.", file=sys.stderr)
            return 1
        print(f"record.py: {name}: HTTP {exchange['response'].status}", file=sys.stderr)
    try:
        ready = prepare(documents, secrets)
    except ScrubError as exc:
        print(f"record.py: {exc}\nNothing was written.", file=sys.stderr)
        return 1
    for path, text in ready:
        write_atomically(path, text)
        print(f"record.py: wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
