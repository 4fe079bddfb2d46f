//! The API server core through kubox-core's `Api<K>` over `LocalClient` and an in-memory store:
//! CRUD, Status errors, admission, subresources, deletion and two servers over one store.

use futures::StreamExt;
use kube_api::auth::{Attributes, Authorizer, Decision};
use kube_api::clock::ManualClock;
use kube_api::{ApiServer, LocalClient, UserInfo};
use kube_store::embedded::EmbeddedStore;
use kube_store::Store;
use kubox_core::api::apps_v1::Deployment;
use kubox_core::api::core_v1::{ConfigMap, Namespace, Pod};
use kubox_core::client::{
    Api, Client, DeleteOutcome, DeleteParams, GroupVersionResource, ListParams, Patch, PatchParams,
    PostParams, Preconditions, PropagationPolicy, Request, Verb, WatchParams,
};
use kubox_core::meta::{Status, WatchEventType};
use serde_json::{json, Value};
use std::sync::Arc;

async fn server_with(store: EmbeddedStore) -> ApiServer {
    let server = ApiServer::new(Arc::new(store));
    server.ensure_system_namespaces().await.unwrap();
    server
}

async fn setup() -> (ApiServer, Arc<dyn Client>) {
    let server = server_with(EmbeddedStore::in_memory()).await;
    let client = LocalClient::admin(server.clone()).into_client();
    (server, client)
}

fn status(e: kubox_core::client::Error) -> Status {
    match e {
        kubox_core::client::Error::Api(s) => *s,
        other => panic!("not an API error: {other}"),
    }
}

fn cm(name: &str, data: Value) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}, "data": data})).unwrap()
}

fn pod(name: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.25"}]}
    }))
    .unwrap()
}

fn deployment(name: &str, replicas: i32) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "nginx:1.25"}]}
            }
        }
    }))
    .unwrap()
}

fn gvr(group: &str, resource: &str) -> GroupVersionResource {
    GroupVersionResource {
        group: group.into(),
        version: "v1".into(),
        resource: resource.into(),
    }
}

fn raw(
    resource: GroupVersionResource,
    ns: Option<&str>,
    name: Option<&str>,
    verb: Verb,
    body: Option<Value>,
) -> Request {
    Request {
        resource,
        namespace: ns.map(str::to_string),
        name: name.map(str::to_string),
        subresource: None,
        verb,
        body,
    }
}

