"""The main job on the bundled samples: what each channel added to each goal, and the report.

1. A company quarter's event log (`examples/data/touches.csv`, `conversions.csv`: 10,000 people in the
   market, sales, tickets deflected and hires; brand accounts, an agency and employees by belt level)
   is measured with the additive-hazard model, calibrated by the bundled lift test of search on sales,
   with 90% bootstrap intervals: per goal what each channel added, in money, and what would have
   happened anyway; the ROI against the goal book's costs; the same by actor group (advocacy).
2. The weekly sample (`weekly.csv`, three years of tickets deflected) is fitted with the media-mix model.
3. The correlational models come last, as a comparison that says why they differ.
4. One HTML report carries it all to the people who decide: `out/report.html`.

Run with `make demo` (which builds everything first), or `python examples/demo.py --out out`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import polars as pl

import touchpoint as tp

HERE = Path(__file__).parent
DATA = HERE / "data"
PERIOD = ("2026-04-01", "2026-07-01")  # the quarter, [start, end)
POPULATION = 10_000  # everybody in the market, reached by a channel or not
LOOKBACK = {"sales": "30d", "tickets_deflected": "7d", "hires": "90d"}
CONFIG = pl.Config(tbl_rows=60, tbl_cols=20, tbl_width_chars=200, tbl_hide_dataframe_shape=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=Path("out"), type=Path)
    parser.add_argument("--resamples", default=200, type=int)
    args = parser.parse_args()

    t0 = time.perf_counter()
    journeys = tp.Journeys.from_events(
        DATA / "touches.csv",
        DATA / "conversions.csv",
        dims=["campaign", "activity", "actor", "actor_group", "interaction"],
        lookback=LOOKBACK,
        period=PERIOD,
        population=POPULATION,
    )
    goals = tp.GoalBook.load(DATA / "goals.toml")
    tests = [tp.LiftTest(**row) for row in pl.read_csv(DATA / "lift_tests.csv").iter_rows(named=True)]
    hazard = tp.models.AdditiveHazard(lift_tests=tests)
    correlational: list[str | tp.models.Model] = ["last_touch", "linear", "markov", "shapley"]
    result = tp.attribute(journeys, models=[hazard, *correlational], intervals=0.9, resamples=args.resamples)
    # By actor group there is no lift test (the test held out a channel, not a group of people).
    by_group = tp.attribute(
        journeys, models=[tp.models.AdditiveHazard()], by="actor_group", intervals=0.9, resamples=args.resamples
    )
    by_campaign = tp.attribute(
        journeys, models=[tp.models.AdditiveHazard()], by="campaign", intervals=0.9, resamples=args.resamples
    )
    weekly = tp.MMM(
        date="week",
        target="tickets_deflected",
        media=["paid_social", "search"],
        organic=["care_replies", "employee_shares"],
        controls=["product_launch"],
    ).fit(DATA / "weekly.csv", chains=4, draws=500, tune=500)
    args.out.mkdir(parents=True, exist_ok=True)
    report = tp.report(
        result,
        goals,
        args.out / "report.html",
        mmm={"tickets_deflected": weekly},
        breakdowns=[by_campaign, by_group],
        title="What our channels added, second quarter of 2026",
    )
    elapsed = time.perf_counter() - t0

    print(f"Touchpoint {tp.__version__}: {journeys!r}\n")
    print("What the channels added (additive-hazard model, calibrated by a lift test; 90% intervals):")
    for sentence in report.summary:
        print(f"  - {sentence}")
    valued = tp.contribution(result, goals)
    rows = valued.to_polars().filter(pl.col("model") == "additive_hazard")
    with CONFIG:
        for kpi in goals.kpis:
            goal = rows.filter(pl.col("kpi") == kpi.name).sort(
                pl.col("channel") == "(baseline)", pl.col("value"), descending=[False, True]
            )
            print(f"\n{kpi.name} ({kpi.function}): conversions and value each channel added;")
            print("(baseline): what would have happened anyway")
            print(
                goal.select(
                    "channel",
                    pl.col("conversions").round(1).alias("added"),
                    pl.col("value").round(0),
                    pl.concat_str(
                        pl.col("value_lower").round(0).cast(pl.Int64),
                        pl.lit("-"),
                        pl.col("value_upper").round(0).cast(pl.Int64),
                    ).alias("value, 90%"),
                )
            )
        print("\nValue across goals, cost and ROI = (value - cost) / cost, incremental:")
        print(
            valued.summary()
            .filter((pl.col("model") == "additive_hazard") & (pl.col("channel") != "(baseline)"))
            .select("channel", "value", "value_lower", "value_upper", "cost", "roi", "roi_lower", "roi_upper")
            .sort("value", descending=True)
            .with_columns(pl.col("value", "value_lower", "value_upper").round(0), pl.col("^roi.*$").round(2))
        )
        advocacy = (
            tp.contribution(by_group, goals)
            .summary()
            .filter((pl.col("model") == "additive_hazard") & (pl.col("actor_group") != "(baseline)"))
        )
        print("\nAdvocacy: incremental value by actor group (employees by belt level, brand accounts, agency):")
        print(
            advocacy.select("actor_group", "value", "value_lower", "value_upper", "touches", "value_per_touch")
            .sort("value_per_touch", descending=True)
            .with_columns(pl.col("value", "value_lower", "value_upper").round(0), pl.col("value_per_touch").round(2))
        )
        print(
            "  (Belts are not randomised: keen employees train first. For what the training caused, see\n"
            "   tp.rollout_effect and docs/rollouts.md.)"
        )
        print("\nWeekly media-mix model of tickets deflected (2023-2025, its own period), contributions:")
        print(
            weekly.summary()
            .select("channel", "kind", "contribution", "lower", "upper", "share")
            .with_columns(pl.col("contribution", "lower", "upper").round(0), pl.col("share").round(3))
        )
        shares = (
            result.to_polars()
            .filter((pl.col("kpi") == "sales") & (pl.col("channel") != "(baseline)"))
            .pivot(on="model", index="channel", values="share")
            .sort("channel")
            .with_columns(pl.exclude("channel").round(3))
        )
        print("\nFor comparison, share of sales per channel by model (the correlational models split every")
        print("sale among the touches before it, including the sales that would have happened anyway, so")
        print("channels that people with intent pass on their way to buy collect credit they did not cause;")
        print("additive_hazard's shares are of the added sales):")
        print(shares)
    for warning in report.warnings:
        print(f"warning: {warning}")

    written = [args.out / "report.html"]
    for name, frame in (
        ("contribution.csv", valued.to_polars()),
        ("contribution_summary.csv", valued.summary()),
        ("advocacy.csv", tp.contribution(by_group, goals).summary()),
        ("attribution.csv", result.to_polars()),
        ("mmm_summary.csv", weekly.summary()),
    ):
        frame.write_csv(args.out / name)
        written.append(args.out / name)
    print(f"\nThe report for the people who decide: {args.out / 'report.html'} (open it in a browser)")
    print("wrote " + ", ".join(str(p) for p in written) + f" ({elapsed:.1f} s for everything)")


if __name__ == "__main__":
    main()
