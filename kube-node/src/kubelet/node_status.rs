//! Node registration, node status and the node lease (Kubernetes
//! `pkg/kubelet/kubelet_node_status.go`, `pkg/kubelet/nodestatus/setters.go` and
//! `component-helpers/apimachinery/lease/controller.go`).
//!
//! - Registration creates the Node (or updates the labels of an existing one) with the
//!   labels `kubernetes.io/hostname`, `kubernetes.io/os`, `kubernetes.io/arch`.
//! - The status (capacity, allocatable, conditions MemoryPressure, DiskPressure, PIDPressure,
//!   Ready, addresses, nodeInfo, images, daemonEndpoints) is computed every
//!   `status_update_frequency` (10 s) and patched only when it changed (heartbeat times
//!   aside) or `status_report_frequency` (5 min) has passed.
//! - The Lease `kube-node-lease/<node>` is renewed every quarter of its duration (10 s).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kubox_core::api::coordination_v1::{Lease, LeaseSpec};
use kubox_core::api::core_v1::{
    ContainerImage, DaemonEndpoint, Node, NodeAddress, NodeCondition, NodeDaemonEndpoints,
    NodeStatus, NodeSystemInfo,
};
use kubox_core::client::{Api, Patch, PatchParams, PostParams};
use kubox_core::meta::{ObjectMeta, OwnerReference};
use kubox_core::{MicroTime, Quantity, Time};
use serde_json::json;

use super::events::{node_ref, NORMAL};
use super::{Inner, KUBELET_VERSION};

/// The namespace of node leases.
pub const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";
/// At most this many images are reported (`nodeStatusMaxImages`).
pub const MAX_IMAGES: usize = 50;
/// At most this many names per image (`MaxNamesPerImageInNodeStatus`).
pub const MAX_NAMES_PER_IMAGE: usize = 5;

/// `kubernetes.io/arch` of this build (Go's GOARCH names).
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// The host's memory in bytes (`MemTotal` of /proc/meminfo).
fn host_memory() -> i64 {
    let info = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    info.lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// The size in bytes of the filesystem holding `path` (via `df`).
async fn filesystem_size(path: &std::path::Path) -> i64 {
    let mut dir = path.to_path_buf();
    while !dir.exists() {
        if !dir.pop() {
            break;
        }
    }
    let out = tokio::process::Command::new("df")
        .arg("-k")
        .arg("--output=size")
        .arg(&dir)
        .output()
        .await;
    match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout)
            .lines()
            .nth(1)
            .and_then(|l| l.trim().parse::<i64>().ok())
            .map(|kb| kb * 1024)
            .unwrap_or(0),
        _ => 0,
    }
}

/// The host's primary IPv4 address (the source address of the default route), else
/// 127.0.0.1.
fn host_ip() -> String {
    let probe = || -> std::io::Result<std::net::IpAddr> {
        let s = std::net::UdpSocket::bind("0.0.0.0:0")?;
        s.connect("10.255.255.255:1")?;
        Ok(s.local_addr()?.ip())
    };
    match probe() {
        Ok(ip) if !ip.is_unspecified() => ip.to_string(),
        _ => "127.0.0.1".to_string(),
    }
}

fn os_image() -> String {
    let release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    release
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "Unknown".to_string())
}

/// Allocatable = capacity minus the default hard-eviction thresholds (memory.available
/// 100Mi, nodefs.available 10%), clamped at zero.
pub fn default_allocatable(capacity: &BTreeMap<String, Quantity>) -> BTreeMap<String, Quantity> {
    let mut out = capacity.clone();
    if let Some(m) = out.get_mut("memory") {
        let v = (m.value() - 100 * 1024 * 1024).max(0);
        *m = Quantity::from_bytes(v);
    }
    if let Some(e) = out.get_mut("ephemeral-storage") {
        let v = e.value() - e.value() / 10;
        *e = Quantity::from_bytes(v.max(0));
    }
    out
}

fn cond(type_: &str, ok_status: &str, reason: &str, message: &str) -> NodeCondition {
    NodeCondition {
        last_heartbeat_time: None,
        last_transition_time: None,
        message: Some(message.to_string()),
        reason: Some(reason.to_string()),
        status: ok_status.to_string(),
        type_: type_.to_string(),
    }
}

/// Keeps the Node's status.
pub(crate) struct NodeStatusManager {
    inner: Arc<Inner>,
    capacity: BTreeMap<String, Quantity>,
    allocatable: BTreeMap<String, Quantity>,
    addresses: Vec<NodeAddress>,
    info: NodeSystemInfo,
}

