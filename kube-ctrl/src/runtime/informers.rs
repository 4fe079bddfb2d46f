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
///
/// A [`tracking`](Self::tracking) view shares the informers and also notes which kinds its
/// user asked for, so that its [`wait_for_cache_sync`](Self::wait_for_cache_sync) waits for
/// those only: the controller manager gives each controller such a view, and a kind that cannot
/// be listed holds back only the controllers that read it (as kube-controller-manager's
/// per-controller `WaitForNamedCacheSync`).
#[doc(alias = "SharedInformerFactory")]
#[derive(Clone)]
pub struct SharedInformers {
    client: Arc<dyn Client>,
    inner: Arc<Mutex<Inner>>,
    /// The kinds this view handed out (a tracking view only).
    used: Option<Arc<Mutex<Vec<Probe>>>>,
}

/// A new future of one informer's first complete list.
type SyncFn = Arc<dyn Fn() -> WaitUntilReady + Send + Sync>;

/// One informer's kind and first-list probe.
#[derive(Clone)]
struct Probe {
    kind: TypeId,
    name: &'static str,
    synced: SyncFn,
}

struct Entry {
    informer: Box<dyn Any + Send + Sync>,
    probe: Probe,
}

#[derive(Default)]
struct Inner {
    informers: HashMap<TypeId, Entry>,
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
            used: None,
        }
    }

    /// A view on the same informers that records the kinds asked for through it; its
    /// [`wait_for_cache_sync`](Self::wait_for_cache_sync) waits for those kinds only.
    pub fn tracking(&self) -> Self {
        SharedInformers {
            client: self.client.clone(),
            inner: self.inner.clone(),
            used: Some(Arc::default()),
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
        let (informer, probe) = self.get_or_start::<K>();
        if let Some(used) = &self.used {
            let mut used = used.lock().unwrap_or_else(|e| e.into_inner());
            if !used.iter().any(|p| p.kind == probe.kind) {
                used.push(probe);
            }
        }
        informer
    }

    fn get_or_start<K: Resource>(&self) -> (Informer<K>, Probe) {
        let mut inner = self.lock();
        if let Some(e) = inner.informers.get(&TypeId::of::<K>()) {
            if let Some(i) = e.informer.downcast_ref::<Informer<K>>() {
                return (i.clone(), e.probe.clone());
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
        let probe = Probe {
            kind: TypeId::of::<K>(),
            name: K::KIND,
            synced: Arc::new(move || i.wait_until_ready()),
        };
        inner.informers.insert(
            TypeId::of::<K>(),
            Entry {
                informer: Box::new(informer.clone()),
                probe: probe.clone(),
            },
        );
        (informer, probe)
    }

    /// Resolves once the informers have completed their first list (client-go
    /// `WaitForCacheSync`): those this view handed out for a [`tracking`](Self::tracking) view,
    /// every informer started so far otherwise. `true`, or `false` when an informer was shut
    /// down first. Informers asked for after the call are not waited for.
    ///
    /// An informer whose list keeps failing keeps this pending (its driver retries with
    /// backoff), as in client-go: acting on a partial cache would, say, create pods that
    /// already exist.
    #[doc(alias = "WaitForCacheSync")]
    pub fn wait_for_cache_sync(&self) -> impl Future<Output = bool> + Send + 'static {
        let waits: Vec<WaitUntilReady> = self.probes().iter().map(|p| (p.synced)()).collect();
        async move {
            futures::future::join_all(waits)
                .await
                .iter()
                .all(Result::is_ok)
        }
    }

    /// The kinds [`wait_for_cache_sync`](Self::wait_for_cache_sync) would wait for whose first
    /// list has not completed (for logs).
    pub fn unsynced(&self) -> Vec<&'static str> {
        let waker = futures::task::noop_waker();
        let mut cx = std::task::Context::from_waker(&waker);
        self.probes()
            .iter()
            .filter(|p| {
                let mut w = (p.synced)();
                std::pin::Pin::new(&mut w).poll(&mut cx).is_pending()
            })
            .map(|p| p.name)
            .collect()
    }

    fn probes(&self) -> Vec<Probe> {
        match &self.used {
            Some(used) => used.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            None => self
                .lock()
                .informers
                .values()
                .map(|e| e.probe.clone())
                .collect(),
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
