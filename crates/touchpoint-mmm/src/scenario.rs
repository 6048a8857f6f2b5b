//! Scenarios: what a fitted media mix expects of future periods, given every channel's planned level
//! and every control's value in each of them, with intervals over the joint posterior draws.
//!
//! Per draw, each channel's adstock runs over the fit's last `max_lag - 1` observed periods followed
//! by the future ones, so the carryover of the history flows into the future; after the last future
//! period the input is taken as zero for `max_lag - 1` more periods, and what the plan still adds
//! then (the contribution with the plan minus the same run with the future inputs at zero) is the
//! *tail*. The baseline continues the fit's own terms:
//! the intercept, the linear trend carried past the series (`trend * (t / (T - 1))` with `t >= T`),
//! yearly seasonality at the future dates, and the controls as given. Totals over the horizon are
//! summed per draw before their interval is taken, never by adding per-period intervals. The
//! predictive interval of the KPI adds the fit's observation noise (`sigma`) to each draw.
//!
//! A planned level above the largest level the fit saw for that channel is extrapolated by the
//! response curve: such rows are flagged (`beyond_observed`, the factor over the largest observed
//! level) and named in the warnings.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, Normal};
use touchpoint_util::rng::SplitMix64;

use crate::error::{Error, Result};
use crate::fit::{estimate, Estimate, Fit};
use crate::posterior::{adstock_recursive, saturate};
use crate::spec::fourier_terms;

/// The most periods ahead a scenario may look: every draw of every component and period is held
/// (4,000 draws of 10 components over 1,000 periods: 320 MB).
pub const MAX_PERIODS: usize = 1_000;

/// Future periods: every channel's level in each (its units: spend for media, volume for organic)
/// and every control's value, by name.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Future {
    /// Per channel of the fit, one level per future period.
    pub channels: BTreeMap<String, Vec<f64>>,
    /// Per control of the fit, one value per future period.
    pub controls: BTreeMap<String, Vec<f64>>,
    /// The future periods' dates (days since 1970-01-01), when given: they must continue the fit's
    /// series step by step. Left out, they are computed so.
    pub dates: Option<Vec<i32>>,
}

/// Options of [`Fit::predict`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PredictOptions {
    /// Seed of the observation noise in the predictive interval.
    pub seed: u64,
}

#[allow(clippy::derivable_impls)]
impl Default for PredictOptions {
    fn default() -> Self {
        PredictOptions { seed: 0 }
    }
}

/// One future period's KPI.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScenarioPeriod {
    /// 1 for the first future period.
    pub period: usize,
    /// Date, days since 1970-01-01.
    pub date: i32,
    /// The expected KPI (the model's mean), with the interval of that mean.
    pub kpi: Estimate,
    /// The interval of the KPI itself: the mean's draws plus the observation noise.
    pub predictive: Estimate,
}

/// One component's contribution in one future period (or after the horizon: the tail).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScenarioContribution {
    /// 1 for the first future period.
    pub period: usize,
    /// Date, days since 1970-01-01.
    pub date: i32,
    /// Component: `intercept`, `trend`, `seasonality`, a control's or a channel's name.
    pub component: String,
    /// `baseline`, `trend`, `seasonality`, `control`, `media` or `organic`.
    pub kind: String,
    /// The planned level (channels; the control's value for controls; `None` for the rest).
    pub input: Option<f64>,
    /// Contribution in target units.
    pub value: Estimate,
    /// The planned level over the largest level the fit saw for the channel, when above it.
    pub beyond_observed: Option<f64>,
}

/// One component's total over the horizon, and its tail after it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScenarioTotal {
    /// Component, or `kpi` for the sum of every component.
    pub component: String,
    /// Its kind (`kpi` for the sum).
    pub kind: String,
    /// Summed over the horizon's periods, per draw, then summarised.
    pub horizon: Estimate,
    /// Channels: what the plan still adds in the `max_lag - 1` periods after the horizon, with no
    /// input then: the contribution with the plan minus that without it (the carryover the plan
    /// leaves behind). Zero for the rest.
    pub tail: Estimate,
    /// The planned spend over the horizon (media channels), or volume (organic).
    pub input: Option<f64>,
    /// The KPI's row only: the interval of the KPI itself over the horizon (each draw's sum plus
    /// the periods' independent observation noise).
    pub predictive: Option<Estimate>,
}

/// What one plan adds over another ([`Fit::compare`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// Per component, and the KPI: the plan's total minus the other's, over the horizon and in
    /// the tail, with the intervals of the difference; `input`: the difference of planned spend
    /// or volume.
    pub totals: Vec<ScenarioTotal>,
    /// The interval level.
    pub level: f64,
    /// Both plans' warnings (the second's marked).
    pub warnings: Vec<String>,
}

