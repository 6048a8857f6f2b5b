//! Markov-chain removal effects of order k (Anderl, Becker, von Wangenheim & Schumann 2016,
//! "Mapping the customer journey: Lessons learned from graph-based online attribution modeling",
//! IJRM 33(3)), with ChannelAttribution's state conventions, solved exactly instead of simulated.
//!
//! States are `(start)`, sliding windows of `order` consecutive touches (a path shorter than the
//! order is one shorter state), `(conversion)` and `(null)`; consecutive identical states collapse.
//! A path's transitions weigh its conversions + nulls; its last state moves to `(conversion)` with
//! weight conversions and to `(null)` with weight nulls.
//!
//! With `Q` the transitions among transient states and `b_s = P(s -> conversion)`, the absorption
//! probabilities solve `(I - Q) x = b`; `P = sum_s P(start -> s) x_s`. Removing player `c` sends every
//! state containing `c` to `(null)`: `P_-c` is the same solve with those states deleted, and
//! `RE_c = 1 - P_-c / P`. Value uses the reward `r_s = P(s -> conversion) * mean value per conversion
//! of paths ending in s` as right-hand side. Credit: `total * RE_c / sum RE`.
use std::collections::HashMap;

use touchpoint_util::hashing::FastMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{Control, Details, KpiCredit, KpiView, Model};

/// Exact order-k Markov removal-effect attribution.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Markov {
    /// Number of consecutive touches in a state (>= 1).
    pub order: u32,
}

impl Default for Markov {
    fn default() -> Self {
        Markov { order: 1 }
    }
}

/// Largest chain solved by dense LU straight away; above it, Gauss-Seidel sweeps first.
const DENSE_LIMIT: usize = 300;
/// Largest chain a dense LU may take over from slow Gauss-Seidel sweeps (an `n x n` matrix of 8-byte
/// values: 512 MiB here).
const DENSE_MAX: usize = 8192;
/// Sweep cap of Gauss-Seidel on chains too large for a dense solve.
const MAX_SWEEPS: u32 = 1_000_000;
/// Relative error bound at which Gauss-Seidel stops.
const GS_TOL: f64 = 1e-13;

/// A Markov chain estimated from weighted paths.
#[derive(Clone, Debug)]
pub struct Chain {
    /// Players of each transient state.
    pub states: Vec<Vec<u32>>,
    /// Weight leaving `(start)` into each state.
    pub start: Vec<f64>,
    /// CSR transitions among transient states: row offsets.
    row: Vec<usize>,
    /// CSR targets.
    col: Vec<u32>,
    /// CSR weights.
    weight: Vec<f64>,
    /// Weight into `(conversion)` per state.
    pub to_conversion: Vec<f64>,
    /// Weight into `(null)` per state.
    pub to_null: Vec<f64>,
    /// Value of conversions ending in each state.
    pub value: Vec<f64>,
    /// Total weight leaving each state.
    out: Vec<f64>,
    /// Sweep order for Gauss-Seidel: states nearest absorption first.
    sweep: Vec<u32>,
    /// Set once Gauss-Seidel proved slower than a dense solve on this chain.
    dense_preferred: std::cell::Cell<bool>,
}

/// Splits `players` into the collapsed state sequence of order `k`, calling `emit` per state window.
fn for_each_state<'a>(players: &'a [u32], k: usize, mut emit: impl FnMut(&'a [u32])) {
    if players.len() <= k {
        emit(players);
        return;
    }
    if k == 1 {
        // One player per state: compare ids, not slices (a slice comparison is a `memcmp` call).
        for (i, w) in players.windows(1).enumerate() {
            if i == 0 || players[i - 1] != w[0] {
                emit(w);
            }
        }
        return;
    }
    let mut prev: Option<&'a [u32]> = None;
    for w in players.windows(k) {
        if prev != Some(w) {
            emit(w);
            prev = Some(w);
        }
    }
}

/// Journeys per chunk of the parallel order-1 estimate: the chunks, not the threads, fix the order in
/// which counts are added.
const CHUNK: usize = 1 << 15;

/// Order-1 counts of a run of journeys, by player id (`n` players): what
/// [`Chain::estimate_rows`] counts per state, before states are numbered.
struct Counts {
    /// Players in first-seen order.
    seen: Vec<u32>,
    start: Vec<f64>,
    to_conversion: Vec<f64>,
    to_null: Vec<f64>,
    value: Vec<f64>,
    depth: Vec<u32>,
    /// Transition weights, `from * n + to`.
    matrix: Vec<f64>,
}

impl Counts {
    /// One pass per journey, from its last touch back: a state's depth is then the number of states
    /// already passed, and each transition is the pair (this state, the one passed just before).
    /// A journey holding a player not seen before is read forwards once more, for the first-seen order.
    fn of<'a>(rows: impl Iterator<Item = (&'a [u32], f64, f64, f64)>, n: usize) -> Counts {
        let mut c = Counts {
            seen: Vec::new(),
            start: vec![0.0; n],
            to_conversion: vec![0.0; n],
            to_null: vec![0.0; n],
            value: vec![0.0; n],
            depth: vec![u32::MAX; n],
            matrix: vec![0.0; n * n],
        };
        let mut known = vec![false; n];
        for (players, conv, val, nulls) in rows {
            let w = conv + nulls;
            let Some(&last) = players.last() else { continue };
            if w <= 0.0 {
                continue;
            }
            let last = last as usize;
            c.to_conversion[last] += conv;
            c.to_null[last] += nulls;
            c.value[last] += val;
            // The state after this one (in journey order), and this one's depth.
            let (mut next, mut depth, mut fresh) = (last, 0u32, !known[last]);
            c.depth[last] = 0;
            for &p in players.iter().rev() {
                let p = p as usize;
                if p == next {
                    continue; // a repeat of the same player is one state
                }
                depth += 1;
                fresh |= !known[p];
                c.matrix[p * n + next] += w;
                c.depth[p] = c.depth[p].min(depth);
                next = p;
            }
            c.start[next] += w;
            if fresh {
                for &p in players {
                    if !known[p as usize] {
                        known[p as usize] = true;
                        c.seen.push(p);
                    }
                }
            }
        }
        c
    }
}

