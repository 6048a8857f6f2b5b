//! Budget plans across goals: how to spread money (paid media) and staff time (organic work, priced
//! by a unit cost) over the channels and the coming periods so that the goals, valued in money, gain
//! the most; or the least money that reaches a goal's target with a given probability. With how sure
//! the plan is: the same problem solved again on each posterior draw.
//!
//! **Response.** Per KPI `k`, channel `c`, posterior draw `d` and period `t` of the horizon
//! (`t = 1..H`), the channel's contribution is the fit's own term
//! `beta_kcd * s(a_kcdt)`, `a_kcdt = sum_(l < L) w_l(alpha_kcd) x_c,t-l / scale_kc`, where the
//! levels before the horizon are the fit's last observed ones (the history's carryover flows in)
//! and `w_l = alpha^l / sum_m alpha^m` (normalised geometric adstock). After the horizon the input is
//! zero for `L - 1` periods; what the plan still adds then is its *tail*: the contribution with the
//! plan minus that without it. The *steady-state* response of a level `x` held for good is
//! `beta * s(x / scale)`, as the weights sum to one.
//!
//! **Value.** `V_d(x) = sum_k u_k (H_kd(x) + T_kd(x))`: the horizon's and the tail's contributions
//! of every KPI in money (`u_k`, the goal book's unit value). The tail counts by default (money spent
//! in the last weeks pays off after them; `count_tail = false` drops it, as Meridian's optimiser
//! does).
//!
//! **Objective.** `mean_d V_d(x)` (`Risk::Mean`), or a lower quantile of `V_d(x)` over the draws
//! (`Risk::Quantile(q)`), taken as the Harrell-Davis estimator `sum_i w_i V_(i)` (Harrell & Davis
//! 1982, "A new distribution-free quantile estimator", Biometrika 69(3)): a smooth weighting of the
//! order statistics, whose gradient `sum_i w_i grad V_(i)` lets a gradient method climb it. A target
//! (`target = {kpi: T}`, probability `p`) asks the least budget `B` whose best plan has the
//! `1 - p` quantile of `H_k` at `T`: the plan reaching `T` in a share `p` of the draws.
//!
//! **Constraints.** The spend `sum_c cost_c sum_t x_ct` equals the budget (responses only grow with
//! spend, so the best plan spends it all); `min_c <= x_ct <= max_c` per period; locked channels hold
//! their run rate. `cost_c` is 1 for media (their levels are money) and the unit cost for organic
//! channels. Flighting `free` makes every (channel, period) a decision; `even` one level per channel
//! held over the horizon.
//!
//! **Solver.** The spectral projected gradient method (Birgin, Martinez & Raydan 2000,
//! "Nonmonotone spectral projected gradient methods on convex sets", SIAM J. Optim. 10(4)): a
//! gradient step with the Barzilai-Borwein length, projected exactly onto the budget hyperplane
//! within the boxes (`x_i = clip(y_i - tau, lo_i, hi_i)`, `tau` by bisection), with a nonmonotone
//! line search. It fits the problem: the feasible set is a box cut by one hyperplane, whose projection
//! is cheap and exact, and the gradient through adstock and saturation is exact (written below).
//! The variables are budget shares (`cost_i x_i / B`) and the objective is divided by its value at
//! the start, so that no channel's derivative is too small to move it (pymc-marketing #1681). For
//! logistic curves the mean objective is concave (a sum of concave functions of linear maps) and the
//! optimum is global; Hill curves with a slope above 1 are S-shaped and the optimum may be local.
//!
//! **Optimality (KKT).** At a maximum of `f` on `{sum cost_i x_i = B, lo <= x <= hi}`, the marginal
//! value per unit of money `m_i = (df/dx_i) / cost_i` is one number `lambda` for every variable inside
//! its bounds, at most `lambda` at a minimum and at least `lambda` at a maximum. Every plan reports
//! `m_i`, `lambda` and the largest relative gap.
//!
//! **How sure.** The plan is solved again on each posterior draw alone (or a seeded subset of them),
//! from the plan's own solution: the spread of each channel's optimal spend over the draws, and the
//! share of draws whose optimum spends more on a channel than its run rate, say how much the
//! recommendation rests on what the data cannot tell apart.
use std::collections::BTreeMap;
use std::sync::Arc;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use statrs::distribution::{Beta, ContinuousCDF};
use touchpoint_core::{Control, GoalBook};
use touchpoint_util::rng::SplitMix64;

use crate::error::{Error, Result};
use crate::fit::{estimate, Estimate, Fit};
use crate::posterior::saturate;
use crate::scenario::MAX_PERIODS;
use crate::spec::{ChannelKind, Saturation};

/// How the spend of a channel may vary over the horizon.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Flighting {
    /// Every (channel, period) level is a decision: carryover is used as a media planner would.
    #[default]
    Free,
    /// One level per channel, the same in every period.
    Even,
}

/// What the plan maximises over the posterior draws.
#[derive(Clone, Copy, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Risk {
    /// The expected value.
    #[default]
    Mean,
    /// The `q` quantile of the value (Harrell-Davis), `0 < q < 1`: a cautious plan for small `q`.
    Quantile(f64),
}

/// A channel's level per period, in its own units (spend for media, volume for organic).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Bound {
    /// The least level per period (0 when not given).
    pub min: f64,
    /// The largest level per period (`f64::INFINITY` when not given; `null` in JSON).
    #[serde(deserialize_with = "max_or_unbounded")]
    pub max: f64,
}

/// A bound's `max`: a number, or `null` for none.
fn max_or_unbounded<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::INFINITY))
}

impl Default for Bound {
    fn default() -> Self {
        Bound { min: 0.0, max: f64::INFINITY }
    }
}

/// The options of [`plan`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlanOptions {
    /// Money over the horizon; without it (and without a target) the current run rate's cost.
    pub budget: Option<f64>,
    /// Periods ahead (the fits' period, a week for weekly fits).
    pub periods: usize,
    /// Money per unit of volume of organic channels (overrides the goal book's).
    pub unit_costs: BTreeMap<String, f64>,
    /// Per channel: the least and the largest level per period.
    pub bounds: BTreeMap<String, Bound>,
    /// Channels held at their run rate.
    pub locked: Vec<String>,
    /// Free or even flighting.
    pub flighting: Flighting,
    /// The least level of one KPI's horizon contribution to reach, instead of a budget.
    pub target: BTreeMap<String, f64>,
    /// The probability over the draws with which the target must be reached.
    pub probability: f64,
    /// The mean, or a lower quantile of the value.
    pub risk: Risk,
    /// Whether the value counts the tail after the horizon.
    pub count_tail: bool,
    /// Interval level of every estimate.
    pub level: f64,
    /// Seed of the subset of draws the decision's uncertainty is computed on.
    pub seed: u64,
    /// Draws on which the plan is solved again (`None`: all; `Some(0)`: none).
    pub decision_draws: Option<usize>,
    /// How many periods of history make the run rate (their mean level); `None`: `periods`.
    pub run_rate_periods: Option<usize>,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            budget: None,
            periods: 13,
            unit_costs: BTreeMap::new(),
            bounds: BTreeMap::new(),
            locked: Vec::new(),
            flighting: Flighting::Free,
            target: BTreeMap::new(),
            probability: 0.5,
            risk: Risk::Mean,
            count_tail: true,
            level: 0.9,
            seed: 0,
            decision_draws: None,
            run_rate_periods: None,
        }
    }
}

/// One channel's parameters in one draw, in the KPI's units.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CurveDraw {
    /// Contribution at full saturation per period, in the KPI's units.
    pub beta: f64,
    /// Geometric adstock decay.
    pub alpha: f64,
    /// Logistic `lam`, or the Hill half-saturation point.
    pub lam: f64,
    /// Hill slope (unused by the logistic curve).
    pub slope: f64,
}

/// What a planner knows of one channel in one KPI: its history and its response per draw.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChannelCurve {
    /// Channel name.
    pub name: String,
    /// Spend (media) or volume (organic).
    pub kind: ChannelKind,
    /// The saturation curve.
    pub saturation: Saturation,
    /// Number of adstock weights.
    pub max_lag: usize,
    /// The level that divides the input before the saturation (the fit's largest level).
    pub scale: f64,
    /// Every observed level, oldest first (the run rate and the carryover come from its end).
    pub levels: Vec<f64>,
    /// Per draw.
    pub draws: Vec<CurveDraw>,
}

/// What a planner knows of one KPI.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// The KPI's name, as in the goal book.
    pub kpi: String,
    /// Its channels (every one with the same number of draws).
    pub channels: Vec<ChannelCurve>,
    /// Whether the draws are a posterior sample (intervals) or one point.
    pub intervals: bool,
}

