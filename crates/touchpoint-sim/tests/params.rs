//! Parameters: TOML loading, the built-in scenarios, and a typed error for every bad value.
use touchpoint_sim::{simulate, SimParams, ValueDist, SCENARIO_NAMES};

fn err(p: &SimParams) -> String {
    p.validate().unwrap_err().to_string()
}

#[test]
fn every_named_scenario_is_valid_and_unknown_names_are_typed() {
    for name in SCENARIO_NAMES {
        let p = SimParams::scenario(name).unwrap();
        p.validate().unwrap();
        assert_eq!(p.name, name);
    }
    let many = SimParams::scenario("many_channels").unwrap();
    assert_eq!(many.channels.len(), 30);
    assert!(many.channels.iter().filter(|c| c.social).count() >= 4);
    let care = SimParams::scenario("social_care").unwrap();
    let kpis: Vec<&str> = care.kpis.iter().map(|k| k.name.as_str()).collect();
    assert_eq!(kpis, ["sales", "tickets_deflected"]);
    assert_eq!(care.kpis[1].value, ValueDist::Fixed { value: 25.0 });
    let e = SimParams::scenario("baseline2").unwrap_err().to_string();
    assert_eq!(
        e,
        "unknown scenario `baseline2`; known scenarios: baseline, selection_bias, synergy, long_journeys, \
         social_care, many_channels, delayed_response"
    );
    // delayed_response: gamma-shaped responses peaking (shape - 1) * scale = 3 days after the exposure,
    // with the same conversions per exposure (lift * scale) as the baseline scenario's channels.
    let base = SimParams::scenario("baseline").unwrap();
    let delayed = SimParams::scenario("delayed_response").unwrap();
    for (a, b) in base.channels.iter().zip(&delayed.channels) {
        let scale = b.half_life_days / std::f64::consts::LN_2;
        assert!(((b.delay_shape - 1.0) * scale - 3.0).abs() < 1e-12);
        let per_exposure =
            |c: &touchpoint_sim::ChannelParams| c.lift["sales"] * c.half_life_days / std::f64::consts::LN_2;
        assert!((per_exposure(a) - per_exposure(b)).abs() < 1e-15);
    }
}

#[test]
fn toml_fills_defaults_and_reads_every_section() {
    let p = SimParams::from_toml(
        r#"
        name = "tiny"
        people = 500
        seed = 9
        lookback_days = 14

        [[channels]]
        name = "search"
        rate = 0.05
        lift = { sales = 0.01, signups = 0.02 }

        [[channels]]
        name = "facebook"
        social = true
        half_life_days = 1.5
        diminishing = 0.5

        [[kpis]]
        name = "sales"
        value = { dist = "gamma", mean = 50.0, sd = 20.0 }

        [[kpis]]
        name = "signups"
        baseline = 0.0

        [[synergies]]
        from = "facebook"
        to = "search"
        factor = 0.5
        kpi = "sales"
        "#,
    )
    .unwrap();
    assert_eq!((p.people, p.seed, p.lookback_days, p.horizon_days), (500, 9, 14.0, 60.0));
    assert_eq!(p.channels[1].rate, 0.02);
    assert!(p.channels[1].social && p.channels[1].lift.is_empty());
    assert_eq!(p.kpis[1].value, ValueDist::Fixed { value: 1.0 });
    assert_eq!(p.synergies[0].window_days, 14.0);
    let sim = simulate(&p).unwrap();
    assert_eq!(sim.truth.len(), 2 * 3);
    // Defaults alone are the baseline scenario under another name.
    let d = SimParams::from_toml("people = 7").unwrap();
    assert_eq!(d, SimParams { people: 7, name: "custom".into(), ..SimParams::scenario("baseline").unwrap() });
}

#[test]
fn unreadable_toml_is_typed() {
    let e = SimParams::from_toml("peeple = 3").unwrap_err().to_string();
    assert!(e.starts_with("cannot read simulation parameters:") && e.contains("peeple"), "{e}");
    let e = SimParams::from_toml("[[channels]]\nrate = 1.0").unwrap_err().to_string();
    assert!(e.contains("missing field `name`"), "{e}");
    let e = SimParams::from_toml("[[kpis]]\nname = \"x\"\nvalue = { dist = \"pareto\", mean = 1.0 }")
        .unwrap_err();
    assert!(e.to_string().contains("pareto"), "{e}");
}

