//! Journeys from event logs: a touches table and a conversions table, per person and KPI, with
//! lookback windows (the rule is [`touchpoint_core::WindowRule`]).
//!
//! A conversion at `t` gets the person's touches in `(max(t - lookback, t_prev), t]`, where `t_prev` is
//! the person's previous conversion of the same KPI; touches of an interaction with its own window
//! (`interaction_lookback`) must also lie within that window. Same-instant conversions merge. Every
//! person with touches gets, per KPI, a null journey of the touches after their last conversion and
//! within the lookback of their last touch. Conversions with no touch in their window, and conversions
//! of persons without touches, are counted as unattributed.
use std::collections::HashMap;
use touchpoint_core::Weights;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use polars::prelude::*;
use touchpoint_core::duration::parse_duration_us;
use touchpoint_core::{
    Cut, Dimension, Journeys, JourneysBuilder, PersonKeys, Timelines, WindowRule, NONE_PLAYER,
};
use touchpoint_util::hashing::FastMap;

use crate::error::{Error, Result};
use crate::table::{f64_column, require};

/// How to read the two tables and cut journeys.
#[derive(Clone, Debug)]
pub struct EventOptions {
    /// Person id column, in both tables.
    pub person: String,
    /// Timestamp column, in both tables.
    pub time: String,
    /// Channel column of the touches.
    pub channel: String,
    /// KPI column of the conversions; when it is absent every conversion is KPI `conversions`.
    pub kpi: String,
    /// Value column of the conversions (nulls are 0), if any.
    pub value: Option<String>,
    /// Whether `value` is the default name rather than one the caller chose: an absent default column
    /// gives every conversion value 0 and a warning on the journeys (and on every attribution of
    /// them); an absent column the caller named is an error.
    pub value_is_default: bool,
    /// Extra dimensions, each read from the column of the same name.
    pub dims: Vec<Dimension>,
    /// Lookback window for every KPI (e.g. "30d").
    pub lookback: String,
    /// Lookback windows of particular KPIs.
    pub lookback_by_kpi: Vec<(String, String)>,
    /// Shorter windows for touches of particular interactions (`impression` -> "1d").
    pub interaction_lookback: Vec<(String, String)>,
    /// Keep at most this many most recent touches per journey.
    pub max_touches: Option<usize>,
    /// Time zone of naive timestamps (IANA name).
    pub tz: String,
    /// Observation period `[start, end)` as timestamps (ISO-8601 text, read like the time column);
    /// by default from the first event to just after the last one.
    pub period: Option<(String, String)>,
    /// People at risk, including those with no event at all (the log cannot show them).
    pub population: Option<u64>,
    /// KPIs that get journeys besides those the conversions table names: when the tables are one part
    /// of a log split by person, every part needs the whole log's KPIs (a person without conversions
    /// still gets a null journey for each).
    pub kpis: Vec<String>,
}

impl Default for EventOptions {
    fn default() -> Self {
        EventOptions {
            person: "user_id".into(),
            time: "ts".into(),
            channel: "channel".into(),
            kpi: "kpi".into(),
            value: Some("value".into()),
            value_is_default: true,
            dims: Vec::new(),
            lookback: "30d".into(),
            lookback_by_kpi: Vec::new(),
            interaction_lookback: Vec::new(),
            max_touches: None,
            tz: "UTC".into(),
            period: None,
            population: None,
            kpis: Vec::new(),
        }
    }
}

fn duration(option: &'static str, text: &str) -> Result<i64> {
    parse_duration_us(text).map_err(|e| Error::InvalidOption {
        option,
        value: text.to_owned(),
        reason: e.to_string(),
    })
}

/// The first and last instants a timestamp may name: the years 1 to 9999, which every reader of the
/// results (Python's `datetime`, ISO-8601 text without a sign) can hold.
const FIRST_US: i64 = -62_135_596_800_000_000;
const END_US: i64 = 253_402_300_800_000_000;

/// Microseconds since the epoch (UTC) of every row of a timestamp column, each in the years 1 to 9999.
pub fn times_us(col: &Column, name: &str, tz: &str) -> Result<Vec<i64>> {
    let out = times_us_any(col, name, tz)?;
    if let Some(row) = out.iter().position(|t| !(FIRST_US..END_US).contains(t)) {
        let shown = DateTime::<Utc>::from_timestamp_micros(out[row])
            .map_or_else(|| out[row].to_string(), |d| d.to_rfc3339());
        return Err(Error::Timestamp {
            column: name.to_owned(),
            table: None,
            row: row + 1,
            value: shown,
            reason: "outside the years 1 to 9999".into(),
        });
    }
    Ok(out)
}

fn times_us_any(col: &Column, name: &str, tz: &str) -> Result<Vec<i64>> {
    let zone: chrono_tz::Tz = tz.parse().map_err(|_| Error::InvalidOption {
        option: "tz",
        value: tz.to_owned(),
        reason: "not an IANA time zone name such as \"UTC\" or \"Europe/Paris\"".into(),
    })?;
    let utc = zone == chrono_tz::UTC;
    let local = |row: usize, naive: NaiveDateTime| -> Result<i64> {
        if utc {
            return Ok(naive.and_utc().timestamp_micros());
        }
        let bad = |reason: String| Error::Timestamp {
            column: name.to_owned(),
            table: None,
            row,
            value: naive.to_string(),
            reason,
        };
        match zone.from_local_datetime(&naive) {
            chrono::LocalResult::Single(d) => Ok(d.timestamp_micros()),
            // As pandas' tz_localize does by default: which of the two instants is meant cannot be
            // known, and taking one silently shifts a touch or a conversion by an hour.
            chrono::LocalResult::Ambiguous(a, b) => Err(bad(format!(
                "a local time that occurs twice in {tz} (a daylight-saving change: {} or {}); give such times with their UTC offset, or in UTC",
                a.format("%H:%M%:z"),
                b.format("%H:%M%:z")
            ))),
            chrono::LocalResult::None => {
                Err(bad(format!("a local time that does not exist in {tz} (a daylight-saving gap)")))
            }
        }
    };
    let null = |row: usize| Error::NullValue { column: name.to_owned(), table: None, row };
    match col.dtype() {
        DataType::Datetime(unit, zone_of_col) => {
            let phys = col.datetime()?.physical();
            let to_us = |v: i64| match unit {
                TimeUnit::Nanoseconds => Some(v.div_euclid(1000)),
                TimeUnit::Microseconds => Some(v),
                TimeUnit::Milliseconds => v.checked_mul(1000),
            };
            let aware = zone_of_col.is_some();
            if phys.null_count() == 0 && *unit == TimeUnit::Microseconds && (aware || utc) {
                // Already what is wanted: the values as they are, chunk by chunk.
                let mut out = Vec::with_capacity(phys.len());
                phys.downcast_iter().for_each(|a| out.extend_from_slice(a.values()));
                return Ok(out);
            }
            let out_of_range = |row: usize, v: i64| Error::Timestamp {
                column: name.to_owned(),
                table: None,
                row,
                value: v.to_string(),
                reason: "out of the representable range of dates".into(),
            };
            phys.iter()
                .enumerate()
                .map(|(i, v)| {
                    let raw = v.ok_or_else(|| null(i + 1))?;
                    let v = to_us(raw).ok_or_else(|| out_of_range(i + 1, raw))?;
                    if aware || utc {
                        Ok(v)
                    } else {
                        let naive = DateTime::<Utc>::from_timestamp_micros(v)
                            .ok_or_else(|| out_of_range(i + 1, raw))?
                            .naive_utc();
                        local(i + 1, naive)
                    }
                })
                .collect()
        }
        DataType::Date => {
            let days = col.cast(&DataType::Int32)?;
            days.i32()?
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    let d = d.ok_or_else(|| null(i + 1))?;
                    let date = NaiveDate::from_ymd_opt(1970, 1, 1)
                        .and_then(|e| e.checked_add_signed(chrono::Duration::days(i64::from(d))))
                        .ok_or_else(|| Error::Timestamp {
                            column: name.to_owned(),
                            table: None,
                            row: i + 1,
                            value: d.to_string(),
                            reason: "out of the representable range of dates".into(),
                        })?;
                    local(i + 1, date.and_hms_opt(0, 0, 0).expect("midnight"))
                })
                .collect()
        }
        DataType::String => col
            .str()?
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let s = s.ok_or_else(|| null(i + 1))?;
                parse_timestamp(s.trim(), &local, i + 1).ok_or_else(|| Error::Timestamp {
                    column: name.to_owned(),
                    table: None,
                    row: i + 1,
                    value: s.to_owned(),
                    reason: "not an ISO-8601 timestamp (e.g. 2024-05-01T12:30:00Z or 2024-05-01 12:30:00)"
                        .into(),
                })?
            })
            .collect(),
        other => Err(Error::ColumnType {
            column: name.to_owned(),
            expected: "a datetime, a date or ISO-8601 text",
            found: other.to_string(),
        }),
    }
}

