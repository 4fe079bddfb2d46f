//! The node lifecycle controller (`pkg/controller/nodelifecycle`) with taint-based eviction
//! (`pkg/controller/tainteviction`).
//!
//! - Health: each node's probe time is refreshed (on this controller's clock) whenever its
//!   Ready condition's `lastHeartbeatTime` changes or its Lease `kube-node-lease/<node>` is
//!   renewed. When `now > probe + grace` (`--node-monitor-grace-period`, 50 s since
//!   Kubernetes 1.32; 40 s before), Ready, MemoryPressure, DiskPressure and PIDPressure become
//!   `Unknown` with reason `NodeStatusUnknown` ("Kubelet stopped posting node status.") or
//!   `NodeStatusNeverUpdated`, and the node's pods get `Ready=False`.
//! - Taints: Ready=Unknown → `node.kubernetes.io/unreachable` (NoSchedule and NoExecute),
//!   Ready=False → `node.kubernetes.io/not-ready` (both effects); they are swapped or removed
//!   when the condition changes, so a returning node is cleaned of them.
//! - Eviction: a pod on a node with NoExecute taints is deleted at once if it does not
//!   tolerate one of them, else after the smallest `tolerationSeconds` (counted from the
//!   taint's `timeAdded`); no `tolerationSeconds` means never.
//!
//! Keys are node names; every node is re-examined every `monitor_period` (5 s).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use kubox_core::api::coordination_v1::Lease;
use kubox_core::api::core_v1::{Node, NodeCondition, Pod, PodCondition, Taint, Toleration};
use kubox_core::client::{Api, DeleteParams, PostParams};
use kubox_core::runtime::{Change, Informer, ObjectKey};
use kubox_core::{MicroTime, Time};
use tokio::task::JoinHandle;

use crate::runtime::{enqueue_on, Action, Context, Controller, Result, WorkQueue};

/// `node.kubernetes.io/unreachable`.
pub const TAINT_UNREACHABLE: &str = "node.kubernetes.io/unreachable";
/// `node.kubernetes.io/not-ready`.
pub const TAINT_NOT_READY: &str = "node.kubernetes.io/not-ready";
/// The namespace of node heartbeat Leases.
pub const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";

/// Timing of the controller (kube-controller-manager flags).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// `--node-monitor-period` (5 s).
    pub monitor_period: Duration,
    /// `--node-monitor-grace-period` (50 s, Kubernetes ≥ 1.32).
    pub grace_period: Duration,
    /// `--node-startup-grace-period` (60 s): grace for a node that never posted Ready.
    pub startup_grace_period: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            monitor_period: Duration::from_secs(5),
            grace_period: Duration::from_secs(50),
            startup_grace_period: Duration::from_secs(60),
        }
    }
}

#[derive(Clone, Debug)]
struct Health {
    heartbeat: Option<Time>,
    lease_renew: Option<MicroTime>,
    probe: jiff::Timestamp,
}

/// Whether `t` tolerates taint `taint` (`Toleration.ToleratesTaint`).
pub fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    if let Some(e) = t.effect.as_deref().filter(|e| !e.is_empty()) {
        if e != taint.effect {
            return false;
        }
    }
    let key = t.key.as_deref().unwrap_or("");
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match t.operator.as_deref().unwrap_or("Equal") {
        "Exists" => true,
        _ => t.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or(""),
    }
}

/// When a pod with `tolerations` must leave a node with NoExecute `taints`: `Some(ZERO)` now,
/// `Some(d)` after `d` from the taint, `None` never (`getMinTolerationTime`).
pub fn eviction_delay(tolerations: &[Toleration], taints: &[Taint]) -> Option<Duration> {
    let mut min: Option<i64> = None;
    let mut forever = true;
    for taint in taints.iter().filter(|t| t.effect == "NoExecute") {
        let matching: Vec<&Toleration> =
            tolerations.iter().filter(|t| tolerates(t, taint)).collect();
        if matching.is_empty() {
            return Some(Duration::ZERO);
        }
        for t in matching {
            if let Some(s) = t.toleration_seconds {
                forever = false;
                min = Some(min.map_or(s, |m| m.min(s)));
            }
        }
    }
    if forever {
        return None;
    }
    min.map(|s| Duration::from_secs(s.max(0) as u64))
}

