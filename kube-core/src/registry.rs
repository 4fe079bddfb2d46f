//! The static resource registry: every resource the API serves, the one source for API routes
//! and discovery (`/api`, `/apis`, `/api/v1`, `/apis/{group}/{version}`, aggregated discovery).
//!
//! Each [`ResourceInfo`] carries what Kubernetes 1.33 reports for it in discovery: names, scope,
//! verbs (exactly Kubernetes' list), short names, categories, storage version hash and
//! subresources with their response kinds. [`RESOURCES`] lists them in the order Kubernetes
//! serves discovery: group-versions in [`GROUP_VERSIONS`] order, resources sorted by plural
//! within each. One deviation: `authentication.k8s.io/v1beta1` SelfSubjectReview, which
//! Kubernetes serves only when that beta version is enabled, is always served (for kubectl
//! 1.27's `auth whoami`).
//!
//! | group/version | resource | kind | scope | short names | categories | subresources |
//! |---|---|---|---|---|---|---|
//! | `v1` | `bindings` | Binding | Namespaced | | | |
//! | `v1` | `configmaps` | ConfigMap | Namespaced | `cm` | | |
//! | `v1` | `endpoints` | Endpoints | Namespaced | `ep` | | |
//! | `v1` | `events` | Event | Namespaced | `ev` | | |
//! | `v1` | `namespaces` | Namespace | Cluster | `ns` | | `finalize`, `status` |
//! | `v1` | `nodes` | Node | Cluster | `no` | | `proxy`, `status` |
//! | `v1` | `pods` | Pod | Namespaced | `po` | `all` | `attach`, `binding`, `ephemeralcontainers`, `eviction`, `exec`, `log`, `portforward`, `proxy`, `resize`, `status` |
//! | `v1` | `replicationcontrollers` | ReplicationController | Namespaced | `rc` | `all` | `scale`, `status` |
//! | `v1` | `secrets` | Secret | Namespaced | | | |
//! | `v1` | `serviceaccounts` | ServiceAccount | Namespaced | `sa` | | `token` |
//! | `v1` | `services` | Service | Namespaced | `svc` | `all` | `proxy`, `status` |
//! | `apps/v1` | `deployments` | Deployment | Namespaced | `deploy` | `all` | `scale`, `status` |
//! | `apps/v1` | `replicasets` | ReplicaSet | Namespaced | `rs` | `all` | `scale`, `status` |
//! | `authentication.k8s.io/v1` | `selfsubjectreviews` | SelfSubjectReview | Cluster | | | |
//! | `authentication.k8s.io/v1` | `tokenreviews` | TokenReview | Cluster | | | |
//! | `authentication.k8s.io/v1beta1` | `selfsubjectreviews` | SelfSubjectReview | Cluster | | | |
//! | `authorization.k8s.io/v1` | `selfsubjectaccessreviews` | SelfSubjectAccessReview | Cluster | | | |
//! | `authorization.k8s.io/v1` | `selfsubjectrulesreviews` | SelfSubjectRulesReview | Cluster | | | |
//! | `policy/v1` | `poddisruptionbudgets` | PodDisruptionBudget | Namespaced | `pdb` | | `status` |
//! | `rbac.authorization.k8s.io/v1` | `clusterrolebindings` | ClusterRoleBinding | Cluster | | | |
//! | `rbac.authorization.k8s.io/v1` | `clusterroles` | ClusterRole | Cluster | | | |
//! | `rbac.authorization.k8s.io/v1` | `rolebindings` | RoleBinding | Namespaced | | | |
//! | `rbac.authorization.k8s.io/v1` | `roles` | Role | Namespaced | | | |
//! | `scheduling.k8s.io/v1` | `priorityclasses` | PriorityClass | Cluster | `pc` | | |
//! | `coordination.k8s.io/v1` | `leases` | Lease | Namespaced | | | |
//! | `discovery.k8s.io/v1` | `endpointslices` | EndpointSlice | Namespaced | | | |
//!
//! Every resource has the verbs `create delete deletecollection get list patch update watch`,
//! except `bindings` and the reviews (`selfsubjectreviews`, `tokenreviews`,
//! `selfsubjectaccessreviews`, `selfsubjectrulesreviews`: `create`; none is stored: a review is
//! answered, never kept) and `namespaces` (no `deletecollection`). Subresource verbs:
//! `status`, `scale`, `ephemeralcontainers`, `resize`: `get patch update`; `log`: `get`;
//! `exec`, `attach`, `portforward`: `create get`; `binding`, `eviction`, `token`: `create`;
//! `proxy`: `create delete get patch update`; `finalize`: `update`. `scale` answers with
//! `autoscaling/v1` `Scale`, `eviction` takes `policy/v1` `Eviction`, `token` takes
//! `authentication.k8s.io/v1` `TokenRequest`.
//!
//! ```
//! use kubox_core::registry;
//!
//! let deploy = registry::resolve("deploy").unwrap();
//! assert_eq!((deploy.group, deploy.plural), ("apps", "deployments"));
//! let scale = deploy.subresource("scale").unwrap();
//! assert_eq!((scale.group, scale.version, scale.kind), ("autoscaling", "v1", "Scale"));
//! assert_eq!(registry::find("", "v1", "pods").unwrap().kind, "Pod");
//! assert_eq!(registry::resolve("deployments.apps").unwrap().kind, "Deployment");
//! ```

