//! `kubectl drain` (every `kubectl.1.27` … `kubectl.1.33`, see compat.md) against the HTTPS
//! server: cordon, eviction through `pods/eviction` with a PodDisruptionBudget that allows
//! it, the wait for the pods to go, and a drain that a budget blocks (429, retried until the
//! timeout).

#[macro_use]
mod support;
use support::{kubectl, kubectl_dir};

use kube_api::http::{self, StaticTokens};
use kube_api::kubeconfig::Kubeconfig;
use kube_api::tls::TlsAssets;
use kube_api::{ApiServer, LocalClient, UserInfo};
use kube_store::embedded::EmbeddedStore;
use kubox_core::api::core_v1::{Node, Pod};
use kubox_core::api::policy_v1::PodDisruptionBudget;
use kubox_core::client::{Api, Client, Patch, PatchParams, PostParams};
use serde_json::json;
use std::sync::Arc;

/// A Running, Ready pod on `node` labelled `app`.
async fn running_pod(pods: &Api<Pod>, name: &str, app: &str, node: &str) {
    let p: Pod = serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": app}},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "nginx"}]}
    }))
    .unwrap();
    pods.create(&PostParams::default(), &p).await.unwrap();
    let st = json!({"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}});
    pods.patch_status(name, &PatchParams::default(), Patch::Merge(st))
        .await
        .unwrap();
}

async fn budget(pdbs: &Api<PodDisruptionBudget>, name: &str, app: &str, allowed: i32) {
    let b: PodDisruptionBudget = serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": app}}}
    }))
    .unwrap();
    let b = pdbs.create(&PostParams::default(), &b).await.unwrap();
    let st = json!({"status": {"observedGeneration": b.metadata.generation.unwrap_or(1),
        "disruptionsAllowed": allowed, "currentHealthy": 2, "desiredHealthy": 1, "expectedPods": 2}});
    pdbs.patch_status(name, &PatchParams::default(), Patch::Merge(st))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_kubectl_drain() {
    let dir = kubectl_dir();
    let tmp = tempfile::tempdir().unwrap();
    let pki = TlsAssets::load_or_generate(&tmp.path().join("pki"), &[]).unwrap();
    let server = ApiServer::new(Arc::new(EmbeddedStore::in_memory()));
    server.ensure_system_namespaces().await.unwrap();
    let client: Arc<dyn Client> = LocalClient::admin(server.clone()).into_client();
    let tokens = StaticTokens::new().with(pki.admin_token.clone(), UserInfo::admin());
    let cfg = http::Config::new(pki.server_config().unwrap(), Arc::new(tokens));
    let _running = http::bind("127.0.0.1:0".parse().unwrap(), server, cfg)
        .await
        .unwrap();
    let kc = tmp.path().join("admin.kubeconfig");
    Kubeconfig::admin(&_running.url(), &pki.ca_pem, &pki.admin_token)
        .write(&kc)
        .unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();

    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pdbs: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), "default");
    let nodes: Api<Node> = Api::all(client.clone());

    for minor in 27..=33u32 {
        let bin = dir.join(format!("kubectl.1.{minor}"));
        assert!(
            bin.is_file(),
            "{} is missing (see shared/compat.md)",
            bin.display()
        );
        let v = format!("1.{minor}");
        let node = format!("n{minor}");
        let n: Node = serde_json::from_value(json!({"metadata": {"name": node}})).unwrap();
        nodes.create(&PostParams::default(), &n).await.unwrap();
        let (free, guarded) = (format!("free-{minor}"), format!("guarded-{minor}"));
        let app = format!("app-{minor}");
        running_pod(&pods, &free, "other", &node).await;
        running_pod(&pods, &guarded, &app, &node).await;
        budget(&pdbs, &app, &app, 1).await;

        let out = kubectl(
            &bin,
            &kc,
            &home,
            &[
                "drain",
                &node,
                "--force",
                "--grace-period=0",
                "--timeout=30s",
            ],
        )
        .await;
        expect!(out, out.ok, format!("{v}: drain"));
        expect!(
            out,
            out.stdout.contains(&format!("pod/{guarded} evicted")),
            format!("{v}: guarded pod evicted")
        );
        expect!(
            out,
            out.stdout.contains(&format!("node/{node} drained")),
            format!("{v}: node drained")
        );
        assert!(nodes.get(&node).await.unwrap().spec.unwrap().unschedulable == Some(true));
        assert!(pods.get_opt(&free).await.unwrap().is_none(), "{v}");
        assert!(pods.get_opt(&guarded).await.unwrap().is_none(), "{v}");
        let b = pdbs.get(&app).await.unwrap().status.unwrap();
        assert_eq!(b.disruptions_allowed, 0, "{v}");
        assert!(b.disrupted_pods.unwrap().contains_key(&guarded), "{v}");

        // The budget now allows nothing: the next pod's eviction is refused and retried
        // until the timeout (only for the oldest and newest client: it takes seconds).
        if minor == 27 || minor == 33 {
            let blocked = format!("blocked-{minor}");
            running_pod(&pods, &blocked, &app, &node).await;
            let out = kubectl(
                &bin,
                &kc,
                &home,
                &[
                    "drain",
                    &node,
                    "--force",
                    "--grace-period=0",
                    "--timeout=2s",
                ],
            )
            .await;
            expect!(out, !out.ok, format!("{v}: blocked drain must fail"));
            expect!(
                out,
                out.stderr
                    .contains("Cannot evict pod as it would violate the pod's disruption budget."),
                format!("{v}: 429 message")
            );
            assert!(pods.get_opt(&blocked).await.unwrap().is_some(), "{v}");
        }
    }
}
