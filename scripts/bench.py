"""Benchmark the token client against raw urllib3 and authlib (`make bench`).

One run measures, against the same keep-alive responder on 127.0.0.1 (scripts/bench_responder.py,
a separate process) and the same authorization_code exchange (same form body, same answer):

- per call: client-process CPU (`time.process_time`) and wall time for (a) raw urllib3
  `PoolManager.request` + `json.loads`, the floor; (b) `pinterest_oauth`'s `oauth_token` as
  documented, with its default timeouts, retries and redaction; (c) authlib's
  `OAuth2Session.fetch_token` with client_secret_basic. Trials of N calls after a warm-up,
  interleaved a, b, c / b, c, a / c, a, b ... so machine noise hits all three alike;
- per call, async (scripts/bench_async.py): `pinterest_oauth.aio` against raw httpx2, raw
  aiohttp and authlib's AsyncOAuth2Client, on one event loop, against the same responder;
- cold start, in fresh interpreter processes: `import` of each library, and process start to
  the first parsed token, with the peak RSS of those processes;
- regeneration: a forced `make regenerate`, a no-op `make generate`, `make check-generated`
  (generated/ must come out byte-identical, or the run fails).

Writes .bench/results.json and docs/benchmark.md (a markdown table with medians, spreads and
ratios, and whether each target is met), and rewrites the ratio table in docs/MAINTAINERS.md. `--quick` is a smoke run (tiny counts, no
regeneration) that writes under .bench/ only.
"""

from __future__ import annotations

import argparse
import base64
import datetime as _dt
import fcntl
import gc
import hashlib
import http.client
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence
from urllib.parse import parse_qsl, urlencode

REPO = Path(__file__).resolve().parent.parent
RESPONDER = Path(__file__).resolve().parent / "bench_responder.py"
BUILD_LOCK = Path(os.environ.get("BENCH_BUILD_LOCK", "/tmp/pinterest-build.lock"))

# The exchange every client makes (fake credentials and code).
CLIENT_ID = "1234567"
CLIENT_SECRET = "bench-secret"
CODE = "BENCHCODE0001"
REDIRECT_URI = "https://example.com/oauth/callback"
ACCESS_TOKEN = "pina_BENCHACCESS0001"
REFRESH_TOKEN = "pinr_BENCHREFRESH0001"
FORM = [("grant_type", "authorization_code"), ("code", CODE), ("redirect_uri", REDIRECT_URI)]

CLIENTS = ("urllib3", "pinterest_oauth", "authlib")
LABELS = {"urllib3": "raw urllib3 (a)", "pinterest_oauth": "pinterest_oauth (b)", "authlib": "authlib (c)"}

TARGETS = {  # metric -> the most it may be (ratios are pinterest_oauth / raw urllib3)
    "per_call_cpu_ratio": 1.10,
    "first_token_ratio": 1.30,
    "import_ratio": 1.5,
    "noop_generate_s": 0.1,
    "full_regenerate_s": 5.0,
}


# -- per call ---------------------------------------------------------------------------

def make_clients(base_url: str) -> dict[str, Callable[[], Any]]:
    """One ready client per library, each a no-argument call that returns the parsed token."""
    import urllib3

    token_url = base_url + "/oauth/token"
    body = urlencode(FORM).encode("ascii")
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode("ascii")
    headers = {
        "Authorization": "Basic " + basic,
        "Content-Type": "application/x-www-form-urlencoded",
        "Accept": "application/json",
    }
    pool = urllib3.PoolManager()

    def raw_urllib3() -> Any:
        return json.loads(pool.request("POST", token_url, body=body, headers=headers).data)

    from pinterest_oauth import ApiClient, Configuration, OauthApi

    api = OauthApi(ApiClient(Configuration(host=base_url, username=CLIENT_ID, password=CLIENT_SECRET)))

    def ours() -> Any:
        return api.oauth_token("authorization_code", code=CODE, redirect_uri=REDIRECT_URI)

    from authlib.integrations.requests_client import OAuth2Session  # type: ignore[import-untyped]

    session = OAuth2Session(CLIENT_ID, CLIENT_SECRET, token_endpoint_auth_method="client_secret_basic",
                            redirect_uri=REDIRECT_URI)

    def authlib() -> Any:
        return session.fetch_token(token_url, grant_type="authorization_code", code=CODE)

    return {"urllib3": raw_urllib3, "pinterest_oauth": ours, "authlib": authlib}


