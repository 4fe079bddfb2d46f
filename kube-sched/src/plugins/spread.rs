//! `PodTopologySpread`: maxSkew, whenUnsatisfiable, minDomains, nodeAffinityPolicy and
//! nodeTaintsPolicy, plus the system default constraints that spread the pods of one
//! Service/ReplicaSet/StatefulSet (hostname maxSkew 3, zone maxSkew 5, ScheduleAnyway).

use std::collections::HashSet;

use foldhash::HashMap;
use std::sync::Arc;

use kubox_core::api::core_v1::Toleration;
use kubox_core::selector::{Operator, Requirement, Selector};

use super::node::{find_untolerated, pod_matches_node_affinity};
use crate::framework::*;
use crate::groups::PodGroups;
use crate::nodeinfo::{selector_of, Domains, NodeInfo, PodInfo, Snapshot};

/// `kubernetes.io/hostname`.
pub const LABEL_HOSTNAME: &str = "kubernetes.io/hostname";
/// `topology.kubernetes.io/zone`.
pub const LABEL_ZONE: &str = "topology.kubernetes.io/zone";
/// The filter's reason.
pub const ERR_SPREAD: &str = "node(s) didn't match pod topology spread constraints";
/// The filter's reason when the node lacks a topology key.
pub const ERR_SPREAD_MISSING_LABEL: &str =
    "node(s) didn't match pod topology spread constraints (missing required label)";

/// One parsed constraint.
#[derive(Clone, Debug)]
pub struct Constraint {
    /// maxSkew.
    pub max_skew: i64,
    /// topologyKey.
    pub topology_key: String,
    /// The selector (matchLabelKeys merged).
    pub selector: Selector,
    /// minDomains (default 1).
    pub min_domains: i64,
    /// nodeAffinityPolicy Honor (default) vs Ignore.
    pub honor_affinity: bool,
    /// nodeTaintsPolicy Honor vs Ignore (default).
    pub honor_taints: bool,
}

fn constraints(pod: &PodInfo, when: &str) -> Vec<Constraint> {
    let mut out = Vec::new();
    for c in pod
        .pod
        .spec
        .as_ref()
        .and_then(|s| s.topology_spread_constraints.as_ref())
        .into_iter()
        .flatten()
    {
        if c.when_unsatisfiable != when {
            continue;
        }
        let mut selector = selector_of(c.label_selector.as_ref());
        for k in c.match_label_keys.iter().flatten() {
            if let Some(v) = pod.labels().get(k) {
                if let Ok(r) = Requirement::new(k.clone(), Operator::In, vec![v.clone()]) {
                    selector = selector.and(r);
                }
            }
        }
        out.push(Constraint {
            max_skew: c.max_skew as i64,
            topology_key: c.topology_key.clone(),
            selector,
            min_domains: c.min_domains.unwrap_or(1) as i64,
            honor_affinity: c.node_affinity_policy.as_deref() != Some("Ignore"),
            honor_taints: c.node_taints_policy.as_deref() == Some("Honor"),
        });
    }
    out
}

fn tolerations(pod: &PodInfo) -> &[Toleration] {
    pod.pod
        .spec
        .as_ref()
        .and_then(|s| s.tolerations.as_deref())
        .unwrap_or(&[])
}

fn included(c: &Constraint, pod: &PodInfo, node: &NodeInfo) -> bool {
    if c.honor_affinity && !pod_matches_node_affinity(pod, &node.node) {
        return false;
    }
    if c.honor_taints
        && find_untolerated(&node.taints, tolerations(pod), &["NoSchedule", "NoExecute"]).is_some()
    {
        return false;
    }
    true
}

/// Adds `m` to the count of domain `v`, allocating its name only the first time.
fn bump(counts: &mut HashMap<Arc<str>, i64>, v: &Arc<str>, m: i64) {
    match counts.get_mut(&**v) {
        Some(c) => *c += m,
        None => {
            counts.insert(v.clone(), m);
        }
    }
}

