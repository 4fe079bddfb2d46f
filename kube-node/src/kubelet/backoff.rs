//! Per-key exponential back-off measured in timestamps (client-go
//! `util/flowcontrol/backoff.go`): the kubelet's crash-loop back-off (10 s doubling to 300 s)
//! and image-pull back-off, keyed by `pod_namespace_uid_container_hash`.
//!
//! - [`Backoff::next`] advances the entry of a key: a fresh entry (or one whose last update is
//!   more than 2 × max before the event, i.e. 10 minutes for the crash-loop back-off) starts at
//!   the initial delay, otherwise the delay doubles up to the maximum.
//! - [`Backoff::is_in_backoff_since`] tells whether an event at `event_time` (a container's
//!   `finishedAt`) is still inside the key's current delay.
//!
//! The result is Kubernetes' restart curve: the first restart is immediate, then 10 s, 20 s,
//! 40 s … 300 s, and a container that ran for more than 10 minutes starts over.

use std::collections::HashMap;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

/// The crash-loop back-off's initial delay (`backOffPeriod`).
pub const CRASH_LOOP_INITIAL: Duration = Duration::from_secs(10);
/// The crash-loop back-off's maximum delay (`MaxContainerBackOff`).
pub const CRASH_LOOP_MAX: Duration = Duration::from_secs(300);
/// The image-pull back-off's initial delay.
pub const IMAGE_PULL_INITIAL: Duration = Duration::from_secs(10);
/// The image-pull back-off's maximum delay.
pub const IMAGE_PULL_MAX: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Copy)]
struct Entry {
    backoff: Duration,
    last_update: Timestamp,
}

/// Per-key exponential back-off (client-go `flowcontrol.Backoff`).
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    entries: HashMap<String, Entry>,
}

impl Backoff {
    /// A back-off starting at `initial` and doubling up to `max`.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Backoff {
            initial,
            max,
            entries: HashMap::new(),
        }
    }

    /// The crash-loop back-off: 10 s doubling to 300 s.
    pub fn crash_loop() -> Self {
        Self::new(CRASH_LOOP_INITIAL, CRASH_LOOP_MAX)
    }

    /// The image-pull back-off: 10 s doubling to 300 s.
    pub fn image_pull() -> Self {
        Self::new(IMAGE_PULL_INITIAL, IMAGE_PULL_MAX)
    }

    fn has_expired(&self, event_time: Timestamp, last_update: Timestamp) -> bool {
        let max2 = SignedDuration::try_from(self.max * 2).unwrap_or(SignedDuration::MAX);
        event_time.duration_since(last_update) > max2
    }

    /// The current delay of `key` (zero when there is none).
    pub fn get(&self, key: &str) -> Duration {
        self.entries.get(key).map(|e| e.backoff).unwrap_or_default()
    }

    /// Advances the back-off of `key` for an event at `event_time`; `now` is the update time.
    pub fn next(&mut self, key: &str, event_time: Timestamp, now: Timestamp) {
        let backoff = match self.entries.get(key) {
            Some(e) if !self.has_expired(event_time, e.last_update) => {
                (e.backoff * 2).min(self.max)
            }
            _ => self.initial,
        };
        self.entries.insert(
            key.to_string(),
            Entry {
                backoff,
                last_update: now,
            },
        );
    }

    /// Whether `now` is still within the delay of `key` counted from `event_time`.
    pub fn is_in_backoff_since(&self, key: &str, event_time: Timestamp, now: Timestamp) -> bool {
        let Some(e) = self.entries.get(key) else {
            return false;
        };
        if self.has_expired(event_time, e.last_update) {
            return false;
        }
        let since = now.duration_since(event_time);
        since < SignedDuration::try_from(e.backoff).unwrap_or(SignedDuration::MAX)
    }

    /// When the delay of `key` counted from `event_time` ends.
    pub fn expiry(&self, key: &str, event_time: Timestamp) -> Timestamp {
        let d = SignedDuration::try_from(self.get(key)).unwrap_or(SignedDuration::ZERO);
        event_time.saturating_add(d).unwrap_or(event_time)
    }

    /// Drops entries untouched for more than 2 × max (client-go `GC`).
    pub fn gc(&mut self, now: Timestamp) {
        let max2 = SignedDuration::try_from(self.max * 2).unwrap_or(SignedDuration::MAX);
        self.entries
            .retain(|_, e| now.duration_since(e.last_update) <= max2);
    }

    /// Forgets `key`.
    pub fn reset(&mut self, key: &str) {
        self.entries.remove(key);
    }
}

/// Formats a duration as Go's `time.Duration.String` does for whole seconds and more
/// (`10s`, `1m20s`, `5m0s`), the form used in Kubernetes' back-off messages.
pub fn go_duration(d: Duration) -> String {
    let total_ms = d.as_millis();
    if total_ms == 0 {
        return "0s".to_string();
    }
    if d.as_secs() == 0 {
        return format!("{total_ms}ms");
    }
    let secs = d.as_secs();
    let frac = d.subsec_millis();
    let sec_part = if frac == 0 {
        format!("{}s", secs % 60)
    } else {
        let s = format!("{}.{:03}", secs % 60, frac);
        format!("{}s", s.trim_end_matches('0'))
    };
    let (h, m) = (secs / 3600, (secs / 60) % 60);
    if h > 0 {
        format!("{h}h{m}m{sec_part}")
    } else if m > 0 {
        format!("{m}m{sec_part}")
    } else {
        sec_part
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + s).unwrap()
    }

    #[test]
    fn doubling_to_the_cap_and_reset_after_ten_minutes() {
        let mut b = Backoff::crash_loop();
        let key = "k";
        // First crash: no entry, restart at once.
        assert!(!b.is_in_backoff_since(key, t(0), t(0)));
        b.next(key, t(0), t(0));
        let mut delays = vec![];
        let mut now = 0;
        for _ in 0..7 {
            // The container crashes at once after each restart.
            assert!(b.is_in_backoff_since(key, t(now), t(now)));
            let d = b.get(key).as_secs() as i64;
            assert!(!b.is_in_backoff_since(key, t(now), t(now + d)));
            delays.push(d);
            now += d;
            b.next(key, t(now), t(now));
        }
        assert_eq!(delays, vec![10, 20, 40, 80, 160, 300, 300]);
        // Runs for 11 minutes, then crashes: restart at once, the delay starts over.
        let finished = now + 660;
        assert!(!b.is_in_backoff_since(key, t(finished), t(finished)));
        b.next(key, t(finished), t(finished));
        assert_eq!(b.get(key), Duration::from_secs(10));
    }

    #[test]
    fn go_durations() {
        assert_eq!(go_duration(Duration::from_secs(10)), "10s");
        assert_eq!(go_duration(Duration::from_secs(80)), "1m20s");
        assert_eq!(go_duration(Duration::from_secs(300)), "5m0s");
        assert_eq!(go_duration(Duration::from_secs(3700)), "1h1m40s");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
    }
}
