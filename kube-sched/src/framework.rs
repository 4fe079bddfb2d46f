//! The scheduling framework: [`Status`], [`CycleState`], the extension-point traits (all
//! synchronous and object-safe), and cluster events for requeueing.
//!
//! A plugin is one struct implementing [`Plugin`] plus the extension points it serves; a
//! [`Profile`](crate::profile::Profile) holds `Arc<dyn …>` for each point. Plugins do no IO:
//! PreBind and Bind return the API [`Request`]s to send, which the scheduler's binding cycle
//! executes (so the whole decision path is pure and testable).

use std::any::Any;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use kubox_core::api::core_v1::Node;
use kubox_core::client::Request;

use crate::nodeinfo::{NodeInfo, PodInfo, Snapshot};

/// The code of a plugin's [`Status`] (`framework.Code`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Code {
    /// The plugin ran and the pod may go on.
    Success,
    /// An internal error: the pod is retried after the error backoff.
    Error,
    /// The pod does not fit, but preemption may help.
    Unschedulable,
    /// The pod does not fit and preemption cannot help.
    UnschedulableAndUnresolvable,
    /// Permit: wait.
    Wait,
    /// The plugin has nothing to do for this pod.
    Skip,
    /// The pod waits for something outside the scheduler.
    Pending,
}

/// A plugin's verdict (`framework.Status`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// The code.
    pub code: Code,
    /// Human-readable reasons (used in FailedScheduling messages).
    pub reasons: Vec<String>,
    /// The plugin that produced it.
    pub plugin: String,
}

impl Default for Status {
    fn default() -> Self {
        Status::success()
    }
}

impl Status {
    /// Success.
    pub fn success() -> Status {
        Status {
            code: Code::Success,
            reasons: Vec::new(),
            plugin: String::new(),
        }
    }
    /// A status with `code` and one reason.
    pub fn new(code: Code, reason: impl Into<String>) -> Status {
        Status {
            code,
            reasons: vec![reason.into()],
            plugin: String::new(),
        }
    }
    /// Unschedulable with `reason`.
    pub fn unschedulable(reason: impl Into<String>) -> Status {
        Status::new(Code::Unschedulable, reason)
    }
    /// UnschedulableAndUnresolvable with `reason`.
    pub fn unresolvable(reason: impl Into<String>) -> Status {
        Status::new(Code::UnschedulableAndUnresolvable, reason)
    }
    /// An internal error.
    pub fn error(reason: impl Into<String>) -> Status {
        Status::new(Code::Error, reason)
    }
    /// Skip.
    pub fn skip() -> Status {
        Status {
            code: Code::Skip,
            reasons: Vec::new(),
            plugin: String::new(),
        }
    }
    /// Sets the plugin name.
    pub fn with_plugin(mut self, plugin: &str) -> Status {
        self.plugin = plugin.to_string();
        self
    }
    /// True for Success.
    pub fn is_success(&self) -> bool {
        self.code == Code::Success
    }
    /// True for Skip.
    pub fn is_skip(&self) -> bool {
        self.code == Code::Skip
    }
    /// True for Unschedulable and UnschedulableAndUnresolvable.
    pub fn is_rejected(&self) -> bool {
        matches!(
            self.code,
            Code::Unschedulable | Code::UnschedulableAndUnresolvable
        )
    }
    /// The reasons joined with ", ".
    pub fn message(&self) -> String {
        self.reasons.join(", ")
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.code, self.message())
    }
}

