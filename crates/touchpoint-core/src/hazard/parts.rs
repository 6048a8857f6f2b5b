//! The additive-hazard fit on a log split over parts held elsewhere (Spark executors, one part per
//! partition of people). Every sum the fit reads is a sum over people: the log-likelihood with its
//! gradient and Hessian, the E-step's expected conversions per source, the compensators, the
//! intensity shares. So each pass of the fit asks every part for its sums at the current parameters
//! and adds them, and the EM and Newton iterations, the standard errors and the credit run on the
//! driver exactly as on one machine: the fit equals the single-machine fit up to the order of sums.
//!
//! The protocol is in bytes (bincode of serde types), so that the driver and the parts can sit in
//! different processes:
//! 1. the driver's [`Remote`] opens a fit with a spec (the KPI, the player dimension, the baseline
//!    and the player names of the whole log); each part builds its fit data from its own timelines
//!    with [`build_part`], keeps it, and returns its shape (exposures per player, people, person-days
//!    and conversions per baseline group);
//! 2. the driver adds the shapes, adds the people never seen (`population`, which no part knows),
//!    and runs the fit, whose every pass is a request that each part answers with [`answer`].
//!
//! The same protocol carries the credit of a model that credits each journey by itself but needs
//! what the gathered journeys lost (the touch times, for time decay by duration): the driver opens a
//! credit job ([`remote_credit`]), each part credits its own journeys of the KPI and returns the
//! credit per player of the whole log as its shape, and the driver adds them. Each journey sits in
//! one part, so the sum is the credit on one machine up to the order of sums.
use std::collections::HashMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{Baseline, FitData, Params, Shape, Source, Sums, Want, ACTIVITY_GROUPS};
use crate::error::{Error, Result};
use crate::journeys::{Dimension, Journeys};
use crate::model::{Control, KpiCredit, KpiView, ModelSpec, Unattended};

/// The driver's handle on parts of a log held elsewhere, for the models that read them on journeys
/// gathered from them (see the module documentation).
pub trait Remote: std::fmt::Debug + Sync {
    /// Has every part answer `spec` (bytes, for [`build_part`]): build its fit data and keep it, in
    /// place of what the last call kept, or credit its journeys; returns each part's shape (bytes).
    fn open(&self, spec: &[u8]) -> Result<Vec<Vec<u8>>>;
    /// Has every part kept by the last [`Remote::open`] answer `request` (bytes, for [`answer`]);
    /// returns each part's answer.
    fn run(&self, request: &[u8]) -> Result<Vec<Vec<u8>>>;
    /// The people at risk in the whole log (`population=`), if given.
    fn population(&self) -> Option<u64>;
}

/// What the driver asks of every part: the data of an additive-hazard fit, or a model's credit.
#[derive(Debug, Serialize, Deserialize)]
enum Job {
    Fit(PartSpec),
    Credit(CreditSpec),
}

/// A model's credit of one KPI's journeys (the model as its JSON spec), per player of the whole log.
#[derive(Debug, Serialize, Deserialize)]
struct CreditSpec {
    kpi: String,
    by: Dimension,
    model: String,
    names: Vec<String>,
}

/// What a part builds: one KPI's fit data crediting players of one dimension, player ids taken
/// from the names of the whole log.
#[derive(Debug, Serialize, Deserialize)]
struct PartSpec {
    kpi: String,
    by: Dimension,
    baseline: Baseline,
    names: Vec<String>,
}

/// One pass: the parameters with the player id of each compact player, and what to compute; with
/// `omega`, only the compensators at those omegas.
#[derive(Debug, Serialize, Deserialize)]
struct Request {
    ids: Vec<u32>,
    n_players: usize,
    params: Params,
    want: Want,
    omega: Option<Vec<f64>>,
}

pub(super) fn corrupt(reason: &str) -> Error {
    Error::Remote { reason: reason.to_owned() }
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    bincode::serde::encode_to_vec(value, bincode::config::standard())
        .map_err(|e| corrupt(&format!("cannot encode: {e}")))
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    bincode::serde::decode_from_slice(bytes, bincode::config::standard())
        .map(|(v, _)| v)
        .map_err(|e| corrupt(&format!("cannot decode what a part or the driver sent: {e}")))
}

