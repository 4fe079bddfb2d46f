//! The service proxy of a cluster: one kube-net proxy for the host, with a backend the
//! cluster keeps a handle on (to read the userspace listeners and to remove the rules at
//! shutdown).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use async_trait::async_trait;
use futures::StreamExt;
use kube_net::model::{desired_state, DesiredState, ModelConfig, ServicePortName};
use kube_net::nft::{NftConfig, Nftables};
use kube_net::proxy::{Proxy, ProxyConfig, ProxyHandle};
use kube_net::rules::{NetworkRules, Report, Result as RulesResult};
use kube_net::userspace::{Userspace, UserspaceConfig};
use kubox_core::api::core_v1::Service;
use kubox_core::api::discovery_v1::EndpointSlice;
use kubox_core::client::Client;
use kubox_core::runtime::backoff::sleep_fn;
use kubox_core::runtime::informer::Informer;
use kubox_core::runtime::watcher;
use tokio::sync::{oneshot, Mutex};
use tokio::task::JoinHandle;

use super::{Error, ProxyMode};

/// The concrete backend, so the cluster can ask the userspace one for its listeners.
enum Backend {
    Nft(Nftables),
    User(Userspace),
}

impl Backend {
    fn rules(&mut self) -> &mut dyn NetworkRules {
        match self {
            Backend::Nft(b) => b,
            Backend::User(b) => b,
        }
    }
}

/// A [`NetworkRules`] shared between the proxy's sync loop and the cluster handle.
#[derive(Clone)]
struct Shared {
    name: &'static str,
    backend: Arc<Mutex<Backend>>,
}

#[async_trait]
impl NetworkRules for Shared {
    fn name(&self) -> &'static str {
        self.name
    }
    async fn sync(&mut self, desired: &DesiredState) -> RulesResult<Report> {
        self.backend.lock().await.rules().sync(desired).await
    }
    fn resync(&mut self) {
        // The proxy calls `resync` between syncs, from the task that runs them: the lock is
        // free then. Should it not be, the next periodic sync repairs the rules anyway.
        if let Ok(mut b) = self.backend.try_lock() {
            b.rules().resync();
        }
    }
    async fn cleanup(&mut self) -> RulesResult<()> {
        self.backend.lock().await.rules().cleanup().await
    }
}

/// A running proxy.
pub(super) struct RunningProxy {
    backend: Shared,
    choice: String,
    handle: ProxyHandle,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for RunningProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningProxy")
            .field("backend", &self.backend.name)
            .field("choice", &self.choice)
            .finish_non_exhaustive()
    }
}

/// Chooses the backend for `mode` (nftables when a scratch table can be created, else
/// userspace, for [`ProxyMode::Auto`]).
async fn choose(
    mode: ProxyMode,
    nft: &NftConfig,
    user: &UserspaceConfig,
) -> Result<(Backend, String), Error> {
    let userspace = |why: String| -> Result<(Backend, String), Error> {
        let b = Userspace::new(user.clone()).map_err(Error::Proxy)?;
        Ok((Backend::User(b), why))
    };
    match mode {
        ProxyMode::None => Err(Error::Config("no proxy is configured".into())),
        ProxyMode::Userspace => userspace("userspace: configured".into()),
        ProxyMode::Nftables => {
            Nftables::probe(nft).await.map_err(Error::Proxy)?;
            Ok((
                Backend::Nft(Nftables::new(nft.clone())),
                "nftables: configured".into(),
            ))
        }
        ProxyMode::Auto => match Nftables::probe(nft).await {
            Ok(()) => Ok((
                Backend::Nft(Nftables::new(nft.clone())),
                "nftables: probe succeeded".into(),
            )),
            Err(e) => userspace(format!("userspace: nftables not usable ({e})")),
        },
    }
}

impl RunningProxy {
    /// Starts the proxy for node `node_name` over `client`.
    pub(super) async fn start(
        client: Arc<dyn Client>,
        mode: ProxyMode,
        node_name: &str,
        nft: NftConfig,
        user: UserspaceConfig,
    ) -> Result<RunningProxy, Error> {
        let (mut backend, choice) = choose(mode, &nft, &user).await?;
        let name = backend.rules().name();
        let shared = Shared {
            name,
            backend: Arc::new(Mutex::new(backend)),
        };
        let config = ProxyConfig {
            node_name: node_name.to_string(),
            mode: match mode {
                ProxyMode::Userspace => kube_net::proxy::Mode::Userspace,
                ProxyMode::Nftables => kube_net::proxy::Mode::Nftables,
                _ => kube_net::proxy::Mode::Auto,
            },
            nftables: nft,
            userspace: user,
            ..ProxyConfig::default()
        };
        let proxy = Proxy::with_backend(config, Box::new(shared.clone()));
        let handle = proxy.handle();
        let (stop, stopped) = oneshot::channel::<()>();
        let model = ModelConfig {
            node_name: node_name.to_string(),
        };
        let task = tokio::spawn(async move {
            let sleep = sleep_fn(tokio::time::sleep);
            let (services, sd) = Informer::<Service>::new(
                client.clone(),
                None,
                watcher::Config::default(),
                sleep.clone(),
            );
            let (slices, ed) =
                Informer::<EndpointSlice>::new(client, None, watcher::Config::default(), sleep);
            let t1 = tokio::spawn(sd.run());
            let t2 = tokio::spawn(ed.run());
            let changes = futures::stream::select(
                services.subscribe().map(|_| ()),
                slices.subscribe().map(|_| ()),
            )
            .take_until(stopped);
            let ready = async {
                let _ = services.wait_until_ready().await;
                let _ = slices.wait_until_ready().await;
            };
            ready.await;
            let snapshot = move || {
                let svcs = services.store().list();
                let sls = slices.store().list();
                desired_state(
                    &model,
                    svcs.iter().map(|s| s.as_ref()),
                    sls.iter().map(|s| s.as_ref()),
                )
            };
            proxy.run_with(Box::pin(changes), snapshot).await;
            t1.abort();
            t2.abort();
        });
        Ok(RunningProxy {
            backend: shared,
            choice,
            handle,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The backend's name (`nftables`, `userspace`).
    pub(super) fn backend(&self) -> &'static str {
        self.backend.name
    }

    /// Why this backend was chosen.
    pub(super) fn choice(&self) -> &str {
        &self.choice
    }

    /// Metrics and health.
    pub(super) fn handle(&self) -> &ProxyHandle {
        &self.handle
    }

    /// The userspace backend's listeners (empty for nftables).
    pub(super) async fn listeners(&self) -> BTreeMap<ServicePortName, Vec<SocketAddr>> {
        match &*self.backend.backend.lock().await {
            Backend::User(u) => u.listeners(),
            Backend::Nft(_) => BTreeMap::new(),
        }
    }

    /// Stops the sync loop and removes the rules (the nftables table, the listeners).
    pub(super) async fn stop(&mut self) -> Result<(), Error> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take() {
            // While waiting for the first list the loop does not see the stop signal.
            if tokio::time::timeout(std::time::Duration::from_secs(5), &mut task)
                .await
                .is_err()
            {
                tracing::warn!("kubox: the proxy did not stop within 5 s; aborting it");
                task.abort();
            }
        }
        let mut shared = self.backend.clone();
        shared.cleanup().await.map_err(Error::Proxy)
    }
}

impl Drop for RunningProxy {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
