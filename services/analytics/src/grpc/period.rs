//! The period of a measures request (`from`, `to`, `interval`, `time_zone`), read the one way for
//! call volumes and queue measures.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use comms_proto::{ApiError, Violations};

use crate::intervals::{self, Interval};

/// The request's period fields.
pub(super) struct Fields<'a> {
    pub from: &'a Option<prost_types::Timestamp>,
    pub to: &'a Option<prost_types::Timestamp>,
    pub interval: &'a str,
    pub time_zone: &'a str,
}

/// The fields read, each problem recorded in the request's violations.
pub(super) struct Read {
    zone: Option<Tz>,
    interval: Option<Interval>,
    /// Absent (`Some(None)`), or read (`None` when it is not a time).
    from: Option<Option<DateTime<Utc>>>,
    to: Option<Option<DateTime<Utc>>>,
}

/// The intervals asked for.
pub(super) struct Period {
    /// Their boundaries, as [`intervals::boundaries`] gives them.
    pub bounds: Vec<DateTime<Utc>>,
    /// Where the intervals that did not fit start.
    pub rest: Option<DateTime<Utc>>,
    pub interval: Interval,
    pub zone: Tz,
}

pub(super) fn read(violations: &mut Violations, fields: Fields<'_>) -> Read {
    let zone = match fields.time_zone {
        "" => Some(Tz::UTC),
        name => violations.check(
            "time_zone",
            name.parse::<Tz>()
                .map_err(|_| format!("{name:?} is not an IANA time zone (e.g. Europe/Madrid)")),
        ),
    };
    let interval = match fields.interval {
        "" => Some(Interval::Hour),
        name => violations.check(
            "interval",
            Interval::parse(name).ok_or_else(|| format!("{name:?} is not 15m, hour or day")),
        ),
    };
    let mut time = |field: &str, at: &Option<prost_types::Timestamp>| match at {
        None => Some(None),
        Some(at) => violations
            .check(
                field,
                comms_proto::time::from_timestamp(at).ok_or("not a time"),
            )
            .map(Some),
    };
    let (from, to) = (time("from", fields.from), time("to", fields.to));
    Read {
        zone,
        interval,
        from,
        to,
    }
}

impl Read {
    /// The intervals, once the request's violations are finished (none): `to` is now when
    /// absent, `from` the start of the day (in the zone) that `to` ends.
    pub(super) fn resolve(self, now: DateTime<Utc>) -> Result<Period, ApiError> {
        let (Some(zone), Some(interval), Some(from), Some(to)) =
            (self.zone, self.interval, self.from, self.to)
        else {
            unreachable!("each is recorded as a violation when unread");
        };
        let to = to.unwrap_or(now);
        let from =
            from.unwrap_or_else(|| Interval::Day.start_of(to - Duration::microseconds(1), zone));
        if to <= from {
            return Err(ApiError::invalid(
                "to",
                "must be after from (to is now when absent)",
            ));
        }
        let (bounds, rest) = intervals::boundaries(from, to, interval, zone);
        Ok(Period {
            bounds,
            rest,
            interval,
            zone,
        })
    }
}
