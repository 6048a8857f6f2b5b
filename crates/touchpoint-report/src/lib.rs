//! The report for the people who decide: one self-contained HTML file (styles, script and charts
//! inline; nothing fetched from the network) that a head of service, sales or HR can open.
//!
//! [`page`] gathers what the page shows from an attribution, its goal book and any media-mix fits:
//! per business function and goal, what each player added (with intervals) and what would have
//! happened anyway, the ROI against costs, the media-mix contributions and response curves, the
//! experiments that calibrated the numbers, the correlational models as a comparison, and the data's
//! health (period, population, unattributed conversions, every warning). [`render`] fills the
//! template `templates/report.html` (Jinja2 syntax, rendered by minijinja with HTML autoescaping).
//!
//! Every number is written twice: as text, rounded for reading, and in the cell's `data-value`
//! attribute at full precision, which the sortable tables sort by and the browser test compares with
//! the tables the numbers came from.

pub mod format;
pub mod svg;

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use touchpoint_core::goals::{contribution_with, ContributionReport, ExternalKpi, KpiSource};
use touchpoint_core::model::Values;
use touchpoint_core::{Attribution, GoalBook, Table, BASELINE_PLAYER};
use touchpoint_mmm::Fit;

use format::{decimals_for, number};

/// What can go wrong while making a report.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// From the attribution or the goal book (a KPI missing from the goal book, a bad cost).
    #[error(transparent)]
    Core(#[from] touchpoint_core::Error),
    /// From a media-mix fit.
    #[error(transparent)]
    Mmm(#[from] touchpoint_mmm::Error),
    /// An option out of its domain.
    #[error("invalid `{option}`: {value} ({reason})")]
    InvalidOption {
        /// The option.
        option: &'static str,
        /// Its value.
        value: String,
        /// What it must be.
        reason: String,
    },
    /// The file could not be written.
    #[error("cannot write the report to {path}: {reason}")]
    Write {
        /// Where.
        path: String,
        /// Why.
        reason: String,
    },
    /// The template failed (a defect of this crate, reported rather than panicking).
    #[error("the report template failed: {0}")]
    Template(String),
}

/// Result with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// The report's options; every one has its default here (callers pass only what the user gave).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReportOptions {
    /// The page's title.
    pub title: String,
    /// The currency sign or code money is shown with (`$`, `EUR`).
    pub currency: String,
    /// The model the goal sections show; by default the first model with a baseline (the
    /// additive-hazard model), else the first model.
    pub model: Option<String>,
    /// The observation period `(start, end)` as the user names it (the journeys' period).
    pub period: Option<(String, String)>,
    /// The people at risk (the journeys' population).
    pub population: Option<u64>,
    /// Costs that replace the goal book's.
    pub costs: Option<BTreeMap<String, f64>>,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            title: "What our channels added".to_owned(),
            currency: "$".to_owned(),
            model: None,
            period: None,
            population: None,
            costs: None,
        }
    }
}

/// What a report is made from.
#[derive(Clone, Copy, Debug)]
pub struct Inputs<'a> {
    /// The attribution (one or more models; by channel, campaign, actor group...).
    pub attribution: &'a Attribution,
    /// Its goal book: functions, unit values and costs.
    pub goals: &'a GoalBook,
    /// Media-mix fits per KPI name. A KPI the attribution lacks joins the goal sections (valued like
    /// the others); every fit also gets a section of its own, over its own period.
    pub mmm: &'a [(String, &'a Fit)],
    /// The journeys the attribution was computed from, when at hand: their observation period and
    /// population fill the options the caller left out.
    pub journeys: Option<&'a touchpoint_core::Journeys>,
    /// Attributions of the same journeys by other dimensions (campaign, actor group...) with the same
    /// model: each goal section gains a table per dimension.
    pub breakdowns: &'a [&'a Attribution],
}

/// One table cell: the text shown and, for numbers, the full-precision value.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Cell {
    /// What the page shows.
    pub text: String,
    /// The number behind it (sorting and checks), when it is one.
    pub value: Option<f64>,
}

impl Cell {
    fn text(s: impl Into<String>) -> Self {
        Cell { text: s.into(), value: None }
    }

    fn num(x: Option<f64>, decimals: usize) -> Self {
        match x {
            Some(v) if v.is_finite() => Cell { text: number(v, decimals), value: Some(v) },
            _ => Cell { text: "-".to_owned(), value: None },
        }
    }
}

/// A sortable table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TableView {
    /// Its id in the page (`goal-sales`, `roi`...).
    pub id: String,
    /// Column headers, with units.
    pub columns: Vec<String>,
    /// Rows of cells.
    pub rows: Vec<Vec<Cell>>,
}

/// One goal (KPI): its headline numbers, table and charts.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GoalSection {
    /// KPI name.
    pub kpi: String,
    /// Its unit, plural where the goal book names one (`tickets`), else the KPI's name.
    pub unit: String,
    /// Where its numbers come from: `journeys` or `mmm`.
    pub source: String,
    /// The plain-words sentence of this goal.
    pub sentence: String,
    /// Per player: conversions and value with intervals, share.
    pub table: TableView,
    /// Bars of each player's value (or conversions) with intervals.
    pub chart: String,
    /// What was added against what would have happened anyway (models with a baseline).
    pub baseline_chart: Option<String>,
    /// The same goal by other dimensions (campaign, actor group...), one table each.
    pub breakdowns: Vec<Breakdown>,
}

