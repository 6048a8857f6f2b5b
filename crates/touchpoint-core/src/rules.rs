//! Rule-based attribution: first, last, last non-direct, linear, position-based and time decay.
//!
//! Each converting journey's conversions and value are split over its touches by fixed weights that
//! sum to one; repeated touches count (as in ChannelAttribution's `heuristic_models`, and Adobe's
//! Attribution IQ rule-based models).
use serde::{Deserialize, Serialize};

use crate::duration::parse_duration_us;
use crate::error::{Error, Result};
use crate::journeys::JourneyRef;
use crate::model::{Control, JourneyCredit, KpiCredit, KpiView, Model};

/// How often a long loop checks for interrupts (journeys).
pub(crate) const CHECK_EVERY: usize = 1 << 20;

/// Calls `book` with every converting journey, its players and its touch weights from `weights`.
fn visit_weights(
    view: &KpiView<'_>,
    control: &dyn Control,
    mut weights: impl FnMut(&JourneyRef<'_>, &mut Vec<f64>) -> Result<()>,
    mut book: impl FnMut(&JourneyRef<'_>, &[u32], &[f64]),
) -> Result<()> {
    let mut w = Vec::new();
    for (n, (j, players)) in view.iter().enumerate() {
        if n % CHECK_EVERY == CHECK_EVERY - 1 {
            control.checkpoint()?;
        }
        if j.conversions <= 0.0 {
            continue;
        }
        w.clear();
        weights(&j, &mut w)?;
        book(&j, players, &w);
    }
    Ok(())
}

/// Runs `weights` over every converting journey and books the credit per player.
fn credit_by_weights(
    view: &KpiView<'_>,
    control: &dyn Control,
    weights: impl FnMut(&JourneyRef<'_>, &mut Vec<f64>) -> Result<()>,
) -> Result<KpiCredit> {
    let mut out = KpiCredit::zeros(view.n_players);
    visit_weights(view, control, weights, |j, players, w| {
        for (&p, &wi) in players.iter().zip(w) {
            out.conversions[p as usize] += wi * j.conversions;
            out.value[p as usize] += wi * j.value;
        }
    })?;
    Ok(out)
}

/// Emits each converting journey's credit split by `weights` (one per touch, summing to one), summed per
/// distinct player of the journey.
fn emit_by_weights(
    view: &KpiView<'_>,
    control: &dyn Control,
    weights: impl FnMut(&JourneyRef<'_>, &mut Vec<f64>) -> Result<()>,
    emit: &mut dyn FnMut(JourneyCredit),
) -> Result<()> {
    let mut acc: Vec<(u32, f64)> = Vec::new();
    visit_weights(view, control, weights, |j, players, w| {
        acc.clear();
        for (&p, &wi) in players.iter().zip(w) {
            match acc.iter_mut().find(|x| x.0 == p) {
                Some(x) => x.1 += wi,
                None => acc.push((p, wi)),
            }
        }
        for &(p, wi) in acc.iter().filter(|x| x.1 != 0.0) {
            emit(JourneyCredit {
                journey: Some(j.index),
                person: j.person,
                time: j.conversion_time,
                player: Some(p),
                conversions: wi * j.conversions,
                value: wi * j.value,
            });
        }
    })
}

/// Scales weights to sum to one.
fn normalise(w: &mut [f64]) {
    let s: f64 = w.iter().sum();
    w.iter_mut().for_each(|x| *x /= s);
}

/// [`emit_by_weights`] with the whole credit on the touch `pick` chooses.
fn emit_one_touch(
    view: &KpiView<'_>,
    control: &dyn Control,
    pick: impl Fn(&JourneyRef<'_>) -> usize,
    emit: &mut dyn FnMut(JourneyCredit),
) -> Result<()> {
    emit_by_weights(
        view,
        control,
        |j, w| {
            w.resize(j.channels.len(), 0.0);
            w[pick(j)] = 1.0;
            Ok(())
        },
        emit,
    )
}

/// Books one journey's whole credit on one touch.
fn credit_one_touch(
    view: &KpiView<'_>,
    control: &dyn Control,
    pick: impl Fn(&JourneyRef<'_>) -> usize,
) -> Result<KpiCredit> {
    let mut out = KpiCredit::zeros(view.n_players);
    for (n, (j, players)) in view.iter().enumerate() {
        if n % CHECK_EVERY == CHECK_EVERY - 1 {
            control.checkpoint()?;
        }
        if j.conversions <= 0.0 {
            continue;
        }
        let p = players[pick(&j)] as usize;
        out.conversions[p] += j.conversions;
        out.value[p] += j.value;
    }
    Ok(out)
}

/// All credit to the first touch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FirstTouch;

impl Model for FirstTouch {
    fn name(&self) -> &'static str {
        "first_touch"
    }
    fn reads_nulls(&self) -> bool {
        false
    }
    fn reads_times(&self) -> bool {
        false
    }
    fn validate(&self) -> Result<()> {
        Ok(())
    }
    fn credit(&self, view: &KpiView<'_>, control: &dyn Control) -> Result<KpiCredit> {
        credit_one_touch(view, control, |_| 0)
    }
    fn journey_credits(
        &self,
        view: &KpiView<'_>,
        _credit: &KpiCredit,
        control: &dyn Control,
        emit: &mut dyn FnMut(JourneyCredit),
    ) -> Result<()> {
        emit_one_touch(view, control, |_| 0, emit)
    }
}

/// All credit to the last touch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LastTouch;

impl Model for LastTouch {
    fn name(&self) -> &'static str {
        "last_touch"
    }
    fn reads_nulls(&self) -> bool {
        false
    }
    fn reads_times(&self) -> bool {
        false
    }
    fn validate(&self) -> Result<()> {
        Ok(())
    }
    fn credit(&self, view: &KpiView<'_>, control: &dyn Control) -> Result<KpiCredit> {
        credit_one_touch(view, control, |j| j.channels.len() - 1)
    }
    fn journey_credits(
        &self,
        view: &KpiView<'_>,
        _credit: &KpiCredit,
        control: &dyn Control,
        emit: &mut dyn FnMut(JourneyCredit),
    ) -> Result<()> {
        emit_one_touch(view, control, |j| j.channels.len() - 1, emit)
    }
}

/// All credit to the last touch whose channel is not direct; the last touch when all are direct.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LastNonDirect {
    /// Channels that count as direct.
    pub direct: Vec<String>,
}

impl Default for LastNonDirect {
    fn default() -> Self {
        LastNonDirect { direct: vec!["direct".to_owned()] }
    }
}

impl Model for LastNonDirect {
    fn name(&self) -> &'static str {
        "last_non_direct"
    }
    fn reads_nulls(&self) -> bool {
        false
    }
    fn reads_times(&self) -> bool {
        false
    }
    fn validate(&self) -> Result<()> {
        if let Some(bad) = self.direct.iter().find(|d| d.trim().is_empty()) {
            return Err(Error::InvalidParameter {
                model: "last_non_direct",
                parameter: "direct",
                value: format!("{bad:?}"),
                reason: "channel names must not be empty".into(),
            });
        }
        Ok(())
    }
    fn credit(&self, view: &KpiView<'_>, control: &dyn Control) -> Result<KpiCredit> {
        let is_direct = self.direct_flags(view);
        credit_one_touch(view, control, |j| {
            j.channels.iter().rposition(|&c| !is_direct[c as usize]).unwrap_or(j.channels.len() - 1)
        })
    }
    fn journey_credits(
        &self,
        view: &KpiView<'_>,
        _credit: &KpiCredit,
        control: &dyn Control,
        emit: &mut dyn FnMut(JourneyCredit),
    ) -> Result<()> {
        let is_direct = self.direct_flags(view);
        emit_one_touch(
            view,
            control,
            |j| j.channels.iter().rposition(|&c| !is_direct[c as usize]).unwrap_or(j.channels.len() - 1),
            emit,
        )
    }
}

impl LastNonDirect {
    /// Whether each channel id of the view's store is direct.
    fn direct_flags(&self, view: &KpiView<'_>) -> Vec<bool> {
        let vocab = view.journeys.vocab(crate::journeys::Dimension::Channel);
        let mut is_direct = vec![false; vocab.len()];
        for d in &self.direct {
            if let Some(id) = vocab.get(d) {
                is_direct[id as usize] = true;
            }
        }
        is_direct
    }
}

/// Equal credit to every touch (1/n each; repeats count).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Linear;

impl Model for Linear {
    fn name(&self) -> &'static str {
        "linear"
    }
    fn reads_nulls(&self) -> bool {
        false
    }
    fn reads_times(&self) -> bool {
        false
    }
    fn validate(&self) -> Result<()> {
        Ok(())
    }
    fn credit(&self, view: &KpiView<'_>, control: &dyn Control) -> Result<KpiCredit> {
        let mut out = KpiCredit::zeros(view.n_players);
        for (n, (j, players)) in view.iter().enumerate() {
            if n % CHECK_EVERY == CHECK_EVERY - 1 {
                control.checkpoint()?;
            }
            if j.conversions <= 0.0 {
                continue;
            }
            let share = 1.0 / players.len() as f64;
            let (c, v) = (j.conversions * share, j.value * share);
            for &p in players {
                out.conversions[p as usize] += c;
                out.value[p as usize] += v;
            }
        }
        Ok(out)
    }
    fn journey_credits(
        &self,
        view: &KpiView<'_>,
        _credit: &KpiCredit,
        control: &dyn Control,
        emit: &mut dyn FnMut(JourneyCredit),
    ) -> Result<()> {
        emit_by_weights(
            view,
            control,
            |j, w| {
                w.resize(j.channels.len(), 1.0 / j.channels.len() as f64);
                Ok(())
            },
            emit,
        )
    }
}

/// Fixed shares for the first and last touches, the rest spread over the middle (Adobe's U-shape
/// at 0.4/0.4; J-curve 0.2/0.6 and inverse J 0.6/0.2 are parameter choices).
///
/// One touch takes everything; two touches split in the ratio `first : last` (evenly when both are 0).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PositionBased {
    /// Share of the first touch.
    pub first: f64,
    /// Share of the last touch.
    pub last: f64,
}

