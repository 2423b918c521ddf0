//! `haProfiles` through the runtime, with fake linuxptp programs (shell scripts; no root): the HA
//! profile's phc2sys gets one `-z` per HA profile's ptp4l socket (and `-a`), and
//! `openshift_ptp_ha_profile_status` follows its `selecting <iface> as out-of-domain source
//! clock` lines; on linuxptp 3.1 the HA profile is refused, the others run.

use std::time::{Duration, Instant};

use prometheus_client::registry::Registry;
use ptp_agent::linuxptp::{Linuxptp, Version};
use ptp_agent::metrics::AgentMetrics;
use ptp_agent::runtime::{Runtime, RuntimeSettings};
use ptp_api::decode_node_profiles;

/// A ptp4l that runs and prints nothing.
const FAKE_PTP4L: &str = "while :; do sleep 0.2; done\n";

/// A phc2sys that writes its arguments next to itself, follows `ens2f0`, then, once
/// `$0.switch` exists, `ens1f0`.
const FAKE_PHC2SYS: &str = r#"echo "$@" > "$0.args"
tag=""; prev=""
for a in "$@"; do [ "$prev" = "-t" ] && tag="$a"; prev="$a"; done
echo "phc2sys[1.0]: $tag selecting ens2f0 as out-of-domain source clock"
while [ ! -e "$0.switch" ]; do sleep 0.1; done
echo "phc2sys[2.0]: $tag selecting ens1f0 as out-of-domain source clock"
while :; do sleep 0.2; done
"#;

const PROFILES: &str = r#"[
  {"name":"cfg_nic1","interface":"ens1f0","ptp4lOpts":"-2","phc2sysOpts":""},
  {"name":"cfg_nic2","interface":"ens2f0","ptp4lOpts":"-2","phc2sysOpts":""},
  {"name":"cfg_ha","ptp4lOpts":"","phc2sysOpts":"-r -n 24","ptpSettings":{"haProfiles":"cfg_nic1,cfg_nic2"}}
]"#;

fn text(registry: &Registry) -> String {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, registry).unwrap();
    text
}

fn status(profile: &str, value: u8) -> String {
    format!("openshift_ptp_ha_profile_status{{process=\"phc2sys\",node=\"n\",profile=\"{profile}\"}} {value}")
}

async fn wait(registry: &Registry, what: &str, mut condition: impl FnMut(&str) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let t = text(registry);
        if condition(&t) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}:\n{t}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn runtime(tag: &str, linuxptp: Linuxptp) -> (Runtime, Registry, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("ptp-ha-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let bin = dir.join("bin");
    for (name, body) in [("ptp4l", FAKE_PTP4L), ("phc2sys", FAKE_PHC2SYS)] {
        ptp_testkit::fixtures::install_fake(&bin, name, body).unwrap();
    }
    let settings = RuntimeSettings {
        node: "n".into(),
        run_dir: dir.join("run"),
        bin_dir: Some(bin),
        linuxptp,
        supervisor: ptp_agent::supervise::SupervisorSettings::default(),
    };
    let mut registry = Registry::default();
    let metrics = AgentMetrics::register(&mut registry, "n");
    let (runtime, lines) = Runtime::new(settings, metrics);
    let _consumer = runtime.consume_logs(lines);
    (runtime, registry, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ha_phc2sys_follows_the_profiles_sockets_and_its_selection_is_the_ha_status() {
    let (mut runtime, registry, dir) = runtime("42", Linuxptp::Known(Version::new(4, 2, 0))).await;
    let plan = runtime.apply(&decode_node_profiles(PROFILES).unwrap()).await;
    assert!(plan.refused.is_empty(), "{:?}", plan.refused);
    let ids: Vec<u32> = ["cfg_nic1", "cfg_nic2", "cfg_ha"].iter().map(|n| plan.next[*n].plan.run_id).collect();
    wait(&registry, "ha status of the first selection", |t| {
        t.contains(&status("cfg_nic1", 0)) && t.contains(&status("cfg_nic2", 1))
    })
    .await;
    let args = std::fs::read_to_string(dir.join("bin/phc2sys.args")).unwrap();
    let run = dir.join("run");
    let expected = format!(
        "-z {} -z {} -a -t [ptp4l.{}.config] -m -r -n 24",
        run.join(format!("ptp4l.{}.socket", ids[0])).display(),
        run.join(format!("ptp4l.{}.socket", ids[1])).display(),
        ids[2]
    );
    assert_eq!(args.trim(), expected);
    std::fs::write(dir.join("bin/phc2sys.switch"), "").unwrap();
    wait(&registry, "ha status of the second selection", |t| {
        t.contains(&status("cfg_nic1", 1)) && t.contains(&status("cfg_nic2", 0))
    })
    .await;
    // The HA profile goes: its series go with it.
    let mut without_ha: Vec<serde_json::Value> = serde_json::from_str(PROFILES).unwrap();
    without_ha.retain(|p| p["name"] != "cfg_ha");
    let plan = runtime.apply(&decode_node_profiles(&serde_json::to_string(&without_ha).unwrap()).unwrap()).await;
    assert_eq!((plan.stop.as_slice(), plan.keep.len()), (&["cfg_ha".to_string()][..], 2));
    assert!(!text(&registry).contains("openshift_ptp_ha_profile_status{"), "{}", text(&registry));
    runtime.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_linuxptp_3_1_the_ha_profile_is_refused_and_the_others_run() {
    let (mut runtime, registry, dir) = runtime("31", Linuxptp::Known(Version::new(3, 1, 1))).await;
    let plan = runtime.apply(&decode_node_profiles(PROFILES).unwrap()).await;
    assert_eq!(plan.start, ["cfg_nic1", "cfg_nic2"]);
    assert_eq!(plan.refused.len(), 1);
    assert_eq!(plan.refused[0].profile.as_deref(), Some("cfg_ha"));
    assert!(plan.refused[0].reason.contains("needs linuxptp 4.2 or later; this node runs 3.1.1"), "{:?}", plan.refused);
    assert!(text(&registry).contains("ptp_agent_refused_profiles 1"));
    runtime.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}
