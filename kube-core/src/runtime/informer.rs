//! The shared informer: one list+watch of a kind, one cache, any number of readers and
//! subscribers (client-go `SharedInformer`; kube-rs watcher → reflector → store).
//!
//! [`Informer::new`] returns the handle and its [`Driver`]. kube-core has no executor, so the
//! caller runs the driver (with tokio: `tokio::spawn(driver.run())`); it lists, watches,
//! re-watches, re-lists after a 410, waits out the backoff after each error with the
//! caller's timer, and applies every event to the cache, which fans the changes out to the
//! subscribers. The scheduler, controllers, kubelet and proxy share one informer per kind
//! instead of each watching the API server.
//!
//! ```
//! # use std::sync::Arc;
//! # use kubox_core::api::core_v1::Pod;
//! # use kubox_core::client::Client;
//! use kubox_core::runtime::{backoff::sleep_fn, informer::Informer, watcher};
//! # async fn f(client: Arc<dyn Client>, spawn: impl Fn(kubox_core::runtime::backoff::BoxFuture<()>)) {
//! # let tokio_sleep = |_d: std::time::Duration| std::future::ready(());
//! let (pods, driver) =
//!     Informer::<Pod>::new(client, None, watcher::Config::default(), sleep_fn(tokio_sleep));
//! spawn(Box::pin(driver.run())); // e.g. tokio::spawn(driver.run())
//! let mut changes = pods.subscribe(); // a Stream of Change::{Added, Updated, Deleted}
//! pods.wait_until_ready().await.unwrap();
//! let running = pods.store().list_by(|p| {
//!     p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
//! });
//! # let _ = (running, changes.try_next());
//! # }
//! ```

use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;

use super::backoff::{Backoff, ExponentialBackoff, Sleep, StreamBackoff};
use super::reflector::{self, Store, Subscription, WaitUntilReady, Writer};
use super::watcher::{self, watcher, Watcher};
use crate::client::Client;
use crate::meta::Resource;

/// A shared informer's handle: the cache and its subscriptions. Cheap to clone.
#[doc(alias = "SharedInformer")]
#[doc(alias = "SharedIndexInformer")]
pub struct Informer<K> {
    store: Store<K>,
}

impl<K> Clone for Informer<K> {
    fn clone(&self) -> Self {
        Informer {
            store: self.store.clone(),
        }
    }
}

impl<K> fmt::Debug for Informer<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Informer").finish_non_exhaustive()
    }
}

impl<K: Resource> Informer<K> {
    /// An informer on kind `K` in `namespace` (`None`: cluster-scoped kinds, or all
    /// namespaces), with the default [`ExponentialBackoff`] (800 ms doubling to 30 s) waited
    /// out with `sleep`. Nothing happens until the [`Driver`] runs.
    pub fn new(
        client: Arc<dyn Client>,
        namespace: Option<&str>,
        config: watcher::Config,
        sleep: Sleep,
    ) -> (Self, Driver<K>) {
        Self::with_backoff(
            client,
            namespace,
            config,
            ExponentialBackoff::default(),
            sleep,
        )
    }

    /// As [`new`](Informer::new), with another backoff policy.
    pub fn with_backoff(
        client: Arc<dyn Client>,
        namespace: Option<&str>,
        config: watcher::Config,
        backoff: impl Backoff + 'static,
        sleep: Sleep,
    ) -> (Self, Driver<K>) {
        let (store, writer) = reflector::store();
        let stream = StreamBackoff::new(
            watcher(client, namespace, config),
            Box::new(backoff) as Box<dyn Backoff>,
            sleep,
        );
        (Informer { store }, Driver { stream, writer })
    }

    /// The cache (a cheap reader; clone it freely).
    #[doc(alias = "Lister")]
    #[doc(alias = "GetStore")]
    pub fn store(&self) -> &Store<K> {
        &self.store
    }

    /// A new subscriber: [`Change::Added`](reflector::Change::Added) for every object cached
    /// now, then every change. See [`Store::subscribe`].
    #[doc(alias = "AddEventHandler")]
    pub fn subscribe(&self) -> Subscription<K> {
        self.store.subscribe()
    }

    /// Resolves after the first complete list. See [`Store::wait_until_ready`].
    #[doc(alias = "HasSynced")]
    pub fn wait_until_ready(&self) -> WaitUntilReady {
        self.store.wait_until_ready()
    }
}

/// The work of an [`Informer`]: a stream that applies every watcher event to the cache and
/// yields only the errors (each one already followed by a backoff wait). It never ends.
///
/// Drive it with [`run`](Driver::run), or consume it as a stream to see (e.g. log) errors.
pub struct Driver<K> {
    stream: StreamBackoff<Watcher<K>, Box<dyn Backoff>>,
    writer: Writer<K>,
}

impl<K> fmt::Debug for Driver<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Driver")
            .field("watcher", self.stream.get_ref())
            .finish_non_exhaustive()
    }
}

/// How many events the driver applies before yielding to the executor.
const BUDGET: usize = 128;

impl<K: Resource> Driver<K> {
    /// Runs the informer forever, dropping errors (consume the driver as a stream to see
    /// them).
    pub async fn run(mut self) {
        while poll_fn(|cx| Pin::new(&mut self).poll_next(cx))
            .await
            .is_some()
        {}
    }
}

impl<K: Resource> Stream for Driver<K> {
    type Item = watcher::Error;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<watcher::Error>> {
        let this = self.get_mut();
        for _ in 0..BUDGET {
            match Pin::new(&mut this.stream).poll_next(cx) {
                Poll::Ready(Some(Ok(event))) => this.writer.apply(event),
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(e)),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
        // Many events were ready: let other tasks run, then continue.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
