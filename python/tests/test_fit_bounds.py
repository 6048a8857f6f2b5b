"""A fit that lands on a bound says so (issue "main job", part 1): the baseline at 0, standard errors
that cannot be computed, a half-life at its bound, an effect not distinguishable from zero. Each
warning is on the result (and so in the report's data-health section)."""

from __future__ import annotations

import datetime as dt
import random
import re
from pathlib import Path

import polars as pl
import pytest

import touchpoint as tp

DATA = Path(__file__).resolve().parents[2] / "examples" / "data"
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def _log(twin: bool, population: int | None = None, seed: int = 1) -> tp.Journeys:
    """400 people each touched once by `a` (and, with `twin`, by `twin` at the same instant): half of
    them convert within hours of it, nobody converts otherwise, and the population is not given."""
    rng = random.Random(seed)
    touches, conversions = [], []
    for p in range(400):
        t = T0 + dt.timedelta(hours=rng.uniform(0, 24 * 50))
        touches.append((f"u{p}", t, "a"))
        if twin:
            touches.append((f"u{p}", t, "twin"))
        if rng.random() < 0.5:
            conversions.append((f"u{p}", t + dt.timedelta(hours=rng.uniform(0.5, 3)), "sales"))
    if population:
        # People of the market whom no channel reached, some of whom buy anyway.
        for p in range(30):
            conversions.append((f"v{p}", T0 + dt.timedelta(hours=rng.uniform(0, 24 * 50)), "sales"))
    return tp.Journeys.from_events(
        pl.DataFrame(touches, schema=["user_id", "ts", "channel"], orient="row"),
        pl.DataFrame(conversions, schema=["user_id", "ts", "kpi"], orient="row"),
        period=(T0, T0 + dt.timedelta(days=52)),
        value=None,
        population=population,
    )


def test_baseline_at_zero_is_warned() -> None:
    r = tp.attribute(_log(twin=False), models=[tp.models.AdditiveHazard(baseline="constant")])
    base = r.to_polars().filter(pl.col("channel") == "(baseline)")["conversions"][0]
    assert base == pytest.approx(0.0, abs=1e-6)
    assert any("the baseline is at its bound, 0" in w for w in r.warnings), r.warnings
    # The same log in a market where some people whom no channel reached buy too: a baseline, no warning.
    r2 = tp.attribute(_log(twin=False, population=40_000), models=[tp.models.AdditiveHazard(baseline="constant")])
    assert not any("baseline is at its bound" in w for w in r2.warnings), r2.warnings


def test_standard_errors_that_cannot_be_computed_are_warned() -> None:
    # `a` and `twin` always arrive together: their effects cannot be told apart.
    r = tp.attribute(_log(twin=True), models=[tp.models.AdditiveHazard(baseline="constant")])
    params = r.table("hazard_parameters").filter(pl.col("player").is_in(["a", "twin"]))
    assert params["beta_se"].null_count() == 2
    assert any("standard errors are not available" in w and "always seen together" in w for w in r.warnings)


def test_effects_not_distinguishable_from_zero_are_named() -> None:
    j = tp.Journeys.from_events(
        DATA / "touches.csv",
        DATA / "conversions.csv",
        period=("2026-04-01", "2026-07-01"),
        population=10_000,
    )
    r = tp.attribute(j, models=[tp.models.AdditiveHazard()])
    p = r.table("hazard_parameters").filter(pl.col("beta").is_not_null() & (pl.col("player") != "(baseline)"))
    for kpi in ("sales", "tickets_deflected", "hires"):
        rows = p.filter(pl.col("kpi") == kpi)
        # The Wald rule, from the parameters table: 0 < beta < 1.96 se, half-life not at a bound.
        weak = set(
            rows.filter(
                (pl.col("beta") > 0)
                & (pl.col("beta") < 1.96 * pl.col("beta_se"))
                & (pl.col("half_life_se").is_not_null())
            )["player"].to_list()
        )
        said = [w for w in r.warnings if f"KPI `{kpi}`" in w and "not distinguishable from zero" in w]
        named = set(re.findall(r"`([a-z_]+)`", said[0].split(":", 1)[1].split("is not")[0])) if said else set()
        assert named == weak, (kpi, named, weak)
    assert any("not distinguishable" in w for w in r.warnings)
    # A half-life at its bound (here display on tickets: ten times the period) is warned about, the
    # KPI named once, and the player is not also listed as "not distinguishable".
    bound = [w for w in r.warnings if "half-life of" in w and "is at its bound" in w]
    assert bound and all(w.count("KPI `") == 1 for w in bound), r.warnings
    at_bound = p.filter(pl.col("half_life_days") >= 9.99 * 91)
    assert at_bound.height >= 1
    for row in at_bound.iter_rows(named=True):
        assert any(f"KPI `{row['kpi']}`" in w and f"`{row['player']}` is at its bound" in w for w in bound)
