//! The API's answers as the pages read them: each operation's answer is
//! deserialized into the page's own types, so a field the page needs and
//! the answer lacks is a defect that shows (logged, and an error page),
//! never a value silently rendered empty. The operations themselves are
//! checked against the committed schema by `tests/input_errors.rs`.

use axum::http::StatusCode;
use axum::response::Response;
use passerelle_domain::fr::Labelled;
use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer};

use serde_json::json;

use crate::page::{Outcome, Page, message};

impl Page {
    /// The name of an establishment the viewer reaches, by the one
    /// operation the pages share for it: `None` when it does not exist or
    /// is out of the viewer's reach; `Err` the error page of a failed read.
    pub(crate) async fn employer_name(&self, id: &str) -> Result<Option<String>, Box<Response>> {
        #[derive(Deserialize)]
        struct Answer {
            employer: Option<Named>,
        }
        #[derive(Deserialize)]
        struct Named {
            name: String,
        }
        let out = self
            .run(
                "query($e: ID!) { employer(id: $e) { name } }",
                json!({ "e": id }),
            )
            .await;
        Ok(out.read::<Answer>()?.employer.map(|e| e.name))
    }

    /// The full name of a person the viewer reaches; else the page to
    /// answer: [`person_not_found`], or the error page of a failed read.
    pub(crate) async fn person_name(&self, id: &str) -> Result<String, Box<Response>> {
        match self.readable_person_name(id).await? {
            Some(name) => Ok(name),
            None => Err(Box::new(person_not_found())),
        }
    }

    /// A person's full name, when the viewer reads her (`None` for one who
    /// does not exist or is out of reach, the two not told apart).
    pub(crate) async fn readable_person_name(
        &self,
        id: &str,
    ) -> Result<Option<String>, Box<Response>> {
        #[derive(Deserialize)]
        struct Answer {
            person: Option<PersonName>,
        }
        let out = self
            .run(
                "query($p: ID!) { person(id: $p) { firstName lastName } }",
                json!({ "p": id }),
            )
            .await;
        Ok(out.read::<Answer>()?.person.map(|p| p.full()))
    }
}

/// The page for a person who does not exist or is out of the viewer's
/// reach (the two are not told apart).
pub(crate) fn person_not_found() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "Introuvable",
        "Cette personne n'existe pas ou ne vous est pas accessible.",
    )
}

impl Outcome {
    /// The answer's `data` as `T`. An answer that does not fit is logged
    /// with the type it was read as and where it did not fit (never the
    /// data, which holds personal fields) and answered with a French error
    /// page.
    ///
    /// An answer refused whole, every error of it saying that what was
    /// asked does not exist or naming the value sent that is not one, is a
    /// page asked for with an address or a form's hidden field that
    /// designates nothing, such as an id that is not one: a 404, not an
    /// error of the service. Any other refusal of the page's own operation
    /// (a limit, a validation error without a value to blame) stays the
    /// defect it is, logged.
    pub(crate) fn read<T: DeserializeOwned>(&self) -> Result<T, Box<Response>> {
        let designates_nothing = |e: &crate::page::GqlError| match e.code.as_deref() {
            Some("NOT_FOUND") => true,
            Some("BAD_USER_INPUT") => e.field.is_some(),
            _ => false,
        };
        if self.data.is_null()
            && !self.errors.is_empty()
            && self.errors.iter().all(designates_nothing)
        {
            return Err(Box::new(message(
                StatusCode::NOT_FOUND,
                "Introuvable",
                "Cette adresse ne désigne rien que vous puissiez consulter : vérifiez le lien suivi.",
            )));
        }
        fit(&self.data).map_err(|e| {
            tracing::error!(
                answer = std::any::type_name::<T>(),
                error = %e,
                "a page could not read the API's answer"
            );
            Box::new(message(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Erreur",
                "Cette page n'a pas pu être affichée. Réessayez plus tard ; si cela se reproduit, signalez-le.",
            ))
        })
    }
}

/// Where an answer did not fit its type and how, never with the value:
/// serde's own message quotes it (`invalid type: string "Awa Diallo"`), and
/// answers hold personal fields.
#[derive(Debug)]
pub(crate) struct Unfit {
    path: String,
    category: serde_json::error::Category,
}

impl std::fmt::Display for Unfit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} at `{}`", self.category, self.path)
    }
}