impl NodeStatusManager {
    /// Detects what the config leaves open (capacity, addresses, system info).
    pub(crate) async fn new(inner: Arc<Inner>) -> Self {
        let cfg = &inner.cfg;
        let capacity = match &cfg.capacity {
            Some(c) => c.clone(),
            None => {
                let mut c = BTreeMap::new();
                let cpus = std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(1) as i64;
                c.insert("cpu".to_string(), Quantity::from_cpu_millis(cpus * 1000));
                c.insert("memory".to_string(), Quantity::from_bytes(host_memory()));
                c.insert(
                    "ephemeral-storage".to_string(),
                    Quantity::from_bytes(filesystem_size(&cfg.log_root).await),
                );
                c.insert("pods".to_string(), Quantity::from_scaled(cfg.max_pods, 0));
                c
            }
        };
        let allocatable = cfg
            .allocatable
            .clone()
            .unwrap_or_else(|| default_allocatable(&capacity));
        let addresses = if cfg.addresses.is_empty() {
            vec![
                NodeAddress {
                    address: host_ip(),
                    type_: "InternalIP".into(),
                },
                NodeAddress {
                    address: cfg.node_name.clone(),
                    type_: "Hostname".into(),
                },
            ]
        } else {
            cfg.addresses.clone()
        };
        let ip = addresses
            .iter()
            .find(|a| a.type_ == "InternalIP")
            .or_else(|| addresses.iter().find(|a| a.type_ == "ExternalIP"))
            .map(|a| a.address.clone())
            .unwrap_or_else(|| "127.0.0.1".into());
        let _ = inner.node_ip.set(ip);
        let _ = inner.allocatable.set(allocatable.clone());
        let version = inner.runtime.version().await.ok();
        let machine_id = read_trimmed("/etc/machine-id");
        let info = NodeSystemInfo {
            architecture: go_arch().to_string(),
            boot_id: read_trimmed("/proc/sys/kernel/random/boot_id"),
            container_runtime_version: version
                .map(|v| format!("{}://{}", v.runtime_name, v.runtime_version))
                .unwrap_or_default(),
            kernel_version: read_trimmed("/proc/sys/kernel/osrelease"),
            kube_proxy_version: String::new(),
            kubelet_version: KUBELET_VERSION.to_string(),
            system_uuid: {
                let u = read_trimmed("/sys/class/dmi/id/product_uuid");
                if u.is_empty() {
                    machine_id.clone()
                } else {
                    u
                }
            },
            machine_id,
            operating_system: std::env::consts::OS.to_string(),
            os_image: os_image(),
            swap: None,
        };
        NodeStatusManager {
            inner,
            capacity,
            allocatable,
            addresses,
            info,
        }
    }

    fn labels(&self) -> BTreeMap<String, String> {
        let mut l = BTreeMap::new();
        l.insert(
            "kubernetes.io/hostname".to_string(),
            self.inner.cfg.node_name.to_lowercase(),
        );
        l.insert(
            "kubernetes.io/os".to_string(),
            std::env::consts::OS.to_string(),
        );
        l.insert("kubernetes.io/arch".to_string(), go_arch().to_string());
        l.insert(
            "beta.kubernetes.io/os".to_string(),
            std::env::consts::OS.to_string(),
        );
        l.insert("beta.kubernetes.io/arch".to_string(), go_arch().to_string());
        l.extend(self.inner.cfg.labels.clone());
        l
    }

