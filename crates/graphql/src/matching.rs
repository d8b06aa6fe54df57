//! Matching upstream of formal offers: on a person, the territory's open
//! needs and the employers that fit their project, and the peers of their
//! structure who walked the same path with their testimonies; on a need,
//! the people the viewer's structure follows whose project fits it. Each
//! match says why (the ROME code itself or its domain; how near).
//!
//! Only the person's structure's staff read a person's matching
//! (`policy::reads_matching`); a need's people are always the viewer's
//! structure's (`policy::matching_structure`). Anyone else gets an empty
//! list. Nodes are summaries of their own, so that the people and
//! employers features, which delegate here, import nothing back.

use std::collections::{BTreeMap, HashMap};

use async_graphql::{Context, ErrorExtensions as _, ID, Result, SimpleObject};
use passerelle_app::policy;
use passerelle_domain::person::{ConsentPurpose, Person as PersonAggregate, PersonEvent};
use passerelle_domain::testimony::{Audience, Testimony, TestimonyEvent};
use passerelle_domain::values::{PersonId, TestimonyId};
use passerelle_projections::views::matching::{
    self, EmployerMatchRow, NeedMatchRow, PeerRow, PersonMatchRow, Proximity, RomeMatch,
};
use passerelle_projections::views::needs::NeedRow;
use passerelle_projections::views::people::PersonRow;
use time::Date;
use uuid::Uuid;

use crate::context::{actor, gateway};
use crate::error;
use crate::input::{after as after_key, cursor, page_size};
use crate::primitives::{PageInfo, page};

/// An open need that fits a person's project, and why.
#[derive(SimpleObject, Debug)]
pub struct NeedMatch {
    pub need_id: ID,
    pub employer_id: ID,
    pub employer_name: String,
    /// The employer's commune (INSEE code).
    pub commune: String,
    pub activities: String,
    pub rome_codes: Vec<String>,
    pub surfaced_on: Date,
    pub rome_match: RomeMatch,
    pub proximity: Proximity,
}

impl From<NeedMatchRow> for NeedMatch {
    fn from(r: NeedMatchRow) -> Self {
        Self {
            rome_match: r.rome_match(),
            proximity: r.proximity(),
            need_id: ID(r.need_id.to_string()),
            employer_id: ID(r.employer_id.to_string()),
            employer_name: r.employer_name,
            commune: r.commune,
            activities: r.activities,
            rome_codes: r.rome_codes,
            surfaced_on: r.surfaced_on,
        }
    }
}

/// An employer whose open needs or past hosting fit a person's project,
/// and why.
#[derive(SimpleObject, Debug)]
pub struct EmployerMatch {
    pub employer_id: ID,
    pub name: String,
    pub commune: String,
    /// One of their open needs fits.
    pub by_open_need: bool,
    /// They hosted an immersion (started, interrupted or completed) for a
    /// need that fits.
    pub by_hosting: bool,
    pub rome_match: RomeMatch,
    pub proximity: Proximity,
}

impl From<EmployerMatchRow> for EmployerMatch {
    fn from(r: EmployerMatchRow) -> Self {
        Self {
            rome_match: r.rome_match(),
            proximity: r.proximity(),
            employer_id: ID(r.employer_id.to_string()),
            name: r.name,
            commune: r.commune,
            by_open_need: r.by_open_need,
            by_hosting: r.by_hosting,
        }
    }
}

/// A person of the viewer's structure whose project fits a need, and why.
#[derive(SimpleObject, Debug)]
pub struct PersonMatch {
    pub person_id: ID,
    pub first_name: String,
    pub last_name: String,
    pub target_rome_codes: Vec<String>,
    pub rome_match: RomeMatch,
}

impl From<PersonMatchRow> for PersonMatch {
    fn from(r: PersonMatchRow) -> Self {
        Self {
            rome_match: r.rome_match(),
            person_id: ID(r.person_id.to_string()),
            first_name: r.first_name,
            last_name: r.last_name,
            target_rome_codes: r.target_rome_codes,
        }
    }
}

/// A former participant of the person's structure who consents to share
/// their path: their first name only, and the testimonies they share with
/// the viewer.
#[derive(SimpleObject, Debug)]
pub struct Peer {
    pub first_name: String,
    pub rome_match: RomeMatch,
    pub testimonies: Vec<PeerTestimony>,
}

/// A testimony as it stands now: never a withdrawn one.
#[derive(SimpleObject, Debug)]
pub struct PeerTestimony {
    /// The testimony, for a peer meeting to name as where it came from (an
    /// id, never its author's).
    pub id: ID,
    /// The account, in the author's words.
    pub account: String,
    pub rome_codes: Vec<String>,
    pub audience: Audience,
    pub recorded_on: Date,
}

