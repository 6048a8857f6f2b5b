//! Column access with typed errors, and results as DataFrames.
use polars::prelude::*;
use touchpoint_core::attribution::{JourneyCreditGap, JourneyCreditRow};
use touchpoint_core::{Attribution, Journeys};

use crate::error::{Error, Result};

/// The column `name` of `df`, or an error listing the columns there are.
pub fn require<'a>(df: &'a DataFrame, name: &str) -> Result<&'a Column> {
    df.column(name).map_err(|_| Error::MissingColumn {
        column: name.to_owned(),
        table: None,
        available: df.get_column_names().iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", "),
    })
}

/// The column as strings (strings only; other types are a typed error).
pub fn str_column(col: &Column, name: &str) -> Result<Column> {
    match col.dtype() {
        DataType::String => Ok(col.clone()),
        dt if dt.is_categorical() || dt.is_enum() => Ok(col.cast(&DataType::String)?),
        other => {
            Err(Error::ColumnType { column: name.to_owned(), expected: "text", found: other.to_string() })
        }
    }
}

/// The column as f64: any numeric type, or text holding numbers (CSV files are read as text, so
/// every reader types them the same way). Text that is not a number is an error naming the column,
/// the row (1-based) and the text.
pub fn f64_column(col: &Column, name: &str) -> Result<Column> {
    let dt = col.dtype();
    if dt.is_primitive_numeric() || dt.is_bool() || dt == &DataType::Null {
        return Ok(col.cast(&DataType::Float64)?);
    }
    if dt == &DataType::String {
        let text = col.str()?;
        let mut out: Vec<Option<f64>> = Vec::with_capacity(text.len());
        for (i, v) in text.iter().enumerate() {
            out.push(match v.map(str::trim) {
                None | Some("") => None,
                Some(t) => Some(t.parse::<f64>().map_err(|_| Error::Number {
                    column: name.to_owned(),
                    row: i + 1,
                    value: t.to_owned(),
                })?),
            });
        }
        return Ok(Column::new(col.name().clone(), out));
    }
    Err(Error::ColumnType { column: name.to_owned(), expected: "numeric", found: dt.to_string() })
}

fn strings(name: &str, v: Vec<String>) -> Column {
    Column::new(name.into(), v)
}

fn floats(name: &str, v: Vec<f64>) -> Column {
    Column::new(name.into(), v)
}

fn string_lists(name: &str, v: Vec<Vec<String>>) -> Column {
    let lists: Vec<Series> = v.into_iter().map(|l| Series::new(PlSmallStr::EMPTY, l)).collect();
    Column::new(name.into(), lists)
}

/// Reads one optional number of a credit row.
type CreditField = fn(&touchpoint_core::Credit) -> Option<f64>;

/// The interval columns of credit rows, with the field each reads.
const BOUNDS: [(&str, CreditField); 6] = [
    ("conversions_lower", |x| x.conversions_lower),
    ("conversions_upper", |x| x.conversions_upper),
    ("value_lower", |x| x.value_lower),
    ("value_upper", |x| x.value_upper),
    ("share_lower", |x| x.share_lower),
    ("share_upper", |x| x.share_upper),
];

/// Credit rows: `model, kpi, <by>, conversions, value, share`, and with intervals
/// `conversions_lower, conversions_upper, value_lower, value_upper, share_lower, share_upper`,
/// `differs_from_zero` (the conversions' interval leaves 0 out).
pub fn credits_frame(r: &Attribution) -> Result<DataFrame> {
    let c = &r.credits;
    let mut cols = vec![
        strings("model", c.iter().map(|x| x.model.clone()).collect()),
        strings("kpi", c.iter().map(|x| x.kpi.clone()).collect()),
        strings(r.by.as_str(), c.iter().map(|x| x.player.clone()).collect()),
        floats("conversions", c.iter().map(|x| x.conversions).collect()),
        floats("value", c.iter().map(|x| x.value).collect()),
        Column::new("share".into(), c.iter().map(|x| x.share).collect::<Vec<Option<f64>>>()),
    ];
    if r.bootstrap.is_some() {
        for (name, get) in BOUNDS {
            cols.push(Column::new(name.into(), c.iter().map(get).collect::<Vec<Option<f64>>>()));
        }
        cols.push(Column::new(
            "differs_from_zero".into(),
            c.iter().map(|x| x.differs_from_zero()).collect::<Vec<Option<bool>>>(),
        ));
    }
    Ok(DataFrame::new_infer_height(cols)?)
}

