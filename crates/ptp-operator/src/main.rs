#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use ptp_operator::cli::{Cli, Command, EXIT_USAGE, LogFormat, RunArgs, run_render};
use tokio::sync::watch;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap exits 2 on usage errors, which `render` uses for "a PtpConfig has a problem".
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { 0 });
        }
    };
    match cli.command {
        Command::Render(args) => {
            ExitCode::from(run_render(&args, &mut std::io::stdout().lock(), &mut std::io::stderr().lock()))
        }
        Command::Run(args) => run(*args),
    }
}

fn run(args: RunArgs) -> ExitCode {
    init_logging(args.log_format);
    let mut settings = match args.settings() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ptp-operator run: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ptp-operator run: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let client = match kube::Client::try_default().await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "cannot build a Kubernetes client (in-cluster config or KUBECONFIG)");
                return ExitCode::FAILURE;
            }
        };
        let names = ptp_serve::tls::self_signed_names(&[settings.identity.as_str()]);
        settings.metrics_security = match args.metrics.security(names, Some(client.clone())) {
            Ok(security) => security,
            Err(e) => {
                tracing::error!(error = %e, "cannot set up the metrics endpoint");
                return ExitCode::FAILURE;
            }
        };
        let terminated = match ptp_serve::terminated() {
            Ok(terminated) => terminated,
            Err(e) => {
                tracing::error!(error = %e, "cannot install the SIGTERM and SIGINT handlers");
                return ExitCode::FAILURE;
            }
        };
        let (stop_tx, stop_rx) = watch::channel(false);
        tokio::spawn(async move {
            terminated.await;
            tracing::info!("shutting down");
            let _ = stop_tx.send(true);
        });
        match ptp_operator::controller::run::run(client, settings, stop_rx).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!(error = %e, "controller failed");
                ExitCode::FAILURE
            }
        }
    })
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,kube=warn,tower=warn,hyper=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}
