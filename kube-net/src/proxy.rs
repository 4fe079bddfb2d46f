//! The proxy: watches Services and EndpointSlices through kubox-core's informers, coalesces
//! bursts of changes (`minSyncPeriod`, 1 s by default as kube-proxy), syncs the desired state
//! through the chosen [`NetworkRules`] backend, and exposes health and metrics.
//!
//! ```no_run
//! # async fn f(client: std::sync::Arc<dyn kubox_core::client::Client>) {
//! use kube_net::proxy::{Proxy, ProxyConfig};
//! let config = ProxyConfig { node_name: "node-1".into(), ..ProxyConfig::default() };
//! let proxy = Proxy::new(config).await; // probes nftables, falls back to userspace
//! let handle = proxy.handle();
//! tokio::spawn(proxy.run(client));
//! # let _ = handle.metrics().to_prometheus();
//! # }
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::{Stream, StreamExt};
use kubox_core::api::core_v1::Service;
use kubox_core::api::discovery_v1::EndpointSlice;
use kubox_core::client::Client;
use kubox_core::runtime::backoff::sleep_fn;
use kubox_core::runtime::informer::Informer;
use kubox_core::runtime::watcher;
use parking_lot::Mutex;
use tokio::time::Instant;

use crate::model::{desired_state, DesiredState, ModelConfig};
use crate::nft::{NftConfig, Nftables};
use crate::rules::NetworkRules;
use crate::userspace::{Userspace, UserspaceConfig};

/// Which backend to use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// nftables if `nft` works (a scratch table can be created), else userspace.
    #[default]
    Auto,
    /// nftables only.
    Nftables,
    /// The userspace forwarder only.
    Userspace,
}

/// Settings of the proxy (kube-proxy's `KubeProxyConfiguration`, the parts that apply).
#[derive(Clone, Debug)]
pub struct ProxyConfig {
    /// This node's name (`--hostname-override`): decides which endpoints are local.
    pub node_name: String,
    /// The minimum time between two syncs (`minSyncPeriod`, default 1 s): bursts of changes
    /// within it become one sync.
    pub min_sync_period: Duration,
    /// The periodic sync and retry period (`syncPeriod`, default 30 s).
    pub sync_period: Duration,
    /// The backend choice.
    pub mode: Mode,
    /// nftables settings.
    pub nftables: NftConfig,
    /// Userspace settings.
    pub userspace: UserspaceConfig,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            node_name: String::new(),
            min_sync_period: Duration::from_secs(1),
            sync_period: Duration::from_secs(30),
            mode: Mode::Auto,
            nftables: NftConfig::default(),
            userspace: UserspaceConfig::default(),
        }
    }
}

/// The proxy's metrics (kube-proxy's `kubeproxy_*` families).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metrics {
    /// The backend in use.
    pub backend: &'static str,
    /// Successful syncs.
    pub syncs_total: u64,
    /// Failed syncs.
    pub sync_errors_total: u64,
    /// Duration of the last successful sync.
    pub last_sync_duration: Duration,
    /// Sum of all successful sync durations (for the Prometheus summary).
    pub sync_duration_sum: Duration,
    /// Unix time of the last successful sync (seconds), 0 before the first.
    pub last_sync_timestamp: f64,
    /// Rules (or listeners) the backend holds.
    pub rule_count: usize,
    /// Service ports programmed.
    pub service_ports: usize,
    /// Objects skipped as malformed in the last sync.
    pub skipped: usize,
}

