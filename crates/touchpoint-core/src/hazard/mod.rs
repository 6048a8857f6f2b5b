//! The additive-hazard model: incremental credit from person timelines, with a baseline.
//!
//! Conversions of a KPI are a point process per person with intensity
//! `lambda(t) = lambda_0 + sum over exposures i with t_i <= t of beta_c(i) omega_c(i) e^(-omega_c(i) (t - t_i))`
//! (Zhang, Wei & Ren 2014, "Multi-touch attribution in online advertising with survival theory",
//! ICDM, section 3; Ji & Wang 2017, "Additional multi-touch attribution for online advertising",
//! AAAI, section 3). `beta_c` is the expected number of extra conversions one exposure of player `c`
//! causes, its half-life `ln 2 / omega_c`. A person observed on `[start, end)` with conversions at
//! `s_j` has log-likelihood
//! `sum_j log lambda(s_j) - lambda_0 (end - start) - sum_i beta_c(i) (e^(-omega max(0, start - t_i)) - e^(-omega (end - t_i)))`,
//! summed over every person at risk, converters and non-converters alike (people without any event
//! add `-lambda_0 (end - start)` each, which is why the population matters).
//!
//! Fit: expectation-maximisation on "which source caused each conversion" (Lewis & Mohler 2011, "A
//! nonparametric EM algorithm for multiscale Hawkes processes", section 2) to get close, then
//! Newton's method on every parameter with the exact Hessian, bounds `beta >= 0` handled by an active
//! set, until the Newton decrement falls below `tol`. Standard errors come from the observed
//! information (the inverse of minus the Hessian at the optimum); half-life errors by the delta method.
//!
//! Credit: each conversion is split over its sources in proportion to their intensity at the
//! conversion time, the baseline's part going to `(baseline)`. At the maximum, a player's intensity
//! shares sum to its expected incremental conversions `beta_c sum_i (e^(-omega a_i) - e^(-omega b_i))`
//! (the score equation of `beta_c`). A player whose `beta` a lift test fixes is not at its own
//! maximum, so its intensity shares would hand it the confounded part of the baseline; it is credited
//! its expected incremental conversions instead, and the baseline takes the rest.
//!
//! Heterogeneous baselines: intent that drives both exposure and conversion (high-intent people search
//! more and convert anyway) biases every observational model. The baseline may depend on each
//! person's activity (after Xu, Duan & Whinston 2014, "Path to purchase: a mutually exciting point
//! process model for online advertising and conversion", Management Science, section 3):
//! - `exposures` (the default): `lambda_0 + sum_c gamma_c n_c`, with `n_c` the person's exposures of
//!   player `c` in the period. A person who is exposed more because of intent has a higher rate over
//!   the whole period, before the exposures too, which `gamma` captures, while `beta` keeps only the
//!   response that follows each exposure in time;
//! - `activity`: one `lambda_0` per group of people by their touches in the period (0, 1, 2-3, ...);
//! - `constant`: one `lambda_0` (the model of Zhang, Wei & Ren).
//!
//! Lift tests are the remedy for what these leave.
use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::duration::parse_duration_us;
use crate::error::{Error, Result};
use crate::model::{Control, JourneyCredit, KpiCredit, KpiView, Model, Table, Values};
use crate::timelines::Timelines;

pub mod parts;
pub use parts::Remote;

/// Microseconds per day: times are fitted in days.
const DAY_US: f64 = 86_400e6;

/// Largest number of parameters fitted by Newton's method; above it the fit stays with EM.
const NEWTON_LIMIT: usize = 400;

/// Activity groups of the `activity` baseline (touch counts 0, 1, 2-3, 4-7, ..., 64+).
const ACTIVITY_GROUPS: usize = 8;

/// How the baseline intensity varies between people.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Baseline {
    /// One `lambda_0` for everybody.
    Constant,
    /// One `lambda_0` per activity group (touches in the period: 0, 1, 2-3, 4-7, ..., 64+).
    Activity,
    /// `lambda_0 + sum_c gamma_c n_c`: the baseline rises with the person's exposures of each player
    /// over the whole period, before and after each exposure. Exposure that rides on intent then
    /// shows as `gamma` (a level shift that is there before the exposure too), while `beta` keeps the
    /// response that follows each exposure in time. The default.
    #[default]
    Exposures,
}

/// A randomised holdout's measured effect of one player on one KPI: incremental conversions per
/// exposure, counted until the effect has run its course, with its standard error.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiftTest {
    /// The player tested (a channel, or a player of whatever dimension the attribution is by).
    pub channel: String,
    /// The KPI measured.
    pub kpi: String,
    /// Incremental conversions per exposure.
    pub per_exposure: f64,
    /// Its standard error (>= 0).
    pub se: f64,
}

/// The additive-hazard model's parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdditiveHazard {
    /// How the baseline varies between people.
    pub baseline: Baseline,
    /// Half-life every kernel starts from (a duration such as "1d").
    pub initial_half_life: String,
    /// Most iterations (EM and Newton together).
    pub max_iter: u32,
    /// Convergence: the Newton decrement (expected log-likelihood gain of the next step) below this.
    pub tol: f64,
    /// Experiments that fix players' effects (see [`LiftTest`]).
    pub lift_tests: Vec<LiftTest>,
}

impl Default for AdditiveHazard {
    fn default() -> Self {
        AdditiveHazard {
            baseline: Baseline::Exposures,
            initial_half_life: "1d".into(),
            max_iter: 500,
            tol: 1e-7,
            lift_tests: Vec::new(),
        }
    }
}

fn invalid(parameter: &'static str, value: impl ToString, reason: &str) -> Error {
    Error::InvalidParameter {
        model: "additive_hazard",
        parameter,
        value: value.to_string(),
        reason: reason.to_owned(),
    }
}

impl AdditiveHazard {
    fn initial_omega(&self) -> Result<f64> {
        let us = parse_duration_us(&self.initial_half_life)
            .map_err(|e| invalid("initial_half_life", &self.initial_half_life, &e.to_string()))?;
        Ok(std::f64::consts::LN_2 / (us as f64 / DAY_US))
    }
}

/// A fit's parameters by player name, kept in the attribution ([`crate::model::Details::state`]), so
/// that per-journey credit applies the fit to any part of the log instead of fitting again.
#[derive(Debug, Serialize, Deserialize)]
struct Fit {
    lambda0: Vec<f64>,
    /// Per fitted player: name, beta, omega, gamma (`exposures` baseline; else `None`).
    players: Vec<(String, f64, f64, Option<f64>)>,
}

impl Fit {
    fn of(shape: &Shape, p: &Params, names: &[String]) -> Self {
        let players = (shape.players.iter().enumerate())
            .map(|(c, &id)| (names[id as usize].clone(), p.beta[c], p.omega[c], p.gamma.get(c).copied()))
            .collect();
        Fit { lambda0: p.lambda0.clone(), players }
    }

    fn encode(&self) -> Result<Vec<u8>> {
        bincode::serde::encode_to_vec(self, bincode::config::standard())
            .map_err(|e| Error::Remote { reason: format!("cannot keep the fit: {e}") })
    }

    fn decode(bytes: &[u8]) -> Result<Self> {
        bincode::serde::decode_from_slice(bytes, bincode::config::standard().with_limit::<{ 1 << 30 }>())
            .map(|(f, _)| f)
            .map_err(|e| Error::Remote { reason: format!("the attribution's kept fit is not readable: {e}") })
    }

    /// The parameters in the compact order of `shape` (whose player ids name `names`): every player
    /// with exposures there was fitted, and the baseline groups agree.
    fn params_for(&self, shape: &Shape, names: &[String]) -> Result<Params> {
        let by_name: HashMap<&str, usize> =
            self.players.iter().enumerate().map(|(i, p)| (p.0.as_str(), i)).collect();
        let mismatch = |what: String| Error::Remote {
            reason: format!(
                "the attribution's fit does not match these journeys: {what}; attribute them again"
            ),
        };
        if self.lambda0.len() != shape.group_exposure.len() {
            return Err(mismatch("another number of baseline groups".into()));
        }
        let gamma = self.players.iter().any(|p| p.3.is_some());
        if !shape.players.is_empty() && gamma == shape.gamma_exposure.is_empty() {
            return Err(mismatch("another baseline (per exposure or not)".into()));
        }
        let mut p = Params {
            lambda0: self.lambda0.clone(),
            beta: Vec::with_capacity(shape.players.len()),
            omega: Vec::with_capacity(shape.players.len()),
            gamma: Vec::new(),
        };
        for &id in &shape.players {
            let name = &names[id as usize];
            let &i =
                by_name.get(name.as_str()).ok_or_else(|| mismatch(format!("`{name}` was not fitted")))?;
            let (_, beta, omega, gamma) = &self.players[i];
            p.beta.push(*beta);
            p.omega.push(*omega);
            if let Some(g) = gamma {
                p.gamma.push(*g);
            }
        }
        if !p.gamma.is_empty() && p.gamma.len() != p.beta.len() {
            return Err(mismatch("a baseline per exposure for some players only".into()));
        }
        Ok(p)
    }
}

/// A fit's parameters by player id (not compact index), so a resample whose players compact in
/// another order can start from them.
#[derive(Debug)]
struct Warm {
    lambda0: Vec<f64>,
    beta: Vec<Option<f64>>,
    omega: Vec<Option<f64>>,
    gamma: Vec<Option<f64>>,
}

impl Warm {
    fn of(shape: &Shape, p: &Params, n_players: usize) -> Self {
        let mut w = Warm {
            lambda0: p.lambda0.clone(),
            beta: vec![None; n_players],
            omega: vec![None; n_players],
            gamma: vec![None; n_players],
        };
        for (c, &id) in shape.players.iter().enumerate() {
            w.beta[id as usize] = Some(p.beta[c]);
            w.omega[id as usize] = Some(p.omega[c]);
            w.gamma[id as usize] = p.gamma.get(c).copied();
        }
        w
    }

    /// `fallback` (the usual start) with every parameter the warm fit knows taken from it. Rates and
    /// betas at 0 start just above it (a multiplicative EM step cannot leave 0), omegas inside the
    /// data's bounds.
    fn start(&self, shape: &Shape, fallback: Params) -> Params {
        let mut p = fallback;
        let (lo, hi) = omega_bounds(shape);
        if self.lambda0.len() == p.lambda0.len() {
            for (l, &w) in p.lambda0.iter_mut().zip(&self.lambda0) {
                if *l > 0.0 {
                    *l = w.max(*l * 1e-3);
                }
            }
        }
        for (c, &id) in shape.players.iter().enumerate() {
            if let Some(b) = self.beta[id as usize] {
                p.beta[c] = b.max(p.beta[c] * 1e-3);
            }
            if let Some(o) = self.omega[id as usize] {
                p.omega[c] = o.clamp(lo, hi);
            }
            if let (Some(g), Some(slot)) = (self.gamma[id as usize], p.gamma.get_mut(c)) {
                *slot = g.max(*slot * 1e-3);
            }
        }
        p
    }
}

