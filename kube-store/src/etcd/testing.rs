//! A real, throw-away etcd server for tests and benchmarks.
//!
//! [`EtcdServer::start`] runs the `etcd` binary (from `PATH`, or the path in the environment
//! variable `KUBOX_ETCD_BIN`) as a single-member cluster on free loopback ports with its data
//! directory in a fresh temporary directory, waits until it answers, and stops it and removes
//! the directory when dropped. etcd runs under a `sh` supervisor that also stops it when the
//! process that started it dies without dropping the server (e.g. a killed test run).
//!
//! A missing `etcd` binary is an error whose message says how to install it (the project's
//! full test command, `bash scripts/test.sh`, does): tests that need etcd fail, they are
//! never silently skipped.
//!
//! ```no_run
//! use kube_store::etcd::testing::EtcdServer;
//! use kube_store::Store;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> kube_store::Result<()> {
//! let etcd = EtcdServer::start().await?;
//! let store = etcd.store("/test-1").await?;
//! store.put("/a", "1".into()).await?;
//! # Ok(())
//! # }
//! ```

use super::EtcdStore;
use crate::{Error, Result, MAX_VALUE_BYTES};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The environment variable that overrides the `etcd` binary's path.
pub const ETCD_BIN_ENV: &str = "KUBOX_ETCD_BIN";

/// `sh -c` script: runs `"$0" "$@"` (etcd and its flags) in the background, SIGTERMs it when
/// stdin reaches end of file, and exits with etcd's status. (An asynchronous list's stdin is
/// `/dev/null` in a non-interactive shell, hence the copy of stdin on fd 3.)
const SUPERVISOR: &str = r#"exec 3<&0; "$0" "$@" </dev/null 3<&- & pid=$!; (read -r _ <&3; kill "$pid" 2>/dev/null) & wait "$pid""#;

/// How long drop waits for etcd to stop after SIGTERM before it kills the supervisor.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// How long [`EtcdServer::start`] waits for etcd to answer.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Options of [`EtcdServer::start_with`].
#[derive(Clone, Debug, Default)]
pub struct ServerOptions {
    /// Directory in which to create the server's temporary directory (data directory and
    /// log); the system's temporary directory if `None`.
    pub parent_dir: Option<PathBuf>,
}

/// A running single-member etcd on loopback; killed (and its directory removed) on drop.
#[derive(Debug)]
pub struct EtcdServer {
    child: Child,
    dir: PathBuf,
    endpoint: String,
}

impl EtcdServer {
    /// Starts an etcd in a fresh temporary directory and waits until it serves requests.
    pub async fn start() -> Result<EtcdServer> {
        Self::start_with(ServerOptions::default()).await
    }

    /// [`EtcdServer::start`] with options.
    pub async fn start_with(options: ServerOptions) -> Result<EtcdServer> {
        let bin = find_etcd()?;
        let parent = options
            .parent_dir
            .clone()
            .unwrap_or_else(std::env::temp_dir);
        let mut last_error = String::new();
        // Free ports are picked by binding port 0 and releasing it: retry if another process
        // takes one in between.
        for _ in 0..5 {
            let dir = unique_dir(&parent)?;
            match Self::try_start(&bin, dir.clone()).await {
                Ok(server) => return Ok(server),
                Err((e, retry)) => {
                    let _ = std::fs::remove_dir_all(&dir);
                    if !retry {
                        return Err(e);
                    }
                    last_error = e.to_string();
                }
            }
        }
        Err(Error::Backend(format!(
            "could not start etcd: {last_error}"
        )))
    }

