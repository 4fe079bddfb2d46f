//! The scheduler's view of pods and nodes: [`PodInfo`] (a pod with everything the plugins
//! need precomputed once: requests, priority, parsed affinity terms, host ports, deadline),
//! [`NodeInfo`] (a node with aggregates over its pods) and the per-cycle [`Snapshot`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use kubox_core::api::core_v1::{Node, Pod, PodAffinityTerm, Taint};
use kubox_core::api::policy_v1::PodDisruptionBudget;
use kubox_core::meta::LabelSelector;
use kubox_core::selector::{Operator, Requirement, Selector};

use crate::groups::PodGroups;
use crate::resources::{pod_requests, Resource};

/// Labels as Kubernetes stores them.
pub type Labels = BTreeMap<String, String>;

static EMPTY_LABELS: Labels = BTreeMap::new();

/// A label selector that never fails: an invalid selector matches nothing.
pub(crate) fn selector_of(s: Option<&LabelSelector>) -> Selector {
    match s {
        None => Selector::nothing(),
        Some(s) => s.to_selector().unwrap_or_else(|_| Selector::nothing()),
    }
}

/// One pod-affinity term with its selectors parsed (`framework.AffinityTerm`).
#[derive(Clone, Debug)]
pub struct AffinityTerm {
    /// Namespaces named by the term (the pod's own when neither namespaces nor a namespace
    /// selector is set).
    pub namespaces: HashSet<String>,
    /// The namespace selector (`Some(everything)` for `{}`).
    pub namespace_selector: Option<Selector>,
    /// The pod label selector (matchLabelKeys/mismatchLabelKeys merged in).
    pub selector: Selector,
    /// The topology key.
    pub topology_key: String,
}

impl AffinityTerm {
    fn new(pod: &Pod, term: &PodAffinityTerm) -> AffinityTerm {
        let own_ns = pod.metadata.namespace.clone().unwrap_or_default();
        let mut selector = selector_of(term.label_selector.as_ref());
        let labels = pod.metadata.labels.as_ref().unwrap_or(&EMPTY_LABELS);
        if term.label_selector.is_some() {
            for (keys, op) in [
                (&term.match_label_keys, Operator::In),
                (&term.mismatch_label_keys, Operator::NotIn),
            ] {
                for k in keys.iter().flatten() {
                    if let Some(v) = labels.get(k) {
                        if let Ok(r) = Requirement::new(k.clone(), op, vec![v.clone()]) {
                            selector = selector.and(r);
                        }
                    }
                }
            }
        }
        let mut namespaces: HashSet<String> = term.namespaces.iter().flatten().cloned().collect();
        let namespace_selector = term
            .namespace_selector
            .as_ref()
            .map(|s| s.to_selector().unwrap_or_else(|_| Selector::nothing()));
        if namespaces.is_empty() && namespace_selector.is_none() {
            namespaces.insert(own_ns);
        }
        AffinityTerm {
            namespaces,
            namespace_selector,
            selector,
            topology_key: term.topology_key.clone(),
        }
    }

    /// Whether `pod` (whose namespace has labels `ns_labels`) matches this term.
    pub fn matches(&self, pod: &PodInfo, ns_labels: Option<&Labels>) -> bool {
        let ns_ok = self.namespaces.contains(&pod.namespace)
            || self
                .namespace_selector
                .as_ref()
                .is_some_and(|s| s.matches(ns_labels.unwrap_or(&EMPTY_LABELS)));
        ns_ok && self.selector.matches(pod.labels())
    }
}

/// A weighted [`AffinityTerm`].
#[derive(Clone, Debug)]
pub struct WeightedAffinityTerm {
    /// The term.
    pub term: AffinityTerm,
    /// Its weight (1–100).
    pub weight: i64,
}

/// A host port a pod uses: (IP, protocol, port).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HostPort {
    /// Host IP (`0.0.0.0` when unset).
    pub ip: String,
    /// `TCP`, `UDP` or `SCTP`.
    pub protocol: String,
    /// The port.
    pub port: i32,
}

