//! The `touchpoint` command: attribution from path tables and event logs, contribution reports,
//! simulations and benchmarks. The binary (`src/main.rs`) and the Python console script
//! (`touchpoint._cli`) both call [`run`].
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand, ValueEnum};
use polars::prelude::{CsvWriter, SerWriter};
use touchpoint_core::{
    attribute, attribute_with_intervals, Attribution, Dimension, GoalBook, Journeys, ModelSpec, Resampling,
    Unattended,
};
use touchpoint_frame::{
    contribution_frame, contribution_summary_frame, journeys_from_events, paths_frame, read_table,
    rows_frame, social_frame, write_journey_credits, EventOptions, PathOptions,
};
use touchpoint_sim::{
    benchmark_with, simulate_with, SimParams, SCENARIO_NAMES, SCORE_COLUMNS, TRUTH_COLUMNS,
};

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
    /// Value an attribution with a goal book: money per player, KPI and function, cost, ROI, social;
    /// writes report.html (the page for the people who decide), contribution.csv,
    /// contribution_summary.csv and contribution.md.
    Report(ReportArgs),
    /// Simulate journeys with a known truth: writes paths.csv (the journeys) and truth.csv / truth.md.
    Simulate(SimulateArgs),
    /// Score every model against simulated truth on named scenarios: writes benchmark.csv / .md.
    Bench(BenchArgs),
    /// Fit a Bayesian media-mix model to a weekly (or daily) table: writes summary.csv,
    /// contributions.csv, parameters.csv and fit.json.
    Mmm(MmmArgs),
    /// Estimate a staggered rollout's effect (Callaway & Sant'Anna): writes group_time.csv,
    /// event_study.csv, by_cohort.csv, by_period.csv and summary.csv, and prints the summary.
    Rollout(RolloutArgs),
    /// Plan the channels of saved media-mix fits (`touchpoint mmm` writes fit.json) across goals
    /// valued by a goal book: writes allocation.csv, outcome.csv, marginal.csv, decision.csv and
    /// plan.json, and prints the outcome.
    Plan(PlanArgs),
}

#[derive(clap::Args, Debug)]
struct RolloutArgs {
    /// The panel (CSV or Parquet), one row per unit and period.
    #[arg(long)]
    panel: PathBuf,
    /// Unit id column.
    #[arg(long)]
    unit: String,
    /// Period column (whole numbers or ISO dates).
    #[arg(long)]
    time: String,
    /// Outcome column.
    #[arg(long)]
    outcome: String,
    /// First-treated-period column (0 or empty: never treated).
    #[arg(long, conflicts_with = "treatment", required_unless_present = "treatment")]
    cohort: Option<String>,
    /// Treatment-level column (0, 1, 2, ... per row), instead of --cohort.
    #[arg(long)]
    treatment: Option<String>,
    /// Time-invariant covariates, comma-separated.
    #[arg(long, value_delimiter = ',')]
    covariates: Vec<String>,
    /// Cluster column for standard errors.
    #[arg(long)]
    cluster: Option<String>,
    /// Comparison units: never or not_yet [default: never].
    #[arg(long)]
    control: Option<String>,
    /// dr (doubly robust) or reg (outcome regression) [default: dr].
    #[arg(long)]
    estimand: Option<String>,
    /// Confidence level [default: 0.95].
    #[arg(long)]
    level: Option<f64>,
    /// Bootstrap draws for simultaneous bands, 0 for none [default: 999].
    #[arg(long)]
    bootstrap: Option<usize>,
    /// Seed of the bootstrap [default: 0].
    #[arg(long)]
    seed: Option<u64>,
    /// With --treatment levels: reached (the effect of reaching each level) or step (of stepping
    /// up to it from the level below, within the units that reached that one together)
    /// [default: reached].
    #[arg(long)]
    levels: Option<String>,
    /// Output folder.
    #[arg(long, default_value = "rollout")]
    out: PathBuf,
}

#[derive(clap::Args, Debug)]
struct MmmArgs {
    /// The table (CSV or Parquet), one row per period.
    #[arg(long)]
    data: PathBuf,
    /// Date column (ISO dates).
    #[arg(long)]
    date: String,
    /// Target column (the goal per period).
    #[arg(long)]
    target: String,
    /// Paid channels (spend columns), comma-separated.
    #[arg(long, value_delimiter = ',')]
    media: Vec<String>,
    /// Organic channels (volume columns), comma-separated.
    #[arg(long, value_delimiter = ',')]
    organic: Vec<String>,
    /// Control columns, comma-separated.
    #[arg(long, value_delimiter = ',')]
    controls: Vec<String>,
    /// Adstock weights (lags 0 to max_lag - 1).
    #[arg(long, default_value_t = 8)]
    max_lag: usize,
    /// Saturation: logistic or hill.
    #[arg(long, default_value = "logistic")]
    saturation: String,
    /// No linear trend.
    #[arg(long)]
    no_trend: bool,
    /// Yearly Fourier pairs (0 for none).
    #[arg(long, default_value_t = 2)]
    seasonality: usize,
    /// Priors as a JSON file (fields of the default priors to override).
    #[arg(long)]
    priors: Option<PathBuf>,
    /// Lift measurements (CSV or Parquet with channel, x, delta_x, delta_y, sigma).
    #[arg(long)]
    lift: Option<PathBuf>,
    /// nuts or map.
    #[arg(long, default_value = "nuts")]
    method: String,
    /// Chains.
    #[arg(long, default_value_t = 4)]
    chains: usize,
    /// Draws kept per chain.
    #[arg(long, default_value_t = 1000)]
    draws: u64,
    /// Tuning draws per chain.
    #[arg(long, default_value_t = 1000)]
    tune: u64,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Interval level.
    #[arg(long, default_value_t = 0.9)]
    level: f64,
    /// Target acceptance rate of the step-size adaptation.
    #[arg(long, default_value_t = 0.8)]
    target_accept: f64,
    /// Threads (default: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Output folder.
    #[arg(long, default_value = "out")]
    out: PathBuf,
}

