"""Event logs larger than memory: from_events on Parquet directories, one hash bucket of people at a
time, gives the in-memory summary, unattributed table and path-model credit for any number of buckets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest

import touchpoint as tp

MODELS: list[Any] = ["first_touch", "last_touch", "linear", "position_based", "markov", "shapley"]


@pytest.fixture(scope="module")
def log() -> tuple[pl.DataFrame, pl.DataFrame]:
    sim = tp.simulate("social_care", people=3000, seed=5, progress=False)
    touches = sim.touches.with_columns(
        (pl.col("channel") + "_" + (pl.col("user_id") % 3).cast(pl.String)).alias("campaign")
    )
    return touches, sim.conversions


@pytest.fixture(scope="module")
def on_disk(log: tuple[pl.DataFrame, pl.DataFrame], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Touches hive-partitioned by channel; conversions in two plain Parquet files."""
    touches, conversions = log
    root = tmp_path_factory.mktemp("log")
    touches.write_parquet(root / "touches", partition_by="channel")
    (root / "conversions").mkdir()
    half = conversions.height // 2
    conversions.head(half).write_parquet(root / "conversions" / "part-0.parquet")
    conversions.tail(conversions.height - half).write_parquet(root / "conversions" / "part-1.parquet")
    return root / "touches", root / "conversions"


def credit(j: tp.Journeys, by: str) -> pl.DataFrame:
    return tp.attribute(j, models=MODELS, by=by).to_polars().sort("model", "kpi", by)


@pytest.mark.parametrize("buckets", [1, 3, 8])
def test_buckets_equal_the_in_memory_journeys(
    log: tuple[pl.DataFrame, pl.DataFrame], on_disk: tuple[Path, Path], buckets: int
) -> None:
    touches, conversions = log
    mem = tp.Journeys.from_events(touches, conversions, person="user_id", dims=["campaign"], progress=False)
    j = tp.Journeys.from_events(*on_disk, person="user_id", dims=["campaign"], buckets=buckets, progress=False)
    assert mem.summary.equals(j.summary)
    assert mem.unattributed.drop("value").equals(j.unattributed.drop("value"))
    assert j.unattributed["value"].to_list() == pytest.approx(mem.unattributed["value"].to_list(), rel=1e-12)
    # One row per distinct path of the whole log, however many buckets saw it.
    assert len(j) == mem._inner.statistics()[0].height
    for by in ("channel", "campaign"):
        a, b = credit(mem, by), credit(j, by)
        assert a.select("model", "kpi", by).equals(b.select("model", "kpi", by))
        for col in ("conversions", "value"):
            assert b[col].to_list() == pytest.approx(a[col].to_list(), rel=1e-9, abs=1e-9)


def test_a_directory_means_buckets_and_workdir_keeps_the_statistics(on_disk: tuple[Path, Path], tmp_path: Path) -> None:
    j = tp.Journeys.from_events(*on_disk, person="user_id", workdir=tmp_path, progress=False)
    assert "16 buckets" in repr(j)
    written = sorted(p.name for p in (tmp_path / "statistics").glob("*.parquet"))
    assert len(written) == 16
    stats = pl.read_parquet(tmp_path / "statistics")
    assert stats["conversions"].sum() == pytest.approx(j.summary["attributed"].sum())
    # Without workdir nothing is kept: per-journey credit says what is missing.
    gone = tp.Journeys.from_events(*on_disk, person="user_id", progress=False)
    with pytest.raises(tp.UnsupportedError, match="aggregated in 16 buckets of people"):
        tp.attribute(gone, models=["linear"], progress=False).journey_credits(progress=False)


