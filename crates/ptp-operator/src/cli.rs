//! Command-line interface of `ptp-operator`.

use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::ObjectMeta;

use crate::controller::size::{Precision, size_warning};
use crate::input::read_paths;
use crate::render::{CONDITION_APPLIED, render};

/// PTP operator: renders ptp-configmap from PtpConfigs and Nodes.
#[derive(Parser, Debug)]
#[command(name = "ptp-operator", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the controller against the cluster (in-cluster config or KUBECONFIG).
    Run(Box<RunArgs>),
    /// Print the ptp-configmap the operator would write for the given PtpConfigs and Nodes.
    Render(RenderArgs),
}

#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// Namespace of the ConfigMap, the NodePtpDevices and the leader Lease.
    #[arg(long, env = "POD_NAMESPACE", default_value = "openshift-ptp")]
    pub namespace: String,
    /// Only PtpConfigs in these namespaces count (comma-separated); default: all namespaces.
    #[arg(long = "watch-namespace", env = "WATCH_NAMESPACES", value_delimiter = ',')]
    pub watch_namespaces: Vec<String>,
    /// Name of the aggregated ConfigMap.
    #[arg(long, env = "CONFIGMAP_NAME", default_value = ptp_api::CONFIGMAP_NAME)]
    pub configmap_name: String,
    /// Write the aggregated ConfigMap (`false`: only when every agent renders its own node, with
    /// `--profile-source api`, and nothing else reads it).
    #[arg(long, env = "WRITE_CONFIGMAP", default_value_t = true, action = clap::ArgAction::Set)]
    pub write_configmap: bool,
    /// Label selector of the nodes that run the agent (each gets a NodePtpDevice).
    #[arg(long, env = "AGENT_NODE_SELECTOR", default_value = "kubernetes.io/os=linux")]
    pub agent_node_selector: String,
    /// Elect a leader through a Lease so that only one instance writes.
    #[arg(long, env = "LEADER_ELECT", default_value_t = true, action = clap::ArgAction::Set)]
    pub leader_elect: bool,
    /// Name of the leader Lease.
    #[arg(long, env = "LEASE_NAME", default_value = "ptp-operator-leader")]
    pub lease_name: String,
    /// Identity in the Lease (default: POD_NAME, else hostname and pid).
    #[arg(long, env = "POD_NAME")]
    pub identity: Option<String>,
    /// Lease validity after the last renewal, in seconds.
    #[arg(long, default_value_t = 15)]
    pub lease_duration_seconds: u64,
    /// How often the leader renews and a standby retries, in seconds.
    #[arg(long, default_value_t = 2)]
    pub lease_retry_seconds: u64,
    /// A leader that cannot renew for this long steps down, in seconds.
    #[arg(long, default_value_t = 10)]
    pub lease_renew_deadline_seconds: u64,
    /// Quiet time after a change before the render runs, in milliseconds.
    #[arg(long, default_value_t = 100)]
    pub debounce_ms: u64,
    /// Full reconcile at least this often even without events, in seconds.
    #[arg(long, default_value_t = 300)]
    pub resync_seconds: u64,
    /// Address of /metrics: IP:PORT (e.g. 127.0.0.1:8080 for this host only), or `none`.
    #[arg(long, env = "METRICS_ADDR", default_value = "0.0.0.0:8080")]
    pub metrics_addr: String,
    /// Address of /healthz and /readyz (plain HTTP for the kubelet's probes), or `none`.
    #[arg(long, env = "HEALTH_ADDR", default_value = "0.0.0.0:8081")]
    pub health_addr: String,
    #[command(flatten)]
    pub metrics: ptp_serve::MetricsArgs,
    /// Log format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl RunArgs {
    /// The controller settings these flags describe; errors name the bad flag. The metrics
    /// endpoint's TLS and authorization are checked here but built with a client
    /// ([`ptp_serve::MetricsArgs::security`]) into `metrics_security`.
    pub fn settings(&self) -> Result<crate::controller::run::ControllerSettings, String> {
        use ptp_serve::parse_addr as addr;
        use std::time::Duration;
        self.metrics.tls_source(Vec::new()).map_err(|e| e.to_string())?;
        Ok(crate::controller::run::ControllerSettings {
            namespace: self.namespace.clone(),
            watch_namespaces: self.watch_namespaces.iter().filter(|n| !n.is_empty()).cloned().collect(),
            configmap_name: self.configmap_name.clone(),
            write_configmap: self.write_configmap,
            agent_selector: crate::controller::selector::LabelSelector::parse(&self.agent_node_selector)
                .map_err(|e| format!("--agent-node-selector: {e}"))?,
            leader_election: self.leader_elect,
            lease_name: self.lease_name.clone(),
            identity: self
                .identity
                .clone()
                .filter(|i| !i.is_empty())
                .unwrap_or_else(crate::controller::run::default_identity),
            lease_timing: crate::controller::leader::LeaseTiming {
                duration: Duration::from_secs(self.lease_duration_seconds),
                retry: Duration::from_secs(self.lease_retry_seconds.max(1)),
                renew_deadline: Duration::from_secs(self.lease_renew_deadline_seconds),
            },
            debounce: Duration::from_millis(self.debounce_ms),
            resync: Duration::from_secs(self.resync_seconds.max(1)),
            metrics_addr: addr("metrics-addr", &self.metrics_addr)?,
            health_addr: addr("health-addr", &self.health_addr)?,
            metrics_security: ptp_serve::Security::default(),
        })
    }
}

