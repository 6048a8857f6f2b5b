//! `attribute`, `choose_order` and the `Attribution` result for Python.
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use pyo3_polars::PyDataFrame;
use touchpoint_core::hazard::{parts, Remote};
use touchpoint_core::{
    attribute_remote as core_attribute_remote, attribute_with, attribute_with_intervals, Attribution,
    Dimension, ModelSpec, Resampling, MODEL_NAMES,
};
use touchpoint_frame as frame;

use crate::control::PyControl;
use crate::error::PyTpErr;
use crate::journeys::PyJourneys;

/// The result of an attribution run.
#[pyclass(module = "touchpoint._touchpoint", name = "Attribution", frozen, skip_from_py_object)]
#[derive(Clone, Debug)]
pub struct PyAttribution {
    inner: Arc<Attribution>,
    /// The journeys it was computed from, for per-journey credit (not kept by pickling).
    journeys: Option<Arc<touchpoint_core::Journeys>>,
}

fn frame_result(df: frame::Result<polars::prelude::DataFrame>) -> PyResult<PyDataFrame> {
    Ok(PyDataFrame(df.map_err(PyTpErr::from)?))
}

/// The journeys a per-journey credit reads, held across the GIL's release: the attribution's own,
/// or the parts kept on disk (Python's (path, checksum) pairs) and the period to observe them over.
enum Held {
    One(Arc<touchpoint_core::Journeys>),
    Parts(Vec<frame::KeptPart>, Option<(i64, i64)>),
}

impl Held {
    fn source(&self) -> frame::CreditSource<'_> {
        match self {
            Held::One(j) => frame::CreditSource::One(j),
            Held::Parts(parts, period) => frame::CreditSource::Parts { parts, period: *period },
        }
    }
}

impl PyAttribution {
    /// The Rust result.
    pub(crate) fn inner(&self) -> &Attribution {
        &self.inner
    }

    /// The shared Rust result.
    pub(crate) fn shared(&self) -> Arc<Attribution> {
        self.inner.clone()
    }

    /// The journeys it was computed from, when it holds them (not after unpickling).
    pub(crate) fn held_journeys(&self) -> Option<&touchpoint_core::Journeys> {
        self.journeys.as_deref()
    }

    /// The kept parts when Python gives them, else the attribution's own journeys.
    fn held(
        &self,
        parts: Option<Vec<(std::path::PathBuf, u64)>>,
        period: Option<(i64, i64)>,
    ) -> PyResult<Held> {
        Ok(match parts {
            Some(v) => Held::Parts(
                v.into_iter().map(|(path, checksum)| frame::KeptPart { path, checksum }).collect(),
                period,
            ),
            None => Held::One(self.journeys()?),
        })
    }

    /// The journeys, or an error for a result loaded without them.
    fn journeys(&self) -> PyResult<Arc<touchpoint_core::Journeys>> {
        self.journeys.clone().ok_or_else(|| {
            PyTpErr::Core(touchpoint_core::Error::Unsupported {
                model: "journey_credits".into(),
                kpi: "(all)".into(),
                reason: "this attribution was loaded (unpickled) without its journeys: run tp.attribute on them again"
                    .into(),
            })
            .into()
        })
    }
}

#[pymethods]
impl PyAttribution {
    /// Credit rows: model, kpi, <by>, conversions, value, share.
    fn credits(&self) -> PyResult<PyDataFrame> {
        frame_result(frame::credits_frame(&self.inner))
    }

    /// Per-journey credit of the models (all when empty): model, kpi, journey, person, time, <by>,
    /// conversions, value; of the journeys kept in `parts` (files of `save_journeys`, timelines
    /// observed over `period`) when given. Releases the GIL.
    #[pyo3(signature = (models, progress=None, parts=None, period=None))]
    fn journey_credits(
        &self,
        py: Python<'_>,
        models: Vec<String>,
        progress: Option<Py<PyAny>>,
        parts: Option<Vec<(std::path::PathBuf, u64)>>,
        period: Option<(i64, i64)>,
    ) -> PyResult<PyDataFrame> {
        let labels: Vec<&str> = models.iter().map(String::as_str).collect();
        let control = PyControl::new(progress);
        let held = self.held(parts, period)?;
        let (df, _) = py
            .detach(|| {
                let source = held.source();
                frame::journey_credits_frame_of(source, &self.inner, &labels, &control)
            })
            .map_err(PyTpErr::from)?;
        Ok(PyDataFrame(df))
    }

    /// The outcome panel of a rollout: per player of `by` and period of `every` (a duration such as
    /// "7d"), touches and the model's credited conversions and value; and (periods, players,
    /// baseline rows, rows without a time).
    #[pyo3(signature = (model, every, kpi=None, progress=None, parts=None, period=None))]
    #[allow(clippy::too_many_arguments)]
    fn rollout_panel(
        &self,
        py: Python<'_>,
        model: &str,
        every: &str,
        kpi: Option<&str>,
        progress: Option<Py<PyAny>>,
        parts: Option<Vec<(std::path::PathBuf, u64)>>,
        period: Option<(i64, i64)>,
    ) -> PyResult<(PyDataFrame, (u64, u64, u64, u64))> {
        let every_us = touchpoint_core::duration::parse_duration_us(every).map_err(PyTpErr::from)?;
        let control = PyControl::new(progress);
        let held = self.held(parts, period)?;
        let (df, info) = py
            .detach(|| frame::credit_panel_of(held.source(), &self.inner, model, kpi, every_us, &control))
            .map_err(PyTpErr::from)?;
        Ok((PyDataFrame(df), (info.periods, info.players, info.baseline_rows, info.untimed_rows)))
    }

