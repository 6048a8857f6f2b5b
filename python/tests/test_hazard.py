"""The additive-hazard model from Python: timelines from event logs and the simulator, the baseline
row, conservation, lift tests, and typed errors."""

from __future__ import annotations

from datetime import datetime, timezone

import polars as pl
import pytest

import touchpoint as tp


def log() -> tuple[pl.DataFrame, pl.DataFrame]:
    touches = pl.DataFrame(
        {
            "user_id": ["u", "u", "v", "w"],
            "ts": ["2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z", "2024-01-01T00:00:00Z", "2024-01-04T00:00:00Z"],
            "channel": ["search", "linkedin", "display", "search"],
        }
    )
    conversions = pl.DataFrame(
        {
            "user_id": ["u", "u", "ghost", "w"],
            "ts": ["2024-01-03T00:00:00Z", "2024-01-05T00:00:00Z", "2024-01-02T00:00:00Z", "2024-01-04T12:00:00Z"],
            "kpi": ["sales", "sales", "sales", "sales"],
            "value": [10.0, 30.0, 5.0, 20.0],
        }
    )
    return touches, conversions


PERIOD = ("2024-01-01", datetime(2024, 1, 11, tzinfo=timezone.utc))


def test_baseline_row_and_conservation() -> None:
    t, c = log()
    j = tp.Journeys.from_events(t, c, period=PERIOD, population=10, progress=False)
    assert j.has_timelines and j.population == 10
    assert j.period == (datetime(2024, 1, 1, tzinfo=timezone.utc), datetime(2024, 1, 11, tzinfo=timezone.utc))
    r = tp.attribute(j, models=[tp.models.AdditiveHazard(), "linear"], progress=False)
    df = r.to_polars()
    ah = df.filter(pl.col("model") == "additive_hazard")
    # Every conversion of the period, the ghost's (unknown person) included, is credited.
    assert ah["conversions"].sum() == pytest.approx(4.0, rel=1e-9)
    assert ah["value"].sum() == pytest.approx(65.0, rel=1e-9)
    base = ah.filter(pl.col("channel") == "(baseline)")
    assert base.height == 1 and base["share"][0] is None
    players = ah.filter(pl.col("channel") != "(baseline)")
    if players["conversions"].sum() > 0:
        assert players["share"].sum() == pytest.approx(1.0)
    # The rule-based model credits the attributed conversions only: u's second conversion has no touch
    # in its window and the ghost is unknown, so 2 of 4.
    assert df.filter(pl.col("model") == "linear")["conversions"].sum() == pytest.approx(2.0)
    assert "hazard_parameters" in r.table_names
    params = r.table("hazard_parameters")
    assert {"model", "kpi", "player", "beta", "beta_se", "half_life_days", "baseline_per_day"} <= set(params.columns)
    with pytest.raises(tp.ParameterError, match="hazard_parameters"):
        r.table("hazard_params")


def test_default_models_follow_the_journeys() -> None:
    t, c = log()
    j = tp.Journeys.from_events(t, c, population=10, progress=False)
    assert "additive_hazard" in tp.attribute(j, progress=False).models
    paths = tp.Journeys.from_paths(j.to_paths())
    assert not paths.has_timelines
    assert "additive_hazard" not in tp.attribute(paths, progress=False).models


def test_warns_without_population() -> None:
    t, c = log()
    r = tp.attribute(tp.Journeys.from_events(t, c, progress=False), models=["additive_hazard"], progress=False)
    assert any("population" in w for w in r.warnings)


def test_simulated_event_log_round_trips_through_from_events() -> None:
    sim = tp.simulate("social_care", people=5_000, seed=3, progress=False)
    assert set(sim.touches.columns) == {"user_id", "ts", "channel"}
    assert set(sim.conversions.columns) == {"user_id", "ts", "kpi", "value"}
    j = tp.Journeys.from_events(
        sim.touches,
        sim.conversions,
        person="user_id",
        lookback="30d",
        period=sim.period,
        population=sim.population,
        progress=False,
    )
    models = ["linear", "markov", "additive_hazard"]
    a = tp.attribute(sim.journeys, models=models, progress=False).to_polars().sort("model", "kpi", "channel")
    b = tp.attribute(j, models=models, progress=False).to_polars().sort("model", "kpi", "channel")
    assert a.select("model", "kpi", "channel").equals(b.select("model", "kpi", "channel"))
    for col in ("conversions", "value"):
        assert (a[col] - b[col]).abs().max() <= 1e-9 * max(1.0, a[col].abs().max())
    assert sim.journeys.summary.equals(j.summary)


