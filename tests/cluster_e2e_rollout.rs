//! More of the whole cluster end to end with stock kubectl 1.33: a `Cluster` with three
//! process-runtime nodes and HTTPS, and
//!
//! - a crash-looping pod (`kubectl run` of a command that prints which run it is, then exits
//!   1): its restart count rises, `kubectl get pod` shows `CrashLoopBackOff`, `kubectl logs
//!   --previous` prints the run before the last one and `kubectl logs` the last one;
//! - a Deployment of two busybox `httpd` replicas with a readiness probe, whose container
//!   sets no command: the nodes' process runtimes know images `example.com/web:1` and `:2`
//!   (`NodeSpec::image`), whose entrypoints say which version serves. `kubectl set image` and
//!   `kubectl set env`, each followed by `kubectl rollout status` succeeding, give a new
//!   ReplicaSet and only new pods, carrying the new image or variable (in the pod spec, the
//!   container status, and the program's own output through `kubectl logs`);
//! - `kubectl get events` with the scheduler's, the kubelet's and the controllers' reasons
//!   (for the crash-looping pod alone through `--field-selector involvedObject.name=crash`);
//! - `kubectl delete namespace --wait`: afterwards the namespace is NotFound, nothing of it
//!   is left in the API and no pod sandbox is left on the nodes.

#[allow(dead_code)] // shared by several test crates; each uses a part
mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Instant;

use kubox::cluster::{Cluster, LocalImage, NodeSpec, PodNetwork, ProxyMode, ShimMode};
use kubox::core::api::apps_v1::ReplicaSet;
use kubox::core::api::core_v1::{Event, Pod};
use kubox::core::client::{Api, ListParams};
use support::cluster::{node_runtimes, run_then_shutdown, wait_no_sandboxes};
use support::kubectl::{ready_nodes, Kubectl};

const NS: &str = "rollout";

/// The pod spec of Deployment `web` (after its grace period): `httpd` on image
/// `example.com/web:1`, ready when it serves :8080.
const CONTAINERS: &str = r#"      containers:
      - name: httpd
        image: example.com/web:1
        readinessProbe:
          httpGet:
            path: /
            port: 8080
          periodSeconds: 1
"#;

/// `name image phase` of every pod of `web` not being deleted, from kubectl.
const PODS: &str = r#"jsonpath={range .items[?(@.metadata.labels.app=="web")]}{.metadata.name} {.spec.containers[0].image} {.status.containerStatuses[0].image} {.metadata.deletionTimestamp}{"\n"}{end}"#;

/// Pod names whose spec and status carry `image`, if every listed `web` pod does and none
/// is terminating.
fn all_on(out: &str, image: &str) -> Option<Vec<String>> {
    let mut names = Vec::new();
    for line in out.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split_whitespace().collect();
        // A terminating pod has a fourth field (its deletionTimestamp).
        if f.len() != 3 || f[1] != image || f[2] != image {
            return None;
        }
        names.push(f[0].to_string());
    }
    (!names.is_empty()).then_some(names)
}

/// Image `example.com/web:<version>` for the process runtime: its entrypoint writes an
/// index page, says which version serves (and `$GREETING`), and runs busybox `httpd` on 8080.
fn web_image(www: &Path, version: u32) -> LocalImage {
    let w = www.display();
    LocalImage {
        entrypoint: vec![
            "/bin/busybox".into(),
            "sh".into(),
            "-c".into(),
            format!(
                "mkdir -p {w}/$HOSTNAME && echo web v{version} $HOSTNAME > {w}/$HOSTNAME/index.html \
                 && echo serving $HOSTNAME version={version} greeting=${{GREETING:-none}} \
                 && exec /bin/busybox httpd -f -p 8080 -h {w}/$HOSTNAME"
            ),
        ],
        ..LocalImage::default()
    }
}

fn crash_script(counter: &Path) -> String {
    let f = counter.display();
    format!(
        "n=$(/bin/busybox cat {f} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {f}; \
         echo crash run $n; exit 1"
    )
}

/// The number in `crash run N`.
fn run_number(logs: &str) -> u32 {
    logs.trim()
        .strip_prefix("crash run ")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected logs: {logs:?}"))
}

/// `kubectl rollout status` of `web`, which must report the rollout done.
async fn rolled_out(k: &Kubectl) {
    let out = k
        .ok(&[
            "rollout",
            "status",
            "-n",
            NS,
            "deployment/web",
            "--timeout=50s",
        ])
        .await;
    assert!(
        out.contains("deployment \"web\" successfully rolled out"),
        "{out}"
    );
}

