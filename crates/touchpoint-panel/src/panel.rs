//! A balanced panel of units x periods, built from long rows (one row per unit and period), with
//! each unit's first treated period per treatment level.
//!
//! Rules (checked here, once, for every estimator of this crate):
//! - every (unit, period) appears exactly once, and every unit appears in every period (a balanced
//!   panel; an unbalanced one is refused, naming a missing row);
//! - outcomes and covariates are finite numbers;
//! - periods are whole numbers (days, weeks, any index); event time counts periods in their sorted
//!   order, so gaps between period values do not count;
//! - a cohort (first treated period) is a period of the panel, or after its last period (treated
//!   only after the panel ends: such units count as never treated, and a warning says how many);
//!   treated in or before the first period is an error (nothing untreated to compare with);
//! - a treatment given per row (0, 1, 2, ... levels) never falls within a unit.
use std::fmt;

use rayon::prelude::*;
use touchpoint_util::hashing::FastMap;

use crate::error::{Error, Result};

/// Unit ids, one per row: whole numbers or text.
#[derive(Clone, Debug)]
pub enum Ids {
    /// Whole-number ids.
    Int(Vec<i64>),
    /// Text ids.
    Text(Vec<String>),
}

impl Ids {
    fn len(&self) -> usize {
        match self {
            Ids::Int(v) => v.len(),
            Ids::Text(v) => v.len(),
        }
    }
}

/// One unit's id.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    /// A whole-number id.
    Int(i64),
    /// A text id.
    Text(String),
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Int(v) => write!(f, "{v}"),
            Key::Text(v) => write!(f, "{v:?}"),
        }
    }
}

/// A period as the user gave it: a whole number, or a date (days since 1970-01-01) shown as one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    /// The period's number (days since 1970-01-01 for dates).
    pub value: i64,
    /// Whether it is a date.
    pub date: bool,
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let day = chrono::NaiveDate::from_ymd_opt(1970, 1, 1)
            .and_then(|e| e.checked_add_signed(chrono::TimeDelta::try_days(self.value)?));
        match (self.date, day) {
            (true, Some(d)) => write!(f, "{}", d.format("%Y-%m-%d")),
            _ => write!(f, "{}", self.value),
        }
    }
}

/// The most distinct treatment levels a panel may have.
pub const MAX_LEVELS: usize = 100;

/// How the treatment is given.
#[derive(Clone, Debug)]
pub enum Treatment {
    /// Per row, the unit's first treated period (`None` or 0: never treated). Constant within a unit.
    Cohort(Vec<Option<i64>>),
    /// Per row, the unit's treatment level in that period (0 untreated, 1, 2, ...: successive
    /// levels such as training belts). Never falls within a unit.
    Level(Vec<i64>),
}

/// The columns of a long panel, one entry per row.
#[derive(Clone, Debug)]
pub struct PanelRows {
    /// Unit id of each row.
    pub unit: Ids,
    /// Period of each row (a whole number: a day or week number, a year, ...).
    pub time: Vec<i64>,
    /// Outcome of each row.
    pub outcome: Vec<f64>,
    /// The treatment.
    pub treatment: Treatment,
    /// Time-invariant covariates: (name, one value per row).
    pub covariates: Vec<(String, Vec<f64>)>,
    /// Optional cluster of each row (time-invariant), for clustered standard errors.
    pub cluster: Option<Ids>,
    /// Column names, for messages: (unit, time, outcome, treatment, cluster).
    pub names: ColumnNames,
    /// Whether the periods are dates (days since 1970-01-01), so messages show them as dates.
    pub dates: bool,
}

impl PanelRows {
    /// Rows with the four columns every panel has: no covariates, no clusters, the default column
    /// names in messages, periods that are numbers (set the fields for more).
    pub fn new(unit: Ids, time: Vec<i64>, outcome: Vec<f64>, treatment: Treatment) -> Self {
        PanelRows {
            unit,
            time,
            outcome,
            treatment,
            covariates: Vec::new(),
            cluster: None,
            names: ColumnNames::default(),
            dates: false,
        }
    }
}

/// The user's names of the panel's columns, used in messages.
#[derive(Clone, Debug)]
pub struct ColumnNames {
    /// Unit column.
    pub unit: String,
    /// Time column.
    pub time: String,
    /// Outcome column.
    pub outcome: String,
    /// Cohort or treatment-level column.
    pub treatment: String,
    /// Cluster column.
    pub cluster: String,
}

impl Default for ColumnNames {
    fn default() -> Self {
        ColumnNames {
            unit: "unit".into(),
            time: "time".into(),
            outcome: "outcome".into(),
            treatment: "cohort".into(),
            cluster: "cluster".into(),
        }
    }
}