/// Data a plugin keeps in the [`CycleState`] (clonable for preemption's simulations).
pub trait StateData: Any + Send + Sync {
    /// A deep copy.
    fn clone_box(&self) -> Box<dyn StateData>;
    /// As `Any`.
    fn as_any(&self) -> &dyn Any;
    /// As mutable `Any`.
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<T: Any + Clone + Send + Sync> StateData for T {
    fn clone_box(&self) -> Box<dyn StateData> {
        Box::new(self.clone())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// Per-cycle plugin state (`framework.CycleState`), keyed by a plugin-chosen string.
#[derive(Default)]
pub struct CycleState {
    /// A handful of entries: a list beats hashing the key on every per-node read.
    data: Vec<(&'static str, Box<dyn StateData>)>,
    /// Plugins whose PreScore returned Skip (their Score is not run).
    pub skip_score: HashSet<String>,
    /// Plugins whose PreFilter returned Skip (their Filter is not run).
    pub skip_filter: HashSet<String>,
}

impl Clone for CycleState {
    fn clone(&self) -> Self {
        CycleState {
            data: self
                .data
                .iter()
                .map(|(k, v)| (*k, (**v).clone_box()))
                .collect(),
            skip_score: self.skip_score.clone(),
            skip_filter: self.skip_filter.clone(),
        }
    }
}

impl fmt::Debug for CycleState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CycleState")
            .field(
                "keys",
                &self.data.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl CycleState {
    /// Stores `value` under `key`.
    pub fn write<T: Any + Clone + Send + Sync>(&mut self, key: &'static str, value: T) {
        match self.data.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => *v = Box::new(value),
            None => self.data.push((key, Box::new(value))),
        }
    }
    /// Reads the value under `key`.
    pub fn read<T: Any>(&self, key: &'static str) -> Option<&T> {
        self.data
            .iter()
            .find(|(k, _)| *k == key)
            .and_then(|(_, b)| (**b).as_any().downcast_ref())
    }
    /// Reads the value under `key` mutably.
    pub fn read_mut<T: Any>(&mut self, key: &'static str) -> Option<&mut T> {
        self.data
            .iter_mut()
            .find(|(k, _)| *k == key)
            .and_then(|(_, b)| (**b).as_any_mut().downcast_mut())
    }
}

/// The kind of object a [`ClusterEvent`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventResource {
    /// Nodes.
    Node,
    /// Pods (scheduled or not).
    Pod,
    /// Namespaces.
    Namespace,
    /// Services, ReplicaSets and the like.
    Workload,
    /// PodDisruptionBudgets, PriorityClasses and everything else.
    Other,
}

/// What happened to the object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ActionType {
    /// Created.
    Add,
    /// Changed.
    Update,
    /// Deleted.
    Delete,
}

/// A cluster event a plugin can register for (`framework.ClusterEvent`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClusterEvent {
    /// The kind.
    pub resource: EventResource,
    /// The action.
    pub action: ActionType,
}

impl ClusterEvent {
    /// A node was added.
    pub const NODE_ADD: ClusterEvent = ClusterEvent {
        resource: EventResource::Node,
        action: ActionType::Add,
    };
    /// A node changed.
    pub const NODE_UPDATE: ClusterEvent = ClusterEvent {
        resource: EventResource::Node,
        action: ActionType::Update,
    };
    /// An assigned pod was deleted.
    pub const POD_DELETE: ClusterEvent = ClusterEvent {
        resource: EventResource::Pod,
        action: ActionType::Delete,
    };
    /// An assigned pod was added.
    pub const POD_ADD: ClusterEvent = ClusterEvent {
        resource: EventResource::Pod,
        action: ActionType::Add,
    };
    /// An assigned pod changed (labels).
    pub const POD_UPDATE: ClusterEvent = ClusterEvent {
        resource: EventResource::Pod,
        action: ActionType::Update,
    };
}

/// The objects of an event, for queueing hints.
#[derive(Clone, Debug)]
pub enum EventObject {
    /// A node event: old (for updates) and new state.
    Node {
        /// Before (updates only).
        old: Option<Arc<Node>>,
        /// Now.
        new: Arc<Node>,
    },
    /// A pod event.
    Pod(Arc<PodInfo>),
    /// Anything else.
    Other,
}

/// A plugin's answer to "may this event make the pod schedulable?" (`framework.QueueingHint`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueingHint {
    /// The pod stays unschedulable.
    Skip,
    /// Requeue the pod.
    Queue,
}

/// Every plugin: a name and the events that may make pods it rejected schedulable.
pub trait Plugin: Send + Sync + 'static {
    /// The plugin's name (`NodeResourcesFit`, …).
    fn name(&self) -> &str;
    /// The events after which pods this plugin rejected are retried. Default: node
    /// add/update and assigned-pod delete.
    fn events_to_register(&self) -> Vec<ClusterEvent> {
        vec![
            ClusterEvent::NODE_ADD,
            ClusterEvent::NODE_UPDATE,
            ClusterEvent::POD_DELETE,
        ]
    }
    /// Whether `event` may make `pod` schedulable (called only for registered events).
    fn queueing_hint(
        &self,
        _pod: &PodInfo,
        _event: &ClusterEvent,
        _obj: &EventObject,
    ) -> QueueingHint {
        QueueingHint::Queue
    }
}

/// PreFilter's result: a status and optionally the only nodes worth filtering.
#[derive(Clone, Debug, Default)]
pub struct PreFilterResult {
    /// Success, Skip, or a rejection of the pod.
    pub status: Status,
    /// `Some`: only these nodes can pass.
    pub node_names: Option<HashSet<String>>,
}

impl From<Status> for PreFilterResult {
    fn from(status: Status) -> Self {
        PreFilterResult {
            status,
            node_names: None,
        }
    }
}

