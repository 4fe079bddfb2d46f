//! A real, throw-away containerd for tests and benchmarks, with local images and no registry.
//!
//! [`Containerd::start`] writes its own containerd config (CRI plugin with
//! `sandbox_image = "localhost/pause:3.9"`, `restrict_oom_score_adj = true`, runc v2 without
//! systemd cgroups, CNI binaries from `/usr/lib/cni`, its own root, state, runc root and
//! sockets) in a fresh temporary directory, starts `containerd`, waits until CRI answers, then
//! builds two docker-archive images from the host's static busybox (`/bin/busybox`, Debian
//! package busybox-static) — [`PAUSE_IMAGE`] and [`BUSYBOX_IMAGE`] — and imports them with
//! `ctr images import` into the `k8s.io` namespace. Dropping it deletes leftover containers
//! (`runc delete --force`), stops containerd and its shims, unmounts what it mounted and
//! removes the directory.
//!
//! With [`Options::pod_network`], containerd runs inside a fresh network namespace (entered
//! with `nsenter --net`, needs root and `ip`) with a CNI bridge + host-local config, so pods
//! that are not host-network get their own IP. Exec streams are then served inside that
//! namespace, out of reach from the test process: use [`Containerd::start`] (host network
//! pods only) for interactive exec.
//!
//! Missing binaries are an error whose message says how to install them (the full test
//! command `bash scripts/test.sh` does): tests that need containerd fail, never skip.
//!
//! ```no_run
//! use kube_node::runtime::cri::testing::{Containerd, BUSYBOX_IMAGE};
//! use kube_node::runtime::Runtime;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> kube_node::runtime::Result<()> {
//! let containerd = Containerd::start().await?;
//! let runtime = containerd.runtime().await?;
//! assert!(runtime.image_status(BUSYBOX_IMAGE).await?.is_some());
//! # Ok(())
//! # }
//! ```

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::CriRuntime;
use crate::runtime::{Error, Result, Runtime};

/// The pause image the harness builds (busybox sleeping forever).
pub const PAUSE_IMAGE: &str = "localhost/pause:3.9";
/// The busybox image the harness builds (static busybox with its applets in `/bin`).
pub const BUSYBOX_IMAGE: &str = "localhost/busybox:1.36";

/// The applets linked in the busybox image's `/bin`.
const APPLETS: &[&str] = &[
    "sh", "ash", "sleep", "echo", "cat", "true", "false", "ls", "env", "id", "hostname", "ps",
    "kill", "wc", "head", "tail", "printf", "test", "grep", "mkdir", "rm", "touch", "date", "ip",
    "nc", "wget", "pwd", "uname", "seq", "yes", "tee", "sed", "awk",
];

/// How long [`Containerd::start`] waits for containerd to answer.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long drop waits for containerd to stop after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// `sh -c` script: runs `"$0" "$@"` in the background, SIGTERMs it when stdin reaches end of
/// file (on drop, or when the test process dies), and exits with its status.
const SUPERVISOR: &str = r#"exec 3<&0; "$0" "$@" </dev/null 3<&- & pid=$!; (read -r _ <&3; kill "$pid" 2>/dev/null) & wait "$pid""#;

/// Options of [`Containerd::start_with`].
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Run containerd in its own network namespace with a CNI bridge, so that pod-network
    /// sandboxes get an IP (needs root).
    pub pod_network: bool,
    /// Directory in which to create the temporary directory (`/tmp` if `None`; keep it short:
    /// socket paths are limited to 107 bytes).
    pub parent_dir: Option<PathBuf>,
}

/// A running containerd with [`PAUSE_IMAGE`] and [`BUSYBOX_IMAGE`] imported; stopped and
/// cleaned up on drop.
#[derive(Debug)]
pub struct Containerd {
    child: Option<Child>,
    dir: PathBuf,
    socket: PathBuf,
    netns: Option<String>,
    subnet: Option<String>,
}

fn other(what: impl std::fmt::Display) -> Error {
    Error::Other(what.to_string())
}

