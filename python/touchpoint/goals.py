"""Business goals: KPIs valued in money and owned by functions, costs, social channels; and the
contribution report that values an attribution with them."""

from __future__ import annotations

import html
import json
import math
import numbers
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import polars as pl

from . import _touchpoint
from .attribution import Attribution

__all__ = ["Kpi", "GoalBook", "ContributionReport", "contribution"]


@dataclass(frozen=True)
class Kpi:
    """A goal of the organisation.

    Args:
        name: the KPI's name, as in the journeys.
        function: the business function that owns it (marketing, sales, service, hr, ...).
        unit_value: money per conversion; when None the value from the data is used.
        unit: display unit, e.g. ``"ticket"``.
    """

    name: str
    function: str = "unassigned"
    unit_value: float | None = None
    unit: str | None = None

    def __post_init__(self) -> None:
        from .exceptions import GoalBookError

        for arg in ("name", "function", "unit"):
            v = getattr(self, arg)
            if not isinstance(v, str) and not (arg == "unit" and v is None):
                raise GoalBookError(f"Kpi `{arg}` = {v!r} ({type(v).__name__}): expected text")
        u = self.unit_value
        if u is not None:
            # numpy's scalars are numbers too; a bool is not a money value.
            if isinstance(u, bool) or not isinstance(u, numbers.Real):
                raise GoalBookError(f"kpi `{self.name}`: `unit_value` = {u!r} ({type(u).__name__}) must be a number")
            u = float(u)
            # JSON carries no NaN or infinity: the goal book's own rule, said here in its words.
            if not math.isfinite(u):
                raise GoalBookError(f"kpi `{self.name}`: `unit_value` = {u} must be finite and >= 0")
            object.__setattr__(self, "unit_value", u)


