//! Budget plans (`touchpoint_mmm::plan`): a closed-form optimum, the optimality conditions, goal
//! seeking with a probability, determinism across thread counts, recovery of the true optimum of a
//! simulated series, and typed errors for every bad input.
use std::collections::BTreeMap;

use touchpoint_core::goals::{GoalBook, Kpi};
use touchpoint_core::Unattended;
use touchpoint_mmm::{
    fit, plan, plan_fits, Bound, ChannelCurve, ChannelKind, CurveDraw, Error, Fit, FitOptions, Flighting,
    MediaMix, Plan, PlanOptions, Response, Risk, Saturation, Series,
};
use touchpoint_sim::{weekly, WeeklyParams, WeeklySeries};

fn goals(kpis: &[(&str, f64)]) -> GoalBook {
    GoalBook::new(
        kpis.iter().map(|(k, u)| Kpi::new(k, "service").with_unit_value(*u, None)).collect(),
        BTreeMap::new(),
        Vec::new(),
    )
    .unwrap()
}

fn curve(
    name: &str,
    kind: ChannelKind,
    lag: usize,
    scale: f64,
    level: f64,
    draws: Vec<CurveDraw>,
) -> ChannelCurve {
    ChannelCurve {
        name: name.into(),
        kind,
        saturation: Saturation::Logistic,
        max_lag: lag,
        scale,
        levels: vec![level; 20],
        draws,
    }
}

fn one(beta: f64, alpha: f64, lam: f64) -> Vec<CurveDraw> {
    vec![CurveDraw { beta, alpha, lam, slope: 1.0 }]
}

/// Two logistic channels without carryover, `c = lam / (2 scale)` the same for both: the optimum has
/// `beta_1 sech^2(c x_1) = beta_2 sech^2(c x_2)` with `x_1 + x_2 = B`, so
/// `tanh(c x_1) = (cosh(c B) - r) / sinh(c B)`, `r = sqrt(beta_2 / beta_1)`.
fn closed_form_case() -> (Vec<Response>, f64) {
    let r = Response {
        kpi: "tickets".into(),
        channels: vec![
            curve("a", ChannelKind::Media, 1, 100.0, 50.0, one(10.0, 0.0, 2.0)),
            curve("b", ChannelKind::Media, 1, 150.0, 50.0, one(14.4, 0.0, 3.0)),
        ],
        intervals: false,
    };
    let (c, b, ratio) = (0.01_f64, 200.0_f64, (14.4_f64 / 10.0).sqrt());
    let x1 = ((c * b).cosh() - ratio) / (c * b).sinh();
    (vec![r], x1.atanh() / c)
}

fn volume(p: &Plan, channel: &str, period: usize) -> f64 {
    p.allocation.iter().find(|r| r.channel == channel && r.period == period).unwrap().volume
}

#[test]
fn two_logistic_channels_meet_at_equal_marginal_value() {
    let (responses, x1) = closed_form_case();
    assert!((x1 - 88.0).abs() < 1.0, "the case is interior: {x1}");
    for flighting in [Flighting::Even, Flighting::Free] {
        let periods = 4;
        let o =
            PlanOptions { budget: Some(200.0 * periods as f64), periods, flighting, ..Default::default() };
        let p = plan(&responses, &goals(&[("tickets", 1.0)]), &o, &Unattended).unwrap();
        for t in 1..=periods {
            assert!((volume(&p, "a", t) - x1).abs() < 1e-6, "{flighting:?}: {} vs {x1}", volume(&p, "a", t));
            assert!((volume(&p, "b", t) - (200.0 - x1)).abs() < 1e-6);
        }
        assert!(p.kkt.holds && p.kkt.interior_gap < 1e-6, "{:?}", p.kkt);
        // The multiplier is the marginal value: beta c sech^2(c x) per unit of money.
        let want = 10.0 * 0.01 / (0.01 * x1).cosh().powi(2);
        assert!((p.kkt.multiplier - want).abs() < 1e-8 * want.max(1.0), "{} vs {want}", p.kkt.multiplier);
        // The outcome is the curves at the optimum, summed over the periods.
        let v = periods as f64 * (10.0 * (0.01 * x1).tanh() + 14.4 * (0.01 * (200.0 - x1)).tanh());
        assert!((p.outcome[0].horizon.mean - v).abs() < 1e-9 * v);
    }
}

