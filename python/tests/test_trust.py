"""It answers right or says why: each case here gave a silent wrong answer, a panic or a raw exception."""

from __future__ import annotations

import math
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

import touchpoint as tp

SCRIPT = Path(sys.executable).parent / "touchpoint"


def log() -> tuple[pl.DataFrame, pl.DataFrame]:
    t = pl.DataFrame(
        {
            "user_id": ["u1", "u1", "u2", "u3"],
            "ts": ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-03"],
            "channel": ["search", "email", "social", "email"],
        }
    )
    c = pl.DataFrame(
        {
            "user_id": ["u1", "u2", "u9"],
            "ts": ["2024-01-05", "2024-01-04", "2024-01-04"],
            "kpi": ["sales", "leads", "sales"],
            "revenue": [10.0, 0.0, 5.0],
        }
    )
    return t, c


# --- no silent wrong answers -------------------------------------------------------------------------


def test_an_absent_default_value_column_warns_and_a_named_one_is_an_error() -> None:
    t, c = log()
    j = tp.Journeys.from_events(t, c, progress=False)
    assert any("no `value` column" in w for w in j.warnings), j.warnings
    r = tp.attribute(j, models=["linear"], progress=False)
    assert any("no `value` column" in w for w in r.warnings), r.warnings
    with pytest.raises(tp.ColumnError, match="`value`"):
        tp.Journeys.from_events(t, c, value="value", progress=False)
    j = tp.Journeys.from_events(t, c, value="revenue", progress=False)
    assert j.warnings == []


