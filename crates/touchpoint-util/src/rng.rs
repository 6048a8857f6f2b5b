//! A small seeded generator (SplitMix64, Steele, Lea & Flood 2014) for fold splits and permutation
//! sampling: the same seed gives the same stream on every platform and version.

/// SplitMix64: 64-bit state, one multiply-xorshift chain per draw.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform draw in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A uniform integer in `0..n` (Lemire's multiply-shift; bias below 2^-32 for n < 2^32).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }

    /// A Poisson count of mean `mean` (finite, >= 0; fractional means are fine), in O(1) expected
    /// time whatever the mean: sequential-search inversion below 10 (Devroye 1986, "Non-Uniform Random
    /// Variate Generation", section X.3), the transformed rejection method PTRS above (Hörmann 1993,
    /// "The transformed rejection method for generating Poisson random variables", Insurance:
    /// Mathematics and Economics 12). A mean of 0 gives 0 without drawing.
    pub fn poisson(&mut self, mean: f64) -> u64 {
        if mean <= 0.0 || mean.is_nan() {
            return 0;
        }
        if mean < 10.0 {
            let u = self.next_f64();
            let mut p = (-mean).exp();
            let mut cdf = p;
            let mut k = 0u64;
            // The guard stops where the remaining tail is below double precision.
            while u >= cdf && p > 0.0 {
                k += 1;
                p *= mean / k as f64;
                cdf += p;
            }
            return k;
        }
        if !mean.is_finite() {
            return u64::MAX;
        }
        let smu = mean.sqrt();
        let b = 0.931 + 2.53 * smu;
        let a = -0.059 + 0.02483 * b;
        let inv_alpha = 1.1239 + 1.1328 / (b - 3.4);
        let v_r = 0.9277 - 3.6224 / (b - 2.0);
        let log_mean = mean.ln();
        loop {
            let u = self.next_f64() - 0.5;
            let v = self.next_f64();
            let us = 0.5 - u.abs();
            let k = ((2.0 * a / us + b) * u + mean + 0.43).floor();
            if us >= 0.07 && v <= v_r {
                return k as u64;
            }
            if k < 0.0 || (us < 0.013 && v > us) {
                continue;
            }
            let lhs = v.ln() + inv_alpha.ln() - (a / (us * us) + b).ln();
            if lhs <= -mean + k * log_mean - ln_gamma(k + 1.0) {
                return k as u64;
            }
        }
    }

    /// Shuffles `items` in place (Fisher-Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

/// ln Γ(x) for x > 0: Stirling's series with four correction terms at x >= 15 (error below 1e-13
/// there), shifted up by the recurrence Γ(x + 1) = x Γ(x) below.
pub fn ln_gamma(x: f64) -> f64 {
    let mut shift = 0.0;
    let mut x = x;
    while x < 15.0 {
        shift += x.ln();
        x += 1.0;
    }
    let r = 1.0 / x;
    let r2 = r * r;
    let series = r * (1.0 / 12.0 - r2 * (1.0 / 360.0 - r2 * (1.0 / 1260.0 - r2 / 1680.0)));
    (x - 0.5) * x.ln() - x + 0.5 * (2.0 * std::f64::consts::PI).ln() + series - shift
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_gamma_matches_factorials() {
        let mut f = 1.0f64;
        for k in 1..30u32 {
            f *= f64::from(k);
            let got = ln_gamma(f64::from(k) + 1.0);
            assert!((got - f.ln()).abs() < 1e-12 * f.ln().max(1.0), "{k}: {got} vs {}", f.ln());
        }
        // Γ(1/2) = sqrt(pi).
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-12);
    }

    #[test]
    fn poisson_has_its_moments_and_law() {
        for (seed, mean) in [(1u64, 0.3), (2, 1.0), (3, 4.5), (4, 10.0), (5, 37.5), (6, 900.0), (7, 2.5e6)] {
            let mut r = SplitMix64::new(seed);
            let n = 100_000;
            let xs: Vec<f64> = (0..n).map(|_| r.poisson(mean) as f64).collect();
            let m = xs.iter().sum::<f64>() / n as f64;
            let v = xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1) as f64;
            // Mean within 5 standard errors; variance within 5% (its relative SE is about 0.5%).
            assert!((m - mean).abs() < 5.0 * (mean / n as f64).sqrt(), "mean {mean}: got {m}");
            assert!((v / mean - 1.0).abs() < 0.05, "mean {mean}: variance {v}");
        }
        // The whole law in the rejection branch: frequencies of 0..60 against the pmf at mean 20.
        let mean = 20.0;
        let mut r = SplitMix64::new(11);
        let n = 400_000usize;
        let mut counts = vec![0usize; 61];
        for _ in 0..n {
            let k = r.poisson(mean) as usize;
            counts[k.min(60)] += 1;
        }
        let mut chi2 = 0.0;
        let mut bins = 0;
        for (k, &c) in counts.iter().enumerate().take(60) {
            let pmf = (-mean + k as f64 * mean.ln() - ln_gamma(k as f64 + 1.0)).exp();
            let e = pmf * n as f64;
            if e >= 20.0 {
                chi2 += (c as f64 - e).powi(2) / e;
                bins += 1;
            }
        }
        // About 30 bins: the 99.99% point of chi-square(30) is about 67.
        assert!(bins > 20 && chi2 < 67.0, "chi2 {chi2} over {bins} bins");
        assert_eq!(SplitMix64::new(3).poisson(0.0), 0);
    }

    #[test]
    fn deterministic_and_roughly_uniform() {
        let mut a = SplitMix64::new(7);
        let mut b = SplitMix64::new(7);
        let xs: Vec<u64> = (0..5).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..5).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        let mut r = SplitMix64::new(1);
        let mut counts = [0usize; 4];
        for _ in 0..40_000 {
            counts[r.below(4)] += 1;
        }
        for c in counts {
            assert!((9_500..10_500).contains(&c), "{counts:?}");
        }
        let mean: f64 = (0..10_000).map(|_| r.next_f64()).sum::<f64>() / 10_000.0;
        assert!((mean - 0.5).abs() < 0.02);
    }
}