impl Response {
    /// The response of a media-mix fit of the KPI `kpi`: each channel's curve per posterior draw.
    pub fn from_fit(kpi: &str, fit: &Fit) -> Response {
        let post = fit.post();
        let d = &post.design;
        let mut channels: Vec<ChannelCurve> = fit
            .model
            .channels
            .iter()
            .enumerate()
            .map(|(c, spec)| ChannelCurve {
                name: spec.name.clone(),
                kind: spec.kind,
                saturation: fit.model.saturation,
                max_lag: fit.model.max_lag.max(1),
                scale: d.x_scale[c],
                levels: fit.series.channels[c].clone(),
                draws: Vec::new(),
            })
            .collect();
        for theta in fit.all_draws() {
            let p = post.params(theta);
            for (c, cp) in p.channels.iter().enumerate() {
                channels[c].draws.push(CurveDraw {
                    beta: cp.beta * d.y_scale,
                    alpha: cp.alpha,
                    lam: cp.lam,
                    slope: cp.slope,
                });
            }
        }
        Response { kpi: kpi.to_string(), channels, intervals: fit.has_intervals() }
    }
}

/// One (channel, period) of a plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AllocationRow {
    /// Channel.
    pub channel: String,
    /// `media` or `organic`.
    pub kind: String,
    /// 1 for the first period of the horizon.
    pub period: usize,
    /// Planned level, in the channel's units.
    pub volume: f64,
    /// Its cost (`None` for an organic channel without a unit cost, held fixed).
    pub spend: Option<f64>,
    /// The run rate's level.
    pub current: f64,
    /// Its cost.
    pub current_spend: Option<f64>,
    /// The planned level over the largest level the fits saw, when above it.
    pub beyond_observed: Option<f64>,
}

/// One KPI's outcome under a plan, or its difference from another plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutcomeRow {
    /// KPI, or `value` for the money of every goal together.
    pub kpi: String,
    /// The planned channels' contribution over the horizon (the history's carryover included), in
    /// the KPI's units (money for `value`).
    pub horizon: Estimate,
    /// What the plan adds after the horizon.
    pub tail: Estimate,
    /// The horizon (and, when counted, the tail) in money.
    pub value: Estimate,
}

/// One KPI and channel's contribution under a plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContributionRow {
    /// KPI.
    pub kpi: String,
    /// Channel.
    pub channel: String,
    /// Over the horizon.
    pub horizon: Estimate,
    /// After it.
    pub tail: Estimate,
}

/// The marginal value of one decision at the plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MarginalRow {
    /// Channel.
    pub channel: String,
    /// Period (1..H), or 0 for an even channel's level over the whole horizon.
    pub period: usize,
    /// Planned level.
    pub volume: f64,
    /// The objective's change per extra unit of money (money of value per money, or KPI units per
    /// money for a target); null for a fixed organic channel without a unit cost.
    #[serde(with = "crate::fit::nullable")]
    pub marginal: f64,
    /// `interior`, `at_min`, `at_max` or `fixed`.
    pub status: String,
}

/// The optimality conditions at the plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Kkt {
    /// The common marginal value of the decisions inside their bounds (the budget's shadow price;
    /// with none inside, the middle of the interval the bounded decisions leave).
    #[serde(with = "crate::fit::nullable")]
    pub multiplier: f64,
    /// The largest `|m_i - multiplier| / |multiplier|` over the decisions inside their bounds.
    #[serde(with = "crate::fit::nullable")]
    pub interior_gap: f64,
    /// Decisions at a bound whose marginal value says they should move (beyond `tolerance`).
    pub violations: usize,
    /// The relative tolerance of the check.
    pub tolerance: f64,
    /// Whether the conditions hold within it.
    pub holds: bool,
    /// Solver iterations, and whether the solver stopped before its iteration limit (the projected
    /// gradient met its tolerance, or the value stopped moving).
    pub iterations: usize,
    pub converged: bool,
}

/// How sure the plan is of one channel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DecisionRow {
    /// Channel.
    pub channel: String,
    /// The plan's spend over the horizon (volume for an organic channel without a unit cost).
    pub planned: f64,
    /// The run rate's.
    pub current: f64,
    /// The optimal spend over the draws, each solved alone: mean and interval.
    pub optimal: Estimate,
    /// The share of draws whose optimum spends more on the channel than its run rate.
    pub probability_grow: f64,
}

/// A plan's outcome against another plan, draw by draw.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanComparison {
    /// Per KPI and `value`: the plan's outcome minus the other's.
    pub outcome: Vec<OutcomeRow>,
    /// Spend of the plan minus the other's.
    pub spend: f64,
    /// The share of draws in which the plan's value is the larger.
    pub probability_better: f64,
}

/// A steady-state response curve point: a level held for good, and the contribution per period.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    /// KPI.
    pub kpi: String,
    /// Channel.
    pub channel: String,
    /// Level per period.
    pub level: f64,
    /// Contribution per period.
    pub response: Estimate,
    /// The largest level the fits saw (the curve beyond it is extrapolated).
    pub observed: f64,
}

/// A budget plan ([`plan`]).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Plan {
    /// Per channel and period.
    pub allocation: Vec<AllocationRow>,
    /// Per KPI, then `value`.
    pub outcome: Vec<OutcomeRow>,
    /// Per KPI and channel.
    pub contributions: Vec<ContributionRow>,
    /// The plan against the run rate.
    pub against_current: PlanComparison,
    /// Marginal values at the plan.
    pub marginal: Vec<MarginalRow>,
    /// The optimality check.
    pub kkt: Kkt,
    /// Per channel: the decision's spread over the draws (empty when `decision_draws = 0`).
    pub decision: Vec<DecisionRow>,
    /// Draws the decision's spread was computed on.
    pub decision_draws: usize,
    /// The budget spent.
    pub budget: f64,
    /// For a target: the share of draws reaching it.
    pub probability: Option<f64>,
    /// Periods.
    pub periods: usize,
    /// Interval level.
    pub level: f64,
    /// What the reader should know.
    pub warnings: Vec<String>,
    #[serde(skip)]
    problem: Option<Arc<Problem>>,
}

// ---------------------------------------------------------------------------------------------
// The problem: channels, their costs and bounds, and the response terms.

#[derive(Clone, Debug)]
struct Channel {
    name: String,
    kind: ChannelKind,
    /// Money per unit (media 1); `None` for an organic channel held fixed without one.
    cost: Option<f64>,
    lo: f64,
    hi: f64,
    /// Held fixed at `lo == hi`.
    fixed: bool,
    current: f64,
    observed: f64,
}

#[derive(Clone, Debug)]
struct Term {
    kpi: usize,
    channel: usize,
    curve: ChannelCurve,
    /// Adstock weights per draw (`max_lag` each).
    weights: Vec<Vec<f64>>,
    /// The history's scaled levels: the last `max_lag - 1`, oldest first (zero-padded).
    history: Vec<f64>,
    /// Per draw: the tail the history alone leaves after the horizon.
    base_tail: Vec<f64>,
}

#[derive(Clone, Debug)]
struct Problem {
    h: usize,
    kpis: Vec<String>,
    unit_values: Vec<f64>,
    channels: Vec<Channel>,
    terms: Vec<Term>,
    n: usize,
    intervals: bool,
    count_tail: bool,
    level: f64,
}

/// Per draw and KPI: the horizon's and the tail's contributions.
struct DrawOut {
    horizon: Vec<f64>,
    tail: Vec<f64>,
}

/// What the objective weighs: each KPI's horizon and tail, per unit.
#[derive(Clone, Debug)]
struct Weigh {
    horizon: Vec<f64>,
    tail: Vec<f64>,
}

fn adstock_weights(alpha: f64, lag: usize) -> Vec<f64> {
    let mut w: Vec<f64> = Vec::with_capacity(lag);
    let mut p = 1.0;
    for _ in 0..lag {
        w.push(p);
        p *= alpha;
    }
    let s: f64 = w.iter().sum();
    w.iter_mut().for_each(|v| *v /= s);
    w
}

impl Term {
    /// Draw `d` of this term under `levels` (`channel * h + t`): the contribution over the horizon
    /// and the plan's tail after it; with `weigh = (horizon weight, tail weight)`, the gradient of
    /// their weighted sum in the channel's levels is added to `grad`.
    fn run(
        &self,
        d: usize,
        h: usize,
        levels: &[f64],
        weigh: Option<(f64, f64)>,
        grad: Option<&mut [f64]>,
    ) -> (f64, f64) {
        let cd = self.curve.draws[d];
        let w = &self.weights[d];
        let tail = w.len() - 1;
        let len = 2 * tail + h;
        let scale = self.curve.scale;
        SCRATCH.with(|cell| {
            let (ext, u) = &mut *cell.borrow_mut();
            ext.clear();
            ext.extend_from_slice(&self.history);
            ext.extend(levels[self.channel * h..(self.channel + 1) * h].iter().map(|v| v / scale));
            ext.resize(len, 0.0);
            u.clear();
            u.resize(len, 0.0);
            let (mut sum_h, mut sum_t) = (0.0, 0.0);
            for t in tail..len {
                let mut a = 0.0;
                for (l, wl) in w.iter().enumerate().take(t + 1) {
                    a += wl * ext[t - l];
                }
                let (s, mut ds, _, _) = saturate(self.curve.saturation, a, cd.lam, cd.slope);
                if ds == 0.0 && a <= 0.0 && self.curve.saturation == Saturation::Hill {
                    // At zero the Hill curve's slope is its one-sided limit (infinite for a slope below
                    // 1): taken just above zero, so a channel without input still draws money.
                    ds = saturate(Saturation::Hill, 1e-9, cd.lam, cd.slope).1;
                }
                let in_horizon = t < tail + h;
                if in_horizon {
                    sum_h += s;
                } else {
                    sum_t += s;
                }
                if let Some((wh, wt)) = weigh {
                    u[t] = if in_horizon { wh } else { wt } * cd.beta * ds / scale;
                }
            }
            if let (Some(g), Some(_)) = (grad, weigh) {
                let gc = &mut g[self.channel * h..(self.channel + 1) * h];
                for (i, gi) in gc.iter_mut().enumerate() {
                    let t0 = tail + i;
                    *gi += w.iter().zip(&u[t0..]).map(|(wl, ul)| wl * ul).sum::<f64>();
                }
            }
            (cd.beta * sum_h, cd.beta * sum_t - self.base_tail[d])
        })
    }
}