impl Metrics {
    /// The metrics in the Prometheus text exposition format.
    pub fn to_prometheus(&self) -> String {
        let b = self.backend;
        format!(
            "# HELP kubeproxy_sync_proxy_rules_duration_seconds SyncProxyRules latency in seconds\n\
             # TYPE kubeproxy_sync_proxy_rules_duration_seconds summary\n\
             kubeproxy_sync_proxy_rules_duration_seconds_sum {sum}\n\
             kubeproxy_sync_proxy_rules_duration_seconds_count {count}\n\
             # HELP kubeproxy_sync_proxy_rules_last_duration_seconds The latency of the last sync in seconds\n\
             # TYPE kubeproxy_sync_proxy_rules_last_duration_seconds gauge\n\
             kubeproxy_sync_proxy_rules_last_duration_seconds {last}\n\
             # HELP kubeproxy_sync_proxy_rules_last_timestamp_seconds The last time proxy rules were successfully synced\n\
             # TYPE kubeproxy_sync_proxy_rules_last_timestamp_seconds gauge\n\
             kubeproxy_sync_proxy_rules_last_timestamp_seconds {ts}\n\
             # HELP kubeproxy_sync_proxy_rules_errors_total Failed syncs\n\
             # TYPE kubeproxy_sync_proxy_rules_errors_total counter\n\
             kubeproxy_sync_proxy_rules_errors_total {errors}\n\
             # HELP kubeproxy_sync_proxy_rules_rule_count Rules (nftables) or listeners (userspace) in place\n\
             # TYPE kubeproxy_sync_proxy_rules_rule_count gauge\n\
             kubeproxy_sync_proxy_rules_rule_count{{backend=\"{b}\"}} {rules}\n\
             # HELP kubeproxy_service_ports Service ports programmed\n\
             # TYPE kubeproxy_service_ports gauge\n\
             kubeproxy_service_ports {ports}\n\
             # HELP kubeproxy_skipped_objects Malformed objects skipped in the last sync\n\
             # TYPE kubeproxy_skipped_objects gauge\n\
             kubeproxy_skipped_objects {skipped}\n",
            sum = self.sync_duration_sum.as_secs_f64(),
            count = self.syncs_total,
            last = self.last_sync_duration.as_secs_f64(),
            ts = self.last_sync_timestamp,
            errors = self.sync_errors_total,
            rules = self.rule_count,
            ports = self.service_ports,
            skipped = self.skipped,
        )
    }
}

#[derive(Debug, Default)]
struct Status {
    metrics: Metrics,
    /// When a change was queued that no successful sync has covered yet.
    pending_since: Option<Instant>,
    synced_once: bool,
    /// Why the backend was chosen.
    choice: String,
}

/// A cheap handle on a running proxy: metrics and health.
#[derive(Clone, Debug)]
pub struct ProxyHandle {
    status: Arc<Mutex<Status>>,
    health_timeout: Duration,
}

impl ProxyHandle {
    /// A copy of the metrics.
    pub fn metrics(&self) -> Metrics {
        self.status.lock().metrics.clone()
    }

    /// Why the backend was chosen (e.g. "nftables: probe succeeded").
    pub fn backend_choice(&self) -> String {
        self.status.lock().choice.clone()
    }

    /// kube-proxy's healthz rule: healthy once the first sync succeeded, unless a change has
    /// been waiting for a sync longer than the health timeout (2 × `syncPeriod`).
    pub fn healthy(&self) -> bool {
        let s = self.status.lock();
        s.synced_once
            && s.pending_since
                .is_none_or(|t| Instant::now().duration_since(t) < self.health_timeout)
    }

    /// Serves `/healthz` (200 or 503 with kube-proxy's JSON body), `/livez` and `/metrics` on
    /// `addr`; returns the bound address and the server task.
    pub async fn serve_http(
        &self,
        addr: SocketAddr,
    ) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
        use axum::http::StatusCode;
        use axum::routing::get;
        let h1 = self.clone();
        let h2 = self.clone();
        let app = axum::Router::new()
            .route(
                "/healthz",
                get(move || {
                    let h = h1.clone();
                    async move {
                        let m = h.metrics();
                        let body = format!(
                            "{{\"lastUpdated\": \"{}\", \"currentTime\": \"{}\", \"nodeEligible\": true}}",
                            m.last_sync_timestamp,
                            now_unix()
                        );
                        let code = if h.healthy() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
                        (code, [("content-type", "application/json")], body)
                    }
                }),
            )
            .route("/livez", get(|| async { "ok" }))
            .route(
                "/metrics",
                get(move || {
                    let h = h2.clone();
                    async move {
                        (
                            [("content-type", "text/plain; version=0.0.4")],
                            h.metrics().to_prometheus(),
                        )
                    }
                }),
            );
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!(error = %e, "kube-net: healthz server stopped");
            }
        });
        Ok((local, task))
    }
}

fn now_unix() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Chooses the backend for `config.mode`; returns it with the reason (also logged).
pub async fn choose_backend(
    config: &ProxyConfig,
) -> crate::rules::Result<(Box<dyn NetworkRules>, String)> {
    let userspace = |why: String| -> crate::rules::Result<(Box<dyn NetworkRules>, String)> {
        let b = Userspace::new(config.userspace.clone())?;
        Ok((Box::new(b) as Box<dyn NetworkRules>, why))
    };
    let (b, why) = match config.mode {
        Mode::Userspace => userspace("userspace: configured".into())?,
        Mode::Nftables => {
            Nftables::probe(&config.nftables).await?;
            (
                Box::new(Nftables::new(config.nftables.clone())) as Box<dyn NetworkRules>,
                "nftables: configured".into(),
            )
        }
        Mode::Auto => match Nftables::probe(&config.nftables).await {
            Ok(()) => (
                Box::new(Nftables::new(config.nftables.clone())) as Box<dyn NetworkRules>,
                "nftables: probe succeeded".to_string(),
            ),
            Err(e) => userspace(format!("userspace: nftables not usable ({e})"))?,
        },
    };
    tracing::info!(backend = b.name(), reason = %why, "kube-net: proxy backend chosen");
    Ok((b, why))
}

