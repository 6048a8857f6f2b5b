//! An advocacy programme with a known effect: employees who share the company's posts, trained in
//! waves (belt training), the keener ones first. Training raises how often an employee shares and
//! what each share is worth, by amounts that build over the weeks after training. Every employee's
//! untreated and treated expected outcome is known, so the effect of the training per cohort and
//! week is known exactly, and so is what the naive trained-versus-untrained comparison reports.
//!
//! The model, per employee i and week t (untreated potential outcomes are additive in a person
//! level and a common season, so parallel trends hold by construction; the selection into waves
//! is on the person level, so the naive comparison is biased):
//! - keenness `k_i ~ N(0, 1)`; baseline shares per week `a_i = shares * exp(spread * k_i)`;
//! - season `s_t = seasonality * shares * sin(2 pi t / 52)` (shares per week, common to all);
//! - effect after e >= 0 weeks of training: `r(e) = 1 - exp(-(e + 1) / build)`, shares rise by
//!   `share_lift * a_i * r(e)` and each share's value by the factor `1 + value_lift * r(e)`;
//! - shares ~ Poisson(a_i + s_t + effect); value = shares * value_per_share * (1 + value effect)
//!   * (1 + noise), with mean-one noise, rounded to the cent.
//!
//! Volunteering: the score `selection * k_i + N(0, 1)` ranks employees; the top `trained` share is
//! trained, split into equal waves in rank order (the keenest first).
//!
//! A second level (belt 2), when `second_waves` is given: the trained employees are ranked again by
//! a fresh score `selection * k_i + N(0, 1)`; the top `second_trained` share of them is split into
//! equal groups in rank order, one per second wave, and each takes the first second wave at least
//! `second_gap` weeks after its first training (none left: it stays at level 1). From then on the
//! second level adds `second_share_lift * a_i * r(e2)` shares and `second_value_lift * r(e2)` to the
//! value factor, on top of the first level's. The truth of level 1 is the effect of the whole
//! programme on its cohorts (what was reached from the first training on, the second level
//! included, against never trained); the truth of level 2 is the step: the outcome with the second
//! level against the same employees staying at level 1.
use serde::{Deserialize, Serialize};
use touchpoint_util::rng::SplitMix64;

use crate::error::{Error, Result};
use crate::sampling::normal;

/// The programme's parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProgrammeParams {
    /// Employees.
    pub employees: usize,
    /// Weeks observed (1..=weeks).
    pub weeks: usize,
    /// The weeks in which each wave's training ends (its first treated week), increasing.
    pub waves: Vec<i64>,
    /// Share of employees ever trained within the panel, in [0, 1).
    pub trained: f64,
    /// How strongly keenness moves an employee to volunteer early (0: at random).
    pub selection: f64,
    /// Mean baseline shares per week.
    pub shares: f64,
    /// Spread of the baseline between employees (log scale).
    pub spread: f64,
    /// Amplitude of the common yearly season, as a share of `shares`.
    pub seasonality: f64,
    /// Relative rise of the share rate at full effect.
    pub share_lift: f64,
    /// Relative rise of the value per share at full effect.
    pub value_lift: f64,
    /// Weeks for the effect to build (the time constant of `r(e)`).
    pub build: f64,
    /// Money per share before training.
    pub value_per_share: f64,
    /// Standard deviation of the mean-one noise on value.
    pub noise: f64,
    /// The weeks in which each second-level wave's training ends, increasing (empty: one level).
    pub second_waves: Vec<i64>,
    /// Share of the trained employees who go on to the second level, in [0, 1).
    pub second_trained: f64,
    /// Fewest weeks between an employee's first and second training.
    pub second_gap: i64,
    /// Relative rise of the share rate from the second level at full effect (on top of the first's).
    pub second_share_lift: f64,
    /// Rise of the value-per-share factor from the second level at full effect.
    pub second_value_lift: f64,
    /// Seed.
    pub seed: u64,
}

impl Default for ProgrammeParams {
    fn default() -> Self {
        ProgrammeParams {
            employees: 2_000,
            weeks: 52,
            waves: vec![9, 17, 25, 33, 41],
            trained: 0.6,
            selection: 1.0,
            shares: 3.0,
            spread: 0.5,
            seasonality: 0.2,
            share_lift: 0.3,
            value_lift: 0.15,
            build: 4.0,
            value_per_share: 40.0,
            noise: 0.2,
            second_waves: Vec::new(),
            second_trained: 0.5,
            second_gap: 12,
            second_share_lift: 0.2,
            second_value_lift: 0.1,
            seed: 0,
        }
    }
}