#[test]
fn bad_values_are_typed_errors_that_name_the_parameter() {
    let base = SimParams::scenario("baseline").unwrap();

    let mut p = base.clone();
    p.channels[0].rate = -0.1;
    assert_eq!(
        err(&p),
        "invalid rate `channels.search.rate`: -0.1 (rates are per person per day and must be finite and >= 0)"
    );

    let mut p = base.clone();
    p.kpis[0].baseline = f64::NAN;
    assert_eq!(
        err(&p),
        "invalid rate `kpis.sales.baseline`: NaN (rates are per person per day and must be finite and >= 0)"
    );

    let mut p = base.clone();
    p.channels[2].lift.insert("sales".into(), -1.0);
    assert_eq!(
        err(&p),
        "invalid rate `channels.email.lift.sales`: -1 (rates are per person per day and must be finite and >= 0)"
    );

    let mut p = base.clone();
    p.channels[1].half_life_days = 0.0;
    assert_eq!(
        err(&p),
        "invalid half-life `channels.direct.half_life_days`: 0 days (must be positive and finite)"
    );

    let mut p = base.clone();
    p.channels[3].lift.insert("leads".into(), 0.1);
    assert_eq!(err(&p), "`channels.display.lift` names unknown KPI `leads`; KPIs: sales");

    let mut p = SimParams::scenario("synergy").unwrap();
    p.synergies[1].from = "tiktok".into();
    assert_eq!(
        err(&p),
        "`synergies[1].from` names unknown channel `tiktok`; channels: search, direct, email, display, facebook, \
         instagram, linkedin, twitter"
    );

    let mut p = SimParams::scenario("synergy").unwrap();
    p.synergies[0].to = "facebook".into();
    assert!(
        err(&p).starts_with("invalid parameter `synergies[0].to`: facebook (a channel cannot raise itself")
    );

    let mut p = SimParams::scenario("synergy").unwrap();
    p.synergies[0].factor = -1.5;
    assert_eq!(
        err(&p),
        "invalid parameter `synergies[0].factor`: -1.5 (must be finite and >= -1 (the rate is multiplied by 1 + factor))"
    );

    let mut p = SimParams::scenario("synergy").unwrap();
    p.synergies[2].window_days = -2.0;
    assert_eq!(err(&p), "invalid parameter `synergies[2].window_days`: -2 (must be positive and finite)");

    let mut p = SimParams::scenario("synergy").unwrap();
    p.synergies[0].kpi = Some("leads".into());
    assert_eq!(err(&p), "`synergies[0].kpi` names unknown KPI `leads`; KPIs: sales");

    let mut p = base.clone();
    p.channels[4].name = "search".into();
    assert_eq!(err(&p), "duplicate name `search` in `channels`: names must be unique");

    let mut p = base.clone();
    p.channels[0].name = "(baseline)".into();
    assert!(
        err(&p).starts_with("invalid parameter `channels.(baseline).name`: (baseline) (reserved"),
        "{}",
        err(&p)
    );

    let mut p = base.clone();
    p.channels[0].name = " ".into();
    assert_eq!(err(&p), "invalid parameter `channels[0].name`: \" \" (names must not be empty)");

    let mut p = base.clone();
    p.channels[0].diminishing = -0.5;
    assert_eq!(err(&p), "invalid parameter `channels.search.diminishing`: -0.5 (must be finite and >= 0)");

    let mut p = base.clone();
    p.kpis[0].value = ValueDist::Lognormal { mean: 0.0, sd: 1.0 };
    assert_eq!(err(&p), "invalid parameter `kpis.sales.value.mean`: 0 (must be positive and finite)");

    let mut p = base.clone();
    p.kpis[0].value = ValueDist::Gamma { mean: 5.0, sd: -1.0 };
    assert_eq!(err(&p), "invalid parameter `kpis.sales.value.sd`: -1 (must be finite and >= 0)");

    let mut p = base.clone();
    p.kpis[0].value = ValueDist::Fixed { value: -3.0 };
    assert_eq!(err(&p), "invalid parameter `kpis.sales.value.value`: -3 (must be finite and >= 0)");

    let p = SimParams { people: 0, ..base.clone() };
    assert_eq!(err(&p), "invalid parameter `people`: 0 (simulate at least one person)");

    let p = SimParams { horizon_days: 0.0, ..base.clone() };
    assert_eq!(err(&p), "invalid parameter `horizon_days`: 0 (must be positive and finite)");

    let p = SimParams { lookback_days: f64::INFINITY, ..base.clone() };
    assert_eq!(err(&p), "invalid parameter `lookback_days`: inf (must be positive and finite)");

    let p = SimParams { intent_sd: -1.0, ..base.clone() };
    assert_eq!(err(&p), "invalid parameter `intent_sd`: -1 (must lie in [0, 5])");

    let p = SimParams { max_exposures: 0, ..base.clone() };
    assert_eq!(err(&p), "invalid parameter `max_exposures`: 0 (at least one exposure per channel)");

    let p = SimParams { truth_samples: 1, ..base.clone() };
    assert_eq!(
        err(&p),
        "invalid parameter `truth_samples`: 1 (at least 2 permutations are needed for a standard error)"
    );

    let p = SimParams { kpis: vec![], ..base.clone() };
    assert_eq!(err(&p), "invalid parameter `kpis`: [] (name at least one KPI)");

    let p = SimParams { channels: vec![], ..base.clone() };
    assert_eq!(err(&p), "invalid parameter `channels`: [] (name at least one channel)");

    let mut p = SimParams { one_exposure: true, ..base.clone() };
    p.channels.iter_mut().for_each(|c| c.rate = 0.0);
    assert!(err(&p).starts_with("invalid parameter `one_exposure`: true (every channel has rate 0"));

    // simulate validates before any work, with the same error.
    let p = SimParams { horizon_days: -1.0, ..base };
    assert_eq!(
        simulate(&p).unwrap_err().to_string(),
        "invalid parameter `horizon_days`: -1 (must be positive and finite)"
    );
}

