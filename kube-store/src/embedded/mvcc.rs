//! The in-memory MVCC index: the latest value of every key, the revision-ordered event log
//! since the compaction revision (which is both the MVCC history and the watch replay buffer),
//! and per-key lists of the revisions at which each key changed.
//!
//! Invariant: `log.len() == rev - compact` and `log[i]` is the event of revision
//! `compact + 1 + i`, because every write is exactly one event and one revision.

use crate::{Error, Event, EventKind, KeyValue, ListOptions, ListResult, Result, Revision};
use bytes::Bytes;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::ops::Bound;
use std::sync::Arc;

/// A write operation, before it is assigned a revision.
#[derive(Debug)]
pub(crate) enum Op {
    /// `Store::create`.
    Create { key: String, value: Bytes },
    /// `Store::update`.
    Update {
        key: String,
        value: Bytes,
        expected: Option<Revision>,
    },
    /// `Store::put`.
    Put { key: String, value: Bytes },
    /// `Store::delete`.
    Delete {
        key: String,
        expected: Option<Revision>,
    },
    /// `Store::compact`.
    Compact { revision: Revision },
}

impl Op {
    /// Approximate encoded size, for batching.
    pub(crate) fn size(&self) -> usize {
        match self {
            Op::Create { key, value } | Op::Update { key, value, .. } | Op::Put { key, value } => {
                key.len() + value.len() + 24
            }
            Op::Delete { key, .. } => key.len() + 16,
            Op::Compact { .. } => 16,
        }
    }
}

/// The successful answer to an [`Op`].
#[derive(Debug)]
pub(crate) enum Reply {
    /// Create, update, put: the new revision.
    Written(Revision),
    /// Delete: the revision of the deletion and the deleted value.
    Deleted(Revision, KeyValue),
    /// Compact.
    Compacted,
}

/// A validated change, ready to be logged and applied.
#[derive(Clone, Debug)]
pub(crate) enum Change {
    /// A put or delete event (its revision is `event.kv.mod_revision`).
    Event(Arc<Event>),
    /// A compaction to this revision.
    Compact(Revision),
}

/// What a key's history looks like.
#[derive(Debug, Default)]
struct Entry {
    /// The current value, if the key exists.
    live: Option<KeyValue>,
    /// Revisions (> compact) at which the key changed, ascending.
    revs: VecDeque<Revision>,
}

/// The MVCC index. Not synchronized: the store wraps it in a lock.
#[derive(Debug, Default)]
pub(crate) struct Index {
    keys: BTreeMap<Arc<str>, Entry>,
    log: VecDeque<Arc<Event>>,
    rev: Revision,
    compact: Revision,
    live: usize,
    /// Events dropped by compactions, for the caller to free after releasing the lock
    /// ([`Index::take_garbage`]).
    garbage: Vec<Arc<Event>>,
}

/// Changes validated but not yet applied to the index, as seen by the validation of later
/// writes: a key's pending value (`None`: deleted) and the revision of that change.
pub(crate) type Overlay = HashMap<Arc<str>, (Option<KeyValue>, Revision)>;

/// A consistent copy of the index, for a snapshot: the state at the compaction revision and
/// the events after it.
#[derive(Debug, Default)]
pub(crate) struct View {
    /// The store revision.
    pub(crate) revision: Revision,
    /// The compaction revision.
    pub(crate) compact: Revision,
    /// Every key live at `compact`, in key order, with full metadata.
    pub(crate) base: Vec<KeyValue>,
    /// Events of revisions `compact + 1 ..= revision`.
    pub(crate) events: Vec<Arc<Event>>,
}

impl Index {
    /// An index whose state at `compact` (= its revision) is `base`.
    pub(crate) fn from_base(compact: Revision, base: Vec<KeyValue>) -> Index {
        let mut idx = Index {
            rev: compact,
            compact,
            ..Index::default()
        };
        for kv in base {
            let key = kv.key.clone();
            idx.keys.insert(
                key,
                Entry {
                    live: Some(kv),
                    revs: VecDeque::new(),
                },
            );
            idx.live += 1;
        }
        idx
    }

    /// The current revision.
    pub(crate) fn revision(&self) -> Revision {
        self.rev
    }