/// One goal by another dimension.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Breakdown {
    /// The dimension (`campaign`, `actor group`).
    pub by: String,
    /// Its table, as the goal's own.
    pub table: TableView,
}

/// One business function and its goals.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FunctionSection {
    /// Function name (`service`, `sales`, `hr`).
    pub name: String,
    /// Its goals.
    pub goals: Vec<GoalSection>,
}

/// One media-mix fit's section.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MmmSection {
    /// KPI name.
    pub kpi: String,
    /// First and last period of its series.
    pub period: String,
    /// Contributions per component with intervals, spend, KPI per unit of spend.
    pub table: TableView,
    /// One response-curve chart per channel.
    pub curves: Vec<String>,
    /// Lift measurements the fit was calibrated with.
    pub lifts: Option<TableView>,
}

/// The comparison with the other models of the attribution.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comparison {
    /// Why they differ, in plain words.
    pub why: String,
    /// One table per KPI: share of the KPI per player and model.
    pub tables: Vec<(String, TableView)>,
}

/// Everything the page shows.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Page {
    /// Title.
    pub title: String,
    /// Period, population and model in one line.
    pub subtitle: String,
    /// The model of the goal sections.
    pub model: String,
    /// Whether that model separates what would have happened anyway.
    pub incremental: bool,
    /// Interval level (0.9), when the numbers have intervals.
    pub level: Option<f64>,
    /// Currency.
    pub currency: String,
    /// Plain-words summary, one sentence per goal.
    pub headline: Vec<String>,
    /// Goal sections by function.
    pub functions: Vec<FunctionSection>,
    /// Value, cost and ROI per player across goals.
    pub roi: TableView,
    /// Media-mix sections.
    pub mmm: Vec<MmmSection>,
    /// Lift tests of the model (its `lift_tests` table), when any.
    pub experiments: Option<TableView>,
    /// The other models, when the attribution has more than one.
    pub comparison: Option<Comparison>,
    /// Conversions, attributed and unattributed per KPI.
    pub health: TableView,
    /// Every warning of the attribution, the valuation and the report itself.
    pub warnings: Vec<String>,
}

