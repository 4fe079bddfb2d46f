//! A multi-process cluster on one machine, driven by stock kubectl: one `kubox server` and two
//! `kubox agent` processes over HTTPS. As root each agent runs in a network namespace of its
//! own (`kbm<pid>a`, `kbm<pid>b`, joined to the host by a veth pair) with its own node bridge
//! and pod CIDR; without root they share the host network.
//!
//! The story: both nodes Ready; a Deployment of three busybox `httpd` replicas (process
//! runtime) and a Service; the pods spread over both nodes, Running and Ready; the Endpoints
//! list them; the proxy of an agent (its own `system:kube-proxy` identity) programs the
//! ClusterIP; a node's credentials cannot touch another node; SIGKILL of one agent → its node
//! goes Unknown and its pods are replaced on the other node; an online backup of the running
//! server, restored into a new data directory, brings the objects back in a second server;
//! SIGTERM stops the server and the surviving agent cleanly (exit code 0).

#[allow(dead_code)] // shared by several test crates; each uses a part
mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::kubectl::{endpoint_ips, ready_nodes, words, Kubectl};
use support::poll::wait_blocking as wait;
use support::web;

const KUBOX: &str = env!("CARGO_BIN_EXE_kubox");
const NS: &str = "mp";

/// Whether the test runs as root: `/proc/self` belongs to the effective user.
fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// A scratch directory named `<prefix>…` (removed on drop).
fn scratch(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new().prefix(prefix).tempdir().unwrap()
}

/// Runs a command to completion; (success, stdout, stderr).
fn run(cmd: &mut Command) -> (bool, String, String) {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `ip ARGS`, which must succeed.
fn ip(args: &[&str]) {
    let (ok, _, err) = run(Command::new("ip").args(args));
    assert!(ok, "ip {args:?}: {err}");
}

fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Removes network namespaces and links of earlier runs (`kbm<pid>…` whose pid is gone).
fn clean_leftovers() {
    let stale = |name: &str| -> bool {
        let Some(rest) = name.strip_prefix("kbm") else {
            return false;
        };
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits
            .parse::<u32>()
            .is_ok_and(|pid| pid != std::process::id() && !pid_alive(pid))
    };
    let (_, out, _) = run(Command::new("ip").args(["netns", "list"]));
    for line in out.lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        if stale(name) {
            let _ = run(Command::new("ip").args(["netns", "delete", name]));
            let _ = std::fs::remove_file(Path::new("/run/netns").join(name));
        }
    }
    let (_, out, _) = run(Command::new("ip").args(["-o", "link", "show"]));
    for line in out.lines() {
        let name = line
            .split(':')
            .nth(1)
            .map(|s| s.trim().split('@').next().unwrap_or(""))
            .unwrap_or("");
        if stale(name) {
            let _ = run(Command::new("ip").args(["link", "delete", name]));
        }
    }
}

/// An agent's network namespace joined to the host by a veth pair; deleted on drop.
struct Netns {
    name: String,
    host_if: String,
    host_ip: String,
    ns_ip: String,
}

impl Netns {
    fn create(name: &str, host_ip: &str, ns_ip: &str) -> Netns {
        let host_if = format!("{name}h");
        let ns_if = format!("{name}n");
        let n = Netns {
            name: name.to_string(),
            host_if: host_if.clone(),
            host_ip: host_ip.to_string(),
            ns_ip: ns_ip.to_string(),
        };
        ip(&["netns", "add", name]);
        ip(&[
            "link", "add", &host_if, "type", "veth", "peer", "name", &ns_if,
        ]);
        ip(&["link", "set", &ns_if, "netns", name]);
        ip(&["addr", "add", &format!("{host_ip}/30"), "dev", &host_if]);
        ip(&["link", "set", &host_if, "up"]);
        let inside = |args: &[&str]| {
            let mut full = vec!["netns", "exec", name, "ip"];
            full.extend_from_slice(args);
            ip(&full);
        };
        inside(&["link", "set", "lo", "up"]);
        inside(&["addr", "add", &format!("{ns_ip}/30"), "dev", &ns_if]);
        inside(&["link", "set", &ns_if, "up"]);
        inside(&["route", "add", "default", "via", host_ip]);
        n
    }

