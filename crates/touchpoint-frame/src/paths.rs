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
    short: ShortNames,
    /// The table's one KPI, when no column names each row's.
    table_kpi: Option<u32>,
    /// The channel ids of the row being read.
    ids: Vec<u32>,
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
        Ok(PathRows { b, opts, sep_byte, short: Default::default(), table_kpi, ids: Vec::new() })
    }

    /// Touches in a path (separators + 1), for reserving room.
    fn touches_in(&self, path: &str) -> usize {
        match self.sep_byte {
            Some(s) => memchr_count(s, path.as_bytes()) + 1,
            None => path.matches(self.opts.sep.as_str()).count() + 1,
        }
    }

    /// The id of the channel named by one piece of a path, trimmed of whitespace (Unicode
    /// whitespace, NBSP included, as in event logs; ASCII first, which is all there is almost always).
    /// Known short names take a lookup, inlined; others are interned (and checked) once, out of line,
    /// so that the hot path does not return the cold path's large `Result` through memory.
    #[inline(always)]
    fn name_id(&mut self, piece: &str, pos: usize, row: usize) -> Result<u32> {
        match short_key(trim(piece)).and_then(|k| self.short.get(k)) {
            Some(id) => Ok(id),
            None => self.new_name_id(piece, pos, row),
        }
    }

    #[cold]
    #[inline(never)]
    fn new_name_id(&mut self, piece: &str, pos: usize, row: usize) -> Result<u32> {
        let name = trim(piece);
        let id = match self.b.known_player_id(Dimension::Channel, name) {
            Some(id) => id,
            None if name.is_empty() => {
                return Err(touchpoint_core::Error::EmptyTouch { row, position: pos + 1 }.into());
            }
            None => self.b.player_id(Dimension::Channel, name, row)?,
        };
        if let Some(k) = short_key(name) {
            self.short.insert(k, id);
        }
        Ok(id)
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
        // Names are found first (a refused one leaves the builder untouched), then pushed at once.
        let mut ids = std::mem::take(&mut self.ids);
        ids.clear();
        let found = match self.sep_byte {
            // A one-byte separator: a byte scan per short name rather than a substring search.
            Some(sep) => {
                let bytes = path.as_bytes();
                let (mut start, mut pos) = (0, 0);
                loop {
                    let end = find_byte(bytes, start, sep);
                    match self.name_id(&path[start..end], pos, row) {
                        Ok(id) => ids.push(id),
                        Err(e) => break Err(e),
                    }
                    if end == bytes.len() {
                        break Ok(());
                    }
                    (start, pos) = (end + 1, pos + 1);
                }
            }
            None => path.split(opts.sep.as_str()).enumerate().try_for_each(|(pos, part)| {
                ids.push(self.name_id(part, pos, row)?);
                Ok(())
            }),
        };
        if found.is_ok() {
            self.b.push_channels(&ids);
        }
        self.ids = ids;
        found?;
        match weights() {
            Ok(w) => Ok(self.b.finish_journey(row, kpi, w, None)?),
            Err(e) => {
                self.b.discard_pending();
                Err(e)
            }
        }
    }
}

/// The fields of `line` split at every `delim` (an ASCII byte) into `fields`: how many there are, or
/// `None` when there are more than `fields` holds. Delimiters are found by [`find_byte`], eight bytes
/// at a time (no call per field, as a `memchr` per field would make).
#[inline]
fn split_fields<'a>(line: &'a str, delim: u8, fields: &mut [&'a str; 16]) -> Option<usize> {
    debug_assert!(delim.is_ascii());
    let bytes = line.as_bytes();
    let mut from = 0;
    for (n, field) in fields.iter_mut().enumerate() {
        let at = find_byte(bytes, from, delim);
        *field = &line[from..at];
        if at == bytes.len() {
            return Some(n + 1);
        }
        from = at + 1;
    }
    None
}

/// The high bit of every byte of `word` that equals `byte`, and no other bit: a zero-byte test of
/// `word ^ byte * 0x01..01` exact in every byte (no borrow crosses bytes), as in "Bit Twiddling Hacks"
/// (Sean Eron Anderson, "Determine if a word has a zero byte").
#[inline]
fn byte_mask(word: u64, byte: u8) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let x = word ^ (0x0101_0101_0101_0101 * u64::from(byte));
    !(((x & LOW7) + LOW7) | x | LOW7)
}

