"""Rollouts from Python: the numbers equal csdid's (frozen, and live where csdid is installed), the
simulated programme's truth is recovered, options come from Rust, and bad input is a typed error."""

from __future__ import annotations

import datetime as dt
import importlib.util
import inspect
import json
import pickle
from pathlib import Path

import polars as pl
import pytest

import touchpoint as tp
from touchpoint import rollout

DATA = Path(__file__).resolve().parents[2] / "crates" / "touchpoint-panel" / "tests" / "data"
CASES = {"nevertreated": "never", "notyettreated": "not_yet"}


def _answers() -> dict:
    return json.loads((DATA / "csdid_answers.json").read_text())


def _check(result: tp.RolloutEffect, answers: dict, case: str) -> None:
    gt = {(r["cohort"], r["time"]): r for r in result.group_time().iter_rows(named=True)}
    for row in answers["group_time"]:
        ours = gt[(row["cohort"], row["time"])]
        assert ours["effect"] == pytest.approx(row["effect"], rel=1e-8, abs=1e-8), case
        assert ours["se"] == pytest.approx(row["se"], rel=1e-8, abs=1e-8), case
    summary = {r["aggregation"]: r for r in result.summary().iter_rows(named=True)}
    for theirs, ours in (("simple", "simple"), ("dynamic", "event"), ("group", "group"), ("calendar", "calendar")):
        assert summary[ours]["effect"] == pytest.approx(answers[theirs]["effect"], rel=1e-8, abs=1e-8)
        assert summary[ours]["se"] == pytest.approx(answers[theirs]["se"], rel=1e-8, abs=1e-8)
    es = result.event_study()
    for e, eff, se in zip(
        answers["dynamic"]["at"], answers["dynamic"]["effects"], answers["dynamic"]["ses"], strict=True
    ):
        row = es.filter(pl.col("event_time") == e).row(0, named=True)
        assert row["effect"] == pytest.approx(eff, rel=1e-8, abs=1e-8)
        assert row["se"] == pytest.approx(se, rel=1e-8, abs=1e-8)


@pytest.mark.parametrize(
    "case",
    [
        "nevertreated/none",
        "nevertreated/x1_x2",
        "notyettreated/none",
        "notyettreated/x1_x2",
        "notyettreated/none/treated_only",
    ],
)
def test_equals_frozen_csdid_answers_from_a_csv_file(case: str) -> None:
    control, cov, *only = case.split("/")
    panel: object = DATA / "rollout_panel.csv"
    if only:  # no never-treated unit: the last cohort is only a comparison
        panel = pl.read_csv(DATA / "rollout_panel.csv").filter(pl.col("cohort") != 0)
    r = tp.rollout_effect(
        panel,
        unit="unit",
        time="time",
        outcome="y",
        cohort="cohort",
        control=CASES[control],
        covariates=None if cov == "none" else ["x1", "x2"],
        bootstrap=0,
    )
    _check(r, _answers()["cases"][case], case)


@pytest.mark.skipif(importlib.util.find_spec("csdid") is None, reason="csdid is not installed")
def test_equals_csdid_run_now() -> None:
    import sys

    sys.path.insert(0, str(DATA))
    import make_csdid_fixture as fixture

    panel = fixture.make_panel()
    for control, name in CASES.items():
        answers = fixture.answers(panel, control, "y ~ x1 + x2")
        r = tp.rollout_effect(
            pl.from_pandas(panel),
            unit="unit",
            time="time",
            outcome="y",
            cohort="cohort",
            control=name,
            covariates=["x1", "x2"],
            bootstrap=0,
        )
        _check(r, answers, control)


def test_programme_truth_is_recovered_and_the_naive_comparison_is_not() -> None:
    sim = tp.simulate_programme(employees=3_000, seed=4)
    r = tp.rollout_effect(sim.panel, unit="employee", time="week", outcome="value", cohort="cohort", seed=1)
    truth = sim.truth.select((pl.col("value") * pl.col("employees")).sum() / pl.col("employees").sum()).item()
    simple = r.summary().filter(pl.col("aggregation") == "simple").row(0, named=True)
    assert simple["lower"] <= truth <= simple["upper"]
    assert sim.naive_value > simple["upper"]
    # Every event time's simultaneous band holds the truth (zero before training).
    by_e = {
        e: (t["value"] * t["employees"]).sum() / t["employees"].sum() for (e,), t in sim.truth.group_by("event_time")
    }
    for row in r.event_study().iter_rows(named=True):
        want = by_e.get(row["event_time"], 0.0) if row["event_time"] >= 0 else 0.0
        assert row["lower"] <= want <= row["upper"], row
    assert r.warnings == []


