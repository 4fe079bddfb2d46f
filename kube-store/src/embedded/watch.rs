//! Watch streams: a cursor into the shared, revision-ordered event log.
//!
//! Every watcher holds the revision up to which it has scanned the log. When it has nothing
//! buffered it copies, under a short read lock, up to `batch` `Arc<Event>`s matching its prefix
//! into a local buffer, then hands them out one by one (cloning an `Event` is a few reference
//! count increments). When it has caught up it waits on a `tokio::sync::watch` channel that
//! the writer bumps after each applied batch. A watcher never skips: if the history it still
//! needs has been compacted away, it ends with [`Error::Compacted`].

use super::Core;
use crate::{Error, Event, Revision, WatchStream};
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::watch;

struct State {
    core: Arc<Core>,
    prefix: String,
    cursor: Revision,
    buf: VecDeque<Arc<Event>>,
    rx: watch::Receiver<Revision>,
    batch: usize,
    done: bool,
}

/// A stream of the events under `prefix` after revision `after`.
pub(crate) fn stream(
    core: Arc<Core>,
    prefix: String,
    after: Revision,
    batch: usize,
) -> WatchStream {
    let rx = core.notify.subscribe();
    let state = State {
        core,
        prefix,
        cursor: after,
        buf: VecDeque::new(),
        rx,
        batch: batch.max(1),
        done: false,
    };
    Box::pin(futures::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(ev) = st.buf.pop_front() {
                return Some((Ok(Event::clone(&ev)), st));
            }
            if st.done {
                return None;
            }
            // Mark the current notification as seen *before* reading, so that a batch applied
            // after the read wakes us up.
            st.rx.borrow_and_update();
            let closed = st.core.closed.load(Ordering::Acquire);
            let read = {
                let index = st.core.index.read();
                index.read_events(&st.prefix, st.cursor, st.batch, &mut st.buf)
            };
            match read {
                Err(e) => {
                    st.done = true;
                    return Some((Err(e), st));
                }
                Ok(cursor) if cursor > st.cursor => st.cursor = cursor,
                Ok(_) if closed => {
                    st.done = true;
                    return Some((Err(closed_error()), st));
                }
                Ok(_) => {
                    if st.rx.changed().await.is_err() {
                        st.done = true;
                        return Some((Err(closed_error()), st));
                    }
                }
            }
        }
    }))
}

fn closed_error() -> Error {
    Error::Closed("the store was closed; the watch ended".into())
}
