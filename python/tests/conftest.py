"""Shared fixtures: the shared datasets (skipped with a message when absent) and small tables."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "datasets"


def shared(*parts: str) -> Path:
    """A file under ../shared/datasets, or skip the test saying what is missing."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: the shared datasets are not next to this checkout")
    return path


@pytest.fixture
def small_paths() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "path": ["a > b > a", "c", "b", "a > c"],
            "total_conversions": [3.0, 1.0, 0.0, 2.0],
            "total_conversion_value": [30.0, 5.0, 0.0, 8.0],
            "total_null": [1.0, 0.0, 4.0, 2.0],
        }
    )