impl Chain {
    /// Estimates the order-`k` chain from the view's journeys.
    pub fn estimate(view: &KpiView<'_>, k: usize) -> Chain {
        if k == 1 && view.n_players <= 1024 {
            return Self::estimate_order1(view);
        }
        Self::estimate_rows(view.paths(), k)
    }

    /// The order-1 chain with few players, counted by player in a dense matrix ([`Counts`]). A large
    /// view (at least two chunks of [`CHUNK`] journeys, at most 256 players) is counted in chunks on
    /// every core and the chunks are added in chunk order: states in first-seen order and every count
    /// as one pass has them (sums to rounding), the same whatever the number of cores. One chunk gives
    /// exactly what one pass gives.
    fn estimate_order1(view: &KpiView<'_>) -> Chain {
        let n = view.n_players;
        let chunks = if n <= 256 && view.len() >= 2 * CHUNK { view.len().div_ceil(CHUNK) } else { 1 };
        let workers = std::thread::available_parallelism().map_or(1, |t| t.get()).min(chunks);
        let mut parts: Vec<Option<Counts>> = (0..chunks).map(|_| None).collect();
        if chunks == 1 {
            parts[0] = Some(Counts::of(view.paths(), n));
        } else {
            Self::count_chunks(view, chunks, workers, &mut parts);
        }
        Self::from_chunks(parts.into_iter().flatten().collect(), n)
    }

    /// [`Counts`] of every chunk of `view` into `parts`, on `workers` threads.
    fn count_chunks(view: &KpiView<'_>, chunks: usize, workers: usize, parts: &mut [Option<Counts>]) {
        let n = view.n_players;
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|w| {
                    scope.spawn(move || {
                        (w..chunks)
                            .step_by(workers)
                            .map(|c| {
                                let rows = view.paths_between(c * CHUNK, ((c + 1) * CHUNK).min(view.len()));
                                (c, Counts::of(rows, n))
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            for h in handles {
                for (c, counts) in h.join().expect("estimate thread") {
                    parts[c] = Some(counts);
                }
            }
        });
    }

    /// The chain from the counts of consecutive chunks, added in order.
    fn from_chunks(parts: Vec<Counts>, n: usize) -> Chain {
        let mut id = vec![u32::MAX; n];
        let mut states: Vec<Vec<u32>> = Vec::new();
        for part in &parts {
            for &p in &part.seen {
                if id[p as usize] == u32::MAX {
                    id[p as usize] = states.len() as u32;
                    states.push(vec![p]);
                }
            }
        }
        let m = states.len();
        let (mut start, mut to_conversion, mut to_null, mut value) =
            (vec![0.0; m], vec![0.0; m], vec![0.0; m], vec![0.0; m]);
        let mut depth = vec![u32::MAX; m];
        let mut matrix = vec![0.0; n * n];
        for part in &parts {
            for &p in &part.seen {
                let (p, s) = (p as usize, id[p as usize] as usize);
                start[s] += part.start[p];
                to_conversion[s] += part.to_conversion[p];
                to_null[s] += part.to_null[p];
                value[s] += part.value[p];
                depth[s] = depth[s].min(part.depth[p]);
            }
            for (total, w) in matrix.iter_mut().zip(&part.matrix) {
                *total += w;
            }
        }
        let mut edges: FastMap<u64, f64> = FastMap::default();
        for (a, row) in matrix.chunks(n.max(1)).enumerate() {
            for (b, &w) in row.iter().enumerate() {
                if w != 0.0 {
                    edges.insert(((id[a] as u64) << 32) | id[b] as u64, w);
                }
            }
        }
        Self::from_counts(states, start, to_conversion, to_null, value, depth, edges)
    }

    /// Estimates the chain from (players, conversions, value, nulls) rows, states hashed by their
    /// window (any order, any number of players).
    pub fn estimate_rows<'a>(rows: impl Iterator<Item = (&'a [u32], f64, f64, f64)>, k: usize) -> Chain {
        let mut ids: FastMap<Vec<u32>, u32> = FastMap::default();
        let mut dense: Vec<u32> = Vec::new();
        let mut states: Vec<Vec<u32>> = Vec::new();
        let mut start = Vec::new();
        let mut to_conversion = Vec::new();
        let mut to_null = Vec::new();
        let mut value = Vec::new();
        let mut depth: Vec<u32> = Vec::new();
        let mut edges: FastMap<u64, f64> = FastMap::default();
        let mut seq: Vec<u32> = Vec::new();
        for (players, conv, val, nulls) in rows {
            let w = conv + nulls;
            if w <= 0.0 {
                continue;
            }
            seq.clear();
            for_each_state(players, k, |win| {
                // Order 1: a state is one player, found in a dense table; higher orders hash the window.
                let known = if k == 1 {
                    dense.get(win[0] as usize).copied().filter(|&id| id != u32::MAX)
                } else {
                    ids.get(win).copied()
                };
                let id = match known {
                    Some(id) => id,
                    None => {
                        let id = states.len() as u32;
                        if k == 1 {
                            let p = win[0] as usize;
                            if p >= dense.len() {
                                dense.resize(p + 1, u32::MAX);
                            }
                            dense[p] = id;
                        } else {
                            ids.insert(win.to_vec(), id);
                        }
                        states.push(win.to_vec());
                        start.push(0.0);
                        to_conversion.push(0.0);
                        to_null.push(0.0);
                        value.push(0.0);
                        depth.push(u32::MAX);
                        id
                    }
                };
                seq.push(id);
            });
            start[seq[0] as usize] += w;
            for pair in seq.windows(2) {
                *edges.entry(((pair[0] as u64) << 32) | pair[1] as u64).or_insert(0.0) += w;
            }
            let last = *seq.last().unwrap() as usize;
            to_conversion[last] += conv;
            to_null[last] += nulls;
            value[last] += val;
            let n = seq.len();
            for (i, &s) in seq.iter().enumerate() {
                depth[s as usize] = depth[s as usize].min((n - 1 - i) as u32);
            }
        }
        Self::from_counts(states, start, to_conversion, to_null, value, depth, edges)
    }

    /// The chain from its counts: per state (its players), the weight starting there, ending there
    /// in a conversion or a null, the value ending there and its least distance to a path's end;
    /// transition weights keyed `from << 32 | to`.
    fn from_counts(
        states: Vec<Vec<u32>>,
        start: Vec<f64>,
        to_conversion: Vec<f64>,
        to_null: Vec<f64>,
        value: Vec<f64>,
        depth: Vec<u32>,
        edges: FastMap<u64, f64>,
    ) -> Chain {
        let n = states.len();
        let mut edges: Vec<(u64, f64)> = edges.into_iter().collect();
        edges.sort_unstable_by_key(|e| e.0);
        let mut row = vec![0usize; n + 1];
        for (key, _) in &edges {
            row[(key >> 32) as usize + 1] += 1;
        }
        for i in 0..n {
            row[i + 1] += row[i];
        }
        let col: Vec<u32> = edges.iter().map(|(key, _)| (key & 0xFFFF_FFFF) as u32).collect();
        let weight: Vec<f64> = edges.iter().map(|e| e.1).collect();
        let out: Vec<f64> = (0..n)
            .map(|s| weight[row[s]..row[s + 1]].iter().sum::<f64>() + to_conversion[s] + to_null[s])
            .collect();
        let mut sweep: Vec<u32> = (0..n as u32).collect();
        sweep.sort_by_key(|&s| (depth[s as usize], s));
        Chain {
            states,
            start,
            row,
            col,
            weight,
            to_conversion,
            to_null,
            value,
            out,
            sweep,
            dense_preferred: std::cell::Cell::new(false),
        }
    }

    /// Number of transient states.
    pub fn len(&self) -> usize {
        self.states.len()
    }

    /// Whether the chain has no transient state.
    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }

