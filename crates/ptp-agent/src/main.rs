//! `ptp-agent`: the per-node agent. `run` is what the DaemonSet runs (linuxptp from the node's
//! profiles, metrics, probes, NodePtpDevice status); `nics` and `report` are the NIC discovery on
//! its own; `pmc` queries a ptp4l over its management socket; `parse` turns linuxptp log lines into
//! JSON as the agent reads them. Argument parsing and start-up only: each command's work is in the
//! library (`ptp_agent::run`, `nic`, `report`, `mgmt`, `parse_command`).

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use ptp_agent::nic::output::{Format, render};
use ptp_agent::nic::{Discovery, Selection, select};
use ptp_agent::report::{self, ReportSettings};
use ptp_agent::supervise::{reaper, rundir};
use tracing::error;

/// Per-node PTP agent: runs ptp4l, phc2sys and ts2phc from the node's profiles with metrics,
/// health probes and NodePtpDevice status (`run`); finds PTP NICs (`nics`, `report`); reads
/// ptp4l's state over its socket (`pmc`); parses linuxptp log lines (`parse`).
#[derive(Parser, Debug)]
#[command(name = "ptp-agent", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print the NICs found over ethtool netlink.
    Nics {
        /// Output format.
        #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Table)]
        output: Format,
        /// Only this interface (a per-device request).
        #[arg(short = 'i', long = "interface")]
        interface: Option<String>,
        #[command(flatten)]
        select: SelectArgs,
    },
    /// Report the NICs into this node's NodePtpDevice status until stopped.
    Report {
        /// Name of this node (from the downward API in a cluster); defaults to the hostname.
        #[arg(long, env = "NODE_NAME")]
        node_name: Option<String>,
        /// Namespace of the NodePtpDevice.
        #[arg(long, env = "POD_NAMESPACE", default_value = "openshift-ptp")]
        namespace: String,
        /// Seconds between full resyncs.
        #[arg(long, default_value_t = 300)]
        resync_seconds: u64,
        #[command(flatten)]
        select: SelectArgs,
    },
    /// Query ptp4l over its management socket, like linuxptp's `pmc -u -b 0` ('GET PARENT_DATA_SET' ...).
    Pmc(ptp_agent::mgmt::cli::PmcArgs),
    /// Parse linuxptp log lines from stdin as the agent does, one JSON object per line.
    ///
    /// Each object has the line's kind, process, config, interface, offset, frequency, delay,
    /// servo state or port state change, and the slave port a ptp4l `master offset` line is about,
    /// in input order. Lines as `kubectl logs` shows them (with the agent's log prefix) work too.
    Parse,
    /// Run ptp4l, phc2sys and ts2phc from this node's profiles (the DaemonSet's command).
    ///
    /// The profiles come from `--profile FILE` (standalone, or the mounted ConfigMap), else from
    /// the API (`--profile-source`): rendered by the agent from the PtpConfigs and its Node
    /// (`api`), or the ptp-configmap key named after the node (`configmap`). Only what changed is
    /// restarted; a value that cannot be used changes nothing that runs. Serves the
    /// `openshift_ptp_*` metrics, /healthz and /readyz; in a cluster, writes the node's
    /// NodePtpDevice status (devices, applied profiles, processes, clock state) and Events.
    Run {
        /// The node's profiles (what its ptp-configmap key holds); re-read when it changes.
        #[arg(long)]
        profile: Option<PathBuf>,
        /// With --profile: still write the NodePtpDevice status (devices, runtime, condition) and
        /// Events through the API (the chart's file mode)
        #[arg(long, env = "PTP_REPORT_STATUS", requires = "profile")]
        report_status: bool,
        /// Namespace of the ConfigMap and the NodePtpDevice (API mode).
        #[arg(long, env = "POD_NAMESPACE", default_value = "openshift-ptp")]
        namespace: String,
        /// Name of the ConfigMap (API mode).
        #[arg(long, env = "CONFIGMAP_NAME", default_value = "ptp-configmap")]
        configmap_name: String,
        /// Without --profile: `api` renders this node's profiles from the PtpConfigs and its Node
        /// (as the operator would, no ConfigMap needed); `configmap` reads the node's key of
        /// --configmap-name, as the operator writes it.
        #[arg(long, env = "PROFILE_SOURCE", value_enum, default_value_t = SourceArg::Api)]
        profile_source: SourceArg,
        /// With `--profile-source api`: namespaces whose PtpConfigs count (the operator's
        /// WATCH_NAMESPACES); empty: all.
        #[arg(long = "watch-namespace", env = "WATCH_NAMESPACES", value_delimiter = ',')]
        watch_namespaces: Vec<String>,
        /// Least seconds between two NodePtpDevice status writes that change only offsets
        /// (`offsetNs`); any other change (profiles, processes, clock states) is written at once.
        #[arg(long, env = "STATUS_OFFSET_INTERVAL", default_value_t = 300)]
        status_offset_interval: u64,
        /// Name of this node (metrics label); defaults to the hostname.
        #[arg(long, env = "NODE_NAME")]
        node_name: Option<String>,
        /// Where configuration files and ptp4l sockets go.
        #[arg(long, default_value = ptp_agent::render::DEFAULT_RUN_DIR)]
        run_dir: PathBuf,
        /// Directory of ptp4l, phc2sys and ts2phc (default: PATH).
        #[arg(long)]
        bin_dir: Option<PathBuf>,
        /// Address of /metrics: IP:PORT (e.g. 127.0.0.1:9091 for this host only), or `none`.
        #[arg(long, env = "METRICS_ADDR", default_value = "0.0.0.0:9091")]
        metrics_addr: String,
        /// Address of /healthz and /readyz (plain HTTP for the kubelet's probes), or `none`.
        #[arg(long, env = "HEALTH_ADDR", default_value = "0.0.0.0:8081")]
        health_addr: String,
        #[command(flatten)]
        metrics: ptp_serve::MetricsArgs,
    },
}

