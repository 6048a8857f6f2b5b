"""Journeys from event logs on Spark: the heavy step where the data lives, the models on one machine.

Turning a touch log into journeys needs every event of a person together; the path models then read
only distinct paths with their counts, which are small and add up across parts of the log. So
:func:`journeys` repartitions both tables by a hash of the person, runs the same Rust journey builder
as :meth:`touchpoint.Journeys.from_events` on each partition (through Arrow, ``mapInArrow``), sums the
per-partition statistics by path in Spark, and keeps the result as a Spark DataFrame.
:meth:`SparkJourneys.to_journeys` collects it into :class:`touchpoint.Journeys` on the driver, where
the path models (rule-based without times, Markov, Shapley) give the same credit as on journeys
from ``from_events`` (to rounding in the order of sums).

The additive-hazard model reads person timelines, which stay on the executors: ``tp.attribute`` on
:class:`SparkJourneys` fits it by sufficient statistics. Each partition builds its part of the fit data
once and keeps it (a cached DataFrame); every pass of the fit (EM, Newton, line search) sends the
parameters to the partitions, which answer with their sums (log-likelihood, gradient, Hessian, E-step
sums, compensators), and the driver adds them and steps, as on one machine (see
``touchpoint_core::hazard::parts``). The fit equals ``from_events``' to rounding in the order of sums.

Time decay by duration (``half_life``) runs through ``tp.attribute`` on the :class:`SparkJourneys`
the same way: each partition decays its own journeys (it has their touch times) and returns its credit
per player, which the driver adds; exact up to the order of sums. What needs each journey's touch times
or its person in the journeys themselves does not run on :meth:`SparkJourneys.to_journeys`, and says so
with an :class:`~touchpoint.UnsupportedError`: time decay by duration there, per-journey credit, and
intervals of the additive-hazard model or of time decay by duration (they resample people or timed
journeys). Intervals of path models resample the aggregated journeys (unit ``paths``), not people.

Needs the extra ``touchpoint[spark]`` (pyspark >= 4.0, < 5) and the touchpoint wheel on the executors:
see docs/spark.md.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import polars as pl

from . import _touchpoint
from ._checks import whole
from ._parts import Sums, cut_part, describe, iso_us, kpi_names, side_records
from .exceptions import ColumnError, InputError, ParameterError, TouchpointError, UnsupportedError
from .journeys import _EVENT_VALUE, Journeys, _DefaultName, _lookbacks, _period_text

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa
    from pyspark.sql import DataFrame

__all__ = ["journeys", "SparkJourneys"]

_KIND, _KEY = "_tp_kind", "_tp_key"
_ORIGIN = "on Spark"
_TIME_TYPES = ("TimestampType", "TimestampNTZType", "DateType", "StringType")
_ID_TYPES = ("ByteType", "ShortType", "IntegerType", "LongType", "FloatType", "DoubleType", "DecimalType", "StringType")


def _spark() -> Any:
    try:
        from pyspark.sql import functions
    except ImportError as e:  # pragma: no cover - the tests run with pyspark
        raise ImportError("touchpoint.spark needs pyspark >= 4.0: pip install 'touchpoint[spark]' (and Java 17)") from e
    return functions


class SparkJourneys:
    """Journey statistics gathered on Spark: distinct paths with what their journeys add up to.

    Attributes:
        statistics: a Spark DataFrame (cached) with one row per distinct (KPI, path): ``kpi``, ``path``
            (the channels, an array of text), ``path_<dim>`` for each extra dimension, ``conversions``,
            ``value``, ``nulls``, ``journeys`` (journeys with conversions) and ``null_journeys``.
        dims: the extra dimensions carried.
        kpis: every KPI of the log.
        warnings: what the readers noticed (as :attr:`touchpoint.Journeys.warnings`).
    """

    def __init__(
        self,
        statistics: DataFrame,
        dims: list[str],
        kpis: list[str],
        unattributed: list[tuple[str, str, float, float]],
        trimmed: list[tuple[str, int]],
        input_touches: list[tuple[str, str, float]],
        warnings: list[str],
        events: DataFrame | None = None,
        options: dict[str, Any] | None = None,
        population: int | None = None,
    ) -> None:
        self.statistics = statistics
        self.dims = dims
        self.kpis = kpis
        self._unattributed = unattributed
        self._trimmed = trimmed
        self._input = input_touches
        self.warnings = warnings
        self._events = events
        self._options = options
        self.population = population
        self._journeys: Journeys | None = None

    def to_journeys(self) -> Journeys:
        """Collects the statistics on the driver as :class:`touchpoint.Journeys`, one row per distinct
        path (``len`` counts paths; the summary counts journeys). The path models run on them as on
        journeys from ``from_events``; what needs times or persons raises UnsupportedError (the
        additive-hazard model runs through ``tp.attribute`` on this object instead)."""
        if self._journeys is None:
            self._journeys = self._collect()
        return self._journeys

    def _collect(self) -> Journeys:
        table = self.statistics.toArrow()
        paths = pl.from_arrow(table)
        assert isinstance(paths, pl.DataFrame)
        inner = _touchpoint.Journeys.from_statistics(
            paths,
            self.dims,
            self.kpis,
            self._unattributed,
            self._trimmed,
            self._input,
            self.warnings,
            _ORIGIN,
        )
        return Journeys(inner)

    @property
    def unattributed(self) -> pl.DataFrame:
        """Conversions that entered without a journey: kpi, reason, conversions, value (as
        :attr:`touchpoint.Journeys.unattributed`)."""
        rows = sorted(self._unattributed)
        return pl.DataFrame(
            {
                "kpi": [r[0] for r in rows],
                "reason": [r[1] for r in rows],
                "conversions": [r[2] for r in rows],
                "value": [r[3] for r in rows],
            },
            schema={"kpi": pl.String, "reason": pl.String, "conversions": pl.Float64, "value": pl.Float64},
        )

    @property
    def summary(self) -> pl.DataFrame:
        """One row per KPI, computed in Spark, as :attr:`touchpoint.Journeys.summary` of the same log:
        kpi, touches, journeys, null_journeys, conversions, attributed, unattributed, trimmed_touches."""
        f = _spark()
        per_kpi = {
            r["kpi"]: r
            for r in self.statistics.groupBy("kpi")
            .agg(
                f.sum(f.size("path") * (f.col("journeys") + f.col("null_journeys"))).alias("touches"),
                f.sum("journeys").alias("journeys"),
                f.sum("null_journeys").alias("null_journeys"),
                f.sum("conversions").alias("attributed"),
            )
            .collect()
        }
        unattributed: dict[str, float] = {}
        for kpi, _, c, _ in self._unattributed:
            unattributed[kpi] = unattributed.get(kpi, 0.0) + c
        trimmed = dict(self._trimmed)
        rows = []
        for kpi in sorted(self.kpis):
            r = per_kpi.get(kpi)
            attributed = float(r["attributed"] or 0.0) if r else 0.0
            rows.append(
                (
                    kpi,
                    int(r["touches"] or 0) if r else 0,
                    int(r["journeys"] or 0) if r else 0,
                    int(r["null_journeys"] or 0) if r else 0,
                    attributed + unattributed.get(kpi, 0.0),
                    attributed,
                    unattributed.get(kpi, 0.0),
                    trimmed.get(kpi, 0),
                )
            )
        schema = {
            "kpi": pl.String,
            "touches": pl.UInt64,
            "journeys": pl.UInt64,
            "null_journeys": pl.UInt64,
            "conversions": pl.Float64,
            "attributed": pl.Float64,
            "unattributed": pl.Float64,
            "trimmed_touches": pl.UInt64,
        }
        return pl.DataFrame(rows, schema=schema, orient="row")

    def __repr__(self) -> str:
        return f"SparkJourneys(KPIs: {', '.join(self.kpis)}; dims: {', '.join(['channel', *self.dims])})"

    def _attribute(
        self,
        specs: list[str],
        by: str,
        progress: Any,
        intervals: float | None,
        resamples: int,
        seed: int,
        threads: int,
    ) -> Any:
        """``tp.attribute`` on these journeys: path models on :meth:`to_journeys`, timeline models
        (the additive-hazard model) by sufficient statistics from the partitions, time decay by duration
        by the partitions' credit."""
        from .attribution import attribute_remote, remote_needed

        j = self.to_journeys()
        if not remote_needed(specs, intervals):
            return _touchpoint.attribute(j._inner, specs, by, progress, intervals, resamples, seed, threads)
        if self._events is None or self._options is None:  # pragma: no cover - made by journeys()
            raise UnsupportedError("these Spark journeys were not made by tp.spark.journeys")
        return attribute_remote(j._inner, specs, by, progress, _Remote(self._events, self._options, self.population))


