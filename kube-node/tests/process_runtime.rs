//! The process runtime with real processes: exit codes, stop with SIGTERM then SIGKILL, a
//! foreign process left alone, adoption by a new runtime over the same state directory, CRI
//! logs, start errors, exec, images and cgroup limits.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kube_node::runtime::process::{
    CgroupConfig, ImagePolicy, LocalImage, NetworkMode, ProcessConfig, ProcessRuntime, ShimMode,
};
use kube_node::runtime::{
    ContainerConfig, ContainerFilter, ContainerState, Error, ExecRequest, PodSandboxConfig,
    Resources, Runtime, SandboxMetadata,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Removes the test's cgroup parents when the test ends.
struct CgroupGuard {
    root: PathBuf,
    parent: PathBuf,
}

impl Drop for CgroupGuard {
    fn drop(&mut self) {
        for hierarchy in ["", "memory", "cpu", "cpuacct", "cpu,cpuacct"] {
            let dir = self.root.join(hierarchy).join(&self.parent);
            if let Ok(entries) = std::fs::read_dir(&dir) {
                for entry in entries.flatten() {
                    if entry.path().is_dir() {
                        let _ = std::fs::remove_dir(entry.path());
                    }
                }
            }
            let _ = std::fs::remove_dir(&dir);
        }
    }
}

struct Fixture {
    dir: tempfile::TempDir,
    config: ProcessConfig,
    _cgroups: CgroupGuard,
}

fn fixture(shim: bool) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ProcessConfig::new(dir.path().join("state"));
    config.shim = if shim {
        ShimMode::Path(env!("CARGO_BIN_EXE_kubox-shim").into())
    } else {
        ShimMode::InProcess
    };
    config.network.mode = NetworkMode::Host;
    let parent = PathBuf::from(format!(
        "kubox-test-{}-{}",
        std::process::id(),
        dir.path().file_name().unwrap().to_string_lossy()
    ));
    config.cgroups = CgroupConfig {
        parent: parent.clone(),
        ..Default::default()
    };
    let cgroups = CgroupGuard {
        root: config.cgroups.root.clone(),
        parent,
    };
    Fixture {
        dir,
        config,
        _cgroups: cgroups,
    }
}

fn sandbox_config(dir: &Path, name: &str) -> PodSandboxConfig {
    PodSandboxConfig {
        metadata: SandboxMetadata {
            name: name.into(),
            namespace: "default".into(),
            uid: format!("uid-{name}"),
            attempt: 0,
        },
        log_directory: dir.join("pods").join(name),
        ..Default::default()
    }
}

fn sh(name: &str, attempt: u32, script: &str) -> ContainerConfig {
    ContainerConfig {
        name: name.into(),
        attempt,
        image: "busybox".into(),
        command: vec!["sh".into(), "-c".into(), script.into()],
        log_path: format!("{name}/{attempt}.log").into(),
        ..Default::default()
    }
}

