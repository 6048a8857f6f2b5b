//! The additive-hazard model against the simulator: it recovers the generating parameters, conserves
//! every conversion of the period with its baseline, and a simulated lift test measures what the
//! scenario says.
use std::f64::consts::LN_2;

use touchpoint_core::{attribute, AdditiveHazard, Baseline, Dimension, LiftTest, ModelSpec, Values};
use touchpoint_sim::{lift_test, simulate, SimParams};

fn column(t: &touchpoint_core::Table, name: &str) -> Vec<Option<f64>> {
    match t.column(name).unwrap() {
        Values::Float(v) => v.clone(),
        other => panic!("{other:?}"),
    }
}

fn players(t: &touchpoint_core::Table) -> Vec<String> {
    match t.column("player").unwrap() {
        Values::Text(v) => v.clone(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn recovers_known_parameters_within_three_standard_errors() {
    // The baseline scenario is the model's own: independent channels, exponential kernels, a baseline
    // whose mean over people is the KPI's baseline (intent has mean 1).
    for seed in [3, 11] {
        let p = SimParams { people: 300_000, seed, ..SimParams::scenario("baseline").unwrap() };
        let sim = simulate(&p).unwrap();
        let spec =
            ModelSpec::AdditiveHazard(AdditiveHazard { baseline: Baseline::Constant, ..Default::default() });
        let r = attribute(&sim.journeys, &[spec], Dimension::Channel).unwrap();
        let t = r.tables.iter().find(|t| t.name == "hazard_parameters").unwrap();
        let (names, beta, beta_se, hl, hl_se) = (
            players(t),
            column(t, "beta"),
            column(t, "beta_se"),
            column(t, "half_life_days"),
            column(t, "half_life_se"),
        );
        let mut checked = 0;
        for c in &p.channels {
            let i = names.iter().position(|n| *n == c.name).unwrap();
            let truth_beta = c.lift["sales"] * c.half_life_days / LN_2;
            let (b, se) = (beta[i].unwrap(), beta_se[i].unwrap());
            assert!(
                (b - truth_beta).abs() < 3.0 * se,
                "seed {seed} {}: beta {b} ± {se} vs {truth_beta}",
                c.name
            );
            let (h, hse) = (hl[i].unwrap(), hl_se[i].unwrap());
            assert!(
                (h - c.half_life_days).abs() < 3.0 * hse,
                "seed {seed} {}: half-life {h} ± {hse} vs {}",
                c.name,
                c.half_life_days
            );
            checked += 1;
        }
        assert_eq!(checked, 8);
        let i = names.iter().position(|n| n == "(baseline)").unwrap();
        let (l0, se) = (column(t, "baseline_per_day")[i].unwrap(), column(t, "baseline_se")[i].unwrap());
        assert!((l0 - 0.002).abs() < 3.0 * se, "seed {seed}: baseline {l0} ± {se}");
    }
}

#[test]
fn credits_every_conversion_of_the_period_per_kpi() {
    let p = SimParams { people: 60_000, seed: 5, ..SimParams::scenario("social_care").unwrap() };
    let sim = simulate(&p).unwrap();
    let specs =
        [ModelSpec::AdditiveHazard(AdditiveHazard::default()), ModelSpec::from_name("linear").unwrap()];
    let r = attribute(&sim.journeys, &specs, Dimension::Channel).unwrap();
    for s in &r.summary {
        let credited: f64 = r
            .credits
            .iter()
            .filter(|c| c.model == "additive_hazard" && c.kpi == s.kpi)
            .map(|c| c.conversions)
            .sum();
        assert!(
            (credited - s.conversions).abs() < 1e-9 * s.conversions,
            "{}: {credited} vs {} (attributed {} + unattributed {})",
            s.kpi,
            s.conversions,
            s.attributed,
            s.unattributed
        );
        // The rule-based model credits only the attributed ones.
        let linear: f64 =
            r.credits.iter().filter(|c| c.model == "linear" && c.kpi == s.kpi).map(|c| c.conversions).sum();
        assert!((linear - s.attributed).abs() < 1e-9 * s.attributed);
        let truth_total: f64 = sim.truth.iter().filter(|t| t.kpi == s.kpi).map(|t| t.shapley).sum();
        assert!((truth_total - s.conversions).abs() < 1e-6 * s.conversions);
    }
}

#[test]
fn a_simulated_lift_test_measures_the_generating_effect() {
    // In selection_bias search's exposures ride on intent, but the holdout is randomised: it measures
    // search's true effect per exposure, lift * half-life / ln 2.
    let p = SimParams::scenario("selection_bias").unwrap();
    let m = lift_test(&p, "search", "sales", 400_000, 1).unwrap();
    let truth = 0.010 * 2.0 / LN_2;
    assert!((m.per_exposure - truth).abs() < 3.5 * m.se, "{} ± {} vs {truth}", m.per_exposure, m.se);
    assert!(m.se < 0.2 * truth, "{}", m.se);
    assert!(m.treated > 150_000 && m.control > 150_000);
    // Unknown names are typed errors.
    assert!(lift_test(&p, "tiktok", "sales", 1000, 1).unwrap_err().to_string().contains("tiktok"));
    assert!(lift_test(&p, "search", "hires", 1000, 1).unwrap_err().to_string().contains("hires"));
}

#[test]
fn lift_tests_pull_a_confounded_fit_to_the_truth() {
    // selection_bias: the observational fit over-credits search (intent drives both); fixing search's
    // and direct's effects at lift tests moves their credit toward the Shapley truth.
    let p = SimParams { people: 150_000, seed: 2, ..SimParams::scenario("selection_bias").unwrap() };
    let sim = simulate(&p).unwrap();
    let tests: Vec<LiftTest> = ["search", "direct"]
        .iter()
        .map(|c| {
            let m = lift_test(&p, c, "sales", 300_000, 9).unwrap();
            LiftTest { channel: (*c).into(), kpi: "sales".into(), per_exposure: m.per_exposure, se: m.se }
        })
        .collect();
    let obs = ModelSpec::AdditiveHazard(AdditiveHazard::default());
    let cal = ModelSpec::AdditiveHazard(AdditiveHazard { lift_tests: tests, ..Default::default() });
    let r = attribute(&sim.journeys, &[obs, cal], Dimension::Channel).unwrap();
    let truth = sim.truth_of("sales", "search").unwrap().shapley;
    let credit = |model: &str| r.credits.iter().find(|c| c.model == model && c.player == "search").unwrap();
    let obs_err = (credit("additive_hazard").conversions - truth).abs();
    let cal_err = (credit("additive_hazard(lift_tests=2)").conversions - truth).abs();
    assert!(cal_err < 0.5 * obs_err, "calibrated {cal_err} vs observational {obs_err} (truth {truth})");
    assert!(cal_err < 0.2 * truth, "{cal_err} vs {truth}");
}

#[test]
fn the_exposures_baseline_separates_intent_from_response() {
    // selection_bias: search and direct ride on intent. A constant baseline hands the intent-driven
    // conversions to them; the exposures baseline (a level shift per exposure, there before the
    // exposure too) keeps them in the baseline and leaves the time-locked response to beta.
    let p = SimParams { people: 100_000, seed: 4, ..SimParams::scenario("selection_bias").unwrap() };
    let sim = simulate(&p).unwrap();
    let constant =
        ModelSpec::AdditiveHazard(AdditiveHazard { baseline: Baseline::Constant, ..Default::default() });
    let exposures = ModelSpec::AdditiveHazard(AdditiveHazard::default());
    let r = attribute(&sim.journeys, &[constant, exposures], Dimension::Channel).unwrap();
    let channels: f64 = sim.truth.iter().filter(|t| t.channel != "(baseline)").map(|t| t.shapley).sum();
    for (model, low, high) in
        [("additive_hazard(baseline=constant)", 1.5, 10.0), ("additive_hazard", 0.8, 1.2)]
    {
        let credited: f64 = r
            .credits
            .iter()
            .filter(|c| c.model == model && c.player != "(baseline)")
            .map(|c| c.conversions)
            .sum();
        let ratio = credited / channels;
        assert!((low..high).contains(&ratio), "{model}: {credited} vs truth {channels}");
    }
}