fn find_bin(name: &str, package: &str) -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path).chain(
        ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
            .iter()
            .map(PathBuf::from),
    ) {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    Err(Error::Unavailable(format!(
        "`{name}` is not installed, and the CRI tests need a real containerd: run the full test \
         command `bash scripts/test.sh`, which installs it (Debian package {package})"
    )))
}

impl Containerd {
    /// Starts a containerd for host-network pods (no CNI network) in a fresh directory.
    pub async fn start() -> Result<Containerd> {
        Self::start_with(Options::default()).await
    }

    /// [`Containerd::start`] with options.
    pub async fn start_with(options: Options) -> Result<Containerd> {
        let containerd = find_bin("containerd", "containerd")?;
        find_bin("runc", "runc")?;
        let ctr = find_bin("ctr", "containerd")?;
        let busybox = PathBuf::from("/bin/busybox");
        if !busybox.is_file() {
            return Err(Error::Unavailable(
                "/bin/busybox is missing: install the Debian package busybox-static (bash \
                 scripts/test.sh does)"
                    .into(),
            ));
        }
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let id = format!("{}-{n}", std::process::id());
        let parent = options.parent_dir.clone().unwrap_or_else(|| "/tmp".into());
        let dir = parent.join(format!("kbx-ctrd-{id}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("cni")).map_err(other)?;
        let socket = dir.join("containerd.sock");
        let mut me = Containerd {
            child: None,
            dir: dir.clone(),
            socket: socket.clone(),
            netns: None,
            subnet: None,
        };
        if options.pod_network {
            let ip = find_bin("ip", "iproute2")?;
            find_bin("nsenter", "util-linux")?;
            if !Path::new("/usr/lib/cni/bridge").is_file() {
                return Err(Error::Unavailable(
                    "/usr/lib/cni/bridge is missing: install containernetworking-plugins".into(),
                ));
            }
            let name = format!("kbx-ctrd-{id}");
            run(Command::new(&ip).args(["netns", "add", &name]))?;
            me.netns = Some(name.clone());
            run(Command::new(&ip).args(["-n", &name, "link", "set", "lo", "up"]))?;
            // A subnet per instance (10.<200-249>.<x>.0/24), a bridge name per instance.
            let pid = std::process::id();
            let subnet = format!("10.{}.{}.0/24", 200 + (pid % 50), (pid / 50 + n * 7) % 256);
            let conflist = serde_json::json!({
                "cniVersion": "0.4.0",
                "name": format!("kbx{n}"),
                "plugins": [
                    {
                        "type": "bridge",
                        "bridge": format!("kbx{}", pid % 100_000 * 10 + n % 10),
                        "isGateway": true,
                        "ipMasq": false,
                        "ipam": {
                            "type": "host-local",
                            "ranges": [[{"subnet": subnet}]],
                            "routes": [{"dst": "0.0.0.0/0"}],
                            "dataDir": dir.join("cni-ipam").to_string_lossy(),
                        }
                    },
                    {"type": "portmap", "capabilities": {"portMappings": true}},
                    {"type": "loopback"}
                ]
            });
            std::fs::write(dir.join("cni/10-kubox.conflist"), conflist.to_string())
                .map_err(other)?;
            me.subnet = Some(subnet);
        }
        let config = format!(
            r#"version = 2
root = "{d}/root"
state = "{d}/state"
[grpc]
  address = "{d}/containerd.sock"
[ttrpc]
  address = "{d}/containerd-ttrpc.sock"
[debug]
  level = "warn"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "{d}/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{d}/cni"
"#,
            d = dir.display()
        );
        let config_path = dir.join("config.toml");
        std::fs::write(&config_path, config).map_err(other)?;
        let log = std::fs::File::create(dir.join("containerd.log")).map_err(other)?;
        let log2 = log.try_clone().map_err(other)?;
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(SUPERVISOR);
        if let Some(ns) = &me.netns {
            cmd.arg("nsenter")
                .arg(format!("--net=/run/netns/{ns}"))
                .arg("--");
        }
        cmd.arg(&containerd)
            .arg("--config")
            .arg(&config_path)
            .stdin(Stdio::piped())
            .stdout(log)
            .stderr(log2);
        me.child = Some(cmd.spawn().map_err(other)?);

        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(Ok(Some(status))) = me.child.as_mut().map(|c| c.try_wait()) {
                return Err(other(format!(
                    "containerd exited with {status} during start: {}",
                    me.log_tail()
                )));
            }
            if socket.exists() {
                if let Ok(rt) = CriRuntime::connect(&socket).await {
                    if rt.version().await.is_ok() {
                        break;
                    }
                }
            }
            if Instant::now() > deadline {
                return Err(Error::Unavailable(format!(
                    "containerd did not answer on {} within {START_TIMEOUT:?}: {}",
                    socket.display(),
                    me.log_tail()
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        // Build and import the images (both at once).
        let images = dir.join("images");
        std::fs::create_dir_all(&images).map_err(other)?;
        let bb = std::fs::read(&busybox).map_err(other)?;
        let pause_tar = images.join("pause.tar");
        let busybox_tar = images.join("busybox.tar");
        std::fs::write(
            &pause_tar,
            image_archive(PAUSE_IMAGE, &bb, &["/bin/sleep", "2147483647"], &[])?,
        )
        .map_err(other)?;
        std::fs::write(
            &busybox_tar,
            image_archive(BUSYBOX_IMAGE, &bb, &[], &["sh"])?,
        )
        .map_err(other)?;
        let import = |tar: &Path| {
            tokio::process::Command::new(&ctr)
                .arg("-a")
                .arg(&socket)
                .args(["-n", "k8s.io", "images", "import"])
                .arg(tar)
                .output()
        };
        let (a, b) = tokio::join!(import(&pause_tar), import(&busybox_tar));
        for out in [a, b] {
            let out = out.map_err(other)?;
            if !out.status.success() {
                return Err(other(format!(
                    "ctr images import failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                )));
            }
        }
        // The CRI plugin learns about imported images from events: wait until it has both.
        let rt = me.runtime().await?;
        loop {
            let pause = rt.image_status(PAUSE_IMAGE).await?;
            let busybox = rt.image_status(BUSYBOX_IMAGE).await?;
            if pause.is_some() && busybox.is_some() {
                break;
            }
            if Instant::now() > deadline {
                return Err(other("imported images did not appear in CRI"));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(me)
    }

    /// The CRI socket.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The instance's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The pod subnet (with [`Options::pod_network`]).
    pub fn pod_subnet(&self) -> Option<&str> {
        self.subnet.as_deref()
    }

    /// A directory for pod log directories, inside the instance's directory.
    pub fn log_root(&self) -> PathBuf {
        self.dir.join("pods")
    }

    /// A [`CriRuntime`] connected to this containerd.
    pub async fn runtime(&self) -> Result<CriRuntime> {
        CriRuntime::connect(&self.socket).await
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("containerd.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }
}

fn run(cmd: &mut Command) -> Result<()> {
    let out = cmd.output().map_err(other)?;
    if out.status.success() {
        Ok(())
    } else {
        Err(other(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn append(builder: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8], mode: u32) -> Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(data.len() as u64);
    header.set_mode(mode);
    header.set_mtime(0);
    header.set_entry_type(tar::EntryType::Regular);
    builder.append_data(&mut header, path, data).map_err(other)
}

fn append_dir(builder: &mut tar::Builder<Vec<u8>>, path: &str, mode: u32) -> Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(0);
    header.set_mode(mode);
    header.set_mtime(0);
    header.set_entry_type(tar::EntryType::Directory);
    builder
        .append_data(&mut header, path, std::io::empty())
        .map_err(other)
}

/// A docker-archive (`docker save` format) of a one-layer image holding busybox.
fn image_archive(tag: &str, busybox: &[u8], entrypoint: &[&str], cmd: &[&str]) -> Result<Vec<u8>> {
    let mut layer = tar::Builder::new(Vec::new());
    for d in ["bin/", "etc/", "proc/", "sys/", "dev/", "root/"] {
        append_dir(&mut layer, d, 0o755)?;
    }
    append_dir(&mut layer, "tmp/", 0o1777)?;
    append(&mut layer, "bin/busybox", busybox, 0o755)?;
    append(
        &mut layer,
        "etc/passwd",
        b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
        0o644,
    )?;
    append(
        &mut layer,
        "etc/group",
        b"root:x:0:\nnogroup:x:65534:\n",
        0o644,
    )?;
    for applet in APPLETS {
        let mut header = tar::Header::new_gnu();
        header.set_size(0);
        header.set_mode(0o777);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Symlink);
        layer
            .append_link(&mut header, format!("bin/{applet}"), "busybox")
            .map_err(other)?;
    }
    let layer = layer.into_inner().map_err(other)?;
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let config = serde_json::json!({
        "architecture": arch,
        "os": "linux",
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Entrypoint": if entrypoint.is_empty() { serde_json::Value::Null } else { serde_json::json!(entrypoint) },
            "Cmd": if cmd.is_empty() { serde_json::Value::Null } else { serde_json::json!(cmd) },
            "WorkingDir": "/",
        },
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{}", sha256_hex(&layer))]},
        "history": [{"created_by": "kubox cri testing"}],
    })
    .to_string();
    let config_name = format!("{}.json", sha256_hex(config.as_bytes()));
    let manifest = serde_json::json!([{
        "Config": config_name,
        "RepoTags": [tag],
        "Layers": ["layer/layer.tar"],
    }])
    .to_string();
    let mut archive = tar::Builder::new(Vec::new());
    append_dir(&mut archive, "layer/", 0o755)?;
    append(&mut archive, "layer/layer.tar", &layer, 0o644)?;
    append(&mut archive, &config_name, config.as_bytes(), 0o644)?;
    append(&mut archive, "manifest.json", manifest.as_bytes(), 0o644)?;
    archive.into_inner().map_err(other)
}

impl Drop for Containerd {
    fn drop(&mut self) {
        // 1. Containers and sandboxes still running: delete them through runc.
        let runc_root = self.dir.join("runc/k8s.io");
        if let Ok(entries) = std::fs::read_dir(&runc_root) {
            for e in entries.flatten() {
                let _ = Command::new("runc")
                    .arg("--root")
                    .arg(&runc_root)
                    .args(["delete", "--force"])
                    .arg(e.file_name())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
        // 2. containerd: closing stdin makes the supervisor SIGTERM it.
        if let Some(mut child) = self.child.take() {
            drop(child.stdin.take());
            let deadline = Instant::now() + STOP_TIMEOUT;
            loop {
                match child.try_wait() {
                    Ok(None) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(10))
                    }
                    Ok(None) | Err(_) => {
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                    Ok(Some(_)) => break,
                }
            }
        }
        // 3. Shims of this instance (their command line names its socket).
        let needle = self.dir.to_string_lossy().into_owned();
        if let Ok(procs) = std::fs::read_dir("/proc") {
            for p in procs.flatten() {
                let Some(pid) = p.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                    continue;
                };
                let cmdline = std::fs::read(p.path().join("cmdline")).unwrap_or_default();
                if String::from_utf8_lossy(&cmdline).contains(&needle) {
                    if let Some(pid) = rustix::process::Pid::from_raw(pid) {
                        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
                    }
                }
            }
        }
        // 4. Mounts under the directory, deepest first.
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mut mounts: Vec<&str> = mountinfo
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|m| m.starts_with(&needle))
            .collect();
        mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in mounts {
            let _ = Command::new("umount")
                .args(["-l", m])
                .stderr(Stdio::null())
                .status();
        }
        // 5. The network namespace (its bridge goes with it).
        if let Some(ns) = self.netns.take() {
            let _ = Command::new("ip")
                .args(["netns", "del", &ns])
                .stderr(Stdio::null())
                .status();
        }
        if std::fs::remove_dir_all(&self.dir).is_err() {
            let _ = writeln!(
                std::io::stderr(),
                "kubox cri testing: could not remove {}",
                self.dir.display()
            );
        }
    }
}
