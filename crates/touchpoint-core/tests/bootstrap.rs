//! Bootstrap intervals: the Poisson-count law against formulas computed here, aggregation, determinism
//! (threads, row order), and bad settings.
mod common;

use common::Row;
use touchpoint_core::{
    attribute_with_intervals, Attribution, Dimension, Error, Journeys, JourneysBuilder, ModelSpec,
    Resampling, Unattended, Unit, Weights,
};

fn specs(names: &[&str]) -> Vec<ModelSpec> {
    names
        .iter()
        .map(|n| if n.starts_with('{') { ModelSpec::from_json(n) } else { ModelSpec::from_name(n) }.unwrap())
        .collect()
}

fn boot(
    j: &Journeys,
    models: &[&str],
    level: f64,
    resamples: usize,
    seed: u64,
    threads: usize,
) -> Attribution {
    let settings = Resampling { level, resamples, seed };
    attribute_with_intervals(j, &specs(models), Dimension::Channel, &settings, threads, &Unattended).unwrap()
}

/// A path table with repeated paths, counts and values.
const TABLE: [Row<'static>; 6] = [
    (&["search", "social"], 12.0, 1200.0, 30.0),
    (&["social"], 5.0, 400.0, 40.0),
    (&["email", "search", "search"], 7.0, 700.0, 10.0),
    (&["display", "social", "email"], 3.0, 330.0, 25.0),
    (&["search"], 9.0, 810.0, 60.0),
    (&["display"], 0.0, 0.0, 35.0),
];

/// The same journeys one row each: a row per conversion (value split evenly) and per null.
fn one_row_each(rows: &[Row<'_>]) -> Vec<Row<'static>> {
    let mut out = Vec::new();
    for (p, c, v, n) in rows {
        let path: &'static [&'static str] =
            Box::leak(p.iter().map(|s| &*s.to_string().leak()).collect::<Vec<_>>().into_boxed_slice());
        for _ in 0..*c as usize {
            out.push((path, 1.0, v / c, 0.0));
        }
        for _ in 0..*n as usize {
            out.push((path, 0.0, 0.0, 1.0));
        }
    }
    out
}

fn column(r: &Attribution, model: &str, player: &str) -> Vec<(f64, f64)> {
    let b = r.bootstrap.as_ref().unwrap();
    let i = r.credits.iter().position(|c| c.model == model && c.player == player).unwrap();
    b.conversions.iter().zip(&b.value).map(|(c, v)| (c[i], v[i])).collect()
}

fn mean_var(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    (m, xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0))
}

#[test]
fn poisson_counts_have_the_journey_bootstrap_law() {
    // Linear credit is sum_j w_j c_j s_jp with w_j ~ Poisson(1) independent per journey: mean the point
    // credit, variance sum_j (s_jp)^2 over the conversions (one row each, c_j = 1), computed here.
    let j = common::paths(&TABLE);
    let r = boot(&j, &["linear", "last_touch"], 0.9, 4000, 3, 2);
    assert_eq!(r.bootstrap.as_ref().unwrap().unit, Unit::Paths);
    for player in ["search", "social", "email", "display"] {
        let mut var = 0.0;
        let mut point = 0.0;
        for (p, c, _, _) in TABLE {
            let s = p.iter().filter(|x| **x == player).count() as f64 / p.len() as f64;
            var += c * s * s;
            point += c * s;
        }
        let xs: Vec<f64> = column(&r, "linear", player).iter().map(|x| x.0).collect();
        let (m, v) = mean_var(&xs);
        // Standard error of the mean is sqrt(var / 4000); of the variance about var * sqrt(2 / 4000)
        // plus the fourth-moment term: 12% is over 4 standard errors here.
        assert!((m - point).abs() < 4.0 * (var / 4000.0).sqrt() + 1e-12, "{player}: mean {m} vs {point}");
        assert!((v - var).abs() < 0.12 * var + 1e-12, "{player}: variance {v} vs {var}");
    }
    // Values move with the conversions drawn: value per credited conversion stays the path's (search
    // is last on paths worth 100 and 90 per conversion, so each resample's ratio lies between them).
    for (c, v) in column(&r, "last_touch", "search") {
        if c > 0.0 {
            assert!(v / c >= 90.0 - 1e-9 && v / c <= 100.0 + 1e-9, "{c} {v}");
        }
    }
}