/// One employee-week.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProgrammeRow {
    /// Employee id (1-based).
    pub employee: u64,
    /// Week (1-based).
    pub week: i64,
    /// First trained week (0: never trained within the panel).
    pub cohort: i64,
    /// The employee's level in this week: 0 untrained, 1, 2.
    pub level: i64,
    /// Shares posted.
    pub shares: u64,
    /// Money value of the shares.
    pub value: f64,
}

/// The true average effect on the trained of one cohort in one week.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProgrammeTruth {
    /// 1: the effect of the programme from the first training on, against never trained; 2: the
    /// step to the second level, against staying at level 1.
    pub level: i64,
    /// Cohort (first trained week at the row's level).
    pub cohort: i64,
    /// Week.
    pub week: i64,
    /// Weeks since training.
    pub event_time: i64,
    /// Employees in the cohort.
    pub employees: u64,
    /// True effect on shares per employee-week (expected values).
    pub shares: f64,
    /// True effect on value per employee-week.
    pub value: f64,
}

/// A simulated programme.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Programme {
    /// Employee-weeks, employee-major.
    pub rows: Vec<ProgrammeRow>,
    /// The true effect per cohort and week from its first trained week on.
    pub truth: Vec<ProgrammeTruth>,
    /// The naive comparison: mean value per employee-week of trained employees in their trained
    /// weeks minus that of never-trained employees over the same weeks.
    pub naive_value: f64,
    /// The same for shares.
    pub naive_shares: f64,
    /// The naive comparison of the second level: mean value per employee-week of employees in
    /// their level-2 weeks minus that of employees at level 1 in the same weeks who never reach
    /// level 2 (0 without a second level).
    pub naive_second_value: f64,
    /// The parameters used.
    pub params: ProgrammeParams,
}

fn invalid(option: &str, value: impl ToString, reason: &str) -> Error {
    Error::invalid(format!("programme.{option}"), value, reason)
}

impl ProgrammeParams {
    /// Checks every parameter.
    pub fn validate(&self) -> Result<()> {
        if self.employees == 0 || self.employees > 10_000_000 {
            return Err(invalid("employees", self.employees, "between 1 and 10,000,000"));
        }
        if self.weeks < 2 || self.weeks > 10_000 {
            return Err(invalid("weeks", self.weeks, "between 2 and 10,000"));
        }
        if self.waves.is_empty() {
            return Err(invalid("waves", "[]", "at least one wave"));
        }
        for w in self.waves.windows(2) {
            if w[1] <= w[0] {
                return Err(invalid("waves", format!("{:?}", self.waves), "weeks must increase"));
            }
        }
        for &w in &self.waves {
            if w < 2 || w > self.weeks as i64 {
                return Err(invalid(
                    "waves",
                    w,
                    "each wave's week must lie in 2..=weeks (week 1 is before any training)",
                ));
            }
        }
        let unit = |name: &str, v: f64| -> Result<()> {
            if !(0.0..1.0).contains(&v) {
                return Err(invalid(name, v, "in [0, 1)"));
            }
            Ok(())
        };
        unit("trained", self.trained)?;
        unit("seasonality", self.seasonality)?;
        let non_negative = |name: &str, v: f64| -> Result<()> {
            if !(v.is_finite() && v >= 0.0) {
                return Err(invalid(name, v, "a finite number >= 0"));
            }
            Ok(())
        };
        non_negative("selection", self.selection)?;
        non_negative("spread", self.spread)?;
        non_negative("share_lift", self.share_lift)?;
        non_negative("value_lift", self.value_lift)?;
        non_negative("noise", self.noise)?;
        if !(self.shares.is_finite() && self.shares > 0.0) {
            return Err(invalid("shares", self.shares, "a finite number > 0"));
        }
        if !(self.build.is_finite() && self.build > 0.0) {
            return Err(invalid("build", self.build, "a finite number > 0"));
        }
        if !(self.value_per_share.is_finite() && self.value_per_share > 0.0) {
            return Err(invalid("value_per_share", self.value_per_share, "a finite number > 0"));
        }
        if self.noise >= 1.0 {
            return Err(invalid("noise", self.noise, "below 1 (value stays positive)"));
        }
        for w in self.second_waves.windows(2) {
            if w[1] <= w[0] {
                return Err(invalid(
                    "second_waves",
                    format!("{:?}", self.second_waves),
                    "weeks must increase",
                ));
            }
        }
        let first = self.waves[0];
        for &w in &self.second_waves {
            if w <= first || w > self.weeks as i64 {
                return Err(invalid(
                    "second_waves",
                    w,
                    "each second wave's week must lie after the first wave and within the weeks",
                ));
            }
        }
        unit("second_trained", self.second_trained)?;
        non_negative("second_share_lift", self.second_share_lift)?;
        non_negative("second_value_lift", self.second_value_lift)?;
        if self.second_gap < 1 {
            return Err(invalid("second_gap", self.second_gap, "at least 1 week"));
        }
        Ok(())
    }
}

