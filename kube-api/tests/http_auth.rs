//! Authentication and authorization over HTTPS, end to end: static and service-account bearer
//! tokens, anonymous access, RBAC (with the bootstrap policy) for resource and non-resource
//! requests, the TokenRequest subresource and SelfSubjectAccessReview.

use ::http::Method;
use bytes::Bytes;
use kube_api::admission::Chain;
use kube_api::http::{self, StaticTokens, Union};
use kube_api::http_client::{HttpClient, RawResponse};
use kube_api::kubeconfig::Kubeconfig;
use kube_api::rbac::{self, NodeAuthorizer, RbacAuthorizer};
use kube_api::tls::TlsAssets;
use kube_api::tokens::{Claims, ServiceAccountKeys, ServiceAccountTokens};
use kube_api::{ApiServer, UserInfo};
use kube_store::embedded::EmbeddedStore;
use kube_store::Store;
use serde_json::{json, Value};
use std::sync::Arc;

const ALICE: &str = "alice-token";

struct Harness {
    running: http::Running,
    pki: TlsAssets,
    server: ApiServer,
    rbac: RbacAuthorizer,
    keys: Arc<ServiceAccountKeys>,
    _dir: tempfile::TempDir,
}

/// An RBAC-authorized server (as the apiserver example builds it) with the admin token and
/// `alice` (no groups but `system:authenticated`).
async fn start(anonymous: bool) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let pki = TlsAssets::load_or_generate(dir.path(), &[]).unwrap();
    let keys =
        Arc::new(ServiceAccountKeys::load_or_generate(dir.path(), "https://kubox.test").unwrap());
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::in_memory());
    let rbac = RbacAuthorizer::new(store.clone());
    let server = ApiServer::builder(store.clone())
        .authorizer(Arc::new(NodeAuthorizer::new(rbac.clone())))
        .admission(
            Chain::default_for(store)
                .with(rbac::NodeRestriction)
                .with(rbac::RbacEscalation::new(rbac.clone())),
        )
        .service_account_keys(keys.clone())
        .build();
    server.ensure_system_namespaces().await.unwrap();
    rbac::ensure_bootstrap_policy(&server).await.unwrap();
    let tokens = StaticTokens::new()
        .with(pki.admin_token.clone(), UserInfo::admin())
        .with(ALICE, UserInfo::new("alice", &[]));
    let authn = Union(vec![
        Arc::new(tokens),
        Arc::new(ServiceAccountTokens::new(keys.clone(), server.clone())),
    ]);
    let mut cfg = http::Config::new(pki.server_config().unwrap(), Arc::new(authn));
    cfg.anonymous = anonymous;
    let running = http::bind("127.0.0.1:0".parse().unwrap(), server.clone(), cfg)
        .await
        .unwrap();
    let h = Harness {
        running,
        pki,
        server,
        rbac,
        keys,
        _dir: dir,
    };
    h.sync().await;
    h
}

impl Harness {
    fn client(&self, token: Option<&str>) -> HttpClient {
        let mut kc = Kubeconfig::admin(&self.running.url(), &self.pki.ca_pem, "x");
        kc.users[0].user.token = token.map(str::to_string);
        HttpClient::from_kubeconfig(&kc).unwrap()
    }

    fn admin(&self) -> HttpClient {
        self.client(Some(&self.pki.admin_token.clone()))
    }

    /// Waits until RBAC has seen every write so far.
    async fn sync(&self) {
        let rev = self.server.store().current_revision().await.unwrap();
        self.rbac.wait_for_revision(rev).await;
    }
}

async fn send(c: &HttpClient, method: Method, path: &str, body: Option<Value>) -> RawResponse {
    let headers: &[(&str, &str)] = if body.is_some() {
        &[("content-type", "application/json")]
    } else {
        &[]
    };
    c.send_raw(
        method,
        path,
        headers,
        body.map(|b| Bytes::from(serde_json::to_vec(&b).unwrap())),
    )
    .await
    .unwrap()
}

async fn get(c: &HttpClient, path: &str) -> RawResponse {
    send(c, Method::GET, path, None).await
}

