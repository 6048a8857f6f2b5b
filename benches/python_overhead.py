"""Python overhead of `tp.attribute`: the call from Python against the same work timed inside Rust.

    python benches/python_overhead.py [--journeys 1000000] [--repeat 7]

Builds 1M journeys (4 touches on average, 12 channels) from a polars DataFrame, then times
`tp.attribute(j, models=...)` from Python and `_touchpoint.time_attribute` (the same Rust call, timed
in Rust) in the same process; prints medians and their ratio (target: within 1.2x).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import polars as pl

import touchpoint as tp
from touchpoint import _touchpoint
from touchpoint.models import to_spec

MODELS = ["first_touch", "last_touch", "linear", "position_based", "markov", "shapley"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--journeys", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    rng = np.random.default_rng(3)
    n = args.journeys
    lengths = rng.integers(1, 8, n)
    names = np.array([f"channel_{c:02d}" for c in range(12)])
    words = names[rng.integers(0, 12, int(lengths.sum()))]
    ends = np.cumsum(lengths)
    paths = [" > ".join(words[e - k : e]) for e, k in zip(ends, lengths, strict=True)]
    conv = (rng.random(n) < 0.03).astype(np.float64)
    df = pl.DataFrame({"path": paths, "total_conversions": conv, "total_null": 1.0 - conv})
    t0 = time.perf_counter()
    j = tp.Journeys.from_paths(df)
    read = time.perf_counter() - t0
    print(f"{len(j):,} journeys, {j.n_touches:,} touches; from_paths {read:.3f} s")
    specs = [to_spec(m) for m in MODELS]
    python_times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        tp.attribute(j, models=MODELS)
        python_times.append(time.perf_counter() - t0)
    rust_times = _touchpoint.time_attribute(j._inner, specs, "channel", args.repeat)
    py_med, rs_med = statistics.median(python_times), statistics.median(rust_times)
    print(f"models: {', '.join(MODELS)}")
    print(f"tp.attribute from Python: median {py_med * 1000:.1f} ms over {args.repeat} runs")
    print(f"the same call timed in Rust: median {rs_med * 1000:.1f} ms")
    print(f"ratio Python / Rust: {py_med / rs_med:.3f}")


if __name__ == "__main__":
    main()
