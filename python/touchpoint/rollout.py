"""Programme rollouts: did a treatment that reached units at different times (employees trained in
waves, belt levels, regions switched on one after another) change their outcome?

The estimator is Callaway & Sant'Anna (2021): group-time average effects on the treated, ATT(g, t),
for each cohort g (units first treated in period g) and period t, against never-treated units or
also units not yet treated, doubly robust when covariates are given, aggregated by event time,
cohort and period, with standard errors from influence functions and simultaneous bands from a
multiplier bootstrap. Everything is computed in Rust (``touchpoint-panel``); see ``docs/rollouts.md``.

>>> import touchpoint as tp
>>> sim = tp.simulate_programme(employees=1_000, seed=1)
>>> r = tp.rollout_effect(sim.panel, unit="employee", time="week", outcome="value", cohort="cohort")
>>> r.summary()                                                   # doctest: +SKIP
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

import polars as pl

from . import _touchpoint
from ._frames import as_polars, for_rust, is_file_path
from ._progress import ProgressLine
from .exceptions import ParameterError

__all__ = ["RolloutEffect", "rollout_effect", "ProgrammeSimulation", "simulate_programme"]

_CONTROLS = {"never": "never_treated", "not_yet": "not_yet_treated"}
_ESTIMANDS = {"dr": "doubly_robust", "reg": "outcome_regression"}


class RolloutEffect:
    """The effects of a staggered rollout (see :func:`rollout_effect`). Tables are polars frames;
    ``level`` is the treatment level (1 for a single treatment)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def group_time(self) -> pl.DataFrame:
        """Every group-time effect: level, cohort, time, event_time, base (the period the change is
        measured from), effect, se, lower, upper (simultaneous band over the level's cells),
        treated_units, comparison_units; with ``levels="step"``, previous_cohort after cohort (the
        period the cell's units reached the level below)."""
        return self._inner.table("group_time")

    def event_study(self) -> pl.DataFrame:
        """Effects by periods since treatment (negative: before it, the pre-trend check): level,
        event_time, effect, se, lower, upper (simultaneous band over event times), pointwise_lower,
        pointwise_upper, p_value."""
        return self._inner.table("event_study")

    def by_cohort(self) -> pl.DataFrame:
        """Effects per cohort (the mean of its post-treatment cells): level, cohort, effect, se, lower,
        upper (simultaneous over cohorts), pointwise_lower, pointwise_upper, p_value."""
        return self._inner.table("by_cohort")

    def by_period(self) -> pl.DataFrame:
        """Effects per calendar period (cohort-size weighted): level, time, effect, se, lower, upper
        (simultaneous over periods), pointwise_lower, pointwise_upper, p_value."""
        return self._inner.table("by_period")

    def summary(self) -> pl.DataFrame:
        """The overall effect per aggregation: level, aggregation, effect, se, lower, upper, p_value.
        ``simple`` weights post-treatment cells by cohort size; ``event`` is the mean of the
        non-negative event-time effects (R ``did``'s dynamic aggregation); ``group`` weights the
        cohorts' effects by size; ``calendar`` is the mean over periods. Intervals are pointwise."""
        return self._inner.table("summary")

    def cohorts(self) -> pl.DataFrame:
        """Units per cohort and level (cohort null: never treated at that level)."""
        return self._inner.table("cohorts")

    @property
    def warnings(self) -> list[str]:
        """What the reader should know: small cohorts, pre-trends that exclude zero, cells left out
        (no comparison unit left, overlap), units treated after the panel."""
        return self._inner.warnings()

    @property
    def options(self) -> dict[str, Any]:
        """The options used (comparison, estimand, level, bootstrap, seed, min_cohort_units, levels)."""
        return json.loads(self._inner.options())

    def plot(self, level: int = 1, title: str | None = None, unit: str = "outcome per unit and period") -> Any:
        """The event-study plot: effects by periods since treatment with simultaneous bands (shaded)
        and pointwise intervals (bars); pre-treatment points in grey. Returns the matplotlib Figure."""
        from .plotting import rollout_event_study

        return rollout_event_study(self, level=level, title=title, unit=unit)

    def __repr__(self) -> str:
        units, periods, clusters = self._inner.shape()
        s = self.summary().filter(pl.col("aggregation") == "simple")
        parts = [
            f"level {r['level']}: {r['effect']:.4g} [{r['lower']:.4g}, {r['upper']:.4g}]"
            for r in s.iter_rows(named=True)
        ]
        return f"RolloutEffect({units:,} units x {periods} periods; overall {'; '.join(parts)})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_from_json, (self._inner.to_json(),))


def _from_json(text: str) -> RolloutEffect:
    return RolloutEffect(_touchpoint.RolloutEffect.from_json(text))


def _read(panel: Any) -> pl.DataFrame:
    if is_file_path(panel):
        from .journeys import _read as read_table

        return read_table(panel, "panel")
    return as_polars(panel, "panel")


