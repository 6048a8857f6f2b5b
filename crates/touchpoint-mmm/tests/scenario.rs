//! Scenarios (`Fit::predict`): the formula on the series continued, conservation, carryover from
//! the history and into the tail, levels beyond those observed, determinism, and typed errors.
mod common;

use std::collections::BTreeMap;

use common::{adstock_logistic, simulate};
use touchpoint_core::Unattended;
use touchpoint_mmm::{fit, Error, Fit, FitOptions, Future, MediaMix, Method, PredictOptions, Series};

const T: usize = 90;
const H: usize = 10;

fn model() -> MediaMix {
    let mut m = MediaMix::new("week", "y", &["x1"], &["x2"], &["z"]);
    m.seasonality = 2;
    m.trend = true;
    m
}

/// A MAP fit on the first `T` weeks of a simulated series, and the next `H` weeks' inputs.
fn fitted(method: Method) -> (Fit, Series, Future) {
    let (full, _) = simulate(3, T + H);
    let head = Series {
        dates: full.dates[..T].to_vec(),
        target: full.target[..T].to_vec(),
        channels: full.channels.iter().map(|c| c[..T].to_vec()).collect(),
        controls: full.controls.iter().map(|c| c[..T].to_vec()).collect(),
    };
    let options = FitOptions { method, chains: 2, draws: 300, tune: 300, seed: 1, ..FitOptions::default() };
    let f = fit(&model(), &head, &[], &options, &Unattended).unwrap();
    let future = Future {
        channels: BTreeMap::from([
            ("x1".to_string(), full.channels[0][T..].to_vec()),
            ("x2".to_string(), full.channels[1][T..].to_vec()),
        ]),
        controls: BTreeMap::from([("z".to_string(), full.controls[0][T..].to_vec())]),
        dates: None,
    };
    (f, full, future)
}

fn param(f: &Fit, name: &str) -> f64 {
    f.parameters.iter().find(|p| p.name == name).unwrap_or_else(|| panic!("{name}")).mean
}

fn max(v: &[f64]) -> f64 {
    v.iter().fold(0.0f64, |m, x| m.max(x.abs()))
}

/// With one draw (MAP), every future contribution is the model's formula on the series continued
/// by the future inputs: the adstock runs over history and future together (restated here as a
/// convolution), the trend continues past the series, seasonality is taken at the future dates.
#[test]
fn predict_is_the_formula_on_the_series_continued() {
    let (f, full, future) = fitted(Method::Map);
    let s = f.predict(&future, &PredictOptions::default()).unwrap();
    let ys = max(&full.target[..T]);
    let value = |period: usize, component: &str| {
        s.contributions.iter().find(|c| c.period == period && c.component == component).unwrap().value.mean
    };
    for (c, name) in ["x1", "x2"].iter().enumerate() {
        let scale = max(&full.channels[c][..T]);
        let x: Vec<f64> = full.channels[c].iter().map(|v| v / scale).collect();
        let sat =
            adstock_logistic(&x, param(&f, &format!("alpha[{name}]")), param(&f, &format!("lam[{name}]")), 8);
        for i in 0..H {
            let want = param(&f, &format!("beta[{name}]")) * sat[T + i] * ys;
            let got = value(i + 1, name);
            assert!(
                (got - want).abs() < 1e-9 * (1.0 + want.abs()),
                "{name}, period {}: {got} vs {want}",
                i + 1
            );
        }
    }
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
    for i in 0..H {
        let trend = param(&f, "trend") * (T + i) as f64 / (T - 1) as f64 * ys;
        assert!((value(i + 1, "trend") - trend).abs() < 1e-9 * (1.0 + trend.abs()));
        let date = full.dates[T + i];
        assert_eq!(s.periods[i].date, date, "the dates continue the series");
        use chrono::Datelike;
        let doy = (epoch + chrono::TimeDelta::try_days(i64::from(date)).unwrap()).ordinal() as f64;
        let mut season = 0.0;
        for k in 1..=2 {
            let w = 2.0 * std::f64::consts::PI * k as f64 / 365.25;
            season += param(&f, &format!("sin_{k}")) * (w * doy).sin()
                + param(&f, &format!("cos_{k}")) * (w * doy).cos();
        }
        assert!((value(i + 1, "seasonality") - season * ys).abs() < 1e-9 * (1.0 + ys));
        let control = param(&f, "gamma[z]") * full.controls[0][T + i] / max(&full.controls[0][..T]) * ys;
        assert!((value(i + 1, "z") - control).abs() < 1e-9 * (1.0 + control.abs()));
        // Conservation: the KPI is the sum of its components.
        let sum: f64 = s.contributions.iter().filter(|c| c.period == i + 1).map(|c| c.value.mean).sum();
        assert!((s.periods[i].kpi.mean - sum).abs() < 1e-9 * sum.abs());
    }
    let total = s.totals.iter().find(|t| t.component == "kpi").unwrap();
    let by_period: f64 = s.periods.iter().map(|p| p.kpi.mean).sum();
    assert!((total.horizon.mean - by_period).abs() < 1e-9 * by_period.abs());
    assert!(s.warnings.iter().any(|w| w.contains("MAP")));
}

