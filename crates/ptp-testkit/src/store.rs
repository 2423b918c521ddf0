//! The storage and the semantics of every verb: a synchronous store of JSON objects with a
//! global monotonic resourceVersion, a bounded event history and the registered watches.
//! The HTTP layer and the test helpers call it under one mutex.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};

use crate::error::{Cause, Error, Result};
use crate::meta::{self, IdGen, str_at};
use crate::patch::{self, PatchKind};
use crate::resource::{Registry, ResourceType};
use crate::selector::{FieldSelector, LabelSelector};
use crate::watch::{EventType, Filter, Record, WatchItem, Watcher};

/// Default number of events kept for watches that resume from a resourceVersion.
pub const DEFAULT_HISTORY: usize = 10_000;

/// Parameters of a list.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    pub limit: Option<usize>,
    pub continue_token: Option<String>,
}

/// One page of a list.
#[derive(Debug, Clone)]
pub struct ListResult {
    pub items: Vec<Arc<Value>>,
    pub resource_version: u64,
    pub continue_token: Option<String>,
    pub remaining_item_count: Option<u64>,
}

/// Parameters of a watch.
#[derive(Debug, Clone, Default)]
pub struct WatchOptions {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    /// `None`/`"0"`: start with the current state; a number: replay changes after it.
    pub resource_version: Option<String>,
    pub send_initial_events: bool,
    pub bookmarks: bool,
}

/// Parameters of create, update and patch.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    pub dry_run: bool,
    pub field_manager: Option<String>,
    pub force: bool,
}

/// Parameters of delete.
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    pub precondition_uid: Option<String>,
    pub precondition_resource_version: Option<String>,
    pub dry_run: bool,
}

type Bucket = BTreeMap<(String, String), Arc<Value>>;
type BucketEntry<'a> = (&'a (String, String), &'a Arc<Value>);

/// The state of the API server.
#[derive(Debug)]
pub struct Store {
    registry: Registry,
    objects: HashMap<(String, String), Bucket>,
    rv: u64,
    history: VecDeque<Arc<Record>>,
    history_limit: usize,
    /// Events at or below this resourceVersion are no longer in the history.
    compacted_rv: u64,
    watchers: Vec<Watcher>,
    ids: IdGen,
    changed: watch::Sender<u64>,
}

fn invalid(t: &ResourceType, name: &str, causes: Vec<Cause>) -> Error {
    Error::Invalid { kind: t.kind.clone(), group: t.group.clone(), name: name.to_string(), causes }
}

impl Store {
    /// A store with the built-in kinds and the namespaces every cluster has.
    pub fn new(history_limit: usize) -> Self {
        let seed =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        let mut registry = Registry::with_builtins();
        registry.insert(ResourceType::crd_type());
        let mut store = Store {
            registry,
            objects: HashMap::new(),
            rv: 0,
            history: VecDeque::new(),
            history_limit: history_limit.max(1),
            compacted_rv: 0,
            watchers: Vec::new(),
            ids: IdGen::new(seed),
            changed: watch::channel(0).0,
        };
        if let Some(t) = store.registry.get("", "v1", "namespaces") {
            for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
                let object = json!({"metadata": {"name": ns}});
                if let Err(e) = store.create(&t, "", object, &WriteOptions::default()) {
                    tracing::error!(error = %e, ns, "creating a default namespace");
                }
            }
        }
        store
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Serves the kinds of a CRD (every served version) and stores the CRD object.
    pub fn register_crd(&mut self, crd: &CustomResourceDefinition) -> Result<()> {
        let object = serde_json::to_value(crd)?;
        let t = self
            .registry
            .get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
            .ok_or(Error::UnknownResource)?;
        let name = str_at(&object, "/metadata/name").to_string();
        if self.get(&t, "", &name).is_ok() {
            self.update(&t, "", &name, object, false, &WriteOptions::default())?;
        } else {
            self.create(&t, "", object, &WriteOptions::default())?;
        }
        Ok(())
    }

