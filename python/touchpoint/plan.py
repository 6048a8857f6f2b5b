"""Budget plans across goals: how to spread money (paid media) and staff time (organic work, priced
by a unit cost) over channels and the coming periods so that every goal, valued in money, gains the
most; or the least money that reaches a target with a given probability. With how sure the plan is.

The planning is done in Rust (``touchpoint_mmm::plan``); this module checks arguments, passes them,
and turns the results into polars frames and plots.

>>> fits = {"tickets_deflected": fit_t, "hires": fit_h}  # doctest: +SKIP
>>> p = tp.plan(fits, goals=goals, periods=13, unit_costs={"employee_shares": 4.0})  # doctest: +SKIP
>>> p.allocation()  # doctest: +SKIP
"""

from __future__ import annotations

import html
import json
import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from . import _touchpoint
from ._checks import whole
from ._progress import ProgressLine
from .exceptions import ParameterError
from .goals import GoalBook
from .mmm import MMMFit, _flat

__all__ = ["plan", "Plan"]


def _number(name: str, v: Any, *, positive: bool = False) -> float:
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(float(v)):
        raise ParameterError(f"`{name}` must be a finite number, got {v!r}")
    if positive and float(v) <= 0:
        raise ParameterError(f"`{name}` must be > 0, got {v!r}")
    return float(v)


def _names(name: str, v: Any) -> list[str]:
    if v is None:
        return []
    if isinstance(v, str) or not isinstance(v, Sequence) or not all(isinstance(x, str) for x in v):
        raise ParameterError(f"`{name}` must be a list of channel names, got {v!r}")
    return list(v)


def _bounds(bounds: Any) -> dict[str, dict[str, float | None]]:
    if bounds is None:
        return {}
    if not isinstance(bounds, Mapping):
        raise ParameterError(f"`bounds` must be a dict of channel -> (min, max) per period, got {bounds!r}")
    out: dict[str, dict[str, float | None]] = {}
    for ch, b in bounds.items():
        if isinstance(b, numbers.Real) and not isinstance(b, bool):
            level = _number(f"bounds[{ch!r}]", b)
            out[ch] = {"min": level, "max": level}
        elif isinstance(b, Sequence) and not isinstance(b, str) and len(b) == 2:
            lo = 0.0 if b[0] is None else _number(f"bounds[{ch!r}] min", b[0])
            hi = None if b[1] is None else _number(f"bounds[{ch!r}] max", b[1])
            out[ch] = {"min": lo, "max": hi}
        else:
            raise ParameterError(
                f"`bounds[{ch!r}]` = {b!r}: give (min, max) per period (None for no limit), or one number to fix it"
            )
    return out


def _risk(risk: Any) -> Any:
    if risk == "mean":
        return "mean"
    if isinstance(risk, numbers.Real) and not isinstance(risk, bool) and 0 < float(risk) < 1:
        return {"quantile": float(risk)}
    raise ParameterError(f'`risk` is "mean" or a quantile of the value in (0, 1) (e.g. 0.1), got {risk!r}')


