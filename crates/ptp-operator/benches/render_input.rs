//! `ptp-operator render` (the real binary) on a generated `kubectl get nodes -o yaml` List of
//! realistic Nodes: 50,000 by default (`NODES=n` to change). Prints the input size, the wall
//! time and the peak RSS of the process, and checks the ConfigMap it printed.

#[path = "../tests/support/nodes.rs"]
mod nodes;

use std::io::BufWriter;
use std::process::{Command, Stdio};
use std::time::Instant;

fn main() {
    let count: usize = std::env::var("NODES").ok().and_then(|v| v.parse().ok()).unwrap_or(50_000);
    let dir = std::env::temp_dir().join(format!("ptp-render-input-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let nodes_file = dir.join("nodes.yaml");
    let started = Instant::now();
    let mut out = BufWriter::new(std::fs::File::create(&nodes_file).expect("create nodes.yaml"));
    nodes::write_node_list(&mut out, count).expect("write nodes.yaml");
    drop(out);
    let generated = started.elapsed();
    std::fs::write(
        dir.join("ptp.yaml"),
        "apiVersion: ptp.openshift.io/v1\nkind: PtpConfig\nmetadata: {name: oc, namespace: openshift-ptp}\nspec:\n  profile: [{name: p, interface: ens1f0, ptp4lOpts: '-2 -s'}]\n  recommend: [{profile: p, priority: 4, match: [{nodeLabel: ptp}]}]\n",
    )
    .expect("write ptp.yaml");
    let bytes = std::fs::metadata(&nodes_file).map(|m| m.len()).unwrap_or(0);

    let output_file = dir.join("configmap.json");
    let started = Instant::now();
    let status = Command::new(env!("CARGO_BIN_EXE_ptp-operator"))
        .args(["render", "-f", "nodes.yaml", "-f", "ptp.yaml", "-o", "json"])
        .current_dir(&dir)
        .stdout(std::fs::File::create(&output_file).expect("create output"))
        .stderr(Stdio::inherit())
        .status()
        .expect("runs ptp-operator");
    let elapsed = started.elapsed();
    let peak_kib = peak_rss_of_children_kib();

    let text = std::fs::read_to_string(&output_file).expect("read output");
    let configmap: serde_json::Value = serde_json::from_str(&text).expect("JSON ConfigMap");
    let data = configmap["data"].as_object().map(serde_json::Map::len).unwrap_or(0);
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "render -f nodes.yaml: {count} realistic Nodes, {:.0} MB of YAML ({} B per Node; generated in {:.1} s): exit {:?}, {data} ConfigMap keys, {:.1} s, peak RSS {:.0} MiB",
        bytes as f64 / 1e6,
        bytes / count.max(1) as u64,
        generated.as_secs_f64(),
        status.code(),
        elapsed.as_secs_f64(),
        peak_kib as f64 / 1024.0,
    );
    assert_eq!(status.code(), Some(0), "render failed");
    assert_eq!(data, count, "one key per node");
}

/// The largest peak resident set size (KiB) of the children waited for.
#[allow(unsafe_code)] // a syscall without a safe wrapper: see the SAFETY comment
fn peak_rss_of_children_kib() -> i64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes one `rusage` through the pointer, which is valid for that write.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr()) };
    if rc != 0 {
        return -1;
    }
    // SAFETY: the successful call above initialised it (and it was zeroed before).
    unsafe { usage.assume_init() }.ru_maxrss
}