def test_two_belts_step_recovers_each_level_and_the_naive_comparison_does_not() -> None:
    """A programme with a second belt: `levels="step"` estimates the step to belt 2 within the
    employees who took belt 1 together; its event-time bands hold the true step effect, its overall
    interval the step's truth, and the naive belt-2-versus-belt-1 comparison lies far above it."""
    sim = tp.simulate_programme(employees=6_000, seed=21, second_waves=[29, 37, 45])
    assert set(sim.panel["level"].unique()) == {0, 1, 2}
    r = tp.rollout_effect(
        sim.panel, unit="employee", time="week", outcome="value", treatment="level", levels="step", seed=5
    )
    assert r.options["levels"] == "step"
    gt = r.group_time()
    assert gt.columns[:3] == ["level", "cohort", "previous_cohort"]
    assert gt.filter(pl.col("level") == 2)["previous_cohort"].null_count() == 0
    assert (gt.filter(pl.col("level") == 2).select(pl.col("previous_cohort") < pl.col("cohort")).to_series()).all()
    truth = sim.truth.filter(pl.col("level") == 2)
    by_e = {e: (t["value"] * t["employees"]).sum() / t["employees"].sum() for (e,), t in truth.group_by("event_time")}
    rows = r.event_study().filter(pl.col("level") == 2)
    assert rows.height > 20
    for row in rows.iter_rows(named=True):
        want = by_e.get(row["event_time"], 0.0) if row["event_time"] >= 0 else 0.0
        assert row["lower"] <= want <= row["upper"], row
    step = r.summary().filter((pl.col("level") == 2) & (pl.col("aggregation") == "simple")).row(0, named=True)
    overall = (truth["value"] * truth["employees"]).sum() / truth["employees"].sum()
    assert step["lower"] <= overall <= step["upper"]
    assert sim.naive_second_value > 2 * step["upper"]
    # "reached" has no previous_cohort; its level 1 equals the step's level 1.
    reached = tp.rollout_effect(sim.panel, unit="employee", time="week", outcome="value", treatment="level", seed=5)
    assert "previous_cohort" not in reached.group_time().columns
    assert reached.summary().filter(pl.col("level") == 1).equals(r.summary().filter(pl.col("level") == 1))
    with pytest.raises(tp.ParameterError, match="invalid `levels`: belts"):
        tp.rollout_effect(sim.panel, unit="employee", time="week", outcome="value", treatment="level", levels="belts")


def test_dates_pandas_and_pickling_round_trip() -> None:
    sim = tp.simulate_programme(employees=300, weeks=20, seed=2, waves=[6, 12])
    start = dt.date(2026, 1, 5)
    dated = sim.panel.with_columns(
        (pl.lit(start) + pl.duration(weeks=pl.col("week") - 1)).alias("date"),
        pl.when(pl.col("cohort") > 0)
        .then(pl.lit(start) + pl.duration(weeks=pl.col("cohort") - 1))
        .otherwise(None)
        .alias("cohort_date"),
        pl.col("employee").cast(pl.String).alias("who"),
    )
    by_int = tp.rollout_effect(sim.panel, unit="employee", time="week", outcome="value", cohort="cohort")
    by_date = tp.rollout_effect(dated.to_pandas(), unit="who", time="date", outcome="value", cohort="cohort_date")
    assert by_date.group_time()["time"].dtype == pl.Date
    assert by_date.group_time()["effect"].to_list() == pytest.approx(by_int.group_time()["effect"].to_list(), rel=1e-12)
    assert by_date.event_study()["lower"].to_list() == pytest.approx(by_int.event_study()["lower"].to_list(), rel=1e-12)
    again = pickle.loads(pickle.dumps(by_date))
    assert again.summary().equals(by_date.summary())
    assert again.group_time().equals(by_date.group_time())
    assert "RolloutEffect(300 units x 20 periods" in repr(again)


