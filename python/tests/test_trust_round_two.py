"""Issue 25, trust round two: each case gave a silent wrong answer, an abort, a hang, a foreign exception
or a message about the wrong problem. (Items 1-3 and 18, the workdir, are in test_workdir.py.)"""

from __future__ import annotations

import json
import math
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

import touchpoint as tp

SCRIPT = Path(sys.executable).parent / "touchpoint"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def sim() -> tp.Simulation:
    return tp.simulate("social_care", people=3000, seed=4, progress=False)


# --- A. data loss and silent wrong answers ------------------------------------------------------------


def test_4_merge_of_time_halves_is_refused_and_of_person_halves_is_whole(sim: tp.Simulation) -> None:
    t, c = sim.touches, sim.conversions
    period = sim.period
    cut = t["ts"].sort()[t.height // 2]
    kw: dict[str, Any] = {"person": "user_id", "period": period, "population": 3000, "progress": False}
    early = tp.Journeys.from_events(t.filter(pl.col("ts") < cut), c.filter(pl.col("ts") < cut), **kw)
    late = tp.Journeys.from_events(t.filter(pl.col("ts") >= cut), c.filter(pl.col("ts") >= cut), **kw)
    with pytest.raises(tp.InputError, match=r"both hold person `\d+`: merge combines parts of a log split by person"):
        early.merge(late)
    # Split by person, the merge is the whole log: the same population and hazard fit.
    odd = pl.col("user_id") % 2 == 1
    a = tp.Journeys.from_events(t.filter(odd), c.filter(odd), **{**kw, "population": 1500})
    b = tp.Journeys.from_events(t.filter(~odd), c.filter(~odd), **{**kw, "population": 1500})
    whole = tp.Journeys.from_events(t, c, **kw)
    merged = a.merge(b)
    assert merged.population == whole.population == 3000
    fa, fb = (
        tp.attribute(x, models=["additive_hazard"], progress=False).table("hazard_parameters") for x in (whole, merged)
    )
    for col in ("beta", "baseline_per_day"):
        a_col, b_col = (x.sort("kpi", "player")[col].fill_null(-1.0).to_list() for x in (fa, fb))
        assert b_col == pytest.approx(a_col, rel=1e-6), col


def test_5_the_hazard_fit_does_not_hang_on_its_starting_half_life(sim: tp.Simulation) -> None:
    j = tp.Journeys.from_events(sim.touches, sim.conversions, person="user_id", population=3000, progress=False)
    fits = {}
    for start in ("10m", "1d", "30d"):
        r = tp.attribute(j, models=[tp.models.AdditiveHazard(initial_half_life=start)], progress=False)
        fits[start] = r.table("hazard_fit").sort("kpi")["log_likelihood"].to_list()
    for start, ll in fits.items():
        assert ll == pytest.approx(fits["1d"], abs=1e-3), (start, fits)


def test_6_a_saved_fit_whose_draws_contradict_its_options_is_refused(tmp_path: Path) -> None:
    weekly = tp.simulate_weekly(weeks=60, seed=1)
    m = tp.MMM(date="week", target="tickets_deflected", media=["paid_social"], organic=[], controls=[])
    fit = m.fit(weekly.data, chains=2, draws=30, tune=30, seed=0, progress=False)
    good = tmp_path / "fit.json"
    fit.save(good)
    assert tp.MMMFit.load(good).summary().equals(fit.summary())
    saved = json.loads(good.read_text())

    def refused(change: Any, match: str) -> None:
        data = json.loads(json.dumps(saved))
        change(data)
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps(data))
        with pytest.raises(tp.ReadError, match=match):
            tp.MMMFit.load(bad)

    refused(lambda d: d["options"].update(chains=7), "the options say 7 chains, the file holds 2")
    refused(lambda d: d["draws"][1].clear(), "the options say 30 draws per chain, chain 2 holds 0")
    refused(lambda d: d["draws"][0].__delitem__(slice(7, None)), "chain 1 holds 7")
    refused(lambda d: d["draws"][0][3].__setitem__(2, 1e308), "draw 4 of chain 1 is not a point the model can take")
    refused(lambda d: d["divergences"].pop(), "2 chains of draws but 1 divergence counts")