thread_local! {
    /// Each thread's input path and gradient weights of [`Term::run`], reused from call to call
    /// (the solver calls it millions of times).
    static SCRATCH: std::cell::RefCell<(Vec<f64>, Vec<f64>)> = const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

impl Problem {
    /// One draw's contributions per KPI under `levels` (`channel * h + t`), and, when asked with
    /// `weigh = (weights, w)`, `w` times the gradient of `sum_k weights.horizon[k] H_k +
    /// weights.tail[k] T_k` in the levels, added to `grad`.
    fn draw(
        &self,
        d: usize,
        levels: &[f64],
        weigh: Option<(&Weigh, f64)>,
        mut grad: Option<&mut [f64]>,
    ) -> DrawOut {
        let mut out = DrawOut { horizon: vec![0.0; self.kpis.len()], tail: vec![0.0; self.kpis.len()] };
        for term in &self.terms {
            let k = term.kpi;
            let wk = weigh.map(|(wt, w)| (w * wt.horizon[k], w * wt.tail[k]));
            let (hz, tl) = term.run(d, self.h, levels, wk, grad.as_deref_mut());
            out.horizon[k] += hz;
            out.tail[k] += tl;
        }
        out
    }

    /// Every draw's contributions, in draw order (in parallel; the result does not depend on the
    /// number of threads).
    fn all(&self, levels: &[f64]) -> Vec<DrawOut> {
        (0..self.n).into_par_iter().map(|d| self.draw(d, levels, None, None)).collect()
    }

    fn scalar(&self, o: &DrawOut, wk: &Weigh) -> f64 {
        (0..self.kpis.len()).map(|k| wk.horizon[k] * o.horizon[k] + wk.tail[k] * o.tail[k]).sum()
    }

    fn spend(&self, levels: &[f64]) -> f64 {
        let h = self.h;
        self.channels
            .iter()
            .enumerate()
            .filter_map(|(c, ch)| ch.cost.map(|k| k * levels[c * h..(c + 1) * h].iter().sum::<f64>()))
            .sum()
    }
}

/// The effective sample of the smoothed quantile: Harrell-Davis weights of `n` = 4,000 draws put
/// nearly all the weight on some 100 ranks, and every swap of two draws there kinks the objective;
/// spread as for 200 draws, the weights vary slowly from rank to rank and a gradient method moves.
const QUANTILE_SAMPLE: usize = 200;

/// Harrell-Davis weights of the `q` quantile of `n` ordered values (Harrell & Davis 1982: the
/// `Beta(q (m + 1), (1 - q) (m + 1))` mass of each rank's slice `((i - 1) / n, i / n]`), with the
/// effective sample `m = min(n, m_max)`: `m = n` is their estimator.
fn harrell_davis(n: usize, q: f64, m_max: usize) -> Vec<f64> {
    if n == 1 {
        return vec![1.0];
    }
    let m = n.min(m_max.max(1)) as f64;
    let a = q * (m + 1.0);
    let b = (1.0 - q) * (m + 1.0);
    let beta = Beta::new(a, b).expect("shapes are positive");
    let mut prev = 0.0;
    (1..=n)
        .map(|i| {
            let c = beta.cdf(i as f64 / n as f64);
            let w = c - prev;
            prev = c;
            w
        })
        .collect()
}

/// The objective over a set of draws: mean, or a Harrell-Davis quantile, of a per-draw scalar.
#[derive(Clone, Debug)]
struct Objective {
    weigh: Weigh,
    /// Draws it runs over.
    draws: Vec<usize>,
    /// Harrell-Davis weights by rank (`None`: the mean).
    quantile: Option<Vec<f64>>,
    parallel: bool,
}

impl Objective {
    /// Value and gradient in the levels.
    fn eval(&self, p: &Problem, levels: &[f64]) -> (f64, Vec<f64>) {
        let nv = levels.len();
        let m = self.draws.len() as f64;
        // Per-draw weights.
        let weights: Vec<(usize, f64)> = match &self.quantile {
            None => self.draws.iter().map(|&d| (d, 1.0 / m)).collect(),
            Some(hd) => {
                let vals: Vec<f64> = if self.parallel {
                    self.draws
                        .par_iter()
                        .map(|&d| p.scalar(&p.draw(d, levels, None, None), &self.weigh))
                        .collect()
                } else {
                    self.draws
                        .iter()
                        .map(|&d| p.scalar(&p.draw(d, levels, None, None), &self.weigh))
                        .collect()
                };
                let mut order: Vec<usize> = (0..vals.len()).collect();
                order.sort_by(|&i, &j| vals[i].total_cmp(&vals[j]).then(i.cmp(&j)));
                let top = hd.iter().copied().fold(0.0, f64::max);
                order
                    .iter()
                    .enumerate()
                    .filter(|(r, _)| hd[*r] > 1e-14 * top)
                    .map(|(r, &i)| (self.draws[i], hd[r]))
                    .collect()
            }
        };
        // Each chunk of draws sums into one gradient; the chunks are fixed and summed in order, so
        // the result does not depend on the number of threads.
        let sum = |ws: &[(usize, f64)]| -> (f64, Vec<f64>) {
            let mut g = vec![0.0; nv];
            let mut f = 0.0;
            for &(d, wd) in ws {
                let o = p.draw(d, levels, Some((&self.weigh, wd)), Some(&mut g));
                f += wd * p.scalar(&o, &self.weigh);
            }
            (f, g)
        };
        let chunk = 64;
        let parts: Vec<(f64, Vec<f64>)> = if self.parallel {
            weights.par_chunks(chunk).map(sum).collect()
        } else {
            weights.chunks(chunk).map(sum).collect()
        };
        let mut f = 0.0;
        let mut g = vec![0.0; nv];
        for (fi, gi) in parts {
            f += fi;
            g.iter_mut().zip(&gi).for_each(|(a, b)| *a += b);
        }
        (f, g)
    }
}

// ---------------------------------------------------------------------------------------------
// The solver.

/// The decisions: which (channel, periods) each variable sets, its money per unit, its bounds.
#[derive(Clone, Debug)]
struct Vars {
    /// Per variable: channel, and the periods it sets (one, or all for even flighting).
    of: Vec<(usize, Option<usize>)>,
    /// Money per unit of the variable (the channel's cost, times `h` for an even level).
    cost: Vec<f64>,
    lo: Vec<f64>,
    hi: Vec<f64>,
    /// The fixed channels' levels, and the rest at zero.
    base: Vec<f64>,
    /// The money the variables share.
    money: f64,
}

impl Vars {
    fn levels(&self, x: &[f64], h: usize) -> Vec<f64> {
        let mut lv = self.base.clone();
        for (i, &(c, t)) in self.of.iter().enumerate() {
            match t {
                Some(t) => lv[c * h + t] = x[i],
                None => lv[c * h..(c + 1) * h].iter_mut().for_each(|v| *v = x[i]),
            }
        }
        lv
    }

    fn fold(&self, g: &[f64], h: usize) -> Vec<f64> {
        self.of
            .iter()
            .map(|&(c, t)| match t {
                Some(t) => g[c * h + t],
                None => g[c * h..(c + 1) * h].iter().sum(),
            })
            .collect()
    }
}

/// Projection onto `{z : sum z = total, lo <= z <= hi}`: `z_i = clip(y_i - tau, lo_i, hi_i)`, where
/// `f(tau) = sum_i clip(y_i - tau, lo_i, hi_i)` falls piecewise linearly through the breakpoints
/// `y_i - hi_i` and `y_i - lo_i`: a binary search finds the segment where `f = total`, and `tau` is
/// solved on it exactly. Needs `sum lo <= total <= sum hi`.
fn project(y: &[f64], lo: &[f64], hi: &[f64], total: f64) -> Vec<f64> {
    let at = |tau: f64| -> f64 { y.iter().zip(lo).zip(hi).map(|((v, l), u)| (v - tau).clamp(*l, *u)).sum() };
    let mut bp: Vec<f64> = Vec::with_capacity(2 * y.len());
    for ((v, l), u) in y.iter().zip(lo).zip(hi) {
        bp.push(v - l);
        if u.is_finite() {
            bp.push(v - u);
        }
    }
    bp.sort_by(f64::total_cmp);
    bp.dedup();
    // The first breakpoint where f is at most the total (f at the last one is sum lo <= total).
    let (mut a, mut b) = (0, bp.len() - 1);
    while a < b {
        let mid = (a + b) / 2;
        if at(bp[mid]) <= total {
            b = mid;
        } else {
            a = mid + 1;
        }
    }
    let k = a;
    let fk = at(bp[k]);
    let tau = if k == 0 {
        // Left of every breakpoint only the coordinates without a maximum still move.
        let m = hi.iter().filter(|u| !u.is_finite()).count() as f64;
        if m == 0.0 {
            bp[0]
        } else {
            bp[0] - (total - fk) / m
        }
    } else {
        let fp = at(bp[k - 1]);
        if fp - fk > 0.0 {
            bp[k - 1] + (fp - total) / (fp - fk) * (bp[k] - bp[k - 1])
        } else {
            bp[k]
        }
    };
    y.iter().zip(lo).zip(hi).map(|((v, l), u)| (v - tau).clamp(*l, *u)).collect()
}

/// The largest step length of the projected gradient, in budget shares.
const LAMBDA_MAX: f64 = 1e6;

/// A function's value and gradient.
type ValueAndGradient<'a> = dyn Fn(&[f64]) -> (f64, Vec<f64>) + 'a;

struct Solved {
    x: Vec<f64>,
    iterations: usize,
    converged: bool,
}

/// Spectral projected gradient (Birgin, Martinez & Raydan 2000, algorithm SPG2) maximising `f` over
/// `{sum cost_i x_i = money, lo <= x <= hi}`, in budget shares `z_i = cost_i x_i / money` and with
/// `f` divided by its size at the start.
fn maximise(f: &ValueAndGradient<'_>, vars: &Vars, start: &[f64], tol: f64, max_iter: usize) -> Solved {
    let n = vars.of.len();
    if n == 0 || vars.money <= 0.0 {
        return Solved { x: vars.lo.clone(), iterations: 0, converged: true };
    }
    let m = vars.money;
    let to_x = |z: &[f64]| -> Vec<f64> { (0..n).map(|i| z[i] * m / vars.cost[i]).collect() };
    let zlo: Vec<f64> = (0..n).map(|i| vars.lo[i] * vars.cost[i] / m).collect();
    let zhi: Vec<f64> = (0..n).map(|i| vars.hi[i] * vars.cost[i] / m).collect();
    let z0: Vec<f64> = (0..n).map(|i| start[i] * vars.cost[i] / m).collect();
    let mut z = project(&z0, &zlo, &zhi, 1.0);
    let (f0, _) = f(&to_x(&z));
    let scale = f0.abs().max(1e-300);
    // phi(z) = -f(x(z)) / scale; its gradient in z.
    let phi = |z: &[f64]| -> (f64, Vec<f64>) {
        let (v, g) = f(&to_x(z));
        (-v / scale, (0..n).map(|i| -g[i] * m / vars.cost[i] / scale).collect())
    };
    let (mut fz, mut g) = phi(&z);
    let pg_norm = |z: &[f64], g: &[f64]| -> f64 {
        let y: Vec<f64> = z.iter().zip(g).map(|(a, b)| a - b).collect();
        let p = project(&y, &zlo, &zhi, 1.0);
        p.iter().zip(z).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max)
    };
    let mut pg = pg_norm(&z, &g);
    let mut lambda = if pg > 0.0 { 1.0 / pg } else { 1.0 };
    let memory = 10;
    let mut recent = vec![fz];
    let mut it = 0;
    // A kinked objective (a quantile's order statistics swap) may never meet the gradient
    // tolerance: stop when 50 iterations have not improved the best value by a relative 1e-12.
    let (mut best, mut since) = (fz, 0);
    while it < max_iter && pg > tol && since < 50 {
        it += 1;
        lambda = lambda.clamp(1e-30, LAMBDA_MAX);
        let y: Vec<f64> = z.iter().zip(&g).map(|(a, b)| a - lambda * b).collect();
        let d: Vec<f64> = project(&y, &zlo, &zhi, 1.0).iter().zip(&z).map(|(a, b)| a - b).collect();
        let gd: f64 = g.iter().zip(&d).map(|(a, b)| a * b).sum();
        if gd >= 0.0 {
            break;
        }
        let fmax = recent.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mut alpha = 1.0;
        let (znew, fnew, gnew) = loop {
            let zt: Vec<f64> = z.iter().zip(&d).map(|(a, b)| a + alpha * b).collect();
            let (ft, gt) = phi(&zt);
            if ft <= fmax + 1e-4 * alpha * gd || alpha < 1e-12 {
                break (zt, ft, gt);
            }
            let q = -0.5 * alpha * alpha * gd / (ft - fz - alpha * gd);
            alpha = if q >= 0.1 * alpha && q <= 0.9 * alpha { q } else { alpha / 2.0 };
        };
        let s: Vec<f64> = znew.iter().zip(&z).map(|(a, b)| a - b).collect();
        let yv: Vec<f64> = gnew.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sty: f64 = s.iter().zip(&yv).map(|(a, b)| a * b).sum();
        let sts: f64 = s.iter().map(|a| a * a).sum();
        // Barzilai-Borwein length, capped: in budget shares a step of 1e6 times the gradient already
        // crosses every box, and a larger one would cost the projection its precision.
        lambda = if sty <= 0.0 { LAMBDA_MAX } else { (sts / sty).min(LAMBDA_MAX) };
        let stalled = sts.sqrt() < 1e-15;
        z = znew;
        fz = fnew;
        g = gnew;
        recent.push(fz);
        if recent.len() > memory {
            recent.remove(0);
        }
        pg = pg_norm(&z, &g);
        if fz < best - 1e-12 * best.abs().max(1e-300) {
            best = fz;
            since = 0;
        } else {
            since += 1;
        }
        if stalled {
            break;
        }
    }
    // Converged: the projected gradient (in budget shares, the objective scaled to 1 at the start)
    // below 1e-7, or its own tolerance when that is looser.
    Solved { x: to_x(&z), iterations: it, converged: pg <= tol.max(1e-7) }
}

