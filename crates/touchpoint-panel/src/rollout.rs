//! Staggered rollouts: group-time average effects on the treated, ATT(g, t), and their
//! aggregations (Callaway & Sant'Anna 2021, "Difference-in-differences with multiple time
//! periods", J. Econometrics 225(2)), with standard errors from influence functions and
//! simultaneous bands from a multiplier bootstrap (their section 4 and Remark 10 for clusters).
//!
//! For cohort g (units first treated in period g) and period t, the cell compares the change of
//! the outcome from a base period to t between cohort g and the comparison units: never-treated
//! units, or also units not yet treated by t (`Comparison::NotYetTreated`). The base period is
//! g - 1 for t >= g, and t - 1 before g (the "varying" base of the R package `did`), so pre-period
//! cells are a test of parallel trends, period by period.
//!
//! Aggregations (section 3 of the paper; the `did` package's `aggte`): `simple` (post-treatment
//! cells weighted by cohort size), `event` (by periods since treatment; overall, the mean of the
//! non-negative event times), `group` (by cohort; overall weighted by cohort size) and `calendar`
//! (by period; overall the mean over periods). Each aggregate's influence function includes the
//! estimation of the cohort-size weights.
//!
//! Standard errors are analytic: the norm of the influence function over units (or its sums over
//! clusters) divided by the number of units. Bands are simultaneous over a family (all cells of a
//! level, all event times, all cohorts, all periods): the critical value is the `level` quantile of
//! the multiplier bootstrap's largest studentised deviation, with Gaussian multipliers, drawn
//! through the influence functions' Gram matrix (see `sup_t_critical`).
use rayon::prelude::*;
use statrs::distribution::{ContinuousCDF, Normal};
use touchpoint_core::Control;
use touchpoint_util::rng::SplitMix64;

use crate::error::{Error, Result};
use crate::panel::Panel;
use crate::twobytwo::{self, CellFailure, Estimand};

/// The most group-time cells one treatment level may have: the bands' covariance is cells x cells.
pub const MAX_CELLS: usize = 4_000;

/// Which units a treated cohort is compared with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    /// Units never treated within the panel.
    NeverTreated,
    /// Never-treated units and units not yet treated by the cell's period.
    NotYetTreated,
}

/// What the effect of a treatment level is, when the treatment has several (belts). Named
/// `reached` and `step` in options (a wrong name is an error that names the option).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Levels {
    /// The effect of reaching level k, against units that have not (yet) reached it, whatever
    /// lower level they hold. A level's cohort is the first period at level k or above.
    Reached,
    /// The effect of stepping up from level k - 1 to level k: among the units that reached level
    /// k - 1 in the same period (a stratum), those that then reach level k against those of the
    /// stratum that stay at k - 1 (never, or not yet), over the periods after the stratum reached
    /// k - 1. The first level is the same as `Reached`.
    Step,
}

impl TryFrom<String> for Levels {
    type Error = Error;

    fn try_from(s: String) -> Result<Levels> {
        s.parse()
    }
}

impl From<Levels> for String {
    fn from(l: Levels) -> String {
        match l {
            Levels::Reached => "reached",
            Levels::Step => "step",
        }
        .to_string()
    }
}

impl std::str::FromStr for Levels {
    type Err = Error;

    /// The names the options use: `reached` or `step`.
    fn from_str(s: &str) -> Result<Levels> {
        match s {
            "reached" => Ok(Levels::Reached),
            "step" => Ok(Levels::Step),
            other => Err(Error::InvalidOption {
                option: "levels",
                value: other.to_string(),
                reason: "reached or step".into(),
            }),
        }
    }
}

/// Options of [`rollout_effect`].
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RolloutOptions {
    /// Comparison units.
    pub comparison: Comparison,
    /// Doubly robust (default) or outcome regression; without covariates both are the difference
    /// of mean changes.
    pub estimand: Estimand,
    /// Confidence level of intervals and bands, in (0, 1).
    pub level: f64,
    /// Multiplier-bootstrap draws for the simultaneous bands (0: pointwise intervals only).
    pub bootstrap: usize,
    /// Seed of the bootstrap.
    pub seed: u64,
    /// A cohort with fewer units than this gets a warning.
    pub min_cohort_units: usize,
    /// With several treatment levels: the effect of reaching each, or of stepping up to it.
    pub levels: Levels,
}

impl Default for RolloutOptions {
    fn default() -> Self {
        RolloutOptions {
            comparison: Comparison::NeverTreated,
            estimand: Estimand::DoublyRobust,
            level: 0.95,
            bootstrap: 999,
            seed: 0,
            min_cohort_units: 10,
            levels: Levels::Reached,
        }
    }
}

impl RolloutOptions {
    /// Checks every option.
    pub fn validate(&self) -> Result<()> {
        if !(self.level > 0.0 && self.level < 1.0) {
            return Err(Error::InvalidOption {
                option: "level",
                value: self.level.to_string(),
                reason: "a confidence level strictly between 0 and 1".into(),
            });
        }
        if self.bootstrap != 0 && self.bootstrap < 99 {
            return Err(Error::InvalidOption {
                option: "bootstrap",
                value: self.bootstrap.to_string(),
                reason: "0 (no bands) or at least 99 draws".into(),
            });
        }
        if self.bootstrap > 1_000_000 {
            return Err(Error::InvalidOption {
                option: "bootstrap",
                value: self.bootstrap.to_string(),
                reason: "at most 1,000,000 draws".into(),
            });
        }
        Ok(())
    }
}

/// One group-time effect.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GroupTimeRow {
    /// Treatment level (1 for a single treatment).
    pub level: i64,
    /// The cohort's first treated period.
    pub cohort: i64,
    /// With `Levels::Step`: the period the cohort's units reached the level below (their
    /// stratum); `None` otherwise.
    #[serde(default)]
    pub previous_cohort: Option<i64>,
    /// The period.
    pub time: i64,
    /// Periods since treatment (negative before it).
    pub event_time: i64,
    /// The base period the change is measured from.
    pub base: i64,
    /// The estimate.
    pub effect: f64,
    /// Its standard error.
    pub se: f64,
    /// Simultaneous band over the level's cells (pointwise when the bootstrap is off).
    pub lower: f64,
    /// Upper end of the band.
    pub upper: f64,
    /// Units of the cohort.
    pub treated_units: u64,
    /// Comparison units of the cell.
    pub comparison_units: u64,
}

/// One aggregate: an event time, a cohort, a period, or an overall effect.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AggregateRow {
    /// Treatment level.
    pub level: i64,
    /// `simple`, `event`, `group` or `calendar`.
    pub aggregation: String,
    /// The event time, cohort or period the row is about (`None` for the overall effect).
    pub at: Option<i64>,
    /// The estimate.
    pub effect: f64,
    /// Its standard error.
    pub se: f64,
    /// Lower end: the family's simultaneous band for per-event/cohort/period rows, pointwise for
    /// overall rows.
    pub lower: f64,
    /// Upper end.
    pub upper: f64,
    /// Pointwise lower end.
    pub pointwise_lower: f64,
    /// Pointwise upper end.
    pub pointwise_upper: f64,
    /// Two-sided p-value of a zero effect (normal approximation, pointwise).
    pub p_value: f64,
}

