//! The additive-hazard model on hand-sized timelines: likelihood and credit computed by hand,
//! conservation with the baseline, and its typed errors.
use std::f64::consts::LN_2;
use touchpoint_core::Weights;

use touchpoint_core::hazard::log_likelihood;
use touchpoint_core::{
    attribute, AdditiveHazard, Baseline, Dimension, Journeys, JourneysBuilder, LiftTest, ModelSpec,
    Timelines, Values,
};

const DAY: i64 = 86_400_000_000;

/// Two people over [0, 10 days): person 0 sees `a` (id 0) on day 1 and `b` (id 1) on day 2 and
/// converts on days 3 and 5 (value 10 and 30); person 1 sees nothing and converts on day 4 (value 20).
/// One more person at risk has no event at all (population 3).
fn timelines() -> Timelines {
    let mut t = Timelines::new((0, 10 * DAY), Some(3), &[]).unwrap();
    t.push_touch([0, 0, 0, 0, 0, 0], DAY);
    t.push_touch([1, 0, 0, 0, 0, 0], 2 * DAY);
    t.push_conversion(0, 3 * DAY, 1.0, 10.0);
    t.push_conversion(0, 5 * DAY, 1.0, 30.0);
    t.finish_person();
    t.push_conversion(0, 4 * DAY, 1.0, 20.0);
    t.finish_person();
    t
}

/// The model of Zhang, Wei & Ren: one baseline rate for everybody.
fn constant() -> AdditiveHazard {
    AdditiveHazard { baseline: Baseline::Constant, ..AdditiveHazard::default() }
}

fn journeys() -> Journeys {
    let mut b = JourneysBuilder::with_times(&[]);
    let k = b.kpi_id("sales");
    let a = b.player_id(Dimension::Channel, "a", 1).unwrap();
    let bb = b.player_id(Dimension::Channel, "b", 2).unwrap();
    b.push_channel(a, Some(DAY));
    b.push_channel(bb, Some(2 * DAY));
    b.finish_journey(1, k, Weights { conversions: 1.0, value: 10.0, nulls: 0.0 }, Some(3 * DAY)).unwrap();
    b.add_unattributed(k, "unknown_person", 1.0, 20.0);
    b.set_timelines(timelines());
    b.build()
}

#[test]
fn likelihood_by_hand() {
    let (l0, ba, bb, ha, hb) = (0.1, 0.5, 0.2, 1.0, 2.0);
    let (wa, wb) = (LN_2 / ha, LN_2 / hb);
    let lam = |s: f64| l0 + ba * wa * (-wa * (s - 1.0)).exp() + bb * wb * (-wb * (s - 2.0)).exp();
    let by_hand = lam(3.0).ln() + lam(5.0).ln() + l0.ln()
        - l0 * 3.0 * 10.0
        - ba * (1.0 - (-wa * 9.0).exp())
        - bb * (1.0 - (-wb * 8.0).exp());
    let got = log_likelihood(&timelines(), &[0, 1], 2, 0, l0, &[ba, bb], &[ha, hb]).unwrap();
    assert!((got - by_hand).abs() < 1e-12, "{got} vs {by_hand}");
}

#[test]
fn touches_before_the_start_count_only_inside_the_period() {
    // One touch 2 days before a period [0, 10): its compensator is beta (e^(-2w) - e^(-12w)).
    let mut t = Timelines::new((0, 10 * DAY), Some(1), &[]).unwrap();
    t.push_touch([0, 0, 0, 0, 0, 0], -2 * DAY);
    t.push_conversion(0, DAY, 1.0, 0.0);
    t.finish_person();
    let (l0, b, h) = (0.05, 0.4, 3.0);
    let w = LN_2 / h;
    let by_hand =
        (l0 + b * w * (-w * 3.0).exp()).ln() - l0 * 10.0 - b * ((-w * 2.0).exp() - (-w * 12.0).exp());
    let got = log_likelihood(&t, &[0], 1, 0, l0, &[b], &[h]).unwrap();
    assert!((got - by_hand).abs() < 1e-12, "{got} vs {by_hand}");
}

fn float(v: &Values) -> Vec<Option<f64>> {
    match v {
        Values::Float(x) => x.clone(),
        other => panic!("not a float column: {other:?}"),
    }
}

