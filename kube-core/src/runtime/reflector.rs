//! The reflector: a cache of objects fed by [`watcher`](mod@super::watcher) events, with one
//! [`Writer`] and many cheap [`Store`] readers (kube-rs `reflector/store.rs`, client-go
//! `tools/cache` `Store`/`Indexer`).
//!
//! - Objects are keyed by [`ObjectKey`] (namespace, name) and held as `Arc<K>`: reading hands
//!   out reference-counted pointers, never deep copies.
//! - A (re-)list is buffered by the writer from [`Event::Init`] to [`Event::InitDone`] and
//!   then swapped in atomically: readers see the old state or the new one, never a mix, and
//!   objects deleted while the watcher was re-listing (after a 410) disappear.
//! - The store is **ready** after the first complete list;
//!   [`Store::wait_until_ready`] resolves then (std-only notification, no runtime needed).
//! - [`Store::subscribe`] fans the cache's changes out to any number of consumers as
//!   [`Change`]s (client-go's shared informer handlers: add, update, delete), computed once
//!   by the writer, including the difference a re-list makes.
//! - [`Store::resource_version`] is the resourceVersion the cache reflects: the list's, then
//!   each event's, then each bookmark's.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, Weak};
use std::task::{Context, Poll, Waker};

use futures_core::Stream;

use super::watcher::Event;
use crate::meta::Resource;

/// The identity of an object in a cache: namespace (`None` for cluster-scoped kinds) and
/// name. Displayed as client-go's `MetaNamespaceKeyFunc` key: `namespace/name` or `name`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    /// The namespace of a namespaced object.
    pub namespace: Option<String>,
    /// The name.
    pub name: String,
}

