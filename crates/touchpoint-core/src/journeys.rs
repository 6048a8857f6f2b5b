//! The columnar store of weighted journeys that every model reads.
use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
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

/// The unattributed reason of conversions outside the observation period given to an event log's
/// reader: they are left out of every model (timeline models too) and counted under this reason.
pub const OUTSIDE_PERIOD: &str = "outside_period";

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

/// Weighted journeys in columns: one flat touch array per dimension, and where each journey's
/// touches sit in it ([`Journeys::spans`]).
///
/// Built once by [`JourneysBuilder`], read by every model. Journeys read from path tables own their
/// touches: journey `i` has `offsets[i]..offsets[i + 1]` of the journeys' own columns. Journeys cut
/// from person timelines are views (when no interaction has a window of its own, so that every
/// journey is a run of its person's touches): the touch columns are the timelines', and journey `i`
/// has the `offsets[i + 1] - offsets[i]` touches from `starts[i]`. No touch is stored twice, however
/// many KPIs cut journeys from it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Journeys {
    vocabs: [Vocab; 6],
    kpis: Vocab,
    /// Prefix sums of the journeys' touch counts (length `len() + 1`).
    offsets: Vec<usize>,
    /// The journeys' own touch columns. In views they stay empty and only say which dimensions (and,
    /// for `times`, whether times) the journeys carry.
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
    /// In views: where each journey's touches start in the timelines' touch columns.
    #[serde(default)]
    starts: Option<Vec<usize>>,
}

/// Where each journey's touches sit in the touch columns ([`Journeys::touch_ids`],
/// [`Journeys::player_column`], the touch times): journey `i` has the touches at [`Spans::range`].
#[derive(Clone, Copy, Debug)]
pub struct Spans<'a> {
    offsets: &'a [usize],
    starts: Option<&'a [usize]>,
}

impl Spans<'_> {
    /// The positions of journey `i`'s touches in the touch columns, oldest first.
    #[inline]
    pub fn range(&self, i: usize) -> Range<usize> {
        let (a, b) = (self.offsets[i], self.offsets[i + 1]);
        match self.starts {
            None => a..b,
            Some(s) => s[i]..s[i] + (b - a),
        }
    }

    /// Whether the touch columns hold exactly the journeys' touches, journey after journey (the
    /// journeys own their touches), so that one pass over a column is one pass over every journey.
    pub fn is_packed(&self) -> bool {
        self.starts.is_none()
    }
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

/// The first bytes of a journeys file ([`Journeys::write_to`]); the digit is the format's version.
const STORE_MAGIC: &[u8; 16] = b"touchpoint-jrn1\n";

/// A checksum of the bytes written through it (to `inner`): 8-byte words folded by rotate, xor and an
/// odd multiply (each fold a bijection of the state), so that a change of any one word changes it,
/// whatever the boundaries of the writes.
struct Checksum<W> {
    inner: W,
    state: u64,
    word: [u8; 8],
    filled: usize,
    len: u64,
}

impl<W: std::io::Write> Checksum<W> {
    fn new(inner: W) -> Self {
        Checksum { inner, state: 0x7470_6a72_6e79_7331, word: [0; 8], filled: 0, len: 0 }
    }

