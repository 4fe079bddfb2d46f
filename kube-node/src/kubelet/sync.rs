//! The pod worker and its sync (Kubernetes `pod_workers.go`, `kubelet.go` `SyncPod` and
//! `kuberuntime_manager.go` `SyncPod`/`computePodActions`).
//!
//! A worker owns one pod: it syncs the newest version of the pod whenever the pod changes,
//! the runtime reports a change (PLEG), a probe result changes, a back-off or deadline
//! expires, and at least every resync interval. Its syncs never overlap.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use kubox_core::api::core_v1::{ConfigMap, Container, LifecycleHandler, Pod, PodStatus, Secret};
use kubox_core::client::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use kubox_core::runtime::reflector::ObjectKey;
use kubox_core::{Quantity, Time};
use md5::{Digest, Md5};
use serde_json::{json, Value};
use tokio::sync::{watch, Notify};

use super::backoff::{go_duration, Backoff};
use super::events::{pod_ref, NORMAL, WARNING};
use super::prober;
use super::status::{self, Instance, Reason, StatusInput};
use super::{Inner, PodWork};
use crate::labels;
use crate::runtime::{
    self, ContainerConfig, ContainerFilter, ContainerState as RtState, Mount, PodSandbox,
    PodSandboxConfig, PortMapping, Resources, SandboxFilter, SandboxMetadata, SandboxState,
};

/// Resource requests of a pod as admission counts them: cpu millicores, memory bytes,
/// ephemeral-storage bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Requests {
    /// CPU in millicores.
    pub cpu_millis: i64,
    /// Memory in bytes.
    pub memory: i64,
    /// Ephemeral storage in bytes.
    pub ephemeral: i64,
}

fn container_requests(c: &Container) -> Requests {
    let req = c
        .resources
        .as_ref()
        .and_then(|r| r.requests.clone())
        .unwrap_or_default();
    Requests {
        cpu_millis: req.get("cpu").map(Quantity::milli_value).unwrap_or(0),
        memory: req.get("memory").map(Quantity::value).unwrap_or(0),
        ephemeral: req
            .get("ephemeral-storage")
            .map(Quantity::value)
            .unwrap_or(0),
    }
}

/// The effective requests of a pod: the larger of the sum of its containers (with sidecars)
/// and the largest init container, plus overhead (`resourcehelper.PodRequests`).
pub fn pod_requests(pod: &Pod) -> Requests {
    let spec = pod.spec.clone().unwrap_or_default();
    let mut sum = Requests::default();
    for c in &spec.containers {
        let r = container_requests(c);
        sum.cpu_millis += r.cpu_millis;
        sum.memory += r.memory;
        sum.ephemeral += r.ephemeral;
    }
    let mut sidecars = Requests::default();
    let mut init_max = Requests::default();
    for c in spec.init_containers.iter().flatten() {
        let r = container_requests(c);
        if status::is_sidecar(c) {
            sidecars.cpu_millis += r.cpu_millis;
            sidecars.memory += r.memory;
            sidecars.ephemeral += r.ephemeral;
        } else {
            init_max.cpu_millis = init_max.cpu_millis.max(r.cpu_millis + sidecars.cpu_millis);
            init_max.memory = init_max.memory.max(r.memory + sidecars.memory);
            init_max.ephemeral = init_max.ephemeral.max(r.ephemeral + sidecars.ephemeral);
        }
    }
    let mut out = Requests {
        cpu_millis: (sum.cpu_millis + sidecars.cpu_millis).max(init_max.cpu_millis),
        memory: (sum.memory + sidecars.memory).max(init_max.memory),
        ephemeral: (sum.ephemeral + sidecars.ephemeral).max(init_max.ephemeral),
    };
    if let Some(o) = &spec.overhead {
        out.cpu_millis += o.get("cpu").map(Quantity::milli_value).unwrap_or(0);
        out.memory += o.get("memory").map(Quantity::value).unwrap_or(0);
    }
    out
}

/// The node-level admission of a pod (`noderesources` fit in the kubelet's
/// `predicateAdmitHandler`): `Err((reason, message))` when it does not fit (the pod's status
/// message is `Pod was rejected: <message>`).
pub fn admit(
    pod: &Pod,
    allocatable: &BTreeMap<String, Quantity>,
    admitted: &[Requests],
) -> Result<(), (String, String)> {
    let want = pod_requests(pod);
    let pods_cap = allocatable.get("pods").map(Quantity::value).unwrap_or(110);
    let used_pods = admitted.len() as i64;
    let fail = |res: &str, req: i64, used: i64, cap: i64| {
        (
            format!("OutOf{res}"),
            format!(
                "Node didn't have enough resource: {res}, requested: {req}, used: {used}, capacity: {cap}"
            ),
        )
    };
    if used_pods + 1 > pods_cap {
        return Err(fail("pods", 1, used_pods, pods_cap));
    }
    let used = admitted.iter().fold(Requests::default(), |mut a, r| {
        a.cpu_millis += r.cpu_millis;
        a.memory += r.memory;
        a.ephemeral += r.ephemeral;
        a
    });
    for (res, req, used, cap) in [
        (
            "cpu",
            want.cpu_millis,
            used.cpu_millis,
            allocatable.get("cpu").map(Quantity::milli_value),
        ),
        (
            "memory",
            want.memory,
            used.memory,
            allocatable.get("memory").map(Quantity::value),
        ),
        (
            "ephemeral-storage",
            want.ephemeral,
            used.ephemeral,
            allocatable.get("ephemeral-storage").map(Quantity::value),
        ),
    ] {
        if req == 0 {
            continue;
        }
        let cap = cap.unwrap_or(0);
        if req + used > cap {
            return Err(fail(res, req, used, cap));
        }
    }
    Ok(())
}

/// The hash of a container's spec (a change restarts the container).
pub fn container_hash(c: &Container) -> String {
    let mut v = serde_json::to_value(c).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        // Resizes do not restart containers.
        m.remove("resources");
        m.remove("resizePolicy");
    }
    let digest = Md5::digest(v.to_string().as_bytes());
    digest.iter().take(4).map(|b| format!("{b:02x}")).collect()
}

/// `format.Pod`: `name_namespace(uid)`.
pub fn format_pod(pod: &Pod) -> String {
    format!(
        "{}_{}({})",
        pod.metadata.name.as_deref().unwrap_or(""),
        pod.metadata.namespace.as_deref().unwrap_or(""),
        pod.metadata.uid.as_deref().unwrap_or("")
    )
}

fn grace_seconds(pod: &Pod) -> i64 {
    pod.metadata
        .deletion_grace_period_seconds
        .or_else(|| {
            pod.spec
                .as_ref()
                .and_then(|s| s.termination_grace_period_seconds)
        })
        .unwrap_or(30)
        .max(0)
}

fn ts_add(t: Timestamp, d: Duration) -> Timestamp {
    t.saturating_add(SignedDuration::try_from(d).unwrap_or(SignedDuration::ZERO))
        .unwrap_or(t)
}

fn until(now: Timestamp, t: Timestamp) -> Duration {
    let d = t.duration_since(now);
    if d.is_negative() {
        Duration::ZERO
    } else {
        d.unsigned_abs()
    }
}