/// Code, reason and message of a `Status` answer.
fn status(r: &RawResponse) -> (u16, String, String) {
    let v = r.json().unwrap_or(Value::Null);
    assert_eq!(v["kind"], "Status", "{v}");
    (
        r.status,
        v["reason"].as_str().unwrap_or("").to_string(),
        v["message"].as_str().unwrap_or("").to_string(),
    )
}

fn forbidden(msg: &str) -> (u16, String, String) {
    (403, "Forbidden".into(), msg.into())
}

fn unauthorized() -> (u16, String, String) {
    (401, "Unauthorized".into(), "Unauthorized".into())
}

#[tokio::test]
async fn unauthenticated_is_401_without_anonymous() {
    let h = start(false).await;
    for c in [h.client(None), h.client(Some("wrong"))] {
        for path in ["/api", "/api/v1/namespaces/default/pods", "/metrics"] {
            assert_eq!(status(&get(&c, path).await), unauthorized(), "{path}");
        }
    }
    // Health and version stay open to probes without credentials, but a bad token is 401.
    assert_eq!(get(&h.client(None), "/healthz").await.status, 200);
    assert_eq!(get(&h.client(None), "/version").await.status, 200);
    assert_eq!(
        status(&get(&h.client(Some("wrong")), "/version").await),
        unauthorized()
    );
}

#[tokio::test]
async fn anonymous_gets_public_info_but_not_discovery() {
    let h = start(true).await;
    let anon = h.client(None);
    for path in ["/version", "/healthz", "/livez", "/readyz"] {
        assert_eq!(get(&anon, path).await.status, 200, "{path}");
    }
    assert_eq!(
        status(&get(&anon, "/api").await),
        forbidden(r#"forbidden: User "system:anonymous" cannot get path "/api""#)
    );
    assert_eq!(
        status(&get(&anon, "/apis/apps/v1").await),
        forbidden(r#"forbidden: User "system:anonymous" cannot get path "/apis/apps/v1""#)
    );
    assert_eq!(
        status(&get(&anon, "/api/v1/namespaces/default/pods").await),
        forbidden(
            r#"pods is forbidden: User "system:anonymous" cannot list resource "pods" in API group "" in the namespace "default""#
        )
    );
    // Not a member of system:authenticated: no SelfSubjectAccessReview either.
    let r = send(
        &anon,
        Method::POST,
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        Some(ssar("create", "pods", "default")),
    )
    .await;
    assert_eq!(
        status(&r),
        forbidden(
            r#"selfsubjectaccessreviews.authorization.k8s.io is forbidden: User "system:anonymous" cannot create resource "selfsubjectaccessreviews" in API group "authorization.k8s.io" at the cluster scope"#
        )
    );
    // A bad token is never anonymous.
    assert_eq!(
        status(&get(&h.client(Some("wrong")), "/api").await),
        unauthorized()
    );
}

#[tokio::test]
async fn non_resource_paths_follow_rbac() {
    let h = start(false).await;
    let alice = h.client(Some(ALICE));
    // system:discovery and system:public-info-viewer: every authenticated user.
    for path in [
        "/version",
        "/healthz",
        "/api",
        "/api/v1",
        "/apis",
        "/apis/apps/v1",
        "/openapi/v3",
        "/openapi/v2",
    ] {
        assert_eq!(get(&alice, path).await.status, 200, "{path}");
    }
    assert_eq!(
        status(&get(&alice, "/metrics").await),
        forbidden(r#"forbidden: User "alice" cannot get path "/metrics""#)
    );
    assert_eq!(get(&h.admin(), "/metrics").await.status, 200);
    // Unknown paths are authorized first, as in Kubernetes: 403 for alice, 404 for the admin.
    assert_eq!(get(&alice, "/nope").await.status, 403);
    assert_eq!(get(&h.admin(), "/nope").await.status, 404);
    // A ClusterRole with nonResourceURLs opens /metrics.
    let admin = h.admin();
    let r = send(
        &admin,
        Method::POST,
        "/apis/rbac.authorization.k8s.io/v1/clusterroles",
        Some(
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "metrics-reader"},
            "rules": [{"nonResourceURLs": ["/metrics"], "verbs": ["get"]}]}),
        ),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let r = send(
        &admin,
        Method::POST,
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
        Some(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "alice-metrics"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "metrics-reader"},
            "subjects": [{"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"}]})),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    h.sync().await;
    assert_eq!(get(&alice, "/metrics").await.status, 200);
}

