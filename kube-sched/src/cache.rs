//! The scheduler cache: nodes and the pods on them, including **assumed** pods (scheduled
//! but not yet bound) so that later cycles see their resources as used while binding runs
//! asynchronously. Assumed pods never expire: the informer's Add of the bound pod confirms
//! them, a failed binding forgets them (`durationToExpireAssumedPod = 0`).
//!
//! [`Cache::snapshot`] is O(1): the node list is an `Arc<Vec<Arc<NodeInfo>>>` updated by
//! copy-on-write, so a cycle's snapshot shares everything that did not change.

use foldhash::HashMap;
use std::sync::Arc;

use kubox_core::api::core_v1::Node;

use crate::nodeinfo::{node_tree_order, NodeInfo, PodInfo, Snapshot};

#[derive(Clone, Debug)]
struct PodState {
    info: Arc<PodInfo>,
    node: String,
    assumed: bool,
}

/// The cache.
///
/// Node additions are O(1): a new node waits in `pending` (reachable by name for pod
/// bookkeeping) and the node-tree order is recomputed once, by the next [`Cache::snapshot`],
/// as kube-scheduler's `UpdateSnapshot` does — not once per informer event, which made 5,000
/// node adds cost 12.5 million zone lookups.
#[derive(Debug, Default)]
pub struct Cache {
    snapshot: Snapshot,
    /// Nodes added since the last snapshot, in arrival order.
    pending: Vec<Arc<NodeInfo>>,
    /// Name → position in `pending`.
    pending_index: HashMap<String, usize>,
    /// The node order or the image counts must be recomputed before the next snapshot.
    dirty: bool,
    /// Node infos of nodes not (or no longer) in the cluster that still hold pods.
    ghosts: HashMap<String, NodeInfo>,
    pods: HashMap<String, PodState>,
}

impl Cache {
    /// An empty cache.
    pub fn new() -> Cache {
        Cache::default()
    }

    fn with_node<R>(&mut self, name: &str, f: impl FnOnce(&mut NodeInfo) -> R) -> Option<R> {
        if let Some(&i) = self.snapshot.index.get(name) {
            let list = Arc::make_mut(&mut self.snapshot.nodes);
            let ni = Arc::make_mut(&mut list[i]);
            return Some(f(ni));
        }
        if let Some(&i) = self.pending_index.get(name) {
            return Some(f(Arc::make_mut(&mut self.pending[i])));
        }
        self.ghosts.get_mut(name).map(f)
    }

    /// Folds pending nodes in and recomputes the node-tree order when needed.
    fn flush(&mut self) {
        if !self.dirty {
            return;
        }
        let mut nodes: Vec<Arc<NodeInfo>> =
            Vec::with_capacity(self.snapshot.nodes.len() + self.pending.len());
        nodes.extend(self.snapshot.nodes.iter().cloned());
        nodes.append(&mut self.pending);
        self.pending_index.clear();
        self.snapshot.set_nodes(node_tree_order(nodes));
        self.dirty = false;
    }

    /// Adds or updates a node.
    pub fn upsert_node(&mut self, node: Arc<Node>) {
        let name = node.metadata.name.clone().unwrap_or_default();
        if let Some(&i) = self.snapshot.index.get(&name) {
            let old_zone = crate::nodeinfo::zone_key(&self.snapshot.nodes[i]);
            let old_images = self.snapshot.nodes[i].images.clone();
            let old_labels = self.snapshot.nodes[i].shared_labels.clone();
            let list = Arc::make_mut(&mut self.snapshot.nodes);
            Arc::make_mut(&mut list[i]).set_node(node);
            let new_zone = crate::nodeinfo::zone_key(&list[i]);
            if old_zone != new_zone || *old_images != *list[i].images {
                self.dirty = true;
            }
            if !Arc::ptr_eq(&old_labels, &list[i].shared_labels) {
                // Domains are per label value: computed again on first use.
                self.snapshot.domain_cache = Arc::default();
            }
            return;
        }
        if let Some(&i) = self.pending_index.get(&name) {
            Arc::make_mut(&mut self.pending[i]).set_node(node);
            return;
        }
        let info = match self.ghosts.remove(&name) {
            Some(mut g) => {
                g.set_node(node);
                g
            }
            None => NodeInfo::new(node),
        };
        self.pending_index.insert(name, self.pending.len());
        self.pending.push(Arc::new(info));
        self.dirty = true;
    }

