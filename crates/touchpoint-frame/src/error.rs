//! The error type of touchpoint-frame: every variant names the column, row, file or value at fault.
use polars::prelude::PolarsError;

/// Result alias of touchpoint-frame.
pub type Result<T, E = Error> = std::result::Result<T, E>;

fn in_table(table: &Option<&'static str>) -> String {
    table.map(|t| format!(" of the {t} table")).unwrap_or_default()
}

/// What can go wrong turning tables into journeys and results into tables.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A column that the table lacks.
    #[error("missing column `{column}`{}; the table has: {available}", in_table(.table))]
    MissingColumn { column: String, table: Option<&'static str>, available: String },
    /// A column whose values cannot be read as the needed type.
    #[error("column `{column}` must be {expected}, found {found}")]
    ColumnType { column: String, expected: &'static str, found: String },
    /// Text in a numeric column that is not a number.
    #[error("column `{column}` must be numeric: row {row} holds {value:?}")]
    Number { column: String, row: usize, value: String },
    /// Text that cannot name a player: empty (or only white space) where a name is required, or the
    /// label that stands for a missing value.
    #[error("{what} in column `{column}`{} at row {row}", in_table(.table))]
    BadName { column: String, table: Option<&'static str>, row: usize, what: &'static str },
    /// A null where a value is required.
    #[error("null in column `{column}`{} at row {row}", in_table(.table))]
    NullValue { column: String, table: Option<&'static str>, row: usize },
    /// A timestamp that cannot be read.
    #[error("timestamp in column `{column}`{} at row {row}: {value:?} is {reason}", in_table(.table))]
    Timestamp { column: String, table: Option<&'static str>, row: usize, value: String, reason: String },
    /// A numeric person id that is not a whole number, or past the 64-bit integers.
    #[error(
        "person id {value} in column `{column}` of the {table} table at row {row} is not a whole number within ±9.2e18 (give ids that large as text)"
    )]
    PersonId { column: String, table: &'static str, row: usize, value: f64 },
    /// A file that cannot be read.
    #[error("cannot read `{path}`: {message}")]
    Read { path: String, message: String },
    /// A file that cannot be written.
    #[error("cannot write `{path}`: {message}")]
    Write { path: String, message: String },
    /// A file whose type is not CSV or Parquet.
    #[error("cannot tell the format of `{path}`: expected a .csv or .parquet file")]
    FileType { path: String },
    /// An option out of its domain.
    #[error("invalid option `{option}` = {value:?}: {reason}")]
    InvalidOption { option: &'static str, value: String, reason: String },
    /// A core error (bad weights, empty paths, reserved names...).
    #[error(transparent)]
    Core(#[from] touchpoint_core::Error),
    /// polars failed.
    #[error("polars: {0}")]
    Polars(#[from] PolarsError),
}