    /// Transitions out of `s` among transient states: (target, probability).
    pub fn successors(&self, s: usize) -> impl Iterator<Item = (usize, f64)> + '_ {
        let out = self.out[s];
        (self.row[s]..self.row[s + 1]).map(move |e| (self.col[e] as usize, self.weight[e] / out))
    }

    /// P(s -> conversion) and P(s -> null).
    pub fn absorption_step(&self, s: usize) -> (f64, f64) {
        (self.to_conversion[s] / self.out[s], self.to_null[s] / self.out[s])
    }

    /// Expected reward of state `s` per visit: P(s -> conversion) x mean value per conversion ending in s.
    pub fn reward(&self, s: usize) -> f64 {
        self.value[s] / self.out[s]
    }

    /// Absorption probability in `(conversion)` and expected value from every transient state, with the
    /// states flagged in `removed` sent to `(null)`, exact: dense LU when small, Gauss-Seidel to 1e-13
    /// relative otherwise, switching to dense LU when the sweeps have cost as much as a dense solve would.
    pub fn solve(&self, removed: &[bool]) -> Result<(Vec<f64>, Vec<f64>)> {
        self.solve_with(removed, &crate::model::Unattended)
    }

    /// [`Chain::solve`] that checks `control` for interruption between sweeps.
    ///
    /// Errors: [`Error::NotConverged`] when Gauss-Seidel has not converged and the chain is too large
    /// for a dense solve; [`Error::Unsupported`] when the system is singular; [`Error::Interrupted`].
    pub fn solve_with(&self, removed: &[bool], control: &dyn Control) -> Result<(Vec<f64>, Vec<f64>)> {
        let n = self.len();
        let b: Vec<f64> = (0..n).map(|s| if removed[s] { 0.0 } else { self.absorption_step(s).0 }).collect();
        let r: Vec<f64> = (0..n).map(|s| if removed[s] { 0.0 } else { self.reward(s) }).collect();
        if n <= DENSE_LIMIT || self.dense_preferred.get() {
            return self.solve_dense(removed, &b, &r, control);
        }
        // Gauss-Seidel until it has spent the work of one dense LU (n^3 / 3 multiply-adds); a chain
        // that converges that slowly (long cyclic paths, rare absorption) is solved densely from then on.
        let dense_cost = (n as f64).powi(3) / 3.0;
        let budget = if n <= DENSE_MAX { dense_cost } else { f64::INFINITY };
        match self.solve_iterative_rhs(removed, &b, &r, budget, control)? {
            Some(xy) => Ok(xy),
            None if n <= DENSE_MAX => {
                self.dense_preferred.set(true);
                self.solve_dense(removed, &b, &r, control)
            }
            None => unreachable!("an unbounded Gauss-Seidel run ends converged or by its sweep cap"),
        }
    }

    /// [`Chain::solve`] by Gauss-Seidel sweeps whatever the size (states nearest absorption first,
    /// until the error bound from the last sweeps is below 1e-13 relative).
    pub fn solve_iterative(&self, removed: &[bool]) -> Result<(Vec<f64>, Vec<f64>)> {
        let n = self.len();
        let b: Vec<f64> = (0..n).map(|s| if removed[s] { 0.0 } else { self.absorption_step(s).0 }).collect();
        let r: Vec<f64> = (0..n).map(|s| if removed[s] { 0.0 } else { self.reward(s) }).collect();
        let xy = self.solve_iterative_rhs(removed, &b, &r, f64::INFINITY, &crate::model::Unattended)?;
        Ok(xy.expect("an unbounded run returns values or an error"))
    }

    /// Gauss-Seidel sweeps; `Ok(None)` when the work (edge visits) passed `budget` unconverged.
    fn solve_iterative_rhs(
        &self,
        removed: &[bool],
        b: &[f64],
        r: &[f64],
        budget: f64,
        control: &dyn Control,
    ) -> Result<Option<(Vec<f64>, Vec<f64>)>> {
        let n = self.len();
        let mut x = vec![0.0; n];
        let mut y = vec![0.0; n];
        let per_sweep = (self.col.len() + n) as f64;
        let (mut delta, mut previous) = (f64::INFINITY, f64::INFINITY);
        for sweep in 0..MAX_SWEEPS {
            if sweep % 64 == 63 {
                control.checkpoint()?;
                if (sweep + 1) as f64 * per_sweep > budget {
                    return Ok(None);
                }
            }
            let (mut dx, mut dy) = (0.0f64, 0.0f64);
            for &s in &self.sweep {
                let s = s as usize;
                if removed[s] {
                    continue;
                }
                let (mut xs, mut ys) = (b[s], r[s]);
                for (t, p) in self.successors(s) {
                    xs += p * x[t];
                    ys += p * y[t];
                }
                dx = dx.max((xs - x[s]).abs());
                dy = dy.max((ys - y[s]).abs());
                x[s] = xs;
                y[s] = ys;
            }
            // Relative change of the sweep (x and y each against their largest value, so a chain whose
            // conversion probability is 1e-9 is solved to the same relative accuracy as one at 0.5),
            // and the remaining error it implies at the observed contraction rate rho:
            // error <= delta * rho / (1 - rho).
            let (sx, sy) =
                (x.iter().fold(0.0f64, |m, v| m.max(v.abs())), y.iter().fold(0.0f64, |m, v| m.max(v.abs())));
            delta = (if sx > 0.0 { dx / sx } else { dx }).max(if sy > 0.0 { dy / sy } else { dy });
            if delta == 0.0 {
                return Ok(Some((x, y)));
            }
            let rho = (delta / previous).min(1.0 - 1e-12);
            previous = delta;
            if delta.max(delta * rho / (1.0 - rho)) <= GS_TOL {
                return Ok(Some((x, y)));
            }
        }
        Err(Error::NotConverged {
            model: "markov".into(),
            kpi: "?".into(),
            iterations: MAX_SWEEPS,
            reached: delta,
            tol: GS_TOL,
        })
    }

    fn solve_dense(
        &self,
        removed: &[bool],
        b: &[f64],
        r: &[f64],
        control: &dyn Control,
    ) -> Result<(Vec<f64>, Vec<f64>)> {
        let keep: Vec<usize> = (0..self.len()).filter(|&s| !removed[s]).collect();
        let mut pos = vec![usize::MAX; self.len()];
        for (i, &s) in keep.iter().enumerate() {
            pos[s] = i;
        }
        let m = keep.len();
        let mut a = vec![0.0; m * m];
        for (i, &s) in keep.iter().enumerate() {
            a[i * m + i] += 1.0;
            for (t, p) in self.successors(s) {
                if pos[t] != usize::MAX {
                    a[i * m + pos[t]] -= p;
                }
            }
        }
        let mut rhs: Vec<[f64; 2]> = keep.iter().map(|&s| [b[s], r[s]]).collect();
        if !lu_solve(&mut a, m, &mut rhs, control)? {
            return Err(Error::Unsupported {
                model: "markov".into(),
                kpi: "?".into(),
                reason: "the chain's system (I - Q) x = b is singular: some states never reach (conversion) or (null)"
                    .into(),
            });
        }
        let (mut x, mut y) = (vec![0.0; self.len()], vec![0.0; self.len()]);
        for (i, &s) in keep.iter().enumerate() {
            x[s] = rhs[i][0];
            y[s] = rhs[i][1];
        }
        Ok((x, y))
    }

    /// P(conversion) and expected value from `(start)`, given solved `x` and `y`.
    pub fn from_start(&self, x: &[f64], y: &[f64]) -> (f64, f64) {
        let total: f64 = self.start.iter().sum();
        let p = self.start.iter().zip(x).map(|(w, x)| w * x).sum::<f64>() / total;
        let v = self.start.iter().zip(y).map(|(w, y)| w * y).sum::<f64>() / total;
        (p, v)
    }

    /// P(conversion) from `(start)` with nothing removed.
    pub fn conversion_probability(&self) -> Result<f64> {
        let (x, y) = self.solve(&vec![false; self.len()])?;
        Ok(self.from_start(&x, &y).0)
    }

    /// The transition table, states given by their players' names (`(start)`, `(conversion)` and
    /// `(null)` have none and carry their name).
    pub fn transitions(&self, names: &[String]) -> Vec<(crate::model::State, crate::model::State, f64)> {
        let state =
            |s: usize| (self.states[s].iter().map(|&p| names[p as usize].clone()).collect(), String::new());
        let special = |name: &str| (Vec::new(), name.to_owned());
        let total: f64 = self.start.iter().sum();
        let mut rows = Vec::new();
        for s in 0..self.len() {
            if self.start[s] > 0.0 {
                rows.push((special("(start)"), state(s), self.start[s] / total));
            }
        }
        for s in 0..self.len() {
            let from = state(s);
            for (t, p) in self.successors(s) {
                rows.push((from.clone(), state(t), p));
            }
            let (pc, pn) = self.absorption_step(s);
            if pc > 0.0 {
                rows.push((from.clone(), special("(conversion)"), pc));
            }
            if pn > 0.0 {
                rows.push((from, special("(null)"), pn));
            }
        }
        rows
    }
}

