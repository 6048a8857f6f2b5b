//! The table edge of rollouts: a long panel DataFrame in as [`touchpoint_panel::PanelRows`], a
//! [`RolloutEffect`] out as DataFrames. One reader for Python and the CLI.
//!
//! Column types: unit and cluster ids are whole numbers or text; periods are whole numbers or
//! dates (text in CSV files: whole numbers, or dates written `YYYY-MM-DD`); the cohort is the
//! first treated period in the same type as the periods (null or 0: never treated); a treatment
//! level is a whole number; outcomes and covariates are numbers. A null anywhere else is an error
//! naming the column and row.
use chrono::NaiveDate;
use polars::prelude::*;
use touchpoint_panel::{ColumnNames, Ids, Levels, PanelRows, RolloutEffect, Treatment};

use crate::error::{Error, Result};
use crate::table::{f64_column, require};

/// The panel's column names.
#[derive(Clone, Debug)]
pub struct RolloutColumns {
    /// Unit id column.
    pub unit: String,
    /// Period column.
    pub time: String,
    /// Outcome column.
    pub outcome: String,
    /// First-treated-period column (exclusive with `treatment`).
    pub cohort: Option<String>,
    /// Treatment-level column (0, 1, 2, ... per row; exclusive with `cohort`).
    pub treatment: Option<String>,
    /// Time-invariant covariates.
    pub covariates: Vec<String>,
    /// Cluster column.
    pub cluster: Option<String>,
}

/// How the periods were given, so results show them the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeKind {
    /// Whole numbers.
    Int,
    /// Dates (days since 1970-01-01).
    Date,
}

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("the epoch")
}

fn null(column: &str, row: usize) -> Error {
    Error::NullValue { column: column.to_owned(), table: Some("panel"), row }
}

/// A column's values straight from its buffers; a null is an error naming its row.
fn no_nulls<T: PolarsNumericType>(ca: &ChunkedArray<T>, name: &str) -> Result<Vec<T::Native>> {
    if ca.null_count() > 0 {
        let row = ca.iter().position(|v| v.is_none()).unwrap_or(0);
        return Err(null(name, row + 1));
    }
    let mut out = Vec::with_capacity(ca.len());
    for arr in ca.downcast_iter() {
        out.extend_from_slice(arr.values().as_slice());
    }
    Ok(out)
}

/// Unit or cluster ids.
fn ids(col: &Column, name: &str) -> Result<Ids> {
    let dt = col.dtype();
    if dt.is_integer() {
        let c = col.cast(&DataType::Int64)?;
        return Ok(Ids::Int(no_nulls(c.i64()?, name)?));
    }
    if dt == &DataType::String || dt.is_categorical() || dt.is_enum() {
        let c = col.cast(&DataType::String)?;
        let v = c.str()?;
        return v
            .iter()
            .enumerate()
            .map(|(i, x)| x.map(str::to_owned).ok_or_else(|| null(name, i + 1)))
            .collect::<Result<_>>()
            .map(Ids::Text);
    }
    Err(Error::ColumnType {
        column: name.to_owned(),
        expected: "whole numbers or text",
        found: dt.to_string(),
    })
}