/// Stopping every channel: the first future periods still get the history's carryover, which
/// decays to zero once `max_lag` periods have passed; the tail after the horizon holds what the
/// horizon's own spend leaves, and is zero for a zero plan that outlasts the adstock window.
#[test]
fn carryover_flows_from_the_history_and_into_the_tail() {
    let (f, full, _) = fitted(Method::Map);
    let zeros = |n: usize| vec![0.0; n];
    let stop = Future {
        channels: BTreeMap::from([("x1".into(), zeros(12)), ("x2".into(), zeros(12))]),
        controls: BTreeMap::from([("z".into(), zeros(12))]),
        dates: None,
    };
    let s = f.predict(&stop, &PredictOptions::default()).unwrap();
    let x1 =
        |p: usize| s.contributions.iter().find(|c| c.period == p && c.component == "x1").unwrap().value.mean;
    assert!(full.channels[0][T - 8..].iter().any(|v| *v > 0.0));
    assert!(x1(1) > 0.0, "the last weeks' spend still works in week 1");
    assert!(x1(1) > x1(3) && x1(3) > x1(7), "and decays");
    assert!(x1(8).abs() < 1e-12 && x1(12).abs() < 1e-12, "gone after max_lag = 8 periods");
    let tail =
        |s: &touchpoint_mmm::Scenario, c: &str| s.totals.iter().find(|t| t.component == c).unwrap().tail.mean;
    assert!(tail(&s, "x1").abs() < 1e-12);
    // Spend in the last period only: its carryover after the horizon is the tail.
    let mut last = stop.clone();
    last.channels.insert("x1".into(), [zeros(11), vec![100.0]].concat());
    let s2 = f.predict(&last, &PredictOptions::default()).unwrap();
    assert!(tail(&s2, "x1") > 0.0);
    assert_eq!(s2.totals.iter().find(|t| t.component == "x1").unwrap().input, Some(100.0));
    // A horizon shorter than the adstock window: the history's carryover reaches past it, but it
    // is not the plan's, so a plan of zeros leaves no tail.
    let one = Future {
        channels: BTreeMap::from([("x1".into(), zeros(1)), ("x2".into(), zeros(1))]),
        controls: BTreeMap::from([("z".into(), zeros(1))]),
        dates: None,
    };
    let s3 = f.predict(&one, &PredictOptions::default()).unwrap();
    assert!(s3.totals.iter().all(|t| t.tail.mean == 0.0), "{:?}", s3.totals);
    assert!(s3.contributions.iter().find(|c| c.component == "x1").unwrap().value.mean > 0.0);
}

