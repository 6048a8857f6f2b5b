//! Models against the truth: exact agreement where every journey has one touch, last touch's bias
//! under selection bias, and the benchmark's score table.
use touchpoint_core::{attribute, Dimension, ModelSpec};
use touchpoint_sim::{benchmark, benchmark_models, person, score, simulate, SimParams, BASELINE_ROW};

const SINGLE_TOUCH: &str = r#"
name = "single_touch"
people = 20000
seed = 1
one_exposure = true
horizon_days = 60
lookback_days = 60

[[channels]]
name = "search"
rate = 1.0
lift = { sales = 0.0008 }
half_life_days = 2

[[channels]]
name = "email"
rate = 0.8
lift = { sales = 0.0004 }

[[channels]]
name = "facebook"
social = true
rate = 1.2
lift = { sales = 0.0006 }

[[channels]]
name = "display"
rate = 1.0

[[kpis]]
name = "sales"
baseline = 0.00005
value = { dist = "lognormal", mean = 50.0, sd = 30.0 }
"#;

#[test]
fn with_one_touch_per_journey_models_credit_truth_plus_baseline_in_their_journeys() {
    let p = SimParams::from_toml(SINGLE_TOUCH).unwrap();
    let sim = simulate(&p).unwrap();
    let nc = p.channels.len();
    // Baseline conversions (and value) that land in a journey touching each channel, from the people.
    let (mut base_in, mut base_value_in) = (vec![0.0; nc], vec![0.0; nc]);
    let mut in_journeys = 0.0;
    for i in 0..p.people {
        let person = person(&p, i).unwrap();
        assert_eq!(person.exposures.len(), 1);
        let exposure = &person.exposures[0];
        let after: Vec<_> = person.conversions.iter().filter(|c| c.time_us >= exposure.time_us).collect();
        // The identity needs every conversion a channel caused inside a journey: nobody converts twice
        // after their exposure in this scenario (the second would have no touch in its window).
        assert!(after.len() <= 1, "person {i} converts {} times after the exposure", after.len());
        if let Some(first) = after.first() {
            in_journeys += 1.0;
            if first.source.is_none() {
                base_in[exposure.channel as usize] += 1.0;
                base_value_in[exposure.channel as usize] += first.value;
            }
        }
    }
    assert_eq!(sim.journeys.conversions().iter().sum::<f64>(), in_journeys);
    assert!(
        base_in.iter().all(|&b| b > 0.0),
        "every channel's journeys carry baseline conversions: {base_in:?}"
    );
    let display = sim.truth_of("sales", "display").unwrap();
    assert_eq!(display.shapley, 0.0);

    let mut models: Vec<ModelSpec> =
        ["first_touch", "last_touch", "last_non_direct", "linear", "position_based", "time_decay", "markov"]
            .iter()
            .map(|n| ModelSpec::from_name(n).unwrap())
            .collect();
    models.push(ModelSpec::from_json(r#"{"model": "markov", "order": 2}"#).unwrap());
    models.push(ModelSpec::from_json(r#"{"model": "shapley", "game": "conversions"}"#).unwrap());
    let attribution = attribute(&sim.journeys, &models, Dimension::Channel).unwrap();
    for m in &attribution.models {
        for (c, ch) in p.channels.iter().enumerate() {
            let truth = sim.truth_of("sales", &ch.name).unwrap();
            let expected = truth.shapley + base_in[c];
            let expected_value = truth.shapley_value + base_value_in[c];
            let credit =
                attribution.credits.iter().find(|x| x.model == m.label && x.player == ch.name).unwrap();
            assert!(
                (credit.conversions - expected).abs() <= 1e-9 * expected.max(1.0),
                "{} {}: credit {} vs truth {} + baseline {}",
                m.label,
                ch.name,
                credit.conversions,
                truth.shapley,
                base_in[c]
            );
            assert!(
                (credit.value - expected_value).abs() <= 1e-9 * expected_value.max(1.0),
                "{} {}: value {} vs {}",
                m.label,
                ch.name,
                credit.value,
                expected_value
            );
        }
    }
}

#[test]
fn under_selection_bias_last_touch_over_credits_search_and_direct() {
    let seeds = 10;
    let mut diffs = Vec::new();
    let last_touch = [ModelSpec::from_name("last_touch").unwrap()];
    for seed in 0..seeds {
        let p = SimParams { people: 20_000, seed, ..SimParams::scenario("selection_bias").unwrap() };
        let sim = simulate(&p).unwrap();
        let a = attribute(&sim.journeys, &last_touch, Dimension::Channel).unwrap();
        let model: f64 = a
            .credits
            .iter()
            .filter(|c| c.player == "search" || c.player == "direct")
            .map(|c| c.share.unwrap())
            .sum();
        let truth: f64 = ["search", "direct"]
            .iter()
            .map(|c| sim.truth_of("sales", c).unwrap().shapley_share.unwrap())
            .sum();
        diffs.push(model - truth);
    }
    let n = diffs.len() as f64;
    let mean = diffs.iter().sum::<f64>() / n;
    let sd = (diffs.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let se = sd / n.sqrt();
    assert!(mean > 0.0 && mean > 5.0 * se, "over-credit {mean} with standard error {se}: {diffs:?}");
}

#[test]
fn benchmark_scores_every_default_model_per_kpi() {
    let rows = benchmark(&["baseline", "synergy", "social_care"], 3_000, 11, &[]).unwrap();
    let models = benchmark_models().len();
    assert_eq!(models, 12);
    assert_eq!(rows.len(), (1 + 1 + 2) * models);
    let labels: Vec<&str> = rows.iter().take(models).map(|r| r.model.as_str()).collect();
    assert_eq!(
        labels,
        [
            "first_touch",
            "last_touch",
            "linear",
            "position_based",
            "time_decay",
            "markov",
            "markov(order=2)",
            "shapley",
            "shapley(game=rate)",
            "additive_hazard",
            "additive_hazard(baseline=constant)",
            "additive_hazard(baseline=activity)"
        ]
    );
    // The incremental model credits fewer conversions to channels than it saw: the rest is baseline.
    let ah = &rows[models - 3];
    let lt = &rows[1];
    assert!(ah.incremental < lt.incremental, "{ah:?} vs {lt:?}");
    assert!((ah.incremental_truth - lt.incremental_truth).abs() < 1e-9);
    assert!(rows[models].kpi == "sales" && rows[models].scenario == "synergy");
    for r in &rows {
        let tv = r.tv_shapley.unwrap();
        assert!((0.0..=1.0).contains(&tv), "{r:?}");
        assert!((0.0..=1.0).contains(&r.tv_removal.unwrap()), "{r:?}");
        assert!((-1.0..=1.0).contains(&r.spearman_shapley.unwrap()), "{r:?}");
        assert!(r.social_share_error.unwrap().abs() <= 1.0, "{r:?}");
    }
    let unknown = benchmark(&["baseline", "nope"], 10, 0, &[]).unwrap_err().to_string();
    assert!(unknown.starts_with("unknown scenario `nope`"), "{unknown}");
}

#[test]
fn score_compares_shares_over_channels_only() {
    let p = SimParams { people: 5_000, seed: 2, ..SimParams::scenario("baseline").unwrap() };
    let sim = simulate(&p).unwrap();
    let a = attribute(&sim.journeys, &[ModelSpec::from_name("linear").unwrap()], Dimension::Channel).unwrap();
    let rows = score(&a, &sim);
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    // Recompute by hand.
    let (mut tv, mut social_model, mut social_truth) = (0.0, 0.0, 0.0);
    for ch in &p.channels {
        let model = a.credits.iter().find(|c| c.player == ch.name).and_then(|c| c.share).unwrap_or(0.0);
        let truth = sim.truth_of("sales", &ch.name).unwrap().shapley_share.unwrap();
        tv += 0.5 * (model - truth).abs();
        if ch.social {
            social_model += model;
            social_truth += truth;
        }
    }
    approx::assert_relative_eq!(r.tv_shapley.unwrap(), tv, epsilon = 1e-12);
    approx::assert_relative_eq!(r.social_share_error.unwrap(), social_model - social_truth, epsilon = 1e-12);
    assert_eq!(r.tv_shapley, r.tv_removal, "baseline is additive");
    assert!(sim.truth_of("sales", BASELINE_ROW).unwrap().shapley > 0.0);
}