def test_levels_and_clusters() -> None:
    rows = []
    for u in range(1, 41):
        reach1 = 3 if u <= 10 else (5 if u <= 20 else None)
        reach2 = 6 if u <= 5 else None
        for t in range(1, 9):
            level = (1 if reach1 and t >= reach1 else 0) + (1 if reach2 and t >= reach2 else 0)
            rows.append(
                {"u": u, "t": t, "belt": level, "team": u % 4, "y": u * 0.1 + t + 2.0 * level + (u * t % 3) * 0.1}
            )
    df = pl.DataFrame(rows)
    r = tp.rollout_effect(df, unit="u", time="t", outcome="y", treatment="belt", cluster="team", bootstrap=0)
    assert sorted(r.summary()["level"].unique().to_list()) == [1, 2]
    # Each level adds 2 to the outcome.
    assert r.summary().filter((pl.col("level") == 2) & (pl.col("aggregation") == "simple"))["effect"][
        0
    ] == pytest.approx(2.0, abs=0.3)
    assert any("level 2: cohort 6 has 5 unit(s)" in w for w in r.warnings)


def test_options_come_from_rust() -> None:
    """Python passes only what the user gave; the defaults, and their documentation, are Rust's."""
    d = rollout.defaults()
    assert d == {
        "comparison": "never_treated",
        "estimand": "doubly_robust",
        "level": 0.95,
        "bootstrap": 999,
        "seed": 0,
        "min_cohort_units": 10,
        "levels": "reached",
    }
    sig = inspect.signature(tp.rollout_effect)
    for name in ("control", "level", "seed", "estimand", "bootstrap", "min_cohort_units", "levels"):
        assert sig.parameters[name].default is None, name
    doc = tp.rollout_effect.__doc__ or ""
    assert "level 0.95" in doc and f"{d['bootstrap']} bootstrap draws" in doc and f"seed {d['seed']}" in doc
    r = tp.rollout_effect(
        tp.simulate_programme(employees=200, weeks=12, waves=[4, 8]).panel,
        unit="employee",
        time="week",
        outcome="value",
        cohort="cohort",
    )
    assert r.options == d


def test_bad_input_is_a_typed_error_naming_the_value() -> None:
    base = pl.DataFrame(
        {"u": [1, 1, 1, 2, 2, 2], "t": [1, 2, 3, 1, 2, 3], "y": [1.0, 2.0, 4.0, 1.0, 2.0, 2.5], "g": [3, 3, 3, 0, 0, 0]}
    )
    call = dict(unit="u", time="t", outcome="y", cohort="g", bootstrap=0)
    with pytest.raises(tp.InputError, match="unit 1 has two rows for period 1"):
        tp.rollout_effect(base.with_columns(pl.Series("t", [1, 1, 3, 1, 2, 3])), **call)
    with pytest.raises(tp.InputError, match="unit 2 has no row for period 3"):
        tp.rollout_effect(base.head(5), **call)
    with pytest.raises(tp.InputError, match="unit 1 is treated from period 1"):
        tp.rollout_effect(base.with_columns(pl.Series("g", [1, 1, 1, 0, 0, 0])), **call)
    with pytest.raises(tp.InputError, match="cohort 5 is not one of the panel's periods"):
        tp.rollout_effect(
            base.with_columns(pl.Series("t", [1, 2, 6, 1, 2, 6]), pl.Series("g", [5, 5, 5, 0, 0, 0])), **call
        )
    with pytest.raises(tp.InputError, match="treatment falls from 1 in period 2 to 0 in period 3"):
        tp.rollout_effect(
            base.with_columns(pl.Series("b", [0, 1, 0, 0, 0, 0])), unit="u", time="t", outcome="y", treatment="b"
        )
    with pytest.raises(tp.InputError, match="nothing to compare with"):
        tp.rollout_effect(base.with_columns(pl.Series("g", [3, 3, 3, 2, 2, 2])), **call)
    with pytest.raises(tp.InputError, match="null in column `y`"):
        tp.rollout_effect(base.with_columns(pl.Series("y", [1.0, None, 4.0, 1.0, 2.0, 2.5])), **call)
    with pytest.raises(tp.ColumnError, match="revenue"):
        tp.rollout_effect(base, unit="u", time="t", outcome="revenue", cohort="g")
    with pytest.raises(tp.InputError, match="column `g` must not change over time"):
        tp.rollout_effect(base.with_columns(pl.Series("g", [3, 3, 2, 0, 0, 0])), **call)
    with pytest.raises(tp.ParameterError, match="exactly one of `cohort`"):
        tp.rollout_effect(base, unit="u", time="t", outcome="y")
    with pytest.raises(tp.ParameterError, match="level"):
        tp.rollout_effect(base, **{**call, "level": 1.5})
    with pytest.raises(tp.ParameterError, match="control"):
        tp.rollout_effect(base, **{**call, "control": "later"})
    with pytest.raises(tp.ParameterError, match="unknown field"):
        tp.simulate_programme(employes=10)
    # Dates stay dates in messages.
    dated = base.with_columns(
        pl.Series("t", [dt.date(2026, 1, d) for d in (5, 12, 26, 5, 12, 26)]),
        pl.Series("g", [dt.date(2026, 1, 19)] * 3 + [None] * 3),
    )
    with pytest.raises(tp.InputError, match="cohort 2026-01-19 is not one of the panel's periods"):
        tp.rollout_effect(dated, **call)


