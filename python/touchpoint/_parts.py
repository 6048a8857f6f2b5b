"""What readers of a log split by person share (Spark partitions, buckets on disk): the person key that
sends each person's events to one part, one part's statistics as records, their sums, and errors named
by the offending record rather than by a row number inside a part."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import polars as pl

from .exceptions import TouchpointError

__all__ = ["Sums", "cut_part", "describe", "iso_us", "kpi_names", "locate_error", "person_key", "side_records"]

_ROW = re.compile(r"\b(?:at |in )?row (\d+)")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def iso_us(us: int) -> str:
    """Microseconds since the epoch as ISO-8601 text with its UTC offset, exact to the microsecond (a
    whole log's period, gathered from its parts, handed back to each part)."""
    return (_EPOCH + timedelta(microseconds=us)).isoformat()


def person_key(column: str, dtype: pl.DataType) -> pl.Expr:
    """The person as text, equal for equal persons under from_events' rule (whole numbers as numbers,
    1.0 is person 1; text trimmed of Unicode whitespace; a number meeting text is its whole number), so
    both tables send a person's events to the same part. Fractions keep their text and fail in the part
    with from_events' error."""
    col = pl.col(column)
    if dtype == pl.String or isinstance(dtype, (pl.Categorical, pl.Enum)):
        return col.cast(pl.String).str.strip_chars()
    if dtype.is_float() or isinstance(dtype, pl.Decimal):
        f = col.cast(pl.Float64)
        whole = f.is_finite() & (f == f.floor())
        return pl.when(whole).then(f.cast(pl.Int128, strict=False).cast(pl.String)).otherwise(f.cast(pl.String))
    return col.cast(pl.String)


def kpi_names(raw: pl.DataFrame) -> pl.Series:
    """The KPI names of a one-column table of raw KPI values, made exactly as each part makes them
    (cast for Rust, then to text, then trimmed), so the list every part receives has no name a part
    would spell differently; nulls and blanks stay null."""
    from ._frames import for_rust

    text = for_rust(raw, [raw.columns[0]]).to_series(0).cast(pl.String).str.strip_chars()
    return text.replace("", None)


def _interactions_present(inter: list[tuple[str, str]], touches: pl.DataFrame) -> list[tuple[str, str]]:
    """The interaction windows of interactions one part has (a null or blank interaction is
    ``(none)``, as the reader names it); the names are checked on the whole log at the end."""
    if not inter:
        return inter
    text = touches.get_column("interaction").cast(pl.String).str.strip_chars()
    have = set(text.drop_nulls().to_list()) - {""}
    if text.null_count() or (text == "").any():
        have.add("(none)")
    return [(k, v) for k, v in inter if k in have]


def cut_part(touches: pl.DataFrame, conversions: pl.DataFrame, o: Mapping[str, Any]) -> tuple[Any, Any, Any]:
    """One part's journeys (``_touchpoint.Journeys``, by from_events' reader with the whole log's KPIs
    and the interaction windows of the interactions the part has), its path statistics and its input
    touches. An error is raised with its message naming the offending record (see
    :func:`locate_error`).

    ``o`` holds from_events' arguments as the binding takes them: person, time, channel, kpi, value,
    value_is_default, lookback, per_kpi, dims, extra, inter, max_touches, tz, period, and kpis (every
    KPI of the log)."""
    from . import _touchpoint
    from ._frames import for_rust

    touches = for_rust(touches, [o["person"], o["time"], o["channel"], *o["extra"]])
    conversions = for_rust(conversions, [o["person"], o["time"], o["kpi"], o["value"]])
    try:
        j = _touchpoint.Journeys.from_events_frames(
            touches,
            conversions,
            o["person"],
            o["time"],
            o["channel"],
            o["kpi"],
            o["value"],
            o["lookback"],
            o["per_kpi"],
            o["dims"],
            _interactions_present(o["inter"], touches),
            o["max_touches"],
            o["tz"],
            o["period"],
            None,
            None,
            o["value_is_default"],
            o["kpis"],
        )
        paths, inputs = j.statistics()
    except TouchpointError as e:
        raise type(e)(locate_error(e, touches, conversions)) from None
    return j, paths, inputs


def describe(row: Mapping[str, Any]) -> str:
    """A record named by its values (a part has no row order the user knows)."""
    return "the record " + ", ".join(f"{k}={v!r}" for k, v in row.items())


def locate_error(e: TouchpointError, touches: pl.DataFrame, conversions: pl.DataFrame) -> str:
    """The error's message with the part's row number replaced by the offending record's values."""
    message = str(e)
    m = _ROW.search(message)
    if not m:
        return message
    named = re.search(r"column `([^`]+)`", message)
    if "conversions" in message or message.startswith("invalid value"):
        table = conversions
    elif "touches" in message:
        table = touches
    elif named and named.group(1) in conversions.columns and named.group(1) not in touches.columns:
        table = conversions
    else:
        table = touches
    row = int(m.group(1)) - 1
    if not 0 <= row < table.height:
        return message
    return message[: m.start()] + "in " + describe(table.row(row, named=True)) + message[m.end() :]


def side_records(j: Any, inputs: pl.DataFrame) -> list[dict[str, Any]]:
    """One part's statistics besides its paths, as records: unattributed conversions (kpi, reason,
    conversions, value), touches dropped by max_touches (kpi, touches), touches that entered
    (dimension, player, touches), warnings (message)."""
    out: list[dict[str, Any]] = []
    for r in j.unattributed().iter_rows(named=True):
        out.append({"record": "unattributed", **r})
    for r in j.summary().iter_rows(named=True):
        if r["trimmed_touches"]:
            out.append({"record": "trimmed", "kpi": r["kpi"], "touches": float(r["trimmed_touches"])})
    for r in inputs.iter_rows(named=True):
        out.append({"record": "input", **r})
    for w in j.warnings():
        out.append({"record": "warning", "message": w})
    return out


class Sums:
    """The side records of every part, summed by key (what Spark's groupBy does for its partitions)."""

    def __init__(self) -> None:
        self.unattributed: dict[tuple[str, str], list[float]] = {}
        self.trimmed: dict[str, int] = {}
        self.inputs: dict[tuple[str, str], float] = {}
        self.warnings: set[str] = set()

    def add(self, records: Iterable[Mapping[str, Any]]) -> None:
        for r in records:
            kind = r["record"]
            if kind == "unattributed":
                s = self.unattributed.setdefault((r["kpi"], r["reason"]), [0.0, 0.0])
                s[0] += float(r["conversions"] or 0.0)
                s[1] += float(r["value"] or 0.0)
            elif kind == "trimmed":
                self.trimmed[r["kpi"]] = self.trimmed.get(r["kpi"], 0) + int(r["touches"] or 0)
            elif kind == "input":
                key = (r["dimension"], r["player"])
                self.inputs[key] = self.inputs.get(key, 0.0) + float(r["touches"] or 0.0)
            elif kind == "warning":
                self.warnings.add(r["message"])

    def gathered(self) -> tuple[list[Any], list[Any], list[Any], list[str]]:
        """(unattributed, trimmed, input touches, warnings) as ``Journeys.from_statistics`` takes them."""
        return (
            sorted((k, reason, c, v) for (k, reason), (c, v) in self.unattributed.items()),
            sorted(self.trimmed.items()),
            sorted((d, p, t) for (d, p), t in self.inputs.items()),
            sorted(self.warnings),
        )