/// Solves `a x = rhs` in place (row-major `m x m`, two right-hand sides) by LU with partial pivoting.
/// Returns `false` (leaving `rhs` undefined) when a pivot is zero or not finite: the matrix is singular.
/// Checks `control` every 64 columns, so a large solve stops on Ctrl-C.
fn lu_solve(a: &mut [f64], m: usize, rhs: &mut [[f64; 2]], control: &dyn Control) -> Result<bool> {
    for k in 0..m {
        if k % 64 == 63 {
            control.checkpoint()?;
        }
        let piv = (k..m).max_by(|&i, &j| a[i * m + k].abs().total_cmp(&a[j * m + k].abs())).unwrap_or(k);
        if piv != k {
            for c in 0..m {
                a.swap(k * m + c, piv * m + c);
            }
            rhs.swap(k, piv);
        }
        let d = a[k * m + k];
        if d == 0.0 || !d.is_finite() {
            return Ok(false);
        }
        for i in k + 1..m {
            let f = a[i * m + k] / d;
            if f == 0.0 {
                continue;
            }
            for c in k..m {
                a[i * m + c] -= f * a[k * m + c];
            }
            let (rk, ri) = (rhs[k], &mut rhs[i]);
            ri[0] -= f * rk[0];
            ri[1] -= f * rk[1];
        }
    }
    for k in (0..m).rev() {
        let mut s = rhs[k];
        for c in k + 1..m {
            s[0] -= a[k * m + c] * rhs[c][0];
            s[1] -= a[k * m + c] * rhs[c][1];
        }
        let d = a[k * m + k];
        rhs[k] = [s[0] / d, s[1] / d];
    }
    Ok(true)
}

