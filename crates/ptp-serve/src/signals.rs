//! Shutdown on a signal, for both binaries.

/// A future resolving when the process is asked to stop: SIGTERM (kubelet) or SIGINT (a
/// terminal). The handlers are installed by this call, so that a signal arriving before the
/// future is first polled is not lost (nor kills the process with its default action).
pub fn terminated() -> std::io::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}