def rollout_effect(
    panel: Any,
    unit: str,
    time: str,
    outcome: str,
    cohort: str | None = None,
    control: Literal["never", "not_yet"] | None = None,
    covariates: list[str] | None = None,
    level: float | None = None,
    seed: int | None = None,
    *,
    treatment: str | None = None,
    cluster: str | None = None,
    estimand: Literal["dr", "reg"] | None = None,
    bootstrap: int | None = None,
    min_cohort_units: int | None = None,
    levels: Literal["reached", "step"] | None = None,
    progress: bool = True,
) -> RolloutEffect:
    """The effect of a staggered rollout on an outcome (Callaway & Sant'Anna 2021).

    Options left at ``None`` take the Rust defaults (``touchpoint.rollout.defaults()``): comparison
    with never-treated units, doubly robust, level 0.95, 999 bootstrap draws, seed 0, levels reached.

    Args:
        panel: one row per unit and period (a balanced panel): a polars or pandas DataFrame or a
            CSV/Parquet file.
        unit: the unit id column (whole numbers or text).
        time: the period column (whole numbers, or dates).
        outcome: the outcome column (any number: value credited, shares, hires referred, ...).
        cohort: the column of each unit's first treated period, constant within a unit (0 or null:
            never treated). Give this or ``treatment``.
        control: ``"never"`` (never-treated units) or ``"not_yet"`` (also units not yet treated).
        covariates: time-invariant columns for conditional parallel trends.
        level: confidence level of intervals and bands.
        seed: seed of the bootstrap.
        treatment: instead of ``cohort``, the treatment level per row (0, 1, 2, ...: belt levels);
            it must not fall within a unit. Each level is estimated as ``levels`` says.
        cluster: a time-invariant column to cluster standard errors by (teams, offices).
        estimand: ``"dr"`` (doubly robust) or ``"reg"`` (outcome regression); the same without
            covariates.
        bootstrap: multiplier-bootstrap draws for simultaneous bands (0: pointwise only).
        min_cohort_units: cohorts smaller than this get a warning.
        levels: with ``treatment``: ``"reached"`` (the effect of reaching each level, against units
            not (yet) at it, whatever lower level they hold) or ``"step"`` (the effect of stepping
            up to a level from the one below: within the units that reached the level below in the
            same period, those that go on against those that stay, never or not yet); with
            ``"step"`` ``group_time()`` has a ``previous_cohort`` column.
        progress: show a progress line on stderr for long runs.

    Raises:
        InputError: a duplicated (unit, period), a missing one (the panel must be balanced), a unit
            treated in or before the first period, a cohort that is not a period, a treatment that
            reverts, a cohort that changes within a unit, no comparison units.
        ColumnError: a missing column, or one of the wrong type.
        ParameterError: an option out of its domain.
    """
    if (cohort is None) == (treatment is None):
        raise ParameterError("give exactly one of `cohort` (first treated period) and `treatment` (level per row)")
    options: dict[str, Any] = {}
    if control is not None:
        if control not in _CONTROLS:
            raise ParameterError(f"`control` must be 'never' or 'not_yet', got {control!r}")
        options["comparison"] = _CONTROLS[control]
    if estimand is not None:
        if estimand not in _ESTIMANDS:
            raise ParameterError(f"`estimand` must be 'dr' or 'reg', got {estimand!r}")
        options["estimand"] = _ESTIMANDS[estimand]
    for name, value in (
        ("level", level),
        ("seed", seed),
        ("bootstrap", bootstrap),
        ("min_cohort_units", min_cohort_units),
    ):
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ParameterError(f"`{name}` must be a number, got {value!r}")
            options[name] = value
    if levels is not None:
        options["levels"] = levels
    covariates = list(covariates or [])
    df = _read(panel)
    df = for_rust(df, [unit, time, outcome, cohort, treatment, cluster, *covariates])
    inner = _touchpoint.rollout_effect(
        df,
        unit,
        time,
        outcome,
        cohort,
        treatment,
        covariates,
        cluster,
        json.dumps(options),
        ProgressLine() if progress else None,
    )
    return RolloutEffect(inner)


def defaults() -> dict[str, Any]:
    """The default options of :func:`rollout_effect`, from Rust (their one owner)."""
    return json.loads(_touchpoint.rollout_defaults())


@dataclass(frozen=True)
class ProgrammeSimulation:
    """A simulated advocacy programme with known effects (see :func:`simulate_programme`)."""

    panel: pl.DataFrame
    """employee, week, cohort (first trained week, 0 never), level (0, 1, 2 in that week), shares,
    value."""
    truth: pl.DataFrame
    """level, cohort, week, event_time, employees, shares, value: the true effect per
    employee-week; level 1 is the programme's effect on its cohorts from the first training on,
    level 2 the step to the second level against staying at level 1."""
    naive_value: float
    """Mean value per employee-week of trained employees in trained weeks minus never-trained ones."""
    naive_shares: float
    """The same for shares."""
    params: dict[str, Any]
    """The parameters used."""
    naive_second_value: float = 0.0
    """Mean value per employee-week of level-2 employees minus employees at level 1 alone in the
    same weeks (0 without a second level)."""


def simulate_programme(
    employees: int | None = None, weeks: int | None = None, seed: int | None = None, **params: Any
) -> ProgrammeSimulation:
    """An advocacy programme with a known effect: employees whose keenness sets how much they share,
    trained in waves (the keenest volunteer first); training raises their share rate and each
    share's value by amounts that build over the weeks after it. The truth per cohort and week is
    exact; the naive trained-versus-untrained difference is reported beside it.

    Args:
        employees, weeks, seed: the panel's size and the seed (defaults from Rust: 2,000, 52, 0).
        **params: any other parameter (waves, trained, selection, shares, spread, seasonality,
            share_lift, value_lift, build, value_per_share, noise; a second level with
            second_waves, second_trained, second_gap, second_share_lift, second_value_lift); see
            ``docs/rollouts.md``.
    """
    given = dict(params)
    for name, value in (("employees", employees), ("weeks", weeks), ("seed", seed)):
        if value is not None:
            given[name] = value
    panel, truth, naive_value, naive_shares, naive_second, used = _touchpoint.simulate_programme(json.dumps(given))
    return ProgrammeSimulation(panel, truth, naive_value, naive_shares, json.loads(used), naive_second)