/// Parses ISO-8601 text: with an offset or `Z` it is an instant; without, local time via `local`.
fn parse_timestamp(
    s: &str,
    local: &dyn Fn(usize, NaiveDateTime) -> Result<i64>,
    row: usize,
) -> Option<Result<i64>> {
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(Ok(d.timestamp_micros()));
    }
    for f in ["%Y-%m-%d %H:%M:%S%.f%:z", "%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%z"] {
        if let Ok(d) = DateTime::parse_from_str(s, f) {
            return Some(Ok(d.timestamp_micros()));
        }
    }
    if let Some(rest) = s.strip_suffix(" UTC").or_else(|| s.strip_suffix('Z')) {
        for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
            if let Ok(n) = NaiveDateTime::parse_from_str(rest, f) {
                return Some(Ok(n.and_utc().timestamp_micros()));
            }
        }
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"] {
        if let Ok(n) = NaiveDateTime::parse_from_str(s, f) {
            return Some(local(row, n));
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Some(local(row, d.and_hms_opt(0, 0, 0).expect("midnight")));
    }
    None
}

/// Person ids of both tables as dense u32, equal ids for equal persons; ids follow the persons' sort
/// order (numeric for integer ids, bytewise for text), so the output does not depend on row order.
///
/// One rule for every column type: a person id is a whole number or a text. Numbers match as numbers
/// (1, 1.0 and the text "1" are one person); text is trimmed of Unicode whitespace like every name.
/// Fractional numbers are an error naming the row.
///
/// Also returns the ids themselves in that order, kept on the timelines (per-journey credit names
/// persons by them).
fn person_ids(
    touches: &Column,
    conversions: &Column,
    name: &str,
) -> Result<(Vec<u32>, Vec<u32>, PersonKeys)> {
    // Unsigned ids above the signed 64-bit range are matched as text (exactly) rather than cast.
    let big_u64 = |c: &Column| {
        c.dtype() == &DataType::UInt64 && c.u64().is_ok_and(|x| x.max().is_some_and(|m| m > i64::MAX as u64))
    };
    let numeric = |c: &Column| c.dtype().is_primitive_numeric() && !big_u64(c);
    let both_int = numeric(touches) && numeric(conversions);
    // Ids read as numbers on both sides must be whole numbers (1.0 is person 1, as 1 is).
    let whole = |c: &Column, table: &'static str| -> Result<Column> {
        if c.dtype().is_integer() {
            return Ok(c.clone());
        }
        let f = c.cast(&DataType::Float64)?;
        if let Some((row, v)) = f.f64()?.iter().enumerate().find_map(|(i, v)| {
            // 2^63 and beyond would cast to null (NaN and inf have no zero fraction), and be reported as a missing id.
            v.filter(|x| x.fract() != 0.0 || x.abs() >= i64::MAX as f64).map(|x| (i + 1, x))
        }) {
            return Err(Error::PersonId { column: name.to_owned(), table, row, value: v });
        }
        Ok(f.cast(&DataType::Int64)?)
    };
    let (touches, conversions) = if both_int {
        (&whole(touches, "touches")?, &whole(conversions, "conversions")?)
    } else {
        (touches, conversions)
    };
    let null = |row: usize, table: &'static str| Error::NullValue {
        column: name.to_owned(),
        table: Some(table),
        row,
    };
    if both_int {
        let a = touches.cast(&DataType::Int64)?;
        let b = conversions.cast(&DataType::Int64)?;
        let (a, b) = (a.i64()?, b.i64()?);
        for (c, table) in [(a, "touches"), (b, "conversions")] {
            if c.null_count() > 0 {
                let row = c.iter().position(|v| v.is_none()).unwrap_or(0);
                return Err(null(row + 1, table));
            }
        }
        if let Some(dense) = dense_ranks(a, b) {
            return Ok(dense);
        }
        // Dense ids in first-seen order through a hash map, then renumbered by sorted key.
        let mut map: FastMap<i64, u32> = FastMap::default();
        map.reserve(a.len().min(1 << 20));
        let mut keys: Vec<i64> = Vec::new();
        let mut intern = |v: i64| {
            *map.entry(v).or_insert_with(|| {
                keys.push(v);
                (keys.len() - 1) as u32
            })
        };
        let mut av: Vec<u32> = a.into_no_null_iter().map(&mut intern).collect();
        let mut bv: Vec<u32> = b.into_no_null_iter().map(&mut intern).collect();
        drop(map);
        let mut order: Vec<u32> = (0..keys.len() as u32).collect();
        order.sort_unstable_by_key(|&i| keys[i as usize]);
        let mut rank = vec![0u32; keys.len()];
        for (r, &i) in order.iter().enumerate() {
            rank[i as usize] = r as u32;
        }
        av.iter_mut().for_each(|x| *x = rank[*x as usize]);
        bv.iter_mut().for_each(|x| *x = rank[*x as usize]);
        let sorted = order.iter().map(|&i| keys[i as usize]).collect();
        return Ok((av, bv, PersonKeys::Int { ids: sorted }));
    }
    // A numeric side (facing text) is written as its whole number, so 1.0 meets "1".
    let as_text = |c: &Column, table: &'static str| -> Result<Column> {
        if c.dtype().is_float() {
            Ok(whole(c, table)?.cast(&DataType::String)?)
        } else {
            Ok(c.cast(&DataType::String)?)
        }
    };
    let a = as_text(touches, "touches")?;
    let b = as_text(conversions, "conversions")?;
    let (a, b) = (a.str()?, b.str()?);
    let mut map: FastMap<&str, u32> = FastMap::default();
    let mut names: Vec<&str> = Vec::new();
    let mut av = Vec::with_capacity(a.len());
    for (i, v) in a.iter().enumerate() {
        let v = v.map(str::trim).filter(|v| !v.is_empty()).ok_or_else(|| null(i + 1, "touches"))?;
        av.push(*map.entry(v).or_insert_with(|| {
            names.push(v);
            (names.len() - 1) as u32
        }));
    }
    let mut bv = Vec::with_capacity(b.len());
    for (i, v) in b.iter().enumerate() {
        let v = v.map(str::trim).filter(|v| !v.is_empty()).ok_or_else(|| null(i + 1, "conversions"))?;
        bv.push(*map.entry(v).or_insert_with(|| {
            names.push(v);
            (names.len() - 1) as u32
        }));
    }
    let mut order: Vec<u32> = (0..names.len() as u32).collect();
    order.sort_unstable_by_key(|&i| names[i as usize]);
    let mut rank = vec![0u32; names.len()];
    for (r, &i) in order.iter().enumerate() {
        rank[i as usize] = r as u32;
    }
    let mut text = String::new();
    let mut offsets = Vec::with_capacity(names.len() + 1);
    offsets.push(0);
    for &i in &order {
        text.push_str(names[i as usize]);
        offsets.push(text.len());
    }
    Ok((
        av.iter().map(|&i| rank[i as usize]).collect(),
        bv.iter().map(|&i| rank[i as usize]).collect(),
        PersonKeys::Text { text, offsets },
    ))
}