/// The result of [`rollout_effect`].
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct RolloutEffect {
    /// Every estimated cell.
    pub group_time: Vec<GroupTimeRow>,
    /// Per level: overall effects (`simple`, `event`, `group`, `calendar`, `at` = None) and per
    /// event time, cohort and period.
    pub aggregates: Vec<AggregateRow>,
    /// Units per cohort: (level, cohort, units); cohort `None` = never treated at that level. With
    /// `Levels::Step`, a level's cohorts count the units in its step analysis, summed over strata.
    pub cohort_sizes: Vec<(i64, Option<i64>, u64)>,
    /// What the reader should know: weak design, omitted cells, data decisions.
    pub warnings: Vec<String>,
    /// Units, periods and clusters of the panel.
    pub units: u64,
    /// Periods of the panel.
    pub periods: u64,
    /// Clusters (units when not clustered).
    pub clusters: u64,
    /// The options used.
    pub options: RolloutOptions,
}

/// A linear combination of the cells' influence functions plus cohort-share terms: every
/// aggregate's influence function has this form.
#[derive(Clone, Debug)]
struct Lin {
    cells: Vec<(usize, f64)>,
    cohorts: Vec<f64>,
}

/// The influence matrix of one level, by column (`rows` values each, one per cluster): first
/// one column per planned cell (the cell's influence function summed over each cluster's units;
/// zero for a cell that could not be estimated), then one per cohort (`sum over the cluster's
/// units of 1{G = g} - p_g`).
struct Influence {
    rows: usize,
    cols: usize,
    cells: usize,
    /// Column-major values (empty when the Gram was computed from group moments instead).
    s: Vec<f64>,
    n: f64,
    /// `S'S`, when known without `s` (the grouped path).
    known_gram: Option<Vec<f64>>,
}

impl Influence {
    fn col(&self, j: usize) -> &[f64] {
        &self.s[j * self.rows..(j + 1) * self.rows]
    }

    /// The aggregate's influence values per cluster.
    fn values(&self, lin: &Lin) -> Vec<f64> {
        let mut out = vec![0.0; self.rows];
        let mut add = |j: usize, a: f64| {
            if a != 0.0 {
                for (o, v) in out.iter_mut().zip(self.col(j)) {
                    *o += a * v;
                }
            }
        };
        for &(j, a) in &lin.cells {
            add(j, a);
        }
        for (g, &c) in lin.cohorts.iter().enumerate() {
            add(self.cells + g, c);
        }
        out
    }

    /// Analytic standard error: the norm over clusters divided by the number of units (NaN when
    /// it vanishes, as `did` reports it).
    fn se(&self, lin: &Lin) -> f64 {
        let norm2 = match &self.known_gram {
            Some(g) => {
                let w = weights_of(lin, self.cells);
                let mut q = 0.0;
                for &(j, a) in &w {
                    for &(k, b) in &w {
                        q += a * b * g[j * self.cols + k];
                    }
                }
                q.max(0.0)
            }
            None => self.values(lin).iter().map(|v| v * v).sum::<f64>(),
        };
        let se = norm2.sqrt() / self.n;
        if se <= f64::EPSILON.sqrt() * 10.0 {
            f64::NAN
        } else {
            se
        }
    }

    /// The Gram matrix `S'S` of all columns (cols x cols), rows taken in blocks that stay in cache.
    fn gram(&self, control: &dyn Control) -> Result<Vec<f64>> {
        if let Some(g) = &self.known_gram {
            return Ok(g.clone());
        }
        const BLOCK: usize = 512;
        let cols = self.cols;
        let blocks: Vec<usize> = (0..self.rows).step_by(BLOCK).collect();
        let mut total = vec![0.0; cols * cols];
        // Partial sums per block, added in block order: the same result on any number of threads.
        for part in blocks.chunks(16) {
            control.checkpoint()?;
            let partials: Vec<Vec<f64>> = part
                .par_iter()
                .map(|&start| {
                    let end = (start + BLOCK).min(self.rows);
                    let mut g = vec![0.0; cols * cols];
                    for j in 0..cols {
                        let a = &self.col(j)[start..end];
                        if a.iter().all(|v| *v == 0.0) {
                            continue;
                        }
                        for k in j..cols {
                            let b = &self.col(k)[start..end];
                            g[j * cols + k] += dot(a, b);
                        }
                    }
                    g
                })
                .collect();
            for partial in partials {
                for (x, y) in total.iter_mut().zip(partial) {
                    *x += y;
                }
            }
        }
        for j in 0..cols {
            for k in 0..j {
                total[j * cols + k] = total[k * cols + j];
            }
        }
        Ok(total)
    }
}

/// An aggregate's weights over the influence columns (cells, then cohort shares).
fn weights_of(lin: &Lin, cells: usize) -> Vec<(usize, f64)> {
    let mut w: Vec<(usize, f64)> = lin.cells.clone();
    w.extend(lin.cohorts.iter().enumerate().filter(|(_, c)| **c != 0.0).map(|(g, c)| (cells + g, *c)));
    w
}

/// A dot product with eight running sums, so the compiler can use vector instructions.
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0f64; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f64 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f64>() + tail
}

/// Per cohort (index), the coefficients of `1{G = g} - p_g` in the influence of weights
/// `p_g(k) / sum_k p_g(k)` over `keepers` (cohort index, effect): the `wif` term of `did`.
fn weight_influence(keepers: &[(usize, f64)], pg: &[f64]) -> Vec<f64> {
    let s: f64 = keepers.iter().map(|&(g, _)| pg[g]).sum();
    let weighted: f64 = keepers.iter().map(|&(g, att)| att * pg[g]).sum();
    let mut c = vec![0.0; pg.len()];
    for &(g, att) in keepers {
        c[g] += att / s - weighted / (s * s);
    }
    c
}

/// Estimates the rollout's effects on the panel.
pub fn rollout_effect(
    panel: &Panel,
    options: &RolloutOptions,
    control: &dyn Control,
) -> Result<RolloutEffect> {
    estimate(panel, options, control, false)
}