impl Default for PositionBased {
    fn default() -> Self {
        PositionBased { first: 0.4, last: 0.4 }
    }
}

impl PositionBased {
    /// The weights of a journey of `n` touches.
    pub fn weights(&self, n: usize, w: &mut Vec<f64>) {
        match n {
            0 => {}
            1 => w.push(1.0),
            2 => {
                let s = self.first + self.last;
                if s > 0.0 {
                    w.extend([self.first / s, self.last / s]);
                } else {
                    w.extend([0.5, 0.5]);
                }
            }
            _ => {
                let middle = (1.0 - self.first - self.last).max(0.0) / (n - 2) as f64;
                w.push(self.first);
                w.extend(std::iter::repeat_n(middle, n - 2));
                w.push(self.last);
            }
        }
    }
}

impl Model for PositionBased {
    fn name(&self) -> &'static str {
        "position_based"
    }
    fn reads_nulls(&self) -> bool {
        false
    }
    fn reads_times(&self) -> bool {
        false
    }
    fn validate(&self) -> Result<()> {
        for (parameter, v) in [("first", self.first), ("last", self.last)] {
            if !(0.0..=1.0).contains(&v) {
                return Err(Error::InvalidParameter {
                    model: "position_based",
                    parameter,
                    value: v.to_string(),
                    reason: "a share must lie in [0, 1]".into(),
                });
            }
        }
        if self.first + self.last > 1.0 + 1e-12 {
            return Err(Error::InvalidParameter {
                model: "position_based",
                parameter: "first + last",
                value: (self.first + self.last).to_string(),
                reason: "the first and last shares must not sum past 1".into(),
            });
        }
        Ok(())
    }
    fn credit(&self, view: &KpiView<'_>, control: &dyn Control) -> Result<KpiCredit> {
        // With first + last < 1 and n > 2 the weights still sum to one; with first + last = 1 the
        // middle gets nothing. Normalise anyway so conservation never rests on rounding of inputs.
        credit_by_weights(view, control, |j, w| {
            self.weights(j.channels.len(), w);
            normalise(w);
            Ok(())
        })
    }
    fn journey_credits(
        &self,
        view: &KpiView<'_>,
        _credit: &KpiCredit,
        control: &dyn Control,
        emit: &mut dyn FnMut(JourneyCredit),
    ) -> Result<()> {
        let split = |j: &JourneyRef<'_>, w: &mut Vec<f64>| {
            self.weights(j.channels.len(), w);
            normalise(w);
            Ok(())
        };
        emit_by_weights(view, control, split, emit)
    }
}

