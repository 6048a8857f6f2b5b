"""Windows (issue "main job", part 3): a media-mix fit and journeys are valued over the same weeks,
never over different windows without a word."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

import touchpoint as tp

DATA = Path(__file__).resolve().parents[2] / "examples" / "data"


@pytest.fixture(scope="module")
def journeys() -> tp.Journeys:
    return tp.Journeys.from_events(
        DATA / "touches.csv", DATA / "conversions.csv", period=("2026-04-01", "2026-07-01"), population=10_000
    )


def _weekly(first: dt.date) -> pl.DataFrame:
    """The bundled weekly table with its target renamed `leads` and its weeks moved to start at `first`."""
    w = pl.read_csv(DATA / "weekly.csv").rename({"tickets_deflected": "leads"})
    return w.with_columns(pl.Series("week", [first + dt.timedelta(weeks=i) for i in range(w.height)]))


def _fit(first: dt.date) -> tp.MMMFit:
    m = tp.MMM(date="week", target="leads", media=["paid_social", "search"], organic=["care_replies"])
    return m.fit(_weekly(first), chains=2, draws=200, tune=200, progress=False)


def _goals() -> tp.GoalBook:
    book = tp.GoalBook.load(DATA / "goals.toml")
    kpis = [*book.kpis, tp.Kpi("leads", function="marketing", unit_value=30.0)]
    return tp.GoalBook(kpis, costs=book.costs, social=book.social)


def test_the_fit_is_valued_over_the_journeys_weeks(journeys: tp.Journeys) -> None:
    fit = _fit(dt.date(2025, 7, 7))  # 156 Mondays from 2025-07-07: the quarter lies inside
    r = tp.attribute(journeys, models=["last_touch"])
    rep = tp.contribution(r, _goals(), mmm={"leads": fit})
    leads = rep.to_polars().filter(pl.col("kpi") == "leads")
    # The weeks dated in [2026-04-01, 2026-06-30]: 13 Mondays, 2026-04-06 to 2026-06-29.
    quarter = fit.summary(start="2026-04-01", end="2026-06-30")
    for row in quarter.filter(pl.col("kind").is_in(["media", "organic"])).iter_rows(named=True):
        got = leads.filter(pl.col("channel") == row["channel"])["conversions"][0]
        assert got == pytest.approx(row["contribution"], rel=1e-9)
    whole = fit.summary().filter(pl.col("channel") == "search")["contribution"][0]
    assert leads.filter(pl.col("channel") == "search")["conversions"][0] < whole / 5


def test_a_fit_outside_the_journeys_period_is_refused(journeys: tp.Journeys) -> None:
    fit = _fit(dt.date(2023, 1, 2))  # 2023 to 2025: no week in the quarter
    r = tp.attribute(journeys, models=["last_touch"])
    with pytest.raises(tp.ParameterError, match="no period of the fit lies in it"):
        tp.contribution(r, _goals(), mmm={"leads": fit})
    # A path table has no period: the whole series joins, and a warning says the windows were not checked.
    paths = tp.Journeys.from_paths(DATA / "paths.csv")
    book = tp.GoalBook([tp.Kpi("conversions", "sales", 10.0), tp.Kpi("leads", "marketing", 30.0)])
    rep = tp.contribution(tp.attribute(paths, models=["linear"]), book, mmm={"leads": fit})
    assert any("no observation period" in w for w in rep.warnings), rep.warnings


def test_one_quarter_of_a_longer_log() -> None:
    """period= on a longer log: the conversions outside are left out of every model and counted (the
    unattributed table's `outside_period`, the summary, a warning), never an error."""
    conversions = pl.read_csv(DATA / "conversions.csv")
    may = conversions.filter(pl.col("ts").str.starts_with("2026-05"))
    j = tp.Journeys.from_events(
        DATA / "touches.csv", DATA / "conversions.csv", period=("2026-05-01", "2026-06-01"), population=10_000
    )
    outside = j.unattributed.filter(pl.col("reason") == "outside_period")
    per_kpi = dict(outside.select("kpi", "conversions").iter_rows())
    for kpi, n in conversions.group_by("kpi").len().iter_rows():
        in_may = may.filter(pl.col("kpi") == kpi).height
        assert per_kpi[kpi] == n - in_may
        # The summary counts every conversion of the file, the outside ones among the unattributed.
        row = j.summary.filter(pl.col("kpi") == kpi).row(0, named=True)
        assert row["conversions"] == n
    r = tp.attribute(j, models=["additive_hazard", "linear"])
    assert any("lie outside the observation period" in w for w in r.warnings), r.warnings
    credit = r.to_polars().filter(pl.col("model") == "additive_hazard").group_by("kpi").agg(pl.col("conversions").sum())
    for kpi, total in credit.iter_rows():
        # The timeline model credits exactly the conversions inside the period.
        assert total == pytest.approx(may.filter(pl.col("kpi") == kpi).height, rel=1e-9)
    # Values of left-out sales are counted too.
    sales_out = outside.filter(pl.col("kpi") == "sales")["value"][0]
    want = conversions.filter((pl.col("kpi") == "sales") & ~pl.col("ts").str.starts_with("2026-05"))["value"].sum()
    assert sales_out == pytest.approx(want)
