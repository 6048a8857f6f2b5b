//! The model trait, the view of one KPI's journeys that models read, and model specifications.
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::hazard::{AdditiveHazard, Remote};
use crate::journeys::{Dimension, JourneyRef, Journeys};
use crate::rules::{FirstTouch, LastNonDirect, LastTouch, Linear, PositionBased, TimeDecay};

/// Lets long work report progress and be interrupted.
pub trait Control: Sync {
    /// Called between units of work; an `Err` (usually [`Error::Interrupted`]) stops the run.
    fn checkpoint(&self) -> Result<()> {
        Ok(())
    }

    /// Reports `done` of `total` units of the named stage.
    fn progress(&self, _stage: &str, _done: u64, _total: u64) {}
}

/// A [`Control`] that never interrupts and reports nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct Unattended;

impl Control for Unattended {}

/// The journeys of one KPI, with the player id of every touch in the chosen dimension.
#[derive(Clone, Copy, Debug)]
pub struct KpiView<'a> {
    /// KPI id.
    pub kpi: u32,
    /// KPI name.
    pub kpi_name: &'a str,
    /// The whole store.
    pub journeys: &'a Journeys,
    rows: Option<&'a [u32]>,
    players: &'a [u32],
    /// Number of player ids of the dimension (ids are `0..n_players`).
    pub n_players: usize,
    /// Player names by id.
    pub player_names: &'a [String],
    /// The player dimension.
    pub by: Dimension,
    reweight: Option<&'a Reweight>,
    remote: Option<&'a dyn Remote>,
}

/// Resampled weights of a store's journeys and people: one bootstrap draw, read through a
/// [`KpiView`] (see [`KpiView::with_reweight`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reweight {
    /// Conversions per journey (by store index).
    pub conversions: Vec<f64>,
    /// Value per journey.
    pub value: Vec<f64>,
    /// Null weight per journey.
    pub nulls: Vec<f64>,
    /// How many times each timeline person is drawn (by index into the timelines), when people are
    /// resampled; timeline models read it.
    pub persons: Option<Vec<f64>>,
    /// How many people never seen in the log are drawn (of the timelines' `population` minus the
    /// people in them).
    pub unseen: f64,
}

impl<'a> KpiView<'a> {
    /// A view over `rows` (or every journey when `None`), with `players` the flat player ids.
    pub fn new(
        journeys: &'a Journeys,
        kpi: u32,
        rows: Option<&'a [u32]>,
        players: &'a [u32],
        player_names: &'a [String],
    ) -> Self {
        KpiView {
            kpi,
            kpi_name: journeys.kpis().name(kpi),
            journeys,
            rows,
            players,
            n_players: player_names.len(),
            player_names,
            by: Dimension::Channel,
            reweight: None,
            remote: None,
        }
    }

    /// The same view with every journey's weights taken from `reweight` (a bootstrap draw): journeys
    /// drawn zero times (no conversions, no nulls) are skipped by [`KpiView::iter`].
    pub fn with_reweight(self, reweight: &'a Reweight) -> Self {
        KpiView { reweight: Some(reweight), ..self }
    }

