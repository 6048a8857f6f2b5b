"""Event logs into journeys from Python: polars, pandas and files agree; windows; errors."""

from __future__ import annotations

from datetime import datetime, timezone

import polars as pl
import pytest
from conftest import ROOT, shared

import touchpoint as tp

DATA = ROOT / "examples" / "data"


def log() -> tuple[pl.DataFrame, pl.DataFrame]:
    touches = pl.DataFrame(
        {
            "user_id": ["u", "u", "u", "v"],
            "ts": [
                "2024-01-01T00:00:00Z",
                "2024-01-02T00:00:00Z",
                "2024-01-05T00:00:00Z",
                "2024-01-01T00:00:00Z",
            ],
            "channel": ["search", "linkedin", "email", "display"],
            "actor": ["brand", "emp_1", None, "agency"],
        }
    )
    conversions = pl.DataFrame(
        {
            "user_id": ["u", "u", "ghost"],
            "ts": ["2024-01-03T00:00:00Z", "2024-01-03T00:00:00Z", "2024-01-02T00:00:00Z"],
            "kpi": ["sales", "sales", "sales"],
            "value": [10.0, None, 5.0],
        }
    )
    return touches, conversions


def test_from_events_journeys_and_reconciliation() -> None:
    t, c = log()
    j = tp.Journeys.from_events(t, c, dims=["actor"])
    paths = j.to_paths().sort("path")
    assert paths.columns == ["kpi", "path", "total_conversions", "total_conversion_value", "total_null"]
    rows = {
        r["path"]: (r["total_conversions"], r["total_conversion_value"], r["total_null"])
        for r in paths.iter_rows(named=True)
    }
    # Two same-instant conversions merge (value null counts as 0); email comes after: a null journey.
    assert rows == {
        "search > linkedin": (2.0, 10.0, 0.0),
        "email": (0.0, 0.0, 1.0),
        "display": (0.0, 0.0, 1.0),
    }
    s = j.summary.row(0, named=True)
    assert (s["conversions"], s["attributed"], s["unattributed"]) == (3.0, 2.0, 1.0)
    u = j.unattributed.row(0, named=True)
    assert (u["reason"], u["conversions"], u["value"]) == ("unknown_person", 1.0, 5.0)
    r = tp.attribute(j, models=["linear"], by="actor")
    assert r.unattributed.equals(j.unattributed)
    assert dict(zip(r.to_polars()["actor"], r.to_polars()["conversions"], strict=True)) == {
        "(none)": 0.0,
        "agency": 0.0,
        "brand": 1.0,
        "emp_1": 1.0,
    }


def test_polars_pandas_and_files_agree(tmp_path) -> None:
    t, c = log()
    a = tp.Journeys.from_events(t, c).to_paths()
    b = tp.Journeys.from_events(t.to_pandas(), c.to_pandas()).to_paths()
    t.write_csv(tmp_path / "t.csv")
    c.write_parquet(tmp_path / "c.parquet")
    f = tp.Journeys.from_events(tmp_path / "t.csv", tmp_path / "c.parquet").to_paths()
    assert a.equals(b) and a.equals(f)


def test_datetime_columns_and_zones() -> None:
    t, c = log()
    t2 = t.with_columns(pl.col("ts").str.to_datetime(time_zone="UTC").dt.convert_time_zone("Asia/Tokyo"))
    c2 = c.with_columns(pl.col("ts").str.to_datetime(time_zone="UTC"))
    assert tp.Journeys.from_events(t2, c2).to_paths().equals(tp.Journeys.from_events(t, c).to_paths())
    naive = t.with_columns(pl.col("ts").str.to_datetime(time_zone="UTC").dt.replace_time_zone(None))
    assert tp.Journeys.from_events(naive, c).to_paths().equals(tp.Journeys.from_events(t, c).to_paths())
    assert datetime(2024, 1, 1, tzinfo=timezone.utc)  # the log is in UTC


def test_lookback_per_kpi_and_interaction_windows() -> None:
    t = pl.DataFrame(
        {
            "user_id": ["u"] * 3,
            "ts": ["2024-01-01", "2024-01-09", "2024-01-09T20:00:00"],
            "channel": ["display", "search", "social"],
            "interaction": ["impression", "click", "impression"],
        }
    )
    c = pl.DataFrame({"user_id": ["u", "u"], "ts": ["2024-01-10", "2024-01-10"], "kpi": ["hires", "sales"]})
    j = tp.Journeys.from_events(
        t,
        c,
        lookback={"hires": "90d", "sales": "2d"},
        dims=["interaction"],
        interaction_lookback={"impression": "1d"},
    )
    paths = dict(zip(j.to_paths()["kpi"], j.to_paths()["path"], strict=True))
    assert paths == {"hires": "search > social", "sales": "search > social"}


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"lookback": "1mo"}, tp.ParameterError, r"invalid option `lookback` = \"1mo\".*calendar units"),
        ({"lookback": "soon"}, tp.ParameterError, r"invalid option `lookback`"),
        ({"person": "pid"}, tp.ColumnError, r"missing column `pid`"),
        ({"dims": ["colour"]}, tp.ParameterError, r"unknown dimension `colour`"),
    ],
)
def test_bad_options(kwargs, error, message) -> None:
    t, c = log()
    with pytest.raises(error, match=message):
        tp.Journeys.from_events(t, c, **kwargs)


