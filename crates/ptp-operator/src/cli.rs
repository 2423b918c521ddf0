//! Command-line interface of `ptp-operator`.

use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::ObjectMeta;

use crate::input::read_paths;
use crate::render::{CONDITION_APPLIED, render};

/// ConfigMaps above this size get a warning (the API server rejects objects over 1 MiB).
pub const CONFIGMAP_WARN_BYTES: usize = 900 * 1024;

/// PTP operator: renders ptp-configmap from PtpConfigs and Nodes.
#[derive(Parser, Debug)]
#[command(name = "ptp-operator", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print the ptp-configmap the operator would write for the given PtpConfigs and Nodes.
    Render(RenderArgs),
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
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Yaml,
    Json,
}

/// Exit codes of `render`.
pub const EXIT_OK: u8 = 0;
pub const EXIT_UNREADABLE: u8 = 1;
pub const EXIT_INVALID_CONFIG: u8 = 2;

/// Runs `render`; returns the exit code. The ConfigMap is printed even when PtpConfigs have
/// problems (exit 2), but not when the input could not be read (exit 1).
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
    let bytes = rendered.data_bytes();
    if bytes > CONFIGMAP_WARN_BYTES {
        let _ = writeln!(
            err,
            "warning: the ConfigMap holds {} nodes in {bytes} bytes, close to the 1 MiB object limit",
            rendered.data.len()
        );
    }
    if problems > 0 { EXIT_INVALID_CONFIG } else { EXIT_OK }
}