#[test]
fn a_bound_that_binds_keeps_the_kkt_conditions() {
    let (responses, x1) = closed_form_case();
    let cap = x1 - 20.0;
    let o = PlanOptions {
        budget: Some(400.0),
        periods: 2,
        bounds: BTreeMap::from([("a".to_string(), Bound { min: 0.0, max: cap })]),
        ..Default::default()
    };
    let p = plan(&responses, &goals(&[("tickets", 1.0)]), &o, &Unattended).unwrap();
    assert!((volume(&p, "a", 1) - cap).abs() < 1e-9);
    assert!((volume(&p, "b", 2) - (200.0 - cap)).abs() < 1e-6);
    let at_max: Vec<_> = p.marginal.iter().filter(|m| m.status == "at_max").collect();
    assert_eq!(at_max.len(), 2);
    // At its maximum, `a` would still earn more per unit of money than the interior `b`.
    assert!(at_max.iter().all(|m| m.marginal > p.kkt.multiplier));
    assert!(p.kkt.holds, "{:?}", p.kkt);
}

#[test]
fn a_channel_fixed_by_its_bounds_keeps_the_run_rate_as_current_and_the_kkt_holds_at_a_vertex() {
    // `b` fixed at 80 a period where its run rate is 50: `current` and the default budget stay the
    // run rate's (2 x 100 a period), and `a` gets what is left: 20 a period, its only choice.
    let (responses, _) = closed_form_case();
    let o = PlanOptions {
        periods: 2,
        bounds: BTreeMap::from([("b".to_string(), Bound { min: 80.0, max: 80.0 })]),
        ..Default::default()
    };
    let p = plan(&responses, &goals(&[("tickets", 1.0)]), &o, &Unattended).unwrap();
    assert!((p.budget - 200.0).abs() < 1e-9, "{}", p.budget);
    assert!(p.allocation.iter().all(|r| r.current == 50.0));
    assert!((volume(&p, "a", 1) - 20.0).abs() < 1e-9 && (volume(&p, "b", 2) - 80.0).abs() < 1e-12);
    // Both of `a`'s periods are at no bound: interior. Now bound `a` to exactly what is left,
    // so no decision is inside its bounds: the check compares the bounded marginals.
    let o2 = PlanOptions {
        bounds: BTreeMap::from([
            ("a".to_string(), Bound { min: 0.0, max: 20.0 }),
            ("b".to_string(), Bound { min: 80.0, max: 80.0 }),
        ]),
        ..o
    };
    let q = plan(&responses, &goals(&[("tickets", 1.0)]), &o2, &Unattended).unwrap();
    assert!(q.marginal.iter().all(|m| m.status != "interior"));
    assert!(q.kkt.multiplier.is_finite() && q.kkt.holds && q.kkt.violations == 0, "{:?}", q.kkt);
}

#[test]
fn carryover_moves_spend_earlier_and_the_conditions_hold() {
    // One channel with a long carryover and a saturating one without: under free flighting the
    // carryover channel is worth more early (its effect runs on), so its spend falls over the periods
    // when the tail is not counted.
    let r = Response {
        kpi: "tickets".into(),
        channels: vec![
            curve("slow", ChannelKind::Media, 6, 100.0, 50.0, one(10.0, 0.7, 2.0)),
            curve("fast", ChannelKind::Media, 1, 100.0, 50.0, one(10.0, 0.0, 2.0)),
        ],
        intervals: false,
    };
    let o = PlanOptions { budget: Some(800.0), periods: 8, count_tail: false, ..Default::default() };
    let p = plan(std::slice::from_ref(&r), &goals(&[("tickets", 1.0)]), &o, &Unattended).unwrap();
    assert!(p.kkt.holds, "{:?}", p.kkt);
    assert!(volume(&p, "slow", 1) > volume(&p, "slow", 8) + 1.0);
    // Counting the tail gives the last periods' spend its worth back.
    let with_tail =
        plan(&[r], &goals(&[("tickets", 1.0)]), &PlanOptions { count_tail: true, ..o }, &Unattended).unwrap();
    assert!(volume(&with_tail, "slow", 8) > volume(&p, "slow", 8));
    assert!(with_tail.kkt.holds);
    // Spend equals the budget.
    let spend: f64 = p.allocation.iter().filter_map(|r| r.spend).sum();
    assert!((spend - 800.0).abs() < 1e-6);
}

