//! cpu and memory limits through cgroups: v2 (`memory.max`, `cpu.max`, `memory.events`) where
//! the unified hierarchy carries the controllers, else v1 (`memory.limit_in_bytes`,
//! `cpu.cfs_quota_us`, `memory.oom_control`), else none (limits are reported as not enforced).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::runtime::Resources;

/// The CFS period used for cpu limits (Kubernetes' default, 100 ms).
const CPU_PERIOD_US: u64 = 100_000;

/// The cgroups of one container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CgroupRecord {
    /// The v2 cgroup directory.
    pub(crate) unified: Option<PathBuf>,
    /// The v1 memory cgroup directory.
    pub(crate) memory: Option<PathBuf>,
    /// The v1 cpu cgroup directory.
    pub(crate) cpu: Option<PathBuf>,
    /// The v1 cpuacct cgroup directory.
    pub(crate) cpuacct: Option<PathBuf>,
}

impl CgroupRecord {
    /// The `cgroup.procs` files a process is moved into.
    pub(crate) fn procs_files(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<&PathBuf> = [&self.unified, &self.memory, &self.cpu, &self.cpuacct]
            .into_iter()
            .flatten()
            .collect();
        dirs.dedup();
        dirs.into_iter().map(|d| d.join("cgroup.procs")).collect()
    }

    /// How many times the kernel's OOM killer killed a process in this cgroup.
    pub(crate) fn oom_kills(&self) -> u64 {
        let from = |path: PathBuf, key: &str| -> Option<u64> {
            let text = std::fs::read_to_string(path).ok()?;
            text.lines().find_map(|line| {
                let (k, v) = line.split_once(' ')?;
                (k == key).then(|| v.trim().parse().ok()).flatten()
            })
        };
        if let Some(dir) = &self.unified {
            return from(dir.join("memory.events"), "oom_kill").unwrap_or(0);
        }
        if let Some(dir) = &self.memory {
            return from(dir.join("memory.oom_control"), "oom_kill").unwrap_or(0);
        }
        0
    }

    /// CPU time used in nanoseconds.
    pub(crate) fn cpu_usage_nanos(&self) -> Option<u64> {
        if let Some(dir) = &self.unified {
            let text = std::fs::read_to_string(dir.join("cpu.stat")).ok()?;
            return text.lines().find_map(|line| {
                let usec: u64 = line.strip_prefix("usage_usec ")?.trim().parse().ok()?;
                Some(usec * 1000)
            });
        }
        let dir = self.cpuacct.as_ref()?;
        read_u64(&dir.join("cpuacct.usage"))
    }

    /// Working-set memory in bytes (usage minus inactive file pages, as the kubelet computes
    /// it).
    pub(crate) fn memory_working_set(&self) -> Option<u64> {
        let (usage, stat, inactive_key) = if let Some(dir) = &self.unified {
            (
                dir.join("memory.current"),
                dir.join("memory.stat"),
                "inactive_file",
            )
        } else {
            let dir = self.memory.as_ref()?;
            (
                dir.join("memory.usage_in_bytes"),
                dir.join("memory.stat"),
                "total_inactive_file",
            )
        };
        let usage = read_u64(&usage)?;
        let inactive = std::fs::read_to_string(stat)
            .ok()
            .and_then(|text| {
                text.lines().find_map(|line| {
                    let (k, v) = line.split_once(' ')?;
                    (k == inactive_key)
                        .then(|| v.trim().parse::<u64>().ok())
                        .flatten()
                })
            })
            .unwrap_or(0);
        Some(usage.saturating_sub(inactive))
    }

    /// Removes the cgroup directories (they must be empty of processes). Idempotent.
    pub(crate) fn remove(&self) {
        for dir in [&self.unified, &self.memory, &self.cpu, &self.cpuacct]
            .into_iter()
            .flatten()
        {
            match std::fs::remove_dir(dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => tracing::warn!(dir = %dir.display(), "cannot remove cgroup: {e}"),
            }
        }
    }
}

