//! `Journeys` for Python: built from path tables and event logs (DataFrames; Python reads files), read
//! back as DataFrames.
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3_polars::PyDataFrame;
use touchpoint_core::{Dimension, Journeys};
use touchpoint_frame::{
    input_touches_frame, journeys_from_events_with, journeys_from_paths, journeys_from_statistics,
    path_statistics, paths_frame, summary_frame, unattributed_frame, EventOptions, Gathered, PathOptions,
};

use crate::error::PyTpErr;

/// Weighted journeys in columns, read once and used by every model.
#[pyclass(module = "touchpoint._touchpoint", name = "Journeys", frozen, skip_from_py_object)]
#[derive(Clone, Debug)]
pub struct PyJourneys {
    pub(crate) inner: Arc<Journeys>,
}

#[pymethods]
impl PyJourneys {
    /// Reads a path table held in a polars DataFrame.
    #[staticmethod]
    #[pyo3(signature = (df, path, conversions, value, nulls, sep, kpi, kpi_column=None))]
    #[allow(clippy::too_many_arguments)]
    fn from_paths_frame(
        py: Python<'_>,
        df: PyDataFrame,
        path: String,
        conversions: String,
        value: Option<String>,
        nulls: Option<String>,
        sep: String,
        kpi: String,
        kpi_column: Option<String>,
    ) -> PyResult<Self> {
        let opts = PathOptions { path, conversions, value, nulls, sep, kpi, kpi_column, delimiter: b',' };
        let j = py.detach(|| journeys_from_paths(&df.0, &opts)).map_err(PyTpErr::from)?;
        Ok(PyJourneys { inner: Arc::new(j) })
    }

    /// Builds journeys from a touches table and a conversions table (polars DataFrames).
    #[staticmethod]
    #[pyo3(signature = (touches, conversions, person, time, channel, kpi, value, lookback, lookback_by_kpi, dims, interaction_lookback, max_touches, tz, period=None, population=None, progress=None, value_is_default=false, kpis=Vec::new()))]
    #[allow(clippy::too_many_arguments)]
    fn from_events_frames(
        py: Python<'_>,
        touches: PyDataFrame,
        conversions: PyDataFrame,
        person: String,
        time: String,
        channel: String,
        kpi: String,
        value: Option<String>,
        lookback: String,
        lookback_by_kpi: Vec<(String, String)>,
        dims: Vec<String>,
        interaction_lookback: Vec<(String, String)>,
        max_touches: Option<usize>,
        tz: String,
        period: Option<(String, String)>,
        population: Option<u64>,
        progress: Option<Py<PyAny>>,
        value_is_default: bool,
        kpis: Vec<String>,
    ) -> PyResult<Self> {
        let opts = event_options(
            person,
            time,
            channel,
            kpi,
            value,
            lookback,
            lookback_by_kpi,
            dims,
            interaction_lookback,
            max_touches,
            tz,
            period,
            population,
            value_is_default,
            kpis,
        )?;
        let control = crate::control::PyControl::new(progress);
        let j = py
            .detach(|| journeys_from_events_with(&touches.0, &conversions.0, &opts, &control))
            .map_err(PyTpErr::from)?;
        Ok(PyJourneys { inner: Arc::new(j) })
    }

    /// Checks the options of from_events_frames alone, before any data is read.
    #[staticmethod]
    #[pyo3(signature = (person, time, channel, kpi, value, lookback, lookback_by_kpi, dims, interaction_lookback, max_touches, tz, period=None))]
    #[allow(clippy::too_many_arguments)]
    fn check_event_options(
        person: String,
        time: String,
        channel: String,
        kpi: String,
        value: Option<String>,
        lookback: String,
        lookback_by_kpi: Vec<(String, String)>,
        dims: Vec<String>,
        interaction_lookback: Vec<(String, String)>,
        max_touches: Option<usize>,
        tz: String,
        period: Option<(String, String)>,
    ) -> PyResult<()> {
        let opts = event_options(
            person,
            time,
            channel,
            kpi,
            value,
            lookback,
            lookback_by_kpi,
            dims,
            interaction_lookback,
            max_touches,
            tz,
            period,
            None,
            false,
            Vec::new(),
        )?;
        touchpoint_frame::check_options(&opts).map_err(PyTpErr::from)?;
        Ok(())
    }