def test_kpis_survive_to_paths_and_from_paths(tmp_path: Path) -> None:
    t, c = log()
    j = tp.Journeys.from_events(t, c, value="revenue", progress=False)
    back = tp.Journeys.from_paths(j.to_paths())
    assert sorted(back.kpis) == ["leads", "sales"]
    assert back.summary.sort("kpi")["attributed"].to_list() == j.summary.sort("kpi")["attributed"].to_list()
    with pytest.raises(tp.ParameterError, match="kpi_column"):
        tp.Journeys.from_paths(j.to_paths(), kpi="sales")
    # The CLI's simulate output read back keeps `sales`, not `conversions`.
    out = tmp_path / "sim"
    subprocess.run([str(SCRIPT), "simulate", "--people", "2000", "--out", str(out)], check=True, capture_output=True)
    done = subprocess.run(
        [str(SCRIPT), "attribute", "--paths", str(out / "paths.csv"), "--model", "linear"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "KPI `sales`" in done.stdout and "KPI `conversions`" not in done.stdout, done.stdout


def test_a_channel_holding_the_separator_is_refused_and_markov_states_are_lists() -> None:
    t = pl.DataFrame({"user_id": ["u", "u", "v"], "ts": ["2024-01-01", "2024-01-02", "2024-01-01"],
                      "channel": ["a > b", "c", "c"]})  # fmt: skip
    c = pl.DataFrame({"user_id": ["u"], "ts": ["2024-01-03"], "value": [1.0]})
    j = tp.Journeys.from_events(t, c, progress=False)
    with pytest.raises(tp.ParameterError, match="`a > b`"):
        j.to_paths()
    assert tp.Journeys.from_paths(j.to_paths(sep="|"), sep="|").players("channel") == ["a > b", "c"]
    tm = tp.attribute(j, models=["markov"], progress=False).transition_matrix()
    assert ["a > b"] in tm["from_players"].to_list()
    assert tm.filter(pl.col("from") == "(start)")["from_players"].to_list() == [[], []]


def test_unknown_names_are_errors_or_warnings_not_empty_answers() -> None:
    j = tp.Journeys.from_paths(pl.DataFrame({"path": ["a > b", "b"], "total_conversions": [1, 2],
                                             "total_null": [3, 4]}))  # fmt: skip
    with pytest.raises(tp.ParameterError, match="no `campaign` dimension"):
        tp.attribute(j, models=["linear"], by="campaign", progress=False)
    with pytest.raises(tp.ParameterError, match="no `campaign` dimension"):
        tp.choose_order(j, by="campaign", progress=False)
    r = tp.attribute(j, models=["linear", "markov"], progress=False)
    goals = tp.GoalBook([tp.Kpi("conversions", "sales", unit_value=10.0)], social=["facebok"])
    assert any("facebok" in w for w in tp.contribution(r, goals).warnings), "unknown social channel"
    with pytest.raises(tp.ParameterError, match="no KPI `sale`"):
        r.plot(kpi="sale")
    with pytest.raises(tp.ParameterError, match="no KPI `sale`"):
        r.transition_matrix(kpi="sale")
    with pytest.raises(tp.ParameterError, match="not a Markov model"):
        r.transition_matrix(model="linear")


def test_person_ids_float_and_text_match() -> None:
    t = pl.DataFrame({"user_id": [1.0, 2.0], "ts": ["2024-01-01"] * 2, "channel": ["a", "b"]})
    c = pl.DataFrame({"user_id": ["1", " 2"], "ts": ["2024-01-05"] * 2, "value": [1.0, 1.0]})
    j = tp.Journeys.from_events(t, c, progress=False)
    assert j.unattributed.height == 0
    assert j.summary["attributed"].sum() == 2.0
    big = pl.DataFrame({"user_id": pl.Series([2**64 - 1], dtype=pl.UInt64), "ts": ["2024-01-01"], "channel": ["a"]})
    conv = pl.DataFrame({"user_id": pl.Series([2**64 - 1], dtype=pl.UInt64), "ts": ["2024-01-02"], "value": [1.0]})
    assert tp.Journeys.from_events(big, conv, progress=False).summary["attributed"].sum() == 1.0


def test_unattributed_conversions_warn_on_the_result() -> None:
    t, c = log()
    r = tp.attribute(tp.Journeys.from_events(t, c, value="revenue", progress=False), models=["linear"], progress=False)
    assert any("unattributed" in w and "unknown_person" in w for w in r.warnings), r.warnings


# --- readers that survive anything -------------------------------------------------------------------


def test_a_file_path_is_never_a_pattern(tmp_path: Path) -> None:
    (tmp_path / "data1.csv").write_text("path,total_conversions\na,1\n")
    (tmp_path / "data[1].csv").write_text("path,total_conversions\nb,1\nc,1\n")
    assert tp.Journeys.from_paths(tmp_path / "data[1].csv").players("channel") == ["b", "c"]
    with pytest.raises(tp.ReadError, match="no such file"):
        tp.Journeys.from_paths(tmp_path / "data*.csv")
    done = subprocess.run(
        [str(SCRIPT), "attribute", "--paths", str(tmp_path / "data*.csv")], capture_output=True, text=True, check=False
    )
    assert done.returncode == 2 and "no such file" in done.stderr


def test_unicode_whitespace_is_trimmed_in_path_tables() -> None:
    j = tp.Journeys.from_paths(pl.DataFrame({"path": ["search\u00a0> email"], "total_conversions": [1]}))
    assert sorted(j.players("channel")) == ["email", "search"]


@pytest.mark.parametrize(
    "column",
    [
        pl.Series("extra", [Decimal("1.5"), Decimal("2.5")], dtype=pl.Decimal(10, 2)),
        pl.Series("extra", [1, 2], dtype=pl.Int128),
        pl.Series("extra", [1, 2], dtype=pl.UInt128),
        pl.Series("extra", [1.0, 2.0], dtype=pl.Float16),
    ],
    ids=["decimal", "int128", "uint128", "float16"],
)
def test_exotic_column_types_cross_without_a_panic(column: pl.Series, tmp_path: Path) -> None:
    paths = pl.DataFrame({"path": ["a > b", "b"], "total_conversions": [1, 2]}).with_columns(column)
    assert tp.Journeys.from_paths(paths).summary["attributed"].sum() == 3.0
    # Used as the weight column, too.
    used = pl.DataFrame({"path": ["a", "b"]}).with_columns(column.alias("total_conversions"))
    assert tp.Journeys.from_paths(used).summary["attributed"].sum() == float(column.cast(pl.Float64).sum())
    # And as a person id.
    t = pl.DataFrame({"ts": ["2024-01-01", "2024-01-01"], "channel": ["a", "b"]}).with_columns(column.alias("user_id"))
    c = pl.DataFrame({"ts": ["2024-01-02"], "value": [1.0]}).with_columns(column[:1].alias("user_id"))
    if column.dtype.is_integer():
        assert tp.Journeys.from_events(t, c, progress=False).summary["attributed"].sum() == 1.0
    # Parquet through Python and through the CLI: never a panic (exit 101).
    file = tmp_path / "paths.parquet"
    paths.write_parquet(file)
    assert tp.Journeys.from_paths(file).summary["attributed"].sum() == 3.0
    done = subprocess.run([str(SCRIPT), "attribute", "--paths", str(file)], capture_output=True, text=True, check=False)
    assert done.returncode in (0, 2), done.stderr
    if done.returncode == 2:
        assert "type" in done.stderr and str(file) in done.stderr


def test_csv_types_are_inferred_from_every_row_in_python_and_cli(tmp_path: Path) -> None:
    touches = tmp_path / "touches.csv"
    rows = ["user_id,ts,channel"] + [f"{i},2024-01-01,a" for i in range(300)] + ["u300,2024-01-01,b"]
    touches.write_text("\n".join(rows) + "\n")
    conversions = tmp_path / "conversions.csv"
    conversions.write_text("user_id,ts,value\nu300,2024-01-02,1\n" + "".join(f"{i},2024-01-02,1\n" for i in range(5)))
    j = tp.Journeys.from_events(touches, conversions, progress=False)
    assert j.summary["attributed"].sum() == 6.0
    paths = tmp_path / "paths.csv"
    paths.write_text("path,total_conversions\n" + "a,1\n" * 10_050 + "b,0.5\n")
    assert tp.Journeys.from_paths(paths).summary["attributed"].sum() == 10_050.5
    done = subprocess.run(
        [str(SCRIPT), "attribute", "--paths", str(paths), "--format", "csv"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_bad_arguments_are_touchpoint_errors() -> None:
    t, c = log()
    j = tp.Journeys.from_events(t, c, value="revenue", progress=False)
    r = tp.attribute(j, models=["linear"], progress=False)
    goals = tp.GoalBook([tp.Kpi("sales", "sales"), tp.Kpi("leads", "marketing")])
    with pytest.raises(tp.ColumnError, match="no `cost` column"):
        tp.contribution(r, goals, costs=pl.DataFrame({"channel": ["a"], "spend": [1.0]}))
    with pytest.raises(tp.ColumnError, match="player column"):
        tp.contribution(r, goals, costs=pl.DataFrame({"cost": [1.0]}))
    with pytest.raises(tp.GoalBookError, match="finite number"):
        tp.contribution(r, goals, costs=pl.DataFrame({"channel": ["search"], "cost": ["ten"]}))
    with pytest.raises(tp.GoalBookError, match="finite number"):
        tp.contribution(
            r, goals, costs=pl.DataFrame({"channel": ["search"], "cost": [None]}, schema_overrides={"cost": pl.Float64})
        )
    with pytest.raises(tp.GoalBookError, match="no player"):
        tp.contribution(
            r, goals, costs=pl.DataFrame({"channel": [None], "cost": [1.0]}, schema_overrides={"channel": pl.String})
        )
    with pytest.raises(tp.GoalBookError, match="finite number"):
        tp.contribution(r, goals, costs={"search": math.nan})
    cases = [
        lambda: tp.Journeys.from_events(t, c, max_touches=-1, progress=False),
        lambda: tp.Journeys.from_events(t, c, max_touches=1.5, progress=False),
        lambda: tp.Journeys.from_events(t, c, population=-1, progress=False),
        lambda: tp.Journeys.from_events(t, c, lookback=30, progress=False),
        lambda: tp.choose_order(j, folds=-1, progress=False),
        lambda: tp.choose_order(j, max_order=0, progress=False),
        lambda: tp.choose_order(j, seed=-1, progress=False),
        lambda: tp.simulate(people=-1, progress=False),
        lambda: tp.models.Markov(order="2"),
        lambda: tp.models.Markov(order=2.5),
        lambda: tp.models.Shapley(min_support=math.nan),
        lambda: tp.models.PositionBased(first=math.inf),
        lambda: tp.models.AdditiveHazard(tol=math.nan),
        lambda: tp.models.Shapley(game="ratio"),
        lambda: j.merge(t),
    ]
    for i, case in enumerate(cases):
        with pytest.raises(tp.ParameterError):
            case()
            pytest.fail(f"case {i} raised nothing")
    with pytest.raises(tp.ParameterError, match=r"Markov.order must be an integer, got '2'"):
        tp.models.Markov(order="2")
    # A single dimension given as a string is that dimension, not its letters.
    t2 = t.with_columns(pl.lit("spring").alias("campaign"))
    j2 = tp.Journeys.from_events(t2, c, dims="campaign", value="revenue", progress=False)
    assert j2.players("campaign") == ["spring"]


def test_dir_shows_public_names_only() -> None:
    assert set(dir(tp)) == set(tp.__all__)
    assert all(not n.startswith("_") or n == "__version__" for n in dir(tp)), dir(tp)
    assert all(not n.startswith("_") for n in dir(tp.models)), dir(tp.models)
    assert "json" not in dir(tp.models) and "dataclass" not in dir(tp.models)
