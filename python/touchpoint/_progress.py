"""A progress line for long calls: rewritten in place on stderr (terminals and notebooks alike)."""

from __future__ import annotations

import sys
import time

__all__ = ["ProgressLine"]


class ProgressLine:
    """Called by the Rust core as ``(stage, done, total)``; silent for the first ``delay`` seconds of a
    call (short calls print nothing), then redraws at most every ``interval`` seconds and ends a stage's
    line when it completes or another stage starts."""

    def __init__(self, interval: float = 0.1, delay: float = 0.5, stream=None) -> None:
        self._interval = interval
        self._delay = delay
        self._stream = stream or sys.stderr
        self._stage: str | None = None
        self._last = 0.0
        self._start = time.perf_counter()
        self._born = self._start

    def __call__(self, stage: str, done: int, total: int) -> None:
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
