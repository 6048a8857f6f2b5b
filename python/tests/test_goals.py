"""Goal books and contribution reports from Python: valuation, HTML, chart, costs override."""

from __future__ import annotations

import matplotlib
import polars as pl
import pytest
from conftest import ROOT

import touchpoint as tp

matplotlib.use("Agg")
DATA = ROOT / "examples" / "data"


@pytest.fixture
def report() -> tp.ContributionReport:
    j = tp.Journeys.from_events(DATA / "touches.csv", DATA / "conversions.csv", lookback={"hires": "90d"})
    r = tp.attribute(j, models=["linear", "markov"])
    return tp.contribution(r, tp.GoalBook.load(DATA / "goals.toml"))


def test_goal_book_load_and_validate(tmp_path) -> None:
    g = tp.GoalBook.load(DATA / "goals.toml")
    assert [k.name for k in g.kpis] == ["sales", "tickets_deflected", "hires"]
    assert g.kpis[1] == tp.Kpi("tickets_deflected", function="service", unit_value=12.5, unit="ticket")
    assert "linkedin" in g.social and g.costs["search"] == 5000.0
    bad = tmp_path / "bad.toml"
    bad.write_text('[[kpi]]\nname = "x"\nunit_value = -1.0\n')
    with pytest.raises(tp.GoalBookError, match=r"bad.toml: kpi `x`: `unit_value` = -1"):
        tp.GoalBook.load(bad)
    with pytest.raises(tp.GoalBookError, match=r"kpi `a` is defined twice"):
        tp.GoalBook([tp.Kpi("a"), tp.Kpi("a")])


def test_report_values_and_conserves(report: tp.ContributionReport) -> None:
    df = report.to_polars()
    assert df.columns == ["model", "channel", "kpi", "function", "conversions", "value", "source"]
    conv = pl.read_csv(DATA / "conversions.csv")
    for model in ("linear", "markov"):
        m = df.filter(pl.col("model") == model)
        tickets = m.filter(pl.col("kpi") == "tickets_deflected")
        assert tickets["value"].sum() == pytest.approx(12.5 * tickets["conversions"].sum())
        hires = m.filter(pl.col("kpi") == "hires")
        assert hires["value"].sum() == pytest.approx(4000.0 * hires["conversions"].sum())
        assert m.filter(pl.col("kpi") == "sales")["value"].sum() <= conv["value"].sum() + 1e-6
    s = report.summary()
    assert s.columns == [
        "model",
        "channel",
        "value",
        "value_share",
        "touches",
        "value_per_touch",
        "cost",
        "roi",
        "social",
    ]
    direct = s.filter((pl.col("model") == "linear") & (pl.col("channel") == "direct")).row(0, named=True)
    assert direct["cost"] == 0.0 and direct["roi"] is None
    social = report.social()
    assert social.filter(pl.col("model") == "linear")["value_share"].sum() == pytest.approx(1.0)


def test_costs_override_and_warnings(report: tp.ContributionReport) -> None:
    j = tp.Journeys.from_events(DATA / "touches.csv", DATA / "conversions.csv")
    r = tp.attribute(j, models=["linear"])
    rep = tp.contribution(r, tp.GoalBook.load(DATA / "goals.toml"), costs={"search": 1.0, "tiktok": 5.0})
    s = rep.summary().filter(pl.col("channel") == "search").row(0, named=True)
    assert s["cost"] == 1.0
    assert any("tiktok" in w for w in rep.warnings)
    as_frame = pl.DataFrame({"channel": ["search"], "cost": [2.0]})
    rep2 = tp.contribution(r, tp.GoalBook.load(DATA / "goals.toml"), costs=as_frame)
    assert rep2.summary().filter(pl.col("channel") == "search")["cost"][0] == 2.0


def test_unknown_kpi_is_an_error() -> None:
    j = tp.Journeys.from_events(DATA / "touches.csv", DATA / "conversions.csv")
    r = tp.attribute(j, models=["linear"])
    with pytest.raises(tp.GoalBookError, match=r"KPI `hires` is attributed but the goal book has no such KPI"):
        tp.contribution(r, tp.GoalBook([tp.Kpi("sales"), tp.Kpi("tickets_deflected")]))


def test_html_repr_names_every_player_and_kpi(report: tp.ContributionReport) -> None:
    html = report._repr_html_()
    for name in report.to_polars()["channel"].unique():
        assert name in html
    for kpi in ("sales", "tickets_deflected", "hires"):
        assert kpi in html


def test_chart_has_one_segment_per_player_and_function(report: tp.ContributionReport) -> None:
    fig = report.plot(model="linear")
    ax = fig.axes[0]
    by = report.by_function().filter((pl.col("model") == "linear") & (pl.col("value") > 0))
    bars = [p for p in ax.patches if p.get_height() > 0]
    assert len(bars) == by.height
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert sorted(labels) == sorted(by["channel"].unique().to_list())
    legend = sorted(t.get_text() for t in ax.get_legend().get_texts())
    assert legend == sorted(by["function"].unique().to_list())


def test_by_actor_group_advocacy() -> None:
    j = tp.Journeys.from_events(
        DATA / "touches.csv",
        DATA / "conversions.csv",
        dims=["actor", "actor_group"],
        lookback={"hires": "90d"},
    )
    goals = tp.GoalBook.load(DATA / "goals.toml")
    totals = []
    for by in ("channel", "actor", "actor_group"):
        rep = tp.contribution(tp.attribute(j, models=["linear", "shapley"], by=by), goals)
        totals.append(rep.summary().group_by("model").agg(pl.col("value").sum()).sort("model")["value"].to_list())
        assert by in rep.summary().columns
    assert totals[0] == pytest.approx(totals[1]) and totals[0] == pytest.approx(totals[2])


def test_report_pickles_and_converts(report: tp.ContributionReport) -> None:
    import pickle

    from polars.testing import assert_frame_equal

    back = pickle.loads(pickle.dumps(report))
    # Floats travel as JSON; serde_json's default parser may land one ulp away (its exact
    # `float_roundtrip` feature would change serde_json's features inside polars' build).
    assert_frame_equal(back.summary(), report.summary(), rel_tol=1e-15, abs_tol=0)
    assert_frame_equal(back.to_polars(), report.to_polars(), rel_tol=1e-15, abs_tol=0)
    d = report.to_dict()
    assert d["by"] == "channel" and len(d["rows"]) == report.to_polars().height
    assert report.to_pandas().shape == report.to_polars().shape
    assert "ContributionReport(by='channel'" in repr(report)
