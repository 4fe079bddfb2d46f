//! API server metrics in the Prometheus text exposition format (`GET /metrics`).
//!
//! Hand-written rather than `prometheus-client`: four metric families with fixed label sets
//! need ~150 lines, and the exposition format is simple and stable; one dependency (and its
//! build time on 2 cores) less. Names follow kube-apiserver's:
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `apiserver_request_total` | counter | `verb`, `resource`, `code` |
//! | `apiserver_request_duration_seconds` | histogram | `verb`, `resource` |
//! | `apiserver_longrunning_requests` | gauge (open watches) | `verb="WATCH"`, `resource` |
//! | `apiserver_storage_duration_seconds` | histogram | `operation` (fed by [`TimedStore`]) |
//!
//! ```
//! use kube_api::metrics::Metrics;
//! use std::time::Duration;
//!
//! let m = Metrics::default();
//! m.observe_request("LIST", "pods", 200, Duration::from_millis(3));
//! let text = m.render();
//! assert!(text.contains(r#"apiserver_request_total{verb="LIST",resource="pods",code="200"} 1"#));
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Histogram bucket upper bounds in seconds (kube-apiserver's request buckets, shortened).
const BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

#[derive(Clone, Debug, Default)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, secs: f64) {
        if self.counts.is_empty() {
            self.counts = vec![0; BUCKETS.len()];
        }
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                self.counts[i] += 1;
            }
        }
        self.sum += secs;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, b) in BUCKETS.iter().enumerate() {
            let c = self.counts.get(i).copied().unwrap_or(0);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {c}");
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
            self.count
        );
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

#[derive(Debug, Default)]
struct Inner {
    requests: BTreeMap<(String, String, u16), u64>,
    durations: BTreeMap<(String, String), Histogram>,
    watches: BTreeMap<String, i64>,
    store: BTreeMap<String, Histogram>,
}

/// The metrics registry of one API server. Cheap to share behind an `Arc`; all methods take
/// `&self`.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records one finished request: `verb` as kube-apiserver spells it (`GET`, `LIST`,
    /// `WATCH`, `POST`, `PUT`, `PATCH`, `DELETE`, `DELETECOLLECTION`), the resource (with
    /// `/subresource`), the HTTP code and the time taken.
    pub fn observe_request(&self, verb: &str, resource: &str, code: u16, took: Duration) {
        let mut g = self.lock();
        *g.requests
            .entry((verb.to_string(), resource.to_string(), code))
            .or_default() += 1;
        g.durations
            .entry((verb.to_string(), resource.to_string()))
            .or_default()
            .observe(took.as_secs_f64());
    }

    /// Records the latency of one store operation (`get`, `list`, `create`, …).
    pub fn observe_store(&self, operation: &str, took: Duration) {
        self.lock()
            .store
            .entry(operation.to_string())
            .or_default()
            .observe(took.as_secs_f64());
    }

    /// Counts a watch on `resource` as open until the guard is dropped.
    pub fn watch_opened(self: &std::sync::Arc<Self>, resource: &str) -> WatchGuard {
        *self.lock().watches.entry(resource.to_string()).or_default() += 1;
        WatchGuard {
            metrics: self.clone(),
            resource: resource.to_string(),
        }
    }

    /// The number of open watches on `resource`.
    pub fn open_watches(&self, resource: &str) -> i64 {
        self.lock().watches.get(resource).copied().unwrap_or(0)
    }

    /// The Prometheus text exposition (`text/plain; version=0.0.4`).
    pub fn render(&self) -> String {
        let g = self.lock();
        let mut out = String::new();
        out.push_str("# HELP apiserver_request_total Counter of apiserver requests broken out for each verb, resource and HTTP response code.\n");
        out.push_str("# TYPE apiserver_request_total counter\n");
        for ((verb, resource, code), n) in &g.requests {
            let _ = writeln!(
                out,
                "apiserver_request_total{{verb=\"{}\",resource=\"{}\",code=\"{code}\"}} {n}",
                escape(verb),
                escape(resource)
            );
        }
        out.push_str("# HELP apiserver_request_duration_seconds Response latency distribution in seconds for each verb and resource.\n");
        out.push_str("# TYPE apiserver_request_duration_seconds histogram\n");
        for ((verb, resource), h) in &g.durations {
            let labels = format!(
                "verb=\"{}\",resource=\"{}\"",
                escape(verb),
                escape(resource)
            );
            h.render(&mut out, "apiserver_request_duration_seconds", &labels);
        }
        out.push_str("# HELP apiserver_longrunning_requests Gauge of all active long-running apiserver requests (watches) broken out by resource.\n");
        out.push_str("# TYPE apiserver_longrunning_requests gauge\n");
        for (resource, n) in &g.watches {
            let _ = writeln!(
                out,
                "apiserver_longrunning_requests{{verb=\"WATCH\",resource=\"{}\"}} {n}",
                escape(resource)
            );
        }
        out.push_str(
            "# HELP apiserver_storage_duration_seconds Store operation latency in seconds.\n",
        );
        out.push_str("# TYPE apiserver_storage_duration_seconds histogram\n");
        for (op, h) in &g.store {
            h.render(
                &mut out,
                "apiserver_storage_duration_seconds",
                &format!("operation=\"{}\"", escape(op)),
            );
        }
        out
    }
}

