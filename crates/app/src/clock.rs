//! Time, injected: the service reads a clock, tests set one.

use std::fmt::Debug;
use std::sync::Mutex;

use time::{Date, Duration, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset, Weekday};

pub trait Clock: Send + Sync + Debug {
    fn now(&self) -> OffsetDateTime;

    /// Today in France (Europe/Paris): the date a mediator sees.
    fn today(&self) -> Date {
        let now = self.now();
        now.to_offset(paris_offset(now)).date()
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct FixedClock(Mutex<OffsetDateTime>);

impl FixedClock {
    pub fn new(now: OffsetDateTime) -> Self {
        Self(Mutex::new(now))
    }

    pub fn set(&self, now: OffsetDateTime) {
        *self.0.lock().expect("clock lock") = now;
    }

    pub fn advance(&self, by: Duration) {
        *self.0.lock().expect("clock lock") += by;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().expect("clock lock")
    }
}

fn last_sunday(year: i32, month: Month) -> Date {
    let mut day = Date::from_calendar_date(year, month, time::util::days_in_month(month, year))
        .expect("last day of the month");
    while day.weekday() != Weekday::Sunday {
        day = day.previous_day().expect("within the month");
    }
    day
}

/// Paris's offset from UTC at `instant`: +2 h from the last Sunday of March
/// to the last Sunday of October (at 01:00 UTC both times, the EU rule),
/// +1 h otherwise. Computed, so the binary needs no time-zone database.
pub fn paris_offset(instant: OffsetDateTime) -> UtcOffset {
    let utc = instant.to_offset(UtcOffset::UTC);
    let year = utc.year();
    let switch = |month| {
        PrimitiveDateTime::new(
            last_sunday(year, month),
            Time::from_hms(1, 0, 0).expect("1 h"),
        )
        .assume_utc()
    };
    let hours = if utc >= switch(Month::March) && utc < switch(Month::October) {
        2
    } else {
        1
    };
    UtcOffset::from_hms(hours, 0, 0).expect("a whole hour")
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn paris_follows_summer_time() {
        // 2026: summer time from 29 March to 25 October, 01:00 UTC.
        assert_eq!(
            paris_offset(datetime!(2026-03-29 00:59 UTC)).whole_hours(),
            1
        );
        assert_eq!(
            paris_offset(datetime!(2026-03-29 01:00 UTC)).whole_hours(),
            2
        );
        assert_eq!(
            paris_offset(datetime!(2026-10-25 00:59 UTC)).whole_hours(),
            2
        );
        assert_eq!(
            paris_offset(datetime!(2026-10-25 01:00 UTC)).whole_hours(),
            1
        );
        assert_eq!(
            paris_offset(datetime!(2026-01-15 12:00 UTC)).whole_hours(),
            1
        );
    }

    #[test]
    fn today_is_the_date_in_paris() {
        // 23:30 UTC on 30 June is 01:30 on 1 July in Paris.
        let clock = FixedClock::new(datetime!(2026-06-30 23:30 UTC));
        assert_eq!(clock.today(), time::macros::date!(2026 - 07 - 01));
        let winter = FixedClock::new(datetime!(2026-12-31 22:59 UTC));
        assert_eq!(winter.today(), time::macros::date!(2026 - 12 - 31));
        winter.advance(Duration::minutes(1));
        assert_eq!(winter.today(), time::macros::date!(2027 - 01 - 01));
    }
}
