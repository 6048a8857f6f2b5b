"""Attribution models and their parameters.

Each class is a plain record of parameters, checked by the Rust core when it is made (a bad value
raises :class:`touchpoint.ParameterError` at once), serialisable, and accepted by
:func:`touchpoint.attribute` alongside the bare model names (``"markov"``).
"""

from __future__ import annotations

import json as _json
import math as _math
import typing as _typing
from collections.abc import Mapping as _Mapping
from dataclasses import asdict as _asdict
from dataclasses import dataclass as _dataclass
from dataclasses import field as _field
from dataclasses import fields as _fields
from typing import Any, ClassVar, Literal

from . import _touchpoint
from .exceptions import ParameterError as _ParameterError

__all__ = [
    "Model",
    "FirstTouch",
    "LastTouch",
    "LastNonDirect",
    "Linear",
    "PositionBased",
    "TimeDecay",
    "Markov",
    "Shapley",
    "AdditiveHazard",
    "LiftTest",
    "from_spec",
    "to_spec",
]


# Every parameter's default comes from the Rust core, once: the spec of each model with no parameter
# given, filled in by the core.
_DEFAULTS: dict[str, dict[str, Any]] = {
    name: _json.loads(_touchpoint.validate_model(_json.dumps({"model": name}))) for name in _touchpoint.model_names()
}


def _default(model: str, param: str) -> Any:
    return _DEFAULTS[model][param]


@_dataclass(frozen=True)
class Model:
    """Base of the model records. ``name`` is the model's name in results."""

    name: ClassVar[str] = ""

    def __post_init__(self) -> None:
        _check_fields(self)
        _touchpoint.validate_model(self.to_json())

    def params(self) -> dict[str, Any]:
        """The parameters as a dict."""
        return _asdict(self)

    def to_json(self) -> str:
        """The spec the Rust core reads: ``{"model": name, **params}``."""
        return _json.dumps({"model": self.name, **self.params()})


@_dataclass(frozen=True)
class FirstTouch(Model):
    """All credit to the first touch of each converting journey."""

    name: ClassVar[str] = "first_touch"


@_dataclass(frozen=True)
class LastTouch(Model):
    """All credit to the last touch of each converting journey."""

    name: ClassVar[str] = "last_touch"


@_dataclass(frozen=True)
class LastNonDirect(Model):
    """All credit to the last touch whose channel is not direct (the last touch when all are).

    Args:
        direct: channel names that count as direct.
    """

    name: ClassVar[str] = "last_non_direct"
    direct: list[str] = _field(default_factory=lambda: list(_default("last_non_direct", "direct")))

    def __hash__(self) -> int:
        return hash((self.name, tuple(self.direct)))


@_dataclass(frozen=True)
class Linear(Model):
    """Equal credit to every touch (repeats count)."""

    name: ClassVar[str] = "linear"


@_dataclass(frozen=True)
class PositionBased(Model):
    """Fixed shares for the first and last touch, the rest spread over the middle.

    Adobe's U-shape is ``(0.4, 0.4)``, the J-curve ``(0.2, 0.6)``, the inverse J ``(0.6, 0.2)``.
    Two touches split in the ratio ``first : last``; one touch takes everything.

    Args:
        first: share of the first touch, in [0, 1].
        last: share of the last touch, in [0, 1]; ``first + last <= 1``.
    """

    name: ClassVar[str] = "position_based"
    first: float = _default("position_based", "first")
    last: float = _default("position_based", "last")


@_dataclass(frozen=True)
class TimeDecay(Model):
    """Credit halving every ``half_life`` before the conversion.

    Args:
        half_life: a duration such as ``"7d"`` or ``"12h"``, used when journeys carry times.
        half_life_touches: a half-life counted in touches, used when journeys carry no times.
    """

    name: ClassVar[str] = "time_decay"
    half_life: str = _default("time_decay", "half_life")
    half_life_touches: float | None = _default("time_decay", "half_life_touches")


