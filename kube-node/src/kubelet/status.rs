//! The pod status the kubelet reports, computed from the PodSpec and the runtime's view of the
//! pod (Kubernetes `generateAPIPodStatus`, `convertToAPIContainerStatuses`, `getPhase` in
//! `pkg/kubelet/kubelet_pods.go` and the condition generators of
//! `pkg/kubelet/status/generate.go`). Everything here is pure: the sync loop gathers the
//! inputs, this module decides.

use std::collections::HashMap;

use jiff::Timestamp;
use kubox_core::api::core_v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateTerminated,
    ContainerStateWaiting, ContainerStatus, HostIP, Pod, PodCondition, PodIP, PodStatus,
};
use kubox_core::Time;

use crate::labels;
use crate::runtime::{self, ContainerState as RtState};

/// Phase `Pending`.
pub const PENDING: &str = "Pending";
/// Phase `Running`.
pub const RUNNING: &str = "Running";
/// Phase `Succeeded`.
pub const SUCCEEDED: &str = "Succeeded";
/// Phase `Failed`.
pub const FAILED: &str = "Failed";

/// Condition types the kubelet owns (it preserves all others).
pub const OWNED_CONDITIONS: [&str; 5] = [
    "PodReadyToStartContainers",
    "Initialized",
    "Ready",
    "ContainersReady",
    "PodScheduled",
];

/// One runtime container of a pod, as the kubelet sees it (a `kubecontainer.Status`).
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// The runtime's container id.
    pub id: String,
    /// The sandbox it runs in.
    pub sandbox_id: String,
    /// The container's name in the pod.
    pub name: String,
    /// Its restart count (from the kubelet's annotation, else the attempt).
    pub restart_count: u32,
    /// The spec hash it was created from.
    pub hash: String,
    /// Its state.
    pub state: RtState,
    /// Creation time.
    pub created_at: Timestamp,
    /// Start time.
    pub started_at: Option<Timestamp>,
    /// Exit time.
    pub finished_at: Option<Timestamp>,
    /// Exit code.
    pub exit_code: Option<i32>,
    /// The runtime's reason (`Completed`, `Error`, `OOMKilled`, `StartError`).
    pub reason: String,
    /// The runtime's message.
    pub message: String,
    /// The image reference.
    pub image: String,
    /// The image id.
    pub image_ref: String,
}

impl Instance {
    /// The kubelet's view of a runtime container status.
    pub fn from_runtime(s: &runtime::ContainerStatus) -> Self {
        let restart_count = s
            .annotations
            .get(labels::CONTAINER_RESTART_COUNT)
            .and_then(|v| v.parse().ok())
            .unwrap_or(s.attempt);
        Instance {
            id: s.id.clone(),
            sandbox_id: s.sandbox_id.clone(),
            name: s
                .labels
                .get(labels::CONTAINER_NAME)
                .cloned()
                .unwrap_or_else(|| s.name.clone()),
            restart_count,
            hash: s
                .annotations
                .get(labels::CONTAINER_HASH)
                .cloned()
                .unwrap_or_default(),
            state: s.state,
            created_at: s.created_at,
            started_at: s.started_at,
            finished_at: s.finished_at,
            exit_code: s.exit_code,
            reason: s.reason.clone(),
            message: s.message.clone(),
            image: s.image.clone(),
            image_ref: s.image_ref.clone(),
        }
    }

    /// Whether the container has exited.
    pub fn exited(&self) -> bool {
        self.state == RtState::Exited
    }
}

/// Sorts instances newest first (restart count, then creation time).
pub fn sort_newest_first(instances: &mut [Instance]) {
    instances.sort_by(|a, b| {
        b.restart_count
            .cmp(&a.restart_count)
            .then(b.created_at.cmp(&a.created_at))
    });
}

/// The instances of container `name`, newest first (the input must be sorted).
pub fn instances_of<'a>(
    instances: &'a [Instance],
    name: &'a str,
) -> impl Iterator<Item = &'a Instance> {
    instances.iter().filter(move |i| i.name == name)
}