    /// The resampled weights this view reads, if any.
    pub fn reweight(&self) -> Option<&'a Reweight> {
        self.reweight
    }

    /// The same view, with the person timelines held in parts elsewhere (see [`Remote`]), for
    /// journeys that do not carry them.
    pub fn with_remote(self, remote: &'a dyn Remote) -> Self {
        KpiView { remote: Some(remote), ..self }
    }

    /// The remote holder of the timelines, if any.
    pub fn remote(&self) -> Option<&'a dyn Remote> {
        self.remote
    }

    /// The same view, crediting players of `by` (the dimension `players` was taken from).
    pub fn with_by(self, by: Dimension) -> Self {
        KpiView { by, ..self }
    }

    /// Number of journeys in the view (with a reweight, those drawn zero times included).
    pub fn len(&self) -> usize {
        self.rows.map_or(self.journeys.len(), <[u32]>::len)
    }

    /// Whether the view holds no journey.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The journeys with the player ids of their touches, in store order.
    pub fn iter(&self) -> impl Iterator<Item = (JourneyRef<'a>, &'a [u32])> + 'a {
        let journeys = self.journeys;
        let players = self.players;
        let spans = journeys.spans();
        let one = move |i: usize| (journeys.get(i), &players[spans.range(i)]);
        let rows = self.rows;
        let n = journeys.len();
        let all = rows.is_none();
        let from_rows = rows.unwrap_or(&[]).iter().map(|&i| i as usize);
        let from_all = 0..if all { n } else { 0 };
        let rw = self.reweight;
        from_all.chain(from_rows).map(one).filter_map(move |(mut j, p)| match rw {
            None => Some((j, p)),
            Some(w) => {
                j.conversions = w.conversions[j.index];
                j.value = w.value[j.index];
                j.nulls = w.nulls[j.index];
                (j.conversions > 0.0 || j.nulls > 0.0).then_some((j, p))
            }
        })
    }

    /// The player id of every touch in the store, when the view is every journey of the store
    /// without a reweight (one KPI) and the journeys own their touches: what [`KpiView::paths`]
    /// gives, flat.
    pub fn all_players(&self) -> Option<&'a [u32]> {
        let packed = self.journeys.spans().is_packed();
        (packed && self.rows.is_none() && self.reweight.is_none()).then_some(self.players)
    }

    /// The view's journeys as (player ids, conversions, value, nulls), in store order, with the
    /// weights of the reweight if any: what [`KpiView::iter`] gives without building a
    /// [`JourneyRef`] per journey, for the passes over every touch (chain estimation, totals).
    pub fn paths(&self) -> impl Iterator<Item = (&'a [u32], f64, f64, f64)> + 'a {
        self.paths_between(0, self.len())
    }

    /// [`KpiView::paths`] of the view's journeys at positions `lo..hi` (of `0..len()`).
    pub fn paths_between(
        &self,
        lo: usize,
        hi: usize,
    ) -> impl Iterator<Item = (&'a [u32], f64, f64, f64)> + 'a {
        let j = self.journeys;
        let (players, spans) = (self.players, j.spans());
        let (conversions, value, nulls) = match self.reweight {
            Some(w) => (&w.conversions[..], &w.value[..], &w.nulls[..]),
            None => (j.conversions(), j.values(), j.nulls()),
        };
        let all = self.rows.is_none();
        let from_all = if all { lo..hi } else { 0..0 };
        let from_rows = self.rows.map_or(&[][..], |r| &r[lo..hi]).iter().map(|&i| i as usize);
        let skip_undrawn = self.reweight.is_some();
        from_all
            .chain(from_rows)
            .map(move |i| (&players[spans.range(i)], conversions[i], value[i], nulls[i]))
            .filter(move |&(_, c, _, n)| !skip_undrawn || c > 0.0 || n > 0.0)
    }

    /// Total conversions and value of the view's journeys.
    pub fn totals(&self) -> (f64, f64) {
        self.iter().fold((0.0, 0.0), |(c, v), (j, _)| (c + j.conversions, v + j.value))
    }

    /// Total null weight of the view's journeys.
    pub fn total_nulls(&self) -> f64 {
        self.iter().map(|(j, _)| j.nulls).sum()
    }
}

/// A Markov state in model output: its players' names, or none and the name of a special state.
pub type State = (Vec<String>, String);

/// Extra output of a model beyond the credit, kept per KPI.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Details {
    /// Removal effect (conversions, value) per player id (Markov).
    pub removal_effects: Option<Vec<(f64, f64)>>,
    /// Transition probabilities between states (Markov): from, to, probability. A state is its
    /// players (names, in order) or, with no players, the special state named in the second field
    /// (`(start)`, `(conversion)`, `(null)`).
    pub transitions: Option<Vec<(State, State, f64)>>,
    /// Standard error of credited conversions per player id (sampled Shapley).
    pub standard_errors: Option<Vec<f64>>,
    /// Credit by first position (1-based): player id, position, conversions, value (ordered Shapley).
    pub position_credits: Option<Vec<(u32, u32, f64, f64)>>,
    /// Named tables of any other output (fitted parameters, fit diagnostics...). The attribution
    /// prepends `model` and `kpi` columns and stacks the tables of one name over models and KPIs, and
    /// every edge (DataFrames, Python, CLI) shows them without knowing the model.
    #[serde(default)]
    pub tables: Vec<Table>,
    /// What the model fitted, in its own encoding (bytes, exact), so that its per-journey credit reads
    /// the fit instead of fitting again, also on parts of the log (the additive-hazard model's
    /// parameters by player name). Kept by the attribution, not shown.
    #[serde(default)]
    pub state: Option<Vec<u8>>,
}

