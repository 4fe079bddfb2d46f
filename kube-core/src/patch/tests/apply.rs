//! Server-side apply: creation, re-apply, changes, conflicts, force, removal, `managedFields`.

use super::yaml;
use crate::patch::apply::{apply, record_update, ApplyError};
use crate::patch::fields;
use crate::patch::schema::{self, TypeSchema};
use crate::Time;
use serde_json::{json, Value};

const T0: i64 = 1_700_000_000;

fn at(offset: i64) -> Time {
    Time::from_unix_seconds(T0 + offset)
}

fn deploy() -> Option<&'static TypeSchema> {
    Some(&schema::DEPLOYMENT)
}

fn web(image: &str, replicas: i64) -> Value {
    let mut v = yaml(
        r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
  labels: {app: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: nginx
        image: IMAGE
        ports: [{containerPort: 80}]
"#,
    );
    v["spec"]["replicas"] = json!(replicas);
    v["spec"]["template"]["spec"]["containers"][0]["image"] = json!(image);
    v
}

fn entries(obj: &Value) -> &Vec<Value> {
    obj["metadata"]["managedFields"]
        .as_array()
        .expect("managedFields")
}

fn entry<'a>(obj: &'a Value, manager: &str) -> &'a Value {
    entries(obj)
        .iter()
        .find(|e| e["manager"] == manager)
        .unwrap_or_else(|| panic!("no entry for {manager} in {obj}"))
}

fn owns(obj: &Value, manager: &str, path: &str) -> bool {
    entries(obj)
        .iter()
        .filter(|e| e["manager"] == manager)
        .any(|e| {
            fields::decode(&e["fieldsV1"])
                .iter()
                .any(|p| fields::Display(p).to_string() == path)
        })
}

#[test]
fn create_via_apply_records_the_field_set() {
    let obj = apply(
        None,
        &web("nginx:1.25", 2),
        "kubectl",
        false,
        deploy(),
        at(0),
    )
    .unwrap();
    let mut want = web("nginx:1.25", 2);
    want["metadata"]["managedFields"] = json!([{
        "manager": "kubectl",
        "operation": "Apply",
        "apiVersion": "apps/v1",
        "time": "2023-11-14T22:13:20Z",
        "fieldsType": "FieldsV1",
        "fieldsV1": {
            "f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {
                "f:replicas": {},
                "f:selector": {},
                "f:template": {
                    "f:metadata": {"f:labels": {"f:app": {}}},
                    "f:spec": {"f:containers": {"k:{\"name\":\"nginx\"}": {
                        ".": {},
                        "f:image": {},
                        "f:name": {},
                        "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {
                            ".": {},
                            "f:containerPort": {}
                        }}
                    }}}
                }
            }
        }
    }]);
    assert_eq!(obj, want);
    // The trie is written in structured-merge-diff's order: `.` first, then fields sorted.
    let item = &obj["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"]["f:template"]["f:spec"]
        ["f:containers"]["k:{\"name\":\"nginx\"}"];
    let keys: Vec<&String> = item.as_object().unwrap().keys().collect();
    assert_eq!(keys, [".", "f:image", "f:name", "f:ports"]);
}

#[test]
fn reapplying_the_same_configuration_changes_nothing() {
    let obj = apply(
        None,
        &web("nginx:1.25", 2),
        "kubectl",
        false,
        deploy(),
        at(0),
    )
    .unwrap();
    let again = apply(
        Some(&obj),
        &web("nginx:1.25", 2),
        "kubectl",
        false,
        deploy(),
        at(60),
    )
    .unwrap();
    assert_eq!(again, obj);
    assert_eq!(entry(&again, "kubectl")["time"], "2023-11-14T22:13:20Z");
}