impl HostPort {
    /// Whether two host ports conflict (same protocol and port, and one IP is the wildcard or
    /// both are equal).
    pub fn conflicts(&self, other: &HostPort) -> bool {
        self.port == other.port
            && self.protocol == other.protocol
            && (self.ip == other.ip || self.ip == "0.0.0.0" || other.ip == "0.0.0.0")
    }
}

/// A pod as the scheduler sees it, computed once per pod version (`framework.PodInfo`).
#[derive(Clone, Debug)]
pub struct PodInfo {
    /// The pod.
    pub pod: Arc<Pod>,
    /// `namespace/name`.
    pub key: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// metadata.uid.
    pub uid: String,
    /// The effective priority (spec.priority, else the PriorityClass' value, else 0).
    pub priority: i32,
    /// Effective requests (real).
    pub requests: Resource,
    /// Effective requests with the 100m / 200 MiB defaults (for scoring).
    pub non_zero_requests: Resource,
    /// Required pod affinity terms.
    pub required_affinity: Vec<AffinityTerm>,
    /// Required pod anti-affinity terms.
    pub required_anti_affinity: Vec<AffinityTerm>,
    /// Preferred pod affinity terms.
    pub preferred_affinity: Vec<WeightedAffinityTerm>,
    /// Preferred pod anti-affinity terms.
    pub preferred_anti_affinity: Vec<WeightedAffinityTerm>,
    /// Host ports of all containers (init containers included).
    pub host_ports: Vec<HostPort>,
    /// Unix seconds at which `activeDeadlineSeconds` runs out (from creationTimestamp).
    pub deadline: Option<i64>,
    /// Unix seconds of the pod's start (status.startTime, else creationTimestamp).
    pub start_time: i64,
}

impl PodInfo {
    /// The info of `pod` with effective priority `priority`.
    pub fn new(pod: Arc<Pod>, priority: i32) -> PodInfo {
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let mut info = PodInfo {
            key: format!("{namespace}/{name}"),
            namespace,
            name,
            uid: pod.metadata.uid.clone().unwrap_or_default(),
            priority,
            requests: pod_requests(&pod, false),
            non_zero_requests: pod_requests(&pod, true),
            required_affinity: Vec::new(),
            required_anti_affinity: Vec::new(),
            preferred_affinity: Vec::new(),
            preferred_anti_affinity: Vec::new(),
            host_ports: Vec::new(),
            deadline: None,
            start_time: 0,
            pod: pod.clone(),
        };
        let created = pod
            .metadata
            .creation_timestamp
            .as_ref()
            .map(|t| t.unix_seconds());
        info.start_time = pod
            .status
            .as_ref()
            .and_then(|s| s.start_time.as_ref())
            .map(|t| t.unix_seconds())
            .or(created)
            .unwrap_or(0);
        if let Some(spec) = pod.spec.as_ref() {
            if let (Some(d), Some(c)) = (spec.active_deadline_seconds, created) {
                info.deadline = Some(c.saturating_add(d));
            }
            if let Some(a) = spec.affinity.as_ref() {
                if let Some(pa) = a.pod_affinity.as_ref() {
                    for t in pa
                        .required_during_scheduling_ignored_during_execution
                        .iter()
                        .flatten()
                    {
                        info.required_affinity.push(AffinityTerm::new(&pod, t));
                    }
                    for t in pa
                        .preferred_during_scheduling_ignored_during_execution
                        .iter()
                        .flatten()
                    {
                        info.preferred_affinity.push(WeightedAffinityTerm {
                            term: AffinityTerm::new(&pod, &t.pod_affinity_term),
                            weight: t.weight as i64,
                        });
                    }
                }
                if let Some(pa) = a.pod_anti_affinity.as_ref() {
                    for t in pa
                        .required_during_scheduling_ignored_during_execution
                        .iter()
                        .flatten()
                    {
                        info.required_anti_affinity.push(AffinityTerm::new(&pod, t));
                    }
                    for t in pa
                        .preferred_during_scheduling_ignored_during_execution
                        .iter()
                        .flatten()
                    {
                        info.preferred_anti_affinity.push(WeightedAffinityTerm {
                            term: AffinityTerm::new(&pod, &t.pod_affinity_term),
                            weight: t.weight as i64,
                        });
                    }
                }
            }
            for c in spec
                .containers
                .iter()
                .chain(spec.init_containers.iter().flatten())
            {
                for p in c.ports.iter().flatten() {
                    if let Some(hp) = p.host_port.filter(|p| *p > 0) {
                        info.host_ports.push(HostPort {
                            ip: p
                                .host_ip
                                .clone()
                                .filter(|s| !s.is_empty())
                                .unwrap_or_else(|| "0.0.0.0".into()),
                            protocol: p.protocol.clone().unwrap_or_else(|| "TCP".into()),
                            port: hp,
                        });
                    }
                }
            }
        }
        info
    }

