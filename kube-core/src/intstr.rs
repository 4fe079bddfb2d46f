//! `intstr.IntOrString`: a value that is either an integer or a string (`targetPort: 8080` or
//! `targetPort: http`, `maxSurge: 25%`).

use serde::{Deserialize, Serialize};

/// An integer or a string, serialized as whichever it holds.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum IntOrString {
    /// An integer value.
    Int(i32),
    /// A string value (a port name, or a percentage such as `25%`).
    String(String),
}

impl Default for IntOrString {
    fn default() -> Self {
        IntOrString::Int(0)
    }
}

impl IntOrString {
    /// Resolves a value that may be a percentage against `total`, as
    /// `intstr.GetScaledValueFromIntOrPercent` does: `"25%"` of 10 is 3 when rounding up, 2 when
    /// rounding down. Returns `None` for a string that is neither a number nor a percentage.
    pub fn scaled_value(&self, total: i32, round_up: bool) -> Option<i32> {
        match self {
            IntOrString::Int(i) => Some(*i),
            IntOrString::String(s) => {
                let pct: i64 = s.strip_suffix('%')?.parse().ok()?;
                let v = pct * i64::from(total);
                let r = if round_up {
                    (v + 99).div_euclid(100)
                } else {
                    v.div_euclid(100)
                };
                i32::try_from(r).ok()
            }
        }
    }
}

impl From<i32> for IntOrString {
    fn from(v: i32) -> Self {
        IntOrString::Int(v)
    }
}

impl From<&str> for IntOrString {
    fn from(v: &str) -> Self {
        IntOrString::String(v.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_as_the_held_value() {
        assert_eq!(serde_json::to_string(&IntOrString::Int(80)).unwrap(), "80");
        assert_eq!(
            serde_json::to_string(&IntOrString::from("http")).unwrap(),
            "\"http\""
        );
        let v: IntOrString = serde_json::from_str("\"25%\"").unwrap();
        assert_eq!(v.scaled_value(10, true), Some(3));
        assert_eq!(v.scaled_value(10, false), Some(2));
    }
}