#[test]
fn changing_a_field_updates_it_and_the_entry_time() {
    let obj = apply(
        None,
        &web("nginx:1.25", 2),
        "kubectl",
        false,
        deploy(),
        at(0),
    )
    .unwrap();
    let changed = apply(
        Some(&obj),
        &web("nginx:1.26", 2),
        "kubectl",
        false,
        deploy(),
        at(60),
    )
    .unwrap();
    assert_eq!(
        changed["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.26"
    );
    assert_eq!(entry(&changed, "kubectl")["time"], "2023-11-14T22:14:20Z");
    assert_eq!(entries(&changed).len(), 1);
    assert_eq!(
        entry(&changed, "kubectl")["fieldsV1"],
        entry(&obj, "kubectl")["fieldsV1"]
    );
}

#[test]
fn live_fields_set_by_others_are_kept() {
    // The API server added defaults and status; the applier doesn't own them and keeps them.
    let mut live = apply(
        None,
        &web("nginx:1.25", 2),
        "kubectl",
        false,
        deploy(),
        at(0),
    )
    .unwrap();
    live["metadata"]["uid"] = json!("u-1");
    live["spec"]["strategy"] = json!({"type": "RollingUpdate"});
    live["status"] = json!({"replicas": 2});
    let obj = apply(
        Some(&live),
        &web("nginx:1.26", 2),
        "kubectl",
        false,
        deploy(),
        at(60),
    )
    .unwrap();
    assert_eq!(obj["metadata"]["uid"], "u-1");
    assert_eq!(obj["spec"]["strategy"], json!({"type": "RollingUpdate"}));
    assert_eq!(obj["status"], json!({"replicas": 2}));
}

#[test]
fn two_appliers_conflict_until_forced() {
    let obj = apply(None, &web("nginx:1.25", 2), "alice", false, deploy(), at(0)).unwrap();
    let bob = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 3}});

    let err = apply(Some(&obj), &bob, "bob", false, deploy(), at(10)).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"Apply failed with 1 conflict: conflict with "alice": .spec.replicas"#
    );
    assert_eq!((err.code(), err.reason()), (409, "Conflict"));
    assert!(!err.is_retryable());
    let causes = serde_json::to_value(err.causes()).unwrap();
    assert_eq!(
        causes,
        json!([{"reason": "FieldManagerConflict", "message": "conflict with \"alice\"", "field": ".spec.replicas"}])
    );

    // Applying the value alice already set is no conflict: both own it.
    let shared = apply(Some(&obj), &json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 2}}), "bob", false, deploy(), at(10)).unwrap();
    assert!(owns(&shared, "alice", ".spec.replicas") && owns(&shared, "bob", ".spec.replicas"));

    // force takes the field.
    let forced = apply(Some(&obj), &bob, "bob", true, deploy(), at(10)).unwrap();
    assert_eq!(forced["spec"]["replicas"], 3);
    assert!(owns(&forced, "bob", ".spec.replicas"));
    assert!(!owns(&forced, "alice", ".spec.replicas"));
    assert!(owns(
        &forced,
        "alice",
        ".spec.template.spec.containers[name=\"nginx\"].image"
    ));

    // Now alice conflicts with bob.
    let err = apply(
        Some(&forced),
        &web("nginx:1.25", 2),
        "alice",
        false,
        deploy(),
        at(20),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"Apply failed with 1 conflict: conflict with "bob": .spec.replicas"#
    );
    // ...and leaving replicas out of her configuration releases it without removing it.
    let mut without = web("nginx:1.25", 2);
    without["spec"]
        .as_object_mut()
        .unwrap()
        .shift_remove("replicas");
    let obj = apply(Some(&forced), &without, "alice", false, deploy(), at(20)).unwrap();
    assert_eq!(obj["spec"]["replicas"], 3);
}