def check_token(name: str, token: Any) -> None:
    """Each client must have parsed the same answer (fail loudly if one did not)."""
    if name == "pinterest_oauth":
        got = (token.access_token.get_secret_value(), token.refresh_token.get_secret_value(),
               token.expires_in, token.token_type)
    else:
        got = (token["access_token"], token["refresh_token"], token["expires_in"], token["token_type"])
    if got != (ACCESS_TOKEN, REFRESH_TOKEN, 2592000, "bearer"):
        raise SystemExit(f"bench: {name} did not parse the expected token")


def server_stats(port: int) -> dict[str, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/__stats")
        return json.loads(conn.getresponse().read())  # type: ignore[no-any-return]
    finally:
        conn.close()


def rotations(names: Sequence[str], trials: int) -> Iterator[tuple[int, str]]:
    """(trial, client) in interleaved order: a b c, b c a, c a b, a b c, ..."""
    for trial in range(trials):
        shift = trial % len(names)
        for name in list(names[shift:]) + list(names[:shift]):
            yield trial, name


def per_call(port: int, trials: int, calls: int, warmup: int) -> dict[str, Any]:
    clients = make_clients(f"http://127.0.0.1:{port}/v5")
    for name, call in clients.items():
        for _ in range(warmup):
            check_token(name, call())
    forms = [parse_qsl(body) for body in server_stats(port)["bodies"]]
    orders = sorted({tuple(name for name, _ in form) for form in forms})
    if not all(sorted(form) == sorted(FORM) for form in forms):
        raise SystemExit(f"bench: the clients sent different forms (field names: {orders})")
    samples: dict[str, dict[str, list[float]]] = {
        name: {"cpu_us": [], "wall_us": [], "server_cpu_us": []} for name in clients
    }
    for _, name in rotations(CLIENTS, trials):
        call = clients[name]
        gc.collect()
        before = server_stats(port)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for _ in range(calls):
            call()
        cpu1, wall1 = time.process_time(), time.perf_counter()
        after = server_stats(port)
        served = after["requests"] - before["requests"]
        if served != calls:
            raise SystemExit(f"bench: the responder saw {served} requests for {calls} {name} calls")
        samples[name]["cpu_us"].append((cpu1 - cpu0) / calls * 1e6)
        samples[name]["wall_us"].append((wall1 - wall0) / calls * 1e6)
        samples[name]["server_cpu_us"].append((after["cpu_s"] - before["cpu_s"]) / calls * 1e6)
    result: dict[str, Any] = {
        "trials": trials, "calls_per_trial": calls, "warmup_calls": warmup,
        "same_form": True, "form_field_orders": orders,
        "clients": {name: {k: summary(v) for k, v in s.items()} for name, s in samples.items()},
    }
    floor = result["clients"]["urllib3"]
    for name in ("pinterest_oauth", "authlib"):
        mine = result["clients"][name]
        mine["cpu_ratio"] = mine["cpu_us"]["median"] / floor["cpu_us"]["median"]
        mine["wall_ratio"] = mine["wall_us"]["median"] / floor["wall_us"]["median"]
        pairs = zip(samples[name]["cpu_us"], samples["urllib3"]["cpu_us"])
        mine["cpu_ratio_per_trial"] = summary([mine_us / floor_us for mine_us, floor_us in pairs])
    server = max(c["server_cpu_us"]["median"] for c in result["clients"].values())
    result["responder_cpu_share"] = server / floor["cpu_us"]["median"]
    return result


def summary(values: Sequence[float]) -> dict[str, Any]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "samples": list(values)}


