//! Node constraints: NodeName, NodeUnschedulable, TaintToleration, NodeAffinity (with
//! nodeSelector), NodePorts and VolumeLocality.

use std::collections::BTreeMap;

use kubox_core::api::core_v1::{
    Node, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Taint, Toleration,
};

use crate::framework::*;
use crate::nodeinfo::{Labels, NodeInfo, NodeMatches, PodInfo, Snapshot};
use std::sync::Arc;

/// `NodeName`: the pod's `spec.nodeName`, if set, must be the node.
#[derive(Clone, Debug, Default)]
pub struct NodeName;

/// NodeName's reason.
pub const ERR_NODE_NAME: &str = "node(s) didn't match the requested node name";

impl Plugin for NodeName {
    fn name(&self) -> &str {
        "NodeName"
    }
    fn events_to_register(&self) -> Vec<ClusterEvent> {
        vec![ClusterEvent::NODE_ADD]
    }
}

impl FilterPlugin for NodeName {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let want = pod.node_name();
        if want.is_empty() || want == node.name {
            Status::success()
        } else {
            Status::unresolvable(ERR_NODE_NAME)
        }
    }
}

/// Whether `toleration` tolerates `taint` (`Toleration.ToleratesTaint`).
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    if let Some(e) = toleration.effect.as_deref().filter(|e| !e.is_empty()) {
        if e != taint.effect {
            return false;
        }
    }
    let key = toleration.key.as_deref().unwrap_or("");
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match toleration.operator.as_deref().unwrap_or("Equal") {
        "Exists" => true,
        "Equal" | "" => {
            toleration.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or("")
        }
        _ => false,
    }
}

fn tolerations(pod: &PodInfo) -> &[Toleration] {
    pod.pod
        .spec
        .as_ref()
        .and_then(|s| s.tolerations.as_deref())
        .unwrap_or(&[])
}

/// The first taint with one of `effects` that no toleration tolerates.
pub fn find_untolerated<'a>(
    taints: &'a [Taint],
    tols: &[Toleration],
    effects: &[&str],
) -> Option<&'a Taint> {
    taints
        .iter()
        .filter(|t| effects.contains(&t.effect.as_str()))
        .find(|t| !tols.iter().any(|tol| tolerates(tol, t)))
}

/// `NodeUnschedulable`: nodes with `spec.unschedulable` take only pods tolerating
/// `node.kubernetes.io/unschedulable:NoSchedule`.
#[derive(Clone, Debug, Default)]
pub struct NodeUnschedulable;

/// NodeUnschedulable's reason.
pub const ERR_UNSCHEDULABLE: &str = "node(s) were unschedulable";

impl Plugin for NodeUnschedulable {
    fn name(&self) -> &str {
        "NodeUnschedulable"
    }
    fn events_to_register(&self) -> Vec<ClusterEvent> {
        vec![ClusterEvent::NODE_ADD, ClusterEvent::NODE_UPDATE]
    }
}

impl FilterPlugin for NodeUnschedulable {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        if !node.unschedulable {
            return Status::success();
        }
        let taint = Taint {
            key: "node.kubernetes.io/unschedulable".into(),
            effect: "NoSchedule".into(),
            value: None,
            time_added: None,
        };
        if tolerations(pod).iter().any(|t| tolerates(t, &taint)) {
            Status::success()
        } else {
            Status::unresolvable(ERR_UNSCHEDULABLE)
        }
    }
}

/// `TaintToleration`: filters NoSchedule/NoExecute taints, scores PreferNoSchedule ones
/// (fewer intolerable taints is better).
#[derive(Clone, Debug, Default)]
pub struct TaintToleration;

impl Plugin for TaintToleration {
    fn name(&self) -> &str {
        "TaintToleration"
    }
    fn events_to_register(&self) -> Vec<ClusterEvent> {
        vec![ClusterEvent::NODE_ADD, ClusterEvent::NODE_UPDATE]
    }
}

impl FilterPlugin for TaintToleration {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        match find_untolerated(&node.taints, tolerations(pod), &["NoSchedule", "NoExecute"]) {
            None => Status::success(),
            Some(t) => Status::unresolvable(format!(
                "node(s) had untolerated taint {{{}: {}}}",
                t.key,
                t.value.as_deref().unwrap_or("")
            )),
        }
    }
}