/// Credit decaying with age: weight 2^(-(t_conv - t_i) / half_life), normalised per journey.
///
/// On journeys without times, the age is counted in touches: 2^(-(n - i) / half_life_touches).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TimeDecay {
    /// Half-life as a duration ("7d", "12h").
    pub half_life: String,
    /// Half-life in touches, for journeys without times.
    pub half_life_touches: Option<f64>,
}

impl Default for TimeDecay {
    fn default() -> Self {
        TimeDecay { half_life: "7d".to_owned(), half_life_touches: None }
    }
}

impl TimeDecay {
    /// The half-life in microseconds on journeys with times, `None` (decay by touches) without; an error
    /// without times when no `half_life_touches` is given.
    fn half_life_us(&self, view: &KpiView<'_>) -> Result<Option<f64>> {
        if view.journeys.has_times() {
            Ok(Some(parse_duration_us(&self.half_life)? as f64))
        } else if self.half_life_touches.is_some() {
            Ok(None)
        } else if let Some(e) = view.journeys.aggregated_error("time_decay with half_life") {
            Err(e)
        } else {
            Err(Error::NoTimes)
        }
    }

    /// The weights (not normalised) of a journey, with the age measured from its newest touch
    /// (the common factor up to the conversion time cancels in the normalisation and keeps old
    /// touches from underflowing to zero).
    fn weights(&self, half_life_us: Option<f64>, j: &JourneyRef<'_>, w: &mut Vec<f64>) {
        match (half_life_us, j.times) {
            (Some(hl), Some(times)) => {
                let newest = times.iter().copied().max().unwrap_or(0);
                w.extend(times.iter().map(|&t| (-((newest - t) as f64) / hl).exp2()));
            }
            _ => {
                let hl = self.half_life_touches.unwrap_or(1.0);
                let n = j.channels.len();
                w.extend((1..=n).map(|i| (-((n - i) as f64) / hl).exp2()));
            }
        }
    }
}

