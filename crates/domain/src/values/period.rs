//! Dates and durations: date ranges, "one month from date to date", weekly
//! hours, age.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::{Date, Month};

use crate::error::{DomainError, Rule};
use crate::fr::dates as fr;

/// The years a date given by a user may fall in: the oldest person
/// accompanied was born after 1900, and no convention, need or outcome is
/// planned past 2200. Outside them a date is a typing slip (`0202` for
/// `2020`), or one PostgreSQL cannot store (`-9999-01-01`).
pub const PLAUSIBLE_YEARS: std::ops::RangeInclusive<i32> = 1900..=2200;

/// Reads a calendar date written `AAAA-MM-JJ` (ISO 8601, as the API takes
/// it) within [`PLAUSIBLE_YEARS`].
pub fn parse_date(input: &str) -> Result<Date, DomainError> {
    let malformed = || {
        DomainError::invalid(
            Rule::DateFormat,
            "date",
            format!(
                "La date « {} » ne s'écrit pas AAAA-MM-JJ : écrivez-la par exemple 2026-04-01.",
                super::text::echoed(input)
            ),
        )
    };
    let (written, rest) = match input.strip_prefix(['-', '+']) {
        Some(unsigned) => {
            let at = unsigned.find('-').ok_or_else(malformed)?;
            (&input[..=at], &unsigned[at..])
        }
        None => input.split_at(input.find('-').ok_or_else(malformed)?),
    };
    let digits = written.trim_start_matches(['-', '+']);
    if digits.is_empty() || digits.len() > 9 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed());
    }
    let year: i32 = written.parse().map_err(|_| malformed())?;
    let parts: Vec<&str> = rest[1..].split('-').collect();
    let [month, day] = parts[..] else {
        return Err(malformed());
    };
    if month.len() != 2
        || day.len() != 2
        || !month.bytes().chain(day.bytes()).all(|b| b.is_ascii_digit())
    {
        return Err(malformed());
    }
    if !PLAUSIBLE_YEARS.contains(&year) {
        return Err(out_of_range(&super::text::echoed(input)));
    }
    if digits.len() != written.len() || digits.len() != 4 {
        return Err(malformed());
    }
    let month = month
        .parse::<u8>()
        .ok()
        .and_then(|m| Month::try_from(m).ok())
        .ok_or_else(|| not_a_day(input))?;
    let day = day.parse::<u8>().map_err(|_| not_a_day(input))?;
    Date::from_calendar_date(year, month, day).map_err(|_| not_a_day(input))
}

/// Refuses a date outside [`PLAUSIBLE_YEARS`].
pub fn plausible_date(date: Date) -> Result<Date, DomainError> {
    if PLAUSIBLE_YEARS.contains(&date.year()) {
        Ok(date)
    } else {
        Err(out_of_range(&date.to_string()))
    }
}

fn out_of_range(shown: &str) -> DomainError {
    DomainError::invalid(
        Rule::DateOutOfRange,
        "date",
        format!(
            "La date « {shown} » sort des années admises : de {} à {}.",
            PLAUSIBLE_YEARS.start(),
            PLAUSIBLE_YEARS.end()
        ),
    )
}

fn not_a_day(input: &str) -> DomainError {
    DomainError::invalid(
        Rule::DateFormat,
        "date",
        format!(
            "La date « {} » n'existe pas au calendrier : vérifiez le mois (01 à 12) et le jour.",
            super::text::echoed(input)
        ),
    )
}

/// The date `months` months after `date`, on the same day of the month, or
/// the month's last day when it is shorter (31 January + 1 month = 28 or
/// 29 February).
pub fn add_months(date: Date, months: u32) -> Date {
    let index = date.year() * 12 + i32::from(u8::from(date.month())) - 1 + months as i32;
    let year = index.div_euclid(12);
    let month = Month::try_from((index.rem_euclid(12) + 1) as u8).expect("1..=12");
    let last = time::util::days_in_month(month, year);
    Date::from_calendar_date(year, month, date.day().min(last)).expect("day within month")
}

/// The last day of a period of one month "de date à date" that starts on
/// `start`: 3 March → 2 April, 1 April → 30 April, 31 January → 28 (or 29)
/// February.
pub fn one_month_after(start: Date) -> Date {
    let same_day_next_month = add_months(start, 1);
    if same_day_next_month.day() == start.day() {
        same_day_next_month
            .previous_day()
            .expect("not the first day ever")
    } else {
        // The next month has no such day: the month runs to its end.
        same_day_next_month
    }
}

