//! Who may read a process's `/metrics` behind `--metrics-auth tokenreview --metrics-tls ...`,
//! against the real kube-apiserver ([`crate::cluster`]): the check both binaries' real-server
//! tests run once their process serves. Panics (it is an assertion) with the answer it got.

use std::sync::Mutex;
use std::time::Duration;

use k8s_openapi::api::rbac::v1::ClusterRoleBinding;
use kube::Api;
use kube::api::DeleteParams;
use serde_json::json;

use crate::cluster::{TestEnv, eventually};
use crate::https::{Answer, Trust, https_get};

/// The chart's ClusterRole allowing `get` on the non-resource URL /metrics.
pub const READER_ROLE: &str = "ptp-operator-metrics-reader";

async fn get(port: u16, token: Option<String>) -> Answer {
    let fetched = tokio::task::spawn_blocking(move || https_get(port, "/metrics", token.as_deref(), Trust::Any)).await;
    match fetched {
        Ok(Ok(answer)) => answer,
        Ok(Err(e)) => panic!("HTTPS GET /metrics on port {port}: {e}"),
        Err(e) => panic!("HTTPS GET task: {e}"),
    }
}

/// Asserts, on `https://127.0.0.1:<port>/metrics` (any certificate), with tokens of
/// ServiceAccounts of `env`'s namespace and the real TokenReview + SubjectAccessReview:
///
/// * no token: 401 with `WWW-Authenticate: Bearer`;
/// * a token the API server does not accept: 401;
/// * a valid token of a ServiceAccount `stranger` without a binding: 403 naming its user (503
///   would mean the process's own ServiceAccount may not create the reviews);
/// * a token of a ServiceAccount `prometheus` bound (here, by a ClusterRoleBinding this function
///   creates and deletes) to [`READER_ROLE`]: 200 with a body containing `metric`, within 30 s
///   (a refusal given before the binding took effect is remembered for 10 s).
///
/// No answer other than the 200 carries `metric`.
pub async fn assert_guarded(env: &TestEnv, port: u16, metric: &str) {
    let reader = env.service_account("prometheus").await.expect("ServiceAccount prometheus");
    let stranger = env.service_account("stranger").await.expect("ServiceAccount stranger");
    let binding = env.name("metrics-reader");
    env.apply(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": binding},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": READER_ROLE},
        "subjects": [{"kind": "ServiceAccount", "name": "prometheus", "namespace": env.ns}],
    }))
    .await
    .expect("ClusterRoleBinding to the metrics reader");

    let none = get(port, None).await;
    assert_eq!(none.status, 401, "no token: {none:?}");
    assert!(none.head.to_ascii_lowercase().contains("www-authenticate: bearer"), "{}", none.head);
    assert!(!none.body.contains(metric), "{}", none.body);
    let forged = get(port, Some(format!("{}x", reader.token))).await;
    assert_eq!(forged.status, 401, "a token the API server does not accept: {forged:?}");
    let denied = get(port, Some(stranger.token.clone())).await;
    assert_eq!(denied.status, 403, "a ServiceAccount without the binding: {denied:?}");
    assert!(denied.body.contains(&stranger.username), "{}", denied.body);
    assert!(!denied.body.contains(metric), "{}", denied.body);

    let last = Mutex::new(None);
    let allowed = eventually("the metrics reader gets /metrics", Duration::from_secs(30), || {
        let (token, last) = (reader.token.clone(), &last);
        async move {
            let answer = get(port, Some(token)).await;
            let ok = answer.status == 200;
            if let Ok(mut last) = last.lock() {
                *last = Some(answer);
            }
            ok
        }
    })
    .await;
    let last = last.into_inner().ok().flatten();
    assert!(allowed.is_ok(), "{allowed:?}: last answer {last:?}");
    let body = last.map(|a| a.body).unwrap_or_default();
    assert!(body.contains(metric), "{body}");

    let _ = Api::<ClusterRoleBinding>::all(env.admin.clone()).delete(&binding, &DeleteParams::default()).await;
}