@_dataclass(frozen=True)
class Markov(Model):
    """Exact order-k Markov removal effects (Anderl et al. 2016), solved, not simulated.

    Args:
        order: consecutive touches per state, >= 1.
    """

    name: ClassVar[str] = "markov"
    order: int = _default("markov", "order")


@_dataclass(frozen=True)
class Shapley(Model):
    """Shapley values of a cooperative game per KPI.

    Args:
        game: ``"conversions"`` (Zhao et al. 2018, closed form) or ``"rate"`` (conversion rate of the
            best observed player set; needs null journeys).
        ordered: book credit at the position where each player first appears (conversions game).
        exact: ``None`` exact up to 20 players and sampled above; ``True`` exact or an error;
            ``False`` always sampled.
        samples: permutations drawn when sampling.
        seed: seed of the permutation stream.
        min_support: least weight (conversions + nulls) for a player set to count in the rate game.
    """

    name: ClassVar[str] = "shapley"
    game: Literal["conversions", "rate"] = _default("shapley", "game")
    ordered: bool = _default("shapley", "ordered")
    exact: bool | None = _default("shapley", "exact")
    samples: int = _default("shapley", "samples")
    seed: int = _default("shapley", "seed")
    min_support: float = _default("shapley", "min_support")


@_dataclass(frozen=True)
class LiftTest:
    """A randomised holdout's measure of one player's effect on one KPI (user-level models).

    Not the media-mix kind of lift test (a change in a weekly series): this one is per exposure.

    Args:
        channel: the player tested (a channel, or a player of the dimension the attribution is by).
        kpi: the KPI measured.
        per_exposure: incremental conversions per exposure, counted until the effect has run its course.
        se: its standard error (>= 0).
    """

    channel: str
    kpi: str
    per_exposure: float
    se: float

    def __post_init__(self) -> None:
        _check_fields(self)
        for name in ("per_exposure", "se"):
            v = getattr(self, name)
            if v < 0:
                raise _ParameterError(f"LiftTest.{name} must be a finite number >= 0, got {v!r}")


@_dataclass(frozen=True)
class AdditiveHazard(Model):
    """Incremental credit from person timelines: a baseline plus decaying excitation per exposure.

    Conversions of each KPI follow the intensity
    ``lambda(t) = lambda_0 + sum_i beta_c omega_c exp(-omega_c (t - t_i))`` over the person's exposures
    (Zhang, Wei & Ren 2014; Ji & Wang 2017), fitted by maximum likelihood over every person at risk
    (EM, then Newton's method). Each conversion is split over its sources by their intensity at that
    time; the baseline's part is the ``(baseline)`` row (conversions that would have happened anyway).
    Standard errors come from the observed information (``r.table("hazard_parameters")``).
    Needs journeys from :meth:`Journeys.from_events` (or the simulator); give ``population=`` there.

    Args:
        baseline: how the baseline varies between people. ``"exposures"`` (the default): it rises with
            the person's exposures of each player over the whole period (``lambda_0 + sum_c gamma_c
            n_c``), so exposure that rides on intent shows as a level shift present before the exposures
            too, and only the response that follows each exposure in time is credited. ``"activity"``:
            one rate per group of people by their touches (0, 1, 2-3, 4-7, ..., 64+). ``"constant"``: one
            rate for everybody (Zhang, Wei & Ren's model).
        initial_half_life: the half-life every kernel starts from.
        max_iter: most iterations.
        tol: stop when the Newton decrement (the expected log-likelihood gain of one more step) is below it.
        lift_tests: :class:`LiftTest` records; each fixes its player's beta at the measured effect, the
            rest is re-fitted, the test's standard error is carried into the others, and the player is
            credited its expected incremental conversions (``r.table("lift_tests")`` shows each test's
            influence).
    """

    name: ClassVar[str] = "additive_hazard"
    baseline: Literal["exposures", "constant", "activity"] = _default("additive_hazard", "baseline")
    initial_half_life: str = _default("additive_hazard", "initial_half_life")
    max_iter: int = _default("additive_hazard", "max_iter")
    tol: float = _default("additive_hazard", "tol")
    lift_tests: list[LiftTest] = _field(default_factory=list)

    def __post_init__(self) -> None:
        tests = [t if isinstance(t, LiftTest) else LiftTest(**t) for t in self.lift_tests]
        object.__setattr__(self, "lift_tests", tests)
        super().__post_init__()

    def __hash__(self) -> int:
        return hash((self.name, self.baseline, self.initial_half_life, self.max_iter, self.tol, tuple(self.lift_tests)))


