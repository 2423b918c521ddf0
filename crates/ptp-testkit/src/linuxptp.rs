//! Real linuxptp in the netns lab, as the tests and benches that talk to ptp4l run it: Debian's
//! 3.1.1 in `/usr/sbin`, 4.2 when `scripts/linuxptp.sh` built it; software timestamping,
//! `clock_servo nullf` and no CAP_SYS_TIME, so that nothing adjusts this machine's clock.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use crate::netns::NetNs;
use crate::sys_time::WITHOUT_SYS_TIME;

/// Debian's linuxptp 3.1.1.
pub const DEBIAN_BIN: &str = "/usr/sbin";

/// The directory of linuxptp 4.2's binaries (`$PTP_LINUXPTP_42_DIR`, else
/// `scripts/linuxptp.sh`'s cache), if built.
pub fn linuxptp_42() -> Option<PathBuf> {
    let dir = match std::env::var_os("PTP_LINUXPTP_42_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(std::env::var_os("HOME")?).join(".cache/ptp-operator/linuxptp-4.2/linuxptp-4.2"),
    };
    (dir.join("ptp4l").is_file() && dir.join("pmc").is_file()).then_some(dir)
}

/// A child killed and reaped when dropped.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What every lab ptp4l's `[global]` has: layer 2, software timestamping, a servo that never
/// adjusts a clock, fast sync and announce intervals.
pub const SOFTWARE_COMMON: &str = "network_transport L2\ntime_stamping software\nclock_servo nullf\nlogSyncInterval -2\nlogAnnounceInterval -2\nannounceReceiptTimeout 2\n";

/// Writes `<dir>/<name>.conf`: `[global]` with `domainNumber`, [`SOFTWARE_COMMON`], `extra`, and
/// `uds_address <dir>/<name>.socket` (and, for a build other than Debian's 3.1, the read-only
/// socket `<dir>/<name>.ro`, which 4.x would otherwise open in /var/run). Returns its path.
pub fn write_conf(bin: &Path, dir: &Path, name: &str, domain: u8, extra: &str) -> PathBuf {
    let conf = dir.join(format!("{name}.conf"));
    let mut text = format!(
        "[global]\ndomainNumber {domain}\n{SOFTWARE_COMMON}{extra}uds_address {}\n",
        dir.join(format!("{name}.socket")).display()
    );
    if bin != Path::new(DEBIAN_BIN) {
        text.push_str(&format!("uds_ro_address {}\n", dir.join(format!("{name}.ro")).display()));
    }
    std::fs::write(&conf, text).expect("ptp4l configuration written");
    conf
}

/// `bin/ptp4l -S -i IFACE... -f CONF` in `ns`, without CAP_SYS_TIME, its output discarded.
pub fn spawn_ptp4l(ns: &NetNs, bin: &Path, ifaces: &[&str], conf: &Path) -> Killed {
    let mut command = ns.command(WITHOUT_SYS_TIME[0]);
    command.args(&WITHOUT_SYS_TIME[1..]).arg(bin.join("ptp4l")).arg("-S");
    for iface in ifaces {
        command.args(["-i", iface]);
    }
    Killed(command.arg("-f").arg(conf).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("ptp4l starts"))
}

/// A software grandmaster on `iface` in `ns` (configuration `<dir>/<name>.conf`, `extra` e.g.
/// `priority1 100\n`).
pub fn grandmaster(ns: &NetNs, bin: &Path, dir: &Path, name: &str, iface: &str, domain: u8, extra: &str) -> Killed {
    let conf = write_conf(bin, dir, name, domain, extra);
    spawn_ptp4l(ns, bin, &[iface], &conf)
}

/// A `ptp4l` for the agent's `--bin-dir` (`<dir>/bin`, returned): it runs `bin/ptp4l` inside
/// `ns` without CAP_SYS_TIME, with the agent's arguments (and, for 4.x, a read-only socket in
/// `dir`: a key the agent owns, so the wrapper adds it).
pub fn ptp4l_wrapper(dir: &Path, ns: &NetNs, bin: &Path) -> PathBuf {
    let wrappers = dir.join("bin");
    std::fs::create_dir_all(&wrappers).expect("bin dir");
    let ro = if bin == Path::new(DEBIAN_BIN) {
        String::new()
    } else {
        format!(" --uds_ro_address {}", dir.join("slave.ro").display())
    };
    let wrapper = wrappers.join("ptp4l");
    let script = format!(
        "#!/bin/sh\nexec ip netns exec {} {} {} \"$@\"{ro}\n",
        ns.name(),
        WITHOUT_SYS_TIME.join(" "),
        bin.join("ptp4l").display()
    );
    std::fs::write(&wrapper, script).expect("wrapper written");
    std::fs::set_permissions(&wrapper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("executable");
    wrappers
}

/// The linuxptp versions the lab tests run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// Debian's 3.1.1 ([`DEBIAN_BIN`]).
    V31,
    /// 4.2, when `scripts/linuxptp.sh` built it ([`linuxptp_42`]).
    V42,
}

