//! `DefaultPreemption`, the PostFilter that makes room for a pod by evicting lower-priority
//! pods: potential nodes are those that rejected the pod as Unschedulable (not
//! UnschedulableAndUnresolvable); on each, every lower-priority pod is removed, then pods
//! are reprieved from the most important down (PodDisruptionBudget-violating ones first)
//! while the pod still fits; the node is picked by Kubernetes' criteria (fewest PDB
//! violations, lowest highest victim priority, smallest priority sum, fewest victims,
//! latest start time).

use std::sync::Arc;

use rand::Rng;

use crate::framework::*;
use crate::nodeinfo::{selector_of, NodeInfo, PodInfo, Snapshot};
use crate::profile::{FitError, Profile};

/// The plugin.
#[derive(Clone, Debug)]
pub struct DefaultPreemption {
    /// minCandidateNodesPercentage (10).
    pub min_candidate_nodes_percentage: usize,
    /// minCandidateNodesAbsolute (100).
    pub min_candidate_nodes_absolute: usize,
}

impl Default for DefaultPreemption {
    fn default() -> Self {
        DefaultPreemption {
            min_candidate_nodes_percentage: 10,
            min_candidate_nodes_absolute: 100,
        }
    }
}

/// "No preemption victims found for incoming pod".
pub const ERR_NO_VICTIMS: &str = "No preemption victims found for incoming pod";
/// "Preemption is not helpful for scheduling".
pub const ERR_NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";

/// One candidate node with its victims.
#[derive(Clone, Debug)]
pub struct Candidate {
    /// Node name.
    pub node: String,
    /// Victims, most important first.
    pub victims: Vec<Arc<PodInfo>>,
    /// How many victims violate a PodDisruptionBudget.
    pub pdb_violations: usize,
}

impl Plugin for DefaultPreemption {
    fn name(&self) -> &str {
        "DefaultPreemption"
    }
}

fn more_important(a: &PodInfo, b: &PodInfo) -> std::cmp::Ordering {
    b.priority
        .cmp(&a.priority)
        .then(a.start_time.cmp(&b.start_time))
}

/// Whether each victim violates a PDB (`filterPodsWithPDBViolation`), in order.
fn pdb_violations(victims: &[Arc<PodInfo>], snapshot: &Snapshot) -> Vec<bool> {
    let mut allowed: Vec<i64> = snapshot
        .pdbs
        .iter()
        .map(|p| {
            p.status
                .as_ref()
                .map(|s| s.disruptions_allowed as i64)
                .unwrap_or(0)
        })
        .collect();
    victims
        .iter()
        .map(|v| {
            let mut violating = false;
            for (i, pdb) in snapshot.pdbs.iter().enumerate() {
                if pdb.metadata.namespace.as_deref() != Some(v.namespace.as_str()) {
                    continue;
                }
                let Some(spec) = pdb.spec.as_ref() else {
                    continue;
                };
                let sel = selector_of(spec.selector.as_ref());
                if sel.is_empty() || !sel.matches(v.labels()) {
                    continue;
                }
                if pdb
                    .status
                    .as_ref()
                    .and_then(|s| s.disrupted_pods.as_ref())
                    .is_some_and(|d| d.contains_key(&v.name))
                {
                    continue;
                }
                allowed[i] -= 1;
                if allowed[i] < 0 {
                    violating = true;
                }
            }
            violating
        })
        .collect()
}

/// `SelectVictimsOnNode`: Ok(candidate) or the dry-run's failure status.
pub fn select_victims_on_node(
    profile: &Profile,
    state: &CycleState,
    pod: &PodInfo,
    node: &NodeInfo,
    snapshot: &Snapshot,
) -> Result<Candidate, Status> {
    let mut potential: Vec<Arc<PodInfo>> = node
        .pods
        .iter()
        .filter(|p| p.priority < pod.priority)
        .cloned()
        .collect();
    if potential.is_empty() {
        return Err(Status::unresolvable(ERR_NO_VICTIMS));
    }
    let mut st = state.clone();
    let mut ni = node.clone();
    for v in &potential {
        ni.remove_pod(&v.key);
        profile.run_remove_pod(&mut st, pod, v, &ni);
    }
    // Pods already nominated to the node (of at least the pod's priority) keep their room.
    let nominated: &[Arc<PodInfo>] = snapshot
        .nominated
        .get(&node.name)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let s = profile.run_filters_with_nominated(&st, pod, &ni, nominated);
    if !s.is_success() {
        return Err(s);
    }
    potential.sort_by(|a, b| more_important(a, b));
    let violating = pdb_violations(&potential, snapshot);
    let (viol, non_viol): (Vec<_>, Vec<_>) =
        potential.into_iter().zip(violating).partition(|(_, v)| *v);
    let mut victims = Vec::new();
    let mut pdb_violations = 0;
    for (group, is_viol) in [(viol, true), (non_viol, false)] {
        for (p, _) in group {
            ni.add_pod(p.clone());
            profile.run_add_pod(&mut st, pod, &p, &ni);
            if !profile
                .run_filters_with_nominated(&st, pod, &ni, nominated)
                .is_success()
            {
                ni.remove_pod(&p.key);
                profile.run_remove_pod(&mut st, pod, &p, &ni);
                if is_viol {
                    pdb_violations += 1;
                }
                victims.push(p);
            }
        }
    }
    victims.sort_by(|a, b| more_important(a, b));
    Ok(Candidate {
        node: node.name.clone(),
        victims,
        pdb_violations,
    })
}

