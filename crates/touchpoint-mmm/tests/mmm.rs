//! The media-mix model: gradient against finite differences, recovery of known truth (pymc-marketing's
//! example and series simulated here), determinism, save and load, and typed errors on bad input.
mod common;

use common::{shared, simulate, Csv, Rng};
use touchpoint_core::Unattended;
use touchpoint_mmm::{
    fit, testing, Error, FitOptions, LiftMeasurement, MediaMix, Method, Saturation, Series,
};

fn model_sim() -> MediaMix {
    let mut m = MediaMix::new("week", "y", &["x1"], &["x2"], &["z"]);
    m.seasonality = 0;
    m.trend = false;
    m
}

fn check_gradient(model: &MediaMix, series: &Series, lifts: &[LiftMeasurement], seed: u64) {
    for jacobian in [true, false] {
        check_gradient_with(model, series, lifts, seed, jacobian);
    }
}

fn check_gradient_with(
    model: &MediaMix,
    series: &Series,
    lifts: &[LiftMeasurement],
    seed: u64,
    jacobian: bool,
) {
    let dim = model.n_params();
    let mut r = Rng(seed);
    for _ in 0..5 {
        let theta: Vec<f64> = (0..dim).map(|_| r.normal() * 0.7).collect();
        let (_, g) = testing::logp(model, series, lifts, &theta, jacobian).unwrap().expect("finite");
        for i in 0..dim {
            let h = 1e-5 * (1.0 + theta[i].abs());
            let mut tp = theta.clone();
            tp[i] += h;
            let mut tm = theta.clone();
            tm[i] -= h;
            let fp = testing::logp(model, series, lifts, &tp, jacobian).unwrap().unwrap().0;
            let fm = testing::logp(model, series, lifts, &tm, jacobian).unwrap().unwrap().0;
            let fd = (fp - fm) / (2.0 * h);
            let tol = 1e-5 * (1.0 + fd.abs().max(g[i].abs()));
            assert!((fd - g[i]).abs() < tol, "parameter {i}: analytic {} vs finite difference {fd}", g[i]);
        }
    }
}

#[test]
fn gradient_matches_finite_differences_for_both_saturations() {
    let (series, _) = simulate(3, 80);
    let lifts = vec![
        LiftMeasurement { channel: "x1".into(), x: 80.0, delta_x: 20.0, delta_y: 30.0, sigma: 10.0 },
        LiftMeasurement { channel: "x2".into(), x: 5.0, delta_x: -5.0, delta_y: -12.0, sigma: 6.0 },
    ];
    for sat in [Saturation::Logistic, Saturation::Hill] {
        let mut m = model_sim();
        m.saturation = sat;
        m.trend = true;
        m.seasonality = 2;
        m.max_lag = 6;
        check_gradient(&m, &series, &lifts, 11);
    }
}

fn example() -> Option<(MediaMix, Series)> {
    let csv = Csv::read(&shared("pymc-marketing-mmm/mmm_example.csv"))?;
    let mut m = MediaMix::new("date_week", "y", &["x1", "x2"], &[], &["event_1", "event_2", "t"]);
    m.trend = false;
    m.seasonality = 2;
    let series = Series {
        dates: csv.dates("date_week"),
        target: csv.num("y"),
        channels: vec![csv.num("x1"), csv.num("x2")],
        controls: vec![csv.num("event_1"), csv.num("event_2"), csv.num("t")],
    };
    Some((m, series))
}

