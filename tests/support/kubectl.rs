//! Stock kubectl for the end-to-end tests: `kubectl.1.NN` beside the `kubectl` on PATH (see
//! shared/compat.md), run with a kubeconfig and a private HOME (its discovery cache).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The folder holding `kubectl.1.NN`: that of the real path of `kubectl` on PATH.
pub(crate) fn kubectl_dir() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .map(|d| d.join("kubectl"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("`kubectl` is not on PATH: this test needs kubectl.1.33 installed beside it (see shared/compat.md)")
        });
    std::fs::canonicalize(&found)
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf()
}

/// One kubectl version against one cluster.
pub(crate) struct Kubectl {
    pub(crate) bin: PathBuf,
    pub(crate) kubeconfig: PathBuf,
    pub(crate) home: PathBuf,
}

impl Kubectl {
    /// `kubectl.1.<minor>` with `kubeconfig`; HOME is `home`.
    pub(crate) fn new(minor: u32, kubeconfig: &Path, home: &Path) -> Self {
        let bin = kubectl_dir().join(format!("kubectl.1.{minor}"));
        assert!(
            bin.is_file(),
            "{} is missing (see shared/compat.md)",
            bin.display()
        );
        std::fs::create_dir_all(home).unwrap();
        Kubectl {
            bin,
            kubeconfig: kubeconfig.to_path_buf(),
            home: home.to_path_buf(),
        }
    }

    /// Runs kubectl (at most 60 s): success, stdout, stderr.
    pub(crate) async fn run(&self, args: &[&str]) -> (bool, String, String) {
        let mut cmd = tokio::process::Command::new(&self.bin);
        cmd.args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", &self.home)
            .kill_on_drop(true);
        let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
            .await
            .unwrap_or_else(|_| panic!("kubectl {args:?} timed out"))
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Runs kubectl, which must succeed; its stdout.
    pub(crate) async fn ok(&self, args: &[&str]) -> String {
        let (ok, stdout, stderr) = self.run(args).await;
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
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let (ok, out, err) = self.run(args).await;
            if ok && check(&out) {
                return out;
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {secs}s: kubectl {args:?}\n--- stdout:\n{out}\n--- stderr:\n{err}"
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
}