/// [`credits_frame`] written as CSV to `out` straight from the credits (no DataFrame: polars' CSV
/// writer costs more to start than a command line's whole Markov run on a small table). Numbers are
/// written as `f64`'s shortest round-trip text, with `.0` on whole numbers, as polars writes them; an
/// absent value is an empty field.
pub fn write_credits_csv(r: &Attribution, out: impl std::io::Write) -> Result<()> {
    let mut w = csv::Writer::from_writer(out);
    let io = |e: csv::Error| Error::Write { path: "(output)".into(), message: e.to_string() };
    let mut header = vec!["model", "kpi", r.by.as_str(), "conversions", "value", "share"];
    let bounds = r.bootstrap.is_some();
    if bounds {
        header.extend(BOUNDS.map(|b| b.0));
        header.push("differs_from_zero");
    }
    w.write_record(&header).map_err(io)?;
    let num = |v: Option<f64>| v.map_or_else(String::new, |v| format!("{v:?}"));
    for c in &r.credits {
        let mut row = vec![c.model.clone(), c.kpi.clone(), c.player.clone()];
        row.extend([Some(c.conversions), Some(c.value), c.share].map(num));
        if bounds {
            row.extend(BOUNDS.map(|(_, get)| num(get(c))));
            row.push(c.differs_from_zero().map_or_else(String::new, |d| d.to_string()));
        }
        w.write_record(&row).map_err(io)?;
    }
    w.flush().map_err(|e| io(e.into()))?;
    Ok(())
}

/// Removal effects: `model, kpi, <by>, removal_effect, value_removal_effect`.
pub fn removal_effects_frame(r: &Attribution) -> Result<DataFrame> {
    let e = &r.removal_effects;
    Ok(DataFrame::new_infer_height(vec![
        strings("model", e.iter().map(|x| x.model.clone()).collect()),
        strings("kpi", e.iter().map(|x| x.kpi.clone()).collect()),
        strings(r.by.as_str(), e.iter().map(|x| x.player.clone()).collect()),
        floats("removal_effect", e.iter().map(|x| x.removal_effect).collect()),
        floats("value_removal_effect", e.iter().map(|x| x.value_removal_effect).collect()),
    ])?)
}

/// Transition probabilities of one model and KPI (all when `None`): `from, to, probability,
/// from_players, to_players` (with `model, kpi` first when unfiltered). `from` and `to` join the
/// players with ` > ` for reading; the list columns say which players exactly.
pub fn transitions_frame(r: &Attribution, model: Option<&str>, kpi: Option<&str>) -> Result<DataFrame> {
    let rows: Vec<_> = r
        .transitions
        .iter()
        .filter(|t| model.is_none_or(|m| t.model == m) && kpi.is_none_or(|k| t.kpi == k))
        .collect();
    let mut cols = Vec::new();
    if model.is_none() || kpi.is_none() {
        cols.push(strings("model", rows.iter().map(|x| x.model.clone()).collect()));
        cols.push(strings("kpi", rows.iter().map(|x| x.kpi.clone()).collect()));
    }
    cols.push(strings("from", rows.iter().map(|x| x.from.clone()).collect()));
    cols.push(strings("to", rows.iter().map(|x| x.to.clone()).collect()));
    cols.push(floats("probability", rows.iter().map(|x| x.probability).collect()));
    cols.push(string_lists("from_players", rows.iter().map(|x| x.from_players.clone()).collect()));
    cols.push(string_lists("to_players", rows.iter().map(|x| x.to_players.clone()).collect()));
    Ok(DataFrame::new_infer_height(cols)?)
}

/// Standard errors: `model, kpi, <by>, se`.
pub fn standard_errors_frame(r: &Attribution) -> Result<DataFrame> {
    let e = &r.standard_errors;
    Ok(DataFrame::new_infer_height(vec![
        strings("model", e.iter().map(|x| x.model.clone()).collect()),
        strings("kpi", e.iter().map(|x| x.kpi.clone()).collect()),
        strings(r.by.as_str(), e.iter().map(|x| x.player.clone()).collect()),
        floats("se", e.iter().map(|x| x.se).collect()),
    ])?)
}

/// Ordered-Shapley credit by position: `model, kpi, <by>, position, conversions, value`.
pub fn position_credits_frame(r: &Attribution) -> Result<DataFrame> {
    let e = &r.position_credits;
    Ok(DataFrame::new_infer_height(vec![
        strings("model", e.iter().map(|x| x.model.clone()).collect()),
        strings("kpi", e.iter().map(|x| x.kpi.clone()).collect()),
        strings(r.by.as_str(), e.iter().map(|x| x.player.clone()).collect()),
        Column::new("position".into(), e.iter().map(|x| x.position).collect::<Vec<u32>>()),
        floats("conversions", e.iter().map(|x| x.conversions).collect()),
        floats("value", e.iter().map(|x| x.value).collect()),
    ])?)
}

/// The ingestion summary: `kpi, touches, journeys, null_journeys, conversions, attributed, unattributed,
/// trimmed_touches`.
pub fn summary_frame(j: &Journeys) -> Result<DataFrame> {
    summary_rows_frame(&j.summary())
}