def test_bad_input_in_a_bucket_names_the_record(tmp_path: Path) -> None:
    touches = pl.DataFrame({"user_id": ["u1", None], "ts": ["2024-01-01", "2024-01-02"], "channel": ["a", "b"]})
    conversions = pl.DataFrame({"user_id": ["u1"], "ts": ["2024-01-03"], "kpi": ["sale"]})
    conversions.write_parquet(tmp_path / "c.parquet")
    (tmp_path / "t").mkdir()
    touches.write_parquet(tmp_path / "t" / "0.parquet")
    with pytest.raises(tp.InputError, match=r"null in column `user_id` of the touches table in the record .*'b'"):
        tp.Journeys.from_events(tmp_path / "t", tmp_path / "c.parquet", buckets=4, progress=False)
    with pytest.raises(tp.ColumnError, match=r"missing column `campaign` in the touches table"):
        tp.Journeys.from_events(tmp_path / "t", tmp_path / "c.parquet", channel="channel", dims=["campaign"])
    with pytest.raises(tp.ReadError, match="no .parquet file"):
        (tmp_path / "empty").mkdir()
        tp.Journeys.from_events(tmp_path / "empty", tmp_path / "c.parquet")
    with pytest.raises(tp.ParameterError, match="buckets must be a whole number"):
        tp.Journeys.from_events(tmp_path / "t", tmp_path / "c.parquet", buckets=0)


def test_buckets_read_names_as_the_parts_do(tmp_path: Path) -> None:
    # Float KPI names, a null interaction with its own window, a value column of text: the bucketed
    # reader spells and windows them as from_events does.
    touches = pl.DataFrame(
        {
            "user_id": [1, 1, 2, 3],
            "ts": ["2024-01-01", "2024-01-04", "2024-01-01", "2024-01-02"],
            "channel": ["a", "b", "a", "c"],
            "interaction": [None, "click", "view", "click"],
        }
    )
    conversions = pl.DataFrame(
        {"user_id": [1, 2, 3], "ts": ["2024-01-05", "2024-01-05", "2024-01-03"], "kpi": [1.5, 2.0, 1.5]}
    )
    kw: dict[str, Any] = {"dims": ["interaction"], "interaction_lookback": {"(none)": "1d"}, "value": None}
    mem = tp.Journeys.from_events(touches, conversions, progress=False, **kw)
    j = tp.Journeys.from_events(touches, conversions, buckets=3, progress=False, **kw)
    assert mem.kpis == j.kpis == ["1.5", "2.0"]
    assert mem.summary.equals(j.summary)
    assert mem.unattributed.equals(j.unattributed)
    with pytest.raises(tp.InputError, match=r"null in column `kpi` of the conversions table: the record .*user_id=3"):
        blank = conversions.with_columns(pl.Series("kpi", ["s", "s", "\u00a0"]))
        tp.Journeys.from_events(touches, blank, buckets=2, progress=False, value=None)
    text_values = conversions.with_columns(pl.lit("s").alias("kpi"), pl.Series("value", ["1", "x", "2"]))
    with pytest.raises(tp.InputError, match=r"column `value` must be numeric: in the record .*'x'"):
        tp.Journeys.from_events(touches, text_values, buckets=1, progress=False)
    with pytest.raises(tp.ParameterError, match="pass workdir= to keep them"):
        tp.Journeys.from_events(touches, conversions, buckets=2, population=10)


@pytest.mark.parametrize("buckets", [1, 3, 8])
def test_additive_hazard_on_buckets_equals_the_fit_in_memory(
    log: tuple[pl.DataFrame, pl.DataFrame], on_disk: tuple[Path, Path], tmp_path: Path, buckets: int
) -> None:
    # With workdir= the buckets stay on disk as the people's timelines; the fit reads them again, one
    # bucket's part at a time, by per-bucket sums. Both KPIs, the default period (gathered from the
    # buckets) and a population, with a lift test on three buckets.
    touches, conversions = log
    tests = [tp.LiftTest("help_center", "tickets_deflected", 0.02, 0.005)] if buckets == 3 else []
    models: list[Any] = [tp.models.AdditiveHazard(lift_tests=tests), "linear"]
    kw: dict[str, Any] = {"person": "user_id", "population": 4000, "progress": False}
    mem = tp.Journeys.from_events(touches, conversions, **kw)
    j = tp.Journeys.from_events(*on_disk, buckets=buckets, workdir=tmp_path, **kw)
    a = tp.attribute(mem, models=models, progress=False)
    b = tp.attribute(j, models=models, progress=False)
    ta, tb = a.to_polars().sort("model", "kpi", "channel"), b.to_polars().sort("model", "kpi", "channel")
    assert ta.select("model", "kpi", "channel").equals(tb.select("model", "kpi", "channel"))
    for col in ("conversions", "value"):
        assert tb[col].to_list() == pytest.approx(ta[col].to_list(), rel=1e-6, abs=1e-9), col
    for name in ("hazard_parameters", "hazard_fit", *(["lift_tests"] if tests else [])):
        x, y = a.table(name), b.table(name)
        assert x.columns == y.columns and x.height == y.height
        for c in x.columns:
            if c in ("reached", "iterations"):
                continue
            if x[c].dtype == pl.Float64:
                assert x[c].is_null().to_list() == y[c].is_null().to_list(), c
                assert y[c].drop_nulls().to_list() == pytest.approx(x[c].drop_nulls().to_list(), rel=1e-6), c
            else:
                assert x[c].to_list() == y[c].to_list(), c
    # The parts are removed after the fit; the buckets' journeys stay, and replaced their events.
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("hazard")] and (tmp_path / "journeys").is_dir()
    assert not (tmp_path / "touches").exists() and not (tmp_path / "conversions").exists()


