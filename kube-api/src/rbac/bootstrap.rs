//! The default ClusterRoles and ClusterRoleBindings of a fresh cluster (Kubernetes'
//! `plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go`), and
//! [`ensure_bootstrap_policy`], which creates the missing ones.
//!
//! Every object carries the label `kubernetes.io/bootstrapping: rbac-defaults` and the
//! annotation `rbac.authorization.kubernetes.io/autoupdate: "true"`. Rule lists are sorted
//! and de-duplicated as Kubernetes' rule builder does. Roles behind feature gates that kubox
//! does not serve (dynamic resource allocation, …) are not part of this set; of the
//! per-controller roles (`system:controller:*`, [`controller_roles`]) those of the controllers
//! kubox runs or may run are.

use super::escalation::covers;
use super::policy::Policy;
use crate::auth::UserInfo;
use crate::server::ApiServer;
use kubox_core::api::rbac_v1::{
    AggregationRule, ClusterRole, ClusterRoleBinding, PolicyRule, RoleRef, Subject,
};
use kubox_core::client::{GroupVersionResource, PostParams, Request, Verb};
use kubox_core::meta::{LabelSelector, ObjectMeta};
use serde_json::Value;
use std::collections::BTreeMap;

/// The label on every bootstrap object.
pub const BOOTSTRAP_LABEL: (&str, &str) = ("kubernetes.io/bootstrapping", "rbac-defaults");
/// The annotation that lets the API server reconcile a bootstrap object on start.
pub const AUTOUPDATE_ANNOTATION: &str = "rbac.authorization.kubernetes.io/autoupdate";
/// The label that aggregates a ClusterRole into `admin`.
pub const AGGREGATE_TO_ADMIN: &str = "rbac.authorization.k8s.io/aggregate-to-admin";
/// The label that aggregates a ClusterRole into `edit`.
pub const AGGREGATE_TO_EDIT: &str = "rbac.authorization.k8s.io/aggregate-to-edit";
/// The label that aggregates a ClusterRole into `view`.
pub const AGGREGATE_TO_VIEW: &str = "rbac.authorization.k8s.io/aggregate-to-view";

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";
const LEGACY: &str = "";
const APPS: &str = "apps";
const AUTHENTICATION: &str = "authentication.k8s.io";
const AUTHORIZATION: &str = "authorization.k8s.io";
const AUTOSCALING: &str = "autoscaling";
const BATCH: &str = "batch";
const CERTIFICATES: &str = "certificates.k8s.io";
const COORDINATION: &str = "coordination.k8s.io";
const DISCOVERY: &str = "discovery.k8s.io";
const EVENTS: &str = "events.k8s.io";
const EXTENSIONS: &str = "extensions";
const NETWORKING: &str = "networking.k8s.io";
const NODE: &str = "node.k8s.io";
const POLICY: &str = "policy";
const STORAGE: &str = "storage.k8s.io";

const READ: &[&str] = &["get", "list", "watch"];
const WRITE: &[&str] = &["create", "update", "patch", "delete", "deletecollection"];
const READ_WRITE: &[&str] = &[
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
];
const READ_UPDATE: &[&str] = &["get", "list", "watch", "update", "patch"];

/// A rule builder after `rbacv1helpers.NewRule`: every list sorted and de-duplicated.
struct Rule(PolicyRule);

fn set(items: &[&str]) -> Option<Vec<String>> {
    let mut v: Vec<String> = items.iter().map(|s| s.to_string()).collect();
    v.sort();
    v.dedup();
    Some(v)
}

fn rule(verbs: &[&str]) -> Rule {
    Rule(PolicyRule {
        verbs: set(verbs).unwrap_or_default(),
        ..Default::default()
    })
}

impl Rule {
    fn groups(mut self, g: &[&str]) -> Self {
        self.0.api_groups = set(g);
        self
    }
    fn resources(mut self, r: &[&str]) -> Self {
        self.0.resources = set(r);
        self
    }
    fn names(mut self, n: &[&str]) -> Self {
        self.0.resource_names = set(n);
        self
    }
    fn urls(mut self, u: &[&str]) -> Self {
        self.0.non_resource_urls = set(u);
        self
    }
    fn r(self) -> PolicyRule {
        self.0
    }
}

fn events_rule() -> PolicyRule {
    rule(&["create", "update", "patch"])
        .groups(&[LEGACY, EVENTS])
        .resources(&["events"])
        .r()
}

fn default_meta(name: &str, labels: &[(&str, &str)]) -> kubox_core::meta::ObjectMeta {
    let mut l: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    l.insert(BOOTSTRAP_LABEL.0.into(), BOOTSTRAP_LABEL.1.into());
    kubox_core::meta::ObjectMeta {
        name: Some(name.into()),
        labels: Some(l),
        annotations: Some(BTreeMap::from([(
            AUTOUPDATE_ANNOTATION.to_string(),
            "true".to_string(),
        )])),
        ..Default::default()
    }
}

fn role(name: &str, rules: Vec<PolicyRule>) -> ClusterRole {
    labeled(name, &[], rules)
}

fn labeled(name: &str, labels: &[(&str, &str)], rules: Vec<PolicyRule>) -> ClusterRole {
    ClusterRole {
        metadata: default_meta(name, labels),
        rules: Some(rules),
        ..Default::default()
    }
}

fn aggregated(name: &str, labels: &[(&str, &str)], selects: &str) -> ClusterRole {
    ClusterRole {
        metadata: default_meta(name, labels),
        aggregation_rule: Some(AggregationRule {
            cluster_role_selectors: Some(vec![LabelSelector {
                match_labels: Some(BTreeMap::from([(selects.to_string(), "true".to_string())])),
                match_expressions: None,
            }]),
        }),
        rules: None,
        ..Default::default()
    }
}