/// [`summary_frame`] from summary rows.
pub fn summary_rows_frame(s: &[touchpoint_core::KpiSummary]) -> Result<DataFrame> {
    Ok(DataFrame::new_infer_height(vec![
        strings("kpi", s.iter().map(|x| x.kpi.clone()).collect()),
        Column::new("touches".into(), s.iter().map(|x| x.touches).collect::<Vec<u64>>()),
        Column::new("journeys".into(), s.iter().map(|x| x.journeys).collect::<Vec<u64>>()),
        Column::new("null_journeys".into(), s.iter().map(|x| x.null_journeys).collect::<Vec<u64>>()),
        floats("conversions", s.iter().map(|x| x.conversions).collect()),
        floats("attributed", s.iter().map(|x| x.attributed).collect()),
        floats("unattributed", s.iter().map(|x| x.unattributed).collect()),
        Column::new("trimmed_touches".into(), s.iter().map(|x| x.trimmed_touches).collect::<Vec<u64>>()),
    ])?)
}

/// The unattributed table: `kpi, reason, conversions, value`.
pub fn unattributed_frame(u: &[touchpoint_core::Unattributed]) -> Result<DataFrame> {
    Ok(DataFrame::new_infer_height(vec![
        strings("kpi", u.iter().map(|x| x.kpi.clone()).collect()),
        strings("reason", u.iter().map(|x| x.reason.clone()).collect()),
        floats("conversions", u.iter().map(|x| x.conversions).collect()),
        floats("value", u.iter().map(|x| x.value).collect()),
    ])?)
}

/// Contribution rows: `model, <by>, kpi, function, conversions, value` (+ `value_lower, value_upper` with intervals).
pub fn contribution_frame(rep: &touchpoint_core::ContributionReport) -> Result<DataFrame> {
    let r = &rep.rows;
    let mut cols = vec![
        strings("model", r.iter().map(|x| x.model.clone()).collect()),
        strings(rep.by.as_str(), r.iter().map(|x| x.player.clone()).collect()),
        strings("kpi", r.iter().map(|x| x.kpi.clone()).collect()),
        strings("function", r.iter().map(|x| x.function.clone()).collect()),
        floats("conversions", r.iter().map(|x| x.conversions).collect()),
        floats("value", r.iter().map(|x| x.value).collect()),
        strings("source", r.iter().map(|x| x.source.clone()).collect()),
    ];
    if has_intervals(rep) {
        let opt = |name: &str, v: Vec<Option<f64>>| Column::new(name.into(), v);
        cols.push(opt("value_lower", r.iter().map(|x| x.value_lower).collect()));
        cols.push(opt("value_upper", r.iter().map(|x| x.value_upper).collect()));
    }
    Ok(DataFrame::new_infer_height(cols)?)
}

/// Whether the report's attribution was run with intervals.
fn has_intervals(rep: &touchpoint_core::ContributionReport) -> bool {
    rep.rows.iter().any(|x| x.value_lower.is_some())
}

/// The six interval columns of summary and social rows.
macro_rules! interval_columns {
    ($cols:ident, $rows:expr, $t:ty) => {
        for (name, get) in [
            ("value_lower", (|x| x.value_lower) as fn(&$t) -> Option<f64>),
            ("value_upper", |x| x.value_upper),
            ("value_share_lower", |x| x.value_share_lower),
            ("value_share_upper", |x| x.value_share_upper),
            ("roi_lower", |x| x.roi_lower),
            ("roi_upper", |x| x.roi_upper),
        ] {
            $cols.push(Column::new(name.into(), $rows.iter().map(get).collect::<Vec<Option<f64>>>()));
        }
    };
}

/// Contribution summary: `model, <by>, value, value_share, touches, value_per_touch, cost, roi`
/// (+ `social` by channel; + `value_lower, value_upper, value_share_lower, value_share_upper, roi_lower,
/// roi_upper` with intervals).
pub fn contribution_summary_frame(rep: &touchpoint_core::ContributionReport) -> Result<DataFrame> {
    let s = &rep.summary;
    let opt = |name: &str, v: Vec<Option<f64>>| Column::new(name.into(), v);
    let mut cols = vec![
        strings("model", s.iter().map(|x| x.model.clone()).collect()),
        strings(rep.by.as_str(), s.iter().map(|x| x.player.clone()).collect()),
        floats("value", s.iter().map(|x| x.value).collect()),
        opt("value_share", s.iter().map(|x| x.value_share).collect()),
        floats("touches", s.iter().map(|x| x.touches).collect()),
        opt("value_per_touch", s.iter().map(|x| x.value_per_touch).collect()),
        opt("cost", s.iter().map(|x| x.cost).collect()),
        opt("roi", s.iter().map(|x| x.roi).collect()),
    ];
    if rep.by == touchpoint_core::Dimension::Channel {
        cols.push(Column::new(
            "social".into(),
            s.iter().map(|x| x.social.unwrap_or(false)).collect::<Vec<bool>>(),
        ));
    }
    if has_intervals(rep) {
        interval_columns!(cols, s, touchpoint_core::goals::ContributionSummary);
    }
    Ok(DataFrame::new_infer_height(cols)?)
}

