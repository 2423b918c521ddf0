//! Stable run ids: the number in `ptp4l.<id>.config`, `ptp4l.<id>.socket`, ...

use std::collections::{BTreeMap, BTreeSet};

/// Hands out run ids to profile names.
///
/// A profile keeps its id for as long as it stays applied, so an unchanged (or edited) profile
/// keeps its file and socket names across updates. A new profile gets the lowest id no current
/// profile holds (0, 1, 2, ...), so the ids of removed profiles are reused.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunIds {
    ids: BTreeMap<String, u32>,
}

impl RunIds {
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes `names` the applied profiles: names no longer listed lose their id, names already
    /// known keep theirs, and new names get the lowest free ids in the order given. Returns the
    /// id of every name, in the order given (a repeated name gets its one id again).
    pub fn update<'a>(&mut self, names: impl IntoIterator<Item = &'a str>) -> Vec<(String, u32)> {
        let names: Vec<&str> = names.into_iter().collect();
        let wanted: BTreeSet<&str> = names.iter().copied().collect();
        self.ids.retain(|name, _| wanted.contains(name.as_str()));
        let mut used: BTreeSet<u32> = self.ids.values().copied().collect();
        let mut next_candidate = 0u32;
        names
            .into_iter()
            .map(|name| {
                let id = match self.ids.get(name) {
                    Some(&id) => id,
                    None => {
                        while used.contains(&next_candidate) {
                            next_candidate += 1;
                        }
                        let id = next_candidate;
                        used.insert(id);
                        self.ids.insert(name.to_string(), id);
                        id
                    }
                };
                (name.to_string(), id)
            })
            .collect()
    }

    /// The id of a profile currently applied.
    pub fn get(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }

    /// Every applied profile with its id, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u32)> {
        self.ids.iter().map(|(name, id)| (name.as_str(), *id))
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// The file of the run directory that records the run id of each applied profile, as a JSON
/// object `{"<profile>": <run id>, ...}` (for `ptp-agent pmc --profile NAME`, and for people
/// looking at the run directory). Written by the agent after every update.
pub const RUN_IDS_FILE: &str = "run-ids.json";

/// The text of [`RUN_IDS_FILE`] for these profiles and ids (sorted by name).
pub fn index_text<'a>(ids: impl IntoIterator<Item = (&'a str, u32)>) -> String {
    let index: BTreeMap<&str, u32> = ids.into_iter().collect();
    serde_json::to_string(&index).unwrap_or_else(|_| "{}".into())
}

/// Reads the text of [`RUN_IDS_FILE`]; an error says what is wrong with it.
pub fn parse_index(text: &str) -> Result<BTreeMap<String, u32>, String> {
    serde_json::from_str(text)
        .map_err(|e| format!("{RUN_IDS_FILE}: not a JSON object of profile names to run ids: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_index_file_round_trips_and_names_what_is_wrong() {
        let text = index_text([("b", 1), ("a", 0)]);
        assert_eq!(text, r#"{"a":0,"b":1}"#);
        assert_eq!(parse_index(&text).unwrap(), BTreeMap::from([("a".to_string(), 0), ("b".to_string(), 1)]));
        assert_eq!(index_text([]), "{}");
        let e = parse_index("[1]").unwrap_err();
        assert!(e.starts_with("run-ids.json: not a JSON object"), "{e}");
    }

    fn ids(pairs: &[(&str, u32)]) -> Vec<(String, u32)> {
        pairs.iter().map(|(n, i)| (n.to_string(), *i)).collect()
    }

    #[test]
    fn first_update_numbers_from_zero_in_order() {
        let mut run_ids = RunIds::new();
        assert!(run_ids.is_empty());
        assert_eq!(run_ids.update(["b", "a", "c"]), ids(&[("b", 0), ("a", 1), ("c", 2)]));
        assert_eq!(run_ids.get("a"), Some(1));
        assert_eq!(run_ids.get("zz"), None);
        assert_eq!(run_ids.len(), 3);
        assert_eq!(run_ids.iter().collect::<Vec<_>>(), vec![("a", 1), ("b", 0), ("c", 2)]);
    }

    #[test]
    fn known_profiles_keep_their_ids_whatever_the_order() {
        let mut run_ids = RunIds::new();
        run_ids.update(["a", "b", "c"]);
        assert_eq!(run_ids.update(["c", "b", "a"]), ids(&[("c", 2), ("b", 1), ("a", 0)]));
    }

    #[test]
    fn removed_ids_are_reused_lowest_first() {
        let mut run_ids = RunIds::new();
        run_ids.update(["a", "b", "c", "d"]);
        assert_eq!(run_ids.update(["b", "d"]), ids(&[("b", 1), ("d", 3)]));
        assert_eq!(run_ids.get("a"), None);
        assert_eq!(run_ids.update(["x", "b", "y", "d", "z"]), ids(&[("x", 0), ("b", 1), ("y", 2), ("d", 3), ("z", 4)]));
    }

    #[test]
    fn a_removed_profile_that_returns_gets_a_free_id_not_necessarily_its_old_one() {
        let mut run_ids = RunIds::new();
        run_ids.update(["a", "b"]);
        run_ids.update(["b"]);
        assert_eq!(run_ids.update(["new", "b"]), ids(&[("new", 0), ("b", 1)]));
        assert_eq!(run_ids.update(["new", "b", "a"]), ids(&[("new", 0), ("b", 1), ("a", 2)]));
    }

    #[test]
    fn repeated_names_share_one_id_and_empty_update_clears() {
        let mut run_ids = RunIds::new();
        assert_eq!(run_ids.update(["a", "a", "b"]), ids(&[("a", 0), ("a", 0), ("b", 1)]));
        assert_eq!(run_ids.update([]), vec![]);
        assert!(run_ids.is_empty());
        assert_eq!(run_ids.update(["b"]), ids(&[("b", 0)]));
    }

    proptest! {
        #[test]
        fn ids_are_unique_stable_and_compact(
            rounds in proptest::collection::vec(proptest::collection::btree_set("[a-f]", 0..6), 1..8)
        ) {
            let mut run_ids = RunIds::new();
            let mut previous: BTreeMap<String, u32> = BTreeMap::new();
            for names in rounds {
                let assigned: BTreeMap<String, u32> =
                    run_ids.update(names.iter().map(String::as_str)).into_iter().collect();
                let distinct: BTreeSet<u32> = assigned.values().copied().collect();
                prop_assert_eq!(distinct.len(), assigned.len());
                for (name, id) in &assigned {
                    match previous.get(name) {
                        Some(old) => prop_assert_eq!(old, id),
                        // A new name gets the lowest free id: every lower id is held by another.
                        None => prop_assert!((0..*id).all(|lower| distinct.contains(&lower))),
                    }
                }
                previous = assigned;
            }
        }
    }
}
