"""Generates the bundled sample path table `paths.csv` (deterministic: seed 2026).

Journeys over social and non-social channels: each person sees 1-6 touches drawn from channel
popularities; the chance to convert grows with the channels seen (each channel has its own lift) and
the value of a conversion depends on the last channel. Rows are aggregated to distinct paths, in
ChannelAttribution's format. Run: python examples/data/make_sample.py
"""

from __future__ import annotations

import csv
import math
import random
from collections import defaultdict
from pathlib import Path

CHANNELS = {
    # name: (popularity, lift on the log-odds of converting, mean order value)
    "search": (0.22, 0.55, 120.0),
    "direct": (0.14, 0.35, 110.0),
    "email": (0.12, 0.40, 90.0),
    "facebook": (0.16, 0.25, 70.0),
    "instagram": (0.10, 0.15, 60.0),
    "linkedin": (0.08, 0.30, 150.0),
    "twitter": (0.06, 0.05, 50.0),
    "display": (0.12, 0.10, 80.0),
}


def main(people: int = 40_000, seed: int = 2026) -> None:
    rng = random.Random(seed)
    names = list(CHANNELS)
    weights = [CHANNELS[c][0] for c in names]
    rows: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for _ in range(people):
        n = min(1 + int(rng.expovariate(0.6)), 12)
        path = rng.choices(names, weights, k=n)
        logit = -3.2 + sum(CHANNELS[c][1] for c in set(path)) + 0.05 * n
        p = 1.0 / (1.0 + math.exp(-logit))
        key = " > ".join(path)
        if rng.random() < p:
            rows[key][0] += 1
            rows[key][1] += round(rng.gammavariate(2.0, CHANNELS[path[-1]][2] / 2.0), 2)
        else:
            rows[key][2] += 1
    out = Path(__file__).with_name("paths.csv")
    with out.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "total_conversions", "total_conversion_value", "total_null"])
        for key in sorted(rows):
            c, v, nl = rows[key]
            w.writerow([key, int(c), f"{v:.2f}", int(nl)])
    print(f"wrote {out} ({len(rows)} distinct paths from {people} people)")


if __name__ == "__main__":
    main()