    /// Mergeable statistics: the distinct paths (kpi, path, path_<dim>..., conversions, value, nulls,
    /// journeys, null_journeys) and the touches that entered (dimension, player, touches).
    fn statistics(&self, py: Python<'_>) -> PyResult<(PyDataFrame, PyDataFrame)> {
        let (paths, input) = py
            .detach(|| {
                Ok::<_, touchpoint_frame::Error>((
                    path_statistics(&self.inner)?,
                    input_touches_frame(&self.inner)?,
                ))
            })
            .map_err(PyTpErr::from)?;
        Ok((PyDataFrame(paths), PyDataFrame(input)))
    }

    /// Journeys from summed statistics (see `statistics`) and what was gathered besides them.
    #[staticmethod]
    #[pyo3(signature = (paths, dims, kpis, unattributed, trimmed, input_touches, warnings, origin))]
    #[allow(clippy::too_many_arguments)]
    fn from_statistics(
        py: Python<'_>,
        paths: PyDataFrame,
        dims: Vec<String>,
        kpis: Vec<String>,
        unattributed: Vec<(String, String, f64, f64)>,
        trimmed: Vec<(String, u64)>,
        input_touches: Vec<(String, String, f64)>,
        warnings: Vec<String>,
        origin: String,
    ) -> PyResult<Self> {
        let parse = |d: &str| d.parse::<Dimension>().map_err(PyTpErr::from);
        let g = Gathered {
            dims: dims.iter().map(|d| parse(d)).collect::<Result<_, _>>()?,
            kpis,
            unattributed: unattributed
                .into_iter()
                .map(|(kpi, reason, conversions, value)| touchpoint_core::Unattributed {
                    kpi,
                    reason,
                    conversions,
                    value,
                })
                .collect(),
            trimmed,
            input_touches: input_touches
                .into_iter()
                .map(|(d, p, t)| Ok((parse(&d)?, p, t)))
                .collect::<Result<_, PyTpErr>>()?,
            warnings,
            origin,
        };
        let j = py.detach(|| journeys_from_statistics(&paths.0, &g)).map_err(PyTpErr::from)?;
        Ok(PyJourneys { inner: Arc::new(j) })
    }

    /// Where the journeys' rows aggregate many journeys each (e.g. "on Spark"), or None.
    fn aggregated_origin(&self) -> Option<String> {
        self.inner.aggregated().map(|a| a.origin.clone())
    }

    /// The journeys as a path table: kpi, path, total_conversions, total_conversion_value, total_null.
    #[pyo3(signature = (sep=">"))]
    fn to_paths(&self, sep: &str) -> PyResult<PyDataFrame> {
        Ok(PyDataFrame(paths_frame(&self.inner, sep).map_err(PyTpErr::from)?))
    }

    /// The ingestion summary, one row per KPI.
    fn summary(&self) -> PyResult<PyDataFrame> {
        Ok(PyDataFrame(summary_frame(&self.inner).map_err(PyTpErr::from)?))
    }

    /// Conversions that entered without a journey: kpi, reason, conversions, value.
    fn unattributed(&self) -> PyResult<PyDataFrame> {
        Ok(PyDataFrame(unattributed_frame(self.inner.unattributed()).map_err(PyTpErr::from)?))
    }

    /// What the reader noticed (repeated by every attribution of these journeys).
    fn warnings(&self) -> Vec<String> {
        self.inner.warnings().to_vec()
    }

    /// KPI names.
    fn kpis(&self) -> Vec<String> {
        self.inner.kpis().names().to_vec()
    }

    /// Player names of a dimension.
    fn players(&self, by: &str) -> PyResult<Vec<String>> {
        let dim: Dimension = by.parse().map_err(PyTpErr::from)?;
        Ok(self.inner.player_names(dim))
    }

    /// Number of touches over all journeys.
    fn n_touches(&self) -> usize {
        self.inner.touch_count()
    }

    /// Whether touches carry times.
    fn has_timelines(&self) -> bool {
        self.inner.timelines().is_some()
    }

    /// The observation period (start, end) in microseconds since the epoch (UTC), when there are
    /// timelines.
    fn period(&self) -> Option<(i64, i64)> {
        self.inner.timelines().map(|t| t.period)
    }

    /// The population at risk given to from_events, when there are timelines and it was given.
    fn population(&self) -> Option<u64> {
        self.inner.timelines().and_then(|t| t.population)
    }

    /// The timelines as the (touches, conversions) tables from_events reads, or None.
    fn timeline_frames(&self, py: Python<'_>) -> PyResult<Option<(PyDataFrame, PyDataFrame)>> {
        let out = py.detach(|| touchpoint_frame::timelines_frames(&self.inner)).map_err(PyTpErr::from)?;
        Ok(out.map(|(a, b)| (PyDataFrame(a), PyDataFrame(b))))
    }

