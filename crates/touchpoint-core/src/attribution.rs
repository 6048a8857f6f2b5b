//! Running models over journeys: the [`Attribution`] result and [`attribute`].
use serde::{Deserialize, Serialize};

use crate::bootstrap::{Bootstrap, Resampling, RowPlan};
use crate::error::{Error, Result};
use crate::hazard::Remote;
use crate::journeys::{Dimension, Journeys, KpiSummary, Unattributed};
use crate::model::{Control, KpiView, ModelSpec, Table, Unattended};
use crate::vocab::BASELINE_PLAYER;

/// Credit of one player for one KPI under one model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Credit {
    /// Model label.
    pub model: String,
    /// KPI name.
    pub kpi: String,
    /// Player name in the `by` dimension.
    pub player: String,
    /// Credited conversions.
    pub conversions: f64,
    /// Credited value from the data (before KPI valuation).
    pub value: f64,
    /// Part of the KPI's credited conversions under the model; `None` when the KPI has none.
    pub share: Option<f64>,
    /// Lower end of the bootstrap interval of `conversions` (with intervals only).
    #[serde(default)]
    pub conversions_lower: Option<f64>,
    /// Upper end of the interval of `conversions`.
    #[serde(default)]
    pub conversions_upper: Option<f64>,
    /// Lower end of the interval of `value`.
    #[serde(default)]
    pub value_lower: Option<f64>,
    /// Upper end of the interval of `value`.
    #[serde(default)]
    pub value_upper: Option<f64>,
    /// Lower end of the interval of `share`.
    #[serde(default)]
    pub share_lower: Option<f64>,
    /// Upper end of the interval of `share`.
    #[serde(default)]
    pub share_upper: Option<f64>,
}

impl Credit {
    /// Whether the credited conversions are distinguishable from zero at the intervals' level: the
    /// interval leaves 0 out. `None` without intervals. For an incremental model it says whether
    /// the player's effect is told apart from none; credit from a rule (last touch, linear) is
    /// positive wherever the player was touched, so there it says little.
    pub fn differs_from_zero(&self) -> Option<bool> {
        match (self.conversions_lower, self.conversions_upper) {
            (Some(lo), Some(hi)) => Some(lo > 0.0 || hi < 0.0),
            _ => None,
        }
    }

    fn new(model: &str, kpi: &str, player: &str, conversions: f64, value: f64, share: Option<f64>) -> Self {
        Credit {
            model: model.to_owned(),
            kpi: kpi.to_owned(),
            player: player.to_owned(),
            conversions,
            value,
            share,
            conversions_lower: None,
            conversions_upper: None,
            value_lower: None,
            value_upper: None,
            share_lower: None,
            share_upper: None,
        }
    }
}

/// Removal effect of a player (Markov).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RemovalEffect {
    /// Model label.
    pub model: String,
    /// KPI name.
    pub kpi: String,
    /// Player name.
    pub player: String,
    /// 1 - P(conversion without the player) / P(conversion).
    pub removal_effect: f64,
    /// The same ratio on expected value.
    pub value_removal_effect: f64,
}

/// One transition probability of a Markov chain, states named by their players.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    /// Model label.
    pub model: String,
    /// KPI name.
    pub kpi: String,
    /// From state: its players joined with ` > `, or `(start)`.
    pub from: String,
    /// To state: its players joined with ` > `, or `(conversion)` / `(null)`.
    pub to: String,
    /// The players of the from state, in order (empty for `(start)`): unambiguous even when a
    /// player's name contains ` > `.
    #[serde(default)]
    pub from_players: Vec<String>,
    /// The players of the to state (empty for `(conversion)` and `(null)`).
    #[serde(default)]
    pub to_players: Vec<String>,
    /// Transition probability.
    pub probability: f64,
}

/// Standard error of a sampled credit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StandardError {
    /// Model label.
    pub model: String,
    /// KPI name.
    pub kpi: String,
    /// Player name.
    pub player: String,
    /// Standard error, in credited conversions.
    pub se: f64,
}

/// Credit booked at the position where a player first appears (ordered Shapley).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PositionCredit {
    /// Model label.
    pub model: String,
    /// KPI name.
    pub kpi: String,
    /// Player name.
    pub player: String,
    /// 1-based position of the player's first touch.
    pub position: u32,
    /// Credited conversions.
    pub conversions: f64,
    /// Credited value.
    pub value: f64,
}

/// A model run recorded in a result: its label and full parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelRecord {
    /// Label used in the tables.
    pub label: String,
    /// The model and every parameter.
    pub spec: ModelSpec,
}

/// The result of [`attribute`]: credit per (model, KPI, player), model details, and what was left out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Attribution {
    /// The player dimension.
    pub by: Dimension,
    /// The models, in the order asked.
    pub models: Vec<ModelRecord>,
    /// Credit rows: per model, per KPI, players by name.
    pub credits: Vec<Credit>,
    /// Markov removal effects.
    pub removal_effects: Vec<RemovalEffect>,
    /// Markov transition probabilities.
    pub transitions: Vec<Transition>,
    /// Standard errors of sampled models.
    pub standard_errors: Vec<StandardError>,
    /// Ordered Shapley credit by position.
    pub position_credits: Vec<PositionCredit>,
    /// Conversions without journeys (from the journeys' ingestion).
    pub unattributed: Vec<Unattributed>,
    /// The journeys' ingestion summary.
    pub summary: Vec<KpiSummary>,
    /// Touches that entered per player of the `by` dimension (name, touches), for value per touch.
    #[serde(default)]
    pub touches: Vec<(String, f64)>,
    /// Every other model output, by table name, each with `model` and `kpi` columns first (see
    /// [`crate::model::Details::tables`]).
    #[serde(default)]
    pub tables: Vec<Table>,
    /// The journeys' observation period `[start, end)`, microseconds since 1970 (event logs; None for
    /// path tables).
    #[serde(default)]
    pub period: Option<(i64, i64)>,
    /// Things the user should know.
    pub warnings: Vec<String>,
    /// The resamples, when the attribution was run with intervals.
    #[serde(default)]
    pub bootstrap: Option<Bootstrap>,
    /// What models fitted (see [`crate::model::Details::state`]), per model label and KPI.
    #[serde(default)]
    pub states: Vec<ModelState>,
}