fn read_u64(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Which cgroup hierarchy the runtime uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CgroupDriver {
    /// cgroup v2: the parent directory in the unified hierarchy.
    V2 { parent: PathBuf },
    /// cgroup v1: the parent directories in the memory, cpu and cpuacct hierarchies.
    V1 {
        memory: Option<PathBuf>,
        cpu: Option<PathBuf>,
        cpuacct: Option<PathBuf>,
    },
    /// No writable cgroups: limits are not enforced, for this reason.
    Unavailable(String),
}

impl CgroupDriver {
    /// Detects the hierarchy under `root` (normally `/sys/fs/cgroup`) and creates `parent`
    /// (a relative path) in it.
    pub(crate) fn detect(root: &Path, parent: &Path) -> CgroupDriver {
        if parent.is_absolute() || parent.as_os_str().is_empty() {
            return CgroupDriver::Unavailable(format!(
                "the cgroup parent {} must be a non-empty relative path",
                parent.display()
            ));
        }
        let controllers =
            std::fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
        if controllers.split_whitespace().any(|c| c == "memory") {
            let dir = root.join(parent);
            if let Err(e) = std::fs::create_dir_all(&dir) {
                return CgroupDriver::Unavailable(format!(
                    "cgroup v2 at {} is not writable: {e}",
                    root.display()
                ));
            }
            // Enable the controllers down to the parent (each level's subtree_control).
            let mut level = root.to_path_buf();
            for part in parent.components() {
                let _ = std::fs::write(level.join("cgroup.subtree_control"), "+memory +cpu");
                level.push(part);
            }
            if let Err(e) = std::fs::write(dir.join("cgroup.subtree_control"), "+memory +cpu") {
                return CgroupDriver::Unavailable(format!(
                    "cannot enable the memory and cpu controllers in {}: {e}",
                    dir.display()
                ));
            }
            return CgroupDriver::V2 { parent: dir };
        }
        if root.join("memory").join("memory.limit_in_bytes").exists() {
            let make = |name: &str| -> Result<Option<PathBuf>, String> {
                let hierarchy = root.join(name);
                if !hierarchy.join("cgroup.procs").exists() {
                    return Ok(None);
                }
                let dir = hierarchy.join(parent);
                std::fs::create_dir_all(&dir)
                    .map(|()| Some(dir))
                    .map_err(|e| {
                        format!(
                            "cgroup v1 {name} at {} is not writable: {e}",
                            hierarchy.display()
                        )
                    })
            };
            return match (make("memory"), make("cpu"), make("cpuacct")) {
                (Ok(memory), Ok(cpu), Ok(cpuacct)) => CgroupDriver::V1 {
                    memory,
                    cpu,
                    cpuacct,
                },
                (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => CgroupDriver::Unavailable(e),
            };
        }
        CgroupDriver::Unavailable(format!(
            "no cgroup v2 memory controller and no cgroup v1 memory hierarchy under {}",
            root.display()
        ))
    }

    /// Why limits are not enforced, if they are not.
    pub(crate) fn unavailable_reason(&self) -> Option<&str> {
        match self {
            CgroupDriver::Unavailable(reason) => Some(reason),
            _ => None,
        }
    }

    /// Creates the cgroups of a container and writes its limits.
    pub(crate) fn create(&self, name: &str, resources: &Resources) -> Result<CgroupRecord, String> {
        let mkdir = |parent: &Path| -> Result<PathBuf, String> {
            let dir = parent.join(name);
            match std::fs::create_dir(&dir) {
                Ok(()) => Ok(dir),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(dir),
                Err(e) => Err(format!("cannot create cgroup {}: {e}", dir.display())),
            }
        };
        let write = |path: PathBuf, value: String| -> Result<(), String> {
            std::fs::write(&path, &value)
                .map_err(|e| format!("cannot write {value:?} to {}: {e}", path.display()))
        };
        let quota = resources
            .cpu_limit_millis
            .map(|millis| (millis * CPU_PERIOD_US / 1000).max(1000));
        match self {
            CgroupDriver::Unavailable(reason) => Err(reason.clone()),
            CgroupDriver::V2 { parent } => {
                let dir = mkdir(parent)?;
                let record = CgroupRecord {
                    unified: Some(dir.clone()),
                    ..Default::default()
                };
                if let Some(bytes) = resources.memory_limit_bytes {
                    write(dir.join("memory.max"), bytes.to_string())?;
                    // Like Kubernetes (memory.oom.group=1): an OOM kill takes the whole cgroup.
                    let _ = std::fs::write(dir.join("memory.oom.group"), "1");
                }
                if let Some(quota) = quota {
                    write(dir.join("cpu.max"), format!("{quota} {CPU_PERIOD_US}"))?;
                }
                Ok(record)
            }
            CgroupDriver::V1 {
                memory,
                cpu,
                cpuacct,
            } => {
                let mut record = CgroupRecord::default();
                if let Some(parent) = memory {
                    let dir = mkdir(parent)?;
                    if let Some(bytes) = resources.memory_limit_bytes {
                        write(dir.join("memory.limit_in_bytes"), bytes.to_string())?;
                    }
                    record.memory = Some(dir);
                }
                if let Some(parent) = cpu {
                    let dir = mkdir(parent)?;
                    if let Some(quota) = quota {
                        write(dir.join("cpu.cfs_period_us"), CPU_PERIOD_US.to_string())?;
                        write(dir.join("cpu.cfs_quota_us"), quota.to_string())?;
                    }
                    record.cpu = Some(dir);
                }
                if let Some(parent) = cpuacct {
                    let dir = mkdir(parent)?;
                    record.cpuacct = Some(dir);
                }
                // cpu and cpuacct are often the same (co-mounted) hierarchy.
                if let (Some(a), Some(b)) = (&record.cpu, &record.cpuacct) {
                    if std::fs::canonicalize(a).ok() == std::fs::canonicalize(b).ok() {
                        record.cpuacct = Some(a.clone());
                    }
                }
                Ok(record)
            }
        }
    }
}
