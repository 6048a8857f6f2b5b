"""The media-mix model from Python: recovery of a simulated truth, tables and their invariants, save
and load, lift measurements, and typed errors naming the column and row."""

from __future__ import annotations

import datetime as dt
import math

import polars as pl
import pytest

import touchpoint as tp
from touchpoint.exceptions import ColumnError, InputError, ParameterError, ReadError


@pytest.fixture(scope="module")
def sim() -> tp.WeeklySimulation:
    return tp.simulate_weekly(weeks=156, seed=1)


@pytest.fixture(scope="module")
def model(sim: tp.WeeklySimulation) -> tp.MMM:
    return tp.MMM(date="week", target=sim.target, media=sim.media, organic=sim.organic, controls=sim.controls)


@pytest.fixture(scope="module")
def fit(model: tp.MMM, sim: tp.WeeklySimulation) -> tp.MMMFit:
    return model.fit(sim.data, chains=4, draws=500, tune=500, seed=3, progress=False, target_accept=0.9, level=0.95)


def test_simulated_truth_is_covered(fit: tp.MMMFit, sim: tp.WeeklySimulation) -> None:
    s = fit.summary()
    truth = dict(sim.truth.select("channel", "contribution").iter_rows())
    for ch in sim.media + sim.organic:
        row = s.filter(pl.col("channel") == ch).row(0, named=True)
        assert row["lower"] <= truth[ch] <= row["upper"], (ch, row, truth[ch])
    assert fit.diagnostics()["max_r_hat"] < 1.02


def test_summary_columns_and_kpi_per_spend(fit: tp.MMMFit, sim: tp.WeeklySimulation) -> None:
    s = fit.summary()
    for col in [
        "channel",
        "kind",
        "contribution",
        "lower",
        "upper",
        "share",
        "kpi_per_spend",
        "marginal_kpi_per_spend",
    ]:
        assert col in s.columns
    # One meaning of ROI in Touchpoint, (value - cost) / cost in money: the media mix's per-unit figure
    # is named for what it is.
    assert not any("roi" in c for c in s.columns)
    total = sim.data[sim.target].sum()
    for row in s.iter_rows(named=True):
        assert row["share"] == pytest.approx(row["contribution"] / total, rel=1e-9)
        if row["kind"] == "media":
            spend = sim.data[row["channel"]].sum()
            assert row["spend"] == pytest.approx(spend)
            assert row["kpi_per_spend"] == pytest.approx(row["contribution"] / spend, rel=1e-9)
            # Saturation: the return of the last unit is below the average return.
            assert 0 < row["marginal_kpi_per_spend"] < row["kpi_per_spend"]
        else:
            assert row["kpi_per_spend"] is None and row["spend"] is None
    assert set(s["kind"]) == {"baseline", "trend", "seasonality", "control", "media", "organic"}


def test_summary_over_a_window_is_over_the_draws(fit: tp.MMMFit, sim: tp.WeeklySimulation) -> None:
    """The summary of a window sums each draw's contributions over its periods: its mean is the sum
    of the per-period means, its interval narrower than the sum of the per-period intervals."""
    c = fit.contributions()
    dates = sorted(c["date"].unique().to_list())
    start, end = dates[10], dates[22]  # 13 weeks: a quarter
    w = fit.summary(start=start, end=end)
    inside = c.filter(pl.col("date").is_between(start, end))
    assert inside["date"].n_unique() == 13
    for row in w.filter(pl.col("kind") == "media").iter_rows(named=True):
        per = inside.filter(pl.col("channel") == row["channel"])
        assert row["contribution"] == pytest.approx(per["mean"].sum(), rel=1e-9)
        assert row["upper"] - row["lower"] < (per["upper"] - per["lower"]).sum()
        spend = sim.data.filter(pl.col("week").is_between(start, end))[row["channel"]].sum()
        assert row["spend"] == pytest.approx(spend)
    # ISO text works as well as dates; the whole series is the default.
    assert fit.summary(start=str(start), end=str(end)).equals(w)
    assert fit.summary().equals(fit.summary(start=dates[0], end=dates[-1]))
    with pytest.raises(tp.ParameterError, match="no period of the fit lies in it"):
        fit.summary(start="2040-01-01")
    with pytest.raises(tp.ParameterError, match="is a date"):
        fit.summary(start="next week")


def test_contributions_sum_to_the_fit_and_to_the_summary(fit: tp.MMMFit) -> None:
    c = fit.contributions()
    per_period = c.group_by("period").agg(pl.col("mean").sum()).sort("period")["mean"]
    fitted = fit.fitted()
    assert (per_period - fitted["fitted"]).abs().max() < 1e-6 * fitted["fitted"].abs().max()
    totals = dict(c.group_by("channel").agg(pl.col("mean").sum()).iter_rows())
    for row in fit.summary().iter_rows(named=True):
        assert totals[row["channel"]] == pytest.approx(row["contribution"], rel=1e-9, abs=1e-6)
    assert (c["lower"] <= c["mean"] + 1e-9).all() and (c["mean"] <= c["upper"] + 1e-9).all()