// ---- On a simulated series: a posterior, targets, determinism, recovery of the truth.

fn simulated() -> (WeeklySeries, Fit) {
    let s = weekly(&WeeklyParams::social_care(156, 7)).unwrap();
    let names: Vec<&str> = s.params.channels.iter().map(|c| c.name.as_str()).collect();
    let media: Vec<&str> =
        s.params.channels.iter().filter(|c| c.kind == "media").map(|c| c.name.as_str()).collect();
    let organic: Vec<&str> =
        s.params.channels.iter().filter(|c| c.kind == "organic").map(|c| c.name.as_str()).collect();
    let model = MediaMix::new("week", "tickets_deflected", &media, &organic, &["product_launch"]);
    // The model's channel order (media, then organic) from the generator's.
    let cols = model
        .channels
        .iter()
        .map(|c| s.channels[names.iter().position(|n| *n == c.name).unwrap()].clone())
        .collect();
    let series = Series {
        dates: s.dates.clone(),
        target: s.target.clone(),
        channels: cols,
        controls: vec![s.control.clone()],
    };
    let f = fit(&model, &series, &[], &FitOptions { seed: 3, ..Default::default() }, &Unattended).unwrap();
    (s, f)
}

fn care_goals() -> GoalBook {
    let mut g = goals(&[("tickets_deflected", 12.0)]);
    g.unit_costs = BTreeMap::from([("care_replies".into(), 5.0), ("employee_shares".into(), 4.0)]);
    g
}

/// The generator's own curves as a one-draw response.
fn truth(s: &WeeklySeries) -> Response {
    Response {
        kpi: "tickets_deflected".into(),
        channels: s
            .params
            .channels
            .iter()
            .zip(&s.channels)
            .map(|(c, col)| ChannelCurve {
                name: c.name.clone(),
                kind: if c.kind == "media" { ChannelKind::Media } else { ChannelKind::Organic },
                saturation: Saturation::Logistic,
                max_lag: 8,
                scale: col.iter().copied().fold(0.0, f64::max),
                levels: col.clone(),
                draws: one(c.beta, c.alpha, c.lam),
            })
            .collect(),
        intervals: false,
    }
}

/// What the generator says a plan gives: (horizon, tail) of the channels together.
fn true_outcome(s: &WeeklySeries, p: &Plan) -> (f64, f64) {
    let r = s.respond(&p.levels_by_channel()).unwrap();
    (r.channels.iter().map(|c| c.horizon).sum(), r.channels.iter().map(|c| c.tail).sum())
}