/// PreFilter: computes cycle state once per pod, may reject the pod outright.
pub trait PreFilterPlugin: Plugin {
    /// Runs once per cycle.
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
    ) -> PreFilterResult;
    /// Updates the cycle state as if `added` ran on `node` (preemption, nominated pods).
    fn add_pod(
        &self,
        _state: &mut CycleState,
        _pod: &PodInfo,
        _added: &PodInfo,
        _node: &NodeInfo,
    ) -> Status {
        Status::success()
    }
    /// Updates the cycle state as if `removed` left `node`.
    fn remove_pod(
        &self,
        _state: &mut CycleState,
        _pod: &PodInfo,
        _removed: &PodInfo,
        _node: &NodeInfo,
    ) -> Status {
        Status::success()
    }
}

/// Filter: can the pod run on this node?
pub trait FilterPlugin: Plugin {
    /// Success, or why not.
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status;
}

/// Per-node filter statuses of a failed cycle (`framework.NodeToStatusMap`).
///
/// Hashed with foldhash: a pod that fits nowhere fills it with one entry per node.
pub type NodeStatusMap = HashMap<String, Status, foldhash::fast::RandomState>;

/// PostFilter's result.
#[derive(Clone, Debug, Default)]
pub struct PostFilterResult {
    /// Success when a node was nominated.
    pub status: Status,
    /// The nominated node.
    pub nominated_node: Option<String>,
    /// Pods to evict for the nomination (the scheduler deletes them gracefully).
    pub victims: Vec<Arc<PodInfo>>,
}

/// PostFilter: runs when no node fits (preemption).
pub trait PostFilterPlugin: Plugin {
    /// Tries to make room; `profile` lets it re-run the filters.
    fn post_filter(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
        statuses: &NodeStatusMap,
        profile: &crate::profile::Profile,
    ) -> PostFilterResult;
}

/// PreScore: computes state once for the feasible nodes.
pub trait PreScorePlugin: Plugin {
    /// Success, Skip (the plugin's Score is not run), or an error.
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        nodes: &[Arc<NodeInfo>],
        snapshot: &Snapshot,
    ) -> Status;
}

/// A node's score.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeScore {
    /// Node name (shared with [`NodeInfo::shared_name`], so scoring copies no strings).
    pub name: Arc<str>,
    /// Score.
    pub score: i64,
}

/// The highest score a plugin may give after normalization.
pub const MAX_NODE_SCORE: i64 = 100;

/// Score: ranks feasible nodes (0–100 after normalization).
pub trait ScorePlugin: Plugin {
    /// The raw score of `node`.
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status>;
    /// Rescales the raw scores into [0, 100]. Default: none needed.
    fn normalize_score(
        &self,
        _state: &CycleState,
        _pod: &PodInfo,
        _scores: &mut [NodeScore],
    ) -> Status {
        Status::success()
    }
}

/// Reserve: claims resources for the pod on the chosen node.
pub trait ReservePlugin: Plugin {
    /// Claim; a failure unreserves every plugin.
    fn reserve(&self, state: &mut CycleState, pod: &PodInfo, node: &str) -> Status;
    /// Release (idempotent).
    fn unreserve(&self, state: &mut CycleState, pod: &PodInfo, node: &str);
}

/// Permit: the last gate before binding.
pub trait PermitPlugin: Plugin {
    /// Success, Unschedulable (reject) or Wait with the longest wait.
    fn permit(&self, state: &CycleState, pod: &PodInfo, node: &str) -> (Status, Duration);
}

/// PreBind: work before the binding (returns API requests the binding cycle sends).
pub trait PreBindPlugin: Plugin {
    /// The requests to send, or a failure.
    fn pre_bind(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        node: &str,
    ) -> Result<Vec<Request>, Status>;
}

/// Bind: binds the pod (returns the request to send; `Ok(None)` = skip to the next binder).
pub trait BindPlugin: Plugin {
    /// The binding request.
    fn bind(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        node: &str,
    ) -> Result<Option<Request>, Status>;
}

/// `helper.DefaultNormalizeScore`: scales scores to [0, max] by the highest one; reversed
/// when `reverse`.
pub fn default_normalize_score(max: i64, reverse: bool, scores: &mut [NodeScore]) {
    let highest = scores.iter().map(|s| s.score).max().unwrap_or(0);
    if highest == 0 {
        if reverse {
            for s in scores.iter_mut() {
                s.score = max;
            }
        }
        return;
    }
    for s in scores.iter_mut() {
        let mut v = max * s.score / highest;
        if reverse {
            v = max - v;
        }
        s.score = v;
    }
}
