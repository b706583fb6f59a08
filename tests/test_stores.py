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

from fakes import T0, make_token, run_child
from pinterest_oauth import FileTokenStore, MemoryTokenStore, TokenStore, TokenStoreError

OLD = make_token("pina_TESTOLD0001", "pinr_TESTOLD0001")
NEW = make_token("pina_TESTNEW0001", "pinr_TESTNEW0001", sent_at=T0 + 100)
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


class Occupancy:
    """Counts who is inside a critical section: `max_inside` above 1, or a lost update of
    `total` (read, yield, write), means two holders at once."""

    def __init__(self) -> None:
        self.inside = 0
        self.max_inside = 0
        self.total = 0
        self._guard = threading.Lock()

    def visit(self) -> None:
        with self._guard:
            self.inside += 1
            self.max_inside = max(self.max_inside, self.inside)
        seen = self.total
        time.sleep(0.0005)  # yield inside the section: without exclusion another thread runs here
        self.total = seen + 1
        with self._guard:
            self.inside -= 1


def test_lock_is_reentrant_in_a_thread(tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path / "token.json")
    with store.lock():
        with store.lock():
            store.save(OLD)  # save takes the lock again: no deadlock
        assert store.load() == OLD
    with FileTokenStore(tmp_path / "token.json").lock():  # released completely: another takes it
        pass