/// A model's fitted state for one KPI ([`crate::model::Details::state`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelState {
    /// Model label.
    pub model: String,
    /// KPI name.
    pub kpi: String,
    /// The model's own encoding of its fit.
    pub state: Vec<u8>,
}

impl Attribution {
    /// The credit rows of one model label.
    pub fn model_credits<'a>(&'a self, label: &'a str) -> impl Iterator<Item = &'a Credit> + 'a {
        self.credits.iter().filter(move |c| c.model == label)
    }

    /// Credited conversions of (model, kpi, player), if such a row exists.
    pub fn conversions_of(&self, model: &str, kpi: &str, player: &str) -> Option<f64> {
        self.credits
            .iter()
            .find(|c| c.model == model && c.kpi == kpi && c.player == player)
            .map(|c| c.conversions)
    }
}

/// Labels for the specs: the bare name, or the long label where a name repeats.
fn labels(models: &[ModelSpec]) -> Result<Vec<String>> {
    let labels: Vec<String> = models
        .iter()
        .map(|m| {
            if models.iter().filter(|o| o.name() == m.name()).count() > 1 {
                m.long_label()
            } else {
                m.name().to_owned()
            }
        })
        .collect();
    for (i, l) in labels.iter().enumerate() {
        if labels[..i].contains(l) {
            return Err(Error::InvalidParameter {
                model: models[i].name(),
                parameter: "models",
                value: l.clone(),
                reason: "the same model with the same parameters is asked twice".into(),
            });
        }
    }
    Ok(labels)
}

/// Runs every model on every KPI of `journeys`, crediting players of dimension `by`.
pub fn attribute(journeys: &Journeys, models: &[ModelSpec], by: Dimension) -> Result<Attribution> {
    attribute_with(journeys, models, by, &Unattended)
}

/// [`attribute`] with progress reports and interruption.
pub fn attribute_with(
    journeys: &Journeys,
    models: &[ModelSpec],
    by: Dimension,
    control: &dyn Control,
) -> Result<Attribution> {
    attribute_impl(journeys, models, by, None, None, control)
}

/// [`attribute_with`] on journeys gathered from parts of a log held elsewhere (Spark partitions,
/// buckets on disk), whose person timelines stay with the parts: models whose
/// [`crate::Model::reads_remote`] is true (timeline models, time decay) read the parts through
/// `remote` (see [`crate::hazard::parts`]), path models run on the journeys as usual.
pub fn attribute_remote(
    journeys: &Journeys,
    models: &[ModelSpec],
    by: Dimension,
    remote: &dyn Remote,
    control: &dyn Control,
) -> Result<Attribution> {
    attribute_impl(journeys, models, by, None, Some(remote), control)
}

/// [`attribute_with`], plus bootstrap intervals on every credit row (see [`crate::bootstrap`]): the
/// resamples run on `threads` threads (0: one per core) and are kept in
/// [`Attribution::bootstrap`]. The result does not depend on `threads` or on the journeys' order.
pub fn attribute_with_intervals(
    journeys: &Journeys,
    models: &[ModelSpec],
    by: Dimension,
    resampling: &Resampling,
    threads: usize,
    control: &dyn Control,
) -> Result<Attribution> {
    resampling.validate()?;
    attribute_impl(journeys, models, by, Some((resampling, threads)), None, control)
}