    /// Per (model, KPI, player): the journey rows' sum, the aggregate credit and the gap (over the
    /// `parts` when given, as for `journey_credits`).
    #[pyo3(signature = (models, parts=None, period=None))]
    fn journey_credit_gaps(
        &self,
        py: Python<'_>,
        models: Vec<String>,
        parts: Option<Vec<(std::path::PathBuf, u64)>>,
        period: Option<(i64, i64)>,
    ) -> PyResult<PyDataFrame> {
        let labels: Vec<&str> = models.iter().map(String::as_str).collect();
        let held = self.held(parts, period)?;
        let gaps = py
            .detach(|| {
                let source = held.source();
                frame::journey_credit_gaps_of(source, &self.inner, &labels, &touchpoint_core::Unattended)
            })
            .map_err(PyTpErr::from)?;
        frame_result(frame::rows_frame(&gaps, &["model", "kpi", "player", "journeys", "credit", "gap"]))
    }

    /// Streams the per-journey credit to a Parquet file (of the `parts` when given, one read at a
    /// time); returns the rows written. Releases the GIL.
    #[pyo3(signature = (path, models, progress=None, parts=None, period=None))]
    fn write_journey_credits(
        &self,
        py: Python<'_>,
        path: std::path::PathBuf,
        models: Vec<String>,
        progress: Option<Py<PyAny>>,
        parts: Option<Vec<(std::path::PathBuf, u64)>>,
        period: Option<(i64, i64)>,
    ) -> PyResult<u64> {
        let labels: Vec<&str> = models.iter().map(String::as_str).collect();
        let control = PyControl::new(progress);
        let held = self.held(parts, period)?;
        let (rows, _) = py
            .detach(|| {
                let source = held.source();
                frame::write_journey_credits_of(source, &self.inner, &labels, &path, &control)
            })
            .map_err(PyTpErr::from)?;
        Ok(rows)
    }

    /// The paired difference of models `a` and `b` over the resamples, per KPI and player.
    fn compare(&self, a: &str, b: &str) -> PyResult<PyDataFrame> {
        let d = self.inner.compare(a, b).map_err(PyTpErr::from)?;
        frame_result(frame::compare_frame(self.inner.by, &d))
    }

    /// Every resample's credit: resample, model, kpi, <by>, conversions, value.
    fn resamples(&self) -> PyResult<PyDataFrame> {
        frame_result(frame::resamples_frame(&self.inner))
    }

    /// (level, resamples, seed, unit) of the bootstrap, or None without intervals.
    fn bootstrap(&self) -> Option<(f64, usize, u64, &'static str)> {
        self.inner
            .bootstrap
            .as_ref()
            .map(|b| (b.settings.level, b.settings.resamples, b.settings.seed, b.unit.as_str()))
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
        if let Some(b) = &inner.bootstrap {
            b.check(inner.credits.len()).map_err(PyTpErr::from)?;
        }
        Ok(PyAttribution { inner: Arc::new(inner), journeys: None })
    }
}

fn parse_specs(specs: &[String]) -> Result<Vec<ModelSpec>, PyTpErr> {
    specs.iter().map(|s| ModelSpec::from_json(s).map_err(PyTpErr::from)).collect()
}

/// Runs models (JSON specs) over journeys, crediting players of dimension `by`. Releases the GIL.
/// With `intervals` (a level), bootstrap intervals from `resamples` resamples on `threads` threads.
#[pyfunction]
#[pyo3(signature = (journeys, specs, by, progress=None, intervals=None, resamples=200, seed=0, threads=0))]
#[allow(clippy::too_many_arguments)]
pub fn attribute(
    py: Python<'_>,
    journeys: &PyJourneys,
    specs: Vec<String>,
    by: &str,
    progress: Option<Py<PyAny>>,
    intervals: Option<f64>,
    resamples: usize,
    seed: u64,
    threads: usize,
) -> PyResult<PyAttribution> {
    let specs = parse_specs(&specs)?;
    let by: Dimension = by.parse().map_err(PyTpErr::from)?;
    let j = journeys.inner.clone();
    let control = PyControl::new(progress);
    let r = py
        .detach(|| match intervals {
            None => attribute_with(&j, &specs, by, &control),
            Some(level) => {
                let settings = Resampling { level, resamples, seed };
                attribute_with_intervals(&j, &specs, by, &settings, threads, &control)
            }
        })
        .map_err(PyTpErr::from)?;
    Ok(PyAttribution { inner: Arc::new(r), journeys: Some(j) })
}