/// Periods (or cohorts) as whole numbers; nulls kept as `None`.
fn periods(col: &Column, name: &str) -> Result<(Vec<Option<i64>>, TimeKind)> {
    let dt = col.dtype();
    if dt.is_integer() {
        let c = col.cast(&DataType::Int64)?;
        return Ok((c.i64()?.iter().collect(), TimeKind::Int));
    }
    if dt == &DataType::Date {
        let c = col.cast(&DataType::Int32)?;
        return Ok((c.i32()?.iter().map(|v| v.map(i64::from)).collect(), TimeKind::Date));
    }
    if let DataType::Datetime(unit, _) = dt {
        // Dates that came as midnight datetimes (pandas has no date type): whole days only.
        let per_day: i64 = match unit {
            TimeUnit::Nanoseconds => 86_400_000_000_000,
            TimeUnit::Microseconds => 86_400_000_000,
            TimeUnit::Milliseconds => 86_400_000,
        };
        let c = col.cast(&DataType::Int64)?;
        let mut out = Vec::with_capacity(c.len());
        for (i, v) in c.i64()?.iter().enumerate() {
            out.push(match v {
                None => None,
                Some(x) if x.rem_euclid(per_day) == 0 => Some(x.div_euclid(per_day)),
                Some(_) => {
                    return Err(Error::ColumnType {
                        column: name.to_owned(),
                        expected: "whole numbers or dates (datetimes at midnight)",
                        found: format!("a time of day at row {}", i + 1),
                    })
                }
            });
        }
        return Ok((out, TimeKind::Date));
    }
    if dt == &DataType::String {
        let text = col.str()?;
        let mut kind = None;
        let mut out = Vec::with_capacity(text.len());
        for (i, v) in text.iter().enumerate() {
            let Some(s) = v.map(str::trim).filter(|s| !s.is_empty()) else {
                out.push(None);
                continue;
            };
            let (value, k) = if let Ok(n) = s.parse::<i64>() {
                (n, TimeKind::Int)
            } else if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
                ((d - epoch()).num_days(), TimeKind::Date)
            } else {
                return Err(Error::Number { column: name.to_owned(), row: i + 1, value: s.to_owned() });
            };
            if *kind.get_or_insert(k) != k {
                return Err(Error::ColumnType {
                    column: name.to_owned(),
                    expected: "periods of one kind (whole numbers, or dates YYYY-MM-DD)",
                    found: format!("both at row {}", i + 1),
                });
            }
            out.push(Some(value));
        }
        return Ok((out, kind.unwrap_or(TimeKind::Int)));
    }
    Err(Error::ColumnType {
        column: name.to_owned(),
        expected: "whole numbers or dates",
        found: dt.to_string(),
    })
}

fn numbers(df: &DataFrame, name: &str) -> Result<Vec<f64>> {
    let c = f64_column(require(df, name)?, name)?;
    no_nulls(c.f64()?, name)
}

/// The period column: whole numbers or dates, no nulls.
fn time_of(df: &DataFrame, name: &str) -> Result<(Vec<i64>, TimeKind)> {
    let col = require(df, name)?;
    if col.dtype().is_integer() {
        return Ok((no_nulls(col.cast(&DataType::Int64)?.i64()?, name)?, TimeKind::Int));
    }
    let (time, kind) = periods(col, name)?;
    let time = time
        .into_iter()
        .enumerate()
        .map(|(i, v)| v.ok_or_else(|| null(name, i + 1)))
        .collect::<Result<Vec<i64>>>()?;
    Ok((time, kind))
}

/// The treatment: a cohort column (0 and null: never treated), with the kind of its periods, or a
/// level column; and the column's name.
fn treatment_of(df: &DataFrame, cols: &RolloutColumns) -> Result<(Treatment, String, Option<TimeKind>)> {
    match (&cols.cohort, &cols.treatment) {
        (Some(c), None) => {
            let col = require(df, c)?;
            if col.dtype().is_integer() && col.null_count() == 0 {
                let col = col.cast(&DataType::Int64)?;
                let mut cohorts = Vec::with_capacity(col.len());
                for arr in col.i64()?.downcast_iter() {
                    cohorts.extend(arr.values().iter().map(|&v| (v != 0).then_some(v)));
                }
                return Ok((Treatment::Cohort(cohorts), c.clone(), Some(TimeKind::Int)));
            }
            let (values, ckind) = periods(col, c)?;
            Ok((
                Treatment::Cohort(values.into_iter().map(|v| v.filter(|&x| x != 0)).collect()),
                c.clone(),
                Some(ckind),
            ))
        }
        (None, Some(t)) => {
            let col = require(df, t)?;
            let values: Vec<i64> = if col.dtype().is_integer() {
                no_nulls(col.cast(&DataType::Int64)?.i64()?, t)?
            } else {
                let c = f64_column(col, t)?;
                c.f64()?
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        let v = v.ok_or_else(|| null(t, i + 1))?;
                        if v.fract() != 0.0 || !v.is_finite() {
                            return Err(Error::Number {
                                column: t.clone(),
                                row: i + 1,
                                value: v.to_string(),
                            });
                        }
                        Ok(v as i64)
                    })
                    .collect::<Result<_>>()?
            };
            Ok((Treatment::Level(values), t.clone(), None))
        }
        _ => Err(Error::InvalidOption {
            option: "cohort",
            value: format!("cohort={:?}, treatment={:?}", cols.cohort, cols.treatment),
            reason: "give exactly one of `cohort` (first treated period) and `treatment` (level per row)"
                .into(),
        }),
    }
}

