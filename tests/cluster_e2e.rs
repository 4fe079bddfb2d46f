//! The whole cluster end to end with stock kubectl: a `Cluster` with three process-runtime
//! nodes, the memory store and HTTPS; `kubectl.1.33` and `kubectl.1.27` (installed beside the
//! `kubectl` on PATH, see shared/compat.md) apply a Deployment of three busybox `httpd`
//! replicas with a readiness probe and a Service; the pods spread over the nodes, become
//! Running and Ready, the Service's Endpoints list them, HTTP requests from the host to the
//! ClusterIP reach every replica (nftables as root, else the userspace proxy), `kubectl
//! scale` adds a replica, `kubectl get events` shows what happened, and shutdown removes the
//! pods, their network namespaces and the nftables table.

#[allow(dead_code)] // shared by several test crates; each uses a part
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use kubox::cluster::{Cluster, PodNetwork, ShimMode};
use kubox::core::api::core_v1::{Endpoints, Pod, Service};
use kubox::core::client::{Api, ListParams};
use support::cluster::{node_runtimes, run_then_shutdown, wait_no_sandboxes};
use support::kubectl::{endpoint_ips, ready_nodes, words, Kubectl};
use support::poll::wait;
use support::web;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .is_some_and(|c| c.status == "True")
}

/// `name node phase conditions (deleting)` of a pod, for failure messages.
fn pod_summary(p: &Pod) -> String {
    let status = p.status.as_ref();
    let conditions: Vec<String> = status
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .map(|c| format!("{}={}", c.type_, c.status))
        .collect();
    format!(
        "{} node={:?} phase={:?} {conditions:?}{}",
        p.metadata.name.as_deref().unwrap_or(""),
        p.spec.as_ref().and_then(|s| s.node_name.as_deref()),
        status.and_then(|s| s.phase.as_deref()),
        if p.metadata.deletion_timestamp.is_some() {
            " deleting"
        } else {
            ""
        }
    )
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_process_nodes_with_stock_kubectl() {
    web::require_busybox();
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let www = tmp.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    let home = tmp.path().join("home");
    let manifest = tmp.path().join("web.yaml");
    std::fs::write(
        &manifest,
        web::manifest(&www, 3, 30, &web::httpd_8080(&www), web::HTTP_PROBE),
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
    // A failure still shuts the cluster down (no leftover pods, namespaces, bridges or
    // tables), then fails the test.
    let (root, backend, runtimes, ips4, t_ready) = {
        let (table, www) = (table.clone(), www.clone());
        run_then_shutdown(cluster, |cluster| async move {
            let kubeconfig = cluster.kubeconfig().unwrap();
            let k133 = Kubectl::new(33, kubeconfig, &home);
            let k127 = Kubectl::new(27, kubeconfig, &home);
            let root = cluster.network_notes().is_empty();

            // The nodes registered and are Ready.
            let nodes_out = k127
                .until(30, &["get", "nodes"], |o| ready_nodes(o) == 3)
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
                            let summary: Vec<String> = l.items.iter().map(pod_summary).collect();
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
                                Err(format!("{} ready:\n{}", good.len(), summary.join("\n")))
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
                let got = words(&k133.ok(&endpoint_ips(NS, "web")).await);
                if got.len() == 4 && (!root || got == ips4) {
                    Ok(())
                } else {
                    Err(format!("{got:?}"))
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
            let runtimes = node_runtimes(&cluster);
            let out = k133.ok(&["delete", "namespace", NS]).await;
            assert!(out.contains("namespace \"e2e\" deleted"), "{out}");
            let (ok, _, err) = k127.run(&["get", "namespace", NS]).await;
            assert!(!ok && err.contains("NotFound"), "{err}");
            let left = pods.list(&ListParams::default()).await.unwrap();
            assert!(left.items.is_empty(), "pods left: {:?}", left.items.len());
            assert!(services.get_opt("web").await.unwrap().is_none());
            wait_no_sandboxes(&runtimes, 20).await;
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
        .await
    };
    // Shutdown: pods stopped and removed, their namespaces gone, the table removed.
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
    let script = web::script(&www, &web::httpd_8080(&www));
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
