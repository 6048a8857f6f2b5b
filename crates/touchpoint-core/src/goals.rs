//! Business goals: KPIs valued in money and owned by business functions, costs per player, and which
//! channels are social; and the contribution report that values an attribution with them.
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::attribution::Attribution;
use crate::error::{Error, Result};
use crate::vocab::BASELINE_PLAYER;

/// A goal of the organisation: what converts, which function owns it, what one conversion is worth.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Kpi {
    /// Name, as in the journeys' KPI column.
    #[serde(default)]
    pub name: String,
    /// Business function (free text: marketing, sales, service, hr...).
    #[serde(default = "default_function")]
    pub function: String,
    /// Money per conversion; when absent the value from the data is used.
    #[serde(default)]
    pub unit_value: Option<f64>,
    /// Display unit, e.g. "ticket".
    #[serde(default)]
    pub unit: Option<String>,
}

fn default_function() -> String {
    "unassigned".to_owned()
}

impl Kpi {
    /// A KPI valued by the data, owned by `function`.
    pub fn new(name: &str, function: &str) -> Self {
        Kpi { name: name.to_owned(), function: function.to_owned(), unit_value: None, unit: None }
    }

    /// The same KPI with a money value per conversion.
    pub fn with_unit_value(mut self, unit_value: f64, unit: Option<&str>) -> Self {
        self.unit_value = Some(unit_value);
        self.unit = unit.map(str::to_owned);
        self
    }
}

/// The KPIs, the costs of the analysis window per player (any dimension's names), the social channels.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoalBook {
    /// The KPIs.
    #[serde(default, rename = "kpi")]
    pub kpis: Vec<Kpi>,
    /// Cost per player name for the analysis window (a player named twice is an error).
    #[serde(default, deserialize_with = "costs_once")]
    pub costs: BTreeMap<String, f64>,
    /// Channels that count as social.
    #[serde(default)]
    pub social: Vec<String>,
    /// Money per unit of an organic channel's volume (per care reply, per employee share, per
    /// post): organic work costs staff time, so a planner can weigh it against paid media. Media
    /// channels are measured in money already and take none.
    #[serde(default, deserialize_with = "costs_once", skip_serializing_if = "BTreeMap::is_empty")]
    pub unit_costs: BTreeMap<String, f64>,
}

/// The largest goal book file read (a goal book is a few KPIs and costs; this refuses a device or a
/// runaway file before it fills memory).
pub const MAX_GOAL_BOOK_BYTES: u64 = 16 << 20;

/// Costs as a map in which no player is named twice (JSON objects may repeat a key; serde keeps the
/// last silently).
fn costs_once<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<BTreeMap<String, f64>, D::Error> {
    struct Once;
    impl<'de> serde::de::Visitor<'de> for Once {
        type Value = BTreeMap<String, f64>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a table of costs per player")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> std::result::Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some((player, cost)) = map.next_entry::<String, f64>()? {
                if out.insert(player.clone(), cost).is_some() {
                    return Err(serde::de::Error::custom(format!(
                        "costs: `{player}` is given twice; give each player's cost once"
                    )));
                }
            }
            Ok(out)
        }
    }
    d.deserialize_map(Once)
}

impl GoalBook {
    /// A goal book from parts, validated.
    pub fn new(kpis: Vec<Kpi>, costs: BTreeMap<String, f64>, social: Vec<String>) -> Result<Self> {
        let book = GoalBook { kpis, costs, social, unit_costs: BTreeMap::new() };
        book.validate("(in memory)")?;
        Ok(book)
    }

    /// Loads a goal book from TOML (`.toml`) or JSON (`.json`), validated; errors name the file and key.
    pub fn load(path: &Path) -> Result<Self> {
        let shown = path.display().to_string();
        let bad = |reason: String| Error::GoalBook { source_name: shown.clone(), reason };
        let text = touchpoint_util::files::read_text(path, MAX_GOAL_BOOK_BYTES)
            .map_err(|e| bad(format!("cannot read: {e}")))?;
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or_default().to_ascii_lowercase();
        let book = match ext.as_str() {
            "toml" => Self::from_toml(&text, &shown)?,
            "json" => Self::from_json(&text, &shown)?,
            _ => return Err(bad("unknown format: expected a .toml or .json file".into())),
        };
        Ok(book)
    }

