//! Server-side printing: `meta.k8s.io/v1` `Table` answers for `kubectl get`.
//!
//! kubectl asks for `Accept: application/json;as=Table;v=v1;g=meta.k8s.io,…`; the server
//! answers with the columns kubectl users know, computed as kube-apiserver's printers do
//! (`pkg/printers/internalversion/printers.go`), for example pods `NAME READY STATUS RESTARTS
//! AGE` and, at priority 1 (shown by `-o wide`), `IP NODE NOMINATED NODE READINESS GATES`.
//! Resources without a printer get `NAME AGE`. Each row carries the object as
//! `includeObject` asks: `None`, `Metadata` (a `PartialObjectMetadata`, the default) or `Object`.
//!
//! ```
//! use kube_api::table::{self, IncludeObject};
//! use kubox_core::registry;
//!
//! let now = jiff::Timestamp::from_second(1_000_000).unwrap();
//! let cm = serde_json::json!({"apiVersion":"v1","kind":"ConfigMap",
//!     "metadata":{"name":"c","creationTimestamp":"1970-01-12T13:46:00Z"},"data":{"a":"1"}});
//! let t = table::object_table(registry::of::<kubox_core::api::core_v1::ConfigMap>(), &cm, IncludeObject::None, now);
//! assert_eq!(t["columnDefinitions"][1]["name"], "Data");
//! assert_eq!(t["rows"][0]["cells"], serde_json::json!(["c", 1, "40s"]));
//! assert_eq!(table::human_duration(3 * 60 + 2), "3m2s");
//! ```

use kubox_core::registry::ResourceInfo;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// What each row's `object` holds (`includeObject` query parameter).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IncludeObject {
    /// Nothing.
    None,
    /// A `meta.k8s.io/v1` `PartialObjectMetadata` (the default).
    #[default]
    Metadata,
    /// The whole object.
    Object,
}

impl IncludeObject {
    /// Parses the query parameter (`None`, `Metadata`, `Object`); `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "None" => Some(IncludeObject::None),
            "Metadata" => Some(IncludeObject::Metadata),
            "Object" => Some(IncludeObject::Object),
            _ => None,
        }
    }
}

/// The representation an `Accept` header asks for (`as=…;g=meta.k8s.io;v=…`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The objects as they are.
    Plain,
    /// A `Table` of this apiVersion (`meta.k8s.io/v1` or `meta.k8s.io/v1beta1`).
    Table(&'static str),
    /// `PartialObjectMetadata` / `PartialObjectMetadataList` of this apiVersion (client-go's
    /// metadata client, kube-rs `list_metadata`).
    Metadata(&'static str),
}

/// The first media range of `accept` this server can produce (protobuf ones are skipped:
/// responses are JSON).
pub fn negotiate_target(accept: Option<&str>) -> Target {
    let Some(accept) = accept else {
        return Target::Plain;
    };
    for (ty, params) in crate::discovery::media_ranges(accept) {
        if ty != "application/json" && ty != "*/*" && ty != "application/*" {
            continue;
        }
        let get = |k: &str| {
            params
                .iter()
                .find(|(pk, _)| pk == k)
                .map(|(_, v)| v.as_str())
        };
        let version = match (get("g"), get("v")) {
            (Some("meta.k8s.io"), Some("v1")) => "meta.k8s.io/v1",
            (Some("meta.k8s.io"), Some("v1beta1")) => "meta.k8s.io/v1beta1",
            _ => "",
        };
        match get("as") {
            None => return Target::Plain,
            Some("Table") if !version.is_empty() => return Target::Table(version),
            Some("PartialObjectMetadata" | "PartialObjectMetadataList") if !version.is_empty() => {
                return Target::Metadata(version)
            }
            _ => continue,
        }
    }
    Target::Plain
}

/// Which `Table` version an `Accept` header asks for, if any.
pub fn negotiate(accept: Option<&str>) -> Option<&'static str> {
    match negotiate_target(accept) {
        Target::Table(v) => Some(v),
        _ => None,
    }
}

/// An object as `PartialObjectMetadata` of `api_version`.
pub fn partial_metadata(obj: &Value, api_version: &str) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": api_version,
        "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

/// A list as `PartialObjectMetadataList` of `api_version`.
pub fn partial_metadata_list(list: &Value, api_version: &str) -> Value {
    json!({
        "kind": "PartialObjectMetadataList",
        "apiVersion": api_version,
        "metadata": list.get("metadata").cloned().unwrap_or_else(|| json!({})),
        "items": arr(list, &["items"]).iter().map(|o| partial_metadata(o, api_version)).collect::<Vec<_>>(),
    })
}

/// kubectl's duration text (apimachinery `duration.HumanDuration`): `5s`, `3m2s`, `15m`,
/// `5h3m`, `20h`, `2d3h`, `30d`, `2y10d`, `9y`. Negative values down to -1s print `0s`,
/// below that `<invalid>`.
pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".into();
    }
    if seconds < 0 {
        return "0s".into();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{dy}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

/// `translateTimestampSince`: `<unknown>` for a missing time, else [`human_duration`].
fn since(t: Option<&Value>, now: jiff::Timestamp) -> String {
    let Some(ts) = t
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<jiff::Timestamp>().ok())
    else {
        return "<unknown>".into();
    };
    human_duration(now.as_second() - ts.as_second())
}

fn s<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |cur, k| cur.get(*k))
}

