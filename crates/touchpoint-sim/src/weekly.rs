//! A weekly media-mix generator with known contributions: a target series (tickets deflected, hires,
//! sales) from an intercept, a linear trend, yearly seasonality, a control and channels (paid media as
//! spend, organic as volumes), each through normalised geometric adstock and a logistic saturation
//! (`(1 - e^(-lam a)) / (1 + e^(-lam a))` on the channel scaled by its largest value), plus normal
//! noise. Every component's weekly contribution is known, so a media-mix model can be scored.
use serde::{Deserialize, Serialize};
use touchpoint_util::rng::SplitMix64;

use crate::error::{Error, Result};

/// One channel of the weekly generator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WeeklyChannel {
    /// Column name.
    pub name: String,
    /// `"media"` (the column is spend) or `"organic"` (a volume).
    pub kind: String,
    /// Mean level in an active week (spend or volume).
    pub level: f64,
    /// Probability that a week is active (otherwise 0).
    pub active: f64,
    /// Adstock decay in [0, 1).
    pub alpha: f64,
    /// Saturation `lam` (> 0).
    pub lam: f64,
    /// Contribution at full saturation, in target units per week.
    pub beta: f64,
}

/// The generator's parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WeeklyParams {
    /// Number of weeks.
    pub weeks: usize,
    /// Seed.
    pub seed: u64,
    /// First week, days since 1970-01-01 (a Monday).
    pub start: i32,
    /// Name of the target column.
    pub target: String,
    /// Intercept (target units per week).
    pub intercept: f64,
    /// Change of the target over the whole series by the trend.
    pub trend: f64,
    /// Amplitude of the yearly cycle (first Fourier pair, target units).
    pub seasonality: f64,
    /// Name of the control column (weeks with an event are 1, else 0).
    pub control: String,
    /// Probability of an event week.
    pub control_rate: f64,
    /// Effect of an event week on the target.
    pub control_effect: f64,
    /// Standard deviation of the noise.
    pub noise: f64,
    /// Channels.
    pub channels: Vec<WeeklyChannel>,
}

impl WeeklyParams {
    /// Social care: weekly tickets deflected (issues resolved without a ticket), driven by care
    /// replies and employee-advocacy shares (organic volumes) and by paid social and search (spend),
    /// with a product-launch control.
    pub fn social_care(weeks: usize, seed: u64) -> WeeklyParams {
        let ch = |name: &str, kind: &str, level, active, alpha, lam, beta| WeeklyChannel {
            name: name.into(),
            kind: kind.into(),
            level,
            active,
            alpha,
            lam,
            beta,
        };
        WeeklyParams {
            weeks,
            seed,
            start: 19_359, // 2023-01-02, a Monday
            target: "tickets_deflected".into(),
            intercept: 1200.0,
            trend: 150.0,
            seasonality: 80.0,
            control: "product_launch".into(),
            control_rate: 0.06,
            control_effect: -120.0,
            noise: 40.0,
            channels: vec![
                ch("care_replies", "organic", 900.0, 0.95, 0.3, 2.0, 600.0),
                ch("employee_shares", "organic", 300.0, 0.7, 0.5, 3.0, 250.0),
                ch("paid_social", "media", 5000.0, 0.6, 0.4, 4.0, 180.0),
                ch("search", "media", 8000.0, 0.9, 0.1, 2.5, 220.0),
            ],
        }
    }