    /// The compaction revision.
    pub(crate) fn compacted(&self) -> Revision {
        self.compact
    }

    /// Number of live keys.
    pub(crate) fn live_keys(&self) -> usize {
        self.live
    }

    /// Number of retained events (history since the compaction revision).
    #[cfg(test)]
    pub(crate) fn history_len(&self) -> usize {
        self.log.len()
    }

    fn event_at(&self, rev: Revision) -> &Arc<Event> {
        &self.log[(rev - self.compact - 1) as usize]
    }

    /// The value of `entry` at `rev` (`compact <= rev <= self.rev`): the previous value of the
    /// first change after `rev`, or the current value when there is none.
    fn value_at<'a>(&'a self, entry: &'a Entry, rev: Revision) -> Option<&'a KeyValue> {
        if rev >= self.rev {
            return entry.live.as_ref();
        }
        let i = entry.revs.partition_point(|&r| r <= rev);
        match entry.revs.get(i) {
            Some(&r) => self.event_at(r).prev.as_ref(),
            None => entry.live.as_ref(),
        }
    }

    fn check_read_revision(&self, rev: Revision) -> Result<()> {
        if rev < self.compact {
            return Err(Error::Compacted {
                requested: rev,
                compacted: self.compact,
            });
        }
        if rev > self.rev {
            return Err(Error::FutureRevision {
                requested: rev,
                current: self.rev,
            });
        }
        Ok(())
    }

    /// The key's current value.
    pub(crate) fn get(&self, key: &str) -> Option<&KeyValue> {
        self.keys.get(key).and_then(|e| e.live.as_ref())
    }

    /// The key's value at `rev`.
    pub(crate) fn get_at(&self, key: &str, rev: Revision) -> Result<Option<KeyValue>> {
        self.check_read_revision(rev)?;
        Ok(self
            .keys
            .get(key)
            .and_then(|e| self.value_at(e, rev))
            .cloned())
    }

    /// `Store::list`.
    pub(crate) fn list(&self, prefix: &str, opts: &ListOptions) -> Result<ListResult> {
        let rev = opts.revision.unwrap_or(self.rev);
        self.check_read_revision(rev)?;
        let limit = match opts.limit {
            None | Some(0) => usize::MAX,
            Some(n) => n,
        };
        let start = match &opts.start_after {
            Some(s) if s.as_str() >= prefix => Bound::Excluded(s.as_str()),
            _ => Bound::Included(prefix),
        };
        let mut out = ListResult {
            revision: rev,
            ..ListResult::default()
        };
        for (k, entry) in self.keys.range::<str, _>((start, Bound::Unbounded)) {
            if !k.starts_with(prefix) {
                break;
            }
            if let Some(kv) = self.value_at(entry, rev) {
                out.count += 1;
                if out.kvs.len() < limit {
                    out.kvs.push(kv.clone());
                }
            }
        }
        out.more = out.count > out.kvs.len();
        Ok(out)
    }

    /// Copies into `out` the events with revision `> after` under `prefix`, scanning at most
    /// `max_scan` events; returns the revision up to which the log was scanned.
    pub(crate) fn read_events(
        &self,
        prefix: &str,
        after: Revision,
        max_scan: usize,
        out: &mut VecDeque<Arc<Event>>,
    ) -> Result<Revision> {
        if after < self.compact {
            return Err(Error::Compacted {
                requested: after,
                compacted: self.compact,
            });
        }
        if after >= self.rev {
            return Ok(after);
        }
        let start = (after - self.compact) as usize;
        let end = self.log.len().min(start.saturating_add(max_scan));
        for ev in self.log.range(start..end) {
            if ev.kv.key.starts_with(prefix) {
                out.push_back(ev.clone());
            }
        }
        Ok(self.compact + end as Revision)
    }