/// Per model and KPI: `model, kpi, function, source, conversions, value, baseline, baseline_value`, the
/// players' total (added, for a model with a baseline) and what would have happened anyway, with
/// `conversions_lower/upper`, `value_lower/upper` and `baseline_lower/upper`.
pub fn goals_frame(rep: &touchpoint_core::ContributionReport) -> Result<DataFrame> {
    let g = &rep.goals;
    let opt = |name: &str, v: Vec<Option<f64>>| Column::new(name.into(), v);
    Ok(DataFrame::new_infer_height(vec![
        strings("model", g.iter().map(|x| x.model.clone()).collect()),
        strings("kpi", g.iter().map(|x| x.kpi.clone()).collect()),
        strings("function", g.iter().map(|x| x.function.clone()).collect()),
        strings("source", g.iter().map(|x| x.source.clone()).collect()),
        floats("conversions", g.iter().map(|x| x.conversions).collect()),
        opt("conversions_lower", g.iter().map(|x| x.conversions_lower).collect()),
        opt("conversions_upper", g.iter().map(|x| x.conversions_upper).collect()),
        floats("value", g.iter().map(|x| x.value).collect()),
        opt("value_lower", g.iter().map(|x| x.value_lower).collect()),
        opt("value_upper", g.iter().map(|x| x.value_upper).collect()),
        opt("baseline", g.iter().map(|x| x.baseline).collect()),
        opt("baseline_lower", g.iter().map(|x| x.baseline_lower).collect()),
        opt("baseline_upper", g.iter().map(|x| x.baseline_upper).collect()),
        opt("baseline_value", g.iter().map(|x| x.baseline_value).collect()),
    ])?)
}

/// Social vs non-social totals: `model, social, value, value_share, cost, roi` (+ the interval columns
/// of the summary with intervals).
pub fn social_frame(rep: &touchpoint_core::ContributionReport) -> Result<DataFrame> {
    let s = &rep.social;
    let mut cols = vec![
        strings("model", s.iter().map(|x| x.model.clone()).collect()),
        Column::new("social".into(), s.iter().map(|x| x.social).collect::<Vec<bool>>()),
        floats("value", s.iter().map(|x| x.value).collect()),
        Column::new("value_share".into(), s.iter().map(|x| x.value_share).collect::<Vec<Option<f64>>>()),
        floats("cost", s.iter().map(|x| x.cost).collect()),
        Column::new("roi".into(), s.iter().map(|x| x.roi).collect::<Vec<Option<f64>>>()),
    ];
    if has_intervals(rep) {
        interval_columns!(cols, s, touchpoint_core::goals::SocialTotal);
    }
    Ok(DataFrame::new_infer_height(cols)?)
}

/// A paired comparison of two models ([`Attribution::compare`]): `kpi, <by>, conversions_a,
/// conversions_b, difference, lower, upper, differs, share_difference, share_lower, share_upper,
/// share_differs`.
pub fn compare_frame(
    by: touchpoint_core::Dimension,
    d: &[touchpoint_core::attribution::Difference],
) -> Result<DataFrame> {
    let opt = |name: &str, v: Vec<Option<f64>>| Column::new(name.into(), v);
    Ok(DataFrame::new_infer_height(vec![
        strings("kpi", d.iter().map(|x| x.kpi.clone()).collect()),
        strings(by.as_str(), d.iter().map(|x| x.player.clone()).collect()),
        floats("conversions_a", d.iter().map(|x| x.conversions_a).collect()),
        floats("conversions_b", d.iter().map(|x| x.conversions_b).collect()),
        floats("difference", d.iter().map(|x| x.difference).collect()),
        opt("lower", d.iter().map(|x| x.lower).collect()),
        opt("upper", d.iter().map(|x| x.upper).collect()),
        Column::new("differs".into(), d.iter().map(|x| x.differs).collect::<Vec<bool>>()),
        opt("share_difference", d.iter().map(|x| x.share_difference).collect()),
        opt("share_lower", d.iter().map(|x| x.share_lower).collect()),
        opt("share_upper", d.iter().map(|x| x.share_upper).collect()),
        Column::new("share_differs".into(), d.iter().map(|x| x.share_differs).collect::<Vec<Option<bool>>>()),
    ])?)
}

