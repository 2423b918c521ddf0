//! The agent's Prometheus metrics, with the Go daemon's names and labels so dashboards and alerts
//! keep working: `openshift_ptp_offset_ns`, `_max_offset_ns`, `_frequency_adjustment_ns`,
//! `_delay_ns` {from, process, node, iface}; `_clock_state` {process, node, iface} (0 FREERUN,
//! 1 LOCKED, 2 HOLDOVER); `_interface_role` {process, node, iface} (0 PASSIVE, 1 SLAVE,
//! 2 MASTER, 3 FAULTY, 4 UNKNOWN, 5 LISTENING); `_process_status` and `_process_restart_count`
//! {process, node, config}; `_ha_profile_status` {process="phc2sys", node, profile} (which
//! `haProfiles` profile a phc2sys follows, 1, the others 0); `_clock_class` {process="ptp4l", node, config} (the grandmaster's
//! class from ptp4l's management data: PARENT_DATA_SET gm.ClockClass, the Go daemon's labels
//! with the sidecar's `config`). Series of a removed profile are removed. The agent's own:
//! `ptp_agent_refused_profiles`, `ptp_agent_discarded_log_bytes_total` {process} (output of
//! lines over the line cap) and `ptp_agent_ignored_log_lines_total` {reason} (lines over the line
//! cap, lines kept out of the metrics by the bounds of [`budget`], lines dropped because the parser
//! fell behind), `ptp_agent_suppressed_log_lines_total` {process} (lines kept out of the log by
//! `logReduce`/`stdoutFilter`, parsed all the same).

pub mod budget;

use std::collections::{HashMap, HashSet};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use ptp_api::ClockState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SampleLabels {
    pub from: String,
    pub process: String,
    pub node: String,
    pub iface: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct IfaceLabels {
    pub process: String,
    pub node: String,
    pub iface: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProcessLabels {
    pub process: String,
    pub node: String,
    pub config: String,
}

/// `openshift_ptp_clock_class`: the Go daemon's `{process, node}` with the cloud-event-proxy
/// sidecar's `config`, which tells the ptp4l instances of several profiles apart.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClockClassLabels {
    pub process: String,
    pub node: String,
    pub config: String,
}

/// `openshift_ptp_ha_profile_status`: the Go daemon's labels (`process` is `phc2sys`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HaLabels {
    pub process: String,
    pub node: String,
    pub profile: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutputLabels {
    pub process: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: String,
}

/// `reason` of a line dropped because the parser fell behind (the line queue was full).
pub const REASON_BACKLOG: &str = "backlog";
/// `reason` of a line longer than the line cap (its head is logged, nothing parsed).
pub const REASON_LINE_TOO_LONG: &str = "line_too_long";

/// The counters of the children's output, shared with the line readers (cheap to clone).
#[derive(Clone, Debug, Default)]
pub struct OutputCounters {
    discarded_bytes: Family<OutputLabels, Counter>,
    ignored_lines: Family<ReasonLabels, Counter>,
    suppressed_lines: Family<OutputLabels, Counter>,
}

impl OutputCounters {
    /// A line of `process` was over the line cap: not parsed, and `bytes` of it thrown away.
    pub fn discarded(&self, process: &str, bytes: u64) {
        self.discarded_bytes.get_or_create(&OutputLabels { process: process.into() }).inc_by(bytes);
        self.ignored(REASON_LINE_TOO_LONG);
    }

    /// A line of `process` was kept out of the log (`logReduce`, `stdoutFilter`); it was parsed.
    pub fn suppressed(&self, process: &str) {
        self.suppressed_lines.get_or_create(&OutputLabels { process: process.into() }).inc();
    }

    /// A line was kept out of the metrics for `reason`.
    pub fn ignored(&self, reason: &str) {
        self.ignored_lines.get_or_create(&ReasonLabels { reason: reason.into() }).inc();
    }
}

/// A sample's values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sample {
    pub offset: i64,
    pub max_offset: i64,
    pub freq: i64,
    pub delay: i64,
}