fn estimate(
    panel: &Panel,
    options: &RolloutOptions,
    control: &dyn Control,
    force_dense: bool,
) -> Result<RolloutEffect> {
    options.validate()?;
    let mut warnings = panel.warnings.clone();
    let mut group_time = Vec::new();
    let mut aggregates = Vec::new();
    let mut cohort_sizes = Vec::new();
    if panel.t() < 2 {
        return Err(Error::NoComparison(format!(
            "the panel has {} period: a rollout needs at least two (one before treatment)",
            panel.t()
        )));
    }
    let z = Normal::new(0.0, 1.0).expect("standard normal");
    let pointwise = z.inverse_cdf(0.5 + options.level / 2.0);
    let mut any_cell = false;
    for level in 0..panel.levels() {
        let lv = panel.level_values[level];
        let estimated = level_effects(panel, level, options, control, &mut warnings, force_dense)?;
        let Some(level_result) = estimated else { continue };
        any_cell = true;
        let LevelResult { cells, cohorts, sizes, never, influence, pg } = level_result;
        let stepped = options.levels == Levels::Step && level > 0;
        let mut per_cohort = std::collections::BTreeMap::<usize, usize>::new();
        for (&(st, g), &size) in cohorts.iter().zip(&sizes) {
            *per_cohort.entry(g).or_default() += size;
            if size < options.min_cohort_units {
                warnings.push(if stepped {
                    format!(
                        "level {lv}: cohort {} of the units that reached level {} in {} has {size} unit(s): its effects rest on few units",
                        panel.period(g),
                        panel.level_values[level - 1],
                        panel.period(st)
                    )
                } else {
                    format!(
                        "level {lv}: cohort {} has {size} unit(s): its effects rest on few units",
                        panel.period(g)
                    )
                });
            }
        }
        for (g, size) in per_cohort {
            cohort_sizes.push((lv, Some(panel.periods[g]), size as u64));
        }
        cohort_sizes.push((lv, None, never as u64));

        // Bootstrap draws of every column, when asked.
        let gram = if options.bootstrap > 0 { Some(influence.gram(control)?) } else { None };
        let family_tag = std::cell::Cell::new(0u64);
        let critical = |family: &[(Lin, f64)]| -> f64 {
            family_tag.set(family_tag.get() + 1);
            match &gram {
                Some(g) => {
                    let tag = (level as u64) << 32 | family_tag.get();
                    sup_t_critical(g, &influence, family, options, tag).max(pointwise)
                }
                None => pointwise,
            }
        };

        // Cells.
        let cell_family: Vec<(Lin, f64)> = cells
            .iter()
            .map(|c| (Lin { cells: vec![(c.col, 1.0)], cohorts: vec![0.0; cohorts.len()] }, c.att))
            .collect();
        let cell_se: Vec<f64> = cell_family.iter().map(|(l, _)| influence.se(l)).collect();
        let crit_cells = critical(&cell_family);
        for (j, c) in cells.iter().enumerate() {
            let se = cell_se[j];
            group_time.push(GroupTimeRow {
                level: lv,
                cohort: panel.periods[c.g],
                previous_cohort: stepped.then(|| panel.periods[c.s]),
                time: panel.periods[c.t],
                event_time: c.t as i64 - c.g as i64,
                base: panel.periods[c.base],
                effect: c.att,
                se,
                lower: c.att - crit_cells * se,
                upper: c.att + crit_cells * se,
                treated_units: c.treated as u64,
                comparison_units: c.comparison as u64,
            });
        }

        let cohort_pos =
            |c: &Cell| cohorts.iter().position(|&k| k == (c.s, c.g)).expect("a cohort of the level");
        let post: Vec<usize> = (0..cells.len()).filter(|&j| cells[j].t >= cells[j].g).collect();
        let simple_of = |which: &[usize]| -> (Lin, f64) {
            let s: f64 = which.iter().map(|&j| pg[cohort_pos(&cells[j])]).sum();
            let keepers: Vec<(usize, f64)> =
                which.iter().map(|&j| (cohort_pos(&cells[j]), cells[j].att)).collect();
            let lin = Lin {
                cells: which.iter().map(|&j| (cells[j].col, pg[cohort_pos(&cells[j])] / s)).collect(),
                cohorts: weight_influence(&keepers, &pg),
            };
            let att = which.iter().map(|&j| cells[j].att * pg[cohort_pos(&cells[j])] / s).sum();
            (lin, att)
        };
        let mean_of = |parts: &[(Lin, f64)]| -> (Lin, f64) {
            let k = parts.len() as f64;
            let mut cells_w: Vec<(usize, f64)> = Vec::new();
            let mut coh = vec![0.0; cohorts.len()];
            for (lin, _) in parts {
                cells_w.extend(lin.cells.iter().map(|&(j, a)| (j, a / k)));
                for (c, v) in coh.iter_mut().zip(&lin.cohorts) {
                    *c += v / k;
                }
            }
            (Lin { cells: cells_w, cohorts: coh }, parts.iter().map(|(_, a)| a).sum::<f64>() / k)
        };
        let push = |aggregates: &mut Vec<AggregateRow>,
                    aggregation: &str,
                    family: Vec<(Option<i64>, Lin, f64)>,
                    banded: bool| {
            let fam: Vec<(Lin, f64)> = family.iter().map(|(_, l, a)| (l.clone(), *a)).collect();
            let crit = if banded { critical(&fam) } else { pointwise };
            for (at, lin, att) in family {
                let se = influence.se(&lin);
                let p = if se.is_finite() { 2.0 * (1.0 - z.cdf((att / se).abs())) } else { f64::NAN };
                aggregates.push(AggregateRow {
                    level: lv,
                    aggregation: aggregation.to_string(),
                    at,
                    effect: att,
                    se,
                    lower: att - crit * se,
                    upper: att + crit * se,
                    pointwise_lower: att - pointwise * se,
                    pointwise_upper: att + pointwise * se,
                    p_value: p,
                });
            }
        };
        if post.is_empty() {
            warnings.push(format!("level {lv}: no post-treatment cell could be estimated"));
            continue;
        }

        // simple
        let (lin, att) = simple_of(&post);
        push(&mut aggregates, "simple", vec![(None, lin, att)], false);

        // event: every event time (leads included), overall = mean of e >= 0.
        let mut events: Vec<i64> = cells.iter().map(|c| c.t as i64 - c.g as i64).collect();
        events.sort_unstable();
        events.dedup();
        let per_event: Vec<(Option<i64>, Lin, f64)> = events
            .iter()
            .map(|&e| {
                let which: Vec<usize> =
                    (0..cells.len()).filter(|&j| cells[j].t as i64 - cells[j].g as i64 == e).collect();
                let (lin, att) = simple_of(&which);
                (Some(e), lin, att)
            })
            .collect();
        let nonneg: Vec<(Lin, f64)> = per_event
            .iter()
            .filter(|(e, _, _)| e.unwrap_or(0) >= 0)
            .map(|(_, l, a)| (l.clone(), *a))
            .collect();
        let (lin, att) = mean_of(&nonneg);
        push(&mut aggregates, "event", vec![(None, lin, att)], false);
        push(&mut aggregates, "event", per_event, true);
        // Pre-trend check: a lead whose simultaneous band, as shown, excludes zero.
        let bad_leads: Vec<String> = aggregates
            .iter()
            .filter(|a| a.level == lv && a.aggregation == "event" && a.at.is_some_and(|e| e < 0))
            .filter(|a| a.lower > 0.0 || a.upper < 0.0)
            .map(|a| a.at.unwrap_or(0).to_string())
            .collect();
        if !bad_leads.is_empty() {
            warnings.push(format!(
                "level {lv}: pre-treatment effects at event time(s) {} are distinguishable from zero (their band excludes 0): parallel trends are in doubt",
                bad_leads.join(", ")
            ));
        }

        // group: per cohort the mean of its post cells (strata of a cohort weighted by their
        // share); overall weighted by cohort share.
        let weighted = |keepers: &[(usize, f64, Lin)]| -> (Lin, f64) {
            let s: f64 = keepers.iter().map(|(ci, _, _)| pg[*ci]).sum();
            let mut lin = Lin {
                cells: Vec::new(),
                cohorts: weight_influence(
                    &keepers.iter().map(|(ci, a, _)| (*ci, *a)).collect::<Vec<_>>(),
                    &pg,
                ),
            };
            for (ci, _, part) in keepers {
                lin.cells.extend(part.cells.iter().map(|&(j, a)| (j, a * pg[*ci] / s)));
            }
            (lin, keepers.iter().map(|(ci, a, _)| a * pg[*ci] / s).sum())
        };
        let mut first_periods: Vec<usize> = cohorts.iter().map(|c| c.1).collect();
        first_periods.sort_unstable();
        first_periods.dedup();
        let mut per_group = Vec::new();
        let mut group_keepers = Vec::new();
        for &g in &first_periods {
            let mut keepers = Vec::new();
            for (ci, &(st, _)) in cohorts.iter().enumerate().filter(|(_, c)| c.1 == g) {
                let which: Vec<usize> =
                    post.iter().copied().filter(|&j| cells[j].g == g && cells[j].s == st).collect();
                if which.is_empty() {
                    continue;
                }
                let k = which.len() as f64;
                let lin = Lin {
                    cells: which.iter().map(|&j| (cells[j].col, 1.0 / k)).collect(),
                    cohorts: vec![0.0; cohorts.len()],
                };
                let att = which.iter().map(|&j| cells[j].att).sum::<f64>() / k;
                keepers.push((ci, att, lin));
            }
            if keepers.is_empty() {
                continue;
            }
            let (lin, att) =
                if keepers.len() == 1 { (keepers[0].2.clone(), keepers[0].1) } else { weighted(&keepers) };
            per_group.push((Some(panel.periods[g]), lin, att));
            group_keepers.extend(keepers);
        }
        let (overall, att) = weighted(&group_keepers);
        push(&mut aggregates, "group", vec![(None, overall, att)], false);
        push(&mut aggregates, "group", per_group, true);

        // calendar: per period from the first cohort on, cohort-share weighted; overall the mean.
        let first = cohorts.iter().map(|c| c.1).min().expect("a cohort");
        let mut per_period = Vec::new();
        for t in first..panel.t() {
            let which: Vec<usize> = post.iter().copied().filter(|&j| cells[j].t == t).collect();
            if which.is_empty() {
                continue;
            }
            let (lin, att) = simple_of(&which);
            per_period.push((Some(panel.periods[t]), lin, att));
        }
        let parts: Vec<(Lin, f64)> = per_period.iter().map(|(_, l, a)| (l.clone(), *a)).collect();
        let (lin, att) = mean_of(&parts);
        push(&mut aggregates, "calendar", vec![(None, lin, att)], false);
        push(&mut aggregates, "calendar", per_period, true);
    }
    if !any_cell {
        return Err(Error::NoComparison(
            "no group-time effect could be estimated: no unit is treated within the panel, or no cohort has comparison units"
                .into(),
        ));
    }
    Ok(RolloutEffect {
        group_time,
        aggregates,
        cohort_sizes,
        warnings,
        units: panel.n() as u64,
        periods: panel.t() as u64,
        clusters: panel.clusters as u64,
        options: options.clone(),
    })
}

