//! Python bindings of Touchpoint: conversions, error mapping and thin wrappers only.
//! Everything that computes lives in touchpoint-core and touchpoint-frame.
mod attribution;
mod cli;
mod control;
mod error;
mod goals;
mod journeys;
mod mmm;
mod report;
mod rollout;
mod sim;

use pyo3::prelude::*;

#[pymodule(gil_used = false)]
mod _touchpoint {
    use pyo3::prelude::*;

    #[pymodule_export]
    use crate::attribution::{
        attribute, attribute_remote, choose_order, default_models, hazard_answer, hazard_sum, model_names,
        reads_remote, remote_part, time_attribute, validate_model, PyAttribution,
    };
    #[pymodule_export]
    use crate::cli::cli_main;
    #[pymodule_export]
    use crate::goals::{contribution, load_goal_book, validate_goal_book, PyContribution};
    #[pymodule_export]
    use crate::journeys::{csv_header, first_non_utf8_line, load_journeys, save_journeys, PyJourneys};
    #[pymodule_export]
    use crate::mmm::{
        mmm_default_priors, mmm_fit, mmm_priors, mmm_validate, plan, simulate_weekly, weekly_respond,
        PyMmmFit, PyPlan,
    };
    #[pymodule_export]
    use crate::report::{report, report_defaults};
    #[pymodule_export]
    use crate::rollout::{rollout_defaults, rollout_effect, simulate_programme, PyRolloutEffect};
    #[pymodule_export]
    use crate::sim::{benchmark, lift_test, scenario_names, score, simulate};

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        crate::error::add_classes(m)?;
        m.add("__version__", env!("CARGO_PKG_VERSION"))
    }
}

/// Keeps `Python` in scope for the macro-generated code of sibling modules.
#[allow(dead_code)]
fn _python_in_scope(_: Python<'_>) {}
