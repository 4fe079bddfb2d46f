//! Kubernetes' defaulting (`pkg/apis/*/v1/defaults.go` and the declarative `+default` tags):
//! what the API server fills in before validating and storing an object.
//!
//! [`SetDefaults::set_defaults`] defaults a typed object in place; [`apply_value`] does the
//! same to a JSON object keyed by group and kind (for the API server's mutating admission).
//! Defaulting is idempotent: defaulting a defaulted object changes nothing.
//!
//! ```
//! use kubox_core::api::core_v1::{Container, Pod, PodSpec};
//! use kubox_core::defaults::{image_pull_policy, SetDefaults};
//!
//! let mut pod = Pod::new("web");
//! pod.spec = Some(PodSpec { containers: vec![Container { name: "app".into(), image: Some("nginx".into()), ..Default::default() }], ..Default::default() });
//! pod.set_defaults();
//! let spec = pod.spec.as_ref().unwrap();
//! assert_eq!(spec.restart_policy.as_deref(), Some("Always"));
//! assert_eq!(spec.containers[0].image_pull_policy.as_deref(), Some("Always"));
//! assert_eq!(image_pull_policy("nginx:1.25"), "IfNotPresent");
//! ```
//!
//! Not modeled: rounding resource quantities up to milli precision (`SetDefaults_ResourceList`),
//! pod-level resources (a feature gate), and what the registry strategies and admission
//! plugins set (generation, status, service account, cluster IPs).

use crate::api::core_v1::{
    Container, ContainerPort, EnvVar, HTTPGetAction, Lifecycle, Namespace, NamespaceStatus, Node,
    ObjectFieldSelector, Pod, PodSpec, PodTemplateSpec, Probe, ReplicationController, Secret,
    Service, Volume,
};
use crate::api::{
    apps_v1, autoscaling_v1, coordination_v1, core_v1, discovery_v1, policy_v1, rbac_v1,
    scheduling_v1,
};
use crate::validation::{decode, Error};
use crate::IntOrString;

/// Kubernetes' defaulting of one kind.
pub trait SetDefaults {
    /// Fills in the defaults, in place (idempotent).
    fn set_defaults(&mut self);
}

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

fn set_str(field: &mut Option<String>, value: &str) {
    if field.as_deref().is_none_or(str::is_empty) {
        *field = Some(value.to_string());
    }
}

// ---------------------------------------------------------------------------------------------
// Image references.