/// Gathers what the page shows. See the crate's documentation.
pub fn page(inputs: &Inputs<'_>, opts: &ReportOptions) -> Result<Page> {
    let attr = inputs.attribution;
    let goals = inputs.goals;
    let labels: Vec<&str> = attr.models.iter().map(|m| m.label.as_str()).collect();
    let model = match &opts.model {
        Some(m) if labels.contains(&m.as_str()) => m.clone(),
        Some(m) => {
            return Err(Error::InvalidOption {
                option: "model",
                value: m.clone(),
                reason: format!("not a model of the attribution ({})", labels.join(", ")),
            })
        }
        None => labels
            .iter()
            .find(|l| attr.model_credits(l).any(|c| c.player == BASELINE_PLAYER))
            .or(labels.first())
            .map(|l| (*l).to_owned())
            .ok_or_else(|| Error::InvalidOption {
                option: "attribution",
                value: "no models".into(),
                reason: "the attribution has no model".into(),
            })?,
    };
    let incremental = attr.model_credits(&model).any(|c| c.player == BASELINE_PLAYER);
    let cur = opts.currency.as_str();
    let timelines = inputs.journeys.and_then(|j| j.timelines());
    let period = opts
        .period
        .clone()
        .or_else(|| timelines.map(|t| (day_of(t.period.0, false), day_of(t.period.1, true))));
    let population = opts.population.or_else(|| timelines.and_then(|t| t.population));
    let mut warnings: Vec<String> = attr.warnings.clone();

    // Media-mix KPIs that the journeys lack join the valuation; the others have their own section.
    let journey_kpis: Vec<&str> = attr.summary.iter().map(|s| s.kpi.as_str()).collect();
    let mut external: Vec<ExternalKpi> = Vec::new();
    for (kpi, fit) in inputs.mmm {
        if !journey_kpis.contains(&kpi.as_str()) {
            external.push(fit.external_for(kpi, attr.period)?);
        }
    }
    let contribution = contribution_with(
        attr,
        goals,
        opts.costs.as_ref(),
        &external,
        &BTreeMap::<String, KpiSource>::new(),
    )?;
    warnings.extend(contribution.warnings.iter().cloned());
    let has_draws = |e: &ExternalKpi| e.credits.iter().all(|c| c.draws.len() >= 2);
    let level = attr
        .bootstrap
        .as_ref()
        .map(|b| b.settings.level)
        .or(external.iter().find(|e| has_draws(e)).map(|e| e.level));

    // Breakdowns: the same model by other dimensions, valued the same way.
    let mut breakdowns: Vec<(&Attribution, ContributionReport)> = Vec::new();
    for b in inputs.breakdowns {
        if b.by == attr.by || breakdowns.iter().any(|(o, _)| o.by == b.by) {
            return Err(Error::InvalidOption {
                option: "breakdowns",
                value: b.by.to_string(),
                reason: "each breakdown is by a dimension of its own, other than the attribution's".into(),
            });
        }
        if !b.models.iter().any(|m| m.label == model) {
            warnings.push(format!(
                "the breakdown by {} has no model `{model}`: it is left out of the report",
                b.by
            ));
            continue;
        }
        breakdowns.push((b, touchpoint_core::contribution(b, goals, opts.costs.as_ref())?));
    }
    let mut functions: Vec<FunctionSection> = Vec::new();
    let mut headline = Vec::new();
    for kpi in &goals.kpis {
        let rows: Vec<_> =
            contribution.rows.iter().filter(|r| r.model == model && r.kpi == kpi.name).collect();
        if rows.is_empty() {
            continue;
        }
        let ext = external.iter().find(|e| e.kpi == kpi.name);
        let mut section = goal_section(attr, &contribution, &model, kpi, incremental, cur, ext)?;
        for (b, bc) in &breakdowns {
            if !bc.rows.iter().any(|r| r.model == model && r.kpi == kpi.name) {
                continue;
            }
            let by = b.by.as_str().replace('_', " ");
            let id = format!("goal-{}-by-{}", kpi.name, b.by.as_str());
            let header = title_case(&by);
            let table = player_table(b, bc, &model, kpi, incremental, cur, None, (id, header));
            section.breakdowns.push(Breakdown { by, table });
        }
        let goal = kpi.name.replace('_', " ");
        headline.push(if goal == kpi.function {
            format!("{}: {}", title_case(&kpi.function), section.sentence)
        } else {
            format!("{}, {goal}: {}", title_case(&kpi.function), section.sentence)
        });
        match functions.iter_mut().find(|f| f.name == kpi.function) {
            Some(f) => f.goals.push(section),
            None => functions.push(FunctionSection { name: kpi.function.clone(), goals: vec![section] }),
        }
    }

    let roi = roi_table(&contribution, &model, cur);
    let mut mmm = Vec::new();
    for (kpi, fit) in inputs.mmm {
        let section = mmm_section(kpi, fit, cur)?;
        let inside = |(s, t): (i64, i64)| {
            let (first, last) = touchpoint_core::goals::period_days(s, t);
            match (fit.series.dates.first(), fit.series.dates.last()) {
                (Some(a), Some(b)) => i64::from(*a) >= first && i64::from(*b) <= last,
                _ => true,
            }
        };
        if let Some((a, b)) = &period {
            let same = attr.period.is_some_and(inside);
            if journey_kpis.contains(&kpi.as_str()) && !same {
                warnings.push(format!(
                    "the media-mix fit of `{kpi}` covers {}, the event log {a} to {b}: its numbers are over its own period and are not added to the goal sections",
                    section.period
                ));
            } else if !journey_kpis.contains(&kpi.as_str()) && !same {
                warnings.push(format!(
                    "the goal section of `{kpi}` takes the media-mix fit over the periods dated {a} to {b}; its own section shows the fit's whole series, {}",
                    section.period
                ));
            }
        }
        mmm.push(section);
    }
    let experiments = attr
        .tables
        .iter()
        .find(|t| t.name == "lift_tests")
        .map(|t| table_view(t, "experiments", Some(&model)));
    let comparison = (labels.len() > 1).then(|| comparison(attr, &model, incremental));
    let health = health_table(attr);
    let mut subtitle = Vec::new();
    if let Some((a, b)) = &period {
        subtitle.push(format!("{a} to {b}"));
    }
    if let Some(p) = population {
        subtitle.push(format!("{} people in the market", number(p as f64, 0)));
    }
    subtitle.push(format!("model: {model}"));
    if let Some(l) = level {
        subtitle.push(format!("{:.0}% intervals", l * 100.0));
    }
    if population.is_none() && incremental {
        warnings.push(
            "the report was not given the population (the people at risk): the baseline counts only the people in the log"
                .into(),
        );
    }
    warnings.sort();
    warnings.dedup();
    Ok(Page {
        title: opts.title.clone(),
        subtitle: subtitle.join(" · "),
        model,
        incremental,
        level,
        currency: opts.currency.clone(),
        headline,
        functions,
        roi,
        mmm,
        experiments,
        comparison,
        health,
        warnings,
    })
}

/// A time (microseconds since 1970, UTC) as the page shows it: the date at midnight, else date and
/// time. The end of a period `[start, end)` at midnight shows as the day before (its last day).
fn day_of(us: i64, end: bool) -> String {
    const DAY: i64 = 86_400_000_000;
    let at = if end && us % DAY == 0 { us - DAY } else { us };
    chrono::DateTime::from_timestamp_micros(at).map_or(us.to_string(), |t| {
        if us % DAY == 0 {
            t.format("%Y-%m-%d").to_string()
        } else {
            t.format("%Y-%m-%d %H:%M UTC").to_string()
        }
    })
}

/// A KPI's unit in the plural ("tickets"), or its name in words.
fn unit_name(kpi: &touchpoint_core::Kpi) -> String {
    kpi.unit.clone().map(|u| plural(&u)).unwrap_or_else(|| kpi.name.replace('_', " "))
}

