//! Stock kubectl for the end-to-end tests: `kubectl.1.NN` beside the `kubectl` on PATH (see
//! shared/compat.md), run with a kubeconfig and a private HOME (its discovery cache), from
//! async tests or (the `_blocking` methods) from tests without a runtime.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

use super::poll::{wait, wait_blocking};

/// The folder holding `kubectl.1.NN`: that of the real path of `kubectl` on PATH.
pub(crate) fn kubectl_dir() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .map(|d| d.join("kubectl"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("`kubectl` is not on PATH: this test needs kubectl.1.NN installed beside it (see shared/compat.md)")
        });
    std::fs::canonicalize(&found)
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `kubectl.1.<minor>`: on PATH itself, else beside the `kubectl` on PATH.
pub(crate) fn kubectl_bin(minor: u32) -> PathBuf {
    let name = format!("kubectl.1.{minor}");
    let path = std::env::var_os("PATH").unwrap_or_default();
    if let Some(direct) = std::env::split_paths(&path)
        .map(|d| d.join(&name))
        .find(|p| p.is_file())
    {
        return direct;
    }
    let bin = kubectl_dir().join(&name);
    assert!(
        bin.is_file(),
        "{} is missing (see shared/compat.md)",
        bin.display()
    );
    bin
}

/// How many nodes `kubectl get nodes` lists as Ready.
pub(crate) fn ready_nodes(get_nodes: &str) -> usize {
    get_nodes
        .lines()
        .filter(|l| l.split_whitespace().nth(1) == Some("Ready"))
        .count()
}

/// `kubectl get endpoints NAME -n NS` printing the addresses' IPs (read them with
/// [`words`]).
pub(crate) fn endpoint_ips<'a>(ns: &'a str, name: &'a str) -> [&'a str; 7] {
    [
        "get",
        "endpoints",
        "-n",
        ns,
        name,
        "-o",
        "jsonpath={.subsets[*].addresses[*].ip}",
    ]
}

/// The whitespace-separated words of `out`, as a set.
pub(crate) fn words(out: &str) -> BTreeSet<String> {
    out.split_whitespace().map(String::from).collect()
}

/// One kubectl version against one cluster.
#[derive(Clone)]
pub(crate) struct Kubectl {
    pub(crate) bin: PathBuf,
    pub(crate) kubeconfig: PathBuf,
    pub(crate) home: PathBuf,
    /// `--request-timeout` for every request, if any.
    request_timeout: Option<String>,
}

impl Kubectl {
    /// `kubectl.1.<minor>` with `kubeconfig`; HOME is `home` (created).
    pub(crate) fn new(minor: u32, kubeconfig: &Path, home: &Path) -> Self {
        std::fs::create_dir_all(home).unwrap();
        Kubectl {
            bin: kubectl_bin(minor),
            kubeconfig: kubeconfig.to_path_buf(),
            home: home.to_path_buf(),
            request_timeout: None,
        }
    }

    /// The same kubectl with another kubeconfig (another user or cluster).
    pub(crate) fn with_kubeconfig(&self, kubeconfig: &Path) -> Self {
        Kubectl {
            kubeconfig: kubeconfig.to_path_buf(),
            ..self.clone()
        }
    }

    /// Every request with `--request-timeout <timeout>`.
    pub(crate) fn with_request_timeout(mut self, timeout: &str) -> Self {
        self.request_timeout = Some(timeout.to_string());
        self
    }

    /// The command line for `args`.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.bin);
        if let Some(t) = &self.request_timeout {
            cmd.args(["--request-timeout", t]);
        }
        cmd.args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", &self.home)
            .stdin(Stdio::null());
        cmd
    }

    /// Runs kubectl (at most 60 s): success, stdout, stderr.
    pub(crate) async fn run(&self, args: &[&str]) -> (bool, String, String) {
        let mut cmd = tokio::process::Command::from(self.command(args));
        cmd.kill_on_drop(true);
        let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
            .await
            .unwrap_or_else(|_| panic!("kubectl {args:?} timed out"))
            .unwrap();
        finished(out)
    }

    /// [`Kubectl::run`] without a runtime (bounded by the request timeout only).
    pub(crate) fn run_blocking(&self, args: &[&str]) -> (bool, String, String) {
        let mut cmd = self.command(args);
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
        finished(out)
    }

    /// Runs kubectl, which must succeed; its stdout.
    pub(crate) async fn ok(&self, args: &[&str]) -> String {
        self.succeeded(args, self.run(args).await)
    }

    /// [`Kubectl::ok`] without a runtime.
    pub(crate) fn ok_blocking(&self, args: &[&str]) -> String {
        self.succeeded(args, self.run_blocking(args))
    }

    /// `kubectl ARGS -o json`, which must succeed, without a runtime; the object.
    pub(crate) fn json_blocking(&self, args: &[&str]) -> Value {
        let mut full = args.to_vec();
        full.extend(["-o", "json"]);
        let out = self.ok_blocking(&full);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("kubectl {args:?}: {e}: {out}"))
    }

    /// The stdout of a run that must have succeeded.
    fn succeeded(&self, args: &[&str], (ok, stdout, stderr): (bool, String, String)) -> String {
        assert!(
            ok,
            "{} {args:?} failed\n--- stdout:\n{stdout}\n--- stderr:\n{stderr}",
            self.bin.display()
        );
        stdout
    }

    /// Runs kubectl until `check` accepts its stdout (at most `secs` seconds); that stdout.
    pub(crate) async fn until(
        &self,
        secs: u64,
        args: &[&str],
        check: impl Fn(&str) -> bool,
    ) -> String {
        wait(secs, &format!("kubectl {args:?}"), || async {
            accepted(self.run(args).await, &check)
        })
        .await
    }

    /// [`Kubectl::until`] without a runtime.
    pub(crate) fn until_blocking(
        &self,
        secs: u64,
        args: &[&str],
        check: impl Fn(&str) -> bool,
    ) -> String {
        wait_blocking(secs, &format!("kubectl {args:?}"), || {
            accepted(self.run_blocking(args), &check)
        })
    }
}

/// Success, stdout and stderr of a finished kubectl.
fn finished(out: Output) -> (bool, String, String) {
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The stdout of a successful run that `check` accepts, else the run for the failure message.
fn accepted(
    (ok, out, err): (bool, String, String),
    check: impl Fn(&str) -> bool,
) -> Result<String, String> {
    if ok && check(&out) {
        Ok(out)
    } else {
        Err(format!("--- stdout:\n{out}\n--- stderr:\n{err}"))
    }
}
