//! Scheduler metrics: attempts by result (`scheduler_schedule_attempts_total{result}`), the
//! end-to-end latency from first enqueue to bound (`scheduler_pod_scheduling_sli_duration_seconds`),
//! preemption counters and the queue sizes (`scheduler_pending_pods{queue}`), as a snapshot
//! struct and in Prometheus' text format.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

use crate::queue::QueueSizes;

/// Histogram bucket upper bounds in seconds: 1 ms doubling, 20 buckets (1 ms … ~524 s).
pub fn latency_buckets() -> Vec<f64> {
    (0..20).map(|i| 0.001 * f64::from(1u32 << i)).collect()
}

/// The live counters.
#[derive(Debug)]
pub struct Metrics {
    scheduled: AtomicU64,
    unschedulable: AtomicU64,
    error: AtomicU64,
    preemption_attempts: AtomicU64,
    preemption_victims: AtomicU64,
    e2e: Mutex<Histogram>,
}

#[derive(Clone, Debug, Default)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            scheduled: AtomicU64::new(0),
            unschedulable: AtomicU64::new(0),
            error: AtomicU64::new(0),
            preemption_attempts: AtomicU64::new(0),
            preemption_victims: AtomicU64::new(0),
            e2e: Mutex::new(Histogram {
                counts: vec![0; latency_buckets().len()],
                sum: 0.0,
                count: 0,
            }),
        }
    }
}

/// The outcome of one scheduling attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptResult {
    /// Bound (or assumed and bound).
    Scheduled,
    /// No node fits.
    Unschedulable,
    /// An internal or API error.
    Error,
}

impl Metrics {
    /// Counts an attempt.
    pub fn attempt(&self, r: AttemptResult) {
        match r {
            AttemptResult::Scheduled => &self.scheduled,
            AttemptResult::Unschedulable => &self.unschedulable,
            AttemptResult::Error => &self.error,
        }
        .fetch_add(1, Ordering::Relaxed);
    }
    /// Counts a preemption with `victims` victims.
    pub fn preemption(&self, victims: usize) {
        self.preemption_attempts.fetch_add(1, Ordering::Relaxed);
        self.preemption_victims
            .fetch_add(victims as u64, Ordering::Relaxed);
    }
    /// Observes an end-to-end scheduling latency.
    pub fn observe_e2e(&self, d: Duration) {
        let s = d.as_secs_f64();
        let mut h = self.e2e.lock();
        let buckets = latency_buckets();
        if let Some(i) = buckets.iter().position(|b| s <= *b) {
            h.counts[i] += 1;
        }
        h.sum += s;
        h.count += 1;
    }
    /// A consistent copy.
    pub fn snapshot(&self, queue: QueueSizes) -> MetricsSnapshot {
        let h = self.e2e.lock().clone();
        MetricsSnapshot {
            scheduled: self.scheduled.load(Ordering::Relaxed),
            unschedulable: self.unschedulable.load(Ordering::Relaxed),
            error: self.error.load(Ordering::Relaxed),
            preemption_attempts: self.preemption_attempts.load(Ordering::Relaxed),
            preemption_victims: self.preemption_victims.load(Ordering::Relaxed),
            e2e_bucket_counts: h.counts,
            e2e_sum_seconds: h.sum,
            e2e_count: h.count,
            queue,
        }
    }
}

/// A copy of the metrics at one moment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MetricsSnapshot {
    /// Attempts that scheduled the pod.
    pub scheduled: u64,
    /// Attempts where no node fit.
    pub unschedulable: u64,
    /// Attempts that failed with an error.
    pub error: u64,
    /// Preemptions performed.
    pub preemption_attempts: u64,
    /// Pods evicted by preemption.
    pub preemption_victims: u64,
    /// Per-bucket (non-cumulative) counts of the e2e latency, bounds [`latency_buckets`].
    pub e2e_bucket_counts: Vec<u64>,
    /// Sum of e2e latencies.
    pub e2e_sum_seconds: f64,
    /// Number of e2e observations.
    pub e2e_count: u64,
    /// Queue sizes.
    pub queue: QueueSizes,
}

