//! The default ServiceAccount in every namespace, and token Secrets the API server accepts.

mod common;

use std::sync::Arc;

use common::eventually;
use kube_api::http::Authenticator;
use kube_api::tokens::{ServiceAccountKeys, ServiceAccountTokens};
use kube_api::{ApiServer, LocalClient};
use kube_ctrl::controllers::serviceaccount::{SERVICE_ACCOUNT_NAME, SERVICE_ACCOUNT_TOKEN_TYPE};
use kube_ctrl::manager::{ControllerManager, Options};
use kube_ctrl::runtime::tokio_clock;
use kube_store::embedded::EmbeddedStore;
use kubox_core::api::core_v1::{Namespace, Secret, ServiceAccount};
use kubox_core::client::{Api, PostParams};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_accounts_and_token_secrets() {
    let keys = Arc::new(ServiceAccountKeys::generate("https://kubernetes.default.svc").unwrap());
    let server = ApiServer::builder(Arc::new(EmbeddedStore::in_memory()))
        .service_account_keys(keys.clone())
        .build();
    server.ensure_system_namespaces().await.unwrap();
    let client = LocalClient::admin(server.clone()).into_client();
    let options = Options {
        controllers: vec!["serviceaccount".into(), "serviceaccount-token".into()],
        ..Options::default()
    };
    let manager = ControllerManager::with_builtin(client.clone(), options, tokio_clock());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(manager.run(async move {
        let _ = stop_rx.await;
    }));

    let nss: Api<Namespace> = Api::all(client.clone());
    nss.create(&PostParams::default(), &Namespace::new("team-a"))
        .await
        .unwrap();
    for ns in ["default", "kube-system", "team-a"] {
        let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), ns);
        eventually(20, "default SA", || async {
            sas.get_opt("default").await.unwrap().is_some()
        })
        .await;
    }

    let secrets: Api<Secret> = Api::namespaced(client.clone(), "team-a");
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": "bot-token", "annotations": {SERVICE_ACCOUNT_NAME: "default"}},
        "type": SERVICE_ACCOUNT_TOKEN_TYPE,
    }))
    .unwrap();
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    eventually(20, "token filled", || async {
        let s = secrets.get("bot-token").await.unwrap();
        s.data.as_ref().is_some_and(|d| d.contains_key("token"))
    })
    .await;
    let filled = secrets.get("bot-token").await.unwrap();
    let data = filled.data.unwrap();
    assert_eq!(data["namespace"].0, b"team-a");
    let token = String::from_utf8(data["token"].0.clone()).unwrap();
    let authn = ServiceAccountTokens::new(keys, server.clone());
    let user = authn
        .authenticate(&token)
        .await
        .expect("the API server accepts the token");
    assert_eq!(user.name, "system:serviceaccount:team-a:default");
    assert!(authn.authenticate("not-a-token").await.is_none());
    let _ = stop_tx.send(());
    task.await.unwrap();
}