fn text(v: &Value, path: &[&str]) -> String {
    s(v, path)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn int(v: &Value, path: &[&str]) -> i64 {
    s(v, path).and_then(Value::as_i64).unwrap_or(0)
}

fn arr<'a>(v: &'a Value, path: &[&str]) -> &'a [Value] {
    s(v, path)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn len_of(v: &Value, path: &[&str]) -> i64 {
    match s(v, path) {
        Some(Value::Object(m)) => m.len() as i64,
        Some(Value::Array(a)) => a.len() as i64,
        _ => 0,
    }
}

fn or_none(s: String) -> String {
    if s.is_empty() {
        "<none>".into()
    } else {
        s
    }
}

fn name(obj: &Value) -> Value {
    Value::String(text(obj, &["metadata", "name"]))
}

fn age(obj: &Value, now: jiff::Timestamp) -> Value {
    Value::String(since(s(obj, &["metadata", "creationTimestamp"]), now))
}

/// `labels.FormatLabels`: `k=v,k2=v2` in key order, `<none>` when empty.
fn format_labels(m: Option<&Value>) -> String {
    let Some(Value::Object(m)) = m else {
        return "<none>".into();
    };
    let mut pairs: Vec<(String, String)> = m
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect();
    pairs.sort();
    or_none(
        pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(","),
    )
}

/// A `metav1.LabelSelector` as text (`app=web,tier in (a,b)`), `<none>` when empty.
fn format_label_selector(sel: Option<&Value>) -> String {
    let Some(sel) = sel else {
        return "<none>".into();
    };
    let mut parts = Vec::new();
    if let Some(Value::Object(m)) = sel.get("matchLabels") {
        let mut keys: Vec<&String> = m.keys().collect();
        keys.sort();
        for k in keys {
            parts.push(format!("{k}={}", m[k].as_str().unwrap_or_default()));
        }
    }
    for e in arr(sel, &["matchExpressions"]) {
        let key = text(e, &["key"]);
        let values: Vec<&str> = arr(e, &["values"])
            .iter()
            .filter_map(Value::as_str)
            .collect();
        parts.push(match text(e, &["operator"]).as_str() {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key,
            "DoesNotExist" => format!("!{key}"),
            op => format!("{key} {op} ({})", values.join(",")),
        });
    }
    or_none(parts.join(","))
}

/// One column definition.
struct Col {
    name: &'static str,
    ty: &'static str,
    format: &'static str,
    priority: i32,
    description: &'static str,
}

const fn col(name: &'static str, description: &'static str) -> Col {
    Col {
        name,
        ty: "string",
        format: "",
        priority: 0,
        description,
    }
}

const fn wide(name: &'static str, description: &'static str) -> Col {
    Col {
        name,
        ty: "string",
        format: "",
        priority: 1,
        description,
    }
}

const NAME: Col = Col {
    name: "Name",
    ty: "string",
    format: "name",
    priority: 0,
    description: "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated.",
};
const AGE: Col = col(
    "Age",
    "CreationTimestamp is a timestamp representing the server time when this object was created.",
);

type RowFn = fn(&Value, jiff::Timestamp) -> Vec<Value>;

