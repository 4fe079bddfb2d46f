//! The controller manager: every enabled controller in one process, gated by leader election.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;

use futures::FutureExt;
use kubox_core::client::Client;
use kubox_core::runtime::backoff::sleep_fn;
use kubox_core::runtime::leader::{self, Callbacks, Clock, LeaderElector};
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::runtime::controller::spawn_workers;
use crate::runtime::{Context, Controller, Metrics, SharedInformers, WorkQueue};

/// Builds a controller from the manager's [`Context`].
pub type Factory = Arc<dyn Fn(&Context) -> Arc<dyn Controller> + Send + Sync>;

/// Why [`ControllerManager::run`] returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The shutdown future completed; the controllers were stopped (and the lease released).
    Shutdown,
    /// Leadership was lost; the controllers were stopped (kube-controller-manager exits here).
    LostLeadership,
}

/// Options of a [`ControllerManager`] (kube-controller-manager flags).
#[derive(Clone, Debug)]
pub struct Options {
    /// `--controllers`: `*` enables all, `name` enables one, `-name` disables one.
    pub controllers: Vec<String>,
    /// Worker count per controller name (`--concurrent-…-syncs`); default 5, except
    /// kube-controller-manager's `--concurrent-namespace-syncs` 10 and
    /// `--concurrent-gc-syncs` 20.
    pub workers: HashMap<String, usize>,
    /// Leader election (`--leader-elect`); `None` runs without it.
    pub leader_election: Option<leader::Config>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            controllers: vec!["*".into()],
            workers: HashMap::new(),
            leader_election: None,
        }
    }
}

impl Options {
    /// Whether controller `name` is enabled by [`Options::controllers`].
    pub fn is_enabled(&self, name: &str) -> bool {
        let mut enabled = false;
        for c in &self.controllers {
            if c == "*" {
                enabled = true;
            }
        }
        for c in &self.controllers {
            if c == name {
                enabled = true;
            } else if c.strip_prefix('-') == Some(name) {
                return false;
            }
        }
        enabled
    }

    /// The worker count of controller `name`.
    pub fn workers_of(&self, name: &str) -> usize {
        self.workers.get(name).copied().unwrap_or(match name {
            "namespace" => 10,
            "garbagecollector" => 20,
            _ => 5,
        })
    }
}

/// Runs the registered controllers, each with its workers, over shared informers.
pub struct ControllerManager {
    client: Arc<dyn Client>,
    options: Options,
    factories: BTreeMap<String, Factory>,
    metrics: Metrics,
    clock: Clock,
    leadership: Leadership,
}