impl MetricsSnapshot {
    /// The Prometheus text exposition.
    pub fn to_prometheus(&self) -> String {
        let mut s = String::new();
        s.push_str("# HELP scheduler_schedule_attempts_total Number of attempts to schedule pods, by the result.\n");
        s.push_str("# TYPE scheduler_schedule_attempts_total counter\n");
        for (r, v) in [
            ("scheduled", self.scheduled),
            ("unschedulable", self.unschedulable),
            ("error", self.error),
        ] {
            let _ = writeln!(s, "scheduler_schedule_attempts_total{{result=\"{r}\"}} {v}");
        }
        s.push_str("# HELP scheduler_preemption_attempts_total Total preemption attempts in the cluster till now\n");
        s.push_str("# TYPE scheduler_preemption_attempts_total counter\n");
        let _ = writeln!(
            s,
            "scheduler_preemption_attempts_total {}",
            self.preemption_attempts
        );
        s.push_str(
            "# HELP scheduler_preemption_victims_total Number of selected preemption victims\n",
        );
        s.push_str("# TYPE scheduler_preemption_victims_total counter\n");
        let _ = writeln!(
            s,
            "scheduler_preemption_victims_total {}",
            self.preemption_victims
        );
        s.push_str("# HELP scheduler_pod_scheduling_sli_duration_seconds E2e latency for a pod being scheduled, from the time the pod enters the scheduling queue.\n");
        s.push_str("# TYPE scheduler_pod_scheduling_sli_duration_seconds histogram\n");
        let mut cum = 0;
        for (b, c) in latency_buckets().iter().zip(&self.e2e_bucket_counts) {
            cum += c;
            let _ = writeln!(
                s,
                "scheduler_pod_scheduling_sli_duration_seconds_bucket{{le=\"{b}\"}} {cum}"
            );
        }
        let _ = writeln!(
            s,
            "scheduler_pod_scheduling_sli_duration_seconds_bucket{{le=\"+Inf\"}} {}",
            self.e2e_count
        );
        let _ = writeln!(
            s,
            "scheduler_pod_scheduling_sli_duration_seconds_sum {}",
            self.e2e_sum_seconds
        );
        let _ = writeln!(
            s,
            "scheduler_pod_scheduling_sli_duration_seconds_count {}",
            self.e2e_count
        );
        s.push_str("# HELP scheduler_pending_pods Number of pending pods, by the queue type.\n");
        s.push_str("# TYPE scheduler_pending_pods gauge\n");
        for (q, v) in [
            ("active", self.queue.active),
            ("backoff", self.queue.backoff),
            ("unschedulable", self.queue.unschedulable),
        ] {
            let _ = writeln!(s, "scheduler_pending_pods{{queue=\"{q}\"}} {v}");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_text() {
        let m = Metrics::default();
        m.attempt(AttemptResult::Scheduled);
        m.attempt(AttemptResult::Scheduled);
        m.attempt(AttemptResult::Unschedulable);
        m.observe_e2e(Duration::from_micros(1500));
        let text = m
            .snapshot(QueueSizes {
                active: 1,
                backoff: 2,
                unschedulable: 3,
            })
            .to_prometheus();
        assert!(text.contains("scheduler_schedule_attempts_total{result=\"scheduled\"} 2\n"));
        assert!(text.contains("scheduler_schedule_attempts_total{result=\"unschedulable\"} 1\n"));
        assert!(
            text.contains("scheduler_pod_scheduling_sli_duration_seconds_bucket{le=\"0.001\"} 0\n")
        );
        assert!(
            text.contains("scheduler_pod_scheduling_sli_duration_seconds_bucket{le=\"0.002\"} 1\n")
        );
        assert!(text.contains("scheduler_pending_pods{queue=\"unschedulable\"} 3\n"));
    }
}
