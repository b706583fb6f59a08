"""Token stores: atomic, durable, private file writes; cross-process locking; failure at every step."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import signal
import stat
import threading
import time
from pathlib import Path

import pytest

from pinterest_oauth import FileTokenStore, MemoryTokenStore, OauthAccessTokenResponse, Token, TokenStore, TokenStoreError
from tokenkit import T0, run_child, token_body

OLD = Token.from_response(
    OauthAccessTokenResponse.from_json(token_body("pina_TESTOLD0001", "pinr_TESTOLD0001").decode()),  # type: ignore[arg-type]
    sent_at=T0,
)
NEW = Token.from_response(
    OauthAccessTokenResponse.from_json(token_body("pina_TESTNEW0001", "pinr_TESTNEW0001").decode()),  # type: ignore[arg-type]
    sent_at=T0 + 100,
)
BEFORE_RENAME = ("tmp_created", "tmp_written", "tmp_synced")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def leftovers(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir() if ".tmp-" in p.name)


def test_both_stores_satisfy_the_protocol(tmp_path: Path) -> None:
    assert isinstance(MemoryTokenStore(), TokenStore)
    assert isinstance(FileTokenStore(tmp_path / "t.json"), TokenStore)
    assert not isinstance(object(), TokenStore)


def test_memory_store_round_trip() -> None:
    store = MemoryTokenStore()
    assert store.load() is None
    with store.lock():
        store.save(OLD)
    assert store.load() == OLD
    assert "pina_TESTOLD0001" not in repr(store)


def test_missing_file_loads_as_none(tmp_path: Path) -> None:
    assert FileTokenStore(tmp_path / "none.json").load() is None


@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_save_writes_complete_json_with_mode_0600_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    path = tmp_path / "sub" / "token.json"
    store = FileTokenStore(path)
    previous = os.umask(umask)
    try:
        store.save(OLD)
        store.save(NEW)
    finally:
        os.umask(previous)
    assert mode(path) == 0o600
    assert mode(path.with_name("token.json.lock")) == 0o600
    assert json.loads(path.read_text()) == NEW.to_dict()
    assert store.load() == NEW
    assert FileTokenStore(str(path)).load() == NEW  # another instance, str path
    assert leftovers(path) == []


@pytest.mark.parametrize("content", [b"", b"{", b'{"version": 1, "access_token": "pina_TESTOLD0001"', b"not json", b"[]",
                                     b'{"version": 1}'])
def test_a_corrupt_file_is_an_error_not_an_empty_store(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "token.json"
    path.write_bytes(content)
    with pytest.raises(TokenStoreError) as info:
        FileTokenStore(path).load()
    assert str(path) in str(info.value)
    assert "pina_TESTOLD0001" not in str(info.value)
    assert path.read_bytes() == content  # left for inspection


def test_a_file_readable_by_others_is_loaded_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "token.json"
    FileTokenStore(path).save(OLD)
    os.chmod(path, 0o644)
    with caplog.at_level(logging.WARNING, logger="pinterest_oauth"):
        assert FileTokenStore(path).load() == OLD
    assert "mode 644" in caplog.text and "pina_TESTOLD0001" not in caplog.text


def test_lock_is_reentrant_in_a_thread_and_exclusive_across_instances(tmp_path: Path) -> None:
    path = tmp_path / "token.json"
    first, second = FileTokenStore(path), FileTokenStore(path)
    order: list[str] = []
    with first.lock():
        with first.lock():
            first.save(OLD)  # save takes the lock again: no deadlock
        def take() -> None:
            with second.lock():
                order.append("second")

        thread = threading.Thread(target=take)
        thread.start()
        time.sleep(0.2)
        order.append("first releases")
    thread.join(5)
    assert order == ["first releases", "second"]


class FailingAt(FileTokenStore):
    """Raises at one step of save."""

    def __init__(self, path: Path, step: str) -> None:
        super().__init__(path)
        self.fail_step = step

    def _step(self, step: str) -> None:
        if step == self.fail_step:
            raise OSError(28, "No space left on device")


@pytest.mark.parametrize("step", FileTokenStore.STEPS)
def test_a_failure_at_any_step_leaves_the_old_or_the_new_token_complete(tmp_path: Path, step: str) -> None:
    path = tmp_path / "token.json"
    FileTokenStore(path).save(OLD)
    old_bytes = path.read_bytes()
    with pytest.raises(TokenStoreError) as info:
        FailingAt(path, step).save(NEW)
    err = info.value
    assert err.token == NEW
    assert "No space left on device" in str(err)
    assert "pina_TESTNEW0001" not in str(err) and "pinr_TESTNEW0001" not in str(err)
    if step in BEFORE_RENAME:
        assert not err.committed and "previous token was left" in str(err)
        assert path.read_bytes() == old_bytes
        assert FileTokenStore(path).load() == OLD
    else:
        assert err.committed
        assert FileTokenStore(path).load() == NEW
    assert mode(path) == 0o600
    assert leftovers(path) == []  # the temporary file was removed


KILL_CHILD = r"""
import json, sys, time
from pinterest_oauth import FileTokenStore, Token

path, stop_at = sys.argv[1], sys.argv[2]
token = Token.from_dict(json.loads(sys.stdin.readline()))

class StopsAt(FileTokenStore):
    def _step(self, step):
        if step == stop_at:
            print("at", step, flush=True)
            time.sleep(60)

StopsAt(path).save(token)
print("finished", flush=True)
"""


@pytest.mark.parametrize("step", FileTokenStore.STEPS)
def test_a_process_killed_mid_save_leaves_the_old_or_the_new_token(tmp_path: Path, step: str) -> None:
    path = tmp_path / "token.json"
    FileTokenStore(path).save(OLD)
    child = run_child(KILL_CHILD, str(path), step, cwd=tmp_path)
    try:
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write(json.dumps(NEW.to_dict()) + "\n")
        child.stdin.flush()
        line = child.stdout.readline()
        assert line == f"at {step}\n", (line, child.stderr.read() if child.stderr else "")
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
        for stream in (child.stdin, child.stdout, child.stderr):
            if stream is not None:
                stream.close()
    # The kill released the lock at once.
    fd = os.open(path.with_name("token.json.lock"), os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)
    expected = OLD if step in BEFORE_RENAME else NEW
    assert FileTokenStore(path).load() == expected
    assert mode(path) == 0o600
    if step in BEFORE_RENAME:
        assert len(leftovers(path)) == 1  # the killed writer's (possibly partial) temporary file
    FileTokenStore(path).save(NEW)  # the next save under the lock cleans it up
    assert leftovers(path) == []
    assert FileTokenStore(path).load() == NEW


HOLD_CHILD = r"""
import sys
from pinterest_oauth import FileTokenStore
with FileTokenStore(sys.argv[1]).lock():
    print("locked", flush=True)
    sys.stdin.readline()
"""


def test_the_lock_excludes_another_process(tmp_path: Path) -> None:
    path = tmp_path / "token.json"
    child = run_child(HOLD_CHILD, str(path), cwd=tmp_path)
    assert child.stdin is not None and child.stdout is not None
    try:
        assert child.stdout.readline() == "locked\n"
        acquired = threading.Event()

        def take() -> None:
            with FileTokenStore(path).lock():
                acquired.set()

        thread = threading.Thread(target=take)
        thread.start()
        assert not acquired.wait(0.3)  # blocked while the other process holds it
        child.stdin.write("\n")
        child.stdin.flush()
        assert acquired.wait(10)
        thread.join(5)
        assert child.wait(10) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
        for stream in (child.stdin, child.stdout, child.stderr):
            if stream is not None:
                stream.close()