fn printer(plural: &str) -> (Vec<Col>, RowFn) {
    match plural {
        "pods" => (
            vec![
                NAME,
                col("Ready", "The aggregate readiness state of this pod for accepting traffic."),
                col("Status", "The aggregate status of the containers in this pod."),
                col("Restarts", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
                AGE,
                wide("IP", "IP address allocated to the pod. Routable at least within the cluster."),
                wide("Node", "NodeName indicates in which node this pod is scheduled."),
                wide("Nominated Node", "nominatedNodeName is set only when this pod preempts other pods on the node."),
                wide("Readiness Gates", "If specified, all readiness gates will be evaluated for pod readiness."),
            ],
            pod_row,
        ),
        "nodes" => (
            vec![
                NAME,
                col("Status", "The status of the node"),
                col("Roles", "The roles of the node"),
                AGE,
                col("Version", "Kubelet Version reported by the node."),
                wide("Internal-IP", "List of addresses reachable to the node. Queried from cloud provider, if available."),
                wide("External-IP", "List of addresses reachable to the node. Queried from cloud provider, if available."),
                wide("OS-Image", "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy))."),
                wide("Kernel-Version", "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64)."),
                wide("Container-Runtime", "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2)."),
            ],
            node_row,
        ),
        "services" => (
            vec![
                NAME,
                col("Type", "type determines how the Service is exposed."),
                col("Cluster-IP", "clusterIP is the IP address of the service."),
                col("External-IP", "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service."),
                col("Port(s)", "The list of ports that are exposed by this service."),
                AGE,
                wide("Selector", "Route service traffic to pods with label keys and values matching this selector."),
            ],
            service_row,
        ),
        "deployments" => (
            vec![
                NAME,
                col("Ready", "Number of the pod with ready state"),
                col("Up-to-date", "Total number of non-terminated pods targeted by this deployment that have the desired template spec."),
                col("Available", "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment."),
                AGE,
                wide("Containers", "Names of each container in the template."),
                wide("Images", "Images referenced by each container in the template."),
                wide("Selector", "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment."),
            ],
            deployment_row,
        ),
        "replicasets" | "replicationcontrollers" => (
            vec![
                NAME,
                col("Desired", "Replicas is the number of desired replicas."),
                col("Current", "Replicas is the most recently observed number of replicas."),
                col("Ready", "The number of ready replicas for this replica set."),
                AGE,
                wide("Containers", "Names of each container in the template."),
                wide("Images", "Images referenced by each container in the template."),
                wide("Selector", "Selector is a label query over pods that should match the replica count."),
            ],
            replicaset_row,
        ),
        "namespaces" => (
            vec![
                NAME,
                col("Status", "The status of the namespace"),
                AGE,
            ],
            |o, now| vec![name(o), text(o, &["status", "phase"]).into(), age(o, now)],
        ),
        "configmaps" => (
            vec![NAME, col("Data", "Data contains the configuration data."), AGE],
            |o, now| {
                vec![
                    name(o),
                    (len_of(o, &["data"]) + len_of(o, &["binaryData"])).into(),
                    age(o, now),
                ]
            },
        ),
        "secrets" => (
            vec![
                NAME,
                col("Type", "The type of the secret"),
                col("Data", "The number of entries in the secret"),
                AGE,
            ],
            |o, now| {
                vec![
                    name(o),
                    text(o, &["type"]).into(),
                    len_of(o, &["data"]).into(),
                    age(o, now),
                ]
            },
        ),
        "serviceaccounts" => (
            vec![NAME, col("Secrets", "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use."), AGE],
            |o, now| vec![name(o), len_of(o, &["secrets"]).into(), age(o, now)],
        ),
        "endpoints" => (
            vec![NAME, col("Endpoints", "Endpoints of the service"), AGE],
            |o, now| vec![name(o), format_endpoints(o).into(), age(o, now)],
        ),
        "endpointslices" => (
            vec![
                NAME,
                col("AddressType", "addressType specifies the type of address carried by this EndpointSlice."),
                col("Ports", "ports specifies the list of network ports exposed by each endpoint in this slice."),
                col("Endpoints", "endpoints is a list of unique endpoints in this slice."),
                AGE,
            ],
            endpointslice_row,
        ),
        "leases" => (
            vec![NAME, col("Holder", "holderIdentity contains the identity of the holder of a current lease."), AGE],
            |o, now| vec![name(o), text(o, &["spec", "holderIdentity"]).into(), age(o, now)],
        ),
        "events" => (
            vec![
                col("Last Seen", "Time when last event was observed"),
                col("Type", "Type of this event (Normal, Warning), new types could be added in the future"),
                col("Reason", "This should be a short, machine understandable string that gives the reason for the transition into the object's current status."),
                col("Object", "The object that this event is about."),
                wide("Subobject", "The subobject (field path) that this event is about."),
                wide("Source", "The component reporting this event."),
                col("Message", "A human-readable description of the status of this operation."),
                wide("First Seen", "The time at which the event was first recorded."),
                wide("Count", "The number of times this event has occurred."),
                Col { name: "Name", ty: "string", format: "name", priority: 1, description: "Name of the event." },
            ],
            event_row,
        ),
        "roles" | "clusterroles" => (
            vec![NAME, col("Created At", "CreationTimestamp is a timestamp representing the server time when this object was created.")],
            |o, _| vec![name(o), text(o, &["metadata", "creationTimestamp"]).into()],
        ),
        "rolebindings" | "clusterrolebindings" => (
            vec![
                NAME,
                col("Role", "RoleRef references the Role this binding refers to."),
                AGE,
                wide("Users", "Users in the binding"),
                wide("Groups", "Groups in the binding"),
                wide("ServiceAccounts", "ServiceAccounts in the binding"),
            ],
            binding_row,
        ),
        "priorityclasses" => (
            vec![
                NAME,
                col("Value", "The integer value of this priority class."),
                col("Global-Default", "globalDefault specifies whether this PriorityClass should be considered as the default priority."),
                AGE,
                col("PreemptionPolicy", "preemptionPolicy is the Policy for preempting pods with lower priority."),
            ],
            |o, now| {
                vec![
                    name(o),
                    int(o, &["value"]).into(),
                    s(o, &["globalDefault"]).and_then(Value::as_bool).unwrap_or(false).into(),
                    age(o, now),
                    text(o, &["preemptionPolicy"]).into(),
                ]
            },
        ),
        "poddisruptionbudgets" => (
            vec![
                NAME,
                col("Min Available", "The minimum number of pods that must be available simultaneously."),
                col("Max Unavailable", "The maximum number of pods that may be unavailable simultaneously."),
                col("Allowed Disruptions", "Calculated number of pods that may be disrupted at this time."),
                AGE,
            ],
            |o, now| {
                let io = |p: &[&str]| match s(o, p) {
                    Some(Value::Number(n)) => n.to_string(),
                    Some(Value::String(x)) => x.clone(),
                    _ => "N/A".into(),
                };
                vec![
                    name(o),
                    io(&["spec", "minAvailable"]).into(),
                    io(&["spec", "maxUnavailable"]).into(),
                    int(o, &["status", "disruptionsAllowed"]).into(),
                    age(o, now),
                ]
            },
        ),
        _ => (vec![NAME, AGE], |o, now| vec![name(o), age(o, now)]),
    }
}

fn condition_true(o: &Value, ty: &str) -> bool {
    arr(o, &["status", "conditions"])
        .iter()
        .any(|c| text(c, &["type"]) == ty && text(c, &["status"]) == "True")
}

fn is_restartable_init(spec: Option<&Value>) -> bool {
    spec.map(|c| text(c, &["restartPolicy"]) == "Always")
        .unwrap_or(false)
}

/// kubectl's pod row (`printPod`), with the wide columns.
fn pod_row(pod: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let init_specs = arr(pod, &["spec", "initContainers"]);
    let mut total = arr(pod, &["spec", "containers"]).len();
    total += init_specs
        .iter()
        .filter(|c| is_restartable_init(Some(c)))
        .count();
    let phase = text(pod, &["status", "phase"]);
    let mut reason = phase.clone();
    let status_reason = text(pod, &["status", "reason"]);
    if !status_reason.is_empty() {
        reason = status_reason.clone();
    }
    for c in arr(pod, &["status", "conditions"]) {
        if text(c, &["type"]) == "PodScheduled" && text(c, &["reason"]) == "SchedulingGated" {
            reason = "SchedulingGated".into();
        }
    }
    let finished_at = |c: &Value| {
        s(c, &["lastState", "terminated", "finishedAt"])
            .and_then(Value::as_str)
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
    };
    let mut restarts = 0i64;
    let mut sidecar_restarts = 0i64;
    let mut last_restart: Option<jiff::Timestamp> = None;
    let mut last_sidecar_restart: Option<jiff::Timestamp> = None;
    let mut ready = 0usize;
    let mut initializing = false;
    let init_statuses = arr(pod, &["status", "initContainerStatuses"]);
    for (i, c) in init_statuses.iter().enumerate() {
        let cname = text(c, &["name"]);
        let spec = init_specs.iter().find(|s| text(s, &["name"]) == cname);
        let restartable = is_restartable_init(spec);
        restarts += int(c, &["restartCount"]);
        if let Some(t) = finished_at(c) {
            last_restart = last_restart.max(Some(t));
        }
        if restartable {
            sidecar_restarts += int(c, &["restartCount"]);
            if let Some(t) = finished_at(c) {
                last_sidecar_restart = last_sidecar_restart.max(Some(t));
            }
        }
        let terminated = s(c, &["state", "terminated"]);
        let waiting_reason = text(c, &["state", "waiting", "reason"]);
        if terminated.is_some_and(|t| int(t, &["exitCode"]) == 0) {
            continue;
        }
        if restartable && s(c, &["started"]).and_then(Value::as_bool) == Some(true) {
            if s(c, &["ready"]).and_then(Value::as_bool) == Some(true) {
                ready += 1;
            }
            continue;
        }
        if let Some(t) = terminated {
            let r = text(t, &["reason"]);
            reason = if r.is_empty() {
                if int(t, &["signal"]) != 0 {
                    format!("Init:Signal:{}", int(t, &["signal"]))
                } else {
                    format!("Init:ExitCode:{}", int(t, &["exitCode"]))
                }
            } else {
                format!("Init:{r}")
            };
        } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
            reason = format!("Init:{waiting_reason}");
        } else {
            reason = format!("Init:{i}/{}", init_specs.len());
        }
        initializing = true;
        break;
    }
    if !initializing || condition_true(pod, "Initialized") {
        restarts = sidecar_restarts;
        last_restart = last_sidecar_restart;
        let mut has_running = false;
        for c in arr(pod, &["status", "containerStatuses"]).iter().rev() {
            restarts += int(c, &["restartCount"]);
            if let Some(t) = finished_at(c) {
                last_restart = last_restart.max(Some(t));
            }
            let waiting = text(c, &["state", "waiting", "reason"]);
            let terminated = s(c, &["state", "terminated"]);
            if !waiting.is_empty() {
                reason = waiting;
            } else if let Some(t) = terminated {
                let r = text(t, &["reason"]);
                reason = if !r.is_empty() {
                    r
                } else if int(t, &["signal"]) != 0 {
                    format!("Signal:{}", int(t, &["signal"]))
                } else {
                    format!("ExitCode:{}", int(t, &["exitCode"]))
                };
            } else if s(c, &["ready"]).and_then(Value::as_bool) == Some(true)
                && s(c, &["state", "running"]).is_some()
            {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            reason = if condition_true(pod, "Ready") {
                "Running".into()
            } else {
                "NotReady".into()
            };
        }
    }
    let deleting = s(pod, &["metadata", "deletionTimestamp"]).is_some_and(|v| !v.is_null());
    if deleting && status_reason == "NodeLost" {
        reason = "Unknown".into();
    } else if deleting && phase != "Succeeded" && phase != "Failed" {
        reason = "Terminating".into();
    }
    let restarts_text = match last_restart {
        Some(t) if restarts != 0 => format!(
            "{restarts} ({} ago)",
            human_duration(now.as_second() - t.as_second())
        ),
        _ => restarts.to_string(),
    };
    let ip = arr(pod, &["status", "podIPs"])
        .first()
        .map(|p| text(p, &["ip"]))
        .unwrap_or_default();
    let gates = arr(pod, &["spec", "readinessGates"]);
    let gates_text = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let conds = arr(pod, &["status", "conditions"]);
        let n = gates
            .iter()
            .filter(|g| {
                let ty = text(g, &["conditionType"]);
                conds
                    .iter()
                    .find(|c| text(c, &["type"]) == ty)
                    .is_some_and(|c| text(c, &["status"]) == "True")
            })
            .count();
        format!("{n}/{}", gates.len())
    };
    vec![
        name(pod),
        format!("{ready}/{total}").into(),
        reason.into(),
        restarts_text.into(),
        age(pod, now),
        or_none(ip).into(),
        or_none(text(pod, &["spec", "nodeName"])).into(),
        or_none(text(pod, &["status", "nominatedNodeName"])).into(),
        gates_text.into(),
    ]
}