/// Person ids of whole-number columns without nulls, when their range is dense enough (at most 16
/// values per row): every id's rank among the distinct ids through a bitset of the range and a
/// popcount per word, so the interning makes two sequential passes over a table that fits in cache
/// instead of a hash lookup per row. The ranks equal the hash path's (ids in sorted key order).
fn dense_ranks(a: &Int64Chunked, b: &Int64Chunked) -> Option<(Vec<u32>, Vec<u32>, PersonKeys)> {
    let lo = a.min().into_iter().chain(b.min()).min()?;
    let hi = a.max().into_iter().chain(b.max()).max()?;
    let range = (hi as i128 - lo as i128 + 1) as u128;
    let rows = (a.len() + b.len()) as u128;
    if range > 16 * rows + 4096 || range > u32::MAX as u128 {
        return None;
    }
    let words = (range as usize).div_ceil(64);
    let mut bits = vec![0u64; words];
    for v in a.into_no_null_iter().chain(b.into_no_null_iter()) {
        let o = (v - lo) as u64;
        bits[(o >> 6) as usize] |= 1 << (o & 63);
    }
    let mut before = Vec::with_capacity(words);
    let mut acc = 0u32;
    for w in &bits {
        before.push(acc);
        acc += w.count_ones();
    }
    let rank = |v: i64| {
        let o = (v - lo) as u64;
        let w = (o >> 6) as usize;
        before[w] + (bits[w] & ((1u64 << (o & 63)) - 1)).count_ones()
    };
    let av = a.into_no_null_iter().map(rank).collect();
    let bv = b.into_no_null_iter().map(rank).collect();
    let mut ids = Vec::with_capacity(acc as usize);
    for (w, &word) in bits.iter().enumerate() {
        let mut x = word;
        while x != 0 {
            ids.push(lo + (w as i64) * 64 + i64::from(x.trailing_zeros()));
            x &= x - 1;
        }
    }
    Some((av, bv, PersonKeys::Int { ids }))
}

/// Why a cell of a name column cannot be read.
#[derive(Clone, Copy, Debug)]
enum Fault {
    Null,
    Blank,
    NoneLabel,
}

/// Names of a text column interned in sorted order (so ids compare like names); nulls, empty text and
/// the text `(none)` are `(none)` unless `required` (then each is an error naming the row). Rows are
/// read in one slice per core (up to 8), each interned on its own thread into a local vocabulary; the
/// few names are then merged, sorted and the ids renumbered.
fn sorted_ids(col: &Column, name: &str, required: bool) -> Result<(Vec<u32>, Vec<String>)> {
    let s = match col.dtype() {
        DataType::String => col.clone(),
        dt if dt.is_primitive_numeric()
            || dt.is_bool()
            || dt == &DataType::Null
            || dt.is_categorical()
            || dt.is_enum() =>
        {
            col.cast(&DataType::String)?
        }
        other => {
            return Err(Error::ColumnType {
                column: name.to_owned(),
                expected: "text",
                found: other.to_string(),
            })
        }
    };
    let s = s.str()?;
    let n = s.len();
    let threads =
        if n < 1 << 20 { 1 } else { std::thread::available_parallelism().map_or(1, |t| t.get()).clamp(1, 8) };
    let parts: Vec<(usize, StringChunked)> = (0..threads)
        .map(|k| {
            let (lo, hi) = (n * k / threads, n * (k + 1) / threads);
            (lo, s.slice(lo as i64, hi - lo))
        })
        .collect();
    let mut out = vec![0u32; n];
    // Each slice: its names in first-seen order, or the first null row (1-based) when required.
    fn intern<'a>(
        lo: usize,
        part: &'a StringChunked,
        ids: &mut [u32],
        required: bool,
    ) -> std::result::Result<Vec<&'a str>, (usize, Fault)> {
        let mut map: FastMap<&str, u32> = FastMap::default();
        let mut names: Vec<&str> = Vec::new();
        let mut intern_one = |v: Option<&'a str>, row: usize| -> std::result::Result<u32, (usize, Fault)> {
            let v = match v.map(str::trim) {
                // Where a value is required, the label of missing values would read as one in every
                // report. In an optional column it is what Touchpoint writes for "no value", and is
                // read back as that.
                Some(NONE_PLAYER) if required => return Err((row, Fault::NoneLabel)),
                Some(v) if !v.is_empty() => v,
                Some(_) if required => return Err((row, Fault::Blank)),
                None if required => return Err((row, Fault::Null)),
                _ => NONE_PLAYER,
            };
            Ok(*map.entry(v).or_insert_with(|| {
                names.push(v);
                (names.len() - 1) as u32
            }))
        };
        if part.null_count() > 0 {
            for (i, (v, slot)) in part.iter().zip(ids.iter_mut()).enumerate() {
                *slot = intern_one(v, lo + i + 1)?;
            }
        } else {
            // Names of at most 12 bytes sit whole in their 16-byte view, so the view is a key for
            // them that needs no trimming, hashing of text or lookup of a buffer.
            let mut short: FastMap<u128, u32> = FastMap::default();
            let mut slots = ids.iter_mut();
            let mut row = lo;
            for arr in part.downcast_iter() {
                for (k, (view, slot)) in arr.views().iter().zip(slots.by_ref()).enumerate() {
                    row += 1;
                    if view.length > 12 {
                        *slot = intern_one(Some(arr.value(k)), row)?;
                    } else if let Some(&id) = short.get(&view.as_u128()) {
                        *slot = id;
                    } else {
                        *slot = intern_one(Some(arr.value(k)), row)?;
                        short.insert(view.as_u128(), *slot);
                    }
                }
            }
        }
        Ok(names)
    }
    let mut chunks: Vec<&mut [u32]> = Vec::new();
    let mut rest: &mut [u32] = &mut out;
    for (k, (lo, _)) in parts.iter().enumerate() {
        let hi = parts.get(k + 1).map_or(n, |p| p.0);
        let (head, tail) = std::mem::take(&mut rest).split_at_mut(hi - lo);
        chunks.push(head);
        rest = tail;
    }
    let locals: Vec<std::result::Result<Vec<&str>, (usize, Fault)>> = std::thread::scope(|scope| {
        let mut work = parts.iter().zip(chunks.iter_mut());
        let first = work.next();
        let handles: Vec<_> = work.map(|(p, c)| scope.spawn(|| intern(p.0, &p.1, c, required))).collect();
        let mut got = vec![first.map_or(Ok(Vec::new()), |(p, c)| intern(p.0, &p.1, c, required))];
        got.extend(handles.into_iter().map(|h| h.join().expect("interning worker")));
        got
    });
    if let Some(&(row, fault)) = locals.iter().filter_map(|l| l.as_ref().err()).min_by_key(|(row, _)| *row) {
        let column = name.to_owned();
        return Err(match fault {
            Fault::Null => Error::NullValue { column, table: None, row },
            Fault::Blank => {
                Error::BadName { column, table: None, row, what: "empty text where a name is required" }
            }
            Fault::NoneLabel => Error::BadName {
                column,
                table: None,
                row,
                what: "the name `(none)`, which labels missing values (rename it)",
            },
        });
    }
    let locals: Vec<Vec<&str>> = locals.into_iter().map(|l| l.unwrap_or_default()).collect();
    let mut sorted: Vec<&str> = locals.iter().flatten().copied().collect();
    sorted.sort_unstable_by_key(|v| v.as_bytes());
    sorted.dedup();
    let maps: Vec<Vec<u32>> = locals
        .iter()
        .map(|names| {
            names
                .iter()
                .map(|v| sorted.binary_search_by_key(&v.as_bytes(), |x| x.as_bytes()).expect("merged") as u32)
                .collect()
        })
        .collect();
    std::thread::scope(|scope| {
        for (chunk, map) in chunks.into_iter().zip(&maps) {
            scope.spawn(move || chunk.iter_mut().for_each(|x| *x = map[*x as usize]));
        }
    });
    Ok((out, sorted.into_iter().map(str::to_owned).collect()))
}

