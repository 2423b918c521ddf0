//! The server handle: start, stop and restart on the same port, clients, the kubeconfig file,
//! typed access to the stored objects and wait helpers.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Resource;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

use crate::error::{Error, Result};
use crate::faults::{Faults, RequestCounter};
use crate::http::{Shared, router};
use crate::kubeconfig;
use crate::resource::ResourceType;
use crate::store::{DEFAULT_HISTORY, ListOptions, Store, WriteOptions};

/// Configures an [`ApiServer`] before it starts.
#[derive(Debug, Clone)]
pub struct ApiServerBuilder {
    ptp_crds: bool,
    crds: Vec<CustomResourceDefinition>,
    history: usize,
    bookmark_interval: Duration,
    port: u16,
}

impl Default for ApiServerBuilder {
    fn default() -> Self {
        ApiServerBuilder {
            ptp_crds: true,
            crds: Vec::new(),
            history: DEFAULT_HISTORY,
            bookmark_interval: Duration::from_secs(1),
            port: 0,
        }
    }
}

impl ApiServerBuilder {
    /// Do not register the project's CRDs (`PtpConfig`, `NodePtpDevice`).
    pub fn without_ptp_crds(mut self) -> Self {
        self.ptp_crds = false;
        self
    }

    /// Registers another CRD at start.
    pub fn crd(mut self, crd: CustomResourceDefinition) -> Self {
        self.crds.push(crd);
        self
    }

    /// How many events watches can resume from (default 10,000); older versions get 410.
    pub fn history(mut self, events: usize) -> Self {
        self.history = events;
        self
    }

    /// How often watches that allow bookmarks get one (default 1 s).
    pub fn bookmark_interval(mut self, interval: Duration) -> Self {
        self.bookmark_interval = interval;
        self
    }

    /// Listens on this port instead of a random one.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    pub async fn start(self) -> Result<ApiServer> {
        let mut store = Store::new(self.history);
        let crds = if self.ptp_crds { ptp_api::crd::crds() } else { Vec::new() };
        for crd in crds.iter().chain(&self.crds) {
            store.register_crd(crd)?;
        }
        let shared = Shared {
            store: Arc::new(Mutex::new(store)),
            faults: Arc::new(Faults::default()),
            requests: Arc::new(RequestCounter::default()),
            address: Arc::new(Mutex::new(String::new())),
        };
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], self.port))).await?;
        let addr = listener.local_addr()?;
        *shared.address.lock().unwrap_or_else(PoisonError::into_inner) = addr.to_string();
        let dir = tempfile::Builder::new().prefix("ptp-testkit-").tempdir()?;
        let kubeconfig = dir.path().join("kubeconfig");
        kubeconfig::write(&kubeconfig, &format!("http://{addr}"))?;
        let bookmarks = tokio::spawn(send_bookmarks(shared.clone(), self.bookmark_interval));
        let serving = tokio::spawn(serve(listener, shared.clone()));
        tracing::info!(%addr, "API server double listening");
        Ok(ApiServer { shared, addr, _dir: dir, kubeconfig, serving: Mutex::new(Some(serving)), bookmarks })
    }
}

async fn send_bookmarks(shared: Shared, interval: Duration) {
    loop {
        tokio::time::sleep(interval).await;
        shared.lock().send_bookmarks();
    }
}

