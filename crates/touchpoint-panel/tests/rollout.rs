//! Hand-computed cases, the treatment levels, clustering, determinism and every bad input.
use touchpoint_core::Unattended;
use touchpoint_panel::{
    rollout_effect, Comparison, Error, Ids, Levels, Panel, PanelRows, RolloutOptions, Treatment,
};

/// Rows of a balanced panel from per-unit outcome series and cohorts.
fn rows(series: &[(&[f64], Option<i64>)]) -> PanelRows {
    let mut r = PanelRows::new(Ids::Int(vec![]), vec![], vec![], Treatment::Cohort(vec![]));
    for (u, (ys, g)) in series.iter().enumerate() {
        for (t, y) in ys.iter().enumerate() {
            let Ids::Int(units) = &mut r.unit else { unreachable!() };
            units.push(u as i64 + 1);
            r.time.push(t as i64 + 1);
            r.outcome.push(*y);
            let Treatment::Cohort(c) = &mut r.treatment else { unreachable!() };
            c.push(*g);
        }
    }
    r
}

/// The simulated programme's value per employee-week as panel rows.
fn programme_rows(sim: &touchpoint_sim::Programme) -> PanelRows {
    PanelRows::new(
        Ids::Int(sim.rows.iter().map(|r| r.employee as i64).collect()),
        sim.rows.iter().map(|r| r.week).collect(),
        sim.rows.iter().map(|r| r.value).collect(),
        Treatment::Cohort(sim.rows.iter().map(|r| (r.cohort > 0).then_some(r.cohort)).collect()),
    )
}

fn no_bootstrap() -> RolloutOptions {
    RolloutOptions { bootstrap: 0, ..RolloutOptions::default() }
}

/// Two cohorts, never-treated units, three periods, computed by hand.
#[test]
fn hand_computed_cells_and_aggregates() {
    let r = rows(&[
        (&[1.0, 2.0, 7.0], Some(3)), // cohort 3: change 2->3 is +5
        (&[0.0, 1.0, 5.0], Some(3)), // +4
        (&[2.0, 6.0, 9.0], Some(2)), // cohort 2: 1->2 +4, 1->3 +7
        (&[0.0, 1.0, 2.0], None),    // never: +1, +1 (1->2), +2 (1->3)
        (&[3.0, 4.0, 6.0], None),    // +1, +2, +3
    ]);
    let panel = Panel::from_rows(&r).unwrap();
    let res = rollout_effect(&panel, &no_bootstrap(), &Unattended).unwrap();
    let cell = |g: i64, t: i64| res.group_time.iter().find(|c| c.cohort == g && c.time == t).unwrap();
    // Cohort 2, period 2 (base 1): 4 - mean(1, 1) = 3; period 3 (base 1): 7 - mean(2, 3) = 4.5.
    assert!((cell(2, 2).effect - 3.0).abs() < 1e-12);
    assert!((cell(2, 3).effect - 4.5).abs() < 1e-12);
    // Cohort 3, period 2 (pre, base 1): mean(1, 1) - mean(1, 1) = 0; period 3 (base 2): 4.5 - mean(1, 2) = 3.
    assert!((cell(3, 2).effect - 0.0).abs() < 1e-12);
    assert!((cell(3, 3).effect - 3.0).abs() < 1e-12);
    assert_eq!(cell(3, 2).base, 1);
    assert_eq!(cell(3, 3).base, 2);
    // simple: cohort shares 1/5 and 2/5 over the post cells (2,2), (2,3), (3,3).
    let simple = res.aggregates.iter().find(|a| a.aggregation == "simple").unwrap();
    let want = (0.2 * 3.0 + 0.2 * 4.5 + 0.4 * 3.0) / (0.2 + 0.2 + 0.4);
    assert!((simple.effect - want).abs() < 1e-12);
    // event 0: cells (2,2) and (3,3), weights 1/5 and 2/5.
    let e0 = res.aggregates.iter().find(|a| a.aggregation == "event" && a.at == Some(0)).unwrap();
    assert!((e0.effect - (0.2 * 3.0 + 0.4 * 3.0) / 0.6).abs() < 1e-12);
    // group overall: cohort 2's mean 3.75 and cohort 3's 3, weighted 1:2.
    let group = res.aggregates.iter().find(|a| a.aggregation == "group" && a.at.is_none()).unwrap();
    assert!((group.effect - (3.75 + 2.0 * 3.0) / 3.0).abs() < 1e-12);
    // The standard error of a cell: the norm of its influence function over units, over n.
    // Cell (2,2): treated IF (4 - 4)/(1/3) = 0; comparison units -(1 - 1)/(2/3) = 0 each: se 0 -> NaN.
    assert!(cell(2, 2).se.is_nan());
    // Cell (2,3): m = 3 units (scale n/m = 5/3); treated 0; comparison -(2 - 2.5)/(2/3), -(3 - 2.5)/(2/3).
    let v: f64 = 0.5 / (2.0 / 3.0) * 5.0 / 3.0;
    assert!((cell(2, 3).se - (2.0 * v * v).sqrt() / 5.0).abs() < 1e-12);
}