/// The values of one column of a [`Table`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "values", rename_all = "snake_case")]
pub enum Values {
    /// Text.
    Text(Vec<String>),
    /// Numbers, `None` where undefined.
    Float(Vec<Option<f64>>),
    /// Whole numbers.
    Int(Vec<i64>),
    /// Flags.
    Bool(Vec<bool>),
}

impl Values {
    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            Values::Text(v) => v.len(),
            Values::Float(v) => v.len(),
            Values::Int(v) => v.len(),
            Values::Bool(v) => v.len(),
        }
    }

    /// Whether the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn append(&mut self, other: Values) -> bool {
        match (self, other) {
            (Values::Text(a), Values::Text(b)) => a.extend(b),
            (Values::Float(a), Values::Float(b)) => a.extend(b),
            (Values::Int(a), Values::Int(b)) => a.extend(b),
            (Values::Bool(a), Values::Bool(b)) => a.extend(b),
            _ => return false,
        }
        true
    }
}

/// A named column.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Column {
    /// Column name.
    pub name: String,
    /// Its values.
    pub values: Values,
}

/// A named table of model output, in columns of equal length.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Table {
    /// Table name, e.g. `hazard_parameters`.
    pub name: String,
    /// Columns in order.
    pub columns: Vec<Column>,
}

impl Table {
    /// An empty table.
    pub fn new(name: &str) -> Self {
        Table { name: name.to_owned(), columns: Vec::new() }
    }

    /// Adds a column (builder style).
    pub fn with(mut self, name: &str, values: Values) -> Self {
        self.columns.push(Column { name: name.to_owned(), values });
        self
    }

    /// Number of rows.
    pub fn height(&self) -> usize {
        self.columns.first().map_or(0, |c| c.values.len())
    }

    /// The column of that name.
    pub fn column(&self, name: &str) -> Option<&Values> {
        self.columns.iter().find(|c| c.name == name).map(|c| &c.values)
    }

    /// Stacks `other` (same column names and types) under this table; `false` when they differ.
    pub fn append(&mut self, other: Table) -> bool {
        let same = self.columns.len() == other.columns.len()
            && self.columns.iter().zip(&other.columns).all(|(a, b)| a.name == b.name);
        if !same {
            return false;
        }
        self.columns.iter_mut().zip(other.columns).all(|(a, b)| a.values.append(b.values))
    }
}

/// What a model returns for one KPI.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KpiCredit {
    /// Credited conversions per player id.
    pub conversions: Vec<f64>,
    /// Credited value per player id.
    pub value: Vec<f64>,
    /// Model-specific detail.
    pub details: Details,
    /// Things the user should know (e.g. the chain was built without null paths).
    pub warnings: Vec<String>,
    /// Conversions and value that would have happened anyway (models with a baseline).
    pub baseline: Option<(f64, f64)>,
}

impl KpiCredit {
    /// Zero credit for `n` players.
    pub fn zeros(n: usize) -> Self {
        KpiCredit { conversions: vec![0.0; n], value: vec![0.0; n], ..Default::default() }
    }
}

