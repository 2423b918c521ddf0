//! The controller as the integration tests run it: settings with short timings, and a running
//! instance (its leadership, its metrics) that stops on demand. Included with
//! `#[path = "support/controller.rs"] mod harness;` by the controller tests; each uses a part.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::{Api, Client};
use prometheus_client::registry::Registry;
use ptp_operator::controller::leader::LeaseTiming;
use ptp_operator::controller::metrics::encode;
use ptp_operator::controller::run::{Controller, ControllerSettings};
use ptp_operator::controller::selector::LabelSelector;
use ptp_testkit::cluster::wait_until;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The ConfigMap the controller writes.
pub const CM: &str = "ptp-configmap";

/// Settings for an operator in `namespace` watching PtpConfigs there only, picking the Nodes
/// `agent_selector` selects, as `identity`, without leader election (a 3 s lease when enabled),
/// a 100 ms debounce and a 500 ms resync; tests change what they need with `..settings(..)`.
pub fn settings(namespace: &str, agent_selector: &str, identity: &str) -> ControllerSettings {
    ControllerSettings {
        namespace: namespace.into(),
        watch_namespaces: vec![namespace.into()],
        configmap_name: CM.into(),
        write_configmap: true,
        agent_selector: LabelSelector::parse(agent_selector).unwrap(),
        leader_election: false,
        lease_name: "ptp-operator-leader".into(),
        identity: identity.into(),
        lease_timing: LeaseTiming {
            duration: Duration::from_secs(3),
            retry: Duration::from_millis(200),
            renew_deadline: Duration::from_secs(2),
        },
        debounce: Duration::from_millis(100),
        resync: Duration::from_millis(500),
        metrics_addr: None,
        health_addr: None,
        metrics_security: Default::default(),
    }
}

/// `node`'s key of the ConfigMap in `ns`, once `predicate` holds for it (30 s at most).
pub async fn configmap_key(admin: &Client, ns: &str, node: &str, predicate: impl Fn(&str) -> bool) -> String {
    let cms: Api<ConfigMap> = Api::namespaced(admin.clone(), ns);
    let has = |cm: &ConfigMap| cm.data.as_ref().and_then(|d| d.get(node)).is_some_and(|v| predicate(v));
    let cm = wait_until(&cms, CM, Duration::from_secs(30), has)
        .await
        .unwrap_or_else(|e| panic!("ConfigMap key {node}: {e}"));
    cm.data.unwrap()[node].clone()
}

/// A controller running in a task of its own.
pub struct Running {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    /// Whether it leads.
    pub leader: watch::Receiver<bool>,
    registry: Arc<Registry>,
}

impl Running {
    pub fn start(client: Client, settings: ControllerSettings) -> Self {
        let _ = tracing_subscriber::fmt().with_test_writer().with_env_filter("ptp_operator=debug").try_init();
        let controller = Controller::new(client, settings);
        let leader = controller.leader();
        let registry = controller.registry();
        let (stop, shutdown) = watch::channel(false);
        let task = tokio::spawn(async move {
            controller.run(shutdown).await.expect("controller runs");
        });
        Running { stop, task, leader, registry }
    }

    /// The value of the unlabelled sample `name`, 0 when absent.
    pub fn metric(&self, name: &str) -> f64 {
        encode(&self.registry)
            .lines()
            .find_map(|l| {
                l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')).and_then(|v| v.trim().parse().ok())
            })
            .unwrap_or(0.0)
    }

    /// Stops it, failing the test when it takes over 10 s or the task panicked.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        tokio::time::timeout(Duration::from_secs(10), self.task).await.expect("stops in time").expect("no panic");
    }
}