/// A pod's restart policy (`Always` when unset).
pub fn restart_policy(pod: &Pod) -> &str {
    pod.spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref())
        .unwrap_or("Always")
}

/// Whether an init container is a sidecar (`restartPolicy: Always`).
pub fn is_sidecar(c: &Container) -> bool {
    c.restart_policy.as_deref() == Some("Always")
}

/// Kubernetes' `ShouldContainerBeRestarted` for a regular container whose newest instance is
/// `latest`.
pub fn should_restart(pod: &Pod, latest: Option<&Instance>) -> bool {
    if pod.metadata.deletion_timestamp.is_some() {
        return false;
    }
    let Some(latest) = latest else {
        return true;
    };
    match latest.state {
        RtState::Running => false,
        RtState::Unknown | RtState::Created => true,
        RtState::Exited => match restart_policy(pod) {
            "Never" => false,
            "OnFailure" => latest.exit_code.unwrap_or(0) != 0,
            _ => true,
        },
    }
}

/// The container's `containerID` as the API shows it (`<runtime>://<id>`).
pub fn container_id(runtime_name: &str, id: &str) -> String {
    format!("{runtime_name}://{id}")
}

fn time(ts: Timestamp) -> Time {
    Time::from_unix_seconds(ts.as_second())
}

/// A waiting reason the kubelet keeps for a container after a failed start (its
/// `reasonCache`): `CrashLoopBackOff`, `ErrImagePull`, `CreateContainerError`, ….
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    /// The short reason.
    pub reason: String,
    /// The message.
    pub message: String,
}

/// Probe state of one running container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeState {
    /// The readiness result (true without a readiness probe once started).
    pub ready: bool,
    /// The startup result (true without a startup probe).
    pub started: bool,
}

/// Everything [`generate`] needs besides the pod.
pub struct StatusInput<'a> {
    /// The runtime containers of the pod, newest first.
    pub instances: &'a [Instance],
    /// Whether the pod has a ready sandbox with its network set up.
    pub sandbox_ready: bool,
    /// The pod's IPs (the node's IP for host-network pods).
    pub pod_ips: Vec<String>,
    /// The node's IP.
    pub host_ip: String,
    /// The runtime's name, for `containerID`.
    pub runtime_name: &'a str,
    /// Cached waiting reasons by container name.
    pub reasons: &'a HashMap<String, Reason>,
    /// Probe results by container id.
    pub probes: &'a dyn Fn(&str) -> ProbeState,
    /// The kubelet decided the pod is terminal (deleted, deadline exceeded).
    pub terminal: bool,
    /// A phase, reason and message forced by the kubelet (rejection, deadline).
    pub forced: Option<(String, String, String)>,
    /// The pod's start time.
    pub start_time: Time,
    /// Now.
    pub now: Timestamp,
}