/// The rules of `system:node`: what a kubelet needs (`bootstrappolicy.NodeRules`). The
/// [`NodeAuthorizer`](super::NodeAuthorizer) grants them to node identities and narrows the
/// writes to the node's own objects.
pub fn node_rules() -> Vec<PolicyRule> {
    vec![
        // Checking API access (non-mutating creates).
        rule(&["create"])
            .groups(&[AUTHENTICATION])
            .resources(&["tokenreviews"])
            .r(),
        rule(&["create"])
            .groups(&[AUTHORIZATION])
            .resources(&["subjectaccessreviews", "localsubjectaccessreviews"])
            .r(),
        // Service environment variables.
        rule(READ).groups(&[LEGACY]).resources(&["services"]).r(),
        // Registering and updating its Node.
        rule(&["create", "get", "list", "watch"])
            .groups(&[LEGACY])
            .resources(&["nodes"])
            .r(),
        rule(&["update", "patch"])
            .groups(&[LEGACY])
            .resources(&["nodes/status"])
            .r(),
        rule(&["update", "patch"])
            .groups(&[LEGACY])
            .resources(&["nodes"])
            .r(),
        events_rule(),
        // Pods: reading, mirror pods, status, evictions.
        rule(READ).groups(&[LEGACY]).resources(&["pods"]).r(),
        rule(&["create", "delete"])
            .groups(&[LEGACY])
            .resources(&["pods"])
            .r(),
        rule(&["update", "patch"])
            .groups(&[LEGACY])
            .resources(&["pods/status"])
            .r(),
        rule(&["create"])
            .groups(&[LEGACY])
            .resources(&["pods/eviction"])
            .r(),
        // Secrets and configmaps of its pods.
        rule(READ)
            .groups(&[LEGACY])
            .resources(&["secrets", "configmaps"])
            .r(),
        rule(&["get"])
            .groups(&[LEGACY])
            .resources(&["persistentvolumeclaims", "persistentvolumes"])
            .r(),
        rule(&["get"])
            .groups(&[LEGACY])
            .resources(&["endpoints"])
            .r(),
        rule(&["create", "get", "list", "watch"])
            .groups(&[CERTIFICATES])
            .resources(&["certificatesigningrequests"])
            .r(),
        // Its heartbeat Lease.
        rule(&["get", "create", "update", "patch", "delete"])
            .groups(&[COORDINATION])
            .resources(&["leases"])
            .r(),
        rule(&["get"])
            .groups(&[STORAGE])
            .resources(&["volumeattachments"])
            .r(),
        rule(&["get", "update", "patch"])
            .groups(&[LEGACY])
            .resources(&["persistentvolumeclaims/status"])
            .r(),
        rule(&["create"])
            .groups(&[LEGACY])
            .resources(&["serviceaccounts/token"])
            .r(),
        rule(&["get", "watch", "list"])
            .groups(&[STORAGE])
            .resources(&["csidrivers"])
            .r(),
        rule(&["get", "create", "update", "patch", "delete"])
            .groups(&[STORAGE])
            .resources(&["csinodes"])
            .r(),
        rule(READ)
            .groups(&[NODE])
            .resources(&["runtimeclasses"])
            .r(),
    ]
}

fn aggregate_to_edit() -> Vec<PolicyRule> {
    vec![
        // Read on escalating resources.
        rule(READ)
            .groups(&[LEGACY])
            .resources(&[
                "pods/attach",
                "pods/proxy",
                "pods/exec",
                "pods/portforward",
                "secrets",
                "services/proxy",
            ])
            .r(),
        rule(&["impersonate"])
            .groups(&[LEGACY])
            .resources(&["serviceaccounts"])
            .r(),
        rule(WRITE)
            .groups(&[LEGACY])
            .resources(&[
                "pods",
                "pods/attach",
                "pods/proxy",
                "pods/exec",
                "pods/portforward",
            ])
            .r(),
        rule(WRITE)
            .groups(&[LEGACY])
            .resources(&[
                "replicationcontrollers",
                "replicationcontrollers/scale",
                "serviceaccounts",
                "services",
                "services/proxy",
                "persistentvolumeclaims",
                "configmaps",
                "secrets",
            ])
            .r(),
        rule(WRITE)
            .groups(&[APPS])
            .resources(&[
                "statefulsets",
                "statefulsets/scale",
                "daemonsets",
                "deployments",
                "deployments/scale",
                "deployments/rollback",
                "replicasets",
                "replicasets/scale",
            ])
            .r(),
        rule(WRITE)
            .groups(&[AUTOSCALING])
            .resources(&["horizontalpodautoscalers"])
            .r(),
        rule(WRITE)
            .groups(&[BATCH])
            .resources(&["jobs", "cronjobs"])
            .r(),
        rule(WRITE)
            .groups(&[EXTENSIONS])
            .resources(&[
                "daemonsets",
                "deployments",
                "deployments/scale",
                "deployments/rollback",
                "ingresses",
                "replicasets",
                "replicasets/scale",
                "replicationcontrollers/scale",
                "networkpolicies",
            ])
            .r(),
        rule(WRITE)
            .groups(&[POLICY])
            .resources(&["poddisruptionbudgets"])
            .r(),
        rule(WRITE)
            .groups(&[NETWORKING])
            .resources(&["networkpolicies", "ingresses"])
            .r(),
    ]
}