fn node_row(node: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let mut status = Vec::new();
    if let Some(c) = arr(node, &["status", "conditions"])
        .iter()
        .find(|c| text(c, &["type"]) == "Ready")
    {
        status.push(if text(c, &["status"]) == "True" {
            "Ready"
        } else {
            "NotReady"
        });
    }
    if status.is_empty() {
        status.push("Unknown");
    }
    if s(node, &["spec", "unschedulable"]).and_then(Value::as_bool) == Some(true) {
        status.push("SchedulingDisabled");
    }
    let mut roles = BTreeSet::new();
    if let Some(Value::Object(labels)) = s(node, &["metadata", "labels"]) {
        for (k, v) in labels {
            if let Some(role) = k.strip_prefix("node-role.kubernetes.io/") {
                if !role.is_empty() {
                    roles.insert(role.to_string());
                }
            } else if k == "kubernetes.io/role" {
                if let Some(v) = v.as_str().filter(|v| !v.is_empty()) {
                    roles.insert(v.to_string());
                }
            }
        }
    }
    let addr = |ty: &str| {
        arr(node, &["status", "addresses"])
            .iter()
            .find(|a| text(a, &["type"]) == ty)
            .map(|a| text(a, &["address"]))
            .unwrap_or_default()
    };
    let unknown = |s: String| if s.is_empty() { "<unknown>".into() } else { s };
    vec![
        name(node),
        status.join(",").into(),
        or_none(roles.into_iter().collect::<Vec<_>>().join(",")).into(),
        age(node, now),
        text(node, &["status", "nodeInfo", "kubeletVersion"]).into(),
        or_none(addr("InternalIP")).into(),
        or_none(addr("ExternalIP")).into(),
        unknown(text(node, &["status", "nodeInfo", "osImage"])).into(),
        unknown(text(node, &["status", "nodeInfo", "kernelVersion"])).into(),
        unknown(text(
            node,
            &["status", "nodeInfo", "containerRuntimeVersion"],
        ))
        .into(),
    ]
}