struct Cell {
    col: usize,
    /// Stratum (period index; 0 when reaching a level).
    s: usize,
    g: usize,
    t: usize,
    base: usize,
    att: f64,
    treated: usize,
    comparison: usize,
}

struct LevelResult {
    cells: Vec<Cell>,
    /// Estimated (stratum, cohort) pairs, as period indices.
    cohorts: Vec<(usize, usize)>,
    sizes: Vec<usize>,
    never: usize,
    influence: Influence,
    pg: Vec<f64>,
}

/// Who is compared with whom at one level.
struct Design {
    /// Per unit: its stratum, or `None` when the unit is outside the level's analysis. Reaching a
    /// level: one stratum, 0, holding every unit. Stepping up to a level: the period (index) in
    /// which the unit reached the level below.
    stratum: Vec<Option<usize>>,
    /// Every (stratum, cohort) that has units; cohort `None` = not reaching the level within the
    /// panel. Sorted.
    keys: Vec<(usize, Option<usize>)>,
    /// The (stratum, cohort) pairs to estimate, by cohort, then stratum.
    cohorts: Vec<(usize, usize)>,
    /// Units in the analysis that do not reach the level.
    never: usize,
}

impl Design {
    /// Whether unit group `key` is compared with cohort `(s, g)` in period `t`.
    fn compares(
        &self,
        key: (usize, Option<usize>),
        s: usize,
        g: usize,
        t: usize,
        comparison: Comparison,
    ) -> bool {
        key.0 == s
            && match key.1 {
                None => true,
                Some(cu) => comparison == Comparison::NotYetTreated && cu > t && cu != g,
            }
    }
}

