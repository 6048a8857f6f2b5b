//! Interning of categorical values: every name is stored once and referred to by a `u32` id.
use serde::{Deserialize, Serialize};

use touchpoint_util::hashing::FastMap;

/// The name given to a touch that has no value for a dimension.
pub const NONE_PLAYER: &str = "(none)";

/// The player that holds the conversions that would have happened anyway (incremental models).
pub const BASELINE_PLAYER: &str = "(baseline)";

/// Names reserved for Markov states and the baseline row; no player may carry them.
pub const RESERVED_NAMES: [&str; 4] = ["(start)", "(conversion)", "(null)", BASELINE_PLAYER];

/// An interner: names in first-seen order, ids are positions.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(from = "Vec<String>", into = "Vec<String>")]
pub struct Vocab {
    names: Vec<String>,
    ids: FastMap<String, u32>,
}

impl PartialEq for Vocab {
    fn eq(&self, other: &Self) -> bool {
        self.names == other.names
    }
}

impl Vocab {
    /// An empty vocabulary.
    pub fn new() -> Self {
        Self::default()
    }

    /// The id of `name`, interning it when new.
    pub fn intern(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = u32::try_from(self.names.len()).expect("more than u32::MAX distinct names");
        self.names.push(name.to_owned());
        self.ids.insert(name.to_owned(), id);
        id
    }

    /// The id of `name`, if known.
    pub fn get(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }

    /// The name of `id`.
    ///
    /// # Panics
    /// When `id` was not handed out by this vocabulary.
    pub fn name(&self, id: u32) -> &str {
        &self.names[id as usize]
    }

    /// Whether every name is distinct (a vocabulary read from elsewhere could repeat one).
    pub(crate) fn has_distinct_names(&self) -> bool {
        self.ids.len() == self.names.len()
    }

    /// All names, by id.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Number of names.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether no name was interned.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

impl From<Vec<String>> for Vocab {
    fn from(names: Vec<String>) -> Self {
        let ids = names.iter().enumerate().map(|(i, n)| (n.clone(), i as u32)).collect();
        Self { names, ids }
    }
}

impl From<Vocab> for Vec<String> {
    fn from(v: Vocab) -> Self {
        v.names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interns_once_in_first_seen_order() {
        let mut v = Vocab::new();
        assert_eq!(v.intern("b"), 0);
        assert_eq!(v.intern("a"), 1);
        assert_eq!(v.intern("b"), 0);
        assert_eq!(v.names(), ["b", "a"]);
        assert_eq!(v.get("a"), Some(1));
        assert_eq!(v.get("c"), None);
    }

    #[test]
    fn serde_round_trip_keeps_ids() {
        let mut v = Vocab::new();
        v.intern("x");
        v.intern("y");
        let back: Vocab = serde_json::from_str(&serde_json::to_string(&v).unwrap()).unwrap();
        assert_eq!(back, v);
        assert_eq!(back.get("y"), Some(1));
    }
}