#[test]
fn update_managers_are_named_with_their_api_version() {
    let obj = apply(
        None,
        &web("nginx:1.25", 2),
        "kubectl",
        false,
        deploy(),
        at(0),
    )
    .unwrap();
    let mut edited = obj.clone();
    edited["spec"]["replicas"] = json!(4);
    edited["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:edited");
    let edited = record_update(
        Some(&obj),
        &edited,
        "kubectl-edit",
        "Update",
        "apps/v1",
        deploy(),
        at(5),
    );
    let e = entry(&edited, "kubectl-edit");
    assert_eq!(
        (&e["operation"], &e["apiVersion"]),
        (&json!("Update"), &json!("apps/v1"))
    );
    // The Apply entry comes first (entries sort by operation).
    assert_eq!(entries(&edited)[0]["manager"], "kubectl");

    let err = apply(
        Some(&edited),
        &web("nginx:1.25", 2),
        "kubectl",
        false,
        deploy(),
        at(10),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Apply failed with 2 conflicts: conflicts with \"kubectl-edit\" using apps/v1:\n\
         - .spec.replicas\n\
         - .spec.template.spec.containers[name=\"nginx\"].image"
    );
    let ApplyError::Conflict { conflicts, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(conflicts.len(), 2);
    assert_eq!(
        conflicts[0].cause().message.as_deref(),
        Some("conflict with \"kubectl-edit\" using apps/v1")
    );

    let forced = apply(
        Some(&edited),
        &web("nginx:1.25", 2),
        "kubectl",
        true,
        deploy(),
        at(10),
    )
    .unwrap();
    assert_eq!(forced["spec"]["replicas"], 2);
    // kubectl-edit owned nothing else, so its entry is gone.
    assert!(entries(&forced)
        .iter()
        .all(|e| e["manager"] != "kubectl-edit"));
}

#[test]
fn conflicts_with_several_managers_are_grouped() {
    let base = apply(None, &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}}), "m1", false, Some(&schema::METADATA_ONLY), at(0)).unwrap();
    let base = apply(Some(&base), &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"b": "1"}}), "m2", false, Some(&schema::METADATA_ONLY), at(1)).unwrap();
    let err = apply(Some(&base), &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "2", "b": "2"}}), "m3", false, Some(&schema::METADATA_ONLY), at(2)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Apply failed with 2 conflicts: conflicts with \"m1\":\n- .data.a\nconflicts with \"m2\":\n- .data.b"
    );
}

#[test]
fn fields_left_out_are_removed_unless_someone_else_owns_them() {
    let cfg = |labels: Value, env: Value| {
        let mut v = web("nginx:1.25", 2);
        v["metadata"]["labels"] = labels;
        v["spec"]["template"]["spec"]["containers"][0]["env"] = env;
        v
    };
    let obj = apply(
        None,
        &cfg(
            json!({"app": "web", "tier": "fe"}),
            json!([{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}]),
        ),
        "kubectl",
        false,
        deploy(),
        at(0),
    )
    .unwrap();

    // Another applier shares `tier`.
    let other = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"tier": "fe"}}});
    let shared = apply(Some(&obj), &other, "labeler", false, deploy(), at(1)).unwrap();

    let obj2 = apply(
        Some(&shared),
        &cfg(json!({"app": "web"}), json!([{"name": "X", "value": "1"}])),
        "kubectl",
        false,
        deploy(),
        at(2),
    )
    .unwrap();
    assert_eq!(
        obj2["metadata"]["labels"],
        json!({"app": "web", "tier": "fe"}),
        "tier is still owned by labeler"
    );
    assert_eq!(
        obj2["spec"]["template"]["spec"]["containers"][0]["env"],
        json!([{"name": "X", "value": "1"}])
    );
    assert!(!owns(&obj2, "kubectl", ".metadata.labels.tier"));
    assert!(owns(&obj2, "labeler", ".metadata.labels.tier"));

    // Without the other owner the label goes.
    let obj3 = apply(
        Some(&obj),
        &cfg(json!({"app": "web"}), json!([{"name": "X", "value": "1"}])),
        "kubectl",
        false,
        deploy(),
        at(2),
    )
    .unwrap();
    assert_eq!(obj3["metadata"]["labels"], json!({"app": "web"}));

    // Dropping every env var removes the (now empty, unowned) list too.
    let mut no_env = cfg(json!({"app": "web"}), json!(null));
    no_env["spec"]["template"]["spec"]["containers"][0]
        .as_object_mut()
        .unwrap()
        .shift_remove("env");
    let obj4 = apply(Some(&obj3), &no_env, "kubectl", false, deploy(), at(3)).unwrap();
    assert!(
        obj4["spec"]["template"]["spec"]["containers"][0]
            .get("env")
            .is_none(),
        "{obj4}"
    );

    // Dropping a whole container removes it with its fields.
    let mut two = web("nginx:1.25", 2);
    two["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "sidecar", "image": "busybox"}));
    let with_sidecar = apply(Some(&obj4), &two, "kubectl", false, deploy(), at(4)).unwrap();
    assert_eq!(
        with_sidecar["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let back = apply(
        Some(&with_sidecar),
        &web("nginx:1.25", 2),
        "kubectl",
        false,
        deploy(),
        at(5),
    )
    .unwrap();
    let containers = back["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    assert_eq!(containers.len(), 1);
    assert_eq!(containers[0]["name"], "nginx");
}

#[test]
fn list_types_merge_per_schema() {
    let pod = |containers: Value, tolerations: Value, finalizers: Value| {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "finalizers": finalizers},
            "spec": {"containers": containers, "tolerations": tolerations}
        })
    };
    let pods = Some(&schema::POD);
    let a = apply(
        None,
        &pod(
            json!([{"name": "app", "image": "a"}]),
            json!([{"key": "k1", "operator": "Exists"}]),
            json!(["a/x"]),
        ),
        "alice",
        false,
        pods,
        at(0),
    )
    .unwrap();
    // bob adds a container and a finalizer: list-map items and set items merge.
    let b = apply(Some(&a), &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "finalizers": ["b/y"]}, "spec": {"containers": [{"name": "side", "image": "s"}]}}), "bob", false, pods, at(1)).unwrap();
    assert_eq!(b["metadata"]["finalizers"], json!(["a/x", "b/y"]));
    assert_eq!(
        b["spec"]["containers"],
        json!([{"name": "app", "image": "a"}, {"name": "side", "image": "s"}])
    );
    assert!(owns(&b, "bob", ".metadata.finalizers[=\"b/y\"]"));
    assert!(owns(&b, "bob", ".spec.containers[name=\"side\"]"));
    // alice re-applies with different tolerations: the atomic list is replaced whole.
    let c = apply(
        Some(&b),
        &pod(
            json!([{"name": "app", "image": "a"}]),
            json!([{"key": "k2", "operator": "Exists"}]),
            json!(["a/x"]),
        ),
        "alice",
        false,
        pods,
        at(2),
    )
    .unwrap();
    assert_eq!(
        c["spec"]["tolerations"],
        json!([{"key": "k2", "operator": "Exists"}])
    );
    assert_eq!(
        c["spec"]["containers"].as_array().unwrap().len(),
        2,
        "bob's container stays"
    );
    assert!(owns(&c, "alice", ".spec.tolerations"));
    // bob changing alice's container image conflicts on that field only.
    let err = apply(Some(&c), &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "app", "image": "b"}]}}), "bob", false, pods, at(3)).unwrap_err();
    assert_eq!(err.to_string(), "Apply failed with 1 conflict: conflict with \"alice\": .spec.containers[name=\"app\"].image");
}