def test_7_a_unit_value_past_what_a_number_holds_is_an_error_naming_the_kpi(sim: tp.Simulation) -> None:
    r = tp.attribute(sim.journeys, models=["linear"], progress=False)
    goals = tp.GoalBook([tp.Kpi(k, unit_value=1e308 if k == "sales" else 1.0) for k in r.to_polars()["kpi"].unique()])
    with pytest.raises(tp.GoalBookError, match=r"kpi `sales`: the value of .* is inf"):
        tp.contribution(r, goals)


def test_8_a_player_given_two_costs_is_refused(sim: tp.Simulation, tmp_path: Path) -> None:
    r = tp.attribute(sim.journeys, models=["linear"], progress=False)
    goals = tp.GoalBook([tp.Kpi(k) for k in r.to_polars()["kpi"].unique()])
    table = pl.DataFrame({"channel": ["search", "email", "search"], "cost": [10.0, 5.0, 20.0]})
    with pytest.raises(tp.GoalBookError, match=r"`search` is given twice \(10.0 and 20.0\)"):
        tp.contribution(r, goals, costs=table)
    book = tmp_path / "goals.json"
    book.write_text('{"kpi": [{"name": "sales"}], "costs": {"search": 1.0, "search": 2.0}}')
    with pytest.raises(tp.GoalBookError, match="`search` is given twice"):
        tp.GoalBook.load(book)


def test_9_and_21_goal_book_arguments_of_the_wrong_shape_are_named() -> None:
    with pytest.raises(tp.GoalBookError, match=r"`social` = 'facebook': expected a list"):
        tp.GoalBook([tp.Kpi("sales")], social="facebook")  # type: ignore[arg-type]
    assert tp.GoalBook([tp.Kpi("sales")], social=["facebook"]).social == ("facebook",)
    with pytest.raises(tp.GoalBookError, match=r"`kpis\[0\]` = 'sales' is not a Kpi"):
        tp.GoalBook(["sales"])  # type: ignore[list-item]
    with pytest.raises(tp.GoalBookError, match=r"`kpis` = 'sales': expected a list"):
        tp.GoalBook("sales")  # type: ignore[arg-type]
    # numpy scalars are numbers; NaN is named as the unit value it is.
    k = tp.Kpi("sales", unit_value=np.float32(2.5))  # type: ignore[arg-type]
    assert k.unit_value == 2.5 and type(k.unit_value) is float
    assert tp.GoalBook([k], costs={"search": np.float64(3.0)}).costs == {"search": 3.0}
    with pytest.raises(tp.GoalBookError, match=r"kpi `sales`: `unit_value` = nan must be finite"):
        tp.Kpi("sales", unit_value=float("nan"))
    with pytest.raises(tp.GoalBookError, match=r"`unit_value` = '2' \(str\) must be a number"):
        tp.Kpi("sales", unit_value="2")  # type: ignore[arg-type]


def test_10_a_local_time_that_occurs_twice_is_refused(sim: tp.Simulation) -> None:
    t = pl.DataFrame({"user_id": [1, 1], "ts": ["2024-10-26 12:00", "2024-10-27 02:30"], "channel": ["a", "b"]})
    c = pl.DataFrame({"user_id": [1], "ts": ["2024-10-28 10:00"], "value": [1.0]})
    with pytest.raises(tp.InputError, match=r"row 2: .* occurs twice in Europe/Paris .*02:30\+02:00 or 02:30\+01:00"):
        tp.Journeys.from_events(t, c, tz="Europe/Paris", progress=False)
    # With its offset, it is one instant.
    t2 = t.with_columns(pl.Series("ts", ["2024-10-26 12:00:00+02:00", "2024-10-27 02:30:00+01:00"]))
    assert tp.Journeys.from_events(t2, c, tz="Europe/Paris", progress=False).summary["attributed"].sum() == 1


def test_11_a_header_naming_a_column_twice_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "paths.csv"
    f.write_text("path,total_conversions,path\na > b,1,c\nb,2,c\n")
    with pytest.raises(tp.ColumnError, match=r"column `path` must be named once in the header, found columns 1 and 3"):
        tp.Journeys.from_paths(f)
    done = cli("attribute", "--paths", str(f), "--model", "linear")
    assert done.returncode != 0 and "column `path` must be named once" in done.stderr, done.stderr


