//! Bootstrap intervals for every model: Poisson weights keyed to paths or to people.
//!
//! The Poisson bootstrap (Hanley & MacGibbon 2006, "Creating non-parametric bootstrap samples using
//! Poisson frequencies", Computer Methods and Programs in Biomedicine 83(1); Chamandy, Muralidharan,
//! Najmi & Naidu 2012, "Estimating uncertainty for massive data streams", Google) draws how many
//! times each unit enters a resample from Poisson(1) instead of a multinomial. Draws of different
//! units are independent, so a unit's draw can be a function of its own key alone.
//!
//! The unit is chosen from the journeys:
//! - **paths**, for journeys without persons (path tables, or stores built by hand): the journeys of
//!   a KPI are first merged into distinct records (same KPI, same players of the dimension, same
//!   channels, same times), whose conversions `C` and nulls `N` are weights. A resample draws
//!   Poisson(`C`) conversions and Poisson(`N`) nulls apart and scales the record's value by the
//!   conversions drawn over `C`. A sum of `C` independent Poisson(1) counts is Poisson(`C`), so for
//!   whole counts this is exactly the Poisson bootstrap of the journeys one row each; fractional
//!   weights get the Poisson law with that mean. The value scaling keeps each record's mean value
//!   per conversion (exact when the merged journeys have equal values).
//! - **people**, for journeys cut from person timelines (event logs, the simulator): each person is
//!   drawn Poisson(1) times and all their journeys, of every KPI, and their timeline move together
//!   (a timeline model refits on the weighted people). The people the log never saw (the
//!   timelines' `population` minus the people in them) are drawn Poisson(that number) as a whole.
//!
//! Every draw is a function of (seed, resample, unit key). A path's key hashes its KPI and player
//! names (not ids, not row positions), a person's key its index among the persons sorted by id, so
//! the same seed gives the same resamples whatever the row order and the number of threads.
//! Intervals are percentile intervals: the `(1 - level) / 2` and `(1 + level) / 2` quantiles
//! (Hyndman & Fan 1996 type 7, linear interpolation) of the resampled numbers.
//!
//! A lift test given to the additive-hazard model is an experiment with its own error: in each
//! resample its effect per exposure is drawn from N(per_exposure, se^2) (censored at 0), so the
//! tested player's interval carries both the resampling of people and the test's standard error.
use std::hash::Hasher;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use touchpoint_util::hashing::{FastHasher, FastMap};
use touchpoint_util::rng::SplitMix64;

use crate::error::{Error, Result};
use crate::journeys::{Dimension, Journeys};
use crate::model::{Control, KpiCredit, KpiView, ModelSpec, Reweight};

/// The most threads a bootstrap starts.
pub const MAX_THREADS: usize = 1024;

/// The largest number of resamples a bootstrap accepts.
pub const MAX_RESAMPLES: usize = 100_000;

/// Settings of a bootstrap.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Resampling {
    /// Interval level, strictly between 0 and 1 (0.9: the 5% and 95% quantiles).
    pub level: f64,
    /// Number of resamples (1 to [`MAX_RESAMPLES`]).
    pub resamples: usize,
    /// Seed of every draw.
    pub seed: u64,
}

impl Default for Resampling {
    fn default() -> Self {
        Resampling { level: 0.9, resamples: 200, seed: 0 }
    }
}

impl Resampling {
    /// Checks the level and the number of resamples.
    pub fn validate(&self) -> Result<()> {
        if !(self.level > 0.0 && self.level < 1.0) {
            return Err(Error::InvalidOption {
                option: "intervals",
                value: self.level.to_string(),
                reason: "the interval level must be strictly between 0 and 1 (0.9 for 90% intervals)".into(),
            });
        }
        if self.resamples == 0 || self.resamples > MAX_RESAMPLES {
            return Err(Error::InvalidOption {
                option: "resamples",
                value: self.resamples.to_string(),
                reason: format!("the number of resamples must be between 1 and {MAX_RESAMPLES}"),
            });
        }
        Ok(())
    }

