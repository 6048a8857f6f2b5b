//! Fitting ([`fit`]) and what a fit reports: contributions per period and component, a summary per
//! channel with ROI and marginal ROI, response curves, and per-parameter diagnostics. Every number
//! that is a posterior summary carries the interval at the fit's `level`.
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use touchpoint_core::Control;

use crate::diagnostics::{ess_bulk, ess_tail, quantile_sorted, rhat};
use crate::error::{Error, Result};
use crate::posterior::Posterior;
use crate::sampler::{self, NutsRun};
use crate::spec::{ChannelKind, Design, LiftMeasurement, MediaMix, Saturation, Series};

/// NaN (no interval, no R-hat) as JSON null and back: JSON has no NaN.
pub(crate) mod nullable {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            s.serialize_f64(*v)
        } else {
            s.serialize_none()
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
    }

    pub mod vec {
        use serde::{Deserialize, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(v.iter().map(|x| x.is_finite().then_some(*x)))
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
            Ok(Vec::<Option<f64>>::deserialize(d)?.into_iter().map(|x| x.unwrap_or(f64::NAN)).collect())
        }
    }
}

/// How the posterior is explored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Draws by NUTS.
    Nuts,
    /// The posterior mode by L-BFGS: point estimates, no intervals.
    Map,
}

impl Method {
    /// Parses `"nuts"` or `"map"`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "nuts" => Ok(Method::Nuts),
            "map" => Ok(Method::Map),
            other => Err(Error::InvalidOption {
                option: "method",
                value: format!("{other:?}"),
                reason: "use \"nuts\" or \"map\"".into(),
            }),
        }
    }
}

/// Settings of a fit.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FitOptions {
    /// NUTS or MAP.
    pub method: Method,
    /// Number of chains (NUTS).
    pub chains: usize,
    /// Draws kept per chain (NUTS).
    pub draws: u64,
    /// Tuning draws per chain, discarded (NUTS).
    pub tune: u64,
    /// Seed of the starting points and of the sampler.
    pub seed: u64,
    /// Threads for the chains (0: one per core).
    pub threads: usize,
    /// Level of the intervals (central, from the draws' quantiles).
    pub level: f64,
    /// NUTS maximum tree depth.
    pub max_depth: u64,
    /// Mass-matrix adaptation: diagonal (the default), or diagonal plus low rank (nutpie's; fewer
    /// gradients per draw where parameters are correlated, but on pymc-marketing's example its R-hat
    /// varied more between seeds: `benches/mmm_peer.py`).
    #[serde(default)]
    pub low_rank: bool,
    /// The diagonal mass matrix from the draws' and the gradients' variances (nutpie's estimate)
    /// instead of the draws' alone (Stan's and PyMC's, the default). On pymc-marketing's example
    /// the draws' estimate doubles the smallest bulk ESS over the channel parameters (median 1,285
    /// against 678 of 4,000 draws over 8 seeds) at 1.6x the sampling time; on the simulated weekly
    /// series, 2,042 against 918 at 1.3x.
    #[serde(default)]
    pub gradient_mass_matrix: bool,
    /// Target acceptance rate of the step-size adaptation (0.8, as PyMC and nutpie; raise it
    /// towards 0.95 when a fit reports divergences).
    #[serde(default = "target_accept")]
    pub target_accept: f64,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            method: Method::Nuts,
            chains: 4,
            draws: 1000,
            tune: 1000,
            seed: 0,
            threads: 0,
            level: 0.9,
            max_depth: 10,
            low_rank: false,
            gradient_mass_matrix: false,
            target_accept: 0.8,
        }
    }
}

impl FitOptions {
    /// Checks the settings' domains.
    pub fn validate(&self) -> Result<()> {
        let bad = |option: &'static str, value: String, reason: &str| {
            Err(Error::InvalidOption { option, value, reason: reason.into() })
        };
        if self.method == Method::Nuts {
            if self.chains == 0 || self.chains > 64 {
                return bad("chains", self.chains.to_string(), "must be between 1 and 64");
            }
            if self.draws < 4 || self.draws > 1_000_000 {
                return bad("draws", self.draws.to_string(), "must be between 4 and 1,000,000");
            }
            if self.chains as u64 * self.draws > 2_000_000 {
                return bad(
                    "draws",
                    self.draws.to_string(),
                    "chains x draws must be at most 2,000,000 (every draw of every parameter is kept)",
                );
            }
            if self.tune > 1_000_000 {
                return bad("tune", self.tune.to_string(), "must be at most 1,000,000");
            }
            if self.max_depth == 0 || self.max_depth > 15 {
                return bad("max_depth", self.max_depth.to_string(), "must be between 1 and 15");
            }
        }
        if !(self.level > 0.0 && self.level < 1.0) {
            return bad("level", self.level.to_string(), "an interval level is in (0, 1)");
        }
        if !(self.target_accept >= 0.5 && self.target_accept < 1.0) {
            return bad("target_accept", self.target_accept.to_string(), "in [0.5, 1)");
        }
        if self.threads > 1024 {
            return bad("threads", self.threads.to_string(), "at most 1024");
        }
        Ok(())
    }
}