/// The metric families, and which series belong to which configuration (for removal).
pub struct AgentMetrics {
    node: String,
    offset: Family<SampleLabels, Gauge>,
    max_offset: Family<SampleLabels, Gauge>,
    frequency: Family<SampleLabels, Gauge>,
    delay: Family<SampleLabels, Gauge>,
    clock_state: Family<IfaceLabels, Gauge>,
    role: Family<IfaceLabels, Gauge>,
    process_status: Family<ProcessLabels, Gauge>,
    restarts: Family<ProcessLabels, Gauge>,
    clock_class: Family<ClockClassLabels, Gauge>,
    ha_profile: Family<HaLabels, Gauge>,
    refused: Gauge,
    output: OutputCounters,
    source_valid: Gauge,
    source_errors: Counter,
    owned_samples: HashMap<String, HashSet<SampleLabels>>,
    owned_ifaces: HashMap<String, HashSet<IfaceLabels>>,
    owned_processes: HashMap<String, HashSet<ProcessLabels>>,
    owned_ha: HashMap<String, HashSet<HaLabels>>,
}

/// The metric value of a clock state.
pub fn clock_state_value(state: ClockState) -> i64 {
    match state {
        ClockState::Freerun => 0,
        ClockState::Locked => 1,
        ClockState::Holdover => 2,
    }
}

impl AgentMetrics {
    /// Registers the families under `openshift_ptp_`.
    pub fn register(registry: &mut Registry, node: &str) -> Self {
        let m = AgentMetrics {
            node: node.to_string(),
            offset: Family::default(),
            max_offset: Family::default(),
            frequency: Family::default(),
            delay: Family::default(),
            clock_state: Family::default(),
            role: Family::default(),
            process_status: Family::default(),
            restarts: Family::default(),
            clock_class: Family::default(),
            ha_profile: Family::default(),
            refused: Gauge::default(),
            output: OutputCounters::default(),
            source_valid: Gauge::default(),
            source_errors: Counter::default(),
            owned_samples: HashMap::new(),
            owned_ifaces: HashMap::new(),
            owned_processes: HashMap::new(),
            owned_ha: HashMap::new(),
        };
        let r = registry.sub_registry_with_prefix("openshift_ptp");
        r.register("offset_ns", "Offset from the master in ns", m.offset.clone());
        r.register("max_offset_ns", "Largest offset in the last summary in ns", m.max_offset.clone());
        r.register("frequency_adjustment_ns", "Frequency adjustment in ppb", m.frequency.clone());
        r.register("delay_ns", "Path delay in ns", m.delay.clone());
        r.register("clock_state", "0 = FREERUN, 1 = LOCKED, 2 = HOLDOVER", m.clock_state.clone());
        r.register(
            "interface_role",
            "0 = PASSIVE, 1 = SLAVE, 2 = MASTER, 3 = FAULTY, 4 = UNKNOWN, 5 = LISTENING",
            m.role.clone(),
        );
        r.register("process_status", "0 = DOWN, 1 = UP", m.process_status.clone());
        // A gauge, so that the exported name stays exactly the Go daemon's (no `_total`).
        r.register("process_restart_count", "Restarts of the process", m.restarts.clone());
        r.register(
            "clock_class",
            "6 = Locked, 7 = PRC unlocked in-spec, 52/187 = PRC unlocked out-of-spec, 135 = T-BC holdover in-spec, 165 = T-BC holdover out-of-spec, 248 = Default, 255 = Slave Only Clock",
            m.clock_class.clone(),
        );
        r.register("ha_profile_status", "0 = INACTIVE 1 = ACTIVE", m.ha_profile.clone());
        let agent = registry.sub_registry_with_prefix("ptp_agent");
        agent.register(
            "refused_profiles",
            "Profiles of the last update that were not applied (invalid); what ran keeps running",
            m.refused.clone(),
        );
        agent.register(
            "discarded_log_bytes",
            "Output bytes of lines longer than the line cap, thrown away unread",
            m.output.discarded_bytes.clone(),
        );
        agent.register(
            "ignored_log_lines",
            "Output lines kept out of the metrics: a label value too long, too many series, or a backlog",
            m.output.ignored_lines.clone(),
        );
        agent.register(
            "suppressed_log_lines",
            "Output lines kept out of the agent's log by the profile's logReduce or stdoutFilter (they were parsed)",
            m.output.suppressed_lines.clone(),
        );
        m.source_valid.set(1);
        agent.register(
            "profile_source_valid",
            "0 while the last value of the profile source (file or ConfigMap key) cannot be used at all (unreadable, not JSON, an item without a name); what ran keeps running",
            m.source_valid.clone(),
        );
        agent.register(
            "profile_source_errors",
            "Values of the profile source that could not be used at all",
            m.source_errors.clone(),
        );
        m
    }

    /// The output counters, for the line readers.
    pub fn output(&self) -> OutputCounters {
        self.output.clone()
    }

