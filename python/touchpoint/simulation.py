"""The simulator with a known truth, and benchmark runs that score every model against it."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from . import _touchpoint
from ._checks import whole
from ._progress import ProgressLine
from .exceptions import ParameterError, ReadError
from .journeys import Journeys
from .models import LiftTest, Model, to_spec

__all__ = ["Simulation", "simulate", "benchmark", "score", "lift_test", "SCENARIOS"]

SCENARIOS: tuple[str, ...] = tuple(_touchpoint.scenario_names())


@dataclass(frozen=True)
class Simulation:
    """Simulated journeys and their truth.

    Attributes:
        journeys: one journey per conversion event (with the person's exposures in the lookback
            window) plus null journeys, cut by the same window rule as :meth:`Journeys.from_events`,
            with every person's timeline (the observation period is the horizon, the population every
            simulated person).
        truth: per KPI and channel (and a ``(baseline)`` row): removal, shapley, removal_value,
            shapley_value, removal_share, shapley_share, shapley_se, social.
        params: every parameter of the scenario (a dict; ``tp.simulate(toml=...)`` reads them back).
    """

    journeys: Journeys
    truth: pl.DataFrame
    params: dict[str, Any]
    _truth_rows: str = field(default="", repr=False, compare=False)

    @property
    def touches(self) -> pl.DataFrame:
        """The simulated event log's touches (user_id, ts, channel), in the shape
        :meth:`Journeys.from_events` reads."""
        return self.journeys.timelines()[0]

    @property
    def conversions(self) -> pl.DataFrame:
        """The simulated event log's conversions (user_id, ts, kpi, value), one row per conversion."""
        return self.journeys.timelines()[1]

    @property
    def period(self) -> tuple[Any, Any]:
        """The observation period (start, end) as UTC datetimes: the simulated horizon."""
        p = self.journeys.period
        assert p is not None  # simulated journeys always carry timelines
        return p

    @property
    def population(self) -> int:
        """Everybody simulated, including people without any event."""
        return int(self.params["people"])


