//! `ptp-agent run` in API mode against the real kube-apiserver, authenticated as the chart's agent
//! ServiceAccount (a TokenRequest token, the chart's RBAC), with fake linuxptp programs (shell
//! scripts that print ptp4l's lines), so it needs no root: profiles come from the ConfigMap key of
//! the node, the runtime state lands in the NodePtpDevice status, only on change. Each test has
//! its own namespace (ConfigMap, NodePtpDevice, Events) on the shared control plane.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::events::v1::Event;
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use ptp_agent::run::cluster::{ClusterSettings, run};
use ptp_api::{ClockState, NodePtpDevice, NodePtpDeviceSpec};
use ptp_testkit::Verb;
use ptp_testkit::cluster::{ControlPlane, Identity, TestEnv, eventually, wait_until};
use tokio::sync::watch;

const NODE: &str = "node-1";

fn profiles(names: &[&str]) -> String {
    let items: Vec<String> = names
        .iter()
        .map(|n| serde_json::json!({"name": n, "interface": "eth9", "ptp4lOpts": "-S", "ptp4lConf": "[global]\nslaveOnly 1\n"}).to_string())
        .collect();
    format!("[{}]", items.join(","))
}

fn fake_ptp4l_pids(bin_dir: &Path) -> usize {
    let needle = bin_dir.join("ptp4l").display().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            String::from_utf8_lossy(&cmdline).contains(&needle)
        })
        .count()
}

/// A test namespace with the chart's RBAC, the node's NodePtpDevice (as the operator creates it)
/// and `ptp-configmap` holding `data`; the agent's identity. `None` without a control plane.
async fn cluster(test: &str, data: &[(&str, String)]) -> Option<(TestEnv, Identity)> {
    let cp = ControlPlane::for_test(test)?;
    let env = cp.env(test).await.unwrap();
    env.install_chart_rbac().await.unwrap();
    // The chart grants the ConfigMap's read with `agent.profileSource: configmap` only (its
    // default renders from the PtpConfigs): the same rules, for the tests of that mode.
    for doc in [
        serde_json::json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": "agent-configmap", "namespace": env.ns},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["ptp-configmap"], "verbs": ["get"]},
                      {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list", "watch"]}]}),
        serde_json::json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "agent-configmap", "namespace": env.ns},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "agent-configmap"},
            "subjects": [{"kind": "ServiceAccount", "name": "ptp-operator-agent", "namespace": env.ns}]}),
    ] {
        env.apply(doc).await.unwrap();
    }
    let agent = env.service_account("ptp-operator-agent").await.unwrap();
    let device = NodePtpDevice::new(NODE, NodePtpDeviceSpec {});
    devices(&env).create(&PostParams::default(), &device).await.unwrap();
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some("ptp-configmap".into());
    cm.data = Some(data.iter().map(|(k, v)| (k.to_string(), v.clone())).collect::<BTreeMap<_, _>>());
    configmaps(&env).create(&PostParams::default(), &cm).await.unwrap();
    Some((env, agent))
}

/// Waits until the `ProfilesValid` condition says the source value cannot be used, with a
/// message containing `message`.
async fn source_invalid(env: &TestEnv, message: &str) {
    wait_until(&devices(env), NODE, Duration::from_secs(15), |d| {
        d.status.as_ref().is_some_and(|s| {
            s.conditions.iter().any(|c| {
                c.type_ == "ProfilesValid"
                    && c.status == "False"
                    && c.reason == "ProfileSourceInvalid"
                    && c.message.contains(message)
            })
        })
    })
    .await
    .unwrap();
}

fn devices(env: &TestEnv) -> Api<NodePtpDevice> {
    Api::namespaced(env.admin.clone(), &env.ns)
}

fn configmaps(env: &TestEnv) -> Api<ConfigMap> {
    Api::namespaced(env.admin.clone(), &env.ns)
}

