"""Event logs larger than memory: people in hash buckets, one bucket at a time.

Pass 1 streams each table once (polars' streaming engine) into Parquet files, one directory per bucket
of people (the bucket is a hash of the person key of :func:`touchpoint._parts.person_key`, so both
tables send a person's events to the same bucket). Pass 2 reads one bucket at a time, cuts its journeys
with the in-memory reader and writes the bucket's path statistics to Parquet as they are built; with a
kept ``workdir`` it also writes the bucket's journeys with their timelines in the project's own format
(``journeys/<b>.tp``), and the bucket's event files are removed. The statistics of all buckets are then
scanned back and summed by path into aggregated journeys, exactly as on Spark. Peak memory follows the
largest bucket, not the log. The log is read and cut once: models that need what the aggregated
journeys lack (the additive-hazard model, time decay by duration) read the kept journeys back, one
bucket at a time.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import polars as pl

from . import _touchpoint
from ._frames import as_polars, is_file_path
from ._parts import Sums, cut_part, describe, kpi_names, person_key, side_records
from ._workdir import HazardParts, Workdir
from .exceptions import ColumnError, InputError, ParameterError, ReadError

__all__ = ["from_events_in_buckets", "is_directory"]

_BUCKET = "_tp_bucket"


def is_directory(source: Any) -> bool:
    """Whether ``source`` names a directory (of Parquet files, hive-partitioned or not)."""
    return is_file_path(source) and Path(source).is_dir()


def _scan(source: Any, what: str) -> pl.LazyFrame:
    """A lazy scan of a directory of Parquet files, one Parquet or CSV file, or a DataFrame."""
    if isinstance(source, pl.LazyFrame):
        return source
    if is_file_path(source):
        path = Path(source)
        if path.is_dir():
            if not any(path.rglob("*.parquet")):
                raise ReadError(f"cannot read `{path}`: the directory holds no .parquet file")
            return pl.scan_parquet(path)
        if not path.is_file():
            raise ReadError(f"cannot read `{path}`: no such file or directory")
        suffix = path.suffix.lower()
        if suffix in (".parquet", ".pq"):
            return pl.scan_parquet(path, glob=False)
        if suffix in (".csv", ".txt", ".tsv"):
            _touchpoint.csv_header(path, ",")  # a column named twice is refused, not renamed
            return pl.scan_csv(path, infer_schema=False, glob=False)
        raise InputError(f"cannot tell the format of `{path}`: expected a directory of Parquet files, or a file")
    return as_polars(source, what).lazy()


def _schema(lf: pl.LazyFrame, source: Any) -> pl.Schema:
    try:
        return lf.collect_schema()
    except pl.exceptions.PolarsError as e:
        raise ReadError(f"cannot read `{source}`: {e}") from None


def _require(schema: pl.Schema, column: str, table: str) -> None:
    if column not in schema:
        have = ", ".join(f"`{c}`" for c in schema.names())
        raise ColumnError(f"missing column `{column}` in the {table} table; the table has: {have}")


def from_events_in_buckets(
    touches: Any,
    conversions: Any,
    *,
    person: str,
    time: str,
    channel: str,
    kpi: str,
    value: str | None,
    value_is_default: bool,
    lookback: str,
    per_kpi: list[tuple[str, str]],
    dims: list[str],
    inter: list[tuple[str, str]],
    max_touches: int | None,
    tz: str,
    period: tuple[str, str] | None,
    buckets: int,
    workdir: str | Path | None,
    progress: Any,
    population: int | None = None,
) -> tuple[Any, BucketTimelines | None]:
    """Aggregated journeys (``_touchpoint.Journeys``) of an event log cut one bucket of people at a time,
    and, when ``workdir`` keeps the buckets, their timelines on disk for timeline models; see
    :meth:`touchpoint.Journeys.from_events`."""
    _touchpoint.Journeys.check_event_options(
        person, time, channel, kpi, value, lookback, per_kpi, dims, inter, max_touches, tz, period
    )
    # Checked before anything is read or written: a folder of the user's is refused, not emptied.
    wd = None if workdir is None else Workdir.claim(workdir, (touches, conversions))
    t_scan, c_scan = _scan(touches, "touches"), _scan(conversions, "conversions")
    t_schema, c_schema = _schema(t_scan, touches), _schema(c_scan, conversions)
    extra = [d for d in dims if d != "channel"]
    for col in (person, time, channel, *extra):
        _require(t_schema, col, "touches")
    has_kpi = kpi in c_schema
    if not has_kpi and kpi != "kpi":
        _require(c_schema, kpi, "conversions")
    has_value = value is not None and value in c_schema
    if value is not None and not has_value and not value_is_default:
        _require(c_schema, value, "conversions")
    for col in (person, time):
        _require(c_schema, col, "conversions")

    # Every KPI of the log: each bucket cuts null journeys for all of them.
    if has_kpi:
        raw = c_scan.select(kpi).unique().collect(engine="streaming")
        names = kpi_names(raw)
        if names.null_count():
            blank = [v for v, n in zip(raw.to_series(0).to_list(), names.to_list(), strict=True) if n is None]
            cond = pl.col(kpi).is_null() | pl.col(kpi).is_in([v for v in blank if v is not None])
            bad = c_scan.filter(cond).head(1).collect()
            raise InputError(f"null in column `{kpi}` of the conversions table: {describe(bad.row(0, named=True))}")
        kpis = sorted(set(names.to_list()))
    else:
        kpis = ["conversions"] if c_scan.head(1).collect().height else []
    if not kpis:
        raise ParameterError(
            'invalid option `conversions` = "0 rows": the conversions table is empty: there is no KPI to cut '
            "journeys for"
        )

    own = wd is None
    if wd is None:
        wd = Workdir.claim(tempfile.mkdtemp(prefix="touchpoint-buckets-"))
    root = wd.root
    try:
        return _run(
            t_scan,
            c_scan,
            t_schema,
            c_schema,
            wd,
            kpis=kpis,
            has_kpi=has_kpi,
            has_value=has_value,
            person=person,
            time=time,
            channel=channel,
            kpi=kpi,
            value=value,
            value_is_default=value_is_default,
            lookback=lookback,
            per_kpi=per_kpi,
            dims=dims,
            extra=extra,
            inter=inter,
            max_touches=max_touches,
            tz=tz,
            period=period,
            buckets=buckets,
            progress=progress,
            population=population,
            keep=not own,
        )
    finally:
        if own:
            shutil.rmtree(root, ignore_errors=True)


def _run(
    t_scan: pl.LazyFrame,
    c_scan: pl.LazyFrame,
    t_schema: pl.Schema,
    c_schema: pl.Schema,
    wd: Workdir,
    **o: Any,
) -> Any:
    root = wd.root
    # What an earlier cut in this workdir left (its kept journeys are replaced): all checked to be
    # Touchpoint's files before any is deleted.
    wd.clear("touches", "conversions", "statistics", "journeys")
    person, buckets = o["person"], o["buckets"]
    periods: list[tuple[int, int]] = []
    t_cols = [person, o["time"], o["channel"], *o["extra"]]
    c_cols = [person, o["time"], *([o["kpi"]] if o["has_kpi"] else []), *([o["value"]] if o["has_value"] else [])]
    # Pass 1: each table once, streamed into one directory per bucket.
    written: dict[str, int] = {}
    for name, scan, schema, cols in (("touches", t_scan, t_schema, t_cols), ("conversions", c_scan, c_schema, c_cols)):
        key = (person_key(person, schema[person]).hash(seed=0x7470) % buckets).alias(_BUCKET)
        target = root / name
        try:
            scan.select(cols).with_columns(key).sink_parquet(
                pl.PartitionBy(target, key=_BUCKET, include_key=False), mkdir=True, engine="streaming"
            )
        except pl.exceptions.PolarsError as e:
            raise ReadError(f"cannot read the {name} table: {e}") from None
        expected = {f"{_BUCKET}={b}" for b in range(buckets)}
        if target.exists() and (odd := sorted({p.name for p in target.iterdir()} - expected)):
            raise ReadError(f"cannot read the {name} table's buckets back: unexpected entries {odd} in {target}")
        # Rows written, from the files' metadata (no second pass over the input).
        files = sorted(target.rglob("*.parquet")) if target.exists() else []
        written[name] = (
            pl.scan_parquet(files, hive_partitioning=False).select(pl.len()).collect().item() if files else 0
        )
    read = {"touches": 0, "conversions": 0}
    # Pass 2: one bucket at a time.
    stats = root / "statistics"
    stats.mkdir()
    sums = Sums()
    kept = root / "journeys"
    if o["keep"]:
        kept.mkdir(parents=True)
    saved: list[tuple[int, Path, int]] = []
    for b in range(buckets):
        if o["progress"] is not None:
            o["progress"]("buckets", b, buckets)
        t = _bucket(root / "touches", b, t_schema, t_cols)
        c = _bucket(root / "conversions", b, c_schema, c_cols)
        read["touches"] += t.height
        read["conversions"] += c.height
        if t.height == 0 and c.height == 0:
            continue
        j, paths, inputs = cut_part(t, c, o)
        del t, c
        if j.period() is not None:
            periods.append(j.period())
        paths.write_parquet(stats / f"{b:05}.parquet")
        if o["keep"]:
            path = kept / f"{b:05}.tp"
            saved.append((b, path, _touchpoint.save_journeys(j, path)))
        sums.add(side_records(j, inputs))
        del j, paths
    if o["progress"] is not None:
        o["progress"]("buckets", buckets, buckets)
    if read != written:
        raise ReadError(f"the buckets hold {read} rows but the tables have {written}: nothing may be lost")
    unattributed, trimmed, input_touches, warnings = sums.gathered()
    if o["inter"]:
        seen = {p for d, p, _ in input_touches if d == "interaction"}
        missing = [k for k, _ in o["inter"] if k not in seen]
        if missing:
            raise ParameterError(
                f"invalid option `interaction_lookback` = {missing[0]!r}: no such interaction in the touches "
                f"(they have: {', '.join(sorted(seen))})"
            )
    files = sorted(stats.glob("*.parquet"))
    paths = pl.scan_parquet(files).collect() if files else _empty_statistics(o["extra"])
    # The kept journeys replace the bucket's events.
    wd.clear("touches", "conversions")
    timelines = None
    if o["keep"]:
        # The whole log's period (from_events' default: first event of any bucket to just after the
        # last) replaces each bucket's own when the journeys are read back; a given period cut them.
        whole = (min(p[0] for p in periods), max(p[1] for p in periods)) if o["period"] is None and periods else None
        timelines = BucketTimelines(wd, saved, whole, o["population"])
    inner = _touchpoint.Journeys.from_statistics(
        paths,
        o["extra"],
        o["kpis"],
        unattributed,
        trimmed,
        input_touches,
        warnings,
        "in 1 bucket of people" if buckets == 1 else f"in {buckets} buckets of people",
    )
    return inner, timelines


class BucketTimelines:
    """The journeys of a log cut in buckets, with their person timelines, kept on disk in ``workdir``
    (``journeys/<b>.tp``, written as each bucket was cut). :meth:`fit` gives the driver's side of
    ``touchpoint_core::hazard::parts::Remote`` for one attribution, as ``touchpoint.spark`` has for
    partitions."""

    def __init__(
        self,
        workdir: Workdir,
        saved: list[tuple[int, Path, int]],
        period: tuple[int, int] | None,
        population: int | None,
    ) -> None:
        self.workdir = workdir
        self.saved = saved
        self.period = period
        self.population = population

    def paths(self) -> list[tuple[str, int]]:
        """The kept journey files with their contents' checksums, in bucket order."""
        return [(str(path), checksum) for _, path, checksum in self.saved]

    def fit(self) -> BucketFit:
        """One attribution's reader of the buckets: its parts go to a folder of its own, so that
        attributions running at once (threads) never read each other's."""
        return BucketFit(self)


