//! The error type of touchpoint-panel: every variant names the unit, period, column or option at fault.
use crate::panel::Period;

/// Result alias of touchpoint-panel.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong when a panel is read or a rollout is estimated.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting out of its domain.
    #[error("invalid `{option}`: {value} ({reason})")]
    InvalidOption { option: &'static str, value: String, reason: String },
    /// Columns of different lengths, or no rows.
    #[error("column `{column}`: {reason}")]
    Column { column: String, reason: String },
    /// A value that cannot be used, in a named column and row.
    #[error("column `{column}`, row {row}: {value} ({reason})")]
    Value { column: String, row: usize, value: String, reason: String },
    /// The same (unit, period) twice.
    #[error("unit {unit} has two rows for period {period} (rows {first} and {second})")]
    Duplicate { unit: String, period: Period, first: usize, second: usize },
    /// A unit without a row for some period: the panel is not balanced.
    #[error(
        "unit {unit} has no row for period {period}: the panel must be balanced (every unit in every \
         period); fill the gap or drop the unit ({missing} (unit, period) rows missing in all)"
    )]
    Unbalanced { unit: String, period: Period, missing: usize },
    /// A value that must be the same in every row of a unit differs between two of its rows.
    #[error("unit {unit}: column `{column}` must not change over time, but {detail}")]
    VariesWithinUnit {
        unit: String,
        column: String,
        /// "is A in period P and B in period Q".
        detail: String,
    },
    /// A unit treated in or before the panel's first period (no untreated period to compare with).
    #[error("unit {unit} is treated from period {cohort}, at or before the panel's first period {first}: it has no untreated period to compare with (drop it, or start the panel earlier)")]
    TreatedBeforePanel { unit: String, cohort: Period, first: Period },
    /// A cohort label inside the panel's span that is not one of its periods.
    #[error("unit {unit}: cohort {cohort} is not one of the panel's periods (the first treated period must be a period of the panel; the nearest are {before} and {after})")]
    CohortNotPeriod { unit: String, cohort: Period, before: Period, after: Period },
    /// A treatment level that goes down: the estimator needs treatments that stay once given.
    #[error("unit {unit}: treatment falls from {from} in period {from_period} to {to} in period {to_period}; a rollout's treatment must not revert")]
    Reverts { unit: String, from: i64, from_period: Period, to: i64, to_period: Period },
    /// A panel too large for the estimator: too many cells or treatment levels.
    #[error("{0}")]
    TooLarge(String),
    /// Nothing to compare: no treated cohort, or no comparison units for any cell.
    #[error("{0}")]
    NoComparison(String),
    /// The run was interrupted (Ctrl-C).
    #[error("interrupted")]
    Interrupted,
    /// The caller's control stopped the run for another reason.
    #[error("stopped: {0}")]
    Stopped(String),
}

impl From<touchpoint_core::Error> for Error {
    fn from(e: touchpoint_core::Error) -> Self {
        match e {
            touchpoint_core::Error::Interrupted => Error::Interrupted,
            other => Error::Stopped(other.to_string()),
        }
    }
}