    fn fold(&mut self, word: u64) {
        self.state = (self.state.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    fn finish(mut self) -> u64 {
        let mut rest = [0u8; 8];
        rest[..self.filled].copy_from_slice(&self.word[..self.filled]);
        self.fold(u64::from_le_bytes(rest));
        self.fold(self.len);
        self.state
    }
}

impl<W: std::io::Write> std::io::Write for Checksum<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        let mut bytes = &buf[..n];
        // Whole words straight from the buffer once the pending word is complete.
        while self.filled > 0 && !bytes.is_empty() {
            self.word[self.filled] = bytes[0];
            (self.filled, bytes) = (self.filled + 1, &bytes[1..]);
            if self.filled == 8 {
                self.fold(u64::from_le_bytes(self.word));
                self.filled = 0;
            }
        }
        if self.filled == 0 {
            let words = bytes.chunks_exact(8);
            let rest = words.remainder();
            for word in words {
                self.fold(u64::from_le_bytes(word.try_into().expect("8 bytes")));
            }
            self.word[..rest.len()].copy_from_slice(rest);
            self.filled = rest.len();
        }
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
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

    /// Whether the journeys are views into their timelines (see [`Journeys`]) rather than owners of
    /// their touches.
    pub fn is_view(&self) -> bool {
        self.starts.is_some()
    }

    /// The flat touch ids of `dim`, aligned with the channel column; journey `i`'s are at
    /// `spans().range(i)`. `None` when the dimension is absent. In views this is the timelines' column,
    /// which also holds touches in no journey.
    pub fn touch_ids(&self, dim: Dimension) -> Option<&[u32]> {
        if self.starts.is_some() {
            self.touches[dim.index()].as_ref()?;
            return self.timelines.as_ref().and_then(|t| t.touch_ids(dim));
        }
        self.touches[dim.index()].as_deref()
    }

    /// The flat touch times, aligned with [`Journeys::touch_ids`], when the journeys have times.
    pub fn touch_times(&self) -> Option<&[i64]> {
        if self.starts.is_some() {
            self.times.as_ref()?;
            return self.timelines.as_ref().map(Timelines::touch_times);
        }
        self.times.as_deref()
    }

    /// Where each journey's touches sit in the touch columns.
    pub fn spans(&self) -> Spans<'_> {
        Spans { offsets: &self.offsets, starts: self.starts.as_deref() }
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
        let r = self.spans().range(i);
        JourneyRef {
            index: i,
            kpi: self.kpi[i],
            channels: &self.touch_ids(Dimension::Channel).expect("channel column")[r.clone()],
            times: self.touch_times().map(|t| &t[r]),
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
            starts: None,
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

    /// Player ids of every touch for dimension `dim`, aligned with [`Journeys::spans`]: the stored
    /// column, or all `(none)` when absent.
    pub fn player_column(&self, dim: Dimension) -> std::borrow::Cow<'_, [u32]> {
        match self.touch_ids(dim) {
            Some(col) => std::borrow::Cow::Borrowed(col),
            None => {
                let n = self.touch_ids(Dimension::Channel).map_or(0, <[u32]>::len);
                std::borrow::Cow::Owned(vec![0; n])
            }
        }
    }

    /// Writes the store in the project's own format, to keep journeys on disk and read them back
    /// ([`Journeys::read_from`]): a magic line, the store (bincode of its columns, timelines included;
    /// views stay views), then the store's length and a checksum of it. Streams: no second copy of
    /// the store is made. Returns the checksum, which names this content.
    pub fn write_to(&self, w: &mut impl std::io::Write) -> std::io::Result<u64> {
        w.write_all(STORE_MAGIC)?;
        let mut sum = Checksum::new(&mut *w);
        bincode::serde::encode_into_std_write(self, &mut sum, bincode::config::standard()).map_err(|e| {
            match e {
                bincode::error::EncodeError::Io { inner, .. } => inner,
                other => std::io::Error::other(other.to_string()),
            }
        })?;
        let (len, digest) = (sum.len, sum.finish());
        w.write_all(&len.to_le_bytes())?;
        w.write_all(&digest.to_le_bytes())?;
        Ok(digest)
    }

    /// A store written by [`Journeys::write_to`], with its checksum. The whole file is checked before
    /// the store is decoded (magic line, length, checksum), and the store's columns after (see
    /// [`Journeys::consistent`]), so a foreign, truncated or damaged file is an error saying what
    /// failed, never a panic or a wrong store.
    pub fn read_from(r: &mut impl std::io::Read) -> std::io::Result<(Journeys, u64)> {
        let bad = |why: &str| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("not a journeys file of this version: {why}"),
            )
        };
        let mut bytes = Vec::new();
        r.read_to_end(&mut bytes)?;
        let body = bytes.strip_prefix(STORE_MAGIC.as_slice()).ok_or_else(|| bad("no magic line"))?;
        let Some(split) = body.len().checked_sub(16) else { return Err(bad("cut short")) };
        let (payload, trailer) = body.split_at(split);
        let word = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&trailer[i..i + 8]);
            u64::from_le_bytes(b)
        };
        if word(0) != payload.len() as u64 {
            return Err(bad("cut short or extended"));
        }
        let mut sum = Checksum::new(std::io::sink());
        std::io::Write::write_all(&mut sum, payload)?;
        let digest = sum.finish();
        if digest != word(8) {
            return Err(bad("its checksum does not match (the file was changed or damaged)"));
        }
        Ok((Journeys::decode_checked(payload).map_err(|e| bad(&e))?, digest))
    }

    /// A store from its bincode, if its columns are consistent.
    pub(crate) fn decode_checked(payload: &[u8]) -> std::result::Result<Journeys, String> {
        // Lengths read from the bytes are bounded by a multiple of the payload's size (a column's
        // memory is at most 16 times its encoding), so damaged bytes cannot ask for a huge allocation.
        let need = payload.len().saturating_mul(16);
        macro_rules! decode_within {
            ($($bits:literal),*) => {{
                let mut out = None;
                $(if out.is_none() && need <= 1usize << $bits {
                    let config = bincode::config::standard().with_limit::<{ 1usize << $bits }>();
                    out = Some(bincode::serde::decode_from_slice(payload, config));
                })*
                out.unwrap_or_else(|| bincode::serde::decode_from_slice(payload, bincode::config::standard()))
            }};
        }
        let (j, used): (Journeys, usize) =
            decode_within!(16, 20, 24, 28, 32, 36, 40, 44).map_err(|e| e.to_string())?;
        if used != payload.len() || !j.consistent() {
            return Err("inconsistent columns".into());
        }
        Ok(j)
    }

    /// Whether every index a model or a merge follows stays in bounds: columns of equal lengths, every
    /// journey with at least one touch and its span within the touch columns, every id in its
    /// vocabulary, persons within the timelines, and consistent timelines. What
    /// [`Journeys::read_from`] checks before any model reads a store from elsewhere.
    pub(crate) fn consistent(&self) -> bool {
        let n = self.kpi.len();
        let n_kpis = self.kpis.len();
        let n_persons = self.timelines.as_ref().map(Timelines::persons);
        let per_journey =
            [self.conversions.len(), self.value.len(), self.nulls.len()].iter().all(|&l| l == n)
                && self.offsets.len() == n + 1
                && self.offsets.first() == Some(&0)
                && self.offsets.windows(2).all(|w| w[0] < w[1])
                && self.starts.as_ref().is_none_or(|s| s.len() == n && self.timelines.is_some())
                && self.persons.as_ref().is_none_or(|p| {
                    p.len() == n && p.iter().all(|&q| n_persons.is_some_and(|m| (q as usize) < m))
                })
                && self.conversion_time.as_ref().is_none_or(|c| c.len() == n)
                && self.kpi.iter().all(|&k| (k as usize) < n_kpis)
                && self.trimmed.len() == n_kpis
                && self.input_touches.len() == 6
                && self.kpis.has_distinct_names()
                && self.vocabs.iter().all(Vocab::has_distinct_names)
                && self.touches[0].is_some();
        let vocab_lens = self.vocabs.each_ref().map(Vocab::len);
        let timelines_ok = self.timelines.as_ref().is_none_or(|t| {
            t.consistent(n_kpis, &vocab_lens)
                && (self.starts.is_none()
                    || Dimension::ALL
                        .iter()
                        .all(|&d| self.touches[d.index()].is_some() == t.touch_ids(d).is_some()))
        });
        if !per_journey || !timelines_ok {
            return false;
        }
        let len = self.touch_ids(Dimension::Channel).map_or(0, <[u32]>::len);
        let spans_fit = match &self.starts {
            None => self.touch_count() == len,
            Some(s) => (0..n)
                .all(|i| s[i].checked_add(self.offsets[i + 1] - self.offsets[i]).is_some_and(|e| e <= len)),
        };
        let ids_known = Dimension::ALL.iter().all(|&d| {
            self.touch_ids(d).is_none_or(|col| {
                col.len() == len && col.iter().all(|&id| (id as usize) < vocab_lens[d.index()])
            })
        });
        spans_fit && ids_known && self.touch_times().is_none_or(|t| t.len() == len)
    }

    /// Observes the timelines over `period` instead, which must contain their own (a part of a log,
    /// cut with its own first and last event, read with the whole log's period). The journeys do not
    /// change: the window rule does not read the period.
    pub fn observe_over(&mut self, period: (i64, i64)) -> Result<()> {
        let Some(t) = self.timelines.as_mut() else { return Ok(()) };
        if period.0 > t.period.0 || period.1 < t.period.1 {
            return Err(Error::InvalidPeriod {
                start: period.0,
                end: period.1,
                reason: format!("it must contain the timelines' own period [{}, {})", t.period.0, t.period.1),
            });
        }
        t.period = period;
        Ok(())
    }

    /// Turns views into journeys that own their touches (a copy of each journey's touches).
    fn own_touches(&mut self) {
        let Some(starts) = self.starts.take() else { return };
        let spans = Spans { offsets: &self.offsets, starts: Some(&starts) };
        let timelines = self.timelines.as_ref().expect("views have timelines");
        let n = self.touch_count();
        for (d, col) in Dimension::ALL.iter().zip(self.touches.iter_mut()) {
            if let (Some(col), Some(src)) = (col.as_mut(), timelines.touch_ids(*d)) {
                col.reserve_exact(n);
                (0..self.kpi.len()).for_each(|i| col.extend_from_slice(&src[spans.range(i)]));
            }
        }
        if let Some(col) = self.times.as_mut() {
            let src = timelines.touch_times();
            col.reserve_exact(n);
            (0..self.kpi.len()).for_each(|i| col.extend_from_slice(&src[spans.range(i)]));
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

    /// Each journey's conversion time (microseconds since 1970, UTC), for journeys cut from an event
    /// log.
    pub fn conversion_times(&self) -> Option<&[i64]> {
        self.conversion_time.as_deref()
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
    pub fn merge(mut self, mut other: Journeys) -> Result<Journeys> {
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
        if self.is_view() != other.is_view() {
            self.own_touches();
            other.own_touches();
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
            maps[i] = other.vocabs[i].names().iter().map(|n| self.vocabs[i].intern(n)).collect();
        }
        let person_base = self.timelines.as_ref().map_or(0, |t| t.persons() as u32);
        let touch_base = self.timelines.as_ref().map_or(0, Timelines::touch_count);
        let base = self.touch_count();
        // Many touches (a large file read in ranges) are copied on another thread, beside the journey
        // columns on this one: the copy is mostly first writes to fresh pages. (No core count is asked
        // for: that reads cgroup files, on every merge of a file's many parts.)
        let many = other.touches.iter().flatten().map(Vec::len).sum::<usize>() >= PARALLEL_MERGE_TOUCHES;
        let (mine_touches, theirs_touches, maps) = (&mut self.touches, &other.touches, &maps);
        let mut copy_touches = move || {
            for ((mine, theirs), map) in mine_touches.iter_mut().zip(theirs_touches).zip(maps) {
                if let (Some(mine), Some(theirs)) = (mine, theirs) {
                    mine.extend(theirs.iter().map(|&id| map[id as usize]));
                }
            }
        };
        std::thread::scope(|scope| -> Result<()> {
            let worker = match many {
                true => Some(scope.spawn(copy_touches)),
                false => {
                    copy_touches();
                    None
                }
            };
            if let (Some(mine), Some(theirs)) = (&mut self.starts, &other.starts) {
                mine.extend(theirs.iter().map(|s| s + touch_base));
            }
            if let (Some(mine), Some(mut theirs)) = (self.timelines.as_mut(), other.timelines.take()) {
                theirs.remap(maps, &kpi_map);
                mine.append(theirs)?;
            }
            self.persons = match (self.persons.take(), &other.persons) {
                (Some(mut mine), Some(theirs)) => {
                    mine.extend(theirs.iter().map(|p| p + person_base));
                    Some(mine)
                }
                _ => None,
            };
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
            if let Some(w) = worker {
                w.join().expect("the touch copy does not panic");
            }
            Ok(())
        })?;
        self.trimmed.resize(self.kpis.len(), 0);
        for (k, t) in other.trimmed.iter().enumerate() {
            self.trimmed[kpi_map[k] as usize] += t;
        }
        for d in Dimension::ALL {
            let i = d.index();
            if !self.has_dimension(d) {
                continue;
            }
            let mine = &mut self.input_touches[i];
            mine.resize(self.vocabs[i].len(), 0.0);
            for (id, t) in other.input_touches[i].iter().enumerate() {
                mine[maps[i][id] as usize] += t;
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

/// Touches from which [`Journeys::merge`] copies touch ids on a thread of their own.
const PARALLEL_MERGE_TOUCHES: usize = 1 << 16;

/// Builds a [`Journeys`] touch by touch, validating as it goes.
#[derive(Debug)]
pub struct JourneysBuilder {
    j: Journeys,
    /// The person of the journeys being finished (see [`JourneysBuilder::set_person`]).
    person: u32,
    pending: usize,
    /// In views: where the pending journey's touches start in the timelines.
    pending_start: usize,
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
                starts: None,
            },
            person: 0,
            pending: 0,
            pending_start: 0,
            unattributed: HashMap::new(),
            explicit_touches: [false; 6],
            extra_dims: dims.iter().any(|d| *d != Dimension::Channel),
        }
    }

    /// Reserves room for `journeys` journeys and `touches` touches.
    pub fn reserve(&mut self, journeys: usize, touches: usize) {
        if let Some(s) = &mut self.j.starts {
            s.reserve(journeys);
        } else {
            for col in self.j.touches.iter_mut().flatten() {
                col.reserve(touches);
            }
            if let Some(t) = &mut self.j.times {
                t.reserve(touches);
            }
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

    /// Makes the journeys views into the timelines that [`JourneysBuilder::set_timelines`] will attach
    /// (see [`Journeys`]): their touches are then given by [`JourneysBuilder::push_view`], and
    /// [`JourneysBuilder::push_touch`] must not be called. Call it before the first journey; later it
    /// does nothing.
    pub fn view_timelines(&mut self) {
        if self.j.kpi.is_empty() && self.pending == 0 {
            self.j.starts = Some(Vec::new());
        }
    }

    /// Whether the journeys being built are views (see [`JourneysBuilder::view_timelines`]).
    pub fn is_view(&self) -> bool {
        self.j.starts.is_some()
    }

    /// In views: gives the journey being built the `len` touches of the timelines from position
    /// `start` (a run of one person's touches, oldest first). Pass the conversion time to
    /// [`JourneysBuilder::finish_journey`]: the builder does not see the touch times.
    pub fn push_view(&mut self, start: usize, len: usize) {
        debug_assert!(self.is_view() && self.pending == 0, "push_view: not a view, or touches pending");
        self.pending_start = start;
        self.pending = len;
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
        if let Some(s) = &mut self.j.starts {
            s.push(self.pending_start);
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
    ///
    /// Views whose timelines were not attached, or whose runs fall outside them, become journeys of no
    /// touches at all: a reader's error, so it fails loudly in debug builds.
    pub fn build(mut self) -> Journeys {
        self.discard_pending();
        if let Some(starts) = &self.j.starts {
            let n = self.j.timelines.as_ref().map_or(0, Timelines::touch_count);
            let fits = starts.iter().zip(self.j.offsets.windows(2)).all(|(&s, w)| s + (w[1] - w[0]) <= n);
            debug_assert!(fits, "views outside their timelines");
            if !fits {
                // A reader's error: nothing is credited from touches that are not there, and nothing is
                // lost either: the conversions are reported as unattributed.
                for k in 0..self.j.kpi.len() {
                    let (kpi, c, v) = (self.j.kpi[k], self.j.conversions[k], self.j.value[k]);
                    if c > 0.0 {
                        self.add_unattributed(kpi, "internal_error", c, v);
                    }
                }
                for col in [&mut self.j.conversions, &mut self.j.value, &mut self.j.nulls] {
                    col.clear();
                }
                self.j.kpi.clear();
                self.j.offsets.truncate(1);
                self.j.starts = None;
                self.j.persons = self.j.persons.take().map(|_| Vec::new());
                self.j.conversion_time = self.j.conversion_time.take().map(|_| Vec::new());
                self.j.warnings.push(
                    "internal error: journeys were cut outside their timelines; their conversions are \
                     unattributed (reason internal_error)"
                        .into(),
                );
            }
        }
        for d in Dimension::ALL {
            let i = d.index();
            if self.explicit_touches[i] {
                continue;
            }
            let Some(col) = self.j.touch_ids(d) else { continue };
            let spans = self.j.spans();
            let mut counts = vec![0.0; self.j.vocabs[i].len()];
            for k in 0..self.j.kpi.len() {
                let w = self.j.conversions[k] + self.j.nulls[k];
                for &p in &col[spans.range(k)] {
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

    /// The store checksum is the same however the bytes arrive (whole, in pieces of every size up to
    /// 17, byte by byte), and is the fold of the bytes' 8-byte words, the zero-padded tail, then the
    /// length.
    #[test]
    fn the_checksum_does_not_depend_on_how_writes_are_split() {
        use std::io::Write;
        let data: Vec<u8> = (0..1000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        for len in [0, 1, 7, 8, 9, 63, 64, 1000] {
            let data = &data[..len];
            let mut expected = Checksum::new(std::io::sink());
            let mut padded = data.to_vec();
            // The words, then the tail padded with zeros (a whole zero word when there is no tail).
            padded.resize((len / 8 + 1) * 8, 0);
            for word in padded.chunks(8) {
                expected.fold(u64::from_le_bytes(word.try_into().unwrap()));
            }
            expected.fold(len as u64);
            let expected = expected.state;
            for piece in 1..=17 {
                let mut c = Checksum::new(std::io::sink());
                for part in data.chunks(piece) {
                    c.write_all(part).unwrap();
                }
                assert_eq!(c.finish(), expected, "{len} bytes in pieces of {piece}");
            }
            let mut whole = Checksum::new(Vec::new());
            whole.write_all(data).unwrap();
            assert_eq!(whole.finish(), expected, "{len} bytes at once");
        }
    }

    /// A second part with enough touches for `merge` to copy them on a thread of its own gives what one
    /// builder over every row gives: vocabularies and KPIs in first-seen order, every journey.
    #[test]
    fn a_large_merge_equals_one_builder() {
        let names = ["a", "b", "c", "d", "e"];
        let rows: Vec<Vec<&str>> =
            (0..120_000).map(|r| (0..1 + r % 7).map(|i| names[(r * 7 + i * 3) % 5]).collect()).collect();
        let build = |rows: &[Vec<&str>], first: usize| {
            let mut b = JourneysBuilder::new(&[]);
            for (i, path) in rows.iter().enumerate() {
                let r = first + i;
                let kpi = if r % 3 == 0 { "leads" } else { "sales" };
                let w = Weights { conversions: (r % 3) as f64, value: (r % 5) as f64, nulls: 1.0 };
                let w = Weights { value: if w.conversions > 0.0 { w.value } else { 0.0 }, ..w };
                b.push_path(r, kpi, path, w).unwrap();
            }
            b.build()
        };
        let (head, tail) = rows.split_at(20_000);
        let tail = build(tail, 20_000);
        assert!(tail.touch_count() >= PARALLEL_MERGE_TOUCHES);
        assert_ne!(tail.vocab(Dimension::Channel).names(), build(head, 0).vocab(Dimension::Channel).names());
        let merged = build(head, 0).merge(tail).unwrap();
        let whole = build(&rows, 0);
        let by_name = |j: &Journeys| -> Vec<(String, Vec<String>, [f64; 3])> {
            j.iter()
                .map(|r| {
                    let channels = r.channels.iter().map(|&c| j.vocab(Dimension::Channel).name(c).to_owned());
                    (j.kpis().name(r.kpi).to_owned(), channels.collect(), [r.conversions, r.value, r.nulls])
                })
                .collect()
        };
        assert_eq!(merged.vocab(Dimension::Channel).names(), whole.vocab(Dimension::Channel).names());
        assert_eq!(merged.kpis().names(), whole.kpis().names());
        assert_eq!(by_name(&merged), by_name(&whole));
        assert_eq!(merged.summary(), whole.summary());
        assert_eq!(merged.input_touches(Dimension::Channel), whole.input_touches(Dimension::Channel));
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

    type Flat = (String, Vec<String>, Vec<String>, Vec<i64>, [f64; 3], Option<i64>, Option<u32>);

    /// Every journey by names: KPI, channels, campaigns, touch times, weights, conversion time, person.
    fn flat(j: &Journeys) -> Vec<Flat> {
        let campaigns = j.player_column(Dimension::Campaign);
        let spans = j.spans();
        j.iter()
            .map(|r| {
                let names = |d: Dimension, ids: &[u32]| -> Vec<String> {
                    ids.iter().map(|&i| j.vocab(d).name(i).to_owned()).collect()
                };
                (
                    j.kpis().name(r.kpi).to_owned(),
                    names(Dimension::Channel, r.channels),
                    names(Dimension::Campaign, &campaigns[spans.range(r.index)]),
                    r.times.unwrap().to_vec(),
                    [r.conversions, r.value, r.nulls],
                    r.conversion_time,
                    r.person,
                )
            })
            .collect()
    }

    /// Two persons' timelines (channel and campaign, touches at 1, 2, 3 and at 5, 6) and their journeys
    /// cut by hand, as views into the timelines or as copies of the same touches.
    fn cut_by_hand(views: bool, channels: [&str; 5]) -> Journeys {
        let dims = [Dimension::Campaign];
        let mut b = JourneysBuilder::with_times(&dims);
        if views {
            b.view_timelines();
        }
        let mut t = Timelines::new((0, 100), None, &dims).unwrap();
        let mut ids = Vec::new();
        for (k, c) in channels.iter().enumerate() {
            let campaign = b.player_id(Dimension::Campaign, &format!("camp{}", k % 2), 1).unwrap();
            ids.push([b.player_id(Dimension::Channel, c, 1).unwrap(), campaign, 0, 0, 0, 0]);
        }
        let times = [1, 2, 3, 5, 6];
        for (p, run) in [0..3, 3..5].into_iter().enumerate() {
            for q in run {
                t.push_touch(ids[q], times[q]);
            }
            t.push_conversion(0, 10 * (p as i64 + 1), 1.0, 7.0);
            t.finish_person();
        }
        // Persons named after the first channel, so that logs cut with other channels hold other people.
        let keys = format!("{c}0{c}1", c = channels[0]);
        let offsets = vec![0, keys.len() / 2, keys.len()];
        t.set_person_keys(crate::timelines::PersonKeys::Text { text: keys, offsets });
        let sales = b.kpi_id("sales");
        let leads = b.kpi_id("leads");
        // (person, first touch, touches, kpi, weights, conversion time): person 0's touches 1..3 for a
        // sale, 0..3 as a null journey of leads, person 1's touches 3..5 for a sale.
        let cut = [
            (0, 1, 2, sales, Weights { conversions: 1.0, value: 7.0, nulls: 0.0 }, 10),
            (0, 0, 3, leads, Weights { conversions: 0.0, value: 0.0, nulls: 1.0 }, 3),
            (1, 3, 2, sales, Weights { conversions: 1.0, value: 7.0, nulls: 0.0 }, 20),
        ];
        for (person, first, len, kpi, w, time) in cut {
            b.set_person(person);
            if views {
                b.push_view(first, len);
            } else {
                for q in first..first + len {
                    b.push_touch(ids[q], Some(times[q]));
                }
            }
            b.finish_journey(1, kpi, w, Some(time)).unwrap();
        }
        b.set_timelines(t);
        b.build()
    }

    #[test]
    fn views_into_timelines_read_as_copies_do() {
        let names = ["a", "b", "c", "b", "d"];
        let (view, copy) = (cut_by_hand(true, names), cut_by_hand(false, names));
        assert!(view.is_view() && !copy.is_view() && !view.spans().is_packed());
        assert_eq!(flat(&view), flat(&copy));
        assert_eq!(flat(&view)[0].1, ["b", "c"]);
        assert_eq!(flat(&view)[2].2, ["camp1", "camp0"]);
        assert_eq!(view.summary(), copy.summary());
        assert_eq!(view.touch_count(), 7);
        for d in [Dimension::Channel, Dimension::Campaign] {
            assert_eq!(view.input_touches(d), copy.input_touches(d));
        }
        // The view stores no touch of its own, and survives serialisation as a view.
        assert!(view.touches.iter().flatten().all(Vec::is_empty) && view.times.as_ref().unwrap().is_empty());
        let back: Journeys = serde_json::from_str(&serde_json::to_string(&view).unwrap()).unwrap();
        assert!(back.is_view());
        assert_eq!(flat(&back), flat(&copy));
    }

    #[test]
    fn views_merge_with_views_and_with_copies() {
        let (one, two) = (["a", "b", "c", "b", "d"], ["e", "a", "c", "c", "b"]);
        // The same people twice (two time halves of one log, say) are refused.
        let e = cut_by_hand(false, one).merge(cut_by_hand(true, one)).unwrap_err().to_string();
        assert!(e.contains("both hold person `a0`"), "{e}");
        let copies = cut_by_hand(false, one).merge(cut_by_hand(false, two)).unwrap();
        let views = cut_by_hand(true, one).merge(cut_by_hand(true, two)).unwrap();
        assert!(views.is_view());
        assert_eq!(flat(&views), flat(&copies));
        assert_eq!(flat(&views)[3].1, ["a", "c"]);
        assert_eq!(flat(&views)[5].6, Some(3));
        // A view merged with a copy owns its touches, either way round.
        for mixed in [
            cut_by_hand(true, one).merge(cut_by_hand(false, two)).unwrap(),
            cut_by_hand(false, one).merge(cut_by_hand(true, two)).unwrap(),
        ] {
            assert!(!mixed.is_view() && mixed.spans().is_packed());
            assert_eq!(flat(&mixed), flat(&copies));
            assert_eq!(mixed.summary(), copies.summary());
        }
    }

    #[test]
    fn the_store_on_disk_reads_back_and_refuses_other_bytes() {
        let names = ["a", "b", "c", "b", "d"];
        for j in [cut_by_hand(true, names), cut_by_hand(false, names)] {
            let mut bytes = Vec::new();
            let sum = j.write_to(&mut bytes).unwrap();
            let (back, found) = Journeys::read_from(&mut &bytes[..]).unwrap();
            assert_eq!(found, sum);
            assert_eq!(back.is_view(), j.is_view());
            assert_eq!(flat(&back), flat(&j));
            assert_eq!(back.summary(), j.summary());
            assert_eq!(back.timelines(), j.timelines());
            // Cut short, extended, or any one byte changed: an error naming why, never a store.
            for end in [0, 1, 16, bytes.len() / 2, bytes.len() - 1] {
                assert!(Journeys::read_from(&mut &bytes[..end]).is_err(), "{end}");
            }
            let mut longer = bytes.clone();
            longer.push(0);
            assert!(Journeys::read_from(&mut &longer[..]).is_err());
            for i in 0..bytes.len() {
                let mut b = bytes.clone();
                b[i] ^= 0x5a;
                assert!(Journeys::read_from(&mut &b[..]).is_err(), "byte {i}");
            }
            // Behind the checksum, the store's own check: any byte of the store changed gives an error or a
            // store that every model, the summary and a merge read without a panic.
            let payload = &bytes[STORE_MAGIC.len()..bytes.len() - 16];
            let models: Vec<crate::ModelSpec> =
                ["first_touch", "last_touch", "linear", "time_decay", "markov"]
                    .iter()
                    .map(|m| crate::ModelSpec::from_json(&format!("{{\"model\": \"{m}\"}}")).unwrap())
                    .collect();
            let mut accepted = 0;
            for i in 0..payload.len() {
                for flip in [0x01, 0x80, 0xff] {
                    let mut p = payload.to_vec();
                    p[i] ^= flip;
                    let Ok(k) = Journeys::decode_checked(&p) else { continue };
                    accepted += 1;
                    let _ = crate::attribute(&k, &models, Dimension::Channel);
                    let _ = (k.summary(), flat_untimed(&k), k.clone().merge(k.clone()));
                }
            }
            assert!(accepted > 0, "no changed store was read: the models above ran on none");
        }
        // The store's check refuses what a model would trip on.
        let mut empty_journey = cut_by_hand(false, names);
        empty_journey.offsets[1] = 0;
        assert!(!empty_journey.consistent());
        let mut stranger = cut_by_hand(true, names);
        stranger.persons.as_mut().unwrap()[0] = 2;
        assert!(!stranger.consistent());
        let mut outside = cut_by_hand(true, names);
        outside.starts.as_mut().unwrap()[2] = 4;
        assert!(!outside.consistent());
        assert!(cut_by_hand(true, names).consistent() && cut_by_hand(false, names).consistent());
        // The whole log's period may replace a part's own, if it contains it.
        let mut j = cut_by_hand(true, names);
        j.observe_over((-5, 200)).unwrap();
        assert_eq!(j.timelines().unwrap().period, (-5, 200));
        assert!(matches!(j.observe_over((0, 150)), Err(Error::InvalidPeriod { .. })));
    }

    /// Every journey's channel names, read through the spans (no times needed).
    fn flat_untimed(j: &Journeys) -> Vec<Vec<String>> {
        j.iter()
            .map(|r| r.channels.iter().map(|&c| j.vocab(Dimension::Channel).name(c).to_owned()).collect())
            .collect()
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