/// Reads the panel's columns from `df`.
pub fn rollout_rows(df: &DataFrame, cols: &RolloutColumns) -> Result<(PanelRows, TimeKind)> {
    // The columns are copied out side by side: with millions of rows, filling fresh memory is
    // most of the time.
    let ((unit, time), (outcome, treatment)) = rayon::join(
        || (require(df, &cols.unit).and_then(|c| ids(c, &cols.unit)), time_of(df, &cols.time)),
        || (numbers(df, &cols.outcome), treatment_of(df, cols)),
    );
    let (unit, (time, kind)) = (unit?, time?);
    let outcome = outcome?;
    let (treatment, treatment_name, ckind) = treatment?;
    if let (Treatment::Cohort(values), Some(ckind)) = (&treatment, ckind) {
        // A cohort column of nulls and zeros says nothing about its kind.
        if ckind != kind && values.iter().any(|v| v.is_some()) {
            let c = &treatment_name;
            return Err(Error::ColumnType {
                column: c.clone(),
                expected: if kind == TimeKind::Date {
                    "dates, like the periods"
                } else {
                    "whole numbers, like the periods"
                },
                found: require(df, c)?.dtype().to_string(),
            });
        }
    }
    let covariates =
        cols.covariates.iter().map(|c| Ok((c.clone(), numbers(df, c)?))).collect::<Result<Vec<_>>>()?;
    let cluster = match &cols.cluster {
        Some(c) => Some(ids(require(df, c)?, c)?),
        None => None,
    };
    let names = ColumnNames {
        unit: cols.unit.clone(),
        time: cols.time.clone(),
        outcome: cols.outcome.clone(),
        treatment: treatment_name,
        cluster: cols.cluster.clone().unwrap_or_else(|| "cluster".into()),
    };
    Ok((
        PanelRows {
            unit,
            time,
            outcome,
            treatment,
            covariates,
            cluster,
            names,
            dates: kind == TimeKind::Date,
        },
        kind,
    ))
}

/// The tables of a rollout result.
#[derive(Debug)]
pub struct RolloutFrames {
    /// `level, cohort, time, event_time, base, effect, se, lower, upper, treated_units,
    /// comparison_units`; with `Levels::Step`, `previous_cohort` after `cohort` (the period the
    /// cell's units reached the level below).
    pub group_time: DataFrame,
    /// `level, event_time, effect, se, lower, upper, pointwise_lower, pointwise_upper, p_value`.
    pub event_study: DataFrame,
    /// `level, cohort, effect, se, lower, upper, pointwise_lower, pointwise_upper, p_value`.
    pub by_cohort: DataFrame,
    /// `level, time, effect, se, lower, upper, pointwise_lower, pointwise_upper, p_value`.
    pub by_period: DataFrame,
    /// `level, aggregation, effect, se, lower, upper, p_value`: one overall row per aggregation.
    pub summary: DataFrame,
    /// `level, cohort, units` (cohort null: never treated at that level).
    pub cohorts: DataFrame,
}

