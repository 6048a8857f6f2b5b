"""Plots with matplotlib (the ``touchpoint[plot]`` extra). Each returns the Figure; none calls show()."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import polars as pl

if TYPE_CHECKING:
    from .attribution import Attribution
    from .goals import ContributionReport
    from .mmm import MMMFit, Scenario
    from .plan import Plan

__all__ = [
    "credit_bars",
    "contribution_bars",
    "agreement_heatmap",
    "transition_heatmap",
    "truth_vs_models",
    "mmm_contributions",
    "mmm_response",
    "scenario",
    "plan_allocation",
    "plan_curves",
    "plan_outcome",
    "rollout_event_study",
]


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("plots need matplotlib: pip install 'touchpoint[plot]'") from e
    return plt


_CREDIT_LABELS = {
    "share": "share of attributed conversions",
    "conversions": "credited conversions",
    "value": "credited value (the data's currency)",
}


def _percent() -> Any:
    from matplotlib.ticker import PercentFormatter

    return PercentFormatter(xmax=1.0, decimals=0)


def _thousands() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda x, _pos: f"{x:,.0f}")


def _pick(known: list[str], name: str | None, what: str) -> str:
    """``name`` when the result has it, the first by default; an unknown name is a ParameterError,
    never an empty figure."""
    from .exceptions import ParameterError

    if not known:
        raise ParameterError(f"nothing to plot: the result has no {what}")
    if name is None:
        return known[0]
    if name not in known:
        raise ParameterError(f"no {what} `{name}` in this result; it has: {', '.join(known)}")
    return name


def credit_bars(result: Attribution, kpi: str | None = None, value: str = "share") -> Any:
    """Grouped bars: one group per player, one bar per model, of credited ``share`` (or
    ``conversions`` / ``value``) for one KPI (the first by default). A model with a baseline
    (``additive_hazard``) credits what the players added: its shares are of incremental conversions,
    and its ``(baseline)`` (what would have happened anyway) is drawn on a panel of its own."""
    plt = _pyplot()
    df = result.to_polars()
    kpi = _pick(df["kpi"].unique(maintain_order=True).to_list(), kpi, "KPI")
    if value not in ("share", "conversions", "value"):
        from .exceptions import ParameterError

        raise ParameterError(f"value must be 'share', 'conversions' or 'value', got {value!r}")
    df = df.filter(pl.col("kpi") == kpi)
    base = df.filter(pl.col(result.by) == "(baseline)")
    incremental = base["model"].unique(maintain_order=True).to_list()
    df = df.filter(pl.col(result.by) != "(baseline)")
    players = sorted(df[result.by].unique().to_list())
    models = df["model"].unique(maintain_order=True).to_list()
    side = value != "share" and base.height > 0
    width_main = max(6, 0.9 * len(players) * max(1, len(models)) / 3)
    if side:
        fig, (ax, bx) = plt.subplots(
            1, 2, figsize=(width_main + 2.2, 4), gridspec_kw={"width_ratios": [width_main, 2.2]}
        )
    else:
        fig, ax = plt.subplots(figsize=(width_main, 4))
    width = 0.8 / max(1, len(models))
    lo, hi = f"{value}_lower", f"{value}_upper"
    with_intervals = lo in df.columns

    def errors(rows: dict[str, Any], keys: list[str], heights: list[float]) -> list[list[float]] | None:
        if not with_intervals:
            return None
        # Error bars from the bootstrap interval: distances below and above the bar.
        below = [
            max(0.0, h - rows[p][lo]) if p in rows and rows[p][lo] is not None else 0.0
            for p, h in zip(keys, heights, strict=True)
        ]
        above = [
            max(0.0, rows[p][hi] - h) if p in rows and rows[p][hi] is not None else 0.0
            for p, h in zip(keys, heights, strict=True)
        ]
        return [below, above]

    for i, m in enumerate(models):
        rows = {r[result.by]: r for r in df.filter(pl.col("model") == m).iter_rows(named=True)}
        xs = [p + i * width for p in range(len(players))]
        heights = [(rows[p][value] or 0.0) if p in rows else 0.0 for p in players]
        label = f"{m} (added)" if m in incremental else m
        ax.bar(
            xs,
            heights,
            width,
            label=label,
            yerr=errors(rows, players, heights),
            capsize=2,
            error_kw={"elinewidth": 0.8},
        )
    ax.set_xticks([p + width * (len(models) - 1) / 2 for p in range(len(players))], players, rotation=30, ha="right")
    if value == "share" and incremental:
        if len(incremental) == len(models):
            ax.set_ylabel("share of incremental conversions")
        else:
            ax.set_ylabel(f"share of conversions\n({', '.join(incremental)}: of incremental ones)")
    else:
        ax.set_ylabel(_CREDIT_LABELS[value])
    fmt = _percent() if value == "share" else _thousands()
    ax.yaxis.set_major_formatter(fmt)
    title = f"Credit by {result.by}, KPI {kpi}"
    if with_intervals and result.intervals is not None:
        title += f" ({result.intervals['level']:.0%} bootstrap intervals)"
    ax.set_title(title)
    ax.legend(title="model", fontsize="small", ncols=2 if len(models) > 4 else 1)
    if side:
        rows = {r["model"]: r for r in base.iter_rows(named=True)}
        heights = [rows[m][value] or 0.0 for m in incremental]
        colours = [f"C{models.index(m)}" if m in models else "C7" for m in incremental]
        bx.bar(range(len(incremental)), heights, 0.6, color=colours, yerr=errors(rows, incremental, heights), capsize=3)
        bx.set_xticks(range(len(incremental)), incremental, rotation=30, ha="right")
        bx.set_title("would have happened anyway\n(baseline)", fontsize="medium")
        bx.yaxis.set_major_formatter(_thousands())
        bx.set_ylabel(_CREDIT_LABELS[value].replace("credited ", ""))
    fig.tight_layout()
    return fig


def contribution_bars(report: ContributionReport, model: str | None = None) -> Any:
    """Stacked bars of money value by player, one segment per business function, for one model. A
    model with a baseline has its ``(baseline)`` (what would have happened anyway) on a panel of its
    own, and its players' bars are incremental value."""
    plt = _pyplot()
    df = report.by_function()
    model = _pick(df["model"].unique(maintain_order=True).to_list(), model, "model")
    df = df.filter(pl.col("model") == model)
    by = report.by
    base = df.filter(pl.col(by) == "(baseline)")
    df = df.filter(pl.col(by) != "(baseline)")
    players = df.group_by(by).agg(pl.col("value").sum()).sort("value", descending=True)[by].to_list()
    functions = sorted(set(df["function"].unique().to_list()) | set(base["function"].unique().to_list()))
    colour = {f: f"C{i}" for i, f in enumerate(functions)}
    if base.height:
        fig, (ax, bx) = plt.subplots(
            1,
            2,
            figsize=(max(6, 0.7 * len(players)) + 2, 4),
            gridspec_kw={"width_ratios": [max(6, 0.7 * len(players)), 2]},
        )
    else:
        fig, ax = plt.subplots(figsize=(max(6, 0.7 * len(players)), 4))
    bottom = [0.0] * len(players)
    for f in functions:
        sub = {r[by]: r["value"] for r in df.filter(pl.col("function") == f).iter_rows(named=True)}
        heights = [sub.get(p, 0.0) for p in players]
        ax.bar(players, heights, bottom=bottom, label=f, color=colour[f])
        bottom = [b + h for b, h in zip(bottom, heights, strict=False)]
    summary = report.summary().filter(pl.col("model") == model)
    if "value_lower" in summary.columns:
        # The interval of each player's total value over every function, at the top of its stack.
        rows = {r[by]: r for r in summary.iter_rows(named=True)}
        below = [
            max(0.0, t - rows[p]["value_lower"]) if p in rows and rows[p]["value_lower"] is not None else 0.0
            for p, t in zip(players, bottom, strict=True)
        ]
        above = [
            max(0.0, rows[p]["value_upper"] - t) if p in rows and rows[p]["value_upper"] is not None else 0.0
            for p, t in zip(players, bottom, strict=True)
        ]
        ax.errorbar(
            players,
            bottom,
            yerr=[below, above],
            fmt="none",
            ecolor="black",
            capsize=3,
            elinewidth=0.8,
            label="interval",
        )
    ax.set_ylabel("incremental value (money)" if base.height else "value (money)")
    ax.yaxis.set_major_formatter(_thousands())
    ax.set_title(f"Business value by {by} and function ({model})")
    ax.tick_params(axis="x", rotation=30)
    ax.legend(title="function", fontsize="small")
    if base.height:
        level = 0.0
        for f in functions:
            v = base.filter(pl.col("function") == f)["value"].sum()
            bx.bar(["(baseline)"], [v], bottom=[level], color=colour[f])
            level += v
        bx.set_title("would have happened\nanyway", fontsize="medium")
        bx.yaxis.set_major_formatter(_thousands())
    fig.tight_layout()
    return fig


