"""The report for the people who decide: one self-contained HTML page (``tp.report``)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import _touchpoint
from .attribution import Attribution
from .exceptions import ParameterError
from .goals import GoalBook, _costs
from .mmm import MMMFit

__all__ = ["Report", "report", "defaults"]


def defaults() -> dict[str, Any]:
    """The report's default options (owned by Rust): title, currency, model, period, population, costs."""
    return dict(json.loads(_touchpoint.report_defaults()))


@dataclass(frozen=True)
class Report:
    """A rendered report.

    Attributes:
        html: the whole page: styles, script and charts inline, nothing fetched from the network.
        path: the file it was written to, when one was named.
        summary: the page's plain-words summary, one sentence per goal.
        warnings: every warning the page lists (the attribution's, the valuation's, its own).
    """

    html: str
    path: Path | None
    summary: list[str]
    warnings: list[str]

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Writes the page to ``path`` (a file; its folder must exist) and returns the path."""
        p = Path(path)
        if p.is_dir():
            raise ParameterError(f"{str(p)!r} is a folder: name the report's file")
        p.write_text(self.html, encoding="utf-8")
        return p

    def _repr_html_(self) -> str:
        # The page in a sandboxed frame, so its styles stay out of the notebook's.
        doc = self.html.replace("&", "&amp;").replace('"', "&quot;")
        style = "width:100%;height:640px;border:1px solid #ddd"
        return f'<iframe srcdoc="{doc}" style="{style}" sandbox="allow-scripts"></iframe>'

    def __repr__(self) -> str:
        where = f", written to {str(self.path)!r}" if self.path else ""
        return f"Report({len(self.html):,} characters{where})"


def report(
    result: Attribution,
    goals: GoalBook,
    path: str | os.PathLike[str] | None = None,
    *,
    mmm: Mapping[str, MMMFit] | None = None,
    breakdowns: Sequence[Attribution] = (),
    title: str | None = None,
    currency: str | None = None,
    model: str | None = None,
    period: tuple[str, str] | None = None,
    population: int | None = None,
    costs: Any = None,
) -> Report:
    """One HTML page that a head of service, sales or HR can open: per business function and goal,
    what each channel (campaign, actor group...) added, with intervals, and what would have happened
    anyway; value and ROI against costs; the media-mix fits' contributions and response curves; the
    experiments that calibrated the numbers; the other models as a comparison; the data's health and
    every warning. Self-contained (no network), tables sortable, charts as inline SVG.

    Options left at ``None`` take the Rust defaults (:func:`touchpoint.reporting.defaults`).

    Args:
        result: the attribution; the goal sections show ``model`` (default: the first model with a
            baseline, the additive-hazard model, else the first). With ``intervals=`` every number
            has an interval; the totals' intervals come from the same resamples (never sums of
            intervals).
        goals: the goal book (functions, unit values, costs).
        path: the file to write (its folder must exist); None writes nothing.
        breakdowns: attributions of the same journeys by other dimensions (campaign, actor group...)
            with the same model: each goal section gains a table per dimension.
        mmm: media-mix fits per KPI name. A KPI the attribution lacks joins the goal sections; every
            fit gets its own section over its own period (a warning says when that period differs
            from the journeys').
        title: the page's title.
        currency: the sign or code money is shown with (``"$"``, ``"EUR"``).
        model: the attribution's model the goal sections show.
        period: ``(start, end)`` as shown; by default the journeys' observation period.
        population: the people at risk; by default the journeys' population.
        costs: overrides the goal book's costs (a dict, or a DataFrame with a player and a ``cost``
            column).

    Returns:
        A :class:`Report` (``.html``, ``.path``, ``.summary``, ``.warnings``; shown inline in Jupyter).

    Raises:
        ParameterError: an unknown model, a bad option.
        GoalBookError: a KPI of the attribution missing from the goal book.
        ReadError: ``path`` is a folder or its folder does not exist.

    Example:
        >>> r = tp.attribute(j, models=[tp.models.AdditiveHazard(), "last_touch"], intervals=0.9)  # doctest: +SKIP
        >>> tp.report(r, goals, "report.html")  # doctest: +SKIP
    """
    if not isinstance(result, Attribution):
        raise ParameterError(f"`result` is an Attribution (from tp.attribute), got {type(result).__name__}")
    if not isinstance(goals, GoalBook):
        raise ParameterError(f"`goals` is a GoalBook, got {type(goals).__name__}")
    given: dict[str, Any] = {}
    for name, value in (("title", title), ("currency", currency), ("model", model), ("population", population)):
        if value is not None:
            given[name] = value
    if period is not None:
        given["period"] = [str(period[0]), str(period[1])]
    if costs is not None:
        given["costs"] = _costs(costs, result.by)
    fits = None
    if mmm is not None:
        if not isinstance(mmm, Mapping) or not all(
            isinstance(k, str) and isinstance(f, MMMFit) for k, f in mmm.items()
        ):
            raise ParameterError("`mmm` maps KPI names to MMMFit objects: {'tickets_deflected': fit}")
        fits = [(k, f._inner) for k, f in mmm.items()]
    extra = list(breakdowns)
    if not all(isinstance(b, Attribution) for b in extra):
        raise ParameterError("`breakdowns` is a list of Attributions (tp.attribute(..., by=...))")
    target = None if path is None else Path(path)
    html, summary, warnings = _touchpoint.report(
        result._inner,
        goals.to_json(),
        fits,
        json.dumps(given),
        None if target is None else str(target),
        [b._inner for b in extra],
    )
    return Report(html=html, path=target, summary=summary, warnings=warnings)
