//! kubox-core's runtime (watcher, reflector, shared informer) against a real `ApiServer` over
//! the in-process client: initial sync with pagination, convergence under adds, updates and
//! deletes, re-watch without re-list when a watch ends, re-list after a 410 caused by
//! compaction behind the watcher, selectors, bookmarks under paused time, streaming lists,
//! and fan-out to several subscribers.

use async_trait::async_trait;
use futures::StreamExt;
use kube_api::{ApiServer, LocalClient};
use kube_store::embedded::EmbeddedStore;
use kubox_core::api::core_v1::{ConfigMap, Pod};
use kubox_core::client::{
    self, Api, Client, DeleteParams, GroupVersionResource, ListParams, Patch, PatchParams,
    PostParams, Request, Verb, WatchParams, WatchStream,
};
use kubox_core::runtime::backoff::{sleep_fn, ExponentialBackoff, Sleep};
use kubox_core::runtime::informer::Informer;
use kubox_core::runtime::reflector::{self, reflector, Change, ObjectKey, Store, Subscription};
use kubox_core::runtime::watcher::{self, watcher, Event};
use serde_json::{json, Value};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

fn tokio_sleep() -> Sleep {
    sleep_fn(tokio::time::sleep)
}

async fn setup_with(server: ApiServer) -> (ApiServer, Arc<dyn Client>) {
    server.ensure_system_namespaces().await.unwrap();
    let client = LocalClient::admin(server.clone()).into_client();
    (server, client)
}

async fn setup() -> (ApiServer, Arc<dyn Client>) {
    setup_with(ApiServer::new(Arc::new(EmbeddedStore::in_memory()))).await
}

fn cm(name: &str, labels: &[(&str, &str)]) -> ConfigMap {
    let labels: serde_json::Map<String, Value> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}})).unwrap()
}

fn pod(name: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]}
    }))
    .unwrap()
}

fn key(name: &str) -> ObjectKey {
    ObjectKey::namespaced("default", name)
}

fn sorted_names<K: kubox_core::meta::Resource>(store: &Store<K>) -> Vec<String> {
    let mut v: Vec<String> = store
        .list()
        .iter()
        .map(|o| ObjectKey::of(&**o).to_string())
        .collect();
    v.sort();
    v
}

/// Waits (up to 10 s, of paused or real time) until `cond` holds.
async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn ready<K>(inf: &Informer<K>)
where
    K: kubox_core::meta::Resource,
{
    tokio::time::timeout(Duration::from_secs(10), inf.wait_until_ready())
        .await
        .expect("informer syncs within 10 s")
        .unwrap();
}

/// `(kind, name, data.v)` of a change.
fn summary(c: &Change<ConfigMap>) -> (&'static str, String, Option<String>) {
    let kind = match c {
        Change::Added(_) => "add",
        Change::Updated { .. } => "update",
        Change::Deleted(_) => "delete",
    };
    let o = c.object();
    (
        kind,
        o.metadata.name.clone().unwrap(),
        o.data.as_ref().and_then(|d| d.get("v").cloned()),
    )
}

async fn take(
    sub: &mut Subscription<ConfigMap>,
    n: usize,
) -> Vec<(&'static str, String, Option<String>)> {
    let mut out = Vec::new();
    for _ in 0..n {
        let c = tokio::time::timeout(Duration::from_secs(10), sub.next())
            .await
            .expect("a change within 10 s")
            .expect("the subscription is open");
        out.push(summary(&c));
    }
    out
}

fn set_data(v: &str) -> Patch {
    Patch::Merge(json!({"data": {"v": v}}))
}

/// Spawns the driver, recording the errors it yields.
fn spawn_driver<K: kubox_core::meta::Resource>(
    driver: kubox_core::runtime::informer::Driver<K>,
) -> (Arc<Mutex<Vec<watcher::Error>>>, tokio::task::JoinHandle<()>) {
    let errors = Arc::new(Mutex::new(Vec::new()));
    let e = errors.clone();
    let task = tokio::spawn(async move {
        let mut driver = driver;
        while let Some(err) = driver.next().await {
            e.lock().unwrap().push(err);
        }
    });
    (errors, task)
}

/// A client that counts LIST and WATCH calls and can hold watches: while the gate is closed,
/// open watch streams end and new watches wait (fault injection through the public trait).
struct GatedClient {
    inner: Arc<dyn Client>,
    gate: tokio::sync::watch::Sender<bool>,
    lists: AtomicUsize,
    watches: AtomicUsize,
}