fn aggregate_to_view() -> Vec<PolicyRule> {
    vec![
        rule(READ)
            .groups(&[LEGACY])
            .resources(&[
                "pods",
                "replicationcontrollers",
                "replicationcontrollers/scale",
                "serviceaccounts",
                "services",
                "services/status",
                "endpoints",
                "persistentvolumeclaims",
                "persistentvolumeclaims/status",
                "configmaps",
            ])
            .r(),
        rule(READ)
            .groups(&[LEGACY])
            .resources(&[
                "limitranges",
                "resourcequotas",
                "bindings",
                "events",
                "pods/status",
                "resourcequotas/status",
                "namespaces/status",
                "replicationcontrollers/status",
                "pods/log",
            ])
            .r(),
        // Reading namespaces at the namespace scope means reading *this* namespace.
        rule(READ).groups(&[LEGACY]).resources(&["namespaces"]).r(),
        rule(READ)
            .groups(&[APPS])
            .resources(&[
                "controllerrevisions",
                "statefulsets",
                "statefulsets/status",
                "statefulsets/scale",
                "daemonsets",
                "daemonsets/status",
                "deployments",
                "deployments/status",
                "deployments/scale",
                "replicasets",
                "replicasets/status",
                "replicasets/scale",
            ])
            .r(),
        rule(READ)
            .groups(&[AUTOSCALING])
            .resources(&[
                "horizontalpodautoscalers",
                "horizontalpodautoscalers/status",
            ])
            .r(),
        rule(READ)
            .groups(&[BATCH])
            .resources(&["jobs", "cronjobs", "cronjobs/status", "jobs/status"])
            .r(),
        rule(READ)
            .groups(&[EXTENSIONS])
            .resources(&[
                "daemonsets",
                "daemonsets/status",
                "deployments",
                "deployments/scale",
                "deployments/status",
                "ingresses",
                "ingresses/status",
                "replicasets",
                "replicasets/scale",
                "replicasets/status",
                "replicationcontrollers/scale",
                "networkpolicies",
            ])
            .r(),
        rule(READ)
            .groups(&[POLICY])
            .resources(&["poddisruptionbudgets", "poddisruptionbudgets/status"])
            .r(),
        rule(READ)
            .groups(&[NETWORKING])
            .resources(&["networkpolicies", "ingresses", "ingresses/status"])
            .r(),
    ]
}

fn kube_scheduler() -> Vec<PolicyRule> {
    vec![
        events_rule(),
        // Leader election.
        rule(&["create"])
            .groups(&[COORDINATION])
            .resources(&["leases"])
            .r(),
        rule(&["get", "update"])
            .groups(&[COORDINATION])
            .resources(&["leases"])
            .names(&["kube-scheduler"])
            .r(),
        rule(&["create"])
            .groups(&[LEGACY])
            .resources(&["endpoints"])
            .r(),
        rule(&["get", "update"])
            .groups(&[LEGACY])
            .resources(&["endpoints"])
            .names(&["kube-scheduler"])
            .r(),
        // Fundamental resources.
        rule(READ).groups(&[LEGACY]).resources(&["nodes"]).r(),
        rule(&["get", "list", "watch", "delete"])
            .groups(&[LEGACY])
            .resources(&["pods"])
            .r(),
        rule(&["create"])
            .groups(&[LEGACY])
            .resources(&["pods/binding", "bindings"])
            .r(),
        rule(&["patch", "update"])
            .groups(&[LEGACY])
            .resources(&["pods/status"])
            .r(),
        // Things that select pods.
        rule(READ)
            .groups(&[LEGACY])
            .resources(&["services", "replicationcontrollers"])
            .r(),
        rule(READ)
            .groups(&[APPS, EXTENSIONS])
            .resources(&["replicasets"])
            .r(),
        rule(READ).groups(&[APPS]).resources(&["statefulsets"]).r(),
        // Things that pods use or that apply to them.
        rule(READ)
            .groups(&[POLICY])
            .resources(&["poddisruptionbudgets"])
            .r(),
        rule(READ)
            .groups(&[LEGACY])
            .resources(&["persistentvolumeclaims", "persistentvolumes"])
            .r(),
        // Checking API access (non-mutating creates).
        rule(&["create"])
            .groups(&[AUTHENTICATION])
            .resources(&["tokenreviews"])
            .r(),
        rule(&["create"])
            .groups(&[AUTHORIZATION])
            .resources(&["subjectaccessreviews"])
            .r(),
        rule(READ).groups(&[STORAGE]).resources(&["csinodes"]).r(),
        // Namespace selectors of pod affinity.
        rule(READ).groups(&[LEGACY]).resources(&["namespaces"]).r(),
        rule(READ).groups(&[STORAGE]).resources(&["csidrivers"]).r(),
        rule(READ)
            .groups(&[STORAGE])
            .resources(&["csistoragecapacities"])
            .r(),
    ]
}

fn kube_controller_manager() -> Vec<PolicyRule> {
    vec![
        events_rule(),
        // Leader election.
        rule(&["create"])
            .groups(&[COORDINATION])
            .resources(&["leases"])
            .r(),
        rule(&["get", "update"])
            .groups(&[COORDINATION])
            .resources(&["leases"])
            .names(&["kube-controller-manager"])
            .r(),
        rule(&["create"])
            .groups(&[LEGACY])
            .resources(&["endpoints"])
            .r(),
        rule(&["get", "update"])
            .groups(&[LEGACY])
            .resources(&["endpoints"])
            .names(&["kube-controller-manager"])
            .r(),
        // Fundamental resources.
        rule(&["create"])
            .groups(&[LEGACY])
            .resources(&["secrets", "serviceaccounts"])
            .r(),
        rule(&["delete"])
            .groups(&[LEGACY])
            .resources(&["secrets"])
            .r(),
        rule(&["get"])
            .groups(&[LEGACY])
            .resources(&["namespaces", "secrets", "serviceaccounts", "configmaps"])
            .r(),
        rule(&["update"])
            .groups(&[LEGACY])
            .resources(&["secrets", "serviceaccounts"])
            .r(),
        // Checking API access (non-mutating creates).
        rule(&["create"])
            .groups(&[AUTHENTICATION])
            .resources(&["tokenreviews"])
            .r(),
        rule(&["create"])
            .groups(&[AUTHORIZATION])
            .resources(&["subjectaccessreviews"])
            .r(),
        // Every shared informer.
        rule(&["list", "watch"])
            .groups(&["*"])
            .resources(&["*"])
            .r(),
        rule(&["create"])
            .groups(&[LEGACY])
            .resources(&["serviceaccounts/token"])
            .r(),
    ]
}