    /// The pod's labels.
    pub fn labels(&self) -> &Labels {
        self.pod.metadata.labels.as_ref().unwrap_or(&EMPTY_LABELS)
    }

    /// spec.nodeName (empty when unassigned).
    pub fn node_name(&self) -> &str {
        self.pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .unwrap_or("")
    }

    /// Whether the pod has any pod affinity or anti-affinity term.
    pub fn has_affinity(&self) -> bool {
        !(self.required_affinity.is_empty()
            && self.required_anti_affinity.is_empty()
            && self.preferred_affinity.is_empty()
            && self.preferred_anti_affinity.is_empty())
    }

    /// Whether the pod is being deleted.
    pub fn is_terminating(&self) -> bool {
        self.pod.metadata.deletion_timestamp.is_some()
    }

    /// `status.nominatedNodeName`, when set and not empty.
    pub fn nominated_node_name(&self) -> Option<&str> {
        self.pod
            .status
            .as_ref()
            .and_then(|s| s.nominated_node_name.as_deref())
            .filter(|n| !n.is_empty())
    }

    /// The scheduler the pod asks for (`default-scheduler` when unset).
    pub fn scheduler_name(&self) -> &str {
        self.pod
            .spec
            .as_ref()
            .and_then(|s| s.scheduler_name.as_deref())
            .unwrap_or(crate::DEFAULT_SCHEDULER_NAME)
    }
}

/// A node with aggregates over the pods on it (`framework.NodeInfo`). Cloned on write only:
/// snapshots hold `Arc<NodeInfo>`.
#[derive(Clone, Debug)]
pub struct NodeInfo {
    /// The node.
    pub node: Arc<Node>,
    /// Node name.
    pub name: String,
    /// The node name as a shared string (for [`crate::framework::NodeScore`]).
    pub shared_name: Arc<str>,
    /// The node's labels as shared strings, sorted by key: plugins that count pods per
    /// topology domain key their maps with them without allocating.
    pub shared_labels: Arc<[(Arc<str>, Arc<str>)]>,
    /// status.allocatable.
    pub allocatable: Resource,
    /// Σ real requests of the pods on the node.
    pub requested: Resource,
    /// Σ requests with the non-zero defaults.
    pub non_zero_requested: Resource,
    /// The pods (bound and assumed).
    pub pods: Vec<Arc<PodInfo>>,
    /// Host ports in use.
    pub used_ports: Vec<HostPort>,
    /// Normalized image name → size, from status.images.
    pub images: Arc<HashMap<String, i64>>,
    /// NoSchedule/NoExecute/PreferNoSchedule taints (inline: an untainted node is checked
    /// without following a pointer).
    pub taints: Vec<Taint>,
    /// `spec.unschedulable` (kept here so that filtering does not touch the Node object).
    pub unschedulable: bool,
    /// Bumped on every change.
    pub generation: u64,
}

/// Normalizes an image name as ImageLocality does: `:latest` appended when there is no tag
/// or digest.
pub fn normalize_image(name: &str) -> String {
    let last = name.rsplit('/').next().unwrap_or(name);
    if last.contains(':') || last.contains('@') {
        name.to_string()
    } else {
        format!("{name}:latest")
    }
}

