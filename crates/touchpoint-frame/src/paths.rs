//! ChannelAttribution's path tables (`path`, `total_conversions`, `total_conversion_value`,
//! `total_null`) to [`Journeys`] and back, from DataFrames, CSV or Parquet.
use std::path::Path;
use touchpoint_core::Weights;

use polars::prelude::*;
use touchpoint_core::{Dimension, Journeys, JourneysBuilder};

use crate::error::{Error, Result};
use crate::table::{f64_column, require, str_column};

/// How to read a path table. Defaults are ChannelAttribution's column names.
#[derive(Clone, Debug)]
pub struct PathOptions {
    /// Column with the paths (`a > b > c`).
    pub path: String,
    /// Column with the conversion weight of each path.
    pub conversions: String,
    /// Column with the conversion value, if any.
    pub value: Option<String>,
    /// Column with the weight of identical non-converting journeys, if any.
    pub nulls: Option<String>,
    /// Separator between touches in a path (any non-empty string; names are trimmed).
    pub sep: String,
    /// KPI that every row measures, for tables without a `kpi_column`.
    pub kpi: String,
    /// Column naming each row's KPI (as `to_paths` writes it), if any; when it is present, `kpi` is
    /// not used.
    pub kpi_column: Option<String>,
    /// CSV field delimiter (one byte).
    pub delimiter: u8,
}

impl Default for PathOptions {
    fn default() -> Self {
        PathOptions {
            path: "path".into(),
            conversions: "total_conversions".into(),
            value: Some("total_conversion_value".into()),
            nulls: Some("total_null".into()),
            sep: ">".into(),
            kpi: "conversions".into(),
            kpi_column: Some("kpi".into()),
            delimiter: b',',
        }
    }
}

impl PathOptions {
    /// Drops the optional columns (value, nulls, KPI) that `df` lacks while they have the default names,
    /// so a table without nulls reads without naming them away; an explicit name that is missing stays
    /// an error.
    pub fn tolerate_default_absences(mut self, df: &DataFrame) -> Self {
        let has = |c: &str| df.column(c).is_ok();
        if self.value.as_deref() == Some("total_conversion_value") && !has("total_conversion_value") {
            self.value = None;
        }
        if self.nulls.as_deref() == Some("total_null") && !has("total_null") {
            self.nulls = None;
        }
        if self.kpi_column.as_deref() == Some("kpi") && !has("kpi") {
            self.kpi_column = None;
        }
        self
    }
}

/// Reads a path table from a DataFrame into journeys (rows are 1-based in errors, header excluded).
pub fn journeys_from_paths(df: &DataFrame, opts: &PathOptions) -> Result<Journeys> {
    if opts.sep.is_empty() {
        return Err(Error::InvalidOption {
            option: "sep",
            value: opts.sep.clone(),
            reason: "the path separator must not be empty".into(),
        });
    }
    let path_col = str_column(require(df, &opts.path)?, &opts.path)?;
    let conv_col = f64_column(require(df, &opts.conversions)?, &opts.conversions)?;
    let value_col =
        opts.value.as_deref().map(|c| require(df, c).and_then(|col| f64_column(col, c))).transpose()?;
    let null_col =
        opts.nulls.as_deref().map(|c| require(df, c).and_then(|col| f64_column(col, c))).transpose()?;
    let paths = path_col.str()?;
    let convs: Vec<Option<f64>> = conv_col.f64()?.iter().collect();
    let values: Option<Vec<Option<f64>>> =
        value_col.as_ref().map(|c| c.f64().map(|c| c.iter().collect())).transpose()?;
    let nulls: Option<Vec<Option<f64>>> =
        null_col.as_ref().map(|c| c.f64().map(|c| c.iter().collect())).transpose()?;
    let kpi_col =
        opts.kpi_column.as_deref().map(|c| require(df, c).and_then(|col| str_column(col, c))).transpose()?;
    let kpis: Option<Vec<Option<&str>>> =
        kpi_col.as_ref().map(|c| c.str().map(|c| c.iter().collect())).transpose()?;
    let cols =
        Columns { convs: &convs, values: values.as_deref(), nulls: nulls.as_deref(), kpis: kpis.as_deref() };

    // Large tables are read in row ranges on every core, then merged: vocabularies come out in
    // first-seen order exactly as a sequential read gives them.
    let n = df.height();
    let threads =
        if n >= 50_000 { std::thread::available_parallelism().map_or(1, |t| t.get()).min(8) } else { 1 };
    if threads <= 1 {
        return read_rows(paths, &cols, 0, opts);
    }
    let step = n.div_ceil(threads);
    let parts: Vec<Result<Journeys>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (start, len) = (t * step, step.min(n.saturating_sub(t * step)));
                let chunk = paths.slice(start as i64, len);
                let cols = &cols;
                scope.spawn(move || read_rows(&chunk, cols, start, opts))
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("reader thread")).collect()
    });
    let mut merged: Option<Journeys> = None;
    for part in parts {
        let part = part?;
        merged = Some(match merged {
            None => part,
            Some(m) => m.merge(part)?,
        });
    }
    Ok(merged.expect("at least one part"))
}

