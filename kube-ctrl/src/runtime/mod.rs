//! The controller runtime: work queue, shared informers, the [`Controller`] trait and its
//! workers, metrics.

pub mod controller;
pub mod informers;
pub mod metrics;
pub mod queue;

use std::sync::Arc;

use kubox_core::client::Client;
use kubox_core::runtime::events::Recorder;
use kubox_core::runtime::leader::Clock;

pub use controller::{Action, Controller, Error, Result};
pub use informers::{enqueue_on, key_of, split_key, SharedInformers};
pub use metrics::{ControllerMetrics, Metrics};
pub use queue::{RateLimiter, WorkQueue};

/// What a controller is built from: the client, the process' shared informers and clock.
#[derive(Clone)]
pub struct Context {
    /// The API client.
    pub client: Arc<dyn Client>,
    /// The shared informers (one watch per kind).
    pub informers: SharedInformers,
    /// The wall clock (advances with tokio time in tests).
    pub clock: Clock,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("informers", &self.informers)
            .finish_non_exhaustive()
    }
}

impl Context {
    /// The current time from the context's clock.
    pub fn now(&self) -> jiff::Timestamp {
        (self.clock)()
    }

    /// An Event recorder for `component`.
    pub fn recorder(&self, component: &str) -> Recorder {
        Recorder::new(self.client.clone(), component, self.clock.clone())
    }
}

/// A clock that follows tokio's (pausable) time, anchored at the system time when created:
/// under `start_paused` tests, timestamps advance exactly with `tokio::time::advance`.
pub fn tokio_clock() -> Clock {
    let start = tokio::time::Instant::now();
    let base = jiff::Timestamp::now();
    Arc::new(move || base + jiff::SignedDuration::try_from(start.elapsed()).unwrap_or_default())
}