#[test]
fn on_a_simulated_series_the_plan_nearly_reaches_the_true_optimum_and_its_interval_holds_the_truth() {
    let (s, f) = simulated();
    let fits = BTreeMap::from([("tickets_deflected".to_string(), &f)]);
    let g = care_goals();
    // Within the levels the data saw: beyond them the model extrapolates (and warns).
    let bounds = s
        .params
        .channels
        .iter()
        .zip(&s.channels)
        .map(|(c, col)| (c.name.clone(), Bound { min: 0.0, max: col.iter().copied().fold(0.0, f64::max) }))
        .collect();
    let o = PlanOptions { periods: 13, decision_draws: Some(200), bounds, ..Default::default() };
    let p = plan_fits(&fits, &g, &o, &Unattended).unwrap();
    assert!(p.kkt.holds, "{:?}", p.kkt);
    let best =
        plan(&[truth(&s)], &g, &PlanOptions { budget: Some(p.budget), ..o.clone() }, &Unattended).unwrap();
    let (h_plan, t_plan) = true_outcome(&s, &p);
    let (h_best, t_best) = true_outcome(&s, &best);
    let ratio = (h_plan + t_plan) / (h_best + t_best);
    println!("plan {:.1} + {:.1}, true optimum {:.1} + {:.1}: {:.4}", h_plan, t_plan, h_best, t_best, ratio);
    assert!(ratio >= 0.97, "{ratio}");
    // The plan's interval of the channels' contribution over the horizon holds the truth.
    let o0 = &p.outcome[0];
    assert!(o0.horizon.lower <= h_plan && h_plan <= o0.horizon.upper, "{:?} vs {h_plan}", o0.horizon);
    // Same budget as the run rate's, and a plan at least as good as it by the model.
    let spend: f64 = p.allocation.iter().filter_map(|r| r.spend).sum();
    assert!((spend - p.budget).abs() < 1e-6 * p.budget);
    assert!(p.against_current.outcome.last().unwrap().value.mean >= -1e-9);
    // The decision's spread: one row per channel, probabilities in [0, 1].
    assert_eq!(p.decision.len(), 4);
    assert_eq!(p.decision_draws, 200);
    for d in &p.decision {
        assert!((0.0..=1.0).contains(&d.probability_grow));
        assert!(d.optimal.lower <= d.optimal.upper);
    }
}

#[test]
fn goal_seeking_reaches_the_target_with_the_asked_probability_and_no_less_budget_does() {
    let (_, f) = simulated();
    let fits = BTreeMap::from([("tickets_deflected".to_string(), &f)]);
    let g = care_goals();
    let base = PlanOptions { periods: 13, decision_draws: Some(0), count_tail: false, ..Default::default() };
    let now = plan_fits(&fits, &g, &base, &Unattended).unwrap();
    let target = now.outcome[0].horizon.mean * 1.1;
    for p_want in [0.5, 0.8] {
        let o = PlanOptions {
            target: BTreeMap::from([("tickets_deflected".into(), target)]),
            probability: p_want,
            ..base.clone()
        };
        let p = plan_fits(&fits, &g, &o, &Unattended).unwrap();
        let reached = p.probability.unwrap();
        let draws = &p.outcome_draws()["tickets_deflected"];
        let share = draws.iter().filter(|v| **v >= target).count() as f64 / draws.len() as f64;
        assert_eq!(share, reached);
        assert!((reached - p_want).abs() < 0.02, "{p_want}: {reached}");
        // 2% less money, planned for the same quantile, does not reach it as often.
        let less = PlanOptions {
            budget: Some(0.98 * p.budget),
            target: BTreeMap::new(),
            risk: Risk::Quantile(1.0 - p_want),
            ..o.clone()
        };
        let q = plan_fits(&fits, &g, &less, &Unattended).unwrap();
        let d = &q.outcome_draws()["tickets_deflected"];
        let share_less = d.iter().filter(|v| **v >= target).count() as f64 / d.len() as f64;
        assert!(share_less < p_want, "{share_less}");
    }
}

#[test]
fn the_decision_spread_is_the_same_for_a_seed_whatever_the_thread_count() {
    let (_, f) = simulated();
    let fits = BTreeMap::from([("tickets_deflected".to_string(), &f)]);
    let g = care_goals();
    let o = PlanOptions { periods: 6, decision_draws: Some(100), seed: 9, ..Default::default() };
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| plan_fits(&fits, &g, &o, &Unattended).unwrap())
    };
    let (a, b) = (run(1), run(2));
    assert_eq!(a.decision, b.decision);
    assert_eq!(a.allocation, b.allocation);
    assert_eq!(a.outcome, b.outcome);
    let c = run(2);
    assert_eq!(c.decision, b.decision);
    // Another seed draws another subset.
    let d = plan_fits(&fits, &g, &PlanOptions { seed: 10, ..o.clone() }, &Unattended).unwrap();
    assert_ne!(d.decision, b.decision);
}

