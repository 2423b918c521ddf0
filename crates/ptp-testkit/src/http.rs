//! The HTTP edge: routes the Kubernetes REST paths and query parameters to [`Store`] calls,
//! applying fault injection and counting requests on the way.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::discovery;
use crate::error::{Error, Result};
use crate::faults::{Faults, RequestCounter, Verb};
use crate::patch::{self, PatchKind};
use crate::resource::ResourceType;
use crate::selector::{FieldSelector, LabelSelector};
use crate::store::{DeleteOptions, ListOptions, Store, WatchOptions, WriteOptions};
use crate::watch::{WatchItem, render};

/// State shared by the HTTP layer, the server handle and the tests.
#[derive(Clone, Debug)]
pub struct Shared {
    pub store: Arc<Mutex<Store>>,
    pub faults: Arc<Faults>,
    pub requests: Arc<RequestCounter>,
    /// `host:port` reported by `/api`.
    pub address: Arc<Mutex<String>>,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The router serving the whole API.
pub fn router(shared: Shared) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

#[derive(Debug, PartialEq, Eq)]
enum Route {
    Version,
    Health,
    CoreVersions,
    Groups,
    Group(String),
    Resources { group: String, version: String },
    Resource(ResourcePath),
}

#[derive(Debug, PartialEq, Eq, Default)]
struct ResourcePath {
    group: String,
    version: String,
    plural: String,
    namespace: Option<String>,
    name: Option<String>,
    sub: Option<String>,
}

fn resource_path(group: &str, version: &str, rest: &[&str]) -> Option<Route> {
    let mut p = ResourcePath { group: group.into(), version: version.into(), ..Default::default() };
    let tail = if rest.len() >= 3 && rest[0] == "namespaces" && !matches!(rest[2], "status" | "finalize") {
        p.namespace = Some(rest[1].to_string());
        &rest[2..]
    } else {
        rest
    };
    match tail {
        [plural] => p.plural = plural.to_string(),
        [plural, name] => (p.plural, p.name) = (plural.to_string(), Some(name.to_string())),
        [plural, name, sub] => {
            (p.plural, p.name, p.sub) = (plural.to_string(), Some(name.to_string()), Some(sub.to_string()));
        }
        _ => return None,
    }
    Some(Route::Resource(p))
}

fn parse_route(path: &str) -> Option<Route> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        ["version"] => Some(Route::Version),
        ["healthz" | "readyz" | "livez"] => Some(Route::Health),
        ["api"] => Some(Route::CoreVersions),
        ["api", v] => Some(Route::Resources { group: String::new(), version: v.to_string() }),
        ["api", v, rest @ ..] => resource_path("", v, rest),
        ["apis"] => Some(Route::Groups),
        ["apis", g] => Some(Route::Group(g.to_string())),
        ["apis", g, v] => Some(Route::Resources { group: g.to_string(), version: v.to_string() }),
        ["apis", g, v, rest @ ..] => resource_path(g, v, rest),
        _ => None,
    }
}

/// The verb and the resource (`plural`, or `plural/sub` for a subresource) of a request, as
/// [`RequestCounter`] counts them; `None` for discovery and for verbs it does not count.
pub fn classify(method: &str, path: &str, query: &str) -> Option<(Verb, String)> {
    let Route::Resource(p) = parse_route(path)? else { return None };
    let watch = query.split('&').any(|kv| kv == "watch=true" || kv == "watch=1");
    let verb = verb_of(&Method::from_bytes(method.as_bytes()).ok()?, &p, watch).ok()?;
    Some((verb, p.sub.map_or_else(|| p.plural.clone(), |sub| format!("{}/{sub}", p.plural))))
}

fn json_response(code: u16, body: Vec<u8>) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn value_response(code: u16, value: &Value) -> Response {
    json_response(code, serde_json::to_vec(value).unwrap_or_default())
}

fn error_response(e: &Error) -> Response {
    tracing::debug!(error = %e, "request failed");
    value_response(e.code(), &e.status())
}

async fn handle(State(s): State<Shared>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    match dispatch(&s, method, &uri, &headers, body).await {
        Ok(r) => r,
        Err(e) => error_response(&e),
    }
}