/// The node lifecycle controller.
pub struct NodeLifecycleController {
    ctx: Context,
    config: Config,
    nodes: Informer<Node>,
    leases: Informer<Lease>,
    pods: Informer<Pod>,
    health: Arc<Mutex<HashMap<String, Health>>>,
}

impl NodeLifecycleController {
    /// The controller with the default timing.
    pub fn new(ctx: &Context) -> Self {
        Self::with_config(ctx, Config::default())
    }

    /// The controller with `config`.
    pub fn with_config(ctx: &Context, config: Config) -> Self {
        NodeLifecycleController {
            nodes: ctx.informers.get::<Node>(),
            leases: ctx.informers.get::<Lease>(),
            pods: ctx.informers.get::<Pod>(),
            health: Arc::default(),
            ctx: ctx.clone(),
            config,
        }
    }

    fn ready_condition(node: &Node) -> Option<&NodeCondition> {
        node.status
            .as_ref()?
            .conditions
            .as_ref()?
            .iter()
            .find(|c| c.type_ == "Ready")
    }

    /// Updates the probe time; returns whether the node timed out.
    fn observe(&self, node: &Node, now: jiff::Timestamp) -> bool {
        let name = node.metadata.name.clone().unwrap_or_default();
        let heartbeat = Self::ready_condition(node).and_then(|c| c.last_heartbeat_time);
        let lease_renew = self
            .leases
            .store()
            .get(&ObjectKey::namespaced(NODE_LEASE_NAMESPACE, &name))
            .and_then(|l| l.spec.as_ref().and_then(|s| s.renew_time));
        let mut health = self.health.lock().unwrap_or_else(|e| e.into_inner());
        let h = health.entry(name).or_insert(Health {
            heartbeat,
            lease_renew,
            probe: now,
        });
        if h.heartbeat != heartbeat {
            h.heartbeat = heartbeat;
            h.probe = now;
        }
        if lease_renew.is_some() && lease_renew > h.lease_renew {
            h.lease_renew = lease_renew;
            h.probe = now;
        }
        let grace = if Self::ready_condition(node).is_none() {
            self.config.startup_grace_period
        } else {
            self.config.grace_period
        };
        Duration::try_from(now.duration_since(h.probe)).unwrap_or_default() > grace
    }