/// What [`AdditiveHazard::fit_kpi`] gives.
struct KpiFit<'m> {
    tests: Vec<(usize, &'m LiftTest)>,
    warnings: Vec<String>,
    observational: Fitted,
    fixed: Fixed,
    result: Fitted,
}

impl AdditiveHazard {
    /// The fit data of one KPI from the view's timelines, people weighed by the view's resample.
    fn local_data(&self, view: &KpiView<'_>, timelines: &Timelines) -> Result<FitData> {
        let players = timelines
            .touch_ids(view.by)
            .map(std::borrow::Cow::Borrowed)
            .unwrap_or_else(|| std::borrow::Cow::Owned(vec![0; timelines.touch_count()]));
        let people = view.reweight().and_then(|r| r.persons.as_deref().map(|p| (p, r.unseen)));
        FitData::new(
            timelines,
            &players,
            view.n_players,
            view.kpi,
            self.baseline,
            timelines.population,
            people,
        )
    }

    /// The fit data of one KPI: the view's timelines, or the parts of a [`Remote`] holder of them.
    fn source<'v>(&self, view: &KpiView<'v>) -> Result<Box<dyn Source + 'v>> {
        if let Some(timelines) = view.journeys.timelines() {
            return Ok(Box::new(self.local_data(view, timelines)?));
        }
        match view.remote() {
            Some(remote) => Ok(Box::new(parts::RemoteSource::open(remote, view, self.baseline)?)),
            None => Err(Error::NeedsTimelines { model: self.name().to_owned() }),
        }
    }

    /// [`Model::credit`], with the fits started from `warm` when given.
    fn credit_warm(
        &self,
        view: &KpiView<'_>,
        control: &dyn Control,
        warm: Option<&Warm>,
    ) -> Result<KpiCredit> {
        let source = self.source(view)?;
        let src = source.as_ref();
        let shape = src.shape();
        let KpiFit { tests, mut warnings, observational, fixed, result } =
            self.fit_kpi(view, src, control, warm)?;
        let mut se = result.se.clone();
        propagate_test_errors(shape, &result, &fixed, &tests, &mut se);

        // Credit: intensity shares; players fixed by a lift test get their expected conversions.
        let shares = intensity_shares(src, &result.params)?;
        let expected: Vec<f64> =
            (0..shape.players.len()).map(|c| result.params.beta[c] * result.comps[c].0).collect();
        let mut out = KpiCredit::zeros(view.n_players);
        let (total_c, total_v) = (shape.total_conversions, shape.total_value);
        for (c, &p) in shape.players.iter().enumerate() {
            let (sc, sv) = shares.player[c];
            let (conv, val) = if fixed.beta[c].is_some() && sc > 0.0 {
                (expected[c], sv * expected[c] / sc)
            } else if fixed.beta[c].is_some() {
                (expected[c], expected[c] * total_v / total_c.max(f64::MIN_POSITIVE))
            } else {
                (sc, sv)
            };
            out.conversions[p as usize] = conv;
            out.value[p as usize] = val;
        }
        let credited: f64 = out.conversions.iter().sum();
        let credited_v: f64 = out.value.iter().sum();
        let base = (total_c - credited, total_v - credited_v);
        if base.0 < -1e-9 * total_c.max(1.0) {
            warnings.push(format!(
                "the lift tests imply more incremental conversions ({credited:.1}) than happened ({total_c:.1}): \
                 the baseline row is negative"
            ));
        }
        out.baseline = Some(base);
        warnings.extend(bound_warnings(view, shape, &result, &se, base.0, total_c));
        out.warnings = warnings;
        out.details.state = Some(Fit::of(shape, &result.params, view.player_names).encode()?);
        out.details.tables = vec![
            parameter_table(shape, &result, &se, &shares, &expected, view.player_names),
            fit_table(shape, &result),
        ];
        if !tests.is_empty() {
            let obs_shares = intensity_shares(src, &observational.params)?;
            out.details.tables.push(lift_table(
                shape,
                &observational,
                &result,
                &tests,
                (&obs_shares, &shares),
                &expected,
            ));
        }
        Ok(out)
    }

    /// The fit of one KPI: the lift tests that apply, the observational fit and the final one (with
    /// the lift-tested betas fixed).
    fn fit_kpi<'m>(
        &'m self,
        view: &KpiView<'_>,
        src: &dyn Source,
        control: &dyn Control,
        warm: Option<&Warm>,
    ) -> Result<KpiFit<'m>> {
        let shape = src.shape();
        let kpis = view.journeys.kpis();
        for t in &self.lift_tests {
            if kpis.get(&t.kpi).is_none() {
                return Err(invalid(
                    "lift_tests",
                    &t.kpi,
                    &format!("no such KPI in the journeys (they have: {})", kpis.names().join(", ")),
                ));
            }
            if !view.player_names.contains(&t.channel) {
                return Err(invalid(
                    "lift_tests",
                    &t.channel,
                    &format!("no such {} in the journeys", view.by),
                ));
            }
        }
        let tests: Vec<(usize, &LiftTest)> = self
            .lift_tests
            .iter()
            .filter(|t| t.kpi == view.kpi_name)
            .map(|t| {
                let id = view.player_names.iter().position(|n| *n == t.channel).expect("checked");
                (id, t)
            })
            .collect();
        let mut warnings = Vec::new();
        if !shape.population_given {
            warnings.push(format!(
                "the baseline rate is estimated from the {} people in the log; people with no event at all \
                 are not counted, which overstates it: pass population= to from_events",
                shape.persons
            ));
        }
        let free = Fixed::none(shape);
        let starts = match warm {
            // A resample starts from the fit of the whole data, near its optimum.
            Some(w) => vec![w.start(shape, Params::start(shape, self.initial_omega()?))],
            None => start_half_lives(shape, self.initial_omega()?)
                .into_iter()
                .map(|om| Params::start(shape, om))
                .collect(),
        };
        let observational = fit(src, starts, &free, self, view.kpi_name, control, &mut warnings)?;
        let mut fixed = free.clone();
        for &(id, t) in &tests {
            match shape.compact(id) {
                Some(c) => fixed.beta[c] = Some(t.per_exposure),
                None => {
                    return Err(invalid(
                        "lift_tests",
                        &t.channel,
                        &format!("{} has no exposure in the timelines of KPI `{}`", t.channel, view.kpi_name),
                    ))
                }
            }
        }
        let result = if tests.is_empty() {
            observational.clone()
        } else {
            let mut start = observational.params.clone();
            for (c, b) in fixed.beta.iter().enumerate() {
                if let Some(b) = b {
                    start.beta[c] = *b;
                }
            }
            fit(src, vec![start], &fixed, self, view.kpi_name, control, &mut warnings)?
        };
        // A half-life at a bound (one second, or ten periods) is no estimate: the player's effect and
        // its timing cannot be told apart on this data.
        for (c, (&b, &om)) in result.params.beta.iter().zip(&result.params.omega).enumerate() {
            let at = match omega_at_bound(shape, om) {
                Some(true) => format!("ten times the period ({:.0} days)", 10.0 * shape.period_days),
                Some(false) => "one second".to_string(),
                None => continue,
            };
            if b > 0.0 {
                let name = view.player_names.get(shape.players[c] as usize).map_or("?", |n| n.as_str());
                warnings.push(format!(
                    "the half-life of `{name}` is at its bound, {at}: its effect and its timing cannot be told apart on this data, so its beta and half-life are not estimates"
                ));
            }
        }
        Ok(KpiFit { tests, warnings, observational, fixed, result })
    }
}

/// Warnings for a fit that lands on a bound or cannot say how sure it is: the baseline at 0 (every
/// conversion "caused" by the players), and players whose effect is not distinguishable from zero
/// (beta within 1.96 standard errors of 0, the two-sided 5% Wald test; a lift-tested beta is judged by
/// the test's standard error). Players with no effect (beta at its bound 0) and those whose half-life
/// is at a bound (warned about in `fit_kpi`) are left out, and so are fits without standard errors
/// (the singular information is warned about in `fit`). Shown on the result and in the report.
fn bound_warnings(
    view: &KpiView<'_>,
    d: &Shape,
    r: &Fitted,
    se: &[Option<f64>],
    baseline: f64,
    total: f64,
) -> Vec<String> {
    let mut out = Vec::new();
    let ng = r.params.lambda0.len();
    // A negative residual baseline (lift tests above what happened) has a warning of its own.
    if total > 0.0 && baseline.abs() <= 1e-6 * total {
        out.push(format!(
            "the baseline is at its bound, 0: the fit says none of the {total:.0} conversions would have \
             happened without the players, which is rarely true, and the baseline has no standard error; \
             check that population= counts everybody at risk and that the period covers the whole log"
        ));
    }
    let name = |c: usize| view.player_names.get(d.players[c] as usize).map_or("?", |n| n.as_str());
    let zero: Vec<String> = r
        .params
        .beta
        .iter()
        .enumerate()
        .filter(|&(c, &b)| {
            b > 0.0
                && omega_at_bound(d, r.params.omega[c]).is_none()
                && se[ng + c].is_some_and(|s| s.is_finite() && b < 1.96 * s)
        })
        .map(|(c, _)| format!("`{}`", name(c)))
        .collect();
    if !zero.is_empty() {
        out.push(format!(
            "the effect of {} is not distinguishable from zero (beta within 1.96 standard errors of 0): read \
             its credit as possibly none",
            zero.join(", ")
        ));
    }
    out
}

/// Half-lives every fit starts from, besides the model's `initial_half_life`: a day and a week.
/// Measured on the scenarios of [`start_half_lives`], the best climb started from one of these two
/// (or tied with a start at an hour); each start costs a whole climb.
const START_HALF_LIVES_DAYS: [f64; 2] = [1.0, 7.0];

/// The kernels' starting omegas: the likelihood of the additive hazard has more than one stationary
/// point (a short half-life with a large effect and a long one with a small effect can both explain a
/// player's conversions), and a climb ends at the one above its start. Measured on six simulated
/// scenarios with 3,000 people, single starts at 10 minutes, an hour, a day and a week ended up to
/// 191 log-likelihood units apart, with very different credit; the fit climbs from each of these
/// and keeps the highest inside the bounds (see [`fit`]). A start within a factor of two of another
/// adds nothing and is dropped.
fn start_half_lives(shape: &Shape, initial: f64) -> Vec<f64> {
    let (lo, hi) = omega_bounds(shape);
    let mut omegas = vec![initial.clamp(lo, hi)];
    for days in START_HALF_LIVES_DAYS {
        let om = (std::f64::consts::LN_2 / days).clamp(lo, hi);
        if omegas.iter().all(|&o| (om / o).ln().abs() > std::f64::consts::LN_2) {
            omegas.push(om);
        }
    }
    omegas
}

