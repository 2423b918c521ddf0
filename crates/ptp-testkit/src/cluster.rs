//! A real Kubernetes control plane for tests: etcd, kube-apiserver and kube-controller-manager
//! started by `scripts/control-plane.sh` from binaries built by `tools/k8s/build.sh`.
//!
//! ```no_run
//! # async fn demo() {
//! let Some(cp) = ptp_testkit::cluster::ControlPlane::for_test("my_test") else { return };
//! let env = cp.env("my-test").await.unwrap();        // own namespace, CRDs installed
//! let admin = env.admin.clone();                        // system:masters
//! let operator = env.service_account("ptp-operator").await.unwrap(); // token client, chart RBAC
//! # let _ = (admin, operator); }
//! ```
//!
//! One control plane serves a whole test run: [`ControlPlane::shared`] reuses the one named by
//! `PTP_CLUSTER_DIR` (or the repository's `.cluster/`) when it runs, else starts one for this test
//! binary in `target/control-plane-<pid>` that stops when the binary exits. Tests share it, so
//! each works in its own namespace ([`TestEnv`]) and gives cluster-scoped objects (Nodes,
//! ClusterRoleBindings) names of its own.
//!
//! Without Go and without cached binaries the control plane cannot be had: [`ControlPlane::for_test`]
//! then prints a loud skip message and returns `None`, unless `PTP_REQUIRE_CONTROL_PLANE=1`
//! (CI), which turns the skip into a failure.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use k8s_openapi::api::authentication::v1::{BoundObjectReference, TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Namespace, Node, ServiceAccount};
use kube::api::{DynamicObject, Patch, PatchParams, PostParams};
use kube::client::{Body, ClientBuilder};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::discovery::{ApiResource, Scope};
use kube::{Api, Client, Config};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::faults::RequestCounter;

/// The environment variable that turns a skip for want of a control plane into a failure.
pub const REQUIRE_ENV: &str = "PTP_REQUIRE_CONTROL_PLANE";
/// The environment variable naming a running control plane's state directory to reuse.
pub const DIR_ENV: &str = "PTP_CLUSTER_DIR";

/// Field manager of the harness's server-side applies.
const MANAGER: &str = "ptp-testkit";

/// A running control plane: its state directory (certificates, kubeconfig, logs).
#[derive(Debug)]
pub struct ControlPlane {
    dir: PathBuf,
    server: String,
    /// The CRDs applied (once per control plane and test binary).
    crds: OnceLock<std::result::Result<(), String>>,
}

static SHARED: OnceLock<std::result::Result<ControlPlane, String>> = OnceLock::new();
static PRIVATE: OnceLock<std::result::Result<ControlPlane, String>> = OnceLock::new();
static SEQ: AtomicU32 = AtomicU32::new(0);

/// The repository's root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap_or_else(|_| PathBuf::from("."))
}

