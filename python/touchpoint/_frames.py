"""Input coercion: polars or pandas DataFrames, or file paths."""

from __future__ import annotations

import os
from typing import Any

import polars as pl

from .exceptions import InputError

__all__ = ["as_polars", "is_file_path"]


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
