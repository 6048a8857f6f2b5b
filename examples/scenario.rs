//! What will the next quarter bring, and what if we moved a fifth of paid social's budget to search?
//!
//! A media-mix model fitted on three years of weekly tickets deflected (simulated, so the truth is
//! known) looks 13 weeks ahead: the KPI per week with the interval of its mean and of the KPI
//! itself, each channel's contribution, and the carryover that is still to come after the quarter
//! (the tail). Then two plans are compared draw by draw.
//!
//! Run: `cargo run --release --example scenario` (or `make test`, which runs every example).
use std::collections::BTreeMap;
use std::error::Error;

use touchpoint::core::Unattended;
use touchpoint::mmm::{fit, ChannelKind, ChannelSpec, FitOptions, Future, MediaMix, PredictOptions, Series};
use touchpoint_sim::{weekly, WeeklyParams};

const WEEKS: usize = 156;
const AHEAD: usize = 13;

fn main() -> Result<(), Box<dyn Error>> {
    let sim = weekly(&WeeklyParams::social_care(WEEKS + AHEAD, 1))?;
    let names: Vec<String> = sim.params.channels.iter().map(|c| c.name.clone()).collect();
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
    let history = Series {
        dates: sim.dates[..WEEKS].to_vec(),
        target: sim.target[..WEEKS].to_vec(),
        channels: sim.channels.iter().map(|c| c[..WEEKS].to_vec()).collect(),
        controls: vec![sim.control[..WEEKS].to_vec()],
    };
    let options = FitOptions { chains: 4, draws: 500, tune: 500, seed: 0, ..FitOptions::default() };
    let f = fit(&model, &history, &[], &options, &Unattended)?;

    // The next quarter as it happened: its spend, volumes and launches.
    let next = Future {
        channels: names.iter().zip(&sim.channels).map(|(n, c)| (n.clone(), c[WEEKS..].to_vec())).collect(),
        controls: BTreeMap::from([(sim.params.control.clone(), sim.control[WEEKS..].to_vec())]),
        dates: None,
    };
    let s = f.predict(&next, &PredictOptions::default())?;
    println!(
        "{} per week, the next {AHEAD} weeks: expected [interval of the mean] (of the KPI itself) observed",
        sim.params.target
    );
    let mut inside = 0;
    for (p, y) in s.periods.iter().zip(&sim.target[WEEKS..]) {
        let hit = p.predictive.lower <= *y && *y <= p.predictive.upper;
        inside += usize::from(hit);
        println!(
            "  week {:>2}: {:>7.0} [{:>7.0}, {:>7.0}] ({:>7.0}, {:>7.0}) {:>7.0}{}",
            p.period,
            p.kpi.mean,
            p.kpi.lower,
            p.kpi.upper,
            p.predictive.lower,
            p.predictive.upper,
            y,
            if hit { "" } else { "  outside" }
        );
    }
    println!("\nover the quarter, per component: expected [interval]; tail after the quarter");
    for t in &s.totals {
        println!(
            "  {:<16} {:>9.0} [{:>9.0}, {:>9.0}]; tail {:>6.0}",
            t.component, t.horizon.mean, t.horizon.lower, t.horizon.upper, t.tail.mean
        );
    }
    assert!(inside >= 10, "the 90% predictive interval holds most observed weeks ({inside} of {AHEAD})");

    // A fifth of paid social's spend moved to search, week by week.
    let mut moved = next.clone();
    let social: Vec<f64> = next.channels["paid_social"].clone();
    for (i, v) in moved.channels.get_mut("paid_social").ok_or("paid_social")?.iter_mut().enumerate() {
        *v = 0.8 * social[i];
    }
    for (i, v) in moved.channels.get_mut("search").ok_or("search")?.iter_mut().enumerate() {
        *v += 0.2 * social[i];
    }
    let c = f.compare(&moved, &next)?;
    println!("\nmoving 20% of paid social to search, against the quarter as it was:");
    for t in &c.totals {
        println!(
            "  {:<16} {:>+8.1} [{:>+8.1}, {:>+8.1}]",
            t.component, t.horizon.mean, t.horizon.lower, t.horizon.upper
        );
    }
    let kpi = c.totals.iter().find(|t| t.component == "kpi").ok_or("kpi")?;
    let unchanged = c.totals.iter().find(|t| t.component == "care_replies").ok_or("care_replies")?;
    assert!(unchanged.horizon.mean.abs() < 1e-9, "an unchanged channel adds nothing");
    assert!(kpi.horizon.lower <= kpi.horizon.mean && kpi.horizon.mean <= kpi.horizon.upper);
    for w in &s.warnings {
        println!("warning: {w}");
    }
    Ok(())
}
