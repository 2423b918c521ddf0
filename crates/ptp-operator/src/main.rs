use std::process::ExitCode;

use clap::Parser;
use ptp_operator::cli::{Cli, Command, run_render};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Render(args) => {
            ExitCode::from(run_render(&args, &mut std::io::stdout().lock(), &mut std::io::stderr().lock()))
        }
    }
}
