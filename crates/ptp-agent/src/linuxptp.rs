//! Which linuxptp the agent runs, and what that version can do. Detected once at start from
//! `ptp4l -v` (stock linuxptp prints its version and nothing else: `3.1.1`, `4.2`; distribution
//! builds may append a suffix, `4.2-2.el9`). The decisions ([`Linuxptp::uds_ro_address`],
//! [`Linuxptp::require`]) are pure; only [`detect`] runs a program.
//!
//! Where the versions differ, for the agent:
//!
//! * **`uds_ro_address`** (4.0 and later): ptp4l also listens on a read-only management socket,
//!   by default `/var/run/ptp4lro`, the same path for every ptp4l of the node, so a second ptp4l
//!   would take it from the first. The agent gives each ptp4l its own
//!   (`<run-dir>/ptp4l.<id>.ro.socket`); 3.1 would refuse the key, so it is not set there.
//! * **Several ptp4l instances for one phc2sys** (`haProfiles`): phc2sys takes one `-z` per
//!   domain and follows the best; stock linuxptp 3.1 has one `-z` only. The agent requires 4.2
//!   (the version it is tested with) and refuses such a profile on older versions with the reason.

use std::fmt;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

/// A linuxptp version: `major.minor[.patch]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl Version {
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        Version { major, minor, patch }
    }

    /// The version in `ptp4l -v`'s output: its first word, digits and dots up to anything else
    /// (`4.2-2.el9` is 4.2). An error names what was printed.
    pub fn parse(output: &str) -> Result<Version, String> {
        let word = output.split_whitespace().next().unwrap_or_default();
        let numeric: &str = word.split(|c: char| !(c.is_ascii_digit() || c == '.')).next().unwrap_or_default();
        let mut parts = numeric.split('.').filter(|p| !p.is_empty()).map(str::parse::<u32>);
        match (parts.next(), parts.next(), parts.next()) {
            (Some(Ok(major)), Some(Ok(minor)), patch) => {
                let patch = match patch {
                    None => 0,
                    Some(Ok(p)) => p,
                    Some(Err(_)) => return Err(format!("{word:?} is not a linuxptp version")),
                };
                Ok(Version { major, minor, patch })
            }
            _ => Err(format!("{:?} is not a linuxptp version", ptp_api::util::truncate(output.trim(), 80))),
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.patch == 0 {
            write!(f, "{}.{}", self.major, self.minor)
        } else {
            write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
        }
    }
}

/// First version with `uds_ro_address`.
pub const UDS_RO_ADDRESS: Version = Version::new(4, 0, 0);
/// The version phc2sys is required to have to follow several ptp4l (`haProfiles`).
pub const HA_PHC2SYS: Version = Version::new(4, 2, 0);

/// The linuxptp the agent runs: a version, or why it is not known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Linuxptp {
    Known(Version),
    /// `ptp4l -v` failed or printed no version; what went wrong.
    Unknown(String),
}

impl Default for Linuxptp {
    fn default() -> Self {
        Linuxptp::Unknown("not detected".into())
    }
}

impl fmt::Display for Linuxptp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Linuxptp::Known(v) => write!(f, "{v}"),
            Linuxptp::Unknown(why) => write!(f, "unknown ({why})"),
        }
    }
}

impl Linuxptp {
    /// The version, when known.
    pub fn version(&self) -> Option<Version> {
        match self {
            Linuxptp::Known(v) => Some(*v),
            Linuxptp::Unknown(_) => None,
        }
    }

    /// Whether ptp4l knows `uds_ro_address` (an unknown version: no, the key would stop 3.x).
    pub fn uds_ro_address(&self) -> bool {
        self.version().is_some_and(|v| v >= UDS_RO_ADDRESS)
    }

    /// `Ok` when the version is at least `needed`; otherwise why `what` cannot run.
    pub fn require(&self, needed: Version, what: &str) -> Result<(), String> {
        match self {
            Linuxptp::Known(v) if *v >= needed => Ok(()),
            Linuxptp::Known(v) => Err(format!("{what} needs linuxptp {needed} or later; this node runs {v}")),
            Linuxptp::Unknown(why) => {
                Err(format!("{what} needs linuxptp {needed} or later; the node's version is not known ({why})"))
            }
        }
    }
}

/// How long `ptp4l -v` may take.
const DETECT_TIMEOUT: Duration = Duration::from_secs(2);
/// The most of `ptp4l -v`'s output read (a version is a few bytes).
const DETECT_MAX_OUTPUT: usize = 256;

