//! Journeys kept on disk in the project's own format ([`Journeys::write_to`]): a part of a log cut once
//! and read back when a model needs it (the buckets of `from_events` out of core).
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use touchpoint_core::Journeys;

use crate::error::{Error, Result};

/// A part of a log kept on disk: its file and the checksum [`save_journeys`] gave, which names the
/// content cut (a file replaced since, even by a valid one, is refused).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeptPart {
    /// The file.
    pub path: PathBuf,
    /// Its content's checksum.
    pub checksum: u64,
}

/// Writes `journeys` (with their timelines; views stay views) to the file `path`; returns the
/// content's checksum.
pub fn save_journeys(journeys: &Journeys, path: &Path) -> Result<u64> {
    let write = |e: std::io::Error| Error::Write { path: path.display().to_string(), message: e.to_string() };
    let mut w = BufWriter::new(std::fs::File::create(path).map_err(write)?);
    let checksum = journeys.write_to(&mut w).map_err(write)?;
    w.flush().map_err(write)?;
    Ok(checksum)
}

/// Reads journeys written by [`save_journeys`]; with `period`, their timelines are observed over it
/// ([`Journeys::observe_over`]); with `checksum`, the content must be the one saved. A missing,
/// unreadable, foreign, damaged or replaced file is [`Error::Read`] naming it.
pub fn load_journeys(path: &Path, period: Option<(i64, i64)>, checksum: Option<u64>) -> Result<Journeys> {
    let read = |message: String| Error::Read { path: path.display().to_string(), message };
    let mut r = BufReader::new(std::fs::File::open(path).map_err(|e| read(e.to_string()))?);
    let (mut j, found) = Journeys::read_from(&mut r).map_err(|e| read(e.to_string()))?;
    if checksum.is_some_and(|c| c != found) {
        return Err(read("the file was replaced after the journeys were cut: cut the journeys again".into()));
    }
    if let Some(p) = period {
        j.observe_over(p)?;
    }
    Ok(j)
}

/// [`load_journeys`] of a kept part, checked against its checksum.
pub fn load_part(part: &KeptPart, period: Option<(i64, i64)>) -> Result<Journeys> {
    load_journeys(&part.path, period, Some(part.checksum))
}
