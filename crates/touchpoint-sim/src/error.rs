//! The error type of touchpoint-sim: every variant names the parameter or value at fault.

/// Result alias of touchpoint-sim.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in a simulation or a benchmark.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A scenario name that no built-in scenario answers to.
    #[error("unknown scenario `{name}`; known scenarios: {known}")]
    UnknownScenario { name: String, known: String },
    /// Parameters that cannot be read (bad TOML, a missing field, an unknown key).
    #[error("cannot read simulation parameters: {reason}")]
    Parse { reason: String },
    /// A rate (events or exposures per day) that is negative, NaN or infinite.
    #[error(
        "invalid rate `{parameter}`: {value} (rates are per person per day and must be finite and >= 0)"
    )]
    NegativeRate { parameter: String, value: f64 },
    /// A half-life that is not positive and finite.
    #[error("invalid half-life `{parameter}`: {value} days (must be positive and finite)")]
    HalfLife { parameter: String, value: f64 },
    /// A parameter that names a channel the scenario does not have.
    #[error("`{parameter}` names unknown channel `{name}`; channels: {known}")]
    UnknownChannel { parameter: String, name: String, known: String },
    /// A parameter that names a KPI the scenario does not have.
    #[error("`{parameter}` names unknown KPI `{name}`; KPIs: {known}")]
    UnknownKpi { parameter: String, name: String, known: String },
    /// Two channels or two KPIs with the same name.
    #[error("duplicate name `{name}` in `{parameter}`: names must be unique")]
    DuplicateName { parameter: String, name: String },
    /// Any other parameter out of its domain.
    #[error("invalid parameter `{parameter}`: {value} ({reason})")]
    InvalidParameter { parameter: String, value: String, reason: String },
    /// An error of touchpoint-core (building journeys, running models, an interrupt).
    #[error(transparent)]
    Core(#[from] touchpoint_core::Error),
}

impl Error {
    /// A parameter out of its domain.
    pub(crate) fn invalid(
        parameter: impl Into<String>,
        value: impl ToString,
        reason: impl Into<String>,
    ) -> Self {
        Error::InvalidParameter {
            parameter: parameter.into(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }
}