/// Parts of a log held by a Python object (`touchpoint.spark`'s), reached through its `open` and
/// `run` methods, which take bytes and return a list of bytes (one per part). A Python exception
/// (an executor's error, Ctrl-C) is kept and raised as it is once the fit has stopped.
#[derive(Debug)]
struct PyRemote {
    obj: Py<PyAny>,
    population: Option<u64>,
    error: std::sync::Mutex<Option<PyErr>>,
}

impl PyRemote {
    fn call(&self, method: &str, bytes: &[u8]) -> touchpoint_core::Result<Vec<Vec<u8>>> {
        Python::attach(|py| {
            let got = self.obj.call_method1(py, method, (PyBytes::new(py, bytes),)).and_then(|r| {
                r.bind(py)
                    .try_iter()?
                    .map(|item| Ok(item?.cast::<PyBytes>()?.as_bytes().to_vec()))
                    .collect::<PyResult<Vec<Vec<u8>>>>()
            });
            got.map_err(|e| {
                let reason = e.to_string();
                *self.error.lock().expect("remote error slot") = Some(e);
                touchpoint_core::Error::Remote { reason }
            })
        })
    }
}

impl Remote for PyRemote {
    fn open(&self, spec: &[u8]) -> touchpoint_core::Result<Vec<Vec<u8>>> {
        self.call("open", spec)
    }

    fn run(&self, request: &[u8]) -> touchpoint_core::Result<Vec<Vec<u8>>> {
        self.call("run", request)
    }

    fn population(&self) -> Option<u64> {
        self.population
    }
}

/// `attribute` on journeys gathered on Spark, with timeline models fitted through `remote` (an
/// object whose `open(spec)` has every partition build its part of a fit and `run(request)` has
/// every part answer one pass; see `touchpoint.spark`).
#[pyfunction]
#[pyo3(signature = (journeys, specs, by, progress, remote, population))]
pub fn attribute_remote(
    py: Python<'_>,
    journeys: &PyJourneys,
    specs: Vec<String>,
    by: &str,
    progress: Option<Py<PyAny>>,
    remote: Py<PyAny>,
    population: Option<u64>,
) -> PyResult<PyAttribution> {
    let specs = parse_specs(&specs)?;
    let by: Dimension = by.parse().map_err(PyTpErr::from)?;
    let j = journeys.inner.clone();
    let control = PyControl::new(progress);
    let remote = PyRemote { obj: remote, population, error: std::sync::Mutex::new(None) };
    let r = py.detach(|| core_attribute_remote(&j, &specs, by, &remote, &control));
    match r {
        Ok(r) => Ok(PyAttribution { inner: Arc::new(r), journeys: Some(j) }),
        Err(e) => match remote.error.lock().expect("remote error slot").take() {
            Some(python) => Err(python),
            None => Err(PyTpErr::from(e).into()),
        },
    }
}

/// One part's answer to the driver's opening (run on a Spark executor, or per bucket): (its shape, the
/// part to keep), as bytes, from the part's journeys and the driver's spec: an additive-hazard fit's
/// data, or a model's credit of the part's journeys (`touchpoint_core::hazard::parts`).
#[pyfunction]
pub fn remote_part<'py>(
    py: Python<'py>,
    journeys: &PyJourneys,
    spec: &[u8],
) -> PyResult<(Bound<'py, PyBytes>, Bound<'py, PyBytes>)> {
    let j = journeys.inner.clone();
    let (shape, part) = py.detach(|| parts::build_part(&j, spec)).map_err(PyTpErr::from)?;
    Ok((PyBytes::new(py, &shape), PyBytes::new(py, &part)))
}

/// The sum of several parts' answers to one pass (bytes), one answer for the driver to collect.
#[pyfunction]
pub fn hazard_sum<'py>(py: Python<'py>, answers: Vec<Bound<'py, PyBytes>>) -> PyResult<Bound<'py, PyBytes>> {
    let refs: Vec<&[u8]> = answers.iter().map(|a| a.as_bytes()).collect();
    let out = py.detach(|| parts::sum_answers(&refs)).map_err(PyTpErr::from)?;
    Ok(PyBytes::new(py, &out))
}

/// A part's answer to one pass of the driver's fit (run on a Spark executor), as bytes.
#[pyfunction]
pub fn hazard_answer<'py>(py: Python<'py>, part: &[u8], request: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
    let out = py.detach(|| parts::answer(part, request)).map_err(PyTpErr::from)?;
    Ok(PyBytes::new(py, &out))
}

/// Checks a model spec (JSON) and returns it with every parameter filled in.
#[pyfunction]
pub fn validate_model(spec: &str) -> PyResult<String> {
    let spec = ModelSpec::from_json(spec).map_err(PyTpErr::from)?;
    spec.model().validate().map_err(PyTpErr::from)?;
    Ok(spec.to_json())
}

/// Whether the model of a spec (JSON), on gathered journeys, reads the parts that hold the timelines
/// (`Model::reads_remote`: timeline models, time decay by duration).
#[pyfunction]
pub fn reads_remote(spec: &str) -> PyResult<bool> {
    let spec = ModelSpec::from_json(spec).map_err(PyTpErr::from)?;
    Ok(spec.model().reads_remote())
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