/// Keeps a watch counted in `apiserver_longrunning_requests` while alive.
#[derive(Debug)]
pub struct WatchGuard {
    metrics: std::sync::Arc<Metrics>,
    resource: String,
}

impl Drop for WatchGuard {
    fn drop(&mut self) {
        if let Some(n) = self.metrics.lock().watches.get_mut(&self.resource) {
            *n -= 1;
        }
    }
}

/// A [`Store`](kube_store::Store) decorator that records every operation's latency in
/// `apiserver_storage_duration_seconds` (wrap the store before building the
/// [`ApiServer`](crate::ApiServer)).
pub struct TimedStore {
    inner: std::sync::Arc<dyn kube_store::Store>,
    metrics: std::sync::Arc<Metrics>,
}

impl std::fmt::Debug for TimedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimedStore").finish_non_exhaustive()
    }
}

impl TimedStore {
    /// Wraps `inner`, recording into `metrics`.
    pub fn new(
        inner: std::sync::Arc<dyn kube_store::Store>,
        metrics: std::sync::Arc<Metrics>,
    ) -> Self {
        TimedStore { inner, metrics }
    }

    async fn timed<T>(&self, op: &str, f: impl std::future::Future<Output = T>) -> T {
        let start = std::time::Instant::now();
        let out = f.await;
        self.metrics.observe_store(op, start.elapsed());
        out
    }
}

#[async_trait::async_trait]
impl kube_store::Store for TimedStore {
    async fn current_revision(&self) -> kube_store::Result<kube_store::Revision> {
        self.inner.current_revision().await
    }
    async fn compacted_revision(&self) -> kube_store::Result<kube_store::Revision> {
        self.inner.compacted_revision().await
    }
    async fn get(&self, key: &str) -> kube_store::Result<Option<kube_store::KeyValue>> {
        self.timed("get", self.inner.get(key)).await
    }
    async fn get_at(
        &self,
        key: &str,
        revision: kube_store::Revision,
    ) -> kube_store::Result<Option<kube_store::KeyValue>> {
        self.timed("get", self.inner.get_at(key, revision)).await
    }
    async fn list(
        &self,
        prefix: &str,
        opts: kube_store::ListOptions,
    ) -> kube_store::Result<kube_store::ListResult> {
        self.timed("list", self.inner.list(prefix, opts)).await
    }
    async fn create(
        &self,
        key: &str,
        value: bytes::Bytes,
    ) -> kube_store::Result<kube_store::Revision> {
        self.timed("create", self.inner.create(key, value)).await
    }
    async fn update(
        &self,
        key: &str,
        value: bytes::Bytes,
        expected: Option<kube_store::Revision>,
    ) -> kube_store::Result<kube_store::Revision> {
        self.timed("update", self.inner.update(key, value, expected))
            .await
    }
    async fn put(
        &self,
        key: &str,
        value: bytes::Bytes,
    ) -> kube_store::Result<kube_store::Revision> {
        self.timed("update", self.inner.put(key, value)).await
    }
    async fn delete(
        &self,
        key: &str,
        expected: Option<kube_store::Revision>,
    ) -> kube_store::Result<(kube_store::Revision, kube_store::KeyValue)> {
        self.timed("delete", self.inner.delete(key, expected)).await
    }
    async fn watch(
        &self,
        prefix: &str,
        after: kube_store::Revision,
    ) -> kube_store::Result<kube_store::WatchStream> {
        self.inner.watch(prefix, after).await
    }
    async fn compact(&self, revision: kube_store::Revision) -> kube_store::Result<()> {
        self.timed("compact", self.inner.compact(revision)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn exposition_has_counters_histograms_and_gauges() {
        let m = Arc::new(Metrics::default());
        m.observe_request("GET", "pods", 404, Duration::from_millis(20));
        m.observe_request("GET", "pods", 404, Duration::from_millis(2));
        m.observe_store("get", Duration::from_micros(50));
        let g = m.watch_opened("pods");
        assert_eq!(m.open_watches("pods"), 1);
        let text = m.render();
        assert!(
            text.contains(r#"apiserver_request_total{verb="GET",resource="pods",code="404"} 2"#)
        );
        assert!(text.contains(
            r#"apiserver_request_duration_seconds_bucket{verb="GET",resource="pods",le="0.01"} 1"#
        ));
        assert!(text.contains(
            r#"apiserver_request_duration_seconds_bucket{verb="GET",resource="pods",le="+Inf"} 2"#
        ));
        assert!(text.contains(r#"apiserver_longrunning_requests{verb="WATCH",resource="pods"} 1"#));
        assert!(text.contains(r#"apiserver_storage_duration_seconds_count{operation="get"} 1"#));
        drop(g);
        assert_eq!(m.open_watches("pods"), 0);
    }
}
