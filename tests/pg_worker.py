"""One "machine" of a fleet sharing a PostgresTokenStore (run as a child process by the tests).

    python pg_worker.py '<json config>'

Threads share one TokenSession and ask for an access token in a loop for `seconds`. Prints one
JSON object: when its threads started (`started`, time.time(), after the imports), for each
access token handed out the first and last time it was handed out, and the exceptions seen
(type -> count, type -> last message). With `step` and
`action`, the store's test hook kills (SIGKILL) or stops (SIGSTOP) this process the first time
it reaches that step, before the thread that reached it runs one more instruction.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections import Counter
from typing import Any

from pinterest_oauth import PostgresTokenStore, RetryPolicy, TokenSession

cfg: dict[str, Any] = json.loads(sys.argv[1])
done = threading.Event()


class Store(PostgresTokenStore):
    def _step(self, step: str) -> None:
        if step == cfg.get("step") and not done.is_set():
            done.set()
            # Sent to this thread, not to the process: the kernel delivers a process-directed
            # SIGSTOP to the main thread (idle in join()), and until that thread is scheduled and
            # starts the group stop this one runs on (on a loaded machine long enough to send
            # the request or commit the save the test stops it before). A thread-directed signal
            # is handled by this thread itself on its way back from the system call.
            signal.pthread_kill(threading.get_ident(),
                                signal.SIGKILL if cfg.get("action") == "kill" else signal.SIGSTOP)


store = Store(cfg["conninfo"], cfg["key"], table=cfg["table"], lease_seconds=cfg["lease"],
              retry_seconds=cfg.get("retry_seconds", 10.0), timeout=2.0)
session = TokenSession(cfg["client_id"], cfg["client_secret"], store, host=cfg["url"],
                       retry=RetryPolicy(max_attempts=1), timeouts=(2, 2), refresh_margin=cfg["margin"])
handed: dict[str, list[float]] = {}
errors: Counter[str] = Counter()
messages: dict[str, str] = {}
lock = threading.Lock()
started = time.time()
end = time.monotonic() + cfg["seconds"]


def work() -> None:
    while time.monotonic() < end:
        try:
            token = session.access_token()
            when = time.time()
            with lock:
                seen = handed.setdefault(token, [when, when])
                seen[0], seen[1] = min(seen[0], when), max(seen[1], when)
        except Exception as exc:  # recorded and checked by the test
            name = f"{type(exc).__module__}.{type(exc).__name__}"
            with lock:
                errors[name] += 1
                messages[name] = str(exc)[:600]
            time.sleep(0.1)
        time.sleep(cfg.get("pause", 0.01))


threads = [threading.Thread(target=work) for _ in range(cfg["threads"])]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(json.dumps({"handed": handed, "errors": errors, "messages": messages, "pid": os.getpid(),
                  "started": started}))
