//! The columnar store of weighted journeys that every model reads.
use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::timelines::Timelines;
use crate::vocab::{Vocab, NONE_PLAYER, RESERVED_NAMES};

/// A player dimension of a touch: what credit can be given to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    /// The medium: search, facebook, linkedin, email, direct...
    Channel,
    /// The campaign a touch belongs to.
    Campaign,
    /// What was done: post, reply, share, ad, check-in...
    Activity,
    /// Who did it: a brand account, an agency, an employee id.
    Actor,
    /// The actor's group, e.g. an advocacy training level.
    ActorGroup,
    /// The kind of interaction: click, impression, view...
    Interaction,
}

impl Dimension {
    /// Every dimension, in storage order.
    pub const ALL: [Dimension; 6] = [
        Dimension::Channel,
        Dimension::Campaign,
        Dimension::Activity,
        Dimension::Actor,
        Dimension::ActorGroup,
        Dimension::Interaction,
    ];

    /// Position in storage order.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The name used in tables and parameters.
    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Channel => "channel",
            Dimension::Campaign => "campaign",
            Dimension::Activity => "activity",
            Dimension::Actor => "actor",
            Dimension::ActorGroup => "actor_group",
            Dimension::Interaction => "interaction",
        }
    }
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Dimension {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Dimension::ALL
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| Error::UnknownDimension { name: s.to_owned() })
    }
}

/// One row of the ingestion summary: what entered for one KPI and where it went.
///
/// Counts (`touches`, `journeys`, `null_journeys`) are of journey records; weights are in `conversions`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct KpiSummary {
    /// The KPI's name.
    pub kpi: String,
    /// Touches in the KPI's journey records (converting and null).
    pub touches: u64,
    /// Journey records with conversions > 0.
    pub journeys: u64,
    /// Journey records with nulls > 0.
    pub null_journeys: u64,
    /// Conversions that entered: attributed + unattributed.
    pub conversions: f64,
    /// Conversions carried by journeys, which models credit.
    pub attributed: f64,
    /// Conversions that no journey carries (see the unattributed table).
    pub unattributed: f64,
    /// Touches dropped by `max_touches`.
    pub trimmed_touches: u64,
}

/// The weights of one journey record: conversions, their value, and null (non-converting) journeys
/// that followed the same path. Each must be finite and >= 0; value needs conversions.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Weights {
    /// Conversions at the end of the path.
    pub conversions: f64,
    /// Their value.
    pub value: f64,
    /// Journeys along the same path that did not convert.
    pub nulls: f64,
}

/// Conversions that could not be given a journey, with the reason.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Unattributed {
    /// The KPI's name.
    pub kpi: String,
    /// Why: `no_touch_in_window`, `unknown_person`, ...
    pub reason: String,
    /// Conversion weight.
    pub conversions: f64,
    /// Value from the data.
    pub value: f64,
}

/// Weighted journeys in columns: offsets into flat touch arrays, one array per dimension.
///
/// Built once by [`JourneysBuilder`], read by every model. Journey `i` owns the touches
/// `offsets[i]..offsets[i + 1]` of every touch column.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Journeys {
    vocabs: [Vocab; 6],
    kpis: Vocab,
    offsets: Vec<usize>,
    touches: [Option<Vec<u32>>; 6],
    times: Option<Vec<i64>>,
    kpi: Vec<u32>,
    conversions: Vec<f64>,
    value: Vec<f64>,
    nulls: Vec<f64>,
    conversion_time: Option<Vec<i64>>,
    trimmed: Vec<u64>,
    unattributed: Vec<Unattributed>,
    /// Touches that entered, per dimension and player id (empty for absent dimensions).
    #[serde(default)]
    input_touches: Vec<Vec<f64>>,
    /// Every person's touches and conversions with times, when built from an event log.
    #[serde(default)]
    timelines: Option<Timelines>,
    /// What the reader noticed and the user should know (a default column that was absent...);
    /// every attribution of these journeys repeats them in its warnings.
    #[serde(default)]
    warnings: Vec<String>,
    /// The person (index into the timelines) of every journey, when cut from person timelines.
    #[serde(default)]
    persons: Option<Vec<u32>>,
    /// When each row stands for many journeys (statistics gathered elsewhere, e.g. on Spark): how
    /// many, so the summary counts journeys rather than rows.
    #[serde(default)]
    aggregated: Option<Aggregated>,
}

/// Where rows of a [`Journeys`] aggregate journeys with one path: what the rows stand for, per KPI
/// id (the summary reads these instead of counting rows).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Aggregated {
    /// Where the journeys were cut, for messages (e.g. "on Spark").
    pub origin: String,
    /// Touches over all the journeys, per KPI id.
    pub touches: Vec<u64>,
    /// Journeys with conversions, per KPI id.
    pub journeys: Vec<u64>,
    /// Null journeys, per KPI id.
    pub null_journeys: Vec<u64>,
}