#[tokio::test]
async fn forbidden_messages_and_resource_names_from_field_selectors() {
    let h = start(false).await;
    let alice = h.client(Some(ALICE));
    assert_eq!(
        status(&get(&alice, "/api/v1/namespaces/default/configmaps").await),
        forbidden(
            r#"configmaps is forbidden: User "alice" cannot list resource "configmaps" in API group "" in the namespace "default""#
        )
    );
    assert_eq!(
        status(&get(&alice, "/api/v1/namespaces/default/configmaps/cfg").await),
        forbidden(
            r#"configmaps "cfg" is forbidden: User "alice" cannot get resource "configmaps" in API group "" in the namespace "default""#
        )
    );
    assert_eq!(
        status(&get(&alice, "/api/v1/nodes").await),
        forbidden(
            r#"nodes is forbidden: User "alice" cannot list resource "nodes" in API group "" at the cluster scope"#
        )
    );
    let admin = h.admin();
    for (path, body) in [
        (
            "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles",
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                "metadata": {"name": "cfg-reader", "namespace": "default"},
                "rules": [{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["cfg"],
                           "verbs": ["get", "list", "watch"]}]}),
        ),
        (
            "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings",
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": {"name": "alice-cfg", "namespace": "default"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "cfg-reader"},
                "subjects": [{"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"}]}),
        ),
        (
            "/api/v1/namespaces/default/configmaps",
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}}),
        ),
    ] {
        let r = send(&admin, Method::POST, path, Some(body)).await;
        assert_eq!(r.status, 201, "{:?}", r.body);
    }
    h.sync().await;
    let r = get(&alice, "/api/v1/namespaces/default/configmaps/cfg").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // A list (or watch) pinned to that name is authorized for it; an open list is not.
    let r = get(
        &alice,
        "/api/v1/namespaces/default/configmaps?fieldSelector=metadata.name%3Dcfg",
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.json().unwrap()["items"][0]["metadata"]["name"], "cfg");
    let r = get(
        &alice,
        "/api/v1/namespaces/default/configmaps?fieldSelector=metadata.name%3Dcfg&watch=true&timeoutSeconds=1",
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        status(
            &get(
                &alice,
                "/api/v1/namespaces/default/configmaps?fieldSelector=metadata.name%3Dother"
            )
            .await
        ),
        forbidden(
            r#"configmaps "other" is forbidden: User "alice" cannot list resource "configmaps" in API group "" in the namespace "default""#
        )
    );
    assert_eq!(
        get(&alice, "/api/v1/namespaces/default/configmaps")
            .await
            .status,
        403
    );
}

fn ssar(verb: &str, resource: &str, namespace: &str) -> Value {
    json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": {"namespace": namespace, "verb": verb, "resource": resource}}})
}

#[tokio::test]
async fn self_subject_access_review() {
    let h = start(false).await;
    let path = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";
    let review = |c: HttpClient, body: Value| async move {
        let r = send(&c, Method::POST, path, Some(body)).await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        let v = r.json().unwrap();
        assert_eq!(v["kind"], "SelfSubjectAccessReview");
        assert_eq!(v["apiVersion"], "authorization.k8s.io/v1");
        v["status"]["allowed"].as_bool().unwrap()
    };
    assert!(review(h.admin(), ssar("create", "pods", "default")).await);
    assert!(!review(h.client(Some(ALICE)), ssar("create", "pods", "default")).await);
    let nr = |p: &str| {
        json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
            "spec": {"nonResourceAttributes": {"path": p, "verb": "get"}}})
    };
    assert!(review(h.client(Some(ALICE)), nr("/api")).await);
    assert!(!review(h.client(Some(ALICE)), nr("/metrics")).await);
    // Discovery lists it, create only, cluster-scoped.
    let v = get(&h.admin(), "/apis/authorization.k8s.io/v1")
        .await
        .json()
        .unwrap();
    let ssar = &v["resources"][0];
    assert_eq!(ssar["name"], "selfsubjectaccessreviews");
    assert_eq!(ssar["kind"], "SelfSubjectAccessReview");
    assert_eq!(ssar["namespaced"], false);
    assert_eq!(ssar["verbs"], json!(["create"]));
    // Exactly one of the attribute kinds.
    let r = send(
        &h.admin(),
        Method::POST,
        path,
        Some(json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "spec": {}})),
    )
    .await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    let r = get(&h.admin(), path).await;
    assert_eq!(r.status, 405, "{:?}", r.body);
}

