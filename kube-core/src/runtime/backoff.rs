//! Retry delays for the watcher, and the caller-supplied timer that waits them out.
//!
//! kube-core does no IO and has no timer: it cannot depend on tokio (or any runtime) to
//! sleep. So the policy (a [`Backoff`]: which delay comes next) is plain data here, and the
//! act of waiting is a [`Sleep`] function the caller passes in. Tokio users pass
//! `tokio::time::sleep` through [`sleep_fn`]; tests under `#[tokio::test(start_paused = true)]`
//! get backoffs that take no wall-clock time; other runtimes pass their own timer.
//!
//! [`StreamBackoff`] applies a policy to a stream of `Result`s: after an `Err` item it waits
//! [`Backoff::next_delay`] before polling the inner stream again, and an `Ok` item resets the
//! policy. The [`watcher`](mod@super::watcher) itself never sleeps: it surfaces every error as an
//! item and recovers on the next poll, so the driver decides how long to wait.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;

/// A boxed, `Send` future (as `futures::future::BoxFuture`, without the dependency).
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// A timer supplied by the caller: a future that completes after the given duration.
///
/// With tokio: `sleep_fn(tokio::time::sleep)`.
pub type Sleep = Arc<dyn Fn(Duration) -> BoxFuture<()> + Send + Sync>;

/// Wraps a timer function (such as `tokio::time::sleep`) into a [`Sleep`].
///
/// ```
/// # use std::time::Duration;
/// # use kubox_core::runtime::backoff::{sleep_fn, Sleep};
/// // A runtime-agnostic timer that does not wait at all (fine for tests of the logic only).
/// let sleep: Sleep = sleep_fn(|_d: Duration| std::future::ready(()));
/// # let _ = sleep;
/// ```
pub fn sleep_fn<F, Fut>(f: F) -> Sleep
where
    F: Fn(Duration) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    Arc::new(move |d| Box::pin(f(d)) as BoxFuture<()>)
}

/// A retry policy: the delay before the next attempt after a failure.
///
/// # Contract
///
/// - [`next_delay`](Backoff::next_delay) is called once per consecutive failure and returns
///   the time to wait before retrying; informers retry forever, so there is no "give up".
/// - [`reset`](Backoff::reset) is called after a success; the next failure starts the
///   sequence again.
pub trait Backoff: Send {
    /// The delay before the next retry.
    fn next_delay(&mut self) -> Duration;
    /// Forget the failures so far.
    fn reset(&mut self);
}

/// A source of uniformly distributed numbers in `[0, 1)` for jitter, supplied by the caller
/// (kube-core has no random number generator).
pub type Random = Arc<dyn Fn() -> f64 + Send + Sync>;

/// Exponential backoff: `initial`, `initial × factor`, … capped at `max`, optionally with
/// jitter.
///
/// The default is client-go's reflector backoff and kube-rs' `DefaultBackoff`: 800 ms,
/// doubling, capped at 30 s, no jitter unless a random source is given with
/// [`jitter`](ExponentialBackoff::jitter).
#[derive(Clone)]
pub struct ExponentialBackoff {
    /// The first delay.
    pub initial: Duration,
    /// The largest delay (before jitter).
    pub max: Duration,
    /// The growth factor between consecutive delays.
    pub factor: f64,
    jitter: Option<(f64, Random)>,
    current: Option<Duration>,
}

impl fmt::Debug for ExponentialBackoff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExponentialBackoff")
            .field("initial", &self.initial)
            .field("max", &self.max)
            .field("factor", &self.factor)
            .field("jitter", &self.jitter.as_ref().map(|(j, _)| *j))
            .field("current", &self.current)
            .finish()
    }
}

impl Default for ExponentialBackoff {
    fn default() -> Self {
        ExponentialBackoff::new(Duration::from_millis(800), Duration::from_secs(30), 2.0)
    }
}

impl ExponentialBackoff {
    /// A backoff from `initial` growing by `factor` up to `max`, without jitter.
    pub fn new(initial: Duration, max: Duration, factor: f64) -> Self {
        ExponentialBackoff {
            initial,
            max,
            factor: factor.max(1.0),
            jitter: None,
            current: None,
        }
    }

    /// Spreads each delay uniformly over `delay × [1 - fraction, 1 + fraction)` using
    /// `random` (values in `[0, 1)`), so that many clients failing together do not retry in
    /// lockstep. `fraction` is clamped to `[0, 1]`.
    #[must_use]
    pub fn jitter(mut self, fraction: f64, random: Random) -> Self {
        self.jitter = Some((fraction.clamp(0.0, 1.0), random));
        self
    }
}