/// The last day of the 12 consecutive months that start on `start`.
pub fn twelve_months_after(start: Date) -> Date {
    add_months(start, 12)
        .previous_day()
        .expect("not the first day ever")
}

/// Full years between `birth_date` and `on`.
pub fn age_on(birth_date: Date, on: Date) -> i32 {
    let mut age = on.year() - birth_date.year();
    if (on.month(), on.day()) < (birth_date.month(), birth_date.day()) {
        age -= 1;
    }
    age
}

/// Dates from `start` to `end`, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawRange")]
pub struct DateRange {
    start: Date,
    end: Date,
}

#[derive(Deserialize)]
struct RawRange {
    start: Date,
    end: Date,
}

impl TryFrom<RawRange> for DateRange {
    type Error = DomainError;
    fn try_from(raw: RawRange) -> Result<Self, DomainError> {
        DateRange::new(raw.start, raw.end)
    }
}

impl DateRange {
    pub fn new(start: Date, end: Date) -> Result<Self, DomainError> {
        if end < start {
            return Err(DomainError::invalid(
                Rule::DateRangeOrder,
                "end",
                format!(
                    "La date de fin ({}) précède la date de début ({}).",
                    fr::date(end),
                    fr::date(start)
                ),
            ));
        }
        Ok(Self { start, end })
    }

    pub fn start(&self) -> Date {
        self.start
    }

    pub fn end(&self) -> Date {
        self.end
    }

    /// Calendar days, both ends included.
    pub fn days(&self) -> i64 {
        (self.end - self.start).whole_days() + 1
    }

    pub fn contains(&self, date: Date) -> bool {
        self.start <= date && date <= self.end
    }

    /// Whether both ranges lie within one window that starts with the
    /// earlier one and lasts 12 consecutive months.
    pub fn within_twelve_months_of(&self, other: &DateRange) -> bool {
        let start = self.start.min(other.start);
        let end = self.end.max(other.end);
        end <= twelve_months_after(start)
    }
}

impl fmt::Display for DateRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&fr::range(self.start, self.end))
    }
}

/// Hours of presence in a week, to the minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct WeeklyHours(u32);

impl WeeklyHours {
    /// Minutes in a week.
    const WEEK: u32 = 7 * 24 * 60;

    pub fn from_minutes(minutes: u32) -> Result<Self, DomainError> {
        if minutes == 0 || minutes > Self::WEEK {
            return Err(DomainError::invalid(
                Rule::WeeklyHoursRange,
                "weeklyHours",
                "Indiquez la durée de présence d'une semaine, en heures (par exemple 35).",
            ));
        }
        Ok(Self(minutes))
    }

    pub fn from_hours(hours: u32) -> Result<Self, DomainError> {
        Self::from_minutes(hours.saturating_mul(60))
    }

    pub fn minutes(self) -> u32 {
        self.0
    }
}

impl TryFrom<u32> for WeeklyHours {
    type Error = DomainError;
    fn try_from(minutes: u32) -> Result<Self, DomainError> {
        Self::from_minutes(minutes)
    }
}

impl From<WeeklyHours> for u32 {
    fn from(value: WeeklyHours) -> u32 {
        value.0
    }
}

impl fmt::Display for WeeklyHours {
    /// "35 h", "35 h 30".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 % 60 {
            0 => write!(f, "{} h", self.0 / 60),
            m => write!(f, "{} h {m:02}", self.0 / 60),
        }
    }
}

/// The age bands dashboards group people by (public-policy bands: youth
/// schemes end at 26, seniors' at 50).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
pub enum AgeBand {
    /// Under 26.
    #[serde(rename = "under_26")]
    Under26,
    /// 26 to 49.
    #[serde(rename = "26_to_49")]
    From26To49,
    /// 50 and over.
    #[serde(rename = "50_and_over")]
    From50,
}

