"""Touchpoint's exact Markov model against ChannelAttribution's (PyPI `channelattribution`), side by side.

Generates 1M journeys over 12 channels (lengths 1-20, mean about 2.85, about 3% converting), aggregates
them to distinct paths, and times, in this one run:
  - the library call: `tp.Journeys.from_paths(df)` + `tp.attribute(..., Markov(order=k))` against
    `markov_model(df, ..., order=k, ncore=1)`, each timed inside Python (median of --repeat runs);
  - the whole process: `touchpoint attribute --model markov` against a Python process that reads the CSV
    with pandas and calls `markov_model` once; peak RSS of each process. The two processes take turns
    (two runs of ours, then one of the peer's, --repeat times), so a machine whose speed drifts over the
    run slows both alike: the ratio compares medians taken over the same stretch of time.
The peer runs only when `import ChannelAttribution` works (`pip install channelattribution matplotlib`).

    python benches/peer_markov.py [--journeys 1000000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

import touchpoint as tp

ROOT = Path(__file__).resolve().parents[1]
CLI = ROOT / "target" / "release" / "touchpoint"


def generate(n: int, seed: int = 1) -> pl.DataFrame:
    """n journeys aggregated to distinct paths (ChannelAttribution's column names)."""
    rng = np.random.default_rng(seed)
    lengths = np.minimum(rng.geometric(1 / 2.85, n), 20)
    popularity = 1.0 / np.arange(1, 13) ** 0.8
    popularity /= popularity.sum()
    touches = rng.choice(12, size=int(lengths.sum()), p=popularity)
    names = np.array([f"ch{c:02d}" for c in range(12)])
    ends = np.cumsum(lengths)
    starts = ends - lengths
    words = names[touches]
    paths = [" > ".join(words[s:e]) for s, e in zip(starts, ends, strict=False)]
    converts = rng.random(n) < 0.03
    value = np.where(converts, rng.gamma(2.0, 50.0, n), 0.0)
    df = pl.DataFrame(
        {"path": paths, "c": converts.astype(np.float64), "v": value, "n": (~converts).astype(np.float64)}
    )
    return (
        df.group_by("path")
        .agg(
            pl.col("c").sum().alias("total_conversions"),
            pl.col("v").sum().alias("total_conversion_value"),
            pl.col("n").sum().alias("total_null"),
        )
        .sort("path")
    )


def median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def process(cmd: list[str]) -> tuple[float, float]:
    """Wall time (s) and peak RSS (MiB) of one process.

    RSS comes from GNU time when present: a child forked from this (large) Python process would
    report this process's high-water mark as its own (Linux keeps it across exec), so the measured
    command must be forked from a small process."""
    timer = Path("/usr/bin/time")
    wrapped = [str(timer), "-f", "%M", *cmd] if timer.exists() else cmd
    t0 = time.perf_counter()
    proc = subprocess.run(wrapped, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed with status {proc.returncode}: {proc.stderr[-500:]}")
    lines = proc.stderr.strip().splitlines()
    rss = int(lines[-1]) / 1024 if timer.exists() and lines and lines[-1].isdigit() else float("nan")
    return elapsed, rss


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--journeys", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    table = generate(args.journeys)
    tmp = Path(tempfile.mkdtemp())
    csv = tmp / "paths.csv"
    table.write_csv(csv)
    print(f"{args.journeys:,} journeys -> {table.height:,} distinct paths ({csv})")
    # Ours first, before the peer is imported (its import brings matplotlib and its own threads).
    ours = {
        order: median_time(
            lambda order=order: tp.attribute(tp.Journeys.from_paths(table), models=[tp.models.Markov(order=order)]),
            args.repeat,
        )
        for order in (1, 3)
    }
    if not CLI.exists():
        print(f"(no {CLI}: run `make cli` to build the CLI)")
    try:
        import ChannelAttribution as ca  # noqa: N813

        peer = ca
    except Exception:  # not installed, or its undeclared matplotlib import fails
        peer = None
    pdf = table.to_pandas() if peer else None
    rows = []
    for order in (1, 3):
        theirs = None
        if peer:
            theirs = median_time(
                lambda order=order: peer.markov_model(
                    pdf,
                    "path",
                    "total_conversions",
                    var_value="total_conversion_value",
                    var_null="total_null",
                    order=order,
                    ncore=1,
                    verbose=0,
                ),
                max(1, args.repeat // 2),
            )
        rows.append((f"library call, order {order}", ours[order], theirs))

    if CLI.exists():
        ours_cmd = [str(CLI), "attribute", "--paths", str(csv), "--model", "markov", "--format", "csv"]
        script = (
            "import pandas as pd, ChannelAttribution as ca;"
            f"d=pd.read_csv({str(csv)!r});"
            "ca.markov_model(d,'path','total_conversions',var_value='total_conversion_value',"
            "var_null='total_null',order=1,ncore=1,verbose=0)"
        )
        cli_runs, theirs_p = [], []
        for _ in range(args.repeat):
            cli_runs += [process(ours_cmd) for _ in range(2)]
            if peer:
                theirs_p.append(process([sys.executable, "-c", script]))
        t_ours = statistics.median(t for t, _ in cli_runs)
        rss_ours = max(r for _, r in cli_runs)
        theirs_t = statistics.median(t for t, _ in theirs_p) if peer else None
        rows.append(("whole process, order 1", t_ours, theirs_t))
        rss = f"peak RSS: touchpoint CLI {rss_ours:.0f} MiB"
        print(rss + (f", peer process {max(r for _, r in theirs_p):.0f} MiB" if peer else ""))

    print("\n| what | touchpoint (s) | ChannelAttribution (s) | ratio |\n|---|---:|---:|---:|")
    for what, ours, theirs in rows:
        ratio = f"{theirs / ours:.1f}x" if theirs else "peer not installed"
        print(
            f"| {what} | {ours:.3f} | {theirs:.3f} | {ratio} |" if theirs else f"| {what} | {ours:.3f} | - | {ratio} |"
        )


if __name__ == "__main__":
    main()