impl ControlPlane {
    /// The control plane of this test run, started on first use (blocking; 10–60 s when the
    /// binaries are cached, a cold Go build first when not).
    pub fn shared() -> std::result::Result<&'static ControlPlane, String> {
        SHARED.get_or_init(Self::start_or_reuse).as_ref().map_err(Clone::clone)
    }

    /// [`ControlPlane::shared`] for a test: `None` after a loud skip message when there is none
    /// (a failure instead with `PTP_REQUIRE_CONTROL_PLANE=1`).
    pub fn for_test(test: &str) -> Option<&'static ControlPlane> {
        Self::or_skip(test, Self::shared())
    }

    /// A control plane of this test binary's own, never shared with other test binaries, for a
    /// test that changes what every test of a shared one would see (a CRD's schema). Started on
    /// first use (10–60 s), stopped when the test binary exits; skips like [`ControlPlane::for_test`].
    pub fn private_for_test(test: &str) -> Option<&'static ControlPlane> {
        let private = PRIVATE.get_or_init(|| Self::start("private")).as_ref().map_err(Clone::clone);
        Self::or_skip(test, private)
    }

    fn or_skip(test: &str, found: std::result::Result<&'static ControlPlane, String>) -> Option<&'static ControlPlane> {
        match found {
            Ok(cp) => Some(cp),
            Err(why) if std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1") => {
                panic!("`{test}` needs the real control plane and {REQUIRE_ENV}=1 forbids skipping it: {why}")
            }
            Err(why) => {
                let bar = "!".repeat(78);
                let _ = writeln!(
                    std::io::stderr().lock(),
                    "\n{bar}\n!!! SKIPPED: `{test}` needs the real control plane: {why}\n{bar}\n"
                );
                None
            }
        }
    }

    fn start_or_reuse() -> std::result::Result<ControlPlane, String> {
        let root = repo_root();
        let script = root.join("scripts/control-plane.sh");
        let candidates: Vec<PathBuf> = match std::env::var_os(DIR_ENV) {
            Some(dir) => vec![PathBuf::from(dir)],
            None => vec![root.join(".cluster")],
        };
        for dir in &candidates {
            let status = Command::new(&script).arg("status").env(DIR_ENV, dir).output();
            if status.is_ok_and(|o| o.status.success()) {
                return Self::at(dir.clone());
            }
        }
        // None running: one for this test binary, stopped when it exits.
        Self::start("shared")
    }

    /// Starts a control plane in `target/control-plane-<pid>-<what>`, stopped when this process exits.
    fn start(what: &str) -> std::result::Result<ControlPlane, String> {
        let root = repo_root();
        let script = root.join("scripts/control-plane.sh");
        let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"));
        let dir = target.join(format!("control-plane-{}-{what}", std::process::id()));
        let out = Command::new(&script)
            .args(["up", "--watch-pid", &std::process::id().to_string()])
            .env(DIR_ENV, &dir)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let tail: Vec<&str> = stderr.lines().rev().take(15).collect();
            return Err(format!(
                "scripts/control-plane.sh up failed ({}):\n{}",
                out.status,
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            ));
        }
        Self::at(dir)
    }

    fn at(dir: PathBuf) -> std::result::Result<ControlPlane, String> {
        let server = std::fs::read_to_string(dir.join("server"))
            .map_err(|e| format!("{}: {e}", dir.join("server").display()))?
            .trim()
            .to_string();
        Ok(ControlPlane { dir, server, crds: OnceLock::new() })
    }

    /// `https://127.0.0.1:PORT`.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The admin (`system:masters`) kubeconfig file.
    pub fn kubeconfig_path(&self) -> PathBuf {
        self.dir.join("kubeconfig")
    }

    /// The cluster CA certificate file.
    pub fn ca_path(&self) -> PathBuf {
        self.dir.join("pki/ca.crt")
    }

    /// `kubectl` of the same Kubernetes version.
    pub fn kubectl(&self) -> Command {
        let mut cmd = Command::new(self.dir.join("bin/kubectl"));
        cmd.env("KUBECONFIG", self.kubeconfig_path());
        cmd
    }

    /// The log of one component (`etcd`, `kube-apiserver`, `kube-controller-manager`).
    pub fn log_path(&self, component: &str) -> PathBuf {
        self.dir.join("logs").join(format!("{component}.log"))
    }

    /// A client with the admin's credentials.
    pub async fn admin_client(&self) -> Result<Client> {
        client_from_kubeconfig(&self.kubeconfig_path()).await
    }

    /// The project's CRDs (config/crd) applied and established, once per test binary.
    pub fn install_crds(&self) -> Result<()> {
        self.crds
            .get_or_init(|| {
                let crd_dir = repo_root().join("config/crd");
                let run = |args: &[&str]| -> std::result::Result<(), String> {
                    let out = self.kubectl().args(args).output().map_err(|e| e.to_string())?;
                    if out.status.success() {
                        Ok(())
                    } else {
                        Err(format!("kubectl {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr)))
                    }
                };
                let dir = crd_dir.to_string_lossy().to_string();
                run(&["apply", "--server-side", "--force-conflicts", "--field-manager", MANAGER, "-f", &dir])?;
                run(&["wait", "--for=condition=Established", "--timeout=60s", "-f", &dir])
            })
            .clone()
            .map_err(Error::Client)
    }

    /// A test's own namespace (`<prefix>-<pid>-<n>`) with the CRDs installed and an admin client.
    pub async fn env(&'static self, prefix: &str) -> Result<TestEnv> {
        self.install_crds()?;
        let admin = self.admin_client().await?;
        let ns = unique_name(prefix);
        let namespaces: Api<Namespace> = Api::all(admin.clone());
        namespaces
            .create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": ns}}))?)
            .await
            .map_err(client_error)?;
        Ok(TestEnv { cp: self, ns, admin, cluster_scoped: Mutex::default() })
    }
}

/// A unique DNS-1123 name for this test run: `<prefix>-<pid>-<n>`.
pub fn unique_name(prefix: &str) -> String {
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    let prefix: String =
        prefix.to_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    let prefix: String = prefix.chars().take(40).collect();
    format!("{}-{}-{n}", prefix.trim_matches('-'), std::process::id())
}

/// One test's slice of the shared control plane: its namespace and clients. Dropping it deletes
/// the namespace and the cluster-scoped objects it made ([`TestEnv::node`], the chart's
/// ClusterRoleBindings), also when the test panics, so a shared control plane does not collect
/// other tests' Nodes (which an operator watching every Node would see).
pub struct TestEnv {
    pub cp: &'static ControlPlane,
    /// The test's namespace.
    pub ns: String,
    /// A `system:masters` client.
    pub admin: Client,
    /// `kind/name` of the cluster-scoped objects to delete on drop.
    cluster_scoped: Mutex<Vec<String>>,
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        let mut objects = std::mem::take(&mut *self.cluster_scoped.lock().unwrap_or_else(PoisonError::into_inner));
        objects.push(format!("namespace/{}", self.ns));
        // `--wait=false`: the namespace's contents go in the background (namespace controller).
        let out = self.cp.kubectl().args(["delete", "--wait=false", "--ignore-not-found"]).args(&objects).output();
        match out {
            Ok(out) if out.status.success() => {}
            Ok(out) => {
                let stderr = String::from_utf8_lossy(&out.stderr);
                let _ = writeln!(std::io::stderr().lock(), "cleanup of {objects:?}: {stderr}");
            }
            Err(e) => {
                let _ = writeln!(std::io::stderr().lock(), "cleanup of {objects:?}: {e}");
            }
        }
    }
}