/// Converts a container's runtime instances into its API status
/// (`convertToAPIContainerStatuses`).
fn container_status(
    pod: &Pod,
    c: &Container,
    input: &StatusInput<'_>,
    default_waiting: &str,
    is_init: bool,
) -> ContainerStatus {
    let mut it = instances_of(input.instances, &c.name);
    let latest = it.next();
    let previous = it.find(|i| i.exited());
    let image = c.image.clone().unwrap_or_default();
    let mut status = ContainerStatus {
        allocated_resources: None,
        allocated_resources_status: None,
        container_id: None,
        image: image.clone(),
        image_id: String::new(),
        last_state: Some(ContainerState::default()),
        name: c.name.clone(),
        ready: false,
        resources: None,
        restart_count: 0,
        started: Some(false),
        state: None,
        stop_signal: None,
        user: None,
        volume_mounts: None,
    };
    let Some(latest) = latest else {
        let (reason, message) = match input.reasons.get(&c.name) {
            Some(r) => (
                r.reason.clone(),
                Some(r.message.clone()).filter(|m| !m.is_empty()),
            ),
            None => (default_waiting.to_string(), None),
        };
        status.state = Some(ContainerState {
            waiting: Some(ContainerStateWaiting {
                reason: Some(reason),
                message,
            }),
            ..Default::default()
        });
        // A container the runtime lost after it ran: terminated `ContainerStatusUnknown`.
        let old = pod
            .status
            .as_ref()
            .and_then(|s| {
                if is_init {
                    s.init_container_statuses.as_ref()
                } else {
                    s.container_statuses.as_ref()
                }
            })
            .and_then(|l| l.iter().find(|s| s.name == c.name));
        if let Some(old) = old.filter(|o| o.container_id.is_some()) {
            let was_running = old.state.as_ref().is_some_and(|s| s.running.is_some());
            status.restart_count = old.restart_count;
            status.last_state = old.last_state.clone();
            if was_running {
                let deleting = pod.metadata.deletion_timestamp.is_some();
                status.state = Some(ContainerState {
                    terminated: Some(ContainerStateTerminated {
                        container_id: None,
                        exit_code: 137,
                        finished_at: None,
                        message: Some(
                            "The container could not be located when the pod was terminated"
                                .to_string(),
                        ),
                        reason: Some("ContainerStatusUnknown".to_string()),
                        signal: None,
                        started_at: None,
                    }),
                    ..Default::default()
                });
                if !deleting {
                    status.restart_count += 1;
                }
            }
        }
        return status;
    };
    status.container_id = Some(container_id(input.runtime_name, &latest.id));
    status.image_id = latest.image_ref.clone();
    status.restart_count = latest.restart_count as i32;
    let terminated = |i: &Instance| ContainerState {
        terminated: Some(ContainerStateTerminated {
            container_id: Some(container_id(input.runtime_name, &i.id)),
            exit_code: i.exit_code.unwrap_or(0),
            finished_at: i.finished_at.map(time),
            message: Some(i.message.clone()).filter(|m| !m.is_empty()),
            reason: Some(i.reason.clone()).filter(|m| !m.is_empty()),
            signal: None,
            started_at: i.started_at.map(time),
        }),
        ..Default::default()
    };
    status.state = Some(match latest.state {
        RtState::Running => {
            let p = (input.probes)(&latest.id);
            status.started = Some(p.started);
            status.ready = p.ready && p.started;
            ContainerState {
                running: Some(ContainerStateRunning {
                    started_at: latest.started_at.map(time),
                }),
                ..Default::default()
            }
        }
        RtState::Exited => {
            if is_init {
                status.ready = latest.exit_code == Some(0);
            }
            terminated(latest)
        }
        RtState::Created | RtState::Unknown => ContainerState {
            waiting: Some(ContainerStateWaiting {
                reason: Some(default_waiting.to_string()),
                message: None,
            }),
            ..Default::default()
        },
    });
    if let Some(prev) = previous {
        status.last_state = Some(terminated(prev));
    }
    // A dead container that the next sync restarts shows as waiting with its cached reason.
    let pending_restart = latest.exited()
        && !input.terminal
        && if is_init {
            latest.exit_code != Some(0) && restart_policy(pod) != "Never" || is_sidecar(c)
        } else {
            should_restart(pod, Some(latest))
        };
    if pending_restart {
        if let Some(r) = input.reasons.get(&c.name) {
            status.last_state = status.state.take();
            status.state = Some(ContainerState {
                waiting: Some(ContainerStateWaiting {
                    reason: Some(r.reason.clone()),
                    message: Some(r.message.clone()).filter(|m| !m.is_empty()),
                }),
                ..Default::default()
            });
        }
    }
    status
}

fn is_running(s: &ContainerStatus) -> bool {
    s.state.as_ref().is_some_and(|st| st.running.is_some())
}

fn terminated_exit(s: &ContainerStatus) -> Option<i32> {
    s.state
        .as_ref()
        .and_then(|st| st.terminated.as_ref())
        .map(|t| t.exit_code)
}

fn last_terminated_exit(s: &ContainerStatus) -> Option<i32> {
    s.last_state
        .as_ref()
        .and_then(|st| st.terminated.as_ref())
        .map(|t| t.exit_code)
}