async fn dispatch(s: &Shared, method: Method, uri: &Uri, headers: &HeaderMap, body: Bytes) -> Result<Response> {
    let route = parse_route(uri.path()).ok_or(Error::UnknownResource)?;
    if !matches!(route, Route::Resource(_)) && method != Method::GET {
        return Err(Error::MethodNotAllowed);
    }
    match route {
        Route::Version => Ok(value_response(200, &discovery::version())),
        Route::Health => Ok((StatusCode::OK, "ok").into_response()),
        Route::CoreVersions => {
            let address = s.address.lock().unwrap_or_else(PoisonError::into_inner).clone();
            Ok(value_response(200, &discovery::core_versions(&address)))
        }
        Route::Groups => Ok(value_response(200, &discovery::group_list(s.lock().registry()))),
        Route::Group(g) => {
            discovery::group(s.lock().registry(), &g).map(|v| value_response(200, &v)).ok_or(Error::UnknownResource)
        }
        Route::Resources { group, version } => discovery::resource_list(s.lock().registry(), &group, &version)
            .map(|v| value_response(200, &v))
            .ok_or(Error::UnknownResource),
        Route::Resource(p) => resource(s, method, p, uri, headers, body).await,
    }
}

fn query(uri: &Uri) -> HashMap<String, String> {
    axum::extract::Query::<Vec<(String, String)>>::try_from_uri(uri)
        .map(|q| q.0.into_iter().collect())
        .unwrap_or_default()
}

fn truthy(q: &HashMap<String, String>, key: &str) -> bool {
    q.get(key).is_some_and(|v| v == "true" || v == "1")
}

fn list_options(q: &HashMap<String, String>) -> Result<ListOptions> {
    Ok(ListOptions {
        labels: LabelSelector::parse(q.get("labelSelector").map_or("", String::as_str))?,
        fields: FieldSelector::parse(q.get("fieldSelector").map_or("", String::as_str))?,
        limit: q.get("limit").and_then(|l| l.parse().ok()),
        continue_token: q.get("continue").cloned(),
    })
}

fn write_options(q: &HashMap<String, String>) -> WriteOptions {
    WriteOptions {
        dry_run: q.get("dryRun").is_some_and(|v| v == "All"),
        field_manager: q.get("fieldManager").cloned(),
        force: truthy(q, "force"),
    }
}

fn delete_options(q: &HashMap<String, String>, body: &[u8]) -> Result<DeleteOptions> {
    let body: Value = if body.is_empty() { json!({}) } else { serde_json::from_slice(body)? };
    let dry_run = q.get("dryRun").is_some_and(|v| v == "All")
        || body.get("dryRun").and_then(Value::as_array).is_some_and(|a| a.iter().any(|v| v == "All"));
    Ok(DeleteOptions {
        precondition_uid: body.pointer("/preconditions/uid").and_then(Value::as_str).map(str::to_string),
        precondition_resource_version: body
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_string),
        dry_run,
    })
}

fn list_body(
    t: &ResourceType,
    items: &[impl AsRef<Value>],
    rv: u64,
    cont: Option<&str>,
    remaining: Option<u64>,
) -> Vec<u8> {
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if let Some(c) = cont {
        metadata["continue"] = json!(c);
    }
    if let Some(n) = remaining {
        metadata["remainingItemCount"] = json!(n);
    }
    let head = json!({"kind": format!("{}List", t.kind), "apiVersion": t.api_version(), "metadata": metadata});
    let mut out = serde_json::to_vec(&head).unwrap_or_default();
    out.pop(); // the closing brace
    out.extend_from_slice(br#","items":["#);
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        if serde_json::to_writer(&mut out, item.as_ref()).is_err() {
            tracing::error!("serializing a list item");
        }
    }
    out.extend_from_slice(b"]}");
    out
}

fn verb_of(method: &Method, p: &ResourcePath, watch: bool) -> Result<Verb> {
    Ok(match (method.as_str(), p.name.is_some()) {
        ("GET", true) if watch => Verb::Watch,
        ("GET", true) => Verb::Get,
        ("GET", false) if watch => Verb::Watch,
        ("GET", false) => Verb::List,
        ("POST", false) => Verb::Create,
        ("PUT", true) => Verb::Update,
        ("PATCH", true) => Verb::Patch,
        ("DELETE", true) => Verb::Delete,
        ("DELETE", false) => Verb::DeleteCollection,
        _ => return Err(Error::MethodNotAllowed),
    })
}

