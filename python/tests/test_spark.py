"""Journeys on Spark (local mode): the same credit, summary and unattributed table as from_events, for
any number of partitions, and typed errors on the driver."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any

import polars as pl
import pytest
from conftest import shared

import touchpoint as tp

if os.environ.get("CI"):
    import pyspark  # noqa: F401  (CI installs it through `make test`: missing, it fails rather than skips)
else:
    pytest.importorskip("pyspark", reason="pyspark is installed by `make test` (the `spark` extra)")
import touchpoint.spark as tps  # noqa: E402

MODELS: list[Any] = [
    "first_touch",
    "last_touch",
    "linear",
    "position_based",
    "markov",
    "shapley",
]


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    """One local session for the module (about 5 s to start)."""
    os.environ["PYSPARK_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("touchpoint-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def to_spark(spark: Any, df: pl.DataFrame) -> Any:
    return spark.createDataFrame(df.to_arrow())


@pytest.fixture(scope="module")
def log() -> tuple[pl.DataFrame, pl.DataFrame]:
    """The social-care simulation with a campaign per channel and person group, ids as Int64."""
    sim = tp.simulate("social_care", people=3000, seed=11, progress=False)
    touches = sim.touches.with_columns(
        pl.col("user_id").cast(pl.Int64),
        (pl.col("channel") + "_" + (pl.col("user_id") % 3).cast(pl.String)).alias("campaign"),
    )
    conversions = sim.conversions.with_columns(pl.col("user_id").cast(pl.Int64))
    return touches, conversions


def credits(j: tp.Journeys, by: str = "channel") -> dict[tuple[str, str, str], tuple[float, float]]:
    r = tp.attribute(j, models=MODELS, by=by).to_polars()
    return {(row["model"], row["kpi"], row[by]): (row["conversions"], row["value"]) for row in r.iter_rows(named=True)}


def assert_same_credit(a: dict[Any, tuple[float, float]], b: dict[Any, tuple[float, float]]) -> None:
    assert a.keys() == b.keys()
    for k, (c, v) in a.items():
        assert b[k][0] == pytest.approx(c, rel=1e-9, abs=1e-9), k
        assert b[k][1] == pytest.approx(v, rel=1e-9, abs=1e-9), k


def assert_same_tables(a: pl.DataFrame, b: pl.DataFrame) -> None:
    assert a.columns == b.columns
    assert a.height == b.height
    for col in a.columns:
        if a[col].dtype == pl.Float64:
            assert b[col].to_list() == pytest.approx(a[col].to_list(), rel=1e-12), col
        else:
            assert a[col].to_list() == b[col].to_list(), col


@pytest.mark.parametrize("partitions", [1, 3, 8])
def test_spark_equals_from_events(spark: Any, log: tuple[pl.DataFrame, pl.DataFrame], partitions: int) -> None:
    touches, conversions = log
    mem = tp.Journeys.from_events(touches, conversions, person="user_id", dims=["campaign"], progress=False)
    sj = tps.journeys(
        to_spark(spark, touches),
        to_spark(spark, conversions),
        person="user_id",
        dims=["campaign"],
        partitions=partitions,
    )
    j = sj.to_journeys()
    # Fewer rows (distinct paths) than journeys, the same journeys in the summary.
    assert len(j) < len(mem)
    assert_same_tables(mem.summary, j.summary)
    assert_same_tables(mem.summary, sj.summary)
    assert_same_tables(mem.unattributed, sj.unattributed)
    assert_same_tables(mem.unattributed, j.unattributed)
    assert mem.unattributed["conversions"].sum() > 0
    assert_same_credit(credits(mem), credits(j))
    assert_same_credit(credits(mem, "campaign"), credits(j, "campaign"))
    # The statistics are the whole log's journeys: their conversions add up to the attributed ones.
    stats = sj.statistics.toArrow()
    assert sum(stats.column("conversions").to_pylist()) == pytest.approx(mem.summary["attributed"].sum())


def test_kaggle_log_gives_the_same_linear_and_markov_credit(spark: Any) -> None:
    raw = pl.read_csv(shared("mta-journeys-kaggle-subsample", "attribution_data.csv"))
    touches = raw.filter(pl.col("interaction") == "impression").select("customer_id", "time", "channel")
    conv = raw.filter(pl.col("conversion") == 1).select(
        "customer_id", "time", pl.col("conversion_value").alias("value")
    )
    kw: dict[str, Any] = {"person": "customer_id", "time": "time", "lookback": "30d"}
    mem = tp.Journeys.from_events(touches, conv, progress=False, **kw)
    j = tps.journeys(to_spark(spark, touches), to_spark(spark, conv), partitions=3, **kw).to_journeys()
    assert_same_tables(mem.summary, j.summary)
    a = tp.attribute(mem, models=["linear", "markov"]).to_polars()
    b = tp.attribute(j, models=["linear", "markov"]).to_polars()
    assert a.height == b.height == 10
    for x, y in zip(a.sort("model", "channel").iter_rows(), b.sort("model", "channel").iter_rows(), strict=True):
        assert x[:3] == y[:3]
        assert y[3:5] == pytest.approx(x[3:5], rel=1e-9)


def test_text_ids_are_trimmed_and_meet_numbers(spark: Any) -> None:
    # from_events' rule: a person id is a whole number or a text; text is trimmed; a number facing
    # text is its whole number. Both tables must send each person to one partition.
    touches = pl.DataFrame(
        {
            "user_id": [" 7", "7 ", "8", "9", "10"],
            "ts": ["2024-01-01", "2024-01-02", "2024-01-01", "2024-01-03", "2024-01-01"],
            "channel": ["a", "b", "a", "c", "b"],
        }
    )
    conversions = pl.DataFrame(
        {"user_id": [7.0, 8.0, 11.0], "ts": ["2024-01-03", "2024-01-02", "2024-01-02"], "kpi": ["s", "s", "s"]}
    )
    mem = tp.Journeys.from_events(touches, conversions, value=None, progress=False)
    for n in (1, 3, 8):
        j = tps.journeys(to_spark(spark, touches), to_spark(spark, conversions), value=None, partitions=n).to_journeys()
        assert_same_tables(mem.summary, j.summary)
        assert mem.to_paths().equals(j.to_paths())
    assert mem.summary["journeys"].to_list() == [2]  # persons 7 and 8; 11 has no touches
    assert mem.unattributed["reason"].to_list() == ["unknown_person"]


def test_every_partition_cuts_null_journeys_for_every_kpi(spark: Any) -> None:
    # Person 2 has no conversion at all: the partition holding only them still cuts a null journey
    # for each KPI of the log.
    touches = pl.DataFrame({"user_id": [1, 2], "ts": ["2024-01-01", "2024-01-01"], "channel": ["a", "b"]})
    conversions = pl.DataFrame({"user_id": [1], "ts": ["2024-01-02"], "kpi": ["lead"], "value": [3.0]})
    mem = tp.Journeys.from_events(touches, conversions, progress=False)
    lookback = {"lead": "7d"}
    j = tps.journeys(to_spark(spark, touches), to_spark(spark, conversions), lookback=lookback, partitions=8)
    assert_same_tables(mem.summary, j.to_journeys().summary)
    assert j.kpis == ["lead"]
    assert mem.summary["null_journeys"].to_list() == [1]


def test_aggregated_journeys_refuse_what_needs_times_or_persons(
    spark: Any, log: tuple[pl.DataFrame, pl.DataFrame]
) -> None:
    touches, conversions = log
    j = tps.journeys(to_spark(spark, touches), to_spark(spark, conversions), person="user_id").to_journeys()
    assert "distinct paths" in repr(j)
    for model in ("additive_hazard", tp.models.TimeDecay(half_life="3d")):
        with pytest.raises(tp.UnsupportedError, match="aggregated on Spark"):
            tp.attribute(j, models=[model])
    r = tp.attribute(j, models=["linear"])
    with pytest.raises(tp.UnsupportedError, match="per-journey credit needs"):
        r.journey_credits()
    assert not j.has_timelines
    # Intervals resample the aggregated rows (conversions and nulls as Poisson counts), not people.
    ri = tp.attribute(j, models=["linear"], intervals=0.9, resamples=20, seed=1)
    assert ri.to_polars()["conversions"].sum() == pytest.approx(j.summary["attributed"].sum())


def test_bad_input_is_a_typed_error_on_the_driver(spark: Any) -> None:
    touches = pl.DataFrame(
        {"user_id": ["u1", "u2", None], "ts": ["2024-01-01", "2024-01-02", "2024-01-03"], "channel": ["a", "b", "c"]}
    )
    conversions = pl.DataFrame({"user_id": ["u1"], "ts": ["2024-01-05"], "kpi": ["sale"]})
    conv = to_spark(spark, conversions)
    ok = touches.filter(pl.col("user_id").is_not_null())
    with pytest.raises(tp.ColumnError, match=r"missing column `channel` in the touches table"):
        tps.journeys(to_spark(spark, ok.drop("channel")), conv)
    with pytest.raises(
        tp.InputError, match=r"null in column `user_id` of the touches table in the record .*channel='c'"
    ):
        tps.journeys(to_spark(spark, touches), conv, value=None, partitions=3)
    wrong = ok.with_columns(pl.Series("ts", [1, 2]))
    with pytest.raises(tp.ColumnError, match=r"column `ts` of the touches table must be a timestamp.* LongType"):
        tps.journeys(to_spark(spark, wrong), conv)
    garbled = ok.with_columns(pl.Series("ts", ["2024-01-01", "yesterday"]))
    with pytest.raises(tp.InputError, match=r"timestamp in column `ts` of the touches table .*'yesterday'"):
        tps.journeys(to_spark(spark, garbled), conv, value=None)
    negative = to_spark(spark, conversions.with_columns(pl.lit(-1.0).alias("value")))
    with pytest.raises(tp.InputError, match=r"invalid value in the record .*user_id='u1'"):
        tps.journeys(to_spark(spark, ok), negative)
    with pytest.raises(tp.ParameterError, match="lookback"):
        tps.journeys(to_spark(spark, ok), conv, lookback="1mo")
    with pytest.raises(tp.ParameterError, match="no such KPI"):
        tps.journeys(to_spark(spark, ok), conv, lookback={"hire": "7d"})
    nokpi = to_spark(spark, conversions.with_columns(pl.lit(None, pl.String).alias("kpi")))
    with pytest.raises(tp.InputError, match=r"null in column `kpi` of the conversions table: the record .*'u1'"):
        tps.journeys(to_spark(spark, ok), nokpi)
    with pytest.raises(tp.ColumnError, match=r"missing column `amount`"):
        tps.journeys(to_spark(spark, ok), conv, value="amount")


def test_kpi_names_and_dims_are_read_as_from_events(spark: Any) -> None:
    touches = pl.DataFrame(
        {
            "user_id": [1, 1, 2],
            "ts": ["2024-01-01", "2024-01-02", "2024-01-01"],
            "source": ["a", "b", "a"],
            "campaign": ["k", "k", "j"],
        }
    )
    conversions = pl.DataFrame({"user_id": [1, 2], "ts": ["2024-01-03", "2024-01-04"], "kpi": [1.5, 2.0]})
    kw: dict[str, Any] = {"channel": "source", "dims": ["channel", "campaign"], "value": None}
    mem = tp.Journeys.from_events(touches, conversions, progress=False, **kw)
    sj = tps.journeys(to_spark(spark, touches), to_spark(spark, conversions), partitions=2, **kw)
    assert sj.kpis == mem.kpis == ["1.5", "2.0"]
    assert_same_tables(mem.summary, sj.to_journeys().summary)
    blank = to_spark(spark, conversions.with_columns(pl.Series("kpi", ["s", "\t"])))
    with pytest.raises(tp.InputError, match=r"null in column `kpi` of the conversions table: the record .*user_id=2"):
        tps.journeys(to_spark(spark, touches), blank, **kw)


@pytest.mark.parametrize(("partitions", "lift"), [(1, False), (3, True), (8, False)])
def test_additive_hazard_fit_on_spark_equals_from_events(
    spark: Any, log: tuple[pl.DataFrame, pl.DataFrame], partitions: int, lift: bool
) -> None:
    # The fit by per-partition sums (EM, Newton and standard errors on the driver) against the fit on
    # the whole log in memory: credit, baseline, parameters and their errors to 1e-6 (in practice to
    # rounding). The default period (first to last event of any partition) and the population reach
    # the parts as from_events uses them. One KPI keeps the test short: each pass is a Spark job.
    touches, conversions = log
    conversions = conversions.filter(pl.col("kpi") == "tickets_deflected")
    tests = [tp.LiftTest("help_center", "tickets_deflected", 0.02, 0.005)] if lift else []
    model = tp.models.AdditiveHazard(lift_tests=tests)
    kw: dict[str, Any] = {"person": "user_id", "dims": ["campaign"], "population": 5000}
    mem = tp.Journeys.from_events(touches, conversions, progress=False, **kw)
    sj = tps.journeys(to_spark(spark, touches), to_spark(spark, conversions), partitions=partitions, **kw)
    a = tp.attribute(mem, models=[model, "linear"], progress=False)
    b = tp.attribute(sj, models=[model, "linear"], progress=False)
    ta, tb = a.to_polars().sort("model", "channel"), b.to_polars().sort("model", "channel")
    assert ta["channel"].to_list() == tb["channel"].to_list()
    assert "(baseline)" in tb["channel"].to_list()
    for col in ("conversions", "value"):
        assert tb[col].to_list() == pytest.approx(ta[col].to_list(), rel=1e-6, abs=1e-9), col
    # Channels plus baseline credit every conversion of the log.
    hazard = tb.filter(pl.col("model") == "additive_hazard")
    assert hazard["conversions"].sum() == pytest.approx(conversions["value"].len())
    names = ["hazard_parameters", "hazard_fit", *(["lift_tests"] if lift else [])]
    for name in names:
        x, y = a.table(name), b.table(name)
        assert x.columns == y.columns and x.height == y.height, name
        for col in x.columns:
            if col == "reached":
                continue
            if x[col].dtype == pl.Float64:
                assert x[col].is_null().to_list() == y[col].is_null().to_list(), col
                want, got = x[col].drop_nulls().to_list(), y[col].drop_nulls().to_list()
                assert got == pytest.approx(want, rel=1e-6, abs=1e-12), col
            elif col != "iterations":
                assert x[col].to_list() == y[col].to_list(), col
    assert a.table("hazard_fit")["population_given"].to_list() == [True]


@pytest.mark.parametrize("partitions", [1, 3, 8])
def test_time_decay_by_duration_on_spark_equals_from_events(
    spark: Any, log: tuple[pl.DataFrame, pl.DataFrame], partitions: int
) -> None:
    # The gathered journeys carry no touch times: each partition decays its own journeys and the
    # driver adds their credit per player (one Spark job per KPI), equal to the credit in memory.
    touches, conversions = log
    models: list[Any] = [tp.models.TimeDecay(half_life="2d"), "linear"]
    kw: dict[str, Any] = {"person": "user_id", "dims": ["campaign"]}
    mem = tp.Journeys.from_events(touches, conversions, progress=False, **kw)
    sj = tps.journeys(to_spark(spark, touches), to_spark(spark, conversions), partitions=partitions, **kw)
    a = tp.attribute(mem, models=models, by="campaign", progress=False).to_polars().sort("model", "kpi", "campaign")
    b = tp.attribute(sj, models=models, by="campaign", progress=False).to_polars().sort("model", "kpi", "campaign")
    assert a.select("model", "kpi", "campaign").equals(b.select("model", "kpi", "campaign"))
    for col in ("conversions", "value", "share"):
        assert b[col].to_list() == pytest.approx(a[col].to_list(), rel=1e-9, abs=1e-9), col
    with pytest.raises(tp.UnsupportedError, match="intervals of time_decay"):
        tp.attribute(sj, models=models, intervals=0.9, progress=False)


def test_additive_hazard_on_spark_says_what_it_cannot_do(spark: Any, log: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    touches, conversions = log
    conversions = conversions.filter(pl.col("kpi") == "sales")
    kw: dict[str, Any] = {"person": "user_id", "partitions": 2}
    sj = tps.journeys(to_spark(spark, touches), to_spark(spark, conversions), population=10, **kw)
    # The population is checked against the people of every partition together.
    with pytest.raises(tp.ParameterError, match="population 10 is smaller than the 3000 people"):
        tp.attribute(sj, models=["additive_hazard"], progress=False)
    # Intervals of the hazard model resample people, who stay on the executors; path models may.
    with pytest.raises(tp.UnsupportedError, match="resample people"):
        tp.attribute(sj, models=["additive_hazard"], intervals=0.9, progress=False)
    r = tp.attribute(sj, models=["linear"], intervals=0.9, resamples=10, progress=False)
    assert r.to_polars()["conversions_lower"].null_count() == 0
    with pytest.raises(tp.ParameterError, match="population"):
        tps.journeys(to_spark(spark, touches), to_spark(spark, conversions), population=0, **kw)