/// One journey, borrowed from a [`Journeys`].
#[derive(Clone, Copy, Debug)]
pub struct JourneyRef<'a> {
    /// Position in the store.
    pub index: usize,
    /// KPI id.
    pub kpi: u32,
    /// Channel ids of the touches, oldest first.
    pub channels: &'a [u32],
    /// Touch times (microseconds since the Unix epoch, UTC), when known.
    pub times: Option<&'a [i64]>,
    /// Conversion weight (>= 0).
    pub conversions: f64,
    /// Value from the data (>= 0).
    pub value: f64,
    /// Weight of identical journeys that did not convert (>= 0).
    pub nulls: f64,
    /// Conversion time, when known.
    pub conversion_time: Option<i64>,
    /// The person (index into the timelines), when the journey was cut from person timelines.
    pub person: Option<u32>,
}

impl Journeys {
    /// Number of journey records.
    pub fn len(&self) -> usize {
        self.kpi.len()
    }

    /// Whether there are no journeys.
    pub fn is_empty(&self) -> bool {
        self.kpi.is_empty()
    }

    /// Total touches over all journeys.
    pub fn touch_count(&self) -> usize {
        *self.offsets.last().unwrap_or(&0)
    }

    /// The vocabulary of a dimension.
    pub fn vocab(&self, dim: Dimension) -> &Vocab {
        &self.vocabs[dim.index()]
    }

    /// The KPI vocabulary.
    pub fn kpis(&self) -> &Vocab {
        &self.kpis
    }

    /// Whether touches carry a column for `dim` (else every touch is `(none)` there).
    pub fn has_dimension(&self, dim: Dimension) -> bool {
        self.touches[dim.index()].is_some()
    }

    /// Whether touches and conversions carry times.
    pub fn has_times(&self) -> bool {
        self.times.is_some()
    }

    /// The flat touch ids of `dim`, aligned with the channel column. `None` when the dimension is absent.
    pub fn touch_ids(&self, dim: Dimension) -> Option<&[u32]> {
        self.touches[dim.index()].as_deref()
    }

    /// Offsets into the flat touch arrays (length `len() + 1`).
    pub fn offsets(&self) -> &[usize] {
        &self.offsets
    }

    /// KPI id per journey.
    pub fn kpi_ids(&self) -> &[u32] {
        &self.kpi
    }

    /// Conversions per journey.
    pub fn conversions(&self) -> &[f64] {
        &self.conversions
    }

    /// Value per journey.
    pub fn values(&self) -> &[f64] {
        &self.value
    }

    /// Nulls per journey.
    pub fn nulls(&self) -> &[f64] {
        &self.nulls
    }