/// One parameter's posterior summary and convergence diagnostics (natural scale).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParamSummary {
    /// Name: `intercept`, `sigma`, `trend`, `sin_1`/`cos_1`..., `gamma[control]`, `beta[channel]`,
    /// `alpha[channel]`, `lam[channel]` or `ec[channel]` and `slope[channel]`.
    pub name: String,
    /// Posterior mean.
    #[serde(with = "nullable")]
    pub mean: f64,
    /// Posterior standard deviation.
    #[serde(with = "nullable")]
    pub sd: f64,
    /// Lower end of the interval.
    #[serde(with = "nullable")]
    pub lower: f64,
    /// Upper end of the interval.
    #[serde(with = "nullable")]
    pub upper: f64,
    /// Rank-normalised split R-hat.
    #[serde(with = "nullable")]
    pub r_hat: f64,
    /// Bulk effective sample size.
    #[serde(with = "nullable")]
    pub ess_bulk: f64,
    /// Tail effective sample size (of the 5% and 95% quantiles).
    #[serde(with = "nullable")]
    pub ess_tail: f64,
}

fn target_accept() -> f64 {
    0.8
}

/// The largest saved fit [`Fit::load`] reads: 4,000 draws of a few hundred parameters fit in a few
/// tens of MB; this leaves ample room and refuses a runaway file before it fills memory.
pub const MAX_FIT_FILE_BYTES: u64 = 1 << 30;

/// A fitted media-mix model: the model and priors, the data, the draws and their diagnostics. Read a
/// saved one with [`Fit::from_json`] (deserialising checks the data and options again).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(try_from = "Saved")]
pub struct Fit {
    /// Version of touchpoint-mmm that made the fit.
    pub version: String,
    /// The model, with its priors.
    pub model: MediaMix,
    /// The data it was fitted to.
    pub series: Series,
    /// Lift measurements that calibrated it.
    pub lifts: Vec<LiftMeasurement>,
    /// Settings of the fit.
    pub options: FitOptions,
    /// Draws per chain, each a vector of unconstrained parameters (one draw for MAP).
    pub draws: Vec<Vec<Vec<f64>>>,
    /// Divergent transitions after tuning, per chain.
    pub divergences: Vec<u64>,
    /// Final step size per chain.
    #[serde(with = "nullable::vec")]
    pub step_sizes: Vec<f64>,
    /// Per-parameter summaries.
    pub parameters: Vec<ParamSummary>,
    /// What the user should know: convergence problems, divergences, MAP without intervals.
    pub warnings: Vec<String>,
    /// Wall time of the fit in seconds.
    pub seconds: f64,
    #[serde(skip)]
    post: Option<Arc<Posterior>>,
}

/// Fits `model` to `series` (and `lifts`), reporting progress to `control`.
pub fn fit(
    model: &MediaMix,
    series: &Series,
    lifts: &[LiftMeasurement],
    options: &FitOptions,
    control: &dyn Control,
) -> Result<Fit> {
    options.validate()?;
    let started = Instant::now();
    let design = Design::new(model, series, lifts)?;
    let post = Arc::new(Posterior::new(model.clone(), design));
    let centre = post.centre();
    let (draws, divergences, step_sizes, extra) = match options.method {
        Method::Map => {
            let (x, _, converged) = sampler::map(&post, &centre, 5000, 1e-6, false, control)?;
            control.checkpoint()?;
            let mut w = Vec::new();
            if !converged {
                w.push(
                    "the MAP search stopped before its gradient fell below 1e-6: the mode is approximate"
                        .to_string(),
                );
            }
            (vec![vec![x]], vec![0], vec![f64::NAN], w)
        }
        Method::Nuts => {
            let threads = if options.threads == 0 {
                std::thread::available_parallelism().map_or(1, |n| n.get())
            } else {
                options.threads
            };
            // Chains start around the posterior mode (jittered by up to 1 in every unconstrained
            // coordinate), so tuning adapts to the typical set instead of searching for it.
            let mode = match sampler::map(&post, &centre, 1000, 1e-6, true, control) {
                Ok((x, _, _)) => x,
                Err(Error::Interrupted) => return Err(Error::Interrupted),
                Err(_) => centre.clone(),
            };
            let starts = sampler::starts(&post, &mode, options.chains, options.seed);
            let run = NutsRun {
                chains: options.chains,
                tune: options.tune,
                draws: options.draws,
                seed: options.seed,
                threads,
                max_depth: options.max_depth,
                low_rank: options.low_rank,
                gradient_mass_matrix: options.gradient_mass_matrix,
                target_accept: options.target_accept,
            };
            let chains = sampler::nuts(post.clone(), run, &starts, control)?;
            let divergences = chains.iter().map(|c| c.divergences).collect();
            let steps = chains.iter().map(|c| c.step_size).collect();
            (chains.into_iter().map(|c| c.draws).collect::<Vec<_>>(), divergences, steps, Vec::new())
        }
    };
    let mut f = Fit {
        version: env!("CARGO_PKG_VERSION").to_string(),
        model: model.clone(),
        series: series.clone(),
        lifts: lifts.to_vec(),
        options: *options,
        draws,
        divergences,
        step_sizes,
        parameters: Vec::new(),
        warnings: Vec::new(),
        seconds: 0.0,
        post: Some(post),
    };
    f.warnings = f.diagnose();
    f.warnings.extend(extra);
    f.seconds = started.elapsed().as_secs_f64();
    Ok(f)
}