#[test]
fn credit_is_the_intensity_split_and_conserves_with_the_baseline() {
    let j = journeys();
    let spec = ModelSpec::AdditiveHazard(constant());
    let r = attribute(&j, &[spec], Dimension::Channel).unwrap();
    let t = r.tables.iter().find(|t| t.name == "hazard_parameters").unwrap();
    let player = match t.column("player").unwrap() {
        Values::Text(x) => x.clone(),
        _ => unreachable!(),
    };
    let beta = float(t.column("beta").unwrap());
    let hl = float(t.column("half_life_days").unwrap());
    let rate = float(t.column("baseline_per_day").unwrap());
    let pos = |n: &str| player.iter().position(|p| p == n).unwrap();
    let l0 = rate[pos("(baseline)")].unwrap();
    let kernel = |name: &str, dt: f64| {
        let i = pos(name);
        match (beta[i], hl[i]) {
            (Some(b), Some(h)) if b > 0.0 => b * (LN_2 / h) * (-(LN_2 / h) * dt).exp(),
            _ => 0.0,
        }
    };
    // Conversions at 3 and 5 (person 0) and 4 (person 1, baseline only), by hand.
    let (mut ca, mut cb, mut va, mut vb) = (0.0, 0.0, 0.0, 0.0);
    for (s, v) in [(3.0, 10.0), (5.0, 30.0)] {
        let (ka, kb) = (kernel("a", s - 1.0), kernel("b", s - 2.0));
        let lam = l0 + ka + kb;
        ca += ka / lam;
        cb += kb / lam;
        va += v * ka / lam;
        vb += v * kb / lam;
    }
    let credit = |p: &str| r.credits.iter().find(|c| c.player == p).unwrap();
    assert!((credit("a").conversions - ca).abs() < 1e-9, "{} vs {ca}", credit("a").conversions);
    assert!((credit("b").conversions - cb).abs() < 1e-9);
    assert!((credit("a").value - va).abs() < 1e-9);
    assert!((credit("b").value - vb).abs() < 1e-9);
    // Conservation: players plus baseline are every conversion in the period, unattributed included.
    let base = credit("(baseline)");
    assert!(base.share.is_none());
    let total: f64 = r.credits.iter().map(|c| c.conversions).sum();
    let value: f64 = r.credits.iter().map(|c| c.value).sum();
    assert!((total - 3.0).abs() < 1e-9 && (value - 60.0).abs() < 1e-9, "{total} {value}");
    // Shares are over the players only.
    let shares: f64 = r.credits.iter().filter_map(|c| c.share).sum();
    assert!((shares - 1.0).abs() < 1e-12 || credit("a").conversions + credit("b").conversions == 0.0);
    // The fit table says how it went, and a baseline estimated with a population has no warning.
    assert!(r.tables.iter().any(|t| t.name == "hazard_fit"));
    assert!(!r.warnings.iter().any(|w| w.contains("population")), "{:?}", r.warnings);
}

#[test]
fn maximum_likelihood_beats_nearby_parameters() {
    // The fitted parameters maximise the likelihood: moving any of them lowers it.
    let j = journeys();
    let r = attribute(&j, &[ModelSpec::AdditiveHazard(constant())], Dimension::Channel).unwrap();
    let t = r.tables.iter().find(|t| t.name == "hazard_parameters").unwrap();
    let beta = float(t.column("beta").unwrap());
    let hl = float(t.column("half_life_days").unwrap());
    let l0 = float(t.column("baseline_per_day").unwrap())[2].unwrap();
    let (b, h) = ([beta[0].unwrap(), beta[1].unwrap()], [hl[0].unwrap_or(1.0), hl[1].unwrap_or(1.0)]);
    let tl = timelines();
    let best = log_likelihood(&tl, &[0, 1], 2, 0, l0, &b, &h).unwrap();
    for (dl, db, dh) in [(1.05, 1.0, 1.0), (0.95, 1.0, 1.0), (1.0, 1.1, 1.0), (1.0, 0.9, 1.0)] {
        let other =
            log_likelihood(&tl, &[0, 1], 2, 0, l0 * dl, &[b[0] * db + 1e-6, b[1]], &[h[0] * dh, h[1]])
                .unwrap();
        assert!(other <= best + 1e-9, "{other} > {best}");
    }
}

