//! The kubeconfig file pointing at the server (plain HTTP, no credentials).

use std::path::Path;

use crate::error::Result;

/// Name of the cluster, context and user in the file.
pub const CONTEXT: &str = "ptp-testkit";

/// The kubeconfig text for `server` (e.g. `http://127.0.0.1:41234`).
pub fn render(server: &str, namespace: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: {CONTEXT}\n  cluster:\n    server: {server}\ncontexts:\n- name: {CONTEXT}\n  context:\n    cluster: {CONTEXT}\n    user: {CONTEXT}\n    namespace: {namespace}\ncurrent-context: {CONTEXT}\nusers:\n- name: {CONTEXT}\n  user: {{}}\npreferences: {{}}\n"
    )
}

pub fn write(path: &Path, server: &str) -> Result<()> {
    std::fs::write(path, render(server, "default"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kube_parses_it() {
        let text = render("http://127.0.0.1:1234", "default");
        let kc = kube::config::Kubeconfig::from_yaml(&text).unwrap();
        assert_eq!(kc.current_context.as_deref(), Some(CONTEXT));
        let cluster = kc.clusters[0].cluster.as_ref().unwrap();
        assert_eq!(cluster.server.as_deref(), Some("http://127.0.0.1:1234"));
    }
}
