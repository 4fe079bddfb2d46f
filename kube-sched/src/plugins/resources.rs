//! NodeResourcesFit (filter + LeastAllocated / MostAllocated / RequestedToCapacityRatio
//! scoring), NodeResourcesBalancedAllocation and ImageLocality.

use std::sync::Arc;

use crate::framework::*;
use crate::nodeinfo::{normalize_image, NodeInfo, PodInfo, Snapshot};
use crate::resources::{Resource, CPU, EPHEMERAL_STORAGE, MEMORY};

/// A resource name with its scoring weight.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceSpec {
    /// `cpu`, `memory`, `nvidia.com/gpu`, …
    name: String,
    /// The name resolved once: scoring reads it for every node of every cycle.
    kind: Kind,
    /// Weight (0 is taken as 1).
    pub weight: i64,
}

/// Which field of a [`Resource`] a name is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Cpu,
    Memory,
    EphemeralStorage,
    Other,
}

impl ResourceSpec {
    /// Resource `name` scored with `weight`.
    pub fn new(name: impl Into<String>, weight: i64) -> ResourceSpec {
        let name = name.into();
        let kind = match name.as_str() {
            CPU => Kind::Cpu,
            MEMORY => Kind::Memory,
            EPHEMERAL_STORAGE => Kind::EphemeralStorage,
            _ => Kind::Other,
        };
        ResourceSpec { name, kind, weight }
    }

    /// The resource name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn of(&self, r: &Resource) -> i64 {
        match self.kind {
            Kind::Cpu => r.milli_cpu,
            Kind::Memory => r.memory,
            Kind::EphemeralStorage => r.ephemeral_storage,
            Kind::Other => r.get(&self.name),
        }
    }
}

/// One point of RequestedToCapacityRatio's shape: utilization (0–100) → score (0–10).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UtilizationShapePoint {
    /// Utilization in percent.
    pub utilization: i64,
    /// Score, 0–10.
    pub score: i64,
}

/// NodeResourcesFit's scoring strategy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScoringStrategy {
    /// Prefer the emptiest nodes (the default).
    LeastAllocated,
    /// Prefer the fullest nodes (bin packing).
    MostAllocated,
    /// A piecewise-linear function of utilization.
    RequestedToCapacityRatio(Vec<UtilizationShapePoint>),
}

/// `NodeResourcesFit`: requests (containers, init containers, overhead), pod count and
/// extended resources against allocatable; scores by a [`ScoringStrategy`].
#[derive(Clone, Debug)]
pub struct NodeResourcesFit {
    /// Strategy.
    pub strategy: ScoringStrategy,
    /// Resources scored, with weights (default cpu:1, memory:1).
    pub resources: Vec<ResourceSpec>,
    /// Resources the filter ignores.
    pub ignored_resources: Vec<String>,
}

impl Default for NodeResourcesFit {
    fn default() -> Self {
        NodeResourcesFit {
            strategy: ScoringStrategy::LeastAllocated,
            resources: default_resources(),
            ignored_resources: Vec::new(),
        }
    }
}

fn default_resources() -> Vec<ResourceSpec> {
    vec![ResourceSpec::new(CPU, 1), ResourceSpec::new(MEMORY, 1)]
}

/// Why a pod does not fit a node's resources (`InsufficientResource`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Insufficient {
    /// Resource name (`pods` for the pod count).
    pub resource: String,
    /// The reason text.
    pub reason: String,
}