/// The not-yet-treated comparison adds later cohorts before they are treated, and says which
/// cells have no comparison unit left.
#[test]
fn not_yet_treated_uses_later_cohorts_and_names_cells_without_comparison() {
    let r = rows(&[
        (&[0.0, 2.0, 3.0, 4.0], Some(2)),
        (&[0.0, 1.0, 5.0, 6.0], Some(3)),
        (&[0.0, 1.0, 2.0, 8.0], Some(4)),
    ]);
    let panel = Panel::from_rows(&r).unwrap();
    let never = rollout_effect(&panel, &no_bootstrap(), &Unattended);
    assert!(matches!(never, Err(Error::NoComparison(ref m)) if m.contains("not_yet")), "{never:?}");
    let options = RolloutOptions { comparison: Comparison::NotYetTreated, ..no_bootstrap() };
    let res = rollout_effect(&panel, &options, &Unattended).unwrap();
    // Cohort 2 at period 2 against cohorts 3 and 4 (both untreated at 2): 2 - 1 = 1.
    let c = res.group_time.iter().find(|c| c.cohort == 2 && c.time == 2).unwrap();
    assert!((c.effect - 1.0).abs() < 1e-12);
    assert_eq!(c.comparison_units, 2);
    // Cohort 2 at period 3 against cohort 4 only: (3 - 0) - (2 - 0) = 1.
    let c = res.group_time.iter().find(|c| c.cohort == 2 && c.time == 3).unwrap();
    assert!((c.effect - 1.0).abs() < 1e-12);
    // Period 4: nobody is untreated.
    assert!(res.group_time.iter().all(|c| c.time != 4));
    assert!(
        res.warnings.iter().any(|w| w.contains("no comparison unit") && w.contains("(2, 4)")),
        "{:?}",
        res.warnings
    );
}