fn attribute_impl(
    journeys: &Journeys,
    models: &[ModelSpec],
    by: Dimension,
    resampling: Option<(&Resampling, usize)>,
    remote: Option<&dyn Remote>,
    control: &dyn Control,
) -> Result<Attribution> {
    if models.is_empty() {
        return Err(Error::InvalidParameter {
            model: "?",
            parameter: "models",
            value: "[]".into(),
            reason: "name at least one model".into(),
        });
    }
    for m in models {
        m.model().validate()?;
        if m.model().needs_timelines() && journeys.timelines().is_none() && remote.is_none() {
            if let Some(e) = journeys.aggregated_error(&format!("model `{}`", m.name())) {
                return Err(e);
            }
            return Err(Error::NeedsTimelines { model: m.name().to_owned() });
        }
    }
    journeys.require_dimension(by)?;
    let labels = labels(models)?;
    if journeys.is_empty() && journeys.timelines().is_none() {
        return Err(Error::NoJourneys);
    }
    let players = journeys.player_column(by);
    let names = journeys.player_names(by);
    let groups = (journeys.kpis().len() > 1).then(|| journeys.rows_by_kpi());
    let n_kpis = journeys.kpis().len();

    let mut out = Attribution {
        by,
        models: models
            .iter()
            .zip(&labels)
            .map(|(spec, label)| ModelRecord { label: label.clone(), spec: spec.clone() })
            .collect(),
        credits: Vec::new(),
        removal_effects: Vec::new(),
        transitions: Vec::new(),
        standard_errors: Vec::new(),
        position_credits: Vec::new(),
        unattributed: journeys.unattributed().to_vec(),
        summary: journeys.summary(),
        touches: {
            let t = journeys.input_touches(by);
            let mut rows: Vec<(String, f64)> =
                names.iter().cloned().zip(t).filter(|(_, t)| *t > 0.0).collect();
            rows.sort_by(|a, b| a.0.cmp(&b.0));
            rows
        },
        tables: Vec::new(),
        period: journeys.timelines().map(|t| t.period),
        warnings: Vec::new(),
        bootstrap: None,
        states: Vec::new(),
    };
    let mut plans: Vec<RowPlan> = Vec::new();

    out.warnings.extend(journeys.warnings().iter().cloned());
    if out.period.is_none() {
        // An event log read in parts (buckets, Spark): the timelines are elsewhere. The span of its
        // journeys' conversions stands for the period, so that credit from other sources is taken
        // over the same time; said in the warnings.
        let times = journeys.conversion_times().unwrap_or(&[]);
        if let (Some(lo), Some(hi)) = (times.iter().min(), times.iter().max()) {
            out.period = Some((*lo, hi + 1));
            out.warnings.push(
                "the observation period of these journeys (read in parts) is taken as the span of their conversions, for combining them with media-mix credit"
                    .into(),
            );
        }
    }
    use crate::journeys::OUTSIDE_PERIOD;
    for sum in out.summary.iter().filter(|s| s.unattributed > 0.0) {
        let mine = || out.unattributed.iter().filter(|u| u.kpi == sum.kpi);
        let outside: f64 = mine().filter(|u| u.reason == OUTSIDE_PERIOD).map(|u| u.conversions).sum();
        let inside = sum.unattributed - outside;
        if outside > 0.0 {
            out.warnings.push(format!(
                "KPI `{}`: {} of {} conversions lie outside the observation period and are left out by every model (the unattributed table's `{OUTSIDE_PERIOD}`)",
                sum.kpi,
                fmt_count(outside),
                fmt_count(sum.conversions),
            ));
        }
        if inside <= 0.0 {
            continue;
        }
        let reasons: Vec<String> = mine()
            .filter(|u| u.reason != OUTSIDE_PERIOD)
            .map(|u| format!("{} {}", fmt_count(u.conversions), u.reason))
            .collect();
        let in_period = sum.conversions - outside;
        out.warnings.push(format!(
            "KPI `{}`: {} of {} conversions ({:.1}%) are unattributed ({}): no journey carries them, so path models leave them out of their credit (timeline models credit them); see the unattributed table",
            sum.kpi,
            fmt_count(inside),
            fmt_count(in_period),
            100.0 * inside / in_period,
            reasons.join(", ")
        ));
    }

    let total_steps = (models.len() * n_kpis) as u64;
    for k in 0..n_kpis as u32 {
        let rows = groups.as_ref().map(|g| g[k as usize].as_slice());
        let mut view = KpiView::new(journeys, k, rows, &players, &names).with_by(by);
        if let Some(r) = remote {
            view = view.with_remote(r);
        }
        // Players present in this KPI's journeys, listed by name.
        let mut present = vec![false; names.len()];
        let (mut total_conv, mut total_nulls, mut total_value) = (0.0, 0.0, 0.0);
        if let Some(all) = view.all_players() {
            // The whole store (one KPI): flat passes, the same sums in the same order.
            let add = |v: &[f64]| v.iter().fold(0.0, |a, b| a + b);
            (total_conv, total_nulls, total_value) =
                (add(journeys.conversions()), add(journeys.nulls()), add(journeys.values()));
            // Stops once every player is found, which is within the first journeys, mostly.
            let mut missing = names.len();
            for &p in all {
                if !present[p as usize] {
                    present[p as usize] = true;
                    missing -= 1;
                    if missing == 0 {
                        break;
                    }
                }
            }
        } else {
            for (ps, conversions, value, nulls) in view.paths() {
                total_conv += conversions;
                total_nulls += nulls;
                total_value += value;
                for &p in ps {
                    present[p as usize] = true;
                }
            }
        }
        for (what, value) in
            [("conversions", total_conv), ("null weights", total_nulls), ("values", total_value)]
        {
            if !value.is_finite() || (what != "values" && !(total_conv + total_nulls).is_finite()) {
                return Err(Error::Overflow { kpi: view.kpi_name.to_owned(), what, value });
            }
        }
        let mut order: Vec<u32> = (0..names.len() as u32).filter(|&p| present[p as usize]).collect();
        order.sort_by(|&a, &b| names[a as usize].cmp(&names[b as usize]));
        // Timeline models credit every conversion in the period, journeys or not.
        // With remote timelines: every conversion of the log is in the period, journey or not.
        let period_conv = match (journeys.timelines(), remote) {
            (Some(t), _) => t.conversions_of(k).0,
            (None, Some(_)) => {
                out.summary.iter().find(|s| s.kpi == view.kpi_name).map_or(0.0, |s| s.conversions)
            }
            (None, None) => 0.0,
        };
        if total_conv <= 0.0 && period_conv <= 0.0 {
            out.warnings.push(format!(
                "KPI `{}` has no attributed conversions: every player gets zero credit and a null share",
                view.kpi_name
            ));
        }

        for (mi, (spec, label)) in models.iter().zip(&labels).enumerate() {
            control.checkpoint()?;
            control.progress("attribute", (k as usize * models.len() + mi) as u64, total_steps);
            let timeline_model = spec.model().needs_timelines();
            let has_work =
                if timeline_model { period_conv > 0.0 } else { !view.is_empty() && total_conv > 0.0 };
            let credit = if has_work {
                spec.model().credit(&view, control)?
            } else {
                crate::model::KpiCredit::zeros(names.len())
            };
            // A timeline model may credit players whose touches sit in no journey.
            let mut order = order.clone();
            if timeline_model {
                let extra: Vec<u32> = (0..names.len() as u32)
                    .filter(|&p| !present[p as usize] && credit.conversions[p as usize] != 0.0)
                    .collect();
                if !extra.is_empty() {
                    order.extend(extra);
                    order.sort_by(|&a, &b| names[a as usize].cmp(&names[b as usize]));
                }
            }
            check_finite(&credit, &order, &names, label, view.kpi_name)?;
            out.warnings
                .extend(credit.warnings.iter().map(|w| format!("{label}, KPI `{}`: {w}", view.kpi_name)));
            let credited: f64 = order.iter().map(|&p| credit.conversions[p as usize]).sum();
            let mut plan = RowPlan { kpi: k, model: mi, rows: Vec::with_capacity(order.len() + 1) };
            for &p in &order {
                let c = credit.conversions[p as usize];
                plan.rows.push((out.credits.len(), Some(p)));
                out.credits.push(Credit::new(
                    label,
                    view.kpi_name,
                    &names[p as usize],
                    c,
                    credit.value[p as usize],
                    (credited > 0.0).then(|| c / credited),
                ));
            }
            if let Some((conversions, value)) = credit.baseline {
                plan.rows.push((out.credits.len(), None));
                out.credits.push(Credit::new(
                    label,
                    view.kpi_name,
                    BASELINE_PLAYER,
                    conversions,
                    value,
                    None,
                ));
            }
            plans.push(plan);
            let row = |p: u32| (label.clone(), view.kpi_name.to_owned(), names[p as usize].clone());
            let d = &credit.details;
            if let Some(state) = &d.state {
                out.states.push(ModelState {
                    model: label.clone(),
                    kpi: view.kpi_name.to_owned(),
                    state: state.clone(),
                });
            }
            if let Some(re) = &d.removal_effects {
                for &p in &order {
                    let (model, kpi, player) = row(p);
                    let (removal_effect, value_removal_effect) = re[p as usize];
                    out.removal_effects.push(RemovalEffect {
                        model,
                        kpi,
                        player,
                        removal_effect,
                        value_removal_effect,
                    });
                }
            }
            if let Some(tr) = &d.transitions {
                let state = |players: &[String], special: &str| {
                    if players.is_empty() {
                        special.to_owned()
                    } else {
                        players.join(" > ")
                    }
                };
                out.transitions.extend(tr.iter().map(|(from, to, probability)| Transition {
                    model: label.clone(),
                    kpi: view.kpi_name.to_owned(),
                    from: state(&from.0, &from.1),
                    to: state(&to.0, &to.1),
                    from_players: from.0.clone(),
                    to_players: to.0.clone(),
                    probability: *probability,
                }));
            }
            if let Some(se) = &d.standard_errors {
                for &p in &order {
                    let (model, kpi, player) = row(p);
                    out.standard_errors.push(StandardError { model, kpi, player, se: se[p as usize] });
                }
            }
            for t in &d.tables {
                let h = t.height();
                let mut full = Table::new(&t.name)
                    .with("model", crate::model::Values::Text(vec![label.clone(); h]))
                    .with("kpi", crate::model::Values::Text(vec![view.kpi_name.to_owned(); h]));
                full.columns.extend(t.columns.iter().cloned());
                match out.tables.iter_mut().find(|x| x.name == t.name) {
                    Some(existing) => {
                        if !existing.append(full) {
                            out.warnings.push(format!(
                                "{label}, KPI `{}`: table `{}` has other columns than the same table of \
                                 an earlier model or KPI, and is left out",
                                view.kpi_name, t.name
                            ));
                        }
                    }
                    None => out.tables.push(full),
                }
            }
            if let Some(pc) = &d.position_credits {
                let mut pc = pc.clone();
                pc.sort_by(|a, b| names[a.0 as usize].cmp(&names[b.0 as usize]).then(a.1.cmp(&b.1)));
                for (p, position, conversions, value) in pc {
                    let (model, kpi, player) = row(p);
                    out.position_credits.push(PositionCredit {
                        model,
                        kpi,
                        player,
                        position,
                        conversions,
                        value,
                    });
                }
            }
        }
    }
    control.progress("attribute", total_steps, total_steps);
    if let Some((settings, threads)) = resampling {
        let plan = crate::bootstrap::Plan {
            journeys,
            models,
            labels: &labels,
            by,
            players: &players,
            names: &names,
            groups: groups.as_deref(),
            rows: &plans,
            n_rows: out.credits.len(),
        };
        let boot = crate::bootstrap::run(&plan, settings, threads, control)?;
        fill_intervals(&mut out, &plans, &boot);
        out.bootstrap = Some(boot);
    }
    Ok(out)
}

