"""Fuzzing the Python surface with hypothesis: random frames of random dtypes into the readers, random
parameters into the models. Every outcome is a result or a TouchpointError, never another exception
and never a panic. Run by `make fuzz` (`FUZZ_CASES` examples per test, default 500); not collected by
`make test`."""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import touchpoint as tp

CASES = int(os.environ.get("FUZZ_CASES", "500"))
SETTINGS = settings(max_examples=CASES, deadline=None, suppress_health_check=list(HealthCheck), database=None)

TEXT = st.one_of(st.text(max_size=8), st.sampled_from(["a > b", "(start)", " ", "\u00a0", "", "search", "1", "1.0"]))


def column(name: str, n: int) -> st.SearchStrategy[pl.Series]:
    """A column of n values of one random dtype (nulls allowed)."""
    options = [
        st.lists(st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)), min_size=n, max_size=n).map(
            lambda v: pl.Series(name, v, dtype=pl.Int64)
        ),
        st.lists(st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)), min_size=n, max_size=n).map(
            lambda v: pl.Series(name, v, dtype=pl.Float64)
        ),
        st.lists(st.one_of(st.none(), TEXT), min_size=n, max_size=n).map(lambda v: pl.Series(name, v, dtype=pl.String)),
        st.lists(st.one_of(st.none(), st.booleans()), min_size=n, max_size=n).map(
            lambda v: pl.Series(name, v, dtype=pl.Boolean)
        ),
        st.lists(st.integers(0, 2**64 - 1), min_size=n, max_size=n).map(lambda v: pl.Series(name, v, dtype=pl.UInt64)),
        st.lists(st.integers(-(2**100), 2**100), min_size=n, max_size=n).map(
            lambda v: pl.Series(name, v, dtype=pl.Int128)
        ),
        st.lists(st.decimals(-1000, 1000, places=2, allow_nan=False), min_size=n, max_size=n).map(
            lambda v: pl.Series(name, [Decimal(x) for x in v], dtype=pl.Decimal(10, 2))
        ),
        st.lists(st.floats(-100, 100, width=16), min_size=n, max_size=n).map(
            lambda v: pl.Series(name, v, dtype=pl.Float16)
        ),
        st.lists(
            st.one_of(st.none(), st.datetimes(dt.datetime(1970, 1, 2), dt.datetime(2100, 1, 1))), min_size=n, max_size=n
        ).map(lambda v: pl.Series(name, v, dtype=pl.Datetime("us"))),
        st.lists(st.one_of(st.none(), st.dates()), min_size=n, max_size=n).map(lambda v: pl.Series(name, v)),
        st.lists(st.one_of(st.none(), TEXT), min_size=n, max_size=n).map(
            lambda v: pl.Series(name, v, dtype=pl.Categorical)
        ),
    ]
    return st.one_of(options)


@st.composite
def frame(draw: st.DrawFn, names: list[str], max_rows: int = 6) -> pl.DataFrame:
    n = draw(st.integers(0, max_rows))
    cols = [draw(column(name, n)) for name in names if draw(st.integers(0, 9)) > 0]  # sometimes a column is missing
    return pl.DataFrame(cols) if cols else pl.DataFrame()


def quiet(fn) -> None:  # noqa: ANN001
    try:
        fn()
    except tp.TouchpointError:
        pass


PATH_COLUMNS = ["path", "total_conversions", "total_conversion_value", "total_null", "kpi"]


@SETTINGS
@given(frame(PATH_COLUMNS), st.sampled_from([">", "|", " "]))
def test_fuzz_path_tables(df: pl.DataFrame, sep: str) -> None:
    def run() -> None:
        j = tp.Journeys.from_paths(df, sep=sep)
        r = tp.attribute(j, models=["linear", "markov"], progress=False)
        assert r.to_polars()["conversions"].is_finite().all()

    quiet(run)


@SETTINGS
@given(frame(["user_id", "ts", "channel", "campaign"]), frame(["user_id", "ts", "kpi", "value"]))
def test_fuzz_event_logs(touches: pl.DataFrame, conversions: pl.DataFrame) -> None:
    def run() -> None:
        j = tp.Journeys.from_events(touches, conversions, dims=["campaign"], progress=False)
        assert j.summary["conversions"].sum() == conversions.height

    quiet(run)


@SETTINGS
@given(
    st.sampled_from(["markov", "shapley", "position_based", "time_decay", "additive_hazard"]),
    st.dictionaries(
        st.sampled_from(["order", "first", "last", "samples", "seed", "min_support", "tol", "max_iter", "half_life"]),
        st.one_of(st.integers(-5, 10**20), st.floats(), st.text(max_size=4), st.none(), st.booleans()),
        max_size=3,
    ),
)
def test_fuzz_model_parameters(name: str, params: dict) -> None:
    def run() -> None:
        tp.models.from_spec({"model": name, **params})

    try:
        run()
    except tp.TouchpointError:
        pass
    except TypeError as e:  # a keyword the record does not have: Python's own error for a bad call
        assert "unexpected keyword" in str(e), e
