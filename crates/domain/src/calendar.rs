//! Days in France: the date in Paris of an instant, whatever offset it was
//! sent with (Paris's offset computed, summer time included), and business
//! days (weekends and the eleven public holidays of metropolitan France,
//! fixed ones and those that follow Easter, computed), so that "two business
//! days before the start" falls on the right day.

use time::{Date, Duration, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset, Weekday};

/// Easter Sunday of `year` (Gregorian; the anonymous algorithm, also known
/// as Meeus/Jones/Butcher).
pub fn easter(year: i32) -> Date {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    let month = if month == 3 {
        Month::March
    } else {
        Month::April
    };
    Date::from_calendar_date(year, month, day as u8).expect("Easter is a date")
}

/// Whether `day` is a public holiday in metropolitan France.
pub fn is_public_holiday(day: Date) -> bool {
    let fixed = [
        (Month::January, 1),
        (Month::May, 1),
        (Month::May, 8),
        (Month::July, 14),
        (Month::August, 15),
        (Month::November, 1),
        (Month::November, 11),
        (Month::December, 25),
    ];
    if fixed.contains(&(day.month(), day.day())) {
        return true;
    }
    let easter = easter(day.year());
    // Easter Monday, Ascension Thursday, Whit Monday.
    [1, 39, 50]
        .iter()
        .any(|&offset| easter + Duration::days(offset) == day)
}

pub fn is_business_day(day: Date) -> bool {
    !matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday) && !is_public_holiday(day)
}

/// The business day `n` business days after `day` (before it when `n` is
/// negative); `day` itself need not be one.
pub fn add_business_days(day: Date, n: i64) -> Date {
    let step = if n < 0 { -1 } else { 1 };
    let mut current = day;
    let mut left = n.abs();
    while left > 0 {
        current += Duration::days(step);
        if is_business_day(current) {
            left -= 1;
        }
    }
    current
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

/// The date in Paris of `instant`, whatever offset it was sent with: the
/// day a mediator, an employer and a person mean.
pub fn paris_date(instant: OffsetDateTime) -> Date {
    instant.to_offset(paris_offset(instant)).date()
}

#[cfg(test)]
mod tests {
    use time::macros::{date, datetime};

    use super::*;

    #[test]
    fn easter_falls_on_its_known_dates() {
        assert_eq!(easter(2024), date!(2024 - 03 - 31));
        assert_eq!(easter(2025), date!(2025 - 04 - 20));
        assert_eq!(easter(2026), date!(2026 - 04 - 05));
        assert_eq!(easter(2027), date!(2027 - 03 - 28));
        assert_eq!(easter(2038), date!(2038 - 04 - 25));
    }

    #[test]
    fn the_holidays_of_2026_are_known() {
        for day in [
            date!(2026 - 01 - 01),
            date!(2026 - 04 - 06),
            date!(2026 - 05 - 01),
            date!(2026 - 05 - 08),
            date!(2026 - 05 - 14),
            date!(2026 - 05 - 25),
            date!(2026 - 07 - 14),
            date!(2026 - 08 - 15),
            date!(2026 - 11 - 01),
            date!(2026 - 11 - 11),
            date!(2026 - 12 - 25),
        ] {
            assert!(is_public_holiday(day), "{day}");
        }
        assert!(!is_public_holiday(date!(2026 - 05 - 13)));
        assert!(
            !is_public_holiday(date!(2026 - 04 - 05)),
            "Easter is a Sunday anyway"
        );
    }

    #[test]
    fn business_days_skip_weekends_and_holidays() {
        // Thursday 30 April 2026: Friday 1 May is a holiday, then the weekend.
        assert_eq!(
            add_business_days(date!(2026 - 04 - 30), 1),
            date!(2026 - 05 - 04)
        );
        // Two business days before Monday 18 May 2026: Ascension Thursday
        // 14 May is skipped, so Friday 15 then Wednesday 13.
        assert_eq!(
            add_business_days(date!(2026 - 05 - 18), -2),
            date!(2026 - 05 - 13)
        );
        assert_eq!(
            add_business_days(date!(2026 - 11 - 20), 3),
            date!(2026 - 11 - 25)
        );
        assert!(!is_business_day(date!(2026 - 11 - 21)));
        assert_eq!(
            add_business_days(date!(2026 - 11 - 20), 0),
            date!(2026 - 11 - 20)
        );
    }

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
    fn the_paris_date_does_not_depend_on_the_offset_sent() {
        // 00:30 in Paris on 16 November is still the 15th in UTC.
        let utc = datetime!(2026-11-15 23:30 UTC);
        assert_eq!(paris_date(utc), date!(2026 - 11 - 16));
        assert_eq!(
            paris_date(utc.to_offset(time::macros::offset!(-5))),
            date!(2026 - 11 - 16)
        );
        // 01:30 in Paris in summer is 23:30 UTC the day before.
        assert_eq!(
            paris_date(datetime!(2026-06-30 23:30 UTC)),
            date!(2026 - 07 - 01)
        );
        assert_eq!(
            paris_date(datetime!(2026-06-30 21:59 UTC)),
            date!(2026 - 06 - 30)
        );
    }
}
