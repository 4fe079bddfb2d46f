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

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const KUBOX: &str = env!("CARGO_BIN_EXE_kubox");
const NS: &str = "mp";

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

/// `kubectl.1.33` beside the `kubectl` on PATH (see shared/compat.md), or on PATH itself.
fn kubectl_bin() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let direct = dir.join("kubectl.1.33");
        if direct.is_file() {
            return direct;
        }
        let k = dir.join("kubectl");
        if k.is_file() {
            if let Some(real) = std::fs::canonicalize(&k)
                .ok()
                .and_then(|p| p.parent().map(|d| d.join("kubectl.1.33")))
                .filter(|p| p.is_file())
            {
                return real;
            }
        }
    }
    panic!("kubectl.1.33 is not installed beside `kubectl` on PATH (see shared/compat.md)");
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

struct Kubectl {
    bin: PathBuf,
    kubeconfig: PathBuf,
    home: PathBuf,
}

impl Kubectl {
    fn run(&self, args: &[&str]) -> (bool, String, String) {
        run(Command::new(&self.bin)
            .args(["--request-timeout", "20s"])
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", &self.home))
    }

    fn ok(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.run(args);
        assert!(
            ok,
            "kubectl {args:?} failed\n--- stdout:\n{out}\n--- stderr:\n{err}"
        );
        out
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut full = args.to_vec();
        full.extend(["-o", "json"]);
        let out = self.ok(&full);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("kubectl {args:?}: {e}: {out}"))
    }
}