impl ObjectKey {
    /// The key of a namespaced object.
    pub fn namespaced(namespace: &str, name: &str) -> Self {
        ObjectKey {
            namespace: Some(namespace.to_string()),
            name: name.to_string(),
        }
    }
    /// The key of a cluster-scoped object.
    pub fn cluster(name: &str) -> Self {
        ObjectKey {
            namespace: None,
            name: name.to_string(),
        }
    }
    /// The key of `obj` (from its metadata; an empty name if it has none).
    pub fn of<K: Resource>(obj: &K) -> Self {
        let m = obj.meta();
        ObjectKey {
            namespace: m.namespace.clone().filter(|n| !n.is_empty()),
            name: m.name.clone().unwrap_or_default(),
        }
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{ns}/{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// A change of the cache, as delivered to [`Store::subscribe`]rs.
///
/// client-go's `ResourceEventHandler` (`OnAdd`, `OnUpdate`, `OnDelete`).
#[derive(Debug, PartialEq)]
pub enum Change<K> {
    /// The object entered the cache (created, started matching the selectors, or found by a
    /// re-list; or already present when the subscription started).
    Added(Arc<K>),
    /// The object changed.
    Updated {
        /// The cached state before.
        old: Arc<K>,
        /// The new state.
        new: Arc<K>,
    },
    /// The object left the cache (deleted, stopped matching, or absent from a re-list: then
    /// `K` is the last state the cache knew, client-go's `DeletedFinalStateUnknown`).
    Deleted(Arc<K>),
}

impl<K> Clone for Change<K> {
    fn clone(&self) -> Self {
        match self {
            Change::Added(k) => Change::Added(k.clone()),
            Change::Updated { old, new } => Change::Updated {
                old: old.clone(),
                new: new.clone(),
            },
            Change::Deleted(k) => Change::Deleted(k.clone()),
        }
    }
}

impl<K> Change<K> {
    /// The object as it is now (the last state for a deletion).
    pub fn object(&self) -> &Arc<K> {
        match self {
            Change::Added(k) | Change::Deleted(k) => k,
            Change::Updated { new, .. } => new,
        }
    }
}

/// The store was dropped by its writer before it became ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the writer of the store was dropped before the store became ready")]
pub struct WriterDropped;

struct Cache<K> {
    objects: HashMap<ObjectKey, Arc<K>>,
    resource_version: Option<String>,
}

struct Signal {
    ready: bool,
    closed: bool,
    next_id: u64,
    waiters: Vec<(u64, Waker)>,
}

struct SubQueue<K> {
    items: VecDeque<Change<K>>,
    waker: Option<Waker>,
    closed: bool,
}

struct Shared<K> {
    cache: RwLock<Cache<K>>,
    signal: Mutex<Signal>,
    subscribers: Mutex<Vec<Weak<Mutex<SubQueue<K>>>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<K> Shared<K> {
    fn new() -> Self {
        Shared {
            cache: RwLock::new(Cache {
                objects: HashMap::new(),
                resource_version: None,
            }),
            signal: Mutex::new(Signal {
                ready: false,
                closed: false,
                next_id: 0,
                waiters: Vec::new(),
            }),
            subscribers: Mutex::new(Vec::new()),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Cache<K>> {
        self.cache.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Cache<K>> {
        self.cache.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends `changes` to every live subscriber (called with the cache's write lock held, so
    /// that a subscription's snapshot and its first change are consistent).
    fn publish(&self, changes: Vec<Change<K>>) {
        if changes.is_empty() {
            return;
        }
        let mut subs = lock(&self.subscribers);
        subs.retain(|w| match w.upgrade() {
            None => false,
            Some(q) => {
                let mut q = lock(&q);
                q.items.extend(changes.iter().cloned());
                if let Some(w) = q.waker.take() {
                    w.wake();
                }
                true
            }
        });
    }

    fn has_subscribers(&self) -> bool {
        !lock(&self.subscribers).is_empty()
    }
}

/// A read handle on a cache: cheap to clone, safe to share between threads.
///
/// The contents may lag the API server (it is a cache); objects are immutable `Arc<K>`
/// snapshots.
pub struct Store<K> {
    shared: Arc<Shared<K>>,
}

impl<K> Clone for Store<K> {
    fn clone(&self) -> Self {
        Store {
            shared: self.shared.clone(),
        }
    }
}

impl<K> fmt::Debug for Store<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.shared.read();
        f.debug_struct("Store")
            .field("len", &c.objects.len())
            .field("resource_version", &c.resource_version)
            .field("ready", &lock(&self.shared.signal).ready)
            .finish()
    }
}

impl<K: Resource> Store<K> {
    /// The cached object with `key`.
    pub fn get(&self, key: &ObjectKey) -> Option<Arc<K>> {
        self.shared.read().objects.get(key).cloned()
    }

    /// All cached objects, in no particular order.
    pub fn list(&self) -> Vec<Arc<K>> {
        self.shared.read().objects.values().cloned().collect()
    }

    /// The cached objects for which `predicate` holds.
    pub fn list_by(&self, mut predicate: impl FnMut(&K) -> bool) -> Vec<Arc<K>> {
        self.shared
            .read()
            .objects
            .values()
            .filter(|k| predicate(k))
            .cloned()
            .collect()
    }

    /// The number of cached objects.
    pub fn len(&self) -> usize {
        self.shared.read().objects.len()
    }

    /// True when no object is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The resourceVersion the cache reflects (`None` before the first list completes).
    pub fn resource_version(&self) -> Option<String> {
        self.shared.read().resource_version.clone()
    }

    /// Subscribes to the cache's changes: first an [`Change::Added`] for every object cached
    /// now, then every change the writer makes, in order. Each subscriber has its own
    /// unbounded queue (as client-go's shared informer listeners): a slow subscriber does not
    /// hold up the writer or the others. The stream ends when the writer is dropped.
    pub fn subscribe(&self) -> Subscription<K> {
        // Holding the read lock excludes the writer (which publishes under the write lock),
        // so no change is missed or seen twice.
        let cache = self.shared.read();
        let queue = Arc::new(Mutex::new(SubQueue {
            items: cache.objects.values().cloned().map(Change::Added).collect(),
            waker: None,
            closed: lock(&self.shared.signal).closed,
        }));
        lock(&self.shared.subscribers).push(Arc::downgrade(&queue));
        drop(cache);
        Subscription { queue }
    }

    /// True once the first complete list has been applied.
    pub fn is_ready(&self) -> bool {
        lock(&self.shared.signal).ready
    }

    /// Resolves once the first complete list has been applied (at once if it has been), or
    /// with [`WriterDropped`] if the writer goes away before that.
    #[doc(alias = "HasSynced")]
    #[doc(alias = "WaitForCacheSync")]
    pub fn wait_until_ready(&self) -> WaitUntilReady {
        WaitUntilReady {
            shared: self.shared.clone(),
            id: None,
        }
    }
}

trait SignalSource: Send + Sync {
    fn signal(&self) -> &Mutex<Signal>;
}

impl<K: Send + Sync> SignalSource for Shared<K> {
    fn signal(&self) -> &Mutex<Signal> {
        &self.signal
    }
}

/// The future of [`Store::wait_until_ready`].
pub struct WaitUntilReady {
    shared: Arc<dyn SignalSource>,
    id: Option<u64>,
}

impl fmt::Debug for WaitUntilReady {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitUntilReady").finish_non_exhaustive()
    }
}

impl Future for WaitUntilReady {
    type Output = Result<(), WriterDropped>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let mut s = lock(this.shared.signal());
        if s.ready {
            return Poll::Ready(Ok(()));
        }
        if s.closed {
            return Poll::Ready(Err(WriterDropped));
        }
        let id = *this.id.get_or_insert_with(|| {
            s.next_id += 1;
            s.next_id
        });
        match s.waiters.iter_mut().find(|(i, _)| *i == id) {
            Some((_, w)) => w.clone_from(cx.waker()),
            None => s.waiters.push((id, cx.waker().clone())),
        }
        Poll::Pending
    }
}

impl Drop for WaitUntilReady {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            lock(self.shared.signal()).waiters.retain(|(i, _)| *i != id);
        }
    }
}

/// A stream of the [`Change`]s of a cache; see [`Store::subscribe`].
pub struct Subscription<K> {
    queue: Arc<Mutex<SubQueue<K>>>,
}

impl<K> fmt::Debug for Subscription<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("queued", &lock(&self.queue).items.len())
            .finish()
    }
}

impl<K> Subscription<K> {
    /// Takes the next queued change without waiting.
    pub fn try_next(&mut self) -> Option<Change<K>> {
        lock(&self.queue).items.pop_front()
    }
}

impl<K> Stream for Subscription<K> {
    type Item = Change<K>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Change<K>>> {
        let mut q = lock(&self.queue);
        if let Some(c) = q.items.pop_front() {
            return Poll::Ready(Some(c));
        }
        if q.closed {
            return Poll::Ready(None);
        }
        q.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// The one write handle of a cache. Apply watcher events to it with
/// [`apply_watcher_event`](Writer::apply_watcher_event) (or let [`reflector`] or the
/// [`Informer`](super::informer::Informer) do it); hand out readers with
/// [`as_reader`](Writer::as_reader).
///
/// There is exactly one writer per cache: two watchers feeding one store would clobber each
/// other's lists.
pub struct Writer<K> {
    shared: Arc<Shared<K>>,
    buffer: Option<HashMap<ObjectKey, Arc<K>>>,
}

impl<K> fmt::Debug for Writer<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Writer")
            .field("listing", &self.buffer.as_ref().map(HashMap::len))
            .finish_non_exhaustive()
    }
}

impl<K: Resource> Default for Writer<K> {
    fn default() -> Self {
        Writer {
            shared: Arc::new(Shared::new()),
            buffer: None,
        }
    }
}

/// A new, empty cache: its reader and its writer.
pub fn store<K: Resource>() -> (Store<K>, Writer<K>) {
    let w = Writer::default();
    (w.as_reader(), w)
}

impl<K: Resource> Writer<K> {
    /// A reader of this cache.
    pub fn as_reader(&self) -> Store<K> {
        Store {
            shared: self.shared.clone(),
        }
    }