/// A ServiceAccount's credentials: a client and a kubeconfig file for child processes.
pub struct Identity {
    /// Counts its requests in [`Identity::requests`].
    pub client: Client,
    /// The requests `client` sent, per verb and resource (`nodeptpdevices/status`): what a test
    /// asserts about the load a component puts on the server (other clients share the server).
    pub requests: Arc<RequestCounter>,
    pub kubeconfig: PathBuf,
    /// `system:serviceaccount:<ns>:<name>`.
    pub username: String,
    /// The bearer token itself (e.g. for `Authorization: Bearer` on a metrics endpoint).
    pub token: String,
}

impl TestEnv {
    /// A unique name for a cluster-scoped object of this test.
    pub fn name(&self, what: &str) -> String {
        format!("{}-{what}", self.ns)
    }

    /// Creates the Node [`TestEnv::name`]`(suffix)` with `labels` (deleted when the env drops) and
    /// returns its name.
    pub async fn node(&self, suffix: &str, labels: Value) -> Result<String> {
        let name = self.name(suffix);
        let node: Node = serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}}))?;
        self.cleanup_on_drop(&format!("node/{name}"));
        Api::<Node>::all(self.admin.clone()).create(&PostParams::default(), &node).await.map_err(client_error)?;
        Ok(name)
    }

    /// Deletes the cluster-scoped object `kind/name` when the env drops.
    pub fn cleanup_on_drop(&self, object: &str) {
        self.cluster_scoped.lock().unwrap_or_else(PoisonError::into_inner).push(object.to_string());
    }

    /// Creates the ServiceAccount `name` in the test namespace (if missing) and returns a client
    /// authenticated with a bound token for it (TokenRequest, one hour).
    pub async fn service_account(&self, name: &str) -> Result<Identity> {
        self.token_identity(name, None).await
    }

    /// [`TestEnv::service_account`] with a token bound to an object, as the kubelet asks for a
    /// Pod's projected token: bound to a Pod (`kind: Pod`, its name and uid), the API server
    /// adds the Pod's node to the token and to the authenticated user's extra
    /// `authentication.kubernetes.io/node-name` (ServiceAccountTokenPodNodeInfo); the token is
    /// valid only as long as the object exists.
    pub async fn bound_service_account(&self, name: &str, bound: BoundObjectReference) -> Result<Identity> {
        self.token_identity(name, Some(bound)).await
    }

    async fn token_identity(&self, name: &str, bound: Option<BoundObjectReference>) -> Result<Identity> {
        let sas: Api<ServiceAccount> = Api::namespaced(self.admin.clone(), &self.ns);
        let sa: ServiceAccount = serde_json::from_value(json!({"metadata": {"name": name}}))?;
        match sas.create(&PostParams::default(), &sa).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => return Err(client_error(e)),
        }
        let file = match &bound {
            Some(b) => format!(
                "sa-{}-{name}-{}-{}.kubeconfig",
                self.ns,
                b.kind.as_deref().unwrap_or("object"),
                b.name.as_deref().unwrap_or("")
            ),
            None => format!("sa-{}-{name}.kubeconfig", self.ns),
        };
        let request = TokenRequest {
            spec: Some(TokenRequestSpec {
                expiration_seconds: Some(3600),
                bound_object_ref: bound,
                ..Default::default()
            }),
            ..Default::default()
        };
        let token: TokenRequest =
            sas.create_subresource("token", name, &PostParams::default(), &request).await.map_err(client_error)?;
        let token =
            token.status.and_then(|s| s.token).ok_or_else(|| Error::Client("TokenRequest without a token".into()))?;
        let path = self.cp.dir.join(file.to_lowercase());
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: ptp-test\n  cluster:\n    server: {}\n    certificate-authority: {}\nusers:\n- name: {name}\n  user:\n    token: {token}\ncontexts:\n- name: ptp-test\n  context: {{cluster: ptp-test, user: {name}, namespace: {}}}\ncurrent-context: ptp-test\n",
            self.cp.server,
            self.cp.ca_path().display(),
            self.ns
        );
        std::fs::write(&path, text)?;
        let requests = Arc::new(RequestCounter::default());
        Ok(Identity {
            client: counting_client(&path, requests.clone()).await?,
            requests,
            kubeconfig: path,
            username: format!("system:serviceaccount:{}:{name}", self.ns),
            token,
        })
    }

    /// Applies the chart's RBAC (config/rbac/*.yaml, generated from the chart) for this test:
    /// namespaced objects go into the test namespace; ClusterRoles keep their names (they are the
    /// same for every test); ClusterRoleBindings get this test's name and subjects.
    pub async fn install_chart_rbac(&self) -> Result<()> {
        for file in ["operator.yaml", "agent.yaml"] {
            let path = repo_root().join("config/rbac").join(file);
            let text = std::fs::read_to_string(&path)?;
            for doc in documents(&text)? {
                self.apply(self.rewrite_for_test(doc)).await?;
            }
        }
        Ok(())
    }

    fn rewrite_for_test(&self, mut doc: Value) -> Value {
        let kind = doc["kind"].as_str().unwrap_or_default().to_string();
        if doc["metadata"].get("namespace").is_some() {
            doc["metadata"]["namespace"] = json!(self.ns);
        }
        if kind == "ClusterRoleBinding" {
            let name = doc["metadata"]["name"].as_str().unwrap_or_default().to_string();
            let name = format!("{name}-{}", self.ns);
            self.cleanup_on_drop(&format!("clusterrolebinding/{name}"));
            doc["metadata"]["name"] = json!(name);
        }
        if let Some(subjects) = doc.get_mut("subjects").and_then(Value::as_array_mut) {
            for s in subjects {
                if s.get("namespace").is_some() {
                    s["namespace"] = json!(self.ns);
                }
            }
        }
        doc
    }

    /// Server-side apply of one object (any kind the server knows) as the admin.
    pub async fn apply(&self, doc: Value) -> Result<Value> {
        apply(&self.admin, doc).await
    }
}

