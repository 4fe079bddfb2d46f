//! Lenient query-string parsing (`?&limit=500` from kube-rs is fine: empty pieces are skipped).

use crate::errors::{self, Result};

/// The decoded parameters of a query string, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query(Vec<(String, String)>);

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a byte; a malformed
/// escape is kept literally.
pub(crate) fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes a query value (everything but unreserved characters).
pub(crate) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b))
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

impl Query {
    /// Parses a raw query string (without the `?`).
    pub fn parse(raw: Option<&str>) -> Self {
        let Some(raw) = raw else {
            return Query::default();
        };
        Query(
            raw.split('&')
                .filter(|p| !p.is_empty())
                .map(|p| match p.split_once('=') {
                    Some((k, v)) => (percent_decode(k), percent_decode(v)),
                    None => (percent_decode(p), String::new()),
                })
                .filter(|(k, _)| !k.is_empty())
                .collect(),
        )
    }

    /// The last value of `key` (Go's `url.Values.Get` takes the first; kube-apiserver decodes
    /// into a struct where the last wins for scalars — either is fine for single values).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `key` as a non-empty string.
    pub fn string(&self, key: &str) -> Option<String> {
        self.get(key).filter(|v| !v.is_empty()).map(str::to_string)
    }

    /// Every value of `key`.
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// `key` as a boolean (`true`/`1`, `false`/`0`, empty = absent); anything else is 400.
    pub fn bool(&self, key: &str) -> Result<Option<bool>> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some("true" | "1" | "True" | "TRUE" | "t" | "T") => Ok(Some(true)),
            Some("false" | "0" | "False" | "FALSE" | "f" | "F") => Ok(Some(false)),
            Some(v) => Err(errors::bad_request(format!(
                "invalid value {v:?} for query parameter {key:?}: expected a boolean"
            ))),
        }
    }

    /// `key` as an integer (empty = absent); anything else is 400.
    pub fn int(&self, key: &str) -> Result<Option<i64>> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                errors::bad_request(format!(
                    "invalid value {v:?} for query parameter {key:?}: expected an integer"
                ))
            }),
        }
    }

    /// `dryRun`: `All` → true; absent → false; any other value is 400 (as kube-apiserver).
    pub fn dry_run(&self) -> Result<bool> {
        let vals: Vec<&str> = self
            .all("dryRun")
            .into_iter()
            .filter(|v| !v.is_empty())
            .collect();
        for v in &vals {
            if *v != "All" {
                return Err(errors::bad_request(format!(
                    "Invalid dryRun value {v:?}: the only supported value is \"All\""
                )));
            }
        }
        Ok(!vals.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_and_decoded() {
        let q = Query::parse(Some(
            "&limit=500&&labelSelector=app%3Dweb%2Ctier+in+(a)&watch",
        ));
        assert_eq!(q.int("limit").unwrap(), Some(500));
        assert_eq!(q.get("labelSelector"), Some("app=web,tier in (a)"));
        assert_eq!(q.get("watch"), Some(""));
        assert_eq!(q.bool("watch").unwrap(), None);
        assert!(Query::parse(Some("limit=x")).int("limit").is_err());
        assert_eq!(
            Query::parse(Some("watch=1")).bool("watch").unwrap(),
            Some(true)
        );
        assert!(Query::parse(Some("dryRun=All")).dry_run().unwrap());
        assert!(Query::parse(Some("dryRun=Some")).dry_run().is_err());
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_encode("a=b c"), "a%3Db%20c");
    }
}