/// What a fit expects of future periods.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scenario {
    /// Per future period: the KPI.
    pub periods: Vec<ScenarioPeriod>,
    /// Per future period and component: the contribution (the tail's periods are not listed).
    pub contributions: Vec<ScenarioContribution>,
    /// Per component, and the KPI: totals over the horizon and the tail.
    pub totals: Vec<ScenarioTotal>,
    /// The interval level.
    pub level: f64,
    /// What the reader should know: planned levels beyond those observed, a MAP fit without
    /// intervals.
    pub warnings: Vec<String>,
}

fn value_error(column: &str, row: usize, value: f64, reason: &str) -> Error {
    Error::Value { column: column.to_string(), row, value: value.to_string(), reason: reason.to_string() }
}

/// Every draw's path through the future periods (and the tail after them).
struct Paths {
    /// Future periods.
    h: usize,
    /// Future periods and the tail's.
    span: usize,
    /// The future periods' dates.
    dates: Vec<i32>,
    /// Components (name, kind) in the fit's order: baseline terms, controls, channels.
    comps: Vec<(String, &'static str)>,
    /// Components before the channels.
    n_base: usize,
    /// Draws.
    n: usize,
    /// `per[component][period][draw]`, over `span` periods.
    per: Vec<Vec<Vec<f64>>>,
    /// `kpi[period][draw]`: the expected KPI; `predictive`: plus the noise.
    kpi: Vec<Vec<f64>>,
    predictive: Vec<Vec<f64>>,
    /// The planned levels per channel (model order) and the controls' values, per period.
    levels: Vec<Vec<f64>>,
    controls: Vec<Vec<f64>>,
    /// Each channel's largest observed level.
    observed: Vec<f64>,
    warnings: Vec<String>,
}

/// A number as a person reads it: whole above 100, else three decimals.
fn show(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}

/// A factor over the largest observed level: three decimals close to 1, else two.
fn factor(f: f64) -> String {
    if f < 1.1 {
        format!("{f:.3}x")
    } else {
        format!("{f:.2}x")
    }
}

impl Fit {
    /// The KPI and every component's contribution in the future periods of `future`, with
    /// intervals over the posterior draws; see the module documentation for the rules.
    pub fn predict(&self, future: &Future, options: &PredictOptions) -> Result<Scenario> {
        let p = self.paths(future, options.seed)?;
        Ok(self.summarise(p))
    }

    /// What `plan` adds over `against` (both futures of the same length): per component and for
    /// the KPI, the difference of the totals over the horizon and of the tails, taken draw by draw
    /// (the interval of a difference, which the two scenarios' intervals cannot give).
    pub fn compare(&self, plan: &Future, against: &Future) -> Result<Comparison> {
        let a = self.paths(plan, 0)?;
        let b = self.paths(against, 0)?;
        if a.h != b.h {
            return Err(Error::InvalidOption {
                option: "against",
                value: b.h.to_string(),
                reason: format!("compare plans over the same periods: the plan has {}", a.h),
            });
        }
        let (level, iv) = (self.options.level, self.has_intervals());
        let (h, span, n) = (a.h, a.span, a.n);
        let sum = |p: &Paths, k: usize, r: std::ops::Range<usize>, dr: usize| -> f64 {
            r.map(|i| p.per[k][i][dr]).sum()
        };
        let mut totals = Vec::with_capacity(a.comps.len() + 1);
        for (k, (name, kind)) in a.comps.iter().enumerate() {
            let diff = |r: std::ops::Range<usize>| -> Vec<f64> {
                (0..n).map(|dr| sum(&a, k, r.clone(), dr) - sum(&b, k, r.clone(), dr)).collect()
            };
            let input = (k >= a.n_base).then(|| {
                let c = k - a.n_base;
                a.levels[c].iter().sum::<f64>() - b.levels[c].iter().sum::<f64>()
            });
            totals.push(ScenarioTotal {
                component: name.clone(),
                kind: kind.to_string(),
                horizon: estimate(diff(0..h), level, iv),
                tail: estimate(diff(h..span), level, iv),
                input,
                predictive: None,
            });
        }
        let kpi = |p: &Paths, dr: usize| -> f64 { (0..h).map(|i| p.kpi[i][dr]).sum() };
        let tail =
            |p: &Paths, dr: usize| -> f64 { (p.n_base..p.comps.len()).map(|k| sum(p, k, h..span, dr)).sum() };
        totals.push(ScenarioTotal {
            component: "kpi".into(),
            kind: "kpi".into(),
            horizon: estimate((0..n).map(|dr| kpi(&a, dr) - kpi(&b, dr)).collect(), level, iv),
            tail: estimate((0..n).map(|dr| tail(&a, dr) - tail(&b, dr)).collect(), level, iv),
            input: None,
            predictive: None,
        });
        let mut warnings = a.warnings;
        warnings.extend(b.warnings.into_iter().map(|w| format!("the plan compared against: {w}")));
        if !iv {
            warnings.push(
                "a MAP fit: point differences without intervals; fit with method=\"nuts\" for intervals"
                    .to_string(),
            );
        }
        Ok(Comparison { totals, level, warnings })
    }