/// The runtime's view of one pod.
struct RuntimePod {
    sandboxes: Vec<PodSandbox>,
    instances: Vec<Instance>,
}

impl RuntimePod {
    fn ready_sandbox(&self) -> Option<&PodSandbox> {
        self.sandboxes
            .iter()
            .filter(|s| s.state == SandboxState::Ready)
            .max_by_key(|s| (s.metadata.attempt, s.created_at))
    }
}

/// What a sync asks of the worker loop.
enum Next {
    /// Sync again after this long at the latest.
    After(Duration),
    /// The pod is gone: stop the worker.
    Done,
}

/// Runs the worker of pod `uid` until the pod is gone.
pub(crate) async fn pod_worker(
    inner: Arc<Inner>,
    uid: String,
    mut rx: watch::Receiver<PodWork>,
    poke: Arc<Notify>,
) {
    let mut w = Worker::new(inner, uid);
    loop {
        let work = rx.borrow_and_update().clone();
        let next = w.sync(&work).await;
        let wait = match next {
            Next::Done => break,
            Next::After(d) => d,
        };
        tokio::select! {
            r = rx.changed() => if r.is_err() { break },
            _ = poke.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

struct Worker {
    inner: Arc<Inner>,
    uid: String,
    start_time: Option<Time>,
    /// A status the kubelet decided (rejection, deadline).
    forced: Option<(String, String, String)>,
    /// The pod is terminal: nothing runs any more.
    terminal: bool,
    admitted: bool,
    reasons: HashMap<String, Reason>,
    backoff: Backoff,
    pull_backoff: Backoff,
    last_status: Option<PodStatus>,
    /// The UID of the object `last_status` was written to.
    last_target_uid: Option<String>,
}

impl Worker {
    fn new(inner: Arc<Inner>, uid: String) -> Self {
        Worker {
            inner,
            uid,
            start_time: None,
            forced: None,
            terminal: false,
            admitted: false,
            reasons: HashMap::new(),
            backoff: Backoff::crash_loop(),
            pull_backoff: Backoff::image_pull(),
            last_status: None,
            last_target_uid: None,
        }
    }

    fn now(&self) -> Timestamp {
        self.inner.clock.now()
    }

    fn event(
        &self,
        pod: &Pod,
        container: Option<(&str, bool)>,
        type_: &str,
        reason: &str,
        message: &str,
    ) {
        self.inner
            .recorder
            .event(pod_ref(pod, container), type_, reason, message);
    }

    async fn runtime_pod(&self) -> runtime::Result<RuntimePod> {
        let mut labels = self.inner.owner_labels();
        labels.insert(labels::POD_UID.to_string(), self.uid.clone());
        let sandboxes = self
            .inner
            .runtime
            .list_pod_sandboxes(&SandboxFilter {
                labels: labels.clone(),
                ..Default::default()
            })
            .await?;
        let containers = self
            .inner
            .runtime
            .list_containers(&ContainerFilter {
                labels,
                ..Default::default()
            })
            .await?;
        let mut instances = Vec::with_capacity(containers.len());
        for c in containers {
            match self.inner.runtime.container_status(&c.id).await {
                Ok(s) => instances.push(Instance::from_runtime(&s)),
                Err(runtime::Error::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        status::sort_newest_first(&mut instances);
        Ok(RuntimePod {
            sandboxes,
            instances,
        })
    }

    async fn sync(&mut self, work: &PodWork) -> Next {
        let started = tokio::time::Instant::now();
        let next = self.sync_inner(work).await;
        tracing::debug!(pod = %format_pod(&work.pod), took = ?started.elapsed(), "synced pod");
        next
    }

    async fn sync_inner(&mut self, work: &PodWork) -> Next {
        let pod = work.pod.clone();
        if work.removed || pod.metadata.deletion_timestamp.is_some() {
            return self.terminate(work).await;
        }
        let now = self.now();
        if self.start_time.is_none() {
            self.start_time = Some(
                pod.status
                    .as_ref()
                    .and_then(|s| s.start_time)
                    .unwrap_or_else(|| Time::from_unix_seconds(now.as_second())),
            );
        }
        let rt = match self.runtime_pod().await {
            Ok(rt) => rt,
            Err(e) => {
                tracing::warn!(pod = %format_pod(&pod), error = %e, "listing the pod's containers");
                return Next::After(Duration::from_secs(1));
            }
        };
        // A pod the API already shows terminal stays terminal.
        let api_phase = pod.status.as_ref().and_then(|s| s.phase.clone());
        if matches!(
            api_phase.as_deref(),
            Some(status::SUCCEEDED | status::FAILED)
        ) && !rt.instances.iter().any(|i| i.state == RtState::Running)
        {
            self.terminal = true;
        }
        if !self.admitted && !self.terminal {
            let already_running = !rt.instances.is_empty() || !rt.sandboxes.is_empty();
            let allocatable = self.inner.allocatable.get().cloned().unwrap_or_default();
            let verdict = {
                let mut admitted = self
                    .inner
                    .admitted
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                let others: Vec<Requests> = admitted
                    .iter()
                    .filter(|(u, _)| **u != self.uid)
                    .map(|(_, r)| *r)
                    .collect();
                match admit(&pod, &allocatable, &others) {
                    Err(rejection) if !already_running => Err(rejection),
                    _ => {
                        admitted.insert(self.uid.clone(), pod_requests(&pod));
                        Ok(())
                    }
                }
            };
            if let Err((reason, message)) = verdict {
                self.event(&pod, None, WARNING, &reason, &message);
                let message = format!("Pod was rejected: {message}");
                self.forced = Some((status::FAILED.into(), reason, message));
                self.terminal = true;
                self.write_status(&pod, &rt, work.is_static).await;
                return Next::After(self.inner.cfg.resync_interval);
            }
            self.admitted = true;
        }
        let mut wake = self.inner.cfg.resync_interval;
        // activeDeadlineSeconds.
        if let (Some(deadline), false) = (
            pod.spec.as_ref().and_then(|s| s.active_deadline_seconds),
            self.terminal,
        ) {
            let start = self.start_time.map(|t| t.0).unwrap_or(now);
            let end = ts_add(start, Duration::from_secs(deadline.max(0) as u64));
            if now >= end {
                let message = "Pod was active on the node longer than the specified deadline";
                self.event(&pod, None, NORMAL, "DeadlineExceeded", message);
                self.forced = Some((
                    status::FAILED.into(),
                    "DeadlineExceeded".into(),
                    message.into(),
                ));
                self.terminal = true;
            } else {
                wake = wake.min(until(now, end));
            }
        }
        if self.terminal {
            self.kill_pod(&pod, &rt, None).await;
            let rt = self.runtime_pod().await.unwrap_or(rt);
            self.write_status(&pod, &rt, work.is_static).await;
            self.inner
                .admitted
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&self.uid);
            return Next::After(self.inner.cfg.resync_interval);
        }
        if let Some(d) = self.converge(&pod, &rt).await {
            wake = wake.min(d);
        }
        let rt = match self.runtime_pod().await {
            Ok(rt) => rt,
            Err(_) => return Next::After(Duration::from_secs(1)),
        };
        self.collect_garbage(&rt).await;
        self.ensure_probes(&pod, &rt).await;
        let status = self.write_status(&pod, &rt, work.is_static).await;
        if matches!(status.as_deref(), Some(status::SUCCEEDED | status::FAILED)) {
            // The pod finished: stop its sandbox; it never runs again.
            self.terminal = true;
            self.kill_pod(&pod, &rt, None).await;
            self.inner
                .admitted
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&self.uid);
        }
        Next::After(wake)
    }

    /// Brings the runtime in line with the spec; returns when the next sync is due at the
    /// latest (a back-off expiring).
    async fn converge(&mut self, pod: &Arc<Pod>, rt: &RuntimePod) -> Option<Duration> {
        let spec = pod.spec.clone().unwrap_or_default();
        let mut wake: Option<Duration> = None;
        let mut soon = |d: Duration| {
            wake = Some(wake.map_or(d, |w: Duration| w.min(d)));
        };
        // The sandbox.
        let (sandbox_id, sandbox_config, fresh) = match rt.ready_sandbox() {
            Some(s) => (
                s.id.clone(),
                self.sandbox_config(pod, s.metadata.attempt),
                false,
            ),
            None => {
                // A finished pod (Never/OnFailure) does not get a new sandbox.
                let all_done = !rt.sandboxes.is_empty()
                    && spec.containers.iter().all(|c| {
                        let latest = status::instances_of(&rt.instances, &c.name).next();
                        latest.is_some_and(|l| l.exited()) && !status::should_restart(pod, latest)
                    });
                if all_done {
                    return None;
                }
                // Everything of an old sandbox goes first.
                self.kill_pod(pod, rt, None).await;
                let attempt = rt
                    .sandboxes
                    .iter()
                    .map(|s| s.metadata.attempt + 1)
                    .max()
                    .unwrap_or(0);
                let config = self.sandbox_config(pod, attempt);
                if let Err(e) = tokio::fs::create_dir_all(&config.log_directory).await {
                    tracing::warn!(error = %e, dir = %config.log_directory.display(), "creating the pod log directory");
                }
                let t = tokio::time::Instant::now();
                let created = self.inner.runtime.run_pod_sandbox(&config).await;
                tracing::debug!(pod = %format_pod(pod), took = ?t.elapsed(), "run_pod_sandbox");
                match created {
                    Ok(id) => (id, config, true),
                    Err(e) => {
                        self.event(
                            pod,
                            None,
                            WARNING,
                            "FailedCreatePodSandBox",
                            &format!("Failed to create pod sandbox: {e}"),
                        );
                        soon(Duration::from_secs(2));
                        return wake;
                    }
                }
            }
        };
        let sandbox_status = self
            .inner
            .runtime
            .pod_sandbox_status(&sandbox_id)
            .await
            .ok();
        let pod_ip = sandbox_status
            .as_ref()
            .and_then(|s| s.ip.clone())
            .unwrap_or_else(|| self.inner.node_ip().to_string());
        let in_sandbox = |name: &str| -> Option<Instance> {
            if fresh {
                return None;
            }
            rt.instances
                .iter()
                .find(|i| i.name == name && i.sandbox_id == sandbox_id)
                .cloned()
        };
        // The next restart count: one more than the newest instance's, or, when the runtime
        // has none (lost, or removed by hand), one more than the API status shows.
        let api_restarts = |name: &str| -> Option<u32> {
            let st = pod.status.as_ref()?;
            st.container_statuses
                .iter()
                .flatten()
                .chain(st.init_container_statuses.iter().flatten())
                .find(|s| s.name == name && s.container_id.is_some())
                .map(|s| s.restart_count.max(0) as u32 + 1)
        };
        let next_restart = |name: &str| -> u32 {
            status::instances_of(&rt.instances, name)
                .next()
                .map(|i| i.restart_count + 1)
                .or_else(|| api_restarts(name))
                .unwrap_or(0)
        };
        let ctx = StartCtx {
            sandbox_id: &sandbox_id,
            sandbox: &sandbox_config,
            pod_ip: &pod_ip,
        };
        // Init containers, in order.
        let mut initialized = true;
        for c in spec.init_containers.iter().flatten() {
            let latest = in_sandbox(&c.name);
            let sidecar = status::is_sidecar(c);
            match latest {
                None => {
                    self.start(pod, c, true, next_restart(&c.name), &ctx).await;
                    initialized = false;
                    break;
                }
                Some(i) if i.state == RtState::Running => {
                    if sidecar && self.inner.prober.state(&i.id).started {
                        continue;
                    }
                    initialized = false;
                    break;
                }
                Some(i) if i.state == RtState::Exited && i.exit_code == Some(0) && !sidecar => {
                    continue
                }
                Some(i) if i.state == RtState::Exited => {
                    initialized = false;
                    if !sidecar && status::restart_policy(pod) == "Never" {
                        break;
                    }
                    if let Some(d) = self.in_backoff(pod, c, &i, true) {
                        soon(d);
                    } else {
                        self.start(pod, c, true, i.restart_count + 1, &ctx).await;
                    }
                    break;
                }
                Some(i) => {
                    // Created but never started (or unknown): replace it.
                    let _ = self.inner.runtime.remove_container(&i.id).await;
                    self.start(pod, c, true, i.restart_count + 1, &ctx).await;
                    initialized = false;
                    break;
                }
            }
        }
        if !initialized {
            return wake;
        }
        // App containers.
        for c in &spec.containers {
            let latest = in_sandbox(&c.name);
            match latest {
                None => {
                    self.start(pod, c, false, next_restart(&c.name), &ctx).await;
                }
                Some(i) if i.state == RtState::Running => {
                    let hash = container_hash(c);
                    let (reason, restart) = if !i.hash.is_empty() && i.hash != hash {
                        (
                            Some(format!(
                                "Container {} definition changed, will be restarted",
                                c.name
                            )),
                            true,
                        )
                    } else if let Some(kind) = self.inner.prober.failed(&i.id) {
                        let what = match kind {
                            prober::Kind::Startup => "startup",
                            _ => "liveness",
                        };
                        let never = status::restart_policy(pod) == "Never";
                        let mut msg = format!("Container {} failed {what} probe", c.name);
                        if !never {
                            msg.push_str(", will be restarted");
                        }
                        (Some(msg), !never)
                    } else {
                        (None, false)
                    };
                    if let Some(reason) = reason {
                        let grace = self.probe_grace(pod, c);
                        self.kill_container(pod, c, false, &i, grace, Some(&reason))
                            .await;
                        if restart {
                            self.start(pod, c, false, i.restart_count + 1, &ctx).await;
                        }
                    }
                }
                Some(i) if i.state == RtState::Exited => {
                    if status::should_restart(pod, Some(&i)) {
                        if let Some(d) = self.in_backoff(pod, c, &i, false) {
                            soon(d);
                        } else {
                            self.start(pod, c, false, i.restart_count + 1, &ctx).await;
                        }
                    }
                }
                Some(i) => {
                    let _ = self.inner.runtime.remove_container(&i.id).await;
                    self.start(pod, c, false, i.restart_count + 1, &ctx).await;
                }
            }
        }
        wake
    }

    fn probe_grace(&self, pod: &Pod, c: &Container) -> i64 {
        c.liveness_probe
            .as_ref()
            .and_then(|p| p.termination_grace_period_seconds)
            .unwrap_or_else(|| grace_seconds(pod))
    }

    /// `doBackOff`: `Some(remaining)` while the container's restart is backing off.
    fn in_backoff(
        &mut self,
        pod: &Pod,
        c: &Container,
        latest: &Instance,
        is_init: bool,
    ) -> Option<Duration> {
        let now = self.now();
        let finished = latest.finished_at.unwrap_or(now);
        let key = format!(
            "{}_{}_{}_{}_{}",
            pod.metadata.name.as_deref().unwrap_or(""),
            pod.metadata.namespace.as_deref().unwrap_or(""),
            self.uid,
            c.name,
            container_hash(c)
        );
        if self.backoff.is_in_backoff_since(&key, finished, now) {
            let delay = self.backoff.get(&key);
            let fp = format_pod(pod);
            self.event(
                pod,
                Some((&c.name, is_init)),
                WARNING,
                "BackOff",
                &format!(
                    "Back-off restarting failed container {} in pod {fp}",
                    c.name
                ),
            );
            self.reasons.insert(
                c.name.clone(),
                Reason {
                    reason: "CrashLoopBackOff".into(),
                    message: format!(
                        "back-off {} restarting failed container={} pod={fp}",
                        go_duration(delay),
                        c.name
                    ),
                },
            );
            return Some(until(now, self.backoff.expiry(&key, finished)));
        }
        self.backoff.next(&key, finished, now);
        None
    }

    fn sandbox_config(&self, pod: &Pod, attempt: u32) -> PodSandboxConfig {
        let spec = pod.spec.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let ns = pod
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        let host_network = spec.host_network.unwrap_or(false);
        let mut labels: BTreeMap<String, String> = pod.metadata.labels.clone().unwrap_or_default();
        labels.insert(labels::POD_NAME.into(), name.clone());
        labels.insert(labels::POD_NAMESPACE.into(), ns.clone());
        labels.insert(labels::POD_UID.into(), self.uid.clone());
        labels.insert(labels::NODE_NAME.into(), self.inner.node_name().to_string());
        let port_mappings = spec
            .containers
            .iter()
            .flat_map(|c| c.ports.iter().flatten())
            .filter(|p| p.host_port.unwrap_or(0) > 0)
            .map(|p| PortMapping {
                protocol: p.protocol.clone().unwrap_or_else(|| "TCP".into()),
                container_port: u16::try_from(p.container_port).unwrap_or(0),
                host_port: u16::try_from(p.host_port.unwrap_or(0)).unwrap_or(0),
                host_ip: p.host_ip.clone().unwrap_or_default(),
            })
            .collect();
        let hostname = if host_network {
            String::new()
        } else {
            spec.hostname.clone().unwrap_or_else(|| name.clone())
        };
        PodSandboxConfig {
            metadata: SandboxMetadata {
                name: name.clone(),
                namespace: ns.clone(),
                uid: self.uid.clone(),
                attempt,
            },
            hostname,
            log_directory: self
                .inner
                .cfg
                .log_root
                .join(format!("{ns}_{name}_{}", self.uid)),
            host_network,
            dns: None,
            port_mappings,
            labels,
            annotations: pod.metadata.annotations.clone().unwrap_or_default(),
            resources: None,
        }
    }

    /// Pulls the image as the policy says; `Err((reason, message))` on failure.
    async fn ensure_image(
        &mut self,
        pod: &Pod,
        c: &Container,
        is_init: bool,
    ) -> Result<(), (String, String)> {
        let image = c.image.clone().unwrap_or_default();
        if image.is_empty() {
            return Err(("InvalidImageName".into(), "Failed to apply default image tag \"\": couldn't parse image name \"\": invalid reference format".into()));
        }
        let policy = c
            .image_pull_policy
            .clone()
            .unwrap_or_else(|| kubox_core::defaults::image_pull_policy(&image).to_string());
        let present = match self.inner.runtime.image_status(&image).await {
            Ok(p) => p.is_some(),
            Err(e) => {
                return Err((
                    "ErrImageInspect".into(),
                    format!("Failed to inspect image \"{image}\": {e}"),
                ))
            }
        };
        let cref = Some((c.name.as_str(), is_init));
        if present && policy != "Always" {
            self.event(
                pod,
                cref,
                NORMAL,
                "Pulled",
                &format!("Container image \"{image}\" already present on machine"),
            );
            return Ok(());
        }
        if !present && policy == "Never" {
            let msg =
                format!("Container image \"{image}\" is not present with pull policy of Never");
            self.event(pod, cref, WARNING, "ErrImageNeverPull", &msg);
            return Err(("ErrImageNeverPull".into(), msg));
        }
        let key = format!("{}_{image}", self.uid);
        let now = self.now();
        if self.pull_backoff.is_in_backoff_since(&key, now, now) {
            let msg = format!("Back-off pulling image \"{image}\"");
            self.event(pod, cref, NORMAL, "BackOff", &msg);
            return Err(("ImagePullBackOff".into(), msg));
        }
        self.event(
            pod,
            cref,
            NORMAL,
            "Pulling",
            &format!("Pulling image \"{image}\""),
        );
        let started = tokio::time::Instant::now();
        match self.inner.runtime.pull_image(&image).await {
            Ok(_) => {
                self.pull_backoff.reset(&key);
                self.event(
                    pod,
                    cref,
                    NORMAL,
                    "Pulled",
                    &format!(
                        "Successfully pulled image \"{image}\" in {:?}",
                        started.elapsed()
                    ),
                );
                Ok(())
            }
            Err(e) => {
                self.pull_backoff.next(&key, now, now);
                let msg = format!("Failed to pull image \"{image}\": {e}");
                self.event(pod, cref, WARNING, "Failed", &msg);
                self.event(pod, cref, WARNING, "Failed", "Error: ErrImagePull");
                Err(("ErrImagePull".into(), msg))
            }
        }
    }

    /// Creates and starts one container (`startContainer`); failures become the
    /// container's waiting reason and an event.
    async fn start(
        &mut self,
        pod: &Arc<Pod>,
        c: &Container,
        is_init: bool,
        restart_count: u32,
        ctx: &StartCtx<'_>,
    ) {
        let cref = Some((c.name.as_str(), is_init));
        if let Err((reason, message)) = self.ensure_image(pod, c, is_init).await {
            self.reasons
                .insert(c.name.clone(), Reason { reason, message });
            return;
        }
        let env = match self.resolve_env(pod, c, ctx.pod_ip).await {
            Ok(env) => env,
            Err(message) => {
                self.event(pod, cref, WARNING, "Failed", &format!("Error: {message}"));
                self.reasons.insert(
                    c.name.clone(),
                    Reason {
                        reason: "CreateContainerConfigError".into(),
                        message,
                    },
                );
                return;
            }
        };
        let mounts = match self.mounts(pod, c).await {
            Ok(m) => m,
            Err(message) => {
                self.event(pod, cref, WARNING, "Failed", &format!("Error: {message}"));
                self.reasons.insert(
                    c.name.clone(),
                    Reason {
                        reason: "CreateContainerConfigError".into(),
                        message,
                    },
                );
                return;
            }
        };
        let config = self.container_config(pod, c, restart_count, env, mounts);
        if let Err(e) = tokio::fs::create_dir_all(ctx.sandbox.log_directory.join(&c.name)).await {
            tracing::debug!(error = %e, "creating the container log directory");
        }
        let id = match self
            .inner
            .runtime
            .create_container(ctx.sandbox_id, &config, ctx.sandbox)
            .await
        {
            Ok(id) => id,
            Err(e) => {
                let (reason, message) = match &e {
                    runtime::Error::ImageNotPresent(img) => (
                        "ErrImageNeverPull".to_string(),
                        format!(
                            "Container image \"{img}\" is not present with pull policy of Never"
                        ),
                    ),
                    runtime::Error::InvalidArgument(m) => {
                        ("CreateContainerError".to_string(), m.clone())
                    }
                    other => ("CreateContainerError".to_string(), other.to_string()),
                };
                self.event(pod, cref, WARNING, "Failed", &format!("Error: {message}"));
                self.reasons
                    .insert(c.name.clone(), Reason { reason, message });
                return;
            }
        };
        self.event(
            pod,
            cref,
            NORMAL,
            "Created",
            &format!("Created container: {}", c.name),
        );
        let t = tokio::time::Instant::now();
        let started = self.inner.runtime.start_container(&id).await;
        tracing::debug!(pod = %format_pod(pod), container = %c.name, took = ?t.elapsed(), "start_container");
        if let Err(e) = started {
            let message = e.to_string();
            self.event(pod, cref, WARNING, "Failed", &format!("Error: {message}"));
            self.reasons.insert(
                c.name.clone(),
                Reason {
                    reason: "RunContainerError".into(),
                    message,
                },
            );
            return;
        }
        self.event(
            pod,
            cref,
            NORMAL,
            "Started",
            &format!("Started container {}", c.name),
        );
        self.reasons.remove(&c.name);
        if let Some(handler) = c.lifecycle.as_ref().and_then(|l| l.post_start.clone()) {
            let grace = Duration::from_secs(grace_seconds(pod).max(2) as u64);
            if let Err(msg) = self.run_handler(&handler, c, &id, ctx.pod_ip, grace).await {
                tracing::info!(container = %c.name, error = %msg, "postStart hook failed");
                self.event(
                    pod,
                    cref,
                    WARNING,
                    "FailedPostStartHook",
                    "PostStartHook failed",
                );
                let _ = self.inner.runtime.stop_container(&id, grace).await;
                self.reasons.insert(
                    c.name.clone(),
                    Reason {
                        reason: "PostStartHookError".into(),
                        message: msg,
                    },
                );
            }
        }
    }

    fn container_config(
        &self,
        pod: &Pod,
        c: &Container,
        restart_count: u32,
        env: Vec<(String, String)>,
        mounts: Vec<Mount>,
    ) -> ContainerConfig {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let ns = pod
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        let mut l = BTreeMap::new();
        l.insert(labels::POD_NAME.to_string(), name);
        l.insert(labels::POD_NAMESPACE.to_string(), ns);
        l.insert(labels::POD_UID.to_string(), self.uid.clone());
        l.insert(labels::CONTAINER_NAME.to_string(), c.name.clone());
        l.insert(
            labels::NODE_NAME.to_string(),
            self.inner.node_name().to_string(),
        );
        let mut a = BTreeMap::new();
        a.insert(labels::CONTAINER_HASH.to_string(), container_hash(c));
        a.insert(
            labels::CONTAINER_RESTART_COUNT.to_string(),
            restart_count.to_string(),
        );
        a.insert(
            labels::CONTAINER_TERMINATION_MESSAGE_PATH.to_string(),
            c.termination_message_path
                .clone()
                .unwrap_or_else(|| "/dev/termination-log".into()),
        );
        a.insert(
            labels::POD_TERMINATION_GRACE_PERIOD.to_string(),
            grace_seconds(pod).to_string(),
        );
        let res = c.resources.clone().unwrap_or_default();
        let req = res.requests.unwrap_or_default();
        let lim = res.limits.unwrap_or_default();
        let milli = |m: &BTreeMap<String, Quantity>, k: &str| {
            m.get(k).map(|q| q.milli_value().max(0) as u64)
        };
        let bytes =
            |m: &BTreeMap<String, Quantity>, k: &str| m.get(k).map(|q| q.value().max(0) as u64);
        ContainerConfig {
            name: c.name.clone(),
            attempt: restart_count,
            image: c.image.clone().unwrap_or_default(),
            command: c
                .command
                .clone()
                .unwrap_or_default()
                .iter()
                .map(|s| expand(s, &env))
                .collect(),
            args: c
                .args
                .clone()
                .unwrap_or_default()
                .iter()
                .map(|s| expand(s, &env))
                .collect(),
            working_dir: c.working_dir.clone().filter(|w| !w.is_empty()),
            env,
            mounts,
            log_path: PathBuf::from(&c.name).join(format!("{restart_count}.log")),
            stdin: c.stdin.unwrap_or(false),
            stdin_once: c.stdin_once.unwrap_or(false),
            tty: c.tty.unwrap_or(false),
            resources: Resources {
                cpu_request_millis: milli(&req, "cpu"),
                cpu_limit_millis: milli(&lim, "cpu"),
                memory_request_bytes: bytes(&req, "memory"),
                memory_limit_bytes: bytes(&lim, "memory"),
            },
            labels: l,
            annotations: a,
        }
    }

    /// Host paths for the container's volume mounts (emptyDir, hostPath).
    async fn mounts(&self, pod: &Pod, c: &Container) -> Result<Vec<Mount>, String> {
        let volumes = pod
            .spec
            .as_ref()
            .and_then(|s| s.volumes.clone())
            .unwrap_or_default();
        let mut out = vec![];
        for m in c.volume_mounts.iter().flatten() {
            let Some(v) = volumes.iter().find(|v| v.name == m.name) else {
                return Err(format!(
                    "cannot find volume \"{}\" to mount into container \"{}\"",
                    m.name, c.name
                ));
            };
            let mut host = if let Some(h) = &v.host_path {
                PathBuf::from(&h.path)
            } else if v.empty_dir.is_some() {
                let dir = self
                    .inner
                    .cfg
                    .log_root
                    .join(".volumes")
                    .join(&self.uid)
                    .join("kubernetes.io~empty-dir")
                    .join(&v.name);
                tokio::fs::create_dir_all(&dir)
                    .await
                    .map_err(|e| format!("creating emptyDir {}: {e}", dir.display()))?;
                dir
            } else {
                // Other volume types are not provided by this kubelet; skip the mount.
                continue;
            };
            if let Some(sub) = m.sub_path.as_ref().filter(|s| !s.is_empty()) {
                host = host.join(sub);
            }
            out.push(Mount {
                container_path: PathBuf::from(&m.mount_path),
                host_path: host,
                readonly: m.read_only.unwrap_or(false),
            });
        }
        Ok(out)
    }

    /// The container's environment (`makeEnvironmentVariables`): envFrom, then env with
    /// `$(VAR)` expansion, fieldRef, resourceFieldRef, configMapKeyRef and secretKeyRef.
    async fn resolve_env(
        &self,
        pod: &Pod,
        c: &Container,
        pod_ip: &str,
    ) -> Result<Vec<(String, String)>, String> {
        let ns = pod
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        let mut out: Vec<(String, String)> = vec![];
        let set = |out: &mut Vec<(String, String)>, k: String, v: String| {
            if let Some(e) = out.iter_mut().find(|(n, _)| *n == k) {
                e.1 = v;
            } else {
                out.push((k, v));
            }
        };
        let cms: Api<ConfigMap> = Api::namespaced(self.inner.client.clone(), &ns);
        let secrets: Api<Secret> = Api::namespaced(self.inner.client.clone(), &ns);
        for from in c.env_from.iter().flatten() {
            let prefix = from.prefix.clone().unwrap_or_default();
            if let Some(r) = &from.config_map_ref {
                match cms.get_opt(&r.name).await.map_err(|e| e.to_string())? {
                    Some(cm) => {
                        for (k, v) in cm.data.unwrap_or_default() {
                            set(&mut out, format!("{prefix}{k}"), v);
                        }
                    }
                    None if r.optional == Some(true) => {}
                    None => return Err(format!("configmap \"{}\" not found", r.name)),
                }
            }
            if let Some(r) = &from.secret_ref {
                match secrets.get_opt(&r.name).await.map_err(|e| e.to_string())? {
                    Some(s) => {
                        for (k, v) in s.data.unwrap_or_default() {
                            set(
                                &mut out,
                                format!("{prefix}{k}"),
                                String::from_utf8_lossy(&v.0).into_owned(),
                            );
                        }
                    }
                    None if r.optional == Some(true) => {}
                    None => return Err(format!("secret \"{}\" not found", r.name)),
                }
            }
        }
        for e in c.env.iter().flatten() {
            let value = if let Some(v) = &e.value {
                expand(v, &out)
            } else if let Some(src) = &e.value_from {
                if let Some(f) = &src.field_ref {
                    field_value(pod, &f.field_path, pod_ip, self.inner.node_ip())
                        .ok_or_else(|| format!("unsupported fieldPath: {}", f.field_path))?
                } else if let Some(r) = &src.config_map_key_ref {
                    match cms.get_opt(&r.name).await.map_err(|e| e.to_string())? {
                        Some(cm) => match cm.data.unwrap_or_default().get(&r.key) {
                            Some(v) => v.clone(),
                            None if r.optional == Some(true) => continue,
                            None => {
                                return Err(format!(
                                    "couldn't find key {} in ConfigMap {ns}/{}",
                                    r.key, r.name
                                ))
                            }
                        },
                        None if r.optional == Some(true) => continue,
                        None => return Err(format!("configmap \"{}\" not found", r.name)),
                    }
                } else if let Some(r) = &src.secret_key_ref {
                    match secrets.get_opt(&r.name).await.map_err(|e| e.to_string())? {
                        Some(s) => match s.data.unwrap_or_default().get(&r.key) {
                            Some(v) => String::from_utf8_lossy(&v.0).into_owned(),
                            None if r.optional == Some(true) => continue,
                            None => {
                                return Err(format!(
                                    "couldn't find key {} in Secret {ns}/{}",
                                    r.key, r.name
                                ))
                            }
                        },
                        None if r.optional == Some(true) => continue,
                        None => return Err(format!("secret \"{}\" not found", r.name)),
                    }
                } else if let Some(r) = &src.resource_field_ref {
                    self.resource_value(c, &r.resource, r.divisor.as_ref())?
                } else {
                    String::new()
                }
            } else {
                String::new()
            };
            set(&mut out, e.name.clone(), value);
        }
        Ok(out)
    }

    fn resource_value(
        &self,
        c: &Container,
        resource: &str,
        divisor: Option<&Quantity>,
    ) -> Result<String, String> {
        let res = c.resources.clone().unwrap_or_default();
        let alloc = self.inner.allocatable.get().cloned().unwrap_or_default();
        let (map, key) = match resource.split_once('.') {
            Some(("limits", k)) => (res.limits.unwrap_or_default(), k.to_string()),
            Some(("requests", k)) => (res.requests.unwrap_or_default(), k.to_string()),
            _ => return Err(format!("unsupported container resource: {resource}")),
        };
        let q = map
            .get(&key)
            .or_else(|| alloc.get(&key))
            .cloned()
            .unwrap_or_default();
        let div = divisor
            .filter(|d| !d.is_zero())
            .cloned()
            .unwrap_or_else(|| Quantity::from_scaled(1, 0));
        // ceil(q / divisor)
        let (qm, dm) = (q.milli_value() as i128, div.milli_value().max(1) as i128);
        Ok(((qm + dm - 1) / dm).to_string())
    }

    /// Runs a lifecycle handler (exec, httpGet, sleep) bounded by `timeout`.
    async fn run_handler(
        &self,
        h: &LifecycleHandler,
        c: &Container,
        container_id: &str,
        pod_ip: &str,
        timeout: Duration,
    ) -> Result<(), String> {
        if let Some(exec) = &h.exec {
            let cmd = exec.command.clone().unwrap_or_default();
            return match self
                .inner
                .runtime
                .exec_sync(container_id, &cmd, timeout)
                .await
            {
                Ok(o) if o.exit_code == 0 => Ok(()),
                Ok(o) => Err(format!(
                    "command '{}' exited with {}: {}",
                    cmd.join(" "),
                    o.exit_code,
                    String::from_utf8_lossy(&o.stderr)
                )),
                Err(e) => Err(e.to_string()),
            };
        }
        if let Some(g) = &h.http_get {
            return match prober::http_get(g, c, pod_ip, timeout).await? {
                prober::Outcome::Success => Ok(()),
                prober::Outcome::Failure(m) => Err(m),
            };
        }
        if let Some(s) = &h.sleep {
            tokio::time::sleep(Duration::from_secs(s.seconds.max(0) as u64).min(timeout)).await;
            return Ok(());
        }
        Err("lifecycle handler has no action".to_string())
    }

    /// `killContainer`: Killing event, preStop (bounded by the grace period, its time taken
    /// from it), then stop with at least 2 s.
    async fn kill_container(
        &self,
        pod: &Pod,
        c: &Container,
        is_init: bool,
        i: &Instance,
        grace: i64,
        message: Option<&str>,
    ) {
        let msg = message
            .map(str::to_string)
            .unwrap_or_else(|| format!("Stopping container {}", c.name));
        self.event(pod, Some((&c.name, is_init)), NORMAL, "Killing", &msg);
        let mut grace = Duration::from_secs(grace.max(0) as u64);
        if let Some(pre) = c.lifecycle.as_ref().and_then(|l| l.pre_stop.clone()) {
            let started = tokio::time::Instant::now();
            let pod_ip = pod
                .status
                .as_ref()
                .and_then(|s| s.pod_ip.clone())
                .unwrap_or_else(|| self.inner.node_ip().to_string());
            let run = self.run_handler(&pre, c, &i.id, &pod_ip, grace);
            match tokio::time::timeout(grace, run).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    self.event(
                        pod,
                        Some((&c.name, is_init)),
                        WARNING,
                        "FailedPreStopHook",
                        &format!("PreStopHook failed: {e}"),
                    );
                }
                Err(_) => {
                    tracing::info!(container = %c.name, "preStop hook did not finish within the grace period")
                }
            }
            grace = grace.saturating_sub(started.elapsed());
        }
        let grace = grace.max(Duration::from_secs(2));
        if let Err(e) = self.inner.runtime.stop_container(&i.id, grace).await {
            tracing::warn!(container = %c.name, error = %e, "stopping container");
        }
    }

    /// Stops every running container of the pod (in parallel, each with its preStop hook)
    /// and its sandboxes.
    async fn kill_pod(&self, pod: &Pod, rt: &RuntimePod, grace: Option<i64>) {
        let spec = pod.spec.clone().unwrap_or_default();
        let grace = grace.unwrap_or_else(|| grace_seconds(pod));
        let mut kills = vec![];
        for i in rt
            .instances
            .iter()
            .filter(|i| matches!(i.state, RtState::Running | RtState::Created))
        {
            let (c, is_init) = match spec.containers.iter().find(|c| c.name == i.name) {
                Some(c) => (c.clone(), false),
                None => match spec
                    .init_containers
                    .iter()
                    .flatten()
                    .find(|c| c.name == i.name)
                {
                    Some(c) => (c.clone(), true),
                    None => (
                        Container {
                            name: i.name.clone(),
                            ..Default::default()
                        },
                        false,
                    ),
                },
            };
            kills.push(async move {
                self.kill_container(pod, &c, is_init, i, grace, None).await;
            });
        }
        futures::future::join_all(kills).await;
        for s in rt
            .sandboxes
            .iter()
            .filter(|s| s.state == SandboxState::Ready)
        {
            if let Err(e) = self.inner.runtime.stop_pod_sandbox(&s.id).await {
                tracing::warn!(error = %e, "stopping sandbox");
            }
        }
        self.inner.prober.remove_pod(&self.uid);
    }

    /// Graceful termination: stop everything, write the final status, delete the pod object
    /// (`gracePeriodSeconds: 0`, UID precondition), remove the runtime objects.
    async fn terminate(&mut self, work: &PodWork) -> Next {
        let pod = work.pod.clone();
        let rt = match self.runtime_pod().await {
            Ok(rt) => rt,
            Err(_) => return Next::After(Duration::from_secs(1)),
        };
        let grace = grace_seconds(&pod);
        self.kill_pod(&pod, &rt, Some(grace)).await;
        self.terminal = true;
        self.inner
            .admitted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.uid);
        let rt = self.runtime_pod().await.unwrap_or(rt);
        if !work.removed {
            self.write_status(&pod, &rt, work.is_static).await;
            if !work.is_static {
                let ns = pod
                    .metadata
                    .namespace
                    .clone()
                    .unwrap_or_else(|| "default".into());
                let api: Api<Pod> = Api::namespaced(self.inner.client.clone(), &ns);
                let params = DeleteParams {
                    grace_period_seconds: Some(0),
                    preconditions: Some(Preconditions {
                        uid: Some(self.uid.clone()),
                        resource_version: None,
                    }),
                    ..Default::default()
                };
                match api
                    .delete(pod.metadata.name.as_deref().unwrap_or(""), &params)
                    .await
                {
                    Ok(_) => {}
                    Err(e) if e.is_not_found() || e.is_conflict() => {}
                    Err(e) => {
                        tracing::warn!(pod = %format_pod(&pod), error = %e, "deleting pod");
                        return Next::After(Duration::from_secs(1));
                    }
                }
            }
        }
        for i in &rt.instances {
            let _ = self.inner.runtime.remove_container(&i.id).await;
        }
        for s in &rt.sandboxes {
            let _ = self.inner.runtime.stop_pod_sandbox(&s.id).await;
            let _ = self.inner.runtime.remove_pod_sandbox(&s.id).await;
        }
        Next::Done
    }

    /// Removes dead instances beyond the newest and the ones `--previous` shows.
    async fn collect_garbage(&self, rt: &RuntimePod) {
        let keep = self.inner.cfg.max_dead_per_container;
        let mut dead: HashMap<&str, usize> = HashMap::new();
        let mut newest_seen: HashMap<&str, bool> = HashMap::new();
        for i in &rt.instances {
            let first = !newest_seen.contains_key(i.name.as_str());
            newest_seen.insert(&i.name, true);
            if first || !i.exited() {
                continue;
            }
            let n = dead.entry(&i.name).or_default();
            *n += 1;
            if *n > keep {
                let _ = self.inner.runtime.remove_container(&i.id).await;
            }
        }
        // Old sandboxes without containers.
        let current = rt.ready_sandbox().map(|s| s.id.clone());
        for s in rt
            .sandboxes
            .iter()
            .filter(|s| Some(&s.id) != current.as_ref() && s.state == SandboxState::NotReady)
        {
            if !rt.instances.iter().any(|i| i.sandbox_id == s.id) {
                let _ = self.inner.runtime.remove_pod_sandbox(&s.id).await;
            }
        }
    }

    async fn ensure_probes(&self, pod: &Arc<Pod>, rt: &RuntimePod) {
        let spec = pod.spec.clone().unwrap_or_default();
        let pod_ip = match rt.ready_sandbox() {
            Some(s) => self
                .inner
                .runtime
                .pod_sandbox_status(&s.id)
                .await
                .ok()
                .and_then(|st| st.ip)
                .unwrap_or_else(|| self.inner.node_ip().to_string()),
            None => self.inner.node_ip().to_string(),
        };
        let mut live = vec![];
        for i in rt.instances.iter().filter(|i| i.state == RtState::Running) {
            let (c, is_init) = match spec.containers.iter().find(|c| c.name == i.name) {
                Some(c) => (c, false),
                None => match spec
                    .init_containers
                    .iter()
                    .flatten()
                    .find(|c| c.name == i.name)
                {
                    Some(c) => (c, true),
                    None => continue,
                },
            };
            live.push(i.id.clone());
            let started = i.started_at.unwrap_or(i.created_at);
            self.inner
                .prober
                .ensure(&self.inner, pod, c, is_init, &i.id, started, &pod_ip);
        }
        self.inner.prober.retain(&self.uid, &live);
    }

    /// Generates the status and writes it when it changed; returns the phase.
    async fn write_status(
        &mut self,
        pod: &Pod,
        rt: &RuntimePod,
        is_static: bool,
    ) -> Option<String> {
        let sandbox = rt.ready_sandbox();
        let mut pod_ips = vec![];
        let mut sandbox_ready = false;
        if let Some(s) = sandbox {
            if let Ok(st) = self.inner.runtime.pod_sandbox_status(&s.id).await {
                sandbox_ready = st.state == SandboxState::Ready;
                match st.ip.clone().filter(|ip| !ip.is_empty()) {
                    Some(ip) => {
                        pod_ips.push(ip);
                        pod_ips.extend(st.additional_ips.clone());
                    }
                    None => pod_ips.push(self.inner.node_ip().to_string()),
                }
            }
        }
        if pod_ips.is_empty() {
            // Keep the IPs the pod had while its sandbox is gone.
            if let Some(ips) = pod.status.as_ref().and_then(|s| s.pod_ips.clone()) {
                pod_ips = ips.into_iter().map(|p| p.ip).collect();
            }
        }
        let prober = &self.inner.prober;
        let probes = |id: &str| prober.state(id);
        let now = self.now();
        // The status is computed against the target object (the mirror pod for static pods)
        // so that foreign conditions and transition times carry over.
        let target = if is_static {
            self.mirror_of(pod)
        } else {
            Some(Arc::new(pod.clone()))
        };
        let target = target?;
        if target.metadata.uid != self.last_target_uid {
            // A new object (a recreated mirror pod): write the status afresh.
            self.last_status = None;
            self.last_target_uid = target.metadata.uid.clone();
        }
        let mut base = pod.clone();
        base.status = target.status.clone();
        if let Some(last) = &self.last_status {
            // Our own last write may not be in the cache yet: start from it, with the
            // conditions other components own taken from the object.
            let mut st = last.clone();
            let foreign = target
                .status
                .as_ref()
                .and_then(|s| s.conditions.clone())
                .unwrap_or_default()
                .into_iter()
                .filter(|c| !status::OWNED_CONDITIONS.contains(&c.type_.as_str()));
            let mut conditions: Vec<_> = st
                .conditions
                .take()
                .unwrap_or_default()
                .into_iter()
                .filter(|c| status::OWNED_CONDITIONS.contains(&c.type_.as_str()))
                .collect();
            conditions.extend(foreign);
            st.conditions = Some(conditions);
            base.status = Some(st);
        }
        let status = status::generate(
            &base,
            &StatusInput {
                instances: &rt.instances,
                sandbox_ready,
                pod_ips,
                host_ip: self.inner.node_ip().to_string(),
                runtime_name: self.inner.runtime_name(),
                reasons: &self.reasons,
                probes: &probes,
                terminal: self.terminal,
                forced: self.forced.clone(),
                start_time: self
                    .start_time
                    .unwrap_or_else(|| Time::from_unix_seconds(now.as_second())),
                now,
            },
        );
        let phase = status.phase.clone();
        if self.last_status.as_ref() == Some(&status) {
            return phase;
        }
        let mut body = serde_json::to_value(&status).unwrap_or(Value::Null);
        if let Value::Object(m) = &mut body {
            for k in [
                "reason",
                "message",
                "podIP",
                "podIPs",
                "initContainerStatuses",
                "hostIP",
                "hostIPs",
            ] {
                m.entry(k).or_insert(Value::Null);
            }
        }
        let ns = target
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        let name = target.metadata.name.clone().unwrap_or_default();
        let api: Api<Pod> = Api::namespaced(self.inner.client.clone(), &ns);
        let patch = json!({"metadata": {"uid": target.metadata.uid}, "status": body});
        let mut ok = false;
        for _ in 0..3 {
            match api
                .patch_status(&name, &PatchParams::default(), Patch::Merge(patch.clone()))
                .await
            {
                Ok(_) => {
                    ok = true;
                    break;
                }
                Err(e) if e.is_not_found() => break,
                Err(e) => tracing::warn!(pod = %format_pod(pod), error = %e, "updating pod status"),
            }
        }
        if ok {
            self.last_status = Some(status);
        }
        phase
    }

    fn mirror_of(&self, pod: &Pod) -> Option<Arc<Pod>> {
        let store = self.inner.pods.get()?;
        let key = ObjectKey::namespaced(
            pod.metadata.namespace.as_deref().unwrap_or("default"),
            pod.metadata.name.as_deref().unwrap_or(""),
        );
        store.get(&key).filter(|m| crate::sources::is_mirror_pod(m))
    }
}

struct StartCtx<'a> {
    sandbox_id: &'a str,
    sandbox: &'a PodSandboxConfig,
    pod_ip: &'a str,
}

