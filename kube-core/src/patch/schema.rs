//! How each built-in kind's fields merge: the `patchStrategy`/`patchMergeKey` struct tags of
//! `k8s.io/api` (strategic merge patch) and the `+listType`/`+listMapKey`/`+mapType`
//! markers (server-side apply), as a static tree per kind.
//!
//! Only fields that matter are listed: a field that is not in its [`TypeSchema`] merges the
//! default way (objects merge key by key, lists are replaced whole by a strategic merge patch and
//! are atomic for server-side apply). Sub-schemas are shared: `PodSpec` appears under Pod
//! `spec` and under `spec.template.spec` of Deployment, ReplicaSet and ReplicationController.
//!
//! | field (all kinds) | strategic merge patch | server-side apply |
//! |---|---|---|
//! | `metadata.finalizers` | merge (primitive set) | set |
//! | `metadata.ownerReferences` | merge by `uid` | map `uid` |
//!
//! | PodSpec field | strategic merge patch | server-side apply |
//! |---|---|---|
//! | `containers`, `initContainers`, `ephemeralContainers` | merge by `name` | map `name` |
//! | container `ports` | merge by `containerPort` | map `containerPort`, `protocol` |
//! | container `env` | merge by `name` | map `name` |
//! | container `volumeMounts` / `volumeDevices` | merge by `mountPath` / `devicePath` | map, same key |
//! | container `resources.claims` | replace | map `name` |
//! | `volumes` | merge by `name`, retainKeys | map `name` |
//! | `imagePullSecrets` | merge by `name` | map `name` |
//! | `hostAliases` | merge by `ip` | map `ip` |
//! | `topologySpreadConstraints` | merge by `topologyKey` | map `topologyKey`, `whenUnsatisfiable` |
//! | `schedulingGates` | merge by `name` | map `name` |
//! | `resourceClaims` | merge by `name`, retainKeys | map `name` |
//! | `tolerations`, `readinessGates`, `args`, `command`, `envFrom`, … | replace | atomic |
//! | `nodeSelector` | merge | atomic map |
//!
//! | kind | fields |
//! |---|---|
//! | Pod | `spec` PodSpec; `status.conditions` by `type`; `status.podIPs`, `status.hostIPs` by `ip`; `status.resourceClaimStatuses` by `name` |
//! | Deployment | `spec.template.spec` PodSpec; `spec.strategy` retainKeys; `spec.selector` atomic; `status.conditions` by `type` |
//! | ReplicaSet | `spec.template.spec` PodSpec; `spec.selector` atomic; `status.conditions` by `type` |
//! | ReplicationController | `spec.template.spec` PodSpec; `spec.selector` atomic map; `status.conditions` by `type` |
//! | Service | `spec.ports` merge by `port` (apply: `port`, `protocol`); `spec.selector` atomic map; `status.conditions` by `type` |
//! | Node | `spec.podCIDRs` merge set; `spec.taints` replace; `status.conditions`, `status.addresses` by `type` |
//! | Namespace | `status.conditions` by `type` |
//! | ServiceAccount | `secrets` by `name` |
//! | PodDisruptionBudget | `spec.selector` atomic; `status.conditions` by `type` |
//! | ConfigMap, Secret, Endpoints, EndpointSlice, Event, Lease, PriorityClass, Binding, RBAC kinds, Scale | `metadata` only (their lists are atomic) |
//!
//! A list-map key that is missing from an item defaults for server-side apply the way the API
//! defaults it: `protocol` is `TCP` ([`key_default`]).

use serde_json::Value;

/// The patch metadata of one object type (a Go struct of `k8s.io/api`).
#[derive(Debug)]
pub struct TypeSchema {
    /// The Go type's name (`PodSpec`), for messages and debugging.
    pub name: &'static str,
    /// The fields with non-default merge behaviour, or that lead to such fields.
    pub fields: &'static [Field],
}

impl TypeSchema {
    /// The field named `name` (its JSON name), if it has non-default behaviour.
    pub fn field(&self, name: &str) -> Option<&'static Field> {
        // `self` is always a `&'static TypeSchema` in practice; copy the slice out to return
        // 'static references.
        let fields: &'static [Field] = self.fields;
        fields.iter().find(|f| f.name == name)
    }
}

/// How a strategic merge patch treats a field (`patchStrategy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// No tag: objects merge key by key, lists are replaced.
    Default,
    /// `patchStrategy:"merge"`: lists merge (by [`Field::merge_key`] for lists of objects, as a
    /// set for lists of scalars).
    Merge,
    /// `patchStrategy:"replace"`: the value is replaced whole, even an object.
    Replace,
}

