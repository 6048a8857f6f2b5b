//! Credit per journey: hand-computed rows, sums to each model's totals (per player where the rule
//! promises it, per KPI always), the additive-hazard model's per-conversion rows, and bad labels.
mod common;

use std::collections::HashMap;

use touchpoint_core::attribution::{journey_credits, JourneyCreditGap};
use touchpoint_core::{
    attribute, Attribution, Dimension, Error, Journeys, JourneysBuilder, ModelSpec, PersonKey, Timelines,
    Unattended, Weights,
};
use touchpoint_util::rng::SplitMix64;

fn specs(names: &[&str]) -> Vec<ModelSpec> {
    names
        .iter()
        .map(|n| if n.starts_with('{') { ModelSpec::from_json(n) } else { ModelSpec::from_name(n) }.unwrap())
        .collect()
}

/// Conversions by (model, journey, player).
type Rows = HashMap<(String, Option<usize>, String), f64>;

/// (model, journey, player) -> conversions, and the gaps.
fn rows(j: &Journeys, r: &Attribution, labels: &[&str]) -> (Rows, Vec<JourneyCreditGap>) {
    let mut out = HashMap::new();
    let gaps = journey_credits(j, r, labels, &Unattended, &mut |row| {
        *out.entry((row.model.to_owned(), row.journey, row.player.to_owned())).or_insert(0.0) +=
            row.conversions;
    })
    .unwrap();
    (out, gaps)
}

#[test]
fn rule_rows_are_the_hand_computed_splits() {
    let j = common::paths(&[
        (&["a", "b", "a"], 3.0, 30.0, 1.0),
        (&["c", "b"], 2.0, 8.0, 0.0),
        (&["b"], 0.0, 0.0, 4.0),
    ]);
    let r =
        attribute(&j, &specs(&["linear", "first_touch", "position_based", "shapley"]), Dimension::Channel)
            .unwrap();
    let (m, gaps) = rows(&j, &r, &[]);
    let get = |model: &str, journey: usize, player: &str| {
        m.get(&(model.to_owned(), Some(journey), player.to_owned())).copied()
    };
    // Linear: a has 2 of 3 touches on journey 0.
    assert_eq!(get("linear", 0, "a"), Some(2.0));
    assert_eq!(get("linear", 0, "b"), Some(1.0));
    assert_eq!(get("first_touch", 1, "c"), Some(2.0));
    assert_eq!(get("first_touch", 1, "b"), None);
    // Position-based 40/20/40: a gets 0.4 + 0.4 of 3, b 0.2 of 3.
    assert!((get("position_based", 0, "a").unwrap() - 2.4).abs() < 1e-12);
    // The conversions game: equal over distinct players (a, b) of journey 0.
    assert_eq!(get("shapley", 0, "a"), Some(1.5));
    // The null journey gets no row.
    assert!(m.keys().all(|k| k.1 != Some(2)));
    // Every player's rows sum to its credit.
    for g in &gaps {
        assert!(g.gap.abs() < 1e-12, "{g:?}");
    }
}