/// Found by fuzzing (`make fuzz`): a scenario file with huge but finite values ran forever. Each is
/// now a typed error naming the parameter.
#[test]
fn values_that_would_never_finish_are_refused() {
    let base = SimParams::scenario("baseline").unwrap();
    type Edit = Box<dyn Fn(&mut SimParams)>;
    let cases: Vec<(&str, Edit)> = vec![
        ("horizon_days", Box::new(|p| p.horizon_days = 1e300)),
        ("lookback_days", Box::new(|p| p.lookback_days = 1e12)),
        ("max_exposures", Box::new(|p| p.max_exposures = u32::MAX)),
        ("truth_samples", Box::new(|p| p.truth_samples = u32::MAX)),
        ("rate", Box::new(|p| p.channels[0].rate = 1e300)),
        ("baseline", Box::new(|p| p.kpis[0].baseline = 1e9)),
        ("intent_elasticity", Box::new(|p| p.channels[0].intent_elasticity = 1e3)),
    ];
    for (name, edit) in cases {
        let mut p = base.clone();
        edit(&mut p);
        let e = p.validate().unwrap_err().to_string();
        assert!(e.contains(name), "{name}: {e}");
    }
}

/// Issue 25, items 15 and 16: a simulation holds its people's journeys in memory, so `people` is
/// bounded before anything is allocated (10^10 aborted the process); a holdout draws its people one
/// at a time, bounded in time, and stops when asked.
#[test]
fn people_are_bounded_and_a_holdout_stops_when_asked() {
    let mut p = SimParams::scenario("baseline").unwrap();
    p.people = 10_000_000_000;
    assert!(err(&p).contains("at most 50000000 in one simulation"), "{}", err(&p));
    assert!(simulate(&p).is_err());
    p.people = touchpoint_sim::params::MAX_PEOPLE;
    p.validate().unwrap();
    let base = SimParams::scenario("baseline").unwrap();
    let e = touchpoint_sim::lift_test(&base, "search", "sales", 2_000_000_000, 1).unwrap_err().to_string();
    assert!(e.contains("at most 1000000000 in one holdout"), "{e}");
    struct StopAfter(std::sync::atomic::AtomicU32);
    impl touchpoint_core::Control for StopAfter {
        fn checkpoint(&self) -> touchpoint_core::Result<()> {
            match self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed) {
                0..=2 => Ok(()),
                _ => Err(touchpoint_core::Error::Interrupted),
            }
        }
    }
    let stop = StopAfter(0.into());
    let r = touchpoint_sim::lift::lift_test_with(&base, "search", "sales", 100_000_000, 1, &stop);
    assert!(matches!(r, Err(touchpoint_sim::Error::Core(touchpoint_core::Error::Interrupted))), "{r:?}");
    // Three checkpoints passed: 3 x 65,536 people drawn, not 10^8.
    assert_eq!(stop.0.load(std::sync::atomic::Ordering::Relaxed), 4);
}
