//! Running a scenario against an in-process `Cluster` and checking what it leaves behind.

use std::future::Future;
use std::sync::Arc;

use kubox::cluster::Cluster;
use kubox::node::runtime::Runtime;

use super::poll::wait;

/// Runs `scenario` in a task, then shuts `cluster` down — also when the scenario fails, so
/// that no processes, network namespaces, bridges or nftables tables are left — and then
/// fails the test with the scenario's panic; the scenario's result.
pub(crate) async fn run_then_shutdown<T, F, Fut>(cluster: Cluster, scenario: F) -> T
where
    F: FnOnce(Arc<Cluster>) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let cluster = Arc::new(cluster);
    let outcome = tokio::spawn(scenario(cluster.clone())).await;
    let cluster = Arc::try_unwrap(cluster).expect("the scenario task ended");
    cluster.shutdown().await.unwrap();
    match outcome {
        Ok(v) => v,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// The container runtimes of the cluster's nodes.
pub(crate) fn node_runtimes(cluster: &Cluster) -> Vec<Arc<dyn Runtime>> {
    cluster
        .node_names()
        .iter()
        .map(|n| cluster.node_runtime(n).unwrap())
        .collect()
}

/// Waits (at most `secs` seconds) until none of `runtimes` has a pod sandbox left.
pub(crate) async fn wait_no_sandboxes(runtimes: &[Arc<dyn Runtime>], secs: u64) {
    wait(secs, "no sandboxes on the nodes", || async {
        for rt in runtimes {
            let left = rt
                .list_pod_sandboxes(&Default::default())
                .await
                .map_err(|e| e.to_string())?;
            if !left.is_empty() {
                return Err(format!("sandboxes left: {left:?}"));
            }
        }
        Ok(())
    })
    .await;
}