    /// Reads TOML text (`source` names it in errors).
    pub fn from_toml(text: &str, source: &str) -> Result<Self> {
        let book: GoalBook = toml::from_str(text).map_err(|e| Error::GoalBook {
            source_name: source.to_owned(),
            reason: format!("malformed TOML: {}", e.to_string().trim_end()),
        })?;
        book.validate(source)?;
        Ok(book)
    }

    /// Reads JSON text (`source` names it in errors).
    pub fn from_json(text: &str, source: &str) -> Result<Self> {
        // serde reads a struct from an array too (`[]` as an empty goal book): only an object is one.
        if !text.trim_start().starts_with('{') {
            return Err(Error::GoalBook {
                source_name: source.to_owned(),
                reason: "expected a JSON object with `kpi`, `costs` and `social`".into(),
            });
        }
        let book: GoalBook = serde_json::from_str(text).map_err(|e| Error::GoalBook {
            source_name: source.to_owned(),
            reason: format!("malformed JSON: {e}"),
        })?;
        book.validate(source)?;
        Ok(book)
    }

    /// Checks names, duplicates, unit values and costs.
    pub fn validate(&self, source: &str) -> Result<()> {
        let bad = |reason: String| Error::GoalBook { source_name: source.to_owned(), reason };
        for (i, k) in self.kpis.iter().enumerate() {
            if k.name.trim().is_empty() {
                return Err(bad(format!("kpi #{} has no `name`", i + 1)));
            }
            if self.kpis[..i].iter().any(|o| o.name == k.name) {
                return Err(bad(format!("kpi `{}` is defined twice", k.name)));
            }
            if let Some(u) = k.unit_value {
                if !(u.is_finite() && u >= 0.0) {
                    return Err(bad(format!("kpi `{}`: `unit_value` = {u} must be finite and >= 0", k.name)));
                }
            }
        }
        for (player, cost) in &self.costs {
            if !(cost.is_finite() && *cost >= 0.0) {
                return Err(bad(format!("costs: `{player}` = {cost} must be finite and >= 0")));
            }
        }
        for (channel, cost) in &self.unit_costs {
            if !(cost.is_finite() && *cost > 0.0) {
                return Err(bad(format!("unit_costs: `{channel}` = {cost} must be finite and > 0")));
            }
        }
        Ok(())
    }

    /// The KPI named `name`.
    pub fn kpi(&self, name: &str) -> Option<&Kpi> {
        self.kpis.iter().find(|k| k.name == name)
    }
}

/// One (model, player, KPI) cell of a contribution report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContributionRow {
    /// Model label.
    pub model: String,
    /// Player name.
    pub player: String,
    /// KPI name.
    pub kpi: String,
    /// The KPI's business function.
    pub function: String,
    /// Credited conversions.
    pub conversions: f64,
    /// Money value: unit_value x conversions, or the credited data value.
    pub value: f64,
    /// Lower end of the bootstrap interval of `value` (attributions with intervals).
    #[serde(default)]
    pub value_lower: Option<f64>,
    /// Upper end of the interval of `value`.
    #[serde(default)]
    pub value_upper: Option<f64>,
    /// Where the KPI's credit comes from: `journeys` (the attribution) or an external source's name
    /// (`mmm` for a media-mix fit).
    #[serde(default = "journeys_source")]
    pub source: String,
}

fn journeys_source() -> String {
    JOURNEYS_SOURCE.to_string()
}

/// The `source` of credit that comes from the attribution.
pub const JOURNEYS_SOURCE: &str = "journeys";

/// Credit for one KPI measured without journeys, by a media-mix model: per player (channel, or
/// [`BASELINE_PLAYER`] for what happens without any channel), its conversions in the KPI's units,
/// point estimate and posterior draws.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExternalKpi {
    /// KPI name (must be in the goal book).
    pub kpi: String,
    /// Name of the source (`mmm`), shown in the rows' `source`.
    pub source: String,
    /// Credit per player.
    pub credits: Vec<ExternalCredit>,
    /// Spend per paid channel over the source's series, to check against the goal book's costs.
    pub spend: BTreeMap<String, f64>,
    /// Level of the source's intervals.
    pub level: f64,
    /// The dates of the first and last period the credit covers (days since 1970), when known. A
    /// contribution report refuses credit that reaches outside the journeys' period.
    #[serde(default)]
    pub period: Option<(i32, i32)>,
}

