//! Binding and serving an endpoint, over plain HTTP or TLS, and guarding a router with an
//! [`Authorizer`].

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rustls::ServerConfig;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tracing::error;

use crate::Error;
use crate::auth::{Authorizer, Verdict, verb_of};
use crate::listener::TlsListener;

/// How an endpoint is protected: TLS, and who may call it. The default is neither.
#[derive(Clone, Default)]
pub struct Security {
    pub tls: Option<Arc<ServerConfig>>,
    pub auth: Option<Arc<Authorizer>>,
}

impl std::fmt::Debug for Security {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Security").field("tls", &self.tls.is_some()).field("auth", &self.auth.is_some()).finish()
    }
}

impl Security {
    /// `router`, guarded by the authorizer when there is one.
    pub fn guard(&self, router: Router) -> Router {
        match &self.auth {
            Some(auth) => protect(router, auth.clone()),
            None => router,
        }
    }

    /// What this is, for logs: `http`, `https`, `https+tokenreview`, `http+tokenreview`.
    pub fn describe(&self) -> &'static str {
        match (self.tls.is_some(), self.auth.is_some()) {
            (false, false) => "http",
            (true, false) => "https",
            (true, true) => "https+tokenreview",
            (false, true) => "http+tokenreview",
        }
    }
}

/// A bound address, ready to serve.
pub struct Bound {
    listener: TcpListener,
    tls: Option<Arc<ServerConfig>>,
    addr: SocketAddr,
}

/// Binds `addr` now, so that a busy or bad address fails at start with a clear error.
pub async fn bind(addr: SocketAddr, tls: Option<Arc<ServerConfig>>) -> Result<Bound, Error> {
    let listener =
        TcpListener::bind(addr).await.map_err(|e| Error::Listen { addr: addr.to_string(), message: e.to_string() })?;
    let addr = listener.local_addr().unwrap_or(addr);
    Ok(Bound { listener, tls, addr })
}

impl Bound {
    /// The bound address (the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves `router` until `shutdown` resolves.
    pub async fn serve(
        self,
        router: Router,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        match self.tls {
            None => axum::serve(self.listener, router).with_graceful_shutdown(shutdown).await,
            Some(config) => {
                let listener = TlsListener::new(self.listener, config)?;
                axum::serve(listener, router).with_graceful_shutdown(shutdown).await
            }
        }
    }

    /// [`Bound::serve`] in a task that logs how it ended.
    pub fn spawn(
        self,
        what: &'static str,
        router: Router,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> JoinHandle<()> {
        let addr = self.addr;
        tokio::spawn(async move {
            if let Err(e) = self.serve(router, shutdown).await {
                error!(error = %e, %addr, "{what} server stopped");
            }
        })
    }
}

/// `router` with every request (any path, as kube-rbac-proxy) checked by `auth` first (401/403/503 with a short
/// text body when refused).
pub fn protect(router: Router, auth: Arc<Authorizer>) -> Router {
    router.layer(axum::middleware::from_fn_with_state(auth, guard))
}

async fn guard(State(auth): State<Arc<Authorizer>>, request: Request, next: Next) -> Response {
    let authorization = request.headers().get(header::AUTHORIZATION).map(|v| v.as_bytes().to_vec());
    let verb = verb_of(request.method().as_str());
    let path = request.uri().path().to_string();
    match auth.check(authorization.as_deref(), &verb, &path).await {
        Verdict::Allow => next.run(request).await,
        refused => refusal(&refused),
    }
}

/// The response to a refused request.
pub fn refusal(verdict: &Verdict) -> Response {
    let (status, text) = match verdict {
        Verdict::Allow => return StatusCode::OK.into_response(),
        Verdict::Unauthenticated(why) => (StatusCode::UNAUTHORIZED, format!("Unauthorized: {why}\n")),
        Verdict::Forbidden(why) => (StatusCode::FORBIDDEN, format!("Forbidden: {why}\n")),
        Verdict::Unavailable(why) => (StatusCode::SERVICE_UNAVAILABLE, format!("Service Unavailable: {why}\n")),
    };
    let mut response = (status, text).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

/// What a binary serves: `/metrics` (with its security) and the probes (`/healthz`, `/readyz`,
/// with the text `/readyz` answers while not ready), each on its own address or not at all.
pub struct Endpoints<'a> {
    pub metrics: Option<(SocketAddr, &'a Security, Arc<prometheus_client::registry::Registry>)>,
    pub probes: Option<(SocketAddr, Arc<crate::probes::Health>, &'static str)>,
}

/// Binds every address of `endpoints` first, so that a busy or bad address fails the start with
/// an error naming it ([`Error::Listen`]), then serves them in the background until `shutdown`
/// resolves (a future made by `shutdown` for each; the agent and the operator both start this
/// way).
pub async fn start<F>(endpoints: Endpoints<'_>, shutdown: impl Fn() -> F) -> Result<(), Error>
where
    F: Future<Output = ()> + Send + 'static,
{
    let metrics = match endpoints.metrics {
        Some((addr, security, registry)) => {
            let bound = bind(addr, security.tls.clone()).await?;
            Some((bound, security.guard(crate::probes::metrics_router(registry)), security.describe()))
        }
        None => None,
    };
    let probes = match endpoints.probes {
        Some((addr, health, not_ready)) => {
            Some((bind(addr, None).await?, crate::probes::health_router(health, not_ready)))
        }
        None => None,
    };
    if let Some((bound, router, serving)) = metrics {
        tracing::info!(addr = %bound.local_addr(), serving, "serving /metrics");
        bound.spawn("metrics", router, shutdown());
    }
    if let Some((bound, router)) = probes {
        bound.spawn("health", router, shutdown());
    }
    Ok(())
}