/// Builds journeys from a touches table and a conversions table.
pub fn journeys_from_events(
    touches: &DataFrame,
    conversions: &DataFrame,
    opts: &EventOptions,
) -> Result<Journeys> {
    journeys_from_events_with(touches, conversions, opts, &touchpoint_core::Unattended)
}

/// [`journeys_from_events`] with progress reports (per person) and interruption.
///
/// The steps, each a function below: read the windows ([`windows`]), read and type the columns
/// ([`read_columns`]), intern the names ([`builder`]), sort the touches by person and time
/// ([`sort_touches`]), cut each person's journeys by the one window rule ([`cut_journeys`]), and keep
/// the sorted columns as the person timelines.
pub fn journeys_from_events_with(
    touches: &DataFrame,
    conversions: &DataFrame,
    opts: &EventOptions,
    control: &dyn touchpoint_core::Control,
) -> Result<Journeys> {
    // Options first: a bad window fails before any data is read.
    let windows = windows(opts)?;
    let mut cols = read_columns(touches, conversions, opts, &windows)?;
    let mut b = builder(&cols)?;
    let (start, times) = sort_touches(&mut cols);
    let interaction = interaction_windows(&cols.dim_ids, &windows)?;
    let conv = cut_journeys(&mut b, &cols, &start, &times, &interaction, &windows, opts, control)?;
    let person_keys = cols.person_keys.take();
    // The sorted touch columns become the timelines' (moved, not copied).
    let mut touch_ids: [Option<Vec<u32>>; 6] = Default::default();
    for (d, ids, _) in cols.dim_ids {
        touch_ids[d.index()] = Some(ids);
    }
    let mut timelines = Timelines::from_parts(
        cols.period,
        opts.population,
        start.iter().map(|&x| x as usize).collect(),
        times,
        touch_ids,
        conv.offsets,
        conv.columns,
    )?;
    if let Some(pop) = opts.population {
        // Said here, where it is given, not by the first model that reads it.
        if pop < timelines.persons() as u64 {
            return Err(Error::InvalidOption {
                option: "population",
                value: pop.to_string(),
                reason: format!(
                    "the log holds {} people, more than the population at risk; population counts everybody, those without any event too",
                    timelines.persons()
                ),
            });
        }
    }
    if let Some(keys) = person_keys {
        timelines.set_person_keys(keys);
    }
    b.set_timelines(timelines);
    let total = (touches.height() + conversions.height()) as u64;
    control.progress("journeys from events", total, total);
    Ok(b.build())
}

/// Checks the options alone, before any data is read (what a reader of one part of a log, say a Spark
/// partition, would find only after the data arrived): windows, time zone, period and population.
/// Names the options refer to (KPIs, interactions) are checked against the data later.
pub fn check_options(opts: &EventOptions) -> Result<()> {
    windows(opts)?;
    times_us(&Column::new("check".into(), ["2000-01-01"]), "check", &opts.tz)?;
    observation_period(opts, &[], &[])?;
    Ok(())
}

/// The lookback windows of [`EventOptions`], read and checked.
struct Windows<'a> {
    /// Every KPI's, unless it has its own.
    default: i64,
    by_kpi: HashMap<&'a str, i64>,
    /// Shorter windows by interaction name.
    by_interaction: Vec<(&'a str, i64)>,
}

fn windows(opts: &EventOptions) -> Result<Windows<'_>> {
    let default = duration("lookback", &opts.lookback)?;
    let mut by_kpi = HashMap::new();
    for (k, d) in &opts.lookback_by_kpi {
        by_kpi.insert(k.as_str(), duration("lookback", d)?);
    }
    let mut by_interaction = Vec::new();
    for (k, d) in &opts.interaction_lookback {
        by_interaction.push((k.as_str(), duration("interaction_lookback", d)?));
    }
    if !by_interaction.is_empty() && !opts.dims.contains(&Dimension::Interaction) {
        return Err(Error::InvalidOption {
            option: "interaction_lookback",
            value: format!("{:?}", opts.interaction_lookback),
            reason: "needs the `interaction` dimension: add \"interaction\" to dims".into(),
        });
    }
    if opts.max_touches == Some(0) {
        return Err(Error::InvalidOption {
            option: "max_touches",
            value: "0".into(),
            reason: "a journey keeps at least one touch".into(),
        });
    }
    Ok(Windows { default, by_kpi, by_interaction })
}

/// The two tables as typed columns, in input order; names as sorted ids.
struct EventColumns {
    /// Person of each touch and each conversion (ids in the persons' sort order).
    p_touch: Vec<u32>,
    p_conv: Vec<u32>,
    n_persons: usize,
    /// The persons' input ids, in id order.
    person_keys: Option<PersonKeys>,
    t_touch: Vec<i64>,
    t_conv: Vec<i64>,
    period: (i64, i64),
    /// Per dimension read: ids per touch and the names by id (channel first).
    dim_ids: Vec<(Dimension, Vec<u32>, Vec<String>)>,
    kpi_ids: Vec<u32>,
    kpi_names: Vec<String>,
    values: Vec<f64>,
    /// The default value column, when it was absent.
    no_values: Option<String>,
    /// Per KPI id: conversions (and their value) outside the observation period, left out.
    outside: Vec<(f64, f64)>,
}

