//! The `touchpoint` command: attribution from path tables, printed as a table, CSV or JSON.
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use polars::prelude::{CsvWriter, SerWriter};
use touchpoint_core::{attribute, Dimension, ModelSpec};
use touchpoint_frame::{credits_frame, journeys_from_path_file, PathOptions};

#[derive(Parser, Debug)]
#[command(
    name = "touchpoint",
    version,
    about = "Attribution of business goals to channels, campaigns and people"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Credit conversions and value to players with one or more models.
    Attribute(AttributeArgs),
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    /// Players x models, per KPI.
    Table,
    /// Long format: model, kpi, <by>, conversions, value, share.
    Csv,
    /// The whole result as JSON.
    Json,
}

#[derive(clap::Args, Debug)]
struct AttributeArgs {
    /// Path table (CSV or Parquet) in ChannelAttribution's format.
    #[arg(long)]
    paths: PathBuf,
    /// CSV field delimiter.
    #[arg(long, default_value = ",")]
    delimiter: String,
    /// Separator between touches in a path.
    #[arg(long, default_value = ">")]
    sep: String,
    /// Column of paths.
    #[arg(long, default_value = "path")]
    path_column: String,
    /// Column of conversions.
    #[arg(long, default_value = "total_conversions")]
    conversions_column: String,
    /// Column of conversion values.
    #[arg(long, default_value = "total_conversion_value")]
    value_column: String,
    /// Column of null (non-converting) weights.
    #[arg(long, default_value = "total_null")]
    nulls_column: String,
    /// KPI that the table measures.
    #[arg(long, default_value = "conversions")]
    kpi: String,
    /// Model name or JSON spec (`{"model":"markov","order":3}`); repeat for several.
    #[arg(long = "model", default_values_t = ["first_touch".to_string(), "last_touch".to_string(), "linear".to_string()])]
    models: Vec<String>,
    /// Markov order, for every `markov` given by name.
    #[arg(long)]
    order: Option<u32>,
    /// Player dimension.
    #[arg(long, default_value = "channel")]
    by: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

fn spec(text: &str, order: Option<u32>) -> Result<ModelSpec, touchpoint_core::Error> {
    if text.trim_start().starts_with('{') {
        return ModelSpec::from_json(text);
    }
    match (text, order) {
        ("markov", Some(k)) => ModelSpec::from_json(&format!(r#"{{"model":"markov","order":{k}}}"#)),
        _ => ModelSpec::from_name(text),
    }
}

fn run_attribute(a: &AttributeArgs) -> Result<(), Box<dyn std::error::Error>> {
    let delimiter = match a.delimiter.as_bytes() {
        [b] => *b,
        _ => return Err(format!("--delimiter must be one byte, got {:?}", a.delimiter).into()),
    };
    let opts = PathOptions {
        path: a.path_column.clone(),
        conversions: a.conversions_column.clone(),
        value: Some(a.value_column.clone()),
        nulls: Some(a.nulls_column.clone()),
        sep: a.sep.clone(),
        kpi: a.kpi.clone(),
        delimiter,
    };
    let by: Dimension = a.by.parse()?;
    let specs = a.models.iter().map(|m| spec(m, a.order)).collect::<Result<Vec<_>, _>>()?;
    let journeys = journeys_from_path_file(&a.paths, &opts)?;
    let result = attribute(&journeys, &specs, by)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match a.format {
        Format::Table => {
            write!(out, "{}", result.comparison_table())?;
            for w in &result.warnings {
                eprintln!("warning: {w}");
            }
        }
        Format::Csv => {
            let mut df = credits_frame(&result)?;
            CsvWriter::new(&mut out).include_header(true).finish(&mut df)?;
        }
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &result)?;
            writeln!(out)?;
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match &cli.command {
        Command::Attribute(a) => run_attribute(a),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
