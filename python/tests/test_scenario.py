"""Scenarios and comparisons of plans on a fitted media mix (`MMMFit.predict`, `MMMFit.compare`):
the predictive interval covers weeks the fit never saw, the true channel contributions of those
weeks are inside their intervals, differences are taken draw by draw, levels beyond the data are
flagged, and bad futures are typed errors."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

import touchpoint as tp
from touchpoint.exceptions import ColumnError, InputError, ParameterError

WEEKS, AHEAD = 156, 13


def _held_out(seed: int) -> tuple[tp.WeeklySimulation, tp.MMMFit, pl.DataFrame]:
    sim = tp.simulate_weekly(weeks=WEEKS + AHEAD, seed=seed)
    model = tp.MMM(date="week", target=sim.target, media=sim.media, organic=sim.organic, controls=sim.controls)
    fit = model.fit(sim.data.head(WEEKS), chains=4, draws=500, tune=500, seed=0, progress=False)
    return sim, fit, sim.data.tail(AHEAD)


@pytest.fixture(scope="module")
def held_out() -> list[tuple[tp.WeeklySimulation, tp.MMMFit, pl.DataFrame]]:
    return [_held_out(seed) for seed in range(4)]


def test_predictive_intervals_cover_weeks_the_fit_never_saw(held_out) -> None:
    """Four series of 169 weeks, fitted on the first 156: the 90% predictive interval holds the
    observed target in about 90% of the 52 held-out weeks (binomial: 42-51), and each channel's
    true contribution over the 13 weeks lies in its interval for at least 12 of the 16."""
    inside = channels = 0
    for sim, fit, future in held_out:
        s = fit.predict(future.drop(sim.target))
        p = s.periods()
        assert p["date"].to_list() == future["week"].to_list()
        observed = future[sim.target].to_list()
        inside += sum(
            lo <= y <= hi for y, lo, hi in zip(observed, p["predictive_lower"], p["predictive_upper"], strict=True)
        )
        truth = sim.contributions.filter(pl.col("date") >= future["week"][0])
        totals = s.totals()
        for ch in sim.media + sim.organic:
            t = truth.filter(pl.col("channel") == ch)["value"].sum()
            row = totals.filter(pl.col("component") == ch).row(0, named=True)
            channels += row["lower"] <= t <= row["upper"]
        # Conservation: the KPI's expected total is the components' sum; periods' means add up.
        kpi = totals.filter(pl.col("component") == "kpi").row(0, named=True)
        parts = totals.filter(pl.col("component") != "kpi")["expected"].sum()
        assert kpi["expected"] == pytest.approx(parts, rel=1e-9)
        assert kpi["expected"] == pytest.approx(p["expected"].sum(), rel=1e-9)
    assert 42 <= inside <= 51, inside
    assert channels >= 12, channels


def test_comparison_is_draw_by_draw_and_the_tail_is_reported(held_out) -> None:
    """Moving 20% of paid social's spend to search: the difference's mean is the difference of the
    two scenarios' means, and its interval is far narrower than a difference of their intervals
    would say (what both share cancels within each draw); stopping everything leaves a tail."""
    sim, fit, future = held_out[0]
    now = future.drop(sim.target)
    moved = now.with_columns(
        (pl.col("paid_social") * 0.8).alias("paid_social"),
        (pl.col("search") + 0.2 * pl.col("paid_social")).alias("search"),
    )
    c = fit.compare(moved, now)
    t = c.totals()
    assert t.filter(pl.col("component") == "paid_social")["input"][0] == pytest.approx(-0.2 * now["paid_social"].sum())
    a, b = fit.predict(moved).totals(), fit.predict(now).totals()
    kpi = t.filter(pl.col("component") == "kpi").row(0, named=True)
    ka = a.filter(pl.col("component") == "kpi").row(0, named=True)
    kb = b.filter(pl.col("component") == "kpi").row(0, named=True)
    assert kpi["expected"] == pytest.approx(ka["expected"] - kb["expected"], rel=1e-9, abs=1e-6)
    naive_width = (ka["upper"] - kb["lower"]) - (ka["lower"] - kb["upper"])
    assert kpi["upper"] - kpi["lower"] < 0.25 * naive_width
    assert t.filter(pl.col("component") == "care_replies")["expected"][0] == pytest.approx(0.0, abs=1e-9)
    assert "Comparison(KPI" in repr(c)
    # Spend only in the last week: what it still adds after the horizon is the tail.
    history = sim.data.head(WEEKS)
    last = now.with_columns(
        pl.when(pl.int_range(pl.len()) == AHEAD - 1).then(pl.lit(history[ch].mean())).otherwise(0.0).alias(ch)
        for ch in sim.media + sim.organic
    )
    tails = fit.predict(last).totals().filter(pl.col("kind").is_in(["media", "organic"]))
    assert (tails["tail"] > 0).all()
    # With no activity in the quarter, the history's carryover is not a tail of the plan's.
    nothing = now.with_columns(pl.lit(0.0).alias(ch) for ch in sim.media + sim.organic)
    assert (fit.predict(nothing).totals()["tail"] == 0.0).all()


def test_levels_beyond_the_data_are_flagged_in_predict_and_lift(held_out) -> None:
    sim, fit, future = held_out[0]
    top = sim.data.head(WEEKS)["employee_shares"].max()
    plan = future.drop(sim.target).with_columns(pl.lit(3.0 * top).alias("employee_shares"))
    s = fit.predict(plan)
    flagged = s.contributions().filter(pl.col("component") == "employee_shares")["beyond_observed"]
    assert flagged.to_list() == pytest.approx([3.0] * AHEAD)
    assert any("`employee_shares`: 13 of 13" in w and "3.00x" in w for w in s.warnings), s.warnings
    with pytest.warns(UserWarning, match="2.00x the largest level"):
        lift = fit.lift("employee_shares", top, top)
    assert lift["beyond_observed"] == pytest.approx(2.0)
    assert fit.lift("employee_shares", 0.5 * top, 0.1 * top)["beyond_observed"] is None
    fig = s.plot()
    assert len(fig.axes) == 1 + len(sim.media + sim.organic)
    assert "Scenario(13 periods; KPI" in repr(s)


def test_seed_dates_and_bad_futures(held_out) -> None:
    sim, fit, future = held_out[0]
    plan = future.drop(sim.target)
    a, b = fit.predict(plan, seed=3), fit.predict(plan, seed=3)
    assert a.periods().equals(b.periods())
    assert not a.periods().equals(fit.predict(plan, seed=4).periods())
    assert (
        a.periods()
        .select("expected", "lower", "upper")
        .equals(fit.predict(plan, seed=4).periods().select("expected", "lower", "upper"))
    )
    # Without the date column the dates continue the series; with a gap, an error naming the row.
    assert fit.predict(plan.drop("week")).periods()["date"].equals(a.periods()["date"])
    gap = plan.with_columns(pl.col("week") + dt.timedelta(days=7))
    with pytest.raises(InputError, match="without gaps"):
        fit.predict(gap)
    with pytest.raises(ColumnError, match="search"):
        fit.predict(plan.drop("search"))
    with pytest.raises(ColumnError, match="product_launch"):
        fit.predict(plan.drop(sim.controls))
    with pytest.raises(InputError, match="paid_social.*row 2"):
        fit.predict(
            plan.with_columns(
                pl.when(pl.int_range(pl.len()) == 2).then(-1.0).otherwise(pl.col("paid_social")).alias("paid_social")
            )
        )
    with pytest.raises(InputError, match="care_replies.*row 0"):
        fit.predict(
            plan.with_columns(
                pl.when(pl.int_range(pl.len()) == 0).then(None).otherwise(pl.col("care_replies")).alias("care_replies")
            )
        )
    with pytest.raises(InputError, match="search.*row 1"):
        fit.predict(
            plan.with_columns(
                pl.when(pl.int_range(pl.len()) == 1).then(float("nan")).otherwise(pl.col("search")).alias("search")
            )
        )
    with pytest.raises(ParameterError, match="future"):
        fit.predict(plan.head(0))
    with pytest.raises(ParameterError, match="against"):
        fit.compare(plan, plan.head(5))
    with pytest.raises(ParameterError, match="seed"):
        fit.predict(plan, seed=-1)


def test_plans_against_the_simulators_own_response() -> None:
    """The simulator answers a plan with its true response curves (`WeeklySimulation.respond`): over
    four series, each channel's predicted total under a plan holds the truth in at least 12 of 16,
    and the difference of moving 20% of paid social to search holds the true difference in at least
    3 of 4."""
    channels = differences = 0
    for seed in range(4):
        sim = tp.simulate_weekly(weeks=WEEKS, seed=seed)
        model = tp.MMM(date="week", target=sim.target, media=sim.media, organic=sim.organic, controls=sim.controls)
        fit = model.fit(sim.data, chains=4, draws=500, tune=500, seed=0, progress=False)
        now = sim.data.tail(AHEAD).drop("week", sim.target)
        moved = now.with_columns(
            (pl.col("paid_social") * 0.8).alias("paid_social"),
            (pl.col("search") + 0.2 * pl.col("paid_social")).alias("search"),
        )
        truth_now, truth_moved = sim.respond(now), sim.respond(moved)
        assert truth_now.columns == ["channel", "horizon", "tail", "weekly"]
        assert truth_now["weekly"].list.len().to_list() == [AHEAD] * len(sim.media + sim.organic)
        totals = fit.predict(now).totals()
        for row in truth_now.iter_rows(named=True):
            t = totals.filter(pl.col("component") == row["channel"]).row(0, named=True)
            channels += t["lower"] <= row["horizon"] <= t["upper"]
        true_diff = truth_moved["horizon"].sum() - truth_now["horizon"].sum()
        kpi = fit.compare(moved, now).totals().filter(pl.col("component") == "kpi").row(0, named=True)
        differences += kpi["lower"] <= true_diff <= kpi["upper"]
        # The unchanged channels respond the same to both plans.
        same = truth_now.join(truth_moved, on="channel").filter(pl.col("channel").is_in(sim.organic))
        assert (same["horizon"] == same["horizon_right"]).all()
    assert channels >= 12, channels
    assert differences >= 3, differences
    with pytest.raises(ParameterError, match="search"):
        sim.respond(now.drop("search"))
