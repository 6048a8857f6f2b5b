"""Running models over journeys, and the result."""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from . import _touchpoint
from ._checks import whole
from ._progress import ProgressLine
from .journeys import Journeys
from .models import Model, from_spec, to_spec

if TYPE_CHECKING:  # pragma: no cover
    from .spark import SparkJourneys

__all__ = ["attribute", "Attribution", "choose_order", "OrderChoice"]


def attribute(
    journeys: Journeys | SparkJourneys,
    models: Sequence[str | Model] | None = None,
    by: str = "channel",
    progress: bool = True,
    intervals: float | None = None,
    resamples: int = 200,
    seed: int = 0,
    threads: int | None = None,
) -> Attribution:
    """Credits every KPI's conversions and value to players, with each model.

    With ``intervals`` (a level such as 0.9) every credit row also gets a bootstrap interval of its
    conversions, value and share (columns ``conversions_lower`` ... ``share_upper``). The bootstrap uses
    Poisson weights: journeys from a path table are merged into distinct paths, and a path with
    conversions c and nulls n gets Poisson(c) conversions and Poisson(n) nulls drawn apart, its value
    scaled by the conversions drawn over c (for whole counts exactly the bootstrap of the journeys one
    row each; fractional weights use the Poisson law with that mean). Journeys from an event log (or
    the simulator) are resampled by person instead: each person is drawn Poisson(1) times, and all
    their journeys and their timeline move together. The additive-hazard model is refitted on every
    resample of people (not approximated by its observed information). Each draw is keyed to a hash of
    the path's names or the person, so the same seed gives the same intervals whatever the row order
    and the number of threads. Intervals are percentile intervals of the resamples, which are kept:
    :func:`contribution` values them into intervals of money value, value share and ROI, and
    :meth:`Attribution.compare` tests the paired difference of two models on them.

    Args:
        journeys: the journeys, or journeys gathered on Spark (:func:`touchpoint.spark.journeys`),
            whose additive-hazard fit runs on the executors by sufficient statistics.
        models: model names (``"markov"``) or records (``tp.models.Markov(order=2)``). By default
            first_touch, last_touch, linear, position_based, markov, shapley and, when the journeys
            carry person timelines (:meth:`Journeys.from_events`, in memory, in buckets kept with
            ``workdir=``, or on Spark; the last two without ``intervals``), additive_hazard.
        by: the player dimension: channel, campaign, activity, actor, actor_group or interaction.
        progress: show a progress line on stderr when the call takes more than half a second.
        intervals: the interval level, strictly between 0 and 1; ``None`` (default) for no intervals.
        resamples: number of bootstrap resamples (with ``intervals``), 1 to 100,000.
        seed: seed of the bootstrap draws.
        threads: threads for the resamples (1 to 1024); ``None`` for one per core. Results do not depend
            on it.

    Returns:
        An :class:`Attribution`.

    Raises:
        ParameterError: unknown model name or dimension, bad parameters, ``intervals`` outside (0, 1),
            ``resamples`` below 1.
        UnsupportedError: a model cannot run on this data (or, with intervals, a timeline model on
            journeys that do not know their people).
        KeyboardInterrupt: the run was interrupted.

    Example:
        >>> r = tp.attribute(j, models=["linear", tp.models.Markov(order=2)])  # doctest: +SKIP
        >>> r = tp.attribute(j, intervals=0.9, resamples=200, seed=0)  # doctest: +SKIP
    """
    from .exceptions import ParameterError

    if not isinstance(journeys, Journeys) and getattr(journeys, "_attribute", None) is None:
        raise ParameterError(
            f"attribute takes Journeys (tp.Journeys.from_events or from_paths, or tp.spark.journeys), got "
            f"{type(journeys).__module__}.{type(journeys).__name__}: cut the journeys from the table first"
        )
    if models is None:
        # Timelines in memory, or on Spark's executors (SparkJourneys) or in kept buckets (_remote)
        # without intervals, which would resample people.
        here = getattr(journeys, "has_timelines", False)
        elsewhere = not isinstance(journeys, Journeys) or getattr(journeys, "_remote", None) is not None
        specs = _touchpoint.default_models(here or (elsewhere and intervals is None))
    else:
        if isinstance(models, (str, Model)):
            models = [models]
        specs = [to_spec(m) for m in models]
    if intervals is not None and (
        isinstance(intervals, bool) or not isinstance(intervals, (int, float)) or not 0 < intervals < 1
    ):
        raise ParameterError(f"intervals must be a level strictly between 0 and 1 (e.g. 0.9), got {intervals!r}")
    whole("resamples", resamples, 1)
    if resamples > 100_000:
        raise ParameterError(f"resamples must be at most 100000, got {resamples}")
    whole("seed", seed, 0)
    if seed >= 2**64:
        raise ParameterError(f"seed must be below 2**64, got {seed}")
    if threads is not None:
        whole("threads", threads, 1)
        if threads > 1024:
            raise ParameterError(f"threads must be at most 1024, got {threads}")
    cb = ProgressLine() if progress else None
    spark = getattr(journeys, "_attribute", None)
    if spark is not None:
        # Journeys gathered on Spark (touchpoint.spark.SparkJourneys).
        return Attribution(spark(specs, by, cb, intervals, resamples, seed, threads or 0))
    remote = getattr(journeys, "_remote", None)
    # Journeys cut in buckets and kept on disk: models that need them read them there, and so does
    # per-journey credit.
    parts = (remote.paths(), remote.period) if remote is not None else None
    if remote is not None and remote_needed(specs, intervals):
        return Attribution(attribute_remote(journeys._inner, specs, by, cb, remote.fit()), parts)
    inner = _touchpoint.attribute(
        journeys._inner,
        specs,
        by,
        cb,
        None if intervals is None else float(intervals),
        resamples,
        seed,
        threads or 0,
    )
    return Attribution(inner, parts)