fn read_columns(
    touches: &DataFrame,
    conversions: &DataFrame,
    opts: &EventOptions,
    windows: &Windows<'_>,
) -> Result<EventColumns> {
    // Touch positions are 32-bit in the sort and the timelines' offsets: a larger log goes in buckets.
    if touches.height() > u32::MAX as usize {
        return Err(Error::InvalidOption {
            option: "touches",
            value: format!("{} rows", touches.height()),
            reason: "more than 4,294,967,295 touches do not fit in memory at once: read the log in buckets of people (buckets=...)".into(),
        });
    }
    let (p_touch, p_conv, person_keys) = person_ids(
        require(touches, &opts.person)?,
        require(conversions, &opts.person).map_err(|e| rename_table(e, "conversions"))?,
        &opts.person,
    )?;
    let t_touch = times_us(require(touches, &opts.time)?, &opts.time, &opts.tz)
        .map_err(|e| rename_table(e, "touches"))?;
    let t_conv = times_us(
        require(conversions, &opts.time).map_err(|e| rename_table(e, "conversions"))?,
        &opts.time,
        &opts.tz,
    )
    .map_err(|e| rename_table(e, "conversions"))?;
    let period = observation_period(opts, &t_touch, &t_conv)?;
    let mut dim_ids: Vec<(Dimension, Vec<u32>, Vec<String>)> = Vec::new();
    let touches_table = |e| rename_table(e, "touches");
    let (ch, ch_names) =
        sorted_ids(require(touches, &opts.channel)?, &opts.channel, true).map_err(touches_table)?;
    dim_ids.push((Dimension::Channel, ch, ch_names));
    for &d in &opts.dims {
        if d == Dimension::Channel {
            continue;
        }
        let (ids, names) =
            sorted_ids(require(touches, d.as_str())?, d.as_str(), false).map_err(touches_table)?;
        dim_ids.push((d, ids, names));
    }
    let (mut kpi_ids, mut kpi_names) = match conversions.column(&opts.kpi) {
        Ok(col) => sorted_ids(col, &opts.kpi, true).map_err(|e| rename_table(e, "conversions"))?,
        Err(_) if opts.kpi == "kpi" => (vec![0; conversions.height()], vec!["conversions".to_owned()]),
        Err(_) => return Err(rename_table(require(conversions, &opts.kpi).unwrap_err(), "conversions")),
    };
    if !opts.kpis.is_empty() {
        // The union of both, still sorted; the table's ids renumbered into it.
        let mut all: Vec<String> = opts.kpis.iter().map(|k| k.trim().to_owned()).collect();
        all.extend(kpi_names.iter().cloned());
        all.sort_unstable();
        all.dedup();
        let map: Vec<u32> =
            kpi_names.iter().map(|n| all.binary_search(n).expect("in the union") as u32).collect();
        kpi_ids.iter_mut().for_each(|k| *k = map[*k as usize]);
        kpi_names = all;
    }
    if kpi_names.is_empty() {
        return Err(Error::InvalidOption {
            option: "conversions",
            value: "0 rows".into(),
            reason: "the conversions table is empty: there is no KPI to cut journeys for".into(),
        });
    }
    for k in windows.by_kpi.keys() {
        if !kpi_names.iter().any(|n| n == k) {
            return Err(Error::InvalidOption {
                option: "lookback",
                value: (*k).to_owned(),
                reason: format!("no such KPI in the conversions table (it has: {})", kpi_names.join(", ")),
            });
        }
    }
    let (values, no_values) = conversion_values(conversions, opts)?;
    // Conversions outside a given period (one quarter of a year's log) are left out of every model
    // and counted per KPI: the unattributed table's `outside_period` rows and a warning.
    let (mut p_conv, mut t_conv, mut kpi_ids, mut values) = (p_conv, t_conv, kpi_ids, values);
    let mut outside = vec![(0.0, 0.0); kpi_names.len()];
    if t_conv.iter().any(|&t| t < period.0 || t >= period.1) {
        let keep: Vec<bool> = t_conv.iter().map(|&t| t >= period.0 && t < period.1).collect();
        for (i, &k) in keep.iter().enumerate() {
            if !k {
                let o = &mut outside[kpi_ids[i] as usize];
                o.0 += 1.0;
                o.1 += values[i];
            }
        }
        filter_vec(&mut p_conv, &keep);
        filter_vec(&mut t_conv, &keep);
        filter_vec(&mut kpi_ids, &keep);
        filter_vec(&mut values, &keep);
    }
    Ok(EventColumns {
        p_touch,
        p_conv,
        n_persons: person_keys.len(),
        person_keys: Some(person_keys),
        t_touch,
        t_conv,
        period,
        dim_ids,
        kpi_ids,
        kpi_names,
        values,
        no_values,
        outside,
    })
}

/// Keeps the items of `v` whose `keep` is true.
fn filter_vec<T>(v: &mut Vec<T>, keep: &[bool]) {
    let mut i = 0;
    v.retain(|_| {
        i += 1;
        keep[i - 1]
    });
}

/// The value of each conversion (nulls are 0; negative or non-finite values are errors naming the
/// row), and the default column's name when it was absent.
fn conversion_values(conversions: &DataFrame, opts: &EventOptions) -> Result<(Vec<f64>, Option<String>)> {
    let Some(v) = opts.value.as_deref() else {
        return Ok((vec![0.0; conversions.height()], None));
    };
    let col = match conversions.column(v) {
        Ok(col) => col,
        Err(_) if opts.value_is_default => return Ok((vec![0.0; conversions.height()], Some(v.to_owned()))),
        Err(_) => return Err(rename_table(require(conversions, v).unwrap_err(), "conversions")),
    };
    let values = f64_column(col, v)?
        .f64()?
        .iter()
        .enumerate()
        .map(|(i, x)| {
            let x = x.unwrap_or(0.0);
            if x.is_finite() && x >= 0.0 {
                Ok(x)
            } else {
                Err(touchpoint_core::Error::InvalidWeight { field: "value", row: i + 1, value: x }.into())
            }
        })
        .collect::<Result<_>>()?;
    Ok((values, None))
}

/// A builder with vocabularies interned in sorted order (ids equal the ranks of the columns);
/// reserved names and input touch counts are checked on the columns in input order (rows in errors
/// are input rows).
fn builder(cols: &EventColumns) -> Result<JourneysBuilder> {
    let dims: Vec<Dimension> = cols.dim_ids.iter().map(|(d, _, _)| *d).collect();
    let mut b = JourneysBuilder::with_times(&dims);
    if let Some(v) = &cols.no_values {
        b.add_warning(format!(
            "the conversions table has no `{v}` column, so no values were read: every conversion has value 0 (name the value column, or pass value=None to say there is none)"
        ));
    }
    for name in &cols.kpi_names {
        b.kpi_id(name);
    }
    for (k, &(n, v)) in cols.outside.iter().enumerate() {
        if n > 0.0 {
            b.add_unattributed(k as u32, touchpoint_core::journeys::OUTSIDE_PERIOD, n, v);
        }
    }
    for (d, ids, names) in &cols.dim_ids {
        let mut first_row = vec![0usize; names.len()];
        for (row, &id) in ids.iter().enumerate().rev() {
            first_row[id as usize] = row + 1;
        }
        for (id, name) in names.iter().enumerate() {
            b.player_id(*d, name, first_row[id])?;
        }
        let mut counts = vec![0.0; names.len()];
        for &i in ids {
            counts[i as usize] += 1.0;
        }
        b.set_input_touches(*d, counts);
    }
    Ok(b)
}

