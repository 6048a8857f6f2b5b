"""Bad input reaches Python as TouchpointError subclasses with the culprit named, never a panic."""

from __future__ import annotations

import math

import pandas as pd
import polars as pl
import pytest

import touchpoint as tp


def paths(path: list[str], conv: list[float], **extra: list[float]) -> pl.DataFrame:
    return pl.DataFrame({"path": path, "total_conversions": conv, **extra})


def test_hierarchy() -> None:
    for cls in (tp.InputError, tp.ColumnError, tp.ParameterError, tp.UnsupportedError, tp.GoalBookError):
        assert issubclass(cls, tp.TouchpointError) and issubclass(cls, ValueError)
    assert issubclass(tp.ReadError, OSError)
    assert issubclass(tp.ColumnError, tp.InputError) and issubclass(tp.ColumnError, KeyError)


def test_the_classes_are_the_extensions_and_survive_pickling() -> None:
    """One set of classes: the extension's, re-exported by `touchpoint.exceptions` and `touchpoint`;
    what Rust raises is an instance of them, reads its message unquoted (a KeyError would quote it)
    and pickles (Spark sends errors from executors to the driver this way)."""
    import pickle

    from touchpoint import _touchpoint, exceptions

    for name in exceptions.__all__:
        cls = getattr(exceptions, name)
        assert cls is getattr(_touchpoint, name) is getattr(tp, name)
        assert cls.__module__ == "touchpoint.exceptions" and cls.__doc__
    with pytest.raises(tp.ColumnError) as caught:
        tp.Journeys.from_paths(paths(["a"], [1]), conversions="conv")
    assert type(caught.value) is tp.ColumnError
    assert str(caught.value).startswith("missing column `conv`")
    again = pickle.loads(pickle.dumps(caught.value))
    assert type(again) is tp.ColumnError and str(again) == str(caught.value)


def test_empty_path() -> None:
    with pytest.raises(tp.InputError, match=r"empty path in row 2"):
        tp.Journeys.from_paths(paths(["a", "  "], [1, 1]))


def test_empty_touch() -> None:
    with pytest.raises(tp.InputError, match=r"empty touch name at position 2 of the path in row 1"):
        tp.Journeys.from_paths(paths(["a >> b"], [1]))


def test_missing_column() -> None:
    with pytest.raises(tp.ColumnError, match=r"missing column `conv`; the table has: `path`, `total_conversions`"):
        tp.Journeys.from_paths(paths(["a"], [1]), conversions="conv")


def test_explicit_missing_optional_column() -> None:
    with pytest.raises(tp.ColumnError, match=r"missing column `revenue`"):
        tp.Journeys.from_paths(paths(["a"], [1]), value="revenue")


def test_text_in_numeric_column() -> None:
    df = pl.DataFrame({"path": ["a"], "total_conversions": ["one"]})
    with pytest.raises(tp.ColumnError, match=r"column `total_conversions` must be numeric: row 1 holds \"one\""):
        tp.Journeys.from_paths(df)


@pytest.mark.parametrize(
    ("column", "bad", "shown"),
    [
        ("total_conversions", -1.0, "-1"),
        ("total_conversions", math.nan, "NaN"),
        ("total_conversion_value", math.inf, "inf"),
        ("total_null", -2.0, "-2"),
        ("total_null", math.nan, "NaN"),
    ],
)
def test_bad_weights(column: str, bad: float, shown: str) -> None:
    cols = {"total_conversions": [1.0, 1.0], "total_conversion_value": [1.0, 1.0], "total_null": [0.0, 0.0]}
    cols[column] = [1.0, bad]
    field = {"total_conversions": "conversions", "total_conversion_value": "value", "total_null": "nulls"}[column]
    with pytest.raises(tp.InputError, match=rf"invalid {field} in row 2: {shown} \(must be finite and >= 0\)"):
        tp.Journeys.from_paths(pl.DataFrame({"path": ["a", "b"], **cols}))


def test_null_conversions() -> None:
    df = pl.DataFrame({"path": ["a", "b"], "total_conversions": [1.0, None]})
    with pytest.raises(tp.InputError, match=r"null in column `total_conversions` at row 2"):
        tp.Journeys.from_paths(df)


def test_reserved_name() -> None:
    with pytest.raises(tp.InputError, match=r"`\(start\)` in row 1 is reserved"):
        tp.Journeys.from_paths(paths(["a > (start)"], [1]))


def test_unknown_model_and_dimension() -> None:
    j = tp.Journeys.from_paths(paths(["a"], [1]))
    with pytest.raises(tp.ParameterError, match=r"unknown model `last_click`; known models: first_touch"):
        tp.attribute(j, models=["last_click"])
    with pytest.raises(tp.ParameterError, match=r"unknown dimension `device`"):
        tp.attribute(j, models=["linear"], by="device")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: tp.models.PositionBased(first=1.5),
            r"invalid parameter `first` of model `position_based`: 1.5",
        ),
        (lambda: tp.models.PositionBased(first=0.8, last=0.5), r"invalid parameter `first \+ last`"),
        (lambda: tp.models.TimeDecay(half_life="0d"), r"invalid parameter `half_life`"),
        (lambda: tp.models.TimeDecay(half_life="1mo"), r"calendar units"),
        (lambda: tp.models.TimeDecay(half_life_touches=-1.0), r"invalid parameter `half_life_touches`"),
        (lambda: tp.models.Markov(order=0), r"invalid parameter `order` of model `markov`: 0"),
        (
            lambda: tp.models.Shapley(game="rate", ordered=True),
            r"ordered variant exists for the conversions game",
        ),
        (lambda: tp.models.Shapley(samples=1), r"invalid parameter `samples`"),
    ],
)
def test_bad_parameters_fail_at_construction(make, message: str) -> None:
    with pytest.raises(tp.ParameterError, match=message):
        make()


def test_time_decay_by_duration_without_times() -> None:
    j = tp.Journeys.from_paths(paths(["a > b"], [1]))
    with pytest.raises(tp.UnsupportedError, match=r"time_decay with half_life needs touch and conversion times"):
        tp.attribute(j, models=["time_decay"])


def test_unreadable_file(tmp_path) -> None:
    with pytest.raises(tp.ReadError, match=r"no such file"):
        tp.Journeys.from_paths(tmp_path / "nope.csv")
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(tp.InputError, match=r"expected a .csv or .parquet file"):
        tp.Journeys.from_paths(tmp_path / "x.json")


def test_bad_delimiter(tmp_path) -> None:
    (tmp_path / "p.csv").write_text("path,total_conversions\na,1\n")
    with pytest.raises(tp.ParameterError, match=r"delimiter"):
        tp.Journeys.from_paths(tmp_path / "p.csv", delimiter="::")


def test_wrong_input_type() -> None:
    with pytest.raises(tp.InputError, match=r"expected a polars or pandas DataFrame"):
        tp.Journeys.from_paths([1, 2, 3])


def test_pandas_with_nan_conversions() -> None:
    df = pd.DataFrame({"path": ["a"], "total_conversions": [float("nan")]})
    with pytest.raises(tp.InputError):
        tp.Journeys.from_paths(df)