/// One goal's section.
fn goal_section(
    attr: &Attribution,
    contribution: &ContributionReport,
    model: &str,
    kpi: &touchpoint_core::Kpi,
    incremental: bool,
    cur: &str,
    external: Option<&ExternalKpi>,
) -> Result<GoalSection> {
    let unit = unit_name(kpi);
    let uv = kpi.unit_value;
    let rows = sorted_rows(contribution, model, &kpi.name);
    let source = rows.first().map_or("journeys".to_owned(), |r| r.source.clone());
    // Each player's conversions interval, looked up once for the chart, the sentence and its
    // clauses.
    let intervals: std::collections::HashMap<&str, (Option<f64>, Option<f64>)> = rows
        .iter()
        .map(|r| (r.player.as_str(), conversions_interval(attr, model, &kpi.name, &r.player, external)))
        .collect();
    let conv_interval = |player: &str| intervals.get(player).copied().unwrap_or((None, None));
    let players: Vec<_> = rows.iter().filter(|r| r.player != BASELINE_PLAYER).collect();
    let base = rows.iter().find(|r| r.player == BASELINE_PLAYER);
    let added: f64 = players.iter().map(|r| r.conversions).sum();
    let added_value: f64 = players.iter().map(|r| r.value).sum();
    // The totals' intervals: over the joint draws of the valuation (core's GoalTotal), never a sum of
    // the players' intervals.
    let total = contribution.goals.iter().find(|g| g.model == model && g.kpi == kpi.name);
    let added_iv = total.and_then(|g| g.conversions_lower.zip(g.conversions_upper));
    let value_iv = total.and_then(|g| g.value_lower.zip(g.value_upper));
    let money = uv.is_some() || rows.iter().any(|r| r.value != 0.0);
    let table = player_table(
        attr,
        contribution,
        model,
        kpi,
        incremental,
        cur,
        external,
        (format!("goal-{}", kpi.name), "Player".into()),
    );
    let bars: Vec<svg::Bar> = players
        .iter()
        .map(|r| {
            if money {
                svg::Bar {
                    label: r.player.clone(),
                    value: r.value,
                    interval: r.value_lower.zip(r.value_upper),
                }
            } else {
                let (l, u) = conv_interval(&r.player);
                svg::Bar { label: r.player.clone(), value: r.conversions, interval: l.zip(u) }
            }
        })
        .collect();
    let axis = match (money, incremental) {
        (true, true) => format!("Incremental value ({cur}), {} intervals", level_text(attr, external)),
        (true, false) => format!("Credited value ({cur})"),
        (false, true) => format!("Incremental {unit}"),
        (false, false) => format!("Credited {unit}"),
    };
    let chart = svg::bars(&bars, &axis, &format!("chart-{}", kpi.name));
    let baseline_chart = base.map(|b| {
        let (bl, bu) = conv_interval(BASELINE_PLAYER);
        svg::bars(
            &[
                svg::Bar { label: "added by players".into(), value: added, interval: added_iv },
                svg::Bar { label: "would have happened".into(), value: b.conversions, interval: bl.zip(bu) },
            ],
            &if unit == kpi.name.replace('_', " ") {
                unit.clone()
            } else {
                format!("{} ({unit})", kpi.name.replace('_', " "))
            },
            &format!("baseline-{}", kpi.name),
        )
    });
    let iv = |x: Option<(f64, f64)>, d: usize, money: bool| {
        x.map_or(String::new(), |(l, u)| {
            if money {
                format!(" ({cur}{}\u{2013}{cur}{})", number(l, d), number(u, d))
            } else {
                format!(" ({}\u{2013}{})", number(l, d), number(u, d))
            }
        })
    };
    let who = format!("the {}s", attr.by.as_str().replace('_', " "));
    let mut sentence = if incremental {
        format!(
            "{who} added {} {unit}{}",
            number(added, decimals_for(added)),
            iv(added_iv, decimals_for(added), false)
        )
    } else {
        format!("{} {unit} credited to {who}", number(added, decimals_for(added)))
    };
    if money {
        sentence.push_str(&format!(", worth {cur}{}{}", number(added_value, 0), iv(value_iv, 0, true)));
    }
    if let Some(b) = base {
        sentence.push_str(&format!(
            "; {} would have happened anyway",
            number(b.conversions, decimals_for(b.conversions))
        ));
    }
    let top =
        players.iter().max_by(|a, b| a.conversions.total_cmp(&b.conversions).then(b.player.cmp(&a.player)));
    if let Some(top) = top.filter(|r| r.conversions > 0.0) {
        let (l, u) = conv_interval(&top.player);
        sentence.push_str(&format!(
            ". Most from {}: {}{}",
            top.player,
            number(top.conversions, decimals_for(top.conversions)),
            iv(l.zip(u), decimals_for(top.conversions), false)
        ));
    }
    // Which effects the intervals tell apart from none (issue "Honest intervals"): the heads ask
    // which channels demonstrably add, not only which add the most.
    if incremental {
        let ranged: Vec<(&str, f64)> = players
            .iter()
            .filter_map(|r| conv_interval(&r.player).0.map(|l| (r.player.as_str(), l)))
            .collect();
        let told: Vec<&str> = ranged.iter().filter(|(_, l)| *l > 0.0).map(|(p, _)| *p).collect();
        if ranged.len() > 1 && told.len() == ranged.len() {
            sentence.push_str(&format!(". Every {}'s range is above 0", attr.by.as_str().replace('_', " ")));
        } else if !ranged.is_empty() && told.len() < ranged.len() {
            let others = ranged.len() - told.len();
            sentence.push_str(&if told.is_empty() {
                format!(
                    ". No {}'s range is above 0: none is clearly adding",
                    attr.by.as_str().replace('_', " ")
                )
            } else {
                format!(
                    ". Clearly adding (range above 0): {}; the other {others} range{} include{} 0",
                    told.join(", "),
                    if others == 1 { "" } else { "s" },
                    if others == 1 { "s" } else { "" }
                )
            });
        }
    }
    sentence.push('.');
    Ok(GoalSection {
        kpi: kpi.name.clone(),
        unit,
        source,
        sentence,
        table,
        chart,
        baseline_chart,
        breakdowns: Vec::new(),
    })
}