def remote_needed(specs: Sequence[str], intervals: float | None) -> bool:
    """Whether a model reads the person timelines held elsewhere (on Spark executors, in buckets on
    disk; the core's ``Model::reads_remote``): a timeline model, or time decay by duration (each part
    decays its own journeys, whose touch times the gathered journeys lack). Intervals of these are
    refused: they would resample people or journeys that only the parts hold."""
    from .exceptions import UnsupportedError

    remote = [s for s in specs if _touchpoint.reads_remote(s)]
    if not remote:
        return False
    if intervals is not None:
        names = sorted({json.loads(s)["model"] for s in remote})
        raise UnsupportedError(
            f"intervals of {', '.join(names)} resample people or timed journeys, and these journeys keep their "
            "people's timelines elsewhere (Spark executors, buckets on disk): attribute without intervals, or "
            "run the path models with them"
        )
    return True


def attribute_remote(inner: Any, specs: list[str], by: str, progress: Any, remote: Any) -> _touchpoint.Attribution:
    """Runs the models on aggregated journeys, those whose ``reads_remote`` is true (timeline models,
    time decay) through ``remote`` (an object with ``open(spec)``, ``run(request)``, ``close()`` and
    ``population``; see ``touchpoint_core::hazard::parts``)."""
    try:
        return _touchpoint.attribute_remote(inner, specs, by, progress, remote, remote.population)
    finally:
        remote.close()