    /// Validates `op` against the index plus the changes not applied to it yet (`overlay`,
    /// `pending_rev`, `pending_compact`) and returns the change it makes with its reply.
    /// On success updates the overlay and the pending revision / compaction.
    pub(crate) fn prepare(
        &self,
        op: Op,
        overlay: &mut Overlay,
        pending_rev: &mut Revision,
        pending_compact: &mut Revision,
    ) -> Result<(Change, Reply)> {
        // The key's current value (pending, else in the index) and the index's or the
        // overlay's `Arc<str>` for it — found with one lookup.
        let current = |key: &str| -> (Option<KeyValue>, Option<Arc<str>>) {
            match overlay.get_key_value(key) {
                Some((k, (v, _))) => (v.clone(), Some(k.clone())),
                None => match self.keys.get_key_value(key) {
                    Some((k, e)) => (e.live.clone(), Some(k.clone())),
                    None => (None, None),
                },
            }
        };
        let rev = *pending_rev + 1;
        let (event, reply) = match op {
            Op::Compact { revision } => {
                if revision > *pending_rev {
                    return Err(Error::FutureRevision {
                        requested: revision,
                        current: *pending_rev,
                    });
                }
                if revision < *pending_compact {
                    return Err(Error::Compacted {
                        requested: revision,
                        compacted: *pending_compact,
                    });
                }
                *pending_compact = revision;
                return Ok((Change::Compact(revision), Reply::Compacted));
            }
            Op::Create { key, value } => {
                crate::store::check_limits(&key, Some(&value))?;
                let (prev, k) = current(&key);
                if prev.is_some() {
                    return Err(Error::AlreadyExists { key });
                }
                let k = k.unwrap_or_else(|| Arc::from(key));
                (put_event(k, value, None, rev), Reply::Written(rev))
            }
            Op::Put { key, value } => {
                crate::store::check_limits(&key, Some(&value))?;
                let (prev, k) = current(&key);
                let k = k.unwrap_or_else(|| Arc::from(key));
                (put_event(k, value, prev, rev), Reply::Written(rev))
            }
            Op::Update {
                key,
                value,
                expected,
            } => {
                crate::store::check_limits(&key, Some(&value))?;
                let prev = current(&key)
                    .0
                    .ok_or_else(|| Error::NotFound { key: key.clone() })?;
                check_expected(&key, &prev, expected)?;
                (
                    put_event(prev.key.clone(), value, Some(prev), rev),
                    Reply::Written(rev),
                )
            }
            Op::Delete { key, expected } => {
                crate::store::check_limits(&key, None)?;
                let prev = current(&key)
                    .0
                    .ok_or_else(|| Error::NotFound { key: key.clone() })?;
                check_expected(&key, &prev, expected)?;
                let ev = delete_event(prev.clone(), rev);
                (ev, Reply::Deleted(rev, prev))
            }
        };
        let new = match event.kind {
            EventKind::Put => Some(event.kv.clone()),
            EventKind::Delete => None,
        };
        overlay.insert(event.kv.key.clone(), (new, rev));
        *pending_rev = rev;
        Ok((Change::Event(Arc::new(event)), reply))
    }

    /// Validates and applies `op` at once (memory-only mode).
    pub(crate) fn execute(&mut self, op: Op) -> Result<(Change, Reply)> {
        let mut overlay = Overlay::new();
        let (mut rev, mut compact) = (self.rev, self.compact);
        let (change, reply) = self.prepare(op, &mut overlay, &mut rev, &mut compact)?;
        self.apply(change.clone());
        Ok((change, reply))
    }

    /// Replays a logged put (recovery): a create or an update of whatever is there.
    pub(crate) fn replay_put(
        &mut self,
        rev: Revision,
        key: &str,
        value: Bytes,
    ) -> Result<(), String> {
        self.check_replay_rev(rev)?;
        let prev = self.get(key).cloned();
        let k = prev
            .as_ref()
            .map_or_else(|| self.intern(key), |p| p.key.clone());
        let ev = put_event(k, value, prev, rev);
        self.apply(Change::Event(Arc::new(ev)));
        Ok(())
    }

    /// Replays a logged delete (recovery).
    pub(crate) fn replay_delete(&mut self, rev: Revision, key: &str) -> Result<(), String> {
        self.check_replay_rev(rev)?;
        let prev = self
            .get(key)
            .cloned()
            .ok_or_else(|| format!("delete of absent key {key:?} at revision {rev}"))?;
        self.apply(Change::Event(Arc::new(delete_event(prev, rev))));
        Ok(())
    }