/// pymc-marketing's example: geometric adstock (alpha 0.4, 0.2), logistic saturation (lam 4, 3),
/// contributions 3000 and 2000 times the saturated adstocked channels.
#[test]
fn recovers_the_pymc_marketing_example() {
    let Some((m, series)) = example() else {
        panic!("../shared/datasets/pymc-marketing-mmm/mmm_example.csv is missing");
    };
    // The truth, recomputed from the published generating parameters.
    let s1 = common::adstock_logistic(&series.channels[0], 0.4, 4.0, 8);
    let s2 = common::adstock_logistic(&series.channels[1], 0.2, 3.0, 8);
    let truth = [3000.0 * s1.iter().sum::<f64>(), 2000.0 * s2.iter().sum::<f64>()];
    assert!((truth[0] - 274_848.0).abs() < 500.0 && (truth[1] - 65_906.0).abs() < 500.0, "{truth:?}");
    let opts = FitOptions { seed: 2, ..Default::default() };
    let f = fit(&m, &series, &[], &opts, &Unattended).unwrap();
    let min_ess = f
        .parameters
        .iter()
        .filter(|p| p.name.contains("[x"))
        .map(|p| p.ess_bulk)
        .fold(f64::INFINITY, f64::min);
    eprintln!(
        "mmm_example: {:.2} s, min channel ESS {min_ess:.0}, divergences {:?}",
        f.seconds, f.divergences
    );
    let summary = f.summary();
    for (c, name) in ["x1", "x2"].iter().enumerate() {
        let row = summary.iter().find(|r| r.component == *name).unwrap();
        let e = row.contribution;
        assert!(
            e.lower <= truth[c] && truth[c] <= e.upper,
            "{name}: truth {} outside [{}, {}]",
            truth[c],
            e.lower,
            e.upper
        );
    }
    for p in &f.parameters {
        assert!(p.r_hat <= 1.01, "{} r_hat {}", p.name, p.r_hat);
    }
    // Components of every period sum to the fitted mean, and the fit is close to the data.
    let fitted = f.fitted();
    let contrib = f.contributions();
    let k = contrib.len() / series.target.len();
    for (t, fm) in fitted.iter().enumerate() {
        let s: f64 = contrib[t * k..(t + 1) * k].iter().map(|c| c.value.mean).sum();
        assert!((s - fm.mean).abs() < 1e-6 * fm.mean.abs().max(1.0));
    }
    let alpha = f.parameters.iter().find(|p| p.name == "alpha[x1]").unwrap();
    assert!(alpha.lower < 0.4 && 0.4 < alpha.upper, "{alpha:?}");
}

/// Series simulated from known parameters: the 98% intervals of both channels' summed contributions
/// contain the truth for every seed, and MAP lands near the posterior mean.
#[test]
fn posterior_covers_simulated_truth() {
    for seed in [1u64, 2, 3] {
        let (series, truth) = simulate(seed, 156);
        let m = model_sim();
        let opts = FitOptions { seed, draws: 500, tune: 500, level: 0.98, ..Default::default() };
        let f = fit(&m, &series, &[], &opts, &Unattended).unwrap();
        let s = f.summary();
        for (c, name) in ["x1", "x2"].iter().enumerate() {
            let e = s.iter().find(|r| r.component == *name).unwrap().contribution;
            assert!(
                e.lower <= truth[c] && truth[c] <= e.upper,
                "seed {seed} {name}: {} not in [{}, {}]",
                truth[c],
                e.lower,
                e.upper
            );
        }
        let g = f.parameters.iter().find(|p| p.name == "gamma[z]").unwrap();
        // 150 / max(y) in scaled units.
        let ymax = series.target.iter().cloned().fold(0.0, f64::max);
        assert!(g.lower < 150.0 / ymax && 150.0 / ymax < g.upper, "seed {seed}: {g:?}");
    }
}

/// A target that sums to zero or less (a net change) has no shares, and the fit says so.
#[test]
fn no_shares_of_a_target_that_sums_below_zero() {
    let (mut series, _) = simulate(5, 104);
    series.target.iter_mut().for_each(|v| *v -= 2000.0);
    let f = fit(
        &model_sim(),
        &series,
        &[],
        &FitOptions { method: Method::Map, ..Default::default() },
        &Unattended,
    )
    .unwrap();
    assert!(f.summary().iter().all(|r| r.share.mean.is_nan()));
    assert!(f.warnings.iter().any(|w| w.contains("sums to zero or less")));
}

#[test]
fn map_is_near_the_posterior_and_has_no_intervals() {
    let (series, truth) = simulate(5, 156);
    let m = model_sim();
    let f = fit(&m, &series, &[], &FitOptions { method: Method::Map, ..Default::default() }, &Unattended)
        .unwrap();
    assert!(f.warnings.iter().any(|w| w.contains("map")));
    let s = f.summary();
    let x1 = s.iter().find(|r| r.component == "x1").unwrap();
    assert!(x1.contribution.lower.is_nan());
    assert!(
        (x1.contribution.mean - truth[0]).abs() < 0.2 * truth[0],
        "{} vs {}",
        x1.contribution.mean,
        truth[0]
    );
}