impl Backoff for ExponentialBackoff {
    fn next_delay(&mut self) -> Duration {
        let base = match self.current {
            None => self.initial.min(self.max),
            Some(d) => d.mul_f64(self.factor).min(self.max),
        };
        self.current = Some(base);
        match &self.jitter {
            None => base,
            Some((fraction, random)) => {
                let r = random().clamp(0.0, 1.0);
                base.mul_f64((1.0 - fraction + 2.0 * fraction * r).max(0.0))
            }
        }
    }

    fn reset(&mut self) {
        self.current = None;
    }
}

impl<B: Backoff + ?Sized> Backoff for Box<B> {
    fn next_delay(&mut self) -> Duration {
        (**self).next_delay()
    }
    fn reset(&mut self) {
        (**self).reset()
    }
}

/// A stream of `Result`s that waits [`Backoff::next_delay`] after every `Err` item before
/// polling the inner stream again; an `Ok` item resets the backoff.
///
/// The error is yielded first (so the consumer sees it at once), then the wait happens on
/// the next poll.
pub struct StreamBackoff<S, B> {
    inner: S,
    backoff: B,
    sleep: Sleep,
    waiting: Option<BoxFuture<()>>,
    failed: bool,
}

impl<S, B> fmt::Debug for StreamBackoff<S, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamBackoff")
            .field("waiting", &self.waiting.is_some())
            .finish_non_exhaustive()
    }
}

impl<S, B> StreamBackoff<S, B> {
    /// Applies `backoff` to `inner`, waiting with `sleep`.
    pub fn new(inner: S, backoff: B, sleep: Sleep) -> Self {
        StreamBackoff {
            inner,
            backoff,
            sleep,
            waiting: None,
            failed: false,
        }
    }

    /// The inner stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S, B, T, E> Stream for StreamBackoff<S, B>
where
    S: Stream<Item = Result<T, E>> + Unpin,
    B: Backoff + Unpin,
{
    type Item = Result<T, E>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.failed {
            this.failed = false;
            let delay = this.backoff.next_delay();
            this.waiting = Some((this.sleep)(delay));
        }
        if let Some(w) = this.waiting.as_mut() {
            match w.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(()) => this.waiting = None,
            }
        }
        let item = Pin::new(&mut this.inner).poll_next(cx);
        match &item {
            Poll::Ready(Some(Err(_))) => this.failed = true,
            Poll::Ready(Some(Ok(_))) => this.backoff.reset(),
            _ => {}
        }
        item
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(v: &[Duration]) -> Vec<f64> {
        v.iter().map(Duration::as_secs_f64).collect()
    }

    #[test]
    fn exponential_doubles_up_to_the_cap_and_resets() {
        let mut b = ExponentialBackoff::default();
        let seq: Vec<_> = (0..9).map(|_| b.next_delay()).collect();
        assert_eq!(
            secs(&seq),
            [0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30.0, 30.0, 30.0]
        );
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_millis(800));
    }

    #[test]
    fn jitter_stays_within_its_fraction() {
        for (r, want) in [(0.0, 400), (0.5, 800), (0.999_999, 1199)] {
            let mut b = ExponentialBackoff::default().jitter(0.5, Arc::new(move || r));
            let d = b.next_delay().as_millis();
            assert!(d.abs_diff(want) <= 1, "r={r}: {d}ms, want ~{want}ms");
        }
    }
}

#[cfg(test)]
mod stream_tests {
    use super::*;
    use std::collections::VecDeque;
    use std::sync::Mutex;
    use std::task::Waker;

    struct Items(VecDeque<Result<u32, u32>>);
    impl Stream for Items {
        type Item = Result<u32, u32>;
        fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            Poll::Ready(self.0.pop_front())
        }
    }

    #[test]
    fn waits_after_each_error_and_resets_on_success() {
        let slept = Arc::new(Mutex::new(Vec::new()));
        let record = slept.clone();
        let sleep: Sleep = Arc::new(move |d| {
            record.lock().unwrap().push(d.as_millis());
            Box::pin(std::future::ready(()))
        });
        let items = [Err(1), Err(2), Err(3), Ok(4), Err(5), Ok(6)];
        let mut s = StreamBackoff::new(
            Items(items.into_iter().collect()),
            ExponentialBackoff::default(),
            sleep,
        );
        let mut cx = Context::from_waker(Waker::noop());
        let mut out = Vec::new();
        while let Poll::Ready(Some(item)) = Pin::new(&mut s).poll_next(&mut cx) {
            out.push(item);
        }
        assert_eq!(out, items);
        assert_eq!(*slept.lock().unwrap(), [800, 1600, 3200, 800]);
    }
}
