"""Generates the bundled event log: `touches.csv`, `conversions.csv` (deterministic: seed 7).

An organisation's touches with people over 60 days, on social channels (facebook, instagram, linkedin,
twitter) and others (search, email, direct, display), made by brand accounts, an agency and employees
in an advocacy programme (trained or untrained), with three goals: `sales` (valued from the data),
`tickets_deflected` (support issues resolved by social care without a ticket) and `hires` (social
recruiting). Run: python examples/data/make_events.py
"""

from __future__ import annotations

import csv
import math
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

START = datetime(2026, 3, 1, tzinfo=timezone.utc)
CHANNELS = {
    # channel: (rate per person over the window, actor pool, activities)
    "search": (0.9, ["brand_search"], ["search_ad"]),
    "email": (0.6, ["brand_crm"], ["newsletter"]),
    "direct": (0.5, ["(none)"], ["visit"]),
    "display": (0.8, ["agency_x"], ["ad"]),
    "facebook": (0.9, ["brand_main", "agency_x"], ["post", "ad", "share"]),
    "instagram": (0.6, ["brand_main", "agency_x"], ["post", "story"]),
    "linkedin": (0.5, ["brand_main", "employees"], ["post", "share"]),
    "twitter": (0.4, ["brand_support", "employees"], ["post", "reply"]),
}
EMPLOYEES = [f"emp_{i:03d}" for i in range(1, 41)]
GROUPS = {"brand_search": "brand", "brand_crm": "brand", "brand_main": "brand", "brand_support": "brand"}
GROUPS.update({"agency_x": "agency"})
for i, e in enumerate(EMPLOYEES):
    GROUPS[e] = "advocate_trained" if i < 15 else "advocate_untrained"
LIFT = {"search": 0.5, "email": 0.35, "direct": 0.3, "display": 0.1, "facebook": 0.2, "instagram": 0.12}
LIFT.update({"linkedin": 0.15, "twitter": 0.05})


def stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def main(people: int = 2500, seed: int = 7) -> None:
    rng = random.Random(seed)
    touches: list[list[str]] = []
    conversions: list[list[str]] = []
    for p in range(people):
        person = f"p{p:05d}"
        intent = rng.gauss(0.0, 1.0)
        has_issue = rng.random() < 0.25
        job_seeker = rng.random() < 0.1
        mine: list[tuple[datetime, str, str, str, str]] = []
        for channel, (rate, pool, activities) in CHANNELS.items():
            boost = 1.6 if channel in ("search", "direct") and intent > 0.8 else 1.0
            for _ in range(_poisson(rng, rate * boost)):
                t = START + timedelta(minutes=rng.randrange(60 * 24 * 60))
                actor = rng.choice(pool)
                if actor == "employees":
                    actor = rng.choice(EMPLOYEES)
                activity = rng.choice(activities)
                if channel == "twitter" and has_issue and rng.random() < 0.6:
                    actor, activity = "brand_support", "reply"
                inter = "impression" if activity in ("ad", "post", "story") and rng.random() < 0.6 else "click"
                mine.append((t, channel, actor, activity, inter))
        mine.sort()
        for t, channel, actor, activity, inter in mine:
            campaign = f"{channel}_{'spring' if t < START + timedelta(days=30) else 'summer'}"
            group = GROUPS.get(actor, "(none)")
            touches.append([person, stamp(t), channel, campaign, activity, actor, group, inter])
        if not mine:
            continue
        seen = {m[1] for m in mine}
        last = mine[-1][0]
        logit = -3.0 + 0.8 * intent + sum(LIFT[c] for c in seen)
        if rng.random() < 1 / (1 + math.exp(-logit)):
            value = round(rng.lognormvariate(4.2, 0.6), 2)
            conversions.append([person, stamp(last + timedelta(hours=rng.randrange(1, 48))), "sales", str(value)])
        replies = [m for m in mine if m[3] == "reply"]
        if has_issue and replies and rng.random() < 0.55:
            t = replies[-1][0] + timedelta(hours=rng.randrange(1, 12))
            conversions.append([person, stamp(t), "tickets_deflected", ""])
        advocacy = [m for m in mine if m[2] in GROUPS and GROUPS[m[2]].startswith("advocate")]
        trained = any(GROUPS[m[2]] == "advocate_trained" for m in advocacy)
        if job_seeker and advocacy and rng.random() < (0.6 if trained else 0.25):
            t = advocacy[-1][0] + timedelta(days=rng.randrange(3, 20))
            conversions.append([person, stamp(t), "hires", ""])
    here = Path(__file__).parent
    with (here / "touches.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["user_id", "ts", "channel", "campaign", "activity", "actor", "actor_group", "interaction"])
        w.writerows(touches)
    with (here / "conversions.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["user_id", "ts", "kpi", "value"])
        w.writerows(sorted(conversions, key=lambda r: (r[1], r[0])))
    print(f"wrote touches.csv ({len(touches)} rows) and conversions.csv ({len(conversions)} rows)")


def _poisson(rng: random.Random, lam: float) -> int:
    k, p, threshold = 0, 1.0, math.exp(-lam)
    while True:
        p *= rng.random()
        if p < threshold:
            return k
        k += 1


if __name__ == "__main__":
    main()