#[test]
fn typed_errors() {
    // A model that needs timelines on path-table journeys.
    let mut b = JourneysBuilder::new(&[]);
    b.push_path(1, "sales", &["a", "b"], Weights { conversions: 1.0, value: 0.0, nulls: 1.0 }).unwrap();
    let paths = b.build();
    let e = attribute(&paths, &[ModelSpec::from_name("additive_hazard").unwrap()], Dimension::Channel)
        .unwrap_err()
        .to_string();
    assert!(e.contains("needs person timelines") && e.contains("from_events"), "{e}");
    // A lift test for an unknown channel, or with a negative se, or for an unknown KPI.
    let j = journeys();
    let with =
        |t: LiftTest| ModelSpec::AdditiveHazard(AdditiveHazard { lift_tests: vec![t], ..Default::default() });
    let t = |c: &str, k: &str, se: f64| LiftTest { channel: c.into(), kpi: k.into(), per_exposure: 0.1, se };
    let e = attribute(&j, &[with(t("tiktok", "sales", 0.01))], Dimension::Channel).unwrap_err().to_string();
    assert!(e.contains("tiktok") && e.contains("no such channel"), "{e}");
    let e = attribute(&j, &[with(t("a", "sales", -0.01))], Dimension::Channel).unwrap_err().to_string();
    assert!(e.contains("se must be finite and >= 0"), "{e}");
    let e = attribute(&j, &[with(t("a", "hires", 0.01))], Dimension::Channel).unwrap_err().to_string();
    assert!(e.contains("hires") && e.contains("no such KPI"), "{e}");
    // A period whose end is not after its start.
    let e = Timelines::new((5, 5), None, &[]).unwrap_err().to_string();
    assert!(e.contains("end must be after the start"), "{e}");
}

#[test]
fn a_lift_test_fixes_beta_and_credits_expected_conversions() {
    let j = journeys();
    let test = LiftTest { channel: "a".into(), kpi: "sales".into(), per_exposure: 0.3, se: 0.05 };
    let spec = ModelSpec::AdditiveHazard(AdditiveHazard { lift_tests: vec![test], ..Default::default() });
    let r = attribute(&j, &[spec], Dimension::Channel).unwrap();
    let t = r.tables.iter().find(|t| t.name == "hazard_parameters").unwrap();
    let beta = float(t.column("beta").unwrap());
    let se = float(t.column("beta_se").unwrap());
    let hl = float(t.column("half_life_days").unwrap());
    assert_eq!(beta[0], Some(0.3));
    assert_eq!(se[0], Some(0.05));
    // a is credited beta (1 - e^(-w 9)): its one exposure's expected conversions inside the period.
    let w = LN_2 / hl[0].unwrap();
    let expected = 0.3 * (1.0 - (-w * 9.0).exp());
    let a = r.credits.iter().find(|c| c.player == "a").unwrap();
    assert!((a.conversions - expected).abs() < 1e-9, "{} vs {expected}", a.conversions);
    let total: f64 = r.credits.iter().map(|c| c.conversions).sum();
    assert!((total - 3.0).abs() < 1e-9);
    let lt = r.tables.iter().find(|t| t.name == "lift_tests").unwrap();
    assert_eq!(lt.height(), 1);
}

#[test]
fn a_baseline_at_zero_is_held_on_the_boundary_and_the_fit_converges() {
    // 40 people over 20 days, each touched by `a` on day 1 + i/10; half convert 1 to 3 hours after
    // the touch. Nobody converts without a touch, so the likelihood is largest with no baseline at all:
    // the fit must stop there (converged, baseline 0), not creep towards it.
    let mut t = Timelines::new((0, 20 * DAY), Some(40), &[]).unwrap();
    let mut b = JourneysBuilder::with_times(&[]);
    let k = b.kpi_id("sales");
    let a = b.player_id(Dimension::Channel, "a", 1).unwrap();
    for i in 0..40i64 {
        let touch = DAY + i * DAY / 10;
        t.push_touch([0, 0, 0, 0, 0, 0], touch);
        b.push_channel(a, Some(touch));
        let at = touch + DAY / 24 + i * DAY / 480;
        if i % 2 == 0 {
            t.push_conversion(0, at, 1.0, 1.0);
            b.finish_journey(
                i as usize + 1,
                k,
                Weights { conversions: 1.0, value: 1.0, nulls: 0.0 },
                Some(touch + DAY / 24),
            )
            .unwrap();
        } else {
            b.finish_journey(i as usize + 1, k, Weights { conversions: 0.0, value: 0.0, nulls: 1.0 }, None)
                .unwrap();
        }
        t.finish_person();
    }
    b.set_timelines(t);
    let j = b.build();
    for baseline in [Baseline::Constant, Baseline::Exposures, Baseline::Activity] {
        let m = AdditiveHazard { baseline, ..AdditiveHazard::default() };
        let r = attribute(&j, &[ModelSpec::AdditiveHazard(m)], Dimension::Channel).unwrap();
        assert!(!r.warnings.iter().any(|w| w.contains("did not converge")), "{baseline:?}: {:?}", r.warnings);
        let credit = |p: &str| r.credits.iter().find(|c| c.player == p).map_or(0.0, |c| c.conversions);
        assert!(credit("(baseline)") < 1e-6, "{baseline:?}: baseline {}", credit("(baseline)"));
        assert!((credit("a") - 20.0).abs() < 1e-6, "{baseline:?}: a {}", credit("a"));
    }
}