    /// Journey `i`.
    pub fn get(&self, i: usize) -> JourneyRef<'_> {
        let (a, b) = (self.offsets[i], self.offsets[i + 1]);
        JourneyRef {
            index: i,
            kpi: self.kpi[i],
            channels: &self.touches[0].as_ref().expect("channel column")[a..b],
            times: self.times.as_ref().map(|t| &t[a..b]),
            conversions: self.conversions[i],
            value: self.value[i],
            nulls: self.nulls[i],
            conversion_time: self.conversion_time.as_ref().map(|t| t[i]),
            person: self.persons.as_ref().map(|p| p[i]),
        }
    }

    /// A store of the given records with this store's vocabularies (channel ids in `channels`, KPI ids
    /// of this store), for the bootstrap's merged records. No summary, timelines or persons.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn with_records(
        &self,
        offsets: Vec<usize>,
        channels: Vec<u32>,
        times: Option<Vec<i64>>,
        kpi: Vec<u32>,
        conversions: Vec<f64>,
        value: Vec<f64>,
        nulls: Vec<f64>,
        conversion_time: Option<Vec<i64>>,
    ) -> Journeys {
        let mut touches: [Option<Vec<u32>>; 6] = Default::default();
        touches[0] = Some(channels);
        Journeys {
            vocabs: self.vocabs.clone(),
            kpis: self.kpis.clone(),
            offsets,
            touches,
            times,
            kpi,
            conversions,
            value,
            nulls,
            conversion_time,
            trimmed: vec![0; self.kpis.len()],
            unattributed: Vec::new(),
            input_touches: vec![Vec::new(); 6],
            timelines: None,
            warnings: Vec::new(),
            persons: None,
            aggregated: None,
        }
    }

    /// The person (index into [`Journeys::timelines`]) of every journey, when the journeys were cut
    /// from person timelines (event logs, the simulator).
    pub fn persons(&self) -> Option<&[u32]> {
        self.persons.as_deref()
    }

    /// Iterates over all journeys.
    pub fn iter(&self) -> impl Iterator<Item = JourneyRef<'_>> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// Player ids of every touch for dimension `dim`: the stored column, or all `(none)` when absent.
    pub fn player_column(&self, dim: Dimension) -> std::borrow::Cow<'_, [u32]> {
        match &self.touches[dim.index()] {
            Some(col) => std::borrow::Cow::Borrowed(col),
            None => std::borrow::Cow::Owned(vec![0; self.touch_count()]),
        }
    }

    /// The names of the players of `dim`, by id (`(none)` alone when the dimension is absent).
    pub fn player_names(&self, dim: Dimension) -> Vec<String> {
        if self.has_dimension(dim) {
            self.vocabs[dim.index()].names().to_vec()
        } else {
            vec![NONE_PLAYER.to_owned()]
        }
    }

    /// Touches that entered per player of `dim` (by id): rows of the touches table for event logs,
    /// path length x (conversions + nulls) for path tables. All on `(none)` when `dim` is absent.
    pub fn input_touches(&self, dim: Dimension) -> Vec<f64> {
        match self.input_touches.get(dim.index()) {
            Some(v) if self.has_dimension(dim) => {
                let mut v = v.clone();
                v.resize(self.vocabs[dim.index()].len(), 0.0);
                v
            }
            _ => {
                let total = self.input_touches.first().map_or(0.0, |v| v.iter().sum());
                vec![total]
            }
        }
    }

    /// The person timelines, when the journeys were built from an event log.
    pub fn timelines(&self) -> Option<&Timelines> {
        self.timelines.as_ref()
    }

    /// Conversions that entered but carry no journey.
    pub fn unattributed(&self) -> &[Unattributed] {
        &self.unattributed
    }

    /// The ingestion summary, one row per KPI in KPI-id order.
    pub fn summary(&self) -> Vec<KpiSummary> {
        let mut rows: Vec<KpiSummary> = self
            .kpis
            .names()
            .iter()
            .enumerate()
            .map(|(k, name)| KpiSummary {
                kpi: name.clone(),
                trimmed_touches: self.trimmed.get(k).copied().unwrap_or(0),
                ..KpiSummary::default()
            })
            .collect();
        let counts = self.counts();
        for (k, row) in rows.iter_mut().enumerate() {
            row.touches = counts.touches[k];
            row.journeys = counts.journeys[k];
            row.null_journeys = counts.null_journeys[k];
        }
        for i in 0..self.len() {
            rows[self.kpi[i] as usize].attributed += self.conversions[i];
        }
        for u in &self.unattributed {
            if let Some(k) = self.kpis.get(&u.kpi) {
                rows[k as usize].unattributed += u.conversions;
            }
        }
        for row in &mut rows {
            row.conversions = row.attributed + row.unattributed;
        }
        rows
    }

    /// Touches, journeys and null journeys per KPI id: the rows', or what aggregated rows stand for.
    fn counts(&self) -> Aggregated {
        if let Some(a) = &self.aggregated {
            let mut a = a.clone();
            for v in [&mut a.touches, &mut a.journeys, &mut a.null_journeys] {
                v.resize(self.kpis.len(), 0);
            }
            return a;
        }
        let n = self.kpis.len();
        let mut a = Aggregated {
            origin: String::new(),
            touches: vec![0; n],
            journeys: vec![0; n],
            null_journeys: vec![0; n],
        };
        for i in 0..self.len() {
            let k = self.kpi[i] as usize;
            a.touches[k] += (self.offsets[i + 1] - self.offsets[i]) as u64;
            a.journeys[k] += u64::from(self.conversions[i] > 0.0);
            a.null_journeys[k] += u64::from(self.nulls[i] > 0.0);
        }
        a
    }

    /// What the rows stand for, when each aggregates the journeys of one path (see [`Aggregated`]).
    pub fn aggregated(&self) -> Option<&Aggregated> {
        self.aggregated.as_ref()
    }

    /// The error for `what` (a model, per-journey credit...) that needs touch times or persons, on
    /// aggregated rows; `None` on journeys that are not aggregated.
    pub fn aggregated_error(&self, what: &str) -> Option<Error> {
        self.aggregated
            .as_ref()
            .map(|a| Error::Aggregated { what: what.to_owned(), origin: a.origin.clone() })
    }

    /// Journey indices grouped by KPI id (one group per KPI of the vocabulary, possibly empty).
    pub fn rows_by_kpi(&self) -> Vec<Vec<u32>> {
        let mut groups = vec![Vec::new(); self.kpis.len()];
        for (i, &k) in self.kpi.iter().enumerate() {
            groups[k as usize].push(i as u32);
        }
        groups
    }

    /// An error unless the journeys carry dimension `dim` (channel always is): crediting a dimension
    /// that was never read would hand everything to `(none)`.
    pub fn require_dimension(&self, dim: Dimension) -> Result<()> {
        if self.has_dimension(dim) {
            return Ok(());
        }
        let carried: Vec<&str> =
            Dimension::ALL.iter().filter(|d| self.has_dimension(**d)).map(|d| d.as_str()).collect();
        Err(Error::InvalidParameter {
            model: "attribute",
            parameter: "by",
            value: dim.as_str().to_owned(),
            reason: format!(
                "these journeys carry no `{dim}` dimension (they have: {}); read it from the touches with dims=[\"{dim}\"] (CLI: --dims {dim})",
                carried.join(", ")
            ),
        })
    }

    /// What the reader noticed: every attribution of these journeys repeats it in its warnings.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Concatenates two stores, remapping `other`'s ids into this one's vocabularies.
    ///
    /// Summaries add up and unattributed rows are kept, so partitions can be built apart and combined.
    pub fn merge(mut self, other: Journeys) -> Result<Journeys> {
        for d in Dimension::ALL {
            if self.has_dimension(d) != other.has_dimension(d) {
                return Err(Error::Merge { reason: format!("dimension `{d}` is present in one side only") });
            }
        }
        if self.has_times() != other.has_times() {
            return Err(Error::Merge { reason: "times are present in one side only".into() });
        }
        if self.timelines.is_some() != other.timelines.is_some() {
            return Err(Error::Merge { reason: "person timelines are present in one side only".into() });
        }
        let aggregated = (self.aggregated.is_some() || other.aggregated.is_some())
            .then(|| (self.counts(), other.counts(), other.aggregated.as_ref().map(|a| a.origin.clone())));
        let kpi_map: Vec<u32> = other.kpis.names().iter().map(|n| self.kpis.intern(n)).collect();
        if let Some((mut mine, theirs, origin)) = aggregated {
            for (m, t) in [
                (&mut mine.touches, &theirs.touches),
                (&mut mine.journeys, &theirs.journeys),
                (&mut mine.null_journeys, &theirs.null_journeys),
            ] {
                m.resize(self.kpis.len(), 0);
                for (k, v) in t.iter().enumerate() {
                    m[kpi_map[k] as usize] += v;
                }
            }
            if mine.origin.is_empty() {
                mine.origin = origin.unwrap_or_default();
            }
            self.aggregated = Some(mine);
        }
        let mut maps: [Vec<u32>; 6] = Default::default();
        for d in Dimension::ALL {
            let i = d.index();
            let map: Vec<u32> = other.vocabs[i].names().iter().map(|n| self.vocabs[i].intern(n)).collect();
            if let (Some(mine), Some(theirs)) = (&mut self.touches[i], &other.touches[i]) {
                mine.extend(theirs.iter().map(|&id| map[id as usize]));
            }
            maps[i] = map;
        }
        let person_base = self.timelines.as_ref().map_or(0, |t| t.persons() as u32);
        if let (Some(mine), Some(mut theirs)) = (self.timelines.as_mut(), other.timelines) {
            theirs.remap(&maps, &kpi_map);
            mine.append(theirs)?;
        }
        self.persons = match (self.persons.take(), &other.persons) {
            (Some(mut mine), Some(theirs)) => {
                mine.extend(theirs.iter().map(|p| p + person_base));
                Some(mine)
            }
            _ => None,
        };
        let base = self.touch_count();
        self.offsets.extend(other.offsets[1..].iter().map(|o| o + base));
        if let (Some(mine), Some(theirs)) = (&mut self.times, &other.times) {
            mine.extend_from_slice(theirs);
        }
        if let (Some(mine), Some(theirs)) = (&mut self.conversion_time, &other.conversion_time) {
            mine.extend_from_slice(theirs);
        }
        self.kpi.extend(other.kpi.iter().map(|&k| kpi_map[k as usize]));
        self.conversions.extend_from_slice(&other.conversions);
        self.value.extend_from_slice(&other.value);
        self.nulls.extend_from_slice(&other.nulls);
        self.trimmed.resize(self.kpis.len(), 0);
        for (k, t) in other.trimmed.iter().enumerate() {
            self.trimmed[kpi_map[k] as usize] += t;
        }
        for d in Dimension::ALL {
            let i = d.index();
            if !self.has_dimension(d) {
                continue;
            }
            let map: Vec<u32> =
                other.vocabs[i].names().iter().map(|n| self.vocabs[i].get(n).expect("interned")).collect();
            let mine = &mut self.input_touches[i];
            mine.resize(self.vocabs[i].len(), 0.0);
            for (id, t) in other.input_touches[i].iter().enumerate() {
                mine[map[id] as usize] += t;
            }
        }
        for w in other.warnings {
            if !self.warnings.contains(&w) {
                self.warnings.push(w);
            }
        }
        for u in other.unattributed {
            match self.unattributed.iter_mut().find(|x| x.kpi == u.kpi && x.reason == u.reason) {
                Some(x) => {
                    x.conversions += u.conversions;
                    x.value += u.value;
                }
                None => self.unattributed.push(u),
            }
        }
        Ok(self)
    }
}