    fn check(&self) -> Result<()> {
        let bad = |name: &str, v: f64, why: &str| {
            Err(Error::InvalidParameter {
                parameter: name.to_string(),
                value: v.to_string(),
                reason: why.into(),
            })
        };
        if self.weeks < 2 || self.weeks > 100_000 {
            return bad("weeks", self.weeks as f64, "between 2 and 100,000");
        }
        for c in &self.channels {
            if c.kind != "media" && c.kind != "organic" {
                return Err(Error::InvalidParameter {
                    parameter: format!("{}.kind", c.name),
                    value: c.kind.clone(),
                    reason: "\"media\" or \"organic\"".into(),
                });
            }
            if !(c.level > 0.0 && c.level.is_finite()) {
                return bad(&format!("{}.level", c.name), c.level, "finite and > 0");
            }
            if !(c.active > 0.0 && c.active <= 1.0) {
                return bad(&format!("{}.active", c.name), c.active, "in (0, 1]");
            }
            if !(0.0..1.0).contains(&c.alpha) {
                return bad(&format!("{}.alpha", c.name), c.alpha, "in [0, 1)");
            }
            if !(c.lam > 0.0 && c.lam.is_finite()) {
                return bad(&format!("{}.lam", c.name), c.lam, "finite and > 0");
            }
            if !(c.beta >= 0.0 && c.beta.is_finite()) {
                return bad(&format!("{}.beta", c.name), c.beta, "finite and >= 0");
            }
        }
        if !(self.noise >= 0.0 && self.noise.is_finite()) {
            return bad("noise", self.noise, "finite and >= 0");
        }
        if !(0.0..=1.0).contains(&self.control_rate) {
            return bad("control_rate", self.control_rate, "in [0, 1]");
        }
        Ok(())
    }
}

/// A generated weekly series and its truth.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WeeklySeries {
    /// The parameters that made it.
    pub params: WeeklyParams,
    /// Week start dates, days since 1970-01-01.
    pub dates: Vec<i32>,
    /// The target.
    pub target: Vec<f64>,
    /// Channel columns, in the parameters' order.
    pub channels: Vec<Vec<f64>>,
    /// The control column.
    pub control: Vec<f64>,
    /// True weekly contributions: (component, kind, per-week values). Components: `intercept`,
    /// `trend`, `seasonality`, the control, each channel. With the noise they sum to the target.
    pub truth: Vec<(String, String, Vec<f64>)>,
}

/// Generates the series of `params`.
pub fn weekly(params: &WeeklyParams) -> Result<WeeklySeries> {
    params.check()?;
    let n = params.weeks;
    let mut rng = SplitMix64::new(params.seed);
    let mut normal = || {
        let u1 = rng.next_f64().max(1e-300);
        let u2 = rng.next_f64();
        ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos(), rng.next_f64())
    };
    let dates: Vec<i32> = (0..n as i32).map(|i| params.start + 7 * i).collect();
    let mut channels = Vec::new();
    let mut truth = vec![
        ("intercept".to_string(), "baseline".to_string(), vec![params.intercept; n]),
        (
            "trend".to_string(),
            "trend".to_string(),
            (0..n).map(|i| params.trend * i as f64 / (n - 1) as f64).collect(),
        ),
        (
            "seasonality".to_string(),
            "seasonality".to_string(),
            dates
                .iter()
                .map(|&d| {
                    // Day of the year from days since the epoch (1 = January 1st).
                    let doy = day_of_year(d) as f64;
                    params.seasonality * (2.0 * std::f64::consts::PI * doy / 365.25).sin()
                })
                .collect(),
        ),
    ];
    for c in &params.channels {
        let col: Vec<f64> = (0..n)
            .map(|_| {
                let (z, u) = normal();
                if u < c.active {
                    (c.level * (1.0 + 0.35 * z)).max(0.05 * c.level)
                } else {
                    0.0
                }
            })
            .collect();
        channels.push(col);
    }
    let control: Vec<f64> =
        (0..n).map(|_| if normal().1 < params.control_rate { 1.0 } else { 0.0 }).collect();
    truth.push((
        params.control.clone(),
        "control".into(),
        control.iter().map(|v| v * params.control_effect).collect(),
    ));
    for (c, col) in params.channels.iter().zip(&channels) {
        truth.push((
            c.name.clone(),
            c.kind.clone(),
            adstock_saturate(col, c.alpha, c.lam, MAX_LAG).iter().map(|s| c.beta * s).collect(),
        ));
    }
    let target =
        (0..n).map(|i| truth.iter().map(|(_, _, v)| v[i]).sum::<f64>() + params.noise * normal().0).collect();
    Ok(WeeklySeries { params: params.clone(), dates, target, channels, control, truth })
}

