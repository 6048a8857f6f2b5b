//! Reads an event log with the frame crate: touches and conversions tables to journeys, per KPI.
//!
//! Reads `examples/data/touches.csv` and `conversions.csv` (person `user_id`, time `ts`, a 30-day
//! lookback and 90 days for hires), prints the ingestion summary and what was left unattributed, and
//! credits each KPI to actor groups (brand, agency, employees) with linear and Shapley models.
//!
//! Run: `cargo run --release --example event_log` (or `make test`, which runs every example).
use std::error::Error;
use std::path::Path;

use touchpoint::core::{attribute, Dimension, ModelSpec};
use touchpoint_frame::{journeys_from_events, read_table, EventOptions};

fn main() -> Result<(), Box<dyn Error>> {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data");
    let touches = read_table(&data.join("touches.csv"), b',')?;
    let conversions = read_table(&data.join("conversions.csv"), b',')?;
    let options = EventOptions {
        dims: vec![Dimension::ActorGroup],
        lookback: "30d".into(),
        lookback_by_kpi: vec![("hires".into(), "90d".into())],
        ..EventOptions::default()
    };
    let journeys = journeys_from_events(&touches, &conversions, &options)?;
    println!("{:<20} {:>8} {:>10} {:>12} {:>12}", "kpi", "journeys", "touches", "attributed", "unattributed");
    for s in journeys.summary() {
        println!(
            "{:<20} {:>8} {:>10} {:>12.0} {:>12.0}",
            s.kpi, s.journeys, s.touches, s.attributed, s.unattributed
        );
        assert!((s.attributed + s.unattributed - s.conversions).abs() < 1e-9, "nothing is lost");
    }
    for u in journeys.unattributed() {
        println!("unattributed: {} {} ({})", u.kpi, u.conversions, u.reason);
    }
    let models = [ModelSpec::from_name("linear")?, ModelSpec::from_name("shapley")?];
    let result = attribute(&journeys, &models, Dimension::ActorGroup)?;
    println!();
    print!("{}", result.comparison_table());
    for w in &result.warnings {
        println!("warning: {w}");
    }
    Ok(())
}
