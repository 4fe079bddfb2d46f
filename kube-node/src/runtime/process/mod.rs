//! The process runtime: every container is a supervised host process — the embedded default
//! runtime, with no daemon.
//!
//! # Design
//!
//! - **Containers.** A container runs `command ++ args` (falling back to the entrypoint and
//!   cmd of a [`LocalImage`] configured for its image) with exactly the environment of its
//!   config (plus `PATH` and `HOSTNAME` defaults, as container runtimes add), in its own
//!   process group, stdin from `/dev/null`, stdout and stderr written to the CRI log file
//!   `sandbox.log_directory / config.log_path` (`<RFC3339Nano> <stdout|stderr> <P|F> <line>`,
//!   written with [`crate::logs::CriLogWriter`]).
//!   A config without a command whose image has no known entrypoint is
//!   [`Error::InvalidArgument`].
//! - **Images.** There is no image store: processes come from the host. The image name is
//!   recorded; [`ProcessConfig::images`] may map an image to a [`LocalImage`] (a root directory
//!   and a default entrypoint). With [`ImagePolicy::Any`] (the default) every image name is
//!   present; with [`ImagePolicy::Listed`] only the mapped ones are, and pulling any other one
//!   is [`Error::PullFailed`]. `remove_image` hides an image until it is pulled again.
//! - **Image roots.** When an image has a root directory and the runtime runs as root, the
//!   process runs chrooted there (`nsenter --root=<root> --wd=<root>/<workingDir>`), so
//!   absolute paths in the command resolve inside the root. Without root privileges a chroot
//!   is impossible: the process then runs on the host file system with its working directory
//!   at `<root>/<workingDir>` and `<root>/bin`, `<root>/usr/bin`, … first in `PATH`. Without a
//!   root directory, the working directory is `workingDir` on the host (default `/`).
//! - **Supervision: one shim per container**, like containerd-shim. The `kubox-shim` binary
//!   (a bin target of this crate; found through [`ShimMode`]: `KUBOX_SHIM`, or next to the
//!   current executable) spawns the container process in its own process group, moves it
//!   into its cgroups, reports its pid on its stdout, writes its CRI log, waits for it, kills
//!   what is left of its process group, and writes the exit code and finish time to the
//!   state directory. The shim runs in its own process group and outlives the runtime, so a
//!   new runtime over the same state directory (a kubelet restart) adopts running containers
//!   (process identity = pid + start time, so a recycled pid is never mistaken for a
//!   container) and finds the exit codes of containers that ended meanwhile. The runtime
//!   learns about exits without polling: it waits on the shims it spawned, and on a pidfd for
//!   the ones it adopted. **Without a shim** ([`ShimMode::InProcess`], or no shim binary
//!   found) the same supervisor runs on a thread of this process: everything works while the
//!   process lives, but containers do not survive the process, and a runtime re-created in
//!   another process reports containers it cannot follow as exited with code 255 and a
//!   message saying the exit code was lost.
//! - **Stopping** sends SIGTERM to the container's process group, waits for the grace period,
//!   then sends SIGKILL. Exit codes are the process's, or 128 + signal; reasons are
//!   `Completed` (0), `Error`, `OOMKilled` (the cgroup's OOM kill counter moved) and
//!   `StartError` (exit code 128, with the start error as message). The runtime signals only
//!   processes it started, checked by pid and start time, and lists only its own records.
//! - **cgroups.** Each container gets a cgroup named by its id under
//!   [`CgroupConfig::parent`] (relative to the hierarchy root): cgroup v2 (`memory.max`,
//!   `cpu.max`, `memory.events`) when the unified hierarchy has the memory controller, cgroup
//!   v1 (`memory.limit_in_bytes`, `cpu.cfs_quota_us`, `memory.oom_control`) otherwise. When
//!   neither is writable, limits are not enforced: the container's status message and the
//!   log say so. Stats come from the cgroup, else from `/proc`.
//! - **Pod network.** As root, every sandbox that is not `host_network` gets a network
//!   namespace `<netns_prefix><id>` joined to the node bridge ([`NetworkConfig::bridge`],
//!   carrying the first address of [`NetworkConfig::pod_cidr`] as gateway) by a veth pair,
//!   with its own address (allocated from the CIDR and persisted with the sandbox record), a
//!   default route and loopback up — what the CNI bridge plugin does. Containers and execs
//!   enter it with `nsenter --net=/run/netns/<name>`. Without root, or when `ip` fails, pods
//!   use the host network and [`RuntimeStatus::message`] says why (also logged); the
//!   network is still ready, since pods can start. No NAT is set up: pod traffic leaving the node is kube-net's business.
//!   There is no mount namespace, so pods share the host's `/etc/resolv.conf` (the sandbox's
//!   DNS config is not applied), and `port_mappings` (hostPort) are not implemented.
//! - **State directory.** `sandboxes/<id>.json` and `containers/<id>.json` (records,
//!   written atomically), `containers/<id>.spec.json` (what the shim runs),
//!   `containers/<id>.exit.json` (written by the shim), `containers/<id>.shim.log`.
//! - **exec.** `exec_sync` and `exec` run the command in the container's environment: same
//!   network namespace, environment, working directory and root. TTY: there is no pseudo
//!   terminal; with `tty` the command's stdout and stderr share one pipe (handed back as
//!   stdout) and resizes are not supported.
//!
//! # Example
//!
//! ```no_run
//! use kube_node::runtime::process::{ProcessConfig, ProcessRuntime};
//! use kube_node::runtime::{ContainerConfig, PodSandboxConfig, Runtime};
//!
//! # async fn demo() -> Result<(), kube_node::runtime::Error> {
//! let runtime = ProcessRuntime::new(ProcessConfig::new("/var/lib/kubox/process")).await?;
//! let sandbox = PodSandboxConfig { log_directory: "/var/log/pods/default_web_u1".into(), ..Default::default() };
//! let sandbox_id = runtime.run_pod_sandbox(&sandbox).await?;
//! let config = ContainerConfig {
//!     name: "app".into(),
//!     image: "busybox".into(),
//!     command: vec!["sh".into(), "-c".into(), "echo hello; sleep 1000".into()],
//!     log_path: "app/0.log".into(),
//!     ..Default::default()
//! };
//! let id = runtime.create_container(&sandbox_id, &config, &sandbox).await?;
//! runtime.start_container(&id).await?;
//! # Ok(())
//! # }
//! ```

mod cgroup;
pub mod net;
mod netlink;
pub mod supervise;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use md5::{Digest, Md5};
use rustix::process::{Pid, Signal};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt};
use tokio::sync::watch;

use self::cgroup::{CgroupDriver, CgroupRecord};
use self::net::Ipv4Cidr;
use self::supervise::{ExitRecord, ProcessIdentity, ShimSpec, Started};
use super::{
    Container, ContainerConfig, ContainerFilter, ContainerState, ContainerStats, ContainerStatus,
    Error, ExecOutput, ExecRequest, ExecSession, Image, Labels, PodSandbox, PodSandboxConfig,
    PodSandboxStatus, Result, Runtime, RuntimeStatus, SandboxFilter, SandboxMetadata, SandboxState,
    VersionInfo,
};

/// The runtime name reported by [`Runtime::version`].
pub const RUNTIME_NAME: &str = "kubox-process";