/// A balanced panel: `n` units x `t` periods, unit-major.
#[derive(Clone, Debug)]
pub struct Panel {
    /// Unit ids in sorted order.
    pub units: Vec<Key>,
    /// Periods in increasing order.
    pub periods: Vec<i64>,
    /// Outcomes, `y[unit * periods.len() + period]`.
    pub y: Vec<f64>,
    /// Per treatment level (in `level_values` order), each unit's first treated period (at that
    /// level or above) as an index into `periods`; `None` = not treated at that level within the
    /// panel.
    pub cohorts: Vec<Vec<Option<usize>>>,
    /// The levels' values, increasing (`[1]` for a cohort column).
    pub level_values: Vec<i64>,
    /// Whether the periods are dates.
    pub dates: bool,
    /// Covariate names.
    pub covariate_names: Vec<String>,
    /// Covariates, `x[unit * k + j]` (no intercept).
    pub x: Vec<f64>,
    /// Cluster index of each unit (0..clusters), when clustered.
    pub cluster: Option<Vec<u32>>,
    /// Number of clusters (units when not clustered).
    pub clusters: usize,
    /// What was decided about the data that the user should know.
    pub warnings: Vec<String>,
}

impl Panel {
    /// Number of units.
    pub fn n(&self) -> usize {
        self.units.len()
    }

    /// Number of periods.
    pub fn t(&self) -> usize {
        self.periods.len()
    }

    /// Number of treatment levels.
    pub fn levels(&self) -> usize {
        self.cohorts.len()
    }

    /// The period at index `p`, as the user gave it.
    pub fn period(&self, p: usize) -> Period {
        Period { value: self.periods[p], date: self.dates }
    }

    /// Outcome of `unit` in period index `p`.
    pub fn y(&self, unit: usize, p: usize) -> f64 {
        self.y[unit * self.periods.len() + p]
    }