/// Server-side apply of one object (any kind the server knows), with strict field validation (an
/// unknown or duplicate field is an error, as `kubectl apply --validate=strict`).
pub async fn apply(client: &Client, doc: Value) -> Result<Value> {
    let (ar, scope) = resource_of(client, &doc).await?;
    let name = doc["metadata"]["name"].as_str().unwrap_or_default().to_string();
    let api: Api<DynamicObject> = match (scope, doc["metadata"]["namespace"].as_str()) {
        (Scope::Namespaced, Some(ns)) => Api::namespaced_with(client.clone(), ns, &ar),
        _ => Api::all_with(client.clone(), &ar),
    };
    let applied = api
        .patch(&name, &PatchParams::apply(MANAGER).force().validation_strict(), &Patch::Apply(&doc))
        .await
        .map_err(client_error)?;
    Ok(serde_json::to_value(applied)?)
}

async fn resource_of(client: &Client, doc: &Value) -> Result<(ApiResource, Scope)> {
    let api_version = doc["apiVersion"].as_str().unwrap_or_default();
    let kind = doc["kind"].as_str().unwrap_or_default();
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let gvk = kube::core::GroupVersionKind::gvk(group, version, kind);
    let (ar, caps) = kube::discovery::pinned_kind(client, &gvk).await.map_err(client_error)?;
    Ok((ar, caps.scope))
}

