"""Staggered-rollout speed against csdid and diff-diff, on the same panel, in one run.

The panel: the simulated advocacy programme (`tp.simulate_programme`) with 50,000 employees x 52
weeks and 6 training waves, written to CSV once. Each tool estimates every ATT(g, t) (doubly
robust, never-treated comparison, varying base period) and the event-study aggregation with a
999-draw multiplier bootstrap and simultaneous bands. Each run is a fresh process, timed from
reading the CSV to the last table (what the user waits for), with its peak memory (max RSS).

    python benches/rollout_peer.py                                 # Touchpoint, and the peers if importable
    python benches/rollout_peer.py --peer-python /path/to/python   # the peers from another environment
    python benches/rollout_peer.py --employees 5000 --runs 3 --peer-runs 1   # smaller

Peers: `pip install csdid diff-diff` (csdid 0.4.3 and diff-diff 3.13.0 were measured).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WAVES = [8, 15, 22, 29, 36, 43]


def one(tool: str, path: str, draws: int) -> dict:
    """Runs one tool once in this process: seconds from the imports on (the import, reading the CSV
    with the tool's usual reader, estimating), seconds of the estimate alone, peak memory, and the
    overall event-study effect."""
    t0 = time.perf_counter()
    if tool == "touchpoint":
        import polars as pl

        import touchpoint as tp

        df = pl.read_csv(path)
        t1 = time.perf_counter()
        r = tp.rollout_effect(
            df, unit="employee", time="week", outcome="value", cohort="cohort", bootstrap=draws, progress=False
        )
        es = r.event_study()
        s = r.summary()
        effect = s.filter(s["aggregation"] == "event")["effect"][0]
        cells = r.group_time().height
        rows = es.height
    elif tool == "csdid":
        import contextlib
        import io

        import pandas as pd
        from csdid.att_gt import ATTgt

        df = pd.read_csv(path)
        t1 = time.perf_counter()
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            fit = ATTgt(
                yname="value",
                tname="week",
                idname="employee",
                gname="cohort",
                data=df,
                control_group=["nevertreated"],
                biters=draws,
                cband=True,
            ).fit(est_method="dr", bstrap=True)
            agg = fit.aggte(typec="dynamic", biters=draws, cband=True).atte
        effect = float(agg["overall_att"])
        cells = len(fit.results["att"])
        rows = len(agg["egt"])
    elif tool == "diff-diff":
        import pandas as pd
        from diff_diff import CallawaySantAnna

        df = pd.read_csv(path)
        t1 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = CallawaySantAnna(
                control_group="never_treated", estimation_method="dr", n_bootstrap=draws, seed=0
            ).fit(df, outcome="value", unit="employee", time="week", first_treat="cohort", aggregate="event_study")
        es = res.event_study_effects or {}
        post = [v["effect"] for k, v in es.items() if k >= 0]
        effect = sum(post) / len(post)
        cells = len(res.group_time_effects)
        rows = len(es)
    else:
        raise SystemExit(f"unknown tool {tool}")
    end = time.perf_counter()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "tool": tool,
        "seconds": end - t0,
        "fit_seconds": end - t1,
        "max_rss_mib": rss,
        "event_effect": effect,
        "cells": cells,
        "event_rows": rows,
    }


def run(python: str, tool: str, path: Path, draws: int) -> dict | None:
    out = subprocess.run(
        [python, __file__, "--one", tool, "--panel", str(path), "--draws", str(draws)],
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["?"])[-1]
        print(f"  {tool}: not run ({last})")
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--employees", type=int, default=50_000)
    ap.add_argument("--draws", type=int, default=999)
    ap.add_argument("--runs", type=int, default=5, help="runs of Touchpoint")
    ap.add_argument("--peer-runs", type=int, default=3, help="runs of each peer (medians)")
    ap.add_argument("--peer-python", default=sys.executable)
    ap.add_argument("--one")
    ap.add_argument("--panel")
    a = ap.parse_args()
    if a.one:
        print(json.dumps(one(a.one, a.panel, a.draws)))
        return

    import touchpoint as tp

    path = ROOT / "target" / f"rollout_panel_{a.employees}.csv"
    if not path.exists():
        sim = tp.simulate_programme(employees=a.employees, weeks=52, seed=1, waves=WAVES)
        path.parent.mkdir(exist_ok=True)
        sim.panel.write_csv(path)
    print(f"panel: {a.employees:,} employees x 52 weeks, {len(WAVES)} cohorts, {a.draws} bootstrap draws ({path})")
    ours = [r for r in (run(sys.executable, "touchpoint", path, a.draws) for _ in range(a.runs)) if r]
    med = statistics.median(r["seconds"] for r in ours)
    fit = statistics.median(r["fit_seconds"] for r in ours)
    mem = max(r["max_rss_mib"] for r in ours)
    print(
        f"  touchpoint: median {med:.2f} s in all ({fit:.2f} s estimating) over {len(ours)} runs, "
        f"max RSS {mem:,.0f} MiB, {ours[0]['cells']} cells, event effect {ours[0]['event_effect']:.4f}"
    )
    peers = {}
    for tool in ("csdid", "diff-diff"):
        runs = [r for r in (run(a.peer_python, tool, path, a.draws) for _ in range(a.peer_runs)) if r]
        if runs:
            r = dict(runs[0])
            r["seconds"] = statistics.median(x["seconds"] for x in runs)
            r["fit_seconds"] = statistics.median(x["fit_seconds"] for x in runs)
            r["max_rss_mib"] = max(x["max_rss_mib"] for x in runs)
            peers[tool] = r
            print(
                f"  {tool}: median {r['seconds']:.2f} s in all ({r['fit_seconds']:.2f} s estimating) over "
                f"{len(runs)} runs, max RSS {r['max_rss_mib']:,.0f} MiB, {r['cells']} cells, event effect "
                f"{r['event_effect']:.4f}; Touchpoint is {r['seconds'] / med:.1f}x faster in all, "
                f"{r['fit_seconds'] / fit:.1f}x estimating"
            )
    if peers:
        fastest = min(peers.values(), key=lambda r: r["fit_seconds"])
        print(
            f"  against the faster peer ({fastest['tool']}): {fastest['seconds'] / med:.1f}x in all, "
            f"{fastest['fit_seconds'] / fit:.1f}x estimating"
        )


if __name__ == "__main__":
    main()
