//! Simulation parameters: people, channels, KPIs and synergies as serde structs with defaults, read
//! from TOML, validated with a typed error per bad value, and the named built-in scenarios.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use touchpoint_util::rng::SplitMix64;

use crate::error::{Error, Result};
use crate::sampling::{gamma, normal};

/// Names of the built-in scenarios, for [`SimParams::scenario`].
pub const SCENARIO_NAMES: [&str; 7] = [
    "baseline",
    "selection_bias",
    "synergy",
    "long_journeys",
    "social_care",
    "many_channels",
    "delayed_response",
];

/// The name of the truth row that holds each KPI's baseline conversions.
pub const BASELINE_ROW: &str = "(baseline)";

/// Names no channel may carry: Markov's state names, the empty player and the baseline row.
const RESERVED: [&str; 5] = ["(start)", "(conversion)", "(null)", "(none)", BASELINE_ROW];

/// The distribution of one conversion's value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "dist", rename_all = "snake_case", deny_unknown_fields)]
pub enum ValueDist {
    /// Every conversion is worth `value` (e.g. a deflected ticket's cost).
    Fixed {
        /// Value per conversion (>= 0).
        value: f64,
    },
    /// Lognormal with this mean and standard deviation (of the value, not of its logarithm).
    Lognormal {
        /// Mean value (> 0).
        mean: f64,
        /// Standard deviation (>= 0).
        sd: f64,
    },
    /// Gamma with this mean and standard deviation.
    Gamma {
        /// Mean value (> 0).
        mean: f64,
        /// Standard deviation (>= 0).
        sd: f64,
    },
}

impl Default for ValueDist {
    fn default() -> Self {
        ValueDist::Fixed { value: 1.0 }
    }
}

impl ValueDist {
    /// One value, drawn from `rng`.
    ///
    /// Lognormal: sigma^2 = ln(1 + sd^2 / mean^2), mu = ln(mean) - sigma^2 / 2, so E = mean and SD = sd.
    /// Gamma: shape = mean^2 / sd^2, scale = sd^2 / mean.
    pub(crate) fn draw(&self, rng: &mut SplitMix64) -> f64 {
        match *self {
            ValueDist::Fixed { value } => value,
            ValueDist::Lognormal { mean, sd } => {
                let s2 = (sd * sd / (mean * mean)).ln_1p();
                (mean.ln() - 0.5 * s2 + s2.sqrt() * normal(rng)).exp()
            }
            ValueDist::Gamma { mean, sd } => {
                if sd == 0.0 {
                    return mean;
                }
                let scale = sd * sd / mean;
                gamma(rng, mean / scale) * scale
            }
        }
    }

    fn validate(&self, parameter: &str) -> Result<()> {
        let (mean, sd) = match *self {
            ValueDist::Fixed { value } => {
                if !(value.is_finite() && value >= 0.0) {
                    return Err(Error::invalid(
                        format!("{parameter}.value"),
                        value,
                        "must be finite and >= 0",
                    ));
                }
                return Ok(());
            }
            ValueDist::Lognormal { mean, sd } | ValueDist::Gamma { mean, sd } => (mean, sd),
        };
        if !(mean.is_finite() && mean > 0.0) {
            return Err(Error::invalid(format!("{parameter}.mean"), mean, "must be positive and finite"));
        }
        if !(sd.is_finite() && sd >= 0.0) {
            return Err(Error::invalid(format!("{parameter}.sd"), sd, "must be finite and >= 0"));
        }
        Ok(())
    }
}

