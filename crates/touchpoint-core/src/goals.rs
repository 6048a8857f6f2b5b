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
    /// Cost per player name for the analysis window.
    #[serde(default)]
    pub costs: BTreeMap<String, f64>,
    /// Channels that count as social.
    #[serde(default)]
    pub social: Vec<String>,
}

impl GoalBook {
    /// A goal book from parts, validated.
    pub fn new(kpis: Vec<Kpi>, costs: BTreeMap<String, f64>, social: Vec<String>) -> Result<Self> {
        let book = GoalBook { kpis, costs, social };
        book.validate("(in memory)")?;
        Ok(book)
    }

    /// Loads a goal book from TOML (`.toml`) or JSON (`.json`), validated; errors name the file and key.
    pub fn load(path: &Path) -> Result<Self> {
        let shown = path.display().to_string();
        let bad = |reason: String| Error::GoalBook { source_name: shown.clone(), reason };
        let text = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read: {e}")))?;
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
    let mut report = build(attribution, goals, costs, None)?;
    if let Some(boot) = &attribution.bootstrap {
        let n = boot.conversions.len();
        // Per resample, only the numbers (not whole reports): value per row, and value, value share
        // and ROI per summary and social row.
        type Nums = (Vec<f64>, Vec<(f64, Option<f64>, Option<f64>)>, Vec<(f64, Option<f64>, Option<f64>)>);
        let mut draws: Vec<Nums> = Vec::with_capacity(n);
        for r in 0..n {
            let d = build(attribution, goals, costs, Some((&boot.conversions[r], &boot.value[r])))?;
            draws.push((
                d.rows.iter().map(|x| x.value).collect(),
                d.summary.iter().map(|x| (x.value, x.value_share, x.roi)).collect(),
                d.social.iter().map(|x| (x.value, x.value_share, x.roi)).collect(),
            ));
        }
        let settings = &boot.settings;
        // A row of one KPI leaves out the resamples its model failed on for that KPI; a total over KPIs
        // those it failed on for any KPI.
        let span = |get: &dyn Fn(&Nums) -> Option<f64>, usable: &[bool]| {
            let mut v: Vec<f64> = (0..n).filter(|&r| usable[r]).filter_map(|r| get(&draws[r])).collect();
            crate::bootstrap::interval(&mut v, settings).unzip()
        };
        for i in 0..report.rows.len() {
            let usable = boot.usable(&report.rows[i].model, Some(&report.rows[i].kpi));
            (report.rows[i].value_lower, report.rows[i].value_upper) = span(&|d| Some(d.0[i]), &usable);
        }
        for i in 0..report.summary.len() {
            let usable = boot.usable(&report.summary[i].model, None);
            report.summary[i].set_bounds([
                span(&|d| Some(d.1[i].0), &usable),
                span(&|d| d.1[i].1, &usable),
                span(&|d| d.1[i].2, &usable),
            ]);
        }
        for i in 0..report.social.len() {
            let usable = boot.usable(&report.social[i].model, None);
            report.social[i].set_bounds([
                span(&|d| Some(d.2[i].0), &usable),
                span(&|d| d.2[i].1, &usable),
                span(&|d| d.2[i].2, &usable),
            ]);
        }
    }
    Ok(report)
}

/// The report of the attribution's credit, or of one resample's (`numbers`: conversions and value per
/// credit row).
fn build(
    attribution: &Attribution,
    goals: &GoalBook,
    costs: Option<&BTreeMap<String, f64>>,
    numbers: Option<(&[f64], &[f64])>,
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
    for (i, c) in attribution.credits.iter().enumerate() {
        let (conversions, data_value) = numbers.map_or((c.conversions, c.value), |(cs, vs)| (cs[i], vs[i]));
        let kpi = goals.kpi(&c.kpi).ok_or_else(|| Error::UnknownKpi {
            kpi: c.kpi.clone(),
            known: goals.kpis.iter().map(|k| k.name.as_str()).collect::<Vec<_>>().join(", "),
        })?;
        rows.push(ContributionRow {
            model: c.model.clone(),
            player: c.player.clone(),
            kpi: c.kpi.clone(),
            function: kpi.function.clone(),
            conversions,
            value: kpi.unit_value.map_or(data_value, |u| u * conversions),
            value_lower: None,
            value_upper: None,
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
    let players: Vec<&str> = attribution.credits.iter().map(|c| c.player.as_str()).collect();
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
        if !attribution.credits.iter().any(|c| c.kpi == k.name) {
            warnings.push(format!("KPI `{}` of the goal book has no journeys in this attribution", k.name));
        }
    }
    warnings.extend(attribution.warnings.iter().cloned());
    Ok(ContributionReport { by: attribution.by, rows, summary, social, warnings })
}