/// How server-side apply treats a list (`+listType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListType {
    /// `atomic` (the default): the list is one value, owned and replaced as a whole.
    Atomic,
    /// `set`: a list of unique scalars; each value is owned on its own (`v:` keys).
    Set,
    /// `map` with these `+listMapKey`s: items are identified by their key fields (`k:` keys).
    Map(&'static [&'static str]),
}

/// One field of a [`TypeSchema`].
#[derive(Clone, Copy, Debug)]
pub struct Field {
    /// The JSON name (`containers`).
    pub name: &'static str,
    /// The strategic merge patch strategy.
    pub strategy: Strategy,
    /// `patchMergeKey`: the key that identifies items of a merging list of objects.
    pub merge_key: Option<&'static str>,
    /// Whether `retainKeys` is part of the patch strategy (union types such as volumes and
    /// Deployment `strategy`). Informational: a `$retainKeys` directive is honoured anywhere.
    pub retain_keys: bool,
    /// Server-side apply semantics of the list (ignored for other values).
    pub list_type: ListType,
    /// Server-side apply treats this object or map as one value (`+structType=atomic`,
    /// `+mapType=atomic`).
    pub atomic: bool,
    /// The schema of the value (an object) or of the list's items.
    pub schema: Option<&'static TypeSchema>,
}

impl Field {
    /// A field with default behaviour.
    pub const fn new(name: &'static str) -> Field {
        Field {
            name,
            strategy: Strategy::Default,
            merge_key: None,
            retain_keys: false,
            list_type: ListType::Atomic,
            atomic: false,
            schema: None,
        }
    }

    /// An object-valued field whose own fields are described by `schema`.
    pub const fn object(name: &'static str, schema: &'static TypeSchema) -> Field {
        Field {
            schema: Some(schema),
            ..Field::new(name)
        }
    }

    /// A list of objects that merges by `key` (strategic merge patch) and is a list-map keyed
    /// by `ssa_keys` (server-side apply).
    pub const fn merge_list(
        name: &'static str,
        key: &'static str,
        ssa_keys: &'static [&'static str],
        items: Option<&'static TypeSchema>,
    ) -> Field {
        Field {
            strategy: Strategy::Merge,
            merge_key: Some(key),
            list_type: ListType::Map(ssa_keys),
            schema: items,
            ..Field::new(name)
        }
    }

    /// A list of scalars that merges as a set (`patchStrategy:"merge"`, `+listType=set`).
    pub const fn merge_set(name: &'static str) -> Field {
        Field {
            strategy: Strategy::Merge,
            list_type: ListType::Set,
            ..Field::new(name)
        }
    }

    /// A list that a strategic merge patch replaces but server-side apply merges as a list-map.
    pub const fn map_list(
        name: &'static str,
        ssa_keys: &'static [&'static str],
        items: Option<&'static TypeSchema>,
    ) -> Field {
        Field {
            list_type: ListType::Map(ssa_keys),
            schema: items,
            ..Field::new(name)
        }
    }

    /// An object or map that server-side apply treats as one value.
    pub const fn atomic(name: &'static str) -> Field {
        Field {
            atomic: true,
            ..Field::new(name)
        }
    }

    /// The same field with `retainKeys` added to its patch strategy.
    pub const fn with_retain_keys(self) -> Field {
        Field {
            retain_keys: true,
            ..self
        }
    }

    /// The same field with `patchStrategy:"replace"`.
    pub const fn replaced(self) -> Field {
        Field {
            strategy: Strategy::Replace,
            ..self
        }
    }

    /// The same field with items/value described by `schema`.
    pub const fn with_schema(self, schema: &'static TypeSchema) -> Field {
        Field {
            schema: Some(schema),
            ..self
        }
    }
}

/// The value a list-map key field takes when an item leaves it out (the API's default), for
/// server-side apply: `protocol` defaults to `TCP` (container and Service ports).
pub fn key_default(key: &str) -> Option<Value> {
    match key {
        "protocol" => Some(Value::String("TCP".to_string())),
        _ => None,
    }
}

const fn schema(name: &'static str, fields: &'static [Field]) -> TypeSchema {
    TypeSchema { name, fields }
}

/// `metav1.ObjectMeta`.
pub static OBJECT_META: TypeSchema = schema(
    "ObjectMeta",
    &[
        Field::merge_set("finalizers"),
        Field::merge_list("ownerReferences", "uid", &["uid"], None),
    ],
);

static RESOURCE_REQUIREMENTS: TypeSchema = schema(
    "ResourceRequirements",
    &[Field::map_list("claims", &["name"], None)],
);

