//! The work queue (client-go `util/workqueue`): a deduplicating FIFO of keys with a
//! processing set, delayed adds and per-key exponential backoff.
//!
//! - Adding a key already waiting does nothing.
//! - [`WorkQueue::get`] moves the key into the processing set; a key added while it is being
//!   processed is only marked dirty and queued again at [`WorkQueue::done`], so no key is
//!   handled by two workers at once, and no change is lost.
//! - [`WorkQueue::add_rate_limited`] waits per-key `5 ms × 2^failures` (capped at 1000 s),
//!   and at least what an overall 10 qps / burst 100 token bucket allows (client-go
//!   `DefaultControllerRateLimiter`). [`WorkQueue::forget`] resets the key's failures.
//! - [`WorkQueue::shut_down`] wakes every waiting worker with `None`.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use parking::Mutex;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::metrics::ControllerMetrics;

mod parking {
    /// A mutex that ignores poisoning (the queue's state stays consistent between calls).
    #[derive(Debug, Default)]
    pub(crate) struct Mutex<T>(std::sync::Mutex<T>);
    impl<T> Mutex<T> {
        pub(crate) fn new(t: T) -> Self {
            Mutex(std::sync::Mutex::new(t))
        }
        pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, T> {
            self.0.lock().unwrap_or_else(|e| e.into_inner())
        }
    }
}

/// Per-key exponential backoff plus an overall token bucket (client-go
/// `DefaultControllerRateLimiter`).
#[derive(Debug)]
pub struct RateLimiter {
    /// First per-key delay (5 ms).
    pub base: Duration,
    /// Largest per-key delay (1000 s).
    pub max: Duration,
    /// Overall rate of the bucket (10 per second).
    pub qps: f64,
    /// Bucket size (100).
    pub burst: f64,
    failures: HashMap<String, u32>,
    tokens: f64,
    last: Option<Instant>,
}

impl Default for RateLimiter {
    fn default() -> Self {
        RateLimiter::new(
            Duration::from_millis(5),
            Duration::from_secs(1000),
            10.0,
            100.0,
        )
    }
}

impl RateLimiter {
    /// A limiter with the given per-key and overall parameters.
    pub fn new(base: Duration, max: Duration, qps: f64, burst: f64) -> Self {
        RateLimiter {
            base,
            max,
            qps,
            burst,
            failures: HashMap::new(),
            tokens: burst,
            last: None,
        }
    }

    /// The delay before `key` may be retried; counts one more failure of `key`.
    pub fn when(&mut self, key: &str) -> Duration {
        let n = self.failures.entry(key.to_string()).or_insert(0);
        let exp = (*n).min(40);
        *n += 1;
        let per_item = self
            .base
            .checked_mul(1u32 << exp.min(31))
            .map(|d| d.min(self.max))
            .unwrap_or(self.max);
        let per_item = if exp > 31 { self.max } else { per_item };
        // Token bucket: reserve one token, the wait is the time until it is available.
        let now = Instant::now();
        if let Some(last) = self.last {
            let refill = now.duration_since(last).as_secs_f64() * self.qps;
            self.tokens = (self.tokens + refill).min(self.burst);
        }
        self.last = Some(now);
        self.tokens -= 1.0;
        let bucket = if self.tokens >= 0.0 || self.qps <= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.qps)
        };
        per_item.max(bucket)
    }

    /// How many times `key` failed since it was last forgotten.
    pub fn num_requeues(&self, key: &str) -> u32 {
        self.failures.get(key).copied().unwrap_or(0)
    }

    /// Forgets `key`'s failures.
    pub fn forget(&mut self, key: &str) {
        self.failures.remove(key);
    }
}

#[derive(Debug, Default)]
struct State {
    queue: VecDeque<String>,
    dirty: HashSet<String>,
    processing: HashSet<String>,
    shutting_down: bool,
}

#[derive(Debug)]
struct Inner {
    state: Mutex<State>,
    limiter: Mutex<RateLimiter>,
    notify: Notify,
    metrics: Arc<ControllerMetrics>,
}

/// A rate-limited, deduplicating work queue of string keys. Cheap to clone.
#[doc(alias = "RateLimitingInterface")]
#[derive(Clone, Debug)]
pub struct WorkQueue {
    inner: Arc<Inner>,
}

impl WorkQueue {
    /// An empty queue with the default rate limiter, reporting to `metrics`.
    pub fn new(metrics: Arc<ControllerMetrics>) -> Self {
        Self::with_rate_limiter(RateLimiter::default(), metrics)
    }