use crate::meta::Resource;

/// One served resource, as discovery describes it (`APIResource` plus its subresources).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResourceInfo {
    /// API group (`""` for core).
    pub group: &'static str,
    /// API version (`v1`).
    pub version: &'static str,
    /// Kind (`Pod`).
    pub kind: &'static str,
    /// Lower-case plural, the URL path segment (`pods`).
    pub plural: &'static str,
    /// Lower-case singular (`pod`).
    pub singular: &'static str,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
    /// Verbs, exactly as Kubernetes lists them in discovery (sorted).
    pub verbs: &'static [&'static str],
    /// Short names for kubectl (`po`).
    pub short_names: &'static [&'static str],
    /// Categories (`all`).
    pub categories: &'static [&'static str],
    /// `storageVersionHash` reported by discovery (base64 of the first 8 bytes of
    /// sha256(`group/version/kind`) of the storage version).
    pub storage_version_hash: &'static str,
    /// Subresources, sorted by name.
    pub subresources: &'static [SubresourceInfo],
}

/// A subresource (`pods/status`, `deployments/scale`) and the kind it speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubresourceInfo {
    /// Name after the slash (`status`, `scale`, `log`).
    pub name: &'static str,
    /// Group of the request/response kind (`autoscaling` for `scale`; the parent's otherwise).
    pub group: &'static str,
    /// Version of the request/response kind.
    pub version: &'static str,
    /// Request/response kind (`Scale`, `Pod`, `PodExecOptions`).
    pub kind: &'static str,
    /// Verbs, as discovery lists them.
    pub verbs: &'static [&'static str],
}

/// An API group-version served by the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GroupVersion {
    /// Group (`""` for core).
    pub group: &'static str,
    /// Version.
    pub version: &'static str,
}

impl GroupVersion {
    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        api_version(self.group, self.version)
    }

    /// The URL prefix: `/api/v1` or `/apis/{group}/{version}`.
    pub fn path_prefix(&self) -> String {
        if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        }
    }

    /// The resources of this group-version, in discovery order.
    pub fn resources(&self) -> impl Iterator<Item = &'static ResourceInfo> + '_ {
        RESOURCES
            .iter()
            .filter(move |r| r.group == self.group && r.version == self.version)
    }
}

fn api_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    }
}

impl ResourceInfo {
    /// The group-version this resource is served under.
    pub fn group_version(&self) -> GroupVersion {
        GroupVersion {
            group: self.group,
            version: self.version,
        }
    }

    /// `group/version`, or `version` for the core group (the objects' `apiVersion`).
    pub fn api_version(&self) -> String {
        api_version(self.group, self.version)
    }

