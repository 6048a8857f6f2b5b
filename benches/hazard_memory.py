"""Peak memory and wall time of the additive-hazard fit by number of players (issue 25, item 14).

    python benches/hazard_memory.py [--players 1000 3000 10000] [--people-per-player 20]

Each size runs in a fresh process (so its peak RSS is its own): a log in which every player (an
employee of an advocacy programme, the `actor` dimension) touches `--people-per-player` people once
or twice, about one in four people converts, and the fit is by actor. The standard errors read a
dense information matrix over the free parameters (three per player), so memory grows with the
square of the players; a fit that would not fit in the memory free is refused before it starts
(UnsupportedError, naming the GB it would need). Prints one row per size: players, parameters,
seconds, peak RSS in MiB, and the outcome.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def child(players: int, per: int) -> None:
    import numpy as np
    import polars as pl

    import touchpoint as tp

    rng = np.random.default_rng(players)
    people = players * per
    touches = 2 * people
    person = rng.integers(0, people, touches)
    actor = rng.integers(0, players, touches)
    day = rng.uniform(0, 80, touches)
    t = pl.DataFrame(
        {
            "user_id": person,
            "ts": pl.Series((day * 86_400e6).astype("int64")).cast(pl.Datetime("us", "UTC")),
            "channel": ["social"] * touches,
            "actor": [f"employee_{a}" for a in actor],
        }
    )
    buyers = rng.choice(people, people // 4, replace=False)
    c = pl.DataFrame(
        {
            "user_id": buyers,
            "ts": pl.Series((rng.uniform(1, 90, buyers.size) * 86_400e6).astype("int64")).cast(
                pl.Datetime("us", "UTC")
            ),
            "value": [1.0] * buyers.size,
        }
    )
    j = tp.Journeys.from_events(
        t, c, dims=["actor"], population=people, period=("1970-01-01", "1970-04-01"), progress=False
    )
    start = time.perf_counter()
    try:
        r = tp.attribute(j, models=["additive_hazard"], by="actor", progress=False)
        outcome = f"fitted ({r.table('hazard_fit')['method'][0]})"
    except tp.UnsupportedError as e:
        outcome = f"refused: {str(e)[:160]}"
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "players": players,
                "parameters": 3 * players + 1,
                "seconds": seconds,
                "peak_mib": peak,
                "outcome": outcome,
            }
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--players", type=int, nargs="+", default=[1000, 3000, 10000])
    ap.add_argument("--people-per-player", type=int, default=20)
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        child(args.child, args.people_per_player)
        return
    print(f"{'players':>8} {'params':>8} {'seconds':>9} {'peak MiB':>9}  outcome")
    for n in args.players:
        done = subprocess.run(
            [sys.executable, __file__, "--child", str(n), "--people-per-player", str(args.people_per_player)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            print(f"{n:>8} {'':>8} {'':>9} {'':>9}  process ended with {done.returncode}: {done.stderr.strip()[-200:]}")
            continue
        row = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{n:>8} {row['parameters']:>8} {row['seconds']:>9.2f} {row['peak_mib']:>9.0f}  {row['outcome']}")


if __name__ == "__main__":
    main()