fn service_row(svc: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let ty = text(svc, &["spec", "type"]);
    let cluster_ip = arr(svc, &["spec", "clusterIPs"])
        .first()
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| text(svc, &["spec", "clusterIP"]));
    let external_ips: Vec<String> = arr(svc, &["spec", "externalIPs"])
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    let external = match ty.as_str() {
        "ClusterIP" | "NodePort" | "" => or_none(external_ips.join(",")),
        "LoadBalancer" => {
            let mut ips: Vec<String> = arr(svc, &["status", "loadBalancer", "ingress"])
                .iter()
                .map(|i| {
                    let ip = text(i, &["ip"]);
                    if ip.is_empty() {
                        text(i, &["hostname"])
                    } else {
                        ip
                    }
                })
                .filter(|s| !s.is_empty())
                .collect();
            ips.extend(external_ips);
            if ips.is_empty() {
                "<pending>".into()
            } else {
                ips.join(",")
            }
        }
        "ExternalName" => text(svc, &["spec", "externalName"]),
        _ => "<unknown>".into(),
    };
    let ports: Vec<String> = arr(svc, &["spec", "ports"])
        .iter()
        .map(|p| {
            let proto = {
                let p = text(p, &["protocol"]);
                if p.is_empty() {
                    "TCP".to_string()
                } else {
                    p
                }
            };
            let node_port = int(p, &["nodePort"]);
            if node_port != 0 {
                format!("{}:{node_port}/{proto}", int(p, &["port"]))
            } else {
                format!("{}/{proto}", int(p, &["port"]))
            }
        })
        .collect();
    vec![
        name(svc),
        ty.into(),
        or_none(cluster_ip).into(),
        external.into(),
        or_none(ports.join(",")).into(),
        age(svc, now),
        format_labels(s(svc, &["spec", "selector"])).into(),
    ]
}

fn containers_images(o: &Value) -> (String, String) {
    let cs = arr(o, &["spec", "template", "spec", "containers"]);
    (
        cs.iter()
            .map(|c| text(c, &["name"]))
            .collect::<Vec<_>>()
            .join(","),
        cs.iter()
            .map(|c| text(c, &["image"]))
            .collect::<Vec<_>>()
            .join(","),
    )
}

fn replicas(o: &Value) -> i64 {
    s(o, &["spec", "replicas"])
        .and_then(Value::as_i64)
        .unwrap_or(1)
}

fn deployment_row(d: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let (containers, images) = containers_images(d);
    vec![
        name(d),
        format!("{}/{}", int(d, &["status", "readyReplicas"]), replicas(d)).into(),
        int(d, &["status", "updatedReplicas"]).into(),
        int(d, &["status", "availableReplicas"]).into(),
        age(d, now),
        containers.into(),
        images.into(),
        format_label_selector(s(d, &["spec", "selector"])).into(),
    ]
}

fn replicaset_row(rs: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let (containers, images) = containers_images(rs);
    let selector = match s(rs, &["spec", "selector"]) {
        // ReplicationController: a plain map.
        Some(sel) if sel.get("matchLabels").is_none() && sel.get("matchExpressions").is_none() => {
            format_labels(Some(sel))
        }
        other => format_label_selector(other),
    };
    vec![
        name(rs),
        replicas(rs).into(),
        int(rs, &["status", "replicas"]).into(),
        int(rs, &["status", "readyReplicas"]).into(),
        age(rs, now),
        containers.into(),
        images.into(),
        selector.into(),
    ]
}