/// One model's credit of one player for one journey (or, for a timeline model, one conversion record).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct JourneyCredit {
    /// The journey (index in the store); `None` for a timeline model's conversion record.
    pub journey: Option<usize>,
    /// The person (index into the timelines), when known.
    pub person: Option<u32>,
    /// The conversion time (microseconds since the Unix epoch, UTC), when known.
    pub time: Option<i64>,
    /// The player id, or `None` for the baseline.
    pub player: Option<u32>,
    /// Credited conversions.
    pub conversions: f64,
    /// Credited value.
    pub value: f64,
}

/// Splits every converting journey over the distinct players it touched in proportion to their
/// aggregate credit (`credit`): the rule of [`Model::journey_credits`]' default. A journey whose
/// players all have zero credit is split equally between them.
pub fn split_by_credit(
    view: &KpiView<'_>,
    credit: &KpiCredit,
    control: &dyn Control,
    emit: &mut dyn FnMut(JourneyCredit),
) -> Result<()> {
    let mut stamp = vec![usize::MAX; view.n_players];
    let mut distinct: Vec<u32> = Vec::new();
    for (n, (j, players)) in view.iter().enumerate() {
        if n % crate::rules::CHECK_EVERY == crate::rules::CHECK_EVERY - 1 {
            control.checkpoint()?;
        }
        if j.conversions <= 0.0 {
            continue;
        }
        distinct.clear();
        for &p in players {
            if stamp[p as usize] != n {
                stamp[p as usize] = n;
                distinct.push(p);
            }
        }
        let k = distinct.len() as f64;
        let tc: f64 = distinct.iter().map(|&p| credit.conversions[p as usize].max(0.0)).sum();
        let tv: f64 = distinct.iter().map(|&p| credit.value[p as usize].max(0.0)).sum();
        for &p in &distinct {
            let wc = if tc > 0.0 { credit.conversions[p as usize].max(0.0) / tc } else { 1.0 / k };
            let wv = if tv > 0.0 { credit.value[p as usize].max(0.0) / tv } else { wc };
            emit(JourneyCredit {
                journey: Some(j.index),
                person: j.person,
                time: j.conversion_time,
                player: Some(p),
                conversions: j.conversions * wc,
                value: j.value * wv,
            });
        }
    }
    Ok(())
}

/// An attribution model: validated parameters that turn one KPI's journeys into credit per player.
///
/// Every model conserves: credited conversions sum to the view's conversions and credited value to its
/// value (to rounding), whenever the view has conversions.
pub trait Model: fmt::Debug + Send + Sync {
    /// The model's name (`"markov"`).
    fn name(&self) -> &'static str;

    /// Checks every parameter, with a typed error per bad value. Called once before any work.
    fn validate(&self) -> Result<()>;