/// The position of the first `byte` (ASCII) in `bytes` from `from` on, or `bytes.len()`: eight bytes
/// at a time (a name is found in the first word, mostly), the tail byte by byte.
#[inline]
fn find_byte(bytes: &[u8], from: usize, byte: u8) -> usize {
    let mut i = from;
    while let Some(word) = bytes.get(i..i + 8) {
        let hits = byte_mask(u64::from_le_bytes(word.try_into().expect("8 bytes")), byte);
        if hits != 0 {
            return i + (hits.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    bytes[i.min(bytes.len())..].iter().position(|&c| c == byte).map_or(bytes.len(), |k| i + k)
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
    let header = reader.headers().map_err(|e| Error::Read { path: shown.clone(), message: e.to_string() })?;
    let header: Vec<String> = header.iter().map(|h| h.trim_start_matches('\u{feff}').to_owned()).collect();
    check_header(&header).map_err(|e| with_path(e, &shown))?;
    Ok(header)
}

/// Reads a path table from a CSV file straight into journeys, streaming its records (no DataFrame in
/// between): what the command line does with `--paths FILE.csv`. Columns are found by name in the
/// header (`opts`, with the defaults that may be absent dropped as by
/// [`PathOptions::tolerate_default_absences`]); numbers are parsed with errors naming their row, as
/// [`journeys_from_paths`] reads text columns; the result is the same journeys.
pub fn journeys_from_path_csv(path: &Path, opts: &PathOptions) -> Result<Journeys> {
    use std::io::Read;
    let shown = path.display().to_string();
    let read_err = |e: &dyn std::fmt::Display| Error::Read { path: shown.clone(), message: e.to_string() };
    if !path.is_file() {
        let message = if path.exists() { "not a file" } else { "no such file" };
        return Err(Error::Read { path: shown.clone(), message: message.into() });
    }
    // The header from the file's first block (all of it when the header does not end there).
    let mut file = std::fs::File::open(path).map_err(|e| read_err(&e))?;
    let size = file.metadata().map_err(|e| read_err(&e))?.len();
    let mut head = Vec::with_capacity(1 << 16);
    (&mut file).take(1 << 16).read_to_end(&mut head).map_err(|e| read_err(&e))?;
    let header_in = |bytes: &[u8]| -> Result<(Vec<String>, usize)> {
        let mut reader =
            csv::ReaderBuilder::new().delimiter(opts.delimiter).has_headers(true).from_reader(bytes);
        let header = reader.headers().map_err(|e| read_err(&e))?;
        let header = header.iter().map(|h| h.trim_start_matches('\u{feff}').to_owned()).collect();
        Ok((header, reader.position().byte() as usize))
    };
    let (mut header, mut body_start) = header_in(&head)?;
    let mut whole = None;
    if head.len() as u64 >= size {
        whole = Some(head);
    } else if body_start >= head.len() {
        let bytes = std::fs::read(path).map_err(|e| read_err(&e))?;
        (header, body_start) = header_in(&bytes)?;
        whole = Some(bytes);
    }
    check_header(&header).map_err(|e| with_path(e, &shown))?;
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
        fields: header.len(),
    };
    // Large files are read in byte ranges on every core, each through a small buffer (the file is
    // never whole in memory), then merged in order (vocabularies in first-seen order, as a sequential
    // read gives them). That takes records of one line without quotes; anything else, and any error
    // (whose row a range cannot know), is read again below with the csv reader.
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get()).min(8);
    let start = body_start as u64;
    // Records the hand-split cannot take (a delimiter beyond ASCII, more than 16 fields) and an empty
    // separator go to the reader below at once, not through every chunk.
    let by_hand = opts.delimiter.is_ascii() && layout.fields <= 16 && !opts.sep.is_empty();
    if whole.is_none() && by_hand && threads > 1 && size.saturating_sub(start) >= 1 << 20 {
        if let Some(read) = read_csv_chunks(path, start, size, threads, &layout, opts) {
            return read;
        }
    }
    let bytes = match whole {
        Some(bytes) => bytes,
        None => std::fs::read(path).map_err(|e| read_err(&e))?,
    };
    let body = &bytes[body_start.min(bytes.len())..];
    // The body's line 1 is the file's line after the header's (a quoted header may span lines).
    let header_lines = memchr::memchr_iter(b'\n', &bytes[..body_start.min(bytes.len())]).count() as u64;
    read_csv_part(body, header_lines, &layout, opts).map_err(|e| with_path(e, &shown))
}

/// A column named twice in a header is refused: which of the two a reader takes is arbitrary (polars
/// renames the second, a lookup by name finds the first), so the table would be read silently wrong.
pub fn check_header(header: &[String]) -> Result<()> {
    for (i, h) in header.iter().enumerate() {
        if let Some(j) = header[..i].iter().position(|o| o == h) {
            return Err(Error::ColumnType {
                column: h.clone(),
                expected: "named once in the header",
                found: format!("columns {} and {}", j + 1, i + 1),
            });
        }
    }
    Ok(())
}

/// The first line of the file at `path` that is not UTF-8 text, as a message ("line 5: not UTF-8
/// text, at byte 3 of the line"), or `None` when the whole file is UTF-8: for readers (polars) whose
/// own error names no line.
pub fn first_non_utf8_line(path: &Path) -> Result<Option<String>> {
    let bytes = std::fs::read(path)
        .map_err(|e| Error::Read { path: path.display().to_string(), message: e.to_string() })?;
    Ok(std::str::from_utf8(&bytes).err().map(|e| {
        let at = e.valid_up_to();
        let line_start = memchr::memrchr(b'\n', &bytes[..at]).map_or(0, |i| i + 1);
        let line = memchr::memchr_iter(b'\n', &bytes[..at]).count() + 1;
        format!("line {line}: not UTF-8 text, at byte {} of the line", at - line_start + 1)
    }))
}

/// A csv reader's error in the file's terms: the line the fault is on (the reader counts from the
/// body's first line, after `header_lines` of header).
fn csv_error(e: &csv::Error, header_lines: u64) -> Error {
    let line = |p: &csv::Position| p.line() + header_lines;
    let message = match e.kind() {
        csv::ErrorKind::Utf8 { pos: Some(p), err } => {
            format!("line {}: field {} is not UTF-8 text", line(p), err.field() + 1)
        }
        csv::ErrorKind::UnequalLengths { pos: Some(p), expected_len, len } => {
            format!("line {}: {len} fields where the header has {expected_len}", line(p))
        }
        _ => e.to_string(),
    };
    Error::Read { path: String::new(), message }
}

/// Where the columns of a CSV path table are.
struct CsvLayout {
    path: usize,
    conversions: usize,
    value: Option<usize>,
    nulls: Option<usize>,
    kpi: Option<usize>,
    /// Fields in the header.
    fields: usize,
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

/// Reads the records of a CSV body (no header) whose first record is row 1; `header_lines` lines of
/// header precede it in the file (errors of the csv reader name the file's line).
fn read_csv_part(part: &[u8], header_lines: u64, layout: &CsvLayout, opts: &PathOptions) -> Result<Journeys> {
    if one_line_records(part) {
        let mut rows = PathRows::new(opts, layout.kpi.is_some())?;
        let lines = part.strip_suffix(b"\n").unwrap_or(part);
        let lines = std::str::from_utf8(lines).unwrap_or_default();
        let mut from = 0;
        let ends = memchr::memchr_iter(b'\n', lines.as_bytes()).chain(std::iter::once(lines.len()));
        let all = ends.enumerate().try_for_each(|(i, end)| {
            let line = &lines[from..end];
            from = end + 1;
            match simple_record(&mut rows, line, i + 1, layout) {
                Some(Ok(())) => Ok(()),
                Some(Err(e)) => Err(Some(e)),
                None => Err(None),
            }
        });
        match all {
            Ok(()) => return Ok(rows.b.build()),
            Err(Some(e)) => return Err(e),
            // An irregular record, which the csv reader below names.
            Err(None) => {}
        }
    }
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(opts.delimiter)
        .has_headers(false)
        .flexible(false)
        .from_reader(part);
    let mut rows = PathRows::new(opts, layout.kpi.is_some())?;
    let number = |record: &csv::StringRecord, col: usize, name: &str, row: usize| -> Result<f64> {
        match record.get(col).map(str::trim) {
            None | Some("") => Err(Error::NullValue { column: name.to_owned(), table: None, row }),
            Some(t) => parse_number(t).ok_or_else(|| Error::Number {
                column: name.to_owned(),
                row,
                value: t.to_owned(),
            }),
        }
    };
    let mut record = csv::StringRecord::new();
    let mut row = 0;
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_error(&e, header_lines)),
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

/// One record of a CSV body whose records are each one line without quotes (see
/// [`one_line_records`]), split by hand: a field is the bytes between two delimiters, as the csv
/// reader reads them there, at a fraction of its cost. `None` (read the file with the csv reader,
/// whose errors then name the fault) when the line is empty, is not UTF-8 or does not have the
/// header's number of fields.
fn simple_record(rows: &mut PathRows<'_>, line: &str, row: usize, layout: &CsvLayout) -> Option<Result<()>> {
    let opts = rows.opts;
    if line.is_empty() || !opts.delimiter.is_ascii() {
        return None;
    }
    let mut fields = [""; 16];
    if split_fields(line, opts.delimiter, &mut fields) != Some(layout.fields) {
        return None;
    }
    let number = |col: usize, name: &str| -> Result<f64> {
        match trim(fields[col]) {
            "" => Err(Error::NullValue { column: name.to_owned(), table: None, row }),
            t => parse_number(t).ok_or_else(|| Error::Number {
                column: name.to_owned(),
                row,
                value: t.to_owned(),
            }),
        }
    };
    let text = |col: usize| Some(fields[col]).filter(|t| !t.is_empty());
    let weights = || -> Result<Weights> {
        Ok(Weights {
            conversions: number(layout.conversions, &opts.conversions)?,
            value: match layout.value {
                Some(c) => number(c, opts.value.as_deref().unwrap_or_default())?,
                None => 0.0,
            },
            nulls: match layout.nulls {
                Some(c) => number(c, opts.nulls.as_deref().unwrap_or_default())?,
                None => 0.0,
            },
        })
    };
    Some(rows.push(row, text(layout.path), layout.kpi.map(text), weights))
}

/// Bytes a range reader reads at once (its buffer grows for a longer record).
const READ_BLOCK: usize = 1 << 17;

/// The body of a large CSV file (`start..size`) read on `threads` threads in chunks, or `None` when a
/// chunk needs the csv reader (see [`read_csv_range`]).
///
/// One thread claims chunks from the front and reads them all into one store; the others claim chunks
/// from the back, each into a store of its own, until the two ends meet. A slower core then reads
/// fewer chunks instead of holding the rest up, and only the chunks read from the back are copied
/// when the stores are merged in file order.
fn read_csv_chunks(
    path: &Path,
    start: u64,
    size: u64,
    threads: usize,
    layout: &CsvLayout,
    opts: &PathOptions,
) -> Option<Result<Journeys>> {
    let chunks = 8 * threads as u64;
    let bounds: Vec<u64> = (0..=chunks).map(|c| start + (size - start) * c / chunks).collect();
    // Chunks not yet claimed: `front..back`.
    let unclaimed = std::sync::Mutex::new((0, chunks as usize));
    // A chunk that fails sends the whole file to the csv reader: nothing more is claimed then.
    let claim = |from_front: bool, failed: bool| {
        let mut ends = unclaimed.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if failed {
            ends.1 = ends.0;
        }
        if ends.0 >= ends.1 {
            return None;
        }
        Some(if from_front {
            ends.0 += 1;
            ends.0 - 1
        } else {
            ends.1 -= 1;
            ends.1
        })
    };
    let range = |c: usize| (bounds[c], bounds[c + 1]);
    // Room for the most `bytes` can hold (a touch takes at least two bytes, a record two per field),
    // reserved up front: untouched room costs address space only, and the columns are never copied
    // to grow. A back store reserves for its chunk; the front one, which reads half the chunks or more
    // and takes the back ones in the merge, for the whole body. Capped, so that a huge file asks for
    // no more address space than a machine grants.
    let reserve = |rows: &mut PathRows<'_>, bytes: u64| {
        let bytes = bytes as usize + 1;
        rows.b.reserve((bytes / (2 * layout.fields)).min(1 << 22), (bytes / 2).min(1 << 24));
    };
    type Part = Option<Result<Journeys>>;
    let (front, mut back): (Part, Vec<(usize, Part)>) = std::thread::scope(|scope| {
        let backs: Vec<_> = (1..threads)
            .map(|_| {
                scope.spawn(|| {
                    let (mut parts, mut buf) = (Vec::new(), vec![0u8; READ_BLOCK]);
                    while let Some(c) = claim(false, false) {
                        let part = PathRows::new(opts, layout.kpi.is_some()).map_or_else(
                            |e| Some(Err(e)),
                            |mut rows| {
                                reserve(&mut rows, (size - start).div_ceil(chunks));
                                let read = read_csv_range(path, start, range(c), layout, &mut rows, &mut buf);
                                read.map(|r| r.map(|()| rows.b.build()))
                            },
                        );
                        let failed = !matches!(part, Some(Ok(_)));
                        parts.push((c, part));
                        if failed {
                            claim(false, true);
                            break;
                        }
                    }
                    parts
                })
            })
            .collect();
        let mut rows = match PathRows::new(opts, layout.kpi.is_some()) {
            Ok(rows) => rows,
            Err(e) => return (Some(Err(e)), Vec::new()),
        };
        reserve(&mut rows, size - start);
        let (mut front, mut buf) = (Some(Ok(())), vec![0u8; READ_BLOCK]);
        while let Some(c) = claim(true, false) {
            front = read_csv_range(path, start, range(c), layout, &mut rows, &mut buf);
            if !matches!(front, Some(Ok(()))) {
                claim(true, true);
                break;
            }
        }
        let back = backs.into_iter().flat_map(|h| h.join().expect("reader thread")).collect();
        (front.map(|r| r.map(|()| rows.b.build())), back)
    });
    let mut merged = match front? {
        Ok(j) => j,
        Err(_) => return None,
    };
    back.sort_by_key(|(c, _)| *c);
    for (_, part) in back {
        match part? {
            Ok(part) => match merged.merge(part) {
                Ok(m) => merged = m,
                Err(e) => return Some(Err(e.into())),
            },
            Err(_) => return None,
        }
    }
    Some(Ok(merged))
}

/// Reads the records whose first byte lies in `[from, to)` of the file at `path` (whose body starts
/// at `body_start`) into `rows`, in blocks through `buf` with [`simple_record`]. Errors name rows
/// counted from the range's start, so the caller reads the file again to name them right: any
/// `Err`, like `None` (a quote, a carriage return, an irregular record), sends it to the csv reader.
fn read_csv_range(
    path: &Path,
    body_start: u64,
    (from, to): (u64, u64),
    layout: &CsvLayout,
    rows: &mut PathRows<'_>,
    buf: &mut Vec<u8>,
) -> Option<Result<()>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path).ok()?;
    // A range after the first starts one byte early and skips through that byte's line, so a record
    // starting exactly at `from` is its own.
    let first = from == body_start;
    let mut offset = if first { from } else { from - 1 };
    file.seek(SeekFrom::Start(offset)).ok()?;
    let mut skipping = !first;
    let (mut filled, mut row) = (0, 0);
    loop {
        let n = file.read(&mut buf[filled..]).ok()?;
        if memchr::memchr2(b'"', b'\r', &buf[filled..filled + n]).is_some() {
            return None;
        }
        filled += n;
        let mut at = 0;
        if skipping {
            match memchr::memchr(b'\n', &buf[..filled]) {
                Some(p) => (at, skipping) = (p + 1, false),
                // The range lies inside the file's last record, another range's.
                None if n == 0 => return Some(Ok(())),
                None => {
                    (offset, filled) = (offset + filled as u64, 0);
                    continue;
                }
            }
        }
        // The whole records in the buffer (and at the end of the file, a last one without a line
        // break), checked as text at once: line breaks are never inside a character.
        let end = match n {
            0 => filled,
            _ => memchr::memrchr(b'\n', &buf[at..filled]).map_or(at, |p| at + p + 1),
        };
        let text = std::str::from_utf8(&buf[at..end]).ok()?;
        let mut from = 0;
        let breaks = memchr::memchr_iter(b'\n', text.as_bytes());
        let last = (n == 0 && !text.ends_with('\n') && !text.is_empty()).then_some(text.len());
        for stop in breaks.chain(last) {
            if offset + (at + from) as u64 >= to {
                return Some(Ok(()));
            }
            row += 1;
            if let Err(e) = simple_record(rows, &text[from..stop], row, layout)? {
                return Some(Err(e));
            }
            from = stop + 1;
        }
        if n == 0 {
            return Some(Ok(()));
        }
        buf.copy_within(end..filled, 0);
        (offset, filled) = (offset + end as u64, filled - end);
        if filled == buf.len() {
            buf.resize(2 * buf.len(), 0);
        }
    }
}

