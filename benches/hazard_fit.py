"""The additive-hazard fit on a million simulated people: wall time (median) and peak memory.

    python benches/hazard_fit.py [--people 1000000] [--repeat 3] [--scenario baseline]

Simulates the scenario once (its journeys carry every person's timeline), then times
`tp.attribute(sim.journeys, models=["additive_hazard"])` -- the fit and the credit, nothing else --
`--repeat` times, and prints the median, the touches and conversions fitted, the iterations, and the
process's peak RSS (which includes the simulation) next to the RSS before the first fit. For
comparison, `last_touch` on the same journeys is timed in the same run.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import polars as pl

import touchpoint as tp


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--people", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--scenario", default="baseline")
    args = ap.parse_args()
    sim = tp.simulate(args.scenario, people=args.people, seed=7, progress=False)
    j = sim.journeys
    touches = sim.touches.height
    before = rss_mib()
    times = []
    r = None
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        r = tp.attribute(j, models=["additive_hazard"], progress=False)
        times.append(time.perf_counter() - t0)
    assert r is not None
    base = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        tp.attribute(j, models=["last_touch"], progress=False)
        base.append(time.perf_counter() - t0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    fit = r.table("hazard_fit").row(0, named=True)
    conversions = r.to_polars()["conversions"].sum()
    print(f"scenario {args.scenario}, {args.people:,} people, {touches:,} touches, {conversions:,.0f} conversions")
    each = ", ".join(f"{t:.2f}" for t in times)
    print(f"additive_hazard: median {statistics.median(times):.2f} s over {args.repeat} ({each})")
    print(f"  fit: {fit['method']}, {fit['iterations']} iterations, reached {fit['reached']:.2e}")
    print(f"last_touch on the same journeys: median {statistics.median(base):.2f} s")
    print(f"RSS before the fits {before:,.0f} MiB, peak {peak:,.0f} MiB (simulation included)")
    with pl.Config(tbl_rows=20):
        print(r.table("hazard_parameters").select("player", "beta", "beta_se", "half_life_days", "baseline_per_day"))


if __name__ == "__main__":
    main()
