//! Dates and durations as a mediator writes them: "3 mars 2026", "du 4 au
//! 8 mai 2026", "5 jours". Apart from the labels, so that the aggregates'
//! messages can use them without reaching the labels, which read the
//! aggregates' types.

use time::{Date, Month};

const MONTHS: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];

fn month_name(month: Month) -> &'static str {
    MONTHS[usize::from(u8::from(month)) - 1]
}

fn day(date: Date) -> String {
    match date.day() {
        1 => "1er".to_owned(),
        d => d.to_string(),
    }
}

/// "3 mars 2026", "1er mai 2026".
pub fn date(date: Date) -> String {
    format!("{} {} {}", day(date), month_name(date.month()), date.year())
}

/// "3 mars", without the year, for a date whose year the sentence gives.
pub fn day_month(date: Date) -> String {
    format!("{} {}", day(date), month_name(date.month()))
}

/// A period as a sentence gives it, its year always said once at least:
/// "le 4 mai 2026" for one day, "du 4 au 8 mai 2026" within a month, "du
/// 3 mars au 2 avril 2026" within a year, "du 15 décembre 2026 au
/// 14 janvier 2027" across two.
pub fn range(start: Date, end: Date) -> String {
    if start == end {
        format!("le {}", date(end))
    } else if start.year() != end.year() {
        format!("du {} au {}", date(start), date(end))
    } else if start.month() != end.month() {
        format!("du {} au {}", day_month(start), date(end))
    } else {
        format!("du {} au {}", day(start), date(end))
    }
}

/// "1 jour", "3 jours".
pub fn days(n: i64) -> String {
    if n.abs() <= 1 {
        format!("{n} jour")
    } else {
        format!("{n} jours")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn dates_read_as_in_french() {
        assert_eq!(date(date!(2026 - 05 - 01)), "1er mai 2026");
        assert_eq!(
            range(date!(2026 - 03 - 03), date!(2026 - 04 - 02)),
            "du 3 mars au 2 avril 2026"
        );
        assert_eq!(
            range(date!(2026 - 05 - 01), date!(2026 - 05 - 08)),
            "du 1er au 8 mai 2026"
        );
        assert_eq!(
            range(date!(2026 - 12 - 06), date!(2026 - 12 - 06)),
            "le 6 décembre 2026"
        );
        assert_eq!(
            range(date!(2026 - 12 - 15), date!(2027 - 01 - 14)),
            "du 15 décembre 2026 au 14 janvier 2027"
        );
        assert_eq!(days(1), "1 jour");
        assert_eq!(days(61), "61 jours");
    }
}