/// One player's credit from an [`ExternalKpi`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExternalCredit {
    /// Player (channel) name, or [`BASELINE_PLAYER`].
    pub player: String,
    /// Point estimate (posterior mean) of its conversions.
    pub conversions: f64,
    /// Its conversions per posterior draw (empty, or one value, when the source has no draws).
    pub draws: Vec<f64>,
}

/// For a KPI that both the attribution and an external source measure, which one the report uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KpiSource {
    /// The attribution's credit.
    Journeys,
    /// The external source's credit.
    External,
}

/// Per (model, player): business value across KPIs, touches, cost and ROI.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContributionSummary {
    /// Model label.
    pub model: String,
    /// Player name.
    pub player: String,
    /// Money value across KPIs.
    pub value: f64,
    /// Share of the model's total value.
    pub value_share: Option<f64>,
    /// Touches that entered.
    pub touches: f64,
    /// value / touches (None without touches).
    pub value_per_touch: Option<f64>,
    /// Cost of the analysis window (None when unknown).
    pub cost: Option<f64>,
    /// (value - cost) / cost; None at zero or unknown cost.
    pub roi: Option<f64>,
    /// Whether the player is a social channel (reports by channel only).
    pub social: Option<bool>,
    /// Lower end of the bootstrap interval of `value` (attributions with intervals).
    #[serde(default)]
    pub value_lower: Option<f64>,
    /// Upper end of the interval of `value`.
    #[serde(default)]
    pub value_upper: Option<f64>,
    /// Lower end of the bootstrap interval of `value_share` (attributions with intervals).
    #[serde(default)]
    pub value_share_lower: Option<f64>,
    /// Upper end of the interval of `value_share`.
    #[serde(default)]
    pub value_share_upper: Option<f64>,
    /// Lower end of the bootstrap interval of `roi` (attributions with intervals).
    #[serde(default)]
    pub roi_lower: Option<f64>,
    /// Upper end of the interval of `roi`.
    #[serde(default)]
    pub roi_upper: Option<f64>,
}

/// Social vs non-social totals of one model (reports by channel).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SocialTotal {
    /// Model label.
    pub model: String,
    /// Social (true) or not.
    pub social: bool,
    /// Money value.
    pub value: f64,
    /// Share of the model's total value.
    pub value_share: Option<f64>,
    /// Cost of the group's channels with a known cost.
    pub cost: f64,
    /// (value - cost) / cost; None at zero cost.
    pub roi: Option<f64>,
    /// Lower end of the bootstrap interval of `value` (attributions with intervals).
    #[serde(default)]
    pub value_lower: Option<f64>,
    /// Upper end of the interval of `value`.
    #[serde(default)]
    pub value_upper: Option<f64>,
    /// Lower end of the bootstrap interval of `value_share` (attributions with intervals).
    #[serde(default)]
    pub value_share_lower: Option<f64>,
    /// Upper end of the interval of `value_share`.
    #[serde(default)]
    pub value_share_upper: Option<f64>,
    /// Lower end of the bootstrap interval of `roi` (attributions with intervals).
    #[serde(default)]
    pub roi_lower: Option<f64>,
    /// Upper end of the interval of `roi`.
    #[serde(default)]
    pub roi_upper: Option<f64>,
}

/// Per (model, KPI): what the players added in all and what would have happened anyway, in the KPI's
/// units and in money. The intervals come from the same joint draws as every other interval of the
/// report: the total of each resample (or posterior draw), never a sum of the players' intervals.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GoalTotal {
    /// Model label.
    pub model: String,
    /// KPI name.
    pub kpi: String,
    /// The KPI's business function.
    pub function: String,
    /// Where its credit comes from: `journeys` or the external source's name.
    pub source: String,
    /// Conversions credited to the players (added, for a model with a baseline).
    pub conversions: f64,
    /// Lower end of the interval of `conversions`.
    pub conversions_lower: Option<f64>,
    /// Upper end of the interval of `conversions`.
    pub conversions_upper: Option<f64>,
    /// Their money value.
    pub value: f64,
    /// Lower end of the interval of `value`.
    pub value_lower: Option<f64>,
    /// Upper end of the interval of `value`.
    pub value_upper: Option<f64>,
    /// Conversions that would have happened anyway (models with a baseline).
    pub baseline: Option<f64>,
    /// Lower end of the interval of `baseline`.
    pub baseline_lower: Option<f64>,
    /// Upper end of the interval of `baseline`.
    pub baseline_upper: Option<f64>,
    /// The baseline's money value.
    pub baseline_value: Option<f64>,
}

