//! Table tests: each case builds an object (defaulted, as the API server validates it), runs
//! the kind's create or update rules and compares the exact messages.

use super::field::{BadValue, Error, ErrorList, Path};
use super::*;
use crate::defaults::SetDefaults;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS1035_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const NAME_PART_MSG: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const CM_KEY_MSG: &str = "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";
const PERCENT_MSG: &str = "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')";

/// Decodes `v` as `T` and defaults it.
fn defaulted<T: SetDefaults + DeserializeOwned>(v: Value) -> T {
    let mut obj: T = serde_json::from_value(v).expect("test object decodes");
    obj.set_defaults();
    obj
}

/// Applies `f` to a clone of `base`.
fn with(base: &Value, f: impl FnOnce(&mut Value)) -> Value {
    let mut v = base.clone();
    f(&mut v);
    v
}

fn pod_json() -> Value {
    json!({"metadata": {"name": "web", "namespace": "default", "resourceVersion": "1"},
           "spec": {"containers": [{"name": "app", "image": "nginx:1.25"}]}})
}

fn service_json() -> Value {
    json!({"metadata": {"name": "web", "namespace": "default", "resourceVersion": "1"},
           "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})
}

fn deployment_json() -> Value {
    json!({"metadata": {"name": "web", "namespace": "default", "resourceVersion": "1"},
           "spec": {"selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}},
                                 "spec": {"containers": [{"name": "app", "image": "nginx:1.25"}]}}}})
}

fn create<T: Validate + SetDefaults + DeserializeOwned>(v: Value) -> ErrorList {
    defaulted::<T>(v).validate_create()
}

fn update<T: Validate + SetDefaults + DeserializeOwned>(new: Value, old: Value) -> ErrorList {
    defaulted::<T>(new).validate_update(&defaulted::<T>(old))
}

fn check(cases: Vec<(&str, ErrorList, Vec<&str>)>) {
    let mut failures = Vec::new();
    for (name, errs, want) in &cases {
        let got = errs.messages();
        if got != *want {
            failures.push(format!("{name}:\n  got:  {got:#?}\n  want: {want:#?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn field_errors_print_like_kubernetes() {
    let p = Path::new("spec").child("containers").index(0);
    let cases: Vec<(Error, &str)> = vec![
        (
            Error::required(&p.child("image"), ""),
            "spec.containers[0].image: Required value",
        ),
        (
            Error::required(&p, "must specify a handler type"),
            "spec.containers[0]: Required value: must specify a handler type",
        ),
        (
            Error::invalid(&Path::new("metadata").child("name"), "Bad_Name", "bad"),
            "metadata.name: Invalid value: \"Bad_Name\": bad",
        ),
        (
            Error::invalid(
                &p.child("ports").index(1).child("containerPort"),
                70000,
                "too big",
            ),
            "spec.containers[0].ports[1].containerPort: Invalid value: 70000: too big",
        ),
        (
            Error::invalid(&Path::new("x"), "a\"b\nc\u{1}", "q"),
            "x: Invalid value: \"a\\\"b\\nc\\x01\": q",
        ),
        (
            Error::invalid(&Path::new("x"), BadValue::Null, "n"),
            "x: Invalid value: null: n",
        ),
        (
            Error::invalid(&Path::new("x"), true, "b"),
            "x: Invalid value: true: b",
        ),
        (
            Error::invalid(&Path::new("x"), BadValue::json(&json!({"app": "web"})), "m"),
            "x: Invalid value: {\"app\":\"web\"}: m",
        ),
        (
            Error::invalid(&Path::new("x"), &crate::IntOrString::from("25%"), "p"),
            "x: Invalid value: 25%: p",
        ),
        (
            Error::not_supported(&Path::new("spec").child("type"), "Foo", &["A", "B"]),
            "spec.type: Unsupported value: \"Foo\": supported values: \"A\", \"B\"",
        ),
        (
            Error::not_supported(&Path::new("x"), "Foo", &[]),
            "x: Unsupported value: \"Foo\"",
        ),
        (
            Error::forbidden(&Path::new("spec"), "no"),
            "spec: Forbidden: no",
        ),
        (
            Error::duplicate(&Path::new("x").index(1), "a"),
            "x[1]: Duplicate value: \"a\"",
        ),
        (
            Error::not_found(&Path::new("x"), "a"),
            "x: Not found: \"a\"",
        ),
        (
            Error::too_long(&Path::new("metadata").child("annotations"), 262144),
            "metadata.annotations: Too long: must have at most 262144 bytes",
        ),
        (
            Error::too_long(&Path::new(""), 10),
            ": Too long: must have at most 10 bytes",
        ),
        (
            Error::too_many(&Path::new("endpoints"), 1001, 1000),
            "endpoints: Too many: 1001: must have at most 1000 items",
        ),
        (
            Error::internal(&Path::new("x"), "boom"),
            "x: Internal error: boom",
        ),
        (
            Error::invalid(
                &Path::new("metadata")
                    .child("labels")
                    .key("app.kubernetes.io/name"),
                "",
                "k",
            ),
            "metadata.labels[app.kubernetes.io/name]: Invalid value: \"\": k",
        ),
    ];
    for (err, want) in cases {
        assert_eq!(err.to_string(), want);
    }
}

#[test]
fn invalid_status_matches_kubernetes() {
    let mut errs = ErrorList::new();
    errs.push(Error::required(
        &Path::new("spec")
            .child("containers")
            .index(0)
            .child("image"),
        "",
    ));
    let status = errs.to_status("", "Pod", "x");
    assert_eq!(
        serde_json::to_value(&status).unwrap(),
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": "Pod \"x\" is invalid: spec.containers[0].image: Required value",
               "reason": "Invalid", "code": 422,
               "details": {"name": "x", "kind": "Pod", "causes": [
                   {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.containers[0].image"}]}})
    );
    errs.push(Error::invalid(
        &Path::new("spec").child("replicas"),
        -1,
        "must be greater than or equal to 0",
    ));
    errs.push(Error::invalid(
        &Path::new("spec").child("replicas"),
        -1,
        "must be greater than or equal to 0",
    ));
    let status = errs.to_status("apps", "Deployment", "web");
    assert_eq!(
        status.message.as_deref(),
        Some("Deployment.apps \"web\" is invalid: [spec.containers[0].image: Required value, spec.replicas: Invalid value: -1: must be greater than or equal to 0]")
    );
    let details = status.details.unwrap();
    assert_eq!(details.group.as_deref(), Some("apps"));
    assert_eq!(details.kind.as_deref(), Some("Deployment"));
    let causes = details.causes.unwrap();
    assert_eq!(causes.len(), 3);
    assert_eq!(causes[1].reason.as_deref(), Some("FieldValueInvalid"));
    assert_eq!(
        causes[1].message.as_deref(),
        Some("Invalid value: -1: must be greater than or equal to 0")
    );
    assert_eq!(
        ErrorList::new()
            .to_status("", "Pod", "x")
            .message
            .as_deref(),
        Some("Pod \"x\" is invalid")
    );
}

#[test]
fn object_meta() {
    let pod = pod_json();
    let big = "x".repeat(262_144);
    check(vec![
        ("valid pod", create::<core_v1::Pod>(pod.clone()), vec![]),
        ("bad name", create::<core_v1::Pod>(with(&pod, |v| v["metadata"]["name"] = json!("Bad_Name"))),
         vec![&*format!("metadata.name: Invalid value: \"Bad_Name\": {SUBDOMAIN_MSG}")]),
        ("no name", create::<core_v1::Pod>(with(&pod, |v| { v["metadata"].as_object_mut().unwrap().remove("name"); })),
         vec!["metadata.name: Required value: name or generateName is required"]),
        ("generateName masked", create::<core_v1::Pod>(with(&pod, |v| { v["metadata"]["generateName"] = json!("web-"); v["metadata"]["name"] = json!("web-x7b2k"); })), vec![]),
        ("bad generateName", create::<core_v1::Pod>(with(&pod, |v| { v["metadata"]["generateName"] = json!("Web-"); v["metadata"]["name"] = json!("web-x7b2k"); })),
         vec![&*format!("metadata.generateName: Invalid value: \"Web-\": {SUBDOMAIN_MSG}")]),
        ("no namespace", create::<core_v1::Pod>(with(&pod, |v| { v["metadata"].as_object_mut().unwrap().remove("namespace"); })),
         vec!["metadata.namespace: Required value"]),
        ("bad label key", create::<core_v1::Pod>(with(&pod, |v| v["metadata"]["labels"] = json!({"bad key": "x"}))),
         vec![&*format!("metadata.labels: Invalid value: \"bad key\": {NAME_PART_MSG}")]),
        ("bad label value", create::<core_v1::Pod>(with(&pod, |v| v["metadata"]["labels"] = json!({"app": "-x"}))),
         vec![&*format!("metadata.labels: Invalid value: \"-x\": {LABEL_VALUE_MSG}")]),
        ("label key prefix", create::<core_v1::Pod>(with(&pod, |v| v["metadata"]["labels"] = json!({"Example.com/app": "x"}))),
         vec![&*format!("metadata.labels: Invalid value: \"Example.com/app\": prefix part {SUBDOMAIN_MSG}")]),
        ("annotation key is lowercased", create::<core_v1::Pod>(with(&pod, |v| v["metadata"]["annotations"] = json!({"Example.com/Note": "x"}))), vec![]),
        ("annotations too big", create::<core_v1::Pod>(with(&pod, |v| v["metadata"]["annotations"] = json!({"a": big}))),
         vec!["metadata.annotations: Too long: must have at most 262144 bytes"]),
        ("non-standard finalizer", create::<core_v1::Pod>(with(&pod, |v| v["metadata"]["finalizers"] = json!(["foo"]))),
         vec!["metadata.finalizers[0]: Invalid value: \"foo\": name is neither a standard finalizer name nor is it fully qualified"]),
        ("orphan and foreground", create::<core_v1::Pod>(with(&pod, |v| v["metadata"]["finalizers"] = json!(["orphan", "foregroundDeletion"]))),
         vec!["metadata.finalizers: Invalid value: [\"orphan\",\"foregroundDeletion\"]: finalizer orphan and foregroundDeletion cannot be both set"]),
        ("negative generation", create::<core_v1::Pod>(with(&pod, |v| v["metadata"]["generation"] = json!(-1))),
         vec!["metadata.generation: Invalid value: -1: must be greater than or equal to 0"]),
        ("two controllers", create::<core_v1::Pod>(with(&pod, |v| v["metadata"]["ownerReferences"] = json!([
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "a", "uid": "1", "controller": true},
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "b", "uid": "2", "controller": true}]))),
         vec!["metadata.ownerReferences: Invalid value: [{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\",\"name\":\"a\",\"uid\":\"1\",\"controller\":true},{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\",\"name\":\"b\",\"uid\":\"2\",\"controller\":true}]: Only one reference can have Controller set to true. Found \"true\" in references for ReplicaSet/a and ReplicaSet/b"]),
        ("namespace on a cluster-scoped kind", create::<core_v1::Namespace>(json!({"metadata": {"name": "team", "namespace": "default"}})),
         vec!["metadata.namespace: Forbidden: not allowed on this type"]),
        ("namespace name is a DNS label", create::<core_v1::Namespace>(json!({"metadata": {"name": "team.a"}})),
         vec![&*format!("metadata.name: Invalid value: \"team.a\": {LABEL_MSG}")]),
        ("service name is a DNS-1035 label", create::<core_v1::Service>(with(&service_json(), |v| v["metadata"]["name"] = json!("1web"))),
         vec![&*format!("metadata.name: Invalid value: \"1web\": {DNS1035_MSG}")]),
        ("too long name", create::<core_v1::Pod>(with(&pod, |v| v["metadata"]["name"] = json!("a".repeat(254)))),
         vec![&*format!("metadata.name: Invalid value: \"{}\": must be no more than 253 characters", "a".repeat(254))]),
    ]);
}

#[test]
fn object_meta_update() {
    let pod = pod_json();
    let old = with(&pod, |v| {
        v["metadata"]["uid"] = json!("u1");
        v["metadata"]["creationTimestamp"] = json!("2024-01-01T00:00:00Z");
    });
    check(vec![
        ("image change", update::<core_v1::Pod>(with(&old, |v| v["spec"]["containers"][0]["image"] = json!("nginx:1.26")), old.clone()), vec![]),
        ("rename", update::<core_v1::Pod>(with(&old, |v| v["metadata"]["name"] = json!("other")), old.clone()),
         vec!["metadata.name: Invalid value: \"other\": field is immutable"]),
        ("move", update::<core_v1::Pod>(with(&old, |v| v["metadata"]["namespace"] = json!("prod")), old.clone()),
         vec!["metadata.namespace: Invalid value: \"prod\": field is immutable"]),
        ("uid", update::<core_v1::Pod>(with(&old, |v| v["metadata"]["uid"] = json!("u2")), old.clone()),
         vec!["metadata.uid: Invalid value: \"u2\": field is immutable"]),
        ("creationTimestamp", update::<core_v1::Pod>(with(&old, |v| v["metadata"]["creationTimestamp"] = json!("2025-01-01T00:00:00Z")), old.clone()),
         vec!["metadata.creationTimestamp: Invalid value: 2025-01-01 00:00:00 +0000 UTC: field is immutable"]),
        ("no resourceVersion", update::<core_v1::Pod>(with(&old, |v| { v["metadata"].as_object_mut().unwrap().remove("resourceVersion"); }), old.clone()),
         vec!["metadata.resourceVersion: Invalid value: \"\": must be specified for an update"]),
        ("generation decremented", update::<core_v1::Pod>(with(&old, |v| v["metadata"]["generation"] = json!(1)), with(&old, |v| v["metadata"]["generation"] = json!(2))),
         vec!["metadata.generation: Invalid value: 1: must not be decremented"]),
        ("new finalizer while deleting", update::<core_v1::Pod>(
            with(&old, |v| { v["metadata"]["deletionTimestamp"] = json!("2025-01-01T00:00:00Z"); v["metadata"]["finalizers"] = json!(["example.com/x"]); }),
            with(&old, |v| v["metadata"]["deletionTimestamp"] = json!("2025-01-01T00:00:00Z"))),
         vec!["metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{\"example.com/x\"}"]),
    ]);
}

#[test]
fn pods() {
    let pod = pod_json();
    let undefaulted: core_v1::Pod = serde_json::from_value(pod.clone()).unwrap();
    let mut pod_with_limits = defaulted::<core_v1::Pod>(pod.clone());
    {
        let c = &mut pod_with_limits.spec.as_mut().unwrap().containers[0];
        c.resources = Some(core_v1::ResourceRequirements {
            limits: Some(
                [
                    ("cpu".to_string(), "1".parse().unwrap()),
                    ("memory".to_string(), "-1".parse().unwrap()),
                ]
                .into(),
            ),
            requests: Some([("cpu".to_string(), "2".parse().unwrap())].into()),
            claims: None,
        });
    }
    check(vec![
        ("not defaulted", undefaulted.validate_create(), vec![
            "spec.terminationGracePeriodSeconds: Required value",
            "spec.containers[0].terminationMessagePolicy: Required value",
            "spec.containers[0].imagePullPolicy: Required value",
            "spec.restartPolicy: Required value",
            "spec.dnsPolicy: Required value",
        ]),
        ("no containers", create::<core_v1::Pod>(with(&pod, |v| v["spec"]["containers"] = json!([]))), vec!["spec.containers: Required value"]),
        ("no image", create::<core_v1::Pod>(with(&pod, |v| { v["spec"]["containers"][0].as_object_mut().unwrap().remove("image"); })),
         vec!["spec.containers[0].image: Required value"]),
        ("image whitespace", create::<core_v1::Pod>(with(&pod, |v| v["spec"]["containers"][0]["image"] = json!(" nginx"))),
         vec!["spec.containers[0].image: Invalid value: \" nginx\": must not have leading or trailing whitespace"]),
        ("container name", create::<core_v1::Pod>(with(&pod, |v| v["spec"]["containers"][0]["name"] = json!("App"))),
         vec![&*format!("spec.containers[0].name: Invalid value: \"App\": {LABEL_MSG}")]),
        ("duplicate container", create::<core_v1::Pod>(with(&pod, |v| v["spec"]["containers"] = json!([{"name": "app", "image": "a"}, {"name": "app", "image": "b"}]))),
         vec!["spec.containers[1].name: Duplicate value: \"app\""]),
        ("init and app container names collide", create::<core_v1::Pod>(with(&pod, |v| v["spec"]["initContainers"] = json!([{"name": "app", "image": "a"}]))),
         vec!["spec.initContainers[0].name: Duplicate value: \"app\""]),
        ("ports", create::<core_v1::Pod>(with(&pod, |v| v["spec"]["containers"][0]["ports"] = json!([
            {"containerPort": 70000}, {"containerPort": 80, "protocol": "HTTP", "name": "HTTP"}, {"containerPort": 0, "hostPort": 8080}, {"containerPort": 81, "hostPort": 8080}]))),
         vec![
            "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
            "spec.containers[0].ports[1].name: Invalid value: \"HTTP\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
            "spec.containers[0].ports[1].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
            "spec.containers[0].ports[2].containerPort: Required value",
            "spec.containers[0].ports[3].hostPort: Duplicate value: \"TCP//8080\"",
         ]),
        ("resources", pod_with_limits.validate_create(), vec![
            "spec.containers[0].resources.limits[memory]: Invalid value: \"-1\": must be greater than or equal to 0",
            "spec.containers[0].resources.requests: Invalid value: \"2\": must be less than or equal to cpu limit of 1",
         ]),
        ("resource names", create::<core_v1::Pod>(with(&pod, |v| v["spec"]["containers"][0]["resources"] = json!({"limits": {"gpu": "1", "example.com/dongle": "1500m"}}))),
         vec![
            "spec.containers[0].resources.limits[example.com/dongle]: Invalid value: 1500m: must be an integer",
            "spec.containers[0].resources.limits[gpu]: Invalid value: \"gpu\": must be a standard resource type or fully qualified",
            "spec.containers[0].resources.limits[gpu]: Invalid value: \"gpu\": must be a standard resource for containers",
            "spec.containers[0].resources.requests[example.com/dongle]: Invalid value: 1500m: must be an integer",
            "spec.containers[0].resources.requests[gpu]: Invalid value: \"gpu\": must be a standard resource type or fully qualified",
            "spec.containers[0].resources.requests[gpu]: Invalid value: \"gpu\": must be a standard resource for containers",
         ]),
        ("extended resource request without limit", {
            let mut p = defaulted::<core_v1::Pod>(pod.clone());
            p.spec.as_mut().unwrap().containers[0].resources = Some(core_v1::ResourceRequirements {
                requests: Some([("example.com/dongle".to_string(), "1".parse().unwrap())].into()), ..Default::default() });
            p.validate_create()
         }, vec!["spec.containers[0].resources.limits: Required value: Limit must be set for non overcommitable resources"]),
        ("restartPolicy", create::<core_v1::Pod>(with(&pod, |v| v["spec"]["restartPolicy"] = json!("Sometimes"))),
         vec!["spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\""]),
        ("dnsPolicy", create::<core_v1::Pod>(with(&pod, |v| v["spec"]["dnsPolicy"] = json!("Foo"))),
         vec!["spec.dnsPolicy: Unsupported value: \"Foo\": supported values: \"ClusterFirstWithHostNet\", \"ClusterFirst\", \"Default\", \"None\""]),
        ("dnsPolicy None needs dnsConfig", create::<core_v1::Pod>(with(&pod, |v| v["spec"]["dnsPolicy"] = json!("None"))),
         vec!["spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None"]),
        ("imagePullPolicy", create::<core_v1::Pod>(with(&pod, |v| v["spec"]["containers"][0]["imagePullPolicy"] = json!("Sometimes"))),
         vec!["spec.containers[0].imagePullPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"IfNotPresent\", \"Never\""]),
        ("probes", create::<core_v1::Pod>(with(&pod, |v| {
            v["spec"]["containers"][0]["livenessProbe"] = json!({"exec": {"command": ["true"]}, "successThreshold": 2, "periodSeconds": -1});
            v["spec"]["containers"][0]["readinessProbe"] = json!({"terminationGracePeriodSeconds": 5});
            v["spec"]["containers"][0]["startupProbe"] = json!({"exec": {"command": ["true"]}, "tcpSocket": {"port": "http"}, "httpGet": {"port": 0}});
         })), vec![
            "spec.containers[0].livenessProbe.periodSeconds: Invalid value: -1: must be greater than or equal to 0",
            "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1",
            "spec.containers[0].readinessProbe: Required value: must specify a handler type",
            "spec.containers[0].readinessProbe.terminationGracePeriodSeconds: Invalid value: 5: must not be set for readinessProbes",
            "spec.containers[0].startupProbe.httpGet: Forbidden: may not specify more than 1 handler type",
            "spec.containers[0].startupProbe.tcpSocket: Forbidden: may not specify more than 1 handler type",
         ]),
        ("httpGet probe", create::<core_v1::Pod>(with(&pod, |v| v["spec"]["containers"][0]["readinessProbe"] = json!({"httpGet": {"port": 0, "scheme": "FTP"}}))),
         vec![
            "spec.containers[0].readinessProbe.httpGet.port: Invalid value: 0: must be between 1 and 65535, inclusive",
            "spec.containers[0].readinessProbe.httpGet.scheme: Unsupported value: \"FTP\": supported values: \"HTTP\", \"HTTPS\"",
         ]),
        ("init container probe", create::<core_v1::Pod>(with(&pod, |v| v["spec"]["initContainers"] = json!([{"name": "init", "image": "busybox", "livenessProbe": {"exec": {"command": ["true"]}}}]))),
         vec!["spec.initContainers[0].livenessProbe: Forbidden: may not be set for init containers without restartPolicy=Always"]),
        ("sidecar may have probes", create::<core_v1::Pod>(with(&pod, |v| v["spec"]["initContainers"] = json!([{"name": "init", "image": "busybox", "restartPolicy": "Always", "livenessProbe": {"exec": {"command": ["true"]}}}]))),
         vec![]),
        ("restartPolicy on a regular container", create::<core_v1::Pod>(with(&pod, |v| v["spec"]["containers"][0]["restartPolicy"] = json!("Always"))),
         vec!["spec.containers[0].restartPolicy: Forbidden: may not be set for non-init containers"]),
        ("volumes", create::<core_v1::Pod>(with(&pod, |v| {
            v["spec"]["volumes"] = json!([{"name": "data", "emptyDir": {}, "configMap": {"name": "c"}}, {"name": "data"}, {"name": "Cfg", "secret": {}}]);
            v["spec"]["containers"][0]["volumeMounts"] = json!([{"name": "missing", "mountPath": "/m"}, {"name": "data", "mountPath": "/m", "subPath": "../x"}]);
         })), vec![
            "spec.volumes[0].configMap: Forbidden: may not specify more than 1 volume type",
            "spec.volumes[2].secret.secretName: Required value",
            &*format!("spec.volumes[2].name: Invalid value: \"Cfg\": {LABEL_MSG}"),
            "spec.containers[0].volumeMounts[0].name: Not found: \"missing\"",
            "spec.containers[0].volumeMounts[1].mountPath: Invalid value: \"/m\": must be unique",
            "spec.containers[0].volumeMounts.subPath: Invalid value: \"../x\": must not contain '..'",
         ]),
        ("duplicate volume", create::<core_v1::Pod>(with(&pod, |v| v["spec"]["volumes"] = json!([{"name": "data"}, {"name": "data"}]))),
         vec!["spec.volumes[1].name: Duplicate value: \"data\""]),
        ("env", create::<core_v1::Pod>(with(&pod, |v| v["spec"]["containers"][0]["env"] = json!([
            {"name": "1BAD"}, {"name": "OK", "valueFrom": {}}, {"name": "F", "valueFrom": {"fieldRef": {"fieldPath": "spec.foo"}}}]))),
         vec![
            "spec.containers[0].env[0].name: Invalid value: \"1BAD\": a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')",
            "spec.containers[0].env[1].valueFrom: Invalid value: \"\": must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
            "spec.containers[0].env[2].valueFrom.fieldRef.fieldPath: Unsupported value: \"spec.foo\": supported values: \"metadata.name\", \"metadata.namespace\", \"metadata.uid\", \"spec.nodeName\", \"spec.serviceAccountName\", \"status.hostIP\", \"status.hostIPs\", \"status.podIP\", \"status.podIPs\"",
         ]),
        ("nodeSelector", create::<core_v1::Pod>(with(&pod, |v| v["spec"]["nodeSelector"] = json!({"disk": "a b"}))),
         vec![&*format!("spec.nodeSelector: Invalid value: \"a b\": {LABEL_VALUE_MSG}")]),
        ("tolerations", create::<core_v1::Pod>(with(&pod, |v| v["spec"]["tolerations"] = json!([
            {"operator": "Equal", "value": "x"},
            {"key": "k", "effect": "NoSchedule", "tolerationSeconds": 5},
            {"key": "k", "operator": "Exists", "value": "v"},
            {"key": "k", "operator": "Lt"},
            {"key": "k", "effect": "Sometimes"}]))),
         vec![
            "spec.tolerations[0].operator: Invalid value: \"Equal\": operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            "spec.tolerations[1].effect: Invalid value: \"NoSchedule\": effect must be 'NoExecute' when `tolerationSeconds` is set",
            "spec.tolerations[2].operator: Invalid value: \"v\": value must be empty when `operator` is 'Exists'",
            "spec.tolerations[3].operator: Unsupported value: \"Lt\": supported values: \"Equal\", \"Exists\"",
            "spec.tolerations[4].effect: Unsupported value: \"Sometimes\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\"",
         ]),
        ("affinity", create::<core_v1::Pod>(with(&pod, |v| v["spec"]["affinity"] = json!({
            "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "Foo"}]}]},
                             "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 0, "preference": {}}]},
            "podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{"labelSelector": {"matchExpressions": [{"key": "app", "operator": "In"}]}, "topologyKey": "zone"}]},
            "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{"topologyKey": ""}]}}))),
         vec![
            "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator: Invalid value: \"Foo\": not a valid selector operator",
            "spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: Invalid value: 0: must be in the range 1-100",
            "spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].labelSelector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
            "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey: Required value: can not be empty",
            "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey: Invalid value: \"\": name part must be non-empty",
            &*format!("spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey: Invalid value: \"\": {NAME_PART_MSG}"),
         ]),
        ("empty node selector", create::<core_v1::Pod>(with(&pod, |v| v["spec"]["affinity"] = json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}}}))),
         vec!["spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms: Required value: must have at least one node selector term"]),
        ("topology spread", create::<core_v1::Pod>(with(&pod, |v| v["spec"]["topologySpreadConstraints"] = json!([
            {"maxSkew": 0, "topologyKey": "zone", "whenUnsatisfiable": "Maybe"},
            {"maxSkew": 1, "topologyKey": "", "whenUnsatisfiable": "DoNotSchedule", "minDomains": 0},
            {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway", "minDomains": 2},
            {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway"}]))),
         vec![
            "spec.topologySpreadConstraints[0].maxSkew: Invalid value: 0: must be greater than zero",
            "spec.topologySpreadConstraints[0].whenUnsatisfiable: Unsupported value: \"Maybe\": supported values: \"DoNotSchedule\", \"ScheduleAnyway\"",
            "spec.topologySpreadConstraints[1].topologyKey: Required value: can not be empty",
            "spec.topologySpreadConstraints[1].minDomains: Invalid value: 0: must be greater than zero",
            "spec.topologySpreadConstraints[2].{topologyKey, whenUnsatisfiable}: Duplicate value: \"{zone, ScheduleAnyway}\"",
            "spec.topologySpreadConstraints[2].minDomains: Invalid value: 2: can only use minDomains if whenUnsatisfiable=DoNotSchedule, not ScheduleAnyway",
         ]),
        ("hostNetwork hostPort", create::<core_v1::Pod>(with(&pod, |v| { v["spec"]["hostNetwork"] = json!(true); v["spec"]["containers"][0]["ports"] = json!([{"containerPort": 8080, "hostPort": 9090}]); })),
         vec!["spec.containers[0].ports[0].hostPort: Invalid value: 9090: must match `containerPort` when `hostNetwork` is true"]),
        ("hostNetwork hostPort defaulted", create::<core_v1::Pod>(with(&pod, |v| { v["spec"]["hostNetwork"] = json!(true); v["spec"]["containers"][0]["ports"] = json!([{"containerPort": 8080}]); })), vec![]),
        ("spec names", create::<core_v1::Pod>(with(&pod, |v| { v["spec"]["nodeName"] = json!("Node_1"); v["spec"]["hostname"] = json!("a.b"); v["spec"]["activeDeadlineSeconds"] = json!(0); })),
         vec![
            &*format!("spec.nodeName: Invalid value: \"Node_1\": {SUBDOMAIN_MSG}"),
            "spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive",
            &*format!("spec.hostname: Invalid value: \"a.b\": {LABEL_MSG}"),
         ]),
        ("ephemeral containers on create", create::<core_v1::Pod>(with(&pod, |v| v["spec"]["ephemeralContainers"] = json!([{"name": "debug", "image": "busybox"}]))),
         vec!["spec.ephemeralContainers: Forbidden: cannot be set on create"]),
        ("securityContext", create::<core_v1::Pod>(with(&pod, |v| v["spec"]["containers"][0]["securityContext"] = json!({"runAsUser": -1, "procMount": "Weird"}))),
         vec![
            "spec.containers[0].securityContext.runAsUser: Invalid value: -1: must be between 0 and 2147483647, inclusive",
            "spec.containers[0].securityContext.procMount: Unsupported value: \"Weird\": supported values: \"Default\", \"Unmasked\"",
         ]),
        ("pod securityContext", create::<core_v1::Pod>(with(&pod, |v| {
            v["spec"]["hostPID"] = json!(true);
            v["spec"]["shareProcessNamespace"] = json!(true);
            v["spec"]["securityContext"] = json!({"fsGroup": -5, "supplementalGroups": [1, 3000000000u64], "fsGroupChangePolicy": "Sometimes",
                                                  "sysctls": [{"name": "net.core.somaxconn", "value": "1"}, {"name": "net.core.somaxconn", "value": "2"}],
                                                  "seccompProfile": {"type": "Localhost"}});
         })), vec![
            "spec.securityContext.fsGroup: Invalid value: -5: must be between 0 and 2147483647, inclusive",
            "spec.securityContext.supplementalGroups[1]: Invalid value: 3000000000: must be between 0 and 2147483647, inclusive",
            "spec.securityContext.shareProcessNamespace: Invalid value: true: ShareProcessNamespace and HostPID cannot both be enabled",
            "spec.securityContext.sysctls[1].name: Duplicate value: \"net.core.somaxconn\"",
            "spec.securityContext.fsGroupChangePolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnRootMismatch\"",
            "spec.securityContext.seccompProfile.localhostProfile: Required value: must be set when seccomp type is Localhost",
         ]),
        ("mirror pod needs a node", create::<core_v1::Pod>(with(&pod, |v| v["metadata"]["annotations"] = json!({"kubernetes.io/config.mirror": "x"}))),
         vec!["metadata.annotations[kubernetes.io/config.mirror]: Invalid value: \"x\": must set spec.nodeName if mirror pod annotation is set"]),
    ]);
}

#[test]
fn pod_updates() {
    let old = with(&pod_json(), |v| {
        v["spec"]["activeDeadlineSeconds"] = json!(10);
        v["spec"]["tolerations"] = json!([{"key": "a", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 5}]);
    });
    let forbidden = update::<core_v1::Pod>(
        with(&old, |v| {
            v["spec"]["containers"][0]["ports"] = json!([{"containerPort": 80}])
        }),
        old.clone(),
    );
    assert_eq!(forbidden.len(), 1);
    let msg = forbidden.messages().remove(0);
    assert!(msg.starts_with(&format!("spec: Forbidden: pod updates may not change fields other than {UPDATABLE_POD_SPEC_FIELDS}\n")), "{msg}");
    assert!(msg.contains("containers"), "{msg}");
    assert_eq!(
        UPDATABLE_POD_SPEC_FIELDS,
        "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"
    );
    check(vec![
        ("unchanged", update::<core_v1::Pod>(old.clone(), old.clone()), vec![]),
        ("image", update::<core_v1::Pod>(with(&old, |v| v["spec"]["containers"][0]["image"] = json!("nginx:2")), old.clone()), vec![]),
        ("labels", update::<core_v1::Pod>(with(&old, |v| v["metadata"]["labels"] = json!({"a": "b"})), old.clone()), vec![]),
        ("empty image", update::<core_v1::Pod>(with(&old, |v| v["spec"]["containers"][0]["image"] = json!("")), old.clone()),
         vec!["spec.containers[0].image: Required value", "spec.containers[0].image: Required value"]),
        ("add container", update::<core_v1::Pod>(with(&old, |v| v["spec"]["containers"] = json!([{"name": "app", "image": "a"}, {"name": "b", "image": "b"}])), old.clone()),
         vec!["spec.containers: Forbidden: pod updates may not add or remove containers"]),
        ("lower deadline", update::<core_v1::Pod>(with(&old, |v| v["spec"]["activeDeadlineSeconds"] = json!(5)), old.clone()), vec![]),
        ("raise deadline", update::<core_v1::Pod>(with(&old, |v| v["spec"]["activeDeadlineSeconds"] = json!(20)), old.clone()),
         vec!["spec.activeDeadlineSeconds: Invalid value: 20: must be less than or equal to previous value"]),
        ("unset deadline", update::<core_v1::Pod>(with(&old, |v| { v["spec"].as_object_mut().unwrap().remove("activeDeadlineSeconds"); }), old.clone()),
         vec!["spec.activeDeadlineSeconds: Invalid value: null: must not update from a positive integer to nil value"]),
        ("add toleration", update::<core_v1::Pod>(with(&old, |v| v["spec"]["tolerations"].as_array_mut().unwrap().push(json!({"key": "b", "operator": "Exists"}))), old.clone()), vec![]),
        ("change tolerationSeconds", update::<core_v1::Pod>(with(&old, |v| v["spec"]["tolerations"][0]["tolerationSeconds"] = json!(1)), old.clone()), vec![]),
        ("remove toleration", update::<core_v1::Pod>(with(&old, |v| v["spec"]["tolerations"] = json!([])), old.clone()),
         vec!["spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds"]),
        ("add scheduling gate", update::<core_v1::Pod>(with(&old, |v| v["spec"]["schedulingGates"] = json!([{"name": "example.com/gate"}])), old.clone()),
         vec!["spec.schedulingGates[0].name: Forbidden: only deletion is allowed, but found new scheduling gate 'example.com/gate'"]),
    ]);
}

#[test]
fn services() {
    let svc = service_json();
    check(vec![
        ("valid", create::<core_v1::Service>(svc.clone()), vec![]),
        ("no ports", create::<core_v1::Service>(with(&svc, |v| v["spec"]["ports"] = json!([]))), vec!["spec.ports: Required value"]),
        ("headless without ports", create::<core_v1::Service>(with(&svc, |v| { v["spec"]["ports"] = json!([]); v["spec"]["clusterIP"] = json!("None"); })), vec![]),
        ("ExternalName", create::<core_v1::Service>(with(&svc, |v| { v["spec"] = json!({"type": "ExternalName", "externalName": "db.example.com."}); })), vec![]),
        ("ExternalName without name", create::<core_v1::Service>(with(&svc, |v| { v["spec"] = json!({"type": "ExternalName"}); })),
         vec!["spec.externalName: Required value"]),
        ("port 0", create::<core_v1::Service>(with(&svc, |v| v["spec"]["ports"] = json!([{"port": 0}]))), vec![
            "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
            "spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive",
        ]),
        ("names required with several ports", create::<core_v1::Service>(with(&svc, |v| v["spec"]["ports"] = json!([{"port": 80}, {"port": 443, "name": "https"}, {"port": 8443, "name": "https"}]))), vec![
            "spec.ports[0].name: Required value",
            "spec.ports[2].name: Duplicate value: \"https\"",
        ]),
        ("duplicate port", create::<core_v1::Service>(with(&svc, |v| v["spec"]["ports"] = json!([{"port": 80, "name": "a"}, {"port": 80, "name": "b"}]))),
         vec!["spec.ports[1]: Duplicate value: {\"port\":80,\"protocol\":\"TCP\"}"]),
        ("protocol", create::<core_v1::Service>(with(&svc, |v| v["spec"]["ports"][0]["protocol"] = json!("HTTP"))),
         vec!["spec.ports[0].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\""]),
        ("type", create::<core_v1::Service>(with(&svc, |v| v["spec"]["type"] = json!("Foo"))),
         vec!["spec.type: Unsupported value: \"Foo\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\""]),
        ("nodePort on ClusterIP", create::<core_v1::Service>(with(&svc, |v| v["spec"]["ports"][0]["nodePort"] = json!(30080))),
         vec!["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"]),
        ("NodePort headless", create::<core_v1::Service>(with(&svc, |v| { v["spec"]["type"] = json!("NodePort"); v["spec"]["clusterIP"] = json!("None"); })),
         vec!["spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for NodePort services"]),
        ("bad cluster IP", create::<core_v1::Service>(with(&svc, |v| v["spec"]["clusterIP"] = json!("10.0.0"))),
         vec!["spec.clusterIPs[0]: Invalid value: \"10.0.0\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"]),
        ("sessionAffinity", create::<core_v1::Service>(with(&svc, |v| v["spec"]["sessionAffinity"] = json!("Sticky"))),
         vec!["spec.sessionAffinity: Unsupported value: \"Sticky\": supported values: \"ClientIP\", \"None\""]),
        ("selector", create::<core_v1::Service>(with(&svc, |v| v["spec"]["selector"] = json!({"app": "a b"}))),
         vec![&*format!("spec.selector: Invalid value: \"a b\": {LABEL_VALUE_MSG}")]),
        ("externalTrafficPolicy on ClusterIP", create::<core_v1::Service>(with(&svc, |v| v["spec"]["externalTrafficPolicy"] = json!("Local"))),
         vec!["spec.externalTrafficPolicy: Invalid value: \"Local\": may only be set for externally-accessible services"]),
        ("LoadBalancer Local needs health check port", create::<core_v1::Service>(with(&svc, |v| { v["spec"]["type"] = json!("LoadBalancer"); v["spec"]["externalTrafficPolicy"] = json!("Local"); })),
         vec!["spec.healthCheckNodePort: Required value"]),
        ("source ranges", create::<core_v1::Service>(with(&svc, |v| v["spec"]["loadBalancerSourceRanges"] = json!(["10.0.0.0/8"]))),
         vec!["spec.LoadBalancerSourceRanges: Forbidden: may only be used when `type` is 'LoadBalancer'"]),
        ("node port range", validate_node_port_range(&defaulted::<core_v1::Service>(with(&svc, |v| { v["spec"]["type"] = json!("NodePort"); v["spec"]["ports"][0]["nodePort"] = json!(80); })), 30000..=32767),
         vec!["spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767"]),
        ("clusterIP change", update::<core_v1::Service>(with(&svc, |v| v["spec"]["clusterIP"] = json!("10.0.0.2")), with(&svc, |v| v["spec"]["clusterIP"] = json!("10.0.0.1"))),
         vec!["spec.clusterIPs[0]: Invalid value: [\"10.0.0.2\"]: may not change once set"]),
    ]);
}

#[test]
fn namespaces_and_nodes() {
    let ns = json!({"metadata": {"name": "team", "resourceVersion": "1"}});
    let node = json!({"metadata": {"name": "node-1", "resourceVersion": "1"}, "spec": {"podCIDRs": ["10.244.1.0/24"], "providerID": "kind://n1"}});
    check(vec![
        ("namespace", create::<core_v1::Namespace>(ns.clone()), vec![]),
        ("namespace finalizer", create::<core_v1::Namespace>(with(&ns, |v| v["spec"] = json!({"finalizers": ["kubernetes", "foo"]}))),
         vec!["spec.finalizers: Invalid value: \"foo\": name is neither a standard finalizer name nor is it fully qualified"]),
        ("namespace update", update::<core_v1::Namespace>(with(&ns, |v| v["metadata"]["labels"] = json!({"a": "b"})), ns.clone()), vec![]),
        ("node", create::<core_v1::Node>(node.clone()), vec![]),
        ("node namespace", create::<core_v1::Node>(with(&node, |v| v["metadata"]["namespace"] = json!("default"))), vec!["metadata.namespace: Forbidden: not allowed on this type"]),
        ("taints", create::<core_v1::Node>(with(&node, |v| v["spec"]["taints"] = json!([
            {"key": "a", "effect": "Foo"}, {"key": "b", "effect": "NoSchedule"}, {"key": "b", "effect": "NoSchedule", "value": "x"}, {"key": "c", "effect": ""}]))),
         vec![
            "metadata.taints[0].effect: Unsupported value: \"Foo\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\"",
            "metadata.taints[2]: Duplicate value: {\"effect\":\"NoSchedule\",\"key\":\"b\",\"value\":\"x\"}: taints must be unique by key and effect pair",
            "metadata.taints[3].effect: Required value",
         ]),
        ("pod CIDR", create::<core_v1::Node>(with(&node, |v| v["spec"]["podCIDRs"] = json!(["10.244.1.0/33"]))),
         vec!["spec.podCIDRs[0]: Invalid value: \"10.244.1.0/33\": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"]),
        ("node status", create::<core_v1::Node>(with(&node, |v| v["status"] = json!({"capacity": {"pods": "1.5"}}))),
         vec!["status.capacity.pods: Invalid value: 1500m: must be an integer", "status.allocatable.pods: Invalid value: 1500m: must be an integer"]),
        ("pod CIDR change", update::<core_v1::Node>(with(&node, |v| v["spec"]["podCIDRs"] = json!(["10.244.2.0/24"])), node.clone()),
         vec!["spec.podCIDRs: Forbidden: node updates may not change podCIDR except from \"\" to valid"]),
        ("providerID change", update::<core_v1::Node>(with(&node, |v| v["spec"]["providerID"] = json!("kind://n2")), node.clone()),
         vec!["spec.providerID: Forbidden: node updates may not change providerID except from \"\" to valid"]),
        ("unschedulable", update::<core_v1::Node>(with(&node, |v| v["spec"]["unschedulable"] = json!(true)), node.clone()), vec![]),
    ]);
}

#[test]
fn config_maps_and_secrets() {
    let cm = json!({"metadata": {"name": "cfg", "namespace": "default", "resourceVersion": "1"}, "data": {"a.conf": "x"}});
    let secret = json!({"metadata": {"name": "s", "namespace": "default", "resourceVersion": "1"}, "data": {"k": "dg=="}});
    let big = "x".repeat(1024 * 1024);
    check(vec![
        ("configmap", create::<core_v1::ConfigMap>(cm.clone()), vec![]),
        ("configmap key", create::<core_v1::ConfigMap>(with(&cm, |v| v["data"] = json!({"a b": "x", "..": "y"}))), vec![
            "data[..]: Invalid value: \"..\": must not be '..'",
            &*format!("data[a b]: Invalid value: \"a b\": {CM_KEY_MSG}"),
        ]),
        ("configmap duplicate key", create::<core_v1::ConfigMap>(with(&cm, |v| v["binaryData"] = json!({"a.conf": "eA=="}))),
         vec!["data[a.conf]: Invalid value: \"a.conf\": duplicate of key present in binaryData"]),
        ("configmap too big", create::<core_v1::ConfigMap>(with(&cm, |v| v["binaryData"] = json!({"b": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &big)}))),
         vec![": Too long: must have at most 1048576 bytes"]),
        ("immutable configmap", update::<core_v1::ConfigMap>(with(&cm, |v| { v["data"] = json!({"a.conf": "y"}); v["immutable"] = json!(false); }), with(&cm, |v| v["immutable"] = json!(true))), vec![
            "immutable: Forbidden: field is immutable when `immutable` is set",
            "data: Forbidden: field is immutable when `immutable` is set",
        ]),
        ("secret", create::<core_v1::Secret>(secret.clone()), vec![]),
        ("secret key", create::<core_v1::Secret>(with(&secret, |v| v["stringData"] = json!({"a/b": "x"}))),
         vec![&*format!("data[a/b]: Invalid value: \"a/b\": {CM_KEY_MSG}")]),
        ("secret too big", create::<core_v1::Secret>(with(&secret, |v| v["stringData"] = json!({"big": big}))),
         vec!["data: Too long: must have at most 1048576 bytes"]),
        ("service account token", create::<core_v1::Secret>(with(&secret, |v| v["type"] = json!("kubernetes.io/service-account-token"))),
         vec!["metadata.annotations[kubernetes.io/service-account.name]: Required value"]),
        ("service account token ok", create::<core_v1::Secret>(with(&secret, |v| { v["type"] = json!("kubernetes.io/service-account-token"); v["metadata"]["annotations"] = json!({"kubernetes.io/service-account.name": "default"}); })), vec![]),
        ("tls", create::<core_v1::Secret>(with(&secret, |v| v["type"] = json!("kubernetes.io/tls"))),
         vec!["data[tls.crt]: Required value", "data[tls.key]: Required value"]),
        ("dockerconfigjson missing", create::<core_v1::Secret>(with(&secret, |v| v["type"] = json!("kubernetes.io/dockerconfigjson"))),
         vec!["data[.dockerconfigjson]: Required value"]),
        ("dockerconfigjson not JSON", create::<core_v1::Secret>(with(&secret, |v| { v["type"] = json!("kubernetes.io/dockerconfigjson"); v["stringData"] = json!({".dockerconfigjson": "[1]"}); })),
         vec!["data[.dockerconfigjson]: Invalid value: \"<secret contents redacted>\": json: cannot unmarshal array into Go value of type map[string]interface {}"]),
        ("dockerconfigjson ok", create::<core_v1::Secret>(with(&secret, |v| { v["type"] = json!("kubernetes.io/dockerconfigjson"); v["stringData"] = json!({".dockerconfigjson": "{\"auths\":{}}"}); })), vec![]),
        ("basic auth", create::<core_v1::Secret>(with(&secret, |v| v["type"] = json!("kubernetes.io/basic-auth"))),
         vec!["data[username]: Required value", "data[password]: Required value"]),
        ("secret type change", update::<core_v1::Secret>(with(&secret, |v| v["type"] = json!("example.com/x")), secret.clone()),
         vec!["type: Invalid value: \"example.com/x\": field is immutable"]),
        ("service account", create::<core_v1::ServiceAccount>(json!({"metadata": {"name": "Builder", "namespace": "default"}})),
         vec![&*format!("metadata.name: Invalid value: \"Builder\": {SUBDOMAIN_MSG}")]),
    ]);
}

#[test]
fn endpoints_events_bindings() {
    let ep = json!({"metadata": {"name": "web", "namespace": "default"}, "subsets": [{"addresses": [{"ip": "10.0.0.5"}], "ports": [{"port": 80}]}]});
    let slice = json!({"metadata": {"name": "web-abc", "namespace": "default"}, "addressType": "IPv4",
                       "endpoints": [{"addresses": ["10.0.0.5"]}], "ports": [{"port": 80}]});
    let event = json!({"metadata": {"name": "e1", "namespace": "default"}, "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default"}});
    check(vec![
        ("endpoints", create::<core_v1::Endpoints>(ep.clone()), vec![]),
        ("endpoints loopback", create::<core_v1::Endpoints>(with(&ep, |v| v["subsets"][0]["addresses"][0]["ip"] = json!("127.0.0.1"))),
         vec!["subsets[0].addresses[0].ip: Invalid value: \"127.0.0.1\": may not be in the loopback range (127.0.0.0/8, ::1/128)"]),
        ("endpoints no address", create::<core_v1::Endpoints>(with(&ep, |v| v["subsets"][0]["addresses"] = json!([]))),
         vec!["subsets[0]: Required value: must specify `addresses` or `notReadyAddresses`"]),
        ("endpoints bad ip", create::<core_v1::Endpoints>(with(&ep, |v| v["subsets"][0]["addresses"][0]["ip"] = json!("nope"))), vec![
            "subsets[0].addresses[0].ip: Invalid value: \"nope\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
            "subsets[0].addresses[0].ip: Invalid value: \"nope\": must be a valid IP address",
        ]),
        ("endpoint slice", create::<discovery_v1::EndpointSlice>(slice.clone()), vec![]),
        ("endpoint slice address type", create::<discovery_v1::EndpointSlice>(with(&slice, |v| v["addressType"] = json!("IPv5"))),
         vec!["addressType: Unsupported value: \"IPv5\": supported values: \"FQDN\", \"IPv4\", \"IPv6\""]),
        ("endpoint slice addresses", create::<discovery_v1::EndpointSlice>(with(&slice, |v| v["endpoints"] = json!([{"addresses": []}, {"addresses": ["1.2.3", "fd00::1"]}]))), vec![
            "endpoints[0].addresses: Required value: must contain at least 1 address",
            "endpoints[1].addresses[0]: Invalid value: \"1.2.3\": must be a valid IPv4 address",
            "endpoints[1].addresses[1]: Invalid value: \"fd00::1\": must be a valid IPv4 address",
        ]),
        ("endpoint slice FQDN", create::<discovery_v1::EndpointSlice>(with(&slice, |v| { v["addressType"] = json!("FQDN"); v["endpoints"] = json!([{"addresses": ["db.example.com", "localhost"]}]); })),
         vec!["endpoints[0].addresses[1]: Invalid value: \"localhost\": should be a domain with at least two segments separated by dots"]),
        ("endpoint slice type change", update::<discovery_v1::EndpointSlice>(with(&slice, |v| { v["metadata"]["resourceVersion"] = json!("2"); v["addressType"] = json!("IPv6"); v["endpoints"] = json!([]); }), with(&slice, |v| v["metadata"]["resourceVersion"] = json!("1"))),
         vec!["addressType: Invalid value: \"IPv6\": field is immutable"]),
        ("event", create::<core_v1::Event>(event.clone()), vec![]),
        ("event namespace mismatch", create::<core_v1::Event>(with(&event, |v| v["involvedObject"]["namespace"] = json!("other"))),
         vec!["involvedObject.namespace: Invalid value: \"other\": does not match event.namespace"]),
        ("binding", core_v1::Binding::default().validate_create(), vec!["target.name: Required value"]),
        ("binding kind", serde_json::from_value::<core_v1::Binding>(json!({"target": {"kind": "Pod", "name": "x"}})).unwrap().validate_create(),
         vec!["target.kind: Unsupported value: \"Pod\": supported values: \"Node\", \"<empty>\""]),
    ]);
}

#[test]
fn workloads() {
    let d = deployment_json();
    let rc = json!({"metadata": {"name": "web", "namespace": "default", "resourceVersion": "1"},
                    "spec": {"selector": {"app": "web"}, "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "app", "image": "nginx:1.25"}]}}}});
    check(vec![
        ("deployment", create::<apps_v1::Deployment>(d.clone()), vec![]),
        ("replicas", create::<apps_v1::Deployment>(with(&d, |v| v["spec"]["replicas"] = json!(-1))),
         vec!["spec.replicas: Invalid value: -1: must be greater than or equal to 0"]),
        ("selector mismatch", create::<apps_v1::Deployment>(with(&d, |v| v["spec"]["template"]["metadata"]["labels"] = json!({"app": "other"}))),
         vec!["spec.template.metadata.labels: Invalid value: {\"app\":\"other\"}: `selector` does not match template `labels`"]),
        ("empty selector", create::<apps_v1::Deployment>(with(&d, |v| v["spec"]["selector"] = json!({}))),
         vec!["spec.selector: Invalid value: {}: empty selector is invalid for deployment"]),
        ("selector operator", create::<apps_v1::Deployment>(with(&d, |v| v["spec"]["selector"]["matchExpressions"] = json!([{"key": "app", "operator": "Near", "values": ["x"]}]))), vec![
            "spec.selector.matchExpressions[0].operator: Invalid value: \"Near\": not a valid selector operator",
            "spec.selector: Invalid value: {\"matchLabels\":{\"app\":\"web\"},\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"Near\",\"values\":[\"x\"]}]}: invalid label selector",
        ]),
        ("template restartPolicy", create::<apps_v1::Deployment>(with(&d, |v| v["spec"]["template"]["spec"]["restartPolicy"] = json!("Never"))),
         vec!["spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\""]),
        ("template container", create::<apps_v1::Deployment>(with(&d, |v| { v["spec"]["template"]["spec"]["containers"][0].as_object_mut().unwrap().remove("image"); })),
         vec!["spec.template.spec.containers[0].image: Required value"]),
        ("both zero", create::<apps_v1::Deployment>(with(&d, |v| v["spec"]["strategy"] = json!({"rollingUpdate": {"maxSurge": 0, "maxUnavailable": "0%"}}))),
         vec!["spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0%: may not be 0 when `maxSurge` is 0"]),
        ("percentages", create::<apps_v1::Deployment>(with(&d, |v| v["spec"]["strategy"] = json!({"rollingUpdate": {"maxSurge": "abc", "maxUnavailable": "150%"}}))), vec![
            &*format!("spec.strategy.rollingUpdate.maxSurge: Invalid value: abc: {PERCENT_MSG}"),
            "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 150%: must not be greater than 100%",
        ]),
        ("strategy type", create::<apps_v1::Deployment>(with(&d, |v| v["spec"]["strategy"] = json!({"type": "BlueGreen"}))),
         vec!["spec.strategy: Unsupported value: {\"type\":\"BlueGreen\"}: supported values: \"Recreate\", \"RollingUpdate\""]),
        ("recreate with rollingUpdate", create::<apps_v1::Deployment>(with(&d, |v| v["spec"]["strategy"] = json!({"type": "Recreate", "rollingUpdate": {}}))),
         vec!["spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"]),
        ("history and deadline", create::<apps_v1::Deployment>(with(&d, |v| { v["spec"]["revisionHistoryLimit"] = json!(-1); v["spec"]["minReadySeconds"] = json!(700); })), vec![
            "spec.revisionHistoryLimit: Invalid value: -1: must be greater than or equal to 0",
            "spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds",
        ]),
        ("selector immutable", update::<apps_v1::Deployment>(
            with(&d, |v| { v["spec"]["selector"] = json!({"matchLabels": {"app": "v2"}}); v["spec"]["template"]["metadata"]["labels"] = json!({"app": "v2"}); }), d.clone()),
         vec!["spec.selector: Invalid value: {\"matchLabels\":{\"app\":\"v2\"}}: field is immutable"]),
        ("scale up", update::<apps_v1::Deployment>(with(&d, |v| v["spec"]["replicas"] = json!(5)), d.clone()), vec![]),
        ("replicaset", create::<apps_v1::ReplicaSet>(d.clone()), vec![]),
        ("replicaset mismatch", create::<apps_v1::ReplicaSet>(with(&d, |v| v["spec"]["template"]["metadata"]["labels"] = json!({}))),
         vec!["spec.template.metadata.labels: Invalid value: {}: `selector` does not match template `labels`"]),
        ("replicaset deadline", create::<apps_v1::ReplicaSet>(with(&d, |v| v["spec"]["template"]["spec"]["activeDeadlineSeconds"] = json!(5))),
         vec!["spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in ReplicaSet is not Supported"]),
        ("replicaset selector immutable", update::<apps_v1::ReplicaSet>(with(&d, |v| v["spec"]["selector"]["matchExpressions"] = json!([{"key": "tier", "operator": "DoesNotExist"}])), d.clone()),
         vec!["spec.selector: Invalid value: {\"matchLabels\":{\"app\":\"web\"},\"matchExpressions\":[{\"key\":\"tier\",\"operator\":\"DoesNotExist\"}]}: field is immutable"]),
        ("rc", create::<core_v1::ReplicationController>(rc.clone()), vec![]),
        ("rc selector defaulted from template", create::<core_v1::ReplicationController>(with(&rc, |v| { v["spec"].as_object_mut().unwrap().remove("selector"); })), vec![]),
        ("rc mismatch", create::<core_v1::ReplicationController>(with(&rc, |v| v["spec"]["selector"] = json!({"app": "other"}))),
         vec!["spec.template.metadata.labels: Invalid value: {\"app\":\"web\"}: `selector` does not match template `labels`"]),
        ("rc no template", create::<core_v1::ReplicationController>(with(&rc, |v| { v["spec"].as_object_mut().unwrap().remove("template"); })),
         vec!["spec.template: Required value"]),
        ("rc replicas and restart", create::<core_v1::ReplicationController>(with(&rc, |v| { v["spec"]["replicas"] = json!(-2); v["spec"]["template"]["spec"]["restartPolicy"] = json!("OnFailure"); })), vec![
            "spec.replicas: Invalid value: -2: must be greater than or equal to 0",
            "spec.template.spec.restartPolicy: Unsupported value: \"OnFailure\": supported values: \"Always\"",
        ]),
    ]);
}

#[test]
fn other_groups() {
    let role = json!({"metadata": {"name": "reader", "namespace": "default", "resourceVersion": "1"},
                      "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]});
    let rb = json!({"metadata": {"name": "read", "namespace": "default", "resourceVersion": "1"},
                    "roleRef": {"kind": "Role", "name": "reader"}, "subjects": [{"kind": "User", "name": "alice"}]});
    let crb = json!({"metadata": {"name": "read", "resourceVersion": "1"},
                     "roleRef": {"kind": "ClusterRole", "name": "view"}, "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": "default"}]});
    let pc = json!({"metadata": {"name": "high", "resourceVersion": "1"}, "value": 1000});
    let pdb = json!({"metadata": {"name": "web", "namespace": "default"}, "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}}});
    let lease = json!({"metadata": {"name": "node-1", "namespace": "kube-node-lease"}, "spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 40}});
    check(vec![
        ("role", create::<rbac_v1::Role>(role.clone()), vec![]),
        ("role name is only a path segment", create::<rbac_v1::Role>(with(&role, |v| v["metadata"]["name"] = json!("system:Reader"))), vec![]),
        ("role name with slash", create::<rbac_v1::Role>(with(&role, |v| v["metadata"]["name"] = json!("a/b"))),
         vec!["metadata.name: Invalid value: \"a/b\": may not contain '/'"]),
        ("rule", create::<rbac_v1::Role>(with(&role, |v| v["rules"] = json!([{}, {"verbs": ["get"], "nonResourceURLs": ["/healthz"]}]))), vec![
            "rules[0].verbs: Required value: verbs must contain at least one value",
            "rules[0].apiGroups: Required value: resource rules must supply at least one api group",
            "rules[0].resources: Required value: resource rules must supply at least one resource",
            "rules[1].nonResourceURLs: Invalid value: [\"/healthz\"]: namespaced rules cannot apply to non-resource URLs",
        ]),
        ("cluster role non-resource URL", create::<rbac_v1::ClusterRole>(json!({"metadata": {"name": "health"}, "rules": [{"verbs": ["get"], "nonResourceURLs": ["/healthz"]}]})), vec![]),
        ("cluster role aggregation", create::<rbac_v1::ClusterRole>(json!({"metadata": {"name": "agg"}, "aggregationRule": {}})),
         vec!["aggregationRule.clusterRoleSelectors: Required value: at least one clusterRoleSelector required if aggregationRule is non-nil"]),
        ("role binding", create::<rbac_v1::RoleBinding>(rb.clone()), vec![]),
        ("role binding ref", create::<rbac_v1::RoleBinding>(with(&rb, |v| v["roleRef"] = json!({"apiGroup": "example.com", "kind": "Foo"}))), vec![
            "roleRef.apiGroup: Unsupported value: \"example.com\": supported values: \"rbac.authorization.k8s.io\"",
            "roleRef.kind: Unsupported value: \"Foo\": supported values: \"Role\", \"ClusterRole\"",
            "roleRef.name: Required value",
        ]),
        ("role binding subjects", create::<rbac_v1::RoleBinding>(with(&rb, |v| v["subjects"] = json!([{"kind": "Robot", "name": "r"}, {"kind": "ServiceAccount", "name": "Sa", "apiGroup": "x"}]))), vec![
            "subjects[0].kind: Unsupported value: \"Robot\": supported values: \"ServiceAccount\", \"User\", \"Group\"",
            &*format!("subjects[1].name: Invalid value: \"Sa\": {SUBDOMAIN_MSG}"),
            "subjects[1].apiGroup: Unsupported value: \"x\": supported values: \"\"",
        ]),
        ("roleRef immutable", update::<rbac_v1::RoleBinding>(with(&rb, |v| v["roleRef"]["name"] = json!("writer")), rb.clone()),
         vec!["roleRef: Invalid value: {\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"Role\",\"name\":\"writer\"}: cannot change roleRef"]),
        ("subjects may change", update::<rbac_v1::RoleBinding>(with(&rb, |v| v["subjects"] = json!([])), rb.clone()), vec![]),
        ("cluster role binding", create::<rbac_v1::ClusterRoleBinding>(crb.clone()), vec![]),
        ("cluster role binding needs SA namespace and ClusterRole", create::<rbac_v1::ClusterRoleBinding>(with(&crb, |v| { v["subjects"][0].as_object_mut().unwrap().remove("namespace"); v["roleRef"]["kind"] = json!("Role"); })), vec![
            "roleRef.kind: Unsupported value: \"Role\": supported values: \"ClusterRole\"",
            "subjects[0].namespace: Required value",
        ]),
        ("priority class", create::<scheduling_v1::PriorityClass>(pc.clone()), vec![]),
        ("priority too high", create::<scheduling_v1::PriorityClass>(with(&pc, |v| v["value"] = json!(1_000_000_001))),
         vec!["value: Forbidden: maximum allowed value of a user defined priority is 1000000000"]),
        ("system prefix", create::<scheduling_v1::PriorityClass>(with(&pc, |v| v["metadata"]["name"] = json!("system-foo"))),
         vec!["metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: system-foo is not a known system priority class"]),
        ("system class value", create::<scheduling_v1::PriorityClass>(with(&pc, |v| v["metadata"]["name"] = json!("system-node-critical"))),
         vec!["metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: value of system-node-critical PriorityClass must be 2000001000"]),
        ("system class ok", create::<scheduling_v1::PriorityClass>(json!({"metadata": {"name": "system-cluster-critical"}, "value": 2_000_000_000})), vec![]),
        ("preemption policy", create::<scheduling_v1::PriorityClass>(with(&pc, |v| v["preemptionPolicy"] = json!("Always"))),
         vec!["preemptionPolicy: Unsupported value: \"Always\": supported values: \"PreemptLowerPriority\", \"Never\""]),
        ("priority value immutable", update::<scheduling_v1::PriorityClass>(with(&pc, |v| v["value"] = json!(5)), pc.clone()),
         vec!["value: Forbidden: may not be changed in an update."]),
        ("pdb", create::<policy_v1::PodDisruptionBudget>(pdb.clone()), vec![]),
        ("pdb both", create::<policy_v1::PodDisruptionBudget>(with(&pdb, |v| v["spec"]["maxUnavailable"] = json!("120%"))), vec![
            "spec: Invalid value: {\"maxUnavailable\":\"120%\",\"minAvailable\":1,\"selector\":{\"matchLabels\":{\"app\":\"web\"}}}: minAvailable and maxUnavailable cannot be both set",
            "spec.maxUnavailable: Invalid value: 120%: must not be greater than 100%",
        ]),
        ("pdb negative", create::<policy_v1::PodDisruptionBudget>(with(&pdb, |v| v["spec"]["minAvailable"] = json!(-1))),
         vec!["spec.minAvailable: Invalid value: -1: must be greater than or equal to 0"]),
        ("pdb policy", create::<policy_v1::PodDisruptionBudget>(with(&pdb, |v| v["spec"]["unhealthyPodEvictionPolicy"] = json!("Never"))),
         vec!["spec.unhealthyPodEvictionPolicy: Unsupported value: \"Never\": supported values: \"AlwaysAllow\", \"IfHealthyBudget\""]),
        ("lease", create::<coordination_v1::Lease>(lease.clone()), vec![]),
        ("lease duration", create::<coordination_v1::Lease>(with(&lease, |v| { v["spec"]["leaseDurationSeconds"] = json!(0); v["spec"]["leaseTransitions"] = json!(-1); v["spec"]["preferredHolder"] = json!("x"); })), vec![
            "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0",
            "spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0",
            "spec.preferredHolder: Forbidden: may only be specified if `strategy` is defined",
        ]),
        ("lease finalizer without slash is fine", create::<coordination_v1::Lease>(with(&lease, |v| v["metadata"]["finalizers"] = json!(["foo"]))), vec![]),
        ("scale", serde_json::from_value::<autoscaling_v1::Scale>(json!({"spec": {"replicas": -1}})).unwrap().validate_create(),
         vec!["spec.replicas: Invalid value: -1: must be greater than or equal to 0"]),
    ]);
}

#[test]
fn dynamic_entry_points() {
    let pod = with(&pod_json(), |v| {
        v["spec"]["containers"][0]["image"] = json!("");
    });
    let mut defaulted_pod = pod.clone();
    crate::defaults::apply_value("", "Pod", &mut defaulted_pod).unwrap();
    let errs = validate_create_value("", "Pod", &defaulted_pod).unwrap();
    assert_eq!(errs.to_string(), "spec.containers[0].image: Required value");
    assert_eq!(
        errs.to_status("", "Pod", "web").message.as_deref(),
        Some("Pod \"web\" is invalid: spec.containers[0].image: Required value")
    );

    // The generic path-segment rule runs after the kind's own rules pass.
    let pdb =
        json!({"metadata": {"name": "a%b", "namespace": "default"}, "spec": {"minAvailable": 1}});
    assert_eq!(
        validate_create_value("policy", "PodDisruptionBudget", &pdb)
            .unwrap()
            .messages(),
        vec!["metadata.name: Invalid value: \"a%b\": may not contain '%'"]
    );

    let err = validate_create_value("", "Pod", &json!({"spec": {"containers": 3}})).unwrap_err();
    assert!(
        err.to_string().starts_with(
            "Pod in version \"v1\" cannot be handled as a Pod: invalid type: integer `3`"
        ),
        "{err}"
    );
    let status = err.to_status();
    assert_eq!(
        (status.code, status.reason.as_deref()),
        (Some(400), Some("BadRequest"))
    );

    let err = validate_create_value(
        "",
        "ConfigMap",
        &json!({"binaryData": {"a": "not base64!"}}),
    )
    .unwrap_err();
    assert!(matches!(err, super::Error::Decode { .. }), "{err}");
    let err = validate_create_value(
        "apps",
        "Deployment",
        &json!({"spec": {"replicas": "three"}}),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("Deployment in version \"v1\" cannot be handled as a Deployment: "),
        "{err}"
    );

    assert_eq!(
        validate_create_value("example.com", "Widget", &json!({})).unwrap_err(),
        super::Error::UnknownKind {
            group: "example.com".into(),
            kind: "Widget".into()
        }
    );

    let old = with(&service_json(), |v| {
        v["spec"]["clusterIP"] = json!("10.0.0.1")
    });
    let mut old_d = old.clone();
    crate::defaults::apply_value("", "Service", &mut old_d).unwrap();
    let mut new_d = with(&old_d, |v| v["spec"]["type"] = json!("NodePort"));
    crate::defaults::apply_value("", "Service", &mut new_d).unwrap();
    assert!(validate_update_value("", "Service", &new_d, &old_d)
        .unwrap()
        .is_empty());
    assert!(validate_update_value("", "Service", &json!({"spec": 1}), &old_d).is_err());

    let scale = json!({"spec": {"replicas": -1}});
    assert_eq!(
        validate_create_value("autoscaling", "Scale", &scale)
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn typed_checks_return_statuses() {
    let pod: core_v1::Pod = defaulted(pod_json());
    assert!(check_create(&pod).is_ok());
    let mut bad = pod.clone();
    bad.metadata.name = Some("x/y".into());
    let status = check_create(&bad).unwrap_err();
    assert_eq!(status.code, Some(422));
    assert!(status.message.unwrap().starts_with("Pod \"x/y\" is invalid: metadata.name: Invalid value: \"x/y\": a lowercase RFC 1123 subdomain"));
    let d: apps_v1::Deployment = defaulted(deployment_json());
    let mut d2 = d.clone();
    d2.spec.as_mut().unwrap().replicas = Some(-1);
    let status = check_update(&d2, &d).unwrap_err();
    assert_eq!(
        status.message.as_deref(),
        Some("Deployment.apps \"web\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0")
    );
}