/// Every resample of an attribution with intervals, long: `resample, model, kpi, <by>, conversions,
/// value` (resamples a model failed on are left out of its rows). Empty without intervals.
pub fn resamples_frame(r: &Attribution) -> Result<DataFrame> {
    let (mut res, mut model, mut kpi, mut player, mut conv, mut value) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    if let Some(b) = &r.bootstrap {
        // Per credit row, the resamples its model was computed on for its KPI (computed once per pair).
        let mut usable: Vec<(&str, &str, Vec<bool>)> = Vec::new();
        let row_usable: Vec<usize> = r
            .credits
            .iter()
            .map(|c| match usable.iter().position(|(m, k, _)| *m == c.model && *k == c.kpi) {
                Some(i) => i,
                None => {
                    usable.push((&c.model, &c.kpi, b.usable(&c.model, Some(&c.kpi))));
                    usable.len() - 1
                }
            })
            .collect();
        for (k, (cs, vs)) in b.conversions.iter().zip(&b.value).enumerate() {
            for (i, c) in r.credits.iter().enumerate() {
                if !usable[row_usable[i]].2[k] {
                    continue;
                }
                res.push(k as u32);
                model.push(c.model.clone());
                kpi.push(c.kpi.clone());
                player.push(c.player.clone());
                conv.push(cs[i]);
                value.push(vs[i]);
            }
        }
    }
    Ok(DataFrame::new_infer_height(vec![
        Column::new("resample".into(), res),
        strings("model", model),
        strings("kpi", kpi),
        strings(r.by.as_str(), player),
        floats("conversions", conv),
        floats("value", value),
    ])?)
}

/// A DataFrame from rows of a flat serde struct, with `columns` in the order given (each the name of
/// a field: text, numbers, booleans or options of them). For small result tables.
///
/// A column that is not a field of the rows (a misspelt name) is an error naming it, as is a row that
/// does not serialise to an object: never a column of nulls.
pub fn rows_frame<T: serde::Serialize>(rows: &[T], columns: &[&str]) -> Result<DataFrame> {
    let values: Vec<serde_json::Map<String, serde_json::Value>> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| match serde_json::to_value(r) {
            Ok(serde_json::Value::Object(m)) => Ok(m),
            Ok(other) => Err(Error::InvalidOption {
                option: "rows",
                value: format!("row {}", i + 1),
                reason: format!("a row must be a struct of fields, got {other}"),
            }),
            Err(e) => Err(Error::InvalidOption {
                option: "rows",
                value: format!("row {}", i + 1),
                reason: e.to_string(),
            }),
        })
        .collect::<Result<_>>()?;
    let mut cols = Vec::with_capacity(columns.len());
    for &name in columns {
        if let Some(row) = values.iter().position(|v| !v.contains_key(name)) {
            let fields: Vec<&str> = values[row].keys().map(String::as_str).collect();
            return Err(Error::MissingColumn {
                column: name.to_owned(),
                table: None,
                available: fields.join(", "),
            });
        }
        let cells: Vec<&serde_json::Value> = values.iter().map(|v| &v[name]).collect();
        let first = cells.iter().find(|c| !c.is_null());
        let col = match first {
            Some(serde_json::Value::String(_)) => Column::new(
                name.into(),
                cells.iter().map(|c| c.as_str().map(str::to_owned)).collect::<Vec<_>>(),
            ),
            Some(serde_json::Value::Bool(_)) => {
                Column::new(name.into(), cells.iter().map(|c| c.as_bool()).collect::<Vec<_>>())
            }
            Some(serde_json::Value::Number(n))
                if n.is_u64() && cells.iter().all(|c| c.is_u64() || c.is_null()) =>
            {
                Column::new(name.into(), cells.iter().map(|c| c.as_u64()).collect::<Vec<_>>())
            }
            _ => Column::new(name.into(), cells.iter().map(|c| c.as_f64()).collect::<Vec<Option<f64>>>()),
        };
        cols.push(col);
    }
    Ok(DataFrame::new_infer_height(cols)?)
}

/// A model's named output table (see [`touchpoint_core::Table`]) as a DataFrame, columns in order.
pub fn model_table_frame(t: &touchpoint_core::Table) -> Result<DataFrame> {
    use touchpoint_core::Values;
    let cols: Vec<Column> = t
        .columns
        .iter()
        .map(|c| {
            let name = c.name.as_str().into();
            match &c.values {
                Values::Text(v) => Column::new(name, v),
                Values::Float(v) => Column::new(name, v),
                Values::Int(v) => Column::new(name, v),
                Values::Bool(v) => Column::new(name, v),
            }
        })
        .collect();
    Ok(DataFrame::new_infer_height(cols)?)
}

/// The named model table of an attribution, or a typed error listing the tables there are.
pub fn attribution_table_frame(r: &Attribution, name: &str) -> Result<DataFrame> {
    match r.tables.iter().find(|t| t.name == name) {
        Some(t) => model_table_frame(t),
        None => {
            let known: Vec<&str> = r.tables.iter().map(|t| t.name.as_str()).collect();
            Err(Error::InvalidOption {
                option: "table",
                value: name.to_owned(),
                reason: if known.is_empty() {
                    "the models of this result wrote no table".to_owned()
                } else {
                    format!("no such table; this result has: {}", known.join(", "))
                },
            })
        }
    }
}

