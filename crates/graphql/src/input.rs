//! What clients send, parsed: ids, texts and codes with the field they came
//! on, and the keyset cursors and page sizes of lists.

use async_graphql::{ErrorExtensions as _, ID, Result};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use passerelle_domain::consent_texts;
use passerelle_domain::person::ConsentPurpose;
use passerelle_domain::values::{Label, RomeCode, Text};
use passerelle_domain::{DomainError, Rule};
use uuid::Uuid;

use crate::error::{self, Code, on_field};

/// The refusal of a département's code that names none, its input quoted
/// back short.
pub(crate) fn unknown_departement(input: &str) -> String {
    format!(
        "Le département « {} » n'existe pas : indiquez son code INSEE, par exemple 44 ou 2A.",
        passerelle_domain::echoed(input)
    )
}

pub(crate) fn parse_id(id: &ID, what: &str) -> Result<Uuid> {
    id.parse::<Uuid>().map_err(|_| error::not_found(what))
}

/// Opaque keyset cursors: the sort key of the last row, encoded.
pub(crate) fn cursor(key: &[&str]) -> String {
    URL_SAFE_NO_PAD.encode(key.join("\u{1f}"))
}

/// A cursor this service did not make, on the `after` argument.
pub(crate) fn bad_cursor() -> async_graphql::Error {
    error::error(Code::BadUserInput, "Curseur de pagination invalide.")
        .extend_with(|_, e| e.set("field", "after"))
}

pub(crate) fn decode_cursor(cursor: &str, parts: usize) -> Result<Vec<String>> {
    let bad = bad_cursor;
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    // A cursor is made here from sort keys, which hold no control
    // character: one that does was made elsewhere, and PostgreSQL would
    // refuse its NUL.
    if text.chars().any(|c| c.is_control() && c != '\u{1f}') {
        return Err(bad());
    }
    let key: Vec<String> = text.split('\u{1f}').map(str::to_owned).collect();
    if key.len() == parts {
        Ok(key)
    } else {
        Err(bad())
    }
}

/// How many rows a page holds: `first`, 20 by default, 100 at most.
pub(crate) fn page_size(first: Option<i32>) -> Result<i64> {
    match first {
        None => Ok(20),
        Some(n) if (1..=MOST_PER_PAGE).contains(&i64::from(n)) => Ok(i64::from(n)),
        Some(_) => Err(error::error(
            Code::BadUserInput,
            format!("« first » va de 1 à {MOST_PER_PAGE}."),
        )
        .extend_with(|_, e| e.set("field", "first"))),
    }
}

/// The most rows a page gives, and what the deprecated whole lists
/// (`Employer.visits`, `Employer.needs`, `Person.timeline`) give at most:
/// the first page of their paged field at its largest, so that no field
/// costs more than a page, whatever the list has grown to.
pub(crate) const MOST_PER_PAGE: i64 = 100;

pub(crate) fn text(field: &'static str, value: &str) -> Result<Text> {
    Text::parse(value).map_err(|e| on_field(field, e))
}

pub(crate) fn label(field: &'static str, value: &str) -> Result<Label> {
    Label::parse(value).map_err(|e| on_field(field, e))
}

pub(crate) fn optional_text(field: &'static str, value: Option<&str>) -> Result<Option<Text>> {
    value
        .filter(|v| !v.trim().is_empty())
        .map(|v| text(field, v))
        .transpose()
}

pub(crate) fn rome_codes(field: &'static str, codes: &[String]) -> Result<Vec<RomeCode>> {
    codes
        .iter()
        .map(|c| RomeCode::parse(c).map_err(|e| on_field(field, e)))
        .collect()
}

/// The key an `after` cursor holds, of `parts` parts, as `key` reads it.
/// The cursor of a row listed by a day, then by id (a visit, a need, a
/// person by the day of her erasure): no name in it.
pub(crate) fn dated_cursor(day: time::Date, id: uuid::Uuid) -> String {
    cursor(&[&day.to_string(), &id.to_string()])
}

/// The key an `after` cursor of [`dated_cursor`] holds.
pub(crate) fn dated_key(after: Option<String>) -> Result<Option<(time::Date, uuid::Uuid)>> {
    let day = time::macros::format_description!("[year]-[month]-[day]");
    self::after(after, 2, |key| {
        Some((time::Date::parse(&key[0], day).ok()?, key[1].parse().ok()?))
    })
}

pub(crate) fn after<K>(
    after: Option<String>,
    parts: usize,
    key: impl FnOnce(Vec<String>) -> Option<K>,
) -> Result<Option<K>> {
    after
        .map(|c| key(decode_cursor(&c, parts)?).ok_or_else(bad_cursor))
        .transpose()
}

/// The version a consent names, checked against the texts: a version no
/// text has is a client's error, said on `field`.
pub(crate) fn text_version(
    field: &'static str,
    purpose: ConsentPurpose,
    version: &str,
) -> Result<Label> {
    match consent_texts::find(purpose, version.trim()) {
        Some(text) => Label::parse(text.version).map_err(|e| on_field(field, e)),
        None => Err(on_field(
            field,
            DomainError::invalid(
                Rule::ConsentTextUnknown,
                field,
                format!(
                    "Version de texte inconnue pour ce consentement (versions : {}).",
                    consent_texts::versions(purpose).join(", ")
                ),
            ),
        )),
    }
}
