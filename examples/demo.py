"""The main job on the bundled sample: every model on one path table, a comparison table, report files.

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
    print(
        f"\nwrote {long_csv}, {table_md}, {effects_csv} ({elapsed * 1000:.0f} ms for reading and all models)"
    )


def _markdown(df: pl.DataFrame) -> str:
    head = "| " + " | ".join(df.columns) + " |"
    rule = "|" + "|".join("---" for _ in df.columns) + "|"
    body = ["| " + " | ".join(str(v) for v in row) + " |" for row in df.iter_rows()]
    return "\n".join([head, rule, *body]) + "\n"


if __name__ == "__main__":
    main()
