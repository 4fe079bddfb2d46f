//! Helpers shared by the end-to-end tests. Each test crate compiles this module and uses a
//! part of it, so the test files declare it with `#[allow(dead_code)]`.

pub(crate) mod cluster;
pub(crate) mod kubectl;
pub(crate) mod poll;
pub(crate) mod web;