def plan(
    fits: Mapping[str, MMMFit],
    goals: GoalBook,
    budget: float | None = None,
    periods: int = 13,
    unit_costs: Mapping[str, float] | None = None,
    bounds: Mapping[str, Any] | None = None,
    locked: Sequence[str] | None = None,
    flighting: str = "free",
    target: Mapping[str, float] | None = None,
    probability: float = 0.5,
    risk: str | float = "mean",
    level: float = 0.9,
    seed: int = 0,
    decision_draws: int | None = None,
    count_tail: bool = True,
    run_rate_periods: int | None = None,
    progress: bool = True,
) -> Plan:
    """Plans the channels of media-mix fits over the next ``periods`` periods.

    The plan maximises the money value of every goal (the goal book's unit value times each KPI's
    contribution, the tail after the horizon included unless ``count_tail=False``) for the budget, or
    finds the least budget whose plan reaches a ``target`` with the given ``probability`` over the
    posterior draws. Then it solves the same problem on each draw alone to say how sure it is of
    every channel's spend. Formulas: ``docs/plan.md``.

    Args:
        fits: media-mix fits keyed by KPI (each fit's channels may differ; a channel shared by several
            fits is one decision that moves every KPI it drives).
        goals: the :class:`GoalBook` that values each KPI (``unit_value``) and may hold ``unit_costs``.
        budget: money over the horizon; by default the run rate's cost (the same money, placed anew).
        periods: periods ahead (weeks for weekly fits).
        unit_costs: money per unit of an organic channel's volume (per reply, per share); overrides
            the goal book's. Media channels take none: their levels are spend.
        bounds: per channel, ``(min, max)`` level per period (``None`` for no limit), or one number to
            hold it fixed.
        locked: channels held at their run rate.
        flighting: ``"free"`` (every channel's level in every period is a decision, so carryover is
            used) or ``"even"`` (one level per channel over the horizon).
        target: ``{kpi: level}``: the least budget whose plan reaches the KPI's contribution over the
            horizon with ``probability`` (instead of a budget).
        probability: for a target, the share of posterior draws that must reach it.
        risk: ``"mean"``, or a quantile in (0, 1) of the value to maximise (e.g. 0.1, a cautious plan).
        level: the intervals' level.
        seed: chooses the draws of ``decision_draws``.
        decision_draws: how many posterior draws the plan is solved again on (None: all; 0: none).
        count_tail: whether the value counts what the plan adds after the horizon.
        run_rate_periods: how many recent periods make the run rate (default ``periods``).
        progress: a progress line in a terminal for the per-draw solutions.

    Raises:
        ParameterError: a budget the locked channels or the bounds cannot hold, a unit cost for a media
            channel or none for an organic channel the plan may change, a bad option.
        GoalBookError: a KPI the goal book lacks or does not value; a target no plan reaches (with the
            best reachable and its probability).
    """
    if not isinstance(fits, Mapping) or not fits:
        raise ParameterError("`fits` must be a dict of KPI -> MMMFit, e.g. {'tickets_deflected': fit}")
    for k, f in fits.items():
        if not isinstance(f, MMMFit):
            raise ParameterError(f"`fits[{k!r}]` is {type(f).__name__}, not an MMMFit")
    if not isinstance(goals, GoalBook):
        raise ParameterError(f"`goals` must be a tp.GoalBook, got {type(goals).__name__}")
    if isinstance(periods, bool) or not isinstance(periods, int) or periods < 1:
        raise ParameterError(f"`periods` must be a whole number >= 1, got {periods!r}")
    whole("seed", seed, 0)
    whole("decision_draws", decision_draws, 0, optional=True)
    whole("run_rate_periods", run_rate_periods, 1, optional=True)
    if flighting not in ("free", "even"):
        raise ParameterError(f'`flighting` is "free" or "even", got {flighting!r}')
    if unit_costs is not None and not isinstance(unit_costs, Mapping):
        raise ParameterError(f"`unit_costs` must be a dict of channel -> money per unit, got {unit_costs!r}")
    if target is not None and not isinstance(target, Mapping):
        raise ParameterError(f"`target` must be a dict of KPI -> level, got {target!r}")
    options = {
        "budget": None if budget is None else _number("budget", budget),
        "periods": periods,
        "unit_costs": {k: _number(f"unit_costs[{k!r}]", v) for k, v in (unit_costs or {}).items()},
        "bounds": _bounds(bounds),
        "locked": _names("locked", locked),
        "flighting": flighting,
        "target": {k: _number(f"target[{k!r}]", v) for k, v in (target or {}).items()},
        "probability": _number("probability", probability),
        "risk": _risk(risk),
        "count_tail": bool(count_tail),
        "level": _number("level", level),
        "seed": seed,
        "decision_draws": decision_draws,
        "run_rate_periods": run_rate_periods,
    }
    inner = _touchpoint.plan(
        [(k, f._inner) for k, f in fits.items()],
        goals.to_json(),
        json.dumps(options),
        ProgressLine() if progress else None,
    )
    return Plan(inner)


def _estimates(rows: list[dict[str, Any]], nested: Sequence[str], rename: Mapping[str, str]) -> pl.DataFrame:
    df = pl.DataFrame(_flat(rows, nested), infer_schema_length=None)
    casts = [pl.col(c).cast(pl.Float64) for c in df.columns if any(c.startswith(n) for n in nested)]
    return df.with_columns(casts).rename({k: v for k, v in rename.items() if k in df.columns})