    /// Credit for one KPI.
    fn credit(&self, view: &KpiView<'_>, control: &dyn Control) -> Result<KpiCredit>;

    /// Whether the model reads person timelines ([`Journeys::timelines`]) rather than journeys. Such a
    /// model credits every conversion in the observation period (players plus the baseline).
    fn needs_timelines(&self) -> bool {
        false
    }

    /// Whether the model, on journeys gathered from parts held elsewhere (buckets on disk, Spark
    /// executors) that keep the person timelines, reads from those parts ([`KpiView::remote`]): the
    /// timeline models, and time decay, which decays by duration the touch times the gathered
    /// journeys lack.
    fn reads_remote(&self) -> bool {
        self.needs_timelines()
    }

    /// The credit journey by journey: `emit` is called once per (journey, player) of every converting
    /// journey of the view (a timeline model: per conversion record and player, the baseline as player
    /// `None`). `credit` is this model's [`Model::credit`] on the same view.
    ///
    /// The default splits each journey over the distinct players it touched in proportion to their
    /// aggregate credit ([`split_by_credit`]): Markov's removal effects, the rate Shapley game's
    /// values. Such rows sum to the KPI's conversions but not to each player's aggregate credit.
    /// Rule-based models and the conversions game split each journey by their own rule, and their rows
    /// sum to the aggregate credit of every player.
    fn journey_credits(
        &self,
        view: &KpiView<'_>,
        credit: &KpiCredit,
        control: &dyn Control,
        emit: &mut dyn FnMut(JourneyCredit),
    ) -> Result<()> {
        split_by_credit(view, credit, control, emit)
    }

    /// What a model computes once on the whole data for every bootstrap resample to start from (the
    /// additive-hazard model's fitted parameters); `None` by default.
    fn warm_start(
        &self,
        _view: &KpiView<'_>,
        _control: &dyn Control,
    ) -> Result<Option<Box<dyn std::any::Any + Send + Sync>>> {
        Ok(None)
    }

    /// [`Model::credit`] on a resample, starting from `warm` ([`Model::warm_start`] on the whole data).
    /// The result is the same fit, found in fewer iterations.
    fn credit_from(
        &self,
        view: &KpiView<'_>,
        warm: Option<&(dyn std::any::Any + Send + Sync)>,
        control: &dyn Control,
    ) -> Result<KpiCredit> {
        let _ = warm;
        self.credit(view, control)
    }

    /// Whether the credit depends on journeys without conversions (null journeys). A model that only
    /// splits converting journeys says `false`, and a bootstrap of such models alone leaves null
    /// journeys out.
    fn reads_nulls(&self) -> bool {
        true
    }

    /// Whether the credit depends on touch times. When no model of a bootstrap reads them, journeys
    /// that differ only in their times are merged.
    fn reads_times(&self) -> bool {
        true
    }
}

/// A model and its parameters, serialisable so a result records what made it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case")]
pub enum ModelSpec {
    /// [`FirstTouch`].
    FirstTouch(FirstTouch),
    /// [`LastTouch`].
    LastTouch(LastTouch),
    /// [`LastNonDirect`].
    LastNonDirect(LastNonDirect),
    /// [`Linear`].
    Linear(Linear),
    /// [`PositionBased`].
    PositionBased(PositionBased),
    /// [`TimeDecay`].
    TimeDecay(TimeDecay),
    /// [`crate::markov::Markov`].
    Markov(crate::markov::Markov),
    /// [`crate::shapley::Shapley`].
    Shapley(crate::shapley::Shapley),
    /// [`AdditiveHazard`].
    AdditiveHazard(AdditiveHazard),
}

/// Model names accepted by [`ModelSpec::from_name`].
pub const MODEL_NAMES: [&str; 9] = [
    "first_touch",
    "last_touch",
    "last_non_direct",
    "linear",
    "position_based",
    "time_decay",
    "markov",
    "shapley",
    "additive_hazard",
];

/// The models `attribute` runs when none are named, everywhere (Python, CLI): every rule that needs no
/// parameter choice, exact Markov and Shapley, and, on journeys with person timelines, the
/// additive-hazard model (the only one that separates what the channels cause from the baseline).
pub fn default_models(with_timelines: bool) -> Vec<ModelSpec> {
    let mut names = vec!["first_touch", "last_touch", "linear", "position_based", "markov", "shapley"];
    if with_timelines {
        names.push("additive_hazard");
    }
    names.into_iter().map(|n| ModelSpec::from_name(n).expect("a known model")).collect()
}

impl ModelSpec {
    /// The model with default parameters, by name.
    pub fn from_name(name: &str) -> Result<Self> {
        Ok(match name {
            "first_touch" => ModelSpec::FirstTouch(FirstTouch),
            "last_touch" => ModelSpec::LastTouch(LastTouch),
            "last_non_direct" => ModelSpec::LastNonDirect(LastNonDirect::default()),
            "linear" => ModelSpec::Linear(Linear),
            "position_based" => ModelSpec::PositionBased(PositionBased::default()),
            "time_decay" => ModelSpec::TimeDecay(TimeDecay::default()),
            "markov" => ModelSpec::Markov(crate::markov::Markov::default()),
            "shapley" => ModelSpec::Shapley(crate::shapley::Shapley::default()),
            "additive_hazard" => ModelSpec::AdditiveHazard(AdditiveHazard::default()),
            _ => return Err(Error::UnknownModel { name: name.to_owned(), known: MODEL_NAMES.join(", ") }),
        })
    }