/// `--profile-source`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum SourceArg {
    Api,
    Configmap,
}

#[derive(Args, Debug, Clone)]
struct SelectArgs {
    /// Every interface of the network namespace.
    #[arg(long)]
    all: bool,
    /// Also interfaces with software timestamping only (virtual machines, the local lab).
    #[arg(long, env = "PTP_INCLUDE_SOFTWARE")]
    include_software: bool,
    /// Also SR-IOV virtual functions.
    #[arg(long, env = "PTP_INCLUDE_VFS")]
    include_vfs: bool,
    /// Discover in this network namespace (e.g. /run/netns/lab).
    #[arg(long, hide = true)]
    netns: Option<PathBuf>,
}

impl SelectArgs {
    fn selection(&self) -> Selection {
        Selection { all: self.all, include_software: self.include_software, include_vfs: self.include_vfs }
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Nics { output, interface, select } => nics(output, interface.as_deref(), select),
        Command::Parse => parse_stdin(),
        Command::Pmc(args) => ptp_agent::mgmt::cli::run(args),
        Command::Run {
            profile,
            report_status,
            namespace,
            configmap_name,
            profile_source,
            watch_namespaces,
            status_offset_interval,
            node_name,
            run_dir,
            bin_dir,
            metrics_addr,
            health_addr,
            metrics,
        } => run_agent(
            (profile, report_status),
            (
                namespace,
                match profile_source {
                    SourceArg::Configmap => ptp_agent::run::cluster::ProfileSource::ConfigMap(configmap_name),
                    SourceArg::Api => {
                        ptp_agent::run::cluster::ProfileSource::Render(ptp_agent::source::own_node::Scope {
                            namespaces: watch_namespaces.into_iter().filter(|n| !n.is_empty()).collect(),
                        })
                    }
                },
                Duration::from_secs(status_offset_interval.max(1)),
            ),
            node_name,
            (run_dir, bin_dir),
            (&metrics_addr, &health_addr, metrics),
        ),
        Command::Report { node_name, namespace, resync_seconds, select } => {
            report_forever(node_name, namespace, resync_seconds, select)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            error!("{message}");
            ExitCode::FAILURE
        }
    }
}

fn nics(output: Format, interface: Option<&str>, args: SelectArgs) -> Result<(), String> {
    let discovery = Discovery { netns: args.netns.clone(), ..Discovery::default() };
    let found = match interface {
        Some(name) => vec![discovery.discover_one(name).map_err(|e| format!("{name}: {e}"))?],
        None => {
            let selection = args.selection();
            let complete = selection.all || selection.include_software;
            let found = if complete { discovery.discover() } else { discovery.candidates() };
            select(&found.map_err(|e| e.to_string())?, &selection)
        }
    };
    print!("{}", render(&found, output).map_err(|e| e.to_string())?);
    Ok(())
}

fn report_forever(node_name: Option<String>, namespace: String, resync: u64, args: SelectArgs) -> Result<(), String> {
    let node_name = node_or_hostname(node_name)?;
    let mut settings = ReportSettings::new(node_name, namespace);
    settings.resync = Duration::from_secs(resync.max(1));
    settings.selection = args.selection();
    settings.netns = args.netns;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let client = kube::Client::try_default().await.map_err(|e| format!("kubernetes client: {e}"))?;
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            let _ = stop_tx.send(true);
        });
        report::run(client, settings, stop_rx).await.map_err(|e| e.to_string())
    })
}