fn is_waiting(s: &ContainerStatus) -> bool {
    s.state.as_ref().is_some_and(|st| st.waiting.is_some())
}

/// Kubernetes' `getPhase`.
pub fn get_phase(
    pod: &Pod,
    init: &[ContainerStatus],
    regular: &[ContainerStatus],
    pod_is_terminal: bool,
) -> &'static str {
    let spec = pod.spec.clone().unwrap_or_default();
    let init_specs = spec.init_containers.clone().unwrap_or_default();
    let find = |list: &'_ [ContainerStatus], name: &str| -> Option<ContainerStatus> {
        list.iter().find(|s| s.name == name).cloned()
    };
    let (mut pending_init, mut failed_init) = (0, 0);
    let (mut unknown, mut running, mut waiting, mut stopped, mut succeeded) = (0, 0, 0, 0, 0);
    let mut count_regular = |s: Option<ContainerStatus>| match s {
        None => unknown += 1,
        Some(s) if is_running(&s) => running += 1,
        Some(s) if terminated_exit(&s).is_some() => {
            stopped += 1;
            if terminated_exit(&s) == Some(0) {
                succeeded += 1;
            }
        }
        Some(s) if is_waiting(&s) => {
            if last_terminated_exit(&s).is_some() {
                stopped += 1;
            } else {
                waiting += 1;
            }
        }
        Some(_) => unknown += 1,
    };
    for c in &init_specs {
        let s = find(init, &c.name);
        if is_sidecar(c) {
            match &s {
                Some(st) if is_running(st) && st.started == Some(true) => {}
                _ => pending_init += 1,
            }
            // Sidecars also count with the regular containers (terminated ones are ignored).
            if let Some(st) = s.filter(|st| terminated_exit(st).is_none()) {
                count_regular(Some(st));
            }
            continue;
        }
        match s {
            None => pending_init += 1,
            Some(s) if is_running(&s) => pending_init += 1,
            Some(s) if terminated_exit(&s).is_some() => {
                if terminated_exit(&s) != Some(0) {
                    failed_init += 1;
                }
            }
            Some(s) if is_waiting(&s) => {
                if last_terminated_exit(&s).is_some_and(|e| e != 0) {
                    failed_init += 1;
                } else {
                    pending_init += 1;
                }
            }
            Some(_) => pending_init += 1,
        }
    }
    for c in &spec.containers {
        count_regular(find(regular, &c.name));
    }
    let policy = restart_policy(pod);
    if failed_init > 0 && policy == "Never" {
        return FAILED;
    }
    let any_regular_started = regular.iter().any(|s| {
        is_running(s) || terminated_exit(s).is_some() || last_terminated_exit(s).is_some()
    });
    if (pending_init > 0 && !any_regular_started) || waiting > 0 {
        return PENDING;
    }
    if running > 0 && unknown == 0 {
        return RUNNING;
    }
    if running == 0 && stopped > 0 && unknown == 0 {
        if pod_is_terminal {
            return if stopped == succeeded {
                SUCCEEDED
            } else {
                FAILED
            };
        }
        return match policy {
            "Always" => RUNNING,
            "OnFailure" => {
                if stopped == succeeded {
                    SUCCEEDED
                } else {
                    RUNNING
                }
            }
            _ => {
                if stopped == succeeded {
                    SUCCEEDED
                } else {
                    FAILED
                }
            }
        };
    }
    PENDING
}

fn condition(type_: &str, ok: bool, reason: Option<&str>, message: Option<String>) -> PodCondition {
    PodCondition {
        last_probe_time: None,
        last_transition_time: None,
        message,
        observed_generation: None,
        reason: reason.map(str::to_string),
        status: if ok { "True" } else { "False" }.to_string(),
        type_: type_.to_string(),
    }
}

fn go_list(names: &[String]) -> String {
    format!("[{}]", names.join(" "))
}