    /// Records a sample of `config`'s process.
    pub fn sample(&mut self, config: &str, from: &str, process: &str, iface: &str, s: Sample) {
        let labels =
            SampleLabels { from: from.into(), process: process.into(), node: self.node.clone(), iface: iface.into() };
        self.offset.get_or_create(&labels).set(s.offset);
        self.max_offset.get_or_create(&labels).set(s.max_offset);
        self.frequency.get_or_create(&labels).set(s.freq);
        self.delay.get_or_create(&labels).set(s.delay);
        self.owned_samples.entry(config.to_string()).or_default().insert(labels);
    }

    pub fn clock_state(&mut self, config: &str, process: &str, iface: &str, state: ClockState) {
        let labels = self.iface_labels(config, process, iface);
        self.clock_state.get_or_create(&labels).set(clock_state_value(state));
    }

    pub fn role(&mut self, config: &str, process: &str, iface: &str, role: i64) {
        let labels = self.iface_labels(config, process, iface);
        self.role.get_or_create(&labels).set(role);
    }

    pub fn process(&mut self, config: &str, process: &str, up: bool, restarts: u64) {
        let labels = ProcessLabels { process: process.into(), node: self.node.clone(), config: config.into() };
        self.process_status.get_or_create(&labels).set(i64::from(up));
        self.restarts.get_or_create(&labels).set(restarts as i64);
        self.owned_processes.entry(config.to_string()).or_default().insert(labels);
    }

    /// The grandmaster clock class ptp4l of `config` reports (PARENT_DATA_SET gm.ClockClass);
    /// `None` removes the series (ptp4l does not answer).
    pub fn clock_class(&mut self, config: &str, class: Option<u8>) {
        let labels = ClockClassLabels { process: "ptp4l".into(), node: self.node.clone(), config: config.into() };
        match class {
            Some(class) => {
                self.clock_class.get_or_create(&labels).set(i64::from(class));
            }
            None => {
                self.clock_class.remove(&labels);
            }
        }
    }

    /// The HA profiles the phc2sys of `config` follows (`haProfiles`), each active (1) or not.
    pub fn ha_profiles(&mut self, config: &str, statuses: &[(String, bool)]) {
        let owned = self.owned_ha.entry(config.to_string()).or_default();
        for (profile, active) in statuses {
            let labels = HaLabels { process: "phc2sys".into(), node: self.node.clone(), profile: profile.clone() };
            self.ha_profile.get_or_create(&labels).set(i64::from(*active));
            owned.insert(labels);
        }
    }

    /// How many profiles of the last update were refused.
    pub fn refused(&self, count: usize) {
        self.refused.set(count as i64);
    }

    /// The last value of the profile source was applied.
    pub fn source_valid(&self) {
        self.source_valid.set(1);
    }

    /// A value of the profile source could not be used at all.
    pub fn source_invalid(&self) {
        self.source_valid.set(0);
        self.source_errors.inc();
    }

    /// Removes the series of one interface of `config` (a placeholder such as `master` once the
    /// slave port is known).
    pub fn forget_iface(&mut self, config: &str, process: &str, iface: &str) {
        if let Some(owned) = self.owned_samples.get_mut(config) {
            owned.retain(|l| {
                let gone = l.process == process && l.iface == iface;
                if gone {
                    self.offset.remove(l);
                    self.max_offset.remove(l);
                    self.frequency.remove(l);
                    self.delay.remove(l);
                }
                !gone
            });
        }
        if let Some(owned) = self.owned_ifaces.get_mut(config) {
            owned.retain(|l| {
                let gone = l.process == process && l.iface == iface;
                if gone {
                    self.clock_state.remove(l);
                    self.role.remove(l);
                }
                !gone
            });
        }
    }

    /// Removes every series of `config` (its profile went away or restarted).
    pub fn forget(&mut self, config: &str) {
        self.clock_class(config, None);
        for labels in self.owned_ha.remove(config).unwrap_or_default() {
            self.ha_profile.remove(&labels);
        }
        for labels in self.owned_samples.remove(config).unwrap_or_default() {
            self.offset.remove(&labels);
            self.max_offset.remove(&labels);
            self.frequency.remove(&labels);
            self.delay.remove(&labels);
        }
        for labels in self.owned_ifaces.remove(config).unwrap_or_default() {
            self.clock_state.remove(&labels);
            self.role.remove(&labels);
        }
        for labels in self.owned_processes.remove(config).unwrap_or_default() {
            self.process_status.remove(&labels);
            self.restarts.remove(&labels);
        }
    }