/// The Fit filter's check (`fitsRequest`), every insufficiency in Kubernetes' order.
pub fn fits_request(pod: &Resource, node: &NodeInfo, ignored: &[String]) -> Vec<Insufficient> {
    let mut out = Vec::new();
    let allowed = node.allocatable.allowed_pod_number;
    if node.pods.len() as i64 + 1 > allowed {
        out.push(Insufficient {
            resource: "pods".into(),
            reason: "Too many pods".into(),
        });
    }
    if pod.is_zero() {
        return out;
    }
    let a = &node.allocatable;
    let r = &node.requested;
    if pod.milli_cpu > 0 && pod.milli_cpu > a.milli_cpu - r.milli_cpu {
        out.push(Insufficient {
            resource: CPU.into(),
            reason: "Insufficient cpu".into(),
        });
    }
    if pod.memory > 0 && pod.memory > a.memory - r.memory {
        out.push(Insufficient {
            resource: MEMORY.into(),
            reason: "Insufficient memory".into(),
        });
    }
    if pod.ephemeral_storage > 0
        && pod.ephemeral_storage > a.ephemeral_storage - r.ephemeral_storage
    {
        out.push(Insufficient {
            resource: EPHEMERAL_STORAGE.into(),
            reason: "Insufficient ephemeral-storage".into(),
        });
    }
    for (name, &q) in &pod.scalar {
        if q == 0 || ignored.iter().any(|i| i == name) {
            continue;
        }
        if q > a.get(name) - r.get(name) {
            out.push(Insufficient {
                resource: name.clone(),
                reason: format!("Insufficient {name}"),
            });
        }
    }
    out
}

impl Plugin for NodeResourcesFit {
    fn name(&self) -> &str {
        "NodeResourcesFit"
    }
    fn events_to_register(&self) -> Vec<ClusterEvent> {
        vec![
            ClusterEvent::NODE_ADD,
            ClusterEvent::NODE_UPDATE,
            ClusterEvent::POD_DELETE,
        ]
    }
    fn queueing_hint(
        &self,
        pod: &PodInfo,
        event: &ClusterEvent,
        obj: &EventObject,
    ) -> QueueingHint {
        match obj {
            EventObject::Node { old, new } => {
                let ni = NodeInfo::new(new.clone());
                if event.action == ActionType::Update {
                    if let Some(old) = old {
                        let before = NodeInfo::new(old.clone());
                        if before.allocatable == ni.allocatable {
                            return QueueingHint::Skip;
                        }
                    }
                }
                // Would the pod fit the empty node at all?
                if fits_request(&pod.requests, &ni, &self.ignored_resources).is_empty() {
                    QueueingHint::Queue
                } else {
                    QueueingHint::Skip
                }
            }
            _ => QueueingHint::Queue,
        }
    }
}

impl PreFilterPlugin for NodeResourcesFit {
    fn pre_filter(&self, _: &mut CycleState, _: &PodInfo, _: &Snapshot) -> PreFilterResult {
        Status::success().into()
    }
}

impl FilterPlugin for NodeResourcesFit {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let ins = fits_request(&pod.requests, node, &self.ignored_resources);
        if ins.is_empty() {
            return Status::success();
        }
        Status {
            code: Code::Unschedulable,
            reasons: ins.into_iter().map(|i| i.reason).collect(),
            plugin: String::new(),
        }
    }
}

/// (requested incl. the pod, allocatable) of `resource` for scoring (`calculateResourceAllocatableRequest`):
/// cpu/memory with the non-zero defaults unless `use_requested`.
fn requested_allocatable(
    pod: &PodInfo,
    node: &NodeInfo,
    resource: &ResourceSpec,
    use_requested: bool,
) -> Option<(i64, i64)> {
    let alloc = resource.of(&node.allocatable);
    let (node_req, pod_req) = match resource.kind {
        Kind::Cpu | Kind::Memory if !use_requested => (
            resource.of(&node.non_zero_requested),
            resource.of(&pod.non_zero_requests),
        ),
        Kind::Cpu | Kind::Memory | Kind::EphemeralStorage => {
            (resource.of(&node.requested), resource.of(&pod.requests))
        }
        Kind::Other => {
            let p = resource.of(&pod.requests);
            if p == 0 || alloc == 0 {
                return None;
            }
            (resource.of(&node.requested), p)
        }
    };
    Some((node_req + pod_req, alloc))
}

fn least_allocated(req: i64, alloc: i64) -> i64 {
    if alloc == 0 || req > alloc {
        0
    } else {
        (alloc - req) * MAX_NODE_SCORE / alloc
    }
}