impl Model for AdditiveHazard {
    fn name(&self) -> &'static str {
        "additive_hazard"
    }

    fn validate(&self) -> Result<()> {
        self.initial_omega()?;
        if self.max_iter == 0 {
            return Err(invalid("max_iter", 0, "at least one iteration"));
        }
        if !(self.tol.is_finite() && self.tol > 0.0) {
            return Err(invalid("tol", self.tol, "must be positive and finite"));
        }
        for (i, t) in self.lift_tests.iter().enumerate() {
            if !(t.per_exposure.is_finite() && t.per_exposure >= 0.0) {
                return Err(invalid("lift_tests", t.per_exposure, "per_exposure must be finite and >= 0"));
            }
            if !(t.se.is_finite() && t.se >= 0.0) {
                return Err(invalid("lift_tests", t.se, "se must be finite and >= 0"));
            }
            if self.lift_tests[..i].iter().any(|o| o.channel == t.channel && o.kpi == t.kpi) {
                return Err(invalid(
                    "lift_tests",
                    format!("{} on {}", t.channel, t.kpi),
                    "two lift tests of the same player and KPI: combine them into one",
                ));
            }
        }
        Ok(())
    }

    fn needs_timelines(&self) -> bool {
        true
    }

    /// One row per conversion record (person, time) and player: the player's part of the fitted
    /// intensity at that conversion, the baseline (player `None`) the rest. These rows sum to every
    /// player's credit, except for players fixed by a lift test, whose credit is their expected
    /// incremental conversions rather than a sum over conversions. The parameters are the fit's kept
    /// in `credit` ([`Fit`]; the view may be one part of the log the fit saw), else the model is
    /// fitted again.
    fn journey_credits(
        &self,
        view: &KpiView<'_>,
        credit: &KpiCredit,
        control: &dyn Control,
        emit: &mut dyn FnMut(JourneyCredit),
    ) -> Result<()> {
        let timelines = view
            .journeys
            .timelines()
            .ok_or_else(|| Error::NeedsTimelines { model: self.name().to_owned() })?;
        let data = self.local_data(view, timelines)?;
        let params = match &credit.details.state {
            Some(state) => Fit::decode(state)?.params_for(&data.shape, view.player_names)?,
            None => self.fit_kpi(view, &data, control, None)?.result.params,
        };
        data.record_credits(&params, control, emit)
    }

    fn credit(&self, view: &KpiView<'_>, control: &dyn Control) -> Result<KpiCredit> {
        self.credit_warm(view, control, None)
    }

    /// The observational fit of the whole data, which every bootstrap resample's fit starts from.
    fn warm_start(
        &self,
        view: &KpiView<'_>,
        control: &dyn Control,
    ) -> Result<Option<Box<dyn std::any::Any + Send + Sync>>> {
        let source = self.source(view)?;
        let fit = self.fit_kpi(view, source.as_ref(), control, None)?;
        Ok(Some(Box::new(Warm::of(source.shape(), &fit.observational.params, view.n_players))))
    }

    fn credit_from(
        &self,
        view: &KpiView<'_>,
        warm: Option<&(dyn std::any::Any + Send + Sync)>,
        control: &dyn Control,
    ) -> Result<KpiCredit> {
        self.credit_warm(view, control, warm.and_then(|w| w.downcast_ref::<Warm>()))
    }
}

/// Sizes and totals of one KPI's fit data that the fit reads besides the per-record sums. They add
/// up over parts of the people (see [`parts`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Shape {
    /// Player id (of the view) of each compact player.
    players: Vec<u32>,
    /// Compact index of each player id.
    compact: Vec<Option<usize>>,
    /// Exposures per compact player.
    exposures: Vec<f64>,
    /// Person-days at risk per baseline group.
    group_exposure: Vec<f64>,
    /// People per baseline group.
    group_people: Vec<f64>,
    /// Conversions per baseline group.
    group_conversions: Vec<f64>,
    /// `exposures` baseline: person-days times exposures per compact player (the compensator of
    /// gamma); empty otherwise.
    gamma_exposure: Vec<f64>,
    total_conversions: f64,
    total_value: f64,
    /// The observation period, microseconds.
    period: (i64, i64),
    period_days: f64,
    /// People in the log (weighted by bootstrap draws).
    persons: f64,
    /// Whether the people at risk were given (`population=`) rather than counted in the log.
    population_given: bool,
}

impl Shape {
    fn compact(&self, id: usize) -> Option<usize> {
        self.compact.get(id).copied().flatten()
    }
}

/// Everything the fit of one KPI reads, in days from the period's start, players compacted to
/// those with exposures.
#[derive(Debug, Serialize, Deserialize)]
struct FitData {
    shape: Shape,
    /// Exposures starting in the period: `end - t_i` per compact player.
    comp_b: Vec<Vec<f64>>,
    /// Exposures before the start: `(start - t_i, end - t_i)` per compact player.
    comp_ab: Vec<Vec<(f64, f64)>>,
    /// Conversion records: weight, value, baseline group.
    conv_n: Vec<f64>,
    conv_v: Vec<f64>,
    conv_group: Vec<u32>,
    /// Each record's person (timeline index) and time.
    conv_person: Vec<u32>,
    conv_time: Vec<i64>,
    /// Each record's earlier exposures (compact player, days before), by player then time.
    hist_off: Vec<usize>,
    hist_p: Vec<u32>,
    hist_dt: Vec<f64>,
    /// `exposures` baseline: each record's person's exposure counts (compact player, count).
    cnt_off: Vec<usize>,
    cnt_p: Vec<u32>,
    cnt_n: Vec<f64>,
}

fn activity_group(touches: usize) -> usize {
    if touches == 0 {
        0
    } else {
        (1 + touches.ilog2() as usize).min(ACTIVITY_GROUPS - 1)
    }
}

impl FitData {
    /// The data of one KPI. `population` is the number of people at risk (the timelines' own, or
    /// `None` for a part of a log whose population the driver adds). `people`, when given, weighs
    /// every timeline person by how many times a bootstrap drew them (whole numbers; a person drawn
    /// twice counts as two identical people) and sets the number of never-seen people drawn.
    fn new(
        t: &Timelines,
        players: &[u32],
        n_players: usize,
        kpi: u32,
        baseline: Baseline,
        population: Option<u64>,
        people: Option<(&[f64], f64)>,
    ) -> Result<Self> {
        let (start, end) = t.period;
        let days = |us: i64| (us - start) as f64 / DAY_US;
        let period_days = days(end);
        let mut compact: Vec<Option<usize>> = vec![None; n_players];
        let mut ids: Vec<u32> = Vec::new();
        let mut comp_b: Vec<Vec<f64>> = Vec::new();
        let mut comp_ab: Vec<Vec<(f64, f64)>> = Vec::new();
        let groups = match baseline {
            Baseline::Constant | Baseline::Exposures => 1,
            Baseline::Activity => ACTIVITY_GROUPS,
        };
        let mut group_people = vec![0.0; groups];
        let (mut conv_n, mut conv_v, mut conv_group) = (Vec::new(), Vec::new(), Vec::new());
        let (mut conv_person, mut conv_time) = (Vec::new(), Vec::new());
        let (mut hist_off, mut hist_p, mut hist_dt) = (vec![0usize], Vec::new(), Vec::new());
        let by_exposures = baseline == Baseline::Exposures;
        let (mut cnt_off, mut cnt_p, mut cnt_n) = (vec![0usize], Vec::new(), Vec::new());
        let mut counts: Vec<(u32, f64)> = Vec::new();
        let mut exposure_counts: Vec<f64> = Vec::new();
        let mut scratch: Vec<(u32, f64)> = Vec::new();
        for p in 0..t.persons() {
            let w = people.map_or(1.0, |(ws, _)| ws[p]);
            if w <= 0.0 {
                continue;
            }
            let copies = w as usize;
            let person = t.person(p);
            let n_in = person.touch_times.partition_point(|&x| x < end);
            let group = if groups == 1 { 0 } else { activity_group(n_in) };
            group_people[group] += w;
            let touch_players = &players[person.first_touch..person.first_touch + n_in];
            for (&time, &pl) in person.touch_times[..n_in].iter().zip(touch_players) {
                let c = *compact[pl as usize].get_or_insert_with(|| {
                    ids.push(pl);
                    comp_b.push(Vec::new());
                    comp_ab.push(Vec::new());
                    ids.len() - 1
                });
                let (a, b) = (days(start) - days(time), days(end) - days(time));
                for _ in 0..copies {
                    if a > 0.0 {
                        comp_ab[c].push((a, b));
                    } else {
                        comp_b[c].push(b);
                    }
                }
            }
            if by_exposures {
                counts.clear();
                for &pl in touch_players {
                    let c = compact[pl as usize].expect("interned above") as u32;
                    counts.push((c, 1.0));
                }
                counts.sort_by_key(|x| x.0);
                counts.dedup_by(|b, a| {
                    let same = a.0 == b.0;
                    if same {
                        a.1 += b.1;
                    }
                    same
                });
                exposure_counts.resize(ids.len(), 0.0);
                for &(c, n) in &counts {
                    exposure_counts[c as usize] += n * w;
                }
            }
            for (i, &k) in person.conv_kpi.iter().enumerate() {
                if k != kpi {
                    continue;
                }
                if by_exposures {
                    for &(c, n) in &counts {
                        cnt_p.push(c);
                        cnt_n.push(n);
                    }
                }
                cnt_off.push(cnt_p.len());
                let s = person.conv_time[i];
                conv_n.push(person.conv_count[i] * w);
                conv_v.push(person.conv_value[i] * w);
                conv_person.push(p as u32);
                conv_time.push(s);
                conv_group.push(group as u32);
                let upto = person.touch_times.partition_point(|&x| x <= s);
                scratch.clear();
                for (&time, &pl) in person.touch_times[..upto].iter().zip(touch_players) {
                    let c = compact[pl as usize].expect("interned above") as u32;
                    scratch.push((c, (s - time) as f64 / DAY_US));
                }
                scratch.sort_by(|x, y| x.0.cmp(&y.0).then(x.1.total_cmp(&y.1)));
                for &(c, dt) in &scratch {
                    hist_p.push(c);
                    hist_dt.push(dt);
                }
                hist_off.push(hist_p.len());
            }
        }
        if let Some(pop) = population {
            if pop < t.persons() as u64 {
                return Err(Error::InvalidPeriod {
                    start,
                    end,
                    reason: format!("population {pop} is smaller than the {} people in the log", t.persons()),
                });
            }
            // People never seen have no touch: they belong to the first group.
            group_people[0] += people.map_or((pop - t.persons() as u64) as f64, |(_, unseen)| unseen);
        }
        let mut group_conversions = vec![0.0; groups];
        for (&g, &n) in conv_group.iter().zip(&conv_n) {
            group_conversions[g as usize] += n;
        }
        let n_compact = ids.len();
        let shape = Shape {
            exposures: comp_b.iter().zip(&comp_ab).map(|(b, ab)| (b.len() + ab.len()) as f64).collect(),
            players: ids,
            compact,
            group_exposure: group_people.iter().map(|n| n * period_days).collect(),
            group_people,
            group_conversions,
            gamma_exposure: if by_exposures {
                let mut e = exposure_counts;
                e.resize(n_compact, 0.0);
                e.iter().map(|n| n * period_days).collect()
            } else {
                Vec::new()
            },
            total_conversions: conv_n.iter().sum(),
            total_value: conv_v.iter().sum(),
            period: t.period,
            period_days,
            persons: t.persons() as f64,
            population_given: population.is_some(),
        };
        Ok(FitData {
            shape,
            comp_b,
            comp_ab,
            conv_n,
            conv_v,
            conv_group,
            conv_person,
            conv_time,
            hist_off,
            hist_p,
            hist_dt,
            cnt_off,
            cnt_p,
            cnt_n,
        })
    }