    /// The kind of a list of these objects (`PodList`).
    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }

    /// Whether discovery lists `verb` (`get`, `watch`, …) for the resource itself.
    pub fn supports(&self, verb: &str) -> bool {
        self.verbs.contains(&verb)
    }

    /// The subresource named `name` (`status`, `scale`, …).
    pub fn subresource(&self, name: &str) -> Option<&'static SubresourceInfo> {
        self.subresources.iter().find(|s| s.name == name)
    }

    /// The collection URL: `/api/v1/namespaces/{ns}/pods`, `/apis/apps/v1/deployments` (all
    /// namespaces, or a cluster-scoped resource). `namespace` is ignored for cluster-scoped ones.
    pub fn collection_path(&self, namespace: Option<&str>) -> String {
        let prefix = self.group_version().path_prefix();
        match namespace {
            Some(ns) if self.namespaced => format!("{prefix}/namespaces/{ns}/{}", self.plural),
            _ => format!("{prefix}/{}", self.plural),
        }
    }

    /// The object URL: `/api/v1/namespaces/{ns}/pods/{name}` or `/api/v1/nodes/{name}`.
    pub fn object_path(&self, namespace: Option<&str>, name: &str) -> String {
        format!("{}/{name}", self.collection_path(namespace))
    }
}

/// Verbs of an ordinary resource: everything.
const ALL: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
/// Verbs of a `status`/`scale`-like subresource.
const GPU: &[&str] = &["get", "patch", "update"];
/// Verbs of a connect subresource that takes a body or an upgrade (`exec`, `attach`, `portforward`).
const CONNECT: &[&str] = &["create", "get"];
/// Verbs of a `proxy` subresource.
const PROXY: &[&str] = &["create", "delete", "get", "patch", "update"];
/// Verbs of a create-only subresource (`binding`, `eviction`, `token`).
const CREATE: &[&str] = &["create"];

const fn sub(
    name: &'static str,
    group: &'static str,
    kind: &'static str,
    verbs: &'static [&'static str],
) -> SubresourceInfo {
    SubresourceInfo {
        name,
        group,
        version: "v1",
        kind,
        verbs,
    }
}

const fn status(group: &'static str, kind: &'static str) -> SubresourceInfo {
    sub("status", group, kind, GPU)
}

const SCALE: SubresourceInfo = sub("scale", "autoscaling", "Scale", GPU);

/// Builds a v1 [`ResourceInfo`] with the full verb set; fields are overridden where needed.
#[allow(clippy::too_many_arguments)]
const fn res(
    group: &'static str,
    kind: &'static str,
    plural: &'static str,
    singular: &'static str,
    namespaced: bool,
    short_names: &'static [&'static str],
    categories: &'static [&'static str],
    storage_version_hash: &'static str,
    subresources: &'static [SubresourceInfo],
) -> ResourceInfo {
    ResourceInfo {
        group,
        version: "v1",
        kind,
        plural,
        singular,
        namespaced,
        verbs: ALL,
        short_names,
        categories,
        storage_version_hash,
        subresources,
    }
}

const RBAC: &str = "rbac.authorization.k8s.io";

const fn gv(group: &'static str, version: &'static str) -> GroupVersion {
    GroupVersion { group, version }
}

/// Group-versions in the order Kubernetes serves them (`/api` first, then `/apis` order).
pub const GROUP_VERSIONS: &[GroupVersion] = &[
    gv("", "v1"),
    gv("apps", "v1"),
    gv("authentication.k8s.io", "v1"),
    gv("authentication.k8s.io", "v1beta1"),
    gv("authorization.k8s.io", "v1"),
    gv("policy", "v1"),
    gv(RBAC, "v1"),
    gv("scheduling.k8s.io", "v1"),
    gv("coordination.k8s.io", "v1"),
    gv("discovery.k8s.io", "v1"),
];

const NAMESPACE_VERBS: &[&str] = &[
    "create", "delete", "get", "list", "patch", "update", "watch",
];

const NAMESPACE_SUBS: &[SubresourceInfo] = &[
    sub("finalize", "", "Namespace", &["update"]),
    status("", "Namespace"),
];

const NODE_SUBS: &[SubresourceInfo] = &[
    sub("proxy", "", "NodeProxyOptions", PROXY),
    status("", "Node"),
];

const POD_SUBS: &[SubresourceInfo] = &[
    sub("attach", "", "PodAttachOptions", CONNECT),
    sub("binding", "", "Binding", CREATE),
    sub("ephemeralcontainers", "", "Pod", GPU),
    sub("eviction", "policy", "Eviction", CREATE),
    sub("exec", "", "PodExecOptions", CONNECT),
    sub("log", "", "Pod", &["get"]),
    sub("portforward", "", "PodPortForwardOptions", CONNECT),
    sub("proxy", "", "PodProxyOptions", PROXY),
    sub("resize", "", "Pod", GPU),
    status("", "Pod"),
];

