//! LIST and WATCH semantics: pagination and continue tokens, 410 after compaction,
//! resourceVersion rules, selectors, watch resume, 410 watches, selector transitions,
//! bookmarks and initial-events-end under paused time, timeouts.

use futures::StreamExt;
use kube_api::{ApiServer, LocalClient, UserInfo};
use kube_store::embedded::EmbeddedStore;
use kubox_core::api::core_v1::{ConfigMap, Pod};
use kubox_core::client::{
    Api, Client, DeleteParams, GroupVersionResource, ListParams, Patch, PatchParams, PostParams,
    WatchParams,
};
use kubox_core::meta::{Status, WatchEvent, WatchEventType};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

async fn setup() -> (ApiServer, Arc<dyn Client>) {
    let server = ApiServer::builder(Arc::new(EmbeddedStore::in_memory()))
        .bookmark_interval(Duration::from_secs(60))
        .build();
    server.ensure_system_namespaces().await.unwrap();
    let client = LocalClient::admin(server.clone()).into_client();
    (server, client)
}

fn status(e: kubox_core::client::Error) -> Status {
    match e {
        kubox_core::client::Error::Api(s) => *s,
        other => panic!("not an API error: {other}"),
    }
}

fn cm(name: &str, labels: &[(&str, &str)]) -> ConfigMap {
    let labels: serde_json::Map<String, Value> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}})).unwrap()
}

fn configmaps() -> GroupVersionResource {
    GroupVersionResource {
        group: String::new(),
        version: "v1".into(),
        resource: "configmaps".into(),
    }
}