class BucketFit:
    """Each opening reads the kept buckets back one at a time; a fit's opening writes each bucket's
    part of the fit data to this fit's own ``hazard-*`` folder (every pass of the fit then reads the
    parts one at a time, so memory follows the largest part), a credit job's opening returns each
    bucket's credit. :meth:`close` deletes the parts."""

    def __init__(self, timelines: BucketTimelines) -> None:
        self.timelines = timelines
        self.population = timelines.population
        self.parts: HazardParts | None = None

    def open(self, spec: bytes) -> list[bytes]:
        self.close()
        t = self.timelines
        parts = self.parts = t.workdir.hazard_parts()
        shapes = []
        for b, path, checksum in t.saved:
            if not path.is_file():
                raise ReadError(
                    f"the journeys of bucket {b} in {path} were changed or removed after they were cut: "
                    "cut the journeys again"
                )
            # A file replaced since (even by journeys of another cut) is refused by its checksum.
            j = _touchpoint.load_journeys(path, t.period, checksum)
            shape, part = _touchpoint.remote_part(j, spec)
            del j
            if part:
                parts.write(b, part)
            shapes.append(shape)
        return shapes

    def run(self, request: bytes) -> list[bytes]:
        assert self.parts is not None, "open() first"
        return [_touchpoint.hazard_answer(p, request) for p in self.parts.read()]

    def close(self) -> None:
        if self.parts is not None:
            self.parts.remove()
            self.parts = None


def _bucket(root: Path, b: int, schema: pl.Schema, cols: list[str]) -> pl.DataFrame:
    """The rows of bucket ``b`` (an empty table of the same schema when the bucket has none)."""
    where = root / f"{_BUCKET}={b}"
    if not where.is_dir():
        return pl.DataFrame(schema={c: schema[c] for c in cols})
    return pl.scan_parquet(where, hive_partitioning=False).select(cols).collect()


def _empty_statistics(extra: list[str]) -> pl.DataFrame:
    schema: dict[str, Any] = {"kpi": pl.String, "path": pl.List(pl.String)}
    schema.update({f"path_{d}": pl.List(pl.String) for d in extra})
    schema.update(
        {
            "conversions": pl.Float64,
            "value": pl.Float64,
            "nulls": pl.Float64,
            "journeys": pl.UInt64,
            "null_journeys": pl.UInt64,
        }
    )
    return pl.DataFrame(schema=schema)
