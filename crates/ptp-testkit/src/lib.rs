//! Test support: the real control plane harness ([`cluster`]), an in-process Kubernetes API
//! server double for what the real server cannot do on demand, network-namespace labs
//! ([`netns`], [`root`], [`sys_time`]) and probes ([`probe`]).
//!
//! # Which server a test uses
//!
//! Every test that can runs against the real kube-apiserver + etcd + kube-controller-manager of
//! [`cluster`] (its own namespace on a shared control plane, the chart's RBAC, the product's
//! ServiceAccount tokens; [`cluster::Identity::requests`] counts what a component sends). The
//! double, [`ApiServer`], is kept for faults the real server cannot produce on demand: failure
//! statuses and latency ([`Faults`]), dropped watches ([`ApiServer::drop_watches`]), restarts on
//! the same port ([`ApiServer::stop`]/[`ApiServer::restart`]), and custom resources the real CRD
//! would refuse (objects admitted before a rule existed, or by a newer operator's CRD).
//! `docs/testing.md` lists which test runs where.
//!
//! ```no_run
//! # async fn demo() -> Result<(), ptp_testkit::Error> {
//! let server = ptp_testkit::ApiServer::start().await?; // random port, PtpConfig + NodePtpDevice CRDs
//! server.faults().fail_next(2, "configmaps", 500);       // the next two ConfigMap requests fail
//! let client = server.client()?;                         // or server.in_process_client()
//! let kubeconfig = server.kubeconfig_path();             // for child processes (KUBECONFIG=...)
//! # let _ = (client, kubeconfig); Ok(()) }
//! ```
//!
//! # The double
//!
//! It speaks the Kubernetes REST API (JSON) over plain HTTP/1.1 on `127.0.0.1`. Its state lives
//! in a synchronous [`Store`]; the HTTP layer ([`http`]) only translates requests.
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
//! * Errors are `Status` bodies with `reason`, `code`, `details` as kube-rs parses them.
//!
//! Test hooks: [`Faults`] (next N requests fail with a status, latency),
//! [`ApiServer::drop_watches`], [`ApiServer::stop`]/[`ApiServer::restart`] on the same port,
//! [`RequestCounter`] (requests per verb and resource), wait helpers ([`ApiServer::wait_for`],
//! [`ApiServer::wait_until`], [`ApiServer::wait_configmap_key`]), typed access
//! ([`ApiServer::get`], [`ApiServer::list`], [`ApiServer::seed`]).
//!
//! # What the double does not do (the real server does; test it there)
//!
//! * No admission: custom resources are stored as sent (no OpenAPI schema, no CEL rules, no
//!   pruning or defaults), no webhooks, no authentication or authorization (every request is
//!   allowed), no quota.
//! * No garbage collection (dependents outlive their owner) and no namespace lifecycle (deleting
//!   a namespace leaves its contents).
//! * No server-side printing (`kubectl get` tables).
//! * Server-side apply is a merge of the applied configuration: no field ownership, no
//!   `managedFields`, no conflicts between managers, fields dropped from the applied
//!   configuration are not removed, lists are replaced wholesale. Strategic merge patch on
//!   built-in kinds is treated as a JSON merge patch; on custom resources it is rejected with 415
//!   as the real server does.
//! * Lists always read the latest state: `resourceVersion`/`resourceVersionMatch` on lists are
//!   ignored, and continued pages are not a consistent snapshot (the token's version is reported).
//! * No conversion between CRD versions beyond rewriting `apiVersion`; no `scale` subresource; no
//!   protobuf, only JSON; no aggregated discovery; no HTTP/2; field selectors accept any dotted
//!   path rather than the per-kind list.
//! * Bookmarks are sent every second (configurable) instead of about every minute.

#![forbid(unsafe_code)]

pub mod cluster;
pub mod discovery;
pub mod error;
pub mod faults;
pub mod fixtures;
pub mod http;
pub mod https;
pub mod kubeconfig;
pub mod linuxptp;
pub mod meta;
pub mod metrics_guard;
pub mod netns;
pub mod patch;
pub mod probe;
pub mod resource;
pub mod root;
pub mod selector;
pub mod server;
pub mod store;
pub mod sys_time;
pub mod watch;

pub use error::{Cause, Error, Result};
pub use faults::{Faults, RequestCounter, Verb};
pub use server::{ApiServer, ApiServerBuilder};
pub use store::Store;
