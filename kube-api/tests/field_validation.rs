//! `fieldValidation` on create, update and patch: `Strict` refuses unknown fields with
//! kube-apiserver's message, `Warn` (the default) answers with `Warning: 299` headers, and
//! every mode drops the unknown fields from the stored object.

use ::http::Method;
use bytes::Bytes;
use kube_api::http::{self, StaticTokens};
use kube_api::http_client::HttpClient;
use kube_api::kubeconfig::Kubeconfig;
use kube_api::tls::TlsAssets;
use kube_api::{ApiServer, LocalClient, UserInfo};
use kube_store::embedded::EmbeddedStore;
use kubox_core::client::{
    Client, FieldValidation, GroupVersionResource, Patch, PatchParams, PostParams, Request, Verb,
};
use serde_json::{json, Value};
use std::sync::Arc;

fn deployments() -> GroupVersionResource {
    GroupVersionResource {
        group: "apps".into(),
        version: "v1".into(),
        resource: "deployments".into(),
    }
}

fn deployment(name: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "foo": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "nginx", "imagePullPolicyy": "Always"}]}
            }
        }
    })
}

fn req(name: Option<&str>, verb: Verb, body: Option<Value>) -> Request {
    Request {
        resource: deployments(),
        namespace: Some("default".into()),
        name: name.map(str::to_string),
        subresource: None,
        verb,
        body,
    }
}

fn post(v: Option<FieldValidation>) -> PostParams {
    PostParams {
        field_validation: v,
        ..Default::default()
    }
}

fn api_status(e: kubox_core::client::Error) -> (i32, String, String) {
    match e {
        kubox_core::client::Error::Api(s) => (
            s.code.unwrap_or(0),
            s.reason.unwrap_or_default(),
            s.message.unwrap_or_default(),
        ),
        other => panic!("not an API error: {other}"),
    }
}

async fn local() -> Arc<dyn Client> {
    let server = ApiServer::new(Arc::new(EmbeddedStore::in_memory()));
    server.ensure_system_namespaces().await.unwrap();
    LocalClient::admin(server).into_client()
}

#[tokio::test]
async fn strict_refuses_and_other_modes_drop_unknown_fields() {
    let client = local().await;
    let strict = Some(FieldValidation::Strict);
    let e = client
        .call(req(None, Verb::Create(post(strict)), Some(deployment("a"))))
        .await
        .unwrap_err();
    assert_eq!(
        api_status(e),
        (
            400,
            "BadRequest".into(),
            "Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding error: unknown field \"spec.foo\", unknown field \"spec.template.spec.containers[0].imagePullPolicyy\"".into()
        )
    );
    // Ignore, Warn and the default store the object without the unknown fields.
    for (name, mode) in [
        ("b", Some(FieldValidation::Ignore)),
        ("c", Some(FieldValidation::Warn)),
        ("d", None),
    ] {
        let created = client
            .call(req(None, Verb::Create(post(mode)), Some(deployment(name))))
            .await
            .unwrap();
        assert!(created["spec"].get("foo").is_none(), "{name}: {created}");
        let c = &created["spec"]["template"]["spec"]["containers"][0];
        assert!(c.get("imagePullPolicyy").is_none());
        assert_eq!(c["imagePullPolicy"], "Always", "defaulted, not the typo");
        let got = client.call(req(Some(name), Verb::Get, None)).await.unwrap();
        assert!(got["spec"].get("foo").is_none());
    }
    // Replace: same rules.
    let mut cur = client.call(req(Some("b"), Verb::Get, None)).await.unwrap();
    cur["spec"]["bar"] = json!(true);
    let e = client
        .call(req(
            Some("b"),
            Verb::Replace(post(strict)),
            Some(cur.clone()),
        ))
        .await
        .unwrap_err();
    assert!(api_status(e)
        .2
        .ends_with("strict decoding error: unknown field \"spec.bar\""));
    let replaced = client
        .call(req(Some("b"), Verb::Replace(post(None)), Some(cur)))
        .await
        .unwrap();
    assert!(replaced["spec"].get("bar").is_none());
    // Patches (merge, strategic, apply): the patched object is checked.
    for patch in [
        Patch::Merge(json!({"spec": {"baz": 1}})),
        Patch::Strategic(json!({"spec": {"baz": 1}})),
        Patch::Apply(json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "b"}, "spec": {"baz": 1}})),
    ] {
        let strict = PatchParams {
            field_validation: Some(FieldValidation::Strict),
            field_manager: Some("m".into()),
            ..Default::default()
        };
        let e = client
            .call(req(Some("b"), Verb::Patch(patch.clone(), strict), None))
            .await
            .unwrap_err();
        assert_eq!(
            api_status(e),
            (
                400,
                "BadRequest".into(),
                "strict decoding error: unknown field \"spec.baz\"".into()
            ),
            "{patch:?}"
        );
        let lax = PatchParams {
            field_manager: Some("m".into()),
            ..Default::default()
        };
        let patched = client
            .call(req(Some("b"), Verb::Patch(patch, lax), None))
            .await
            .unwrap();
        assert!(patched["spec"].get("baz").is_none());
    }
}

#[tokio::test]
async fn warnings_and_strict_errors_over_https() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TlsAssets::load_or_generate(dir.path(), &[]).unwrap();
    let server = ApiServer::new(Arc::new(EmbeddedStore::in_memory()));
    server.ensure_system_namespaces().await.unwrap();
    let tokens = StaticTokens::new().with(pki.admin_token.clone(), UserInfo::admin());
    let cfg = http::Config::new(pki.server_config().unwrap(), Arc::new(tokens));
    let running = http::bind("127.0.0.1:0".parse().unwrap(), server, cfg)
        .await
        .unwrap();
    let kc = Kubeconfig::admin(&running.url(), &pki.ca_pem, &pki.admin_token);
    let client = HttpClient::from_kubeconfig(&kc).unwrap();
    let ct = [("content-type", "application/json")];
    let body = |name: &str| Some(Bytes::from(deployment(name).to_string()));

    let r = client
        .send_raw(
            Method::POST,
            "/apis/apps/v1/namespaces/default/deployments?fieldValidation=Warn",
            &ct,
            body("w"),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201);
    let warnings: Vec<&str> = r
        .headers
        .get_all("warning")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(
        warnings,
        [
            r#"299 - "unknown field \"spec.foo\"""#,
            r#"299 - "unknown field \"spec.template.spec.containers[0].imagePullPolicyy\"""#
        ]
    );
    let r = client
        .send_raw(
            Method::POST,
            "/apis/apps/v1/namespaces/default/deployments?fieldValidation=Strict",
            &ct,
            body("s"),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 400);
    let v = r.json().unwrap();
    assert_eq!(v["reason"], "BadRequest");
    assert!(v["message"]
        .as_str()
        .unwrap()
        .contains("strict decoding error: unknown field \"spec.foo\""));
    // A bad value is a 400 too.
    let r = client
        .send_raw(
            Method::POST,
            "/apis/apps/v1/namespaces/default/deployments?fieldValidation=Loose",
            &ct,
            body("l"),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 400);
    // The typed HTTP client sends the parameter.
    let e = client
        .clone()
        .into_client()
        .call(req(
            None,
            Verb::Create(post(Some(FieldValidation::Strict))),
            Some(deployment("t")),
        ))
        .await
        .unwrap_err();
    assert_eq!(api_status(e).0, 400);
}