    async fn mark_pods_not_ready(&self, node: &str) -> Result<()> {
        let pods = self.pods.store().list_by(|p| {
            p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node)
                && super::replicaset::is_pod_ready(p)
        });
        let now = Time(self.ctx.now());
        for p in pods {
            let mut upd = (*p).clone();
            let st = upd.status.get_or_insert_with(Default::default);
            let conds = st.conditions.get_or_insert_with(Vec::new);
            conds.retain(|c| c.type_ != "Ready");
            conds.push(PodCondition {
                type_: "Ready".into(),
                status: "False".into(),
                last_transition_time: Some(now),
                ..Default::default()
            });
            let api: Api<Pod> = Api::namespaced(
                self.ctx.client.clone(),
                p.metadata.namespace.as_deref().unwrap_or(""),
            );
            match api
                .replace_status(
                    p.metadata.name.as_deref().unwrap_or(""),
                    &PostParams::default(),
                    &upd,
                )
                .await
            {
                Ok(_) => {}
                Err(e) if e.is_not_found() || e.is_conflict() => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Evicts the node's pods whose tolerations ran out; returns the next deadline.
    async fn evict(&self, node: &Node, now: jiff::Timestamp) -> Result<Option<Duration>> {
        let name = node.metadata.name.as_deref().unwrap_or("");
        let taints: Vec<Taint> = node
            .spec
            .as_ref()
            .and_then(|s| s.taints.clone())
            .unwrap_or_default()
            .into_iter()
            .filter(|t| t.effect == "NoExecute")
            .collect();
        if taints.is_empty() {
            return Ok(None);
        }
        let since = taints
            .iter()
            .filter_map(|t| t.time_added)
            .map(|t| t.0)
            .max()
            .unwrap_or(now);
        let pods = self.pods.store().list_by(|p| {
            p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(name)
                && p.metadata.deletion_timestamp.is_none()
        });
        let mut next: Option<Duration> = None;
        for p in pods {
            let tolerations = p
                .spec
                .as_ref()
                .and_then(|s| s.tolerations.clone())
                .unwrap_or_default();
            let Some(delay) = eviction_delay(&tolerations, &taints) else {
                continue;
            };
            let elapsed = Duration::try_from(now.duration_since(since)).unwrap_or_default();
            if elapsed >= delay {
                let api: Api<Pod> = Api::namespaced(
                    self.ctx.client.clone(),
                    p.metadata.namespace.as_deref().unwrap_or(""),
                );
                match api
                    .delete(
                        p.metadata.name.as_deref().unwrap_or(""),
                        &DeleteParams::default(),
                    )
                    .await
                {
                    Ok(_) => {}
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e.into()),
                }
            } else {
                let left = delay - elapsed;
                next = Some(next.map_or(left, |n: Duration| n.min(left)));
            }
        }
        Ok(next)
    }
}

fn with_taints(node: &Node, ready: Option<&str>, now: Time) -> Option<Vec<Taint>> {
    let current = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default();
    let want_key = match ready {
        Some("Unknown") => Some(TAINT_UNREACHABLE),
        Some("False") => Some(TAINT_NOT_READY),
        _ => None,
    };
    let mut out: Vec<Taint> = current
        .iter()
        .filter(|t| {
            let ours = t.key == TAINT_UNREACHABLE || t.key == TAINT_NOT_READY;
            !ours || Some(t.key.as_str()) == want_key
        })
        .cloned()
        .collect();
    if let Some(key) = want_key {
        for effect in ["NoSchedule", "NoExecute"] {
            if !out.iter().any(|t| t.key == key && t.effect == effect) {
                out.push(Taint {
                    key: key.into(),
                    effect: effect.into(),
                    value: None,
                    time_added: (effect == "NoExecute").then_some(now),
                });
            }
        }
    }
    (out != current).then_some(out)
}

#[async_trait]
impl Controller for NodeLifecycleController {
    fn name(&self) -> &'static str {
        "nodelifecycle"
    }

