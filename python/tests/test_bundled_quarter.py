"""The bundled quarter (`examples/data`, made by `make_events.py` with its truth): the main job's data.

Its generator draws every conversion from a known source (the baseline or one exposure), so the
additive-hazard model's credit can be held against what each channel caused."""

from __future__ import annotations

import filecmp
import importlib.util
from pathlib import Path

import polars as pl
import pytest

import touchpoint as tp

DATA = Path(__file__).resolve().parents[2] / "examples" / "data"


def test_the_generator_gives_back_the_bundled_files(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("make_events", DATA / "make_events.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(out=tmp_path)
    for name in ("touches.csv", "conversions.csv", "truth.csv", "lift_tests.csv"):
        assert filecmp.cmp(tmp_path / name, DATA / name, shallow=False), name


@pytest.fixture(scope="module")
def credit() -> pl.DataFrame:
    j = tp.Journeys.from_events(
        DATA / "touches.csv", DATA / "conversions.csv", period=("2026-04-01", "2026-07-01"), population=10_000
    )
    tests = [tp.LiftTest(**row) for row in pl.read_csv(DATA / "lift_tests.csv").iter_rows(named=True)]
    r = tp.attribute(j, models=[tp.models.AdditiveHazard(lift_tests=tests), "last_touch"], intervals=0.9, resamples=100)
    truth = (
        pl.read_csv(DATA / "truth.csv")
        .filter(pl.col("by") == "channel")
        .select("kpi", pl.col("player").alias("channel"), pl.col("conversions").alias("truth"))
    )
    return r.to_polars().join(truth, on=["kpi", "channel"], how="left").with_columns(pl.col("truth").fill_null(0))


def test_conservation_every_conversion_is_credited(credit: pl.DataFrame) -> None:
    conversions = pl.read_csv(DATA / "conversions.csv").group_by("kpi").len()
    hazard = credit.filter(pl.col("model") == "additive_hazard").group_by("kpi").agg(pl.col("conversions").sum())
    both = hazard.join(conversions, on="kpi")
    for row in both.iter_rows(named=True):
        assert row["conversions"] == pytest.approx(row["len"], rel=1e-9)


def test_the_incremental_credit_meets_the_truth(credit: pl.DataFrame) -> None:
    hazard = credit.filter(pl.col("model") == "additive_hazard")
    caused = hazard.filter((pl.col("truth") > 0) & (pl.col("channel") != "(baseline)"))
    covered = caused.filter(
        pl.col("conversions_lower") <= pl.col("truth"), pl.col("truth") <= pl.col("conversions_upper")
    )
    # 90% intervals: about 10.8 of the 12 channel-goal pairs with an effect (all 12 here); fewer than
    # 10 would be a defect.
    assert caused.height == 12
    assert covered.height >= 10, caused
    # What would have happened anyway, per goal, inside its interval.
    base = hazard.filter(pl.col("channel") == "(baseline)")
    assert ((base["conversions_lower"] <= base["truth"]) & (base["truth"] <= base["conversions_upper"])).all(), base


def test_it_is_closer_to_the_truth_than_last_touch(credit: pl.DataFrame) -> None:
    def tv(model: str) -> dict[str, float]:
        d = credit.filter((pl.col("model") == model) & (pl.col("channel") != "(baseline)"))
        gap = (pl.col("conversions") / pl.col("conversions").sum() - pl.col("truth") / pl.col("truth").sum()).abs()
        return dict(d.group_by("kpi").agg((0.5 * gap.sum()).alias("tv")).iter_rows())

    hazard, last = tv("additive_hazard"), tv("last_touch")
    for kpi in ("sales", "tickets_deflected", "hires"):
        assert hazard[kpi] < last[kpi], (kpi, hazard, last)
    assert max(hazard.values()) < 0.15, hazard