/// The default ClusterRoles, in Kubernetes' order. `admin`, `edit` and `view` have their
/// aggregated rules filled in (as the aggregation controller writes them); authorization
/// re-aggregates on every request, so later `aggregate-to-*` roles count too.
pub fn cluster_roles() -> Vec<ClusterRole> {
    let mut roles = vec![
        role(
            "cluster-admin",
            vec![
                rule(&["*"]).groups(&["*"]).resources(&["*"]).r(),
                rule(&["*"]).urls(&["*"]).r(),
            ],
        ),
        role(
            "system:discovery",
            vec![rule(&["get"])
                .urls(&[
                    "/livez",
                    "/readyz",
                    "/healthz",
                    "/version",
                    "/version/",
                    "/openapi",
                    "/openapi/*",
                    "/api",
                    "/api/*",
                    "/apis",
                    "/apis/*",
                ])
                .r()],
        ),
        role(
            "system:monitoring",
            vec![rule(&["get"])
                .urls(&[
                    "/metrics",
                    "/metrics/slis",
                    "/livez",
                    "/readyz",
                    "/healthz",
                    "/livez/*",
                    "/readyz/*",
                    "/healthz/*",
                ])
                .r()],
        ),
        role(
            "system:basic-user",
            vec![
                rule(&["create"])
                    .groups(&[AUTHORIZATION])
                    .resources(&["selfsubjectaccessreviews", "selfsubjectrulesreviews"])
                    .r(),
                rule(&["create"])
                    .groups(&[AUTHENTICATION])
                    .resources(&["selfsubjectreviews"])
                    .r(),
            ],
        ),
        role(
            "system:public-info-viewer",
            vec![rule(&["get"])
                .urls(&["/livez", "/readyz", "/healthz", "/version", "/version/"])
                .r()],
        ),
        aggregated("admin", &[], AGGREGATE_TO_ADMIN),
        aggregated("edit", &[(AGGREGATE_TO_ADMIN, "true")], AGGREGATE_TO_EDIT),
        aggregated("view", &[(AGGREGATE_TO_EDIT, "true")], AGGREGATE_TO_VIEW),
        labeled(
            "system:aggregate-to-admin",
            &[(AGGREGATE_TO_ADMIN, "true")],
            vec![
                rule(&["create"])
                    .groups(&[AUTHORIZATION])
                    .resources(&["localsubjectaccessreviews"])
                    .r(),
                rule(READ_WRITE)
                    .groups(&[RBAC_GROUP])
                    .resources(&["roles", "rolebindings"])
                    .r(),
            ],
        ),
        labeled(
            "system:aggregate-to-edit",
            &[(AGGREGATE_TO_EDIT, "true")],
            aggregate_to_edit(),
        ),
        labeled(
            "system:aggregate-to-view",
            &[(AGGREGATE_TO_VIEW, "true")],
            aggregate_to_view(),
        ),
        role("system:node", node_rules()),
        role(
            "system:node-bootstrapper",
            vec![rule(&["create", "get", "list", "watch"])
                .groups(&[CERTIFICATES])
                .resources(&["certificatesigningrequests"])
                .r()],
        ),
        role(
            "system:auth-delegator",
            vec![
                rule(&["create"])
                    .groups(&[AUTHENTICATION])
                    .resources(&["tokenreviews"])
                    .r(),
                rule(&["create"])
                    .groups(&[AUTHORIZATION])
                    .resources(&["subjectaccessreviews"])
                    .r(),
            ],
        ),
        role(
            "system:kube-aggregator",
            vec![rule(READ)
                .groups(&[LEGACY])
                .resources(&["services", "endpoints"])
                .r()],
        ),
        role("system:kube-controller-manager", kube_controller_manager()),
        role(
            "system:kube-dns",
            vec![rule(&["list", "watch"])
                .groups(&[LEGACY])
                .resources(&["endpoints", "services"])
                .r()],
        ),
        role(
            "system:volume-scheduler",
            vec![
                rule(READ_UPDATE)
                    .groups(&[LEGACY])
                    .resources(&["persistentvolumes"])
                    .r(),
                rule(READ)
                    .groups(&[STORAGE])
                    .resources(&["storageclasses"])
                    .r(),
                rule(READ_UPDATE)
                    .groups(&[LEGACY])
                    .resources(&["persistentvolumeclaims"])
                    .r(),
            ],
        ),
        role(
            "system:service-account-issuer-discovery",
            vec![rule(&["get"])
                .urls(&[
                    "/.well-known/openid-configuration",
                    "/.well-known/openid-configuration/",
                    "/openid/v1/jwks",
                    "/openid/v1/jwks/",
                ])
                .r()],
        ),
        role(
            "system:node-proxier",
            vec![
                rule(&["list", "watch"])
                    .groups(&[LEGACY])
                    .resources(&["services", "endpoints"])
                    .r(),
                rule(READ).groups(&[LEGACY]).resources(&["nodes"]).r(),
                events_rule(),
                rule(&["list", "watch"])
                    .groups(&[DISCOVERY])
                    .resources(&["endpointslices"])
                    .r(),
            ],
        ),
        role("system:kube-scheduler", kube_scheduler()),
    ];
    // Fill in the aggregated rules, as the aggregation controller would on start.
    let mut policy = Policy::new();
    for r in &roles {
        policy.add_cluster_role(r.clone());
    }
    for r in &mut roles {
        if r.aggregation_rule.is_some() {
            let name = r.metadata.name.clone().unwrap_or_default();
            r.rules = policy.cluster_role_rules(&name);
        }
    }
    roles
}

/// The prefix of the per-controller roles.
pub const CONTROLLER_ROLE_PREFIX: &str = "system:controller:";

fn controller(name: &str, rules: Vec<PolicyRule>) -> ClusterRole {
    role(&format!("{CONTROLLER_ROLE_PREFIX}{name}"), rules)
}