/// Sorts a goal's rows: players by value (then conversions, then name), the baseline last.
fn sorted_rows<'a>(
    contribution: &'a ContributionReport,
    model: &str,
    kpi: &str,
) -> Vec<&'a touchpoint_core::goals::ContributionRow> {
    let mut rows: Vec<_> = contribution.rows.iter().filter(|r| r.model == model && r.kpi == kpi).collect();
    rows.sort_by(|a, b| {
        (a.player == BASELINE_PLAYER)
            .cmp(&(b.player == BASELINE_PLAYER))
            .then(b.value.total_cmp(&a.value))
            .then(b.conversions.total_cmp(&a.conversions))
            .then(a.player.cmp(&b.player))
    });
    rows
}

/// A goal's table: per player (and the baseline, last) the conversions added (or credited) and
/// their value, each with its interval, and the share of the added conversions. Conversions'
/// intervals are the attribution's for user-level credit; for media-mix credit the value's interval
/// in the KPI's units. `id` and `header` name the table and its first column.
#[allow(clippy::too_many_arguments)]
fn player_table(
    attr: &Attribution,
    contribution: &ContributionReport,
    model: &str,
    kpi: &touchpoint_core::Kpi,
    incremental: bool,
    cur: &str,
    external: Option<&ExternalKpi>,
    (id, header): (String, String),
) -> TableView {
    let unit = unit_name(kpi);
    let rows = sorted_rows(contribution, model, &kpi.name);
    let added: f64 = rows.iter().filter(|r| r.player != BASELINE_PLAYER).map(|r| r.conversions).sum();
    let mut table_rows = Vec::new();
    for r in &rows {
        let (cl, cu) = conversions_interval(attr, model, &kpi.name, &r.player, external);
        let share =
            if r.player == BASELINE_PLAYER || added <= 0.0 { None } else { Some(r.conversions / added) };
        table_rows.push(vec![
            Cell::text(r.player.clone()),
            Cell::num(Some(r.conversions), decimals_for(r.conversions)),
            Cell::num(cl, decimals_for(r.conversions)),
            Cell::num(cu, decimals_for(r.conversions)),
            Cell::num(Some(r.value), 0),
            Cell::num(r.value_lower, 0),
            Cell::num(r.value_upper, 0),
            Cell::num(share.map(|s| s * 100.0), 1),
        ]);
    }
    let verb = if incremental { "Added" } else { "Credited" };
    TableView {
        id,
        columns: vec![
            header,
            format!("{verb} ({unit})"),
            "low".into(),
            "high".into(),
            format!("Value ({cur})"),
            "low".into(),
            "high".into(),
            if incremental { "Share of added (%)".into() } else { "Share (%)".into() },
        ],
        rows: table_rows,
    }
}

/// A player's conversions interval: the attribution's for user-level credit, the fit's draws for
/// media-mix credit.
fn conversions_interval(
    attr: &Attribution,
    model: &str,
    kpi: &str,
    player: &str,
    external: Option<&ExternalKpi>,
) -> (Option<f64>, Option<f64>) {
    match external {
        Some(e) => external_interval(e, player),
        None => attr
            .credits
            .iter()
            .find(|c| c.model == model && c.kpi == kpi && c.player == player)
            .map_or((None, None), |c| (c.conversions_lower, c.conversions_upper)),
    }
}

/// A media-mix player's conversions interval, from the fit's draws (in the KPI's units, whatever its
/// unit value).
fn external_interval(e: &ExternalKpi, player: &str) -> (Option<f64>, Option<f64>) {
    let Some(c) = e.credits.iter().find(|c| c.player == player) else { return (None, None) };
    if c.draws.len() < 2 {
        return (None, None);
    }
    let settings = touchpoint_core::Resampling { level: e.level, resamples: c.draws.len(), seed: 0 };
    let mut v = c.draws.clone();
    touchpoint_core::bootstrap::interval(&mut v, &settings).map_or((None, None), |(l, u)| (Some(l), Some(u)))
}