#[tokio::test]
async fn service_account_tokens() {
    let h = start(false).await;
    let admin = h.admin();
    let sa_path = "/api/v1/namespaces/default/serviceaccounts";
    let r = send(
        &admin,
        Method::POST,
        sa_path,
        Some(json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "bot"}})),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let uid = r.json().unwrap()["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string();

    // TokenRequest.
    let token_path = "/api/v1/namespaces/default/serviceaccounts/bot/token";
    let request = |secs: i64| {
        json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
            "spec": {"expirationSeconds": secs}})
    };
    let r = send(&admin, Method::POST, token_path, Some(request(3600))).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let tr = r.json().unwrap();
    assert_eq!(tr["kind"], "TokenRequest");
    assert_eq!(tr["apiVersion"], "authentication.k8s.io/v1");
    assert_eq!(tr["spec"]["audiences"], json!(["https://kubox.test"]));
    let expires: jiff::Timestamp = tr["status"]["expirationTimestamp"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let left = expires.as_second() - jiff::Timestamp::now().as_second();
    assert!((3500..=3600).contains(&left), "{left}");
    let token = tr["status"]["token"].as_str().unwrap().to_string();
    let claims = h.keys.verify(&token).unwrap();
    assert_eq!(claims.sub, "system:serviceaccount:default:bot");
    assert_eq!(claims.iss, "https://kubox.test");
    assert_eq!(claims.kubernetes.namespace, "default");
    assert_eq!(claims.kubernetes.serviceaccount.uid, uid);
    assert_eq!(claims.exp - claims.iat, 3600);

    // Too short; unknown account; a user without create on serviceaccounts/token.
    let r = send(&admin, Method::POST, token_path, Some(request(10))).await;
    assert_eq!(
        status(&r),
        (
            422,
            "Invalid".into(),
            r#"TokenRequest.authentication.k8s.io "bot" is invalid: spec.expirationSeconds: Invalid value: 10: may not specify a duration less than 10 minutes"#.into()
        )
    );
    let r = send(
        &admin,
        Method::POST,
        "/api/v1/namespaces/default/serviceaccounts/ghost/token",
        Some(request(3600)),
    )
    .await;
    assert_eq!(r.status, 404, "{:?}", r.body);
    let r = send(
        &h.client(Some(ALICE)),
        Method::POST,
        token_path,
        Some(request(3600)),
    )
    .await;
    assert_eq!(
        status(&r),
        forbidden(
            r#"serviceaccounts "bot" is forbidden: User "alice" cannot create resource "serviceaccounts/token" in API group "" in the namespace "default""#
        )
    );

    // The token authenticates as the service account; RBAC decides.
    let bot = h.client(Some(&token));
    let pods = "/api/v1/namespaces/default/pods";
    assert_eq!(
        status(&get(&bot, pods).await),
        forbidden(
            r#"pods is forbidden: User "system:serviceaccount:default:bot" cannot list resource "pods" in API group "" in the namespace "default""#
        )
    );
    let r = send(
        &admin,
        Method::POST,
        "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings",
        Some(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "bot-view", "namespace": "default"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "ServiceAccount", "name": "bot", "namespace": "default"}]})),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    h.sync().await;
    let r = get(&bot, pods).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        get(&bot, "/api/v1/namespaces/kube-system/pods")
            .await
            .status,
        403
    );
    // Groups: system:serviceaccounts:<ns> bindings apply too.
    let r = send(
        &bot,
        Method::POST,
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        Some(ssar("list", "pods", "default")),
    )
    .await;
    assert_eq!(r.json().unwrap()["status"]["allowed"], true, "{:?}", r.body);

    // Expired, not yet valid, forged, for another audience, or garbage: 401.
    let now = jiff::Timestamp::now().as_second();
    let expired = Claims::new(&h.keys, "default", "bot", &uid, None, &[], now - 7200, 3600);
    let future = Claims::new(&h.keys, "default", "bot", &uid, None, &[], now + 3600, 3600);
    let other_aud = Claims::new(
        &h.keys,
        "default",
        "bot",
        &uid,
        None,
        &["vault".to_string()],
        now,
        3600,
    );
    let forger = ServiceAccountKeys::generate("https://kubox.test").unwrap();
    let forged = Claims::new(&forger, "default", "bot", &uid, None, &[], now, 3600);
    for bad in [
        h.keys.issue(&expired).unwrap(),
        h.keys.issue(&future).unwrap(),
        h.keys.issue(&other_aud).unwrap(),
        forger.issue(&forged).unwrap(),
        format!("{token}x"),
        "a.b.c".to_string(),
    ] {
        assert_eq!(
            status(&get(&h.client(Some(&bad)), pods).await),
            unauthorized()
        );
    }

    // Deleting the account revokes its tokens, and re-creating it does not revive them.
    let r = send(&admin, Method::DELETE, &format!("{sa_path}/bot"), None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(status(&get(&bot, pods).await), unauthorized());
    let r = send(
        &admin,
        Method::POST,
        sa_path,
        Some(json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "bot"}})),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(status(&get(&bot, pods).await), unauthorized());
}