/// `core/v1.Container` (and `EphemeralContainer`).
pub static CONTAINER: TypeSchema = schema(
    "Container",
    &[
        Field::merge_list(
            "ports",
            "containerPort",
            &["containerPort", "protocol"],
            None,
        ),
        Field::merge_list("env", "name", &["name"], None),
        Field::merge_list("volumeMounts", "mountPath", &["mountPath"], None),
        Field::merge_list("volumeDevices", "devicePath", &["devicePath"], None),
        Field::object("resources", &RESOURCE_REQUIREMENTS),
    ],
);

static TOPOLOGY_SPREAD_CONSTRAINT: TypeSchema = schema(
    "TopologySpreadConstraint",
    &[Field::atomic("labelSelector")],
);

static NODE_AFFINITY: TypeSchema = schema(
    "NodeAffinity",
    &[Field::atomic(
        "requiredDuringSchedulingIgnoredDuringExecution",
    )],
);

static AFFINITY: TypeSchema = schema("Affinity", &[Field::object("nodeAffinity", &NODE_AFFINITY)]);

/// `core/v1.PodSpec`.
pub static POD_SPEC: TypeSchema = schema(
    "PodSpec",
    &[
        Field::merge_list("volumes", "name", &["name"], None).with_retain_keys(),
        Field::merge_list("initContainers", "name", &["name"], Some(&CONTAINER)),
        Field::merge_list("containers", "name", &["name"], Some(&CONTAINER)),
        Field::merge_list("ephemeralContainers", "name", &["name"], Some(&CONTAINER)),
        Field::merge_list("imagePullSecrets", "name", &["name"], None),
        Field::merge_list("hostAliases", "ip", &["ip"], None),
        Field::merge_list(
            "topologySpreadConstraints",
            "topologyKey",
            &["topologyKey", "whenUnsatisfiable"],
            Some(&TOPOLOGY_SPREAD_CONSTRAINT),
        ),
        Field::merge_list("schedulingGates", "name", &["name"], None),
        Field::merge_list("resourceClaims", "name", &["name"], None).with_retain_keys(),
        Field::atomic("nodeSelector"),
        Field::object("affinity", &AFFINITY),
    ],
);

static POD_STATUS: TypeSchema = schema(
    "PodStatus",
    &[
        Field::merge_list("conditions", "type", &["type"], None),
        Field::merge_list("podIPs", "ip", &["ip"], None),
        Field::merge_list("hostIPs", "ip", &["ip"], None),
        Field::merge_list("resourceClaimStatuses", "name", &["name"], None).with_retain_keys(),
    ],
);

/// `core/v1.Pod`.
pub static POD: TypeSchema = schema(
    "Pod",
    &[
        Field::object("metadata", &OBJECT_META),
        Field::object("spec", &POD_SPEC),
        Field::object("status", &POD_STATUS),
    ],
);

/// `core/v1.PodTemplateSpec`.
pub static POD_TEMPLATE_SPEC: TypeSchema = schema(
    "PodTemplateSpec",
    &[
        Field::object("metadata", &OBJECT_META),
        Field::object("spec", &POD_SPEC),
    ],
);

/// A status whose only special field is `conditions` merging by `type`.
static CONDITIONS_STATUS: TypeSchema = schema(
    "Status",
    &[Field::merge_list("conditions", "type", &["type"], None)],
);

static DEPLOYMENT_SPEC: TypeSchema = schema(
    "DeploymentSpec",
    &[
        Field::atomic("selector"),
        Field::object("template", &POD_TEMPLATE_SPEC),
        Field::new("strategy").with_retain_keys(),
    ],
);

/// `apps/v1.Deployment`.
pub static DEPLOYMENT: TypeSchema = schema(
    "Deployment",
    &[
        Field::object("metadata", &OBJECT_META),
        Field::object("spec", &DEPLOYMENT_SPEC),
        Field::object("status", &CONDITIONS_STATUS),
    ],
);

/// `spec` of ReplicaSet and ReplicationController: `selector` is atomic (a LabelSelector for
/// the former, a `+mapType=atomic` map for the latter), `template` holds a PodSpec.
static REPLICA_SPEC: TypeSchema = schema(
    "ReplicaSetSpec",
    &[
        Field::atomic("selector"),
        Field::object("template", &POD_TEMPLATE_SPEC),
    ],
);

/// `apps/v1.ReplicaSet` and `core/v1.ReplicationController`.
pub static REPLICA_SET: TypeSchema = schema(
    "ReplicaSet",
    &[
        Field::object("metadata", &OBJECT_META),
        Field::object("spec", &REPLICA_SPEC),
        Field::object("status", &CONDITIONS_STATUS),
    ],
);