// ---------------------------------------------------------------------------------------------
// Setting the problem up.

fn show(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}

fn option(option: &'static str, value: impl ToString, reason: impl Into<String>) -> Error {
    Error::InvalidOption { option, value: value.to_string(), reason: reason.into() }
}

fn channel_error(channel: &str, reason: impl Into<String>) -> Error {
    Error::Channel { channel: channel.to_string(), reason: reason.into() }
}

/// A channel's curve the planner can use: finite positive scale, levels >= 0, and each draw's
/// parameters in their domains.
fn check_curve(kpi: &str, c: &ChannelCurve) -> Result<()> {
    let bad = |reason: String| Err(channel_error(&c.name, format!("in the response of `{kpi}`: {reason}")));
    if !(c.scale.is_finite() && c.scale > 0.0) {
        return bad(format!("scale {} must be finite and > 0", c.scale));
    }
    if c.max_lag == 0 {
        return bad("max_lag 0: at least one adstock weight".into());
    }
    if let Some((row, v)) = c.levels.iter().enumerate().find(|(_, v)| !(v.is_finite() && **v >= 0.0)) {
        return bad(format!("observed level {v} in row {row} must be finite and >= 0"));
    }
    for (d, cd) in c.draws.iter().enumerate() {
        let ok = cd.beta.is_finite()
            && cd.beta >= 0.0
            && (0.0..1.0).contains(&cd.alpha)
            && cd.lam.is_finite()
            && cd.lam > 0.0
            && cd.slope.is_finite()
            && cd.slope > 0.0;
        if !ok {
            return bad(format!(
                "draw {d}: beta {}, alpha {}, lam {}, slope {} (beta >= 0, 0 <= alpha < 1, lam > 0, slope > 0)",
                cd.beta, cd.alpha, cd.lam, cd.slope
            ));
        }
    }
    Ok(())
}