    /// Replays a logged compaction (recovery); older ones than the current are ignored.
    pub(crate) fn replay_compact(&mut self, rev: Revision) -> Result<(), String> {
        if rev > self.rev {
            return Err(format!("compaction to {rev} beyond revision {}", self.rev));
        }
        self.compact_to(rev);
        self.garbage.clear();
        Ok(())
    }

    fn check_replay_rev(&self, rev: Revision) -> Result<(), String> {
        if rev != self.rev + 1 {
            return Err(format!(
                "revision {rev} does not follow revision {}",
                self.rev
            ));
        }
        Ok(())
    }

    /// Reuses the index's `Arc<str>` for a known key.
    fn intern(&self, key: &str) -> Arc<str> {
        match self.keys.get_key_value(key) {
            Some((k, _)) => k.clone(),
            None => Arc::from(key),
        }
    }

    /// The events dropped by compactions since the last call: freeing them (and the values
    /// they hold) is left to the caller, outside the lock.
    pub(crate) fn take_garbage(&mut self) -> Vec<Arc<Event>> {
        std::mem::take(&mut self.garbage)
    }

    /// Applies a prepared change. Changes must be applied in the order they were prepared.
    pub(crate) fn apply(&mut self, change: Change) {
        match change {
            Change::Compact(r) => self.compact_to(r),
            Change::Event(ev) => {
                let rev = ev.kv.mod_revision;
                debug_assert_eq!(rev, self.rev + 1);
                let entry = self.keys.entry(ev.kv.key.clone()).or_default();
                // Revisions at or below the compaction revision are pruned lazily, here.
                while entry.revs.front().is_some_and(|&r| r <= self.compact) {
                    entry.revs.pop_front();
                }
                match ev.kind {
                    EventKind::Put => {
                        if entry.live.is_none() {
                            self.live += 1;
                        }
                        entry.live = Some(ev.kv.clone());
                    }
                    EventKind::Delete => {
                        if entry.live.take().is_some() {
                            self.live -= 1;
                        }
                    }
                }
                entry.revs.push_back(rev);
                self.log.push_back(ev);
                self.rev = rev;
            }
        }
    }

    /// Drops the history at or below `rev` (keeping every key's latest value). The dropped
    /// events go to the garbage ([`Index::take_garbage`]).
    ///
    /// Only deletions cost a key lookup here: a deleted key without later changes is removed.
    /// A key's own list of revisions is pruned when it next changes ([`Index::apply`]); until
    /// then its revisions at or below the compaction revision are ignored by the lookups
    /// (they only ever search for changes after a revision `>= compact`). That keeps no more
    /// memory than pruning here did: a `VecDeque` keeps its capacity when emptied.
    fn compact_to(&mut self, rev: Revision) {
        let rev = rev.min(self.rev);
        if rev <= self.compact {
            return;
        }
        let n = (rev - self.compact) as usize;
        self.compact = rev;
        self.garbage.reserve(n);
        for ev in self.log.drain(..n) {
            if ev.kind == EventKind::Delete {
                let key: &str = &ev.kv.key;
                let gone = self
                    .keys
                    .get(key)
                    .is_some_and(|e| e.live.is_none() && e.revs.back().is_none_or(|&r| r <= rev));
                if gone {
                    self.keys.remove(key);
                }
            }
            self.garbage.push(ev);
        }
        // Release memory after a large compaction.
        if self.log.capacity() > 1024 && self.log.capacity() > 4 * self.log.len() {
            self.log.shrink_to(self.log.len() * 2);
        }
    }

    /// A consistent copy for a snapshot, at once (tests; the store uses [`copy_view`]).
    #[cfg(test)]
    pub(crate) fn view(&self) -> View {
        let base = self
            .keys
            .values()
            .filter_map(|e| self.value_at(e, self.compact))
            .cloned()
            .collect();
        View {
            revision: self.rev,
            compact: self.compact,
            base,
            events: self.log.iter().cloned().collect(),
        }
    }

    /// Every live key-value, in key order (for tests and backups).
    pub(crate) fn live_values(&self) -> impl Iterator<Item = &KeyValue> {
        self.keys.values().filter_map(|e| e.live.as_ref())
    }
}

/// Keys or events copied per read-lock section by [`copy_view`].
const COPY_CHUNK: usize = 1024;

