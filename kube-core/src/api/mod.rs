//! The Kubernetes kinds, one module per group-version, wire-compatible with `k8s.io/api`.
//!
//! Every kind serializes exactly as Kubernetes does: `apiVersion`, `kind`, `metadata`, then the
//! kind's own fields (`spec`/`status`, or `data`, `rules`, …), camelCase, with optional fields
//! left out when unset. Optional fields are `Option`s and are skipped when `None`, so an object
//! read and written back is unchanged; fields Kubernetes requires are plain values that
//! default to empty when missing (as Go's zero values do) and are always written.
//!
//! `apiVersion` and `kind` are plain fields of each kind ([`core_v1::Pod::api_version`],
//! [`core_v1::Pod::kind`]); `Default` and `new` fill them in, deserialization keeps whatever came
//! in (including nothing). Every kind that is a REST resource implements
//! [`Resource`](crate::meta::Resource) and has a `…List` alias of [`List`](crate::meta::List).
//!
//! ```
//! use kubox_core::api::core_v1::Pod;
//! use kubox_core::meta::Resource;
//!
//! let pod = Pod::new("web");
//! assert_eq!(Pod::PLURAL, "pods");
//! let json = serde_json::to_value(&pod).unwrap();
//! assert_eq!(json, serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}}));
//! ```

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Implements `Default` (filling `apiVersion`/`kind`) and a `new(name)` constructor for a kind.
macro_rules! kind {
    ($kind:ident, $api_version:literal, fields: [$($field:ident),* $(,)?] $(,)?) => {
        impl Default for $kind {
            fn default() -> Self {
                Self {
                    api_version: $api_version.to_string(),
                    kind: stringify!($kind).to_string(),
                    $($field: Default::default(),)*
                }
            }
        }

        impl $kind {
            #[doc = concat!("A `", stringify!($kind), "` named `name`, with `apiVersion` and `kind` set.")]
            pub fn new(name: impl Into<String>) -> Self {
                Self {
                    metadata: crate::meta::ObjectMeta {
                        name: Some(name.into()),
                        ..Default::default()
                    },
                    ..Self::default()
                }
            }
        }
    };
}

/// [`kind!`] plus the [`Resource`](crate::meta::Resource) impl and the `…List` alias.
macro_rules! resource {
    (
        $kind:ident, $list:ident, $api_version:literal, group: $group:literal, version: $version:literal,
        plural: $plural:literal, namespaced: $namespaced:literal, fields: [$($field:ident),* $(,)?] $(,)?
    ) => {
        kind! { $kind, $api_version, fields: [$($field),*] }

        impl crate::meta::Resource for $kind {
            const GROUP: &'static str = $group;
            const VERSION: &'static str = $version;
            const KIND: &'static str = stringify!($kind);
            const PLURAL: &'static str = $plural;
            const NAMESPACED: bool = $namespaced;

            fn meta(&self) -> &crate::meta::ObjectMeta {
                &self.metadata
            }
            fn meta_mut(&mut self) -> &mut crate::meta::ObjectMeta {
                &mut self.metadata
            }
        }

        #[doc = concat!("A list of [`", stringify!($kind), "`]s (`", stringify!($list), "`).")]
        pub type $list = crate::meta::List<$kind>;
    };
}

pub mod apps_v1;
pub mod autoscaling_v1;
pub mod coordination_v1;
pub mod core_v1;
pub mod discovery_v1;
pub mod policy_v1;
pub mod rbac_v1;
pub mod scheduling_v1;

/// Bytes that serialize as a base64 string (Go's `[]byte`): `Secret.data`, `ConfigMap.binaryData`.
///
/// Deserializing accepts `null` as empty, as Kubernetes does.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteString(pub Vec<u8>);

impl fmt::Debug for ByteString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match std::str::from_utf8(&self.0) {
            Ok(s) => write!(f, "ByteString({s:?})"),
            Err(_) => write!(f, "ByteString({:?})", self.0),
        }
    }
}

impl From<Vec<u8>> for ByteString {
    fn from(v: Vec<u8>) -> Self {
        ByteString(v)
    }
}

impl From<&str> for ByteString {
    fn from(v: &str) -> Self {
        ByteString(v.as_bytes().to_vec())
    }
}

impl AsRef<[u8]> for ByteString {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Serialize for ByteString {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for ByteString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Option::<String>::deserialize(d)?.unwrap_or_default();
        base64::engine::general_purpose::STANDARD
            .decode(s.as_bytes())
            .map(ByteString)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_string_is_base64() {
        let b = ByteString::from("hello");
        assert_eq!(serde_json::to_string(&b).unwrap(), "\"aGVsbG8=\"");
        let back: ByteString = serde_json::from_str("\"aGVsbG8=\"").unwrap();
        assert_eq!(back, b);
        let empty: ByteString = serde_json::from_str("null").unwrap();
        assert!(empty.0.is_empty());
        assert!(serde_json::from_str::<ByteString>("\"not base64!\"").is_err());
    }
}
