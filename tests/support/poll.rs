//! Polling until a condition holds, with the last state in the failure message.

use std::future::Future;
use std::time::{Duration, Instant};

/// Calls `f` every 250 ms until it returns `Ok` (at most `secs` seconds); panics with the last
/// `Err` and `what` it was waiting for.
pub(crate) async fn wait<T, F, Fut>(secs: u64, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        match f().await {
            Ok(v) => return v,
            Err(e) if Instant::now() >= deadline => {
                panic!("timed out after {secs}s waiting for {what}; last state:\n{e}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// [`wait`] for tests without a runtime: calls `f` every 500 ms, sleeping the thread.
pub(crate) fn wait_blocking<T>(
    secs: u64,
    what: &str,
    mut f: impl FnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        match f() {
            Ok(v) => return v,
            Err(e) if Instant::now() >= deadline => {
                panic!("timed out after {secs}s waiting for {what}; last state:\n{e}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(500)),
        }
    }
}