/// `formatEndpoints`: up to three `ip:port`, then ` + N more...`.
fn format_endpoints(ep: &Value) -> String {
    let mut all = Vec::new();
    for subset in arr(ep, &["subsets"]) {
        let addrs = arr(subset, &["addresses"]);
        let ports = arr(subset, &["ports"]);
        if ports.is_empty() {
            for a in addrs {
                all.push(text(a, &["ip"]));
            }
        } else {
            for p in ports {
                for a in addrs {
                    all.push(format!("{}:{}", text(a, &["ip"]), int(p, &["port"])));
                }
            }
        }
    }
    format_list(all)
}

fn format_list(all: Vec<String>) -> String {
    if all.is_empty() {
        return "<none>".into();
    }
    let mut out = all.iter().take(3).cloned().collect::<Vec<_>>().join(",");
    if all.len() > 3 {
        out.push_str(&format!(" + {} more...", all.len() - 3));
    }
    out
}

fn endpointslice_row(es: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let ports: Vec<String> = arr(es, &["ports"])
        .iter()
        .map(|p| int(p, &["port"]).to_string())
        .collect();
    let addrs: Vec<String> = arr(es, &["endpoints"])
        .iter()
        .flat_map(|e| arr(e, &["addresses"]).iter())
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    vec![
        name(es),
        text(es, &["addressType"]).into(),
        if ports.is_empty() {
            "<unset>".to_string()
        } else {
            format_list(ports)
        }
        .into(),
        if addrs.is_empty() {
            "<unset>".to_string()
        } else {
            format_list(addrs)
        }
        .into(),
        age(es, now),
    ]
}

fn event_row(ev: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let first = s(ev, &["firstTimestamp"])
        .filter(|v| !v.is_null())
        .or_else(|| s(ev, &["eventTime"]).filter(|v| !v.is_null()));
    let last = s(ev, &["series", "lastObservedTime"])
        .filter(|v| !v.is_null())
        .or_else(|| s(ev, &["lastTimestamp"]).filter(|v| !v.is_null()))
        .or(first);
    let count = s(ev, &["series", "count"])
        .and_then(Value::as_i64)
        .unwrap_or_else(|| int(ev, &["count"]));
    let mut source = text(ev, &["source", "component"]);
    if source.is_empty() {
        source = text(ev, &["reportingComponent"]);
    }
    let host = text(ev, &["source", "host"]);
    if !host.is_empty() {
        source = format!("{source}, {host}");
    }
    vec![
        since(last, now).into(),
        text(ev, &["type"]).into(),
        text(ev, &["reason"]).into(),
        format!(
            "{}/{}",
            text(ev, &["involvedObject", "kind"]).to_lowercase(),
            text(ev, &["involvedObject", "name"])
        )
        .into(),
        text(ev, &["involvedObject", "fieldPath"]).into(),
        source.into(),
        text(ev, &["message"]).trim().to_string().into(),
        since(first, now).into(),
        count.into(),
        name(ev),
    ]
}