/// Puts the touches in order: person, time, then names of channel, campaign, activity, actor,
/// actor_group, interaction. Two passes, so that no write lands at random in the whole log:
/// 1. the rows are partitioned into buckets of consecutive persons (up to 1,024), in bucket order,
///    one column at a time (the input column freed after it), each core partitioning its own slice
///    of the rows into its own part of every bucket (up to 1,024 write positions per core, which
///    stay in cache);
/// 2. each bucket (a few thousand persons) is sorted in place: a counting sort by person through a
///    scratch copy, then each person's few touches by time and names.
///
/// Buckets go to the cores in ranges of about equal rows. The result does not depend on the number
/// of cores or on the row order: the order is total up to touches equal in every column. Returns the
/// person offsets and the sorted times; the sorted names replace the input-order columns.
fn sort_touches(cols: &mut EventColumns) -> (Vec<u32>, Vec<i64>) {
    let n = cols.t_touch.len();
    let n_persons = cols.n_persons;
    let threads =
        if n < 1 << 20 { 1 } else { std::thread::available_parallelism().map_or(1, |t| t.get()).clamp(1, 8) };
    // Persons per bucket, a power of two so that a row's bucket is a shift of its person id.
    let shift = n_persons.div_ceil(1024).max(1).next_power_of_two().trailing_zeros();
    let per_bucket = 1usize << shift;
    let n_buckets = n_persons.div_ceil(per_bucket).max(1);
    let chunks: Vec<std::ops::Range<usize>> =
        (0..threads).map(|c| n * c / threads..n * (c + 1) / threads).collect();
    let p_touch = std::mem::take(&mut cols.p_touch);
    // Rows per (row chunk, bucket), and where each bucket starts in the partitioned columns.
    let hist: Vec<Vec<usize>> = on_threads(&chunks, |rows| {
        let mut h = vec![0usize; n_buckets];
        p_touch[rows].iter().for_each(|&p| h[p as usize >> shift] += 1);
        h
    });
    let mut bucket_start = vec![0usize; n_buckets + 1];
    for b in 0..n_buckets {
        bucket_start[b + 1] = bucket_start[b] + hist.iter().map(|h| h[b]).sum::<usize>();
    }
    // Pass 1, column by column, the largest first (the peak holds one input column and its copy).
    let mut times = partition(&cols.t_touch, &p_touch, &hist, &chunks, shift);
    cols.t_touch = Vec::new();
    let partition_u32 = |src: &[u32]| partition(src, &p_touch, &hist, &chunks, shift);
    let mut names: Vec<Vec<u32>> = Vec::new();
    for (_, ids, _) in cols.dim_ids.iter_mut() {
        names.push(partition_u32(ids));
        *ids = Vec::new();
    }
    let persons = partition_u32(&p_touch);
    drop(p_touch);
    // Ties on time are broken by the names' ids in the order of Dimension::ALL.
    let mut tie_order: Vec<usize> = (0..cols.dim_ids.len()).collect();
    tie_order.sort_by_key(|&i| cols.dim_ids[i].0.index());
    names = tie_order.iter().map(|&i| std::mem::take(&mut names[i])).collect();
    // Pass 2: buckets in ranges of about n / threads rows, each range with its own slices.
    let mut bounds = vec![0usize];
    for k in 1..threads {
        let at = bucket_start.partition_point(|&s| s < n * k / threads).min(n_buckets);
        bounds.push(at.max(*bounds.last().expect("non-empty")));
    }
    bounds.push(n_buckets);
    let mut start = vec![0u32; n_persons + 1];
    start[n_persons] = n as u32;
    {
        let mut jobs = Vec::new();
        let (mut rest_t, mut rest_p, mut rest_s): (&mut [i64], &[u32], &mut [u32]) =
            (&mut times, &persons, &mut start[..n_persons]);
        let mut rest_d: Vec<&mut [u32]> = names.iter_mut().map(Vec::as_mut_slice).collect();
        for w in bounds.windows(2) {
            let rows = bucket_start[w[1]] - bucket_start[w[0]];
            let first = (w[0] * per_bucket).min(n_persons);
            let people = (w[1] * per_bucket).min(n_persons) - first;
            let (t, tail) = std::mem::take(&mut rest_t).split_at_mut(rows);
            rest_t = tail;
            let (p, tail) = rest_p.split_at(rows);
            rest_p = tail;
            let (st, tail) = std::mem::take(&mut rest_s).split_at_mut(people);
            rest_s = tail;
            let d: Vec<&mut [u32]> = rest_d
                .iter_mut()
                .map(|slot| {
                    let (head, tail) = std::mem::take(slot).split_at_mut(rows);
                    *slot = tail;
                    head
                })
                .collect();
            jobs.push(SortJob { buckets: w[0]..w[1], first, base: bucket_start[w[0]], t, p, start: st, d });
        }
        let bucket_start = &bucket_start;
        std::thread::scope(|scope| {
            let mut jobs = jobs.into_iter();
            let first = jobs.next();
            let handles: Vec<_> =
                jobs.map(|job| scope.spawn(move || job.run(bucket_start, per_bucket))).collect();
            if let Some(job) = first {
                job.run(bucket_start, per_bucket);
            }
            handles.into_iter().for_each(|h| h.join().expect("sorting worker"));
        });
    }
    drop(persons);
    for (k, col) in tie_order.iter().zip(names) {
        cols.dim_ids[*k].1 = col;
    }
    (start, times)
}

/// Runs `work` on each range of rows, one thread per range (the first on this one), in range order.
fn on_threads<T: Send>(
    ranges: &[std::ops::Range<usize>],
    work: impl Fn(std::ops::Range<usize>) -> T + Sync,
) -> Vec<T> {
    std::thread::scope(|scope| {
        let work = &work;
        let handles: Vec<_> = ranges[1..].iter().map(|r| scope.spawn(move || work(r.clone()))).collect();
        let mut out = vec![work(ranges[0].clone())];
        out.extend(handles.into_iter().map(|h| h.join().expect("worker")));
        out
    })
}

/// Pass 1 of [`sort_touches`] for one column: `src` in bucket order (bucket of row `i`:
/// `persons[i] >> shift`), rows of one bucket in row order. Chunk `c` of the rows writes its part
/// of bucket `b` after the parts of the chunks before it, so every chunk owns its slices.
fn partition<T: Copy + Default + Send + Sync>(
    src: &[T],
    persons: &[u32],
    hist: &[Vec<usize>],
    chunks: &[std::ops::Range<usize>],
    shift: u32,
) -> Vec<T> {
    let n_buckets = hist[0].len();
    let mut out = vec![T::default(); src.len()];
    // The output split bucket-major into (bucket, chunk) slices; chunk c gets its slice of every bucket.
    let mut mine: Vec<Vec<&mut [T]>> = (0..chunks.len()).map(|_| Vec::with_capacity(n_buckets)).collect();
    let mut rest: &mut [T] = &mut out;
    for b in 0..n_buckets {
        for (c, h) in hist.iter().enumerate() {
            let (head, tail) = std::mem::take(&mut rest).split_at_mut(h[b]);
            mine[c].push(head);
            rest = tail;
        }
    }
    std::thread::scope(|scope| {
        let mut work = chunks.iter().zip(mine).map(|(rows, mut slots)| {
            move || {
                let mut at = vec![0usize; slots.len()];
                for (&p, &v) in persons[rows.clone()].iter().zip(&src[rows.clone()]) {
                    let b = p as usize >> shift;
                    slots[b][at[b]] = v;
                    at[b] += 1;
                }
            }
        });
        let first = work.next();
        let handles: Vec<_> = work.map(|w| scope.spawn(w)).collect();
        if let Some(mut w) = first {
            w();
        }
        handles.into_iter().for_each(|h| h.join().expect("partition worker"));
    });
    out
}

/// Pass 2 of [`sort_touches`] for a range of buckets: its rows (times `t`, persons `p`, names `d` in
/// tie order, from row `base`) and its persons' offsets (from person `first`).
struct SortJob<'a> {
    buckets: std::ops::Range<usize>,
    first: usize,
    base: usize,
    t: &'a mut [i64],
    p: &'a [u32],
    start: &'a mut [u32],
    d: Vec<&'a mut [u32]>,
}

