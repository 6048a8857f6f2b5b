"""Generates the bundled event log of one company quarter, with its truth and a lift test.

Writes (deterministic, seed 7): `touches.csv`, `conversions.csv`, `truth.csv` and `lift_tests.csv`.

The company: 10,000 people in its market (the population, `POPULATION`) over the second quarter of
2026 (`PERIOD`, 91 days). About 60% of them are reached by its channels: social (facebook, instagram,
linkedin, twitter) and others (search, email, direct, display), with touches made by brand accounts, an
agency and 60 employees in an advocacy programme by belt level (untrained, belt 1, belt 2). Three
goals: `sales` (valued by the order values), `tickets_deflected` (support issues solved by social care
without a ticket, for the people who have an issue) and `hires` (social recruiting, for job seekers).

Each person's conversions of a goal follow an additive intensity (the process Touchpoint's
additive-hazard model assumes, see docs/incrementality.md): a baseline rate, which for sales rises
with the person's intent, plus, per exposure, `beta * omega * exp(-omega * (t - t_i))`. Search and
direct ride on intent (people who mean to buy search more), which is what makes their correlational
credit too high; job seekers follow the company and its employees on linkedin and twitter.
Conversions are drawn per source (the baseline's, and each exposure's own), so the truth is the cause
of every conversion: `truth.csv` has, per goal and channel (and actor group), the conversions each
caused and their value, and `(baseline)` what would have happened anyway.

`lift_tests.csv` is the reading of a simulated randomised holdout of search on sales: incremental
sales per exposure, drawn around the true effect with the test's standard error.

Run: python examples/data/make_events.py
"""

from __future__ import annotations

import csv
import math
import random
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

PERIOD = (datetime(2026, 4, 1, tzinfo=timezone.utc), datetime(2026, 7, 1, tzinfo=timezone.utc))
POPULATION = 10_000
DAYS = (PERIOD[1] - PERIOD[0]).total_seconds() / 86400
REACHED = 0.6
CHANNELS = {
    # channel: (touches per reached person over the quarter, actor pool, activities, rides on intent)
    "search": (0.9, ["brand_search"], ["search_ad"], True),
    "email": (0.6, ["brand_crm"], ["newsletter"], False),
    "direct": (0.5, ["(none)"], ["visit"], True),
    "display": (0.8, ["agency_x"], ["ad"], False),
    "facebook": (0.7, ["brand_main", "agency_x"], ["post", "ad", "share"], False),
    "instagram": (0.5, ["brand_main", "agency_x"], ["post", "story"], False),
    "linkedin": (0.5, ["brand_main", "employees"], ["post", "share"], False),
    "twitter": (0.35, ["brand_support", "employees"], ["post", "reply"], False),
}
EMPLOYEES = [f"emp_{i:03d}" for i in range(1, 61)]
GROUPS = {"brand_search": "brand", "brand_crm": "brand", "brand_main": "brand", "brand_support": "brand"}
GROUPS["agency_x"] = "agency"
for i, e in enumerate(EMPLOYEES):
    GROUPS[e] = "advocate_belt2" if i < 10 else "advocate_belt1" if i < 30 else "advocate_untrained"
# Sales: (beta, half-life in days) per channel. beta is the expected extra sales of one exposure.
SALES = {
    "search": (0.030, 1.0),
    "email": (0.015, 2.0),
    "direct": (0.010, 0.5),
    "display": (0.004, 3.0),
    "facebook": (0.008, 2.0),
    "instagram": (0.006, 2.0),
    "linkedin": (0.010, 3.0),
    "twitter": (0.004, 1.0),
}
SALES_BASELINE = 0.0006  # per person-day, times the person's intent
TICKETS_BASELINE = 0.002  # per day for a person with an issue (solved on their own, via the help pages)
REPLY = {"twitter": (0.30, 0.5), "facebook": (0.15, 0.5)}  # a care reply deflects a ticket
HIRES_BASELINE = 0.0003  # per day for a job seeker
SHARE = {"advocate_untrained": 0.03, "advocate_belt1": 0.08, "advocate_belt2": 0.15, "brand": 0.01}
SHARE_HALF_LIFE = 5.0
LIFT_SE = 0.005  # standard error of the holdout's reading of search's effect on sales


def stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def main(seed: int = 7, out: Path | None = None) -> None:
    rng = random.Random(seed)
    start, end = PERIOD
    touches: list[list[str]] = []
    conversions: list[list[str]] = []
    caused: dict[tuple[str, str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])

    def convert(person: str, kpi: str, t: datetime, sources: dict[str, str]) -> None:
        value = round(rng.lognormvariate(4.2, 0.6), 2) if kpi == "sales" else None
        conversions.append([person, stamp(t), kpi, "" if value is None else str(value)])
        for dim, name in sources.items():
            cell = caused[(kpi, dim, name)]
            cell[0] += 1
            cell[1] += value if value is not None else 0.0

    for p in range(POPULATION):
        person = f"p{p:05d}"
        intent = rng.lognormvariate(-0.125, 0.5)  # mean 1
        has_issue = rng.random() < 0.3
        job_seeker = rng.random() < 0.08
        reached = rng.random() < REACHED
        mine: list[tuple[datetime, str, str, str, str]] = []
        for channel, (rate, pool, activities, on_intent) in CHANNELS.items():
            if not reached:
                break
            boost = intent if on_intent else 4.0 if job_seeker and channel in ("linkedin", "twitter") else 1.0
            for _ in range(_poisson(rng, rate * boost)):
                t = start + timedelta(seconds=rng.randrange(int(DAYS * 86400)))
                actor = rng.choice(pool)
                if actor == "employees":
                    actor = rng.choice(EMPLOYEES)
                activity = rng.choice(activities)
                if channel in REPLY and has_issue and rng.random() < 0.6:
                    actor, activity = ("brand_support" if channel == "twitter" else "brand_main"), "reply"
                inter = "impression" if activity in ("ad", "post", "story") and rng.random() < 0.6 else "click"
                mine.append((t, channel, actor, activity, inter))
        mine.sort()
        for t, channel, actor, activity, inter in mine:
            campaign = f"{channel}_{'april' if t.month == 4 else 'may' if t.month == 5 else 'june'}"
            touches.append([person, stamp(t), channel, campaign, activity, actor, GROUPS.get(actor, "(none)"), inter])

        def baseline(person: str, kpi: str, rate: float) -> None:
            for _ in range(_poisson(rng, rate * DAYS)):
                t = start + timedelta(seconds=rng.randrange(int(DAYS * 86400)))
                convert(person, kpi, t, {"channel": "(baseline)", "actor_group": "(baseline)"})

        def respond(person: str, kpi: str, touch: tuple[datetime, str, str, str, str], beta: float, hl: float) -> None:
            t0, channel, actor = touch[0], touch[1], touch[2]
            omega = math.log(2) / hl
            left = (end - t0).total_seconds() / 86400
            mass = 1.0 - math.exp(-omega * left)  # the kernel's mass inside the period
            for _ in range(_poisson(rng, beta * mass)):
                # a delay from the kernel, truncated at the period's end
                u = rng.random() * mass
                delay = -math.log(1.0 - u) / omega
                t = t0 + timedelta(days=delay)
                convert(person, kpi, t, {"channel": channel, "actor_group": GROUPS.get(actor, "(none)")})

        baseline(person, "sales", SALES_BASELINE * intent)
        for touch in mine:
            respond(person, "sales", touch, *SALES[touch[1]])
        if has_issue:
            baseline(person, "tickets_deflected", TICKETS_BASELINE)
            for touch in mine:
                if touch[3] == "reply":
                    respond(person, "tickets_deflected", touch, *REPLY[touch[1]])
        if job_seeker:
            baseline(person, "hires", HIRES_BASELINE)
            for touch in mine:
                group = GROUPS.get(touch[2], "(none)")
                if touch[1] in ("linkedin", "twitter") and touch[3] in ("post", "share") and group in SHARE:
                    respond(person, "hires", touch, SHARE[group], SHARE_HALF_LIFE)

    here = out or Path(__file__).parent
    with (here / "touches.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["user_id", "ts", "channel", "campaign", "activity", "actor", "actor_group", "interaction"])
        w.writerows(touches)
    with (here / "conversions.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["user_id", "ts", "kpi", "value"])
        w.writerows(sorted(conversions, key=lambda r: (r[1], r[0])))
    with (here / "truth.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["kpi", "by", "player", "conversions", "value"])
        for (kpi, dim, name), (n, v) in sorted(caused.items()):
            w.writerow([kpi, dim, name, int(n), round(v, 2)])
    reading = SALES["search"][0] + rng.gauss(0.0, LIFT_SE)
    with (here / "lift_tests.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["channel", "kpi", "per_exposure", "se"])
        w.writerow(["search", "sales", round(reading, 5), LIFT_SE])
    print(
        f"wrote touches.csv ({len(touches)} rows), conversions.csv ({len(conversions)} rows), truth.csv, lift_tests.csv"
    )


def _poisson(rng: random.Random, lam: float) -> int:
    k, p, threshold = 0, 1.0, math.exp(-lam)
    while True:
        p *= rng.random()
        if p < threshold:
            return k
        k += 1


if __name__ == "__main__":
    main()
