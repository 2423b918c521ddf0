//! `ptp-agent`: the per-node agent. It finds PTP-capable NICs, reports them into the node's
//! NodePtpDevice and runs linuxptp from the node's profiles. The subcommands arrive with the
//! agent issues; for now the binary parses its flags and prints help.

use clap::Parser;

/// Per-node PTP agent: NIC discovery, linuxptp supervision, metrics.
#[derive(Parser, Debug)]
#[command(name = "ptp-agent", version, about, long_about = None)]
struct Cli {
    /// Name of this node (from the downward API in a cluster).
    #[arg(long, env = "NODE_NAME")]
    node_name: Option<String>,
}

fn main() {
    let cli = Cli::parse();
    let _ = cli.node_name;
    let _ = <Cli as clap::CommandFactory>::command().print_help();
}
