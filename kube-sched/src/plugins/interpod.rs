//! `InterPodAffinity`: required and preferred pod affinity and anti-affinity over topology
//! domains, with existing pods' required anti-affinity honoured symmetrically.

use std::collections::HashMap;
use std::sync::Arc;

use crate::framework::*;
use crate::nodeinfo::{AffinityTerm, NodeInfo, PodInfo, Snapshot};

/// InterPodAffinity's reasons.
pub const ERR_AFFINITY: &str = "node(s) didn't match pod affinity rules";
/// Anti-affinity of the incoming pod.
pub const ERR_ANTI_AFFINITY: &str = "node(s) didn't match pod anti-affinity rules";
/// Anti-affinity of the existing pods.
pub const ERR_EXISTING_ANTI_AFFINITY: &str =
    "node(s) didn't satisfy existing pods anti-affinity rules";

/// The plugin.
#[derive(Clone, Debug)]
pub struct InterPodAffinity {
    /// Weight of existing pods' required affinity terms when scoring (default 1).
    pub hard_pod_affinity_weight: i64,
}

impl Default for InterPodAffinity {
    fn default() -> Self {
        InterPodAffinity {
            hard_pod_affinity_weight: 1,
        }
    }
}

/// Pod counts per topology pair: topology key → value → count (looked up by `&str`, so
/// filtering a node allocates nothing).
#[derive(Clone, Default)]
struct Counts(HashMap<String, HashMap<String, i64>>);

impl Counts {
    fn add(&mut self, key: &str, value: &str, m: i64) {
        let values = match self.0.get_mut(key) {
            Some(v) => v,
            None => self.0.entry(key.to_string()).or_default(),
        };
        match values.get_mut(value) {
            Some(c) => *c += m,
            None => {
                values.insert(value.to_string(), m);
            }
        }
    }
    fn get(&self, key: &str, value: &str) -> i64 {
        self.0
            .get(key)
            .and_then(|v| v.get(value))
            .copied()
            .unwrap_or(0)
    }
    /// Drops the pairs whose count went back to zero.
    fn prune(&mut self) {
        for v in self.0.values_mut() {
            v.retain(|_, c| *c != 0);
        }
        self.0.retain(|_, v| !v.is_empty());
    }
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    fn iter(&self) -> impl Iterator<Item = (&str, &str, i64)> {
        self.0
            .iter()
            .flat_map(|(k, v)| v.iter().map(move |(v, c)| (k.as_str(), v.as_str(), *c)))
    }
}

#[derive(Clone, Default)]
struct FilterState {
    existing_anti: Counts,
    affinity: Counts,
    anti: Counts,
}

const PF_STATE: &str = "PreFilterInterPodAffinity";
const PS_STATE: &str = "PreScoreInterPodAffinity";

fn all_match(
    terms: &[AffinityTerm],
    pod: &PodInfo,
    snapshot_ns: Option<&crate::nodeinfo::Labels>,
) -> bool {
    !terms.is_empty() && terms.iter().all(|t| t.matches(pod, snapshot_ns))
}

fn update(
    st: &mut FilterState,
    pod: &PodInfo,
    pod_ns: Option<&crate::nodeinfo::Labels>,
    existing: &PodInfo,
    ex_ns: Option<&crate::nodeinfo::Labels>,
    node: &NodeInfo,
    m: i64,
) {
    let labels = node.labels();
    for t in &existing.required_anti_affinity {
        if let Some(v) = labels.get(&t.topology_key) {
            if t.matches(pod, pod_ns) {
                st.existing_anti.add(&t.topology_key, v, m);
            }
        }
    }
    if all_match(&pod.required_affinity, existing, ex_ns) {
        for t in &pod.required_affinity {
            if let Some(v) = labels.get(&t.topology_key) {
                st.affinity.add(&t.topology_key, v, m);
            }
        }
    }
    for t in &pod.required_anti_affinity {
        if let Some(v) = labels.get(&t.topology_key) {
            if t.matches(existing, ex_ns) {
                st.anti.add(&t.topology_key, v, m);
            }
        }
    }
}

impl FilterState {
    fn prune(&mut self) {
        self.existing_anti.prune();
        self.affinity.prune();
        self.anti.prune();
    }
}

impl Plugin for InterPodAffinity {
    fn name(&self) -> &str {
        "InterPodAffinity"
    }
    fn events_to_register(&self) -> Vec<ClusterEvent> {
        vec![
            ClusterEvent::POD_ADD,
            ClusterEvent::POD_UPDATE,
            ClusterEvent::POD_DELETE,
            ClusterEvent::NODE_ADD,
            ClusterEvent::NODE_UPDATE,
        ]
    }
}

impl PreFilterPlugin for InterPodAffinity {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
    ) -> PreFilterResult {
        let has_own = !pod.required_affinity.is_empty() || !pod.required_anti_affinity.is_empty();
        let mut st = FilterState::default();
        let pod_ns = snapshot.namespace_labels(&pod.namespace);
        // Without terms of its own, only existing pods' required anti-affinity matters.
        let nodes: Box<dyn Iterator<Item = &Arc<NodeInfo>>> = if has_own {
            Box::new(snapshot.nodes.iter())
        } else {
            Box::new(snapshot.nodes_with_required_anti_affinity())
        };
        for node in nodes {
            if !has_own && node.pods_with_required_anti_affinity == 0 {
                continue;
            }
            for e in &node.pods {
                if !has_own && e.required_anti_affinity.is_empty() {
                    continue;
                }
                let ex_ns = snapshot.namespace_labels(&e.namespace);
                update(&mut st, pod, pod_ns, e, ex_ns, node, 1);
            }
        }
        st.prune();
        if !has_own && st.existing_anti.is_empty() {
            return Status::skip().into();
        }
        state.write(PF_STATE, st);
        Status::success().into()
    }
    fn add_pod(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        added: &PodInfo,
        node: &NodeInfo,
    ) -> Status {
        if let Some(st) = state.read_mut::<FilterState>(PF_STATE) {
            update(st, pod, None, added, None, node, 1);
            st.prune();
        }
        Status::success()
    }
    fn remove_pod(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        removed: &PodInfo,
        node: &NodeInfo,
    ) -> Status {
        if let Some(st) = state.read_mut::<FilterState>(PF_STATE) {
            update(st, pod, None, removed, None, node, -1);
            st.prune();
        }
        Status::success()
    }
}