def agreement_heatmap(result: Attribution, kpi: str | None = None) -> Any:
    """How much the models agree for one KPI: 1 - total variation distance between their credit shares
    (1 = identical credit), as a heat map with the values written in."""
    plt = _pyplot()
    df = result.to_polars()
    kpi = _pick(df["kpi"].unique(maintain_order=True).to_list(), kpi, "KPI")
    df = df.filter(pl.col("kpi") == kpi)
    models = df["model"].unique(maintain_order=True).to_list()
    shares = {
        m: {r[result.by]: (r["share"] or 0.0) for r in df.filter(pl.col("model") == m).iter_rows(named=True)}
        for m in models
    }
    players = sorted({p for s in shares.values() for p in s})
    grid = [
        [1 - 0.5 * sum(abs(shares[a].get(p, 0.0) - shares[b].get(p, 0.0)) for p in players) for b in models]
        for a in models
    ]
    # The colour scale spans the data (the diagonal is always 1), so differences between pairs show.
    low = min(min(row) for row in grid) if models else 0.0
    low = min(low, 0.99)
    fig, ax = plt.subplots(figsize=(1.6 + 0.9 * len(models), 1.0 + 0.75 * len(models)))
    im = ax.imshow(grid, vmin=low, vmax=1, cmap="viridis")
    ax.set_xticks(range(len(models)), models, rotation=40, ha="right")
    ax.set_yticks(range(len(models)), models)
    mid = (low + 1) / 2
    for i in range(len(models)):
        for j in range(len(models)):
            color = "black" if grid[i][j] > mid else "white"
            ax.text(j, i, f"{grid[i][j]:.2f}", ha="center", va="center", fontsize="small", color=color)
    ax.set_title(f"Model agreement, KPI {kpi}\n(1 - total variation distance of credit shares)", fontsize="medium")
    fig.colorbar(im, ax=ax, fraction=0.046, label="agreement")
    fig.tight_layout()
    return fig