/// Builds a [`Journeys`] touch by touch, validating as it goes.
#[derive(Debug)]
pub struct JourneysBuilder {
    j: Journeys,
    /// The person of the journeys being finished (see [`JourneysBuilder::set_person`]).
    person: u32,
    pending: usize,
    unattributed: HashMap<(u32, String), (f64, f64)>,
    explicit_touches: [bool; 6],
    extra_dims: bool,
}

impl JourneysBuilder {
    /// A builder for journeys without times, with the given extra dimensions (channel is always
    /// there).
    pub fn new(dims: &[Dimension]) -> Self {
        Self::make(dims, false)
    }

    /// A builder for journeys with touch and conversion times (microseconds since the Unix epoch),
    /// with the given extra dimensions.
    pub fn with_times(dims: &[Dimension]) -> Self {
        Self::make(dims, true)
    }

    fn make(dims: &[Dimension], with_times: bool) -> Self {
        let touches = Dimension::ALL.map(|d| {
            if d == Dimension::Channel || dims.contains(&d) {
                Some(Vec::new())
            } else {
                None
            }
        });
        JourneysBuilder {
            j: Journeys {
                vocabs: Default::default(),
                kpis: Vocab::new(),
                offsets: vec![0],
                touches,
                times: with_times.then(Vec::new),
                kpi: Vec::new(),
                conversions: Vec::new(),
                value: Vec::new(),
                nulls: Vec::new(),
                conversion_time: with_times.then(Vec::new),
                trimmed: Vec::new(),
                unattributed: Vec::new(),
                input_touches: vec![Vec::new(); 6],
                timelines: None,
                warnings: Vec::new(),
                persons: None,
                aggregated: None,
            },
            person: 0,
            pending: 0,
            unattributed: HashMap::new(),
            explicit_touches: [false; 6],
            extra_dims: dims.iter().any(|d| *d != Dimension::Channel),
        }
    }