#[test]
fn same_seed_same_draws_whatever_the_threads() {
    let (series, _) = simulate(9, 100);
    let m = model_sim();
    let a = fit(
        &m,
        &series,
        &[],
        &FitOptions { draws: 50, tune: 100, chains: 3, threads: 1, ..Default::default() },
        &Unattended,
    )
    .unwrap();
    let b = fit(
        &m,
        &series,
        &[],
        &FitOptions { draws: 50, tune: 100, chains: 3, threads: 2, ..Default::default() },
        &Unattended,
    )
    .unwrap();
    assert_eq!(a.draws, b.draws);
    let c = fit(
        &m,
        &series,
        &[],
        &FitOptions { draws: 50, tune: 100, chains: 3, seed: 1, ..Default::default() },
        &Unattended,
    )
    .unwrap();
    assert_ne!(a.draws, c.draws);
}

#[test]
fn save_and_load_give_the_same_answers() {
    let (series, _) = simulate(4, 100);
    let m = model_sim();
    let f = fit(
        &m,
        &series,
        &[],
        &FitOptions { draws: 40, tune: 60, chains: 2, ..Default::default() },
        &Unattended,
    )
    .unwrap();
    let text = f.to_json().unwrap();
    let g = touchpoint_mmm::Fit::from_json(&text).unwrap();
    assert_eq!(f.summary(), g.summary());
    // Contributions computed a few periods at a time equal those computed at once.
    assert_eq!(f.contributions_in_blocks(1), f.contributions());
    assert_eq!(f.contributions_in_blocks(7 * 80 * 5), f.contributions());
    assert_eq!(g.model, m);
    assert_eq!(g.version, env!("CARGO_PKG_VERSION"));
    // A saved fit whose draws do not fit its model is refused.
    // A MAP fit (no intervals, no R-hat: nulls in JSON) round-trips too.
    let map = fit(&m, &series, &[], &FitOptions { method: Method::Map, ..Default::default() }, &Unattended)
        .unwrap();
    let back = touchpoint_mmm::Fit::from_json(&map.to_json().unwrap()).unwrap();
    assert_eq!(back.summary().len(), map.summary().len());
    assert!(back.parameters[0].r_hat.is_nan() && back.parameters[0].mean == map.parameters[0].mean);
    // A tampered level is refused on load, not a panic later.
    let bad_level = text.replacen("\"level\":0.9", "\"level\":1.5", 1);
    assert_ne!(bad_level, text);
    assert!(touchpoint_mmm::Fit::from_json(&bad_level).is_err());
    let broken = text.replacen("\"draws\":[[[", "\"draws\":[[[0.5,", 1);
    assert!(matches!(touchpoint_mmm::Fit::from_json(&broken), Err(Error::Load { .. })));
    // Draws that contradict the options (issue 25, item 6): each named.
    let tamper = |change: &dyn Fn(&mut serde_json::Value)| {
        let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
        change(&mut v);
        touchpoint_mmm::Fit::from_json(&v.to_string()).unwrap_err().to_string()
    };
    let e = tamper(&|v| v["options"]["chains"] = 7.into());
    assert!(e.contains("the options say 7 chains, the file holds 2"), "{e}");
    let e = tamper(&|v| v["draws"][1] = serde_json::json!([]));
    assert!(e.contains("the options say 40 draws per chain, chain 2 holds 0"), "{e}");
    let e = tamper(&|v| v["draws"][0].as_array_mut().unwrap().truncate(37));
    assert!(e.contains("chain 1 holds 37"), "{e}");
    let e = tamper(&|v| v["draws"][0][3][1] = 1e308.into());
    assert!(e.contains("draw 4 of chain 1 is not a point the model can take"), "{e}");
    let e = tamper(&|v| {
        v["step_sizes"].as_array_mut().unwrap().pop();
    });
    assert!(e.contains("2 chains of draws but 2 divergence counts and 1 step sizes"), "{e}");
    let map_text = map.to_json().unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&map_text).unwrap();
    v["draws"][0] = serde_json::json!([v["draws"][0][0].clone(), v["draws"][0][0].clone()]);
    let e = touchpoint_mmm::Fit::from_json(&v.to_string()).unwrap_err().to_string();
    assert!(e.contains("a MAP fit holds one draw"), "{e}");
    // Fit::load reads regular files only.
    let dir = std::env::temp_dir().join(format!("tp-mmm-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("fit.json"), &text).unwrap();
    assert_eq!(touchpoint_mmm::Fit::load(&dir.join("fit.json")).unwrap().summary(), f.summary());
    let e = touchpoint_mmm::Fit::load(&dir).unwrap_err().to_string();
    assert!(e.contains("a folder"), "{e}");
    if std::path::Path::new("/dev/zero").exists() {
        let e = touchpoint_mmm::Fit::load(std::path::Path::new("/dev/zero")).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Prior overrides are laid over the defaults one level deep, and a bad name or value is named
/// (issue 25, item 26: the CLI and Python read them through this one function).
#[test]
fn prior_overrides_merge_one_level_deep() {
    let p = touchpoint_mmm::Priors::with_overrides(r#"{"adstock": {"alpha": 2.0}, "noise": {"sigma": 0.5}}"#)
        .unwrap();
    let d = touchpoint_mmm::Priors::default();
    assert_eq!(p.adstock.alpha, 2.0);
    assert_eq!(p.adstock.beta, d.adstock.beta);
    assert_eq!(p.noise.sigma, 0.5);
    assert_eq!(p.lam, d.lam);
    assert_eq!(touchpoint_mmm::Priors::with_overrides("{}").unwrap(), d);
    let by_channel =
        touchpoint_mmm::Priors::with_overrides(r#"{"beta_by_channel": {"tv": {"sigma": 0.3}}}"#).unwrap();
    assert_eq!(by_channel.beta_by_channel["tv"].sigma, 0.3);
    let e = |text: &str| touchpoint_mmm::Priors::with_overrides(text).unwrap_err().to_string();
    assert_eq!(
        e(r#"{"adstock": {"alpha": -1}}"#),
        "invalid prior `adstock.alpha`: -1 (must be finite and > 0)"
    );
    assert!(e(r#"{"adstok": {"alpha": 1}}"#).starts_with("invalid prior `adstok`"));
    assert!(e(r#"{"adstock": {"alfa": 1}}"#).contains("no such field; `adstock` has alpha, beta"));
    assert!(e(r#"{"adstock": {"alpha": "2"}}"#).contains("must be a number"));
    assert!(e("[]").contains("expected an object"));
    assert!(e("{").contains("not JSON"));
}

/// A precise lift measurement pulls the modelled lift to it; a loose one barely moves it.
#[test]
fn lift_measurements_calibrate() {
    let (series, _) = simulate(6, 104);
    let m = model_sim();
    let opts = FitOptions { method: Method::Map, ..Default::default() };
    let free = fit(&m, &series, &[], &opts, &Unattended).unwrap();
    let before = free.lift("x1", 60.0, 60.0).unwrap().mean;
    let target = 3.0 * before;
    let precise =
        vec![LiftMeasurement { channel: "x1".into(), x: 60.0, delta_x: 60.0, delta_y: target, sigma: 1.0 }];
    let after = fit(&m, &series, &precise, &opts, &Unattended).unwrap().lift("x1", 60.0, 60.0).unwrap().mean;
    assert!(
        (after - target).abs() < (before - target).abs() / 4.0,
        "free {before} calibrated {after} target {target}"
    );
    let loose =
        vec![LiftMeasurement { channel: "x1".into(), x: 60.0, delta_x: 60.0, delta_y: target, sigma: 1e6 }];
    let barely = fit(&m, &series, &loose, &opts, &Unattended).unwrap().lift("x1", 60.0, 60.0).unwrap().mean;
    assert!((barely - before).abs() < 1e-3 * before.abs(), "{barely} vs {before}");
    assert!(free.lift("tv", 1.0, 1.0).is_err());
}

fn err(m: &MediaMix, s: &Series, lifts: &[LiftMeasurement]) -> String {
    let e =
        fit(m, s, lifts, &FitOptions { method: Method::Map, ..Default::default() }, &Unattended).unwrap_err();
    e.to_string()
}

#[test]
fn bad_input_gets_typed_errors_naming_column_and_row() {
    let (series, _) = simulate(2, 60);
    let m = model_sim();
    // A missing week.
    let mut s = series.clone();
    s.dates[10] += 7;
    for d in s.dates[11..].iter_mut() {
        *d += 7;
    }
    let msg = err(&m, &s, &[]);
    assert!(
        msg.contains("`week`")
            && msg.contains("row 10")
            && msg.contains("1 period(s) of 7 day(s) are missing"),
        "{msg}"
    );
    // Unsorted dates.
    let mut s = series.clone();
    s.dates.swap(3, 4);
    assert!(err(&m, &s, &[]).contains("row 4"));
    // A constant media column.
    let mut s = series.clone();
    s.channels[0] = vec![5.0; 60];
    let msg = err(&m, &s, &[]);
    assert!(msg.contains("`x1` is constant"), "{msg}");
    // A negative one.
    let mut s = series.clone();
    s.channels[1][7] = -1.0;
    let msg = err(&m, &s, &[]);
    assert!(msg.contains("`x2`, row 7") && msg.contains(">= 0"), "{msg}");
    // NaN in the target.
    let mut s = series.clone();
    s.target[12] = f64::NAN;
    let msg = err(&m, &s, &[]);
    assert!(msg.contains("`y`, row 12") && msg.contains("NaN"), "{msg}");
    // Fewer rows than parameters.
    let short = Series {
        dates: series.dates[..6].to_vec(),
        target: series.target[..6].to_vec(),
        channels: series.channels.iter().map(|c| c[..6].to_vec()).collect(),
        controls: series.controls.iter().map(|c| c[..6].to_vec()).collect(),
    };
    let mut short = short;
    short.controls[0] = vec![0.0, 1.0, 0.0, 0.0, 1.0, 0.0];
    let msg = err(&m, &short, &[]);
    assert!(msg.contains("6 periods cannot fit 9 parameters"), "{msg}");
    // A lift test for an unknown channel.
    let lift = LiftMeasurement { channel: "tv".into(), x: 1.0, delta_x: 1.0, delta_y: 1.0, sigma: 1.0 };
    let msg = err(&m, &series, &[lift]);
    assert!(msg.contains("row 0") && msg.contains("unknown channel `tv`") && msg.contains("x1, x2"), "{msg}");
    // A lift test with sigma 0.
    let lift = LiftMeasurement { channel: "x1".into(), x: 1.0, delta_x: 1.0, delta_y: 1.0, sigma: 0.0 };
    assert!(err(&m, &series, &[lift]).contains("sigma = 0"));
    // Bad priors and options.
    let mut bad = m.clone();
    bad.priors.adstock.alpha = -1.0;
    assert!(err(&bad, &series, &[]).contains("adstock.alpha"));
    let mut bad = m.clone();
    bad.max_lag = 0;
    assert!(err(&bad, &series, &[]).contains("max_lag"));
    let e = fit(&m, &series, &[], &FitOptions { chains: 0, ..Default::default() }, &Unattended).unwrap_err();
    assert!(e.to_string().contains("`chains`"));
}

#[test]
fn rhat_and_ess_on_known_chains() {
    // Independent normal draws: R-hat near 1 and ESS near the number of draws.
    let mut r = Rng(1);
    let chains: Vec<Vec<f64>> = (0..4).map(|_| (0..1000).map(|_| r.normal()).collect()).collect();
    let rh = touchpoint_mmm::rhat(&chains);
    let ess = touchpoint_mmm::ess_bulk(&chains);
    assert!(rh < 1.01, "{rh}");
    assert!(ess > 3200.0 && ess < 4800.0, "{ess}");
    let tail = touchpoint_mmm::ess_tail(&chains);
    assert!(tail > 2800.0 && tail < 5200.0, "{tail}");
    // One chain shifted: R-hat far above 1.
    let mut shifted = chains.clone();
    shifted[0].iter_mut().for_each(|v| *v += 2.0);
    assert!(touchpoint_mmm::rhat(&shifted) > 1.1);
    // An AR(1) chain with phi 0.9: ESS about N (1 - phi) / (1 + phi) = 4000 / 19 = 210.
    let mut ar: Vec<Vec<f64>> = Vec::new();
    for _ in 0..4 {
        let mut v = vec![0.0; 1000];
        for i in 1..1000 {
            v[i] = 0.9 * v[i - 1] + (1.0f64 - 0.81).sqrt() * r.normal();
        }
        ar.push(v);
    }
    let ess = touchpoint_mmm::ess_bulk(&ar);
    assert!(ess > 120.0 && ess < 340.0, "{ess}");
}

/// Ctrl-C: a control that interrupts stops the chains and the fit returns `Interrupted`.
#[test]
fn an_interrupt_stops_the_chains() {
    struct StopSoon(std::sync::atomic::AtomicU32);
    impl touchpoint_core::Control for StopSoon {
        fn checkpoint(&self) -> touchpoint_core::Result<()> {
            if self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed) >= 2 {
                Err(touchpoint_core::Error::Interrupted)
            } else {
                Ok(())
            }
        }
    }
    let (series, _) = simulate(8, 156);
    let m = model_sim();
    // A run of about a minute if nothing stopped it.
    let opts = FitOptions { draws: 100_000, tune: 1000, chains: 2, ..Default::default() };
    // Without the interrupt this fit would finish and return Ok.
    let e = fit(&m, &series, &[], &opts, &StopSoon(Default::default())).unwrap_err();
    assert!(matches!(e, Error::Interrupted), "{e}");
}