impl AgeBand {
    pub fn of(birth_date: Date, on: Date) -> Self {
        match age_on(birth_date, on) {
            ..26 => AgeBand::Under26,
            26..50 => AgeBand::From26To49,
            _ => AgeBand::From50,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn one_month_from_date_to_date() {
        for (start, last) in [
            (date!(2026 - 03 - 03), date!(2026 - 04 - 02)),
            (date!(2026 - 04 - 01), date!(2026 - 04 - 30)),
            (date!(2026 - 01 - 31), date!(2026 - 02 - 28)),
            (date!(2028 - 01 - 31), date!(2028 - 02 - 29)),
            (date!(2026 - 12 - 15), date!(2027 - 01 - 14)),
        ] {
            assert_eq!(one_month_after(start), last, "from {start}");
        }
        assert_eq!(
            twelve_months_after(date!(2026 - 03 - 01)),
            date!(2027 - 02 - 28)
        );
    }

    #[test]
    fn ranges_count_both_ends() {
        let r = DateRange::new(date!(2026 - 04 - 01), date!(2026 - 04 - 30)).unwrap();
        assert_eq!(r.days(), 30);
        assert!(r.contains(date!(2026 - 04 - 30)));
        assert_eq!(
            DateRange::new(date!(2026 - 04 - 02), date!(2026 - 04 - 01))
                .unwrap_err()
                .rule,
            Rule::DateRangeOrder
        );
        let stored = r#"{"start":"2026-04-02","end":"2026-04-01"}"#;
        assert!(serde_json::from_str::<DateRange>(stored).is_err());
    }

    #[test]
    fn ages_and_bands() {
        let birth = date!(2010 - 06 - 15);
        assert_eq!(age_on(birth, date!(2026 - 06 - 14)), 15);
        assert_eq!(age_on(birth, date!(2026 - 06 - 15)), 16);
        assert_eq!(
            AgeBand::of(date!(2000 - 01 - 01), date!(2025 - 12 - 31)),
            AgeBand::Under26
        );
        assert_eq!(
            AgeBand::of(date!(2000 - 01 - 01), date!(2026 - 01 - 01)),
            AgeBand::From26To49
        );
        assert_eq!(
            AgeBand::of(date!(1976 - 01 - 01), date!(2026 - 01 - 01)),
            AgeBand::From50
        );
    }

    #[test]
    fn dates_are_read_within_plausible_years() {
        assert_eq!(parse_date("2026-04-01").unwrap(), date!(2026 - 04 - 01));
        assert_eq!(parse_date("1900-01-01").unwrap(), date!(1900 - 01 - 01));
        assert_eq!(parse_date("2200-12-31").unwrap(), date!(2200 - 12 - 31));
        for (input, rule) in [
            ("-9999-01-01", Rule::DateOutOfRange),
            ("+2026-01-01", Rule::DateFormat),
            ("02026-01-01", Rule::DateFormat),
            ("1899-12-31", Rule::DateOutOfRange),
            ("2201-01-01", Rule::DateOutOfRange),
            ("0202-03-04", Rule::DateOutOfRange),
            ("20260-01-01", Rule::DateOutOfRange),
            ("1998-13-45", Rule::DateFormat),
            ("2026-02-30", Rule::DateFormat),
            ("2026-00-10", Rule::DateFormat),
            ("2026-4-1", Rule::DateFormat),
            ("01/04/2026", Rule::DateFormat),
            ("2026-04-01T00:00", Rule::DateFormat),
            ("", Rule::DateFormat),
            ("-", Rule::DateFormat),
            ("--", Rule::DateFormat),
            ("2026-04-01-", Rule::DateFormat),
            ("é-01-01", Rule::DateFormat),
        ] {
            let e = parse_date(input).unwrap_err();
            assert_eq!(e.rule, rule, "{input:?}: {}", e.message);
            assert!(
                e.message.starts_with("La date « ") && e.message.ends_with('.'),
                "{}",
                e.message
            );
        }
        assert!(plausible_date(date!(2026 - 04 - 01)).is_ok());
        assert_eq!(
            plausible_date(date!(-9999 - 01 - 01)).unwrap_err().rule,
            Rule::DateOutOfRange
        );
    }

    #[test]
    fn weekly_hours() {
        assert_eq!(
            WeeklyHours::from_minutes(35 * 60 + 30).unwrap().to_string(),
            "35 h 30"
        );
        assert_eq!(
            WeeklyHours::from_hours(0).unwrap_err().rule,
            Rule::WeeklyHoursRange
        );
        assert!(serde_json::from_str::<WeeklyHours>("0").is_err());
    }
}