    /// Pods' network namespaces the agent made (`<bridge>-<id>`, bridge = our name).
    fn pod_netns(&self) -> Vec<String> {
        let (_, out, _) = run(Command::new("ip").args(["netns", "list"]));
        out.lines()
            .filter_map(|l| l.split_whitespace().next())
            .filter(|n| n.starts_with(&format!("{}-", self.name)))
            .map(String::from)
            .collect()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for pod in self.pod_netns() {
            let _ = run(Command::new("ip").args(["netns", "delete", &pod]));
        }
        let _ = run(Command::new("ip").args(["link", "delete", &self.host_if]));
        let _ = run(Command::new("ip").args(["netns", "delete", &self.name]));
    }
}

/// A `kubox` process with its output in a log file; SIGTERM (then SIGKILL) on drop.
struct Proc {
    what: String,
    child: Option<Child>,
    log: PathBuf,
}

impl Proc {
    fn spawn(what: &str, netns: Option<&Netns>, args: &[String], log: PathBuf) -> Proc {
        let file = std::fs::File::create(&log).unwrap();
        let mut cmd = match netns {
            Some(n) => {
                // nsenter (not `ip netns exec`): same mount namespace and /sys as the host, so
                // the pods' network namespaces the agent makes are ordinary ones.
                let mut c = Command::new("nsenter");
                c.arg(format!("--net=/run/netns/{}", n.name))
                    .arg("--")
                    .arg(KUBOX);
                c
            }
            None => Command::new(KUBOX),
        };
        cmd.args(args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {what}: {e}"));
        Proc {
            what: what.to_string(),
            child: Some(child),
            log,
        }
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM and the exit status (SIGKILL after `secs`).
    fn terminate(&mut self, secs: u64) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        let _ = run(Command::new("kill").args(["-TERM", &child.id().to_string()]));
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }

    /// [`Proc::terminate`], which must end in exit code 0 within `secs`.
    fn stop_cleanly(&mut self, secs: u64) {
        let status = self.terminate(secs);
        assert!(
            status.is_some_and(|s| s.success()),
            "{} did not stop cleanly on SIGTERM ({status:?}):\n{}",
            self.what,
            self.output()
        );
    }

    fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Polls the log until it contains `needle`.
    fn wait_output(&mut self, needle: &str, secs: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let out = self.output();
            if out.contains(needle) {
                return out;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!(
                    "{} exited ({status}) before printing {needle:?}:\n{out}",
                    self.what
                );
            }
            assert!(
                Instant::now() < deadline,
                "{} did not print {needle:?} within {secs}s:\n{out}",
                self.what
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.terminate(20);
    }
}

/// Kills the processes whose command line mentions `marker` (the pods of a killed agent,
/// which outlive it like the containers of a crashed node).
fn kill_marked(marker: &str) {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return;
    };
    for entry in dir.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if pid == std::process::id() {
            continue;
        }
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(marker) {
            let _ = run(Command::new("kill").args(["-KILL", &pid.to_string()]));
        }
    }
}

/// One HTTP/1.0 GET of `/` from inside network namespace `netns` (busybox nc); the body.
fn http_get_in(netns: &str, ip: &str, port: u16) -> Result<String, String> {
    let (ok, out, err) = run(Command::new("sh").arg("-c").arg(format!(
        "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | ip netns exec {netns} /bin/busybox nc -w 2 {ip} {port}"
    )));
    match out.split_once("\r\n\r\n") {
        Some((head, body)) if ok && head.contains(" 200 ") => Ok(body.trim().to_string()),
        _ => Err(format!("GET http://{ip}:{port}/ in {netns}: {out}{err}")),
    }
}

/// When dropped: [`kill_marked`], then removes the cgroups of the containers recorded under
/// the agents' data directories (a killed agent cannot remove its containers' cgroups).
struct KillMarked {
    marker: String,
    agent_dirs: Vec<PathBuf>,
}

impl Drop for KillMarked {
    fn drop(&mut self) {
        kill_marked(&self.marker);
        std::thread::sleep(Duration::from_millis(200));
        let mut ids = Vec::new();
        for dir in &self.agent_dirs {
            let Ok(nodes) = std::fs::read_dir(dir.join("nodes")) else {
                continue;
            };
            for node in nodes.flatten() {
                let Ok(containers) = std::fs::read_dir(node.path().join("runtime/containers"))
                else {
                    continue;
                };
                for c in containers.flatten() {
                    let name = c.file_name().to_string_lossy().into_owned();
                    if let Some(id) = name.strip_suffix(".json").filter(|i| !i.contains('.')) {
                        ids.push(id.to_string());
                    }
                }
            }
        }
        let Ok(hierarchies) = std::fs::read_dir("/sys/fs/cgroup") else {
            return;
        };
        let hierarchies: Vec<PathBuf> = hierarchies.flatten().map(|h| h.path()).collect();
        for id in &ids {
            let _ = std::fs::remove_dir(Path::new("/sys/fs/cgroup/kubox").join(id));
            for h in &hierarchies {
                let _ = std::fs::remove_dir(h.join("kubox").join(id));
            }
        }
    }
}