/// `GeneratePodInitializedCondition`.
fn initialized_condition(
    pod: &Pod,
    init: &[ContainerStatus],
    regular: &[ContainerStatus],
    phase: &str,
) -> PodCondition {
    let specs = pod
        .spec
        .as_ref()
        .and_then(|s| s.init_containers.clone())
        .unwrap_or_default();
    if !specs.is_empty() && init.is_empty() {
        return condition("Initialized", false, Some("UnknownContainerStatuses"), None);
    }
    if phase == SUCCEEDED {
        return condition("Initialized", true, Some("PodCompleted"), None);
    }
    if regular
        .iter()
        .any(|s| is_running(s) || terminated_exit(s).is_some() || last_terminated_exit(s).is_some())
    {
        return condition("Initialized", true, None, None);
    }
    let mut incomplete = vec![];
    for c in &specs {
        let s = init.iter().find(|s| s.name == c.name);
        let done = match s {
            None => false,
            Some(s) if is_sidecar(c) => s.started == Some(true),
            Some(s) => s.ready,
        };
        if !done {
            incomplete.push(c.name.clone());
        }
    }
    if incomplete.is_empty() {
        return condition("Initialized", true, None, None);
    }
    condition(
        "Initialized",
        false,
        Some("ContainersNotInitialized"),
        Some(format!(
            "containers with incomplete status: {}",
            go_list(&incomplete)
        )),
    )
}

/// `GenerateContainersReadyCondition`.
fn containers_ready_condition(
    pod: &Pod,
    init: &[ContainerStatus],
    regular: &[ContainerStatus],
    phase: &str,
) -> PodCondition {
    let spec = pod.spec.clone().unwrap_or_default();
    let (mut unknown, mut unready) = (vec![], vec![]);
    for c in spec
        .init_containers
        .iter()
        .flatten()
        .filter(|c| is_sidecar(c))
    {
        match init.iter().find(|s| s.name == c.name) {
            None => unknown.push(c.name.clone()),
            Some(s) if !s.ready => unready.push(c.name.clone()),
            _ => {}
        }
    }
    for c in &spec.containers {
        match regular.iter().find(|s| s.name == c.name) {
            None => unknown.push(c.name.clone()),
            Some(s) if !s.ready => unready.push(c.name.clone()),
            _ => {}
        }
    }
    if phase == SUCCEEDED && unknown.is_empty() {
        return condition("ContainersReady", false, Some("PodCompleted"), None);
    }
    if phase == FAILED {
        return condition("ContainersReady", false, Some("PodFailed"), None);
    }
    let mut msgs = vec![];
    if !unknown.is_empty() {
        msgs.push(format!(
            "containers with unknown status: {}",
            go_list(&unknown)
        ));
    }
    if !unready.is_empty() {
        msgs.push(format!(
            "containers with unready status: {}",
            go_list(&unready)
        ));
    }
    if msgs.is_empty() {
        condition("ContainersReady", true, None, None)
    } else {
        condition(
            "ContainersReady",
            false,
            Some("ContainersNotReady"),
            Some(msgs.join(", ")),
        )
    }
}

/// `GeneratePodReadyCondition`.
fn ready_condition(pod: &Pod, containers_ready: &PodCondition) -> PodCondition {
    if containers_ready.status != "True" {
        let mut c = containers_ready.clone();
        c.type_ = "Ready".to_string();
        return c;
    }
    let gates = pod
        .spec
        .as_ref()
        .and_then(|s| s.readiness_gates.clone())
        .unwrap_or_default();
    let conditions = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let mut msgs = vec![];
    for g in gates {
        match conditions.iter().find(|c| c.type_ == g.condition_type) {
            None => msgs.push(format!(
                "corresponding condition of pod readiness gate \"{}\" does not exist.",
                g.condition_type
            )),
            Some(c) if c.status != "True" => msgs.push(format!(
                "the status of pod readiness gate \"{}\" is not \"True\", but {}",
                g.condition_type, c.status
            )),
            _ => {}
        }
    }
    if msgs.is_empty() {
        condition("Ready", true, None, None)
    } else {
        condition(
            "Ready",
            false,
            Some("ReadinessGatesNotReady"),
            Some(msgs.join(", ")),
        )
    }
}