async fn resource(
    s: &Shared,
    method: Method,
    p: ResourcePath,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let t = s.lock().registry().get(&p.group, &p.version, &p.plural).ok_or(Error::UnknownResource)?;
    let status_write = match p.sub.as_deref() {
        None => false,
        Some("status") if t.status_subresource => true,
        Some(_) => return Err(Error::UnknownResource),
    };
    if p.namespace.is_some() && !t.namespaced {
        return Err(Error::UnknownResource);
    }
    let q = query(uri);
    let verb = verb_of(&method, &p, truthy(&q, "watch"))?;
    let counted = if status_write { format!("{}/status", t.plural) } else { t.plural.clone() };
    s.requests.record(verb, &counted);
    let (delay, fault) = s.faults.check(verb, &counted);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if let Some(e) = fault {
        return Err(e);
    }
    let ns = p.namespace.clone().unwrap_or_default();
    let name = p.name.clone().unwrap_or_default();
    if p.name.is_some() && t.namespaced && p.namespace.is_none() && verb != Verb::Watch {
        return Err(Error::UnknownResource);
    }
    let ns_filter = p.namespace.as_deref();
    match verb {
        Verb::Get => Ok(value_response(200, &s.lock().get(&t, &ns, &name)?)),
        Verb::List => {
            let r = s.lock().list(&t, ns_filter, &list_options(&q)?)?;
            Ok(json_response(
                200,
                list_body(&t, &r.items, r.resource_version, r.continue_token.as_deref(), r.remaining_item_count),
            ))
        }
        Verb::Watch => watch(s, &t, ns_filter, p.name.as_deref(), &q),
        Verb::Create => {
            let object = patch::parse_body(&body, false)?;
            Ok(value_response(201, &s.lock().create(&t, &ns, object, &write_options(&q))?))
        }
        Verb::Update => {
            let object = patch::parse_body(&body, false)?;
            let (o, created) = s.lock().update(&t, &ns, &name, object, status_write, &write_options(&q))?;
            Ok(value_response(if created { 201 } else { 200 }, &o))
        }
        Verb::Patch => {
            let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
            let kind = PatchKind::from_content_type(content_type)?;
            let patch_body = patch::parse_body(&body, kind == PatchKind::Apply)?;
            let (o, created) = s.lock().patch(&t, &ns, &name, kind, &patch_body, status_write, &write_options(&q))?;
            Ok(value_response(if created { 201 } else { 200 }, &o))
        }
        Verb::Delete => Ok(value_response(200, &s.lock().delete(&t, &ns, &name, &delete_options(&q, &body)?)?)),
        Verb::DeleteCollection => {
            let mut store = s.lock();
            let deleted: Vec<Arc<Value>> = store
                .delete_collection(&t, ns_filter, &list_options(&q)?, &delete_options(&q, &body)?)?
                .into_iter()
                .map(Arc::new)
                .collect();
            let rv = store.resource_version();
            Ok(json_response(200, list_body(&t, &deleted, rv, None, None)))
        }
    }
}