fn condition(obj: &Value, type_: &str) -> Option<String> {
    obj["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
        .and_then(|c| c["status"].as_str().map(String::from))
}

/// Pods of app=web that are Running, Ready and not being deleted: (name, node, ip).
fn good_pods(k: &Kubectl) -> (Vec<(String, String, String)>, String) {
    let list = k.json_blocking(&["get", "pods", "-n", NS, "-l", "app=web"]);
    let mut good = Vec::new();
    let mut summary = String::new();
    for p in list["items"].as_array().cloned().unwrap_or_default() {
        let name = p["metadata"]["name"].as_str().unwrap_or("").to_string();
        let node = p["spec"]["nodeName"].as_str().unwrap_or("").to_string();
        let phase = p["status"]["phase"].as_str().unwrap_or("").to_string();
        let ip = p["status"]["podIP"].as_str().unwrap_or("").to_string();
        let deleting = !p["metadata"]["deletionTimestamp"].is_null();
        let ready = condition(&p, "Ready").as_deref() == Some("True");
        summary.push_str(&format!(
            "{name} node={node} phase={phase} ready={ready} deleting={deleting} ip={ip}\n"
        ));
        if phase == "Running" && ready && !deleting {
            good.push((name, node, ip));
        }
    }
    (good, summary)
}

fn manifest(www: &Path, root: bool) -> String {
    // With own pod IPs every replica serves :8080 and the kubelet probes it over HTTP. On the
    // host network (no root) the replicas cannot share a port: each takes the first free one
    // and readiness is an exec probe.
    let (serve, probe) = if root {
        (web::httpd_8080(www), web::HTTP_PROBE.to_string())
    } else {
        let www = www.display();
        (
            format!(
                "for p in 18080 18081 18082 18083 18084 18085; do /bin/busybox httpd -f -p $p -h {www}/$HOSTNAME; done"
            ),
            format!(
                "exec:\n            command: [/bin/busybox, sh, -c, \"test -f {www}/$HOSTNAME/index.html\"]"
            ),
        )
    };
    web::manifest(www, 3, 2, &serve, &probe)
}

/// `kubox backup --data-dir DATA_DIR --out OUT`: (success, stdout, stderr).
fn kubox_backup(data_dir: &Path, out: &Path) -> (bool, String, String) {
    run(Command::new(KUBOX)
        .args(["backup", "--data-dir"])
        .arg(data_dir)
        .arg("--out")
        .arg(out))
}

/// `kubox restore --from BACKUP --data-dir DATA_DIR EXTRA…`: (success, stdout, stderr).
fn kubox_restore(backup: &Path, data_dir: &Path, extra: &[&str]) -> (bool, String, String) {
    run(Command::new(KUBOX)
        .args(["restore", "--from"])
        .arg(backup)
        .arg("--data-dir")
        .arg(data_dir)
        .args(extra))
}

/// Owned copies of `args`.
fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// Starts `kubox server` and waits for it to be up; (process, API URL).
fn start_server(what: &str, args: Vec<String>, log: PathBuf) -> (Proc, String) {
    let mut p = Proc::spawn(what, None, &args, log);
    let out = p.wait_output("kubox server up", 60);
    let url = out
        .lines()
        .find_map(|l| l.split_once("kubox server up").map(|(_, r)| r))
        .and_then(|r| r.split("API ").nth(1))
        .map(|u| u.trim().to_string())
        .unwrap_or_else(|| panic!("no API URL in:\n{out}"));
    (p, url)
}

#[test]
fn server_and_two_agents_with_stock_kubectl() {
    web::require_busybox();
    let started = Instant::now();
    let root = is_root();
    let pid = std::process::id();
    let tmp = scratch("kubox-mp-");
    let www = tmp.path().join("www");
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::create_dir_all(&home).unwrap();
    let manifest_path = tmp.path().join("web.yaml");
    std::fs::write(&manifest_path, manifest(&www, root)).unwrap();
    let server_dir = tmp.path().join("server");

    // Network: as root, one namespace per agent; addresses from the test's pid.
    let octet = pid % 250;
    let nets: Vec<Netns> = if root {
        clean_leftovers();
        vec![
            Netns::create(
                &format!("kbm{pid}a"),
                &format!("10.213.{octet}.1"),
                &format!("10.213.{octet}.2"),
            ),
            Netns::create(
                &format!("kbm{pid}b"),
                &format!("10.213.{octet}.5"),
                &format!("10.213.{octet}.6"),
            ),
        ]
    } else {
        println!("not root: agents share the host network");
        Vec::new()
    };
    // The killed agent's pods outlive it (as on a crashed machine): this guard kills them,
    // also when the test fails — after the agents and servers (declared later, dropped
    // earlier) and before the namespaces go.
    let pods_guard = KillMarked {
        marker: www.display().to_string(),
        agent_dirs: ["kbm-a", "kbm-b"]
            .iter()
            .map(|n| tmp.path().join(format!("agent-{n}")))
            .collect(),
    };
    if root {
        // Pod CIDRs are routed through the agents' namespaces, so pods on different nodes
        // (and the host) reach each other; the routes go with the veths.
        std::fs::write("/proc/sys/net/ipv4/ip_forward", "1").unwrap();
        for (i, n) in nets.iter().enumerate() {
            ip(&[
                "route",
                "add",
                &format!("10.214.{}.0/24", i + 1),
                "via",
                &n.ns_ip,
            ]);
        }
    }
    // The server listens on the host end of agent a's veth (agent b reaches it through its
    // default route to the host).
    let listen = if root {
        format!("{}:0", nets[0].host_ip)
    } else {
        "127.0.0.1:0".to_string()
    };
    let mut server_args = strings(&[
        "server",
        "--listen",
        &listen,
        "--data-dir",
        &server_dir.display().to_string(),
        "--node-monitor-period",
        "1s",
        "--node-monitor-grace-period",
        "10s",
        "--pod-eviction-timeout",
        "2s",
    ]);
    if root {
        server_args.extend(strings(&["--advertise-address", &nets[0].host_ip]));
    }
    let (mut server, url) =
        start_server("kubox server", server_args, tmp.path().join("server.log"));
    let k =
        Kubectl::new(33, &server_dir.join("admin.kubeconfig"), &home).with_request_timeout("20s");
    let server_out = server.output();
    assert!(
        server_out.contains("kubox agent --server"),
        "no join command printed:\n{server_out}"
    );
    let token_file = server_dir.join("agent-token");
    let ca = server_dir.join("pki").join("ca.crt");

    // Two agents.
    let mut agents: Vec<Proc> = Vec::new();
    let names = ["kbm-a", "kbm-b"];
    for (i, name) in names.iter().enumerate() {
        let data = tmp.path().join(format!("agent-{name}"));
        let mut args = strings(&[
            "agent",
            "--server",
            &url,
            "--token-file",
            &token_file.display().to_string(),
            "--ca-file",
            &ca.display().to_string(),
            "--name",
            name,
            "--data-dir",
            &data.display().to_string(),
            "--shim",
            "in-process",
            "--node-lease-duration-seconds",
            "8",
            "--node-status-update-frequency",
            "2s",
        ]);
        if root {
            let n = &nets[i];
            args.extend(strings(&[
                "--node-ip",
                &n.ns_ip,
                "--pod-cidr",
                &format!("10.214.{}.0/24", i + 1),
                "--bridge",
                &n.name,
            ]));
        } else {
            args.extend(strings(&["--host-network", "--proxy", "none"]));
        }
        let p = Proc::spawn(
            &format!("agent {name}"),
            nets.get(i),
            &args,
            tmp.path().join(format!("agent-{name}.log")),
        );
        agents.push(p);
    }
    for a in &mut agents {
        a.wait_output("kubox agent up", 60);
    }
    let logs = |agents: &[Proc], server: &Proc| {
        let mut s = format!("--- server:\n{}", server.output());
        for a in agents {
            s.push_str(&format!("--- {}:\n{}", a.what, a.output()));
        }
        s
    };

    // Both nodes Ready, with the InternalIPs the agents were given.
    wait(60, "both nodes Ready", || {
        let nodes = k.json_blocking(&["get", "nodes"]);
        let ready: BTreeSet<String> = nodes["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter(|n| condition(n, "Ready").as_deref() == Some("True"))
            .filter_map(|n| n["metadata"]["name"].as_str().map(String::from))
            .collect();
        if names.iter().all(|n| ready.contains(*n)) {
            Ok(())
        } else {
            Err(format!(
                "{}\n{}",
                k.ok_blocking(&["get", "nodes", "-o", "wide"]),
                logs(&agents, &server)
            ))
        }
    });
    let wide = k.ok_blocking(&["get", "nodes", "-o", "wide"]);
    if root {
        for n in &nets {
            assert!(wide.contains(&n.ns_ip), "{wide}");
        }
    }

    // A node's credentials reach only its own Node (Node authorizer + NodeRestriction).
    let token = std::fs::read_to_string(&token_file).unwrap();
    let join_secret = token.trim().split('.').nth(1).unwrap().to_string();
    let node_kc = tmp.path().join("node-a.kubeconfig");
    let admin_kc = std::fs::read_to_string(&k.kubeconfig).unwrap();
    let admin_token = std::fs::read_to_string(server_dir.join("pki").join("admin.token")).unwrap();
    std::fs::write(
        &node_kc,
        admin_kc.replace(
            admin_token.trim(),
            &format!("kubox-node:kbm-a:{join_secret}"),
        ),
    )
    .unwrap();
    let as_node = k.with_kubeconfig(&node_kc);
    let out = as_node.ok_blocking(&[
        "label",
        "node",
        "kbm-a",
        "example.com/own=yes",
        "--overwrite",
    ]);
    assert!(out.contains("labeled"), "{out}");
    let (ok, _, err) = as_node.run_blocking(&["label", "node", "kbm-b", "example.com/other=yes"]);
    assert!(
        !ok && err.contains("Forbidden"),
        "labelling another node: {err}"
    );
    let (ok, _, err) = as_node.run_blocking(&["get", "secrets", "-A"]);
    assert!(
        !ok && err.contains("Forbidden"),
        "listing secrets as a node: {err}"
    );

    // The Deployment and Service.
    let out = k.ok_blocking(&["create", "namespace", NS]);
    assert!(out.contains("created"), "{out}");
    let out = k.ok_blocking(&[
        "apply",
        "-n",
        NS,
        "-f",
        &manifest_path.display().to_string(),
    ]);
    assert!(out.contains("deployment.apps/web created"), "{out}");
    assert!(out.contains("service/web created"), "{out}");
    let running = wait(90, "3 Running and Ready web pods", || {
        let (good, summary) = good_pods(&k);
        if good.len() == 3 {
            Ok(good)
        } else {
            Err(format!("{summary}\n{}", logs(&agents, &server)))
        }
    });
    let nodes: BTreeSet<&str> = running.iter().map(|(_, n, _)| n.as_str()).collect();
    assert_eq!(nodes.len(), 2, "pods spread over both nodes: {running:?}");
    let ips: BTreeSet<String> = running.iter().map(|(_, _, ip)| ip.clone()).collect();
    if root {
        assert_eq!(ips.len(), 3, "own pod IPs: {running:?}");
        for (_, node, ip) in &running {
            let i = names.iter().position(|n| n == node).unwrap() + 1;
            assert!(
                ip.starts_with(&format!("10.214.{i}.")),
                "{node} pod IP {ip}"
            );
        }
    }
    let t_ready = started.elapsed();

    // The Service's Endpoints list them.
    wait(30, "Endpoints listing the 3 pods", || {
        let got = words(&k.ok_blocking(&endpoint_ips(NS, "web")));
        if (root && got == ips) || (!root && !got.is_empty() && got.is_subset(&ips)) {
            Ok(())
        } else {
            Err(format!("endpoints {got:?}, pods {ips:?}"))
        }
    });

    // Each agent's proxy (as system:kube-proxy) programs the ClusterIP in its namespace.
    let cluster_ip = k.ok_blocking(&[
        "get",
        "svc",
        "-n",
        NS,
        "web",
        "-o",
        "jsonpath={.spec.clusterIP}",
    ]);
    if root && Path::new("/usr/sbin/nft").exists() {
        for n in &nets {
            wait(
                30,
                &format!("the ClusterIP in {}'s nftables rules", n.name),
                || {
                    let (_, out, err) = run(Command::new("ip")
                        .args(["netns", "exec", &n.name, "nft", "list", "ruleset"]));
                    if out.contains(cluster_ip.trim()) {
                        Ok(())
                    } else {
                        Err(format!("{out}{err}"))
                    }
                },
            );
        }
    }

    // Requests to the ClusterIP from inside agent a's namespace reach every replica: its
    // nftables rules pick a pod, local or on kbm-b (routed through the host).
    if root && Path::new("/usr/sbin/nft").exists() {
        let hostnames: BTreeSet<String> = running.iter().map(|(n, _, _)| n.clone()).collect();
        wait(
            40,
            "answers from every replica through the ClusterIP",
            || {
                let mut seen = BTreeSet::new();
                let mut last = String::new();
                for _ in 0..30 {
                    match http_get_in(&nets[0].name, cluster_ip.trim(), 80) {
                        Ok(body) => {
                            seen.insert(body);
                        }
                        Err(e) => last = e,
                    }
                }
                if seen == hostnames {
                    Ok(())
                } else {
                    Err(format!(
                        "saw {seen:?}, want {hostnames:?}; last error: {last}"
                    ))
                }
            },
        );
    }

    // Logs and exec through the API server to each agent's kubelet API (the kubelet token
    // travels in the agent token).
    for (pod, node, _) in &running {
        let out = k.ok_blocking(&["logs", "-n", NS, pod]);
        assert_eq!(
            out.trim(),
            format!("serving {pod}"),
            "logs of {pod} on {node}"
        );
        let out = k.ok_blocking(&[
            "exec",
            "-n",
            NS,
            pod,
            "--",
            "/bin/busybox",
            "cat",
            &format!("{}/{pod}/index.html", www.display()),
        ]);
        assert_eq!(out.trim(), pod, "exec in {pod} on {node}");
    }

    // SIGKILL agent b: its node goes Unknown, its pods are evicted and replaced on node a.
    let victim = 1;
    agents[victim].kill9();
    let killed_at = Instant::now();
    wait(60, "node kbm-b NotReady/Unknown", || {
        let node = k.json_blocking(&["get", "node", "kbm-b"]);
        match condition(&node, "Ready").as_deref() {
            Some("Unknown") | Some("False") => Ok(()),
            other => Err(format!(
                "Ready={other:?}\n{}",
                k.ok_blocking(&["get", "nodes"])
            )),
        }
    });
    let t_unknown = killed_at.elapsed();
    let replaced = wait(90, "3 Ready pods, all on kbm-a", || {
        let (good, summary) = good_pods(&k);
        if good.len() == 3 && good.iter().all(|(_, n, _)| n == "kbm-a") {
            Ok(good)
        } else {
            Err(format!(
                "{summary}\n{}\n{}",
                k.ok_blocking(&["get", "nodes"]),
                logs(&agents, &server)
            ))
        }
    });
    let t_replaced = killed_at.elapsed();
    println!("after SIGKILL: Unknown in {t_unknown:?}, replaced in {t_replaced:?}: {replaced:?}");
    // The node lifecycle controller's doing: the unreachable taints, and the old pods on
    // kbm-b deleted (Terminating: no kubelet confirms their end).
    let node = k.json_blocking(&["get", "node", "kbm-b"]);
    let taints: Vec<String> = node["spec"]["taints"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|t| {
            format!(
                "{}:{}",
                t["key"].as_str().unwrap_or(""),
                t["effect"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert!(
        taints
            .iter()
            .any(|t| t == "node.kubernetes.io/unreachable:NoExecute"),
        "{taints:?}"
    );
    let pods = k.json_blocking(&["get", "pods", "-n", NS, "-l", "app=web"]);
    for p in pods["items"].as_array().cloned().unwrap_or_default() {
        if p["spec"]["nodeName"] == "kbm-b" {
            assert!(
                !p["metadata"]["deletionTimestamp"].is_null(),
                "not evicted: {p}"
            );
        }
    }

    // Online backup of the running server, restored into a new data directory.
    let backup = tmp.path().join("backup.kbak");
    let (ok, out, err) = kubox_backup(&server_dir, &backup);
    assert!(ok, "kubox backup failed:\n{out}\n{err}");
    assert!(out.contains("(online)"), "{out}");
    let restored = tmp.path().join("restored");
    let (ok, out, err) = kubox_restore(&backup, &restored, &[]);
    assert!(ok, "kubox restore failed:\n{out}\n{err}");
    assert!(out.contains("verified"), "{out}");
    // Restoring over an existing data directory is refused.
    let (ok, _, err) = kubox_restore(&backup, &restored, &[]);
    assert!(!ok && err.contains("not empty"), "{err}");

    let (mut second, _) = start_server(
        "restored kubox server",
        strings(&[
            "server",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            &restored.display().to_string(),
        ]),
        tmp.path().join("restored.log"),
    );
    let k2 = k.with_kubeconfig(&restored.join("admin.kubeconfig"));
    let out = k2.ok_blocking(&["get", "deploy,svc", "-n", NS]);
    assert!(out.contains("deployment.apps/web"), "{out}");
    assert!(out.contains("service/web"), "{out}");
    assert!(
        out.contains(cluster_ip.trim()),
        "same ClusterIP after restore: {out}"
    );
    second.stop_cleanly(30);

    // SIGTERM: the surviving agent stops its pods and exits 0, then the server.
    agents[0].stop_cleanly(30);
    server.stop_cleanly(30);
    drop(pods_guard);
    drop(nets);

    // A stopped server's store is backed up directly.
    let offline = tmp.path().join("offline.kbak");
    let (ok, out, err) = kubox_backup(&server_dir, &offline);
    assert!(ok, "kubox backup of a stopped server failed:\n{out}\n{err}");
    assert!(out.contains("stopped server's store"), "{out}");
    println!(
        "multi-process cluster: pods Ready at {t_ready:?}, total {:?}",
        started.elapsed()
    );
}

#[test]
fn bad_flags_fail_with_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let path = |name: &str| tmp.path().join(name).display().to_string();
    let missing = tmp.path().join("missing");
    let m = path("missing");
    let ca = path("ca.crt");
    std::fs::write(&ca, "-----BEGIN CERTIFICATE-----\n").unwrap();
    let empty = path("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let junk = path("junk.kbak");
    std::fs::write(&junk, b"not a backup").unwrap();
    // A data dir that is a file.
    let file = path("file");
    std::fs::write(&file, "x").unwrap();
    let x_kbak = path("x.kbak");
    fn agent<'a>(token: &'a str, ca: &'a str) -> Vec<&'a str> {
        [
            "agent",
            "--server",
            "https://127.0.0.1:1",
            "--token",
            token,
            "--ca-file",
            ca,
        ]
        .to_vec()
    }
    let mut plain_http = agent("kubox1.a.b", &ca);
    plain_http[2] = "http://127.0.0.1:1";
    plain_http.extend(["--name", "n1"]);
    // (arguments, exit code, what stderr must mention): usage errors get clap's exit code 2,
    // runtime errors exit code 1 and a message naming the problem.
    let cases: Vec<(Vec<&str>, i32, Vec<&str>)> = vec![
        (
            vec!["server", "--listen", "not-an-address"],
            2,
            vec!["--listen"],
        ),
        (
            vec!["server", "--node-monitor-grace-period", "5x"],
            2,
            vec!["unknown unit"],
        ),
        (vec!["agent", "--server", "https://127.0.0.1:1"], 2, vec![]),
        (vec!["frobnicate"], 2, vec![]),
        (agent("kubox1.a.b", &m), 1, vec!["--ca-file", &m]),
        (agent("not-a-token", &ca), 1, vec!["malformed agent token"]),
        (plain_http, 1, vec!["https://"]),
        (
            vec!["backup", "--data-dir", &m, "--out", "x.kbak"],
            1,
            vec!["no such directory"],
        ),
        (
            vec!["backup", "--data-dir", &empty, "--out", &x_kbak],
            1,
            vec!["holds no store"],
        ),
        (
            vec!["restore", "--from", &m, "--data-dir", &m],
            1,
            vec!["no such file"],
        ),
        (
            vec!["restore", "--from", &junk, "--data-dir", &m],
            1,
            vec!["verifying"],
        ),
        (
            vec!["server", "--listen", "127.0.0.1:0", "--data-dir", &file],
            1,
            vec!["not a directory"],
        ),
    ];
    for (args, code, needles) in cases {
        let out = Command::new(KUBOX).args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "kubox {args:?}: {err}");
        for n in needles {
            assert!(err.contains(n), "kubox {args:?}: {err}");
        }
    }
    assert!(
        !missing.exists(),
        "a failed restore must not create the data directory"
    );
}

/// `kubox all-in-one`: server and two process nodes in one process, scheduled backups with
/// retention, an online backup, and a clean stop on SIGTERM (bridges and nftables table gone).
#[test]
fn all_in_one_with_scheduled_backups() {
    let pid = std::process::id();
    let tmp = scratch("kubox-aio-");
    let data = tmp.path().join("aio");
    let backups = tmp.path().join("backups");
    let prefix = format!("kbm{pid}q");
    let args = strings(&[
        "all-in-one",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        &data.display().to_string(),
        "--nodes",
        "2",
        "--bridge-prefix",
        &prefix,
        "--pod-cidr",
        "10.215.0.0/16",
        "--nft-table",
        &prefix,
        "--shim",
        "in-process",
        "--backup-dir",
        &backups.display().to_string(),
        "--backup-interval",
        "1s",
        "--backup-keep",
        "2",
    ]);
    let (mut aio, _) = start_server("kubox all-in-one", args, tmp.path().join("aio.log"));
    let out = aio.output();
    assert!(out.contains("2 node(s): node-1, node-2"), "{out}");
    let k =
        Kubectl::new(33, &data.join("admin.kubeconfig"), tmp.path()).with_request_timeout("20s");
    k.until_blocking(60, &["get", "nodes"], |o| ready_nodes(o) == 2);
    // Backups every second, the newest two kept.
    let list = || -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&backups)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.ends_with(".kbak"))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    let first = wait(30, "two scheduled backups", || {
        let l = list();
        if l.len() == 2 {
            Ok(l)
        } else {
            Err(format!("{l:?}"))
        }
    });
    wait(30, "a newer backup replacing the oldest", || {
        let l = list();
        assert!(l.len() <= 2, "retention keeps 2: {l:?}");
        if l.len() == 2 && !l.contains(&first[0]) {
            Ok(())
        } else {
            Err(format!("{l:?}"))
        }
    });
    let online = tmp.path().join("online.kbak");
    let (ok, out, err) = kubox_backup(&data, &online);
    assert!(ok && out.contains("(online)"), "{out}\n{err}");

    aio.stop_cleanly(30);
    if is_root() {
        for i in 0..2 {
            let bridge = format!("{prefix}{i}");
            assert!(
                !Path::new("/sys/class/net").join(&bridge).exists(),
                "bridge {bridge} left behind"
            );
        }
        let (_, tables, _) = run(Command::new("nft").args(["list", "tables"]));
        assert!(!tables.contains(&prefix), "nftables table left: {tables}");
    }
}

/// `kubox server --etcd`: online backups through the server's control socket and directly
/// from etcd (`kubox backup --etcd`), restored into an embedded-store server.
#[cfg(feature = "etcd")]
#[test]
fn etcd_server_backup_and_restore_into_embedded() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let etcd = rt
        .block_on(kubox::store::etcd::testing::EtcdServer::start())
        .expect("this test needs etcd (scripts/test.sh installs etcd-server)");
    let tmp = scratch("kubox-etcd-");
    let d1 = tmp.path().join("etcd-server");
    let (mut server, _) = start_server(
        "kubox server --etcd",
        strings(&[
            "server",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            &d1.display().to_string(),
            "--etcd",
            etcd.endpoint(),
        ]),
        tmp.path().join("etcd-server.log"),
    );
    assert!(server.output().contains("etcd at"), "{}", server.output());
    let k = Kubectl::new(33, &d1.join("admin.kubeconfig"), tmp.path()).with_request_timeout("20s");
    let out = k.ok_blocking(&["create", "configmap", "kept", "--from-literal=k=v"]);
    assert!(out.contains("created"), "{out}");

    let online = tmp.path().join("online.kbak");
    let (ok, out, err) = kubox_backup(&d1, &online);
    assert!(ok && out.contains("(online)"), "{out}\n{err}");
    let direct = tmp.path().join("direct.kbak");
    let (ok, out, err) = run(Command::new(KUBOX).args([
        "backup",
        "--etcd",
        etcd.endpoint(),
        "--out",
        &direct.display().to_string(),
    ]));
    assert!(ok && out.contains("etcd at"), "{out}\n{err}");
    server.stop_cleanly(30);

    for (name, backup) in [("from-online", &online), ("from-direct", &direct)] {
        let d = tmp.path().join(name);
        let (ok, out, err) = kubox_restore(backup, &d, &["--pki-from", &d1.display().to_string()]);
        assert!(ok, "{out}\n{err}");
        let (mut restored, _) = start_server(
            &format!("restored server ({name})"),
            strings(&[
                "server",
                "--listen",
                "127.0.0.1:0",
                "--data-dir",
                &d.display().to_string(),
            ]),
            tmp.path().join(format!("{name}.log")),
        );
        let k2 = k.with_kubeconfig(&d.join("admin.kubeconfig"));
        let v = k2.ok_blocking(&["get", "configmap", "kept", "-o", "jsonpath={.data.k}"]);
        assert_eq!(v, "v", "{name}");
        // The PKI came along: the old admin token still works.
        let old = std::fs::read_to_string(d1.join("pki/admin.token")).unwrap();
        let new = std::fs::read_to_string(d.join("pki/admin.token")).unwrap();
        assert_eq!(old, new);
        restored.stop_cleanly(30);
    }
    drop(etcd);
}