impl SortJob<'_> {
    fn run(mut self, bucket_start: &[usize], per_bucket: usize) {
        let n_persons_here = self.start.len();
        let mut count: Vec<u32> = Vec::new();
        let (mut st, mut sd) = (Vec::<i64>::new(), Vec::<Vec<u32>>::new());
        sd.resize(self.d.len(), Vec::new());
        for b in self.buckets.clone() {
            let (lo, hi) = (bucket_start[b] - self.base, bucket_start[b + 1] - self.base);
            let p0 = b * per_bucket; // first person of the bucket
            let m = ((b + 1) * per_bucket).min(self.first + n_persons_here) - p0;
            // Counting sort by person: offsets, then the rows through a scratch copy.
            count.clear();
            count.resize(m + 1, 0);
            self.p[lo..hi].iter().for_each(|&p| count[p as usize - p0 + 1] += 1);
            for q in 0..m {
                count[q + 1] += count[q];
            }
            let offset = (self.base + lo) as u32;
            let here = &mut self.start[p0 - self.first..p0 - self.first + m];
            here.iter_mut().zip(&count).for_each(|(s, &c)| *s = offset + c);
            st.clear();
            st.extend_from_slice(&self.t[lo..hi]);
            for (s, d) in sd.iter_mut().zip(self.d.iter()) {
                s.clear();
                s.extend_from_slice(&d[lo..hi]);
            }
            let mut at = count[..m].to_vec();
            for (i, &p) in self.p[lo..hi].iter().enumerate() {
                let slot = &mut at[p as usize - p0];
                let k = lo + *slot as usize;
                *slot += 1;
                self.t[k] = st[i];
                for (d, s) in self.d.iter_mut().zip(&sd) {
                    d[k] = s[i];
                }
            }
            // Each person's touches by time, then names.
            for q in 0..m {
                let (a, z) = (lo + count[q] as usize, lo + count[q + 1] as usize);
                sort_run(&mut self.t[a..z], &mut self.d, a);
            }
        }
    }
}

/// Sorts one person's run `t` (times) with the names `d[..][at..at + t.len()]` in tie order: by time,
/// then names. Insertion sort for the usual few touches, a sorted index for long runs.
fn sort_run(t: &mut [i64], d: &mut [&mut [u32]], at: usize) {
    let len = t.len();
    if len < 2 || t.windows(2).all(|w| w[0] < w[1]) {
        return;
    }
    let less = |t: &[i64], d: &[&mut [u32]], x: usize, y: usize| -> bool {
        match t[x].cmp(&t[y]) {
            std::cmp::Ordering::Equal => {
                d.iter().map(|c| c[at + x].cmp(&c[at + y])).find(|o| o.is_ne())
                    == Some(std::cmp::Ordering::Less)
            }
            o => o.is_lt(),
        }
    };
    if len <= 32 {
        for i in 1..len {
            let mut j = i;
            while j > 0 && less(t, d, j, j - 1) {
                t.swap(j, j - 1);
                d.iter_mut().for_each(|c| c.swap(at + j, at + j - 1));
                j -= 1;
            }
        }
        return;
    }
    let mut order: Vec<usize> = (0..len).collect();
    order.sort_unstable_by(|&x, &y| {
        if less(t, d, x, y) {
            std::cmp::Ordering::Less
        } else if less(t, d, y, x) {
            std::cmp::Ordering::Greater
        } else {
            std::cmp::Ordering::Equal
        }
    });
    let sorted: Vec<i64> = order.iter().map(|&i| t[i]).collect();
    t.copy_from_slice(&sorted);
    for c in d.iter_mut() {
        let sorted: Vec<u32> = order.iter().map(|&i| c[at + i]).collect();
        c[at..at + len].copy_from_slice(&sorted);
    }
}

/// The window of each interaction (by id), when interaction windows are given, with the position of
/// the interaction column in `dim_ids`; an interaction name that no touch has is an error.
fn interaction_windows(
    dim_ids: &[(Dimension, Vec<u32>, Vec<String>)],
    windows: &Windows<'_>,
) -> Result<Option<(usize, Vec<Option<i64>>)>> {
    let Some(slot) = dim_ids.iter().position(|(d, _, _)| *d == Dimension::Interaction) else {
        return Ok(None);
    };
    let names = &dim_ids[slot].2;
    if let Some((name, _)) = windows.by_interaction.iter().find(|(k, _)| !names.iter().any(|n| n == k)) {
        return Err(Error::InvalidOption {
            option: "interaction_lookback",
            value: (*name).to_owned(),
            reason: format!("no such interaction in the touches (they have: {})", names.join(", ")),
        });
    }
    let by_id = names
        .iter()
        .map(|name| windows.by_interaction.iter().find(|(k, _)| k == name).map(|(_, w)| *w))
        .collect();
    Ok(Some((slot, by_id)))
}

/// The timelines' conversions: per person offsets, then (kpi, time, count, value) columns.
struct TimelineConversions {
    offsets: Vec<usize>,
    columns: (Vec<u32>, Vec<i64>, Vec<f64>, Vec<f64>),
}

/// Cuts every person's journeys by the one window rule ([`WindowRule::cut`]), pushing them into `b`,
/// and gathers the timelines' conversions (by KPI then time, conversions at one instant merged).
#[allow(clippy::too_many_arguments)]
fn cut_journeys(
    b: &mut JourneysBuilder,
    cols: &EventColumns,
    start: &[u32],
    times: &[i64],
    interaction: &Option<(usize, Vec<Option<i64>>)>,
    windows: &Windows<'_>,
    opts: &EventOptions,
    control: &dyn touchpoint_core::Control,
) -> Result<TimelineConversions> {
    let n_kpis = cols.kpi_names.len();
    let mut corder: Vec<u32> = (0..cols.t_conv.len() as u32).collect();
    corder.sort_unstable_by_key(|&i| {
        (cols.p_conv[i as usize], cols.kpi_ids[i as usize], cols.t_conv[i as usize])
    });
    // Upper bounds, reserved at once: a touch sits in at most one journey per KPI, and there is at most
    // one journey per conversion plus one null journey per person and KPI. Untouched capacity stays
    // virtual (not resident), while growing by doubling would copy (and briefly hold) everything twice.
    // Views into the timelines unless an interaction's own window can leave gaps in a journey's run of
    // touches.
    if interaction.as_ref().is_none_or(|(_, by_id)| by_id.iter().all(Option::is_none)) {
        b.view_timelines();
    }
    b.reserve(corder.len() + cols.n_persons * n_kpis, times.len() * n_kpis);
    let lookbacks: Vec<i64> = cols
        .kpi_names
        .iter()
        .map(|k| windows.by_kpi.get(k.as_str()).copied().unwrap_or(windows.default))
        .collect();
    let mut ci = 0usize; // cursor in `corder`
    let mut window: Vec<u32> = Vec::new();
    let mut touch_window: Vec<Option<i64>> = Vec::new();
    let mut conv_by_kpi: Vec<Vec<(i64, f64, f64)>> = vec![Vec::new(); n_kpis];
    let mut out =
        TimelineConversions { offsets: Vec::with_capacity(cols.n_persons + 1), columns: Default::default() };
    out.offsets.push(0);
    let total = (times.len() + corder.len()) as u64;
    for person in 0..cols.n_persons {
        if person % 65_536 == 65_535 {
            control.checkpoint()?;
            control.progress("journeys from events", start[person] as u64 + ci as u64, total);
        }
        let (lo, hi) = (start[person] as usize, start[person + 1] as usize);
        b.set_person(person as u32);
        for v in conv_by_kpi.iter_mut() {
            v.clear();
        }
        while ci < corder.len() && cols.p_conv[corder[ci] as usize] as usize == person {
            let r = corder[ci] as usize;
            let list = &mut conv_by_kpi[cols.kpi_ids[r] as usize];
            match list.last_mut() {
                Some(last) if last.0 == cols.t_conv[r] => {
                    last.1 += 1.0;
                    last.2 += cols.values[r];
                }
                _ => list.push((cols.t_conv[r], 1.0, cols.values[r])),
            }
            ci += 1;
        }
        for (k, list) in conv_by_kpi.iter().enumerate() {
            for &(t, c, v) in list {
                out.columns.0.push(k as u32);
                out.columns.1.push(t);
                out.columns.2.push(c);
                out.columns.3.push(v);
            }
        }
        out.offsets.push(out.columns.0.len());
        if lo == hi {
            for (k, list) in conv_by_kpi.iter().enumerate() {
                for &(_, c, v) in list {
                    b.add_unattributed(k as u32, "unknown_person", c, v);
                }
            }
            continue;
        }
        touch_window.clear();
        if let Some((slot, by_id)) = interaction {
            touch_window.extend(cols.dim_ids[*slot].1[lo..hi].iter().map(|&i| by_id[i as usize]));
        }
        let mine = &times[lo..hi];
        for (k, &lookback) in lookbacks.iter().enumerate() {
            let rule = WindowRule { lookback, max_touches: opts.max_touches, touch_window: &touch_window };
            rule.cut(mine, &conv_by_kpi[k], &mut window, |cut| -> Result<()> {
                let kpi = k as u32;
                match cut {
                    Cut::Unattributed { conversions, value, .. } => {
                        b.add_unattributed(kpi, "no_touch_in_window", conversions, value);
                        Ok(())
                    }
                    Cut::Journey { touches, time, conversions, value, trimmed } => {
                        b.add_trimmed(kpi, trimmed as u64);
                        let w = Weights { conversions, value, nulls: 0.0 };
                        push_journey(b, lo, touches, &cols.dim_ids, times, kpi, w, time)
                    }
                    Cut::Null { touches, time, trimmed } => {
                        b.add_trimmed(kpi, trimmed as u64);
                        let w = Weights { conversions: 0.0, value: 0.0, nulls: 1.0 };
                        push_journey(b, lo, touches, &cols.dim_ids, times, kpi, w, time)
                    }
                }
            })?;
        }
    }
    Ok(out)
}

