"""Input coercion: polars or pandas DataFrames, or file paths."""

from __future__ import annotations

import os
from typing import Any

import polars as pl

from .exceptions import InputError

__all__ = ["as_polars", "is_file_path", "for_rust"]


def is_file_path(obj: Any) -> bool:
    """Whether ``obj`` names a file (str or os.PathLike)."""
    return isinstance(obj, (str, os.PathLike))


def as_polars(df: Any, what: str = "table") -> pl.DataFrame:
    """A polars DataFrame from a polars or pandas DataFrame (or a polars LazyFrame)."""
    if isinstance(df, pl.DataFrame):
        return df
    if isinstance(df, pl.LazyFrame):
        return df.collect()
    mod = type(df).__module__
    if mod.startswith("pandas"):
        return pl.from_pandas(df)
    raise InputError(f"{what}: expected a polars or pandas DataFrame or a file path, got {type(df).__name__}")


def _castable(series: pl.Series) -> pl.Series:
    """A column of a type the Rust side reads: Decimal and Float16 become Float64; Int128 and UInt128
    become Int64 when every value fits, else text (ids)."""
    dtype = series.dtype
    if isinstance(dtype, pl.Decimal) or dtype == pl.Float16:
        return series.cast(pl.Float64)
    if dtype in (pl.Int128, pl.UInt128):
        try:
            return series.cast(pl.Int64, strict=True)
        except pl.exceptions.PolarsError:
            return series.cast(pl.String)
    if dtype == pl.UInt64 and series.max() is not None and series.max() >= 2**63:  # type: ignore[operator]
        return series.cast(pl.String)
    # The Rust side is built without polars' small integer, categorical and array types (pandas'
    # uint8 flags are common): cast, without loss, to types it reads.
    if dtype in (pl.Int8, pl.Int16, pl.UInt8, pl.UInt16):
        return series.cast(pl.Int64)
    if isinstance(dtype, (pl.Categorical, pl.Enum)):
        return series.cast(pl.String)
    if isinstance(dtype, pl.Array):
        return series.cast(pl.List(dtype.inner))
    return series


# Types the Rust side receives as they are; an unused column of another type is left out.
_PLAIN = (pl.Boolean, pl.Int32, pl.Int64, pl.UInt32, pl.UInt64, pl.Float32, pl.Float64, pl.String, pl.Null)


def for_rust(df: pl.DataFrame, columns: list[str | None]) -> pl.DataFrame:
    """``df`` with every column of a type the Rust side cannot receive cast to one it can (Decimal and
    Float16 to Float64, Int128 and UInt128 to Int64 or text, UInt64 ids above 2^63 to text, small
    integers to Int64, categoricals to text, arrays to lists), so no column crosses as a panic, used or
    not. Python-object columns are dropped unless ``columns`` names them, which is a ColumnError; other
    columns that ``columns`` does not name are dropped when their type is not a plain one."""
    from .exceptions import ColumnError

    used = {c for c in columns if c is not None}
    keep = []
    for name, dtype in df.schema.items():
        if dtype == pl.Object:
            if name in used:
                raise ColumnError(f"column `{name}` holds Python objects: give it as text or numbers")
            continue
        column = _castable(df.get_column(name))
        if name not in used and not (column.dtype in _PLAIN or isinstance(column.dtype, pl.Datetime)):
            continue  # not read, and of a type that may not cross: left out
        keep.append(column)
    return pl.DataFrame(keep) if keep else df.select([])
