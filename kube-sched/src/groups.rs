//! Pods grouped by what selectors and pod (anti-)affinity terms look at.
//!
//! InterPodAffinity and PodTopologySpread count, for every scheduling cycle, the existing
//! pods that a selector or term matches per topology domain. Kubernetes walks every pod of
//! every node to do so; scheduler_perf's workloads (and real ones: the replicas of a
//! Deployment) are made of many pods that look alike to those plugins. Pods with equal
//! namespace, labels, terminating state and pod (anti-)affinity share a [`PodGroup`], so a
//! cycle evaluates a selector once per group and only walks the nodes of the groups that
//! match. [`PodGroups`] lives in the [`crate::nodeinfo::Snapshot`] and the
//! [`crate::cache::Cache`] keeps it in step with the nodes' pod lists.
//!
//! Invariant: nodes are named by their index in the snapshot's node list, and for every node
//! of the list the sum over groups of `group.nodes[index]` equals the number of pods in its
//! `NodeInfo::pods`, each pod counted in the one group it [belongs](PodGroup::admits) to.
//! Pods of nodes outside the list (ghosts, nodes not folded in yet) are not counted; the
//! groups are recomputed whenever the list is.

use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::{Arc, LazyLock};

use foldhash::HashMap;

use crate::nodeinfo::{NodeInfo, PodInfo};

/// Pods alike to selectors and affinity terms, and where they are.
#[derive(Clone, Debug)]
pub struct PodGroup {
    /// A pod of the group: its namespace, labels, terminating state and terms stand for
    /// every pod of the group.
    pub pod: Arc<PodInfo>,
    /// Index in the snapshot's node list → number of the group's pods on that node (no zero
    /// entries).
    pub nodes: HashMap<u32, u32>,
}

impl PodGroup {
    /// Whether `pod` belongs to this group.
    pub fn admits(&self, pod: &PodInfo) -> bool {
        let a = &self.pod;
        a.namespace == pod.namespace
            && a.is_terminating() == pod.is_terminating()
            && a.labels() == pod.labels()
            && pod_affinity_of(a) == pod_affinity_of(pod)
    }
}

type Affinity<'a> = (
    Option<&'a kubox_core::api::core_v1::PodAffinity>,
    Option<&'a kubox_core::api::core_v1::PodAntiAffinity>,
);

fn pod_affinity_of(p: &PodInfo) -> Affinity<'_> {
    let a = p.pod.spec.as_ref().and_then(|s| s.affinity.as_ref());
    (
        a.and_then(|a| a.pod_affinity.as_ref()),
        a.and_then(|a| a.pod_anti_affinity.as_ref()),
    )
}

/// One hasher for every bucket key of the process: buckets survive snapshot clones.
static BUCKET_HASHER: LazyLock<foldhash::quality::RandomState> =
    LazyLock::new(foldhash::quality::RandomState::default);

fn bucket_of(p: &PodInfo) -> u64 {
    let mut h = BUCKET_HASHER.build_hasher();
    p.namespace.hash(&mut h);
    p.labels().hash(&mut h);
    p.is_terminating().hash(&mut h);
    h.finish()
}

/// All groups. Cloned on write (snapshots share it through an `Arc`).
#[derive(Clone, Debug, Default)]
pub struct PodGroups {
    /// Hash of (namespace, labels, terminating) → the groups with it (they differ in their
    /// affinity).
    buckets: std::collections::HashMap<u64, Vec<PodGroup>>,
}