/// One part's answer to an opening of the driver (`spec`, bytes), from the part's journeys: (its
/// shape, the part to keep), as bytes. For a fit, the journeys must carry timelines cut with the whole
/// log's observation period; for a credit job the shape is the credit and nothing is kept.
pub fn build_part(journeys: &Journeys, spec: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
    let spec = match decode(spec)? {
        Job::Fit(spec) => spec,
        Job::Credit(spec) => return Ok((encode(&part_credit(journeys, &spec)?)?, Vec::new())),
    };
    let t = journeys.timelines().ok_or_else(|| Error::NeedsTimelines { model: "additive_hazard".into() })?;
    let kpi = journeys
        .kpis()
        .get(&spec.kpi)
        .ok_or_else(|| corrupt(&format!("a part has no KPI `{}`", spec.kpi)))?;
    let to_global = global_ids(journeys, spec.by, &spec.names)?;
    let ids = t
        .touch_ids(spec.by)
        .ok_or_else(|| corrupt(&format!("a part's timelines do not carry the dimension `{}`", spec.by)))?;
    let players: Vec<u32> = ids.iter().map(|&i| to_global[i as usize]).collect();
    let data = FitData::new(t, &players, spec.names.len(), kpi, spec.baseline, None, None)?;
    Ok((encode(&data.shape)?, encode(&data)?))
}

/// Names mapped to the ids of the whole log's players (`names`): the part's players of `by`.
fn global_ids(journeys: &Journeys, by: Dimension, names: &[String]) -> Result<Vec<u32>> {
    let index: HashMap<&str, u32> = names.iter().enumerate().map(|(i, n)| (n.as_str(), i as u32)).collect();
    journeys
        .player_names(by)
        .iter()
        .map(|n| {
            index.get(n.as_str()).copied().ok_or_else(|| {
                corrupt(&format!("{by} `{n}` of a part is not among the players of the whole log"))
            })
        })
        .collect()
}

/// A part's credit of its journeys of one KPI: (conversions, value) per player of the whole log
/// (nothing when the part has no such journey), and the model's warnings.
type PartCredit = (Vec<(f64, f64)>, Vec<String>);

fn part_credit(journeys: &Journeys, spec: &CreditSpec) -> Result<PartCredit> {
    let mut out = vec![(0.0, 0.0); spec.names.len()];
    let Some(kpi) = journeys.kpis().get(&spec.kpi) else { return Ok((out, Vec::new())) };
    let rows = journeys.rows_by_kpi().swap_remove(kpi as usize);
    if rows.is_empty() {
        return Ok((out, Vec::new()));
    }
    let model = ModelSpec::from_json(&spec.model)?;
    let to_global = global_ids(journeys, spec.by, &spec.names)?;
    let (players, names) = (journeys.player_column(spec.by), journeys.player_names(spec.by));
    let view = KpiView::new(journeys, kpi, Some(&rows), &players, &names).with_by(spec.by);
    let credit = model.model().credit(&view, &Unattended)?;
    for (id, (&c, &v)) in credit.conversions.iter().zip(&credit.value).enumerate() {
        let slot = &mut out[to_global[id] as usize];
        slot.0 += c;
        slot.1 += v;
    }
    Ok((out, credit.warnings))
}

/// The credit of `model` on the view's KPI, computed by every part of the log on its own journeys and
/// added (see the module documentation): for a model that credits journey by journey but needs what
/// the view's gathered journeys do not carry.
pub(crate) fn remote_credit(
    remote: &dyn Remote,
    view: &KpiView<'_>,
    model: &ModelSpec,
    control: &dyn Control,
) -> Result<KpiCredit> {
    control.checkpoint()?;
    let job = Job::Credit(CreditSpec {
        kpi: view.kpi_name.to_owned(),
        by: view.by,
        model: model.to_json(),
        names: view.player_names.to_vec(),
    });
    let parts = remote.open(&encode(&job)?)?;
    let mut credit = KpiCredit::zeros(view.n_players);
    for part in &parts {
        let (sums, warnings): PartCredit = decode(part)?;
        if sums.len() != view.n_players {
            return Err(corrupt("a part credited another number of players"));
        }
        for (id, (c, v)) in sums.into_iter().enumerate() {
            credit.conversions[id] += c;
            credit.value[id] += v;
        }
        for w in warnings {
            if !credit.warnings.contains(&w) {
                credit.warnings.push(w);
            }
        }
    }
    Ok(credit)
}

/// A part's answer to one request of the driver (both as bytes).
pub fn answer(part: &[u8], request: &[u8]) -> Result<Vec<u8>> {
    let data: FitData = decode(part)?;
    let request: Request = decode(request)?;
    encode(&answer_with(&data, &request)?)
}