    /// Reserves room for `journeys` journeys and `touches` touches.
    pub fn reserve(&mut self, journeys: usize, touches: usize) {
        for col in self.j.touches.iter_mut().flatten() {
            col.reserve(touches);
        }
        if let Some(t) = &mut self.j.times {
            t.reserve(touches);
        }
        self.j.offsets.reserve(journeys);
        self.j.kpi.reserve(journeys);
        self.j.conversions.reserve(journeys);
        self.j.value.reserve(journeys);
        self.j.nulls.reserve(journeys);
    }

    /// The id of a KPI, interning it.
    pub fn kpi_id(&mut self, name: &str) -> u32 {
        let id = self.j.kpis.intern(name);
        if self.j.trimmed.len() < self.j.kpis.len() {
            self.j.trimmed.resize(self.j.kpis.len(), 0);
        }
        id
    }

    /// The id of a player of `dim`, interning it; reserved state names are refused (row is for the message).
    pub fn player_id(&mut self, dim: Dimension, name: &str, row: usize) -> Result<u32> {
        let vocab = &mut self.j.vocabs[dim.index()];
        if let Some(id) = vocab.get(name) {
            return Ok(id);
        }
        if RESERVED_NAMES.contains(&name) {
            return Err(Error::ReservedName { dimension: dim.as_str(), name: name.to_owned(), row });
        }
        Ok(vocab.intern(name))
    }

    /// The id of a player of `dim` already interned, without interning (the fast path of readers).
    #[inline]
    pub fn known_player_id(&self, dim: Dimension, name: &str) -> Option<u32> {
        self.j.vocabs[dim.index()].get(name)
    }

    /// How many players of `dim` are interned.
    pub fn player_count(&self, dim: Dimension) -> usize {
        self.j.vocabs[dim.index()].len()
    }

    /// The id of the `(none)` player of `dim`.
    pub fn none_id(&mut self, dim: Dimension) -> u32 {
        self.j.vocabs[dim.index()].intern(NONE_PLAYER)
    }

    /// Whether the journeys being built have a column for `dim`.
    pub fn has_dimension(&self, dim: Dimension) -> bool {
        self.j.has_dimension(dim)
    }