def journeys(
    touches: DataFrame,
    conversions: DataFrame,
    person: str = "user_id",
    time: str = "ts",
    channel: str = "channel",
    kpi: str = "kpi",
    value: str | None = _EVENT_VALUE,
    lookback: str | Mapping[str, str] = "30d",
    dims: Sequence[str] = (),
    interaction_lookback: Mapping[str, str] | None = None,
    max_touches: int | None = None,
    tz: str = "UTC",
    period: tuple[Any, Any] | None = None,
    partitions: int | None = None,
    population: int | None = None,
) -> SparkJourneys:
    """Cuts journeys from an event log held in Spark DataFrames, as
    :meth:`touchpoint.Journeys.from_events` does in memory, and gathers them as distinct paths.

    Every argument shared with ``from_events`` means the same. The work runs at once (like
    ``from_events``): bad input raises here, on the driver, and the statistics are cached.

    Args:
        touches: Spark DataFrame with ``person``, ``time``, ``channel`` and the ``dims`` columns.
        conversions: Spark DataFrame with ``person``, ``time``, ``kpi`` (optional) and ``value``
            (optional).
        person: person id column (whole numbers or text) in both tables.
        time: timestamp column in both: timestamp, timestamp_ntz (read in ``tz``), date or ISO-8601 text.
        channel, kpi, value, lookback, dims, interaction_lookback, max_touches, tz, period: as in
            :meth:`touchpoint.Journeys.from_events`.
        partitions: how many partitions to hash the people into (default: Spark's
            ``spark.sql.shuffle.partitions``). The result does not depend on it.
        population: as in ``from_events``: the people at risk, including those without any event,
            which the additive-hazard model's baseline needs (the path models don't read it).

    Returns:
        SparkJourneys: the statistics (a cached Spark DataFrame), the unattributed conversions, the
        summary, and :meth:`SparkJourneys.to_journeys`.

    Raises:
        ColumnError: a column is missing, or a person id or timestamp column has a type that cannot
            hold ids or times (named with its Spark type).
        InputError: a null person id, an unparseable timestamp, a negative value..., named with the
            column and the offending record's values (Spark has no row order to name a row by).
        ParameterError: as ``from_events``.
    """
    f = _spark()
    if isinstance(dims, str):
        dims = [dims]
    dims = [str(d) for d in dims]
    whole("max_touches", max_touches, 1, optional=True)
    whole("partitions", partitions, 1, optional=True)
    whole("population", population, 1, optional=True)
    default, per_kpi = _lookbacks(lookback)
    inter = [(str(k), str(v)) for k, v in (interaction_lookback or {}).items()]
    period_text = _period_text(period)
    _touchpoint.Journeys.check_event_options(
        person, time, channel, kpi, value, default, per_kpi, dims, inter, max_touches, tz, period_text
    )

    # Columns and their types, from the schemas (no data read yet).
    t_types = _types(touches, "touches", [person, time, channel, *[d for d in dims if d != "channel"]])
    has_kpi = kpi in conversions.columns
    if not has_kpi and kpi != "kpi":
        _missing(conversions, kpi, "conversions")
    has_value = value is not None and value in conversions.columns
    if value is not None and not has_value and not isinstance(value, _DefaultName):
        _missing(conversions, value, "conversions")
    c_types = _types(
        conversions, "conversions", [person, time, *([kpi] if has_kpi else []), *([value] if has_value else [])]
    )
    for table, types in (("touches", t_types), ("conversions", c_types)):
        if types[time] not in _TIME_TYPES:
            raise ColumnError(
                f"column `{time}` of the {table} table must be a timestamp, a date or ISO-8601 text, "
                f"found Spark type {types[time]}"
            )
        if types[person] not in _ID_TYPES:
            raise ColumnError(
                f"person id column `{person}` of the {table} table must hold whole numbers or text, "
                f"found Spark type {types[person]}"
            )

    # Every KPI of the log: each partition cuts null journeys for all of them.
    if has_kpi:
        raw = pl.from_arrow(conversions.select(kpi).distinct().toArrow())
        assert isinstance(raw, pl.DataFrame)
        names = kpi_names(raw)
        if names.null_count():
            blank = [v for v, n in zip(raw.to_series(0).to_list(), names.to_list(), strict=True) if n is None]
            known = [v for v in blank if v is not None]
            cond = f.col(kpi).isNull() | f.col(kpi).isin(known) if known else f.col(kpi).isNull()
            bad = conversions.filter(cond).limit(1).collect()[0].asDict()
            raise InputError(f"null in column `{kpi}` of the conversions table: {describe(bad)}")
        kpis = sorted(set(names.to_list()))
    else:
        kpis = ["conversions"] if conversions.limit(1).count() else []
    if not kpis:
        raise ParameterError(
            'invalid option `conversions` = "0 rows": the conversions table is empty: there is no KPI to cut '
            "journeys for"
        )
    for k, _ in per_kpi:
        if k not in kpis:
            raise ParameterError(
                f"invalid option `lookback` = {k!r}: no such KPI in the conversions table (it has: {', '.join(kpis)})"
            )

    key_t = _person_key(f, t_types[person], person)
    key_c = _person_key(f, c_types[person], person)
    dim_cols = [(d, f"_tp_d_{d}") for d in dims if d != "channel"]
    t = touches.select(
        f.lit(0).alias(_KIND),
        key_t.alias(_KEY),
        f.col(person).alias("_tp_t_person"),
        f.col(time).alias("_tp_t_time"),
        f.col(channel).alias("_tp_channel"),
        *[f.col(d).alias(alias) for d, alias in dim_cols],
    )
    c = conversions.select(
        f.lit(1).alias(_KIND),
        key_c.alias(_KEY),
        f.col(person).alias("_tp_c_person"),
        f.col(time).alias("_tp_c_time"),
        *([f.col(kpi).alias("_tp_kpi")] if has_kpi else []),
        *([f.col(value).alias("_tp_value")] if has_value else []),
    )
    both = t.unionByName(c, allowMissingColumns=True)
    both = both.repartition(partitions, _KEY) if partitions else both.repartition(_KEY)
    extra = [d for d in dims if d != "channel"]
    options = {
        "person": person,
        "time": time,
        "channel": channel,
        "kpi": kpi,
        "value": value,
        "value_is_default": isinstance(value, _DefaultName),
        "has_value": has_value,
        "lookback": default,
        "per_kpi": per_kpi,
        "dims": dims,
        "extra": extra,
        "inter": inter,
        "max_touches": max_touches,
        "tz": tz,
        "period": period_text,
        "kpis": kpis,
    }
    schema = _schema(extra)
    rows = both.mapInArrow(_Cutter(options), schema)
    keys = ["record", "kpi", "path", *[f"path_{d}" for d in extra], "reason", "dimension", "player", "message"]
    summed = rows.groupBy(*keys).agg(
        *[f.sum(n).alias(n) for n in ("conversions", "value", "nulls", "journeys", "null_journeys", "touches")]
    )
    summed = summed.persist()
    side = [r.asDict() for r in summed.filter(f.col("record") != "path").collect()]
    errors = sorted((r["reason"], r["message"]) for r in side if r["record"] == "error")
    if errors:
        summed.unpersist()
        cls, message = errors[0]
        raise _error_class(cls)(message)
    starts = [int(r["message"]) for r in side if r["record"] == "period" and r["reason"] == "start"]
    ends = [int(r["message"]) for r in side if r["record"] == "period" and r["reason"] == "end"]
    sums = Sums()
    sums.add(side)
    unattributed, trimmed, input_touches, warnings = sums.gathered()
    if inter:
        seen = {p for d, p, _ in input_touches if d == "interaction"}
        missing = [k for k, _ in inter if k not in seen]
        if missing:
            summed.unpersist()
            raise ParameterError(
                f"invalid option `interaction_lookback` = {missing[0]!r}: no such interaction in the touches "
                f"(they have: {', '.join(sorted(seen))})"
            )
    statistics = summed.filter(f.col("record") == "path").select(
        "kpi", "path", *[f"path_{d}" for d in extra], "conversions", "value", "nulls", "journeys", "null_journeys"
    )
    # The whole log's period, for the parts of timeline-model fits: the caller's, or from the first
    # event of any partition to just after the last one (from_events' default).
    if period_text is None and starts:
        options["period"] = (iso_us(min(starts)), iso_us(max(ends)))
    return SparkJourneys(
        statistics, extra, kpis, unattributed, trimmed, input_touches, warnings, both, options, population
    )