/// The sum of several parts' answers to one request (bytes), so that a holder of many parts (a Spark
/// partition, a process reading buckets) returns one answer rather than one per part.
pub fn sum_answers(answers: &[&[u8]]) -> Result<Vec<u8>> {
    let mut iter = answers.iter();
    let Some(first) = iter.next() else {
        return Err(corrupt("no answers to add"));
    };
    let mut total: Sums = decode(first)?;
    for a in iter {
        total.add(&decode(a)?)?;
    }
    encode(&total)
}

/// The part's sums, in the driver's layout: the part's compact players are mapped to the driver's
/// by player id.
fn answer_with(data: &FitData, r: &Request) -> Result<Sums> {
    let sh = &data.shape;
    let mut pos = vec![usize::MAX; r.n_players];
    for (g, &id) in r.ids.iter().enumerate() {
        *pos.get_mut(id as usize).ok_or_else(|| corrupt("a player id beyond the vocabulary"))? = g;
    }
    let glob: Vec<usize> = sh
        .players
        .iter()
        .map(|&id| pos.get(id as usize).copied().filter(|&g| g != usize::MAX))
        .collect::<Option<_>>()
        .ok_or_else(|| corrupt("a part has exposures of a player the driver does not fit"))?;
    let nc = r.ids.len();
    if let Some(omega) = &r.omega {
        if omega.len() != nc {
            return Err(corrupt("omegas of another layout"));
        }
        let local: Vec<f64> = glob.iter().map(|&g| omega[g]).collect();
        let mut out = Sums { comps: vec![(0.0, 0.0, 0.0); nc], ..Sums::default() };
        for (c, v) in data.comps(&local).into_iter().enumerate() {
            out.comps[glob[c]] = v;
        }
        return Ok(out);
    }
    let gp = &r.params;
    if gp.lambda0.len() != sh.group_people.len() || gp.beta.len() != nc || gp.omega.len() != nc {
        return Err(corrupt("parameters of another layout"));
    }
    let lp = Params {
        lambda0: gp.lambda0.clone(),
        beta: glob.iter().map(|&g| gp.beta[g]).collect(),
        omega: glob.iter().map(|&g| gp.omega[g]).collect(),
        gamma: if gp.gamma.is_empty() { Vec::new() } else { glob.iter().map(|&g| gp.gamma[g]).collect() },
    };
    if lp.gamma.len() != sh.gamma_exposure.len() {
        return Err(corrupt("baseline shifts of another layout"));
    }
    let ls = data.pass(&lp, r.want);
    let mut out = Sums::zeros(gp, r.want);
    out.ll = ls.ll;
    let (ng, ncl) = (lp.lambda0.len(), glob.len());
    let map = |i: usize| -> usize {
        if i < ng {
            i
        } else if i < ng + ncl {
            ng + glob[i - ng]
        } else if i < ng + 2 * ncl {
            ng + nc + glob[i - ng - ncl]
        } else {
            ng + 2 * nc + glob[i - ng - 2 * ncl]
        }
    };
    if r.want.derivs {
        let (nl, n) = (lp.len(), gp.len());
        for i in 0..nl {
            let mi = map(i);
            out.grad[mi] += ls.grad[i];
            for k in 0..nl {
                out.hess[mi * n + map(k)] += ls.hess[i * nl + k];
            }
        }
    }
    if r.want.estep {
        out.p0.iter_mut().zip(&ls.p0).for_each(|(a, b)| *a += b);
        for (c, &g) in glob.iter().enumerate() {
            out.pc[g] += ls.pc[c];
            out.dc[g] += ls.dc[c];
            if let Some(x) = ls.pg.get(c) {
                out.pg[g] += x;
            }
        }
    }
    for (c, &g) in glob.iter().enumerate() {
        if let Some(s) = ls.shares.get(c) {
            out.shares[g] = *s;
        }
        if let Some(s) = ls.comps.get(c) {
            out.comps[g] = *s;
        }
    }
    Ok(out)
}

/// The driver's side: the parts' shapes added, and every pass sent to the parts and their answers
/// added.
#[derive(Debug)]
pub(super) struct RemoteSource<'r> {
    remote: &'r dyn Remote,
    shape: Shape,
    n_players: usize,
}

