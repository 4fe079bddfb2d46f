//! The simulated runtime: no processes, everything in memory.
//!
//! [`SimRuntime`] keeps sandboxes, containers and images in a map and lets the tokio clock
//! drive their lives, so it runs under paused time and thousands of nodes fit in one process.
//! Containers do nothing, but how they behave is configurable per image or per command
//! ([`SimRule`] → [`SimBehavior`]): start latency, failing to start, running for a while and
//! then exiting with a code (or being OOM-killed), running forever, ignoring SIGTERM, how long
//! they take to exit after SIGTERM, the CPU and memory they report, and lines they "print"
//! (written in CRI log format when the sandbox has a log directory). `exec_sync` and `exec`
//! answer from [`ExecRule`]s and a few built-in commands (`echo`, `true`, `false`, `cat`,
//! `sh -c "exit N"`).
//!
//! Time is evaluated lazily: a container whose run time has elapsed is reported `Exited` (with
//! `finished_at` = start + run time) by the next status or list call, without any timer task.
//!
//! ```
//! use std::time::Duration;
//! use kube_node::runtime::sim::{SimBehavior, SimConfig, SimExit, SimRule, SimRuntime};
//!
//! let config = SimConfig {
//!     rules: vec![SimRule::command(
//!         ["exit-3"],
//!         SimBehavior { exit: SimExit::After { run: Duration::from_secs(1), exit_code: 3 }, ..Default::default() },
//!     )],
//!     ..Default::default()
//! };
//! let runtime = SimRuntime::new(config);
//! # let _ = runtime;
//! ```

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use md5::{Digest, Md5};
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

use super::{
    Container, ContainerConfig, ContainerFilter, ContainerState, ContainerStats, ContainerStatus,
    Error, ExecOutput, ExecRequest, ExecSession, Image, PodSandbox, PodSandboxConfig,
    PodSandboxStatus, Result, Runtime, RuntimeStatus, SandboxFilter, SandboxMetadata, SandboxState,
    VersionInfo,
};
use crate::clock::{Clock, TokioClock};

/// How a simulated container ends on its own.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SimExit {
    /// It runs until it is stopped (a server).
    #[default]
    Never,
    /// It exits by itself `run` after it started, with `exit_code` (reason `Completed` for 0,
    /// `Error` otherwise).
    After {
        /// How long it runs.
        run: Duration,
        /// Its exit code.
        exit_code: i32,
    },
    /// It is OOM-killed `run` after it started (exit code 137, reason `OOMKilled`).
    OomKilled {
        /// How long it runs.
        run: Duration,
    },
}

/// Which stream a simulated output line goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimStream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// How a simulated container behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimBehavior {
    /// How long `start_container` takes.
    pub start_latency: Duration,
    /// `Some(message)`: `start_container` fails with [`Error::StartFailed`] and the container
    /// ends `Exited` with exit code 128, reason `StartError`.
    pub fail_to_start: Option<String>,
    /// How it ends by itself.
    pub exit: SimExit,
    /// It ignores SIGTERM: a stop waits the whole grace period and kills it (exit 137).
    pub ignore_sigterm: bool,
    /// How long it takes to exit after SIGTERM (exit 143); at least the grace period means a
    /// kill (exit 137).
    pub term_latency: Duration,
    /// CPU it uses while running, in millicores (reported by `container_stats`).
    pub cpu_millis: u64,
    /// Working-set memory it reports while running, in bytes.
    pub memory_bytes: u64,
    /// Lines it prints when it starts, written to its log file in CRI format when the sandbox
    /// has a log directory.
    pub output: Vec<(SimStream, String)>,
}

impl Default for SimBehavior {
    fn default() -> Self {
        SimBehavior {
            start_latency: Duration::ZERO,
            fail_to_start: None,
            exit: SimExit::Never,
            ignore_sigterm: false,
            term_latency: Duration::ZERO,
            cpu_millis: 1,
            memory_bytes: 8 << 20,
            output: Vec::new(),
        }
    }
}

