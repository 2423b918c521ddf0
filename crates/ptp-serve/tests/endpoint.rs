//! The endpoints over real sockets and a real HTTPS client: a self-signed certificate, files
//! verified against their CA and re-read when replaced, and the bearer-token guard with the real
//! `KubeReviewer` against a stub of the two review APIs (the in-process API server double of
//! ptp-testkit does not serve tokenreviews or subjectaccessreviews; a test against a real
//! kube-apiserver is the lead's harness's job). A reviewer that fails is tested in `auth.rs`.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::routing::{get, post};
use axum::{Json, Router};
use ptp_serve::tls::{TlsSource, self_signed_names, server_config};
use ptp_serve::{Authorizer, KubeReviewer, Security, bind};
use ptp_testkit::https::{Answer, Trust, https_get};
use serde_json::{Value, json};
use tokio::sync::oneshot;

fn metrics_router() -> Router {
    Router::new().route("/metrics", get(|| async { "ptp_operator_nodes 3\n" }))
}

/// Serves `router` with `security` on a free loopback port until the sender is dropped.
async fn start(security: &Security, router: Router) -> (u16, oneshot::Sender<()>) {
    let bound = bind(([127, 0, 0, 1], 0).into(), security.tls.clone()).await.expect("bind");
    let port = bound.local_addr().port();
    let (stop, stopped) = oneshot::channel::<()>();
    bound.spawn("metrics", security.guard(router), async move {
        let _ = stopped.await;
    });
    (port, stop)
}

/// One HTTPS GET (blocking client, off the runtime's threads).
async fn fetch(port: u16, path: &str, token: Option<&str>) -> Answer {
    let (path, token) = (path.to_string(), token.map(str::to_string));
    tokio::task::spawn_blocking(move || https_get(port, &path, token.as_deref(), Trust::Any))
        .await
        .expect("client task")
        .expect("HTTPS GET")
}

/// The bearer-token guard with the real `KubeReviewer` asking the stub of the review APIs
/// ([`review_api`]): "prom" may read /metrics, "other" is a ServiceAccount without that rule,
/// other tokens are unknown. The stub serves until the sender is dropped.
async fn stub_guard() -> (Arc<Authorizer>, oneshot::Sender<()>) {
    let (url, stop) = review_api(Arc::default()).await;
    let client = kube::Client::try_from(kube::Config::new(url.parse().unwrap())).unwrap();
    (Arc::new(Authorizer::new(Arc::new(KubeReviewer::new(client)))), stop)
}

#[tokio::test]
async fn self_signed_https_with_the_token_guard() {
    let (guard, _api) = stub_guard().await;
    let security = Security {
        tls: Some(server_config(&TlsSource::SelfSigned { names: self_signed_names(&[]) }).expect("tls")),
        auth: Some(guard),
    };
    let (port, _stop) = start(&security, metrics_router()).await;

    let no_token = fetch(port, "/metrics", None).await;
    assert_eq!(no_token.status, 401, "{no_token:?}");
    assert!(no_token.head.to_ascii_lowercase().contains("www-authenticate: bearer"), "{}", no_token.head);
    assert!(!no_token.body.contains("ptp_operator"), "{}", no_token.body);
    assert_eq!(fetch(port, "/metrics", Some("made-up")).await.status, 401);
    let denied = fetch(port, "/metrics", Some("other")).await;
    assert_eq!(denied.status, 403, "{denied:?}");
    assert!(denied.body.contains("\"system:serviceaccount:default:other\" may not get /metrics"), "{}", denied.body);
    let allowed = fetch(port, "/metrics", Some("prom")).await;
    assert_eq!((allowed.status, allowed.body.as_str()), (200, "ptp_operator_nodes 3\n"));
    assert!(!allowed.server_cert.is_empty());
    // every path is authorized as itself (as kube-rbac-proxy does): nothing is revealed
    // about which paths exist
    assert_eq!(fetch(port, "/other", Some("prom")).await.status, 403);

    // plain HTTP on the TLS port gets no metrics
    let plain = tokio::task::spawn_blocking(move || ptp_testkit::probe::http_get(port, "/metrics")).await.unwrap();
    assert!(plain.as_ref().is_none_or(|(code, body)| *code != 200 && !body.contains("ptp_operator")), "{plain:?}");
    // and the server still serves TLS afterwards
    assert_eq!(fetch(port, "/metrics", Some("prom")).await.status, 200);
}