/// Someone who already mentored a person of the structure whose project
/// fits: the name as it was recorded (a label, not an account).
#[derive(SimpleObject, Debug)]
pub struct PossibleMentor {
    pub name: String,
    /// The mentor's job, when it was recorded.
    pub mentor_job: Option<String>,
    /// How the project of the people they mentored fits.
    pub rome_match: RomeMatch,
}

macro_rules! connections {
    ($($node:ident => $edge:ident, $connection:ident;)*) => {$(
        #[derive(SimpleObject, Debug)]
        pub struct $edge {
            pub cursor: String,
            pub node: $node,
        }

        #[derive(SimpleObject, Debug)]
        pub struct $connection {
            pub edges: Vec<$edge>,
            pub page_info: PageInfo,
        }

        impl $connection {
            fn empty() -> Self {
                Self {
                    edges: Vec::new(),
                    page_info: PageInfo {
                        has_next_page: false,
                        end_cursor: None,
                    },
                }
            }
        }
    )*};
}

connections! {
    NeedMatch => NeedMatchEdge, NeedMatchConnection;
    EmployerMatch => EmployerMatchEdge, EmployerMatchConnection;
    PersonMatch => PersonMatchEdge, PersonMatchConnection;
    Peer => PeerEdge, PeerConnection;
    PossibleMentor => PossibleMentorEdge, PossibleMentorConnection;
}

/// The person's project codes and place, when the viewer reads their
/// matching.
async fn profile(
    ctx: &Context<'_>,
    person: &PersonRow,
) -> Result<Option<(Vec<String>, matching::Place)>> {
    if !policy::reads_matching(&actor(ctx)?, person.structure) {
        return Ok(None);
    }
    matching::person_profile(&gateway(ctx).pool, person.person_id)
        .await
        .map_err(error::db)
}

fn int(s: &str) -> Option<i32> {
    s.parse().ok()
}

/// `Person.matchingNeeds`.
pub(crate) async fn needs_of(
    ctx: &Context<'_>,
    person: &PersonRow,
    first: Option<i32>,
    after: Option<String>,
) -> Result<NeedMatchConnection> {
    let limit = page_size(first)?;
    let after = after_key(after, 4, |k| {
        Some((
            int(&k[0])?,
            int(&k[1])?,
            passerelle_domain::values::parse_date(&k[2]).ok()?,
            k[3].parse().ok()?,
        ))
    })?;
    let Some((codes, place)) = profile(ctx, person).await? else {
        return Ok(NeedMatchConnection::empty());
    };
    let rows = matching::needs_for(&gateway(ctx).pool, &codes, &place, after, limit + 1)
        .await
        .map_err(error::db)?;
    let (edges, page_info) = page(
        rows,
        limit,
        |r| {
            cursor(&[
                &r.proximity_level.to_string(),
                &r.rome_level.to_string(),
                &r.surfaced_on.to_string(),
                &r.need_id.to_string(),
            ])
        },
        |cursor, r| NeedMatchEdge {
            cursor,
            node: r.into(),
        },
    );
    Ok(NeedMatchConnection { edges, page_info })
}

/// `Person.matchingEmployers`.
pub(crate) async fn employers_of(
    ctx: &Context<'_>,
    person: &PersonRow,
    first: Option<i32>,
    after: Option<String>,
) -> Result<EmployerMatchConnection> {
    let limit = page_size(first)?;
    let after = after_key(after, 4, |k| {
        Some((int(&k[0])?, int(&k[1])?, k[2].clone(), k[3].parse().ok()?))
    })?;
    let Some((codes, place)) = profile(ctx, person).await? else {
        return Ok(EmployerMatchConnection::empty());
    };
    let rows = matching::employers_for(
        &gateway(ctx).pool,
        &codes,
        &place,
        person.structure,
        after,
        limit + 1,
    )
    .await
    .map_err(error::db)?;
    let (edges, page_info) = page(
        rows,
        limit,
        |r| {
            cursor(&[
                &r.proximity_level.to_string(),
                &r.rome_level.to_string(),
                &r.name,
                &r.employer_id.to_string(),
            ])
        },
        |cursor, r| EmployerMatchEdge {
            cursor,
            node: r.into(),
        },
    );
    Ok(EmployerMatchConnection { edges, page_info })
}