impl Markov {
    fn check(&self) -> Result<usize> {
        if self.order == 0 || self.order > 16 {
            return Err(Error::InvalidParameter {
                model: "markov",
                parameter: "order",
                value: self.order.to_string(),
                reason: "the order must be between 1 and 16".into(),
            });
        }
        Ok(self.order as usize)
    }
}

impl Model for Markov {
    fn name(&self) -> &'static str {
        "markov"
    }

    fn reads_times(&self) -> bool {
        false
    }
    fn validate(&self) -> Result<()> {
        self.check().map(|_| ())
    }

    fn credit(&self, view: &KpiView<'_>, control: &dyn Control) -> Result<KpiCredit> {
        let k = self.check()?;
        let chain = Chain::estimate(view, k);
        let mut out = KpiCredit::zeros(view.n_players);
        // Totals from the chain (every row with weight is in it), not another pass over the journeys.
        let total_conv: f64 = chain.to_conversion.iter().sum();
        let total_nulls: f64 = chain.to_null.iter().sum();
        let total_value: f64 = chain.value.iter().sum();
        if total_nulls <= 0.0 {
            out.warnings.push(
                "no null (non-converting) journeys: the chain is built on converting paths only, so every path converts and removal effects measure reach, not lift".into(),
            );
        }
        let none = vec![false; chain.len()];
        let name_kpi = |e: Error| match e {
            Error::NotConverged { model, iterations, reached, tol, .. } => {
                Error::NotConverged { model, kpi: view.kpi_name.to_owned(), iterations, reached, tol }
            }
            Error::Unsupported { model, reason, .. } => {
                Error::Unsupported { model, kpi: view.kpi_name.to_owned(), reason }
            }
            e => e,
        };
        let (x, y) = chain.solve_with(&none, control).map_err(name_kpi)?;
        let (p, v) = chain.from_start(&x, &y);
        // Players present in the chain, and the states each one appears in.
        let mut player_states: Vec<Vec<u32>> = vec![Vec::new(); view.n_players];
        for (s, players) in chain.states.iter().enumerate() {
            for &pl in players {
                let list = &mut player_states[pl as usize];
                if list.last() != Some(&(s as u32)) {
                    list.push(s as u32);
                }
            }
        }
        let present: Vec<usize> = (0..view.n_players).filter(|&c| !player_states[c].is_empty()).collect();
        let mut effects = vec![(0.0, 0.0); view.n_players];
        let mut removed = vec![false; chain.len()];
        for (done, &c) in present.iter().enumerate() {
            control.checkpoint()?;
            control.progress("markov removal effects", done as u64, present.len() as u64);
            for &s in &player_states[c] {
                removed[s as usize] = true;
            }
            let (xc, yc) = chain.solve_with(&removed, control).map_err(name_kpi)?;
            let (pc, vc) = chain.from_start(&xc, &yc);
            for &s in &player_states[c] {
                removed[s as usize] = false;
            }
            let re = if p > 0.0 { (1.0 - pc / p).clamp(0.0, 1.0) } else { 0.0 };
            let vre = if v > 0.0 { (1.0 - vc / v).clamp(0.0, 1.0) } else { 0.0 };
            effects[c] = (re, vre);
        }
        let sum_re: f64 = effects.iter().map(|e| e.0).sum();
        let sum_vre: f64 = effects.iter().map(|e| e.1).sum();
        for c in present {
            if sum_re > 0.0 {
                out.conversions[c] = total_conv * effects[c].0 / sum_re;
            }
            if sum_vre > 0.0 {
                out.value[c] = total_value * effects[c].1 / sum_vre;
            }
        }
        out.details = Details {
            removal_effects: Some(effects),
            transitions: Some(chain.transitions(view.player_names)),
            ..Details::default()
        };
        Ok(out)
    }
}

