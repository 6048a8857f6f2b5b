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
    let mut rows = PathRows::new(opts, cols.kpis.is_some())?;
    // Room for every touch at once: separators + 1 per path.
    let touches: usize = paths.iter().flatten().map(|p| rows.touches_in(p)).sum();
    rows.b.reserve(paths.len(), touches);
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
    for (k, path) in paths.iter().enumerate() {
        let i = offset + k;
        let row = i + 1;
        let weights = || -> Result<Weights> {
            let conversions = cols.convs[i].ok_or_else(|| Error::NullValue {
                column: opts.conversions.clone(),
                table: None,
                row,
            })?;
            Ok(Weights {
                conversions,
                value: num(cols.values, &opts.value, i)?,
                nulls: num(cols.nulls, &opts.nulls, i)?,
            })
        };
        rows.push(row, path, cols.kpis.map(|k| k[i]), weights)?;
    }
    Ok(rows.b.build())
}

/// Turns path-table rows into journeys: the row logic shared by the DataFrame and the CSV readers.
struct PathRows<'o> {
    b: JourneysBuilder,
    opts: &'o PathOptions,
    sep_byte: Option<u8>,
    /// Short names (almost all) are found by a 128-bit key, without hashing or comparing text.
    short: touchpoint_util::hashing::FastMap<u128, u32>,
    /// The table's one KPI, when no column names each row's.
    table_kpi: Option<u32>,
}

impl<'o> PathRows<'o> {
    fn new(opts: &'o PathOptions, kpi_column: bool) -> Result<Self> {
        if opts.sep.is_empty() {
            return Err(Error::InvalidOption {
                option: "sep",
                value: opts.sep.clone(),
                reason: "the path separator must not be empty".into(),
            });
        }
        let sep_byte = match opts.sep.as_bytes() {
            [b] if b.is_ascii() => Some(*b),
            _ => None,
        };
        let mut b = JourneysBuilder::new(&[]);
        let table_kpi = (!kpi_column).then(|| b.kpi_id(&opts.kpi));
        Ok(PathRows { b, opts, sep_byte, short: Default::default(), table_kpi })
    }

    /// Touches in a path (separators + 1), for reserving room.
    fn touches_in(&self, path: &str) -> usize {
        match self.sep_byte {
            Some(s) => memchr_count(s, path.as_bytes()) + 1,
            None => path.matches(self.opts.sep.as_str()).count() + 1,
        }
    }