    /// The compensator of player `c` per unit of beta and its first two derivatives in omega:
    /// `G = sum (e^(-omega a) - e^(-omega b))`, `G'`, `G''`.
    fn comp(&self, c: usize, omega: f64) -> (f64, f64, f64) {
        let (mut g, mut g1, mut g2) = (0.0, 0.0, 0.0);
        for &b in &self.comp_b[c] {
            let e = (-omega * b).exp();
            g += 1.0 - e;
            g1 += b * e;
            g2 -= b * b * e;
        }
        for &(a, b) in &self.comp_ab[c] {
            let (ea, eb) = ((-omega * a).exp(), (-omega * b).exp());
            g += ea - eb;
            g1 += b * eb - a * ea;
            g2 += a * a * ea - b * b * eb;
        }
        (g, g1, g2)
    }

    /// Every compensator, on up to two threads (players split in two halves).
    fn comps(&self, omega: &[f64]) -> Vec<(f64, f64, f64)> {
        let n = self.shape.players.len();
        let work: usize = self.comp_b.iter().map(Vec::len).sum();
        if work < 200_000 || n < 2 {
            return (0..n).map(|c| self.comp(c, omega[c])).collect();
        }
        // Split by exposure count so both halves do about the same work.
        let mut acc = 0;
        let mut split = n;
        for c in 0..n {
            acc += self.comp_b[c].len();
            if 2 * acc >= work {
                split = c + 1;
                break;
            }
        }
        std::thread::scope(|s| {
            let right = s.spawn(|| (split..n).map(|c| self.comp(c, omega[c])).collect::<Vec<_>>());
            let mut left: Vec<_> = (0..split).map(|c| self.comp(c, omega[c])).collect();
            left.extend(right.join().expect("compensator worker"));
            left
        })
    }

    fn records(&self) -> usize {
        self.conv_n.len()
    }

    /// Record `j`'s baseline shift `sum_c gamma_c n_c` (0 without the exposures baseline).
    fn shift(&self, p: &Params, j: usize) -> f64 {
        (self.cnt_off[j]..self.cnt_off[j + 1]).map(|h| p.gamma[self.cnt_p[h] as usize] * self.cnt_n[h]).sum()
    }

    /// Each conversion record split over the players whose exposures raised its intensity (their
    /// part of the intensity at the conversion) and the baseline (the rest): the per-record form of
    /// [`FitData::intensity_shares`].
    fn record_credits(
        &self,
        p: &Params,
        control: &dyn Control,
        emit: &mut dyn FnMut(JourneyCredit),
    ) -> Result<()> {
        let mut kern: Vec<(u32, f64)> = Vec::new();
        for j in 0..self.records() {
            if j % 65_536 == 65_535 {
                control.checkpoint()?;
            }
            kern.clear();
            let mut lam = p.lambda0[self.conv_group[j] as usize] + self.shift(p, j);
            for h in self.hist_off[j]..self.hist_off[j + 1] {
                let c = self.hist_p[h] as usize;
                let k = p.beta[c] * p.omega[c] * (-p.omega[c] * self.hist_dt[h]).exp();
                lam += k;
                match kern.iter_mut().find(|x| x.0 == c as u32) {
                    Some(x) => x.1 += k,
                    None => kern.push((c as u32, k)),
                }
            }
            let (n, v) = (self.conv_n[j], self.conv_v[j]);
            let row = |player: Option<u32>, share: f64| JourneyCredit {
                journey: None,
                person: Some(self.conv_person[j]),
                time: Some(self.conv_time[j]),
                player,
                conversions: n * share,
                value: v * share,
            };
            if lam <= 0.0 {
                emit(row(None, 1.0));
                continue;
            }
            let mut players = 0.0;
            for &(c, k) in &kern {
                if k > 0.0 {
                    emit(row(Some(self.shape.players[c as usize]), k / lam));
                    players += k / lam;
                }
            }
            emit(row(None, 1.0 - players));
        }
        Ok(())
    }

    /// One pass over the conversion records at `p`: the records' part of the log-likelihood and, as
    /// `want` asks, of its gradient and Hessian, the E-step sums, the intensity shares, and the
    /// compensators at `p.omega`. `-inf` when some record's intensity is not positive.
    fn pass(&self, p: &Params, want: Want) -> Sums {
        let ng = p.lambda0.len();
        let nc = p.beta.len();
        let n = p.len();
        let mut out = Sums::zeros(p, want);
        // Per record: per player run, S = sum omega e^(-omega dt), S1 = dS/domega, S2 = d2S/domega2,
        // and Sdt = sum omega e^(-omega dt) dt.
        let mut runs: Vec<(usize, f64, f64, f64, f64)> = Vec::new();
        let mut local: Vec<(usize, f64)> = Vec::new();
        for j in 0..self.records() {
            let g = self.conv_group[j] as usize;
            let mut lam = p.lambda0[g] + self.shift(p, j);
            runs.clear();
            let mut h = self.hist_off[j];
            let end = self.hist_off[j + 1];
            while h < end {
                let c = self.hist_p[h] as usize;
                let om = p.omega[c];
                let (mut s, mut s1, mut s2, mut sdt) = (0.0, 0.0, 0.0, 0.0);
                while h < end && self.hist_p[h] as usize == c {
                    let dt = self.hist_dt[h];
                    let e = (-om * dt).exp();
                    s += om * e;
                    if want.derivs {
                        s1 += e * (1.0 - om * dt);
                        s2 += e * (om * dt * dt - 2.0 * dt);
                    }
                    if want.estep {
                        sdt += om * e * dt;
                    }
                    h += 1;
                }
                lam += p.beta[c] * s;
                runs.push((c, s, s1, s2, sdt));
            }
            if !(lam > 0.0 && lam.is_finite()) {
                out.ll = f64::NEG_INFINITY;
                continue;
            }
            let w = self.conv_n[j];
            out.ll += w * lam.ln();
            if want.derivs {
                local.clear();
                local.push((g, 1.0 / lam));
                for h in self.cnt_off[j]..self.cnt_off[j + 1] {
                    local.push((ng + 2 * nc + self.cnt_p[h] as usize, self.cnt_n[h] / lam));
                }
                let hess = &mut out.hess;
                for &(c, s, s1, s2, _) in &runs {
                    local.push((ng + c, s / lam));
                    local.push((ng + nc + c, p.beta[c] * s1 / lam));
                    hess[(ng + c) * n + ng + nc + c] += w * s1 / lam;
                    hess[(ng + nc + c) * n + ng + c] += w * s1 / lam;
                    hess[(ng + nc + c) * (n + 1)] += w * p.beta[c] * s2 / lam;
                }
                for &(i, vi) in &local {
                    out.grad[i] += w * vi;
                    for &(k, vk) in &local {
                        hess[i * n + k] -= w * vi * vk;
                    }
                }
            }
            if want.estep {
                // Responsibilities: each source's part of the intensity at the conversion.
                let r = w / lam;
                out.p0[g] += r * p.lambda0[g];
                for h in self.cnt_off[j]..self.cnt_off[j + 1] {
                    let c = self.cnt_p[h] as usize;
                    out.pg[c] += r * p.gamma[c] * self.cnt_n[h];
                }
                for &(c, s, _, _, sdt) in &runs {
                    out.pc[c] += r * p.beta[c] * s;
                    out.dc[c] += r * p.beta[c] * sdt;
                }
            }
            if want.shares {
                let v = self.conv_v[j];
                for &(c, s, _, _, _) in &runs {
                    let k = p.beta[c] * s;
                    out.shares[c].0 += w * k / lam;
                    out.shares[c].1 += v * k / lam;
                }
            }
        }
        if want.comps {
            out.comps = self.comps(&p.omega);
        }
        out
    }
}

impl Source for FitData {
    fn shape(&self) -> &Shape {
        &self.shape
    }

    fn pass(&self, p: &Params, want: Want) -> Result<Sums> {
        Ok(FitData::pass(self, p, want))
    }

    fn comps(&self, omega: &[f64]) -> Result<Vec<(f64, f64, f64)>> {
        Ok(FitData::comps(self, omega))
    }
}

/// Where a fit reads its data: one KPI's [`FitData`] in memory, or parts of it held elsewhere
/// ([`parts`]). Everything the fit reads is a sum over people, so the parts' answers add up.
trait Source {
    /// Sizes and totals.
    fn shape(&self) -> &Shape;
    /// The records' sums at `p` (see [`FitData::pass`]).
    fn pass(&self, p: &Params, want: Want) -> Result<Sums>;
    /// Every compensator at `omega` (see [`FitData::comp`]).
    fn comps(&self, omega: &[f64]) -> Result<Vec<(f64, f64, f64)>>;
}

/// What a pass over the records computes besides the log-likelihood.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Want {
    /// Gradient and Hessian.
    derivs: bool,
    /// The E-step sums.
    estep: bool,
    /// Intensity shares.
    shares: bool,
    /// Compensators at the parameters' omegas.
    comps: bool,
}

/// A pass's sums, in the layout of [`Params`]; they add over parts of the people.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Sums {
    ll: f64,
    grad: Vec<f64>,
    /// Row-major, `grad.len()` squared.
    hess: Vec<f64>,
    /// E-step: expected conversions caused by each baseline group, player and gamma shift, and the
    /// players' expected conversions times their delays.
    p0: Vec<f64>,
    pc: Vec<f64>,
    dc: Vec<f64>,
    pg: Vec<f64>,
    /// Intensity shares per compact player (conversions, value).
    shares: Vec<(f64, f64)>,
    /// Compensators per compact player.
    comps: Vec<(f64, f64, f64)>,
}

