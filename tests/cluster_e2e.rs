//! The whole cluster end to end with stock kubectl: a `Cluster` with three process-runtime
//! nodes, the memory store and HTTPS; `kubectl.1.33` and `kubectl.1.27` (installed beside the
//! `kubectl` on PATH, see shared/compat.md) apply a Deployment of three busybox `httpd`
//! replicas with a readiness probe and a Service; the pods spread over the nodes, become
//! Running and Ready, the Service's Endpoints list them, HTTP requests from the host to the
//! ClusterIP reach every replica (nftables as root, else the userspace proxy), `kubectl
//! scale` adds a replica, `kubectl get events` shows what happened, and shutdown removes the
//! pods, their network namespaces and the nftables table.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kubox::cluster::{Cluster, PodNetwork, ShimMode};
use kubox::core::api::core_v1::{Endpoints, Pod, Service};
use kubox::core::client::{Api, ListParams};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The folder holding `kubectl.1.NN`: that of the real path of `kubectl` on PATH.
fn kubectl_dir() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .map(|d| d.join("kubectl"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("`kubectl` is not on PATH: this test needs kubectl.1.27 and kubectl.1.33 installed beside it (see shared/compat.md)")
        });
    std::fs::canonicalize(&found)
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf()
}

fn versioned(dir: &Path, minor: u32) -> PathBuf {
    let p = dir.join(format!("kubectl.1.{minor}"));
    assert!(
        p.is_file(),
        "{} is missing (see shared/compat.md)",
        p.display()
    );
    p
}

struct Kubectl {
    bin: PathBuf,
    kubeconfig: PathBuf,
    home: PathBuf,
}

impl Kubectl {
    async fn run(&self, args: &[&str]) -> (bool, String, String) {
        let mut cmd = tokio::process::Command::new(&self.bin);
        cmd.args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", &self.home)
            .kill_on_drop(true);
        let out = tokio::time::timeout(Duration::from_secs(30), cmd.output())
            .await
            .unwrap_or_else(|_| panic!("kubectl {args:?} timed out"))
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    async fn ok(&self, args: &[&str]) -> String {
        let (ok, stdout, stderr) = self.run(args).await;
        assert!(
            ok,
            "{} {args:?} failed\n--- stdout:\n{stdout}\n--- stderr:\n{stderr}",
            self.bin.display()
        );
        stdout
    }
}

async fn wait<T, F, Fut>(secs: u64, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut last = String::new();
    while Instant::now() < deadline {
        match f().await {
            Ok(v) => return v,
            Err(e) => last = e,
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("timed out after {secs}s waiting for {what} (last: {last})");
}

fn ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .is_some_and(|c| c.status == "True")
}

/// One HTTP/1.0 GET; the body.
async fn http_get(addr: SocketAddr) -> Result<String, String> {
    let mut s = tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect(addr))
        .await
        .map_err(|_| format!("connect {addr}: timeout"))?
        .map_err(|e| format!("connect {addr}: {e}"))?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: web\r\n\r\n")
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(2), s.read_to_end(&mut buf))
        .await
        .map_err(|_| "read timeout".to_string())?
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    match text.split_once("\r\n\r\n") {
        Some((head, body))
            if head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200") =>
        {
            Ok(body.trim().to_string())
        }
        _ => Err(format!("unexpected answer: {text:?}")),
    }
}

/// Where to send Service traffic: the ClusterIP (nftables), or the userspace proxy's
/// listener (the ClusterIP when it could bind it, else a node-local port).
async fn target(cluster: &Cluster, backend: &str, cluster_ip: &str) -> Result<SocketAddr, String> {
    if backend == "nftables" {
        return Ok(format!("{cluster_ip}:80").parse::<SocketAddr>().unwrap());
    }
    cluster
        .proxy_listeners()
        .await
        .into_iter()
        .find(|(k, _)| k.name == "web")
        .and_then(|(_, v)| v.into_iter().next())
        .ok_or_else(|| "no listener yet".to_string())
}