def test_lift_test_and_calibration() -> None:
    test = tp.lift_test("selection_bias", channel="search", kpi="sales", people=100_000, seed=1)
    assert isinstance(test, tp.LiftTest) and test.se > 0
    assert test.per_exposure == pytest.approx(0.010 * 2.0 / 0.6931471805599453, abs=4 * test.se)
    sim = tp.simulate("selection_bias", people=20_000, seed=2, progress=False)
    model = tp.models.AdditiveHazard(lift_tests=[test])
    assert tp.models.from_spec(model.to_json()) == model
    r = tp.attribute(sim.journeys, models=[model], progress=False)
    lt = r.table("lift_tests")
    assert lt["player"].to_list() == ["search"] and lt["per_exposure"][0] == test.per_exposure
    params = r.table("hazard_parameters").filter(pl.col("player") == "search")
    assert params["beta"][0] == test.per_exposure and params["beta_se"][0] == test.se


def test_typed_errors() -> None:
    t, c = log()
    paths = tp.Journeys.from_paths(
        pl.DataFrame({"path": ["a > b"], "total_conversions": [1], "total_conversion_value": [1.0], "total_null": [1]})
    )
    with pytest.raises(tp.UnsupportedError, match="from_events"):
        tp.attribute(paths, models=["additive_hazard"], progress=False)
    j = tp.Journeys.from_events(t, c, population=10, progress=False)
    with pytest.raises(tp.ParameterError, match="tiktok"):
        tp.attribute(j, models=[tp.models.AdditiveHazard(lift_tests=[tp.LiftTest("tiktok", "sales", 0.1, 0.01)])])
    with pytest.raises(tp.ParameterError, match="se"):
        tp.LiftTest("search", "sales", 0.1, -0.01)
    # Conversions outside a given period are left out and counted, never an error.
    short = tp.Journeys.from_events(t, c, period=("2024-01-03", "2024-01-11"), progress=False)
    assert "outside_period" in short.unattributed["reason"].to_list()
    with pytest.raises(tp.ParameterError, match="end must be after the start"):
        tp.Journeys.from_events(t, c, period=("2024-01-11", "2024-01-01"), progress=False)
    with pytest.raises(tp.ParameterError, match="population"):
        tp.Journeys.from_events(t, c, population=0, progress=False)
    with pytest.raises(tp.ParameterError, match="baseline"):
        tp.models.AdditiveHazard(baseline="frailty")  # type: ignore[arg-type]


def test_contribution_reports_the_baseline_on_its_own_line() -> None:
    t, c = log()
    j = tp.Journeys.from_events(t, c, period=PERIOD, population=10, progress=False)
    r = tp.attribute(j, models=["additive_hazard"], progress=False)
    goals = tp.GoalBook([tp.Kpi("sales", function="sales", unit_value=50.0)], costs={"search": 10.0})
    summary = tp.contribution(r, goals).summary()
    base = summary.filter(pl.col("channel") == "(baseline)")
    assert base.height == 1
    assert base["value_share"][0] is None and base["roi"][0] is None and base["cost"][0] is None
    credited = r.to_polars().filter(pl.col("channel") == "(baseline)")["conversions"][0]
    assert base["value"][0] == pytest.approx(50.0 * credited)
    players = summary.filter(pl.col("channel") != "(baseline)")
    if players["value"].sum() > 0:
        assert players["value_share"].sum() == pytest.approx(1.0)
    # ROI is incremental: (incremental value - cost) / cost.
    search = players.filter(pl.col("channel") == "search").row(0, named=True)
    assert search["roi"] == pytest.approx((search["value"] - 10.0) / 10.0)


def test_a_lift_tests_standard_error_widens_the_tested_interval_as_its_variance_says() -> None:
    """Each resample draws the tested effect from N(per_exposure, se^2): the tested channel's credit is
    per_exposure times its (resampled) exposure mass, so the interval's width grows from its width
    without the test's error, w0, to about sqrt(w0^2 + (2 z credit se / per_exposure)^2)."""
    from statistics import NormalDist

    sim = tp.simulate("selection_bias", people=20_000, seed=2, progress=False)
    exact = tp.LiftTest("search", "sales", 0.029, 0.0)
    noisy = tp.LiftTest("search", "sales", 0.029, 0.006)
    z = NormalDist().inv_cdf(0.95)
    widths = {}
    for name, test in (("exact", exact), ("noisy", noisy)):
        r = tp.attribute(
            sim.journeys,
            models=[tp.models.AdditiveHazard(lift_tests=[test])],
            intervals=0.9,
            resamples=300,
            seed=3,
            progress=False,
        )
        row = r.to_polars().filter((pl.col("kpi") == "sales") & (pl.col("channel") == "search")).row(0, named=True)
        widths[name] = (row["conversions_upper"] - row["conversions_lower"], row["conversions"])
    (w0, credit), (w1, _) = widths["exact"], widths["noisy"]
    expected = (w0**2 + (2 * z * credit * noisy.se / noisy.per_exposure) ** 2) ** 0.5
    assert w1 > 1.5 * w0
    assert w1 == pytest.approx(expected, rel=0.2)
