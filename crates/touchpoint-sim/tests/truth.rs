//! Determinism and the truths: same seed, same journeys and truth bit for bit whatever the threads;
//! a channel without lift has zero truth; additive scenarios have equal removal and Shapley truths.
use touchpoint_core::{Dimension, Journeys, Unattended};
use touchpoint_sim::{simulate, simulate_with, SimParams, Simulation, BASELINE_ROW};

type Flat =
    (Vec<(u32, Vec<u32>, Vec<i64>, u64, u64, u64, Option<i64>)>, Vec<(String, String, u64, u64)>, Vec<u64>);

/// Every journey field, floats as bits, plus the unattributed rows and the input touches.
fn flat(j: &Journeys) -> Flat {
    let rows = j
        .iter()
        .map(|r| {
            (
                r.kpi,
                r.channels.to_vec(),
                r.times.expect("times").to_vec(),
                r.conversions.to_bits(),
                r.value.to_bits(),
                r.nulls.to_bits(),
                r.conversion_time,
            )
        })
        .collect();
    let unattributed = j
        .unattributed()
        .iter()
        .map(|u| (u.kpi.clone(), u.reason.clone(), u.conversions.to_bits(), u.value.to_bits()))
        .collect();
    let touches = j.input_touches(Dimension::Channel).iter().map(|t| t.to_bits()).collect();
    (rows, unattributed, touches)
}

type TruthBits = Vec<(String, String, [u64; 5], Option<u64>, Option<u64>)>;

fn truth_bits(s: &Simulation) -> TruthBits {
    s.truth
        .iter()
        .map(|r| {
            (
                r.kpi.clone(),
                r.channel.clone(),
                [r.removal, r.shapley, r.removal_value, r.shapley_value, r.shapley_se].map(f64::to_bits),
                r.removal_share.map(f64::to_bits),
                r.shapley_share.map(f64::to_bits),
            )
        })
        .collect()
}

#[test]
fn same_seed_same_output_whatever_the_threads() {
    for name in ["synergy", "social_care"] {
        // 10,000 people: three blocks, the last one short.
        let p = SimParams { people: 10_000, seed: 42, ..SimParams::scenario(name).unwrap() };
        let a = simulate(&p).unwrap();
        let b = simulate(&p).unwrap();
        let c = simulate_with(&p, 3, &Unattended).unwrap();
        let d = simulate_with(&p, 2, &Unattended).unwrap();
        let fa = flat(&a.journeys);
        assert!(fa.0.len() > 1_000, "{name}: {} journeys", fa.0.len());
        assert!(fa.0.iter().any(|r| r.3 > 0) && fa.0.iter().any(|r| r.5 > 0), "conversions and nulls");
        for other in [&b, &c, &d] {
            assert!(fa == flat(&other.journeys), "{name}: journeys differ");
            assert_eq!(truth_bits(&a), truth_bits(other), "{name}: truth differs");
        }
        let e = simulate(&SimParams { seed: 43, ..p }).unwrap();
        assert!(fa != flat(&e.journeys), "another seed gives other journeys");
    }
}