/// Our nftables tables: named by the configured prefix (the backend may suffix it).
fn our_tables(prefix: &str) -> Vec<String> {
    let out = std::process::Command::new("nft")
        .args(["list", "tables"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("table ip "))
        .filter(|t| t.starts_with(prefix))
        .map(String::from)
        .collect()
}

/// The rules of our tables.
fn our_rules(prefix: &str) -> String {
    our_tables(prefix)
        .iter()
        .map(|t| {
            let out = std::process::Command::new("nft")
                .args(["list", "table", "ip", t])
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).into_owned()
        })
        .collect()
}

const NS: &str = "e2e";

const MANIFEST: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
spec:
  replicas: 3
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      topologySpreadConstraints:
      - maxSkew: 1
        topologyKey: kubernetes.io/hostname
        whenUnsatisfiable: DoNotSchedule
        labelSelector:
          matchLabels:
            app: web
      containers:
      - name: httpd
        image: busybox:1.36
        command:
        - /bin/busybox
        - sh
        - -c
        - mkdir -p WWW/$HOSTNAME && echo $HOSTNAME > WWW/$HOSTNAME/index.html && echo serving $HOSTNAME && exec /bin/busybox httpd -f -p 8080 -h WWW/$HOSTNAME
        ports:
        - containerPort: 8080
        readinessProbe:
          httpGet:
            path: /
            port: 8080
          periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector:
    app: web
  ports:
  - port: 80
    targetPort: 8080
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_process_nodes_with_stock_kubectl() {
    assert!(
        Path::new("/bin/busybox").is_file(),
        "/bin/busybox is missing: scripts/test.sh installs busybox-static"
    );
    let started = Instant::now();
    let dir = kubectl_dir();
    let tmp = tempfile::tempdir().unwrap();
    let www = tmp.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let manifest = tmp.path().join("web.yaml");
    std::fs::write(
        &manifest,
        MANIFEST.replace("WWW", &www.display().to_string()),
    )
    .unwrap();

    let table = format!("kubox-e2e-{}", std::process::id());
    let cluster = Cluster::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .data_dir(tmp.path().join("data"))
        .process_nodes(3)
        .shim(ShimMode::InProcess)
        .pod_network(PodNetwork {
            bridge_prefix: "kbxe".into(),
            cidr: "10.247.0.0/16".into(),
            ..PodNetwork::default()
        })
        .nft_table(table.clone())
        .start()
        .await
        .unwrap();
    let up = started.elapsed();
    // The scenario runs in a task so that a failure still shuts the cluster down (no
    // leftover pods, namespaces, bridges or tables), then fails the test.
    let cluster = std::sync::Arc::new(cluster);
    let scenario = {
        let cluster = cluster.clone();
        let (table, www, manifest, home, dir) = (
            table.clone(),
            www.clone(),
            manifest.clone(),
            home.clone(),
            dir.clone(),
        );
        tokio::spawn(async move {
            let kubeconfig = cluster.kubeconfig().unwrap().to_path_buf();
            let k133 = Kubectl {
                bin: versioned(&dir, 33),
                kubeconfig: kubeconfig.clone(),
                home: home.clone(),
            };
            let k127 = Kubectl {
                bin: versioned(&dir, 27),
                kubeconfig,
                home,
            };
            let root = cluster.network_notes().is_empty();

            // The nodes registered and are Ready.
            let nodes_out = wait(30, "3 Ready nodes in kubectl get nodes", || async {
                let out = k127.ok(&["get", "nodes"]).await;
                let ready = out
                    .lines()
                    .filter(|l| l.split_whitespace().nth(1) == Some("Ready"))
                    .count();
                if ready == 3 {
                    Ok(out)
                } else {
                    Err(out)
                }
            })
            .await;
            for n in ["node-1", "node-2", "node-3"] {
                assert!(nodes_out.contains(n), "{nodes_out}");
            }

            // A namespace of our own (1.33 sends a protobuf body), deleted at the end.
            let out = k133.ok(&["create", "namespace", "e2e"]).await;
            assert!(out.contains("namespace/e2e created"), "{out}");

            // Apply (1.33: OpenAPI v3, server-side field validation).
            let out = k133
                .ok(&["apply", "-n", "e2e", "-f", &manifest.display().to_string()])
                .await;
            assert!(out.contains("deployment.apps/web created"), "{out}");
            assert!(out.contains("service/web created"), "{out}");

            let client = cluster.client();
            let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
            let web = ListParams {
                label_selector: Some("app=web".into()),
                ..Default::default()
            };
            let wait_ready = |n: usize| {
                let pods = pods.clone();
                let web = web.clone();
                async move {
                    wait(40, &format!("{n} Running and Ready web pods"), || {
                        let pods = pods.clone();
                        let web = web.clone();
                        async move {
                            let l = pods.list(&web).await.map_err(|e| e.to_string())?;
                            let good: Vec<Pod> = l
                                .items
                                .into_iter()
                                .filter(|p| {
                                    p.metadata.deletion_timestamp.is_none()
                                        && p.status.as_ref().and_then(|s| s.phase.as_deref())
                                            == Some("Running")
                                        && ready(p)
                                })
                                .collect();
                            if good.len() == n {
                                Ok(good)
                            } else {
                                Err(format!("{} ready", good.len()))
                            }
                        }
                    })
                    .await
                }
            };
            let running = wait_ready(3).await;
            let t_ready = started.elapsed();
            let nodes: BTreeSet<String> = running
                .iter()
                .map(|p| p.spec.as_ref().unwrap().node_name.clone().unwrap())
                .collect();
            assert_eq!(nodes.len(), 3, "one replica per node: {nodes:?}");
            let ips: BTreeSet<String> = running
                .iter()
                .map(|p| p.status.as_ref().unwrap().pod_ip.clone().unwrap())
                .collect();
            if root {
                assert_eq!(ips.len(), 3, "own pod IPs: {ips:?}");
                assert!(ips.iter().all(|ip| ip.starts_with("10.247.")), "{ips:?}");
            }

            // The Service's Endpoints list the three pods (also as kubectl 1.27 prints them).
            let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), NS);
            wait(20, "Endpoints with 3 ready addresses", || async {
                let e = endpoints.get("web").await.map_err(|e| e.to_string())?;
                let addrs: BTreeSet<String> = e
                    .subsets
                    .unwrap_or_default()
                    .iter()
                    .flat_map(|s| s.addresses.clone().unwrap_or_default())
                    .map(|a| a.ip)
                    .collect();
                if root && addrs == ips || !root && addrs.len() == ips.len() && !addrs.is_empty() {
                    Ok(())
                } else {
                    Err(format!("{addrs:?}"))
                }
            })
            .await;
            let out = k127.ok(&["get", "-n", NS, "endpoints", "web"]).await;
            for ip in &ips {
                assert!(out.contains(ip.as_str()), "{out}");
            }

            // Traffic from the host to the ClusterIP reaches every replica.
            let services: Api<Service> = Api::namespaced(client.clone(), NS);
            let svc = services.get("web").await.unwrap();
            let cluster_ip = svc.spec.unwrap().cluster_ip.unwrap();
            let backend = cluster.proxy_backend().unwrap();
            let hostnames: BTreeSet<String> = running
                .iter()
                .map(|p| p.metadata.name.clone().unwrap())
                .collect();
            let seen = wait(30, "responses from every replica", || async {
                let addr = target(&cluster, backend, &cluster_ip).await?;
                let mut seen: BTreeMap<String, usize> = BTreeMap::new();
                for _ in 0..30 {
                    let body = http_get(addr).await?;
                    *seen.entry(body).or_default() += 1;
                }
                if seen.keys().cloned().collect::<BTreeSet<_>>() == hostnames {
                    Ok(seen)
                } else {
                    Err(format!("{seen:?}"))
                }
            })
            .await;
            println!("ClusterIP {cluster_ip} via {backend}: {seen:?}");

            // Logs through the API server's proxy to the node's kubelet API.
            let first = running[0].metadata.name.clone().unwrap();
            let out = k133.ok(&["logs", "-n", NS, &first]).await;
            assert_eq!(out.trim(), format!("serving {first}"));
            let out = k127
                .ok(&[
                    "exec",
                    "-n",
                    NS,
                    &first,
                    "--",
                    "/bin/busybox",
                    "cat",
                    &format!("{}/{first}/index.html", www.display()),
                ])
                .await;
            assert_eq!(out.trim(), first);

            // kubectl scale (1.27: PATCH deployments/web/scale).
            let out = k127
                .ok(&["scale", "-n", NS, "deployment", "web", "--replicas=4"])
                .await;
            assert!(out.contains("deployment.apps/web scaled"), "{out}");
            let running = wait_ready(4).await;
            let ips4: BTreeSet<String> = running
                .iter()
                .map(|p| p.status.as_ref().unwrap().pod_ip.clone().unwrap())
                .collect();
            wait(20, "Endpoints with 4 addresses", || async {
                let out = k133
                    .ok(&[
                        "get",
                        "-n",
                        NS,
                        "endpoints",
                        "web",
                        "-o",
                        "jsonpath={.subsets[*].addresses[*].ip}",
                    ])
                    .await;
                let got: BTreeSet<String> = out.split_whitespace().map(String::from).collect();
                if got.len() == 4 && (!root || got == ips4) {
                    Ok(())
                } else {
                    Err(out)
                }
            })
            .await;

            // Events of the whole story.
            let out = k133.ok(&["get", "-n", NS, "events"]).await;
            for reason in [
                "Scheduled",
                "Started",
                "SuccessfulCreate",
                "ScalingReplicaSet",
            ] {
                assert!(out.contains(reason), "no {reason} event:\n{out}");
            }
            let out = k127.ok(&["get", "-n", NS, "pods", "-o", "wide"]).await;
            assert_eq!(out.matches("Running").count(), 4, "{out}");

            // Deleting the namespace removes everything in it: the namespace controller deletes
            // the objects, the kubelets stop the pods, the proxy drops the Service.
            let runtimes: Vec<_> = cluster
                .node_names()
                .iter()
                .map(|n| cluster.node_runtime(n).unwrap())
                .collect();
            let out = k133.ok(&["delete", "namespace", NS]).await;
            assert!(out.contains("namespace \"e2e\" deleted"), "{out}");
            let (ok, _, err) = k127.run(&["get", "namespace", NS]).await;
            assert!(!ok && err.contains("NotFound"), "{err}");
            let left = pods.list(&ListParams::default()).await.unwrap();
            assert!(left.items.is_empty(), "pods left: {:?}", left.items.len());
            assert!(services.get_opt("web").await.unwrap().is_none());
            wait(20, "no sandboxes on the nodes", || async {
                for rt in &runtimes {
                    let left = rt
                        .list_pod_sandboxes(&Default::default())
                        .await
                        .map_err(|e| e.to_string())?;
                    if !left.is_empty() {
                        return Err(format!("{} sandboxes left", left.len()));
                    }
                }
                Ok(())
            })
            .await;
            if backend == "nftables" {
                wait(10, "the Service gone from the nftables rules", || async {
                    let text = our_rules(&table);
                    if text.contains(&cluster_ip) {
                        Err(text)
                    } else {
                        Ok(())
                    }
                })
                .await;
            }

            (root, backend, runtimes, ips4, t_ready)
        })
    };
    let outcome = scenario.await;
    let cluster = std::sync::Arc::try_unwrap(cluster).expect("the scenario task ended");
    // Shutdown: pods stopped and removed, their namespaces gone, the table removed.
    cluster.shutdown().await.unwrap();
    let (root, backend, runtimes, ips4, t_ready) = match outcome {
        Ok(v) => v,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    };
    for rt in runtimes {
        let left = rt.list_pod_sandboxes(&Default::default()).await.unwrap();
        assert!(left.is_empty(), "sandboxes left: {left:?}");
    }
    if backend == "nftables" {
        let left = our_tables(&table);
        assert!(left.is_empty(), "tables left: {left:?}");
    }
    if root {
        for b in ["kbxe0", "kbxe1", "kbxe2"] {
            let out = std::process::Command::new("ip")
                .args(["link", "show", b])
                .output()
                .unwrap();
            assert!(!out.status.success(), "bridge {b} is still there");
        }
    }
    for ip in &ips4 {
        if root {
            // Nobody answers on the pod IPs any more.
            let addr: SocketAddr = format!("{ip}:8080").parse().unwrap();
            assert!(http_get(addr).await.is_err(), "{addr} still answers");
        }
    }
    println!(
        "cluster up in {up:?}; 3 replicas Ready at {t_ready:?}; test total {:?}",
        started.elapsed()
    );
}