/// The YAML documents of a file (empty ones skipped).
pub fn documents(text: &str) -> Result<Vec<Value>> {
    let docs: Vec<Value> = serde_saphyr::from_multiple(text).map_err(|e| Error::BadRequest(e.to_string()))?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

async fn config_from_kubeconfig(path: &Path) -> Result<Config> {
    let kubeconfig = Kubeconfig::read_from(path).map_err(|e| Error::Client(e.to_string()))?;
    Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(|e| Error::Client(e.to_string()))
}

async fn client_from_kubeconfig(path: &Path) -> Result<Client> {
    Client::try_from(config_from_kubeconfig(path).await?).map_err(client_error)
}

/// A client that records each request it sends in `requests`.
async fn counting_client(path: &Path, requests: Arc<RequestCounter>) -> Result<Client> {
    let config = config_from_kubeconfig(path).await?;
    let count = tower::util::MapRequestLayer::new(move |request: axum::http::Request<Body>| {
        let uri = request.uri();
        if let Some((verb, resource)) =
            crate::http::classify(request.method().as_str(), uri.path(), uri.query().unwrap_or_default())
        {
            requests.record(verb, &resource);
        }
        request
    });
    Ok(ClientBuilder::try_from(config).map_err(client_error)?.with_layer(&count).build())
}

fn client_error(e: kube::Error) -> Error {
    Error::Client(e.to_string())
}

/// Polls `condition` every 50 ms until it holds or `timeout` passes.
pub async fn eventually<F, Fut>(what: &str, timeout: Duration, mut condition: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if condition().await {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(Error::Timeout(timeout, what.to_string()));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls `api.get(name)` every 50 ms until the object exists and `predicate` holds, and returns
/// it; after `timeout` an error naming the object and what it last was.
pub async fn wait_until<K>(api: &Api<K>, name: &str, timeout: Duration, predicate: impl Fn(&K) -> bool) -> Result<K>
where
    K: Clone + DeserializeOwned + std::fmt::Debug,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let last = match api.get_opt(name).await {
            Ok(Some(object)) if predicate(&object) => return Ok(object),
            Ok(Some(object)) => format!("{object:?}"),
            Ok(None) => String::from("absent"),
            Err(e) => format!("error: {e}"),
        };
        if tokio::time::Instant::now() >= deadline {
            return Err(Error::Timeout(timeout, format!("{name}; last seen: {last}")));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