    fn iface_labels(&mut self, config: &str, process: &str, iface: &str) -> IfaceLabels {
        let labels = IfaceLabels { process: process.into(), node: self.node.clone(), iface: iface.into() };
        self.owned_ifaces.entry(config.to_string()).or_default().insert(labels.clone());
        labels
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(registry: &Registry) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, registry).unwrap();
        out
    }

    #[test]
    fn go_names_and_labels_and_removal() {
        let mut registry = Registry::default();
        let mut m = AgentMetrics::register(&mut registry, "worker-0");
        m.sample(
            "ptp4l.0.config",
            "master",
            "ptp4l",
            "ens1f0",
            Sample { offset: -12, max_offset: 30, freq: 345, delay: 678 },
        );
        m.clock_state("ptp4l.0.config", "ptp4l", "ens1f0", ClockState::Locked);
        m.role("ptp4l.0.config", "ptp4l", "ens1f0", 1);
        m.process("ptp4l.0.config", "ptp4l", true, 2);
        m.sample("ptp4l.1.config", "phc", "phc2sys", "CLOCK_REALTIME", Sample::default());
        m.clock_class("ptp4l.0.config", Some(6));
        m.clock_class("ptp4l.1.config", Some(248));
        m.refused(2);
        m.output().discarded("ptp4l", 5000);
        m.output().ignored(REASON_BACKLOG);
        let t = text(&registry);
        for needle in [
            r#"openshift_ptp_offset_ns{from="master",process="ptp4l",node="worker-0",iface="ens1f0"} -12"#,
            r#"openshift_ptp_max_offset_ns{from="master",process="ptp4l",node="worker-0",iface="ens1f0"} 30"#,
            r#"openshift_ptp_frequency_adjustment_ns{from="master",process="ptp4l",node="worker-0",iface="ens1f0"} 345"#,
            r#"openshift_ptp_delay_ns{from="master",process="ptp4l",node="worker-0",iface="ens1f0"} 678"#,
            r#"openshift_ptp_clock_state{process="ptp4l",node="worker-0",iface="ens1f0"} 1"#,
            r#"openshift_ptp_interface_role{process="ptp4l",node="worker-0",iface="ens1f0"} 1"#,
            r#"openshift_ptp_process_status{process="ptp4l",node="worker-0",config="ptp4l.0.config"} 1"#,
            r#"openshift_ptp_process_restart_count{process="ptp4l",node="worker-0",config="ptp4l.0.config"} 2"#,
            r#"openshift_ptp_clock_class{process="ptp4l",node="worker-0",config="ptp4l.0.config"} 6"#,
            r#"openshift_ptp_clock_class{process="ptp4l",node="worker-0",config="ptp4l.1.config"} 248"#,
            "# HELP openshift_ptp_clock_class 6 = Locked, 7 = PRC unlocked in-spec, 52/187 = PRC unlocked out-of-spec, 135 = T-BC holdover in-spec, 165 = T-BC holdover out-of-spec, 248 = Default, 255 = Slave Only Clock",
            "ptp_agent_refused_profiles 2",
            r#"ptp_agent_discarded_log_bytes_total{process="ptp4l"} 5000"#,
            r#"ptp_agent_ignored_log_lines_total{reason="line_too_long"} 1"#,
            r#"ptp_agent_ignored_log_lines_total{reason="backlog"} 1"#,
            "ptp_agent_profile_source_valid 1",
            "ptp_agent_profile_source_errors_total 0",
        ] {
            assert!(t.contains(needle), "{needle} missing in\n{t}");
        }
        m.source_invalid();
        m.source_invalid();
        let t = text(&registry);
        assert!(
            t.contains("ptp_agent_profile_source_valid 0") && t.contains("ptp_agent_profile_source_errors_total 2")
        );
        m.source_valid();
        let t = text(&registry);
        assert!(
            t.contains("ptp_agent_profile_source_valid 1") && t.contains("ptp_agent_profile_source_errors_total 2")
        );
        m.sample("ptp4l.0.config", "master", "ptp4l", "master", Sample::default());
        m.forget_iface("ptp4l.0.config", "ptp4l", "master");
        assert!(!text(&registry).contains(r#"iface="master""#));
        m.forget("ptp4l.0.config");
        let t = text(&registry);
        assert!(!t.contains("ens1f0") && !t.contains("ptp4l.0.config"), "{t}");
        assert!(t.contains("CLOCK_REALTIME"), "other profiles keep their series");
        assert!(t.contains(r#"config="ptp4l.1.config"} 248"#), "and their clock class");
        m.clock_class("ptp4l.1.config", None);
        assert!(!text(&registry).contains("openshift_ptp_clock_class{"), "no answer, no clock class");
    }
}
