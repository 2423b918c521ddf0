//! Who may read an endpoint: the caller's bearer token is authenticated by the API server
//! (TokenReview) and the user it names is authorized for the request's verb on its path as a
//! non-resource URL (SubjectAccessReview), as kube-rbac-proxy does in front of the Go daemon.
//! Answers are cached briefly per (token, verb, path); failures to reach the API server are not.
//!
//! The decisions are plain functions over plain data ([`bearer_token`], [`verb_of`],
//! [`Verdict`]); the API calls sit behind the [`Reviewer`] trait ([`crate::KubeReviewer`] in the
//! binaries, a fake in tests).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::Semaphore;
use tracing::{debug, warn};

use crate::Error;
use crate::cache::{self, Cache};

/// How long an allowed request is remembered: RBAC changes and revoked tokens take effect
/// within this time.
pub const ALLOW_TTL: Duration = Duration::from_secs(60);
/// How long a refusal (401, 403) is remembered: a new RoleBinding takes effect within this time.
pub const DENY_TTL: Duration = Duration::from_secs(10);
/// Remembered (token, verb, path) answers at most.
pub const CACHE_CAPACITY: usize = 1024;
/// Reviews in flight at once: a flood of requests with made-up tokens queues here instead of
/// flooding the API server.
pub const MAX_CONCURRENT_REVIEWS: usize = 4;

/// The user a token belongs to, as TokenReview reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserInfo {
    pub username: String,
    pub uid: String,
    pub groups: Vec<String>,
    pub extra: BTreeMap<String, Vec<String>>,
}

/// The answer of a SubjectAccessReview.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Access {
    Allowed,
    /// With the authorizer's reason (may be empty).
    Denied(String),
}

/// The two questions asked of the API server.
pub trait Reviewer: Send + Sync {
    /// The user `token` authenticates as; `None` when the API server does not accept it.
    fn authenticate<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Option<UserInfo>, Error>>;
    /// Whether `user` may `verb` the non-resource URL `path`.
    fn authorize<'a>(
        &'a self,
        user: &'a UserInfo,
        verb: &'a str,
        path: &'a str,
    ) -> BoxFuture<'a, Result<Access, Error>>;
}

/// What happens to a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Served.
    Allow,
    /// 401: no bearer token, a malformed `Authorization` header, or a token the API server does
    /// not accept.
    Unauthenticated(String),
    /// 403: the token's user has no RBAC rule allowing the verb on the path.
    Forbidden(String),
    /// 503: the API server could not answer (not cached; the next scrape asks again).
    Unavailable(String),
}

impl Verdict {
    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        match self {
            Verdict::Allow => 200,
            Verdict::Unauthenticated(_) => 401,
            Verdict::Forbidden(_) => 403,
            Verdict::Unavailable(_) => 503,
        }
    }

    /// How long the verdict may be reused for the same token, verb and path.
    pub fn ttl(&self) -> Option<Duration> {
        match self {
            Verdict::Allow => Some(ALLOW_TTL),
            Verdict::Unauthenticated(_) | Verdict::Forbidden(_) => Some(DENY_TTL),
            Verdict::Unavailable(_) => None,
        }
    }

    /// The verdict once the API server has answered both reviews (`None`: the token was not
    /// accepted, so no access review was made).
    pub fn of_reviews(user: Option<&UserInfo>, access: Option<&Access>, verb: &str, path: &str) -> Verdict {
        match (user, access) {
            (None, _) => Verdict::Unauthenticated("the token was not accepted".into()),
            (Some(_), None | Some(Access::Allowed)) => Verdict::Allow,
            (Some(user), Some(Access::Denied(reason))) => {
                let reason = if reason.is_empty() { String::new() } else { format!(": {reason}") };
                Verdict::Forbidden(format!("user {:?} may not {verb} {path}{reason}", user.username))
            }
        }
    }
}

/// The token of an `Authorization: Bearer <token>` header (the scheme is case-insensitive).
pub fn bearer_token(header: Option<&[u8]>) -> Result<&str, &'static str> {
    let header = header.ok_or("no Authorization header (a bearer token is required)")?;
    let text = std::str::from_utf8(header).map_err(|_| "the Authorization header is not text")?;
    let (scheme, token) = text.trim().split_once(' ').ok_or("the Authorization header is not a bearer token")?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err("the Authorization header is not a bearer token");
    }
    let token = token.trim();
    if token.is_empty() {
        return Err("empty bearer token");
    }
    Ok(token)
}

/// The Kubernetes verb of an HTTP method on a non-resource URL (as the API server maps it).
pub fn verb_of(method: &str) -> String {
    match method {
        "GET" | "HEAD" => "get".into(),
        "POST" => "create".into(),
        "PUT" => "update".into(),
        "PATCH" => "patch".into(),
        "DELETE" => "delete".into(),
        other => other.to_ascii_lowercase(),
    }
}

/// Checks requests against the API server, with a bounded cache of answers.
pub struct Authorizer {
    reviewer: Arc<dyn Reviewer>,
    cache: Mutex<Cache<Verdict>>,
    reviews: Semaphore,
}

