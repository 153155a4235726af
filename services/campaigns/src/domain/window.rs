//! The calling window: the hours and weekdays a contact may be called, in the contact's own local
//! time. Checked on the wall clock of the contact's zone, so daylight-saving changes move the
//! window with the clock (09:00 is 09:00 on both sides of a transition).

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeZone as _, Utc, Weekday};
use chrono_tz::Tz;

pub use comms_events::campaign::CallingWindow;

use super::{DomainError, invalid};

/// Why a contact is outside the window: the local time and zone it was checked in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutsideWindow {
    pub local: chrono::NaiveDateTime,
    pub zone: Tz,
}

impl fmt::Display for OutsideWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "outside window: {} {} local in {}",
            self.local.format("%a"),
            self.local.format("%H:%M"),
            self.zone.name()
        )
    }
}

/// A window from `HH:MM` times and weekday names (`mon`…`sun`), each checked.
pub fn parse(start: &str, end: &str, days: &[String]) -> Result<CallingWindow, DomainError> {
    let time = |field: &'static str, value: &str| {
        NaiveTime::parse_from_str(value, "%H:%M").map_err(|_| {
            invalid(
                field,
                format!("{value:?} is not a time of day as HH:MM, e.g. 09:00"),
            )
        })
    };
    let window = CallingWindow {
        start: time("window.start", start)?,
        end: time("window.end", end)?,
        days: days
            .iter()
            .map(|day| {
                day.parse::<Weekday>().map_err(|_| {
                    invalid("window.days", format!("{day:?} is not a weekday, e.g. mon"))
                })
            })
            .collect::<Result<_, _>>()?,
    };
    validate(&window)?;
    Ok(window)
}

/// A window opens before it closes, on at least one day.
pub fn validate(window: &CallingWindow) -> Result<(), DomainError> {
    if window.end <= window.start {
        return Err(invalid(
            "window.end",
            format!(
                "the window ends ({}) before it starts ({}); it must end later the same day",
                window.end.format("%H:%M"),
                window.start.format("%H:%M")
            ),
        ));
    }
    if window.days.is_empty() {
        return Err(invalid("window.days", "name at least one weekday"));
    }
    Ok(())
}

/// Whether `at` falls inside the window in every one of `zones` (a contact whose zone is
/// unknown may be in any zone of their number's prefix: all must agree). The first zone
/// outside is the reason.
pub fn check(window: &CallingWindow, at: DateTime<Utc>, zones: &[Tz]) -> Result<(), OutsideWindow> {
    for zone in zones {
        let local = at.with_timezone(zone).naive_local();
        let open = window.days.contains(&local.weekday())
            && local.time() >= window.start
            && local.time() < window.end;
        if !open {
            return Err(OutsideWindow { local, zone: *zone });
        }
    }
    Ok(())
}

/// Every time zone the window is open in at `at`: a contact all of whose zones are among
/// them may be called now.
pub fn open_zones(window: &CallingWindow, at: DateTime<Utc>) -> Vec<&'static str> {
    chrono_tz::TZ_VARIANTS
        .iter()
        .filter(|zone| check(window, at, &[**zone]).is_ok())
        .map(|zone| zone.name())
        .collect()
}

/// The first instant at or after `at` when the window is open in `zone`, within a week.
pub fn next_open(window: &CallingWindow, at: DateTime<Utc>, zone: Tz) -> Option<DateTime<Utc>> {
    if check(window, at, &[zone]).is_ok() {
        return Some(at);
    }
    let today = at.with_timezone(&zone).date_naive();
    (0..=7)
        .filter_map(|n| today.checked_add_days(chrono::Days::new(n)))
        .filter(|day| window.days.contains(&day.weekday()))
        .filter_map(|day| opening_instant(day, window.start, zone))
        .find(|opening| *opening >= at)
}