impl<'r> RemoteSource<'r> {
    /// Opens the fit of the view's KPI on the remote parts.
    pub(super) fn open(remote: &'r dyn Remote, view: &KpiView<'_>, baseline: Baseline) -> Result<Self> {
        let spec = PartSpec {
            kpi: view.kpi_name.to_owned(),
            by: view.by,
            baseline,
            names: view.player_names.to_vec(),
        };
        let shapes: Vec<Shape> =
            remote.open(&encode(&Job::Fit(spec))?)?.iter().map(|b| decode(b)).collect::<Result<_>>()?;
        let n = view.n_players;
        let groups = if baseline == Baseline::Activity { ACTIVITY_GROUPS } else { 1 };
        let by_exposures = baseline == Baseline::Exposures;
        let (mut exposures, mut gamma) = (vec![0.0; n], vec![0.0; n]);
        let mut shape = Shape {
            group_exposure: vec![0.0; groups],
            group_people: vec![0.0; groups],
            group_conversions: vec![0.0; groups],
            ..Shape::default()
        };
        let Some(first) = shapes.first() else {
            return Err(corrupt("no part of the log answered"));
        };
        (shape.period, shape.period_days) = (first.period, first.period_days);
        for s in &shapes {
            if s.period != shape.period {
                return Err(corrupt("the parts were cut with different observation periods"));
            }
            if s.group_people.len() != groups || s.exposures.len() != s.players.len() {
                return Err(corrupt("a part's shape has another layout"));
            }
            for (c, &id) in s.players.iter().enumerate() {
                let slot = exposures
                    .get_mut(id as usize)
                    .ok_or_else(|| corrupt("a player id beyond the vocabulary"))?;
                *slot += s.exposures[c];
                if by_exposures {
                    gamma[id as usize] += s.gamma_exposure.get(c).copied().unwrap_or(0.0);
                }
            }
            for g in 0..groups {
                shape.group_exposure[g] += s.group_exposure[g];
                shape.group_people[g] += s.group_people[g];
                shape.group_conversions[g] += s.group_conversions[g];
            }
            shape.total_conversions += s.total_conversions;
            shape.total_value += s.total_value;
            shape.persons += s.persons;
        }
        // Compact players in id order: those with an exposure in some part.
        shape.players = (0..n as u32).filter(|&id| exposures[id as usize] > 0.0).collect();
        shape.compact = vec![None; n];
        for (c, &id) in shape.players.iter().enumerate() {
            shape.compact[id as usize] = Some(c);
        }
        shape.exposures = shape.players.iter().map(|&id| exposures[id as usize]).collect();
        if by_exposures {
            shape.gamma_exposure = shape.players.iter().map(|&id| gamma[id as usize]).collect();
        }
        if let Some(pop) = remote.population() {
            let persons = shape.persons.round() as u64;
            if pop < persons {
                return Err(Error::InvalidPeriod {
                    start: shape.period.0,
                    end: shape.period.1,
                    reason: format!("population {pop} is smaller than the {persons} people in the log"),
                });
            }
            // People never seen have no touch: they belong to the first group.
            let unseen = (pop - persons) as f64;
            shape.group_people[0] += unseen;
            shape.group_exposure[0] += unseen * shape.period_days;
            shape.population_given = true;
        }
        Ok(RemoteSource { remote, shape, n_players: n })
    }

    fn gather(&self, request: &Request, mut total: Sums) -> Result<Sums> {
        for bytes in self.remote.run(&encode(request)?)? {
            total.add(&decode(&bytes)?)?;
        }
        Ok(total)
    }
}

impl Source for RemoteSource<'_> {
    fn shape(&self) -> &Shape {
        &self.shape
    }

    fn pass(&self, p: &Params, want: Want) -> Result<Sums> {
        let request = Request {
            ids: self.shape.players.clone(),
            n_players: self.n_players,
            params: p.clone(),
            want,
            omega: None,
        };
        self.gather(&request, Sums::zeros(p, want))
    }

    fn comps(&self, omega: &[f64]) -> Result<Vec<(f64, f64, f64)>> {
        let request = Request {
            ids: self.shape.players.clone(),
            n_players: self.n_players,
            params: Params { lambda0: Vec::new(), beta: Vec::new(), omega: Vec::new(), gamma: Vec::new() },
            want: Want::default(),
            omega: Some(omega.to_vec()),
        };
        let zero = Sums { comps: vec![(0.0, 0.0, 0.0); omega.len()], ..Sums::default() };
        Ok(self.gather(&request, zero)?.comps)
    }
}