fn level_text(attr: &Attribution, external: Option<&ExternalKpi>) -> String {
    let l = external.map(|e| e.level).or(attr.bootstrap.as_ref().map(|b| b.settings.level));
    l.map_or("no".into(), |l| format!("{:.0}%", l * 100.0))
}

fn roi_table(contribution: &ContributionReport, model: &str, cur: &str) -> TableView {
    let mut rows: Vec<_> =
        contribution.summary.iter().filter(|s| s.model == model && s.player != BASELINE_PLAYER).collect();
    rows.sort_by(|a, b| b.value.total_cmp(&a.value).then(a.player.cmp(&b.player)));
    TableView {
        id: "roi".into(),
        columns: vec![
            "Player".into(),
            format!("Value, all goals ({cur})"),
            "low".into(),
            "high".into(),
            format!("Cost ({cur})"),
            "ROI: (value - cost) / cost".into(),
            "low".into(),
            "high".into(),
            "Touches".into(),
            format!("Value per touch ({cur})"),
        ],
        rows: rows
            .iter()
            .map(|s| {
                vec![
                    Cell::text(s.player.clone()),
                    Cell::num(Some(s.value), 0),
                    Cell::num(s.value_lower, 0),
                    Cell::num(s.value_upper, 0),
                    Cell::num(s.cost, 0),
                    Cell::num(s.roi, 2),
                    Cell::num(s.roi_lower, 2),
                    Cell::num(s.roi_upper, 2),
                    Cell::num(Some(s.touches), 0),
                    Cell::num(s.value_per_touch, 2),
                ]
            })
            .collect(),
    }
}

fn mmm_section(kpi: &str, fit: &Fit, cur: &str) -> Result<MmmSection> {
    let day = |d: i32| {
        chrono::DateTime::from_timestamp(i64::from(d) * 86_400, 0)
            .map_or(d.to_string(), |t| t.format("%Y-%m-%d").to_string())
    };
    let dates = &fit.series.dates;
    let period = match (dates.first(), dates.last()) {
        (Some(a), Some(b)) => format!("{} to {} ({} periods)", day(*a), day(*b), dates.len()),
        _ => "no periods".into(),
    };
    let summary = fit.summary();
    let table = TableView {
        id: format!("mmm-{kpi}"),
        columns: vec![
            "Component".into(),
            "Kind".into(),
            format!("Contribution ({})", kpi.replace('_', " ")),
            "low".into(),
            "high".into(),
            "Share (%)".into(),
            "Spend or activity".into(),
            format!("{} per unit of spend", kpi.replace('_', " ")),
            "low".into(),
            "high".into(),
        ],
        rows: summary
            .iter()
            .map(|c| {
                let f = |x: f64| (!x.is_nan()).then_some(x);
                vec![
                    Cell::text(c.component.clone()),
                    Cell::text(c.kind.clone()),
                    Cell::num(f(c.contribution.mean), 0),
                    Cell::num(f(c.contribution.lower), 0),
                    Cell::num(f(c.contribution.upper), 0),
                    Cell::num(f(c.share.mean * 100.0), 1),
                    Cell::num(c.spend, 0),
                    Cell::num(c.kpi_per_spend.and_then(|r| f(r.mean)), 3),
                    Cell::num(c.kpi_per_spend.and_then(|r| f(r.lower)), 3),
                    Cell::num(c.kpi_per_spend.and_then(|r| f(r.upper)), 3),
                ]
            })
            .collect(),
    };
    let points = fit.response_curves(41, 1.5)?;
    let mut curves = Vec::new();
    for (spec, (_, current, observed_max)) in fit.model.channels.iter().zip(fit.channel_levels()) {
        let mine: Vec<_> = points.iter().filter(|p| p.channel == spec.name).collect();
        let has_band = mine.iter().all(|p| p.value.lower.is_finite() && p.value.upper.is_finite());
        let curve = svg::Curve {
            channel: spec.name.clone(),
            x: mine.iter().map(|p| p.x).collect(),
            mean: mine.iter().map(|p| p.value.mean).collect(),
            band: has_band.then(|| mine.iter().map(|p| (p.value.lower, p.value.upper)).collect()),
            current,
            observed_max,
        };
        curves.push(svg::curve(
            &curve,
            &format!("{} per period", spec.name),
            &format!("{} per period", kpi.replace('_', " ")),
            &format!("curve-{kpi}-{}", spec.name),
        ));
    }
    let _ = cur;
    let lifts = (!fit.lifts.is_empty()).then(|| TableView {
        id: format!("mmm-lifts-{kpi}"),
        columns: vec![
            "Channel".into(),
            "Level".into(),
            "Change".into(),
            format!("Measured change of {}", kpi.replace('_', " ")),
            "Its standard error".into(),
        ],
        rows: fit
            .lifts
            .iter()
            .map(|l| {
                vec![
                    Cell::text(l.channel.clone()),
                    Cell::num(Some(l.x), 1),
                    Cell::num(Some(l.delta_x), 1),
                    Cell::num(Some(l.delta_y), 1),
                    Cell::num(Some(l.sigma), 1),
                ]
            })
            .collect(),
    });
    Ok(MmmSection { kpi: kpi.to_owned(), period, table, curves, lifts })
}