#[test]
fn an_aggregated_table_and_its_journeys_one_row_each_give_the_same_resamples() {
    let agg = common::paths(&TABLE);
    let each = common::paths(&one_row_each(&TABLE));
    let models = ["linear", "position_based", "markov", "shapley", r#"{"model": "shapley", "game": "rate"}"#];
    let a = boot(&agg, &models, 0.9, 60, 5, 2);
    let b = boot(&each, &models, 0.9, 60, 5, 2);
    assert_eq!(a.credits.len(), b.credits.len());
    for (x, y) in a.credits.iter().zip(&b.credits) {
        assert_eq!((&x.model, &x.player), (&y.model, &y.player));
        for (p, q) in [
            (x.conversions_lower, y.conversions_lower),
            (x.conversions_upper, y.conversions_upper),
            (x.value_lower, y.value_lower),
            (x.share_upper, y.share_upper),
        ] {
            let (p, q) = (p.unwrap(), q.unwrap());
            assert!(common::close(p, q, 1e-9), "{} {}: {p} vs {q}", x.model, x.player);
        }
    }
}

#[test]
fn same_seed_same_intervals_whatever_the_threads_and_row_order() {
    let mut rows = one_row_each(&TABLE);
    let models = ["first_touch", "linear", "markov", "shapley"];
    let a = boot(&common::paths(&rows), &models, 0.8, 50, 11, 1);
    let b = boot(&common::paths(&rows), &models, 0.8, 50, 11, 2);
    rows.reverse();
    rows.rotate_left(17);
    let c = boot(&common::paths(&rows), &models, 0.8, 50, 11, 2);
    for other in [&b, &c] {
        for (x, y) in a.credits.iter().zip(&other.credits) {
            assert_eq!((&x.model, &x.player), (&y.model, &y.player));
            assert!(common::close(x.conversions_lower.unwrap(), y.conversions_lower.unwrap(), 1e-12));
            assert!(common::close(x.conversions_upper.unwrap(), y.conversions_upper.unwrap(), 1e-12));
            assert!(common::close(x.share_lower.unwrap(), y.share_lower.unwrap(), 1e-12));
        }
    }
    // Another seed draws other resamples.
    let d = boot(&common::paths(&rows), &models, 0.8, 50, 12, 2);
    let differs = a.credits.iter().zip(&d.credits).any(|(x, y)| x.conversions_lower != y.conversions_lower);
    assert!(differs);
}

#[test]
fn intervals_contain_the_point_and_shrink_as_data_grows() {
    let small = common::paths(&TABLE);
    let big_rows: Vec<Row<'static>> =
        TABLE.iter().map(|(p, c, v, n)| (*p, c * 25.0, v * 25.0, n * 25.0)).collect();
    let big = common::paths(&big_rows);
    let models = ["linear", "markov"];
    let a = boot(&small, &models, 0.9, 300, 1, 2);
    let b = boot(&big, &models, 0.9, 300, 1, 2);
    for (x, y) in a.credits.iter().zip(&b.credits) {
        let (lo, hi) = (x.share_lower.unwrap(), x.share_upper.unwrap());
        assert!(lo <= x.share.unwrap() + 1e-12 && x.share.unwrap() <= hi + 1e-12, "{x:?}");
        assert!(x.conversions_lower.unwrap() <= x.conversions_upper.unwrap());
        // 25 times the data: widths shrink by about 5; at least by 2.5.
        let (w_small, w_big) = (hi - lo, y.share_upper.unwrap() - y.share_lower.unwrap());
        assert!(w_big < w_small / 2.5, "{} {}: {w_small} -> {w_big}", x.model, x.player);
    }
    // Whether the conversions differ from zero: the interval leaves 0 out.
    let mut c = a.credits[0].clone();
    for (lo, hi, want) in [(0.0, 5.0, false), (0.1, 5.0, true), (-3.0, -1.0, true), (-1.0, 2.0, false)] {
        (c.conversions_lower, c.conversions_upper) = (Some(lo), Some(hi));
        assert_eq!(c.differs_from_zero(), Some(want), "[{lo}, {hi}]");
    }
    c.conversions_lower = None;
    assert_eq!(c.differs_from_zero(), None);
}

#[test]
fn people_move_together_and_timeline_models_get_intervals() {
    // Two people: p0 converts twice (two journeys), p1 once; a resample weighs each person's journeys
    // by one draw, so p0's journeys always carry equal weights.
    let mut b = JourneysBuilder::with_times(&[]);
    let k = b.kpi_id("sales");
    let (s, e) = (
        b.player_id(Dimension::Channel, "search", 1).unwrap(),
        b.player_id(Dimension::Channel, "email", 1).unwrap(),
    );
    let mut tl = touchpoint_core::Timelines::new((0, 10_000_000_000), Some(50), &[]).unwrap();
    let day = 86_400_000_000i64;
    // Person 0: search at day 1, converts day 2; email day 3, converts day 4.
    b.set_person(0);
    b.push_channel(s, Some(day));
    b.finish_journey(1, k, Weights { conversions: 1.0, value: 5.0, nulls: 0.0 }, Some(2 * day)).unwrap();
    b.push_channel(e, Some(3 * day));
    b.finish_journey(2, k, Weights { conversions: 1.0, value: 7.0, nulls: 0.0 }, Some(4 * day)).unwrap();
    for (t, c) in [(day, s), (3 * day, e)] {
        tl.push_touch([c, 0, 0, 0, 0, 0], t);
    }
    tl.push_conversion(k, 2 * day, 1.0, 5.0);
    tl.push_conversion(k, 4 * day, 1.0, 7.0);
    tl.finish_person();
    // Person 1: search at day 5, no conversion (a null journey).
    b.set_person(1);
    b.push_channel(s, Some(5 * day));
    b.finish_journey(3, k, Weights { conversions: 0.0, value: 0.0, nulls: 1.0 }, Some(9 * day)).unwrap();
    tl.push_touch([s, 0, 0, 0, 0, 0], 5 * day);
    tl.finish_person();
    b.set_timelines(tl);
    let j = b.build();
    assert_eq!(j.persons(), Some(&[0u32, 0, 1][..]));
    let r = boot(&j, &["first_touch", "additive_hazard"], 0.9, 100, 2, 2);
    let bs = r.bootstrap.as_ref().unwrap();
    assert_eq!(bs.unit, Unit::People);
    // first_touch gives search p0's first conversion and email p0's second: equal in every resample.
    let (search, email) = (column(&r, "first_touch", "search"), column(&r, "first_touch", "email"));
    for (x, y) in search.iter().zip(&email) {
        assert_eq!(x.0, y.0);
        assert!(x.0.fract() == 0.0);
    }
    // The hazard model has a baseline row with an interval.
    let base = r.credits.iter().find(|c| c.model == "additive_hazard" && c.player == "(baseline)").unwrap();
    assert!(base.conversions_lower.is_some() && base.share_lower.is_none());
}

#[test]
fn bad_settings_are_typed_errors() {
    let j = common::paths(&TABLE);
    for (level, resamples, option) in
        [(0.0, 10, "intervals"), (1.0, 10, "intervals"), (f64::NAN, 10, "intervals"), (0.9, 0, "resamples")]
    {
        let s = Resampling { level, resamples, seed: 0 };
        let e = attribute_with_intervals(&j, &specs(&["linear"]), Dimension::Channel, &s, 1, &Unattended)
            .unwrap_err();
        assert!(matches!(e, Error::InvalidOption { option: o, .. } if o == option), "{e}");
    }
    // A timeline model on journeys that do not know their people cannot resample people.
    let e = attribute_with_intervals(
        &common::paths(&TABLE),
        &specs(&["additive_hazard"]),
        Dimension::Channel,
        &Resampling::default(),
        1,
        &Unattended,
    )
    .unwrap_err();
    assert!(matches!(e, Error::NeedsTimelines { .. }), "{e}");
}

/// Type-7 quantile, written again here.
fn q7(mut xs: Vec<f64>, q: f64) -> f64 {
    xs.sort_by(f64::total_cmp);
    let h = (xs.len() - 1) as f64 * q;
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    xs[lo] + (h - lo as f64) * (xs[hi] - xs[lo])
}

#[test]
fn compare_is_a_paired_difference_of_the_same_resamples() {
    let j = common::paths(&TABLE);
    let r = boot(&j, &["first_touch", "last_touch", "linear"], 0.9, 400, 4, 2);
    for d in r.compare("linear", "linear").unwrap() {
        assert_eq!((d.difference, d.lower, d.upper, d.differs), (0.0, Some(0.0), Some(0.0), false));
    }
    let diffs = r.compare("first_touch", "last_touch").unwrap();
    let players: Vec<&str> = diffs.iter().map(|d| d.player.as_str()).collect();
    assert_eq!(players, ["display", "email", "search", "social"]);
    let col = |m: &str, p: &str| -> Vec<f64> {
        if r.credits.iter().any(|c| c.model == m && c.player == p) {
            column(&r, m, p).iter().map(|x| x.0).collect()
        } else {
            vec![0.0; 400]
        }
    };
    for d in &diffs {
        let paired: Vec<f64> = col("first_touch", &d.player)
            .iter()
            .zip(col("last_touch", &d.player))
            .map(|(a, b)| a - b)
            .collect();
        assert!(common::close(d.lower.unwrap(), q7(paired.clone(), 0.05), 1e-12), "{d:?}");
        assert!(common::close(d.upper.unwrap(), q7(paired, 0.95), 1e-12), "{d:?}");
    }
    // Social: first touch credits its 5 lone conversions, last touch those plus the 12 of search > social:
    // the difference is minus a Poisson(12) draw, whose 90% interval leaves out 0.
    let social = diffs.iter().find(|d| d.player == "social").unwrap();
    assert_eq!((social.conversions_a, social.conversions_b), (5.0, 17.0));
    assert!(social.differs && social.upper.unwrap() < 0.0);
    // Search: +12 draws of search > social, -7 of email > search > search: sd about 14, not shown to differ.
    let search = diffs.iter().find(|d| d.player == "search").unwrap();
    assert_eq!(search.difference, 5.0);
    assert!(!search.differs && search.lower.unwrap() < 0.0 && search.upper.unwrap() > 0.0, "{search:?}");
    // Without resamples, or with an unknown label: typed errors.
    let plain = touchpoint_core::attribute(&j, &specs(&["linear"]), Dimension::Channel).unwrap();
    assert!(matches!(plain.compare("linear", "linear"), Err(Error::InvalidOption { option: "compare", .. })));
    assert!(matches!(r.compare("linear", "markov"), Err(Error::InvalidOption { option: "b", .. })));
}

#[test]
fn contribution_carries_the_intervals_through_valuation() {
    use std::collections::BTreeMap;
    use touchpoint_core::{contribution, GoalBook, Kpi};
    let j = common::paths(&TABLE);
    let r = boot(&j, &["linear", "markov"], 0.9, 300, 8, 2);
    let costs: BTreeMap<String, f64> = [("search".to_owned(), 50.0), ("social".to_owned(), 80.0)].into();
    let book = GoalBook::new(
        vec![Kpi::new("sales", "commercial").with_unit_value(10.0, Some("EUR"))],
        costs.clone(),
        vec!["social".into()],
    )
    .unwrap();
    let rep = contribution(&r, &book, None).unwrap();
    for s in &rep.summary {
        let c = r.credits.iter().find(|c| c.model == s.model && c.player == s.player).unwrap();
        // One KPI valued at 10 per conversion: the value interval is 10 x the conversions interval, and
        // the value share's is the conversions share's.
        assert!(common::close(s.value_lower.unwrap(), 10.0 * c.conversions_lower.unwrap(), 1e-12));
        assert!(common::close(s.value_upper.unwrap(), 10.0 * c.conversions_upper.unwrap(), 1e-12));
        assert!(common::close(s.value_share_lower.unwrap(), c.share_lower.unwrap(), 1e-12));
        // ROI = (value - cost) / cost rises with value: its interval is the value's, mapped.
        match costs.get(&s.player) {
            Some(&cost) => {
                assert!(common::close(s.roi_lower.unwrap(), (s.value_lower.unwrap() - cost) / cost, 1e-12));
                assert!(common::close(s.roi_upper.unwrap(), (s.value_upper.unwrap() - cost) / cost, 1e-12));
            }
            None => assert!(s.roi_lower.is_none()),
        }
    }
    // Social totals have intervals that contain their point.
    for t in &rep.social {
        assert!(t.value_lower.unwrap() <= t.value + 1e-9 && t.value <= t.value_upper.unwrap() + 1e-9);
    }
}

#[test]
fn an_interrupt_stops_the_resamples() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use touchpoint_core::Control;
    /// Interrupts once the bootstrap has reported progress (so after the point estimates).
    struct StopInBootstrap(AtomicBool);
    impl Control for StopInBootstrap {
        fn checkpoint(&self) -> touchpoint_core::Result<()> {
            if self.0.load(Ordering::Relaxed) {
                Err(Error::Interrupted)
            } else {
                Ok(())
            }
        }
        fn progress(&self, stage: &str, _done: u64, _total: u64) {
            if stage == "bootstrap" {
                self.0.store(true, Ordering::Relaxed);
            }
        }
    }
    // Enough work that the resamples outlast the calling thread's first check (50 ms).
    let rows: Vec<Row<'static>> = (0..3000)
        .map(|i| {
            let names = ["a", "b", "c", "d", "e", "f", "g"];
            let path: &'static [&'static str] = Box::leak(
                (0..1 + i % 5).map(|k| names[(i * 7 + k * 3) % 7]).collect::<Vec<_>>().into_boxed_slice(),
            );
            (path, (i % 3) as f64, (i % 3) as f64 * 10.0, 1.0 + (i % 4) as f64)
        })
        .collect();
    let j = common::paths(&rows);
    let control = StopInBootstrap(AtomicBool::new(false));
    let settings = Resampling { level: 0.9, resamples: 100_000, seed: 0 };
    let e = attribute_with_intervals(&j, &specs(&["markov"]), Dimension::Channel, &settings, 2, &control)
        .unwrap_err();
    // (Ignoring the interrupt would run 100,000 resamples and return Ok.)
    assert!(matches!(e, Error::Interrupted), "{e}");
}

