//! TokenReview, SelfSubjectReview and SelfSubjectRulesReview over HTTPS on an RBAC server
//! (as the apiserver example builds it), plus their discovery entries.

use ::http::Method;
use bytes::Bytes;
use kube_api::admission::Chain;
use kube_api::http::{self, StaticTokens, Union};
use kube_api::http_client::{HttpClient, RawResponse};
use kube_api::kubeconfig::Kubeconfig;
use kube_api::rbac::{self, NodeAuthorizer, RbacAuthorizer};
use kube_api::tls::TlsAssets;
use kube_api::tokens::{ServiceAccountKeys, ServiceAccountTokens};
use kube_api::{ApiServer, UserInfo};
use kube_store::embedded::EmbeddedStore;
use kube_store::Store;
use serde_json::{json, Value};
use std::sync::Arc;

const ALICE: &str = "alice-token";
const NODE: &str = "node-token";
const ISSUER: &str = "https://kubox.test";

struct Harness {
    running: http::Running,
    pki: TlsAssets,
    server: ApiServer,
    rbac: RbacAuthorizer,
    _dir: tempfile::TempDir,
}

async fn start() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let pki = TlsAssets::load_or_generate(dir.path(), &[]).unwrap();
    let keys = Arc::new(ServiceAccountKeys::load_or_generate(dir.path(), ISSUER).unwrap());
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::in_memory());
    let rbac = RbacAuthorizer::new(store.clone());
    let server = ApiServer::builder(store.clone())
        .authorizer(Arc::new(NodeAuthorizer::new(rbac.clone())))
        .admission(Chain::default_for(store).with(rbac::RbacEscalation::new(rbac.clone())))
        .service_account_keys(keys.clone())
        .build();
    server.ensure_system_namespaces().await.unwrap();
    rbac::ensure_bootstrap_policy(&server).await.unwrap();
    let mut alice = UserInfo::new("alice", &["dev"]);
    alice.uid = "uid-alice".into();
    alice.extra.insert("scopes".into(), vec!["read".into()]);
    let tokens = StaticTokens::new()
        .with(pki.admin_token.clone(), UserInfo::admin())
        .with(ALICE, alice)
        .with(NODE, UserInfo::new("system:node:n1", &["system:nodes"]));
    let authn = Union(vec![
        Arc::new(tokens),
        Arc::new(ServiceAccountTokens::new(keys.clone(), server.clone())),
    ]);
    let cfg = http::Config::new(pki.server_config().unwrap(), Arc::new(authn));
    let running = http::bind("127.0.0.1:0".parse().unwrap(), server.clone(), cfg)
        .await
        .unwrap();
    let h = Harness {
        running,
        pki,
        server,
        rbac,
        _dir: dir,
    };
    h.sync().await;
    h
}

impl Harness {
    fn client(&self, token: &str) -> HttpClient {
        let mut kc = Kubeconfig::admin(&self.running.url(), &self.pki.ca_pem, "x");
        kc.users[0].user.token = Some(token.to_string());
        HttpClient::from_kubeconfig(&kc).unwrap()
    }
    fn admin(&self) -> HttpClient {
        self.client(&self.pki.admin_token.clone())
    }
    async fn sync(&self) {
        let rev = self.server.store().current_revision().await.unwrap();
        self.rbac.wait_for_revision(rev).await;
    }
}

async fn post(c: &HttpClient, path: &str, body: Value) -> RawResponse {
    c.send_raw(
        Method::POST,
        path,
        &[("content-type", "application/json")],
        Some(Bytes::from(serde_json::to_vec(&body).unwrap())),
    )
    .await
    .unwrap()
}

const TOKEN_REVIEWS: &str = "/apis/authentication.k8s.io/v1/tokenreviews";
const SELF_REVIEWS: &str = "/apis/authentication.k8s.io/v1/selfsubjectreviews";
const RULES_REVIEWS: &str = "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews";

fn token_review(token: &str, audiences: &[&str]) -> Value {
    let mut spec = json!({"token": token});
    if !audiences.is_empty() {
        spec["audiences"] = json!(audiences);
    }
    json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": spec})
}

