//! Generated workloads for Touchpoint's benchmarks: journeys already in a [`Journeys`] store.
use touchpoint_core::Weights;
use touchpoint_core::{Dimension, Journeys, JourneysBuilder};
use touchpoint_util::rng::SplitMix64;

/// `n` journeys over `channels` channels with 1..=`max_len` touches (mean about `(1 + max_len) / 2`),
/// about 3% converting (value 1-100 each), the rest null journeys; with times when `timed`.
pub fn journeys(n: usize, channels: usize, max_len: usize, timed: bool, seed: u64) -> Journeys {
    let mut rng = SplitMix64::new(seed);
    let mut b = if timed { JourneysBuilder::with_times(&[]) } else { JourneysBuilder::new(&[]) };
    b.reserve(n, n * (1 + max_len) / 2);
    let k = b.kpi_id("conversions");
    let ids: Vec<u32> = (0..channels)
        .map(|c| b.player_id(Dimension::Channel, &format!("channel_{c:02}"), 0).expect("plain names"))
        .collect();
    for row in 0..n {
        let len = 1 + rng.below(max_len);
        let mut t = 0i64;
        for _ in 0..len {
            t += (rng.below(86_400) as i64 + 1) * 1_000_000;
            b.push_channel(ids[rng.below(channels)], timed.then_some(t));
        }
        let converts = rng.next_f64() < 0.03;
        let (c, v, nl) = if converts { (1.0, 1.0 + 99.0 * rng.next_f64(), 0.0) } else { (0.0, 0.0, 1.0) };
        b.finish_journey(row, k, Weights { conversions: c, value: v, nulls: nl }, timed.then_some(t))
            .expect("valid weights");
    }
    b.build()
}
