//! `attribute`, `choose_order` and the `Attribution` result for Python.
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3_polars::PyDataFrame;
use touchpoint_core::{attribute_with, Attribution, Dimension, ModelSpec, MODEL_NAMES};
use touchpoint_frame as frame;

use crate::control::PyControl;
use crate::error::PyTpErr;
use crate::journeys::PyJourneys;

/// The result of an attribution run.
#[pyclass(module = "touchpoint._touchpoint", name = "Attribution", frozen, skip_from_py_object)]
#[derive(Clone, Debug)]
pub struct PyAttribution {
    inner: Arc<Attribution>,
}

fn frame_result(df: frame::Result<polars::prelude::DataFrame>) -> PyResult<PyDataFrame> {
    Ok(PyDataFrame(df.map_err(PyTpErr::from)?))
}

impl PyAttribution {
    /// The Rust result.
    pub(crate) fn inner(&self) -> &Attribution {
        &self.inner
    }
}

#[pymethods]
impl PyAttribution {
    /// Credit rows: model, kpi, <by>, conversions, value, share.
    fn credits(&self) -> PyResult<PyDataFrame> {
        frame_result(frame::credits_frame(&self.inner))
    }

    /// Markov removal effects: model, kpi, <by>, removal_effect, value_removal_effect.
    fn removal_effects(&self) -> PyResult<PyDataFrame> {
        frame_result(frame::removal_effects_frame(&self.inner))
    }

    /// Markov transition probabilities of one model and KPI: from, to, probability.
    #[pyo3(signature = (model=None, kpi=None))]
    fn transitions(&self, model: Option<&str>, kpi: Option<&str>) -> PyResult<PyDataFrame> {
        frame_result(frame::transitions_frame(&self.inner, model, kpi))
    }

    /// Standard errors of sampled credit: model, kpi, <by>, se.
    fn standard_errors(&self) -> PyResult<PyDataFrame> {
        frame_result(frame::standard_errors_frame(&self.inner))
    }

    /// Ordered Shapley credit by position: model, kpi, <by>, position, conversions, value.
    fn position_credits(&self) -> PyResult<PyDataFrame> {
        frame_result(frame::position_credits_frame(&self.inner))
    }

    /// Conversions without journeys: kpi, reason, conversions, value.
    fn unattributed(&self) -> PyResult<PyDataFrame> {
        frame_result(frame::unattributed_frame(&self.inner.unattributed))
    }

    /// The journeys' ingestion summary.
    fn summary(&self) -> PyResult<PyDataFrame> {
        frame_result(frame::table::summary_rows_frame(&self.inner.summary))
    }

    /// Names of the model tables (fitted parameters, fit diagnostics, lift tests...).
    fn table_names(&self) -> Vec<String> {
        self.inner.tables.iter().map(|t| t.name.clone()).collect()
    }

    /// One model table by name: model, kpi, then the model's columns.
    fn table(&self, name: &str) -> PyResult<PyDataFrame> {
        frame_result(frame::attribution_table_frame(&self.inner, name))
    }

    /// Things the user should know.
    fn warnings(&self) -> Vec<String> {
        self.inner.warnings.clone()
    }

    /// (label, spec as JSON) of every model run.
    fn models(&self) -> Vec<(String, String)> {
        self.inner.models.iter().map(|m| (m.label.clone(), m.spec.to_json())).collect()
    }

    /// The player dimension.
    fn by(&self) -> &'static str {
        self.inner.by.as_str()
    }

    /// A plain-text comparison table (players x models, per KPI).
    fn comparison_table(&self) -> String {
        self.inner.comparison_table()
    }

    /// The whole result as JSON (what pickling stores).
    fn to_json(&self) -> PyResult<String> {
        serde_json::to_string(&*self.inner)
            .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(e.to_string()))
    }

    /// A result back from [`PyAttribution::to_json`].
    #[staticmethod]
    fn from_json(text: &str) -> PyResult<Self> {
        let inner: Attribution = serde_json::from_str(text).map_err(|e| {
            PyTpErr::Core(touchpoint_core::Error::InvalidParameter {
                model: "?",
                parameter: "json",
                value: text.chars().take(40).collect(),
                reason: e.to_string(),
            })
        })?;
        Ok(PyAttribution { inner: Arc::new(inner) })
    }
}