/// Sets every credit row's interval from the resamples, and warns of resamples a model failed on.
fn fill_intervals(out: &mut Attribution, plans: &[RowPlan], boot: &Bootstrap) {
    let n = boot.conversions.len();
    for m in &out.models {
        let failed = boot.usable(&m.label, None).iter().filter(|ok| !**ok).count();
        if failed > 0 {
            out.warnings.push(format!(
                "{}: {failed} of {n} resamples could not be computed for some KPI (the model failed on them, \
                 e.g. a resample without null journeys) and are left out of its intervals for that KPI",
                m.label
            ));
        }
    }
    for plan in plans {
        let label = out.models[plan.model].label.clone();
        let kpi = out.credits.get(plan.rows.first().map_or(0, |r| r.0)).map(|c| c.kpi.clone());
        let usable = boot.usable(&label, kpi.as_deref());
        let ok: Vec<usize> = (0..n).filter(|&r| usable[r]).collect();
        // The players' credited conversions per resample, for shares.
        let totals: Vec<f64> = ok
            .iter()
            .map(|&r| {
                plan.rows.iter().filter(|(_, p)| p.is_some()).map(|&(i, _)| boot.conversions[r][i]).sum()
            })
            .collect();
        for &(i, player) in &plan.rows {
            let mut conv: Vec<f64> = ok.iter().map(|&r| boot.conversions[r][i]).collect();
            let mut value: Vec<f64> = ok.iter().map(|&r| boot.value[r][i]).collect();
            let c = &mut out.credits[i];
            (c.conversions_lower, c.conversions_upper) =
                crate::bootstrap::interval(&mut conv, &boot.settings).unzip();
            (c.value_lower, c.value_upper) = crate::bootstrap::interval(&mut value, &boot.settings).unzip();
            if player.is_some() && c.share.is_some() {
                let mut share: Vec<f64> = ok
                    .iter()
                    .zip(&totals)
                    .filter(|(_, &t)| t > 0.0)
                    .map(|(&r, &t)| boot.conversions[r][i] / t)
                    .collect();
                (c.share_lower, c.share_upper) =
                    crate::bootstrap::interval(&mut share, &boot.settings).unzip();
            }
        }
    }
}