fn status_of(r: &RawResponse) -> (u16, String, String) {
    let v = r.json().unwrap();
    (
        r.status,
        v["reason"].as_str().unwrap_or("").to_string(),
        v["message"].as_str().unwrap_or("").to_string(),
    )
}

#[tokio::test]
async fn token_reviews() {
    let h = start().await;
    let admin = h.admin();

    // A static token: authenticated, for the API's audiences.
    let r = post(&admin, TOKEN_REVIEWS, token_review(ALICE, &[])).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let v = r.json().unwrap();
    assert_eq!(v["kind"], "TokenReview");
    assert_eq!(v["apiVersion"], "authentication.k8s.io/v1");
    assert_eq!(v["spec"]["token"], ALICE);
    assert_eq!(
        v["status"],
        json!({"authenticated": true,
               "user": {"username": "alice", "uid": "uid-alice",
                        "groups": ["dev", "system:authenticated"], "extra": {"scopes": ["read"]}},
               "audiences": [ISSUER]})
    );
    // Audience-agnostic tokens are not valid for someone else's audience.
    let r = post(&admin, TOKEN_REVIEWS, token_review(ALICE, &["vault"])).await;
    assert_eq!(r.json().unwrap()["status"], json!({"user": {}}));
    // Unknown token.
    let r = post(&admin, TOKEN_REVIEWS, token_review("nope", &[])).await;
    assert_eq!(r.status, 201);
    assert_eq!(r.json().unwrap()["status"], json!({"user": {}}));
    // No token.
    let r = post(&admin, TOKEN_REVIEWS, token_review("", &[])).await;
    assert_eq!(
        status_of(&r),
        (
            400,
            "BadRequest".into(),
            "token is required for TokenReview in authentication".into()
        )
    );
    // Wrong kind.
    let r = post(
        &admin,
        TOKEN_REVIEWS,
        json!({"apiVersion": "authentication.k8s.io/v1", "kind": "Pod", "spec": {"token": "x"}}),
    )
    .await;
    assert_eq!(r.status, 400, "{:?}", r.body);

    // A service-account token bound to `vault`: valid for vault, not for the API.
    let r = post(
        &admin,
        "/api/v1/namespaces/default/serviceaccounts",
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "bot"}}),
    )
    .await;
    assert_eq!(r.status, 201);
    let sa_uid = r.json().unwrap()["metadata"]["uid"].clone();
    let r = post(
        &admin,
        "/api/v1/namespaces/default/serviceaccounts/bot/token",
        json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
               "spec": {"audiences": ["vault", "other"]}}),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let sa_token = r.json().unwrap()["status"]["token"]
        .as_str()
        .unwrap()
        .to_string();
    let r = post(&admin, TOKEN_REVIEWS, token_review(&sa_token, &["vault"])).await;
    let st = &r.json().unwrap()["status"];
    assert_eq!(st["authenticated"], true, "{st}");
    assert_eq!(st["audiences"], json!(["vault"]));
    assert_eq!(st["user"]["username"], "system:serviceaccount:default:bot");
    assert_eq!(st["user"]["uid"], sa_uid);
    assert_eq!(
        st["user"]["groups"],
        json!([
            "system:serviceaccounts",
            "system:serviceaccounts:default",
            "system:authenticated"
        ])
    );
    let r = post(&admin, TOKEN_REVIEWS, token_review(&sa_token, &[])).await;
    assert_eq!(r.json().unwrap()["status"], json!({"user": {}}));

    // Creating a TokenReview needs `create tokenreviews` (system:auth-delegator).
    let r = post(&h.client(ALICE), TOKEN_REVIEWS, token_review(ALICE, &[])).await;
    assert_eq!(
        status_of(&r),
        (
            403,
            "Forbidden".into(),
            r#"tokenreviews.authentication.k8s.io is forbidden: User "alice" cannot create resource "tokenreviews" in API group "authentication.k8s.io" at the cluster scope"#.into()
        )
    );
    // Cluster-scoped: no namespaced path.
    let r = post(
        &admin,
        "/apis/authentication.k8s.io/v1/namespaces/default/tokenreviews",
        token_review(ALICE, &[]),
    )
    .await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn self_subject_reviews() {
    let h = start().await;
    let r = post(
        &h.client(ALICE),
        SELF_REVIEWS,
        json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let v = r.json().unwrap();
    assert_eq!(v["kind"], "SelfSubjectReview");
    assert_eq!(
        v["status"]["userInfo"],
        json!({"username": "alice", "uid": "uid-alice",
               "groups": ["dev", "system:authenticated"], "extra": {"scopes": ["read"]}})
    );
    assert!(v["metadata"]["creationTimestamp"].is_string());
    // Through the in-process client too (no authenticator involved).
    let local = kube_api::LocalClient::new(
        h.server.clone(),
        UserInfo::new("bob", &["ops", "system:authenticated"]),
    );
    let req = kubox_core::client::Request {
        resource: kubox_core::client::GroupVersionResource {
            group: "authentication.k8s.io".into(),
            version: "v1".into(),
            resource: "selfsubjectreviews".into(),
        },
        namespace: None,
        name: None,
        subresource: None,
        verb: kubox_core::client::Verb::Create(Default::default()),
        body: Some(json!({})),
    };
    use kubox_core::client::Client;
    let v = local.call(req).await.unwrap();
    assert_eq!(
        v["status"]["userInfo"],
        json!({"username": "bob", "groups": ["ops", "system:authenticated"]})
    );
}

fn rules_review(ns: &str) -> Value {
    json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview",
           "spec": {"namespace": ns}})
}

