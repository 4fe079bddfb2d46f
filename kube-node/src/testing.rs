//! The conformance suite of the [`Runtime`] contract (see [`crate::runtime`]), as library code
//! so that every runtime runs the same checks from its own tests.
//!
//! A runtime needing real commands (the process runtime, containerd with busybox) describes
//! them in [`Params`]: a command that runs until stopped, one that exits 0, one that exits 3,
//! one that ignores SIGTERM, and the image to use. [`run_all`] runs every case against one
//! runtime instance (each case labels its objects with a unique run label and cleans them up)
//! and returns a [`Report`]; [`Report::assert_ok`] panics listing the failed cases.
//!
//! ```no_run
//! # async fn demo() {
//! use std::sync::Arc;
//! use kube_node::runtime::sim::SimRuntime;
//! use kube_node::testing::{run_all, Params};
//!
//! let runtime = Arc::new(SimRuntime::new(Default::default()));
//! run_all(runtime, &Params::sim()).await.assert_ok();
//! # }
//! ```

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::runtime::{
    ContainerConfig, ContainerFilter, ContainerState, Error, Labels, PodSandboxConfig, Runtime,
    SandboxFilter, SandboxMetadata, SandboxState,
};

/// What the suite needs to know about a runtime.
#[derive(Debug, Clone)]
pub struct Params {
    /// An image present in the runtime's store.
    pub image: String,
    /// A command (with arguments) that runs until it is stopped and exits on SIGTERM.
    pub forever: Vec<String>,
    /// A command that exits with code 0 soon after it starts.
    pub exit_zero: Vec<String>,
    /// A command that exits with code 3 soon after it starts.
    pub exit_three: Vec<String>,
    /// A command that ignores SIGTERM and runs until it is killed.
    pub ignores_sigterm: Vec<String>,
    /// A command whose start fails (`None`: the case is skipped).
    pub fails_to_start: Option<Vec<String>>,
    /// An image reference absent from the runtime's store (`None`: the runtime treats every
    /// image as present, as the process runtime does without an image mapping; the
    /// `ImageNotPresent` case is skipped).
    pub absent_image: Option<String>,
    /// Whether `exec_sync(["echo", "hello"])` is expected to print `hello`.
    pub exec: bool,
    /// A directory for sandbox log directories (`None`: sandboxes get none).
    pub log_root: Option<PathBuf>,
    /// How long to wait for a container to exit by itself.
    pub timeout: Duration,
    /// The grace period used by the "stop kills after grace" case.
    pub grace: Duration,
}

impl Params {
    /// The parameters for a [`SimRuntime`](crate::runtime::sim::SimRuntime) configured by
    /// [`sim_config`].
    pub fn sim() -> Self {
        Params {
            image: "busybox".into(),
            forever: vec!["forever".into()],
            exit_zero: vec!["exit-0".into()],
            exit_three: vec!["exit-3".into()],
            ignores_sigterm: vec!["ignore-term".into()],
            fails_to_start: Some(vec!["no-such-command".into()]),
            absent_image: Some(ABSENT_IMAGE.into()),
            exec: true,
            log_root: None,
            timeout: Duration::from_secs(30),
            grace: Duration::from_secs(2),
        }
    }

    /// The parameters for a runtime running real commands from a POSIX shell (the process
    /// runtime, or containerd with a busybox image named `image`).
    pub fn posix(image: &str) -> Self {
        let sh = |script: &str| vec!["sh".to_string(), "-c".to_string(), script.to_string()];
        Params {
            image: image.into(),
            forever: vec!["sleep".into(), "100000".into()],
            exit_zero: sh("exit 0"),
            exit_three: sh("sleep 0.1; exit 3"),
            ignores_sigterm: sh("trap '' TERM; while true; do sleep 0.1; done"),
            fails_to_start: None,
            absent_image: Some(ABSENT_IMAGE.into()),
            exec: true,
            log_root: None,
            timeout: Duration::from_secs(20),
            grace: Duration::from_secs(1),
        }
    }
}

const ABSENT_IMAGE: &str = "kubox.invalid/conformance/absent:0.0.0";