#[derive(clap::Args, Debug)]
pub struct RenderArgs {
    /// File or directory of YAML/JSON manifests (PtpConfigs, Nodes, Lists); `-` reads stdin.
    #[arg(short = 'f', long = "filename", required = true)]
    pub files: Vec<PathBuf>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Yaml)]
    pub output: OutputFormat,
    /// Namespace of the ConfigMap.
    #[arg(long, default_value = "openshift-ptp")]
    pub namespace: String,
    /// Name of the ConfigMap.
    #[arg(long, default_value = ptp_api::CONFIGMAP_NAME)]
    pub configmap_name: String,
    /// Unknown fields in a PtpConfig (`interfce:`) are errors (exit 3), not warnings.
    #[arg(long)]
    pub strict: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Yaml,
    Json,
}

/// Exit codes of `ptp-operator`. A usage error is never 2, so that a script can tell "a
/// PtpConfig has a problem" from "the command line is wrong".
pub const EXIT_OK: u8 = 0;
/// An input file or document could not be read or parsed (nothing is printed on stdout).
pub const EXIT_UNREADABLE: u8 = 1;
/// A PtpConfig is invalid or cannot be decoded (the ConfigMap is still printed).
pub const EXIT_INVALID_CONFIG: u8 = 2;
/// `--strict` and a PtpConfig has fields its types do not know (the ConfigMap is still printed).
pub const EXIT_UNKNOWN_FIELDS: u8 = 3;
/// The command line is wrong (unknown flag, missing argument, bad value); BSD `EX_USAGE`.
pub const EXIT_USAGE: u8 = 64;

/// Runs `render`; returns the exit code. The ConfigMap is printed even when PtpConfigs have
/// problems (exit 2) or unknown fields under `--strict` (exit 3; 2 wins when both apply), but not
/// when the input could not be read (exit 1).
pub fn run_render(args: &RenderArgs, out: &mut impl Write, err: &mut impl Write) -> u8 {
    let inputs = match read_paths(&args.files) {
        Ok(inputs) => inputs,
        Err(e) => {
            let _ = writeln!(err, "ptp-operator render: {e}");
            return EXIT_UNREADABLE;
        }
    };
    let rendered = render(&inputs.configs, &inputs.nodes);
    let configmap = ConfigMap {
        metadata: ObjectMeta {
            name: Some(args.configmap_name.clone()),
            namespace: Some(args.namespace.clone()),
            ..Default::default()
        },
        data: Some(rendered.data.clone()),
        ..Default::default()
    };
    let text = match args.output {
        OutputFormat::Yaml => serde_saphyr::to_string(&configmap).map_err(|e| e.to_string()),
        OutputFormat::Json => serde_json::to_string_pretty(&configmap).map(|s| s + "\n").map_err(|e| e.to_string()),
    };
    match text {
        Ok(text) => {
            if out.write_all(text.as_bytes()).is_err() {
                return EXIT_UNREADABLE;
            }
        }
        Err(e) => {
            let _ = writeln!(err, "ptp-operator render: cannot serialise the ConfigMap: {e}");
            return EXIT_UNREADABLE;
        }
    }

    let mut problems = 0;
    for u in &inputs.undecodable {
        problems += 1;
        let _ = writeln!(
            err,
            "PtpConfig {}: Valid=False (DecodeError): {}: {}; left out of the ConfigMap",
            u.key, u.source, u.error
        );
    }
    let label = if args.strict { "error" } else { "warning" };
    for u in &inputs.unknown_fields {
        let _ = writeln!(err, "{label}: PtpConfig {}: unknown field {:?}", u.key, u.path);
    }
    for (key, outcome) in &rendered.configs {
        for condition in outcome.conditions() {
            if condition.type_ == CONDITION_APPLIED {
                continue;
            }
            if !condition.status {
                problems += 1;
                let _ = writeln!(
                    err,
                    "PtpConfig {key}: {}=False ({}): {}",
                    condition.type_, condition.reason, condition.message
                );
            }
        }
        for warning in outcome.findings.iter().filter(|f| !f.is_error()) {
            let _ = writeln!(err, "warning: PtpConfig {key}: {warning}");
        }
    }
    if inputs.nodes.is_empty() {
        let _ = writeln!(
            err,
            "note: no Node objects in the input, so no node keys; add `kubectl get nodes -o yaml` output"
        );
    }
    if let Some(w) = size_warning(&args.configmap_name, rendered.data_bytes(), rendered.data.len(), Precision::Exact) {
        let _ = writeln!(err, "warning: {} ({})", w.message, w.reason);
    }
    if problems > 0 {
        EXIT_INVALID_CONFIG
    } else if args.strict && !inputs.unknown_fields.is_empty() {
        EXIT_UNKNOWN_FIELDS
    } else {
        EXIT_OK
    }
}
