//! The error type of touchpoint-core: every variant names the model, parameter, row or value at fault.

/// Result alias of touchpoint-core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the core: bad parameters, bad journeys, bad goal books.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A model parameter is out of its domain.
    #[error("invalid parameter `{parameter}` of model `{model}`: {value} ({reason})")]
    InvalidParameter { model: &'static str, parameter: &'static str, value: String, reason: String },
    /// An option of a call (not of a model) out of its domain: an interval level, a resample count, a
    /// model label that the result does not hold.
    #[error("invalid `{option}`: {value} ({reason})")]
    InvalidOption { option: &'static str, value: String, reason: String },
    /// A model name that no model answers to.
    #[error("unknown model `{name}`; known models: {known}")]
    UnknownModel { name: String, known: String },
    /// A dimension name that is not one of the player dimensions.
    #[error("unknown dimension `{name}`; known dimensions: channel, campaign, activity, actor, actor_group, interaction")]
    UnknownDimension { name: String },
    /// A journey without any touch.
    #[error("empty path in row {row}: a journey needs at least one touch")]
    EmptyPath { row: usize },
    /// A touch whose name is empty (e.g. `a >> b`).
    #[error("empty touch name at position {position} of the path in row {row}")]
    EmptyTouch { row: usize, position: usize },
    /// A weight or value that is negative, NaN or infinite.
    #[error("invalid {field} in row {row}: {value} (must be finite and >= 0)")]
    InvalidWeight { field: &'static str, row: usize, value: f64 },
    /// A row that neither converts nor counts as a null journey.
    #[error("row {row} has zero conversions and zero nulls: it says nothing")]
    EmptyWeight { row: usize },
    /// A name that collides with a reserved state name.
    #[error("{dimension} name `{name}` in row {row} is reserved (the names `(start)`, `(conversion)` and `(null)` name Markov states, `(baseline)` the conversions that happen anyway)")]
    ReservedName { dimension: &'static str, name: String, row: usize },
    /// Time decay by duration on journeys that carry no times.
    #[error("time_decay with half_life needs touch and conversion times, and these journeys have none: pass half_life_touches to decay by touch count")]
    NoTimes,
    /// A duration string that cannot be read.
    #[error("invalid duration `{value}`: {reason}")]
    InvalidDuration { value: String, reason: String },
    /// Two Journeys whose layouts cannot be merged.
    #[error("cannot merge journeys: {reason}")]
    Merge { reason: String },
    /// A model needs something the data lacks.
    #[error("model `{model}` cannot run on KPI `{kpi}`: {reason}")]
    Unsupported { model: String, kpi: String, reason: String },
    /// Attribution over no journeys at all.
    #[error("no journeys to attribute")]
    NoJourneys,
    /// A goal book that cannot be used.
    #[error("goal book {source_name}: {reason}")]
    GoalBook { source_name: String, reason: String },
    /// A KPI that the goal book does not define.
    #[error("KPI `{kpi}` is attributed but the goal book has no such KPI (it defines: {known})")]
    UnknownKpi { kpi: String, known: String },
    /// An observation period that cannot hold events.
    #[error("invalid observation period [{start}, {end}) (microseconds since the Unix epoch): {reason}")]
    InvalidPeriod { start: i64, end: i64, reason: String },
    /// Something that needs each journey's touch times or person, on rows aggregated by path.
    #[error("{what} needs each journey's touch times or its person, and these journeys were aggregated {origin} into distinct paths with counts, which carry neither: run it on journeys from from_events, or use a path model (rule-based without times, markov, shapley)")]
    Aggregated { what: String, origin: String },
    /// A model that reads person timelines, run on journeys that have none.
    #[error("model `{model}` needs person timelines (touch and conversion times per person and the observation period), and these journeys have none: build the journeys with from_events")]
    NeedsTimelines { model: String },
    /// A fit that stopped before it converged.
    #[error("model `{model}` on KPI `{kpi}` did not converge in {iterations} iterations (reached {reached:e}, asked {tol:e}): raise max_iter or loosen tol")]
    NotConverged { model: String, kpi: String, iterations: u32, reached: f64, tol: f64 },
    /// A credit that overflowed to infinity or NaN (weights or values too large for f64 sums).
    #[error("model `{model}` on KPI `{kpi}` gave a {what} of {value} for `{player}`: the weights or values are too large to sum in 64-bit floats; rescale them (e.g. thousands)")]
    NonFinite { model: String, kpi: String, player: String, what: &'static str, value: f64 },
    /// Weights or values whose sum is beyond 64-bit floats.
    #[error("the {what} of KPI `{kpi}` sum to {value}, beyond what 64-bit floats hold: rescale them (e.g. to thousands)")]
    Overflow { kpi: String, what: &'static str, value: f64 },
    /// A fit split over parts held elsewhere (Spark executors) got an answer it cannot use.
    #[error("fit on remote parts: {reason}")]
    Remote { reason: String },
    /// The run was interrupted (Ctrl-C, kernel interrupt).
    #[error("interrupted")]
    Interrupted,
}