/// `Need.matchingPeople`: the viewer's structure's people only.
pub(crate) async fn people_of(
    ctx: &Context<'_>,
    need: &NeedRow,
    first: Option<i32>,
    after: Option<String>,
) -> Result<PersonMatchConnection> {
    let limit = page_size(first)?;
    let after = after_key(after, 2, |k| Some((int(&k[0])?, k[1].parse().ok()?)))?;
    let Some(structure) = policy::matching_structure(&actor(ctx)?) else {
        return Ok(PersonMatchConnection::empty());
    };
    let rows = matching::people_for(
        &gateway(ctx).pool,
        structure,
        &need.rome_codes,
        after,
        limit + 1,
    )
    .await
    .map_err(error::db)?;
    let (edges, page_info) = page(
        rows,
        limit,
        |r| {
            // Ids only: a cursor names no one.
            cursor(&[&r.rome_level.to_string(), &r.person_id.to_string()])
        },
        |cursor, r| PersonMatchEdge {
            cursor,
            node: r.into(),
        },
    );
    Ok(PersonMatchConnection { edges, page_info })
}

/// `Person.peers`: former participants of the person's own structure.
pub(crate) async fn peers_of(
    ctx: &Context<'_>,
    person: &PersonRow,
    first: Option<i32>,
    after: Option<String>,
) -> Result<PeerConnection> {
    let limit = page_size(first)?;
    let after = after_key(after, 2, |k| Some((int(&k[0])?, k[1].parse().ok()?)))?;
    let viewer = actor(ctx)?;
    let Some((codes, _)) = profile(ctx, person).await? else {
        return Ok(PeerConnection::empty());
    };
    let gw = gateway(ctx);
    let rows = matching::peers(
        &gw.pool,
        person.structure,
        person.person_id,
        &codes,
        after,
        limit + 1,
    )
    .await
    .map_err(error::db)?;
    // Testimonies only of those whose consent to share them holds now.
    let sharing: Vec<Uuid> = rows
        .iter()
        .take(usize::try_from(limit).unwrap_or_default())
        .filter(|r| r.shares_testimonies())
        .map(|r| r.person_id)
        .collect();
    let mut testimonies: HashMap<Uuid, Vec<PeerTestimony>> = HashMap::new();
    for (author, testimony, history) in crate::context::testimony_histories(ctx, &sharing).await? {
        if let Some(t) = current(&testimony.to_string(), history.into_iter())
            && policy::reads_testimony(&viewer, person.structure, t.audience)
        {
            testimonies.entry(author).or_default().push(t);
        }
    }
    let rows: Vec<(PeerRow, Vec<PeerTestimony>)> = rows
        .into_iter()
        .map(|r| {
            let own = testimonies.remove(&r.person_id).unwrap_or_default();
            (r, own)
        })
        .collect();
    let (edges, page_info) = page(
        rows,
        limit,
        |(r, _)| cursor(&[&r.rome_level.to_string(), &r.person_id.to_string()]),
        |cursor, (r, testimonies)| PeerEdge {
            cursor,
            node: Peer {
                rome_match: r.rome_match(),
                first_name: r.first_name,
                testimonies,
            },
        },
    );
    Ok(PeerConnection { edges, page_info })
}

/// The testimony a command names on `field`, when it exists, is not
/// withdrawn and the viewer reads it (`policy::reads_testimony`): else
/// `BAD_USER_INPUT`, the same whether it does not exist or is not the
/// viewer's to read, so that the answer tells nothing of other structures'
/// testimonies.
pub(crate) async fn readable_testimony(
    ctx: &Context<'_>,
    field: &'static str,
    id: &ID,
) -> Result<TestimonyId> {
    let refused = || {
        error::error(
            error::Code::BadUserInput,
            "Ce témoignage n'existe pas ou n'est plus lisible.",
        )
        .extend_with(move |_, e| e.set("field", field))
    };
    let Ok(id) = id.parse::<Uuid>() else {
        return Err(refused());
    };
    let viewer = actor(ctx)?;
    let gw = gateway(ctx);
    let Some(author) = passerelle_projections::views::people::testimony_author(&gw.pool, id)
        .await
        .map_err(error::db)?
    else {
        return Err(refused());
    };
    let Some(author) = passerelle_projections::views::people::get(&gw.pool, author)
        .await
        .map_err(error::db)?
    else {
        return Err(refused());
    };
    crate::context::read_stream(ctx, format!("testimony-{id}"))?;
    let history = gw
        .handler
        .history::<Testimony>(TestimonyId(id))
        .await
        .map_err(error::app)?;
    match current(&id.to_string(), history.into_iter().map(|r| r.event)) {
        Some(t) if policy::reads_testimony(&viewer, author.structure, t.audience) => {
            Ok(TestimonyId(id))
        }
        _ => Err(refused()),
    }
}

