//! A fast, deterministic hasher for the interning and counting maps of hot loops (names, state
//! windows, transition keys): FNV-1a over bytes (Fowler, Noll & Vo) with a final avalanche
//! (SplitMix64's finaliser). Not DoS-resistant, which local analytics do not need; std's SipHash
//! costs several times more on short keys.
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// FNV-1a with a 64-bit avalanche on `finish`.
#[derive(Clone, Copy, Debug)]
pub struct FastHasher(u64);

impl Default for FastHasher {
    fn default() -> Self {
        FastHasher(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut h = self.0;
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.0 = h;
    }

    #[inline]
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29);
    }

    #[inline]
    fn write_u128(&mut self, n: u128) {
        self.write_u64(n as u64);
        self.write_u64((n >> 64) as u64);
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// A `HashMap` with [`FastHasher`].
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_work_and_spread_keys() {
        let mut m: FastMap<Vec<u32>, u32> = FastMap::default();
        for i in 0..1000u32 {
            m.insert(vec![i % 7, i / 7], i);
        }
        assert_eq!(m.len(), 1000);
        assert_eq!(m.get([3u32, 10].as_slice()), Some(&73));
        let mut buckets = [0usize; 16];
        for i in 0..16_000u64 {
            let mut h = FastHasher::default();
            h.write_u64(i);
            buckets[(h.finish() >> 60) as usize] += 1;
        }
        assert!(buckets.iter().all(|&b| (800..1200).contains(&b)), "{buckets:?}");
    }
}
