//! Next quarter's budget for social care: where should the money and the staff time go?
//!
//! A media-mix model fitted on three years of weekly tickets deflected (simulated, so the true
//! response curves are known) plans the next 13 weeks with the run rate's money: paid social and
//! search are spend, care replies and employee shares are staff time priced per reply and per share.
//! The plan stays within the levels the data saw. It prints the allocation against the run rate, the
//! outcome with its interval, the optimality check and how sure the plan is of every channel; then
//! what the generator's own curves say of the plan, of the run rate and of the best plan they allow.
//!
//! Run: `cargo run --release --example plan` (or `make test`, which runs every example).
use std::collections::BTreeMap;
use std::error::Error;

use touchpoint::core::goals::{GoalBook, Kpi};
use touchpoint::core::Unattended;
use touchpoint::mmm::{
    fit, plan, Bound, ChannelCurve, ChannelKind, ChannelSpec, CurveDraw, FitOptions, MediaMix, PlanOptions,
    Response, Saturation, Series,
};
use touchpoint_sim::{weekly, WeeklyParams};

fn main() -> Result<(), Box<dyn Error>> {
    let sim = weekly(&WeeklyParams::social_care(156, 1))?;
    let mut model = MediaMix::new("week", &sim.params.target, &[], &[], &[&sim.params.control]);
    model.channels = sim
        .params
        .channels
        .iter()
        .map(|c| ChannelSpec {
            name: c.name.clone(),
            kind: if c.kind == "media" { ChannelKind::Media } else { ChannelKind::Organic },
        })
        .collect();
    let series = Series {
        dates: sim.dates.clone(),
        target: sim.target.clone(),
        channels: sim.channels.clone(),
        controls: vec![sim.control.clone()],
    };
    let f = fit(&model, &series, &[], &FitOptions { seed: 0, ..FitOptions::default() }, &Unattended)?;

    let mut goals = GoalBook::new(
        vec![Kpi::new(&sim.params.target, "service").with_unit_value(12.0, Some("ticket"))],
        BTreeMap::new(),
        Vec::new(),
    )?;
    goals.unit_costs = BTreeMap::from([("care_replies".into(), 5.0), ("employee_shares".into(), 4.0)]);
    let bounds: BTreeMap<String, Bound> = sim
        .params
        .channels
        .iter()
        .zip(&sim.channels)
        .map(|(c, col)| (c.name.clone(), Bound { min: 0.0, max: col.iter().copied().fold(0.0, f64::max) }))
        .collect();
    let options = PlanOptions { periods: 13, bounds, decision_draws: Some(500), ..PlanOptions::default() };
    let kpi = sim.params.target.clone();
    let p = plan(&[Response::from_fit(&kpi, &f)], &goals, &options, &Unattended)?;

    println!("budget {:.0} over {} weeks (the run rate's cost)", p.budget, p.periods);
    println!("\nchannel           spend: run rate ->   plan   (optimal over the draws, 90%)  grows in");
    for d in &p.decision {
        println!(
            "  {:<16} {:>9.0} -> {:>9.0}   [{:>7.0}, {:>7.0}]                 {:>4.0}% of draws",
            d.channel,
            d.current,
            d.planned,
            d.optimal.lower,
            d.optimal.upper,
            100.0 * d.probability_grow
        );
    }
    let o = &p.outcome[0];
    let vs = &p.against_current.outcome[0];
    println!(
        "\n{kpi} from the channels over the quarter: {:.0} [{:.0}, {:.0}], tail {:.0} after it",
        o.horizon.mean, o.horizon.lower, o.horizon.upper, o.tail.mean
    );
    println!(
        "  against the run rate: {:+.0} [{:+.0}, {:+.0}] (better in {:.0}% of draws)",
        vs.horizon.mean,
        vs.horizon.lower,
        vs.horizon.upper,
        100.0 * p.against_current.probability_better
    );
    println!(
        "optimality: {:.4} of value per unit of money for every decision inside its bounds (gap {:.1e}), {} violations",
        p.kkt.multiplier, p.kkt.interior_gap, p.kkt.violations
    );
    assert!(p.kkt.holds);

    // The generator's truth: the plan, the run rate, and the best plan its own curves allow.
    let truth = Response {
        kpi: kpi.clone(),
        channels: sim
            .params
            .channels
            .iter()
            .zip(&sim.channels)
            .map(|(c, col)| ChannelCurve {
                name: c.name.clone(),
                kind: if c.kind == "media" { ChannelKind::Media } else { ChannelKind::Organic },
                saturation: Saturation::Logistic,
                max_lag: 8,
                scale: col.iter().copied().fold(0.0, f64::max),
                levels: col.clone(),
                draws: vec![CurveDraw { beta: c.beta, alpha: c.alpha, lam: c.lam, slope: 1.0 }],
            })
            .collect(),
        intervals: false,
    };
    let best = plan(&[truth], &goals, &PlanOptions { decision_draws: Some(0), ..options }, &Unattended)?;
    let true_value = |levels: &BTreeMap<String, Vec<f64>>| -> Result<(f64, f64), Box<dyn Error>> {
        let r = sim.respond(levels)?;
        Ok((r.channels.iter().map(|c| c.horizon).sum(), r.channels.iter().map(|c| c.tail).sum()))
    };
    let (h_plan, t_plan) = true_value(&p.levels_by_channel())?;
    let (h_now, t_now) = true_value(&p.current())?;
    let (h_best, t_best) = true_value(&best.levels_by_channel())?;
    println!(
        "\nthe truth (horizon + tail): run rate {:.0}, plan {:.0}, best possible {:.0}",
        h_now + t_now,
        h_plan + t_plan,
        h_best + t_best
    );
    let share = (h_plan + t_plan) / (h_best + t_best);
    println!("  the plan reaches {:.1}% of the best; its interval holds the true {h_plan:.0}", 100.0 * share);
    assert!(share >= 0.97, "{share}");
    assert!(o.horizon.lower <= h_plan && h_plan <= o.horizon.upper);
    Ok(())
}