impl GatedClient {
    fn new(inner: Arc<dyn Client>) -> Arc<Self> {
        Arc::new(GatedClient {
            inner,
            gate: tokio::sync::watch::channel(true).0,
            lists: AtomicUsize::new(0),
            watches: AtomicUsize::new(0),
        })
    }
}

struct GatedStream {
    inner: WatchStream,
    gate: tokio::sync::watch::Receiver<bool>,
}

impl futures::Stream for GatedStream {
    type Item = client::Result<kubox_core::meta::WatchEvent<Value>>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if !*self.gate.borrow() {
            return Poll::Ready(None);
        }
        self.inner.as_mut().poll_next(cx)
    }
}

#[async_trait]
impl Client for GatedClient {
    async fn call(&self, request: Request) -> client::Result<Value> {
        if matches!(request.verb, Verb::List(_)) {
            self.lists.fetch_add(1, Ordering::SeqCst);
        }
        self.inner.call(request).await
    }

    async fn watch(
        &self,
        resource: &GroupVersionResource,
        namespace: Option<&str>,
        params: &WatchParams,
    ) -> client::Result<WatchStream> {
        let mut gate = self.gate.subscribe();
        gate.wait_for(|open| *open).await.unwrap();
        self.watches.fetch_add(1, Ordering::SeqCst);
        let inner = self.inner.watch(resource, namespace, params).await?;
        Ok(Box::pin(GatedStream { inner, gate }))
    }
}

async fn next_ev<S>(events: &mut S) -> Event<ConfigMap>
where
    S: futures::Stream<Item = watcher::Result<Event<ConfigMap>>> + Unpin,
{
    tokio::time::timeout(Duration::from_secs(10), events.next())
        .await
        .expect("an event within 10 s")
        .unwrap()
        .unwrap()
}

fn fast_backoff() -> ExponentialBackoff {
    ExponentialBackoff::new(Duration::from_millis(10), Duration::from_millis(100), 2.0)
}