#[tokio::test]
async fn configmap_crud_and_exact_messages() {
    let (_server, client) = setup().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let pp = PostParams::default();

    let created = cms
        .create(&pp, &cm("cfg", json!({"a": "1"})))
        .await
        .unwrap();
    let meta = &created.metadata;
    assert_eq!(meta.namespace.as_deref(), Some("default"));
    assert_eq!(meta.uid.as_ref().unwrap().len(), 36);
    assert!(meta.creation_timestamp.is_some());
    assert_eq!(meta.generation, None, "ConfigMaps have no generation");
    let rv: i64 = meta.resource_version.as_ref().unwrap().parse().unwrap();
    assert!(rv > 0);

    let got = cms.get("cfg").await.unwrap();
    assert_eq!(
        got.metadata.resource_version,
        created.metadata.resource_version
    );
    assert_eq!(got.data.as_ref().unwrap()["a"], "1");

    // AlreadyExists.
    let s = status(cms.create(&pp, &cm("cfg", json!({}))).await.unwrap_err());
    assert_eq!(
        (s.code, s.reason.as_deref()),
        (Some(409), Some("AlreadyExists"))
    );
    assert_eq!(
        s.message.as_deref(),
        Some(r#"configmaps "cfg" already exists"#)
    );
    let d = s.details.unwrap();
    assert_eq!(
        (d.name.as_deref(), d.kind.as_deref()),
        (Some("cfg"), Some("configmaps"))
    );

    // NotFound, core and group-qualified.
    let s = status(cms.get("nope").await.unwrap_err());
    assert_eq!((s.code, s.reason.as_deref()), (Some(404), Some("NotFound")));
    assert_eq!(s.message.as_deref(), Some(r#"configmaps "nope" not found"#));
    let deploys: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let s = status(deploys.get("web").await.unwrap_err());
    assert_eq!(
        s.message.as_deref(),
        Some(r#"deployments.apps "web" not found"#)
    );
    assert_eq!(s.details.unwrap().group.as_deref(), Some("apps"));

    // Replace with the current resourceVersion, then with the stale one.
    let mut next = got.clone();
    next.data.as_mut().unwrap().insert("a".into(), "2".into());
    let replaced = cms.replace("cfg", &pp, &next).await.unwrap();
    assert_ne!(
        replaced.metadata.resource_version,
        got.metadata.resource_version
    );
    let s = status(cms.replace("cfg", &pp, &next).await.unwrap_err());
    assert_eq!((s.code, s.reason.as_deref()), (Some(409), Some("Conflict")));
    assert_eq!(
        s.message.as_deref(),
        Some(
            r#"Operation cannot be fulfilled on configmaps "cfg": the object has been modified; please apply your changes to the latest version and try again"#
        )
    );

    // Unconditional update (no resourceVersion): allowed for ConfigMaps.
    let mut uncond = replaced.clone();
    uncond.metadata.resource_version = None;
    uncond.data.as_mut().unwrap().insert("b".into(), "3".into());
    cms.replace("cfg", &pp, &uncond).await.unwrap();

    // A no-op update keeps the resourceVersion.
    let cur = cms.get("cfg").await.unwrap();
    let same = cms.replace("cfg", &pp, &cur).await.unwrap();
    assert_eq!(
        same.metadata.resource_version,
        cur.metadata.resource_version
    );

    // Update of a missing object: 404 (ConfigMaps don't create on update).
    let mut ghost = cur.clone();
    ghost.metadata.name = Some("ghost".into());
    let s = status(cms.replace("ghost", &pp, &ghost).await.unwrap_err());
    assert_eq!(s.code, Some(404));

    // Name in the body must match the URL.
    let s = status(cms.replace("other", &pp, &cur).await.unwrap_err());
    assert_eq!(s.code, Some(400));
    assert_eq!(
        s.message.as_deref(),
        Some("the name of the object (cfg) does not match the name on the URL (other)")
    );

    // Delete answers with a Success Status for configmaps.
    match cms.delete("cfg", &DeleteParams::default()).await.unwrap() {
        DeleteOutcome::Status(s) => {
            assert_eq!(s.status.as_deref(), Some("Success"));
            let d = s.details.unwrap();
            assert_eq!(d.name.as_deref(), Some("cfg"));
            assert_eq!(d.kind.as_deref(), Some("configmaps"));
            assert_eq!(d.uid, created.metadata.uid);
        }
        DeleteOutcome::Object(_) => panic!("configmaps answer with a Status"),
    }
    assert!(cms.get_opt("cfg").await.unwrap().is_none());
    let s = status(
        cms.delete("cfg", &DeleteParams::default())
            .await
            .unwrap_err(),
    );
    assert_eq!(s.code, Some(404));
}

#[tokio::test]
async fn generate_name_and_create_rules() {
    let (_server, client) = setup().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let pp = PostParams::default();
    let mut obj = cm("", json!({}));
    obj.metadata.name = None;
    obj.metadata.generate_name = Some("web-".into());
    let a = cms.create(&pp, &obj).await.unwrap();
    let b = cms.create(&pp, &obj).await.unwrap();
    let (na, nb) = (a.metadata.name.unwrap(), b.metadata.name.unwrap());
    assert_ne!(na, nb);
    for n in [&na, &nb] {
        assert_eq!(n.len(), 9);
        assert!(
            n[4..]
                .chars()
                .all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)),
            "{n}"
        );
    }
    let mut long = obj.clone();
    long.metadata.generate_name = Some("x".repeat(70));
    let l = cms.create(&pp, &long).await.unwrap().metadata.name.unwrap();
    assert_eq!(l.len(), 63);

    // Neither name nor generateName.
    let mut none = obj.clone();
    none.metadata.generate_name = None;
    let s = status(cms.create(&pp, &none).await.unwrap_err());
    assert_eq!((s.code, s.reason.as_deref()), (Some(422), Some("Invalid")));
    assert!(s
        .message
        .unwrap()
        .contains("metadata.name: Required value: name or generateName is required"));

    // Namespace in the body must match the request's.
    let mut other = cm("x", json!({}));
    other.metadata.namespace = Some("kube-system".into());
    let s = status(cms.create(&pp, &other).await.unwrap_err());
    assert_eq!(s.code, Some(400));
    assert_eq!(
        s.message.as_deref(),
        Some(
            "the namespace of the provided object does not match the namespace sent on the request"
        )
    );

    // resourceVersion must not be set.
    let mut with_rv = cm("y", json!({}));
    with_rv.metadata.resource_version = Some("5".into());
    let s = status(cms.create(&pp, &with_rv).await.unwrap_err());
    assert_eq!(s.code, Some(400));

    // dryRun: the whole path, nothing stored.
    let dry = PostParams {
        dry_run: true,
        ..Default::default()
    };
    let d = cms.create(&dry, &cm("dry", json!({}))).await.unwrap();
    assert!(d.metadata.uid.is_some());
    assert!(cms.get_opt("dry").await.unwrap().is_none());
}

#[tokio::test]
async fn wrong_and_malformed_bodies_are_400() {
    let (server, _client) = setup().await;
    let admin = UserInfo::admin();
    let post = |body: Value| {
        raw(
            gvr("", "configmaps"),
            Some("default"),
            None,
            Verb::Create(PostParams::default()),
            Some(body),
        )
    };

    let e = server
        .handle(
            &admin,
            post(json!({"apiVersion": "v2", "kind": "ConfigMap", "metadata": {"name": "a"}})),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), 400);
    assert_eq!(
        e.message(),
        "the API version in the data (v2) does not match the expected API version (v1)"
    );

    let e = server
        .handle(
            &admin,
            post(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "a"}})),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), 400);
    assert!(
        e.message()
            .starts_with("Secret in version \"v1\" cannot be handled as a ConfigMap"),
        "{}",
        e.message()
    );

    let e = server
        .handle(&admin, post(json!([1, 2])))
        .await
        .unwrap_err();
    assert_eq!(e.code(), 400);
    let e = server
        .handle(
            &admin,
            post(json!({"metadata": {"name": "a"}, "data": "not a map"})),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), 400, "{}", e.message());
    assert!(e
        .message()
        .starts_with("ConfigMap in version \"v1\" cannot be handled as a ConfigMap: "));
    let e = server
        .handle(&admin, post(json!({"metadata": "x"})))
        .await
        .unwrap_err();
    assert_eq!(e.code(), 400);

    // Unknown resource, unknown subresource, verbs the resource does not serve.
    let e = server
        .handle(
            &admin,
            raw(
                gvr("", "widgets"),
                None,
                None,
                Verb::List(ListParams::default()),
                None,
            ),
        )
        .await
        .unwrap_err();
    assert_eq!((e.code(), e.reason()), (404, "NotFound"));
    let e = server
        .handle(
            &admin,
            raw(
                gvr("", "namespaces"),
                None,
                None,
                Verb::DeleteCollection(Default::default(), Default::default()),
                None,
            ),
        )
        .await
        .unwrap_err();
    assert_eq!((e.code(), e.reason()), (405, "MethodNotAllowed"));
    let mut log = raw(gvr("", "pods"), Some("default"), Some("p"), Verb::Get, None);
    log.subresource = Some("log".into());
    // A one-shot pods/log reads the log as HTTPS does (`kube_api::oneshot`): no pod, 404.
    let e = server.handle(&admin, log).await.unwrap_err();
    assert_eq!((e.code(), e.message()), (404, "pods \"p\" not found"));
}

