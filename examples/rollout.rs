//! Did the advocacy training pay? A staggered rollout on the simulated programme.
//!
//! Employees are trained in five waves, the keenest first; training raises how often they share
//! and what each share is worth. The naive comparison (trained against untrained employee-weeks)
//! mixes the training's effect with who volunteered; the rollout estimator (Callaway & Sant'Anna
//! 2021) compares each wave with employees not trained, before and after, and recovers the truth.
//! Then a second belt: the step from belt 1 to belt 2, within the employees who took belt 1
//! together (`Levels::Step`).
//!
//! Run: `cargo run --release --example rollout` (or `make test`, which runs every example).
use std::error::Error;

use touchpoint::core::Unattended;
use touchpoint::panel::{
    rollout_effect, ColumnNames, Ids, Levels, Panel, PanelRows, RolloutOptions, Treatment,
};
use touchpoint_sim::{programme, ProgrammeParams};

fn main() -> Result<(), Box<dyn Error>> {
    let sim = programme(&ProgrammeParams { employees: 5_000, seed: 7, ..ProgrammeParams::default() })?;
    let mut rows = PanelRows::new(
        Ids::Int(sim.rows.iter().map(|r| r.employee as i64).collect()),
        sim.rows.iter().map(|r| r.week).collect(),
        sim.rows.iter().map(|r| r.value).collect(),
        Treatment::Cohort(sim.rows.iter().map(|r| (r.cohort > 0).then_some(r.cohort)).collect()),
    );
    rows.names = ColumnNames {
        unit: "employee".into(),
        time: "week".into(),
        outcome: "value".into(),
        ..ColumnNames::default()
    };
    let panel = Panel::from_rows(&rows)?;
    let result = rollout_effect(&panel, &RolloutOptions::default(), &Unattended)?;

    // The truth, aggregated as the estimator's `simple` aggregation is: post-training
    // cohort-weeks weighted by cohort size.
    let (num, den) = sim
        .truth
        .iter()
        .filter(|c| c.level == 1)
        .fold((0.0, 0.0), |(a, b), c| (a + c.value * c.employees as f64, b + c.employees as f64));
    let truth = num / den;
    println!("value per trained employee-week added by the training (money)");
    println!("{:<10} {:>9} {:>9} {:>9} {:>9}", "aggregation", "effect", "se", "lower", "upper");
    for a in result.aggregates.iter().filter(|a| a.at.is_none()) {
        println!("{:<10} {:>9.2} {:>9.2} {:>9.2} {:>9.2}", a.aggregation, a.effect, a.se, a.lower, a.upper);
    }
    let simple =
        result.aggregates.iter().find(|a| a.aggregation == "simple").expect("the simple aggregation");
    println!("truth      {truth:>9.2}");
    println!(
        "naive      {:>9.2}  (trained minus untrained employee-weeks: who volunteered, not only training)",
        sim.naive_value
    );
    assert!(simple.lower <= truth && truth <= simple.upper, "the interval holds the truth");
    assert!(sim.naive_value > simple.upper, "the naive comparison overstates the effect");

    println!("\nevent study (weeks since training): effect [simultaneous band]");
    for e in result
        .aggregates
        .iter()
        .filter(|a| a.aggregation == "event" && a.at.is_some_and(|e| (-3..=12).contains(&e)))
    {
        println!("{:>4} {:>9.2} [{:>8.2}, {:>8.2}]", e.at.unwrap_or(0), e.effect, e.lower, e.upper);
    }
    for w in &result.warnings {
        println!("warning: {w}");
    }

    // A second belt, taken at least 12 weeks after the first, the keener employees first again.
    let two = programme(&ProgrammeParams {
        employees: 5_000,
        seed: 7,
        second_waves: vec![29, 37, 45],
        ..ProgrammeParams::default()
    })?;
    rows.treatment = Treatment::Level(two.rows.iter().map(|r| r.level).collect());
    rows.outcome = two.rows.iter().map(|r| r.value).collect();
    rows.names.treatment = "level".into();
    let panel = Panel::from_rows(&rows)?;
    let step = rollout_effect(
        &panel,
        &RolloutOptions { levels: Levels::Step, ..RolloutOptions::default() },
        &Unattended,
    )?;
    let belt2 = step
        .aggregates
        .iter()
        .find(|a| a.level == 2 && a.aggregation == "simple")
        .expect("the step's simple aggregation");
    let (num, den) = two
        .truth
        .iter()
        .filter(|c| c.level == 2)
        .fold((0.0, 0.0), |(a, b), c| (a + c.value * c.employees as f64, b + c.employees as f64));
    println!(
        "\nbelt 2 over belt 1: step {:.2} [{:.2}, {:.2}], truth {:.2}, naive {:.2}",
        belt2.effect,
        belt2.pointwise_lower,
        belt2.pointwise_upper,
        num / den,
        two.naive_second_value
    );
    assert!(belt2.pointwise_lower <= num / den && num / den <= belt2.pointwise_upper);
    Ok(())
}