    /// Applies one watcher event, taking ownership of its object (no copy).
    pub fn apply(&mut self, event: Event<K>) {
        match event {
            Event::Init => self.buffer = Some(HashMap::new()),
            Event::InitApply(obj) => {
                let obj = Arc::new(obj);
                self.buffer
                    .get_or_insert_with(HashMap::new)
                    .insert(ObjectKey::of(&*obj), obj);
            }
            Event::InitDone { resource_version } => {
                let fresh = self.buffer.take().unwrap_or_default();
                let mut cache = self.shared.write();
                let old = std::mem::replace(&mut cache.objects, fresh);
                cache.resource_version = Some(resource_version);
                // Checked under the write lock: a subscriber registered before it sees the
                // difference, one registered after it starts from the new state.
                if self.shared.has_subscribers() {
                    self.shared.publish(diff(&old, &cache.objects));
                }
                drop(cache);
                let waiters = {
                    let mut s = lock(&self.shared.signal);
                    s.ready = true;
                    std::mem::take(&mut s.waiters)
                };
                waiters.into_iter().for_each(|(_, w)| w.wake());
            }
            Event::Apply(obj) => {
                let obj = Arc::new(obj);
                let key = ObjectKey::of(&*obj);
                let mut cache = self.shared.write();
                if let Some(rv) = obj.meta().resource_version.clone() {
                    cache.resource_version = Some(rv);
                }
                let change = match cache.objects.insert(key, obj.clone()) {
                    None => Change::Added(obj),
                    Some(old) => Change::Updated { old, new: obj },
                };
                self.shared.publish(vec![change]);
                drop(cache);
            }
            Event::Delete(obj) => {
                let key = ObjectKey::of(&obj);
                let mut cache = self.shared.write();
                if let Some(rv) = obj.meta().resource_version.clone() {
                    cache.resource_version = Some(rv);
                }
                if cache.objects.remove(&key).is_some() {
                    self.shared.publish(vec![Change::Deleted(Arc::new(obj))]);
                }
                drop(cache);
            }
            Event::Bookmark { resource_version } => {
                self.shared.write().resource_version = Some(resource_version);
            }
        }
    }