/// A saved [`Fit`] before its checks.
#[derive(Deserialize)]
struct Saved {
    version: String,
    model: MediaMix,
    series: Series,
    lifts: Vec<LiftMeasurement>,
    options: FitOptions,
    draws: Vec<Vec<Vec<f64>>>,
    divergences: Vec<u64>,
    #[serde(with = "nullable::vec")]
    step_sizes: Vec<f64>,
    parameters: Vec<ParamSummary>,
    warnings: Vec<String>,
    seconds: f64,
}

impl TryFrom<Saved> for Fit {
    type Error = Error;

    fn try_from(s: Saved) -> Result<Fit> {
        s.options.validate()?;
        let design = Design::new(&s.model, &s.series, &s.lifts)?;
        let post = Posterior::new(s.model.clone(), design);
        let dim = post.dim();
        let names = Fit::names_of(&s.model).len();
        if s.draws.iter().flatten().any(|d| d.len() != dim) || s.draws.iter().all(|c| c.is_empty()) {
            return Err(Error::Load {
                reason: format!("the draws do not match the model's {dim} parameters"),
            });
        }
        // The draws must be what the options say they are: a chain per chain, each as long as the
        // draws asked for, one draw of a MAP fit, and every draw a point of finite density.
        let bad = |reason: String| Err(Error::Load { reason });
        match s.options.method {
            Method::Map if s.draws.len() != 1 || s.draws[0].len() != 1 => {
                return bad(format!(
                    "a MAP fit holds one draw, this file holds {} chains of {:?} draws",
                    s.draws.len(),
                    s.draws.iter().map(Vec::len).collect::<Vec<_>>()
                ));
            }
            Method::Nuts if s.draws.len() != s.options.chains => {
                return bad(format!(
                    "the options say {} chains, the file holds {}",
                    s.options.chains,
                    s.draws.len()
                ));
            }
            Method::Nuts => {
                if let Some((c, d)) =
                    s.draws.iter().enumerate().find(|(_, d)| d.len() as u64 != s.options.draws)
                {
                    return bad(format!(
                        "the options say {} draws per chain, chain {} holds {}",
                        s.options.draws,
                        c + 1,
                        d.len()
                    ));
                }
            }
            Method::Map => {}
        }
        if s.divergences.len() != s.draws.len() || s.step_sizes.len() != s.draws.len() {
            return bad(format!(
                "{} chains of draws but {} divergence counts and {} step sizes",
                s.draws.len(),
                s.divergences.len(),
                s.step_sizes.len()
            ));
        }
        let mut grad = vec![0.0; dim];
        let mut scratch = post.scratch();
        for (c, chain) in s.draws.iter().enumerate() {
            for (i, theta) in chain.iter().enumerate() {
                let finite = theta.iter().all(|x| x.is_finite())
                    && post.logp(theta, &mut grad, &mut scratch).is_some_and(f64::is_finite);
                if !finite {
                    return bad(format!(
                        "draw {} of chain {} is not a point the model can take (a value that is not finite, or out of the model's range)",
                        i + 1,
                        c + 1
                    ));
                }
            }
        }
        if s.parameters.len() != names {
            return Err(Error::Load {
                reason: format!("{} parameter summaries for {names} parameters", s.parameters.len()),
            });
        }
        Ok(Fit {
            version: s.version,
            model: s.model,
            series: s.series,
            lifts: s.lifts,
            options: s.options,
            draws: s.draws,
            divergences: s.divergences,
            step_sizes: s.step_sizes,
            parameters: s.parameters,
            warnings: s.warnings,
            seconds: s.seconds,
            post: Some(Arc::new(post)),
        })
    }
}