/// A marketing channel: how often people see it and how much each exposure lifts each KPI.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelParams {
    /// Name, as in the journeys.
    pub name: String,
    /// Whether the channel is a social network (scored as the social share).
    #[serde(default)]
    pub social: bool,
    /// Exposures per person per day at intent 1.
    #[serde(default = "default_rate")]
    pub rate: f64,
    /// Selection bias: the exposure rate is `rate * intent^intent_elasticity` (0: independent of intent).
    #[serde(default)]
    pub intent_elasticity: f64,
    /// Peak conversion events per day that one exposure adds, per KPI name (missing KPIs: 0).
    #[serde(default)]
    pub lift: BTreeMap<String, f64>,
    /// Days for an exposure's added rate to halve.
    #[serde(default = "default_half_life")]
    pub half_life_days: f64,
    /// Diminishing returns: the k-th exposure of the channel lifts `1 / (1 + diminishing * (k - 1))`
    /// times the first (0: every exposure lifts the same).
    #[serde(default)]
    pub diminishing: f64,
    /// Shape of the response kernel in time: 1 (the default) is the exponential decay above; a shape
    /// k > 1 is a gamma density of shape k and scale `half_life_days / ln 2` (the response peaks
    /// `(k - 1)` scales after the exposure). Every shape adds the same expected conversions per
    /// exposure, `lift * half_life_days / ln 2`.
    #[serde(default = "default_one")]
    pub delay_shape: f64,
}

fn default_rate() -> f64 {
    0.02
}

fn default_half_life() -> f64 {
    3.0
}

/// A goal that converts: its baseline rate and the value of a conversion.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KpiParams {
    /// Name, as in the journeys.
    pub name: String,
    /// Conversion events per person per day without any exposure, at intent 1.
    #[serde(default = "default_baseline")]
    pub baseline: f64,
    /// The baseline rate is `baseline * intent^intent_elasticity`.
    #[serde(default = "default_one")]
    pub intent_elasticity: f64,
    /// Value of one conversion event.
    #[serde(default)]
    pub value: ValueDist,
}

fn default_baseline() -> f64 {
    0.002
}

fn default_one() -> f64 {
    1.0
}

/// One channel raising another's effect: while `from` has been seen within `window_days` before a
/// conversion event of a `to` exposure, that event's rate is multiplied by `1 + factor`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Synergy {
    /// The channel that raises (e.g. a social network).
    pub from: String,
    /// The channel whose exposures convert more (e.g. search).
    pub to: String,
    /// Relative lift while active (>= -1; negative values damp).
    pub factor: f64,
    /// How long an exposure of `from` keeps the synergy active, in days.
    #[serde(default = "default_window")]
    pub window_days: f64,
    /// The KPI it applies to; every KPI when absent.
    #[serde(default)]
    pub kpi: Option<String>,
}

fn default_window() -> f64 {
    14.0
}

/// Everything a simulation needs. Defaults are the `baseline` scenario's channels and KPI; a TOML
/// document that lists `[[channels]]` or `[[kpis]]` replaces those lists whole.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimParams {
    /// Scenario name, carried into scores.
    pub name: String,
    /// Number of people.
    pub people: u64,
    /// Seed of every random draw (each person's stream is derived from it and the person's index).
    pub seed: u64,
    /// Days simulated: exposures and conversions fall in [0, horizon).
    pub horizon_days: f64,
    /// Journeys take the touches of this many days before a conversion.
    pub lookback_days: f64,
    /// Standard deviation of log intent; intent = exp(sd * Z - sd^2 / 2) has mean 1.
    pub intent_sd: f64,
    /// Most exposures of one channel per person.
    pub max_exposures: u32,
    /// Each person sees exactly one exposure: the channel drawn with probability proportional to its
    /// rate x intent^elasticity, the time uniform in [0, horizon).
    pub one_exposure: bool,
    /// Permutations per person-level game when its players exceed the exact limit (12).
    pub truth_samples: u32,
    /// The channels.
    pub channels: Vec<ChannelParams>,
    /// The KPIs.
    pub kpis: Vec<KpiParams>,
    /// Synergies between channels.
    pub synergies: Vec<Synergy>,
}

impl Default for SimParams {
    fn default() -> Self {
        SimParams {
            name: "custom".to_owned(),
            people: 10_000,
            seed: 0,
            horizon_days: 60.0,
            lookback_days: 30.0,
            intent_sd: 0.5,
            max_exposures: 50,
            one_exposure: false,
            truth_samples: 1_000,
            channels: base_channels(),
            kpis: vec![sales()],
            synergies: Vec::new(),
        }
    }
}