# -- cold start -------------------------------------------------------------------------

_CHILD_HEAD = "import time\n_t0 = time.perf_counter()\n"
# Peak RSS is the process's own VmHWM: ru_maxrss would also count the parent's memory, which
# Linux carries over into a child's high-water mark across fork + exec.
_CHILD_TAIL = """
_t1 = time.perf_counter()
import json, sys
try:
    _hwm = int([l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0].split()[1])
except OSError:
    import resource
    _hwm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
sys.stdout.write(json.dumps({"t_start": _t0, "t_done": _t1, "cpu_s": time.process_time(), "maxrss_kib": _hwm}))
"""
_URLLIB3_EXCHANGE = f"""
import json, os, urllib3
_r = urllib3.PoolManager().request(
    "POST", os.environ["BENCH_URL"] + "/oauth/token", body={urlencode(FORM).encode()!r},
    headers={{"Authorization": "Basic " + {base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()!r},
             "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}})
"""
_FIRST_TOKEN = {
    "urllib3": _URLLIB3_EXCHANGE + f"""assert json.loads(_r.data)["access_token"] == {ACCESS_TOKEN!r}
""",
    "pinterest_oauth": f"""
import os
from pinterest_oauth import ApiClient, Configuration, OauthApi
_t = OauthApi(ApiClient(Configuration(host=os.environ["BENCH_URL"], username={CLIENT_ID!r},
                                      password={CLIENT_SECRET!r}))).oauth_token(
    "authorization_code", code={CODE!r}, redirect_uri={REDIRECT_URI!r})
assert _t.access_token.get_secret_value() == {ACCESS_TOKEN!r}
""",
    "authlib": f"""
import os
from authlib.integrations.requests_client import OAuth2Session
_t = OAuth2Session({CLIENT_ID!r}, {CLIENT_SECRET!r}, token_endpoint_auth_method="client_secret_basic",
                   redirect_uri={REDIRECT_URI!r}).fetch_token(
    os.environ["BENCH_URL"] + "/oauth/token", grant_type="authorization_code", code={CODE!r})
assert _t["access_token"] == {ACCESS_TOKEN!r}
""",
}
#: What any client that returns a pydantic model pays at least: raw urllib3, plus pydantic and
#: one model of the token's fields (not a client: the floor a pydantic-returning client stands on).
_PYDANTIC_FLOOR = _URLLIB3_EXCHANGE + f"""
from typing import Optional
from pydantic import BaseModel, SecretStr, StrictInt, StrictStr
class _Token(BaseModel):
    access_token: SecretStr
    refresh_token: Optional[SecretStr] = None
    response_type: Optional[StrictStr] = None
    token_type: StrictStr
    expires_in: StrictInt
    refresh_token_expires_in: Optional[StrictInt] = None
    scope: StrictStr
assert _Token.model_validate(json.loads(_r.data)).access_token.get_secret_value() == {ACCESS_TOKEN!r}
"""
_IMPORT = {
    "urllib3": "import urllib3\n",
    "pinterest_oauth": "import pinterest_oauth\n",
    "authlib": "import authlib.integrations.requests_client\n",
}


def child_programs() -> dict[str, str]:
    """Name -> program run with `python -c` in a fresh process."""
    programs = {"interpreter": _CHILD_HEAD + "pass\n" + _CHILD_TAIL}
    for name in CLIENTS:
        programs[f"import:{name}"] = _CHILD_HEAD + _IMPORT[name] + _CHILD_TAIL
        programs[f"first_token:{name}"] = _CHILD_HEAD + _FIRST_TOKEN[name] + _CHILD_TAIL
    programs["first_token:pydantic_floor"] = _CHILD_HEAD + _PYDANTIC_FLOOR + _CHILD_TAIL
    return programs


