//! Internal helpers shared by Touchpoint's crates, kept out of their public APIs: a fast deterministic
//! hasher for the interning and counting maps of hot loops, and SplitMix64, the seeded generator
//! behind every sampled result (so a seed gives the same bits on every platform and thread count).
pub mod hashing;
pub mod rng;
