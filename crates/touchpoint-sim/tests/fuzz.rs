//! Fuzzing the simulator's parameter file on stable Rust (proptest): a built-in scenario written as
//! TOML, with random numbers put into random places (zeros, negatives, NaN, infinities, huge values),
//! or random text, must load and simulate (a hundred people) or give a typed error, never panic.
//! Run by `make fuzz` with `FUZZ_CASES` cases (default 2,000); not part of `make test`.
use proptest::prelude::*;
use touchpoint_sim::{simulate, SimParams, SCENARIO_NAMES};

fn cases() -> u32 {
    std::env::var("FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2_000)
}

/// Every numeric leaf of `v`, as a path of keys and indices.
fn leaves(v: &toml::Value, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match v {
        toml::Value::Table(t) => {
            for (k, x) in t {
                path.push(k.clone());
                leaves(x, path, out);
                path.pop();
            }
        }
        toml::Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                path.push(i.to_string());
                leaves(x, path, out);
                path.pop();
            }
        }
        toml::Value::Integer(_) | toml::Value::Float(_) | toml::Value::Boolean(_) => out.push(path.clone()),
        _ => {}
    }
}

fn set(v: &mut toml::Value, path: &[String], new: toml::Value) {
    let mut cur = v;
    for k in path {
        cur = match cur {
            toml::Value::Table(t) => t.get_mut(k).expect("a key of the path"),
            toml::Value::Array(a) => &mut a[k.parse::<usize>().expect("an index")],
            _ => return,
        };
    }
    *cur = new;
}

fn value() -> impl Strategy<Value = toml::Value> {
    prop_oneof![
        1 => Just(toml::Value::Integer(0)),
        1 => Just(toml::Value::Integer(-1)),
        1 => Just(toml::Value::Integer(i64::MAX)),
        1 => Just(toml::Value::Float(f64::NAN)),
        1 => Just(toml::Value::Float(f64::INFINITY)),
        1 => Just(toml::Value::Float(-0.5)),
        1 => Just(toml::Value::Float(1e300)),
        1 => Just(toml::Value::Boolean(true)),
        1 => Just(toml::Value::String("x".into())),
        // Mostly values a scenario may hold, so that most files simulate.
        12 => (0.0f64..3.0).prop_map(toml::Value::Float),
        6 => (1i64..5).prop_map(toml::Value::Integer),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    #[ignore = "fuzzing: make fuzz"]
    fn fuzz_scenario_files(
        scenario in 0usize..SCENARIO_NAMES.len(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), value()), 1..4),
        raw in prop::option::weighted(0.1, "\\PC{0,60}"),
    ) {
        let text = match raw {
            Some(raw) => raw,
            None => {
                let mut p = SimParams::scenario(SCENARIO_NAMES[scenario]).unwrap();
                // A small cohort and few truth permutations: each case simulates in milliseconds.
                p.people = 100;
                p.truth_samples = 20;
                let mut v = toml::Value::try_from(&p).unwrap();
                let mut all = Vec::new();
                leaves(&v, &mut Vec::new(), &mut all);
                for (at, new) in edits {
                    let path = at.get(&all).clone();
                    // Keep the cohort small: a huge `people` is valid, and slow, not a crash.
                    if path.last().is_some_and(|k| k == "people" || k == "truth_samples") {
                        continue;
                    }
                    set(&mut v, &path, new);
                }
                toml::to_string(&v).unwrap_or_default()
            }
        };
        if let Ok(p) = SimParams::from_toml(&text) {
            if p.people <= 2_000 && p.truth_samples <= 100 {
                if let Ok(sim) = simulate(&p) {
                    // The truth accounts for every conversion: channel rows plus the baseline per KPI.
                    for row in &sim.truth {
                        prop_assert!(row.shapley.is_finite() && row.removal.is_finite());
                    }
                }
            }
        }
    }
}
