//! The client-side runtime: the watcher, the reflector cache and the shared informer that
//! the scheduler, controllers, kubelet and proxy build on (kube-rs `kube-runtime`; client-go
//! `tools/cache`).
//!
//! Everything here works over any [`Client`](crate::client::Client) and does no IO of its
//! own: the caller supplies the timer ([`backoff::Sleep`]) and runs the futures.
//!
//! - [`watcher`](mod@watcher): list + watch of one kind as a stream of [`watcher::Event`]s, resuming from
//!   the last resourceVersion and re-listing after a 410.
//! - [`backoff`]: the [`backoff::Backoff`] policy trait, [`backoff::ExponentialBackoff`]
//!   (800 ms → 30 s) and [`backoff::StreamBackoff`], which waits between errors with the
//!   caller's timer.
//! - [`reflector`]: the cache ([`reflector::Store`] readers, one [`reflector::Writer`]),
//!   atomic replacement at each re-list, readiness, resourceVersion, change subscriptions.
//! - [`informer`]: all of it together — one [`informer::Informer`] per kind, shared.
//! - [`leader`]: leader election on a coordination.k8s.io Lease (client-go `leaderelection`).
//! - [`events`]: the core/v1 Event recorder with client-go's deduplication and aggregation.

pub mod backoff;
pub mod events;
pub mod informer;
pub mod leader;
pub mod reflector;
pub mod watcher;

pub use informer::Informer;
pub use reflector::{Change, ObjectKey, Store, Writer};
pub use watcher::{watcher, Event};
