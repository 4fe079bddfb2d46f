//! A range allocation object in the store, changed only by compare-and-swap (kube-apiserver's
//! `allocator/storage` `Etcd` allocator, which keeps a `RangeAllocation` at
//! `/registry/ranges/serviceips` and `/registry/ranges/servicenodeports`).

use super::range::Bitmap;
use super::Error;
use crate::clock::Clock;
use base64::Engine as _;
use bytes::Bytes;
use kube_store::{Revision, Store};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// How long an allocation counts as "in flight": the repair pass never frees an offset
/// allocated less than this long ago even when no Service holds it yet (its create may still
/// be on the way to the store).
pub(crate) const IN_FLIGHT_SECS: i64 = 60;

/// Most entries kept in `recent` (a burst of allocations keeps the value small; the oldest
/// entries, whose Services are most likely written by now, go first).
const MAX_RECENT: usize = 4096;

fn cap_recent(recent: &mut BTreeMap<u64, i64>) {
    if recent.len() <= MAX_RECENT {
        return;
    }
    let mut by_age: Vec<(i64, u64)> = recent.iter().map(|(o, at)| (*at, *o)).collect();
    by_age.sort_unstable();
    let excess = recent.len() - MAX_RECENT;
    for (_, o) in by_age.into_iter().take(excess) {
        recent.remove(&o);
    }
}

/// The stored value (JSON), modelled on `v1 RangeAllocation`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RangeAllocation {
    #[serde(default)]
    pub(crate) api_version: String,
    #[serde(default)]
    pub(crate) kind: String,
    /// The range: `10.0.0.0/24` or `30000-32767`.
    pub(crate) range: String,
    /// The bitmap, base64: bit `i` (byte `i / 8`, bit `i % 8`, least significant first) is set
    /// when offset `i` is taken.
    pub(crate) data: String,
    /// Offsets allocated in the last [`IN_FLIGHT_SECS`] seconds → unix seconds of allocation.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) recent: BTreeMap<u64, i64>,
}

impl RangeAllocation {
    pub(crate) fn new(range: &str) -> Self {
        RangeAllocation {
            api_version: "v1".into(),
            kind: "RangeAllocation".into(),
            range: range.into(),
            data: String::new(),
            recent: BTreeMap::new(),
        }
    }
    pub(crate) fn bitmap(&self) -> Result<Bitmap, Error> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&self.data)
            .map_err(|e| Error::Corrupt(format!("range allocation data: {e}")))?;
        Ok(Bitmap { bytes })
    }
    pub(crate) fn set_bitmap(&mut self, b: &Bitmap) {
        let mut bytes = b.bytes.clone();
        while bytes.last() == Some(&0) {
            bytes.pop();
        }
        self.data = base64::engine::general_purpose::STANDARD.encode(bytes);
    }
}

/// What to allocate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Want {
    /// A random free offset.
    Next,
    /// This offset.
    Exact(u64),
}

/// Why an allocation failed.
#[derive(Debug)]
pub(crate) enum AllocError {
    /// `wants[i]` is taken (`provided … is already allocated`).
    Allocated(usize),
    /// No free offset left (`range is full`).
    Full,
    /// The store failed or holds a range that isn't ours.
    Other(Error),
}

/// One range allocation object.
#[derive(Clone)]
pub(crate) struct RangeStore {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) key: &'static str,
    /// The range as stored (`10.0.0.0/24`).
    pub(crate) spec: String,
    /// Number of offsets.
    pub(crate) size: u64,
    /// Offsets below this are only handed out on request (the `kubernetes` Service's IP).
    pub(crate) reserved: u64,
}

/// Attempts of one compare-and-swap loop before giving up.
const MAX_ATTEMPTS: usize = 10_000;

impl RangeStore {
    fn now(&self) -> i64 {
        self.clock.now().as_second()
    }

    /// The stored object and its revision (`None`: not written yet).
    pub(crate) async fn read(&self) -> Result<Option<(RangeAllocation, Revision)>, Error> {
        let Some(kv) = self.store.get(self.key).await.map_err(Error::Store)? else {
            return Ok(None);
        };
        let ra: RangeAllocation = serde_json::from_slice(&kv.value)
            .map_err(|e| Error::Corrupt(format!("{}: {e}", self.key)))?;
        Ok(Some((ra, kv.mod_revision)))
    }

    /// Writes `ra` if the object is still at `rev` (`None`: still absent). `Ok(false)` when
    /// someone else wrote first.
    pub(crate) async fn write(
        &self,
        ra: &RangeAllocation,
        rev: Option<Revision>,
    ) -> Result<bool, Error> {
        let value = Bytes::from(serde_json::to_vec(ra).unwrap_or_default());
        let res = match rev {
            None => self.store.create(self.key, value).await.map(|_| ()),
            Some(r) => self
                .store
                .update(self.key, value, Some(r))
                .await
                .map(|_| ()),
        };
        match res {
            Ok(()) => Ok(true),
            Err(
                kube_store::Error::Conflict { .. }
                | kube_store::Error::AlreadyExists { .. }
                | kube_store::Error::NotFound { .. },
            ) => Ok(false),
            Err(e) => Err(Error::Store(e)),
        }
    }