    /// Reads a spec from JSON (`{"model": "markov", "order": 2}`), with defaults for missing parameters.
    pub fn from_json(text: &str) -> Result<Self> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| Error::InvalidParameter {
            model: "?",
            parameter: "spec",
            value: text.to_owned(),
            reason: format!("not valid JSON ({e}); numbers must be finite"),
        })?;
        let name = value.get("model").and_then(|m| m.as_str()).unwrap_or_default();
        let defaults = serde_json::to_value(Self::from_name(name)?).expect("specs serialise");
        let model = Self::from_name(name)?.model().name();
        // A parameter of the wrong type is named alone: each is tried on the defaults by itself.
        if let (Some(base), Some(from)) = (defaults.as_object(), value.as_object()) {
            for (k, v) in from.iter().filter(|(k, _)| k.as_str() != "model" && base.contains_key(*k)) {
                let mut one = base.clone();
                one.insert(k.clone(), v.clone());
                if let Err(e) = serde_json::from_value::<ModelSpec>(serde_json::Value::Object(one)) {
                    let reason = e.to_string();
                    let reason = reason.split(" at line").next().unwrap_or(&reason).to_owned();
                    return Err(Error::InvalidParameter {
                        model,
                        parameter: "spec",
                        value: format!("{k} = {v}"),
                        reason,
                    });
                }
            }
        }
        let mut merged = defaults;
        if let (Some(into), Some(from)) = (merged.as_object_mut(), value.as_object()) {
            for (k, v) in from {
                if !into.contains_key(k) {
                    return Err(Error::InvalidParameter {
                        model: Self::from_name(name)?.model().name(),
                        parameter: "spec",
                        value: k.clone(),
                        reason: format!("no such parameter; parameters: {}", param_names(into)),
                    });
                }
                into.insert(k.clone(), v.clone());
            }
        }
        serde_json::from_value(merged).map_err(|e| Error::InvalidParameter {
            model: "?",
            parameter: "spec",
            value: text.to_owned(),
            reason: e.to_string(),
        })
    }

    /// The spec as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("specs serialise")
    }

    /// The model behind the spec.
    pub fn model(&self) -> &dyn Model {
        match self {
            ModelSpec::FirstTouch(m) => m,
            ModelSpec::LastTouch(m) => m,
            ModelSpec::LastNonDirect(m) => m,
            ModelSpec::Linear(m) => m,
            ModelSpec::PositionBased(m) => m,
            ModelSpec::TimeDecay(m) => m,
            ModelSpec::Markov(m) => m,
            ModelSpec::Shapley(m) => m,
            ModelSpec::AdditiveHazard(m) => m,
        }
    }

    /// The model's name.
    pub fn name(&self) -> &'static str {
        self.model().name()
    }

    /// The parameters that differ from the defaults, as `key=value` in field order.
    pub fn non_default_params(&self) -> Vec<String> {
        let mine = serde_json::to_value(self).expect("specs serialise");
        let default =
            serde_json::to_value(Self::from_name(self.name()).expect("own name")).expect("specs serialise");
        let (Some(mine), Some(default)) = (mine.as_object(), default.as_object()) else {
            return Vec::new();
        };
        mine.iter()
            .filter(|(k, v)| k.as_str() != "model" && default.get(*k) != Some(*v))
            .map(|(k, v)| match v.as_array() {
                // Lists (lift tests) by their length: the label names a run, the spec holds the rest.
                Some(items) => format!("{k}={}", items.len()),
                None => format!("{k}={}", v.to_string().replace('"', "")),
            })
            .collect()
    }

    /// `name(k=v, ...)` with the non-default parameters, or the bare name.
    pub fn long_label(&self) -> String {
        let params = self.non_default_params();
        if params.is_empty() {
            self.name().to_owned()
        } else {
            format!("{}({})", self.name(), params.join(", "))
        }
    }
}

