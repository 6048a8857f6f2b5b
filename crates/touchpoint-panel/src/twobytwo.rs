//! The two-period, two-group estimators that every group-time effect is made of: the doubly
//! robust estimator of Sant'Anna & Zhao (2020, "Doubly robust difference-in-differences
//! estimators", J. Econometrics 219(1), eq. 3.1 and its influence function, the `drdid_panel`
//! estimator of their R package DRDID) and the outcome-regression estimator (Heckman, Ichimura &
//! Todd 1997; DRDID's `reg_did_panel`), each with its influence function.
//!
//! Input per cell: each unit's change of outcome `dy`, whether it is treated `d`, and its
//! covariates `x` (row-major, the intercept first). With the intercept alone both estimators are
//! the difference of the mean changes.

/// Which estimand a cell uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Estimand {
    /// Doubly robust: a logistic propensity score and a linear outcome regression on the
    /// comparison units (consistent if either is right).
    DoublyRobust,
    /// Outcome regression only.
    OutcomeRegression,
}

/// Why a cell could not be estimated.
#[derive(Clone, Debug, PartialEq)]
pub enum CellFailure {
    /// A propensity score reached 0.999: treated and comparison units barely overlap.
    Overlap(f64),
    /// The comparison units' covariates (or the propensity model's) are collinear.
    Singular(&'static str),
    /// The logistic fit did not converge.
    NoConvergence,
    /// Every comparison unit's propensity score reaches the trimming level 0.995 (or the treated
    /// share does, without covariates), so no comparison unit is left: the treated share given.
    Trimmed(f64),
    /// The estimate or its influence function is not a finite number.
    NotFinite,
}

/// The estimate and the influence function of each of the cell's units (in the cell's order).
#[derive(Clone, Debug)]
pub struct CellEstimate {
    /// The average effect on the treated.
    pub att: f64,
    /// Influence function values, one per unit of the cell.
    pub influence: Vec<f64>,
}

/// Cholesky factor (row-major lower triangle) of a small symmetric matrix `p x p`. A pivot below
/// 1e-12 of its own diagonal entry (so the test does not depend on the columns' units: a covariate
/// in millions next to the intercept) makes the matrix singular: `None`, or, when `semidefinite`,
/// a zero column (the factor of a positive semi-definite matrix whose row is a combination of
/// earlier ones).
pub(crate) fn cholesky(a: &[f64], p: usize, semidefinite: bool) -> Option<Vec<f64>> {
    let mut l = vec![0.0; p * p];
    for i in 0..p {
        for j in 0..=i {
            let mut s = a[i * p + j];
            for k in 0..j {
                s -= l[i * p + k] * l[j * p + k];
            }
            if i == j {
                let floor = 1e-12 * a[i * p + i].max(f64::MIN_POSITIVE);
                if s > floor {
                    l[i * p + i] = s.sqrt();
                } else if semidefinite {
                    l[i * p + i] = 0.0;
                } else {
                    return None;
                }
            } else if l[j * p + j] > 0.0 {
                l[i * p + j] = s / l[j * p + j];
            }
        }
    }
    Some(l)
}

/// Inverse of a small SPD matrix through its Cholesky factor.
fn spd_inverse(a: &[f64], p: usize) -> Option<Vec<f64>> {
    let l = cholesky(a, p, false)?;
    let mut inv = vec![0.0; p * p];
    for col in 0..p {
        // Solve L z = e_col, then L' w = z.
        let mut z = vec![0.0; p];
        for i in 0..p {
            let mut s = if i == col { 1.0 } else { 0.0 };
            for k in 0..i {
                s -= l[i * p + k] * z[k];
            }
            z[i] = s / l[i * p + i];
        }
        for i in (0..p).rev() {
            let mut s = z[i];
            for k in i + 1..p {
                s -= l[k * p + i] * inv[k * p + col];
            }
            inv[i * p + col] = s / l[i * p + i];
        }
    }
    Some(inv)
}

fn mat_vec(a: &[f64], v: &[f64], p: usize) -> Vec<f64> {
    (0..p).map(|i| (0..p).map(|j| a[i * p + j] * v[j]).sum()).collect()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Weighted least squares of `dy` on `x` over the comparison units (`d == 0`): the coefficients
/// and `(X_c'X_c / m)^{-1}`.
fn outcome_regression(
    dy: &[f64],
    d: &[bool],
    x: &[f64],
    p: usize,
) -> Result<(Vec<f64>, Vec<f64>), CellFailure> {
    let m = dy.len();
    let mut xtx = vec![0.0; p * p];
    let mut xty = vec![0.0; p];
    for i in (0..m).filter(|&i| !d[i]) {
        let xi = &x[i * p..(i + 1) * p];
        for a in 0..p {
            xty[a] += xi[a] * dy[i];
            for b in 0..p {
                xtx[a * p + b] += xi[a] * xi[b];
            }
        }
    }
    let inv =
        spd_inverse(&xtx, p).ok_or(CellFailure::Singular("outcome regression on the comparison units"))?;
    let beta = mat_vec(&inv, &xty, p);
    let scaled: Vec<f64> = inv.iter().map(|v| v * m as f64).collect();
    Ok((beta, scaled))
}

/// Logistic regression of `d` on `x` by Newton's method; returns fitted probabilities.
fn propensity(d: &[bool], x: &[f64], p: usize) -> Result<Vec<f64>, CellFailure> {
    let m = d.len();
    let treated = d.iter().filter(|&&v| v).count() as f64;
    if p == 1 {
        // The intercept alone: the maximum-likelihood probability is the treated share.
        return Ok(vec![treated / m as f64; m]);
    }
    let mut beta = vec![0.0; p];
    for _ in 0..100 {
        let mut grad = vec![0.0; p];
        let mut info = vec![0.0; p * p];
        for i in 0..m {
            let xi = &x[i * p..(i + 1) * p];
            let ps = 1.0 / (1.0 + (-dot(xi, &beta)).exp());
            let r = f64::from(u8::from(d[i])) - ps;
            let w = ps * (1.0 - ps);
            for a in 0..p {
                grad[a] += xi[a] * r;
                for b in 0..p {
                    info[a * p + b] += w * xi[a] * xi[b];
                }
            }
        }
        let inv = spd_inverse(&info, p).ok_or(CellFailure::Singular("propensity score model"))?;
        let step = mat_vec(&inv, &grad, p);
        let size = step.iter().fold(0.0f64, |a, s| a.max(s.abs()));
        for (b, s) in beta.iter_mut().zip(&step) {
            *b += s;
        }
        if !size.is_finite() {
            return Err(CellFailure::NoConvergence);
        }
        if size < 1e-11 * (1.0 + beta.iter().fold(0.0f64, |a, b| a.max(b.abs()))) {
            return Ok((0..m).map(|i| 1.0 / (1.0 + (-dot(&x[i * p..(i + 1) * p], &beta)).exp())).collect());
        }
    }
    Err(CellFailure::NoConvergence)
}

/// One cell's estimate. `x` holds `p` values per unit, the first being 1 (the intercept).
pub fn estimate(
    estimand: Estimand,
    dy: &[f64],
    d: &[bool],
    x: &[f64],
    p: usize,
) -> Result<CellEstimate, CellFailure> {
    let e = if p == 1 {
        intercept_only(estimand, dy, d)?
    } else {
        match estimand {
            Estimand::DoublyRobust => doubly_robust(dy, d, x, p)?,
            Estimand::OutcomeRegression => regression(dy, d, x, p)?,
        }
    };
    if !e.att.is_finite() || e.influence.iter().any(|v| !v.is_finite()) {
        return Err(CellFailure::NotFinite);
    }
    Ok(e)
}

impl std::fmt::Display for CellFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CellFailure::Overlap(v) => {
                write!(f, "a propensity score reaches {v:.4} (treated and comparison units barely overlap)")
            }
            CellFailure::Singular(what) => write!(f, "the {what} is singular (collinear covariates)"),
            CellFailure::NoConvergence => write!(f, "the propensity score model did not converge"),
            CellFailure::Trimmed(v) => write!(
                f,
                "every comparison unit is trimmed (propensity score, or treated share, {v:.4} >= 0.995)"
            ),
            CellFailure::NotFinite => write!(f, "the estimate is not a finite number"),
        }
    }
}