const TT_STATE: &str = "PreScoreTaintToleration";

impl PreScorePlugin for TaintToleration {
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _: &[std::sync::Arc<NodeInfo>],
        _: &Snapshot,
    ) -> Status {
        let tols: Vec<Toleration> = tolerations(pod)
            .iter()
            .filter(|t| {
                matches!(
                    t.effect.as_deref(),
                    None | Some("") | Some("PreferNoSchedule")
                )
            })
            .cloned()
            .collect();
        state.write(TT_STATE, tols);
        Status::success()
    }
}

impl ScorePlugin for TaintToleration {
    fn score(&self, state: &CycleState, _: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        if node.taints.is_empty() {
            return Ok(0);
        }
        let empty = Vec::new();
        let tols = state.read::<Vec<Toleration>>(TT_STATE).unwrap_or(&empty);
        Ok(node
            .taints
            .iter()
            .filter(|t| t.effect == "PreferNoSchedule" && !tols.iter().any(|tol| tolerates(tol, t)))
            .count() as i64)
    }
    fn normalize_score(&self, _: &CycleState, _: &PodInfo, scores: &mut [NodeScore]) -> Status {
        default_normalize_score(MAX_NODE_SCORE, true, scores);
        Status::success()
    }
}

fn requirement_matches(r: &NodeSelectorRequirement, value: Option<&str>) -> bool {
    let values = r.values.as_deref().unwrap_or(&[]);
    match r.operator.as_str() {
        "In" => value.is_some_and(|v| values.iter().any(|x| x == v)),
        "NotIn" => value.is_none_or(|v| !values.iter().any(|x| x == v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(v), Some(w)) = (
                value.and_then(|v| v.parse::<i64>().ok()),
                values.first().and_then(|w| w.parse::<i64>().ok()),
            ) else {
                return false;
            };
            if r.operator == "Gt" {
                v > w
            } else {
                v < w
            }
        }
        _ => false,
    }
}

/// Whether `node` matches a node selector term (all expressions and fields; an empty term
/// matches nothing).
pub fn term_matches(term: &NodeSelectorTerm, labels: &Labels, node_name: &str) -> bool {
    let exprs = term.match_expressions.as_deref().unwrap_or(&[]);
    let fields = term.match_fields.as_deref().unwrap_or(&[]);
    if exprs.is_empty() && fields.is_empty() {
        return false;
    }
    exprs
        .iter()
        .all(|r| requirement_matches(r, labels.get(&r.key).map(String::as_str)))
        && fields
            .iter()
            .all(|r| r.key == "metadata.name" && requirement_matches(r, Some(node_name)))
}

/// Whether `node` matches a required node selector (any term).
pub fn node_selector_matches(sel: &NodeSelector, labels: &Labels, node_name: &str) -> bool {
    sel.node_selector_terms
        .iter()
        .any(|t| term_matches(t, labels, node_name))
}

/// Whether the node matches the pod's `nodeSelector` and required node affinity
/// (`GetRequiredNodeAffinity(pod).Match(node)`).
pub fn pod_matches_node_affinity(pod: &PodInfo, node: &Node) -> bool {
    let empty = BTreeMap::new();
    let labels = node.metadata.labels.as_ref().unwrap_or(&empty);
    let name = node.metadata.name.as_deref().unwrap_or("");
    let Some(spec) = pod.pod.spec.as_ref() else {
        return true;
    };
    if let Some(sel) = spec.node_selector.as_ref() {
        if !sel.iter().all(|(k, v)| labels.get(k) == Some(v)) {
            return false;
        }
    }
    if let Some(req) = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|n| {
            n.required_during_scheduling_ignored_during_execution
                .as_ref()
        })
    {
        if !node_selector_matches(req, labels, name) {
            return false;
        }
    }
    true
}

/// `NodeAffinity`: nodeSelector and required node affinity filter; preferred terms score.
#[derive(Clone, Debug, Default)]
pub struct NodeAffinity;

/// NodeAffinity's reason.
pub const ERR_NODE_AFFINITY: &str = "node(s) didn't match Pod's node affinity/selector";