/// Levels (belts): the effect of reaching level 2, on units that reach it, against units that
/// have not; a jump from 0 to 2 reaches both levels at once.
#[test]
fn levels_are_successive_treatments() {
    let mut r = rows(&[
        (&[0.0, 0.0, 1.0, 4.0], None),
        (&[0.0, 0.0, 1.0, 1.0], None),
        (&[0.0, 0.0, 0.0, 0.0], None),
        (&[0.0, 0.0, 0.0, 0.0], None),
    ]);
    r.treatment = Treatment::Level(vec![
        0, 0, 1, 2, /* */ 0, 0, 1, 1, /* */ 0, 0, 0, 0, /* */ 0, 0, 0, 0,
    ]);
    let panel = Panel::from_rows(&r).unwrap();
    assert_eq!(panel.levels(), 2);
    let res = rollout_effect(&panel, &no_bootstrap(), &Unattended).unwrap();
    // Level 1: cohort 3 (units 1, 2): at period 3, 1 - 0 = 1.
    let l1 = res.group_time.iter().find(|c| c.level == 1 && c.cohort == 3 && c.time == 3).unwrap();
    assert!((l1.effect - 1.0).abs() < 1e-12);
    // Level 2: cohort 4 (unit 1) against units 2-4 (never at level 2): (4 - 1) - mean(0, 0, 0) = 3.
    let l2 = res.group_time.iter().find(|c| c.level == 2 && c.cohort == 4 && c.time == 4).unwrap();
    assert!((l2.effect - 3.0).abs() < 1e-12);
    assert!(res.warnings.iter().any(|w| w.contains("level 2: cohort 4 has 1 unit")));

    r.treatment = Treatment::Level(vec![0, 0, 2, 2, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    let panel = Panel::from_rows(&r).unwrap();
    assert_eq!(panel.cohorts[0][0], Some(2));
    assert_eq!(panel.cohorts[1][0], Some(2));
}

/// Each unit its own cluster gives the unclustered standard errors (through the dense path, where
/// the unclustered run takes the grouped one); bootstrap bands are the same
/// for a seed whatever the number of threads, and change with the seed.
#[test]
fn clusters_and_determinism() {
    let sim = touchpoint_sim::programme(&touchpoint_sim::ProgrammeParams {
        employees: 300,
        weeks: 20,
        waves: vec![6, 12],
        ..Default::default()
    })
    .unwrap();
    let mut r = programme_rows(&sim);
    let plain =
        rollout_effect(&Panel::from_rows(&r).unwrap(), &RolloutOptions::default(), &Unattended).unwrap();
    r.cluster = Some(Ids::Text(sim.rows.iter().map(|r| format!("c{}", r.employee)).collect()));
    let own =
        rollout_effect(&Panel::from_rows(&r).unwrap(), &RolloutOptions::default(), &Unattended).unwrap();
    for (a, b) in plain.group_time.iter().zip(&own.group_time) {
        assert!((a.se - b.se).abs() <= 1e-9 * a.se.abs() || a.se.is_nan() && b.se.is_nan());
    }
    // Ten teams: standard errors change, estimates do not.
    r.cluster = Some(Ids::Int(sim.rows.iter().map(|r| (r.employee % 10) as i64).collect()));
    let teams =
        rollout_effect(&Panel::from_rows(&r).unwrap(), &RolloutOptions::default(), &Unattended).unwrap();
    assert_eq!(teams.clusters, 10);
    assert!(plain
        .group_time
        .iter()
        .zip(&teams.group_time)
        .all(|(a, b)| (a.effect - b.effect).abs() <= 1e-9 * (1.0 + a.effect.abs())));
    assert!(plain.group_time.iter().zip(&teams.group_time).any(|(a, b)| (a.se - b.se).abs() > 1e-6));

    r.cluster = None;
    let panel = Panel::from_rows(&r).unwrap();
    let run = |threads: usize, seed: u64| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            rollout_effect(&panel, &RolloutOptions { seed, ..RolloutOptions::default() }, &Unattended)
                .unwrap()
        })
    };
    let one = run(1, 5);
    let two = run(2, 5);
    let other = run(2, 6);
    let bands =
        |r: &touchpoint_panel::RolloutEffect| r.group_time.iter().map(|c| c.lower).collect::<Vec<_>>();
    assert_eq!(bands(&one), bands(&two));
    assert_ne!(bands(&one), bands(&other));
}

