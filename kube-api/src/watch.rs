//! WATCH with Kubernetes' semantics over [`kube_store::Store::watch`].
//!
//! - `resourceVersion` unset or `"0"`: synthetic `ADDED` events for the current state, then
//!   changes; `N`: the changes after `N` (a compacted `N` gives one `ERROR` event carrying a 410
//!   Expired `too old resource version: N (M)` Status, then the end of the stream; an `N` from
//!   the future waits up to 3 s, then fails with 504).
//! - `sendInitialEvents=true` + `resourceVersionMatch=NotOlderThan`: the current state as
//!   `ADDED` events, then a `BOOKMARK` annotated `k8s.io/initial-events-end: "true"`, then
//!   changes.
//! - Label and field selectors apply to both the old and the new state of each change: an
//!   object that stops matching is reported `DELETED` (with its new state), one that starts
//!   matching `ADDED`.
//! - `DELETED` carries the object's last state with the deletion's resourceVersion.
//! - `allowWatchBookmarks`: a `BOOKMARK` (an object of the kind with only
//!   `metadata.resourceVersion`) every bookmark interval (tokio time).
//! - `timeoutSeconds` ends the stream (default: the server's minimum request timeout ×
//!   (1 + rand[0,1)), as kube-apiserver).

use crate::errors::{self, FieldError, Result};
use crate::object::set_meta;
use crate::storage::{decode, parse_rv, Filter, Storage};
use crate::strategy::Strategy;
use futures::StreamExt;
use kube_store::{Event, EventKind, ListOptions, Revision};
use kubox_core::client::WatchParams;
use kubox_core::meta::{WatchEvent, WatchEventType};
use serde_json::{json, Value};
use std::pin::Pin;
use std::time::Duration;
use tokio::sync::mpsc;

/// A watch as the server produces it: events in wire form. Errors after the start arrive as
/// `ERROR` events carrying a `Status`; the stream ends when the watch ends.
pub type WatchStream = Pin<Box<dyn futures::Stream<Item = WatchEvent<Value>> + Send>>;

/// Timing of watches.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timing {
    pub(crate) bookmark_interval: Duration,
    pub(crate) min_request_timeout: Duration,
}

/// `validateWatchOptions`: 422 `ListOptions.meta.k8s.io "" is invalid: …`.
fn validate(p: &WatchParams) -> Result<()> {
    let mut errs = Vec::new();
    let m = p.resource_version_match.as_deref().unwrap_or("");
    let f = "resourceVersionMatch";
    if p.send_initial_events && m != "NotOlderThan" {
        errs.push(FieldError::forbidden(
            f,
            "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
        ));
    }
    if !m.is_empty() {
        if !p.send_initial_events {
            errs.push(FieldError::forbidden(
                f,
                "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
            ));
        }
        if m != "NotOlderThan" {
            errs.push(FieldError::not_supported(f, m, &["NotOlderThan"]));
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(crate::storage::invalid_list_options(&errs))
    }
}

fn event(type_: WatchEventType, object: Value) -> WatchEvent<Value> {
    WatchEvent { type_, object }
}

fn bookmark(s: &Strategy, rev: Revision, initial_end: bool) -> WatchEvent<Value> {
    let mut meta = json!({"resourceVersion": rev.to_string()});
    if initial_end {
        meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    event(
        WatchEventType::Bookmark,
        json!({"kind": s.info.kind, "apiVersion": s.info.api_version(), "metadata": meta}),
    )
}

fn error_event(e: errors::Error) -> WatchEvent<Value> {
    event(WatchEventType::Error, e.to_value())
}

/// Starts a watch. Request errors (validation, selectors, a future resourceVersion) are the
/// call's error; everything later is in the stream.
pub(crate) async fn start(
    storage: Storage,
    s: Strategy,
    namespace: Option<String>,
    p: WatchParams,
    timing: Timing,
) -> Result<WatchStream> {
    validate(&p)?;
    let filter = Filter::parse(&s, p.label_selector.as_deref(), p.field_selector.as_deref())?;
    let prefix = s.prefix(namespace.as_deref());
    let rv = match p.resource_version.as_deref().filter(|r| !r.is_empty()) {
        Some(r) => Some(parse_rv(r)?),
        None => None,
    };
    let initial = p.send_initial_events || matches!(rv, None | Some(0));
    if let Some(n) = rv.filter(|n| *n > 0) {
        storage.wait_for(n).await?;
    }
    let timeout = match p.timeout_seconds.filter(|t| *t > 0) {
        Some(t) => Duration::from_secs(u64::from(t)),
        None => {
            let f: f64 = rand::random::<f64>();
            timing.min_request_timeout.mul_f64(1.0 + f)
        }
    };
    let (tx, rx) = mpsc::channel::<WatchEvent<Value>>(256);
    tokio::spawn(async move {
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let run = run(&storage, &s, &prefix, &filter, rv, initial, &p, timing, &tx);
        tokio::select! {
            _ = run => {}
            _ = &mut deadline => {}
            _ = tx.closed() => {}
        }
    });
    Ok(Box::pin(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|e| (e, rx))
    })))
}

