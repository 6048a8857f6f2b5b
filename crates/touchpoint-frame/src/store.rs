//! Journeys kept on disk in the project's own format ([`Journeys::write_to`]): a part of a log cut once
//! and read back when a model needs it (the buckets of `from_events` out of core).
use std::io::{BufReader, BufWriter, Write};
use std::path::Path;

use touchpoint_core::Journeys;

use crate::error::{Error, Result};

/// Writes `journeys` (with their timelines; views stay views) to the file `path`.
pub fn save_journeys(journeys: &Journeys, path: &Path) -> Result<()> {
    let write = |e: std::io::Error| Error::Write { path: path.display().to_string(), message: e.to_string() };
    let mut w = BufWriter::new(std::fs::File::create(path).map_err(write)?);
    journeys.write_to(&mut w).map_err(write)?;
    w.flush().map_err(write)
}

/// Reads journeys written by [`save_journeys`]; with `period`, their timelines are observed over it
/// ([`Journeys::observe_over`]). A missing, unreadable or foreign file is [`Error::Read`] naming it.
pub fn load_journeys(path: &Path, period: Option<(i64, i64)>) -> Result<Journeys> {
    let read = |e: std::io::Error| Error::Read { path: path.display().to_string(), message: e.to_string() };
    let mut r = BufReader::new(std::fs::File::open(path).map_err(read)?);
    let mut j = Journeys::read_from(&mut r).map_err(read)?;
    if let Some(p) = period {
        j.observe_over(p)?;
    }
    Ok(j)
}