    /// Applies one watcher event by reference (the object is cloned once into the cache).
    pub fn apply_watcher_event(&mut self, event: &Event<K>) {
        self.apply(event.clone());
    }
}

impl<K> Drop for Writer<K> {
    fn drop(&mut self) {
        // The write lock excludes a concurrent `subscribe`, so every subscription is closed.
        let _cache = self.shared.write();
        let waiters = {
            let mut s = lock(&self.shared.signal);
            s.closed = true;
            std::mem::take(&mut s.waiters)
        };
        waiters.into_iter().for_each(|(_, w)| w.wake());
        for q in lock(&self.shared.subscribers).drain(..) {
            if let Some(q) = q.upgrade() {
                let mut q = lock(&q);
                q.closed = true;
                if let Some(w) = q.waker.take() {
                    w.wake();
                }
            }
        }
    }
}

/// The changes that turn `old` into `new`: deletions, then additions and updates. An object
/// whose resourceVersion did not change is not reported.
fn diff<K: Resource>(
    old: &HashMap<ObjectKey, Arc<K>>,
    new: &HashMap<ObjectKey, Arc<K>>,
) -> Vec<Change<K>> {
    let mut out: Vec<Change<K>> = old
        .iter()
        .filter(|(k, _)| !new.contains_key(*k))
        .map(|(_, v)| Change::Deleted(v.clone()))
        .collect();
    for (k, v) in new {
        match old.get(k) {
            None => out.push(Change::Added(v.clone())),
            Some(o) if o.meta().resource_version != v.meta().resource_version => {
                out.push(Change::Updated {
                    old: o.clone(),
                    new: v.clone(),
                })
            }
            Some(_) => {}
        }
    }
    out
}

/// Caches the events of `stream` into `writer` and passes them through unchanged (kube-rs'
/// `reflector()`): the composable form, for a pipeline that also consumes the events.
pub fn reflector<K, S>(writer: Writer<K>, stream: S) -> Reflector<K, S>
where
    K: Resource,
    S: Stream<Item = super::watcher::Result<Event<K>>>,
{
    Reflector { writer, stream }
}

/// The stream of [`reflector`].
pub struct Reflector<K, S> {
    writer: Writer<K>,
    stream: S,
}

impl<K, S> fmt::Debug for Reflector<K, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reflector")
            .field("writer", &self.writer)
            .finish_non_exhaustive()
    }
}