fn param_names(obj: &serde_json::Map<String, serde_json::Value>) -> String {
    let names: Vec<&str> = obj.keys().map(String::as_str).filter(|k| *k != "model").collect();
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{JourneysBuilder, Weights};

    /// `paths` gives what `iter` gives, over every journey, over a KPI's rows, and under a reweight
    /// (journeys drawn zero times skipped).
    #[test]
    fn paths_are_the_journeys_of_iter() {
        let mut b = JourneysBuilder::new(&[]);
        let w = |conversions, nulls| Weights { conversions, value: 10.0 * conversions, nulls };
        b.push_path(1, "sales", &["a", "b"], w(1.0, 2.0)).unwrap();
        b.push_path(2, "leads", &["b"], w(0.0, 3.0)).unwrap();
        b.push_path(3, "sales", &["c", "a", "a"], w(2.0, 0.0)).unwrap();
        b.push_path(4, "sales", &["c"], w(0.0, 1.0)).unwrap();
        let j = b.build();
        let players = j.player_column(crate::Dimension::Channel);
        let names = j.player_names(crate::Dimension::Channel);
        let groups = j.rows_by_kpi();
        let reweight = Reweight {
            conversions: vec![2.0, 0.0, 0.0, 0.0],
            value: vec![20.0, 0.0, 0.0, 0.0],
            nulls: vec![4.0, 6.0, 0.0, 1.0],
            persons: None,
            unseen: 0.0,
        };
        let all = KpiView::new(&j, 0, None, &players, &names);
        let sales = KpiView::new(&j, 0, Some(&groups[0]), &players, &names);
        for view in [all, sales, sales.with_reweight(&reweight)] {
            let from_iter: Vec<_> = view.iter().map(|(j, p)| (p, j.conversions, j.value, j.nulls)).collect();
            assert_eq!(view.paths().collect::<Vec<_>>(), from_iter);
        }
        assert_eq!(sales.with_reweight(&reweight).paths().count(), 2);
    }

    #[test]
    fn names_round_trip_and_unknown_is_typed() {
        for name in MODEL_NAMES {
            let spec = ModelSpec::from_name(name).unwrap();
            assert_eq!(spec.name(), name);
            assert_eq!(ModelSpec::from_json(&spec.to_json()).unwrap(), spec);
            assert_eq!(spec.long_label(), name);
        }
        let e = ModelSpec::from_name("markow").unwrap_err().to_string();
        assert!(e.starts_with("unknown model `markow`; known models: first_touch"), "{e}");
    }

    #[test]
    fn json_fills_defaults_and_refuses_unknown_parameters() {
        let spec = ModelSpec::from_json(r#"{"model": "position_based", "first": 0.2, "last": 0.6}"#).unwrap();
        assert_eq!(spec.long_label(), "position_based(first=0.2, last=0.6)");
        let e = ModelSpec::from_json(r#"{"model": "linear", "alpha": 1}"#).unwrap_err().to_string();
        assert!(e.contains("`alpha`") || e.contains("alpha"), "{e}");
        assert!(e.contains("no such parameter"), "{e}");
    }

    #[test]
    fn a_parameter_of_the_wrong_type_is_named_with_its_model() {
        let e = ModelSpec::from_json(r#"{"model": "markov", "order": "2"}"#).unwrap_err().to_string();
        assert!(e.contains("model `markov`") && e.contains("order = \"2\""), "{e}");
        assert!(!e.contains("line 1"), "{e}");
        let e = ModelSpec::from_json(r#"{"model": "shapley", "samples": 10, "min_support": "x"}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("model `shapley`") && e.contains("min_support"), "{e}");
        let e = ModelSpec::from_json(r#"{"model": "shapley", "min_support": NaN}"#).unwrap_err().to_string();
        assert!(e.contains("not valid JSON"), "{e}");
    }
}