    /// Adds many nodes at once.
    pub fn upsert_nodes(&mut self, nodes: Vec<Arc<Node>>) {
        for n in nodes {
            self.upsert_node(n);
        }
    }

    /// Removes a node (its pods stay cached until they are deleted).
    pub fn remove_node(&mut self, name: &str) {
        self.dirty |= !self.pending.is_empty();
        self.flush();
        let Some(&i) = self.snapshot.index.get(name) else {
            return;
        };
        let mut nodes: Vec<Arc<NodeInfo>> = self.snapshot.nodes.iter().cloned().collect();
        let ni = nodes.remove(i);
        if !ni.pods.is_empty() {
            self.ghosts.insert(name.to_string(), (*ni).clone());
        }
        self.snapshot.set_nodes(node_tree_order(nodes));
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.snapshot.nodes.len() + self.pending.len()
    }

    /// Whether the pod is assumed (scheduled, binding in flight).
    pub fn is_assumed(&self, key: &str) -> bool {
        self.pods.get(key).is_some_and(|p| p.assumed)
    }

    /// Whether the cache knows the pod on a node.
    pub fn contains_pod(&self, key: &str) -> bool {
        self.pods.contains_key(key)
    }

    fn place(&mut self, info: Arc<PodInfo>, node: &str) {
        let placed = self.with_node(node, |ni| ni.add_pod(info.clone()));
        if let Some(&i) = self.snapshot.index.get(node) {
            self.snapshot.track_added_pod(i, &info);
        }
        if placed.is_none() {
            // Pod on a node we have not seen (yet).
            let mut g = NodeInfo::new(Arc::new(Node {
                api_version: String::new(),
                kind: String::new(),
                metadata: kubox_core::meta::ObjectMeta {
                    name: Some(node.to_string()),
                    ..Default::default()
                },
                spec: None,
                status: None,
            }));
            g.add_pod(info);
            self.ghosts.insert(node.to_string(), g);
        }
    }

    fn unplace(&mut self, key: &str, node: &str) {
        let removed = self.with_node(node, |ni| ni.remove_pod(key)).flatten();
        if let (Some(pod), Some(&i)) = (removed, self.snapshot.index.get(node)) {
            self.snapshot.track_removed_pod(i, &pod);
        }
        if self.ghosts.get(node).is_some_and(|g| g.pods.is_empty()) {
            self.ghosts.remove(node);
        }
    }

    /// Assumes `info` runs on `node` (`AssumePod`).
    pub fn assume(&mut self, info: Arc<PodInfo>, node: &str) {
        let key = info.key.clone();
        if let Some(old) = self.pods.remove(&key) {
            self.unplace(&key, &old.node);
        }
        self.place(info.clone(), node);
        self.pods.insert(
            key,
            PodState {
                info,
                node: node.to_string(),
                assumed: true,
            },
        );
    }

    /// Forgets an assumed pod (binding failed).
    pub fn forget(&mut self, key: &str) {
        if self.pods.get(key).is_some_and(|p| p.assumed) {
            let old = self.pods.remove(key).expect("checked");
            self.unplace(key, &old.node);
        }
    }

    /// Adds or updates a pod assigned to a node (from the informer); confirms an assumed pod.
    pub fn upsert_pod(&mut self, info: Arc<PodInfo>) {
        let node = info.node_name().to_string();
        let key = info.key.clone();
        // The binding of an assumed pod coming back from the informer: the node already
        // holds the assumed copy, identical but for spec.nodeName, so only the state flips.
        // (Re-placing it would copy the snapshot's node list whenever a scheduling cycle holds
        // it, which is most of the time.)
        if let Some(state) = self.pods.get_mut(&key) {
            if state.assumed && state.node == node && same_placement(&state.info, &info) {
                state.assumed = false;
                state.info = info;
                return;
            }
        }
        if let Some(old) = self.pods.remove(&key) {
            self.unplace(&key, &old.node);
        }
        self.place(info.clone(), &node);
        self.pods.insert(
            key,
            PodState {
                info,
                node,
                assumed: false,
            },
        );
    }

    /// Removes a pod.
    pub fn remove_pod(&mut self, key: &str) -> Option<Arc<PodInfo>> {
        let old = self.pods.remove(key)?;
        self.unplace(key, &old.node);
        Some(old.info)
    }

    /// The pod's cached info.
    pub fn pod(&self, key: &str) -> Option<&Arc<PodInfo>> {
        self.pods.get(key).map(|p| &p.info)
    }