@pytest.mark.parametrize("buckets", [1, 3, 8])
def test_time_decay_by_duration_on_buckets_equals_the_credit_in_memory(
    log: tuple[pl.DataFrame, pl.DataFrame], on_disk: tuple[Path, Path], tmp_path: Path, buckets: int
) -> None:
    # The gathered journeys carry no touch times; each kept bucket decays its own journeys, and the
    # buckets' credit per player adds up to the credit in memory, for both KPIs and two dimensions.
    touches, conversions = log
    models: list[Any] = [tp.models.TimeDecay(half_life="2d"), "linear"]
    kw: dict[str, Any] = {"person": "user_id", "dims": ["campaign"], "progress": False}
    mem = tp.Journeys.from_events(touches, conversions, **kw)
    j = tp.Journeys.from_events(*on_disk, buckets=buckets, workdir=tmp_path, **kw)
    for by in ("channel", "campaign"):
        a = tp.attribute(mem, models=models, by=by, progress=False).to_polars().sort("model", "kpi", by)
        b = tp.attribute(j, models=models, by=by, progress=False).to_polars().sort("model", "kpi", by)
        assert a.select("model", "kpi", by).equals(b.select("model", "kpi", by))
        for col in ("conversions", "value", "share"):
            assert b[col].to_list() == pytest.approx(a[col].to_list(), rel=1e-9, abs=1e-9), (by, col)
        # Decay by duration is not linear credit: the comparison can fail.
        decay, linear = (a.filter(pl.col("model") == m)["conversions"] for m in ("time_decay", "linear"))
        assert (decay - linear).abs().max() > 1.0
    # With a half-life in touches as well, journeys with times still decay by duration, in memory and
    # in every bucket alike, and the warning that says so comes back from the buckets.
    both = [tp.models.TimeDecay(half_life="2d", half_life_touches=2)]
    ma, mb = (tp.attribute(x, models=both, progress=False) for x in (mem, j))
    assert mb.to_polars()["conversions"].to_list() == pytest.approx(ma.to_polars()["conversions"].to_list(), rel=1e-9)
    assert any("half_life_touches = 2" in w for w in mb.warnings), mb.warnings
    # Without the kept buckets the touch times are gone; intervals would resample timed journeys.
    gone = tp.Journeys.from_events(*on_disk, buckets=buckets, **kw)
    with pytest.raises(tp.UnsupportedError, match="time_decay with half_life"):
        tp.attribute(gone, models=models, progress=False)
    with pytest.raises(tp.UnsupportedError, match="intervals of time_decay"):
        tp.attribute(j, models=models, intervals=0.9, progress=False)