fn watch(
    s: &Shared,
    t: &ResourceType,
    ns: Option<&str>,
    name: Option<&str>,
    q: &HashMap<String, String>,
) -> Result<Response> {
    let mut opts = WatchOptions {
        labels: LabelSelector::parse(q.get("labelSelector").map_or("", String::as_str))?,
        fields: FieldSelector::parse(q.get("fieldSelector").map_or("", String::as_str))?,
        resource_version: q.get("resourceVersion").cloned(),
        send_initial_events: truthy(q, "sendInitialEvents"),
        bookmarks: truthy(q, "allowWatchBookmarks"),
    };
    if let Some(name) = name {
        let by_name = FieldSelector::parse(&format!("metadata.name={name}"))?;
        opts.fields = if opts.fields.is_empty() {
            by_name
        } else {
            FieldSelector::parse(&format!(
                "{},metadata.name={name}",
                q.get("fieldSelector").map_or("", String::as_str)
            ))?
        };
    }
    if opts.send_initial_events && !opts.bookmarks {
        return Err(Error::Invalid {
            kind: "ListOptions".into(),
            group: "meta.k8s.io".into(),
            name: String::new(),
            causes: vec![crate::error::Cause::new(
                "FieldValueForbidden",
                "allowWatchBookmarks",
                "Forbidden: sendInitialEvents requires setting allowWatchBookmarks to true",
            )],
        });
    }
    let rx = s.lock().watch(t, ns, &opts)?;
    let deadline = q
        .get("timeoutSeconds")
        .and_then(|v| v.parse::<u64>().ok())
        .map(|secs| tokio::time::Instant::now() + Duration::from_secs(secs));
    let api_version = t.api_version();
    let kind = t.kind.clone();
    let stream = futures::stream::unfold((rx, false), move |(mut rx, done)| {
        let (api_version, kind) = (api_version.clone(), kind.clone());
        async move {
            if done {
                return None;
            }
            let first = match deadline {
                Some(d) => tokio::time::timeout_at(d, rx.recv()).await.ok().flatten(),
                None => rx.recv().await,
            }?;
            let mut chunk = Vec::new();
            let mut ended = false;
            let mut next = Some(first);
            let mut batched = 0;
            while let Some(item) = next.take() {
                ended = matches!(item, WatchItem::Error(_));
                chunk.extend_from_slice(&render(&item, &api_version, &kind));
                batched += 1;
                if !ended && batched < 512 {
                    next = rx.try_recv().ok();
                }
            }
            Some((Ok::<_, Infallible>(Bytes::from(chunk)), (rx, ended)))
        }
    });
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], Body::from_stream(stream)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rp(group: &str, plural: &str, ns: Option<&str>, name: Option<&str>, sub: Option<&str>) -> Option<Route> {
        Some(Route::Resource(ResourcePath {
            group: group.into(),
            version: "v1".into(),
            plural: plural.into(),
            namespace: ns.map(Into::into),
            name: name.map(Into::into),
            sub: sub.map(Into::into),
        }))
    }

    #[test]
    fn routes() {
        assert_eq!(parse_route("/api/v1/namespaces/ns/configmaps"), rp("", "configmaps", Some("ns"), None, None));
        assert_eq!(
            parse_route("/api/v1/namespaces/ns/configmaps/a"),
            rp("", "configmaps", Some("ns"), Some("a"), None)
        );
        assert_eq!(parse_route("/api/v1/namespaces/ns"), rp("", "namespaces", None, Some("ns"), None));
        assert_eq!(parse_route("/api/v1/namespaces/ns/status"), rp("", "namespaces", None, Some("ns"), Some("status")));
        assert_eq!(parse_route("/api/v1/nodes/n1/status"), rp("", "nodes", None, Some("n1"), Some("status")));
        assert_eq!(parse_route("/api/v1/configmaps"), rp("", "configmaps", None, None, None));
        assert_eq!(
            parse_route("/apis/ptp.openshift.io/v1/namespaces/x/ptpconfigs/c/status"),
            rp("ptp.openshift.io", "ptpconfigs", Some("x"), Some("c"), Some("status"))
        );
        assert_eq!(parse_route("/apis"), Some(Route::Groups));
        assert_eq!(parse_route("/apis/ptp.openshift.io"), Some(Route::Group("ptp.openshift.io".into())));
        assert_eq!(parse_route("/version"), Some(Route::Version));
        assert_eq!(parse_route("/nope"), None);
    }

    #[test]
    fn requests_are_classified_as_the_counter_counts_them() {
        let c = |m: &str, p: &str, q: &str| classify(m, p, q);
        let ns = "/apis/ptp.openshift.io/v1/namespaces/x/nodeptpdevices";
        assert_eq!(c("PATCH", &format!("{ns}/n/status"), ""), Some((Verb::Patch, "nodeptpdevices/status".into())));
        assert_eq!(c("GET", &format!("{ns}/n"), ""), Some((Verb::Get, "nodeptpdevices".into())));
        assert_eq!(c("GET", ns, "limit=500"), Some((Verb::List, "nodeptpdevices".into())));
        assert_eq!(c("GET", ns, "watch=true&timeoutSeconds=290"), Some((Verb::Watch, "nodeptpdevices".into())));
        assert_eq!(c("POST", "/api/v1/namespaces/x/configmaps", ""), Some((Verb::Create, "configmaps".into())));
        assert_eq!(c("DELETE", "/api/v1/nodes/n", ""), Some((Verb::Delete, "nodes".into())));
        assert_eq!(c("GET", "/apis", ""), None);
    }
}