/// Copies the [`View`] of the index at `revision`, whose compaction revision was then
/// `compact` (both read together after an applied batch), while writes go on: in sections of
/// [`COPY_CHUNK`] keys or events under short read locks, so that the writer is never held up
/// for longer than one section.
///
/// The MVCC history makes this consistent without stopping writes: first the events
/// `(compact, revision]` are copied; then, key by key, the value at `compact` is the `prev` of
/// the key's first event among them, or, for a key without one, its value at `revision` (the
/// `prev` of its first later change, if any). This needs the history after `compact` to stay:
/// if a compaction beyond what is still to be copied happens meanwhile (an explicit compaction,
/// or an automatic one after `max_history` writes), the copy is abandoned and `None` returned.
pub(crate) fn copy_view(
    index: &parking_lot::RwLock<Index>,
    revision: Revision,
    compact: Revision,
) -> Option<View> {
    let events = copy_events(index, revision, compact)?;
    let base = copy_base(index, revision, &events)?;
    Some(View {
        revision,
        compact,
        base,
        events,
    })
}

/// The events `(compact, revision]`, in sections (see [`copy_view`]).
fn copy_events(
    index: &parking_lot::RwLock<Index>,
    revision: Revision,
    compact: Revision,
) -> Option<Vec<Arc<Event>>> {
    let mut events = Vec::with_capacity((revision - compact).max(0) as usize);
    let mut next = compact + 1;
    while next <= revision {
        let idx = index.read();
        if idx.compact >= next {
            return None;
        }
        let end = revision.min(next + COPY_CHUNK as Revision - 1);
        let from = (next - idx.compact - 1) as usize;
        let to = (end - idx.compact) as usize;
        events.extend(idx.log.range(from..to).cloned());
        next = end + 1;
    }
    Some(events)
}

/// The value of every key at the compaction revision, given the `events` after it up to
/// `revision`, in sections (see [`copy_view`]).
fn copy_base(
    index: &parking_lot::RwLock<Index>,
    revision: Revision,
    events: &[Arc<Event>],
) -> Option<Vec<KeyValue>> {
    // The value at the compaction revision of every key that changed in `events`.
    let mut first: HashMap<Arc<str>, Option<KeyValue>> = HashMap::new();
    for ev in events {
        first
            .entry(ev.kv.key.clone())
            .or_insert_with(|| ev.prev.clone());
    }
    let mut base = Vec::new();
    let mut after: Option<Arc<str>> = None;
    loop {
        let idx = index.read();
        if idx.compact > revision {
            return None;
        }
        let lower = match &after {
            Some(k) => Bound::Excluded(&**k),
            None => Bound::Unbounded,
        };
        let mut last = None;
        let mut n = 0;
        for (k, entry) in idx
            .keys
            .range::<str, _>((lower, Bound::Unbounded))
            .take(COPY_CHUNK)
        {
            n += 1;
            last = Some(k);
            match first.remove(&**k) {
                Some(v) => base.extend(v),
                None => base.extend(idx.value_at(entry, revision).cloned()),
            }
        }
        if n < COPY_CHUNK {
            break;
        }
        after = last.cloned();
    }
    // Keys a compaction (up to `revision`) removed from the index during the copy.
    if !first.is_empty() {
        base.extend(first.into_values().flatten());
        base.sort_unstable_by(|a, b| a.key.cmp(&b.key));
    }
    Some(base)
}

fn check_expected(key: &str, cur: &KeyValue, expected: Option<Revision>) -> Result<()> {
    match expected {
        Some(r) if r != cur.mod_revision => Err(Error::Conflict {
            key: key.to_owned(),
            expected: r,
            current: Some(Box::new(cur.clone())),
        }),
        _ => Ok(()),
    }
}

fn put_event(key: Arc<str>, value: Bytes, prev: Option<KeyValue>, rev: Revision) -> Event {
    let (create_revision, version) = match &prev {
        Some(p) => (p.create_revision, p.version + 1),
        None => (rev, 1),
    };
    Event {
        kind: EventKind::Put,
        kv: KeyValue {
            key,
            value,
            create_revision,
            mod_revision: rev,
            version,
        },
        prev,
    }
}

