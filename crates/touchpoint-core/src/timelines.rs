//! Person timelines (every touch and conversion of each person, with times, and the observation
//! period) and the journey-window rule that cuts journeys from them, written once for every reader.
//!
//! The rule: a conversion at `t` has as journey the person's touches in
//! `(max(t - lookback, t_prev), t]`, `t_prev` being the person's previous conversion of the same KPI;
//! a touch whose interaction has its own window must also lie within it; `max_touches` keeps the most
//! recent touches. A conversion with no touch in its window is unattributed. Every person with touches
//! gets, per KPI, a null journey of the touches after their last conversion and within the lookback of
//! their last touch (interaction windows measured from that last touch).
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::journeys::Dimension;

/// One piece of a person's history that the window rule cuts for one KPI.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Cut<'a> {
    /// A converting journey: indices of its touches (relative to the person's first touch, oldest
    /// first, after `max_touches`), the conversion time, weight and value, and the touches trimmed.
    Journey { touches: &'a [u32], time: i64, conversions: f64, value: f64, trimmed: usize },
    /// Conversions with no touch in their window.
    Unattributed { time: i64, conversions: f64, value: f64 },
    /// The null journey: touches after the last conversion, within the lookback of the last touch.
    Null { touches: &'a [u32], time: i64, trimmed: usize },
}

/// The window rule for one KPI: lookback, interaction windows and `max_touches`.
#[derive(Clone, Copy, Debug)]
pub struct WindowRule<'a> {
    /// Lookback in microseconds (> 0).
    pub lookback: i64,
    /// Keep at most this many most recent touches of a journey.
    pub max_touches: Option<usize>,
    /// Per touch of the person (by index), the window of its interaction in microseconds, if it has
    /// one of its own; empty when no interaction has its own window.
    pub touch_window: &'a [Option<i64>],
}

impl WindowRule<'_> {
    /// A rule with only a lookback.
    pub fn lookback(lookback: i64) -> WindowRule<'static> {
        WindowRule { lookback, max_touches: None, touch_window: &[] }
    }

    fn allowed(&self, i: usize, time: i64, anchor: i64) -> bool {
        match self.touch_window.get(i) {
            Some(Some(w)) => time > anchor.saturating_sub(*w),
            _ => true,
        }
    }

    /// Cuts one person's journeys of one KPI. `times` are the person's touch times in order;
    /// `conversions` are (time, weight, value) in time order with same-instant conversions merged.
    /// `scratch` is reused between calls; `emit` receives each cut in time order, the null journey last.
    pub fn cut<E>(
        &self,
        times: &[i64],
        conversions: &[(i64, f64, f64)],
        scratch: &mut Vec<u32>,
        mut emit: impl FnMut(Cut<'_>) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        let trim = |w: &[u32]| -> usize { self.max_touches.map_or(0, |m| w.len().saturating_sub(m)) };
        let mut t_prev = i64::MIN;
        for &(t, c, v) in conversions {
            let lower = t.saturating_sub(self.lookback).max(t_prev);
            let a = times.partition_point(|&x| x <= lower);
            let z = times.partition_point(|&x| x <= t);
            scratch.clear();
            scratch.extend((a..z).filter(|&q| self.allowed(q, times[q], t)).map(|q| q as u32));
            t_prev = t;
            if scratch.is_empty() {
                emit(Cut::Unattributed { time: t, conversions: c, value: v })?;
                continue;
            }
            let trimmed = trim(scratch);
            emit(Cut::Journey { touches: &scratch[trimmed..], time: t, conversions: c, value: v, trimmed })?;
        }
        let Some(&t_last) = times.last() else { return Ok(()) };
        let lower = t_prev.max(t_last.saturating_sub(self.lookback));
        let a = times.partition_point(|&x| x <= lower);
        scratch.clear();
        scratch.extend((a..times.len()).filter(|&q| self.allowed(q, times[q], t_last)).map(|q| q as u32));
        if !scratch.is_empty() {
            let trimmed = trim(scratch);
            emit(Cut::Null { touches: &scratch[trimmed..], time: t_last, trimmed })?;
        }
        Ok(())
    }
}

