//! What the user specifies: the model ([`MediaMix`]), its priors ([`Priors`]), the series
//! ([`Series`]) and lift measurements ([`LiftMeasurement`]); and the checked, scaled design the
//! posterior reads.
use std::collections::BTreeMap;

use chrono::Datelike;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Whether a channel's column is spend (ROI exists) or a volume (posts, shares, replies).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    /// Paid media: the column is spend, so ROI and marginal ROI are reported.
    Media,
    /// Organic volumes (posts, employee shares, care replies): contribution only.
    Organic,
}

impl ChannelKind {
    /// `"media"` or `"organic"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Media => "media",
            ChannelKind::Organic => "organic",
        }
    }
}

/// The saturation curve applied to each channel's adstocked, max-abs-scaled series.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Saturation {
    /// `(1 - e^(-lam x)) / (1 + e^(-lam x))` = `tanh(lam x / 2)`, pymc-marketing's `LogisticSaturation`.
    Logistic,
    /// `x^s / (x^s + ec^s)`, the Hill curve of Google's Meridian (Jin et al. 2017, "Bayesian methods
    /// for media mix modeling with carryover and shape effects", eq. 4).
    Hill,
}

impl Saturation {
    /// Parses `"logistic"` or `"hill"`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "logistic" => Ok(Saturation::Logistic),
            "hill" => Ok(Saturation::Hill),
            other => Err(Error::InvalidOption {
                option: "saturation",
                value: format!("{other:?}"),
                reason: "use \"logistic\" or \"hill\"".into(),
            }),
        }
    }
}

/// A normal prior.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct NormalPrior {
    /// Mean.
    pub mu: f64,
    /// Standard deviation (> 0).
    pub sigma: f64,
}

/// A half-normal prior on a positive parameter.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct HalfNormalPrior {
    /// Scale (> 0).
    pub sigma: f64,
}

/// A beta prior on a parameter in (0, 1).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BetaPrior {
    /// First shape (> 0).
    pub alpha: f64,
    /// Second shape (> 0).
    pub beta: f64,
}

/// A gamma prior (shape, rate) on a positive parameter.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct GammaPrior {
    /// Shape (> 0).
    pub alpha: f64,
    /// Rate (> 0).
    pub beta: f64,
}

/// A log-normal prior on a positive parameter: its logarithm is normal.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogNormalPrior {
    /// Mean of the logarithm.
    pub mu: f64,
    /// Standard deviation of the logarithm (> 0).
    pub sigma: f64,
}

/// A Laplace prior.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LaplacePrior {
    /// Location.
    pub mu: f64,
    /// Scale (> 0).
    pub b: f64,
}

/// The priors, on the scaled model (target and channels divided by their largest absolute value).
///
/// The defaults are pymc-marketing's (0.19) for the parameters it has: intercept `Normal(0, 2)`,
/// noise `HalfNormal(2)`, controls `Normal(0, 2)`, Fourier terms `Laplace(0, 1)`, channel coefficients
/// `HalfNormal(2)`, adstock decay `Beta(1, 3)`, logistic `lam` `Gamma(3, 1)`. Ours: the trend slope
/// `Normal(0, 1)` (a change of one target maximum over the series), and for the Hill curve the
/// half-saturation point `LogNormal(ln 0.5, 1)` (half of the largest adstocked value, Meridian's
/// `ec` prior is centred near its median-scaled 0.8) and the slope `LogNormal(0, 0.5)` (centred on
/// Meridian's fixed slope 1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Priors {
    /// Intercept.
    pub intercept: NormalPrior,
    /// Standard deviation of the noise.
    pub noise: HalfNormalPrior,
    /// Slope of the linear trend over the whole series.
    pub trend: NormalPrior,
    /// Coefficients of the Fourier seasonality terms.
    pub seasonality: LaplacePrior,
    /// Coefficients of the controls (on max-abs-scaled controls).
    pub control: NormalPrior,
    /// Channel coefficients (the contribution at full saturation, in scaled target units).
    pub beta: HalfNormalPrior,
    /// Per-channel overrides of `beta`'s scale, by channel name (pymc-marketing's example sets
    /// them from spend shares).
    pub beta_by_channel: BTreeMap<String, HalfNormalPrior>,
    /// Geometric adstock decay.
    pub adstock: BetaPrior,
    /// Logistic saturation `lam`.
    pub lam: GammaPrior,
    /// Hill half-saturation point (on the scaled, adstocked channel).
    pub hill_ec: LogNormalPrior,
    /// Hill slope.
    pub hill_slope: LogNormalPrior,
}