def _accepts(hint: Any, value: Any) -> bool:
    """Whether ``value`` has the type ``hint`` (int, float, str, bool, None, Literal, list, unions)."""
    origin = _typing.get_origin(hint)
    if origin is _typing.Union or type(hint).__name__ == "UnionType":
        return any(_accepts(h, value) for h in _typing.get_args(hint))
    if origin is Literal:
        return value in _typing.get_args(hint)
    if origin is list:
        (item,) = _typing.get_args(hint) or (Any,)
        return isinstance(value, (list, tuple)) and all(_accepts(item, v) for v in value)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and _math.isfinite(value)
    if hint is Any:
        return True
    return isinstance(value, hint)


def _describe(hint: Any) -> str:
    origin = _typing.get_origin(hint)
    if origin is Literal:
        return " or ".join(repr(a) for a in _typing.get_args(hint))
    if origin is _typing.Union or type(hint).__name__ == "UnionType":
        return " or ".join(_describe(h) for h in _typing.get_args(hint))
    if hint is float:
        return "a finite number"
    if hint is int:
        return "an integer"
    if hint is type(None):
        return "None"
    return getattr(hint, "__name__", str(hint))


def _check_fields(record: Any) -> None:
    """Refuses a parameter of the wrong type (``order="2"``, ``tol=nan``) with a message naming it."""
    hints = _typing.get_type_hints(type(record))
    for f in _fields(record):
        value = getattr(record, f.name)
        if not _accepts(hints[f.name], value):
            raise _ParameterError(f"{type(record).__name__}.{f.name} must be {_describe(hints[f.name])}, got {value!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


_CLASSES: dict[str, type[Model]] = {
    c.name: c
    for c in (FirstTouch, LastTouch, LastNonDirect, Linear, PositionBased, TimeDecay, Markov, Shapley, AdditiveHazard)
}


def from_spec(spec: str | dict[str, Any]) -> Model:
    """A model record from a JSON spec or dict (``{"model": "markov", "order": 2}``)."""
    if isinstance(spec, str):
        try:
            data = _json.loads(spec)
        except ValueError as e:
            raise _ParameterError(f"invalid model spec {spec[:80]!r}: not JSON ({e})") from None
    elif isinstance(spec, _Mapping):
        data = dict(spec)
    else:
        raise _ParameterError(f"a model spec is JSON text or a dict, got {type(spec).__name__}")
    if not isinstance(data, dict):
        raise _ParameterError(f'invalid model spec {spec!r}: expected an object such as {{"model": "markov"}}')
    full = _json.loads(_touchpoint.validate_model(_json.dumps(data)))
    cls = _CLASSES[full.pop("model")]
    return cls(**full)


def to_spec(model: str | Model) -> str:
    """The JSON spec of a model record or model name (unknown names raise ParameterError)."""
    if isinstance(model, Model):
        return model.to_json()
    if isinstance(model, str):
        return _touchpoint.validate_model(_json.dumps({"model": model}))
    raise _ParameterError(
        f"a model is a name such as 'markov' or a touchpoint.models record, not {type(model).__name__}"
    )