#[tokio::test]
async fn signing_key_survives_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let a = ServiceAccountKeys::load_or_generate(dir.path(), "https://i").unwrap();
    let b = ServiceAccountKeys::load_or_generate(dir.path(), "https://i").unwrap();
    let claims = Claims::new(&a, "ns", "sa", "u", None, &[], 0, 600);
    let token = a.issue(&claims).unwrap();
    assert_eq!(b.verify(&token), Some(claims.clone()));
    assert_eq!(b.validate(&token, 100), Some(claims.clone()));
    assert_eq!(b.validate(&token, 10_000), None);
    let user = claims.user();
    assert_eq!(user.name, "system:serviceaccount:ns:sa");
    assert_eq!(
        user.groups,
        [
            "system:serviceaccounts",
            "system:serviceaccounts:ns",
            "system:authenticated"
        ]
    );
    // Another issuer does not accept it.
    let c = ServiceAccountKeys::load_or_generate(dir.path(), "https://other").unwrap();
    assert_eq!(c.verify(&token), None);
}

/// The server holds its token authenticator (TokenReview), which looks ServiceAccounts up
/// through the server: that handle must be weak, or no HTTPS-served server is ever dropped
/// (its background tasks and the store would outlive every shutdown).
#[tokio::test]
async fn a_served_server_is_freed_after_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TlsAssets::load_or_generate(dir.path(), &[]).unwrap();
    let keys =
        Arc::new(ServiceAccountKeys::load_or_generate(dir.path(), "https://kubox.test").unwrap());
    let store = Arc::new(EmbeddedStore::in_memory());
    let server = ApiServer::builder(store.clone())
        .service_account_keys(keys.clone())
        .build();
    let authn = Union(vec![
        Arc::new(StaticTokens::new().with(pki.admin_token.clone(), UserInfo::admin())),
        Arc::new(ServiceAccountTokens::new(keys, server.clone())),
    ]);
    let cfg = http::Config::new(pki.server_config().unwrap(), Arc::new(authn));
    let running = http::bind("127.0.0.1:0".parse().unwrap(), server.clone(), cfg)
        .await
        .unwrap();
    // The serving task installs the authenticator for TokenReviews as it starts.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while server.token_authenticator().is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "no token authenticator"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    running.shutdown();
    drop(server);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while Arc::strong_count(&store) > 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "the API server (and so its store) is still referenced after shutdown: {} handles",
            Arc::strong_count(&store)
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