/// An attribution valued with a goal book.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContributionReport {
    /// The player dimension.
    pub by: crate::journeys::Dimension,
    /// Long rows: model, player, KPI, function, conversions, value.
    pub rows: Vec<ContributionRow>,
    /// Per model and player.
    pub summary: Vec<ContributionSummary>,
    /// Social vs non-social per model (empty unless by channel).
    pub social: Vec<SocialTotal>,
    /// Per model and KPI: added in all and what would have happened anyway.
    #[serde(default)]
    pub goals: Vec<GoalTotal>,
    /// Things to know (costs for players that never appear...).
    pub warnings: Vec<String>,
}

/// Rows with value, value share and ROI, whose intervals [`contribution`] sets.
trait Bounds {
    /// Sets the (lower, upper) of value, value share and ROI; a share or ROI the row does not have
    /// (null) keeps no interval.
    fn set_bounds(&mut self, b: [(Option<f64>, Option<f64>); 3]);
}

macro_rules! bounds {
    ($t:ty) => {
        impl Bounds for $t {
            fn set_bounds(&mut self, [v, s, r]: [(Option<f64>, Option<f64>); 3]) {
                (self.value_lower, self.value_upper) = v;
                if self.value_share.is_some() {
                    (self.value_share_lower, self.value_share_upper) = s;
                }
                if self.roi.is_some() {
                    (self.roi_lower, self.roi_upper) = r;
                }
            }
        }
    };
}
bounds!(ContributionSummary);
bounds!(SocialTotal);

/// The days (since 1970) whose midnight UTC lies in `[start, end)` (microseconds): first and last.
pub fn period_days(start: i64, end: i64) -> (i64, i64) {
    const DAY: i64 = 86_400_000_000;
    (start.div_euclid(DAY) + i64::from(start.rem_euclid(DAY) != 0), (end - 1).div_euclid(DAY))
}