#[tokio::test]
async fn tls_without_auth_and_auth_without_tls() {
    let tls_only = Security {
        tls: Some(server_config(&TlsSource::SelfSigned { names: vec!["localhost".into()] }).expect("tls")),
        auth: None,
    };
    let (port, _stop) = start(&tls_only, metrics_router()).await;
    assert_eq!(fetch(port, "/metrics", None).await.status, 200);

    let (guard, _api) = stub_guard().await;
    let auth_only = Security { tls: None, auth: Some(guard) };
    let (port, _stop2) = start(&auth_only, metrics_router()).await;
    let get = move |token: &'static str| {
        tokio::task::spawn_blocking(move || {
            use std::io::{Read, Write};
            let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            write!(s, "GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut text = String::new();
            s.read_to_string(&mut text).unwrap();
            text
        })
    };
    assert!(get("prom").await.unwrap().starts_with("HTTP/1.1 200"));
    assert!(get("other").await.unwrap().starts_with("HTTP/1.1 403"));
    let no_token = tokio::task::spawn_blocking(move || ptp_testkit::probe::http_get(port, "/metrics")).await.unwrap();
    assert_eq!(no_token.map(|(c, _)| c), Some(401));
}

/// A CA and a leaf certificate for `localhost` signed by it, as PEM files in `dir`.
struct Pki {
    ca_der: Vec<u8>,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl Pki {
    fn new() -> Self {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name.push(rcgen::DnType::CommonName, "test CA");
        let key = rcgen::KeyPair::generate().unwrap();
        let ca = params.self_signed(&key).unwrap();
        Pki { ca_der: ca.der().to_vec(), issuer: rcgen::Issuer::new(params, key) }
    }

    /// Writes a new leaf for `localhost` (new key) to `cert`/`key`, each replaced through a
    /// rename as a Secret volume does; returns the leaf's DER.
    fn write_leaf(&self, cert: &Path, key: &Path) -> Vec<u8> {
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf = rcgen::CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .signed_by(&leaf_key, &self.issuer)
            .unwrap();
        for (path, text) in [(key, leaf_key.serialize_pem()), (cert, leaf.pem())] {
            let tmp = path.with_extension("new");
            std::fs::write(&tmp, text).unwrap();
            std::fs::rename(&tmp, path).unwrap();
        }
        leaf.der().to_vec()
    }
}

#[tokio::test]
async fn certificate_files_verify_against_their_ca_and_are_reloaded() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    let pki = Pki::new();
    let first = pki.write_leaf(&cert, &key);
    let security = Security {
        tls: Some(server_config(&TlsSource::Files { cert: cert.clone(), key: key.clone() }).unwrap()),
        auth: None,
    };
    let (port, _stop) = start(&security, metrics_router()).await;