/// Cross-validated AUC of one chain order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderScore {
    /// Chain order.
    pub order: u32,
    /// Mean out-of-fold AUC of the predicted conversion probability over the folds that could be
    /// scored (NaN when none could).
    pub auc: f64,
    /// Folds that held both conversions and nulls, so that an AUC exists.
    pub folds_scored: u32,
}

/// The result of [`choose_order`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderChoice {
    /// One row per order.
    pub scores: Vec<OrderScore>,
    /// The order with the best AUC (the lowest within 1e-4 of the best).
    pub suggested: u32,
    /// What the caller should know: folds that could not be scored.
    pub warnings: Vec<String>,
}

/// Weighted AUC: the probability that a random conversion scores above a random null (ties half).
pub fn weighted_auc(items: &mut [(f64, f64, f64)]) -> f64 {
    items.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mut neg_below, mut num) = (0.0, 0.0);
    let (tot_pos, tot_neg): (f64, f64) = items.iter().fold((0.0, 0.0), |a, i| (a.0 + i.1, a.1 + i.2));
    let mut i = 0;
    while i < items.len() {
        let mut j = i;
        let (mut pos, mut neg) = (0.0, 0.0);
        while j < items.len() && items[j].0 == items[i].0 {
            pos += items[j].1;
            neg += items[j].2;
            j += 1;
        }
        num += pos * (neg_below + 0.5 * neg);
        neg_below += neg;
        i = j;
    }
    if tot_pos > 0.0 && tot_neg > 0.0 {
        num / (tot_pos * tot_neg)
    } else {
        f64::NAN
    }
}

/// [`choose_order`] on one KPI of `journeys` (by name; may be omitted when there is one), crediting
/// players of `by`.
pub fn choose_order_for(
    journeys: &crate::journeys::Journeys,
    kpi: Option<&str>,
    by: crate::journeys::Dimension,
    max_order: u32,
    folds: u32,
    seed: u64,
    control: &dyn Control,
) -> Result<OrderChoice> {
    journeys.require_dimension(by)?;
    let kpis = journeys.kpis().names();
    let bad_kpi = |value: String, reason: String| Error::InvalidParameter {
        model: "markov",
        parameter: "kpi",
        value,
        reason,
    };
    let k = match kpi {
        Some(name) => journeys.kpis().get(name).ok_or_else(|| {
            bad_kpi(name.to_owned(), format!("no such KPI; the journeys have: {}", kpis.join(", ")))
        })?,
        None if kpis.len() == 1 => 0,
        None => {
            return Err(bad_kpi(
                "None".into(),
                format!("the journeys hold several KPIs ({}); name one", kpis.join(", ")),
            ))
        }
    };
    let players = journeys.player_column(by);
    let names = journeys.player_names(by);
    let groups = journeys.rows_by_kpi();
    let view = KpiView::new(journeys, k, Some(&groups[k as usize]), &players, &names).with_by(by);
    choose_order(&view, max_order, folds, seed, control)
}

/// The fold of a record: a hash of the seed, the players' names and the record's rank among the
/// records of the same path (in canonical order), so the split depends on the records, not on where
/// they sit in the table, and the records of one path still spread over the folds.
fn record_fold(names: &[String], players: &[u32], occurrence: u64, seed: u64, folds: u32) -> u32 {
    use std::hash::Hasher;
    let mut h = touchpoint_util::hashing::FastHasher::default();
    h.write_u64(seed);
    for &p in players {
        h.write(names[p as usize].as_bytes());
        h.write_u8(0xff);
    }
    h.write_u64(occurrence);
    (h.finish() % u64::from(folds)) as u32
}