impl std::fmt::Debug for Authorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorizer").finish_non_exhaustive()
    }
}

impl Authorizer {
    pub fn new(reviewer: Arc<dyn Reviewer>) -> Self {
        Authorizer {
            reviewer,
            cache: Mutex::new(Cache::new(CACHE_CAPACITY)),
            reviews: Semaphore::new(MAX_CONCURRENT_REVIEWS),
        }
    }

    /// The verdict on a request with this `Authorization` header value for `verb` on `path`.
    pub async fn check(&self, authorization: Option<&[u8]>, verb: &str, path: &str) -> Verdict {
        let token = match bearer_token(authorization) {
            Ok(token) => token,
            Err(why) => return Verdict::Unauthenticated(why.into()),
        };
        let key = cache::key(token, verb, path);
        if let Some(cached) = self.lock().get(&key, now()) {
            return cached;
        }
        let verdict = self.review(token, verb, path).await;
        if let Some(ttl) = verdict.ttl() {
            let now = now();
            self.lock().insert(key, verdict.clone(), now + ttl, now);
        }
        verdict
    }

    async fn review(&self, token: &str, verb: &str, path: &str) -> Verdict {
        let Ok(_permit) = self.reviews.acquire().await else {
            return Verdict::Unavailable("shutting down".into());
        };
        let user = match self.reviewer.authenticate(token).await {
            Ok(user) => user,
            Err(e) => {
                warn!(error = %e, "cannot authenticate a metrics request");
                return Verdict::Unavailable("cannot reach the API server to check the token".into());
            }
        };
        let access = match &user {
            None => {
                debug!(%path, "metrics request with a token the API server does not accept");
                None
            }
            Some(user) => match self.reviewer.authorize(user, verb, path).await {
                Ok(access) => Some(access),
                Err(e) => {
                    warn!(error = %e, "cannot authorize a metrics request");
                    return Verdict::Unavailable("cannot reach the API server to check access".into());
                }
            },
        };
        let verdict = Verdict::of_reviews(user.as_ref(), access.as_ref(), verb, path);
        if let Verdict::Forbidden(why) = &verdict {
            debug!(%why, "metrics request forbidden");
        }
        verdict
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cache<Verdict>> {
        // The cache holds no invariant a panic could break: keep using it.
        self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The current instant on tokio's clock (paused and advanced in tests).
fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn bearer_tokens() {
        assert_eq!(bearer_token(Some(b"Bearer abc.def")), Ok("abc.def"));
        assert_eq!(bearer_token(Some(b"bearer  abc ")), Ok("abc"));
        assert_eq!(bearer_token(Some(b"BEARER abc")), Ok("abc"));
        assert!(bearer_token(None).unwrap_err().contains("no Authorization header"));
        for bad in [&b"Basic dXNlcjpwdw=="[..], b"Bearer", b"Bearer   ", b"abc", b"", b"Bearer \xff"] {
            assert!(bearer_token(Some(bad)).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        assert_eq!(bearer_token(Some(b"Bearer ")), Err("the Authorization header is not a bearer token"));
    }

    #[test]
    fn verbs_of_methods() {
        for (method, verb) in [
            ("GET", "get"),
            ("HEAD", "get"),
            ("POST", "create"),
            ("PUT", "update"),
            ("PATCH", "patch"),
            ("DELETE", "delete"),
        ] {
            assert_eq!(verb_of(method), verb);
        }
        assert_eq!(verb_of("OPTIONS"), "options");
    }

    #[test]
    fn verdicts_and_their_status_codes() {
        let user = UserInfo { username: "system:serviceaccount:monitoring:prometheus".into(), ..Default::default() };
        let v = Verdict::of_reviews(None, None, "get", "/metrics");
        assert_eq!((v.status(), v.ttl()), (401, Some(DENY_TTL)));
        let v = Verdict::of_reviews(Some(&user), Some(&Access::Allowed), "get", "/metrics");
        assert_eq!((v.status(), v.ttl()), (200, Some(ALLOW_TTL)));
        let v = Verdict::of_reviews(Some(&user), Some(&Access::Denied("no rule".into())), "get", "/metrics");
        assert_eq!((v.status(), v.ttl()), (403, Some(DENY_TTL)));
        assert_eq!(
            v,
            Verdict::Forbidden(
                r#"user "system:serviceaccount:monitoring:prometheus" may not get /metrics: no rule"#.into()
            )
        );
        let v = Verdict::of_reviews(Some(&user), Some(&Access::Denied(String::new())), "get", "/metrics");
        assert!(matches!(&v, Verdict::Forbidden(m) if m.ends_with("get /metrics")), "{v:?}");
        let v = Verdict::Unavailable("x".into());
        assert_eq!((v.status(), v.ttl()), (503, None));
    }

    /// Tokens "good" (allowed), "reader-denied" (authenticated, not allowed); others unknown.
    /// `fail` makes every call an error.
    #[derive(Default)]
    struct Fake {
        authn: AtomicUsize,
        authz: AtomicUsize,
        fail: std::sync::atomic::AtomicBool,
    }

    impl Reviewer for Fake {
        fn authenticate<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Option<UserInfo>, Error>> {
            Box::pin(async move {
                self.authn.fetch_add(1, Ordering::SeqCst);
                if self.fail.load(Ordering::SeqCst) {
                    return Err(Error::Review { review: "TokenReview", message: "connection refused".into() });
                }
                Ok(match token {
                    "good" | "reader-denied" => Some(UserInfo { username: token.into(), ..Default::default() }),
                    _ => None,
                })
            })
        }
        fn authorize<'a>(
            &'a self,
            user: &'a UserInfo,
            verb: &'a str,
            path: &'a str,
        ) -> BoxFuture<'a, Result<Access, Error>> {
            Box::pin(async move {
                self.authz.fetch_add(1, Ordering::SeqCst);
                Ok(if user.username == "good" && verb == "get" && path == "/metrics" {
                    Access::Allowed
                } else {
                    Access::Denied("RBAC: no rule".into())
                })
            })
        }
    }

    fn authorizer() -> (Arc<Fake>, Authorizer) {
        let fake = Arc::new(Fake::default());
        (fake.clone(), Authorizer::new(fake))
    }

    fn calls(f: &Fake) -> (usize, usize) {
        (f.authn.load(Ordering::SeqCst), f.authz.load(Ordering::SeqCst))
    }

    #[tokio::test(start_paused = true)]
    async fn missing_token_is_401_without_asking_the_api_server() {
        let (fake, auth) = authorizer();
        assert_eq!(auth.check(None, "get", "/metrics").await.status(), 401);
        assert_eq!(auth.check(Some(b"Basic eA=="), "get", "/metrics").await.status(), 401);
        assert_eq!(calls(&fake), (0, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn unknown_token_is_401_denied_is_403_allowed_is_200() {
        let (fake, auth) = authorizer();
        assert_eq!(auth.check(Some(b"Bearer nope"), "get", "/metrics").await.status(), 401);
        assert_eq!(calls(&fake), (1, 0), "no access review for an unauthenticated token");
        assert_eq!(auth.check(Some(b"Bearer reader-denied"), "get", "/metrics").await.status(), 403);
        assert_eq!(auth.check(Some(b"Bearer good"), "get", "/metrics").await, Verdict::Allow);
        assert_eq!(auth.check(Some(b"Bearer good"), "create", "/metrics").await.status(), 403);
        assert_eq!(calls(&fake), (4, 3));
    }

    #[tokio::test(start_paused = true)]
    async fn answers_are_cached_until_their_ttl() {
        let (fake, auth) = authorizer();
        for _ in 0..5 {
            assert_eq!(auth.check(Some(b"Bearer good"), "get", "/metrics").await, Verdict::Allow);
            assert_eq!(auth.check(Some(b"Bearer reader-denied"), "get", "/metrics").await.status(), 403);
            assert_eq!(auth.check(Some(b"Bearer nope"), "get", "/metrics").await.status(), 401);
        }
        assert_eq!(calls(&fake), (3, 2), "one review per token");
        // the refusals expire first
        tokio::time::advance(DENY_TTL).await;
        auth.check(Some(b"Bearer good"), "get", "/metrics").await;
        auth.check(Some(b"Bearer reader-denied"), "get", "/metrics").await;
        auth.check(Some(b"Bearer nope"), "get", "/metrics").await;
        assert_eq!(calls(&fake), (5, 3));
        tokio::time::advance(ALLOW_TTL - DENY_TTL).await;
        auth.check(Some(b"Bearer good"), "get", "/metrics").await;
        assert_eq!(calls(&fake), (6, 4));
    }

    #[tokio::test(start_paused = true)]
    async fn api_server_errors_are_503_and_not_cached() {
        let (fake, auth) = authorizer();
        fake.fail.store(true, Ordering::SeqCst);
        assert_eq!(auth.check(Some(b"Bearer good"), "get", "/metrics").await.status(), 503);
        assert_eq!(auth.check(Some(b"Bearer good"), "get", "/metrics").await.status(), 503);
        fake.fail.store(false, Ordering::SeqCst);
        assert_eq!(auth.check(Some(b"Bearer good"), "get", "/metrics").await, Verdict::Allow);
        assert_eq!(calls(&fake), (3, 1));
    }

    #[tokio::test(start_paused = true)]
    async fn the_cache_stays_bounded_under_many_tokens() {
        let (fake, auth) = authorizer();
        for n in 0..(CACHE_CAPACITY + 100) {
            let header = format!("Bearer made-up-{n}");
            assert_eq!(auth.check(Some(header.as_bytes()), "get", "/metrics").await.status(), 401);
        }
        assert_eq!(auth.lock().len(), CACHE_CAPACITY);
        assert_eq!(calls(&fake).0, CACHE_CAPACITY + 100);
    }
}