    /// Computes the status; conditions keep their `lastTransitionTime` from `previous` while
    /// unchanged.
    pub(crate) async fn compute(&self, previous: Option<&NodeStatus>) -> NodeStatus {
        let now = Time::from_unix_seconds(self.inner.clock.now().as_second());
        let mut errors = vec![];
        match self.inner.runtime.status().await {
            Ok(s) => {
                if !s.runtime_ready {
                    errors.push(format!(
                        "container runtime not ready: RuntimeReady=false message:{}",
                        s.message
                    ));
                }
                if !s.network_ready {
                    errors.push(format!(
                        "container runtime network not ready: NetworkReady=false message:{}",
                        s.message
                    ));
                }
            }
            Err(e) => errors.push(format!("container runtime is down: {e}")),
        }
        let ready = if errors.is_empty() {
            cond(
                "Ready",
                "True",
                "KubeletReady",
                "kubelet is posting ready status",
            )
        } else {
            cond("Ready", "False", "KubeletNotReady", &errors.join(","))
        };
        let mut conditions = vec![
            cond(
                "MemoryPressure",
                "False",
                "KubeletHasSufficientMemory",
                "kubelet has sufficient memory available",
            ),
            cond(
                "DiskPressure",
                "False",
                "KubeletHasNoDiskPressure",
                "kubelet has no disk pressure",
            ),
            cond(
                "PIDPressure",
                "False",
                "KubeletHasSufficientPID",
                "kubelet has sufficient PID available",
            ),
            ready,
        ];
        let old = previous
            .and_then(|p| p.conditions.clone())
            .unwrap_or_default();
        for c in &mut conditions {
            c.last_heartbeat_time = Some(now);
            c.last_transition_time = match old.iter().find(|o| o.type_ == c.type_) {
                Some(o) if o.status == c.status && o.last_transition_time.is_some() => {
                    o.last_transition_time
                }
                _ => Some(now),
            };
        }
        let mut images = self.inner.runtime.list_images().await.unwrap_or_default();
        images.sort_by_key(|i| std::cmp::Reverse(i.size_bytes));
        let images: Vec<ContainerImage> = images
            .into_iter()
            .take(MAX_IMAGES)
            .map(|i| {
                let mut names: Vec<String> =
                    i.repo_digests.into_iter().chain(i.repo_tags).collect();
                if names.is_empty() {
                    names.push(i.id);
                }
                names.truncate(MAX_NAMES_PER_IMAGE);
                ContainerImage {
                    names: Some(names),
                    size_bytes: Some(i.size_bytes as i64),
                }
            })
            .collect();
        NodeStatus {
            addresses: Some(self.addresses.clone()),
            allocatable: Some(self.allocatable.clone()),
            capacity: Some(self.capacity.clone()),
            conditions: Some(conditions),
            daemon_endpoints: Some(NodeDaemonEndpoints {
                kubelet_endpoint: Some(DaemonEndpoint {
                    port: i32::from(self.inner.cfg.port),
                }),
            }),
            images: Some(images),
            node_info: Some(self.info.clone()),
            ..Default::default()
        }
    }

    /// Creates the Node, or updates the labels of an existing one, then writes its status.
    /// Retries until it succeeds.
    pub(crate) async fn register(&self) {
        let api: Api<Node> = Api::all(self.inner.client.clone());
        let name = self.inner.cfg.node_name.clone();
        let mut delay = Duration::from_millis(200);
        loop {
            match self.try_register(&api, &name).await {
                Ok(node) => {
                    if let Some(uid) = node.metadata.uid.clone() {
                        let _ = self.inner.node_uid.set(uid);
                    }
                    tracing::info!(node = %name, "node registered");
                    break;
                }
                Err(e) => {
                    tracing::warn!(node = %name, error = %e, "registering node");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(7));
                }
            }
        }
    }

    async fn try_register(
        &self,
        api: &Api<Node>,
        name: &str,
    ) -> Result<Node, kubox_core::client::Error> {
        let existing = api.get_opt(name).await?;
        let node = match existing {
            Some(n) => {
                let mut labels = n.metadata.labels.clone().unwrap_or_default();
                labels.extend(self.labels());
                let patch = json!({"metadata": {"labels": labels}});
                api.patch(name, &PatchParams::default(), Patch::Merge(patch))
                    .await?
            }
            None => {
                let mut node = Node::new(name);
                node.metadata.labels = Some(self.labels());
                match api.create(&PostParams::default(), &node).await {
                    Ok(n) => n,
                    Err(e) if e.is_already_exists() => api.get(name).await?,
                    Err(e) => return Err(e),
                }
            }
        };
        let status = self.compute(node.status.as_ref()).await;
        let node = api
            .patch_status(
                name,
                &PatchParams::default(),
                Patch::Merge(json!({ "status": status })),
            )
            .await?;
        for reason in [
            "NodeHasSufficientMemory",
            "NodeHasNoDiskPressure",
            "NodeHasSufficientPID",
        ] {
            self.inner.recorder.event(
                node_ref(name),
                NORMAL,
                reason,
                &format!("Node {name} status is now: {reason}"),
            );
        }
        let ready = status
            .conditions
            .iter()
            .flatten()
            .any(|c| c.type_ == "Ready" && c.status == "True");
        let r = if ready { "NodeReady" } else { "NodeNotReady" };
        self.inner.recorder.event(
            node_ref(name),
            NORMAL,
            r,
            &format!("Node {name} status is now: {r}"),
        );
        Ok(node)
    }

    /// Computes the status every `status_update_frequency` and patches it when it changed
    /// or `status_report_frequency` passed.
    pub(crate) async fn run(self) {
        let api: Api<Node> = Api::all(self.inner.client.clone());
        let name = self.inner.cfg.node_name.clone();
        let mut last: Option<NodeStatus> = api
            .get_opt(&name)
            .await
            .ok()
            .flatten()
            .and_then(|n| n.status);
        let mut last_report = tokio::time::Instant::now();
        let mut tick = tokio::time::interval(self.inner.cfg.status_update_frequency);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            let status = self.compute(last.as_ref()).await;
            let changed = last
                .as_ref()
                .is_none_or(|l| !same_ignoring_heartbeats(l, &status));
            if !changed && last_report.elapsed() < self.inner.cfg.status_report_frequency {
                continue;
            }
            let mut ok = false;
            for _ in 0..5 {
                match api
                    .patch_status(
                        &name,
                        &PatchParams::default(),
                        Patch::Merge(json!({ "status": status })),
                    )
                    .await
                {
                    Ok(_) => {
                        ok = true;
                        break;
                    }
                    Err(e) if e.is_not_found() => {
                        // The Node was deleted: register again.
                        self.register().await;
                        ok = true;
                        break;
                    }
                    Err(e) => tracing::warn!(error = %e, "updating node status"),
                }
            }
            if ok {
                if let Some(prev) = &last {
                    self.ready_event(prev, &status, &name);
                }
                last = Some(status);
                last_report = tokio::time::Instant::now();
            }
        }
    }

    fn ready_event(&self, prev: &NodeStatus, now: &NodeStatus, name: &str) {
        let ready = |s: &NodeStatus| {
            s.conditions
                .iter()
                .flatten()
                .find(|c| c.type_ == "Ready")
                .map(|c| c.status.clone())
        };
        if ready(prev) != ready(now) {
            let r = if ready(now).as_deref() == Some("True") {
                "NodeReady"
            } else {
                "NodeNotReady"
            };
            self.inner.recorder.event(
                node_ref(name),
                NORMAL,
                r,
                &format!("Node {name} status is now: {r}"),
            );
        }
    }
}

