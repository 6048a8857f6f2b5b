"""Event logs into journeys at scale: 50M touches and 2M conversions (generated) -> Journeys.

    python benches/events_ingest.py [--touches 50000000] [--conversions 2000000] [--people 5000000] [--kpis 1]
    python benches/events_ingest.py --touches 200000000 --conversions 8000000 --people 20000000 --buckets 32

The log is generated and written to Parquet first; a fresh process then reads it and builds the
journeys, so its peak RSS counts the input DataFrames and the ingestion, not the generator. Prints the
time of `tp.Journeys.from_events`, touches per second, the peak RSS of that process and the input
DataFrames' `estimated_size()` (target: peak RSS under 3x the inputs). With several KPIs each touch
can sit in one journey per KPI (every person gets a null journey per KPI), so the journeys grow with
the number of KPIs.

With ``--buckets N`` the log is written as directories of Parquet files (20M touches a file, so the
generator never holds it whole) and read by ``from_events`` out of core: each table streamed once into
N buckets of people, one bucket cut at a time. It prints the same figures, with the size on disk.

With ``--hazard`` the additive-hazard model is then fitted on the journeys (``baseline="constant"``)
and its time, the peak RSS after it and the baseline row are printed; with ``--buckets`` it reads the
buckets kept in the work directory, one bucket's part of the fit data at a time.

    python benches/events_ingest.py --touches 20000000 --conversions 800000 --people 2000000 --hazard
    python benches/events_ingest.py --touches 20000000 --conversions 800000 --people 2000000 --hazard --buckets 8
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl


def rss_mib() -> float:
    """This process's peak RSS (VmHWM). Not getrusage's ru_maxrss, which Linux carries across fork and
    exec, so that the worker would report at least the generator's RSS."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate(folder: Path, touches: int, conversions: int, people: int, kpis: int, split: bool = False) -> None:
    """Writes touches.parquet and conversions.parquet, or with ``split`` directories touches/ and
    conversions/ of files of at most 20M rows."""
    rng = np.random.default_rng(11)
    start = np.datetime64("2026-01-01T00:00:00", "us").astype(np.int64)
    span = 90 * 86_400_000_000
    channels = pl.Series(["search", "direct", "email", "display", "facebook", "instagram", "linkedin", "twitter"])
    names = pl.Series(["sales", "tickets_deflected", "hires"][:kpis])
    chunk = 20_000_000 if split else max(touches, conversions, 1)
    for table in ("touches", "conversions"):
        if split:
            (folder / table).mkdir()
        n = touches if table == "touches" else conversions
        for i, lo in enumerate(range(0, n, chunk)):
            m = min(chunk, n - lo)
            cols = {
                "user_id": rng.integers(0, people, m),
                "ts": pl.Series(start + rng.integers(0, span, m)).cast(pl.Datetime("us", "UTC")),
            }
            if table == "touches":
                cols["channel"] = channels.gather(rng.integers(0, len(channels), m))
            else:
                cols["kpi"] = names.gather(rng.integers(0, kpis, m))
                cols["value"] = rng.gamma(2.0, 50.0, m)
            out = folder / table / f"part-{i:03}.parquet" if split else folder / f"{table}.parquet"
            pl.DataFrame(cols).write_parquet(out)


def fit_hazard(j: object) -> None:
    import touchpoint as tp

    t0 = time.perf_counter()
    r = tp.attribute(j, models=[tp.models.AdditiveHazard(baseline="constant")], progress=False)
    elapsed = time.perf_counter() - t0
    base = r.to_polars().filter(pl.col("channel") == "(baseline)")
    print(f"additive_hazard: {elapsed:.1f} s, peak RSS: {rss_mib():,.0f} MiB")
    print(f"baseline conversions: {base['conversions'].to_list()}")


def worker_buckets(folder: Path, buckets: int, hazard: bool) -> None:
    import touchpoint as tp

    on_disk = sum(p.stat().st_size for p in folder.rglob("*.parquet")) / 2**30
    n = pl.scan_parquet(folder / "touches").select(pl.len()).collect().item()
    print(f"inputs on disk: {n:,} touches, {on_disk:.2f} GiB of Parquet; RSS before: {rss_mib():,.0f} MiB")
    t0 = time.perf_counter()
    j = tp.Journeys.from_events(
        folder / "touches",
        folder / "conversions",
        lookback="30d",
        buckets=buckets,
        workdir=folder / "work",
        progress=False,
    )
    elapsed = time.perf_counter() - t0
    print(f"from_events in {buckets} buckets: {elapsed:.1f} s, {n / elapsed / 1e6:.2f}M touches/s -> {j!r}")
    print(f"peak RSS: {rss_mib():,.0f} MiB")
    s = j.summary
    print(
        f"conversions in: {s['conversions'].sum():,.0f}, in journeys: {s['attributed'].sum():,.0f}, "
        f"unattributed: {s['unattributed'].sum():,.0f}"
    )
    if hazard:
        fit_hazard(j)


def worker(folder: Path, hazard: bool) -> None:
    import touchpoint as tp

    touches = pl.read_parquet(folder / "touches.parquet")
    conversions = pl.read_parquet(folder / "conversions.parquet")
    size_mib = (touches.estimated_size() + conversions.estimated_size()) / 2**20
    print(f"inputs: {touches.height:,} touches, {conversions.height:,} conversions, {size_mib:,.0f} MiB estimated")
    print(f"RSS with the inputs read: {rss_mib():,.0f} MiB")
    t0 = time.perf_counter()
    j = tp.Journeys.from_events(touches, conversions, lookback="30d", progress=False)
    elapsed = time.perf_counter() - t0
    peak = rss_mib()
    print(f"from_events: {elapsed:.2f} s, {touches.height / elapsed / 1e6:.2f}M touches/s -> {len(j):,} journeys")
    print(f"peak RSS: {peak:,.0f} MiB = {peak / size_mib:.2f}x the inputs' estimated size")
    s = j.summary
    print(
        f"conversions in: {s['conversions'].sum():,.0f}, in journeys: {s['attributed'].sum():,.0f}, "
        f"unattributed: {s['unattributed'].sum():,.0f}"
    )
    if hazard:
        del touches, conversions
        fit_hazard(j)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--touches", type=int, default=50_000_000)
    ap.add_argument("--conversions", type=int, default=2_000_000)
    ap.add_argument("--people", type=int, default=5_000_000)
    ap.add_argument("--kpis", type=int, default=1, choices=[1, 2, 3], help="KPIs the conversions spread over")
    ap.add_argument("--buckets", type=int, help="read the log out of core in this many buckets of people")
    ap.add_argument("--dir", type=Path, help="where to write the log (default: a temporary directory)")
    ap.add_argument("--hazard", action="store_true", help="then fit the additive-hazard model on the journeys")
    ap.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        if args.buckets:
            worker_buckets(args.worker, args.buckets, args.hazard)
        else:
            worker(args.worker, args.hazard)
        return
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        generate(folder, args.touches, args.conversions, args.people, args.kpis, split=bool(args.buckets))
        print(f"generated in {time.perf_counter() - t0:.1f} s")
        extra = ["--buckets", str(args.buckets)] if args.buckets else []
        extra += ["--hazard"] if args.hazard else []
        subprocess.run([sys.executable, __file__, "--worker", str(folder), *extra], check=True)


if __name__ == "__main__":
    main()