#[test]
fn bad_input_is_a_typed_error_naming_the_value() {
    let good = || rows(&[(&[1.0, 2.0, 3.0], Some(3)), (&[1.0, 2.0, 3.0], None)]);
    // Duplicated (unit, period).
    let mut r = good();
    r.time[1] = 1;
    let e = Panel::from_rows(&r).unwrap_err();
    assert!(matches!(e, Error::Duplicate { period, first: 1, second: 2, .. } if period.value == 1), "{e}");
    assert!(e.to_string().contains("unit 1 has two rows for period 1 (rows 1 and 2)"));
    // Unbalanced: a missing row.
    let mut r = good();
    let Ids::Int(u) = &mut r.unit else { unreachable!() };
    u.pop();
    r.time.pop();
    r.outcome.pop();
    let Treatment::Cohort(c) = &mut r.treatment else { unreachable!() };
    c.pop();
    let e = Panel::from_rows(&r).unwrap_err();
    assert!(matches!(e, Error::Unbalanced { period, missing: 1, .. } if period.value == 3), "{e}");
    // Treated before (or at) the first period.
    let r = rows(&[(&[1.0, 2.0, 3.0], Some(1)), (&[1.0, 2.0, 3.0], None)]);
    assert!(
        matches!(Panel::from_rows(&r), Err(Error::TreatedBeforePanel { cohort, first, .. }) if cohort.value == 1 && first.value == 1)
    );
    // A cohort that is not a period.
    let mut r = good();
    r.time = vec![1, 2, 4, 1, 2, 4];
    let e = Panel::from_rows(&r).unwrap_err();
    assert!(
        matches!(e, Error::CohortNotPeriod { cohort, before, after, .. } if (cohort.value, before.value, after.value) == (3, 2, 4)),
        "{e}"
    );
    // A cohort after the last period: never treated within the panel, said.
    let r = rows(&[(&[1.0, 2.0, 3.0], Some(9)), (&[1.0, 2.0, 3.0], Some(2))]);
    let p = Panel::from_rows(&r).unwrap();
    assert_eq!(p.cohorts[0][0], None);
    assert!(p.warnings[0].contains("after the panel's last period 3"));
    // A cohort that changes within a unit.
    let mut r = good();
    let Treatment::Cohort(c) = &mut r.treatment else { unreachable!() };
    c[2] = Some(2);
    assert!(matches!(Panel::from_rows(&r), Err(Error::VariesWithinUnit { .. })));
    // A treatment that reverts.
    let mut r = good();
    r.treatment = Treatment::Level(vec![0, 1, 0, 0, 0, 0]);
    let e = Panel::from_rows(&r).unwrap_err();
    assert!(
        matches!(e, Error::Reverts { from: 1, from_period, to: 0, to_period, .. } if (from_period.value, to_period.value) == (2, 3)),
        "{e}"
    );
    // A non-finite outcome, named by row.
    let mut r = good();
    r.outcome[4] = f64::NAN;
    assert!(matches!(Panel::from_rows(&r), Err(Error::Value { row: 5, .. })), "rows count from 1");
    // No comparison units at all: every unit treated at once.
    let r = rows(&[(&[1.0, 2.0, 3.0], Some(2)), (&[1.0, 2.0, 3.0], Some(2))]);
    let options = RolloutOptions { comparison: Comparison::NotYetTreated, ..no_bootstrap() };
    let e = rollout_effect(&Panel::from_rows(&r).unwrap(), &options, &Unattended).unwrap_err();
    assert!(matches!(e, Error::NoComparison(_)), "{e}");
    // Options.
    for (level, boot) in [(1.0, 999), (0.0, 999), (0.9, 10)] {
        let o = RolloutOptions { level, bootstrap: boot, ..RolloutOptions::default() };
        assert!(matches!(o.validate(), Err(Error::InvalidOption { .. })));
    }
}

/// Dates are shown as dates in messages; levels are numbered by their values (10, 20), not 1..20;
/// too many cells is a clear error, not an exhausted memory.
#[test]
fn dates_in_messages_level_values_and_limits() {
    let mut r = rows(&[(&[1.0, 2.0, 3.0], Some(20_456)), (&[1.0, 2.0, 3.0], None)]);
    r.time = vec![20_454, 20_455, 20_457, 20_454, 20_455, 20_457];
    r.dates = true;
    let e = Panel::from_rows(&r).unwrap_err().to_string();
    assert!(e.contains("cohort 2026-01-03") && e.contains("2026-01-02") && e.contains("2026-01-04"), "{e}");

    let mut r = rows(&[(&[0.0, 0.0, 1.0], None), (&[0.0, 0.0, 0.0], None), (&[0.0, 1.0, 1.0], None)]);
    r.treatment = Treatment::Level(vec![0, 10, 20, 0, 0, 0, 0, 10, 10]);
    let p = Panel::from_rows(&r).unwrap();
    assert_eq!(p.level_values, vec![10, 20]);
    let res = rollout_effect(&p, &no_bootstrap(), &Unattended).unwrap();
    let levels: std::collections::BTreeSet<i64> = res.group_time.iter().map(|c| c.level).collect();
    assert_eq!(levels.into_iter().collect::<Vec<_>>(), vec![10, 20]);

    let mut r = rows(&[(&[0.0, 0.0], None)]);
    r.treatment = Treatment::Level((0..2).map(|i| i * 5_000_000_000_000_000).collect());
    // A huge level value is one level, not a vector of 5e18 levels.
    assert_eq!(Panel::from_rows(&r).unwrap().level_values, vec![5_000_000_000_000_000]);

    // 70 cohorts x 70 periods: 4,830 cells, refused.
    let series: Vec<(Vec<f64>, Option<i64>)> =
        (0..80).map(|u| (vec![0.0; 70], if u < 70 { Some(u as i64 + 2) } else { None })).collect();
    let refs: Vec<(&[f64], Option<i64>)> = series.iter().map(|(y, g)| (y.as_slice(), *g)).collect();
    let p = Panel::from_rows(&rows(&refs)).unwrap();
    let e = rollout_effect(&p, &no_bootstrap(), &Unattended).unwrap_err();
    assert!(matches!(e, Error::TooLarge(ref m) if m.contains("group-time cells")), "{e}");
}