def test_response_curves_rise_and_flatten(fit: tp.MMMFit) -> None:
    r = fit.response_curves(points=50, max_multiple=2.0)
    for ch in r["channel"].unique():
        d = r.filter(pl.col("channel") == ch)
        m = d["mean"].to_list()
        assert m[0] == 0.0
        assert all(b >= a for a, b in zip(m, m[1:], strict=False))
        # Concave: the second half adds less than the first.
        assert m[-1] - m[24] < m[24] - m[0]


def test_save_load_round_trip(fit: tp.MMMFit, tmp_path) -> None:
    path = tmp_path / "fit.json"
    fit.save(path)
    back = tp.MMMFit.load(path)
    assert back.summary().equals(fit.summary())
    assert back.version == tp.__version__
    assert back.model.channels == fit.model.channels
    assert back.options["seed"] == 3
    with pytest.raises(ReadError):
        tp.MMMFit.load(tmp_path / "missing.json")
    # A file that is not a table is a ReadError naming it, not a raw polars error.
    bad = tmp_path / "bad.parquet"
    bad.write_text("not parquet")
    with pytest.raises(ReadError, match="bad.parquet"):
        fit.model.fit(bad, method="map")


def test_same_seed_same_answer_and_map(model: tp.MMM, sim: tp.WeeklySimulation, tmp_path) -> None:
    a = model.fit(sim.data, chains=2, draws=60, tune=100, seed=5, progress=False, threads=1)
    b = model.fit(sim.data.to_pandas(), chains=2, draws=60, tune=100, seed=5, progress=False, threads=2)
    assert a.summary().equals(b.summary())
    m = model.fit(sim.data, method="map")
    s = m.summary()
    assert s["lower"].null_count() == s.height
    assert any("map" in w for w in m.warnings)
    m.save(tmp_path / "map.json")
    assert tp.MMMFit.load(tmp_path / "map.json").summary().equals(s)


def test_lift_measurements_pull_the_modelled_lift(model: tp.MMM, sim: tp.WeeklySimulation) -> None:
    free = model.fit(sim.data, method="map")
    before = free.lift("paid_social", 4000, 2000)["mean"]
    lifts = pl.DataFrame(
        {"channel": ["paid_social"], "x": [4000.0], "delta_x": [2000.0], "delta_y": [3 * before], "sigma": [0.5]}
    )
    after = model.fit(sim.data, method="map", lift_measurements=lifts).lift("paid_social", 4000, 2000)["mean"]
    assert abs(after - 3 * before) < abs(before - 3 * before) / 4
    bad = lifts.with_columns(pl.lit("tv").alias("channel"))
    with pytest.raises(InputError, match="row 0.*unknown channel `tv`"):
        model.fit(sim.data, method="map", lift_measurements=bad)
    with pytest.raises(ColumnError, match="sigma"):
        model.fit(sim.data, method="map", lift_measurements=lifts.drop("sigma"))


def test_bad_input_names_column_and_row(model: tp.MMM, sim: tp.WeeklySimulation) -> None:
    d = sim.data
    with pytest.raises(InputError, match=r"`week`, row 20.*missing"):
        model.fit(d.filter(pl.int_range(pl.len()) != 20), method="map")
    with pytest.raises(ColumnError, match="`search` is constant"):
        model.fit(d.with_columns(pl.lit(5.0).alias("search")), method="map")
    neg = d.with_columns(
        pl.when(pl.int_range(pl.len()) == 7).then(-1.0).otherwise(pl.col("paid_social")).alias("paid_social")
    )
    with pytest.raises(InputError, match=r"`paid_social`, row 7"):
        model.fit(neg, method="map")
    nan = d.with_columns(
        pl.when(pl.int_range(pl.len()) == 9).then(float("nan")).otherwise(pl.col(sim.target)).alias(sim.target)
    )
    with pytest.raises(InputError, match=rf"`{sim.target}`, row 9.*NaN"):
        model.fit(nan, method="map")
    null = d.with_columns(pl.when(pl.int_range(pl.len()) == 4).then(None).otherwise(pl.col("search")).alias("search"))
    with pytest.raises(InputError, match=r"`search`, row 4: a null"):
        model.fit(null, method="map")
    with pytest.raises(ParameterError, match="6 periods cannot fit"):
        model.fit(d.head(6).with_columns(pl.Series("product_launch", [0.0, 1, 0, 0, 0, 1])), method="map")
    with pytest.raises(ColumnError, match="`tv` is not in the data"):
        tp.MMM(date="week", target=sim.target, media=["tv"]).fit(d, method="map")
    with pytest.raises(ColumnError, match="holds String"):
        model.fit(d.with_columns(pl.col("search").cast(pl.String)), method="map")
    with pytest.raises(ParameterError, match="saturation"):
        tp.MMM(date="week", target="y", media=["x"], saturation="tanh")
    with pytest.raises(ParameterError, match="list of column names"):
        tp.MMM(date="week", target="y", media="x")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="adstock"):
        tp.MMM(date="week", target="y", media=["x"], priors={"adstock": {"alpha": -1.0, "beta": 3.0}})
    # A partial override keeps the other fields of that prior.
    partial = tp.MMM(date="week", target="y", media=["x"], priors={"adstock": {"alpha": 2.0}})
    assert partial._spec["priors"]["adstock"] == {"alpha": 2.0, "beta": 3.0}
    monthly = pl.DataFrame(
        {"week": pl.date_range(pl.date(2020, 1, 1), pl.date(2023, 12, 1), "1mo", eager=True)}
    ).with_columns(
        pl.int_range(pl.len()).cast(pl.Float64).alias("y"), (pl.int_range(pl.len()) % 5).cast(pl.Float64).alias("x")
    )
    with pytest.raises(InputError, match="calendar months"):
        tp.MMM(date="week", target="y", media=["x"], seasonality=0).fit(monthly, method="map")
    with pytest.raises(ParameterError, match="invalid prior `adstok`.*no such prior"):
        tp.MMM(date="week", target="y", media=["x"], priors={"adstok": {"alpha": 1.0, "beta": 3.0}})
    with pytest.raises(ColumnError, match="named twice"):
        tp.MMM(date="week", target="y", media=["x"], organic=["x"])
    with pytest.raises(ParameterError, match="target_accept"):
        model.fit(d, target_accept=1.5)