static SERVICE_SPEC: TypeSchema = schema(
    "ServiceSpec",
    &[
        Field::merge_list("ports", "port", &["port", "protocol"], None),
        Field::atomic("selector"),
    ],
);

/// `core/v1.Service`.
pub static SERVICE: TypeSchema = schema(
    "Service",
    &[
        Field::object("metadata", &OBJECT_META),
        Field::object("spec", &SERVICE_SPEC),
        Field::object("status", &CONDITIONS_STATUS),
    ],
);

static NODE_SPEC: TypeSchema = schema("NodeSpec", &[Field::merge_set("podCIDRs")]);

static NODE_STATUS: TypeSchema = schema(
    "NodeStatus",
    &[
        Field::merge_list("conditions", "type", &["type"], None),
        Field::merge_list("addresses", "type", &["type"], None),
    ],
);

/// `core/v1.Node`.
pub static NODE: TypeSchema = schema(
    "Node",
    &[
        Field::object("metadata", &OBJECT_META),
        Field::object("spec", &NODE_SPEC),
        Field::object("status", &NODE_STATUS),
    ],
);

/// `core/v1.Namespace`.
pub static NAMESPACE: TypeSchema = schema(
    "Namespace",
    &[
        Field::object("metadata", &OBJECT_META),
        Field::object("status", &CONDITIONS_STATUS),
    ],
);

/// `core/v1.ServiceAccount`.
pub static SERVICE_ACCOUNT: TypeSchema = schema(
    "ServiceAccount",
    &[
        Field::object("metadata", &OBJECT_META),
        Field::merge_list("secrets", "name", &["name"], None),
    ],
);

static PDB_SPEC: TypeSchema = schema("PodDisruptionBudgetSpec", &[Field::atomic("selector")]);

/// `policy/v1.PodDisruptionBudget`.
pub static POD_DISRUPTION_BUDGET: TypeSchema = schema(
    "PodDisruptionBudget",
    &[
        Field::object("metadata", &OBJECT_META),
        Field::object("spec", &PDB_SPEC),
        Field::object("status", &CONDITIONS_STATUS),
    ],
);

/// Any kind whose only special fields are in `metadata` (ConfigMap, Secret, Endpoints,
/// EndpointSlice, Event, Lease, PriorityClass, Binding, the RBAC kinds, Scale).
pub static METADATA_ONLY: TypeSchema = schema("Object", &[Field::object("metadata", &OBJECT_META)]);

/// The schema of a built-in kind, by `apiVersion` (`v1`, `apps/v1`) and `kind`; `None` for
/// kinds without one (custom resources), which the API answers with 415 for strategic merge
/// patches.
///
/// Every kind of [`crate::registry::RESOURCES`] has one, and so does `autoscaling/v1` `Scale`.
pub fn for_kind(api_version: &str, kind: &str) -> Option<&'static TypeSchema> {
    let s = match (api_version, kind) {
        ("v1", "Pod") => &POD,
        ("v1", "Service") => &SERVICE,
        ("v1", "Node") => &NODE,
        ("v1", "Namespace") => &NAMESPACE,
        ("v1", "ServiceAccount") => &SERVICE_ACCOUNT,
        ("v1", "ReplicationController") | ("apps/v1", "ReplicaSet") => &REPLICA_SET,
        ("apps/v1", "Deployment") => &DEPLOYMENT,
        ("policy/v1", "PodDisruptionBudget") => &POD_DISRUPTION_BUDGET,
        ("v1", "ConfigMap" | "Secret" | "Endpoints" | "Event" | "Binding")
        | ("autoscaling/v1", "Scale")
        | ("discovery.k8s.io/v1", "EndpointSlice")
        | ("coordination.k8s.io/v1", "Lease")
        | ("scheduling.k8s.io/v1", "PriorityClass")
        | ("authorization.k8s.io/v1", "SelfSubjectAccessReview" | "SelfSubjectRulesReview")
        | ("authentication.k8s.io/v1", "TokenReview" | "SelfSubjectReview")
        | ("authentication.k8s.io/v1beta1", "SelfSubjectReview")
        | (
            "rbac.authorization.k8s.io/v1",
            "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding",
        ) => &METADATA_ONLY,
        _ => return None,
    };
    Some(s)
}

/// The schema of an object, from its own `apiVersion` and `kind`.
///
/// # Errors
/// [`super::Error::UnsupportedKind`] (415) when the kind has no schema or the object does not
/// say what it is.
pub fn for_object(obj: &Value) -> Result<&'static TypeSchema, super::Error> {
    let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    for_kind(api_version, kind).ok_or_else(|| super::Error::UnsupportedKind {
        api_version: api_version.to_string(),
        kind: kind.to_string(),
    })
}
