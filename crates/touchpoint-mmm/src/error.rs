//! The error type of touchpoint-mmm: every variant names the column, row, channel or option at fault.

/// Result alias of touchpoint-mmm.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong when a media-mix model is specified, checked against its data, or fitted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting of the model or of the fit out of its domain.
    #[error("invalid `{option}`: {value} ({reason})")]
    InvalidOption { option: &'static str, value: String, reason: String },
    /// A prior parameter out of its domain.
    #[error("invalid prior `{prior}`: {value} ({reason})")]
    InvalidPrior { prior: String, value: String, reason: String },
    /// A column the model names is not in the data, or is named twice.
    #[error("column `{column}`: {reason}")]
    Column { column: String, reason: String },
    /// A value that the model cannot use, in a named column and row.
    #[error("column `{column}`, row {row}: {value} ({reason})")]
    Value { column: String, row: usize, value: String, reason: String },
    /// Periods that are not one regular series (a missing week, a repeated or unsorted date).
    #[error("column `{column}`, row {row}: {reason}")]
    Periods { column: String, row: usize, reason: String },
    /// A column that carries no information (constant, or all zero).
    #[error(
        "column `{column}` is constant ({value} in every row): it cannot be told apart from the intercept"
    )]
    Constant { column: String, value: f64 },
    /// Too few periods for the number of parameters.
    #[error("{rows} periods cannot fit {parameters} parameters: give more periods, or fewer channels, controls or seasonality terms")]
    TooFewRows { rows: usize, parameters: usize },
    /// A lift measurement that cannot be used.
    #[error("lift measurement in row {row}: {reason}")]
    Lift { row: usize, reason: String },
    /// The sampler failed (a chain could not start or stopped on an error).
    #[error("sampling failed in chain {chain}: {reason}")]
    Sampler { chain: u64, reason: String },
    /// The optimiser found no finite posterior density.
    #[error("the MAP search failed: {reason}")]
    Optimiser { reason: String },
    /// A saved fit that cannot be read back.
    #[error("cannot read the saved fit: {reason}")]
    Load { reason: String },
    /// A plan's budget that its locked channels or its bounds cannot hold.
    #[error("budget {budget}: {reason}")]
    Budget { budget: String, reason: String },
    /// A channel's bounds, lock or unit cost that a plan cannot use.
    #[error("channel `{channel}`: {reason}")]
    Channel { channel: String, reason: String },
    /// A goal that a plan cannot value or reach.
    #[error("kpi `{kpi}`: {reason}")]
    Goal { kpi: String, reason: String },
    /// The run was interrupted (Ctrl-C, kernel interrupt).
    #[error("interrupted")]
    Interrupted,
}

impl From<touchpoint_core::Error> for Error {
    fn from(e: touchpoint_core::Error) -> Self {
        match e {
            touchpoint_core::Error::Interrupted => Error::Interrupted,
            other => Error::Sampler { chain: 0, reason: other.to_string() },
        }
    }
}
