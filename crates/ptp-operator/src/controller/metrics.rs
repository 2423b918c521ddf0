//! The operator's Prometheus metrics (`ptp_operator_*`), served on `/metrics`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of the write counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WriteLabels {
    /// `configmap`, `status`, `nodeptpdevice_create`, `nodeptpdevice_delete`, `event`.
    pub kind: String,
}

/// Handles to every metric; cheap to clone (the metrics are shared).
#[derive(Clone)]
pub struct OperatorMetrics {
    pub reconciles: Counter,
    pub reconcile_errors: Counter,
    pub reconcile_duration: Histogram,
    pub nodes: Gauge,
    pub ptpconfigs: Gauge,
    pub undecodable_ptpconfigs: Gauge,
    pub configmap_bytes: Gauge,
    /// 0 while the rendered ConfigMap is over the API server's object limit (not written).
    pub configmap_within_limit: Gauge,
    pub writes: Family<WriteLabels, Counter>,
    pub leader: Gauge,
}

impl OperatorMetrics {
    /// Creates the metrics and registers them under the `ptp_operator` prefix.
    pub fn register(registry: &mut Registry) -> Self {
        let m = OperatorMetrics {
            reconciles: Counter::default(),
            reconcile_errors: Counter::default(),
            reconcile_duration: Histogram::new(exponential_buckets(0.0005, 2.0, 16)),
            nodes: Gauge::default(),
            ptpconfigs: Gauge::default(),
            undecodable_ptpconfigs: Gauge::default(),
            configmap_bytes: Gauge::default(),
            configmap_within_limit: Gauge::default(),
            writes: Family::default(),
            leader: Gauge::default(),
        };
        let r = registry.sub_registry_with_prefix("ptp_operator");
        r.register("reconciles", "Reconciles run by the leader", m.reconciles.clone());
        r.register("reconcile_errors", "Reconciles with at least one failed API call", m.reconcile_errors.clone());
        r.register(
            "reconcile_duration_seconds",
            "Time of one reconcile (render and writes)",
            m.reconcile_duration.clone(),
        );
        r.register("nodes", "Nodes known to the operator", m.nodes.clone());
        r.register("ptpconfigs", "PtpConfigs known to the operator", m.ptpconfigs.clone());
        r.register(
            "undecodable_ptpconfigs",
            "PtpConfigs whose spec this operator cannot decode (Valid=False, DecodeError)",
            m.undecodable_ptpconfigs.clone(),
        );
        r.register("configmap_bytes", "Size of the rendered ptp-configmap data", m.configmap_bytes.clone());
        m.configmap_within_limit.set(1);
        r.register(
            "configmap_within_limit",
            "0 while the rendered ptp-configmap is over the 1 MiB object limit: it is not written, nodes keep the stored version",
            m.configmap_within_limit.clone(),
        );
        r.register("writes", "API writes by kind", m.writes.clone());
        r.register("leader", "1 while this instance holds the leader lease", m.leader.clone());
        m
    }

    pub fn wrote(&self, kind: &str, n: usize) {
        self.writes.get_or_create(&WriteLabels { kind: kind.to_string() }).inc_by(n as u64);
    }
}

pub use ptp_serve::probes::encode;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_exposed_with_the_prefix() {
        let mut registry = Registry::default();
        let m = OperatorMetrics::register(&mut registry);
        m.reconciles.inc();
        m.nodes.set(3);
        m.wrote("configmap", 1);
        m.reconcile_duration.observe(0.01);
        let text = encode(&registry);
        for needle in [
            "ptp_operator_reconciles_total 1",
            "ptp_operator_nodes 3",
            "ptp_operator_writes_total{kind=\"configmap\"} 1",
            "ptp_operator_reconcile_duration_seconds_count 1",
            "ptp_operator_configmap_bytes 0",
            "ptp_operator_undecodable_ptpconfigs 0",
        ] {
            assert!(text.contains(needle), "{needle} missing in\n{text}");
        }
    }
}