#[test]
fn custom_resources_apply_without_a_schema() {
    let cr = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"sizes": [1, 2], "color": "red"}});
    let obj = apply(None, &cr, "kubectl", false, None, at(0)).unwrap();
    assert_eq!(
        entry(&obj, "kubectl")["fieldsV1"],
        json!({"f:spec": {"f:color": {}, "f:sizes": {}}})
    );
    let cr2 = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"sizes": [3]}});
    let obj2 = apply(Some(&obj), &cr2, "kubectl", false, None, at(1)).unwrap();
    assert_eq!(obj2["spec"], json!({"sizes": [3]}));
}

#[test]
fn bad_configurations_are_rejected() {
    let live = web("nginx", 1);
    for (config, msg) in [
        (json!([1]), "must be an object"),
        (json!({"kind": "Deployment"}), "apiVersion and kind"),
        (
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"managedFields": []}}),
            "managedFields must be nil",
        ),
        (
            json!({"apiVersion": "v1", "kind": "Pod"}),
            "is a Pod, the object is a Deployment",
        ),
        (
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}}),
            ".spec.template.spec.containers: element 0: associative list with keys has an element that omits key field \"name\"",
        ),
        (
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"template": {"spec": {"containers": [{"name": "a"}, {"name": "a"}]}}}}),
            ".spec.template.spec.containers[name=\"a\"]: duplicate entries for key",
        ),
        (
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"finalizers": ["x", "x"]}}),
            ".metadata.finalizers: duplicate entries for value \"x\"",
        ),
    ] {
        let err = apply(Some(&live), &config, "m", false, deploy(), at(0)).unwrap_err();
        assert_eq!((err.code(), err.reason()), (400, "BadRequest"));
        assert!(err.to_string().contains(msg), "{err}");
    }
}