async fn create_n(api: &Api<ConfigMap>, n: usize) {
    for i in 0..n {
        api.create(
            &PostParams::default(),
            &cm(&format!("cm-{i}"), &[("i", &i.to_string())]),
        )
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn pagination_continue_and_expiry() {
    let (server, client) = setup().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    create_n(&cms, 5).await;

    let page1 = cms
        .list(&ListParams {
            limit: Some(2),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page1.items.len(), 2);
    assert_eq!(page1.metadata.remaining_item_count, Some(3));
    let token = page1.metadata.continue_.clone().unwrap();
    let rv = page1.metadata.resource_version.clone().unwrap();

    // A write between pages does not show up: the list is consistent at rv.
    cms.create(&PostParams::default(), &cm("cm-9", &[]))
        .await
        .unwrap();
    let page2 = cms
        .list(&ListParams {
            limit: Some(2),
            continue_token: Some(token),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        page2.metadata.resource_version.as_deref(),
        Some(rv.as_str())
    );
    let names: Vec<_> = page2
        .items
        .iter()
        .map(|c| c.metadata.name.clone().unwrap())
        .collect();
    assert_eq!(names, ["cm-2", "cm-3"]);
    let token2 = page2.metadata.continue_.clone().unwrap();
    let page3 = cms
        .list(&ListParams {
            limit: Some(2),
            continue_token: Some(token2.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page3.items.len(), 1, "cm-9 came after the list's revision");
    assert!(page3.metadata.continue_.is_none());
    assert!(page3.metadata.remaining_item_count.is_none());

    // After compaction past the token's revision: 410 with kube-apiserver's message and an
    // inconsistent-continue token.
    let current = server.store().current_revision().await.unwrap();
    server.store().compact(current).await.unwrap();
    let s = status(
        cms.list(&ListParams {
            limit: Some(2),
            continue_token: Some(token2),
            ..Default::default()
        })
        .await
        .unwrap_err(),
    );
    assert_eq!((s.code, s.reason.as_deref()), (Some(410), Some("Expired")));
    assert_eq!(
        s.message.as_deref(),
        Some("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.")
    );
    let inconsistent = s.metadata.continue_.clone().unwrap();
    let rest = cms
        .list(&ListParams {
            continue_token: Some(inconsistent),
            ..Default::default()
        })
        .await
        .unwrap();
    let names: Vec<_> = rest
        .items
        .iter()
        .map(|c| c.metadata.name.clone().unwrap())
        .collect();
    assert_eq!(
        names,
        ["cm-4", "cm-9"],
        "the inconsistent token continues at the latest revision"
    );

    // Bad tokens are 400.
    let s = status(
        cms.list(&ListParams {
            continue_token: Some("%%%".into()),
            ..Default::default()
        })
        .await
        .unwrap_err(),
    );
    assert_eq!(s.code, Some(400));
}

#[tokio::test]
async fn resource_version_semantics_and_validation() {
    let (server, client) = setup().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    create_n(&cms, 2).await;
    let list = cms.list(&ListParams::default()).await.unwrap();
    let rv = list.metadata.resource_version.clone().unwrap();
    assert_eq!(
        rv,
        server.store().current_revision().await.unwrap().to_string()
    );
    cms.create(&PostParams::default(), &cm("later", &[]))
        .await
        .unwrap();

    // Exact at an old revision shows the old state; NotOlderThan the latest.
    let exact = cms
        .list(&ListParams {
            resource_version: Some(rv.clone()),
            resource_version_match: Some("Exact".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(exact.items.len(), 2);
    assert_eq!(
        exact.metadata.resource_version.as_deref(),
        Some(rv.as_str())
    );
    let newer = cms
        .list(&ListParams {
            resource_version: Some(rv.clone()),
            resource_version_match: Some("NotOlderThan".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(newer.items.len(), 3);
    let any = cms
        .list(&ListParams {
            resource_version: Some("0".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(any.items.len(), 3);

    let cases = [
        (
            ListParams {
                resource_version_match: Some("Exact".into()),
                ..Default::default()
            },
            r#"ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided"#,
        ),
        (
            ListParams {
                resource_version: Some("0".into()),
                resource_version_match: Some("Exact".into()),
                ..Default::default()
            },
            r#"ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0""#,
        ),
        (
            ListParams {
                resource_version: Some("1".into()),
                resource_version_match: Some("Sometime".into()),
                ..Default::default()
            },
            r#"ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Unsupported value: "Sometime": supported values: "Exact", "NotOlderThan", """#,
        ),
    ];
    for (params, message) in cases {
        let s = status(cms.list(&params).await.unwrap_err());
        assert_eq!((s.code, s.reason.as_deref()), (Some(422), Some("Invalid")));
        assert_eq!(s.message.as_deref(), Some(message));
    }

    // Exact at a compacted revision: 410.
    let current = server.store().current_revision().await.unwrap();
    server.store().compact(current).await.unwrap();
    let s = status(
        cms.list(&ListParams {
            resource_version: Some(rv),
            resource_version_match: Some("Exact".into()),
            ..Default::default()
        })
        .await
        .unwrap_err(),
    );
    assert_eq!((s.code, s.reason.as_deref()), (Some(410), Some("Expired")));
}

#[tokio::test(start_paused = true)]
async fn future_resource_version_times_out_with_504() {
    let (_server, client) = setup().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let s = status(
        cms.list(&ListParams {
            resource_version: Some("1000".into()),
            ..Default::default()
        })
        .await
        .unwrap_err(),
    );
    assert_eq!((s.code, s.reason.as_deref()), (Some(504), Some("Timeout")));
    assert!(s
        .message
        .unwrap()
        .starts_with("Timeout: Too large resource version: 1000, current: "));
    assert_eq!(s.details.unwrap().retry_after_seconds, Some(1));
}

#[tokio::test]
async fn label_and_field_selectors() {
    let (_server, client) = setup().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    for (n, tier) in [("a", "fe"), ("b", "be"), ("c", "fe")] {
        cms.create(&PostParams::default(), &cm(n, &[("tier", tier)]))
            .await
            .unwrap();
    }
    let fe = cms
        .list(&ListParams {
            label_selector: Some("tier=fe".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(fe.items.len(), 2);
    let one = cms
        .list(&ListParams {
            label_selector: Some("tier in (fe)".into()),
            limit: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(one.items.len(), 1);
    assert!(one.metadata.continue_.is_some());
    assert!(
        one.metadata.remaining_item_count.is_none(),
        "unknown with a selector"
    );
    let by_name = cms
        .list(&ListParams {
            field_selector: Some("metadata.name=b".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_name.items.len(), 1);
    let s = status(
        cms.list(&ListParams {
            field_selector: Some("spec.nodeName=n1".into()),
            ..Default::default()
        })
        .await
        .unwrap_err(),
    );
    assert_eq!(
        (s.code, s.reason.as_deref()),
        (Some(400), Some("BadRequest"))
    );
    assert_eq!(
        s.message.as_deref(),
        Some("field label not supported: spec.nodeName")
    );
    let s = status(
        cms.list(&ListParams {
            label_selector: Some("a in (".into()),
            ..Default::default()
        })
        .await
        .unwrap_err(),
    );
    assert_eq!(s.code, Some(400));

    // Pod fields, across all namespaces.
    let pods_default: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pods_sys: Api<Pod> = Api::namespaced(client.clone(), "kube-system");
    for (api, name, node) in [
        (&pods_default, "p1", "n1"),
        (&pods_default, "p2", ""),
        (&pods_sys, "p3", "n1"),
    ] {
        let mut spec = json!({"containers": [{"name": "c", "image": "busybox:1"}]});
        if !node.is_empty() {
            spec["nodeName"] = json!(node);
        }
        let p: Pod =
            serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).unwrap();
        api.create(&PostParams::default(), &p).await.unwrap();
    }
    let all: Api<Pod> = Api::all(client.clone());
    let on_n1 = all
        .list(&ListParams {
            field_selector: Some("spec.nodeName=n1".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(on_n1.items.len(), 2);
    let unscheduled = all
        .list(&ListParams {
            field_selector: Some("spec.nodeName=".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(unscheduled.items.len(), 1);
    let pending = all
        .list(&ListParams {
            field_selector: Some("status.phase=Pending,metadata.namespace=kube-system".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(pending.items.len(), 1);
    assert_eq!(pending.items[0].metadata.name.as_deref(), Some("p3"));
}

async fn next(stream: &mut kube_api::WatchStream) -> WatchEvent<Value> {
    tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("an event in time")
        .expect("stream open")
}

#[tokio::test]
async fn watch_initial_state_resume_and_delete() {
    let (server, client) = setup().await;
    let admin = UserInfo::admin();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    create_n(&cms, 2).await;

    // RV unset: synthetic ADDED for the current state, then changes.
    let mut w = server
        .watch(
            &admin,
            &configmaps(),
            Some("default"),
            &WatchParams::default(),
        )
        .await
        .unwrap();
    assert_eq!(next(&mut w).await.type_, WatchEventType::Added);
    assert_eq!(next(&mut w).await.type_, WatchEventType::Added);
    let created = cms
        .create(&PostParams::default(), &cm("new", &[]))
        .await
        .unwrap();
    let ev = next(&mut w).await;
    assert_eq!(ev.type_, WatchEventType::Added);
    assert_eq!(ev.object["kind"], "ConfigMap");
    assert_eq!(
        ev.object["metadata"]["resourceVersion"],
        json!(created.metadata.resource_version.clone().unwrap())
    );

    // Resume from a resourceVersion: only later events.
    let rv = created.metadata.resource_version.clone().unwrap();
    cms.patch(
        "new",
        &PatchParams::default(),
        Patch::Merge(json!({"data": {"x": "1"}})),
    )
    .await
    .unwrap();
    let out = cms.delete("new", &DeleteParams::default()).await.unwrap();
    let _ = out;
    let mut w2 = server
        .watch(
            &admin,
            &configmaps(),
            Some("default"),
            &WatchParams {
                resource_version: Some(rv),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let m = next(&mut w2).await;
    assert_eq!(m.type_, WatchEventType::Modified);
    assert_eq!(m.object["data"]["x"], "1");
    let d = next(&mut w2).await;
    assert_eq!(d.type_, WatchEventType::Deleted);
    assert_eq!(d.object["data"]["x"], "1", "DELETED carries the last state");
    let del_rv: i64 = d.object["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        del_rv,
        server.store().current_revision().await.unwrap(),
        "with the deletion's resourceVersion"
    );

    // A watch in another namespace sees nothing of this.
    let mut other = server
        .watch(
            &admin,
            &configmaps(),
            Some("kube-system"),
            &WatchParams {
                resource_version: Some("1".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(100), other.next())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn watch_from_compacted_revision_is_410() {
    let (server, client) = setup().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    create_n(&cms, 3).await;
    let current = server.store().current_revision().await.unwrap();
    server.store().compact(current).await.unwrap();
    let mut w = server
        .watch(
            &UserInfo::admin(),
            &configmaps(),
            Some("default"),
            &WatchParams {
                resource_version: Some("2".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let ev = next(&mut w).await;
    assert_eq!(ev.type_, WatchEventType::Error);
    let s: Status = serde_json::from_value(ev.object).unwrap();
    assert_eq!((s.code, s.reason.as_deref()), (Some(410), Some("Expired")));
    assert_eq!(
        s.message,
        Some(format!("too old resource version: 2 ({current})"))
    );
    assert!(w.next().await.is_none(), "the stream ends after the error");

    // Through the typed API the ERROR event is an Err item with the Status.
    let mut typed = cms
        .watch(&WatchParams {
            resource_version: Some("2".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let err = typed.next().await.unwrap().unwrap_err();
    assert!(err.is_gone());
}

#[tokio::test]
async fn watch_selector_transitions() {
    let (server, client) = setup().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    cms.create(&PostParams::default(), &cm("x", &[("app", "web")]))
        .await
        .unwrap();
    let params = WatchParams {
        label_selector: Some("app=web".into()),
        resource_version: Some("0".into()),
        ..Default::default()
    };
    let mut w = server
        .watch(&UserInfo::admin(), &configmaps(), None, &params)
        .await
        .unwrap();
    assert_eq!(next(&mut w).await.type_, WatchEventType::Added);
    // Stops matching: DELETED with the new state.
    cms.patch(
        "x",
        &PatchParams::default(),
        Patch::Merge(json!({"metadata": {"labels": {"app": "db"}}})),
    )
    .await
    .unwrap();
    let ev = next(&mut w).await;
    assert_eq!(ev.type_, WatchEventType::Deleted);
    assert_eq!(ev.object["metadata"]["labels"]["app"], "db");
    // Changes while not matching: nothing. Starts matching: ADDED.
    cms.patch(
        "x",
        &PatchParams::default(),
        Patch::Merge(json!({"data": {"a": "b"}})),
    )
    .await
    .unwrap();
    cms.patch(
        "x",
        &PatchParams::default(),
        Patch::Merge(json!({"metadata": {"labels": {"app": "web"}}})),
    )
    .await
    .unwrap();
    let ev = next(&mut w).await;
    assert_eq!(ev.type_, WatchEventType::Added);
    assert_eq!(ev.object["data"]["a"], "b");
    cms.patch(
        "x",
        &PatchParams::default(),
        Patch::Merge(json!({"data": {"a": "c"}})),
    )
    .await
    .unwrap();
    assert_eq!(next(&mut w).await.type_, WatchEventType::Modified);
    // Field selectors are validated.
    let bad = WatchParams {
        field_selector: Some("spec.x=1".into()),
        ..Default::default()
    };
    let e = server
        .watch(&UserInfo::admin(), &configmaps(), None, &bad)
        .await
        .err()
        .unwrap();
    assert_eq!(e.message(), "field label not supported: spec.x");
}

#[tokio::test(start_paused = true)]
async fn bookmarks_and_timeout_under_paused_time() {
    let (server, client) = setup().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    create_n(&cms, 1).await;
    let rv = server.store().current_revision().await.unwrap();
    let params = WatchParams {
        resource_version: Some(rv.to_string()),
        allow_bookmarks: true,
        timeout_seconds: Some(150),
        ..Default::default()
    };
    let mut w = server
        .watch(&UserInfo::admin(), &configmaps(), Some("default"), &params)
        .await
        .unwrap();
    let start = tokio::time::Instant::now();
    let ev = w.next().await.unwrap();
    assert_eq!(ev.type_, WatchEventType::Bookmark);
    assert_eq!(
        ev.object,
        json!({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"resourceVersion": rv.to_string()}})
    );
    assert_eq!(start.elapsed().as_secs(), 60);
    cms.create(&PostParams::default(), &cm("b", &[]))
        .await
        .unwrap();
    assert_eq!(w.next().await.unwrap().type_, WatchEventType::Added);
    let ev = w.next().await.unwrap();
    assert_eq!(ev.type_, WatchEventType::Bookmark);
    assert_eq!(
        ev.object["metadata"]["resourceVersion"],
        json!((rv + 1).to_string())
    );
    // timeoutSeconds=150 ends the stream.
    assert!(w.next().await.is_none());
    assert_eq!(start.elapsed().as_secs(), 150);
}

#[tokio::test]
async fn send_initial_events_ends_with_a_bookmark() {
    let (server, client) = setup().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    create_n(&cms, 2).await;
    let bad = WatchParams {
        send_initial_events: true,
        ..Default::default()
    };
    let e = server
        .watch(&UserInfo::admin(), &configmaps(), None, &bad)
        .await
        .err()
        .unwrap();
    assert_eq!(e.code(), 422);
    assert_eq!(
        e.message(),
        r#"ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"#
    );
    let bad = WatchParams {
        resource_version_match: Some("NotOlderThan".into()),
        ..Default::default()
    };
    assert_eq!(
        server
            .watch(&UserInfo::admin(), &configmaps(), None, &bad)
            .await
            .err()
            .unwrap()
            .code(),
        422
    );

    let params = WatchParams {
        send_initial_events: true,
        resource_version_match: Some("NotOlderThan".into()),
        resource_version: Some("0".into()),
        allow_bookmarks: true,
        ..Default::default()
    };
    let mut w = cms.watch(&params).await.unwrap();
    assert_eq!(
        w.next().await.unwrap().unwrap().type_,
        WatchEventType::Added
    );
    assert_eq!(
        w.next().await.unwrap().unwrap().type_,
        WatchEventType::Added
    );
    let end = w.next().await.unwrap().unwrap();
    assert_eq!(end.type_, WatchEventType::Bookmark);
    assert_eq!(
        end.object.metadata.annotations.unwrap()["k8s.io/initial-events-end"],
        "true"
    );
    assert_eq!(
        end.object.metadata.resource_version,
        Some(server.store().current_revision().await.unwrap().to_string())
    );
    cms.create(&PostParams::default(), &cm("later", &[]))
        .await
        .unwrap();
    assert_eq!(
        w.next().await.unwrap().unwrap().type_,
        WatchEventType::Added
    );
}

#[tokio::test]
async fn kubelet_style_field_selector_watch_sees_binding() {
    let (server, client) = setup().await;
    let pods_gvr = GroupVersionResource {
        group: String::new(),
        version: "v1".into(),
        resource: "pods".into(),
    };
    let params = WatchParams {
        field_selector: Some("spec.nodeName=n1".into()),
        ..Default::default()
    };
    let mut w = server
        .watch(&UserInfo::admin(), &pods_gvr, None, &params)
        .await
        .unwrap();
    for ns in ["default", "kube-system"] {
        let p: Pod = serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox:1"}]}})).unwrap();
        Api::<Pod>::namespaced(client.clone(), ns)
            .create(&PostParams::default(), &p)
            .await
            .unwrap();
    }
    let binding = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p"}, "target": {"kind": "Node", "name": "n1"}});
    let req = kubox_core::client::Request {
        resource: GroupVersionResource {
            resource: "bindings".into(),
            ..pods_gvr.clone()
        },
        namespace: Some("kube-system".into()),
        name: None,
        subresource: None,
        verb: kubox_core::client::Verb::Create(PostParams::default()),
        body: Some(binding),
    };
    client.call(req).await.unwrap();
    // Only the bound pod shows up, as ADDED (it started matching).
    let ev = next(&mut w).await;
    assert_eq!(ev.type_, WatchEventType::Added);
    assert_eq!(ev.object["metadata"]["namespace"], "kube-system");
    assert_eq!(ev.object["spec"]["nodeName"], "n1");
    // The kubelet finishes a graceful deletion: MODIFIED (deletionTimestamp), then DELETED.
    let pods: Api<Pod> = Api::namespaced(client.clone(), "kube-system");
    pods.delete("p", &DeleteParams::default()).await.unwrap();
    let ev = next(&mut w).await;
    assert_eq!(ev.type_, WatchEventType::Modified);
    assert!(ev.object["metadata"]["deletionTimestamp"].is_string());
    pods.delete(
        "p",
        &DeleteParams {
            grace_period_seconds: Some(0),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(next(&mut w).await.type_, WatchEventType::Deleted);
}