/// Every person's touches and conversions with times, and the period they were observed in.
///
/// Persons are stored one after another: person `p` owns the touches from `touch_offsets[p]` to
/// `touch_offsets[p + 1]` (oldest first, ids in the journeys' vocabularies) and the conversions from
/// `conv_offsets[p]` to `conv_offsets[p + 1]` (by KPI, then time; same-instant conversions of one KPI
/// merged). Persons whose conversions have no touch at all are kept: their conversions happened, and a
/// model with a baseline credits them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Timelines {
    /// Observation period `[start, end)`, microseconds since the Unix epoch (UTC).
    pub period: (i64, i64),
    /// People at risk, including those with no event at all, when the caller knows it.
    pub population: Option<u64>,
    touch_offsets: Vec<usize>,
    touch_time: Vec<i64>,
    touch_ids: [Option<Vec<u32>>; 6],
    conv_offsets: Vec<usize>,
    conv_kpi: Vec<u32>,
    conv_time: Vec<i64>,
    conv_count: Vec<f64>,
    conv_value: Vec<f64>,
    /// The input id of every person, when the reader kept them (event logs).
    #[serde(default)]
    person_keys: Option<PersonKeys>,
}

/// The input ids of a timeline's persons, in person order: whole numbers, or texts stored end to end.
/// Externally tagged, so that formats which do not describe themselves (the bincode of journeys kept
/// on disk) read it back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PersonKeys {
    /// Whole-number ids.
    Int {
        /// One id per person.
        ids: Vec<i64>,
    },
    /// Text ids: person `p`'s id is `text[offsets[p]..offsets[p + 1]]`.
    Text {
        /// Every id, end to end.
        text: String,
        /// Byte offsets (one more than the persons).
        offsets: Vec<usize>,
    },
}

/// One person's input id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PersonKey<'a> {
    /// A whole-number id (or the person's index when the reader kept no ids).
    Int(i64),
    /// A text id.
    Text(&'a str),
}

impl PersonKeys {
    /// Number of persons.
    pub fn len(&self) -> usize {
        match self {
            PersonKeys::Int { ids } => ids.len(),
            PersonKeys::Text { offsets, .. } => offsets.len().saturating_sub(1),
        }
    }

    /// Whether there is no person.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One person's timeline, borrowed from [`Timelines`].
#[derive(Clone, Copy, Debug)]
pub struct PersonRef<'a> {
    /// Touch times, oldest first.
    pub touch_times: &'a [i64],
    /// Touch offset of the person in the flat touch columns.
    pub first_touch: usize,
    /// KPI id of each conversion record.
    pub conv_kpi: &'a [u32],
    /// Conversion times.
    pub conv_time: &'a [i64],
    /// Conversions per record (same-instant conversions merged).
    pub conv_count: &'a [f64],
    /// Value per record.
    pub conv_value: &'a [f64],
}

impl Timelines {
    /// Empty timelines over `period`, with touch columns for `dims` (channel always).
    pub fn new(period: (i64, i64), population: Option<u64>, dims: &[Dimension]) -> Result<Self> {
        if period.1 <= period.0 {
            return Err(Error::InvalidPeriod {
                start: period.0,
                end: period.1,
                reason: "the end must be after the start".into(),
            });
        }
        if population == Some(0) {
            return Err(Error::InvalidPeriod {
                start: period.0,
                end: period.1,
                reason: "population must be at least 1".into(),
            });
        }
        Ok(Timelines {
            period,
            population,
            touch_offsets: vec![0],
            touch_time: Vec::new(),
            touch_ids: Dimension::ALL.map(|d| (d == Dimension::Channel || dims.contains(&d)).then(Vec::new)),
            conv_offsets: vec![0],
            conv_kpi: Vec::new(),
            conv_time: Vec::new(),
            conv_count: Vec::new(),
            conv_value: Vec::new(),
            person_keys: None,
        })
    }

    /// Keeps the input id of every person (in person order); ignored when the count differs from the
    /// persons.
    pub fn set_person_keys(&mut self, keys: PersonKeys) {
        if keys.len() == self.persons() {
            self.person_keys = Some(keys);
        }
    }

    /// Whether the input ids of the persons are kept, and as whole numbers (`Some(true)`) or texts.
    pub fn person_keys_are_int(&self) -> Option<bool> {
        self.person_keys.as_ref().map(|k| matches!(k, PersonKeys::Int { .. }))
    }

