//! What the kube-api tests share: finding `kubectl.1.NN`, running it, and checking its
//! output with the output in the failure message; serving a router over HTTPS (a fake
//! kubelet, or kube-api's router with extra routes).
#![allow(dead_code, unused_macros)] // each test crate uses a part (`expect!` needs #[macro_use])

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The folder holding `kubectl.1.NN`: that of the real path of `kubectl` on PATH.
pub(crate) fn kubectl_dir() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .map(|d| d.join("kubectl"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("`kubectl` is not on PATH: the kubectl tests need kubectl and kubectl.1.27 … kubectl.1.33 installed beside it (see shared/compat.md)")
        });
    let real = std::fs::canonicalize(&found).unwrap();
    real.parent().unwrap().to_path_buf()
}

/// `kubectl.1.<minor>` in `dir`; a missing binary fails the test saying where it was looked for.
pub(crate) fn versioned(dir: &Path, minor: u32) -> PathBuf {
    let p = dir.join(format!("kubectl.1.{minor}"));
    assert!(
        p.is_file(),
        "{} is missing: the kubectl tests need kubectl.1.27 … kubectl.1.33 in {} (see shared/compat.md)",
        p.display(),
        dir.display()
    );
    p
}

/// `kubectl.1.<minor>` beside the `kubectl` on PATH ([`kubectl_dir`], [`versioned`]).
pub(crate) fn kubectl_bin(minor: u32) -> PathBuf {
    versioned(&kubectl_dir(), minor)
}

/// Serves `app` over HTTPS with `tls` on an ephemeral port of 127.0.0.1 (HTTP/1.1 and 2,
/// connection upgrades included): its address and the accept loop's task (abort it to stop).
pub(crate) async fn serve_tls(
    app: axum::Router,
    tls: Arc<rustls::ServerConfig>,
) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let (app, acceptor) = (app.clone(), acceptor.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let svc = hyper_util::service::TowerToHyperService::new(app);
                let _ = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .serve_connection_with_upgrades(hyper_util::rt::TokioIo::new(tls), svc)
                .await;
            });
        }
    });
    (addr, task)
}

/// A finished kubectl run.
pub(crate) struct Out {
    pub(crate) ok: bool,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Out {
    /// Stdout with runs of whitespace collapsed (table columns are padded).
    pub(crate) fn flat(&self) -> String {
        self.stdout
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Runs `bin args` with `kubeconfig` and `home`, at most 60 s.
pub(crate) async fn kubectl(bin: &Path, kubeconfig: &Path, home: &Path, args: &[&str]) -> Out {
    let mut cmd = tokio::process::Command::new(bin);
    cmd.args(args)
        .env("KUBECONFIG", kubeconfig)
        .env("HOME", home)
        .env_remove("KUBECTL_REMOTE_COMMAND_WEBSOCKETS")
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .unwrap_or_else(|_| panic!("{} {args:?} timed out", bin.display()))
        .unwrap_or_else(|e| panic!("running {}: {e}", bin.display()));
    Out {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Asserts `$cond`, printing `$what` and the run's stdout and stderr when it fails.
macro_rules! expect {
    ($out:expr, $cond:expr, $what:expr) => {
        assert!(
            $cond,
            "{}\n--- stdout:\n{}\n--- stderr:\n{}",
            $what, $out.stdout, $out.stderr
        )
    };
}