    /// One row: its path, its KPI (when the table has a KPI column) and its weights (read only when
    /// the path is good, so errors come in column order).
    fn push(
        &mut self,
        row: usize,
        path: Option<&str>,
        kpi: Option<Option<&str>>,
        weights: impl FnOnce() -> Result<Weights>,
    ) -> Result<()> {
        let opts = self.opts;
        let path = path.ok_or_else(|| Error::NullValue { column: opts.path.clone(), table: None, row })?;
        if path.trim().is_empty() {
            return Err(touchpoint_core::Error::EmptyPath { row }.into());
        }
        let kpi = match (self.table_kpi, kpi) {
            (Some(k), _) => k,
            (None, Some(name)) => match name.map(str::trim) {
                Some(name) if !name.is_empty() => self.b.kpi_id(name),
                _ => {
                    let column = opts.kpi_column.clone().unwrap_or_default();
                    return Err(Error::NullValue { column, table: None, row });
                }
            },
            (None, None) => unreachable!("a KPI column or the table's KPI"),
        };
        // A one-byte separator splits by `char` (a memchr scan) rather than by substring search;
        // known names take the lookup-only path, new ones are interned (and checked) once.
        let (b, short) = (&mut self.b, &mut self.short);
        let mut bad = None;
        let mut push = |pos: usize, part: &str| -> bool {
            // Unicode whitespace (NBSP included) is trimmed, as in event logs; ASCII first, which is
            // all there is almost always.
            let name = part.trim_ascii();
            let name = match (name.as_bytes().first(), name.as_bytes().last()) {
                (Some(&a), Some(&z)) if a >= 0x80 || z >= 0x80 => name.trim(),
                _ => name,
            };
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
        let complete = match self.sep_byte {
            Some(ch) => path.split(ch as char).enumerate().all(|(pos, part)| push(pos, part)),
            None => path.split(opts.sep.as_str()).enumerate().all(|(pos, part)| push(pos, part)),
        };
        if !complete {
            self.b.discard_pending();
            return Err(bad.expect("set when a touch is refused").into());
        }
        match weights() {
            Ok(w) => Ok(self.b.finish_journey(row, kpi, w, None)?),
            Err(e) => {
                self.b.discard_pending();
                Err(e)
            }
        }
    }
}

/// Occurrences of `byte` in `bytes`.
fn memchr_count(byte: u8, bytes: &[u8]) -> usize {
    memchr::memchr_iter(byte, bytes).count()
}

/// The column names in the header of a CSV file.
pub fn csv_header(path: &Path, delimiter: u8) -> Result<Vec<String>> {
    let shown = path.display().to_string();
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .from_path(path)
        .map_err(|e| Error::Read { path: shown.clone(), message: e.to_string() })?;
    let header = reader.headers().map_err(|e| Error::Read { path: shown, message: e.to_string() })?;
    Ok(header.iter().map(|h| h.trim_start_matches('\u{feff}').to_owned()).collect())
}

/// Reads a path table from a CSV file straight into journeys, streaming its records (no DataFrame in
/// between): what the command line does with `--paths FILE.csv`. Columns are found by name in the
/// header (`opts`, with the defaults that may be absent dropped as by
/// [`PathOptions::tolerate_default_absences`]); numbers are parsed with errors naming their row, as
/// [`journeys_from_paths`] reads text columns; the result is the same journeys.
pub fn journeys_from_path_csv(path: &Path, opts: &PathOptions) -> Result<Journeys> {
    let shown = path.display().to_string();
    let read_err = |e: &dyn std::fmt::Display| Error::Read { path: shown.clone(), message: e.to_string() };
    if !path.is_file() {
        let message = if path.exists() { "not a file" } else { "no such file" };
        return Err(Error::Read { path: shown.clone(), message: message.into() });
    }
    let bytes = std::fs::read(path).map_err(|e| read_err(&e))?;
    let mut reader =
        csv::ReaderBuilder::new().delimiter(opts.delimiter).has_headers(true).from_reader(&bytes[..]);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| read_err(&e))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_owned())
        .collect();
    let body_start = reader.position().byte() as usize;
    let find = |name: &str| header.iter().position(|h| h == name);
    let missing = |column: &str| Error::MissingColumn {
        column: column.to_owned(),
        table: None,
        available: header.iter().map(|h| format!("`{h}`")).collect::<Vec<_>>().join(", "),
    };
    let optional = |name: &Option<String>, default: &str| -> Result<Option<usize>> {
        match name.as_deref() {
            None => Ok(None),
            Some(n) => match find(n) {
                Some(i) => Ok(Some(i)),
                None if n == default => Ok(None),
                None => Err(missing(n)),
            },
        }
    };
    let layout = CsvLayout {
        path: find(&opts.path).ok_or_else(|| missing(&opts.path))?,
        conversions: find(&opts.conversions).ok_or_else(|| missing(&opts.conversions))?,
        value: optional(&opts.value, "total_conversion_value")?,
        nulls: optional(&opts.nulls, "total_null")?,
        kpi: optional(&opts.kpi_column, "kpi")?,
    };
    let body = &bytes[body_start.min(bytes.len())..];
    // Large files are read in line-aligned parts on every core, then merged (vocabularies in
    // first-seen order, as a sequential read gives them). Only when every record is one line: no
    // quotes (a quoted field may hold a line break), no blank or carriage-return-ended lines, so
    // that a part's first row number is the count of line breaks before it.
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get()).min(8);
    let simple = body.len() >= 1 << 20 && one_line_records(body);
    if threads <= 1 || !simple {
        return read_csv_part(body, 0, &layout, opts).map_err(|e| with_path(e, &shown));
    }
    let mut cuts = vec![0usize];
    for t in 1..threads {
        let at = body.len() * t / threads;
        let next = body[at..].iter().position(|&b| b == b'\n').map_or(body.len(), |p| at + p + 1);
        if next > *cuts.last().expect("a start") && next < body.len() {
            cuts.push(next);
        }
    }
    cuts.push(body.len());
    // The first row of each part: the line breaks before it.
    let mut first_rows = vec![0usize; cuts.len() - 1];
    for k in 1..first_rows.len() {
        first_rows[k] = first_rows[k - 1] + memchr_count(b'\n', &body[cuts[k - 1]..cuts[k]]);
    }
    let parts: Vec<Result<Journeys>> = std::thread::scope(|scope| {
        let handles: Vec<_> = cuts
            .windows(2)
            .zip(&first_rows)
            .map(|(w, &first_row)| {
                let part = &body[w[0]..w[1]];
                let layout = &layout;
                scope.spawn(move || read_csv_part(part, first_row, layout, opts))
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("reader thread")).collect()
    });
    let mut merged: Option<Journeys> = None;
    for part in parts {
        let part = part.map_err(|e| with_path(e, &shown))?;
        merged = Some(match merged {
            None => part,
            Some(m) => m.merge(part)?,
        });
    }
    Ok(merged.expect("at least one part"))
}