/// Runs [`attribute`] `repeat` times and returns the seconds of each run: the baseline against which a
/// binding's overhead is measured (`benches/python_overhead.py`).
pub fn time_attribute(
    journeys: &Journeys,
    models: &[ModelSpec],
    by: Dimension,
    repeat: usize,
) -> Result<Vec<f64>> {
    (0..repeat)
        .map(|_| {
            let t0 = std::time::Instant::now();
            attribute(journeys, models, by).map(|_| t0.elapsed().as_secs_f64())
        })
        .collect()
}

/// A count for messages: whole numbers without decimals.
fn fmt_count(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}

/// Refuses a credit with an infinite or NaN number (an f64 overflow on huge weights or values).
fn check_finite(
    credit: &crate::model::KpiCredit,
    order: &[u32],
    names: &[String],
    label: &str,
    kpi: &str,
) -> Result<()> {
    let bad = |player: &str, what: &'static str, value: f64| Error::NonFinite {
        model: label.to_owned(),
        kpi: kpi.to_owned(),
        player: player.to_owned(),
        what,
        value,
    };
    for &p in order {
        let (c, v) = (credit.conversions[p as usize], credit.value[p as usize]);
        if !c.is_finite() {
            return Err(bad(&names[p as usize], "credited conversions", c));
        }
        if !v.is_finite() {
            return Err(bad(&names[p as usize], "credited value", v));
        }
    }
    if let Some((c, v)) = credit.baseline {
        if !c.is_finite() || !v.is_finite() {
            return Err(bad(BASELINE_PLAYER, "baseline", if c.is_finite() { v } else { c }));
        }
    }
    Ok(())
}

impl Attribution {
    /// A plain-text table per KPI: one row per player, one column per model, credited conversions
    /// (and a total row), for terminals and logs.
    pub fn comparison_table(&self) -> String {
        use std::fmt::Write;
        let labels: Vec<&str> = self.models.iter().map(|m| m.label.as_str()).collect();
        let mut kpis: Vec<&str> = Vec::new();
        for c in &self.credits {
            if !kpis.contains(&c.kpi.as_str()) {
                kpis.push(&c.kpi);
            }
        }
        let mut out = String::new();
        for kpi in kpis {
            let mut players: Vec<&str> = Vec::new();
            for c in self.credits.iter().filter(|c| c.kpi == kpi) {
                if !players.contains(&c.player.as_str()) {
                    players.push(&c.player);
                }
            }
            let width = players.iter().map(|p| p.len()).max().unwrap_or(0).max(self.by.as_str().len()).max(5);
            let cell = |c: &Credit| match (c.conversions_lower, c.conversions_upper) {
                (Some(lo), Some(hi)) => format!("{:.2} [{lo:.2}, {hi:.2}]", c.conversions),
                _ => format!("{:.2}", c.conversions),
            };
            let cols: Vec<usize> = labels
                .iter()
                .map(|l| {
                    let cells =
                        self.credits.iter().filter(|c| c.kpi == kpi && c.model == *l).map(|c| cell(c).len());
                    cells.max().unwrap_or(0).max(l.len()).max(10)
                })
                .collect();
            match &self.bootstrap {
                Some(b) => {
                    let _ = writeln!(
                        out,
                        "KPI `{kpi}`: credited conversions by {} [{:.0}% interval, {} resamples of {}]",
                        self.by,
                        100.0 * b.settings.level,
                        b.settings.resamples,
                        b.unit.as_str()
                    );
                }
                None => {
                    let _ = writeln!(out, "KPI `{kpi}`: credited conversions by {}", self.by);
                }
            }
            let _ = write!(out, "{:<width$}", self.by.as_str());
            for (l, w) in labels.iter().zip(&cols) {
                let _ = write!(out, "  {l:>w$}");
            }
            out.push('\n');
            let mut totals = vec![0.0; labels.len()];
            for p in &players {
                let _ = write!(out, "{p:<width$}");
                for (i, (l, w)) in labels.iter().zip(&cols).enumerate() {
                    let c = self.credits.iter().find(|c| c.kpi == kpi && c.model == *l && c.player == *p);
                    totals[i] += c.map_or(0.0, |c| c.conversions);
                    let text = c.map_or_else(|| format!("{:.2}", 0.0), cell);
                    let _ = write!(out, "  {text:>w$}");
                }
                out.push('\n');
            }
            let _ = write!(out, "{:<width$}", "total");
            for (t, w) in totals.iter().zip(&cols) {
                let _ = write!(out, "  {t:>w$.2}");
            }
            out.push_str("\n\n");
        }
        out
    }
}