/// A [`SimConfig`](crate::runtime::sim::SimConfig) whose commands match [`Params::sim`].
pub fn sim_config() -> crate::runtime::sim::SimConfig {
    use crate::runtime::sim::{SimBehavior, SimConfig, SimExit, SimRule};
    let exits = |code| SimBehavior {
        exit: SimExit::After {
            run: Duration::from_millis(100),
            exit_code: code,
        },
        ..Default::default()
    };
    SimConfig {
        rules: vec![
            SimRule::command(["exit-0"], exits(0)),
            SimRule::command(["exit-3"], exits(3)),
            SimRule::command(
                ["ignore-term"],
                SimBehavior {
                    ignore_sigterm: true,
                    ..Default::default()
                },
            ),
            SimRule::command(
                ["no-such-command"],
                SimBehavior {
                    fail_to_start: Some("exec: \"no-such-command\": not found".into()),
                    ..Default::default()
                },
            ),
        ],
        ..Default::default()
    }
}

/// The outcome of [`run_all`].
#[derive(Debug, Default)]
pub struct Report {
    /// Cases that passed.
    pub passed: Vec<&'static str>,
    /// Cases that failed, with what went wrong.
    pub failed: Vec<(&'static str, String)>,
    /// Cases skipped because [`Params`] did not enable them.
    pub skipped: Vec<&'static str>,
}

impl Report {
    /// Panics listing the failed cases, if any.
    #[track_caller]
    pub fn assert_ok(&self) {
        if !self.failed.is_empty() {
            let list: Vec<String> = self
                .failed
                .iter()
                .map(|(name, why)| format!("{name}: {why}"))
                .collect();
            panic!(
                "{} of {} conformance cases failed:\n{}",
                self.failed.len(),
                self.failed.len() + self.passed.len(),
                list.join("\n")
            );
        }
    }
}

type CaseResult = Result<(), String>;

macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

fn err<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> String {
    move |e| format!("{what}: {e}")
}

static RUN: AtomicU64 = AtomicU64::new(0);

/// One case's objects: everything it creates carries its run label, and is removed at the end.
struct Ctx<'a> {
    rt: &'a dyn Runtime,
    params: &'a Params,
    run: String,
    sandboxes: std::sync::Mutex<Vec<String>>,
}

const RUN_LABEL: &str = "conformance.kubox.io/run";

impl<'a> Ctx<'a> {
    fn new(rt: &'a dyn Runtime, params: &'a Params) -> Self {
        let n = RUN.fetch_add(1, Ordering::Relaxed);
        Ctx {
            rt,
            params,
            run: format!("r{}-{n}", std::process::id()),
            sandboxes: std::sync::Mutex::new(Vec::new()),
        }
    }

    fn labels(&self) -> Labels {
        let mut l = Labels::new();
        l.insert(RUN_LABEL.into(), self.run.clone());
        l
    }

    fn sandbox_config(&self, name: &str) -> PodSandboxConfig {
        let uid = format!("{}-{name}", self.run);
        let mut labels = self.labels();
        labels.insert("io.kubernetes.pod.name".into(), name.into());
        let mut annotations = Labels::new();
        annotations.insert(
            "conformance.kubox.io/note".into(),
            format!("sandbox {name}"),
        );
        PodSandboxConfig {
            metadata: SandboxMetadata {
                name: name.into(),
                namespace: "conformance".into(),
                uid: uid.clone(),
                attempt: 0,
            },
            log_directory: self
                .params
                .log_root
                .as_ref()
                .map(|r| r.join(format!("conformance_{name}_{uid}")))
                .unwrap_or_default(),
            host_network: true,
            labels,
            annotations,
            ..Default::default()
        }
    }

    fn container_config(&self, name: &str, command: &[String]) -> ContainerConfig {
        let mut labels = self.labels();
        labels.insert("io.kubernetes.container.name".into(), name.into());
        let mut annotations = Labels::new();
        annotations.insert("io.kubernetes.container.hash".into(), format!("h-{name}"));
        ContainerConfig {
            name: name.into(),
            image: self.params.image.clone(),
            command: command.to_vec(),
            log_path: PathBuf::from(format!("{name}/0.log")),
            labels,
            annotations,
            ..Default::default()
        }
    }