    /// Starts etcd in `dir`; on failure, also says whether another try may succeed (etcd
    /// exited early, e.g. because a port was taken meanwhile).
    async fn try_start(bin: &Path, dir: PathBuf) -> Result<EtcdServer, (Error, bool)> {
        let fatal = |e: Error| (e, false);
        // Both listeners stay bound until both ports are known, so they differ.
        let a = TcpListener::bind("127.0.0.1:0").map_err(|e| fatal(Error::io(&dir, e)))?;
        let b = TcpListener::bind("127.0.0.1:0").map_err(|e| fatal(Error::io(&dir, e)))?;
        let port = |l: &TcpListener| l.local_addr().map(|a| a.port());
        let client_port = port(&a).map_err(|e| fatal(Error::io(&dir, e)))?;
        let peer_port = port(&b).map_err(|e| fatal(Error::io(&dir, e)))?;
        drop((a, b));
        let client_url = format!("http://127.0.0.1:{client_port}");
        let peer_url = format!("http://127.0.0.1:{peer_port}");
        let log_path = dir.join("etcd.log");
        let log = std::fs::File::create(&log_path).map_err(|e| fatal(Error::io(&log_path, e)))?;
        let log2 = log
            .try_clone()
            .map_err(|e| fatal(Error::io(&log_path, e)))?;
        // etcd runs under a small shell that kills it when its stdin (a pipe from this
        // process) closes: on drop, and also when this process dies without running drop
        // (a killed test or benchmark), so that no etcd is left behind.
        let child = Command::new("sh")
            .arg("-c")
            .arg(SUPERVISOR)
            .arg(bin)
            .arg("--name")
            .arg("kubox-test")
            .arg("--data-dir")
            .arg(dir.join("data"))
            .arg("--listen-client-urls")
            .arg(&client_url)
            .arg("--advertise-client-urls")
            .arg(&client_url)
            .arg("--listen-peer-urls")
            .arg(&peer_url)
            .arg("--initial-advertise-peer-urls")
            .arg(&peer_url)
            .arg("--initial-cluster")
            .arg(format!("kubox-test={peer_url}"))
            .arg("--initial-cluster-state")
            .arg("new")
            // Room for a value of exactly MAX_VALUE_BYTES plus the key and framing.
            .arg("--max-request-bytes")
            .arg((MAX_VALUE_BYTES + 64 * 1024).to_string())
            .arg("--quota-backend-bytes")
            .arg((8u64 << 30).to_string())
            .arg("--logger")
            .arg("zap")
            .arg("--log-level")
            .arg("warn")
            .stdin(Stdio::piped())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| fatal(Error::Backend(format!("cannot run {}: {e}", bin.display()))))?;
        let mut server = EtcdServer {
            child,
            dir,
            endpoint: client_url,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                let tail: String = log.lines().rev().take(20).collect::<Vec<_>>().join("\n");
                return Err((
                    Error::Backend(format!(
                        "etcd exited with {status} during start; last log lines (newest first):\n{tail}"
                    )),
                    true,
                ));
            }
            let probe = tokio::time::timeout(
                Duration::from_secs(2),
                EtcdStore::connect(&[server.endpoint.as_str()], ""),
            )
            .await;
            let why = match probe {
                Ok(Ok(_)) => return Ok(server),
                Ok(Err(e)) => e.to_string(),
                Err(_) => "connect timed out".to_owned(),
            };
            if Instant::now() > deadline {
                return Err(fatal(Error::Backend(format!(
                    "etcd did not answer on {} within {START_TIMEOUT:?}: {why} (log: {})",
                    server.endpoint,
                    log_path.display()
                ))));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The client URL, e.g. `http://127.0.0.1:40123`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The server's data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Connects an [`EtcdStore`] with keys under `prefix`.
    pub async fn store(&self, prefix: impl Into<String>) -> Result<EtcdStore> {
        EtcdStore::connect(&[self.endpoint.as_str()], prefix).await
    }
}

impl Drop for EtcdServer {
    fn drop(&mut self) {
        // Closing stdin makes the supervisor SIGTERM etcd; it exits once etcd has.
        drop(self.child.stdin.take());
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            match self.child.try_wait() {
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                Ok(None) | Err(_) => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break;
                }
                Ok(Some(_)) => break,
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Finds the etcd binary, or explains how to get it.
fn find_etcd() -> Result<PathBuf> {
    if let Some(bin) = std::env::var_os(ETCD_BIN_ENV) {
        let bin = PathBuf::from(bin);
        if bin.is_file() {
            return Ok(bin);
        }
        return Err(Error::Backend(format!(
            "{ETCD_BIN_ENV}={} is not a file",
            bin.display()
        )));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join("etcd");
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    Err(Error::Backend(format!(
        "the `etcd` binary is not in PATH, and these tests need a real etcd: run the full test \
         command from the README, `bash scripts/test.sh`, which installs it (Debian package \
         etcd-server), or set {ETCD_BIN_ENV} to an etcd 3.4+ binary"
    )))
}

/// Creates a fresh directory under `parent`.
fn unique_dir(parent: &Path) -> Result<PathBuf> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    loop {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = parent.join(format!(
            "kubox-etcd-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Error::io(dir, e)),
        }
    }
}
