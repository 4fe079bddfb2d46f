//! The review resources that are answered, never stored (besides SelfSubjectAccessReview in
//! [`crate::rbac`]), as kube-apiserver's `pkg/registry/authentication` and
//! `pkg/registry/authorization` answer them:
//!
//! - `authentication.k8s.io/v1` **TokenReview** (`POST /apis/authentication.k8s.io/v1/tokenreviews`,
//!   what webhook authenticators and kubelets ask): `spec.token` is run through the server's
//!   token authenticator ([`ApiServer::set_token_authenticator`]; the HTTPS front installs its
//!   own) for `spec.audiences` (default: the API's audiences); the answer echoes the review
//!   with `status.authenticated`, `status.user` (`username`, `uid`, `groups`, `extra`),
//!   `status.audiences` and, when something failed, `status.error`. A token nobody knows is
//!   `status: {user: {}}`. 400 `token is required for TokenReview in authentication` for an
//!   empty token.
//! - `authentication.k8s.io/v1` **SelfSubjectReview** (`kubectl auth whoami`, 1.28+), also as
//!   `v1beta1` (kubectl 1.27 asks for it): the caller's own user info in `status.userInfo`,
//!   answered in the version asked.
//! - `authorization.k8s.io/v1` **SelfSubjectRulesReview** (`kubectl auth can-i --list`): the
//!   rules the caller holds in `spec.namespace` (400 `no namespace on request` without one),
//!   from [`Authorizer::rules_for`](crate::auth::Authorizer::rules_for): `status.resourceRules`
//!   (`verbs`, `apiGroups`, `resources`, `resourceNames`), `status.nonResourceRules` (`verbs`,
//!   `nonResourceURLs`), `status.incomplete` and `status.evaluationError`.
//!
//! Creating any of them needs `create` on the resource (the bootstrap role
//! `system:basic-user` grants the self reviews to every authenticated user;
//! `system:auth-delegator` grants `tokenreviews`).

use crate::auth::UserInfo;
use crate::errors::{self, Result};
use crate::server::{ApiServer, Response};
use kubox_core::registry::ResourceInfo;
use serde_json::{json, Map, Value};

/// The group of TokenReview and SelfSubjectReview.
pub const AUTHENTICATION_GROUP: &str = "authentication.k8s.io";
/// The group of SelfSubjectRulesReview (and SelfSubjectAccessReview).
pub const AUTHORIZATION_GROUP: &str = "authorization.k8s.io";

/// Whether `info` is one of the reviews this module answers.
pub(crate) fn is_review(info: &ResourceInfo) -> bool {
    matches!(
        (info.group, info.plural),
        (AUTHENTICATION_GROUP, "tokenreviews" | "selfsubjectreviews")
            | (AUTHORIZATION_GROUP, "selfsubjectrulesreviews")
    )
}

/// `user.Info` as the review APIs write it (`username`, `uid`, `groups`, `extra`; empty ones
/// left out).
pub fn user_info_json(u: &UserInfo) -> Value {
    let mut m = Map::new();
    if !u.name.is_empty() {
        m.insert("username".into(), json!(u.name));
    }
    if !u.uid.is_empty() {
        m.insert("uid".into(), json!(u.uid));
    }
    if !u.groups.is_empty() {
        m.insert("groups".into(), json!(u.groups));
    }
    if !u.extra.is_empty() {
        m.insert("extra".into(), json!(u.extra));
    }
    Value::Object(m)
}

/// The request's metadata with `creationTimestamp` (null when absent), as an unstored object
/// echoes it.
fn echo_metadata(body: &Value) -> Value {
    let mut metadata = body["metadata"].as_object().cloned().unwrap_or_default();
    metadata
        .entry("creationTimestamp".to_string())
        .or_insert(Value::Null);
    Value::Object(metadata)
}

/// Answers a create of the review `info` with `body` as `user` (authorized by the caller).
pub(crate) async fn answer(
    server: &ApiServer,
    user: &UserInfo,
    info: &ResourceInfo,
    body: &Value,
) -> Result<Response> {
    let api_version = format!("{}/{}", info.group, info.version);
    crate::rest::check_body(body, &api_version, info.kind)?;
    let out = match info.plural {
        "tokenreviews" => token_review(server, body).await?,
        "selfsubjectreviews" => self_subject_review(user, server.clock().now(), &api_version),
        _ => self_subject_rules_review(server, user, body).await?,
    };
    Ok(Response::new(201, out))
}

/// SelfSubjectReview (`api_version`: v1 or v1beta1, the same shape): who the caller is.
fn self_subject_review(user: &UserInfo, now: jiff::Timestamp, api_version: &str) -> Value {
    json!({
        "kind": "SelfSubjectReview",
        "apiVersion": api_version,
        "metadata": {"creationTimestamp": kubox_core::Time(now).to_string()},
        "status": {"userInfo": user_info_json(user)},
    })
}