    /// Appends a touch to the journey being built. `ids` are per dimension in storage order
    /// (ignored for absent dimensions); `time` is required exactly when the builder has times.
    pub fn push_touch(&mut self, ids: [u32; 6], time: Option<i64>) {
        for (col, id) in self.j.touches.iter_mut().zip(ids) {
            if let Some(col) = col {
                col.push(id);
            }
        }
        if let Some(t) = &mut self.j.times {
            t.push(time.unwrap_or(i64::MIN));
        }
        self.pending += 1;
    }

    /// Appends a touch given only its channel (other dimensions `(none)`).
    /// Appends touches of these channels (no times) to the journey being built: what
    /// [`JourneysBuilder::push_channel`] does for each, in one step.
    pub fn push_channels(&mut self, channels: &[u32]) {
        if self.extra_dims || self.j.times.is_some() {
            for &c in channels {
                self.push_channel(c, None);
            }
            return;
        }
        self.j.touches[0].as_mut().expect("channel column").extend_from_slice(channels);
        self.pending += channels.len();
    }

    #[inline]
    pub fn push_channel(&mut self, channel: u32, time: Option<i64>) {
        if self.extra_dims {
            let mut ids = [0u32; 6];
            ids[0] = channel;
            for d in &Dimension::ALL[1..] {
                if self.has_dimension(*d) {
                    ids[d.index()] = self.none_id(*d);
                }
            }
            self.push_touch(ids, time);
            return;
        }
        self.j.touches[0].as_mut().expect("channel column").push(channel);
        if let Some(t) = &mut self.j.times {
            t.push(time.unwrap_or(i64::MIN));
        }
        self.pending += 1;
    }