/// (node index, pods) for the pods of namespace `ns` that `sel` selects and that are not
/// terminating: the selector is matched once per group of alike pods.
fn matching_per_node<'a>(
    groups: &'a PodGroups,
    ns: &'a str,
    sel: &'a Selector,
) -> impl Iterator<Item = (usize, i64)> + 'a {
    groups
        .iter()
        .filter(move |g| {
            g.pod.namespace == ns && !g.pod.is_terminating() && sel.matches(g.pod.labels())
        })
        .flat_map(|g| g.nodes.iter().map(|(&i, &n)| (i as usize, i64::from(n))))
}

fn count_matching(pods: &[Arc<PodInfo>], sel: &Selector, ns: &str) -> i64 {
    pods.iter()
        .filter(|p| p.namespace == ns && !p.is_terminating() && sel.matches(p.labels()))
        .count() as i64
}

/// The plugin. `default_constraints_enabled` adds the System default constraints for pods
/// without ScheduleAnyway constraints.
#[derive(Clone, Debug)]
pub struct PodTopologySpread {
    /// Use the System default constraints (the default: true).
    pub system_defaulting: bool,
}

impl Default for PodTopologySpread {
    fn default() -> Self {
        PodTopologySpread {
            system_defaulting: true,
        }
    }
}

/// Matching pods per topology domain of one constraint, indexed by domain id.
#[derive(Clone)]
struct DomainCounts {
    domains: Arc<Domains>,
    counts: Vec<i64>,
    /// Whether the domain holds an eligible node: only those take part in the minimum and
    /// in minDomains.
    present: Vec<bool>,
    present_len: usize,
    /// The smallest count over the present domains (0 when there are none).
    min: i64,
}

impl DomainCounts {
    fn new(domains: Arc<Domains>) -> DomainCounts {
        let n = domains.values.len();
        DomainCounts {
            domains,
            counts: vec![0; n],
            present: vec![false; n],
            present_len: 0,
            min: 0,
        }
    }
    fn register(&mut self, id: u32) {
        if let Some(p) = self.present.get_mut(id as usize) {
            if !*p {
                *p = true;
                self.present_len += 1;
            }
        }
    }
    fn add(&mut self, id: u32, m: i64) {
        self.register(id);
        if let Some(c) = self.counts.get_mut(id as usize) {
            *c += m;
        }
    }
    /// Recomputes the minimum after counts changed.
    fn finish(&mut self) {
        self.min = self
            .counts
            .iter()
            .zip(&self.present)
            .filter(|(_, p)| **p)
            .map(|(c, _)| *c)
            .min()
            .unwrap_or(0);
    }
    fn count(&self, id: Option<u32>) -> i64 {
        id.filter(|&i| self.present.get(i as usize) == Some(&true))
            .and_then(|i| self.counts.get(i as usize).copied())
            .unwrap_or(0)
    }
}

#[derive(Clone)]
struct FilterState {
    constraints: Vec<Constraint>,
    /// Per constraint: matching pods per domain.
    counts: Vec<DomainCounts>,
    /// Per constraint: 1 when the incoming pod matches its own selector.
    self_match: Vec<i64>,
}

/// Whether the pod restricts nodes by nodeSelector or required node affinity (otherwise
/// `nodeAffinityPolicy: Honor` includes every node).
fn has_node_constraints(pod: &PodInfo) -> bool {
    pod.pod.spec.as_ref().is_some_and(|s| {
        s.node_selector.as_ref().is_some_and(|m| !m.is_empty())
            || s.affinity
                .as_ref()
                .and_then(|a| a.node_affinity.as_ref())
                .is_some_and(|n| {
                    n.required_during_scheduling_ignored_during_execution
                        .is_some()
                })
    })
}

const PF_STATE: &str = "PreFilterPodTopologySpread";
const PS_STATE: &str = "PreScorePodTopologySpread";