impl Plugin for NodeAffinity {
    fn name(&self) -> &str {
        "NodeAffinity"
    }
    fn events_to_register(&self) -> Vec<ClusterEvent> {
        vec![ClusterEvent::NODE_ADD, ClusterEvent::NODE_UPDATE]
    }
    fn queueing_hint(&self, pod: &PodInfo, _: &ClusterEvent, obj: &EventObject) -> QueueingHint {
        match obj {
            EventObject::Node { old, new } => {
                let now = pod_matches_node_affinity(pod, new);
                let before = old
                    .as_ref()
                    .is_some_and(|o| pod_matches_node_affinity(pod, o));
                if now && !before {
                    QueueingHint::Queue
                } else if now {
                    // Still matching: something else (e.g. resources) may have changed.
                    QueueingHint::Queue
                } else {
                    QueueingHint::Skip
                }
            }
            _ => QueueingHint::Queue,
        }
    }
}

/// NodeAffinity's PreFilter state: which snapshot nodes match the pod's required node
/// affinity and nodeSelector.
const PF_NODE_AFFINITY: &str = "PreFilterNodeAffinity";

impl PreFilterPlugin for NodeAffinity {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
    ) -> PreFilterResult {
        let spec = pod.pod.spec.as_ref();
        let has_sel = spec
            .and_then(|s| s.node_selector.as_ref())
            .is_some_and(|m| !m.is_empty());
        let req = spec
            .and_then(|s| s.affinity.as_ref())
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|n| {
                n.required_during_scheduling_ignored_during_execution
                    .as_ref()
            });
        if !has_sel && req.is_none() {
            return Status::skip().into();
        }
        // All terms pinned by metadata.name → only those nodes.
        if let Some(req) = req {
            let mut names = std::collections::HashSet::new();
            let mut all_pinned = true;
            for t in &req.node_selector_terms {
                let pinned = t
                    .match_fields
                    .iter()
                    .flatten()
                    .find(|r| r.key == "metadata.name" && r.operator == "In");
                match pinned {
                    Some(r) => names.extend(r.values.iter().flatten().cloned()),
                    None => {
                        all_pinned = false;
                        break;
                    }
                }
            }
            if all_pinned {
                if names.is_empty() {
                    return Status::unresolvable(ERR_NODE_AFFINITY).into();
                }
                return PreFilterResult {
                    status: Status::success(),
                    node_names: Some(names),
                };
            }
        }
        // The pods of a workload share their selector: evaluate it once per node of the
        // snapshot (labels read per node per pod were a quarter of SchedulingNodeAffinity).
        let key = serde_json::to_string(&(spec.and_then(|s| s.node_selector.as_ref()), req))
            .unwrap_or_default();
        let matches = snapshot.node_matches(&key, |n| pod_matches_node_affinity(pod, &n.node));
        state.write(PF_NODE_AFFINITY, matches);
        Status::success().into()
    }
}

impl FilterPlugin for NodeAffinity {
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let cached = state
            .read::<Arc<NodeMatches>>(PF_NODE_AFFINITY)
            .and_then(|m| m.get(node.name.as_str()).copied());
        // A node outside the snapshot (or no PreFilter run) is evaluated here.
        if cached.unwrap_or_else(|| pod_matches_node_affinity(pod, &node.node)) {
            Status::success()
        } else {
            Status::unresolvable(ERR_NODE_AFFINITY)
        }
    }
}

impl PreScorePlugin for NodeAffinity {
    fn pre_score(
        &self,
        _: &mut CycleState,
        pod: &PodInfo,
        _: &[std::sync::Arc<NodeInfo>],
        _: &Snapshot,
    ) -> Status {
        let has = pod
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.affinity.as_ref())
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|n| {
                n.preferred_during_scheduling_ignored_during_execution
                    .as_ref()
            })
            .is_some_and(|p| !p.is_empty());
        if has {
            Status::success()
        } else {
            Status::skip()
        }
    }
}

impl ScorePlugin for NodeAffinity {
    fn score(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let prefs = pod
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.affinity.as_ref())
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|n| {
                n.preferred_during_scheduling_ignored_during_execution
                    .as_ref()
            });
        let mut total = 0;
        for p in prefs.into_iter().flatten() {
            if p.weight != 0 && term_matches(&p.preference, node.labels(), &node.name) {
                total += p.weight as i64;
            }
        }
        Ok(total)
    }
    fn normalize_score(&self, _: &CycleState, _: &PodInfo, scores: &mut [NodeScore]) -> Status {
        default_normalize_score(MAX_NODE_SCORE, false, scores);
        Status::success()
    }
}