/// The `PATH` a container gets when its config and image set none (containerd's default).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The environment variable naming the shim binary.
pub const SHIM_ENV: &str = "KUBOX_SHIM";

/// The shim binary's file name.
pub const SHIM_NAME: &str = "kubox-shim";

/// Which images exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ImagePolicy {
    /// Every image name is present (processes come from the host); the default.
    #[default]
    Any,
    /// Only the images in [`ProcessConfig::images`] exist and can be pulled.
    Listed,
}

/// What the runtime knows about an image.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LocalImage {
    /// A root directory to run the image's containers in (see the module docs).
    pub root: Option<PathBuf>,
    /// The entrypoint used when the container has no `command`.
    pub entrypoint: Vec<String>,
    /// The arguments used when the container has neither `command` nor `args`.
    pub cmd: Vec<String>,
    /// The working directory used when the container sets none.
    pub working_dir: Option<String>,
    /// Environment variables of the image (the container's own override them).
    pub env: Vec<(String, String)>,
}

/// How containers are supervised.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ShimMode {
    /// The `kubox-shim` named by `KUBOX_SHIM`, else the one next to the current executable
    /// (or its parent directory, for test binaries in `target/*/deps`), else in-process.
    #[default]
    Auto,
    /// This shim binary.
    Path(PathBuf),
    /// A supervisor thread in this process (containers do not survive the process).
    InProcess,
}

/// Whether sandboxes get their own network namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NetworkMode {
    /// Own namespace and IP per sandbox when running as root and `ip` works; otherwise the
    /// host network, reported in the runtime status message.
    #[default]
    Auto,
    /// Always the host network (the runtime status message says it is configured so).
    Host,
}

/// The pod network of the process runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkConfig {
    /// Namespaces or the host network.
    pub mode: NetworkMode,
    /// The node bridge (at most 15 characters).
    pub bridge: String,
    /// The node's pod CIDR; the bridge gets its first address, pods the others.
    pub pod_cidr: String,
    /// The prefix of the network namespace names.
    pub netns_prefix: String,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        NetworkConfig {
            mode: NetworkMode::Auto,
            bridge: "kubox0".into(),
            pod_cidr: "10.244.0.0/24".into(),
            netns_prefix: "kubox-".into(),
        }
    }
}

/// Where container cgroups go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupConfig {
    /// Use cgroups at all.
    pub enabled: bool,
    /// The cgroup file system (`/sys/fs/cgroup`).
    pub root: PathBuf,
    /// The parent of the container cgroups, relative to each hierarchy's root (`kubox`).
    pub parent: PathBuf,
}

impl Default for CgroupConfig {
    fn default() -> Self {
        CgroupConfig {
            enabled: true,
            root: "/sys/fs/cgroup".into(),
            parent: "kubox".into(),
        }
    }
}

/// The configuration of a [`ProcessRuntime`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessConfig {
    /// Where the runtime keeps its records (survives restarts of the runtime).
    pub state_dir: PathBuf,
    /// Which images exist.
    pub image_policy: ImagePolicy,
    /// Images known to the runtime, by reference.
    pub images: BTreeMap<String, LocalImage>,
    /// How containers are supervised.
    pub shim: ShimMode,
    /// The pod network.
    pub network: NetworkConfig,
    /// cgroups.
    pub cgroups: CgroupConfig,
}

impl ProcessConfig {
    /// The defaults with this state directory: any image, shim found automatically, pod
    /// network on bridge `kubox0` with `10.244.0.0/24`, cgroups under `kubox`.
    pub fn new(state_dir: impl Into<PathBuf>) -> Self {
        ProcessConfig {
            state_dir: state_dir.into(),
            image_policy: ImagePolicy::Any,
            images: BTreeMap::new(),
            shim: ShimMode::Auto,
            network: NetworkConfig::default(),
            cgroups: CgroupConfig::default(),
        }
    }
}

/// The process runtime (see the [module documentation](self)).
#[derive(Clone)]
pub struct ProcessRuntime {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ProcessRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessRuntime")
            .field("state_dir", &self.inner.config.state_dir)
            .field("shim", &self.inner.shim)
            .finish_non_exhaustive()
    }
}

struct NetState {
    batcher: Option<net::HostBatcher>,
    ready: bool,
    message: String,
    cidr: Option<Ipv4Cidr>,
}

