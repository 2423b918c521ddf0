//! Fault injection (failing requests, latency) and request counters, shared between the test
//! and the HTTP layer.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use crate::error::Error;

/// The API verbs, as RBAC names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Verb {
    Get,
    List,
    Watch,
    Create,
    Update,
    Patch,
    Delete,
    DeleteCollection,
}

impl Verb {
    pub fn is_write(self) -> bool {
        matches!(self, Verb::Create | Verb::Update | Verb::Patch | Verb::Delete | Verb::DeleteCollection)
    }
}

#[derive(Debug, Clone)]
struct Rule {
    verb: Option<Verb>,
    resource: Option<String>,
    remaining: u32,
    code: u16,
}

fn matches_resource(pattern: Option<&str>, resource: &str) -> bool {
    pattern.is_none_or(|p| p == resource || resource.strip_prefix(p).is_some_and(|rest| rest.starts_with('/')))
}

#[derive(Debug, Default)]
struct State {
    rules: Vec<Rule>,
    latency_for: HashMap<String, Duration>,
}

/// Faults the server injects into requests. `resource` is the plural (`configmaps`), which also
/// covers its subresources (`configmaps/status`); name a subresource to target only it.
#[derive(Debug, Default)]
pub struct Faults {
    state: Mutex<State>,
}

/// The `reason` a real server sends with a status code.
fn reason_for(code: u16) -> &'static str {
    match code {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        409 => "Conflict",
        410 => "Expired",
        422 => "Invalid",
        429 => "TooManyRequests",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        _ => "InternalError",
    }
}

impl Faults {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The next `n` requests (any verb) on `resource` fail with `code`.
    pub fn fail_next(&self, n: u32, resource: &str, code: u16) {
        self.lock().rules.push(Rule { verb: None, resource: Some(resource.into()), remaining: n, code });
    }

    /// The next `n` requests with `verb` on `resource` fail with `code`.
    pub fn fail_next_verb(&self, n: u32, verb: Verb, resource: &str, code: u16) {
        self.lock().rules.push(Rule { verb: Some(verb), resource: Some(resource.into()), remaining: n, code });
    }

    /// Delays requests on one resource (and its subresources).
    pub fn set_latency_for(&self, resource: &str, latency: Duration) {
        self.lock().latency_for.insert(resource.into(), latency);
    }

    /// Removes every fault.
    pub fn clear(&self) {
        *self.lock() = State::default();
    }

    /// Failures still pending.
    pub fn pending(&self) -> u32 {
        self.lock().rules.iter().map(|r| r.remaining).sum()
    }

    /// The delay and the injected error (if any) for one request; consumes one failure.
    pub fn check(&self, verb: Verb, resource: &str) -> (Duration, Option<Error>) {
        let mut state = self.lock();
        let delay = state
            .latency_for
            .iter()
            .filter(|(p, _)| matches_resource(Some(p), resource))
            .map(|(_, d)| *d)
            .max()
            .unwrap_or_default();
        let mut error = None;
        if let Some(rule) = state.rules.iter_mut().find(|r| {
            r.remaining > 0 && r.verb.is_none_or(|v| v == verb) && matches_resource(r.resource.as_deref(), resource)
        }) {
            rule.remaining -= 1;
            error = Some(Error::Injected {
                code: rule.code,
                reason: reason_for(rule.code).into(),
                message: format!("injected {} for {verb:?} {resource}", rule.code),
            });
        }
        state.rules.retain(|r| r.remaining > 0);
        (delay, error)
    }
}

/// Requests counted per (verb, resource); resource is the plural, `plural/status` for the
/// status subresource.
#[derive(Debug, Default)]
pub struct RequestCounter {
    counts: Mutex<HashMap<(Verb, String), u64>>,
}

impl RequestCounter {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(Verb, String), u64>> {
        self.counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn record(&self, verb: Verb, resource: &str) {
        *self.lock().entry((verb, resource.to_string())).or_default() += 1;
    }

    /// Requests with exactly this verb and resource (`configmaps`, `ptpconfigs/status`).
    pub fn count(&self, verb: Verb, resource: &str) -> u64 {
        self.lock().get(&(verb, resource.to_string())).copied().unwrap_or(0)
    }

    /// Write requests (create, update, patch, delete) on a resource and its subresources.
    pub fn writes(&self, resource: &str) -> u64 {
        self.lock()
            .iter()
            .filter(|((v, r), _)| v.is_write() && matches_resource(Some(resource), r))
            .map(|(_, n)| n)
            .sum()
    }

    /// Write requests on every resource.
    pub fn total_writes(&self) -> u64 {
        self.lock().iter().filter(|((v, _), _)| v.is_write()).map(|(_, n)| n).sum()
    }

    pub fn total(&self) -> u64 {
        self.lock().values().sum()
    }

    pub fn snapshot(&self) -> BTreeMap<(Verb, String), u64> {
        self.lock().iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    pub fn reset(&self) {
        self.lock().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_consumed_and_scoped() {
        let f = Faults::default();
        f.fail_next(2, "configmaps", 503);
        assert!(f.check(Verb::Get, "pods").1.is_none());
        let (_, e) = f.check(Verb::Update, "configmaps");
        assert_eq!(e.unwrap().code(), 503);
        assert!(f.check(Verb::Get, "configmaps/status").1.is_some(), "covers subresources");
        assert!(f.check(Verb::Get, "configmaps").1.is_none());
        f.fail_next_verb(1, Verb::Create, "configmaps", 500);
        assert!(f.check(Verb::Get, "configmaps").1.is_none());
        assert_eq!(f.check(Verb::Create, "configmaps").1.unwrap().reason(), "InternalError");
        assert_eq!(f.pending(), 0);
    }

    #[test]
    fn latency() {
        let f = Faults::default();
        f.set_latency_for("leases", Duration::from_millis(30));
        assert_eq!(f.check(Verb::Get, "leases").0, Duration::from_millis(30));
        assert_eq!(f.check(Verb::Get, "pods").0, Duration::ZERO);
    }

    #[test]
    fn counters() {
        let c = RequestCounter::default();
        c.record(Verb::Get, "configmaps");
        c.record(Verb::Patch, "ptpconfigs/status");
        c.record(Verb::Update, "ptpconfigs");
        assert_eq!(c.count(Verb::Get, "configmaps"), 1);
        assert_eq!(c.writes("ptpconfigs"), 2);
        assert_eq!(c.writes("configmaps"), 0);
        assert_eq!(c.total_writes(), 2);
        c.reset();
        assert_eq!(c.total(), 0);
    }
}