fn build(responses: &[Response], goals: &GoalBook, o: &PlanOptions) -> Result<(Problem, Vec<String>)> {
    let mut warnings = Vec::new();
    if responses.is_empty() {
        return Err(option("fits", "{}", "give at least one media-mix fit, keyed by its KPI"));
    }
    if o.periods == 0 || o.periods > MAX_PERIODS {
        return Err(option("periods", o.periods, format!("plan between 1 and {MAX_PERIODS} periods ahead")));
    }
    if !(o.level > 0.0 && o.level < 1.0) {
        return Err(option("level", o.level, "an interval level is between 0 and 1"));
    }
    if !(o.probability > 0.0 && o.probability < 1.0) {
        return Err(option("probability", o.probability, "a probability strictly between 0 and 1"));
    }
    if let Risk::Quantile(q) = o.risk {
        if !(q > 0.0 && q < 1.0) {
            return Err(option("risk", q, "a quantile strictly between 0 and 1"));
        }
    }
    let h = o.periods;
    let n = responses.iter().flat_map(|r| r.channels.first()).map(|c| c.draws.len()).next().unwrap_or(0);
    if n == 0 {
        return Err(option("fits", "0 draws", "a plan needs fits with channels and posterior draws"));
    }
    if o.run_rate_periods == Some(0) {
        return Err(option("run_rate_periods", 0, "at least one period makes the run rate"));
    }
    let mut kpis = Vec::new();
    let mut unit_values = Vec::new();
    for r in responses {
        if kpis.contains(&r.kpi) {
            return Err(Error::Goal { kpi: r.kpi.clone(), reason: "given twice: one fit per KPI".into() });
        }
        let Some(k) = goals.kpi(&r.kpi) else {
            return Err(Error::Goal {
                kpi: r.kpi.clone(),
                reason: format!(
                    "not in the goal book ({}): add it with its unit value, so the plan can weigh it against the other goals",
                    goals.kpis.iter().map(|k| k.name.as_str()).collect::<Vec<_>>().join(", ")
                ),
            });
        };
        if k.unit_value == Some(0.0) {
            return Err(Error::Goal {
                kpi: r.kpi.clone(),
                reason: "`unit_value` is 0 in the goal book: the plan would give it no weight; value it, or leave its fit out".into(),
            });
        }
        let Some(u) = k.unit_value else {
            return Err(Error::Goal {
                kpi: r.kpi.clone(),
                reason: "has no `unit_value` in the goal book: the plan values every goal in money".into(),
            });
        };
        for c in &r.channels {
            check_curve(&r.kpi, c)?;
            if c.draws.len() != n {
                return Err(Error::Goal {
                    kpi: r.kpi.clone(),
                    reason: format!(
                        "channel `{}` has {} draws where the first fit has {n}: fit every KPI with the same number of draws",
                        c.name,
                        c.draws.len()
                    ),
                });
            }
        }
        kpis.push(r.kpi.clone());
        unit_values.push(u);
    }
    // Channels: the union, in the order first seen.
    let mut channels: Vec<Channel> = Vec::new();
    let run_n = o.run_rate_periods.unwrap_or(h).max(1);
    for r in responses {
        for c in &r.channels {
            let observed = c.levels.iter().copied().fold(0.0, f64::max);
            if let Some(ch) = channels.iter_mut().find(|ch| ch.name == c.name) {
                if ch.kind != c.kind {
                    return Err(channel_error(
                        &c.name,
                        format!(
                            "is {} in one fit and {} in another: a channel is spend or volume everywhere",
                            ch.kind.as_str(),
                            c.kind.as_str()
                        ),
                    ));
                }
                ch.observed = ch.observed.max(observed);
                continue;
            }
            let recent = &c.levels[c.levels.len().saturating_sub(run_n)..];
            let current = recent.iter().sum::<f64>() / recent.len().max(1) as f64;
            channels.push(Channel {
                name: c.name.clone(),
                kind: c.kind,
                cost: None,
                lo: 0.0,
                hi: f64::INFINITY,
                fixed: false,
                current,
                observed,
            });
        }
    }
    let names: Vec<String> = channels.iter().map(|c| c.name.clone()).collect();
    let known = |what: &'static str, name: &str| -> Result<usize> {
        names.iter().position(|n| *n == name).ok_or_else(|| {
            option(what, format!("{name:?}"), format!("not a channel of the fits ({})", names.join(", ")))
        })
    };
    for name in &o.locked {
        let c = known("locked", name)?;
        let ch = &mut channels[c];
        ch.fixed = true;
        ch.lo = ch.current;
        ch.hi = ch.current;
    }
    for (name, b) in &o.bounds {
        let c = known("bounds", name)?;
        if !(b.min.is_finite() && b.min >= 0.0) || b.max.is_nan() || b.max < b.min {
            return Err(channel_error(
                name,
                format!(
                    "bounds ({}, {}) must be 0 <= min <= max per period (max may be unbounded)",
                    b.min, b.max
                ),
            ));
        }
        let ch = &mut channels[c];
        if ch.fixed {
            return Err(channel_error(name, "is locked at its run rate and bounded: give one of the two"));
        }
        ch.lo = b.min;
        ch.hi = b.max;
        ch.fixed = b.min == b.max;
    }
    // Unit costs: the options', then the goal book's.
    for (name, &k) in o.unit_costs.iter() {
        let c = known("unit_costs", name)?;
        if !(k.is_finite() && k > 0.0) {
            return Err(channel_error(name, format!("unit cost {k} must be finite and > 0")));
        }
        if channels[c].kind == ChannelKind::Media {
            return Err(channel_error(
                name,
                format!(
                    "is a media channel: its level is spend already, so it takes no unit cost (given {k})"
                ),
            ));
        }
    }
    for ch in channels.iter_mut() {
        ch.cost = match ch.kind {
            ChannelKind::Media => {
                if goals.unit_costs.contains_key(&ch.name) {
                    return Err(channel_error(
                        &ch.name,
                        "is a media channel: its level is spend already, so the goal book's `unit_costs` must not name it",
                    ));
                }
                Some(1.0)
            }
            ChannelKind::Organic => {
                o.unit_costs.get(&ch.name).or_else(|| goals.unit_costs.get(&ch.name)).copied()
            }
        };
        if ch.cost.is_none() {
            if !ch.fixed {
                return Err(channel_error(
                    &ch.name,
                    "is organic and has no unit cost (money per unit of its volume: per reply, per share): give `unit_costs`, or lock it",
                ));
            }
            warnings.push(format!(
                "channel `{}`: organic without a unit cost, held at {} per period and not counted in the budget",
                ch.name,
                show(ch.lo)
            ));
        }
    }
    // Terms.
    let mut terms = Vec::new();
    for (k, r) in responses.iter().enumerate() {
        for c in &r.channels {
            let channel = names.iter().position(|nm| *nm == c.name).expect("every channel was gathered");
            let lag = c.max_lag.max(1);
            let tail = lag - 1;
            let mut history = vec![0.0; tail];
            let tn = c.levels.len();
            for l in 0..tail.min(tn) {
                history[tail - 1 - l] = c.levels[tn - 1 - l] / c.scale;
            }
            let weights: Vec<Vec<f64>> = c.draws.iter().map(|cd| adstock_weights(cd.alpha, lag)).collect();
            terms.push(Term { kpi: k, channel, curve: c.clone(), weights, history, base_tail: vec![0.0; n] });
        }
    }
    let mut p = Problem {
        h,
        kpis,
        unit_values,
        channels,
        terms,
        n,
        intervals: responses.iter().all(|r| r.intervals),
        count_tail: o.count_tail,
        level: o.level,
    };
    // The tail without a plan, per draw and term.
    let zero = vec![0.0; p.channels.len() * h];
    for t in p.terms.iter_mut() {
        t.base_tail = (0..n).map(|d| t.run(d, h, &zero, None, None).1).collect();
    }
    Ok((p, warnings))
}

impl Problem {
    /// The least and the most the bounds let a plan spend over the horizon (fixed channels included).
    fn budget_range(&self) -> (f64, f64) {
        let h = self.h as f64;
        let (mut least, mut most) = (0.0, 0.0);
        for ch in &self.channels {
            let k = ch.cost.unwrap_or(0.0);
            least += k * ch.lo * h;
            most += k * ch.hi * h;
        }
        (least, most)
    }

    fn current_levels(&self) -> Vec<f64> {
        let h = self.h;
        let mut lv = vec![0.0; self.channels.len() * h];
        for (c, ch) in self.channels.iter().enumerate() {
            let v = ch.current;
            lv[c * h..(c + 1) * h].iter_mut().for_each(|x| *x = v);
        }
        lv
    }

    fn vars(&self, flighting: Flighting, budget: f64) -> Result<Vars> {
        let h = self.h;
        let mut base = vec![0.0; self.channels.len() * h];
        let mut fixed_spend = 0.0;
        let (mut of, mut cost, mut lo, mut hi) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (c, ch) in self.channels.iter().enumerate() {
            if ch.fixed {
                base[c * h..(c + 1) * h].iter_mut().for_each(|v| *v = ch.lo);
                fixed_spend += ch.cost.unwrap_or(0.0) * ch.lo * h as f64;
                continue;
            }
            let k = ch.cost.expect("a free channel has a cost");
            match flighting {
                Flighting::Free => {
                    for t in 0..h {
                        of.push((c, Some(t)));
                        cost.push(k);
                        lo.push(ch.lo);
                        hi.push(ch.hi);
                    }
                }
                Flighting::Even => {
                    of.push((c, None));
                    cost.push(k * h as f64);
                    lo.push(ch.lo);
                    hi.push(ch.hi);
                }
            }
        }
        let money = budget - fixed_spend;
        let tol = 1e-9 * budget.abs().max(1.0);
        if money < -tol {
            return Err(Error::Budget {
                budget: show(budget),
                reason: format!(
                    "below the {} the locked and fixed channels spend over the horizon (short by {})",
                    show(fixed_spend),
                    show(-money)
                ),
            });
        }
        let least: f64 = (0..of.len()).map(|i| cost[i] * lo[i]).sum();
        let most: f64 = (0..of.len()).map(|i| cost[i] * hi[i]).sum();
        if least > money + tol {
            return Err(Error::Budget {
                budget: show(budget),
                reason: format!(
                    "the bounds' minimums need {} after the fixed channels' {}: {} more than the budget",
                    show(least),
                    show(fixed_spend),
                    show(least - money)
                ),
            });
        }
        if most < money - tol {
            return Err(Error::Budget {
                budget: show(budget),
                reason: format!(
                    "the bounds' maximums hold at most {} after the fixed channels' {}: {} of the budget cannot be placed",
                    show(most + fixed_spend),
                    show(fixed_spend),
                    show(money - most)
                ),
            });
        }
        Ok(Vars { of, cost, lo, hi, base, money: money.max(0.0) })
    }