#[tokio::test]
async fn watcher_lists_in_pages_then_watches() {
    let (_server, client) = setup().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    for i in 0..7 {
        cms.create(&PostParams::default(), &cm(&format!("cm-{i}"), &[]))
            .await
            .unwrap();
    }
    let counting = GatedClient::new(client.clone());
    let (store, writer) = reflector::store::<ConfigMap>();
    let mut events = reflector(
        writer,
        watcher::<ConfigMap>(
            counting.clone(),
            Some("default"),
            watcher::Config::default().page_size(3),
        ),
    );
    assert_eq!(next_ev(&mut events).await, Event::Init);
    let mut listed = Vec::new();
    let list_rv = loop {
        match next_ev(&mut events).await {
            Event::InitApply(c) => listed.push(c.metadata.name.unwrap()),
            Event::InitDone { resource_version } => break resource_version,
            other => panic!("unexpected {other:?}"),
        }
    };
    listed.sort();
    assert_eq!(
        listed,
        (0..7).map(|i| format!("cm-{i}")).collect::<Vec<_>>()
    );
    assert_eq!(
        counting.lists.load(Ordering::SeqCst),
        3,
        "7 objects in pages of 3"
    );
    assert_eq!(store.len(), 7);
    assert_eq!(store.resource_version(), Some(list_rv.clone()));
    assert!(store.is_ready());

    let created = cms
        .create(&PostParams::default(), &cm("later", &[]))
        .await
        .unwrap();
    match next_ev(&mut events).await {
        Event::Apply(c) => assert_eq!(c.metadata.name.as_deref(), Some("later")),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(store.resource_version(), created.metadata.resource_version);
    cms.delete("cm-0", &DeleteParams::default()).await.unwrap();
    match next_ev(&mut events).await {
        Event::Delete(c) => assert_eq!(c.metadata.name.as_deref(), Some("cm-0")),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(store.len(), 7);
    assert!(store.get(&key("cm-0")).is_none());
    assert!(store.get(&key("later")).is_some());
    assert_eq!(counting.watches.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn informer_syncs_existing_objects_of_several_kinds() {
    let (_server, client) = setup().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    for i in 0..5 {
        cms.create(&PostParams::default(), &cm(&format!("cm-{i}"), &[]))
            .await
            .unwrap();
    }
    Api::<ConfigMap>::namespaced(client.clone(), "kube-system")
        .create(&PostParams::default(), &cm("sys", &[]))
        .await
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    for n in ["p1", "p2"] {
        pods.create(&PostParams::default(), &pod(n)).await.unwrap();
    }

    let (in_default, d1) = Informer::<ConfigMap>::new(
        client.clone(),
        Some("default"),
        watcher::Config::default().page_size(2),
        tokio_sleep(),
    );
    let (everywhere, d2) = Informer::<ConfigMap>::new(
        client.clone(),
        None,
        watcher::Config::default(),
        tokio_sleep(),
    );
    let (pod_inf, d3) = Informer::<Pod>::new(
        client.clone(),
        None,
        watcher::Config::default(),
        tokio_sleep(),
    );
    assert!(!in_default.store().is_ready());
    tokio::spawn(d1.run());
    tokio::spawn(d2.run());
    tokio::spawn(d3.run());
    ready(&in_default).await;
    ready(&everywhere).await;
    ready(&pod_inf).await;

    assert_eq!(
        sorted_names(in_default.store()),
        [
            "default/cm-0",
            "default/cm-1",
            "default/cm-2",
            "default/cm-3",
            "default/cm-4"
        ]
    );
    let all = Api::<ConfigMap>::all(client.clone())
        .list(&ListParams::default())
        .await
        .unwrap();
    assert_eq!(everywhere.store().len(), all.items.len());
    assert!(everywhere
        .store()
        .get(&ObjectKey::namespaced("kube-system", "sys"))
        .is_some());
    assert_eq!(
        everywhere.store().resource_version(),
        all.metadata.resource_version
    );
    assert_eq!(sorted_names(pod_inf.store()), ["default/p1", "default/p2"]);
    let p1 = pod_inf.store().get(&key("p1")).unwrap();
    assert_eq!(
        p1.spec.as_ref().unwrap().containers[0].image.as_deref(),
        Some("nginx")
    );
}

#[tokio::test]
async fn adds_updates_and_deletes_converge() {
    let (_server, client) = setup().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    cms.create(&PostParams::default(), &cm("a", &[]))
        .await
        .unwrap();
    let (inf, driver) = Informer::<ConfigMap>::new(
        client.clone(),
        Some("default"),
        Default::default(),
        tokio_sleep(),
    );
    let (errors, _task) = spawn_driver(driver);
    ready(&inf).await;
    let mut sub = inf.subscribe();
    assert_eq!(take(&mut sub, 1).await, [("add", "a".to_string(), None)]);

    cms.create(&PostParams::default(), &cm("b", &[]))
        .await
        .unwrap();
    cms.patch("a", &PatchParams::default(), set_data("1"))
        .await
        .unwrap();
    cms.delete("b", &DeleteParams::default()).await.unwrap();
    let last = cms
        .patch("a", &PatchParams::default(), set_data("2"))
        .await
        .unwrap();
    assert_eq!(
        take(&mut sub, 4).await,
        [
            ("add", "b".to_string(), None),
            ("update", "a".to_string(), Some("1".to_string())),
            ("delete", "b".to_string(), None),
            ("update", "a".to_string(), Some("2".to_string())),
        ]
    );
    assert_eq!(sorted_names(inf.store()), ["default/a"]);
    let a = inf.store().get(&key("a")).unwrap();
    assert_eq!(a.data.as_ref().unwrap()["v"], "2");
    assert_eq!(
        inf.store().resource_version(),
        last.metadata.resource_version
    );
    assert!(
        errors.lock().unwrap().is_empty(),
        "{:?}",
        errors.lock().unwrap()
    );
}

#[tokio::test]
async fn compaction_behind_the_watcher_forces_a_relist_and_the_cache_converges() {
    let (server, client) = setup().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    for n in ["a", "b", "c"] {
        cms.create(&PostParams::default(), &cm(n, &[]))
            .await
            .unwrap();
    }
    let gated = GatedClient::new(client.clone());
    let (inf, driver) = Informer::<ConfigMap>::with_backoff(
        gated.clone(),
        Some("default"),
        watcher::Config::default(),
        fast_backoff(),
        tokio_sleep(),
    );
    let (errors, _task) = spawn_driver(driver);
    ready(&inf).await;
    let mut sub = inf.subscribe();
    assert_eq!(take(&mut sub, 3).await.len(), 3);
    let rv_before = inf.store().resource_version().unwrap();
    eventually("the watch to start", || {
        gated.watches.load(Ordering::SeqCst) == 1
    })
    .await;

    // The watcher falls behind: its watch ends and cannot restart while the gate is closed.
    gated.gate.send_replace(false);
    cms.delete("b", &DeleteParams::default()).await.unwrap();
    cms.patch("c", &PatchParams::default(), set_data("new"))
        .await
        .unwrap();
    cms.create(&PostParams::default(), &cm("d", &[]))
        .await
        .unwrap();
    // The history after the watcher's resourceVersion is compacted away.
    let current = server.store().current_revision().await.unwrap();
    server.store().compact(current).await.unwrap();
    assert_eq!(
        inf.store().resource_version(),
        Some(rv_before),
        "nothing seen yet"
    );
    assert_eq!(inf.store().len(), 3);
    gated.gate.send_replace(true);

    eventually("the cache to converge after the re-list", || {
        sorted_names(inf.store()) == ["default/a", "default/c", "default/d"]
    })
    .await;
    let c = inf.store().get(&key("c")).unwrap();
    assert_eq!(c.data.as_ref().unwrap()["v"], "new");
    assert_eq!(inf.store().resource_version(), Some(current.to_string()));
    assert_eq!(
        gated.lists.load(Ordering::SeqCst),
        2,
        "one list, one re-list"
    );
    {
        let errors = errors.lock().unwrap();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].is_gone(), "{:?}", errors[0]);
    }
    let mut changes = take(&mut sub, 3).await;
    changes.sort();
    assert_eq!(
        changes,
        [
            ("add", "d".to_string(), None),
            ("delete", "b".to_string(), None),
            ("update", "c".to_string(), Some("new".to_string())),
        ],
        "subscribers get the difference the re-list made"
    );

    // And it keeps watching afterwards.
    cms.delete("a", &DeleteParams::default()).await.unwrap();
    assert_eq!(take(&mut sub, 1).await, [("delete", "a".to_string(), None)]);
    assert_eq!(sorted_names(inf.store()), ["default/c", "default/d"]);
}

#[tokio::test(start_paused = true)]
async fn an_ended_watch_resumes_without_relisting() {
    let (_server, client) = setup().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    cms.create(&PostParams::default(), &cm("a", &[]))
        .await
        .unwrap();
    let counting = GatedClient::new(client.clone());
    let (inf, driver) = Informer::<ConfigMap>::new(
        counting.clone(),
        Some("default"),
        watcher::Config::default().timeout(30),
        tokio_sleep(),
    );
    let (errors, _task) = spawn_driver(driver);
    ready(&inf).await;
    // 100 s of paused time: the 30 s watches end three times and are resumed.
    tokio::time::sleep(Duration::from_secs(100)).await;
    assert!(counting.watches.load(Ordering::SeqCst) >= 4);
    cms.create(&PostParams::default(), &cm("b", &[]))
        .await
        .unwrap();
    eventually("b", || inf.store().len() == 2).await;
    assert_eq!(counting.lists.load(Ordering::SeqCst), 1, "no re-list");
    assert!(errors.lock().unwrap().is_empty());
}

#[tokio::test]
async fn label_and_field_selectors() {
    let (_server, client) = setup().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    cms.create(&PostParams::default(), &cm("web-1", &[("app", "web")]))
        .await
        .unwrap();
    cms.create(&PostParams::default(), &cm("db-1", &[("app", "db")]))
        .await
        .unwrap();
    let (web, d1) = Informer::<ConfigMap>::new(
        client.clone(),
        Some("default"),
        watcher::Config::default().labels("app=web"),
        tokio_sleep(),
    );
    let (by_name, d2) = Informer::<ConfigMap>::new(
        client.clone(),
        None,
        watcher::Config::default().fields("metadata.name=db-1,metadata.namespace=default"),
        tokio_sleep(),
    );
    tokio::spawn(d1.run());
    tokio::spawn(d2.run());
    ready(&web).await;
    ready(&by_name).await;
    assert_eq!(sorted_names(web.store()), ["default/web-1"]);
    assert_eq!(sorted_names(by_name.store()), ["default/db-1"]);

    let relabel = |app: &str| Patch::Merge(json!({"metadata": {"labels": {"app": app}}}));
    // db-1 starts matching, web-1 stops matching.
    cms.patch("db-1", &PatchParams::default(), relabel("web"))
        .await
        .unwrap();
    cms.patch("web-1", &PatchParams::default(), relabel("db"))
        .await
        .unwrap();
    cms.create(&PostParams::default(), &cm("other", &[("app", "db")]))
        .await
        .unwrap();
    eventually("the label selector to follow", || {
        sorted_names(web.store()) == ["default/db-1"]
    })
    .await;
    eventually("the field selector to see the relabel", || {
        by_name
            .store()
            .get(&key("db-1"))
            .is_some_and(|c| c.metadata.labels.as_ref().unwrap()["app"] == "web")
    })
    .await;
    assert_eq!(sorted_names(by_name.store()), ["default/db-1"]);
    cms.delete("db-1", &DeleteParams::default()).await.unwrap();
    eventually("the deletion", || {
        web.store().is_empty() && by_name.store().is_empty()
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn bookmarks_advance_the_resource_version() {
    let server = ApiServer::builder(Arc::new(EmbeddedStore::in_memory()))
        .bookmark_interval(Duration::from_secs(60))
        .build();
    let (_server, client) = setup_with(server).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    cms.create(&PostParams::default(), &cm("web", &[("app", "web")]))
        .await
        .unwrap();
    let (inf, driver) = Informer::<ConfigMap>::new(
        client.clone(),
        Some("default"),
        watcher::Config::default().labels("app=web"),
        tokio_sleep(),
    );
    tokio::spawn(driver.run());
    ready(&inf).await;
    let listed = inf.store().resource_version().unwrap();
    // A write the selector filters out: no event reaches the informer…
    let other = cms
        .create(&PostParams::default(), &cm("db", &[("app", "db")]))
        .await
        .unwrap();
    let other_rv = other.metadata.resource_version.unwrap();
    assert_ne!(listed, other_rv);
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(inf.store().resource_version(), Some(listed));
    // …but the next BOOKMARK (60 s after the watch started) carries the progress.
    tokio::time::sleep(Duration::from_secs(35)).await;
    eventually("the bookmark", || {
        inf.store().resource_version().as_ref() == Some(&other_rv)
    })
    .await;
    assert_eq!(sorted_names(inf.store()), ["default/web"]);
}

#[tokio::test]
async fn streaming_lists_sync_and_then_watch() {
    let (_server, client) = setup().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    for n in ["a", "b"] {
        cms.create(&PostParams::default(), &cm(n, &[]))
            .await
            .unwrap();
    }
    let counting = GatedClient::new(client.clone());
    let (inf, driver) = Informer::<ConfigMap>::new(
        counting.clone(),
        Some("default"),
        watcher::Config::default().streaming_lists(),
        tokio_sleep(),
    );
    tokio::spawn(driver.run());
    ready(&inf).await;
    assert_eq!(sorted_names(inf.store()), ["default/a", "default/b"]);
    let current = cms.list(&ListParams::default()).await.unwrap();
    assert_eq!(
        inf.store().resource_version(),
        current.metadata.resource_version
    );
    cms.delete("a", &DeleteParams::default()).await.unwrap();
    cms.create(&PostParams::default(), &cm("c", &[]))
        .await
        .unwrap();
    eventually("the watch after the initial events", || {
        sorted_names(inf.store()) == ["default/b", "default/c"]
    })
    .await;
    assert_eq!(counting.lists.load(Ordering::SeqCst), 0, "no LIST at all");
    assert_eq!(counting.watches.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn several_subscribers_see_the_same_changes() {
    let (_server, client) = setup().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    cms.create(&PostParams::default(), &cm("a", &[]))
        .await
        .unwrap();
    let (inf, driver) = Informer::<ConfigMap>::new(
        client.clone(),
        Some("default"),
        Default::default(),
        tokio_sleep(),
    );
    let mut early = inf.subscribe();
    let mut early2 = inf.clone().subscribe();
    tokio::spawn(driver.run());
    ready(&inf).await;
    let mut late = inf.subscribe();

    cms.patch("a", &PatchParams::default(), set_data("1"))
        .await
        .unwrap();
    cms.create(&PostParams::default(), &cm("b", &[]))
        .await
        .unwrap();
    cms.delete("a", &DeleteParams::default()).await.unwrap();
    cms.patch("b", &PatchParams::default(), set_data("2"))
        .await
        .unwrap();
    let want = vec![
        ("add", "a".to_string(), None),
        ("update", "a".to_string(), Some("1".to_string())),
        ("add", "b".to_string(), None),
        ("delete", "a".to_string(), Some("1".to_string())),
        ("update", "b".to_string(), Some("2".to_string())),
    ];
    assert_eq!(take(&mut early, 5).await, want);
    assert_eq!(take(&mut early2, 5).await, want);
    assert_eq!(
        take(&mut late, 5).await,
        want,
        "a late subscriber starts from the cache"
    );
    // The same objects, shared, not copies.
    let (x, y) = (early.try_next(), late.try_next());
    assert!(x.is_none() && y.is_none());
    let s1 = inf.store().get(&key("b")).unwrap();
    let s2 = inf.store().clone().get(&key("b")).unwrap();
    assert!(Arc::ptr_eq(&s1, &s2));
}