    fn register_types_of(&mut self, crd_object: &Value) {
        match serde_json::from_value::<CustomResourceDefinition>(crd_object.clone()) {
            Ok(crd) => ResourceType::from_crd(&crd).into_iter().for_each(|t| self.registry.insert(t)),
            Err(e) => tracing::warn!(error = %e, "stored CRD does not parse; its kinds are not served"),
        }
    }

    /// The current (latest) resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    /// A receiver that changes whenever anything is written or a watch opens or closes.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    fn bucket(&self, t: &ResourceType) -> Option<&Bucket> {
        self.objects.get(&(t.group.clone(), t.plural.clone()))
    }

    fn ns_of<'a>(t: &ResourceType, ns: &'a str) -> &'a str {
        if t.namespaced { ns } else { "" }
    }

    fn lookup(&self, t: &ResourceType, ns: &str, name: &str) -> Option<Arc<Value>> {
        self.bucket(t)?.get(&(Self::ns_of(t, ns).to_string(), name.to_string())).cloned()
    }

    /// The object as the client's version renders it.
    fn output(t: &ResourceType, object: &Value) -> Value {
        let mut out = object.clone();
        if out.get("apiVersion").and_then(Value::as_str) != Some(&t.api_version()) {
            out["apiVersion"] = json!(t.api_version());
        }
        out
    }

    pub fn get(&self, t: &ResourceType, ns: &str, name: &str) -> Result<Value> {
        self.lookup(t, ns, name)
            .map(|o| Self::output(t, &o))
            .ok_or_else(|| Error::not_found(&t.qualified_plural(), name))
    }

    /// Objects of a type in a namespace (`None`: all namespaces), sorted by namespace and name.
    pub fn list(&self, t: &ResourceType, ns: Option<&str>, opts: &ListOptions) -> Result<ListResult> {
        let mut start: Option<(String, String)> = None;
        let mut resource_version = self.rv;
        if let Some(token) = opts.continue_token.as_deref().filter(|s| !s.is_empty()) {
            let mut parts = token.splitn(3, '/');
            let (Some(rv), Some(tns), Some(tname)) = (parts.next(), parts.next(), parts.next()) else {
                return Err(Error::BadRequest(format!("continue key is not valid: {token}")));
            };
            let rv: u64 = rv.parse().map_err(|_| Error::BadRequest(format!("continue key is not valid: {token}")))?;
            if rv < self.compacted_rv {
                return Err(Error::Expired(
                    "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.".into(),
                ));
            }
            resource_version = rv;
            start = Some((tns.to_string(), tname.to_string()));
        }
        let ns = ns.filter(|n| !n.is_empty() && t.namespaced);
        let limit = opts.limit.filter(|l| *l > 0);
        let mut items = Vec::new();
        let mut continue_token = None;
        let mut remaining = 0u64;
        if let Some(bucket) = self.bucket(t) {
            let iter: Box<dyn Iterator<Item = BucketEntry<'_>>> = match &start {
                Some(key) => Box::new(bucket.range(key.clone()..).filter(move |(k, _)| *k != key)),
                None => Box::new(bucket.iter()),
            };
            for ((ons, _), object) in iter {
                if ns.is_some_and(|n| n != ons) || !opts.labels.matches(object) || !opts.fields.matches(object) {
                    continue;
                }
                if limit.is_some_and(|l| items.len() >= l) {
                    remaining += 1;
                    continue;
                }
                items.push(object.clone());
            }
        }
        if let (true, Some(last)) = (remaining > 0, items.last()) {
            continue_token = Some(format!(
                "{resource_version}/{}/{}",
                str_at(last, "/metadata/namespace"),
                str_at(last, "/metadata/name")
            ));
        }
        let items = items
            .into_iter()
            .map(|o| {
                if o.get("apiVersion").and_then(Value::as_str) == Some(&t.api_version()) {
                    o
                } else {
                    Arc::new(Self::output(t, &o))
                }
            })
            .collect();
        let selectors = opts.labels.is_empty() && opts.fields.is_empty();
        Ok(ListResult {
            items,
            resource_version,
            continue_token,
            remaining_item_count: (remaining > 0 && selectors).then_some(remaining),
        })
    }

    fn check_type_meta(t: &ResourceType, object: &mut Value) -> Result<()> {
        if !object.is_object() {
            return Err(Error::BadRequest("the body of the request must be a JSON object".into()));
        }
        let api_version = t.api_version();
        if let Some(sent) =
            object.get("apiVersion").and_then(Value::as_str).filter(|s| !s.is_empty() && *s != api_version)
        {
            return Err(Error::BadRequest(format!(
                "the API version in the data ({sent}) does not match the expected API version ({api_version})"
            )));
        }
        if let Some(sent) = object.get("kind").and_then(Value::as_str).filter(|s| !s.is_empty() && *s != t.kind) {
            return Err(Error::BadRequest(format!(
                "the kind in the data ({sent}) does not match the expected kind ({})",
                t.kind
            )));
        }
        object["apiVersion"] = json!(api_version);
        object["kind"] = json!(t.kind);
        Ok(())
    }

    fn check_namespace(&self, t: &ResourceType, object: &mut Value, ns: &str) -> Result<String> {
        let sent = str_at(object, "/metadata/namespace").to_string();
        if !t.namespaced {
            meta::metadata_mut(object).remove("namespace");
            return Ok(String::new());
        }
        if !sent.is_empty() && !ns.is_empty() && sent != ns {
            return Err(Error::BadRequest(
                "the namespace of the provided object does not match the namespace sent on the request".into(),
            ));
        }
        let ns = if ns.is_empty() { sent } else { ns.to_string() };
        if ns.is_empty() {
            return Err(Error::BadRequest("a namespaced resource needs a namespace".into()));
        }
        let namespaces = self.registry.get("", "v1", "namespaces").ok_or(Error::UnknownResource)?;
        if self.lookup(&namespaces, "", &ns).is_none() {
            return Err(Error::not_found("namespaces", &ns));
        }
        meta::metadata_mut(object).insert("namespace".into(), json!(ns));
        Ok(ns)
    }

    /// Creates an object; `ns` is the namespace of the URL (ignored for cluster-scoped kinds).
    pub fn create(&mut self, t: &ResourceType, ns: &str, mut object: Value, opts: &WriteOptions) -> Result<Value> {
        Self::check_type_meta(t, &mut object)?;
        let ns = self.check_namespace(t, &mut object, ns)?;
        let mut name = str_at(&object, "/metadata/name").to_string();
        if name.is_empty() {
            let generate = str_at(&object, "/metadata/generateName").to_string();
            if generate.is_empty() {
                return Err(invalid(
                    t,
                    "",
                    vec![Cause::new(
                        "FieldValueRequired",
                        "metadata.name",
                        "Required value: name or generateName is required",
                    )],
                ));
            }
            name = format!("{generate}{}", self.ids.suffix());
        }
        if let Some(cause) = meta::validate_name(&name, t.plural == "namespaces") {
            return Err(invalid(t, &name, vec![cause]));
        }
        if self.lookup(t, &ns, &name).is_some() {
            return Err(Error::AlreadyExists { resource: t.qualified_plural(), name });
        }
        meta::status_on_create(t, &mut object);
        let uid = self.ids.uid();
        let m = meta::metadata_mut(&mut object);
        m.insert("name".into(), json!(name));
        m.insert("uid".into(), json!(uid));
        m.insert("creationTimestamp".into(), json!(meta::now_rfc3339()));
        for key in ["deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "selfLink", "generation"] {
            m.remove(key);
        }
        if meta::tracks_generation(t) {
            m.insert("generation".into(), json!(1));
        }
        if opts.dry_run {
            return Ok(Self::output(t, &object));
        }
        let stored = self.commit_put(t, object, EventType::Added, None);
        if t.group == "apiextensions.k8s.io" && t.plural == "customresourcedefinitions" {
            self.register_types_of(&stored);
        }
        Ok(Self::output(t, &stored))
    }

    /// Replaces an object (`status_write`: the `/status` subresource). Returns the stored
    /// object and whether it was created.
    pub fn update(
        &mut self,
        t: &ResourceType,
        ns: &str,
        name: &str,
        mut sent: Value,
        status_write: bool,
        opts: &WriteOptions,
    ) -> Result<(Value, bool)> {
        Self::check_type_meta(t, &mut sent)?;
        let sent_name = str_at(&sent, "/metadata/name").to_string();
        if sent_name.is_empty() {
            meta::metadata_mut(&mut sent).insert("name".into(), json!(name));
        } else if sent_name != name {
            return Err(Error::BadRequest(format!(
                "the name of the object ({sent_name}) does not match the name on the URL ({name})"
            )));
        }
        let sent_ns = str_at(&sent, "/metadata/namespace");
        if t.namespaced && !sent_ns.is_empty() && sent_ns != ns {
            return Err(Error::BadRequest(
                "the namespace of the provided object does not match the namespace sent on the request".into(),
            ));
        }
        let Some(current) = self.lookup(t, ns, name) else {
            if t.create_on_update && !status_write {
                return self.create(t, ns, sent, opts).map(|o| (o, true));
            }
            return Err(Error::not_found(&t.qualified_plural(), name));
        };
        let sent_rv = str_at(&sent, "/metadata/resourceVersion");
        if !sent_rv.is_empty() && sent_rv != str_at(&current, "/metadata/resourceVersion") {
            return Err(Error::conflict_modified(&t.qualified_plural(), name));
        }
        let mut new = meta::merge_for_update(t, &current, sent, status_write);
        new["apiVersion"] = json!(t.api_version());
        if meta::tracks_generation(t) && meta::spec_changed(t, &current, &new) {
            let generation = current.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(0);
            meta::metadata_mut(&mut new).insert("generation".into(), json!(generation + 1));
        }
        if meta::is_noop(&current, &new) {
            return Ok((Self::output(t, &current), false));
        }
        if opts.dry_run {
            return Ok((Self::output(t, &new), false));
        }
        let finish_delete = new.pointer("/metadata/deletionTimestamp").is_some() && !meta::has_finalizers(&new);
        let stored = self.commit_put(t, new, EventType::Modified, Some(current));
        if t.group == "apiextensions.k8s.io" && t.plural == "customresourcedefinitions" {
            self.register_types_of(&stored);
        }
        if finish_delete {
            let deleted = self.remove(t, ns, name).unwrap_or(stored);
            return Ok((Self::output(t, &deleted), false));
        }
        Ok((Self::output(t, &stored), false))
    }

    /// Patches an object. Apply patches create missing objects.
    #[allow(clippy::too_many_arguments)]
    pub fn patch(
        &mut self,
        t: &ResourceType,
        ns: &str,
        name: &str,
        kind: PatchKind,
        body: &Value,
        status_write: bool,
        opts: &WriteOptions,
    ) -> Result<(Value, bool)> {
        if kind == PatchKind::Apply && opts.field_manager.as_deref().is_none_or(str::is_empty) {
            return Err(Error::BadRequest("fieldManager is required for apply requests".into()));
        }
        if kind == PatchKind::StrategicMerge && t.custom {
            return Err(Error::UnsupportedMediaType(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml".into(),
            ));
        }
        if kind == PatchKind::Apply {
            let mut check = body.clone();
            Self::check_type_meta(t, &mut check)?;
            let body_name = str_at(body, "/metadata/name");
            if !body_name.is_empty() && body_name != name {
                return Err(Error::BadRequest(format!(
                    "the name of the object ({body_name}) does not match the name on the URL ({name})"
                )));
            }
        }
        let Some(current) = self.lookup(t, ns, name) else {
            if kind == PatchKind::Apply && !status_write {
                let mut object = body.clone();
                meta::metadata_mut(&mut object).insert("name".into(), json!(name));
                return self.create(t, ns, object, opts).map(|o| (o, true));
            }
            return Err(Error::not_found(&t.qualified_plural(), name));
        };
        let patched = patch::apply_patch(&current, kind, body).map_err(|e| match e {
            Error::Invalid { causes, .. } => invalid(t, name, causes),
            other => other,
        })?;
        self.update(t, ns, name, patched, status_write, opts)
    }

    /// Deletes an object: with finalizers it only gets a deletionTimestamp; otherwise it is
    /// removed (nothing is garbage-collected: dependents stay).
    pub fn delete(&mut self, t: &ResourceType, ns: &str, name: &str, opts: &DeleteOptions) -> Result<Value> {
        let current = self.lookup(t, ns, name).ok_or_else(|| Error::not_found(&t.qualified_plural(), name))?;
        if let Some(uid) = opts.precondition_uid.as_deref().filter(|u| !u.is_empty()) {
            let actual = str_at(&current, "/metadata/uid");
            if uid != actual {
                return Err(Error::Conflict {
                    resource: t.qualified_plural(),
                    name: name.into(),
                    message: format!("Precondition failed: UID in precondition: {uid}, UID in object meta: {actual}"),
                });
            }
        }
        if let Some(rv) = opts.precondition_resource_version.as_deref().filter(|r| !r.is_empty()) {
            let actual = str_at(&current, "/metadata/resourceVersion");
            if rv != actual {
                return Err(Error::Conflict {
                    resource: t.qualified_plural(),
                    name: name.into(),
                    message: format!(
                        "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {actual}"
                    ),
                });
            }
        }
        if opts.dry_run {
            return Ok(Self::output(t, &current));
        }
        if meta::has_finalizers(&current) {
            if current.pointer("/metadata/deletionTimestamp").is_some() {
                return Ok(Self::output(t, &current));
            }
            let mut marked = current.as_ref().clone();
            let m = meta::metadata_mut(&mut marked);
            m.insert("deletionTimestamp".into(), json!(meta::now_rfc3339()));
            m.insert("deletionGracePeriodSeconds".into(), json!(0));
            if meta::tracks_generation(t) {
                let generation = m.get("generation").and_then(Value::as_i64).unwrap_or(0);
                m.insert("generation".into(), json!(generation + 1));
            }
            let stored = self.commit_put(t, marked, EventType::Modified, Some(current));
            return Ok(Self::output(t, &stored));
        }
        let deleted = self.remove(t, ns, name).ok_or_else(|| Error::not_found(&t.qualified_plural(), name))?;
        Ok(Self::output(t, &deleted))
    }

    /// Deletes every object of a list; returns the deleted (or deletion-marked) objects.
    pub fn delete_collection(
        &mut self,
        t: &ResourceType,
        ns: Option<&str>,
        list: &ListOptions,
        opts: &DeleteOptions,
    ) -> Result<Vec<Value>> {
        let items = self.list(t, ns, &ListOptions { limit: None, continue_token: None, ..list.clone() })?.items;
        let mut out = Vec::new();
        for item in items {
            let (ins, iname) =
                (str_at(&item, "/metadata/namespace").to_string(), str_at(&item, "/metadata/name").to_string());
            match self.delete(t, &ins, &iname, opts) {
                Ok(v) => out.push(v),
                Err(Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Removes an object now and records the DELETED event.
    fn remove(&mut self, t: &ResourceType, ns: &str, name: &str) -> Option<Arc<Value>> {
        let key = (Self::ns_of(t, ns).to_string(), name.to_string());
        let removed = self.objects.get_mut(&(t.group.clone(), t.plural.clone()))?.remove(&key)?;
        self.rv += 1;
        let mut object = removed.as_ref().clone();
        meta::metadata_mut(&mut object).insert("resourceVersion".into(), json!(self.rv.to_string()));
        let object = Arc::new(object);
        self.record(Record {
            rv: self.rv,
            group: t.group.clone(),
            plural: t.plural.clone(),
            namespace: key.0,
            kind: EventType::Deleted,
            object: object.clone(),
            old: None,
        });
        Some(object)
    }

    fn commit_put(
        &mut self,
        t: &ResourceType,
        mut object: Value,
        kind: EventType,
        old: Option<Arc<Value>>,
    ) -> Arc<Value> {
        self.rv += 1;
        meta::metadata_mut(&mut object).insert("resourceVersion".into(), json!(self.rv.to_string()));
        let ns = str_at(&object, "/metadata/namespace").to_string();
        let name = str_at(&object, "/metadata/name").to_string();
        let object = Arc::new(object);
        self.objects
            .entry((t.group.clone(), t.plural.clone()))
            .or_default()
            .insert((Self::ns_of(t, &ns).to_string(), name), object.clone());
        self.record(Record {
            rv: self.rv,
            group: t.group.clone(),
            plural: t.plural.clone(),
            namespace: ns,
            kind,
            object: object.clone(),
            old,
        });
        object
    }

    fn record(&mut self, record: Record) {
        let record = Arc::new(record);
        self.watchers.retain(|w| match w.filter.translate(&record) {
            Some(item) => w.tx.send(item).is_ok(),
            None => !w.tx.is_closed(),
        });
        self.history.push_back(record);
        while self.history.len() > self.history_limit {
            if let Some(old) = self.history.pop_front() {
                self.compacted_rv = old.rv;
            }
        }
        self.changed.send_replace(self.rv);
    }

    /// Registers a watch. Initial events (current state, or the history after the given
    /// resourceVersion) are queued before any later change. A resourceVersion older than the
    /// history yields a single `410 Expired` ERROR event.
    pub fn watch(
        &mut self,
        t: &ResourceType,
        ns: Option<&str>,
        opts: &WatchOptions,
    ) -> Result<mpsc::UnboundedReceiver<WatchItem>> {
        let (tx, rx) = mpsc::unbounded_channel();
        let filter = Filter {
            group: t.group.clone(),
            plural: t.plural.clone(),
            namespace: ns.filter(|n| !n.is_empty() && t.namespaced).map(str::to_string),
            labels: opts.labels.clone(),
            fields: opts.fields.clone(),
        };
        let rv = opts.resource_version.as_deref().filter(|s| !s.is_empty());
        let from_state = opts.send_initial_events || rv.is_none_or(|r| r == "0");
        let send = |item: WatchItem| {
            let _ = tx.send(item);
        };
        if from_state {
            let list = ListOptions { labels: opts.labels.clone(), fields: opts.fields.clone(), ..Default::default() };
            for object in self.list(t, filter.namespace.as_deref(), &list)?.items {
                send(WatchItem::Event(EventType::Added, object));
            }
            if opts.send_initial_events {
                send(WatchItem::Bookmark { rv: self.rv, initial_events_end: true });
            }
        } else {
            let requested: u64 = rv
                .unwrap_or_default()
                .parse()
                .map_err(|_| Error::BadRequest(format!("invalid resource version: {}", rv.unwrap_or_default())))?;
            if requested < self.compacted_rv {
                let gone = Error::Expired(format!("too old resource version: {requested} ({})", self.compacted_rv + 1));
                send(WatchItem::Error(gone.status()));
                return Ok(rx);
            }
            for record in self.history.iter().filter(|r| r.rv > requested) {
                if let Some(item) = filter.translate(record) {
                    send(item);
                }
            }
        }
        self.watchers.push(Watcher { filter, bookmarks: opts.bookmarks, tx });
        self.changed.send_replace(self.rv);
        Ok(rx)
    }

    /// Ends every open watch (clients see the stream close and re-watch).
    pub fn drop_watches(&mut self) -> usize {
        let n = self.watchers.len();
        self.watchers.clear();
        self.changed.send_replace(self.rv);
        n
    }

    /// Number of open watches.
    pub fn watch_count(&self) -> usize {
        self.watchers.iter().filter(|w| !w.tx.is_closed()).count()
    }

    /// Sends a BOOKMARK with the current resourceVersion to every watch that allows them.
    pub fn send_bookmarks(&mut self) {
        let rv = self.rv;
        self.watchers
            .retain(|w| !w.bookmarks || w.tx.send(WatchItem::Bookmark { rv, initial_events_end: false }).is_ok());
    }
}

impl ResourceType {
    /// `apiextensions.k8s.io/v1` `customresourcedefinitions` (cluster-scoped); creating one
    /// serves its kinds.
    pub fn crd_type() -> ResourceType {
        ResourceType {
            group: "apiextensions.k8s.io".into(),
            version: "v1".into(),
            plural: "customresourcedefinitions".into(),
            singular: "customresourcedefinition".into(),
            kind: "CustomResourceDefinition".into(),
            namespaced: false,
            status_subresource: true,
            custom: false,
            short_names: vec!["crd".into()],
            categories: vec![],
            create_on_update: false,
        }
    }
}

#[cfg(test)]
mod tests;