    /// The plan's summary of one set of draws at `levels`.
    fn outcome(&self, outs: &[DrawOut]) -> (Vec<OutcomeRow>, Vec<f64>) {
        let (level, iv) = (self.level, self.intervals);
        let tw = if self.count_tail { 1.0 } else { 0.0 };
        let mut rows = Vec::new();
        let mut total = vec![0.0; outs.len()];
        for (k, name) in self.kpis.iter().enumerate() {
            let hz: Vec<f64> = outs.iter().map(|o| o.horizon[k]).collect();
            let tl: Vec<f64> = outs.iter().map(|o| o.tail[k]).collect();
            let val: Vec<f64> =
                outs.iter().map(|o| self.unit_values[k] * (o.horizon[k] + tw * o.tail[k])).collect();
            total.iter_mut().zip(&val).for_each(|(a, b)| *a += b);
            rows.push(OutcomeRow {
                kpi: name.clone(),
                horizon: estimate(hz, level, iv),
                tail: estimate(tl, level, iv),
                value: estimate(val, level, iv),
            });
        }
        let hz: Vec<f64> = outs
            .iter()
            .map(|o| (0..self.kpis.len()).map(|k| self.unit_values[k] * o.horizon[k]).sum())
            .collect();
        let tl: Vec<f64> = outs
            .iter()
            .map(|o| (0..self.kpis.len()).map(|k| self.unit_values[k] * o.tail[k]).sum())
            .collect();
        rows.push(OutcomeRow {
            kpi: "value".into(),
            horizon: estimate(hz, level, iv),
            tail: estimate(tl, level, iv),
            value: estimate(total.clone(), level, iv),
        });
        (rows, total)
    }

    fn compare_levels(&self, a: &[f64], b: &[f64]) -> PlanComparison {
        let oa = self.all(a);
        let ob = self.all(b);
        let diff: Vec<DrawOut> = oa
            .iter()
            .zip(&ob)
            .map(|(x, y)| DrawOut {
                horizon: x.horizon.iter().zip(&y.horizon).map(|(p, q)| p - q).collect(),
                tail: x.tail.iter().zip(&y.tail).map(|(p, q)| p - q).collect(),
            })
            .collect();
        let (outcome, total) = self.outcome(&diff);
        let better = total.iter().filter(|v| **v > 0.0).count() as f64 / total.len().max(1) as f64;
        PlanComparison { outcome, spend: self.spend(a) - self.spend(b), probability_better: better }
    }
}

// ---------------------------------------------------------------------------------------------
// The plan.