fn same_ignoring_heartbeats(a: &NodeStatus, b: &NodeStatus) -> bool {
    let strip = |s: &NodeStatus| {
        let mut s = s.clone();
        for c in s.conditions.iter_mut().flatten() {
            c.last_heartbeat_time = None;
        }
        s
    };
    strip(a) == strip(b)
}

/// Renews the node's Lease every quarter of its duration, creating it when missing (retries
/// with back-off 200 ms → 7 s).
pub(crate) async fn lease_loop(inner: Arc<Inner>) {
    let api: Api<Lease> = Api::namespaced(inner.client.clone(), NODE_LEASE_NAMESPACE);
    let name = inner.cfg.node_name.clone();
    let duration = inner.cfg.lease_duration_seconds;
    let renew = Duration::from_millis((duration.max(1) as u64) * 250);
    let mut delay = Duration::from_millis(200);
    loop {
        match renew_lease(&inner, &api, &name, duration).await {
            Ok(()) => {
                delay = Duration::from_millis(200);
                tokio::time::sleep(renew).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "renewing node lease");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(7));
            }
        }
    }
}

async fn renew_lease(
    inner: &Inner,
    api: &Api<Lease>,
    name: &str,
    duration: i32,
) -> Result<(), kubox_core::client::Error> {
    let now = MicroTime(inner.clock.now());
    match api.get_opt(name).await? {
        Some(mut lease) => {
            let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
            spec.holder_identity = Some(name.to_string());
            spec.lease_duration_seconds = Some(duration);
            spec.renew_time = Some(now);
            if lease.metadata.owner_references.is_none() {
                lease.metadata.owner_references = node_owner(inner, name);
            }
            api.replace(name, &PostParams::default(), &lease).await?;
        }
        None => {
            let mut lease = Lease::new(name);
            lease.metadata = ObjectMeta {
                name: Some(name.to_string()),
                namespace: Some(NODE_LEASE_NAMESPACE.to_string()),
                owner_references: node_owner(inner, name),
                ..Default::default()
            };
            lease.spec = Some(LeaseSpec {
                holder_identity: Some(name.to_string()),
                lease_duration_seconds: Some(duration),
                renew_time: Some(now),
                ..Default::default()
            });
            api.create(&PostParams::default(), &lease).await?;
        }
    }
    Ok(())
}

fn node_owner(inner: &Inner, name: &str) -> Option<Vec<OwnerReference>> {
    inner.node_uid.get().map(|uid| {
        vec![OwnerReference {
            api_version: "v1".into(),
            kind: "Node".into(),
            name: name.to_string(),
            uid: uid.clone(),
            controller: None,
            block_owner_deletion: None,
        }]
    })
}