/// The paired difference between two models' credit of one player, over the same resamples.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Difference {
    /// KPI name.
    pub kpi: String,
    /// Player name (or `(baseline)`).
    pub player: String,
    /// Credited conversions under the first model.
    pub conversions_a: f64,
    /// Credited conversions under the second model.
    pub conversions_b: f64,
    /// `conversions_a - conversions_b`.
    pub difference: f64,
    /// Lower end of the difference's interval (`None` when no resample has both models).
    pub lower: Option<f64>,
    /// Upper end of the difference's interval.
    pub upper: Option<f64>,
    /// Whether the difference's interval leaves out 0.
    pub differs: bool,
    /// Difference of the shares (`None` for the baseline, or a KPI without credit).
    pub share_difference: Option<f64>,
    /// Lower end of the share difference's interval.
    pub share_lower: Option<f64>,
    /// Upper end of the share difference's interval.
    pub share_upper: Option<f64>,
    /// Whether the share difference's interval leaves out 0.
    pub share_differs: Option<bool>,
}

impl Attribution {
    /// Compares models `a` and `b` (labels) per KPI and player by their paired difference over the
    /// attribution's resamples: both models' credit comes from the same draws, so the interval of the
    /// difference is that of a paired bootstrap. Players credited by one model only count 0 under the
    /// other. Resamples on which either model failed are left out.
    pub fn compare(&self, a: &str, b: &str) -> Result<Vec<Difference>> {
        let labels: Vec<&str> = self.models.iter().map(|m| m.label.as_str()).collect();
        for (which, label) in [("a", a), ("b", b)] {
            if !labels.contains(&label) {
                return Err(Error::InvalidOption {
                    option: if which == "a" { "a" } else { "b" },
                    value: label.to_owned(),
                    reason: format!("no such model in this result; it has: {}", labels.join(", ")),
                });
            }
        }
        let boot = self.bootstrap.as_ref().ok_or_else(|| Error::InvalidOption {
            option: "compare",
            value: format!("{a} vs {b}"),
            reason:
                "this attribution has no resamples: run it with intervals (attribute(..., intervals=0.9))"
                    .into(),
        })?;
        let mut kpis: Vec<&str> = Vec::new();
        for c in &self.credits {
            if !kpis.contains(&c.kpi.as_str()) {
                kpis.push(&c.kpi);
            }
        }
        let mut out = Vec::new();
        for kpi in kpis {
            let (ua, ub) = (boot.usable(a, Some(kpi)), boot.usable(b, Some(kpi)));
            let ok: Vec<usize> = (0..boot.conversions.len()).filter(|&r| ua[r] && ub[r]).collect();
            let rows = |m: &str| -> Vec<usize> {
                (0..self.credits.len())
                    .filter(|&i| self.credits[i].model == m && self.credits[i].kpi == kpi)
                    .collect()
            };
            let (ra, rb) = (rows(a), rows(b));
            let total = |rows: &[usize], r: Option<usize>| -> f64 {
                rows.iter()
                    .filter(|&&i| self.credits[i].player != BASELINE_PLAYER)
                    .map(|&i| r.map_or(self.credits[i].conversions, |r| boot.conversions[r][i]))
                    .sum()
            };
            let mut players: Vec<&str> =
                ra.iter().chain(&rb).map(|&i| self.credits[i].player.as_str()).collect();
            players.sort_unstable();
            players.dedup();
            // Players first by name, the baseline last.
            players.sort_by_key(|p| *p == BASELINE_PLAYER);
            let (ta, tb): (Vec<f64>, Vec<f64>) =
                ok.iter().map(|&r| (total(&ra, Some(r)), total(&rb, Some(r)))).unzip();
            let (pa, pb) = (total(&ra, None), total(&rb, None));
            for player in players {
                let find = |rows: &[usize]| rows.iter().copied().find(|&i| self.credits[i].player == player);
                let (ia, ib) = (find(&ra), find(&rb));
                let at = |i: Option<usize>, r: Option<usize>| {
                    i.map_or(0.0, |i| r.map_or(self.credits[i].conversions, |r| boot.conversions[r][i]))
                };
                let difference = at(ia, None) - at(ib, None);
                let mut diffs: Vec<f64> = ok.iter().map(|&r| at(ia, Some(r)) - at(ib, Some(r))).collect();
                let (lower, upper) = crate::bootstrap::interval(&mut diffs, &boot.settings).unzip();
                let is_player = player != BASELINE_PLAYER;
                let share = |x: f64, t: f64| (t > 0.0).then(|| x / t);
                let share_difference =
                    is_player.then(|| Some(share(at(ia, None), pa)? - share(at(ib, None), pb)?)).flatten();
                let share_interval = share_difference.and_then(|_| {
                    let mut d: Vec<f64> = ok
                        .iter()
                        .enumerate()
                        .filter_map(|(n, &r)| {
                            Some(share(at(ia, Some(r)), ta[n])? - share(at(ib, Some(r)), tb[n])?)
                        })
                        .collect();
                    crate::bootstrap::interval(&mut d, &boot.settings)
                });
                out.push(Difference {
                    kpi: kpi.to_owned(),
                    player: player.to_owned(),
                    conversions_a: at(ia, None),
                    conversions_b: at(ib, None),
                    difference,
                    lower,
                    upper,
                    differs: lower.is_some_and(|l| l > 0.0) || upper.is_some_and(|u| u < 0.0),
                    share_difference,
                    share_lower: share_interval.map(|x| x.0),
                    share_upper: share_interval.map(|x| x.1),
                    share_differs: share_interval.map(|(l, u)| l > 0.0 || u < 0.0),
                });
            }
        }
        Ok(out)
    }
}