def run_child(name: str, program: str, env: dict[str, str]) -> dict[str, float]:
    """Run one fresh interpreter; times are measured on the shared monotonic clock."""
    spawned = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", program], env=env, cwd="/", capture_output=True, text=True)
    exited = time.perf_counter()
    if proc.returncode != 0:
        raise SystemExit(f"bench: a cold-start child failed ({name}):\n{proc.stderr[-2000:]}")
    out = json.loads(proc.stdout)
    return {
        "startup_ms": (out["t_start"] - spawned) * 1e3,   # interpreter start, before our code
        "work_ms": (out["t_done"] - out["t_start"]) * 1e3,  # the import / first token, in-process
        "to_done_ms": (out["t_done"] - spawned) * 1e3,      # process start -> imported / token parsed
        "process_ms": (exited - spawned) * 1e3,             # the whole process, exit included
        "cpu_ms": out["cpu_s"] * 1e3,
        "maxrss_mib": out["maxrss_kib"] / 1024,
    }


def cold_start(port: int, runs: int) -> dict[str, Any]:
    env = dict(os.environ)
    env["BENCH_URL"] = f"http://127.0.0.1:{port}/v5"
    programs = child_programs()
    for name, program in programs.items():  # warm the OS file cache and the .pyc files
        run_child(name, program, env)
    raw: dict[str, list[dict[str, float]]] = {name: [] for name in programs}
    names = list(programs)
    for run in range(runs):
        shift = run % len(names)
        for name in names[shift:] + names[:shift]:
            raw[name].append(run_child(name, programs[name], env))
    result: dict[str, Any] = {"runs": runs, "processes": {}}
    for name, rows in raw.items():
        result["processes"][name] = {key: summary([r[key] for r in rows]) for key in rows[0]}
    procs = result["processes"]

    def ratio(kind: str, name: str, key: str) -> float:
        return float(procs[f"{kind}:{name}"][key]["median"] / procs[f"{kind}:urllib3"][key]["median"])

    for name in ("pinterest_oauth", "authlib"):
        result[f"import_ratio:{name}"] = ratio("import", name, "work_ms")
    for name in ("pinterest_oauth", "authlib", "pydantic_floor"):
        result[f"first_token_ratio:{name}"] = ratio("first_token", name, "to_done_ms")
    return result


# -- regeneration -----------------------------------------------------------------------

def tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def git_status(path: str) -> str:
    return subprocess.run(["git", "status", "--porcelain", "--", path], cwd=REPO,
                          capture_output=True, text=True, check=True).stdout


def timed_make(target: str) -> float:
    started = time.perf_counter()
    proc = subprocess.run(["make", "--no-print-directory", target], cwd=REPO, capture_output=True, text=True)
    took = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"bench: make {target} failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return took


class BuildLock:
    """Hold the build lock other sessions' `make install-wheel` takes (waits up to 10 min)."""

    def __enter__(self) -> "BuildLock":
        self.file = open(BUILD_LOCK, "a")
        deadline = time.monotonic() + 600
        while True:
            try:
                fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise SystemExit(f"bench: {BUILD_LOCK} stayed locked for 10 minutes "
                                     "(set BENCH_BUILD_LOCK to another path if this process holds it)")
                time.sleep(0.5)

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self.file, fcntl.LOCK_UN)
        self.file.close()


def regeneration(full_runs: int, noop_runs: int) -> dict[str, Any]:
    generated = REPO / "generated"
    with BuildLock():
        timed_make("generate")  # catch up first, so the forced runs start from a current tree
        digest, status = tree_digest(generated), git_status("generated/")
        full = [timed_make("regenerate") for _ in range(full_runs)]
        after_full = tree_digest(generated)
        noop = [timed_make("generate") for _ in range(noop_runs)]
        check = [timed_make("check-generated") for _ in range(full_runs)]
        if after_full != digest or tree_digest(generated) != digest or git_status("generated/") != status:
            raise SystemExit("bench: regenerating changed generated/ (not deterministic, or an input "
                             "changed during the run): see `git status generated/`")
    return {
        "full_regenerate_s": summary(full),
        "noop_generate_s": summary(noop),
        "check_generated_s": summary(check),
        "byte_identical": True,
    }


