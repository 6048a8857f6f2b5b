//! Shapley: hand-computed games, the axioms, brute-force permutation enumeration, sampling against
//! exact, non-negativity, and typed errors.
mod common;

use std::collections::HashMap;
use touchpoint_core::Weights;

use common::{close, credit, paths, run};
use touchpoint_core::{attribute, Attribution, Dimension, Journeys, JourneysBuilder, ModelSpec};
use touchpoint_util::rng::SplitMix64;

#[test]
fn conversions_game_by_hand() {
    let j = paths(&[(&["a", "b", "a"], 2.0, 8.0, 0.0), (&["a"], 1.0, 1.0, 3.0)]);
    let r = run(&j, r#"{"model":"shapley"}"#);
    assert_eq!(credit(&r, "a"), (2.0, 5.0));
    assert_eq!(credit(&r, "b"), (1.0, 4.0));
}

#[test]
fn rate_game_by_hand() {
    // r({a}) = 1/4, r({b}) = 1/2, r({a,b}) = 3/4 -> phi = (1/4, 1/2); 5 conversions -> 5/3, 10/3.
    let j = paths(&[(&["a"], 1.0, 0.0, 3.0), (&["b"], 1.0, 0.0, 1.0), (&["b", "a"], 3.0, 0.0, 1.0)]);
    let r = run(&j, r#"{"model":"shapley","game":"rate"}"#);
    assert!(close(credit(&r, "a").0, 5.0 / 3.0, 1e-12) && close(credit(&r, "b").0, 10.0 / 3.0, 1e-12));
    assert!(r.standard_errors.is_empty());
}

#[test]
fn ordered_books_credit_at_first_positions() {
    let j = paths(&[(&["a", "a", "b"], 2.0, 4.0, 0.0), (&["b", "a"], 1.0, 0.0, 0.0)]);
    let r = run(&j, r#"{"model":"shapley","ordered":true}"#);
    let pc: Vec<(&str, u32, f64)> =
        r.position_credits.iter().map(|p| (p.player.as_str(), p.position, p.conversions)).collect();
    assert_eq!(pc, vec![("a", 1, 1.0), ("a", 2, 0.5), ("b", 1, 0.5), ("b", 3, 1.0)]);
    // The main table sums over positions and equals the unordered result.
    let plain = run(&j, r#"{"model":"shapley"}"#);
    assert_eq!(credit(&r, "a"), credit(&plain, "a"));
}

/// A raw journey: player indices, conversions, value, nulls.
type Raw = (Vec<usize>, f64, f64, f64);

/// Random journeys over `m` players with integer weights; nulls on every row so `rate` has support.
fn random_journeys(seed: u64, m: usize, rows: usize) -> (Journeys, Vec<Raw>) {
    let mut rng = SplitMix64::new(seed);
    let names: Vec<String> = (0..m).map(|i| format!("p{i}")).collect();
    let mut b = JourneysBuilder::new(&[]);
    let mut raw = Vec::new();
    for i in 0..rows {
        let len = 1 + rng.below(4);
        let p: Vec<usize> = (0..len).map(|_| rng.below(m)).collect();
        let c = rng.below(4) as f64;
        let v = c * (1 + rng.below(9)) as f64;
        let n = (1 + rng.below(4)) as f64;
        let ps: Vec<&str> = p.iter().map(|&x| names[x].as_str()).collect();
        b.push_path(i + 1, "sales", &ps, Weights { conversions: c, value: v, nulls: n }).unwrap();
        raw.push((p, c, v, n));
    }
    (b.build(), raw)
}

/// Shapley values by enumerating every permutation of `m` players.
fn brute_force(m: usize, v: impl Fn(u32) -> f64) -> Vec<f64> {
    let mut phi = vec![0.0; m];
    let mut perm: Vec<usize> = (0..m).collect();
    let mut count = 0.0;
    // Heap's algorithm.
    fn visit(perm: &[usize], v: &dyn Fn(u32) -> f64, phi: &mut [f64]) {
        let mut mask = 0u32;
        for &i in perm {
            let before = v(mask);
            mask |= 1 << i;
            phi[i] += v(mask) - before;
        }
    }
    let mut c = vec![0usize; m];
    visit(&perm, &v, &mut phi);
    count += 1.0;
    let mut i = 0;
    while i < m {
        if c[i] < i {
            if i % 2 == 0 {
                perm.swap(0, i);
            } else {
                perm.swap(c[i], i);
            }
            visit(&perm, &v, &mut phi);
            count += 1.0;
            c[i] += 1;
            i = 0;
        } else {
            c[i] = 0;
            i += 1;
        }
    }
    phi.iter().map(|p| p / count).collect()
}

fn set_mask(p: &[usize]) -> u32 {
    p.iter().fold(0, |m, &i| m | 1 << i)
}

fn shapley_of(r: &Attribution, player: usize) -> (f64, f64) {
    credit(r, &format!("p{player}"))
}

#[test]
fn equals_brute_force_enumeration_up_to_eight_players() {
    for m in 2..=8 {
        for seed in 0..3 {
            let (j, raw) = random_journeys(seed * 100 + m as u64, m, 30);
            let present: Vec<bool> = (0..m).map(|i| raw.iter().any(|r| r.0.contains(&i))).collect();
            // conversions game
            let v_conv = |s: u32| raw.iter().filter(|r| set_mask(&r.0) & !s == 0).map(|r| r.1).sum::<f64>();
            let v_val = |s: u32| raw.iter().filter(|r| set_mask(&r.0) & !s == 0).map(|r| r.2).sum::<f64>();
            let phi = brute_force(m, v_conv);
            let phi_v = brute_force(m, v_val);
            let r = run(&j, r#"{"model":"shapley"}"#);
            let ro = run(&j, r#"{"model":"shapley","ordered":true}"#);
            for i in (0..m).filter(|&i| present[i]) {
                assert!(
                    close(shapley_of(&r, i).0, phi[i], 1e-9),
                    "m={m} p{i}: {:?} vs {}",
                    shapley_of(&r, i),
                    phi[i]
                );
                assert!(close(shapley_of(&r, i).1, phi_v[i], 1e-9));
                let by_pos: f64 = ro
                    .position_credits
                    .iter()
                    .filter(|p| p.player == format!("p{i}"))
                    .map(|p| p.conversions)
                    .sum();
                assert!(close(by_pos, phi[i], 1e-9), "ordered m={m} p{i}: {by_pos} vs {}", phi[i]);
                assert!(close(shapley_of(&ro, i).0, phi[i], 1e-9));
            }
            // rate game
            let mut sets: HashMap<u32, (f64, f64, f64)> = HashMap::new();
            for (p, c, v, n) in &raw {
                let e = sets.entry(set_mask(p)).or_insert((0.0, 0.0, 0.0));
                e.0 += c;
                e.1 += v;
                e.2 += n;
            }
            let rate = |s: u32, value: bool| {
                sets.iter()
                    .filter(|(t, w)| *t & !s == 0 && w.0 + w.2 >= 1.0)
                    .map(|(_, w)| if value { w.1 } else { w.0 } / (w.0 + w.2))
                    .fold(0.0, f64::max)
            };
            let phi = brute_force(m, |s| rate(s, false));
            let phi_v = brute_force(m, |s| rate(s, true));
            let (sum, sum_v): (f64, f64) = (phi.iter().sum(), phi_v.iter().sum());
            let conv: f64 = raw.iter().map(|r| r.1).sum();
            let value: f64 = raw.iter().map(|r| r.2).sum();
            let r = run(&j, r#"{"model":"shapley","game":"rate"}"#);
            for i in (0..m).filter(|&i| present[i]) {
                let (c, v) = shapley_of(&r, i);
                assert!(
                    close(c, conv * phi[i] / sum, 1e-9),
                    "rate m={m} p{i}: {c} vs {}",
                    conv * phi[i] / sum
                );
                assert!(close(v, value * phi_v[i] / sum_v, 1e-9));
                assert!(c >= 0.0 && v >= 0.0);
            }
        }
    }
}

#[test]
fn axioms_efficiency_symmetry_null_player_additivity() {
    // Efficiency: credits sum to the KPI's conversions and value, both games.
    let (j, raw) = random_journeys(5, 7, 40);
    let conv: f64 = raw.iter().map(|r| r.1).sum();
    let value: f64 = raw.iter().map(|r| r.2).sum();
    for spec in [r#"{"model":"shapley"}"#, r#"{"model":"shapley","game":"rate"}"#] {
        let r = run(&j, spec);
        let (c, v) = r.credits.iter().fold((0.0, 0.0), |a, x| (a.0 + x.conversions, a.1 + x.value));
        assert!(close(c, conv, 1e-9) && close(v, value, 1e-9), "{spec}");
    }
    // Symmetry: a and b always appear together -> equal credit.
    let j =
        paths(&[(&["a", "b"], 3.0, 3.0, 1.0), (&["b", "a", "c"], 2.0, 2.0, 2.0), (&["c"], 1.0, 1.0, 4.0)]);
    for spec in [r#"{"model":"shapley"}"#, r#"{"model":"shapley","game":"rate"}"#] {
        let r = run(&j, spec);
        assert!(close(credit(&r, "a").0, credit(&r, "b").0, 1e-12), "{spec}");
    }
    // Null player in the rate game: d adds nothing to any set it joins (its sets have the rate of the
    // same set without it, and d alone converts nothing).
    let j = paths(&[
        (&["a"], 1.0, 0.0, 3.0),
        (&["a", "d"], 1.0, 0.0, 3.0),
        (&["d"], 0.0, 0.0, 2.0),
        (&["b"], 2.0, 0.0, 2.0),
    ]);
    let r = run(&j, r#"{"model":"shapley","game":"rate"}"#);
    assert!(credit(&r, "d").0.abs() < 1e-12, "{:?}", credit(&r, "d"));
    // Null player in the conversions game: only in non-converting journeys.
    let j = paths(&[(&["a"], 2.0, 0.0, 0.0), (&["z"], 0.0, 0.0, 5.0)]);
    assert_eq!(credit(&run(&j, r#"{"model":"shapley"}"#), "z").0, 0.0);
    // Additivity of the conversions game: two disjoint KPIs' data add up when merged into one.
    let x = paths(&[(&["a", "b"], 1.0, 0.0, 0.0), (&["b"], 2.0, 0.0, 0.0)]);
    let y = paths(&[(&["a", "c"], 3.0, 0.0, 0.0), (&["a"], 1.0, 0.0, 0.0)]);
    let (rx, ry) = (run(&x, r#"{"model":"shapley"}"#), run(&y, r#"{"model":"shapley"}"#));
    let rxy = run(&x.clone().merge(y).unwrap(), r#"{"model":"shapley"}"#);
    for p in ["a", "b", "c"] {
        assert!(close(credit(&rxy, p).0, credit(&rx, p).0 + credit(&ry, p).0, 1e-12), "{p}");
    }
}

#[test]
fn sampled_rate_is_within_four_standard_errors_of_exact_at_twelve_players() {
    let (j, _) = random_journeys(42, 12, 400);
    let exact = run(&j, r#"{"model":"shapley","game":"rate","exact":true}"#);
    let sampled = run(&j, r#"{"model":"shapley","game":"rate","exact":false,"samples":4000,"seed":3}"#);
    assert_eq!(sampled.standard_errors.len(), 12);
    for se in &sampled.standard_errors {
        let e = exact.conversions_of("shapley", "sales", &se.player).unwrap();
        let s = sampled.conversions_of("shapley", "sales", &se.player).unwrap();
        assert!((e - s).abs() <= 4.0 * se.se + 1e-9, "{}: exact {e}, sampled {s}, se {}", se.player, se.se);
        assert!(s >= 0.0);
    }
    // Deterministic by seed.
    let again = run(&j, r#"{"model":"shapley","game":"rate","exact":false,"samples":4000,"seed":3}"#);
    assert_eq!(sampled.credits, again.credits);
}

#[test]
fn typed_errors() {
    let no_nulls = paths(&[(&["a"], 1.0, 0.0, 0.0)]);
    let rate = ModelSpec::from_json(r#"{"model":"shapley","game":"rate"}"#).unwrap();
    let e = attribute(&no_nulls, std::slice::from_ref(&rate), Dimension::Channel).unwrap_err().to_string();
    assert!(e.contains("the rate game needs null (non-converting) journeys"), "{e}");
    let empty = JourneysBuilder::new(&[]).build();
    let e = attribute(&empty, &[ModelSpec::from_name("shapley").unwrap()], Dimension::Channel).unwrap_err();
    assert_eq!(e.to_string(), "no journeys to attribute");
    let (many, _) = random_journeys(1, 21, 200);
    let exact = ModelSpec::from_json(r#"{"model":"shapley","game":"rate","exact":true}"#).unwrap();
    let e = attribute(&many, &[exact], Dimension::Channel).unwrap_err().to_string();
    assert!(e.contains("has 21 players; exact rate Shapley is limited to 20"), "{e}");
    let ordered = ModelSpec::from_json(r#"{"model":"shapley","game":"rate","ordered":true}"#).unwrap();
    let e = attribute(&no_nulls, &[ordered], Dimension::Channel).unwrap_err().to_string();
    assert!(e.contains("the ordered variant exists for the conversions game only"), "{e}");
    let mut b = JourneysBuilder::new(&[]);
    let e = b
        .push_path(3, "sales", &["a", "(start)"], Weights { conversions: 1.0, value: 0.0, nulls: 0.0 })
        .unwrap_err()
        .to_string();
    assert!(e.contains("`(start)` in row 3 is reserved"), "{e}");
}
