//! A contribution report: credit valued by a goal book, rolled up per channel, with cost, ROI and the
//! social vs non-social split.
//!
//! Reads the sample event log and `examples/data/goals.toml` (KPIs with functions and unit values,
//! channel costs, which channels are social), credits with Markov and the additive-hazard model (whose
//! `(baseline)` line is what would have happened anyway), and prints the report.
//!
//! Run: `cargo run --release --example contribution_report` (or `make test`, which runs every example).
use std::error::Error;
use std::path::Path;

use touchpoint::core::{attribute, contribution, Dimension, GoalBook, ModelSpec};
use touchpoint_frame::{journeys_from_events, read_table, EventOptions};

fn main() -> Result<(), Box<dyn Error>> {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data");
    let goals = GoalBook::load(&data.join("goals.toml"))?;
    let touches = read_table(&data.join("touches.csv"), b',')?;
    let conversions = read_table(&data.join("conversions.csv"), b',')?;
    // The bundled quarter: 10,000 people in the market over [2026-04-01, 2026-07-01).
    let options = EventOptions {
        population: Some(10_000),
        period: Some(("2026-04-01".into(), "2026-07-01".into())),
        ..EventOptions::default()
    };
    let journeys = journeys_from_events(&touches, &conversions, &options)?;
    let models = [ModelSpec::from_name("markov")?, ModelSpec::from_name("additive_hazard")?];
    let result = attribute(&journeys, &models, Dimension::Channel)?;
    let report = contribution(&result, &goals, None)?;

    println!("{:<16} {:<12} {:>12} {:>8} {:>10} {:>8}", "model", "channel", "value", "share", "cost", "roi");
    let opt = |x: Option<f64>, digits: usize| x.map_or("-".to_owned(), |v| format!("{v:.digits$}"));
    for s in &report.summary {
        println!(
            "{:<16} {:<12} {:>12.2} {:>8} {:>10} {:>8}",
            s.model,
            s.player,
            s.value,
            opt(s.value_share, 3),
            opt(s.cost, 0),
            opt(s.roi, 2)
        );
    }
    println!();
    for t in &report.social {
        let side = if t.social { "social" } else { "non-social" };
        println!(
            "{:<16} {:<10} value {:>12.2}  cost {:>10.0}  roi {}",
            t.model,
            side,
            t.value,
            t.cost,
            opt(t.roi, 2)
        );
    }
    for w in &report.warnings {
        println!("warning: {w}");
    }
    Ok(())
}
