//! The scheduling queue (`PriorityQueue`): an active heap (higher priority first, then the
//! earlier activeDeadline, then the earlier enqueue time), a backoff heap (1 s doubling to
//! 10 s per attempt) and an unschedulable pool that only cluster events (or the 5-minute
//! flush) move pods out of, so a pod that can never fit costs no CPU.
//!
//! The queue is a pure data structure: every method takes `now`.

use foldhash::HashMap;
use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::framework::{ClusterEvent, EventObject, Plugin, QueueingHint};
use crate::nodeinfo::PodInfo;

/// Initial backoff (1 s).
pub const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
/// Maximum backoff (10 s).
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Pods stay at most this long in the unschedulable pool without an event (5 min).
pub const MAX_IN_UNSCHEDULABLE: Duration = Duration::from_secs(300);

/// A pod in the queue (`QueuedPodInfo`).
#[derive(Clone, Debug)]
pub struct QueuedPod {
    /// The pod.
    pub info: Arc<PodInfo>,
    /// When it was (last) added to a queue.
    pub timestamp: Instant,
    /// When it was first seen.
    pub initial_timestamp: Instant,
    /// Scheduling attempts so far.
    pub attempts: u32,
    /// Plugins that rejected it the last time.
    pub unschedulable_plugins: HashSet<String>,
    /// The last failure was an error (not a rejection).
    pub error: bool,
    seq: u64,
}

impl QueuedPod {
    /// The backoff after the last attempt.
    pub fn backoff(&self) -> Duration {
        if self.attempts == 0 {
            return Duration::ZERO;
        }
        let exp = (self.attempts - 1).min(16);
        (INITIAL_BACKOFF * (1u32 << exp)).min(MAX_BACKOFF)
    }
    fn backoff_expiry(&self) -> Instant {
        self.timestamp + self.backoff()
    }
}

struct Active(QueuedPod);

impl Active {
    fn key(&self) -> (i32, i64, Instant, u64) {
        (
            self.0.info.priority,
            self.0.info.deadline.unwrap_or(i64::MAX),
            self.0.timestamp,
            self.0.seq,
        )
    }
}

impl PartialEq for Active {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Active {}
impl PartialOrd for Active {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Active {
    // Max-heap: "greater" pops first.
    fn cmp(&self, other: &Self) -> Ordering {
        let (p1, d1, t1, s1) = self.key();
        let (p2, d2, t2, s2) = other.key();
        p1.cmp(&p2)
            .then(d2.cmp(&d1))
            .then(t2.cmp(&t1))
            .then(s2.cmp(&s1))
    }
}

struct Backoff(Instant, u64, String);
impl PartialEq for Backoff {
    fn eq(&self, o: &Self) -> bool {
        (self.0, self.1) == (o.0, o.1)
    }
}
impl Eq for Backoff {}
impl PartialOrd for Backoff {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Backoff {
    fn cmp(&self, o: &Self) -> Ordering {
        (o.0, o.1).cmp(&(self.0, self.1))
    }
}

/// Where a pod is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Location {
    /// activeQ.
    Active,
    /// backoffQ.
    Backoff,
    /// The unschedulable pool.
    Unschedulable,
    /// Popped and being scheduled.
    InFlight,
}

/// Queue sizes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueSizes {
    /// activeQ.
    pub active: usize,
    /// backoffQ.
    pub backoff: usize,
    /// Unschedulable pool.
    pub unschedulable: usize,
}

/// The scheduling queue.
#[derive(Default)]
pub struct SchedulingQueue {
    active: BinaryHeap<Active>,
    backoff: BinaryHeap<Backoff>,
    /// All known pods by key (the active heap may hold stale entries, skipped by seq).
    pods: HashMap<String, (QueuedPod, Location)>,
    unsched: HashSet<String>,
    in_flight: usize,
    seq: u64,
    /// Events that arrived while pods were in flight (`moveRequestCycle`).
    in_flight_events: Vec<(ClusterEvent, EventObject)>,
}

impl std::fmt::Debug for SchedulingQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchedulingQueue")
            .field("sizes", &self.sizes())
            .finish()
    }
}

impl SchedulingQueue {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    fn set(&mut self, key: String, qp: QueuedPod, loc: Location) {
        self.unset(&key);
        match loc {
            Location::Unschedulable => {
                self.unsched.insert(key.clone());
            }
            Location::InFlight => self.in_flight += 1,
            _ => {}
        }
        self.pods.insert(key, (qp, loc));
    }