@pytest.mark.parametrize("buckets", [1, 3, 8])
def test_per_journey_credit_on_buckets_equals_the_rows_in_memory(
    log: tuple[pl.DataFrame, pl.DataFrame], on_disk: tuple[Path, Path], tmp_path: Path, buckets: int
) -> None:
    # Each kept bucket's journeys are credited with the attribution of the whole log: the rows equal
    # those in memory (journeys numbered bucket after bucket instead), and so do the gaps.
    touches, conversions = log
    models: list[Any] = ["linear", "markov", tp.models.TimeDecay(half_life="2d")]
    kw: dict[str, Any] = {"person": "user_id", "dims": ["campaign"], "progress": False}
    mem = tp.Journeys.from_events(touches, conversions, **kw)
    j = tp.Journeys.from_events(*on_disk, buckets=buckets, workdir=tmp_path / "work", **kw)
    a = tp.attribute(mem, models=models, by="campaign", progress=False)
    b = tp.attribute(j, models=models, by="campaign", progress=False)
    key = ["model", "kpi", "person", "time", "campaign"]
    ra, rb = (r.journey_credits(progress=False).sort(key) for r in (a, b))
    assert rb.height > 1000 and ra.select(key).equals(rb.select(key))
    for col in ("conversions", "value"):
        assert rb[col].to_list() == pytest.approx(ra[col].to_list(), rel=1e-9, abs=1e-12), col
    # One number per journey (KPI, person, conversion time), across the buckets.
    assert rb["journey"].n_unique() == rb.select("kpi", "person", "time").n_unique() == ra["journey"].n_unique()
    ga, gb = (r.journey_credit_gaps().sort("model", "kpi", "campaign") for r in (a, b))
    assert ga.select("model", "kpi", "campaign").equals(gb.select("model", "kpi", "campaign"))
    for col in ("journeys", "credit", "gap"):
        assert gb[col].to_list() == pytest.approx(ga[col].to_list(), rel=1e-9, abs=1e-9), col
    # Streamed to Parquet, one bucket at a time: the same rows.
    out = tmp_path / "rows.parquet"
    assert b.write_journey_credits(out, progress=False) == rb.height
    assert pl.read_parquet(out).sort(key).equals(rb)
    # The additive-hazard model's rows: each bucket's conversions split by the fit of the whole log,
    # which the attribution keeps (one row per conversion record and player, the baseline included).
    ha, hb = (tp.attribute(x, models=["additive_hazard"], by="campaign", progress=False) for x in (mem, j))
    sa, sb = (r.journey_credits(progress=False).sort(key) for r in (ha, hb))
    assert sb.height > 1000 and sa.select(key).equals(sb.select(key))
    assert sb["journey"].null_count() == sb.height
    for col in ("conversions", "value"):
        assert sb[col].to_list() == pytest.approx(sa[col].to_list(), rel=1e-6, abs=1e-9), col


def test_additive_hazard_on_buckets_says_what_it_cannot_do(on_disk: tuple[Path, Path], tmp_path: Path) -> None:
    kw: dict[str, Any] = {"person": "user_id", "buckets": 2, "progress": False}
    # Without workdir the buckets are gone at the end: the fit has no timelines to read.
    gone = tp.Journeys.from_events(*on_disk, **kw)
    with pytest.raises(tp.UnsupportedError, match="aggregated in 2 buckets"):
        tp.attribute(gone, models=["additive_hazard"], progress=False)
    j = tp.Journeys.from_events(*on_disk, workdir=tmp_path, **kw)
    with pytest.raises(tp.UnsupportedError, match="resample people"):
        tp.attribute(j, models=["additive_hazard"], intervals=0.9, progress=False)
    # The default models: with the hazard model, but without it when intervals are asked for.
    assert "additive_hazard" in tp.attribute(j, progress=False).to_polars()["model"].to_list()
    r = tp.attribute(j, intervals=0.9, resamples=5, progress=False)
    assert "additive_hazard" not in r.to_polars()["model"].to_list() and r.to_polars()["conversions_lower"].len()
    # Kept journeys changed after the cut are refused, not read as fewer people or as garbage.
    kept = tmp_path / "journeys" / "00001.tp"
    kept.write_bytes(kept.read_bytes()[:-10])
    with pytest.raises(tp.ReadError, match="00001.tp`: not a journeys file"):
        tp.attribute(j, models=["additive_hazard"], progress=False)
    kept.unlink()
    with pytest.raises(tp.ReadError, match="bucket 1 .* were changed or removed"):
        tp.attribute(j, models=["additive_hazard"], progress=False)