@pytest.mark.parametrize("one_instance", [True, False], ids=["one instance", "an instance per thread"])
def test_lock_excludes_threads(tmp_path: Path, one_instance: bool) -> None:
    path = tmp_path / "token.json"
    one = FileTokenStore(path)
    occupancy = Occupancy()
    threads_n, rounds = 6, 25
    start = threading.Barrier(threads_n)

    def work() -> None:
        store = one if one_instance else FileTokenStore(path)
        start.wait(10)
        for _ in range(rounds):
            with store.lock():
                occupancy.visit()

    threads = [threading.Thread(target=work) for _ in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert (occupancy.max_inside, occupancy.total) == (1, threads_n * rounds)


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


COUNT_CHILD = r"""
import os, sys, time
from pinterest_oauth import FileTokenStore
path, counter, marker, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
store = FileTokenStore(path)
print("ready", flush=True)
sys.stdin.readline()
for _ in range(rounds):
    with store.lock():
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))  # fails if another holder is inside
        with open(counter) as f:
            seen = int(f.read())
        time.sleep(0.001)
        with open(counter, "w") as f:
            f.write(str(seen + 1))
        os.unlink(marker)
print("done", flush=True)
"""


def test_the_lock_excludes_other_processes(tmp_path: Path) -> None:
    """Three processes increment a shared counter under the lock: no two are ever inside at once
    (the marker file is created exclusively) and no increment is lost."""
    path, counter, marker = tmp_path / "token.json", tmp_path / "counter", tmp_path / "inside"
    counter.write_text("0")
    rounds = 30
    children = [run_child(COUNT_CHILD, str(path), str(counter), str(marker), str(rounds), cwd=tmp_path)
                for _ in range(3)]
    try:
        for child in children:
            assert child.stdout is not None and child.stdout.readline() == "ready\n"
        for child in children:  # start together
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        outputs = [child.communicate(timeout=60) for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.communicate()
    assert [(child.returncode, out) for child, (out, _) in zip(children, outputs)] == [(0, "done\n")] * 3, outputs
    assert counter.read_text() == str(3 * rounds)
    assert not marker.exists()


@pytest.mark.parametrize(("file_mode", "warned"), [(0o600, False), (0o400, False), (0o700, False), (0o640, True),
                                                   (0o604, True), (0o610, True), (0o601, True), (0o620, True)])
def test_any_group_or_other_permission_is_warned_about(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                       file_mode: int, warned: bool) -> None:
    path = tmp_path / "token.json"
    FileTokenStore(path).save(OLD)
    os.chmod(path, file_mode)
    with caplog.at_level(logging.WARNING, logger="pinterest_oauth"):
        assert FileTokenStore(path).load() == OLD
    assert (f"mode {file_mode:o}" in caplog.text) is warned


def test_the_file_is_sorted_indented_json_a_person_can_read(tmp_path: Path) -> None:
    path = tmp_path / "token.json"
    FileTokenStore(path).save(NEW)
    assert path.read_text() == json.dumps(NEW.to_dict(), indent=2, sort_keys=True) + "\n"


def test_a_missing_directory_is_created_private(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "token.json"
    previous = os.umask(0)
    try:
        FileTokenStore(path).save(OLD)
    finally:
        os.umask(previous)
    assert mode(path.parent) == 0o700 and mode(path) == 0o600
    assert FileTokenStore(path).load() == OLD


def test_an_unlistable_directory_does_not_stop_a_save(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Leftover temporaries are cleaned up when the directory can be listed; when it cannot,
    the save goes on."""
    path = tmp_path / "token.json"

    def refuse(where: object) -> list[str]:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "listdir", refuse)
    FileTokenStore(path).save(OLD)
    monkeypatch.undo()
    assert FileTokenStore(path).load() == OLD


def test_the_temporary_file_is_opened_exclusively_without_following_links(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[int] = []
    real_open = os.open

    def spy(path: object, flags: int, *args: object) -> int:
        if ".tmp-" in str(path):
            opened.append(flags)
        return real_open(path, flags, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", spy)
    FileTokenStore(tmp_path / "token.json").save(OLD)
    [flags] = opened
    for flag in (os.O_WRONLY, os.O_CREAT, os.O_EXCL, os.O_CLOEXEC, os.O_NOFOLLOW):
        assert flags & flag == flag


def test_an_unreadable_path_names_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "token.json"
    store = FileTokenStore(path)
    path.mkdir()  # after construction, which refuses a directory outright
    with pytest.raises(TokenStoreError, match=r"cannot read token file .*token\.json: Is a directory"):
        store.load()


@pytest.mark.parametrize("failure", [OSError(37, "No locks available"), KeyboardInterrupt()],
                         ids=["OSError", "KeyboardInterrupt"])
def test_a_failed_flock_closes_the_lock_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             failure: BaseException) -> None:
    def fail(fd: int, operation: int) -> None:
        raise failure

    store = FileTokenStore(tmp_path / "token.json")
    monkeypatch.setattr(fcntl, "flock", fail)
    before = len(os.listdir("/proc/self/fd"))
    with pytest.raises(type(failure)):
        with store.lock():
            pass
    assert len(os.listdir("/proc/self/fd")) == before  # the lock file's descriptor was closed
    monkeypatch.undo()
    with store.lock():  # and the store still works
        store.save(OLD)


def test_a_lock_file_that_cannot_be_created_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    store = FileTokenStore(blocker / "token.json")
    blocker.write_text("")  # after construction, which refuses a parent that is a file
    with pytest.raises(TokenStoreError, match="cannot open lock file"):
        store.save(OLD)


def test_a_store_error_defaults_to_nothing_committed_and_no_token() -> None:
    error = TokenStoreError("cannot read")
    assert (error.token, error.committed, str(error)) == (None, False, "cannot read")
    with pytest.raises(TypeError):
        TokenStoreError("x", OLD)  # type: ignore[misc]  # token= and committed= are keyword-only


def test_a_write_ahead_record_is_a_frozen_value_that_names_its_token_by_digest() -> None:
    import dataclasses
    import hashlib

    from pinterest_oauth import RefreshRecord

    digest = hashlib.sha256(b"pinr_RECORDED").hexdigest()
    record = RefreshRecord(refresh_token_sha256=digest, by="host:12:3:ab", at=T0)
    assert record == RefreshRecord(digest, "host:12:3:ab", T0)
    assert record.describe() == f"refresh token sha256:{digest[:12]}… sent by host:12:3:ab at 2025-10-09T08:53:20+00:00"
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.by = "other"  # type: ignore[misc]


def test_the_memory_stores_lease_records_a_reauthorization() -> None:
    store = MemoryTokenStore(make_token("pina_A", "pinr_A"))
    with store.lock() as lease:
        assert lease is not None and lease.reauthorization is None
        assert lease.require_reauthorization("revoked by the user") is True
    with store.lock() as again:
        assert again is not None and again.reauthorization == "revoked by the user"
