"""The progress line reaches a person (a terminal, a notebook), never a log file (issue 29)."""

from __future__ import annotations

import io
import time

import pytest

from touchpoint._progress import ProgressLine, shows_progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _run(stream: io.StringIO) -> str:
    line = ProgressLine(interval=0.0, delay=0.0, stream=stream)
    for done in range(0, 101, 10):
        line("cutting journeys", done, 100)
        time.sleep(0.001)
    return stream.getvalue()


def test_a_log_file_gets_nothing_and_a_terminal_gets_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOUCHPOINT_PROGRESS", raising=False)
    assert not shows_progress(io.StringIO())
    assert _run(io.StringIO()) == ""
    out = _run(_Terminal())
    # Redrawn in place (carriage returns), one line ended when the stage completes.
    assert out.count("\n") == 1 and out.count("\r") > 1
    assert out.rstrip("\n").split("\r")[-1].startswith("cutting journeys [########################] 100/100")


def test_the_environment_forces_or_silences(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOUCHPOINT_PROGRESS", "1")
    assert "100/100" in _run(io.StringIO())
    monkeypatch.setenv("TOUCHPOINT_PROGRESS", "0")
    assert _run(_Terminal()) == ""


def test_a_closed_or_odd_stream_is_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOUCHPOINT_PROGRESS", raising=False)
    closed = io.StringIO()
    closed.close()
    assert not shows_progress(closed)
    assert not shows_progress(object())
