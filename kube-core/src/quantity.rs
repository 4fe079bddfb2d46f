//! `resource.Quantity`: `100m`, `0.5`, `1Gi`, `1e3`, parsed, compared, added and formatted
//! canonically as apimachinery does.

use serde::{Deserialize, Serialize};

/// A fixed-point quantity with a suffix (`100m`, `1Gi`). Placeholder: full arithmetic lands next.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Quantity(pub String);