/// The true response of future weeks to a plan, per channel (the parameters' order).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WeeklyResponse {
    /// One per channel.
    pub channels: Vec<ChannelResponse>,
}

/// One channel's true response to a plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChannelResponse {
    /// The channel.
    pub channel: String,
    /// The true contribution in each planned week.
    pub weekly: Vec<f64>,
    /// Their sum.
    pub horizon: f64,
    /// What the plan still adds in the 7 weeks after it (with the plan minus without).
    pub tail: f64,
}

/// The generator's adstock window, in weeks.
const MAX_LAG: usize = 8;

impl WeeklySeries {
    /// What the generator's own response curves give for the weeks after the series under a plan:
    /// each channel's level per future week (every channel, one length). The adstock runs over the
    /// series' last 7 weeks and then the plan, and the saturation keeps the series' scale (its
    /// largest level), as the truth of the series itself was made. What a media-mix model's
    /// scenario of the same plan should find.
    pub fn respond(&self, plan: &std::collections::BTreeMap<String, Vec<f64>>) -> Result<WeeklyResponse> {
        let names: Vec<&str> = self.params.channels.iter().map(|c| c.name.as_str()).collect();
        if let Some(unknown) = plan.keys().find(|k| !names.contains(&k.as_str())) {
            return Err(Error::invalid("plan", unknown, format!("not a channel ({})", names.join(", "))));
        }
        let mut h = None;
        let mut out = Vec::with_capacity(names.len());
        for (c, col) in self.params.channels.iter().zip(&self.channels) {
            let Some(x) = plan.get(&c.name) else {
                return Err(Error::invalid(
                    "plan",
                    &c.name,
                    "every channel needs its level in each planned week",
                ));
            };
            if *h.get_or_insert(x.len()) != x.len() || x.is_empty() {
                return Err(Error::invalid(
                    format!("plan.{}", c.name),
                    x.len(),
                    "one level per planned week, the same number of weeks for every channel",
                ));
            }
            if let Some(v) = x.iter().find(|v| !(v.is_finite() && **v >= 0.0)) {
                return Err(Error::invalid(format!("plan.{}", c.name), v, "levels are finite and >= 0"));
            }
            let peak = col.iter().cloned().fold(0.0, f64::max);
            let tail = MAX_LAG - 1;
            let history = &col[col.len().saturating_sub(tail)..];
            let run = |future: &[f64]| -> Vec<f64> {
                let mut ext: Vec<f64> = history.to_vec();
                ext.extend_from_slice(future);
                ext.extend(std::iter::repeat_n(0.0, tail));
                let s = adstock_saturate_at(&ext, c.alpha, c.lam, MAX_LAG, peak);
                s[history.len()..].iter().map(|v| c.beta * v).collect()
            };
            let with = run(x);
            let without = run(&vec![0.0; x.len()]);
            let n = x.len();
            out.push(ChannelResponse {
                channel: c.name.clone(),
                weekly: with[..n].to_vec(),
                horizon: with[..n].iter().sum(),
                tail: (n..n + tail).map(|i| with[i] - without[i]).sum(),
            });
        }
        Ok(WeeklyResponse { channels: out })
    }
}

/// Normalised geometric adstock over `max_lag` weeks, then the logistic saturation of the result
/// divided by the column's largest value.
fn adstock_saturate(x: &[f64], alpha: f64, lam: f64, max_lag: usize) -> Vec<f64> {
    let peak = x.iter().cloned().fold(0.0, f64::max);
    adstock_saturate_at(x, alpha, lam, max_lag, peak)
}

/// [`adstock_saturate`] with the scale (`peak`) given.
fn adstock_saturate_at(x: &[f64], alpha: f64, lam: f64, max_lag: usize, peak: f64) -> Vec<f64> {
    let w: Vec<f64> = (0..max_lag).map(|l| alpha.powi(l as i32)).collect();
    let sum: f64 = w.iter().sum();
    (0..x.len())
        .map(|t| {
            let a: f64 = (0..max_lag.min(t + 1)).map(|l| w[l] / sum * x[t - l]).sum::<f64>()
                / peak.max(f64::MIN_POSITIVE);
            let e = (-lam * a).exp();
            (1.0 - e) / (1.0 + e)
        })
        .collect()
}