def transition_heatmap(result: Attribution, model: str = "markov", kpi: str | None = None) -> Any:
    """The Markov chain's transition probabilities (rows: from, columns: to) as a heat map."""
    plt = _pyplot()
    tm = result.transition_matrix(model=model, kpi=kpi)
    tm_kpi = result.to_polars()["kpi"][0]
    sources = ["(start)"] + sorted(s for s in tm["from"].unique().to_list() if s != "(start)")
    targets = sorted(t for t in tm["to"].unique().to_list() if t not in ("(conversion)", "(null)"))
    targets += [t for t in ("(conversion)", "(null)") if t in set(tm["to"])]
    probs = {(r["from"], r["to"]): r["probability"] for r in tm.iter_rows(named=True)}
    grid = [[probs.get((s, t), 0.0) for t in targets] for s in sources]
    fig, ax = plt.subplots(figsize=(1.5 + 0.45 * len(targets), 1.0 + 0.4 * len(sources)))
    top = max((max(row) for row in grid), default=1.0) or 1.0
    im = ax.imshow(grid, vmin=0, vmax=top, cmap="magma")
    ax.set_xticks(range(len(targets)), targets, rotation=45, ha="right")
    ax.set_yticks(range(len(sources)), sources)
    ax.set_xlabel("to")
    ax.set_ylabel("from")
    ax.set_title(f"Transition probabilities ({model}, KPI {kpi or tm_kpi})")
    fig.colorbar(im, ax=ax, fraction=0.046, label="probability")
    fig.tight_layout()
    return fig


