"""FileTokenStore.save is durable, in order: the temporary file's complete content is fsynced
before the rename, and the directory (which holds the rename) is fsynced after it.

`os.fsync` and `os.replace` are wrapped to record what they were called on; a file is
identified by its inode, which a rename keeps.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from fakes import make_token
from pinterest_oauth import FileTokenStore, Token


def _token(access: str) -> Token:
    return make_token(access, "pinr_TESTDURABLE0001")


def _record(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    events: list[tuple[Any, ...]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        info = os.fstat(fd)
        kind = "dir" if stat.S_ISDIR(info.st_mode) else "file"
        real_fsync(fd)
        events.append(("fsync", kind, info.st_ino, info.st_size))

    def replace(src: Any, dst: Any, **kwargs: Any) -> None:
        ino = os.stat(src).st_ino
        real_replace(src, dst, **kwargs)
        events.append(("replace", ino, Path(src).name, Path(dst).name))

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    return events


@pytest.mark.parametrize("existing", [False, True], ids=["new file", "replacing a file"])
def test_save_fsyncs_the_file_before_the_rename_and_the_directory_after(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, existing: bool) -> None:
    path = tmp_path / "token.json"
    store = FileTokenStore(path)
    if existing:
        store.save(_token("pina_TESTDURABLE0000"))
    events = _record(monkeypatch)
    store.save(_token("pina_TESTDURABLE0001"))

    final = path.stat()
    directory = tmp_path.stat()
    assert [e[:2] for e in events] == [("fsync", "file"), ("replace", final.st_ino), ("fsync", "dir")]
    (_, _, synced_ino, synced_size), (_, renamed_ino, src, dst), (_, _, dir_ino, _) = events
    assert synced_ino == renamed_ino == final.st_ino  # the file synced is the one renamed into place
    assert synced_size == final.st_size == len(path.read_bytes())  # synced after the whole write
    assert src.startswith(".token.json.tmp-") and dst == "token.json"
    assert dir_ino == directory.st_ino  # the directory holding the new entry
    assert store.load() == _token("pina_TESTDURABLE0001")


def test_the_temporary_file_is_private_from_its_creation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Created 0600 (not just chmod-ed later): no instant in which another user could open it."""
    modes: list[int] = []
    real_fchmod = os.fchmod

    def fchmod(fd: int, mode: int) -> None:
        modes.append(stat.S_IMODE(os.fstat(fd).st_mode))
        real_fchmod(fd, mode)

    monkeypatch.setattr(os, "fchmod", fchmod)
    previous = os.umask(0)
    try:
        FileTokenStore(tmp_path / "token.json").save(_token("pina_TESTDURABLE0002"))
    finally:
        os.umask(previous)
    assert modes == [0o600]
