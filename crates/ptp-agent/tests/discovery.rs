//! Real netlink discovery: against veth pairs and a bridge in a network namespace the
//! test creates (root), and against every interface of the host namespace, each compared with
//! what `ethtool -T` prints for the same interface.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use ptp_agent::Error;
use ptp_agent::nic::model::TsSource;
use ptp_agent::nic::{Discovery, LinkWatcher, Nic, Selection, select};
use ptp_testkit::netns::NetNs;
use ptp_testkit::root::require_root;

const AGENT: &str = env!("CARGO_BIN_EXE_ptp-agent");

/// What `ethtool -T` prints for one interface.
#[derive(Debug, Default, PartialEq, Eq)]
struct EthtoolT {
    capabilities: Vec<String>,
    phc: Option<u32>,
    tx_types: Vec<String>,
    rx_filters: Vec<String>,
}

fn parse_ethtool_t(text: &str) -> EthtoolT {
    let mut out = EthtoolT::default();
    let mut section: Option<&str> = None;
    for line in text.lines() {
        if let Some(item) = line.strip_prefix('\t') {
            let name = item.split_whitespace().next().unwrap_or_default().to_string();
            match section {
                Some("Capabilities") => out.capabilities.push(name),
                Some("Hardware Transmit Timestamp Modes") => out.tx_types.push(name),
                Some("Hardware Receive Filter Modes") => out.rx_filters.push(name),
                _ => {}
            }
            continue;
        }
        let Some((key, value)) = line.split_once(':') else { continue };
        section = Some(match key {
            "Capabilities" => "Capabilities",
            "Hardware Transmit Timestamp Modes" => "Hardware Transmit Timestamp Modes",
            "Hardware Receive Filter Modes" => "Hardware Receive Filter Modes",
            _ => "",
        });
        if key == "PTP Hardware Clock" {
            out.phc = value.trim().parse().ok();
        }
    }
    out
}

#[test]
fn parses_ethtool_t_output() {
    let text = "Time stamping parameters for ens1f0:\nCapabilities:\n\thardware-transmit\n\tsoftware-transmit\n\t\
                hardware-raw-clock    (SOF_TIMESTAMPING_RAW_HARDWARE)\nPTP Hardware Clock: 2\n\
                Hardware Transmit Timestamp Modes:\n\toff\n\ton\nHardware Receive Filter Modes:\n\tnone\n\tall\n";
    let parsed = parse_ethtool_t(text);
    assert_eq!(parsed.capabilities, ["hardware-transmit", "software-transmit", "hardware-raw-clock"]);
    assert_eq!(parsed.phc, Some(2));
    assert_eq!((parsed.tx_types.len(), parsed.rx_filters.len()), (2, 2));
    let none = parse_ethtool_t(
        "Capabilities:\n\tsoftware-receive\nPTP Hardware Clock: none\nHardware Transmit Timestamp Modes: none\n",
    );
    assert_eq!((none.phc, none.tx_types.len()), (None, 0));
}