/// Any named table of the attribution as a page table, rows of `model` only when it has a model
/// column.
fn table_view(t: &Table, id: &str, model: Option<&str>) -> TableView {
    let n = t.columns.first().map_or(0, |c| c.values.len());
    let keep: Vec<usize> = match (model, t.columns.iter().find(|c| c.name == "model")) {
        (Some(m), Some(col)) => match &col.values {
            Values::Text(v) => (0..n).filter(|&i| v[i] == m).collect(),
            _ => (0..n).collect(),
        },
        _ => (0..n).collect(),
    };
    let cols: Vec<_> = t.columns.iter().filter(|c| c.name != "model").collect();
    TableView {
        id: id.to_owned(),
        columns: cols.iter().map(|c| c.name.replace('_', " ")).collect(),
        rows: keep
            .iter()
            .map(|&i| {
                cols.iter()
                    .map(|c| match &c.values {
                        Values::Text(v) => Cell::text(v[i].clone()),
                        Values::Float(v) => Cell::num(v[i], float_decimals(v[i])),
                        Values::Int(v) => Cell::num(Some(v[i] as f64), 0),
                        Values::Bool(v) => Cell::text(if v[i] { "yes" } else { "no" }),
                    })
                    .collect()
            })
            .collect(),
    }
}

fn float_decimals(x: Option<f64>) -> usize {
    match x {
        Some(v) if v != 0.0 && v.abs() < 1.0 => (2 - v.abs().log10().floor() as i64).clamp(2, 8) as usize,
        Some(v) if v.abs() < 100.0 => 2,
        _ => 0,
    }
}

fn comparison(attr: &Attribution, model: &str, incremental: bool) -> Comparison {
    let labels: Vec<&str> = attr.models.iter().map(|m| m.label.as_str()).collect();
    let mut tables = Vec::new();
    for s in &attr.summary {
        let mut players: Vec<&str> = attr
            .credits
            .iter()
            .filter(|c| c.kpi == s.kpi && c.player != BASELINE_PLAYER)
            .map(|c| c.player.as_str())
            .collect();
        players.sort_unstable();
        players.dedup();
        let rows = players
            .iter()
            .map(|p| {
                let mut row = vec![Cell::text(*p)];
                for l in &labels {
                    let share = attr
                        .credits
                        .iter()
                        .find(|c| c.model == *l && c.kpi == s.kpi && c.player == *p)
                        .and_then(|c| c.share);
                    row.push(Cell::num(share.map(|x| x * 100.0), 1));
                }
                row
            })
            .collect();
        let mut columns = vec!["Player".to_owned()];
        columns.extend(labels.iter().map(|l| format!("{l} (%)")));
        tables.push((s.kpi.clone(), TableView { id: format!("compare-{}", s.kpi), columns, rows }));
    }
    let why = if incremental {
        format!(
            "The other models split every conversion among the touches before it, including the conversions that would have happened anyway: a channel that people with intent use on their way to buy (search, direct) collects credit it did not cause. {model} credits a player only the conversions that rise above the baseline after its exposures; its shares are of the added conversions. The shares below are each model's share of the conversions it credits."
        )
    } else {
        "No model of this attribution separates what would have happened anyway: every share below is of all conversions, caused or not. Run the additive-hazard model (with lift tests) for what the channels added.".to_owned()
    };
    Comparison { why, tables }
}

