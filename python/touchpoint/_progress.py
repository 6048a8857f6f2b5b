"""A progress line for long calls: rewritten in place on stderr, where a person reads it (a terminal or
a notebook), never into a log file."""

from __future__ import annotations

import os
import sys
import time

__all__ = ["ProgressLine", "shows_progress"]


def shows_progress(stream) -> bool:
    """Whether a progress line on ``stream`` is read by a person: a terminal, or a Jupyter kernel's
    stream (a notebook renders the carriage return in place). A redirected stderr (a log file, a pipe,
    CI) gets nothing, where each redraw would be a line of its own. The environment variable
    ``TOUCHPOINT_PROGRESS`` decides instead when set: ``1`` shows the line anywhere, ``0`` nowhere."""
    forced = os.environ.get("TOUCHPOINT_PROGRESS")
    if forced in ("0", "1"):
        return forced == "1"
    try:
        if stream.isatty():
            return True
    except (AttributeError, ValueError, OSError):
        pass
    return type(stream).__module__.startswith("ipykernel")


class ProgressLine:
    """Called by the Rust core as ``(stage, done, total)``; silent for the first ``delay`` seconds of a
    call (short calls print nothing), then redraws at most every ``interval`` seconds and ends a stage's
    line when it completes or another stage starts. Silent throughout unless :func:`shows_progress`
    says a person reads the stream."""

    def __init__(self, interval: float = 0.1, delay: float = 0.5, stream=None) -> None:
        self._interval = interval
        self._delay = delay
        self._stream = stream or sys.stderr
        self._active = shows_progress(self._stream)
        self._stage: str | None = None
        self._last = 0.0
        self._start = time.perf_counter()
        self._born = self._start

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self._active:
            return
        now = time.perf_counter()
        if now - self._born < self._delay:
            return
        if stage != self._stage:
            if self._stage is not None:
                self._stream.write("\n")
            self._stage, self._start, self._last = stage, now, 0.0
        finished = total > 0 and done >= total
        if not finished and now - self._last < self._interval:
            return
        self._last = now
        frac = done / total if total else 1.0
        width = 24
        bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
        self._stream.write(f"\r{stage} [{bar}] {done:,}/{total:,} {now - self._start:5.1f}s")
        if finished:
            self._stream.write("\n")
            self._stage = None
        self._stream.flush()