/// Chooses a [`SimBehavior`] for a container by its image and/or command. The first matching
/// rule of [`SimConfig::rules`] wins; a rule with neither image nor command matches everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SimRule {
    /// Matches containers of this image (`busybox` = `busybox:latest` =
    /// `docker.io/library/busybox:latest`).
    pub image: Option<String>,
    /// Matches containers whose `command` followed by `args` starts with these words.
    pub command: Option<Vec<String>>,
    /// The behaviour of matching containers.
    pub behavior: SimBehavior,
}

impl SimRule {
    /// A rule for containers whose command line starts with `prefix`.
    pub fn command<I, S>(prefix: I, behavior: SimBehavior) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        SimRule {
            image: None,
            command: Some(prefix.into_iter().map(Into::into).collect()),
            behavior,
        }
    }

    /// A rule for containers of `image`.
    pub fn image(image: impl Into<String>, behavior: SimBehavior) -> Self {
        SimRule {
            image: Some(image.into()),
            command: None,
            behavior,
        }
    }

    fn matches(&self, config: &ContainerConfig) -> bool {
        self.image
            .as_ref()
            .is_none_or(|i| normalize_image(i) == normalize_image(&config.image))
            && self.command.as_ref().is_none_or(|prefix| {
                let line: Vec<&String> = config.command.iter().chain(&config.args).collect();
                line.len() >= prefix.len() && prefix.iter().zip(line).all(|(a, b)| a == b)
            })
    }
}

/// The answer to an exec whose command line starts with [`command`](Self::command).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExecRule {
    /// The command prefix it answers.
    pub command: Vec<String>,
    /// What the command prints and its exit code.
    pub output: ExecOutput,
    /// How long it runs.
    pub latency: Duration,
}

/// The configuration of a [`SimRuntime`]. Change it later with [`SimRuntime::configure`]
/// (behaviours are chosen when a container is created).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimConfig {
    /// The runtime name reported by `version`.
    pub runtime_name: String,
    /// Images present from the start (default `busybox:latest` and
    /// `registry.k8s.io/pause:3.9`).
    pub images: Vec<String>,
    /// Size reported for each image.
    pub image_size_bytes: u64,
    /// Whether `pull_image` succeeds (for images not in [`unpullable`](Self::unpullable)).
    pub pull_enabled: bool,
    /// Images whose pull fails.
    pub unpullable: Vec<String>,
    /// How long a pull takes.
    pub pull_latency: Duration,
    /// Behaviour rules, first match wins.
    pub rules: Vec<SimRule>,
    /// Behaviour when no rule matches.
    pub default_behavior: SimBehavior,
    /// Exec answers, first match wins (before the built-in commands).
    pub exec_rules: Vec<ExecRule>,
    /// Exec answer when neither a rule nor a built-in command matches.
    pub exec_default: ExecOutput,
    /// Whether the pod network is ready; when not, sandboxes get no IP.
    pub network_ready: bool,
    /// The reason given when the network is not ready.
    pub network_message: String,
    /// Pod IPs are allocated after this address.
    pub pod_ip_base: Ipv4Addr,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            runtime_name: "kubox-sim".into(),
            images: vec!["busybox:latest".into(), "registry.k8s.io/pause:3.9".into()],
            image_size_bytes: 4 << 20,
            pull_enabled: true,
            unpullable: Vec::new(),
            pull_latency: Duration::ZERO,
            rules: Vec::new(),
            default_behavior: SimBehavior::default(),
            exec_rules: Vec::new(),
            exec_default: ExecOutput::default(),
            network_ready: true,
            network_message: String::new(),
            pod_ip_base: Ipv4Addr::new(10, 88, 0, 0),
        }
    }
}

/// `busybox` → `busybox:latest`; `docker.io/library/x:1` → `x:1`.
fn normalize_image(image: &str) -> String {
    let image = image
        .strip_prefix("docker.io/library/")
        .or_else(|| image.strip_prefix("docker.io/"))
        .unwrap_or(image);
    let last = image.rsplit('/').next().unwrap_or(image);
    if image.contains('@') || last.contains(':') {
        image.to_string()
    } else {
        format!("{image}:latest")
    }
}