/// The design of one level; `None` when the level has nothing to estimate (a warning says why).
fn design(
    panel: &Panel,
    level: usize,
    options: &RolloutOptions,
    warnings: &mut Vec<String>,
) -> Result<Option<Design>> {
    let lv = panel.level_values[level];
    let cohort_of = &panel.cohorts[level];
    let step = options.levels == Levels::Step && level > 0;
    let stratum: Vec<Option<usize>> = if step {
        let below = &panel.cohorts[level - 1];
        let mut jumped = 0usize;
        let stratum: Vec<Option<usize>> = below
            .iter()
            .zip(cohort_of)
            .map(|(b, c)| match (b, c) {
                (None, _) => None,
                // Levels never fall, so the level's cohort is never before the one below.
                (Some(s), Some(g)) if g <= s => {
                    jumped += 1;
                    None
                }
                (Some(s), _) => Some(*s),
            })
            .collect();
        if jumped > 0 {
            warnings.push(format!(
                "level {lv}: {jumped} unit(s) reached levels {} and {lv} in the same period: with no period at level {} alone they are left out of the step to level {lv}",
                panel.level_values[level - 1],
                panel.level_values[level - 1]
            ));
        }
        // A unit that reaches the level above in the same period never held this level alone: its
        // change carries the next step's effect too.
        let mut stratum = stratum;
        if let Some(above) = panel.cohorts.get(level + 1) {
            let mut over = 0usize;
            for ((s, c), a) in stratum.iter_mut().zip(cohort_of).zip(above) {
                if s.is_some() && c.is_some() && a == c {
                    *s = None;
                    over += 1;
                }
            }
            if over > 0 {
                warnings.push(format!(
                    "level {lv}: {over} unit(s) reached levels {lv} and {} in the same period: with no period at level {lv} alone they are left out of the step to level {lv}",
                    panel.level_values[level + 1]
                ));
            }
        }
        stratum
    } else {
        vec![Some(0); cohort_of.len()]
    };
    let mut keys: Vec<(usize, Option<usize>)> =
        stratum.iter().zip(cohort_of).filter_map(|(s, c)| s.map(|s| (s, *c))).collect();
    let never = keys.iter().filter(|k| k.1.is_none()).count();
    keys.sort_unstable();
    keys.dedup();
    if keys.iter().all(|k| k.1.is_none()) {
        warnings.push(if step {
            format!(
                "level {lv}: no unit steps up to this level from level {} within the panel",
                panel.level_values[level - 1]
            )
        } else {
            format!("level {lv}: no unit reaches this level within the panel")
        });
        return Ok(None);
    }
    if options.comparison == Comparison::NeverTreated && never == 0 {
        return Err(Error::NoComparison(if step {
            format!(
                "level {lv}: every unit that reached level {} goes on to level {lv}, so there is nothing to compare the step with; use the not-yet-treated comparison (control=\"not_yet\")",
                panel.level_values[level - 1]
            )
        } else {
            format!(
                "level {lv}: no unit is never treated, so there is nothing to compare with; use the not-yet-treated comparison (control=\"not_yet\")"
            )
        }));
    }
    let mut cohorts = Vec::new();
    let mut strata: Vec<usize> = keys.iter().map(|k| k.0).collect();
    strata.dedup();
    for s in strata {
        let mut own: Vec<usize> = keys.iter().filter(|k| k.0 == s).filter_map(|k| k.1).collect();
        if keys.contains(&(s, None)) {
            cohorts.extend(own.into_iter().map(|g| (s, g)));
            continue;
        }
        if options.comparison == Comparison::NeverTreated {
            // Only a stepped level gets here (a stratum without units that stay below).
            warnings.push(format!(
                "level {lv}: every unit that reached level {} in {} goes on to level {lv}: with no unit of theirs staying at level {}, cohort(s) {} are not estimated (control=\"not_yet\" compares them with each other)",
                panel.level_values[level - 1],
                panel.period(s),
                panel.level_values[level - 1],
                own.iter().map(|&g| panel.period(g).to_string()).collect::<Vec<_>>().join(", ")
            ));
            continue;
        }
        // Without units that never reach the level the last cohort is only ever a comparison (R's
        // `did` does the same): nothing is left to compare it with once it is treated.
        let last = own.pop().expect("a cohort");
        warnings.push(if step {
            format!(
                "level {lv}: every unit that reached level {} in {} goes on to level {lv}, so their last cohort ({}) serves only as comparison and is not estimated; periods from {} on have no comparison for them",
                panel.level_values[level - 1],
                panel.period(s),
                panel.period(last),
                panel.period(last)
            )
        } else {
            format!(
                "level {lv}: no unit is never treated, so the last cohort ({}) serves only as comparison and is not estimated; periods from {} on have no comparison",
                panel.period(last),
                panel.period(last)
            )
        });
        cohorts.extend(own.into_iter().map(|g| (s, g)));
    }
    if cohorts.is_empty() {
        return Ok(None);
    }
    cohorts.sort_unstable_by_key(|&(s, g)| (g, s));
    // Strata with nothing to estimate take no part in any cell: their units are outside.
    let mut stratum = stratum;
    let kept: std::collections::BTreeSet<usize> = cohorts.iter().map(|c| c.0).collect();
    for s in stratum.iter_mut() {
        if s.is_some_and(|v| !kept.contains(&v)) {
            *s = None;
        }
    }
    keys.retain(|k| kept.contains(&k.0));
    let never = stratum.iter().zip(cohort_of).filter(|(s, c)| s.is_some() && c.is_none()).count();
    Ok(Some(Design { stratum, keys, cohorts, never }))
}

/// The cells of one treatment level and their influence matrix; `None` when the level has no
/// estimable cell (a warning says why).
fn level_effects(
    panel: &Panel,
    level: usize,
    options: &RolloutOptions,
    control: &dyn Control,
    warnings: &mut Vec<String>,
    force_dense: bool,
) -> Result<Option<LevelResult>> {
    let lv = panel.level_values[level];
    let n = panel.n();
    let tn = panel.t();
    let cohort_of = &panel.cohorts[level];
    let Some(design) = design(panel, level, options, warnings)? else { return Ok(None) };
    let cohorts = design.cohorts.clone();
    let key_of = |u: usize| design.stratum[u].map(|s| (s, cohort_of[u]));
    let mut sizes = vec![0usize; cohorts.len()];
    for u in 0..n {
        if let Some((s, Some(g))) = key_of(u) {
            if let Ok(i) = cohorts.binary_search_by_key(&(g, s), |&(s, g)| (g, s)) {
                sizes[i] += 1;
            }
        }
    }
    let pg: Vec<f64> = sizes.iter().map(|&s| s as f64 / n as f64).collect();
    let k = panel.covariate_names.len();
    let p = k + 1;

    // Cells, in cohort then period order, from the period after the stratum's.
    let mut plan = Vec::new();
    for &(s, g) in &cohorts {
        for t in s + 1..tn {
            let base = if t >= g { g - 1 } else { t - 1 };
            plan.push((s, g, t, base));
        }
    }
    if plan.len() > MAX_CELLS {
        let what = if options.levels == Levels::Step && level > 0 {
            format!("{} (stratum, cohort) pairs over their periods make", cohorts.len())
        } else {
            format!("{} cohorts x {} periods make", cohorts.len(), tn - 1)
        };
        return Err(Error::TooLarge(format!(
            "level {lv}: {what} {} group-time cells, more than {MAX_CELLS}: use longer periods (weeks, not days) or fewer cohorts",
            plan.len()
        )));
    }
    if p == 1 && panel.cluster.is_none() && !force_dense {
        return grouped(panel, level, options, &plan, &design, &sizes, &pg, warnings);
    }
    let total = plan.len() as u64;
    let rows = panel.clusters;
    let ncells = plan.len();
    let cols = ncells + cohorts.len();
    let cluster_of = |u: usize| panel.cluster.as_ref().map_or(u, |c| c[u] as usize);
    let mut s = vec![0.0; rows * cols];
    let mut estimates: Vec<Option<Cell>> = Vec::with_capacity(ncells);
    let mut omitted: Vec<String> = Vec::new();
    let mut no_comparison: Vec<String> = Vec::new();
    let chunk = 32usize;
    for (part, columns) in plan.chunks(chunk).zip(s[..rows * ncells].chunks_mut(rows * chunk)) {
        control.checkpoint()?;
        let results: Vec<_> = part
            .par_iter()
            .zip(columns.par_chunks_mut(rows))
            .map(|(&(st, g, t, base), column)| {
                let mut members = Vec::new();
                let mut treated = 0usize;
                for u in 0..n {
                    let Some(key) = key_of(u) else { continue };
                    let is_treated = key == (st, Some(g));
                    if is_treated || design.compares(key, st, g, t, options.comparison) {
                        members.push(u);
                        treated += usize::from(is_treated);
                    }
                }
                let m = members.len();
                if m == treated {
                    return (g, t, Err(None));
                }
                let dy: Vec<f64> = members.iter().map(|&u| panel.y(u, t) - panel.y(u, base)).collect();
                let d: Vec<bool> = members.iter().map(|&u| cohort_of[u] == Some(g)).collect();
                let mut x = Vec::with_capacity(m * p);
                for &u in &members {
                    x.push(1.0);
                    x.extend_from_slice(&panel.x[u * k..(u + 1) * k]);
                }
                let result = twobytwo::estimate(options.estimand, &dy, &d, &x, p).map(|e| {
                    let scale = n as f64 / m as f64;
                    for (&u, v) in members.iter().zip(&e.influence) {
                        column[cluster_of(u)] += v * scale;
                    }
                    Cell { col: 0, s: st, g, t, base, att: e.att, treated, comparison: m - treated }
                });
                (g, t, result.map_err(Some))
            })
            .collect();
        for (g, t, r) in results {
            match r {
                Ok(cell) => estimates.push(Some(cell)),
                Err(reason) => {
                    estimates.push(None);
                    let at = format!("({}, {})", panel.period(g), panel.period(t));
                    match reason {
                        None => no_comparison.push(at),
                        Some(f) => omitted.push(format!("{at}: {f}")),
                    }
                }
            }
        }
        control.progress("group-time effects", estimates.len() as u64, total);
    }
    warn_left_out(warnings, lv, &no_comparison, &omitted);
    // Cohort-share columns.
    for u in 0..n {
        let r = cluster_of(u);
        let key = key_of(u);
        for (gi, &(st, g)) in cohorts.iter().enumerate() {
            s[(ncells + gi) * rows + r] += f64::from(u8::from(key == Some((st, Some(g))))) - pg[gi];
        }
    }
    // Cells keep their column index.
    let cells: Vec<Cell> =
        estimates.into_iter().enumerate().filter_map(|(j, c)| c.map(|c| Cell { col: j, ..c })).collect();
    if cells.is_empty() {
        warnings.push(format!("level {lv}: no group-time effect could be estimated"));
        return Ok(None);
    }
    let influence = Influence { rows, cols, cells: ncells, s, n: n as f64, known_gram: None };
    Ok(Some(LevelResult { cells, cohorts, sizes, never: design.never, influence, pg }))
}