/// A cell whose treated share reaches the doubly robust estimator's trimming level is left out
/// and named, never a NaN in the aggregates; covariates in millions are not "singular".
#[test]
fn trimmed_cells_and_covariate_scale() {
    // Cohort 3 with 400 units against 1 never-treated unit: treated share 0.9975.
    let mut series: Vec<(Vec<f64>, Option<i64>)> =
        (0..400).map(|u| (vec![u as f64, u as f64 + 1.0, u as f64 + 3.0], Some(3))).collect();
    series.push((vec![0.0, 1.0, 2.0], None));
    // And cohort 2 with 3 units, estimable.
    for u in 0..3 {
        series.push((vec![u as f64, u as f64 + 4.0, u as f64 + 5.0], Some(2)));
    }
    let refs: Vec<(&[f64], Option<i64>)> = series.iter().map(|(y, g)| (y.as_slice(), *g)).collect();
    let p = Panel::from_rows(&rows(&refs)).unwrap();
    for force in [false, true] {
        let res = if force {
            // The dense path: a cluster per unit.
            let mut r = rows(&refs);
            let Ids::Int(u) = &r.unit else { unreachable!() };
            r.cluster = Some(Ids::Int(u.clone()));
            rollout_effect(&Panel::from_rows(&r).unwrap(), &no_bootstrap(), &Unattended).unwrap()
        } else {
            rollout_effect(&p, &no_bootstrap(), &Unattended).unwrap()
        };
        assert!(res.group_time.iter().all(|c| c.cohort == 2), "{:?}", res.group_time);
        assert!(res.aggregates.iter().all(|a| a.effect.is_finite()));
        assert!(
            res.warnings.iter().any(|w| w.contains("(3, 2)") && w.contains("trimmed")),
            "{:?}",
            res.warnings
        );
    }

    // A covariate times 1e7 gives the same estimates (its pivot is judged against its own scale).
    let scaled = |k: f64| {
        let sim = touchpoint_sim::programme(&touchpoint_sim::ProgrammeParams {
            employees: 300,
            weeks: 10,
            waves: vec![4, 7],
            ..Default::default()
        })
        .unwrap();
        let rows = PanelRows {
            covariates: vec![(
                "size".into(),
                sim.rows.iter().map(|r| k * ((r.employee * 7919) % 101) as f64).collect(),
            )],
            ..programme_rows(&sim)
        };
        rollout_effect(&Panel::from_rows(&rows).unwrap(), &no_bootstrap(), &Unattended).unwrap()
    };
    let (a, b) = (scaled(1.0), scaled(1e7));
    assert_eq!(a.group_time.len(), b.group_time.len());
    for (x, y) in a.group_time.iter().zip(&b.group_time) {
        assert!((x.effect - y.effect).abs() < 1e-6 * (1.0 + x.effect.abs()), "{} vs {}", x.effect, y.effect);
    }
}