/// A channel with its sales lift.
fn channel(name: &str, social: bool, rate: f64, sales_lift: f64, half_life_days: f64) -> ChannelParams {
    ChannelParams {
        name: name.to_owned(),
        social,
        rate,
        intent_elasticity: 0.0,
        lift: BTreeMap::from([("sales".to_owned(), sales_lift)]),
        half_life_days,
        diminishing: 0.0,
        delay_shape: 1.0,
    }
}

/// The eight channels of the baseline scenario.
fn base_channels() -> Vec<ChannelParams> {
    vec![
        channel("search", false, 0.020, 0.010, 2.0),
        channel("direct", false, 0.015, 0.006, 1.0),
        channel("email", false, 0.030, 0.004, 2.0),
        channel("display", false, 0.040, 0.001, 3.0),
        channel("facebook", true, 0.025, 0.003, 3.0),
        channel("instagram", true, 0.020, 0.002, 3.0),
        channel("linkedin", true, 0.008, 0.004, 4.0),
        channel("twitter", true, 0.010, 0.001, 3.0),
    ]
}

fn sales() -> KpiParams {
    KpiParams {
        name: "sales".to_owned(),
        baseline: 0.002,
        intent_elasticity: 1.0,
        value: ValueDist::Lognormal { mean: 80.0, sd: 60.0 },
    }
}

fn synergy(from: &str, to: &str, factor: f64) -> Synergy {
    Synergy { from: from.to_owned(), to: to.to_owned(), factor, window_days: 14.0, kpi: None }
}