    fn has_times(&self) -> bool {
        self.inner.has_times()
    }

    /// Concatenation of two stores (ids remapped, summaries added).
    fn merge(&self, other: &PyJourneys) -> PyResult<Self> {
        let j = (*self.inner).clone().merge((*other.inner).clone()).map_err(PyTpErr::from)?;
        Ok(PyJourneys { inner: Arc::new(j) })
    }

    /// The journeys (with their timelines) in the project's own format, for pickling. Releases the GIL.
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyBytes>> {
        let j = self.inner.clone();
        let mut out = Vec::new();
        py.detach(|| j.write_to(&mut out)).map_err(|e| {
            PyTpErr::from(touchpoint_frame::Error::Write { path: "(pickle)".into(), message: e.to_string() })
        })?;
        Ok(pyo3::types::PyBytes::new(py, &out))
    }

    /// Journeys from `to_bytes`; damaged or foreign bytes are a ReadError.
    #[staticmethod]
    fn from_bytes(py: Python<'_>, bytes: &[u8]) -> PyResult<Self> {
        let (j, _) = py.detach(|| Journeys::read_from(&mut &bytes[..])).map_err(|e| {
            PyTpErr::from(touchpoint_frame::Error::Read { path: "(pickle)".into(), message: e.to_string() })
        })?;
        Ok(PyJourneys { inner: Arc::new(j) })
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }
}

/// [`EventOptions`] from the arguments of `from_events_frames`.
#[allow(clippy::too_many_arguments)]
fn event_options(
    person: String,
    time: String,
    channel: String,
    kpi: String,
    value: Option<String>,
    lookback: String,
    lookback_by_kpi: Vec<(String, String)>,
    dims: Vec<String>,
    interaction_lookback: Vec<(String, String)>,
    max_touches: Option<usize>,
    tz: String,
    period: Option<(String, String)>,
    population: Option<u64>,
    value_is_default: bool,
    kpis: Vec<String>,
) -> PyResult<EventOptions> {
    let dims =
        dims.iter().map(|d| d.parse::<Dimension>()).collect::<Result<Vec<_>, _>>().map_err(PyTpErr::from)?;
    Ok(EventOptions {
        person,
        time,
        channel,
        kpi,
        value,
        value_is_default,
        dims,
        lookback,
        lookback_by_kpi,
        interaction_lookback,
        max_touches,
        tz,
        period,
        population,
        kpis,
    })
}

/// Writes journeys to a file in the project's own format (one bucket of a log cut out of core);
/// returns the content's checksum. Releases the GIL.
#[pyfunction]
pub fn save_journeys(py: Python<'_>, journeys: &PyJourneys, path: std::path::PathBuf) -> PyResult<u64> {
    let j = journeys.inner.clone();
    py.detach(|| touchpoint_frame::save_journeys(&j, &path)).map_err(|e| PyTpErr::from(e).into())
}

/// Reads journeys written by `save_journeys`, their timelines observed over `period` (microseconds)
/// when given, the content checked against `checksum` when given. Releases the GIL.
#[pyfunction]
#[pyo3(signature = (path, period=None, checksum=None))]
pub fn load_journeys(
    py: Python<'_>,
    path: std::path::PathBuf,
    period: Option<(i64, i64)>,
    checksum: Option<u64>,
) -> PyResult<PyJourneys> {
    let j = py.detach(|| touchpoint_frame::load_journeys(&path, period, checksum)).map_err(PyTpErr::from)?;
    Ok(PyJourneys { inner: Arc::new(j) })
}

/// The header of a CSV file, refused when it names a column twice (`frame::check_header`).
#[pyfunction]
pub fn csv_header(path: std::path::PathBuf, delimiter: &str) -> PyResult<Vec<String>> {
    let &[d] = delimiter.as_bytes() else {
        return Err(crate::error::parameter_error(format!(
            "the CSV delimiter must be one byte, got {delimiter:?}"
        )));
    };
    touchpoint_frame::csv_header(&path, d).map_err(|e| PyTpErr::from(e).into())
}

/// The first line of a file that is not UTF-8 text, as a message, or None (`frame::first_non_utf8_line`).
#[pyfunction]
pub fn first_non_utf8_line(py: Python<'_>, path: std::path::PathBuf) -> PyResult<Option<String>> {
    py.detach(|| touchpoint_frame::first_non_utf8_line(&path)).map_err(|e| PyTpErr::from(e).into())
}