def truth_vs_models(result: Attribution, truth: pl.DataFrame, kpi: str | None = None, value: str = "share") -> Any:
    """Grouped bars per channel: the simulated Shapley truth next to each model.

    With ``value="share"``, shares of the channels' credit; with ``value="conversions"``, credited
    conversions, with a ``(baseline)`` group: the conversions that would have happened anyway in the
    truth, and under each model with a baseline (models without one hand them to the channels)."""
    plt = _pyplot()
    if value not in ("share", "conversions"):
        from .exceptions import ParameterError

        raise ParameterError(f"value must be 'share' or 'conversions', got {value!r}")
    df = result.to_polars()
    kpi = _pick(df["kpi"].unique(maintain_order=True).to_list(), kpi, "KPI")
    if value not in ("share", "conversions", "value"):
        from .exceptions import ParameterError

        raise ParameterError(f"value must be 'share', 'conversions' or 'value', got {value!r}")
    df = df.filter(pl.col("kpi") == kpi)
    t = truth.filter(pl.col("kpi") == kpi)
    column = "shapley_share" if value == "share" else "shapley"
    if value == "share":
        t = t.filter(pl.col("channel") != "(baseline)")
    channels = t.filter(pl.col("channel") != "(baseline)").sort(column, descending=True)["channel"].to_list()
    if value == "conversions":
        channels.append("(baseline)")
    series = {"truth (Shapley)": dict(zip(t["channel"], t[column], strict=True))}
    for m in df["model"].unique(maintain_order=True).to_list():
        sub = df.filter(pl.col("model") == m)
        series[m] = dict(zip(sub["channel"], sub[value], strict=True))
    fig, ax = plt.subplots(figsize=(max(7, 0.35 * len(channels) * len(series) / 2), 4.2))
    width = 0.8 / len(series)
    for i, (name, values) in enumerate(series.items()):
        xs = [c + i * width for c in range(len(channels))]
        ax.bar(xs, [values.get(c) or 0.0 for c in channels], width, label=name, hatch="//" if i == 0 else None)
    ax.set_xticks([c + width * (len(series) - 1) / 2 for c in range(len(channels))], channels, rotation=30, ha="right")
    ax.set_ylabel("share of credited conversions" if value == "share" else "credited conversions")
    ax.set_title(f"Simulated truth vs models, KPI {kpi}")
    if value == "conversions":
        ax.set_xlabel("(baseline): conversions that would have happened anyway", fontsize="small")
    ax.legend(fontsize="x-small", ncol=2)
    fig.tight_layout()
    return fig


def mmm_contributions(fit: MMMFit) -> Any:
    """Contributions over time. Top: the posterior means stacked (the baseline of intercept, trend,
    seasonality and controls, then each channel), with the observed target and the fitted mean's
    interval band. Below: each channel's contribution per period with its interval band."""
    plt = _pyplot()
    c = fit.contributions()
    base = (
        c.filter(~pl.col("kind").is_in(["media", "organic"]))
        .group_by("period", maintain_order=True)
        .agg(pl.col("date").first(), pl.col("mean").sum())
        .sort("period")
    )
    channels = c.filter(pl.col("kind").is_in(["media", "organic"]))["channel"].unique(maintain_order=True).to_list()
    dates = base["date"].to_list()
    layers = [base["mean"].to_list()] + [
        c.filter(pl.col("channel") == ch).sort("period")["mean"].to_list() for ch in channels
    ]
    cols = min(max(1, len(channels)), 4)
    rows = (len(channels) + cols - 1) // cols
    fig = plt.figure(figsize=(11, 4.2 + 2.2 * rows))
    grid = fig.add_gridspec(1 + rows, cols, height_ratios=[2.2] + [1.0] * rows)
    ax = fig.add_subplot(grid[0, :])
    ax.stackplot(dates, *layers, labels=["baseline (intercept, trend, seasonality, controls)"] + channels, alpha=0.85)
    f = fit.fitted()
    if f["lower"].null_count() == 0:
        ax.fill_between(
            f["date"].to_list(),
            f["lower"].to_list(),
            f["upper"].to_list(),
            color="black",
            alpha=0.15,
            label="fitted, interval",
        )
    ax.plot(f["date"].to_list(), f["observed"].to_list(), color="black", lw=1.0, label="observed")
    ax.set_ylabel(f"{fit.model.target} per period")
    ax.yaxis.set_major_formatter(_thousands())
    level = fit.options.get("level", 0.9)
    ax.set_title(f"Contributions to {fit.model.target} (posterior means; bands: {level:.0%} intervals)")
    top = max(max(f["observed"].to_list()), max(map(sum, zip(*layers, strict=True))))
    ax.set_ylim(0, 1.3 * top)  # room for the legend above the series
    ax.legend(loc="upper left", fontsize=8, ncol=3, framealpha=0.9)
    ax.margins(x=0)
    for i, ch in enumerate(channels):
        d = c.filter(pl.col("channel") == ch).sort("period")
        sub = _band_panel(fig, grid, i, cols, ch, d["date"].to_list(), d["mean"], d["lower"], d["upper"])
        sub.xaxis.set_major_locator(_ticks(3))
        sub.margins(x=0)
    for a in fig.axes:
        a.tick_params(axis="x", labelrotation=20)
    fig.tight_layout()
    return fig