impl SimParams {
    /// A built-in scenario by name (see [`SCENARIO_NAMES`]):
    ///
    /// - `baseline`: eight independent, additive channels (exposures do not depend on intent), one KPI.
    /// - `selection_bias`: search and direct exposure rates ride on intent (elasticity 2), as does the
    ///   baseline, with a wide intent spread: high-intent people search, come direct and convert anyway.
    /// - `synergy`: facebook and instagram raise search's effect, linkedin raises email's.
    /// - `long_journeys`: 120 days, twice the exposures, 60-day lookback, longer half-lives and
    ///   diminishing returns.
    /// - `social_care`: `sales` and a service KPI `tickets_deflected` (issues resolved without a ticket,
    ///   worth a fixed 25 each) that social care and the help centre drive.
    /// - `many_channels`: 30 channels, ten of them social, with diminishing returns; `print` lifts nothing.
    /// - `delayed_response`: the baseline's channels with a gamma-shaped response (shape 3, scale 1.5
    ///   days: it peaks 3 days after the exposure) and the same expected conversions per exposure, so a
    ///   model that assumes an immediate, decaying response is scored where that is wrong.
    pub fn scenario(name: &str) -> Result<Self> {
        let mut p = SimParams { name: name.to_owned(), ..SimParams::default() };
        match name {
            "baseline" => {}
            "selection_bias" => {
                p.intent_sd = 1.0;
                for c in &mut p.channels {
                    if c.name == "search" || c.name == "direct" {
                        c.intent_elasticity = 2.0;
                    }
                }
                p.kpis[0].intent_elasticity = 2.0;
            }
            "synergy" => {
                p.synergies = vec![
                    synergy("facebook", "search", 2.0),
                    synergy("instagram", "search", 1.0),
                    synergy("linkedin", "email", 1.0),
                ];
            }
            "long_journeys" => {
                p.horizon_days = 120.0;
                p.lookback_days = 60.0;
                for c in &mut p.channels {
                    c.rate *= 2.0;
                    c.half_life_days *= 2.0;
                    c.diminishing = 0.3;
                    for l in c.lift.values_mut() {
                        *l *= 0.5;
                    }
                }
            }
            "social_care" => {
                let care: [(&str, f64); 8] = [
                    ("search", 0.002),
                    ("direct", 0.001),
                    ("email", 0.003),
                    ("display", 0.0),
                    ("facebook", 0.008),
                    ("instagram", 0.003),
                    ("linkedin", 0.001),
                    ("twitter", 0.012),
                ];
                for (c, (name, lift)) in p.channels.iter_mut().zip(care) {
                    debug_assert_eq!(c.name, name);
                    c.lift.insert("tickets_deflected".to_owned(), lift);
                }
                let mut help = channel("help_center", false, 0.015, 0.0005, 1.0);
                help.lift.insert("tickets_deflected".to_owned(), 0.02);
                p.channels.push(help);
                p.kpis.push(KpiParams {
                    name: "tickets_deflected".to_owned(),
                    baseline: 0.003,
                    intent_elasticity: 0.0,
                    value: ValueDist::Fixed { value: 25.0 },
                });
            }
            "delayed_response" => {
                for c in &mut p.channels {
                    // Keep the conversions per exposure (lift * scale) with scale 1.5 days.
                    let scale = c.half_life_days / std::f64::consts::LN_2;
                    for l in c.lift.values_mut() {
                        *l *= scale / 1.5;
                    }
                    c.half_life_days = 1.5 * std::f64::consts::LN_2;
                    c.delay_shape = 3.0;
                }
            }
            "many_channels" => {
                const NAMES: [(&str, bool); 30] = [
                    ("search", false),
                    ("direct", false),
                    ("email", false),
                    ("display", false),
                    ("facebook", true),
                    ("instagram", true),
                    ("linkedin", true),
                    ("twitter", true),
                    ("tiktok", true),
                    ("youtube", true),
                    ("pinterest", true),
                    ("reddit", true),
                    ("snapchat", true),
                    ("whatsapp", true),
                    ("affiliate", false),
                    ("referral", false),
                    ("podcast", false),
                    ("tv", false),
                    ("radio", false),
                    ("print", false),
                    ("outdoor", false),
                    ("sms", false),
                    ("push", false),
                    ("webinar", false),
                    ("events", false),
                    ("partner", false),
                    ("retargeting", false),
                    ("native", false),
                    ("video", false),
                    ("comparison", false),
                ];
                p.channels = NAMES
                    .iter()
                    .enumerate()
                    .map(|(i, &(name, social))| {
                        let rate = 0.002 + 0.002 * (i % 5) as f64;
                        // print lifts nothing: a channel that is seen but should get no credit.
                        let lift = if name == "print" { 0.0 } else { 0.001 * (1 + (i * 7) % 9) as f64 };
                        let mut c = channel(name, social, rate, lift, 1.0 + (i % 4) as f64);
                        c.diminishing = 0.2;
                        c
                    })
                    .collect();
            }
            _ => {
                return Err(Error::UnknownScenario {
                    name: name.to_owned(),
                    known: SCENARIO_NAMES.join(", "),
                })
            }
        }
        Ok(p)
    }

    /// Parameters from a TOML document, validated. Missing keys take their defaults.
    pub fn from_toml(text: &str) -> Result<Self> {
        let p: SimParams = toml::from_str(text).map_err(|e| Error::Parse { reason: e.to_string() })?;
        p.validate()?;
        Ok(p)
    }

    /// Parameters from JSON (the same fields as the TOML form; a Python dict, or the `params` of a
    /// simulation), checked.
    pub fn from_json(text: &str) -> Result<Self> {
        let p: SimParams = serde_json::from_str(text).map_err(|e| Error::Parse { reason: e.to_string() })?;
        p.validate()?;
        Ok(p)
    }

