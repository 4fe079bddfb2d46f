//! Stock kubectl 1.27 … 1.33 against an RBAC-authorized HTTPS server (as the apiserver example
//! builds it): `kubectl auth can-i` (SelfSubjectAccessReview) for the admin, a restricted
//! static-token user and a service account whose token comes from `kubectl create token`
//! (TokenRequest), and the Forbidden error kubectl prints; `kubectl auth can-i --list`
//! (SelfSubjectRulesReview) and `kubectl auth whoami` (SelfSubjectReview v1, v1beta1 for 1.27).
//!
//! A missing binary fails the test with a message saying where it was looked for.

#[macro_use]
mod support;
use support::{kubectl, kubectl_dir, versioned};

use kube_api::admission::Chain;
use kube_api::http::{self, StaticTokens, Union};
use kube_api::kubeconfig::Kubeconfig;
use kube_api::rbac::{self, NodeAuthorizer, RbacAuthorizer};
use kube_api::tls::TlsAssets;
use kube_api::tokens::{ServiceAccountKeys, ServiceAccountTokens};
use kube_api::{ApiServer, UserInfo};
use kube_store::embedded::EmbeddedStore;
use kube_store::Store;
use std::path::PathBuf;
use std::sync::Arc;

struct Env {
    _running: http::Running,
    _tmp: tempfile::TempDir,
    url: String,
    ca_pem: String,
    admin: PathBuf,
    home: PathBuf,
    dir: PathBuf,
    rbac: RbacAuthorizer,
    server: ApiServer,
}

const ALICE: &str = "alice-token";

async fn start() -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let pki = TlsAssets::load_or_generate(&tmp.path().join("pki"), &[]).unwrap();
    let keys = Arc::new(
        ServiceAccountKeys::load_or_generate(&tmp.path().join("pki"), "https://kubox.test")
            .unwrap(),
    );
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
        Arc::new(ServiceAccountTokens::new(keys, server.clone())),
    ]);
    let cfg = http::Config::new(pki.server_config().unwrap(), Arc::new(authn));
    let running = http::bind("127.0.0.1:0".parse().unwrap(), server.clone(), cfg)
        .await
        .unwrap();
    let url = running.url();
    let admin = tmp.path().join("admin.kubeconfig");
    Kubeconfig::admin(&url, &pki.ca_pem, &pki.admin_token)
        .write(&admin)
        .unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let env = Env {
        _running: running,
        url,
        ca_pem: pki.ca_pem.clone(),
        admin,
        home,
        dir: tmp.path().to_path_buf(),
        _tmp: tmp,
        rbac,
        server,
    };
    env.sync().await;
    env
}

impl Env {
    /// A kubeconfig for `token`, written next to the admin's.
    fn kubeconfig(&self, name: &str, token: &str) -> PathBuf {
        let path = self.dir.join(format!("{name}.kubeconfig"));
        Kubeconfig::admin(&self.url, &self.ca_pem, token)
            .write(&path)
            .unwrap();
        path
    }