/// The weight columns of a path table, as plain vectors.
struct Columns<'a> {
    convs: &'a [Option<f64>],
    values: Option<&'a [Option<f64>]>,
    nulls: Option<&'a [Option<f64>]>,
    kpis: Option<&'a [Option<&'a str>]>,
}

/// Reads the rows `offset..offset + paths.len()` of a path table.
fn read_rows(
    paths: &StringChunked,
    cols: &Columns<'_>,
    offset: usize,
    opts: &PathOptions,
) -> Result<Journeys> {
    let sep = opts.sep.as_str();
    let sep_byte = match sep.as_bytes() {
        [b] if b.is_ascii() => Some(*b),
        _ => None,
    };
    // Room for every touch at once: separators + 1 per path.
    let touches: usize = paths
        .iter()
        .flatten()
        .map(|p| match sep_byte {
            Some(s) => p.bytes().filter(|&b| b == s).count() + 1,
            None => p.matches(sep).count() + 1,
        })
        .sum();
    let mut b = JourneysBuilder::new(&[]);
    b.reserve(paths.len(), touches);
    let table_kpi = match cols.kpis {
        None => Some(b.kpi_id(&opts.kpi)),
        Some(_) => None,
    };
    let num = |col: Option<&[Option<f64>]>, name: &Option<String>, i: usize| -> Result<f64> {
        match col {
            None => Ok(0.0),
            Some(c) => c[i].ok_or_else(|| Error::NullValue {
                column: name.clone().unwrap_or_default(),
                table: None,
                row: i + 1,
            }),
        }
    };
    let mut short: touchpoint_util::hashing::FastMap<u128, u32> = Default::default();
    for (k, path) in paths.iter().enumerate() {
        let i = offset + k;
        let row = i + 1;
        let path = path.ok_or_else(|| Error::NullValue { column: opts.path.clone(), table: None, row })?;
        if path.trim().is_empty() {
            return Err(touchpoint_core::Error::EmptyPath { row }.into());
        }
        let kpi = match (table_kpi, cols.kpis) {
            (Some(k), _) => k,
            (None, Some(names)) => match names[i].map(str::trim) {
                Some(name) if !name.is_empty() => b.kpi_id(name),
                _ => {
                    let column = opts.kpi_column.clone().unwrap_or_default();
                    return Err(Error::NullValue { column, table: None, row });
                }
            },
            (None, None) => unreachable!("a KPI column or the table's KPI"),
        };
        // A one-byte separator splits by `char` (a memchr scan) rather than by substring search;
        // known names take the lookup-only path, new ones are interned (and checked) once.
        let mut bad = None;
        let mut push = |pos: usize, part: &str| -> bool {
            // Unicode whitespace (NBSP included) is trimmed, as in event logs.
            let name = part.trim();
            // Short names (almost all) are found by a 128-bit key, without hashing or comparing text.
            let key = short_key(name);
            if let Some(&id) = key.and_then(|k| short.get(&k)) {
                b.push_channel(id, None);
                return true;
            }
            let id = match b.known_player_id(Dimension::Channel, name) {
                Some(id) => id,
                None if name.is_empty() => {
                    bad = Some(touchpoint_core::Error::EmptyTouch { row, position: pos + 1 });
                    return false;
                }
                None => match b.player_id(Dimension::Channel, name, row) {
                    Ok(id) => id,
                    Err(e) => {
                        bad = Some(e);
                        return false;
                    }
                },
            };
            if let Some(k) = key {
                short.insert(k, id);
            }
            b.push_channel(id, None);
            true
        };
        let complete = match sep_byte {
            Some(ch) => path.split(ch as char).enumerate().all(|(pos, part)| push(pos, part)),
            None => path.split(sep).enumerate().all(|(pos, part)| push(pos, part)),
        };
        if !complete {
            b.discard_pending();
            return Err(bad.expect("set when a touch is refused").into());
        }
        let weights = cols.convs[i]
            .ok_or_else(|| Error::NullValue { column: opts.conversions.clone(), table: None, row })
            .and_then(|c| Ok((c, num(cols.values, &opts.value, i)?, num(cols.nulls, &opts.nulls, i)?)));
        match weights {
            Ok((c, v, n)) => {
                b.finish_journey(row, kpi, Weights { conversions: c, value: v, nulls: n }, None)?
            }
            Err(e) => {
                b.discard_pending();
                return Err(e);
            }
        }
    }
    Ok(b.build())
}

/// A name of at most 15 bytes packed with its length into one integer (a map key that needs no text
/// comparison); `None` for longer names.
#[inline]
fn short_key(name: &str) -> Option<u128> {
    let bytes = name.as_bytes();
    if bytes.len() > 15 {
        return None;
    }
    let mut buf = [0u8; 16];
    buf[..bytes.len()].copy_from_slice(bytes);
    buf[15] = bytes.len() as u8;
    Some(u128::from_le_bytes(buf))
}