/// The roles of the individual controllers of kube-controller-manager
/// (`controller_policy.go`), each bound to the service account `kube-system/<controller>`
/// (for `--use-service-account-credentials`). Only the controllers that are not behind a
/// feature gate and that kubox runs or may run are included.
pub fn controller_roles() -> Vec<ClusterRole> {
    let read = READ;
    vec![
        controller(
            "clusterrole-aggregation-controller",
            vec![
                rule(&["escalate", "get", "list", "watch", "update", "patch"])
                    .groups(&[RBAC_GROUP])
                    .resources(&["clusterroles"])
                    .r(),
            ],
        ),
        controller(
            "cronjob-controller",
            vec![
                rule(&["get", "list", "watch", "update"])
                    .groups(&[BATCH])
                    .resources(&["cronjobs"])
                    .r(),
                rule(&[
                    "get", "list", "watch", "create", "update", "delete", "patch",
                ])
                .groups(&[BATCH])
                .resources(&["jobs"])
                .r(),
                rule(&["update"])
                    .groups(&[BATCH])
                    .resources(&["cronjobs/status"])
                    .r(),
                rule(&["update"])
                    .groups(&[BATCH])
                    .resources(&["cronjobs/finalizers"])
                    .r(),
                rule(&["list", "watch", "delete"])
                    .groups(&[LEGACY])
                    .resources(&["pods"])
                    .r(),
                events_rule(),
            ],
        ),
        controller(
            "daemon-set-controller",
            vec![
                rule(read)
                    .groups(&[EXTENSIONS, APPS])
                    .resources(&["daemonsets"])
                    .r(),
                rule(&["update"])
                    .groups(&[EXTENSIONS, APPS])
                    .resources(&["daemonsets/status"])
                    .r(),
                rule(&["update"])
                    .groups(&[EXTENSIONS, APPS])
                    .resources(&["daemonsets/finalizers"])
                    .r(),
                rule(&["list", "watch"])
                    .groups(&[LEGACY])
                    .resources(&["nodes"])
                    .r(),
                rule(&["list", "watch", "create", "delete", "patch"])
                    .groups(&[LEGACY])
                    .resources(&["pods"])
                    .r(),
                rule(&["create"])
                    .groups(&[LEGACY])
                    .resources(&["pods/binding"])
                    .r(),
                rule(&[
                    "get", "list", "watch", "create", "delete", "update", "patch",
                ])
                .groups(&[APPS])
                .resources(&["controllerrevisions"])
                .r(),
                events_rule(),
            ],
        ),
        controller(
            "deployment-controller",
            vec![
                rule(&["get", "list", "watch", "update"])
                    .groups(&[EXTENSIONS, APPS])
                    .resources(&["deployments"])
                    .r(),
                rule(&["update"])
                    .groups(&[EXTENSIONS, APPS])
                    .resources(&["deployments/status"])
                    .r(),
                rule(&["update"])
                    .groups(&[EXTENSIONS, APPS])
                    .resources(&["deployments/finalizers"])
                    .r(),
                rule(&[
                    "get", "list", "watch", "create", "update", "patch", "delete",
                ])
                .groups(&[APPS, EXTENSIONS])
                .resources(&["replicasets"])
                .r(),
                rule(&["get", "list", "watch", "update"])
                    .groups(&[LEGACY])
                    .resources(&["pods"])
                    .r(),
                events_rule(),
            ],
        ),
        controller(
            "disruption-controller",
            vec![
                rule(read)
                    .groups(&[EXTENSIONS, APPS])
                    .resources(&["deployments"])
                    .r(),
                rule(read)
                    .groups(&[APPS, EXTENSIONS])
                    .resources(&["replicasets"])
                    .r(),
                rule(read)
                    .groups(&[LEGACY])
                    .resources(&["replicationcontrollers"])
                    .r(),
                rule(read)
                    .groups(&[POLICY])
                    .resources(&["poddisruptionbudgets"])
                    .r(),
                rule(read).groups(&[APPS]).resources(&["statefulsets"]).r(),
                rule(&["update"])
                    .groups(&[POLICY])
                    .resources(&["poddisruptionbudgets/status"])
                    .r(),
                rule(&["patch", "update"])
                    .groups(&[LEGACY])
                    .resources(&["pods/status"])
                    .r(),
                rule(&["get"]).groups(&["*"]).resources(&["*/scale"]).r(),
                events_rule(),
            ],
        ),
        controller(
            "endpoint-controller",
            vec![
                rule(read)
                    .groups(&[LEGACY])
                    .resources(&["services", "pods"])
                    .r(),
                rule(&["get", "list", "watch", "create", "update", "delete"])
                    .groups(&[LEGACY])
                    .resources(&["endpoints"])
                    .r(),
                rule(&["create"])
                    .groups(&[LEGACY])
                    .resources(&["endpoints/restricted"])
                    .r(),
                events_rule(),
            ],
        ),
        controller(
            "endpointslice-controller",
            vec![
                rule(read)
                    .groups(&[LEGACY])
                    .resources(&["services", "pods", "nodes"])
                    .r(),
                rule(&["update"])
                    .groups(&[LEGACY])
                    .resources(&["services/finalizers"])
                    .r(),
                rule(&["get", "list", "watch", "create", "update", "delete"])
                    .groups(&[DISCOVERY])
                    .resources(&["endpointslices"])
                    .r(),
                events_rule(),
            ],
        ),
        controller(
            "endpointslicemirroring-controller",
            vec![
                rule(read)
                    .groups(&[LEGACY])
                    .resources(&["services", "endpoints"])
                    .r(),
                rule(&["update"])
                    .groups(&[LEGACY])
                    .resources(&["services/finalizers"])
                    .r(),
                rule(&["update"])
                    .groups(&[LEGACY])
                    .resources(&["endpoints/finalizers"])
                    .r(),
                rule(&["get", "list", "watch", "create", "update", "delete"])
                    .groups(&[DISCOVERY])
                    .resources(&["endpointslices"])
                    .r(),
                events_rule(),
            ],
        ),
        controller(
            "generic-garbage-collector",
            vec![
                rule(&["get", "list", "watch", "patch", "update", "delete"])
                    .groups(&["*"])
                    .resources(&["*"])
                    .r(),
                events_rule(),
            ],
        ),
        controller(
            "horizontal-pod-autoscaler",
            vec![
                rule(read)
                    .groups(&[AUTOSCALING])
                    .resources(&["horizontalpodautoscalers"])
                    .r(),
                rule(&["update"])
                    .groups(&[AUTOSCALING])
                    .resources(&["horizontalpodautoscalers/status"])
                    .r(),
                rule(&["get", "update"])
                    .groups(&["*"])
                    .resources(&["*/scale"])
                    .r(),
                rule(&["list", "watch"])
                    .groups(&[LEGACY])
                    .resources(&["pods"])
                    .r(),
                rule(&["list", "watch"])
                    .groups(&["metrics.k8s.io"])
                    .resources(&["pods"])
                    .r(),
                rule(read)
                    .groups(&["custom.metrics.k8s.io"])
                    .resources(&["*"])
                    .r(),
                rule(read)
                    .groups(&["external.metrics.k8s.io"])
                    .resources(&["*"])
                    .r(),
                events_rule(),
            ],
        ),
        controller(
            "job-controller",
            vec![
                rule(&["get", "list", "watch", "update", "patch"])
                    .groups(&[BATCH])
                    .resources(&["jobs"])
                    .r(),
                rule(&["update"])
                    .groups(&[BATCH])
                    .resources(&["jobs/status"])
                    .r(),
                rule(&["update"])
                    .groups(&[BATCH])
                    .resources(&["jobs/finalizers"])
                    .r(),
                rule(&["list", "watch", "create", "delete", "patch"])
                    .groups(&[LEGACY])
                    .resources(&["pods"])
                    .r(),
                events_rule(),
            ],
        ),
        controller(
            "namespace-controller",
            vec![
                rule(&["get", "list", "watch", "delete"])
                    .groups(&[LEGACY])
                    .resources(&["namespaces"])
                    .r(),
                rule(&["update"])
                    .groups(&[LEGACY])
                    .resources(&["namespaces/finalize", "namespaces/status"])
                    .r(),
                rule(&["get", "list", "watch", "delete", "deletecollection"])
                    .groups(&["*"])
                    .resources(&["*"])
                    .r(),
            ],
        ),
        controller(
            "node-controller",
            vec![
                rule(&["get", "list", "watch", "update", "delete", "patch"])
                    .groups(&[LEGACY])
                    .resources(&["nodes"])
                    .r(),
                rule(&["patch", "update"])
                    .groups(&[LEGACY])
                    .resources(&["nodes/status"])
                    .r(),
                rule(&["patch", "update"])
                    .groups(&[LEGACY])
                    .resources(&["pods/status"])
                    .r(),
                rule(&["list", "watch", "get", "delete"])
                    .groups(&[LEGACY])
                    .resources(&["pods"])
                    .r(),
                events_rule(),
            ],
        ),
        controller(
            "pod-garbage-collector",
            vec![
                rule(&["list", "watch", "delete"])
                    .groups(&[LEGACY])
                    .resources(&["pods"])
                    .r(),
                rule(read).groups(&[LEGACY]).resources(&["nodes"]).r(),
                rule(&["patch"])
                    .groups(&[LEGACY])
                    .resources(&["pods/status"])
                    .r(),
            ],
        ),
        controller(
            "replicaset-controller",
            vec![
                rule(&["get", "list", "watch", "update"])
                    .groups(&[APPS, EXTENSIONS])
                    .resources(&["replicasets"])
                    .r(),
                rule(&["update"])
                    .groups(&[APPS, EXTENSIONS])
                    .resources(&["replicasets/status"])
                    .r(),
                rule(&["update"])
                    .groups(&[APPS, EXTENSIONS])
                    .resources(&["replicasets/finalizers"])
                    .r(),
                rule(&["list", "watch", "patch", "create", "delete"])
                    .groups(&[LEGACY])
                    .resources(&["pods"])
                    .r(),
                events_rule(),
            ],
        ),
        controller(
            "replication-controller",
            vec![
                rule(&["get", "list", "watch", "update"])
                    .groups(&[LEGACY])
                    .resources(&["replicationcontrollers"])
                    .r(),
                rule(&["update"])
                    .groups(&[LEGACY])
                    .resources(&["replicationcontrollers/status"])
                    .r(),
                rule(&["update"])
                    .groups(&[LEGACY])
                    .resources(&["replicationcontrollers/finalizers"])
                    .r(),
                rule(&["list", "watch", "patch", "create", "delete"])
                    .groups(&[LEGACY])
                    .resources(&["pods"])
                    .r(),
                events_rule(),
            ],
        ),
        controller(
            "resourcequota-controller",
            vec![
                rule(&["list", "watch"])
                    .groups(&["*"])
                    .resources(&["*"])
                    .r(),
                rule(&["update"])
                    .groups(&[LEGACY])
                    .resources(&["resourcequotas/status"])
                    .r(),
                events_rule(),
            ],
        ),
        controller(
            "service-account-controller",
            vec![
                rule(&["create"])
                    .groups(&[LEGACY])
                    .resources(&["serviceaccounts"])
                    .r(),
                events_rule(),
            ],
        ),
        controller(
            "statefulset-controller",
            vec![
                rule(&["list", "watch"])
                    .groups(&[LEGACY])
                    .resources(&["pods"])
                    .r(),
                rule(read).groups(&[APPS]).resources(&["statefulsets"]).r(),
                rule(&["update"])
                    .groups(&[APPS])
                    .resources(&["statefulsets/status"])
                    .r(),
                rule(&["update"])
                    .groups(&[APPS])
                    .resources(&["statefulsets/finalizers"])
                    .r(),
                rule(&["get", "create", "delete", "update", "patch"])
                    .groups(&[LEGACY])
                    .resources(&["pods"])
                    .r(),
                rule(&[
                    "get", "create", "delete", "update", "patch", "list", "watch",
                ])
                .groups(&[APPS])
                .resources(&["controllerrevisions"])
                .r(),
                rule(&["get", "create", "list", "watch"])
                    .groups(&[LEGACY])
                    .resources(&["persistentvolumeclaims"])
                    .r(),
                rule(&["update", "delete"])
                    .groups(&[LEGACY])
                    .resources(&["persistentvolumeclaims"])
                    .r(),
                rule(&["update"])
                    .groups(&[LEGACY])
                    .resources(&["pods/finalizers"])
                    .r(),
                events_rule(),
            ],
        ),
        controller(
            "ttl-controller",
            vec![
                rule(&["update", "patch", "list", "watch"])
                    .groups(&[LEGACY])
                    .resources(&["nodes"])
                    .r(),
                events_rule(),
            ],
        ),
        controller(
            "ttl-after-finished-controller",
            vec![
                rule(&["get", "list", "watch", "delete"])
                    .groups(&[BATCH])
                    .resources(&["jobs"])
                    .r(),
                events_rule(),
            ],
        ),
        controller(
            "root-ca-cert-publisher",
            vec![
                rule(&["create", "update"])
                    .groups(&[LEGACY])
                    .resources(&["configmaps"])
                    .r(),
                events_rule(),
            ],
        ),
    ]
}