/// A central interval and mean of draws.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// Posterior mean.
    #[serde(with = "nullable")]
    pub mean: f64,
    /// Lower end of the interval (NaN for a MAP fit).
    #[serde(with = "nullable")]
    pub lower: f64,
    /// Upper end of the interval (NaN for a MAP fit).
    #[serde(with = "nullable")]
    pub upper: f64,
}

/// One component's contribution in one period.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PeriodContribution {
    /// Period index (0-based).
    pub period: usize,
    /// Date, days since 1970-01-01.
    pub date: i32,
    /// Component: `intercept`, `trend`, `seasonality`, a control's or a channel's name.
    pub component: String,
    /// `baseline`, `trend`, `seasonality`, `control`, `media` or `organic`.
    pub kind: String,
    /// Contribution in target units.
    pub value: Estimate,
}

/// One component's totals over the series.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ComponentSummary {
    /// Component name (as in [`PeriodContribution`]).
    pub component: String,
    /// Its kind.
    pub kind: String,
    /// Summed contribution over all periods, in target units.
    pub contribution: Estimate,
    /// Contribution as a share of the summed observed target.
    pub share: Estimate,
    /// Summed spend (media only).
    pub spend: Option<f64>,
    /// Contribution per unit of spend, in target units (media only). Not ROI: in Touchpoint ROI is
    /// always (value - cost) / cost in money (the contribution report).
    pub kpi_per_spend: Option<Estimate>,
    /// Added contribution per added unit of spend when every period's spend rises by 1% (media only).
    pub marginal_kpi_per_spend: Option<Estimate>,
}

/// A channel's steady-state response: the contribution per period of a constant level `x` per period.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResponsePoint {
    /// Channel name.
    pub channel: String,
    /// Level per period, in the channel's units.
    pub x: f64,
    /// Contribution per period, in target units.
    pub value: Estimate,
}

pub(crate) fn estimate(mut v: Vec<f64>, level: f64, intervals: bool) -> Estimate {
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    if !intervals {
        return Estimate { mean, lower: f64::NAN, upper: f64::NAN };
    }
    v.sort_by(f64::total_cmp);
    let a = (1.0 - level) / 2.0;
    Estimate { mean, lower: quantile_sorted(&v, a), upper: quantile_sorted(&v, 1.0 - a) }
}

impl Fit {
    pub(crate) fn post(&self) -> Arc<Posterior> {
        match &self.post {
            Some(p) => p.clone(),
            None => unreachable!("a Fit is built by fit() or load(), both set the posterior"),
        }
    }

    /// Whether the fit has intervals (NUTS) or point estimates only (MAP).
    pub fn has_intervals(&self) -> bool {
        self.options.method == Method::Nuts
    }

    /// Every draw, all chains in order.
    pub fn all_draws(&self) -> impl Iterator<Item = &Vec<f64>> {
        self.draws.iter().flatten()
    }