impl NodeInfo {
    /// The info of a node with no pods.
    pub fn new(node: Arc<Node>) -> NodeInfo {
        let mut n = NodeInfo {
            name: node.metadata.name.clone().unwrap_or_default(),
            allocatable: Resource::default(),
            requested: Resource::default(),
            non_zero_requested: Resource::default(),
            pods: Vec::new(),
            used_ports: Vec::new(),
            images: Arc::new(HashMap::new()),
            taints: Vec::new(),
            unschedulable: false,
            shared_name: Arc::from(""),
            shared_labels: Arc::new([]),
            generation: 0,
            node: node.clone(),
        };
        n.set_node(node);
        n
    }

    /// Replaces the node object (keeps the pods).
    pub fn set_node(&mut self, node: Arc<Node>) {
        let status = node.status.as_ref();
        self.allocatable = status
            .and_then(|s| s.allocatable.as_ref())
            .map(Resource::from_list)
            .unwrap_or_default();
        let mut images = HashMap::new();
        for img in status.and_then(|s| s.images.as_ref()).into_iter().flatten() {
            for n in img.names.iter().flatten() {
                images.insert(normalize_image(n), img.size_bytes.unwrap_or(0));
            }
        }
        self.images = Arc::new(images);
        self.taints = node
            .spec
            .as_ref()
            .and_then(|s| s.taints.clone())
            .unwrap_or_default();
        self.unschedulable = node
            .spec
            .as_ref()
            .and_then(|s| s.unschedulable)
            .unwrap_or(false);
        self.name = node.metadata.name.clone().unwrap_or_default();
        if *self.shared_name != *self.name {
            self.shared_name = Arc::from(self.name.as_str());
        }
        let labels = node.metadata.labels.as_ref().unwrap_or(&EMPTY_LABELS);
        let same = self.shared_labels.len() == labels.len()
            && self
                .shared_labels
                .iter()
                .zip(labels)
                .all(|((k, v), (k2, v2))| **k == **k2 && **v == **v2);
        if !same {
            // BTreeMap order: sorted by key.
            self.shared_labels = labels
                .iter()
                .map(|(k, v)| (Arc::from(k.as_str()), Arc::from(v.as_str())))
                .collect();
        }
        self.node = node;
        self.generation += 1;
    }

    /// The node's labels.
    pub fn labels(&self) -> &Labels {
        self.node.metadata.labels.as_ref().unwrap_or(&EMPTY_LABELS)
    }

    /// The label `key` as shared strings (key, value).
    pub fn shared_label(&self, key: &str) -> Option<&(Arc<str>, Arc<str>)> {
        self.shared_labels
            .binary_search_by(|(k, _)| (**k).cmp(key))
            .ok()
            .map(|i| &self.shared_labels[i])
    }

    /// Adds a pod to the node's aggregates.
    pub fn add_pod(&mut self, pod: Arc<PodInfo>) {
        self.requested.add(&pod.requests);
        self.non_zero_requested.milli_cpu += pod.non_zero_requests.milli_cpu;
        self.non_zero_requested.memory += pod.non_zero_requests.memory;
        self.used_ports.extend(pod.host_ports.iter().cloned());
        self.pods.push(pod);
        self.generation += 1;
    }

    /// Removes the pod with `key`; returns it when it was there.
    pub fn remove_pod(&mut self, key: &str) -> Option<Arc<PodInfo>> {
        let i = self.pods.iter().position(|p| p.key == key)?;
        let pod = self.pods.swap_remove(i);
        self.requested.sub(&pod.requests);
        self.non_zero_requested.milli_cpu -= pod.non_zero_requests.milli_cpu;
        self.non_zero_requested.memory -= pod.non_zero_requests.memory;
        for hp in &pod.host_ports {
            if let Some(j) = self.used_ports.iter().position(|u| u == hp) {
                self.used_ports.swap_remove(j);
            }
        }
        self.generation += 1;
        Some(pod)
    }
}