    /// Checks every parameter, with a typed error naming the first bad one.
    pub fn validate(&self) -> Result<()> {
        if self.people == 0 {
            return Err(Error::invalid("people", 0, "simulate at least one person"));
        }
        // A simulation holds every person's journeys in memory: past this a machine's memory runs
        // out (and a failed allocation aborts the process, taking a notebook's kernel with it).
        if self.people > MAX_PEOPLE {
            return Err(Error::invalid(
                "people",
                self.people,
                format!("at most {MAX_PEOPLE} in one simulation (its journeys are held in memory); run several seeds for more"),
            ));
        }
        // Bounds that keep a simulation finite in time and memory (a scenario file with
        // horizon_days = 1e300 once ran forever; found by fuzzing).
        at_most("horizon_days", self.horizon_days, MAX_DAYS)?;
        at_most("lookback_days", self.lookback_days, MAX_DAYS)?;
        if self.max_exposures > MAX_EXPOSURES {
            return Err(Error::invalid(
                "max_exposures",
                self.max_exposures,
                format!("at most {MAX_EXPOSURES}"),
            ));
        }
        if self.truth_samples > MAX_TRUTH_SAMPLES {
            return Err(Error::invalid(
                "truth_samples",
                self.truth_samples,
                format!("at most {MAX_TRUTH_SAMPLES}"),
            ));
        }
        if !(self.intent_sd.is_finite() && (0.0..=5.0).contains(&self.intent_sd)) {
            return Err(Error::invalid("intent_sd", self.intent_sd, "must lie in [0, 5]"));
        }
        if self.max_exposures == 0 {
            return Err(Error::invalid("max_exposures", 0, "at least one exposure per channel"));
        }
        if self.truth_samples < 2 {
            return Err(Error::invalid(
                "truth_samples",
                self.truth_samples,
                "at least 2 permutations are needed for a standard error",
            ));
        }
        if self.kpis.is_empty() {
            return Err(Error::invalid("kpis", "[]", "name at least one KPI"));
        }
        if self.channels.is_empty() {
            return Err(Error::invalid("channels", "[]", "name at least one channel"));
        }
        let kpi_names: Vec<&str> = self.kpis.iter().map(|k| k.name.as_str()).collect();
        let channel_names: Vec<&str> = self.channels.iter().map(|c| c.name.as_str()).collect();
        unique_names("kpis", &kpi_names)?;
        unique_names("channels", &channel_names)?;
        for k in &self.kpis {
            let at = format!("kpis.{}", k.name);
            rate(&format!("{at}.baseline"), k.baseline)?;
            elasticity(&format!("{at}.intent_elasticity"), k.intent_elasticity)?;
            k.value.validate(&format!("{at}.value"))?;
        }
        for c in &self.channels {
            let at = format!("channels.{}", c.name);
            if RESERVED.contains(&c.name.as_str()) {
                return Err(Error::invalid(
                    format!("{at}.name"),
                    &c.name,
                    "reserved: (start), (conversion), (null), (none) and (baseline) name states and rows",
                ));
            }
            rate(&format!("{at}.rate"), c.rate)?;
            elasticity(&format!("{at}.intent_elasticity"), c.intent_elasticity)?;
            if !(c.half_life_days.is_finite() && c.half_life_days > 0.0) {
                return Err(Error::HalfLife {
                    parameter: format!("{at}.half_life_days"),
                    value: c.half_life_days,
                });
            }
            if !(c.delay_shape.is_finite() && (1.0..=20.0).contains(&c.delay_shape)) {
                return Err(Error::invalid(
                    format!("{at}.delay_shape"),
                    c.delay_shape,
                    "must lie in [1, 20] (1 is an exponential decay)",
                ));
            }
            if !(c.diminishing.is_finite() && c.diminishing >= 0.0) {
                return Err(Error::invalid(
                    format!("{at}.diminishing"),
                    c.diminishing,
                    "must be finite and >= 0",
                ));
            }
            for (kpi, &lift) in &c.lift {
                if !kpi_names.contains(&kpi.as_str()) {
                    return Err(Error::UnknownKpi {
                        parameter: format!("{at}.lift"),
                        name: kpi.clone(),
                        known: kpi_names.join(", "),
                    });
                }
                rate(&format!("{at}.lift.{kpi}"), lift)?;
            }
        }
        if self.one_exposure && self.channels.iter().all(|c| c.rate == 0.0) {
            return Err(Error::invalid(
                "one_exposure",
                true,
                "every channel has rate 0, so no channel can be drawn for the one exposure",
            ));
        }
        for (i, s) in self.synergies.iter().enumerate() {
            let at = format!("synergies[{i}]");
            for (field, name) in [("from", &s.from), ("to", &s.to)] {
                if !channel_names.contains(&name.as_str()) {
                    return Err(Error::UnknownChannel {
                        parameter: format!("{at}.{field}"),
                        name: name.clone(),
                        known: channel_names.join(", "),
                    });
                }
            }
            if s.from == s.to {
                return Err(Error::invalid(
                    format!("{at}.to"),
                    &s.to,
                    "a channel cannot raise itself; use `diminishing` for returns of repeated exposures",
                ));
            }
            if !(s.factor.is_finite() && s.factor >= -1.0) {
                return Err(Error::invalid(
                    format!("{at}.factor"),
                    s.factor,
                    "must be finite and >= -1 (the rate is multiplied by 1 + factor)",
                ));
            }
            positive(&format!("{at}.window_days"), s.window_days)?;
            if let Some(kpi) = &s.kpi {
                if !kpi_names.contains(&kpi.as_str()) {
                    return Err(Error::UnknownKpi {
                        parameter: format!("{at}.kpi"),
                        name: kpi.clone(),
                        known: kpi_names.join(", "),
                    });
                }
            }
        }
        Ok(())
    }