/// A planned level above the largest observed is flagged per row with its factor and named in
/// the warnings; the same check serves `lift`.
#[test]
fn levels_beyond_those_observed_are_flagged() {
    let (f, full, mut future) = fitted(Method::Map);
    let top = full.channels[0][..T].iter().copied().fold(0.0, f64::max);
    future.channels.get_mut("x1").unwrap()[2] = 2.5 * top;
    let s = f.predict(&future, &PredictOptions::default()).unwrap();
    let row = s.contributions.iter().find(|c| c.period == 3 && c.component == "x1").unwrap();
    assert!((row.beyond_observed.unwrap() - 2.5).abs() < 1e-12);
    assert!(s.contributions.iter().filter(|c| c.beyond_observed.is_some()).count() == 1);
    assert!(
        s.warnings.iter().any(|w| w.contains("`x1`") && w.contains("1 of 10") && w.contains("2.50x")),
        "{:?}",
        s.warnings
    );
    let (factor, warning) = f.beyond_observed("x1", 3.0 * top).unwrap().unwrap();
    assert!((factor - 3.0).abs() < 1e-12 && warning.contains("3.00x"));
    assert!(f.beyond_observed("x1", top).unwrap().is_none());
}

/// Intervals come from the joint draws: a total's mean is the sum of the periods' means, the
/// predictive interval (with the noise) holds the mean's interval, and the noise's draws are fixed
/// by the seed.
#[test]
fn nuts_totals_predictive_intervals_and_the_seed() {
    let (f, _, future) = fitted(Method::Nuts);
    let a = f.predict(&future, &PredictOptions { seed: 4 }).unwrap();
    let b = f.predict(&future, &PredictOptions { seed: 4 }).unwrap();
    let c = f.predict(&future, &PredictOptions { seed: 5 }).unwrap();
    assert_eq!(a, b);
    assert_ne!(a.periods[0].predictive, c.periods[0].predictive);
    assert_eq!(a.periods[0].kpi, c.periods[0].kpi, "the mean's interval has no noise");
    for p in &a.periods {
        assert!(p.kpi.lower < p.kpi.mean && p.kpi.mean < p.kpi.upper);
        assert!(p.predictive.lower < p.kpi.lower && p.kpi.upper < p.predictive.upper);
    }
    for t in &a.totals {
        let sum: f64 = if t.component == "kpi" {
            a.periods.iter().map(|p| p.kpi.mean).sum()
        } else {
            a.contributions.iter().filter(|c| c.component == t.component).map(|c| c.value.mean).sum()
        };
        assert!((t.horizon.mean - sum).abs() < 1e-9 * (1.0 + sum.abs()), "{}", t.component);
    }
    // The total's predictive interval is taken over the draws' sums: the periods' noise is
    // independent, so it is far narrower than the periods' predictive intervals added up (what a
    // sum of weekly intervals by hand would claim), and it holds the mean's interval.
    let kpi = a.totals.iter().find(|t| t.component == "kpi").unwrap();
    let p = kpi.predictive.expect("the KPI's total has a predictive interval");
    let summed: f64 = a.periods.iter().map(|p| p.predictive.upper - p.predictive.lower).sum();
    assert!(p.upper - p.lower < 0.6 * summed, "{} vs {summed}", p.upper - p.lower);
    assert!(p.lower < kpi.horizon.lower && kpi.horizon.upper < p.upper);
    assert!(a.totals.iter().filter(|t| t.component != "kpi").all(|t| t.predictive.is_none()));
}

