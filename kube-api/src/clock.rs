//! Wall-clock time for creation and deletion timestamps, replaceable in tests: [`SystemClock`]
//! (default), [`ManualClock`] (moved by hand) and [`TokioClock`] (follows tokio time, so paused
//! tests are deterministic).

use std::sync::{Arc, Mutex};

/// A source of the current time.
///
/// # Contract
///
/// `now` is cheap, never blocks, and is safe to call concurrently.
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> jiff::Timestamp;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> jiff::Timestamp {
        jiff::Timestamp::now()
    }
}

/// A clock that only moves when told to (tests of graceful deletion).
#[derive(Clone, Debug)]
pub struct ManualClock(Arc<Mutex<jiff::Timestamp>>);

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: jiff::Timestamp) -> Self {
        ManualClock(Arc::new(Mutex::new(start)))
    }
    /// Moves the clock forward by `secs` seconds.
    pub fn advance(&self, secs: i64) {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *t = jiff::Timestamp::from_second(t.as_second() + secs).unwrap_or(*t);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> jiff::Timestamp {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Wall-clock time that advances with tokio's clock: the system time when created plus the
/// tokio time elapsed since. Under `#[tokio::test(start_paused = true)]` it moves only when
/// tokio time does (`tokio::time::advance`, auto-advance), so timestamps are deterministic.
#[derive(Clone, Copy, Debug)]
pub struct TokioClock {
    wall: jiff::Timestamp,
    start: tokio::time::Instant,
}

impl TokioClock {
    /// A clock anchored at the current system time and tokio instant.
    pub fn new() -> Self {
        Self::starting_at(jiff::Timestamp::now())
    }
    /// A clock that reads `wall` now and advances with tokio time.
    pub fn starting_at(wall: jiff::Timestamp) -> Self {
        TokioClock {
            wall,
            start: tokio::time::Instant::now(),
        }
    }
}

impl Default for TokioClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for TokioClock {
    fn now(&self) -> jiff::Timestamp {
        let elapsed = jiff::SignedDuration::try_from(self.start.elapsed()).unwrap_or_default();
        self.wall.checked_add(elapsed).unwrap_or(self.wall)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn tokio_clock_follows_paused_time() {
        let start = jiff::Timestamp::from_second(1_700_000_000).unwrap();
        let clock = TokioClock::starting_at(start);
        assert_eq!(clock.now(), start);
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert_eq!(clock.now().as_second(), 1_700_000_030);
        let manual = ManualClock::new(start);
        manual.advance(5);
        assert_eq!(manual.now().as_second(), 1_700_000_005);
    }
}