impl Default for Priors {
    fn default() -> Self {
        Priors {
            intercept: NormalPrior { mu: 0.0, sigma: 2.0 },
            noise: HalfNormalPrior { sigma: 2.0 },
            trend: NormalPrior { mu: 0.0, sigma: 1.0 },
            seasonality: LaplacePrior { mu: 0.0, b: 1.0 },
            control: NormalPrior { mu: 0.0, sigma: 2.0 },
            beta: HalfNormalPrior { sigma: 2.0 },
            beta_by_channel: BTreeMap::new(),
            adstock: BetaPrior { alpha: 1.0, beta: 3.0 },
            lam: GammaPrior { alpha: 3.0, beta: 1.0 },
            hill_ec: LogNormalPrior { mu: 0.5f64.ln(), sigma: 1.0 },
            hill_slope: LogNormalPrior { mu: 0.0, sigma: 0.5 },
        }
    }
}

fn positive(prior: &str, field: &str, v: f64) -> Result<()> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(Error::InvalidPrior {
            prior: format!("{prior}.{field}"),
            value: v.to_string(),
            reason: "must be finite and > 0".into(),
        })
    }
}

fn finite(prior: &str, field: &str, v: f64) -> Result<()> {
    if v.is_finite() {
        Ok(())
    } else {
        Err(Error::InvalidPrior {
            prior: format!("{prior}.{field}"),
            value: v.to_string(),
            reason: "must be finite".into(),
        })
    }
}

impl Priors {
    /// The default priors with `overrides` (a JSON object) laid over them one level deep:
    /// `{"adstock": {"alpha": 2.0}}` keeps the default `beta` of the adstock prior; a name that is
    /// not a prior, a field that is not the prior's, or a value out of its domain is an error naming
    /// it. The CLI's `--priors` file and Python's `MMM(priors=...)` both read overrides this way.
    pub fn with_overrides(overrides: &str) -> Result<Priors> {
        let bad = |prior: String, value: String, reason: String| Error::InvalidPrior { prior, value, reason };
        let given: serde_json::Value = serde_json::from_str(overrides).map_err(|e| {
            bad("priors".into(), overrides.chars().take(60).collect(), format!("not JSON: {e}"))
        })?;
        let serde_json::Value::Object(given) = given else {
            return Err(bad(
                "priors".into(),
                given.to_string(),
                "expected an object of priors by name".into(),
            ));
        };
        let mut merged = serde_json::to_value(Priors::default()).expect("plain data serialises");
        let serde_json::Value::Object(map) = &mut merged else {
            unreachable!("Priors serialises to an object")
        };
        for (name, value) in given {
            let Some(default) = map.get_mut(&name) else {
                let known: Vec<&str> = map.keys().map(String::as_str).collect();
                return Err(bad(
                    name,
                    value.to_string(),
                    format!("no such prior; the priors are {}", known.join(", ")),
                ));
            };
            match (default, value) {
                (serde_json::Value::Object(d), serde_json::Value::Object(v)) if name != "beta_by_channel" => {
                    for (field, x) in v {
                        if !d.contains_key(&field) {
                            let known: Vec<&str> = d.keys().map(String::as_str).collect();
                            return Err(bad(
                                format!("{name}.{field}"),
                                x.to_string(),
                                format!("no such field; `{name}` has {}", known.join(", ")),
                            ));
                        }
                        if !x.is_number() {
                            return Err(bad(
                                format!("{name}.{field}"),
                                x.to_string(),
                                "must be a number".into(),
                            ));
                        }
                        d.insert(field, x);
                    }
                }
                (d, v) => *d = v,
            }
        }
        let priors: Priors = serde_json::from_value(merged)
            .map_err(|e| bad("priors".into(), overrides.chars().take(60).collect(), e.to_string()))?;
        priors.validate()?;
        Ok(priors)
    }