def _scenario_source(toml: str | os.PathLike[str] | Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(TOML text, JSON text) of a scenario given as TOML text, a TOML file or a dict."""
    if isinstance(toml, Mapping):
        return None, json.dumps(dict(toml))
    if isinstance(toml, str) and ("\n" in toml or "=" in toml):
        return toml, None
    if isinstance(toml, (str, os.PathLike)):
        path = Path(toml)
        if not path.is_file():
            raise ReadError(f"no scenario file {str(path)!r} (toml= takes TOML text, a .toml file or a dict)")
        try:
            return path.read_text(encoding="utf-8"), None
        except (OSError, UnicodeDecodeError) as e:
            raise ReadError(f"cannot read the scenario file {str(path)!r}: {e}") from e
    raise ParameterError(f"toml= takes TOML text, a .toml file or a dict, got {type(toml).__name__}")


def simulate(
    scenario: str = "baseline",
    people: int | None = None,
    seed: int | None = None,
    toml: str | os.PathLike[str] | Mapping[str, Any] | None = None,
    progress: bool = True,
) -> Simulation:
    """Simulates people with known incremental effects (see docs/benchmark.md for the scenarios).

    Args:
        scenario: a built-in scenario (one of :data:`SCENARIOS`: baseline, selection_bias, synergy,
            long_journeys, social_care, many_channels, delayed_response).
        people: number of people (the scenario's default when None).
        seed: seed (the scenario's default when None); the same seed gives the same result, bit for bit.
        toml: a scenario of your own instead of a built-in one: TOML text, a ``.toml`` file, or a dict
            of the same fields (the ``params`` of any simulation is one); see ``docs/simulation.md``
            for the format. Text holding a newline or ``=`` is read as TOML, any other text as a
            file's path.
        progress: show a progress line on stderr when the call takes more than half a second.

    Returns:
        A :class:`Simulation`.

    Raises:
        ParameterError: an unknown scenario or a bad parameter (negative rate, half-life <= 0, ...).

    Example:
        >>> sim = tp.simulate("selection_bias", people=50_000, seed=7)  # doctest: +SKIP
        >>> tp.attribute(sim.journeys, models=["last_touch", "shapley"])  # doctest: +SKIP
    """
    cb = ProgressLine() if progress else None
    whole("people", people, 1, optional=True)
    whole("seed", seed, 0, optional=True)
    text, as_json = (None, None) if toml is None else _scenario_source(toml)
    inner, truth, params, rows = _touchpoint.simulate(scenario, people, seed, text, cb, as_json)
    return Simulation(journeys=Journeys(inner), truth=truth, params=json.loads(params), _truth_rows=rows)


def benchmark(
    scenarios: Sequence[str] = ("baseline", "selection_bias", "synergy"),
    people: int = 100_000,
    seed: int = 7,
    models: Sequence[str | Model] | None = None,
    progress: bool = True,
) -> pl.DataFrame:
    """Scores attribution models against simulated truth, per scenario and KPI.

    Args:
        scenarios: built-in scenario names.
        people: people per scenario.
        seed: seed.
        models: models to score (when None, the simulator's default set: every rule, Markov, Shapley
            and the additive-hazard model with each baseline).
        progress: show a progress line on stderr when the call takes more than half a second.

    Returns:
        scenario, kpi, model, tv_shapley, tv_removal, spearman_shapley, spearman_removal,
        social_share_error (model's social share minus the Shapley truth's).

    Raises:
        ParameterError: an unknown scenario or model.

    Example:
        >>> tp.benchmark(["baseline", "synergy"], people=20_000)  # doctest: +SKIP
    """
    whole("people", people, 1)
    whole("seed", seed, 0)
    specs = [to_spec(m) for m in models] if models else []
    cb = ProgressLine() if progress else None
    return _touchpoint.benchmark(list(scenarios), people, seed, specs, cb)


def lift_test(
    scenario: str = "baseline",
    channel: str = "search",
    kpi: str = "sales",
    people: int = 1_000_000,
    seed: int = 0,
    toml: str | None = None,
    progress: bool = True,
) -> LiftTest:
    """Runs a randomised 50% holdout of one channel on a fresh cohort of a scenario.

    What an analyst gets from a platform's conversion-lift study: the cohort is drawn from a seed
    derived from ``seed`` (so it never shares people with a benchmark or a :func:`simulate` run), the
    channel is held out of the control half, and conversions are counted until its effect has run
    its course. The effect per exposure is the difference in mean conversions divided by the treated
    half's mean exposures, its standard error by the delta method.

    Args:
        scenario: a built-in scenario (see :data:`SCENARIOS`).
        channel: the channel held out.
        kpi: the KPI counted.
        people: people in the cohort (both halves).
        seed: seed from which the cohort's is derived.
        toml: a scenario written in TOML instead of a built-in one (the format: ``docs/simulation.md``).
        progress: show a progress line on stderr when the call takes more than half a second.

    Returns:
        A :class:`LiftTest` for ``tp.models.AdditiveHazard(lift_tests=[...])``.

    Raises:
        ParameterError: an unknown scenario, channel or KPI, too few people or more than 10⁹.

    Example:
        >>> t = tp.lift_test("selection_bias", channel="search", kpi="sales", people=200_000)  # doctest: +SKIP
    """
    whole("people", people, 1)
    whole("seed", seed, 0)
    cb = ProgressLine() if progress else None
    per_exposure, se, _treated, _control, _exposures = _touchpoint.lift_test(
        scenario, channel, kpi, people, seed, toml, cb
    )
    return LiftTest(channel=channel, kpi=kpi, per_exposure=per_exposure, se=se)


def score(result: Any, simulation: Simulation) -> pl.DataFrame:
    """Scores any attribution by channel against any simulation's truth (a built-in scenario, a TOML
    file, a dict): per model and KPI the total variation distance of its shares to the Shapley and the
    removal truth, their Spearman rank correlations, the error of the social share, and the credited
    conversions against the true incremental ones. The columns of :func:`benchmark`.

    Args:
        result: an :class:`Attribution` by channel of the simulation's journeys (or of its touches and
            conversions read with ``from_events``).
        simulation: the :class:`Simulation` whose truth to score against.

    Raises:
        ParameterError: the attribution is not by channel, or the simulation carries no truth rows.

    Example:
        >>> sim = tp.simulate(toml="my_scenario.toml")  # doctest: +SKIP
        >>> tp.score(tp.attribute(sim.journeys, models=["markov", "additive_hazard"]), sim)  # doctest: +SKIP
    """
    from .attribution import Attribution

    if not isinstance(result, Attribution):
        raise ParameterError(f"`result` is an Attribution (from tp.attribute), got {type(result).__name__}")
    if not isinstance(simulation, Simulation) or not simulation._truth_rows:
        raise ParameterError("`simulation` is a Simulation made by tp.simulate")
    return _touchpoint.score(result._inner, json.dumps(simulation.params), simulation._truth_rows)