/// `text` trimmed of whitespace: ASCII first, Unicode's (NBSP included) when a non-ASCII byte is left
/// at either end.
#[inline]
fn trim(text: &str) -> &str {
    let t = text.trim_ascii();
    match (t.as_bytes().first(), t.as_bytes().last()) {
        (Some(&a), Some(&z)) if a >= 0x80 || z >= 0x80 => t.trim(),
        _ => t,
    }
}

/// A number of a CSV field: whole numbers of up to 15 digits (counts, often written `88593.0`) by hand,
/// exactly, the rest by `str::parse`.
#[inline]
fn parse_number(t: &str) -> Option<f64> {
    let b = t.as_bytes();
    let int_end = b.iter().position(|c| !c.is_ascii_digit()).unwrap_or(b.len());
    let rest = &b[int_end..];
    if (1..=15).contains(&int_end)
        && (rest.is_empty() || (rest[0] == b'.' && rest[1..].iter().all(|&c| c == b'0')))
    {
        let n = b[..int_end].iter().fold(0u64, |n, &c| n * 10 + u64::from(c - b'0'));
        return Some(n as f64);
    }
    t.parse::<f64>().ok()
}

/// Player ids by [`short_key`]: an open-addressing table probed linearly, at most half full, whose
/// empty slots hold key 0 (the key of the empty name, never stored). Cheaper per lookup than a general
/// hash map, which is what a path table's reader does for every touch.
#[derive(Debug)]
struct ShortNames {
    slots: Vec<(u128, u32)>,
    len: usize,
}