#[test]
fn journeys_follow_the_event_log_rule() {
    let p = SimParams { people: 3_000, seed: 5, ..SimParams::scenario("baseline").unwrap() };
    let sim = simulate(&p).unwrap();
    let lb = (p.lookback_days * 86_400e6) as i64;
    // Rebuild the journeys from the people and compare.
    let mut expected = Vec::new();
    let mut unattributed = 0.0;
    for i in 0..p.people {
        let person = touchpoint_sim::person(&p, i).unwrap();
        let times: Vec<i64> = person.exposures.iter().map(|e| e.time_us).collect();
        let mut t_prev = i64::MIN;
        let mut k = 0;
        while k < person.conversions.len() {
            let t = person.conversions[k].time_us;
            let mut n = 0.0;
            while k < person.conversions.len() && person.conversions[k].time_us == t {
                n += 1.0;
                k += 1;
            }
            let lower = (t - lb).max(t_prev);
            let window: Vec<u32> = person
                .exposures
                .iter()
                .filter(|e| e.time_us > lower && e.time_us <= t)
                .map(|e| e.channel)
                .collect();
            t_prev = t;
            if window.is_empty() {
                unattributed += n;
            } else {
                expected.push((window, n, 0.0));
            }
        }
        if let Some(&last) = times.last() {
            let lower = t_prev.max(last - lb);
            let window: Vec<u32> =
                person.exposures.iter().filter(|e| e.time_us > lower).map(|e| e.channel).collect();
            if !window.is_empty() {
                expected.push((window, 0.0, 1.0));
            }
        }
    }
    let got: Vec<(Vec<u32>, f64, f64)> =
        sim.journeys.iter().map(|j| (j.channels.to_vec(), j.conversions, j.nulls)).collect();
    assert_eq!(got, expected);
    let u = &sim.journeys.unattributed()[0];
    assert_eq!(
        (u.kpi.as_str(), u.reason.as_str(), u.conversions),
        ("sales", "no_touch_in_window", unattributed)
    );
    // Every conversion event is either in a journey or unattributed; the truth accounts for them all.
    let total: f64 = sim.journeys.conversions().iter().sum::<f64>() + unattributed;
    let truth: f64 = sim.truth.iter().map(|r| r.shapley).sum();
    assert_eq!(total, truth);
}

#[test]
fn a_channel_without_lift_has_exactly_zero_truth() {
    for name in ["baseline", "selection_bias", "long_journeys", "synergy"] {
        let mut p = SimParams { people: 20_000, seed: 7, ..SimParams::scenario(name).unwrap() };
        p.channels[3].lift.clear(); // display: seen as often as before, lifts nothing
        let sim = simulate(&p).unwrap();
        let r = sim.truth_of("sales", "display").unwrap();
        assert_eq!((r.removal, r.shapley, r.removal_value, r.shapley_value), (0.0, 0.0, 0.0, 0.0), "{name}");
        assert_eq!(r.shapley_share, Some(0.0));
        // ... yet display sits in journeys, so models credit it.
        let display = sim.journeys.input_touches(Dimension::Channel)[3];
        assert!(display > 1_000.0, "{name}: {display}");
    }
}

#[test]
fn additive_scenarios_have_equal_truths_and_synergy_does_not() {
    for name in ["baseline", "selection_bias", "long_journeys", "social_care", "many_channels"] {
        let p = SimParams { people: 20_000, seed: 3, ..SimParams::scenario(name).unwrap() };
        assert!(p.is_additive());
        let sim = simulate(&p).unwrap();
        for r in &sim.truth {
            assert!((r.removal - r.shapley).abs() < 1e-9, "{name} {r:?}");
            assert!(
                (r.removal_value - r.shapley_value).abs() < 1e-9 * r.shapley_value.max(1.0),
                "{name} {r:?}"
            );
            assert_eq!(r.shapley_se, 0.0);
            assert_eq!(r.channel == BASELINE_ROW, r.shapley_share.is_none(), "{name} {r:?}");
        }
    }
    let p = SimParams { people: 20_000, seed: 3, ..SimParams::scenario("synergy").unwrap() };
    assert!(!p.is_additive());
    let sim = simulate(&p).unwrap();
    let search = sim.truth_of("sales", "search").unwrap();
    let facebook = sim.truth_of("sales", "facebook").unwrap();
    // Synergy events are shared between search and facebook by Shapley, but each alone is pivotal.
    assert!(search.removal > search.shapley + 5.0, "{search:?}");
    assert!(facebook.removal > facebook.shapley + 5.0, "{facebook:?}");
    // Efficiency: Shapley truths add up to every conversion a channel caused.
    let channels: f64 = sim.truth.iter().filter(|r| r.channel != BASELINE_ROW).map(|r| r.shapley).sum();
    let base = sim.truth_of("sales", BASELINE_ROW).unwrap().shapley;
    let observed: f64 = sim.journeys.conversions().iter().sum::<f64>()
        + sim.journeys.unattributed().iter().map(|u| u.conversions).sum::<f64>();
    assert!((channels + base - observed).abs() < 1e-6, "{channels} + {base} vs {observed}");
    let shares: f64 = sim.truth.iter().filter_map(|r| r.shapley_share).sum();
    assert!((shares - 1.0).abs() < 1e-12);
}

