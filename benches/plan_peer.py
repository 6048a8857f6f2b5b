"""Budget planning speed and memory: Touchpoint's plan with its decision uncertainty, and
pymc-marketing's `optimize_budget` for scale, in the same run.

Touchpoint: a weekly series of 156 weeks with 8 channels (4 paid, 4 organic, `tp.simulate_weekly`
with more channels), fitted with 4 chains x 1,000 draws (4,000 draws); then `tp.plan` over 13 weeks
with free flighting (8 x 13 = 104 decisions), the optimum of the mean over all 4,000 draws, and the
same problem solved again on each of the 4,000 draws alone (the decision's spread). Each plan runs in
a fresh process that first loads the saved fit: its time is the plan call's, its memory the peak
resident set during the call (reset after loading, Linux `clear_refs`) over the resident set before.

pymc-marketing 0.19.2: its own example (`mmm_example.csv`, 2 channels, the model of
`benches/mmm_peer.py`) fitted with numpyro, then `optimize_budget` over 13 periods: the optimum of
the posterior mean response alone (no per-draw solutions; its channels' totals spread over the
periods by a fixed split). Not the same problem: the figure is there for scale.

    python benches/plan_peer.py                                  # Touchpoint only
    python benches/plan_peer.py --peer-python /tmp/pymc/bin/python  # and the peer, in its env
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "pymc-marketing-mmm" / "mmm_example.csv"
PERIODS = 13


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak() -> float:
    """Resets the peak resident set (Linux: `5` into clear_refs) and returns the current one, MB."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    return _status_mb("VmRSS")


def _peak_mb() -> float:
    return _status_mb("VmHWM")


def eight_channels() -> dict:
    import touchpoint as tp

    p = tp.simulate_weekly(10, seed=0).params
    base = p["channels"]
    extra = [
        {"name": "display", "kind": "media", "level": 3000.0, "active": 0.8, "alpha": 0.3, "lam": 3.0, "beta": 90.0},
        {"name": "video", "kind": "media", "level": 6000.0, "active": 0.5, "alpha": 0.6, "lam": 2.0, "beta": 150.0},
        {"name": "posts", "kind": "organic", "level": 40.0, "active": 0.9, "alpha": 0.2, "lam": 2.5, "beta": 80.0},
        {"name": "webinars", "kind": "organic", "level": 2.0, "active": 0.4, "alpha": 0.5, "lam": 1.5, "beta": 120.0},
    ]
    return {**p, "channels": base + extra}


def child(fit_path: str, unit_costs: dict[str, float]) -> None:
    import touchpoint as tp

    fit = tp.MMMFit.load(fit_path)
    before = _reset_peak()
    goals = tp.GoalBook([tp.Kpi(fit.model.target, unit_value=12.0)], unit_costs=unit_costs)
    fits = {fit.model.target: fit}
    t0 = time.perf_counter()
    tp.plan(fits, goals=goals, periods=PERIODS, flighting="free", decision_draws=0, progress=False)
    alone = time.perf_counter() - t0
    t0 = time.perf_counter()
    p = tp.plan(fits, goals=goals, periods=PERIODS, flighting="free", progress=False)
    wall = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "wall_s": wall,
                "optimum_s": alone,
                "memory_mb": _peak_mb() - before,
                "decisions": p.allocation().height,
                "decision_draws": p.decision_draws,
                "kkt_gap": p.kkt["interior_gap"],
                "holds": p.kkt["holds"],
            }
        )
    )


def touchpoint_runs(runs: int) -> tuple[list[dict], float]:
    import touchpoint as tp

    params = eight_channels()
    sim = tp.simulate_weekly(156, seed=1, params={**params, "weeks": 156, "seed": 1})
    m = tp.MMM(date="week", target=sim.target, media=sim.media, organic=sim.organic, controls=sim.controls)
    t0 = time.perf_counter()
    fit = m.fit(sim.data, chains=4, draws=1000, tune=1000, seed=0, progress=False)
    fit_s = time.perf_counter() - t0
    costs = {"care_replies": 5.0, "employee_shares": 4.0, "posts": 60.0, "webinars": 2500.0}
    out = []
    with tempfile.TemporaryDirectory() as d:
        path = str(Path(d) / "fit.json")
        fit.save(path)
        for _ in range(runs):
            r = subprocess.run(
                [sys.executable, __file__, "--child", path, "--costs", json.dumps(costs)],
                check=True,
                capture_output=True,
                text=True,
            )
            out.append(json.loads(r.stdout.strip().splitlines()[-1]))
    return out, fit_s


def peer_child() -> None:
    import pandas as pd
    from pymc_marketing.mmm import MMM, GeometricAdstock, LogisticSaturation

    df = pd.read_csv(DATA, parse_dates=["date_week"])
    mmm = MMM(
        date_column="date_week",
        channel_columns=["x1", "x2"],
        control_columns=["event_1", "event_2", "t"],
        adstock=GeometricAdstock(l_max=8),
        saturation=LogisticSaturation(),
        yearly_seasonality=2,
    )
    t0 = time.perf_counter()
    mmm.fit(
        df.drop(columns=["y"]),
        df["y"],
        chains=4,
        draws=1000,
        tune=1000,
        nuts_sampler="numpyro",
        random_seed=0,
        progressbar=False,
    )
    fit_s = time.perf_counter() - t0
    weekly = float(df[["x1", "x2"]].sum(axis=1).mean())
    before = _reset_peak()
    t0 = time.perf_counter()
    mmm.optimize_budget(budget=weekly, num_periods=PERIODS)
    wall = time.perf_counter() - t0
    print(json.dumps({"fit_s": fit_s, "wall_s": wall, "memory_mb": _peak_mb() - before}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--peer-python", help="a Python with pymc-marketing 0.19.2 and numpyro")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--costs", help=argparse.SUPPRESS)
    ap.add_argument("--peer-child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, json.loads(args.costs))
        return
    if args.peer_child:
        peer_child()
        return
    runs, fit_s = touchpoint_runs(args.runs)
    for r in runs:
        print(r)
    wall = statistics.median(r["wall_s"] for r in runs)
    mem = statistics.median(r["memory_mb"] for r in runs)
    alone = statistics.median(r["optimum_s"] for r in runs)
    print(
        f"touchpoint: plan of {runs[0]['decisions']} decisions (8 channels x {PERIODS} weeks, free flighting) "
        f"with {runs[0]['decision_draws']} per-draw solutions: median {wall:.2f} s, {mem:.0f} MB over the "
        f"loaded fit ({len(runs)} runs; the fit itself {fit_s:.1f} s); the optimum over the 4,000 draws alone "
        f"{alone:.2f} s"
    )
    if args.peer_python:
        r = subprocess.run([args.peer_python, __file__, "--peer-child"], check=True, capture_output=True, text=True)
        peer = json.loads(r.stdout.strip().splitlines()[-1])
        print(
            f"pymc-marketing optimize_budget (2 channels x {PERIODS} periods, posterior mean only): "
            f"{peer['wall_s']:.2f} s, {peer['memory_mb']:.0f} MB (its numpyro fit {peer['fit_s']:.1f} s); "
            f"Touchpoint's optimum alone is {peer['wall_s'] / alone:.0f}x faster, its whole plan with the per-draw "
            f"solutions {peer['wall_s'] / wall:.1f}x"
        )


if __name__ == "__main__":
    main()