/// With the intercept alone, both estimands are the difference of the mean changes, and their
/// influence functions reduce to `(dy - mean_t) / p_t` for treated units and
/// `-(dy - mean_c) / p_c` for comparison units (`p_t`, `p_c` the groups' shares of the cell).
/// With the doubly robust estimand, a treated share of 0.995 or more trims every comparison unit
/// (as DRDID does): the cell cannot be estimated.
fn intercept_only(estimand: Estimand, dy: &[f64], d: &[bool]) -> Result<CellEstimate, CellFailure> {
    let m = dy.len() as f64;
    let (mut st, mut sc, mut nt) = (0.0, 0.0, 0usize);
    for (&v, &t) in dy.iter().zip(d) {
        if t {
            st += v;
            nt += 1;
        } else {
            sc += v;
        }
    }
    let nc = dy.len() - nt;
    let share = nt as f64 / m;
    if estimand == Estimand::DoublyRobust {
        if share >= 0.999 {
            return Err(CellFailure::Overlap(share));
        }
        if share >= 0.995 {
            return Err(CellFailure::Trimmed(share));
        }
    }
    let (mean_t, mean_c) = (st / nt as f64, sc / nc as f64);
    let (pt, pc) = (share, nc as f64 / m);
    let influence =
        dy.iter().zip(d).map(|(&v, &t)| if t { (v - mean_t) / pt } else { -(v - mean_c) / pc }).collect();
    Ok(CellEstimate { att: mean_t - mean_c, influence })
}

