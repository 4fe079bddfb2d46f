//! The namespace cache of [`NamespaceLifecycle`](crate::admission::NamespaceLifecycle):
//! kube-apiserver's plugin reads namespaces from an informer and falls back to a live read
//! when the informer does not have the namespace (just created) or when the namespace was
//! deleted through this server in the last 30 s (`forceLiveLookupTTL`).
//!
//! The cache task is spawned on first use (so that building the admission chain needs no
//! runtime) and aborted when the last handle goes; it lists `/registry/namespaces/` and
//! watches from the list's revision, re-listing when the watch ends.

use futures::StreamExt;
use kube_store::{EventKind, ListOptions, Revision, Store};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;
use tokio::task::JoinHandle;

const PREFIX: &str = "/registry/namespaces/";

/// How long after a namespace delete creates in it are checked against the store.
const FORCE_LIVE_LOOKUP_TTL: Duration = Duration::from_secs(30);

/// Whether a namespace is terminating (`deletionTimestamp` or phase `Terminating`).
pub(crate) fn is_terminating(ns: &Value) -> bool {
    crate::object::meta_str(ns, "deletionTimestamp").is_some()
        || ns.pointer("/status/phase").and_then(Value::as_str) == Some("Terminating")
}

/// A namespace's state as the cache or the store knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NsState {
    /// Exists and accepts new content.
    Active,
    /// Being deleted.
    Terminating,
    /// Does not exist.
    Missing,
}

struct Abort(JoinHandle<()>);

impl Drop for Abort {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The cache (cheap to share behind an `Arc`).
pub(crate) struct NsCache {
    store: Arc<dyn Store>,
    /// name → terminating.
    map: Arc<RwLock<HashMap<String, bool>>>,
    /// Namespaces deleted recently through this server → when.
    force_live: Mutex<HashMap<String, tokio::time::Instant>>,
    task: OnceLock<Abort>,
}

impl NsCache {
    pub(crate) fn new(store: Arc<dyn Store>) -> NsCache {
        NsCache {
            store,
            map: Arc::new(RwLock::new(HashMap::new())),
            force_live: Mutex::new(HashMap::new()),
            task: OnceLock::new(),
        }
    }

    fn ensure_started(&self) {
        self.task.get_or_init(|| {
            let store = self.store.clone();
            let map = self.map.clone();
            Abort(tokio::spawn(run(store, map)))
        });
    }

    /// Records a namespace delete: creates in it are checked live for a while.
    pub(crate) fn deleted(&self, name: &str) {
        let now = tokio::time::Instant::now();
        let mut m = self.force_live.lock().unwrap_or_else(|e| e.into_inner());
        m.retain(|_, at| now.duration_since(*at) < FORCE_LIVE_LOOKUP_TTL);
        m.insert(name.to_string(), now);
    }

    fn must_look_live(&self, name: &str) -> bool {
        let m = self.force_live.lock().unwrap_or_else(|e| e.into_inner());
        m.get(name)
            .is_some_and(|at| at.elapsed() < FORCE_LIVE_LOOKUP_TTL)
    }

    /// The namespace's state: from the cache when it has the namespace, else from the store.
    pub(crate) async fn state(&self, name: &str) -> kube_store::Result<NsState> {
        self.ensure_started();
        if !self.must_look_live(name) {
            let cached = self
                .map
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .get(name)
                .copied();
            match cached {
                Some(true) => return Ok(NsState::Terminating),
                Some(false) => return Ok(NsState::Active),
                None => {}
            }
        }
        match self.store.get(&format!("{PREFIX}{name}")).await? {
            None => Ok(NsState::Missing),
            Some(kv) => {
                let ns: Value = serde_json::from_slice(&kv.value).unwrap_or_default();
                Ok(if is_terminating(&ns) {
                    NsState::Terminating
                } else {
                    NsState::Active
                })
            }
        }
    }
}

fn apply(map: &RwLock<HashMap<String, bool>>, key: &str, value: Option<&[u8]>) {
    let Some(name) = key.strip_prefix(PREFIX) else {
        return;
    };
    let mut m = map.write().unwrap_or_else(|e| e.into_inner());
    match value {
        Some(v) => {
            let ns: Value = serde_json::from_slice(v).unwrap_or_default();
            m.insert(name.to_string(), is_terminating(&ns));
        }
        None => {
            m.remove(name);
        }
    }
}

async fn run(store: Arc<dyn Store>, map: Arc<RwLock<HashMap<String, bool>>>) {
    let mut backoff = Duration::from_millis(50);
    loop {
        match list_and_watch(&*store, &map).await {
            Ok(()) => backoff = Duration::from_millis(50),
            Err(e) => {
                tracing::debug!(error = %e, "namespace cache: list/watch ended; re-listing");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

async fn list_and_watch(
    store: &dyn Store,
    map: &RwLock<HashMap<String, bool>>,
) -> kube_store::Result<()> {
    let list = store.list(PREFIX, ListOptions::default()).await?;
    let revision: Revision = list.revision;
    {
        let mut fresh = HashMap::new();
        for kv in &list.kvs {
            if let Some(name) = kv.key.strip_prefix(PREFIX) {
                let ns: Value = serde_json::from_slice(&kv.value).unwrap_or_default();
                fresh.insert(name.to_string(), is_terminating(&ns));
            }
        }
        *map.write().unwrap_or_else(|e| e.into_inner()) = fresh;
    }
    let mut events = store.watch(PREFIX, revision).await?;
    while let Some(event) = events.next().await {
        let event = event?;
        let value = match event.kind {
            EventKind::Put => Some(&event.kv.value[..]),
            EventKind::Delete => None,
        };
        apply(map, &event.kv.key, value);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube_store::embedded::EmbeddedStore;

    async fn put(store: &dyn Store, name: &str, ns: Value) {
        let key = format!("{PREFIX}{name}");
        let value = bytes::Bytes::from(ns.to_string());
        match store.get(&key).await.unwrap() {
            None => {
                store.create(&key, value).await.unwrap();
            }
            Some(kv) => {
                store
                    .update(&key, value, Some(kv.mod_revision))
                    .await
                    .unwrap();
            }
        }
    }

    #[tokio::test]
    async fn cache_then_live_lookup() {
        let store: Arc<dyn Store> = Arc::new(EmbeddedStore::in_memory());
        let cache = NsCache::new(store.clone());
        // Unknown to the cache and the store.
        assert_eq!(cache.state("a").await.unwrap(), NsState::Missing);
        // Created: found (live on a miss, then from the cache).
        put(&*store, "a", serde_json::json!({"metadata": {"name": "a"}})).await;
        assert_eq!(cache.state("a").await.unwrap(), NsState::Active);
        // Terminating: the watch brings it into the cache.
        put(
            &*store,
            "a",
            serde_json::json!({"metadata": {"name": "a"}, "status": {"phase": "Terminating"}}),
        )
        .await;
        for _ in 0..400 {
            if cache.map.read().unwrap().get("a").copied() == Some(true) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(
            cache.map.read().unwrap().get("a").copied(),
            Some(true),
            "the watch keeps the cache current"
        );
        assert_eq!(cache.state("a").await.unwrap(), NsState::Terminating);
        // A namespace deleted through the plugin is looked up live for a while.
        let rev = store
            .get("/registry/namespaces/a")
            .await
            .unwrap()
            .unwrap()
            .mod_revision;
        cache.deleted("a");
        store
            .delete("/registry/namespaces/a", Some(rev))
            .await
            .unwrap();
        assert_eq!(cache.state("a").await.unwrap(), NsState::Missing);
    }
}
