//! Markov removal effects: a hand-solved chain, exact solves against a dense solve written here,
//! removal effects in [0, 1], conservation, warnings.
mod common;

use common::{close, credit, paths, run};
use proptest::prelude::*;
use touchpoint_core::markov::Chain;
use touchpoint_core::Weights;
use touchpoint_util::rng::SplitMix64;

#[test]
fn hand_solved_order_one_chain() {
    // start -> a (w 2), start -> b (w 2); a -> b 1, a -> null 1; b -> conv 2, b -> null 1.
    // x_b = 2/3, x_a = 1/3, P = 1/2. Without a: P = 1/3 (RE 1/3); without b: 0 (RE 1).
    let j = paths(&[(&["a", "b"], 1.0, 10.0, 0.0), (&["a"], 0.0, 0.0, 1.0), (&["b"], 1.0, 20.0, 1.0)]);
    let r = run(&j, r#"{"model":"markov"}"#);
    let (ca, va) = credit(&r, "a");
    let (cb, vb) = credit(&r, "b");
    assert!(close(ca, 0.5, 1e-12) && close(cb, 1.5, 1e-12), "{ca} {cb}");
    assert!(close(va, 7.5, 1e-12) && close(vb, 22.5, 1e-12), "{va} {vb}");
    let re: Vec<_> = r.removal_effects.iter().map(|e| (e.player.as_str(), e.removal_effect)).collect();
    assert!(close(re[0].1, 1.0 / 3.0, 1e-12) && close(re[1].1, 1.0, 1e-12), "{re:?}");
    let t = |from: &str, to: &str| {
        r.transitions.iter().find(|t| t.from == from && t.to == to).map(|t| t.probability)
    };
    assert_eq!(t("(start)", "a"), Some(0.5));
    assert_eq!(t("a", "(null)"), Some(0.5));
    assert!(close(t("b", "(conversion)").unwrap(), 2.0 / 3.0, 1e-15));
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}

#[test]
fn without_nulls_the_chain_warns() {
    let j = paths(&[(&["a", "b"], 1.0, 0.0, 0.0), (&["b"], 2.0, 0.0, 0.0)]);
    let r = run(&j, r#"{"model":"markov"}"#);
    assert!(r.warnings.iter().any(|w| w.contains("converting paths only")), "{:?}", r.warnings);
    let total: f64 = r.credits.iter().map(|c| c.conversions).sum();
    assert!(close(total, 3.0, 1e-12));
}

#[test]
fn higher_order_states_are_windows_named_by_players() {
    let j = paths(&[(&["a", "b", "c"], 1.0, 0.0, 1.0), (&["a"], 0.0, 0.0, 1.0)]);
    let r = run(&j, r#"{"model":"markov","order":2}"#);
    let names: Vec<(&str, &str)> = r.transitions.iter().map(|t| (t.from.as_str(), t.to.as_str())).collect();
    assert!(names.contains(&("(start)", "a > b")), "{names:?}");
    assert!(names.contains(&("a > b", "b > c")), "{names:?}");
    assert!(names.contains(&("(start)", "a")), "{names:?}");
    assert_eq!(r.models[0].label, "markov");
}

/// Random weighted paths over `m` players.
fn random_paths(seed: u64, rows: usize, m: usize) -> Vec<(Vec<u32>, f64, f64, f64)> {
    let mut rng = SplitMix64::new(seed);
    (0..rows)
        .map(|_| {
            let len = 1 + rng.below(6);
            let p: Vec<u32> = (0..len).map(|_| rng.below(m) as u32).collect();
            let c = if rng.next_f64() < 0.4 { (1 + rng.below(3)) as f64 } else { 0.0 };
            let n = (rng.below(4)) as f64 + if c == 0.0 { 1.0 } else { 0.0 };
            (p, c, c * 10.0 * rng.next_f64(), n)
        })
        .collect()
}

/// Absorption probabilities by Gaussian elimination on the dense (I - Q), written independently.
fn dense_reference(chain: &Chain, removed: &[bool]) -> Vec<f64> {
    let n = chain.len();
    let mut a = vec![vec![0.0; n + 1]; n];
    for s in 0..n {
        a[s][s] = 1.0;
        if removed[s] {
            continue;
        }
        for (t, p) in chain.successors(s) {
            if !removed[t] {
                a[s][t] -= p;
            }
        }
        a[s][n] = chain.absorption_step(s).0;
    }
    for k in 0..n {
        let piv = (k..n).max_by(|&i, &j| a[i][k].abs().total_cmp(&a[j][k].abs())).unwrap();
        a.swap(k, piv);
        let pivot = a[k].clone();
        for (i, row) in a.iter_mut().enumerate() {
            if i != k {
                let f = row[k] / pivot[k];
                for (x, p) in row[k..].iter_mut().zip(&pivot[k..]) {
                    *x -= f * p;
                }
            }
        }
    }
    (0..n).map(|s| a[s][n] / a[s][s]).collect()
}

#[test]
fn sparse_solve_matches_dense_solve_for_orders_one_to_three() {
    for order in 1..=3 {
        for seed in 0..5 {
            let rows = random_paths(seed * 10 + order as u64, 400, 6);
            let chain =
                Chain::estimate_rows(rows.iter().map(|(p, c, v, n)| (p.as_slice(), *c, *v, *n)), order);
            let mut rng = SplitMix64::new(seed);
            for trial in 0..4 {
                let removed: Vec<bool> =
                    (0..chain.len()).map(|_| trial > 0 && rng.next_f64() < 0.2).collect();
                let (x, _) = chain.solve_iterative(&removed).unwrap();
                let reference = dense_reference(&chain, &removed);
                for s in 0..chain.len() {
                    assert!(
                        (x[s] - reference[s]).abs() <= 1e-10,
                        "order {order} state {s}: {} vs {}",
                        x[s],
                        reference[s]
                    );
                }
                let (auto, _) = chain.solve(&removed).unwrap();
                for s in 0..chain.len() {
                    assert!((auto[s] - reference[s]).abs() <= 1e-10);
                }
            }
        }
    }
}

#[test]
fn base_probability_equals_the_empirical_conversion_rate() {
    for order in 1..=3 {
        let rows = random_paths(99 + order as u64, 500, 5);
        let chain = Chain::estimate_rows(rows.iter().map(|(p, c, v, n)| (p.as_slice(), *c, *v, *n)), order);
        let conv: f64 = rows.iter().map(|r| r.1).sum();
        let all: f64 = rows.iter().map(|r| r.1 + r.3).sum();
        assert!(close(chain.conversion_probability().unwrap(), conv / all, 1e-12));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn removal_effects_in_unit_interval_and_credit_conserved(seed in any::<u64>(), order in 1u32..4) {
        let rows = random_paths(seed, 60, 5);
        let names: Vec<String> = (0..5).map(|i| format!("p{i}")).collect();
        let mut b = touchpoint_core::JourneysBuilder::new(&[]);
        for (i, (p, c, v, n)) in rows.iter().enumerate() {
            let ps: Vec<&str> = p.iter().map(|&x| names[x as usize].as_str()).collect();
            b.push_path(i + 1, "sales", &ps, Weights { conversions: *c, value: *v, nulls: *n }).unwrap();
        }
        let j = b.build();
        let r = run(&j, &format!(r#"{{"model":"markov","order":{order}}}"#));
        let conv: f64 = rows.iter().map(|r| r.1).sum();
        let value: f64 = rows.iter().map(|r| r.2).sum();
        for e in &r.removal_effects {
            prop_assert!((0.0..=1.0).contains(&e.removal_effect) && (0.0..=1.0).contains(&e.value_removal_effect));
        }
        if conv > 0.0 {
            let c: f64 = r.credits.iter().map(|c| c.conversions).sum();
            let v: f64 = r.credits.iter().map(|c| c.value).sum();
            prop_assert!(close(c, conv, 1e-9), "{c} vs {conv}");
            prop_assert!(close(v, value, 1e-9), "{v} vs {value}");
        }
    }
}