/// The proxy: a backend and the sync loop.
pub struct Proxy {
    config: ProxyConfig,
    backend: Box<dyn NetworkRules>,
    status: Arc<Mutex<Status>>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("backend", &self.backend.name())
            .finish_non_exhaustive()
    }
}

impl Proxy {
    /// A proxy with the backend [`choose_backend`] picks. If even the userspace backend
    /// cannot start (no threads, bad namespace), the error is returned.
    pub async fn try_new(config: ProxyConfig) -> crate::rules::Result<Proxy> {
        let (backend, why) = choose_backend(&config).await?;
        let p = Proxy::with_backend(config, backend);
        p.status.lock().choice = why;
        Ok(p)
    }

    /// As [`try_new`](Proxy::try_new), panicking only if no backend at all can start.
    pub async fn new(config: ProxyConfig) -> Proxy {
        match Proxy::try_new(config).await {
            Ok(p) => p,
            Err(e) => panic!("kube-net: no usable proxy backend: {e}"),
        }
    }

    /// A proxy over an explicit backend.
    pub fn with_backend(config: ProxyConfig, backend: Box<dyn NetworkRules>) -> Proxy {
        let status = Status {
            metrics: Metrics {
                backend: backend.name(),
                ..Metrics::default()
            },
            choice: format!("{}: given", backend.name()),
            ..Status::default()
        };
        Proxy {
            config,
            backend,
            status: Arc::new(Mutex::new(status)),
        }
    }

    /// The metrics and health handle.
    pub fn handle(&self) -> ProxyHandle {
        ProxyHandle {
            status: self.status.clone(),
            health_timeout: self.config.sync_period * 2,
        }
    }

    /// Watches Services and EndpointSlices (all namespaces) through `client` and keeps the
    /// backend in sync; runs until the informers stop (never, in practice).
    pub async fn run(self, client: Arc<dyn Client>) {
        let sleep = sleep_fn(tokio::time::sleep);
        let (services, sd) = Informer::<Service>::new(
            client.clone(),
            None,
            watcher::Config::default(),
            sleep.clone(),
        );
        let (slices, ed) =
            Informer::<EndpointSlice>::new(client, None, watcher::Config::default(), sleep);
        let t1 = tokio::spawn(sd.run());
        let t2 = tokio::spawn(ed.run());
        let changes = futures::stream::select(
            services.subscribe().map(|_| ()),
            slices.subscribe().map(|_| ()),
        );
        if services.wait_until_ready().await.is_err() || slices.wait_until_ready().await.is_err() {
            return;
        }
        let model = ModelConfig {
            node_name: self.config.node_name.clone(),
        };
        let snapshot = move || {
            let svcs = services.store().list();
            let sls = slices.store().list();
            desired_state(
                &model,
                svcs.iter().map(|s| s.as_ref()),
                sls.iter().map(|s| s.as_ref()),
            )
        };
        self.run_with(changes, snapshot).await;
        t1.abort();
        t2.abort();
    }

