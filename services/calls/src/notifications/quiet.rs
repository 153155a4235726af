//! Quiet hours: a daily window in the user's zone when nothing is sent. What arrives in it is
//! sent when it ends, at the wall-clock end in the zone on that day (or the first moment after it,
//! when a change of clocks skips it).

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// A window `from`..`to` (exclusive end); `from` after `to` spans midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from: NaiveTime,
    pub to: NaiveTime,
}

impl Window {
    /// `HH:MM` to `HH:MM`; the error names the field.
    pub fn parse(from: &str, to: &str) -> Result<Self, (&'static str, String)> {
        let time = |field: &'static str, text: &str| {
            NaiveTime::parse_from_str(text, "%H:%M")
                .ok()
                .filter(|_| text.len() == 5)
                .ok_or((field, format!("{text:?} is not a time of day, HH:MM")))
        };
        let window = Self {
            from: time("quiet_hours.from", from)?,
            to: time("quiet_hours.to", to)?,
        };
        Ok(window)
    }

    /// Whether `time` is quiet; a window from a time to the same time holds none.
    fn holds(self, time: NaiveTime) -> bool {
        if self.from == self.to {
            false
        } else if self.from < self.to {
            self.from <= time && time < self.to
        } else {
            time >= self.from || time < self.to
        }
    }
}

/// When something arriving at `now` may be sent: `now`, or the end of the quiet window it falls
/// in, in `zone`.
pub fn send_at(now: DateTime<Utc>, zone: Tz, window: Option<Window>) -> DateTime<Utc> {
    let Some(window) = window else { return now };
    let local = now.with_timezone(&zone);
    if !window.holds(local.time()) {
        return now;
    }
    // The window ends today, or tomorrow when it spans midnight and began today.
    let mut day = local.date_naive();
    if window.from > window.to && local.time() >= window.from {
        day = day.succ_opt().expect("a representable date");
    }
    let end = day.and_time(window.to);
    // A gap (clocks forward) may skip the end: the first minute after it that exists.
    (0..=180)
        .find_map(|minutes| {
            zone.from_local_datetime(&(end + Duration::minutes(minutes)))
                .earliest()
        })
        .map_or(now, |end| end.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn outside_the_window_now_inside_at_its_end() {
        let madrid: Tz = "Europe/Madrid".parse().unwrap();
        let night = Window::parse("22:00", "07:30").unwrap();
        // 20:00 in Madrid (UTC+1 in December): not quiet.
        let now = at("2026-12-06T19:00:00Z");
        assert_eq!(send_at(now, madrid, Some(night)), now);
        // 23:15 in Madrid: sent at 07:30 the next morning, 06:30 UTC.
        assert_eq!(
            send_at(at("2026-12-06T22:15:00Z"), madrid, Some(night)),
            at("2026-12-07T06:30:00Z")
        );
        // 03:00 in Madrid: at 07:30 the same morning.
        assert_eq!(
            send_at(at("2026-12-07T02:00:00Z"), madrid, Some(night)),
            at("2026-12-07T06:30:00Z")
        );
        let lunch = Window::parse("13:00", "14:00").unwrap();
        assert_eq!(
            send_at(at("2026-12-07T12:10:00Z"), madrid, Some(lunch)),
            at("2026-12-07T13:00:00Z")
        );
        assert_eq!(send_at(now, madrid, None), now);
    }

    #[test]
    fn an_end_the_clocks_skip_is_the_first_minute_after_it() {
        // New York springs forward at 02:00 on 8 March 2026: 02:30 does not exist.
        let new_york: Tz = "America/New_York".parse().unwrap();
        let night = Window::parse("23:00", "02:30").unwrap();
        let sent = send_at(at("2026-03-08T05:00:00Z"), new_york, Some(night));
        assert_eq!(sent, at("2026-03-08T07:00:00Z"), "03:00 EDT");
    }

    #[test]
    fn windows_are_checked() {
        assert_eq!(
            Window::parse("7:30", "08:00").unwrap_err().0,
            "quiet_hours.from"
        );
        assert_eq!(
            Window::parse("07:30", "24:00").unwrap_err().0,
            "quiet_hours.to"
        );
        // The same time twice is no window: nothing waits.
        let empty = Window::parse("07:30", "07:30").unwrap();
        let now = at("2026-12-07T07:30:00Z");
        assert_eq!(send_at(now, chrono_tz::UTC, Some(empty)), now);
    }
}