/// The value of a downward-API `fieldRef`.
fn field_value(pod: &Pod, path: &str, pod_ip: &str, host_ip: &str) -> Option<String> {
    let spec = pod.spec.clone().unwrap_or_default();
    if let Some(rest) = path.strip_prefix("metadata.labels['") {
        let key = rest.strip_suffix("']")?;
        return Some(
            pod.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(key).cloned())
                .unwrap_or_default(),
        );
    }
    if let Some(rest) = path.strip_prefix("metadata.annotations['") {
        let key = rest.strip_suffix("']")?;
        return Some(
            pod.metadata
                .annotations
                .as_ref()
                .and_then(|l| l.get(key).cloned())
                .unwrap_or_default(),
        );
    }
    Some(match path {
        "metadata.name" => pod.metadata.name.clone().unwrap_or_default(),
        "metadata.namespace" => pod.metadata.namespace.clone().unwrap_or_default(),
        "metadata.uid" => pod.metadata.uid.clone().unwrap_or_default(),
        "spec.nodeName" => spec.node_name.clone().unwrap_or_default(),
        "spec.serviceAccountName" => spec.service_account_name.clone().unwrap_or_default(),
        "status.podIP" => pod_ip.to_string(),
        "status.podIPs" => pod_ip.to_string(),
        "status.hostIP" | "status.hostIPs" => host_ip.to_string(),
        _ => return None,
    })
}

