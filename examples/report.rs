//! The report for the people who decide, from Rust: the bundled quarter measured with the
//! additive-hazard model (calibrated by the bundled lift test, with 90% bootstrap intervals) and the
//! last-touch model as a comparison, valued with `examples/data/goals.toml`, written as one
//! self-contained HTML file.
//!
//! Run: `cargo run --release --example report` (or `make test`, which runs every example). Writes
//! `report.html` in a new temporary folder and prints the page's plain-words summary.
use std::error::Error;
use std::path::Path;

use touchpoint::core::{attribute_with_intervals, Dimension, GoalBook, ModelSpec, Resampling, Unattended};
use touchpoint::report::{page, render, write_html, Inputs, ReportOptions};
use touchpoint_frame::{journeys_from_events, lift_tests_from_frame, read_table, EventOptions};

fn main() -> Result<(), Box<dyn Error>> {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data");
    let goals = GoalBook::load(&data.join("goals.toml"))?;
    let options = EventOptions {
        population: Some(10_000),
        period: Some(("2026-04-01".into(), "2026-07-01".into())),
        ..EventOptions::default()
    };
    let journeys = journeys_from_events(
        &read_table(&data.join("touches.csv"), b',')?,
        &read_table(&data.join("conversions.csv"), b',')?,
        &options,
    )?;
    let mut hazard = ModelSpec::from_name("additive_hazard")?;
    if let ModelSpec::AdditiveHazard(m) = &mut hazard {
        m.lift_tests = lift_tests_from_frame(&read_table(&data.join("lift_tests.csv"), b',')?)?;
    }
    let models = [hazard, ModelSpec::from_name("last_touch")?];
    let resampling = Resampling { level: 0.9, resamples: 50, seed: 0 };
    let result =
        attribute_with_intervals(&journeys, &models, Dimension::Channel, &resampling, 0, &Unattended)?;

    let inputs =
        Inputs { attribution: &result, goals: &goals, mmm: &[], journeys: Some(&journeys), breakdowns: &[] };
    let page = page(&inputs, &ReportOptions { title: "The quarter".into(), ..ReportOptions::default() })?;
    for sentence in &page.headline {
        println!("- {sentence}");
    }
    // The additive-hazard model has a baseline: the page tells what was added, per goal.
    assert!(page.incremental && page.model == "additive_hazard");
    assert_eq!(page.headline.len(), 3);
    assert!(page.headline[0].starts_with("Sales: the channels added "));
    let html = render(&page)?;
    assert!(html.contains("id=\"goal-tickets_deflected\"") && !html.contains("<script src"));

    let dir = std::env::temp_dir().join(format!("touchpoint-report-{}", std::process::id()));
    std::fs::create_dir(&dir)?;
    let path = dir.join("report.html");
    write_html(&html, &path)?;
    println!("wrote {} ({} bytes)", path.display(), html.len());
    std::fs::remove_file(&path)?;
    std::fs::remove_dir(&dir)?;
    Ok(())
}
