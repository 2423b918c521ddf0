//! Rewriting profile references (`ptpSettings.controllingProfile`, `ptpSettings.haProfiles`) to
//! the qualified names used in the ConfigMap.

use std::collections::{BTreeMap, BTreeSet};

/// `<PtpConfig name>_<profile name>`, the name a profile has in the ConfigMap.
pub fn qualified_name(config: &str, profile: &str) -> String {
    format!("{config}_{profile}")
}

/// Profile names per PtpConfig name, for reference resolution across the cluster.
#[derive(Debug, Default)]
pub struct ProfileIndex {
    by_config: BTreeMap<String, BTreeSet<String>>,
}

impl ProfileIndex {
    pub fn insert(&mut self, config: &str, profile: &str) {
        self.by_config.entry(config.to_string()).or_default().insert(profile.to_string());
    }

    pub fn remove(&mut self, config: &str, profile: &str) {
        if let Some(profiles) = self.by_config.get_mut(config) {
            profiles.remove(profile);
            if profiles.is_empty() {
                self.by_config.remove(config);
            }
        }
    }

    fn has(&self, config: &str, profile: &str) -> bool {
        self.by_config.get(config).is_some_and(|p| p.contains(profile))
    }

    /// Resolves one reference made from PtpConfig `from`:
    /// 1. already `<cr>_<p>` where PtpConfig `cr` has profile `p` → unchanged;
    /// 2. a profile of that name in `from` → qualified with `from`;
    /// 3. the first PtpConfig in name order with such a profile → qualified with it;
    /// 4. otherwise `None` (the caller keeps the value and reports it).
    pub fn resolve(&self, from: &str, reference: &str) -> Option<String> {
        // Kubernetes object names cannot contain `_`, so the first `_` separates the two parts.
        if let Some((config, profile)) = reference.split_once('_')
            && self.has(config, profile)
        {
            return Some(reference.to_string());
        }
        if self.has(from, reference) {
            return Some(qualified_name(from, reference));
        }
        self.by_config
            .iter()
            .find(|(_, profiles)| profiles.contains(reference))
            .map(|(config, _)| qualified_name(config, reference))
    }
}

/// The rewritten value of a reference setting and the references that did not resolve.
pub fn rewrite_setting(index: &ProfileIndex, from: &str, key: &str, value: &str) -> (String, Vec<String>) {
    let mut unresolved = Vec::new();
    let rewritten = match key {
        "haProfiles" => value
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|item| {
                index.resolve(from, item).unwrap_or_else(|| {
                    unresolved.push(item.to_string());
                    item.to_string()
                })
            })
            .collect::<Vec<_>>()
            .join(","),
        _ => index.resolve(from, value.trim()).unwrap_or_else(|| {
            unresolved.push(value.to_string());
            value.to_string()
        }),
    };
    (rewritten, unresolved)
}

/// `ptpSettings` keys whose values name profiles.
pub const REFERENCE_KEYS: &[&str] = &["controllingProfile", "haProfiles"];

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> ProfileIndex {
        let mut i = ProfileIndex::default();
        for (c, p) in [
            ("tbc-config", "01-tbc-tr"),
            ("tbc-config", "01-tbc-tt"),
            ("a-ha", "nic1"),
            ("z-ha", "nic1"),
            ("z-ha", "nic2"),
        ] {
            i.insert(c, p);
        }
        i
    }

    #[test]
    fn resolution_order() {
        let i = index();
        assert_eq!(i.resolve("tbc-config", "tbc-config_01-tbc-tr").as_deref(), Some("tbc-config_01-tbc-tr"));
        assert_eq!(i.resolve("tbc-config", "01-tbc-tr").as_deref(), Some("tbc-config_01-tbc-tr"));
        // Same PtpConfig first, then the first PtpConfig in name order.
        assert_eq!(i.resolve("z-ha", "nic1").as_deref(), Some("z-ha_nic1"));
        assert_eq!(i.resolve("other", "nic1").as_deref(), Some("a-ha_nic1"));
        assert_eq!(i.resolve("other", "nic2").as_deref(), Some("z-ha_nic2"));
        assert_eq!(i.resolve("other", "missing"), None);
        // A qualified-looking value whose PtpConfig lacks the profile is treated as a plain name.
        assert_eq!(i.resolve("other", "tbc-config_nope"), None);
    }

    #[test]
    fn ha_profiles_are_trimmed_rewritten_and_joined() {
        let (value, unresolved) = rewrite_setting(&index(), "z-ha", "haProfiles", " nic1 , nic2,ghost ");
        assert_eq!(value, "z-ha_nic1,z-ha_nic2,ghost");
        assert_eq!(unresolved, vec!["ghost"]);
        let (value, unresolved) = rewrite_setting(&index(), "tbc-config", "controllingProfile", "01-tbc-tr");
        assert_eq!(value, "tbc-config_01-tbc-tr");
        assert!(unresolved.is_empty());
    }
}