/// A treated cohort that already grew faster before its treatment: the leads' bands exclude zero
/// and the warning names them; parallel units give no such warning.
#[test]
fn pre_trends_are_warned() {
    let series: Vec<(Vec<f64>, Option<i64>)> = (0..40)
        .map(|u| {
            let noise = |t: usize| ((u * 31 + t * 17) % 7) as f64 * 0.01;
            let slope = if u < 20 { 3.0 } else { 1.0 };
            ((0..5).map(|t| slope * t as f64 + noise(t)).collect(), if u < 20 { Some(4) } else { None })
        })
        .collect();
    let refs: Vec<(&[f64], Option<i64>)> = series.iter().map(|(y, g)| (y.as_slice(), *g)).collect();
    let res =
        rollout_effect(&Panel::from_rows(&rows(&refs)).unwrap(), &RolloutOptions::default(), &Unattended)
            .unwrap();
    assert!(
        res.warnings
            .iter()
            .any(|w| w.contains("pre-treatment effects at event time(s) -2, -1")
                && w.contains("parallel trends")),
        "{:?}",
        res.warnings
    );
    let parallel: Vec<(Vec<f64>, Option<i64>)> = series
        .iter()
        .enumerate()
        .map(|(u, (y, g))| {
            (y.iter().enumerate().map(|(t, v)| v - if u < 20 { 2.0 * t as f64 } else { 0.0 }).collect(), *g)
        })
        .collect();
    let refs: Vec<(&[f64], Option<i64>)> = parallel.iter().map(|(y, g)| (y.as_slice(), *g)).collect();
    let res =
        rollout_effect(&Panel::from_rows(&rows(&refs)).unwrap(), &RolloutOptions::default(), &Unattended)
            .unwrap();
    assert!(!res.warnings.iter().any(|w| w.contains("parallel trends")), "{:?}", res.warnings);
}

/// The step to level 2, by hand: among the units that reached level 1 in period 3, the one that
/// reaches level 2 in period 4 against the one that stays at level 1; reaching level 2 compares
/// with every unit below it instead.
#[test]
fn step_to_a_level_compares_within_the_level_below() {
    let mut r = rows(&[
        (&[0.0, 0.0, 1.0, 4.0], None),
        (&[0.0, 0.0, 1.0, 2.0], None),
        (&[0.0, 0.0, 0.0, 0.0], None),
        (&[0.0, 1.0, 1.0, 1.0], None),
    ]);
    r.treatment = Treatment::Level(vec![
        0, 0, 1, 2, /* */ 0, 0, 1, 1, /* */ 0, 0, 0, 0, /* */ 0, 0, 0, 0,
    ]);
    let panel = Panel::from_rows(&r).unwrap();
    let reached = rollout_effect(&panel, &no_bootstrap(), &Unattended).unwrap();
    let step =
        rollout_effect(&panel, &RolloutOptions { levels: Levels::Step, ..no_bootstrap() }, &Unattended)
            .unwrap();
    let cell = |res: &touchpoint_panel::RolloutEffect, level: i64| {
        res.group_time.iter().filter(|c| c.level == level).cloned().collect::<Vec<_>>()
    };
    // Reaching level 2: (4 - 1) - mean(1, 0, 0) = 8/3, with pre-period cells from period 2 on.
    let r2 = cell(&reached, 2);
    assert_eq!(r2.len(), 3);
    assert!((r2.iter().find(|c| c.time == 4).unwrap().effect - 8.0 / 3.0).abs() < 1e-12);
    // The step: (4 - 1) - (2 - 1) = 2, against unit 2 only; the stratum starts in period 3, so the
    // one cell is period 4 (a pre-period cell would need two periods at level 1).
    let s2 = cell(&step, 2);
    assert_eq!(s2.len(), 1, "{s2:?}");
    assert!((s2[0].effect - 2.0).abs() < 1e-12);
    assert_eq!((s2[0].previous_cohort, s2[0].comparison_units, s2[0].treated_units), (Some(3), 1, 1));
    // Level 1 is the same in both.
    assert_eq!(format!("{:?}", cell(&reached, 1)), format!("{:?}", cell(&step, 1)));

    // Every unit of the stratum steps up: nothing to compare with the never comparison.
    r.treatment = Treatment::Level(vec![0, 0, 1, 2, 0, 0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0]);
    let panel = Panel::from_rows(&r).unwrap();
    let err = rollout_effect(&panel, &RolloutOptions { levels: Levels::Step, ..no_bootstrap() }, &Unattended)
        .unwrap_err();
    assert!(err.to_string().contains("goes on to level 2") && err.to_string().contains("not_yet"), "{err}");
    // Jumping from 0 to 2 leaves the unit out of the step, with a warning.
    r.treatment = Treatment::Level(vec![0, 0, 1, 2, 0, 0, 1, 1, 0, 0, 2, 2, 0, 0, 0, 0]);
    let panel = Panel::from_rows(&r).unwrap();
    let res = rollout_effect(&panel, &RolloutOptions { levels: Levels::Step, ..no_bootstrap() }, &Unattended)
        .unwrap();
    assert!(res.warnings.iter().any(|w| w.contains("1 unit(s) reached levels 1 and 2 in the same period")));
    let s2 = cell(&res, 2);
    assert_eq!((s2.len(), s2[0].comparison_units), (1, 1));
}

