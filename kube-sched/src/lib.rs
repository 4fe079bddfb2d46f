//! The Kubernetes scheduler (kube-scheduler) as a library.
//!
//! A tour:
//! - [`framework`]: the extension points as synchronous, object-safe traits
//!   ([`framework::PreFilterPlugin`], [`framework::FilterPlugin`],
//!   [`framework::PostFilterPlugin`], [`framework::PreScorePlugin`],
//!   [`framework::ScorePlugin`] with normalization, [`framework::ReservePlugin`],
//!   [`framework::PermitPlugin`], [`framework::PreBindPlugin`], [`framework::BindPlugin`]),
//!   [`framework::Status`] and [`framework::CycleState`].
//! - [`profile`]: a [`profile::Profile`] per `schedulerName` with its plugins and weights, and
//!   the algorithm (adaptive percentageOfNodesToScore, FailedScheduling's summary message).
//! - [`plugins`]: one default plugin per factor (resources, node constraints, affinity,
//!   data locality, spreading) and [`plugins::default_profile`]; [`preemption`]: DefaultPreemption.
//! - [`nodeinfo`] ([`nodeinfo::PodInfo`], [`nodeinfo::NodeInfo`], [`nodeinfo::Snapshot`] with
//!   its topology [`nodeinfo::Domains`]), [`groups`] (alike pods, so that affinity and
//!   spreading match a selector once per group), [`cache`] (assumed pods, O(1) snapshots, the
//!   groups kept in step), [`queue`] (active/backoff/unschedulable).
//! - [`scheduler`]: the [`Scheduler`] trait and [`scheduler::DefaultScheduler`], which reaches
//!   the cluster only through kubox-core's `Client` and informers; [`metrics`].
//!
//! Scheduling a pod without a cluster, with the pure algorithm:
//!
//! ```
//! use std::sync::Arc;
//! use kube_sched::{framework::CycleState, nodeinfo::{PodInfo, Snapshot}, plugins};
//! use kubox_core::api::core_v1::{Node, Pod};
//!
//! let node: Node = serde_json::from_value(serde_json::json!({
//!     "metadata": {"name": "n1"},
//!     "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"}}})).unwrap();
//! let pod: Pod = serde_json::from_value(serde_json::json!({
//!     "metadata": {"name": "web", "namespace": "default"},
//!     "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": "1"}}}]}})).unwrap();
//! let snapshot = Snapshot::from_objects(vec![Arc::new(node)], vec![]);
//! let profile = plugins::default_profile("default-scheduler");
//! let pod = PodInfo::new(Arc::new(pod), 0);
//! let mut rng = rand::rng();
//! let result = profile
//!     .schedule(&mut CycleState::default(), &pod, &snapshot, &mut 0, &mut rng, &|_| vec![])
//!     .unwrap();
//! assert_eq!(result.node, "n1");
//! ```

pub mod cache;
pub mod framework;
pub mod groups;
pub mod metrics;
pub mod nodeinfo;
pub mod plugins;
pub mod preemption;
pub mod profile;
pub mod queue;
pub mod resources;
pub mod scheduler;

pub use profile::Profile;
pub use scheduler::{DefaultScheduler, Scheduler, SchedulerConfig};

/// The scheduler name pods get when they name none.
pub const DEFAULT_SCHEDULER_NAME: &str = "default-scheduler";