    /// The lower and upper quantile levels of the intervals.
    pub fn quantile_levels(&self) -> (f64, f64) {
        ((1.0 - self.level) / 2.0, (1.0 + self.level) / 2.0)
    }
}

/// What a bootstrap resampled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Distinct paths with Poisson counts of their conversions and nulls.
    Paths,
    /// People with Poisson(1) counts, their journeys and timelines together.
    People,
}

impl Unit {
    /// `paths` or `people`.
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Paths => "paths",
            Unit::People => "people",
        }
    }
}

/// The resamples of an attribution, kept so that every derived number (shares, money value, ROI, a
/// difference between models) gets its interval from the same draws.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bootstrap {
    /// The settings used.
    pub settings: Resampling,
    /// What was resampled.
    pub unit: Unit,
    /// Credited conversions per resample: one number per credit row of the attribution, in the order
    /// of [`crate::Attribution::credits`].
    pub conversions: Vec<Vec<f64>>,
    /// Credited value per resample, aligned like `conversions`.
    pub value: Vec<Vec<f64>>,
    /// The resamples on which a model could not be computed for a KPI (e.g. a resample without null
    /// journeys for Markov); their numbers are left out of that model's intervals for that KPI.
    #[serde(default)]
    pub failed: Vec<Failure>,
}

/// A model that could not be computed on one resample of one KPI.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// The resample.
    pub resample: usize,
    /// Model label.
    pub model: String,
    /// KPI name.
    pub kpi: String,
}

impl Bootstrap {
    /// Per resample, whether `model` was computed on it: for `kpi`, or for every KPI when `None`.
    pub fn usable(&self, model: &str, kpi: Option<&str>) -> Vec<bool> {
        let mut ok = vec![true; self.conversions.len()];
        for f in &self.failed {
            if f.model == model && kpi.is_none_or(|k| k == f.kpi) {
                if let Some(x) = ok.get_mut(f.resample) {
                    *x = false;
                }
            }
        }
        ok
    }

    /// Checks a bootstrap read back from JSON against the attribution's `rows` credit rows.
    pub fn check(&self, rows: usize) -> Result<()> {
        self.settings.validate()?;
        let bad = |reason: String| Error::InvalidOption { option: "json", value: "bootstrap".into(), reason };
        if self.conversions.len() != self.value.len() {
            return Err(bad("as many value as conversion resamples are needed".into()));
        }
        if let Some(v) = self.conversions.iter().chain(&self.value).find(|v| v.len() != rows) {
            return Err(bad(format!("a resample has {} numbers for {rows} credit rows", v.len())));
        }
        Ok(())
    }
}

/// The type-7 quantile of sorted numbers at level `q` (linear interpolation between order statistics).
pub fn quantile_sorted(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let h = (sorted.len() - 1) as f64 * q.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    Some(sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo]))
}

/// The percentile interval of `values` (unsorted; non-finite values are left out).
pub fn interval(values: &mut Vec<f64>, settings: &Resampling) -> Option<(f64, f64)> {
    values.retain(|v| v.is_finite());
    values.sort_by(f64::total_cmp);
    let (a, b) = settings.quantile_levels();
    Some((quantile_sorted(values, a)?, quantile_sorted(values, b)?))
}

/// The credit rows of one (KPI, model) pair: each row's index in the attribution's credits and its
/// player id (`None` for the baseline row).
#[derive(Clone, Debug)]
pub(crate) struct RowPlan {
    pub kpi: u32,
    pub model: usize,
    pub rows: Vec<(usize, Option<u32>)>,
}

/// One KPI's journeys as the resamples see them.
enum Source {
    /// Merged records with their players and keys.
    Paths { store: Box<Journeys>, players: Vec<u32>, keys: Vec<u64> },
    /// The original journeys of the KPI (rows of the store), weighted per person.
    People { rows: Option<Vec<u32>> },
}