# -- report -----------------------------------------------------------------------------

def machine() -> dict[str, Any]:
    model, virtual = platform.processor() or platform.machine(), False
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                virtual = " hypervisor" in line
    except OSError:
        pass
    import pydantic
    import urllib3

    return {
        "cpu": model + (" (virtual machine)" if virtual else ""),
        "cores": os.cpu_count(),
        "load_average_at_start": os.getloadavg()[0],
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "os": f"{platform.system()} {platform.release()}",
        "urllib3": urllib3.__version__,  # type: ignore[attr-defined]
        "pydantic": pydantic.VERSION,
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def targets(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each target with its measured value and whether it is met (None: not measured)."""
    values: dict[str, Optional[float]] = {
        "per_call_cpu_ratio": results["per_call"]["clients"]["pinterest_oauth"]["cpu_ratio"],
        "first_token_ratio": results["cold_start"]["first_token_ratio:pinterest_oauth"],
        "import_ratio": results["cold_start"]["import_ratio:pinterest_oauth"],
        "noop_generate_s": None,
        "full_regenerate_s": None,
    }
    regen = results.get("regeneration")
    if regen:
        values["noop_generate_s"] = regen["noop_generate_s"]["median"]
        values["full_regenerate_s"] = regen["full_regenerate_s"]["median"]
    report: dict[str, dict[str, Any]] = {}
    for name, limit in TARGETS.items():
        value = values[name]
        report[name] = {"limit": limit, "value": value, "met": None if value is None else value <= limit}
    return report


def _spread(s: dict[str, Any], fmt: str = "{:.0f}") -> str:
    return f"{fmt.format(s['median'])} ({fmt.format(s['min'])}–{fmt.format(s['max'])})"


def _met(t: dict[str, Any]) -> str:
    return "not measured" if t["met"] is None else ("met" if t["met"] else "**not met**")


def machine_line(m: dict[str, Any]) -> str:
    return (f"{m['cpu']}, {m['cores']} cores, {m['os']}, {m['implementation']} {m['python']}, "
            f"urllib3 {m['urllib3']}, pydantic {m['pydantic']}; {m['date']}, "
            f"load average {m['load_average_at_start']:.2f} at the start")


def ratio_table(results: dict[str, Any]) -> list[str]:
    """The README's table: each cost as a multiple of raw urllib3's, with the targets."""
    pc, cs, t = results["per_call"]["clients"], results["cold_start"], results["targets"]
    procs = cs["processes"]

    def rss(name: str) -> float:
        return float(procs[f"first_token:{name}"]["maxrss_mib"]["median"]
                     / procs["first_token:urllib3"]["maxrss_mib"]["median"])

    return [
        "| cost, as a multiple of raw urllib3 + json.loads | pinterest_oauth | authlib | target (pinterest_oauth) |",
        "| --- | --- | --- | --- |",
        f"| CPU per call (keep-alive) | {pc['pinterest_oauth']['cpu_ratio']:.2f}x | {pc['authlib']['cpu_ratio']:.2f}x "
        f"| ≤ 1.10x: {_met(t['per_call_cpu_ratio'])} |",
        f"| wall time per call | {pc['pinterest_oauth']['wall_ratio']:.2f}x | {pc['authlib']['wall_ratio']:.2f}x | |",
        f"| `import` (in-process) | {cs['import_ratio:pinterest_oauth']:.2f}x | {cs['import_ratio:authlib']:.2f}x "
        f"| ≤ 1.5x: {_met(t['import_ratio'])} |",
        f"| process start to first parsed token | {cs['first_token_ratio:pinterest_oauth']:.2f}x "
        f"| {cs['first_token_ratio:authlib']:.2f}x | ≤ 1.30x: {_met(t['first_token_ratio'])} |",
        f"| peak RSS of that process | {rss('pinterest_oauth'):.2f}x | {rss('authlib'):.2f}x | |",
    ]


def floor_line(results: dict[str, Any]) -> str:
    """How far the first token is from what returning a pydantic model costs at least."""
    cs = results["cold_start"]
    procs = cs["processes"]
    pydantic_ms = (procs["first_token:pydantic_floor"]["to_done_ms"]["median"]
                   - procs["first_token:urllib3"]["to_done_ms"]["median"])
    return (f"Floor for the first token of any client that returns a pydantic model (raw urllib3 + "
            f"`import pydantic` + one model of the token's fields): {cs['first_token_ratio:pydantic_floor']:.2f}x "
            f"(pydantic adds {pydantic_ms:.0f} ms).")


README_START = "<!-- bench:start (written by make bench) -->"
README_END = "<!-- bench:end -->"


def readme_block(results: dict[str, Any]) -> str:
    """What `make bench` writes into the README: the machine, the ratio table, the floor
    line and the regeneration times, all from this run."""
    lines = [f"Latest run: {machine_line(results['machine'])}.", "", *ratio_table(results), "",
             floor_line(results), "", *async_section(results)[4:-1]]
    regen = results.get("regeneration")
    if regen:
        lines += ["", f"Regeneration, same run: forced `make regenerate` "
                      f"{regen['full_regenerate_s']['median']:.2f} s (≤ 5 s), no-op `make generate` "
                      f"{regen['noop_generate_s']['median']:.3f} s (≤ 0.1 s), `make check-generated` "
                      f"{regen['check_generated_s']['median']:.2f} s."]
    return "\n".join(lines)


def readme_parts(path: Path) -> tuple[str, str]:
    """The README's text before and after its bench block; SystemExit unless the markers
    appear exactly once each, in order."""
    text = path.read_text(encoding="utf-8")
    start, end = text.find(README_START), text.find(README_END)
    if text.count(README_START) != 1 or text.count(README_END) != 1 or start > end:
        raise SystemExit(f"bench: {path} needs one {README_START!r} ... {README_END!r} pair")
    return text[:start], text[end + len(README_END):]


def update_readme(path: Path, block: str) -> None:
    """Replace the README's bench block with `block`, atomically (the rest is kept as is)."""
    head, tail = readme_parts(path)
    tmp = path.with_name(f".{path.name}.bench-tmp")
    tmp.write_text(f"{head}{README_START}\n{block}\n{README_END}{tail}", encoding="utf-8")
    os.replace(tmp, path)


def async_section(results: dict[str, Any]) -> list[str]:
    """The async clients' per-call table (scripts/bench_async.py), with how it was measured."""
    from bench_async import async_table

    pa = results["per_call_async"]
    return [
        "## Async per call",
        "",
        f"`pinterest_oauth.aio` (httpx2 underneath) against raw httpx2 and raw aiohttp doing the same POST "
        "(+ json.loads) and authlib's AsyncOAuth2Client, one asyncio event loop, the same responder, "
        f"each call awaited in turn; median of {pa['trials']} interleaved trials of {pa['calls_per_trial']} "
        f"calls after {pa['warmup_calls']} warm-up calls; (min–max). The last column compares with the "
        "sync floor above (raw urllib3), measured in the same run.",
        "",
        *async_table(pa, results["per_call"]["clients"]["urllib3"]["cpu_us"]["median"]),
        "",
    ]


def markdown(results: dict[str, Any]) -> str:
    pc, cs, t = results["per_call"], results["cold_start"], results["targets"]
    procs = cs["processes"]
    order = ("in the same order" if len(pc["form_field_orders"]) == 1
             else "in orders " + " / ".join(",".join(o) for o in pc["form_field_orders"]))
    share = pc["responder_cpu_share"]
    out = [
        "# Benchmark",
        "",
        f"Machine: {machine_line(results['machine'])}.",
        f"Written by `{results['command']}` (`make bench`); raw numbers in .bench/results.json.",
        "",
        "## Ratios",
        "",
        *ratio_table(results),
        "",
        floor_line(results),
        "",
        "## Per call",
        "",
        "The same authorization_code exchange (same client_secret_basic credentials; the responder "
        f"checked that every client sent the same form fields, {order}), against one keep-alive "
        f"HTTP/1.1 responder on 127.0.0.1 in another process. Median of {pc['trials']} trials of "
        f"{pc['calls_per_trial']} calls after {pc['warmup_calls']} warm-up calls, trials interleaved "
        "across the clients (a b c, b c a, c a b, ...); (min–max) over the trials. CPU is the client "
        "process's user + system time; the ratio's range is over the trials' b/a and c/a pairs.",
        "",
        "| client | CPU µs/call | wall µs/call | CPU vs (a) | wall vs (a) | responder CPU µs/request |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name in CLIENTS:
        c = pc["clients"][name]
        cpu_ratio = (f"{c['cpu_ratio']:.2f}x ({c['cpu_ratio_per_trial']['min']:.2f}–"
                     f"{c['cpu_ratio_per_trial']['max']:.2f})" if "cpu_ratio" in c else "1")
        wall_ratio = f"{c['wall_ratio']:.2f}x" if "wall_ratio" in c else "1"
        out.append(f"| {LABELS[name]} | {_spread(c['cpu_us'])} | {_spread(c['wall_us'])} | {cpu_ratio} "
                   f"| {wall_ratio} | {c['server_cpu_us']['median']:.0f} |")
    out += [
        "",
        f"The responder's CPU per request is {share:.0%} of the floor client's"
        + (": it is not the bottleneck." if share < 0.5 else ": **too high, the numbers above are suspect**."),
        "",
        *async_section(results),
        "## Cold start",
        "",
        f"Fresh `python -c` processes of the venv's interpreter, median of {cs['runs']} each, interleaved; "
        "(min–max). *In-process*: the import, or imports + client set-up + the first exchange, alone; "
        "*from process start*: the same plus interpreter start-up (a bare interpreter: "
        f"{procs['interpreter']['to_done_ms']['median']:.1f} ms); *whole process*: exit included. "
        "Peak RSS is the process's VmHWM.",
        "",
        "| process | in-process ms | from process start ms | whole process ms | CPU ms | peak RSS MiB |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    rows = [(f"import:{n}", f"`import` {LABELS[n]}") for n in CLIENTS]
    rows += [(f"first_token:{n}", f"first token, {LABELS[n]}") for n in CLIENTS]
    rows.append(("first_token:pydantic_floor", "first token, raw urllib3 + a pydantic model (floor)"))
    for key, title in rows:
        p = procs[key]
        out.append(f"| {title} | {_spread(p['work_ms'], '{:.1f}')} | {_spread(p['to_done_ms'], '{:.1f}')} "
                   f"| {p['process_ms']['median']:.1f} | {p['cpu_ms']['median']:.1f} "
                   f"| {p['maxrss_mib']['median']:.1f} |")
    regen = results.get("regeneration")
    out += ["", "## Regeneration", ""]
    if regen:
        out += [
            f"Wall time of each make target, median of {len(regen['full_regenerate_s']['samples'])} "
            f"(no-op: {len(regen['noop_generate_s']['samples'])}); generated/ came out byte-identical.",
            "",
            "| target | seconds | limit |",
            "| --- | --- | --- |",
            f"| `make regenerate` (forced, full) | {_spread(regen['full_regenerate_s'], '{:.2f}')} "
            f"| ≤ 5 s: {_met(t['full_regenerate_s'])} |",
            f"| `make generate` (no-op) | {_spread(regen['noop_generate_s'], '{:.3f}')} "
            f"| ≤ 0.1 s: {_met(t['noop_generate_s'])} |",
            f"| `make check-generated` | {_spread(regen['check_generated_s'], '{:.2f}')} | |",
        ]
    else:
        out.append("Not measured in this run (`--no-regen` or `--quick`).")
    out += ["", "## Targets", "", "| target | limit | measured | |", "| --- | --- | --- | --- |"]
    for name, target in t.items():
        value = "—" if target["value"] is None else f"{target['value']:.3f}"
        out.append(f"| {name} | {target['limit']} | {value} | {_met(target)} |")
    return "\n".join(out) + "\n"


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: tiny counts, no regeneration, outputs under .bench/")
    parser.add_argument("--trials", type=int, help="per-call trials per client (default 15)")
    parser.add_argument("--calls", type=int, help="calls per trial (default 1000)")
    parser.add_argument("--warmup", type=int, help="warm-up calls per client (default 300)")
    parser.add_argument("--cold-runs", type=int, help="fresh processes per cold-start measure (default 11)")
    parser.add_argument("--regen-runs", type=int, default=3, help="forced regenerations (default 3)")
    parser.add_argument("--no-regen", action="store_true", help="skip the regeneration timings")
    parser.add_argument("--json", type=Path, help="results file (default .bench/results.json)")
    parser.add_argument("--markdown", type=Path,
                        help="table file (default docs/benchmark.md; .bench/benchmark-quick.md with --quick)")
    parser.add_argument("--readme", type=Path,
                        help="document whose bench block to rewrite (default docs/MAINTAINERS.md; none with --quick)")
    args = parser.parse_args(argv)
    quick = args.quick
    trials = args.trials or (2 if quick else 15)
    calls = args.calls or (20 if quick else 1000)
    warmup = args.warmup or (5 if quick else 300)
    cold_runs = args.cold_runs or (1 if quick else 11)
    json_path = args.json or REPO / ".bench" / "results.json"
    md_path = args.markdown or REPO / (".bench/benchmark-quick.md" if quick else "docs/benchmark.md")
    readme_path = args.readme or (None if quick else REPO / "docs" / "MAINTAINERS.md")
    if readme_path is not None:
        readme_parts(readme_path)  # fail before measuring, not after

    command = " ".join(["scripts/bench.py", *(sys.argv[1:] if argv is None else argv)])
    results: dict[str, Any] = {"command": command, "machine": machine(), "quick": quick}
    responder = subprocess.Popen([sys.executable, str(RESPONDER)], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True)
    try:
        port = int(responder.stdout.readline())  # type: ignore[union-attr]
        print(f"bench: per call, {trials} x {calls} calls per client ...", flush=True)
        results["per_call"] = per_call(port, trials, calls, warmup)
        print(f"bench: async per call, {trials} x {calls} calls per client ...", flush=True)
        from bench_async import per_call_async

        results["per_call_async"] = per_call_async(port, trials, calls, warmup)
        print(f"bench: cold start, {cold_runs} fresh processes per measure ...", flush=True)
        results["cold_start"] = cold_start(port, cold_runs)
    finally:
        responder.stdin.close()  # type: ignore[union-attr]
        responder.wait(timeout=30)
    if not (quick or args.no_regen):
        print(f"bench: regeneration, {args.regen_runs} forced runs ...", flush=True)
        results["regeneration"] = regeneration(args.regen_runs, 2 * args.regen_runs + 1)
    results["targets"] = targets(results)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(results, indent=2) + "\n")
    md_path.parent.mkdir(parents=True, exist_ok=True)
    md_path.write_text(markdown(results))
    print(markdown(results))
    if readme_path is not None:
        update_readme(readme_path, readme_block(results))
    print(f"bench: wrote {json_path}, {md_path}" + (f" and the table in {readme_path}" if readme_path else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
