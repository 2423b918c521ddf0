//! Running netlink work inside another network namespace: a fresh thread enters it (`setns`)
//! and opens its sockets there; sockets stay bound to the namespace they were created in.

use std::path::Path;

use nix::sched::{CloneFlags, setns};

use super::NicError;

/// Runs `work` in a new thread that has entered the network namespace at `path`
/// (`/run/netns/NAME`, `/proc/PID/ns/net`). The thread ends with `work`, so no other code runs
/// in the namespace by accident.
pub fn in_netns<T, F>(path: &Path, work: F) -> Result<T, NicError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, NicError> + Send + 'static,
{
    let netns_error = |message: String| NicError::Netns { path: path.display().to_string(), message };
    let file = std::fs::File::open(path).map_err(|e| netns_error(e.to_string()))?;
    let thread = std::thread::Builder::new()
        .name("ptp-netns".into())
        .spawn(move || -> Result<Result<T, NicError>, String> {
            setns(&file, CloneFlags::CLONE_NEWNET).map_err(|e| format!("setns: {e}"))?;
            Ok(work())
        })
        .map_err(|e| netns_error(e.to_string()))?;
    match thread.join() {
        Ok(Ok(result)) => result,
        Ok(Err(message)) => Err(netns_error(message)),
        Err(_) => Err(netns_error("the worker thread panicked".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_namespace_is_a_clear_error() {
        let err = in_netns(Path::new("/run/netns/ptp-no-such-ns"), || Ok(())).unwrap_err().to_string();
        assert!(err.contains("/run/netns/ptp-no-such-ns"), "{err}");
    }

    #[test]
    fn own_namespace_runs_the_work() {
        // Entering the namespace we are already in needs CAP_SYS_ADMIN; without it the error
        // must name setns rather than panic.
        match in_netns(Path::new("/proc/self/ns/net"), || Ok(41 + 1)) {
            Ok(v) => assert_eq!(v, 42),
            Err(e) => assert!(e.to_string().contains("setns"), "{e}"),
        }
    }
}