/// The QoS class of a pod (`GetPodQOS`): `Guaranteed`, `Burstable` or `BestEffort`.
pub fn qos_class(pod: &Pod) -> &'static str {
    let spec = pod.spec.clone().unwrap_or_default();
    let all: Vec<&Container> = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .collect();
    let mut any = false;
    let mut guaranteed = true;
    for c in &all {
        let r = c.resources.clone().unwrap_or_default();
        let req = r.requests.unwrap_or_default();
        let lim = r.limits.unwrap_or_default();
        for res in ["cpu", "memory"] {
            let rq = req.get(res).filter(|q| !q.is_zero());
            let lm = lim.get(res).filter(|q| !q.is_zero());
            if rq.is_some() || lm.is_some() {
                any = true;
            }
            match (rq, lm) {
                (_, None) => guaranteed = false,
                (Some(a), Some(b)) if a != b => guaranteed = false,
                _ => {}
            }
        }
    }
    if !any {
        "BestEffort"
    } else if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

/// Keeps `lastTransitionTime` of unchanged conditions; sets it to now on a change.
fn carry_transition_times(new: &mut [PodCondition], old: &[PodCondition], now: Timestamp) {
    for c in new.iter_mut() {
        let prev = old.iter().find(|o| o.type_ == c.type_);
        c.last_transition_time = match prev {
            Some(p) if p.status == c.status && p.last_transition_time.is_some() => {
                p.last_transition_time
            }
            _ => Some(time(now)),
        };
    }
}

