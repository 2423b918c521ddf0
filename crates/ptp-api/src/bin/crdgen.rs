//! Writes the CRD YAML files into `config/crd/` and `charts/ptp-operator/crds/`.
//! `crdgen --check` only compares and exits 1 when a file differs (for CI and pre-commit).

#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Directories (relative to the repository root) that hold the generated CRDs.
const TARGET_DIRS: &[&str] = &["config/crd", "charts/ptp-operator/crds"];

fn main() -> ExitCode {
    let mut check = false;
    let mut root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--check" => check = true,
            "--root" => match args.next() {
                Some(dir) => root = PathBuf::from(dir),
                None => return usage("--root needs a directory"),
            },
            "-h" | "--help" => {
                println!(
                    "usage: crdgen [--check] [--root DIR]\nWrites {} under DIR (default: this repository).",
                    TARGET_DIRS.join(" and ")
                );
                return ExitCode::SUCCESS;
            }
            other => return usage(&format!("unknown argument {other:?}")),
        }
    }
    let files = match ptp_api::crd::generated_files() {
        Ok(files) => files,
        Err(e) => {
            eprintln!("crdgen: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut stale = 0;
    for dir in TARGET_DIRS {
        for (name, text) in &files {
            let path = root.join(dir).join(name);
            match sync(&path, text, check) {
                Ok(true) => {}
                Ok(false) => {
                    stale += 1;
                    eprintln!("crdgen: {} is out of date; run `just crdgen`", path.display());
                }
                Err(e) => {
                    eprintln!("crdgen: {}: {e}", path.display());
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    if check && stale > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}

/// Returns whether the file was already up to date; writes it unless `check_only`.
fn sync(path: &Path, text: &str, check_only: bool) -> std::io::Result<bool> {
    let current = std::fs::read_to_string(path).ok();
    if current.as_deref() == Some(text) {
        return Ok(true);
    }
    if !check_only {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, text)?;
        println!("crdgen: wrote {}", path.display());
        return Ok(true);
    }
    Ok(false)
}

fn usage(problem: &str) -> ExitCode {
    eprintln!("crdgen: {problem}\nusage: crdgen [--check] [--root DIR]");
    ExitCode::from(2)
}