fn is_alnum_lower(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*`
fn is_path_component(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() || !is_alnum_lower(b[0]) || !is_alnum_lower(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_alnum_lower(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !is_alnum_lower(b[i]) {
            i += 1;
        }
        let sep = &s[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|c| c == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// `host[:port]` of a registry.
fn is_domain(s: &str) -> bool {
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (s, None),
    };
    if port.is_some_and(|p| p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit())) {
        return false;
    }
    if host.starts_with('[') && host.ends_with(']') {
        return host[1..host.len() - 1]
            .parse::<std::net::Ipv6Addr>()
            .is_ok();
    }
    !host.is_empty()
        && host.split('.').all(|c| {
            let b = c.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|x| x.is_ascii_alphanumeric() || *x == b'-')
        })
}

/// `[\w][\w.-]{0,127}`
fn is_tag(s: &str) -> bool {
    let b = s.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    !b.is_empty()
        && b.len() <= 128
        && word(b[0])
        && b.iter().all(|&c| word(c) || c == b'.' || c == b'-')
}

/// `algorithm:hex` with at least 32 hex digits.
fn is_digest(s: &str) -> bool {
    let Some((alg, hex)) = s.split_once(':') else {
        return false;
    };
    let alg_ok = alg.split(['-', '_', '+', '.']).all(|part| {
        let b = part.as_bytes();
        !b.is_empty() && b[0].is_ascii_alphabetic() && b.iter().all(u8::is_ascii_alphanumeric)
    });
    alg_ok && hex.len() >= 32 && hex.bytes().all(|c| c.is_ascii_hexdigit())
}

/// Parses an image reference as Kubernetes' `parsers.ParseImageName` does (docker's
/// `ParseNormalizedNamed`): `Some((tag, digest))`, either possibly empty, or `None` when the
/// reference is invalid. A reference with neither tag nor digest gets the tag `latest`; a
/// registry port (`host:5000/img`) is not a tag.
pub fn parse_image_tag(image: &str) -> Option<(String, String)> {
    let (name_tag, digest) = match image.split_once('@') {
        Some((n, d)) => {
            if !is_digest(d) {
                return None;
            }
            (n, d.to_string())
        }
        None => (image, String::new()),
    };
    let last_slash = name_tag.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match name_tag[last_slash..].rfind(':') {
        Some(i) => (&name_tag[..last_slash + i], &name_tag[last_slash + i + 1..]),
        None => (name_tag, ""),
    };
    if !tag.is_empty() && !is_tag(tag) {
        return None;
    }
    if name.is_empty() || name.len() > 255 {
        return None;
    }
    // A 64-hex-digit name is an image ID, not a reference.
    if name.len() == 64
        && name
            .bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    {
        return None;
    }
    let components: Vec<&str> = name.split('/').collect();
    let first = components[0];
    let has_domain = components.len() > 1
        && (first.contains('.')
            || first.contains(':')
            || first == "localhost"
            || first.bytes().any(|c| c.is_ascii_uppercase()));
    let path = if has_domain {
        if !is_domain(first) {
            return None;
        }
        &components[1..]
    } else {
        &components[..]
    };
    if !path.iter().all(|c| is_path_component(c)) {
        return None;
    }
    let tag = if tag.is_empty() && digest.is_empty() {
        "latest".to_string()
    } else {
        tag.to_string()
    };
    Some((tag, digest))
}

/// The default `imagePullPolicy` for an image: `Always` when its tag is `latest` (or it has no
/// tag and no digest), `IfNotPresent` otherwise (and for references that do not parse).
pub fn image_pull_policy(image: &str) -> &'static str {
    match parse_image_tag(image) {
        Some((tag, _)) if tag == "latest" => "Always",
        _ => "IfNotPresent",
    }
}

// ---------------------------------------------------------------------------------------------
// Pods.

fn http_get(h: &mut HTTPGetAction) {
    set_str(&mut h.path, "/");
    set_str(&mut h.scheme, "HTTP");
}

fn probe(p: &mut Probe) {
    for (field, value) in [
        (&mut p.timeout_seconds, 1),
        (&mut p.period_seconds, 10),
        (&mut p.success_threshold, 1),
        (&mut p.failure_threshold, 3),
    ] {
        if field.unwrap_or(0) == 0 {
            *field = Some(value);
        }
    }
    if let Some(h) = p.http_get.as_mut() {
        http_get(h);
    }
    if let Some(g) = p.grpc.as_mut() {
        g.service.get_or_insert_with(String::new);
    }
}

fn lifecycle(l: &mut Lifecycle) {
    for h in [l.post_start.as_mut(), l.pre_stop.as_mut()]
        .into_iter()
        .flatten()
    {
        if let Some(g) = h.http_get.as_mut() {
            http_get(g);
        }
    }
}

fn field_selector(f: &mut ObjectFieldSelector) {
    set_str(&mut f.api_version, "v1");
}

fn ports(ports: &mut [ContainerPort]) {
    for p in ports {
        set_str(&mut p.protocol, "TCP");
    }
}

fn env(env: &mut [EnvVar]) {
    for e in env {
        if let Some(f) = e.value_from.as_mut().and_then(|v| v.field_ref.as_mut()) {
            field_selector(f);
        }
    }
}

/// `SetDefaults_Container` and what the container embeds: imagePullPolicy from the image,
/// terminationMessagePath `/dev/termination-log`, terminationMessagePolicy `File`, port
/// protocol `TCP`, probe and handler defaults, env `fieldRef.apiVersion` `v1`.
pub fn container(c: &mut Container) {
    if c.image_pull_policy.as_deref().is_none_or(str::is_empty) {
        c.image_pull_policy = Some(image_pull_policy(c.image.as_deref().unwrap_or("")).to_string());
    }
    set_str(&mut c.termination_message_path, "/dev/termination-log");
    set_str(&mut c.termination_message_policy, "File");
    ports(c.ports.as_deref_mut().unwrap_or_default());
    env(c.env.as_deref_mut().unwrap_or_default());
    for p in [
        c.liveness_probe.as_mut(),
        c.readiness_probe.as_mut(),
        c.startup_probe.as_mut(),
    ]
    .into_iter()
    .flatten()
    {
        probe(p);
    }
    if let Some(l) = c.lifecycle.as_mut() {
        lifecycle(l);
    }
}

fn ephemeral_container(c: &mut core_v1::EphemeralContainer) {
    if c.image_pull_policy.as_deref().is_none_or(str::is_empty) {
        c.image_pull_policy = Some(image_pull_policy(c.image.as_deref().unwrap_or("")).to_string());
    }
    set_str(&mut c.termination_message_path, "/dev/termination-log");
    set_str(&mut c.termination_message_policy, "File");
    ports(c.ports.as_deref_mut().unwrap_or_default());
    env(c.env.as_deref_mut().unwrap_or_default());
    for p in [
        c.liveness_probe.as_mut(),
        c.readiness_probe.as_mut(),
        c.startup_probe.as_mut(),
    ]
    .into_iter()
    .flatten()
    {
        probe(p);
    }
    if let Some(l) = c.lifecycle.as_mut() {
        lifecycle(l);
    }
}

fn has_source(v: &Volume) -> bool {
    let mut probe = v.clone();
    probe.name = String::new();
    probe != Volume::default()
}

/// `SetDefaults_Volume` and the source defaults: a volume without a source gets `emptyDir: {}`;
/// secret/configMap/downwardAPI/projected `defaultMode` 0644, token `expirationSeconds` 3600…
pub fn volume(v: &mut Volume) {
    if !has_source(v) {
        v.empty_dir = Some(Default::default());
    }
    const MODE: i32 = 0o644;
    if let Some(s) = v.secret.as_mut() {
        s.default_mode.get_or_insert(MODE);
    }
    if let Some(c) = v.config_map.as_mut() {
        c.default_mode.get_or_insert(MODE);
    }
    if let Some(d) = v.downward_api.as_mut() {
        d.default_mode.get_or_insert(MODE);
        for f in d.items.iter_mut().flatten() {
            if let Some(fr) = f.field_ref.as_mut() {
                field_selector(fr);
            }
        }
    }
    if let Some(p) = v.projected.as_mut() {
        p.default_mode.get_or_insert(MODE);
        for src in p.sources.iter_mut().flatten() {
            if let Some(t) = src.service_account_token.as_mut() {
                t.expiration_seconds.get_or_insert(3600);
            }
            for f in src
                .downward_api
                .iter_mut()
                .flat_map(|d| d.items.iter_mut().flatten())
            {
                if let Some(fr) = f.field_ref.as_mut() {
                    field_selector(fr);
                }
            }
        }
    }
    if let Some(h) = v.host_path.as_mut() {
        h.type_.get_or_insert_with(String::new);
    }
    if let Some(i) = v.iscsi.as_mut() {
        set_str(&mut i.iscsi_interface, "default");
    }
    if let Some(r) = v.rbd.as_mut() {
        set_str(&mut r.pool, "rbd");
        set_str(&mut r.user, "admin");
        set_str(&mut r.keyring, "/etc/ceph/keyring");
    }
    if let Some(a) = v.azure_disk.as_mut() {
        set_str(&mut a.caching_mode, "ReadWrite");
        set_str(&mut a.fs_type, "ext4");
        a.read_only.get_or_insert(false);
        set_str(&mut a.kind, "Shared");
    }
    if let Some(s) = v.scale_io.as_mut() {
        set_str(&mut s.storage_mode, "ThinProvisioned");
        set_str(&mut s.fs_type, "xfs");
    }
    if let Some(t) = v
        .ephemeral
        .as_mut()
        .and_then(|e| e.volume_claim_template.as_mut())
    {
        set_str(&mut t.spec.volume_mode, "Filesystem");
    }
}

/// `SetDefaults_PodSpec` and everything a PodSpec embeds (also applied inside templates):
/// dnsPolicy `ClusterFirst`, restartPolicy `Always`, securityContext `{}`,
/// terminationGracePeriodSeconds 30, schedulerName `default-scheduler`, volumes, containers.
pub fn pod_spec(spec: &mut PodSpec) {
    set_str(&mut spec.dns_policy, "ClusterFirst");
    set_str(&mut spec.restart_policy, "Always");
    spec.security_context.get_or_insert_with(Default::default);
    spec.termination_grace_period_seconds.get_or_insert(30);
    set_str(&mut spec.scheduler_name, "default-scheduler");
    for v in spec.volumes.iter_mut().flatten() {
        volume(v);
    }
    for c in spec
        .init_containers
        .iter_mut()
        .flatten()
        .chain(spec.containers.iter_mut())
    {
        container(c);
    }
    for c in spec.ephemeral_containers.iter_mut().flatten() {
        ephemeral_container(c);
    }
}

/// The defaults of a pod template (a PodSpec inside a workload).
pub fn pod_template(t: &mut PodTemplateSpec) {
    pod_spec(t.spec.get_or_insert_with(Default::default));
}

fn requests_from_limits(c: &mut Container) {
    let Some(res) = c.resources.as_mut() else {
        return;
    };
    let Some(limits) = res.limits.clone() else {
        return;
    };
    let requests = res.requests.get_or_insert_with(Default::default);
    for (k, v) in limits {
        requests.entry(k).or_insert(v);
    }
}

impl SetDefaults for Pod {
    /// `SetDefaults_Pod` (requests copied from limits, enableServiceLinks true, hostPort =
    /// containerPort with hostNetwork) plus the PodSpec defaults.
    fn set_defaults(&mut self) {
        let spec = self.spec.get_or_insert_with(Default::default);
        for c in spec
            .containers
            .iter_mut()
            .chain(spec.init_containers.iter_mut().flatten())
        {
            requests_from_limits(c);
        }
        spec.enable_service_links.get_or_insert(true);
        if spec.host_network == Some(true) {
            for c in spec
                .containers
                .iter_mut()
                .chain(spec.init_containers.iter_mut().flatten())
            {
                for p in c.ports.iter_mut().flatten() {
                    if p.host_port.unwrap_or(0) == 0 {
                        p.host_port = Some(p.container_port);
                    }
                }
            }
        }
        pod_spec(spec);
    }
}

// ---------------------------------------------------------------------------------------------
// Other core kinds.

impl SetDefaults for Service {
    /// `SetDefaults_Service`: type `ClusterIP`, sessionAffinity `None` (ClientIP gets 10800 s),
    /// port protocol `TCP`, targetPort = port, externalTrafficPolicy `Cluster` when externally
    /// reachable, internalTrafficPolicy `Cluster`, allocateLoadBalancerNodePorts for
    /// LoadBalancer, ingress ipMode `VIP`.
    fn set_defaults(&mut self) {
        let spec = self.spec.get_or_insert_with(Default::default);
        set_str(&mut spec.session_affinity, "None");
        match spec.session_affinity.as_deref() {
            Some("None") => spec.session_affinity_config = None,
            Some("ClientIP") => {
                let missing = spec
                    .session_affinity_config
                    .as_ref()
                    .and_then(|c| c.client_ip.as_ref())
                    .and_then(|c| c.timeout_seconds)
                    .is_none();
                if missing {
                    spec.session_affinity_config = Some(core_v1::SessionAffinityConfig {
                        client_ip: Some(core_v1::ClientIPConfig {
                            timeout_seconds: Some(10800),
                        }),
                    });
                }
            }
            _ => {}
        }
        set_str(&mut spec.type_, "ClusterIP");
        for p in spec.ports.iter_mut().flatten() {
            set_str(&mut p.protocol, "TCP");
            let unset = match &p.target_port {
                None => true,
                Some(IntOrString::Int(0)) => true,
                Some(IntOrString::String(s)) => s.is_empty(),
                Some(_) => false,
            };
            if unset {
                p.target_port = Some(IntOrString::Int(p.port));
            }
        }
        let type_ = spec.type_.clone().unwrap_or_default();
        let external = type_ == "LoadBalancer"
            || type_ == "NodePort"
            || (type_ == "ClusterIP" && spec.external_ips.as_ref().is_some_and(|e| !e.is_empty()));
        if external {
            set_str(&mut spec.external_traffic_policy, "Cluster");
        }
        if spec.internal_traffic_policy.is_none()
            && matches!(type_.as_str(), "NodePort" | "LoadBalancer" | "ClusterIP")
        {
            spec.internal_traffic_policy = Some("Cluster".into());
        }
        if type_ == "LoadBalancer" {
            spec.allocate_load_balancer_node_ports.get_or_insert(true);
            let ingress = self
                .status
                .as_mut()
                .and_then(|s| s.load_balancer.as_mut())
                .and_then(|lb| lb.ingress.as_mut());
            for ing in ingress.into_iter().flatten() {
                if ing.ip.as_deref().is_some_and(|ip| !ip.is_empty()) && ing.ip_mode.is_none() {
                    ing.ip_mode = Some("VIP".into());
                }
            }
        }
    }
}

impl SetDefaults for Namespace {
    /// The `kubernetes.io/metadata.name` label (when the name is known) and phase `Active`.
    fn set_defaults(&mut self) {
        if let Some(name) = self.metadata.name.clone().filter(|n| !n.is_empty()) {
            self.metadata
                .labels
                .get_or_insert_with(Default::default)
                .insert("kubernetes.io/metadata.name".into(), name);
        }
        let status = self.status.get_or_insert_with(NamespaceStatus::default);
        set_str(&mut status.phase, "Active");
    }
}

impl SetDefaults for Node {
    /// `SetDefaults_NodeStatus`: allocatable defaults to capacity.
    fn set_defaults(&mut self) {
        if let Some(status) = self.status.as_mut() {
            if status.allocatable.is_none() && status.capacity.is_some() {
                status.allocatable.clone_from(&status.capacity);
            }
        }
    }
}

impl SetDefaults for Secret {
    /// Type `Opaque`.
    fn set_defaults(&mut self) {
        set_str(&mut self.type_, "Opaque");
    }
}

impl SetDefaults for core_v1::Endpoints {
    /// Port protocol `TCP`.
    fn set_defaults(&mut self) {
        for p in self
            .subsets
            .iter_mut()
            .flatten()
            .flat_map(|s| s.ports.iter_mut().flatten())
        {
            set_str(&mut p.protocol, "TCP");
        }
    }
}

impl SetDefaults for ReplicationController {
    /// Selector and labels from the template's labels, replicas 1, template defaults.
    fn set_defaults(&mut self) {
        let spec = self.spec.get_or_insert_with(Default::default);
        let labels = spec
            .template
            .as_ref()
            .and_then(|t| t.metadata.as_ref())
            .and_then(|m| m.labels.clone());
        if let Some(labels) = labels {
            if spec.selector.as_ref().is_none_or(|s| s.is_empty()) {
                spec.selector = Some(labels.clone());
            }
            if self.metadata.labels.as_ref().is_none_or(|l| l.is_empty()) {
                self.metadata.labels = Some(labels);
            }
        }
        spec.replicas.get_or_insert(1);
        if let Some(t) = spec.template.as_mut() {
            pod_template(t);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// apps/v1.

impl SetDefaults for apps_v1::ReplicaSet {
    /// Replicas 1, template defaults.
    fn set_defaults(&mut self) {
        let spec = self.spec.get_or_insert_with(Default::default);
        spec.replicas.get_or_insert(1);
        pod_template(spec.template.get_or_insert_with(Default::default));
    }
}

impl SetDefaults for apps_v1::Deployment {
    /// Replicas 1, strategy `RollingUpdate` with maxUnavailable and maxSurge `25%`,
    /// revisionHistoryLimit 10, progressDeadlineSeconds 600, template defaults.
    fn set_defaults(&mut self) {
        let spec = self.spec.get_or_insert_with(Default::default);
        spec.replicas.get_or_insert(1);
        let strategy = spec.strategy.get_or_insert_with(Default::default);
        set_str(&mut strategy.type_, "RollingUpdate");
        if strategy.type_.as_deref() == Some("RollingUpdate") {
            let ru = strategy.rolling_update.get_or_insert_with(Default::default);
            ru.max_unavailable
                .get_or_insert_with(|| IntOrString::from("25%"));
            ru.max_surge.get_or_insert_with(|| IntOrString::from("25%"));
        }
        spec.revision_history_limit.get_or_insert(10);
        spec.progress_deadline_seconds.get_or_insert(600);
        pod_template(&mut spec.template);
    }
}

// ---------------------------------------------------------------------------------------------
// Other groups.

fn subjects(subjects: &mut [rbac_v1::Subject]) {
    for s in subjects {
        if s.api_group.as_deref().is_none_or(str::is_empty)
            && (s.kind == "User" || s.kind == "Group")
        {
            s.api_group = Some(RBAC_GROUP.into());
        }
    }
}

impl SetDefaults for rbac_v1::RoleBinding {
    /// roleRef apiGroup and User/Group subjects' apiGroup `rbac.authorization.k8s.io`.
    fn set_defaults(&mut self) {
        if self.role_ref.api_group.is_empty() {
            self.role_ref.api_group = RBAC_GROUP.into();
        }
        subjects(self.subjects.as_deref_mut().unwrap_or_default());
    }
}

impl SetDefaults for rbac_v1::ClusterRoleBinding {
    /// roleRef apiGroup and User/Group subjects' apiGroup `rbac.authorization.k8s.io`.
    fn set_defaults(&mut self) {
        if self.role_ref.api_group.is_empty() {
            self.role_ref.api_group = RBAC_GROUP.into();
        }
        subjects(self.subjects.as_deref_mut().unwrap_or_default());
    }
}

impl SetDefaults for scheduling_v1::PriorityClass {
    /// preemptionPolicy `PreemptLowerPriority`.
    fn set_defaults(&mut self) {
        set_str(&mut self.preemption_policy, "PreemptLowerPriority");
    }
}

impl SetDefaults for discovery_v1::EndpointSlice {
    /// Port name `""` and protocol `TCP`.
    fn set_defaults(&mut self) {
        for p in self.ports.iter_mut().flatten() {
            p.name.get_or_insert_with(String::new);
            set_str(&mut p.protocol, "TCP");
        }
    }
}

macro_rules! no_defaults {
    ($($t:ty),*) => {
        $(
            impl SetDefaults for $t {
                /// This kind has no defaults.
                fn set_defaults(&mut self) {}
            }
        )*
    };
}

no_defaults!(
    core_v1::ConfigMap,
    core_v1::ServiceAccount,
    core_v1::Event,
    core_v1::Binding,
    coordination_v1::Lease,
    rbac_v1::Role,
    rbac_v1::ClusterRole,
    policy_v1::PodDisruptionBudget,
    autoscaling_v1::Scale
);

fn apply_typed<T: SetDefaults + serde::Serialize + serde::de::DeserializeOwned>(
    group: &str,
    kind: &str,
    v: &mut serde_json::Value,
) -> Result<(), Error> {
    let mut obj: T = decode(group, kind, v)?;
    obj.set_defaults();
    *v = serde_json::to_value(&obj).map_err(|e| Error::Decode {
        kind: kind.to_string(),
        version: "v1".to_string(),
        message: e.to_string(),
    })?;
    Ok(())
}

/// Defaults a JSON object of `group`/`kind` in place (core group `""`). An unknown kind or a
/// body that does not decode as the kind is an error; the object is then unchanged. Fields the
/// typed model does not know are dropped.
///
/// ```
/// let mut svc = serde_json::json!({"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}});
/// kubox_core::defaults::apply_value("", "Service", &mut svc).unwrap();
/// assert_eq!(svc["spec"]["type"], "ClusterIP");
/// assert_eq!(svc["spec"]["ports"][0]["targetPort"], 80);
/// ```
pub fn apply_value(group: &str, kind: &str, obj: &mut serde_json::Value) -> Result<(), Error> {
    match (group, kind) {
        ("", "Pod") => apply_typed::<Pod>(group, kind, obj),
        ("", "Service") => apply_typed::<Service>(group, kind, obj),
        ("", "Namespace") => apply_typed::<Namespace>(group, kind, obj),
        ("", "Node") => apply_typed::<Node>(group, kind, obj),
        ("", "ConfigMap") => apply_typed::<core_v1::ConfigMap>(group, kind, obj),
        ("", "Secret") => apply_typed::<Secret>(group, kind, obj),
        ("", "ServiceAccount") => apply_typed::<core_v1::ServiceAccount>(group, kind, obj),
        ("", "Endpoints") => apply_typed::<core_v1::Endpoints>(group, kind, obj),
        ("", "Event") => apply_typed::<core_v1::Event>(group, kind, obj),
        ("", "ReplicationController") => apply_typed::<ReplicationController>(group, kind, obj),
        ("", "Binding") => apply_typed::<core_v1::Binding>(group, kind, obj),
        ("apps", "ReplicaSet") => apply_typed::<apps_v1::ReplicaSet>(group, kind, obj),
        ("apps", "Deployment") => apply_typed::<apps_v1::Deployment>(group, kind, obj),
        ("coordination.k8s.io", "Lease") => apply_typed::<coordination_v1::Lease>(group, kind, obj),
        ("rbac.authorization.k8s.io", "Role") => apply_typed::<rbac_v1::Role>(group, kind, obj),
        ("rbac.authorization.k8s.io", "ClusterRole") => {
            apply_typed::<rbac_v1::ClusterRole>(group, kind, obj)
        }
        ("rbac.authorization.k8s.io", "RoleBinding") => {
            apply_typed::<rbac_v1::RoleBinding>(group, kind, obj)
        }
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => {
            apply_typed::<rbac_v1::ClusterRoleBinding>(group, kind, obj)
        }
        ("scheduling.k8s.io", "PriorityClass") => {
            apply_typed::<scheduling_v1::PriorityClass>(group, kind, obj)
        }
        ("policy", "PodDisruptionBudget") => {
            apply_typed::<policy_v1::PodDisruptionBudget>(group, kind, obj)
        }
        ("discovery.k8s.io", "EndpointSlice") => {
            apply_typed::<discovery_v1::EndpointSlice>(group, kind, obj)
        }
        ("autoscaling", "Scale") => apply_typed::<autoscaling_v1::Scale>(group, kind, obj),
        _ => Err(Error::UnknownKind {
            group: group.to_string(),
            kind: kind.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn image_pull_policies() {
        let cases = [
            ("nginx", "Always"),
            ("nginx:latest", "Always"),
            ("nginx:1.25", "IfNotPresent"),
            ("library/nginx:1.25-alpine", "IfNotPresent"),
            ("nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "IfNotPresent"),
            ("nginx:latest@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "Always"),
            ("host:5000/img", "Always"),
            ("host:5000/img:v1", "IfNotPresent"),
            ("localhost/team/app", "Always"),
            ("registry.k8s.io/pause:3.10", "IfNotPresent"),
            ("Nginx", "IfNotPresent"),
            ("", "IfNotPresent"),
            ("nginx:bad tag", "IfNotPresent"),
        ];
        for (image, want) in cases {
            assert_eq!(image_pull_policy(image), want, "{image}");
        }
    }

    fn with_containers(spec: &serde_json::Value) -> serde_json::Value {
        let mut spec = spec.clone();
        spec["containers"] = json!([]);
        spec
    }

    /// (kind group, kind, input, expected after defaulting) — each is also checked to be a
    /// fixed point.
    fn cases() -> Vec<(
        &'static str,
        &'static str,
        serde_json::Value,
        serde_json::Value,
    )> {
        let pod_spec_defaults = json!({
            "dnsPolicy": "ClusterFirst", "restartPolicy": "Always", "securityContext": {},
            "terminationGracePeriodSeconds": 30, "schedulerName": "default-scheduler",
        });
        let mut template_spec = pod_spec_defaults.clone();
        template_spec["containers"] = json!([{
            "name": "app", "image": "nginx:1.25", "imagePullPolicy": "IfNotPresent",
            "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
        }]);
        let mut pod_spec = template_spec.clone();
        pod_spec["enableServiceLinks"] = json!(true);
        vec![
            (
                "",
                "Pod",
                json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "app", "image": "nginx:1.25"}]}}),
                json!({"metadata": {"name": "p"}, "spec": pod_spec}),
            ),
            (
                "",
                "Pod",
                json!({"metadata": {"name": "p"}, "spec": {"hostNetwork": true, "volumes": [{"name": "scratch"}, {"name": "s", "secret": {"secretName": "x"}}],
                    "containers": [{"name": "app", "image": "nginx", "ports": [{"containerPort": 8080}],
                                    "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}},
                                    "livenessProbe": {"httpGet": {"port": 8080}},
                                    "env": [{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]}]}}),
                json!({"metadata": {"name": "p"}, "spec": {
                 "hostNetwork": true, "enableServiceLinks": true, "dnsPolicy": "ClusterFirst", "restartPolicy": "Always",
                 "securityContext": {}, "terminationGracePeriodSeconds": 30, "schedulerName": "default-scheduler",
                 "volumes": [{"name": "scratch", "emptyDir": {}}, {"name": "s", "secret": {"secretName": "x", "defaultMode": 420}}],
                 "containers": [{"name": "app", "image": "nginx", "imagePullPolicy": "Always",
                     "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
                     "ports": [{"containerPort": 8080, "hostPort": 8080, "protocol": "TCP"}],
                     "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m", "memory": "1Gi"}},
                     "livenessProbe": {"httpGet": {"port": 8080, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3},
                     "env": [{"name": "NODE", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "spec.nodeName"}}}]}]}}),
            ),
            (
                "",
                "Service",
                json!({"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}, {"port": 443, "targetPort": "https", "protocol": "TCP"}]}}),
                json!({"metadata": {"name": "s"}, "spec": {"type": "ClusterIP", "sessionAffinity": "None", "internalTrafficPolicy": "Cluster",
                    "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}, {"port": 443, "targetPort": "https", "protocol": "TCP"}]}}),
            ),
            (
                "",
                "Service",
                json!({"metadata": {"name": "s"}, "spec": {"type": "LoadBalancer", "sessionAffinity": "ClientIP", "ports": [{"port": 80, "targetPort": 0}]}}),
                json!({"metadata": {"name": "s"}, "spec": {"type": "LoadBalancer", "sessionAffinity": "ClientIP",
                    "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}}, "externalTrafficPolicy": "Cluster",
                    "internalTrafficPolicy": "Cluster", "allocateLoadBalancerNodePorts": true,
                    "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}]}}),
            ),
            (
                "",
                "Service",
                json!({"metadata": {"name": "s"}, "spec": {"type": "ExternalName", "externalName": "example.com"}}),
                json!({"metadata": {"name": "s"}, "spec": {"type": "ExternalName", "externalName": "example.com", "sessionAffinity": "None"}}),
            ),
            (
                "",
                "Secret",
                json!({"metadata": {"name": "s"}}),
                json!({"metadata": {"name": "s"}, "type": "Opaque"}),
            ),
            (
                "",
                "Namespace",
                json!({"metadata": {"name": "team-a"}}),
                json!({"metadata": {"name": "team-a", "labels": {"kubernetes.io/metadata.name": "team-a"}}, "status": {"phase": "Active"}}),
            ),
            (
                "",
                "Namespace",
                json!({"metadata": {"generateName": "ns-"}}),
                json!({"metadata": {"generateName": "ns-"}, "status": {"phase": "Active"}}),
            ),
            (
                "",
                "Node",
                json!({"metadata": {"name": "n"}, "status": {"capacity": {"cpu": "4"}}}),
                json!({"metadata": {"name": "n"}, "status": {"capacity": {"cpu": "4"}, "allocatable": {"cpu": "4"}}}),
            ),
            (
                "",
                "Endpoints",
                json!({"metadata": {"name": "e"}, "subsets": [{"ports": [{"port": 80}]}]}),
                json!({"metadata": {"name": "e"}, "subsets": [{"ports": [{"port": 80, "protocol": "TCP"}]}]}),
            ),
            (
                "",
                "ReplicationController",
                json!({"metadata": {"name": "rc"}, "spec": {"template": {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"name": "app", "image": "nginx:1.25"}]}}}}),
                json!({"metadata": {"name": "rc", "labels": {"app": "a"}}, "spec": {"replicas": 1, "selector": {"app": "a"},
                    "template": {"metadata": {"labels": {"app": "a"}}, "spec": template_spec.clone()}}}),
            ),
            (
                "apps",
                "Deployment",
                json!({"metadata": {"name": "d"}, "spec": {"selector": {"matchLabels": {"app": "a"}}, "template": {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"name": "app", "image": "nginx:1.25"}]}}}}),
                json!({"metadata": {"name": "d"}, "spec": {"replicas": 1, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
                    "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
                    "selector": {"matchLabels": {"app": "a"}}, "template": {"metadata": {"labels": {"app": "a"}}, "spec": template_spec.clone()}}}),
            ),
            (
                "apps",
                "Deployment",
                json!({"metadata": {"name": "d"}, "spec": {"strategy": {"type": "Recreate"}, "selector": {}, "template": {"spec": {"containers": []}}}}),
                json!({"metadata": {"name": "d"}, "spec": {"replicas": 1, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
                    "strategy": {"type": "Recreate"}, "selector": {}, "template": {"spec": with_containers(&pod_spec_defaults)}}}),
            ),
            (
                "apps",
                "ReplicaSet",
                json!({"metadata": {"name": "r"}, "spec": {"selector": {"matchLabels": {"app": "a"}}, "template": {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"name": "app", "image": "nginx:1.25"}]}}}}),
                json!({"metadata": {"name": "r"}, "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "a"}},
                    "template": {"metadata": {"labels": {"app": "a"}}, "spec": template_spec.clone()}}}),
            ),
            (
                "rbac.authorization.k8s.io",
                "RoleBinding",
                json!({"metadata": {"name": "rb"}, "roleRef": {"kind": "Role", "name": "r"}, "subjects": [{"kind": "User", "name": "u"}, {"kind": "ServiceAccount", "name": "sa"}]}),
                json!({"metadata": {"name": "rb"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
                    "subjects": [{"kind": "User", "name": "u", "apiGroup": "rbac.authorization.k8s.io"}, {"kind": "ServiceAccount", "name": "sa"}]}),
            ),
            (
                "scheduling.k8s.io",
                "PriorityClass",
                json!({"metadata": {"name": "high"}, "value": 1000}),
                json!({"metadata": {"name": "high"}, "value": 1000, "preemptionPolicy": "PreemptLowerPriority"}),
            ),
            (
                "discovery.k8s.io",
                "EndpointSlice",
                json!({"metadata": {"name": "es"}, "addressType": "IPv4", "endpoints": [], "ports": [{"port": 80}]}),
                json!({"metadata": {"name": "es"}, "addressType": "IPv4", "endpoints": [], "ports": [{"port": 80, "name": "", "protocol": "TCP"}]}),
            ),
            (
                "",
                "ConfigMap",
                json!({"metadata": {"name": "c"}, "data": {"a": "b"}}),
                json!({"metadata": {"name": "c"}, "data": {"a": "b"}}),
            ),
        ]
    }

    #[test]
    fn defaults_table() {
        for (i, (group, kind, input, want)) in cases().into_iter().enumerate() {
            let mut got = input.clone();
            apply_value(group, kind, &mut got).unwrap_or_else(|e| panic!("case {i} {kind}: {e}"));
            assert_eq!(got, want, "case {i} {kind}");
            let mut again = got.clone();
            apply_value(group, kind, &mut again).unwrap();
            assert_eq!(again, got, "case {i} {kind}: defaulting is not idempotent");
        }
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let mut v = json!({"spec": {"containers": "nope"}});
        let before = v.clone();
        let err = apply_value("", "Pod", &mut v).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("Pod in version \"v1\" cannot be handled as a Pod: "),
            "{err}"
        );
        assert_eq!(v, before);
        assert_eq!(err.to_status().code, Some(400));
        let err = apply_value("example.com", "Widget", &mut v).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no kind \"Widget\" is registered for group \"example.com\""
        );
    }
}