    /// An empty queue with `limiter`.
    pub fn with_rate_limiter(limiter: RateLimiter, metrics: Arc<ControllerMetrics>) -> Self {
        WorkQueue {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                limiter: Mutex::new(limiter),
                notify: Notify::new(),
                metrics,
            }),
        }
    }

    /// Queues `key` unless it is already waiting; if it is being processed it is queued again
    /// when [`done`](Self::done) is called.
    pub fn add(&self, key: impl Into<String>) {
        let key = key.into();
        let mut st = self.inner.state.lock();
        if st.shutting_down || st.dirty.contains(&key) {
            return;
        }
        self.inner.metrics.adds.inc();
        st.dirty.insert(key.clone());
        if st.processing.contains(&key) {
            return;
        }
        st.queue.push_back(key);
        self.inner.metrics.depth.set(st.queue.len() as i64);
        drop(st);
        self.inner.notify.notify_one();
    }

    /// Queues `key` after `delay`.
    pub fn add_after(&self, key: impl Into<String>, delay: Duration) {
        let key = key.into();
        if delay.is_zero() {
            return self.add(key);
        }
        if self.inner.state.lock().shutting_down {
            return;
        }
        let q = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            q.add(key);
        });
    }

    /// Queues `key` after its backoff (one more failure of `key`).
    pub fn add_rate_limited(&self, key: impl Into<String>) {
        let key = key.into();
        let delay = self.inner.limiter.lock().when(&key);
        self.inner.metrics.retries.inc();
        self.add_after(key, delay);
    }

    /// Resets `key`'s backoff.
    pub fn forget(&self, key: &str) {
        self.inner.limiter.lock().forget(key);
    }

    /// How many times `key` was re-queued with backoff since it was last forgotten.
    pub fn num_requeues(&self, key: &str) -> u32 {
        self.inner.limiter.lock().num_requeues(key)
    }

    /// The number of keys waiting (not counting those being processed).
    pub fn len(&self) -> usize {
        self.inner.state.lock().queue.len()
    }

    /// True when no key is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Waits for the next key; `None` once the queue is shut down.
    pub async fn get(&self) -> Option<String> {
        loop {
            let notified = self.inner.notify.notified();
            {
                let mut st = self.inner.state.lock();
                if let Some(key) = st.queue.pop_front() {
                    st.dirty.remove(&key);
                    st.processing.insert(key.clone());
                    self.inner.metrics.depth.set(st.queue.len() as i64);
                    if !st.queue.is_empty() {
                        self.inner.notify.notify_one();
                    }
                    return Some(key);
                }
                if st.shutting_down {
                    return None;
                }
            }
            notified.await;
        }
    }

    /// Marks `key` as processed; re-queues it if it was added meanwhile.
    pub fn done(&self, key: &str) {
        let mut st = self.inner.state.lock();
        st.processing.remove(key);
        if st.dirty.contains(key) && !st.shutting_down {
            st.queue.push_back(key.to_string());
            self.inner.metrics.depth.set(st.queue.len() as i64);
            drop(st);
            self.inner.notify.notify_one();
        }
    }

    /// Stops the queue: waiting and future [`get`](Self::get)s return `None`, adds are
    /// ignored.
    pub fn shut_down(&self) {
        let mut st = self.inner.state.lock();
        st.shutting_down = true;
        st.queue.clear();
        st.dirty.clear();
        drop(st);
        self.inner.notify.notify_waiters();
    }

    /// True after [`shut_down`](Self::shut_down).
    pub fn is_shutting_down(&self) -> bool {
        self.inner.state.lock().shutting_down
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue() -> WorkQueue {
        WorkQueue::new(Arc::new(ControllerMetrics::new("test")))
    }

    #[tokio::test]
    async fn dedupes_waiting_keys_and_requeues_keys_added_while_processing() {
        let q = queue();
        q.add("a");
        q.add("b");
        q.add("a");
        assert_eq!(q.len(), 2);
        let a = q.get().await.unwrap();
        assert_eq!(a, "a");
        q.add("a"); // while processing: dirty, not queued
        assert_eq!(q.len(), 1);
        assert_eq!(q.get().await.unwrap(), "b");
        q.done("b");
        assert!(q.is_empty());
        q.done("a");
        assert_eq!(q.len(), 1);
        assert_eq!(q.get().await.unwrap(), "a");
        q.done("a");
        q.shut_down();
        assert_eq!(q.get().await, None);
    }

    #[tokio::test(start_paused = true)]
    async fn per_key_backoff_doubles_from_5ms_to_1000s() {
        let mut rl = RateLimiter::new(
            Duration::from_millis(5),
            Duration::from_secs(1000),
            1e9,
            1e9,
        );
        let delays: Vec<_> = (0..5).map(|_| rl.when("k").as_millis()).collect();
        assert_eq!(delays, [5, 10, 20, 40, 80]);
        for _ in 0..30 {
            rl.when("k");
        }
        assert_eq!(rl.when("k"), Duration::from_secs(1000));
        assert_eq!(rl.when("other"), Duration::from_millis(5));
        rl.forget("k");
        assert_eq!(rl.when("k"), Duration::from_millis(5));
    }

    #[tokio::test(start_paused = true)]
    async fn token_bucket_limits_overall_rate_after_burst() {
        let mut rl = RateLimiter::default();
        for i in 0..100 {
            assert_eq!(rl.when(&format!("k{i}")), Duration::from_millis(5));
        }
        // The 101st distinct key waits for a token (0.1 s at 10 qps).
        assert_eq!(rl.when("k100"), Duration::from_millis(100));
    }

    #[tokio::test(start_paused = true)]
    async fn rate_limited_add_arrives_after_the_backoff() {
        let q = queue();
        q.add_rate_limited("x");
        q.add_rate_limited("x");
        assert_eq!(q.num_requeues("x"), 2);
        let start = Instant::now();
        assert_eq!(q.get().await.unwrap(), "x");
        assert_eq!(start.elapsed(), Duration::from_millis(5));
        q.done("x");
        q.forget("x");
        assert_eq!(q.num_requeues("x"), 0);
    }
}