/// One binding per [`controller_roles`] entry: the ClusterRole `system:controller:<c>` to the
/// service account `kube-system/<c>`.
pub fn controller_role_bindings() -> Vec<ClusterRoleBinding> {
    controller_roles()
        .iter()
        .map(|r| {
            let name = r.metadata.name.as_deref().unwrap_or_default();
            let sa = name.strip_prefix(CONTROLLER_ROLE_PREFIX).unwrap_or(name);
            binding(
                name,
                vec![Subject {
                    api_group: None,
                    kind: "ServiceAccount".into(),
                    name: sa.into(),
                    namespace: Some("kube-system".into()),
                }],
            )
        })
        .collect()
}

fn subject(kind: &str, name: &str) -> Subject {
    Subject {
        api_group: Some(RBAC_GROUP.into()),
        kind: kind.into(),
        name: name.into(),
        namespace: None,
    }
}

fn binding(role: &str, subjects: Vec<Subject>) -> ClusterRoleBinding {
    ClusterRoleBinding {
        metadata: default_meta(role, &[]),
        role_ref: RoleRef {
            api_group: RBAC_GROUP.into(),
            kind: "ClusterRole".into(),
            name: role.into(),
        },
        subjects: if subjects.is_empty() {
            None
        } else {
            Some(subjects)
        },
        ..Default::default()
    }
}