fn most_allocated(req: i64, alloc: i64) -> i64 {
    if alloc == 0 {
        0
    } else {
        req.min(alloc) * MAX_NODE_SCORE / alloc
    }
}

/// Piecewise-linear interpolation over the shape (scores already ×10).
fn shape_score(shape: &[UtilizationShapePoint], utilization: i64) -> i64 {
    let pts: Vec<(i64, i64)> = shape
        .iter()
        .map(|p| (p.utilization, p.score * 10))
        .collect();
    let Some(first) = pts.first() else { return 0 };
    if utilization <= first.0 {
        return first.1;
    }
    for w in pts.windows(2) {
        let ((x0, y0), (x1, y1)) = (w[0], w[1]);
        if utilization <= x1 {
            return y0 + (y1 - y0) * (utilization - x0) / (x1 - x0).max(1);
        }
    }
    pts.last().map(|p| p.1).unwrap_or(0)
}

/// The strategy's score of `node` (`resourceAllocationScorer.score`).
pub fn fit_score(
    strategy: &ScoringStrategy,
    resources: &[ResourceSpec],
    pod: &PodInfo,
    node: &NodeInfo,
) -> i64 {
    match strategy {
        ScoringStrategy::RequestedToCapacityRatio(shape) => {
            let (mut sum, mut wsum) = (0f64, 0i64);
            for r in resources {
                let Some((req, alloc)) = requested_allocatable(pod, node, r, false) else {
                    continue;
                };
                if alloc == 0 {
                    continue;
                }
                let util = if req > alloc { 100 } else { req * 100 / alloc };
                let s = shape_score(shape, util);
                if s > 0 {
                    let w = r.weight.max(1);
                    sum += (s * w) as f64;
                    wsum += w;
                }
            }
            if wsum == 0 {
                0
            } else {
                (sum / wsum as f64).round() as i64
            }
        }
        _ => {
            let (mut sum, mut wsum) = (0i64, 0i64);
            for r in resources {
                let Some((req, alloc)) = requested_allocatable(pod, node, r, false) else {
                    continue;
                };
                let w = r.weight.max(1);
                let s = if *strategy == ScoringStrategy::MostAllocated {
                    most_allocated(req, alloc)
                } else {
                    least_allocated(req, alloc)
                };
                sum += s * w;
                wsum += w;
            }
            if wsum == 0 {
                0
            } else {
                sum / wsum
            }
        }
    }
}

impl ScorePlugin for NodeResourcesFit {
    fn score(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        Ok(fit_score(&self.strategy, &self.resources, pod, node))
    }
}

/// `NodeResourcesBalancedAllocation`: prefers nodes whose cpu and memory utilization stay
/// close to each other.
#[derive(Clone, Debug)]
pub struct BalancedAllocation {
    /// Resources balanced (default cpu, memory).
    pub resources: Vec<ResourceSpec>,
}

impl Default for BalancedAllocation {
    fn default() -> Self {
        BalancedAllocation {
            resources: default_resources(),
        }
    }
}

impl Plugin for BalancedAllocation {
    fn name(&self) -> &str {
        "NodeResourcesBalancedAllocation"
    }
}

impl PreScorePlugin for BalancedAllocation {
    fn pre_score(
        &self,
        _: &mut CycleState,
        pod: &PodInfo,
        _: &[Arc<NodeInfo>],
        _: &Snapshot,
    ) -> Status {
        if pod.requests.is_zero() {
            Status::skip()
        } else {
            Status::success()
        }
    }
}

