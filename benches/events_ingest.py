"""Event logs into journeys at scale: 50M touches and 2M conversions (generated) -> Journeys.

    python benches/events_ingest.py [--touches 50000000] [--conversions 2000000] [--people 5000000]

Prints the time of `tp.Journeys.from_events`, throughput in touches per second, the peak RSS of the
process and the input DataFrames' `estimated_size()` (target: peak RSS under 3x the inputs).
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import polars as pl

import touchpoint as tp


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--touches", type=int, default=50_000_000)
    ap.add_argument("--conversions", type=int, default=2_000_000)
    ap.add_argument("--people", type=int, default=5_000_000)
    args = ap.parse_args()
    rng = np.random.default_rng(11)
    start = np.datetime64("2026-01-01T00:00:00", "us").astype(np.int64)
    span = 90 * 86_400_000_000
    channels = pl.Series(["search", "direct", "email", "display", "facebook", "instagram", "linkedin", "twitter"])
    touches = pl.DataFrame(
        {
            "user_id": rng.integers(0, args.people, args.touches),
            "ts": pl.Series(start + rng.integers(0, span, args.touches)).cast(pl.Datetime("us", "UTC")),
            "channel": channels.gather(rng.integers(0, len(channels), args.touches)),
        }
    )
    kpis = pl.Series(["sales", "tickets_deflected", "hires"])
    conversions = pl.DataFrame(
        {
            "user_id": rng.integers(0, args.people, args.conversions),
            "ts": pl.Series(start + rng.integers(0, span, args.conversions)).cast(pl.Datetime("us", "UTC")),
            "kpi": kpis.gather(rng.integers(0, 3, args.conversions)),
            "value": rng.gamma(2.0, 50.0, args.conversions),
        }
    )
    size_mib = (touches.estimated_size() + conversions.estimated_size()) / 2**20
    before = rss_mib()
    print(f"inputs: {touches.height:,} touches, {conversions.height:,} conversions, {size_mib:,.0f} MiB estimated")
    print(f"peak RSS before ingestion (inputs built): {before:,.0f} MiB")
    t0 = time.perf_counter()
    j = tp.Journeys.from_events(touches, conversions, lookback="30d")
    elapsed = time.perf_counter() - t0
    peak = rss_mib()
    print(f"from_events: {elapsed:.2f} s, {touches.height / elapsed / 1e6:.2f}M touches/s -> {len(j):,} journeys")
    print(f"peak RSS: {peak:,.0f} MiB = {peak / size_mib:.2f}x the inputs' estimated size")
    s = j.summary
    print(s)


if __name__ == "__main__":
    main()