def _band_panel(
    fig: Any, grid: Any, i: int, cols: int, name: str, x: list[Any], mean: pl.Series, lower: pl.Series, upper: pl.Series
) -> Any:
    """Channel `i`'s small panel below a main one: its line in its own colour, with the interval
    band when there is one."""
    sub = fig.add_subplot(grid[1 + i // cols, i % cols])
    sub.plot(x, mean.to_list(), color=f"C{i + 1}", lw=1.0)
    if lower.null_count() == 0:
        sub.fill_between(x, lower.to_list(), upper.to_list(), color=f"C{i + 1}", alpha=0.3)
    sub.set_title(name, fontsize=9)
    sub.yaxis.set_major_formatter(_thousands())
    sub.tick_params(labelsize=7)
    return sub


def scenario(s: Scenario, title: str | None = None) -> Any:
    """A scenario over its future periods. Top: the expected KPI with the interval of that mean
    (dark band) and of the KPI itself, noise included (light band). Below: each channel's expected
    contribution with its band; planned levels above the largest the fit saw are marked."""
    plt = _pyplot()
    p = s.periods()
    c = s.contributions()
    channels = c.filter(pl.col("kind").is_in(["media", "organic"]))["component"].unique(maintain_order=True).to_list()
    cols = min(max(1, len(channels)), 4)
    rows = (len(channels) + cols - 1) // cols
    fig = plt.figure(figsize=(11, 3.8 + 2.2 * rows))
    grid = fig.add_gridspec(1 + rows, cols, height_ratios=[2.0] + [1.0] * rows)
    ax = fig.add_subplot(grid[0, :])
    x = p["period"].to_list()
    if p["lower"].null_count() == 0:
        ax.fill_between(
            x,
            p["predictive_lower"].to_list(),
            p["predictive_upper"].to_list(),
            color="C0",
            alpha=0.15,
            label="the KPI itself (noise included)",
        )
        ax.fill_between(x, p["lower"].to_list(), p["upper"].to_list(), color="C0", alpha=0.35, label="expected KPI")
    ax.plot(x, p["expected"].to_list(), color="C0", lw=1.5, marker="o", ms=3, label="expected (mean)")
    ax.set_ylabel("KPI per period")
    ax.set_xlabel("future period")
    ax.yaxis.set_major_formatter(_thousands())
    ax.set_title(title or f"Scenario: the KPI per future period ({s.level:.0%} intervals)")
    ax.legend(loc="upper left", fontsize=8, framealpha=0.9)
    ax.margins(x=0.01)
    for i, ch in enumerate(channels):
        d = c.filter(pl.col("component") == ch).sort("period")
        sub = _band_panel(fig, grid, i, cols, ch, d["period"].to_list(), d["expected"], d["lower"], d["upper"])
        beyond = d.filter(pl.col("beyond_observed").is_not_null())
        if beyond.height:
            sub.scatter(
                beyond["period"].to_list(),
                beyond["expected"].to_list(),
                marker="x",
                color="black",
                zorder=3,
                label="level beyond the data",
            )
            sub.legend(fontsize=7, loc="lower right")
        sub.margins(x=0.01)
    fig.tight_layout()
    return fig


def plan_allocation(p: Plan) -> Any:
    """Left: each channel's spend over the horizon, the run rate's against the plan's, with the
    spread of the optimal spend over the posterior draws (each solved alone) and the share of draws
    whose optimum spends more than the run rate. Right: the planned spend per period (flighting)."""
    plt = _pyplot()
    a = p.allocation()
    d = p.decision()
    channels = a["channel"].unique(maintain_order=True).to_list()
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 1.8 + 0.6 * max(4, len(channels))), width_ratios=[1.2, 1])
    y = list(range(len(channels)))
    planned, current = [], []
    for ch in channels:
        rows = a.filter(pl.col("channel") == ch)
        planned.append(rows["spend"].sum())
        current.append(rows["current_spend"].sum())
    h = 0.38
    left.barh([v + h / 2 for v in y], current, height=h, color="#b9b4aa", label="run rate")
    left.barh([v - h / 2 for v in y], planned, height=h, color="C0", label="plan")
    if d.height:
        dd = {r["channel"]: r for r in d.iter_rows(named=True)}
        for i, ch in enumerate(channels):
            r = dd.get(ch)
            if r is None or r["optimal_lower"] is None:
                continue
            left.plot([r["optimal_lower"], r["optimal_upper"]], [i - h / 2] * 2, color="black", lw=1.2)
            left.plot([r["optimal"]], [i - h / 2], marker="|", color="black", ms=9)
            left.annotate(
                f"grows in {r['probability_grow']:.0%} of draws",
                (max(planned[i], current[i], r["optimal_upper"]), i),
                xytext=(4, 0),
                textcoords="offset points",
                va="center",
                fontsize=7,
            )
        left.plot([], [], color="black", lw=1.2, label=f"optimal spend over the draws ({p.level:.0%})")
    left.set_yticks(y, channels)
    left.invert_yaxis()
    left.xaxis.set_major_formatter(_thousands())
    left.set_xlabel(f"spend over the {p.periods} periods (money)")
    left.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, frameon=False)
    left.set_title(f"Plan against the run rate (budget {p.budget:,.0f})", fontsize=10)
    left.margins(x=0.25)
    for i, ch in enumerate(channels):
        rows = a.filter(pl.col("channel") == ch).sort("period")
        right.plot(
            rows["period"].to_list(), rows["spend"].fill_null(0.0).to_list(), marker="o", ms=3, color=f"C{i}", label=ch
        )
    right.set_xlabel("period")
    right.set_ylabel("planned spend per period")
    right.yaxis.set_major_formatter(_thousands())
    right.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=min(4, len(channels)), frameon=False)
    right.set_title("Flighting", fontsize=10)
    fig.tight_layout()
    return fig