/// The step estimand is the plain estimator run on each stratum alone: every cell (effect and
/// standard error) of the step to level 2 equals the cell of the rollout, on the units that
/// reached level 1 in that period and the periods from then on, with their level-2 cohort as the
/// treatment; on the grouped path and, with a covariate, on the doubly robust one.
#[test]
fn step_equals_the_rollout_within_each_stratum() {
    let sim = touchpoint_sim::programme(&touchpoint_sim::ProgrammeParams {
        employees: 1_500,
        seed: 4,
        second_waves: vec![29, 37, 45],
        ..Default::default()
    })
    .unwrap();
    let weeks = sim.params.weeks as i64;
    for covariate in [false, true] {
        let mut all = PanelRows::new(
            Ids::Int(sim.rows.iter().map(|r| r.employee as i64).collect()),
            sim.rows.iter().map(|r| r.week).collect(),
            sim.rows.iter().map(|r| r.value).collect(),
            Treatment::Level(sim.rows.iter().map(|r| r.level).collect()),
        );
        // A time-invariant covariate: the employee's first-week shares.
        let first: Vec<f64> = sim
            .rows
            .iter()
            .map(|r| sim.rows[(r.employee as usize - 1) * weeks as usize].shares as f64)
            .collect();
        if covariate {
            all.covariates.push(("first".into(), first.clone()));
        }
        let step = rollout_effect(
            &Panel::from_rows(&all).unwrap(),
            &RolloutOptions { levels: Levels::Step, ..no_bootstrap() },
            &Unattended,
        )
        .unwrap();
        let mut compared = 0;
        for s in sim.params.waves.clone() {
            // The stratum: units first trained in week s; their level-2 cohort from their rows.
            let second: std::collections::HashMap<u64, i64> = sim
                .rows
                .iter()
                .filter(|r| r.cohort == s && r.level == 2)
                .fold(std::collections::HashMap::new(), |mut m, r| {
                    m.entry(r.employee).or_insert(r.week);
                    m
                });
            let keep: Vec<usize> =
                (0..sim.rows.len()).filter(|&i| sim.rows[i].cohort == s && sim.rows[i].week >= s).collect();
            let mut sub = PanelRows::new(
                Ids::Int(keep.iter().map(|&i| sim.rows[i].employee as i64).collect()),
                keep.iter().map(|&i| sim.rows[i].week).collect(),
                keep.iter().map(|&i| sim.rows[i].value).collect(),
                Treatment::Cohort(keep.iter().map(|&i| second.get(&sim.rows[i].employee).copied()).collect()),
            );
            if covariate {
                sub.covariates.push(("first".into(), keep.iter().map(|&i| first[i]).collect()));
            }
            let Ok(plain) = rollout_effect(&Panel::from_rows(&sub).unwrap(), &no_bootstrap(), &Unattended)
            else {
                continue;
            };
            for c in &plain.group_time {
                let d = step
                    .group_time
                    .iter()
                    .find(|x| {
                        x.level == 2
                            && x.previous_cohort == Some(s)
                            && x.cohort == c.cohort
                            && x.time == c.time
                    })
                    .unwrap_or_else(|| panic!("stratum {s}: no step cell for {c:?}"));
                assert!((d.effect - c.effect).abs() < 1e-9 * (1.0 + c.effect.abs()), "{d:?} vs {c:?}");
                assert!((d.se - c.se).abs() < 1e-9 * (1.0 + c.se), "{d:?} vs {c:?}");
                assert_eq!(
                    (d.base, d.treated_units, d.comparison_units),
                    (c.base, c.treated_units, c.comparison_units)
                );
                compared += 1;
            }
            assert_eq!(
                step.group_time.iter().filter(|x| x.level == 2 && x.previous_cohort == Some(s)).count(),
                plain.group_time.len()
            );
        }
        assert!(compared > 50, "{compared} cells compared");
    }
}