fn delete_event(prev: KeyValue, rev: Revision) -> Event {
    Event {
        kind: EventKind::Delete,
        kv: KeyValue {
            key: prev.key.clone(),
            value: Bytes::new(),
            create_revision: 0,
            mod_revision: rev,
            version: 0,
        },
        prev: Some(prev),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(idx: &mut Index, k: &str, v: &str) -> Revision {
        match idx
            .execute(Op::Put {
                key: k.into(),
                value: Bytes::from(v.to_owned()),
            })
            .unwrap()
            .1
        {
            Reply::Written(r) => r,
            r => panic!("{r:?}"),
        }
    }

    #[test]
    fn copy_view_while_writing() {
        let lock = parking_lot::RwLock::new(Index::default());
        let mut n = 0;
        let mut write = |lock: &parking_lot::RwLock<Index>, k: usize| {
            n += 1;
            let mut idx = lock.write();
            let key = format!("/k{}", k % 3000);
            if n % 5 == 0 && idx.get(&key).is_some() {
                idx.execute(Op::Delete {
                    key,
                    expected: None,
                })
                .unwrap();
            } else {
                idx.execute(Op::Put {
                    key,
                    value: Bytes::from(format!("v{n}")),
                })
                .unwrap();
            }
        };
        for i in 0..6000 {
            write(&lock, i * 7);
        }
        lock.write()
            .execute(Op::Compact { revision: 2500 })
            .unwrap();
        let expected = lock.read().view();
        let (rev, compact) = (expected.revision, expected.compact);
        // Later writes do not change the copy; nor does a compaction up to `rev` once the
        // events are copied.
        for i in 0..5000 {
            write(&lock, i * 13);
        }
        let got = copy_view(&lock, rev, compact).unwrap();
        assert_eq!((got.revision, got.compact), (rev, compact));
        assert_eq!(got.base, expected.base);
        assert_eq!(got.events, expected.events);
        lock.write().execute(Op::Compact { revision: rev }).unwrap();
        let base = copy_base(&lock, rev, &got.events).unwrap();
        assert_eq!(base, expected.base);
        // A compaction beyond what is still to be copied makes it give up.
        assert!(copy_view(&lock, rev, compact).is_none());
        lock.write()
            .execute(Op::Compact { revision: rev + 1 })
            .unwrap();
        assert!(copy_base(&lock, rev, &got.events).is_none());
    }

    #[test]
    fn history_and_compaction() {
        let mut idx = Index::default();
        assert_eq!(put(&mut idx, "/a", "1"), 1);
        assert_eq!(put(&mut idx, "/b", "1"), 2);
        assert_eq!(put(&mut idx, "/a", "2"), 3);
        idx.execute(Op::Delete {
            key: "/b".into(),
            expected: None,
        })
        .unwrap();
        assert_eq!(put(&mut idx, "/b", "3"), 5);
        let a1 = idx.get_at("/a", 1).unwrap().unwrap();
        assert_eq!((a1.value.as_ref(), a1.version), (&b"1"[..], 1));
        assert_eq!(idx.get_at("/a", 3).unwrap().unwrap().version, 2);
        assert!(idx.get_at("/b", 4).unwrap().is_none());
        assert_eq!(idx.get_at("/b", 5).unwrap().unwrap().create_revision, 5);
        assert_eq!(idx.get_at("/b", 0).unwrap(), None);
        let l = idx
            .list(
                "/",
                &ListOptions {
                    revision: Some(4),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(l.kvs.len(), 1);
        idx.execute(Op::Compact { revision: 4 }).unwrap();
        assert!(matches!(idx.get_at("/a", 3), Err(Error::Compacted { .. })));
        assert!(idx.get_at("/b", 4).unwrap().is_none());
        assert_eq!(idx.get("/a").unwrap().version, 2);
        assert_eq!(idx.history_len(), 1);
        let v = idx.view();
        assert_eq!(v.base.len(), 1);
        assert_eq!(v.events.len(), 1);
        // The deleted-then-recreated key keeps only its live value.
        idx.execute(Op::Compact { revision: 5 }).unwrap();
        assert_eq!(idx.keys.len(), 2);
        assert_eq!(idx.history_len(), 0);
        assert_eq!(idx.live_keys(), 2);
    }
}