def test_bad_rows() -> None:
    t, c = log()
    bad_ts = t.with_columns(
        pl.when(pl.int_range(4) == 2).then(pl.lit("last tuesday")).otherwise(pl.col("ts")).alias("ts")
    )
    with pytest.raises(
        tp.InputError, match=r"timestamp in column `ts` of the touches table at row 3: \"last tuesday\""
    ):
        tp.Journeys.from_events(bad_ts, c)
    null_person = c.with_columns(pl.lit(None, dtype=pl.String).alias("user_id"))
    with pytest.raises(tp.InputError, match=r"null in column `user_id` of the conversions table at row 1"):
        tp.Journeys.from_events(t, null_person)
    negative = c.with_columns(pl.lit(-1.0).alias("value"))
    with pytest.raises(tp.InputError, match=r"invalid value in row 1: -1"):
        tp.Journeys.from_events(t, negative)


def test_bundled_event_log_reconciles() -> None:
    j = tp.Journeys.from_events(DATA / "touches.csv", DATA / "conversions.csv", dims=["actor", "actor_group"])
    conversions = pl.read_csv(DATA / "conversions.csv")
    s = j.summary
    assert s["conversions"].sum() == conversions.height
    assert (s["attributed"] + s["unattributed"] - s["conversions"]).abs().max() == 0


def test_kaggle_journeys_reconcile() -> None:
    path = shared("mta-journeys-kaggle-subsample", "attribution_data.csv")
    raw = pl.read_csv(path)
    assert {"customer_id", "time", "interaction", "channel", "conversion"} <= set(raw.columns)
    touches = raw.filter(pl.col("interaction") == "impression")
    conv = raw.filter(pl.col("conversion") == 1).select(
        "customer_id", "time", pl.col("conversion_value").alias("value")
    )
    j = tp.Journeys.from_events(touches, conv, person="customer_id", time="time", lookback="30d")
    s = j.summary.row(0, named=True)
    assert s["conversions"] == conv.height
    assert s["attributed"] + s["unattributed"] == conv.height
    assert s["attributed"] > 0.8 * conv.height
    social = {"Facebook", "Instagram"}
    assert social <= set(j.players())
    r = tp.attribute(j, models=["linear", "markov", tp.models.TimeDecay(half_life="3d")])
    for m in ("linear", "markov", "time_decay"):
        assert r.to_polars().filter(pl.col("model") == m)["conversions"].sum() == pytest.approx(s["attributed"])


def test_pandas_categories_and_float_ids() -> None:
    t, c = log()
    pt = t.to_pandas()
    pt["channel"] = pt["channel"].astype("category")
    assert tp.Journeys.from_events(pt, c.to_pandas()).to_paths().equals(tp.Journeys.from_events(t, c).to_paths())
    ti = pl.DataFrame({"user_id": [1, 2], "ts": ["2024-01-01", "2024-01-01"], "channel": ["a", "b"]})
    cf = pl.DataFrame({"user_id": [1.0], "ts": ["2024-01-02"], "kpi": ["sales"]})
    assert tp.Journeys.from_events(ti, cf).unattributed.height == 0
    with pytest.raises(tp.InputError, match=r"person id 1.5 .* is not a whole number"):
        tp.Journeys.from_events(ti, cf.with_columns(pl.lit(1.5).alias("user_id")))


def test_half_life_touches_on_journeys_with_times_says_it_is_not_used() -> None:
    t, c = log()
    j = tp.Journeys.from_events(t, c)
    both = tp.attribute(j, models=[tp.models.TimeDecay(half_life="3d", half_life_touches=2)])
    assert any("half_life_touches = 2" in w and "half_life = 3d" in w for w in both.warnings), both.warnings
    by_time = tp.attribute(j, models=[tp.models.TimeDecay(half_life="3d")])
    assert not any("half_life_touches" in w for w in by_time.warnings)
    assert both.to_polars().equals(by_time.to_polars())