@dataclass(frozen=True)
class GoalBook:
    """The KPIs, the costs of the analysis window per player, and the social channels.

    Args:
        kpis: the KPIs (names unique).
        costs: cost per player name (channel, campaign, actor, ...) for the analysis window.
        social: channel names that count as social.
        unit_costs: money per unit of an organic channel's volume (per care reply, per employee
            share), so that :func:`touchpoint.plan` can weigh staff time against paid media.

    Raises:
        GoalBookError: a KPI without a name or defined twice, a negative unit value or cost.

    Example:
        >>> goals = tp.GoalBook([tp.Kpi("sales", function="sales")], costs={"search": 5000.0})
    """

    kpis: Sequence[Kpi]
    costs: Mapping[str, float] = field(default_factory=dict)
    social: Sequence[str] = ()
    unit_costs: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from .exceptions import GoalBookError

        # A string is a sequence of letters: `social="facebook"` would name f, a, c, ... as social.
        for arg in ("kpis", "social"):
            v = getattr(self, arg)
            if isinstance(v, (str, bytes)) or not isinstance(v, Iterable) or isinstance(v, Mapping):
                raise GoalBookError(f"GoalBook `{arg}` = {v!r}: expected a list (e.g. [{v!r}])")
        if not isinstance(self.costs, Mapping):
            raise GoalBookError(f"GoalBook `costs` = {self.costs!r}: expected a dict of cost per player")
        if not isinstance(self.unit_costs, Mapping):
            raise GoalBookError(
                f"GoalBook `unit_costs` = {self.unit_costs!r}: expected a dict of money per unit per channel"
            )
        kpis = tuple(self.kpis)
        for i, k in enumerate(kpis):
            if not isinstance(k, Kpi):
                raise GoalBookError(f"GoalBook `kpis[{i}]` = {k!r} is not a Kpi: write tp.Kpi({k!r}, ...)")
        social = tuple(self.social)
        for i, c in enumerate(social):
            if not isinstance(c, str):
                raise GoalBookError(f"GoalBook `social[{i}]` = {c!r}: expected a channel's name")
        object.__setattr__(self, "kpis", kpis)
        object.__setattr__(self, "costs", _costs(self.costs, "player"))
        object.__setattr__(self, "unit_costs", _costs(self.unit_costs, "channel"))
        object.__setattr__(self, "social", social)
        _touchpoint.validate_goal_book(self.to_json())

    def to_json(self) -> str:
        """The goal book as JSON (the format `load` reads from .json files)."""
        return json.dumps(
            {
                "kpi": [asdict(k) for k in self.kpis],
                "costs": dict(self.costs),
                "social": list(self.social),
                "unit_costs": dict(self.unit_costs),
            }
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> GoalBook:
        """Loads a goal book from a TOML or JSON file.

        Raises:
            GoalBookError: the file is malformed; the message names the file and key.
        """
        data = json.loads(_touchpoint.load_goal_book(os.fspath(path)))
        return cls(
            kpis=[Kpi(**k) for k in data.get("kpi", [])],
            costs=data.get("costs", {}),
            social=data.get("social", []),
            unit_costs=data.get("unit_costs", {}),
        )

    def __hash__(self) -> int:
        return hash(self.to_json())


def contribution(
    result: Attribution,
    goals: GoalBook,
    costs: Mapping[str, float] | pl.DataFrame | Any = None,
    mmm: Mapping[str, Any] | None = None,
    sources: Mapping[str, str] | None = None,
) -> ContributionReport:
    """Values an attribution with a goal book: money per player and KPI, totals per player across
    functions, touches, value per touch, cost and ROI, social vs non-social totals (by channel).

    Args:
        result: an :class:`Attribution`.
        goals: the :class:`GoalBook`.
        costs: overrides the goal book's costs: a dict, or a DataFrame with a player column and a
            ``cost`` column.
        mmm: KPIs measured without journeys, by media-mix fits: ``{kpi: MMMFit}``, taken over the
            weeks dated in the journeys' observation period (a fit with no week in it is a
            ParameterError; a path table has no period, so the whole series joins, with a warning).
            Each model's report gains those KPIs' credit per channel (rows with ``source == "mmm"``; the fit's baseline,
            controls and trend as ``(baseline)``), valued by the goal book like user-level credit (the
            target's own units count as money when the KPI has no unit value), so a channel's total adds
            its user-level and its media-mix goals. The attribution must be by channel. Intervals pair
            the attribution's resamples with the fit's draws; without resamples they reflect the fit
            only (a warning says so).
        sources: for a KPI both in the attribution and in ``mmm``, which one the report uses
            (``"journeys"`` or ``"mmm"``); such a KPI without a choice is a ParameterError, never
            counted twice.

    Returns:
        A :class:`ContributionReport`.

    Raises:
        GoalBookError: a KPI of the attribution is missing from the goal book, or a cost is negative,
            NaN, null or not a number.
        ColumnError: a costs table without a ``cost`` column or without a player column.

    Example:
        >>> rep = tp.contribution(tp.attribute(j, models=["linear", "shapley"]), goals)  # doctest: +SKIP
        >>> rep.summary()  # doctest: +SKIP
    """
    from .exceptions import ParameterError
    from .mmm import MMMFit

    cost_json = None
    if costs is not None:
        cost_json = json.dumps(_costs(costs, result.by))
    fits = None
    if mmm is not None:
        if not isinstance(mmm, Mapping):
            raise ParameterError("`mmm` maps KPI names to media-mix fits: {'tickets_deflected': fit}")
        fits = []
        for kpi, fit in mmm.items():
            if not isinstance(kpi, str) or not isinstance(fit, MMMFit):
                raise ParameterError(f"`mmm` maps KPI names to MMMFit objects, got {kpi!r}: {type(fit).__name__}")
            fits.append((kpi, fit._inner))
    src_json = None if sources is None else json.dumps(dict(sources))
    return ContributionReport(_touchpoint.contribution(result._inner, goals.to_json(), cost_json, fits, src_json))


def _costs(costs: Any, by: str) -> dict[str, float]:
    """Costs per player from a mapping or a table (a player column, ``by`` or the only other one, and
    ``cost``), every one a finite number >= 0, or a typed error naming what is wrong."""
    from ._frames import as_polars
    from .exceptions import ColumnError, GoalBookError

    if isinstance(costs, Mapping):
        pairs = list(costs.items())
    else:
        df = as_polars(costs, "costs")
        if "cost" not in df.columns:
            raise ColumnError(f"the costs table has no `cost` column; it has: {', '.join(df.columns)}")
        others = [c for c in df.columns if c != "cost"]
        key = by if by in others else (others[0] if len(others) == 1 else None)
        if key is None:
            raise ColumnError(
                f"the costs table needs one player column (`{by}`) next to `cost`; it has: {', '.join(df.columns)}"
            )
        pairs = list(zip(df[key].to_list(), df["cost"].to_list(), strict=True))
    out: dict[str, float] = {}
    for player, cost in pairs:
        if player is None:
            raise GoalBookError(f"costs: a cost of {cost!r} has no player (null {by})")
        if isinstance(cost, bool) or not isinstance(cost, numbers.Real) or not math.isfinite(cost) or cost < 0:
            raise GoalBookError(f"costs: `{player}` = {cost!r} must be a finite number >= 0")
        if str(player) in out:
            raise GoalBookError(
                f"costs: `{player}` is given twice ({out[str(player)]!r} and {cost!r}); give each player's cost once"
            )
        out[str(player)] = float(cost)
    return out


class ContributionReport:
    """An attribution valued with a goal book. ``to_polars()`` is long (one row per model, player and
    KPI); ``summary()`` is per model and player."""

    __slots__ = ("_inner",)

    def __init__(self, inner: _touchpoint.ContributionReport) -> None:
        self._inner = inner

    @property
    def by(self) -> str:
        """The player dimension."""
        return self._inner.by()

    def to_polars(self) -> pl.DataFrame:
        """Columns: model, <by>, kpi, function, conversions, value (money), source (``journeys``, or
        ``mmm`` for a KPI a media-mix fit measures); with intervals also value_lower and value_upper."""
        return self._inner.rows()

    def to_pandas(self) -> Any:
        """:meth:`to_polars` as pandas."""
        return self.to_polars().to_pandas()

    def summary(self) -> pl.DataFrame:
        """Per model and player: value, value_share, touches, value_per_touch, cost, roi (+ social by
        channel). ROI = (value - cost) / cost, null at zero or unknown cost. For a model with a baseline
        (``additive_hazard``) the ``(baseline)`` row is what would have happened anyway: no share, cost or
        ROI, and in no value_share denominator, so the players' value and ROI are incremental. When the
        attribution has intervals, also value_lower, value_upper, value_share_lower, value_share_upper,
        roi_lower, roi_upper: each resample of the attribution valued the same way, so the money value,
        its share and ROI get intervals from the same draws."""
        return self._inner.summary()

    def social(self) -> pl.DataFrame:
        """Social vs non-social totals per model: model, social, value, value_share, cost, roi (and their
        intervals, as in :meth:`summary`, when the attribution has them)."""
        return self._inner.social()

    def by_goal(self) -> pl.DataFrame:
        """Per model and goal (KPI): model, kpi, function, source, ``conversions`` and ``value`` that the
        players added in all (credited, for a model without a baseline), ``baseline`` and
        ``baseline_value``, what would have happened anyway (null without a baseline). Goals are never
        added into one money figure here. With intervals: ``conversions_lower/upper``,
        ``value_lower/upper``, ``baseline_lower/upper``, each the interval of the resamples' (or
        posterior draws') totals, not a sum of the players' intervals."""
        return self._inner.goals()

    def by_function(self) -> pl.DataFrame:
        """Value per model, player and business function."""
        return self.to_polars().group_by(["model", self.by, "function"], maintain_order=True).agg(pl.col("value").sum())

    @property
    def warnings(self) -> list[str]:
        """Things to know (costs for players that never appear, KPIs without conversions...)."""
        return self._inner.warnings()

    def plot(self, model: str | None = None) -> Any:
        """Stacked bars of value by player and function for one model (the first by default).

        Returns:
            The matplotlib Figure (``plt.show()`` is not called).
        """
        from .plotting import contribution_bars

        return contribution_bars(self, model)

    def to_dict(self) -> dict[str, Any]:
        """The whole report as plain Python data."""
        return json.loads(self._inner.to_json())

    def __reduce__(self) -> tuple[Any, ...]:
        return (_report_from_json, (self._inner.to_json(),))

    def _repr_html_(self) -> str:
        s = self.summary()
        models = s["model"].unique(maintain_order=True).to_list()
        kpis = self.to_polars()["kpi"].unique(maintain_order=True).to_list()
        title = f"<b>Contribution report</b> by {html.escape(self.by)}"
        parts = [f"<p>{title}; KPIs: {html.escape(', '.join(kpis))}</p>"]
        for m in models:
            rows = s.filter(pl.col("model") == m).sort("value", descending=True)
            body = ""
            bounds = {c for c in rows.columns if c.endswith(("_lower", "_upper"))}
            shown = [c for c in rows.columns if c != "model" and c not in bounds]
            head = "".join(f"<th>{html.escape(c)}</th>" for c in shown)
            for r in rows.iter_rows(named=True):
                cells = "".join(f"<td>{_fmt_interval(r, c)}</td>" for c in shown)
                body += f"<tr>{cells}</tr>"
            parts.append(f"<p>{html.escape(m)}</p><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        return "".join(parts)

    def __repr__(self) -> str:
        s = self.summary()
        models, players = s["model"].n_unique(), s[self.by].n_unique()
        return f"ContributionReport(by={self.by!r}, models={models}, players={players})"


def _report_from_json(text: str) -> ContributionReport:
    return ContributionReport(_touchpoint.ContributionReport.from_json(text))


def _fmt_interval(row: dict[str, Any], col: str) -> str:
    """A cell, with its interval when the row has one: ``1,240 [1,105, 1,380]``."""
    lo, hi = row.get(f"{col}_lower"), row.get(f"{col}_upper")
    if row[col] is None or lo is None or hi is None:
        return _fmt(row[col])
    if col == "value_share":
        return f"{row[col]:.1%} [{lo:.1%}, {hi:.1%}]"
    if col == "roi":
        return f"{_fmt(row[col])} [{_fmt(lo)}, {_fmt(hi)}]"
    return f"{row[col]:,.0f} [{lo:,.0f}, {hi:,.0f}]"


def _fmt(v: Any) -> str:
    if v is None:
        return "&ndash;"
    if isinstance(v, float):
        return f"{v:,.4g}" if abs(v) < 1 else f"{v:,.2f}"
    return html.escape(str(v))
