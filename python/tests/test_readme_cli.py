"""The README's command-line examples run as written with the installed `touchpoint` console script."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).parent / "touchpoint"


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Command line", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, "the README's command-line section has a sh block"
    joined = re.sub(r"\\\n\s*", " ", block.group(1))
    commands = []
    for line in joined.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            commands.append(line)
    return commands


COMMANDS = readme_commands()


def test_the_readme_lists_commands_and_the_script_is_installed() -> None:
    assert len(COMMANDS) >= 5, COMMANDS
    assert all(c.startswith("touchpoint ") for c in COMMANDS), COMMANDS
    assert SCRIPT.exists(), f"{SCRIPT} is missing: the wheel declares the console script"


@pytest.mark.parametrize("command", COMMANDS, ids=[c.split()[1] + str(i) for i, c in enumerate(COMMANDS)])
def test_readme_command_runs(command: str, tmp_path: Path) -> None:
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    args = shlex.split(command)
    done = subprocess.run(
        [str(SCRIPT), *args[1:]], cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, f"{command}\n{done.stderr}"
    assert done.stdout.strip(), f"{command} printed nothing"
    assert "panicked" not in done.stderr


def test_errors_exit_2_with_a_message_and_help_exits_0(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(SCRIPT), "attribute", "--paths", str(tmp_path / "absent.csv")], capture_output=True, text=True, check=False
    )
    assert done.returncode == 2
    assert "absent.csv" in done.stderr
    done = subprocess.run([str(SCRIPT), "--help"], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "attribute" in done.stdout
    done = subprocess.run([str(SCRIPT), "attribute", "--no-such-flag"], capture_output=True, text=True, check=False)
    assert done.returncode == 2 and "--no-such-flag" in done.stderr


def test_an_output_folder_that_cannot_be_made_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    done = subprocess.run(
        [str(SCRIPT), "simulate", "--people", "200", "--out", str(blocker / "out")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert str(blocker / "out") in done.stderr, done.stderr
