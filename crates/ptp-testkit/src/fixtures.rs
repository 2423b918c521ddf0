//! One copy of each test fixture (as controller-rs's `Document::test()`): PtpConfigs built from
//! a name, profiles and recommend rules, the Go operator's ordinary-clock sample, and the fake
//! linuxptp programs (shell scripts) the agent's tests run instead of ptp4l and phc2sys.

use std::path::Path;

use ptp_api::{MatchRule, PtpConfig, PtpConfigSpec, PtpProfile, PtpRecommend};

/// A PtpConfig under construction: [`ptp_config`], then profiles and rules, then [`build`].
///
/// [`build`]: ConfigBuilder::build
#[derive(Clone, Debug)]
pub struct ConfigBuilder(PtpConfig);

/// A PtpConfig named `name` without profiles or rules.
pub fn ptp_config(name: &str) -> ConfigBuilder {
    ConfigBuilder(PtpConfig::new(name, PtpConfigSpec { profile: vec![], recommend: vec![] }))
}

impl ConfigBuilder {
    pub fn namespace(mut self, namespace: &str) -> Self {
        self.0.metadata.namespace = Some(namespace.into());
        self
    }

    pub fn profile(mut self, profile: PtpProfile) -> Self {
        self.0.spec.profile.push(profile);
        self
    }

    /// A rule recommending `profile` at `priority` to the Nodes with `node_label` (`key` or
    /// `key=value`).
    pub fn recommend(self, profile: &str, priority: i64, node_label: &str) -> Self {
        self.rule(profile, priority, Some(vec![MatchRule::node_label(node_label)]))
    }

    /// A rule recommending `profile` at `priority` to every Node.
    pub fn recommend_everywhere(self, profile: &str, priority: i64) -> Self {
        self.rule(profile, priority, None)
    }

    fn rule(mut self, profile: &str, priority: i64, r#match: Option<Vec<MatchRule>>) -> Self {
        self.0.spec.recommend.push(PtpRecommend { profile: profile.into(), priority, r#match });
        self
    }

    pub fn build(self) -> PtpConfig {
        self.0
    }
}

/// The Go operator's ordinary-clock sample profile: `enp134s0f0`, ptp4l `-s -2`, phc2sys `-a -r`.
pub fn ordinary_clock_profile(name: &str) -> PtpProfile {
    PtpProfile {
        interface: Some("enp134s0f0".into()),
        ptp4l_opts: Some("-s -2".into()),
        phc2sys_opts: Some("-a -r".into()),
        ..PtpProfile::named(name)
    }
}

/// The ordinary-clock sample: [`ordinary_clock_profile`] `profile`, recommended at priority 4 to
/// the Nodes with `node_label`.
pub fn ordinary_clock(name: &str, profile: &str, node_label: &str) -> PtpConfig {
    ptp_config(name).profile(ordinary_clock_profile(profile)).recommend(profile, 4, node_label).build()
}

/// The start of every fake linuxptp program: it answers `-v` as Debian's linuxptp does (the agent
/// asks ptp4l at its start), exits at once on SIGTERM and sets `$cfg` to the file name of its `-f`
/// argument (`ptp4l.0.config`), the tag of ptp4l's messages.
pub const FAKE_PRELUDE: &str = r#"#!/bin/sh
[ "$1" = -v ] && { echo 3.1.1; exit 0; }
trap 'exit 0' TERM
cfg=""; prev=""
for a in "$@"; do [ "$prev" = "-f" ] && cfg=$(basename "$a"); prev="$a"; done
"#;

/// Writes the executable `bin_dir/program`: [`FAKE_PRELUDE`], then `body`.
pub fn install_fake(bin_dir: &Path, program: &str, body: &str) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(bin_dir)?;
    let path = bin_dir.join(program);
    std::fs::write(&path, format!("{FAKE_PRELUDE}{body}"))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
}

/// A fake ptp4l body that prints a locked sample (offset 12 ns) every `period` seconds.
pub fn locked_ptp4l_body(period: &str) -> String {
    format!("while :; do echo \"ptp4l[2.0]: [$cfg] master offset 12 s2 freq 1 path delay 10\"; sleep {period}; done\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builder_and_the_sample() {
        let c = ordinary_clock("oc", "profile1", "node-role.kubernetes.io/worker");
        assert_eq!(c.metadata.name.as_deref(), Some("oc"));
        assert_eq!(c.spec.profile[0].phc2sys_opts.as_deref(), Some("-a -r"));
        assert_eq!((c.spec.recommend[0].profile.as_str(), c.spec.recommend[0].priority), ("profile1", 4));
        let c = ptp_config("x").namespace("ns").profile(PtpProfile::named("a")).recommend_everywhere("a", 1).build();
        assert_eq!((c.metadata.namespace.as_deref(), c.spec.recommend[0].r#match.as_ref()), (Some("ns"), None));
    }
}
