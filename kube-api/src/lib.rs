//! The Kubernetes API server (kube-apiserver) as a library.
//!
//! This crate will hold the request path (authentication → authorization → mutating admission →
//! validation → store → response), REST handlers for every kind in kubox-core's registry,
//! watch streaming, discovery and OpenAPI, TLS with generated certificates, RBAC, and the
//! in-process and HTTPS implementations of kubox-core's `Client`. It is the only crate that
//! touches a `kube_store::Store`. Tracked by issue 3; nothing is implemented yet.