impl std::fmt::Debug for ControllerManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControllerManager")
            .field("controllers", &self.factories.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// The running controllers of one leadership term.
struct Running {
    informers: SharedInformers,
    /// Cancelled by [`ControllerManager::stop`]: workers still waiting for the caches end.
    stopped: CancellationToken,
    queues: Vec<WorkQueue>,
    handlers: Vec<JoinHandle<()>>,
    workers: Vec<JoinHandle<()>>,
}

impl Running {
    /// Stops taking keys: waiting workers end, queues shut down, handlers stop.
    fn halt(&self) {
        self.stopped.cancel();
        for q in &self.queues {
            q.shut_down();
        }
        for h in &self.handlers {
            h.abort();
        }
    }
}

impl Drop for Running {
    /// A manager whose `run` future is dropped instead of shut down leaves nothing running.
    fn drop(&mut self) {
        self.halt();
        for w in &self.workers {
            w.abort();
        }
        self.informers.shut_down();
    }
}

impl ControllerManager {
    /// A manager with no controllers; add them with [`register`](Self::register) or use
    /// [`with_builtin`](Self::with_builtin).
    pub fn new(client: Arc<dyn Client>, options: Options, clock: Clock) -> Self {
        ControllerManager {
            client,
            options,
            factories: BTreeMap::new(),
            metrics: Metrics::new(),
            clock,
            leadership: Leadership::default(),
        }
    }

    /// A manager with every built-in controller registered (those disabled by
    /// [`Options::controllers`] do not run).
    pub fn with_builtin(client: Arc<dyn Client>, options: Options, clock: Clock) -> Self {
        let mut m = Self::new(client, options, clock);
        for (name, f) in crate::controllers::builtin() {
            m.register(name, f);
        }
        m
    }

    /// Registers a controller under `name`.
    pub fn register(&mut self, name: &str, factory: Factory) {
        self.factories.insert(name.to_string(), factory);
    }

    /// The names of the controllers that will run.
    pub fn enabled(&self) -> Vec<String> {
        self.factories
            .keys()
            .filter(|n| self.options.is_enabled(n))
            .cloned()
            .collect()
    }

    /// The metrics registry.
    pub fn metrics(&self) -> Metrics {
        self.metrics.clone()
    }

    /// Whether this manager leads (always true while running without leader election).
    pub fn leadership(&self) -> Leadership {
        self.leadership.clone()
    }

    fn start(&self) -> Running {
        let ctx = Context {
            client: self.client.clone(),
            informers: SharedInformers::new(self.client.clone()),
            clock: self.clock.clone(),
        };
        let mut running = Running {
            informers: ctx.informers.clone(),
            stopped: CancellationToken::new(),
            queues: Vec::new(),
            handlers: Vec::new(),
            workers: Vec::new(),
        };
        for name in self.enabled() {
            // Each controller sees the shared informers through a view that notes the kinds
            // it takes, so that its workers wait for those caches only.
            let cctx = Context {
                informers: ctx.informers.tracking(),
                ..ctx.clone()
            };
            let controller = (self.factories[&name])(&cctx);
            let metrics = self.metrics.controller(&name);
            let queue = WorkQueue::new(metrics.clone());
            // Handlers queue keys at once; workers take them only once the controller's
            // caches have listed (WaitForCacheSync): a ReplicaSet controller that has not seen
            // its pods yet would create more.
            running.handlers.extend(controller.watch(&queue));
            let ready = caches_synced(name.clone(), cctx.informers, running.stopped.clone())
                .boxed()
                .shared();
            running.workers.extend(spawn_workers(
                controller,
                queue.clone(),
                metrics,
                self.options.workers_of(&name),
                ready,
            ));
            running.queues.push(queue);
        }
        tracing::info!(controllers = ?self.enabled(), "controllers started");
        running
    }

    async fn stop(mut running: Running) {
        running.halt();
        // Workers finish the key in hand, then see the shut-down queue.
        for w in std::mem::take(&mut running.workers) {
            let _ = w.await;
        }
        running.informers.shut_down();
    }

    /// Runs until `shutdown` completes (or leadership is lost).
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Outcome {
        let token = CancellationToken::new();
        let t = token.clone();
        tokio::spawn(async move {
            shutdown.await;
            t.cancel();
        });
        let Some(config) = self.options.leader_election.clone() else {
            let running = self.start();
            let flag = self.leadership.clone();
            set_leading(&flag, true);
            token.cancelled().await;
            Self::stop(running).await;
            set_leading(&flag, false);
            return Outcome::Shutdown;
        };
        let elector = match LeaderElector::new(
            self.client.clone(),
            config,
            sleep_fn(tokio::time::sleep),
            self.clock.clone(),
        ) {
            Ok(e) => e,
            Err(e) => {
                tracing::error!(error = %e, "invalid leader election config");
                return Outcome::Shutdown;
            }
        };
        let elector_flag = elector.leadership();
        let (tx, mut rx) = watch::channel(false);
        let tx2 = tx.clone();
        // The elector releases the lease only after the controllers stopped.
        let stopped = CancellationToken::new();
        let elector_shutdown = {
            let (token, stopped) = (token.clone(), stopped.clone());
            async move {
                token.cancelled().await;
                stopped.cancelled().await;
            }
        };
        let elector_task = tokio::spawn(elector.run(
            Box::pin(elector_shutdown),
            Callbacks::new(
                move || {
                    let _ = tx.send(true);
                },
                move || {
                    let _ = tx2.send(false);
                },
            ),
        ));
        // Campaign.
        loop {
            tokio::select! {
                _ = token.cancelled() => {
                    stopped.cancel();
                    let _ = elector_task.await;
                    return Outcome::Shutdown;
                }
                r = rx.changed() => {
                    if r.is_err() { return Outcome::LostLeadership; }
                    if *rx.borrow() { break; }
                }
            }
        }
        let running = self.start();
        set_leading(&self.leadership, true);
        let outcome = loop {
            tokio::select! {
                _ = token.cancelled() => break Outcome::Shutdown,
                r = rx.changed() => {
                    if r.is_err() || !*rx.borrow() || !elector_flag.is_leader() {
                        break Outcome::LostLeadership;
                    }
                }
            }
        };
        set_leading(&self.leadership, false);
        Self::stop(running).await;
        stopped.cancel();
        token.cancel();
        let _ = elector_task.await;
        outcome
    }
}

/// Resolves `true` once the caches `informers` handed out have listed, `false` if `stopped`
/// comes first; warns every 30 s with the kinds still missing.
async fn caches_synced(
    controller: String,
    informers: SharedInformers,
    stopped: CancellationToken,
) -> bool {
    let synced = informers.wait_for_cache_sync();
    tokio::pin!(synced);
    let mut warn = tokio::time::interval(CACHE_SYNC_WARNING);
    warn.tick().await;
    loop {
        tokio::select! {
            ok = &mut synced => {
                tracing::debug!(%controller, "caches synced");
                return ok;
            }
            _ = warn.tick() => {
                tracing::warn!(%controller, kinds = ?informers.unsynced(), "still waiting for caches to sync");
            }
            _ = stopped.cancelled() => return false,
        }
    }
}

/// How often a controller still waiting for its caches says so.
const CACHE_SYNC_WARNING: std::time::Duration = std::time::Duration::from_secs(30);

fn set_leading(flag: &Leadership, v: bool) {
    flag.0.store(v, Ordering::SeqCst);
}

/// Whether a [`ControllerManager`]'s controllers are running (it leads). Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Leadership(Arc<AtomicBool>);

impl Leadership {
    /// True while the controllers run.
    pub fn is_leader(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}