struct Inner {
    config: ProcessConfig,
    sandboxes_dir: PathBuf,
    containers_dir: PathBuf,
    shim: Option<PathBuf>,
    privileged: bool,
    net: NetState,
    cgroups: CgroupDriver,
    sandboxes: Mutex<HashMap<String, SandboxRecord>>,
    containers: Mutex<HashMap<String, ContainerEntry>>,
    hidden_images: Mutex<HashSet<String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SandboxRecord {
    id: String,
    name: String,
    namespace: String,
    uid: String,
    attempt: u32,
    hostname: String,
    log_directory: PathBuf,
    host_network: bool,
    labels: Labels,
    annotations: Labels,
    created_at: Timestamp,
    ready: bool,
    /// Whether the sandbox got a network namespace of its own (false: the host network,
    /// asked for or as the fallback).
    #[serde(default)]
    own_network: bool,
    netns: Option<String>,
    veth: Option<String>,
    ip: Option<Ipv4Addr>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum RecordState {
    Created,
    Running,
    Exited,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ContainerRecord {
    id: String,
    sandbox_id: String,
    name: String,
    attempt: u32,
    image: String,
    image_ref: String,
    argv: Vec<String>,
    env: Vec<(String, String)>,
    working_dir: Option<String>,
    root: Option<PathBuf>,
    netns: Option<String>,
    log_path: PathBuf,
    labels: Labels,
    annotations: Labels,
    created_at: Timestamp,
    state: RecordState,
    started_at: Option<Timestamp>,
    finished_at: Option<Timestamp>,
    exit_code: Option<i32>,
    reason: String,
    message: String,
    process: Option<ProcessIdentity>,
    shim: Option<ProcessIdentity>,
    cgroup: Option<CgroupRecord>,
    /// Why resource limits are not enforced, when they are not.
    limits_note: Option<String>,
}

struct ContainerEntry {
    record: ContainerRecord,
    exited: watch::Sender<bool>,
}

impl ContainerEntry {
    fn new(record: ContainerRecord) -> Self {
        let exited = record.state == RecordState::Exited;
        ContainerEntry {
            record,
            exited: watch::Sender::new(exited),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

fn io_error(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::Other(format!("{what} {}: {e}", path.display()))
}

/// A new unique id: 64 hex digits from the kernel's random UUIDs (falling back to a hash of
/// time, pid and a counter).
fn new_id() -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut id = String::with_capacity(64);
    for _ in 0..2 {
        match std::fs::read_to_string("/proc/sys/kernel/random/uuid") {
            Ok(uuid) => id.extend(uuid.trim().chars().filter(|c| *c != '-')),
            Err(_) => {
                let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let seed = format!(
                    "{:?} {} {n}",
                    std::time::SystemTime::now(),
                    std::process::id()
                );
                id.extend(
                    Md5::digest(seed.as_bytes())
                        .iter()
                        .map(|b| format!("{b:02x}")),
                );
            }
        }
    }
    id
}

/// The id reported for an image: a `sha256:`-shaped hash of its name (there is no content).
fn image_id(name: &str) -> String {
    let a = Md5::digest(name.as_bytes());
    let b = Md5::digest(format!("kubox-process:{name}").as_bytes());
    let hex: String = a
        .iter()
        .chain(b.iter())
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

fn load_records<T: for<'de> Deserialize<'de>>(dir: &Path) -> Vec<T> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut records = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        // Records are `<id>.json`; `<id>.spec.json` and `<id>.exit.json` are not records.
        if !name.ends_with(".json") || name.matches('.').count() != 1 {
            continue;
        }
        match std::fs::read(&path).map(|bytes| serde_json::from_slice::<T>(&bytes)) {
            Ok(Ok(record)) => records.push(record),
            Ok(Err(e)) => tracing::warn!(path = %path.display(), "ignoring unreadable record: {e}"),
            Err(e) => tracing::warn!(path = %path.display(), "ignoring unreadable record: {e}"),
        }
    }
    records
}

fn find_shim(mode: &ShimMode) -> Option<PathBuf> {
    match mode {
        ShimMode::InProcess => None,
        ShimMode::Path(path) => Some(path.clone()),
        ShimMode::Auto => {
            if let Some(path) = std::env::var_os(SHIM_ENV).filter(|p| !p.is_empty()) {
                return Some(PathBuf::from(path));
            }
            let exe = std::env::current_exe().ok()?;
            let dir = exe.parent()?;
            let found = [Some(dir), dir.parent()]
                .into_iter()
                .flatten()
                .map(|d| d.join(SHIM_NAME))
                .find(|p| p.is_file());
            found
        }
    }
}

impl ProcessRuntime {
    /// Opens (or creates) the runtime over `config.state_dir`: sets up the node bridge when
    /// pod networking is possible, prepares the cgroup parent, and adopts the sandboxes and
    /// containers recorded there by an earlier runtime (running containers are followed
    /// again, containers that exited meanwhile report their exit).
    pub async fn new(config: ProcessConfig) -> Result<ProcessRuntime> {
        let sandboxes_dir = config.state_dir.join("sandboxes");
        let containers_dir = config.state_dir.join("containers");
        for dir in [&sandboxes_dir, &containers_dir] {
            std::fs::create_dir_all(dir).map_err(|e| io_error("cannot create", dir, e))?;
        }
        if let ShimMode::Path(path) = &config.shim {
            if !path.is_file() {
                return Err(Error::InvalidArgument(format!(
                    "the shim {} does not exist",
                    path.display()
                )));
            }
        }
        let shim = find_shim(&config.shim);
        if shim.is_none() {
            tracing::info!(
                "process runtime: no {SHIM_NAME} found, containers are supervised in-process and do not survive this process"
            );
        }
        let privileged = rustix::process::geteuid().is_root();
        let net = Self::setup_network(&config.network, privileged).await;
        if !net.ready {
            tracing::warn!("process runtime: {}", net.message);
        }
        let cgroups = if config.cgroups.enabled {
            CgroupDriver::detect(&config.cgroups.root, &config.cgroups.parent)
        } else {
            CgroupDriver::Unavailable("cgroups are disabled by configuration".into())
        };
        if let Some(reason) = cgroups.unavailable_reason() {
            tracing::warn!("process runtime: cpu and memory limits are not enforced: {reason}");
        }
        let inner = Arc::new(Inner {
            sandboxes_dir,
            containers_dir,
            shim,
            privileged,
            net,
            cgroups,
            sandboxes: Mutex::new(HashMap::new()),
            containers: Mutex::new(HashMap::new()),
            hidden_images: Mutex::new(HashSet::new()),
            config,
        });
        inner.adopt();
        Ok(ProcessRuntime { inner })
    }

    async fn setup_network(config: &NetworkConfig, privileged: bool) -> NetState {
        let host = |message: String| NetState {
            batcher: None,
            ready: false,
            message,
            cidr: None,
        };
        if config.mode == NetworkMode::Host {
            return host(
                "pod networking is disabled by configuration: pods use the host network".into(),
            );
        }
        if !privileged {
            return host("running without root: pods use the host network".into());
        }
        let cidr = match Ipv4Cidr::parse(&config.pod_cidr) {
            Ok(cidr) => cidr,
            Err(e) => return host(format!("{e}: pods use the host network")),
        };
        match net::ensure_bridge(&config.bridge, cidr).await {
            Ok(()) => NetState {
                batcher: Some(net::HostBatcher::start()),
                ready: true,
                message: String::new(),
                cidr: Some(cidr),
            },
            Err(e) => host(format!(
                "cannot set up the pod bridge {}: {e}: pods use the host network",
                config.bridge
            )),
        }
    }

    /// The supervision mode in use: the shim binary, or `None` for in-process supervision.
    pub fn shim(&self) -> Option<&Path> {
        self.inner.shim.as_deref()
    }

    /// Stops (without grace) and removes every sandbox and container this runtime manages,
    /// releasing their namespaces, cgroups and records: for node teardown and tests. Shims
    /// outlive the runtime by design, so a test that drops a runtime with running containers
    /// leaves them running; call this first.
    pub async fn remove_all(&self) -> Result<()> {
        let sandboxes: Vec<String> = lock(&self.inner.sandboxes).keys().cloned().collect();
        for id in sandboxes {
            self.remove_pod_sandbox(&id).await?;
        }
        let containers: Vec<String> = lock(&self.inner.containers).keys().cloned().collect();
        for id in containers {
            self.remove_container(&id).await?;
        }
        Ok(())
    }

    /// The network namespace path of a sandbox, when it has its own.
    pub fn sandbox_netns(&self, sandbox_id: &str) -> Option<PathBuf> {
        let sandboxes = lock(&self.inner.sandboxes);
        let name = sandboxes.get(sandbox_id)?.netns.as_ref()?;
        Some(net::netns_path(name))
    }
}

impl Inner {
    fn sandbox_path(&self, id: &str) -> PathBuf {
        self.sandboxes_dir.join(format!("{id}.json"))
    }

    fn container_file(&self, id: &str, suffix: &str) -> PathBuf {
        self.containers_dir.join(format!("{id}{suffix}"))
    }

    fn persist_sandbox(&self, record: &SandboxRecord) -> Result<()> {
        let path = self.sandbox_path(&record.id);
        let json = serde_json::to_vec(record).map_err(|e| Error::Other(e.to_string()))?;
        supervise::write_atomic(&path, &json).map_err(|e| io_error("cannot write", &path, e))
    }

    fn persist_container(&self, record: &ContainerRecord) -> Result<()> {
        let path = self.container_file(&record.id, ".json");
        let json = serde_json::to_vec(record).map_err(|e| Error::Other(e.to_string()))?;
        supervise::write_atomic(&path, &json).map_err(|e| io_error("cannot write", &path, e))
    }

    /// Loads the records of an earlier runtime and follows its running containers again.
    fn adopt(self: &Arc<Self>) {
        let sandboxes: Vec<SandboxRecord> = load_records(&self.sandboxes_dir);
        {
            let mut map = lock(&self.sandboxes);
            for record in sandboxes {
                map.insert(record.id.clone(), record);
            }
        }
        let containers: Vec<ContainerRecord> = load_records(&self.containers_dir);
        let mut running = Vec::new();
        {
            let mut map = lock(&self.containers);
            for record in containers {
                if record.state == RecordState::Running {
                    running.push((record.id.clone(), record.shim, record.process));
                }
                map.insert(record.id.clone(), ContainerEntry::new(record));
            }
        }
        for (id, shim, process) in running {
            if self.apply_exit(&id) {
                continue;
            }
            // Follow the shim if there is one, else the process itself.
            let target = shim.or(process);
            match target.filter(supervise::is_alive) {
                Some(identity) => match pidfd_waiter(identity.pid) {
                    Ok(waiter) => {
                        tracing::debug!(container = %id, pid = identity.pid, "adopted a running container");
                        self.watch(id, Waiter::Pidfd(waiter), shim.is_some());
                    }
                    Err(_) => self.process_ended(&id, shim.is_some()),
                },
                None => self.process_ended(&id, shim.is_some()),
            }
        }
    }

    /// Applies the exit record of a running (or starting) container if its supervisor wrote
    /// one; returns whether the container is now exited.
    fn apply_exit(&self, id: &str) -> bool {
        let mut containers = lock(&self.containers);
        let Some(entry) = containers.get_mut(id) else {
            return true;
        };
        if entry.record.state == RecordState::Exited {
            return true;
        }
        let Some(exit) = supervise::read_exit_record(&self.container_file(id, ".exit.json")) else {
            return false;
        };
        self.finish(entry, exit);
        true
    }

    fn finish(&self, entry: &mut ContainerEntry, exit: ExitRecord) {
        let record = &mut entry.record;
        let oom = record.cgroup.as_ref().is_some_and(|c| c.oom_kills() > 0);
        record.state = RecordState::Exited;
        record.finished_at = Some(exit.finished_at);
        record.exit_code = Some(exit.exit_code);
        (record.reason, record.message) = match exit.start_error {
            Some(message) => ("StartError".into(), message),
            None if oom => ("OOMKilled".into(), String::new()),
            None if exit.exit_code == 0 => ("Completed".into(), String::new()),
            None => ("Error".into(), String::new()),
        };
        if record.started_at.is_none() && record.reason != "StartError" {
            record.started_at = Some(exit.finished_at);
        }
        if let Err(e) = self.persist_container(record) {
            tracing::error!(container = %record.id, "{e}");
        }
        entry.exited.send_replace(true);
    }

    /// The supervisor (or the adopted process) of a container ended.
    fn process_ended(&self, id: &str, had_shim: bool) {
        if self.apply_exit(id) {
            return;
        }
        let mut containers = lock(&self.containers);
        let Some(entry) = containers.get_mut(id) else {
            return;
        };
        // The supervisor left no exit record: make sure nothing of the container is left,
        // then report what is known.
        if let Some(process) = entry.record.process.filter(supervise::is_alive) {
            if let Some(pid) = Pid::from_raw(process.pid as i32) {
                let _ = rustix::process::kill_process_group(pid, Signal::KILL);
            }
        }
        let message = if had_shim {
            "the container's shim ended without recording the container's exit"
        } else {
            "the container's exit code was lost: it was supervised in-process by a runtime that is gone (use the kubox-shim)"
        };
        let exit = ExitRecord {
            exit_code: 255,
            signal: None,
            finished_at: Timestamp::now(),
            start_error: None,
        };
        self.finish(entry, exit);
        entry.record.message = message.to_string();
        if let Err(e) = self.persist_container(&entry.record) {
            tracing::error!(container = %id, "{e}");
        }
    }

    fn watch(self: &Arc<Self>, id: String, waiter: Waiter, had_shim: bool) {
        let weak: Weak<Inner> = Arc::downgrade(self);
        tokio::spawn(async move {
            let in_process_thread = matches!(waiter, Waiter::Thread(_));
            waiter.wait().await;
            let Some(inner) = weak.upgrade() else {
                return;
            };
            if !had_shim && !in_process_thread && !inner.apply_exit(&id) {
                // An in-process supervisor of an earlier runtime in this same process may
                // still be writing the exit record.
                for _ in 0..50 {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    if inner.apply_exit(&id) {
                        return;
                    }
                }
            }
            inner.process_ended(&id, had_shim);
        });
    }

    /// The argv, working directory and environment for a command in a container's
    /// environment (shared by the container itself and exec).
    fn command_for(
        &self,
        record: &ContainerRecord,
        cmd: &[String],
    ) -> (Vec<String>, Option<PathBuf>, Vec<(String, String)>) {
        let mut argv = Vec::new();
        let mut cwd = None;
        let mut env = record.env.clone();
        let in_root = |wd: &str| -> PathBuf {
            let root = record.root.clone().unwrap_or_default();
            root.join(wd.trim_start_matches('/'))
        };
        let wd = record.working_dir.clone().unwrap_or_else(|| "/".into());
        let chroot = record.root.is_some() && self.privileged;
        if record.netns.is_some() || chroot {
            argv.push("nsenter".to_string());
            if let Some(netns) = &record.netns {
                argv.push(format!("--net={}", net::netns_path(netns).display()));
            }
            if let Some(root) = record.root.as_ref().filter(|_| chroot) {
                argv.push(format!("--root={}", root.display()));
                argv.push(format!("--wd={}", in_root(&wd).display()));
            }
            argv.push("--".to_string());
        }
        if !chroot {
            cwd = Some(match &record.root {
                Some(_) => in_root(&wd),
                None => PathBuf::from(&wd),
            });
            if let Some(root) = &record.root {
                let prefix: Vec<String> = [
                    "usr/local/sbin",
                    "usr/local/bin",
                    "usr/sbin",
                    "usr/bin",
                    "sbin",
                    "bin",
                ]
                .iter()
                .map(|d| root.join(d).display().to_string())
                .collect();
                for (k, v) in env.iter_mut() {
                    if k == "PATH" {
                        *v = format!("{}:{v}", prefix.join(":"));
                    }
                }
            }
        }
        argv.extend(cmd.iter().cloned());
        // nsenter itself is found through the host's PATH, not the container's.
        if argv.first().is_some_and(|a| a == "nsenter") {
            argv[0] = which_nsenter();
        }
        (argv, cwd, env)
    }

    fn container_status(&self, id: &str) -> Result<ContainerStatus> {
        self.apply_exit(id);
        let containers = lock(&self.containers);
        let entry = containers
            .get(id)
            .ok_or_else(|| Error::NotFound(format!("container {id}")))?;
        let r = &entry.record;
        let mut message = r.message.clone();
        if message.is_empty() && r.state != RecordState::Exited {
            if let Some(note) = &r.limits_note {
                message = format!("resource limits are not enforced: {note}");
            }
        }
        Ok(ContainerStatus {
            id: r.id.clone(),
            sandbox_id: r.sandbox_id.clone(),
            name: r.name.clone(),
            attempt: r.attempt,
            image: r.image.clone(),
            image_ref: r.image_ref.clone(),
            state: state_of(r.state),
            created_at: r.created_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
            exit_code: r.exit_code,
            reason: r.reason.clone(),
            message,
            log_path: r.log_path.clone(),
            labels: r.labels.clone(),
            annotations: r.annotations.clone(),
        })
    }

    async fn start_container(self: Arc<Self>, id: String) -> Result<()> {
        let spec = {
            let containers = lock(&self.containers);
            let entry = containers
                .get(&id)
                .ok_or_else(|| Error::NotFound(format!("container {id}")))?;
            let r = &entry.record;
            if r.state != RecordState::Created {
                return Err(Error::InvalidArgument(format!(
                    "container {id} is not in created state"
                )));
            }
            let (argv, working_dir, env) = self.command_for(r, &r.argv);
            ShimSpec {
                argv,
                env,
                working_dir,
                log_path: if r.log_path.as_os_str().is_empty() {
                    PathBuf::from("/dev/null")
                } else {
                    r.log_path.clone()
                },
                exit_path: self.container_file(&id, ".exit.json"),
                cgroup_procs: r
                    .cgroup
                    .as_ref()
                    .map(|c| c.procs_files())
                    .unwrap_or_default(),
            }
        };
        let started = match &self.shim {
            Some(shim) => self.start_with_shim(&id, shim, &spec).await,
            None => Self::start_in_process(spec).await,
        };
        match started {
            Ok((started, shim_identity, waiter)) => {
                {
                    let mut containers = lock(&self.containers);
                    if let Some(entry) = containers.get_mut(&id) {
                        let r = &mut entry.record;
                        // A quick exit may already have been applied: never go back.
                        if r.state == RecordState::Created {
                            r.state = RecordState::Running;
                        }
                        r.started_at = Some(started.started_at);
                        r.process = Some(started.identity);
                        r.shim = shim_identity;
                        self.persist_container(r)?;
                    }
                }
                self.watch(id, waiter, shim_identity.is_some());
                Ok(())
            }
            Err(message) => {
                let mut containers = lock(&self.containers);
                if let Some(entry) = containers.get_mut(&id) {
                    let exit = supervise::read_exit_record(&self.container_file(&id, ".exit.json"))
                        .unwrap_or(ExitRecord {
                            exit_code: 128,
                            signal: None,
                            finished_at: Timestamp::now(),
                            start_error: Some(message.clone()),
                        });
                    self.finish(
                        entry,
                        ExitRecord {
                            start_error: Some(message.clone()),
                            ..exit
                        },
                    );
                }
                Err(Error::StartFailed(message))
            }
        }
    }

    async fn start_with_shim(
        &self,
        id: &str,
        shim: &Path,
        spec: &ShimSpec,
    ) -> Result<(Started, Option<ProcessIdentity>, Waiter), String> {
        let spec_path = self.container_file(id, ".spec.json");
        let json = serde_json::to_vec(spec).map_err(|e| e.to_string())?;
        supervise::write_atomic(&spec_path, &json)
            .map_err(|e| format!("cannot write {}: {e}", spec_path.display()))?;
        let shim_log_path = self.container_file(id, ".shim.log");
        let shim_log = std::fs::File::create(&shim_log_path)
            .map_err(|e| format!("cannot create {}: {e}", shim_log_path.display()))?;
        let mut child = tokio::process::Command::new(shim)
            .arg(&spec_path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(shim_log)
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot run the shim {}: {e}", shim.display()))?;
        let shim_pid = child.id().unwrap_or(0);
        let mut line = String::new();
        if let Some(stdout) = child.stdout.take() {
            let mut reader = tokio::io::BufReader::new(stdout);
            let _ = reader.read_line(&mut line).await;
        }
        let identity = supervise::parse_shim_line(&line)?;
        let shim_identity = ProcessIdentity {
            pid: shim_pid,
            start_ticks: supervise::process_start_ticks(shim_pid).unwrap_or(0),
        };
        Ok((identity, Some(shim_identity), Waiter::Child(child)))
    }

    async fn start_in_process(
        spec: ShimSpec,
    ) -> Result<(Started, Option<ProcessIdentity>, Waiter), String> {
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("kubox-supervisor".into())
            .spawn(move || {
                supervise::supervise(&spec, |started| {
                    let _ = ready_tx.send(started);
                });
                let _ = done_tx.send(());
            })
            .map_err(|e| format!("cannot start a supervisor thread: {e}"))?;
        let identity = ready_rx
            .await
            .map_err(|_| "the supervisor ended before starting the process".to_string())??;
        Ok((identity, None, Waiter::Thread(done_rx)))
    }

    async fn stop_container(self: Arc<Self>, id: String, grace: Duration) -> Result<()> {
        self.apply_exit(&id);
        let (process, mut exited) = {
            let containers = lock(&self.containers);
            // Stopping an unknown (or removed) container succeeds: CRI's StopContainer is
            // idempotent.
            let Some(entry) = containers.get(&id) else {
                return Ok(());
            };
            match entry.record.state {
                RecordState::Running => (entry.record.process, entry.exited.subscribe()),
                // Stopping a created or exited container does nothing (as containerd).
                RecordState::Created | RecordState::Exited => return Ok(()),
            }
        };
        let signal = |signal: Signal| {
            if let Some(identity) = process.filter(supervise::is_alive) {
                if let Some(pid) = Pid::from_raw(identity.pid as i32) {
                    let _ = rustix::process::kill_process_group(pid, signal);
                }
            }
        };
        if !grace.is_zero() {
            signal(Signal::TERM);
            let waited = tokio::time::timeout(grace, exited.wait_for(|e| *e)).await;
            if waited.is_ok_and(|r| r.is_ok()) {
                return Ok(());
            }
        }
        signal(Signal::KILL);
        let waited = tokio::time::timeout(Duration::from_secs(10), exited.wait_for(|e| *e))
            .await
            .map(|r| r.is_ok());
        match waited {
            Ok(_) => Ok(()),
            Err(_) if self.apply_exit(&id) => Ok(()),
            Err(_) => Err(Error::DeadlineExceeded(format!(
                "container {id} did not exit 10s after SIGKILL"
            ))),
        }
    }

    async fn remove_container(self: Arc<Self>, id: String) -> Result<()> {
        let running = {
            let containers = lock(&self.containers);
            match containers.get(&id) {
                None => return Ok(()),
                Some(entry) => entry.record.state == RecordState::Running,
            }
        };
        if running {
            self.clone()
                .stop_container(id.clone(), Duration::ZERO)
                .await?;
        }
        let entry = lock(&self.containers).remove(&id);
        if let Some(entry) = entry {
            if let Some(cgroup) = &entry.record.cgroup {
                cgroup.remove();
            }
        }
        for suffix in [".json", ".spec.json", ".exit.json", ".shim.log"] {
            let _ = std::fs::remove_file(self.container_file(&id, suffix));
        }
        Ok(())
    }

    fn containers_of(&self, sandbox_id: &str) -> Vec<String> {
        lock(&self.containers)
            .values()
            .filter(|e| e.record.sandbox_id == sandbox_id)
            .map(|e| e.record.id.clone())
            .collect()
    }

    async fn run_pod_sandbox(self: Arc<Self>, config: PodSandboxConfig) -> Result<String> {
        if !config.log_directory.as_os_str().is_empty() {
            std::fs::create_dir_all(&config.log_directory)
                .map_err(|e| io_error("cannot create log directory", &config.log_directory, e))?;
        }
        let id = new_id();
        let mut record = SandboxRecord {
            id: id.clone(),
            name: config.metadata.name.clone(),
            namespace: config.metadata.namespace.clone(),
            uid: config.metadata.uid.clone(),
            attempt: config.metadata.attempt,
            hostname: config.hostname.clone(),
            log_directory: config.log_directory.clone(),
            host_network: config.host_network,
            labels: config.labels.clone(),
            annotations: config.annotations.clone(),
            created_at: Timestamp::now(),
            ready: true,
            own_network: false,
            netns: None,
            veth: None,
            ip: None,
        };
        let cidr = self
            .net
            .cidr
            .filter(|_| self.net.ready && !config.host_network);
        if let Some(cidr) = cidr {
            // Allocate the address and persist it with the record before touching the host.
            {
                let mut sandboxes = lock(&self.sandboxes);
                let used: HashSet<Ipv4Addr> = sandboxes.values().filter_map(|s| s.ip).collect();
                let ip = cidr
                    .pod_addresses()
                    .find(|a| !used.contains(a))
                    .ok_or_else(|| {
                        Error::Other(format!("no free address left in the pod CIDR {cidr}"))
                    })?;
                record.ip = Some(ip);
                record.own_network = true;
                record.netns = Some(format!("{}{}", self.config.network.netns_prefix, &id[..16]));
                record.veth = Some(net::host_veth_name(&id));
                self.persist_sandbox(&record)?;
                sandboxes.insert(id.clone(), record.clone());
            }
            let (netns, veth, ip) = (
                record.netns.clone().unwrap_or_default(),
                record.veth.clone().unwrap_or_default(),
                record.ip.unwrap_or(Ipv4Addr::UNSPECIFIED),
            );
            let setup = match &self.net.batcher {
                Some(batcher) => {
                    let bridge = &self.config.network.bridge;
                    net::setup_sandbox(batcher, &netns, &veth, bridge, ip, cidr).await
                }
                None => Err("the pod network is not set up".to_string()),
            };
            if let Err(e) = setup {
                net::teardown_sandbox(&netns, &veth).await;
                lock(&self.sandboxes).remove(&id);
                let _ = std::fs::remove_file(self.sandbox_path(&id));
                return Err(Error::Other(format!(
                    "failed to set up the pod network: {e}"
                )));
            }
        } else {
            self.persist_sandbox(&record)?;
            lock(&self.sandboxes).insert(id.clone(), record);
        }
        Ok(id)
    }

    async fn stop_pod_sandbox(self: Arc<Self>, sandbox_id: String) -> Result<()> {
        if !lock(&self.sandboxes).contains_key(&sandbox_id) {
            return Ok(());
        }
        for id in self.containers_of(&sandbox_id) {
            self.clone().stop_container(id, Duration::ZERO).await?;
        }
        let network = {
            let sandboxes = lock(&self.sandboxes);
            sandboxes
                .get(&sandbox_id)
                .and_then(|s| Some((s.netns.clone()?, s.veth.clone().unwrap_or_default())))
        };
        if let Some((netns, veth)) = network {
            net::teardown_sandbox(&netns, &veth).await;
        }
        let mut sandboxes = lock(&self.sandboxes);
        if let Some(record) = sandboxes.get_mut(&sandbox_id) {
            record.ready = false;
            record.netns = None;
            record.veth = None;
            record.ip = None;
            self.persist_sandbox(record)?;
        }
        Ok(())
    }

    async fn remove_pod_sandbox(self: Arc<Self>, sandbox_id: String) -> Result<()> {
        self.clone().stop_pod_sandbox(sandbox_id.clone()).await?;
        for id in self.containers_of(&sandbox_id) {
            self.clone().remove_container(id).await?;
        }
        lock(&self.sandboxes).remove(&sandbox_id);
        let _ = std::fs::remove_file(self.sandbox_path(&sandbox_id));
        Ok(())
    }

    fn image_known(&self, image: &str) -> Option<String> {
        if image.is_empty() || lock(&self.hidden_images).contains(image) {
            return None;
        }
        match self.config.image_policy {
            ImagePolicy::Any => Some(image.to_string()),
            ImagePolicy::Listed => {
                if self.config.images.contains_key(image) {
                    return Some(image.to_string());
                }
                self.config
                    .images
                    .keys()
                    .find(|name| image_id(name) == image)
                    .cloned()
            }
        }
    }

    fn running_record(&self, id: &str) -> Result<ContainerRecord> {
        self.apply_exit(id);
        let containers = lock(&self.containers);
        let entry = containers
            .get(id)
            .ok_or_else(|| Error::NotFound(format!("container {id}")))?;
        if entry.record.state != RecordState::Running {
            return Err(Error::InvalidArgument(format!(
                "container {id} is not running"
            )));
        }
        Ok(entry.record.clone())
    }

    fn exec_command(
        &self,
        record: &ContainerRecord,
        cmd: &[String],
    ) -> Result<tokio::process::Command> {
        if cmd.is_empty() {
            return Err(Error::InvalidArgument("exec needs a command".into()));
        }
        let (argv, cwd, env) = self.command_for(record, cmd);
        let mut command = tokio::process::Command::new(&argv[0]);
        command
            .args(&argv[1..])
            .env_clear()
            .envs(env)
            .process_group(0)
            .kill_on_drop(true);
        if let Some(cwd) = cwd {
            command.current_dir(cwd);
        }
        Ok(command)
    }
}

fn which_nsenter() -> String {
    for dir in ["/usr/bin", "/bin", "/usr/sbin", "/sbin", "/usr/local/bin"] {
        let path = Path::new(dir).join("nsenter");
        if path.is_file() {
            return path.display().to_string();
        }
    }
    "nsenter".to_string()
}

fn state_of(state: RecordState) -> ContainerState {
    match state {
        RecordState::Created => ContainerState::Created,
        RecordState::Running => ContainerState::Running,
        RecordState::Exited => ContainerState::Exited,
    }
}

/// What a container watcher waits on.
enum Waiter {
    /// A shim this runtime spawned.
    Child(tokio::process::Child),
    /// An adopted shim or process.
    Pidfd(tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>),
    /// An in-process supervisor thread.
    Thread(tokio::sync::oneshot::Receiver<()>),
}

impl Waiter {
    async fn wait(self) {
        match self {
            Waiter::Child(mut child) => {
                let _ = child.wait().await;
            }
            Waiter::Pidfd(fd) => {
                let _ = fd.readable().await;
            }
            Waiter::Thread(done) => {
                let _ = done.await;
            }
        }
    }
}

fn pidfd_waiter(pid: u32) -> std::io::Result<tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>> {
    let pid = Pid::from_raw(pid as i32).ok_or_else(|| std::io::Error::other("invalid pid"))?;
    let fd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::NONBLOCK)?;
    // The safe constructor is deprecated because a borrowed fd could be closed behind
    // tokio's back; this one owns its fd, which is exactly the safe case.
    #[allow(deprecated)]
    tokio::io::unix::AsyncFd::with_interest(fd, tokio::io::Interest::READABLE)
}

/// Runs `f` on its own task so that dropping the caller's future (cancellation) cannot leave
/// a half-done operation behind.
async fn detached<T: Send + 'static>(
    f: impl std::future::Future<Output = Result<T>> + Send + 'static,
) -> Result<T> {
    tokio::spawn(f)
        .await
        .map_err(|e| Error::Other(format!("runtime task failed: {e}")))?
}

#[async_trait]
impl Runtime for ProcessRuntime {
    async fn version(&self) -> Result<VersionInfo> {
        Ok(VersionInfo {
            runtime_name: RUNTIME_NAME.into(),
            runtime_version: env!("CARGO_PKG_VERSION").into(),
            runtime_api_version: "v1".into(),
        })
    }

    async fn status(&self) -> Result<RuntimeStatus> {
        // Pods run either way: in namespaces of their own, or (configured so, or without
        // root) on the host network, which the message says. A node that can start pods is
        // network-ready; Kubernetes' NetworkReady=false means pods cannot start at all.
        Ok(RuntimeStatus {
            runtime_ready: true,
            network_ready: true,
            message: self.inner.net.message.clone(),
        })
    }

    async fn run_pod_sandbox(&self, config: &PodSandboxConfig) -> Result<String> {
        detached(self.inner.clone().run_pod_sandbox(config.clone())).await
    }

    async fn stop_pod_sandbox(&self, sandbox_id: &str) -> Result<()> {
        detached(self.inner.clone().stop_pod_sandbox(sandbox_id.to_string())).await
    }

    async fn remove_pod_sandbox(&self, sandbox_id: &str) -> Result<()> {
        detached(
            self.inner
                .clone()
                .remove_pod_sandbox(sandbox_id.to_string()),
        )
        .await
    }

    async fn pod_sandbox_status(&self, sandbox_id: &str) -> Result<PodSandboxStatus> {
        let sandboxes = lock(&self.inner.sandboxes);
        let s = sandboxes
            .get(sandbox_id)
            .ok_or_else(|| Error::NotFound(format!("pod sandbox {sandbox_id}")))?;
        Ok(PodSandboxStatus {
            id: s.id.clone(),
            metadata: sandbox_metadata(s),
            state: if s.ready {
                SandboxState::Ready
            } else {
                SandboxState::NotReady
            },
            created_at: s.created_at,
            ip: s.ip.map(|ip| ip.to_string()),
            additional_ips: Vec::new(),
            host_network: !s.own_network,
            labels: s.labels.clone(),
            annotations: s.annotations.clone(),
        })
    }

    async fn list_pod_sandboxes(&self, filter: &SandboxFilter) -> Result<Vec<PodSandbox>> {
        let sandboxes = lock(&self.inner.sandboxes);
        let mut list: Vec<PodSandbox> = sandboxes
            .values()
            .map(|s| PodSandbox {
                id: s.id.clone(),
                metadata: sandbox_metadata(s),
                state: if s.ready {
                    SandboxState::Ready
                } else {
                    SandboxState::NotReady
                },
                created_at: s.created_at,
                labels: s.labels.clone(),
                annotations: s.annotations.clone(),
            })
            .filter(|s| filter.matches(s))
            .collect();
        list.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(list)
    }

    async fn create_container(
        &self,
        sandbox_id: &str,
        config: &ContainerConfig,
        _sandbox: &PodSandboxConfig,
    ) -> Result<String> {
        let inner = &self.inner;
        let sandbox = lock(&inner.sandboxes)
            .get(sandbox_id)
            .cloned()
            .ok_or_else(|| Error::NotFound(format!("pod sandbox {sandbox_id}")))?;
        if !sandbox.ready {
            return Err(Error::InvalidArgument(format!(
                "pod sandbox {sandbox_id} is not ready"
            )));
        }
        let image_name = inner
            .image_known(&config.image)
            .ok_or_else(|| Error::ImageNotPresent(config.image.clone()))?;
        let image = inner
            .config
            .images
            .get(&image_name)
            .cloned()
            .unwrap_or_default();
        let mut argv: Vec<String> = if config.command.is_empty() {
            image.entrypoint.clone()
        } else {
            config.command.clone()
        };
        if !config.args.is_empty() {
            argv.extend(config.args.iter().cloned());
        } else if config.command.is_empty() {
            argv.extend(image.cmd.iter().cloned());
        }
        if argv.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "the process runtime needs a command: image {} has no entrypoint known here",
                config.image
            )));
        }
        let mut env: Vec<(String, String)> = vec![("PATH".into(), DEFAULT_PATH.into())];
        if !sandbox.hostname.is_empty() {
            env.push(("HOSTNAME".into(), sandbox.hostname.clone()));
        }
        for (k, v) in image.env.iter().chain(config.env.iter()) {
            env.retain(|(key, _)| key != k);
            env.push((k.clone(), v.clone()));
        }
        let id = new_id();
        let (cgroup, limits_note) = match inner.cgroups.create(&id, &config.resources) {
            Ok(cgroup) => (Some(cgroup), None),
            Err(reason) => {
                let limited = config.resources.cpu_limit_millis.is_some()
                    || config.resources.memory_limit_bytes.is_some();
                if limited {
                    tracing::warn!(container = %config.name, "resource limits are not enforced: {reason}");
                }
                (None, limited.then_some(reason))
            }
        };
        let record = ContainerRecord {
            id: id.clone(),
            sandbox_id: sandbox_id.to_string(),
            name: config.name.clone(),
            attempt: config.attempt,
            image: config.image.clone(),
            image_ref: image_id(&image_name),
            argv,
            env,
            working_dir: config.working_dir.clone().or(image.working_dir.clone()),
            root: image.root.clone(),
            netns: sandbox.netns.clone(),
            log_path: if config.log_path.as_os_str().is_empty() {
                PathBuf::new()
            } else {
                sandbox.log_directory.join(&config.log_path)
            },
            labels: config.labels.clone(),
            annotations: config.annotations.clone(),
            created_at: Timestamp::now(),
            state: RecordState::Created,
            started_at: None,
            finished_at: None,
            exit_code: None,
            reason: String::new(),
            message: String::new(),
            process: None,
            shim: None,
            cgroup,
            limits_note,
        };
        let mut containers = lock(&inner.containers);
        if let Err(e) = inner.persist_container(&record) {
            if let Some(cgroup) = &record.cgroup {
                cgroup.remove();
            }
            return Err(e);
        }
        containers.insert(id.clone(), ContainerEntry::new(record));
        Ok(id)
    }

    async fn start_container(&self, container_id: &str) -> Result<()> {
        detached(self.inner.clone().start_container(container_id.to_string())).await
    }

    async fn stop_container(&self, container_id: &str, grace: Duration) -> Result<()> {
        detached(
            self.inner
                .clone()
                .stop_container(container_id.to_string(), grace),
        )
        .await
    }

    async fn remove_container(&self, container_id: &str) -> Result<()> {
        detached(
            self.inner
                .clone()
                .remove_container(container_id.to_string()),
        )
        .await
    }

    async fn list_containers(&self, filter: &ContainerFilter) -> Result<Vec<Container>> {
        let running: Vec<String> = lock(&self.inner.containers)
            .values()
            .filter(|e| e.record.state == RecordState::Running)
            .map(|e| e.record.id.clone())
            .collect();
        for id in running {
            self.inner.apply_exit(&id);
        }
        let containers = lock(&self.inner.containers);
        let mut list: Vec<Container> = containers
            .values()
            .map(|e| {
                let r = &e.record;
                Container {
                    id: r.id.clone(),
                    sandbox_id: r.sandbox_id.clone(),
                    name: r.name.clone(),
                    attempt: r.attempt,
                    image: r.image.clone(),
                    image_ref: r.image_ref.clone(),
                    state: state_of(r.state),
                    created_at: r.created_at,
                    labels: r.labels.clone(),
                    annotations: r.annotations.clone(),
                }
            })
            .filter(|c| filter.matches(c))
            .collect();
        list.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(list)
    }

    async fn container_status(&self, container_id: &str) -> Result<ContainerStatus> {
        self.inner.container_status(container_id)
    }

    async fn exec_sync(
        &self,
        container_id: &str,
        cmd: &[String],
        timeout: Duration,
    ) -> Result<ExecOutput> {
        let record = self.inner.running_record(container_id)?;
        let mut command = self.inner.exec_command(&record, cmd)?;
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .map_err(|e| Error::Other(format!("exec {:?} failed: {e}", cmd[0])))?;
        let pid = child.id();
        let mut stdout = child.stdout.take();
        let mut stderr = child.stderr.take();
        let collect = async {
            let mut out = Vec::new();
            let mut err = Vec::new();
            let read_out = async {
                if let Some(s) = stdout.as_mut() {
                    let _ = s.read_to_end(&mut out).await;
                }
            };
            let read_err = async {
                if let Some(s) = stderr.as_mut() {
                    let _ = s.read_to_end(&mut err).await;
                }
            };
            let ((), (), status) = tokio::join!(read_out, read_err, child.wait());
            (out, err, status)
        };
        let limit = if timeout.is_zero() {
            Duration::MAX
        } else {
            timeout
        };
        match tokio::time::timeout(limit, collect).await {
            Ok((stdout, stderr, status)) => {
                let status = status.map_err(|e| Error::Other(format!("exec failed: {e}")))?;
                use std::os::unix::process::ExitStatusExt;
                let exit_code = status
                    .code()
                    .or_else(|| status.signal().map(|s| 128 + s))
                    .unwrap_or(255);
                Ok(ExecOutput {
                    stdout,
                    stderr,
                    exit_code,
                })
            }
            Err(_) => {
                if let Some(pid) = pid.and_then(|p| Pid::from_raw(p as i32)) {
                    let _ = rustix::process::kill_process_group(pid, Signal::KILL);
                }
                Err(Error::DeadlineExceeded(format!(
                    "command {cmd:?} timed out after {timeout:?}"
                )))
            }
        }
    }

    async fn exec(&self, container_id: &str, request: &ExecRequest) -> Result<ExecSession> {
        let record = self.inner.running_record(container_id)?;
        let mut command = self.inner.exec_command(&record, &request.cmd)?;
        command.stdin(if request.stdin {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        let mut merged = None;
        if request.tty {
            // No pseudo terminal: stdout and stderr share one pipe.
            let (reader, writer) =
                std::io::pipe().map_err(|e| Error::Other(format!("cannot create a pipe: {e}")))?;
            let writer2 = writer
                .try_clone()
                .map_err(|e| Error::Other(format!("cannot create a pipe: {e}")))?;
            command.stdout(writer).stderr(writer2);
            merged = Some(reader);
        } else {
            command
                .stdout(if request.stdout {
                    Stdio::piped()
                } else {
                    Stdio::null()
                })
                .stderr(if request.stderr {
                    Stdio::piped()
                } else {
                    Stdio::null()
                });
        }
        let mut child = command
            .spawn()
            .map_err(|e| Error::Other(format!("exec {:?} failed: {e}", request.cmd[0])))?;
        // Release our copies of the pipe's write ends (held by the Command).
        drop(command);
        let stdin = child
            .stdin
            .take()
            .map(|s| Box::pin(s) as std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>);
        let (stdout, stderr): (
            Option<std::pin::Pin<Box<dyn tokio::io::AsyncRead + Send>>>,
            Option<std::pin::Pin<Box<dyn tokio::io::AsyncRead + Send>>>,
        ) = match merged {
            Some(reader) => {
                let fd: std::os::fd::OwnedFd = reader.into();
                let receiver = tokio::net::unix::pipe::Receiver::from_owned_fd(fd)
                    .map_err(|e| Error::Other(format!("cannot read the exec output: {e}")))?;
                (Some(Box::pin(receiver)), None)
            }
            None => (
                child.stdout.take().map(|s| Box::pin(s) as _),
                child.stderr.take().map(|s| Box::pin(s) as _),
            ),
        };
        let exit = Box::pin(async move {
            use std::os::unix::process::ExitStatusExt;
            let status = child
                .wait()
                .await
                .map_err(|e| Error::Other(format!("exec failed: {e}")))?;
            Ok(status
                .code()
                .or_else(|| status.signal().map(|s| 128 + s))
                .unwrap_or(255))
        });
        Ok(ExecSession {
            stdin,
            stdout,
            stderr,
            resize: None,
            exit,
        })
    }

    async fn container_stats(&self, container_id: &str) -> Result<ContainerStats> {
        let (cgroup, process, running) = {
            let containers = lock(&self.inner.containers);
            let entry = containers
                .get(container_id)
                .ok_or_else(|| Error::NotFound(format!("container {container_id}")))?;
            (
                entry.record.cgroup.clone(),
                entry.record.process,
                entry.record.state == RecordState::Running,
            )
        };
        if let Some(cgroup) = &cgroup {
            let stats = ContainerStats {
                cpu_usage_nanos: cgroup.cpu_usage_nanos(),
                memory_working_set_bytes: cgroup.memory_working_set(),
            };
            if stats.cpu_usage_nanos.is_some() || stats.memory_working_set_bytes.is_some() {
                return Ok(stats);
            }
        }
        match process.filter(|p| running && supervise::is_alive(p)) {
            Some(p) => Ok(proc_stats(p.pid)),
            None => Ok(ContainerStats::default()),
        }
    }

    async fn list_images(&self) -> Result<Vec<Image>> {
        let hidden = lock(&self.inner.hidden_images);
        Ok(self
            .inner
            .config
            .images
            .keys()
            .filter(|name| !hidden.contains(*name))
            .map(|name| image_of(name))
            .collect())
    }

    async fn image_status(&self, image: &str) -> Result<Option<Image>> {
        Ok(self.inner.image_known(image).map(|name| image_of(&name)))
    }

    async fn pull_image(&self, image: &str) -> Result<String> {
        let known = match self.inner.config.image_policy {
            ImagePolicy::Any => !image.is_empty(),
            ImagePolicy::Listed => self.inner.config.images.contains_key(image),
        };
        if !known {
            return Err(Error::PullFailed {
                image: image.to_string(),
                message: "the process runtime has no registry: only images in its image map can be pulled".into(),
            });
        }
        lock(&self.inner.hidden_images).remove(image);
        Ok(image_id(image))
    }

    async fn remove_image(&self, image: &str) -> Result<()> {
        if let Some(name) = self.inner.image_known(image) {
            lock(&self.inner.hidden_images).insert(name);
        }
        Ok(())
    }
}

fn image_of(name: &str) -> Image {
    Image {
        id: image_id(name),
        repo_tags: vec![name.to_string()],
        repo_digests: Vec::new(),
        size_bytes: 0,
    }
}

fn sandbox_metadata(s: &SandboxRecord) -> SandboxMetadata {
    SandboxMetadata {
        name: s.name.clone(),
        namespace: s.namespace.clone(),
        uid: s.uid.clone(),
        attempt: s.attempt,
    }
}

/// CPU and memory of one process from `/proc` (when there is no cgroup).
fn proc_stats(pid: u32) -> ContainerStats {
    let cpu = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let rest = stat[stat.rfind(')')? + 1..].to_string();
            let fields: Vec<&str> = rest.split_whitespace().collect();
            // utime and stime are fields 14 and 15 (indices 11 and 12 after the command).
            let ticks: u64 =
                fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
            // USER_HZ is 100 on Linux.
            Some(ticks * 10_000_000)
        });
    let memory = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
            let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kb * 1024)
        });
    ContainerStats {
        cpu_usage_nanos: cpu,
        memory_working_set_bytes: memory,
    }
}