#[allow(clippy::too_many_arguments)]
async fn run(
    storage: &Storage,
    s: &Strategy,
    prefix: &str,
    filter: &Filter,
    rv: Option<Revision>,
    initial: bool,
    p: &WatchParams,
    timing: Timing,
    tx: &mpsc::Sender<WatchEvent<Value>>,
) {
    let mut from = rv.unwrap_or(0);
    if initial {
        let res = match storage.store.list(prefix, ListOptions::default()).await {
            Ok(r) => r,
            Err(e) => {
                let _ = tx
                    .send(error_event(errors::from_store(
                        e,
                        s.group(),
                        s.resource(),
                        "",
                    )))
                    .await;
                return;
            }
        };
        for kv in &res.kvs {
            let Ok(obj) = decode(s, kv) else { continue };
            if filter.matches(s, &obj) && tx.send(event(WatchEventType::Added, obj)).await.is_err()
            {
                return;
            }
        }
        from = res.revision;
        if p.send_initial_events && tx.send(bookmark(s, from, true)).await.is_err() {
            return;
        }
    }
    let mut stream = match storage.store.watch(prefix, from).await {
        Ok(st) => st,
        Err(kube_store::Error::Compacted { compacted, .. }) => {
            let _ = tx.send(error_event(too_old(from, compacted))).await;
            return;
        }
        Err(e) => {
            let _ = tx
                .send(error_event(errors::from_store(
                    e,
                    s.group(),
                    s.resource(),
                    "",
                )))
                .await;
            return;
        }
    };
    let mut last = from;
    let period = timing.bookmark_interval;
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick(), if p.allow_bookmarks => {
                if tx.send(bookmark(s, last, false)).await.is_err() {
                    return;
                }
            }
            item = stream.next() => match item {
                Some(Ok(ev)) => {
                    last = ev.revision();
                    if let Some(out) = translate(s, filter, &ev) {
                        if tx.send(out).await.is_err() {
                            return;
                        }
                    }
                }
                Some(Err(kube_store::Error::Compacted { compacted, .. })) => {
                    let _ = tx.send(error_event(too_old(last, compacted))).await;
                    return;
                }
                // A lagging watcher is ended; the client re-watches from its last revision.
                Some(Err(kube_store::Error::WatchLagged { .. })) | None => return,
                Some(Err(e)) => {
                    let _ = tx.send(error_event(errors::internal(e))).await;
                    return;
                }
            }
        }
    }
}

/// 410 Expired `too old resource version: N (M)`.
fn too_old(requested: Revision, compacted: Revision) -> errors::Error {
    errors::expired(format!(
        "too old resource version: {requested} ({compacted})"
    ))
}

/// One store event as a watch event, after the selectors (old and new state).
fn translate(s: &Strategy, filter: &Filter, ev: &Event) -> Option<WatchEvent<Value>> {
    if ev.kind == EventKind::Put && filter.is_empty() {
        // Without selectors only whether there was an old state matters: one decode per
        // event instead of two. (Stored values are written by the API after validation and
        // checksummed by the store; an old value that does not decode is a corrupt store, not
        // an Added event.)
        let old_matches = ev.prev.is_some();
        let new = decode(s, &ev.kv).ok()?;
        let t = if old_matches {
            WatchEventType::Modified
        } else {
            WatchEventType::Added
        };
        return Some(event(t, new));
    }
    let old = ev.prev.as_ref().and_then(|kv| decode(s, kv).ok());
    let old_matches = old.as_ref().is_some_and(|o| filter.matches(s, o));
    match ev.kind {
        EventKind::Put => {
            let new = decode(s, &ev.kv).ok()?;
            let new_matches = filter.matches(s, &new);
            match (old_matches, new_matches) {
                (true, true) => Some(event(WatchEventType::Modified, new)),
                (false, true) => Some(event(WatchEventType::Added, new)),
                (true, false) => Some(event(WatchEventType::Deleted, new)),
                (false, false) => None,
            }
        }
        EventKind::Delete => {
            let mut old = old.filter(|_| old_matches)?;
            set_meta(
                &mut old,
                "resourceVersion",
                Value::String(ev.revision().to_string()),
            );
            Some(event(WatchEventType::Deleted, old))
        }
    }
}