    /// Person `p`'s input id, or its index when the reader kept none.
    pub fn person_key(&self, p: usize) -> PersonKey<'_> {
        match &self.person_keys {
            Some(PersonKeys::Int { ids }) => PersonKey::Int(ids[p]),
            Some(PersonKeys::Text { text, offsets }) => PersonKey::Text(&text[offsets[p]..offsets[p + 1]]),
            None => PersonKey::Int(p as i64),
        }
    }

    /// Timelines from columns already laid out person by person (see the type's documentation);
    /// every length is checked.
    #[allow(clippy::too_many_arguments)]
    pub fn from_parts(
        period: (i64, i64),
        population: Option<u64>,
        touch_offsets: Vec<usize>,
        touch_time: Vec<i64>,
        touch_ids: [Option<Vec<u32>>; 6],
        conv_offsets: Vec<usize>,
        conversions: (Vec<u32>, Vec<i64>, Vec<f64>, Vec<f64>),
    ) -> Result<Self> {
        let mut t = Timelines::new(period, population, &[])?;
        let (conv_kpi, conv_time, conv_count, conv_value) = conversions;
        let n = touch_time.len();
        let m = conv_kpi.len();
        let ok = touch_offsets.len() == conv_offsets.len()
            && touch_offsets.first() == Some(&0)
            && touch_offsets.last() == Some(&n)
            && conv_offsets.first() == Some(&0)
            && conv_offsets.last() == Some(&m)
            && touch_ids[0].is_some()
            && touch_ids.iter().flatten().all(|c| c.len() == n)
            && [conv_time.len(), conv_count.len(), conv_value.len()].iter().all(|&l| l == m);
        if !ok {
            return Err(Error::Merge { reason: "timeline columns of unequal lengths".into() });
        }
        t.touch_offsets = touch_offsets;
        t.touch_time = touch_time;
        t.touch_ids = touch_ids;
        t.conv_offsets = conv_offsets;
        t.conv_kpi = conv_kpi;
        t.conv_time = conv_time;
        t.conv_count = conv_count;
        t.conv_value = conv_value;
        Ok(t)
    }

    /// Whether every index into the timelines stays in bounds, for timelines read from elsewhere
    /// ([`crate::Journeys::read_from`]): offsets from 0 to the column lengths, columns of equal
    /// lengths, KPI and player ids within `n_kpis` and the journeys' vocabularies (`vocab_lens`, per
    /// dimension), person keys one per person, and a period whose end is after its start.
    pub(crate) fn consistent(&self, n_kpis: usize, vocab_lens: &[usize; 6]) -> bool {
        let (n, m) = (self.touch_time.len(), self.conv_kpi.len());
        let offsets_ok = |o: &[usize], end: usize| {
            o.first() == Some(&0) && o.last() == Some(&end) && o.windows(2).all(|w| w[0] <= w[1])
        };
        let keys_ok = self.person_keys.as_ref().is_none_or(|k| {
            k.len() == self.touch_offsets.len().saturating_sub(1)
                && match k {
                    PersonKeys::Int { .. } => true,
                    PersonKeys::Text { text, offsets } => {
                        offsets_ok(offsets, text.len()) && offsets.iter().all(|&o| text.is_char_boundary(o))
                    }
                }
        });
        self.period.0 < self.period.1
            && self.population != Some(0)
            && self.touch_offsets.len() == self.conv_offsets.len()
            && offsets_ok(&self.touch_offsets, n)
            && offsets_ok(&self.conv_offsets, m)
            && [self.conv_time.len(), self.conv_count.len(), self.conv_value.len()].iter().all(|&l| l == m)
            && self.conv_kpi.iter().all(|&k| (k as usize) < n_kpis)
            && self.touch_ids[0].is_some()
            && Dimension::ALL.iter().all(|&d| {
                self.touch_ids[d.index()]
                    .as_ref()
                    .is_none_or(|c| c.len() == n && c.iter().all(|&id| (id as usize) < vocab_lens[d.index()]))
            })
            && keys_ok
    }

    /// Number of persons.
    pub fn persons(&self) -> usize {
        self.touch_offsets.len() - 1
    }

    /// Total touches.
    pub fn touch_count(&self) -> usize {
        self.touch_time.len()
    }

    /// Appends a touch of the person being added (`ids` per dimension in storage order).
    pub fn push_touch(&mut self, ids: [u32; 6], time: i64) {
        for (col, id) in self.touch_ids.iter_mut().zip(ids) {
            if let Some(col) = col {
                col.push(id);
            }
        }
        self.touch_time.push(time);
    }

    /// Appends a conversion record of the person being added.
    pub fn push_conversion(&mut self, kpi: u32, time: i64, conversions: f64, value: f64) {
        self.conv_kpi.push(kpi);
        self.conv_time.push(time);
        self.conv_count.push(conversions);
        self.conv_value.push(value);
    }

    /// Closes the person whose touches and conversions were pushed since the last call; a person with
    /// neither is not stored.
    pub fn finish_person(&mut self) {
        let (t, c) = (self.touch_time.len(), self.conv_kpi.len());
        if t == *self.touch_offsets.last().expect("offsets")
            && c == *self.conv_offsets.last().expect("offsets")
        {
            return;
        }
        self.touch_offsets.push(t);
        self.conv_offsets.push(c);
    }

    /// Person `p`.
    pub fn person(&self, p: usize) -> PersonRef<'_> {
        let (a, b) = (self.touch_offsets[p], self.touch_offsets[p + 1]);
        let (c, d) = (self.conv_offsets[p], self.conv_offsets[p + 1]);
        PersonRef {
            touch_times: &self.touch_time[a..b],
            first_touch: a,
            conv_kpi: &self.conv_kpi[c..d],
            conv_time: &self.conv_time[c..d],
            conv_count: &self.conv_count[c..d],
            conv_value: &self.conv_value[c..d],
        }
    }

    /// The flat touch ids of `dim` (aligned with the touch times), or `None` when absent.
    pub fn touch_ids(&self, dim: Dimension) -> Option<&[u32]> {
        self.touch_ids[dim.index()].as_deref()
    }

    /// The flat touch times, person after person, oldest first within a person.
    pub fn touch_times(&self) -> &[i64] {
        &self.touch_time
    }

    /// Remaps the ids of every touch column (after the journeys' vocabularies were merged).
    pub(crate) fn remap(&mut self, maps: &[Vec<u32>; 6], kpi_map: &[u32]) {
        for (col, map) in self.touch_ids.iter_mut().zip(maps) {
            if let Some(col) = col {
                col.iter_mut().for_each(|id| *id = map[*id as usize]);
            }
        }
        self.conv_kpi.iter_mut().for_each(|k| *k = kpi_map[*k as usize]);
    }

    /// A person (input id) that both timelines hold, if any (None too when either kept no ids, or
    /// they kept ids of different kinds, which no person can share).
    fn shared_person(&self, other: &Timelines) -> Option<String> {
        let same_kind = matches!(
            (&self.person_keys, &other.person_keys),
            (Some(PersonKeys::Int { .. }), Some(PersonKeys::Int { .. }))
                | (Some(PersonKeys::Text { .. }), Some(PersonKeys::Text { .. }))
        );
        if !same_kind {
            return None;
        }
        let mine: touchpoint_util::hashing::FastMap<PersonKey<'_>, ()> =
            (0..self.persons()).map(|p| (self.person_key(p), ())).collect();
        (0..other.persons()).map(|p| other.person_key(p)).find(|k| mine.contains_key(k)).map(|k| match k {
            PersonKey::Int(i) => i.to_string(),
            PersonKey::Text(t) => t.to_owned(),
        })
    }

    /// Appends another store's persons (disjoint persons; ids already in this store's vocabularies).
    pub(crate) fn append(&mut self, other: Timelines) -> Result<()> {
        if self.period != other.period {
            return Err(Error::Merge {
                reason: format!(
                    "timelines observed over different periods ({:?} and {:?})",
                    self.period, other.period
                ),
            });
        }
        // Parts of one log split by time share people: appended, each would be two people with half
        // a timeline each, and the population counted twice. Refused, naming one.
        if let Some(shared) = self.shared_person(&other) {
            return Err(Error::Merge {
                reason: format!(
                    "both hold person `{shared}`: merge combines parts of a log split by person (each person's events in one part), not by time; cut the journeys from the whole log instead"
                ),
            });
        }
        self.population = match (self.population, other.population) {
            (Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
        self.person_keys = match (self.person_keys.take(), other.person_keys) {
            (Some(PersonKeys::Int { mut ids }), Some(PersonKeys::Int { ids: theirs })) => {
                ids.extend(theirs);
                Some(PersonKeys::Int { ids })
            }
            (
                Some(PersonKeys::Text { mut text, mut offsets }),
                Some(PersonKeys::Text { text: t, offsets: o }),
            ) => {
                let base = text.len();
                text.push_str(&t);
                offsets.extend(o[1..].iter().map(|x| x + base));
                Some(PersonKeys::Text { text, offsets })
            }
            _ => None,
        };
        let (t0, c0) = (self.touch_time.len(), self.conv_kpi.len());
        self.touch_offsets.extend(other.touch_offsets[1..].iter().map(|o| o + t0));
        self.conv_offsets.extend(other.conv_offsets[1..].iter().map(|o| o + c0));
        self.touch_time.extend(other.touch_time);
        for (mine, theirs) in self.touch_ids.iter_mut().zip(other.touch_ids) {
            match (mine, theirs) {
                (Some(m), Some(t)) => m.extend(t),
                (None, None) => {}
                _ => return Err(Error::Merge { reason: "timeline dimensions differ".into() }),
            }
        }
        self.conv_kpi.extend(other.conv_kpi);
        self.conv_time.extend(other.conv_time);
        self.conv_count.extend(other.conv_count);
        self.conv_value.extend(other.conv_value);
        Ok(())
    }

    /// Total conversions of KPI `kpi` (all conversions are inside the period).
    pub fn conversions_of(&self, kpi: u32) -> (f64, f64) {
        let mut out = (0.0, 0.0);
        for ((&k, &c), &v) in self.conv_kpi.iter().zip(&self.conv_count).zip(&self.conv_value) {
            if k == kpi {
                out.0 += c;
                out.1 += v;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cuts(rule: &WindowRule<'_>, times: &[i64], conv: &[(i64, f64, f64)]) -> Vec<String> {
        let mut out = Vec::new();
        let mut scratch = Vec::new();
        rule.cut::<()>(times, conv, &mut scratch, |c| {
            out.push(match c {
                Cut::Journey { touches, time, conversions, trimmed, .. } => {
                    format!("J{time}:{touches:?}x{conversions}-{trimmed}")
                }
                Cut::Unattributed { time, conversions, .. } => format!("U{time}x{conversions}"),
                Cut::Null { touches, time, trimmed } => format!("N{time}:{touches:?}-{trimmed}"),
            });
            Ok(())
        })
        .unwrap();
        out
    }

    #[test]
    fn windows_follow_the_rule_by_hand() {
        // Touches at 1, 2, 5, 9, 20; lookback 4. Conversion at 5 takes (1, 5] = touches 2, 5;
        // conversion at 9 takes (5, 9] = touch 9; conversion at 15 has (11, 15]: none; the null journey
        // takes (max(15, 20 - 4), 20] = touch 20.
        let times = [1, 2, 5, 9, 20];
        let conv = [(5, 1.0, 0.0), (9, 2.0, 0.0), (15, 1.0, 0.0)];
        let got = cuts(&WindowRule::lookback(4), &times, &conv);
        assert_eq!(got, ["J5:[1, 2]x1-0", "J9:[3]x2-0", "U15x1", "N20:[4]-0"]);
        // max_touches 1 keeps the latest touch and counts the other as trimmed.
        let rule = WindowRule { max_touches: Some(1), ..WindowRule::lookback(4) };
        assert_eq!(cuts(&rule, &times, &conv)[0], "J5:[2]x1-1");
        // An interaction window of 1 on touch 1 (time 2) drops it from the journey at 5.
        let windows = [None, Some(1), None, None, None];
        let rule = WindowRule { touch_window: &windows, ..WindowRule::lookback(4) };
        assert_eq!(cuts(&rule, &times, &conv)[0], "J5:[2]x1-0");
        // No touch after the last conversion: no null journey.
        assert_eq!(cuts(&WindowRule::lookback(4), &[1, 2], &[(3, 1.0, 0.0)]), ["J3:[0, 1]x1-0"]);
    }

    #[test]
    fn bad_periods_are_typed() {
        let e = Timelines::new((5, 5), None, &[]).unwrap_err().to_string();
        assert!(e.contains("end must be after the start"), "{e}");
        let e = Timelines::new((0, 5), Some(0), &[]).unwrap_err().to_string();
        assert!(e.contains("population"), "{e}");
    }
}
