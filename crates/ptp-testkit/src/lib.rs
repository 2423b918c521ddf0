//! An in-process Kubernetes API server double for tests of the operator, the agent and e2e.
//!
//! ```no_run
//! # async fn demo() -> Result<(), ptp_testkit::Error> {
//! let server = ptp_testkit::ApiServer::start().await?; // random port, PtpConfig + NodePtpDevice CRDs
//! let client = server.client()?;                         // or server.in_process_client()
//! let kubeconfig = server.kubeconfig_path();             // for child processes (KUBECONFIG=...)
//! # let _ = (client, kubeconfig); Ok(()) }
//! ```
//!
//! The server speaks the Kubernetes REST API (JSON) over plain HTTP/1.1 on `127.0.0.1`. Its
//! state lives in a synchronous [`Store`]; the HTTP layer ([`http`]) only translates requests.
//!
//! # Faithful to the real API server
//!
//! * Paths `/api/v1/...`, `/apis/{group}/{version}/...`, namespaced and cluster-scoped, all
//!   namespaces list/watch, `/status` subresources; discovery (`/api`, `/apis`, group and
//!   resource lists) and `/version`.
//! * Kinds: core `namespaces`, `nodes`, `configmaps`, `secrets`, `events`, `pods`, `services`,
//!   `serviceaccounts`; `apps` `deployments`, `daemonsets`; `coordination.k8s.io` `leases`;
//!   `events.k8s.io` `events`; `apiextensions.k8s.io` `customresourcedefinitions` (creating one
//!   serves its kinds) and every registered CRD, with its scope and status subresource.
//! * get, list (label selectors `=`, `==`, `!=`, `in`, `notin`, `key`, `!key`, `>`, `<`; field
//!   selectors; `limit`/`continue`, `remainingItemCount`), watch (from a resourceVersion, from
//!   the current state, `sendInitialEvents` with the `k8s.io/initial-events-end` bookmark,
//!   periodic bookmarks, `timeoutSeconds`, selector transitions reported as ADDED/DELETED, an
//!   ERROR event with `410 Expired` for a version older than the history), create (generateName,
//!   name validation, namespace must exist, `409 AlreadyExists`), update (`409 Conflict` on a
//!   stale resourceVersion, unconditional without one), patch (merge, JSON patch incl. `test`,
//!   apply), delete (preconditions, finalizers → `deletionTimestamp`, removal when the last
//!   finalizer goes), deletecollection, `dryRun=All`.
//! * Server-owned metadata: `uid`, `creationTimestamp`, a global monotonic `resourceVersion`,
//!   `metadata.generation` (custom resources and `apps` kinds) bumped only when something other
//!   than metadata (and status, with a status subresource) changes. An update that changes
//!   nothing writes nothing (same resourceVersion, no watch event).
//! * Status subresource: writes to the main resource keep the stored status; `/status` writes
//!   change only the status. Custom resources drop `status` on create.
//! * Custom resources are admitted like the real server does: unknown fields and `null`s of
//!   non-nullable fields are pruned, schema `default`s applied, the OpenAPI schema validated
//!   (types, required, enum, min/max, lengths, patterns) and the `x-kubernetes-validations` CEL
//!   rules evaluated (with `oldSelf` on update). Failures are `422 Invalid` with
//!   `details.causes[].field` naming the field (`spec.recommend[0].priority`).
//! * Garbage collection: when an object is removed, dependents whose every existing owner is
//!   gone are deleted (recursively, honouring their finalizers); dependents with another live
//!   owner, or all of them with `propagationPolicy=Orphan`, lose the owner reference. Deleting a
//!   namespace deletes its contents.
//! * Server-side printing for custom resources: `kubectl get` (`Accept: ...;as=Table`) gets a
//!   `meta.k8s.io/v1` `Table` from the CRD's `additionalPrinterColumns` (first match of each
//!   path, ages for `date` columns, `includeObject`), so printer columns can be checked.
//! * Errors are `Status` bodies with `reason`, `code`, `details` as kube-rs parses them.
//!
//! # Test hooks
//!
//! [`Faults`] (next N requests fail with a status, latency), [`ApiServer::drop_watches`],
//! [`ApiServer::stop`]/[`ApiServer::restart`] on the same port, [`RequestCounter`] (requests per
//! verb and resource), wait helpers ([`ApiServer::wait_for`], [`ApiServer::wait_until`],
//! [`ApiServer::wait_configmap_key`]), typed access ([`ApiServer::get`], [`ApiServer::list`],
//! [`ApiServer::seed`]).
//!
//! # Known gaps (where the real server differs)
//!
//! * Server-side apply is a merge of the applied configuration: no field ownership, no
//!   `managedFields`, no conflicts between managers, fields dropped from the applied
//!   configuration are not removed, lists (even `x-kubernetes-list-type: map`) are replaced
//!   wholesale. `force` is accepted and ignored; `fieldManager` is required as in the real server.
//! * Strategic merge patch on built-in kinds is treated as a JSON merge patch (lists replaced, no
//!   `$patch` directives); on custom resources it is rejected with 415 as the real server does.
//! * No admission plugins or webhooks, no authentication or authorization (every request is
//!   allowed), no quota, no namespace lifecycle phases (a namespace and its contents go at
//!   once, ignoring finalizers of the contents), no validation of built-in kinds beyond names.
//! * Garbage collection is synchronous; `Foreground` propagation behaves like `Background`;
//!   dependents created pointing at an owner that never existed are not collected.
//! * Lists always read the latest state: `resourceVersion`/`resourceVersionMatch` on lists are
//!   ignored, and continued pages are not a consistent snapshot (the token's version is reported).
//! * No conversion between CRD versions beyond rewriting `apiVersion` (strategy `None`); no
//!   `scale` subresource; no protobuf, only JSON; no aggregated discovery (`apidiscovery.k8s.io`);
//!   no HTTP/2; field selectors accept any dotted path rather than the per-kind list.
//! * Bookmarks are sent every second (configurable) instead of about every minute.

pub mod cluster;
pub mod discovery;
pub mod error;
pub mod faults;
pub mod http;
pub mod https;
pub mod jsonpath;
pub mod kubeconfig;
pub mod meta;
pub mod metrics_guard;
pub mod netns;
pub mod patch;
pub mod probe;
pub mod resource;
pub mod root;
pub mod schema;
pub mod selector;
pub mod server;
pub mod store;
pub mod sys_time;
pub mod table;
pub mod watch;

pub use error::{Cause, Error, Result};
pub use faults::{Faults, RequestCounter, Verb};
pub use server::{ApiServer, ApiServerBuilder};
pub use store::Store;
