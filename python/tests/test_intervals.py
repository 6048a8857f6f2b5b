"""Bootstrap intervals from Python: determinism (threads, row order), shrinking with data, the paired
comparison, valuation through the goal book, plots with error bars, pickling, the CLI, and bad input."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import matplotlib
import polars as pl
import pytest

import touchpoint as tp

matplotlib.use("Agg")

BOUNDS = ["conversions_lower", "conversions_upper", "value_lower", "value_upper", "share_lower", "share_upper"]


def table(scale: float = 1.0) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "path": ["search > social", "social", "email > search", "display > social > email", "search", "display"],
            "total_conversions": [12.0 * scale, 5.0 * scale, 7.0 * scale, 3.0 * scale, 9.0 * scale, 0.0],
            "total_conversion_value": [1200.0 * scale, 400.0 * scale, 700.0 * scale, 330.0 * scale, 810.0 * scale, 0.0],
            "total_null": [30.0 * scale, 40.0 * scale, 10.0 * scale, 25.0 * scale, 60.0 * scale, 35.0 * scale],
        }
    )


MODELS = ["first_touch", "linear", "markov", "shapley"]


def run(df: pl.DataFrame, **kw: object) -> tp.Attribution:
    opts = {"models": MODELS, "intervals": 0.9, "resamples": 60, "seed": 3, "progress": False} | kw
    return tp.attribute(tp.Journeys.from_paths(df), **opts)  # type: ignore[arg-type]


def test_every_credit_row_gets_an_interval_around_it() -> None:
    r = run(table())
    df = r.to_polars()
    assert set(BOUNDS) <= set(df.columns)
    assert r.intervals == {"level": 0.9, "resamples": 60, "seed": 3, "unit": "paths"}
    assert df.select(pl.col(BOUNDS).is_null().any()).row(0) == (False,) * 6
    for lo, mid, hi in (
        ("conversions_lower", "conversions", "conversions_upper"),
        ("share_lower", "share", "share_upper"),
    ):
        assert df.filter(pl.col(lo) > pl.col(hi)).is_empty()
        # The point lies inside its interval for these smooth statistics.
        assert df.filter((pl.col(mid) < pl.col(lo) - 1e-9) | (pl.col(mid) > pl.col(hi) + 1e-9)).is_empty()
    # Whether each row's conversions differ from zero: its interval leaves 0 out.
    rule = (pl.col("conversions_lower") > 0) | (pl.col("conversions_upper") < 0)
    assert df["differs_from_zero"].to_list() == df.select(rule).to_series().to_list()
    # Without intervals: no bound columns, no resamples.
    plain = tp.attribute(tp.Journeys.from_paths(table()), models=MODELS, progress=False)
    assert not (set(BOUNDS) | {"differs_from_zero"}) & set(plain.to_polars().columns)
    assert plain.intervals is None and plain.resamples().is_empty()
    # The resamples are kept: one row per resample and credit row.
    assert r.resamples().height == 60 * df.height


def test_same_seed_same_intervals_with_one_or_two_threads_and_shuffled_rows() -> None:
    a = run(table(), threads=1).to_polars()
    b = run(table(), threads=2).to_polars()
    c = run(table().sample(fraction=1.0, shuffle=True, seed=9), threads=2).to_polars()
    for other in (b, c):
        joined = a.join(other, on=["model", "kpi", "channel"], suffix="_o")
        assert joined.height == a.height
        for col in BOUNDS:
            assert (joined[col] - joined[f"{col}_o"]).abs().max() < 1e-12, col
    d = run(table(), seed=4).to_polars()
    assert (a["conversions_lower"] != d["conversions_lower"]).any()


def test_intervals_shrink_as_data_grows() -> None:
    small = run(table(), resamples=200).to_polars()
    big = run(table(16.0), resamples=200).to_polars()
    widths = small.join(big, on=["model", "kpi", "channel"], suffix="_big").with_columns(
        w=pl.col("share_upper") - pl.col("share_lower"), w_big=pl.col("share_upper_big") - pl.col("share_lower_big")
    )
    # 16 times the data: about 4 times narrower; at least 2.
    assert widths.filter(pl.col("w_big") > pl.col("w") / 2).is_empty(), widths


def test_compare_pairs_the_resamples() -> None:
    r = run(table(), models=["first_touch", "last_touch"], resamples=300)
    d = r.compare("first_touch", "last_touch")
    assert d.columns[:8] == [
        "kpi",
        "channel",
        "conversions_a",
        "conversions_b",
        "difference",
        "lower",
        "upper",
        "differs",
    ]
    social = d.filter(pl.col("channel") == "social").row(0, named=True)
    assert (social["conversions_a"], social["conversions_b"]) == (5.0, 17.0)
    assert social["differs"] and social["upper"] < 0
    same = r.compare("last_touch", "last_touch")
    assert same["difference"].abs().max() == 0 and not same["differs"].any()
    with pytest.raises(tp.ParameterError, match="no such model"):
        r.compare("first_touch", "markov")
    plain = tp.attribute(tp.Journeys.from_paths(table()), models=["linear"], progress=False)
    with pytest.raises(tp.ParameterError, match="intervals"):
        plain.compare("linear", "linear")


def test_contribution_values_the_intervals() -> None:
    r = run(table(), resamples=100)
    book = tp.GoalBook([tp.Kpi("conversions", "sales", unit_value=10.0)], costs={"search": 50.0}, social=["social"])
    rep = tp.contribution(r, book)
    s = rep.summary()
    for col in ("value_lower", "value_upper", "value_share_lower", "value_share_upper", "roi_lower", "roi_upper"):
        assert col in s.columns
    credits = r.to_polars().select("model", "channel", "conversions_lower")
    joined = s.join(credits, on=["model", "channel"])
    assert ((joined["value_lower"] - 10 * joined["conversions_lower"]).abs() < 1e-9).all()
    search = s.filter((pl.col("model") == "linear") & (pl.col("channel") == "search")).row(0, named=True)
    assert search["roi_lower"] == pytest.approx((search["value_lower"] - 50) / 50)
    assert "value_lower" in rep.social().columns
    html = rep._repr_html_()
    assert " [" in html and "value_lower" not in html
    assert "[" in r._repr_html_() and "intervals from 100 resamples of paths" in r._repr_html_()


def test_plots_draw_error_bars(tmp_path: Path) -> None:
    r = run(table(), resamples=100)
    fig = r.plot()
    ax = fig.axes[0]
    # One error-bar container per model.
    bars = [c for c in ax.containers if getattr(c, "errorbar", None) is not None]
    assert len(bars) == len(MODELS)
    assert "bootstrap intervals" in ax.get_title()
    fig.savefig(tmp_path / "credit.png")
    book = tp.GoalBook([tp.Kpi("conversions", "sales", unit_value=10.0)])
    fig2 = tp.contribution(r, book).plot("linear")
    assert any(len(c.lines) for c in fig2.axes[0].containers if hasattr(c, "lines"))


def test_pickling_keeps_the_resamples() -> None:
    r = run(table())
    back = pickle.loads(pickle.dumps(r))
    assert back.to_polars().equals(r.to_polars())
    assert back.compare("linear", "markov").equals(r.compare("linear", "markov"))


def test_bad_input_is_a_typed_error() -> None:
    j = tp.Journeys.from_paths(table())
    for level in (0, 1, 1.5, -0.1, float("nan"), True, "0.9"):
        with pytest.raises(tp.ParameterError, match="intervals"):
            tp.attribute(j, models=["linear"], intervals=level, progress=False)  # type: ignore[arg-type]
    for n in (0, -3, 2.5):
        with pytest.raises(tp.ParameterError, match="resamples"):
            tp.attribute(j, models=["linear"], intervals=0.9, resamples=n, progress=False)  # type: ignore[arg-type]
    with pytest.raises(tp.ParameterError, match="threads"):
        tp.attribute(j, models=["linear"], intervals=0.9, threads=0, progress=False)


def test_people_are_resampled_for_event_logs() -> None:
    sim = tp.simulate("baseline", people=3000, seed=2, progress=False)
    r = tp.attribute(sim.journeys, models=["linear", "additive_hazard"], intervals=0.8, resamples=30, progress=False)
    assert r.intervals is not None and r.intervals["unit"] == "people"
    base = r.to_polars().filter(pl.col("channel") == "(baseline)").row(0, named=True)
    assert base["conversions_lower"] <= base["conversions"] <= base["conversions_upper"]


def test_cli_prints_intervals(tmp_path: Path) -> None:
    f = tmp_path / "paths.csv"
    table().write_csv(f)
    script = Path(sys.executable).with_name("touchpoint")
    done = subprocess.run(
        [
            str(script),
            "attribute",
            "--paths",
            str(f),
            "--model",
            "linear",
            "--intervals",
            "0.9",
            "--resamples",
            "40",
            "--format",
            "csv",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    header = done.stdout.splitlines()[0].split(",")
    assert header[-7:] == [*BOUNDS, "differs_from_zero"]
    assert {line.split(",")[-1] for line in done.stdout.splitlines()[1:]} <= {"true", "false"}
    bad = subprocess.run(
        [str(script), "attribute", "--paths", str(f), "--intervals", "2"], capture_output=True, text=True, check=False
    )
    assert bad.returncode == 2 and "intervals" in bad.stderr


def test_journey_credits_sum_to_the_credit() -> None:
    df = table()
    r = tp.attribute(tp.Journeys.from_paths(df), models=["linear", "markov"], progress=False)
    rows = r.journey_credits()
    assert rows.columns == ["model", "kpi", "journey", "person", "time", "channel", "conversions", "value"]
    totals = rows.group_by("model", "channel").agg(pl.col("conversions").sum())
    credit = r.to_polars().select("model", "channel", pl.col("conversions").alias("credit"))
    linear = totals.join(credit, on=["model", "channel"]).filter(pl.col("model") == "linear")
    assert ((linear["conversions"] - linear["credit"]).abs() < 1e-9).all()
    markov = rows.filter(pl.col("model") == "markov")["conversions"].sum()
    assert markov == pytest.approx(df["total_conversions"].sum())
    gaps = r.journey_credit_gaps("markov")
    assert gaps.columns == ["model", "kpi", "channel", "journeys", "credit", "gap"]
    assert gaps["gap"].sum() == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(tp.ParameterError, match="not run"):
        r.journey_credits("shapley")
    back = pickle.loads(pickle.dumps(r))
    with pytest.raises(tp.UnsupportedError, match="without its journeys"):
        back.journey_credits()


def test_write_journey_credits_streams_parquet(tmp_path: Path) -> None:
    sim = tp.simulate("baseline", people=3000, seed=2, progress=False)
    r = tp.attribute(sim.journeys, models=["last_touch", "additive_hazard"], progress=False)
    out = tmp_path / "credits.parquet"
    n = r.write_journey_credits(out)
    back = pl.read_parquet(out)
    assert back.height == n
    assert back.equals(r.journey_credits())
    hazard = back.filter(pl.col("model") == "additive_hazard")
    assert hazard["journey"].null_count() == hazard.height and hazard["person"].null_count() == 0
    # Players and baseline of the hazard model sum to every conversion of the period.
    total = sim.conversions.height
    assert hazard["conversions"].sum() == pytest.approx(total, rel=1e-9)
    with pytest.raises(tp.ReadError):
        r.write_journey_credits(tmp_path / "no" / "such" / "dir.parquet")


def test_cli_writes_journey_credits(tmp_path: Path) -> None:
    f = tmp_path / "paths.csv"
    table().write_csv(f)
    out = tmp_path / "journeys.parquet"
    script = Path(sys.executable).with_name("touchpoint")
    done = subprocess.run(
        [
            str(script),
            "attribute",
            "--paths",
            str(f),
            "--model",
            "first_touch",
            "--model",
            "markov",
            "--journeys-out",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rows = pl.read_parquet(out)
    assert set(rows["model"].unique()) == {"first_touch", "markov"}
    assert f"wrote {rows.height} journey credit rows" in done.stderr
    assert "markov" in done.stderr.split("note:")[1]


def test_a_tampered_result_is_refused_and_arguments_are_always_checked() -> None:
    import json

    from touchpoint import _touchpoint

    r = run(table())
    data = json.loads(r._inner.to_json())
    data["bootstrap"]["settings"]["level"] = 1.5
    with pytest.raises(tp.ParameterError, match="intervals"):
        _touchpoint.Attribution.from_json(json.dumps(data))
    data = json.loads(r._inner.to_json())
    data["bootstrap"]["conversions"][0].pop()
    with pytest.raises(tp.ParameterError, match="credit rows"):
        _touchpoint.Attribution.from_json(json.dumps(data))
    j = tp.Journeys.from_paths(table())
    with pytest.raises(tp.ParameterError, match="seed"):
        tp.attribute(j, models=["linear"], seed=-1, progress=False)
    with pytest.raises(tp.ParameterError, match="threads"):
        tp.attribute(j, models=["linear"], intervals=0.9, threads=5000, progress=False)