/// An answer's value read as `T`.
pub(crate) fn fit<T: DeserializeOwned>(data: &serde_json::Value) -> Result<T, Unfit> {
    serde_path_to_error::deserialize(data).map_err(|e| Unfit {
        path: e.path().to_string(),
        category: e.inner().classify(),
    })
}

#[derive(Deserialize)]
struct Edge<T> {
    node: T,
}

/// One page of a connection: its nodes, and the cursor the next page
/// starts after when there is one.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Paged<T> {
    edges: Vec<Edge<T>>,
    page_info: PageInfo,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct PageInfo {
    end_cursor: Option<String>,
    has_next_page: bool,
}

impl<T> Default for Paged<T> {
    fn default() -> Self {
        Self {
            edges: Vec::new(),
            page_info: PageInfo::default(),
        }
    }
}

impl<T> Paged<T> {
    /// The nodes in order, and the next page's cursor.
    pub(crate) fn split(self) -> (Vec<T>, Option<String>) {
        let next = self
            .page_info
            .has_next_page
            .then_some(self.page_info.end_cursor)
            .flatten();
        (self.edges.into_iter().map(|e| e.node).collect(), next)
    }
}

/// A day the API gives: a date (`2026-05-04`) or the day of an instant
/// (`2026-05-04T09:30:00Z`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Day(pub time::Date);

/// When an immersion is, as its lists say it: « du 4 au 8 mai 2026 » once
/// its convention sets its dates, else « depuis le 4 mai 2026 » (its
/// proposal).
pub(crate) fn when(start: Option<Day>, end: Option<Day>, proposed_on: Day) -> String {
    match (start, end) {
        (Some(start), Some(end)) => passerelle_domain::fr::range(start.0, end.0),
        _ => format!("depuis le {}", proposed_on.french()),
    }
}

/// Who recorded a fact, from their role when they did (`Recording.role`),
/// in French.
pub(crate) fn recorder(role: &str) -> &'static str {
    match role {
        // Her own contact details, from her space.
        "person" => "La personne elle-même",
        role => passerelle_graphql::StaffRole::parse(role).map_or("Le service", |r| r.label()),
    }
}

/// An instant the API gives (`2026-05-04T09:30:00Z`), in French at Paris
/// time: "4 mai 2026 à 11 h 30"; anything else as it came.
pub(crate) fn moment(text: &str) -> String {
    use time::format_description::well_known::Rfc3339;
    let Ok(at) = time::OffsetDateTime::parse(text, &Rfc3339) else {
        return text.to_owned();
    };
    let local = at.to_offset(passerelle_app::paris_offset(at));
    format!(
        "{} à {} h {:02}",
        passerelle_domain::fr::date(local.date()),
        local.hour(),
        local.minute()
    )
}

/// What a correction's field holds now, said as its hint: « Enregistré :
/// … », or that nothing is.
pub(crate) fn recorded_hint(value: Option<String>) -> String {
    match value {
        Some(v) => format!("Enregistré : {v}"),
        None => "Rien d'enregistré.".to_owned(),
    }
}

/// A phone number as the pages write it, « 06 12 34 56 78 »: the API gives
/// it in international form (`+33612345678`), which dials from anywhere.
pub(crate) fn phone(international: &str) -> String {
    passerelle_domain::values::PhoneNumber::parse(international)
        .map_or_else(|_| international.to_owned(), |p| p.to_string())
}

/// Hours a week as the pages write them: "35", "35,5", "35,33" (two
/// decimals at most, none when whole).
pub(crate) fn hours(weekly: f64) -> String {
    let text = format!("{weekly:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    text.replace('.', ",")
}

impl Day {
    /// "4 mai 2026".
    pub(crate) fn french(self) -> String {
        passerelle_domain::fr::date(self.0)
    }
}

impl<'de> Deserialize<'de> for Day {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        // An instant is on the day it is in France: one recorded at 23:30
        // UTC in December is on the next day for the mediator.
        let day = if text.len() > 10 {
            time::OffsetDateTime::parse(&text, &time::format_description::well_known::Rfc3339)
                .ok()
                .map(passerelle_domain::calendar::paris_date)
        } else {
            crate::page::parse_date(&text)
        };
        day.map(Day)
            .ok_or_else(|| serde::de::Error::custom("not a day"))
    }
}

/// A domain value the API gives by its name, as an enum (`WITHIN_A_YEAR`)
/// or as stored (`within_a_year`), read into the domain's type: a name no
/// value has is a defect of the answer, not a value to show raw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Code<T>(pub T);

