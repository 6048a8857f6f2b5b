//! Each model on generated journeys already in a `Journeys` store (`make bench`).
//!
//! - rule-based models on 10M journeys, 4 touches on average (target: under 1 s each, single-threaded);
//! - `rate` Shapley, exact, 12 channels, on 10M journeys (target: under 2 s);
//! - Markov order 1 and 3 on 1M journeys over 12 channels;
//! - the simulator: `baseline` with 1M people, truths included, on one thread (target: under 10 s).
use criterion::{criterion_group, criterion_main, Criterion};
use touchpoint_benches::journeys;
use touchpoint_core::{attribute, Dimension, ModelSpec};

fn rule_based(c: &mut Criterion) {
    let j = journeys(10_000_000, 12, 7, true, 1);
    let mut g = c.benchmark_group("10M journeys");
    g.sample_size(10);
    for spec in [
        r#"{"model":"first_touch"}"#,
        r#"{"model":"last_touch"}"#,
        r#"{"model":"last_non_direct","direct":["channel_00"]}"#,
        r#"{"model":"linear"}"#,
        r#"{"model":"position_based"}"#,
        r#"{"model":"time_decay"}"#,
        r#"{"model":"shapley"}"#,
        r#"{"model":"shapley","game":"rate","exact":true}"#,
    ] {
        let spec = ModelSpec::from_json(spec).unwrap();
        g.bench_function(spec.long_label(), |b| {
            b.iter(|| attribute(&j, std::slice::from_ref(&spec), Dimension::Channel).unwrap())
        });
    }
    g.finish();
}

fn markov(c: &mut Criterion) {
    let j = journeys(1_000_000, 12, 20, false, 2);
    let mut g = c.benchmark_group("1M journeys");
    g.sample_size(10);
    for order in [1, 3] {
        let spec = ModelSpec::from_json(&format!(r#"{{"model":"markov","order":{order}}}"#)).unwrap();
        g.bench_function(spec.long_label(), |b| {
            b.iter(|| attribute(&j, std::slice::from_ref(&spec), Dimension::Channel).unwrap())
        });
    }
    g.finish();
}

fn simulator(c: &mut Criterion) {
    let mut params = touchpoint_sim::SimParams::scenario("baseline").unwrap();
    params.people = 1_000_000;
    let mut g = c.benchmark_group("simulate");
    g.sample_size(10);
    g.bench_function("baseline, 1M people, 1 thread", |b| {
        b.iter(|| touchpoint_sim::simulate_with(&params, 1, &touchpoint_core::Unattended).unwrap())
    });
    g.finish();
}

criterion_group!(benches, rule_based, markov, simulator);
criterion_main!(benches);