impl Sums {
    fn zeros(p: &Params, want: Want) -> Self {
        let (n, ng, nc) = (p.len(), p.lambda0.len(), p.beta.len());
        let z = |on: bool, len: usize| if on { vec![0.0; len] } else { Vec::new() };
        Sums {
            ll: 0.0,
            grad: z(want.derivs, n),
            hess: z(want.derivs, n * n),
            p0: z(want.estep, ng),
            pc: z(want.estep, nc),
            dc: z(want.estep, nc),
            pg: z(want.estep, p.gamma.len()),
            shares: if want.shares { vec![(0.0, 0.0); nc] } else { Vec::new() },
            comps: if want.comps { vec![(0.0, 0.0, 0.0); nc] } else { Vec::new() },
        }
    }

    /// Adds a part's sums (same layout).
    fn add(&mut self, o: &Sums) -> Result<()> {
        fn add(a: &mut [f64], b: &[f64]) -> bool {
            a.len() == b.len() && {
                a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                true
            }
        }
        let same = add(&mut self.grad, &o.grad)
            && add(&mut self.hess, &o.hess)
            && add(&mut self.p0, &o.p0)
            && add(&mut self.pc, &o.pc)
            && add(&mut self.dc, &o.dc)
            && add(&mut self.pg, &o.pg)
            && self.shares.len() == o.shares.len()
            && self.comps.len() == o.comps.len();
        if !same {
            return Err(parts::corrupt("a part answered with sums of another layout"));
        }
        self.ll += o.ll;
        for (a, b) in self.shares.iter_mut().zip(&o.shares) {
            a.0 += b.0;
            a.1 += b.1;
        }
        for (a, b) in self.comps.iter_mut().zip(&o.comps) {
            a.0 += b.0;
            a.1 += b.1;
            a.2 += b.2;
        }
        Ok(())
    }
}

/// Intensity-share credit per compact player, (conversions, value); the baseline's share is the
/// rest, which the caller books as `(baseline)`.
fn intensity_shares(src: &dyn Source, p: &Params) -> Result<Shares> {
    let s = src.pass(p, Want { shares: true, ..Want::default() })?;
    Ok(Shares { player: s.shares })
}

#[derive(Debug)]
struct Shares {
    player: Vec<(f64, f64)>,
}

/// Parameters: baseline per group, beta and omega per compact player.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Params {
    lambda0: Vec<f64>,
    beta: Vec<f64>,
    omega: Vec<f64>,
    /// Baseline shift per exposure of each compact player (`exposures` baseline; empty otherwise).
    gamma: Vec<f64>,
}

impl Params {
    fn start(d: &Shape, omega: f64) -> Self {
        let people: f64 = d.group_exposure.iter().sum();
        let exposures: f64 = d.exposures.iter().sum();
        let half = 0.5 * d.total_conversions;
        let l0 = (half / people.max(1e-300)).max(1e-12);
        Params {
            lambda0: d.group_exposure.iter().map(|&e| if e > 0.0 { l0 } else { 0.0 }).collect(),
            beta: vec![(half / exposures.max(1.0)).max(1e-9); d.players.len()],
            omega: vec![omega; d.players.len()],
            gamma: if d.gamma_exposure.is_empty() { Vec::new() } else { vec![0.1 * l0; d.players.len()] },
        }
    }

    fn len(&self) -> usize {
        self.lambda0.len() + 2 * self.beta.len() + self.gamma.len()
    }
}

/// Which betas lift tests fix.
#[derive(Clone, Debug)]
struct Fixed {
    beta: Vec<Option<f64>>,
}

impl Fixed {
    fn none(d: &Shape) -> Self {
        Fixed { beta: vec![None; d.players.len()] }
    }
}

/// A finished fit.
#[derive(Clone, Debug)]
struct Fitted {
    params: Params,
    /// Standard errors in the layout of [`Params`] (lambda0, beta, omega); `None` where undefined.
    se: Vec<Option<f64>>,
    log_likelihood: f64,
    iterations: u32,
    reached: f64,
    method: &'static str,
    /// The inverse observed information over the free parameters and their indices, for propagation.
    covariance: Vec<f64>,
    free: Vec<usize>,
    /// The Hessian's column at each beta a lift test fixes (its index), over the free parameters,
    /// for propagation of lift-test errors.
    cross: Vec<(usize, Vec<f64>)>,
    /// The compensators at the final omegas (each player's expected conversions per unit of beta).
    comps: Vec<(f64, f64, f64)>,
}

/// The log-likelihood at `p`, with the compensators at `p.omega` and, as `want` asks, its gradient
/// and Hessian (full layout, row-major) and the E-step sums: one pass over the records, then the
/// compensator terms, which read only the shape and the compensators.
fn evaluate(src: &dyn Source, p: &Params, want: Want) -> Result<Sums> {
    let mut s = src.pass(p, Want { comps: true, ..want })?;
    let d = src.shape();
    let ng = p.lambda0.len();
    let nc = p.beta.len();
    let n = p.len();
    for (gi, &l0) in p.lambda0.iter().enumerate() {
        s.ll -= l0 * d.group_exposure[gi];
        if want.derivs {
            s.grad[gi] -= d.group_exposure[gi];
        }
    }
    for (c, (&gm, &e)) in p.gamma.iter().zip(&d.gamma_exposure).enumerate() {
        s.ll -= gm * e;
        if want.derivs {
            s.grad[ng + 2 * nc + c] -= e;
        }
    }
    for c in 0..nc {
        let (gc, g1, g2) = s.comps[c];
        s.ll -= p.beta[c] * gc;
        if want.derivs {
            let (bi, oi) = (ng + c, ng + nc + c);
            s.grad[bi] -= gc;
            s.grad[oi] -= p.beta[c] * g1;
            s.hess[bi * n + oi] -= g1;
            s.hess[oi * n + bi] -= g1;
            s.hess[oi * n + oi] -= p.beta[c] * g2;
        }
    }
    Ok(s)
}

/// Bytes the fit of `n` parameters holds at its peak in dense `n x n` matrices of f64: for the
/// standard errors, the Hessian and the observed information taken from it, then the information's
/// Cholesky factor (in its own storage) and the inverse: two at a time, each at most `n x n`.
fn dense_peak_bytes(n: usize) -> u64 {
    (n as u64).saturating_mul(n as u64).saturating_mul(8 * 2)
}

/// Memory the system can still give (Linux's `MemAvailable`, capped by the cgroup's limit when one
/// is set), or `None` where it cannot be read.
fn available_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kb: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    let mut free = kb.saturating_mul(1024);
    let cgroup = |path: &str| std::fs::read_to_string(path).ok().and_then(|t| t.trim().parse::<u64>().ok());
    if let (Some(max), Some(used)) =
        (cgroup("/sys/fs/cgroup/memory.max"), cgroup("/sys/fs/cgroup/memory.current"))
    {
        free = free.min(max.saturating_sub(used));
    }
    Some(free)
}

/// Whether a kernel's `omega` sits at a bound: `Some(true)` at the longest half-life (ten periods),
/// `Some(false)` at the shortest (one second), `None` inside.
fn omega_at_bound(d: &Shape, omega: f64) -> Option<bool> {
    let (lo, hi) = omega_bounds(d);
    if omega <= lo * (1.0 + 1e-9) {
        Some(true)
    } else if omega >= hi * (1.0 - 1e-9) {
        Some(false)
    } else {
        None
    }
}

/// Bounds of omega: half-lives from one second to ten periods.
fn omega_bounds(d: &Shape) -> (f64, f64) {
    (std::f64::consts::LN_2 / (10.0 * d.period_days), std::f64::consts::LN_2 * 86_400.0)
}

/// The M step of EM from the responsibilities at `p` (`s`: E-step sums and compensators at
/// `p.omega`): the closed-form baseline and beta, and two Newton steps on each omega (whose profile
/// `P log omega - omega D - P log G(omega)` has no closed form), all players in step, so that the
/// compensators each step needs come from one pass.
fn m_step(src: &dyn Source, p: &Params, s: &Sums, fixed: &Fixed) -> Result<Params> {
    let d = src.shape();
    let nc = p.beta.len();
    let (lo, hi) = omega_bounds(d);
    let mut next = p.clone();
    for ((gm, &e), &pg) in next.gamma.iter_mut().zip(&d.gamma_exposure).zip(&s.pg) {
        if e > 0.0 {
            *gm = pg / e;
        }
    }
    for ((l0, &e), &p0) in next.lambda0.iter_mut().zip(&d.group_exposure).zip(&s.p0) {
        if e > 0.0 {
            // A group without conversions has its maximum at 0.
            *l0 = p0 / e;
        }
    }
    let (pc, dc) = (&s.pc, &s.dc);
    // Newton on u = ln omega of Q(u) = P u - e^u D - P ln G(e^u) (beta profiled out), or of
    // Q(u) = P u - e^u D - beta G(e^u) when a lift test fixes beta.
    let mut u: Vec<f64> = p.omega.iter().map(|o| o.ln()).collect();
    let mut active: Vec<bool> = pc.iter().map(|&x| x > 0.0).collect();
    let mut comps = s.comps.clone();
    for round in 0..2 {
        if round > 0 {
            if !active.contains(&true) {
                break;
            }
            comps = src.comps(&u.iter().map(|x| x.exp()).collect::<Vec<_>>())?;
        }
        for c in 0..nc {
            if !active[c] {
                continue;
            }
            let om = u[c].exp();
            let (g, g1, g2) = comps[c];
            if g <= 0.0 {
                active[c] = false;
                continue;
            }
            let (q1, q2) = match fixed.beta[c] {
                None => {
                    let r = g1 / g;
                    let dr = g2 / g - r * r;
                    (pc[c] - om * dc[c] - pc[c] * om * r, -om * dc[c] - pc[c] * (om * r + om * om * dr))
                }
                Some(b) => (pc[c] - om * dc[c] - b * om * g1, -om * dc[c] - b * (om * g1 + om * om * g2)),
            };
            let step = if q2 < 0.0 { -q1 / q2 } else { q1.signum() * 0.5 };
            u[c] = (u[c] + step.clamp(-1.0, 1.0)).clamp(lo.ln(), hi.ln());
            if step.abs() < 1e-10 {
                active[c] = false;
            }
        }
    }
    for c in 0..nc {
        if pc[c] > 0.0 {
            next.omega[c] = u[c].exp();
        }
    }
    let comps = src.comps(&next.omega)?;
    for c in 0..nc {
        next.beta[c] = match fixed.beta[c] {
            Some(b) => b,
            None if pc[c] <= 0.0 => 0.0,
            None => pc[c] / comps[c].0.max(1e-300),
        };
    }
    Ok(next)
}

