"""Media-mix speed against pymc-marketing, side by side, on pymc-marketing's own `mmm_example.csv`.

The same model as the peer's example: geometric adstock (max lag 8), logistic saturation, controls
event_1, event_2 and t, no built-in trend, yearly seasonality of order 2; 4 chains, 1000 tuning and
1000 kept draws each. Metric: the smallest bulk ESS over the channel parameters divided by the whole
fit's wall time (what the user waits for; for the peer, model compilation included).

    python benches/mmm_peer.py            # Touchpoint over seeds 0-4, and the peer if installed
    python benches/mmm_peer.py --install  # first installs pymc-marketing 0.19.2 into this environment
    python benches/mmm_peer.py --peer-python /tmp/pymc/bin/python   # the peer in its own environment,
                                          # with each of its samplers: pymc, nutpie, numpyro

The peer's figure measured on a 2-core machine like ours is in ../shared/PEERS.md (88.9 s, about 16
effective samples per second).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import polars as pl

# This folder holds `coverage.py`, which would shadow the `coverage` package that numba (under the
# peer) probes for.
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "pymc-marketing-mmm" / "mmm_example.csv"
TRUTH = {"x1": 274_848.0, "x2": 65_906.0}


def touchpoint_runs(seeds: list[int]) -> list[dict[str, float]]:
    import touchpoint as tp

    df = pl.read_csv(DATA, try_parse_dates=True)
    m = tp.MMM(
        date="date_week",
        target="y",
        media=["x1", "x2"],
        controls=["event_1", "event_2", "t"],
        trend=False,
        seasonality=2,
    )
    out = []
    for seed in seeds:
        t0 = time.perf_counter()
        f = m.fit(df, chains=4, draws=1000, tune=1000, seed=seed, progress=False)
        wall = time.perf_counter() - t0
        p = f.parameters()
        ch = p.filter(pl.col("name").str.contains(r"\[x"))
        s = f.summary()
        row = {"seed": seed, "wall_s": wall, "min_ess": ch["ess_bulk"].min(), "max_r_hat": p["r_hat"].max()}
        row["ess_per_s"] = row["min_ess"] / wall
        row["divergences"] = sum(f.diagnostics()["divergences"])
        for c in ("x1", "x2"):
            r = s.filter(pl.col("channel") == c).row(0, named=True)
            row[f"{c}_mean"] = r["contribution"]
            row[f"{c}_covered"] = r["lower"] <= TRUTH[c] <= r["upper"]
        out.append(row)
    return out


def peer_run(sampler: str = "pymc") -> dict[str, float] | None:
    try:
        import arviz as az
        from pymc_marketing.mmm import MMM, GeometricAdstock, LogisticSaturation
    except ImportError:
        return None
    import pandas as pd

    t0 = time.perf_counter()
    df = pd.read_csv(DATA, parse_dates=["date_week"])
    mmm = MMM(
        date_column="date_week",
        channel_columns=["x1", "x2"],
        control_columns=["event_1", "event_2", "t"],
        adstock=GeometricAdstock(l_max=8),
        saturation=LogisticSaturation(),
        yearly_seasonality=2,
    )
    mmm.fit(
        df.drop(columns=["y"]),
        df["y"],
        chains=4,
        draws=1000,
        tune=1000,
        nuts_sampler=sampler,
        cores=2,
        random_seed=0,
        progressbar=False,
    )
    wall = time.perf_counter() - t0
    ess = az.ess(mmm.idata, var_names=["adstock_alpha", "saturation_lam", "saturation_beta"], method="bulk")
    min_ess = min(float(ess[v].min()) for v in ess.data_vars)
    rhat = az.rhat(mmm.idata, var_names=["adstock_alpha", "saturation_lam", "saturation_beta"])
    max_rhat = max(float(rhat[v].max()) for v in rhat.data_vars)
    return {"wall_s": wall, "min_ess": min_ess, "ess_per_s": min_ess / wall, "max_r_hat": max_rhat}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--install", action="store_true", help="pip install pymc-marketing==0.19.2 first")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--peer-python", help="a Python with pymc-marketing 0.19.2, nutpie and numpyro")
    ap.add_argument("--peer-child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.peer_child:
        print(json.dumps(peer_run(args.peer_child)))
        return
    if args.install:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "pymc-marketing==0.19.2"], check=True)
    runs = touchpoint_runs(list(range(args.seeds)))
    print(pl.DataFrame(runs))
    med = statistics.median(r["ess_per_s"] for r in runs)
    print(
        f"touchpoint: median wall {statistics.median(r['wall_s'] for r in runs):.2f} s, "
        f"median min-ESS/s {med:.0f} over {len(runs)} seeds"
    )
    if args.peer_python:
        peers = {}
        for sampler in ("pymc", "nutpie", "numpyro"):
            r = subprocess.run(
                [args.peer_python, __file__, "--peer-child", sampler], check=True, capture_output=True, text=True
            )
            peers[sampler] = json.loads(r.stdout.strip().splitlines()[-1])
            p = peers[sampler]
            print(
                f"pymc-marketing ({sampler}): wall {p['wall_s']:.1f} s, min ESS {p['min_ess']:.0f} "
                f"({p['min_ess'] / 4000:.3f} per draw), max R-hat {p['max_r_hat']:.4f}, min-ESS/s {p['ess_per_s']:.1f}"
            )
        fastest = max(peers, key=lambda k: peers[k]["ess_per_s"])
        ess = statistics.median(r["min_ess"] for r in runs)
        print(
            f"touchpoint: min ESS per draw {ess / 4000:.3f} (median); against "
            + ", ".join(f"{k} {peers[k]['min_ess'] / 4000:.3f}" for k in peers)
            + f"; min-ESS/s ratio against the fastest peer ({fastest}): {med / peers[fastest]['ess_per_s']:.0f}x"
        )
        return
    peer = peer_run()
    if peer is None:
        print(f"pymc-marketing not installed (--install): against PEERS.md's 16 ESS/s the ratio is {med / 16:.0f}x")
    else:
        print(
            f"pymc-marketing: wall {peer['wall_s']:.1f} s, min-ESS/s {peer['ess_per_s']:.1f}; "
            f"ratio {med / peer['ess_per_s']:.0f}x"
        )


if __name__ == "__main__":
    main()
