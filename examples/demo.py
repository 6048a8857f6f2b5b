"""The main job on the bundled samples: every model on a path table (the comparison table), then an event
log with three KPIs valued with a goal book (contribution by channel, function and actor group, a chart).

Run with `make demo` (which builds everything first), or `python examples/demo.py --out out`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import polars as pl

import touchpoint as tp

HERE = Path(__file__).parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--paths", default=HERE / "data" / "paths.csv", type=Path)
    parser.add_argument("--out", default=Path("out"), type=Path)
    args = parser.parse_args()

    t0 = time.perf_counter()
    journeys = tp.Journeys.from_paths(args.paths)
    models: list[str | tp.models.Model] = [
        "first_touch",
        "last_touch",
        "last_non_direct",
        "linear",
        tp.models.PositionBased(first=0.4, last=0.4),
        tp.models.TimeDecay(half_life_touches=2.0),
        tp.models.Markov(order=1),
        tp.models.Markov(order=2),
        tp.models.Shapley(game="conversions"),
        tp.models.Shapley(game="rate"),
    ]
    result = tp.attribute(journeys, models=models)
    elapsed = time.perf_counter() - t0

    print(f"Touchpoint {tp.__version__} on {args.paths} ({journeys!r})\n")
    with pl.Config(tbl_width_chars=200, tbl_hide_dataframe_shape=True):
        print(journeys.summary)
    print()
    shares = (
        result.to_polars()
        .pivot(on="model", index="channel", values="share")
        .sort("channel")
        .with_columns(pl.exclude("channel").round(3))
    )
    with pl.Config(tbl_rows=50, tbl_cols=20, tbl_width_chars=200, tbl_hide_dataframe_shape=True):
        print("Share of conversions credited to each channel, by model:")
        print(shares)
    for warning in result.warnings:
        print(f"warning: {warning}")

    args.out.mkdir(parents=True, exist_ok=True)
    long_csv = args.out / "attribution.csv"
    result.to_polars().write_csv(long_csv)
    table_md = args.out / "comparison.md"
    table_md.write_text(_markdown(shares))
    effects_csv = args.out / "removal_effects.csv"
    result.removal_effects().write_csv(effects_csv)
    print(f"\nwrote {long_csv}, {table_md}, {effects_csv} ({elapsed * 1000:.0f} ms for reading and all models)")
    written = goals_part(args.out)
    print("\nwrote " + ", ".join(str(p) for p in written))


def goals_part(out: Path) -> list[Path]:
    """The event log: three KPIs valued with the goal book, by channel and by the people behind the touches."""
    journeys = tp.Journeys.from_events(
        HERE / "data" / "touches.csv",
        HERE / "data" / "conversions.csv",
        dims=["campaign", "activity", "actor", "actor_group", "interaction"],
        lookback={"sales": "30d", "tickets_deflected": "7d", "hires": "90d"},
    )
    goals = tp.GoalBook.load(HERE / "data" / "goals.toml")
    models = ["last_touch", "linear", "markov", "shapley"]
    by_channel = tp.contribution(tp.attribute(journeys, models=models), goals)
    by_group = tp.contribution(tp.attribute(journeys, models=models, by="actor_group"), goals)

    print(f"\n--- Event log ({journeys!r}) valued with examples/data/goals.toml ---\n")
    cfg = pl.Config(tbl_rows=60, tbl_cols=20, tbl_width_chars=200, tbl_hide_dataframe_shape=True)
    with cfg:
        print(journeys.summary.select("kpi", "journeys", "null_journeys", "conversions", "attributed", "unattributed"))
        print("\nBusiness value by channel and function (Shapley), in money:")
        wide = (
            by_channel.by_function()
            .filter(pl.col("model") == "shapley")
            .pivot(on="function", index="channel", values="value")
            .fill_null(0.0)
            .sort("channel")
        )
        print(wide.with_columns(pl.exclude("channel").round(0)))
        print("\nContribution summary by channel (value, touches, cost, ROI), Shapley:")
        print(
            by_channel.summary()
            .filter(pl.col("model") == "shapley")
            .drop("model")
            .sort("value", descending=True)
            .with_columns(pl.col("value", "value_per_touch", "roi").round(2), pl.col("value_share").round(3))
        )
        print("\nSocial vs non-social, every model:")
        print(by_channel.social().with_columns(pl.col("value", "roi").round(2), pl.col("value_share").round(3)))
        print("\nAdvocacy: value by actor group (employees by training level, brand accounts, agency), Shapley:")
        print(
            by_group.summary()
            .filter(pl.col("model") == "shapley")
            .select("actor_group", "value", "value_share", "touches", "value_per_touch")
            .sort("value_per_touch", descending=True)
            .with_columns(pl.col("value", "value_per_touch").round(2), pl.col("value_share").round(3))
        )
    for w in by_channel.warnings:
        print(f"warning: {w}")
    rows_csv = out / "contribution.csv"
    by_channel.to_polars().write_csv(rows_csv)
    summary_csv = out / "contribution_summary.csv"
    by_channel.summary().write_csv(summary_csv)
    advocacy_csv = out / "advocacy.csv"
    by_group.summary().write_csv(advocacy_csv)
    chart = out / "contribution.png"
    by_channel.plot(model="shapley").savefig(chart, dpi=120)
    return [rows_csv, summary_csv, advocacy_csv, chart]


def _markdown(df: pl.DataFrame) -> str:
    head = "| " + " | ".join(df.columns) + " |"
    rule = "|" + "|".join("---" for _ in df.columns) + "|"
    body = ["| " + " | ".join(str(v) for v in row) + " |" for row in df.iter_rows()]
    return "\n".join([head, rule, *body]) + "\n"


if __name__ == "__main__":
    main()