/// A [`Control`] for work on the pool's threads: stops when the flag is set, reports nothing (the
/// calling thread reports progress and watches for interrupts).
struct Flag<'a>(&'a AtomicBool);

impl Control for Flag<'_> {
    fn checkpoint(&self) -> Result<()> {
        if self.0.load(Ordering::Relaxed) {
            Err(Error::Interrupted)
        } else {
            Ok(())
        }
    }
}

/// The key of a resample's draws.
fn resample_base(seed: u64, r: usize) -> u64 {
    let mut h = FastHasher::default();
    h.write_u64(seed);
    h.write_u64(r as u64);
    h.finish()
}

/// The draws of one unit in one resample.
fn stream(base: u64, key: u64) -> SplitMix64 {
    SplitMix64::new(base ^ key)
}

/// The key of every person: a hash of its input id when the timelines keep them (so two stores merged
/// in either order draw the same), else of its index among the persons sorted by id.
fn person_keys(t: &crate::timelines::Timelines) -> Vec<u64> {
    use crate::timelines::PersonKey;
    (0..t.persons())
        .map(|p| {
            let mut h = FastHasher::default();
            match t.person_key(p) {
                PersonKey::Int(i) => h.write_i64(i),
                PersonKey::Text(s) => {
                    h.write(s.as_bytes());
                    h.write_u8(0xff);
                }
            }
            h.finish()
        })
        .collect()
}

/// The additive-hazard model with each lift test's effect drawn for this resample from the test's
/// own distribution, N(per_exposure, se^2) censored at 0 (an effect per exposure is not negative),
/// so the tested player's interval carries the experiment's error as well as the resampling's.
/// `None` for other models and for tests without a standard error. The draw is keyed to the
/// resample and the test's player and KPI names, so it does not depend on threads or test order.
fn with_drawn_lift_tests(spec: &crate::model::ModelSpec, base: u64) -> Option<crate::model::ModelSpec> {
    use crate::model::ModelSpec;
    let ModelSpec::AdditiveHazard(h) = spec else { return None };
    if h.lift_tests.iter().all(|t| t.se <= 0.0) {
        return None;
    }
    let mut h = h.clone();
    for t in h.lift_tests.iter_mut().filter(|t| t.se > 0.0) {
        let mut key = FastHasher::default();
        key.write(t.channel.as_bytes());
        key.write_u8(0xff);
        key.write(t.kpi.as_bytes());
        key.write_u64(LIFT_KEY);
        let mut g = stream(base, key.finish());
        // Box-Muller: one standard normal from two uniforms, the first in (0, 1].
        let (u1, u2) = (1.0 - g.next_f64(), g.next_f64());
        let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        t.per_exposure = (t.per_exposure + t.se * z).max(0.0);
    }
    Some(ModelSpec::AdditiveHazard(h))
}

/// Key of the lift tests' draws.
const LIFT_KEY: u64 = 0x6c69_6674_7465_7374;

/// Key of the people never seen in the log.
const UNSEEN_KEY: u64 = 0x756e_7365_656e_2121;

/// Ranks of names in sorted byte order, so keys do not depend on ids (which follow row order).
fn name_ranks(names: &[String]) -> Vec<u64> {
    let mut order: Vec<usize> = (0..names.len()).collect();
    order.sort_by(|&a, &b| names[a].cmp(&names[b]));
    let mut rank = vec![0u64; names.len()];
    for (r, &i) in order.iter().enumerate() {
        rank[i] = r as u64;
    }
    rank
}