class Attribution:
    """Credit per (model, KPI, player), model details, and what could not be attributed."""

    __slots__ = ("_inner", "_parts")

    def __init__(
        self,
        inner: _touchpoint.Attribution,
        parts: tuple[list[tuple[str, int]], tuple[int, int] | None] | None = None,
    ) -> None:
        self._inner = inner
        # The journeys kept on disk in buckets (and the period their timelines are observed over), for
        # per-journey credit of journeys cut out of core.
        self._parts = parts

    @property
    def by(self) -> str:
        """The player dimension."""
        return self._inner.by()

    @property
    def models(self) -> dict[str, Model]:
        """The models run, by label, with every parameter."""
        return {label: from_spec(spec) for label, spec in self._inner.models()}

    def to_polars(self) -> pl.DataFrame:
        """The credit table.

        Returns:
            One row per (model, KPI, player): model, kpi, <by>, conversions, value, share. ``share`` is the
            player's part of the attributed conversions (the conversions the model credited to players,
            so unattributed conversions and any baseline are outside it): shares sum to 1 per model and
            KPI over the players; a KPI without conversions has null shares. Models with a
            baseline (``additive_hazard``) add a ``(baseline)`` row: the conversions that would have
            happened anyway, with a null share; their players' conversions are incremental, and players
            plus baseline sum to every conversion in the period. With intervals, also
            conversions_lower, conversions_upper, value_lower, value_upper, share_lower, share_upper,
            and differs_from_zero (the conversions' interval leaves 0 out: for an incremental model,
            the player's effect is told apart from none at the interval's level).

        Example:
            >>> r.to_polars().filter(pl.col("model") == "markov")  # doctest: +SKIP
        """
        return self._inner.credits()

    @property
    def intervals(self) -> dict[str, Any] | None:
        """The bootstrap behind the intervals: level, resamples, seed and unit (``"paths"`` or
        ``"people"``); ``None`` when the attribution was run without intervals."""
        b = self._inner.bootstrap()
        if b is None:
            return None
        level, resamples, seed, unit = b
        return {"level": level, "resamples": resamples, "seed": seed, "unit": unit}

    def resamples(self) -> pl.DataFrame:
        """Every resample's credit, for numbers of your own with the same draws.

        Returns:
            resample, model, kpi, <by>, conversions, value: one row per resample and credit row (a
            resample a model failed on is left out of that model's rows). Empty without intervals.
        """
        return self._inner.resamples()

    def compare(self, a: str, b: str) -> pl.DataFrame:
        """Whether two models credit each player differently, by their paired difference over the same
        resamples.

        Args:
            a: a model label of this result (``"markov"``).
            b: another label.

        Returns:
            Per KPI and player: kpi, <by>, conversions_a, conversions_b, difference (a - b), lower and
            upper (the interval of the difference at the attribution's level), differs (the interval
            leaves out 0), and the same for the shares: share_difference, share_lower, share_upper,
            share_differs (null for the baseline). A player one model does not credit counts 0 there.
            Compare shares when one model has a baseline (``additive_hazard`` credits only incremental
            conversions, so its conversions are lower by design).

        Raises:
            ParameterError: a label that is not in this result, or a result without intervals.

        Example:
            >>> r = tp.attribute(j, models=["last_touch", "markov"], intervals=0.9)  # doctest: +SKIP
            >>> r.compare("markov", "last_touch").filter(pl.col("share_differs"))  # doctest: +SKIP
        """
        return self._inner.compare(a, b)

    def journey_credits(self, model: str | Sequence[str] | None = None, progress: bool = True) -> pl.DataFrame:
        """The credit of each journey: one row per (journey, player) with credit.

        Each model splits journeys by its own rule. Rule-based models and the Shapley conversions game
        split every converting journey directly, so a player's rows sum to its credit. Markov splits
        each converting journey in proportion to the removal effects (its credit) of the players the
        journey touched, and the Shapley rate game in proportion to their Shapley values: these rows
        sum to the KPI's total but not to each player's credit (see :meth:`journey_credit_gaps`; this is
        not ChannelAttribution's rule either, which has no per-journey credit). The additive-hazard
        model gives one row per (person, KPI, conversion time, player): the player's part of the fitted
        intensity at that conversion, the ``(baseline)`` the rest, so it reaches touches outside any
        journey's lookback; its journey is null. For large logs use :meth:`write_journey_credits`.

        On journeys cut in buckets with a kept ``workdir`` (:meth:`Journeys.from_events`), the kept
        journeys are read back one bucket at a time and credited with this attribution of the whole
        log: the same rows as in memory, journeys numbered bucket after bucket; the additive-hazard
        model's rows apply the fit this attribution keeps (it is not fitted again, in memory either).

        Args:
            model: a model label, several, or ``None`` for every model of this result.
            progress: show a progress line on stderr when the call takes more than half a second.

        Returns:
            model, kpi, journey (the journey's position in the journeys), person (the input id, for
            journeys from an event log or the simulator), time (the conversion time, where known),
            <by>, conversions, value.

        Raises:
            ParameterError: a model that was not run in this attribution.
            UnsupportedError: a result loaded (unpickled) without its journeys; journeys aggregated
                without their journeys kept (Spark, buckets without ``workdir``).
            ReadError: a kept bucket's journeys removed or changed.

        Example:
            >>> r.journey_credits("linear").filter(pl.col("journey") == 0)  # doctest: +SKIP
        """
        cb = ProgressLine() if progress else None
        return self._inner.journey_credits(_labels(model), cb, *self._part_args())

    def rollout_panel(
        self, model: str, every: str = "7d", kpi: str | None = None, progress: bool = True
    ) -> pl.DataFrame:
        """The outcome panel of a programme rollout, from this attribution: one row per player of its
        dimension (``by="actor"``: each employee) and period, ready for :func:`touchpoint.rollout_effect`.

        Periods of length ``every`` start at the journeys' observation period (the last may be shorter).
        Every player with a touch is a unit, and every unit has every period (zeros where nothing
        happened), so the panel is balanced. Conversions are dated by their time; the ``(baseline)``
        is not a unit. Join each player's first treated period (in ``period`` numbers) and call
        :func:`touchpoint.rollout_effect` with ``outcome="value"`` (what the player added, by this model)
        and again with ``outcome="touches"`` (activity): see ``docs/rollouts.md`` on why both.

        Args:
            model: the model label whose credit is the outcome (an incremental model, such as
                ``additive_hazard``, to ask what the players caused).
            every: the period length, a duration such as ``"7d"`` or ``"1d"``.
            kpi: one KPI, or ``None`` for all.
            progress: show a progress line on stderr when the call takes more than half a second.

        Returns:
            <by>, period (1, 2, ...), start (the period's first instant, UTC), touches, conversions,
            value.

        Raises:
            ParameterError: a model that was not run, a bad duration, journeys without timelines (a path
                table).
        """
        cb = ProgressLine() if progress else None
        df, (_periods, _players, _baseline, untimed) = self._inner.rollout_panel(
            model, every, kpi, cb, *self._part_args()
        )
        if untimed:
            warnings.warn(f"{untimed:,} credit rows without a time were left out of the panel", stacklevel=2)
        return df

    def journey_credit_gaps(self, model: str | Sequence[str] | None = None) -> pl.DataFrame:
        """How far each player's journey rows (:meth:`journey_credits`) are from its credit.

        Returns:
            model, kpi, <by>, journeys (the rows' sum), credit (the aggregate), gap (journeys - credit):
            zero to rounding for the rule-based models, the conversions game and the additive-hazard model
            without lift tests; for Markov and the rate game the gaps sum to zero per KPI.
        """
        return self._inner.journey_credit_gaps(_labels(model), *self._part_args()).rename({"player": self.by})

    def write_journey_credits(
        self, path: str | Path, model: str | Sequence[str] | None = None, progress: bool = True
    ) -> int:
        """Writes :meth:`journey_credits` to a Parquet file, in batches of about a million rows, so the
        whole table is never held in memory.

        Args:
            path: the Parquet file to write.
            model: a model label, several, or ``None`` for every model.
            progress: show a progress line on stderr when the call takes more than half a second.

        Returns:
            The number of rows written.

        Raises:
            ReadError: the file cannot be written.
            ParameterError: a model that was not run in this attribution.
        """
        cb = ProgressLine() if progress else None
        return self._inner.write_journey_credits(str(path), _labels(model), cb, *self._part_args())

    def _part_args(self) -> tuple[list[tuple[str, int]] | None, tuple[int, int] | None]:
        """The kept buckets' journey files (with their checksums) and period, for the per-journey credit
        of journeys cut out of core; (None, None) for journeys in memory."""
        if self._parts is None:
            return None, None
        return self._parts

    def to_pandas(self) -> Any:
        """:meth:`to_polars` as a pandas DataFrame.

        Returns:
            A pandas DataFrame with the same columns (needs pandas and pyarrow).
        """
        return self.to_polars().to_pandas()

    def to_dict(self) -> dict[str, Any]:
        """The whole result as plain Python data.

        Returns:
            A dict with the models and their parameters, the credit rows, model details, the
            unattributed table, the ingestion summary and the warnings (what pickling stores).
        """
        return json.loads(self._inner.to_json())

    @property
    def unattributed(self) -> pl.DataFrame:
        """Conversions without journeys: kpi, reason, conversions, value."""
        return self._inner.unattributed()

    @property
    def summary(self) -> pl.DataFrame:
        """The journeys' ingestion summary."""
        return self._inner.summary()

    @property
    def warnings(self) -> list[str]:
        """Things to know about this result."""
        return self._inner.warnings()

    @property
    def table_names(self) -> list[str]:
        """The names of the model tables in this result (see :meth:`table`)."""
        return self._inner.table_names()

    def table(self, name: str) -> pl.DataFrame:
        """A table of model output beyond the credit, by name.

        The additive-hazard model writes ``hazard_parameters`` (per player: beta, the expected extra
        conversions per exposure, and its standard error; half_life_days and its standard error;
        expected_conversions = beta x the exposures' kernel mass inside the period; and per baseline
        group baseline_per_day with its standard error), ``hazard_fit`` (method, iterations, the
        reached Newton decrement, log-likelihood, people) and, with lift tests, ``lift_tests`` (each
        test's influence: the observational beta, z of the difference, credit before and after).

        Args:
            name: the table's name.

        Returns:
            model, kpi, then the model's columns.

        Raises:
            ParameterError: no table of that name (the message lists the ones there are).
        """
        return self._inner.table(name)

    def removal_effects(self) -> pl.DataFrame:
        """Markov removal effects.

        Returns:
            model, kpi, <by>, removal_effect (1 - P(conversion without the player) / P(conversion)),
            value_removal_effect (the same ratio on expected value); empty without a Markov model.
        """
        return self._inner.removal_effects()

    def transition_matrix(self, model: str = "markov", kpi: str | None = None) -> pl.DataFrame:
        """Transition probabilities of a Markov model for one KPI: from, to, probability.

        Args:
            model: the model label (``"markov"``, or ``"markov(order=2)"`` when several ran).
            kpi: the KPI; may be omitted when there is one.

        Returns:
            from, to, probability, from_players, to_players; states are named by their players
            (``"a > b"`` at order 2), with ``(start)``, ``(conversion)`` and ``(null)``; the list columns
            hold the players exactly (a name may itself contain ``" > "``).

        Raises:
            ParameterError: no such model or KPI in the result, a model that is not Markov, or several
                KPIs and none named.
        """
        from .exceptions import ParameterError

        kpis = self.to_polars()["kpi"].unique(maintain_order=True).to_list()
        if kpi is None:
            if len(kpis) != 1:
                raise ParameterError(f"name the KPI: this result has {', '.join(kpis)}")
            kpi = kpis[0]
        elif kpi not in kpis:
            raise ParameterError(f"no KPI `{kpi}` in this result; it has: {', '.join(kpis)}")
        specs = dict(self._inner.models())
        if model not in specs:
            raise ParameterError(f"no model `{model}` in this result; it has: {', '.join(specs)}")
        if json.loads(specs[model]).get("model") != "markov":
            chains = [label for label, spec in specs.items() if json.loads(spec).get("model") == "markov"]
            here = ", ".join(chains) or "none"
            raise ParameterError(f"`{model}` is not a Markov model and has no transitions; Markov models here: {here}")
        return self._inner.transitions(model, kpi)

    def standard_errors(self) -> pl.DataFrame:
        """Standard errors of sampled credit (the sampled `rate` Shapley game).

        Returns:
            model, kpi, <by>, se, in credited conversions; empty when nothing was sampled.
        """
        return self._inner.standard_errors()

    def position_credits(self) -> pl.DataFrame:
        """Ordered Shapley credit by the position where each player first appears.

        Returns:
            model, kpi, <by>, position (1-based), conversions, value; summed over positions it equals the
            main table. Empty without ``Shapley(ordered=True)``.
        """
        return self._inner.position_credits()

    def plot(self, kpi: str | None = None, value: str = "share") -> Any:
        """Grouped bars of credit by player and model for one KPI.

        Args:
            kpi: the KPI (the first by default).
            value: ``"share"``, ``"conversions"`` or ``"value"``.

        Returns:
            The matplotlib Figure (``plt.show()`` is not called).
        """
        from .plotting import credit_bars

        return credit_bars(self, kpi, value)

    def comparison_table(self) -> str:
        """Players x models, credited conversions, per KPI, as text."""
        return self._inner.comparison_table()

    def _repr_html_(self) -> str:
        """A compact table: per model and KPI, the top players by credited share."""
        import html

        df = self.to_polars()
        boot = self.intervals
        rows = []

        def share(r: dict[str, Any]) -> str:
            p, s = html.escape(str(r[self.by])), r["share"]
            if s is None:
                return p
            if boot is not None and r.get("share_lower") is not None:
                return f"{p} {s:.1%} [{r['share_lower']:.1%}, {r['share_upper']:.1%}]"
            return f"{p} {s:.1%}"

        for (model, kpi), part in df.group_by(["model", "kpi"], maintain_order=True):
            top = part.sort("conversions", descending=True).head(5)
            cells = ", ".join(share(r) for r in top.iter_rows(named=True))
            total = part["conversions"].sum()
            rows.append(
                f"<tr><td>{html.escape(str(model))}</td><td>{html.escape(str(kpi))}</td>"
                f"<td style='text-align:right'>{total:,.1f}</td><td>{cells}</td></tr>"
            )
        head = f"<tr><th>model</th><th>KPI</th><th>conversions</th><th>top {html.escape(self.by)}s (share)</th></tr>"
        notes = "".join(f"<li>{html.escape(w)}</li>" for w in self.warnings)
        about = ""
        if boot is not None:
            about = f"; {boot['level']:.0%} intervals from {boot['resamples']} resamples of {boot['unit']}"
        return (
            f"<p><b>Attribution</b> by {html.escape(self.by)}{about}</p><table><thead>{head}</thead>"
            f"<tbody>{''.join(rows)}</tbody></table>" + (f"<ul>{notes}</ul>" if notes else "")
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (_from_json, (self._inner.to_json(),))

    def __repr__(self) -> str:
        df = self.to_polars()
        labels = ", ".join(label for label, _ in self._inner.models())
        kpis = df["kpi"].n_unique() if df.height else 0
        return f"Attribution(by={self.by!r}, models=[{labels}], {kpis} KPI(s), {df.height} rows)"


def _labels(model: str | Sequence[str] | None) -> list[str]:
    if model is None:
        return []
    if isinstance(model, str):
        return [model]
    return list(model)


def _from_json(text: str) -> Attribution:
    return Attribution(_touchpoint.Attribution.from_json(text))


@dataclass(frozen=True)
class OrderChoice:
    """Cross-validated AUC per Markov order."""

    table: pl.DataFrame
    suggested: int
    warnings: list[str] = field(default_factory=list)


def choose_order(
    journeys: Journeys,
    max_order: int = 4,
    folds: int = 5,
    seed: int = 0,
    kpi: str | None = None,
    by: str = "channel",
    progress: bool = True,
) -> OrderChoice:
    """Chooses the Markov order by k-fold cross-validation (AUC of predicted conversion).

    Args:
        journeys: journeys with null (non-converting) records.
        max_order: highest order tried.
        folds: number of folds (>= 2).
        seed: seed of the fold split.
        kpi: the KPI (may be omitted when there is one).
        by: the player dimension.
        progress: show a progress line on stderr when the call takes more than half a second.

    Returns:
        An :class:`OrderChoice` with ``table`` (order, auc, folds_scored), ``suggested`` (the best
        AUC; the lowest order within 1e-4 of it) and ``warnings`` (folds without both conversions and
        nulls, which have no AUC and are left out of the mean). Folds are keyed to records (a hash of the
        seed, the path's players and the record's rank among that path's records), so the choice does not
        depend on row order.

    Raises:
        ParameterError: max_order outside 1..16, fewer than 2 folds, several KPIs and none named.
        UnsupportedError: the KPI has no null journeys to score against, or no fold holds both
            conversions and nulls.

    Example:
        >>> tp.choose_order(j, max_order=3).suggested  # doctest: +SKIP
    """
    for name, v, low in (("max_order", max_order, 1), ("folds", folds, 2), ("seed", seed, 0)):
        whole(name, v, low)
    cb = ProgressLine() if progress else None
    rows, suggested, warnings = _touchpoint.choose_order(journeys._inner, max_order, folds, seed, kpi, by, cb)
    table = pl.DataFrame(rows, schema={"order": pl.UInt32, "auc": pl.Float64, "folds_scored": pl.UInt32}, orient="row")
    return OrderChoice(table=table, suggested=suggested, warnings=warnings)