fn nan_none(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

fn time_column(name: &str, values: Vec<Option<i64>>, kind: TimeKind) -> Result<Column> {
    let c = Column::new(name.into(), values);
    Ok(match kind {
        TimeKind::Int => c,
        TimeKind::Date => c.cast(&DataType::Int32)?.cast(&DataType::Date)?,
    })
}

/// The result as DataFrames, periods shown as they were given.
pub fn rollout_frames(r: &RolloutEffect, kind: TimeKind) -> Result<RolloutFrames> {
    let g = &r.group_time;
    let mut columns = vec![
        Column::new("level".into(), g.iter().map(|x| x.level).collect::<Vec<_>>()),
        time_column("cohort", g.iter().map(|x| Some(x.cohort)).collect(), kind)?,
    ];
    if r.options.levels == Levels::Step {
        columns.push(time_column("previous_cohort", g.iter().map(|x| x.previous_cohort).collect(), kind)?);
    }
    columns.extend([
        time_column("time", g.iter().map(|x| Some(x.time)).collect(), kind)?,
        Column::new("event_time".into(), g.iter().map(|x| x.event_time).collect::<Vec<_>>()),
        time_column("base", g.iter().map(|x| Some(x.base)).collect(), kind)?,
        Column::new("effect".into(), g.iter().map(|x| x.effect).collect::<Vec<_>>()),
        Column::new("se".into(), g.iter().map(|x| nan_none(x.se)).collect::<Vec<_>>()),
        Column::new("lower".into(), g.iter().map(|x| nan_none(x.lower)).collect::<Vec<_>>()),
        Column::new("upper".into(), g.iter().map(|x| nan_none(x.upper)).collect::<Vec<_>>()),
        Column::new("treated_units".into(), g.iter().map(|x| x.treated_units).collect::<Vec<_>>()),
        Column::new("comparison_units".into(), g.iter().map(|x| x.comparison_units).collect::<Vec<_>>()),
    ]);
    let group_time = DataFrame::new_infer_height(columns)?;
    let per = |aggregation: &str, at_name: &str, at_kind: Option<TimeKind>| -> Result<DataFrame> {
        let rows: Vec<_> =
            r.aggregates.iter().filter(|a| a.aggregation == aggregation && a.at.is_some()).collect();
        let at: Vec<Option<i64>> = rows.iter().map(|a| a.at).collect();
        let at_col = match at_kind {
            Some(k) => time_column(at_name, at, k)?,
            None => Column::new(at_name.into(), at),
        };
        Ok(DataFrame::new_infer_height(vec![
            Column::new("level".into(), rows.iter().map(|a| a.level).collect::<Vec<_>>()),
            at_col,
            Column::new("effect".into(), rows.iter().map(|a| a.effect).collect::<Vec<_>>()),
            Column::new("se".into(), rows.iter().map(|a| nan_none(a.se)).collect::<Vec<_>>()),
            Column::new("lower".into(), rows.iter().map(|a| nan_none(a.lower)).collect::<Vec<_>>()),
            Column::new("upper".into(), rows.iter().map(|a| nan_none(a.upper)).collect::<Vec<_>>()),
            Column::new(
                "pointwise_lower".into(),
                rows.iter().map(|a| nan_none(a.pointwise_lower)).collect::<Vec<_>>(),
            ),
            Column::new(
                "pointwise_upper".into(),
                rows.iter().map(|a| nan_none(a.pointwise_upper)).collect::<Vec<_>>(),
            ),
            Column::new("p_value".into(), rows.iter().map(|a| nan_none(a.p_value)).collect::<Vec<_>>()),
        ])?)
    };
    let overall: Vec<_> = r.aggregates.iter().filter(|a| a.at.is_none()).collect();
    let summary = DataFrame::new_infer_height(vec![
        Column::new("level".into(), overall.iter().map(|a| a.level).collect::<Vec<_>>()),
        Column::new("aggregation".into(), overall.iter().map(|a| a.aggregation.clone()).collect::<Vec<_>>()),
        Column::new("effect".into(), overall.iter().map(|a| a.effect).collect::<Vec<_>>()),
        Column::new("se".into(), overall.iter().map(|a| nan_none(a.se)).collect::<Vec<_>>()),
        Column::new("lower".into(), overall.iter().map(|a| nan_none(a.lower)).collect::<Vec<_>>()),
        Column::new("upper".into(), overall.iter().map(|a| nan_none(a.upper)).collect::<Vec<_>>()),
        Column::new("p_value".into(), overall.iter().map(|a| nan_none(a.p_value)).collect::<Vec<_>>()),
    ])?;
    let cohorts = DataFrame::new_infer_height(vec![
        Column::new("level".into(), r.cohort_sizes.iter().map(|c| c.0).collect::<Vec<_>>()),
        time_column("cohort", r.cohort_sizes.iter().map(|c| c.1).collect(), kind)?,
        Column::new("units".into(), r.cohort_sizes.iter().map(|c| c.2).collect::<Vec<_>>()),
    ])?;
    Ok(RolloutFrames {
        group_time,
        event_study: per("event", "event_time", None)?,
        by_cohort: per("group", "cohort", Some(kind))?,
        by_period: per("calendar", "time", Some(kind))?,
        summary,
        cohorts,
    })
}

/// What [`credit_panel_of`] left out, for the caller to report.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CreditPanelInfo {
    /// Number of periods.
    pub periods: u64,
    /// Players (units) in the panel.
    pub players: u64,
    /// Credit rows of the `(baseline)` (not a player, so not a unit).
    pub baseline_rows: u64,
    /// Credit rows without a time (path tables), left out.
    pub untimed_rows: u64,
}

