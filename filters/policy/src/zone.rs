//! The zone of `time` conditions and of CEL's `now`: a fixed UTC offset or an IANA time zone
//! (daylight-saving rules applied, from the tz database bundled into the module).

use crate::matchers::utc_offset;
use warden_kit::ConfigError;

/// Where local time is read; default UTC.
#[derive(Debug, Clone, Default)]
pub enum Zone {
    /// UTC.
    #[default]
    Utc,
    /// A fixed offset from UTC, seconds.
    Fixed(i64),
    /// An IANA zone such as `Europe/Berlin`.
    Named(jiff::tz::TimeZone),
}

impl Zone {
    /// From the configuration's `utc_offset` (`+HH:MM`) or `time_zone` (IANA name); both at
    /// once is an error, as is an unknown zone name.
    pub fn compile(utc_offset_text: Option<&str>, time_zone: Option<&str>) -> Result<Zone, ConfigError> {
        match (utc_offset_text, time_zone) {
            (Some(_), Some(_)) => Err(ConfigError::new("time_zone", "give either time_zone or utc_offset, not both")),
            (Some(text), None) => Ok(Zone::Fixed(utc_offset(text).map_err(|e| e.within("utc_offset"))?)),
            (None, Some(name)) => jiff::tz::db().get(name).map(Zone::Named).map_err(|_| {
                ConfigError::new(
                    "time_zone",
                    format!("unknown time zone `{name}` (use an IANA name such as Europe/Berlin)"),
                )
            }),
            (None, None) => Ok(Zone::Utc),
        }
    }

    /// The offset from UTC at `unix_secs`, seconds.
    pub fn offset_at(&self, unix_secs: u64) -> i64 {
        match self {
            Zone::Utc => 0,
            Zone::Fixed(secs) => *secs,
            Zone::Named(zone) => i64::try_from(unix_secs)
                .ok()
                .and_then(|secs| jiff::Timestamp::from_second(secs).ok())
                .map_or(0, |at| i64::from(zone.to_offset(at).seconds())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_named_zone_follows_daylight_saving_time() {
        let berlin = Zone::compile(None, Some("Europe/Berlin")).unwrap();
        assert_eq!(berlin.offset_at(1_767_609_000), 3600, "2026-01-05: CET");
        assert_eq!(berlin.offset_at(1_783_332_000), 7200, "2026-07-06: CEST");
        let new_york = Zone::compile(None, Some("America/New_York")).unwrap();
        assert_eq!(new_york.offset_at(1_767_609_000), -5 * 3600);
    }

    #[test]
    fn zones_are_checked_at_load() {
        assert_eq!(Zone::compile(Some("+05:30"), None).unwrap().offset_at(0), 19_800);
        assert!(Zone::compile(None, Some("Mars/Olympus")).unwrap_err().to_string().contains("unknown time zone"));
        assert!(Zone::compile(Some("+01:00"), Some("Europe/Paris")).is_err());
    }
}