def test_hill_saturation_and_no_trend(sim: tp.WeeklySimulation) -> None:
    m = tp.MMM(
        date="week",
        target=sim.target,
        media=sim.media,
        organic=sim.organic,
        controls=sim.controls,
        saturation="hill",
        trend=False,
        seasonality=0,
    )
    f = m.fit(sim.data, method="map")
    s = f.summary()
    assert set(s["kind"]) == {"baseline", "control", "media", "organic"}
    assert all(math.isfinite(v) for v in s["contribution"])
    names = f.parameters()["name"].to_list()
    assert "ec[search]" in names and "slope[search]" in names


def test_plots_and_repr(fit: tp.MMMFit) -> None:
    import matplotlib

    matplotlib.use("Agg")
    fig = fit.plot()
    # The stacked contributions, then one panel per channel (media and organic).
    assert len(fig.axes) == 1 + len(fit.model.media) + len(fit.model.organic)
    fig2 = fit.plot_response_curves()
    assert len([a for a in fig2.axes if a.get_visible()]) == 4
    html = fit._repr_html_()
    assert "care_replies" in html and "[" in html


def test_one_report_across_journeys_and_media_mix(fit: tp.MMMFit, sim: tp.WeeklySimulation) -> None:
    from touchpoint.exceptions import GoalBookError

    care = tp.simulate("social_care", people=5_000, seed=3)
    r = tp.attribute(care.journeys, models=["last_touch", "linear"], intervals=0.9, resamples=40, seed=1)
    goals = tp.GoalBook(
        [tp.Kpi("sales", function="sales"), tp.Kpi("tickets_deflected", function="service", unit_value=6.0)],
        social=["care_replies", "employee_shares", "facebook"],
    )
    with pytest.raises(ParameterError, match="measured both"):
        tp.contribution(r, goals, mmm={"tickets_deflected": fit})
    rep = tp.contribution(r, goals, mmm={"tickets_deflected": fit}, sources={"tickets_deflected": "mmm"})
    rows = rep.to_polars()
    tickets = rows.filter(pl.col("kpi") == "tickets_deflected")
    assert set(tickets["source"]) == {"mmm"} and set(tickets["model"]) == {"last_touch", "linear"}
    # Valued by the goal book: 6 per ticket deflected, the fit's contribution summed over the weeks
    # dated in the journeys' observation period (never the whole series against a shorter log).
    start, end = care.journeys.period
    window = fit.summary(start=start.date(), end=(end - dt.timedelta(microseconds=1)).date())
    care_mmm = window.filter(pl.col("channel") == "care_replies")["contribution"][0]
    assert care_mmm < fit.summary().filter(pl.col("channel") == "care_replies")["contribution"][0]
    s = rep.summary().filter((pl.col("model") == "linear") & (pl.col("channel") == "care_replies")).row(0, named=True)
    assert s["value"] == pytest.approx(6.0 * care_mmm, rel=0.02)  # mean over 40 spread draws vs all draws
    assert s["value_lower"] < s["value"] < s["value_upper"]
    # The fit's channels that no journey names are flagged (a spelling difference would split one).
    assert any("that no journey names: paid_social, care_replies, employee_shares" in w for w in rep.warnings)
    # Sales still come from the journeys, unchanged.
    plain = tp.contribution(r, goals).to_polars().filter(pl.col("kpi") == "sales")
    sales = rows.filter(pl.col("kpi") == "sales").sort("model", "channel")
    assert sales["value"].to_list() == plain.sort("model", "channel")["value"].to_list()
    assert set(sales["source"]) == {"journeys"}
    with pytest.raises(ParameterError, match="journeys"):
        tp.contribution(r, goals, mmm={"tickets_deflected": fit}, sources={"tickets_deflected": "both"})
    with pytest.raises(GoalBookError, match="hires"):
        tp.contribution(r, goals, mmm={"hires": fit})
