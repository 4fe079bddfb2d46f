//! The CRI runtime against a real containerd (started per test by
//! `kube_node::runtime::cri::testing::Containerd`, with local images and no registry).
#![cfg(feature = "cri")]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kube_node::runtime::cri::testing::{Containerd, Options, BUSYBOX_IMAGE, PAUSE_IMAGE};
use kube_node::runtime::cri::CriRuntime;
use kube_node::runtime::{
    ContainerConfig, ContainerFilter, ContainerState, Error, ExecRequest, Labels, PodSandboxConfig,
    Runtime, SandboxFilter, SandboxMetadata, SandboxState,
};
use kube_node::testing::{run_all, Params};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn sh(script: &str) -> Vec<String> {
    vec!["sh".into(), "-c".into(), script.into()]
}

fn sandbox_config(containerd: &Containerd, name: &str, host_network: bool) -> PodSandboxConfig {
    let uid = format!("uid-{name}");
    let mut labels = Labels::new();
    labels.insert("io.kubernetes.pod.name".into(), name.into());
    labels.insert("io.kubox.node".into(), "cri-test".into());
    PodSandboxConfig {
        metadata: SandboxMetadata {
            name: name.into(),
            namespace: "default".into(),
            uid: uid.clone(),
            attempt: 0,
        },
        hostname: name.into(),
        log_directory: containerd.log_root().join(format!("default_{name}_{uid}")),
        host_network,
        labels,
        ..Default::default()
    }
}

fn container_config(name: &str, attempt: u32, command: Vec<String>) -> ContainerConfig {
    let mut labels = Labels::new();
    labels.insert("io.kubernetes.container.name".into(), name.into());
    ContainerConfig {
        name: name.into(),
        attempt,
        image: BUSYBOX_IMAGE.into(),
        command,
        env: vec![("GREETING".into(), "hello".into())],
        log_path: PathBuf::from(format!("{name}/{attempt}.log")),
        labels,
        ..Default::default()
    }
}