/// The outcome panel of a rollout from an attribution: one row per player of the attribution's
/// dimension (`by`: actors, actor groups, ...) and period of length `every_us` from the start of
/// the journeys' observation period, with the player's `touches` in that period and the
/// `conversions` and `value` the model credited to them in it (conversions dated by their time),
/// zero where there were none, so the panel is balanced. Players are every player with a touch in
/// the journeys. The last period may be shorter than `every_us` (it ends with the observation
/// period). Journeys without timelines (path tables) have no times: an error.
pub fn credit_panel_of(
    source: crate::CreditSource<'_>,
    attribution: &touchpoint_core::Attribution,
    model: &str,
    kpi: Option<&str>,
    every_us: i64,
    control: &dyn touchpoint_core::Control,
) -> Result<(DataFrame, CreditPanelInfo)> {
    use touchpoint_util::hashing::FastMap;
    if every_us <= 0 {
        return Err(Error::InvalidOption {
            option: "every",
            value: every_us.to_string(),
            reason: "a positive duration".into(),
        });
    }
    if !attribution.models.iter().any(|m| m.label == model) {
        let labels: Vec<&str> = attribution.models.iter().map(|m| m.label.as_str()).collect();
        return Err(Error::InvalidOption {
            option: "model",
            value: model.to_owned(),
            reason: format!("not a model of this attribution ({})", labels.join(", ")),
        });
    }
    let by = attribution.by;
    let no_times = || {
        Error::InvalidOption {
        option: "journeys",
        value: "without timelines".into(),
        reason: "a rollout panel needs times: build the journeys from an event log (from_events), not a path table"
            .into(),
    }
    };
    let period_of = |j: &touchpoint_core::Journeys| j.timelines().map(|t| t.period).ok_or_else(no_times);
    // The observation period: the store's, or the parts' (given, or read from each part once).
    let (start, end) = match source {
        crate::CreditSource::One(j) => period_of(j)?,
        crate::CreditSource::Parts { period: Some(p), .. } => p,
        crate::CreditSource::Parts { parts, period: None } => {
            let mut span: Option<(i64, i64)> = None;
            for part in parts {
                control.checkpoint()?;
                let p = period_of(&crate::load_part(part, None)?)?;
                span = Some(span.map_or(p, |(a, b)| (a.min(p.0), b.max(p.1))));
            }
            span.unwrap_or((0, 0))
        }
    };
    let periods = ((end - start).max(1) + every_us - 1) / every_us;
    let np = periods as usize;
    let bin = |time: i64| -> Option<usize> {
        (start..end).contains(&time).then(|| ((time - start) / every_us) as usize)
    };

    // Players: everyone with a touch, in name order; touches counted one store at a time, each
    // vocabulary id looked up by name once per store.
    let mut names: Vec<String> = Vec::new();
    let mut index: FastMap<String, usize> = FastMap::default();
    // Touches per player (in order of first touch) and period.
    let mut counted: Vec<f64> = Vec::new();
    let mut count = |j: &touchpoint_core::Journeys| -> Result<()> {
        let t = j.timelines().ok_or_else(no_times)?;
        let vocab = j.vocab(by);
        let ids = t.touch_ids(by).ok_or_else(|| Error::InvalidOption {
            option: "by",
            value: by.as_str().to_owned(),
            reason: "the journeys' timelines do not carry this dimension".into(),
        })?;
        let mut unit_of_id: Vec<Option<usize>> = vec![None; vocab.len()];
        for (&id, &time) in ids.iter().zip(t.touch_times()) {
            let u = *unit_of_id[id as usize].get_or_insert_with(|| {
                let name = vocab.name(id);
                *index.entry(name.to_owned()).or_insert_with(|| {
                    names.push(name.to_owned());
                    counted.resize(names.len() * np, 0.0);
                    names.len() - 1
                })
            });
            if let Some(p) = bin(time) {
                counted[u * np + p] += 1.0;
            }
        }
        Ok(())
    };
    match source {
        crate::CreditSource::One(j) => count(j)?,
        crate::CreditSource::Parts { parts, .. } => {
            for part in parts {
                control.checkpoint()?;
                count(&crate::load_part(part, Some((start, end)))?)?;
            }
        }
    }
    let mut order: Vec<usize> = (0..names.len()).collect();
    order.sort_by(|&a, &b| names[a].cmp(&names[b]));
    let mut rank = vec![0usize; names.len()];
    for (r, &u) in order.iter().enumerate() {
        rank[u] = r;
    }
    let n = names.len();
    let mut touches = vec![0.0; n * np];
    for (u, row) in counted.chunks(np.max(1)).enumerate() {
        touches[rank[u] * np..(rank[u] + 1) * np].copy_from_slice(row);
    }
    let mut conversions = vec![0.0; n * np];
    let mut value = vec![0.0; n * np];
    let mut info =
        CreditPanelInfo { periods: periods as u64, players: n as u64, ..CreditPanelInfo::default() };
    crate::table::each_credit(source, attribution, &[model], control, &mut |r| {
        if kpi.is_some_and(|k| k != r.kpi) {
            return;
        }
        if r.player == touchpoint_core::BASELINE_PLAYER {
            info.baseline_rows += 1;
            return;
        }
        let Some(time) = r.time else {
            info.untimed_rows += 1;
            return;
        };
        match (index.get(r.player), bin(time)) {
            (Some(&u), Some(p)) => {
                conversions[rank[u] * np + p] += r.conversions;
                value[rank[u] * np + p] += r.value;
            }
            // A credited player always has touches, and conversions lie in the observation period;
            // anything else would be a broken store, and is counted rather than dropped unseen.
            _ => info.untimed_rows += 1,
        }
    })?;
    let mut unit = Vec::with_capacity(n * np);
    let mut period_col = Vec::with_capacity(n * np);
    let mut starts = Vec::with_capacity(n * np);
    for &u in &order {
        for p in 0..np {
            unit.push(names[u].clone());
            period_col.push(p as i64 + 1);
            starts.push(start + p as i64 * every_us);
        }
    }
    let df = DataFrame::new_infer_height(vec![
        Column::new(by.as_str().into(), unit),
        Column::new("period".into(), period_col),
        Column::new("start".into(), starts)
            .cast(&DataType::Datetime(TimeUnit::Microseconds, Some(polars::prelude::TimeZone::UTC)))?,
        Column::new("touches".into(), touches),
        Column::new("conversions".into(), conversions),
        Column::new("value".into(), value),
    ])?;
    Ok((df, info))
}
