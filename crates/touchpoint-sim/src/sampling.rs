//! Samplers built on the project's SplitMix64 uniforms, so every draw is a fixed function of the seed:
//! exponential by inversion, Poisson by inversion, normal by inversion (statrs), gamma by Marsaglia-Tsang.
use touchpoint_util::rng::SplitMix64;

/// A uniform draw in the open interval (0, 1): never 0, so logarithms stay finite.
#[inline]
pub(crate) fn open01(rng: &mut SplitMix64) -> f64 {
    ((rng.next_u64() >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
}

/// An exponential waiting time of `rate` events per unit, by inversion: -ln(U) / rate.
#[inline]
pub(crate) fn exponential(rng: &mut SplitMix64, rate: f64) -> f64 {
    -open01(rng).ln() / rate
}

/// Largest mean drawn by one inversion; larger means are sums of independent pieces.
const POISSON_PIECE: f64 = 30.0;
/// Above this mean a Poisson draw uses the normal approximation.
const LARGE_MEAN: f64 = 1e6;

/// A Poisson count of mean `mean` (>= 0) by sequential-search inversion (Devroye 1986,
/// "Non-Uniform Random Variate Generation", section X.3), one uniform per piece of mean <= 30.
///
/// A mean of 0 gives 0 without touching the stream.
pub(crate) fn poisson(rng: &mut SplitMix64, mean: f64) -> u32 {
    // A mean beyond any count a person can have (bounded parameters with an extreme intent draw)
    // is drawn from its normal approximation in one step, so no draw takes unbounded time.
    if mean > LARGE_MEAN {
        if !mean.is_finite() {
            return u32::MAX;
        }
        let x = mean + mean.sqrt() * normal(rng);
        return x.round().clamp(0.0, f64::from(u32::MAX)) as u32;
    }
    let mut left = mean;
    let mut total = 0u32;
    while left > 0.0 {
        let m = left.min(POISSON_PIECE);
        left -= m;
        let u = rng.next_f64();
        let mut p = (-m).exp();
        let mut cdf = p;
        let mut k = 0u32;
        // The guard stops the search where the remaining tail is below double precision.
        while u >= cdf && p > 0.0 {
            k += 1;
            p *= m / k as f64;
            cdf += p;
        }
        total = total.saturating_add(k);
    }
    total
}

/// A standard normal draw by inversion: statrs' normal quantile of one uniform in (0, 1), so every
/// draw uses exactly one uniform of the person's fixed stream.
#[inline]
pub(crate) fn normal(rng: &mut SplitMix64) -> f64 {
    use statrs::distribution::{ContinuousCDF, Normal};
    Normal::standard().inverse_cdf(open01(rng))
}

/// A gamma draw of shape `shape` (> 0) and scale 1 (Marsaglia & Tsang 2000, "A simple method for
/// generating gamma variables", ACM TOMS 26(3)); shape < 1 through X * U^(1/shape) with X ~ Gamma(shape + 1).
pub(crate) fn gamma(rng: &mut SplitMix64, shape: f64) -> f64 {
    if shape < 1.0 {
        let x = gamma(rng, shape + 1.0);
        return x * open01(rng).powf(1.0 / shape);
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let z = normal(rng);
        let v = 1.0 + c * z;
        if v <= 0.0 {
            continue;
        }
        let v = v * v * v;
        let u = open01(rng);
        if u < 1.0 - 0.0331 * z.powi(4) || u.ln() < 0.5 * z * z + d * (1.0 - v + v.ln()) {
            return d * v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moments(xs: &[f64]) -> (f64, f64) {
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
        (mean, var)
    }

    #[test]
    fn samplers_have_their_moments() {
        let mut rng = SplitMix64::new(11);
        let n = 200_000;
        let e: Vec<f64> = (0..n).map(|_| exponential(&mut rng, 2.0)).collect();
        let (m, v) = moments(&e);
        assert!((m - 0.5).abs() < 0.01 && (v - 0.25).abs() < 0.01, "{m} {v}");
        for mean in [0.3, 4.0, 75.0] {
            let p: Vec<f64> = (0..n).map(|_| poisson(&mut rng, mean) as f64).collect();
            let (m, v) = moments(&p);
            assert!((m / mean - 1.0).abs() < 0.02 && (v / mean - 1.0).abs() < 0.03, "{mean}: {m} {v}");
        }
        let z: Vec<f64> = (0..n).map(|_| normal(&mut rng)).collect();
        let (m, v) = moments(&z);
        assert!(m.abs() < 0.01 && (v - 1.0).abs() < 0.01, "{m} {v}");
        for shape in [0.4, 1.0, 6.0] {
            let g: Vec<f64> = (0..n).map(|_| gamma(&mut rng, shape)).collect();
            let (m, v) = moments(&g);
            assert!((m / shape - 1.0).abs() < 0.02 && (v / shape - 1.0).abs() < 0.04, "{shape}: {m} {v}");
        }
    }

    #[test]
    fn zero_mean_poisson_leaves_the_stream_alone() {
        let mut a = SplitMix64::new(3);
        let mut b = SplitMix64::new(3);
        assert_eq!(poisson(&mut a, 0.0), 0);
        assert_eq!(a.next_u64(), b.next_u64());
    }
}