/// Simulates the programme.
pub fn programme(params: &ProgrammeParams) -> Result<Programme> {
    params.validate()?;
    let n = params.employees;
    let weeks = params.weeks;
    let mut rng = SplitMix64::new(params.seed ^ 0x5052_4F47_5241_4D4D);
    let keen: Vec<f64> = (0..n).map(|_| normal(&mut rng)).collect();
    let level: Vec<f64> = keen.iter().map(|k| params.shares * (params.spread * k).exp()).collect();
    // Waves by volunteering score.
    let mut order: Vec<(f64, usize)> =
        keen.iter().enumerate().map(|(i, k)| (params.selection * k + normal(&mut rng), i)).collect();
    order.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let trained = (params.trained * n as f64).round() as usize;
    let waves = params.waves.len();
    let mut cohort = vec![0i64; n];
    // Each employee's wave (index into `waves`), for the truth's cells.
    let mut wave_of = vec![usize::MAX; n];
    for (rank, &(_, i)) in order.iter().take(trained).enumerate() {
        wave_of[i] = rank * waves / trained.max(1);
        cohort[i] = params.waves[wave_of[i]];
    }
    // The second level, from its own random stream (a one-level programme is unchanged by it).
    let mut second = vec![0i64; n];
    let mut second_wave_of = vec![usize::MAX; n];
    let second_waves = params.second_waves.len();
    if second_waves > 0 {
        let mut rng2 = SplitMix64::new(params.seed ^ 0x4245_4C54_5457_4F32);
        let mut order2: Vec<(f64, usize)> = order
            .iter()
            .take(trained)
            .map(|&(_, i)| (params.selection * keen[i] + normal(&mut rng2), i))
            .collect();
        order2.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let go_on = (params.second_trained * trained as f64).round() as usize;
        for (rank, &(_, i)) in order2.iter().take(go_on).enumerate() {
            let planned = rank * second_waves / go_on.max(1);
            if let Some(w) =
                (planned..second_waves).find(|&w| params.second_waves[w] >= cohort[i] + params.second_gap)
            {
                second_wave_of[i] = w;
                second[i] = params.second_waves[w];
            }
        }
    }
    let ramp = |e: i64| if e < 0 { 0.0 } else { 1.0 - (-((e + 1) as f64) / params.build).exp() };
    let season =
        |t: i64| params.seasonality * params.shares * (2.0 * std::f64::consts::PI * t as f64 / 52.0).sin();

    let mut rows = Vec::with_capacity(n * weeks);
    // Per (wave, week): employees and sums of expected effects; the same per second wave.
    let mut cell = vec![(0u64, 0.0, 0.0); waves * (weeks + 1)];
    let mut cell2 = vec![(0u64, 0.0, 0.0); second_waves * (weeks + 1)];
    let (mut trained_value, mut trained_shares, mut trained_n) = (0.0, 0.0, 0u64);
    let mut never_by_week = vec![(0.0, 0.0, 0u64); weeks + 1];
    let mut trained_weeks = vec![0u64; weeks + 1];
    // Per week: value and count of level-2 employee-weeks, and of level-1 weeks of employees who
    // never reach level 2.
    let mut second_by_week = vec![(0.0, 0u64); weeks + 1];
    let mut first_only_by_week = vec![(0.0, 0u64); weeks + 1];
    for i in 0..n {
        for t in 1..=weeks as i64 {
            let untreated = (level[i] + season(t)).max(0.0);
            let (e, r) = if cohort[i] > 0 && t >= cohort[i] {
                (t - cohort[i], ramp(t - cohort[i]))
            } else {
                (-1, 0.0)
            };
            let (e2, r2) = if second[i] > 0 && t >= second[i] {
                (t - second[i], ramp(t - second[i]))
            } else {
                (-1, 0.0)
            };
            // Rate and value per share at level 1 only, and with the second level.
            let rate1 = untreated + params.share_lift * level[i] * r;
            let per_share1 = params.value_per_share * (1.0 + params.value_lift * r);
            let rate = rate1 + params.second_share_lift * level[i] * r2;
            let per_share = per_share1 + params.value_per_share * params.second_value_lift * r2;
            let shares = rng.poisson(rate);
            // Money, to the cent.
            let value =
                (shares as f64 * per_share * (1.0 + params.noise * normal(&mut rng)).max(0.0) * 100.0)
                    .round()
                    / 100.0;
            if e >= 0 {
                let entry = &mut cell[wave_of[i] * (weeks + 1) + t as usize];
                entry.0 += 1;
                entry.1 += rate - untreated;
                entry.2 += rate * per_share - untreated * params.value_per_share;
                trained_value += value;
                trained_shares += shares as f64;
                trained_n += 1;
                trained_weeks[t as usize] += 1;
            } else if cohort[i] == 0 {
                let w = &mut never_by_week[t as usize];
                w.0 += value;
                w.1 += shares as f64;
                w.2 += 1;
            }
            if e2 >= 0 {
                let entry = &mut cell2[second_wave_of[i] * (weeks + 1) + t as usize];
                entry.0 += 1;
                entry.1 += rate - rate1;
                entry.2 += rate * per_share - rate1 * per_share1;
                let w = &mut second_by_week[t as usize];
                w.0 += value;
                w.1 += 1;
            } else if e >= 0 && second[i] == 0 {
                let w = &mut first_only_by_week[t as usize];
                w.0 += value;
                w.1 += 1;
            }
            let at = if e2 >= 0 { 2 } else { i64::from(e >= 0) };
            rows.push(ProgrammeRow {
                employee: i as u64 + 1,
                week: t,
                cohort: cohort[i],
                level: at,
                shares,
                value,
            });
        }
    }
    // Never-trained means over the trained employee-weeks' weeks (same weights).
    let (mut never_value, mut never_shares) = (0.0, 0.0);
    for t in 1..=weeks {
        let (v, s, k) = never_by_week[t];
        if k > 0 && trained_weeks[t] > 0 {
            never_value += v / k as f64 * trained_weeks[t] as f64;
            never_shares += s / k as f64 * trained_weeks[t] as f64;
        }
    }
    // Over the weeks that have both level-2 employees and employees at level 1 alone.
    let (mut diff, mut compared) = (0.0, 0u64);
    for t in 1..=weeks {
        let ((sv, sk), (fv, fk)) = (second_by_week[t], first_only_by_week[t]);
        if sk > 0 && fk > 0 {
            diff += sv - fv / fk as f64 * sk as f64;
            compared += sk;
        }
    }
    let naive_second_value = if compared > 0 { diff / compared as f64 } else { 0.0 };
    let denom = trained_n.max(1) as f64;
    // In (level, cohort, week) order: waves increase, and so do weeks.
    let truth_of = |cells: Vec<(u64, f64, f64)>, level: i64, waves_at: &[i64]| {
        cells
            .into_iter()
            .enumerate()
            .filter(|(_, (k, _, _))| *k > 0)
            .map(|(j, (k, s, v))| {
                let (g, t) = (waves_at[j / (weeks + 1)], (j % (weeks + 1)) as i64);
                ProgrammeTruth {
                    level,
                    cohort: g,
                    week: t,
                    event_time: t - g,
                    employees: k,
                    shares: s / k as f64,
                    value: v / k as f64,
                }
            })
            .collect::<Vec<_>>()
    };
    let mut truth = truth_of(cell, 1, &params.waves);
    truth.extend(truth_of(cell2, 2, &params.second_waves));
    Ok(Programme {
        rows,
        truth,
        naive_value: (trained_value - never_value) / denom,
        naive_shares: (trained_shares - never_shares) / denom,
        naive_second_value,
        params: params.clone(),
    })
}
