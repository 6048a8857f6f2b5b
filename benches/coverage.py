"""Coverage of the bootstrap intervals: do the 90% intervals of each model's channel shares contain the
same model's share on a sample 20 times larger?

    python benches/coverage.py [--seeds 40] [--people 20000] [--resamples 200] [--level 0.9]
                               [--scenario baseline] [--models first_touch,linear,...]

For each model, the reference is its channel shares on one sample of `20 x people` people of the
scenario (seed 1,000,000, apart from the small samples' seeds 1..seeds). Each small sample (seed s) is
attributed with `intervals=level`; a (seed, channel) pair is covered when the reference share lies in
the interval. Prints, per model, the pooled coverage over all (seed, channel) pairs, the mean interval
width, and the coverage per channel. The target is 85% to 95% at level 0.9 (issue 11). The journeys
come from the simulator, so the bootstrap resamples people.
"""

from __future__ import annotations

import argparse
import time

import polars as pl

import touchpoint as tp

DEFAULT_MODELS = "first_touch,last_touch,linear,position_based,markov,shapley,additive_hazard"


def shares(r: tp.Attribution) -> pl.DataFrame:
    return r.to_polars().filter(pl.col("channel") != "(baseline)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=40)
    ap.add_argument("--people", type=int, default=20_000)
    ap.add_argument("--resamples", type=int, default=200)
    ap.add_argument("--level", type=float, default=0.9)
    ap.add_argument("--scenario", default="baseline")
    ap.add_argument("--models", default=DEFAULT_MODELS)
    ap.add_argument("--reference-seed", type=int, default=1_000_000)
    args = ap.parse_args()
    models = args.models.split(",")
    t0 = time.perf_counter()
    big = tp.simulate(args.scenario, people=20 * args.people, seed=args.reference_seed, progress=False)
    ref = shares(tp.attribute(big.journeys, models=models, progress=False)).select(
        "model", "kpi", "channel", pl.col("share").alias("reference")
    )
    del big
    parts = []
    for s in range(1, args.seeds + 1):
        sim = tp.simulate(args.scenario, people=args.people, seed=s, progress=False)
        r = tp.attribute(
            sim.journeys, models=models, intervals=args.level, resamples=args.resamples, seed=s, progress=False
        )
        parts.append(shares(r).with_columns(pl.lit(s).alias("seed")))
        print(f"seed {s}/{args.seeds} done ({time.perf_counter() - t0:.0f} s)", flush=True)
    df = (
        pl.concat(parts)
        .join(ref, on=["model", "kpi", "channel"], how="left")
        .with_columns(
            covered=(pl.col("share_lower") <= pl.col("reference")) & (pl.col("reference") <= pl.col("share_upper")),
            width=pl.col("share_upper") - pl.col("share_lower"),
        )
    )
    missing = df.filter(pl.col("reference").is_null() | pl.col("share_lower").is_null()).height
    df = df.drop_nulls(["reference", "share_lower"])
    print()
    print(
        f"scenario {args.scenario}: {args.seeds} samples of {args.people:,} people, reference {20 * args.people:,} "
        f"people; {args.level:.0%} intervals from {args.resamples} resamples of people"
    )
    table = (
        df.group_by("model", maintain_order=True)
        .agg(
            pairs=pl.len(),
            coverage=pl.col("covered").mean(),
            mean_width=pl.col("width").mean(),
        )
        .with_columns(within_target=pl.col("coverage").is_between(0.85, 0.95))
    )
    with pl.Config(tbl_rows=100, tbl_cols=20, float_precision=3):
        print(table)
        per_channel = (
            df.group_by("model", "channel", maintain_order=True)
            .agg(coverage=pl.col("covered").mean())
            .pivot(on="channel", index="model", values="coverage")
        )
        print(per_channel)
    if missing:
        print(f"{missing} (seed, channel) pairs had no reference or no interval and are left out")
    print(f"total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