    async fn sync(&self) {
        let rev = self.server.store().current_revision().await.unwrap();
        self.rbac.wait_for_revision(rev).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_kubectl_auth() {
    let dir = kubectl_dir();
    let bins: Vec<(u32, PathBuf)> = (27..=33).map(|m| (m, versioned(&dir, m))).collect();
    let env = start().await;
    let alice = env.kubeconfig("alice", ALICE);
    let home = env.home.clone();
    // kubectl 1.33 sends these `create` bodies (and its SelfSubjectAccessReviews) as protobuf.
    let (_, newest) = bins.last().unwrap();

    // A service account, its token from `kubectl create token` (TokenRequest) and a binding
    // of `view` in `default`.
    let out = kubectl(
        newest,
        &env.admin,
        &home,
        &["create", "serviceaccount", "bot"],
    )
    .await;
    expect!(out, out.ok, "create serviceaccount");
    let out = kubectl(
        newest,
        &env.admin,
        &home,
        &["create", "token", "bot", "--duration", "1h"],
    )
    .await;
    expect!(out, out.ok, "create token");
    let token = out.stdout.trim().to_string();
    expect!(out, token.split('.').count() == 3, "a JWT");
    let out = kubectl(
        newest,
        &env.admin,
        &home,
        &[
            "create",
            "rolebinding",
            "bot-view",
            "--clusterrole=view",
            "--serviceaccount=default:bot",
        ],
    )
    .await;
    expect!(out, out.ok, "create rolebinding");
    env.sync().await;
    let bot = env.kubeconfig("bot", &token);

    for (minor, bin) in &bins {
        let v = format!("1.{minor}");
        let can_i = |kc: PathBuf, args: &'static [&'static str]| {
            let (bin, home) = (bin.clone(), home.clone());
            async move {
                let mut all = vec!["auth", "can-i"];
                all.extend_from_slice(args);
                kubectl(&bin, &kc, &home, &all).await
            }
        };
        let out = can_i(env.admin.clone(), &["create", "pods"]).await;
        expect!(
            out,
            out.ok && out.stdout.trim() == "yes",
            format!("{v}: admin can create pods")
        );
        let out = can_i(alice.clone(), &["create", "pods"]).await;
        expect!(
            out,
            !out.ok && out.stdout.trim() == "no",
            format!("{v}: alice cannot create pods")
        );
        let out = can_i(bot.clone(), &["list", "pods"]).await;
        expect!(
            out,
            out.ok && out.stdout.trim() == "yes",
            format!("{v}: the service account can list pods in default")
        );
        let out = can_i(bot.clone(), &["list", "pods", "-n", "kube-system"]).await;
        expect!(
            out,
            !out.ok && out.stdout.trim() == "no",
            format!("{v}: the service account cannot list pods in kube-system")
        );

        let out = kubectl(bin, &alice, &home, &["get", "pods", "-n", "kube-system"]).await;
        expect!(
            out,
            !out.ok
                && out.stderr.contains(
                    r#"Error from server (Forbidden): pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "kube-system""#
                ),
            format!("{v}: forbidden get pods")
        );
        let out = kubectl(bin, &bot, &home, &["get", "pods"]).await;
        expect!(
            out,
            out.ok
                && out
                    .stderr
                    .contains("No resources found in default namespace."),
            format!("{v}: the service account lists pods")
        );

        // `kubectl auth can-i --list`: a SelfSubjectRulesReview for the current namespace.
        let out = kubectl(bin, &bot, &home, &["auth", "can-i", "--list"]).await;
        let flat = out.flat();
        expect!(
            out,
            out.ok
                && flat.starts_with("Resources Non-Resource URLs Resource Names Verbs")
                && flat.contains("\npods [] [] [get list watch]\n")
                && flat
                    .contains("\nselfsubjectaccessreviews.authorization.k8s.io [] [] [create]\n")
                && flat.contains("\n[/version] [] [get]"),
            format!("{v}: can-i --list for the service account")
        );
        let out = kubectl(
            bin,
            &bot,
            &home,
            &["auth", "can-i", "--list", "-n", "kube-system"],
        )
        .await;
        expect!(
            out,
            out.ok && !out.flat().contains("\npods "),
            format!("{v}: no pods in kube-system for the service account")
        );
        let out = kubectl(bin, &env.admin, &home, &["auth", "can-i", "--list"]).await;
        expect!(
            out,
            out.ok
                && out.flat().contains("\n*.* [] [] [*]\n")
                && out.flat().contains("\n[*] [] [*]"),
            format!("{v}: can-i --list for the admin")
        );

        // `kubectl auth whoami`: a SelfSubjectReview (authentication.k8s.io/v1 from 1.28,
        // v1beta1 before).
        let out = kubectl(bin, &bot, &home, &["auth", "whoami"]).await;
        let flat = out.flat();
        expect!(
            out,
            out.ok
                && flat.starts_with("ATTRIBUTE VALUE")
                && flat.contains("\nUsername system:serviceaccount:default:bot\n")
                && flat.contains("Groups [system:serviceaccounts system:serviceaccounts:default system:authenticated]"),
            format!("{v}: whoami for the service account")
        );
        let out = kubectl(bin, &alice, &home, &["auth", "whoami", "-o", "json"]).await;
        let review: serde_json::Value = serde_json::from_str(&out.stdout).unwrap_or_default();
        let version = if *minor >= 28 { "v1" } else { "v1beta1" };
        expect!(
            out,
            out.ok
                && review["kind"] == "SelfSubjectReview"
                && review["apiVersion"] == format!("authentication.k8s.io/{version}")
                && review["status"]["userInfo"]["username"] == "alice",
            format!("{v}: whoami -o json")
        );
    }
}