/// A testimony as its facts leave it: none once withdrawn, or when its
/// account was erased with its author's key.
fn current(id: &str, events: impl Iterator<Item = TestimonyEvent>) -> Option<PeerTestimony> {
    let mut testimony = None;
    for event in events {
        match event {
            TestimonyEvent::TestimonyRecorded(e) => {
                testimony = e.account.known().map(|account| PeerTestimony {
                    id: ID(id.to_owned()),
                    account: account.as_str().to_owned(),
                    rome_codes: e.rome_codes.iter().map(|c| c.as_str().to_owned()).collect(),
                    audience: e.audience,
                    recorded_on: e.recorded_on,
                });
            }
            TestimonyEvent::TestimonyAudienceChanged(e) => {
                if let Some(t) = testimony.as_mut() {
                    t.audience = e.audience;
                }
            }
            TestimonyEvent::TestimonyWithdrawn(_) => return None,
        }
    }
    testimony
}

/// How many mentored people a person's possible mentors are read from: each
/// is one stream read.
const MENTORED_READ: i64 = 200;

/// `Person.possibleMentors`: the mentors of people of the person's own
/// structure whose project fits theirs, by name; only of the people who
/// consent to mentoring now (`ConsentPurpose::Mentoring`), since naming
/// their mentor tells of their own path.
pub(crate) async fn mentors_of(
    ctx: &Context<'_>,
    person: &PersonRow,
    first: Option<i32>,
    after: Option<String>,
) -> Result<PossibleMentorConnection> {
    let limit = page_size(first)?;
    // The cursor is a position in the list, which is worked out again for
    // each page from a bounded read: it names no mentor.
    let after = after_key(after, 1, |k| k[0].parse::<usize>().ok())?;
    let Some((codes, _)) = profile(ctx, person).await? else {
        return Ok(PossibleMentorConnection::empty());
    };
    let gw = gateway(ctx);
    let mentored = matching::mentored(
        &gw.pool,
        person.structure,
        person.person_id,
        &codes,
        MENTORED_READ,
    )
    .await
    .map_err(error::db)?;
    // By name, each with the closest fit of the people they mentored.
    let mut mentors: BTreeMap<String, (i32, Option<String>)> = BTreeMap::new();
    for (mentee, level) in mentored {
        crate::context::read_stream(ctx, format!("person-{mentee}"))?;
        let history = gw
            .handler
            .history::<PersonAggregate>(PersonId(mentee))
            .await
            .map_err(error::app)?;
        // Their mentor is named from their own record: only while they
        // consent to mentoring, as their stream says now (a withdrawal
        // holds at once, whatever a view says).
        let mut consents = false;
        let mut theirs = Vec::new();
        for fact in history {
            match fact.event {
                PersonEvent::ConsentGiven(e) if e.purpose == ConsentPurpose::Mentoring => {
                    consents = true;
                }
                PersonEvent::ConsentWithdrawn(e) if e.purpose == ConsentPurpose::Mentoring => {
                    consents = false;
                }
                PersonEvent::MentorshipStarted(e) => {
                    if let Some(name) = e.mentor.known() {
                        theirs.push((
                            name.as_str().to_owned(),
                            e.mentor_job.map(|j| j.as_str().to_owned()),
                        ));
                    }
                }
                _ => {}
            }
        }
        if !consents {
            continue;
        }
        for (name, job) in theirs {
            let entry = mentors.entry(name).or_insert((level, None));
            entry.0 = entry.0.min(level);
            if entry.1.is_none() {
                entry.1 = job;
            }
        }
    }
    let mut rows: Vec<(i32, String, Option<String>)> = mentors
        .into_iter()
        .map(|(name, (level, job))| (level, name, job))
        .collect();
    rows.sort();
    let rows: Vec<_> = rows
        .into_iter()
        .enumerate()
        .skip(after.unwrap_or(0))
        .take(usize::try_from(limit + 1).unwrap_or_default())
        .collect();
    let (edges, page_info) = page(
        rows,
        limit,
        |(position, _)| cursor(&[&(position + 1).to_string()]),
        |cursor, (_, (level, name, mentor_job))| PossibleMentorEdge {
            cursor,
            node: PossibleMentor {
                name,
                mentor_job,
                rome_match: RomeMatch::of_level(level),
            },
        },
    );
    Ok(PossibleMentorConnection { edges, page_info })
}
