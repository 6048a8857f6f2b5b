"""Journeys: the weighted touch sequences every model reads."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from . import _touchpoint
from ._buckets import from_events_in_buckets, is_directory
from ._checks import whole
from ._frames import as_polars, for_rust, is_file_path
from ._progress import ProgressLine
from .exceptions import InputError, ParameterError, ReadError

__all__ = ["Journeys"]

_DEFAULT_VALUE = "total_conversion_value"


def _read(table: Any, what: str, delimiter: str = ",") -> pl.DataFrame:
    """A DataFrame from a DataFrame or a CSV/Parquet file.

    A file path names one file, never a pattern (``data[1].csv`` is that file). CSV columns are read as
    text, as the command line reads them, and typed where they are used (numbers, timestamps, ids), so
    a column that turns fractional or alphanumeric late in the file reads the same way everywhere.
    """
    if is_file_path(table):
        if len(delimiter.encode()) != 1:
            raise ParameterError(f"the CSV delimiter must be a single byte, such as ',' or ';', got {delimiter!r}")
        path = Path(table)
        if not path.is_file():
            raise ReadError(f"cannot read `{path}`: no such file")
        suffix = path.suffix.lower()
        try:
            if suffix in (".parquet", ".pq"):
                return pl.scan_parquet(path, glob=False).collect()
            if suffix in (".csv", ".txt", ".tsv"):
                # A column named twice would be renamed by polars and the first one read, silently.
                _touchpoint.csv_header(path, delimiter)
                return pl.scan_csv(path, separator=delimiter, infer_schema=False, glob=False).collect()
        except pl.exceptions.PolarsError as e:
            where = _touchpoint.first_non_utf8_line(path) if suffix in (".csv", ".txt", ".tsv") else None
            raise ReadError(f"cannot read `{path}`: {where or e}") from None
        raise InputError(f"cannot tell the format of `{path}`: expected a .csv or .parquet file")
    return as_polars(table, what)


_DEFAULT_NULLS = "total_null"


class _DefaultName(str):
    """A default column name: used when the column exists, skipped (with a warning) when not."""

    __slots__ = ()


_EVENT_VALUE = _DefaultName("value")
_KPI_COLUMN = _DefaultName("kpi")


class Journeys:
    """Weighted journeys in columns (one record per path-table row or per person and conversion).

    Build with :meth:`from_paths`; pass to :func:`touchpoint.attribute`.
    """

    __slots__ = ("_inner", "_remote")

    def __init__(self, inner: _touchpoint.Journeys, remote: Any = None) -> None:
        self._inner = inner
        # Timelines held elsewhere (buckets on disk), for timeline models; see _buckets.BucketTimelines.
        self._remote = remote

    def __reduce__(self) -> tuple[Any, ...]:
        # The project's own format (journeys, timelines, summary); journeys kept in buckets on disk
        # pickle their workdir's files by name, which must still be there when they are read.
        return (_journeys_from_bytes, (self._inner.to_bytes(), self._remote))

    @classmethod
    def from_paths(
        cls,
        df: Any,
        path: str = "path",
        conversions: str = "total_conversions",
        value: str | None = _DEFAULT_VALUE,
        nulls: str | None = _DEFAULT_NULLS,
        sep: str = ">",
        kpi: str | None = None,
        delimiter: str = ",",
        kpi_column: str | None = _KPI_COLUMN,
    ) -> Journeys:
        """Reads a ChannelAttribution-style path table.

        Args:
            df: a polars or pandas DataFrame, or the path of a CSV or Parquet file.
            path: column of paths such as ``"search > email > direct"``.
            conversions: column of conversion weights (>= 0, fractional allowed).
            value: column of conversion values, or None. The default name may be absent.
            nulls: column of non-converting weights, or None. The default name may be absent.
            sep: separator between touches (any non-empty string); names are trimmed.
            kpi: the KPI that every row measures (default ``"conversions"``), for tables without a
                KPI column.
            delimiter: CSV field delimiter, for files.
            kpi_column: column naming each row's KPI, as :meth:`to_paths` writes it. The default
                ``"kpi"`` is read when the column exists, so a table written by ``to_paths`` (or by the
                CLI's ``simulate``) reads back with its KPIs.

        Returns:
            Journeys, one record per row.

        Raises:
            ColumnError: a named column is missing or not of the right type.
            InputError: an empty path or touch, a negative, NaN or infinite weight, a reserved name.
            ReadError: the file cannot be read.

        Example:
            >>> j = tp.Journeys.from_paths(pl.DataFrame({"path": ["a > b"], "total_conversions": [1]}))
        """
        frame = _read(df, "from_paths", delimiter)
        if value == _DEFAULT_VALUE and value not in frame.columns:
            value = None
        if nulls == _DEFAULT_NULLS and nulls not in frame.columns:
            nulls = None
        if isinstance(kpi_column, _DefaultName) and kpi_column not in frame.columns:
            kpi_column = None
        if kpi_column is not None and kpi is not None:
            raise ParameterError(
                f"kpi={kpi!r} names one KPI for the whole table, but the table has a `{kpi_column}` column "
                "naming each row's KPI: drop kpi=, or pass kpi_column=None to ignore the column"
            )
        kpi = "conversions" if kpi is None else kpi
        frame = for_rust(frame, [path, conversions, value, nulls, kpi_column])
        return cls(_touchpoint.Journeys.from_paths_frame(frame, path, conversions, value, nulls, sep, kpi, kpi_column))

    @classmethod
    def from_events(
        cls,
        touches: Any,
        conversions: Any,
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
        population: int | None = None,
        progress: bool = True,
        buckets: int | None = None,
        workdir: str | Path | None = None,
    ) -> Journeys:
        """Cuts journeys from an event log: who was touched where and when, and who converted.

        A conversion at ``t`` gets the person's touches in ``(max(t - lookback, t_prev), t]``, ``t_prev``
        being their previous conversion of the same KPI; a person's conversions of one KPI at the same
        instant are one record (their counts and values added), not a record with the journey and one
        with an empty window. Each person with touches also gets, per KPI, a
        null journey of the touches after their last conversion. Conversions with no touch in their
        window, or of persons absent from the touches, are counted in :attr:`unattributed`.

        Args:
            touches: table with ``person``, ``time``, ``channel`` and the ``dims`` columns (a polars or
                pandas DataFrame, or a CSV or Parquet file, read lazily).
            conversions: table with ``person``, ``time``, ``kpi`` (optional: one KPI ``conversions``)
                and ``value`` (optional; nulls are 0).
            person: person id column (text or integers) in both tables.
            time: timestamp column in both tables: datetimes (zone-aware ones are converted to UTC) or
                ISO-8601 text.
            channel: channel column of the touches.
            kpi: KPI column of the conversions.
            value: value column of the conversions, or None. The default ``"value"`` is read when the
                column exists; when it does not, every value is 0 and the journeys' warnings (repeated by
                every attribution) say so. A column named here that is absent is a ColumnError.
            lookback: a fixed-unit duration (``"30d"``, ``"12h"``, ``"1w"``) or a dict per KPI (KPIs not
                named get ``"30d"``).
            dims: extra dimensions to carry, each from the column of that name: campaign, activity,
                actor, actor_group, interaction. Touches without a value (null, empty, or the text
                ``(none)`` Touchpoint writes for it) count under ``(none)``.
            interaction_lookback: shorter windows per interaction type, e.g. ``{"impression": "1d"}``
                (needs ``"interaction"`` in ``dims``).
            max_touches: keep at most this many most recent touches per journey.
            tz: time zone of naive timestamps.
            period: the observation period ``(start, end)``, end excluded, as datetimes or ISO-8601 text;
                by default from the first event to just after the last one. Conversions outside it are
                left out of every model and counted (the unattributed table's ``outside_period``, the
                summary, a warning); touches before the start are kept (their effect reaches into the
                period).
            population: the number of people at risk, including those with no event at all, whom a
                log never shows. Models with a baseline (``additive_hazard``) need it to estimate the
                baseline rate; without it they estimate it from the people in the log and say so.
            progress: show a progress line on stderr when the call takes more than half a second.
            buckets: for logs larger than memory: cut the people in this many hash buckets, one bucket
                at a time (the default, 16, when ``touches`` or ``conversions`` is a directory of
                Parquet files, hive-partitioned or not). Each table is streamed once into per-bucket
                Parquet files, each bucket's journeys are cut and written as path statistics as they
                are built, and the statistics are scanned back and summed by path. Peak memory follows
                the largest bucket. The result is aggregated journeys, as from
                :func:`touchpoint.spark.journeys`: the same summary, unattributed table and path-model
                credit as in memory, whatever the number of buckets. With ``workdir`` each bucket's
                journeys, with the people's timelines, are also written to disk as they are cut (the
                log is read and cut once) and read back one bucket at a time by what needs them:
                ``tp.attribute`` fits the additive-hazard model by per-bucket sums (one bucket's part of
                the fit data in memory at a time), equal to the fit in memory, and credits time decay
                by duration by each bucket's credit of its own journeys, added; per-journey credit
                (:meth:`Attribution.journey_credits`) reads them too. Intervals of those two models
                raise UnsupportedError.
            workdir: where the buckets, statistics and journeys are written (``statistics/`` and
                ``journeys/`` are kept, and the journeys read again by the models above); by default a
                temporary directory, removed at the end (those models then raise UnsupportedError).
                A new or empty folder, which Touchpoint marks as its own (``.touchpoint-workdir``); a
                non-empty folder it did not mark is refused, and in a marked one it deletes only the
                files it wrote (see ``docs/spark.md``, "What the library writes in workdir").

        Returns:
            Journeys with touch and conversion times, and each person's timeline (every touch and
            conversion, and the period) for models that read timelines; with ``buckets``, aggregated
            journeys (one row per distinct path).

        Raises:
            ColumnError: a column is missing or of the wrong type.
            InputError: an unparseable timestamp, a null person id, a negative value.
            ParameterError: a lookback that is not a fixed-unit duration (``"1mo"``), an unknown dimension,
                a period whose end is not after its start, a ``workdir`` that is not a folder
                Touchpoint may write in.
        """
        for arg, v in (("person", person), ("time", time), ("channel", channel), ("kpi", kpi), ("tz", tz)):
            if not isinstance(v, str):
                raise ParameterError(
                    f"invalid option `{arg}` = {v!r}: expected text (a column name, or for tz a zone such as 'UTC')"
                )
        if value is not None and not isinstance(value, str):
            raise ParameterError(f"invalid option `value` = {value!r}: expected a column name or None")
        if isinstance(dims, str):
            dims = [dims]
        dims = list(dims)
        whole("max_touches", max_touches, 1, optional=True)
        whole("population", population, 1, optional=True)
        default, per_kpi = _lookbacks(lookback)
        whole("buckets", buckets, 1, optional=True)
        if buckets is not None or is_directory(touches) or is_directory(conversions):
            if population is not None and workdir is None:
                raise ParameterError(
                    "population is read by timeline models (additive_hazard), which on journeys cut in buckets "
                    "read the buckets again: pass workdir= to keep them, or drop population"
                )
            return cls(
                *from_events_in_buckets(
                    touches,
                    conversions,
                    person=person,
                    time=time,
                    channel=channel,
                    kpi=kpi,
                    value=value,
                    value_is_default=isinstance(value, _DefaultName),
                    lookback=default,
                    per_kpi=per_kpi,
                    dims=dims,
                    inter=[(str(k), str(v)) for k, v in (interaction_lookback or {}).items()],
                    max_touches=max_touches,
                    tz=tz,
                    period=_period_text(period),
                    buckets=16 if buckets is None else buckets,
                    workdir=workdir,
                    progress=ProgressLine() if progress else None,
                    population=population,
                )
            )
        t = for_rust(_read(touches, "touches"), [person, time, channel, *dims])
        c = for_rust(_read(conversions, "conversions"), [person, time, kpi, value])
        inter = [(str(k), str(v)) for k, v in (interaction_lookback or {}).items()]
        inner = _touchpoint.Journeys.from_events_frames(
            t,
            c,
            person,
            time,
            channel,
            kpi,
            value,
            default,
            per_kpi,
            list(dims),
            inter,
            max_touches,
            tz,
            _period_text(period),
            population,
            ProgressLine() if progress else None,
            isinstance(value, _DefaultName),
        )
        return cls(inner)

    def to_paths(self, sep: str = ">") -> pl.DataFrame:
        """The journeys as a ChannelAttribution-style path table, identical (KPI, path) rows aggregated.

        Args:
            sep: the separator written between touches (surrounded by spaces).

        Returns:
            kpi, path, total_conversions, total_conversion_value, total_null, sorted by KPI and path.

        Example:
            >>> tp.Journeys.from_events(touches, conversions).to_paths()  # doctest: +SKIP
        """
        return self._inner.to_paths(sep)

    @property
    def summary(self) -> pl.DataFrame:
        """One row per KPI: kpi, touches, journeys, null_journeys, conversions, attributed,
        unattributed, trimmed_touches. Counts are of journey records; weights are in conversions."""
        return self._inner.summary()

    @property
    def unattributed(self) -> pl.DataFrame:
        """Conversions that entered without a journey: kpi, reason, conversions, value."""
        return self._inner.unattributed()

    @property
    def warnings(self) -> list[str]:
        """What the reader noticed (e.g. no value column); every attribution of these journeys
        repeats it in its own warnings."""
        return self._inner.warnings()

    @property
    def kpis(self) -> list[str]:
        """The KPI names."""
        return self._inner.kpis()

    def players(self, by: str = "channel") -> list[str]:
        """The player names of a dimension.

        Args:
            by: channel, campaign, activity, actor, actor_group or interaction.

        Returns:
            The names by id; ``["(none)"]`` for a dimension the journeys do not carry.

        Raises:
            ParameterError: an unknown dimension.
        """
        return self._inner.players(by)

    @property
    def has_timelines(self) -> bool:
        """Whether the journeys carry person timelines (built by :meth:`from_events` or simulated)."""
        return self._inner.has_timelines()

    @property
    def period(self) -> tuple[Any, Any] | None:
        """The observation period ``(start, end)`` as UTC datetimes (end excluded), or None without
        timelines."""
        p = self._inner.period()
        if p is None:
            return None
        import datetime as _dt

        epoch = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
        return tuple(epoch + _dt.timedelta(microseconds=x) for x in p)  # type: ignore[return-value]

    @property
    def population(self) -> int | None:
        """The number of people at risk given to :meth:`from_events` (None when not given)."""
        return self._inner.population()

    def timelines(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        """The person timelines as the two tables :meth:`from_events` reads.

        Returns:
            ``(touches, conversions)``: touches with user_id, ts (UTC), channel and every other
            dimension carried; conversions with user_id, ts, kpi, value (one row per conversion): the
            column names :meth:`from_events` reads by default.
            Persons are numbered by their position.

        Raises:
            UnsupportedError: the journeys have no timelines (they came from a path table).
        """
        out = self._inner.timeline_frames()
        if out is None:
            from .exceptions import UnsupportedError

            raise UnsupportedError("these journeys have no person timelines: build them with from_events")
        return out

    @property
    def n_touches(self) -> int:
        """Touches over all journeys."""
        return self._inner.n_touches()

    def merge(self, other: Journeys) -> Journeys:
        """Both stores in one: parts of a log split by person (each person's events in one part, say
        one file per region or per hash of the id), cut apart and combined.

        Not for parts split by time (per month): a person in both would become two people with half
        a timeline each. Journeys with timelines that share a person are refused; cut the journeys
        from the whole log instead.

        Args:
            other: journeys with the same dimensions (and both with or both without times).

        Returns:
            New journeys; ids are remapped, summaries and unattributed rows add up.

        Raises:
            InputError: the two stores carry different dimensions, one lacks times, or both hold
                timelines of the same person.
        """
        if not isinstance(other, Journeys):
            raise ParameterError(f"merge takes Journeys, got {type(other).__name__}")
        return Journeys(self._inner.merge(other._inner))

    def __len__(self) -> int:
        return len(self._inner)

    def __repr__(self) -> str:
        origin = self._inner.aggregated_origin()
        if origin is not None:
            s = self.summary
            journeys = int(s["journeys"].sum() + s["null_journeys"].sum())
            return (
                f"Journeys({len(self):,} distinct paths aggregated {origin} from {journeys:,} journeys, "
                f"KPIs: {', '.join(self.kpis)})"
            )
        return f"Journeys({len(self):,} journeys, {self.n_touches:,} touches, KPIs: {', '.join(self.kpis)})"


def _lookbacks(lookback: str | Mapping[str, str]) -> tuple[str, list[tuple[str, str]]]:
    """The default window and the windows per KPI of a ``lookback`` argument."""
    if isinstance(lookback, Mapping):
        return "30d", [(str(k), str(v)) for k, v in lookback.items()]
    if isinstance(lookback, str):
        return lookback, []
    raise ParameterError(f"lookback must be a duration such as '30d' or a mapping KPI -> duration, got {lookback!r}")


def _period_text(period: tuple[Any, Any] | None) -> tuple[str, str] | None:
    """The period as two ISO-8601 strings (datetimes and dates through ``isoformat``)."""
    if period is None:
        return None
    if isinstance(period, (str, bytes)) or len(period) != 2:
        raise ParameterError(f"period must be a pair (start, end), got {period!r}")
    return tuple(p.isoformat() if hasattr(p, "isoformat") else str(p) for p in period)  # type: ignore[return-value]


def _journeys_from_bytes(data: bytes, remote: Any) -> Journeys:
    return Journeys(_touchpoint.Journeys.from_bytes(data), remote)
