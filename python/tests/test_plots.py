"""Plots: each returns a Figure (never shows it) with the expected bars, cells and labels."""

from __future__ import annotations

import matplotlib
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