#[tokio::test]
async fn namespace_lifecycle() {
    let (_server, client) = setup().await;
    let pp = PostParams::default();
    let s = status(
        Api::<ConfigMap>::namespaced(client.clone(), "nope")
            .create(&pp, &cm("a", json!({})))
            .await
            .unwrap_err(),
    );
    assert_eq!((s.code, s.reason.as_deref()), (Some(404), Some("NotFound")));
    assert_eq!(s.message.as_deref(), Some(r#"namespaces "nope" not found"#));

    let nss: Api<Namespace> = Api::all(client.clone());
    let ns = nss.create(&pp, &Namespace::new("team")).await.unwrap();
    assert_eq!(ns.status.as_ref().unwrap().phase.as_deref(), Some("Active"));
    assert_eq!(
        ns.metadata.labels.as_ref().unwrap()["kubernetes.io/metadata.name"],
        "team"
    );
    // Deleting a namespace with the `kubernetes` finalizer leaves it Terminating.
    let out = nss.delete("team", &DeleteParams::default()).await.unwrap();
    let DeleteOutcome::Object(ns) = out else {
        panic!("namespaces answer with the object")
    };
    assert_eq!(
        ns.status.as_ref().unwrap().phase.as_deref(),
        Some("Terminating")
    );
    assert!(ns.metadata.deletion_timestamp.is_some());
    let s = status(
        Api::<ConfigMap>::namespaced(client.clone(), "team")
            .create(&pp, &cm("a", json!({})))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (s.code, s.reason.as_deref()),
        (Some(403), Some("Forbidden"))
    );
    assert_eq!(
        s.message.as_deref(),
        Some(
            r#"configmaps "a" is forbidden: unable to create new content in namespace team because it is being terminated"#
        )
    );
    // The namespace controller empties spec.finalizers through `finalize`: the namespace goes.
    let mut fin = serde_json::to_value(&ns).unwrap();
    fin["spec"]["finalizers"] = json!([]);
    let mut req = raw(
        gvr("", "namespaces"),
        None,
        Some("team"),
        Verb::Replace(PostParams::default()),
        Some(fin),
    );
    req.subresource = Some("finalize".into());
    client.call(req).await.unwrap();
    assert!(nss.get_opt("team").await.unwrap().is_none());
    // The system namespaces can't be deleted.
    let s = status(
        nss.delete("default", &DeleteParams::default())
            .await
            .unwrap_err(),
    );
    assert_eq!(
        s.message.as_deref(),
        Some(r#"namespaces "default" is forbidden: this namespace may not be deleted"#)
    );
}

#[tokio::test]
async fn pods_defaults_validation_status_and_generation() {
    let (_server, client) = setup().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pp = PostParams::default();
    let mut sent = pod("web");
    sent.status = Some(serde_json::from_value(json!({"phase": "Running"})).unwrap());
    let p = pods.create(&pp, &sent).await.unwrap();
    assert_eq!(p.metadata.generation, Some(1));
    let st = p.status.as_ref().unwrap();
    assert_eq!(
        st.phase.as_deref(),
        Some("Pending"),
        "status is reset on create"
    );
    assert_eq!(st.qos_class.as_deref(), Some("BestEffort"));
    let spec = p.spec.as_ref().unwrap();
    assert_eq!(
        spec.restart_policy.as_deref(),
        Some("Always"),
        "defaults applied"
    );
    assert_eq!(spec.service_account_name.as_deref(), Some("default"));
    let tolerations = serde_json::to_value(&spec.tolerations).unwrap();
    assert_eq!(
        tolerations,
        json!([
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
        ])
    );

    // Validation: 422 with the field and the exact message.
    let bad: Pod = serde_json::from_value(
        json!({"metadata": {"name": "bad"}, "spec": {"containers": [{"name": "app"}]}}),
    )
    .unwrap();
    let s = status(pods.create(&pp, &bad).await.unwrap_err());
    assert_eq!((s.code, s.reason.as_deref()), (Some(422), Some("Invalid")));
    assert_eq!(
        s.message.as_deref(),
        Some(r#"Pod "bad" is invalid: spec.containers[0].image: Required value"#)
    );
    let cause = &s.details.as_ref().unwrap().causes.as_ref().unwrap()[0];
    assert_eq!(cause.field.as_deref(), Some("spec.containers[0].image"));
    assert_eq!(cause.reason.as_deref(), Some("FieldValueRequired"));

    // The main endpoint keeps the old status; the status endpoint keeps the old spec.
    let mut upd = p.clone();
    upd.status.as_mut().unwrap().phase = Some("Running".into());
    upd.metadata
        .labels
        .as_mut()
        .unwrap()
        .insert("v".into(), "2".into());
    let after = pods.replace("web", &pp, &upd).await.unwrap();
    assert_eq!(
        after.status.as_ref().unwrap().phase.as_deref(),
        Some("Pending")
    );
    assert_eq!(after.metadata.labels.as_ref().unwrap()["v"], "2");
    assert_eq!(
        after.metadata.generation,
        Some(1),
        "metadata changes don't bump generation"
    );

    let mut st = after.clone();
    st.status.as_mut().unwrap().phase = Some("Running".into());
    st.spec.as_mut().unwrap().active_deadline_seconds = Some(99);
    let after = pods.replace_status("web", &pp, &st).await.unwrap();
    assert_eq!(
        after.status.as_ref().unwrap().phase.as_deref(),
        Some("Running")
    );
    assert_eq!(
        after.spec.as_ref().unwrap().active_deadline_seconds,
        None,
        "status endpoint keeps spec"
    );
    assert_eq!(after.metadata.generation, Some(1));

    // A spec change through the main endpoint bumps generation.
    let mut sp = after.clone();
    sp.spec.as_mut().unwrap().active_deadline_seconds = Some(99);
    let after = pods.replace("web", &pp, &sp).await.unwrap();
    assert_eq!(after.metadata.generation, Some(2));
    assert_eq!(
        after.status.as_ref().unwrap().phase.as_deref(),
        Some("Running")
    );

    // GET of pods/status.
    let mut get_status = raw(
        gvr("", "pods"),
        Some("default"),
        Some("web"),
        Verb::Get,
        None,
    );
    get_status.subresource = Some("status".into());
    let v = client.call(get_status).await.unwrap();
    assert_eq!(v["status"]["phase"], "Running");
}

#[tokio::test]
async fn patches() {
    let (_server, client) = setup().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let p = pods
        .create(&PostParams::default(), &pod("web"))
        .await
        .unwrap();
    let pp = PatchParams::default();

    let merged = pods
        .patch(
            "web",
            &pp,
            Patch::Merge(json!({"metadata": {"labels": {"tier": "fe", "app": null}}})),
        )
        .await
        .unwrap();
    let labels = merged.metadata.labels.clone().unwrap();
    assert_eq!(labels.get("tier").map(String::as_str), Some("fe"));
    assert!(!labels.contains_key("app"));

    let jp = pods
        .patch(
            "web",
            &pp,
            Patch::Json(
                json!([{"op": "add", "path": "/metadata/annotations", "value": {"x": "y"}}]),
            ),
        )
        .await
        .unwrap();
    assert_eq!(jp.metadata.annotations.unwrap()["x"], "y");
    let s = status(
        pods.patch(
            "web",
            &pp,
            Patch::Json(json!([{"op": "test", "path": "/metadata/name", "value": "nope"}])),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(s.code, Some(422));
    let s = status(
        pods.patch("web", &pp, Patch::Merge(json!([1])))
            .await
            .unwrap_err(),
    );
    assert_eq!(s.code, Some(400));

    // Strategic merge: containers merge by name.
    let smp = pods
        .patch(
            "web",
            &pp,
            Patch::Strategic(
                json!({"spec": {"containers": [{"name": "app", "image": "nginx:1.26"}]}}),
            ),
        )
        .await
        .unwrap();
    assert_eq!(
        smp.spec.as_ref().unwrap().containers[0].image.as_deref(),
        Some("nginx:1.26")
    );
    assert_eq!(smp.metadata.generation, Some(2));

    // A patch carrying a stale resourceVersion conflicts.
    let rv = p.metadata.resource_version.clone().unwrap();
    let s = status(
        pods.patch(
            "web",
            &pp,
            Patch::Merge(json!({"metadata": {"resourceVersion": rv, "labels": {"z": "1"}}})),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(s.reason.as_deref(), Some("Conflict"));

    // Patching a missing object: 404.
    let s = status(
        pods.patch("ghost", &pp, Patch::Merge(json!({})))
            .await
            .unwrap_err(),
    );
    assert_eq!(s.code, Some(404));

    // Status patch.
    let st = pods
        .patch_status(
            "web",
            &pp,
            Patch::Merge(json!({"status": {"phase": "Running"}})),
        )
        .await
        .unwrap();
    assert_eq!(st.status.unwrap().phase.as_deref(), Some("Running"));
}

#[tokio::test]
async fn server_side_apply() {
    let (_server, client) = setup().await;
    let deploys: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let mut config = serde_json::to_value(deployment("web", 2)).unwrap();
    config["apiVersion"] = json!("apps/v1");
    config["kind"] = json!("Deployment");

    let s = status(
        deploys
            .patch("web", &PatchParams::default(), Patch::Apply(config.clone()))
            .await
            .unwrap_err(),
    );
    assert_eq!(s.code, Some(422));
    assert_eq!(
        s.message.as_deref(),
        Some(
            r#"PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch"#
        )
    );

    // Ordinary writes with a field manager are recorded as `Update` entries.
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let pp = PostParams {
        field_manager: Some("kubectl-create".into()),
        ..Default::default()
    };
    let c = cms
        .create(&pp, &cm("tracked", json!({"a": "1"})))
        .await
        .unwrap();
    let mf = &c.metadata.managed_fields.as_ref().unwrap()[0];
    assert_eq!(
        (mf.manager.as_deref(), mf.operation.as_deref()),
        (Some("kubectl-create"), Some("Update"))
    );

    let ap = PatchParams {
        field_manager: Some("kubectl".into()),
        ..Default::default()
    };
    let created = deploys
        .patch("web", &ap, Patch::Apply(config.clone()))
        .await
        .unwrap();
    assert_eq!(created.spec.as_ref().unwrap().replicas, Some(2));
    assert_eq!(
        created.metadata.managed_fields.as_ref().unwrap()[0]
            .manager
            .as_deref(),
        Some("kubectl")
    );
    assert_eq!(created.metadata.generation, Some(1));

    let again = deploys
        .patch("web", &ap, Patch::Apply(config.clone()))
        .await
        .unwrap();
    assert_eq!(
        again.metadata.resource_version, created.metadata.resource_version,
        "re-apply is a no-op"
    );

    config["spec"]["replicas"] = json!(3);
    let changed = deploys
        .patch("web", &ap, Patch::Apply(config.clone()))
        .await
        .unwrap();
    assert_eq!(changed.spec.as_ref().unwrap().replicas, Some(3));
    assert_eq!(changed.metadata.generation, Some(2));

    // Another manager applying a different replicas conflicts unless forced.
    let other = PatchParams {
        field_manager: Some("other".into()),
        ..Default::default()
    };
    let mut cfg2 = config.clone();
    cfg2["spec"]["replicas"] = json!(5);
    let s = status(
        deploys
            .patch("web", &other, Patch::Apply(cfg2.clone()))
            .await
            .unwrap_err(),
    );
    assert_eq!((s.code, s.reason.as_deref()), (Some(409), Some("Conflict")));
    assert!(s
        .message
        .unwrap()
        .starts_with("Apply failed with 1 conflict"));
    let forced = PatchParams {
        force: true,
        ..other
    };
    let f = deploys
        .patch("web", &forced, Patch::Apply(cfg2))
        .await
        .unwrap();
    assert_eq!(f.spec.unwrap().replicas, Some(5));
}

#[tokio::test]
async fn deployment_generation_and_scale_subresource() {
    let (server, client) = setup().await;
    let deploys: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let pp = PostParams::default();
    let d = deploys.create(&pp, &deployment("web", 2)).await.unwrap();
    assert_eq!(d.metadata.generation, Some(1));
    assert_eq!(
        serde_json::to_value(&d.status).unwrap(),
        json!({}),
        "status reset on create"
    );

    // Annotations bump a Deployment's generation.
    let a = deploys
        .patch(
            "web",
            &PatchParams::default(),
            Patch::Merge(json!({"metadata": {"annotations": {"a": "b"}}})),
        )
        .await
        .unwrap();
    assert_eq!(a.metadata.generation, Some(2));

    let admin = UserInfo::admin();
    let mut get = raw(
        gvr("apps", "deployments"),
        Some("default"),
        Some("web"),
        Verb::Get,
        None,
    );
    get.subresource = Some("scale".into());
    let scale = server.handle(&admin, get.clone()).await.unwrap();
    assert_eq!(scale["kind"], "Scale");
    assert_eq!(scale["apiVersion"], "autoscaling/v1");
    assert_eq!(scale["spec"]["replicas"], 2);
    assert_eq!(scale["status"]["replicas"], 0);
    assert_eq!(scale["status"]["selector"], "app=web");

    // kubectl scale: merge patch of scale.
    let mut patch = get.clone();
    patch.verb = Verb::Patch(
        Patch::Merge(json!({"spec": {"replicas": 3}})),
        PatchParams::default(),
    );
    let scale = server.handle(&admin, patch).await.unwrap();
    assert_eq!(scale["kind"], "Scale");
    assert_eq!(scale["spec"]["replicas"], 3);
    let d = deploys.get("web").await.unwrap();
    assert_eq!(d.spec.as_ref().unwrap().replicas, Some(3));
    assert_eq!(d.metadata.generation, Some(3));

    // PUT scale, then a stale one, then a negative one.
    let mut put = get.clone();
    let mut body = scale.clone();
    body["spec"]["replicas"] = json!(4);
    put.verb = Verb::Replace(PostParams::default());
    put.body = Some(body.clone());
    assert_eq!(
        server.handle(&admin, put.clone()).await.unwrap()["spec"]["replicas"],
        4
    );
    let e = server.handle(&admin, put.clone()).await.unwrap_err();
    assert_eq!(e.reason(), "Conflict");
    assert_eq!(
        e.message(),
        r#"Operation cannot be fulfilled on deployments.apps "web": the object has been modified; please apply your changes to the latest version and try again"#
    );
    body["spec"]["replicas"] = json!(-1);
    body["metadata"]["resourceVersion"] = Value::Null;
    put.body = Some(body);
    let e = server.handle(&admin, put).await.unwrap_err();
    assert_eq!(e.code(), 422);
    assert_eq!(
        e.message(),
        r#"Scale.autoscaling "web" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0"#
    );
}

#[tokio::test]
async fn binding_subresource_and_bindings_resource() {
    let (server, client) = setup().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(&PostParams::default(), &pod("a"))
        .await
        .unwrap();
    pods.create(&PostParams::default(), &pod("b"))
        .await
        .unwrap();
    let admin = UserInfo::admin();
    let binding = |name: &str, node: &str| json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name}, "target": {"kind": "Node", "name": node}});

    let mut req = raw(
        gvr("", "pods"),
        Some("default"),
        Some("a"),
        Verb::Create(PostParams::default()),
        Some(binding("a", "n1")),
    );
    req.subresource = Some("binding".into());
    let ok = server.handle(&admin, req.clone()).await.unwrap();
    assert_eq!(ok["status"], "Success");
    let a = pods.get("a").await.unwrap();
    assert_eq!(a.spec.as_ref().unwrap().node_name.as_deref(), Some("n1"));
    let conds = serde_json::to_value(&a.status.as_ref().unwrap().conditions).unwrap();
    assert_eq!(conds[0]["type"], "PodScheduled");
    assert_eq!(conds[0]["status"], "True");

    let e = server.handle(&admin, req).await.unwrap_err();
    assert_eq!((e.code(), e.reason()), (409, "Conflict"));
    assert_eq!(
        e.message(),
        r#"Operation cannot be fulfilled on pods/binding "a": pod a is already assigned to node "n1""#
    );

    let req = raw(
        gvr("", "bindings"),
        Some("default"),
        None,
        Verb::Create(PostParams::default()),
        Some(binding("b", "n2")),
    );
    server.handle(&admin, req).await.unwrap();
    assert_eq!(
        pods.get("b")
            .await
            .unwrap()
            .spec
            .unwrap()
            .node_name
            .as_deref(),
        Some("n2")
    );
}

#[tokio::test]
async fn graceful_deletion_finalizers_and_preconditions() {
    let clock = ManualClock::new(jiff::Timestamp::from_second(1_700_000_000).unwrap());
    let server = ApiServer::builder(Arc::new(EmbeddedStore::in_memory()))
        .clock(Arc::new(clock.clone()))
        .build();
    server.ensure_system_namespaces().await.unwrap();
    let client = LocalClient::admin(server.clone()).into_client();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pp = PostParams::default();

    // Unscheduled pod: deleted at once, the response is the pod.
    pods.create(&pp, &pod("unscheduled")).await.unwrap();
    match pods
        .delete("unscheduled", &DeleteParams::default())
        .await
        .unwrap()
    {
        DeleteOutcome::Object(p) => assert_eq!(p.metadata.name.as_deref(), Some("unscheduled")),
        DeleteOutcome::Status(_) => panic!("pods answer with the object"),
    }
    assert!(pods.get_opt("unscheduled").await.unwrap().is_none());

    // Scheduled pod: graceful.
    let mut p = pod("web");
    p.spec.as_mut().unwrap().node_name = Some("n1".into());
    let p = pods.create(&pp, &p).await.unwrap();
    clock.advance(10);
    let DeleteOutcome::Object(d) = pods.delete("web", &DeleteParams::default()).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(d.metadata.deletion_grace_period_seconds, Some(30));
    assert_eq!(
        d.metadata.deletion_timestamp.unwrap().unix_seconds(),
        1_700_000_000 + 10 + 30
    );
    assert_eq!(d.metadata.generation, Some(2));
    // A longer grace period changes nothing; a shorter one shortens.
    let long = DeleteParams {
        grace_period_seconds: Some(60),
        ..Default::default()
    };
    let DeleteOutcome::Object(d2) = pods.delete("web", &long).await.unwrap() else {
        panic!()
    };
    assert_eq!(d2.metadata.resource_version, d.metadata.resource_version);
    let short = DeleteParams {
        grace_period_seconds: Some(5),
        ..Default::default()
    };
    let DeleteOutcome::Object(d3) = pods.delete("web", &short).await.unwrap() else {
        panic!()
    };
    assert_eq!(
        d3.metadata.deletion_timestamp.unwrap().unix_seconds(),
        1_700_000_000 + 10 + 5
    );
    // Preconditions.
    let bad_uid = DeleteParams {
        grace_period_seconds: Some(0),
        preconditions: Some(Preconditions {
            uid: Some("nope".into()),
            resource_version: None,
        }),
        ..Default::default()
    };
    let s = status(pods.delete("web", &bad_uid).await.unwrap_err());
    assert_eq!(s.code, Some(409));
    assert_eq!(
        s.message.as_deref(),
        Some(format!(r#"Operation cannot be fulfilled on pods "web": Precondition failed: UID in precondition: nope, UID in object meta: {}"#, p.metadata.uid.clone().unwrap()).as_str())
    );
    // Grace 0 removes.
    let now = DeleteParams {
        grace_period_seconds: Some(0),
        ..Default::default()
    };
    pods.delete("web", &now).await.unwrap();
    assert!(pods.get_opt("web").await.unwrap().is_none());

    // Finalizers keep the object until the update that empties them.
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let mut c = cm("held", json!({}));
    c.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    cms.create(&pp, &c).await.unwrap();
    let DeleteOutcome::Object(held) = cms.delete("held", &DeleteParams::default()).await.unwrap()
    else {
        panic!("kept while finalizers remain")
    };
    assert!(held.metadata.deletion_timestamp.is_some());
    assert_eq!(held.metadata.deletion_grace_period_seconds, Some(0));
    let mut release = held.clone();
    release.metadata.finalizers = None;
    cms.replace("held", &pp, &release).await.unwrap();
    assert!(cms.get_opt("held").await.unwrap().is_none());

    // Propagation policies become GC finalizers.
    cms.create(&pp, &cm("fg", json!({}))).await.unwrap();
    let fg = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Foreground),
        ..Default::default()
    };
    let DeleteOutcome::Object(o) = cms.delete("fg", &fg).await.unwrap() else {
        panic!()
    };
    assert_eq!(
        o.metadata.finalizers,
        Some(vec!["foregroundDeletion".to_string()])
    );
    let orphan = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Orphan),
        ..Default::default()
    };
    let DeleteOutcome::Object(o) = cms.delete("fg", &orphan).await.unwrap() else {
        panic!()
    };
    assert_eq!(o.metadata.finalizers, Some(vec!["orphan".to_string()]));
    let bg = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        ..Default::default()
    };
    cms.delete("fg", &bg).await.unwrap();
    assert!(cms.get_opt("fg").await.unwrap().is_none());
}

#[tokio::test]
async fn delete_collection_with_selector() {
    let (_server, client) = setup().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    for (n, tier) in [("a", "fe"), ("b", "fe"), ("c", "be")] {
        let mut c = cm(n, json!({}));
        c.metadata.labels = Some([("tier".to_string(), tier.to_string())].into());
        cms.create(&PostParams::default(), &c).await.unwrap();
    }
    let req = raw(
        gvr("", "configmaps"),
        Some("default"),
        None,
        Verb::DeleteCollection(
            DeleteParams::default(),
            ListParams {
                label_selector: Some("tier=fe".into()),
                ..Default::default()
            },
        ),
        None,
    );
    let out = client.call(req).await.unwrap();
    assert_eq!(out["kind"], "ConfigMapList");
    assert_eq!(out["items"].as_array().unwrap().len(), 2);
    let left = cms.list(&ListParams::default()).await.unwrap();
    assert_eq!(left.items.len(), 1);
    assert_eq!(left.items[0].metadata.name.as_deref(), Some("c"));
}

struct DenySecrets;

#[async_trait::async_trait]
impl Authorizer for DenySecrets {
    async fn authorize(&self, attrs: &Attributes<'_>) -> Decision {
        if attrs.resource == "secrets" {
            Decision::Deny(String::new())
        } else {
            Decision::Allow
        }
    }
}

#[tokio::test]
async fn authorizer_denial_is_403() {
    let server = ApiServer::builder(Arc::new(EmbeddedStore::in_memory()))
        .authorizer(Arc::new(DenySecrets))
        .build();
    server.ensure_system_namespaces().await.unwrap();
    let user = UserInfo::new("alice", &["system:authenticated"]);
    let e = server
        .handle(
            &user,
            raw(
                gvr("", "secrets"),
                Some("default"),
                Some("s"),
                Verb::Get,
                None,
            ),
        )
        .await
        .unwrap_err();
    assert_eq!((e.code(), e.reason()), (403, "Forbidden"));
    assert_eq!(
        e.message(),
        r#"secrets "s" is forbidden: User "alice" cannot get resource "secrets" in API group "" in the namespace "default""#
    );
    let e = server
        .handle(
            &user,
            raw(
                gvr("", "secrets"),
                None,
                None,
                Verb::List(ListParams::default()),
                None,
            ),
        )
        .await
        .unwrap_err();
    assert_eq!(
        e.message(),
        r#"secrets is forbidden: User "alice" cannot list resource "secrets" in API group "" at the cluster scope"#
    );
}

#[tokio::test]
async fn two_servers_over_one_store() {
    let store = EmbeddedStore::in_memory();
    let a = server_with(store.clone()).await;
    let b = ApiServer::new(Arc::new(store.clone()));
    let ca: Api<ConfigMap> =
        Api::namespaced(LocalClient::admin(a.clone()).into_client(), "default");
    let cb: Api<ConfigMap> =
        Api::namespaced(LocalClient::admin(b.clone()).into_client(), "default");

    let mut watch = cb
        .watch(&WatchParams {
            resource_version: Some(store.current_revision().await.unwrap().to_string()),
            ..Default::default()
        })
        .await
        .unwrap();
    let created = ca
        .create(&PostParams::default(), &cm("shared", json!({"k": "v"})))
        .await
        .unwrap();
    let seen = cb.get("shared").await.unwrap();
    assert_eq!(
        seen.metadata.resource_version,
        created.metadata.resource_version
    );
    let ev = watch.next().await.unwrap().unwrap();
    assert_eq!(ev.type_, WatchEventType::Added);
    assert_eq!(ev.object.metadata.uid, created.metadata.uid);

    // Both read the same version; the second writer conflicts.
    let mut via_a = seen.clone();
    via_a.data.as_mut().unwrap().insert("k".into(), "a".into());
    let mut via_b = seen.clone();
    via_b.data.as_mut().unwrap().insert("k".into(), "b".into());
    ca.replace("shared", &PostParams::default(), &via_a)
        .await
        .unwrap();
    let s = status(
        cb.replace("shared", &PostParams::default(), &via_b)
            .await
            .unwrap_err(),
    );
    assert_eq!(s.reason.as_deref(), Some("Conflict"));
    let ev = watch.next().await.unwrap().unwrap();
    assert_eq!(ev.type_, WatchEventType::Modified);
    assert_eq!(ev.object.data.unwrap()["k"], "a");
    // AlreadyExists across servers too.
    let s = status(
        cb.create(&PostParams::default(), &cm("shared", json!({})))
            .await
            .unwrap_err(),
    );
    assert_eq!(s.reason.as_deref(), Some("AlreadyExists"));
}

#[tokio::test]
async fn malformed_requests_are_4xx_never_5xx() {
    let (server, client) = setup().await;
    let admin = UserInfo::admin();
    Api::<ConfigMap>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &cm("live", json!({})))
        .await
        .unwrap();
    let cms = || gvr("", "configmaps");
    let pods = || gvr("", "pods");
    let create = |r: GroupVersionResource, body: Value| {
        raw(
            r,
            Some("default"),
            None,
            Verb::Create(PostParams::default()),
            Some(body),
        )
    };
    let replace = |body: Value| {
        raw(
            cms(),
            Some("default"),
            Some("live"),
            Verb::Replace(PostParams::default()),
            Some(body),
        )
    };
    let patch = |p: Patch| {
        raw(
            cms(),
            Some("default"),
            Some("live"),
            Verb::Patch(p, PatchParams::default()),
            None,
        )
    };
    let list = |p: ListParams| raw(cms(), Some("default"), None, Verb::List(p), None);
    let cases = vec![
        create(cms(), json!(null)),
        create(cms(), json!("text")),
        create(cms(), json!({"metadata": {"name": 5}})),
        create(cms(), json!({"metadata": {"name": "ok", "labels": "x"}})),
        create(
            cms(),
            json!({"metadata": {"name": "ok", "labels": {"bad key!": "v"}}}),
        ),
        create(cms(), json!({"metadata": {"name": "Bad_Name"}})),
        create(cms(), json!({"metadata": {"name": "a/b"}})),
        create(cms(), json!({"metadata": {"name": ".."}})),
        create(cms(), json!({"apiVersion": 5, "metadata": {"name": "x"}})),
        create(
            pods(),
            json!({"metadata": {"name": "p"}, "spec": {"containers": "nope"}}),
        ),
        create(
            pods(),
            json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i", "resources": {"limits": {"cpu": "lots"}}}]}}),
        ),
        create(
            gvr("", "bindings"),
            json!({"metadata": {"name": "missing"}, "target": {"name": "n1"}}),
        ),
        create(
            gvr("", "bindings"),
            json!({"metadata": {"name": "missing"}}),
        ),
        replace(json!([])),
        replace(json!({"metadata": {"name": "live", "uid": "other"}})),
        replace(json!({"metadata": {"name": "live", "namespace": "kube-system"}})),
        patch(Patch::Json(json!({"op": "add"}))),
        patch(Patch::Json(json!([{"op": "explode", "path": "/x"}]))),
        patch(Patch::Json(
            json!([{"op": "replace", "path": "/metadata/name", "value": "other"}]),
        )),
        patch(Patch::Merge(json!("x"))),
        patch(Patch::Merge(json!({"metadata": {"name": 7}}))),
        patch(Patch::Strategic(json!({"data": {"$patch": "explode"}}))),
        patch(Patch::Apply(json!({"metadata": {"name": "live"}}))),
        list(ListParams {
            resource_version: Some("abc".into()),
            ..Default::default()
        }),
        list(ListParams {
            resource_version: Some("-5".into()),
            ..Default::default()
        }),
        list(ListParams {
            continue_token: Some("eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MCwic3RhcnQiOiIifQ".into()),
            ..Default::default()
        }),
        list(ListParams {
            label_selector: Some("!!".into()),
            ..Default::default()
        }),
        list(ListParams {
            field_selector: Some("metadata.name".into()),
            ..Default::default()
        }),
        raw(cms(), None, Some("live"), Verb::Get, None),
        raw(
            gvr("", "nodes"),
            Some("default"),
            Some("n"),
            Verb::Get,
            None,
        ),
        raw(
            cms(),
            Some("default"),
            Some("live"),
            Verb::Create(PostParams::default()),
            None,
        ),
    ];
    for (i, req) in cases.into_iter().enumerate() {
        let what = format!("case {i}: {:?} {:?}", req.verb, req.body);
        match server.handle(&admin, req).await {
            Ok(v) => panic!("{what} succeeded: {v}"),
            Err(e) => assert!(
                (400..500).contains(&e.code()),
                "{what}: {} {}",
                e.code(),
                e.message()
            ),
        }
    }
    let bad_watch = WatchParams {
        resource_version: Some("x".into()),
        ..Default::default()
    };
    let e = server
        .watch(&admin, &cms(), Some("default"), &bad_watch)
        .await
        .err()
        .unwrap();
    assert_eq!(e.code(), 400);
}

#[tokio::test]
async fn cluster_scoped_kinds_and_per_kind_fields() {
    let (_server, client) = setup().await;
    let nodes: Api<kubox_core::api::core_v1::Node> = Api::all(client.clone());
    let node: kubox_core::api::core_v1::Node = serde_json::from_value(json!({
        "metadata": {"name": "n1"}, "spec": {"unschedulable": true},
        "status": {"capacity": {"cpu": "4"}}
    }))
    .unwrap();
    let n = nodes.create(&PostParams::default(), &node).await.unwrap();
    assert!(n.metadata.namespace.is_none());
    assert_eq!(
        serde_json::to_value(&n.status).unwrap()["capacity"]["cpu"],
        "4",
        "nodes keep status on create"
    );
    nodes
        .create(
            &PostParams::default(),
            &kubox_core::api::core_v1::Node::new("n2"),
        )
        .await
        .unwrap();
    let cordoned = nodes
        .list(&ListParams {
            field_selector: Some("spec.unschedulable=true".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(cordoned.items.len(), 1);
    let open = nodes
        .list(&ListParams {
            field_selector: Some("spec.unschedulable=false".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(open.items[0].metadata.name.as_deref(), Some("n2"));

    let secrets: Api<kubox_core::api::core_v1::Secret> = Api::namespaced(client.clone(), "default");
    for (name, ty) in [("a", "Opaque"), ("b", "kubernetes.io/dockerconfigjson")] {
        let mut s: kubox_core::api::core_v1::Secret =
            serde_json::from_value(json!({"metadata": {"name": name}, "type": ty})).unwrap();
        if name == "b" {
            s = serde_json::from_value(json!({"metadata": {"name": name}, "type": ty, "data": {".dockerconfigjson": "e30="}})).unwrap();
        }
        secrets.create(&PostParams::default(), &s).await.unwrap();
    }
    let opaque = secrets
        .list(&ListParams {
            field_selector: Some("type=Opaque".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(opaque.items.len(), 1);

    let events: Api<kubox_core::api::core_v1::Event> = Api::namespaced(client.clone(), "default");
    let ev: kubox_core::api::core_v1::Event = serde_json::from_value(json!({
        "metadata": {"name": "e1"},
        "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default", "uid": "u1"},
        "reason": "Scheduled", "type": "Normal", "source": {"component": "default-scheduler"}
    }))
    .unwrap();
    events.create(&PostParams::default(), &ev).await.unwrap();
    let sel = "involvedObject.name=web,involvedObject.namespace=default,involvedObject.uid=u1";
    let found = events
        .list(&ListParams {
            field_selector: Some(sel.into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(found.items.len(), 1);
    let by_source = events
        .list(&ListParams {
            field_selector: Some("source=default-scheduler,type=Normal".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_source.items.len(), 1);

    // Leases create on update (AllowCreateOnUpdate).
    let leases: Api<kubox_core::api::coordination_v1::Lease> =
        Api::namespaced(client.clone(), "kube-node-lease");
    let lease = kubox_core::api::coordination_v1::Lease::new("n1");
    let l = leases
        .replace("n1", &PostParams::default(), &lease)
        .await
        .unwrap();
    assert!(l.metadata.uid.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_are_serialized() {
    let (_server, client) = setup().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    cms.create(&PostParams::default(), &cm("hot", json!({})))
        .await
        .unwrap();
    // Patches retry internally on store conflicts (GuaranteedUpdate): none is lost.
    let mut tasks = Vec::new();
    for i in 0..16 {
        let cms = cms.clone();
        tasks.push(tokio::spawn(async move {
            cms.patch(
                "hot",
                &PatchParams::default(),
                Patch::Merge(json!({"data": {format!("k{i}"): "v"}})),
            )
            .await
            .unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(cms.get("hot").await.unwrap().data.unwrap().len(), 16);
    // Concurrent creates of one name: exactly one wins.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let cms = cms.clone();
        tasks.push(tokio::spawn(async move {
            cms.create(&PostParams::default(), &cm("once", json!({})))
                .await
                .is_ok()
        }));
    }
    let mut wins = 0;
    for t in tasks {
        wins += usize::from(t.await.unwrap());
    }
    assert_eq!(wins, 1);
}

#[tokio::test]
async fn objects_survive_a_restart_of_a_durable_store() {
    let dir = tempfile::tempdir().unwrap();
    let opts = kube_store::embedded::Options {
        fsync: false,
        ..Default::default()
    };
    let store = EmbeddedStore::open(dir.path(), opts.clone()).await.unwrap();
    let server = server_with(store.clone()).await;
    let cms: Api<ConfigMap> = Api::namespaced(LocalClient::admin(server).into_client(), "default");
    let created = cms
        .create(&PostParams::default(), &cm("durable", json!({"a": "1"})))
        .await
        .unwrap();
    store.close().await.unwrap();
    drop(cms);
    drop(store);

    let store = EmbeddedStore::open(dir.path(), opts).await.unwrap();
    let server = ApiServer::new(Arc::new(store.clone()));
    let cms: Api<ConfigMap> = Api::namespaced(LocalClient::admin(server).into_client(), "default");
    let got = cms.get("durable").await.unwrap();
    assert_eq!(got.metadata.uid, created.metadata.uid);
    assert_eq!(
        got.metadata.resource_version,
        created.metadata.resource_version
    );
    let next = cms
        .create(&PostParams::default(), &cm("after", json!({})))
        .await
        .unwrap();
    let (a, b): (i64, i64) = (
        created.metadata.resource_version.unwrap().parse().unwrap(),
        next.metadata.resource_version.unwrap().parse().unwrap(),
    );
    assert!(b > a, "revisions continue after a restart");
    store.close().await.unwrap();
}

#[tokio::test]
async fn replication_controllers_orphan_by_default_and_scale() {
    let (server, client) = setup().await;
    let rcs: Api<kubox_core::api::core_v1::ReplicationController> =
        Api::namespaced(client.clone(), "default");
    let rc: kubox_core::api::core_v1::ReplicationController = serde_json::from_value(json!({
        "metadata": {"name": "rc"},
        "spec": {"replicas": 1, "selector": {"app": "rc"}, "template": {
            "metadata": {"labels": {"app": "rc"}},
            "spec": {"containers": [{"name": "c", "image": "busybox:1"}]}
        }}
    }))
    .unwrap();
    rcs.create(&PostParams::default(), &rc).await.unwrap();
    let mut get = raw(
        gvr("", "replicationcontrollers"),
        Some("default"),
        Some("rc"),
        Verb::Get,
        None,
    );
    get.subresource = Some("scale".into());
    let scale = server.handle(&UserInfo::admin(), get).await.unwrap();
    assert_eq!(scale["status"]["selector"], "app=rc");
    // core/v1 ReplicationControllers default to orphaning their pods.
    let DeleteOutcome::Object(o) = rcs.delete("rc", &DeleteParams::default()).await.unwrap() else {
        panic!("kept for the garbage collector")
    };
    assert_eq!(o.metadata.finalizers, Some(vec!["orphan".to_string()]));
    assert!(o.metadata.deletion_timestamp.is_some());
}