const RC_SUBS: &[SubresourceInfo] = &[SCALE, status("", "ReplicationController")];

const SA_SUBS: &[SubresourceInfo] = &[sub(
    "token",
    "authentication.k8s.io",
    "TokenRequest",
    CREATE,
)];

const SERVICE_SUBS: &[SubresourceInfo] = &[
    sub("proxy", "", "ServiceProxyOptions", PROXY),
    status("", "Service"),
];

const DEPLOYMENT_SUBS: &[SubresourceInfo] = &[SCALE, status("apps", "Deployment")];

const REPLICASET_SUBS: &[SubresourceInfo] = &[SCALE, status("apps", "ReplicaSet")];

const PDB_SUBS: &[SubresourceInfo] = &[status("policy", "PodDisruptionBudget")];

/// Every served resource, in discovery order (see the module docs for the table).
#[rustfmt::skip]
pub const RESOURCES: &[ResourceInfo] = &[
    // group, kind, plural, singular, namespaced, short names, categories, storage version hash, subresources
    // core/v1
    ResourceInfo { verbs: CREATE, ..res("", "Binding", "bindings", "binding", true, &[], &[], "", &[]) },
    res("", "ConfigMap", "configmaps", "configmap", true, &["cm"], &[], "qFsyl6wFWjQ=", &[]),
    res("", "Endpoints", "endpoints", "endpoints", true, &["ep"], &[], "fWeeMqaN/OA=", &[]),
    res("", "Event", "events", "event", true, &["ev"], &[], "r2yiGXH7wu8=", &[]),
    ResourceInfo {
        verbs: NAMESPACE_VERBS,
        ..res("", "Namespace", "namespaces", "namespace", false, &["ns"], &[], "Q3oi5N2YM8M=", NAMESPACE_SUBS)
    },
    res("", "Node", "nodes", "node", false, &["no"], &[], "XwShjMxG9Fs=", NODE_SUBS),
    res("", "Pod", "pods", "pod", true, &["po"], &["all"], "xPOwRZ+Yhw8=", POD_SUBS),
    res("", "ReplicationController", "replicationcontrollers", "replicationcontroller", true, &["rc"], &["all"], "Jond2If31h0=", RC_SUBS),
    res("", "Secret", "secrets", "secret", true, &[], &[], "S6u1pOWzb84=", &[]),
    res("", "ServiceAccount", "serviceaccounts", "serviceaccount", true, &["sa"], &[], "pbx9ZvyFpBE=", SA_SUBS),
    res("", "Service", "services", "service", true, &["svc"], &["all"], "0/CO1lhkEBI=", SERVICE_SUBS),
    // apps/v1
    res("apps", "Deployment", "deployments", "deployment", true, &["deploy"], &["all"], "8aSe+NMegvE=", DEPLOYMENT_SUBS),
    res("apps", "ReplicaSet", "replicasets", "replicaset", true, &["rs"], &["all"], "P1RzHs8/mWQ=", REPLICASET_SUBS),
    // authentication.k8s.io/v1
    ResourceInfo { verbs: CREATE, ..res("authentication.k8s.io", "SelfSubjectReview", "selfsubjectreviews", "selfsubjectreview", false, &[], &[], "", &[]) },
    ResourceInfo { verbs: CREATE, ..res("authentication.k8s.io", "TokenReview", "tokenreviews", "tokenreview", false, &[], &[], "", &[]) },
    // authentication.k8s.io/v1beta1: SelfSubjectReview only. kube-apiserver 1.27–1.29 serve it
    // when the beta version is enabled (`--runtime-config`); kubox always does, so that
    // kubectl 1.27's `auth whoami` (which asks for v1beta1) works.
    ResourceInfo { version: "v1beta1", verbs: CREATE, ..res("authentication.k8s.io", "SelfSubjectReview", "selfsubjectreviews", "selfsubjectreview", false, &[], &[], "", &[]) },
    // authorization.k8s.io/v1
    ResourceInfo { verbs: CREATE, ..res("authorization.k8s.io", "SelfSubjectAccessReview", "selfsubjectaccessreviews", "selfsubjectaccessreview", false, &[], &[], "", &[]) },
    ResourceInfo { verbs: CREATE, ..res("authorization.k8s.io", "SelfSubjectRulesReview", "selfsubjectrulesreviews", "selfsubjectrulesreview", false, &[], &[], "", &[]) },
    // policy/v1
    res("policy", "PodDisruptionBudget", "poddisruptionbudgets", "poddisruptionbudget", true, &["pdb"], &[], "EVWiDmWqyJw=", PDB_SUBS),
    // rbac.authorization.k8s.io/v1
    res(RBAC, "ClusterRoleBinding", "clusterrolebindings", "clusterrolebinding", false, &[], &[], "48tpQ8gZHFc=", &[]),
    res(RBAC, "ClusterRole", "clusterroles", "clusterrole", false, &[], &[], "bYE5ZWDrJ44=", &[]),
    res(RBAC, "RoleBinding", "rolebindings", "rolebinding", true, &[], &[], "eGsCzGH6b1g=", &[]),
    res(RBAC, "Role", "roles", "role", true, &[], &[], "7FuwZcIIItM=", &[]),
    // scheduling.k8s.io/v1
    res("scheduling.k8s.io", "PriorityClass", "priorityclasses", "priorityclass", false, &["pc"], &[], "1QwjyaZjj3Y=", &[]),
    // coordination.k8s.io/v1
    res("coordination.k8s.io", "Lease", "leases", "lease", true, &[], &[], "gqkMMb/YqFM=", &[]),
    // discovery.k8s.io/v1
    res("discovery.k8s.io", "EndpointSlice", "endpointslices", "endpointslice", true, &[], &[], "qgS0xkrxYAI=", &[]),
];

