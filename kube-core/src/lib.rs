//! The Kubernetes object model, wire-compatible with Kubernetes, with no IO.
//!
//! # Tour
//!
//! - [`meta`]: apimachinery's `meta/v1`: [`meta::ObjectMeta`], [`meta::Status`],
//!   [`meta::WatchEvent`], [`meta::List`], and the [`meta::Resource`] trait every kind implements.
//! - [`time`], [`intstr`], [`quantity`]: the scalar types with Kubernetes' own text forms.
//! - [`selector`]: label selectors (`a=b,c!=d,e in (f,g),!i`) and field selectors.
//! - [`api`]: the kinds (core/v1 Pod, Node, Service…, apps/v1 Deployment…, and more).
//! - [`client`]: the [`client::Client`] trait every component reaches the API through, and the
//!   typed [`client::Api`] handle.
//! - [`patch`]: applying `PATCH` bodies: JSON merge patch, JSON patch, strategic merge patch
//!   (with [`patch::schema`], each built-in kind's merge keys) and server-side apply.
//! - [`registry`]: every resource the API serves (group, version, kind, plural, verbs…); the one
//!   source for routes and discovery.
//! - [`defaults`] and [`validation`]: Kubernetes' defaulting and validation of every kind, with
//!   its exact field paths and messages, and the 422 `Invalid` Status they become.
//! - [`runtime`]: the watcher (list + watch, re-watch, re-list on 410), the reflector cache
//!   (one writer, many cheap readers) and the shared [`runtime::Informer`] over any `Client`.
//!
//! # Example
//!
//! ```
//! use kubox_core::meta::{ObjectMeta, Status};
//!
//! let meta: ObjectMeta = serde_json::from_str(r#"{"name":"web","namespace":"default"}"#).unwrap();
//! assert_eq!(meta.name.as_deref(), Some("web"));
//! let status: Status = serde_json::from_str(r#"{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}"#).unwrap();
//! assert_eq!(status.code, Some(404));
//! ```

pub mod api;
pub mod client;
pub mod defaults;
pub mod intstr;
pub mod meta;
pub mod patch;
pub mod quantity;
pub mod registry;
pub mod runtime;
pub mod selector;
pub mod time;
pub mod validation;

pub use intstr::IntOrString;
pub use quantity::Quantity;
pub use time::{MicroTime, Time};
