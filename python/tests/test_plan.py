"""tp.plan: the Python face of the planner (the maths is tested in crates/touchpoint-mmm/tests/plan.rs):
frames and their columns, the truth of a simulated series inside the plan's interval, comparisons,
targets, plots and typed errors."""

from __future__ import annotations

import polars as pl
import pytest

import touchpoint as tp


@pytest.fixture(scope="module")
def case():
    sim = tp.simulate_weekly(156, seed=7)
    m = tp.MMM(date="week", target=sim.target, media=sim.media, organic=sim.organic, controls=sim.controls)
    fit = m.fit(sim.data, seed=3, progress=False)
    goals = tp.GoalBook(
        [tp.Kpi("tickets_deflected", function="service", unit_value=12.0)],
        unit_costs={"care_replies": 5.0, "employee_shares": 4.0},
    )
    top = {c: (0, sim.data[c].max()) for c in sim.media + sim.organic}
    p = tp.plan({"tickets_deflected": fit}, goals=goals, periods=13, bounds=top, decision_draws=200, progress=False)
    return sim, fit, goals, top, p


def test_the_allocation_spends_the_budget_within_the_bounds(case):
    sim, _, _, top, p = case
    a = p.allocation()
    assert a.columns[:5] == ["channel", "kind", "period", "volume", "spend"]
    assert a.height == 4 * 13
    assert sorted(a["period"].unique().to_list()) == list(range(1, 14))
    assert a["spend"].sum() == pytest.approx(p.budget, rel=1e-9)
    # The default budget is the run rate's cost.
    assert a["current_spend"].sum() == pytest.approx(p.budget, rel=1e-9)
    for ch, (_, hi) in top.items():
        assert a.filter(pl.col("channel") == ch)["volume"].max() <= hi * (1 + 1e-9)
    # Organic spend is volume times unit cost.
    care = a.filter(pl.col("channel") == "care_replies")
    assert (care["spend"] - 5.0 * care["volume"]).abs().max() < 1e-6
    assert p.kkt["holds"] and p.warnings == []


def test_the_outcome_interval_holds_the_true_outcome_and_the_plan_beats_the_run_rate(case):
    sim, _, _, _, p = case
    o = p.outcome()
    assert o["kpi"].to_list() == ["tickets_deflected", "value"]
    assert {"expected", "lower", "upper", "tail", "value"} <= set(o.columns)
    truth = sim.respond(p.allocation().pivot(on="channel", index="period", values="volume"))
    t = o.row(0, named=True)
    assert t["lower"] <= truth["horizon"].sum() <= t["upper"]
    # Money: 12 per ticket, the tail counted.
    assert t["value"] == pytest.approx(12.0 * (t["expected"] + t["tail"]), rel=1e-9)
    run_rate = sim.respond(p.allocation().pivot(on="channel", index="period", values="current"))
    assert truth["horizon"].sum() + truth["tail"].sum() > run_rate["horizon"].sum() + run_rate["tail"].sum()
    c = p.compare()
    assert c.filter(pl.col("kpi") == "value")["probability_better"][0] > 0.9


def test_compare_against_itself_is_zero_and_against_the_run_rate_matches(case):
    _, _, _, _, p = case
    same = p.compare(p)
    assert same["expected"].abs().max() == 0.0 and same["spend"][0] == 0.0
    current = p.allocation().select("channel", "period", pl.col("current").alias("volume"))
    assert p.compare(current).drop("probability_better").equals(p.compare().drop("probability_better"))
    with pytest.raises(tp.ParameterError, match="not a channel of the plan"):
        p.compare({"tv": [1.0] * 13})


def test_marginal_values_and_the_decision_spread(case):
    _, _, _, _, p = case
    m = p.marginal()
    inside = m.filter(pl.col("status") == "interior")
    assert inside.height > 0
    assert (inside["marginal"] / p.kkt["multiplier"] - 1).abs().max() < 1e-4
    d = p.decision()
    assert d["channel"].to_list() == ["paid_social", "search", "care_replies", "employee_shares"]
    assert d["probability_grow"].is_between(0, 1).all()
    assert p.decision_draws == 200


def test_a_target_is_reached_with_the_asked_probability(case):
    _, fit, goals, top, p = case
    want = p.outcome()["lower"][0]
    q = tp.plan(
        {"tickets_deflected": fit},
        goals=goals,
        periods=13,
        bounds=top,
        target={"tickets_deflected": want},
        probability=0.8,
        decision_draws=0,
        progress=False,
    )
    draws = q.outcome_draws()
    share = (draws["value"] >= want).mean()
    assert share == pytest.approx(q.probability) and abs(share - 0.8) < 0.02
    assert q.budget < p.budget
    assert q.decision().height == 0


def test_plots_draw(case):
    pytest.importorskip("matplotlib")
    _, _, _, _, p = case
    for kind in ("allocation", "curves", "outcome"):
        fig = p.plot(kind)
        assert fig.axes
    with pytest.raises(tp.ParameterError, match="kind"):
        p.plot("pie")


def test_bad_input_is_a_typed_error(case):
    _, fit, goals, _, _ = case
    fits = {"tickets_deflected": fit}
    with pytest.raises(tp.ParameterError, match="channel `search`: is a media channel"):
        tp.plan(fits, goals=goals, unit_costs={"search": 2.0}, progress=False)
    bare = tp.GoalBook([tp.Kpi("tickets_deflected", unit_value=12.0)])
    with pytest.raises(tp.ParameterError, match="care_replies`: is organic and has no unit cost"):
        tp.plan(fits, goals=bare, progress=False)
    with pytest.raises(tp.GoalBookError, match="kpi `tickets_deflected`: not in the goal book"):
        tp.plan(fits, goals=tp.GoalBook([tp.Kpi("hires", unit_value=300.0)]), progress=False)
    with pytest.raises(tp.ParameterError, match="periods"):
        tp.plan(fits, goals=goals, periods=0, progress=False)
    with pytest.raises(tp.ParameterError, match="budget 1000: below the"):
        tp.plan(fits, goals=goals, budget=1000, locked=["search"], progress=False)
    with pytest.raises(tp.ParameterError, match="cannot be placed"):
        tp.plan(
            fits,
            goals=goals,
            bounds={c: (0, 1) for c in ("search", "paid_social", "care_replies", "employee_shares")},
            progress=False,
        )
    with pytest.raises(tp.GoalBookError, match="no plan within the bounds reaches"):
        tp.plan(
            fits,
            goals=goals,
            bounds={c: (0, 10) for c in ("search", "paid_social", "care_replies", "employee_shares")},
            target={"tickets_deflected": 1e6},
            progress=False,
        )
    with pytest.raises(tp.ParameterError, match="risk"):
        tp.plan(fits, goals=goals, risk="max", progress=False)
    with pytest.raises(tp.ParameterError, match="bounds"):
        tp.plan(fits, goals=goals, bounds={"search": "lots"}, progress=False)
    with pytest.raises(tp.ParameterError, match="fits"):
        tp.plan({"tickets_deflected": 3}, goals=goals, progress=False)


def test_the_goal_book_carries_unit_costs(tmp_path):
    g = tp.GoalBook([tp.Kpi("hires", unit_value=300.0)], unit_costs={"employee_shares": 4.0})
    path = tmp_path / "goals.json"
    path.write_text(g.to_json())
    assert tp.GoalBook.load(path).unit_costs == {"employee_shares": 4.0}
    with pytest.raises(tp.GoalBookError, match="unit_costs: `employee_shares` = 0"):
        tp.GoalBook([tp.Kpi("hires", unit_value=300.0)], unit_costs={"employee_shares": 0.0})