/// The path without covariates or clusters: every cell's influence function is, within each group
/// of units (a cohort of a stratum, or the stratum's units that do not reach the level), `alpha *
/// (change of outcome) + beta`, so every standard error and the whole Gram follow from each group's
/// size, mean outcomes and centred cross-products over periods, in O(units x periods^2) rather than
/// O(units x cells^2), with no units x cells matrix. Units outside the level's analysis form one
/// more group, which enters only the cohort shares.
#[allow(clippy::too_many_arguments)]
fn grouped(
    panel: &Panel,
    level: usize,
    options: &RolloutOptions,
    plan: &[(usize, usize, usize, usize)],
    design: &Design,
    sizes: &[usize],
    pg: &[f64],
    warnings: &mut Vec<String>,
) -> Result<Option<LevelResult>> {
    let lv = panel.level_values[level];
    let n = panel.n();
    let tn = panel.t();
    let cohort_of = &panel.cohorts[level];
    let cohorts = &design.cohorts;
    // Group i < keys.len(): design.keys[i]; group keys.len(): units outside the analysis.
    let keys = &design.keys;
    let ng = keys.len() + 1;
    let group_of: Vec<usize> = (0..n)
        .map(|u| match design.stratum[u] {
            Some(s) => keys.binary_search(&(s, cohort_of[u])).expect("a key of the level"),
            None => keys.len(),
        })
        .collect();
    let mut count = vec![0.0f64; ng];
    for &g in &group_of {
        count[g] += 1.0;
    }
    let (mean, cross) = group_moments(panel, &group_of, &count);

    // Per planned cell: alpha and beta per group (0 outside the cell).
    let ncells = plan.len();
    let cols = ncells + cohorts.len();
    let mut alpha = vec![0.0; cols * ng];
    let mut beta = vec![0.0; cols * ng];
    let mut estimates: Vec<Option<Cell>> = Vec::with_capacity(ncells);
    let mut no_comparison = Vec::new();
    let mut overlap = Vec::new();
    let comparing = |st: usize, g: usize, t: usize| {
        (0..keys.len()).filter(move |&x| design.compares(keys[x], st, g, t, options.comparison))
    };
    for (j, &(st, g, t, base)) in plan.iter().enumerate() {
        let gt = keys.binary_search(&(st, Some(g))).expect("a cohort");
        let mt = count[gt];
        let mc: f64 = comparing(st, g, t).map(|x| count[x]).sum();
        let at = format!("({}, {})", panel.period(g), panel.period(t));
        if mc == 0.0 {
            no_comparison.push(at);
            estimates.push(None);
            continue;
        }
        let share = mt / (mt + mc);
        if options.estimand == Estimand::DoublyRobust && share >= 0.995 {
            // As the doubly robust estimator's trimming decides with the intercept alone.
            let failure =
                if share >= 0.999 { CellFailure::Overlap(share) } else { CellFailure::Trimmed(share) };
            overlap.push(format!("{at}: {failure}"));
            estimates.push(None);
            continue;
        }
        let change = |grp: usize| mean[grp * tn + t] - mean[grp * tn + base];
        let mean_t = change(gt);
        let mean_c = comparing(st, g, t).map(|x| count[x] * change(x)).sum::<f64>() / mc;
        let nf = n as f64;
        alpha[j * ng + gt] = nf / mt;
        beta[j * ng + gt] = -nf / mt * mean_t;
        for x in comparing(st, g, t) {
            alpha[j * ng + x] = -nf / mc;
            beta[j * ng + x] = nf / mc * mean_c;
        }
        estimates.push(Some(Cell {
            col: j,
            s: st,
            g,
            t,
            base,
            att: mean_t - mean_c,
            treated: mt as usize,
            comparison: mc as usize,
        }));
    }
    for (gi, &(st, g)) in cohorts.iter().enumerate() {
        let own = keys.binary_search(&(st, Some(g))).expect("a cohort");
        for x in 0..ng {
            beta[(ncells + gi) * ng + x] = f64::from(u8::from(x == own)) - pg[gi];
        }
    }
    warn_left_out(warnings, lv, &no_comparison, &overlap);
    // Gram from the moments: sum over groups of
    // n_G [a_j a_k (dm_j dm_k + Q_jk / n_G) + a_j b_k dm_j + b_j a_k dm_k + b_j b_k].
    let period = |j: usize| if j < ncells { Some((plan[j].2, plan[j].3)) } else { None };
    let mut gram = vec![0.0; cols * cols];
    for x in 0..ng {
        let nx = count[x];
        if nx == 0.0 {
            continue;
        }
        let c = &cross[x * tn * tn..(x + 1) * tn * tn];
        let dm: Vec<f64> =
            (0..cols).map(|j| period(j).map_or(0.0, |(t, b)| mean[x * tn + t] - mean[x * tn + b])).collect();
        let live: Vec<usize> =
            (0..cols).filter(|&j| alpha[j * ng + x] != 0.0 || beta[j * ng + x] != 0.0).collect();
        for (ia, &j) in live.iter().enumerate() {
            let (aj, bj) = (alpha[j * ng + x], beta[j * ng + x]);
            for &k in &live[ia..] {
                let (ak, bk) = (alpha[k * ng + x], beta[k * ng + x]);
                let q = match (period(j), period(k)) {
                    (Some((tj, bj_)), Some((tk, bk_))) if aj != 0.0 && ak != 0.0 => {
                        c[tj * tn + tk] - c[tj * tn + bk_] - c[bj_ * tn + tk] + c[bj_ * tn + bk_]
                    }
                    _ => 0.0,
                };
                let v =
                    aj * ak * (nx * dm[j] * dm[k] + q) + nx * (aj * bk * dm[j] + bj * ak * dm[k] + bj * bk);
                gram[j * cols + k] += v;
            }
        }
    }
    for j in 0..cols {
        for k in 0..j {
            gram[j * cols + k] = gram[k * cols + j];
        }
    }
    let cells: Vec<Cell> = estimates.into_iter().flatten().collect();
    if cells.is_empty() {
        warnings.push(format!("level {lv}: no group-time effect could be estimated"));
        return Ok(None);
    }
    let influence =
        Influence { rows: 0, cols, cells: ncells, s: Vec::new(), n: n as f64, known_gram: Some(gram) };
    Ok(Some(LevelResult {
        cells,
        cohorts: cohorts.to_vec(),
        sizes: sizes.to_vec(),
        never: design.never,
        influence,
        pg: pg.to_vec(),
    }))
}