    /// The snapshot for a cycle: cheap (it shares the node list), except after node
    /// additions, removals or zone changes, when the node-tree order is recomputed once.
    pub fn snapshot(&mut self) -> Snapshot {
        self.flush();
        self.snapshot.clone()
    }

    /// Replaces the cluster-wide side data of snapshots.
    pub fn snapshot_mut(&mut self) -> &mut Snapshot {
        self.flush();
        &mut self.snapshot
    }
}

/// Whether `new` occupies a node exactly as `assumed` does: same labels, priority and spec
/// apart from `nodeName` (which binding sets).
fn same_placement(assumed: &PodInfo, new: &PodInfo) -> bool {
    if assumed.priority != new.priority
        || assumed.pod.metadata.labels != new.pod.metadata.labels
        || assumed.uid != new.uid
    {
        return false;
    }
    match (&assumed.pod.spec, &new.pod.spec) {
        (Some(a), Some(b)) if a.node_name == b.node_name => a == b,
        (Some(a), Some(b)) => {
            let mut b = b.clone();
            b.node_name.clone_from(&a.node_name);
            *a == b
        }
        (a, b) => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kubox_core::api::core_v1::Pod;
    use serde_json::json;

    fn node(name: &str, zone: &str) -> Arc<Node> {
        Arc::new(
            serde_json::from_value(
                json!({"metadata": {"name": name, "labels": {"topology.kubernetes.io/zone": zone}},
            "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"}}}),
            )
            .unwrap(),
        )
    }
    fn pod(name: &str, node: &str) -> Arc<PodInfo> {
        let p: Pod = serde_json::from_value(json!({"metadata": {"name": name, "namespace": "d"},
            "spec": {"nodeName": node, "containers": [{"name": "c", "resources": {"requests": {"cpu": "1"}}}]}})).unwrap();
        Arc::new(PodInfo::new(Arc::new(p), 0))
    }

    #[test]
    fn zones_interleave() {
        let mut c = Cache::new();
        c.upsert_nodes(vec![
            node("a1", "a"),
            node("a2", "a"),
            node("b1", "b"),
            node("b2", "b"),
        ]);
        let names: Vec<String> = c.snapshot().nodes.iter().map(|n| n.name.clone()).collect();
        assert_eq!(names, ["a1", "b1", "a2", "b2"]);
    }

    #[test]
    fn assume_confirm_forget() {
        let mut c = Cache::new();
        c.upsert_node(node("n", "a"));
        let before = c.snapshot();
        c.assume(pod("p", ""), "n");
        assert!(c.is_assumed("d/p"));
        assert_eq!(c.snapshot().get("n").unwrap().requested.milli_cpu, 1000);
        // The earlier snapshot is unchanged (copy-on-write).
        assert_eq!(before.get("n").unwrap().requested.milli_cpu, 0);
        c.forget("d/p");
        assert_eq!(c.snapshot().get("n").unwrap().requested.milli_cpu, 0);
        c.assume(pod("p", ""), "n");
        c.upsert_pod(pod("p", "n"));
        assert!(!c.is_assumed("d/p"));
        assert_eq!(c.snapshot().get("n").unwrap().pods.len(), 1);
        c.forget("d/p"); // confirmed pods are not forgotten
        assert_eq!(c.snapshot().get("n").unwrap().pods.len(), 1);
        c.remove_pod("d/p");
        assert_eq!(c.snapshot().get("n").unwrap().pods.len(), 0);
    }

    #[test]
    fn confirming_an_assumed_pod_leaves_the_nodes_alone() {
        let mut c = Cache::new();
        c.upsert_node(node("n", "a"));
        c.assume(pod("p", ""), "n");
        // A scheduling cycle holds the snapshot while the binding comes back.
        let held = c.snapshot();
        c.upsert_pod(pod("p", "n"));
        assert!(!c.is_assumed("d/p"));
        assert!(
            Arc::ptr_eq(&held.nodes, &c.snapshot().nodes),
            "node list copied"
        );
        assert_eq!(c.pod("d/p").unwrap().node_name(), "n");
        // A confirmation that differs (other requests) re-places the pod.
        c.assume(pod("q", ""), "n");
        let mut other = (*pod("q", "n").pod).clone();
        other.spec.as_mut().unwrap().containers[0].resources = None;
        c.upsert_pod(Arc::new(PodInfo::new(Arc::new(other), 0)));
        assert_eq!(c.snapshot().get("n").unwrap().requested.milli_cpu, 1000);
        assert_eq!(c.snapshot().get("n").unwrap().pods.len(), 2);
    }

    /// The tracked pod groups are those computed from the nodes' pods.
    fn assert_groups_in_step(c: &mut Cache) {
        /// (namespace, labels, [(node index, pods)]) per group.
        type Canon = Vec<(String, String, Vec<(u32, u32)>)>;
        fn canon(g: &crate::groups::PodGroups) -> Canon {
            let mut out: Vec<_> = g
                .iter()
                .map(|g| {
                    let mut n: Vec<_> = g.nodes.iter().map(|(k, v)| (*k, *v)).collect();
                    n.sort();
                    (g.pod.namespace.clone(), format!("{:?}", g.pod.labels()), n)
                })
                .collect();
            out.sort();
            out
        }
        let s = c.snapshot();
        let tracked = s.groups.clone().expect("tracked");
        let fresh = crate::groups::PodGroups::from_nodes(s.nodes.iter());
        assert_eq!(canon(&tracked), canon(&fresh));
    }

    #[test]
    fn pod_groups_follow_assume_confirm_forget_and_removal() {
        let mut c = Cache::new();
        c.upsert_nodes(vec![node("a", "z"), node("b", "z")]);
        let _held = c.snapshot(); // copy-on-write path
        c.assume(pod("p", ""), "a");
        c.assume(pod("q", ""), "b");
        assert_groups_in_step(&mut c);
        c.upsert_pod(pod("p", "a"));
        c.forget("d/q");
        assert_groups_in_step(&mut c);
        // Moved by an update to another node.
        c.upsert_pod(pod("p", "b"));
        assert_groups_in_step(&mut c);
        assert_eq!(c.snapshot().groups.unwrap().len(), 1);
        // A node added later (pending, folded in by the next snapshot).
        c.upsert_node(node("c", "y"));
        c.upsert_pod(pod("r", "c"));
        assert_groups_in_step(&mut c);
        c.remove_node("b");
        assert_groups_in_step(&mut c);
        c.remove_pod("d/p");
        c.remove_pod("d/r");
        assert_groups_in_step(&mut c);
        assert!(c.snapshot().groups.unwrap().is_empty());
    }

    #[test]
    fn domains_follow_label_changes() {
        let mut c = Cache::new();
        c.upsert_nodes(vec![node("a", "z1"), node("b", "z2")]);
        let key = "topology.kubernetes.io/zone";
        let before = c.snapshot();
        let in_z1 = |n: &NodeInfo| n.labels().get(key).map(String::as_str) == Some("z1");
        assert_eq!(before.node_matches("z1", in_z1).get("a"), Some(&true));
        let d = before.domains(key);
        assert_eq!(d.values.len(), 2);
        let a = before.index["a"];
        assert_eq!(&*d.values[d.of_node[a] as usize], "z1");
        // Same labels: the cached domains stay.
        c.upsert_node(node("a", "z1"));
        assert!(Arc::ptr_eq(&c.snapshot().domains(key), &d));
        // A label change (here a zone change, which also reorders nodes) recomputes them;
        // the older snapshot keeps its own.
        c.upsert_node(node("a", "z2"));
        let s = c.snapshot();
        let d2 = s.domains(key);
        assert_eq!(d2.values.len(), 1);
        assert_eq!(s.node_matches("z1", in_z1).get("a"), Some(&false));
        assert_eq!(before.node_matches("z1", in_z1).get("a"), Some(&true));
        assert_eq!(&*d2.values[d2.of_node[s.index["a"]] as usize], "z2");
        assert_eq!(before.domains(key).values.len(), 2);
        // A change of another label only.
        let mut other = (*node("b", "z2")).clone();
        other
            .metadata
            .labels
            .as_mut()
            .unwrap()
            .insert("rack".into(), "r1".into());
        c.upsert_node(Arc::new(other));
        let s = c.snapshot();
        assert_eq!(s.domains("rack").values.len(), 1);
        assert_eq!(
            s.domains("rack").of_node[s.index["a"]],
            crate::nodeinfo::Domains::NONE
        );
    }

    #[test]
    fn pods_survive_node_removal() {
        let mut c = Cache::new();
        c.upsert_node(node("n", "a"));
        c.upsert_pod(pod("p", "n"));
        c.remove_node("n");
        assert_eq!(c.node_count(), 0);
        c.upsert_node(node("n", "a"));
        assert_eq!(c.snapshot().get("n").unwrap().pods.len(), 1);
    }
}