    fn watch(&self, queue: &WorkQueue) -> Vec<JoinHandle<()>> {
        let health = self.health.clone();
        let nodes = enqueue_on(&self.nodes, queue.clone(), move |c| {
            let name = c.object().metadata.name.clone().unwrap_or_default();
            if let Change::Deleted(_) = c {
                health
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&name);
            }
            vec![name]
        });
        let leases = enqueue_on(&self.leases, queue.clone(), |c| {
            let l = c.object();
            if l.metadata.namespace.as_deref() == Some(NODE_LEASE_NAMESPACE) {
                l.metadata.name.clone().into_iter().collect()
            } else {
                Vec::new()
            }
        });
        vec![nodes, leases]
    }

    async fn reconcile(&self, key: &str) -> Result<Action> {
        let Some(node) = self.nodes.store().get(&ObjectKey::cluster(key)) else {
            return Ok(Action::Done);
        };
        let now = self.ctx.now();
        let timed_out = self.observe(&node, now);
        let api: Api<Node> = Api::all(self.ctx.client.clone());
        let mut node = (*node).clone();
        let ready_before = Self::ready_condition(&node).map(|c| c.status.clone());
        if timed_out && ready_before.as_deref() != Some("Unknown") {
            let never = ready_before.is_none();
            let stamp = Time(now);
            let st = node.status.get_or_insert_with(Default::default);
            let conds = st.conditions.get_or_insert_with(Vec::new);
            for type_ in ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"] {
                let (reason, message) = if never {
                    (
                        "NodeStatusNeverUpdated",
                        "Kubelet never posted node status.",
                    )
                } else {
                    ("NodeStatusUnknown", "Kubelet stopped posting node status.")
                };
                match conds.iter_mut().find(|c| c.type_ == type_) {
                    Some(c) => {
                        if c.status != "Unknown" {
                            c.status = "Unknown".into();
                            c.reason = Some(reason.into());
                            c.message = Some(message.into());
                            c.last_transition_time = Some(stamp);
                        }
                    }
                    None => conds.push(NodeCondition {
                        type_: type_.into(),
                        status: "Unknown".into(),
                        reason: Some(reason.into()),
                        message: Some(message.into()),
                        last_transition_time: Some(stamp),
                        last_heartbeat_time: None,
                    }),
                }
            }
            node = api
                .replace_status(key, &PostParams::default(), &node)
                .await?;
            self.mark_pods_not_ready(key).await?;
        } else if ready_before.as_deref() == Some("False") {
            self.mark_pods_not_ready(key).await?;
        }
        let ready = Self::ready_condition(&node).map(|c| c.status.clone());
        if let Some(taints) = with_taints(&node, ready.as_deref(), Time(now)) {
            node.spec.get_or_insert_with(Default::default).taints =
                (!taints.is_empty()).then_some(taints);
            node = api.replace(key, &PostParams::default(), &node).await?;
        }
        let next = self.evict(&node, now).await?;
        let period = self.config.monitor_period;
        Ok(Action::RequeueAfter(next.map_or(period, |n| n.min(period))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taint(key: &str) -> Taint {
        Taint {
            key: key.into(),
            effect: "NoExecute".into(),
            value: None,
            time_added: None,
        }
    }

    fn tol(key: Option<&str>, secs: Option<i64>) -> Toleration {
        Toleration {
            key: key.map(str::to_string),
            operator: Some("Exists".into()),
            effect: Some("NoExecute".into()),
            toleration_seconds: secs,
            value: None,
        }
    }

    #[test]
    fn eviction_delay_takes_the_smallest_toleration() {
        let t = [taint(TAINT_UNREACHABLE)];
        assert_eq!(eviction_delay(&[], &t), Some(Duration::ZERO));
        assert_eq!(
            eviction_delay(&[tol(Some(TAINT_UNREACHABLE), Some(300))], &t),
            Some(Duration::from_secs(300))
        );
        assert_eq!(
            eviction_delay(&[tol(Some(TAINT_UNREACHABLE), None)], &t),
            None
        );
        assert_eq!(
            eviction_delay(
                &[tol(None, Some(10)), tol(Some(TAINT_UNREACHABLE), Some(300))],
                &t
            ),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            eviction_delay(&[tol(Some(TAINT_NOT_READY), Some(300))], &t),
            Some(Duration::ZERO),
            "other key does not tolerate"
        );
    }

    #[test]
    fn taints_follow_ready() {
        let mut node = Node::new("n1");
        let now = Time::from_unix_seconds(100);
        let t = with_taints(&node, Some("Unknown"), now).unwrap();
        assert_eq!(t.len(), 2);
        assert!(t.iter().all(|t| t.key == TAINT_UNREACHABLE));
        node.spec = Some(Default::default());
        node.spec.as_mut().unwrap().taints = Some(t);
        assert_eq!(with_taints(&node, Some("Unknown"), now), None, "no change");
        let swapped = with_taints(&node, Some("False"), now).unwrap();
        assert!(swapped.iter().all(|t| t.key == TAINT_NOT_READY));
        assert_eq!(with_taints(&node, Some("True"), now), Some(vec![]));
    }
}