/// The instant the wall clock of `zone` first shows `time` or later on `day`. When `time` falls
/// in a spring-forward gap (02:30 on a day that skips 02:00–03:00), that is the gap's end.
fn opening_instant(day: NaiveDate, time: NaiveTime, zone: Tz) -> Option<DateTime<Utc>> {
    let mut local = day.and_time(time);
    // Gaps are at most a few hours; step in minutes until the clock exists.
    for _ in 0..=240 {
        if let Some(instant) = zone.from_local_datetime(&local).earliest() {
            return Some(instant.with_timezone(&Utc));
        }
        local += chrono::Duration::minutes(1);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn chicago() -> Tz {
        "America/Chicago".parse().unwrap()
    }

    fn all_week() -> CallingWindow {
        CallingWindow {
            days: vec![
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
                Weekday::Sat,
                Weekday::Sun,
            ],
            ..CallingWindow::default()
        }
    }

    #[test]
    fn half_past_nine_in_the_evening_is_outside_and_says_so() {
        // 2026-07-15 (a Wednesday) 02:30 UTC is 21:30 the evening before in Chicago (CDT).
        let outside = check(
            &CallingWindow::default(),
            utc("2026-07-15T02:30:00Z"),
            &[chicago()],
        )
        .unwrap_err();
        assert_eq!(
            outside.to_string(),
            "outside window: Tue 21:30 local in America/Chicago"
        );
        // 15:00 UTC is 10:00 in Chicago: inside.
        assert!(
            check(
                &CallingWindow::default(),
                utc("2026-07-15T15:00:00Z"),
                &[chicago()]
            )
            .is_ok()
        );
    }

    #[test]
    fn the_window_follows_the_wall_clock_across_both_us_transitions() {
        let window = all_week();
        // Spring forward, Sunday 2026-03-08: 09:00 CST the day before is 15:00 UTC, 09:00 CDT
        // that day is 14:00 UTC.
        assert!(check(&window, utc("2026-03-07T14:30:00Z"), &[chicago()]).is_err());
        assert!(check(&window, utc("2026-03-07T15:00:00Z"), &[chicago()]).is_ok());
        assert!(check(&window, utc("2026-03-08T14:00:00Z"), &[chicago()]).is_ok());
        assert!(check(&window, utc("2026-03-08T13:59:00Z"), &[chicago()]).is_err());
        // Fall back, Sunday 2026-11-01: 20:00 CST closes at 02:00 UTC the next day.
        assert!(check(&window, utc("2026-11-02T01:59:00Z"), &[chicago()]).is_ok());
        assert!(check(&window, utc("2026-11-02T02:00:00Z"), &[chicago()]).is_err());
        assert_eq!(
            next_open(&window, utc("2026-11-01T03:00:00Z"), chicago()),
            Some(utc("2026-11-01T15:00:00Z")),
            "09:00 CST on the day clocks go back"
        );
    }

    #[test]
    fn an_opening_inside_a_spring_forward_gap_is_the_gaps_end() {
        let window = CallingWindow {
            start: NaiveTime::from_hms_opt(2, 30, 0).unwrap(),
            ..all_week()
        };
        // 02:30 does not exist in Chicago on 2026-03-08; the clock jumps to 03:00 CDT = 08:00 UTC.
        assert_eq!(
            next_open(&window, utc("2026-03-08T07:00:00Z"), chicago()),
            Some(utc("2026-03-08T08:00:00Z"))
        );
    }

    #[test]
    fn weekdays_are_the_contacts_own() {
        // Friday 23:30 UTC is Saturday 08:30 in Tokyo: a weekday window is closed there.
        let tokyo: Tz = "Asia/Tokyo".parse().unwrap();
        let window = CallingWindow {
            start: NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
            ..CallingWindow::default()
        };
        let outside = check(&window, utc("2026-07-17T23:30:00Z"), &[tokyo]).unwrap_err();
        assert_eq!(
            outside.to_string(),
            "outside window: Sat 08:30 local in Asia/Tokyo"
        );
    }

    #[test]
    fn an_unknown_zone_must_be_inside_in_every_candidate() {
        let zones: Vec<Tz> = ["America/New_York", "America/Los_Angeles"]
            .iter()
            .map(|z| z.parse().unwrap())
            .collect();
        // 14:00 UTC in July: 10:00 in New York, 07:00 in Los Angeles.
        let outside = check(
            &CallingWindow::default(),
            utc("2026-07-15T14:00:00Z"),
            &zones,
        )
        .unwrap_err();
        assert_eq!(outside.zone.name(), "America/Los_Angeles");
    }

    #[test]
    fn a_window_that_ends_before_it_starts_is_refused() {
        let err = parse("20:00", "09:00", &["mon".into()]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("window.end: the window ends (09:00) before it starts (20:00)")
        );
        let err = parse("9am", "17:00", &["mon".into()]).unwrap_err();
        assert!(err.to_string().starts_with("window.start:"));
        let err = parse("09:00", "17:00", &["someday".into()]).unwrap_err();
        assert!(err.to_string().starts_with("window.days:"));
    }
}
