"""Media mix: a Bayesian media-mix model for goals and channels without user-level data.

Weekly (or daily) totals of a goal (tickets deflected, hires, sales) are explained by paid media
(spend), organic volumes (posts, employee shares, care replies), a linear trend, yearly seasonality and
controls, each channel through a geometric adstock and a saturation curve. The posterior is sampled by
NUTS in Rust (several chains in parallel) or its mode found by L-BFGS (``method="map"``).

>>> m = tp.MMM(date="week", target="tickets", media=["paid_social"], organic=["care_replies"])  # doctest: +SKIP
>>> fit = m.fit(df, chains=4, draws=1000, tune=1000, seed=0)  # doctest: +SKIP
>>> fit.summary()  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import html
import json
import math
import numbers
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from . import _touchpoint
from ._checks import whole
from ._frames import as_polars
from ._progress import ProgressLine
from .exceptions import ColumnError, InputError, ParameterError

__all__ = ["MMM", "MMMFit", "Scenario", "Comparison", "WeeklySimulation", "simulate_weekly", "LIFT_MEASUREMENT_COLUMNS"]

#: The columns of a lift-measurement table (pymc-marketing's ``add_lift_test_measurements`` shape).
LIFT_MEASUREMENT_COLUMNS = ("channel", "x", "delta_x", "delta_y", "sigma")

_EPOCH = dt.date(1970, 1, 1)


def _names(value: Sequence[str] | str | None, what: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        raise ParameterError(f"`{what}` takes a list of column names, got the string {value!r}: write [{value!r}]")
    out = list(value)
    for v in out:
        if not isinstance(v, str):
            raise ParameterError(f"`{what}` takes column names (strings), got {v!r}")
    return out


class MMM:
    """A media-mix model specification.

    ``y_t = intercept + trend_t + seasonality_t + sum_c beta_c * s(adstock(x_c))_t + sum_k gamma_k z_k,t
    + noise``, on the target and channels scaled by their largest absolute value (pymc-marketing's
    scaling); every result is in the target's units.

    Args:
        date: the date column (dates, datetimes or ISO strings), one row per period, no gaps.
        target: the goal's column (e.g. tickets deflected per week).
        media: paid channels; their columns are spend, so ROI and marginal ROI are reported.
        organic: organic channels; their columns are volumes (posts, shares, replies).
        controls: other regressors (events, prices, a time index).
        max_lag: adstock weights for lags ``0..max_lag-1`` (geometric, normalised).
        saturation: ``"logistic"`` (pymc-marketing's ``(1 - e^(-lam x)) / (1 + e^(-lam x))``) or
            ``"hill"`` (Meridian's ``x^s / (x^s + ec^s)``).
        trend: fit a linear trend.
        seasonality: number of yearly Fourier pairs (0 for none).
        priors: overrides of the default priors (see :func:`MMM.default_priors`), e.g.
            ``{"adstock": {"alpha": 2.0, "beta": 2.0}, "beta_by_channel": {"search": {"sigma": 1.0}}}``.

    Raises:
        ParameterError: an option or prior out of its domain, a name given twice.
    """

    def __init__(
        self,
        date: str,
        target: str,
        media: Sequence[str] | None = None,
        organic: Sequence[str] | None = None,
        controls: Sequence[str] | None = None,
        max_lag: int = 8,
        saturation: str = "logistic",
        trend: bool = True,
        seasonality: int = 2,
        priors: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(date, str) or not isinstance(target, str):
            raise ParameterError("`date` and `target` are column names (strings)")
        for name, v in (("max_lag", max_lag), ("seasonality", seasonality)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ParameterError(f"`{name}` must be a whole number >= 0, got {v!r}")
        if saturation not in ("logistic", "hill"):
            raise ParameterError(f'`saturation` is "logistic" or "hill", got {saturation!r}')
        self.date = date
        self.target = target
        self.media = _names(media, "media")
        self.organic = _names(organic, "organic")
        self.controls = _names(controls, "controls")
        self.max_lag = max_lag
        self.saturation = saturation
        self.trend = bool(trend)
        self.seasonality = seasonality
        self.priors = dict(priors or {})
        # Validated (names, options, priors) now, not at fit time.
        self._spec = json.loads(_touchpoint.mmm_validate(json.dumps(self._raw_spec())))

    def _raw_spec(self) -> dict[str, Any]:
        # One level deep, in Rust: {"adstock": {"alpha": 2.0}} keeps the default beta of the adstock prior.
        priors = json.loads(_touchpoint.mmm_priors(json.dumps(self.priors)))
        return {
            "date": self.date,
            "target": self.target,
            "channels": [{"name": n, "kind": "media"} for n in self.media]
            + [{"name": n, "kind": "organic"} for n in self.organic],
            "controls": self.controls,
            "max_lag": self.max_lag,
            "saturation": self.saturation,
            "trend": self.trend,
            "seasonality": self.seasonality,
            "priors": priors,
        }

    @staticmethod
    def default_priors() -> dict[str, Any]:
        """The default priors (pymc-marketing's where it has one), on the scaled model."""
        return json.loads(_touchpoint.mmm_default_priors())

    @property
    def channels(self) -> list[str]:
        """Media then organic channels."""
        return self.media + self.organic

    def __repr__(self) -> str:
        return (
            f"MMM(target={self.target!r}, media={self.media!r}, organic={self.organic!r}, "
            f"controls={self.controls!r}, saturation={self.saturation!r}, max_lag={self.max_lag})"
        )

    def fit(
        self,
        data: Any,
        chains: int = 4,
        draws: int = 1000,
        tune: int = 1000,
        seed: int = 0,
        method: str = "nuts",
        lift_measurements: Any = None,
        level: float = 0.9,
        threads: int | None = None,
        progress: bool = True,
        target_accept: float = 0.8,
        low_rank: bool = False,
        gradient_mass_matrix: bool = False,
    ) -> MMMFit:
        """Fits the model to a weekly (or daily) table.

        Args:
            data: a polars or pandas DataFrame (or a CSV or Parquet path) with the date, target,
                channel and control columns, one row per period.
            chains, draws, tune: NUTS chains, kept draws and tuning draws per chain.
            seed: fixes the starting points and the sampler; the same seed gives the same draws
                whatever the number of threads.
            method: ``"nuts"`` (posterior draws, intervals) or ``"map"`` (the posterior mode by L-BFGS:
                fast, point estimates only).
            lift_measurements: experiments that calibrate the channels: a table with columns channel,
                x, delta_x, delta_y, sigma (per period, in the channel's and the target's units). Not
                the per-exposure :class:`tp.LiftTest` of the user-level models.
            level: interval level.
            threads: threads for the chains (default: one per core).
            progress: show a progress line while sampling.
            target_accept: the step-size adaptation's target acceptance rate (0.8 as in PyMC and
                nutpie); raise it towards 0.95 when the fit reports divergences.
            low_rank: adapt a diagonal plus low-rank mass matrix (nutpie's) instead of a diagonal one:
                fewer gradients per draw on correlated posteriors, less stable R-hat on short runs.
            gradient_mass_matrix: estimate the diagonal mass matrix from the draws' and the
                gradients' variances (nutpie's) instead of the draws' alone (Stan's and PyMC's, the
                default, which gives about twice the effective samples per draw on media-mix
                posteriors).

        Raises:
            ColumnError: a missing column, or a column that is not numeric or is constant.
            InputError: a missing period, a null or NaN, a negative spend, a bad lift measurement.
            ParameterError: fewer periods than parameters, an option out of its domain.
        """
        if method not in ("nuts", "map"):
            raise ParameterError(f'`method` is "nuts" or "map", got {method!r}')
        for name, v in (("chains", chains), ("draws", draws), ("tune", tune), ("seed", seed)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ParameterError(f"`{name}` must be a whole number >= 0, got {v!r}")
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
            raise ParameterError(f"`threads` must be a whole number >= 1, got {threads!r}")
        if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
            raise ParameterError(f"`level` is in (0, 1), got {level!r}")
        if isinstance(target_accept, bool) or not isinstance(target_accept, (int, float)):
            raise ParameterError(f"`target_accept` is a number in [0.5, 1), got {target_accept!r}")
        df = _read(data)
        dates = _dates(df, self.date)
        target = _numbers(df, self.target)
        channels = [_numbers(df, c) for c in self.channels]
        controls = [_numbers(df, c) for c in self.controls]
        lifts = _lifts(lift_measurements)
        options = {
            "method": method,
            "chains": chains,
            "draws": draws,
            "tune": tune,
            "seed": seed,
            "threads": threads or 0,
            "level": float(level),
            "max_depth": 10,
            "low_rank": bool(low_rank),
            "gradient_mass_matrix": bool(gradient_mass_matrix),
            "target_accept": target_accept,
        }
        inner = _touchpoint.mmm_fit(
            json.dumps(self._spec),
            dates,
            target,
            channels,
            controls,
            json.dumps(lifts),
            json.dumps(options),
            ProgressLine() if progress else None,
        )
        return MMMFit(inner)


def _read(data: Any) -> pl.DataFrame:
    if isinstance(data, (str, os.PathLike)):
        path = os.fspath(data)
        if not os.path.isfile(path):
            from .exceptions import ReadError

            raise ReadError(f"{path}: no such file")
        try:
            if path.endswith(".parquet"):
                return pl.read_parquet(path)
            return pl.read_csv(path, infer_schema_length=None, try_parse_dates=True)
        except (pl.exceptions.PolarsError, OSError) as e:
            from .exceptions import ReadError

            raise ReadError(
                f"{path}: cannot read it as {'Parquet' if path.endswith('.parquet') else 'CSV'} ({e})"
            ) from None
    return as_polars(data, "data")


def _column(df: pl.DataFrame, name: str) -> pl.Series:
    if name not in df.columns:
        raise ColumnError(f"column `{name}` is not in the data; it has: {', '.join(df.columns)}")
    return df.get_column(name)


def _dates(df: pl.DataFrame, name: str) -> list[int]:
    s = _column(df, name)
    if s.dtype == pl.String:
        try:
            s = s.str.to_date(strict=True) if s.str.len_chars().max() == 10 else s.str.to_datetime(strict=True)
        except pl.exceptions.PolarsError as e:
            raise ColumnError(f"column `{name}`: cannot read the dates as ISO dates ({e})") from None
    if isinstance(s.dtype, pl.Datetime):
        s = s.dt.date()
    if s.dtype != pl.Date:
        raise ColumnError(f"column `{name}` holds {s.dtype}, not dates: give dates, datetimes or ISO strings")
    nulls = s.is_null()
    if nulls.any():
        raise InputError(f"column `{name}`, row {int(nulls.arg_true()[0])}: a null date")
    return s.cast(pl.Int32).to_list()


def _numbers(df: pl.DataFrame, name: str) -> list[float]:
    s = _column(df, name)
    if s.dtype == pl.Boolean:
        s = s.cast(pl.Float64)
    if not s.dtype.is_numeric():
        raise ColumnError(f"column `{name}` holds {s.dtype}, not numbers")
    s = s.cast(pl.Float64)
    nulls = s.is_null()
    if nulls.any():
        raise InputError(f"column `{name}`, row {int(nulls.arg_true()[0])}: a null; every period needs a value")
    return s.to_list()


def _lifts(table: Any) -> list[dict[str, Any]]:
    if table is None:
        return []
    df = as_polars(table, "lift_measurements")
    missing = [c for c in LIFT_MEASUREMENT_COLUMNS if c not in df.columns]
    if missing:
        raise ColumnError(
            f"lift_measurements lacks column(s) {', '.join(missing)}; it needs {', '.join(LIFT_MEASUREMENT_COLUMNS)}"
        )
    out = []
    for i, row in enumerate(df.select(LIFT_MEASUREMENT_COLUMNS).iter_rows(named=True)):
        if not isinstance(row["channel"], str):
            raise InputError(f"lift_measurements row {i}: channel {row['channel']!r} is not a name")
        for k in LIFT_MEASUREMENT_COLUMNS[1:]:
            v = row[k]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise InputError(f"lift_measurements row {i}: {k} = {v!r} must be a finite number")
        out.append({k: (row[k] if k == "channel" else float(row[k])) for k in LIFT_MEASUREMENT_COLUMNS})
    return out


def _flat(rows: list[dict[str, Any]], nested: Sequence[str]) -> list[dict[str, Any]]:
    """Flattens ``{"value": {"mean", "lower", "upper"}}`` into ``value``, ``value_lower``, ``value_upper``
    (and ``None`` estimates into nulls)."""
    out = []
    for r in rows:
        flat = {k: v for k, v in r.items() if k not in nested}
        for k in nested:
            e = r.get(k)
            flat[k] = None if e is None else e["mean"]
            flat[f"{k}_lower"] = None if e is None else e["lower"]
            flat[f"{k}_upper"] = None if e is None else e["upper"]
        out.append(flat)
    return out


class MMMFit:
    """A fitted :class:`MMM`: contributions, summary with ROI, response curves, diagnostics, plots.

    Every posterior summary comes with its interval at the fit's level (``*_lower``, ``*_upper``); a
    ``method="map"`` fit has point estimates and null intervals (its ``warnings`` say so).
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __reduce__(self) -> tuple[Any, ...]:
        # The whole fit as JSON (model, priors, data, draws), checked again when read.
        return (_fit_from_json, (self._inner.to_json(),))

    @property
    def model(self) -> MMM:
        """The model (with its priors) that made the fit."""
        spec = json.loads(self._inner.model_json())
        kinds = {"media": [], "organic": []}  # type: dict[str, list[str]]
        for c in spec["channels"]:
            kinds[c["kind"]].append(c["name"])
        return MMM(
            date=spec["date"],
            target=spec["target"],
            media=kinds["media"],
            organic=kinds["organic"],
            controls=spec["controls"],
            max_lag=spec["max_lag"],
            saturation=spec["saturation"],
            trend=spec["trend"],
            seasonality=spec["seasonality"],
            priors=spec["priors"],
        )

    @property
    def options(self) -> dict[str, Any]:
        """The fit's settings (method, chains, draws, tune, seed, level, ...)."""
        return json.loads(self._inner.options_json())

    @property
    def warnings(self) -> list[str]:
        """Convergence problems (R-hat above 1.01, divergences, low ESS) and MAP without intervals."""
        return list(self._inner.warnings)

    @property
    def seconds(self) -> float:
        """Wall time of the fit."""
        return float(self._inner.seconds)

    @property
    def version(self) -> str:
        """The Touchpoint version that made the fit."""
        return str(self._inner.version)

    def summary(self, start: Any = None, end: Any = None) -> pl.DataFrame:
        """One row per component, over the whole series or the periods dated from ``start`` to ``end``
        (both included; dates, datetimes or ISO text): channel, kind (media, organic, baseline, trend,
        seasonality, control), contribution (target units, summed over the periods) with its interval
        in ``lower`` and ``upper``, share of the summed target (``share_lower``, ``share_upper``), and
        for media the spend, ``kpi_per_spend`` (target units per unit of spend; not ROI, which in
        Touchpoint is always (value - cost) / cost in money) and ``marginal_kpi_per_spend`` (of 1% more
        spend in every period), each with ``_lower`` and ``_upper``. A window's totals and intervals are
        computed per posterior draw, never by adding per-period intervals.

        Raises:
            ParameterError: no period of the fit lies in the window, or a bound is not a date.
        """
        window = None
        if start is not None or end is not None:
            dates, _ = self._inner.data()
            lo = _day(start, "start") if start is not None else dates[0]
            hi = _day(end, "end") if end is not None else dates[-1]
            window = (lo, hi)
        names = ["contribution", "share", "kpi_per_spend", "marginal_kpi_per_spend"]
        rows = _flat(json.loads(self._inner.summary_json(window)), names)
        for r in rows:
            r["channel"] = r.pop("component")
            r["lower"] = r.pop("contribution_lower")
            r["upper"] = r.pop("contribution_upper")
        cols = ["channel", "kind", "contribution", "lower", "upper", "share", "share_lower", "share_upper", "spend"]
        cols += ["kpi_per_spend", "kpi_per_spend_lower", "kpi_per_spend_upper"]
        cols += ["marginal_kpi_per_spend", "marginal_kpi_per_spend_lower", "marginal_kpi_per_spend_upper"]
        df = pl.DataFrame(rows, infer_schema_length=None).select(cols)
        return df.with_columns(pl.col(c).cast(pl.Float64) for c in cols[2:])

    def contributions(self) -> pl.DataFrame:
        """Contribution per period and component (intercept, trend, seasonality, controls, channels):
        date, channel, kind, mean, lower, upper, in target units. A period's components sum to the
        fitted mean."""
        rows = _flat(json.loads(self._inner.contributions_json()), ["value"])
        df = pl.DataFrame(rows, infer_schema_length=None)
        return df.select(
            pl.col("period").cast(pl.Int64),
            (pl.lit(_EPOCH) + pl.duration(days=pl.col("date"))).cast(pl.Date).alias("date"),
            pl.col("component").alias("channel"),
            "kind",
            pl.col("value").cast(pl.Float64).alias("mean"),
            pl.col("value_lower").cast(pl.Float64).alias("lower"),
            pl.col("value_upper").cast(pl.Float64).alias("upper"),
        )

    def fitted(self) -> pl.DataFrame:
        """The observed target and the fitted mean per period with its interval."""
        dates, target = self._inner.data()
        rows = json.loads(self._inner.fitted_json())
        return pl.DataFrame(
            {
                "date": [_EPOCH + dt.timedelta(days=d) for d in dates],
                "observed": target,
                "fitted": [r["mean"] for r in rows],
                "lower": [r["lower"] for r in rows],
                "upper": [r["upper"] for r in rows],
            },
            schema_overrides={"lower": pl.Float64, "upper": pl.Float64},
        )

    def response_curves(self, points: int = 100, max_multiple: float = 1.5) -> pl.DataFrame:
        """Steady-state response per channel: for levels x per period from 0 to ``max_multiple`` times
        the largest observed, the contribution per period (mean, lower, upper)."""
        whole("points", points, 1)
        if isinstance(max_multiple, bool) or not isinstance(max_multiple, numbers.Real) or not max_multiple > 0:
            raise ParameterError(f"max_multiple must be a number > 0, got {max_multiple!r}")
        rows = _flat(json.loads(self._inner.response_curves_json(points, float(max_multiple))), ["value"])
        df = pl.DataFrame(rows, infer_schema_length=None)
        return df.select(
            "channel",
            pl.col("x").cast(pl.Float64),
            pl.col("value").cast(pl.Float64).alias("mean"),
            pl.col("value_lower").cast(pl.Float64).alias("lower"),
            pl.col("value_upper").cast(pl.Float64).alias("upper"),
        )

    def parameters(self) -> pl.DataFrame:
        """Per parameter: mean, sd, lower, upper, r_hat (rank-normalised split R-hat), ess_bulk and
        ess_tail. The parameters are those of the scaled model (target and channels divided by their
        largest absolute value): ``beta`` is a contribution at full saturation in units of the target's
        maximum, ``intercept`` a level in those units; :meth:`summary` and :meth:`contributions` are in
        the target's own units."""
        return pl.DataFrame(json.loads(self._inner.parameters_json()), infer_schema_length=None)

    def diagnostics(self) -> dict[str, Any]:
        """Largest R-hat, smallest bulk ESS, divergences per chain, wall time, and the warnings."""
        p = self.parameters()
        return {
            "max_r_hat": p["r_hat"].max(),
            "min_ess_bulk": p["ess_bulk"].min(),
            "divergences": list(self._inner.divergences),
            "seconds": self.seconds,
            "warnings": self.warnings,
        }

    def lift(self, channel: str, x: float, delta_x: float) -> dict[str, float | None]:
        """The modelled lift of raising ``channel`` from ``x`` to ``x + delta_x`` per period (target
        units per period, mean and interval): what an experiment on that channel would measure.

        ``beyond_observed`` is the higher level's factor over the largest level the fit saw, when
        above it (the curve is extrapolated there; a warning says so), else ``None``."""
        mean, lower, upper, beyond = self._inner.lift(channel, float(x), float(delta_x))
        nan = math.isnan
        if beyond is not None:
            warnings.warn(beyond[1], UserWarning, stacklevel=2)
        return {
            "mean": mean,
            "lower": None if nan(lower) else lower,
            "upper": None if nan(upper) else upper,
            "beyond_observed": None if beyond is None else beyond[0],
        }

    def predict(self, future: Any, seed: int | None = None) -> Scenario:
        """What the fit expects of future periods: the KPI per period and over the horizon, and
        every component's contribution, with intervals over the joint posterior draws (totals are
        summed per draw, never by adding weekly intervals).

        The carryover of the fit's last periods flows into the future; after the last future period
        the input is taken as zero and the contribution that still comes is the tail, reported on
        its own. Levels above the largest the fit saw are flagged (``beyond_observed``) and named
        in the warnings.

        Args:
            future: one row per future period, in order (a polars or pandas DataFrame, or a CSV or
                Parquet file) with a column per channel of the fit (spend for media, volume for
                organic: 0 for none) and per control; the fit's date column is optional and, when
                given, must continue the series without gaps. Other columns are not read.
            seed: seed of the observation noise in the predictive intervals (default 0).

        Raises:
            ColumnError: a channel or control of the fit missing, or columns of unequal length.
            InputError: a negative or non-finite level, a null, dates that do not continue the series.
            ParameterError: no future period, or more than 1,000.
        """
        options: dict[str, Any] = {}
        if seed is not None:
            whole("seed", seed, 0)
            options["seed"] = seed
        given = json.dumps(self._future(future))
        return Scenario(json.loads(self._inner.predict_json(given, json.dumps(options))))

    def compare(self, plan: Any, against: Any) -> Comparison:
        """What ``plan`` adds over ``against`` (two tables of the same future periods, as
        :meth:`predict` reads them): per component and for the KPI, the difference of the totals over
        the horizon and of the tails, with intervals taken draw by draw. The intervals of two
        scenarios cannot give the interval of their difference: what both share (the baseline and
        its uncertainty) cancels only within each draw."""
        a, b = json.dumps(self._future(plan)), json.dumps(self._future(against))
        return Comparison(json.loads(self._inner.compare_json(a, b)))

    def _future(self, table: Any) -> dict[str, Any]:
        """A future table as the Rust `Future`: the fit's channels and controls that the table has
        (a missing one is Rust's error, which names it), and its dates when it has the date column."""
        df = _read(table)
        spec = self.model
        given: dict[str, Any] = {
            "channels": {c: _numbers(df, c) for c in spec.channels if c in df.columns},
            "controls": {c: _numbers(df, c) for c in spec.controls if c in df.columns},
        }
        # JSON carries no NaN or infinity: such a value is named here, as Rust names the others.
        for part in ("channels", "controls"):
            for name, values in given[part].items():
                bad = next((i for i, v in enumerate(values) if not math.isfinite(v)), None)
                if bad is not None:
                    raise InputError(f"column `{name}`, row {bad}: {values[bad]} (a planned value must be finite)")
        if spec.date in df.columns:
            given["dates"] = _dates(df, spec.date)
        return given

    def save(self, path: str | os.PathLike[str]) -> None:
        """Saves the fit (model, priors, data, settings, draws, diagnostics, version) as JSON."""
        text = self._inner.to_json()
        try:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        except OSError as e:
            from .exceptions import ReadError

            raise ReadError(f"{os.fspath(path)}: cannot write the fit ({e.strerror})") from None

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> MMMFit:
        """A fit saved by :meth:`save`.

        Raises:
            ReadError: not a regular file (a folder, device or FIFO), larger than 1 GiB, or a fit whose
                draws contradict its own options or the model (the message names the mismatch).
        """
        return cls(_touchpoint.MmmFit.load(path))

    def plot(self) -> Any:
        """Stacked contributions over time (the baseline below, channels above) with the observed
        target and the fitted mean's band, and below, each channel's contribution per period with
        its interval band. Returns the matplotlib Figure (``plt.show()`` is not called)."""
        from .plotting import mmm_contributions

        return mmm_contributions(self)

    def plot_response_curves(
        self, points: int = 100, max_multiple: float = 1.5, planned: dict[str, float] | None = None
    ) -> Any:
        """Response curves per channel with their interval bands, the current level (an average
        period) and, when given, the ``planned`` level per channel ``{channel: level per period}``
        marked; the part beyond the largest period observed is shaded (an extrapolation). Returns
        the matplotlib Figure."""
        from .plotting import mmm_response

        return mmm_response(self, points=points, max_multiple=max_multiple, planned=planned)

    def __repr__(self) -> str:
        o = self.options
        return (
            f"MMMFit(target={self.model.target!r}, method={o['method']!r}, chains={o['chains']}, "
            f"draws={o['draws']}, warnings={len(self.warnings)})"
        )

    def _repr_html_(self) -> str:
        s = self.summary()

        def fmt(v: Any, lo: Any, hi: Any, pct: bool = False) -> str:
            if v is None:
                return ""
            f = (lambda x: f"{100 * x:.1f}%") if pct else (lambda x: f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.3g}")
            return f(v) + (f" [{f(lo)}, {f(hi)}]" if lo is not None and hi is not None else "")

        rows = "".join(
            "<tr>"
            + f"<td>{html.escape(r['channel'])}</td><td>{r['kind']}</td>"
            + f"<td>{fmt(r['contribution'], r['lower'], r['upper'])}</td>"
            + f"<td>{fmt(r['share'], r['share_lower'], r['share_upper'], pct=True)}</td>"
            + f"<td>{fmt(r['kpi_per_spend'], r['kpi_per_spend_lower'], r['kpi_per_spend_upper'])}</td>"
            + "</tr>"
            for r in s.iter_rows(named=True)
        )
        warn = "".join(f"<li>{html.escape(w)}</li>" for w in self.warnings)
        return (
            f"<b>MMMFit</b> of <code>{html.escape(self.model.target)}</code> "
            f"({self.options['method']}, level {self.options['level']:.0%})"
            "<table><tr><th>component</th><th>kind</th><th>contribution</th><th>share</th>"
            "<th>per unit of spend</th></tr>"
            f"{rows}</table>" + (f"<ul>{warn}</ul>" if warn else "")
        )


def _totals(rows: list[dict[str, Any]]) -> pl.DataFrame:
    df = pl.DataFrame(_flat(rows, ["horizon", "tail", "predictive"]), infer_schema_length=None)
    return df.select(
        "component",
        "kind",
        pl.col("input").cast(pl.Float64),
        pl.col("horizon").cast(pl.Float64).alias("expected"),
        pl.col("horizon_lower").cast(pl.Float64).alias("lower"),
        pl.col("horizon_upper").cast(pl.Float64).alias("upper"),
        pl.col("tail").cast(pl.Float64),
        pl.col("tail_lower").cast(pl.Float64),
        pl.col("tail_upper").cast(pl.Float64),
        pl.col("predictive_lower").cast(pl.Float64),
        pl.col("predictive_upper").cast(pl.Float64),
    )


class _Outlook:
    """A scenario's or a comparison's JSON from Rust, with its level and warnings."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self._raw = raw
        self.level: float = raw["level"]
        """The intervals' level."""
        self.warnings: list[str] = raw["warnings"]
        """Levels beyond those observed (for a comparison, both plans'); a MAP fit without intervals."""


class Comparison(_Outlook):
    """What one plan adds over another (:meth:`MMMFit.compare`)."""

    def totals(self) -> pl.DataFrame:
        """Per component, and ``kpi``: input (the difference of planned spend or volume), expected,
        lower, upper (the difference over the horizon), tail, tail_lower, tail_upper (of the tails)."""
        return _totals(self._raw["totals"]).drop("predictive_lower", "predictive_upper")

    def __repr__(self) -> str:
        t = self.totals().filter(pl.col("component") == "kpi").row(0, named=True)
        if t["lower"] is None:
            return f"Comparison(KPI {t['expected']:+,.4g})"
        return f"Comparison(KPI {t['expected']:+,.4g} [{t['lower']:+,.4g}, {t['upper']:+,.4g}])"


class Scenario(_Outlook):
    """What a fitted media mix expects of future periods (:meth:`MMMFit.predict`)."""

    def periods(self) -> pl.DataFrame:
        """Per future period: period (1, 2, ...), date, the expected KPI with the interval of that
        mean (expected, lower, upper) and the interval of the KPI itself, observation noise
        included (predictive_lower, predictive_upper)."""
        rows = _flat(self._raw["periods"], ["kpi", "predictive"])
        df = pl.DataFrame(rows, infer_schema_length=None)
        return df.select(
            pl.col("period").cast(pl.Int64),
            (pl.lit(_EPOCH) + pl.duration(days=pl.col("date"))).cast(pl.Date).alias("date"),
            pl.col("kpi").cast(pl.Float64).alias("expected"),
            pl.col("kpi_lower").cast(pl.Float64).alias("lower"),
            pl.col("kpi_upper").cast(pl.Float64).alias("upper"),
            pl.col("predictive_lower").cast(pl.Float64),
            pl.col("predictive_upper").cast(pl.Float64),
        )

    def contributions(self) -> pl.DataFrame:
        """Per future period and component: period, date, component, kind, input (the planned level,
        or the control's value), expected, lower, upper (target units), and beyond_observed (the
        level's factor over the largest the fit saw, when above it)."""
        rows = _flat(self._raw["contributions"], ["value"])
        df = pl.DataFrame(rows, infer_schema_length=None)
        return df.select(
            pl.col("period").cast(pl.Int64),
            (pl.lit(_EPOCH) + pl.duration(days=pl.col("date"))).cast(pl.Date).alias("date"),
            "component",
            "kind",
            pl.col("input").cast(pl.Float64),
            pl.col("value").cast(pl.Float64).alias("expected"),
            pl.col("value_lower").cast(pl.Float64).alias("lower"),
            pl.col("value_upper").cast(pl.Float64).alias("upper"),
            pl.col("beyond_observed").cast(pl.Float64),
        )

    def totals(self) -> pl.DataFrame:
        """Per component, and ``kpi`` for their sum, over the horizon: input (planned spend or
        volume), expected, lower, upper; the tail after the horizon (tail, tail_lower, tail_upper:
        what the plan's carryover still adds once it stops); for the KPI, the interval of the KPI
        itself (predictive_lower, predictive_upper)."""
        return _totals(self._raw["totals"])

    def plot(self, title: str | None = None) -> Any:
        """The KPI per future period (expected, with the mean's interval and the predictive one) above
        each channel's contribution, planned levels beyond those observed marked. Returns the
        matplotlib Figure."""
        from .plotting import scenario as plot_scenario

        return plot_scenario(self, title=title)

    def __repr__(self) -> str:
        t = self.totals().filter(pl.col("component") == "kpi").row(0, named=True)
        h = len(self._raw["periods"])
        if t["lower"] is None:
            return f"Scenario({h} periods; KPI {t['expected']:,.4g})"
        return f"Scenario({h} periods; KPI {t['expected']:,.4g} [{t['lower']:,.4g}, {t['upper']:,.4g}])"


@dataclass(frozen=True)
class WeeklySimulation:
    """A simulated weekly media-mix series with known contributions.

    Attributes:
        data: week, the target, one column per channel (spend or volume) and the control.
        contributions: the true contribution per week and component (intercept, trend, seasonality,
            control, channels): date, channel, kind, value.
        truth: per component, the summed true contribution and its share of the summed target.
        media, organic, controls: the column names to give :class:`MMM`.
        target: the target column's name.
        params: the generator's parameters.
    """

    data: pl.DataFrame
    contributions: pl.DataFrame
    truth: pl.DataFrame
    media: list[str]
    organic: list[str]
    controls: list[str]
    target: str
    params: dict[str, Any]

    def respond(self, plan: Any) -> pl.DataFrame:
        """The truth of a plan for the weeks after the series: what the generator's own response
        curves give for each channel (the adstock over the series' last weeks and the plan, the
        series' saturation scale), as a media-mix scenario of the same plan should find.

        Args:
            plan: one row per week after the series, a column per channel (as :meth:`MMMFit.predict`
                reads it; other columns are not read).

        Returns:
            One row per channel: channel, horizon (the summed contribution over the planned weeks),
            tail (what the plan still adds in the 7 weeks after it), and weekly (the contribution
            per planned week, a list).
        """
        df = _read(plan)
        names = self.media + self.organic
        given = {c: _numbers(df, c) for c in names if c in df.columns}
        raw = json.loads(_touchpoint.weekly_respond(json.dumps(self.params), json.dumps(given)))
        return pl.DataFrame(
            raw["channels"],
            schema={"channel": pl.String, "horizon": pl.Float64, "tail": pl.Float64, "weekly": pl.List(pl.Float64)},
        )


def simulate_weekly(weeks: int = 156, seed: int = 0, params: Mapping[str, Any] | None = None) -> WeeklySimulation:
    """A weekly series of tickets deflected (issues resolved without a ticket) driven by care replies
    and employee shares (organic volumes) and by paid social and search (spend), with a trend, yearly
    seasonality and a product-launch control; every component's true contribution is known.

    Args:
        weeks: number of weeks.
        seed: the generator's seed.
        params: a full parameter set instead (the ``params`` of a simulation, edited).
    """
    for name, v in (("weeks", weeks), ("seed", seed)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ParameterError(f"`{name}` must be a whole number >= 0, got {v!r}")
    s = json.loads(_touchpoint.simulate_weekly(weeks, seed, None if params is None else json.dumps(dict(params))))
    p = s["params"]
    dates = [_EPOCH + dt.timedelta(days=d) for d in s["dates"]]
    cols: dict[str, Any] = {"week": dates, p["target"]: s["target"]}
    for c, col in zip(p["channels"], s["channels"], strict=True):
        cols[c["name"]] = col
    cols[p["control"]] = s["control"]
    data = pl.DataFrame(cols)
    contrib = pl.DataFrame(
        [
            {"date": d, "channel": name, "kind": kind, "value": v}
            for name, kind, values in s["truth"]
            for d, v in zip(dates, values, strict=True)
        ]
    )
    total = sum(s["target"])
    truth = (
        contrib.group_by("channel", "kind", maintain_order=True)
        .agg(pl.col("value").sum().alias("contribution"))
        .with_columns((pl.col("contribution") / total).alias("share"))
    )
    return WeeklySimulation(
        data=data,
        contributions=contrib,
        truth=truth,
        media=[c["name"] for c in p["channels"] if c["kind"] == "media"],
        organic=[c["name"] for c in p["channels"] if c["kind"] == "organic"],
        controls=[p["control"]],
        target=p["target"],
        params=p,
    )


def _fit_from_json(text: str) -> MMMFit:
    return MMMFit(_touchpoint.MmmFit.from_json(text))


def _day(value: Any, name: str) -> int:
    """A date (date, datetime or ISO text) as days since 1970."""
    if isinstance(value, dt.datetime):
        value = value.date()
    elif isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value[:10])
        except ValueError as e:
            raise ParameterError(f"`{name}` is a date (YYYY-MM-DD), got {value!r}") from e
    if not isinstance(value, dt.date):
        raise ParameterError(f"`{name}` is a date (YYYY-MM-DD), got {type(value).__name__}")
    return (value - _EPOCH).days