/// The userspace proxy (what a host without nftables gets): two process nodes, a Deployment
/// and a Service created through the in-process client, traffic through the proxy's
/// listener reaching both replicas.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn userspace_proxy_reaches_every_replica() {
    use kubox::cluster::ProxyMode;
    use kubox::core::api::apps_v1::Deployment;
    use kubox::core::client::PostParams;
    use serde_json::json;

    let tmp = tempfile::tempdir().unwrap();
    let www = tmp.path().join("www");
    let cluster = Cluster::builder()
        .data_dir(tmp.path().join("data"))
        .process_nodes(2)
        .shim(ShimMode::InProcess)
        .pod_network(PodNetwork {
            bridge_prefix: "kbxu".into(),
            cidr: "10.248.0.0/16".into(),
            ..PodNetwork::default()
        })
        .proxy(ProxyMode::Userspace)
        .start()
        .await
        .unwrap();
    assert_eq!(cluster.proxy_backend(), Some("userspace"));
    let client = cluster.client();
    let script = format!(
        "mkdir -p {w}/$HOSTNAME && echo $HOSTNAME > {w}/$HOSTNAME/index.html && exec /bin/busybox httpd -f -p 8080 -h {w}/$HOSTNAME",
        w = www.display()
    );
    let d: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
                    "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"app": "web"}}}],
                "containers": [{"name": "httpd", "image": "busybox:1.36",
                    "command": ["/bin/busybox", "sh", "-c", script],
                    "readinessProbe": {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 1}}]}}}
    }))
    .unwrap();
    Api::<Deployment>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &d)
        .await
        .unwrap();
    let svc: Service = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}
    }))
    .unwrap();
    Api::<Service>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &svc)
        .await
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let names: BTreeSet<String> = wait(40, "2 Ready pods", || async {
        let l = pods
            .list(&ListParams::default())
            .await
            .map_err(|e| e.to_string())?;
        let ready: BTreeSet<String> = l
            .items
            .iter()
            .filter(|p| ready(p))
            .map(|p| p.metadata.name.clone().unwrap())
            .collect();
        if ready.len() == 2 {
            Ok(ready)
        } else {
            Err(format!("{} ready", ready.len()))
        }
    })
    .await;
    let cluster_ip = Api::<Service>::namespaced(client.clone(), "default")
        .get("web")
        .await
        .unwrap()
        .spec
        .unwrap()
        .cluster_ip
        .unwrap();
    let seen = wait(30, "both replicas through the userspace proxy", || async {
        let addr = target(&cluster, "userspace", &cluster_ip).await?;
        let mut seen = BTreeSet::new();
        for _ in 0..20 {
            seen.insert(http_get(addr).await?);
        }
        if seen == names {
            Ok(seen)
        } else {
            Err(format!("{seen:?}"))
        }
    })
    .await;
    println!("userspace proxy reached {seen:?}");
    cluster.shutdown().await.unwrap();
}