/// Where the columns of a CSV path table are.
struct CsvLayout {
    path: usize,
    conversions: usize,
    value: Option<usize>,
    nulls: Option<usize>,
    kpi: Option<usize>,
}

/// Whether every record of a CSV body is one line: no quote, no carriage return, no empty line.
fn one_line_records(bytes: &[u8]) -> bool {
    memchr::memchr2(b'"', b'\r', bytes).is_none()
        && bytes.first() != Some(&b'\n')
        && memchr::memmem::find(bytes, b"\n\n").is_none()
}

/// A CSV read error names the file.
fn with_path(e: Error, shown: &str) -> Error {
    match e {
        Error::Read { message, .. } => Error::Read { path: shown.to_owned(), message },
        e => e,
    }
}

/// Reads the records of one part of a CSV body (no header) whose first record is row `first_row + 1`.
fn read_csv_part(part: &[u8], first_row: usize, layout: &CsvLayout, opts: &PathOptions) -> Result<Journeys> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(opts.delimiter)
        .has_headers(false)
        .flexible(false)
        .from_reader(part);
    let mut rows = PathRows::new(opts, layout.kpi.is_some())?;
    let number = |record: &csv::StringRecord, col: usize, name: &str, row: usize| -> Result<f64> {
        match record.get(col).map(str::trim) {
            None | Some("") => Err(Error::NullValue { column: name.to_owned(), table: None, row }),
            Some(t) => t.parse::<f64>().map_err(|_| Error::Number {
                column: name.to_owned(),
                row,
                value: t.to_owned(),
            }),
        }
    };
    let mut record = csv::StringRecord::new();
    let mut row = first_row;
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(Error::Read { path: String::new(), message: e.to_string() }),
        }
        row += 1;
        let text = |col: usize| record.get(col).filter(|t| !t.is_empty());
        let weights = || -> Result<Weights> {
            Ok(Weights {
                conversions: number(&record, layout.conversions, &opts.conversions, row)?,
                value: match layout.value {
                    Some(c) => number(&record, c, opts.value.as_deref().unwrap_or_default(), row)?,
                    None => 0.0,
                },
                nulls: match layout.nulls {
                    Some(c) => number(&record, c, opts.nulls.as_deref().unwrap_or_default(), row)?,
                    None => 0.0,
                },
            })
        };
        rows.push(row, text(layout.path), layout.kpi.map(text), weights)?;
    }
    Ok(rows.b.build())
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
