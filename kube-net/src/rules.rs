//! The [`NetworkRules`] trait: the seam between the proxy and the node's packet path.

use std::time::Duration;

use async_trait::async_trait;

use crate::model::DesiredState;

/// Errors of a backend. Every variant is retryable: the proxy retries a failed sync with a
/// full resync after its retry period.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A command (e.g. `nft -f -`) could not be run or failed; the message carries its
    /// stderr.
    #[error("{command}: {message}")]
    Command {
        /// What was run.
        command: String,
        /// Why it failed.
        message: String,
    },
    /// A socket or other IO error.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The backend is not usable on this host (e.g. no `nft`).
    #[error("backend unavailable: {0}")]
    Unavailable(String),
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What one [`NetworkRules::sync`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// The backend's name (`nftables`, `userspace`).
    pub backend: &'static str,
    /// Whether this was a full resync (everything rewritten) or incremental.
    pub full: bool,
    /// Service ports that were added.
    pub added: usize,
    /// Service ports whose rules changed.
    pub updated: usize,
    /// Service ports that were removed.
    pub removed: usize,
    /// Service ports left as they were.
    pub unchanged: usize,
    /// The number of rules (or listeners) the backend holds after the sync.
    pub rule_count: usize,
    /// Backend-specific notes (e.g. "ns/web/tcp/http: VIP not bindable, listening on
    /// 0.0.0.0:41234").
    pub notes: Vec<String>,
    /// How long the sync took.
    pub duration: Duration,
}

impl Report {
    /// Whether the sync changed nothing.
    pub fn is_noop(&self) -> bool {
        self.added == 0 && self.updated == 0 && self.removed == 0
    }
}

/// Makes the node's packet path match a [`DesiredState`].
///
/// # Contract
/// - **Idempotent.** Syncing the same desired state twice leaves the node as the first sync
///   did; the second [`Report`] is a no-op (`added == updated == removed == 0`).
/// - **Full resync first.** The first sync after construction (and the first after
///   [`resync`](NetworkRules::resync) or a failed sync) rewrites everything the backend owns,
///   removing whatever an earlier process left behind; `Report::full` is true.
/// - **Incremental afterwards.** Later syncs touch only the Service ports that differ from the
///   previous successful sync; a small change costs a small update.
/// - **Atomic per sync where the backend can.** The nftables backend applies each sync as one
///   transaction: traffic sees the old rules or the new ones, never a mix. On error nothing
///   changed, and the next sync is a full one.
/// - **Reports what changed**: added/updated/removed/unchanged Service ports and the rule count.
/// - **Only its own state.** A backend never touches rules or sockets it did not create.
///
/// The trait is object safe (`async-trait`), so the proxy holds a `Box<dyn NetworkRules>`.
/// [`crate::testing`] is the conformance suite every backend runs.
#[async_trait]
pub trait NetworkRules: Send + Sync {
    /// The backend's name, for logs and reports.
    fn name(&self) -> &'static str;

    /// Makes the rules match `desired`.
    async fn sync(&mut self, desired: &DesiredState) -> Result<Report>;

    /// Forces the next sync to be a full resync.
    fn resync(&mut self);

    /// Removes everything this backend created (on shutdown).
    async fn cleanup(&mut self) -> Result<()>;
}

/// Diffs two desired states: (added, updated, removed, unchanged) Service port names.
pub(crate) struct Diff<'a> {
    pub(crate) added: Vec<&'a crate::model::ServicePortRules>,
    pub(crate) updated: Vec<(
        &'a crate::model::ServicePortRules,
        &'a crate::model::ServicePortRules,
    )>,
    pub(crate) removed: Vec<&'a crate::model::ServicePortRules>,
    pub(crate) unchanged: usize,
}

pub(crate) fn diff<'a>(old: &'a DesiredState, new: &'a DesiredState) -> Diff<'a> {
    let mut d = Diff {
        added: Vec::new(),
        updated: Vec::new(),
        removed: Vec::new(),
        unchanged: 0,
    };
    for (k, n) in &new.services {
        match old.services.get(k) {
            None => d.added.push(n),
            Some(o) if o != n => d.updated.push((o, n)),
            Some(_) => d.unchanged += 1,
        }
    }
    for (k, o) in &old.services {
        if !new.services.contains_key(k) {
            d.removed.push(o);
        }
    }
    d
}