impl FilterPlugin for InterPodAffinity {
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let Some(st) = state.read::<FilterState>(PF_STATE) else {
            return Status::success();
        };
        let labels = node.labels();
        // Affinity.
        if !pod.required_affinity.is_empty() {
            let mut exist = true;
            for t in &pod.required_affinity {
                match labels.get(&t.topology_key) {
                    None => return Status::unresolvable(ERR_AFFINITY),
                    Some(v) => {
                        if st.affinity.get(&t.topology_key, v) <= 0 {
                            exist = false;
                        }
                    }
                }
            }
            if !(exist || st.affinity.is_empty() && all_match(&pod.required_affinity, pod, None)) {
                return Status::unresolvable(ERR_AFFINITY);
            }
        }
        // Anti-affinity of the pod.
        for t in &pod.required_anti_affinity {
            if let Some(v) = labels.get(&t.topology_key) {
                if st.anti.get(&t.topology_key, v) > 0 {
                    return Status::unschedulable(ERR_ANTI_AFFINITY);
                }
            }
        }
        // Existing pods' anti-affinity.
        for (k, v, c) in st.existing_anti.iter() {
            if c > 0 && labels.get(k).map(String::as_str) == Some(v) {
                return Status::unschedulable(ERR_EXISTING_ANTI_AFFINITY);
            }
        }
        Status::success()
    }
}

#[derive(Clone, Default)]
struct ScoreState {
    scores: HashMap<String, HashMap<String, i64>>,
}

impl PreScorePlugin for InterPodAffinity {
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _: &[Arc<NodeInfo>],
        snapshot: &Snapshot,
    ) -> Status {
        let has_pref =
            !pod.preferred_affinity.is_empty() || !pod.preferred_anti_affinity.is_empty();
        let pod_ns = snapshot.namespace_labels(&pod.namespace);
        let mut st = ScoreState::default();
        let mut add = |key: &str, node: &NodeInfo, w: i64| {
            if let Some(v) = node.labels().get(key) {
                // Allocate the key and value only the first time they are seen.
                let values = match st.scores.get_mut(key) {
                    Some(m) => m,
                    None => st.scores.entry(key.to_string()).or_default(),
                };
                match values.get_mut(v) {
                    Some(c) => *c += w,
                    None => {
                        values.insert(v.clone(), w);
                    }
                }
            }
        };
        // Without preferred terms of its own, only existing pods' terms matter.
        let nodes: Box<dyn Iterator<Item = &Arc<NodeInfo>>> = if has_pref {
            Box::new(snapshot.nodes.iter())
        } else {
            Box::new(snapshot.nodes_with_affinity())
        };
        for node in nodes {
            if !has_pref && node.pods_with_affinity == 0 {
                continue;
            }
            if node.labels().is_empty() {
                continue;
            }
            for e in &node.pods {
                if !has_pref && !e.has_affinity() {
                    continue;
                }
                let ex_ns = snapshot.namespace_labels(&e.namespace);
                for w in &pod.preferred_affinity {
                    if w.term.matches(e, ex_ns) {
                        add(&w.term.topology_key, node, w.weight);
                    }
                }
                for w in &pod.preferred_anti_affinity {
                    if w.term.matches(e, ex_ns) {
                        add(&w.term.topology_key, node, -w.weight);
                    }
                }
                if self.hard_pod_affinity_weight > 0 {
                    for t in &e.required_affinity {
                        if t.matches(pod, pod_ns) {
                            add(&t.topology_key, node, self.hard_pod_affinity_weight);
                        }
                    }
                }
                for w in &e.preferred_affinity {
                    if w.term.matches(pod, pod_ns) {
                        add(&w.term.topology_key, node, w.weight);
                    }
                }
                for w in &e.preferred_anti_affinity {
                    if w.term.matches(pod, pod_ns) {
                        add(&w.term.topology_key, node, -w.weight);
                    }
                }
            }
        }
        if st.scores.is_empty() {
            return Status::skip();
        }
        state.write(PS_STATE, st);
        Status::success()
    }
}

impl ScorePlugin for InterPodAffinity {
    fn score(&self, state: &CycleState, _: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let Some(st) = state.read::<ScoreState>(PS_STATE) else {
            return Ok(0);
        };
        let mut s = 0;
        for (k, vals) in &st.scores {
            if let Some(v) = node.labels().get(k) {
                s += vals.get(v).copied().unwrap_or(0);
            }
        }
        Ok(s)
    }
    fn normalize_score(&self, _: &CycleState, _: &PodInfo, scores: &mut [NodeScore]) -> Status {
        let max = scores.iter().map(|s| s.score).max().unwrap_or(0);
        let min = scores.iter().map(|s| s.score).min().unwrap_or(0);
        for s in scores.iter_mut() {
            s.score = if max > min {
                (MAX_NODE_SCORE as f64 * ((s.score - min) as f64 / (max - min) as f64)) as i64
            } else {
                0
            };
        }
        Status::success()
    }
}