#[derive(clap::Args, Debug)]
struct PlanArgs {
    /// A saved fit per KPI: `kpi=path/fit.json` (repeat for several goals).
    #[arg(long = "fit", required = true)]
    fits: Vec<String>,
    /// Goal book (TOML or JSON) valuing each KPI; it may hold `unit_costs`.
    #[arg(long)]
    goals: PathBuf,
    /// Money over the horizon (default: the run rate's cost).
    #[arg(long)]
    budget: Option<f64>,
    /// Periods ahead.
    #[arg(long, default_value_t = 13)]
    periods: usize,
    /// Money per unit of an organic channel: `channel=cost` (repeat).
    #[arg(long = "unit-cost")]
    unit_costs: Vec<String>,
    /// Level per period: `channel=min:max` (either side may be empty), or `channel=level` to fix it.
    #[arg(long = "bound")]
    bounds: Vec<String>,
    /// Channels held at their run rate, comma-separated.
    #[arg(long, value_delimiter = ',')]
    lock: Vec<String>,
    /// free or even.
    #[arg(long, default_value = "free")]
    flighting: String,
    /// The least budget reaching `kpi=level` with `--probability` (instead of a budget).
    #[arg(long)]
    target: Option<String>,
    /// For a target: the share of posterior draws that must reach it.
    #[arg(long, default_value_t = 0.5)]
    probability: f64,
    /// `mean`, or a quantile of the value in (0, 1) to maximise.
    #[arg(long, default_value = "mean")]
    risk: String,
    /// Interval level.
    #[arg(long, default_value_t = 0.9)]
    level: f64,
    /// Seed of the draws the decision's spread is computed on.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Draws the plan is solved again on (default all; 0 for none).
    #[arg(long)]
    decision_draws: Option<usize>,
    /// Leave the tail after the horizon out of the value.
    #[arg(long)]
    no_tail: bool,
    /// Output folder.
    #[arg(long, default_value = "out")]
    out: PathBuf,
}

#[derive(clap::Args, Debug)]
struct SimulateArgs {
    /// Built-in scenario (baseline, selection_bias, synergy, long_journeys, social_care, many_channels,
    /// delayed_response).
    #[arg(long, default_value = "baseline")]
    scenario: String,
    /// A TOML scenario file instead of a built-in one.
    #[arg(long, conflicts_with = "scenario")]
    params: Option<PathBuf>,
    /// Number of people.
    #[arg(long)]
    people: Option<u64>,
    /// Seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Output folder.
    #[arg(long, default_value = "out")]
    out: PathBuf,
}

