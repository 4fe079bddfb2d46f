//! Controller metrics (client-go workqueue metrics and controller-runtime's reconcile
//! metrics) with Prometheus text rendering.
//!
//! Per controller: `workqueue_depth`, `workqueue_adds_total`, `workqueue_retries_total`,
//! `controller_runtime_reconcile_total{result}`, `controller_runtime_reconcile_errors_total`
//! and the `controller_runtime_reconcile_time_seconds` histogram.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A monotonically increasing counter.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    /// The current value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down.
#[derive(Debug, Default)]
pub struct Gauge(AtomicI64);

impl Gauge {
    /// Sets the value.
    pub fn set(&self, v: i64) {
        self.0.store(v, Ordering::Relaxed);
    }
    /// The current value.
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Bucket bounds (seconds) of the reconcile-time histogram.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A latency histogram with [`LATENCY_BUCKETS`].
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, d: Duration) {
        let s = d.as_secs_f64();
        for (i, b) in LATENCY_BUCKETS.iter().enumerate() {
            if s <= *b {
                self.buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add(d.as_micros() as u64, Ordering::Relaxed);
    }
    /// Number of observations.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

/// The metrics of one controller and its queue.
#[derive(Debug)]
pub struct ControllerMetrics {
    /// The controller's name (the `name`/`controller` label).
    pub name: String,
    /// Keys waiting in the queue.
    pub depth: Gauge,
    /// Adds to the queue (deduplicated adds are not counted).
    pub adds: Counter,
    /// Rate-limited re-queues (after errors or `Requeue`).
    pub retries: Counter,
    /// Reconciles that succeeded.
    pub reconcile_success: Counter,
    /// Reconciles that asked to be requeued.
    pub reconcile_requeue: Counter,
    /// Reconciles that failed.
    pub reconcile_errors: Counter,
    /// Reconcile latency.
    pub reconcile_time: Histogram,
}

impl ControllerMetrics {
    /// Zeroed metrics for controller `name`.
    pub fn new(name: &str) -> Self {
        ControllerMetrics {
            name: name.to_string(),
            depth: Gauge::default(),
            adds: Counter::default(),
            retries: Counter::default(),
            reconcile_success: Counter::default(),
            reconcile_requeue: Counter::default(),
            reconcile_errors: Counter::default(),
            reconcile_time: Histogram::default(),
        }
    }
}

/// All controllers' metrics in one process.
#[derive(Debug, Default, Clone)]
pub struct Metrics {
    controllers: Arc<Mutex<Vec<Arc<ControllerMetrics>>>>,
}

impl Metrics {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers (or returns the already registered) metrics of controller `name`.
    pub fn controller(&self, name: &str) -> Arc<ControllerMetrics> {
        let mut cs = self.controllers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = cs.iter().find(|c| c.name == name) {
            return c.clone();
        }
        let c = Arc::new(ControllerMetrics::new(name));
        cs.push(c.clone());
        c
    }

    /// The metrics of controller `name`, if registered.
    pub fn get(&self, name: &str) -> Option<Arc<ControllerMetrics>> {
        let cs = self.controllers.lock().unwrap_or_else(|e| e.into_inner());
        cs.iter().find(|c| c.name == name).cloned()
    }

    /// Renders every metric in the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let cs = self
            .controllers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut out = String::new();
        let mut family =
            |name: &str, help: &str, ty: &str, f: &dyn Fn(&ControllerMetrics, &mut String)| {
                let _ = writeln!(out, "# HELP {name} {help}");
                let _ = writeln!(out, "# TYPE {name} {ty}");
                for c in &cs {
                    f(c, &mut out);
                }
            };
        family(
            "workqueue_depth",
            "Current depth of workqueue",
            "gauge",
            &|c, o| {
                let _ = writeln!(
                    o,
                    "workqueue_depth{{name=\"{}\"}} {}",
                    c.name,
                    c.depth.get()
                );
            },
        );
        family(
            "workqueue_adds_total",
            "Total number of adds handled by workqueue",
            "counter",
            &|c, o| {
                let _ = writeln!(
                    o,
                    "workqueue_adds_total{{name=\"{}\"}} {}",
                    c.name,
                    c.adds.get()
                );
            },
        );
        family(
            "workqueue_retries_total",
            "Total number of retries handled by workqueue",
            "counter",
            &|c, o| {
                let _ = writeln!(
                    o,
                    "workqueue_retries_total{{name=\"{}\"}} {}",
                    c.name,
                    c.retries.get()
                );
            },
        );
        family(
            "controller_runtime_reconcile_total",
            "Total number of reconciliations per controller",
            "counter",
            &|c, o| {
                for (result, v) in [
                    ("success", c.reconcile_success.get()),
                    ("requeue", c.reconcile_requeue.get()),
                    ("error", c.reconcile_errors.get()),
                ] {
                    let _ = writeln!(o, "controller_runtime_reconcile_total{{controller=\"{}\",result=\"{result}\"}} {v}", c.name);
                }
            },
        );
        family(
            "controller_runtime_reconcile_errors_total",
            "Total number of reconciliation errors per controller",
            "counter",
            &|c, o| {
                let _ = writeln!(
                    o,
                    "controller_runtime_reconcile_errors_total{{controller=\"{}\"}} {}",
                    c.name,
                    c.reconcile_errors.get()
                );
            },
        );
        family(
            "controller_runtime_reconcile_time_seconds",
            "Length of time per reconciliation per controller",
            "histogram",
            &|c, o| {
                let h = &c.reconcile_time;
                for (i, b) in LATENCY_BUCKETS.iter().enumerate() {
                    let _ = writeln!(o, "controller_runtime_reconcile_time_seconds_bucket{{controller=\"{}\",le=\"{b}\"}} {}", c.name, h.buckets[i].load(Ordering::Relaxed));
                }
                let _ = writeln!(o, "controller_runtime_reconcile_time_seconds_bucket{{controller=\"{}\",le=\"+Inf\"}} {}", c.name, h.count());
                let _ = writeln!(
                    o,
                    "controller_runtime_reconcile_time_seconds_sum{{controller=\"{}\"}} {}",
                    c.name,
                    h.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
                );
                let _ = writeln!(
                    o,
                    "controller_runtime_reconcile_time_seconds_count{{controller=\"{}\"}} {}",
                    c.name,
                    h.count()
                );
            },
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::new();
        let c = m.controller("replicaset");
        c.adds.inc();
        c.depth.set(3);
        c.reconcile_errors.inc();
        c.reconcile_time.observe(Duration::from_millis(3));
        let text = m.render();
        assert!(
            text.contains("# TYPE workqueue_depth gauge\nworkqueue_depth{name=\"replicaset\"} 3\n")
        );
        assert!(text.contains("workqueue_adds_total{name=\"replicaset\"} 1\n"));
        assert!(text
            .contains("controller_runtime_reconcile_errors_total{controller=\"replicaset\"} 1\n"));
        assert!(text.contains("controller_runtime_reconcile_time_seconds_bucket{controller=\"replicaset\",le=\"0.005\"} 1\n"));
        assert!(text.contains("controller_runtime_reconcile_time_seconds_bucket{controller=\"replicaset\",le=\"0.001\"} 0\n"));
        assert!(Arc::ptr_eq(&m.controller("replicaset"), &c));
    }
}