/// Interrupts at the n-th checkpoint and records progress.
struct StopAfter {
    checkpoints: std::sync::atomic::AtomicUsize,
    stop_at: usize,
    last: std::sync::Mutex<Option<(String, u64, u64)>>,
}

impl touchpoint_core::Control for StopAfter {
    fn checkpoint(&self) -> touchpoint_core::Result<()> {
        let n = self.checkpoints.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if n >= self.stop_at {
            Err(touchpoint_core::Error::Interrupted)
        } else {
            Ok(())
        }
    }

    fn progress(&self, stage: &str, done: u64, total: u64) {
        *self.last.lock().unwrap() = Some((stage.to_owned(), done, total));
    }
}

#[test]
fn long_runs_report_progress_and_can_be_interrupted() {
    let p = SimParams { people: 9_000, ..SimParams::scenario("baseline").unwrap() };
    let control = StopAfter { checkpoints: 0.into(), stop_at: usize::MAX, last: None.into() };
    simulate_with(&p, 2, &control).unwrap();
    assert_eq!(control.last.lock().unwrap().as_ref().map(|l| l.0.as_str()), Some("journeys"));
    assert!(control.checkpoints.load(std::sync::atomic::Ordering::SeqCst) >= 3, "one checkpoint per block");
    for threads in [1, 2] {
        let control = StopAfter { checkpoints: 0.into(), stop_at: 1, last: None.into() };
        let e = simulate_with(&p, threads, &control).unwrap_err();
        assert!(matches!(e, touchpoint_sim::Error::Core(touchpoint_core::Error::Interrupted)), "{e}");
        assert_eq!(e.to_string(), "interrupted");
    }
}

mod properties {
    use proptest::prelude::*;
    use touchpoint_sim::{simulate, SimParams, BASELINE_ROW};

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]

        /// Without synergy, whatever the rates, lifts, half-lives, diminishing returns and selection
        /// bias: removal truth equals Shapley truth, a lift-less channel gets exactly zero, and the
        /// truths add up to every conversion event.
        #[test]
        fn additive_truths_agree(
            seed in 0u64..1_000,
            rates in proptest::collection::vec(0.0f64..0.1, 8),
            lifts in proptest::collection::vec(0.0f64..0.02, 8),
            half_lives in proptest::collection::vec(0.2f64..10.0, 8),
            diminishing in 0.0f64..2.0,
            elasticity in -1.0f64..2.0,
            zero in 0usize..8,
        ) {
            let mut p = SimParams { people: 1_500, seed, ..SimParams::scenario("baseline").unwrap() };
            for (i, c) in p.channels.iter_mut().enumerate() {
                c.rate = rates[i];
                c.half_life_days = half_lives[i];
                c.diminishing = diminishing;
                c.intent_elasticity = elasticity;
                c.lift.insert("sales".into(), if i == zero { 0.0 } else { lifts[i] });
            }
            let sim = simulate(&p).unwrap();
            for r in &sim.truth {
                prop_assert!((r.removal - r.shapley).abs() < 1e-9, "{:?}", r);
            }
            let z = &sim.truth[zero];
            prop_assert_eq!((z.removal, z.shapley, z.shapley_value), (0.0, 0.0, 0.0));
            let events: f64 = sim.journeys.conversions().iter().sum::<f64>()
                + sim.journeys.unattributed().iter().map(|u| u.conversions).sum::<f64>();
            let truth: f64 = sim.truth.iter().map(|r| r.shapley).sum();
            prop_assert_eq!(events, truth);
            prop_assert!(sim.truth_of("sales", BASELINE_ROW).is_some());
        }
    }
}