/// Selectors of the Services, ReplicationControllers, ReplicaSets and StatefulSets per
/// namespace, for default spreading (`helper.DefaultSelector`).
#[derive(Clone, Debug, Default)]
pub struct Workloads {
    /// namespace → selectors (Services and RCs as label sets, RS/STS as label selectors).
    pub selectors: HashMap<String, Vec<Selector>>,
}

impl Workloads {
    /// The combined selector of every workload selecting `pod` (None when none does).
    pub fn default_selector(&self, pod: &PodInfo) -> Option<Selector> {
        let mut reqs: Vec<Requirement> = Vec::new();
        for s in self.selectors.get(&pod.namespace).into_iter().flatten() {
            if !s.is_empty() && s.matches(pod.labels()) {
                if let Some(r) = s.requirements() {
                    reqs.extend(r.iter().cloned());
                }
            }
        }
        if reqs.is_empty() {
            return None;
        }
        Some(
            reqs.into_iter()
                .fold(Selector::everything(), |s, r| s.and(r)),
        )
    }
}

/// A local PersistentVolume's placement, for volume locality (PVC → PV lookups).
#[derive(Clone, Debug, Default)]
pub struct VolumePlacement {
    /// The PV's required node affinity (`spec.nodeAffinity.required`).
    pub node_affinity: Option<kubox_core::api::core_v1::NodeSelector>,
    /// The PV's topology labels (`topology.kubernetes.io/zone`, `…/region`).
    pub labels: Labels,
}

/// Where the data of a pod's volumes lives: `namespace/claimName` → the bound volume's
/// placement. kube-api does not serve PersistentVolumes yet, so the application (or a test)
/// fills this catalog.
#[derive(Clone, Debug, Default)]
pub struct VolumeCatalog {
    /// `namespace/claim` → placement of the bound PV.
    pub claims: HashMap<String, VolumePlacement>,
}

/// The topology domains of one label key over a snapshot's node list: each distinct value
/// gets an id, each node the id of its value. Plugins that count pods per domain index plain
/// vectors with it instead of hashing label strings per node.
#[derive(Debug, Default)]
pub struct Domains {
    /// Domain values, by id.
    pub values: Vec<Arc<str>>,
    /// Value → id.
    pub ids: foldhash::HashMap<Arc<str>, u32>,
    /// Per node (index in the node list): the id of its domain, [`Domains::NONE`] when it
    /// lacks the label.
    pub of_node: Vec<u32>,
}

impl Domains {
    /// The id of a node without the label.
    pub const NONE: u32 = u32::MAX;

    fn of(key: &str, nodes: &[Arc<NodeInfo>]) -> Domains {
        let mut d = Domains {
            of_node: Vec::with_capacity(nodes.len()),
            ..Domains::default()
        };
        for n in nodes {
            let id = match n.shared_label(key) {
                None => Domains::NONE,
                Some((_, v)) => match d.ids.get(&**v) {
                    Some(&id) => id,
                    None => {
                        let id = d.values.len() as u32;
                        d.values.push(v.clone());
                        d.ids.insert(v.clone(), id);
                        id
                    }
                },
            };
            d.of_node.push(id);
        }
        d
    }

    /// The id of `node`'s domain (by its label value; the node need not be in the list).
    pub fn id_of(&self, key: &str, node: &NodeInfo) -> Option<u32> {
        let (_, v) = node.shared_label(key)?;
        self.ids.get(&**v).copied()
    }
}

/// What a node list's labels determine, computed on first use: per label key its
/// [`Domains`], per node selector (a key chosen by the caller) which nodes match. Replaced
/// (not cleared) when the node list or a node's labels change, so older snapshots keep theirs.
#[derive(Debug, Default)]
pub struct DomainCache {
    domains: parking_lot::Mutex<HashMap<String, Arc<Domains>>>,
    selectors: parking_lot::Mutex<HashMap<String, Arc<NodeMatches>>>,
}