#[derive(clap::Args, Debug)]
struct BenchArgs {
    /// Scenarios to run (repeatable); all built-in ones by default.
    #[arg(long = "scenario")]
    scenarios: Vec<String>,
    /// Number of people per scenario.
    #[arg(long, default_value_t = 100_000)]
    people: u64,
    /// Seed.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Model name or JSON spec (repeatable); the default set when none.
    #[arg(long = "model")]
    models: Vec<String>,
    /// Output folder.
    #[arg(long, default_value = "out")]
    out: PathBuf,
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

/// Where the journeys come from: a path table, or a touches and a conversions table.
#[derive(clap::Args, Debug)]
struct Input {
    /// Path table (CSV or Parquet) in ChannelAttribution's format.
    #[arg(long, conflicts_with_all = ["touches", "conversions_file"], required_unless_present = "touches")]
    paths: Option<PathBuf>,
    /// Touches table (CSV or Parquet): person, time, channel and the --dims columns.
    #[arg(long, requires = "conversions_file")]
    touches: Option<PathBuf>,
    /// Conversions table (CSV or Parquet): person, time, kpi, value.
    #[arg(long = "conversions", requires = "touches")]
    conversions_file: Option<PathBuf>,
    /// Lookback window of event logs ("30d", "12h", "1w"; default 30d); KPI=DURATION for one KPI
    /// (repeatable, once per KPI).
    #[arg(long, conflicts_with = "paths")]
    lookback: Vec<String>,
    /// Shorter window per interaction type, INTERACTION=DURATION (repeatable; needs --dims interaction).
    #[arg(long, conflicts_with = "paths")]
    interaction_lookback: Vec<String>,
    /// Extra dimensions to read from the touches (campaign, activity, actor, actor_group, interaction).
    #[arg(long, value_delimiter = ',')]
    dims: Vec<String>,
    /// Keep at most this many most recent touches per journey.
    #[arg(long)]
    max_touches: Option<usize>,
    /// Person id column of the event tables.
    #[arg(long, default_value = "user_id")]
    person_column: String,
    /// Timestamp column of the event tables.
    #[arg(long, default_value = "ts")]
    time_column: String,
    /// Channel column of the touches.
    #[arg(long, default_value = "channel")]
    channel_column: String,
    /// KPI column of the conversions.
    #[arg(long, default_value = "kpi")]
    kpi_column: String,
    /// Time zone of naive timestamps.
    #[arg(long, default_value = "UTC")]
    tz: String,
    /// Observation period of event logs, START,END (ISO-8601; END excluded). Default: the events' span.
    #[arg(long, conflicts_with = "paths")]
    period: Option<String>,
    /// People at risk, including those with no event at all (for models with a baseline).
    #[arg(long, conflicts_with = "paths")]
    population: Option<u64>,
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
    /// Column of conversion values (path tables: total_conversion_value; event logs: value).
    #[arg(long)]
    value_column: Option<String>,
    /// Column of null (non-converting) weights.
    #[arg(long, default_value = "total_null")]
    nulls_column: String,
    /// KPI that every row of a path table measures (default `conversions`), for tables without a
    /// KPI column.
    #[arg(long)]
    kpi: Option<String>,
    /// Column of a path table naming each row's KPI (as `simulate` writes it); used when present.
    #[arg(long, default_value = "kpi")]
    kpi_path_column: String,
}

#[derive(clap::Args, Debug)]
struct AttributeArgs {
    #[command(flatten)]
    input: Input,
    /// Model name or JSON spec (`{"model":"markov","order":3}`); repeat for several. Default: the
    /// default models (first_touch, last_touch, linear, position_based, markov, shapley, and
    /// additive_hazard on event logs).
    #[arg(long = "model")]
    models: Vec<String>,
    /// Markov order, for every `markov` given by name.
    #[arg(long)]
    order: Option<u32>,
    /// Lift tests for `additive_hazard` (CSV or Parquet: channel, kpi, per_exposure, se).
    #[arg(long = "lift-test")]
    lift_test: Option<PathBuf>,
    /// Player dimension.
    #[arg(long, default_value = "channel")]
    by: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    #[command(flatten)]
    boot: BootstrapArgs,
    /// Also write every model's credit per journey to this Parquet file (model, kpi, journey, person,
    /// time, <by>, conversions, value), streamed in batches.
    #[arg(long = "journeys-out")]
    journeys_out: Option<PathBuf>,
}

/// Gives the lift tests in `file` to every `additive_hazard` model; an error when there is none.
fn with_lift_tests(
    mut specs: Vec<ModelSpec>,
    file: Option<&Path>,
    delimiter: &str,
) -> AnyResult<Vec<ModelSpec>> {
    let Some(file) = file else { return Ok(specs) };
    let [byte] = delimiter.as_bytes() else {
        return Err(format!("--delimiter must be one byte, got {delimiter:?}").into());
    };
    let tests = touchpoint_frame::lift_tests_from_frame(&read_table(file, *byte)?)?;
    let mut used = false;
    for s in &mut specs {
        if let ModelSpec::AdditiveHazard(m) = s {
            m.lift_tests = tests.clone();
            used = true;
        }
    }
    if !used {
        return Err("--lift-test calibrates the additive_hazard model: add --model additive_hazard".into());
    }
    Ok(specs)
}

/// The models named on the command line, or the default models for these journeys.
fn specs_or_default(names: &[String], order: Option<u32>, journeys: &Journeys) -> AnyResult<Vec<ModelSpec>> {
    if names.is_empty() {
        let mut specs = touchpoint_core::default_models(journeys.timelines().is_some());
        if let Some(k) = order {
            for s in &mut specs {
                if let ModelSpec::Markov(m) = s {
                    m.order = k;
                }
            }
        }
        return Ok(specs);
    }
    Ok(names.iter().map(|m| spec(m, order)).collect::<Result<Vec<_>, _>>()?)
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

/// The bootstrap options of `attribute` and `report` (one owner for both).
#[derive(clap::Args, Debug)]
struct BootstrapArgs {
    /// Bootstrap intervals at this level (e.g. 0.9): every credit gets lower and upper bounds.
    #[arg(long)]
    intervals: Option<f64>,
    /// Resamples of the bootstrap (with --intervals).
    #[arg(long, default_value_t = 200, requires = "intervals")]
    resamples: usize,
    /// Seed of the bootstrap draws (with --intervals).
    #[arg(long, default_value_t = 0, requires = "intervals")]
    seed: u64,
    /// Threads for the resamples (0: one per core).
    #[arg(long, default_value_t = 0, requires = "intervals")]
    threads: usize,
}

impl BootstrapArgs {
    /// The attribution of `journeys` by `by`, with intervals when --intervals is given.
    fn attribute(&self, journeys: &Journeys, specs: &[ModelSpec], by: Dimension) -> AnyResult<Attribution> {
        Ok(match self.intervals {
            None => attribute(journeys, specs, by)?,
            Some(level) => {
                let settings = Resampling { level, resamples: self.resamples, seed: self.seed };
                attribute_with_intervals(journeys, specs, by, &settings, self.threads, &Unattended)?
            }
        })
    }
}

#[derive(clap::Args, Debug)]
struct ReportArgs {
    #[command(flatten)]
    input: Input,
    /// Goal book (TOML or JSON): KPIs with functions and unit values, costs, social channels.
    #[arg(long)]
    goals: PathBuf,
    /// Model name or JSON spec; repeat for several. Default: the default models, as for `attribute`.
    #[arg(long = "model")]
    models: Vec<String>,
    /// Player dimension (channel, campaign, activity, actor, actor_group, interaction).
    #[arg(long, default_value = "channel")]
    by: String,
    /// Lift tests for `additive_hazard` (CSV or Parquet: channel, kpi, per_exposure, se).
    #[arg(long = "lift-test")]
    lift_test: Option<PathBuf>,
    /// Folder for report.html, contribution.csv, contribution_summary.csv and contribution.md.
    #[arg(long, default_value = "out")]
    out: PathBuf,
    #[command(flatten)]
    boot: BootstrapArgs,
    /// A media-mix fit for the report, KPI=FILE (a fit.json written by `touchpoint mmm`); repeat for
    /// several.
    #[arg(long = "mmm")]
    mmm: Vec<String>,
    /// The report's title.
    #[arg(long)]
    title: Option<String>,
    /// The currency money is shown with in the report ($ by default).
    #[arg(long)]
    currency: Option<String>,
    /// Also break each goal of the report down by this dimension (campaign, actor_group, ...; give
    /// it to --dims too); repeat for several.
    #[arg(long)]
    breakdown: Vec<String>,
}

type AnyResult<T> = Result<T, Box<dyn std::error::Error>>;

/// Creates the output folder, naming it when that fails.
fn create_dir(dir: &Path) -> AnyResult<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create the output folder {}: {e}", dir.display()).into())
}

/// Writes a text file, naming it when that fails.
fn write_text(path: &Path, text: &str) -> AnyResult<()> {
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()).into())
}

/// Writes a DataFrame as CSV with a header, naming the file when that fails.
fn write_csv(path: &Path, df: &mut polars::prelude::DataFrame) -> AnyResult<()> {
    let file = std::fs::File::create(path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    CsvWriter::new(file)
        .include_header(true)
        .finish(df)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(())
}

fn key_value(option: &str, text: &str) -> AnyResult<(String, String)> {
    match text.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.trim().to_owned())),
        _ => Err(format!("{option} expects NAME=DURATION, got {text:?}").into()),
    }
}

/// NAME=DURATION added to `list`, refused when NAME is in it already (the second would win silently).
fn push_once(list: &mut Vec<(String, String)>, option: &str, what: &str, text: &str) -> AnyResult<()> {
    let (k, v) = key_value(option, text)?;
    if let Some((_, before)) = list.iter().find(|(seen, _)| *seen == k) {
        return Err(format!(
            "{option} {k}= is given twice ({before} and {v}): give each {what}'s window once"
        )
        .into());
    }
    list.push((k, v));
    Ok(())
}