    /// Checks every parameter's domain.
    pub fn validate(&self) -> Result<()> {
        finite("intercept", "mu", self.intercept.mu)?;
        positive("intercept", "sigma", self.intercept.sigma)?;
        positive("noise", "sigma", self.noise.sigma)?;
        finite("trend", "mu", self.trend.mu)?;
        positive("trend", "sigma", self.trend.sigma)?;
        finite("seasonality", "mu", self.seasonality.mu)?;
        positive("seasonality", "b", self.seasonality.b)?;
        finite("control", "mu", self.control.mu)?;
        positive("control", "sigma", self.control.sigma)?;
        positive("beta", "sigma", self.beta.sigma)?;
        for (name, p) in &self.beta_by_channel {
            positive(&format!("beta_by_channel[{name}]"), "sigma", p.sigma)?;
        }
        positive("adstock", "alpha", self.adstock.alpha)?;
        positive("adstock", "beta", self.adstock.beta)?;
        positive("lam", "alpha", self.lam.alpha)?;
        positive("lam", "beta", self.lam.beta)?;
        finite("hill_ec", "mu", self.hill_ec.mu)?;
        positive("hill_ec", "sigma", self.hill_ec.sigma)?;
        finite("hill_slope", "mu", self.hill_slope.mu)?;
        positive("hill_slope", "sigma", self.hill_slope.sigma)?;
        Ok(())
    }
}

/// A channel of the model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChannelSpec {
    /// Column name.
    pub name: String,
    /// Spend or volume.
    pub kind: ChannelKind,
}

/// A media-mix model: `y_t = intercept + trend + seasonality + sum_c beta_c * sat(adstock(x_c))_t
/// + sum_k gamma_k * z_k,t + noise`, on the max-abs-scaled target and channels.
///
/// Geometric adstock with `max_lag` weights `alpha^l / sum_m alpha^m`, `l = 0..max_lag-1`
/// (pymc-marketing's `GeometricAdstock(l_max, normalize=True)`), applied before the saturation.
/// Seasonality: `order` Fourier pairs `sin(2 pi k d / 365.25)`, `cos(2 pi k d / 365.25)` of the day of
/// the year `d` (pymc-marketing's yearly seasonality). Trend: `delta * t / (T - 1)`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MediaMix {
    /// Name of the date column (only used for messages and output).
    pub date: String,
    /// Name of the target column.
    pub target: String,
    /// Channels, media first then organic in the order given.
    pub channels: Vec<ChannelSpec>,
    /// Control columns.
    pub controls: Vec<String>,
    /// Number of adstock weights (lags 0 to `max_lag - 1`).
    pub max_lag: usize,
    /// Saturation curve.
    pub saturation: Saturation,
    /// Whether a linear trend is fitted.
    pub trend: bool,
    /// Number of Fourier pairs of yearly seasonality (0 for none).
    pub seasonality: usize,
    /// Priors.
    pub priors: Priors,
}

impl MediaMix {
    /// A model with pymc-marketing's defaults: `max_lag` 8, logistic saturation, a trend, two Fourier
    /// pairs, default priors.
    pub fn new(date: &str, target: &str, media: &[&str], organic: &[&str], controls: &[&str]) -> Self {
        let mut channels: Vec<ChannelSpec> =
            media.iter().map(|n| ChannelSpec { name: n.to_string(), kind: ChannelKind::Media }).collect();
        channels
            .extend(organic.iter().map(|n| ChannelSpec { name: n.to_string(), kind: ChannelKind::Organic }));
        MediaMix {
            date: date.into(),
            target: target.into(),
            channels,
            controls: controls.iter().map(|s| s.to_string()).collect(),
            max_lag: 8,
            saturation: Saturation::Logistic,
            trend: true,
            seasonality: 2,
            priors: Priors::default(),
        }
    }