/// Each group's mean outcome per period (`ng x t`) and centred cross-products over periods
/// (`ng x t x t`), summed over units in parallel blocks and added in block order (the same result
/// on any number of threads).
fn group_moments(panel: &Panel, group_of: &[usize], count: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let tn = panel.t();
    let ng = count.len();
    let mut mean = vec![0.0; ng * tn];
    for (u, &g) in group_of.iter().enumerate() {
        for (m, y) in mean[g * tn..(g + 1) * tn].iter_mut().zip(&panel.y[u * tn..(u + 1) * tn]) {
            *m += y;
        }
    }
    for g in 0..ng {
        for t in 0..tn {
            mean[g * tn + t] /= count[g].max(1.0);
        }
    }
    // Centred cross-products per group (upper triangle, then mirrored).
    const BLOCK: usize = 4_096;
    let blocks: Vec<usize> = (0..group_of.len().div_ceil(BLOCK)).collect();
    let mut cross = vec![0.0; ng * tn * tn];
    // A few blocks at a time (memory: one ng x t x t sum per block in flight), added in block order.
    for batch in blocks.chunks(4) {
        let partials: Vec<Vec<f64>> = batch
            .par_iter()
            .map(|&b| {
                let mut cross = vec![0.0; ng * tn * tn];
                let mut centred = vec![0.0; tn];
                let end = ((b + 1) * BLOCK).min(group_of.len());
                for (u, &g) in group_of.iter().enumerate().take(end).skip(b * BLOCK) {
                    let (ys, means) = (&panel.y[u * tn..(u + 1) * tn], &mean[g * tn..(g + 1) * tn]);
                    for ((c, y), m) in centred.iter_mut().zip(ys).zip(means) {
                        *c = y - m;
                    }
                    let c = &mut cross[g * tn * tn..(g + 1) * tn * tn];
                    for a in 0..tn {
                        let ca = centred[a];
                        let row = &mut c[a * tn + a..(a + 1) * tn];
                        for (r, cb) in row.iter_mut().zip(&centred[a..]) {
                            *r += ca * cb;
                        }
                    }
                }
                cross
            })
            .collect();
        for part in partials {
            for (x, y) in cross.iter_mut().zip(part) {
                *x += y;
            }
        }
    }
    for g in 0..ng {
        let c = &mut cross[g * tn * tn..(g + 1) * tn * tn];
        for a in 0..tn {
            for b in 0..a {
                c[a * tn + b] = c[b * tn + a];
            }
        }
    }
    (mean, cross)
}

/// The warnings for cells left out: without comparison units, and for another reason (named).
fn warn_left_out(warnings: &mut Vec<String>, lv: i64, no_comparison: &[String], other: &[String]) {
    if !no_comparison.is_empty() {
        warnings.push(format!(
            "level {lv}: {} cell(s) have no comparison unit left (every unit is treated by then) and are not estimated: (cohort, period) {}",
            no_comparison.len(),
            shorten(no_comparison)
        ));
    }
    if !other.is_empty() {
        warnings.push(format!("level {lv}: {} cell(s) not estimated: {}", other.len(), shorten(other)));
    }
}

fn shorten(items: &[String]) -> String {
    if items.len() <= 6 {
        items.join(", ")
    } else {
        format!("{}, ... and {} more", items[..6].join(", "), items.len() - 6)
    }
}

