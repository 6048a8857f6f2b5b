"""Touchpoint: how every channel, campaign and person contributes to an organisation's goals.

>>> import touchpoint as tp
>>> j = tp.Journeys.from_paths("paths.csv", delimiter=";")          # doctest: +SKIP
>>> r = tp.attribute(j, models=["first_touch", "linear", "markov"])  # doctest: +SKIP
>>> r.to_polars()                                                    # doctest: +SKIP
"""

from __future__ import annotations

from . import models, spark
from ._touchpoint import __version__
from .attribution import Attribution, OrderChoice, attribute, choose_order
from .exceptions import (
    ColumnError,
    GoalBookError,
    InputError,
    ParameterError,
    ReadError,
    TouchpointError,
    UnsupportedError,
)
from .goals import ContributionReport, GoalBook, Kpi, contribution
from .journeys import Journeys
from .mmm import MMM, Comparison, MMMFit, Scenario, WeeklySimulation, simulate_weekly
from .models import LiftTest
from .plan import Plan, plan
from .reporting import Report, report
from .rollout import ProgrammeSimulation, RolloutEffect, rollout_effect, simulate_programme
from .simulation import SCENARIOS, Simulation, benchmark, lift_test, score, simulate

__all__ = [
    "__version__",
    "Journeys",
    "Attribution",
    "OrderChoice",
    "attribute",
    "choose_order",
    "Kpi",
    "GoalBook",
    "ContributionReport",
    "contribution",
    "simulate",
    "benchmark",
    "score",
    "Simulation",
    "SCENARIOS",
    "models",
    "spark",
    "LiftTest",
    "lift_test",
    "MMM",
    "MMMFit",
    "Scenario",
    "Comparison",
    "WeeklySimulation",
    "simulate_weekly",
    "plan",
    "Plan",
    "report",
    "Report",
    "rollout_effect",
    "RolloutEffect",
    "simulate_programme",
    "ProgrammeSimulation",
    "TouchpointError",
    "InputError",
    "ColumnError",
    "ParameterError",
    "UnsupportedError",
    "GoalBookError",
    "ReadError",
]


def __dir__() -> list[str]:
    return sorted(__all__)
