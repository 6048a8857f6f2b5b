//! ChannelAttribution's path tables (`path`, `total_conversions`, `total_conversion_value`,
//! `total_null`) to [`Journeys`] and back, from DataFrames, CSV or Parquet.
use std::path::Path;

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
    /// KPI that every row measures.
    pub kpi: String,
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
            delimiter: b',',
        }
    }
}

impl PathOptions {
    /// Drops the optional columns (value, nulls) that `df` lacks while they have the default names,
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
    let convs = conv_col.f64()?;
    let values = value_col.as_ref().map(|c| c.f64()).transpose()?;
    let nulls = null_col.as_ref().map(|c| c.f64()).transpose()?;

    let mut b = JourneysBuilder::new(&[], false);
    b.reserve(df.height(), df.height() * 4);
    let kpi = b.kpi_id(&opts.kpi);
    let sep = opts.sep.as_str();
    let num = |col: Option<&Float64Chunked>, name: &Option<String>, i: usize| -> Result<f64> {
        match col {
            None => Ok(0.0),
            Some(c) => c.get(i).ok_or_else(|| Error::NullValue {
                column: name.clone().unwrap_or_default(),
                table: None,
                row: i + 1,
            }),
        }
    };
    for i in 0..df.height() {
        let row = i + 1;
        let path =
            paths.get(i).ok_or_else(|| Error::NullValue { column: opts.path.clone(), table: None, row })?;
        if path.trim().is_empty() {
            return Err(touchpoint_core::Error::EmptyPath { row }.into());
        }
        for (pos, part) in path.split(sep).enumerate() {
            let name = part.trim();
            if name.is_empty() {
                b.discard_pending();
                return Err(touchpoint_core::Error::EmptyTouch { row, position: pos + 1 }.into());
            }
            let id = b.player_id(Dimension::Channel, name, row).inspect_err(|_| b.discard_pending())?;
            b.push_channel(id, None);
        }
        let c = convs.get(i).ok_or_else(|| Error::NullValue {
            column: opts.conversions.clone(),
            table: None,
            row,
        });
        let c = c.inspect_err(|_| b.discard_pending())?;
        let v = num(values, &opts.value, i).inspect_err(|_| b.discard_pending())?;
        let n = num(nulls, &opts.nulls, i).inspect_err(|_| b.discard_pending())?;
        b.finish_journey(row, kpi, c, v, n, None)?;
    }
    Ok(b.build())
}

/// Reads a CSV or Parquet file (by extension) lazily into a DataFrame.
pub fn read_table(path: &Path, delimiter: u8) -> Result<DataFrame> {
    let shown = path.display().to_string();
    if !path.exists() {
        return Err(Error::Read { path: shown, message: "no such file".into() });
    }
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or_default().to_ascii_lowercase();
    let pl_path = PlRefPath::new(shown.as_str());
    let lf = match ext.as_str() {
        "csv" | "txt" | "tsv" => LazyCsvReader::new(pl_path)
            .with_separator(delimiter)
            .with_has_header(true)
            .with_infer_schema_length(Some(10_000))
            .finish(),
        "parquet" | "pq" => LazyFrame::scan_parquet(pl_path, ScanArgsParquet::default()),
        _ => return Err(Error::FileType { path: shown }),
    };
    lf.and_then(|lf| lf.collect()).map_err(|e| Error::Read { path: shown, message: e.to_string() })
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
    let joiner = format!(" {} ", sep.trim());
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
