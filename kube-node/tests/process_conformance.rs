//! The process runtime passes the runtime conformance suite with real commands, supervised
//! by the shim and in-process, on the host network and (as root) in pod network namespaces.

mod kubelet_support;

use std::sync::Arc;

use kube_node::runtime::process::{
    ImagePolicy, LocalImage, NetworkMode, ProcessConfig, ProcessRuntime, ShimMode,
};
use kube_node::testing::{run_all, Params};
use kubelet_support::NetGuard;

async fn conformance(shim: bool, network: NetworkMode) {
    let dir = tempfile::tempdir().unwrap();
    let tag = std::process::id() % 100_000;
    let guard = NetGuard {
        bridge: format!("kbxc{tag}"),
        prefix: format!("kbxc{tag}-"),
    };
    let mut config = ProcessConfig::new(dir.path().join("state"));
    config.shim = if shim {
        ShimMode::Path(env!("CARGO_BIN_EXE_kubox-shim").into())
    } else {
        ShimMode::InProcess
    };
    config.network.mode = network;
    config.network.bridge = guard.bridge.clone();
    config.network.netns_prefix = guard.prefix.clone();
    config.network.pod_cidr = format!("10.{}.{}.0/24", 150 + tag % 40, tag % 250);
    config.cgroups.enabled = false;
    // Only listed images exist, so that the suite's absent image is absent.
    config.image_policy = ImagePolicy::Listed;
    config
        .images
        .insert("busybox".into(), LocalImage::default());
    let runtime = ProcessRuntime::new(config).await.unwrap();
    if network == NetworkMode::Auto {
        assert!(
            rustix::process::geteuid().is_root(),
            "the pod network case needs root (CI runs as root)"
        );
        let status = kube_node::runtime::Runtime::status(&runtime).await.unwrap();
        assert!(
            status.network_ready && status.message.is_empty(),
            "{}",
            status.message
        );
    }
    let mut params = Params::posix("busybox");
    params.log_root = Some(dir.path().join("logs"));
    params.fails_to_start = Some(vec!["/no/such/command".into()]);
    run_all(Arc::new(runtime), &params).await.assert_ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_with_shim_on_the_host_network() {
    conformance(true, NetworkMode::Host).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_in_process() {
    conformance(false, NetworkMode::Host).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_with_pod_network_namespaces() {
    conformance(true, NetworkMode::Auto).await;
}