/// A unit that skips a level (1 to 3) never held level 2 alone: the step to level 2 leaves it out,
/// with a warning. And a cohort's row of `by_cohort` under the step is its strata's post-treatment
/// means weighted by their sizes, computed here by hand from the cells.
#[test]
fn step_leaves_out_skipped_levels_and_weights_strata_by_size() {
    let mut r = rows(&[
        (&[0.0, 0.0, 1.0, 4.0, 5.0], None),
        (&[0.0, 0.0, 1.0, 2.0, 2.0], None),
        (&[0.0, 0.0, 1.0, 9.0, 9.0], None),
        (&[0.0, 0.0, 0.0, 0.0, 1.0], None),
    ]);
    r.treatment = Treatment::Level(vec![
        0, 0, 1, 2, 2, /* */ 0, 0, 1, 1, 1, /* */ 0, 0, 1, 3, 3, /* */ 0, 0, 0, 0, 0,
    ]);
    let panel = Panel::from_rows(&r).unwrap();
    let res = rollout_effect(&panel, &RolloutOptions { levels: Levels::Step, ..no_bootstrap() }, &Unattended)
        .unwrap();
    assert!(
        res.warnings
            .iter()
            .any(|w| w.contains("level 2: 1 unit(s) reached levels 2 and 3 in the same period")),
        "{:?}",
        res.warnings
    );
    let l2: Vec<_> = res.group_time.iter().filter(|c| c.level == 2).collect();
    assert!(l2.iter().all(|c| c.treated_units == 1 && c.comparison_units == 1), "{l2:?}");
    // Period 4: (4 - 1) - (2 - 1) = 2; period 5: (5 - 1) - (2 - 1) = 3.
    assert!((l2.iter().find(|c| c.time == 4).unwrap().effect - 2.0).abs() < 1e-12);
    assert!((l2.iter().find(|c| c.time == 5).unwrap().effect - 3.0).abs() < 1e-12);

    // Strata by hand on the simulated two-belt programme.
    let sim = touchpoint_sim::programme(&touchpoint_sim::ProgrammeParams {
        employees: 2_000,
        seed: 9,
        second_waves: vec![29, 37, 45],
        ..Default::default()
    })
    .unwrap();
    let mut two = programme_rows(&sim);
    two.treatment = Treatment::Level(sim.rows.iter().map(|r| r.level).collect());
    let res = rollout_effect(
        &Panel::from_rows(&two).unwrap(),
        &RolloutOptions { levels: Levels::Step, ..no_bootstrap() },
        &Unattended,
    )
    .unwrap();
    let mut merged = 0;
    for row in res.aggregates.iter().filter(|a| a.level == 2 && a.aggregation == "group" && a.at.is_some()) {
        let g = row.at.unwrap();
        let post: Vec<_> =
            res.group_time.iter().filter(|c| c.level == 2 && c.cohort == g && c.event_time >= 0).collect();
        let mut strata: Vec<i64> = post.iter().map(|c| c.previous_cohort.unwrap()).collect();
        strata.sort_unstable();
        strata.dedup();
        merged += usize::from(strata.len() > 1);
        let (mut num, mut den) = (0.0, 0.0);
        for s in strata {
            let cells: Vec<_> = post.iter().filter(|c| c.previous_cohort == Some(s)).collect();
            let mean = cells.iter().map(|c| c.effect).sum::<f64>() / cells.len() as f64;
            num += cells[0].treated_units as f64 * mean;
            den += cells[0].treated_units as f64;
        }
        assert!((row.effect - num / den).abs() < 1e-9 * (1.0 + row.effect.abs()), "cohort {g}");
    }
    assert!(merged > 0, "some cohort spans several strata");
}