// ---- Bad input: each a typed error naming the value.

fn bad(responses: &[Response], g: &GoalBook, o: PlanOptions) -> String {
    match plan(responses, g, &o, &Unattended) {
        Ok(_) => panic!("expected an error for {o:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_input_is_a_typed_error_naming_the_value() {
    let (r, _) = closed_form_case();
    let g = goals(&[("tickets", 1.0)]);
    let o = PlanOptions { budget: Some(400.0), periods: 2, ..Default::default() };
    // A budget below the locked channels' spend (a is locked at its run rate 50 a period).
    let e = bad(&r, &g, PlanOptions { budget: Some(60.0), locked: vec!["a".into()], ..o.clone() });
    assert!(e.contains("budget 60") && e.contains("below the 100") && e.contains("short by 40"), "{e}");
    // Bounds that cannot hold the budget, by how much.
    let tight = BTreeMap::from([
        ("a".to_string(), Bound { min: 0.0, max: 50.0 }),
        ("b".to_string(), Bound { min: 0.0, max: 100.0 }),
    ]);
    let e = bad(&r, &g, PlanOptions { bounds: tight, ..o.clone() });
    assert!(e.contains("hold at most 300") && e.contains("100 of the budget cannot be placed"), "{e}");
    let high = BTreeMap::from([("a".to_string(), Bound { min: 250.0, max: 300.0 })]);
    let e = bad(&r, &g, PlanOptions { bounds: high, ..o.clone() });
    assert!(e.contains("minimums need 500") && e.contains("100 more than the budget"), "{e}");
    let e = bad(
        &r,
        &g,
        PlanOptions { bounds: BTreeMap::from([("a".into(), Bound { min: 5.0, max: 1.0 })]), ..o.clone() },
    );
    assert!(e.starts_with("channel `a`: bounds (5, 1)"), "{e}");
    // A target that no plan within the bounds reaches: the best reachable and its probability.
    let capped = BTreeMap::from([
        ("a".to_string(), Bound { min: 0.0, max: 100.0 }),
        ("b".to_string(), Bound { min: 0.0, max: 100.0 }),
    ]);
    let e = bad(
        &r,
        &g,
        PlanOptions {
            budget: None,
            bounds: capped,
            target: BTreeMap::from([("tickets".into(), 1000.0)]),
            ..o.clone()
        },
    );
    let best = 2.0 * (10.0 * 1.0f64.tanh() + 14.4 * (100.0f64 / 150.0 * 1.5).tanh());
    assert!(e.contains("no plan within the bounds reaches 1000"), "{e}");
    assert!(e.contains(&format!("the best reachable is {best:.3}")), "{e} / {best}");
    assert!(e.contains("in 0.0% of the draws"), "{e}");
    // Unit costs: one for a media channel; none for an organic channel the plan may change.
    let e = bad(&r, &g, PlanOptions { unit_costs: BTreeMap::from([("a".into(), 3.0)]), ..o.clone() });
    assert!(e.contains("channel `a`: is a media channel") && e.contains("given 3"), "{e}");
    let mut organic = r.clone();
    organic[0].channels[1].kind = ChannelKind::Organic;
    let e = bad(&organic, &g, o.clone());
    assert!(e.starts_with("channel `b`: is organic and has no unit cost"), "{e}");
    // Locked, it needs none (and is left out of the budget, with a warning).
    let p = plan(&organic, &g, &PlanOptions { locked: vec!["b".into()], ..o.clone() }, &Unattended).unwrap();
    assert!(p.warnings.iter().any(|w| w.contains("`b`: organic without a unit cost")));
    // Periods <= 0.
    let e = bad(&r, &g, PlanOptions { periods: 0, ..o.clone() });
    assert!(e.contains("invalid `periods`: 0"), "{e}");
    // A fit whose KPI the goal book lacks, or values not.
    let e = bad(&r, &goals(&[("hires", 300.0)]), o.clone());
    assert!(e.starts_with("kpi `tickets`: not in the goal book (hires)"), "{e}");
    let unvalued = GoalBook::new(vec![Kpi::new("tickets", "service")], BTreeMap::new(), Vec::new()).unwrap();
    let e = bad(&r, &unvalued, o.clone());
    assert!(e.contains("has no `unit_value`"), "{e}");
    // Names the fits lack, a bad probability, a target and a budget together.
    let e = bad(&r, &g, PlanOptions { locked: vec!["tv".into()], ..o.clone() });
    assert!(e.contains("invalid `locked`: \"tv\" (not a channel of the fits (a, b))"), "{e}");
    let e = bad(&r, &g, PlanOptions { target: BTreeMap::from([("tickets".into(), 10.0)]), ..o.clone() });
    assert!(e.contains("give a budget or a target, not both"), "{e}");
    let e = bad(
        &r,
        &g,
        PlanOptions { budget: None, target: BTreeMap::from([("hires".into(), 10.0)]), ..o.clone() },
    );
    assert!(e.contains("invalid `target`: \"hires\" (a target for a KPI without a fit (tickets))"), "{e}");
    let e = bad(
        &r,
        &g,
        PlanOptions {
            budget: None,
            target: BTreeMap::from([("tickets".into(), 10.0)]),
            risk: Risk::Quantile(0.1),
            ..o.clone()
        },
    );
    assert!(e.contains("invalid `risk`: 0.1") && e.contains("give `probability`"), "{e}");
    let e = bad(&r, &g, PlanOptions { run_rate_periods: Some(0), ..o.clone() });
    assert!(e.contains("invalid `run_rate_periods`: 0"), "{e}");
    let e = bad(&r, &goals(&[("tickets", 0.0)]), o.clone());
    assert!(e.starts_with("kpi `tickets`: `unit_value` is 0"), "{e}");
    // A hand-built response out of its domain names the channel, the draw and the value.
    let mut broken = r.clone();
    broken[0].channels[0].draws[0].alpha = 1.5;
    let e = bad(&broken, &g, o.clone());
    assert!(e.starts_with("channel `a`: in the response of `tickets`: draw 0: beta 10, alpha 1.5"), "{e}");
    broken[0].channels[0].draws[0].alpha = 0.0;
    broken[0].channels[0].scale = 0.0;
    let e = bad(&broken, &g, o.clone());
    assert!(e.contains("scale 0 must be finite and > 0"), "{e}");
    let e = bad(&r, &g, PlanOptions { probability: 1.0, ..o.clone() });
    assert!(e.contains("invalid `probability`: 1"), "{e}");
    assert!(matches!(
        plan(&r, &g, &PlanOptions { budget: Some(f64::NAN), ..o.clone() }, &Unattended),
        Err(Error::Budget { .. })
    ));
}

#[test]
fn several_goals_share_a_channel_and_are_valued_together() {
    // `a` drives both tickets (worth 1) and hires (worth 50); `b` only tickets. Planning both goals
    // moves money to `a` against planning tickets alone.
    let (mut r, _) = closed_form_case();
    let hires = Response {
        kpi: "hires".into(),
        channels: vec![curve("a", ChannelKind::Media, 1, 100.0, 50.0, one(0.5, 0.0, 2.0))],
        intervals: false,
    };
    let o = PlanOptions { budget: Some(200.0), periods: 1, ..Default::default() };
    let alone = plan(&r, &goals(&[("tickets", 1.0)]), &o, &Unattended).unwrap();
    r.push(hires);
    let both = plan(&r, &goals(&[("tickets", 1.0), ("hires", 50.0)]), &o, &Unattended).unwrap();
    assert!(volume(&both, "a", 1) > volume(&alone, "a", 1) + 10.0);
    assert!(both.kkt.holds);
    assert_eq!(both.outcome.len(), 3);
    assert_eq!(both.outcome[2].kpi, "value");
    let value = both.outcome[0].value.mean + both.outcome[1].value.mean;
    assert!((both.outcome[2].value.mean - value).abs() < 1e-9 * value);
}