/// The pod's status (`generateAPIPodStatus`): phase, conditions, container statuses, IPs.
/// Conditions the kubelet does not own are kept from the pod's current status; a terminal
/// phase is never left.
pub fn generate(pod: &Pod, input: &StatusInput<'_>) -> PodStatus {
    let spec = pod.spec.clone().unwrap_or_default();
    let old = pod.status.clone().unwrap_or_default();
    let has_init = spec.init_containers.as_ref().is_some_and(|v| !v.is_empty());
    let default_waiting = if has_init {
        "PodInitializing"
    } else {
        "ContainerCreating"
    };
    let init: Vec<ContainerStatus> = spec
        .init_containers
        .iter()
        .flatten()
        .map(|c| container_status(pod, c, input, default_waiting, true))
        .collect();
    let regular: Vec<ContainerStatus> = spec
        .containers
        .iter()
        .map(|c| container_status(pod, c, input, default_waiting, false))
        .collect();
    let mut phase = get_phase(pod, &init, &regular, input.terminal).to_string();
    let (mut reason, mut message) = (None, None);
    let old_phase = old.phase.as_deref().unwrap_or(PENDING);
    if let Some((p, r, m)) = &input.forced {
        phase = p.clone();
        reason = Some(r.clone());
        message = Some(m.clone());
    } else if matches!(old_phase, SUCCEEDED | FAILED) && phase != old_phase {
        // Terminal phases are sticky.
        phase = old_phase.to_string();
    }
    if input.forced.is_none() && phase == old_phase {
        reason = old.reason.clone();
        message = old.message.clone();
    }
    let ready_to_start = condition("PodReadyToStartContainers", input.sandbox_ready, None, None);
    let initialized = initialized_condition(pod, &init, &regular, &phase);
    let containers_ready = containers_ready_condition(pod, &init, &regular, &phase);
    let ready = ready_condition(pod, &containers_ready);
    let scheduled = condition("PodScheduled", true, None, None);
    let old_conditions = old.conditions.clone().unwrap_or_default();
    let mut conditions = vec![
        ready_to_start,
        initialized,
        ready,
        containers_ready,
        scheduled,
    ];
    carry_transition_times(&mut conditions, &old_conditions, input.now);
    for c in &old_conditions {
        if !OWNED_CONDITIONS.contains(&c.type_.as_str()) {
            conditions.push(c.clone());
        }
    }
    let host_ips = (!input.host_ip.is_empty()).then(|| {
        vec![HostIP {
            ip: input.host_ip.clone(),
        }]
    });
    let pod_ips: Vec<PodIP> = input
        .pod_ips
        .iter()
        .map(|ip| PodIP { ip: ip.clone() })
        .collect();
    PodStatus {
        conditions: Some(conditions),
        container_statuses: Some(regular),
        ephemeral_container_statuses: None,
        host_ip: (!input.host_ip.is_empty()).then(|| input.host_ip.clone()),
        host_ips,
        init_container_statuses: has_init.then_some(init),
        message,
        nominated_node_name: old.nominated_node_name.clone(),
        observed_generation: pod.metadata.generation,
        phase: Some(phase),
        pod_ip: pod_ips.first().map(|p| p.ip.clone()),
        pod_ips: (!pod_ips.is_empty()).then_some(pod_ips),
        qos_class: Some(
            old.qos_class
                .clone()
                .unwrap_or_else(|| qos_class(pod).to_string()),
        ),
        reason,
        resize: old.resize.clone(),
        resource_claim_statuses: old.resource_claim_statuses.clone(),
        start_time: Some(input.start_time),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(v: serde_json::Value) -> Pod {
        serde_json::from_value(v).unwrap()
    }

    fn inst(name: &str, id: &str, restarts: u32, state: RtState, exit: Option<i32>) -> Instance {
        let t = Timestamp::from_second(1_700_000_000 + i64::from(restarts)).unwrap();
        Instance {
            id: id.into(),
            sandbox_id: "s".into(),
            name: name.into(),
            restart_count: restarts,
            hash: String::new(),
            state,
            created_at: t,
            started_at: Some(t),
            finished_at: exit.map(|_| t),
            exit_code: exit,
            reason: match exit {
                Some(0) => "Completed".into(),
                Some(_) => "Error".into(),
                None => String::new(),
            },
            message: String::new(),
            image: "busybox".into(),
            image_ref: "sha256:1".into(),
        }
    }

    fn gen(
        p: &Pod,
        instances: &[Instance],
        reasons: &HashMap<String, Reason>,
        terminal: bool,
    ) -> PodStatus {
        let probes = |_: &str| ProbeState {
            ready: true,
            started: true,
        };
        generate(
            p,
            &StatusInput {
                instances,
                sandbox_ready: true,
                pod_ips: vec!["10.0.0.5".into()],
                host_ip: "192.168.0.1".into(),
                runtime_name: "sim",
                reasons,
                probes: &probes,
                terminal,
                forced: None,
                start_time: Time::from_unix_seconds(1_700_000_000),
                now: Timestamp::from_second(1_700_000_100).unwrap(),
            },
        )
    }

    fn cond<'a>(s: &'a PodStatus, t: &str) -> &'a PodCondition {
        s.conditions
            .as_ref()
            .unwrap()
            .iter()
            .find(|c| c.type_ == t)
            .unwrap()
    }

    #[test]
    fn phases_and_conditions() {
        let p = pod(json!({"metadata": {"name": "p", "uid": "u"},
            "spec": {"restartPolicy": "Never",
                     "initContainers": [{"name": "init", "image": "busybox"}],
                     "containers": [{"name": "a", "image": "busybox"}, {"name": "b", "image": "busybox"}]}}));
        let none = HashMap::new();
        // Nothing yet: Pending, init incomplete.
        let s = gen(&p, &[], &none, false);
        assert_eq!(s.phase.as_deref(), Some("Pending"));
        let init = cond(&s, "Initialized");
        assert_eq!(init.reason.as_deref(), Some("ContainersNotInitialized"));
        assert_eq!(
            init.message.as_deref(),
            Some("containers with incomplete status: [init]")
        );
        let cr = cond(&s, "ContainersReady");
        assert_eq!(
            cr.message.as_deref(),
            Some("containers with unready status: [a b]")
        );
        assert_eq!(
            s.container_statuses.as_ref().unwrap()[0]
                .state
                .as_ref()
                .unwrap()
                .waiting
                .as_ref()
                .unwrap()
                .reason
                .as_deref(),
            Some("PodInitializing")
        );
        // Init failed with Never: Failed.
        let s = gen(
            &p,
            &[inst("init", "i1", 0, RtState::Exited, Some(1))],
            &none,
            false,
        );
        assert_eq!(s.phase.as_deref(), Some("Failed"));
        // Init done, a running, b exited 0: Running.
        let mut xs = vec![
            inst("init", "i1", 0, RtState::Exited, Some(0)),
            inst("a", "a1", 0, RtState::Running, None),
            inst("b", "b1", 0, RtState::Exited, Some(0)),
        ];
        sort_newest_first(&mut xs);
        let s = gen(&p, &xs, &none, false);
        assert_eq!(s.phase.as_deref(), Some("Running"));
        assert_eq!(cond(&s, "Initialized").status, "True");
        assert_eq!(
            cond(&s, "Ready").message.as_deref(),
            Some("containers with unready status: [b]")
        );
        assert_eq!(s.pod_ip.as_deref(), Some("10.0.0.5"));
        assert_eq!(
            s.container_statuses.as_ref().unwrap()[0]
                .container_id
                .as_deref(),
            Some("sim://a1")
        );
        // Both exited: one failed → Failed under Never.
        let xs = vec![
            inst("init", "i1", 0, RtState::Exited, Some(0)),
            inst("a", "a1", 0, RtState::Exited, Some(2)),
            inst("b", "b1", 0, RtState::Exited, Some(0)),
        ];
        let s = gen(&p, &xs, &none, false);
        assert_eq!(s.phase.as_deref(), Some("Failed"));
        assert_eq!(
            cond(&s, "ContainersReady").reason.as_deref(),
            Some("PodFailed")
        );
    }

    #[test]
    fn crash_loop_waiting_with_last_state() {
        let p = pod(json!({"metadata": {"name": "p", "uid": "u"},
            "spec": {"containers": [{"name": "a", "image": "busybox"}]}}));
        let mut reasons = HashMap::new();
        reasons.insert(
            "a".to_string(),
            Reason {
                reason: "CrashLoopBackOff".into(),
                message: "back-off 10s restarting failed container=a pod=p_default(u)".into(),
            },
        );
        let mut xs = vec![
            inst("a", "a1", 0, RtState::Exited, Some(1)),
            inst("a", "a2", 1, RtState::Exited, Some(1)),
        ];
        sort_newest_first(&mut xs);
        let s = gen(&p, &xs, &reasons, false);
        let cs = &s.container_statuses.as_ref().unwrap()[0];
        assert_eq!(cs.restart_count, 1);
        assert_eq!(
            cs.state
                .as_ref()
                .unwrap()
                .waiting
                .as_ref()
                .unwrap()
                .reason
                .as_deref(),
            Some("CrashLoopBackOff")
        );
        assert_eq!(
            cs.last_state
                .as_ref()
                .unwrap()
                .terminated
                .as_ref()
                .unwrap()
                .container_id
                .as_deref(),
            Some("sim://a2")
        );
        // Always with a waiting container that terminated before: Running.
        assert_eq!(s.phase.as_deref(), Some("Running"));
        // Deleted (terminal): Failed, and not waiting.
        let s = gen(&p, &xs, &reasons, true);
        assert_eq!(s.phase.as_deref(), Some("Failed"));
    }

    #[test]
    fn qos() {
        let p = pod(
            json!({"spec": {"containers": [{"name": "a", "resources": {"requests": {"cpu": "500m"}, "limits": {"cpu": "1", "memory": "1Gi"}}}]}}),
        );
        assert_eq!(qos_class(&p), "Burstable");
        let p = pod(
            json!({"spec": {"containers": [{"name": "a", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}}),
        );
        assert_eq!(qos_class(&p), "Guaranteed");
        let p = pod(json!({"spec": {"containers": [{"name": "a"}]}}));
        assert_eq!(qos_class(&p), "BestEffort");
    }
}
