//! Tests that need root (network namespaces, veth pairs): skip loudly without it, unless CI
//! demands them (`PTP_REQUIRE_ROOT_TESTS=1`), where a skip is a failure.

use std::io::Write;

/// The environment variable that turns a root skip into a failure.
pub const REQUIRE_ROOT_ENV: &str = "PTP_REQUIRE_ROOT_TESTS";

/// Whether the process runs as root (effective uid 0).
pub fn is_root() -> bool {
    // /proc/self/status: "Uid:\treal\teffective\tsaved\tfs"
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(2).map(|euid| euid == "0"))
        .unwrap_or(false)
}

/// Whether CI requires root tests to run (`PTP_REQUIRE_ROOT_TESTS=1`).
pub fn root_required() -> bool {
    std::env::var(REQUIRE_ROOT_ENV).is_ok_and(|v| v == "1")
}

/// `true` when `test` may go on as root. Without root it prints a loud skip message and returns
/// `false`, or panics when [`REQUIRE_ROOT_ENV`] is `1`.
pub fn require_root(test: &str) -> bool {
    match decide(test, is_root(), root_required()) {
        Decision::Run => true,
        Decision::Fail(message) => panic!("{message}"),
        Decision::Skip(message) => {
            // Straight to the process's stderr: the test harness captures `eprintln!` of passing
            // tests, and a skip must be seen.
            let bar = "!".repeat(78);
            let _ = writeln!(std::io::stderr().lock(), "\n{bar}\n!!! SKIPPED: {message}\n{bar}\n");
            false
        }
    }
}

/// What a root-only test does.
#[derive(Debug, PartialEq, Eq)]
enum Decision {
    Run,
    Skip(String),
    Fail(String),
}

fn decide(test: &str, root: bool, required: bool) -> Decision {
    if root {
        return Decision::Run;
    }
    let message = format!("root tests: `{test}` needs root (network namespaces, veth pairs)");
    if required {
        Decision::Fail(format!("{message}, and {REQUIRE_ROOT_ENV}=1 forbids skipping it"))
    } else {
        Decision::Skip(format!("{message}; run as root, or set {REQUIRE_ROOT_ENV}=1 to fail instead"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_runs_non_root_skips_and_a_required_skip_fails() {
        assert_eq!(decide("t", true, true), Decision::Run);
        assert_eq!(decide("t", true, false), Decision::Run);
        assert!(matches!(decide("t", false, false), Decision::Skip(m) if m.contains("`t` needs root")));
        assert!(matches!(decide("t", false, true), Decision::Fail(m) if m.contains("forbids skipping")));
    }

    #[test]
    fn reads_the_effective_uid() {
        // Whatever we are, the answer agrees with the uid of a file we just created.
        let file = tempfile::NamedTempFile::new().unwrap();
        let owner = std::os::unix::fs::MetadataExt::uid(&file.as_file().metadata().unwrap());
        assert_eq!(is_root(), owner == 0);
    }
}
