//! `metav1.Time` and `metav1.MicroTime`: RFC 3339 timestamps as Kubernetes writes them.
//!
//! `Time` serializes with second precision (`2024-05-01T12:00:00Z`), `MicroTime` with
//! microseconds (`2024-05-01T12:00:00.123456Z`), exactly as apimachinery does.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A timestamp with second precision (`metav1.Time`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(pub jiff::Timestamp);

/// A timestamp with microsecond precision (`metav1.MicroTime`), used by Lease and Event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MicroTime(pub jiff::Timestamp);

impl Time {
    /// Builds a `Time` from seconds since the Unix epoch.
    pub fn from_unix_seconds(secs: i64) -> Self {
        Time(jiff::Timestamp::from_second(secs).unwrap_or(jiff::Timestamp::UNIX_EPOCH))
    }
    /// Seconds since the Unix epoch.
    pub fn unix_seconds(&self) -> i64 {
        self.0.as_second()
    }
    /// Parses an RFC 3339 string.
    pub fn parse(s: &str) -> Result<Self, jiff::Error> {
        s.parse::<jiff::Timestamp>().map(Time)
    }
}

impl MicroTime {
    /// Parses an RFC 3339 string.
    pub fn parse(s: &str) -> Result<Self, jiff::Error> {
        s.parse::<jiff::Timestamp>().map(MicroTime)
    }
}

/// Writes the UTC date and time of `ts` as `YYYY-MM-DDTHH:MM:SS` (whole seconds).
///
/// Formatted by hand rather than with `strftime`: every object the API writes carries
/// timestamps, and parsing a format string per field showed in the request path.
fn write_civil(f: &mut fmt::Formatter<'_>, ts: jiff::Timestamp) -> fmt::Result {
    let dt = jiff::tz::Offset::UTC.to_datetime(ts);
    write!(
        f,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Truncated to whole seconds like Go's time.RFC3339 layout.
        write_civil(f, self.0)?;
        f.write_str("Z")
    }
}

impl fmt::Display for MicroTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_civil(f, self.0)?;
        let micros = jiff::tz::Offset::UTC
            .to_datetime(self.0)
            .subsec_nanosecond()
            / 1000;
        write!(f, ".{micros:06}Z")
    }
}

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Time::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl Serialize for MicroTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for MicroTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        MicroTime::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_round_trips_with_second_precision() {
        let t: Time = serde_json::from_str("\"2024-05-01T12:00:00Z\"").unwrap();
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            "\"2024-05-01T12:00:00Z\""
        );
        let t: Time = serde_json::from_str("\"2024-05-01T12:00:00.75+02:00\"").unwrap();
        assert_eq!(t.to_string(), "2024-05-01T10:00:00Z");
    }

    #[test]
    fn formatting_pads_every_field() {
        let t: Time = serde_json::from_str("\"0999-01-02T03:04:05Z\"").unwrap();
        assert_eq!(t.to_string(), "0999-01-02T03:04:05Z");
        let t: MicroTime = serde_json::from_str("\"1969-12-31T23:59:59.000042Z\"").unwrap();
        assert_eq!(t.to_string(), "1969-12-31T23:59:59.000042Z");
        assert_eq!(
            Time::from_unix_seconds(0).to_string(),
            "1970-01-01T00:00:00Z"
        );
    }

    #[test]
    fn micro_time_keeps_microseconds() {
        let t: MicroTime = serde_json::from_str("\"2024-05-01T12:00:00.123456Z\"").unwrap();
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            "\"2024-05-01T12:00:00.123456Z\""
        );
    }
}