/// Node name → whether the node matches a selector, for the nodes of a snapshot.
pub type NodeMatches = foldhash::HashMap<Arc<str>, bool>;

/// Selectors cached per snapshot at most (a bound against pods with ever-new selectors).
const MAX_CACHED_SELECTORS: usize = 256;

/// Everything a scheduling cycle reads, frozen for the cycle (`internalcache.Snapshot`).
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// All nodes, zones interleaved (the node tree's order).
    pub nodes: Arc<Vec<Arc<NodeInfo>>>,
    /// Node name → index into `nodes`.
    pub index: Arc<HashMap<String, usize>>,
    /// Normalized image → number of nodes having it.
    pub image_nodes: Arc<HashMap<String, usize>>,
    /// Namespace name → labels.
    pub namespaces: Arc<HashMap<String, Labels>>,
    /// Workload selectors for default spreading.
    pub workloads: Arc<Workloads>,
    /// PodDisruptionBudgets.
    pub pdbs: Arc<Vec<Arc<PodDisruptionBudget>>>,
    /// Volume placements.
    pub volumes: Arc<VolumeCatalog>,
    /// The pods of `nodes` grouped by namespace, labels, terminating state and affinity
    /// (see [`crate::groups`]); `None`: not tracked, plugins walk every node's pods.
    pub groups: Option<Arc<PodGroups>>,
    /// Topology domains per label key of `nodes` (see [`Snapshot::domains`]).
    pub domain_cache: Arc<DomainCache>,
    /// Node name → pods nominated to it (waiting for their victims to go), set by the
    /// scheduler for each cycle; preemption's dry runs count them as Kubernetes'
    /// `RunFilterPluginsWithNominatedPods` does.
    pub nominated: Arc<foldhash::HashMap<String, Vec<Arc<PodInfo>>>>,
}

impl Snapshot {
    /// A snapshot of `nodes` (the node-tree order is computed) holding `pods` (each added to
    /// its `spec.nodeName`). Handy for tests and simulations.
    pub fn from_objects(nodes: Vec<Arc<Node>>, pods: Vec<Arc<PodInfo>>) -> Snapshot {
        let mut infos: Vec<NodeInfo> = nodes.into_iter().map(NodeInfo::new).collect();
        let pos: HashMap<String, usize> = infos
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.clone(), i))
            .collect();
        for p in pods {
            if let Some(&i) = pos.get(p.node_name()) {
                infos[i].add_pod(p);
            }
        }
        let ordered = node_tree_order(infos.into_iter().map(Arc::new).collect());
        let mut s = Snapshot::default();
        s.set_nodes(ordered);
        s
    }

    /// Replaces the node list (already in node-tree order) and recomputes the indexes.
    pub fn set_nodes(&mut self, nodes: Vec<Arc<NodeInfo>>) {
        self.index = Arc::new(
            nodes
                .iter()
                .enumerate()
                .map(|(i, n)| (n.name.clone(), i))
                .collect(),
        );
        let mut images: HashMap<String, usize> = HashMap::new();
        for n in &nodes {
            for k in n.images.keys() {
                *images.entry(k.clone()).or_default() += 1;
            }
        }
        self.image_nodes = Arc::new(images);
        self.groups = Some(Arc::new(PodGroups::from_nodes(&nodes)));
        self.domain_cache = Arc::default();
        self.nodes = Arc::new(nodes);
    }

    /// The topology domains of label `key` over `nodes`, computed on first use.
    ///
    /// Whoever changes `nodes` or a node's labels without [`Snapshot::set_nodes`] must
    /// replace `domain_cache` (the scheduler cache does).
    pub fn domains(&self, key: &str) -> Arc<Domains> {
        let mut m = self.domain_cache.domains.lock();
        if let Some(d) = m.get(key) {
            return d.clone();
        }
        let d = Arc::new(Domains::of(key, &self.nodes));
        m.insert(key.to_string(), d.clone());
        d
    }

    /// Which nodes match the selector identified by `key` (`matches` decides, from labels
    /// only), computed on first use and cached like [`Snapshot::domains`]. Pods of one
    /// workload share their node selector, so each is evaluated once per node, not once per
    /// node per pod.
    pub fn node_matches(&self, key: &str, matches: impl Fn(&NodeInfo) -> bool) -> Arc<NodeMatches> {
        if let Some(m) = self.domain_cache.selectors.lock().get(key) {
            return m.clone();
        }
        let m: Arc<NodeMatches> = Arc::new(
            self.nodes
                .iter()
                .map(|n| (n.shared_name.clone(), matches(n)))
                .collect(),
        );
        let mut cache = self.domain_cache.selectors.lock();
        if cache.len() >= MAX_CACHED_SELECTORS {
            cache.clear();
        }
        cache.insert(key.to_string(), m.clone());
        m
    }

    /// Counts `pod`, just added to the node at `index`, in the groups.
    pub(crate) fn track_added_pod(&mut self, index: usize, pod: &Arc<PodInfo>) {
        if let Some(g) = self.groups.as_mut() {
            Arc::make_mut(g).add(pod, index as u32);
        }
    }

    /// Uncounts `pod`, just removed from the node at `index`, in the groups.
    pub(crate) fn track_removed_pod(&mut self, index: usize, pod: &PodInfo) {
        if let Some(g) = self.groups.as_mut() {
            Arc::make_mut(g).remove(pod, index as u32);
        }
    }

    /// The pods of the snapshot's nodes, grouped (see [`crate::groups`]): the tracked groups,
    /// or groups computed now from the nodes' pods when the snapshot does not track them.
    pub fn pod_groups(&self) -> std::borrow::Cow<'_, PodGroups> {
        match &self.groups {
            Some(g) => std::borrow::Cow::Borrowed(&**g),
            None => std::borrow::Cow::Owned(PodGroups::from_nodes(self.nodes.iter())),
        }
    }

    /// The node named `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<NodeInfo>> {
        self.index.get(name).map(|&i| &self.nodes[i])
    }

    /// Labels of namespace `ns`.
    pub fn namespace_labels(&self, ns: &str) -> Option<&Labels> {
        self.namespaces.get(ns)
    }
}

