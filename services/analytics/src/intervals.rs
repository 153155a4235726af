//! Intervals of an organization's clock, which the measures are counted in: a quarter hour, an
//! hour or a day in an IANA time zone, so a day across a DST change has 23 or 25 hours and its
//! hours are the clock's.

use chrono::{DateTime, Duration, NaiveTime, TimeZone as _, Timelike as _, Utc};
use chrono_tz::Tz;

/// The most intervals one answer holds (ten days of quarter hours, or about three years of
/// days); a longer span is answered a page at a time.
pub const MAX_INTERVALS: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    QuarterHour,
    Hour,
    Day,
}

impl Interval {
    pub const ALL: [Self; 3] = [Self::QuarterHour, Self::Hour, Self::Day];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::QuarterHour => "15m",
            Self::Hour => "hour",
            Self::Day => "day",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|i| i.as_str() == name)
    }

    /// The start of the interval holding `at`, on `zone`'s clock. Hours and quarters are cut
    /// at the clock's minutes (the repeated hour of a DST change is two intervals); a day
    /// starts at the clock's first moment of its date (midnight, or the first minute after a
    /// change that skips it).
    pub fn start_of(self, at: DateTime<Utc>, zone: Tz) -> DateTime<Utc> {
        let local = at.with_timezone(&zone);
        let into_hour = Duration::minutes(local.minute().into())
            + Duration::seconds(local.second().into())
            + Duration::nanoseconds(local.nanosecond().into());
        match self {
            Self::Hour => at - into_hour,
            Self::QuarterHour => {
                at - into_hour + Duration::minutes((local.minute() / 15 * 15).into())
            }
            Self::Day => first_moment(local.date_naive(), zone),
        }
    }

    /// The start of the interval after the one starting at `start`.
    pub fn next(self, start: DateTime<Utc>, zone: Tz) -> DateTime<Utc> {
        match self {
            Self::QuarterHour => self.start_of(start + Duration::minutes(15), zone),
            Self::Hour => self.start_of(start + Duration::hours(1), zone),
            Self::Day => {
                let tomorrow = start.with_timezone(&zone).date_naive() + Duration::days(1);
                first_moment(tomorrow, zone)
            }
        }
    }
}

/// The first moment of `date` on `zone`'s clock.
fn first_moment(date: chrono::NaiveDate, zone: Tz) -> DateTime<Utc> {
    // A change may skip midnight (it did in America/Santiago): the first minute that exists.
    (0..24 * 60)
        .find_map(|minute| {
            let time = NaiveTime::MIN + Duration::minutes(minute);
            zone.from_local_datetime(&date.and_time(time)).earliest()
        })
        .expect("every date has a moment on the clock")
        .with_timezone(&Utc)
}

/// The starts of the intervals covering `[from, to)` and the end of the last, at most
/// [`MAX_INTERVALS`] of them; with the rest's start when they do not all fit.
pub fn boundaries(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    interval: Interval,
    zone: Tz,
) -> (Vec<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let mut bounds = vec![interval.start_of(from, zone)];
    loop {
        let last = *bounds.last().expect("one");
        if last >= to {
            return (bounds, None);
        }
        if bounds.len() > MAX_INTERVALS {
            return (bounds, Some(last));
        }
        bounds.push(interval.next(last, zone));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn a_madrid_day_across_the_spring_change_has_23_hours_and_skips_two_oclock() {
        let madrid: Tz = "Europe/Madrid".parse().unwrap();
        // 2026-03-29: 02:00 CET becomes 03:00 CEST (01:00 UTC).
        let (from, to) = (utc("2026-03-28T23:00:00Z"), utc("2026-03-29T22:00:00Z"));
        let (hours, rest) = boundaries(from, to, Interval::Hour, madrid);
        assert_eq!((hours.len(), rest), (24, None), "23 hours and the end");
        let local: Vec<String> = hours[..4]
            .iter()
            .map(|h| h.with_timezone(&madrid).format("%H:%M%:z").to_string())
            .collect();
        assert_eq!(
            local,
            ["00:00+01:00", "01:00+01:00", "03:00+02:00", "04:00+02:00"]
        );
        let (days, _) = boundaries(from, to, Interval::Day, madrid);
        assert_eq!(days, [from, to]);
        assert_eq!(days[1] - days[0], Duration::hours(23));
    }

    #[test]
    fn the_autumn_change_repeats_an_hour_as_two_intervals() {
        let madrid: Tz = "Europe/Madrid".parse().unwrap();
        // 2026-10-25: 03:00 CEST becomes 02:00 CET (01:00 UTC).
        let from = utc("2026-10-24T22:00:00Z");
        let to = Interval::Day.next(from, madrid);
        assert_eq!(to - from, Duration::hours(25));
        let (hours, _) = boundaries(from, to, Interval::Hour, madrid);
        let twos: Vec<String> = hours
            .iter()
            .map(|h| h.with_timezone(&madrid).format("%H:%M%:z").to_string())
            .filter(|h| h.starts_with("02:"))
            .collect();
        assert_eq!(twos, ["02:00+02:00", "02:00+01:00"]);
    }

    #[test]
    fn quarter_hours_follow_a_half_hour_zone() {
        let kolkata: Tz = "Asia/Kolkata".parse().unwrap();
        let at = utc("2026-06-01T04:50:00Z"); // 10:20 in Kolkata
        let start = Interval::QuarterHour.start_of(at, kolkata);
        assert_eq!(start, utc("2026-06-01T04:45:00Z")); // 10:15
        assert_eq!(
            Interval::Hour.start_of(at, kolkata),
            utc("2026-06-01T04:30:00Z") // 10:00
        );
    }

    #[test]
    fn a_long_span_is_answered_a_page_of_1000_intervals_at_a_time() {
        let from = utc("2026-01-01T00:00:00Z");
        let to = from + Duration::days(11);
        let (page, rest) = boundaries(from, to, Interval::QuarterHour, Tz::UTC);
        assert_eq!(page.len(), MAX_INTERVALS + 1);
        assert_eq!(rest, Some(from + Duration::minutes(15 * 1000)));
        assert_eq!(rest, page.last().copied());
        assert_eq!(boundaries(from, to, Interval::Hour, Tz::UTC).1, None);
    }
}
