//! Timing of the `baseline` scenario with a million people, truths included (run by hand:
//! `cargo test --release -p touchpoint-sim --test speed -- --ignored --nocapture`).
use std::time::Instant;

use touchpoint_sim::{benchmark, simulate, SimParams, SCENARIO_NAMES};

#[test]
#[ignore = "timing: run by hand in release mode"]
fn baseline_with_a_million_people_in_under_ten_seconds() {
    let p = SimParams { people: 1_000_000, seed: 1, ..SimParams::scenario("baseline").unwrap() };
    let start = Instant::now();
    let sim = simulate(&p).unwrap();
    let secs = start.elapsed().as_secs_f64();
    let conversions: f64 = sim.journeys.conversions().iter().sum();
    println!(
        "baseline, 1,000,000 people, one thread: {secs:.2} s, {} journeys, {} touches, {conversions} conversions in journeys",
        sim.journeys.len(),
        sim.journeys.touch_count()
    );
    assert!(secs < 10.0, "{secs} s");
}

#[test]
#[ignore = "prints the benchmark table: run by hand"]
fn print_benchmark_table() {
    let rows = benchmark(&SCENARIO_NAMES, 20_000, 1, &[]).unwrap();
    let f = |x: Option<f64>| x.map_or("-".to_owned(), |v| format!("{v:.3}"));
    println!("scenario        kpi                model                 tv_shap tv_rem  rho_shap rho_rem social_err");
    for r in rows {
        println!(
            "{:<15} {:<18} {:<20} {:>7} {:>7} {:>8} {:>7} {:>10}",
            r.scenario,
            r.kpi,
            r.model,
            f(r.tv_shapley),
            f(r.tv_removal),
            f(r.spearman_shapley),
            f(r.spearman_removal),
            f(r.social_share_error)
        );
    }
}