#[test]
fn a_model_failing_on_one_kpi_leaves_the_other_kpis_intervals_whole() {
    // `tiny` has one null journey: a resample draws it 0 times with probability e^-1, and the rate
    // Shapley game cannot run without nulls. `big` always can.
    let mut b = JourneysBuilder::new(&[]);
    let w = |c: f64, n: f64| Weights { conversions: c, value: 10.0 * c, nulls: n };
    b.push_path(1, "big", &["a", "b"], w(30.0, 40.0)).unwrap();
    b.push_path(2, "big", &["b"], w(20.0, 60.0)).unwrap();
    b.push_path(3, "tiny", &["a"], w(3.0, 0.0)).unwrap();
    b.push_path(4, "tiny", &["b"], w(0.0, 1.0)).unwrap();
    let j = b.build();
    let r = boot(&j, &[r#"{"model":"shapley","game":"rate"}"#], 0.9, 200, 1, 2);
    let bs = r.bootstrap.as_ref().unwrap();
    assert!(bs.failed.iter().all(|f| f.kpi == "tiny" && f.model == "shapley"));
    let failed = bs.failed.len();
    assert!((40..=110).contains(&failed), "{failed} of 200 failed (expected about 74)");
    assert!(bs.usable("shapley", Some("big")).iter().all(|ok| *ok));
    assert!(r.warnings.iter().any(|w| w.contains(&format!("{failed} of 200 resamples"))), "{:?}", r.warnings);
    // The big KPI's interval is the quantile of all 200 resamples.
    let i = r.credits.iter().position(|c| c.kpi == "big" && c.player == "a").unwrap();
    let all: Vec<f64> = bs.conversions.iter().map(|v| v[i]).collect();
    assert!(common::close(r.credits[i].conversions_lower.unwrap(), q7(all, 0.05), 1e-12));
    // A bootstrap whose numbers do not match the rows is refused when read back.
    let mut bad = bs.clone();
    bad.conversions[0].pop();
    assert!(bad.check(r.credits.len()).is_err());
    assert!(bs.check(r.credits.len()).is_ok());
}
