//! Stock kubectl against the HTTPS server: every `kubectl.1.27` … `kubectl.1.33` installed
//! beside the `kubectl` on PATH (compat.md), plus the dispatcher itself, with the generated
//! admin kubeconfig (CA data + bearer token). Outputs are checked, not only exit codes.
//!
//! A missing binary fails the test with a message saying where it was looked for.

#[macro_use]
mod support;
use support::{kubectl, kubectl_dir, versioned, Out};

use kube_api::http::{self, StaticTokens};
use kube_api::kubeconfig::Kubeconfig;
use kube_api::tls::TlsAssets;
use kube_api::{ApiServer, UserInfo};
use kube_store::embedded::EmbeddedStore;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

struct Env {
    _running: http::Running,
    tmp: tempfile::TempDir,
    kubeconfig: PathBuf,
    home: PathBuf,
}

async fn start() -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let pki = TlsAssets::load_or_generate(&tmp.path().join("pki"), &[]).unwrap();
    let server = ApiServer::new(Arc::new(EmbeddedStore::in_memory()));
    server.ensure_system_namespaces().await.unwrap();
    let tokens = StaticTokens::new().with(pki.admin_token.clone(), UserInfo::admin());
    let cfg = http::Config::new(pki.server_config().unwrap(), Arc::new(tokens));
    let running = http::bind("127.0.0.1:0".parse().unwrap(), server, cfg)
        .await
        .unwrap();
    let kubeconfig = tmp.path().join("admin.kubeconfig");
    Kubeconfig::admin(&running.url(), &pki.ca_pem, &pki.admin_token)
        .write(&kubeconfig)
        .unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    Env {
        _running: running,
        tmp,
        kubeconfig,
        home,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_kubectl_1_27_to_1_33() {
    let dir = kubectl_dir();
    let bins: Vec<(u32, PathBuf)> = (27..=33).map(|m| (m, versioned(&dir, m))).collect();

    let env = start().await;
    let (tmp, kc_path, home) = (&env.tmp, env.kubeconfig.clone(), env.home.clone());

    // The dispatcher on PATH picks kubectl.1.<minor of /version> = 1.33.
    let out = kubectl(&dir.join("kubectl"), &kc_path, &home, &["version"]).await;
    expect!(out, out.ok, "kubectl version (dispatcher) failed");
    expect!(
        out,
        out.stdout.contains("Server Version: v1.33.1"),
        "server version"
    );
    expect!(
        out,
        out.stdout.contains("Client Version: v1.33"),
        "dispatcher picked 1.33"
    );

    for (minor, bin) in &bins {
        let run = |args: Vec<String>| {
            let bin = bin.clone();
            let kc = kc_path.clone();
            let home = home.clone();
            async move {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                kubectl(&bin, &kc, &home, &args).await
            }
        };
        let a = |s: &str| s.split(' ').map(str::to_string).collect::<Vec<_>>();
        let v = format!("1.{minor}");

        let out = run(a("version")).await;
        expect!(out, out.ok, format!("{v}: version"));
        expect!(
            out,
            out.stdout.contains("v1.33.1"),
            format!("{v}: server version")
        );
        let out = run(a("version -o json")).await;
        expect!(out, out.ok, format!("{v}: version -o json"));
        let j: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        expect!(
            out,
            j["clientVersion"]["minor"] == minor.to_string().as_str(),
            format!("{v}: client minor")
        );
        expect!(
            out,
            j["serverVersion"]["gitVersion"] == "v1.33.1",
            format!("{v}: server gitVersion")
        );
        expect!(
            out,
            j["serverVersion"]["minor"] == "33",
            format!("{v}: server minor")
        );

        let out = run(a("api-resources")).await;
        expect!(out, out.ok, format!("{v}: api-resources"));
        let flat = out.flat();
        expect!(
            out,
            flat.contains("NAME SHORTNAMES APIVERSION NAMESPACED KIND"),
            format!("{v}: api-resources header")
        );
        expect!(
            out,
            flat.contains("pods po v1 true Pod"),
            format!("{v}: pods row")
        );
        expect!(
            out,
            flat.contains("deployments deploy apps/v1 true Deployment"),
            format!("{v}: deployments row")
        );
        expect!(
            out,
            flat.contains("clusterroles rbac.authorization.k8s.io/v1 false ClusterRole"),
            format!("{v}: clusterroles row")
        );

        // create namespace: JSON on ≤ 1.31; protobuf on 1.32+ (crate::protobuf decodes it).
        let ns = format!("ns-{minor}");
        let out = run(vec!["create".into(), "namespace".into(), ns.clone()]).await;
        expect!(out, out.ok, format!("{v}: create namespace"));
        expect!(
            out,
            out.stdout.contains(&format!("namespace/{ns} created")),
            format!("{v}: created message")
        );
        let out = run(a("get ns")).await;
        expect!(out, out.ok, format!("{v}: get ns"));
        let flat = out.flat();
        expect!(
            out,
            flat.starts_with("NAME STATUS AGE"),
            format!("{v}: namespace table header")
        );
        expect!(
            out,
            flat.lines()
                .any(|l| l.starts_with(&format!("{ns} Active "))),
            format!("{v}: namespace row")
        );
        expect!(
            out,
            flat.lines().any(|l| l.starts_with("kube-system Active ")),
            format!("{v}: kube-system row")
        );

        // apply -f a ConfigMap: create, change, unchanged.
        let cm = format!("cm-{minor}");
        let manifest = tmp.path().join(format!("{cm}.yaml"));
        let write = |color: &str| {
            std::fs::write(
                &manifest,
                format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {cm}\n  namespace: default\ndata:\n  color: {color}\n"),
            )
            .unwrap()
        };
        let apply = vec![
            "apply".to_string(),
            "-f".into(),
            manifest.display().to_string(),
        ];
        write("blue");
        let out = run(apply.clone()).await;
        expect!(
            out,
            out.ok && out.stdout.contains(&format!("configmap/{cm} created")),
            format!("{v}: apply create")
        );
        write("red");
        let out = run(apply.clone()).await;
        expect!(
            out,
            out.ok && out.stdout.contains(&format!("configmap/{cm} configured")),
            format!("{v}: apply change")
        );
        let out = run(apply.clone()).await;
        expect!(
            out,
            out.ok && out.stdout.contains(&format!("configmap/{cm} unchanged")),
            format!("{v}: apply unchanged")
        );

        let out = run(vec![
            "get".into(),
            "cm".into(),
            cm.clone(),
            "-o".into(),
            "yaml".into(),
        ])
        .await;
        expect!(out, out.ok, format!("{v}: get cm -o yaml"));
        let y: serde_json::Value = serde_norway::from_str(&out.stdout).unwrap();
        expect!(
            out,
            y["data"]["color"] == "red",
            format!("{v}: applied data")
        );
        expect!(
            out,
            y["metadata"]["name"] == cm.as_str(),
            format!("{v}: name")
        );
        expect!(
            out,
            y["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
                .is_string(),
            format!("{v}: last-applied annotation")
        );
        expect!(
            out,
            y["metadata"]["uid"].is_string() && y["metadata"]["resourceVersion"].is_string(),
            format!("{v}: uid/resourceVersion")
        );

        let out = run(a("get cm")).await;
        let flat = out.flat();
        expect!(
            out,
            out.ok && flat.starts_with("NAME DATA AGE"),
            format!("{v}: configmap table header")
        );
        expect!(
            out,
            flat.lines().any(|l| l.starts_with(&format!("{cm} 1 "))),
            format!("{v}: configmap row")
        );

        // A pod (kubectl run posts JSON on every version), then get pods -A / -o wide.
        let pod = format!("pod-{minor}");
        let out = run(vec![
            "run".into(),
            pod.clone(),
            "--image=busybox:1.36".into(),
        ])
        .await;
        expect!(
            out,
            out.ok && out.stdout.contains(&format!("pod/{pod} created")),
            format!("{v}: run")
        );
        let out = run(a("get pods -A")).await;
        expect!(out, out.ok, format!("{v}: get pods -A"));
        let flat = out.flat();
        expect!(
            out,
            flat.starts_with("NAMESPACE NAME READY STATUS RESTARTS AGE"),
            format!("{v}: pods -A header")
        );
        expect!(
            out,
            flat.lines()
                .any(|l| l.starts_with(&format!("default {pod} 0/1 Pending 0 "))),
            format!("{v}: pod row")
        );
        let out = run(vec![
            "get".into(),
            "pod".into(),
            pod.clone(),
            "-o".into(),
            "wide".into(),
        ])
        .await;
        let flat = out.flat();
        expect!(
            out,
            out.ok
                && flat.starts_with(
                    "NAME READY STATUS RESTARTS AGE IP NODE NOMINATED NODE READINESS GATES"
                ),
            format!("{v}: -o wide header")
        );
        expect!(
            out,
            flat.lines()
                .any(|l| l.starts_with(&pod) && l.ends_with("<none> <none> <none> <none>")),
            format!("{v}: -o wide row")
        );

        // Errors come back as kubectl prints Status objects.
        let out = run(a("get cm does-not-exist")).await;
        expect!(
            out,
            !out.ok
                && out.stderr.contains(
                    "Error from server (NotFound): configmaps \"does-not-exist\" not found"
                ),
            format!("{v}: NotFound")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_kubectl_changes_objects() {
    let dir = kubectl_dir();
    let bins: Vec<(u32, PathBuf)> = (27..=33).map(|m| (m, versioned(&dir, m))).collect();
    let env = start().await;
    for (minor, bin) in &bins {
        let v = format!("1.{minor}");
        let run = |args: Vec<String>| {
            let bin = bin.clone();
            let kc = env.kubeconfig.clone();
            let home = env.home.clone();
            async move {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                kubectl(&bin, &kc, &home, &args).await
            }
        };
        let a = |s: &str| s.split(' ').map(str::to_string).collect::<Vec<_>>();
        let name = format!("web-{minor}");
        let manifest = env.tmp.path().join(format!("{name}.yaml"));
        std::fs::write(
            &manifest,
            format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {{app: {name}}}\n  template:\n    metadata:\n      labels: {{app: {name}}}\n    spec:\n      containers:\n      - name: c\n        image: busybox:1.36\n"
            ),
        )
        .unwrap();
        let file = manifest.display().to_string();

        let out = run(vec![
            "apply".into(),
            "--server-side".into(),
            "-f".into(),
            file.clone(),
        ])
        .await;
        expect!(
            out,
            out.ok
                && out
                    .stdout
                    .contains(&format!("deployment.apps/{name} serverside-applied")),
            format!("{v}: apply --server-side")
        );
        let out = run(a(&format!("scale deployment {name} --replicas=3"))).await;
        expect!(
            out,
            out.ok
                && out
                    .stdout
                    .contains(&format!("deployment.apps/{name} scaled")),
            format!("{v}: scale")
        );
        let out = run(a(&format!("label deployment {name} tier=fe"))).await;
        expect!(
            out,
            out.ok
                && out
                    .stdout
                    .contains(&format!("deployment.apps/{name} labeled")),
            format!("{v}: label")
        );
        let out = run(a(&format!("annotate deployment {name} note=hi"))).await;
        expect!(
            out,
            out.ok
                && out
                    .stdout
                    .contains(&format!("deployment.apps/{name} annotate")), // kubectl 1.27 prints "annotate"
            format!("{v}: annotate")
        );
        for (ty, patch) in [
            (
                "json",
                r#"[{"op":"replace","path":"/spec/replicas","value":4}]"#,
            ),
            ("merge", r#"{"metadata":{"labels":{"merge":"yes"}}}"#),
            (
                "strategic",
                r#"{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"busybox:1.37"}]}}}}"#,
            ),
        ] {
            let out = run(vec![
                "patch".into(),
                "deployment".into(),
                name.clone(),
                format!("--type={ty}"),
                "-p".into(),
                patch.into(),
            ])
            .await;
            expect!(
                out,
                out.ok && out.stdout.contains("patched"),
                format!("{v}: patch --type={ty}")
            );
        }
        let out = run(a(&format!("get deployment {name} -o json"))).await;
        expect!(out, out.ok, format!("{v}: get -o json"));
        let d: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        expect!(
            out,
            d["spec"]["replicas"] == 4,
            format!("{v}: replicas after scale + json patch")
        );
        expect!(
            out,
            d["metadata"]["labels"]["tier"] == "fe" && d["metadata"]["labels"]["merge"] == "yes",
            format!("{v}: labels")
        );
        expect!(
            out,
            d["metadata"]["annotations"]["note"] == "hi",
            format!("{v}: annotation")
        );
        expect!(
            out,
            d["spec"]["template"]["spec"]["containers"][0]["image"] == "busybox:1.37",
            format!("{v}: strategic patch")
        );
        let out = run(vec![
            "get".into(),
            "deploy".into(),
            "-l".into(),
            "tier=fe".into(),
            "-o".into(),
            "jsonpath={.items[*].metadata.name}".into(),
        ])
        .await;
        expect!(
            out,
            out.ok && out.stdout.split_whitespace().any(|n| n == name),
            format!("{v}: -l + jsonpath")
        );
        let out = run(vec![
            "get".into(),
            "deploy".into(),
            "--field-selector".into(),
            format!("metadata.name={name}"),
        ])
        .await;
        let flat = out.flat();
        expect!(
            out,
            out.ok
                && flat.starts_with("NAME READY UP-TO-DATE AVAILABLE AGE")
                && flat.contains(&format!("{name} 0/4 ")),
            format!("{v}: --field-selector table")
        );
        let out = run(a(&format!("describe deployment {name}"))).await;
        let described = out.flat();
        expect!(
            out,
            out.ok
                && described.contains(&format!("Name: {name}"))
                && described.contains("Namespace: default")
                && described.contains("Replicas: 4 desired")
                && described.contains("Image: busybox:1.37"),
            format!("{v}: describe")
        );
        // `replace` with the resourceVersion read above, after another change: 409 Conflict.
        let stale = env.tmp.path().join(format!("{name}-stale.json"));
        std::fs::write(&stale, serde_json::to_string(&d).unwrap()).unwrap();
        let out = run(a(&format!("annotate deployment {name} bump=1"))).await;
        expect!(
            out,
            out.ok,
            format!("{v}: annotate before the stale replace")
        );
        let out = run(vec![
            "replace".into(),
            "-f".into(),
            stale.display().to_string(),
        ])
        .await;
        expect!(
            out,
            !out.ok
                && out.stderr.contains(&format!(
                    "Error from server (Conflict): error when replacing \"{}\": Operation cannot be fulfilled on deployments.apps \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                    stale.display()
                )),
            format!("{v}: replace with a stale resourceVersion")
        );
        let out = run(a(&format!("delete deployment {name} --wait=true"))).await;
        expect!(
            out,
            out.ok
                && out
                    .stdout
                    .contains(&format!("deployment.apps \"{name}\" deleted")),
            format!("{v}: delete")
        );
        let out = run(a(&format!("get deployment {name}"))).await;
        expect!(
            out,
            !out.ok && out.stderr.contains("(NotFound)"),
            format!("{v}: gone after delete")
        );
    }
}

/// Reads `kubectl get -w` output until a line (whitespace collapsed) starts with `want`.
async fn wait_for(
    lines: &mut tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
    seen: &mut Vec<String>,
    want: &str,
    minor: u32,
) {
    let found = tokio::time::timeout(Duration::from_secs(15), async {
        while let Some(l) = lines.next_line().await.unwrap() {
            let flat = l.split_whitespace().collect::<Vec<_>>().join(" ");
            seen.push(flat.clone());
            if flat.starts_with(want) {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    assert!(
        found,
        "1.{minor}: `get cm -w` never printed {want:?}; saw {seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_kubectl_watches() {
    use tokio::io::AsyncBufReadExt;
    let dir = kubectl_dir();
    let env = start().await;
    for minor in [27, 33] {
        let bin = versioned(&dir, minor);
        let first = format!("w-{minor}-a");
        let second = format!("w-{minor}-b");
        let file = env.tmp.path().join(format!("{first}.yaml"));
        std::fs::write(
            &file,
            format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {first}\n"),
        )
        .unwrap();
        let out = kubectl(
            &bin,
            &env.kubeconfig,
            &env.home,
            &["apply", "-f", &file.display().to_string()],
        )
        .await;
        assert!(out.ok, "1.{minor}: apply: {}", out.stderr);

        let mut child = tokio::process::Command::new(&bin)
            .args(["get", "cm", "-w"])
            .env("KUBECONFIG", &env.kubeconfig)
            .env("HOME", &env.home)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let mut seen = Vec::new();
        wait_for(&mut lines, &mut seen, "NAME DATA AGE", minor).await;
        wait_for(&mut lines, &mut seen, &format!("{first} 0 "), minor).await;
        let file = env.tmp.path().join(format!("{second}.yaml"));
        std::fs::write(
            &file,
            format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {second}\ndata:\n  k: v\n"
            ),
        )
        .unwrap();
        let out = kubectl(
            &bin,
            &env.kubeconfig,
            &env.home,
            &["apply", "-f", &file.display().to_string()],
        )
        .await;
        assert!(out.ok, "1.{minor}: apply: {}", out.stderr);
        wait_for(&mut lines, &mut seen, &format!("{second} 1 "), minor).await;
        child.kill().await.unwrap();
    }
}

/// The typed `kubectl create …` commands: JSON bodies on 1.27–1.31, protobuf bodies
/// (`application/vnd.kubernetes.protobuf`) on 1.32/1.33. Every version must create the same
/// objects, read back with `get -o json`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_kubectl_typed_creates() {
    let dir = kubectl_dir();
    let bins: Vec<(u32, PathBuf)> = (27..=33).map(|m| (m, versioned(&dir, m))).collect();
    let env = start().await;
    for (minor, bin) in &bins {
        let v = format!("1.{minor}");
        let run = |args: &[&str]| {
            let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
            let (bin, kc, home) = (bin.clone(), env.kubeconfig.clone(), env.home.clone());
            async move {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                kubectl(&bin, &kc, &home, &args).await
            }
        };
        let get = |kind: &'static str, name: String, ns: String| {
            let (bin, kc, home, v) = (
                bin.clone(),
                env.kubeconfig.clone(),
                env.home.clone(),
                v.clone(),
            );
            async move {
                let args = ["get", kind, &name, "-n", &ns, "-o", "json"];
                let out = kubectl(&bin, &kc, &home, &args).await;
                expect!(out, out.ok, format!("{v}: get {kind} {name}"));
                serde_json::from_str::<serde_json::Value>(&out.stdout).unwrap()
            }
        };
        let created = |out: &Out, what: &str| {
            expect!(
                out,
                out.ok && out.stdout.contains(&format!("{what} created")),
                format!("{v}: create {what}")
            );
        };

        let ns = format!("typed-{minor}");
        created(
            &run(&["create", "namespace", &ns]).await,
            &format!("namespace/{ns}"),
        );
        let o = get("namespace", ns.clone(), ns.clone()).await;
        assert_eq!(o["status"]["phase"], "Active", "{v}: {o}");

        let cm = format!("cm-{minor}");
        let out = run(&["create", "configmap", &cm, "--from-literal=a=b", "-n", &ns]).await;
        created(&out, &format!("configmap/{cm}"));
        let o = get("configmap", cm.clone(), ns.clone()).await;
        assert_eq!(o["data"], serde_json::json!({"a": "b"}), "{v}: {o}");
        assert_eq!(o["metadata"]["namespace"], ns.as_str(), "{v}: {o}");

        let secret = format!("s-{minor}");
        let out = run(&[
            "create",
            "secret",
            "generic",
            &secret,
            "--from-literal=k=v",
            "-n",
            &ns,
        ])
        .await;
        created(&out, &format!("secret/{secret}"));
        let o = get("secret", secret.clone(), ns.clone()).await;
        assert_eq!(o["data"], serde_json::json!({"k": "dg=="}), "{v}: {o}");
        assert_eq!(o["type"], "Opaque", "{v}: {o}");

        let deploy = format!("web-{minor}");
        let out = run(&[
            "create",
            "deployment",
            &deploy,
            "--image=nginx:1.25",
            "--replicas=2",
            "-n",
            &ns,
        ])
        .await;
        created(&out, &format!("deployment.apps/{deploy}"));
        let o = get("deployment", deploy.clone(), ns.clone()).await;
        assert_eq!(o["spec"]["replicas"], 2, "{v}: {o}");
        let created_at = o["metadata"]["creationTimestamp"].as_str().unwrap_or("");
        assert!(created_at.starts_with("20"), "{v}: {o}");
        assert_eq!(
            o["spec"]["selector"]["matchLabels"]["app"],
            deploy.as_str(),
            "{v}: {o}"
        );
        let c = &o["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["image"], "nginx:1.25", "{v}: {o}");
        assert_eq!(c["name"], "nginx", "{v}: {o}");

        let svc = format!("svc-{minor}");
        let out = run(&[
            "create",
            "service",
            "clusterip",
            &svc,
            "--tcp=80:8080",
            "-n",
            &ns,
        ])
        .await;
        created(&out, &format!("service/{svc}"));
        let o = get("service", svc.clone(), ns.clone()).await;
        let p = &o["spec"]["ports"][0];
        assert_eq!(
            (&p["port"], &p["targetPort"], &p["protocol"]),
            (
                &serde_json::json!(80),
                &serde_json::json!(8080),
                &serde_json::json!("TCP")
            ),
            "{v}: {o}"
        );
        assert_eq!(o["spec"]["type"], "ClusterIP", "{v}: {o}");
        assert!(o["spec"]["clusterIP"].is_string(), "{v}: {o}");
    }
}