    /// Checks the rows and builds the balanced panel.
    pub fn from_rows(rows: &PanelRows) -> Result<Panel> {
        let names = &rows.names;
        let m = rows.time.len();
        if m == 0 {
            return Err(Error::Column { column: names.time.clone(), reason: "the panel has no rows".into() });
        }
        let check_len = |column: &str, len: usize| -> Result<()> {
            if len != m {
                return Err(Error::Column {
                    column: column.to_string(),
                    reason: format!("has {len} rows where `{}` has {m}", names.time),
                });
            }
            Ok(())
        };
        check_len(&names.unit, rows.unit.len())?;
        check_len(&names.outcome, rows.outcome.len())?;
        match &rows.treatment {
            Treatment::Cohort(c) => check_len(&names.treatment, c.len())?,
            Treatment::Level(l) => check_len(&names.treatment, l.len())?,
        }
        for (name, values) in &rows.covariates {
            check_len(name, values.len())?;
        }
        if let Some(c) = &rows.cluster {
            check_len(&names.cluster, c.len())?;
        }
        for (row, v) in rows.outcome.iter().enumerate() {
            if !v.is_finite() {
                return Err(Error::Value {
                    column: names.outcome.clone(),
                    row: row + 1,
                    value: v.to_string(),
                    reason: "outcomes must be finite numbers".into(),
                });
            }
        }
        for (name, values) in &rows.covariates {
            if let Some((row, v)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                return Err(Error::Value {
                    column: name.clone(),
                    row: row + 1,
                    value: v.to_string(),
                    reason: "covariates must be finite numbers".into(),
                });
            }
        }

        if m >= u32::MAX as usize {
            return Err(Error::TooLarge(format!("the panel has {m} rows, more than {}", u32::MAX - 1)));
        }
        // Units in sorted key order, periods in increasing order.
        let ((units, unit_of_row), (periods, period_of_row)) =
            rayon::join(|| dense_ids(&rows.unit), || dense_periods(&rows.time));
        let n = units.len();
        let t = periods.len();
        let per = |value: i64| Period { value, date: rows.dates };

        // Every (unit, period) once.
        let mut cell_row = vec![u32::MAX; n * t];
        for row in 0..m {
            let cell = unit_of_row[row] as usize * t + period_of_row[row] as usize;
            if cell_row[cell] != u32::MAX {
                return Err(Error::Duplicate {
                    unit: units[unit_of_row[row] as usize].to_string(),
                    period: per(rows.time[row]),
                    first: cell_row[cell] as usize + 1,
                    second: row + 1,
                });
            }
            cell_row[cell] = row as u32;
        }
        let missing = cell_row.iter().filter(|&&r| r == u32::MAX).count();
        if missing > 0 {
            let cell = cell_row.iter().position(|&r| r == u32::MAX).expect("a missing cell");
            return Err(Error::Unbalanced {
                unit: units[cell / t].to_string(),
                period: per(periods[cell % t]),
                missing,
            });
        }

        let y: Vec<f64> = cell_row.par_iter().map(|&r| rows.outcome[r as usize]).collect();
        let mut warnings = Vec::new();

        // Time-invariant values: checked against each unit's first period; `show` writes a value
        // for the message only when one differs.
        let same_within =
            |column: &str, changed: Option<(usize, usize)>, show: &dyn Fn(usize) -> String| -> Result<()> {
                let Some((u, p)) = changed else { return Ok(()) };
                Err(Error::VariesWithinUnit {
                    unit: units[u].to_string(),
                    column: column.to_string(),
                    detail: format!(
                        "is {} in period {} and {} in period {}",
                        show(cell_row[u * t] as usize),
                        per(periods[0]),
                        show(cell_row[u * t + p] as usize),
                        per(periods[p])
                    ),
                })
            };
        let k = rows.covariates.len();
        let mut x = vec![0.0; n * k];
        for (j, (name, values)) in rows.covariates.iter().enumerate() {
            same_within(
                name,
                first_change(&cell_row, t, |a, b| values[a].to_bits() == values[b].to_bits()),
                &|r| values[r].to_string(),
            )?;
            for u in 0..n {
                x[u * k + j] = values[cell_row[u * t] as usize];
            }
        }
        let (cluster, clusters) = match &rows.cluster {
            None => (None, n),
            Some(ids) => {
                let (keys, of_row) = dense_ids(ids);
                same_within(
                    &names.cluster,
                    first_change(&cell_row, t, |a, b| of_row[a] == of_row[b]),
                    &|r| keys[of_row[r] as usize].to_string(),
                )?;
                let of_unit: Vec<u32> = (0..n).map(|u| of_row[cell_row[u * t] as usize]).collect();
                // Dense cluster numbers in order of first appearance among units.
                let mut renumber = vec![u32::MAX; keys.len()];
                let mut next = 0u32;
                let of_unit: Vec<u32> = of_unit
                    .into_iter()
                    .map(|c| {
                        if renumber[c as usize] == u32::MAX {
                            renumber[c as usize] = next;
                            next += 1;
                        }
                        renumber[c as usize]
                    })
                    .collect();
                (Some(of_unit), next as usize)
            }
        };

        // First treated period per unit and level.
        let first_period = periods[0];
        let last_period = periods[t - 1];
        let cohort_index = |u: usize, cohort: i64| -> Result<Option<usize>> {
            if cohort <= first_period {
                return Err(Error::TreatedBeforePanel {
                    unit: units[u].to_string(),
                    cohort: per(cohort),
                    first: per(first_period),
                });
            }
            if cohort > last_period {
                return Ok(None);
            }
            match periods.binary_search(&cohort) {
                Ok(i) => Ok(Some(i)),
                Err(i) => Err(Error::CohortNotPeriod {
                    unit: units[u].to_string(),
                    cohort: per(cohort),
                    before: per(periods[i - 1]),
                    after: per(periods[i]),
                }),
            }
        };
        let mut after_panel = 0usize;
        let mut level_values = vec![1];
        let cohorts = match &rows.treatment {
            Treatment::Cohort(c) => {
                let norm = |r: usize| c[r].filter(|&v| v != 0);
                same_within(&names.treatment, first_change(&cell_row, t, |a, b| norm(a) == norm(b)), &|r| {
                    match norm(r) {
                        None => "never".to_string(),
                        Some(v) => v.to_string(),
                    }
                })?;
                let mut level = Vec::with_capacity(n);
                for u in 0..n {
                    match c[cell_row[u * t] as usize] {
                        None | Some(0) => level.push(None),
                        Some(g) => {
                            let i = cohort_index(u, g)?;
                            after_panel += usize::from(i.is_none());
                            level.push(i);
                        }
                    }
                }
                vec![level]
            }
            Treatment::Level(l) => {
                let mut values: Vec<i64> = Vec::new();
                for (row, &v) in l.iter().enumerate() {
                    if v < 0 {
                        return Err(Error::Value {
                            column: names.treatment.clone(),
                            row: row + 1,
                            value: v.to_string(),
                            reason:
                                "treatment levels are 0 (untreated) or positive whole numbers (1, 2, ...)"
                                    .into(),
                        });
                    }
                    if v > 0 && !values.contains(&v) {
                        values.push(v);
                        if values.len() > MAX_LEVELS {
                            return Err(Error::TooLarge(format!(
                                "column `{}` has more than {MAX_LEVELS} distinct treatment levels: give levels (belts), not amounts",
                                names.treatment
                            )));
                        }
                    }
                }
                values.sort_unstable();
                // A unit's first period at each level or above.
                let mut out = vec![vec![None; n]; values.len()];
                for u in 0..n {
                    let first = l[cell_row[u * t] as usize];
                    if first > 0 {
                        return Err(Error::TreatedBeforePanel {
                            unit: units[u].to_string(),
                            cohort: per(first_period),
                            first: per(first_period),
                        });
                    }
                    let mut prev = first;
                    for p in 1..t {
                        let v = l[cell_row[u * t + p] as usize];
                        if v < prev {
                            return Err(Error::Reverts {
                                unit: units[u].to_string(),
                                from: prev,
                                from_period: per(periods[p - 1]),
                                to: v,
                                to_period: per(periods[p]),
                            });
                        }
                        for (k, &level) in values.iter().enumerate() {
                            if prev < level && level <= v {
                                out[k][u] = Some(p);
                            }
                        }
                        prev = v;
                    }
                }
                level_values = values;
                out
            }
        };
        if after_panel > 0 {
            warnings.push(format!(
                "{after_panel} unit(s) are first treated after the panel's last period {}: they count as never treated",
                per(last_period)
            ));
        }
        Ok(Panel {
            units,
            periods,
            y,
            level_values,
            dates: rows.dates,
            cohorts,
            covariate_names: rows.covariates.iter().map(|(n, _)| n.clone()).collect(),
            x,
            cluster,
            clusters,
            warnings,
        })
    }
}