#[tokio::test]
async fn self_subject_rules_reviews() {
    let h = start().await;
    let admin = h.admin();
    // alice may read pods in `default` (a Role and a RoleBinding).
    let r = post(
        &admin,
        "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles",
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
               "metadata": {"name": "pod-reader"},
               "rules": [{"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list"]},
                         {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["app"], "verbs": ["get"]}]}),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let r = post(
        &admin,
        "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings",
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": {"name": "alice-reads"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"},
               "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"}]}),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    h.sync().await;

    let alice = h.client(ALICE);
    let r = post(&alice, RULES_REVIEWS, rules_review("default")).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let v = r.json().unwrap();
    assert_eq!(v["kind"], "SelfSubjectRulesReview");
    assert_eq!(v["apiVersion"], "authorization.k8s.io/v1");
    let st = &v["status"];
    assert_eq!(st["incomplete"], false);
    assert!(st.get("evaluationError").is_none(), "{st}");
    let rr = st["resourceRules"].as_array().unwrap();
    assert!(
        rr.contains(
            &json!({"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods", "pods/log"]})
        ),
        "{st}"
    );
    assert!(rr.contains(&json!({"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["app"]})));
    // system:basic-user (every authenticated user): the self reviews.
    assert!(rr.contains(&json!({"verbs": ["create"], "apiGroups": ["authorization.k8s.io"],
                                "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]})), "{st}");
    // system:discovery and system:public-info-viewer: non-resource URLs.
    let nr = st["nonResourceRules"].as_array().unwrap();
    assert!(
        nr.iter().any(|r| r["verbs"] == json!(["get"])
            && r["nonResourceURLs"]
                .as_array()
                .unwrap()
                .contains(&json!("/version"))),
        "{st}"
    );
    // Another namespace: no pods.
    let r = post(&alice, RULES_REVIEWS, rules_review("kube-system")).await;
    let rr = r.json().unwrap()["status"]["resourceRules"].clone();
    assert!(!rr.to_string().contains("\"pods\""), "{rr}");

    // No namespace.
    let r = post(
        &alice,
        RULES_REVIEWS,
        json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview", "spec": {}}),
    )
    .await;
    assert_eq!(
        status_of(&r),
        (400, "BadRequest".into(), "no namespace on request".into())
    );

    // system:masters holds everything.
    let r = post(&admin, RULES_REVIEWS, rules_review("default")).await;
    let st = r.json().unwrap()["status"].clone();
    assert_eq!(
        st["resourceRules"][0],
        json!({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]})
    );
    assert_eq!(
        st["nonResourceRules"][0],
        json!({"verbs": ["*"], "nonResourceURLs": ["*"]})
    );
    assert_eq!(st["incomplete"], false);

    // A node's graph-based grants cannot be listed: incomplete, with the Node authorizer's error.
    let r = post(&h.client(NODE), RULES_REVIEWS, rules_review("default")).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let st = r.json().unwrap()["status"].clone();
    assert_eq!(st["incomplete"], true);
    assert_eq!(
        st["evaluationError"],
        "node authorizer does not support user rule resolution"
    );
    assert!(!st["resourceRules"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn reviews_are_served_in_discovery() {
    let h = start().await;
    let admin = h.admin();
    let r = admin
        .send_raw(Method::GET, "/apis/authentication.k8s.io/v1", &[], None)
        .await
        .unwrap();
    let v = r.json().unwrap();
    let names: Vec<(&str, &str, bool)> = v["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["verbs"], json!(["create"]));
            (
                r["name"].as_str().unwrap(),
                r["kind"].as_str().unwrap(),
                r["namespaced"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("selfsubjectreviews", "SelfSubjectReview", false),
            ("tokenreviews", "TokenReview", false)
        ]
    );
    let r = admin
        .send_raw(Method::GET, "/apis/authorization.k8s.io/v1", &[], None)
        .await
        .unwrap();
    let v = r.json().unwrap();
    let names: Vec<&str> = v["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]
    );
    let r = admin
        .send_raw(Method::GET, "/apis", &[], None)
        .await
        .unwrap();
    let groups: Vec<String> = r.json().unwrap()["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap().to_string())
        .collect();
    let pos = |g: &str| groups.iter().position(|x| x == g).unwrap();
    assert!(pos("authentication.k8s.io") < pos("authorization.k8s.io"));
}

/// SelfSubjectReview is also served as `authentication.k8s.io/v1beta1` (what kubectl 1.27's
/// `auth whoami` asks for), answering in the version asked; TokenReview is not, and the group
/// prefers v1.
#[tokio::test]
async fn self_subject_reviews_in_v1beta1() {
    let h = start().await;
    const BETA: &str = "/apis/authentication.k8s.io/v1beta1/selfsubjectreviews";
    let r = post(
        &h.client(ALICE),
        BETA,
        json!({"apiVersion": "authentication.k8s.io/v1beta1", "kind": "SelfSubjectReview"}),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let v = r.json().unwrap();
    assert_eq!(v["apiVersion"], "authentication.k8s.io/v1beta1");
    assert_eq!(v["kind"], "SelfSubjectReview");
    assert_eq!(v["status"]["userInfo"]["username"], "alice");
    // A v1 body on the v1beta1 path is a bad request, as kube-apiserver's decoder says.
    let r = post(
        &h.client(ALICE),
        BETA,
        json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}),
    )
    .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    let r = post(
        &h.admin(),
        "/apis/authentication.k8s.io/v1beta1/tokenreviews",
        token_review(ALICE, &[]),
    )
    .await;
    assert_eq!(r.status, 404, "{:?}", r.body);

    let admin = h.admin();
    let group = admin
        .send_raw(Method::GET, "/apis/authentication.k8s.io", &[], None)
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        group["versions"],
        json!([
            {"groupVersion": "authentication.k8s.io/v1", "version": "v1"},
            {"groupVersion": "authentication.k8s.io/v1beta1", "version": "v1beta1"}
        ])
    );
    assert_eq!(group["preferredVersion"]["version"], "v1");
    let beta = admin
        .send_raw(
            Method::GET,
            "/apis/authentication.k8s.io/v1beta1",
            &[],
            None,
        )
        .await
        .unwrap()
        .json()
        .unwrap();
    let names: Vec<&str> = beta["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["selfsubjectreviews"]);
}
