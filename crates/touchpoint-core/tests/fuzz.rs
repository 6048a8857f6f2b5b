//! Fuzzing the core on stable Rust (proptest): random journeys through every model, and random goal
//! books. A result or a typed error, never a panic; credit that conserves the conversions. Run by
//! `make fuzz` with `FUZZ_CASES` cases each (default 2,000); not part of `make test`.
use proptest::prelude::*;
use touchpoint_core::{attribute, contribution, Dimension, GoalBook, JourneysBuilder, ModelSpec, Weights};

fn cases() -> u32 {
    std::env::var("FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2_000)
}

const SPECS: [&str; 12] = [
    r#"{"model":"first_touch"}"#,
    r#"{"model":"last_touch"}"#,
    r#"{"model":"last_non_direct","direct":["c0"]}"#,
    r#"{"model":"linear"}"#,
    r#"{"model":"position_based","first":0.7,"last":0.3}"#,
    r#"{"model":"time_decay","half_life_touches":1.5}"#,
    r#"{"model":"markov"}"#,
    r#"{"model":"markov","order":3}"#,
    r#"{"model":"shapley"}"#,
    r#"{"model":"shapley","ordered":true}"#,
    r#"{"model":"shapley","game":"rate","samples":50}"#,
    r#"{"model":"shapley","game":"rate","exact":false,"samples":20,"min_support":2}"#,
];

fn weight() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => (0u32..4).prop_map(f64::from),
        1 => 0.0f64..3.0,
        1 => Just(1e300),
        1 => Just(-1.0),
        1 => Just(f64::NAN),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    #[ignore = "fuzzing: make fuzz"]
    fn fuzz_models_on_random_journeys(
        rows in prop::collection::vec(
            (prop::collection::vec(0usize..25, 0..8), weight(), weight(), weight(), 0usize..3),
            0..40,
        ),
        spec in 0usize..SPECS.len(),
    ) {
        let mut b = JourneysBuilder::new(&[]);
        let kpis = ["sales", "leads", "hires"];
        for (i, (path, c, v, n, k)) in rows.iter().enumerate() {
            let names: Vec<String> = path.iter().map(|p| format!("c{p}")).collect();
            let w = Weights { conversions: *c, value: if *c > 0.0 { *v } else { 0.0 }, nulls: *n };
            let _ = b.push_path(i + 1, kpis[*k], &names, w);
        }
        let j = b.build();
        let m = ModelSpec::from_json(SPECS[spec]).unwrap();
        if let Ok(r) = attribute(&j, &[m], Dimension::Channel) {
            for kpi in j.kpis().names() {
                let attributed: f64 = j.summary().iter().filter(|s| &s.kpi == kpi).map(|s| s.attributed).sum();
                let credited: f64 = r.credits.iter().filter(|c| &c.kpi == kpi).map(|c| c.conversions).sum();
                prop_assert!(credited.is_finite());
                // Every model credits all or (a KPI without a chain of credit) none of the conversions.
                prop_assert!(
                    (credited - attributed).abs() <= 1e-6 * attributed.max(1.0) || credited == 0.0,
                    "{} on {}: credited {} of {}", SPECS[spec], kpi, credited, attributed
                );
            }
            for c in &r.credits {
                prop_assert!(c.value.is_finite() && c.share.is_none_or(|s| (-1e-9..=1.0 + 1e-9).contains(&s)));
            }
        }
    }

    #[test]
    #[ignore = "fuzzing: make fuzz"]
    fn fuzz_goal_books(
        text in prop_oneof![
            "\\PC{0,80}",
            (prop::collection::vec(("[a-z]{0,6}", "[a-z]{0,6}", prop::option::of(prop_oneof![Just("nan".to_owned()), Just("-1.0".to_owned()), Just("1e400".to_owned()), "[0-9]{1,4}\\.[0-9]".prop_map(|s| s)])), 0..4),
             prop::collection::vec(("[a-z]{1,6}", prop_oneof![Just("-5.0".to_owned()), Just("inf".to_owned()), Just("\"x\"".to_owned()), "[0-9]{1,3}\\.0".prop_map(|s| s)]), 0..4),
             prop::collection::vec("[a-z]{0,6}", 0..3))
                .prop_map(|(kpis, costs, social)| {
                    let mut t = format!("social = {social:?}\n");
                    for (name, function, unit) in kpis {
                        t += &format!("[[kpi]]\nname = \"{name}\"\nfunction = \"{function}\"\n");
                        if let Some(u) = unit {
                            t += &format!("unit_value = {u}\n");
                        }
                    }
                    t += "[costs]\n";
                    for (player, cost) in costs {
                        t += &format!("{player} = {cost}\n");
                    }
                    t
                }),
        ],
    ) {
        if let Ok(goals) = GoalBook::from_toml(&text, "fuzz.toml") {
            // A book that loads also values an attribution without panicking.
            let mut b = JourneysBuilder::new(&[]);
            for k in goals.kpis.iter().map(|k| k.name.clone()) {
                let _ = b.push_path(1, &k, &["a", "b"], Weights { conversions: 1.0, value: 2.0, nulls: 1.0 });
            }
            let j = b.build();
            if let Ok(r) = attribute(&j, &[ModelSpec::from_name("linear").unwrap()], Dimension::Channel) {
                let _ = contribution(&r, &goals, None);
            }
        }
        let _ = GoalBook::from_json(&text, "fuzz.json");
    }
}
