//! Decoding the watched PtpConfigs one at a time. The watch delivers [`RawPtpConfig`]s, which
//! always deserialize, so one object this operator's types cannot read (a newer CRD's enum value,
//! a wrong type past a relaxed schema) no longer stops the watch and with it every other
//! PtpConfig's updates. Each object is decoded here, once per resourceVersion.
//!
//! An undecodable object keeps its last decoded version (same uid, seen by this process) for
//! rendering, so nodes that were in sync stay in sync; without one it is left out. Either way it
//! is reported ([`Undecodable`]): the plan flags it with `Valid=False`, `DecodeError`.

use std::collections::HashMap;
use std::sync::Arc;

use ptp_api::{PtpConfig, RawPtpConfig};

use super::plan::Undecodable;
use crate::render::ConfigKey;

/// What one decode pass found.
#[derive(Debug, Default)]
pub struct DecodePass {
    /// The PtpConfigs that decoded (shared with the cache: a pass copies no PtpConfig).
    pub configs: Vec<Arc<PtpConfig>>,
    /// The ones that did not, with their last decodable version if one was seen.
    pub undecodable: Vec<Undecodable>,
    /// Objects whose current version failed to decode and whose previous one (if any) did not:
    /// worth a log line.
    pub newly_undecodable: Vec<(ConfigKey, String)>,
    /// Objects that decode again after failing.
    pub recovered: Vec<ConfigKey>,
}

/// Decoded objects by key, kept between reconciles.
#[derive(Debug, Default)]
pub struct DecodeCache {
    entries: HashMap<ConfigKey, Entry>,
}

#[derive(Debug)]
struct Entry {
    uid: Option<String>,
    resource_version: Option<String>,
    /// The current version, decoded, or the decode error naming the field.
    current: Result<Arc<PtpConfig>, String>,
    /// The latest version of this object (same uid) that decoded.
    last_good: Option<PtpConfig>,
}

impl DecodeCache {
    /// Decodes every object (reusing the result for an unchanged resourceVersion) and forgets
    /// objects that are gone.
    pub fn decode<'a>(&mut self, objects: impl IntoIterator<Item = &'a RawPtpConfig>) -> DecodePass {
        let mut pass = DecodePass::default();
        let mut seen = HashMap::with_capacity(self.entries.len());
        for raw in objects {
            let key = ConfigKey::of_raw(raw);
            let uid = raw.metadata.uid.clone();
            let resource_version = raw.metadata.resource_version.clone();
            let previous = self.entries.remove(&key).filter(|e| e.uid == uid);
            let entry = match previous {
                Some(e) if e.resource_version.is_some() && e.resource_version == resource_version => e,
                previous => {
                    let current = raw.decode().map(|d| Arc::new(d.config)).map_err(|e| e.to_string());
                    let was_bad = previous.as_ref().is_some_and(|e| e.current.is_err());
                    let mut last_good = previous.and_then(|e| e.last_good);
                    match &current {
                        Ok(config) => {
                            if was_bad {
                                pass.recovered.push(key.clone());
                            }
                            // Kept for rendering only: without the status (its match list).
                            last_good = Some(PtpConfig { status: None, ..(**config).clone() });
                        }
                        Err(error) if !was_bad => pass.newly_undecodable.push((key.clone(), error.clone())),
                        Err(_) => {}
                    }
                    Entry { uid, resource_version, current, last_good }
                }
            };
            match &entry.current {
                Ok(config) => pass.configs.push(config.clone()),
                Err(error) => pass.undecodable.push(Undecodable {
                    key: key.clone(),
                    generation: raw.metadata.generation,
                    status: raw.status(),
                    error: error.clone(),
                    last_good: entry.last_good.clone(),
                }),
            }
            seen.insert(key, entry);
        }
        self.entries = seen;
        pass
    }
}

#[cfg(test)]
mod tests {
    use ptp_api::{PtpConfigSpec, PtpProfile};
    use serde_json::json;