/// Plans the channels of `responses` (one per KPI) over `options.periods` periods: see the module
/// documentation for the formulas. Errors name the option, channel, KPI or budget at fault.
pub fn plan(
    responses: &[Response],
    goals: &GoalBook,
    options: &PlanOptions,
    control: &dyn Control,
) -> Result<Plan> {
    let (problem, mut warnings) = build(responses, goals, options)?;
    let p = Arc::new(problem);
    let h = p.h;
    let nk = p.kpis.len();
    let tw = if p.count_tail { 1.0 } else { 0.0 };
    let current = p.current_levels();
    let current_spend = p.spend(&current);
    let all: Vec<usize> = (0..p.n).collect();
    let value_weigh =
        Weigh { horizon: p.unit_values.clone(), tail: p.unit_values.iter().map(|u| u * tw).collect() };
    let tol = 1e-10;
    let max_iter = 20_000;

    // What the plan maximises, and at which budget.
    let target = match options.target.len() {
        0 => None,
        1 => {
            let (kpi, &t) = options.target.iter().next().expect("one");
            let Some(k) = p.kpis.iter().position(|n| n == kpi) else {
                return Err(option(
                    "target",
                    format!("{kpi:?}"),
                    format!("a target for a KPI without a fit ({})", p.kpis.join(", ")),
                ));
            };
            if !(t.is_finite() && t > 0.0) {
                return Err(option("target", format!("{kpi} = {t}"), "a target must be finite and > 0"));
            }
            if let Risk::Quantile(q) = options.risk {
                return Err(option(
                        "risk",
                        q,
                        "a target plans for the `1 - probability` quantile of its KPI already: give `probability`, not `risk`",
                    ));
            }
            if options.budget.is_some() {
                return Err(option(
                    "budget",
                    options.budget.unwrap_or_default(),
                    "a target asks the least budget that reaches it: give a budget or a target, not both",
                ));
            }
            Some((k, t))
        }
        m => {
            return Err(option(
                "target",
                m,
                "one KPI's target at a time (the least budget for each, then the largest, reaches them all)",
            ))
        }
    };
    let hd = |q: f64| harrell_davis(p.n, q, QUANTILE_SAMPLE);
    let objective = match (target, options.risk) {
        (Some((k, _)), _) => {
            let mut horizon = vec![0.0; nk];
            horizon[k] = 1.0;
            Objective {
                weigh: Weigh { horizon, tail: vec![0.0; nk] },
                draws: all.clone(),
                quantile: Some(hd(1.0 - options.probability)),
                parallel: true,
            }
        }
        (None, Risk::Mean) => {
            Objective { weigh: value_weigh.clone(), draws: all.clone(), quantile: None, parallel: true }
        }
        (None, Risk::Quantile(q)) => Objective {
            weigh: value_weigh.clone(),
            draws: all.clone(),
            quantile: Some(hd(q)),
            parallel: true,
        },
    };
    let start_of = |vars: &Vars| -> Vec<f64> {
        vars.of
            .iter()
            .map(|&(c, _)| {
                let ch = &p.channels[c];
                ch.current.clamp(ch.lo, ch.hi)
            })
            .collect()
    };
    let solve = |budget: f64, start: Option<&[f64]>| -> Result<(Vars, Solved)> {
        let vars = p.vars(options.flighting, budget)?;
        let s0 = match start {
            Some(s) => s.to_vec(),
            None => start_of(&vars),
        };
        // A start with no spend has no direction to the others: spread the money evenly.
        let spend0: f64 = s0.iter().zip(&vars.cost).map(|(x, k)| x * k).sum();
        let s0: Vec<f64> = if spend0 > 0.0 {
            // The run rate scaled to the budget (then projected onto the bounds).
            s0.iter().map(|x| x * vars.money / spend0).collect()
        } else {
            let m = vars.of.len().max(1) as f64;
            vars.cost.iter().map(|k| vars.money / m / k).collect()
        };
        let f = |x: &[f64]| -> (f64, Vec<f64>) {
            let lv = vars.levels(x, h);
            let (v, g) = objective.eval(&p, &lv);
            (v, vars.fold(&g, h))
        };
        let solved = maximise(&f, &vars, &s0, tol, max_iter);
        Ok((vars, solved))
    };

    let (budget, vars, solved, probability) = match target {
        None => {
            let budget = options.budget.unwrap_or(current_spend);
            if !(budget.is_finite() && budget >= 0.0) {
                return Err(Error::Budget {
                    budget: budget.to_string(),
                    reason: "must be finite and >= 0".into(),
                });
            }
            let (vars, solved) = solve(budget, None)?;
            (budget, vars, solved, None)
        }
        Some((k, t)) => {
            let reach = |lv: &[f64]| -> f64 {
                let outs = p.all(lv);
                outs.iter().filter(|o| o.horizon[k] >= t).count() as f64 / outs.len() as f64
            };
            // The least budget the bounds allow, and the most (or, unbounded, doubling from the
            // run rate's until the target is reached or stops moving).
            let (least, most) = p.budget_range();
            // At each budget: the plan with the largest smoothed `1 - p` quantile of the target KPI,
            // and the share of draws in which it reaches the target.
            let at = |budget: f64, start: Option<&[f64]>| -> Result<(f64, f64, Vars, Solved)> {
                let (vars, s) = solve(budget, start)?;
                let lv = vars.levels(&s.x, h);
                let (q, _) = objective.eval(&p, &lv);
                Ok((q, reach(&lv), vars, s))
            };
            let ok = |r: &(f64, f64, Vars, Solved)| r.1 >= options.probability;
            let mut lo_b = least;
            let mut hi_b;
            let mut best = at(lo_b, None)?;
            if ok(&best) {
                hi_b = lo_b;
            } else {
                hi_b = if most.is_finite() { most } else { (current_spend.max(least) * 2.0).max(1.0) };
                let mut prev = f64::NEG_INFINITY;
                loop {
                    control.checkpoint()?;
                    best = at(hi_b, None)?;
                    if ok(&best) {
                        break;
                    }
                    let stuck = best.0 <= prev + 1e-6 * prev.abs()
                        || !most.is_finite() && hi_b > 1e6 * current_spend.max(1.0);
                    if most.is_finite() || stuck {
                        return Err(Error::Goal {
                            kpi: p.kpis[k].clone(),
                            reason: format!(
                                "no plan within the bounds reaches {} with probability {}: the best reachable is {} at that probability (spending {}), and the target is reached in {:.1}% of the draws",
                                show(t),
                                options.probability,
                                show(best.0),
                                show(hi_b),
                                100.0 * best.1
                            ),
                        });
                    }
                    prev = best.0;
                    lo_b = hi_b;
                    hi_b *= 2.0;
                }
                // Bisection on the budget, to a relative 1e-4: the share reached grows with it.
                while hi_b - lo_b > 1e-4 * hi_b.max(1.0) {
                    control.checkpoint()?;
                    let mid = 0.5 * (lo_b + hi_b);
                    let scaled: Vec<f64> = best.3.x.iter().map(|x| x * mid / hi_b).collect();
                    let r = at(mid, Some(&scaled))?;
                    if ok(&r) {
                        hi_b = mid;
                        best = r;
                    } else {
                        lo_b = mid;
                    }
                }
            }
            let (_, reached, vars, solved) = best;
            (hi_b, vars, solved, Some(reached))
        }
    };
    let levels = vars.levels(&solved.x, h);

    // Marginal values and the KKT check.
    let (_, g_levels) = objective.eval(&p, &levels);
    let g = vars.fold(&g_levels, h);
    let mut marginal = Vec::new();
    let mut interior = Vec::new();
    for (i, &(c, t)) in vars.of.iter().enumerate() {
        let m = g[i] / vars.cost[i];
        let x = solved.x[i];
        // In budget shares, where the solver's tolerances live.
        let share = |v: f64| v * vars.cost[i] / vars.money.max(1e-300);
        let status = if share(x - vars.lo[i]) <= 1e-9 {
            "at_min"
        } else if vars.hi[i].is_finite() && share(vars.hi[i] - x) <= 1e-9 {
            "at_max"
        } else {
            interior.push(m);
            "interior"
        };
        marginal.push((c, t.map_or(0, |t| t + 1), x, m, status));
    }
    let kkt_tol = 1e-4;
    let bounded =
        |st: &str| -> Vec<f64> { marginal.iter().filter(|r| r.4 == st).map(|r| r.3).collect::<Vec<f64>>() };
    let (lows, highs) = (bounded("at_min"), bounded("at_max"));
    let top_low = lows.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let low_high = highs.iter().copied().fold(f64::INFINITY, f64::min);
    let multiplier = if interior.is_empty() {
        // No decision inside its bounds: any value between the largest marginal at a minimum and
        // the smallest at a maximum is a multiplier; the conditions need that interval not empty.
        match (top_low.is_finite(), low_high.is_finite()) {
            (true, true) => 0.5 * (top_low + low_high),
            (true, false) => top_low,
            (false, true) => low_high,
            (false, false) => f64::NAN,
        }
    } else {
        let mut s = interior.clone();
        s.sort_by(f64::total_cmp);
        s[s.len() / 2]
    };
    let scale = multiplier.abs().max(1e-300);
    let interior_gap = interior.iter().map(|m| (m - multiplier).abs() / scale).fold(0.0, f64::max);
    let violations = if multiplier.is_nan() {
        0
    } else if interior.is_empty() {
        let tol = kkt_tol * top_low.abs().max(1e-300);
        lows.iter().filter(|m| **m > low_high + tol).count()
    } else {
        lows.iter().filter(|m| **m > multiplier + kkt_tol * scale).count()
            + highs.iter().filter(|m| **m < multiplier - kkt_tol * scale).count()
    };
    let mut marginal_rows: Vec<MarginalRow> = marginal
        .iter()
        .map(|&(c, period, x, m, st)| MarginalRow {
            channel: p.channels[c].name.clone(),
            period,
            volume: x,
            marginal: m,
            status: st.to_string(),
        })
        .collect();
    for (c, ch) in p.channels.iter().enumerate() {
        if ch.fixed {
            marginal_rows.push(MarginalRow {
                channel: ch.name.clone(),
                period: 0,
                volume: ch.lo,
                marginal: ch
                    .cost
                    .map_or(f64::NAN, |k| g_levels[c * h..(c + 1) * h].iter().sum::<f64>() / (k * h as f64)),
                status: "fixed".into(),
            });
        }
    }
    let kkt = Kkt {
        multiplier,
        interior_gap,
        violations,
        tolerance: kkt_tol,
        holds: interior_gap <= kkt_tol && violations == 0,
        iterations: solved.iterations,
        converged: solved.converged,
    };
    if !kkt.holds {
        warnings.push(format!(
            "the optimality check does not hold within {kkt_tol}: interior gap {:.2e}, {} decision(s) at a bound that should move ({} solver iterations{})",
            interior_gap,
            violations,
            solved.iterations,
            if solved.converged { "" } else { ", not converged" }
        ));
    }

    // Outcome, contributions, against the run rate.
    let outs = p.all(&levels);
    let (outcome, _) = p.outcome(&outs);
    let mut contributions = Vec::new();
    for term in &p.terms {
        let runs: Vec<(f64, f64)> =
            (0..p.n).into_par_iter().map(|d| term.run(d, h, &levels, None, None)).collect();
        contributions.push(ContributionRow {
            kpi: p.kpis[term.kpi].clone(),
            channel: p.channels[term.channel].name.clone(),
            horizon: estimate(runs.iter().map(|r| r.0).collect(), p.level, p.intervals),
            tail: estimate(runs.iter().map(|r| r.1).collect(), p.level, p.intervals),
        });
    }
    let against_current = p.compare_levels(&levels, &current);

    // Allocation rows and the levels beyond those observed.
    let mut allocation = Vec::with_capacity(p.channels.len() * h);
    for (c, ch) in p.channels.iter().enumerate() {
        let mut above = 0;
        let mut worst: f64 = 0.0;
        for t in 0..h {
            let v = levels[c * h + t];
            let f = if ch.observed > 0.0 {
                v / ch.observed
            } else if v > 0.0 {
                f64::INFINITY
            } else {
                0.0
            };
            let beyond = (f > 1.0 + 1e-9).then_some(f);
            if beyond.is_some() {
                above += 1;
                worst = worst.max(f);
            }
            allocation.push(AllocationRow {
                channel: ch.name.clone(),
                kind: ch.kind.as_str().to_string(),
                period: t + 1,
                volume: v,
                spend: ch.cost.map(|k| k * v),
                current: ch.current,
                current_spend: ch.cost.map(|k| k * ch.current),
                beyond_observed: beyond,
            });
        }
        if above > 0 {
            warnings.push(format!(
                "channel `{}`: {above} of {h} planned period(s) above the largest level the fits saw ({}), up to {:.2}x: the response there is extrapolated beyond the data; bound it with `bounds` to stay within",
                ch.name,
                show(ch.observed),
                worst
            ));
        }
    }
    if !p.intervals {
        warnings.push(
            "a MAP fit: one point, no intervals and no decision spread; fit with method=\"nuts\"".into(),
        );
    }

    // How sure: the same problem on each draw alone, from the plan's solution.
    let chosen: Vec<usize> = match options.decision_draws {
        Some(0) => Vec::new(),
        _ if !p.intervals => Vec::new(),
        Some(m) if m < p.n => {
            let mut idx: Vec<usize> = (0..p.n).collect();
            let mut rng = SplitMix64::new(options.seed);
            for i in (1..idx.len()).rev() {
                let j = (rng.next_u64() % (i as u64 + 1)) as usize;
                idx.swap(i, j);
            }
            let mut s = idx[..m].to_vec();
            s.sort_unstable();
            s
        }
        _ => all.clone(),
    };
    let mut decision = Vec::new();
    if !chosen.is_empty() {
        let per_draw_weigh = objective.weigh.clone();
        let done = std::sync::atomic::AtomicU64::new(0);
        let total = chosen.len() as u64;
        let interrupted = std::sync::atomic::AtomicBool::new(false);
        let optima: Vec<Option<Vec<f64>>> = chosen
            .par_iter()
            .map(|&d| {
                if interrupted.load(std::sync::atomic::Ordering::Relaxed) {
                    return None;
                }
                let obj = Objective {
                    weigh: per_draw_weigh.clone(),
                    draws: vec![d],
                    quantile: None,
                    parallel: false,
                };
                let f = |x: &[f64]| -> (f64, Vec<f64>) {
                    let lv = vars.levels(x, h);
                    let (v, g) = obj.eval(&p, &lv);
                    (v, vars.fold(&g, h))
                };
                let s = maximise(&f, &vars, &solved.x, 1e-8, 5_000);
                let k = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                if k % 64 == 0 || k == total {
                    control.progress("plan: each draw", k, total);
                    if control.checkpoint().is_err() {
                        interrupted.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                }
                Some(vars.levels(&s.x, h))
            })
            .collect();
        if interrupted.load(std::sync::atomic::Ordering::Relaxed) || optima.iter().any(Option::is_none) {
            return Err(Error::Interrupted);
        }
        let optima: Vec<Vec<f64>> = optima.into_iter().map(|o| o.expect("checked")).collect();
        for (c, ch) in p.channels.iter().enumerate() {
            let k = ch.cost.unwrap_or(1.0);
            let sum = |lv: &[f64]| -> f64 { k * lv[c * h..(c + 1) * h].iter().sum::<f64>() };
            let cur = sum(&current);
            let spends: Vec<f64> = optima.iter().map(|lv| sum(lv)).collect();
            let grow = spends.iter().filter(|s| **s > cur * (1.0 + 1e-9) + 1e-12).count() as f64
                / spends.len() as f64;
            decision.push(DecisionRow {
                channel: ch.name.clone(),
                planned: sum(&levels),
                current: cur,
                optimal: estimate(spends, p.level, true),
                probability_grow: grow,
            });
        }
    }
    Ok(Plan {
        allocation,
        outcome,
        contributions,
        against_current,
        marginal: marginal_rows,
        kkt,
        decision,
        decision_draws: chosen.len(),
        budget,
        probability,
        periods: h,
        level: p.level,
        warnings,
        problem: Some(p),
    })
}

/// [`plan`] for media-mix fits keyed by KPI.
pub fn plan_fits(
    fits: &BTreeMap<String, &Fit>,
    goals: &GoalBook,
    options: &PlanOptions,
    control: &dyn Control,
) -> Result<Plan> {
    let responses: Vec<Response> = fits.iter().map(|(k, f)| Response::from_fit(k, f)).collect();
    plan(&responses, goals, options, control)
}

impl Plan {
    /// This plan against `against`: each channel's level per period (every channel of the plan, the
    /// plan's number of periods), compared draw by draw.
    pub fn compare(&self, against: &BTreeMap<String, Vec<f64>>) -> Result<PlanComparison> {
        let p = self.problem.as_ref().ok_or_else(|| {
            option("plan", "(read back)", "a plan read back from JSON cannot be compared: plan again")
        })?;
        let lv = self.levels_of(p, against)?;
        Ok(p.compare_levels(&self.levels(p), &lv))
    }

    /// The run rate's levels, per channel and period.
    pub fn current(&self) -> BTreeMap<String, Vec<f64>> {
        let mut out: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for r in &self.allocation {
            out.entry(r.channel.clone()).or_default().push(r.current);
        }
        out
    }

    /// The planned levels, per channel and period.
    pub fn levels_by_channel(&self) -> BTreeMap<String, Vec<f64>> {
        let mut out: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for r in &self.allocation {
            out.entry(r.channel.clone()).or_default().push(r.volume);
        }
        out
    }

    /// Each KPI's horizon contribution per draw under the plan (for a picture of its distribution).
    pub fn outcome_draws(&self) -> BTreeMap<String, Vec<f64>> {
        let Some(p) = self.problem.as_ref() else { return BTreeMap::new() };
        let outs = p.all(&self.levels(p));
        p.kpis
            .iter()
            .enumerate()
            .map(|(k, name)| (name.clone(), outs.iter().map(|o| o.horizon[k]).collect()))
            .collect()
    }

    /// Steady-state response curves (a level held for good, and the contribution per period), with
    /// intervals, at `points` levels from 0 to `max_multiple` times the larger of the planned and
    /// the observed largest level.
    pub fn curves(&self, points: usize, max_multiple: f64) -> Result<Vec<CurvePoint>> {
        let p = self
            .problem
            .as_ref()
            .ok_or_else(|| option("plan", "(read back)", "plan again for its curves"))?;
        if !(2..=10_000).contains(&points) {
            return Err(option("points", points, "between 2 and 10000"));
        }
        if !(max_multiple.is_finite() && max_multiple > 0.0) {
            return Err(option("max_multiple", max_multiple, "a finite multiple > 0"));
        }
        let levels = self.levels(p);
        let h = p.h;
        let mut out = Vec::new();
        for term in &p.terms {
            let c = term.channel;
            let top = levels[c * h..(c + 1) * h].iter().copied().fold(p.channels[c].observed, f64::max)
                * max_multiple;
            for i in 0..points {
                let x = top * i as f64 / (points - 1) as f64;
                let v: Vec<f64> = term
                    .curve
                    .draws
                    .iter()
                    .map(|cd| {
                        cd.beta * saturate(term.curve.saturation, x / term.curve.scale, cd.lam, cd.slope).0
                    })
                    .collect();
                out.push(CurvePoint {
                    kpi: p.kpis[term.kpi].clone(),
                    channel: p.channels[c].name.clone(),
                    level: x,
                    response: estimate(v, p.level, p.intervals),
                    observed: p.channels[c].observed,
                });
            }
        }
        Ok(out)
    }

    fn levels(&self, p: &Problem) -> Vec<f64> {
        let h = p.h;
        let mut lv = vec![0.0; p.channels.len() * h];
        for r in &self.allocation {
            let c = p.channels.iter().position(|ch| ch.name == r.channel).expect("the plan's own channels");
            lv[c * h + r.period - 1] = r.volume;
        }
        lv
    }

    fn levels_of(&self, p: &Problem, plan: &BTreeMap<String, Vec<f64>>) -> Result<Vec<f64>> {
        let h = p.h;
        let names: Vec<&str> = p.channels.iter().map(|c| c.name.as_str()).collect();
        if let Some(k) = plan.keys().find(|k| !names.contains(&k.as_str())) {
            return Err(option(
                "against",
                format!("{k:?}"),
                format!("not a channel of the plan ({})", names.join(", ")),
            ));
        }
        let mut lv = vec![0.0; names.len() * h];
        for (c, name) in names.iter().enumerate() {
            let Some(x) = plan.get(*name) else {
                return Err(channel_error(
                    name,
                    "missing from the plan compared against: give its level in every period",
                ));
            };
            if x.len() != h {
                return Err(channel_error(
                    name,
                    format!("{} periods in the plan compared against, where the plan has {h}", x.len()),
                ));
            }
            for (t, &v) in x.iter().enumerate() {
                if !(v.is_finite() && v >= 0.0) {
                    return Err(Error::Value {
                        column: name.to_string(),
                        row: t,
                        value: v.to_string(),
                        reason: "a level must be finite and >= 0".into(),
                    });
                }
                lv[c * h + t] = v;
            }
        }
        Ok(lv)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projection_lands_on_the_set_and_is_nearest() {
        let y = [0.9, 0.2, -0.3, 0.5];
        let lo = [0.0, 0.1, 0.0, 0.0];
        let hi = [0.6, 1.0, 1.0, f64::INFINITY];
        let z = project(&y, &lo, &hi, 1.0);
        assert!((z.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        for i in 0..4 {
            assert!(z[i] >= lo[i] - 1e-15 && z[i] <= hi[i] + 1e-15);
        }
        // By hand: tau with clip(0.9-tau)=0.6 capped, 0.2-tau, 0 (y=-0.3), 0.5-tau summing to 1:
        // 0.6 + (0.2 - tau) + (0.5 - tau) = 1 -> tau = 0.15.
        let want = [0.6, 0.05_f64.max(0.1), 0.0, 0.35];
        // 0.2 - 0.15 = 0.05 is below its min 0.1: then 0.6 + 0.1 + (0.5 - tau) = 1, tau = 0.2.
        let want = [want[0], 0.1, 0.0, 0.3];
        for i in 0..4 {
            assert!((z[i] - want[i]).abs() < 1e-12, "{z:?}");
        }
    }

    #[test]
    fn projection_agrees_with_a_slow_bisection_on_random_cases() {
        let mut rng = SplitMix64::new(5);
        let mut u = || (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        for case in 0..500 {
            let n = 1 + (u() * 12.0) as usize;
            let y: Vec<f64> = (0..n).map(|_| 4.0 * u() - 2.0).collect();
            let lo: Vec<f64> = (0..n).map(|_| if u() < 0.5 { 0.0 } else { u() * 0.3 }).collect();
            let hi: Vec<f64> =
                (0..n).map(|i| if u() < 0.3 { f64::INFINITY } else { lo[i] + u() * 1.5 }).collect();
            let (least, most): (f64, f64) = (lo.iter().sum(), hi.iter().sum());
            let total = if most.is_finite() { least + u() * (most - least) } else { least + 3.0 * u() };
            let z = project(&y, &lo, &hi, total);
            // The reference: bisection on tau to the last bit.
            let sum = |tau: f64| -> f64 { (0..n).map(|i| (y[i] - tau).clamp(lo[i], hi[i])).sum() };
            let (mut a, mut b) = (-1e6, 1e6);
            for _ in 0..2000 {
                let m = 0.5 * (a + b);
                if sum(m) >= total {
                    a = m;
                } else {
                    b = m;
                }
            }
            for i in 0..n {
                let want = (y[i] - 0.5 * (a + b)).clamp(lo[i], hi[i]);
                assert!((z[i] - want).abs() < 1e-9, "case {case}: {z:?} vs tau {a}");
            }
            assert!((z.iter().sum::<f64>() - total).abs() < 1e-9);
        }
    }

    #[test]
    fn harrell_davis_weights_sum_to_one_and_centre_on_the_quantile() {
        let w = harrell_davis(101, 0.2, 1000);
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        let centre: f64 = w.iter().enumerate().map(|(i, v)| (i + 1) as f64 * v).sum();
        assert!((centre - 0.2 * 102.0).abs() < 0.5, "{centre}");
    }
}
