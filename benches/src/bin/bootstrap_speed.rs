//! Bootstrap speed (`make bench`): 200 resamples of every rule-based model on the criterion bench's 10M
//! journeys (timed, mean 4 touches, 12 channels), and 200 resamples of Markov order 1 on a path table
//! (the 1M-journey table of `benches/peer_markov.py`, passed as the first argument), each against the
//! point estimate measured in the same run, and 200 resamples of people for the additive-hazard model
//! on the simulator's baseline scenario (100,000 people). Medians of `--repeat` runs (default 3).
//!
//! `target/release/bootstrap_speed [paths.csv] [--repeat N]`
use std::time::Instant;

use touchpoint_benches::journeys;
use touchpoint_core::{
    attribute, attribute_with_intervals, Dimension, Journeys, JourneysBuilder, ModelSpec, Resampling,
    Unattended, Weights,
};

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn time(repeat: usize, mut f: impl FnMut()) -> f64 {
    median(
        (0..repeat)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

/// A ChannelAttribution path table: `path,total_conversions,total_conversion_value,total_null`.
fn read_paths(file: &str) -> Journeys {
    let text = std::fs::read_to_string(file).expect("a readable path table");
    let mut b = JourneysBuilder::new(&[]);
    for (i, line) in text.lines().enumerate().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let path: Vec<&str> = f[0].split('>').map(str::trim).collect();
        let num = |k: usize| f[k].trim().parse::<f64>().expect("a number");
        b.push_path(
            i + 1,
            "conversions",
            &path,
            Weights { conversions: num(1), value: num(2), nulls: num(3) },
        )
        .expect("a valid row");
    }
    b.build()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let repeat =
        args.iter().position(|a| a == "--repeat").map_or(3, |i| args[i + 1].parse().expect("a count"));
    let table = args.first().filter(|a| !a.starts_with("--"));
    let settings = Resampling { level: 0.9, resamples: 200, seed: 0 };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("bootstrap speed: 200 resamples, {threads} threads, median of {repeat} runs");

    let rules: Vec<ModelSpec> = [
        r#"{"model":"first_touch"}"#,
        r#"{"model":"last_touch"}"#,
        r#"{"model":"last_non_direct","direct":["channel_00"]}"#,
        r#"{"model":"linear"}"#,
        r#"{"model":"position_based"}"#,
        r#"{"model":"time_decay"}"#,
    ]
    .iter()
    .map(|s| ModelSpec::from_json(s).unwrap())
    .collect();
    let j = journeys(10_000_000, 12, 7, true, 1);
    let point = time(repeat, || {
        attribute(&j, &rules, Dimension::Channel).unwrap();
    });
    let boot = time(repeat, || {
        attribute_with_intervals(&j, &rules, Dimension::Channel, &settings, 0, &Unattended).unwrap();
    });
    println!(
        "10M journeys, 6 rule-based models: point estimate {point:.2} s; with 200 resamples {boot:.2} s \
         ({:.1}x the point estimate)",
        boot / point
    );
    drop(j);

    // The additive-hazard model refits on every resample of people (warm-started from the whole fit).
    let mut params = touchpoint_sim::SimParams::scenario("baseline").unwrap();
    params.people = 100_000;
    params.seed = 3;
    let sim = touchpoint_sim::simulate_with(&params, threads, &Unattended).unwrap();
    let hazard = vec![ModelSpec::from_name("additive_hazard").unwrap()];
    let point = time(repeat, || {
        attribute(&sim.journeys, &hazard, Dimension::Channel).unwrap();
    });
    let boot = time(repeat, || {
        attribute_with_intervals(&sim.journeys, &hazard, Dimension::Channel, &settings, 0, &Unattended)
            .unwrap();
    });
    println!(
        "baseline scenario, 100,000 people, additive_hazard: point estimate {point:.2} s; with 200 resamples of \
         people {boot:.2} s ({:.1}x)",
        boot / point
    );
    drop(sim);

    if let Some(file) = table {
        let j = read_paths(file);
        let markov = vec![ModelSpec::from_name("markov").unwrap()];
        let point = time(repeat, || {
            attribute(&j, &markov, Dimension::Channel).unwrap();
        });
        let boot = time(repeat, || {
            attribute_with_intervals(&j, &markov, Dimension::Channel, &settings, 0, &Unattended).unwrap();
        });
        println!(
            "{} distinct paths ({file}), markov order 1: point estimate {point:.3} s; with 200 resamples \
             {boot:.2} s ({:.1}x)",
            j.len(),
            boot / point
        );
    }
}
