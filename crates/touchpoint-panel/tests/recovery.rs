//! Recovery of a known programme effect: the simulated advocacy programme (keener employees
//! trained first, effects that build over weeks) against its exact truth.
use touchpoint_core::Unattended;
use touchpoint_panel::{rollout_effect, Ids, Panel, PanelRows, RolloutEffect, RolloutOptions, Treatment};
use touchpoint_sim::{programme, Programme, ProgrammeParams};

fn panel_of(sim: &Programme, value: bool) -> Panel {
    let rows = PanelRows::new(
        Ids::Int(sim.rows.iter().map(|r| r.employee as i64).collect()),
        sim.rows.iter().map(|r| r.week).collect(),
        sim.rows.iter().map(|r| if value { r.value } else { r.shares as f64 }).collect(),
        Treatment::Cohort(sim.rows.iter().map(|r| (r.cohort > 0).then_some(r.cohort)).collect()),
    );
    Panel::from_rows(&rows).unwrap()
}

/// The true value effect aggregated as the estimator aggregates: cohort-size weights over the
/// cells (cohort, week) whose event time satisfies `keep`.
fn truth_weighted(sim: &Programme, keep: impl Fn(i64) -> bool) -> f64 {
    let cells: Vec<_> = sim.truth.iter().filter(|c| keep(c.event_time)).collect();
    let w: f64 = cells.iter().map(|c| c.employees as f64).sum();
    cells.iter().map(|c| c.value * c.employees as f64).sum::<f64>() / w
}

fn overall<'a>(r: &'a RolloutEffect, aggregation: &str) -> &'a touchpoint_panel::AggregateRow {
    r.aggregates.iter().find(|a| a.aggregation == aggregation && a.at.is_none()).unwrap()
}

/// On one programme: every event time's simultaneous band holds the true effect, the leads' bands
/// hold zero, and the naive trained-versus-untrained comparison lies outside the interval of the
/// overall effect (it is biased by who volunteers first).
#[test]
fn event_study_bands_hold_the_truth_and_the_naive_comparison_does_not() {
    let sim =
        programme(&ProgrammeParams { employees: 3_000, seed: 11, ..ProgrammeParams::default() }).unwrap();
    let result = rollout_effect(
        &panel_of(&sim, true),
        &RolloutOptions { seed: 3, ..RolloutOptions::default() },
        &Unattended,
    )
    .unwrap();
    let mut checked = 0;
    for row in result.aggregates.iter().filter(|a| a.aggregation == "event" && a.at.is_some()) {
        let e = row.at.unwrap();
        let truth = if e < 0 { 0.0 } else { truth_weighted(&sim, |x| x == e) };
        assert!(
            row.lower <= truth && truth <= row.upper,
            "event time {e}: truth {truth} outside [{}, {}]",
            row.lower,
            row.upper
        );
        assert!(
            row.lower <= row.pointwise_lower + 1e-12,
            "a simultaneous band is at least as wide as the pointwise interval"
        );
        checked += 1;
    }
    assert!(checked > 40, "{checked} event times");
    let simple = overall(&result, "simple");
    let truth = truth_weighted(&sim, |e| e >= 0);
    assert!(simple.pointwise_lower <= truth && truth <= simple.pointwise_upper);
    assert!(
        sim.naive_value > simple.pointwise_upper,
        "naive {} should exceed the interval [{}, {}] around the truth {truth}",
        sim.naive_value,
        simple.pointwise_lower,
        simple.pointwise_upper
    );
    // The training raised shares too: the effect on activity is there, as simulated.
    let shares = rollout_effect(
        &panel_of(&sim, false),
        &RolloutOptions { bootstrap: 0, ..RolloutOptions::default() },
        &Unattended,
    )
    .unwrap();
    assert!(overall(&shares, "simple").pointwise_lower > 0.0);
}

/// Over 100 programmes, the 95% interval of the overall effect holds the truth in 90-99% of runs.
/// The interval is for the population's effect (its standard error counts the draw of employees),
/// so the truth is the effect in a programme of 100,000 employees, where the draw no longer
/// matters (cohorts are rank ranges of the same score distribution at any size).
#[test]
fn overall_interval_covers_over_100_seeds() {
    let population =
        programme(&ProgrammeParams { employees: 100_000, seed: 999_999, ..ProgrammeParams::default() })
            .unwrap();
    let truth = truth_weighted(&population, |e| e >= 0);
    let mut covered = 0;
    let runs = 100;
    for seed in 0..runs {
        let sim = programme(&ProgrammeParams { employees: 600, seed, ..ProgrammeParams::default() }).unwrap();
        let result = rollout_effect(
            &panel_of(&sim, true),
            &RolloutOptions { bootstrap: 0, ..RolloutOptions::default() },
            &Unattended,
        )
        .unwrap();
        let simple = overall(&result, "simple");
        covered += usize::from(simple.pointwise_lower <= truth && truth <= simple.pointwise_upper);
    }
    eprintln!("overall effect: {covered} of {runs} 95% intervals hold the truth");
    assert!((90..=99).contains(&covered), "{covered} of {runs} intervals hold the truth");
}