/// SelfSubjectRulesReview: the caller's rules in `spec.namespace`.
async fn self_subject_rules_review(
    server: &ApiServer,
    user: &UserInfo,
    body: &Value,
) -> Result<Value> {
    let namespace = body
        .pointer("/spec/namespace")
        .and_then(Value::as_str)
        .unwrap_or("");
    if namespace.is_empty() {
        return Err(errors::bad_request("no namespace on request"));
    }
    let rules = server.authorizer().rules_for(user, namespace).await;
    let strings =
        |v: &Option<Vec<String>>| v.as_deref().filter(|s| !s.is_empty()).map(|s| json!(s));
    let mut resource_rules = Vec::new();
    let mut non_resource_rules = Vec::new();
    for r in &rules.rules {
        if r.resources.as_ref().is_some_and(|x| !x.is_empty()) {
            let mut m = Map::new();
            m.insert("verbs".into(), json!(r.verbs));
            for (k, v) in [
                ("apiGroups", &r.api_groups),
                ("resources", &r.resources),
                ("resourceNames", &r.resource_names),
            ] {
                if let Some(v) = strings(v) {
                    m.insert(k.into(), v);
                }
            }
            resource_rules.push(Value::Object(m));
        }
        if r.non_resource_urls.as_ref().is_some_and(|x| !x.is_empty()) {
            non_resource_rules.push(json!({
                "verbs": r.verbs,
                "nonResourceURLs": r.non_resource_urls,
            }));
        }
    }
    let mut status = json!({
        "resourceRules": resource_rules,
        "nonResourceRules": non_resource_rules,
        "incomplete": rules.incomplete,
    });
    if let Some(e) = rules.evaluation_error() {
        status["evaluationError"] = json!(e);
    }
    Ok(json!({
        "kind": "SelfSubjectRulesReview",
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": {"creationTimestamp": null},
        "spec": {},
        "status": status,
    }))
}

/// TokenReview: the server's token authenticator on `spec.token`.
async fn token_review(server: &ApiServer, body: &Value) -> Result<Value> {
    let spec = &body["spec"];
    let token = spec.get("token").and_then(Value::as_str).unwrap_or("");
    if token.is_empty() {
        return Err(errors::bad_request(
            "token is required for TokenReview in authentication",
        ));
    }
    let implicit = server.api_audiences();
    let asked = crate::object::strings(spec.get("audiences"));
    let requested = if asked.is_empty() {
        implicit.clone()
    } else {
        asked
    };
    let mut status = Map::new();
    let Some(authn) = server.token_authenticator() else {
        status.insert("user".into(), json!({}));
        status.insert(
            "error".into(),
            json!("the server has no token authenticator configured"),
        );
        return Ok(review_response(body, status));
    };
    let found = match authn.authenticate_for(token, &requested).await {
        None => None,
        Some((user, Some(valid_for))) => Some((user, Some(valid_for))),
        // Audience-agnostic (`WrapAudienceAgnosticToken`): valid for the API's audiences
        // among those asked for.
        Some((user, None)) if implicit.is_empty() => Some((user, None)),
        Some((user, None)) => {
            let auds: Vec<String> = implicit
                .iter()
                .filter(|a| requested.contains(a))
                .cloned()
                .collect();
            (!auds.is_empty()).then_some((user, Some(auds)))
        }
    };
    match found {
        None => {
            status.insert("user".into(), json!({}));
        }
        Some((user, auds)) => {
            let auds = auds.unwrap_or_default();
            if !requested.is_empty() && !auds.iter().any(|a| requested.contains(a)) {
                return Err(errors::internal("error validating audiences"));
            }
            status.insert("authenticated".into(), json!(true));
            status.insert("user".into(), user_info_json(&user));
            if !auds.is_empty() {
                status.insert("audiences".into(), json!(auds));
            }
        }
    }
    Ok(review_response(body, status))
}

