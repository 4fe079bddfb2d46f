//! `InterPodAffinity`: required and preferred pod affinity and anti-affinity over topology
//! domains, with existing pods' required anti-affinity honoured symmetrically.

use std::sync::Arc;

use crate::framework::*;
use crate::nodeinfo::{
    AffinityTerm, Domains, Labels, NodeInfo, PodInfo, Snapshot, WeightedAffinityTerm,
};

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

/// Pod counts per topology domain for each topology key: vectors indexed by the snapshot's
/// domain ids (see [`Snapshot::domains`]), so that counting and looking up hash no label
/// strings.
#[derive(Clone, Default)]
struct Counts {
    keys: Vec<KeyCounts>,
}

#[derive(Clone)]
struct KeyCounts {
    key: String,
    domains: Arc<Domains>,
    counts: Vec<i64>,
    /// Number of domains with a non-zero count.
    nonzero: usize,
}

impl KeyCounts {
    fn bump(&mut self, id: u32, m: i64) {
        let Some(c) = self.counts.get_mut(id as usize) else {
            return;
        };
        let was = *c != 0;
        *c += m;
        match (was, *c != 0) {
            (true, false) => self.nonzero -= 1,
            (false, true) => self.nonzero += 1,
            _ => {}
        }
    }
    /// The count of `node`'s domain (0 when it lacks the key).
    fn of(&self, node: &NodeInfo) -> i64 {
        self.domains
            .id_of(&self.key, node)
            .and_then(|id| self.counts.get(id as usize).copied())
            .unwrap_or(0)
    }
}

impl Counts {
    /// The index of `key`'s counts, created on first use.
    fn slot(&mut self, key: &str, snapshot: &Snapshot) -> usize {
        if let Some(i) = self.keys.iter().position(|k| k.key == key) {
            return i;
        }
        let domains = snapshot.domains(key);
        self.keys.push(KeyCounts {
            key: key.to_string(),
            counts: vec![0; domains.values.len()],
            domains,
            nonzero: 0,
        });
        self.keys.len() - 1
    }
    /// Adds `m` to the domain of the snapshot's node at `idx`.
    fn add_at(&mut self, slot: usize, idx: u32, m: i64) {
        let k = &mut self.keys[slot];
        if let Some(&id) = k.domains.of_node.get(idx as usize) {
            if id != Domains::NONE {
                k.bump(id, m);
            }
        }
    }
    /// Adds `m` to `node`'s domain of `key` (by its label value: a node outside the snapshot
    /// counts where the snapshot's node of the same domain does).
    fn add_node(&mut self, key: &str, node: &NodeInfo, snapshot: &Snapshot, m: i64) {
        let s = self.slot(key, snapshot);
        if let Some(id) = self.keys[s].domains.id_of(key, node) {
            self.keys[s].bump(id, m);
        }
    }
    /// The count of `node`'s domain of `key`.
    fn get(&self, key: &str, node: &NodeInfo) -> i64 {
        self.keys
            .iter()
            .find(|k| k.key == key)
            .map_or(0, |k| k.of(node))
    }
    /// Whether some domain of some key has a positive count for `node`.
    fn any_positive(&self, node: &NodeInfo) -> bool {
        self.keys.iter().any(|k| k.nonzero > 0 && k.of(node) > 0)
    }
    fn is_empty(&self) -> bool {
        self.keys.iter().all(|k| k.nonzero == 0)
    }
}

#[derive(Clone, Default)]
struct FilterState {
    /// The cycle's snapshot, for the domains of keys first met in `add_pod`.
    snapshot: Snapshot,
    existing_anti: Counts,
    affinity: Counts,
    anti: Counts,
}

const PF_STATE: &str = "PreFilterInterPodAffinity";
const PS_STATE: &str = "PreScoreInterPodAffinity";

fn all_match(terms: &[AffinityTerm], pod: &PodInfo, snapshot_ns: Option<&Labels>) -> bool {
    !terms.is_empty() && terms.iter().all(|t| t.matches(pod, snapshot_ns))
}

/// The filter's three counts.
#[derive(Clone, Copy)]
enum Which {
    ExistingAnti,
    Affinity,
    Anti,
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

    /// The terms whose counts a match adds to: (which counts, topology key).
    fn targets(&self, pod: &'a PodInfo) -> impl Iterator<Item = (Which, &'a str)> + '_ {
        let existing = self.existing_anti.iter().map(|&t| (Which::ExistingAnti, t));
        let affinity = pod
            .required_affinity
            .iter()
            .filter(|_| self.affinity)
            .map(|t| (Which::Affinity, t));
        let anti = self.anti.iter().map(|&t| (Which::Anti, t));
        existing
            .chain(affinity)
            .chain(anti)
            .map(|(w, t)| (w, t.topology_key.as_str()))
    }

    /// Adds `m` pods on `node` to the counts (by its label values).
    fn apply(&self, st: &mut FilterState, pod: &'a PodInfo, node: &NodeInfo, m: i64) {
        for (w, key) in self.targets(pod) {
            let (snapshot, counts) = st.split(w);
            counts.add_node(key, node, snapshot, m);
        }
    }
}

fn update(st: &mut FilterState, pod: &PodInfo, existing: &PodInfo, node: &NodeInfo, m: i64) {
    FilterMatches::new(pod, None, existing, None).apply(st, pod, node, m);
}

impl FilterState {
    /// The snapshot and one of the counts (disjoint borrows).
    fn split(&mut self, w: Which) -> (&Snapshot, &mut Counts) {
        let counts = match w {
            Which::ExistingAnti => &mut self.existing_anti,
            Which::Affinity => &mut self.affinity,
            Which::Anti => &mut self.anti,
        };
        (&self.snapshot, counts)
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
        let mut st = FilterState {
            snapshot: snapshot.clone(),
            ..FilterState::default()
        };
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
            // Each target's counts slot once per group, then plain vector adds per node.
            let slots: Vec<(Which, usize)> = m
                .targets(pod)
                .map(|(w, key)| (w, st.split(w).1.slot(key, snapshot)))
                .collect();
            for (&idx, &count) in &g.nodes {
                for &(w, slot) in &slots {
                    st.split(w).1.add_at(slot, idx, i64::from(count));
                }
            }
        }
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
                    Some(_) => {
                        if st.affinity.get(&t.topology_key, node) <= 0 {
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
            // (0 when the node lacks the key)
            if st.anti.get(&t.topology_key, node) > 0 {
                return Status::unschedulable(ERR_ANTI_AFFINITY);
            }
        }
        // Existing pods' anti-affinity.
        if st.existing_anti.any_positive(node) {
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
            let slots: Vec<(usize, i64)> = weights
                .iter()
                .map(|&(key, w)| (st.scores.slot(key, snapshot), w))
                .collect();
            for (&idx, &count) in &g.nodes {
                for &(slot, w) in &slots {
                    st.scores.add_at(slot, idx, w * i64::from(count));
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
        Ok(st.scores.keys.iter().map(|k| k.of(node)).sum())
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