    /// Checks names, options and priors (not the data).
    pub fn validate(&self) -> Result<()> {
        if self.channels.is_empty() {
            return Err(Error::InvalidOption {
                option: "media/organic",
                value: "[]".into(),
                reason: "a media-mix model needs at least one channel".into(),
            });
        }
        if self.max_lag == 0 || self.max_lag > 520 {
            return Err(Error::InvalidOption {
                option: "max_lag",
                value: self.max_lag.to_string(),
                reason: "must be between 1 and 520 periods".into(),
            });
        }
        if self.seasonality > 26 {
            return Err(Error::InvalidOption {
                option: "seasonality",
                value: self.seasonality.to_string(),
                reason: "at most 26 Fourier pairs (a weekly series cannot resolve more)".into(),
            });
        }
        let mut seen = std::collections::HashSet::new();
        let names = std::iter::once(&self.date)
            .chain(std::iter::once(&self.target))
            .chain(self.channels.iter().map(|c| &c.name))
            .chain(self.controls.iter());
        for n in names {
            if n.is_empty() {
                return Err(Error::Column { column: String::new(), reason: "empty column name".into() });
            }
            if !seen.insert(n.as_str()) {
                return Err(Error::Column {
                    column: n.clone(),
                    reason: "named twice in the model (date, target, channels and controls must differ)"
                        .into(),
                });
            }
        }
        for name in self.priors.beta_by_channel.keys() {
            if !self.channels.iter().any(|c| &c.name == name) {
                return Err(Error::InvalidPrior {
                    prior: format!("beta_by_channel[{name}]"),
                    value: name.clone(),
                    reason: "no channel of the model has this name".into(),
                });
            }
        }
        self.priors.validate()
    }

    /// Number of unconstrained parameters.
    pub fn n_params(&self) -> usize {
        Layout::new(self).dim
    }
}

/// The data of one fit: dates, target, channel and control columns, in the order of the model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// Dates as days since 1970-01-01, one per period.
    pub dates: Vec<i32>,
    /// The target, in its own units.
    pub target: Vec<f64>,
    /// One column per channel of the model, in the model's order.
    pub channels: Vec<Vec<f64>>,
    /// One column per control of the model, in the model's order.
    pub controls: Vec<Vec<f64>>,
}

/// A lift experiment on one channel, pymc-marketing's `add_lift_test_measurements` shape: raising the
/// channel from `x` to `x + delta_x` per period (in the channel's units) moved the target by
/// `delta_y` per period (in the target's units), measured with standard error `sigma`.
///
/// Not to be confused with the per-exposure lift tests of the user-level models
/// (`touchpoint_core`'s `LiftTest`): this one speaks of spend or volume per period.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LiftMeasurement {
    /// Channel name.
    pub channel: String,
    /// Level before the change, per period.
    pub x: f64,
    /// Change of the level, per period.
    pub delta_x: f64,
    /// Measured change of the target, per period.
    pub delta_y: f64,
    /// Standard error of `delta_y` (> 0).
    pub sigma: f64,
}

/// Where each parameter sits in the unconstrained vector.
#[derive(Clone, Debug)]
pub(crate) struct Layout {
    pub dim: usize,
    pub trend: Option<usize>,
    pub fourier: usize,
    pub n_fourier: usize,
    pub controls: usize,
    pub n_controls: usize,
    pub channels: usize,
    pub per_channel: usize,
}

impl Layout {
    pub fn new(m: &MediaMix) -> Layout {
        let mut at = 2; // intercept, log sigma
        let trend = if m.trend {
            at += 1;
            Some(at - 1)
        } else {
            None
        };
        let fourier = at;
        let n_fourier = 2 * m.seasonality;
        at += n_fourier;
        let controls = at;
        at += m.controls.len();
        let channels = at;
        let per_channel = match m.saturation {
            Saturation::Logistic => 3,
            Saturation::Hill => 4,
        };
        at += per_channel * m.channels.len();
        Layout {
            dim: at,
            trend,
            fourier,
            n_fourier,
            controls,
            n_controls: m.controls.len(),
            channels,
            per_channel,
        }
    }

    /// Offset of channel `c`'s block: log beta, logit alpha, then the saturation parameters.
    pub fn channel(&self, c: usize) -> usize {
        self.channels + c * self.per_channel
    }
}

/// The checked, scaled series the posterior reads.
#[derive(Clone, Debug)]
pub(crate) struct Design {
    pub t: usize,
    pub y: Vec<f64>,
    pub y_scale: f64,
    pub x: Vec<Vec<f64>>,
    pub x_scale: Vec<f64>,
    pub z: Vec<Vec<f64>>,
    pub fourier: Vec<Vec<f64>>,
    pub trend: Vec<f64>,
    pub lifts: Vec<ScaledLift>,
}

