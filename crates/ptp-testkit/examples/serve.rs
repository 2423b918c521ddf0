//! Serve the API-server double until Ctrl-C, for poking at it with kubectl or the binaries:
//! `cargo run -p ptp-testkit --example serve -- [PORT]`, then `KUBECONFIG=<printed path> kubectl ...`.

use k8s_openapi::api::core::v1::Namespace;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port = std::env::args().nth(1).map(|p| p.parse()).transpose()?.unwrap_or(0);
    let server = ptp_testkit::ApiServer::builder().port(port).start().await?;
    let mut ns = Namespace::default();
    ns.metadata.name = Some("openshift-ptp".into());
    server.seed(&ns)?;
    println!("API-server double on {}", server.url());
    println!("export KUBECONFIG={}", server.kubeconfig_path().display());
    tokio::signal::ctrl_c().await?;
    Ok(())
}