/// Bad futures: typed errors naming the column, row or value.
#[test]
fn bad_futures_are_typed_errors() {
    let (f, _, future) = fitted(Method::Map);
    let o = PredictOptions::default();
    let mut missing = future.clone();
    missing.channels.remove("x2");
    assert!(matches!(f.predict(&missing, &o), Err(Error::Column { column, .. }) if column == "x2"));
    let mut unknown = future.clone();
    unknown.channels.insert("tv".into(), vec![1.0; H]);
    assert!(matches!(f.predict(&unknown, &o), Err(Error::Column { column, .. }) if column == "tv"));
    let mut short = future.clone();
    short.controls.insert("z".into(), vec![0.0; H - 1]);
    let e = f.predict(&short, &o).unwrap_err();
    assert!(e.to_string().contains("`z`") && e.to_string().contains("9 future periods"), "{e}");
    let mut negative = future.clone();
    negative.channels.get_mut("x1").unwrap()[4] = -1.0;
    assert!(matches!(f.predict(&negative, &o), Err(Error::Value { column, row: 4, .. }) if column == "x1"));
    let mut nan = future.clone();
    nan.controls.get_mut("z").unwrap()[0] = f64::NAN;
    assert!(matches!(f.predict(&nan, &o), Err(Error::Value { column, row: 0, .. }) if column == "z"));
    let empty = Future {
        channels: BTreeMap::from([("x1".into(), vec![]), ("x2".into(), vec![])]),
        controls: BTreeMap::from([("z".into(), vec![])]),
        dates: None,
    };
    assert!(matches!(f.predict(&empty, &o), Err(Error::InvalidOption { option: "future", .. })));
    let mut gap = future.clone();
    let last = *f.series.dates.last().unwrap();
    gap.dates = Some((0..H as i32).map(|k| last + 7 * (k + 2)).collect());
    let e = f.predict(&gap, &o).unwrap_err();
    assert!(matches!(e, Error::Periods { row: 0, .. }) && e.to_string().contains("without gaps"), "{e}");
    let mut given = future.clone();
    given.dates = Some((1..=H as i32).map(|k| last + 7 * k).collect());
    let same = |a: &touchpoint_mmm::Scenario| format!("{a:?}");
    assert_eq!(same(&f.predict(&given, &o).unwrap()), same(&f.predict(&future, &o).unwrap()));
}

/// Comparing plans draw by draw: a plan against itself adds exactly nothing; the mean difference
/// is the difference of the means; and what both share (the baseline, its uncertainty) cancels
/// in each draw, so the KPI difference's interval is far narrower than either plan's.
#[test]
fn compare_takes_differences_draw_by_draw() {
    let (f, _, future) = fitted(Method::Nuts);
    let same = f.compare(&future, &future).unwrap();
    assert!(same
        .totals
        .iter()
        .all(|t| t.horizon.mean == 0.0 && t.horizon.lower == 0.0 && t.horizon.upper == 0.0));
    let mut more = future.clone();
    for v in more.channels.get_mut("x1").unwrap().iter_mut() {
        *v *= 1.2;
    }
    let o = PredictOptions::default();
    let (a, b) = (f.predict(&more, &o).unwrap(), f.predict(&future, &o).unwrap());
    let d = f.compare(&more, &future).unwrap();
    let total =
        |s: &touchpoint_mmm::Scenario, c: &str| s.totals.iter().find(|t| t.component == c).unwrap().horizon;
    let diff = |c: &str| d.totals.iter().find(|t| t.component == c).unwrap().clone();
    for c in ["x1", "x2", "kpi"] {
        let want = total(&a, c).mean - total(&b, c).mean;
        assert!((diff(c).horizon.mean - want).abs() < 1e-9 * (1.0 + want.abs()), "{c}");
    }
    assert!(diff("x2").horizon.mean.abs() < 1e-9, "x2's plan did not change");
    assert!(diff("x1").horizon.lower > 0.0, "more spend adds in every draw");
    let kpi = diff("kpi").horizon;
    assert!(kpi.upper - kpi.lower < 0.5 * (total(&b, "kpi").upper - total(&b, "kpi").lower));
    let x1 = future.channels["x1"].iter().sum::<f64>() * 0.2;
    assert!((diff("x1").input.unwrap() - x1).abs() < 1e-9 * x1);
    let short = Future {
        channels: future.channels.iter().map(|(k, v)| (k.clone(), v[..5].to_vec())).collect(),
        controls: future.controls.iter().map(|(k, v)| (k.clone(), v[..5].to_vec())).collect(),
        dates: None,
    };
    assert!(matches!(f.compare(&more, &short), Err(Error::InvalidOption { option: "against", .. })));
}
