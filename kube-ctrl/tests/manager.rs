//! The controller manager starts workers only once the informers have listed
//! (`WaitForCacheSync`): a controller never reconciles against a partial cache — under paused
//! time, with the pod list held back by the client.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use common::cluster;
use kube_ctrl::manager::{ControllerManager, Options};
use kube_ctrl::runtime::{tokio_clock, Action, Context, Controller, WorkQueue};
use kubox_core::api::core_v1::{Namespace, Pod};
use kubox_core::client::{
    Api, Client, GroupVersionResource, PostParams, Request, Result, Verb, WatchParams, WatchStream,
};
use kubox_core::meta::Resource;
use kubox_core::runtime::Informer;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A client whose pod lists wait until `open` is true.
struct HeldLists {
    inner: Arc<dyn Client>,
    open: watch::Receiver<bool>,
}

#[async_trait]
impl Client for HeldLists {
    async fn call(&self, request: Request) -> Result<serde_json::Value> {
        if matches!(request.verb, Verb::List(_)) && request.resource.resource == "pods" {
            let mut open = self.open.clone();
            let _ = open.wait_for(|o| *o).await;
        }
        self.inner.call(request).await
    }

    async fn watch(
        &self,
        resource: &GroupVersionResource,
        namespace: Option<&str>,
        params: &WatchParams,
    ) -> Result<WatchStream> {
        self.inner.watch(resource, namespace, params).await
    }
}

/// Queues one key at once and records, per reconcile, how many objects its cache held.
struct Probe<K: Resource> {
    name: &'static str,
    cache: Informer<K>,
    seen: Arc<Mutex<Vec<usize>>>,
}

#[async_trait]
impl<K: Resource> Controller for Probe<K> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn watch(&self, queue: &WorkQueue) -> Vec<JoinHandle<()>> {
        queue.add("default/probe");
        Vec::new()
    }

    async fn reconcile(&self, _key: &str) -> kube_ctrl::runtime::Result<Action> {
        self.seen.lock().unwrap().push(self.cache.store().len());
        Ok(Action::Done)
    }
}

/// Registers a [`Probe`] of kind `K` named `name`; returns what it sees.
fn probe<K: Resource>(
    manager: &mut ControllerManager,
    name: &'static str,
) -> Arc<Mutex<Vec<usize>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    manager.register(
        name,
        Arc::new(move |ctx: &Context| {
            Arc::new(Probe {
                name,
                cache: ctx.informers.get::<K>(),
                seen: s.clone(),
            }) as Arc<dyn Controller>
        }),
    );
    seen
}

fn options(controllers: &[&str]) -> Options {
    Options {
        controllers: controllers.iter().map(|c| c.to_string()).collect(),
        ..Options::default()
    }
}

#[tokio::test(start_paused = true)]
async fn workers_wait_for_the_first_list() {
    let (_server, client) = cluster().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    for name in ["a", "b", "c"] {
        let mut p = Pod::new(name);
        p.spec.get_or_insert_with(Default::default).containers =
            vec![serde_json::from_value(serde_json::json!({"name": "c", "image": "i"})).unwrap()];
        pods.create(&PostParams::default(), &p).await.unwrap();
    }
    let (open, rx) = watch::channel(false);
    let held: Arc<dyn Client> = Arc::new(HeldLists {
        inner: client.clone(),
        open: rx,
    });
    let mut manager = ControllerManager::new(held, options(&["*"]), tokio_clock());
    let seen = probe::<Pod>(&mut manager, "probe");
    // A controller that reads only namespaces is not held back by the pods' list.
    let other = probe::<Namespace>(&mut manager, "quiet");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(manager.run(async move {
        let _ = stopped.await;
    }));

    tokio::time::sleep(Duration::from_secs(30)).await;
    assert!(
        seen.lock().unwrap().is_empty(),
        "no reconcile before the pods were listed: {:?}",
        seen.lock().unwrap()
    );
    let namespaces = other.lock().unwrap().clone();
    assert!(
        namespaces.first().is_some_and(|n| *n >= 4),
        "the namespace controller ran on its full cache meanwhile: {namespaces:?}"
    );

    open.send(true).unwrap();
    common::eventually(10, "the queued key is reconciled", || {
        let n = seen.lock().unwrap().len();
        async move { n > 0 }
    })
    .await;
    assert_eq!(
        seen.lock().unwrap()[0],
        3,
        "the first reconcile saw every pod"
    );

    stop.send(()).unwrap();
    task.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_manager_stopped_before_its_caches_synced_ends() {
    let (_server, client) = cluster().await;
    let (_open, rx) = watch::channel(false);
    let held: Arc<dyn Client> = Arc::new(HeldLists {
        inner: client,
        open: rx,
    });
    let mut manager = ControllerManager::new(held, options(&["probe"]), tokio_clock());
    let seen = probe::<Pod>(&mut manager, "probe");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(manager.run(async move {
        let _ = stopped.await;
    }));
    tokio::time::sleep(Duration::from_secs(5)).await;
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the manager stops while its workers still wait")
        .unwrap();
    assert!(seen.lock().unwrap().is_empty());
}
