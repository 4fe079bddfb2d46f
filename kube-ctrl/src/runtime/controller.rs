//! The [`Controller`] trait and the worker loop that drives one controller.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::metrics::ControllerMetrics;
use super::queue::WorkQueue;

/// What to do with a key after a successful reconcile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Nothing more until the next change.
    Done,
    /// Reconcile again, after the key's backoff.
    Requeue,
    /// Reconcile again after this delay (the key's backoff is reset).
    RequeueAfter(Duration),
}

/// A reconcile failure: the key is retried with exponential backoff.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An API call failed.
    #[error(transparent)]
    Api(#[from] kubox_core::client::Error),
    /// Anything else (bad input in an object, an invariant that does not hold).
    #[error("{0}")]
    Other(String),
}

/// `Result` of a reconcile.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A controller: which changes concern it, and how to bring one key to its desired state.
///
/// # Contract
///
/// - The controller is built from a [`Context`](super::Context) (its shared informers are
///   taken there); [`watch`](Controller::watch) spawns the tasks that add keys to `queue`
///   (see [`enqueue_on`](super::informers::enqueue_on)); it is called once, before any worker
///   starts.
/// - [`reconcile`](Controller::reconcile) is level-triggered: it reads the current state (from
///   the informer caches), writes what differs, and is never run concurrently for one key.
///   `Err` retries the key with per-key exponential backoff (5 ms doubling to 1000 s).
#[async_trait]
pub trait Controller: Send + Sync + 'static {
    /// The controller's name (`replicaset`, `deployment`, …).
    fn name(&self) -> &'static str;

    /// Starts the event handlers feeding `queue`.
    fn watch(&self, queue: &WorkQueue) -> Vec<JoinHandle<()>>;

    /// Reconciles one key.
    async fn reconcile(&self, key: &str) -> Result<Action>;
}

/// Processes one key from `queue` with `controller`; false once the queue is shut down.
pub async fn process_next(
    controller: &dyn Controller,
    queue: &WorkQueue,
    metrics: &ControllerMetrics,
) -> bool {
    let Some(key) = queue.get().await else {
        return false;
    };
    let start = Instant::now();
    let result = controller.reconcile(&key).await;
    metrics.reconcile_time.observe(start.elapsed());
    match result {
        Ok(Action::Done) => {
            metrics.reconcile_success.inc();
            queue.forget(&key);
        }
        Ok(Action::Requeue) => {
            metrics.reconcile_requeue.inc();
            queue.add_rate_limited(key.clone());
        }
        Ok(Action::RequeueAfter(d)) => {
            metrics.reconcile_requeue.inc();
            queue.forget(&key);
            queue.add_after(key.clone(), d);
        }
        Err(e) => {
            metrics.reconcile_errors.inc();
            tracing::warn!(controller = controller.name(), %key, error = %e, "reconcile failed");
            queue.add_rate_limited(key.clone());
        }
    }
    queue.done(&key);
    true
}

/// Spawns `workers` worker tasks for `controller`. They take keys only once `ready` resolves
/// to `true` (the caches they read are synced, client-go's `WaitForCacheSync`); on `false`
/// they end without taking any.
pub fn spawn_workers<R>(
    controller: Arc<dyn Controller>,
    queue: WorkQueue,
    metrics: Arc<ControllerMetrics>,
    workers: usize,
    ready: R,
) -> Vec<JoinHandle<()>>
where
    R: Future<Output = bool> + Clone + Send + 'static,
{
    (0..workers.max(1))
        .map(|_| {
            let (c, q, m, r) = (
                controller.clone(),
                queue.clone(),
                metrics.clone(),
                ready.clone(),
            );
            tokio::spawn(async move {
                if r.await {
                    while process_next(c.as_ref(), &q, &m).await {}
                }
            })
        })
        .collect()
}