impl PodGroups {
    /// The groups of the pods of `nodes` (a snapshot's node list).
    pub fn from_nodes<'a>(nodes: impl IntoIterator<Item = &'a Arc<NodeInfo>>) -> PodGroups {
        let mut g = PodGroups::default();
        for (i, n) in nodes.into_iter().enumerate() {
            for p in &n.pods {
                g.add(p, i as u32);
            }
        }
        g
    }

    /// Counts `pod` on the node at `node`.
    pub fn add(&mut self, pod: &Arc<PodInfo>, node: u32) {
        let bucket = self.buckets.entry(bucket_of(pod)).or_default();
        let group = match bucket.iter().position(|g| g.admits(pod)) {
            Some(i) => &mut bucket[i],
            None => {
                bucket.push(PodGroup {
                    pod: pod.clone(),
                    nodes: HashMap::default(),
                });
                bucket.last_mut().expect("just pushed")
            }
        };
        *group.nodes.entry(node).or_insert(0) += 1;
    }

    /// Uncounts `pod` on the node at `node` (a no-op when it was not counted there).
    pub fn remove(&mut self, pod: &PodInfo, node: u32) {
        let b = bucket_of(pod);
        let Some(bucket) = self.buckets.get_mut(&b) else {
            return;
        };
        let Some(i) = bucket.iter().position(|g| g.admits(pod)) else {
            return;
        };
        let group = &mut bucket[i];
        if let Some(c) = group.nodes.get_mut(&node) {
            *c -= 1;
            if *c == 0 {
                group.nodes.remove(&node);
            }
        }
        if group.nodes.is_empty() {
            bucket.swap_remove(i);
            if bucket.is_empty() {
                self.buckets.remove(&b);
            }
        }
    }

    /// Every group.
    pub fn iter(&self) -> impl Iterator<Item = &PodGroup> + '_ {
        self.buckets.values().flatten()
    }

    /// Number of groups.
    pub fn len(&self) -> usize {
        self.buckets.values().map(Vec::len).sum()
    }

    /// Whether there are no pods.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kubox_core::api::core_v1::Pod;
    use serde_json::json;

    fn pod(name: &str, labels: serde_json::Value, anti: bool) -> Arc<PodInfo> {
        let mut v = json!({"metadata": {"name": name, "namespace": "ns", "labels": labels},
            "spec": {"containers": [{"name": "c"}]}});
        if anti {
            v["spec"]["affinity"] = json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"app": "a"}}, "topologyKey": "kubernetes.io/hostname"}]}});
        }
        let p: Pod = serde_json::from_value(v).unwrap();
        Arc::new(PodInfo::new(Arc::new(p), 0))
    }

    fn counts(g: &PodGroups) -> Vec<(String, Vec<(u32, u32)>)> {
        let mut out: Vec<_> = g
            .iter()
            .map(|g| {
                let mut n: Vec<_> = g.nodes.iter().map(|(k, v)| (*k, *v)).collect();
                n.sort();
                (g.pod.name.clone(), n)
            })
            .collect();
        out.sort();
        out
    }

    #[test]
    fn alike_pods_share_a_group_and_empty_groups_go() {
        let (n1, n2) = (1, 2);
        let mut g = PodGroups::default();
        let a1 = pod("a1", json!({"app": "a"}), false);
        let a2 = pod("a2", json!({"app": "a"}), false);
        let b = pod("b", json!({"app": "b"}), false);
        let anti = pod("anti", json!({"app": "a"}), true);
        g.add(&a1, n1);
        g.add(&a2, n1);
        g.add(&a2, n2);
        g.add(&b, n2);
        g.add(&anti, n2);
        assert_eq!(g.len(), 3, "labels and affinity split groups");
        assert_eq!(
            counts(&g),
            [
                ("a1".to_string(), vec![(1, 2), (2, 1)]),
                ("anti".to_string(), vec![(2, 1)]),
                ("b".to_string(), vec![(2, 1)]),
            ]
        );
        g.remove(&a1, n1);
        g.remove(&a1, n2);
        g.remove(&anti, n2);
        g.remove(&anti, n2); // not there any more: no-op
        assert_eq!(
            counts(&g),
            [
                ("a1".to_string(), vec![(1, 1)]),
                ("b".to_string(), vec![(2, 1)]),
            ]
        );
        g.remove(&a2, n1);
        g.remove(&b, n2);
        assert!(g.is_empty());
    }
}