/// API-mode settings (or file mode with `profile`) without HTTP endpoints or NIC report.
fn settings(
    ns: &str,
    dir: &Path,
    bin_dir: Option<std::path::PathBuf>,
    profile: Option<std::path::PathBuf>,
) -> ClusterSettings {
    ClusterSettings {
        run: ptp_agent::run::RunSettings {
            profile,
            runtime: ptp_agent::runtime::RuntimeSettings {
                node: NODE.into(),
                run_dir: dir.join("run"),
                bin_dir,
                linuxptp: Default::default(),
                supervisor: ptp_agent::supervise::SupervisorSettings::default(),
            },
            endpoints: Default::default(),
        },
        namespace: ns.into(),
        source: ptp_agent::run::cluster::ProfileSource::ConfigMap("ptp-configmap".into()),
        offset_interval: Duration::from_millis(300),
        report: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_from_the_configmap_and_runtime_status_in_the_node_ptp_device() {
    let dir = std::env::temp_dir().join(format!("ptp-cluster-{}", std::process::id()));
    let bin = ptp_testkit::probe::fake_ptp4l(&dir, &[5], "0.2").unwrap();

    let test = "agent-cluster-profiles";
    let Some((env, agent)) = cluster(test, &[(NODE, profiles(&["cfg_a"])), ("other", "[]".into())]).await else {
        return;
    };
    let settings = settings(&env.ns, &dir, Some(bin.clone()), None);
    let (stop, stop_rx) = watch::channel(false);
    let agent = tokio::spawn(run(agent.client, settings, stop_rx));

    let wait = Duration::from_secs(15);
    let npd = wait_until(&devices(&env), NODE, wait, |d| {
        d.status.as_ref().is_some_and(|s| {
            s.applied_profiles.as_deref() == Some(&["cfg_a".to_string()][..])
                && s.clock_state == Some(ClockState::Locked)
                && s.processes.as_ref().is_some_and(|p| p.len() == 1 && p[0].state == ptp_api::ProcessState::Running)
        })
    })
    .await
    .unwrap();
    let status = npd.status.unwrap();
    assert_eq!(status.offset_ns, Some(5));
    let process = &status.processes.unwrap()[0];
    assert_eq!((process.profile.as_str(), process.process.as_str()), ("cfg_a", "ptp4l"));
    assert_eq!(
        (process.iface.as_deref(), process.clock_state, process.offset_ns),
        (Some("eth9"), Some(ClockState::Locked), Some(5)),
        "per-process clock: the slave port, its state and offset"
    );
    assert!(status.last_update_time.is_some());

    // An unchanged state is not written again, and the writer never waits for a deadline in the
    // past (its loop once spun at a core's worth): `status::tests` (pure), and the idle_cpu bench
    // counts the writes of an idle agent on the real API server.

    // A new profile in the ConfigMap starts; a malformed value changes nothing.
    let cms = configmaps(&env);
    let patch = serde_json::json!({"data": {NODE: profiles(&["cfg_a", "cfg_b"])}});
    cms.patch("ptp-configmap", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    wait_until(&devices(&env), NODE, wait, |d| {
        d.status.as_ref().is_some_and(|s| {
            s.applied_profiles.as_ref().is_some_and(|p| p.len() == 2)
                && s.processes
                    .as_ref()
                    .is_some_and(|p| p.iter().filter(|p| p.state == ptp_api::ProcessState::Running).count() == 2)
        })
    })
    .await
    .unwrap();
    assert_eq!(fake_ptp4l_pids(&bin), 2);
    let patch = serde_json::json!({"data": {NODE: "[{\"name\":"}});
    cms.patch("ptp-configmap", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    // The agent has taken the value in: the condition says it cannot be used.
    source_invalid(&env, "ptp-configmap key node-1").await;
    assert_eq!(fake_ptp4l_pids(&bin), 2, "a malformed value leaves everything running");

    // A value with a nameless item is unusable as a whole: everything keeps running, and the
    // condition and a Warning Event name the problem.
    let patch = serde_json::json!({"data": {NODE: r#"[{"nmae":"typo"}]"#}});
    cms.patch("ptp-configmap", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    source_invalid(&env, "ptp-configmap key node-1: ptp-configmap value: item 0: no `name`").await;
    assert_eq!(fake_ptp4l_pids(&bin), 2, "a nameless item stops nothing");
    let events: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(env.admin.clone(), &env.ns);
    ptp_testkit::cluster::eventually("a ProfileRefused event for the nameless item", wait, || async {
        events.list(&Default::default()).await.is_ok_and(|l| {
            l.items.iter().any(|e| {
                e.reason.as_deref() == Some("ProfileRefused")
                    && e.note.as_deref().is_some_and(|n| n.contains("no `name`"))
            })
        })
    })
    .await
    .unwrap();

    // A profile that fails validation is refused: condition, Event, and the running version stays.
    let bad = serde_json::json!({"name": "cfg_b", "interface": "eth9", "ptp4lOpts": "-S", "ptp4lConf": "[global]\nslaveOnly\n"});
    let good_a = profiles(&["cfg_a"]);
    let value = format!("[{},{}]", &good_a[1..good_a.len() - 1], bad);
    let patch = serde_json::json!({"data": {NODE: value}});
    cms.patch("ptp-configmap", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    let npd = wait_until(&devices(&env), NODE, wait, |d| {
        d.status.as_ref().is_some_and(|s| {
            s.conditions
                .iter()
                .any(|c| c.type_ == "ProfilesValid" && c.status == "False" && c.message.contains("cfg_b"))
        })
    })
    .await
    .unwrap();
    assert_eq!(npd.status.unwrap().applied_profiles.map(|p| p.len()), Some(2), "cfg_b's running version stays");
    assert_eq!(fake_ptp4l_pids(&bin), 2);
    let events: Api<Event> = Api::namespaced(env.admin.clone(), &env.ns);
    eventually("ProfileRefused event", wait, || async {
        events.list(&ListParams::default()).await.is_ok_and(|l| {
            l.items.iter().any(|e| {
                e.reason.as_deref() == Some("ProfileRefused") && e.note.as_deref().is_some_and(|n| n.contains("cfg_b"))
            })
        })
    })
    .await
    .unwrap();
    let patch = serde_json::json!({"data": {NODE: profiles(&["cfg_a", "cfg_b"])}});
    cms.patch("ptp-configmap", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    wait_until(&devices(&env), NODE, wait, |d| {
        d.status.as_ref().is_some_and(|s| s.conditions.iter().any(|c| c.type_ == "ProfilesValid" && c.status == "True"))
    })
    .await
    .unwrap();

    // Shutdown stops every child.
    let _ = stop.send(true);
    tokio::time::timeout(Duration::from_secs(10), agent).await.expect("stops in time").unwrap().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while fake_ptp4l_pids(&bin) > 0 {
        assert!(Instant::now() < deadline, "children stopped");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_port_ends_the_agent_with_an_error_naming_it() {
    let test = "agent-cluster-taken-port";
    let Some((env, agent)) = cluster(test, &[]).await else { return };
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let dir = std::env::temp_dir().join(format!("ptp-cluster-port-{}", std::process::id()));
    let mut settings = settings(&env.ns, &dir, None, None);
    settings.run.endpoints.health = Some(addr);
    settings.report = Some(ptp_agent::report::ReportSettings::new(NODE, &env.ns));
    let (_stop, stop_rx) = watch::channel(false);
    let result = tokio::time::timeout(Duration::from_secs(10), run(agent.client, settings, stop_rx))
        .await
        .expect("the agent ends instead of reporting devices while running nothing");
    let message = result.unwrap_err().to_string();
    assert!(message.contains(&addr.to_string()) && message.contains("listening"), "{message}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_mode_with_status_reads_the_mounted_file_and_still_writes_the_status() {
    let dir = std::env::temp_dir().join(format!("ptp-cluster-file-{}", std::process::id()));
    let bin = ptp_testkit::probe::fake_ptp4l(&dir, &[5], "0.2").unwrap();
    let profile = dir.join(NODE);
    std::fs::write(&profile, profiles(&["from_file"])).unwrap();

    // The ConfigMap says something else: the file wins.
    let test = "agent-cluster-file-mode";
    let Some((env, agent)) = cluster(test, &[(NODE, profiles(&["from_api"]))]).await else { return };
    let settings = settings(&env.ns, &dir, Some(bin.clone()), Some(profile.clone()));
    // The NIC report's fields, applied under its own field manager, stay when the runtime
    // applies its own (each writer owns its fields).
    let device = ptp_api::PtpDevice { name: "ens1f0".into(), ..Default::default() };
    let report = ptp_agent::report::status::devices_status(&Default::default(), &[device]).unwrap();
    let body = ptp_api::node_ptp_device::status_apply_body(NODE, &report);
    let as_report = PatchParams::apply(ptp_agent::report::DEVICES_MANAGER).force();
    devices(&env).patch_status(NODE, &as_report, &Patch::Apply(&body)).await.unwrap();
    let (stop, stop_rx) = watch::channel(false);
    let agent = tokio::spawn(run(agent.client, settings, stop_rx));
    let applied = |name: &'static str| {
        move |d: &NodePtpDevice| {
            d.status.as_ref().is_some_and(|s| {
                s.applied_profiles.as_deref() == Some(&[name.to_string()][..])
                    && s.processes
                        .as_ref()
                        .is_some_and(|p| p.len() == 1 && p[0].state == ptp_api::ProcessState::Running)
            })
        }
    };
    wait_until(&devices(&env), NODE, Duration::from_secs(15), applied("from_file")).await.unwrap();
    std::fs::write(&profile, profiles(&["edited"])).unwrap();
    let edited = wait_until(&devices(&env), NODE, Duration::from_secs(15), applied("edited")).await.unwrap();
    let status = edited.status.unwrap();
    let names: Vec<&str> = status.devices.iter().map(|d| d.name.as_str()).collect();
    assert_eq!((names, status.device_count), (vec!["ens1f0"], Some(1)), "the runtime's writes keep the devices");
    let _ = stop.send(true);
    tokio::time::timeout(Duration::from_secs(10), agent).await.expect("stops in time").unwrap().unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

/// `--profile-source api`: the agent renders its own node from the PtpConfigs of its namespace
/// and its Node's labels (as the chart's agent ServiceAccount), byte for byte the operator's
/// value (its SHA-256 is in the status), follows label changes and PtpConfig edits, and reads no
/// ConfigMap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renders_its_own_node_from_the_ptpconfigs_and_its_labels() {
    use ptp_api::render::{NodeInfo, render_node};
    use ptp_api::{PtpConfig, PtpProfile};

    let dir = std::env::temp_dir().join(format!("ptp-cluster-render-{}", std::process::id()));
    let bin = ptp_testkit::probe::fake_ptp4l(&dir, &[5], "0.2").unwrap();
    let test = "agent-cluster-own-render";
    let Some((env, agent)) = cluster(test, &[]).await else { return };
    let node = env.node("own", serde_json::json!({"ptp/role": "a"})).await.unwrap();
    let device = NodePtpDevice::new(&node, NodePtpDeviceSpec {});
    devices(&env).create(&PostParams::default(), &device).await.unwrap();

    let profile = |name: &str, opts: &str| PtpProfile {
        interface: Some("eth9".into()),
        ptp4l_opts: Some(opts.into()),
        ptp4l_conf: Some("[global]\nslaveOnly 1\n".into()),
        ..PtpProfile::named(name)
    };
    let mut config = ptp_testkit::fixtures::ptp_config("cfg")
        .namespace(&env.ns)
        .profile(profile("a", "-S"))
        .profile(profile("b", "-S"))
        .recommend("a", 10, "ptp/role=a")
        .recommend("b", 10, "ptp/role=b")
        .build();
    let configs: Api<PtpConfig> = Api::namespaced(env.admin.clone(), &env.ns);
    configs.create(&PostParams::default(), &config).await.unwrap();

    let mut settings = settings(&env.ns, &dir, Some(bin.clone()), None);
    settings.run.runtime.node = node.clone();
    settings.source = ptp_agent::run::cluster::ProfileSource::Render(ptp_agent::source::own_node::Scope {
        namespaces: vec![env.ns.clone()],
    });
    let (stop, stop_rx) = watch::channel(false);
    let requests = agent.requests.clone();
    let agent = tokio::spawn(run(agent.client, settings, stop_rx));

    let wait = Duration::from_secs(15);
    // What the operator would write for this node, and its SHA-256.
    let expected = |config: &PtpConfig, role: &str| {
        let value = render_node([config], &NodeInfo::new(node.clone()).with_label("ptp/role", role));
        ptp_agent::runtime::value_hash(&value)
    };
    let applied = |name: &'static str, hash: String| {
        move |d: &NodePtpDevice| {
            d.status.as_ref().is_some_and(|s| {
                s.applied_profiles.as_deref() == Some(&[name.to_string()][..])
                    && s.profiles_hash.as_deref() == Some(hash.as_str())
                    && s.processes
                        .as_ref()
                        .is_some_and(|p| p.len() == 1 && p[0].state == ptp_api::ProcessState::Running)
            })
        }
    };
    wait_until(&devices(&env), &node, wait, applied("cfg_a", expected(&config, "a"))).await.unwrap();

    // The Node's label moves it to profile b.
    let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(env.admin.clone());
    let patch = serde_json::json!({"metadata": {"labels": {"ptp/role": "b"}}});
    nodes.patch(&node, &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    wait_until(&devices(&env), &node, wait, applied("cfg_b", expected(&config, "b"))).await.unwrap();

    // An edit of the PtpConfig reaches the node.
    config.spec.profile[1].ptp4l_opts = Some("-S -2".into());
    let patch = serde_json::json!({"spec": {"profile": config.spec.profile}});
    configs.patch("cfg", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    wait_until(&devices(&env), &node, wait, applied("cfg_b", expected(&config, "b"))).await.unwrap();
    assert_eq!(
        requests.count(Verb::Get, "configmaps") + requests.count(Verb::List, "configmaps"),
        0,
        "no ConfigMap read"
    );
    assert_eq!(requests.count(Verb::Watch, "configmaps"), 0, "no ConfigMap watch");

    let _ = stop.send(true);
    tokio::time::timeout(Duration::from_secs(10), agent).await.expect("stops in time").unwrap().unwrap();
    let _ = std::fs::remove_dir_all(dir);
}