/// Solves `a x = b` for a symmetric positive definite `a` (n x n, row-major) by Cholesky; `None` when
/// `a` is not positive definite.
fn cholesky_solve(a: &[f64], n: usize, b: &[f64]) -> Option<Vec<f64>> {
    let l = cholesky(a, n)?;
    let mut y = b.to_vec();
    for i in 0..n {
        for k in 0..i {
            y[i] -= l[i * n + k] * y[k];
        }
        y[i] /= l[i * n + i];
    }
    for i in (0..n).rev() {
        for k in i + 1..n {
            y[i] -= l[k * n + i] * y[k];
        }
        y[i] /= l[i * n + i];
    }
    Some(y)
}

fn cholesky(a: &[f64], n: usize) -> Option<Vec<f64>> {
    cholesky_in_place(a.to_vec(), n, &crate::model::Unattended).ok().flatten()
}

/// The Cholesky factor `L` of a symmetric positive definite `a` (n x n, row-major), written over
/// `a`'s lower triangle (the upper one is left as it was and never read); `None` when `a` is not
/// positive definite. Asks `control` every row (an n of thousands takes a while).
fn cholesky_in_place(mut a: Vec<f64>, n: usize, control: &dyn Control) -> Result<Option<Vec<f64>>> {
    for i in 0..n {
        if i % 64 == 0 {
            control.checkpoint()?;
        }
        for j in 0..=i {
            let (row_i, row_j) = (i * n, j * n);
            let mut s = a[row_i + j];
            for k in 0..j {
                s -= a[row_i + k] * a[row_j + k];
            }
            if i == j {
                if !(s > 0.0 && s.is_finite()) {
                    return Ok(None);
                }
                a[row_i + i] = s.sqrt();
            } else {
                a[row_i + j] = s / a[row_j + j];
            }
        }
    }
    Ok(Some(a))
}

/// The inverse of a symmetric positive definite matrix (consumed): one Cholesky factorisation in
/// its own storage, then two triangular solves per column, O(n^3) in all, with the factor and the
/// inverse the only n x n matrices held. `None` when `a` is not positive definite.
fn spd_inverse(a: Vec<f64>, n: usize, control: &dyn Control) -> Result<Option<Vec<f64>>> {
    let Some(l) = cholesky_in_place(a, n, control)? else { return Ok(None) };
    let mut inv = vec![0.0; n * n];
    let mut y = vec![0.0; n];
    for col in 0..n {
        if col % 64 == 0 {
            control.checkpoint()?;
        }
        // L y = e_col (y is 0 above col), then L^T x = y.
        y.iter_mut().for_each(|v| *v = 0.0);
        for i in col..n {
            let mut v = if i == col { 1.0 } else { 0.0 };
            for k in col..i {
                v -= l[i * n + k] * y[k];
            }
            y[i] = v / l[i * n + i];
        }
        for i in (0..n).rev() {
            let mut v = y[i];
            for k in i + 1..n {
                v -= l[k * n + i] * y[k];
            }
            y[i] = v / l[i * n + i];
        }
        for (row, v) in y.iter().enumerate() {
            inv[row * n + col] = *v;
        }
    }
    Ok(Some(inv))
}

fn get(p: &Params, i: usize) -> f64 {
    let (ng, nc) = (p.lambda0.len(), p.beta.len());
    if i < ng {
        p.lambda0[i]
    } else if i < ng + nc {
        p.beta[i - ng]
    } else if i < ng + 2 * nc {
        p.omega[i - ng - nc]
    } else {
        p.gamma[i - ng - 2 * nc]
    }
}

fn set(p: &mut Params, i: usize, v: f64) {
    let (ng, nc) = (p.lambda0.len(), p.beta.len());
    if i < ng {
        p.lambda0[i] = v;
    } else if i < ng + nc {
        p.beta[i - ng] = v;
    } else if i < ng + 2 * nc {
        p.omega[i - ng - nc] = v;
    } else {
        p.gamma[i - ng - 2 * nc] = v;
    }
}

/// A pass for the log-likelihood with its gradient and Hessian.
const DERIVS: Want = Want { derivs: true, estep: false, shares: false, comps: false };
/// A pass for the log-likelihood with the E-step sums.
const ESTEP: Want = Want { derivs: false, estep: true, shares: false, comps: false };

/// One EM step from `p`: the E-step sums at `p`, then [`m_step`].
fn em_step(src: &dyn Source, p: &Params, fixed: &Fixed) -> Result<Params> {
    let s = evaluate(src, p, ESTEP)?;
    m_step(src, p, &s, fixed)
}

/// Where a climb ended: the parameters, their log-likelihood, and how it got there.
struct Climb {
    params: Params,
    ll: f64,
    iterations: u32,
    reached: f64,
    converged: bool,
    method: &'static str,
    /// The free parameters of the last Newton step (empty after EM alone).
    free: Vec<usize>,
}

/// The fit from each of `starts` (the likelihood has more than one stationary point, and a climb
/// ends at the one above its start), kept at the highest log-likelihood reached, with standard errors
/// from the observed information there.
#[allow(clippy::too_many_arguments)]
fn fit(
    src: &dyn Source,
    starts: Vec<Params>,
    fixed: &Fixed,
    m: &AdditiveHazard,
    kpi: &str,
    control: &dyn Control,
    warnings: &mut Vec<String>,
) -> Result<Fitted> {
    let Some(first) = starts.first() else { unreachable!("a fit has a start") };
    let (nc, n) = (first.beta.len(), first.len());
    // The standard errors read a dense n x n information matrix: said before any work, not by an
    // allocation that fails (which aborts the process) after minutes of EM.
    if let Some(free) = available_memory() {
        let need = dense_peak_bytes(n);
        if need > free {
            return Err(Error::Unsupported {
                model: m.name().into(),
                kpi: kpi.into(),
                reason: format!(
                    "its {n} parameters ({nc} players) need dense information matrices of about {:.1} GB at the fit's peak, more than the {:.1} GB of memory free: attribute by a dimension with fewer players (channel or actor_group rather than actor)",
                    need as f64 / 1e9,
                    free as f64 / 1e9
                ),
            });
        }
    }
    // The best climb whose kernels are all inside their bounds, else the best of all. A half-life
    // pinned at ten periods is a kernel that never decays within the data: a level shift after the
    // exposure, which is what intent that rises with exposure looks like (the exposures baseline's
    // gamma is there for it). On selection_bias such a climb reaches a higher likelihood than the
    // interior one with `direct` credited 6 times its true effect; it is kept only when no climb
    // ends inside the bounds, and then a warning names the player.
    let inside = |c: &Climb| {
        c.params
            .beta
            .iter()
            .zip(&c.params.omega)
            .all(|(&b, &om)| b <= 0.0 || omega_at_bound(src.shape(), om).is_none())
    };
    let mut best: Option<(bool, Climb)> = None;
    let mut iterations = 0;
    for start in starts {
        let c = climb(src, start, fixed, m, control)?;
        iterations += c.iterations;
        let ok = inside(&c);
        let better = match &best {
            None => true,
            Some((best_ok, b)) => (ok && !best_ok) || (ok == *best_ok && (c.ll > b.ll || b.ll.is_nan())),
        };
        if better {
            best = Some((ok, c));
        }
    }
    let Some((_, Climb { params: p, reached, converged, method, free: last_free, .. })) = best else {
        unreachable!("a fit has a start")
    };
    if !converged {
        let e =
            Error::NotConverged { model: m.name().into(), kpi: kpi.into(), iterations, reached, tol: m.tol };
        warnings.push(e.to_string());
    }
    finish(src, p, fixed, last_free, iterations, reached, method, control, warnings)
}