/// The resource served at `/{prefix}/{group}/{version}/…/{plural}`.
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static ResourceInfo> {
    RESOURCES
        .iter()
        // The plural first: it differs between most entries, so most are rejected at once.
        .find(|r| r.plural == plural && r.group == group && r.version == version)
}

/// The resource of kind `kind` in `group` (any served version).
pub fn for_kind(group: &str, kind: &str) -> Option<&'static ResourceInfo> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.kind == kind)
}

/// The resource for an object's `apiVersion` (`v1`, `apps/v1`) and `kind`, as in a manifest.
pub fn for_api_version_kind(api_version: &str, kind: &str) -> Option<&'static ResourceInfo> {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    RESOURCES
        .iter()
        .find(|r| r.kind == kind && r.group == group && r.version == version)
}

/// The registry entry of a Rust kind: `registry::of::<Pod>()`.
///
/// # Panics
/// If `R` is not in the registry (every kind of [`crate::api`] that implements
/// [`Resource`] is; a test checks it).
pub fn of<R: Resource>() -> &'static ResourceInfo {
    find(R::GROUP, R::VERSION, R::PLURAL).unwrap_or_else(|| {
        panic!(
            "{} {}/{} is not in the registry",
            R::KIND,
            R::GROUP,
            R::VERSION
        )
    })
}

/// Resolves a name the way kubectl does (`kubectl get NAME`): a plural (`pods`), singular
/// (`pod`), short name (`po`) or kind (`Pod`, case-insensitive), optionally qualified with a
/// group (`deployments.apps`, `deploy.apps`) or version and group (`deployments.v1.apps`).
///
/// When several resources match, the first in discovery order wins (core before other groups),
/// as in kubectl.
pub fn resolve(name: &str) -> Option<&'static ResourceInfo> {
    let name = name.to_ascii_lowercase();
    let matches = |r: &ResourceInfo, n: &str| {
        r.plural == n
            || r.singular == n
            || r.short_names.contains(&n)
            || r.kind.eq_ignore_ascii_case(n)
    };
    if let Some(r) = RESOURCES.iter().find(|r| matches(r, &name)) {
        return Some(r);
    }
    let (resource, rest) = name.split_once('.')?;
    // `resource.version.group` first, then `resource.group`.
    if let Some((version, group)) = rest.split_once('.') {
        if let Some(r) = RESOURCES
            .iter()
            .find(|r| r.version == version && r.group == group && matches(r, resource))
        {
            return Some(r);
        }
    }
    RESOURCES
        .iter()
        .find(|r| r.group == rest && matches(r, resource))
}