/// `pickOneNodeForPreemption`.
pub fn pick_one_node(candidates: &[Candidate]) -> Option<&Candidate> {
    if let Some(c) = candidates.iter().find(|c| c.victims.is_empty()) {
        return Some(c);
    }
    let mut cur: Vec<&Candidate> = candidates.iter().collect();
    fn narrow<'a>(cur: Vec<&'a Candidate>, key: &dyn Fn(&Candidate) -> i64) -> Vec<&'a Candidate> {
        let best = cur.iter().map(|c| key(c)).min().unwrap_or(0);
        cur.into_iter().filter(|c| key(c) == best).collect()
    }
    cur = narrow(cur, &|c| c.pdb_violations as i64);
    cur = narrow(cur, &|c| {
        c.victims
            .first()
            .map(|v| v.priority as i64)
            .unwrap_or(i64::MIN)
    });
    cur = narrow(cur, &|c| {
        c.victims
            .iter()
            .map(|v| v.priority as i64 + (1i64 << 31))
            .sum()
    });
    cur = narrow(cur, &|c| c.victims.len() as i64);
    // Latest earliest start time among the highest-priority victims.
    cur = narrow(cur, &|c| {
        let top = c.victims.first().map(|v| v.priority).unwrap_or(0);
        -c.victims
            .iter()
            .filter(|v| v.priority == top)
            .map(|v| v.start_time)
            .min()
            .unwrap_or(0)
    });
    cur.first().copied()
}

impl DefaultPreemption {
    /// Runs preemption; `offset` is the random start among potential nodes.
    pub fn preempt(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
        statuses: &NodeStatusMap,
        profile: &Profile,
        offset: usize,
    ) -> PostFilterResult {
        if pod
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.preemption_policy.as_deref())
            == Some("Never")
        {
            return PostFilterResult {
                status: Status::unschedulable(
                    "preemption: not eligible due to preemptionPolicy=Never.",
                ),
                ..PostFilterResult::default()
            };
        }
        // `PodEligibleToPreemptOthers`: a pod whose nominated node still has lower-priority
        // pods terminating waits for them instead of preempting again.
        if let Some(node) = pod.nominated_node_name().and_then(|n| snapshot.get(n)) {
            if node
                .pods
                .iter()
                .any(|p| p.is_terminating() && p.priority < pod.priority)
            {
                return PostFilterResult {
                    status: Status::unschedulable(
                        "preemption: not eligible due to a terminating pod on the nominated node.",
                    ),
                    ..PostFilterResult::default()
                };
            }
        }
        let n = snapshot.nodes.len();
        let potential: Vec<&Arc<NodeInfo>> = snapshot
            .nodes
            .iter()
            .filter(|node| {
                statuses
                    .get(&node.name)
                    .is_none_or(|s| s.code == Code::Unschedulable)
            })
            .collect();
        // The FitError of a failed preemption: every node not helpful, except those whose
        // dry run said why (built only when preemption fails).
        let fit_error = |failed: Vec<(String, Status)>| {
            let mut fe = FitError {
                num_all_nodes: n,
                ..FitError::default()
            };
            for node in snapshot.nodes.iter() {
                fe.statuses
                    .insert(node.name.clone(), Status::unresolvable(ERR_NOT_HELPFUL));
            }
            fe.statuses.extend(failed);
            fe
        };
        if potential.is_empty() {
            return PostFilterResult {
                status: Status::unschedulable(format!("preemption: {}", fit_error(Vec::new()))),
                ..PostFilterResult::default()
            };
        }
        let mut failed: Vec<(String, Status)> = Vec::new();
        let want = (n * self.min_candidate_nodes_percentage / 100)
            .max(self.min_candidate_nodes_absolute)
            .min(n);
        let mut candidates = Vec::new();
        let mut non_violating = 0;
        let pn = potential.len();
        for i in 0..pn {
            let node = potential[(offset + i) % pn];
            match select_victims_on_node(profile, state, pod, node, snapshot) {
                Ok(c) => {
                    if c.pdb_violations == 0 {
                        non_violating += 1;
                    }
                    candidates.push(c);
                }
                Err(s) => failed.push((node.name.clone(), s)),
            }
            if non_violating > 0 && candidates.len() >= want {
                break;
            }
        }
        match pick_one_node(&candidates) {
            Some(c) => PostFilterResult {
                status: Status::success(),
                nominated_node: Some(c.node.clone()),
                victims: c.victims.clone(),
            },
            None => PostFilterResult {
                status: Status::unschedulable(format!("preemption: {}", fit_error(failed))),
                ..PostFilterResult::default()
            },
        }
    }
}

impl PostFilterPlugin for DefaultPreemption {
    fn post_filter(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
        statuses: &NodeStatusMap,
        profile: &Profile,
    ) -> PostFilterResult {
        let offset = if snapshot.nodes.is_empty() {
            0
        } else {
            rand::rng().random_range(0..snapshot.nodes.len())
        };
        self.preempt(state, pod, snapshot, statuses, profile, offset)
    }
}