    async fn sandbox(&self, name: &str) -> Result<(String, PodSandboxConfig), String> {
        let cfg = self.sandbox_config(name);
        let id = self
            .rt
            .run_pod_sandbox(&cfg)
            .await
            .map_err(err("run_pod_sandbox"))?;
        self.sandboxes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(id.clone());
        Ok((id, cfg))
    }

    async fn container(
        &self,
        sandbox: &(String, PodSandboxConfig),
        name: &str,
        command: &[String],
        start: bool,
    ) -> Result<String, String> {
        let cfg = self.container_config(name, command);
        let id = self
            .rt
            .create_container(&sandbox.0, &cfg, &sandbox.1)
            .await
            .map_err(err("create_container"))?;
        if start {
            self.rt
                .start_container(&id)
                .await
                .map_err(err("start_container"))?;
        }
        Ok(id)
    }

    async fn state(&self, id: &str) -> Result<ContainerState, String> {
        Ok(self
            .rt
            .container_status(id)
            .await
            .map_err(err("container_status"))?
            .state)
    }

    async fn wait_exited(&self, id: &str) -> CaseResult {
        let deadline = tokio::time::Instant::now() + self.params.timeout;
        loop {
            if self.state(id).await? == ContainerState::Exited {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(format!(
                    "container did not exit within {:?}",
                    self.params.timeout
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn cleanup(&self) {
        let ids = std::mem::take(&mut *self.sandboxes.lock().unwrap_or_else(|p| p.into_inner()));
        for id in ids {
            let _ = self.rt.stop_pod_sandbox(&id).await;
            let _ = self.rt.remove_pod_sandbox(&id).await;
        }
    }
}

async fn version_and_status(c: &Ctx<'_>) -> CaseResult {
    let v = c.rt.version().await.map_err(err("version"))?;
    ensure!(!v.runtime_name.is_empty(), "empty runtime name");
    ensure!(
        v.runtime_api_version == "v1",
        "runtime_api_version {:?}",
        v.runtime_api_version
    );
    let s = c.rt.status().await.map_err(err("status"))?;
    ensure!(s.runtime_ready, "runtime not ready: {}", s.message);
    ensure!(
        s.network_ready || !s.message.is_empty(),
        "network not ready without a message"
    );
    Ok(())
}

async fn ids_are_unique(c: &Ctx<'_>) -> CaseResult {
    let mut ids = HashSet::new();
    for p in 0..3 {
        let sb = c.sandbox(&format!("uniq{p}")).await?;
        ensure!(ids.insert(sb.0.clone()), "sandbox id {} reused", sb.0);
        for k in 0..3 {
            let id = c
                .container(&sb, &format!("c{k}"), &c.params.forever, false)
                .await?;
            ensure!(ids.insert(id.clone()), "container id {id} reused");
        }
    }
    // Removed ids are not handed out again.
    let sb = c.sandbox("uniq-again").await?;
    let first = c.container(&sb, "c", &c.params.forever, false).await?;
    c.rt.remove_container(&first)
        .await
        .map_err(err("remove_container"))?;
    let second = c.container(&sb, "c", &c.params.forever, false).await?;
    ensure!(first != second, "container id {first} reused after removal");
    Ok(())
}

async fn labels_and_annotations_are_preserved(c: &Ctx<'_>) -> CaseResult {
    let sb = c.sandbox("labels").await?;
    let st =
        c.rt.pod_sandbox_status(&sb.0)
            .await
            .map_err(err("pod_sandbox_status"))?;
    ensure!(
        st.labels == sb.1.labels,
        "sandbox status labels {:?}",
        st.labels
    );
    ensure!(
        st.annotations == sb.1.annotations,
        "sandbox status annotations {:?}",
        st.annotations
    );
    ensure!(
        st.metadata == sb.1.metadata,
        "sandbox metadata {:?}",
        st.metadata
    );
    let listed =
        c.rt.list_pod_sandboxes(&SandboxFilter {
            id: Some(sb.0.clone()),
            ..Default::default()
        })
        .await
        .map_err(err("list_pod_sandboxes"))?;
    ensure!(listed.len() == 1, "listed {} sandboxes by id", listed.len());
    ensure!(listed[0].labels == sb.1.labels, "listed sandbox labels");
    ensure!(
        listed[0].annotations == sb.1.annotations,
        "listed sandbox annotations"
    );
    let cfg = c.container_config("app", &c.params.forever);
    let id = c.container(&sb, "app", &c.params.forever, false).await?;
    let cs =
        c.rt.container_status(&id)
            .await
            .map_err(err("container_status"))?;
    ensure!(
        cs.labels == cfg.labels,
        "container status labels {:?}",
        cs.labels
    );
    ensure!(
        cs.annotations == cfg.annotations,
        "container status annotations {:?}",
        cs.annotations
    );
    ensure!(
        cs.name == "app" && cs.sandbox_id == sb.0,
        "container identity"
    );
    let listed =
        c.rt.list_containers(&ContainerFilter {
            id: Some(id.clone()),
            ..Default::default()
        })
        .await
        .map_err(err("list_containers"))?;
    ensure!(
        listed.len() == 1,
        "listed {} containers by id",
        listed.len()
    );
    ensure!(listed[0].labels == cfg.labels, "listed container labels");
    ensure!(
        listed[0].annotations == cfg.annotations,
        "listed container annotations"
    );
    Ok(())
}

async fn unknown_ids_are_not_found(c: &Ctx<'_>) -> CaseResult {
    let bogus = "0000000000000000000000000000000000000000000000000000000000000000";
    match c.rt.pod_sandbox_status(bogus).await {
        Err(Error::NotFound(_)) => {}
        other => return Err(format!("pod_sandbox_status(unknown) = {other:?}")),
    }
    match c.rt.container_status(bogus).await {
        Err(Error::NotFound(_)) => {}
        other => return Err(format!("container_status(unknown) = {other:?}")),
    }
    // Idempotent calls on unknown ids succeed.
    c.rt.stop_container(bogus, Duration::from_secs(1))
        .await
        .map_err(err("stop_container(unknown)"))?;
    c.rt.remove_container(bogus)
        .await
        .map_err(err("remove_container(unknown)"))?;
    c.rt.stop_pod_sandbox(bogus)
        .await
        .map_err(err("stop_pod_sandbox(unknown)"))?;
    c.rt.remove_pod_sandbox(bogus)
        .await
        .map_err(err("remove_pod_sandbox(unknown)"))?;
    Ok(())
}

async fn absent_image_is_reported(c: &Ctx<'_>) -> CaseResult {
    let Some(absent) = c.params.absent_image.as_deref() else {
        return Ok(());
    };
    match c.rt.image_status(absent).await {
        Ok(None) => {}
        other => return Err(format!("image_status(absent) = {other:?}")),
    }
    let present =
        c.rt.image_status(&c.params.image)
            .await
            .map_err(err("image_status"))?;
    ensure!(present.is_some(), "image {:?} not present", c.params.image);
    let sb = c.sandbox("noimage").await?;
    let mut cfg = c.container_config("app", &c.params.forever);
    cfg.image = absent.into();
    match c.rt.create_container(&sb.0, &cfg, &sb.1).await {
        Err(Error::ImageNotPresent(_)) => Ok(()),
        other => Err(format!("create_container(absent image) = {other:?}")),
    }
}

async fn states_only_go_forward(c: &Ctx<'_>) -> CaseResult {
    let sb = c.sandbox("states").await?;
    let id = c.container(&sb, "app", &c.params.forever, false).await?;
    let st =
        c.rt.container_status(&id)
            .await
            .map_err(err("container_status"))?;
    ensure!(
        st.state == ContainerState::Created,
        "new container is {:?}",
        st.state
    );
    ensure!(
        st.started_at.is_none() && st.exit_code.is_none(),
        "created container has start/exit"
    );
    c.rt.start_container(&id)
        .await
        .map_err(err("start_container"))?;
    let st =
        c.rt.container_status(&id)
            .await
            .map_err(err("container_status"))?;
    ensure!(
        st.state == ContainerState::Running,
        "started container is {:?}",
        st.state
    );
    ensure!(
        st.started_at.is_some(),
        "running container without started_at"
    );
    ensure!(
        st.finished_at.is_none(),
        "running container with finished_at"
    );
    c.rt.stop_container(&id, Duration::from_secs(10))
        .await
        .map_err(err("stop_container"))?;
    let st =
        c.rt.container_status(&id)
            .await
            .map_err(err("container_status"))?;
    ensure!(
        st.state == ContainerState::Exited,
        "stopped container is {:?}",
        st.state
    );
    ensure!(st.exit_code.is_some(), "exited container without exit code");
    ensure!(
        st.finished_at >= st.started_at,
        "finished before it started"
    );
    // Starting an exited container again is refused; it stays Exited.
    ensure!(
        c.rt.start_container(&id).await.is_err(),
        "an exited container was started again"
    );
    ensure!(
        c.state(&id).await? == ContainerState::Exited,
        "state went backwards after a second start"
    );
    let sst =
        c.rt.pod_sandbox_status(&sb.0)
            .await
            .map_err(err("pod_sandbox_status"))?;
    ensure!(sst.state == SandboxState::Ready, "sandbox {:?}", sst.state);
    c.rt.stop_pod_sandbox(&sb.0)
        .await
        .map_err(err("stop_pod_sandbox"))?;
    let sst =
        c.rt.pod_sandbox_status(&sb.0)
            .await
            .map_err(err("pod_sandbox_status"))?;
    ensure!(
        sst.state == SandboxState::NotReady,
        "stopped sandbox {:?}",
        sst.state
    );
    Ok(())
}

async fn exit_codes_and_reasons(c: &Ctx<'_>) -> CaseResult {
    let sb = c.sandbox("exits").await?;
    let three = c
        .container(&sb, "three", &c.params.exit_three, true)
        .await?;
    let zero = c.container(&sb, "zero", &c.params.exit_zero, true).await?;
    c.wait_exited(&three).await?;
    c.wait_exited(&zero).await?;
    let st =
        c.rt.container_status(&three)
            .await
            .map_err(err("container_status"))?;
    ensure!(
        st.exit_code == Some(3),
        "exit code {:?}, want 3",
        st.exit_code
    );
    ensure!(st.reason == "Error", "reason {:?}, want Error", st.reason);
    ensure!(
        st.finished_at.is_some() && st.finished_at >= st.started_at,
        "finished_at {:?} started_at {:?}",
        st.finished_at,
        st.started_at
    );
    let st =
        c.rt.container_status(&zero)
            .await
            .map_err(err("container_status"))?;
    ensure!(
        st.exit_code == Some(0),
        "exit code {:?}, want 0",
        st.exit_code
    );
    ensure!(
        st.reason == "Completed",
        "reason {:?}, want Completed",
        st.reason
    );
    Ok(())
}

async fn stop_kills_after_grace(c: &Ctx<'_>) -> CaseResult {
    let sb = c.sandbox("grace").await?;
    let stubborn = c
        .container(&sb, "stubborn", &c.params.ignores_sigterm, true)
        .await?;
    let polite = c.container(&sb, "polite", &c.params.forever, true).await?;
    // Give real processes a moment to install their signal handlers.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let grace = c.params.grace;
    let t0 = tokio::time::Instant::now();
    c.rt.stop_container(&stubborn, grace)
        .await
        .map_err(err("stop_container"))?;
    let took = t0.elapsed();
    ensure!(
        took + Duration::from_millis(50) >= grace,
        "a SIGTERM-ignoring container stopped after {took:?}, before the grace period {grace:?}"
    );
    ensure!(
        took <= grace + Duration::from_secs(10),
        "stop took {took:?} with grace {grace:?}"
    );
    let st =
        c.rt.container_status(&stubborn)
            .await
            .map_err(err("container_status"))?;
    ensure!(
        st.state == ContainerState::Exited,
        "after stop: {:?}",
        st.state
    );
    ensure!(
        st.exit_code == Some(137),
        "killed container exit code {:?}, want 137",
        st.exit_code
    );
    let t0 = tokio::time::Instant::now();
    c.rt.stop_container(&polite, Duration::from_secs(30))
        .await
        .map_err(err("stop_container"))?;
    ensure!(
        t0.elapsed() < Duration::from_secs(10),
        "a container exiting on SIGTERM took {:?} to stop",
        t0.elapsed()
    );
    ensure!(
        c.state(&polite).await? == ContainerState::Exited,
        "polite container not exited"
    );
    Ok(())
}

async fn stop_and_remove_are_idempotent(c: &Ctx<'_>) -> CaseResult {
    let sb = c.sandbox("idem").await?;
    let id = c.container(&sb, "app", &c.params.forever, true).await?;
    for _ in 0..2 {
        c.rt.stop_container(&id, Duration::from_secs(5))
            .await
            .map_err(err("stop_container"))?;
    }
    for _ in 0..2 {
        c.rt.remove_container(&id)
            .await
            .map_err(err("remove_container"))?;
    }
    match c.rt.container_status(&id).await {
        Err(Error::NotFound(_)) => {}
        other => return Err(format!("status of a removed container = {other:?}")),
    }
    // Removing a running container kills it first.
    let running = c.container(&sb, "running", &c.params.forever, true).await?;
    c.rt.remove_container(&running)
        .await
        .map_err(err("remove_container(running)"))?;
    ensure!(
        c.rt.container_status(&running).await.is_err(),
        "a removed running container still has a status"
    );
    for _ in 0..2 {
        c.rt.stop_pod_sandbox(&sb.0)
            .await
            .map_err(err("stop_pod_sandbox"))?;
    }
    for _ in 0..2 {
        c.rt.remove_pod_sandbox(&sb.0)
            .await
            .map_err(err("remove_pod_sandbox"))?;
    }
    match c.rt.pod_sandbox_status(&sb.0).await {
        Err(Error::NotFound(_)) => Ok(()),
        other => Err(format!("status of a removed sandbox = {other:?}")),
    }
}

async fn list_filters(c: &Ctx<'_>) -> CaseResult {
    let a = c.sandbox("lista").await?;
    let b = c.sandbox("listb").await?;
    let a1 = c.container(&a, "one", &c.params.forever, true).await?;
    let a2 = c.container(&a, "two", &c.params.forever, false).await?;
    let b1 = c.container(&b, "one", &c.params.forever, true).await?;
    let mine = c.labels();
    let ids = |v: Vec<crate::runtime::Container>| -> HashSet<String> {
        v.into_iter().map(|c| c.id).collect()
    };
    let all =
        c.rt.list_containers(&ContainerFilter {
            labels: mine.clone(),
            ..Default::default()
        })
        .await
        .map_err(err("list_containers"))?;
    let want: HashSet<String> = [a1.clone(), a2.clone(), b1.clone()].into();
    ensure!(ids(all) == want, "list by run label");
    let in_a =
        c.rt.list_containers(&ContainerFilter {
            sandbox_id: Some(a.0.clone()),
            ..Default::default()
        })
        .await
        .map_err(err("list_containers"))?;
    ensure!(
        ids(in_a) == [a1.clone(), a2.clone()].into(),
        "list by sandbox"
    );
    let running =
        c.rt.list_containers(&ContainerFilter {
            state: Some(ContainerState::Running),
            labels: mine.clone(),
            ..Default::default()
        })
        .await
        .map_err(err("list_containers"))?;
    ensure!(
        ids(running) == [a1.clone(), b1.clone()].into(),
        "list by state Running"
    );
    let created =
        c.rt.list_containers(&ContainerFilter {
            state: Some(ContainerState::Created),
            labels: mine.clone(),
            ..Default::default()
        })
        .await
        .map_err(err("list_containers"))?;
    ensure!(ids(created) == [a2.clone()].into(), "list by state Created");
    let mut by_name = mine.clone();
    by_name.insert("io.kubernetes.container.name".into(), "one".into());
    let named =
        c.rt.list_containers(&ContainerFilter {
            labels: by_name,
            ..Default::default()
        })
        .await
        .map_err(err("list_containers"))?;
    ensure!(ids(named) == [a1.clone(), b1].into(), "list by two labels");
    let one =
        c.rt.list_containers(&ContainerFilter {
            id: Some(a2.clone()),
            ..Default::default()
        })
        .await
        .map_err(err("list_containers"))?;
    ensure!(ids(one) == [a2].into(), "list by id");
    let mut other = Labels::new();
    other.insert(RUN_LABEL.into(), format!("{}-nobody", c.run));
    let none =
        c.rt.list_containers(&ContainerFilter {
            labels: other.clone(),
            ..Default::default()
        })
        .await
        .map_err(err("list_containers"))?;
    ensure!(
        none.is_empty(),
        "a foreign label matched {} containers",
        none.len()
    );
    // Sandboxes.
    let sbs =
        c.rt.list_pod_sandboxes(&SandboxFilter {
            labels: mine.clone(),
            ..Default::default()
        })
        .await
        .map_err(err("list_pod_sandboxes"))?;
    let sb_ids: HashSet<String> = sbs.into_iter().map(|s| s.id).collect();
    ensure!(
        sb_ids == [a.0.clone(), b.0.clone()].into(),
        "sandboxes by label"
    );
    c.rt.stop_pod_sandbox(&b.0)
        .await
        .map_err(err("stop_pod_sandbox"))?;
    let ready =
        c.rt.list_pod_sandboxes(&SandboxFilter {
            state: Some(SandboxState::Ready),
            labels: mine,
            ..Default::default()
        })
        .await
        .map_err(err("list_pod_sandboxes"))?;
    ensure!(
        ready.len() == 1 && ready[0].id == a.0,
        "ready sandboxes {:?}",
        ready.iter().map(|s| &s.id).collect::<Vec<_>>()
    );
    Ok(())
}

async fn sandbox_stop_stops_its_containers(c: &Ctx<'_>) -> CaseResult {
    let sb = c.sandbox("sbstop").await?;
    let other = c.sandbox("sbother").await?;
    let x = c.container(&sb, "x", &c.params.forever, true).await?;
    let y = c.container(&sb, "y", &c.params.forever, true).await?;
    let z = c.container(&other, "z", &c.params.forever, true).await?;
    c.rt.stop_pod_sandbox(&sb.0)
        .await
        .map_err(err("stop_pod_sandbox"))?;
    ensure!(
        c.state(&x).await? == ContainerState::Exited,
        "x not stopped"
    );
    ensure!(
        c.state(&y).await? == ContainerState::Exited,
        "y not stopped"
    );
    ensure!(
        c.state(&z).await? == ContainerState::Running,
        "a container of another sandbox was stopped"
    );
    c.rt.remove_pod_sandbox(&sb.0)
        .await
        .map_err(err("remove_pod_sandbox"))?;
    ensure!(
        matches!(c.rt.container_status(&x).await, Err(Error::NotFound(_))),
        "removing a sandbox left its containers"
    );
    Ok(())
}

async fn start_failure_is_reported(c: &Ctx<'_>) -> CaseResult {
    let Some(cmd) = c.params.fails_to_start.clone() else {
        return Ok(());
    };
    let sb = c.sandbox("startfail").await?;
    let id = c.container(&sb, "bad", &cmd, false).await?;
    match c.rt.start_container(&id).await {
        Err(Error::StartFailed(_)) => {}
        other => return Err(format!("start_container(bad command) = {other:?}")),
    }
    let st =
        c.rt.container_status(&id)
            .await
            .map_err(err("container_status"))?;
    ensure!(
        st.state == ContainerState::Exited,
        "failed start left {:?}",
        st.state
    );
    ensure!(
        st.reason == "StartError",
        "reason {:?}, want StartError",
        st.reason
    );
    ensure!(st.exit_code.is_some(), "no exit code after a failed start");
    Ok(())
}

async fn exec_sync_collects_output(c: &Ctx<'_>) -> CaseResult {
    if !c.params.exec {
        return Ok(());
    }
    let sb = c.sandbox("exec").await?;
    let id = c.container(&sb, "app", &c.params.forever, true).await?;
    let cmd = vec!["echo".to_string(), "hello".to_string()];
    let out =
        c.rt.exec_sync(&id, &cmd, Duration::from_secs(10))
            .await
            .map_err(err("exec_sync"))?;
    ensure!(out.exit_code == 0, "echo exit code {}", out.exit_code);
    ensure!(
        out.stdout == b"hello\n",
        "echo printed {:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    c.rt.stop_container(&id, Duration::from_secs(5))
        .await
        .map_err(err("stop_container"))?;
    ensure!(
        c.rt.exec_sync(&id, &cmd, Duration::from_secs(5))
            .await
            .is_err(),
        "exec in an exited container succeeded"
    );
    Ok(())
}

async fn concurrent_calls(c: &Ctx<'_>) -> CaseResult {
    let pods = (0..8).map(|p| async move {
        let sb = c.sandbox(&format!("conc{p}")).await?;
        let containers = (0..3).map(|k| {
            let sb = &sb;
            async move {
                c.container(sb, &format!("c{k}"), &c.params.forever, true)
                    .await
            }
        });
        let ids = futures::future::join_all(containers).await;
        let mut out = vec![sb.0.clone()];
        for id in ids {
            out.push(id?);
        }
        Ok::<_, String>(out)
    });
    let results = futures::future::join_all(pods).await;
    let mut ids = HashSet::new();
    let mut containers = Vec::new();
    for r in results {
        let r = r?;
        for (i, id) in r.iter().enumerate() {
            ensure!(ids.insert(id.clone()), "id {id} handed out twice");
            if i > 0 {
                containers.push(id.clone());
            }
        }
    }
    let listed =
        c.rt.list_containers(&ContainerFilter {
            state: Some(ContainerState::Running),
            labels: c.labels(),
            ..Default::default()
        })
        .await
        .map_err(err("list_containers"))?;
    ensure!(
        listed.len() == containers.len(),
        "{} running of {}",
        listed.len(),
        containers.len()
    );
    let stops = containers
        .iter()
        .map(|id| c.rt.stop_container(id, Duration::from_secs(5)));
    for r in futures::future::join_all(stops).await {
        r.map_err(err("stop_container"))?;
    }
    for id in &containers {
        ensure!(
            c.state(id).await? == ContainerState::Exited,
            "{id} not exited after a concurrent stop"
        );
    }
    Ok(())
}

/// Runs one case with a fresh context and records its outcome.
macro_rules! case {
    ($rt:expr, $params:expr, $report:expr, $name:ident) => {{
        let ctx = Ctx::new($rt, $params);
        let result = $name(&ctx).await;
        ctx.cleanup().await;
        match result {
            Ok(()) => $report.passed.push(stringify!($name)),
            Err(why) => $report.failed.push((stringify!($name), why)),
        }
    }};
}

/// Runs every conformance case against `runtime` and reports the outcome.
pub async fn run_all(runtime: Arc<dyn Runtime>, params: &Params) -> Report {
    let rt: &dyn Runtime = &*runtime;
    let mut report = Report::default();
    case!(rt, params, report, version_and_status);
    case!(rt, params, report, ids_are_unique);
    case!(rt, params, report, labels_and_annotations_are_preserved);
    case!(rt, params, report, unknown_ids_are_not_found);
    if params.absent_image.is_some() {
        case!(rt, params, report, absent_image_is_reported);
    } else {
        report.skipped.push("absent_image_is_reported");
    }
    case!(rt, params, report, states_only_go_forward);
    case!(rt, params, report, exit_codes_and_reasons);
    case!(rt, params, report, stop_kills_after_grace);
    case!(rt, params, report, stop_and_remove_are_idempotent);
    case!(rt, params, report, list_filters);
    case!(rt, params, report, sandbox_stop_stops_its_containers);
    if params.fails_to_start.is_some() {
        case!(rt, params, report, start_failure_is_reported);
    } else {
        report.skipped.push("start_failure_is_reported");
    }
    if params.exec {
        case!(rt, params, report, exec_sync_collects_output);
    } else {
        report.skipped.push("exec_sync_collects_output");
    }
    case!(rt, params, report, concurrent_calls);
    report
}