impl Version {
    /// `3.1` or `4.2`, as the tests print it.
    pub fn name(self) -> &'static str {
        match self {
            Version::V31 => "3.1",
            Version::V42 => "4.2",
        }
    }
}

/// Whether the root test `test` may run real linuxptp `version`, and its binaries' directory:
/// root ([`crate::root::require_root`]: a loud skip, or a failure when root tests are required),
/// the build present (4.2: a loud skip without it), and `setpriv` able to drop CAP_SYS_TIME
/// (panics otherwise: nothing may adjust this machine's clock).
pub fn lab_bin(test: &str, version: Version) -> Option<PathBuf> {
    if !crate::root::require_root(test) {
        return None;
    }
    let bin = match version {
        Version::V31 => PathBuf::from(DEBIAN_BIN),
        Version::V42 => match linuxptp_42() {
            Some(bin) => bin,
            None => {
                // Straight to the process's stderr: the harness captures `eprintln!` of passing
                // tests, and a skip must be seen.
                use std::io::Write;
                let bar = "!".repeat(78);
                let _ = writeln!(
                    std::io::stderr().lock(),
                    "\n{bar}\n!!! SKIPPED {test}: no linuxptp 4.2 build (scripts/linuxptp.sh, or PTP_LINUXPTP_42_DIR)\n{bar}\n"
                );
                return None;
            }
        },
    };
    crate::sys_time::check_without_sys_time().expect("setpriv drops CAP_SYS_TIME");
    Some(bin)
}

/// The source of the lab's `LD_PRELOAD` shim (see its module documentation).
const NO_ADJTIME_SOURCE: &str = include_str!("../preload/noadjtime.rs");

/// The lab's `LD_PRELOAD` library that lets linuxptp's clock adjustments succeed without reaching
/// the kernel (`preload/noadjtime.rs`): compiled with `rustc` (on `PATH`, or `$RUSTC`) into the
/// temporary directory once per version of its source. Panics when it cannot be built: the lab
/// tests that need it cannot run as intended without it.
pub fn no_adjtime() -> PathBuf {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    NO_ADJTIME_SOURCE.hash(&mut hasher);
    let dir = std::env::temp_dir().join(format!("ptp-testkit-noadjtime-{:016x}", hasher.finish()));
    let library = dir.join("libnoadjtime.so");
    // One build per process (the tests of a binary run in threads); the partial file's name is
    // the process's, so that test binaries running at once do not share it either.
    static BUILDING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _building = BUILDING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if library.is_file() {
        return library;
    }
    std::fs::create_dir_all(&dir).expect("shim directory");
    let source = dir.join("noadjtime.rs");
    std::fs::write(&source, NO_ADJTIME_SOURCE).expect("shim source written");
    // Built beside, then renamed: parallel tests never load a half-written library.
    let partial = dir.join(format!("libnoadjtime.{}.partial", std::process::id()));
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let status = std::process::Command::new(rustc)
        .args(["--edition", "2021", "--crate-type", "cdylib", "-C", "opt-level=1", "-o"])
        .arg(&partial)
        .arg(&source)
        .status()
        .expect("rustc runs");
    assert!(status.success(), "rustc could not build {}", source.display());
    if let Err(e) = std::fs::rename(&partial, &library) {
        assert!(library.is_file(), "shim {} not in place: {e}", library.display());
    }
    library
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Adjustments succeed and change nothing; reads go to the kernel. Run in a child with the
    /// library preloaded and without CAP_SYS_TIME: `adjtimex` from Python's ctypes.
    #[test]
    fn the_shim_lets_adjustments_succeed_without_touching_the_clock() {
        if !crate::root::require_root("the_shim_lets_adjustments_succeed_without_touching_the_clock") {
            return;
        }
        let library = no_adjtime();
        let script = r#"
import ctypes, sys
libc = ctypes.CDLL(None)
tx = (ctypes.c_uint * 64)()
read = libc.adjtimex(ctypes.byref(tx))
before = tx[2]  # offset field group: only compared, not interpreted
tx[0] = 0x0002  # ADJ_FREQUENCY
tx[4] = 12345   # freq (any value)
print(read >= 0, libc.adjtimex(ctypes.byref(tx)), libc.clock_settime(0, ctypes.byref(tx)))
"#;
        let out = std::process::Command::new(WITHOUT_SYS_TIME[0])
            .args(&WITHOUT_SYS_TIME[1..])
            .args(["env", &format!("LD_PRELOAD={}", library.display()), "python3", "-c", script])
            .output()
            .expect("python3 runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "True 0 0", "set calls succeed under the shim");
        let without = std::process::Command::new(WITHOUT_SYS_TIME[0])
            .args(&WITHOUT_SYS_TIME[1..])
            .args(["python3", "-c", script])
            .output()
            .expect("python3 runs");
        assert_eq!(
            String::from_utf8_lossy(&without.stdout).trim(),
            "True -1 -1",
            "and fail without it (no CAP_SYS_TIME)"
        );
    }
}
