"""The simulator and benchmark from Python; GIL release and interrupts of long calls."""

from __future__ import annotations

import os
import signal
import threading
import time

import polars as pl
import pytest

import touchpoint as tp


def test_simulate_is_deterministic_and_truthful() -> None:
    a = tp.simulate("baseline", people=5000, seed=3)
    b = tp.simulate("baseline", people=5000, seed=3)
    assert a.truth.equals(b.truth)
    assert a.journeys.to_paths().equals(b.journeys.to_paths())
    assert a.truth.columns == [
        "kpi",
        "channel",
        "removal",
        "shapley",
        "removal_value",
        "shapley_value",
        "removal_share",
        "shapley_share",
        "shapley_se",
        "fired",
        "social",
    ]
    channels = a.truth.filter(pl.col("channel") != "(baseline)")
    assert (channels["removal"] - channels["shapley"]).abs().max() < 1e-9
    # Without synergy every conversion a channel fired is its own in both truths.
    assert (channels["fired"] - channels["shapley"]).abs().max() < 1e-9
    assert channels["shapley_share"].sum() == pytest.approx(1.0)
    assert a.params["name"] == "baseline" and a.params["people"] == 5000


def test_unknown_scenario() -> None:
    with pytest.raises(tp.ParameterError, match="unknown scenario"):
        tp.simulate("moon_landing")


def test_benchmark_columns() -> None:
    df = tp.benchmark(["baseline"], people=3000, seed=1, models=["last_touch", tp.models.Markov()])
    assert df.columns == [
        "scenario",
        "kpi",
        "model",
        "tv_shapley",
        "tv_removal",
        "spearman_shapley",
        "spearman_removal",
        "social_share_error",
        "incremental",
        "incremental_truth",
    ]
    assert set(df["model"]) == {"last_touch", "markov"}
    # Models without a baseline credit every attributed conversion to channels.
    assert (df["incremental"] - df["incremental"][0]).abs().max() < 1e-6
    assert df["tv_shapley"].is_between(0, 1).all()


def test_long_attribution_releases_the_gil() -> None:
    sim = tp.simulate("long_journeys", people=60_000, seed=1)
    done = threading.Event()
    ticks = 0

    def work() -> None:
        tp.attribute(sim.journeys, models=[tp.models.Markov(order=3), "shapley"] * 1)
        done.set()

    worker = threading.Thread(target=work)
    start = time.perf_counter()
    worker.start()
    while not done.is_set() and time.perf_counter() - start < 120:
        ticks += 1
        time.sleep(0.001)
    worker.join(timeout=120)
    assert done.is_set()
    assert ticks > 5, "the main thread did not run while Rust worked"


@pytest.mark.parametrize("progress", [True, False])
def test_ctrl_c_interrupts_a_long_sampled_shapley(progress: bool) -> None:
    # With progress on, the signal can surface inside the progress callback; it must still stop the run.
    sim = tp.simulate("many_channels", people=20_000, seed=2, progress=False)
    timer = threading.Timer(0.8, lambda: os.kill(os.getpid(), signal.SIGINT))
    start = time.perf_counter()
    timer.start()
    # Bounded: were the interrupt lost, the call would end (minutes later) and the test fail.
    with pytest.raises(KeyboardInterrupt):
        tp.attribute(
            sim.journeys, models=[tp.models.Shapley(game="rate", exact=False, samples=400_000)], progress=progress
        )
    timer.cancel()
    assert time.perf_counter() - start < 60


def test_a_scenario_of_ones_own_as_text_file_or_dict(tmp_path) -> None:
    """toml= takes TOML text, a .toml file or a dict; the docs' example parses and runs, and the
    params of a run give the same run back."""
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "simulation.md").read_text(encoding="utf-8")
    example = re.search(r"```toml\n(.*?)```", doc, re.S).group(1)
    from_text = tp.simulate(toml=example, people=3_000, progress=False)
    assert from_text.params["name"] == "care_launch"
    assert {c["name"] for c in from_text.params["channels"]} == {"care_replies", "search"}
    path = tmp_path / "launch.toml"
    path.write_text(example, encoding="utf-8")
    for given in (path, str(path)):
        from_file = tp.simulate(toml=given, people=3_000, progress=False)
        assert from_file.truth.equals(from_text.truth)

    base = tp.simulate("selection_bias", people=2_000, seed=3, progress=False)
    again = tp.simulate(toml=base.params, progress=False)
    assert again.truth.equals(base.truth) and again.journeys.summary.equals(base.journeys.summary)
    edited = dict(base.params, intent_sd=1.5)
    assert tp.simulate(toml=edited, progress=False).params["intent_sd"] == 1.5

    with pytest.raises(tp.ReadError, match="no scenario file"):
        tp.simulate(toml=str(tmp_path / "missing.toml"))
    with pytest.raises(tp.ParameterError, match="intent_sdd"):
        tp.simulate(toml=dict(base.params, intent_sdd=1.0))
    with pytest.raises(tp.ParameterError, match="toml= takes"):
        tp.simulate(toml=42)


def test_score_any_result_against_any_simulation(tmp_path) -> None:
    """tp.score on a built-in scenario gives the benchmark's rows; it scores a scenario of one's own
    and a result read back from the simulated event log too."""
    import re
    from pathlib import Path

    models = ["last_touch", "linear", "additive_hazard"]
    bench = tp.benchmark(["selection_bias"], people=3_000, seed=5, models=models, progress=False)
    sim = tp.simulate("selection_bias", people=3_000, seed=5, progress=False)
    scored = tp.score(tp.attribute(sim.journeys, models=models, progress=False), sim)
    assert scored.equals(bench)
    # A scenario of one's own (the docs' TOML): no name to look up, its own truth.
    doc = (Path(__file__).resolve().parents[2] / "docs" / "simulation.md").read_text(encoding="utf-8")
    own = tp.simulate(toml=re.search(r"```toml\n(.*?)```", doc, re.S).group(1), people=3_000, progress=False)
    # Read back from its touches and conversions with from_events' default column names.
    j = tp.Journeys.from_events(own.touches, own.conversions, period=own.period, population=own.population)
    s = tp.score(tp.attribute(j, models=["additive_hazard", "last_touch"], progress=False), own)
    assert set(s["model"]) == {"additive_hazard", "last_touch"} and (s["scenario"] == "care_launch").all()
    hz = s.filter(pl.col("model") == "additive_hazard")
    assert (hz["tv_shapley"] < s.filter(pl.col("model") == "last_touch")["tv_shapley"]).all(), s
    with pytest.raises(tp.ParameterError, match="an Attribution"):
        tp.score(sim.truth, own)  # type: ignore[arg-type]