class Plan:
    """A budget plan (:func:`plan`): the allocation, the outcome per goal, the plan against the run
    rate, marginal values with the optimality check, and the decision's spread over the draws."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._raw: dict[str, Any] = json.loads(inner.json())
        self.budget: float = self._raw["budget"]
        """The money the plan spends over the horizon."""
        self.periods: int = self._raw["periods"]
        """Periods planned."""
        self.level: float = self._raw["level"]
        """The intervals' level."""
        self.probability: float | None = self._raw["probability"]
        """For a target: the share of draws in which the plan reaches it."""
        self.warnings: list[str] = self._raw["warnings"]
        """Levels beyond those observed, organic channels left out of the budget, a failed check."""
        self.kkt: dict[str, Any] = self._raw["kkt"]
        """The optimality check: multiplier (the common marginal value of the decisions inside their
        bounds), interior_gap, violations, tolerance, holds, iterations, converged."""
        self.decision_draws: int = self._raw["decision_draws"]
        """Draws the decision's spread was computed on."""

    def allocation(self) -> pl.DataFrame:
        """Per channel and period: channel, kind, period (1..periods), volume (the channel's units),
        spend (money; null for an organic channel without a unit cost), current and current_spend
        (the run rate's level and its cost), beyond_observed (the level's factor over the largest the
        fits saw, when above it)."""
        df = pl.DataFrame(self._raw["allocation"], infer_schema_length=None)
        return df.select(
            "channel",
            "kind",
            pl.col("period").cast(pl.Int64),
            pl.col("volume").cast(pl.Float64),
            pl.col("spend").cast(pl.Float64),
            pl.col("current").cast(pl.Float64),
            pl.col("current_spend").cast(pl.Float64),
            pl.col("beyond_observed").cast(pl.Float64),
        )

    def outcome(self) -> pl.DataFrame:
        """Per KPI, then ``value`` (money of every goal together): expected, lower, upper (the planned
        channels' contribution over the horizon, the history's carryover included), tail, tail_lower,
        tail_upper (what the plan adds after the horizon), value, value_lower, value_upper (in
        money)."""
        return _estimates(
            self._raw["outcome"],
            ["horizon", "tail", "value"],
            {"horizon": "expected", "horizon_lower": "lower", "horizon_upper": "upper"},
        )

    def contributions(self) -> pl.DataFrame:
        """Per KPI and channel: expected, lower, upper over the horizon, and the tail's."""
        return _estimates(
            self._raw["contributions"],
            ["horizon", "tail"],
            {"horizon": "expected", "horizon_lower": "lower", "horizon_upper": "upper"},
        )

    def compare(self, current: Any = None) -> pl.DataFrame:
        """The plan minus another, draw by draw, per KPI and ``value``: expected, lower, upper (the
        horizon), tail..., value... (money); the frame's ``spend`` column is the difference of spend
        and ``probability_better`` the share of draws in which the plan's value is larger.

        Args:
            current: None for the run rate; another :class:`Plan`; a frame with channel, period and
                volume (e.g. another plan's ``allocation()``); or ``{channel: [level per period]}``.
        """
        if current is None:
            raw = self._raw["against_current"]
        else:
            raw = json.loads(self._inner.compare_json(json.dumps(_levels(current, self.periods))))
        df = _estimates(
            raw["outcome"],
            ["horizon", "tail", "value"],
            {"horizon": "expected", "horizon_lower": "lower", "horizon_upper": "upper"},
        )
        return df.with_columns(spend=pl.lit(raw["spend"]), probability_better=pl.lit(raw["probability_better"]))

    def marginal(self) -> pl.DataFrame:
        """Per decision: channel, period (0 for an even or a fixed channel's level over the horizon),
        volume, marginal (the objective's gain per extra unit of money: money of value per money, or
        KPI units per money for a target) and status (interior, at_min, at_max, fixed). Decisions
        inside their bounds share one marginal value, ``kkt["multiplier"]``."""
        df = pl.DataFrame(self._raw["marginal"], infer_schema_length=None)
        return df.select(
            "channel",
            pl.col("period").cast(pl.Int64),
            pl.col("volume").cast(pl.Float64),
            pl.col("marginal").cast(pl.Float64),
            "status",
        )

    def decision(self) -> pl.DataFrame:
        """How sure the plan is, per channel: planned and current spend over the horizon, the optimal
        spend over the draws each solved alone (optimal, optimal_lower, optimal_upper) and
        probability_grow, the share of draws whose optimum spends more than the run rate. Empty when
        ``decision_draws=0`` or for a MAP fit."""
        if not self._raw["decision"]:
            return pl.DataFrame(
                schema={
                    "channel": pl.String,
                    "planned": pl.Float64,
                    "current": pl.Float64,
                    "optimal": pl.Float64,
                    "optimal_lower": pl.Float64,
                    "optimal_upper": pl.Float64,
                    "probability_grow": pl.Float64,
                }
            )
        return _estimates(self._raw["decision"], ["optimal"], {})

    def outcome_draws(self) -> pl.DataFrame:
        """Each KPI's contribution over the horizon per posterior draw under the plan (kpi, draw, value)."""
        raw: dict[str, list[float]] = json.loads(self._inner.outcome_draws_json())
        return pl.DataFrame(
            [{"kpi": k, "draw": i, "value": v} for k, vs in raw.items() for i, v in enumerate(vs)],
            schema={"kpi": pl.String, "draw": pl.Int64, "value": pl.Float64},
        )

    def curves(self, points: int = 60, max_multiple: float = 1.2) -> pl.DataFrame:
        """Steady-state response per KPI and channel (a level held for good): kpi, channel, level,
        expected, lower, upper per period, from 0 to ``max_multiple`` times the larger of the planned
        and the largest observed level."""
        whole("points", points, 2)
        rows = json.loads(self._inner.curves_json(points, float(max_multiple)))
        return _estimates(
            rows, ["response"], {"response": "expected", "response_lower": "lower", "response_upper": "upper"}
        )

    def plot(self, kind: str = "allocation") -> Any:
        """``"allocation"`` (planned against current spend per channel), ``"curves"`` (response
        curves with the current and the planned level marked) or ``"outcome"`` (each goal's
        distribution over the draws)."""
        from . import plotting

        if kind == "allocation":
            return plotting.plan_allocation(self)
        if kind == "curves":
            return plotting.plan_curves(self)
        if kind == "outcome":
            return plotting.plan_outcome(self)
        raise ParameterError(f'`kind` is "allocation", "curves" or "outcome", got {kind!r}')

    def __repr__(self) -> str:
        v = self.outcome().filter(pl.col("kpi") == "value").row(0, named=True)
        iv = "" if v["value_lower"] is None else f" [{v['value_lower']:,.0f}, {v['value_upper']:,.0f}]"
        return f"Plan(budget {self.budget:,.0f} over {self.periods} periods, value {v['value']:,.0f}{iv})"

    def _repr_html_(self) -> str:
        o = self.outcome()
        rows = "".join(
            f"<tr><td>{html.escape(r['kpi'])}</td><td>{r['expected']:,.1f}</td>"
            + (f"<td>[{r['lower']:,.1f}, {r['upper']:,.1f}]</td>" if r["lower"] is not None else "<td></td>")
            + f"<td>{r['value']:,.0f}</td></tr>"
            for r in o.iter_rows(named=True)
        )
        warn = "".join(f"<li>{html.escape(w)}</li>" for w in self.warnings)
        return (
            f"<div><b>Plan</b>: budget {self.budget:,.0f} over {self.periods} periods"
            f"<table><tr><th>kpi</th><th>expected</th><th>{self.level:.0%} interval</th><th>value</th></tr>"
            f"{rows}</table>" + (f"<ul>{warn}</ul>" if warn else "") + "</div>"
        )


def _levels(current: Any, periods: int) -> dict[str, list[float]]:
    """Another plan as {channel: [level per period]}."""
    if isinstance(current, Plan):
        current = current.allocation()
    if isinstance(current, Mapping):
        out = {}
        for ch, v in current.items():
            if isinstance(v, numbers.Real) and not isinstance(v, bool):
                out[ch] = [float(v)] * periods
            else:
                out[ch] = [_number(f"current[{ch!r}]", x) for x in v]
        return out
    from ._frames import as_polars

    df = as_polars(current, "current")
    missing = [c for c in ("channel", "period", "volume") if c not in df.columns]
    if missing:
        from .exceptions import ColumnError

        raise ColumnError(f"`current` lacks column(s) {', '.join(missing)}: give channel, period and volume")
    out = {}
    for ch, g in df.sort("period").group_by("channel", maintain_order=True):
        out[str(ch[0])] = [float(x) for x in g["volume"].to_list()]
    return out
