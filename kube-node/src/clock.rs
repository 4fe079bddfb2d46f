//! The kubelet's time source: wall-clock timestamps that follow tokio's clock, so that logic
//! measured in timestamps (back-off since `finishedAt`, `activeDeadlineSeconds` since
//! `startTime`, probe delays since `startedAt`) runs under paused tokio time in tests.

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    /// Now.
    fn now(&self) -> Timestamp;
}

/// Wall-clock time anchored when the clock is created and advanced by tokio's
/// [`Instant`](tokio::time::Instant): it follows `tokio::time::pause`/`advance` in tests and
/// is the real time otherwise.
#[derive(Debug, Clone)]
pub struct TokioClock {
    wall: Timestamp,
    mono: tokio::time::Instant,
}

impl TokioClock {
    /// A clock starting at the current wall time.
    pub fn new() -> Self {
        Self::starting_at(Timestamp::now())
    }

    /// A clock starting at `wall` (deterministic tests).
    pub fn starting_at(wall: Timestamp) -> Self {
        TokioClock {
            wall,
            mono: tokio::time::Instant::now(),
        }
    }

    /// This clock as a shared [`Clock`].
    pub fn shared() -> Arc<dyn Clock> {
        Arc::new(Self::new())
    }
}

impl Default for TokioClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Timestamp {
        let elapsed = SignedDuration::try_from(self.mono.elapsed()).unwrap_or(SignedDuration::MAX);
        self.wall.saturating_add(elapsed).unwrap_or(self.wall)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn follows_paused_tokio_time() {
        let start: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let clock = TokioClock::starting_at(start);
        assert_eq!(clock.now(), start);
        tokio::time::advance(Duration::from_secs(90)).await;
        assert_eq!(
            clock.now(),
            "2026-01-01T00:01:30Z".parse::<Timestamp>().unwrap()
        );
    }
}
