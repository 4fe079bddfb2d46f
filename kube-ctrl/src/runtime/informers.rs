//! Shared informers: one list+watch per kind for every controller in the process
//! (client-go `SharedInformerFactory`), plus the owner-reference index.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use kubox_core::client::Client;
use kubox_core::meta::{OwnerReference, Resource};
use kubox_core::runtime::backoff::sleep_fn;
use kubox_core::runtime::reflector::WaitUntilReady;
use kubox_core::runtime::{watcher, Change, Informer};
use tokio::task::JoinHandle;

use super::queue::WorkQueue;

/// One informer per kind, created on first use and shared by every caller.
#[doc(alias = "SharedInformerFactory")]
#[derive(Clone)]
pub struct SharedInformers {
    client: Arc<dyn Client>,
    inner: Arc<Mutex<Inner>>,
}

#[derive(Default)]
struct Inner {
    informers: HashMap<TypeId, Box<dyn Any + Send + Sync>>,
    /// Per informer: a new future of its first complete list.
    synced: Vec<Box<dyn Fn() -> WaitUntilReady + Send + Sync>>,
    drivers: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for SharedInformers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.lock().informers.len();
        f.debug_struct("SharedInformers")
            .field("kinds", &n)
            .finish()
    }
}

impl SharedInformers {
    /// A factory over `client`; informers start (on the current tokio runtime) when first
    /// requested.
    pub fn new(client: Arc<dyn Client>) -> Self {
        SharedInformers {
            client,
            inner: Arc::new(Mutex::new(Inner::default())),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The client the informers watch through.
    pub fn client(&self) -> Arc<dyn Client> {
        self.client.clone()
    }

    /// The shared informer of kind `K` across all namespaces (started on first call).
    pub fn get<K: Resource>(&self) -> Informer<K> {
        let mut inner = self.lock();
        if let Some(i) = inner.informers.get(&TypeId::of::<K>()) {
            if let Some(i) = i.downcast_ref::<Informer<K>>() {
                return i.clone();
            }
        }
        let (informer, driver) = Informer::<K>::new(
            self.client.clone(),
            None,
            watcher::Config::default(),
            sleep_fn(tokio::time::sleep),
        );
        inner.drivers.push(tokio::spawn(driver.run()));
        let i = informer.clone();
        inner.synced.push(Box::new(move || i.wait_until_ready()));
        inner
            .informers
            .insert(TypeId::of::<K>(), Box::new(informer.clone()));
        informer
    }

    /// Resolves once every informer started so far has completed its first list (client-go
    /// `WaitForCacheSync`): `true`, or `false` when an informer was shut down first. Informers
    /// started after the call are not waited for.
    ///
    /// An informer whose list keeps failing keeps this pending (its driver retries with
    /// backoff), as in client-go: acting on a partial cache would, say, create pods that
    /// already exist.
    #[doc(alias = "WaitForCacheSync")]
    pub fn wait_for_cache_sync(&self) -> impl Future<Output = bool> + Send + 'static {
        let waits: Vec<WaitUntilReady> = self.lock().synced.iter().map(|f| f()).collect();
        async move {
            futures::future::join_all(waits)
                .await
                .iter()
                .all(Result::is_ok)
        }
    }

    /// How many kinds are watched.
    pub fn len(&self) -> usize {
        self.lock().informers.len()
    }

    /// True when no informer was started.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stops every informer.
    pub fn shut_down(&self) {
        let mut inner = self.lock();
        for d in inner.drivers.drain(..) {
            d.abort();
        }
        inner.informers.clear();
        inner.synced.clear();
    }
}

/// The key of an object in a work queue: `namespace/name` or `name` (client-go
/// `MetaNamespaceKeyFunc`).
pub fn key_of<K: Resource>(obj: &K) -> String {
    let m = obj.meta();
    match m.namespace.as_deref().filter(|n| !n.is_empty()) {
        Some(ns) => format!("{ns}/{}", m.name.as_deref().unwrap_or("")),
        None => m.name.clone().unwrap_or_default(),
    }
}

/// Splits a key into `(namespace, name)` (client-go `SplitMetaNamespaceKey`).
pub fn split_key(key: &str) -> (Option<&str>, &str) {
    match key.split_once('/') {
        Some((ns, name)) => (Some(ns), name),
        None => (None, key),
    }
}

/// The managing controller's reference of `obj` (`controller: true`), if any.
pub fn controller_ref<K: Resource>(obj: &K) -> Option<&OwnerReference> {
    obj.meta()
        .owner_references
        .as_ref()?
        .iter()
        .find(|r| r.controller == Some(true))
}

/// Objects in `informer` whose controller reference points at an owner with `uid`
/// (the owner-reference index).
pub fn owned_by<K: Resource>(informer: &Informer<K>, uid: &str) -> Vec<Arc<K>> {
    informer
        .store()
        .list_by(|o| controller_ref(o).is_some_and(|r| r.uid == uid))
}

/// Spawns a task that feeds `queue` with the keys `map` derives from each change of
/// `informer` (client-go `AddEventHandler`).
pub fn enqueue_on<K, F>(informer: &Informer<K>, queue: WorkQueue, map: F) -> JoinHandle<()>
where
    K: Resource,
    F: Fn(&Change<K>) -> Vec<String> + Send + 'static,
{
    let mut changes = informer.subscribe();
    tokio::spawn(async move {
        while let Some(change) = changes.next().await {
            if queue.is_shutting_down() {
                break;
            }
            for key in map(&change) {
                queue.add(key);
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kubox_core::api::core_v1::Pod;

    #[test]
    fn keys_round_trip() {
        let mut p = Pod::new("web");
        assert_eq!(key_of(&p), "web");
        p.metadata.namespace = Some("prod".into());
        assert_eq!(key_of(&p), "prod/web");
        assert_eq!(split_key("prod/web"), (Some("prod"), "web"));
        assert_eq!(split_key("n1"), (None, "n1"));
    }
}