#[test]
fn markov_rows_sum_to_the_kpi_and_report_the_player_gaps() {
    let j = common::paths(&[
        (&["a", "b"], 5.0, 50.0, 10.0),
        (&["b"], 2.0, 20.0, 12.0),
        (&["a", "c"], 1.0, 10.0, 9.0),
        (&["c"], 0.0, 0.0, 15.0),
    ]);
    let r = attribute(&j, &specs(&["markov", r#"{"model":"shapley","game":"rate"}"#]), Dimension::Channel)
        .unwrap();
    let (m, gaps) = rows(&j, &r, &["markov"]);
    let total: f64 = m.values().sum();
    assert!((total - 8.0).abs() < 1e-9);
    // Journey 0 (a > b) is split in proportion to a's and b's Markov credit.
    let (ca, cb) = (common::credit(&r, "a").0, common::credit(&r, "b").0);
    let a0 = m[&("markov".to_owned(), Some(0), "a".to_owned())];
    assert!((a0 - 5.0 * ca / (ca + cb)).abs() < 1e-9);
    // Gaps are reported and sum to zero over the players (the KPI total is kept).
    assert_eq!(gaps.len(), 3);
    assert!(gaps.iter().map(|g| g.gap).sum::<f64>().abs() < 1e-9);
    assert!(gaps.iter().all(|g| g.model == "markov"));
    // Only the model asked for.
    assert!(m.keys().all(|k| k.0 == "markov"));
}

/// People with random touches of a, b, c over 60 days; each conversion's journey is every earlier touch.
fn people(seed: u64, n: usize) -> Journeys {
    let day = 86_400_000_000i64;
    let mut rng = SplitMix64::new(seed);
    let mut b = JourneysBuilder::with_times(&[]);
    let k = b.kpi_id("sales");
    let ids: Vec<u32> =
        ["a", "b", "c"].iter().map(|c| b.player_id(Dimension::Channel, c, 1).unwrap()).collect();
    let mut tl = Timelines::new((0, 60 * day), Some(n as u64 + 50), &[]).unwrap();
    let mut row = 0;
    for p in 0..n {
        let mut touches: Vec<(i64, u32)> =
            (0..1 + rng.below(4)).map(|_| (rng.below(60) as i64 * day, ids[rng.below(3)])).collect();
        touches.sort_unstable();
        let convs: Vec<i64> =
            if rng.next_f64() < 0.4 { vec![(rng.below(59) as i64 + 1) * day + 1] } else { vec![] };
        for &(t, c) in &touches {
            tl.push_touch([c, 0, 0, 0, 0, 0], t);
        }
        for &t in &convs {
            tl.push_conversion(k, t, 1.0, 10.0);
        }
        tl.finish_person();
        b.set_person(p as u32);
        let before: Vec<&(i64, u32)> =
            touches.iter().filter(|x| convs.first().is_none_or(|&t| x.0 <= t)).collect();
        row += 1;
        if before.is_empty() {
            continue;
        }
        for &&(t, c) in &before {
            b.push_channel(c, Some(t));
        }
        let w = if convs.is_empty() {
            Weights { conversions: 0.0, value: 0.0, nulls: 1.0 }
        } else {
            Weights { conversions: 1.0, value: 10.0, nulls: 0.0 }
        };
        b.finish_journey(row, k, w, Some(convs.first().copied().unwrap_or(before.last().unwrap().0)))
            .unwrap();
    }
    b.set_timelines(tl);
    b.build()
}

#[test]
fn hazard_rows_are_per_conversion_and_sum_to_every_conversion() {
    let j = people(4, 400);
    let r = attribute(&j, &specs(&["additive_hazard", "last_touch"]), Dimension::Channel).unwrap();
    let mut by_record: HashMap<(i64, i64), f64> = HashMap::new();
    let mut n_rows = 0;
    let gaps = journey_credits(&j, &r, &["additive_hazard"], &Unattended, &mut |row| {
        assert!(row.journey.is_none());
        let Some(PersonKey::Int(p)) = row.person else { panic!("a person index") };
        *by_record.entry((p, row.time.unwrap())).or_insert(0.0) += row.conversions;
        n_rows += 1;
    })
    .unwrap();
    // Each conversion record's rows (players and baseline) sum to its one conversion.
    let conversions = j.timelines().unwrap().conversions_of(0).0;
    assert_eq!(by_record.len() as f64, conversions);
    assert!(by_record.values().all(|s| (s - 1.0).abs() < 1e-9));
    assert!(n_rows > by_record.len());
    // Without lift tests, every player's (and the baseline's) rows sum to its credit.
    for g in &gaps {
        assert!(g.gap.abs() < 1e-6 * g.credit.abs().max(1.0), "{g:?}");
    }
    assert!(gaps.iter().any(|g| g.player == "(baseline)"));
}

#[test]
fn hazard_rows_read_the_kept_fit_and_equal_a_refit() {
    // The attribution keeps the fit (per KPI), and the rows from it equal the rows of a fit again,
    // with each baseline: the kept parameters are the fit's, bit for bit.
    let j = people(5, 300);
    for baseline in ["constant", "activity", "exposures"] {
        let spec = format!(r#"{{"model": "additive_hazard", "baseline": "{baseline}"}}"#);
        let r = attribute(&j, &specs(&[spec.as_str()]), Dimension::Channel).unwrap();
        assert_eq!(r.states.len(), 1, "{baseline}");
        let mut refit = r.clone();
        refit.states.clear();
        let all = |r: &Attribution| {
            let mut v = Vec::new();
            journey_credits(&j, r, &[], &Unattended, &mut |row| {
                v.push((row.time, row.player.to_owned(), row.conversions.to_bits(), row.value.to_bits()))
            })
            .unwrap();
            v
        };
        let kept = all(&r);
        assert!(!kept.is_empty());
        assert_eq!(kept, all(&refit), "{baseline}");
        // A kept fit of another baseline (other groups), or unreadable, is refused, not applied.
        let mut other = r.clone();
        let another = match baseline {
            "activity" => "constant",
            "constant" => "exposures",
            _ => "constant",
        };
        let spec2 = format!(r#"{{"model": "additive_hazard", "baseline": "{another}"}}"#);
        other.states = attribute(&j, &specs(&[spec2.as_str()]), Dimension::Channel).unwrap().states;
        let e = journey_credits(&j, &other, &[], &Unattended, &mut |_| {}).unwrap_err();
        assert!(e.to_string().contains("does not match these journeys"), "{e}");
        other.states[0].state = vec![7, 7, 7];
        let e = journey_credits(&j, &other, &[], &Unattended, &mut |_| {}).unwrap_err();
        assert!(e.to_string().contains("not readable"), "{e}");
    }
}

#[test]
fn a_model_that_was_not_run_is_a_typed_error() {
    let j = common::paths(&[(&["a"], 1.0, 0.0, 1.0)]);
    let r = attribute(&j, &specs(&["linear"]), Dimension::Channel).unwrap();
    let e = journey_credits(&j, &r, &["markov"], &Unattended, &mut |_| {}).unwrap_err();
    assert!(matches!(e, Error::InvalidOption { option: "model", .. }), "{e}");
    // Journeys that are not the attribution's.
    let other = common::paths(&[(&["zz"], 1.0, 0.0, 1.0)]);
    let e = journey_credits(&other, &r, &[], &Unattended, &mut |_| {}).unwrap_err();
    assert!(matches!(e, Error::InvalidOption { option: "journeys", .. }), "{e}");
}

#[test]
fn hazard_refits_from_a_warm_start_reach_the_same_optimum() {
    use touchpoint_core::{KpiView, Reweight};
    let j = people(9, 600);
    let spec = ModelSpec::from_name("additive_hazard").unwrap();
    let model = spec.model();
    let players = j.player_column(Dimension::Channel);
    let names = j.player_names(Dimension::Channel);
    let view = KpiView::new(&j, 0, None, &players, &names);
    let warm = model.warm_start(&view, &Unattended).unwrap();
    assert!(warm.is_some());
    // A resample of people (Poisson(1) each), fitted cold and from the whole data's fit.
    let mut rng = SplitMix64::new(5);
    let w: Vec<f64> = (0..j.timelines().unwrap().persons()).map(|_| rng.poisson(1.0) as f64).collect();
    let persons = j.persons().unwrap();
    let scale = |x: &[f64]| x.iter().zip(persons).map(|(v, &p)| v * w[p as usize]).collect::<Vec<f64>>();
    let rw = Reweight {
        conversions: scale(j.conversions()),
        value: scale(j.values()),
        nulls: scale(j.nulls()),
        persons: Some(w.clone()),
        unseen: 47.0,
    };
    let resample = view.with_reweight(&rw);
    let cold = model.credit(&resample, &Unattended).unwrap();
    let warmed = model.credit_from(&resample, warm.as_deref(), &Unattended).unwrap();
    // Both stop when the Newton decrement is below the fit's tolerance: equal to about 1e-5.
    for (a, b) in cold.conversions.iter().zip(&warmed.conversions) {
        assert!((a - b).abs() < 1e-4 * a.abs().max(1.0), "{a} vs {b}");
    }
    let (a, b) = (cold.baseline.unwrap().0, warmed.baseline.unwrap().0);
    assert!((a - b).abs() < 1e-4 * a.max(1.0));
    // The resample differs from the whole data (the test is not vacuous).
    let whole = model.credit(&view, &Unattended).unwrap();
    assert!(whole.conversions.iter().zip(&cold.conversions).any(|(x, y)| (x - y).abs() > 1e-3));
}