/// Merges the view's identical journeys (same players, channels when they are not the players,
/// times and conversion time) into records with summed weights, ordered by key, each with a key that
/// depends on names and times only.
/// Without `nulls`, journeys without conversions are left out (no model reads them); without `times`,
/// journeys that differ only in times are merged and the records carry none.
fn merge_paths(
    view: &KpiView<'_>,
    channel_ranks: Option<&[u64]>,
    player_ranks: &[u64],
    keep_nulls: bool,
    keep_times: bool,
) -> Source {
    let mut kh = FastHasher::default();
    kh.write(view.kpi_name.as_bytes());
    kh.write_u8(0xff);
    let kpi_key = kh.finish();
    let has_times = keep_times && view.journeys.has_times();
    // Records in first-seen order, then sorted by key.
    let mut offsets = vec![0usize];
    let (mut players, mut channels, mut times) = (Vec::new(), Vec::new(), Vec::new());
    let (mut conv, mut value, mut nulls, mut conv_time, mut keys) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut index: FastMap<u64, Vec<u32>> = FastMap::default();
    for (mut j, ps) in view.iter() {
        if !keep_nulls {
            if j.conversions <= 0.0 {
                continue;
            }
            j.nulls = 0.0;
        }
        if !has_times {
            j.times = None;
            j.conversion_time = None;
        }
        let mut h = FastHasher::default();
        h.write_u64(kpi_key);
        h.write_usize(ps.len());
        for &p in ps {
            h.write_u64(player_ranks[p as usize]);
        }
        if let Some(ranks) = channel_ranks {
            for &c in j.channels {
                h.write_u64(ranks[c as usize]);
            }
        }
        if let Some(t) = j.times {
            for &x in t {
                h.write_u64(x as u64);
            }
            h.write_u64(j.conversion_time.unwrap_or(i64::MIN) as u64);
        }
        let key = h.finish();
        let same = |r: u32| {
            let r = r as usize;
            let (a, b) = (offsets[r], offsets[r + 1]);
            players[a..b] == *ps
                && (channel_ranks.is_none() || channels[a..b] == *j.channels)
                && j.times.is_none_or(|t| times[a..b] == *t && conv_time[r] == j.conversion_time.unwrap_or(0))
        };
        let slot = index.entry(key).or_default();
        match slot.iter().copied().find(|&r| same(r)) {
            Some(r) => {
                let r = r as usize;
                conv[r] += j.conversions;
                value[r] += j.value;
                nulls[r] += j.nulls;
            }
            None => {
                slot.push(conv.len() as u32);
                players.extend_from_slice(ps);
                channels.extend_from_slice(j.channels);
                if let Some(t) = j.times {
                    times.extend_from_slice(t);
                }
                offsets.push(players.len());
                conv.push(j.conversions);
                value.push(j.value);
                nulls.push(j.nulls);
                conv_time.push(j.conversion_time.unwrap_or(0));
                keys.push(key);
            }
        }
    }
    drop(index);
    // Sorted by key (then by first appearance, for the rare equal keys), so the records' order does not
    // depend on the journeys' order.
    let mut order: Vec<usize> = (0..conv.len()).collect();
    order.sort_by_key(|&r| keys[r]);
    let mut o = vec![0usize];
    let (mut p2, mut c2, mut t2) = (Vec::with_capacity(players.len()), Vec::new(), Vec::new());
    c2.reserve(channels.len());
    for &r in &order {
        let (a, b) = (offsets[r], offsets[r + 1]);
        p2.extend_from_slice(&players[a..b]);
        c2.extend_from_slice(&channels[a..b]);
        if has_times {
            t2.extend_from_slice(&times[a..b]);
        }
        o.push(p2.len());
    }
    let pick = |v: &[f64]| order.iter().map(|&r| v[r]).collect::<Vec<f64>>();
    let store = view.journeys.with_records(
        o,
        c2,
        has_times.then_some(t2),
        vec![view.kpi; order.len()],
        pick(&conv),
        pick(&value),
        pick(&nulls),
        has_times.then(|| order.iter().map(|&r| conv_time[r]).collect()),
    );
    let keys = order.iter().map(|&r| keys[r]).collect();
    Source::Paths { store: Box::new(store), players: p2, keys }
}