async fn wait_exited(rt: &CriRuntime, id: &str) {
    for _ in 0..400 {
        let st = rt.container_status(id).await.unwrap();
        if st.state == ContainerState::Exited {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("container {id} did not exit");
}

/// Polls a log file until it holds `want` (containerd writes it asynchronously).
async fn log_with(path: &std::path::Path, want: &str) -> String {
    for _ in 0..200 {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.contains(want) {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!(
        "{} never contained {want:?}: {:?}",
        path.display(),
        std::fs::read_to_string(path)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn containerd_passes_the_conformance_suite() {
    let containerd = Containerd::start().await.unwrap();
    let runtime = Arc::new(containerd.runtime().await.unwrap());
    let mut params = Params::posix(BUSYBOX_IMAGE);
    params.log_root = Some(containerd.log_root());
    params.fails_to_start = Some(vec!["/no/such/binary".into()]);
    // A container's pid 1 gets no default SIGTERM action: the command must trap it (as
    // real images' entrypoints do).
    params.forever = sh("trap 'exit 143' TERM; sleep 100000 & wait");
    let report = run_all(runtime.clone(), &params).await;
    report.assert_ok();
    assert!(report.skipped.is_empty(), "skipped: {:?}", report.skipped);
    // The suite cleaned up after itself.
    let left = runtime
        .list_containers(&ContainerFilter::default())
        .await
        .unwrap();
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_container_pod_with_logs_exec_restart_stop_and_remove() {
    let containerd = Containerd::start().await.unwrap();
    let rt = containerd.runtime().await.unwrap();

    let v = rt.version().await.unwrap();
    assert_eq!(v.runtime_name, "containerd");
    assert_eq!(v.runtime_api_version, "v1");
    let status = rt.status().await.unwrap();
    assert!(status.runtime_ready, "{status:?}");
    // No CNI config in host mode: the network is not ready, and says why.
    assert!(
        !status.network_ready && !status.message.is_empty(),
        "{status:?}"
    );
    let images = rt.list_images().await.unwrap();
    for want in [PAUSE_IMAGE, BUSYBOX_IMAGE] {
        assert!(
            images.iter().any(|i| i.repo_tags.iter().any(|t| t == want)),
            "{want} missing from {images:?}"
        );
    }
    // Pulling needs a registry, which is unreachable here.
    match rt.pull_image("localhost/absent:1.0").await {
        Err(Error::PullFailed { image, .. }) => assert_eq!(image, "localhost/absent:1.0"),
        other => panic!("pull_image = {other:?}"),
    }

    let sandbox = sandbox_config(&containerd, "web", true);
    let sb = rt.run_pod_sandbox(&sandbox).await.unwrap();
    let sb_status = rt.pod_sandbox_status(&sb).await.unwrap();
    assert_eq!(sb_status.state, SandboxState::Ready);
    assert!(sb_status.host_network);
    assert_eq!(sb_status.metadata, sandbox.metadata);
    assert_eq!(sb_status.labels, sandbox.labels);

    let app = container_config(
        "app",
        0,
        sh("echo $GREETING from app; echo oops >&2; exec sleep 100000"),
    );
    let app_id = rt.create_container(&sb, &app, &sandbox).await.unwrap();
    rt.start_container(&app_id).await.unwrap();
    let job = container_config("job", 0, sh("echo from job; exit 7"));
    let job_id = rt.create_container(&sb, &job, &sandbox).await.unwrap();
    rt.start_container(&job_id).await.unwrap();

    // Logs in CRI format in log_directory/log_path.
    let app_log = sandbox.log_directory.join("app/0.log");
    let text = log_with(&app_log, "oops").await;
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines
            .iter()
            .any(|l| l.ends_with(" stdout F hello from app")),
        "{text}"
    );
    assert!(
        lines.iter().any(|l| l.ends_with(" stderr F oops")),
        "{text}"
    );
    for line in &lines {
        let ts = line.split(' ').next().unwrap();
        ts.parse::<jiff::Timestamp>()
            .unwrap_or_else(|e| panic!("bad timestamp in {line:?}: {e}"));
    }

    // The job exits 7: Exited, reason Error, timestamps in order.
    wait_exited(&rt, &job_id).await;
    let st = rt.container_status(&job_id).await.unwrap();
    assert_eq!(st.exit_code, Some(7));
    assert_eq!(st.reason, "Error");
    assert_eq!(st.sandbox_id, sb);
    assert_eq!(st.name, "job");
    assert_eq!(st.labels, job.labels);
    let started = st.started_at.unwrap();
    let finished = st.finished_at.unwrap();
    // containerd records `startedAt` after its task-start call returns, so a process that
    // exits at once can show a finish a few milliseconds before its start (measured: 3.5 ms).
    assert!(
        st.created_at <= started && st.created_at <= finished,
        "{st:?}"
    );
    assert!(
        finished >= started - jiff::SignedDuration::from_secs(1),
        "{st:?}"
    );
    assert_eq!(st.log_path, sandbox.log_directory.join("job/0.log"));
    log_with(&st.log_path, "stdout F from job").await;

    // ExecSync, with exit codes.
    let out = rt
        .exec_sync(
            &app_id,
            &sh("echo $GREETING; echo e >&2; exit 4"),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    assert_eq!(out.stdout, b"hello\n");
    assert_eq!(out.stderr, b"e\n");
    assert_eq!(out.exit_code, 4);
    match rt
        .exec_sync(&app_id, &sh("sleep 30"), Duration::from_secs(1))
        .await
    {
        Err(Error::DeadlineExceeded(_)) => {}
        other => panic!("exec_sync past its timeout = {other:?}"),
    }

    // Interactive exec over the streaming server: stdin echoed back by cat.
    let mut session = rt
        .exec(
            &app_id,
            &ExecRequest {
                cmd: vec!["cat".into()],
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
    let mut stdout = session.stdout.take().unwrap();
    let mut buf = [0u8; 5];
    tokio::time::timeout(Duration::from_secs(10), stdout.read_exact(&mut buf))
        .await
        .expect("no echo from cat")
        .unwrap();
    assert_eq!(&buf, b"ping\n");
    drop(stdin);
    drop(session);
    let session = rt
        .exec(
            &app_id,
            &ExecRequest {
                cmd: sh("echo out; echo err >&2; exit 5"),
                stdin: false,
                stdout: true,
                stderr: true,
                tty: false,
            },
        )
        .await
        .unwrap();
    let mut out = String::new();
    let mut err = String::new();
    let (mut o, mut e) = (session.stdout.unwrap(), session.stderr.unwrap());
    let (r1, r2, code) = tokio::join!(
        o.read_to_string(&mut out),
        e.read_to_string(&mut err),
        session.exit
    );
    r1.unwrap();
    r2.unwrap();
    assert_eq!(
        (out.as_str(), err.as_str(), code),
        ("out\n", "err\n", Ok(5))
    );

    // Stats of a running container.
    let stats = rt.container_stats(&app_id).await.unwrap();
    assert!(stats.memory_working_set_bytes.is_some(), "{stats:?}");

    // Restart the job as the kubelet does: remove, create with attempt + 1, start.
    rt.remove_container(&job_id).await.unwrap();
    assert!(matches!(
        rt.container_status(&job_id).await,
        Err(Error::NotFound(_))
    ));
    let job1 = container_config("job", 1, sh("echo again; exit 0"));
    let job1_id = rt.create_container(&sb, &job1, &sandbox).await.unwrap();
    assert_ne!(job1_id, job_id);
    rt.start_container(&job1_id).await.unwrap();
    wait_exited(&rt, &job1_id).await;
    let st = rt.container_status(&job1_id).await.unwrap();
    assert_eq!(
        (st.attempt, st.exit_code, st.reason.as_str()),
        (1, Some(0), "Completed")
    );
    log_with(&sandbox.log_directory.join("job/1.log"), "stdout F again").await;

    // Listing with filters.
    let mine = rt
        .list_containers(&ContainerFilter {
            sandbox_id: Some(sb.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(mine.len(), 2, "{mine:?}");
    let running = rt
        .list_containers(&ContainerFilter {
            state: Some(ContainerState::Running),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        running.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        [app_id.as_str()]
    );
    let by_label = rt
        .list_pod_sandboxes(&SandboxFilter {
            labels: sandbox.labels.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_label.len(), 1);

    // Stop (the shell is pid 1 and exec'd sleep ignores SIGTERM: killed after the grace).
    rt.stop_container(&app_id, Duration::from_secs(1))
        .await
        .unwrap();
    let st = rt.container_status(&app_id).await.unwrap();
    assert_eq!(st.state, ContainerState::Exited);
    assert!(matches!(st.exit_code, Some(137) | Some(143)), "{st:?}");
    rt.stop_container(&app_id, Duration::from_secs(1))
        .await
        .unwrap();

    rt.stop_pod_sandbox(&sb).await.unwrap();
    assert_eq!(
        rt.pod_sandbox_status(&sb).await.unwrap().state,
        SandboxState::NotReady
    );
    rt.remove_pod_sandbox(&sb).await.unwrap();
    rt.remove_pod_sandbox(&sb).await.unwrap();
    assert!(matches!(
        rt.pod_sandbox_status(&sb).await,
        Err(Error::NotFound(_))
    ));
    assert!(rt
        .list_containers(&ContainerFilter::default())
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_network_sandboxes_get_their_own_ip() {
    let containerd = Containerd::start_with(Options {
        pod_network: true,
        ..Default::default()
    })
    .await
    .unwrap();
    let rt = containerd.runtime().await.unwrap();
    let status = rt.status().await.unwrap();
    assert!(status.runtime_ready && status.network_ready, "{status:?}");
    let prefix = containerd
        .pod_subnet()
        .unwrap()
        .trim_end_matches("0/24")
        .to_string();
    let mut ips = Vec::new();
    let mut sandboxes = Vec::new();
    for name in ["a", "b"] {
        let sandbox = sandbox_config(&containerd, name, false);
        let sb = rt.run_pod_sandbox(&sandbox).await.unwrap();
        let st = rt.pod_sandbox_status(&sb).await.unwrap();
        assert!(!st.host_network);
        let ip = st.ip.clone().unwrap();
        assert!(ip.starts_with(&prefix), "{ip} not in {prefix}0/24");
        let c = container_config("app", 0, vec!["sleep".into(), "100000".into()]);
        let id = rt.create_container(&sb, &c, &sandbox).await.unwrap();
        rt.start_container(&id).await.unwrap();
        // The container sees its pod's hostname and IP.
        let out = rt
            .exec_sync(
                &id,
                &sh("hostname; ip -4 addr show eth0"),
                Duration::from_secs(10),
            )
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(text.starts_with(&format!("{name}\n")), "{text}");
        assert!(text.contains(&format!("inet {ip}/")), "{text}");
        ips.push(ip);
        sandboxes.push(sb);
    }
    assert_ne!(ips[0], ips[1]);
    for sb in sandboxes {
        rt.stop_pod_sandbox(&sb).await.unwrap();
        rt.remove_pod_sandbox(&sb).await.unwrap();
    }
}