/// The person timelines of journeys built from an event log (or simulated) as the two tables
/// `from_events` reads: touches (`person, ts, channel` and every other dimension present) and
/// conversions (`person, ts, kpi, value`, one row per conversion; merged same-instant conversions are
/// split back into rows that share their value equally). Persons are numbered by their position.
pub fn timelines_frames(j: &Journeys) -> Result<Option<(DataFrame, DataFrame)>> {
    use touchpoint_core::Dimension;
    let Some(t) = j.timelines() else { return Ok(None) };
    let n = t.touch_count();
    let mut person = Vec::with_capacity(n);
    let mut ts = Vec::with_capacity(n);
    let (mut c_person, mut c_ts, mut c_kpi, mut c_value) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for p in 0..t.persons() {
        let r = t.person(p);
        person.extend(std::iter::repeat_n(p as u64, r.touch_times.len()));
        ts.extend_from_slice(r.touch_times);
        for i in 0..r.conv_kpi.len() {
            let count = r.conv_count[i];
            let rows = count.round().max(1.0) as usize;
            for _ in 0..rows {
                c_person.push(p as u64);
                c_ts.push(r.conv_time[i]);
                c_kpi.push(j.kpis().name(r.conv_kpi[i]).to_owned());
                c_value.push(r.conv_value[i] / rows as f64);
            }
        }
    }
    let datetime = |name: &str, v: Vec<i64>| -> Result<Column> {
        Ok(Column::new(name.into(), v)
            .cast(&DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC)))?)
    };
    let mut cols = vec![Column::new("user_id".into(), person), datetime("ts", ts)?];
    for d in Dimension::ALL {
        if let Some(ids) = t.touch_ids(d) {
            let vocab = j.vocab(d);
            cols.push(strings(d.as_str(), ids.iter().map(|&i| vocab.name(i).to_owned()).collect()));
        }
    }
    let touches = DataFrame::new_infer_height(cols)?;
    let conversions = DataFrame::new_infer_height(vec![
        Column::new("user_id".into(), c_person),
        datetime("ts", c_ts)?,
        strings("kpi", c_kpi),
        floats("value", c_value),
    ])?;
    Ok(Some((touches, conversions)))
}

/// Lift tests from a table with columns `channel, kpi, per_exposure, se` (one row per test), each
/// value checked (text names, finite numbers >= 0), errors naming the column and row.
pub fn lift_tests_from_frame(df: &DataFrame) -> Result<Vec<touchpoint_core::LiftTest>> {
    let text = |name: &str| -> Result<Vec<String>> {
        let col = str_column(require(df, name)?, name)?;
        col.str()?
            .iter()
            .enumerate()
            .map(|(i, v)| match v.map(str::trim) {
                Some(v) if !v.is_empty() => Ok(v.to_owned()),
                _ => Err(Error::NullValue { column: name.to_owned(), table: Some("lift tests"), row: i + 1 }),
            })
            .collect()
    };
    let number = |name: &str| -> Result<Vec<f64>> {
        let col = f64_column(require(df, name)?, name)?;
        col.f64()?
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Some(x) if x.is_finite() && x >= 0.0 => Ok(x),
                Some(x) => {
                    Err(touchpoint_core::Error::InvalidWeight { field: "lift test", row: i + 1, value: x }
                        .into())
                }
                None => {
                    Err(Error::NullValue { column: name.to_owned(), table: Some("lift tests"), row: i + 1 })
                }
            })
            .collect()
    };
    let (channel, kpi) = (text("channel")?, text("kpi")?);
    let (per_exposure, se) = (number("per_exposure")?, number("se")?);
    Ok(channel
        .into_iter()
        .zip(kpi)
        .zip(per_exposure.into_iter().zip(se))
        .map(|((channel, kpi), (per_exposure, se))| touchpoint_core::LiftTest {
            channel,
            kpi,
            per_exposure,
            se,
        })
        .collect())
}

/// Rows of per-journey credit gathered for a DataFrame. Names go straight into string builders (no
/// `String` per row).
struct CreditBatch {
    text_persons: bool,
    model: StringChunkedBuilder,
    kpi: StringChunkedBuilder,
    journey: Vec<Option<u64>>,
    person_int: Vec<Option<i64>>,
    person_text: StringChunkedBuilder,
    time: Vec<Option<i64>>,
    player: StringChunkedBuilder,
    conversions: Vec<f64>,
    value: Vec<f64>,
}

impl CreditBatch {
    fn new(text_persons: bool) -> Self {
        let text = |name: &str| StringChunkedBuilder::new(name.into(), 0);
        CreditBatch {
            text_persons,
            model: text("model"),
            kpi: text("kpi"),
            journey: Vec::new(),
            person_int: Vec::new(),
            person_text: text("person"),
            time: Vec::new(),
            player: text("player"),
            conversions: Vec::new(),
            value: Vec::new(),
        }
    }