def _types(df: DataFrame, table: str, columns: list[str]) -> dict[str, str]:
    """The Spark type name of each column, or a ColumnError naming a missing one."""
    types = {fld.name: type(fld.dataType).__name__ for fld in df.schema.fields}
    for c in columns:
        if c not in types:
            _missing(df, c, table)
    return types


def _missing(df: DataFrame, column: str, table: str) -> None:
    have = ", ".join(f"`{c}`" for c in df.columns)
    raise ColumnError(f"missing column `{column}` in the {table} table; the table has: {have}")


def _person_key(f: Any, mine: str, column: str) -> Any:
    """The person as text, equal for equal persons under from_events' rule (numbers as numbers, text
    trimmed of Unicode whitespace, a number facing text written as its whole number), so both tables
    send a person's events to one partition."""
    col = f.col(column)
    if mine == "StringType":
        return f.regexp_replace(col, r"(?U)^\s+|\s+$", "")
    if mine in ("FloatType", "DoubleType", "DecimalType"):
        # Whole numbers as integers (1.0 is person 1); fractions stay as they are and fail in the
        # partition with from_events' error.
        return f.when(col == f.floor(col), f.floor(col).cast("decimal(38,0)").cast("string")).otherwise(
            col.cast("string")
        )
    return col.cast("string")


