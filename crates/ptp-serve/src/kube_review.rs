//! [`Reviewer`] against the API server: `POST /apis/authentication.k8s.io/v1/tokenreviews` and
//! `POST /apis/authorization.k8s.io/v1/subjectaccessreviews` (the ServiceAccount needs `create`
//! on both). The request and answer mapping are plain functions.

use futures::future::BoxFuture;
use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec, TokenReviewStatus};
use k8s_openapi::api::authorization::v1::{
    NonResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec, SubjectAccessReviewStatus,
};
use kube::api::{Api, PostParams};

use crate::Error;
use crate::auth::{Access, Reviewer, UserInfo};

/// Asks the API server the client talks to.
#[derive(Clone)]
pub struct KubeReviewer {
    client: kube::Client,
}

impl KubeReviewer {
    pub fn new(client: kube::Client) -> Self {
        KubeReviewer { client }
    }
}

impl Reviewer for KubeReviewer {
    fn authenticate<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Option<UserInfo>, Error>> {
        Box::pin(async move {
            let api: Api<TokenReview> = Api::all(self.client.clone());
            let answer = api
                .create(&PostParams::default(), &token_review(token))
                .await
                .map_err(|e| review_error("TokenReview", "tokenreviews", e))?;
            Ok(user_of(answer.status))
        })
    }

    fn authorize<'a>(
        &'a self,
        user: &'a UserInfo,
        verb: &'a str,
        path: &'a str,
    ) -> BoxFuture<'a, Result<Access, Error>> {
        Box::pin(async move {
            let api: Api<SubjectAccessReview> = Api::all(self.client.clone());
            let answer = api
                .create(&PostParams::default(), &access_review(user, verb, path))
                .await
                .map_err(|e| review_error("SubjectAccessReview", "subjectaccessreviews", e))?;
            Ok(access_of(answer.status))
        })
    }
}

fn review_error(review: &'static str, resource: &str, e: kube::Error) -> Error {
    let hint = match &e {
        kube::Error::Api(status) if status.code == 403 => {
            format!(" (this ServiceAccount needs create on {resource}; see the chart's RBAC)")
        }
        _ => String::new(),
    };
    Error::Review { review, message: format!("{e}{hint}") }
}

/// The TokenReview asking who `token` is (the API server's default audiences).
pub fn token_review(token: &str) -> TokenReview {
    TokenReview { spec: TokenReviewSpec { token: token.to_string(), audiences: None }, ..Default::default() }
}

/// The user of an answered TokenReview; `None` unless it says `authenticated: true` and names
/// a user.
pub fn user_of(status: Option<TokenReviewStatus>) -> Option<UserInfo> {
    let status = status?;
    if status.authenticated != Some(true) {
        return None;
    }
    let user = status.user?;
    let username = user.username.filter(|u| !u.is_empty())?;
    Some(UserInfo {
        username,
        uid: user.uid.unwrap_or_default(),
        groups: user.groups.unwrap_or_default(),
        extra: user.extra.unwrap_or_default(),
    })
}

/// The SubjectAccessReview asking whether `user` may `verb` the non-resource URL `path`.
pub fn access_review(user: &UserInfo, verb: &str, path: &str) -> SubjectAccessReview {
    let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
    SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            user: some(&user.username),
            uid: some(&user.uid),
            groups: (!user.groups.is_empty()).then(|| user.groups.clone()),
            extra: (!user.extra.is_empty()).then(|| user.extra.clone()),
            non_resource_attributes: Some(NonResourceAttributes {
                path: Some(path.to_string()),
                verb: Some(verb.to_string()),
            }),
            resource_attributes: None,
        },
        ..Default::default()
    }
}

/// `allowed: true` is access; anything else (denied, no opinion, an evaluation error) is not.
pub fn access_of(status: Option<SubjectAccessReviewStatus>) -> Access {
    match status {
        Some(s) if s.allowed => Access::Allowed,
        Some(s) => {
            let reason = s.reason.filter(|r| !r.is_empty()).or(s.evaluation_error).unwrap_or_default();
            Access::Denied(reason)
        }
        None => Access::Denied("no status in the SubjectAccessReview answer".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::authentication::v1::UserInfo as KubeUser;
    use std::collections::BTreeMap;

    #[test]
    fn token_review_carries_only_the_token() {
        let r = token_review("abc");
        assert_eq!(r.spec.token, "abc");
        assert_eq!(r.spec.audiences, None);
    }

    #[test]
    fn user_only_when_authenticated_with_a_name() {
        let extra = BTreeMap::from([("authentication.kubernetes.io/node-name".to_string(), vec!["w0".to_string()])]);
        let user = KubeUser {
            username: Some("system:serviceaccount:monitoring:prometheus".into()),
            uid: Some("u-1".into()),
            groups: Some(vec!["system:serviceaccounts".into()]),
            extra: Some(extra.clone()),
        };
        let status = |authenticated: Option<bool>, user: Option<KubeUser>| {
            Some(TokenReviewStatus { authenticated, user, ..Default::default() })
        };
        let got = user_of(status(Some(true), Some(user.clone()))).expect("user");
        assert_eq!(got.username, "system:serviceaccount:monitoring:prometheus");
        assert_eq!((got.uid.as_str(), got.groups.len(), got.extra), ("u-1", 1, extra));
        assert_eq!(user_of(status(Some(false), Some(user.clone()))), None);
        assert_eq!(user_of(status(None, Some(user.clone()))), None);
        assert_eq!(user_of(status(Some(true), None)), None);
        assert_eq!(user_of(status(Some(true), Some(KubeUser { username: Some(String::new()), ..user }))), None);
        assert_eq!(user_of(None), None);
    }

    #[test]
    fn access_review_is_for_the_non_resource_url() {
        let user = UserInfo {
            username: "alice".into(),
            uid: "u-2".into(),
            groups: vec!["g".into()],
            extra: BTreeMap::from([("k".to_string(), vec!["v".to_string()])]),
        };
        let spec = access_review(&user, "get", "/metrics").spec;
        assert_eq!(spec.user.as_deref(), Some("alice"));
        assert_eq!(spec.uid.as_deref(), Some("u-2"));
        assert_eq!(spec.groups, Some(vec!["g".to_string()]));
        assert_eq!(spec.extra.map(|e| e.len()), Some(1));
        let nr = spec.non_resource_attributes.expect("non-resource attributes");
        assert_eq!((nr.path.as_deref(), nr.verb.as_deref()), (Some("/metrics"), Some("get")));
        assert!(spec.resource_attributes.is_none());
        let bare = access_review(&UserInfo { username: "bob".into(), ..Default::default() }, "get", "/metrics").spec;
        assert_eq!((bare.uid, bare.groups, bare.extra), (None, None, None));
    }

    #[test]
    fn only_allowed_true_is_access() {
        let status = |allowed, denied, reason: Option<&str>, error: Option<&str>| {
            Some(SubjectAccessReviewStatus {
                allowed,
                denied,
                reason: reason.map(Into::into),
                evaluation_error: error.map(Into::into),
            })
        };
        assert_eq!(access_of(status(true, None, None, None)), Access::Allowed);
        assert_eq!(access_of(status(false, None, None, None)), Access::Denied(String::new()));
        assert_eq!(
            access_of(status(false, Some(true), Some("denied by policy"), None)),
            Access::Denied("denied by policy".into())
        );
        assert_eq!(
            access_of(status(false, None, Some(""), Some("webhook down"))),
            Access::Denied("webhook down".into())
        );
        assert!(matches!(access_of(None), Access::Denied(_)));
    }
}