/// `ptp-agent nics --all -o json`, in `ns` or in the current namespace.
fn agent_nics(ns: Option<&NetNs>) -> Vec<Nic> {
    let mut command = match ns {
        Some(ns) => {
            let mut c = ns.command(AGENT);
            c.args(["nics", "--all", "-o", "json"]);
            c
        }
        None => {
            let mut c = Command::new(AGENT);
            c.args(["nics", "--all", "-o", "json"]);
            c
        }
    };
    let output = command.output().unwrap();
    assert!(output.status.success(), "ptp-agent nics failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

fn ethtool_t(ns: Option<&NetNs>, name: &str) -> Option<EthtoolT> {
    let output = match ns {
        Some(ns) => ns.command("ethtool").args(["-T", name]).output(),
        None => Command::new("ethtool").args(["-T", name]).output(),
    }
    .unwrap();
    // An interface can vanish between the two reads (parallel tests on the host).
    output.status.success().then(|| parse_ethtool_t(&String::from_utf8_lossy(&output.stdout)))
}

/// Compares every interface; returns how many were compared.
fn compare_with_ethtool(ns: Option<&NetNs>, nics: &[Nic]) -> usize {
    let mut compared = 0;
    let mut mismatches = Vec::new();
    for nic in nics {
        let Some(ethtool) = ethtool_t(ns, &nic.name) else { continue };
        let ours = EthtoolT {
            capabilities: nic.timestamping.clone(),
            phc: nic.phc_index,
            tx_types: nic.tx_types.clone(),
            rx_filters: nic.rx_filters.clone(),
        };
        if ours != ethtool {
            mismatches.push(format!("{}: ours {ours:?} ethtool {ethtool:?}", nic.name));
        }
        compared += 1;
    }
    assert!(mismatches.is_empty(), "differences from ethtool -T:\n{}", mismatches.join("\n"));
    compared
}

#[test]
fn every_host_interface_matches_ethtool() {
    let nics = agent_nics(None);
    assert!(nics.iter().any(|n| n.name == "lo" && n.loopback), "{nics:?}");
    let compared = compare_with_ethtool(None, &nics);
    assert!(compared >= 1);
    eprintln!("compared {compared} host interfaces with ethtool -T");
}

#[test]
fn veths_and_a_bridge_in_a_namespace_match_ethtool() {
    if !require_root("veths_and_a_bridge_in_a_namespace_match_ethtool") {
        return;
    }
    let ns = NetNs::new("ptpdisc").unwrap();
    ns.add_veth_pair("va", "vb").unwrap();
    ns.add_veth_pairs("p", 3).unwrap();
    ns.ip(["link", "add", "br0", "type", "bridge"]).unwrap();
    ns.ip(["link", "set", "vb", "master", "br0"]).unwrap();
    let nics = agent_nics(Some(&ns));
    let mut names: Vec<&str> = nics.iter().map(|n| n.name.as_str()).collect();
    names.sort_unstable();
    let mut expected = ns.links().unwrap();
    expected.sort_unstable();
    assert_eq!(names, expected, "exactly the namespace's interfaces");
    assert_eq!(compare_with_ethtool(Some(&ns), &nics), expected.len());
    let by_name: BTreeMap<&str, &Nic> = nics.iter().map(|n| (n.name.as_str(), n)).collect();
    let va = by_name["va"];
    assert_eq!((va.kind.as_deref(), va.driver.as_deref(), va.ptp_capable), (Some("veth"), Some("veth"), false));
    assert_eq!(va.link_status.as_deref(), Some("up"));
    assert!(by_name["br0"].timestamping.contains(&"software-receive".to_string()));
    assert_ne!(by_name["br0"].source, TsSource::Fallback, "the per-device request answered");
}

#[test]
fn in_process_discovery_enters_the_namespace_and_watches_its_links() {
    if !require_root("in_process_discovery_enters_the_namespace_and_watches_its_links") {
        return;
    }
    let ns = NetNs::new("ptpwatch").unwrap();
    ns.add_veth_pair("wa", "wb").unwrap();
    let discovery = Discovery { netns: Some(ns.path()), ..Discovery::default() };
    let nics = discovery.discover().unwrap();
    let names: Vec<&str> = nics.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names.len(), 3, "lo, wa, wb: {names:?}");
    assert!(nics.iter().all(|n| n.providers >= 1 && !n.ptp_capable));
    // Compact bitsets give the same names as verbose ones.
    let compact = Discovery { compact: true, ..discovery.clone() }.discover().unwrap();
    assert_eq!(
        compact.iter().map(|n| &n.timestamping).collect::<Vec<_>>(),
        nics.iter().map(|n| &n.timestamping).collect::<Vec<_>>()
    );
    // The candidate path (one TSINFO dump) selects exactly what the complete view selects.
    let candidates = discovery.candidates().unwrap();
    for selection in [
        Selection::default(),
        Selection { include_software: true, ..Selection::default() },
        Selection { include_software: true, include_vfs: true, ..Selection::default() },
    ] {
        let pick = |list: &[Nic]| {
            select(list, &selection).into_iter().map(|n| (n.name, n.timestamping, n.ptp_capable)).collect::<Vec<_>>()
        };
        assert_eq!(pick(&candidates), pick(&nics), "{selection:?}");
    }
    assert_eq!(
        pick_names(&select(&candidates, &Selection { include_software: true, ..Selection::default() })),
        ["wa", "wb"]
    );
    let wa = discovery.discover_one("wa").unwrap();
    assert_eq!((wa.name.as_str(), wa.source), ("wa", TsSource::Request));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let mut watcher = LinkWatcher::open(Some(&ns.path())).unwrap();
        ns.add_veth_pair("wc", "wd").unwrap();
        tokio::time::timeout(Duration::from_secs(5), watcher.changed()).await.expect("a notification").unwrap();
    });
    assert_eq!(discovery.discover().unwrap().len(), 5);
}

#[test]
fn unknown_interface_carries_the_kernels_message() {
    let err = Discovery::default().discover_one("ptp-nosuch0").unwrap_err();
    match err {
        Error::Kernel { errno, message } => {
            assert_eq!(errno, libc_enodev());
            assert!(message.is_some_and(|m| m.contains("device")), "extended ack text");
        }
        other => panic!("expected a kernel error, got {other}"),
    }
    let lo = Discovery::default().discover_one("lo").unwrap();
    assert!(lo.loopback && lo.timestamping.contains(&"software-receive".to_string()));
}

fn libc_enodev() -> i32 {
    19
}

#[test]
fn missing_namespace_is_reported() {
    let err = Discovery { netns: Some(Path::new("/run/netns/ptp-absent").into()), ..Discovery::default() }
        .discover()
        .unwrap_err();
    assert!(err.to_string().contains("/run/netns/ptp-absent"), "{err}");
}

fn pick_names(nics: &[Nic]) -> Vec<&str> {
    nics.iter().map(|n| n.name.as_str()).collect()
}