    /// The fit as JSON (model, priors, data, settings, draws, diagnostics, version).
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|e| Error::Load { reason: e.to_string() })
    }

    /// A fit saved by [`Fit::to_json`]; the data are checked again against the model.
    pub fn from_json(text: &str) -> Result<Fit> {
        serde_json::from_str(text).map_err(|e| Error::Load { reason: e.to_string() })
    }

    /// A fit saved to a file by [`Fit::to_json`]: only a regular file of at most
    /// [`MAX_FIT_FILE_BYTES`] is read (a device or a FIFO is refused at once), then [`Fit::from_json`].
    pub fn load(path: &std::path::Path) -> Result<Fit> {
        let text = touchpoint_util::files::read_text(path, MAX_FIT_FILE_BYTES)
            .map_err(|e| Error::Load { reason: format!("{}: cannot read ({e})", path.display()) })?;
        Self::from_json(&text)
    }

    /// Parameter names in the order of [`Fit::parameters`].
    pub fn parameter_names(&self) -> Vec<String> {
        Fit::names_of(&self.model)
    }

    fn names_of(m: &MediaMix) -> Vec<String> {
        let mut names = vec!["intercept".to_string(), "sigma".to_string()];
        if m.trend {
            names.push("trend".into());
        }
        for k in 1..=m.seasonality {
            names.push(format!("sin_{k}"));
            names.push(format!("cos_{k}"));
        }
        names.extend(m.controls.iter().map(|c| format!("gamma[{c}]")));
        for c in &m.channels {
            names.push(format!("beta[{}]", c.name));
            names.push(format!("alpha[{}]", c.name));
            match m.saturation {
                Saturation::Logistic => names.push(format!("lam[{}]", c.name)),
                Saturation::Hill => {
                    names.push(format!("ec[{}]", c.name));
                    names.push(format!("slope[{}]", c.name));
                }
            }
        }
        names
    }

    /// The natural-scale parameter vector of one unconstrained draw, in the order of the names.
    fn natural(&self, post: &Posterior, theta: &[f64]) -> Vec<f64> {
        let p = post.params(theta);
        let mut v = vec![p.intercept, p.sigma];
        if self.model.trend {
            v.push(p.trend);
        }
        v.extend(&p.fourier);
        v.extend(&p.controls);
        for c in &p.channels {
            v.push(c.beta);
            v.push(c.alpha);
            v.push(c.lam);
            if self.model.saturation == Saturation::Hill {
                v.push(c.slope);
            }
        }
        v
    }

    fn diagnose(&mut self) -> Vec<String> {
        let post = self.post();
        let names = self.parameter_names();
        let nat: Vec<Vec<Vec<f64>>> =
            self.draws.iter().map(|c| c.iter().map(|d| self.natural(&post, d)).collect()).collect();
        let intervals = self.has_intervals();
        let mut params = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            let chains: Vec<Vec<f64>> = nat.iter().map(|c| c.iter().map(|d| d[i]).collect()).collect();
            let all: Vec<f64> = chains.iter().flatten().copied().collect();
            let e = estimate(all.clone(), self.options.level, intervals);
            let sd = if all.len() > 1 {
                (all.iter().map(|x| (x - e.mean).powi(2)).sum::<f64>() / (all.len() - 1) as f64).sqrt()
            } else {
                f64::NAN
            };
            let (r_hat, ess, tail) = if intervals {
                (rhat(&chains), ess_bulk(&chains), ess_tail(&chains))
            } else {
                (f64::NAN, f64::NAN, f64::NAN)
            };
            params.push(ParamSummary {
                name: name.clone(),
                mean: e.mean,
                sd,
                lower: e.lower,
                upper: e.upper,
                r_hat,
                ess_bulk: ess,
                ess_tail: tail,
            });
        }
        let mut warnings = Vec::new();
        if intervals {
            let high: Vec<String> = params
                .iter()
                .filter(|p| p.r_hat.is_nan() || p.r_hat > 1.01)
                .map(|p| format!("{} ({:.3})", p.name, p.r_hat))
                .collect();
            if !high.is_empty() {
                warnings.push(format!(
                    "R-hat above 1.01 for {}: the chains disagree; run more tuning and draws, or check the model",
                    high.join(", ")
                ));
            }
            let div: u64 = self.divergences.iter().sum();
            if div > 0 {
                warnings.push(format!(
                    "{div} divergent transition(s) after tuning (of {} draws): the posterior has regions the sampler cannot explore well and the intervals may be off; refit with a higher target_accept (e.g. 0.95)",
                    self.options.draws * self.options.chains as u64
                ));
            }
            // Vehtari et al. (2021) ask for 100 effective draws per chain, in the bulk and in the tails.
            let need = 100.0 * self.options.chains as f64;
            let low: Vec<String> = params
                .iter()
                .filter(|p| !(p.ess_bulk >= need && p.ess_tail >= need))
                .map(|p| format!("{} ({:.0} bulk, {:.0} tail)", p.name, p.ess_bulk, p.ess_tail))
                .collect();
            if !low.is_empty() {
                warnings.push(format!(
                    "effective sample size below 100 per chain ({need:.0}) for {}: the means or the interval ends are rough; take more draws",
                    low.join(", ")
                ));
            }
        } else {
            warnings.push(
                "method=\"map\": point estimates at the posterior mode, without intervals; fit with method=\"nuts\" for intervals"
                    .to_string(),
            );
        }
        if self.series.target.iter().sum::<f64>() <= 0.0 {
            warnings.push(
                "the target sums to zero or less over the series: shares of it are not reported (null)"
                    .to_string(),
            );
        }
        self.parameters = params;
        warnings
    }

    pub(crate) fn components(&self) -> Vec<(String, &'static str)> {
        let m = &self.model;
        let mut v = vec![("intercept".to_string(), "baseline")];
        if m.trend {
            v.push(("trend".into(), "trend"));
        }
        if m.seasonality > 0 {
            v.push(("seasonality".into(), "seasonality"));
        }
        v.extend(m.controls.iter().map(|c| (c.clone(), "control")));
        v.extend(m.channels.iter().map(|c| (c.name.clone(), c.kind.as_str())));
        v
    }

    /// Per draw, per component, per period: contributions in target units. Component order as in
    /// `components()`.
    fn draw_contributions(&self, theta: &[f64], post: &Posterior, out: &mut [Vec<f64>]) {
        let d = &post.design;
        let m = &self.model;
        let p = post.params(theta);
        let ys = d.y_scale;
        let mut k = 0;
        out[k].iter_mut().for_each(|v| *v = p.intercept * ys);
        k += 1;
        if m.trend {
            for (v, tr) in out[k].iter_mut().zip(&d.trend) {
                *v = p.trend * tr * ys;
            }
            k += 1;
        }
        if m.seasonality > 0 {
            for (t, v) in out[k].iter_mut().enumerate() {
                *v = p.fourier.iter().zip(&d.fourier).map(|(c, f)| c * f[t]).sum::<f64>() * ys;
            }
            k += 1;
        }
        for (j, g) in p.controls.iter().enumerate() {
            for (v, z) in out[k].iter_mut().zip(&d.z[j]) {
                *v = g * z * ys;
            }
            k += 1;
        }
        for (c, cp) in p.channels.iter().enumerate() {
            post.channel_curve(c, cp, 1.0, &mut out[k]);
            out[k].iter_mut().for_each(|v| *v *= cp.beta * ys);
            k += 1;
        }
    }

    /// Contributions per period and component, in target units, with intervals. The components of a
    /// draw sum to its fitted mean.
    pub fn contributions(&self) -> Vec<PeriodContribution> {
        self.contributions_in_blocks(8_000_000)
    }

    /// [`Fit::contributions`] holding the draws of at most `budget` cells at a time (a block of
    /// periods), so a long daily series with many channels and draws is not held whole.
    #[doc(hidden)]
    pub fn contributions_in_blocks(&self, budget: usize) -> Vec<PeriodContribution> {
        let post = self.post();
        let comps = self.components();
        let t = post.design.t;
        let n = self.all_draws().count();
        let block = (budget / (comps.len() * n).max(1)).clamp(1, t.max(1));
        let mut out = Vec::with_capacity(t * comps.len());
        let mut buf = vec![vec![0.0; t]; comps.len()];
        let mut start = 0;
        while start < t {
            let end = (start + block).min(t);
            // values[component][period - start][draw]
            let mut values = vec![vec![Vec::with_capacity(n); end - start]; comps.len()];
            for theta in self.all_draws() {
                self.draw_contributions(theta, &post, &mut buf);
                for (k, row) in buf.iter().enumerate() {
                    for (i, v) in row[start..end].iter().enumerate() {
                        values[k][i].push(*v);
                    }
                }
            }
            for i in start..end {
                for (k, (name, kind)) in comps.iter().enumerate() {
                    out.push(PeriodContribution {
                        period: i,
                        date: self.series.dates[i],
                        component: name.clone(),
                        kind: kind.to_string(),
                        value: estimate(
                            std::mem::take(&mut values[k][i - start]),
                            self.options.level,
                            self.has_intervals(),
                        ),
                    });
                }
            }
            start = end;
        }
        out
    }

    /// Totals per component over the series: contribution, share of the summed target, and for media
    /// the spend, the KPI per unit of spend and its marginal value (every period's spend raised by 1%).
    pub fn summary(&self) -> Vec<ComponentSummary> {
        self.summary_in(0..self.series.dates.len())
    }

    /// [`Fit::summary`] over the periods whose dates lie in `window` (days since 1970, both ends
    /// included), computed per posterior draw (never by adding per-period intervals). An error when
    /// no period lies in it. The marginal figure raises every period's spend by 1% (the whole series,
    /// as in [`Fit::summary`]) and sums the response over the window's periods: adstock carried into
    /// the window from the raise before it counts, the carryover past its end does not.
    pub fn summary_between(&self, window: (i32, i32)) -> Result<Vec<ComponentSummary>> {
        Ok(self.summary_in(self.periods_in(window)?))
    }

    /// The periods (indices) whose dates lie in `window`, both ends included.
    pub fn periods_in(&self, window: (i32, i32)) -> Result<std::ops::Range<usize>> {
        let dates = &self.series.dates;
        let lo = dates.partition_point(|&d| d < window.0);
        let hi = dates.partition_point(|&d| d <= window.1);
        if window.0 > window.1 || lo >= hi {
            let day = |d: i32| {
                chrono::DateTime::from_timestamp(i64::from(d) * 86_400, 0)
                    .map_or(d.to_string(), |t| t.format("%Y-%m-%d").to_string())
            };
            return Err(Error::InvalidOption {
                option: "window",
                value: format!("{} to {}", day(window.0), day(window.1)),
                reason: match (dates.first(), dates.last()) {
                    (Some(a), Some(b)) => {
                        format!(
                            "no period of the fit lies in it (its periods run from {} to {})",
                            day(*a),
                            day(*b)
                        )
                    }
                    _ => "the fit has no periods".into(),
                },
            });
        }
        Ok(lo..hi)
    }

    fn summary_in(&self, range: std::ops::Range<usize>) -> Vec<ComponentSummary> {
        let post = self.post();
        let comps = self.components();
        let t = post.design.t;
        let total_y: f64 = self.series.target[range.clone()].iter().sum();
        let n_base = comps.len() - self.model.channels.len();
        let mut totals = vec![Vec::new(); comps.len()];
        let mut marginal = vec![Vec::new(); self.model.channels.len()];
        let mut buf = vec![vec![0.0; t]; comps.len()];
        let mut up = vec![0.0; t];
        for theta in self.all_draws() {
            self.draw_contributions(theta, &post, &mut buf);
            for (k, row) in buf.iter().enumerate() {
                totals[k].push(row[range.clone()].iter().sum::<f64>());
            }
            let p = post.params(theta);
            for (c, cp) in p.channels.iter().enumerate() {
                if self.model.channels[c].kind == ChannelKind::Media {
                    post.channel_curve(c, cp, 1.01, &mut up);
                    let raised = up[range.clone()].iter().sum::<f64>() * cp.beta * post.design.y_scale;
                    let spend: f64 = self.series.channels[c][range.clone()].iter().sum();
                    marginal[c]
                        .push((raised - totals[n_base + c].last().copied().unwrap_or(0.0)) / (0.01 * spend));
                }
            }
        }
        let level = self.options.level;
        let iv = self.has_intervals();
        comps
            .iter()
            .enumerate()
            .map(|(k, (name, kind))| {
                let tot = &totals[k];
                // A target that sums to zero or less has no shares (they would be infinite or flip sign).
                let share = if total_y > 0.0 {
                    estimate(tot.iter().map(|v| v / total_y).collect(), level, iv)
                } else {
                    Estimate { mean: f64::NAN, lower: f64::NAN, upper: f64::NAN }
                };
                let (spend, per_spend, mr) =
                    if k >= n_base && self.model.channels[k - n_base].kind == ChannelKind::Media {
                        let c = k - n_base;
                        let spend: f64 = self.series.channels[c][range.clone()].iter().sum();
                        (
                            Some(spend),
                            Some(estimate(tot.iter().map(|v| v / spend).collect(), level, iv)),
                            Some(estimate(marginal[c].clone(), level, iv)),
                        )
                    } else {
                        (None, None, None)
                    };
                ComponentSummary {
                    component: name.clone(),
                    kind: kind.to_string(),
                    contribution: estimate(tot.clone(), level, iv),
                    share,
                    spend,
                    kpi_per_spend: per_spend,
                    marginal_kpi_per_spend: mr,
                }
            })
            .collect()
    }

    /// Per channel of the model (in its order): name, the mean level per period over the series (an
    /// average period) and the largest level observed (beyond it a response curve extrapolates).
    pub fn channel_levels(&self) -> Vec<(String, f64, f64)> {
        self.model
            .channels
            .iter()
            .zip(&self.series.channels)
            .map(|(c, x)| {
                let mean = x.iter().sum::<f64>() / x.len().max(1) as f64;
                (c.name.clone(), mean, x.iter().copied().fold(0.0, f64::max))
            })
            .collect()
    }

    /// Steady-state response curves: for each channel, `points` levels from 0 to `max_multiple`
    /// times its largest observed level, with the contribution per period (`beta * s(x)` in target
    /// units; the normalised adstock of a constant level is that level).
    pub fn response_curves(&self, points: usize, max_multiple: f64) -> Result<Vec<ResponsePoint>> {
        if !(2..=10_000).contains(&points) {
            return Err(Error::InvalidOption {
                option: "points",
                value: points.to_string(),
                reason: "between 2 and 10,000".into(),
            });
        }
        if !(max_multiple.is_finite() && max_multiple > 0.0 && max_multiple <= 100.0) {
            return Err(Error::InvalidOption {
                option: "max_multiple",
                value: max_multiple.to_string(),
                reason: "a multiple of the largest observed level in (0, 100]".into(),
            });
        }
        let post = self.post();
        let params: Vec<_> = self.all_draws().map(|th| post.params(th)).collect();
        let mut out = Vec::new();
        for (c, spec) in self.model.channels.iter().enumerate() {
            let scale = post.design.x_scale[c];
            for i in 0..points {
                let xs = max_multiple * i as f64 / (points - 1) as f64;
                let vals: Vec<f64> = params
                    .iter()
                    .map(|p| {
                        let cp = &p.channels[c];
                        cp.beta
                            * crate::posterior::saturate(self.model.saturation, xs, cp.lam, cp.slope).0
                            * post.design.y_scale
                    })
                    .collect();
                out.push(ResponsePoint {
                    channel: spec.name.clone(),
                    x: xs * scale,
                    value: estimate(vals, self.options.level, self.has_intervals()),
                });
            }
        }
        Ok(out)
    }

    /// The modelled lift of a steady change of `channel` from `x` to `x + delta_x` per period (in its
    /// units), in target units per period: what a lift experiment on that channel would measure.
    pub fn lift(&self, channel: &str, x: f64, delta_x: f64) -> Result<Estimate> {
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
        if !(x.is_finite() && x >= 0.0 && delta_x.is_finite() && x + delta_x >= 0.0) {
            return Err(Error::InvalidOption {
                option: "x/delta_x",
                value: format!("{x}/{delta_x}"),
                reason: "finite, with x >= 0 and x + delta_x >= 0".into(),
            });
        }
        let post = self.post();
        let scale = post.design.x_scale[c];
        let sat = self.model.saturation;
        let vals = self
            .all_draws()
            .map(|th| {
                let cp = post.params(th).channels[c];
                let s0 = crate::posterior::saturate(sat, x / scale, cp.lam, cp.slope).0;
                let s1 = crate::posterior::saturate(sat, (x + delta_x) / scale, cp.lam, cp.slope).0;
                cp.beta * (s1 - s0) * post.design.y_scale
            })
            .collect();
        Ok(estimate(vals, self.options.level, self.has_intervals()))
    }

    /// The fit as credit for KPI `kpi` in a contribution report ([`touchpoint_core::contribution_with`]):
    /// per channel its summed contribution per draw, and the baseline (intercept, trend, seasonality
    /// and controls) as [`touchpoint_core::BASELINE_PLAYER`]; media spend for the cost check.
    pub fn external(&self, kpi: &str) -> touchpoint_core::ExternalKpi {
        self.external_in(kpi, 0..self.series.dates.len())
    }

    /// [`Fit::external`] over the periods whose dates lie in `window` (days since 1970, both ends
    /// included): the media-mix credit of the same weeks as the journeys' period.
    pub fn external_between(&self, kpi: &str, window: (i32, i32)) -> Result<touchpoint_core::ExternalKpi> {
        Ok(self.external_in(kpi, self.periods_in(window)?))
    }

    /// The credit of KPI `kpi` over an attribution's observation period `[start, end)` (microseconds
    /// since 1970): the periods dated in it; the whole series without a period. What a contribution
    /// report adds to the journeys' goals.
    pub fn external_for(
        &self,
        kpi: &str,
        period: Option<(i64, i64)>,
    ) -> Result<touchpoint_core::ExternalKpi> {
        match period {
            None => Ok(self.external(kpi)),
            Some((s, t)) => {
                let (first, last) = touchpoint_core::goals::period_days(s, t);
                let clamp = |d: i64| d.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
                self.external_between(kpi, (clamp(first), clamp(last)))
            }
        }
    }

    fn external_in(&self, kpi: &str, range: std::ops::Range<usize>) -> touchpoint_core::ExternalKpi {
        let post = self.post();
        let comps = self.components();
        let t = post.design.t;
        let n_base = comps.len() - self.model.channels.len();
        let mut buf = vec![vec![0.0; t]; comps.len()];
        let mut draws = vec![Vec::new(); self.model.channels.len() + 1];
        for theta in self.all_draws() {
            self.draw_contributions(theta, &post, &mut buf);
            let totals: Vec<f64> = buf.iter().map(|r| r[range.clone()].iter().sum()).collect();
            draws[0].push(totals[..n_base].iter().sum());
            for c in 0..self.model.channels.len() {
                draws[c + 1].push(totals[n_base + c]);
            }
        }
        let names = std::iter::once(touchpoint_core::BASELINE_PLAYER.to_string())
            .chain(self.model.channels.iter().map(|c| c.name.clone()));
        let credits = names
            .zip(draws)
            .map(|(player, d)| touchpoint_core::ExternalCredit {
                player,
                conversions: d.iter().sum::<f64>() / d.len() as f64,
                draws: d,
            })
            .collect();
        let spend = self
            .model
            .channels
            .iter()
            .zip(&self.series.channels)
            .filter(|(c, _)| c.kind == ChannelKind::Media)
            .map(|(c, x)| (c.name.clone(), x[range.clone()].iter().sum()))
            .collect();
        let dates = &self.series.dates;
        touchpoint_core::ExternalKpi {
            kpi: kpi.to_string(),
            source: "mmm".into(),
            credits,
            spend,
            level: self.options.level,
            period: (!range.is_empty()).then(|| (dates[range.start], dates[range.end - 1])),
        }
    }

    /// The fitted mean per period (target units), with intervals.
    pub fn fitted(&self) -> Vec<Estimate> {
        let post = self.post();
        let comps = self.components();
        let t = post.design.t;
        let mut per = vec![Vec::new(); t];
        let mut buf = vec![vec![0.0; t]; comps.len()];
        for theta in self.all_draws() {
            self.draw_contributions(theta, &post, &mut buf);
            for (i, slot) in per.iter_mut().enumerate() {
                slot.push(buf.iter().map(|r| r[i]).sum::<f64>());
            }
        }
        per.into_iter().map(|v| estimate(v, self.options.level, self.has_intervals())).collect()
    }
}