fn image_id(normalized: &str) -> String {
    let a = Md5::digest(normalized.as_bytes());
    let b = Md5::digest(a);
    let mut id = String::from("sha256:");
    for byte in a.iter().chain(b.iter()) {
        id.push_str(&format!("{byte:02x}"));
    }
    id
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn new_id() -> String {
    let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let digest = Md5::digest(format!("kubox-sim-{}-{n}", std::process::id()).as_bytes());
    let mut id = String::with_capacity(48);
    for byte in digest.iter() {
        id.push_str(&format!("{byte:02x}"));
    }
    id.push_str(&format!("{n:016x}"));
    id
}

struct SandboxRecord {
    config: PodSandboxConfig,
    state: SandboxState,
    created_at: Timestamp,
    ip: Option<String>,
}

#[derive(Clone)]
enum Life {
    Created,
    Running {
        started: Instant,
        started_at: Timestamp,
        /// When it exits (by itself or because it was stopped), with code and reason.
        exit: Option<(Instant, i32, &'static str)>,
    },
    Exited {
        started_at: Option<Timestamp>,
        finished_at: Timestamp,
        exit_code: i32,
        reason: &'static str,
        message: String,
    },
}

struct ContainerRecord {
    sandbox_id: String,
    config: ContainerConfig,
    behavior: SimBehavior,
    created_at: Timestamp,
    log_path: PathBuf,
    life: Life,
}

impl ContainerRecord {
    /// Applies an exit whose time has come.
    fn settle(&mut self, now: Instant) {
        if let Life::Running {
            started,
            started_at,
            exit: Some((at, code, reason)),
        } = self.life
        {
            if at <= now {
                let ran = SignedDuration::try_from(at - started).unwrap_or(SignedDuration::ZERO);
                self.life = Life::Exited {
                    started_at: Some(started_at),
                    finished_at: started_at.saturating_add(ran).unwrap_or(started_at),
                    exit_code: code,
                    reason,
                    message: String::new(),
                };
            }
        }
    }

    fn state(&self) -> ContainerState {
        match self.life {
            Life::Created => ContainerState::Created,
            Life::Running { .. } => ContainerState::Running,
            Life::Exited { .. } => ContainerState::Exited,
        }
    }

    /// Schedules an exit at `at` unless an earlier one is already scheduled; returns the
    /// effective exit time (None when the container is not running).
    fn exit_at(&mut self, at: Instant, code: i32, reason: &'static str) -> Option<Instant> {
        match &mut self.life {
            Life::Running { exit, .. } => {
                match exit {
                    Some((existing, _, _)) if *existing <= at => {}
                    _ => *exit = Some((at, code, reason)),
                }
                exit.map(|(t, _, _)| t)
            }
            _ => None,
        }
    }
}

struct Inner {
    config: SimConfig,
    images: BTreeMap<String, Image>,
    sandboxes: HashMap<String, SandboxRecord>,
    containers: HashMap<String, ContainerRecord>,
    next_ip: u32,
}

/// The simulated runtime. Cheap to clone (clones share the state).
#[derive(Clone)]
pub struct SimRuntime {
    inner: Arc<Mutex<Inner>>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for SimRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = self.lock();
        f.debug_struct("SimRuntime")
            .field("sandboxes", &inner.sandboxes.len())
            .field("containers", &inner.containers.len())
            .finish_non_exhaustive()
    }
}

impl SimRuntime {
    /// A simulated runtime with timestamps from a [`TokioClock`] (they follow paused time).
    pub fn new(config: SimConfig) -> Self {
        Self::with_clock(config, Arc::new(TokioClock::new()))
    }

    /// A simulated runtime with timestamps from `clock`.
    pub fn with_clock(config: SimConfig, clock: Arc<dyn Clock>) -> Self {
        let mut images = BTreeMap::new();
        for image in &config.images {
            add_image(&mut images, image, config.image_size_bytes);
        }
        SimRuntime {
            inner: Arc::new(Mutex::new(Inner {
                config,
                images,
                sandboxes: HashMap::new(),
                containers: HashMap::new(),
                next_ip: 0,
            })),
            clock,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        match self.inner.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Changes the configuration (rules apply to containers created afterwards; network
    /// readiness and exec answers at once).
    pub fn configure(&self, change: impl FnOnce(&mut SimConfig)) {
        change(&mut self.lock().config);
    }

    /// Ends a running container now with `exit_code` (as if it crashed or finished).
    pub fn exit_container(&self, container_id: &str, exit_code: i32) -> Result<()> {
        let mut inner = self.lock();
        let c = inner
            .containers
            .get_mut(container_id)
            .ok_or_else(|| Error::NotFound(format!("container {container_id}")))?;
        let reason = if exit_code == 0 { "Completed" } else { "Error" };
        c.exit_at(Instant::now(), exit_code, reason);
        c.settle(Instant::now());
        Ok(())
    }

    /// How many sandboxes and containers the runtime holds.
    pub fn counts(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.sandboxes.len(), inner.containers.len())
    }

    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    fn container_view(id: &str, c: &ContainerRecord) -> Container {
        Container {
            id: id.to_string(),
            sandbox_id: c.sandbox_id.clone(),
            name: c.config.name.clone(),
            attempt: c.config.attempt,
            image: c.config.image.clone(),
            image_ref: image_id(&normalize_image(&c.config.image)),
            state: c.state(),
            created_at: c.created_at,
            labels: c.config.labels.clone(),
            annotations: c.config.annotations.clone(),
        }
    }

    fn running(&self, container_id: &str) -> Result<()> {
        let mut inner = self.lock();
        let c = inner
            .containers
            .get_mut(container_id)
            .ok_or_else(|| Error::NotFound(format!("container {container_id}")))?;
        c.settle(Instant::now());
        if c.state() != ContainerState::Running {
            return Err(Error::InvalidArgument(format!(
                "container {container_id} is not running"
            )));
        }
        Ok(())
    }

    fn exec_answer(&self, cmd: &[String]) -> (ExecOutput, Duration) {
        let inner = self.lock();
        if let Some(rule) = inner.config.exec_rules.iter().find(|r| {
            cmd.len() >= r.command.len() && r.command.iter().zip(cmd).all(|(a, b)| a == b)
        }) {
            return (rule.output.clone(), rule.latency);
        }
        let builtin = |stdout: Vec<u8>, exit_code: i32| ExecOutput {
            stdout,
            stderr: Vec::new(),
            exit_code,
        };
        let words: Vec<&str> = cmd.iter().map(String::as_str).collect();
        let out = match words.as_slice() {
            ["echo", rest @ ..] => builtin(format!("{}\n", rest.join(" ")).into_bytes(), 0),
            ["true", ..] | ["cat", ..] => builtin(Vec::new(), 0),
            ["false", ..] => builtin(Vec::new(), 1),
            ["sh" | "/bin/sh", "-c", script] => match script.trim().strip_prefix("exit") {
                Some(code) => builtin(Vec::new(), code.trim().parse().unwrap_or(0)),
                None => inner.config.exec_default.clone(),
            },
            _ => inner.config.exec_default.clone(),
        };
        (out, Duration::ZERO)
    }
}

fn add_image(images: &mut BTreeMap<String, Image>, image: &str, size: u64) -> String {
    let normalized = normalize_image(image);
    let id = image_id(&normalized);
    images.insert(
        normalized.clone(),
        Image {
            id: id.clone(),
            repo_tags: vec![normalized],
            repo_digests: Vec::new(),
            size_bytes: size,
        },
    );
    id
}

fn find_image<'a>(images: &'a BTreeMap<String, Image>, image: &str) -> Option<&'a Image> {
    images
        .get(&normalize_image(image))
        .or_else(|| images.values().find(|i| i.id == image))
}

fn write_output(path: &std::path::Path, at: Timestamp, lines: &[(SimStream, String)]) {
    if lines.is_empty() || path.as_os_str().is_empty() {
        return;
    }
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    else {
        return;
    };
    let mut buf = String::new();
    for (stream, line) in lines {
        let stream = match stream {
            SimStream::Stdout => "stdout",
            SimStream::Stderr => "stderr",
        };
        buf.push_str(&format!("{at} {stream} F {line}\n"));
    }
    let _ = file.write_all(buf.as_bytes());
}

#[async_trait]
impl Runtime for SimRuntime {
    async fn version(&self) -> Result<VersionInfo> {
        Ok(VersionInfo {
            runtime_name: self.lock().config.runtime_name.clone(),
            runtime_version: env!("CARGO_PKG_VERSION").into(),
            runtime_api_version: "v1".into(),
        })
    }

    async fn status(&self) -> Result<RuntimeStatus> {
        let inner = self.lock();
        Ok(RuntimeStatus {
            runtime_ready: true,
            network_ready: inner.config.network_ready,
            message: if inner.config.network_ready {
                String::new()
            } else {
                inner.config.network_message.clone()
            },
        })
    }

    async fn run_pod_sandbox(&self, config: &PodSandboxConfig) -> Result<String> {
        if config.metadata.name.is_empty() || config.metadata.namespace.is_empty() {
            return Err(Error::InvalidArgument(
                "sandbox metadata needs a name and a namespace".into(),
            ));
        }
        let created_at = self.now();
        let mut inner = self.lock();
        let ip = if config.host_network || !inner.config.network_ready {
            None
        } else {
            inner.next_ip += 1;
            let base = u32::from(inner.config.pod_ip_base);
            Some(Ipv4Addr::from(base.wrapping_add(inner.next_ip + 1)).to_string())
        };
        let id = new_id();
        inner.sandboxes.insert(
            id.clone(),
            SandboxRecord {
                config: config.clone(),
                state: SandboxState::Ready,
                created_at,
                ip,
            },
        );
        Ok(id)
    }

    async fn stop_pod_sandbox(&self, sandbox_id: &str) -> Result<()> {
        let mut inner = self.lock();
        if !inner.sandboxes.contains_key(sandbox_id) {
            // CRI: stopping an unknown (already removed) sandbox succeeds.
            return Ok(());
        }
        let now = Instant::now();
        for c in inner.containers.values_mut() {
            if c.sandbox_id == sandbox_id {
                c.settle(now);
                c.exit_at(now, 137, "Error");
                c.settle(now);
            }
        }
        if let Some(sb) = inner.sandboxes.get_mut(sandbox_id) {
            sb.state = SandboxState::NotReady;
            sb.ip = None;
        }
        Ok(())
    }

    async fn remove_pod_sandbox(&self, sandbox_id: &str) -> Result<()> {
        let mut inner = self.lock();
        inner.containers.retain(|_, c| c.sandbox_id != sandbox_id);
        inner.sandboxes.remove(sandbox_id);
        Ok(())
    }

    async fn pod_sandbox_status(&self, sandbox_id: &str) -> Result<PodSandboxStatus> {
        let inner = self.lock();
        let sb = inner
            .sandboxes
            .get(sandbox_id)
            .ok_or_else(|| Error::NotFound(format!("sandbox {sandbox_id}")))?;
        Ok(PodSandboxStatus {
            id: sandbox_id.to_string(),
            metadata: sb.config.metadata.clone(),
            state: sb.state,
            created_at: sb.created_at,
            ip: sb.ip.clone(),
            additional_ips: Vec::new(),
            host_network: sb.config.host_network,
            labels: sb.config.labels.clone(),
            annotations: sb.config.annotations.clone(),
        })
    }

    async fn list_pod_sandboxes(&self, filter: &SandboxFilter) -> Result<Vec<PodSandbox>> {
        let inner = self.lock();
        let mut out: Vec<PodSandbox> = inner
            .sandboxes
            .iter()
            .map(|(id, sb)| PodSandbox {
                id: id.clone(),
                metadata: SandboxMetadata::clone(&sb.config.metadata),
                state: sb.state,
                created_at: sb.created_at,
                labels: sb.config.labels.clone(),
                annotations: sb.config.annotations.clone(),
            })
            .filter(|sb| filter.matches(sb))
            .collect();
        out.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    async fn create_container(
        &self,
        sandbox_id: &str,
        config: &ContainerConfig,
        sandbox: &PodSandboxConfig,
    ) -> Result<String> {
        if config.name.is_empty() {
            return Err(Error::InvalidArgument("container name is empty".into()));
        }
        let created_at = self.now();
        let mut inner = self.lock();
        let sb = inner
            .sandboxes
            .get(sandbox_id)
            .ok_or_else(|| Error::NotFound(format!("sandbox {sandbox_id}")))?;
        if sb.state != SandboxState::Ready {
            return Err(Error::InvalidArgument(format!(
                "sandbox {sandbox_id} is not ready"
            )));
        }
        if find_image(&inner.images, &config.image).is_none() {
            return Err(Error::ImageNotPresent(config.image.clone()));
        }
        let behavior = inner
            .config
            .rules
            .iter()
            .find(|r| r.matches(config))
            .map(|r| r.behavior.clone())
            .unwrap_or_else(|| inner.config.default_behavior.clone());
        let log_path = if sandbox.log_directory.as_os_str().is_empty()
            || config.log_path.as_os_str().is_empty()
        {
            PathBuf::new()
        } else {
            sandbox.log_directory.join(&config.log_path)
        };
        let id = new_id();
        inner.containers.insert(
            id.clone(),
            ContainerRecord {
                sandbox_id: sandbox_id.to_string(),
                config: config.clone(),
                behavior,
                created_at,
                log_path,
                life: Life::Created,
            },
        );
        Ok(id)
    }

    async fn start_container(&self, container_id: &str) -> Result<()> {
        let latency = {
            let inner = self.lock();
            let c = inner
                .containers
                .get(container_id)
                .ok_or_else(|| Error::NotFound(format!("container {container_id}")))?;
            if !matches!(c.life, Life::Created) {
                return Err(Error::InvalidArgument(format!(
                    "container {container_id} is not in the created state"
                )));
            }
            c.behavior.start_latency
        };
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        let now_ts = self.now();
        let now = Instant::now();
        let (fail, output, log_path) = {
            let mut inner = self.lock();
            let Some(c) = inner.containers.get_mut(container_id) else {
                return Err(Error::NotFound(format!("container {container_id}")));
            };
            if !matches!(c.life, Life::Created) {
                return Err(Error::InvalidArgument(format!(
                    "container {container_id} is not in the created state"
                )));
            }
            if let Some(message) = c.behavior.fail_to_start.clone() {
                c.life = Life::Exited {
                    started_at: None,
                    finished_at: now_ts,
                    exit_code: 128,
                    reason: "StartError",
                    message: message.clone(),
                };
                (Some(message), Vec::new(), PathBuf::new())
            } else {
                let exit = match c.behavior.exit {
                    SimExit::Never => None,
                    SimExit::After { run, exit_code } => Some((
                        now + run,
                        exit_code,
                        if exit_code == 0 { "Completed" } else { "Error" },
                    )),
                    SimExit::OomKilled { run } => Some((now + run, 137, "OOMKilled")),
                };
                c.life = Life::Running {
                    started: now,
                    started_at: now_ts,
                    exit,
                };
                (None, c.behavior.output.clone(), c.log_path.clone())
            }
        };
        if let Some(message) = fail {
            return Err(Error::StartFailed(message));
        }
        write_output(&log_path, now_ts, &output);
        Ok(())
    }

    async fn stop_container(&self, container_id: &str, grace: Duration) -> Result<()> {
        let until = {
            let mut inner = self.lock();
            let Some(c) = inner.containers.get_mut(container_id) else {
                // CRI: stopping a removed container succeeds.
                return Ok(());
            };
            let now = Instant::now();
            c.settle(now);
            let (wait, code) = if c.behavior.ignore_sigterm || c.behavior.term_latency >= grace {
                (grace, 137)
            } else {
                (c.behavior.term_latency, 143)
            };
            let until = c.exit_at(now + wait, code, "Error");
            c.settle(now);
            until
        };
        if let Some(until) = until {
            tokio::time::sleep_until(until).await;
            let mut inner = self.lock();
            if let Some(c) = inner.containers.get_mut(container_id) {
                c.settle(Instant::now());
            }
        }
        Ok(())
    }

    async fn remove_container(&self, container_id: &str) -> Result<()> {
        self.lock().containers.remove(container_id);
        Ok(())
    }

    async fn list_containers(&self, filter: &ContainerFilter) -> Result<Vec<Container>> {
        let now = Instant::now();
        let mut inner = self.lock();
        let mut out = Vec::new();
        for (id, c) in inner.containers.iter_mut() {
            c.settle(now);
            let view = Self::container_view(id, c);
            if filter.matches(&view) {
                out.push(view);
            }
        }
        out.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    async fn container_status(&self, container_id: &str) -> Result<ContainerStatus> {
        let mut inner = self.lock();
        let c = inner
            .containers
            .get_mut(container_id)
            .ok_or_else(|| Error::NotFound(format!("container {container_id}")))?;
        c.settle(Instant::now());
        let view = Self::container_view(container_id, c);
        let (started_at, finished_at, exit_code, reason, message) = match &c.life {
            Life::Created => (None, None, None, String::new(), String::new()),
            Life::Running { started_at, .. } => {
                (Some(*started_at), None, None, String::new(), String::new())
            }
            Life::Exited {
                started_at,
                finished_at,
                exit_code,
                reason,
                message,
            } => (
                *started_at,
                Some(*finished_at),
                Some(*exit_code),
                reason.to_string(),
                message.clone(),
            ),
        };
        Ok(ContainerStatus {
            id: view.id,
            sandbox_id: view.sandbox_id,
            name: view.name,
            attempt: view.attempt,
            image: view.image,
            image_ref: view.image_ref,
            state: view.state,
            created_at: view.created_at,
            started_at,
            finished_at,
            exit_code,
            reason,
            message,
            log_path: c.log_path.clone(),
            labels: view.labels,
            annotations: view.annotations,
        })
    }

    async fn exec_sync(
        &self,
        container_id: &str,
        cmd: &[String],
        timeout: Duration,
    ) -> Result<ExecOutput> {
        self.running(container_id)?;
        let (out, latency) = self.exec_answer(cmd);
        if !timeout.is_zero() && latency > timeout {
            tokio::time::sleep(timeout).await;
            return Err(Error::DeadlineExceeded(format!(
                "command {cmd:?} timed out after {timeout:?}"
            )));
        }
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        Ok(out)
    }

    async fn exec(&self, container_id: &str, request: &ExecRequest) -> Result<ExecSession> {
        self.running(container_id)?;
        if request.cmd.is_empty() {
            return Err(Error::InvalidArgument("exec needs a command".into()));
        }
        if request.cmd[0] == "cat" && request.cmd.len() == 1 && request.stdin {
            // Interactive `cat`: stdin is copied to stdout until it closes.
            let (stdin_w, mut stdin_r) = tokio::io::duplex(64 * 1024);
            let (mut stdout_w, stdout_r) = tokio::io::duplex(64 * 1024);
            let (done_tx, done_rx) = tokio::sync::oneshot::channel();
            tokio::spawn(async move {
                let result = tokio::io::copy(&mut stdin_r, &mut stdout_w).await;
                let _ = stdout_w.shutdown().await;
                let _ = done_tx.send(result.is_ok());
            });
            return Ok(ExecSession {
                stdin: Some(Box::pin(stdin_w)),
                stdout: request.stdout.then(|| {
                    Box::pin(stdout_r) as std::pin::Pin<Box<dyn tokio::io::AsyncRead + Send>>
                }),
                stderr: None,
                resize: None,
                exit: Box::pin(async move {
                    match done_rx.await {
                        Ok(true) => Ok(0),
                        _ => Ok(1),
                    }
                }),
            });
        }
        let (out, latency) = self.exec_answer(&request.cmd);
        let (stdout, stderr) = if request.tty {
            let mut all = out.stdout;
            all.extend_from_slice(&out.stderr);
            (all, Vec::new())
        } else {
            (out.stdout, out.stderr)
        };
        let exit_code = out.exit_code;
        Ok(ExecSession {
            stdin: request
                .stdin
                .then(|| Box::pin(tokio::io::sink()) as std::pin::Pin<Box<_>>),
            stdout: request.stdout.then(|| {
                Box::pin(std::io::Cursor::new(stdout))
                    as std::pin::Pin<Box<dyn tokio::io::AsyncRead + Send>>
            }),
            stderr: (request.stderr && !request.tty).then(|| {
                Box::pin(std::io::Cursor::new(stderr))
                    as std::pin::Pin<Box<dyn tokio::io::AsyncRead + Send>>
            }),
            resize: None,
            exit: Box::pin(async move {
                if !latency.is_zero() {
                    tokio::time::sleep(latency).await;
                }
                Ok(exit_code)
            }),
        })
    }

    async fn container_stats(&self, container_id: &str) -> Result<ContainerStats> {
        let mut inner = self.lock();
        let c = inner
            .containers
            .get_mut(container_id)
            .ok_or_else(|| Error::NotFound(format!("container {container_id}")))?;
        let now = Instant::now();
        c.settle(now);
        Ok(match c.life {
            Life::Running { started, .. } => {
                let ran = now.saturating_duration_since(started).as_nanos() as u64;
                ContainerStats {
                    cpu_usage_nanos: Some(ran.saturating_mul(c.behavior.cpu_millis) / 1000),
                    memory_working_set_bytes: Some(c.behavior.memory_bytes),
                }
            }
            _ => ContainerStats {
                cpu_usage_nanos: Some(0),
                memory_working_set_bytes: Some(0),
            },
        })
    }

    async fn list_images(&self) -> Result<Vec<Image>> {
        Ok(self.lock().images.values().cloned().collect())
    }

    async fn image_status(&self, image: &str) -> Result<Option<Image>> {
        Ok(find_image(&self.lock().images, image).cloned())
    }

    async fn pull_image(&self, image: &str) -> Result<String> {
        if image.trim().is_empty() {
            return Err(Error::InvalidArgument("empty image reference".into()));
        }
        let latency = {
            let inner = self.lock();
            let normalized = normalize_image(image);
            if !inner.config.pull_enabled
                || inner
                    .config
                    .unpullable
                    .iter()
                    .any(|i| normalize_image(i) == normalized)
            {
                return Err(Error::PullFailed {
                    image: image.to_string(),
                    message: "no registry is reachable from the simulated runtime".into(),
                });
            }
            inner.config.pull_latency
        };
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        let mut inner = self.lock();
        let size = inner.config.image_size_bytes;
        Ok(add_image(&mut inner.images, image, size))
    }

    async fn remove_image(&self, image: &str) -> Result<()> {
        let mut inner = self.lock();
        let normalized = normalize_image(image);
        if inner.images.remove(&normalized).is_none() {
            inner.images.retain(|_, i| i.id != image);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references_normalize() {
        assert_eq!(normalize_image("busybox"), "busybox:latest");
        assert_eq!(
            normalize_image("docker.io/library/busybox"),
            "busybox:latest"
        );
        assert_eq!(
            normalize_image("localhost:5000/x"),
            "localhost:5000/x:latest"
        );
        assert_eq!(normalize_image("a/b:1.0"), "a/b:1.0");
        assert_eq!(normalize_image("a@sha256:00"), "a@sha256:00");
    }

    #[tokio::test(start_paused = true)]
    async fn a_container_exits_after_its_run_time_without_being_asked() {
        let rt = SimRuntime::new(SimConfig {
            rules: vec![SimRule::command(
                ["job"],
                SimBehavior {
                    exit: SimExit::After {
                        run: Duration::from_secs(5),
                        exit_code: 2,
                    },
                    ..Default::default()
                },
            )],
            ..Default::default()
        });
        let sb_cfg = PodSandboxConfig {
            metadata: SandboxMetadata {
                name: "p".into(),
                namespace: "default".into(),
                uid: "u".into(),
                attempt: 0,
            },
            ..Default::default()
        };
        let sb = rt.run_pod_sandbox(&sb_cfg).await.unwrap();
        let cfg = ContainerConfig {
            name: "c".into(),
            image: "busybox".into(),
            command: vec!["job".into()],
            ..Default::default()
        };
        let id = rt.create_container(&sb, &cfg, &sb_cfg).await.unwrap();
        rt.start_container(&id).await.unwrap();
        let st = rt.container_status(&id).await.unwrap();
        assert_eq!(st.state, ContainerState::Running);
        tokio::time::sleep(Duration::from_secs(5)).await;
        let st = rt.container_status(&id).await.unwrap();
        assert_eq!(st.state, ContainerState::Exited);
        assert_eq!(st.exit_code, Some(2));
        assert_eq!(st.reason, "Error");
        assert_eq!(
            st.finished_at
                .unwrap()
                .duration_since(st.started_at.unwrap()),
            SignedDuration::from_secs(5)
        );
    }
}