fn health_table(attr: &Attribution) -> TableView {
    let mut reasons: Vec<&str> = attr.unattributed.iter().map(|u| u.reason.as_str()).collect();
    reasons.sort_unstable();
    reasons.dedup();
    let mut columns: Vec<String> = [
        "KPI",
        "Conversions",
        "Attributed to a journey",
        "Unattributed",
        "Journeys",
        "Journeys without conversion",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    columns.extend(reasons.iter().map(|r| format!("unattributed: {}", r.replace('_', " "))));
    let rows = attr
        .summary
        .iter()
        .map(|s| {
            let mut row = vec![
                Cell::text(s.kpi.clone()),
                Cell::num(Some(s.conversions), decimals_for(s.conversions)),
                Cell::num(Some(s.attributed), decimals_for(s.attributed)),
                Cell::num(Some(s.unattributed), decimals_for(s.unattributed)),
                Cell::num(Some(s.journeys as f64), 0),
                Cell::num(Some(s.null_journeys as f64), 0),
            ];
            for r in &reasons {
                let n: f64 = attr
                    .unattributed
                    .iter()
                    .filter(|u| u.kpi == s.kpi && u.reason == *r)
                    .map(|u| u.conversions)
                    .sum();
                row.push(Cell::num(Some(n), decimals_for(n)));
            }
            row
        })
        .collect();
    TableView { id: "health".into(), columns, rows }
}

fn plural(unit: &str) -> String {
    if unit.ends_with('s') {
        unit.to_owned()
    } else {
        format!("{unit}s")
    }
}

fn title_case(s: &str) -> String {
    // Short names are acronyms (hr, it, pr).
    if s.chars().count() <= 2 {
        return s.to_uppercase();
    }
    let mut c = s.chars();
    c.next().map_or(String::new(), |f| f.to_uppercase().chain(c).collect())
}

const TEMPLATE: &str = include_str!("../templates/report.html");

/// The page as one self-contained HTML document.
pub fn render(page: &Page) -> Result<String> {
    let mut env = minijinja::Environment::new();
    env.add_template("report.html", TEMPLATE).map_err(|e| Error::Template(e.to_string()))?;
    let t = env.get_template("report.html").map_err(|e| Error::Template(e.to_string()))?;
    t.render(minijinja::context! { page => minijinja::Value::from(minijinja::value::Serde(page)) })
        .map_err(|e| Error::Template(format!("{e:#}")))
}

/// [`page`] and [`render`] in one call.
pub fn html(inputs: &Inputs<'_>, opts: &ReportOptions) -> Result<String> {
    render(&page(inputs, opts)?)
}

/// Writes the report to `path`: one file, created or replaced; its folder must exist. A path that is
/// a folder is refused (nothing of the user's is touched but the file they named).
pub fn write(inputs: &Inputs<'_>, opts: &ReportOptions, path: &Path) -> Result<()> {
    write_html(&html(inputs, opts)?, path)
}

/// Writes a rendered page to `path` by the rules of [`write`].
pub fn write_html(text: &str, path: &Path) -> Result<()> {
    if path.is_dir() {
        return Err(Error::Write {
            path: path.display().to_string(),
            reason: "it is a folder; name a file".into(),
        });
    }
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() && !p.is_dir() => {
            return Err(Error::Write {
                path: path.display().to_string(),
                reason: format!("its folder {} does not exist", p.display()),
            })
        }
        _ => {}
    }
    std::fs::write(path, text)
        .map_err(|e| Error::Write { path: path.display().to_string(), reason: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use touchpoint_core::{attribute, Dimension, JourneysBuilder, Kpi, ModelSpec, Weights};

    fn journeys() -> touchpoint_core::Journeys {
        let mut b = JourneysBuilder::new(&[]);
        let w = |c: f64| Weights { conversions: c, value: 0.0, nulls: 2.0 };
        b.push_path(1, "tickets", &["search", "email"], w(4.0)).unwrap();
        b.push_path(2, "tickets", &["email"], w(2.0)).unwrap();
        b.push_path(3, "tickets", &["search"], w(1.0)).unwrap();
        b.build()
    }

    fn book() -> GoalBook {
        let costs = BTreeMap::from([("search".to_owned(), 10.0), ("email".to_owned(), 5.0)]);
        GoalBook::new(
            vec![Kpi::new("tickets", "service").with_unit_value(2.0, Some("ticket"))],
            costs,
            vec![],
        )
        .unwrap()
    }

    #[test]
    fn a_hand_computed_page() {
        // Linear: search gets 4/2 + 1 = 3 tickets, email 4/2 + 2 = 4; at 2.0 a ticket, 6 and 8.
        let r =
            attribute(&journeys(), &[ModelSpec::from_name("linear").unwrap()], Dimension::Channel).unwrap();
        let goals = book();
        let inputs = Inputs { attribution: &r, goals: &goals, mmm: &[], journeys: None, breakdowns: &[] };
        let p = page(&inputs, &ReportOptions::default()).unwrap();
        assert!(!p.incremental && p.model == "linear" && p.level.is_none());
        assert_eq!(
            p.headline,
            vec!["Service, tickets: 7.0 tickets credited to the channels, worth $14. Most from email: 4.0."
                .to_owned()]
        );
        let t = &p.functions[0].goals[0].table;
        assert_eq!(t.rows.len(), 2);
        assert_eq!(
            (t.rows[0][0].text.as_str(), t.rows[0][1].value, t.rows[0][4].value),
            ("email", Some(4.0), Some(8.0))
        );
        assert_eq!(t.rows[1][7].value, Some(300.0 / 7.0));
        // ROI = (value - cost) / cost: email (8 - 5) / 5, search (6 - 10) / 10.
        let roi: Vec<_> = p.roi.rows.iter().map(|r| (r[0].text.clone(), r[5].value)).collect();
        assert_eq!(roi, vec![("email".to_owned(), Some(0.6)), ("search".to_owned(), Some(-0.4))]);
        let html = render(&p).unwrap();
        assert!(html.contains(r#"<td class="num" data-value="0.6">0.60</td>"#), "{html}");
        assert!(html.contains("does not tell what would have happened anyway"));
        // An unknown model is a typed error naming the models there are.
        let bad = ReportOptions { model: Some("shapley".into()), ..ReportOptions::default() };
        assert!(matches!(page(&inputs, &bad), Err(Error::InvalidOption { option: "model", .. })));
    }

    #[test]
    fn writing_refuses_a_folder_and_a_missing_folder() {
        let dir = std::env::temp_dir().join(format!("tp-report-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(matches!(write_html("x", &dir), Err(Error::Write { .. })));
        let missing = dir.join("no").join("r.html");
        assert!(matches!(write_html("x", &missing), Err(Error::Write { .. })));
        assert!(!dir.join("no").exists());
        write_html("<p>x</p>", &dir.join("r.html")).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("r.html")).unwrap(), "<p>x</p>");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
