//! GET with `resourceVersion`, as kube-apiserver serves it: unset and `"0"` read the object
//! as it is now, `"N"` means "not older than N" (504 `Too large resource version` when the
//! store does not reach N within 3 s), a malformed version is a 400.

use kube_api::{ApiServer, LocalClient};
use kube_store::embedded::EmbeddedStore;
use kubox_core::api::core_v1::ConfigMap;
use kubox_core::client::{Api, GetParams, Patch, PatchParams, PostParams};
use serde_json::json;
use std::sync::Arc;

fn at(rv: &str) -> GetParams {
    GetParams {
        resource_version: Some(rv.into()),
    }
}

#[tokio::test(start_paused = true)]
async fn get_with_resource_version() {
    let server = ApiServer::new(Arc::new(EmbeddedStore::in_memory()));
    server.ensure_system_namespaces().await.unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(LocalClient::admin(server).into_client(), "default");
    let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "a"}})).unwrap();
    let created = cms.create(&PostParams::default(), &cm).await.unwrap();
    let rv1: i64 = created.metadata.resource_version.unwrap().parse().unwrap();
    let patched = cms
        .patch(
            "a",
            &PatchParams::default(),
            Patch::Merge(json!({"data": {"k": "v"}})),
        )
        .await
        .unwrap();
    let rv2 = patched.metadata.resource_version.clone().unwrap();

    // "0", an older version and the current one all answer the current object.
    for rv in ["0", &rv1.to_string(), &rv2] {
        let got = cms.get_with("a", &at(rv)).await.unwrap();
        assert_eq!(
            got.metadata.resource_version.as_deref(),
            Some(rv2.as_str()),
            "{rv}"
        );
        assert_eq!(got.data.unwrap()["k"], "v");
    }
    // A version from the future: 504 after the 3 s wait.
    let future = (rv2.parse::<i64>().unwrap() + 100).to_string();
    let start = tokio::time::Instant::now();
    let e = match cms.get_with("a", &at(&future)).await.unwrap_err() {
        kubox_core::client::Error::Api(s) => s,
        other => panic!("{other}"),
    };
    assert!(start.elapsed() >= std::time::Duration::from_secs(3));
    assert_eq!(e.code, Some(504));
    assert_eq!(e.reason.as_deref(), Some("Timeout"));
    assert!(e.message.unwrap().starts_with(&format!(
        "Timeout: Too large resource version: {future}, current: "
    )));
    // Malformed: 400. Missing object: 404 whatever the version.
    let e = cms.get_with("a", &at("x")).await.unwrap_err();
    assert_eq!(e.code(), Some(400));
    let e = cms.get_with("nope", &at("0")).await.unwrap_err();
    assert!(e.is_not_found());
}
