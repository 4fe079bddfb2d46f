//! The Runtime conformance suite against the simulated runtime, under paused tokio time.

use std::sync::Arc;
use std::time::Duration;

use kube_node::runtime::sim::SimRuntime;
use kube_node::runtime::{ContainerConfig, PodSandboxConfig, Runtime, SandboxMetadata};
use kube_node::testing::{run_all, sim_config, Params};

#[tokio::test(start_paused = true)]
async fn sim_runtime_passes_the_conformance_suite() {
    let runtime = Arc::new(SimRuntime::new(sim_config()));
    let report = run_all(runtime.clone(), &Params::sim()).await;
    report.assert_ok();
    assert!(report.passed.len() >= 14, "passed: {:?}", report.passed);
    assert!(report.skipped.is_empty(), "skipped: {:?}", report.skipped);
    // Every case cleaned up after itself.
    assert_eq!(runtime.counts(), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn sim_runtime_passes_with_a_long_grace_period() {
    // The stubborn container is killed only after the whole (long) grace period.
    let runtime = Arc::new(SimRuntime::new(sim_config()));
    let mut params = Params::sim();
    params.grace = Duration::from_secs(30);
    run_all(runtime, &params).await.assert_ok();
}

#[tokio::test(start_paused = true)]
async fn the_suite_catches_a_broken_runtime() {
    // A runtime whose "exit 3" command runs forever and whose stubborn container exits on
    // SIGTERM fails the matching cases.
    let mut config = sim_config();
    config.rules.retain(|r| {
        r.command.as_deref() != Some(&["exit-3".to_string()][..])
            && r.command.as_deref() != Some(&["ignore-term".to_string()][..])
    });
    let runtime = Arc::new(SimRuntime::new(config));
    let mut params = Params::sim();
    params.timeout = Duration::from_secs(5);
    let report = run_all(runtime, &params).await;
    let failed: Vec<&str> = report.failed.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        failed,
        vec!["exit_codes_and_reasons", "stop_kills_after_grace"],
        "{:?}",
        report.failed
    );
}

#[tokio::test(start_paused = true)]
async fn thousands_of_containers_fit_in_one_process() {
    let runtime = SimRuntime::new(Default::default());
    for p in 0..500 {
        let sandbox = PodSandboxConfig {
            metadata: SandboxMetadata {
                name: format!("p{p}"),
                namespace: "default".into(),
                uid: format!("u{p}"),
                attempt: 0,
            },
            ..Default::default()
        };
        let sb = runtime.run_pod_sandbox(&sandbox).await.unwrap();
        for c in 0..4 {
            let config = ContainerConfig {
                name: format!("c{c}"),
                image: "busybox".into(),
                ..Default::default()
            };
            let id = runtime
                .create_container(&sb, &config, &sandbox)
                .await
                .unwrap();
            runtime.start_container(&id).await.unwrap();
        }
    }
    assert_eq!(runtime.counts(), (500, 2000));
    let running = runtime.list_containers(&Default::default()).await.unwrap();
    assert_eq!(running.len(), 2000);
}