/// What one resample gives: the credit rows' conversions and values, and the models that failed.
struct Draw {
    conversions: Vec<f64>,
    value: Vec<f64>,
    /// (plan index) of the (KPI, model) pairs that failed.
    failed: Vec<usize>,
}

/// Everything the resamples share.
pub(crate) struct Plan<'a> {
    pub journeys: &'a Journeys,
    pub models: &'a [ModelSpec],
    pub labels: &'a [String],
    pub by: Dimension,
    pub players: &'a [u32],
    pub names: &'a [String],
    pub groups: Option<&'a [Vec<u32>]>,
    pub rows: &'a [RowPlan],
    pub n_rows: usize,
}

/// Runs `settings.resamples` resamples of every (KPI, model) of `plan` on `threads` threads (0: one
/// per core). The calling thread watches `control` (interrupts, progress); the work runs on a pool.
pub(crate) fn run(
    plan: &Plan<'_>,
    settings: &Resampling,
    threads: usize,
    control: &dyn Control,
) -> Result<Bootstrap> {
    settings.validate()?;
    let j = plan.journeys;
    let people = j.timelines().is_some() && j.persons().is_some();
    if !people {
        if let Some(m) = plan.models.iter().find(|m| m.model().needs_timelines()) {
            return Err(Error::Unsupported {
                model: m.name().to_owned(),
                kpi: "(all)".into(),
                reason: "intervals resample people, and these journeys do not say which person each \
                         belongs to: build them with from_events (or the simulator)"
                    .into(),
            });
        }
    }
    let n_kpis = j.kpis().len();
    let nulls = plan.models.iter().any(|m| m.model().reads_nulls());
    let times = plan.models.iter().any(|m| m.model().reads_times());
    let player_ranks = name_ranks(plan.names);
    let channel_ranks =
        (plan.by != Dimension::Channel).then(|| name_ranks(&j.player_names(Dimension::Channel)));
    let mut sources = Vec::with_capacity(n_kpis);
    for k in 0..n_kpis as u32 {
        control.checkpoint()?;
        let rows = plan.groups.map(|g| g[k as usize].as_slice());
        sources.push(if people {
            Source::People { rows: rows.map(<[u32]>::to_vec) }
        } else {
            let view = KpiView::new(j, k, rows, plan.players, plan.names).with_by(plan.by);
            merge_paths(&view, channel_ranks.as_deref(), &player_ranks, nulls, times)
        });
    }
    let keys = if people { j.timelines().map(person_keys) } else { None };
    // Models that fit iteratively start every resample from their fit on the whole data.
    let mut warms: Vec<Option<Box<dyn std::any::Any + Send + Sync>>> = Vec::with_capacity(plan.rows.len());
    for r in plan.rows {
        control.checkpoint()?;
        let rows = plan.groups.map(|g| g[r.kpi as usize].as_slice());
        let view = KpiView::new(j, r.kpi, rows, plan.players, plan.names).with_by(plan.by);
        let model = plan.models[r.model].model();
        let has_work = if model.needs_timelines() {
            j.timelines().is_some_and(|t| t.conversions_of(r.kpi).0 > 0.0)
        } else {
            view.iter().any(|(x, _)| x.conversions > 0.0)
        };
        warms.push(if has_work { model.warm_start(&view, control)? } else { None });
    }
    if threads > MAX_THREADS {
        return Err(Error::InvalidOption {
            option: "threads",
            value: threads.to_string(),
            reason: format!("at most {MAX_THREADS} threads (0 for one per core)"),
        });
    }
    let threads =
        if threads == 0 { std::thread::available_parallelism().map_or(1, |n| n.get()) } else { threads };
    let pool =
        rayon::ThreadPoolBuilder::new().num_threads(threads).build().map_err(|e| Error::Unsupported {
            model: "bootstrap".into(),
            kpi: "(all)".into(),
            reason: format!("cannot start {threads} threads: {e}"),
        })?;
    let stop = AtomicBool::new(false);
    let done = AtomicU64::new(0);
    let total = settings.resamples as u64;
    let flag = Flag(&stop);
    let (tx, rx) = mpsc::channel();
    let outcome = std::thread::scope(|s| {
        let (sources, flag, stop, done, warms, keys) = (&sources, &flag, &stop, &done, &warms, &keys);
        s.spawn(move || {
            // A panic in a model becomes an error here rather than a panic of the caller's thread.
            let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                pool.install(|| {
                    (0..settings.resamples)
                        .into_par_iter()
                        .map(|r| {
                            if stop.load(Ordering::Relaxed) {
                                return Ok(None);
                            }
                            let d =
                                one_resample(plan, sources, keys.as_deref(), warms, settings.seed, r, flag);
                            done.fetch_add(1, Ordering::Relaxed);
                            match d {
                                Ok(d) => Ok(Some(d)),
                                Err(Error::Interrupted) => Ok(None),
                                Err(e) => {
                                    stop.store(true, Ordering::Relaxed);
                                    Err(e)
                                }
                            }
                        })
                        .collect::<Vec<Result<Option<Draw>>>>()
                })
            }))
            .unwrap_or_else(|panic| {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                stop.store(true, Ordering::Relaxed);
                vec![Err(Error::Unsupported {
                    model: "bootstrap".into(),
                    kpi: "(all)".into(),
                    reason: format!("a resample failed unexpectedly (a bug: please report it): {what}"),
                })]
            });
            let _ = tx.send(out);
        });
        loop {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(out) => break out,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Err(e) = control.checkpoint() {
                        stop.store(true, Ordering::Relaxed);
                        // Wait for the workers to notice, then report the interruption.
                        let _ = rx.recv();
                        return Err(e);
                    }
                    control.progress("bootstrap", done.load(Ordering::Relaxed), total);
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(Error::Unsupported {
                        model: "bootstrap".into(),
                        kpi: "(all)".into(),
                        reason: "a resampling thread stopped without a result".into(),
                    })
                }
            }
        }
        .into_iter()
        .collect::<Result<Vec<Option<Draw>>>>()
    })?;
    control.progress("bootstrap", total, total);
    let mut boot = Bootstrap {
        settings: settings.clone(),
        unit: if people { Unit::People } else { Unit::Paths },
        conversions: Vec::with_capacity(outcome.len()),
        value: Vec::with_capacity(outcome.len()),
        failed: Vec::new(),
    };
    for (r, d) in outcome.into_iter().enumerate() {
        // A missing draw means the run was stopped: the checkpoint says so.
        let d = d.ok_or(Error::Interrupted)?;
        for pi in d.failed {
            let p = &plan.rows[pi];
            boot.failed.push(Failure {
                resample: r,
                model: plan.labels[p.model].clone(),
                kpi: j.kpis().name(p.kpi).to_owned(),
            });
        }
        boot.conversions.push(d.conversions);
        boot.value.push(d.value);
    }
    Ok(boot)
}