    /// The current object (a fresh one when absent), checked against our range.
    async fn current(&self) -> Result<(RangeAllocation, Bitmap, Option<Revision>), Error> {
        match self.read().await? {
            None => Ok((RangeAllocation::new(&self.spec), Bitmap::default(), None)),
            Some((ra, rev)) => {
                if ra.range != self.spec {
                    return Err(Error::MismatchedRange {
                        key: self.key,
                        stored: ra.range,
                        configured: self.spec.clone(),
                    });
                }
                let b = ra.bitmap()?;
                Ok((ra, b, Some(rev)))
            }
        }
    }

    /// Allocates every `want` in one compare-and-swap write (all or nothing). With `dry_run`
    /// nothing is written, but the answer is what a real allocation would give now.
    pub(crate) async fn allocate(
        &self,
        wants: &[Want],
        dry_run: bool,
    ) -> Result<Vec<u64>, AllocError> {
        if wants.is_empty() {
            return Ok(Vec::new());
        }
        for _ in 0..MAX_ATTEMPTS {
            let (mut ra, mut b, rev) = self.current().await.map_err(AllocError::Other)?;
            let mut got = Vec::with_capacity(wants.len());
            for (i, w) in wants.iter().enumerate() {
                let off = match *w {
                    Want::Exact(o) if o >= self.size || b.has(o) => {
                        return Err(AllocError::Allocated(i))
                    }
                    Want::Exact(o) => o,
                    Want::Next => b
                        .random_free(self.reserved, self.size)
                        .ok_or(AllocError::Full)?,
                };
                b.set(off);
                got.push(off);
            }
            if dry_run {
                return Ok(got);
            }
            let now = self.now();
            ra.recent.retain(|_, at| now - *at < IN_FLIGHT_SECS);
            for o in &got {
                ra.recent.insert(*o, now);
            }
            cap_recent(&mut ra.recent);
            ra.set_bitmap(&b);
            if self.write(&ra, rev).await.map_err(AllocError::Other)? {
                return Ok(got);
            }
            tokio::task::yield_now().await;
        }
        Err(AllocError::Other(Error::Contention(self.key)))
    }

    /// Frees `offsets` (absent ones are ignored) in one compare-and-swap write.
    pub(crate) async fn release(&self, offsets: &[u64]) -> Result<(), Error> {
        if offsets.is_empty() {
            return Ok(());
        }
        for _ in 0..MAX_ATTEMPTS {
            let Some((mut ra, rev)) = self.read().await? else {
                return Ok(());
            };
            if ra.range != self.spec {
                // Another range now; the repair pass owns it.
                return Ok(());
            }
            let mut b = ra.bitmap()?;
            if offsets.iter().all(|o| !b.has(*o)) {
                return Ok(());
            }
            for o in offsets {
                b.clear(*o);
                ra.recent.remove(o);
            }
            ra.set_bitmap(&b);
            if self.write(&ra, Some(rev)).await? {
                return Ok(());
            }
            tokio::task::yield_now().await;
        }
        Err(Error::Contention(self.key))
    }

    /// The taken offsets, as stored.
    pub(crate) async fn snapshot(&self) -> Result<Bitmap, Error> {
        match self.read().await? {
            Some((ra, _)) if ra.range == self.spec => ra.bitmap(),
            _ => Ok(Bitmap::default()),
        }
    }

    /// Whether the object is in the state `in_use` says, correcting it if not (the repair
    /// pass): offsets in use are marked; taken offsets no Service uses are freed unless
    /// allocated less than [`IN_FLIGHT_SECS`] ago. `read_used` lists what Services hold,
    /// strictly after the object was read, so that a write in between fails the swap.
    pub(crate) async fn repair<F, Fut>(&self, mut read_used: F) -> Result<RepairReport, Error>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<Vec<u64>, Error>>,
    {
        for _ in 0..MAX_ATTEMPTS {
            let (old, rev) = match self.read().await? {
                Some((ra, rev)) => (Some(ra), Some(rev)),
                None => (None, None),
            };
            let used = read_used().await?;
            let now = self.now();
            let mut ra = RangeAllocation::new(&self.spec);
            let mut report = RepairReport::default();
            let (stored, recent) = match &old {
                Some(o) if o.range == self.spec => (o.bitmap()?, o.recent.clone()),
                Some(_) => {
                    report.range_changed = true;
                    (Bitmap::default(), BTreeMap::new())
                }
                None => (Bitmap::default(), BTreeMap::new()),
            };
            let mut b = Bitmap::default();
            for o in &used {
                if *o < self.size {
                    if !stored.has(*o) {
                        report.marked += 1;
                    }
                    b.set(*o);
                }
            }
            for o in stored.iter() {
                if b.has(o) {
                    continue;
                }
                match recent.get(&o) {
                    Some(at) if now - *at < IN_FLIGHT_SECS => {
                        b.set(o);
                        ra.recent.insert(o, *at);
                    }
                    _ => report.freed += 1,
                }
            }
            ra.set_bitmap(&b);
            if old.as_ref() == Some(&ra) {
                return Ok(report);
            }
            if self.write(&ra, rev).await? {
                return Ok(report);
            }
            tokio::task::yield_now().await;
        }
        Err(Error::Contention(self.key))
    }
}

/// What one repair of one range changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RepairReport {
    /// Offsets held by a Service but not marked taken (now marked).
    pub marked: u64,
    /// Offsets marked taken but held by no Service (now free).
    pub freed: u64,
    /// The stored object was for another range (a changed configuration); it was rebuilt.
    pub range_changed: bool,
}