def test_12_the_cli_refuses_contradictions(tmp_path: Path) -> None:
    ev = ["--touches", "examples/data/touches.csv", "--conversions", "examples/data/conversions.csv"]
    cases = [
        ([*ev, "--lookback", "sales=1d", "--lookback", "sales=30d"], "--lookback sales= is given twice (1d and 30d)"),
        ([*ev, "--lookback", "7d", "--lookback", "30d"], "--lookback is given twice without a KPI"),
        (["--paths", "examples/data/paths.csv", "--population", "5000"], "--population"),
        (["--paths", "examples/data/paths.csv", "--period", "2024-01-01,2024-02-01"], "--period"),
    ]
    root = Path(__file__).resolve().parents[2]
    for args, message in cases:
        done = subprocess.run(
            [str(SCRIPT), "attribute", *args, "--model", "linear"],
            capture_output=True,
            text=True,
            cwd=root,
            check=False,
        )
        assert done.returncode != 0 and message in done.stderr, (args, done.stderr)


def test_13_a_goal_book_file_holding_an_array_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "goals.json"
    f.write_text("[]")
    with pytest.raises(tp.GoalBookError, match="expected a JSON object"):
        tp.GoalBook.load(f)


# --- B. aborts, hangs and foreign exceptions ----------------------------------------------------------