#[test]
fn record_update_tracks_creates_and_updates() {
    let created = record_update(
        None,
        &web("nginx:1.25", 2),
        "kubectl-create",
        "Update",
        "apps/v1",
        deploy(),
        at(0),
    );
    let e = entry(&created, "kubectl-create");
    assert_eq!(e["operation"], "Update");
    assert!(owns(&created, "kubectl-create", ".spec.replicas"));
    assert!(owns(&created, "kubectl-create", ".spec.template.spec.containers[name=\"nginx\"].ports[containerPort=80,protocol=\"TCP\"].containerPort"));

    // An update that changes nothing leaves managedFields alone.
    let same = record_update(
        Some(&created),
        &created,
        "other",
        "Update",
        "apps/v1",
        deploy(),
        at(9),
    );
    assert_eq!(same, created);

    // Scaling moves replicas to the scaler; removing a label drops it from every entry.
    let mut scaled = created.clone();
    scaled["spec"]["replicas"] = json!(7);
    scaled["metadata"]["labels"] = json!({});
    let scaled = record_update(
        Some(&created),
        &scaled,
        "hpa",
        "Update",
        "apps/v1",
        deploy(),
        at(5),
    );
    assert!(owns(&scaled, "hpa", ".spec.replicas"));
    assert!(!owns(&scaled, "kubectl-create", ".spec.replicas"));
    assert!(!owns(&scaled, "kubectl-create", ".metadata.labels.app"));
    assert_eq!(entries(&scaled).len(), 2);
    assert_eq!(entry(&scaled, "hpa")["time"], "2023-11-14T22:13:25Z");
}

#[test]
fn fields_v1_round_trips() {
    // A kubelet-style status entry, as Kubernetes writes it.
    let fields_v1 = json!({
        "f:status": {
            "f:conditions": {
                "k:{\"type\":\"Ready\"}": {".": {}, "f:status": {}, "f:type": {}}
            },
            "f:podIPs": {".": {}, "k:{\"ip\":\"10.0.0.5\"}": {".": {}, "f:ip": {}}}
        },
        "f:metadata": {"f:finalizers": {".": {}, "v:\"x/y\"": {}}}
    });
    let set = fields::decode(&fields_v1);
    assert_eq!(set.len(), 8);
    let back = fields::encode(&set);
    assert_eq!(back, fields_v1);
    let paths: Vec<String> = set.iter().map(|p| fields::Display(p).to_string()).collect();
    assert!(
        paths.contains(&".status.conditions[type=\"Ready\"].status".to_string()),
        "{paths:?}"
    );
    assert!(
        paths.contains(&".metadata.finalizers[=\"x/y\"]".to_string()),
        "{paths:?}"
    );
}

#[test]
fn service_ports_are_keyed_by_port_and_protocol() {
    let svc = |ports: Value| json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "dns"}, "spec": {"selector": {"app": "dns"}, "ports": ports}});
    let services = Some(&schema::SERVICE);
    // 53/UDP and 53/TCP are two items for server-side apply (a missing protocol means TCP).
    let obj = apply(
        None,
        &svc(json!([{"name": "dns", "port": 53, "protocol": "UDP"}, {"name": "dns-tcp", "port": 53}])),
        "kubectl",
        false,
        services,
        at(0),
    )
    .unwrap();
    assert!(owns(
        &obj,
        "kubectl",
        ".spec.ports[port=53,protocol=\"UDP\"].name"
    ));
    assert!(owns(
        &obj,
        "kubectl",
        ".spec.ports[port=53,protocol=\"TCP\"].name"
    ));
    assert!(
        owns(&obj, "kubectl", ".spec.selector"),
        "the selector map is atomic"
    );
    // Dropping the TCP port removes exactly that item.
    let obj = apply(
        Some(&obj),
        &svc(json!([{"name": "dns", "port": 53, "protocol": "UDP"}])),
        "kubectl",
        false,
        services,
        at(1),
    )
    .unwrap();
    assert_eq!(
        obj["spec"]["ports"],
        json!([{"name": "dns", "port": 53, "protocol": "UDP"}])
    );
    // A strategic merge patch merges ports by `port` alone (Kubernetes' long-standing
    // behaviour), so the same body would have merged both into one item there.
    let smp = crate::patch::strategic_merge_patch_for(
        &obj,
        &json!({"spec": {"ports": [{"name": "dns-tcp", "port": 53, "protocol": "TCP"}]}}),
    )
    .unwrap();
    assert_eq!(smp["spec"]["ports"].as_array().unwrap().len(), 1);
}