/// Sant'Anna & Zhao (2020), the locally efficient doubly robust estimator for panel data, with
/// propensity scores capped at 1 - 1e-6 and comparison units whose score reaches 0.995 left out,
/// as their DRDID package does.
fn doubly_robust(dy: &[f64], d: &[bool], x: &[f64], p: usize) -> Result<CellEstimate, CellFailure> {
    let m = dy.len();
    let mf = m as f64;
    let mut ps = propensity(d, x, p)?;
    let top = ps.iter().copied().fold(0.0f64, f64::max);
    if top >= 0.999 {
        return Err(CellFailure::Overlap(top));
    }
    for v in ps.iter_mut() {
        *v = v.min(1.0 - 1e-6);
    }
    let (beta, xtx_inv) = outcome_regression(dy, d, x, p)?;
    let row = |i: usize| &x[i * p..(i + 1) * p];
    let resid: Vec<f64> = (0..m).map(|i| dy[i] - dot(row(i), &beta)).collect();
    let w_treat: Vec<f64> = (0..m).map(|i| f64::from(u8::from(d[i]))).collect();
    let w_cont: Vec<f64> =
        (0..m).map(|i| if d[i] || ps[i] >= 0.995 { 0.0 } else { ps[i] / (1.0 - ps[i]) }).collect();
    let mean = |v: &dyn Fn(usize) -> f64| (0..m).map(v).sum::<f64>() / mf;
    let mean_wt = mean(&|i| w_treat[i]);
    let mean_wc = mean(&|i| w_cont[i]);
    if mean_wc <= 0.0 || mean_wt <= 0.0 {
        return Err(CellFailure::Trimmed(top));
    }
    let eta_treat = mean(&|i| w_treat[i] * resid[i]) / mean_wt;
    let eta_cont = mean(&|i| w_cont[i] * resid[i]) / mean_wc;
    let att = eta_treat - eta_cont;

    // Propensity information (X' diag(ps (1 - ps)) X)^{-1} * m, at the capped scores.
    let mut info = vec![0.0; p * p];
    for (i, &pi) in ps.iter().enumerate() {
        let w = pi * (1.0 - pi);
        let xi = row(i);
        for a in 0..p {
            for b in 0..p {
                info[a * p + b] += w * xi[a] * xi[b];
            }
        }
    }
    let hessian_ps: Vec<f64> = spd_inverse(&info, p)
        .ok_or(CellFailure::Singular("propensity score model"))?
        .iter()
        .map(|v| v * mf)
        .collect();

    let mut m1 = vec![0.0; p];
    let mut m2 = vec![0.0; p];
    let mut m3 = vec![0.0; p];
    for i in 0..m {
        let xi = row(i);
        for a in 0..p {
            m1[a] += w_treat[i] * xi[a] / mf;
            m2[a] += w_cont[i] * (resid[i] - eta_cont) * xi[a] / mf;
            m3[a] += w_cont[i] * xi[a] / mf;
        }
    }
    // Linear representations contracted with the moments once: ols . M = (1-d) e x' (XtX/m)^-1 M.
    let ols_m1 = mat_vec(&xtx_inv, &m1, p);
    let ols_m3 = mat_vec(&xtx_inv, &m3, p);
    let ps_m2 = mat_vec(&hessian_ps, &m2, p);
    let influence = (0..m)
        .map(|i| {
            let xi = row(i);
            let ols = if d[i] { 0.0 } else { resid[i] };
            let treat = (w_treat[i] * resid[i] - w_treat[i] * eta_treat - ols * dot(xi, &ols_m1)) / mean_wt;
            let score = w_treat[i] - ps[i];
            let cont = (w_cont[i] * resid[i] - w_cont[i] * eta_cont + score * dot(xi, &ps_m2)
                - ols * dot(xi, &ols_m3))
                / mean_wc;
            treat - cont
        })
        .collect();
    Ok(CellEstimate { att, influence })
}

