//! Issue 6 proofs: a controller whose reconcile keeps failing does not hot-loop (its retries
//! back off exponentially and show in the metrics), and a Deployment whose selector does not
//! match its template is refused by validation.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use kube_ctrl::manager::{ControllerManager, Factory, Options};
use kube_ctrl::runtime::{tokio_clock, Action, Controller, Error, Result, WorkQueue};
use kubox_core::api::apps_v1::Deployment;
use kubox_core::client::{Api, PostParams};
use serde_json::json;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Fails every reconcile and records when it ran.
struct Failing {
    runs: Arc<Mutex<Vec<Instant>>>,
}

#[async_trait]
impl Controller for Failing {
    fn name(&self) -> &'static str {
        "failing"
    }
    fn watch(&self, queue: &WorkQueue) -> Vec<JoinHandle<()>> {
        queue.add("default/broken");
        Vec::new()
    }
    async fn reconcile(&self, _key: &str) -> Result<Action> {
        self.runs.lock().unwrap().push(Instant::now());
        Err(Error::Other("always broken".into()))
    }
}

fn metric(text: &str, prefix: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {prefix} in:\n{text}"))
}

#[tokio::test(start_paused = true)]
async fn a_failing_reconcile_backs_off_and_its_retries_show_in_metrics() {
    let (_server, client) = common::cluster().await;
    let runs: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let options = Options {
        controllers: vec!["failing".into()],
        ..Options::default()
    };
    let mut manager = ControllerManager::new(client, options, tokio_clock());
    let r = runs.clone();
    let factory: Factory = Arc::new(move |_ctx: &kube_ctrl::runtime::Context| {
        Arc::new(Failing { runs: r.clone() }) as Arc<dyn Controller>
    });
    manager.register("failing", factory);
    let metrics = manager.metrics();
    let start = Instant::now();
    tokio::spawn(manager.run(std::future::pending()));

    tokio::time::sleep(Duration::from_secs(60)).await;
    let runs = runs.lock().unwrap().clone();
    // 5 ms doubling: 60 s allow about 14 attempts, not thousands.
    assert!(
        (10..=16).contains(&runs.len()),
        "{} reconciles in 60 s",
        runs.len()
    );
    let gaps: Vec<Duration> = runs.windows(2).map(|w| w[1] - w[0]).collect();
    for w in gaps.windows(2) {
        assert!(
            w[1] >= w[0] * 2 - Duration::from_millis(1),
            "backoff grows: {gaps:?}"
        );
    }
    assert!(runs[0] - start < Duration::from_millis(50));
    assert_eq!(gaps[0], Duration::from_millis(5));
    assert!(*gaps.last().unwrap() >= Duration::from_secs(10));

    let text = metrics.render();
    let retries = metric(&text, "workqueue_retries_total{name=\"failing\"} ");
    let errors = metric(
        &text,
        "controller_runtime_reconcile_total{controller=\"failing\",result=\"error\"} ",
    );
    assert_eq!(errors, runs.len() as u64);
    assert_eq!(retries, errors, "every failure is a rate-limited retry");
    assert_eq!(
        metric(
            &text,
            "controller_runtime_reconcile_errors_total{controller=\"failing\"} "
        ),
        errors
    );
    // Later, still backing off: a few more attempts over the next minutes, no more.
    tokio::time::sleep(Duration::from_secs(300)).await;
    let later = metric(
        &metrics.render(),
        "workqueue_retries_total{name=\"failing\"} ",
    );
    assert!(
        later > retries && later <= retries + 3,
        "{retries} → {later}"
    );
}

#[tokio::test]
async fn a_selector_that_does_not_match_the_template_is_rejected() {
    let (_server, client) = common::cluster().await;
    let ds: Api<Deployment> = Api::namespaced(client, "default");
    let d: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "bad"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
          "template": {"metadata": {"labels": {"app": "other"}},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}
    }))
    .unwrap();
    let err = ds.create(&PostParams::default(), &d).await.unwrap_err();
    assert_eq!(err.code(), Some(422));
    assert_eq!(err.reason(), Some("Invalid"));
    let msg = err.to_string();
    assert!(
        msg.contains("spec.template.metadata.labels: Invalid value: {\"app\":\"other\"}: `selector` does not match template `labels`"),
        "{msg}"
    );
}

/// A ReplicaSet whose pods cannot be created (its namespace is terminating) retries with
/// backoff: its failure condition is written once, not on every retry (which would requeue it
/// at once through its own update, a hot loop around the backoff).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replicaset_that_cannot_create_pods_does_not_hot_loop() {
    use kubox_core::api::apps_v1::ReplicaSet;
    use kubox_core::api::core_v1::{ConfigMap, Namespace};
    use kubox_core::client::{DeleteParams, Patch, PatchParams};

    let (_server, client) = common::cluster().await;
    let nss: Api<Namespace> = Api::all(client.clone());
    nss.create(&PostParams::default(), &Namespace::new("closing"))
        .await
        .unwrap();
    let rss: Api<ReplicaSet> = Api::namespaced(client.clone(), "closing");
    let rs: ReplicaSet = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}},
          "template": {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}
    }))
    .unwrap();
    rss.create(&PostParams::default(), &rs).await.unwrap();
    // Terminating (no namespace controller runs to finish it): creates are forbidden.
    let mut cm = ConfigMap::new("hold");
    cm.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    Api::<ConfigMap>::namespaced(client.clone(), "closing")
        .create(&PostParams::default(), &cm)
        .await
        .unwrap();
    nss.delete("closing", &DeleteParams::default())
        .await
        .unwrap();

    let options = Options {
        controllers: vec!["replicaset".into()],
        ..Options::default()
    };
    let manager = ControllerManager::with_builtin(client.clone(), options, tokio_clock());
    let metrics = manager.metrics();
    tokio::spawn(manager.run(std::future::pending()));
    rss.patch(
        "web",
        &PatchParams::default(),
        Patch::Merge(json!({"spec": {"replicas": 2}})),
    )
    .await
    .unwrap();
    common::eventually(20, "ReplicaFailure", || async {
        rss.get("web")
            .await
            .unwrap()
            .status
            .and_then(|s| s.conditions)
            .is_some_and(|c| c.iter().any(|c| c.type_ == "ReplicaFailure"))
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let text = metrics.render();
    let errors = metric(
        &text,
        "controller_runtime_reconcile_total{controller=\"replicaset\",result=\"error\"} ",
    );
    // 5 ms doubling: about 10 attempts in 2-3 s; a hot loop makes thousands.
    assert!(
        (3..=20).contains(&errors),
        "{errors} failed reconciles:\n{text}"
    );
    let cond = rss
        .get("web")
        .await
        .unwrap()
        .status
        .unwrap()
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "ReplicaFailure")
        .unwrap();
    assert_eq!(cond.reason.as_deref(), Some("FailedCreate"));
    assert!(
        cond.message
            .as_deref()
            .unwrap_or("")
            .contains("because it is being terminated"),
        "{cond:?}"
    );
}