impl Model for TimeDecay {
    fn name(&self) -> &'static str {
        "time_decay"
    }
    fn reads_nulls(&self) -> bool {
        false
    }
    fn validate(&self) -> Result<()> {
        parse_duration_us(&self.half_life).map_err(|e| Error::InvalidParameter {
            model: "time_decay",
            parameter: "half_life",
            value: format!("{:?}", self.half_life),
            reason: e.to_string(),
        })?;
        if let Some(h) = self.half_life_touches {
            if !(h.is_finite() && h > 0.0) {
                return Err(Error::InvalidParameter {
                    model: "time_decay",
                    parameter: "half_life_touches",
                    value: h.to_string(),
                    reason: "a half-life must be positive and finite".into(),
                });
            }
        }
        Ok(())
    }
    /// Journeys with times decay by `half_life` even when `half_life_touches` is set, so gathered
    /// journeys (without times) ask the parts, which have them: the credit is the same as in memory.
    fn reads_remote(&self) -> bool {
        true
    }
    fn credit(&self, view: &KpiView<'_>, control: &dyn Control) -> Result<KpiCredit> {
        if let (false, Some(remote)) = (view.journeys.has_times(), view.remote()) {
            // Gathered journeys (buckets, Spark) without times: each part decays its own journeys.
            let spec = crate::model::ModelSpec::TimeDecay(self.clone());
            return crate::hazard::parts::remote_credit(remote, view, &spec, control);
        }
        let hl = self.half_life_us(view)?;
        let mut credit = credit_by_weights(view, control, |j, w| {
            self.weights(hl, j, w);
            normalise(w);
            Ok(())
        })?;
        if hl.is_some() {
            if let Some(n) = self.half_life_touches {
                credit.warnings.push(format!(
                    "half_life_touches = {n} is not used: these journeys carry times, so touches decay by half_life = {} (half_life_touches applies to journeys without times)",
                    self.half_life
                ));
            }
        }
        Ok(credit)
    }
    fn journey_credits(
        &self,
        view: &KpiView<'_>,
        _credit: &KpiCredit,
        control: &dyn Control,
        emit: &mut dyn FnMut(JourneyCredit),
    ) -> Result<()> {
        let hl = self.half_life_us(view)?;
        let split = |j: &JourneyRef<'_>, w: &mut Vec<f64>| {
            self.weights(hl, j, w);
            normalise(w);
            Ok(())
        };
        emit_by_weights(view, control, split, emit)
    }
}