async fn wait_exited(runtime: &ProcessRuntime, id: &str, within: Duration) -> i32 {
    let deadline = Instant::now() + within;
    loop {
        let status = runtime.container_status(id).await.unwrap();
        if status.state == ContainerState::Exited {
            return status
                .exit_code
                .expect("an exited container has an exit code");
        }
        assert!(
            Instant::now() < deadline,
            "container {id} did not exit in {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn run(
    runtime: &ProcessRuntime,
    sandbox_id: &str,
    sandbox: &PodSandboxConfig,
    config: &ContainerConfig,
) -> String {
    let id = runtime
        .create_container(sandbox_id, config, sandbox)
        .await
        .unwrap();
    runtime.start_container(&id).await.unwrap();
    id
}

#[tokio::test]
async fn crash_loop_reports_every_exit_code() {
    let f = fixture(true);
    let runtime = ProcessRuntime::new(f.config.clone()).await.unwrap();
    assert!(runtime.shim().is_some());
    let sandbox = sandbox_config(f.dir.path(), "crash");
    let sandbox_id = runtime.run_pod_sandbox(&sandbox).await.unwrap();
    let mut ids = Vec::new();
    for attempt in 0..3 {
        let id = run(
            &runtime,
            &sandbox_id,
            &sandbox,
            &sh("app", attempt, "exit 3"),
        )
        .await;
        assert_eq!(wait_exited(&runtime, &id, Duration::from_secs(10)).await, 3);
        let status = runtime.container_status(&id).await.unwrap();
        assert_eq!(status.reason, "Error");
        assert_eq!(status.attempt, attempt);
        assert!(status.started_at.is_some() && status.finished_at.is_some());
        assert!(status.finished_at >= status.started_at);
        ids.push(id);
    }
    let ok = run(&runtime, &sandbox_id, &sandbox, &sh("ok", 0, "true")).await;
    assert_eq!(wait_exited(&runtime, &ok, Duration::from_secs(10)).await, 0);
    assert_eq!(
        runtime.container_status(&ok).await.unwrap().reason,
        "Completed"
    );
    let listed = runtime
        .list_containers(&ContainerFilter {
            sandbox_id: Some(sandbox_id.clone()),
            state: Some(ContainerState::Exited),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.len(), 4);
    runtime.remove_pod_sandbox(&sandbox_id).await.unwrap();
    assert!(runtime
        .list_containers(&Default::default())
        .await
        .unwrap()
        .is_empty());

    // remove_all clears everything, running or not.
    let sandbox_id = runtime.run_pod_sandbox(&sandbox).await.unwrap();
    let running = run(&runtime, &sandbox_id, &sandbox, &sh("app", 0, "sleep 1000")).await;
    let pid = runtime.container_status(&running).await.unwrap();
    assert_eq!(pid.state, ContainerState::Running);
    runtime.remove_all().await.unwrap();
    assert!(runtime
        .list_containers(&Default::default())
        .await
        .unwrap()
        .is_empty());
    assert!(runtime
        .list_pod_sandboxes(&Default::default())
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn stop_honours_sigterm_and_kills_after_the_grace_period() {
    let f = fixture(true);
    let runtime = ProcessRuntime::new(f.config.clone()).await.unwrap();
    let sandbox = sandbox_config(f.dir.path(), "stop");
    let sandbox_id = runtime.run_pod_sandbox(&sandbox).await.unwrap();

    // A process that exits on SIGTERM: stop returns quickly with 143.
    let polite = run(
        &runtime,
        &sandbox_id,
        &sandbox,
        &sh("polite", 0, "sleep 1000"),
    )
    .await;
    let start = Instant::now();
    runtime
        .stop_container(&polite, Duration::from_secs(20))
        .await
        .unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "SIGTERM was not honoured"
    );
    let status = runtime.container_status(&polite).await.unwrap();
    assert_eq!(status.state, ContainerState::Exited);
    assert_eq!(status.exit_code, Some(143));
    assert_eq!(status.reason, "Error");

    // A process that ignores SIGTERM: killed after the grace period, 137.
    let stubborn = sh(
        "stubborn",
        0,
        "trap 'echo got TERM' TERM; echo ready; while true; do sleep 0.1; done",
    );
    let stubborn = run(&runtime, &sandbox_id, &sandbox, &stubborn).await;
    // Let the shell install its trap.
    let log = sandbox.log_directory.join("stubborn/0.log");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("ready")
    {
        assert!(Instant::now() < deadline, "the script never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let start = Instant::now();
    runtime
        .stop_container(&stubborn, Duration::from_millis(700))
        .await
        .unwrap();
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(700),
        "killed before the grace period: {took:?}"
    );
    assert!(took < Duration::from_secs(5), "stop took {took:?}");
    let status = runtime.container_status(&stubborn).await.unwrap();
    assert_eq!(status.exit_code, Some(137));
    assert!(std::fs::read_to_string(&log)
        .unwrap()
        .contains("stdout F got TERM"));

    // Idempotent.
    runtime
        .stop_container(&stubborn, Duration::ZERO)
        .await
        .unwrap();
    runtime.remove_container(&stubborn).await.unwrap();
    runtime.remove_container(&stubborn).await.unwrap();
    assert!(matches!(
        runtime.container_status(&stubborn).await,
        Err(Error::NotFound(_))
    ));
}

#[tokio::test]
async fn a_foreign_process_is_left_alone() {
    let f = fixture(true);
    let mut foreign = std::process::Command::new("sleep")
        .arg("1000")
        .process_group(0)
        .spawn()
        .unwrap();
    let runtime = ProcessRuntime::new(f.config.clone()).await.unwrap();
    let sandbox = sandbox_config(f.dir.path(), "own");
    let sandbox_id = runtime.run_pod_sandbox(&sandbox).await.unwrap();
    let own = run(&runtime, &sandbox_id, &sandbox, &sh("app", 0, "sleep 1000")).await;
    let listed = runtime.list_containers(&Default::default()).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, own);
    runtime.remove_pod_sandbox(&sandbox_id).await.unwrap();
    assert!(runtime
        .list_pod_sandboxes(&Default::default())
        .await
        .unwrap()
        .is_empty());
    // The foreign process still runs.
    assert!(
        foreign.try_wait().unwrap().is_none(),
        "the foreign process was touched"
    );
    foreign.kill().unwrap();
    foreign.wait().unwrap();
}

use std::os::unix::process::CommandExt;

#[tokio::test]
async fn a_new_runtime_adopts_containers_and_keeps_exit_codes() {
    let f = fixture(true);
    let runtime = ProcessRuntime::new(f.config.clone()).await.unwrap();
    let sandbox = sandbox_config(f.dir.path(), "adopt");
    let sandbox_id = runtime.run_pod_sandbox(&sandbox).await.unwrap();
    let long = run(
        &runtime,
        &sandbox_id,
        &sandbox,
        &sh("long", 0, "sleep 1000"),
    )
    .await;
    let short = run(
        &runtime,
        &sandbox_id,
        &sandbox,
        &sh("short", 0, "read _ </dev/null; sleep 0.5; exit 7"),
    )
    .await;
    let exited = run(&runtime, &sandbox_id, &sandbox, &sh("done", 0, "exit 4")).await;
    assert_eq!(
        wait_exited(&runtime, &exited, Duration::from_secs(10)).await,
        4
    );
    drop(runtime);

    // `short` exits while no runtime is watching.
    tokio::time::sleep(Duration::from_millis(900)).await;
    let runtime = ProcessRuntime::new(f.config.clone()).await.unwrap();
    let listed = runtime.list_containers(&Default::default()).await.unwrap();
    assert_eq!(listed.len(), 3, "no duplicates, nothing lost: {listed:?}");
    assert_eq!(
        runtime
            .list_pod_sandboxes(&Default::default())
            .await
            .unwrap()
            .len(),
        1
    );
    let status = runtime.container_status(&short).await.unwrap();
    assert_eq!(status.state, ContainerState::Exited);
    assert_eq!(status.exit_code, Some(7));
    assert_eq!(
        runtime.container_status(&exited).await.unwrap().exit_code,
        Some(4)
    );
    assert_eq!(
        runtime.container_status(&long).await.unwrap().state,
        ContainerState::Running
    );
    // The adopted container is still under control: stop it and see its exit.
    runtime
        .stop_container(&long, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(
        runtime.container_status(&long).await.unwrap().exit_code,
        Some(143)
    );
    // And an adopted container's exit is noticed without stopping it.
    let later = run(
        &runtime,
        &sandbox_id,
        &sandbox,
        &sh("later", 0, "sleep 0.3; exit 9"),
    )
    .await;
    drop(runtime);
    let runtime = ProcessRuntime::new(f.config.clone()).await.unwrap();
    assert_eq!(
        wait_exited(&runtime, &later, Duration::from_secs(10)).await,
        9
    );
    runtime.remove_pod_sandbox(&sandbox_id).await.unwrap();
}

#[tokio::test]
async fn logs_are_written_in_cri_format() {
    let f = fixture(true);
    let runtime = ProcessRuntime::new(f.config.clone()).await.unwrap();
    let sandbox = sandbox_config(f.dir.path(), "logs");
    let sandbox_id = runtime.run_pod_sandbox(&sandbox).await.unwrap();
    let long_line = "x".repeat(20_000);
    let script = format!("echo hello; echo oops >&2; printf '{long_line}\\n'; printf 'no newline'");
    let id = run(&runtime, &sandbox_id, &sandbox, &sh("app", 0, &script)).await;
    assert_eq!(wait_exited(&runtime, &id, Duration::from_secs(10)).await, 0);
    let status = runtime.container_status(&id).await.unwrap();
    assert_eq!(status.log_path, sandbox.log_directory.join("app/0.log"));
    let log = std::fs::read_to_string(&status.log_path).unwrap();
    let records: Vec<(String, String, String, String)> = log
        .lines()
        .map(|line| {
            let mut parts = line.splitn(4, ' ');
            let time = parts.next().unwrap().to_string();
            let stream = parts.next().unwrap().to_string();
            let tag = parts.next().unwrap().to_string();
            let content = parts.next().unwrap_or("").to_string();
            time.parse::<jiff::Timestamp>()
                .unwrap_or_else(|e| panic!("bad timestamp {time:?}: {e}"));
            (time, stream, tag, content)
        })
        .collect();
    let find = |content: &str| {
        records
            .iter()
            .find(|r| r.3 == content)
            .unwrap_or_else(|| panic!("no record {content:?} in {log}"))
    };
    assert_eq!(
        (find("hello").1.as_str(), find("hello").2.as_str()),
        ("stdout", "F")
    );
    assert_eq!(
        (find("oops").1.as_str(), find("oops").2.as_str()),
        ("stderr", "F")
    );
    // Output not terminated by a newline when the stream ends is a partial record.
    assert_eq!(find("no newline").2, "P");
    let long_parts: Vec<_> = records.iter().filter(|r| r.3.starts_with("xxx")).collect();
    assert_eq!(long_parts.len(), 2);
    assert_eq!(long_parts[0].2, "P");
    assert_eq!(long_parts[1].2, "F");
    assert_eq!(long_parts[0].3.len() + long_parts[1].3.len(), 20_000);
}

#[tokio::test]
async fn start_errors_and_bad_configs() {
    for shim in [true, false] {
        let f = fixture(shim);
        let mut config = f.config.clone();
        config.image_policy = ImagePolicy::Listed;
        config
            .images
            .insert("busybox".into(), LocalImage::default());
        config.images.insert(
            "greeter".into(),
            LocalImage {
                entrypoint: vec!["sh".into(), "-c".into()],
                cmd: vec!["echo hi from $NAME".into()],
                env: vec![("NAME".into(), "image".into())],
                ..Default::default()
            },
        );
        let runtime = ProcessRuntime::new(config).await.unwrap();
        let sandbox = sandbox_config(f.dir.path(), "bad");
        let sandbox_id = runtime.run_pod_sandbox(&sandbox).await.unwrap();

        let missing = ContainerConfig {
            command: vec!["/no/such/binary".into()],
            ..sh("missing", 0, "")
        };
        let id = runtime
            .create_container(&sandbox_id, &missing, &sandbox)
            .await
            .unwrap();
        let err = runtime.start_container(&id).await.unwrap_err();
        assert!(matches!(err, Error::StartFailed(_)), "{err:?}");
        let status = runtime.container_status(&id).await.unwrap();
        assert_eq!(status.state, ContainerState::Exited);
        assert_eq!(status.reason, "StartError");
        assert_eq!(status.exit_code, Some(128));
        assert!(
            status.message.contains("/no/such/binary"),
            "{}",
            status.message
        );

        let no_command = ContainerConfig {
            command: vec![],
            ..sh("nocmd", 0, "")
        };
        let err = runtime
            .create_container(&sandbox_id, &no_command, &sandbox)
            .await
            .unwrap_err();
        assert_eq!(
            err,
            Error::InvalidArgument(
                "the process runtime needs a command: image busybox has no entrypoint known here"
                    .into()
            )
        );

        // The image's entrypoint, cmd and env apply when the container sets none.
        let greeter = ContainerConfig {
            image: "greeter".into(),
            command: vec![],
            ..sh("greeter", 0, "")
        };
        let id = run(&runtime, &sandbox_id, &sandbox, &greeter).await;
        assert_eq!(wait_exited(&runtime, &id, Duration::from_secs(10)).await, 0);
        let log = std::fs::read_to_string(sandbox.log_directory.join("greeter/0.log")).unwrap();
        assert!(log.contains("stdout F hi from image"), "{log}");

        let unknown = ContainerConfig {
            image: "nginx:1.25".into(),
            ..sh("unknown", 0, "true")
        };
        assert_eq!(
            runtime
                .create_container(&sandbox_id, &unknown, &sandbox)
                .await
                .unwrap_err(),
            Error::ImageNotPresent("nginx:1.25".into())
        );
        assert!(runtime.image_status("nginx:1.25").await.unwrap().is_none());
        assert!(matches!(
            runtime.pull_image("nginx:1.25").await,
            Err(Error::PullFailed { .. })
        ));
        let image = runtime.image_status("busybox").await.unwrap().unwrap();
        assert_eq!(image.repo_tags, vec!["busybox".to_string()]);
        assert_eq!(runtime.pull_image("busybox").await.unwrap(), image.id);
        runtime.remove_image("busybox").await.unwrap();
        assert!(runtime.image_status("busybox").await.unwrap().is_none());
        runtime.pull_image("busybox").await.unwrap();
        assert!(runtime.image_status(&image.id).await.unwrap().is_some());
        assert_eq!(runtime.list_images().await.unwrap().len(), 2);
        runtime.remove_pod_sandbox(&sandbox_id).await.unwrap();
    }
}

#[tokio::test]
async fn exec_runs_in_the_container_environment() {
    let f = fixture(true);
    let runtime = ProcessRuntime::new(f.config.clone()).await.unwrap();
    let sandbox = sandbox_config(f.dir.path(), "exec");
    let sandbox_id = runtime.run_pod_sandbox(&sandbox).await.unwrap();
    let workdir = f.dir.path().join("work");
    std::fs::create_dir_all(&workdir).unwrap();
    let config = ContainerConfig {
        env: vec![("GREETING".into(), "hello".into())],
        working_dir: Some(workdir.display().to_string()),
        ..sh("app", 0, "sleep 1000")
    };
    let id = run(&runtime, &sandbox_id, &sandbox, &config).await;
    let out = runtime
        .exec_sync(
            &id,
            &[
                "sh".into(),
                "-c".into(),
                "echo $GREETING; pwd; echo err >&2; exit 5".into(),
            ],
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("hello\n{}\n", workdir.display())
    );
    assert_eq!(out.stderr, b"err\n");
    assert_eq!(out.exit_code, 5);
    let err = runtime
        .exec_sync(
            &id,
            &["sleep".into(), "10".into()],
            Duration::from_millis(200),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::DeadlineExceeded(_)), "{err:?}");

    let mut session = runtime
        .exec(
            &id,
            &ExecRequest {
                cmd: vec![
                    "sh".into(),
                    "-c".into(),
                    "read line; echo got $line; exit 2".into(),
                ],
                stdin: true,
                stdout: true,
                stderr: true,
                tty: false,
            },
        )
        .await
        .unwrap();
    let mut stdin = session.stdin.take().unwrap();
    stdin.write_all(b"ping\n").await.unwrap();
    drop(stdin);
    let mut output = String::new();
    session
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut output)
        .await
        .unwrap();
    assert_eq!(output, "got ping\n");
    assert_eq!(session.exit.await.unwrap(), 2);

    // tty: stdout and stderr arrive on one stream.
    let mut session = runtime
        .exec(
            &id,
            &ExecRequest {
                cmd: vec!["sh".into(), "-c".into(), "echo out; echo err >&2".into()],
                stdin: false,
                stdout: true,
                stderr: true,
                tty: true,
            },
        )
        .await
        .unwrap();
    assert!(session.stderr.is_none());
    let mut output = String::new();
    session
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut output)
        .await
        .unwrap();
    assert!(
        output.contains("out\n") && output.contains("err\n"),
        "{output:?}"
    );
    assert_eq!(session.exit.await.unwrap(), 0);

    runtime.stop_container(&id, Duration::ZERO).await.unwrap();
    assert!(runtime
        .exec_sync(&id, &["true".into()], Duration::from_secs(1))
        .await
        .is_err());
    runtime.remove_pod_sandbox(&sandbox_id).await.unwrap();
}

#[tokio::test]
async fn cgroup_limits_stats_and_oom() {
    let f = fixture(true);
    let runtime = ProcessRuntime::new(f.config.clone()).await.unwrap();
    let sandbox = sandbox_config(f.dir.path(), "limits");
    let sandbox_id = runtime.run_pod_sandbox(&sandbox).await.unwrap();
    let config = ContainerConfig {
        resources: Resources {
            cpu_limit_millis: Some(500),
            memory_limit_bytes: Some(64 << 20),
            ..Default::default()
        },
        ..sh(
            "app",
            0,
            "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; sleep 1000",
        )
    };
    let id = run(&runtime, &sandbox_id, &sandbox, &config).await;
    let status = runtime.container_status(&id).await.unwrap();
    let writable = cgroups_writable();
    if writable {
        assert_eq!(status.message, "", "limits should be enforced here");
    } else {
        assert!(
            status.message.contains("not enforced"),
            "{}",
            status.message
        );
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stats = runtime.container_stats(&id).await.unwrap();
    assert!(stats.memory_working_set_bytes.unwrap_or(0) > 0, "{stats:?}");
    assert!(stats.cpu_usage_nanos.is_some(), "{stats:?}");
    runtime.stop_container(&id, Duration::ZERO).await.unwrap();

    if writable {
        // A process that outgrows its memory limit is OOM killed.
        let hog = ContainerConfig {
            resources: Resources {
                memory_limit_bytes: Some(32 << 20),
                ..Default::default()
            },
            command: vec![
                "python3".into(),
                "-c".into(),
                "x = []\nwhile True: x.append(bytearray(1 << 20))".into(),
            ],
            args: vec![],
            ..sh("hog", 0, "")
        };
        let id = run(&runtime, &sandbox_id, &sandbox, &hog).await;
        let code = wait_exited(&runtime, &id, Duration::from_secs(30)).await;
        let status = runtime.container_status(&id).await.unwrap();
        assert_eq!(status.reason, "OOMKilled", "exit {code}: {status:?}");
        assert_eq!(code, 137);
    }
    runtime.remove_pod_sandbox(&sandbox_id).await.unwrap();
}

/// Whether this machine lets root write cgroups (v2 with the memory controller, or v1).
fn cgroups_writable() -> bool {
    let root = Path::new("/sys/fs/cgroup");
    let v2 = std::fs::read_to_string(root.join("cgroup.controllers"))
        .is_ok_and(|c| c.split_whitespace().any(|c| c == "memory"));
    let v1 = root.join("memory/memory.limit_in_bytes").exists();
    rustix::process::geteuid().is_root() && (v2 || v1)
}