/// Expands `$(VAR)` references to earlier variables (`$$` escapes), as Kubernetes'
/// `expansion.Expand` does; unknown references stay as written.
pub fn expand(input: &str, env: &[(String, String)]) -> String {
    let mut out = String::with_capacity(input.len());
    let bytes = input.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'$' && i + 1 < bytes.len() {
            if bytes[i + 1] == b'$' {
                out.push('$');
                i += 2;
                continue;
            }
            if bytes[i + 1] == b'(' {
                if let Some(end) = input[i + 2..].find(')') {
                    let name = &input[i + 2..i + 2 + end];
                    match env.iter().rev().find(|(k, _)| k == name) {
                        Some((_, v)) => out.push_str(v),
                        None => out.push_str(&input[i..i + 3 + end]),
                    }
                    i += 3 + end;
                    continue;
                }
            }
        }
        let ch = input[i..].chars().next().unwrap_or('\u{fffd}');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expansion() {
        let env = vec![("A".to_string(), "x".to_string())];
        assert_eq!(expand("$(A)-$(B)-$$(A)", &env), "x-$(B)-$(A)");
    }

    #[test]
    fn admission_messages() {
        let pod: Pod = serde_json::from_value(json!({"spec": {"containers": [
            {"name": "a", "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}}]}}))
        .unwrap();
        let mut alloc = BTreeMap::new();
        alloc.insert("cpu".to_string(), Quantity::parse("2").unwrap());
        alloc.insert("memory".to_string(), Quantity::parse("4Gi").unwrap());
        alloc.insert("pods".to_string(), Quantity::parse("3").unwrap());
        let used = [Requests {
            cpu_millis: 1800,
            memory: 0,
            ephemeral: 0,
        }];
        let (reason, msg) = admit(&pod, &alloc, &used).unwrap_err();
        assert_eq!(reason, "OutOfcpu");
        assert_eq!(
            msg,
            "Node didn't have enough resource: cpu, requested: 500, used: 1800, capacity: 2000"
        );
        let used = [Requests::default(); 3];
        assert_eq!(admit(&pod, &alloc, &used).unwrap_err().0, "OutOfpods");
        assert!(admit(&pod, &alloc, &[]).is_ok());
    }
}