    fn unset(&mut self, key: &str) -> Option<(QueuedPod, Location)> {
        let old = self.pods.remove(key);
        match old.as_ref().map(|o| o.1) {
            Some(Location::Unschedulable) => {
                self.unsched.remove(key);
            }
            Some(Location::InFlight) => self.in_flight -= 1,
            _ => {}
        }
        old
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Adds a new pending pod to activeQ (or updates the one queued).
    pub fn add(&mut self, info: Arc<PodInfo>, now: Instant) {
        if let Some((qp, loc)) = self.pods.get_mut(&info.key) {
            qp.info = info;
            if *loc == Location::InFlight {
                return;
            }
            // An update may make it schedulable: move it to active.
            if *loc == Location::Unschedulable {
                let mut qp = qp.clone();
                qp.timestamp = now;
                self.push_active(qp);
            } else if *loc == Location::Active {
                let qp = qp.clone();
                self.push_active(qp);
            }
            return;
        }
        let qp = QueuedPod {
            info,
            timestamp: now,
            initial_timestamp: now,
            attempts: 0,
            unschedulable_plugins: HashSet::new(),
            error: false,
            seq: 0,
        };
        self.push_active(qp);
    }

    fn push_active(&mut self, mut qp: QueuedPod) {
        qp.seq = self.next_seq();
        self.set(qp.info.key.clone(), qp.clone(), Location::Active);
        self.active.push(Active(qp));
    }

    fn push_backoff(&mut self, mut qp: QueuedPod) {
        qp.seq = self.next_seq();
        let exp = qp.backoff_expiry();
        self.backoff.push(Backoff(exp, qp.seq, qp.info.key.clone()));
        self.set(qp.info.key.clone(), qp, Location::Backoff);
    }

    /// Removes a pod (deleted, or bound by someone else).
    pub fn delete(&mut self, key: &str) {
        self.unset(key);
    }

    /// Pops the next pod to schedule, after moving expired backoffs to active.
    pub fn pop(&mut self, now: Instant) -> Option<QueuedPod> {
        self.flush_backoff(now);
        while let Some(Active(qp)) = self.active.pop() {
            match self.pods.get(&qp.info.key) {
                Some((cur, Location::Active)) if cur.seq == qp.seq => {
                    let mut cur = cur.clone();
                    cur.attempts += 1;
                    self.set(cur.info.key.clone(), cur.clone(), Location::InFlight);
                    return Some(cur);
                }
                _ => continue,
            }
        }
        None
    }

    /// Moves backoff pods whose backoff expired to active.
    pub fn flush_backoff(&mut self, now: Instant) {
        while let Some(top) = self.backoff.peek() {
            if top.0 > now {
                break;
            }
            let Backoff(_, seq, key) = self.backoff.pop().expect("peeked");
            if let Some((qp, Location::Backoff)) = self.pods.get(&key) {
                if qp.seq == seq {
                    let qp = qp.clone();
                    self.push_active(qp);
                }
            }
        }
    }

    /// Moves pods that sat in the unschedulable pool longer than 5 minutes to backoff/active.
    pub fn flush_unschedulable_leftover(&mut self, now: Instant) {
        let stale: Vec<QueuedPod> = self
            .unsched
            .iter()
            .filter_map(|k| self.pods.get(k))
            .filter(|(qp, _)| now.duration_since(qp.timestamp) >= MAX_IN_UNSCHEDULABLE)
            .map(|(qp, _)| qp.clone())
            .collect();
        for qp in stale {
            self.requeue(qp, now);
        }
    }

    fn requeue(&mut self, qp: QueuedPod, now: Instant) {
        if qp.backoff_expiry() > now {
            self.push_backoff(qp);
        } else {
            self.push_active(qp);
        }
    }

    /// The earliest time something becomes ready (a backoff expiry or the unschedulable
    /// flush), if any.
    pub fn next_wakeup(&self) -> Option<Instant> {
        let b = self.backoff.peek().map(|b| b.0);
        let u = self
            .unsched
            .iter()
            .filter_map(|k| self.pods.get(k))
            .map(|(qp, _)| qp.timestamp + MAX_IN_UNSCHEDULABLE)
            .min();
        match (b, u) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Reports the outcome of an in-flight pod that could not be scheduled
    /// (`AddUnschedulableIfNotPresent`): to backoff if an event that may help arrived
    /// while it was in flight (or it failed with an error), else to the unschedulable pool.
    pub fn add_unschedulable(
        &mut self,
        mut qp: QueuedPod,
        plugins: HashSet<String>,
        error: bool,
        profile_plugins: &[Arc<dyn Plugin>],
        now: Instant,
    ) {
        let key = qp.info.key.clone();
        match self.pods.get(&key) {
            Some((cur, Location::InFlight)) => {
                // Keep the newest pod object.
                qp.info = cur.info.clone();
            }
            _ => return, // deleted (or re-added) meanwhile
        }
        qp.timestamp = now;
        qp.unschedulable_plugins = plugins;
        qp.error = error;
        let moved = error
            || self
                .in_flight_events
                .iter()
                .any(|(ev, obj)| worth_requeuing(&qp, ev, obj, profile_plugins));
        if moved {
            self.push_backoff(qp);
        } else {
            self.set(key, qp, Location::Unschedulable);
        }
        if self.in_flight == 0 {
            self.in_flight_events.clear();
        }
    }

    /// Marks an in-flight pod done (scheduled or assumed): it leaves the queue.
    pub fn done(&mut self, key: &str) {
        if matches!(self.pods.get(key), Some((_, Location::InFlight))) {
            self.unset(key);
        }
        if self.in_flight == 0 {
            self.in_flight_events.clear();
        }
    }

    /// A cluster event: unschedulable pods whose rejecting plugins registered it (and whose
    /// hints say Queue) move to backoff/active (`MoveAllToActiveOrBackoffQueue`).
    pub fn on_event(
        &mut self,
        ev: ClusterEvent,
        obj: EventObject,
        profile_plugins: &dyn Fn(&PodInfo) -> Vec<Arc<dyn Plugin>>,
        now: Instant,
    ) {
        let candidates: Vec<QueuedPod> = self
            .unsched
            .iter()
            .filter_map(|k| self.pods.get(k))
            .map(|(qp, _)| qp.clone())
            .collect();
        for qp in candidates {
            let plugins = profile_plugins(&qp.info);
            if worth_requeuing(&qp, &ev, &obj, &plugins) {
                self.requeue(qp, now);
            }
        }
        if self.in_flight > 0 {
            self.in_flight_events.push((ev, obj));
        }
    }

    /// Replaces the pod object of a queued pod without moving it (status-only updates).
    pub fn update_in_place(&mut self, info: Arc<PodInfo>) {
        match self.pods.get_mut(&info.key) {
            Some((qp, _)) => qp.info = info,
            None => {
                let now = Instant::now();
                self.add(info, now);
            }
        }
    }

    /// Puts a pod whose binding cycle failed back: to backoff (it is no longer tracked).
    pub fn requeue_after_failure(
        &mut self,
        mut qp: QueuedPod,
        plugins: HashSet<String>,
        error: bool,
        now: Instant,
    ) {
        if self.pods.contains_key(&qp.info.key) {
            return;
        }
        qp.timestamp = now;
        qp.unschedulable_plugins = plugins;
        qp.error = error;
        self.push_backoff(qp);
    }

    /// The size of the unschedulable pool.
    pub fn sizes_unschedulable(&self) -> usize {
        self.unsched.len()
    }

    /// The queued pod `key`.
    pub fn pending_pod(&self, key: &str) -> Option<Arc<PodInfo>> {
        self.pods.get(key).map(|(qp, _)| qp.info.clone())
    }

    /// Sizes of the three queues.
    pub fn sizes(&self) -> QueueSizes {
        let mut s = QueueSizes::default();
        for (_, l) in self.pods.values() {
            match l {
                Location::Active => s.active += 1,
                Location::Backoff => s.backoff += 1,
                Location::Unschedulable => s.unschedulable += 1,
                Location::InFlight => {}
            }
        }
        s
    }

    /// Where `key` is.
    pub fn location(&self, key: &str) -> Option<Location> {
        self.pods.get(key).map(|(_, l)| *l)
    }

    /// Every queued pod (for deadline checks).
    pub fn pending(&self) -> impl Iterator<Item = &Arc<PodInfo>> {
        self.pods.values().map(|(qp, _)| &qp.info)
    }
}

fn worth_requeuing(
    qp: &QueuedPod,
    ev: &ClusterEvent,
    obj: &EventObject,
    plugins: &[Arc<dyn Plugin>],
) -> bool {
    if qp.unschedulable_plugins.is_empty() {
        return true;
    }
    for p in plugins {
        if !qp.unschedulable_plugins.contains(p.name()) {
            continue;
        }
        if !p.events_to_register().contains(ev) {
            continue;
        }
        if p.queueing_hint(&qp.info, ev, obj) == QueueingHint::Queue {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use kubox_core::api::core_v1::Pod;
    use serde_json::json;

    fn info(name: &str, prio: i32, deadline: Option<i64>) -> Arc<PodInfo> {
        let mut v = json!({"metadata": {"name": name, "namespace": "d", "creationTimestamp": "2024-01-01T00:00:00Z"}, "spec": {"containers": []}});
        if let Some(d) = deadline {
            v["spec"]["activeDeadlineSeconds"] = json!(d);
        }
        let p: Pod = serde_json::from_value(v).unwrap();
        Arc::new(PodInfo::new(Arc::new(p), prio))
    }

    #[test]
    fn order_priority_deadline_timestamp() {
        let t0 = Instant::now();
        let mut q = SchedulingQueue::new();
        q.add(info("late", 0, None), t0);
        q.add(
            info("early-deadline-later", 0, Some(100)),
            t0 + Duration::from_millis(5),
        );
        q.add(
            info("earlier-deadline", 0, Some(50)),
            t0 + Duration::from_millis(10),
        );
        q.add(info("high", 10, None), t0 + Duration::from_millis(20));
        q.add(info("late2", 0, None), t0 + Duration::from_millis(30));
        let order: Vec<String> =
            std::iter::from_fn(|| q.pop(t0).map(|p| p.info.name.clone())).collect();
        assert_eq!(
            order,
            [
                "high",
                "earlier-deadline",
                "early-deadline-later",
                "late",
                "late2"
            ]
        );
    }

    #[test]
    fn backoff_doubles_to_ten_seconds() {
        let t0 = Instant::now();
        let mut qp = QueuedPod {
            info: info("a", 0, None),
            timestamp: t0,
            initial_timestamp: t0,
            attempts: 0,
            unschedulable_plugins: HashSet::new(),
            error: false,
            seq: 0,
        };
        let mut got = Vec::new();
        for a in 0..7 {
            qp.attempts = a;
            got.push(qp.backoff().as_secs());
        }
        assert_eq!(got, [0, 1, 2, 4, 8, 10, 10]);
    }

    #[test]
    fn unschedulable_pod_waits_for_an_event() {
        struct Fit;
        impl Plugin for Fit {
            fn name(&self) -> &str {
                "Fit"
            }
            fn events_to_register(&self) -> Vec<ClusterEvent> {
                vec![ClusterEvent::NODE_ADD]
            }
        }
        let plugins: Vec<Arc<dyn Plugin>> = vec![Arc::new(Fit)];
        let t0 = Instant::now();
        let mut q = SchedulingQueue::new();
        q.add(info("a", 0, None), t0);
        let qp = q.pop(t0).unwrap();
        q.add_unschedulable(qp, HashSet::from(["Fit".to_string()]), false, &plugins, t0);
        assert_eq!(q.location("d/a"), Some(Location::Unschedulable));
        // Long after the backoff, still nothing to pop: no spinning.
        assert!(q.pop(t0 + Duration::from_secs(60)).is_none());
        // An unrelated event does nothing.
        let pl = plugins.clone();
        q.on_event(
            ClusterEvent::POD_DELETE,
            EventObject::Other,
            &|_| pl.clone(),
            t0 + Duration::from_secs(61),
        );
        assert_eq!(q.location("d/a"), Some(Location::Unschedulable));
        q.on_event(
            ClusterEvent::NODE_ADD,
            EventObject::Other,
            &|_| pl.clone(),
            t0 + Duration::from_secs(61),
        );
        assert_eq!(q.pop(t0 + Duration::from_secs(61)).unwrap().info.name, "a");
    }

    #[test]
    fn event_during_flight_sends_pod_to_backoff() {
        let plugins: Vec<Arc<dyn Plugin>> = Vec::new();
        let t0 = Instant::now();
        let mut q = SchedulingQueue::new();
        q.add(info("a", 0, None), t0);
        let qp = q.pop(t0).unwrap();
        q.on_event(
            ClusterEvent::NODE_ADD,
            EventObject::Other,
            &|_| Vec::new(),
            t0,
        );
        q.add_unschedulable(qp, HashSet::new(), false, &plugins, t0);
        assert_eq!(q.location("d/a"), Some(Location::Backoff));
        assert!(q.pop(t0 + Duration::from_millis(500)).is_none());
        assert!(q.pop(t0 + Duration::from_secs(1)).is_some());
    }

    #[test]
    fn leftover_flush_after_five_minutes() {
        let plugins: Vec<Arc<dyn Plugin>> = Vec::new();
        let t0 = Instant::now();
        let mut q = SchedulingQueue::new();
        q.add(info("a", 0, None), t0);
        let qp = q.pop(t0).unwrap();
        q.add_unschedulable(qp, HashSet::from(["X".to_string()]), false, &plugins, t0);
        assert_eq!(q.next_wakeup(), Some(t0 + MAX_IN_UNSCHEDULABLE));
        q.flush_unschedulable_leftover(t0 + Duration::from_secs(299));
        assert_eq!(q.location("d/a"), Some(Location::Unschedulable));
        q.flush_unschedulable_leftover(t0 + MAX_IN_UNSCHEDULABLE);
        assert!(q.pop(t0 + MAX_IN_UNSCHEDULABLE).is_some());
    }
}