/// Resample `r`: draws the weights, runs every model on every KPI.
#[allow(clippy::too_many_arguments)]
fn one_resample(
    plan: &Plan<'_>,
    sources: &[Source],
    person_keys: Option<&[u64]>,
    warms: &[Option<Box<dyn std::any::Any + Send + Sync>>],
    seed: u64,
    r: usize,
    flag: &Flag<'_>,
) -> Result<Draw> {
    let j = plan.journeys;
    let base = resample_base(seed, r);
    let mut draw =
        Draw { conversions: vec![0.0; plan.n_rows], value: vec![0.0; plan.n_rows], failed: Vec::new() };
    // People: one weight per person for every KPI.
    let people_weights = j.timelines().zip(j.persons()).zip(person_keys).map(|((t, persons), keys)| {
        let w: Vec<f64> = keys.iter().map(|&k| stream(base, k).poisson(1.0) as f64).collect();
        let unseen = t.population.map_or(0.0, |pop| {
            stream(base, UNSEEN_KEY).poisson(pop.saturating_sub(t.persons() as u64) as f64) as f64
        });
        let (c, v, n) = (j.conversions(), j.values(), j.nulls());
        Reweight {
            conversions: persons.iter().zip(c).map(|(&p, &x)| x * w[p as usize]).collect(),
            value: persons.iter().zip(v).map(|(&p, &x)| x * w[p as usize]).collect(),
            nulls: persons.iter().zip(n).map(|(&p, &x)| x * w[p as usize]).collect(),
            persons: Some(w),
            unseen,
        }
    });
    // The resampled conversions of every KPI in the period (timeline models), in one pass over people.
    let mut period_conv = vec![0.0; sources.len()];
    if let (Some(t), Some(Reweight { persons: Some(w), .. })) = (j.timelines(), people_weights.as_ref()) {
        for (p, &wp) in w.iter().enumerate() {
            if wp > 0.0 {
                let person = t.person(p);
                for (&kpi, &c) in person.conv_kpi.iter().zip(person.conv_count) {
                    period_conv[kpi as usize] += c * wp;
                }
            }
        }
    }
    for (k, source) in sources.iter().enumerate() {
        flag.checkpoint()?;
        let k = k as u32;
        let owned;
        let (view, rw) = match source {
            Source::Paths { store, players, keys } => {
                let (c, v, n) = (store.conversions(), store.values(), store.nulls());
                let mut rw = Reweight {
                    conversions: vec![0.0; keys.len()],
                    value: vec![0.0; keys.len()],
                    nulls: vec![0.0; keys.len()],
                    persons: None,
                    unseen: 0.0,
                };
                for (i, &key) in keys.iter().enumerate() {
                    let mut g = stream(base, key);
                    let dc = g.poisson(c[i]) as f64;
                    rw.conversions[i] = dc;
                    rw.value[i] = if c[i] > 0.0 { v[i] * dc / c[i] } else { 0.0 };
                    rw.nulls[i] = g.poisson(n[i]) as f64;
                }
                owned = rw;
                (KpiView::new(store, k, None, players, plan.names).with_by(plan.by), &owned)
            }
            Source::People { rows } => {
                let rw = people_weights.as_ref().expect("people mode has weights");
                (KpiView::new(j, k, rows.as_deref(), plan.players, plan.names).with_by(plan.by), rw)
            }
        };
        let view = view.with_reweight(rw);
        let total_conv: f64 = view.iter().map(|(x, _)| x.conversions).sum();
        let period_conv = period_conv.get(k as usize).copied().unwrap_or(0.0);
        for (pi, plan_rows) in plan.rows.iter().enumerate().filter(|(_, p)| p.kpi == k) {
            let spec = &plan.models[plan_rows.model];
            let drawn = with_drawn_lift_tests(spec, base);
            let model = drawn.as_ref().unwrap_or(spec).model();
            let has_work = if model.needs_timelines() { period_conv > 0.0 } else { total_conv > 0.0 };
            let credit = if has_work {
                match model.credit_from(&view, warms[pi].as_deref(), flag) {
                    Ok(c) => c,
                    Err(Error::Interrupted) => return Err(Error::Interrupted),
                    Err(_) => {
                        draw.failed.push(pi);
                        continue;
                    }
                }
            } else {
                KpiCredit::zeros(plan.names.len())
            };
            for &(row, player) in &plan_rows.rows {
                let (c, v) = match player {
                    Some(p) => (credit.conversions[p as usize], credit.value[p as usize]),
                    None => credit.baseline.unwrap_or((0.0, 0.0)),
                };
                draw.conversions[row] = c;
                draw.value[row] = v;
            }
        }
    }
    Ok(draw)
}
