"""Writes the panel and csdid's answers that `tests/csdid.rs` checks Touchpoint against.

csdid 0.4 (the Python port of R's `did`, https://pypi.org/project/csdid/) is run with analytic
standard errors (`bstrap=False`) for never-treated and not-yet-treated comparisons, without and
with covariates. Run it where csdid is installed (`pip install csdid`):

    python crates/touchpoint-panel/tests/data/make_csdid_fixture.py
"""

import contextlib
import io
import json
import pathlib
import warnings

import numpy as np
import pandas as pd

HERE = pathlib.Path(__file__).parent


def make_panel(seed: int = 20261207, units: int = 400, periods: int = 8) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=units)
    x2 = rng.binomial(1, 0.4, size=units).astype(float)
    # Cohorts depend on x1 (selection on observables); 0 = never treated.
    score = 0.4 * x1 + rng.normal(scale=1.0, size=units)
    cohort = np.select([score > 1.0, score > 0.2, score > -0.5], [3, 5, 7], default=0)
    alpha = 2.0 * x1 + rng.normal(size=units)
    rows = []
    for i in range(units):
        for t in range(1, periods + 1):
            trend = 0.5 * t + 0.3 * t * x1[i] + 0.2 * t * x2[i]
            effect = (1.0 + 0.4 * (t - cohort[i])) if cohort[i] and t >= cohort[i] else 0.0
            y = alpha[i] + trend + effect + rng.normal()
            rows.append((i + 1, t, y, int(cohort[i]), x1[i], x2[i], i % 37))
    return pd.DataFrame(rows, columns=["unit", "time", "y", "cohort", "x1", "x2", "cluster"])


def answers(panel: pd.DataFrame, control: str, xformla: str | None) -> dict:
    from csdid.att_gt import ATTgt

    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        fit = ATTgt(
            yname="y",
            tname="time",
            idname="unit",
            gname="cohort",
            data=panel.copy(),
            control_group=[control],
            xformla=xformla,
        ).fit(est_method="dr", bstrap=False)
        out = {
            "group_time": [
                {"cohort": int(g), "time": int(t), "effect": float(a), "se": float(s)}
                for g, t, a, s in zip(fit.results["group"], fit.results["year"], fit.results["att"], fit.results["se"])
            ]
        }
        for typec in ["simple", "dynamic", "group", "calendar"]:
            agg = fit.aggte(typec=typec, bstrap=False, cband=False).atte
            entry = {"effect": float(agg["overall_att"]), "se": float(np.ravel(agg["overall_se"])[0])}
            if typec != "simple":
                entry["at"] = [int(v) for v in agg["egt"]]
                entry["effects"] = [float(v) for v in agg["att_egt"]]
                entry["ses"] = [float(v) for v in np.ravel(agg["se_egt"])]
            out[typec] = entry
    return out


def main() -> None:
    import csdid

    panel = make_panel()
    panel.to_csv(HERE / "rollout_panel.csv", index=False)
    fixture = {"csdid": getattr(csdid, "__version__", "0.4"), "cases": {}}
    for control in ["nevertreated", "notyettreated"]:
        for name, xformla in [("none", None), ("x1_x2", "y ~ x1 + x2")]:
            fixture["cases"][f"{control}/{name}"] = answers(panel, control, xformla)
    # Without never-treated units: the last cohort is only a comparison, later periods are cut.
    fixture["cases"]["notyettreated/none/treated_only"] = answers(panel[panel.cohort != 0], "notyettreated", None)
    (HERE / "csdid_answers.json").write_text(json.dumps(fixture, indent=1) + "\n")


if __name__ == "__main__":
    main()
