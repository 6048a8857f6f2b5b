"""Models from Python: specs, labels, Markov details, Shapley variants, choose_order, pickling."""

from __future__ import annotations

import pickle

import polars as pl
import pytest

import touchpoint as tp


@pytest.fixture
def journeys(small_paths: pl.DataFrame) -> tp.Journeys:
    return tp.Journeys.from_paths(small_paths)


ALL = [
    "first_touch",
    "last_touch",
    "last_non_direct",
    "linear",
    "position_based",
    tp.models.TimeDecay(half_life_touches=1.0),
    "markov",
    tp.models.Markov(order=2),
    "shapley",
    tp.models.Shapley(game="rate"),
]


def test_every_model_conserves_conversions_and_value(journeys: tp.Journeys) -> None:
    df = tp.attribute(journeys, models=ALL).to_polars()
    totals = df.group_by("model").agg(pl.col("conversions").sum(), pl.col("value").sum(), pl.col("share").sum())
    assert totals.height == len(ALL)
    for row in totals.iter_rows(named=True):
        assert row["conversions"] == pytest.approx(6.0, rel=1e-9), row
        assert row["value"] == pytest.approx(43.0, rel=1e-9), row
        assert row["share"] == pytest.approx(1.0, rel=1e-9), row


def test_labels_name_parameters_when_a_model_repeats(journeys: tp.Journeys) -> None:
    r = tp.attribute(journeys, models=["markov", tp.models.Markov(order=3)])
    assert set(r.to_polars()["model"]) == {"markov", "markov(order=3)"}
    assert r.models["markov(order=3)"] == tp.models.Markov(order=3)
    with pytest.raises(tp.ParameterError, match="asked twice"):
        tp.attribute(journeys, models=["linear", tp.models.Linear()])


def test_markov_details(journeys: tp.Journeys) -> None:
    r = tp.attribute(journeys, models=["markov"])
    re = r.removal_effects()
    assert re.columns == ["model", "kpi", "channel", "removal_effect", "value_removal_effect"]
    assert re["removal_effect"].is_between(0, 1).all()
    tm = r.transition_matrix(model="markov", kpi="conversions")
    assert tm.columns == ["from", "to", "probability", "from_players", "to_players"]
    out = tm.group_by("from").agg(pl.col("probability").sum())
    assert out["probability"].to_list() == pytest.approx([1.0] * out.height)
    assert {"(start)", "a", "b", "c"} == set(tm["from"])
    with pytest.raises(tp.ParameterError, match="no model `markov2`"):
        r.transition_matrix(model="markov2")


def test_shapley_rate_sampled_has_standard_errors(journeys: tp.Journeys) -> None:
    r = tp.attribute(journeys, models=[tp.models.Shapley(game="rate", exact=False, samples=500, seed=1)])
    se = r.standard_errors()
    assert se.columns == ["model", "kpi", "channel", "se"]
    assert se.height == 3 and (se["se"] >= 0).all()


def test_ordered_shapley_positions(journeys: tp.Journeys) -> None:
    r = tp.attribute(journeys, models=[tp.models.Shapley(ordered=True)])
    pc = r.position_credits()
    assert pc.columns == ["model", "kpi", "channel", "position", "conversions", "value"]
    by_player = pc.group_by("channel").agg(pl.col("conversions").sum()).sort("channel")
    main = r.to_polars().sort("channel")
    assert by_player["conversions"].to_list() == pytest.approx(main["conversions"].to_list())


def test_rate_without_nulls_is_unsupported() -> None:
    j = tp.Journeys.from_paths(pl.DataFrame({"path": ["a", "b"], "total_conversions": [1, 2]}))
    with pytest.raises(tp.UnsupportedError, match="needs null"):
        tp.attribute(j, models=[tp.models.Shapley(game="rate")])


def test_markov_without_nulls_warns() -> None:
    j = tp.Journeys.from_paths(pl.DataFrame({"path": ["a > b", "b"], "total_conversions": [1, 2]}))
    r = tp.attribute(j, models=["markov"])
    assert any("converting paths only" in w for w in r.warnings)


def test_choose_order(journeys: tp.Journeys) -> None:
    choice = tp.choose_order(journeys, max_order=3, folds=2, seed=0)
    assert choice.table.columns == ["order", "auc", "folds_scored"]
    assert choice.table["order"].to_list() == [1, 2, 3]
    assert choice.suggested in (1, 2, 3)


def test_pickle_round_trip_keeps_parameters(journeys: tp.Journeys) -> None:
    r = tp.attribute(journeys, models=[tp.models.PositionBased(first=0.2, last=0.6), "markov"])
    from polars.testing import assert_frame_equal

    back = pickle.loads(pickle.dumps(r))
    assert_frame_equal(back.to_polars(), r.to_polars(), rel_tol=1e-15, abs_tol=0)
    assert back.models == r.models
    assert back.models["position_based"] == tp.models.PositionBased(first=0.2, last=0.6)
    assert_frame_equal(back.transition_matrix(), r.transition_matrix(), rel_tol=1e-15, abs_tol=0)


def test_deterministic(journeys: tp.Journeys) -> None:
    a = tp.attribute(journeys, models=ALL).to_polars()
    b = tp.attribute(journeys, models=ALL).to_polars()
    assert a.equals(b)


def test_model_records_round_trip() -> None:
    import json

    for m in ALL:
        rec = tp.models.from_spec(tp.models.to_spec(m))
        assert json.loads(rec.to_json()) == json.loads(tp.models.to_spec(m))


def test_optional_float_parameters_take_whole_numbers_and_refuse_text() -> None:
    # `float | None` fields accept an int (2 is 2.0) and name the expected type otherwise.
    assert tp.models.TimeDecay(half_life_touches=2).half_life_touches == 2
    with pytest.raises(tp.ParameterError, match=r"half_life_touches must be a finite number or None, got '2'"):
        tp.models.TimeDecay(half_life_touches="2")  # type: ignore[arg-type]