def plan_curves(p: Plan, points: int = 60) -> Any:
    """Each KPI and channel's steady-state response (contribution per period against the level held
    per period) with its band: the dot marks the run rate, the cross the plan's average level; right of
    the dotted line (the largest level observed) the curve is an extrapolation, shaded."""
    plt = _pyplot()
    c = p.curves(points=points)
    a = p.allocation()
    panels = c.select("kpi", "channel").unique(maintain_order=True).rows()
    cols = min(len(panels), 3)
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.4 * cols, 3.3 * rows), squeeze=False)
    for i, (kpi, ch) in enumerate(panels):
        ax = axes[i // cols][i % cols]
        d = c.filter((pl.col("kpi") == kpi) & (pl.col("channel") == ch))
        x = d["level"].to_list()
        mean = d["expected"].to_list()
        ax.plot(x, mean, color="C0")
        if d["lower"].null_count() == 0:
            ax.fill_between(x, d["lower"].to_list(), d["upper"].to_list(), color="C0", alpha=0.25)
        top = d["observed"][0]
        ax.axvspan(top, max(x), color="#f3efe6", zorder=0)
        ax.axvline(top, color="grey", ls=":", lw=1, label="largest observed")
        rows_ch = a.filter(pl.col("channel") == ch)
        for at, marker, label in (
            (rows_ch["current"].mean(), "o", "run rate"),
            (rows_ch["volume"].mean(), "X", "plan (average period)"),
        ):
            ax.plot(
                [at], [_interpolate(x, mean, at)], marker=marker, color="C3", ms=7, ls="none", label=label, zorder=3
            )
        ax.set_title(f"{ch} → {kpi}", fontsize=9)
        kind = rows_ch["kind"][0]
        ax.set_xlabel("spend per period" if kind == "media" else "volume per period")
        ax.set_ylabel(f"{kpi} per period")
        ax.xaxis.set_major_formatter(_thousands())
        ax.xaxis.set_major_locator(_ticks(4))
        if i == 0:
            ax.legend(fontsize=7, loc="lower right")
    for j in range(len(panels), rows * cols):
        axes[j // cols][j % cols].set_visible(False)
    fig.suptitle("Response per period at steady levels; shaded: beyond the largest level observed", fontsize=9)
    fig.tight_layout()
    return fig


def plan_outcome(p: Plan) -> Any:
    """Each goal's contribution over the horizon under the plan, over the posterior draws (a
    histogram), with its mean and interval, and the run rate's mean for reference."""
    plt = _pyplot()
    draws = p.outcome_draws()
    o = p.outcome()
    diff = p.compare()
    kpis = [k for k in o["kpi"].to_list() if k != "value"]
    fig, axes = plt.subplots(1, len(kpis), figsize=(5.2 * len(kpis), 3.4), squeeze=False)
    for i, k in enumerate(kpis):
        ax = axes[0][i]
        v = draws.filter(pl.col("kpi") == k)["value"].to_list()
        ax.hist(v, bins=40, color="C0", alpha=0.6)
        r = o.filter(pl.col("kpi") == k).row(0, named=True)
        ax.axvline(r["expected"], color="C0", lw=1.5, label="plan: mean")
        if r["lower"] is not None:
            ax.axvspan(r["lower"], r["upper"], color="C0", alpha=0.12, label=f"plan: {p.level:.0%} interval")
        now = r["expected"] - diff.filter(pl.col("kpi") == k)["expected"][0]
        ax.axvline(now, color="#7a7368", ls="--", lw=1.2, label="run rate: mean")
        if p.probability is not None:
            ax.set_title(f"{k}: reached in {p.probability:.0%} of draws", fontsize=10)
        else:
            ax.set_title(k, fontsize=10)
        ax.set_xlabel(f"{k} over the {p.periods} periods (planned channels)")
        ax.set_ylabel("draws")
        ax.xaxis.set_major_formatter(_thousands())
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def mmm_response(
    fit: MMMFit, points: int = 100, max_multiple: float = 1.5, planned: dict[str, float] | None = None
) -> Any:
    """Each channel's steady-state response (contribution per period against its level per period),
    with the interval band, one panel per channel. The dot marks the current level (the average
    period), a cross the ``planned`` level where one is given (``{channel: level per period}``); right
    of the dotted line (the largest level observed) the curve is an extrapolation, shaded."""
    plt = _pyplot()
    r = fit.response_curves(points=points, max_multiple=max_multiple)
    channels = r["channel"].unique(maintain_order=True).to_list()
    planned = dict(planned or {})
    unknown = sorted(set(planned) - set(channels))
    if unknown:
        from .exceptions import ParameterError

        raise ParameterError(f"`planned` names channels the fit does not have: {', '.join(unknown)}")
    cols = min(len(channels), 3)
    rows = (len(channels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.4 * cols, 3.4 * rows), squeeze=False)
    kinds = {ch: k for ch, k in fit.summary().select("channel", "kind").iter_rows()}
    levels = {ch: {"mean": mean, "max": top} for ch, mean, top in fit._inner.channel_levels()}
    for i, ch in enumerate(channels):
        ax = axes[i // cols][i % cols]
        d = r.filter(pl.col("channel") == ch)
        x = d["x"].to_list()
        mean = d["mean"].to_list()
        ax.plot(x, mean, color="C0", label="response")
        if d["lower"].null_count() == 0:
            ax.fill_between(x, d["lower"].to_list(), d["upper"].to_list(), color="C0", alpha=0.25)
        observed_max = levels[ch]["max"]
        ax.axvspan(observed_max, max(x), color="#f3efe6", zorder=0)
        ax.axvline(observed_max, color="grey", ls=":", lw=1, label="largest observed period")
        for at, marker, label in (
            (levels[ch]["mean"], "o", "current (average period)"),
            (planned.get(ch), "X", "planned"),
        ):
            if at is None:
                continue
            y = _interpolate(x, mean, at)
            ax.plot([at], [y], marker=marker, color="C3", ms=7, ls="none", label=label, zorder=3)
        ax.set_title(ch, fontsize=10)
        ax.set_xlabel("spend per period" if kinds.get(ch) == "media" else "volume per period")
        ax.set_ylabel(f"{fit.model.target} per period")
        ax.xaxis.set_major_formatter(_thousands())
        ax.xaxis.set_major_locator(_ticks(4))
        if i == 0:
            ax.legend(fontsize=7, loc="lower right")
    for j in range(len(channels), rows * cols):
        axes[j // cols][j % cols].set_visible(False)
    fig.suptitle(
        "Response per period at steady levels; shaded: beyond the largest period observed (extrapolation)", fontsize=9
    )
    fig.tight_layout()
    return fig


def _interpolate(xs: list[float], ys: list[float], at: float) -> float:
    """ys at `at` by linear interpolation between the curve's points (the last value beyond them)."""
    for (x0, y0), (x1, y1) in zip(zip(xs, ys, strict=True), zip(xs[1:], ys[1:], strict=True), strict=False):
        if x0 <= at <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (at - x0) / (x1 - x0)
    return ys[-1]


def _ticks(n: int) -> Any:
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(nbins=n, min_n_ticks=2)


def rollout_event_study(
    effect: Any, level: int = 1, title: str | None = None, unit: str = "outcome per unit and period"
) -> Any:
    """The event study of a rollout: the effect by periods since treatment, with the simultaneous band
    (shaded: every point's band holds at once at the chosen level) and pointwise intervals (bars).
    Points before treatment (grey) are the pre-trend check: their band should hold zero."""
    plt = _pyplot()
    es = effect.event_study().filter(pl.col("level") == level).sort("event_time")
    if es.height == 0:
        raise ValueError(f"no event-study rows for level {level}")
    e = es["event_time"].to_list()
    fig, ax = plt.subplots(figsize=(9, 4.2))
    ax.fill_between(
        e,
        es["lower"].to_list(),
        es["upper"].to_list(),
        color="#4C72B0",
        alpha=0.18,
        step=None,
        label="simultaneous band",
    )
    pre = es.filter(pl.col("event_time") < 0)
    post = es.filter(pl.col("event_time") >= 0)
    for part, color, label in (
        (pre, "#7f7f7f", "before treatment (pre-trend check)"),
        (post, "#4C72B0", "after treatment"),
    ):
        if part.height:
            x = part["event_time"].to_list()
            y = part["effect"].to_list()
            lo = [a - b for a, b in zip(y, part["pointwise_lower"].to_list(), strict=True)]
            hi = [b - a for a, b in zip(y, part["pointwise_upper"].to_list(), strict=True)]
            ax.errorbar(x, y, yerr=[lo, hi], fmt="o", ms=3.5, color=color, elinewidth=0.8, capsize=0, label=label)
    ax.axhline(0.0, color="black", lw=0.8)
    ax.axvline(-0.5, color="black", lw=0.6, ls=":")
    ax.set_xlabel("periods since treatment")
    ax.set_ylabel(f"effect ({unit})")
    conf = effect.options.get("level", 0.95)
    ax.set_title(title or f"Event study, level {level}: effect by periods since treatment ({conf:.0%} bands)")
    ax.legend(loc="upper left", fontsize=8, framealpha=0.9)
    ax.margins(x=0.01)
    fig.tight_layout()
    return fig