/// The resources in the category `category` (`all`), in discovery order: what
/// `kubectl get all` expands to.
pub fn in_category(category: &str) -> impl Iterator<Item = &'static ResourceInfo> + '_ {
    RESOURCES
        .iter()
        .filter(move |r| r.categories.contains(&category))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_are_grouped_in_group_version_order_and_sorted() {
        let mut gv_index = 0;
        for pair in RESOURCES.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            if a.group_version() == b.group_version() {
                assert!(a.plural < b.plural, "{} before {}", a.plural, b.plural);
            } else {
                let next = GROUP_VERSIONS
                    .iter()
                    .position(|gv| *gv == b.group_version())
                    .unwrap();
                assert!(next > gv_index, "{} out of order", b.plural);
                gv_index = next;
            }
        }
        for gv in GROUP_VERSIONS {
            assert!(gv.resources().next().is_some(), "{gv:?} serves nothing");
        }
    }

    #[test]
    fn names_are_unique_and_verbs_sorted() {
        for r in RESOURCES {
            let mut v = r.verbs.to_vec();
            v.sort_unstable();
            assert_eq!(v, r.verbs, "{}", r.plural);
            let mut s: Vec<_> = r.subresources.iter().map(|s| s.name).collect();
            s.sort_unstable();
            assert_eq!(s, r.subresources.iter().map(|s| s.name).collect::<Vec<_>>());
            for n in r.short_names.iter().chain([&r.plural, &r.singular]) {
                // One resource may be served in several versions of its group.
                let mut owners: Vec<_> = RESOURCES
                    .iter()
                    .filter(|o| matches_name(o, n))
                    .map(|o| (o.group, o.plural))
                    .collect();
                owners.sort_unstable();
                owners.dedup();
                assert_eq!(owners.len(), 1, "{n} is ambiguous");
            }
        }
    }

    fn matches_name(r: &ResourceInfo, n: &str) -> bool {
        r.plural == n || r.singular == n || r.short_names.contains(&n)
    }

    #[test]
    fn resolves_like_kubectl() {
        for (name, plural) in [
            ("po", "pods"),
            ("pod", "pods"),
            ("Pods", "pods"),
            ("Pod", "pods"),
            ("svc", "services"),
            ("deploy", "deployments"),
            ("deployments.apps", "deployments"),
            ("deploy.v1.apps", "deployments"),
            ("rs", "replicasets"),
            ("rc", "replicationcontrollers"),
            ("ns", "namespaces"),
            ("no", "nodes"),
            ("ep", "endpoints"),
            ("sa", "serviceaccounts"),
            ("cm", "configmaps"),
            ("ev", "events"),
            ("pdb", "poddisruptionbudgets"),
            ("pc", "priorityclasses"),
            ("lease", "leases"),
            ("roles.rbac.authorization.k8s.io", "roles"),
            ("EndpointSlice", "endpointslices"),
        ] {
            assert_eq!(resolve(name).map(|r| r.plural), Some(plural), "{name}");
        }
        assert!(resolve("nope").is_none());
        assert!(resolve("deployments.batch").is_none());
    }

    #[test]
    fn paths() {
        let pods = find("", "v1", "pods").unwrap();
        assert_eq!(
            pods.collection_path(Some("default")),
            "/api/v1/namespaces/default/pods"
        );
        assert_eq!(pods.collection_path(None), "/api/v1/pods");
        let nodes = for_kind("", "Node").unwrap();
        assert_eq!(nodes.object_path(Some("ignored"), "n1"), "/api/v1/nodes/n1");
        assert_eq!(nodes.list_kind(), "NodeList");
        let d = for_api_version_kind("apps/v1", "Deployment").unwrap();
        assert_eq!(
            d.object_path(Some("ns"), "web"),
            "/apis/apps/v1/namespaces/ns/deployments/web"
        );
        assert_eq!(
            in_category("all").map(|r| r.plural).collect::<Vec<_>>(),
            [
                "pods",
                "replicationcontrollers",
                "services",
                "deployments",
                "replicasets"
            ]
        );
    }
}