/// The default ClusterRoleBindings (each named after its ClusterRole). `system:node` has no
/// subjects: nodes are authorized by the [`NodeAuthorizer`](super::NodeAuthorizer).
pub fn cluster_role_bindings() -> Vec<ClusterRoleBinding> {
    let group = |n: &str| subject("Group", n);
    let user = |n: &str| subject("User", n);
    vec![
        binding("cluster-admin", vec![group("system:masters")]),
        binding("system:monitoring", vec![group("system:monitoring")]),
        binding("system:discovery", vec![group("system:authenticated")]),
        binding("system:basic-user", vec![group("system:authenticated")]),
        binding(
            "system:public-info-viewer",
            vec![
                group("system:authenticated"),
                group("system:unauthenticated"),
            ],
        ),
        binding("system:node-proxier", vec![user("system:kube-proxy")]),
        binding(
            "system:kube-controller-manager",
            vec![user("system:kube-controller-manager")],
        ),
        binding(
            "system:kube-dns",
            vec![Subject {
                api_group: None,
                kind: "ServiceAccount".into(),
                name: "kube-dns".into(),
                namespace: Some("kube-system".into()),
            }],
        ),
        binding("system:kube-scheduler", vec![user("system:kube-scheduler")]),
        binding(
            "system:volume-scheduler",
            vec![user("system:kube-scheduler")],
        ),
        binding("system:node", vec![]),
        binding(
            "system:service-account-issuer-discovery",
            vec![group("system:serviceaccounts")],
        ),
    ]
}

/// What [`ensure_bootstrap_policy`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BootstrapReport {
    /// Names of the ClusterRoles created.
    pub created_roles: Vec<String>,
    /// Names of the ClusterRoleBindings created.
    pub created_bindings: Vec<String>,
    /// Names of existing ClusterRoles that got missing rules, selectors, labels or
    /// annotations back.
    pub reconciled_roles: Vec<String>,
    /// Names of existing ClusterRoleBindings that got missing subjects, labels or
    /// annotations back (or were re-created for a different roleRef).
    pub reconciled_bindings: Vec<String>,
}

fn request(resource: &str, name: Option<&str>, verb: Verb, body: Option<Value>) -> Request {
    Request {
        resource: GroupVersionResource {
            group: RBAC_GROUP.into(),
            version: "v1".into(),
            resource: resource.into(),
        },
        namespace: None,
        name: name.map(str::to_string),
        subresource: None,
        verb,
        body,
    }
}

/// Creates the object; `Ok(Some(existing))` if it already exists.
async fn create(
    server: &ApiServer,
    resource: &str,
    name: &str,
    body: Value,
) -> crate::Result<Option<Value>> {
    let admin = UserInfo::admin();
    let req = request(
        resource,
        None,
        Verb::Create(PostParams::default()),
        Some(body),
    );
    match server.handle(&admin, req).await {
        Ok(_) => Ok(None),
        Err(e) if e.reason() == "AlreadyExists" => {
            let get = request(resource, Some(name), Verb::Get, None);
            server.handle(&admin, get).await.map(Some)
        }
        Err(e) => Err(e),
    }
}

