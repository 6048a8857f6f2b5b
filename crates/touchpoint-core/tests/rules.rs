//! Rule-based models: hand-computed cases, bad parameters, and property tests of conservation,
//! row-order invariance and fractional weights.
mod common;

use common::{close, credit, paths, run, timed};
use proptest::prelude::*;
use touchpoint_core::Weights;
use touchpoint_core::{attribute, Dimension, JourneysBuilder, ModelSpec};

const DAY: i64 = 86_400_000_000;

#[test]
fn first_last_linear_by_hand() {
    let j = paths(&[(&["a", "b", "a"], 3.0, 30.0, 1.0), (&["c"], 1.0, 5.0, 0.0), (&["b"], 0.0, 0.0, 4.0)]);
    let r = run(&j, r#"{"model":"first_touch"}"#);
    assert_eq!(credit(&r, "a"), (3.0, 30.0));
    assert_eq!(credit(&r, "b"), (0.0, 0.0));
    assert_eq!(credit(&r, "c"), (1.0, 5.0));
    let r = run(&j, r#"{"model":"last_touch"}"#);
    assert_eq!(credit(&r, "a"), (3.0, 30.0));
    let r = run(&j, r#"{"model":"linear"}"#);
    assert!(close(credit(&r, "a").0, 2.0, 1e-15) && close(credit(&r, "b").1, 10.0, 1e-15));
    // Shares are of the KPI's credited conversions.
    let b = r.credits.iter().find(|c| c.player == "b").unwrap();
    assert!(close(b.share.unwrap(), 0.25, 1e-15));
}

#[test]
fn position_based_at_one_two_three_and_five_touches() {
    let spec = r#"{"model":"position_based","first":0.4,"last":0.4}"#;
    let r = run(&paths(&[(&["a"], 1.0, 10.0, 0.0)]), spec);
    assert_eq!(credit(&r, "a"), (1.0, 10.0));
    // Two touches split first:last = 0.2:0.6 -> 1/4, 3/4.
    let r =
        run(&paths(&[(&["a", "b"], 4.0, 8.0, 0.0)]), r#"{"model":"position_based","first":0.2,"last":0.6}"#);
    assert!(close(credit(&r, "a").0, 1.0, 1e-15) && close(credit(&r, "b").0, 3.0, 1e-15));
    assert!(close(credit(&r, "a").1, 2.0, 1e-15) && close(credit(&r, "b").1, 6.0, 1e-15));
    // Three touches: 0.4, 0.2, 0.4.
    let r = run(&paths(&[(&["a", "b", "c"], 10.0, 0.0, 0.0)]), spec);
    assert!(close(credit(&r, "a").0, 4.0, 1e-14) && close(credit(&r, "b").0, 2.0, 1e-14));
    assert!(close(credit(&r, "c").0, 4.0, 1e-14));
    // Five touches: 0.4, 0.2/3 x 3, 0.4; repeated channels add up.
    let r = run(&paths(&[(&["a", "b", "c", "b", "d"], 3.0, 0.0, 0.0)]), spec);
    assert!(close(credit(&r, "a").0, 1.2, 1e-14), "{:?}", credit(&r, "a"));
    assert!(close(credit(&r, "b").0, 2.0 * 0.2, 1e-14));
    assert!(close(credit(&r, "c").0, 0.2, 1e-14));
    assert!(close(credit(&r, "d").0, 1.2, 1e-14));
}

#[test]
fn time_decay_with_timestamps_and_on_touch_counts() {
    // Touches 14, 7 and 0 days before a conversion; half-life 7 days -> weights 1/4, 1/2, 1.
    let j = timed(&[(&[("a", 0), ("b", 7 * DAY), ("c", 14 * DAY)], 7.0, 70.0, 0.0, 14 * DAY)]);
    let r = run(&j, r#"{"model":"time_decay","half_life":"7d"}"#);
    assert!(close(credit(&r, "a").0, 1.0, 1e-14) && close(credit(&r, "b").0, 2.0, 1e-14));
    assert!(close(credit(&r, "c").0, 4.0, 1e-14) && close(credit(&r, "c").1, 40.0, 1e-14));
    // A conversion 30 days after the last touch changes nothing after normalisation.
    let j = timed(&[(&[("a", 0), ("b", 7 * DAY), ("c", 14 * DAY)], 7.0, 70.0, 0.0, 44 * DAY)]);
    let r = run(&j, r#"{"model":"time_decay","half_life":"7d"}"#);
    assert!(close(credit(&r, "a").0, 1.0, 1e-14));
    // Without times, by touch count with half-life 1 touch: 1/4, 1/2, 1.
    let j = paths(&[(&["a", "b", "c"], 7.0, 0.0, 0.0)]);
    let r = run(&j, r#"{"model":"time_decay","half_life_touches":1.0}"#);
    assert!(close(credit(&r, "a").0, 1.0, 1e-14) && close(credit(&r, "c").0, 4.0, 1e-14));
    // Half-life 2 touches: 2^-1, 2^-0.5, 1.
    let r = run(&j, r#"{"model":"time_decay","half_life_touches":2.0}"#);
    let w = [0.5, 0.5f64.sqrt(), 1.0];
    let s: f64 = w.iter().sum();
    assert!(close(credit(&r, "b").0, 7.0 * w[1] / s, 1e-14));
}

#[test]
fn time_decay_by_duration_without_times_is_a_typed_error() {
    let j = paths(&[(&["a", "b"], 1.0, 0.0, 0.0)]);
    let e = attribute(&j, &[ModelSpec::from_name("time_decay").unwrap()], Dimension::Channel).unwrap_err();
    assert!(e.to_string().starts_with("time_decay with half_life needs touch and conversion times"), "{e}");
}

#[test]
fn last_non_direct_skips_direct_and_falls_back_when_all_direct() {
    let j =
        paths(&[(&["email", "direct", "direct"], 2.0, 20.0, 0.0), (&["direct", "direct"], 1.0, 5.0, 0.0)]);
    let r = run(&j, r#"{"model":"last_non_direct"}"#);
    assert_eq!(credit(&r, "email"), (2.0, 20.0));
    assert_eq!(credit(&r, "direct"), (1.0, 5.0));
    let r = run(&j, r#"{"model":"last_non_direct","direct":["direct","email"]}"#);
    assert_eq!(credit(&r, "direct"), (3.0, 25.0));
}

#[test]
fn bad_parameters_are_typed_errors() {
    let cases = [
        (
            r#"{"model":"position_based","first":1.2}"#,
            "invalid parameter `first` of model `position_based`: 1.2",
        ),
        (
            r#"{"model":"position_based","first":-0.1}"#,
            "invalid parameter `first` of model `position_based`: -0.1",
        ),
        (r#"{"model":"position_based","first":0.7,"last":0.5}"#, "invalid parameter `first + last`"),
        (r#"{"model":"time_decay","half_life":"0d"}"#, "invalid parameter `half_life` of model `time_decay`"),
        (
            r#"{"model":"time_decay","half_life":"-7d"}"#,
            "invalid parameter `half_life` of model `time_decay`",
        ),
        (r#"{"model":"time_decay","half_life":"1mo"}"#, "calendar units"),
        (r#"{"model":"time_decay","half_life_touches":0.0}"#, "invalid parameter `half_life_touches`"),
        (r#"{"model":"last_non_direct","direct":[""]}"#, "invalid parameter `direct`"),
        (r#"{"model":"markov","order":0}"#, "invalid parameter `order` of model `markov`: 0"),
        (
            r#"{"model":"shapley","game":"rate","ordered":true}"#,
            "invalid parameter `ordered` of model `shapley`",
        ),
        (r#"{"model":"shapley","samples":1}"#, "invalid parameter `samples`"),
    ];
    let j = paths(&[(&["a"], 1.0, 0.0, 1.0)]);
    for (spec, want) in cases {
        let spec = ModelSpec::from_json(spec).unwrap();
        let e = attribute(&j, &[spec], Dimension::Channel).unwrap_err().to_string();
        assert!(e.contains(want), "{e} should contain {want}");
    }
    let e = ModelSpec::from_name("last_click").unwrap_err().to_string();
    assert!(e.starts_with("unknown model `last_click`"), "{e}");
    let e = "device".parse::<Dimension>().unwrap_err().to_string();
    assert!(e.starts_with("unknown dimension `device`"), "{e}");
}

#[test]
fn a_kpi_without_conversions_gets_zero_credit_null_shares_and_a_warning() {
    let mut b = JourneysBuilder::new(&[]);
    b.push_path(1, "sales", &["a"], Weights { conversions: 1.0, value: 0.0, nulls: 0.0 }).unwrap();
    b.push_path(2, "hires", &["a", "b"], Weights { conversions: 0.0, value: 0.0, nulls: 2.0 }).unwrap();
    let j = b.build();
    let r = attribute(&j, &[ModelSpec::from_name("linear").unwrap()], Dimension::Channel).unwrap();
    let hires: Vec<_> = r.credits.iter().filter(|c| c.kpi == "hires").collect();
    assert_eq!(hires.len(), 2);
    assert!(hires.iter().all(|c| c.conversions == 0.0 && c.share.is_none()));
    assert!(
        r.warnings.iter().any(|w| w.contains("`hires` has no attributed conversions")),
        "{:?}",
        r.warnings
    );
}

const RULES: [&str; 7] = [
    r#"{"model":"first_touch"}"#,
    r#"{"model":"last_touch"}"#,
    r#"{"model":"last_non_direct","direct":["c0"]}"#,
    r#"{"model":"linear"}"#,
    r#"{"model":"position_based"}"#,
    r#"{"model":"position_based","first":0.6,"last":0.1}"#,
    r#"{"model":"time_decay","half_life":"2d"}"#,
];

type Journey = (Vec<(u8, i64)>, f64, f64, f64);

fn journeys_strategy() -> impl Strategy<Value = Vec<Journey>> {
    let touch = (0u8..6, 0i64..30 * DAY);
    let journey = (prop::collection::vec(touch, 1..8), 0.0f64..5.0, 0.0f64..100.0, 0.0f64..3.0)
        .prop_map(|(t, c, v, n)| (t, c, if c > 0.0 { v } else { 0.0 }, n));
    prop::collection::vec(journey, 1..40)
}

fn build(js: &[Journey], order: &[usize]) -> touchpoint_core::Journeys {
    let mut b = JourneysBuilder::with_times(&[]);
    let k = b.kpi_id("sales");
    for &i in order {
        let (touches, c, v, n) = &js[i];
        let mut ts: Vec<(u8, i64)> = touches.clone();
        ts.sort_by_key(|t| t.1);
        for (ch, t) in &ts {
            let id = b.player_id(Dimension::Channel, &format!("c{ch}"), i).unwrap();
            b.push_channel(id, Some(*t));
        }
        b.finish_journey(
            i,
            k,
            Weights { conversions: *c, value: *v, nulls: *n },
            Some(ts.last().unwrap().1 + DAY),
        )
        .unwrap();
    }
    b.build()
}

fn totals(r: &touchpoint_core::Attribution, model: &str) -> (f64, f64) {
    r.model_credits(model).fold((0.0, 0.0), |a, c| (a.0 + c.conversions, a.1 + c.value))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn rules_conserve_and_ignore_row_order(js in journeys_strategy(), seed in any::<u64>()) {
        let order: Vec<usize> = (0..js.len()).collect();
        let mut shuffled = order.clone();
        touchpoint_util::rng::SplitMix64::new(seed).shuffle(&mut shuffled);
        let specs: Vec<ModelSpec> = RULES.iter().map(|s| ModelSpec::from_json(s).unwrap()).collect();
        let a = attribute(&build(&js, &order), &specs, Dimension::Channel).unwrap();
        let b = attribute(&build(&js, &shuffled), &specs, Dimension::Channel).unwrap();
        let conv: f64 = js.iter().map(|j| j.1).sum();
        let value: f64 = js.iter().map(|j| j.2).sum();
        for m in &a.models {
            let (c, v) = totals(&a, &m.label);
            if conv > 0.0 {
                prop_assert!(close(c, conv, 1e-9), "{}: {c} vs {conv}", m.label);
                prop_assert!(close(v, value, 1e-9), "{}: {v} vs {value}", m.label);
            }
            for x in a.model_credits(&m.label) {
                let y = b.conversions_of(&m.label, &x.kpi, &x.player).unwrap();
                prop_assert!(close(x.conversions, y, 1e-12), "{} {}: {} vs {y}", m.label, x.player, x.conversions);
            }
        }
    }

    #[test]
    fn fractional_weights_equal_repeated_rows(js in journeys_strategy(), reps in 1usize..4) {
        // Each journey once with weights x reps, or reps times with the plain weights.
        let scaled: Vec<Journey> = js.iter().map(|(t, c, v, n)| (t.clone(), c * reps as f64, v * reps as f64, n * reps as f64)).collect();
        let repeated: Vec<Journey> = js.iter().flat_map(|j| std::iter::repeat_n(j.clone(), reps)).collect();
        let specs: Vec<ModelSpec> = RULES.iter().map(|s| ModelSpec::from_json(s).unwrap()).collect();
        let a = attribute(&build(&scaled, &(0..scaled.len()).collect::<Vec<_>>()), &specs, Dimension::Channel).unwrap();
        let b = attribute(&build(&repeated, &(0..repeated.len()).collect::<Vec<_>>()), &specs, Dimension::Channel).unwrap();
        for x in &a.credits {
            let y = b.conversions_of(&x.model, &x.kpi, &x.player).unwrap();
            prop_assert!(close(x.conversions, y, 1e-9), "{} {}: {} vs {y}", x.model, x.player, x.conversions);
        }
    }
}