/// The outcome-regression estimator: the treated units' mean change minus the change the
/// comparison units' regression predicts for them.
fn regression(dy: &[f64], d: &[bool], x: &[f64], p: usize) -> Result<CellEstimate, CellFailure> {
    let m = dy.len();
    let mf = m as f64;
    let (beta, xtx_inv) = outcome_regression(dy, d, x, p)?;
    let row = |i: usize| &x[i * p..(i + 1) * p];
    let fitted: Vec<f64> = (0..m).map(|i| dot(row(i), &beta)).collect();
    let w: Vec<f64> = (0..m).map(|i| f64::from(u8::from(d[i]))).collect();
    let mean_w = w.iter().sum::<f64>() / mf;
    let eta_treat = (0..m).map(|i| w[i] * dy[i]).sum::<f64>() / mf / mean_w;
    let eta_cont = (0..m).map(|i| w[i] * fitted[i]).sum::<f64>() / mf / mean_w;
    let mut moment = vec![0.0; p];
    for (i, wi) in w.iter().enumerate() {
        for (mo, xa) in moment.iter_mut().zip(row(i)) {
            *mo += wi * xa / mf;
        }
    }
    let ols_moment = mat_vec(&xtx_inv, &moment, p);
    let influence = (0..m)
        .map(|i| {
            let ols = if d[i] { 0.0 } else { dy[i] - fitted[i] };
            let treat = (w[i] * dy[i] - w[i] * eta_treat) / mean_w;
            let cont = (w[i] * fitted[i] - w[i] * eta_cont + ols * dot(row(i), &ols_moment)) / mean_w;
            treat - cont
        })
        .collect();
    Ok(CellEstimate { att: eta_treat - eta_cont, influence })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With the intercept alone both estimands are the difference of mean changes, and the
    /// influence function is the centred change over each group's share.
    #[test]
    fn intercept_only_is_difference_of_means() {
        let dy = [1.0, 3.0, 2.0, 0.0, 4.0];
        let d = [true, true, false, false, false];
        let x = [1.0; 5];
        let want = 2.0 - 2.0;
        for estimand in [Estimand::DoublyRobust, Estimand::OutcomeRegression] {
            let e = estimate(estimand, &dy, &d, &x, 1).unwrap();
            assert!((e.att - want).abs() < 1e-12);
            // Treated: (dy - mean_t) / (2/5); comparison: -(dy - mean_c) / (3/5).
            let expect = [
                (1.0 - 2.0) / 0.4,
                (3.0 - 2.0) / 0.4,
                -(2.0 - 2.0) / 0.6,
                -(0.0 - 2.0) / 0.6,
                -(4.0 - 2.0) / 0.6,
            ];
            for (a, b) in e.influence.iter().zip(expect) {
                assert!((a - b).abs() < 1e-12, "{estimand:?}: {a} vs {b}");
            }
        }
    }

    /// The intercept-only shortcut equals the general estimators run with one column of ones.
    #[test]
    fn shortcut_equals_general_path() {
        let dy: Vec<f64> = (0..40).map(|i| ((i * 37) % 11) as f64 * 0.7 - 2.0).collect();
        let d: Vec<bool> = (0..40).map(|i| i % 3 == 0).collect();
        let x = vec![1.0; 40];
        for estimand in [Estimand::DoublyRobust, Estimand::OutcomeRegression] {
            let fast = intercept_only(estimand, &dy, &d).unwrap();
            let slow = match estimand {
                Estimand::DoublyRobust => doubly_robust(&dy, &d, &x, 1),
                Estimand::OutcomeRegression => regression(&dy, &d, &x, 1),
            }
            .unwrap();
            assert!((fast.att - slow.att).abs() < 1e-12);
            for (a, b) in fast.influence.iter().zip(&slow.influence) {
                assert!((a - b).abs() < 1e-12, "{estimand:?}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn inverse_of_known_matrix() {
        let a = [4.0, 2.0, 2.0, 3.0];
        let inv = spd_inverse(&a, 2).unwrap();
        let want = [3.0 / 8.0, -2.0 / 8.0, -2.0 / 8.0, 4.0 / 8.0];
        for (x, y) in inv.iter().zip(want) {
            assert!((x - y).abs() < 1e-14);
        }
        assert!(spd_inverse(&[1.0, 1.0, 1.0, 1.0], 2).is_none());
    }
}