    /// Closes the journey whose touches were pushed since the last call.
    ///
    /// `row` names the input row in errors. Weights must be finite and >= 0; value needs conversions.
    pub fn finish_journey(
        &mut self,
        row: usize,
        kpi: u32,
        weights: Weights,
        conversion_time: Option<i64>,
    ) -> Result<()> {
        let Weights { conversions, value, nulls } = weights;
        let check = |field: &'static str, v: f64| {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(Error::InvalidWeight { field, row, value: v })
            }
        };
        let outcome = check("conversions", conversions)
            .and_then(|_| check("value", value))
            .and_then(|_| check("nulls", nulls))
            .and(if self.pending == 0 { Err(Error::EmptyPath { row }) } else { Ok(()) });
        if let Err(e) = outcome {
            self.discard_pending();
            return Err(e);
        }
        if value > 0.0 && conversions == 0.0 {
            self.discard_pending();
            return Err(Error::InvalidWeight { field: "value (a row without conversions)", row, value });
        }
        let end = self.j.offsets.last().unwrap() + self.pending;
        self.j.offsets.push(end);
        self.pending = 0;
        self.j.kpi.push(kpi);
        self.j.conversions.push(conversions);
        self.j.value.push(value);
        self.j.nulls.push(nulls);
        if let Some(ps) = &mut self.j.persons {
            ps.push(self.person);
        }
        if let Some(ct) = &mut self.j.conversion_time {
            let last_touch = self.j.times.as_ref().and_then(|t| t.last().copied()).unwrap_or(i64::MIN);
            ct.push(conversion_time.unwrap_or(last_touch));
        }
        Ok(())
    }

    /// Drops the touches pushed since the last finished journey.
    pub fn discard_pending(&mut self) {
        let keep = *self.j.offsets.last().unwrap();
        for col in self.j.touches.iter_mut().flatten() {
            col.truncate(keep);
        }
        if let Some(t) = &mut self.j.times {
            t.truncate(keep);
        }
        self.pending = 0;
    }

    /// Convenience for callers holding names: one journey of channel names.
    pub fn push_path<S: AsRef<str>>(
        &mut self,
        row: usize,
        kpi: &str,
        channels: &[S],
        weights: Weights,
    ) -> Result<()> {
        let k = self.kpi_id(kpi);
        for (pos, c) in channels.iter().enumerate() {
            let name = c.as_ref();
            if name.is_empty() {
                self.discard_pending();
                return Err(Error::EmptyTouch { row, position: pos + 1 });
            }
            let id = match self.player_id(Dimension::Channel, name, row) {
                Ok(id) => id,
                Err(e) => {
                    self.discard_pending();
                    return Err(e);
                }
            };
            self.push_channel(id, None);
        }
        self.finish_journey(row, k, weights, None)
    }

    /// Records conversions that have no journey.
    pub fn add_unattributed(&mut self, kpi: u32, reason: &str, conversions: f64, value: f64) {
        let e = self.unattributed.entry((kpi, reason.to_owned())).or_insert((0.0, 0.0));
        e.0 += conversions;
        e.1 += value;
    }

    /// Records something the user should know about how the journeys were read.
    pub fn add_warning(&mut self, warning: impl Into<String>) {
        let w = warning.into();
        if !self.j.warnings.contains(&w) {
            self.j.warnings.push(w);
        }
    }

    /// Marks the journeys finished from now on as person `person`'s (its index in the timelines set by
    /// [`JourneysBuilder::set_timelines`]), so a bootstrap over people can move a person's journeys
    /// together. Call it before the first journey and whenever the person changes; a builder whose
    /// first journey was finished without it keeps no persons.
    pub fn set_person(&mut self, person: u32) {
        if self.j.persons.is_none() && self.j.kpi.is_empty() {
            self.j.persons = Some(Vec::new());
        }
        self.person = person;
    }

    /// Attaches the person timelines the journeys were cut from (ids in this builder's vocabularies).
    pub fn set_timelines(&mut self, timelines: Timelines) {
        self.j.timelines = Some(timelines);
    }

    /// Marks every row as standing for many journeys of its path, `origin` saying where they were cut
    /// (for messages); `counts` are per KPI id (see [`Aggregated`]).
    pub fn set_aggregated(&mut self, counts: Aggregated) {
        self.j.aggregated = Some(counts);
    }

    /// Records touches dropped by `max_touches`.
    pub fn add_trimmed(&mut self, kpi: u32, touches: u64) {
        self.j.trimmed[kpi as usize] += touches;
    }

    /// Sets the touches that entered per player of `dim` (by id), for inputs where a touch can sit in
    /// several journeys or none (event logs). Otherwise they are counted from the journeys.
    pub fn set_input_touches(&mut self, dim: Dimension, per_player: Vec<f64>) {
        self.j.input_touches[dim.index()] = per_player;
        self.explicit_touches[dim.index()] = true;
    }

    /// The finished store.
    pub fn build(mut self) -> Journeys {
        self.discard_pending();
        for d in Dimension::ALL {
            let i = d.index();
            if self.explicit_touches[i] {
                continue;
            }
            let Some(col) = &self.j.touches[i] else { continue };
            let mut counts = vec![0.0; self.j.vocabs[i].len()];
            for k in 0..self.j.kpi.len() {
                let w = self.j.conversions[k] + self.j.nulls[k];
                for &p in &col[self.j.offsets[k]..self.j.offsets[k + 1]] {
                    counts[p as usize] += w;
                }
            }
            self.j.input_touches[i] = counts;
        }
        let mut rows: Vec<_> = self.unattributed.into_iter().collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        self.j.unattributed = rows
            .into_iter()
            .map(|((k, reason), (c, v))| Unattributed {
                kpi: self.j.kpis.name(k).to_owned(),
                reason,
                conversions: c,
                value: v,
            })
            .collect();
        self.j.trimmed.resize(self.j.kpis.len(), 0);
        // Persons name timelines: without them (or with an index outside them) they mean nothing.
        let n_persons = self.j.timelines.as_ref().map(Timelines::persons);
        if let Some(ps) = &self.j.persons {
            if n_persons.is_none_or(|n| ps.iter().any(|&p| p as usize >= n)) {
                self.j.persons = None;
            }
        }
        self.j
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Journeys {
        let mut b = JourneysBuilder::new(&[]);
        b.push_path(1, "sales", &["a", "b"], Weights { conversions: 1.0, value: 10.0, nulls: 2.0 }).unwrap();
        b.push_path(2, "sales", &["b"], Weights { conversions: 0.0, value: 0.0, nulls: 3.0 }).unwrap();
        b.push_path(3, "leads", &["c", "a", "a"], Weights { conversions: 2.0, value: 0.0, nulls: 0.0 })
            .unwrap();
        let k = b.kpi_id("leads");
        b.add_unattributed(k, "no_touch_in_window", 1.5, 0.0);
        b.build()
    }

    #[test]
    fn stores_columns_and_summary() {
        let j = sample();
        assert_eq!(j.len(), 3);
        assert_eq!(j.touch_count(), 6);
        assert_eq!(j.get(2).channels, &[2, 0, 0]);
        let s = j.summary();
        assert_eq!(s[0].kpi, "sales");
        assert_eq!((s[0].touches, s[0].journeys, s[0].null_journeys), (3, 1, 2));
        assert_eq!((s[1].attributed, s[1].unattributed, s[1].conversions), (2.0, 1.5, 3.5));
    }

    #[test]
    fn bad_rows_are_typed_and_leave_no_trace() {
        let mut b = JourneysBuilder::new(&[]);
        let e = b
            .push_path(7, "k", &["a", ""], Weights { conversions: 1.0, value: 0.0, nulls: 0.0 })
            .unwrap_err();
        assert_eq!(e.to_string(), "empty touch name at position 2 of the path in row 7");
        let e = b
            .push_path::<&str>(8, "k", &[], Weights { conversions: 1.0, value: 0.0, nulls: 0.0 })
            .unwrap_err();
        assert_eq!(e.to_string(), "empty path in row 8: a journey needs at least one touch");
        let e =
            b.push_path(9, "k", &["a"], Weights { conversions: -1.0, value: 0.0, nulls: 0.0 }).unwrap_err();
        assert_eq!(e.to_string(), "invalid conversions in row 9: -1 (must be finite and >= 0)");
        let e = b
            .push_path(10, "k", &["a"], Weights { conversions: 1.0, value: f64::NAN, nulls: 0.0 })
            .unwrap_err();
        assert_eq!(e.to_string(), "invalid value in row 10: NaN (must be finite and >= 0)");
        let e = b
            .push_path(11, "k", &["a"], Weights { conversions: 1.0, value: 0.0, nulls: f64::INFINITY })
            .unwrap_err();
        assert_eq!(e.to_string(), "invalid nulls in row 11: inf (must be finite and >= 0)");
        let e = b
            .push_path(12, "k", &["(start)"], Weights { conversions: 1.0, value: 0.0, nulls: 0.0 })
            .unwrap_err();
        assert!(e.to_string().contains("`(start)` in row 12 is reserved"), "{e}");
        let j = b.build();
        assert_eq!((j.len(), j.touch_count()), (0, 0));
    }

    #[test]
    fn merge_remaps_ids_and_adds_summaries() {
        let a = sample();
        let mut b = JourneysBuilder::new(&[]);
        b.push_path(1, "leads", &["z", "a"], Weights { conversions: 1.0, value: 0.0, nulls: 0.0 }).unwrap();
        let m = a.merge(b.build()).unwrap();
        assert_eq!(m.len(), 4);
        let last = m.get(3);
        assert_eq!(m.kpis().name(last.kpi), "leads");
        let names: Vec<&str> = last.channels.iter().map(|&c| m.vocab(Dimension::Channel).name(c)).collect();
        assert_eq!(names, ["z", "a"]);
        assert_eq!(m.summary()[1].attributed, 3.0);
    }

    #[test]
    fn merge_combines_unattributed_rows() {
        let part = || {
            let mut b = JourneysBuilder::new(&[]);
            b.push_path(1, "k", &["a"], Weights { conversions: 1.0, value: 0.0, nulls: 0.0 }).unwrap();
            let k = b.kpi_id("k");
            b.add_unattributed(k, "unknown_person", 2.0, 5.0);
            b.build()
        };
        let m = part().merge(part()).unwrap();
        assert_eq!(m.unattributed().len(), 1);
        assert_eq!((m.unattributed()[0].conversions, m.unattributed()[0].value), (4.0, 10.0));
    }

    #[test]
    fn dimension_names_round_trip() {
        for d in Dimension::ALL {
            assert_eq!(d.as_str().parse::<Dimension>().unwrap(), d);
        }
        assert!("colour".parse::<Dimension>().unwrap_err().to_string().contains("`colour`"));
    }

    #[test]
    fn aggregated_rows_count_the_journeys_they_stand_for_and_merge() {
        // One row standing for 3 converting and 2 null journeys of path a > b.
        let mut b = JourneysBuilder::new(&[]);
        b.push_path(1, "sales", &["a", "b"], Weights { conversions: 3.0, value: 30.0, nulls: 2.0 }).unwrap();
        b.set_aggregated(Aggregated {
            origin: "on Spark".into(),
            touches: vec![10],
            journeys: vec![3],
            null_journeys: vec![2],
        });
        let agg = b.build();
        let s = &agg.summary()[0];
        assert_eq!((s.touches, s.journeys, s.null_journeys), (10, 3, 2));
        assert_eq!(s.attributed, 3.0);
        // Merged with plain journeys (counted by rows), the counts add up per KPI name.
        let merged = sample().merge(agg.clone()).unwrap();
        let plain = sample().summary();
        let m = merged.summary();
        let sales = |rows: &[KpiSummary]| rows.iter().find(|r| r.kpi == "sales").unwrap().clone();
        assert_eq!(sales(&m).touches, sales(&plain).touches + 10);
        assert_eq!(sales(&m).journeys, sales(&plain).journeys + 3);
        assert_eq!(sales(&m).null_journeys, sales(&plain).null_journeys + 2);
        assert_eq!(merged.aggregated().unwrap().origin, "on Spark");
        // And they survive serialisation (pickles are JSON).
        let back: Journeys = serde_json::from_str(&serde_json::to_string(&agg).unwrap()).unwrap();
        assert_eq!(back.summary(), agg.summary());
        assert!(matches!(agg.aggregated_error("x"), Some(Error::Aggregated { .. })));
        assert!(sample().aggregated_error("x").is_none());
    }
}