/// `ptp-agent parse`: stdin lines to JSON objects on stdout (see `ptp_agent::parse_command`).
fn parse_stdin() -> Result<(), String> {
    let mut input = std::io::stdin().lock();
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    ptp_agent::parse_command::ParseCommand::default().run(&mut input, &mut out).map(drop).map_err(|e| e.to_string())
}

fn run_agent(
    (profile, report_status): (Option<PathBuf>, bool),
    (namespace, source, offset_interval): (String, ptp_agent::run::cluster::ProfileSource, Duration),
    node_name: Option<String>,
    (run_dir, bin_dir): (PathBuf, Option<PathBuf>),
    (metrics_addr, health_addr, metrics): (&str, &str, ptp_serve::MetricsArgs),
) -> Result<(), String> {
    use ptp_serve::parse_addr;
    let node = node_or_hostname(node_name)?;
    // Flags that do not fit together fail before anything starts.
    metrics.tls_source(Vec::new()).map_err(|e| e.to_string())?;
    // One agent per run directory, held until this function returns (or the process dies).
    let lock = rundir::lock(&run_dir).map_err(|e| e.to_string())?;
    // What a previous agent on this directory left running (it logs what it kills).
    rundir::kill_leftovers(&run_dir);
    let mut run = ptp_agent::run::RunSettings {
        profile,
        runtime: ptp_agent::runtime::RuntimeSettings {
            node: node.clone(),
            run_dir,
            bin_dir,
            linuxptp: Default::default(),
            supervisor: ptp_agent::supervise::SupervisorSettings::default(),
        },
        endpoints: ptp_agent::serve::Endpoints {
            metrics: parse_addr("metrics-addr", metrics_addr)?,
            health: parse_addr("health-addr", health_addr)?,
            metrics_security: ptp_serve::Security::default(),
        },
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    // The agent runs as a task on the one worker thread (not on this thread): an idle agent then
    // wakes one thread, not two.
    let agent = runtime.spawn(async move {
        let terminated = ptp_agent::supervise::terminated().map_err(|e| format!("signal handlers: {e}"))?;
        // Descendants whose parent exits become the agent's: reaped, and killed at the end.
        reaper::adopt_orphans().map_err(|e| e.to_string())?;
        let marker = [(rundir::RUN_DIR_ENV.to_string(), rundir::marker(&run.runtime.run_dir))];
        run.runtime.linuxptp = ptp_agent::linuxptp::detect(run.runtime.bin_dir.as_deref(), &marker).await;
        tracing::info!(linuxptp = %run.runtime.linuxptp, "linuxptp version (ptp4l -v)");
        let standalone = run.profile.is_some() && !report_status;
        let client = if standalone && !metrics.needs_client() {
            None
        } else {
            Some(kube::Client::try_default().await.map_err(|e| format!("kubernetes client: {e}"))?)
        };
        let names = ptp_serve::tls::self_signed_names(&[node.as_str()]);
        run.endpoints.metrics_security = metrics.security(names, client.clone()).map_err(|e| e.to_string())?;
        let Some(client) = client.filter(|_| !standalone) else {
            return ptp_agent::run::file::run(run, terminated).await.map_err(|e| e.to_string());
        };
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            terminated.await;
            let _ = stop_tx.send(true);
        });
        let mut report = ReportSettings::new(node, namespace.clone());
        report.selection = Selection {
            include_software: std::env::var("PTP_INCLUDE_SOFTWARE").is_ok_and(|v| v == "true" || v == "1"),
            ..Selection::default()
        };
        let settings =
            ptp_agent::run::cluster::ClusterSettings { run, namespace, source, offset_interval, report: Some(report) };
        ptp_agent::run::cluster::run(client, settings, stop_rx).await.map_err(|e| e.to_string())
    });
    let result = runtime.block_on(agent).map_err(|e| e.to_string()).and_then(|r| r);
    // Every child was stopped; what they left behind (adopted as orphans) goes too.
    reaper::kill_adopted();
    drop(lock);
    result
}

/// `--node-name`/`NODE_NAME`, else the hostname.
fn node_or_hostname(node_name: Option<String>) -> Result<String, String> {
    match node_name {
        Some(n) => Ok(n),
        None => std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .map_err(|e| format!("no --node-name/NODE_NAME and no hostname: {e}")),
    }
}