impl Plugin for PodTopologySpread {
    fn name(&self) -> &str {
        "PodTopologySpread"
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

fn has_all_keys(node: &NodeInfo, cs: &[Constraint]) -> bool {
    cs.iter()
        .all(|c| node.labels().contains_key(&c.topology_key))
}

fn update(st: &mut FilterState, pod: &PodInfo, other: &PodInfo, node: &NodeInfo, m: i64) {
    if other.namespace != pod.namespace || !has_all_keys(node, &st.constraints) {
        return;
    }
    for (i, c) in st.constraints.iter().enumerate() {
        if !included(c, pod, node) || !c.selector.matches(other.labels()) {
            continue;
        }
        let d = &mut st.counts[i];
        if let Some(id) = d.domains.id_of(&c.topology_key, node) {
            d.add(id, m);
            d.finish();
        }
    }
}

impl PreFilterPlugin for PodTopologySpread {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
    ) -> PreFilterResult {
        let cs = constraints(pod, "DoNotSchedule");
        if cs.is_empty() {
            return Status::skip().into();
        }
        // Every eligible node's domain takes part (minDomains and the global minimum see
        // empty domains); the matching pods are then added per group of alike pods, a
        // selector matched once per group. Domains are ids into per-key vectors.
        let domains: Vec<Arc<Domains>> = cs
            .iter()
            .map(|c| snapshot.domains(&c.topology_key))
            .collect();
        let mut counts: Vec<DomainCounts> =
            domains.iter().cloned().map(DomainCounts::new).collect();
        let node_constraints = has_node_constraints(pod);
        let n = snapshot.nodes.len();
        let mut eligible = vec![vec![false; n]; cs.len()];
        for (idx, node) in snapshot.nodes.iter().enumerate() {
            // has_all_keys
            if domains.iter().any(|d| d.of_node[idx] == Domains::NONE) {
                continue;
            }
            for (i, c) in cs.iter().enumerate() {
                let trivial = (!c.honor_affinity || !node_constraints) && !c.honor_taints;
                if trivial || included(c, pod, node) {
                    eligible[i][idx] = true;
                    counts[i].register(domains[i].of_node[idx]);
                }
            }
        }
        let groups = snapshot.pod_groups();
        for (i, c) in cs.iter().enumerate() {
            for (idx, m) in matching_per_node(&groups, &pod.namespace, &c.selector) {
                if eligible[i].get(idx) == Some(&true) {
                    counts[i].add(domains[i].of_node[idx], m);
                }
            }
        }
        for d in &mut counts {
            d.finish();
        }
        state.write(
            PF_STATE,
            FilterState {
                self_match: cs
                    .iter()
                    .map(|c| i64::from(c.selector.matches(pod.labels())))
                    .collect(),
                constraints: cs,
                counts,
            },
        );
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

impl FilterPlugin for PodTopologySpread {
    fn filter(&self, state: &CycleState, _: &PodInfo, node: &NodeInfo) -> Status {
        let Some(st) = state.read::<FilterState>(PF_STATE) else {
            return Status::success();
        };
        for (i, c) in st.constraints.iter().enumerate() {
            let Some((_, v)) = node.shared_label(&c.topology_key) else {
                return Status::unresolvable(ERR_SPREAD_MISSING_LABEL);
            };
            let d = &st.counts[i];
            let mut min = d.min;
            if (d.present_len as i64) < c.min_domains {
                min = 0;
            }
            let skew = d.count(d.domains.ids.get(&**v).copied()) + st.self_match[i] - min;
            if skew > c.max_skew {
                return Status::unschedulable(ERR_SPREAD);
            }
        }
        Status::success()
    }
}

#[derive(Clone, Default)]
struct ScoreState {
    constraints: Vec<Constraint>,
    ignored: HashSet<String>,
    pair_counts: Vec<HashMap<Arc<str>, i64>>,
    weights: Vec<f64>,
}

impl PreScorePlugin for PodTopologySpread {
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        filtered: &[Arc<NodeInfo>],
        snapshot: &Snapshot,
    ) -> Status {
        let mut cs = constraints(pod, "ScheduleAnyway");
        let explicit = pod
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.topology_spread_constraints.as_ref())
            .is_some_and(|v| !v.is_empty());
        if !explicit && self.system_defaulting {
            if let Some(sel) = snapshot.workloads.default_selector(pod) {
                for (key, skew) in [(LABEL_HOSTNAME, 3), (LABEL_ZONE, 5)] {
                    cs.push(Constraint {
                        max_skew: skew,
                        topology_key: key.into(),
                        selector: sel.clone(),
                        min_domains: 1,
                        honor_affinity: true,
                        honor_taints: false,
                    });
                }
            }
        }
        if cs.is_empty() {
            return Status::skip();
        }
        let require_all = explicit || !self.system_defaulting;
        let mut st = ScoreState {
            pair_counts: vec![HashMap::default(); cs.len()],
            ..ScoreState::default()
        };
        let mut sizes = vec![0usize; cs.len()];
        for n in filtered {
            if require_all && !has_all_keys(n, &cs) {
                st.ignored.insert(n.name.clone());
                continue;
            }
            for (i, c) in cs.iter().enumerate() {
                if c.topology_key == LABEL_HOSTNAME {
                    sizes[i] += 1;
                    continue;
                }
                if let Some((_, v)) = n.shared_label(&c.topology_key) {
                    bump(&mut st.pair_counts[i], v, 0);
                }
            }
        }
        for (i, c) in cs.iter().enumerate() {
            if c.topology_key != LABEL_HOSTNAME {
                sizes[i] = st.pair_counts[i].len();
            }
        }
        // Matching pods per domain of the filtered nodes, a selector matched once per group
        // of alike pods.
        let groups = snapshot.pod_groups();
        for (i, c) in cs.iter().enumerate() {
            if c.topology_key == LABEL_HOSTNAME {
                continue;
            }
            for (idx, n) in matching_per_node(&groups, &pod.namespace, &c.selector) {
                let Some(node) = snapshot.nodes.get(idx) else {
                    continue;
                };
                if require_all && !has_all_keys(node, &cs) {
                    continue;
                }
                let Some(v) = node.labels().get(&c.topology_key) else {
                    continue;
                };
                let Some(slot) = st.pair_counts[i].get_mut(v.as_str()) else {
                    continue;
                };
                if included(c, pod, node) {
                    *slot += n;
                }
            }
        }
        st.weights = sizes.iter().map(|&s| ((s + 2) as f64).ln()).collect();
        st.constraints = cs;
        state.write(PS_STATE, st);
        Status::success()
    }
}

impl ScorePlugin for PodTopologySpread {
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let Some(st) = state.read::<ScoreState>(PS_STATE) else {
            return Ok(0);
        };
        if st.ignored.contains(&node.name) {
            return Ok(0);
        }
        let mut score = 0f64;
        for (i, c) in st.constraints.iter().enumerate() {
            if let Some(v) = node.labels().get(&c.topology_key) {
                let cnt = if c.topology_key == LABEL_HOSTNAME {
                    count_matching(&node.pods, &c.selector, &pod.namespace)
                } else {
                    st.pair_counts[i].get(v.as_str()).copied().unwrap_or(0)
                };
                score += cnt as f64 * st.weights[i] + (c.max_skew - 1) as f64;
            }
        }
        Ok(score.round() as i64)
    }
    fn normalize_score(&self, state: &CycleState, _: &PodInfo, scores: &mut [NodeScore]) -> Status {
        let Some(st) = state.read::<ScoreState>(PS_STATE) else {
            return Status::success();
        };
        let live = scores.iter().filter(|s| !st.ignored.contains(&*s.name));
        let max = live.clone().map(|s| s.score).max().unwrap_or(0);
        let min = live.map(|s| s.score).min().unwrap_or(0);
        for s in scores.iter_mut() {
            if st.ignored.contains(&*s.name) {
                s.score = 0;
            } else if max == 0 {
                s.score = MAX_NODE_SCORE;
            } else {
                s.score = MAX_NODE_SCORE * (max + min - s.score) / max;
            }
        }
        Status::success()
    }
}