/// The simultaneous critical value of a family: the `level` quantile of `max_j |Z_j| / sd_j` over
/// `bootstrap` draws of `Z`, the multiplier bootstrap's draw with Gaussian multipliers
/// (Chernozhukov, Chetverikov & Kato 2013, "Gaussian approximation and multiplier bootstrap for
/// maxima of sums of high-dimensional random vectors", Ann. Statist. 41(6)). Such a draw,
/// `sum_r e_r psi_r` with `e_r ~ N(0, 1)` per cluster, is exactly normal with covariance
/// `Psi'Psi` given the data, so it is drawn from that k x k covariance (the family's rows of the
/// influence Gram) instead of from n multipliers: the same distribution at a cost that does not
/// grow with the number of units. The band is the sup-t band of Montiel Olea & Plagborg-Moller
/// (2019, "Simultaneous confidence bands", J. Appl. Econometrics 34(1)). Members whose standard
/// error vanishes are left out of the maximum.
fn sup_t_critical(
    gram: &[f64],
    influence: &Influence,
    family: &[(Lin, f64)],
    options: &RolloutOptions,
    tag: u64,
) -> f64 {
    let cols = influence.cols;
    let k = family.len();
    if k == 0 {
        return 0.0;
    }
    // Dense weights of each member over the columns, and G w.
    let weights: Vec<Vec<(usize, f64)>> =
        family.iter().map(|(lin, _)| weights_of(lin, influence.cells)).collect();
    let gw: Vec<Vec<f64>> = weights
        .iter()
        .map(|w| {
            let mut out = vec![0.0; cols];
            for &(j, a) in w {
                for (o, v) in out.iter_mut().zip(&gram[j * cols..(j + 1) * cols]) {
                    *o += a * v;
                }
            }
            out
        })
        .collect();
    let mut cov = vec![0.0; k * k];
    for a in 0..k {
        for b in 0..=a {
            let v: f64 = weights[a].iter().map(|&(j, x)| x * gw[b][j]).sum();
            cov[a * k + b] = v;
            cov[b * k + a] = v;
        }
    }
    let scale = (0..k).map(|j| cov[j * k + j]).fold(0.0, f64::max);
    let live: Vec<bool> = (0..k).map(|j| cov[j * k + j] > 1e-20 * scale.max(f64::MIN_POSITIVE)).collect();
    // A member that is a combination of earlier ones gets a zero column.
    let l = crate::twobytwo::cholesky(&cov, k, true).expect("a semi-definite factor always exists");
    let sd: Vec<f64> = (0..k).map(|j| cov[j * k + j].sqrt()).collect();
    let stream = options.seed ^ tag.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    // Each draw has its own random stream, keyed by its number: the draws run in parallel and give
    // the same maxima on any number of threads.
    let mut maxima: Vec<f64> = (0..options.bootstrap as u64)
        .into_par_iter()
        .map_init(
            || vec![0.0; k],
            |e, draw| {
                let mut rng = SplitMix64::new(stream ^ (draw + 1).wrapping_mul(0xD1B5_4A32_D192_ED03));
                let mut i = 0;
                while i < k {
                    // Box-Muller: two standard normals from two uniforms in (0, 1].
                    let u1 = 1.0 - rng.next_f64();
                    let u2 = rng.next_f64();
                    let r = (-2.0 * u1.ln()).sqrt();
                    e[i] = r * (std::f64::consts::TAU * u2).cos();
                    if i + 1 < k {
                        e[i + 1] = r * (std::f64::consts::TAU * u2).sin();
                    }
                    i += 2;
                }
                let mut top = 0.0f64;
                for j in 0..k {
                    if live[j] {
                        let z = dot(&l[j * k..j * k + j + 1], &e[..j + 1]);
                        top = top.max((z / sd[j]).abs());
                    }
                }
                top
            },
        )
        .collect();
    maxima.sort_by(f64::total_cmp);
    let idx = ((options.level * maxima.len() as f64).ceil() as usize).clamp(1, maxima.len()) - 1;
    maxima[idx]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn family(k: usize) -> Vec<(Lin, f64)> {
        (0..k).map(|j| (Lin { cells: vec![(j, 1.0)], cohorts: vec![] }, 0.0)).collect()
    }

    /// The grouped path (group moments) and the dense path (a units x cells matrix) give the same
    /// effects, standard errors and bands, for both comparisons and both level estimands.
    #[test]
    fn grouped_path_equals_dense_path() {
        let sim = touchpoint_sim::programme(&touchpoint_sim::ProgrammeParams {
            employees: 400,
            weeks: 16,
            waves: vec![4, 8, 12],
            second_waves: vec![10, 14],
            second_gap: 2,
            ..Default::default()
        })
        .unwrap();
        let rows = crate::PanelRows::new(
            crate::Ids::Int(sim.rows.iter().map(|r| r.employee as i64).collect()),
            sim.rows.iter().map(|r| r.week).collect(),
            sim.rows.iter().map(|r| 1_000.0 + r.value).collect(),
            crate::Treatment::Level(sim.rows.iter().map(|r| r.level).collect()),
        );
        let panel = Panel::from_rows(&rows).unwrap();
        for (comparison, levels) in [
            (Comparison::NeverTreated, Levels::Reached),
            (Comparison::NotYetTreated, Levels::Reached),
            (Comparison::NeverTreated, Levels::Step),
            (Comparison::NotYetTreated, Levels::Step),
        ] {
            let options = RolloutOptions { comparison, levels, ..RolloutOptions::default() };
            let a = estimate(&panel, &options, &touchpoint_core::Unattended, false).unwrap();
            let b = estimate(&panel, &options, &touchpoint_core::Unattended, true).unwrap();
            assert_eq!(a.group_time.len(), b.group_time.len());
            assert!(a.group_time.iter().any(|r| r.level == 2));
            let close =
                |x: f64, y: f64| (x - y).abs() <= 1e-9 * (1.0 + y.abs()) || (x.is_nan() && y.is_nan());
            for (x, y) in a.group_time.iter().zip(&b.group_time) {
                assert!(
                    close(x.effect, y.effect) && close(x.se, y.se) && close(x.lower, y.lower),
                    "{x:?} vs {y:?}"
                );
            }
            for (x, y) in a.aggregates.iter().zip(&b.aggregates) {
                assert!(
                    close(x.effect, y.effect) && close(x.se, y.se) && close(x.lower, y.lower),
                    "{x:?} vs {y:?}"
                );
            }
        }
    }

    /// Independent members: the sup-t critical value is Sidak's, Phi^-1((1 + level^(1/k)) / 2);
    /// identical members: the pointwise one.
    #[test]
    fn sup_t_matches_sidak_and_pointwise_limits() {
        let (k, rows) = (10, 1000);
        let mut s = vec![0.0; rows * k];
        for j in 0..k {
            // Column j lives on its own rows: the Gram is diagonal.
            for r in (j * 100)..(j * 100 + 100) {
                s[j * rows + r] = if r % 2 == 0 { 1.0 + j as f64 } else { -0.5 };
            }
        }
        let inf = Influence { rows, cols: k, cells: k, s, n: rows as f64, known_gram: None };
        let gram = inf.gram(&touchpoint_core::Unattended).unwrap();
        let options = RolloutOptions { bootstrap: 40_000, ..RolloutOptions::default() };
        let z = Normal::new(0.0, 1.0).unwrap();
        let sidak = z.inverse_cdf((1.0 + 0.95f64.powf(1.0 / k as f64)) / 2.0);
        let got = sup_t_critical(&gram, &inf, &family(k), &options, 1);
        assert!((got - sidak).abs() < 0.03, "{got} vs Sidak {sidak}");

        let same = vec![1.0; rows * 3]
            .iter()
            .enumerate()
            .map(|(i, v)| if i % rows % 2 == 0 { *v } else { -v })
            .collect();
        let inf = Influence { rows, cols: 3, cells: 3, s: same, n: rows as f64, known_gram: None };
        let gram = inf.gram(&touchpoint_core::Unattended).unwrap();
        let got = sup_t_critical(&gram, &inf, &family(3), &options, 1);
        assert!((got - 1.959964).abs() < 0.03, "{got}");
    }
}
