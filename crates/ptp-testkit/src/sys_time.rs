//! Keeping tests away from this machine's clock: every linuxptp process a test starts runs
//! under `setpriv`, without CAP_SYS_TIME in its inheritable and bounding sets, so each clock
//! adjustment fails with EPERM while the servo still runs.

use std::process::Command;

/// The command prefix: `setpriv --inh-caps -sys_time --bounding-set -sys_time PROGRAM ...`.
pub const WITHOUT_SYS_TIME: [&str; 5] = ["setpriv", "--inh-caps", "-sys_time", "--bounding-set", "-sys_time"];

/// CAP_SYS_TIME's bit in the `/proc/PID/status` capability masks.
const CAP_SYS_TIME: u32 = 25;

/// Checks, by running `cat /proc/self/status` under the prefix, that CAP_SYS_TIME is gone from
/// the effective, permitted and bounding sets. An error says which set still holds it.
pub fn check_without_sys_time() -> Result<(), String> {
    let output = Command::new(WITHOUT_SYS_TIME[0])
        .args(&WITHOUT_SYS_TIME[1..])
        .args(["cat", "/proc/self/status"])
        .output()
        .map_err(|e| format!("setpriv: {e}"))?;
    let status = String::from_utf8_lossy(&output.stdout);
    for set in ["CapEff:", "CapPrm:", "CapBnd:"] {
        let value = status.lines().find_map(|l| l.strip_prefix(set)).map(str::trim).ok_or(format!("no {set}"))?;
        let bits = u64::from_str_radix(value, 16).map_err(|e| format!("{set} {value}: {e}"))?;
        if bits >> CAP_SYS_TIME & 1 == 1 {
            return Err(format!("{set} still holds CAP_SYS_TIME; refusing to run linuxptp"));
        }
    }
    Ok(())
}