/// Runs `<bin-dir>/ptp4l -v` (or `ptp4l` on `PATH`) and reads its version: its first line, at most
/// [`DETECT_MAX_OUTPUT`] bytes, within [`DETECT_TIMEOUT`]. It runs in a process group of its own,
/// killed afterwards, so that a program that is not ptp4l (a wrapper, a test's fake) can neither
/// hold the agent's start nor leave anything behind; `env` is added to its environment (the run
/// directory's marker, so that what might escape the group is still recognised as the agent's).
pub async fn detect(bin_dir: Option<&Path>, env: &[(String, String)]) -> Linuxptp {
    let program = bin_dir.map_or_else(|| "ptp4l".into(), |dir| dir.join("ptp4l"));
    let what = format!("{} -v", program.display());
    let child = tokio::process::Command::new(&program)
        .arg("-v")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .kill_on_drop(true)
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => return Linuxptp::Unknown(format!("{what}: {e}")),
    };
    let read = async {
        let mut out = Vec::new();
        if let Some(stdout) = child.stdout.take() {
            let mut limited = tokio::io::AsyncReadExt::take(stdout, DETECT_MAX_OUTPUT as u64);
            let mut buf = [0u8; DETECT_MAX_OUTPUT];
            while let Ok(n) = tokio::io::AsyncReadExt::read(&mut limited, &mut buf).await {
                if n == 0 {
                    break;
                }
                out.extend_from_slice(&buf[..n]);
                if out.contains(&b'\n') {
                    break;
                }
            }
        }
        out
    };
    let output = tokio::time::timeout(DETECT_TIMEOUT, read).await;
    if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
        // The group, not only the child: whatever it started goes with it.
        let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
    }
    let _ = child.wait().await;
    match output {
        Err(_) => Linuxptp::Unknown(format!("{what} printed no line within {DETECT_TIMEOUT:?}")),
        Ok(out) => match Version::parse(&String::from_utf8_lossy(&out)) {
            Ok(v) => Linuxptp::Known(v),
            Err(e) => Linuxptp::Unknown(format!("{what}: {e}")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_as_ptp4l_prints_them() {
        assert_eq!(Version::parse("3.1.1\n"), Ok(Version::new(3, 1, 1)));
        assert_eq!(Version::parse("4.2\n"), Ok(Version::new(4, 2, 0)));
        assert_eq!(Version::parse("4.2-2.el9\n"), Ok(Version::new(4, 2, 0)));
        assert_eq!(Version::parse("4.4.0.1"), Ok(Version::new(4, 4, 0)));
        assert_eq!(Version::new(4, 2, 0).to_string(), "4.2");
        assert_eq!(Version::new(3, 1, 1).to_string(), "3.1.1");
        for bad in ["", "\n", "ptp4l", "4", "v4.2", "4.x"] {
            let e = Version::parse(bad).unwrap_err();
            assert!(e.contains("is not a linuxptp version"), "{bad:?}: {e}");
        }
        assert!(Version::new(3, 1, 1) < UDS_RO_ADDRESS && Version::new(4, 2, 0) >= HA_PHC2SYS);
    }

    #[test]
    fn what_each_version_can_do() {
        let v31 = Linuxptp::Known(Version::new(3, 1, 1));
        let v42 = Linuxptp::Known(Version::new(4, 2, 0));
        let unknown = Linuxptp::Unknown("ptp4l: No such file".into());
        assert!(!v31.uds_ro_address() && v42.uds_ro_address() && !unknown.uds_ro_address());
        assert_eq!(v42.require(HA_PHC2SYS, "haProfiles"), Ok(()));
        assert_eq!(
            v31.require(HA_PHC2SYS, "haProfiles").unwrap_err(),
            "haProfiles needs linuxptp 4.2 or later; this node runs 3.1.1"
        );
        assert!(unknown.require(HA_PHC2SYS, "haProfiles").unwrap_err().contains("not known (ptp4l: No such file)"));
    }

    #[tokio::test]
    async fn detects_a_program_that_prints_a_version_and_names_one_that_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let script = |body: &str| {
            let path = dir.path().join("ptp4l");
            std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        };
        script("echo 4.2");
        assert_eq!(detect(Some(dir.path()), &[]).await, Linuxptp::Known(Version::new(4, 2, 0)));
        script("echo 'ptp4l: invalid option -- v'");
        let Linuxptp::Unknown(why) = detect(Some(dir.path()), &[]).await else { panic!("no version") };
        assert!(why.contains("is not a linuxptp version"), "{why}");
        // Not ptp4l: endless output without a newline, and a child of its own; neither is waited
        // for beyond the limits, and nothing is left.
        let marker = dir.path().join("child-alive");
        script(&format!(
            "(while :; do touch {m}; sleep 0.05; done) & head -c 100000000 /dev/zero; sleep 100",
            m = marker.display()
        ));
        let started = std::time::Instant::now();
        let Linuxptp::Unknown(why) = detect(Some(dir.path()), &[]).await else { panic!("no version") };
        assert!(why.contains("is not a linuxptp version"), "{why}");
        assert!(started.elapsed() < DETECT_TIMEOUT, "read 256 bytes, not the 100 MB");
        std::fs::remove_file(&marker).ok();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!marker.exists(), "the program's own child was killed with its group");
        script("sleep 100");
        let Linuxptp::Unknown(why) = detect(Some(dir.path()), &[]).await else { panic!("no version") };
        assert!(why.contains("printed no line within 2s"), "{why}");
        let Linuxptp::Unknown(why) = detect(Some(&dir.path().join("missing")), &[]).await else { panic!("no program") };
        assert!(why.contains("missing/ptp4l -v"), "{why}");
    }
}