    use super::*;

    fn raw(name: &str, uid: &str, rv: u64, policy: &str) -> RawPtpConfig {
        let mut c = PtpConfig::new(name, PtpConfigSpec { profile: vec![PtpProfile::named("p")], recommend: vec![] });
        c.metadata.namespace = Some("ns".into());
        c.metadata.uid = Some(uid.into());
        c.metadata.resource_version = Some(rv.to_string());
        c.metadata.generation = Some(rv as i64);
        let mut raw = RawPtpConfig::from_typed(&c).unwrap();
        raw.spec["profile"][0]["ptpSchedulingPolicy"] = json!(policy);
        raw
    }

    fn names(configs: &[Arc<PtpConfig>]) -> Vec<String> {
        configs.iter().map(|c| c.metadata.name.clone().unwrap()).collect()
    }

    #[test]
    fn an_undecodable_object_keeps_its_last_good_version_and_others_decode() {
        let mut cache = DecodeCache::default();
        let pass = cache.decode(&[raw("a", "u1", 1, "SCHED_FIFO"), raw("b", "u2", 2, "SCHED_OTHER")]);
        assert_eq!(names(&pass.configs), ["a", "b"]);
        assert!(pass.undecodable.is_empty() && pass.newly_undecodable.is_empty());

        let pass = cache.decode(&[raw("a", "u1", 3, "SCHED_RR"), raw("b", "u2", 2, "SCHED_OTHER")]);
        assert_eq!(names(&pass.configs), ["b"]);
        let [u] = pass.undecodable.as_slice() else { panic!("{:?}", pass.undecodable) };
        assert_eq!(u.key.name, "a");
        assert_eq!(u.generation, Some(3));
        assert!(u.error.starts_with("spec.profile[0].ptpSchedulingPolicy: unknown variant `SCHED_RR`"), "{}", u.error);
        let last_good = u.last_good.as_ref().expect("last good kept");
        assert_eq!(last_good.metadata.generation, Some(1));
        assert_eq!(pass.newly_undecodable.len(), 1);

        // Same version again: no new log line; still undecodable with the same last good.
        let pass = cache.decode(&[raw("a", "u1", 3, "SCHED_RR"), raw("b", "u2", 2, "SCHED_OTHER")]);
        assert!(pass.newly_undecodable.is_empty());
        assert_eq!(pass.undecodable[0].last_good.as_ref().unwrap().metadata.generation, Some(1));
        // Another bad version: still no new log line.
        let pass = cache.decode(&[raw("a", "u1", 4, "SCHED_DEADLINE")]);
        assert!(pass.newly_undecodable.is_empty());
        assert!(pass.undecodable[0].error.contains("SCHED_DEADLINE"));

        let pass = cache.decode(&[raw("a", "u1", 5, "SCHED_OTHER")]);
        assert_eq!(names(&pass.configs), ["a"]);
        assert_eq!(pass.recovered, [ConfigKey { name: "a".into(), namespace: "ns".into() }]);
    }

    #[test]
    fn without_a_decoded_version_nothing_is_kept_and_a_new_uid_starts_over() {
        let mut cache = DecodeCache::default();
        let pass = cache.decode(&[raw("a", "u1", 1, "SCHED_RR")]);
        assert!(pass.configs.is_empty());
        assert_eq!(pass.undecodable[0].last_good, None);

        cache.decode(&[raw("a", "u1", 2, "SCHED_FIFO")]);
        // Deleted and created again under the same name: the old object's spec is not kept.
        let pass = cache.decode(&[raw("a", "u2", 3, "SCHED_RR")]);
        assert_eq!(pass.undecodable[0].last_good, None);
        assert_eq!(pass.newly_undecodable.len(), 1);
        // Gone: forgotten.
        cache.decode(&[]);
        assert!(cache.entries.is_empty());
    }
}