fn review_response(body: &Value, status: Map<String, Value>) -> Value {
    json!({
        "kind": "TokenReview",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": echo_metadata(body),
        "spec": body.get("spec").cloned().unwrap_or_else(|| json!({})),
        "status": Value::Object(status),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_info_leaves_out_empty_fields() {
        assert_eq!(user_info_json(&UserInfo::default()), json!({}));
        let mut u = UserInfo::new("alice", &["dev"]);
        u.uid = "1".into();
        u.extra.insert("scopes".into(), vec!["a".into()]);
        assert_eq!(
            user_info_json(&u),
            json!({"username": "alice", "uid": "1", "groups": ["dev"], "extra": {"scopes": ["a"]}})
        );
    }

    fn create(group: &str, plural: &str, body: Value) -> kubox_core::client::Request {
        kubox_core::client::Request {
            resource: kubox_core::client::GroupVersionResource {
                group: group.into(),
                version: "v1".into(),
                resource: plural.into(),
            },
            namespace: None,
            name: None,
            subresource: None,
            verb: kubox_core::client::Verb::Create(Default::default()),
            body: Some(body),
        }
    }

    #[tokio::test]
    async fn in_process_reviews() {
        let server = ApiServer::new(std::sync::Arc::new(
            kube_store::embedded::EmbeddedStore::in_memory(),
        ));
        let admin = UserInfo::admin();
        let review = json!({"spec": {"token": "t"}});
        // No token authenticator yet: nobody is authenticated, and the review says why.
        let r = server
            .serve(
                &admin,
                create(AUTHENTICATION_GROUP, "tokenreviews", review.clone()),
            )
            .await
            .unwrap();
        assert_eq!(r.code, 201);
        assert_eq!(
            r.body["status"],
            json!({"user": {}, "error": "the server has no token authenticator configured"})
        );
        let tokens = crate::http::StaticTokens::new().with("t", UserInfo::new("tess", &[]));
        assert!(server.set_token_authenticator(std::sync::Arc::new(tokens)));
        assert!(
            !server.set_token_authenticator(std::sync::Arc::new(crate::http::StaticTokens::new()))
        );
        let r = server
            .serve(&admin, create(AUTHENTICATION_GROUP, "tokenreviews", review))
            .await
            .unwrap();
        // No API audiences (no service-account keys): none reported.
        assert_eq!(
            r.body["status"],
            json!({"authenticated": true, "user": {"username": "tess", "groups": ["system:authenticated"]}})
        );
        // The always-allow authorizer holds everything.
        let r = server
            .serve(
                &admin,
                create(
                    AUTHORIZATION_GROUP,
                    "selfsubjectrulesreviews",
                    json!({"spec": {"namespace": "default"}}),
                ),
            )
            .await
            .unwrap();
        assert_eq!(
            r.body["status"],
            json!({"resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
                   "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
                   "incomplete": false})
        );
        // Cluster-scoped: a namespace in the request is 404.
        let mut namespaced = create(AUTHENTICATION_GROUP, "selfsubjectreviews", json!({}));
        namespaced.namespace = Some("default".into());
        assert_eq!(
            server.serve(&admin, namespaced).await.unwrap_err().code(),
            404
        );
    }

    /// A length-delimited protobuf field.
    fn field(tag: u8, payload: &[u8]) -> Vec<u8> {
        assert!(payload.len() < 128 && tag < 16);
        let mut v = vec![(tag << 3) | 2, payload.len() as u8];
        v.extend_from_slice(payload);
        v
    }

    /// kubectl 1.32+'s protobuf envelope around `raw`.
    fn envelope(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
        let type_meta = [field(1, api_version.as_bytes()), field(2, kind.as_bytes())].concat();
        let unknown = [field(1, &type_meta), field(2, raw)].concat();
        [b"k8s\0".to_vec(), unknown].concat()
    }

    #[test]
    fn review_bodies_decode_from_protobuf() {
        let ssrr = envelope(
            "authorization.k8s.io/v1",
            "SelfSubjectRulesReview",
            &[field(1, &[]), field(2, &field(1, b"dev"))].concat(),
        );
        let v = crate::protobuf::decode(&ssrr).unwrap().object;
        assert_eq!(v["kind"], "SelfSubjectRulesReview");
        assert_eq!(v["spec"], json!({"namespace": "dev"}));
        let spec = [field(1, b"tok"), field(2, b"api"), field(2, b"vault")].concat();
        let tr = envelope(
            "authentication.k8s.io/v1",
            "TokenReview",
            &[field(1, &[]), field(2, &spec)].concat(),
        );
        let v = crate::protobuf::decode(&tr).unwrap().object;
        assert_eq!(
            v["spec"],
            json!({"token": "tok", "audiences": ["api", "vault"]})
        );
        let ssr = envelope(
            "authentication.k8s.io/v1",
            "SelfSubjectReview",
            &field(1, &[]),
        );
        let v = crate::protobuf::decode(&ssr).unwrap().object;
        assert_eq!(v["kind"], "SelfSubjectReview");
    }

    #[test]
    fn reviews_are_recognized() {
        let find = |g, p| kubox_core::registry::find(g, "v1", p).unwrap();
        assert!(is_review(find(AUTHENTICATION_GROUP, "tokenreviews")));
        assert!(is_review(find(AUTHENTICATION_GROUP, "selfsubjectreviews")));
        assert!(is_review(find(
            AUTHORIZATION_GROUP,
            "selfsubjectrulesreviews"
        )));
        assert!(!is_review(find(
            AUTHORIZATION_GROUP,
            "selfsubjectaccessreviews"
        )));
        assert!(!is_review(find("", "pods")));
    }
}