/// Pushes one journey: `touches` are indices relative to the person's first touch `lo`.
#[allow(clippy::too_many_arguments)]
fn push_journey(
    b: &mut JourneysBuilder,
    lo: usize,
    touches: &[u32],
    dim_ids: &[(Dimension, Vec<u32>, Vec<String>)],
    t_touch: &[i64],
    kpi: u32,
    weights: Weights,
    t: i64,
) -> Result<()> {
    if b.is_view() {
        // The rule's runs are contiguous without interaction windows (max_touches keeps a suffix).
        debug_assert!(touches.windows(2).all(|w| w[1] == w[0] + 1));
        b.push_view(lo + touches.first().map_or(0, |&i| i as usize), touches.len());
    } else {
        for &i in touches {
            let i = lo + i as usize;
            let mut ids = [0u32; 6];
            for (d, col, _) in dim_ids {
                ids[d.index()] = col[i];
            }
            b.push_touch(ids, Some(t_touch[i]));
        }
    }
    b.finish_journey(0, kpi, weights, Some(t))?;
    Ok(())
}

/// The observation period: the caller's, or from the first event to just after the last one.
fn observation_period(opts: &EventOptions, touches: &[i64], conversions: &[i64]) -> Result<(i64, i64)> {
    if opts.population == Some(0) {
        return Err(Error::InvalidOption {
            option: "population",
            value: "0".into(),
            reason: "at least one person is at risk".into(),
        });
    }
    let Some((a, z)) = &opts.period else {
        let first = touches.iter().chain(conversions).copied().min().unwrap_or(0);
        let last = touches.iter().chain(conversions).copied().max().unwrap_or(0);
        return Ok((first, last.saturating_add(1)));
    };
    let parse = |text: &str| -> Result<i64> {
        let col = Column::new("period".into(), [text]);
        times_us(&col, "period", &opts.tz).map(|v| v[0]).map_err(|_| Error::InvalidOption {
            option: "period",
            value: text.to_owned(),
            reason: "not an ISO-8601 timestamp (e.g. 2024-05-01T00:00:00Z or 2024-05-01)".into(),
        })
    };
    let (start, end) = (parse(a)?, parse(z)?);
    if end <= start {
        return Err(Error::InvalidOption {
            option: "period",
            value: format!("({a}, {z})"),
            reason: "the end must be after the start".into(),
        });
    }
    Ok((start, end))
}

fn rename_table(e: Error, table: &'static str) -> Error {
    match e {
        Error::MissingColumn { column, available, .. } => {
            Error::MissingColumn { column, table: Some(table), available }
        }
        Error::NullValue { column, row, .. } => Error::NullValue { column, table: Some(table), row },
        Error::BadName { column, row, what, .. } => Error::BadName { column, table: Some(table), row, what },
        Error::Timestamp { column, row, value, reason, .. } => {
            Error::Timestamp { column, table: Some(table), row, value, reason }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A log of `n` touches over `persons` persons (a few with long runs), times drawn from a small
    /// range so that ties on time are common, two name columns; in input order.
    fn columns(n: usize, persons: usize, seed: u64) -> EventColumns {
        let mut x = seed;
        let mut next = |m: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % m
        };
        let mut p_touch = Vec::with_capacity(n);
        let (mut t, mut ch, mut camp) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..n {
            // Every 50th touch goes to one of three persons, whose runs grow long (above 32 touches).
            let p = if i % 50 == 0 { next(3) } else { next(persons as u64) };
            p_touch.push(p as u32);
            t.push(next(20) as i64);
            ch.push(next(4) as u32);
            camp.push(next(3) as u32);
        }
        EventColumns {
            p_touch,
            p_conv: Vec::new(),
            n_persons: persons,
            person_keys: None,
            t_touch: t,
            t_conv: Vec::new(),
            period: (0, 1),
            // Campaign stored before channel: ties still break by channel first (Dimension::ALL).
            dim_ids: vec![(Dimension::Campaign, camp, Vec::new()), (Dimension::Channel, ch, Vec::new())],
            kpi_ids: Vec::new(),
            kpi_names: Vec::new(),
            values: Vec::new(),
            no_values: None,
            outside: vec![(0.0, 0.0)],
        }
    }

    /// The order by brute force: (person, time, channel, campaign) of every touch, sorted.
    fn brute(c: &EventColumns) -> Vec<(u32, i64, u32, u32)> {
        let mut rows: Vec<_> = (0..c.t_touch.len())
            .map(|i| (c.p_touch[i], c.t_touch[i], c.dim_ids[1].1[i], c.dim_ids[0].1[i]))
            .collect();
        rows.sort_unstable();
        rows
    }

    #[test]
    fn the_sort_equals_a_sort_of_every_touch_by_person_time_and_names() {
        // Below and above the size where the sort runs on every core (2^20 touches); persons fewer
        // and more than the 1,024 buckets, some without any touch.
        for (n, persons, seed) in [(5_000, 700, 1), (30_000, 9_000, 2), ((1 << 20) + 4_321, 150_000, 3)] {
            let mut c = columns(n, persons, seed);
            let want = brute(&c);
            let (start, times) = sort_touches(&mut c);
            assert_eq!(start.len(), persons + 1);
            let mut got = Vec::with_capacity(n);
            for p in 0..persons {
                assert!(start[p] <= start[p + 1]);
                let run = start[p] as usize..start[p + 1] as usize;
                let cols = (&times[run.clone()], &c.dim_ids[1].1[run.clone()], &c.dim_ids[0].1[run]);
                got.extend((0..cols.0.len()).map(|i| (p as u32, cols.0[i], cols.1[i], cols.2[i])));
            }
            assert_eq!(start[persons] as usize, n);
            assert_eq!(got, want, "n = {n}");
            assert!(c.p_touch.is_empty() && c.t_touch.is_empty());
            // Long runs took the sorted-index path.
            assert!((0..3).any(|p| start[p + 1] - start[p] > 32));
        }
    }
}