/// Polls `f` every 500 ms until it returns `Ok`; panics with the last `Err` after `secs`.
fn wait<T>(secs: u64, what: &str, mut f: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        match f() {
            Ok(v) => return v,
            Err(e) if Instant::now() >= deadline => {
                panic!("timed out after {secs}s waiting for {what}; last state:\n{e}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(500)),
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
    let list = k.json(&["get", "pods", "-n", NS, "-l", "app=web"]);
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
    let www = www.display();
    // With own pod IPs every replica serves :8080 and the kubelet probes it over HTTP. On the
    // host network (no root) the replicas cannot share a port: each takes the first free one
    // and readiness is an exec probe.
    let (serve, probe) = if root {
        (
            format!("exec /bin/busybox httpd -f -p 8080 -h {www}/$HOSTNAME"),
            "httpGet:\n            path: /\n            port: 8080".to_string(),
        )
    } else {
        (
            format!(
                "for p in 18080 18081 18082 18083 18084 18085; do /bin/busybox httpd -f -p $p -h {www}/$HOSTNAME; done"
            ),
            format!(
                "exec:\n            command: [/bin/busybox, sh, -c, \"test -f {www}/$HOSTNAME/index.html\"]"
            ),
        )
    };
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
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
      terminationGracePeriodSeconds: 2
      topologySpreadConstraints:
      - maxSkew: 1
        topologyKey: kubernetes.io/hostname
        whenUnsatisfiable: DoNotSchedule
        nodeTaintsPolicy: Honor
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
        - mkdir -p {www}/$HOSTNAME && echo $HOSTNAME > {www}/$HOSTNAME/index.html && echo serving $HOSTNAME && {serve}
        ports:
        - containerPort: 8080
        readinessProbe:
          {probe}
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
"#
    )
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
    assert!(
        Path::new("/bin/busybox").is_file(),
        "/bin/busybox is missing: scripts/test.sh installs busybox-static"
    );
    let started = Instant::now();
    let root = is_root();
    let pid = std::process::id();
    let tmp = tempfile::Builder::new()
        .prefix("kubox-mp-")
        .tempdir()
        .unwrap();
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
    let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let mut server_args = s(&[
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
        server_args.extend(s(&["--advertise-address", &nets[0].host_ip]));
    }
    let (mut server, url) =
        start_server("kubox server", server_args, tmp.path().join("server.log"));
    let k = Kubectl {
        bin: kubectl_bin(),
        kubeconfig: server_dir.join("admin.kubeconfig"),
        home: home.clone(),
    };
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
        let mut args = s(&[
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
            args.extend(s(&[
                "--node-ip",
                &n.ns_ip,
                "--pod-cidr",
                &format!("10.214.{}.0/24", i + 1),
                "--bridge",
                &n.name,
            ]));
        } else {
            args.extend(s(&["--host-network", "--proxy", "none"]));
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
        let nodes = k.json(&["get", "nodes"]);
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
                k.ok(&["get", "nodes", "-o", "wide"]),
                logs(&agents, &server)
            ))
        }
    });
    let wide = k.ok(&["get", "nodes", "-o", "wide"]);
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
    let as_node = Kubectl {
        bin: k.bin.clone(),
        kubeconfig: node_kc,
        home: home.clone(),
    };
    let out = as_node.ok(&[
        "label",
        "node",
        "kbm-a",
        "example.com/own=yes",
        "--overwrite",
    ]);
    assert!(out.contains("labeled"), "{out}");
    let (ok, _, err) = as_node.run(&["label", "node", "kbm-b", "example.com/other=yes"]);
    assert!(
        !ok && err.contains("Forbidden"),
        "labelling another node: {err}"
    );
    let (ok, _, err) = as_node.run(&["get", "secrets", "-A"]);
    assert!(
        !ok && err.contains("Forbidden"),
        "listing secrets as a node: {err}"
    );

    // The Deployment and Service.
    let out = k.ok(&["create", "namespace", NS]);
    assert!(out.contains("created"), "{out}");
    let out = k.ok(&[
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
        let out = k.ok(&[
            "get",
            "endpoints",
            "-n",
            NS,
            "web",
            "-o",
            "jsonpath={.subsets[*].addresses[*].ip}",
        ]);
        let got: BTreeSet<String> = out.split_whitespace().map(String::from).collect();
        if (root && got == ips) || (!root && !got.is_empty() && got.is_subset(&ips)) {
            Ok(())
        } else {
            Err(format!("endpoints {got:?}, pods {ips:?}"))
        }
    });

    // Each agent's proxy (as system:kube-proxy) programs the ClusterIP in its namespace.
    let cluster_ip = k.ok(&[
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
        let out = k.ok(&["logs", "-n", NS, pod]);
        assert_eq!(
            out.trim(),
            format!("serving {pod}"),
            "logs of {pod} on {node}"
        );
        let out = k.ok(&[
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
        let node = k.json(&["get", "node", "kbm-b"]);
        match condition(&node, "Ready").as_deref() {
            Some("Unknown") | Some("False") => Ok(()),
            other => Err(format!("Ready={other:?}\n{}", k.ok(&["get", "nodes"]))),
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
                k.ok(&["get", "nodes"]),
                logs(&agents, &server)
            ))
        }
    });
    let t_replaced = killed_at.elapsed();
    println!("after SIGKILL: Unknown in {t_unknown:?}, replaced in {t_replaced:?}: {replaced:?}");
    // The node lifecycle controller's doing: the unreachable taints, and the old pods on
    // kbm-b deleted (Terminating: no kubelet confirms their end).
    let node = k.json(&["get", "node", "kbm-b"]);
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
    let pods = k.json(&["get", "pods", "-n", NS, "-l", "app=web"]);
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
    let (ok, out, err) = run(Command::new(KUBOX).args([
        "backup",
        "--data-dir",
        &server_dir.display().to_string(),
        "--out",
        &backup.display().to_string(),
    ]));
    assert!(ok, "kubox backup failed:\n{out}\n{err}");
    assert!(out.contains("(online)"), "{out}");
    let restored = tmp.path().join("restored");
    let (ok, out, err) = run(Command::new(KUBOX).args([
        "restore",
        "--from",
        &backup.display().to_string(),
        "--data-dir",
        &restored.display().to_string(),
    ]));
    assert!(ok, "kubox restore failed:\n{out}\n{err}");
    assert!(out.contains("verified"), "{out}");
    // Restoring over an existing data directory is refused.
    let (ok, _, err) = run(Command::new(KUBOX).args([
        "restore",
        "--from",
        &backup.display().to_string(),
        "--data-dir",
        &restored.display().to_string(),
    ]));
    assert!(!ok && err.contains("not empty"), "{err}");

    let (mut second, _) = start_server(
        "restored kubox server",
        s(&[
            "server",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            &restored.display().to_string(),
        ]),
        tmp.path().join("restored.log"),
    );
    let k2 = Kubectl {
        bin: k.bin.clone(),
        kubeconfig: restored.join("admin.kubeconfig"),
        home: home.clone(),
    };
    let out = k2.ok(&["get", "deploy,svc", "-n", NS]);
    assert!(out.contains("deployment.apps/web"), "{out}");
    assert!(out.contains("service/web"), "{out}");
    assert!(
        out.contains(cluster_ip.trim()),
        "same ClusterIP after restore: {out}"
    );
    let status = second.terminate(30);
    assert!(
        status.is_some_and(|s| s.success()),
        "restored server did not stop cleanly on SIGTERM ({status:?}):\n{}",
        second.output()
    );

    // SIGTERM: the surviving agent stops its pods and exits 0, then the server.
    let status = agents[0].terminate(30);
    assert!(
        status.is_some_and(|s| s.success()),
        "agent kbm-a did not stop cleanly on SIGTERM ({status:?}):\n{}",
        agents[0].output()
    );
    let status = server.terminate(30);
    assert!(
        status.is_some_and(|s| s.success()),
        "server did not stop cleanly on SIGTERM ({status:?}):\n{}",
        server.output()
    );
    drop(pods_guard);
    drop(nets);

    // A stopped server's store is backed up directly.
    let offline = tmp.path().join("offline.kbak");
    let (ok, out, err) = run(Command::new(KUBOX).args([
        "backup",
        "--data-dir",
        &server_dir.display().to_string(),
        "--out",
        &offline.display().to_string(),
    ]));
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
    let kubox = |args: &[&str]| {
        let out = Command::new(KUBOX).args(args).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // Usage errors: clap's exit code 2.
    let (code, err) = kubox(&["server", "--listen", "not-an-address"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--listen"), "{err}");
    let (code, err) = kubox(&["server", "--node-monitor-grace-period", "5x"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("unknown unit"), "{err}");
    let (code, err) = kubox(&["agent", "--server", "https://127.0.0.1:1"]);
    assert_eq!(code, Some(2), "{err}");
    let (code, err) = kubox(&["frobnicate"]);
    assert_eq!(code, Some(2), "{err}");

    // Runtime errors: exit code 1 and a message naming the problem.
    let missing = tmp.path().join("missing");
    let m = missing.display().to_string();
    let (code, err) = kubox(&[
        "agent",
        "--server",
        "https://127.0.0.1:1",
        "--token",
        "kubox1.a.b",
        "--ca-file",
        &m,
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("--ca-file") && err.contains(&m), "{err}");
    let ca = tmp.path().join("ca.crt");
    std::fs::write(&ca, "-----BEGIN CERTIFICATE-----\n").unwrap();
    let (code, err) = kubox(&[
        "agent",
        "--server",
        "https://127.0.0.1:1",
        "--token",
        "not-a-token",
        "--ca-file",
        &ca.display().to_string(),
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("malformed agent token"), "{err}");
    let (code, err) = kubox(&[
        "agent",
        "--server",
        "http://127.0.0.1:1",
        "--token",
        "kubox1.a.b",
        "--ca-file",
        &ca.display().to_string(),
        "--name",
        "n1",
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("https://"), "{err}");
    let (code, err) = kubox(&["backup", "--data-dir", &m, "--out", "x.kbak"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("no such directory"), "{err}");
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let (code, err) = kubox(&[
        "backup",
        "--data-dir",
        &empty.display().to_string(),
        "--out",
        &tmp.path().join("x.kbak").display().to_string(),
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("holds no store"), "{err}");
    let (code, err) = kubox(&["restore", "--from", &m, "--data-dir", &m]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("no such file"), "{err}");
    let junk = tmp.path().join("junk.kbak");
    std::fs::write(&junk, b"not a backup").unwrap();
    let (code, err) = kubox(&[
        "restore",
        "--from",
        &junk.display().to_string(),
        "--data-dir",
        &m,
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("verifying"), "{err}");
    assert!(
        !missing.exists(),
        "a failed restore must not create the data directory"
    );
    // A data dir that is a file.
    let file = tmp.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let (code, err) = kubox(&[
        "server",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        &file.display().to_string(),
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("not a directory"), "{err}");
}

/// `kubox all-in-one`: server and two process nodes in one process, scheduled backups with
/// retention, an online backup, and a clean stop on SIGTERM (bridges and nftables table gone).
#[test]
fn all_in_one_with_scheduled_backups() {
    let pid = std::process::id();
    let tmp = tempfile::Builder::new()
        .prefix("kubox-aio-")
        .tempdir()
        .unwrap();
    let data = tmp.path().join("aio");
    let backups = tmp.path().join("backups");
    let prefix = format!("kbm{pid}q");
    let args: Vec<String> = [
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
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let (mut aio, _) = start_server("kubox all-in-one", args, tmp.path().join("aio.log"));
    let out = aio.output();
    assert!(out.contains("2 node(s): node-1, node-2"), "{out}");
    let k = Kubectl {
        bin: kubectl_bin(),
        kubeconfig: data.join("admin.kubeconfig"),
        home: tmp.path().to_path_buf(),
    };
    wait(60, "node-1 and node-2 Ready", || {
        let out = k.ok(&["get", "nodes"]);
        let ready = out
            .lines()
            .filter(|l| l.split_whitespace().nth(1) == Some("Ready"))
            .count();
        if ready == 2 {
            Ok(())
        } else {
            Err(out)
        }
    });
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
    let (ok, out, err) = run(Command::new(KUBOX).args([
        "backup",
        "--data-dir",
        &data.display().to_string(),
        "--out",
        &online.display().to_string(),
    ]));
    assert!(ok && out.contains("(online)"), "{out}\n{err}");

    let status = aio.terminate(30);
    assert!(
        status.is_some_and(|s| s.success()),
        "all-in-one did not stop cleanly on SIGTERM ({status:?}):\n{}",
        aio.output()
    );
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
    let tmp = tempfile::Builder::new()
        .prefix("kubox-etcd-")
        .tempdir()
        .unwrap();
    let d1 = tmp.path().join("etcd-server");
    let (mut server, _) = start_server(
        "kubox server --etcd",
        [
            "server",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            &d1.display().to_string(),
            "--etcd",
            etcd.endpoint(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        tmp.path().join("etcd-server.log"),
    );
    assert!(server.output().contains("etcd at"), "{}", server.output());
    let k = Kubectl {
        bin: kubectl_bin(),
        kubeconfig: d1.join("admin.kubeconfig"),
        home: tmp.path().to_path_buf(),
    };
    let out = k.ok(&["create", "configmap", "kept", "--from-literal=k=v"]);
    assert!(out.contains("created"), "{out}");

    let online = tmp.path().join("online.kbak");
    let (ok, out, err) = run(Command::new(KUBOX).args([
        "backup",
        "--data-dir",
        &d1.display().to_string(),
        "--out",
        &online.display().to_string(),
    ]));
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
    let status = server.terminate(30);
    assert!(
        status.is_some_and(|s| s.success()),
        "etcd server did not stop cleanly ({status:?}):\n{}",
        server.output()
    );

    for (name, backup) in [("from-online", &online), ("from-direct", &direct)] {
        let d = tmp.path().join(name);
        let (ok, out, err) = run(Command::new(KUBOX).args([
            "restore",
            "--from",
            &backup.display().to_string(),
            "--data-dir",
            &d.display().to_string(),
            "--pki-from",
            &d1.display().to_string(),
        ]));
        assert!(ok, "{out}\n{err}");
        let (mut restored, _) = start_server(
            &format!("restored server ({name})"),
            [
                "server",
                "--listen",
                "127.0.0.1:0",
                "--data-dir",
                &d.display().to_string(),
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            tmp.path().join(format!("{name}.log")),
        );
        let k2 = Kubectl {
            bin: k.bin.clone(),
            kubeconfig: d.join("admin.kubeconfig"),
            home: tmp.path().to_path_buf(),
        };
        let v = k2.ok(&["get", "configmap", "kept", "-o", "jsonpath={.data.k}"]);
        assert_eq!(v, "v", "{name}");
        // The PKI came along: the old admin token still works.
        let old = std::fs::read_to_string(d1.join("pki/admin.token")).unwrap();
        let new = std::fs::read_to_string(d.join("pki/admin.token")).unwrap();
        assert_eq!(old, new);
        let status = restored.terminate(30);
        assert!(status.is_some_and(|s| s.success()), "{}", restored.output());
    }
    drop(etcd);
}