    /// The sync loop over any change signal and state source: a full sync at once, then a
    /// sync after changes, at most one per `min_sync_period` (a burst becomes one sync), a
    /// periodic sync every `sync_period`, and a retry (as a full resync) `sync_period` after a
    /// failure. Returns when `changes` ends.
    pub async fn run_with<S, F>(mut self, changes: S, snapshot: F)
    where
        S: Stream<Item = ()> + Unpin,
        F: Fn() -> DesiredState,
    {
        let mut changes = changes;
        let mut pending = true;
        let mut not_before = Instant::now();
        self.status.lock().pending_since = Some(Instant::now());
        loop {
            if pending && Instant::now() >= not_before {
                let desired = snapshot();
                let start = Instant::now();
                match self.backend.sync(&desired).await {
                    Ok(report) => {
                        pending = false;
                        not_before = Instant::now() + self.config.min_sync_period;
                        let took = start.elapsed();
                        if !report.is_noop() || report.full {
                            tracing::info!(
                                backend = report.backend, full = report.full, added = report.added,
                                updated = report.updated, removed = report.removed,
                                rules = report.rule_count, ms = took.as_millis() as u64,
                                notes = ?report.notes, "kube-net: synced"
                            );
                        }
                        let mut s = self.status.lock();
                        s.synced_once = true;
                        s.pending_since = None;
                        let m = &mut s.metrics;
                        m.syncs_total += 1;
                        m.last_sync_duration = took;
                        m.sync_duration_sum += took;
                        m.last_sync_timestamp = now_unix();
                        m.rule_count = report.rule_count;
                        m.service_ports = desired.services.len();
                        m.skipped = desired.skipped.len();
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "kube-net: sync failed; retrying with a full resync");
                        self.backend.resync();
                        not_before = Instant::now() + self.config.sync_period;
                        self.status.lock().metrics.sync_errors_total += 1;
                    }
                }
            }
            let wake = if pending {
                not_before
            } else {
                Instant::now() + self.config.sync_period
            };
            tokio::select! {
                c = changes.next() => match c {
                    Some(()) => {
                        if !pending {
                            pending = true;
                            self.status.lock().pending_since = Some(Instant::now());
                        }
                    }
                    None => return,
                },
                _ = tokio::time::sleep_until(wake) => {
                    // Periodic sync (cheap when nothing changed) or the end of the wait.
                    pending = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Protocol;
    use crate::testing::{service_port, state, MemoryRules};

    #[tokio::test(start_paused = true)]
    async fn bursts_are_coalesced_by_min_sync_period() {
        let backend = MemoryRules::default();
        let log = backend.log();
        let proxy = Proxy::with_backend(ProxyConfig::default(), Box::new(backend));
        let handle = proxy.handle();
        let current = Arc::new(Mutex::new(state([service_port(
            1,
            Protocol::Tcp,
            1,
            None,
            false,
        )])));
        let (tx, rx) = futures::channel::mpsc::unbounded();
        let cur = current.clone();
        let task = tokio::spawn(proxy.run_with(rx, move || cur.lock().clone()));
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(log.lock().len(), 1, "initial full sync");
        assert!(handle.healthy());
        // 100 changes within 200 ms: one more sync, at the end of the min sync period.
        for i in 0..100u8 {
            *current.lock() = state([service_port(1, Protocol::Tcp, 1 + i % 5, None, false)]);
            tx.unbounded_send(()).unwrap();
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        assert_eq!(log.lock().len(), 1, "still within minSyncPeriod");
        tokio::time::sleep(Duration::from_millis(1000)).await;
        assert_eq!(log.lock().len(), 2, "one coalesced sync");
        let last = log.lock().last().unwrap().clone();
        assert_eq!(
            last.services
                .values()
                .next()
                .unwrap()
                .cluster_endpoints
                .len(),
            5
        );
        let m = handle.metrics();
        assert_eq!(m.syncs_total, 2);
        assert_eq!(m.service_ports, 1);
        assert!(m
            .to_prometheus()
            .contains("kubeproxy_sync_proxy_rules_duration_seconds_count 2\n"));
        assert!(m
            .to_prometheus()
            .contains("kubeproxy_sync_proxy_rules_rule_count{backend=\"memory\"} "));
        // Periodic sync after syncPeriod.
        tokio::time::sleep(Duration::from_secs(31)).await;
        assert_eq!(handle.metrics().syncs_total, 3);
        assert_eq!(log.lock().len(), 2, "the periodic sync changed nothing");
        drop(tx);
        task.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn failed_syncs_are_retried_as_full_resyncs_and_affect_health() {
        let backend = MemoryRules::default();
        let fail = backend.fail_switch();
        let log = backend.log();
        let proxy = Proxy::with_backend(ProxyConfig::default(), Box::new(backend));
        let handle = proxy.handle();
        let (tx, rx) = futures::channel::mpsc::unbounded();
        *fail.lock() = true;
        let task = tokio::spawn(proxy.run_with(rx, || {
            state([service_port(1, Protocol::Tcp, 1, None, false)])
        }));
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(!handle.healthy(), "never synced");
        assert_eq!(handle.metrics().sync_errors_total, 1);
        *fail.lock() = false;
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert_eq!(log.lock().len(), 1, "retried after syncPeriod");
        assert!(handle.healthy());
        // A change that cannot be synced for longer than 2 × syncPeriod makes healthz fail.
        *fail.lock() = true;
        tx.unbounded_send(()).unwrap();
        tokio::time::sleep(Duration::from_secs(61)).await;
        assert!(!handle.healthy());
        *fail.lock() = false;
        tokio::time::sleep(Duration::from_secs(31)).await;
        assert!(handle.healthy());
        drop(tx);
        task.await.unwrap();
    }
}