/// Dense ids in sorted key order: (the keys, each row's id).
fn dense_ids(ids: &Ids) -> (Vec<Key>, Vec<u32>) {
    match ids {
        Ids::Int(v) => dense(v, |&k| Key::Int(k)),
        Ids::Text(v) => {
            let refs: Vec<&str> = v.iter().map(String::as_str).collect();
            dense(&refs, |k| Key::Text((*k).to_owned()))
        }
    }
}

/// The first (unit, period) whose row differs (`equal` false) from the unit's row in the first
/// period, if any; `cell_row` holds each unit's rows by period, `t` per unit.
fn first_change(
    cell_row: &[u32],
    t: usize,
    equal: impl Fn(usize, usize) -> bool + Sync,
) -> Option<(usize, usize)> {
    cell_row.par_chunks(t).enumerate().find_map_first(|(u, rows)| {
        let first = rows[0] as usize;
        rows[1..].iter().position(|&r| !equal(first, r as usize)).map(|p| (u, p + 1))
    })
}

/// The distinct periods in increasing order, and each row's index among them. Periods are few:
/// when their values span a short range (weeks, days over some years) a table over the range
/// replaces the sort of every row.
fn dense_periods(time: &[i64]) -> (Vec<i64>, Vec<u32>) {
    let (lo, hi) = time.iter().fold((i64::MAX, i64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let span = hi.checked_sub(lo).and_then(|s| usize::try_from(s).ok()).and_then(|s| s.checked_add(1));
    match span {
        Some(span) if span <= 1 << 20 => {
            let mut seen = vec![u32::MAX; span];
            for &v in time {
                seen[(v - lo) as usize] = 0;
            }
            let mut periods = Vec::new();
            for (i, s) in seen.iter_mut().enumerate() {
                if *s == 0 {
                    *s = periods.len() as u32;
                    periods.push(lo + i as i64);
                }
            }
            let of_row = time.iter().map(|&v| seen[(v - lo) as usize]).collect();
            (periods, of_row)
        }
        _ => {
            let mut periods = time.to_vec();
            periods.sort_unstable();
            periods.dedup();
            let of_row = time
                .iter()
                .map(|v| periods.binary_search(v).expect("every row's period is a period") as u32)
                .collect();
            (periods, of_row)
        }
    }
}

fn dense<T: std::hash::Hash + Eq + Ord + Copy>(
    values: &[T],
    key: impl Fn(&T) -> Key,
) -> (Vec<Key>, Vec<u32>) {
    // Ids fit in u32: the rows do (checked by the caller before any id is used).
    let mut index: FastMap<T, u32> = FastMap::default();
    let mut of_row = Vec::with_capacity(values.len());
    // Rows of one unit usually come together: a run of the same id needs no lookup.
    let mut last: Option<(T, u32)> = None;
    for v in values {
        let id = match last {
            Some((k, id)) if k == *v => id,
            _ => {
                let next = index.len() as u32;
                *index.entry(*v).or_insert(next)
            }
        };
        last = Some((*v, id));
        of_row.push(id);
    }
    let mut uniq: Vec<(T, u32)> = index.into_iter().collect();
    uniq.sort_unstable_by_key(|u| u.0);
    let mut rank = vec![0u32; uniq.len()];
    for (r, (_, first)) in uniq.iter().enumerate() {
        rank[*first as usize] = r as u32;
    }
    for u in of_row.iter_mut() {
        *u = rank[*u as usize];
    }
    (uniq.iter().map(|(k, _)| key(k)).collect(), of_row)
}