fn load_journeys(input: &Input) -> AnyResult<Journeys> {
    let delimiter = match input.delimiter.as_bytes() {
        [b] => *b,
        _ => return Err(format!("--delimiter must be one byte, got {:?}", input.delimiter).into()),
    };
    if let Some(paths) = &input.paths {
        let opts = PathOptions {
            path: input.path_column.clone(),
            conversions: input.conversions_column.clone(),
            value: Some(input.value_column.clone().unwrap_or_else(|| "total_conversion_value".into())),
            nulls: Some(input.nulls_column.clone()),
            sep: input.sep.clone(),
            kpi: input.kpi.clone().unwrap_or_else(|| "conversions".into()),
            kpi_column: Some(input.kpi_path_column.clone()),
            delimiter,
        };
        let is_csv = paths
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| ["csv", "txt", "tsv"].contains(&e.to_ascii_lowercase().as_str()));
        // CSV streams straight into journeys; Parquet goes through a DataFrame.
        let (df, columns) = if is_csv && paths.is_file() {
            (None, touchpoint_frame::csv_header(paths, delimiter)?)
        } else {
            let df = read_table(paths, delimiter)?;
            let names = df.get_column_names().iter().map(|c| c.to_string()).collect();
            (Some(df), names)
        };
        if let (Some(kpi), true) = (&input.kpi, columns.contains(&input.kpi_path_column)) {
            return Err(format!(
                "--kpi {kpi} names one KPI for the whole table, but {} has a `{}` column naming each row's KPI: drop --kpi, or name another --kpi-path-column",
                paths.display(),
                input.kpi_path_column
            )
            .into());
        }
        return Ok(match df {
            None => touchpoint_frame::journeys_from_path_csv(paths, &opts)?,
            Some(df) => touchpoint_frame::journeys_from_paths(&df, &opts.tolerate_default_absences(&df))?,
        });
    }
    let (Some(touches), Some(conversions)) = (&input.touches, &input.conversions_file) else {
        return Err("give --paths, or --touches and --conversions".into());
    };
    // Each window is given once: a second one for the same KPI (or a second default) would
    // otherwise win silently.
    let mut lookback: Option<String> = None;
    let mut by_kpi: Vec<(String, String)> = Vec::new();
    for l in &input.lookback {
        if l.contains('=') {
            push_once(&mut by_kpi, "--lookback", "KPI", l)?;
        } else if let Some(before) = &lookback {
            return Err(format!(
                "--lookback is given twice without a KPI ({before} and {l}): give the default window once, and KPI=DURATION for others"
            )
            .into());
        } else {
            lookback = Some(l.clone());
        }
    }
    let lookback = lookback.unwrap_or_else(|| EventOptions::default().lookback);
    let mut interaction_lookback: Vec<(String, String)> = Vec::new();
    for l in &input.interaction_lookback {
        push_once(&mut interaction_lookback, "--interaction-lookback", "interaction", l)?;
    }
    let dims = input.dims.iter().map(|d| d.parse::<Dimension>()).collect::<Result<Vec<_>, _>>()?;
    let opts = EventOptions {
        person: input.person_column.clone(),
        time: input.time_column.clone(),
        channel: input.channel_column.clone(),
        kpi: input.kpi_column.clone(),
        value: Some(input.value_column.clone().unwrap_or_else(|| "value".into())),
        value_is_default: input.value_column.is_none(),
        dims,
        lookback,
        lookback_by_kpi: by_kpi,
        interaction_lookback,
        max_touches: input.max_touches,
        tz: input.tz.clone(),
        period: match &input.period {
            None => None,
            Some(p) => match p.split_once(',') {
                Some((a, z)) => Some((a.trim().to_owned(), z.trim().to_owned())),
                None => return Err(format!("--period: expected START,END, got `{p}`").into()),
            },
        },
        population: input.population,
        kpis: Vec::new(),
    };
    let t = read_table(touches, delimiter)?;
    let c = read_table(conversions, delimiter)?;
    Ok(journeys_from_events(&t, &c, &opts)?)
}

fn run_attribute(a: &AttributeArgs) -> AnyResult<()> {
    let by: Dimension = a.by.parse()?;
    let journeys = load_journeys(&a.input)?;
    let specs = specs_or_default(&a.models, a.order, &journeys)?;
    let specs = with_lift_tests(specs, a.lift_test.as_deref(), &a.input.delimiter)?;
    let result = a.boot.attribute(&journeys, &specs, by)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match a.format {
        Format::Table => write!(out, "{}", result.comparison_table())?,
        Format::Csv => {
            touchpoint_frame::write_credits_csv(&result, &mut out)?;
        }
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &result)?;
            writeln!(out)?;
        }
    }
    // Warnings go to stderr whatever the format, so piped CSV or JSON stays clean and nothing is missed.
    for w in &result.warnings {
        eprintln!("warning: {w}");
    }
    if let Some(path) = &a.journeys_out {
        let (rows, gaps) = write_journey_credits(&journeys, &result, &[], path, &Unattended)?;
        eprintln!("wrote {rows} journey credit rows to {}", path.display());
        let mut gapped: Vec<&str> = gaps
            .iter()
            .filter(|g| g.gap.abs() > 1e-9 * g.credit.abs().max(1.0))
            .map(|g| g.model.as_str())
            .collect();
        gapped.dedup();
        if !gapped.is_empty() {
            eprintln!(
                "note: the journey rows of {} do not sum to every player's credit (Markov and the rate Shapley \
                 game split each journey by the aggregate credit; lift-tested players of additive_hazard are \
                 credited their expected conversions): they sum to each KPI's total",
                gapped.join(", ")
            );
        }
    }
    // The process ends next: its memory goes back whole, faster than the journeys' arrays one by one.
    std::mem::forget(journeys);
    Ok(())
}

