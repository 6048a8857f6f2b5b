//! Internal helpers shared by Touchpoint's crates, kept out of their public APIs: a fast deterministic
//! hasher for the interning and counting maps of hot loops, and SplitMix64, the seeded generator
//! behind every sampled result (so a seed gives the same bits on every platform and thread count), and
//! a reader of small files a user names that refuses devices, FIFOs and files past a size.
pub mod files;
pub mod hashing;
pub mod rng;