/// Day of the year (1-based) of a date given as days since 1970-01-01 (proleptic Gregorian).
fn day_of_year(days: i32) -> u32 {
    // Civil-from-days (H. Hinnant's algorithm), then the ordinal.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy_mar = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy_mar + 2) / 153;
    let d = doy_mar - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = if m <= 2 { y + 1 } else { y };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let cum = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    (cum[(m - 1) as usize] + d + if leap && m > 2 { 1 } else { 0 }) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_of_year_by_hand() {
        assert_eq!(day_of_year(0), 1); // 1970-01-01
        assert_eq!(day_of_year(19_359), 2); // 2023-01-02
        assert_eq!(day_of_year(19_781), 59); // 2024-02-28
        assert_eq!(day_of_year(19_783), 61); // 2024-03-01, a leap year
        assert_eq!(day_of_year(19_722), 365); // 2023-12-31
    }

    #[test]
    fn components_and_noise_make_the_target_and_the_seed_fixes_it() {
        let p = WeeklyParams { noise: 0.0, ..WeeklyParams::social_care(104, 3) };
        let s = weekly(&p).unwrap();
        for i in 0..104 {
            let sum: f64 = s.truth.iter().map(|(_, _, v)| v[i]).sum();
            assert!((sum - s.target[i]).abs() < 1e-9);
        }
        assert_eq!(weekly(&p).unwrap(), s);
        assert_ne!(weekly(&WeeklyParams { seed: 4, ..p.clone() }).unwrap().target, s.target);
        assert!(s.channels.iter().all(|c| c.iter().all(|v| *v >= 0.0)));
        let bad = WeeklyParams { weeks: 1, ..p };
        assert!(weekly(&bad).is_err());
    }
}

#[cfg(test)]
mod respond_tests {
    use super::*;

    /// The series' own last weeks, answered from the weeks before them, are its truth: the same
    /// adstock over the same weeks and the same scale (where the last weeks hold no channel's peak).
    #[test]
    fn responding_with_the_series_own_weeks_gives_its_truth() {
        let full = weekly(&WeeklyParams::social_care(169, 3)).unwrap();
        let cut = 156;
        let mut head = full.clone();
        head.dates.truncate(cut);
        head.target.truncate(cut);
        head.control.truncate(cut);
        head.channels.iter_mut().for_each(|c| c.truncate(cut));
        let plan: std::collections::BTreeMap<String, Vec<f64>> = full
            .params
            .channels
            .iter()
            .zip(&full.channels)
            .map(|(c, col)| (c.name.clone(), col[cut..].to_vec()))
            .collect();
        let r = head.respond(&plan).unwrap();
        let mut compared = 0;
        for (resp, (col_full, col_head)) in r.channels.iter().zip(full.channels.iter().zip(&head.channels)) {
            let (name, weeks) = (&resp.channel, &resp.weekly);
            let peak = |c: &[f64]| c.iter().cloned().fold(0.0, f64::max);
            if peak(col_full) != peak(col_head) {
                continue;
            }
            let truth = &full.truth.iter().find(|(n, _, _)| n == name).unwrap().2[cut..];
            for (a, b) in weeks.iter().zip(truth) {
                assert!((a - b).abs() < 1e-9 * (1.0 + b.abs()), "{name}: {a} vs {b}");
            }
            compared += 1;
        }
        assert!(compared >= 2, "{compared} channels compared");
        // Nothing planned: no tail; errors name the channel.
        let zero = plan.keys().map(|k| (k.clone(), vec![0.0; 4])).collect();
        assert!(head.respond(&zero).unwrap().channels.iter().all(|c| c.tail == 0.0));
        let mut bad = plan.clone();
        bad.remove("search");
        assert!(head.respond(&bad).unwrap_err().to_string().contains("search"));
    }
}