/// Days since 1970 as an ISO date (civil calendar; Hinnant's days-to-civil algorithm,
/// <https://howardhinnant.github.io/date_algorithms.html>), for messages (core has no chrono).
fn iso_day(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

fn roi(value: f64, cost: Option<f64>) -> Option<f64> {
    cost.filter(|c| *c > 0.0).map(|c| (value - c) / c)
}

/// Values `attribution` with `goals`: money per player and KPI, totals per player with touches, cost and
/// ROI, and social vs non-social totals when by channel. `costs` overrides the goal book's costs.
///
/// For a model with a baseline (`additive_hazard`) the players' conversions are incremental, so their
/// value and ROI are incremental too; the `(baseline)` row, what would have happened anyway, is reported
/// on its own line with no share, cost or ROI, and is in no value-share denominator.
pub fn contribution(
    attribution: &Attribution,
    goals: &GoalBook,
    costs: Option<&BTreeMap<String, f64>>,
) -> Result<ContributionReport> {
    contribution_with(attribution, goals, costs, &[], &BTreeMap::new())
}

/// [`contribution`] with KPIs measured without journeys (media-mix fits): each model's report gains the
/// external KPIs' credit (rows with their `source`), so a player's value across goals adds the
/// user-level KPIs and the external ones. A KPI both in the attribution and in `external` must be
/// settled in `sources` (it is never counted twice). The attribution must be by channel.
///
/// Intervals: joint draw `r` of `n` pairs the attribution's resample `r` with draw `r * len / n` of
/// each external source's `len` draws (independent sources, so any pairing samples their joint
/// distribution; spreading over the draws avoids the autocorrelation of consecutive ones). Without
/// resamples, the intervals come from the external draws alone, and a warning says so.
pub fn contribution_with(
    attribution: &Attribution,
    goals: &GoalBook,
    costs: Option<&BTreeMap<String, f64>>,
    external: &[ExternalKpi],
    sources: &BTreeMap<String, KpiSource>,
) -> Result<ContributionReport> {
    let mut warnings = Vec::new();
    let mut kept = Vec::new();
    let mut dropped_kpis = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for e in external {
        if !seen.insert(e.kpi.as_str()) {
            return Err(Error::InvalidOption {
                option: "mmm",
                value: e.kpi.clone(),
                reason: "the KPI is given by two external sources: give one".into(),
            });
        }
        let in_attr = attribution.credits.iter().any(|c| c.kpi == e.kpi);
        match (in_attr, sources.get(&e.kpi)) {
            (true, None) => {
                return Err(Error::InvalidOption {
                    option: "sources",
                    value: e.kpi.clone(),
                    reason: format!(
                        "KPI `{}` is measured both by the journeys and by the {} fit; say which one the report uses (sources={{\"{}\": \"journeys\" or \"{}\"}}), it is never counted twice",
                        e.kpi, e.source, e.kpi, e.source
                    ),
                })
            }
            (true, Some(KpiSource::Journeys)) => continue,
            (true, Some(KpiSource::External)) => dropped_kpis.push(e.kpi.clone()),
            (false, _) => {}
        }
        if let (Some((a, b)), Some((s, t))) = (e.period, attribution.period) {
            // Periods are dated by their first day, at midnight UTC: a period whose date lies in
            // [s, t) belongs to it (days from ceil(s) to floor(t - 1)).
            let (first, last) = period_days(s, t);
            if i64::from(a) < first || i64::from(b) > last {
                return Err(Error::InvalidOption {
                    option: "mmm",
                    value: e.kpi.clone(),
                    reason: format!(
                        "the {} credit of `{}` covers the periods dated {} to {}, the journeys {} to {}: values over different windows cannot be added; take the fit over the journeys' period (tp.contribution does so by default; in Rust, Fit::external_between)",
                        e.source,
                        e.kpi,
                        iso_day(i64::from(a)),
                        iso_day(i64::from(b)),
                        iso_day(first),
                        iso_day(last)
                    ),
                });
            }
        } else if e.period.is_some() && attribution.period.is_none() {
            warnings.push(format!(
                "the attribution has no observation period (a path table), so the {} credit of `{}` is over the fit's whole series; check that the two cover the same time",
                e.source, e.kpi
            ));
        }
        kept.push(e);
    }
    for k in sources.keys() {
        if !external.iter().any(|e| &e.kpi == k) {
            return Err(Error::InvalidOption {
                option: "sources",
                value: k.clone(),
                reason: "names a KPI that no external fit measures".into(),
            });
        }
    }
    if !kept.is_empty() && attribution.by != crate::journeys::Dimension::Channel {
        return Err(Error::InvalidOption {
            option: "mmm",
            value: attribution.by.to_string(),
            reason: "a media-mix fit credits channels: combine it with an attribution by channel".into(),
        });
    }
    let costs_used = costs.unwrap_or(&goals.costs);
    for e in &kept {
        for (channel, spend) in &e.spend {
            if let Some(cost) = costs_used.get(channel) {
                if (cost - spend).abs() > 0.01 * spend.abs().max(cost.abs()) {
                    warnings.push(format!(
                        "cost of `{channel}` is {cost} in the goal book but the {} fit of `{}` saw a spend of {spend}: the report's ROI uses the goal book's",
                        e.source, e.kpi
                    ));
                }
            }
        }
    }
    // A channel of a fit that the journeys never name is its own player: say so (a spelling
    // difference would otherwise split one channel in two).
    let journey_players: std::collections::BTreeSet<&str> =
        attribution.credits.iter().map(|c| c.player.as_str()).collect();
    for e in &kept {
        let stray: Vec<&str> = e
            .credits
            .iter()
            .map(|c| c.player.as_str())
            .filter(|p| *p != BASELINE_PLAYER && !journey_players.contains(p))
            .collect();
        if !stray.is_empty() && !attribution.credits.is_empty() {
            warnings.push(format!(
                "channels of the {} fit of `{}` that no journey names: {} (each is its own player; check the spelling if one is a journey channel)",
                e.source,
                e.kpi,
                stray.join(", ")
            ));
        }
    }
    let ext: Vec<&ExternalKpi> = kept;
    let drop: &[String] = &dropped_kpis;
    let mut report = build(attribution, goals, costs, None, &ext, None, drop)?;
    // The attribution's own warnings about a KPI the report takes from elsewhere do not apply.
    report.warnings.retain(|w| !drop.iter().any(|k| w.starts_with(&format!("KPI `{k}`"))));
    report.warnings.extend(warnings);
    let ext_draws =
        ext.iter().map(|e| e.credits.iter().map(|c| c.draws.len()).min().unwrap_or(0)).max().unwrap_or(0);
    let boot = attribution.bootstrap.as_ref();
    if boot.is_none() && ext_draws < 2 {
        return Ok(report);
    }
    if boot.is_none() {
        report.warnings.push(
            "the intervals reflect the media-mix posterior only: the attribution has no intervals (attribute with intervals= for both)"
                .into(),
        );
    }
    let n = boot.map_or(ext_draws, |b| b.conversions.len());
    let level = boot.map_or_else(|| ext.first().map_or(0.9, |e| e.level), |b| b.settings.level);
    let settings = crate::bootstrap::Resampling { level, ..Default::default() };
    {
        // Per joint draw, only the numbers (not whole reports): value per row, and value, value share
        // and ROI per summary and social row.
        type Nums = (
            Vec<f64>,
            Vec<(f64, Option<f64>, Option<f64>)>,
            Vec<(f64, Option<f64>, Option<f64>)>,
            Vec<(f64, f64, Option<f64>)>,
        );
        let mut draws: Vec<Nums> = Vec::with_capacity(n);
        for r in 0..n {
            let numbers = boot.map(|b| (b.conversions[r].as_slice(), b.value[r].as_slice()));
            let d = build(attribution, goals, costs, numbers, &ext, Some((r, n)), drop)?;
            draws.push((
                d.rows.iter().map(|x| x.value).collect(),
                d.summary.iter().map(|x| (x.value, x.value_share, x.roi)).collect(),
                d.social.iter().map(|x| (x.value, x.value_share, x.roi)).collect(),
                d.goals.iter().map(|x| (x.conversions, x.value, x.baseline)).collect(),
            ));
        }
        let all = vec![true; n];
        let usable =
            |model: &str, kpi: Option<&str>| boot.map_or_else(|| all.clone(), |b| b.usable(model, kpi));
        // A row of one KPI leaves out the resamples its model failed on for that KPI; a total over KPIs
        // those it failed on for any KPI.
        // Without resamples a number that only the attribution makes does not move between draws: it
        // gets no interval rather than a zero-width one.
        let span = |get: &dyn Fn(&Nums) -> Option<f64>, usable: &[bool]| {
            let mut v: Vec<f64> = (0..n).filter(|&r| usable[r]).filter_map(|r| get(&draws[r])).collect();
            match crate::bootstrap::interval(&mut v, &settings) {
                Some((lo, hi)) if boot.is_some() || lo < hi => (Some(lo), Some(hi)),
                _ => (None, None),
            }
        };
        for i in 0..report.rows.len() {
            let row = &report.rows[i];
            // An attribution without resamples has no interval on its own rows.
            if boot.is_none() && row.source == JOURNEYS_SOURCE {
                continue;
            }
            let mask =
                if row.source == JOURNEYS_SOURCE { usable(&row.model, Some(&row.kpi)) } else { all.clone() };
            (report.rows[i].value_lower, report.rows[i].value_upper) = span(&|d| Some(d.0[i]), &mask);
        }
        for i in 0..report.summary.len() {
            let usable = usable(&report.summary[i].model, None);
            report.summary[i].set_bounds([
                span(&|d| Some(d.1[i].0), &usable),
                span(&|d| d.1[i].1, &usable),
                span(&|d| d.1[i].2, &usable),
            ]);
        }
        for i in 0..report.goals.len() {
            let g = &report.goals[i];
            if boot.is_none() && g.source == JOURNEYS_SOURCE {
                continue;
            }
            let mask = if g.source == JOURNEYS_SOURCE { usable(&g.model, Some(&g.kpi)) } else { all.clone() };
            let g = &mut report.goals[i];
            (g.conversions_lower, g.conversions_upper) = span(&|d| Some(d.3[i].0), &mask);
            (g.value_lower, g.value_upper) = span(&|d| Some(d.3[i].1), &mask);
            if g.baseline.is_some() {
                (g.baseline_lower, g.baseline_upper) = span(&|d| d.3[i].2, &mask);
            }
        }
        for i in 0..report.social.len() {
            let usable = usable(&report.social[i].model, None);
            report.social[i].set_bounds([
                span(&|d| Some(d.2[i].0), &usable),
                span(&|d| d.2[i].1, &usable),
                span(&|d| d.2[i].2, &usable),
            ]);
        }
    }
    Ok(report)
}

/// Per model and KPI (the goal book's order): the players' total and the baseline, from the rows.
fn goal_totals(
    models: &[crate::attribution::ModelRecord],
    goals: &GoalBook,
    rows: &[ContributionRow],
) -> Vec<GoalTotal> {
    let mut out = Vec::new();
    for m in models {
        for kpi in &goals.kpis {
            let mine: Vec<&ContributionRow> =
                rows.iter().filter(|r| r.model == m.label && r.kpi == kpi.name).collect();
            let Some(first) = mine.first() else { continue };
            let players = mine.iter().filter(|r| r.player != BASELINE_PLAYER);
            let base = mine.iter().find(|r| r.player == BASELINE_PLAYER);
            out.push(GoalTotal {
                model: m.label.clone(),
                kpi: kpi.name.clone(),
                function: kpi.function.clone(),
                source: first.source.clone(),
                conversions: players.clone().map(|r| r.conversions).sum(),
                conversions_lower: None,
                conversions_upper: None,
                value: players.map(|r| r.value).sum(),
                value_lower: None,
                value_upper: None,
                baseline: base.map(|b| b.conversions),
                baseline_lower: None,
                baseline_upper: None,
                baseline_value: base.map(|b| b.value),
            });
        }
    }
    out
}

/// The report of the attribution's credit, or of one resample's (`numbers`: conversions and value per
/// credit row), with the external KPIs' credit (point estimates, or draw `draw mod n`) under every
/// model; the attribution's rows of the KPIs in `drop` are left out (an external source measures
/// them).
fn build(
    attribution: &Attribution,
    goals: &GoalBook,
    costs: Option<&BTreeMap<String, f64>>,
    numbers: Option<(&[f64], &[f64])>,
    external: &[&ExternalKpi],
    draw: Option<(usize, usize)>,
    drop: &[String],
) -> Result<ContributionReport> {
    let costs = costs.unwrap_or(&goals.costs);
    for (player, cost) in costs {
        if !(cost.is_finite() && *cost >= 0.0) {
            return Err(Error::GoalBook {
                source_name: "costs".into(),
                reason: format!("`{player}` = {cost} must be finite and >= 0"),
            });
        }
    }
    let mut warnings = Vec::new();
    let mut rows = Vec::new();
    let find_kpi = |name: &str| {
        goals.kpi(name).ok_or_else(|| Error::UnknownKpi {
            kpi: name.to_string(),
            known: goals.kpis.iter().map(|k| k.name.as_str()).collect::<Vec<_>>().join(", "),
        })
    };
    for (i, c) in attribution.credits.iter().enumerate() {
        if drop.contains(&c.kpi) {
            continue;
        }
        let (conversions, data_value) = numbers.map_or((c.conversions, c.value), |(cs, vs)| (cs[i], vs[i]));
        let kpi = find_kpi(&c.kpi)?;
        rows.push(ContributionRow {
            model: c.model.clone(),
            player: c.player.clone(),
            kpi: c.kpi.clone(),
            function: kpi.function.clone(),
            conversions,
            value: kpi.unit_value.map_or(data_value, |u| u * conversions),
            value_lower: None,
            value_upper: None,
            source: JOURNEYS_SOURCE.to_string(),
        });
    }
    // External KPIs: the same credit under every model of the attribution. Without a unit value the
    // target's own units are taken as money (e.g. revenue).
    for m in &attribution.models {
        for e in external {
            let kpi = find_kpi(&e.kpi)?;
            for c in &e.credits {
                let conversions = match draw {
                    // Spread over all the draws (chains in order), not the first n of one chain.
                    Some((r, n)) if c.draws.len() >= 2 => {
                        let len = c.draws.len();
                        c.draws[if n <= len { r * len / n } else { r % len }]
                    }
                    _ => c.conversions,
                };
                rows.push(ContributionRow {
                    model: m.label.clone(),
                    player: c.player.clone(),
                    kpi: e.kpi.clone(),
                    function: kpi.function.clone(),
                    conversions,
                    value: kpi.unit_value.map_or(conversions, |u| u * conversions),
                    value_lower: None,
                    value_upper: None,
                    source: e.source.clone(),
                });
            }
        }
    }
    // A unit value times the credit past f64's range would make values, shares and ROI inf or NaN.
    if let Some(r) = rows.iter().find(|r| !r.value.is_finite()) {
        return Err(Error::GoalBook {
            source_name: "goal book".into(),
            reason: format!(
                "kpi `{}`: the value of {} conversions credited to `{}` by {} is {}, beyond what a number holds; check `unit_value`",
                r.kpi, r.conversions, r.player, r.model, r.value
            ),
        });
    }
    let touches: HashMap<&str, f64> = attribution.touches.iter().map(|(p, t)| (p.as_str(), *t)).collect();
    let by_channel = attribution.by == crate::journeys::Dimension::Channel;
    let mut summary = Vec::new();
    let mut social = Vec::new();
    for m in &attribution.models {
        let mut per: BTreeMap<&str, f64> = BTreeMap::new();
        for r in rows.iter().filter(|r| r.model == m.label) {
            *per.entry(r.player.as_str()).or_insert(0.0) += r.value;
        }
        // The baseline (conversions that would have happened anyway) is its own line: in no share, no
        // social group and no ROI, so every player's value and ROI are incremental.
        let total: f64 = per.iter().filter(|(p, _)| **p != BASELINE_PLAYER).map(|(_, v)| v).sum();
        if let Some((player, _)) = per.iter().find(|(_, v)| !v.is_finite()) {
            return Err(Error::GoalBook {
                source_name: "goal book".into(),
                reason: format!("the value of `{player}` across KPIs under {} is beyond what a number holds; check the KPIs' `unit_value`", m.label),
            });
        }
        if !total.is_finite() {
            return Err(Error::GoalBook {
                source_name: "goal book".into(),
                reason: format!(
                    "the total value under {} is beyond what a number holds; check the KPIs' `unit_value`",
                    m.label
                ),
            });
        }
        let mut groups = [(0.0, 0.0), (0.0, 0.0)];
        for (player, value) in &per {
            if *player == BASELINE_PLAYER {
                summary.push(ContributionSummary {
                    model: m.label.clone(),
                    player: (*player).to_owned(),
                    value: *value,
                    value_share: None,
                    touches: 0.0,
                    value_per_touch: None,
                    cost: None,
                    roi: None,
                    social: None,
                    value_lower: None,
                    value_upper: None,
                    value_share_lower: None,
                    value_share_upper: None,
                    roi_lower: None,
                    roi_upper: None,
                });
                continue;
            }
            let t = touches.get(player).copied().unwrap_or(0.0);
            let cost = costs.get(*player).copied();
            let is_social = goals.social.iter().any(|s| s == player);
            if by_channel {
                let g = &mut groups[usize::from(is_social)];
                g.0 += value;
                g.1 += cost.unwrap_or(0.0);
            }
            summary.push(ContributionSummary {
                model: m.label.clone(),
                player: (*player).to_owned(),
                value: *value,
                value_share: (total > 0.0).then(|| value / total),
                touches: t,
                value_per_touch: (t > 0.0).then(|| value / t),
                cost,
                roi: roi(*value, cost),
                social: by_channel.then_some(is_social),
                value_lower: None,
                value_upper: None,
                value_share_lower: None,
                value_share_upper: None,
                roi_lower: None,
                roi_upper: None,
            });
        }
        if by_channel {
            for (is_social, (value, cost)) in [(false, groups[0]), (true, groups[1])] {
                social.push(SocialTotal {
                    model: m.label.clone(),
                    social: is_social,
                    value,
                    value_share: (total > 0.0).then(|| value / total),
                    cost,
                    roi: roi(value, Some(cost)),
                    value_lower: None,
                    value_upper: None,
                    value_share_lower: None,
                    value_share_upper: None,
                    roi_lower: None,
                    roi_upper: None,
                });
            }
        }
    }
    let players: Vec<&str> = rows.iter().map(|c| c.player.as_str()).collect();
    let unused: Vec<&str> = costs.keys().map(String::as_str).filter(|p| !players.contains(p)).collect();
    if !unused.is_empty() {
        warnings.push(format!(
            "costs given for players that never appear by {}: {}",
            attribution.by,
            unused.join(", ")
        ));
    }
    if by_channel {
        let unknown: Vec<&str> =
            goals.social.iter().map(String::as_str).filter(|p| !players.contains(p)).collect();
        if !unknown.is_empty() {
            warnings.push(format!(
                "social channels that never appear in the attribution: {} (check the spelling; the social totals leave them out)",
                unknown.join(", ")
            ));
        }
    } else if !goals.social.is_empty() {
        warnings.push(format!(
            "the goal book names social channels, but the attribution is by {}: the social split needs an attribution by channel",
            attribution.by
        ));
    }
    for k in &goals.kpis {
        if !rows.iter().any(|c| c.kpi == k.name) {
            warnings.push(format!("KPI `{}` of the goal book has no journeys in this attribution", k.name));
        }
    }
    warnings.extend(attribution.warnings.iter().cloned());
    let goal_totals = goal_totals(&attribution.models, goals, &rows);
    Ok(ContributionReport { by: attribution.by, rows, summary, social, goals: goal_totals, warnings })
}