/// A Markdown table of a DataFrame (numbers to 4 significant digits, nulls as a dash).
fn markdown(df: &polars::prelude::DataFrame) -> AnyResult<String> {
    use polars::prelude::AnyValue;
    let mut s = String::new();
    let names: Vec<String> = df.get_column_names().iter().map(|c| c.to_string()).collect();
    s.push_str(&format!("| {} |\n|{}|\n", names.join(" | "), vec!["---"; names.len()].join("|")));
    for i in 0..df.height() {
        let mut cells = Vec::new();
        for c in df.columns() {
            cells.push(match c.get(i)? {
                AnyValue::Null => "–".to_owned(),
                AnyValue::Float64(v) if v.abs() >= 1000.0 || (v.fract() == 0.0 && v.abs() < 1e15) => {
                    format!("{v:.0}")
                }
                AnyValue::Float64(v) => format!("{v:.4}"),
                AnyValue::String(v) => v.to_owned(),
                other => other.to_string(),
            });
        }
        s.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    Ok(s)
}

fn run_report(a: &ReportArgs) -> AnyResult<()> {
    let by: Dimension = a.by.parse()?;
    let goals = GoalBook::load(&a.goals)?;
    let journeys = load_journeys(&a.input)?;
    let specs = specs_or_default(&a.models, None, &journeys)?;
    let specs = with_lift_tests(specs, a.lift_test.as_deref(), &a.input.delimiter)?;
    let result = a.boot.attribute(&journeys, &specs, by)?;
    let mut fits = Vec::new();
    for m in &a.mmm {
        let (kpi, file) = key_value("mmm", m)?;
        fits.push((kpi, touchpoint_mmm::Fit::load(Path::new(&file))?));
    }
    // The CSV and Markdown files value the same goals as the page: a fit's KPI that the journeys
    // lack joins, over the journeys' period.
    let mut external = Vec::new();
    for (kpi, fit) in &fits {
        if !result.summary.iter().any(|s| &s.kpi == kpi) {
            external.push(fit.external_for(kpi, result.period)?);
        }
    }
    let report = touchpoint_core::contribution_with(
        &result,
        &goals,
        None,
        &external,
        &std::collections::BTreeMap::new(),
    )?;
    // Breakdowns by other dimensions: the same models; lift tests name channels, so they calibrate
    // the attribution by channel only.
    let mut plain = specs.clone();
    for s in &mut plain {
        if let ModelSpec::AdditiveHazard(m) = s {
            m.lift_tests.clear();
        }
    }
    let mut extra = Vec::new();
    for d in &a.breakdown {
        extra.push(a.boot.attribute(&journeys, &plain, d.parse()?)?);
    }
    let breakdowns: Vec<&touchpoint_core::Attribution> = extra.iter().collect();
    let refs: Vec<(String, &touchpoint_mmm::Fit)> = fits.iter().map(|(k, f)| (k.clone(), f)).collect();
    let defaults = touchpoint_report::ReportOptions::default();
    let options = touchpoint_report::ReportOptions {
        title: a.title.clone().unwrap_or(defaults.title),
        currency: a.currency.clone().unwrap_or(defaults.currency),
        ..Default::default()
    };
    let inputs = touchpoint_report::Inputs {
        attribution: &result,
        goals: &goals,
        mmm: &refs,
        journeys: Some(&journeys),
        breakdowns: &breakdowns,
    };
    create_dir(&a.out)?;
    let html_path = a.out.join("report.html");
    touchpoint_report::write(&inputs, &options, &html_path)?;
    let mut rows = contribution_frame(&report)?;
    let mut summary = contribution_summary_frame(&report)?;
    let rows_csv = a.out.join("contribution.csv");
    let summary_csv = a.out.join("contribution_summary.csv");
    write_csv(&rows_csv, &mut rows)?;
    write_csv(&summary_csv, &mut summary)?;
    let mut md =
        format!("# Contribution by {by}\n\nGoal book: `{}`\n\n## Per {by} and model\n\n", a.goals.display());
    md.push_str(&markdown(&summary)?);
    if by == Dimension::Channel {
        md.push_str("\n## Social vs non-social\n\n");
        md.push_str(&markdown(&social_frame(&report)?)?);
    }
    if !report.warnings.is_empty() {
        md.push_str("\n## Warnings\n\n");
        for w in &report.warnings {
            md.push_str(&format!("- {w}\n"));
        }
    }
    let unattributed = result.unattributed.iter().fold(0.0, |a, u| a + u.conversions);
    md.push_str(&format!("\nUnattributed conversions: {unattributed}\n"));
    let md_path = a.out.join("contribution.md");
    write_text(&md_path, &md)?;
    std::io::stdout().write_all(md.as_bytes())?;
    eprintln!(
        "wrote {}, {}, {}, {}",
        html_path.display(),
        rows_csv.display(),
        summary_csv.display(),
        md_path.display()
    );
    Ok(())
}

fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn run_simulate(a: &SimulateArgs) -> AnyResult<()> {
    let mut params = match &a.params {
        Some(p) => SimParams::from_toml(&std::fs::read_to_string(p)?)?,
        None => SimParams::scenario(&a.scenario)?,
    };
    if let Some(p) = a.people {
        params.people = p;
    }
    if let Some(s) = a.seed {
        params.seed = s;
    }
    let sim = simulate_with(&params, threads(), &Unattended)?;
    create_dir(&a.out)?;
    let mut paths = paths_frame(&sim.journeys, ">")?;
    let paths_csv = a.out.join("paths.csv");
    write_csv(&paths_csv, &mut paths)?;
    let mut truth = rows_frame(&sim.truth, &TRUTH_COLUMNS)?;
    let truth_csv = a.out.join("truth.csv");
    write_csv(&truth_csv, &mut truth)?;
    let md = format!(
        "# Simulated truth: `{}`, {} people, seed {}\n\n{}",
        sim.params.name,
        sim.params.people,
        sim.params.seed,
        markdown(&truth)?
    );
    let truth_md = a.out.join("truth.md");
    write_text(&truth_md, &md)?;
    std::io::stdout().write_all(md.as_bytes())?;
    eprintln!("wrote {}, {}, {}", paths_csv.display(), truth_csv.display(), truth_md.display());
    Ok(())
}

fn run_bench(a: &BenchArgs) -> AnyResult<()> {
    let scenarios: Vec<&str> = if a.scenarios.is_empty() {
        SCENARIO_NAMES.to_vec()
    } else {
        a.scenarios.iter().map(String::as_str).collect()
    };
    let specs = a.models.iter().map(|m| spec(m, None)).collect::<Result<Vec<_>, _>>()?;
    let rows = benchmark_with(&scenarios, a.people, a.seed, &specs, threads(), &Unattended)?;
    let mut df = rows_frame(&rows, &SCORE_COLUMNS)?;
    create_dir(&a.out)?;
    let csv = a.out.join("benchmark.csv");
    write_csv(&csv, &mut df)?;
    let md_text = markdown(&df)?;
    let md = a.out.join("benchmark.md");
    write_text(&md, &md_text)?;
    std::io::stdout().write_all(md_text.as_bytes())?;
    eprintln!("wrote {}, {}", csv.display(), md.display());
    Ok(())
}

/// Days since 1970-01-01 of an ISO date (`YYYY-MM-DD`, anything after the day ignored), by
/// H. Hinnant's days-from-civil.
fn iso_days(text: &str) -> Option<i32> {
    let t = text.trim();
    let d = t.get(..10)?;
    let mut it = d.split('-');
    let (y, m, day): (i64, i64, i64) =
        (it.next()?.parse().ok()?, it.next()?.parse().ok()?, it.next()?.parse().ok()?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    i32::try_from(era * 146_097 + doe - 719_468).ok()
}

fn text_column(df: &polars::prelude::DataFrame, name: &str) -> AnyResult<Vec<Option<String>>> {
    use polars::prelude::DataType;
    let col = df.column(name).map_err(|_| {
        let names: Vec<String> = df.get_column_names().iter().map(|c| c.to_string()).collect();
        format!("column `{name}` is not in the data; it has: {}", names.join(", "))
    })?;
    let s = col.cast(&DataType::String)?;
    Ok(s.str()?.iter().map(|v| v.map(str::to_owned)).collect())
}

fn number_column(df: &polars::prelude::DataFrame, name: &str) -> AnyResult<Vec<f64>> {
    text_column(df, name)?
        .into_iter()
        .enumerate()
        .map(|(row, v)| match v.as_deref().map(str::trim) {
            None | Some("") => {
                Err(format!("column `{name}`, row {row}: a null; every period needs a value").into())
            }
            Some(t) => t
                .parse::<f64>()
                .map_err(|_| format!("column `{name}`, row {row}: {t:?} is not a number").into()),
        })
        .collect()
}

/// The options given on the command line, merged over the defaults (their one owner is
/// `RolloutOptions::default`).
fn rollout_options(a: &RolloutArgs) -> AnyResult<touchpoint_panel::RolloutOptions> {
    use touchpoint_panel::{Comparison, Estimand, RolloutOptions};
    let mut o = RolloutOptions::default();
    if let Some(c) = &a.control {
        o.comparison = match c.as_str() {
            "never" => Comparison::NeverTreated,
            "not_yet" => Comparison::NotYetTreated,
            other => return Err(format!("--control must be never or not_yet, got {other:?}").into()),
        };
    }
    if let Some(e) = &a.estimand {
        o.estimand = match e.as_str() {
            "dr" => Estimand::DoublyRobust,
            "reg" => Estimand::OutcomeRegression,
            other => return Err(format!("--estimand must be dr or reg, got {other:?}").into()),
        };
    }
    if let Some(v) = a.level {
        o.level = v;
    }
    if let Some(v) = a.bootstrap {
        o.bootstrap = v;
    }
    if let Some(v) = a.seed {
        o.seed = v;
    }
    if let Some(v) = &a.levels {
        o.levels = v.parse()?;
    }
    o.validate()?;
    Ok(o)
}

fn run_rollout(a: &RolloutArgs) -> AnyResult<()> {
    use touchpoint_frame::{rollout_frames, rollout_rows, RolloutColumns};
    let options = rollout_options(a)?;
    let df = read_table(&a.panel, b',')?;
    let cols = RolloutColumns {
        unit: a.unit.clone(),
        time: a.time.clone(),
        outcome: a.outcome.clone(),
        cohort: a.cohort.clone(),
        treatment: a.treatment.clone(),
        covariates: a.covariates.clone(),
        cluster: a.cluster.clone(),
    };
    let (rows, kind) = rollout_rows(&df, &cols)?;
    let panel = touchpoint_panel::Panel::from_rows(&rows)?;
    let result = touchpoint_panel::rollout_effect(&panel, &options, &Unattended)?;
    let mut f = rollout_frames(&result, kind)?;
    create_dir(&a.out)?;
    for (name, df) in [
        ("group_time", &mut f.group_time),
        ("event_study", &mut f.event_study),
        ("by_cohort", &mut f.by_cohort),
        ("by_period", &mut f.by_period),
        ("summary", &mut f.summary),
    ] {
        write_csv(&a.out.join(format!("{name}.csv")), df)?;
    }
    println!(
        "Effect of the rollout on `{}` ({} units x {} periods; {:.0}% intervals):\n",
        a.outcome,
        result.units,
        result.periods,
        100.0 * options.level
    );
    println!("{}", markdown(&f.summary)?);
    for w in &result.warnings {
        println!("warning: {w}");
    }
    println!(
        "\nwrote group_time.csv, event_study.csv, by_cohort.csv, by_period.csv, summary.csv in {}",
        a.out.display()
    );
    Ok(())
}

fn run_mmm(a: &MmmArgs) -> AnyResult<()> {
    use touchpoint_mmm::{
        ChannelKind, ChannelSpec, FitOptions, LiftMeasurement, MediaMix, Method, Saturation, Series,
    };
    let df = read_table(&a.data, b',')?;
    let mut model = MediaMix::new(&a.date, &a.target, &[], &[], &[]);
    model.channels = a
        .media
        .iter()
        .map(|n| ChannelSpec { name: n.clone(), kind: ChannelKind::Media })
        .chain(a.organic.iter().map(|n| ChannelSpec { name: n.clone(), kind: ChannelKind::Organic }))
        .collect();
    model.controls = a.controls.clone();
    model.max_lag = a.max_lag;
    model.saturation = Saturation::parse(&a.saturation)?;
    model.trend = !a.no_trend;
    model.seasonality = a.seasonality;
    if let Some(p) = &a.priors {
        let text =
            touchpoint_util::files::read_text(p, 16 << 20).map_err(|e| format!("{}: {e}", p.display()))?;
        model.priors =
            touchpoint_mmm::Priors::with_overrides(&text).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    let dates = text_column(&df, &a.date)?
        .into_iter()
        .enumerate()
        .map(|(row, v)| {
            v.as_deref()
                .and_then(iso_days)
                .ok_or_else(|| format!("column `{}`, row {row}: {v:?} is not an ISO date", a.date))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let series = Series {
        dates,
        target: number_column(&df, &a.target)?,
        channels: model.channels.iter().map(|c| number_column(&df, &c.name)).collect::<AnyResult<_>>()?,
        controls: model.controls.iter().map(|c| number_column(&df, c)).collect::<AnyResult<_>>()?,
    };
    let lifts = match &a.lift {
        None => Vec::new(),
        Some(p) => {
            let l = read_table(p, b',')?;
            let channels = text_column(&l, "channel")?;
            let (x, dx, dy, sd) = (
                number_column(&l, "x")?,
                number_column(&l, "delta_x")?,
                number_column(&l, "delta_y")?,
                number_column(&l, "sigma")?,
            );
            channels
                .into_iter()
                .enumerate()
                .map(|(i, c)| LiftMeasurement {
                    channel: c.unwrap_or_default(),
                    x: x[i],
                    delta_x: dx[i],
                    delta_y: dy[i],
                    sigma: sd[i],
                })
                .collect()
        }
    };
    let options = FitOptions {
        method: Method::parse(&a.method)?,
        chains: a.chains,
        draws: a.draws,
        tune: a.tune,
        seed: a.seed,
        threads: a.threads,
        level: a.level,
        target_accept: a.target_accept,
        ..Default::default()
    };
    let fit = touchpoint_mmm::fit(&model, &series, &lifts, &options, &Unattended)?;
    create_dir(&a.out)?;
    use polars::prelude::{Column, DataFrame};
    let opt = |v: Option<f64>| v.filter(|x| x.is_finite());
    let summary = fit.summary();
    let mut s = DataFrame::new_infer_height(vec![
        Column::new("channel".into(), summary.iter().map(|r| r.component.clone()).collect::<Vec<_>>()),
        Column::new("kind".into(), summary.iter().map(|r| r.kind.clone()).collect::<Vec<_>>()),
        Column::new("contribution".into(), summary.iter().map(|r| r.contribution.mean).collect::<Vec<_>>()),
        Column::new(
            "lower".into(),
            summary.iter().map(|r| opt(Some(r.contribution.lower))).collect::<Vec<_>>(),
        ),
        Column::new(
            "upper".into(),
            summary.iter().map(|r| opt(Some(r.contribution.upper))).collect::<Vec<_>>(),
        ),
        Column::new("share".into(), summary.iter().map(|r| r.share.mean).collect::<Vec<_>>()),
        Column::new("spend".into(), summary.iter().map(|r| r.spend).collect::<Vec<_>>()),
        Column::new(
            "kpi_per_spend".into(),
            summary.iter().map(|r| r.kpi_per_spend.map(|e| e.mean)).collect::<Vec<_>>(),
        ),
        Column::new(
            "kpi_per_spend_lower".into(),
            summary.iter().map(|r| opt(r.kpi_per_spend.map(|e| e.lower))).collect::<Vec<_>>(),
        ),
        Column::new(
            "kpi_per_spend_upper".into(),
            summary.iter().map(|r| opt(r.kpi_per_spend.map(|e| e.upper))).collect::<Vec<_>>(),
        ),
        Column::new(
            "marginal_kpi_per_spend".into(),
            summary.iter().map(|r| r.marginal_kpi_per_spend.map(|e| e.mean)).collect::<Vec<_>>(),
        ),
    ])?;
    let contrib = fit.contributions();
    let mut c = DataFrame::new_infer_height(vec![
        Column::new("period".into(), contrib.iter().map(|r| r.period as u64).collect::<Vec<_>>()),
        Column::new("channel".into(), contrib.iter().map(|r| r.component.clone()).collect::<Vec<_>>()),
        Column::new("kind".into(), contrib.iter().map(|r| r.kind.clone()).collect::<Vec<_>>()),
        Column::new("mean".into(), contrib.iter().map(|r| r.value.mean).collect::<Vec<_>>()),
        Column::new("lower".into(), contrib.iter().map(|r| opt(Some(r.value.lower))).collect::<Vec<_>>()),
        Column::new("upper".into(), contrib.iter().map(|r| opt(Some(r.value.upper))).collect::<Vec<_>>()),
    ])?;
    let p = &fit.parameters;
    let mut pf = DataFrame::new_infer_height(vec![
        Column::new("name".into(), p.iter().map(|r| r.name.clone()).collect::<Vec<_>>()),
        Column::new("mean".into(), p.iter().map(|r| r.mean).collect::<Vec<_>>()),
        Column::new("sd".into(), p.iter().map(|r| opt(Some(r.sd))).collect::<Vec<_>>()),
        Column::new("lower".into(), p.iter().map(|r| opt(Some(r.lower))).collect::<Vec<_>>()),
        Column::new("upper".into(), p.iter().map(|r| opt(Some(r.upper))).collect::<Vec<_>>()),
        Column::new("r_hat".into(), p.iter().map(|r| opt(Some(r.r_hat))).collect::<Vec<_>>()),
        Column::new("ess_bulk".into(), p.iter().map(|r| opt(Some(r.ess_bulk))).collect::<Vec<_>>()),
    ])?;
    let files = [
        (a.out.join("summary.csv"), &mut s),
        (a.out.join("contributions.csv"), &mut c),
        (a.out.join("parameters.csv"), &mut pf),
    ];
    let mut written = Vec::new();
    let md = markdown(files[0].1)?;
    for (path, df) in files {
        write_csv(&path, df)?;
        written.push(path.display().to_string());
    }
    let json = a.out.join("fit.json");
    write_text(&json, &fit.to_json()?)?;
    written.push(json.display().to_string());
    std::io::stdout().write_all(md.as_bytes())?;
    for w in &fit.warnings {
        eprintln!("warning: {w}");
    }
    eprintln!("fitted in {:.2} s; wrote {}", fit.seconds, written.join(", "));
    Ok(())
}

/// `name=value` of a repeated option, the value parsed by `parse`.
fn pair<T>(option: &str, text: &str, parse: impl Fn(&str) -> Option<T>) -> AnyResult<(String, T)> {
    let bad = || format!("--{option} {text:?}: expected name=value");
    let (name, value) = text.split_once('=').ok_or_else(bad)?;
    if name.trim().is_empty() {
        return Err(bad().into());
    }
    let v = parse(value.trim()).ok_or_else(|| format!("--{option} {text:?}: cannot read {value:?}"))?;
    Ok((name.trim().to_string(), v))
}

fn run_plan(a: &PlanArgs) -> AnyResult<()> {
    use std::collections::BTreeMap;
    use touchpoint_mmm::{Bound, Fit, Flighting, PlanOptions, Response, Risk};
    let goals = GoalBook::load(&a.goals)?;
    let mut responses = Vec::new();
    for f in &a.fits {
        let (kpi, path) = pair("fit", f, |v| Some(PathBuf::from(v)))?;
        let fit = Fit::load(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        responses.push(Response::from_fit(&kpi, &fit));
    }
    let num = |v: &str| v.parse::<f64>().ok();
    let unit_costs: BTreeMap<String, f64> =
        a.unit_costs.iter().map(|u| pair("unit-cost", u, num)).collect::<AnyResult<_>>()?;
    let bounds: BTreeMap<String, Bound> = a
        .bounds
        .iter()
        .map(|b| {
            pair("bound", b, |v| match v.split_once(':') {
                None => num(v).map(|x| Bound { min: x, max: x }),
                Some((lo, hi)) => {
                    let min = if lo.trim().is_empty() { Some(0.0) } else { num(lo.trim()) }?;
                    let max = if hi.trim().is_empty() { Some(f64::INFINITY) } else { num(hi.trim()) }?;
                    Some(Bound { min, max })
                }
            })
        })
        .collect::<AnyResult<_>>()?;
    let target: BTreeMap<String, f64> =
        a.target.iter().map(|t| pair("target", t, num)).collect::<AnyResult<_>>()?;
    let risk = match a.risk.as_str() {
        "mean" => Risk::Mean,
        q => Risk::Quantile(
            q.parse().map_err(|_| format!("--risk {q:?}: `mean` or a quantile in (0, 1), e.g. 0.1"))?,
        ),
    };
    let flighting = match a.flighting.as_str() {
        "free" => Flighting::Free,
        "even" => Flighting::Even,
        other => return Err(format!("--flighting {other:?}: `free` or `even`").into()),
    };
    let options = PlanOptions {
        budget: a.budget,
        periods: a.periods,
        unit_costs,
        bounds,
        locked: a.lock.clone(),
        flighting,
        target,
        probability: a.probability,
        risk,
        count_tail: !a.no_tail,
        level: a.level,
        seed: a.seed,
        decision_draws: a.decision_draws,
        run_rate_periods: None,
    };
    let started = std::time::Instant::now();
    let plan = touchpoint_mmm::plan(&responses, &goals, &options, &Unattended)?;
    create_dir(&a.out)?;
    use polars::prelude::{Column, DataFrame};
    let opt = |v: f64| Some(v).filter(|x| x.is_finite());
    let al = &plan.allocation;
    let mut alloc = DataFrame::new_infer_height(vec![
        Column::new("channel".into(), al.iter().map(|r| r.channel.clone()).collect::<Vec<_>>()),
        Column::new("kind".into(), al.iter().map(|r| r.kind.clone()).collect::<Vec<_>>()),
        Column::new("period".into(), al.iter().map(|r| r.period as u64).collect::<Vec<_>>()),
        Column::new("volume".into(), al.iter().map(|r| r.volume).collect::<Vec<_>>()),
        Column::new("spend".into(), al.iter().map(|r| r.spend).collect::<Vec<_>>()),
        Column::new("current".into(), al.iter().map(|r| r.current).collect::<Vec<_>>()),
        Column::new("beyond_observed".into(), al.iter().map(|r| r.beyond_observed).collect::<Vec<_>>()),
    ])?;
    let o = &plan.outcome;
    let vs = &plan.against_current.outcome;
    let mut outcome = DataFrame::new_infer_height(vec![
        Column::new("kpi".into(), o.iter().map(|r| r.kpi.clone()).collect::<Vec<_>>()),
        Column::new("expected".into(), o.iter().map(|r| r.horizon.mean).collect::<Vec<_>>()),
        Column::new("lower".into(), o.iter().map(|r| opt(r.horizon.lower)).collect::<Vec<_>>()),
        Column::new("upper".into(), o.iter().map(|r| opt(r.horizon.upper)).collect::<Vec<_>>()),
        Column::new("tail".into(), o.iter().map(|r| r.tail.mean).collect::<Vec<_>>()),
        Column::new("value".into(), o.iter().map(|r| r.value.mean).collect::<Vec<_>>()),
        Column::new("vs_run_rate".into(), vs.iter().map(|r| r.horizon.mean).collect::<Vec<_>>()),
        Column::new("vs_run_rate_lower".into(), vs.iter().map(|r| opt(r.horizon.lower)).collect::<Vec<_>>()),
        Column::new("vs_run_rate_upper".into(), vs.iter().map(|r| opt(r.horizon.upper)).collect::<Vec<_>>()),
    ])?;
    let m = &plan.marginal;
    let mut marginal = DataFrame::new_infer_height(vec![
        Column::new("channel".into(), m.iter().map(|r| r.channel.clone()).collect::<Vec<_>>()),
        Column::new("period".into(), m.iter().map(|r| r.period as u64).collect::<Vec<_>>()),
        Column::new("volume".into(), m.iter().map(|r| r.volume).collect::<Vec<_>>()),
        Column::new("marginal".into(), m.iter().map(|r| opt(r.marginal)).collect::<Vec<_>>()),
        Column::new("status".into(), m.iter().map(|r| r.status.clone()).collect::<Vec<_>>()),
    ])?;
    let d = &plan.decision;
    let mut decision = DataFrame::new_infer_height(vec![
        Column::new("channel".into(), d.iter().map(|r| r.channel.clone()).collect::<Vec<_>>()),
        Column::new("planned".into(), d.iter().map(|r| r.planned).collect::<Vec<_>>()),
        Column::new("current".into(), d.iter().map(|r| r.current).collect::<Vec<_>>()),
        Column::new("optimal".into(), d.iter().map(|r| r.optimal.mean).collect::<Vec<_>>()),
        Column::new("optimal_lower".into(), d.iter().map(|r| r.optimal.lower).collect::<Vec<_>>()),
        Column::new("optimal_upper".into(), d.iter().map(|r| r.optimal.upper).collect::<Vec<_>>()),
        Column::new("probability_grow".into(), d.iter().map(|r| r.probability_grow).collect::<Vec<_>>()),
    ])?;
    let md = markdown(&outcome)?;
    let mut written = Vec::new();
    for (name, df) in [
        ("allocation.csv", &mut alloc),
        ("outcome.csv", &mut outcome),
        ("marginal.csv", &mut marginal),
        ("decision.csv", &mut decision),
    ] {
        let path = a.out.join(name);
        write_csv(&path, df)?;
        written.push(path.display().to_string());
    }
    let json = a.out.join("plan.json");
    write_text(&json, &serde_json::to_string(&plan)?)?;
    written.push(json.display().to_string());
    println!(
        "Plan: budget {:.0} over {} periods{}",
        plan.budget,
        plan.periods,
        plan.probability.map_or(String::new(), |p| format!(", target reached in {:.1}% of draws", 100.0 * p))
    );
    std::io::stdout().write_all(md.as_bytes())?;
    let k = &plan.kkt;
    println!(
        "Optimality: marginal value {:.4} per unit of money inside the bounds, gap {:.1e}, {} violation(s){}",
        k.multiplier,
        k.interior_gap,
        k.violations,
        if k.holds { "" } else { " (does not hold)" }
    );
    for w in &plan.warnings {
        eprintln!("warning: {w}");
    }
    eprintln!("planned in {:.2} s; wrote {}", started.elapsed().as_secs_f64(), written.join(", "));
    Ok(())
}

/// Runs the command line `args` (the program name first) and returns the process exit code: 0 on
/// success, 2 on an error (printed to stderr), clap's code for `--help`, `--version` and usage errors.
pub fn run<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return e.exit_code().clamp(0, 255) as u8;
        }
    };
    let outcome = match &cli.command {
        Command::Attribute(a) => run_attribute(a),
        Command::Report(a) => run_report(a),
        Command::Simulate(a) => run_simulate(a),
        Command::Bench(a) => run_bench(a),
        Command::Mmm(a) => run_mmm(a),
        Command::Rollout(a) => run_rollout(a),
        Command::Plan(a) => run_plan(a),
    };
    match outcome {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}