/// Reads a CSV or Parquet file (by extension) into a DataFrame.
///
/// `path` names one file, never a pattern: `data[1].csv` is that file, `*.csv` is an error. CSV columns
/// are read as text (as the Python readers do) and typed by the reader that uses them, so a column that
/// turns fractional or alphanumeric late in the file reads the same everywhere, and a value that is
/// not a number is an error naming its row. A column type
/// this build of polars cannot hold (Decimal, Int128, Float16 in Parquet) is a read error naming the
/// file, not a panic.
pub fn read_table(path: &Path, delimiter: u8) -> Result<DataFrame> {
    let shown = path.display().to_string();
    if !path.is_file() {
        let message = if path.exists() { "not a file" } else { "no such file" };
        return Err(Error::Read { path: shown, message: message.into() });
    }
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or_default().to_ascii_lowercase();
    let pl_path = PlRefPath::new(shown.as_str());
    let read = || -> PolarsResult<DataFrame> {
        let lf = match ext.as_str() {
            "csv" | "txt" | "tsv" => LazyCsvReader::new(pl_path.clone())
                .with_separator(delimiter)
                .with_has_header(true)
                .with_infer_schema_length(Some(0))
                .with_glob(false)
                .finish()?,
            _ => LazyFrame::scan_parquet(
                pl_path.clone(),
                ScanArgsParquet { glob: false, ..Default::default() },
            )?,
        };
        lf.collect()
    };
    if !matches!(ext.as_str(), "csv" | "txt" | "tsv" | "parquet" | "pq") {
        return Err(Error::FileType { path: shown });
    }
    // polars panics on some column types it was built without; a panic must not escape.
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(read)) {
        Ok(Ok(df)) => Ok(df),
        Ok(Err(e)) => Err(Error::Read { path: shown, message: e.to_string() }),
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("unknown");
            Err(Error::Read {
                path: shown,
                message: format!(
                    "a column has a type this reader does not support ({what}); store Decimal, Int128 and Float16 columns as float64, int64 or text"
                ),
            })
        }
    }
}

/// Reads a path table from a CSV or Parquet file.
pub fn journeys_from_path_file(path: &Path, opts: &PathOptions) -> Result<Journeys> {
    let df = read_table(path, opts.delimiter)?;
    let opts = opts.clone().tolerate_default_absences(&df);
    journeys_from_paths(&df, &opts)
}

/// Journeys back as a ChannelAttribution-style path table, identical (kpi, path) rows aggregated:
/// `kpi, path, total_conversions, total_conversion_value, total_null`, sorted by KPI and path.
pub fn paths_frame(j: &Journeys, sep: &str) -> Result<DataFrame> {
    let names = j.vocab(Dimension::Channel).names();
    let mut agg: std::collections::HashMap<(u32, String), [f64; 3]> = std::collections::HashMap::new();
    // A whitespace separator is written as is (padding it would make empty touches on reading back).
    let joiner = if sep.trim().is_empty() { sep.to_owned() } else { format!(" {} ", sep.trim()) };
    let mark = if sep.trim().is_empty() { sep } else { sep.trim() };
    if mark.is_empty() {
        return Err(Error::InvalidOption {
            option: "sep",
            value: sep.to_owned(),
            reason: "the path separator must not be empty".into(),
        });
    }
    // A name holding the separator would read back as several touches: refuse it, naming it.
    let mut used = vec![false; names.len()];
    for r in j.iter() {
        for &c in r.channels {
            used[c as usize] = true;
        }
    }
    if let Some(name) = names.iter().zip(&used).find(|(n, &u)| u && n.contains(mark)).map(|(n, _)| n) {
        return Err(Error::InvalidOption {
            option: "sep",
            value: sep.to_owned(),
            reason: format!(
                "the channel `{name}` contains the separator, so the path table could not be read back; pass another sep"
            ),
        });
    }
    for r in j.iter() {
        let path = r.channels.iter().map(|&c| names[c as usize].as_str()).collect::<Vec<_>>().join(&joiner);
        let e = agg.entry((r.kpi, path)).or_insert([0.0; 3]);
        e[0] += r.conversions;
        e[1] += r.value;
        e[2] += r.nulls;
    }
    let mut rows: Vec<((u32, String), [f64; 3])> = agg.into_iter().collect();
    rows.sort_by(|a, b| j.kpis().name(a.0 .0).cmp(j.kpis().name(b.0 .0)).then_with(|| a.0 .1.cmp(&b.0 .1)));
    Ok(DataFrame::new_infer_height(vec![
        Column::new("kpi".into(), rows.iter().map(|r| j.kpis().name(r.0 .0).to_owned()).collect::<Vec<_>>()),
        Column::new("path".into(), rows.iter().map(|r| r.0 .1.clone()).collect::<Vec<_>>()),
        Column::new("total_conversions".into(), rows.iter().map(|r| r.1[0]).collect::<Vec<_>>()),
        Column::new("total_conversion_value".into(), rows.iter().map(|r| r.1[1]).collect::<Vec<_>>()),
        Column::new("total_null".into(), rows.iter().map(|r| r.1[2]).collect::<Vec<_>>()),
    ])?)
}
