//! [`LocalClient`]: kubox-core's [`Client`] over an [`ApiServer`] in the same process — the
//! same authorization, admission and storage path as HTTP, without sockets or serialization.

use crate::auth::UserInfo;
use crate::server::ApiServer;
use async_trait::async_trait;
use futures::StreamExt;
use kubox_core::client::{Client, GroupVersionResource, Request, Result, WatchParams, WatchStream};
use serde_json::Value;
use std::sync::Arc;

/// The in-process [`Client`]: every call runs [`ApiServer::handle`] as a fixed user.
#[derive(Clone, Debug)]
pub struct LocalClient {
    server: ApiServer,
    user: UserInfo,
}

impl LocalClient {
    /// A client acting as `user`.
    pub fn new(server: ApiServer, user: UserInfo) -> Self {
        LocalClient { server, user }
    }

    /// A client acting as the cluster administrator ([`UserInfo::admin`]).
    pub fn admin(server: ApiServer) -> Self {
        Self::new(server, UserInfo::admin())
    }

    /// The client as the `Arc<dyn Client>` that [`kubox_core::client::Api`] takes.
    pub fn into_client(self) -> Arc<dyn Client> {
        Arc::new(self)
    }

    /// The user the client acts as.
    pub fn user(&self) -> &UserInfo {
        &self.user
    }
}

#[async_trait]
impl Client for LocalClient {
    async fn call(&self, request: Request) -> Result<Value> {
        Ok(self.server.handle(&self.user, request).await?)
    }

    async fn watch(
        &self,
        resource: &GroupVersionResource,
        namespace: Option<&str>,
        params: &WatchParams,
    ) -> Result<WatchStream> {
        let stream = self
            .server
            .watch(&self.user, resource, namespace, params)
            .await?;
        Ok(Box::pin(stream.map(Ok)))
    }
}