/// EM until the log-likelihood settles, then (up to [`NEWTON_LIMIT`] parameters) Newton's method
/// with the exact Hessian, from `p`.
fn climb(
    src: &dyn Source,
    mut p: Params,
    fixed: &Fixed,
    m: &AdditiveHazard,
    control: &dyn Control,
) -> Result<Climb> {
    let ng = p.lambda0.len();
    let nc = p.beta.len();
    let n = p.len();
    let d = src.shape();
    let (lo, hi) = omega_bounds(d);
    let mut iterations = 0u32;
    // EM until the log-likelihood settles, to get near the optimum.
    let mut s = evaluate(src, &p, ESTEP)?;
    let mut ll = s.ll;
    let use_newton = n <= NEWTON_LIMIT;
    let em_until = if use_newton { 1e-5 } else { 0.0 };
    let mut reached = f64::INFINITY;
    while iterations < m.max_iter {
        control.checkpoint()?;
        iterations += 1;
        p = m_step(src, &p, &s, fixed)?;
        s = evaluate(src, &p, ESTEP)?;
        let next = s.ll;
        let gain = next - ll;
        ll = next;
        reached = gain.abs();
        let relative = gain.abs() / ll.abs().max(1.0);
        if use_newton && (relative < em_until || iterations >= 20) {
            break;
        }
        if !use_newton && gain.abs() < m.tol {
            break;
        }
    }
    let mut method = "em";
    let mut converged = !use_newton && reached < m.tol;
    let mut last = (Vec::new(), Vec::new());
    if use_newton {
        method = "em+newton";
        while iterations < m.max_iter {
            control.checkpoint()?;
            control.progress("additive hazard fit", u64::from(iterations), u64::from(m.max_iter));
            iterations += 1;
            let Sums { ll: mut ll0, mut grad, mut hess, comps, .. } = evaluate(src, &p, DERIVS)?;
            // A rate, beta or gamma whose expected conversions are negligible (below 1e-9 of the
            // KPI's) while its gradient pushes it down is on the boundary: it goes to 0 exactly and is
            // held there (the epsilon-active set of Bertsekas 1982, "Projected Newton methods for
            // optimization problems with simple constraints", SIAM J. Control Optim. 20(2)). Creeping
            // towards 0 instead makes the Newton system near-singular and the fit never ends.
            let negligible = 1e-9 * d.total_conversions.max(1.0);
            let mut q = p.clone();
            for (g, l0) in q.lambda0.iter_mut().enumerate() {
                if grad[g] < 0.0 && *l0 > 0.0 && *l0 * d.group_exposure[g] < negligible {
                    *l0 = 0.0;
                }
            }
            for c in 0..nc {
                if fixed.beta[c].is_none()
                    && grad[ng + c] < 0.0
                    && p.beta[c] > 0.0
                    && p.beta[c] * comps[c].0 < negligible
                {
                    q.beta[c] = 0.0;
                }
            }
            for c in 0..p.gamma.len() {
                let gi = ng + 2 * nc + c;
                if grad[gi] < 0.0 && p.gamma[c] > 0.0 && p.gamma[c] * d.gamma_exposure[c] < negligible {
                    q.gamma[c] = 0.0;
                }
            }
            if q != p {
                // Only then is the point new, and its derivatives computed again.
                let Sums { ll: lq, grad: gq, hess: hq, .. } = evaluate(src, &q, DERIVS)?;
                if lq.is_finite() && lq >= ll0 - negligible {
                    (p, ll0, grad, hess) = (q, lq, gq, hq);
                }
            }
            ll = ll0;
            // Free parameters: groups with people, betas not fixed and not held at 0, omegas of
            // players with a positive beta.
            let mut free: Vec<usize> = Vec::new();
            for (g, &l0) in p.lambda0.iter().enumerate() {
                // A baseline at 0 whose gradient pushes below it is held there (every conversion of
                // the group is explained by exposures: the maximum is on the boundary).
                let at_zero = l0 <= 0.0 && grad[g] <= 0.0;
                if d.group_exposure[g] > 0.0 && d.group_conversions[g] > 0.0 && !at_zero {
                    free.push(g);
                }
            }
            for c in 0..nc {
                let bi = ng + c;
                let at_zero = p.beta[c] <= 0.0 && grad[bi] <= 0.0;
                if fixed.beta[c].is_none() && !at_zero {
                    free.push(bi);
                }
                // Omega at a bound whose gradient pushes past it is held there.
                let oi = ng + nc + c;
                let at_bound = (p.omega[c] <= lo * (1.0 + 1e-12) && grad[oi] <= 0.0)
                    || (p.omega[c] >= hi * (1.0 - 1e-12) && grad[oi] >= 0.0);
                if p.beta[c] > 0.0 && !at_bound {
                    free.push(oi);
                }
            }
            for c in 0..p.gamma.len() {
                let gi = ng + 2 * nc + c;
                if !(p.gamma[c] <= 0.0 && grad[gi] <= 0.0) {
                    free.push(gi);
                }
            }
            // A parameter whose curvature is not a finite negative number cannot take a Newton step.
            free.retain(|&i| {
                let h = hess[i * n + i];
                h.is_finite() && h < 0.0 && grad[i].is_finite()
            });
            let k = free.len();
            let mut a = vec![0.0; k * k];
            let mut b = vec![0.0; k];
            let mut scale = vec![1.0; k];
            for (x, &i) in free.iter().enumerate() {
                scale[x] = (-hess[i * n + i]).abs().sqrt().max(1e-300);
            }
            for (x, &i) in free.iter().enumerate() {
                b[x] = grad[i] / scale[x];
                for (y, &j) in free.iter().enumerate() {
                    a[x * k + y] = -hess[i * n + j] / (scale[x] * scale[y]);
                }
            }
            // Levenberg-Marquardt damping until minus the Hessian is positive definite.
            let mut mu = 0.0;
            let step = loop {
                let mut damped = a.clone();
                for x in 0..k {
                    damped[x * k + x] += mu;
                }
                if let Some(s) = cholesky_solve(&damped, k, &b) {
                    break s;
                }
                mu = if mu == 0.0 { 1e-8 } else { mu * 10.0 };
                if mu > 1e8 {
                    break b.clone();
                }
            };
            let decrement: f64 = step.iter().zip(&b).map(|(s, g)| s * g).sum();
            reached = decrement;
            if !decrement.is_finite() {
                p = em_step(src, &p, fixed)?;
                continue;
            }
            if decrement < m.tol {
                converged = true;
                last = (free, a);
                break;
            }
            // Backtracking line search with projection onto the bounds.
            let mut t = 1.0;
            let mut accepted = false;
            while t > 1e-12 {
                let mut q = p.clone();
                for (x, &i) in free.iter().enumerate() {
                    let v = get(&p, i) + t * step[x] / scale[x];
                    // Rates and betas are projected onto >= 0; a step that zeroes a baseline some
                    // conversion needs gives a log-likelihood of -inf and is halved.
                    let v = if i < ng + nc || i >= ng + 2 * nc { v.max(0.0) } else { v.clamp(lo, hi) };
                    set(&mut q, i, v);
                }
                let lq = evaluate(src, &q, Want::default())?.ll;
                if lq.is_finite() && lq >= ll {
                    p = q;
                    accepted = true;
                    break;
                }
                t *= 0.5;
            }
            if !accepted {
                // No ascent along the Newton direction: an EM step, which always ascends, and on;
                // when that gains nothing either, this is the optimum up to rounding.
                let q = em_step(src, &p, fixed)?;
                let lq = evaluate(src, &q, Want::default())?.ll;
                if lq.is_finite() && lq > ll + 1e-12 * ll.abs() {
                    p = q;
                    continue;
                }
                converged = decrement < m.tol.max(1e-6 * d.total_conversions.max(1.0));
                last = (free, a);
                break;
            }
        }
    }
    // The log-likelihood at the point reached (the loops' last value may be one step behind).
    let ll = evaluate(src, &p, Want::default())?.ll;
    Ok(Climb { params: p, ll, iterations, reached, converged, method, free: last.0 })
}

/// The fitted point's standard errors, from the observed information over its free parameters.
#[allow(clippy::too_many_arguments)]
fn finish(
    src: &dyn Source,
    p: Params,
    fixed: &Fixed,
    last_free: Vec<usize>,
    iterations: u32,
    reached: f64,
    method: &'static str,
    control: &dyn Control,
    warnings: &mut Vec<String>,
) -> Result<Fitted> {
    let (ng, nc, n) = (p.lambda0.len(), p.beta.len(), p.len());
    let d = src.shape();
    // Observed information over the free parameters at the final point.
    let Sums { ll: ll_final, hess, comps, .. } = evaluate(src, &p, DERIVS)?;
    let free: Vec<usize> = if last_free.is_empty() {
        let mut f: Vec<usize> =
            (0..ng).filter(|&g| d.group_exposure[g] > 0.0 && d.group_conversions[g] > 0.0).collect();
        for c in 0..nc {
            if fixed.beta[c].is_none() && p.beta[c] > 0.0 {
                f.push(ng + c);
            }
            if p.beta[c] > 0.0 {
                f.push(ng + nc + c);
            }
        }
        f.extend((0..p.gamma.len()).filter(|&c| p.gamma[c] > 0.0).map(|c| ng + 2 * nc + c));
        f
    } else {
        last_free
    };
    let k = free.len();
    // Equilibrate before inverting: parameters differ in scale by orders of magnitude.
    let sc: Vec<f64> = free.iter().map(|&i| hess[i * n + i].abs().sqrt().max(1e-300)).collect();
    let mut info = Vec::with_capacity(k * k);
    for (x, &i) in free.iter().enumerate() {
        info.extend(free.iter().enumerate().map(|(y, &j)| -hess[i * n + j] / (sc[x] * sc[y])));
    }
    // The Hessian's columns at the betas lift tests fix, which propagation reads; the rest of the
    // Hessian is freed before the inverse is built beside the information.
    let cross: Vec<(usize, Vec<f64>)> = (0..nc)
        .filter(|&c| fixed.beta[c].is_some())
        .map(|c| (ng + c, free.iter().map(|&i| hess[i * n + ng + c]).collect()))
        .collect();
    drop(hess);
    let mut se = vec![None; n];
    let covariance = match spd_inverse(info, k, control)? {
        Some(mut cov) => {
            for z in 0..k * k {
                cov[z] /= sc[z / k] * sc[z % k];
            }
            for (x, &i) in free.iter().enumerate() {
                let v = cov[x * k + x];
                se[i] = (v >= 0.0).then(|| v.sqrt());
            }
            cov
        }
        None => {
            warnings.push(
                "the observed information is singular at the optimum, so standard errors are not available \
                 (a player's effect and half-life cannot be told apart on this data, or two players are always \
                 seen together); intervals= (the bootstrap) still gives intervals"
                    .to_owned(),
            );
            Vec::new()
        }
    };
    Ok(Fitted {
        params: p,
        se,
        log_likelihood: ll_final,
        iterations,
        reached,
        method,
        covariance,
        free,
        cross,
        comps,
    })
}

/// Carries each lift test's standard error into the parameters fitted with it held fixed: with
/// `theta_F` at its optimum given `beta_f`, `d theta_F / d beta_f = (-H_FF)^-1 H_Ff`, and its variance
/// gains `(d theta_F / d beta_f)^2 se_f^2` (tests taken as independent).
fn propagate_test_errors(
    d: &Shape,
    r: &Fitted,
    fixed: &Fixed,
    tests: &[(usize, &LiftTest)],
    se: &mut [Option<f64>],
) {
    let ng = r.params.lambda0.len();
    let n = r.params.len();
    let k = r.free.len();
    for &(id, t) in tests {
        if let Some(c) = d.compact(id) {
            if fixed.beta[c].is_some() {
                se[ng + c] = Some(t.se);
            }
        }
    }
    if r.covariance.is_empty() {
        return;
    }
    let mut extra = vec![0.0; n];
    for &(id, t) in tests {
        let Some(c) = d.compact(id) else { continue };
        if fixed.beta[c].is_none() {
            continue;
        }
        let f = ng + c;
        // (-H_FF)^-1 H_Ff, with H_Ff the Hessian's column at f over the free parameters.
        let Some((_, hf)) = r.cross.iter().find(|(g, _)| *g == f) else { continue };
        for (x, &i) in r.free.iter().enumerate() {
            let deriv: f64 = (0..k).map(|y| r.covariance[x * k + y] * hf[y]).sum();
            extra[i] += deriv * deriv * t.se * t.se;
        }
    }
    for (i, e) in extra.iter().enumerate() {
        if *e > 0.0 {
            if let Some(s) = se[i] {
                se[i] = Some((s * s + e).sqrt());
            }
        }
    }
}