    fn push(&mut self, r: &touchpoint_core::attribution::JourneyCreditRow<'_>) {
        use touchpoint_core::PersonKey;
        self.model.append_value(r.model);
        self.kpi.append_value(r.kpi);
        self.journey.push(r.journey.map(|j| j as u64));
        match (self.text_persons, r.person) {
            (true, Some(PersonKey::Text(t))) => self.person_text.append_value(t),
            (true, Some(PersonKey::Int(i))) => self.person_text.append_value(i.to_string()),
            (true, None) => self.person_text.append_null(),
            (false, p) => self.person_int.push(p.and_then(|p| match p {
                PersonKey::Int(i) => Some(i),
                PersonKey::Text(_) => None,
            })),
        }
        self.time.push(r.time);
        self.player.append_value(r.player);
        self.conversions.push(r.conversions);
        self.value.push(r.value);
    }

    fn len(&self) -> usize {
        self.conversions.len()
    }

    /// The rows so far as a DataFrame (the batch is emptied).
    fn take(&mut self, by: touchpoint_core::Dimension) -> Result<DataFrame> {
        let fresh = CreditBatch::new(self.text_persons);
        let old = std::mem::replace(self, fresh);
        let person = if old.text_persons {
            old.person_text.finish().into_column()
        } else {
            Column::new("person".into(), old.person_int)
        };
        let time = Column::new("time".into(), old.time)
            .cast(&DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC)))?;
        Ok(DataFrame::new_infer_height(vec![
            old.model.finish().into_column(),
            old.kpi.finish().into_column(),
            Column::new("journey".into(), old.journey),
            person,
            time,
            old.player.finish().with_name(by.as_str().into()).into_column(),
            floats("conversions", old.conversions),
            floats("value", old.value),
        ])?)
    }
}

fn text_persons(j: &Journeys) -> bool {
    j.timelines().and_then(|t| t.person_keys_are_int()) == Some(false)
}