    fn paths(&self, future: &Future, seed: u64) -> Result<Paths> {
        let model = &self.model;
        let post = self.post();
        let d = &post.design;
        let t_hist = d.t;
        // Every input named, of one length, finite; levels >= 0.
        let names: Vec<&str> = model.channels.iter().map(|c| c.name.as_str()).collect();
        for given in future.channels.keys() {
            if !names.contains(&given.as_str()) {
                return Err(Error::Column {
                    column: given.clone(),
                    reason: format!("not a channel of the fit ({})", names.join(", ")),
                });
            }
        }
        for given in future.controls.keys() {
            if !model.controls.contains(given) {
                return Err(Error::Column {
                    column: given.clone(),
                    reason: format!("not a control of the fit ({})", model.controls.join(", ")),
                });
            }
        }
        let mut h = None;
        let mut lengths = |name: &str, n: usize| -> Result<()> {
            match h {
                None => h = Some(n),
                Some(m) if m != n => {
                    return Err(Error::Column {
                        column: name.to_string(),
                        reason: format!("has {n} future periods where the other columns have {m}"),
                    })
                }
                _ => {}
            }
            Ok(())
        };
        let mut levels = Vec::with_capacity(names.len());
        for (c, spec) in model.channels.iter().enumerate() {
            let Some(x) = future.channels.get(&spec.name) else {
                return Err(Error::Column {
                    column: spec.name.clone(),
                    reason: "a scenario needs every channel of the fit: give its level in each future period (0 for none)"
                        .into(),
                });
            };
            lengths(&spec.name, x.len())?;
            for (row, &v) in x.iter().enumerate() {
                if !(v.is_finite() && v >= 0.0) {
                    return Err(value_error(&spec.name, row, v, "a planned level must be finite and >= 0"));
                }
            }
            levels.push((c, x));
        }
        let mut controls = Vec::with_capacity(model.controls.len());
        for name in &model.controls {
            let Some(z) = future.controls.get(name) else {
                return Err(Error::Column {
                    column: name.clone(),
                    reason: "a scenario needs every control of the fit: give its value in each future period"
                        .into(),
                });
            };
            lengths(name, z.len())?;
            for (row, &v) in z.iter().enumerate() {
                if !v.is_finite() {
                    return Err(value_error(name, row, v, "a control must be a finite number"));
                }
            }
            controls.push(z);
        }
        let h = h.unwrap_or(0);
        if h == 0 || h > MAX_PERIODS {
            return Err(Error::InvalidOption {
                option: "future",
                value: h.to_string(),
                reason: format!("between 1 and {MAX_PERIODS} future periods"),
            });
        }
        // Dates continue the series by its step.
        let dates = &self.series.dates;
        let step = dates.windows(2).map(|w| w[1] - w[0]).min().unwrap_or(7);
        let last = *dates.last().expect("a fitted series has periods");
        let want: Vec<i32> = (1..=h as i32).map(|k| last + step * k).collect();
        if let Some(given) = &future.dates {
            if given.len() != h {
                return Err(Error::Column {
                    column: model.date.clone(),
                    reason: format!("has {} future periods where the other columns have {h}", given.len()),
                });
            }
            if let Some(row) = (0..h).find(|&r| given[r] != want[r]) {
                return Err(Error::Periods {
                    column: model.date.clone(),
                    row,
                    reason: format!(
                        "{} where the series continues with {} (the fit's last period is {}, its step {step} day(s)): future periods follow the fit's last one without gaps",
                        crate::spec::date_string(given[row]),
                        crate::spec::date_string(want[row]),
                        crate::spec::date_string(last)
                    ),
                });
            }
        }

        let lag = model.max_lag.max(1);
        let tail = lag - 1;
        let ys = d.y_scale;
        let fourier = fourier_terms(&want, model.seasonality);
        let z_scale: Vec<f64> =
            self.series.controls.iter().map(|col| col.iter().fold(0.0f64, |m, v| m.max(v.abs()))).collect();
        // Beyond observed: each planned level against the channel's largest observed level.
        let observed: Vec<f64> =
            self.series.channels.iter().map(|col| col.iter().copied().fold(0.0, f64::max)).collect();
        let mut warnings = Vec::new();
        for &(c, x) in &levels {
            let above: Vec<f64> = x.iter().map(|v| v / observed[c]).filter(|f| *f > 1.0 + 1e-12).collect();
            if !above.is_empty() {
                let worst = above.iter().copied().fold(0.0, f64::max);
                warnings.push(format!(
                    "channel `{}`: {} of {h} planned period(s) above the largest level the fit saw ({}), up to {}: the response there is extrapolated beyond the data",
                    names[c],
                    above.len(),
                    show(observed[c]),
                    factor(worst)
                ));
            }
        }

        // Components in the fit's order: baseline terms, controls, channels.
        let comps = self.components();
        let n_base = comps.len() - names.len();
        let n = self.all_draws().count();
        // per component: per period (horizon then tail): draws.
        let span = h + tail;
        let mut per = vec![vec![Vec::with_capacity(n); span]; comps.len()];
        let mut kpi = vec![Vec::with_capacity(n); h];
        let mut predictive = vec![Vec::with_capacity(n); h];
        let normal = Normal::standard();
        let mut ext = vec![0.0; tail + span];
        let (mut a, mut da) = (vec![0.0; tail + span], vec![0.0; tail + span]);
        for (draw, theta) in self.all_draws().enumerate() {
            let p = post.params(theta);
            let mut k = 0;
            let mut put = |k: usize, i: usize, v: f64| per[k][i].push(v);
            for i in 0..span {
                put(k, i, if i < h { p.intercept * ys } else { 0.0 });
            }
            k += 1;
            if model.trend {
                for i in 0..span {
                    let at = (t_hist + i) as f64 / (t_hist - 1).max(1) as f64;
                    put(k, i, if i < h { p.trend * at * ys } else { 0.0 });
                }
                k += 1;
            }
            if model.seasonality > 0 {
                for i in 0..span {
                    let v = if i < h {
                        p.fourier.iter().zip(&fourier).map(|(c, f)| c * f[i]).sum::<f64>()
                    } else {
                        0.0
                    };
                    put(k, i, v * ys);
                }
                k += 1;
            }
            for (j, g) in p.controls.iter().enumerate() {
                for i in 0..span {
                    // The controls are given for the horizon; the tail has only the channels.
                    let v = controls[j].get(i).map_or(0.0, |z| g * z / z_scale[j] * ys);
                    put(k, i, v);
                }
                k += 1;
            }
            debug_assert_eq!(k, n_base);
            for &(c, x) in &levels {
                let cp = &p.channels[c];
                let hist = &d.x[c];
                // The last `tail` observed periods, then the future, then zeros.
                ext.iter_mut().for_each(|v| *v = 0.0);
                for l in 0..tail.min(t_hist) {
                    ext[tail - 1 - l] = hist[t_hist - 1 - l];
                }
                for (i, v) in x.iter().enumerate() {
                    ext[tail + i] = v / d.x_scale[c];
                }
                adstock_recursive(&ext, cp.alpha, lag, &mut a, &mut da);
                for i in 0..h {
                    let s = saturate(model.saturation, a[tail + i], cp.lam, cp.slope).0;
                    put(n_base + c, i, cp.beta * s * ys);
                }
                // The tail is what the plan leaves behind: after the horizon, the run with the plan
                // minus the run without it (the history's own carryover, when the horizon is
                // shorter than the adstock window, is not the plan's).
                let with_plan: Vec<f64> =
                    (h..span).map(|i| saturate(model.saturation, a[tail + i], cp.lam, cp.slope).0).collect();
                ext[tail..tail + h].iter_mut().for_each(|v| *v = 0.0);
                adstock_recursive(&ext, cp.alpha, lag, &mut a, &mut da);
                for (j, i) in (h..span).enumerate() {
                    let without = saturate(model.saturation, a[tail + i], cp.lam, cp.slope).0;
                    put(n_base + c, i, cp.beta * (with_plan[j] - without) * ys);
                }
            }
            let sigma = p.sigma * ys;
            let mut rng = SplitMix64::new(seed ^ (draw as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            for i in 0..h {
                let mean: f64 = per.iter().map(|comp| *comp[i].last().expect("a value per draw")).sum();
                kpi[i].push(mean);
                let u = ((rng.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
                predictive[i].push(mean + sigma * normal.inverse_cdf(u));
            }
        }
        Ok(Paths {
            h,
            span,
            dates: want,
            comps,
            n_base,
            n,
            per,
            kpi,
            predictive,
            levels: levels.iter().map(|(_, x)| x.to_vec()).collect(),
            controls: controls.iter().map(|z| z.to_vec()).collect(),
            observed,
            warnings,
        })
    }

    fn summarise(&self, p: Paths) -> Scenario {
        let Paths {
            h,
            span,
            dates: want,
            comps,
            n_base,
            n,
            per,
            kpi,
            predictive,
            levels,
            controls,
            observed,
            mut warnings,
        } = p;
        let model = &self.model;
        let level = self.options.level;
        let iv = self.has_intervals();
        if !iv {
            warnings.push(
                "a MAP fit: point predictions without intervals; fit with method=\"nuts\" for intervals"
                    .to_string(),
            );
        }
        let periods = (0..h)
            .map(|i| ScenarioPeriod {
                period: i + 1,
                date: want[i],
                kpi: estimate(kpi[i].clone(), level, iv),
                predictive: estimate(predictive[i].clone(), level, iv),
            })
            .collect();
        let mut contributions = Vec::with_capacity(h * comps.len());
        for i in 0..h {
            for (k, (name, kind)) in comps.iter().enumerate() {
                let (input, beyond) = if k >= n_base {
                    let c = k - n_base;
                    let x = levels[c][i];
                    let f = x / observed[c];
                    (Some(x), (f > 1.0 + 1e-12).then_some(f))
                } else if *kind == "control" {
                    let j = k - (n_base - model.controls.len());
                    (Some(controls[j][i]), None)
                } else {
                    (None, None)
                };
                contributions.push(ScenarioContribution {
                    period: i + 1,
                    date: want[i],
                    component: name.clone(),
                    kind: kind.to_string(),
                    input,
                    value: estimate(per[k][i].clone(), level, iv),
                    beyond_observed: beyond,
                });
            }
        }
        let sum_draws = |k: usize, range: std::ops::Range<usize>| -> Vec<f64> {
            (0..n).map(|dr| range.clone().map(|i| per[k][i][dr]).sum()).collect()
        };
        let mut totals = Vec::with_capacity(comps.len() + 1);
        for (k, (name, kind)) in comps.iter().enumerate() {
            let input = (k >= n_base).then(|| levels[k - n_base].iter().sum());
            totals.push(ScenarioTotal {
                component: name.clone(),
                kind: kind.to_string(),
                horizon: estimate(sum_draws(k, 0..h), level, iv),
                tail: estimate(sum_draws(k, h..span), level, iv),
                input,
                predictive: None,
            });
        }
        let kpi_total: Vec<f64> = (0..n).map(|dr| (0..h).map(|i| kpi[i][dr]).sum()).collect();
        let predictive_total: Vec<f64> = (0..n).map(|dr| (0..h).map(|i| predictive[i][dr]).sum()).collect();
        let tail_total: Vec<f64> = (0..n)
            .map(|dr| (n_base..comps.len()).map(|k| (h..span).map(|i| per[k][i][dr]).sum::<f64>()).sum())
            .collect();
        totals.push(ScenarioTotal {
            component: "kpi".into(),
            kind: "kpi".into(),
            horizon: estimate(kpi_total, level, iv),
            tail: estimate(tail_total, level, iv),
            input: None,
            predictive: Some(estimate(predictive_total, level, iv)),
        });
        Scenario { periods, contributions, totals, level, warnings }
    }

    /// The warning for a level of `channel` above the largest level the fit saw (`None` when
    /// within it): the factor over that level, for [`Fit::lift`]'s callers.
    pub fn beyond_observed(&self, channel: &str, level: f64) -> Result<Option<(f64, String)>> {
        let Some(c) = self.model.channels.iter().position(|s| s.name == channel) else {
            return Err(Error::InvalidOption {
                option: "channel",
                value: format!("{channel:?}"),
                reason: format!(
                    "not a channel of the model ({})",
                    self.model.channels.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
                ),
            });
        };
        let observed = self.series.channels[c].iter().copied().fold(0.0, f64::max);
        let f = level / observed;
        Ok((f > 1.0 + 1e-12).then(|| {
            (
                f,
                format!(
                    "channel `{channel}`: {} is {} the largest level the fit saw ({}): the response there is extrapolated beyond the data",
                    show(level),
                    factor(f),
                    show(observed)
                ),
            )
        }))
    }
}