async fn replace(server: &ApiServer, resource: &str, name: &str, body: Value) -> crate::Result<()> {
    let req = request(
        resource,
        Some(name),
        Verb::Replace(PostParams::default()),
        Some(body),
    );
    server.handle(&UserInfo::admin(), req).await.map(|_| ())
}

/// Whether the object opted out of reconciliation (`autoupdate: "false"`).
fn opted_out(meta: &ObjectMeta) -> bool {
    meta.annotations
        .as_ref()
        .and_then(|a| a.get(AUTOUPDATE_ANNOTATION))
        .is_some_and(|v| v == "false")
}

/// Adds the expected labels and annotations that are missing (existing values win).
fn merge_meta(existing: &mut ObjectMeta, expected: &ObjectMeta) -> bool {
    let mut changed = false;
    for (have, want) in [
        (&mut existing.labels, &expected.labels),
        (&mut existing.annotations, &expected.annotations),
    ] {
        for (k, v) in want.iter().flatten() {
            let map = have.get_or_insert_with(BTreeMap::new);
            if !map.contains_key(k) {
                map.insert(k.clone(), v.clone());
                changed = true;
            }
        }
    }
    changed
}

/// Kubernetes' `ReconcileClusterRole` without removing anything: missing rules (broken down,
/// as Kubernetes appends them) or aggregation selectors, labels and annotations are added.
/// `None` if nothing is missing or the role opted out.
fn reconcile_role(mut existing: ClusterRole, expected: &ClusterRole) -> Option<ClusterRole> {
    if opted_out(&existing.metadata) {
        return None;
    }
    let mut changed = merge_meta(&mut existing.metadata, &expected.metadata);
    if let Some(want) = &expected.aggregation_rule {
        let have = existing
            .aggregation_rule
            .get_or_insert_with(Default::default)
            .cluster_role_selectors
            .get_or_insert_with(Vec::new);
        for sel in want.cluster_role_selectors.iter().flatten() {
            if !have.contains(sel) {
                have.push(sel.clone());
                changed = true;
            }
        }
    } else {
        let rules = existing.rules.get_or_insert_with(Vec::new);
        let (_, missing) = covers(rules, expected.rules.as_deref().unwrap_or(&[]));
        if !missing.is_empty() {
            rules.extend(missing);
            changed = true;
        }
    }
    changed.then_some(existing)
}

/// Kubernetes' `ReconcileClusterRoleBinding` without removing subjects: missing subjects,
/// labels and annotations are added. `Err(())` when the roleRef differs (the binding must be
/// re-created); `Ok(None)` if nothing is missing or the binding opted out.
fn reconcile_binding(
    mut existing: ClusterRoleBinding,
    expected: &ClusterRoleBinding,
) -> Result<Option<ClusterRoleBinding>, ()> {
    if opted_out(&existing.metadata) {
        return Ok(None);
    }
    if existing.role_ref != expected.role_ref {
        return Err(());
    }
    let mut changed = merge_meta(&mut existing.metadata, &expected.metadata);
    for subject in expected.subjects.iter().flatten() {
        let have = existing.subjects.get_or_insert_with(Vec::new);
        if !have.contains(subject) {
            have.push(subject.clone());
            changed = true;
        }
    }
    Ok(changed.then_some(existing))
}

fn to_value<T: serde::Serialize>(obj: &T) -> crate::Result<Value> {
    serde_json::to_value(obj).map_err(crate::errors::internal)
}

fn from_value<T: serde::de::DeserializeOwned>(v: Value) -> crate::Result<T> {
    serde_json::from_value(v).map_err(crate::errors::internal)
}

/// Creates, as the cluster administrator, every default ClusterRole and ClusterRoleBinding
/// ([`cluster_roles`], [`controller_roles`] and their bindings) that does not exist yet, and
/// reconciles the existing ones as kube-apiserver does on start unless they are annotated
/// `rbac.authorization.kubernetes.io/autoupdate: "false"`: missing rules, aggregation
/// selectors, subjects, labels and annotations are added back (nothing is removed), and a
/// binding whose roleRef differs is re-created. Idempotent.
pub async fn ensure_bootstrap_policy(server: &ApiServer) -> crate::Result<BootstrapReport> {
    let mut report = BootstrapReport::default();
    for r in cluster_roles().into_iter().chain(controller_roles()) {
        let name = r.metadata.name.clone().unwrap_or_default();
        match create(server, "clusterroles", &name, to_value(&r)?).await? {
            None => report.created_roles.push(name),
            Some(existing) => {
                if let Some(updated) = reconcile_role(from_value(existing)?, &r) {
                    replace(server, "clusterroles", &name, to_value(&updated)?).await?;
                    report.reconciled_roles.push(name);
                }
            }
        }
    }
    for b in cluster_role_bindings()
        .into_iter()
        .chain(controller_role_bindings())
    {
        let name = b.metadata.name.clone().unwrap_or_default();
        let Some(existing) = create(server, "clusterrolebindings", &name, to_value(&b)?).await?
        else {
            report.created_bindings.push(name);
            continue;
        };
        match reconcile_binding(from_value(existing)?, &b) {
            Ok(None) => {}
            Ok(Some(updated)) => {
                replace(server, "clusterrolebindings", &name, to_value(&updated)?).await?;
                report.reconciled_bindings.push(name);
            }
            Err(()) => {
                let del = request(
                    "clusterrolebindings",
                    Some(&name),
                    Verb::Delete(Default::default()),
                    None,
                );
                server.handle(&UserInfo::admin(), del).await?;
                create(server, "clusterrolebindings", &name, to_value(&b)?).await?;
                report.reconciled_bindings.push(name);
            }
        }
    }
    Ok(report)
}