    let verified = |name: &'static str| {
        let ca = pki.ca_der.clone();
        tokio::task::spawn_blocking(move || https_get(port, "/metrics", None, Trust::Ca { cert: &ca, name }))
    };
    let answer = verified("localhost").await.unwrap().expect("verified HTTPS GET");
    assert_eq!((answer.status, answer.server_cert == first), (200, true));
    let wrong_name = verified("node-1.example").await.unwrap();
    assert!(wrong_name.is_err(), "the certificate is for localhost only: {wrong_name:?}");

    // a renewed certificate is served without a restart
    let second = pki.write_leaf(&cert, &key);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = verified("localhost").await.unwrap().expect("verified HTTPS GET");
        if answer.server_cert == second {
            break;
        }
        assert_eq!(answer.server_cert, first);
        assert!(Instant::now() < deadline, "the renewed certificate was not served within 10 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// What the stub of the review APIs saw.
#[derive(Default)]
struct Seen {
    token_reviews: Vec<Value>,
    access_reviews: Vec<Value>,
}

/// POST tokenreviews and subjectaccessreviews as the API server answers them: token "prom" is
/// Prometheus' ServiceAccount (allowed to get /metrics), "other" a ServiceAccount without that
/// rule, "forbidden" makes the API server refuse the TokenReview itself (our ServiceAccount
/// lacking `create` on tokenreviews); anything else is not authenticated.
async fn review_api(seen: Arc<Mutex<Seen>>) -> (String, oneshot::Sender<()>) {
    let prom = "system:serviceaccount:monitoring:prometheus-k8s";
    let token_seen = seen.clone();
    let router = Router::new()
        .route(
            "/apis/authentication.k8s.io/v1/tokenreviews",
            post(move |Json(review): Json<Value>| {
                let seen = token_seen.clone();
                async move {
                    seen.lock().unwrap().token_reviews.push(review.clone());
                    let user = |name: &str| {
                        json!({"authenticated": true, "user": {"username": name, "uid": "uid-1",
                            "groups": ["system:serviceaccounts", "system:authenticated"],
                            "extra": {"authentication.kubernetes.io/pod-name": ["prometheus-0"]}}})
                    };
                    let status = match review["spec"]["token"].as_str() {
                        Some("prom") => user(prom),
                        Some("other") => user("system:serviceaccount:default:other"),
                        Some("forbidden") => {
                            return (
                                axum::http::StatusCode::FORBIDDEN,
                                Json(json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                    "message": "tokenreviews.authentication.k8s.io is forbidden",
                                    "reason": "Forbidden", "code": 403})),
                            );
                        }
                        _ => json!({"authenticated": false, "error": "invalid bearer token"}),
                    };
                    let mut answer = review.clone();
                    answer["status"] = status;
                    (axum::http::StatusCode::CREATED, Json(answer))
                }
            }),
        )
        .route(
            "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            post(move |Json(review): Json<Value>| {
                let seen = seen.clone();
                async move {
                    seen.lock().unwrap().access_reviews.push(review.clone());
                    let spec = &review["spec"];
                    let allowed = spec["user"] == prom
                        && spec["nonResourceAttributes"] == json!({"path": "/metrics", "verb": "get"});
                    let mut answer = review.clone();
                    answer["status"] = if allowed {
                        json!({"allowed": true, "reason": "RBAC: allowed by ClusterRoleBinding"})
                    } else {
                        json!({"allowed": false})
                    };
                    (axum::http::StatusCode::CREATED, Json(answer))
                }
            }),
        );
    let (port, stop) = start(&Security::default(), router).await;
    (format!("http://127.0.0.1:{port}"), stop)
}

#[tokio::test]
async fn kube_reviewer_asks_the_api_server_like_kube_rbac_proxy() {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let (url, _api) = review_api(seen.clone()).await;
    let client = kube::Client::try_from(kube::Config::new(url.parse().unwrap())).unwrap();
    let security = Security {
        tls: Some(server_config(&TlsSource::SelfSigned { names: vec!["localhost".into()] }).unwrap()),
        auth: Some(Arc::new(Authorizer::new(Arc::new(KubeReviewer::new(client))))),
    };
    let (port, _stop) = start(&security, metrics_router()).await;

    assert_eq!(fetch(port, "/metrics", Some("prom")).await.status, 200);
    assert_eq!(fetch(port, "/metrics", Some("other")).await.status, 403);
    assert_eq!(fetch(port, "/metrics", Some("stolen")).await.status, 401);
    assert_eq!(fetch(port, "/metrics", None).await.status, 401);
    let refused = fetch(port, "/metrics", Some("forbidden")).await;
    assert_eq!(refused.status, 503, "{refused:?}");
    // cached: the second scrape asks nothing
    assert_eq!(fetch(port, "/metrics", Some("prom")).await.status, 200);

    let seen = seen.lock().unwrap();
    let tokens: Vec<&str> = seen.token_reviews.iter().map(|r| r["spec"]["token"].as_str().unwrap()).collect();
    assert_eq!(tokens, ["prom", "other", "stolen", "forbidden"]);
    let first = &seen.token_reviews[0];
    assert_eq!(
        (first["apiVersion"].as_str(), first["kind"].as_str()),
        (Some("authentication.k8s.io/v1"), Some("TokenReview"))
    );
    assert_eq!(seen.access_reviews.len(), 2, "no access review for an unknown token");
    let sar = &seen.access_reviews[0];
    assert_eq!(sar["apiVersion"], "authorization.k8s.io/v1");
    assert_eq!(sar["kind"], "SubjectAccessReview");
    assert_eq!(
        sar["spec"],
        json!({
            "user": "system:serviceaccount:monitoring:prometheus-k8s",
            "uid": "uid-1",
            "groups": ["system:serviceaccounts", "system:authenticated"],
            "extra": {"authentication.kubernetes.io/pod-name": ["prometheus-0"]},
            "nonResourceAttributes": {"path": "/metrics", "verb": "get"}
        })
    );
}