/// A lift measurement on the scaled model.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ScaledLift {
    pub channel: usize,
    pub x: f64,
    pub delta_x: f64,
    pub delta_y: f64,
    pub sigma: f64,
}

pub(crate) fn date_string(days: i32) -> String {
    chrono::NaiveDate::from_num_days_from_ce_opt(days + 719_163)
        .map(|d| d.to_string())
        .unwrap_or_else(|| format!("day {days}"))
}

fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0f64, |m, x| m.max(x.abs()))
}

impl Design {
    /// Checks `series` against `model` and scales it. Errors name the column and row.
    pub fn new(model: &MediaMix, series: &Series, lifts: &[LiftMeasurement]) -> Result<Design> {
        model.validate()?;
        let t = series.dates.len();
        let col_len = |name: &str, n: usize| -> Result<()> {
            if n != t {
                return Err(Error::Column {
                    column: name.to_string(),
                    reason: format!("has {n} rows, the dates have {t}"),
                });
            }
            Ok(())
        };
        col_len(&model.target, series.target.len())?;
        if series.channels.len() != model.channels.len() {
            return Err(Error::InvalidOption {
                option: "channels",
                value: series.channels.len().to_string(),
                reason: format!("the model has {} channels", model.channels.len()),
            });
        }
        if series.controls.len() != model.controls.len() {
            return Err(Error::InvalidOption {
                option: "controls",
                value: series.controls.len().to_string(),
                reason: format!("the model has {} controls", model.controls.len()),
            });
        }
        // Dates: sorted, distinct, then one regular step (the smallest one seen).
        for r in 1..t {
            if series.dates[r] <= series.dates[r - 1] {
                let what = if series.dates[r] == series.dates[r - 1] { "repeats" } else { "comes before" };
                return Err(Error::Periods {
                    column: model.date.clone(),
                    row: r,
                    reason: format!(
                        "{} {what} {} in the row above: one row per period, sorted by date",
                        date_string(series.dates[r]),
                        date_string(series.dates[r - 1])
                    ),
                });
            }
        }
        if let Some(step) = series.dates.windows(2).map(|w| w[1] - w[0]).min() {
            for r in 1..t {
                let d = series.dates[r] - series.dates[r - 1];
                if d != step {
                    let reason = if d % step == 0 {
                        format!(
                            "{} follows {}: {} period(s) of {step} day(s) are missing; give every period, with zeros where nothing was spent",
                            date_string(series.dates[r]),
                            date_string(series.dates[r - 1]),
                            d / step - 1
                        )
                    } else if step >= 28 {
                        format!(
                            "{} follows {} after {d} days, {step} days elsewhere: calendar months are not a fixed step; give weekly or daily periods",
                            date_string(series.dates[r]),
                            date_string(series.dates[r - 1])
                        )
                    } else {
                        format!(
                            "{} follows {}, but the series steps by {step} day(s): one row per period",
                            date_string(series.dates[r]),
                            date_string(series.dates[r - 1])
                        )
                    };
                    return Err(Error::Periods { column: model.date.clone(), row: r, reason });
                }
            }
        }
        for (r, &v) in series.target.iter().enumerate() {
            if !v.is_finite() {
                return Err(Error::Value {
                    column: model.target.clone(),
                    row: r,
                    value: v.to_string(),
                    reason: "the target must be a finite number in every period".into(),
                });
            }
        }
        let y_scale = max_abs(&series.target);
        if t > 0 && series.target.iter().all(|&v| v == series.target[0]) {
            return Err(Error::Constant { column: model.target.clone(), value: series.target[0] });
        }
        let mut x_scale = Vec::with_capacity(model.channels.len());
        for (c, col) in model.channels.iter().zip(&series.channels) {
            col_len(&c.name, col.len())?;
            for (r, &v) in col.iter().enumerate() {
                if !v.is_finite() || v < 0.0 {
                    return Err(Error::Value {
                        column: c.name.clone(),
                        row: r,
                        value: v.to_string(),
                        reason: format!(
                            "a {} column must be finite and >= 0 in every period",
                            if c.kind == ChannelKind::Media { "spend" } else { "volume" }
                        ),
                    });
                }
            }
            if t > 0 && col.iter().all(|&v| v == col[0]) {
                return Err(Error::Constant { column: c.name.clone(), value: col[0] });
            }
            x_scale.push(max_abs(col));
        }
        let mut z_scale: Vec<f64> = Vec::with_capacity(model.controls.len());
        for (name, col) in model.controls.iter().zip(&series.controls) {
            col_len(name, col.len())?;
            for (r, &v) in col.iter().enumerate() {
                if !v.is_finite() {
                    return Err(Error::Value {
                        column: name.clone(),
                        row: r,
                        value: v.to_string(),
                        reason: "a control must be a finite number in every period".into(),
                    });
                }
            }
            if t > 0 && col.iter().all(|&v| v == col[0]) {
                return Err(Error::Constant { column: name.clone(), value: col[0] });
            }
            z_scale.push(max_abs(col));
        }
        let parameters = model.n_params();
        if t <= parameters {
            return Err(Error::TooFewRows { rows: t, parameters });
        }
        let y = series.target.iter().map(|v| v / y_scale).collect();
        let x = series
            .channels
            .iter()
            .zip(&x_scale)
            .map(|(col, s)| col.iter().map(|v| v / s).collect())
            .collect();
        let z = series
            .controls
            .iter()
            .zip(&z_scale)
            .map(|(col, s)| col.iter().map(|v| v / s).collect())
            .collect();
        let fourier = fourier_terms(&series.dates, model.seasonality);
        let trend = (0..t).map(|i| i as f64 / (t - 1) as f64).collect();
        let mut scaled = Vec::with_capacity(lifts.len());
        for (row, l) in lifts.iter().enumerate() {
            let Some(c) = model.channels.iter().position(|c| c.name == l.channel) else {
                return Err(Error::Lift {
                    row,
                    reason: format!(
                        "unknown channel `{}`; the model's channels: {}",
                        l.channel,
                        model.channels.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                });
            };
            let bad =
                |field: &str, v: f64, why: &str| Error::Lift { row, reason: format!("{field} = {v}: {why}") };
            if !l.x.is_finite() || l.x < 0.0 {
                return Err(bad("x", l.x, "must be finite and >= 0"));
            }
            if !l.delta_x.is_finite() || l.delta_x == 0.0 || l.x + l.delta_x < 0.0 {
                return Err(bad("delta_x", l.delta_x, "must be finite, non-zero, and keep x + delta_x >= 0"));
            }
            if !l.delta_y.is_finite() {
                return Err(bad("delta_y", l.delta_y, "must be finite"));
            }
            if !l.sigma.is_finite() || l.sigma <= 0.0 {
                return Err(bad("sigma", l.sigma, "must be finite and > 0"));
            }
            scaled.push(ScaledLift {
                channel: c,
                x: l.x / x_scale[c],
                delta_x: l.delta_x / x_scale[c],
                delta_y: l.delta_y / y_scale,
                sigma: l.sigma / y_scale,
            });
        }
        Ok(Design { t, y, y_scale, x, x_scale, z, fourier, trend, lifts: scaled })
    }
}

/// The Fourier terms of yearly seasonality: for `k = 1..=order`, `sin(2 pi k d / 365.25)` then
/// `cos(2 pi k d / 365.25)`, `d` the day of the year (1 for January 1st), as pymc-marketing's
/// `YearlyFourier` computes them.
pub(crate) fn fourier_terms(dates: &[i32], order: usize) -> Vec<Vec<f64>> {
    let doy: Vec<f64> = dates
        .iter()
        .map(|&d| {
            chrono::NaiveDate::from_num_days_from_ce_opt(d + 719_163)
                .map(|x| x.ordinal() as f64)
                .unwrap_or(1.0)
        })
        .collect();
    let mut out = Vec::with_capacity(2 * order);
    for k in 1..=order {
        let w = 2.0 * std::f64::consts::PI * k as f64 / 365.25;
        out.push(doy.iter().map(|d| (w * d).sin()).collect());
        out.push(doy.iter().map(|d| (w * d).cos()).collect());
    }
    out
}