/// `NodePorts`: the pod's host ports must be free on the node.
#[derive(Clone, Debug, Default)]
pub struct NodePorts;

/// NodePorts' reason.
pub const ERR_NODE_PORTS: &str = "node(s) didn't have free ports for the requested pod ports";

impl Plugin for NodePorts {
    fn name(&self) -> &str {
        "NodePorts"
    }
    fn events_to_register(&self) -> Vec<ClusterEvent> {
        vec![ClusterEvent::NODE_ADD, ClusterEvent::POD_DELETE]
    }
}

impl PreFilterPlugin for NodePorts {
    fn pre_filter(&self, _: &mut CycleState, pod: &PodInfo, _: &Snapshot) -> PreFilterResult {
        if pod.host_ports.is_empty() {
            Status::skip().into()
        } else {
            Status::success().into()
        }
    }
}

impl FilterPlugin for NodePorts {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        for want in &pod.host_ports {
            if node.used_ports.iter().any(|u| u.conflicts(want)) {
                return Status::unschedulable(ERR_NODE_PORTS);
            }
        }
        Status::success()
    }
}

/// `VolumeLocality`: a pod whose PersistentVolumeClaims are bound to local volumes (PV node
/// affinity) or zonal volumes (topology labels) runs where its data is
/// (VolumeBinding's node-affinity check plus VolumeZone).
#[derive(Clone, Debug, Default)]
pub struct VolumeLocality;

/// VolumeLocality's reason for a PV node-affinity conflict.
pub const ERR_VOLUME_NODE_AFFINITY: &str = "node(s) had volume node affinity conflict";
/// VolumeLocality's reason for a zone conflict.
pub const ERR_VOLUME_ZONE: &str = "node(s) had no available volume zone";

const TOPOLOGY_LABELS: [&str; 4] = [
    "topology.kubernetes.io/zone",
    "topology.kubernetes.io/region",
    "failure-domain.beta.kubernetes.io/zone",
    "failure-domain.beta.kubernetes.io/region",
];

const VOL_STATE: &str = "PreFilterVolumeLocality";

impl Plugin for VolumeLocality {
    fn name(&self) -> &str {
        "VolumeLocality"
    }
    fn events_to_register(&self) -> Vec<ClusterEvent> {
        vec![ClusterEvent::NODE_ADD, ClusterEvent::NODE_UPDATE]
    }
}

impl PreFilterPlugin for VolumeLocality {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
    ) -> PreFilterResult {
        let mut placements = Vec::new();
        for v in pod
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.volumes.as_ref())
            .into_iter()
            .flatten()
        {
            if let Some(pvc) = v.persistent_volume_claim.as_ref() {
                if let Some(p) = snapshot
                    .volumes
                    .claims
                    .get(&format!("{}/{}", pod.namespace, pvc.claim_name))
                {
                    placements.push(p.clone());
                }
            }
        }
        if placements.is_empty() {
            return Status::skip().into();
        }
        state.write(VOL_STATE, placements);
        Status::success().into()
    }
}

impl FilterPlugin for VolumeLocality {
    fn filter(&self, state: &CycleState, _: &PodInfo, node: &NodeInfo) -> Status {
        let Some(placements) = state.read::<Vec<crate::nodeinfo::VolumePlacement>>(VOL_STATE)
        else {
            return Status::success();
        };
        for p in placements {
            if let Some(na) = p.node_affinity.as_ref() {
                if !node_selector_matches(na, node.labels(), &node.name) {
                    return Status::unresolvable(ERR_VOLUME_NODE_AFFINITY);
                }
            }
            for key in TOPOLOGY_LABELS {
                if let Some(want) = p.labels.get(key) {
                    let ok = node
                        .labels()
                        .get(key)
                        .is_some_and(|have| want.split("__").any(|w| w == have));
                    if !ok {
                        return Status::unresolvable(ERR_VOLUME_ZONE);
                    }
                }
            }
        }
        Status::success()
    }
}
