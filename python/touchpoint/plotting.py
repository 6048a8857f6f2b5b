"""Plots with matplotlib (the ``touchpoint[plot]`` extra). Each returns the Figure; none calls show()."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import polars as pl

if TYPE_CHECKING:
    from .attribution import Attribution
    from .goals import ContributionReport

__all__ = ["credit_bars", "contribution_bars"]


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("plots need matplotlib: pip install 'touchpoint[plot]'") from e
    return plt


def credit_bars(result: Attribution, kpi: str | None = None, value: str = "share") -> Any:
    """Grouped bars: one group per player, one bar per model, of credited ``share`` (or
    ``conversions`` / ``value``) for one KPI (the first by default)."""
    plt = _pyplot()
    df = result.to_polars()
    kpi = kpi or df["kpi"][0]
    df = df.filter(pl.col("kpi") == kpi)
    players = sorted(df[result.by].unique().to_list())
    models = df["model"].unique(maintain_order=True).to_list()
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(players) * max(1, len(models)) / 3), 4))
    width = 0.8 / max(1, len(models))
    for i, m in enumerate(models):
        sub = {r[result.by]: r[value] for r in df.filter(pl.col("model") == m).iter_rows(named=True)}
        xs = [p + i * width for p in range(len(players))]
        ax.bar(xs, [sub.get(p) or 0.0 for p in players], width, label=m)
    ax.set_xticks(
        [p + width * (len(models) - 1) / 2 for p in range(len(players))], players, rotation=30, ha="right"
    )
    ax.set_ylabel(value)
    ax.set_title(f"Credit by {result.by}, KPI `{kpi}`")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def contribution_bars(report: ContributionReport, model: str | None = None) -> Any:
    """Stacked bars of money value by player, one segment per business function, for one model."""
    plt = _pyplot()
    df = report.by_function()
    model = model or df["model"][0]
    df = df.filter(pl.col("model") == model)
    by = report.by
    players = df.group_by(by).agg(pl.col("value").sum()).sort("value", descending=True)[by].to_list()
    functions = sorted(df["function"].unique().to_list())
    fig, ax = plt.subplots(figsize=(max(6, 0.7 * len(players)), 4))
    bottom = [0.0] * len(players)
    for f in functions:
        sub = {r[by]: r["value"] for r in df.filter(pl.col("function") == f).iter_rows(named=True)}
        heights = [sub.get(p, 0.0) for p in players]
        ax.bar(players, heights, bottom=bottom, label=f)
        bottom = [b + h for b, h in zip(bottom, heights, strict=False)]
    ax.set_ylabel("value")
    ax.set_title(f"Business value by {by} and function ({model})")
    ax.tick_params(axis="x", rotation=30)
    ax.legend(title="function", fontsize="small")
    fig.tight_layout()
    return fig