impl<K, S> Stream for Reflector<K, S>
where
    K: Resource,
    S: Stream<Item = super::watcher::Result<Event<K>>> + Unpin,
{
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let this = self.get_mut();
        let item = Pin::new(&mut this.stream).poll_next(cx);
        if let Poll::Ready(Some(Ok(ev))) = &item {
            this.writer.apply_watcher_event(ev);
        }
        item
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::core_v1::ConfigMap;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::task::Wake;

    fn cm(ns: &str, name: &str, rv: u64) -> ConfigMap {
        let mut c = ConfigMap::new(name);
        c.metadata.namespace = Some(ns.into());
        c.metadata.resource_version = Some(rv.to_string());
        c
    }

    fn done(rv: u64) -> Event<ConfigMap> {
        Event::InitDone {
            resource_version: rv.to_string(),
        }
    }

    fn names(s: &Store<ConfigMap>) -> Vec<String> {
        let mut v: Vec<_> = s
            .list()
            .iter()
            .map(|c| ObjectKey::of(&**c).to_string())
            .collect();
        v.sort();
        v
    }

    /// `(kind, key, resourceVersion)` of a change, for table comparisons.
    fn summary(c: &Change<ConfigMap>) -> (&'static str, String, String) {
        let kind = match c {
            Change::Added(_) => "add",
            Change::Updated { .. } => "update",
            Change::Deleted(_) => "delete",
        };
        let o = c.object();
        (
            kind,
            ObjectKey::of(&**o).to_string(),
            o.metadata.resource_version.clone().unwrap_or_default(),
        )
    }

    fn drain(sub: &mut Subscription<ConfigMap>) -> Vec<(&'static str, String, String)> {
        std::iter::from_fn(|| sub.try_next())
            .map(|c| summary(&c))
            .collect()
    }

    fn s(kind: &'static str, key: &str, rv: u64) -> (&'static str, String, String) {
        (kind, key.to_string(), rv.to_string())
    }

    struct Flag(AtomicBool);
    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    fn poll_once<F: Future + Unpin>(f: &mut F, flag: &Arc<Flag>) -> Poll<F::Output> {
        let waker = Waker::from(flag.clone());
        Pin::new(f).poll(&mut Context::from_waker(&waker))
    }

    #[test]
    fn list_then_apply_and_delete() {
        let (store, mut w) = store::<ConfigMap>();
        assert!(!store.is_ready());
        assert_eq!(store.resource_version(), None);
        w.apply(Event::Init);
        w.apply(Event::InitApply(cm("default", "a", 3)));
        w.apply(Event::InitApply(cm("default", "b", 4)));
        assert!(store.is_empty(), "a list in progress is not visible");
        w.apply(done(10));
        assert!(store.is_ready());
        assert_eq!(names(&store), ["default/a", "default/b"]);
        assert_eq!(store.resource_version().as_deref(), Some("10"));

        w.apply(Event::Apply(cm("default", "c", 11)));
        w.apply(Event::Apply(cm("default", "a", 12)));
        w.apply(Event::Delete(cm("default", "b", 13)));
        assert_eq!(names(&store), ["default/a", "default/c"]);
        let a = store.get(&ObjectKey::namespaced("default", "a")).unwrap();
        assert_eq!(a.metadata.resource_version.as_deref(), Some("12"));
        assert!(store.get(&ObjectKey::namespaced("default", "b")).is_none());
        assert!(store.get(&ObjectKey::namespaced("other", "a")).is_none());
        assert_eq!(store.resource_version().as_deref(), Some("13"));
        assert_eq!(store.len(), 2);
        let only_c = store.list_by(|c| c.metadata.name.as_deref() == Some("c"));
        assert_eq!(only_c.len(), 1);

        w.apply(Event::Bookmark {
            resource_version: "20".into(),
        });
        assert_eq!(store.resource_version().as_deref(), Some("20"));
        // Deleting something unknown changes nothing but the resourceVersion.
        w.apply(Event::Delete(cm("default", "zzz", 21)));
        assert_eq!(store.len(), 2);
        assert_eq!(store.resource_version().as_deref(), Some("21"));
    }

    #[test]
    fn relist_replaces_atomically_and_drops_what_was_deleted_in_the_gap() {
        let (store, mut w) = store::<ConfigMap>();
        w.apply(Event::Init);
        for (n, rv) in [("a", 1), ("b", 2), ("c", 3)] {
            w.apply(Event::InitApply(cm("default", n, rv)));
        }
        w.apply(done(3));
        let mut sub = store.subscribe();
        assert_eq!(
            {
                let mut v = drain(&mut sub);
                v.sort();
                v
            },
            [
                s("add", "default/a", 1),
                s("add", "default/b", 2),
                s("add", "default/c", 3)
            ],
            "a new subscriber first sees the cached objects"
        );

        // 410 → re-list: b was deleted, c modified, d created during the gap.
        w.apply(Event::Init);
        w.apply(Event::InitApply(cm("default", "a", 1)));
        w.apply(Event::InitApply(cm("default", "c", 7)));
        assert_eq!(
            names(&store),
            ["default/a", "default/b", "default/c"],
            "readers keep the old state until InitDone"
        );
        assert_eq!(store.resource_version().as_deref(), Some("3"));
        w.apply(Event::InitApply(cm("default", "d", 8)));
        w.apply(done(9));
        assert_eq!(names(&store), ["default/a", "default/c", "default/d"]);
        assert_eq!(store.resource_version().as_deref(), Some("9"));
        let mut changes = drain(&mut sub);
        changes.sort();
        assert_eq!(
            changes,
            [
                s("add", "default/d", 8),
                s("delete", "default/b", 2),
                s("update", "default/c", 7),
            ],
            "a re-list publishes its difference; unchanged a is not reported"
        );

        // An interrupted list (Init again before InitDone) starts the buffer over.
        w.apply(Event::Init);
        w.apply(Event::InitApply(cm("default", "x", 10)));
        w.apply(Event::Init);
        w.apply(Event::InitApply(cm("default", "a", 1)));
        w.apply(done(11));
        assert_eq!(names(&store), ["default/a"]);
        // An empty re-list empties the cache.
        w.apply(Event::Init);
        w.apply(done(12));
        assert!(store.is_empty());
        assert!(store.is_ready());
    }

    #[test]
    fn subscribers_see_the_same_changes_in_order() {
        let (store, mut w) = store::<ConfigMap>();
        let mut early = store.subscribe();
        w.apply(Event::Init);
        w.apply(Event::InitApply(cm("default", "a", 1)));
        w.apply(done(1));
        let mut late = store.subscribe();
        let dropped = store.subscribe();
        drop(dropped);
        w.apply(Event::Apply(cm("default", "a", 2)));
        w.apply(Event::Apply(cm("default", "b", 3)));
        w.apply(Event::Delete(cm("default", "a", 4)));
        let want = [
            s("add", "default/a", 1),
            s("update", "default/a", 2),
            s("add", "default/b", 3),
            s("delete", "default/a", 4),
        ];
        assert_eq!(drain(&mut early), want);
        assert_eq!(drain(&mut late), want);
        assert_eq!(
            lock(&store.shared.subscribers).len(),
            2,
            "dropped ones are pruned"
        );
        // Updated carries the old state too.
        w.apply(Event::Apply(cm("default", "b", 5)));
        match early.try_next() {
            Some(Change::Updated { old, new }) => {
                assert_eq!(old.metadata.resource_version.as_deref(), Some("3"));
                assert_eq!(new.metadata.resource_version.as_deref(), Some("5"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn readiness_wakes_waiters_once_and_writer_drop_ends_everything() {
        let (store, mut w) = store::<ConfigMap>();
        let flag = Arc::new(Flag(AtomicBool::new(false)));
        let mut ready = store.wait_until_ready();
        assert!(poll_once(&mut ready, &flag).is_pending());
        w.apply(Event::Init);
        w.apply(Event::InitApply(cm("default", "a", 1)));
        assert!(!flag.0.load(Ordering::SeqCst));
        w.apply(done(1));
        assert!(flag.0.load(Ordering::SeqCst), "InitDone wakes the waiter");
        assert_eq!(poll_once(&mut ready, &flag), Poll::Ready(Ok(())));
        let mut again = store.wait_until_ready();
        assert_eq!(poll_once(&mut again, &flag), Poll::Ready(Ok(())));

        // A subscription ends (after its queue) when the writer goes.
        let mut sub = store.subscribe();
        drop(w);
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        assert!(matches!(
            Pin::new(&mut sub).poll_next(&mut cx),
            Poll::Ready(Some(Change::Added(_)))
        ));
        assert!(matches!(
            Pin::new(&mut sub).poll_next(&mut cx),
            Poll::Ready(None)
        ));
        assert_eq!(store.len(), 1, "the reader keeps the last state");

        let (store, w) = super::store::<ConfigMap>();
        let mut never = store.wait_until_ready();
        let flag = Arc::new(Flag(AtomicBool::new(false)));
        assert!(poll_once(&mut never, &flag).is_pending());
        drop(w);
        assert!(flag.0.load(Ordering::SeqCst));
        assert_eq!(
            poll_once(&mut never, &flag),
            Poll::Ready(Err(WriterDropped))
        );
    }

    #[test]
    fn keys_display_as_client_go_keys() {
        assert_eq!(ObjectKey::namespaced("ns", "a").to_string(), "ns/a");
        assert_eq!(ObjectKey::cluster("n1").to_string(), "n1");
        assert_eq!(
            ObjectKey::of(&cm("ns", "a", 1)),
            ObjectKey::namespaced("ns", "a")
        );
    }
}