impl Default for ShortNames {
    fn default() -> Self {
        ShortNames { slots: vec![(0, 0); 64], len: 0 }
    }
}

impl ShortNames {
    #[inline]
    fn slot(&self, key: u128) -> usize {
        let mixed = (key as u64 ^ (key >> 64) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (mixed >> (64 - self.slots.len().trailing_zeros())) as usize
    }

    #[inline]
    fn get(&self, key: u128) -> Option<u32> {
        let mask = self.slots.len() - 1;
        let mut i = self.slot(key);
        loop {
            match self.slots[i] {
                (0, _) => return None,
                (k, id) if k == key => return Some(id),
                _ => i = (i + 1) & mask,
            }
        }
    }

    fn insert(&mut self, key: u128, id: u32) {
        debug_assert!(key != 0, "the empty name is never stored");
        if 2 * (self.len + 1) > self.slots.len() {
            let grown = vec![(0, 0); 2 * self.slots.len()];
            let old = std::mem::replace(&mut self.slots, grown);
            self.len = 0;
            for (k, v) in old.into_iter().filter(|s| s.0 != 0) {
                self.insert(k, v);
            }
        }
        let mask = self.slots.len() - 1;
        let mut i = self.slot(key);
        while self.slots[i].0 != 0 && self.slots[i].0 != key {
            i = (i + 1) & mask;
        }
        if self.slots[i].0 == 0 {
            self.len += 1;
        }
        self.slots[i] = (key, id);
    }
}

/// A name of at most 15 bytes packed with its length into one integer (a map key that needs no text
/// comparison); `None` for longer names. Built from whole-word reads (two overlapping ones for the
/// tail) rather than a copy into a stack buffer, which a wide read of it would stall on.
#[inline]
fn short_key(name: &str) -> Option<u128> {
    let b = name.as_bytes();
    let n = b.len();
    let word = |at: usize| u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"));
    let half = |at: usize| u64::from(u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes")));
    // Bytes `0..n` of the name in the low `n` bytes of (lo, hi), zero above; the length in the top byte.
    let (lo, hi) = match n {
        0 => (0, 0),
        1..=3 => {
            let lo = (0..n).fold(0u64, |k, i| k | u64::from(b[i]) << (8 * i));
            (lo, 0)
        }
        4..=7 => (half(0) | (half(n - 4) >> (8 * (8 - n))) << 32, 0),
        8 => (word(0), 0),
        9..=15 => (word(0), word(n - 8) >> (8 * (16 - n))),
        _ => return None,
    };
    Some(u128::from(lo) | u128::from(hi) << 64 | (n as u128) << 120)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The packed key of every length up to 15 equals the plain one (the name copied into 16 zeroed
    /// bytes, its length in the last), so no two names share a key.
    /// Fields split eight bytes at a time are what `str::split` gives, for delimiters at every place in
    /// and around a word, around multi-byte characters, and up to the 16 fields a record may have; a
    /// byte found eight bytes at a time is where a byte-by-byte search finds it.
    #[test]
    fn fields_split_as_str_split_does() {
        let alphabet = ["a", ",", "é", ";", ",,", "xyz"];
        let mut state = 99u64;
        let mut next = |m: u64| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) % m
        };
        let mut lines: Vec<String> = (0..40).map(|n| ",".repeat(n)).collect();
        lines.extend((0..40).map(|n| "a".repeat(n) + ","));
        lines.extend((0..3000).map(|_| (0..next(30)).map(|_| alphabet[next(6) as usize]).collect()));
        for line in &lines {
            for delim in [b',', b';'] {
                let expected: Vec<&str> = line.split(delim as char).collect();
                let mut fields = [""; 16];
                let got = split_fields(line, delim, &mut fields);
                match expected.len() {
                    n if n <= 16 => assert_eq!((got, &fields[..n]), (Some(n), &expected[..]), "{line:?}"),
                    _ => assert_eq!(got, None, "{line:?}"),
                }
            }
        }
        for line in &lines {
            for from in 0..=line.len() {
                let expected =
                    line.as_bytes()[from..].iter().position(|&c| c == b',').map_or(line.len(), |k| from + k);
                assert_eq!(find_byte(line.as_bytes(), from, b','), expected, "{line:?} from {from}");
            }
        }
        for (word, byte) in [(u64::MAX, 0xffu8), (0, 0), (0x8000_0000_0000_0001, 0x80), (0x0101, 1)] {
            let expected =
                (0..8).filter(|k| (word >> (8 * k)) as u8 == byte).fold(0u64, |m, k| m | 0x80 << (8 * k));
            assert_eq!(byte_mask(word, byte), expected);
        }
    }

    #[test]
    fn short_keys_pack_name_and_length() {
        let text = "abcdéfghijklmnopq";
        for n in 0..=text.len() {
            let Some(name) = text.get(..n) else { continue };
            let mut buf = [0u8; 16];
            let expected = (n <= 15).then(|| {
                buf[..n].copy_from_slice(name.as_bytes());
                buf[15] = n as u8;
                u128::from_le_bytes(buf)
            });
            assert_eq!(short_key(name), expected, "{name:?}");
        }
        assert_ne!(short_key("ab"), short_key("ab\0"));
    }

    /// The short-name table answers as a map does, across its growth.
    #[test]
    fn short_names_answer_as_a_map() {
        let mut table = ShortNames::default();
        let mut map = std::collections::HashMap::new();
        for i in 0..1000u32 {
            let name = format!("c{}", i * 7919 % 1000);
            let key = short_key(&name).unwrap();
            table.insert(key, i);
            map.insert(key, i);
            let probe = short_key(&format!("c{}", i * 31 % 1500)).unwrap();
            assert_eq!(table.get(probe), map.get(&probe).copied());
        }
        assert_eq!(table.len, map.len());
        assert_eq!(table.get(short_key("").unwrap()), None);
    }

    #[test]
    fn whole_numbers_parse_as_the_standard_parser_does() {
        for t in [
            "0",
            "7",
            "007",
            "88593.0",
            "88593.000",
            "1.",
            "123456789012345",
            "1234567890123456",
            "2.5",
            "1e3",
            "-0",
        ] {
            assert_eq!(parse_number(t), t.parse::<f64>().ok(), "{t}");
        }
        for t in ["", ".", "1.0x", "x", "1..0", "+"] {
            assert_eq!(parse_number(t), t.parse::<f64>().ok(), "{t}");
        }
    }
}