def test_plot_is_an_event_study(tmp_path: Path) -> None:
    sim = tp.simulate_programme(employees=500, weeks=20, waves=[6, 12], seed=3)
    r = tp.rollout_effect(sim.panel, unit="employee", time="week", outcome="value", cohort="cohort")
    fig = r.plot(unit="money per employee-week")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "periods since treatment"
    assert "money per employee-week" in ax.get_ylabel()
    fig.savefig(tmp_path / "event_study.png")


def test_rollout_panel_from_an_attribution_conserves_touches_and_credit() -> None:
    """Per actor and week: every touch and every credited conversion of a player lands in exactly one
    cell, the panel is balanced, and it feeds rollout_effect."""
    data = Path(__file__).resolve().parents[2] / "examples" / "data"
    j = tp.Journeys.from_events(
        data / "touches.csv",
        data / "conversions.csv",
        dims=["actor"],
        period=("2026-04-01", "2026-07-01"),
        population=10_000,
    )
    r = tp.attribute(j, models=["linear", "additive_hazard"], by="actor")
    panel = r.rollout_panel("linear", every="7d")
    actors = panel["actor"].unique().len()
    weeks = panel["period"].max()
    assert panel.height == actors * weeks
    assert panel.group_by("actor").len()["len"].unique().to_list() == [weeks]
    touches = j.timelines()[0]
    assert panel["touches"].sum() == touches.height
    credit = r.to_polars().filter((pl.col("model") == "linear") & (pl.col("actor") != "(baseline)"))
    assert panel["conversions"].sum() == pytest.approx(credit["conversions"].sum(), rel=1e-9)
    assert panel["value"].sum() == pytest.approx(credit["value"].sum(), rel=1e-9)
    # The additive-hazard model's panel carries its players' credit, not the baseline's.
    hz = r.rollout_panel("additive_hazard", every="7d", kpi="sales")
    hz_credit = r.to_polars().filter(
        (pl.col("model") == "additive_hazard") & (pl.col("kpi") == "sales") & (pl.col("actor") != "(baseline)")
    )
    assert hz["conversions"].sum() == pytest.approx(hz_credit["conversions"].sum(), rel=1e-6)
    # Ready for the estimator: actors trained from week 5 (an illustration, not a programme).
    trained = sorted(panel["actor"].unique().to_list())[:3]
    panel = panel.with_columns(pl.when(pl.col("actor").is_in(trained)).then(5).otherwise(0).alias("cohort"))
    effect = tp.rollout_effect(panel, unit="actor", time="period", outcome="value", cohort="cohort", bootstrap=0)
    assert effect.group_time().height > 0
    with pytest.raises(tp.ParameterError, match="not a model of this attribution"):
        r.rollout_panel("markov")
    paths = tp.Journeys.from_paths(pl.DataFrame({"path": ["a > b"], "total_conversions": [1]}))
    with pytest.raises(tp.ParameterError, match="needs times"):
        tp.attribute(paths, models=["linear"]).rollout_panel("linear")