/// One row of [`journey_credits`], with names.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct JourneyCreditRow<'a> {
    /// Model label.
    pub model: &'a str,
    /// KPI name.
    pub kpi: &'a str,
    /// The journey (index in the store); `None` for a timeline model's conversion record.
    pub journey: Option<usize>,
    /// The person's input id (or timeline index when the reader kept none), when known.
    pub person: Option<crate::timelines::PersonKey<'a>>,
    /// Conversion time (microseconds since the Unix epoch, UTC), when known.
    pub time: Option<i64>,
    /// Player name, or `(baseline)`.
    pub player: &'a str,
    /// Credited conversions.
    pub conversions: f64,
    /// Credited value.
    pub value: f64,
}

/// Per (model, KPI, player): the journey rows' sum next to the aggregate credit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JourneyCreditGap {
    /// Model label.
    pub model: String,
    /// KPI name.
    pub kpi: String,
    /// Player name, or `(baseline)`.
    pub player: String,
    /// Sum of the player's journey rows.
    pub journeys: f64,
    /// The player's credit in the attribution.
    pub credit: f64,
    /// `journeys - credit`: zero (to rounding) for models whose rule splits journeys directly.
    pub gap: f64,
}

/// The credit of the models `labels` (every model when empty) journey by journey: `emit` gets one row
/// per (journey, player) with credit (see [`crate::Model::journey_credits`] for each model's rule), in
/// KPI order, then journey order. `journeys` must be the store `attribution` was computed from.
/// Returns, per model, KPI and player, the rows' sum against the aggregate credit.
pub fn journey_credits(
    journeys: &Journeys,
    attribution: &Attribution,
    labels: &[&str],
    control: &dyn Control,
    emit: &mut dyn FnMut(&JourneyCreditRow<'_>),
) -> Result<Vec<JourneyCreditGap>> {
    journey_credits_impl(journeys, attribution, labels, None, control, emit)
}

/// [`journey_credits`] of one part of a log held in parts (buckets of people kept on disk), whose
/// attribution was computed on the journeys gathered from all parts: players the attribution credits
/// that the part lacks are skipped, and journeys are numbered from `first_journey` (the journeys of
/// the parts before). The returned rows' sums are the part's: add them over the parts with
/// [`add_part_gaps`]. Timeline models need the fit the attribution keeps ([`Attribution::states`]);
/// without it they are refused.
pub fn journey_credits_of_part(
    journeys: &Journeys,
    attribution: &Attribution,
    labels: &[&str],
    first_journey: usize,
    control: &dyn Control,
    emit: &mut dyn FnMut(&JourneyCreditRow<'_>),
) -> Result<Vec<JourneyCreditGap>> {
    journey_credits_impl(journeys, attribution, labels, Some(first_journey), control, emit)
}

/// Adds a part's gaps (from [`journey_credits_of_part`]) into `total`, by model, KPI and player; the
/// gap is the summed rows less the credit. Sort `total` with [`sort_gaps`] when every part is in.
pub fn add_part_gaps(total: &mut Vec<JourneyCreditGap>, part: Vec<JourneyCreditGap>) {
    let mut at: std::collections::HashMap<(String, String, String), usize> = total
        .iter()
        .enumerate()
        .map(|(i, t)| ((t.model.clone(), t.kpi.clone(), t.player.clone()), i))
        .collect();
    for g in part {
        match at.get(&(g.model.clone(), g.kpi.clone(), g.player.clone())) {
            Some(&i) => {
                let t = &mut total[i];
                t.journeys += g.journeys;
                t.gap = t.journeys - t.credit;
            }
            None => {
                at.insert((g.model.clone(), g.kpi.clone(), g.player.clone()), total.len());
                total.push(g);
            }
        }
    }
}

/// Gaps in the attribution's model order, then by KPI and player name, `(baseline)` last.
pub fn sort_gaps(gaps: &mut [JourneyCreditGap], attribution: &Attribution) {
    let rank = |m: &str| attribution.models.iter().position(|r| r.label == m).unwrap_or(usize::MAX);
    gaps.sort_by(|a, b| {
        (rank(&a.model), &a.kpi, a.player == BASELINE_PLAYER, &a.player).cmp(&(
            rank(&b.model),
            &b.kpi,
            b.player == BASELINE_PLAYER,
            &b.player,
        ))
    });
}

fn journey_credits_impl(
    journeys: &Journeys,
    attribution: &Attribution,
    labels: &[&str],
    part: Option<usize>,
    control: &dyn Control,
    emit: &mut dyn FnMut(&JourneyCreditRow<'_>),
) -> Result<Vec<JourneyCreditGap>> {
    let known: Vec<&str> = attribution.models.iter().map(|m| m.label.as_str()).collect();
    for l in labels {
        if !known.contains(l) {
            return Err(Error::InvalidOption {
                option: "model",
                value: (*l).to_owned(),
                reason: format!("that model was not run in this attribution; it has: {}", known.join(", ")),
            });
        }
    }
    if let Some(e) = journeys.aggregated_error("per-journey credit") {
        return Err(e);
    }
    let by = attribution.by;
    journeys.require_dimension(by)?;
    for c in attribution.credits.iter().filter(|_| part.is_none()) {
        if journeys.kpis().get(&c.kpi).is_none() {
            return Err(Error::InvalidOption {
                option: "journeys",
                value: c.kpi.clone(),
                reason:
                    "these journeys have no such KPI: pass the journeys the attribution was computed from"
                        .into(),
            });
        }
    }
    let players = journeys.player_column(by);
    let names = journeys.player_names(by);
    let index: std::collections::HashMap<&str, u32> =
        names.iter().enumerate().map(|(i, n)| (n.as_str(), i as u32)).collect();
    let groups = (journeys.kpis().len() > 1).then(|| journeys.rows_by_kpi());
    let timelines = journeys.timelines();
    let mut gaps = Vec::new();
    for m in &attribution.models {
        if !labels.is_empty() && !labels.contains(&m.label.as_str()) {
            continue;
        }
        let model = m.spec.model();
        let fitted = |kpi: &str| {
            attribution.states.iter().find(|s| s.model == m.label && s.kpi == kpi).map(|s| s.state.clone())
        };
        let all_fitted = journeys.kpis().names().iter().all(|k| fitted(k).is_some());
        if part.is_some() && model.needs_timelines() && !all_fitted {
            return Err(Error::Unsupported {
                model: m.label.clone(),
                kpi: journeys.kpis().names().join(", "),
                reason:
                    "its per-conversion credit on journeys kept in parts (buckets on disk) needs the fitted \
                     parameters, which this attribution does not carry: run tp.attribute again on these \
                     journeys, or ask for the other models' rows (model=...)"
                        .into(),
            });
        }
        for k in 0..journeys.kpis().len() as u32 {
            let rows = groups.as_ref().map(|g| g[k as usize].as_slice());
            let view = KpiView::new(journeys, k, rows, &players, &names).with_by(by);
            let kpi = view.kpi_name;
            let mut credit = crate::model::KpiCredit::zeros(names.len());
            credit.details.state = fitted(kpi);
            let mut listed = Vec::new();
            for c in attribution.credits.iter().filter(|c| c.model == m.label && c.kpi == kpi) {
                match index.get(c.player.as_str()) {
                    Some(&p) => {
                        credit.conversions[p as usize] = c.conversions;
                        credit.value[p as usize] = c.value;
                        listed.push(Some(p));
                    }
                    None if c.player == BASELINE_PLAYER => {
                        credit.baseline = Some((c.conversions, c.value));
                        listed.push(None);
                    }
                    // A player of the whole log that this part never saw: no row of the part is theirs.
                    None if part.is_some() => {}
                    None => {
                        return Err(Error::InvalidOption {
                            option: "journeys",
                            value: c.player.clone(),
                            reason: format!(
                                "the attribution credits this {by}, which these journeys lack: pass the journeys \
                                 the attribution was computed from"
                            ),
                        })
                    }
                }
            }
            let has_work = if model.needs_timelines() {
                timelines.is_some_and(|t| t.conversions_of(k).0 > 0.0)
            } else {
                view.iter().any(|(j, _)| j.conversions > 0.0)
            };
            // Rows' sums per player id, the baseline last (slot `names.len()`), and which had rows.
            let slot = |p: Option<u32>| p.map_or(names.len(), |p| p as usize);
            let mut sums = vec![0.0; names.len() + 1];
            let mut seen = vec![false; names.len() + 1];
            if has_work {
                model.journey_credits(&view, &credit, control, &mut |row| {
                    sums[slot(row.player)] += row.conversions;
                    seen[slot(row.player)] = true;
                    let person = row.person.map(|p| match timelines {
                        Some(t) => t.person_key(p as usize),
                        None => crate::timelines::PersonKey::Int(i64::from(p)),
                    });
                    emit(&JourneyCreditRow {
                        model: &m.label,
                        kpi,
                        journey: row.journey.map(|j| j + part.unwrap_or(0)),
                        person,
                        time: row.time,
                        player: row.player.map_or(BASELINE_PLAYER, |p| names[p as usize].as_str()),
                        conversions: row.conversions,
                        value: row.value,
                    });
                })?;
            }
            // Players with rows but no credit row, by name, then the baseline.
            let mut extra: Vec<Option<u32>> = (0..names.len() as u32)
                .map(Some)
                .chain([None])
                .filter(|&p| seen[slot(p)] && !listed.contains(&p))
                .collect();
            extra.sort_by(|a, b| match (a, b) {
                (Some(x), Some(y)) => names[*x as usize].cmp(&names[*y as usize]),
                _ => a.is_none().cmp(&b.is_none()),
            });
            for p in listed.iter().copied().chain(extra) {
                let journeys_sum = sums[slot(p)];
                let credit_p = match p {
                    Some(p) => credit.conversions[p as usize],
                    None => credit.baseline.map_or(0.0, |b| b.0),
                };
                gaps.push(JourneyCreditGap {
                    model: m.label.clone(),
                    kpi: kpi.to_owned(),
                    player: p.map_or(BASELINE_PLAYER.to_owned(), |p| names[p as usize].clone()),
                    journeys: journeys_sum,
                    credit: credit_p,
                    gap: journeys_sum - credit_p,
                });
            }
        }
    }
    Ok(gaps)
}