    /// Whether the truth is additive (no synergy with a non-zero factor; diminishing returns stay
    /// within a channel and keep it additive), so that removal and Shapley truths agree.
    pub fn is_additive(&self) -> bool {
        self.synergies.iter().all(|s| s.factor == 0.0)
    }
}

fn positive(parameter: &str, v: f64) -> Result<()> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(Error::invalid(parameter, v, "must be positive and finite"))
    }
}

fn finite(parameter: &str, v: f64) -> Result<()> {
    if v.is_finite() {
        Ok(())
    } else {
        Err(Error::invalid(parameter, v, "must be finite"))
    }
}

fn rate(parameter: &str, v: f64) -> Result<()> {
    if !(v.is_finite() && v >= 0.0) {
        return Err(Error::NegativeRate { parameter: parameter.to_owned(), value: v });
    }
    if v > MAX_RATE {
        return Err(Error::invalid(parameter, v, format!("at most {MAX_RATE} per person and day")));
    }
    Ok(())
}

/// Most people of one simulation (about 10 GB of journeys at the built-in scenarios' rates).
pub const MAX_PEOPLE: u64 = 50_000_000;
/// Longest horizon or lookback, in days (a century).
const MAX_DAYS: f64 = 36_500.0;
/// Most exposures per person and channel.
const MAX_EXPOSURES: u32 = 100_000;
/// Most permutations per person for the sampled Shapley truth.
const MAX_TRUTH_SAMPLES: u32 = 1_000_000;
/// Highest rate (touches, conversions or lift per person and day).
const MAX_RATE: f64 = 1_000.0;
/// Largest |intent elasticity|: with intent_sd at most 5, exp(elasticity x intent) stays in range.
const MAX_ELASTICITY: f64 = 5.0;

fn at_most(parameter: &str, v: f64, max: f64) -> Result<()> {
    positive(parameter, v)?;
    if v > max {
        return Err(Error::invalid(parameter, v, format!("at most {max}")));
    }
    Ok(())
}

fn elasticity(parameter: &str, v: f64) -> Result<()> {
    finite(parameter, v)?;
    if v.abs() > MAX_ELASTICITY {
        return Err(Error::invalid(
            parameter,
            v,
            format!("must lie in [-{MAX_ELASTICITY}, {MAX_ELASTICITY}]"),
        ));
    }
    Ok(())
}

fn unique_names(parameter: &str, names: &[&str]) -> Result<()> {
    for (i, n) in names.iter().enumerate() {
        if n.trim().is_empty() {
            return Err(Error::invalid(
                format!("{parameter}[{i}].name"),
                format!("{n:?}"),
                "names must not be empty",
            ));
        }
        if names[..i].contains(n) {
            return Err(Error::DuplicateName { parameter: parameter.to_owned(), name: (*n).to_owned() });
        }
    }
    Ok(())
}
