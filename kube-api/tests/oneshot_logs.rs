//! `pods/log` and `pods/exec` through the one-shot `ApiServer::serve` (the in-process
//! `LocalClient`, no HTTP): a log is read from the kubelet as over HTTPS; exec is 400
//! `Upgrade request required`.

mod support;

use kube_api::tls::TlsAssets;
use kube_api::{ApiServer, KubeletClientConfig, LocalClient, UserInfo};
use kube_store::embedded::EmbeddedStore;
use kubox_core::client::{Client, GroupVersionResource, Request, Verb};
use serde_json::{json, Value};
use std::sync::Arc;

/// A fake kubelet: `GET /containerLogs/{ns}/{pod}/{container}?…` answers
/// `log of {ns}/{pod}/{container} [{query}]\n` (and checks the bearer token).
async fn fake_kubelet(tls: Arc<rustls::ServerConfig>) -> (u16, tokio::task::JoinHandle<()>) {
    let app = axum::Router::new().fallback(|req: axum::extract::Request| async move {
        let auth = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        if auth != "Bearer kubelet-token" {
            return (
                axum::http::StatusCode::UNAUTHORIZED,
                "Unauthorized".to_string(),
            );
        }
        let path = req.uri().path().to_string();
        let Some(rest) = path.strip_prefix("/containerLogs/") else {
            return (
                axum::http::StatusCode::NOT_FOUND,
                "404 page not found".into(),
            );
        };
        let q = req.uri().query().unwrap_or("").to_string();
        (axum::http::StatusCode::OK, format!("log of {rest} [{q}]\n"))
    });
    let (addr, task) = support::serve_tls(app, tls).await;
    (addr.port(), task)
}

fn message(e: &kubox_core::client::Error) -> Option<&str> {
    match e {
        kubox_core::client::Error::Api(s) => s.message.as_deref(),
        _ => None,
    }
}

fn request(resource: &str, ns: Option<&str>, name: Option<&str>, verb: Verb) -> Request {
    Request {
        resource: GroupVersionResource {
            group: String::new(),
            version: "v1".into(),
            resource: resource.into(),
        },
        namespace: ns.map(str::to_string),
        name: name.map(str::to_string),
        subresource: None,
        verb,
        body: None,
    }
}

fn sub(name: &str, sub: &str, verb: Verb, body: Option<Value>) -> Request {
    Request {
        subresource: Some(sub.into()),
        body,
        ..request("pods", Some("default"), Some(name), verb)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_logs_and_exec_through_the_in_process_client() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = TlsAssets::load_or_generate(&tmp.path().join("kubelet-pki"), &[]).unwrap();
    let (port, kubelet) = fake_kubelet(pki.server_config().unwrap()).await;

    let server = ApiServer::builder(Arc::new(EmbeddedStore::in_memory()))
        .kubelet_client(KubeletClientConfig::new().with_token("kubelet-token"))
        .build();
    server.ensure_system_namespaces().await.unwrap();
    let admin: Arc<dyn Client> = LocalClient::admin(server.clone()).into_client();
    let node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"},
        "status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                   "daemonEndpoints": {"kubeletEndpoint": {"Port": port}}}});
    let mut create = request("nodes", None, None, Verb::Create(Default::default()));
    create.body = Some(node);
    admin.call(create).await.unwrap();
    for (name, containers) in [("one", json!(["c"])), ("two", json!(["a", "b"]))] {
        let cs: Vec<Value> = containers
            .as_array()
            .unwrap()
            .iter()
            .map(|c| json!({"name": c, "image": "busybox"}))
            .collect();
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": "n1", "containers": cs}});
        let mut create = request(
            "pods",
            Some("default"),
            None,
            Verb::Create(Default::default()),
        );
        create.body = Some(pod);
        admin.call(create).await.unwrap();
    }

    // The only container, default options: the whole log as a string.
    let log = admin
        .call(sub("one", "log", Verb::Get, None))
        .await
        .unwrap();
    assert_eq!(log, json!("log of default/one/c []\n"));
    // Options in the body become the kubelet's query, as over HTTPS.
    let log = admin
        .call(sub(
            "two",
            "log",
            Verb::Get,
            Some(json!({"container": "b", "tailLines": 2, "timestamps": true})),
        ))
        .await
        .unwrap();
    assert_eq!(
        log,
        json!("log of default/two/b [tailLines=2&timestamps=true]\n")
    );
    // The errors HTTPS gives.
    let e = admin
        .call(sub("two", "log", Verb::Get, None))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(400));
    assert_eq!(
        message(&e),
        Some("a container name must be specified for pod two, choose one of: [a b]")
    );
    let e = admin
        .call(sub("one", "log", Verb::Get, Some(json!({"tailLines": -1}))))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(422));
    let e = admin
        .call(sub("one", "log", Verb::Get, Some(json!({"follow": true}))))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(400));
    // Authorization first: a user without `get pods/log` is refused before the kubelet.
    let nobody = LocalClient::new(
        ApiServer::builder(server.store().clone())
            .authorizer(Arc::new(kube_api::rbac::RbacAuthorizer::new(
                server.store().clone(),
            )))
            .build(),
        UserInfo::new("nobody", &["system:authenticated"]),
    )
    .into_client();
    let e = nobody
        .call(sub("one", "log", Verb::Get, None))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(403));
    // Exec needs a connection to upgrade: 400, as kube-apiserver answers a plain request.
    let e = admin
        .call(sub(
            "one",
            "exec",
            Verb::Create(Default::default()),
            Some(json!({})),
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(400));
    assert_eq!(message(&e), Some("Upgrade request required"));
    kubelet.abort();
}
