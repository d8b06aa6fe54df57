//! Time, injected: the service reads a clock, tests set one.

use std::fmt::Debug;
use std::sync::Mutex;

use time::{Date, Duration, OffsetDateTime};

pub use passerelle_domain::calendar::{paris_date, paris_offset};

pub trait Clock: Send + Sync + Debug {
    fn now(&self) -> OffsetDateTime;

    /// Today in France (Europe/Paris): the date a mediator sees.
    fn today(&self) -> Date {
        paris_date(self.now())
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

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

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