def _schema(extra: list[str]) -> str:
    paths = "".join(f", path_{d} array<string>" for d in extra)
    return (
        f"record string, kpi string, path array<string>{paths}, conversions double, value double, nulls double, "
        "journeys long, null_journeys long, reason string, dimension string, player string, touches double, "
        "message string"
    )


def _error_class(name: str) -> type[TouchpointError]:
    from . import exceptions

    cls = getattr(exceptions, name, TouchpointError)
    return cls if isinstance(cls, type) and issubclass(cls, TouchpointError) else TouchpointError


class _Cutter:
    """The work of one partition: its events in, its statistics out (picklable for the executors)."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.o = options

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        tables = _tables(batches, self.o)
        if tables is None:
            return
        try:
            j, paths, inputs = cut_part(*tables, self.o)
        except TouchpointError as e:
            yield self._error(e)
            return
        del tables
        yield from self._records(j, paths, inputs)

    def _records(self, j: Any, paths: pl.DataFrame, inputs: pl.DataFrame) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa

        schema = self._arrow_schema()
        n = paths.height
        cols: dict[str, Any] = {
            "record": pa.array(["path"] * n, pa.string()),
            "kpi": paths.get_column("kpi").to_arrow().cast(pa.string()),
            "path": paths.get_column("path").to_arrow().cast(pa.list_(pa.string())),
        }
        for d in self.o["extra"]:
            cols[f"path_{d}"] = paths.get_column(f"path_{d}").to_arrow().cast(pa.list_(pa.string()))
        for name in ("conversions", "value", "nulls"):
            cols[name] = paths.get_column(name).to_arrow().cast(pa.float64())
        for name in ("journeys", "null_journeys"):
            cols[name] = paths.get_column(name).to_arrow().cast(pa.int64())
        yield pa.RecordBatch.from_arrays([cols.get(fld.name, pa.nulls(n, fld.type)) for fld in schema], schema=schema)
        side = side_records(j, inputs)
        if self.o["period"] is None and j.period() is not None:
            start, end = j.period()
            side += [
                {"record": "period", "reason": "start", "message": str(start)},
                {"record": "period", "reason": "end", "message": str(end)},
            ]
        if side:
            yield pa.RecordBatch.from_pylist(side, schema=schema)

    def _error(self, e: TouchpointError) -> pa.RecordBatch:
        """The error as a record: its class and its message (which names the offending record)."""
        import pyarrow as pa

        record = {"record": "error", "reason": type(e).__name__, "message": str(e)}
        return pa.RecordBatch.from_pylist([record], schema=self._arrow_schema())

    def _arrow_schema(self) -> pa.Schema:
        import pyarrow as pa

        fields = [
            pa.field("record", pa.string()),
            pa.field("kpi", pa.string()),
            pa.field("path", pa.list_(pa.string())),
            *[pa.field(f"path_{d}", pa.list_(pa.string())) for d in self.o["extra"]],
            pa.field("conversions", pa.float64()),
            pa.field("value", pa.float64()),
            pa.field("nulls", pa.float64()),
            pa.field("journeys", pa.int64()),
            pa.field("null_journeys", pa.int64()),
            pa.field("reason", pa.string()),
            pa.field("dimension", pa.string()),
            pa.field("player", pa.string()),
            pa.field("touches", pa.float64()),
            pa.field("message", pa.string()),
        ]
        return pa.schema(fields)


def _tables(batches: Iterator[pa.RecordBatch], o: Mapping[str, Any]) -> tuple[pl.DataFrame, pl.DataFrame] | None:
    """A partition's touches and conversions under the caller's column names (None when empty)."""
    import pyarrow as pa

    got = list(batches)
    if not got or not sum(b.num_rows for b in got):
        return None
    both = pl.from_arrow(pa.Table.from_batches(got))
    assert isinstance(both, pl.DataFrame)
    touches = both.filter(pl.col(_KIND) == 0).select(
        pl.col("_tp_t_person").alias(o["person"]),
        pl.col("_tp_t_time").alias(o["time"]),
        pl.col("_tp_channel").alias(o["channel"]),
        *[pl.col(f"_tp_d_{d}").alias(d) for d in o["extra"]],
    )
    conversions = both.filter(pl.col(_KIND) == 1).select(
        pl.col("_tp_c_person").alias(o["person"]),
        pl.col("_tp_c_time").alias(o["time"]),
        *([pl.col("_tp_kpi").alias(o["kpi"])] if "_tp_kpi" in both.columns else []),
        *([pl.col("_tp_value").alias(o["value"])] if o["has_value"] else []),
    )
    return touches, conversions


_PART_SCHEMA = "shape binary, part binary, reason string, message string"
_SUMS_SCHEMA = "sums binary, reason string, message string"


class _PartBuilder:
    """One partition's answer to the driver's opening: its events cut into journeys and timelines with
    the whole log's period, then what the spec asks for: its part of an additive-hazard fit (kept), or
    its credit of its own journeys by a model (time decay by duration) (picklable for the executors)."""

    def __init__(self, options: Mapping[str, Any], spec: bytes) -> None:
        self.o = options
        self.spec = spec

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa

        tables = _tables(batches, self.o)
        if tables is None:
            return
        try:
            j, _, _ = cut_part(*tables, self.o)
            shape, part = _touchpoint.remote_part(j, self.spec)
            row = {"shape": shape, "part": part, "reason": None, "message": None}
        except TouchpointError as e:
            row = {"shape": None, "part": None, "reason": type(e).__name__, "message": str(e)}
        yield pa.RecordBatch.from_pylist([row], schema=_arrow(_PART_SCHEMA))


class _Answer:
    """Every part of a partition answers one pass of the driver's fit; the partition returns their sum
    (one answer per partition, not per part, for the driver to collect)."""

    def __init__(self, request: bytes) -> None:
        self.request = request

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa

        total: bytes | None = None
        try:
            for batch in batches:
                column = batch.column(0)
                for i in range(len(column)):
                    # pyspark 4.0 hands binary values over as bytearray, later versions as bytes.
                    one = _touchpoint.hazard_answer(bytes(column[i].as_py()), self.request)
                    total = one if total is None else _touchpoint.hazard_sum([total, one])
            row = {"sums": total, "reason": None, "message": None}
        except TouchpointError as e:
            row = {"sums": None, "reason": type(e).__name__, "message": str(e)}
        if row["sums"] is not None or row["reason"] is not None:
            yield pa.RecordBatch.from_pylist([row], schema=_arrow(_SUMS_SCHEMA))


def _arrow(ddl: str) -> pa.Schema:
    import pyarrow as pa

    types = {"binary": pa.binary(), "string": pa.string()}
    return pa.schema([pa.field(n, types[t]) for n, t in (f.split() for f in ddl.split(", "))])


class _Remote:
    """The partitions of a log held by Spark (the driver's side of
    ``touchpoint_core::hazard::parts::Remote``): :meth:`open` has every partition answer a spec (build
    and cache its part of a fit, or credit its journeys); :meth:`run` has every part of a fit answer
    one pass and collects the answers."""

    def __init__(self, events: DataFrame, options: Mapping[str, Any], population: int | None) -> None:
        self.events = events
        self.options = options
        self.population = population
        self.parts: DataFrame | None = None
        self.cached: DataFrame | None = None

    def open(self, spec: bytes) -> list[bytes]:
        self.close()
        built = self.events.mapInArrow(_PartBuilder(self.options, spec), _PART_SCHEMA).persist()
        self.cached = built
        f = _spark()
        rows = built.select("shape", f.length("part").alias("size"), "reason", "message").collect()
        errors = sorted((r["reason"], r["message"]) for r in rows if r["reason"] is not None)
        if errors:
            raise _error_class(errors[0][0])(errors[0][1])
        parts = built.select("part")
        try:
            width = parts.sparkSession.sparkContext.defaultParallelism
        except Exception:  # noqa: BLE001 - Spark Connect has no sparkContext: keep the partitions
            width = None
        if width:
            # Fewer tasks per pass, but no more than about 512 MB of parts in a partition (Arrow's
            # binary columns hold at most 2 GB per batch).
            total = sum(r["size"] or 0 for r in rows)
            width = max(width, -(-total // (512 << 20)))
            if width < len(rows):
                parts = parts.coalesce(width)
        self.parts = parts
        return [bytes(r["shape"]) for r in rows]

    def run(self, request: bytes) -> list[bytes]:
        assert self.parts is not None, "open() first"
        rows = self.parts.mapInArrow(_Answer(request), _SUMS_SCHEMA).collect()
        errors = sorted((r["reason"], r["message"]) for r in rows if r["reason"] is not None)
        if errors:
            raise _error_class(errors[0][0])(errors[0][1])
        return [bytes(r["sums"]) for r in rows]

    def close(self) -> None:
        if self.cached is not None:
            self.cached.unpersist()
        self.cached = self.parts = None
