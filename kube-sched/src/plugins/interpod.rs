//! `InterPodAffinity`: required and preferred pod affinity and anti-affinity over topology
//! domains, with existing pods' required anti-affinity honoured symmetrically.

use foldhash::HashMap;
use std::sync::Arc;

use crate::framework::*;
use crate::nodeinfo::{AffinityTerm, Labels, NodeInfo, PodInfo, Snapshot, WeightedAffinityTerm};

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

/// Pod counts per topology pair: topology key → value → count, keyed by the nodes' shared
/// label strings (no allocation per pair) and looked up by `&str`.
#[derive(Clone, Default)]
struct Counts(HashMap<Arc<str>, HashMap<Arc<str>, i64>>);

impl Counts {
    fn add(&mut self, (key, value): &(Arc<str>, Arc<str>), m: i64) {
        let values = match self.0.get_mut(&**key) {
            Some(v) => v,
            None => self.0.entry(key.clone()).or_default(),
        };
        match values.get_mut(&**value) {
            Some(c) => *c += m,
            None => {
                values.insert(value.clone(), m);
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
}

#[derive(Clone, Default)]
struct FilterState {
    existing_anti: Counts,
    affinity: Counts,
    anti: Counts,
}

const PF_STATE: &str = "PreFilterInterPodAffinity";
const PS_STATE: &str = "PreScoreInterPodAffinity";

fn all_match(terms: &[AffinityTerm], pod: &PodInfo, snapshot_ns: Option<&Labels>) -> bool {
    !terms.is_empty() && terms.iter().all(|t| t.matches(pod, snapshot_ns))
}

/// What an existing pod — or each of a group of alike pods — adds to the filter's counts,
/// evaluated once.
struct FilterMatches<'a> {
    /// The existing pod's required anti-affinity terms that match the incoming pod.
    existing_anti: Vec<&'a AffinityTerm>,
    /// Whether the existing pod matches all of the incoming pod's required affinity terms.
    affinity: bool,
    /// The incoming pod's required anti-affinity terms that match the existing pod.
    anti: Vec<&'a AffinityTerm>,
}

impl<'a> FilterMatches<'a> {
    fn new(
        pod: &'a PodInfo,
        pod_ns: Option<&Labels>,
        existing: &'a PodInfo,
        ex_ns: Option<&Labels>,
    ) -> FilterMatches<'a> {
        FilterMatches {
            existing_anti: existing
                .required_anti_affinity
                .iter()
                .filter(|t| t.matches(pod, pod_ns))
                .collect(),
            affinity: all_match(&pod.required_affinity, existing, ex_ns),
            anti: pod
                .required_anti_affinity
                .iter()
                .filter(|t| t.matches(existing, ex_ns))
                .collect(),
        }
    }

    fn is_empty(&self) -> bool {
        self.existing_anti.is_empty() && !self.affinity && self.anti.is_empty()
    }

    /// Adds `m` pods on `node` to the counts.
    fn apply(&self, st: &mut FilterState, pod: &PodInfo, node: &NodeInfo, m: i64) {
        for t in &self.existing_anti {
            if let Some(pair) = node.shared_label(&t.topology_key) {
                st.existing_anti.add(pair, m);
            }
        }
        if self.affinity {
            for t in &pod.required_affinity {
                if let Some(pair) = node.shared_label(&t.topology_key) {
                    st.affinity.add(pair, m);
                }
            }
        }
        for t in &self.anti {
            if let Some(pair) = node.shared_label(&t.topology_key) {
                st.anti.add(pair, m);
            }
        }
    }
}

fn update(st: &mut FilterState, pod: &PodInfo, existing: &PodInfo, node: &NodeInfo, m: i64) {
    FilterMatches::new(pod, None, existing, None).apply(st, pod, node, m);
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
        // Terms are matched once per group of alike pods; only the nodes of the groups that
        // match are visited.
        for g in snapshot.pod_groups().iter() {
            let e = &g.pod;
            // Without terms of its own, only existing pods' required anti-affinity matters.
            if !has_own && e.required_anti_affinity.is_empty() {
                continue;
            }
            let ex_ns = snapshot.namespace_labels(&e.namespace);
            let m = FilterMatches::new(pod, pod_ns, e, ex_ns);
            if m.is_empty() {
                continue;
            }
            for (&idx, &count) in &g.nodes {
                if let Some(node) = snapshot.nodes.get(idx as usize) {
                    m.apply(&mut st, pod, node, i64::from(count));
                }
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
            update(st, pod, added, node, 1);
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
            update(st, pod, removed, node, -1);
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
        // Existing pods' anti-affinity: a lookup per node label, as the counts can hold a
        // pair per node (hostname terms) and this runs for every node.
        if !st.existing_anti.is_empty()
            && node
                .shared_labels
                .iter()
                .any(|(k, v)| st.existing_anti.get(k, v) > 0)
        {
            return Status::unschedulable(ERR_EXISTING_ANTI_AFFINITY);
        }
        Status::success()
    }
}

/// Pushes `sign × weight` for each of `terms` that matches `target`.
fn weigh<'a>(
    weights: &mut Vec<(&'a str, i64)>,
    terms: &'a [WeightedAffinityTerm],
    sign: i64,
    target: &PodInfo,
    target_ns: Option<&Labels>,
) {
    for w in terms {
        if w.term.matches(target, target_ns) {
            weights.push((&w.term.topology_key, sign * w.weight));
        }
    }
}

#[derive(Clone, Default)]
struct ScoreState {
    scores: Counts,
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
            if let Some(pair) = node.shared_label(key) {
                st.scores.add(pair, w);
            }
        };
        // Terms are weighed once per group of alike pods; only the nodes of the groups with
        // a non-zero weight are visited.
        let mut weights: Vec<(&str, i64)> = Vec::new();
        for g in snapshot.pod_groups().iter() {
            let e = &g.pod;
            // Without preferred terms of its own, only existing pods' terms matter.
            if !has_pref && !e.has_affinity() {
                continue;
            }
            let ex_ns = snapshot.namespace_labels(&e.namespace);
            weights.clear();
            // The incoming pod's preferred terms over the group, then the group's terms over
            // the incoming pod.
            let ours = [
                (&pod.preferred_affinity, 1),
                (&pod.preferred_anti_affinity, -1),
            ];
            for (terms, sign) in ours {
                weigh(&mut weights, terms, sign, e, ex_ns);
            }
            if self.hard_pod_affinity_weight > 0 {
                for t in &e.required_affinity {
                    if t.matches(pod, pod_ns) {
                        weights.push((&t.topology_key, self.hard_pod_affinity_weight));
                    }
                }
            }
            let theirs = [(&e.preferred_affinity, 1), (&e.preferred_anti_affinity, -1)];
            for (terms, sign) in theirs {
                weigh(&mut weights, terms, sign, pod, pod_ns);
            }
            if weights.is_empty() {
                continue;
            }
            for (&idx, &count) in &g.nodes {
                let Some(node) = snapshot.nodes.get(idx as usize) else {
                    continue;
                };
                if node.labels().is_empty() {
                    continue;
                }
                for &(key, w) in &weights {
                    add(key, node, w * i64::from(count));
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
        for (k, vals) in &st.scores.0 {
            if let Some((_, v)) = node.shared_label(k) {
                s += vals.get(&**v).copied().unwrap_or(0);
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