def test_14_a_fit_too_large_for_memory_is_refused_before_it_starts() -> None:
    # 40,000 actors: 120,000 parameters, whose dense information matrices would take hundreds of GB.
    n = 40_000
    t = pl.DataFrame(
        {
            "user_id": list(range(n)),
            "ts": ["2024-01-01"] * n,
            "channel": ["social"] * n,
            "actor": [f"employee_{i}" for i in range(n)],
        }
    )
    c = pl.DataFrame({"user_id": list(range(0, n, 2)), "ts": ["2024-01-03"] * (n // 2), "value": [1.0] * (n // 2)})
    j = tp.Journeys.from_events(t, c, dims=["actor"], population=2 * n, progress=False)
    start = time.perf_counter()
    with pytest.raises(tp.UnsupportedError, match=r"120001 parameters \(40000 players\) need .* GB .* more than the"):
        tp.attribute(j, models=["additive_hazard"], by="actor", progress=False)
    assert time.perf_counter() - start < 60


def test_15_and_16_simulations_are_bounded() -> None:
    with pytest.raises(tp.ParameterError, match=r"people.*at most 50000000"):
        tp.simulate(people=10**10, progress=False)
    with pytest.raises(tp.ParameterError, match=r"people.*at most 50000000"):
        tp.benchmark(people=10**10, progress=False)
    with pytest.raises(tp.ParameterError, match=r"people.*at most 1000000000"):
        tp.lift_test(people=2 * 10**9, progress=False)


def test_16_ctrl_c_stops_a_long_lift_test() -> None:
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    start = time.perf_counter()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        tp.lift_test("baseline", people=500_000_000, progress=False)
    timer.cancel()
    # The whole holdout takes minutes; stopped within a few seconds of the signal.
    assert time.perf_counter() - start < 10


@pytest.mark.parametrize("dtype", [pl.UInt8, pl.UInt16, pl.Int8, pl.Int16], ids=["uint8", "uint16", "int8", "int16"])
def test_17_small_integer_columns_cross_used_or_not(dtype: pl.DataType) -> None:
    t = pl.DataFrame({"user_id": [1, 2], "ts": ["2024-01-01", "2024-01-01"], "channel": ["a", "b"]})
    c = pl.DataFrame({"user_id": [1], "ts": ["2024-01-02"], "value": [1.0]})
    flags = pl.Series("flag", [1, 0], dtype=dtype)
    arrays = pl.Series("vec", [[1, 2], [3, 4]], dtype=pl.Array(pl.Int64, 2))
    # Unused, beside the columns read.
    j = tp.Journeys.from_events(t.with_columns(flags, arrays), c, progress=False)
    assert j.summary["attributed"].sum() == 1
    # Used: as the person id of both tables.
    t2 = t.with_columns(pl.col("user_id").cast(dtype))
    c2 = c.with_columns(pl.col("user_id").cast(dtype))
    assert tp.Journeys.from_events(t2, c2, progress=False).summary["attributed"].sum() == 1
    paths = pl.DataFrame({"path": ["a > b", "b"], "total_conversions": pl.Series([1, 2], dtype=dtype)})
    assert tp.Journeys.from_paths(paths.with_columns(arrays)).summary["attributed"].sum() == 3


def test_19_a_timestamp_past_the_year_9999_is_refused_at_read_time() -> None:
    t = pl.DataFrame({"user_id": [1], "ts": ["+10000-01-01T00:00:00Z"], "channel": ["a"]})
    c = pl.DataFrame({"user_id": [1], "ts": ["2024-01-02"], "value": [1.0]})
    with pytest.raises(tp.InputError, match=r"row 1: .* is outside the years 1 to 9999"):
        tp.Journeys.from_events(t, c, progress=False)


def test_20_devices_and_fifos_are_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "goals.toml"
    os.mkfifo(fifo)
    for path in ("/dev/zero", fifo):
        start = time.perf_counter()
        with pytest.raises(tp.GoalBookError, match="not a regular file"):
            tp.GoalBook.load(path)
        with pytest.raises(tp.ReadError, match="not a regular file"):
            tp.MMMFit.load(path)
        assert time.perf_counter() - start < 5
    with pytest.raises(tp.ReadError, match="a folder"):
        tp.MMMFit.load(tmp_path)


def test_22_odd_arguments_are_parameter_errors(sim: tp.Simulation) -> None:
    with pytest.raises(tp.ParameterError, match="`tz` = None"):
        tp.Journeys.from_events(sim.touches, sim.conversions, person="user_id", tz=None, progress=False)  # type: ignore[arg-type]
    weekly = tp.simulate_weekly(weeks=60, seed=1)
    m = tp.MMM(date="week", target="tickets_deflected", media=["paid_social"], organic=[], controls=[])
    fit = m.fit(weekly.data, method="map", seed=0, progress=False)
    with pytest.raises(tp.ParameterError, match="points must be a whole number >= 1, got -1"):
        fit.response_curves(points=-1)
    with pytest.raises(tp.ParameterError, match="max_multiple must be a number > 0"):
        fit.response_curves(max_multiple=float("nan"))
    with pytest.raises(tp.ParameterError, match="not JSON"):
        tp.models.from_spec('{"model": "mar')
    with pytest.raises(tp.ParameterError, match="expected an object"):
        tp.models.from_spec("[1]")
    with pytest.raises(tp.ParameterError, match="attribute takes Journeys .* got polars.dataframe.frame.DataFrame"):
        tp.attribute(sim.touches)  # type: ignore[arg-type]
    with pytest.raises(tp.ParameterError, match="a model is a name"):
        tp.attribute(sim.journeys, models=[3])  # type: ignore[list-item]


def test_23_journeys_and_fits_pickle(sim: tp.Simulation) -> None:
    j = tp.Journeys.from_events(sim.touches, sim.conversions, person="user_id", population=3000, progress=False)
    back = pickle.loads(pickle.dumps(j))
    assert back.summary.equals(j.summary) and back.population == 3000 and back.has_timelines
    models: list[Any] = ["linear", "additive_hazard"]
    a, b = (tp.attribute(x, models=models, progress=False).to_polars() for x in (j, back))
    assert a.equals(b)
    with pytest.raises(tp.ReadError, match="not a journeys file"):
        tp._touchpoint.Journeys.from_bytes(b"not journeys")
    weekly = tp.simulate_weekly(weeks=60, seed=1)
    m = tp.MMM(date="week", target="tickets_deflected", media=["paid_social"], organic=[], controls=[])
    fit = m.fit(weekly.data, method="map", seed=0, progress=False)
    assert pickle.loads(pickle.dumps(fit)).summary().equals(fit.summary())


# --- C. messages that describe the wrong problem ------------------------------------------------------


def test_24_bad_utf8_names_its_line_in_python_and_the_cli(tmp_path: Path) -> None:
    f = tmp_path / "paths.csv"
    f.write_bytes(b"path,total_conversions\na,1\nb,2\nc,3\n\xff\xfe,4\n")
    with pytest.raises(tp.ReadError, match="line 5: not UTF-8"):
        tp.Journeys.from_paths(f)
    done = cli("attribute", "--paths", str(f), "--model", "linear")
    assert done.returncode != 0 and "line 5" in done.stderr, done.stderr


def test_25_messages_name_the_real_problem(sim: tp.Simulation) -> None:
    with pytest.raises(tp.ParameterError, match=r"`population` = \"100\": the log holds \d+ people, more than"):
        tp.Journeys.from_events(sim.touches, sim.conversions, person="user_id", population=100, progress=False)
    t = pl.DataFrame({"user_id": [1], "ts": ["2024-01-01"], "channel": ["a"]})
    c = pl.DataFrame({"user_id": [1], "ts": ["2024-03-01"], "value": [1.0]})
    # A conversion outside the period is left out and counted (issue 29), never called unparseable.
    j = tp.Journeys.from_events(t, c, period=("2024-01-01", "2024-02-01"), progress=False)
    assert j.unattributed.filter(pl.col("reason") == "outside_period")["conversions"].sum() == 1
    c = pl.DataFrame({"user_id": [1e20], "ts": ["2024-01-02"], "value": [1.0]})
    with pytest.raises(tp.InputError, match=r"person id 100000000000000000000 .* within ±9.2e18"):
        tp.Journeys.from_events(t.with_columns(pl.col("user_id").cast(pl.Float64)), c, progress=False)


def test_26_cli_priors_merge_as_python_does_and_name_a_bad_value(tmp_path: Path) -> None:
    weekly = tp.simulate_weekly(weeks=60, seed=1)
    data = tmp_path / "weekly.csv"
    weekly.data.write_csv(data)
    base = ["mmm", "--data", str(data), "--date", "week", "--target", "tickets_deflected", "--media", "paid_social"]
    partial = tmp_path / "priors.json"
    partial.write_text('{"adstock": {"alpha": 2.0}}')
    done = cli(*base, "--priors", str(partial), "--method", "map", "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    saved = json.loads((tmp_path / "out" / "fit.json").read_text())
    assert saved["model"]["priors"]["adstock"] == {"alpha": 2.0, "beta": 3.0}
    py = tp.MMM(date="week", target="tickets_deflected", media=["paid_social"], priors={"adstock": {"alpha": 2.0}})
    assert py._spec["priors"] == saved["model"]["priors"]
    partial.write_text('{"adstock": {"alpha": -1}}')
    done = cli(*base, "--priors", str(partial), "--method", "map", "--out", str(tmp_path / "out2"))
    assert done.returncode != 0 and "invalid prior `adstock.alpha`: -1" in done.stderr, done.stderr
    with pytest.raises(tp.ParameterError, match=r"invalid prior `adstock.alpha`: -1"):
        tp.MMM(date="week", target="t", media=["x"], priors={"adstock": {"alpha": -1}})
    with pytest.raises(tp.ParameterError, match=r"invalid prior `adstok`.*no such prior"):
        tp.MMM(date="week", target="t", media=["x"], priors={"adstok": {"alpha": 1}})
    assert math.isfinite(saved["model"]["priors"]["lam"]["alpha"])


# --- also seen ----------------------------------------------------------------------------------------


def test_names_that_would_merge_with_missing_values_or_read_as_null_are_named() -> None:
    c = pl.DataFrame({"user_id": [1], "ts": ["2024-01-02"], "value": [1.0]})
    t = pl.DataFrame({"user_id": [1, 1], "ts": ["2024-01-01", "2024-01-01"], "channel": ["a", "(none)"]})
    with pytest.raises(tp.InputError, match=r"the name `\(none\)`, which labels missing values .* `channel` .* row 2"):
        tp.Journeys.from_events(t, c, progress=False)
    # In an optional dimension, `(none)` is what Touchpoint writes for "no value", and reads back as it.
    t = pl.DataFrame(
        {"user_id": [1, 1], "ts": ["2024-01-01", "2024-01-01"], "channel": ["a", "b"], "campaign": [None, "(none)"]}
    )
    assert tp.Journeys.from_events(t, c, dims=["campaign"], progress=False).players("campaign") == ["(none)"]
    # An empty channel is said to be empty, not null.
    t = pl.DataFrame({"user_id": [1, 1], "ts": ["2024-01-01", "2024-01-01"], "channel": ["a", "  "]})
    with pytest.raises(tp.InputError, match=r"empty text where a name is required in column `channel` .* row 2"):
        tp.Journeys.from_events(t, c, progress=False)
    # Same-instant conversions of one KPI are one record: the journey once, with both conversions.
    t = pl.DataFrame({"user_id": [1], "ts": ["2024-01-01"], "channel": ["a"]})
    c2 = pl.DataFrame({"user_id": [1, 1], "ts": ["2024-01-02", "2024-01-02"], "value": [1.0, 2.0]})
    j = tp.Journeys.from_events(t, c2, progress=False)
    r = tp.attribute(j, models=["last_touch"], progress=False).to_polars()
    assert r["conversions"].to_list() == [2.0] and r["value"].to_list() == [3.0]