/// The zone key of the node tree: region and zone labels.
pub(crate) fn zone_key(node: &NodeInfo) -> String {
    let l = node.labels();
    let region = l
        .get("topology.kubernetes.io/region")
        .or_else(|| l.get("failure-domain.beta.kubernetes.io/region"))
        .map(String::as_str)
        .unwrap_or("");
    let zone = l
        .get("topology.kubernetes.io/zone")
        .or_else(|| l.get("failure-domain.beta.kubernetes.io/zone"))
        .map(String::as_str)
        .unwrap_or("");
    if region.is_empty() && zone.is_empty() {
        String::new()
    } else {
        format!("{region}:\x00:{zone}")
    }
}

/// Orders nodes as `nodeTree.list()`: zones in order of first appearance, interleaved
/// round-robin.
pub fn node_tree_order(nodes: Vec<Arc<NodeInfo>>) -> Vec<Arc<NodeInfo>> {
    let mut zones: Vec<(String, Vec<Arc<NodeInfo>>)> = Vec::new();
    let mut pos: HashMap<String, usize> = HashMap::new();
    for n in nodes {
        let z = zone_key(&n);
        let i = *pos.entry(z.clone()).or_insert_with(|| {
            zones.push((z, Vec::new()));
            zones.len() - 1
        });
        zones[i].1.push(n);
    }
    if zones.len() == 1 {
        return zones.pop().map(|z| z.1).unwrap_or_default();
    }
    let total: usize = zones.iter().map(|z| z.1.len()).sum();
    let mut out = Vec::with_capacity(total);
    let mut iters: Vec<_> = zones.into_iter().map(|z| z.1.into_iter()).collect();
    while out.len() < total {
        for it in iters.iter_mut() {
            if let Some(n) = it.next() {
                out.push(n);
            }
        }
    }
    out
}