/// BalancedAllocation's score of `node`.
pub fn balanced_score(resources: &[ResourceSpec], pod: &PodInfo, node: &NodeInfo) -> i64 {
    // The utilization fractions: on the stack for the usual few resources.
    let mut small = [0f64; 4];
    let mut more: Vec<f64> = Vec::new();
    let mut n = 0usize;
    for r in resources {
        let Some((req, alloc)) = requested_allocatable(pod, node, r, true) else {
            continue;
        };
        if alloc == 0 {
            continue;
        }
        let f = (req as f64 / alloc as f64).min(1.0);
        if n < small.len() && more.is_empty() {
            small[n] = f;
        } else {
            if more.is_empty() {
                more.extend_from_slice(&small);
            }
            more.push(f);
        }
        n += 1;
    }
    let fr: &[f64] = if more.is_empty() { &small[..n] } else { &more };
    let std = match fr.len() {
        2 => (fr[0] - fr[1]).abs() / 2.0,
        n if n > 2 => {
            let mean = fr.iter().sum::<f64>() / n as f64;
            (fr.iter().map(|f| (f - mean) * (f - mean)).sum::<f64>() / n as f64).sqrt()
        }
        _ => 0.0,
    };
    ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
}

impl ScorePlugin for BalancedAllocation {
    fn score(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        Ok(balanced_score(&self.resources, pod, node))
    }
}

/// `ImageLocality`: prefers nodes that already have the pod's images, weighted by how
/// spread the image is.
#[derive(Clone, Debug, Default)]
pub struct ImageLocality;

const MB: i64 = 1024 * 1024;
const MIN_THRESHOLD: i64 = 23 * MB;
const MAX_CONTAINER_THRESHOLD: i64 = 1000 * MB;
const IMG_STATE: &str = "PreScoreImageLocality";

#[derive(Clone)]
struct ImageState {
    images: Vec<String>,
    total_nodes: usize,
    counts: Vec<usize>,
}

impl Plugin for ImageLocality {
    fn name(&self) -> &str {
        "ImageLocality"
    }
}

impl PreScorePlugin for ImageLocality {
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _: &[Arc<NodeInfo>],
        snapshot: &Snapshot,
    ) -> Status {
        let spec = pod.pod.spec.as_ref();
        let images: Vec<String> = spec
            .map(|s| {
                s.init_containers
                    .iter()
                    .flatten()
                    .chain(s.containers.iter())
                    .map(|c| normalize_image(c.image.as_deref().unwrap_or("")))
                    .collect()
            })
            .unwrap_or_default();
        let counts: Vec<usize> = images
            .iter()
            .map(|i| snapshot.image_nodes.get(i).copied().unwrap_or(0))
            .collect();
        if counts.iter().all(|&c| c == 0) {
            // No node has any of the images: every node would score 0.
            return Status::skip();
        }
        state.write(
            IMG_STATE,
            ImageState {
                images,
                total_nodes: snapshot.nodes.len(),
                counts,
            },
        );
        Status::success()
    }
}

/// ImageLocality's score from the per-container (size, nodes having it) of images present
/// on the node.
pub fn image_score(present: &[(i64, usize)], total_nodes: usize, num_containers: usize) -> i64 {
    let mut sum: i64 = 0;
    for &(size, n) in present {
        if total_nodes > 0 {
            sum += (size as f64 * (n as f64 / total_nodes as f64)) as i64;
        }
    }
    let max = MAX_CONTAINER_THRESHOLD * num_containers as i64;
    let sum = sum.clamp(MIN_THRESHOLD, max.max(MIN_THRESHOLD));
    if max <= MIN_THRESHOLD {
        return 0;
    }
    MAX_NODE_SCORE * (sum - MIN_THRESHOLD) / (max - MIN_THRESHOLD)
}

impl ScorePlugin for ImageLocality {
    fn score(&self, state: &CycleState, _: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let Some(st) = state.read::<ImageState>(IMG_STATE) else {
            return Ok(0);
        };
        if node.images.is_empty() {
            return Ok(0);
        }
        let present: Vec<(i64, usize)> = st
            .images
            .iter()
            .zip(&st.counts)
            .filter_map(|(i, &c)| node.images.get(i).map(|&s| (s, c)))
            .collect();
        Ok(image_score(&present, st.total_nodes, st.images.len()))
    }
}
