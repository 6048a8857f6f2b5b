"""Plots: each returns a Figure (never shows it) with the expected bars, cells and labels."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import polars as pl
import pytest

import touchpoint as tp
from touchpoint import plotting

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def result(small_paths_module: pl.DataFrame) -> tp.Attribution:
    return tp.attribute(tp.Journeys.from_paths(small_paths_module), models=["first_touch", "linear", "markov"])


@pytest.fixture(scope="module")
def small_paths_module() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "path": ["a > b > a", "c", "b", "a > c"],
            "total_conversions": [3.0, 1.0, 0.0, 2.0],
            "total_null": [1.0, 0.0, 4.0, 2.0],
        }
    )


def test_credit_bars(result: tp.Attribution) -> None:
    fig = result.plot()
    ax = fig.axes[0]
    assert len(ax.patches) == 3 * 3  # models x players
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["first_touch", "linear", "markov"]
    linear = [p.get_height() for p in ax.containers[1]]
    assert linear == pytest.approx([0.5, 1 / 6, 1 / 3])


def test_agreement_heatmap(result: tp.Attribution) -> None:
    fig = plotting.agreement_heatmap(result)
    grid = fig.axes[0].images[0].get_array()
    assert grid.shape == (3, 3)
    assert [grid[i, i] for i in range(3)] == pytest.approx([1.0, 1.0, 1.0])
    assert grid[0, 1] == pytest.approx(grid[1, 0])
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["first_touch", "linear", "markov"]


def test_transition_heatmap(result: tp.Attribution) -> None:
    fig = plotting.transition_heatmap(result)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["(start)", "a", "b", "c"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c", "(conversion)", "(null)"]
    grid = ax.images[0].get_array()
    assert list(grid.sum(axis=1)) == pytest.approx([1.0] * 4)


def test_truth_vs_models() -> None:
    sim = tp.simulate("baseline", people=4000, seed=5)
    r = tp.attribute(sim.journeys, models=["last_touch", "linear"])
    fig = plotting.truth_vs_models(r, sim.truth)
    ax = fig.axes[0]
    channels = sim.truth.filter(pl.col("channel") != "(baseline)")["channel"].to_list()
    assert len(ax.patches) == 3 * len(channels)
    assert sorted(t.get_text() for t in ax.get_xticklabels()) == sorted(channels)


def test_html_repr_of_attribution(result: tp.Attribution) -> None:
    html = result._repr_html_()
    for name in ("first_touch", "linear", "markov", "conversions", "a", "b", "c"):
        assert name in html
    assert "Attribution(by='channel'" in repr(result)


def test_incremental_credit_says_so_and_keeps_the_baseline_apart() -> None:
    """The additive-hazard model's shares are of incremental conversions; its baseline (what would have
    happened anyway) is on a panel of its own, never a bar beside the channels."""
    data = Path(__file__).resolve().parents[2] / "examples" / "data"
    j = tp.Journeys.from_events(
        data / "touches.csv", data / "conversions.csv", period=("2026-04-01", "2026-07-01"), population=10_000
    )
    r = tp.attribute(j, models=["additive_hazard"], progress=False)
    fig = r.plot(kpi="sales")
    assert fig.axes[0].get_ylabel() == "share of incremental conversions"
    fig = r.plot(kpi="sales", value="conversions")
    main, side = fig.axes
    assert "(baseline)" not in [t.get_text() for t in main.get_xticklabels()]
    assert "would have happened anyway" in side.get_title()
    base = r.to_polars().filter((pl.col("kpi") == "sales") & (pl.col("channel") == "(baseline)"))["conversions"][0]
    assert side.patches[0].get_height() == pytest.approx(base)
    goals = tp.GoalBook.load(data / "goals.toml")
    fig = tp.contribution(r, goals).plot(model="additive_hazard")
    main, side = fig.axes
    assert main.get_ylabel() == "incremental value (money)"
    assert "(baseline)" not in [t.get_text() for t in main.get_xticklabels()]
    plt.close("all")


def test_media_mix_plots_show_bands_and_mark_current_and_planned_levels() -> None:
    data = Path(__file__).resolve().parents[2] / "examples" / "data"
    m = tp.MMM(date="week", target="tickets_deflected", media=["paid_social"], organic=["care_replies"])
    fit = m.fit(data / "weekly.csv", chains=2, draws=150, tune=150, progress=False)
    fig = fit.plot()
    # The fitted band on top, one band per channel below.
    assert len(fig.axes) == 3
    assert all(
        any(c.__class__.__name__ in ("PolyCollection", "FillBetweenPolyCollection") for c in a.collections)
        for a in fig.axes[1:]
    )
    levels = {ch: (mean, top) for ch, mean, top in fit._inner.channel_levels()}
    weekly = pl.read_csv(data / "weekly.csv")
    assert levels["paid_social"][0] == pytest.approx(weekly["paid_social"].mean())
    assert levels["paid_social"][1] == pytest.approx(weekly["paid_social"].max())
    fig = fit.plot_response_curves(planned={"paid_social": 5_000.0})
    ax = fig.axes[0]
    marks = {
        line.get_label(): line.get_xdata()[0]
        for line in ax.lines
        if line.get_label() in ("planned", "current (average period)")
    }
    assert marks["planned"] == 5_000.0
    assert marks["current (average period)"] == pytest.approx(weekly["paid_social"].mean())
    with pytest.raises(tp.ParameterError, match="tiktok"):
        fit.plot_response_curves(planned={"tiktok": 1.0})
    plt.close("all")