/// Chooses the Markov order by k-fold cross-validation over journey records (Anderl et al. 2016,
/// section 4.2): for each order, fit the chain on the other folds and score each held-out journey by
/// the probability that its last state is absorbed in `(conversion)`; journeys whose last state was
/// never seen get the training conversion rate. Conversions are positives and nulls negatives.
///
/// Folds are keyed to records (a hash of `seed`, the players' names and the record's rank among the
/// records of its path), so the same set of records gives the same choice in any row order. A fold without both conversions and nulls has no AUC: it is
/// left out of that order's mean and the result's warnings say so; when no fold of any order can be
/// scored, the call fails.
pub fn choose_order(
    view: &KpiView<'_>,
    max_order: u32,
    folds: u32,
    seed: u64,
    control: &dyn Control,
) -> Result<OrderChoice> {
    let bad = |parameter: &'static str, value: u32, reason: &str| Error::InvalidParameter {
        model: "markov",
        parameter,
        value: value.to_string(),
        reason: reason.to_owned(),
    };
    if max_order == 0 || max_order > 16 {
        return Err(bad("max_order", max_order, "must be between 1 and 16"));
    }
    if folds < 2 {
        return Err(bad("folds", folds, "cross-validation needs at least 2 folds"));
    }
    if view.total_nulls() <= 0.0 {
        return Err(Error::Unsupported {
            model: "markov".into(),
            kpi: view.kpi_name.to_owned(),
            reason: "choosing an order needs null (non-converting) journeys to score against".into(),
        });
    }
    // Records in a canonical order (by player names, then weights), so sums do not depend on row order.
    let mut rows: Vec<(&[u32], f64, f64, f64)> =
        view.iter().map(|(j, p)| (p, j.conversions, j.value, j.nulls)).collect();
    let names = view.player_names;
    // Player ranks by name, computed once: rank sequences compare like name sequences.
    let mut by_name: Vec<u32> = (0..names.len() as u32).collect();
    by_name.sort_by(|&a, &b| names[a as usize].cmp(&names[b as usize]));
    let mut rank = vec![0u32; names.len()];
    for (r, &p) in by_name.iter().enumerate() {
        rank[p as usize] = r as u32;
    }
    rows.sort_by(|a, b| {
        a.0.iter()
            .map(|&p| rank[p as usize])
            .cmp(b.0.iter().map(|&p| rank[p as usize]))
            .then(a.1.total_cmp(&b.1))
            .then(a.2.total_cmp(&b.2))
            .then(a.3.total_cmp(&b.3))
    });
    let mut fold: Vec<u32> = Vec::with_capacity(rows.len());
    let mut occurrence = 0u64;
    for (i, r) in rows.iter().enumerate() {
        occurrence = if i > 0 && rows[i - 1].0 == r.0 { occurrence + 1 } else { 0 };
        fold.push(record_fold(names, r.0, occurrence, seed, folds));
    }
    let mut scores = Vec::new();
    let mut warnings = Vec::new();
    for order in 1..=max_order {
        let k = order as usize;
        let mut aucs = Vec::new();
        for f in 0..folds {
            control.checkpoint()?;
            control.progress("choose_order", ((order - 1) * folds + f) as u64, (max_order * folds) as u64);
            let train = rows.iter().zip(&fold).filter(|(_, &g)| g != f).map(|(r, _)| *r);
            let chain = Chain::estimate_rows(train, k);
            let (c, n): (f64, f64) = chain
                .to_conversion
                .iter()
                .zip(&chain.to_null)
                .fold((0.0, 0.0), |a, (c, n)| (a.0 + c, a.1 + n));
            let base = if c + n > 0.0 { c / (c + n) } else { 0.0 };
            let mut index: HashMap<&[u32], usize> = HashMap::new();
            for (s, st) in chain.states.iter().enumerate() {
                index.insert(st.as_slice(), s);
            }
            let mut items = Vec::new();
            for ((players, conv, _, nulls), _) in rows.iter().zip(&fold).filter(|(_, &g)| g == f) {
                let mut last: &[u32] = &[];
                for_each_state(players, k, |w| last = w);
                let score = match index.get(last) {
                    Some(&s) if chain.to_conversion[s] + chain.to_null[s] > 0.0 => {
                        chain.to_conversion[s] / (chain.to_conversion[s] + chain.to_null[s])
                    }
                    _ => base,
                };
                items.push((score, *conv, *nulls));
            }
            let auc = weighted_auc(&mut items);
            if auc.is_finite() {
                aucs.push(auc);
            }
        }
        let auc = if aucs.is_empty() { f64::NAN } else { aucs.iter().sum::<f64>() / aucs.len() as f64 };
        if (aucs.len() as u32) < folds {
            warnings.push(format!(
                "order {order}: {} of {folds} folds hold no conversion or no null, so have no AUC; the mean is over {}",
                folds - aucs.len() as u32,
                aucs.len()
            ));
        }
        scores.push(OrderScore { order, auc, folds_scored: aucs.len() as u32 });
    }
    if scores.iter().all(|s| s.folds_scored == 0) {
        return Err(Error::Unsupported {
            model: "markov".into(),
            kpi: view.kpi_name.to_owned(),
            reason: format!(
                "no fold of the {folds}-fold split holds both conversions and nulls, so no order can be scored (use fewer folds or more journeys)"
            ),
        });
    }
    let best = scores.iter().map(|s| s.auc).filter(|a| a.is_finite()).fold(f64::NEG_INFINITY, f64::max);
    let suggested = scores.iter().find(|s| s.auc >= best - 1e-4).map_or(1, |s| s.order);
    Ok(OrderChoice { scores, suggested, warnings })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Order-1 counts by hand: repeats are one state, the first state starts, the last ends, depth is
    /// the fewest states after a player's, and rows without weight count for nothing.
    #[test]
    fn counts_by_hand() {
        let rows: [(&[u32], f64, f64, f64); 3] =
            [(&[1, 1, 2, 3, 2], 1.0, 5.0, 0.0), (&[4, 3], 0.0, 0.0, 2.0), (&[5, 0], 0.0, 0.0, 0.0)];
        let c = Counts::of(rows.into_iter(), 6);
        assert_eq!(c.seen, [1, 2, 3, 4]);
        assert_eq!(c.depth, [u32::MAX, 3, 0, 0, 1, u32::MAX]);
        assert_eq!(c.start, [0.0, 1.0, 0.0, 0.0, 2.0, 0.0]);
        assert_eq!((c.to_conversion[2], c.value[2], c.to_null[3]), (1.0, 5.0, 2.0));
        assert_eq!(c.to_conversion.iter().sum::<f64>() + c.to_null.iter().sum::<f64>(), 3.0);
        let mut edges: Vec<(usize, usize, f64)> =
            (0..36).filter(|&i| c.matrix[i] != 0.0).map(|i| (i / 6, i % 6, c.matrix[i])).collect();
        edges.sort_by(|a, b| a.partial_cmp(b).unwrap());
        assert_eq!(edges, [(1, 2, 1.0), (2, 3, 1.0), (3, 2, 1.0), (4, 3, 2.0)]);
    }

    /// The chunked order-1 estimate of a large view is the sequential one: the same states in the
    /// same order, transitions and depths; sums to rounding. Also over a KPI's rows.
    #[test]
    fn the_chunked_order_one_chain_is_the_sequential_one() {
        use crate::{Dimension, JourneysBuilder, Weights};
        let names: Vec<String> = (0..12).map(|c| format!("c{c}")).collect();
        let mut b = JourneysBuilder::new(&[]);
        let mut state = 7u64;
        let mut next = |m: u64| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) % m
        };
        for row in 0..3 * CHUNK {
            // Late players first appear in late chunks; some rows carry no weight.
            let range = if row < CHUNK { 6 } else { 12 };
            let path: Vec<&str> = (0..1 + next(6)).map(|_| names[next(range) as usize].as_str()).collect();
            let conversions = next(3) as f64 * 0.5;
            let nulls = next(4) as f64;
            let kpi = if row % 4 == 0 { "leads" } else { "sales" };
            b.push_path(row, kpi, &path, Weights { conversions, value: 3.0 * conversions, nulls }).unwrap();
        }
        let j = b.build();
        let players = j.player_column(Dimension::Channel);
        let player_names = j.player_names(Dimension::Channel);
        let groups = j.rows_by_kpi();
        let all = KpiView::new(&j, 0, None, &players, &player_names);
        let sales =
            KpiView::new(&j, j.kpis().get("sales").unwrap(), Some(&groups[1]), &players, &player_names);
        for view in [all, sales] {
            assert!(view.len() >= 2 * CHUNK);
            let chunked = Chain::estimate(&view, 1);
            let sequential = Chain::estimate_rows(view.paths(), 1);
            assert_eq!(chunked.states, sequential.states);
            assert_eq!(
                (&chunked.row, &chunked.col, &chunked.sweep),
                (&sequential.row, &sequential.col, &sequential.sweep)
            );
            let close = |a: &[f64], b: &[f64]| {
                assert_eq!(a.len(), b.len());
                for (x, y) in a.iter().zip(b) {
                    assert!((x - y).abs() <= 1e-12 * y.abs().max(1.0), "{x} vs {y}");
                }
            };
            for (a, b) in [
                (&chunked.start, &sequential.start),
                (&chunked.weight, &sequential.weight),
                (&chunked.to_conversion, &sequential.to_conversion),
                (&chunked.to_null, &sequential.to_null),
                (&chunked.value, &sequential.value),
                (&chunked.out, &sequential.out),
            ] {
                close(a, b);
            }
        }
    }

    #[test]
    fn states_slide_and_collapse() {
        let mut got = Vec::new();
        for_each_state(&[1, 1, 2, 2, 2, 1], 1, |w| got.push(w.to_vec()));
        assert_eq!(got, vec![vec![1], vec![2], vec![1]]);
        got.clear();
        for_each_state(&[1, 1, 1, 2], 2, |w| got.push(w.to_vec()));
        assert_eq!(got, vec![vec![1, 1], vec![1, 2]]);
        got.clear();
        for_each_state(&[3, 4], 3, |w| got.push(w.to_vec()));
        assert_eq!(got, vec![vec![3, 4]]);
    }

    #[test]
    fn weighted_auc_by_hand() {
        // Scores 0.1 (1 null), 0.5 (1 conversion, 1 null), 0.9 (2 conversions).
        let mut items = vec![(0.9, 2.0, 0.0), (0.1, 0.0, 1.0), (0.5, 1.0, 1.0)];
        // Pairs: conv@0.5 vs null@0.1 win (1), vs null@0.5 tie (0.5); conv@0.9 x2 beat both (4).
        assert!((weighted_auc(&mut items) - 5.5 / 6.0).abs() < 1e-15);
    }

    #[test]
    fn lu_reports_a_singular_matrix() {
        let mut a = vec![1.0, 1.0, 1.0, 1.0];
        let mut rhs = vec![[1.0, 0.0], [2.0, 0.0]];
        assert!(!lu_solve(&mut a, 2, &mut rhs, &crate::model::Unattended).unwrap());
    }

    #[test]
    fn lu_matches_hand_solution() {
        // [2 1; 1 3] x = [3; 5] -> x = [0.8, 1.4]
        let mut a = vec![2.0, 1.0, 1.0, 3.0];
        let mut rhs = vec![[3.0, 1.0], [5.0, 2.0]];
        assert!(lu_solve(&mut a, 2, &mut rhs, &crate::model::Unattended).unwrap());
        assert!((rhs[0][0] - 0.8).abs() < 1e-15 && (rhs[1][0] - 1.4).abs() < 1e-15);
        assert!((rhs[0][1] - 0.2).abs() < 1e-15 && (rhs[1][1] - 0.6).abs() < 1e-15);
    }
}