async fn serve(listener: TcpListener, shared: Shared) {
    let app = router(shared);
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let service = TowerToHyperService::new(app.clone());
                    connections.spawn(async move {
                        let connection = hyper::server::conn::http1::Builder::new()
                            .timer(TokioTimer::new())
                            .serve_connection(TokioIo::new(stream), service);
                        if let Err(e) = connection.await {
                            tracing::debug!(error = %e, "connection ended");
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// A running API server double. Dropping it stops the server and removes the kubeconfig.
#[derive(Debug)]
pub struct ApiServer {
    shared: Shared,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
    kubeconfig: PathBuf,
    serving: Mutex<Option<JoinHandle<()>>>,
    bookmarks: JoinHandle<()>,
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        if let Some(h) = self.serving_slot().take() {
            h.abort();
        }
        self.bookmarks.abort();
    }
}

impl ApiServer {
    /// Starts a server on a random port with the project's CRDs registered.
    pub async fn start() -> Result<ApiServer> {
        ApiServerBuilder::default().start().await
    }

    pub fn builder() -> ApiServerBuilder {
        ApiServerBuilder::default()
    }

    fn serving_slot(&self) -> MutexGuard<'_, Option<JoinHandle<()>>> {
        self.serving.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A kubeconfig file for this server (for child processes: `KUBECONFIG=...`).
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// A client over HTTP, default namespace `default`.
    pub fn client(&self) -> Result<kube::Client> {
        let url = self.url().parse().map_err(|e| Error::Client(format!("{e}")))?;
        let config = kube::Config::new(url);
        kube::Client::try_from(config).map_err(|e| Error::Client(e.to_string()))
    }

    /// A client built from the kubeconfig file, as the binaries build theirs.
    pub async fn kubeconfig_client(&self) -> Result<kube::Client> {
        let kubeconfig =
            kube::config::Kubeconfig::read_from(&self.kubeconfig).map_err(|e| Error::Client(e.to_string()))?;
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default())
            .await
            .map_err(|e| Error::Client(e.to_string()))?;
        kube::Client::try_from(config).map_err(|e| Error::Client(e.to_string()))
    }

    /// A client that calls the router directly, without a socket (not affected by `stop`).
    pub fn in_process_client(&self) -> kube::Client {
        kube::Client::new(router(self.shared.clone()), "default")
    }

    /// Fault injection for subsequent requests.
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// Request counters.
    pub fn requests(&self) -> &RequestCounter {
        &self.shared.requests
    }

    /// Direct access to the store (hold the guard briefly; never across an `.await`).
    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.shared.lock()
    }

    /// Ends every open watch; clients re-watch from their last resourceVersion.
    pub fn drop_watches(&self) -> usize {
        self.shared.lock().drop_watches()
    }

    /// Serves the kinds of another CRD.
    pub fn register_crd(&self, crd: &CustomResourceDefinition) -> Result<()> {
        self.shared.lock().register_crd(crd)
    }

    /// Whether the server accepts connections.
    pub fn is_running(&self) -> bool {
        self.serving_slot().as_ref().is_some_and(|h| !h.is_finished())
    }

    /// Stops listening and closes every connection (open watches end with it). The stored
    /// objects are kept for [`ApiServer::restart`].
    pub async fn stop(&self) {
        let handle = self.serving_slot().take();
        if let Some(h) = handle {
            h.abort();
            let _ = h.await;
        }
        self.shared.lock().drop_watches();
    }

    /// Listens again on the same port (stopping first if needed).
    pub async fn restart(&self) -> Result<()> {
        self.stop().await;
        let mut last = None;
        for _ in 0..50 {
            match TcpListener::bind(self.addr).await {
                Ok(listener) => {
                    *self.serving_slot() = Some(tokio::spawn(serve(listener, self.shared.clone())));
                    return Ok(());
                }
                Err(e) => {
                    last = Some(e);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
        Err(last.map_or(Error::NotRunning, Error::Io))
    }

    fn type_of<K: Resource<DynamicType = ()>>(&self) -> Result<Arc<ResourceType>> {
        self.shared
            .lock()
            .registry()
            .get(&K::group(&()), &K::version(&()), &K::plural(&()))
            .ok_or(Error::UnknownResource)
    }

    /// The stored object, typed (`ns` ignored for cluster-scoped kinds).
    pub fn get<K: Resource<DynamicType = ()> + DeserializeOwned>(&self, ns: &str, name: &str) -> Option<K> {
        let t = self.type_of::<K>().ok()?;
        let value = self.shared.lock().get(&t, ns, name).ok()?;
        serde_json::from_value(value).ok()
    }

    /// Every stored object of a kind in a namespace (`None`: all).
    pub fn list<K: Resource<DynamicType = ()> + DeserializeOwned>(&self, ns: Option<&str>) -> Vec<K> {
        let Ok(t) = self.type_of::<K>() else { return Vec::new() };
        let items = self.shared.lock().list(&t, ns, &ListOptions::default()).map(|r| r.items).unwrap_or_default();
        items.iter().filter_map(|v| serde_json::from_value(v.as_ref().clone()).ok()).collect()
    }

    /// Creates an object directly in the store (no request is counted, no fault applies).
    pub fn seed<K: Resource<DynamicType = ()> + Serialize + DeserializeOwned>(&self, object: &K) -> Result<K> {
        let t = self.type_of::<K>()?;
        let value = serde_json::to_value(object)?;
        let ns = value.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("default").to_string();
        let created = self.shared.lock().create(&t, &ns, value, &WriteOptions::default())?;
        Ok(serde_json::from_value(created)?)
    }

    /// Waits until `condition` holds over the store, re-checking after every write.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        what: &str,
        mut condition: impl FnMut(&Store) -> bool,
    ) -> Result<()> {
        let mut changes = self.shared.lock().subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if condition(&self.shared.lock()) {
                return Ok(());
            }
            // Re-check on every change, and every 50 ms for state outside the store.
            let poll = deadline.min(tokio::time::Instant::now() + Duration::from_millis(50));
            match tokio::time::timeout_at(poll, changes.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(Error::NotRunning),
                Err(_) if tokio::time::Instant::now() < deadline => {}
                Err(_) => {
                    return if condition(&self.shared.lock()) {
                        Ok(())
                    } else {
                        Err(Error::Timeout(timeout, what.to_string()))
                    };
                }
            }
        }
    }

    /// Waits until the object exists and satisfies `predicate`; returns it.
    pub async fn wait_until<K>(
        &self,
        ns: &str,
        name: &str,
        timeout: Duration,
        predicate: impl Fn(&K) -> bool,
    ) -> Result<K>
    where
        K: Resource<DynamicType = ()> + DeserializeOwned,
    {
        let t = self.type_of::<K>()?;
        let mut found = None;
        let what = format!("{} {ns}/{name}", K::kind(&()));
        self.wait_for(timeout, &what, |store| {
            found =
                store.get(&t, ns, name).ok().and_then(|v| serde_json::from_value::<K>(v).ok()).filter(|o| predicate(o));
            found.is_some()
        })
        .await?;
        found.ok_or(Error::Timeout(timeout, what))
    }

    /// Waits until ConfigMap `ns/name` has `key` in its data; returns the value.
    pub async fn wait_configmap_key(&self, ns: &str, name: &str, key: &str, timeout: Duration) -> Result<String> {
        use k8s_openapi::api::core::v1::ConfigMap;
        let cm: ConfigMap = self
            .wait_until(ns, name, timeout, |cm: &ConfigMap| cm.data.as_ref().is_some_and(|d| d.contains_key(key)))
            .await?;
        Ok(cm.data.and_then(|mut d| d.remove(key)).unwrap_or_default())
    }
}
