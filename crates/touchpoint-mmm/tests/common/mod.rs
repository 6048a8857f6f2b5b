//! Shared by the tests: reading the public example CSVs, and simulating series from known parameters.
#![allow(dead_code)]
use std::collections::HashMap;

use touchpoint_mmm::Series;

/// A CSV of numbers (and one date column) as columns by name. Dates become days since 1970-01-01.
pub struct Csv {
    pub cols: HashMap<String, Vec<String>>,
}

impl Csv {
    pub fn read(path: &str) -> Option<Csv> {
        let text = std::fs::read_to_string(path).ok()?;
        let mut lines = text.lines();
        let header: Vec<String> = lines.next()?.split(',').map(|s| s.to_string()).collect();
        let mut cols: HashMap<String, Vec<String>> = header.iter().map(|h| (h.clone(), Vec::new())).collect();
        for line in lines.filter(|l| !l.is_empty()) {
            for (h, v) in header.iter().zip(line.split(',')) {
                cols.get_mut(h).unwrap().push(v.to_string());
            }
        }
        Some(Csv { cols })
    }

    pub fn num(&self, name: &str) -> Vec<f64> {
        self.cols[name].iter().map(|v| v.parse().unwrap()).collect()
    }

    pub fn dates(&self, name: &str) -> Vec<i32> {
        let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        self.cols[name]
            .iter()
            .map(|v| (chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").unwrap() - epoch).num_days() as i32)
            .collect()
    }
}

pub fn shared(path: &str) -> String {
    format!("{}/../../../shared/datasets/{path}", env!("CARGO_MANIFEST_DIR"))
}

/// A small deterministic generator (SplitMix64) for test data.
pub struct Rng(pub u64);

impl Rng {
    pub fn u(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn normal(&mut self) -> f64 {
        let u1 = self.u().max(1e-300);
        let u2 = self.u();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

/// Normalised geometric adstock then logistic saturation, restated here from the formulas.
pub fn adstock_logistic(x: &[f64], alpha: f64, lam: f64, max_lag: usize) -> Vec<f64> {
    let w: Vec<f64> = (0..max_lag).map(|l| alpha.powi(l as i32)).collect();
    let s: f64 = w.iter().sum();
    (0..x.len())
        .map(|t| {
            let a: f64 = (0..max_lag.min(t + 1)).map(|l| w[l] / s * x[t - l]).sum();
            (1.0 - (-lam * a).exp()) / (1.0 + (-lam * a).exp())
        })
        .collect()
}

/// A weekly series with two channels of known effect, an intercept, a control and noise, from
/// `seed`. Returns the series and the true summed contributions of the two channels.
pub fn simulate(seed: u64, weeks: usize) -> (Series, [f64; 2]) {
    let mut r = Rng(seed);
    let dates: Vec<i32> = (0..weeks as i32).map(|i| 17_500 + 7 * i).collect();
    let x1: Vec<f64> = (0..weeks).map(|_| if r.u() < 0.8 { 50.0 + 100.0 * r.u() } else { 0.0 }).collect();
    let x2: Vec<f64> = (0..weeks).map(|_| if r.u() < 0.5 { 20.0 * r.u() } else { 0.0 }).collect();
    let z: Vec<f64> = (0..weeks).map(|_| if r.u() < 0.1 { 1.0 } else { 0.0 }).collect();
    let m1 = x1.iter().cloned().fold(0.0, f64::max);
    let m2 = x2.iter().cloned().fold(0.0, f64::max);
    let s1 = adstock_logistic(&x1.iter().map(|v| v / m1).collect::<Vec<_>>(), 0.5, 2.5, 8);
    let s2 = adstock_logistic(&x2.iter().map(|v| v / m2).collect::<Vec<_>>(), 0.2, 4.0, 8);
    let (b1, b2) = (400.0, 250.0);
    let y: Vec<f64> =
        (0..weeks).map(|t| 1000.0 + b1 * s1[t] + b2 * s2[t] + 150.0 * z[t] + 25.0 * r.normal()).collect();
    let truth = [b1 * s1.iter().sum::<f64>(), b2 * s2.iter().sum::<f64>()];
    (Series { dates, target: y, channels: vec![x1, x2], controls: vec![z] }, truth)
}