#[allow(clippy::needless_range_loop)] // parallel columns by group index
fn parameter_table(
    d: &Shape,
    r: &Fitted,
    se: &[Option<f64>],
    shares: &Shares,
    expected: &[f64],
    names: &[String],
) -> Table {
    let ng = r.params.lambda0.len();
    let nc = r.params.beta.len();
    let mut order: Vec<usize> = (0..nc).collect();
    order.sort_by(|&a, &b| names[d.players[a] as usize].cmp(&names[d.players[b] as usize]));
    let mut player = Vec::new();
    let (mut beta, mut beta_se, mut hl, mut hl_se) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut rate, mut rate_se, mut exposures, mut exp_conv, mut int_conv) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let ln2 = std::f64::consts::LN_2;
    for &c in &order {
        player.push(names[d.players[c] as usize].clone());
        let b = r.params.beta[c];
        let om = r.params.omega[c];
        beta.push(Some(b));
        beta_se.push(se[ng + c]);
        hl.push((b > 0.0).then(|| ln2 / om));
        hl_se.push(if b > 0.0 { se[ng + nc + c].map(|s| ln2 / (om * om) * s) } else { None });
        // With the exposures baseline: the baseline's rise per exposure of this player.
        rate.push(r.params.gamma.get(c).copied());
        rate_se.push(if r.params.gamma.is_empty() { None } else { se[ng + 2 * nc + c] });
        exposures.push(d.exposures[c].round() as i64);
        exp_conv.push(Some(expected[c]));
        int_conv.push(Some(shares.player[c].0));
    }
    for g in 0..ng {
        if d.group_exposure[g] <= 0.0 {
            continue;
        }
        player.push(if ng == 1 {
            crate::vocab::BASELINE_PLAYER.to_owned()
        } else {
            let lo = if g == 0 { 0 } else { 1usize << (g - 1) };
            let hi = if g == 0 { 0 } else { (1usize << g) - 1 };
            let range = match g {
                0 => "0".to_owned(),
                _ if g == ng - 1 => format!("{lo}+"),
                _ if lo == hi => format!("{lo}"),
                _ => format!("{lo}-{hi}"),
            };
            format!("(baseline: {range} touches)")
        });
        beta.push(None);
        beta_se.push(None);
        hl.push(None);
        hl_se.push(None);
        rate.push(Some(r.params.lambda0[g]));
        rate_se.push(se[g]);
        exposures.push(d.group_people[g].round() as i64);
        exp_conv.push(Some(r.params.lambda0[g] * d.group_exposure[g]));
        int_conv.push(None);
    }
    Table::new("hazard_parameters")
        .with("player", Values::Text(player))
        .with("beta", Values::Float(beta))
        .with("beta_se", Values::Float(beta_se))
        .with("half_life_days", Values::Float(hl))
        .with("half_life_se", Values::Float(hl_se))
        .with("baseline_per_day", Values::Float(rate))
        .with("baseline_se", Values::Float(rate_se))
        .with("exposures_or_people", Values::Int(exposures))
        .with("expected_conversions", Values::Float(exp_conv))
        .with("intensity_conversions", Values::Float(int_conv))
}

fn fit_table(d: &Shape, r: &Fitted) -> Table {
    Table::new("hazard_fit")
        .with("method", Values::Text(vec![r.method.to_owned()]))
        .with("iterations", Values::Int(vec![i64::from(r.iterations)]))
        .with("reached", Values::Float(vec![Some(r.reached)]))
        .with("log_likelihood", Values::Float(vec![Some(r.log_likelihood)]))
        .with("conversions", Values::Float(vec![Some(d.total_conversions)]))
        .with("people", Values::Int(vec![d.group_people.iter().sum::<f64>().round() as i64]))
        .with("population_given", Values::Bool(vec![d.population_given]))
        .with("period_days", Values::Float(vec![Some(d.period_days)]))
}

/// The lift tests' table; `shares` are the intensity shares of the observational and of the
/// calibrated fit.
fn lift_table(
    d: &Shape,
    obs: &Fitted,
    cal: &Fitted,
    tests: &[(usize, &LiftTest)],
    (obs_shares, shares): (&Shares, &Shares),
    expected: &[f64],
) -> Table {
    let ng = obs.params.lambda0.len();
    let (mut player, mut per_exposure, mut se, mut beta_obs, mut beta_obs_se) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut z, mut c_obs, mut c_int, mut c_cal, mut dll) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for &(id, t) in tests {
        let c = d.compact(id).expect("checked");
        player.push(t.channel.clone());
        per_exposure.push(Some(t.per_exposure));
        se.push(Some(t.se));
        let b_obs = obs.params.beta[c];
        beta_obs.push(Some(b_obs));
        let se_obs = obs.se[ng + c];
        beta_obs_se.push(se_obs);
        let denom = (t.se * t.se + se_obs.unwrap_or(0.0).powi(2)).sqrt();
        z.push((denom > 0.0).then(|| (b_obs - t.per_exposure) / denom));
        c_obs.push(Some(obs_shares.player[c].0));
        c_int.push(Some(shares.player[c].0));
        c_cal.push(Some(expected[c]));
        dll.push(Some(cal.log_likelihood - obs.log_likelihood));
    }
    Table::new("lift_tests")
        .with("player", Values::Text(player))
        .with("per_exposure", Values::Float(per_exposure))
        .with("se", Values::Float(se))
        .with("beta_observational", Values::Float(beta_obs))
        .with("beta_observational_se", Values::Float(beta_obs_se))
        .with("z", Values::Float(z))
        .with("credit_observational", Values::Float(c_obs))
        .with("credit_intensity_calibrated", Values::Float(c_int))
        .with("credit_calibrated", Values::Float(c_cal))
        .with("log_likelihood_change", Values::Float(dll))
}

/// The log-likelihood of the model with the given parameters on one KPI's timelines (per day units:
/// `lambda0` per person-day, `beta` conversions per exposure, `half_life` in days per player id), for
/// checks against hand computations. Players absent from `beta` have no effect.
pub fn log_likelihood(
    timelines: &Timelines,
    players: &[u32],
    n_players: usize,
    kpi: u32,
    lambda0: f64,
    beta: &[f64],
    half_life_days: &[f64],
) -> Result<f64> {
    let d = FitData::new(timelines, players, n_players, kpi, Baseline::Constant, timelines.population, None)?;
    let p = Params {
        lambda0: vec![lambda0],
        beta: d.shape.players.iter().map(|&id| beta[id as usize]).collect(),
        omega: d
            .shape
            .players
            .iter()
            .map(|&id| std::f64::consts::LN_2 / half_life_days[id as usize])
            .collect(),
        gamma: Vec::new(),
    };
    Ok(evaluate(&d, &p, Want::default())?.ll)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_solves_and_refuses_indefinite() {
        let a = [4.0, 2.0, 2.0, 3.0];
        let x = cholesky_solve(&a, 2, &[2.0, 1.0]).unwrap();
        // 4x + 2y = 2, 2x + 3y = 1: x = 0.5, y = 0.
        assert!((x[0] - 0.5).abs() < 1e-15 && x[1].abs() < 1e-15);
        assert!(cholesky_solve(&[1.0, 2.0, 2.0, 1.0], 2, &[1.0, 1.0]).is_none());
        let inv = spd_inverse(a.to_vec(), 2, &crate::model::Unattended).unwrap().unwrap();
        assert!((inv[0] - 3.0 / 8.0).abs() < 1e-15 && (inv[1] + 2.0 / 8.0).abs() < 1e-15);
        assert!(spd_inverse(vec![1.0, 2.0, 2.0, 1.0], 2, &crate::model::Unattended).unwrap().is_none());
    }

    #[test]
    fn the_inverse_from_one_factorisation_is_the_inverse() {
        // A = B B^T + n I for a pseudo-random B: A A^-1 = I, and each column equals a solve of its own.
        let n = 37;
        let mut rng = touchpoint_util::rng::SplitMix64::new(5);
        let b: Vec<f64> = (0..n * n).map(|_| rng.next_f64() - 0.5).collect();
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                a[i * n + j] = (0..n).map(|k| b[i * n + k] * b[j * n + k]).sum::<f64>()
                    + if i == j { n as f64 } else { 0.0 };
            }
        }
        let inv = spd_inverse(a.clone(), n, &crate::model::Unattended).unwrap().unwrap();
        for i in 0..n {
            for j in 0..n {
                let v: f64 = (0..n).map(|k| a[i * n + k] * inv[k * n + j]).sum();
                assert!((v - if i == j { 1.0 } else { 0.0 }).abs() < 1e-12, "({i}, {j}): {v}");
            }
        }
        let mut e = vec![0.0; n];
        e[7] = 1.0;
        let col = cholesky_solve(&a, n, &e).unwrap();
        for i in 0..n {
            assert!((col[i] - inv[i * n + 7]).abs() < 1e-14);
        }
        // The fit refuses, rather than allocates, what memory cannot hold: 2 matrices of n x n f64.
        assert_eq!(dense_peak_bytes(1000), 16_000_000);
        assert_eq!(dense_peak_bytes(usize::MAX), u64::MAX);
    }

    #[test]
    fn activity_groups_double() {
        let g: Vec<usize> = [0, 1, 2, 3, 4, 7, 8, 63, 64, 1000].iter().map(|&n| activity_group(n)).collect();
        assert_eq!(g, [0, 1, 2, 2, 3, 3, 4, 6, 7, 7]);
    }

    #[test]
    fn derivatives_match_finite_differences() {
        // Two people, two channels, a few conversions; gradient and Hessian against central differences.
        let mut t = Timelines::new((0, (10.0 * DAY_US) as i64), Some(5), &[]).unwrap();
        let d = |x: f64| (x * DAY_US) as i64;
        t.push_touch([0, 0, 0, 0, 0, 0], d(-1.0));
        t.push_touch([1, 0, 0, 0, 0, 0], d(2.0));
        t.push_touch([0, 0, 0, 0, 0, 0], d(3.0));
        t.push_conversion(0, d(3.5), 1.0, 0.0);
        t.push_conversion(0, d(6.0), 2.0, 0.0);
        t.finish_person();
        t.push_touch([1, 0, 0, 0, 0, 0], d(1.0));
        t.push_conversion(0, d(1.2), 1.0, 0.0);
        t.finish_person();
        let players: Vec<u32> = vec![0, 1, 0, 1];
        for (baseline, gamma) in [(Baseline::Constant, vec![]), (Baseline::Exposures, vec![0.01, 0.02])] {
            let data = FitData::new(&t, &players, 2, 0, baseline, t.population, None).unwrap();
            let p = Params { lambda0: vec![0.05], beta: vec![0.3, 0.7], omega: vec![0.4, 1.3], gamma };
            let Sums { grad: g, hess: h, .. } = evaluate(&data, &p, DERIVS).unwrap();
            let n = p.len();
            for i in 0..n {
                let eps = 1e-6 * get(&p, i).abs().max(1e-3);
                let at = |delta: f64| {
                    let mut q = p.clone();
                    set(&mut q, i, get(&p, i) + delta);
                    evaluate(&data, &q, DERIVS).unwrap()
                };
                let Sums { ll: lp, grad: gp, .. } = at(eps);
                let Sums { ll: lm, grad: gm, .. } = at(-eps);
                let fd = (lp - lm) / (2.0 * eps);
                assert!(
                    (fd - g[i]).abs() < 1e-6 * (1.0 + g[i].abs()),
                    "{baseline:?} grad {i}: {fd} vs {}",
                    g[i]
                );
                for k in 0..n {
                    let fd2 = (gp[k] - gm[k]) / (2.0 * eps);
                    assert!((fd2 - h[k * n + i]).abs() < 1e-5 * (1.0 + h[k * n + i].abs()), "hess {k},{i}");
                }
            }
        }
    }
}