fn binding_row(b: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let subjects = arr(b, &["subjects"]);
    let of = |kind: &str, with_ns: bool| {
        subjects
            .iter()
            .filter(|s| text(s, &["kind"]) == kind)
            .map(|s| {
                if with_ns {
                    format!("{}/{}", text(s, &["namespace"]), text(s, &["name"]))
                } else {
                    text(s, &["name"])
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    vec![
        name(b),
        format!(
            "{}/{}",
            text(b, &["roleRef", "kind"]),
            text(b, &["roleRef", "name"])
        )
        .into(),
        age(b, now),
        of("User", false).into(),
        of("Group", false).into(),
        of("ServiceAccount", true).into(),
    ]
}

fn column_definitions(cols: &[Col]) -> Value {
    Value::Array(
        cols.iter()
            .map(|c| {
                json!({
                    "name": c.name,
                    "type": c.ty,
                    "format": c.format,
                    "description": c.description,
                    "priority": c.priority,
                })
            })
            .collect(),
    )
}

/// The row `object` for `include`.
fn row_object(obj: &Value, include: IncludeObject) -> Value {
    match include {
        IncludeObject::None => Value::Null,
        IncludeObject::Object => obj.clone(),
        IncludeObject::Metadata => partial_metadata(obj, "meta.k8s.io/v1"),
    }
}

fn row(obj: &Value, f: RowFn, include: IncludeObject, now: jiff::Timestamp) -> Value {
    let mut r = serde_json::Map::new();
    r.insert("cells".into(), Value::Array(f(obj, now)));
    if let Some(cond) = match text(obj, &["status", "phase"]).as_str() {
        "Succeeded" if obj.get("kind").and_then(Value::as_str) == Some("Pod") => Some(json!([{
            "type": "Completed", "status": "True", "reason": "Succeeded",
            "message": "The pod has completed successfully."}])),
        "Failed" if obj.get("kind").and_then(Value::as_str) == Some("Pod") => Some(json!([{
            "type": "Completed", "status": "True", "reason": "Failed",
            "message": "The pod failed."}])),
        _ => None,
    } {
        r.insert("conditions".into(), cond);
    }
    let o = row_object(obj, include);
    if !o.is_null() {
        r.insert("object".into(), o);
    }
    Value::Object(r)
}

fn table(list_meta: Value, cols: &[Col], rows: Vec<Value>) -> Value {
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": column_definitions(cols),
        "rows": rows,
    })
}

/// A list (`PodList`…) of `resource` as a `Table`; the list's `metadata` (resourceVersion,
/// continue) is kept.
pub fn list_table(
    resource: &ResourceInfo,
    list: &Value,
    include: IncludeObject,
    now: jiff::Timestamp,
) -> Value {
    let (cols, f) = printer(resource.plural);
    let rows = arr(list, &["items"])
        .iter()
        .map(|o| row(o, f, include, now))
        .collect();
    table(
        list.get("metadata").cloned().unwrap_or_else(|| json!({})),
        &cols,
        rows,
    )
}

/// One object of `resource` as a one-row `Table` (`kubectl get pod p`, watch events).
pub fn object_table(
    resource: &ResourceInfo,
    obj: &Value,
    include: IncludeObject,
    now: jiff::Timestamp,
) -> Value {
    let (cols, f) = printer(resource.plural);
    let rv = s(obj, &["metadata", "resourceVersion"]).cloned();
    let meta = match rv {
        Some(rv) => json!({ "resourceVersion": rv }),
        None => json!({}),
    };
    table(meta, &cols, vec![row(obj, f, include, now)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use kubox_core::registry;

    fn now() -> jiff::Timestamp {
        "2026-01-01T00:10:00Z".parse().unwrap()
    }

    fn pods() -> &'static ResourceInfo {
        registry::find("", "v1", "pods").unwrap()
    }

    fn cells(plural: &str, obj: Value) -> Vec<Value> {
        let r = registry::RESOURCES
            .iter()
            .find(|r| r.plural == plural)
            .unwrap();
        let t = object_table(r, &obj, IncludeObject::None, now());
        t["rows"][0]["cells"].as_array().unwrap().clone()
    }

    #[test]
    fn human_durations_match_kubectl() {
        for (secs, want) in [
            (-5, "<invalid>"),
            (-1, "0s"),
            (0, "0s"),
            (5, "5s"),
            (119, "119s"),
            (120, "2m"),
            (182, "3m2s"),
            (600, "10m"),
            (179 * 60, "179m"),
            (3 * 3600, "3h"),
            (5 * 3600 + 3 * 60, "5h3m"),
            (20 * 3600, "20h"),
            (51 * 3600, "2d3h"),
            (30 * 86400, "30d"),
            (2 * 365 * 86400 + 10 * 86400, "2y10d"),
            (9 * 365 * 86400, "9y"),
        ] {
            assert_eq!(human_duration(secs), want, "{secs}");
        }
    }

    #[test]
    fn table_negotiation() {
        let kubectl = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(negotiate(Some(kubectl)), Some("meta.k8s.io/v1"));
        assert_eq!(negotiate(Some("application/json")), None);
        assert_eq!(negotiate(None), None);
        let meta = "application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json";
        assert_eq!(
            negotiate_target(Some(meta)),
            Target::Metadata("meta.k8s.io/v1")
        );
        assert_eq!(
            negotiate_target(Some("application/json;as=Foo;g=x;v=y,application/json")),
            Target::Plain
        );
        let l = partial_metadata_list(
            &json!({"metadata":{"resourceVersion":"3"},"items":[{"kind":"Pod","metadata":{"name":"a"},"spec":{}}]}),
            "meta.k8s.io/v1",
        );
        assert_eq!(
            l["items"][0],
            json!({"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":{"name":"a"}})
        );
        assert_eq!(l["metadata"]["resourceVersion"], "3");
    }

    #[test]
    fn pod_status_column_cases() {
        let base = |status: Value| {
            json!({"kind":"Pod","metadata":{"name":"p","creationTimestamp":"2026-01-01T00:09:55Z"},
                   "spec":{"containers":[{"name":"a"},{"name":"b"}]},"status":status})
        };
        // Pending, nothing reported yet.
        let c = cells("pods", base(json!({"phase":"Pending"})));
        assert_eq!(
            c[..5],
            [
                json!("p"),
                json!("0/2"),
                json!("Pending"),
                json!("0"),
                json!("5s")
            ]
        );
        assert_eq!(
            c[5..],
            [
                json!("<none>"),
                json!("<none>"),
                json!("<none>"),
                json!("<none>")
            ]
        );
        // Running, one ready, one crash-looping with restarts.
        let c = cells(
            "pods",
            base(
                json!({"phase":"Running","podIPs":[{"ip":"10.0.0.5"}],"containerStatuses":[
            {"name":"a","ready":true,"restartCount":0,"state":{"running":{}}},
            {"name":"b","ready":false,"restartCount":3,"state":{"waiting":{"reason":"CrashLoopBackOff"}},
             "lastState":{"terminated":{"exitCode":1,"finishedAt":"2026-01-01T00:07:00Z"}}}]}),
            ),
        );
        assert_eq!(c[1], "1/2");
        assert_eq!(c[2], "CrashLoopBackOff");
        assert_eq!(c[3], "3 (3m ago)");
        assert_eq!(c[5], "10.0.0.5");
        // Completed but one container still running and ready → NotReady without Ready cond.
        let c = cells(
            "pods",
            base(json!({"phase":"Running","containerStatuses":[
            {"name":"a","ready":true,"state":{"running":{}}},
            {"name":"b","ready":false,"state":{"terminated":{"exitCode":0,"reason":"Completed"}}}]})),
        );
        assert_eq!(c[2], "NotReady");
        // Terminated without a reason → ExitCode:N / Signal:N.
        let c = cells(
            "pods",
            base(json!({"phase":"Failed","containerStatuses":[
            {"name":"a","state":{"terminated":{"exitCode":2}}}]})),
        );
        assert_eq!(c[2], "ExitCode:2");
        // Init containers.
        let mut p = base(json!({"phase":"Pending","initContainerStatuses":[
            {"name":"i1","state":{"terminated":{"exitCode":0}}},
            {"name":"i2","state":{"waiting":{"reason":"PodInitializing"}}}]}));
        p["spec"]["initContainers"] = json!([{"name":"i1"},{"name":"i2"}]);
        assert_eq!(cells("pods", p.clone())[2], "Init:1/2");
        p["status"]["initContainerStatuses"][1]["state"] =
            json!({"waiting":{"reason":"ErrImagePull"}});
        assert_eq!(cells("pods", p.clone())[2], "Init:ErrImagePull");
        p["status"]["initContainerStatuses"][1]["state"] =
            json!({"terminated":{"exitCode":1,"reason":"Error"}});
        assert_eq!(cells("pods", p)[2], "Init:Error");
        // Deleting.
        let mut p = base(json!({"phase":"Running"}));
        p["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:09:59Z");
        assert_eq!(cells("pods", p)[2], "Terminating");
        // Status reason wins over phase.
        assert_eq!(
            cells("pods", base(json!({"phase":"Failed","reason":"Evicted"})))[2],
            "Evicted"
        );
    }

    #[test]
    fn other_printers() {
        let node = json!({"metadata":{"name":"n1","labels":{"node-role.kubernetes.io/control-plane":""}},
            "spec":{"unschedulable":true},
            "status":{"conditions":[{"type":"Ready","status":"True"}],"nodeInfo":{"kubeletVersion":"v1.33.1"}}});
        let c = cells("nodes", node);
        assert_eq!(c[1], "Ready,SchedulingDisabled");
        assert_eq!(c[2], "control-plane");
        assert_eq!(c[3], "<unknown>");
        assert_eq!(c[4], "v1.33.1");
        let svc = json!({"metadata":{"name":"s"},"spec":{"type":"NodePort","clusterIP":"10.96.0.10","clusterIPs":["10.96.0.10"],
            "ports":[{"port":80,"protocol":"TCP","nodePort":30080},{"port":53,"protocol":"UDP"}],"selector":{"app":"web"}}});
        let c = cells("services", svc);
        assert_eq!(
            c[1..5],
            [
                json!("NodePort"),
                json!("10.96.0.10"),
                json!("<none>"),
                json!("80:30080/TCP,53/UDP")
            ]
        );
        assert_eq!(c[6], "app=web");
        let d = json!({"metadata":{"name":"web"},"spec":{"replicas":3,"selector":{"matchLabels":{"app":"web"}},
            "template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.25"}]}}},
            "status":{"readyReplicas":2,"updatedReplicas":3,"availableReplicas":2}});
        let c = cells("deployments", d);
        assert_eq!(c[1..4], [json!("2/3"), json!(3), json!(2)]);
        assert_eq!(
            c[5..],
            [json!("nginx"), json!("nginx:1.25"), json!("app=web")]
        );
        let ep = json!({"metadata":{"name":"e"},"subsets":[{"addresses":[{"ip":"1.1.1.1"},{"ip":"1.1.1.2"}],"ports":[{"port":80},{"port":81}]}]});
        assert_eq!(
            cells("endpoints", ep)[1],
            "1.1.1.1:80,1.1.1.2:80,1.1.1.1:81 + 1 more..."
        );
        let s = json!({"metadata":{"name":"s"},"type":"Opaque","data":{"a":"","b":""}});
        assert_eq!(cells("secrets", s)[1..3], [json!("Opaque"), json!(2)]);
        let ns = json!({"metadata":{"name":"x"},"status":{"phase":"Active"}});
        assert_eq!(cells("namespaces", ns)[1], "Active");
        let lease = json!({"metadata":{"name":"l"},"spec":{"holderIdentity":"n1"}});
        assert_eq!(cells("leases", lease)[1], "n1");
    }

    #[test]
    fn include_object_and_list_metadata() {
        let list = json!({"kind":"PodList","metadata":{"resourceVersion":"7"},"items":[
            {"kind":"Pod","metadata":{"name":"a","namespace":"default"},"spec":{"containers":[]},"status":{}}]});
        let t = list_table(pods(), &list, IncludeObject::Metadata, now());
        assert_eq!(t["metadata"]["resourceVersion"], "7");
        assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
        assert_eq!(t["rows"][0]["object"]["metadata"]["namespace"], "default");
        assert_eq!(t["columnDefinitions"][0]["format"], "name");
        assert_eq!(t["columnDefinitions"][5]["priority"], 1);
        let t = list_table(pods(), &list, IncludeObject::None, now());
        assert!(t["rows"][0].get("object").is_none());
        let other = registry::find("scheduling.k8s.io", "v1", "priorityclasses").unwrap();
        let _ = list_table(other, &json!({"items":[]}), IncludeObject::Object, now());
        let gv = registry::find("coordination.k8s.io", "v1", "leases").unwrap();
        let t = list_table(gv, &json!({"items":[]}), IncludeObject::Object, now());
        assert_eq!(t["columnDefinitions"].as_array().unwrap().len(), 3);
    }
}