/// The journeys whose per-journey credit is asked for: the store the attribution was computed from,
/// or the parts of a log it was gathered from, kept on disk ([`crate::save_journeys`]) and read one at
/// a time, their timelines observed over `period` when given.
#[derive(Clone, Copy, Debug)]
pub enum CreditSource<'a> {
    /// One store.
    One(&'a Journeys),
    /// Parts on disk, in order (journeys numbered across them).
    Parts { parts: &'a [crate::KeptPart], period: Option<(i64, i64)> },
}

impl CreditSource<'_> {
    /// Whether the person ids are texts (the first store's; every part of one log has the same), and
    /// the first part once read, for [`CreditSource::each`] to use rather than read it again.
    fn start(&self) -> Result<(bool, Option<Journeys>)> {
        Ok(match *self {
            CreditSource::One(j) => (text_persons(j), None),
            CreditSource::Parts { parts, period } => match parts.first() {
                Some(p) => {
                    let j = crate::load_part(p, period)?;
                    (text_persons(&j), Some(j))
                }
                None => (false, None),
            },
        })
    }

    /// Emits the rows of every store of the source, numbering journeys across parts, and returns the
    /// gaps (of every part added, in [`touchpoint_core::attribution::sort_gaps`] order). `start` is
    /// [`CreditSource::start`]'s; a part whose person ids differ in type from the first's is an error.
    fn each(
        &self,
        attribution: &Attribution,
        labels: &[&str],
        start: (bool, Option<Journeys>),
        control: &dyn touchpoint_core::Control,
        emit: &mut dyn FnMut(&JourneyCreditRow<'_>),
    ) -> Result<Vec<JourneyCreditGap>> {
        use touchpoint_core::attribution as a;
        let (text, mut first_part) = start;
        match *self {
            CreditSource::One(j) => Ok(a::journey_credits(j, attribution, labels, control, emit)?),
            CreditSource::Parts { parts, period } => {
                let (mut gaps, mut first) = (Vec::new(), 0usize);
                for part in parts {
                    control.checkpoint()?;
                    let j = match first_part.take() {
                        Some(j) => j,
                        None => crate::load_part(part, period)?,
                    };
                    if text_persons(&j) != text {
                        return Err(Error::Read {
                            path: part.path.display().to_string(),
                            message: "its person ids are not of the type of the first part's".into(),
                        });
                    }
                    let rows = a::journey_credits_of_part(&j, attribution, labels, first, control, emit)?;
                    a::add_part_gaps(&mut gaps, rows);
                    first += j.len();
                }
                a::sort_gaps(&mut gaps, attribution);
                Ok(gaps)
            }
        }
    }
}

/// Per-journey credit of the models `labels` (all when empty), see
/// [`touchpoint_core::attribution::journey_credits`]: `model, kpi, journey, person, time, <by>,
/// conversions, value` (`journey` null for the additive-hazard model's conversion records, `person`
/// the input id and `time` the conversion time where known), and the per-player gaps.
pub fn journey_credits_frame(
    journeys: &Journeys,
    attribution: &Attribution,
    labels: &[&str],
    control: &dyn touchpoint_core::Control,
) -> Result<(DataFrame, Vec<JourneyCreditGap>)> {
    journey_credits_frame_of(CreditSource::One(journeys), attribution, labels, control)
}

/// [`journey_credits_frame`] of any [`CreditSource`].
pub fn journey_credits_frame_of(
    source: CreditSource<'_>,
    attribution: &Attribution,
    labels: &[&str],
    control: &dyn touchpoint_core::Control,
) -> Result<(DataFrame, Vec<JourneyCreditGap>)> {
    let start = source.start()?;
    let mut batch = CreditBatch::new(start.0);
    let gaps = source.each(attribution, labels, start, control, &mut |r| batch.push(r))?;
    let df = batch.take(attribution.by)?;
    Ok((df, gaps))
}

/// Every per-journey credit row of the models `labels` (see [`journey_credits_frame_of`]), handed to
/// `emit` one at a time.
pub(crate) fn each_credit(
    source: CreditSource<'_>,
    attribution: &Attribution,
    labels: &[&str],
    control: &dyn touchpoint_core::Control,
    emit: &mut dyn FnMut(&JourneyCreditRow<'_>),
) -> Result<()> {
    source.each(attribution, labels, source.start()?, control, emit)?;
    Ok(())
}

/// The per-player gaps of [`journey_credits_frame_of`], without building the rows.
pub fn journey_credit_gaps_of(
    source: CreditSource<'_>,
    attribution: &Attribution,
    labels: &[&str],
    control: &dyn touchpoint_core::Control,
) -> Result<Vec<JourneyCreditGap>> {
    source.each(attribution, labels, source.start()?, control, &mut |_| {})
}

/// Rows per Parquet batch of [`write_journey_credits`].
const CREDIT_BATCH: usize = 1 << 20;

/// [`journey_credits_frame`] streamed to a Parquet file in batches of about a million rows, so the
/// whole table is never held in memory. Returns the number of rows written and the per-player gaps.
pub fn write_journey_credits(
    journeys: &Journeys,
    attribution: &Attribution,
    labels: &[&str],
    path: &std::path::Path,
    control: &dyn touchpoint_core::Control,
) -> Result<(u64, Vec<JourneyCreditGap>)> {
    write_journey_credits_of(CreditSource::One(journeys), attribution, labels, path, control)
}

/// [`write_journey_credits`] of any [`CreditSource`]: parts are read one at a time.
pub fn write_journey_credits_of(
    source: CreditSource<'_>,
    attribution: &Attribution,
    labels: &[&str],
    path: &std::path::Path,
    control: &dyn touchpoint_core::Control,
) -> Result<(u64, Vec<JourneyCreditGap>)> {
    let shown = path.display().to_string();
    // Written under a temporary name and renamed when complete, so an interrupted or failed run leaves
    // no truncated file behind.
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = std::path::PathBuf::from(partial);
    let result = write_credit_batches(source, attribution, labels, &partial, control);
    match result {
        Ok(out) => {
            std::fs::rename(&partial, path)
                .map_err(|e| Error::Write { path: shown, message: e.to_string() })?;
            Ok(out)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(match e {
                Error::Write { message, .. } => Error::Write { path: shown, message },
                other => other,
            })
        }
    }
}

fn write_credit_batches(
    source: CreditSource<'_>,
    attribution: &Attribution,
    labels: &[&str],
    path: &std::path::Path,
    control: &dyn touchpoint_core::Control,
) -> Result<(u64, Vec<JourneyCreditGap>)> {
    let shown = path.display().to_string();
    let file = std::fs::File::create(path)
        .map_err(|e| Error::Write { path: shown.clone(), message: e.to_string() })?;
    let by = attribution.by;
    let start = source.start()?;
    let mut batch = CreditBatch::new(start.0);
    let schema = batch.take(by)?.schema().clone();
    let mut writer = ParquetWriter::new(file).batched(&schema)?;
    let mut failed: Option<Error> = None;
    let mut rows = 0u64;
    let gaps = source.each(attribution, labels, start, control, &mut |r| {
        if failed.is_some() {
            return;
        }
        batch.push(r);
        rows += 1;
        if batch.len() >= CREDIT_BATCH {
            if let Err(e) = batch.take(by).and_then(|df| Ok(writer.write_batch(&df)?)) {
                failed = Some(e);
            }
        }
    })?;
    if let Some(e) = failed {
        return Err(e);
    }
    let last = batch.take(by)?;
    writer.write_batch(&last)?;
    writer.finish()?;
    Ok((rows, gaps))
}