/// Waits (at most `secs` seconds) for the two `web` pods to run `image` and pass `also`; their
/// names.
async fn web_pods_on(
    k: &Kubectl,
    secs: u64,
    image: &str,
    also: impl Fn(&[String]) -> bool,
) -> Vec<String> {
    let out = k
        .until(secs, &["get", "pods", "-n", NS, "-o", PODS], |o| {
            all_on(o, image).is_some_and(|n| n.len() == 2 && also(&n))
        })
        .await;
    all_on(&out, image).unwrap()
}

/// Each of `pods` logs `serving <pod> version=<version> greeting=<greeting>`.
async fn serving(k: &Kubectl, pods: &[String], version: u32, greeting: &str) {
    for pod in pods {
        let logs = k
            .until(10, &["logs", "-n", NS, pod], |o| !o.is_empty())
            .await;
        assert_eq!(
            logs.trim(),
            format!("serving {pod} version={version} greeting={greeting}")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_loop_rollouts_events_and_namespace_deletion() {
    support::web::require_busybox();
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let www = tmp.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    let manifest = tmp.path().join("web.yaml");
    std::fs::write(&manifest, support::web::deployment(2, 5, CONTAINERS)).unwrap();
    let counter = tmp.path().join("crash-count");

    let mut builder = Cluster::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .data_dir(tmp.path().join("data"));
    for i in 1..=3 {
        builder = builder.node(
            NodeSpec::process(format!("node-{i}"))
                .image("example.com/web:1", web_image(&www, 1))
                .image("example.com/web:2", web_image(&www, 2)),
        );
    }
    let cluster = builder
        .shim(ShimMode::InProcess)
        .pod_network(PodNetwork {
            bridge_prefix: "kbxr".into(),
            cidr: "10.249.0.0/16".into(),
            ..PodNetwork::default()
        })
        .proxy(ProxyMode::None)
        .start()
        .await
        .unwrap();
    let up = started.elapsed();
    let home = tmp.path().join("home");
    let deleted_in = run_then_shutdown(cluster, |cluster| async move {
        let k = Kubectl::new(33, cluster.kubeconfig().unwrap(), &home);
        let client = cluster.client();
        k.until(30, &["get", "nodes"], |o| ready_nodes(o) == 3).await;
        let out = k.ok(&["create", "namespace", NS]).await;
        assert!(out.contains("namespace/rollout created"), "{out}");

        // A crash-looping pod, started first: its back-off runs while the rollouts do.
        let script = crash_script(&counter);
        let out = k
            .ok(&[
                "run",
                "crash",
                "-n",
                NS,
                "--image=busybox:1.36",
                "--restart=Always",
                // Not the default 30 s grace period: the namespace controller
                // re-checks a deleted namespace after half its pods' longest one.
                r#"--overrides={"apiVersion":"v1","spec":{"terminationGracePeriodSeconds":3}}"#,
                "--command",
                "--",
                "/bin/busybox",
                "sh",
                "-c",
                &script,
            ])
            .await;
        assert!(out.contains("pod/crash created"), "{out}");

        // The Deployment, rolled out.
        let out = k
            .ok(&["apply", "-n", NS, "-f", &manifest.display().to_string()])
            .await;
        assert!(out.contains("deployment.apps/web created"), "{out}");
        rolled_out(&k).await;
        let first = web_pods_on(&k, 20, "example.com/web:1", |_| true).await;
        serving(&k, &first, 1, "none").await;

        // kubectl set image → a new ReplicaSet, only new pods on the new image.
        let out = k
            .ok(&[
                "set",
                "image",
                "-n",
                NS,
                "deployment/web",
                "httpd=example.com/web:2",
            ])
            .await;
        assert!(out.contains("deployment.apps/web image updated"), "{out}");
        rolled_out(&k).await;
        let second = web_pods_on(&k, 30, "example.com/web:2", |_| true).await;
        let (first, second): (BTreeSet<_>, BTreeSet<_>) =
            (first.into_iter().collect(), second.into_iter().collect());
        assert!(first.is_disjoint(&second), "{first:?} {second:?}");
        // The new image's entrypoint runs.
        serving(&k, &Vec::from_iter(second.iter().cloned()), 2, "none").await;
        let rs: Api<ReplicaSet> = Api::namespaced(client.clone(), NS);
        let sets = rs.list(&ListParams::default()).await.unwrap().items;
        assert_eq!(sets.len(), 2, "one ReplicaSet per template");
        let out = k
            .ok(&["rollout", "history", "-n", NS, "deployment/web"])
            .await;
        assert!(out.contains('1') && out.contains('2'), "{out}");

        // kubectl set env → the new pods' processes see the variable.
        let out = k
            .ok(&["set", "env", "-n", NS, "deployment/web", "GREETING=hello"])
            .await;
        assert!(out.contains("deployment.apps/web env updated"), "{out}");
        rolled_out(&k).await;
        let third = web_pods_on(&k, 30, "example.com/web:2", |n| {
            n.iter().all(|p| !second.contains(p))
        })
        .await;
        for pod in &third {
            let env = k
                .ok(&[
                    "get",
                    "pod",
                    "-n",
                    NS,
                    pod,
                    "-o",
                    "jsonpath={.spec.containers[0].env[?(@.name==\"GREETING\")].value}",
                ])
                .await;
            assert_eq!(env, "hello", "{pod}");
        }
        serving(&k, &third, 2, "hello").await;
        assert_eq!(
            rs.list(&ListParams::default()).await.unwrap().items.len(),
            3
        );

        // The crash loop: restarts, CrashLoopBackOff, logs of the run before.
        let restarts = k
            .until(
                40,
                &[
                    "get", "pod", "crash", "-n", NS, "-o",
                    "jsonpath={.status.containerStatuses[0].restartCount} {.status.containerStatuses[0].state.waiting.reason}",
                ],
                |o| {
                    let mut f = o.split_whitespace();
                    let n: u32 = f.next().and_then(|n| n.parse().ok()).unwrap_or(0);
                    n >= 2 && f.next() == Some("CrashLoopBackOff")
                },
            )
            .await;
        let out = k.ok(&["get", "pod", "crash", "-n", NS]).await;
        assert!(out.contains("CrashLoopBackOff"), "{out}");
        // The run before the last one and the last one (run N is restart N - 1). A
        // restart between the two reads would shift them: read again then.
        let count = [
            "get",
            "pod",
            "crash",
            "-n",
            NS,
            "-o",
            "jsonpath={.status.containerStatuses[0].restartCount}",
        ];
        let (previous, last, restart_count) = loop {
            let before = k.ok(&count).await;
            let previous = k.ok(&["logs", "-n", NS, "crash", "--previous"]).await;
            let last = k.ok(&["logs", "-n", NS, "crash"]).await;
            let after = k.ok(&count).await;
            if before == after && !last.trim().is_empty() {
                break (previous, last, after.parse::<u32>().unwrap());
            }
        };
        let (p, l) = (run_number(&previous), run_number(&last));
        assert!(
            restart_count >= 2 && p == restart_count && l == p + 1,
            "restartCount {restart_count}, previous {previous:?}, last {last:?}"
        );
        println!("crash: restarts/state {restarts:?}; --previous {previous:?}, last {last:?}");

        // Events: the scheduler's, the kubelet's, the controllers'.
        let out = k.ok(&["get", "events", "-n", NS]).await;
        for reason in [
            "Scheduled",
            "Pulled",
            "Created",
            "Started",
            "Killing",
            "BackOff",
            "SuccessfulCreate",
            "SuccessfulDelete",
            "ScalingReplicaSet",
        ] {
            assert!(out.contains(reason), "no {reason} event:\n{out}");
        }
        let out = k
            .ok(&[
                "get",
                "events",
                "-n",
                NS,
                "--field-selector",
                "involvedObject.name=crash",
            ])
            .await;
        assert!(out.contains("pod/crash"), "{out}");
        assert!(!out.contains("web-"), "only the crash pod's events:\n{out}");
        for reason in ["Scheduled", "Started", "BackOff"] {
            assert!(out.contains(reason), "no {reason} event:\n{out}");
        }
        assert!(
            out.contains("Back-off restarting failed container"),
            "{out}"
        );

        // Deleting the namespace (waiting for it) removes everything.
        let runtimes = node_runtimes(&cluster);
        let t = Instant::now();
        let out = k.ok(&["delete", "namespace", NS, "--wait=true"]).await;
        assert!(out.contains("namespace \"rollout\" deleted"), "{out}");
        let deleted_in = t.elapsed();
        let (ok, _, err) = k.run(&["get", "namespace", NS]).await;
        assert!(!ok && err.contains("NotFound"), "{err}");
        let (ok, _, err) = k.run(&["get", "deployment", "web", "-n", NS]).await;
        assert!(!ok && err.contains("NotFound"), "{err}");
        let (_, out, err) = k.run(&["get", "all,events,configmaps", "-n", NS]).await;
        assert!(out.trim().is_empty(), "{out}");
        assert!(err.contains("No resources found"), "{err}");
        let lp = ListParams::default();
        let pods = Api::<Pod>::namespaced(client.clone(), NS).list(&lp).await;
        let events = Api::<Event>::namespaced(client.clone(), NS).list(&lp).await;
        let (pods, events) = (pods.unwrap().items, events.unwrap().items);
        assert!(
            pods.is_empty() && events.is_empty(),
            "left in the API: {} pods, {} events",
            pods.len(),
            events.len()
        );
        // The kubelets stop and remove the sandboxes (shortly after the pods are gone).
        wait_no_sandboxes(&runtimes, 20).await;
        deleted_in
    })
    .await;
    println!(
        "cluster up in {up:?}; namespace deleted in {deleted_in:?}; total {:?}",
        started.elapsed()
    );
}