fn parse_specs(specs: &[String]) -> Result<Vec<ModelSpec>, PyTpErr> {
    specs.iter().map(|s| ModelSpec::from_json(s).map_err(PyTpErr::from)).collect()
}

/// Runs models (JSON specs) over journeys, crediting players of dimension `by`. Releases the GIL.
#[pyfunction]
#[pyo3(signature = (journeys, specs, by, progress=None))]
pub fn attribute(
    py: Python<'_>,
    journeys: &PyJourneys,
    specs: Vec<String>,
    by: &str,
    progress: Option<Py<PyAny>>,
) -> PyResult<PyAttribution> {
    let specs = parse_specs(&specs)?;
    let by: Dimension = by.parse().map_err(PyTpErr::from)?;
    let j = journeys.inner.clone();
    let control = PyControl::new(progress);
    let r = py.detach(|| attribute_with(&j, &specs, by, &control)).map_err(PyTpErr::from)?;
    Ok(PyAttribution { inner: Arc::new(r) })
}

/// Checks a model spec (JSON) and returns it with every parameter filled in.
#[pyfunction]
pub fn validate_model(spec: &str) -> PyResult<String> {
    let spec = ModelSpec::from_json(spec).map_err(PyTpErr::from)?;
    spec.model().validate().map_err(PyTpErr::from)?;
    Ok(spec.to_json())
}

/// The default models' specs (JSON), for journeys with or without person timelines.
#[pyfunction]
pub fn default_models(with_timelines: bool) -> Vec<String> {
    touchpoint_core::default_models(with_timelines).iter().map(ModelSpec::to_json).collect()
}

/// The names of the models.
#[pyfunction]
pub fn model_names() -> Vec<&'static str> {
    MODEL_NAMES.to_vec()
}

/// (order, auc, folds_scored) per order, the suggested order, and the warnings.
type OrderRows = (Vec<(u32, f64, u32)>, u32, Vec<String>);

/// Cross-validated AUC per Markov order for one KPI: ([(order, auc, folds_scored)], suggested, warnings).
#[pyfunction]
#[pyo3(signature = (journeys, max_order, folds, seed, kpi=None, by="channel", progress=None))]
#[allow(clippy::too_many_arguments)]
pub fn choose_order(
    py: Python<'_>,
    journeys: &PyJourneys,
    max_order: u32,
    folds: u32,
    seed: u64,
    kpi: Option<String>,
    by: &str,
    progress: Option<Py<PyAny>>,
) -> PyResult<OrderRows> {
    let by: Dimension = by.parse().map_err(PyTpErr::from)?;
    let j = journeys.inner.clone();
    let control = PyControl::new(progress);
    let choice = py
        .detach(|| {
            touchpoint_core::markov::choose_order_for(
                &j,
                kpi.as_deref(),
                by,
                max_order,
                folds,
                seed,
                &control,
            )
        })
        .map_err(PyTpErr::from)?;
    Ok((
        choice.scores.iter().map(|s| (s.order, s.auc, s.folds_scored)).collect(),
        choice.suggested,
        choice.warnings,
    ))
}

/// Times `attribute` inside Rust (GIL released), `repeat` runs: the baseline against which the Python
/// call's overhead is measured (`benches/python_overhead.py`). Returns seconds per run.
#[pyfunction]
#[pyo3(signature = (journeys, specs, by, repeat))]
pub fn time_attribute(
    py: Python<'_>,
    journeys: &PyJourneys,
    specs: Vec<String>,
    by: &str,
    repeat: usize,
) -> PyResult<Vec<f64>> {
    let specs = parse_specs(&specs)?;
    let by: Dimension = by.parse().map_err(PyTpErr::from)?;
    let j = journeys.inner.clone();
    let times = py
        .detach(|| touchpoint_core::attribution::time_attribute(&j, &specs, by, repeat))
        .map_err(PyTpErr::from)?;
    Ok(times)
}
