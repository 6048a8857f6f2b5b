"""Writes tutorial.ipynb (outputs stripped). The notebook is the source of truth once written; this
script only exists to regenerate it from one readable place: python examples/notebooks/make_tutorial.py"""

from pathlib import Path

import nbformat as nbf

cells = [
    (
        "md",
        "# Touchpoint tutorial: from an event log to business value\n\n"
        "An organisation touches people on social and other channels; people buy (`sales`), get their support issue "
        "solved without opening a ticket (`tickets_deflected`) and get hired (`hires`). This notebook cuts journeys "
        "from the raw log, credits each goal to channels and to the people behind the posts with several models, "
        "values everything in money with a goal book, and finally checks the models against a simulator whose "
        "truth is known.",
    ),
    (
        "code",
        "%matplotlib inline\nfrom pathlib import Path\n\nimport polars as pl\n\nimport touchpoint as tp\n"
        "from touchpoint import plotting\n\nDATA = Path('..') / 'data'\ntp.__version__",
    ),
    (
        "md",
        "## 1. Journeys from the event log\n\nA conversion gets the person's touches within the lookback "
        "window (and after their previous conversion of the same KPI). Nothing is dropped silently: conversions "
        "without a touch in their window are counted in `unattributed`.",
    ),
    (
        "code",
        "touches = pl.read_csv(DATA / 'touches.csv')\nconversions = pl.read_csv(DATA / 'conversions.csv')\n"
        "touches.head()",
    ),
    (
        "code",
        "journeys = tp.Journeys.from_events(\n    touches, conversions,\n"
        "    dims=['campaign', 'activity', 'actor', 'actor_group', 'interaction'],\n"
        "    lookback={'sales': '30d', 'tickets_deflected': '7d', 'hires': '90d'},\n)\n"
        "journeys.summary",
    ),
    ("code", "journeys.unattributed"),
    ("md", "## 2. Attribution by channel, several models"),
    (
        "code",
        "result = tp.attribute(journeys, models=['first_touch', 'last_touch', 'linear', 'position_based',\n"
        "                                          tp.models.TimeDecay(half_life='3d'), 'markov', 'shapley'])\n"
        "result",
    ),
    ("code", "result.to_polars().filter(pl.col('kpi') == 'sales').pivot(on='model', index='channel', values='share')"),
    ("code", "result.plot(kpi='sales');"),
    ("code", "plotting.agreement_heatmap(result, kpi='sales');"),
    ("code", "plotting.transition_heatmap(result, model='markov', kpi='tickets_deflected');"),
    ("code", "result.removal_effects().filter(pl.col('kpi') == 'sales')"),
    (
        "md",
        "## 3. Business value with a goal book\n\nEach KPI has a business function and a money value per "
        "conversion (or the value from the data); costs give ROI; the social channels are named.",
    ),
    ("code", "goals = tp.GoalBook.load(DATA / 'goals.toml')\ngoals"),
    ("code", "report = tp.contribution(result, goals)\nreport"),
    ("code", "report.social()"),
    ("code", "report.plot(model='shapley');"),
    ("md", "## 4. The people behind the posts: advocacy by training level"),
    (
        "code",
        "advocacy = tp.contribution(tp.attribute(journeys, models=['linear', 'shapley'], by='actor_group'), goals)\n"
        "advocacy.summary().filter(pl.col('model') == 'shapley').sort('value_per_touch', descending=True)",
    ),
    (
        "md",
        "## 5. Which model to trust? Ask a simulator that knows the truth\n\nIn `selection_bias`, high-intent "
        "people search and come direct more, so last touch over-credits them. The truth is the Shapley value of "
        "each person's incremental conversions.",
    ),
    (
        "code",
        "sim = tp.simulate('selection_bias', people=30_000, seed=7)\n"
        "sim_result = tp.attribute(sim.journeys, models=['last_touch', 'linear', 'markov', 'shapley'])\n"
        "plotting.truth_vs_models(sim_result, sim.truth);",
    ),
    (
        "code",
        "tp.benchmark(['baseline', 'selection_bias', 'synergy'], people=20_000, seed=7,\n"
        "             models=['last_touch', 'linear', 'markov', 'shapley'])",
    ),
    (
        "md",
        "## 6. What the channels add: incrementality\n\nEvery model above splits the conversions that happened, "
        "including those that would have happened anyway. The additive-hazard model reads each person's whole "
        "timeline (touches and conversions with times, and the observation period), fits a baseline rate and a "
        "decaying lift per exposure, and credits only what the channels add; the rest is its `(baseline)` row. "
        "Here the simulator's own event log goes the way a real one would: `from_events`, with the period and "
        "the population at risk (people a log never shows because nothing happened to them).",
    ),
    (
        "code",
        "care = tp.simulate('social_care', people=30_000, seed=7)\n"
        "log = tp.Journeys.from_events(care.touches, care.conversions, lookback='30d',\n"
        "                              period=care.period, population=care.population)\n"
        "incremental = tp.attribute(log, models=['last_touch', 'markov', 'additive_hazard'])\n"
        "plotting.truth_vs_models(incremental, care.truth, kpi='tickets_deflected', value='conversions');",
    ),
    (
        "md",
        "Last touch and Markov hand every deflected ticket to some channel; the additive-hazard model gives the "
        "channels about what they caused and keeps the rest as baseline. Its fitted parameters (extra "
        "conversions per exposure, half-lives, the baseline rate, each with a standard error):",
    ),
    ("code", "incremental.table('hazard_parameters').filter(pl.col('kpi') == 'tickets_deflected')"),
    (
        "md",
        "Valued with a goal book, the baseline is a line of its own (what would have happened anyway), and every "
        "channel's value and ROI are incremental.",
    ),
    (
        "code",
        "care_goals = tp.GoalBook([tp.Kpi('sales', function='sales'),\n"
        "                          tp.Kpi('tickets_deflected', function='service', unit_value=25.0, unit='ticket')],\n"
        "                         social=['facebook', 'instagram', 'linkedin', 'twitter'])\n"
        "tp.contribution(incremental, care_goals).summary().filter(pl.col('model') == 'additive_hazard')",
    ),
    (
        "md",
        "When intent drives both exposure and conversion (`selection_bias`: high-intent people search and come "
        "direct more), a model with one baseline rate for everybody credits the searches for conversions that "
        "intent caused. The default baseline rises with each person's exposures over the whole period, before "
        "the exposures too, so the intent-driven level goes to the baseline and only the response that follows "
        "each exposure in time to the channel. A randomised holdout settles what is left: `tp.lift_test` runs one "
        "on a fresh cohort of the simulator, and the model takes it as a fixed effect per exposure, re-fits the "
        "rest and carries the test's uncertainty.",
    ),
    (
        "code",
        "biased = tp.simulate('selection_bias', people=30_000, seed=7)\n"
        "tests = [tp.lift_test('selection_bias', channel=c, kpi='sales', people=200_000, seed=7)\n"
        "         for c in ('search', 'direct')]\n"
        "calibrated = tp.attribute(biased.journeys, models=[\n"
        "    'last_touch', tp.models.AdditiveHazard(baseline='constant'), 'additive_hazard',\n"
        "    tp.models.AdditiveHazard(lift_tests=tests)])\n"
        "plotting.truth_vs_models(calibrated, biased.truth, value='conversions');",
    ),
    ("code", "calibrated.table('lift_tests')"),
]

nb = nbf.v4.new_notebook()
nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
nb.cells = [nbf.v4.new_markdown_cell(src) if kind == "md" else nbf.v4.new_code_cell(src) for kind, src in cells]
nbf.write(nb, Path(__file__).with_name("tutorial.ipynb"))
print("wrote tutorial.ipynb")