impl<'de, T: Labelled> Deserialize<'de> for Code<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        T::ALL
            .iter()
            .find(|v| v.code().eq_ignore_ascii_case(&name))
            .map(|v| Code(*v))
            .ok_or_else(|| {
                serde::de::Error::custom(format!("unknown {} `{name}`", std::any::type_name::<T>()))
            })
    }
}

impl<T: Labelled> Code<T> {
    /// The value's French label.
    pub(crate) fn french(self) -> &'static str {
        self.0.french()
    }

    /// The value as the API names it (`WITHIN_A_YEAR`), as a form sends it.
    pub(crate) fn name(self) -> String {
        self.0.code().to_ascii_uppercase()
    }
}

/// How a job fits the person's project, as the API's `RomeMatch` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum RomeMatch {
    Exact,
    SameDomain,
}

impl RomeMatch {
    /// Why it fits, as the end of a sentence.
    pub(crate) fn french(self) -> &'static str {
        match self {
            Self::Exact => "le même métier",
            Self::SameDomain => "un métier du même domaine",
        }
    }
}

/// How near a place is to the person, as the API's `Proximity` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum Proximity {
    SameCommune,
    SameDepartement,
    SameRegion,
    Farther,
}

impl Proximity {
    /// Where it is, as the end of a sentence.
    pub(crate) fn french(self) -> &'static str {
        match self {
            Self::SameCommune => "dans sa commune",
            Self::SameDepartement => "dans son département",
            Self::SameRegion => "dans sa région",
            Self::Farther => "plus loin",
        }
    }
}

/// "Nantes (44109)"; the code alone when the referential no longer has it.
pub(crate) fn commune_name(code: &str) -> String {
    match passerelle_domain::values::CommuneCode::parse(code)
        .ok()
        .and_then(|c| c.commune())
    {
        Some(commune) => format!("{} ({code})", commune.name),
        None => code.to_owned(),
    }
}

/// A person's name as the API gives it: both parts null once their
/// personal data is erased.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PersonName {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

impl PersonName {
    /// "Awa Diallo"; "(effacé)" once erased.
    pub(crate) fn full(&self) -> String {
        match (&self.first_name, &self.last_name) {
            (Some(first), Some(last)) => format!("{first} {last}"),
            (Some(name), None) | (None, Some(name)) => name.clone(),
            (None, None) => "(effacé)".to_owned(),
        }
    }
}

/// The answer read as the page's type, or the error page returned.
macro_rules! read_or_return {
    ($outcome:expr) => {
        match $outcome.read() {
            Ok(answer) => answer,
            Err(page) => return *page,
        }
    };
}
pub(crate) use read_or_return;

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_instant_is_on_its_day_in_france() {
        let day = |text: &str| serde_json::from_value::<Day>(json!(text)).map(|d| d.0.to_string());
        assert_eq!(day("2026-05-04").unwrap(), "2026-05-04");
        assert_eq!(day("2026-12-06T23:30:00Z").unwrap(), "2026-12-07");
        assert_eq!(day("2026-07-01T22:30:00Z").unwrap(), "2026-07-02");
        assert_eq!(day("2026-07-01T21:30:00Z").unwrap(), "2026-07-01");
        assert_eq!(day("2026-07-02T00:30:00+02:00").unwrap(), "2026-07-02");
        assert!(day("demain").is_err());
        assert!(day("2026-07-01Tmidi").is_err());
    }

    #[test]
    fn a_phone_number_is_written_as_in_france() {
        assert_eq!(phone("+33612345678"), "06 12 34 56 78");
        assert_eq!(phone("not a number"), "not a number");
    }

    #[derive(Debug, Deserialize)]
    struct Person {
        #[expect(dead_code, reason = "only deserialized")]
        age: i64,
    }

    #[test]
    fn weekly_hours_read_with_a_french_comma() {
        assert_eq!(hours(35.0), "35");
        assert_eq!(hours(35.5), "35,5");
        assert_eq!(hours(106.0 / 3.0), "35,33");
        assert_eq!(hours(12.1), "12,1");
    }

    #[test]
    fn an_unfit_answer_says_where_without_the_value() {
        let unfit = fit::<Vec<Person>>(&json!([{ "age": 3 }, { "age": "Awa Diallo" }]))
            .unwrap_err()
            .to_string();
        assert!(unfit.contains("[1].age"), "{unfit}");
        assert!(!unfit.contains("Awa"), "{unfit}");
    }
}
