//! Matching upstream of formal offers, read from the `people`, `employers`,
//! `needs` and `immersions` views: for a person, the territory's open needs
//! and the employers whose needs or past hosting fit their project, and the
//! former participants of their structure who walked the same path; for a
//! need, the people a structure follows whose project fits it.
//!
//! Two ROME codes fit when they are equal (`Exact`) or share their domain,
//! the first three characters (`SameDomain`: D1101 and D1102 are both in
//! D11, retail sales). Every query reads the views' current state: a
//! consent withdrawn or a need closed drops out of the next answer.

use passerelle_domain::person::ConsentPurpose;
use passerelle_domain::values::CommuneCode;
use sqlx::PgExecutor;
use time::Date;
use uuid::Uuid;

use super::tag;

/// How a ROME code fits the person's project or the need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
pub enum RomeMatch {
    /// The same ROME code.
    Exact,
    /// Another job of the same ROME domain (the code's first three
    /// characters).
    SameDomain,
}

impl RomeMatch {
    /// From a level the queries compute: 0 for the same code.
    pub fn of_level(level: i32) -> Self {
        Self::of(level)
    }

    fn of(level: i32) -> Self {
        if level == 0 {
            Self::Exact
        } else {
            Self::SameDomain
        }
    }
}

/// How near an employer is to the person, by the official geography.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
pub enum Proximity {
    /// The same commune (a city's arrondissements count as the city).
    SameCommune,
    SameDepartement,
    SameRegion,
    /// Farther, or the person's commune is not known.
    Farther,
}

impl Proximity {
    fn of(level: i32) -> Self {
        match level {
            0 => Self::SameCommune,
            1 => Self::SameDepartement,
            2 => Self::SameRegion,
            _ => Self::Farther,
        }
    }
}

/// Where a person lives, as the matching compares it to employers.
#[derive(Debug, Clone, Default)]
pub struct Place {
    pub municipality: Option<String>,
    pub departement: Option<String>,
    pub region: Option<String>,
}

/// The codes that fit `codes`: the same codes, and every job of their
/// domains, looked up with `&&` on the views' arrays of codes.
fn fitting(codes: &[String]) -> Vec<String> {
    passerelle_domain::values::RomeCode::same_domain(codes)
}

/// What the person's own data says of where they live and what they aim
/// for: their project's ROME codes and their commune's place.
pub async fn person_profile(
    db: impl PgExecutor<'_>,
    person: Uuid,
) -> Result<Option<(Vec<String>, Place)>, sqlx::Error> {
    let row: Option<(Vec<String>, Option<String>)> = sqlx::query_as(
        "select target_rome_codes, commune from people.people where person_id = $1 and not erased",
    )
    .bind(person)
    .fetch_optional(db)
    .await?;
    Ok(row.map(|(codes, commune)| {
        let code = commune.and_then(|c| CommuneCode::parse(&c).ok());
        let place = code
            .as_ref()
            .map(|code| Place {
                municipality: Some(code.municipality().to_owned()),
                departement: code.commune().map(|c| c.departement.to_owned()),
                region: code.commune().map(|c| c.region.to_owned()),
            })
            .unwrap_or_default();
        (codes, place)
    }))
}

/// The SQL of an employer's proximity level (0 to 3) to the place bound at
/// `$p`, `$p+1`, `$p+2` (municipality, département, région).
fn proximity_sql(p: usize) -> String {
    format!(
        "case when e.municipality = ${p} then 0 when e.departement = ${} then 1
              when e.region = ${} then 2 else 3 end",
        p + 1,
        p + 2
    )
}

/// An open need that fits a person's project.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NeedMatchRow {
    pub need_id: Uuid,
    pub employer_id: Uuid,
    pub employer_name: String,
    pub commune: String,
    pub activities: String,
    pub rome_codes: Vec<String>,
    pub surfaced_on: Date,
    pub rome_level: i32,
    pub proximity_level: i32,
}

impl NeedMatchRow {
    pub fn rome_match(&self) -> RomeMatch {
        RomeMatch::of(self.rome_level)
    }
    pub fn proximity(&self) -> Proximity {
        Proximity::of(self.proximity_level)
    }
}

/// The key of a need match in its list: (proximity, ROME level, surfaced
/// on, need).
pub type NeedMatchKey = (i32, i32, Date, Uuid);

/// The territory's open needs whose ROME codes fit `codes`, nearest to
/// `place` first, then exact codes before same domain, then newest;
/// `limit` after the key given.
pub async fn needs_for(
    db: impl PgExecutor<'_>,
    codes: &[String],
    place: &Place,
    after: Option<NeedMatchKey>,
    limit: i64,
) -> Result<Vec<NeedMatchRow>, sqlx::Error> {
    if codes.is_empty() {
        return Ok(Vec::new());
    }
    let (p, r, day, id) = match after {
        Some((p, r, day, id)) => (Some(p), Some(r), Some(day), Some(id)),
        None => (None, None, None, None),
    };
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select * from (
             select n.need_id, n.employer_id, e.name as employer_name, e.commune, n.activities,
                    n.rome_codes, n.surfaced_on,
                    case when n.rome_codes && $1 then 0 else 1 end as rome_level,
                    {} as proximity_level
             from needs.needs n join employers.employers e on e.employer_id = n.employer_id
             where n.status = 'open'
               and n.rome_codes && $2
         ) m
         where $6::int is null
            or (proximity_level, rome_level) > ($6, $7)
            or ((proximity_level, rome_level) = ($6, $7) and (surfaced_on, need_id) < ($8, $9))
         order by proximity_level, rome_level, surfaced_on desc, need_id desc
         limit $10",
        proximity_sql(3)
    )))
    .bind(codes)
    .bind(fitting(codes))
    .bind(place.municipality.as_deref())
    .bind(place.departement.as_deref())
    .bind(place.region.as_deref())
    .bind(p)
    .bind(r)
    .bind(day)
    .bind(id)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// An employer whose open needs or past hosting fit a person's project.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EmployerMatchRow {
    pub employer_id: Uuid,
    pub name: String,
    pub commune: String,
    /// Whether an open need of theirs fits.
    pub by_open_need: bool,
    /// Whether they hosted an immersion that fits.
    pub by_hosting: bool,
    pub rome_level: i32,
    pub proximity_level: i32,
}

impl EmployerMatchRow {
    pub fn rome_match(&self) -> RomeMatch {
        RomeMatch::of(self.rome_level)
    }
    pub fn proximity(&self) -> Proximity {
        Proximity::of(self.proximity_level)
    }
}

/// The key of an employer match in its list: (proximity, ROME level,
/// name, employer).
pub type EmployerMatchKey = (i32, i32, String, Uuid);

/// The employers whose open needs, or the needs of the immersions they
/// hosted (started, interrupted or completed) for `structure`, fit `codes`:
/// nearest to `place` first, then exact codes before same domain, then by
/// name. Another structure's immersions are not counted: which employers
/// host whom is each structure's own.
pub async fn employers_for(
    db: impl PgExecutor<'_>,
    codes: &[String],
    place: &Place,
    structure: Uuid,
    after: Option<EmployerMatchKey>,
    limit: i64,
) -> Result<Vec<EmployerMatchRow>, sqlx::Error> {
    if codes.is_empty() {
        return Ok(Vec::new());
    }
    let (p, r, name, id) = match after {
        Some((p, r, name, id)) => (Some(p), Some(r), Some(name), Some(id)),
        None => (None, None, None, None),
    };
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        // From the needs that fit, found by the index on their codes, to
        // their employers: never every employer with a lookup each. The
        // immersions are reached by need, which they are indexed by.
        "with open as (
             select n.employer_id,
                    min(case when n.rome_codes && $1 then 0 else 1 end) as level
             from needs.needs n
             where n.status = 'open' and n.rome_codes && $2
             group by n.employer_id
         ), hosted as (
             -- Each fitting need's immersions looked up by the need (a
             -- lateral kept apart by `offset 0`): joined, the planner may
             -- scan every immersion or every need instead, for a few
             -- hundred lookups' worth of rows.
             select i.employer_id,
                    min(case when n.rome_codes && $1 then 0 else 1 end) as level
             from needs.needs n
             cross join lateral (
                 select i.employer_id from immersions.immersions i
                 where i.need_id = n.need_id and i.employer_id = n.employer_id
                   and i.structure = $11
                   and i.stage in ('started', 'interrupted', 'completed')
                 offset 0) i
             where n.rome_codes && $2
             group by i.employer_id
         )
         select employer_id, name, commune, by_open_need, by_hosting, rome_level,
                proximity_level from (
             select e.employer_id, e.name, e.commune,
                    o.level is not null as by_open_need,
                    h.level is not null as by_hosting,
                    least(o.level, h.level) as rome_level,
                    {} as proximity_level
             from (select employer_id from open union select employer_id from hosted) k
             join employers.employers e on e.employer_id = k.employer_id
             left join open o on o.employer_id = k.employer_id
             left join hosted h on h.employer_id = k.employer_id
         ) m
         where $6::int is null
            or (proximity_level, rome_level) > ($6, $7)
            or ((proximity_level, rome_level) = ($6, $7) and (name, employer_id) > ($8, $9))
         order by proximity_level, rome_level, name, employer_id
         limit $10",
        proximity_sql(3)
    )))
    .bind(codes)
    .bind(fitting(codes))
    .bind(place.municipality.as_deref())
    .bind(place.departement.as_deref())
    .bind(place.region.as_deref())
    .bind(p)
    .bind(r)
    .bind(name)
    .bind(id)
    .bind(limit)
    .bind(structure)
    .fetch_all(db)
    .await
}

/// A person followed whose project fits a need.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PersonMatchRow {
    pub person_id: Uuid,
    pub first_name: String,
    pub last_name: String,
    pub target_rome_codes: Vec<String>,
    pub rome_level: i32,
}

impl PersonMatchRow {
    pub fn rome_match(&self) -> RomeMatch {
        RomeMatch::of(self.rome_level)
    }
}

/// The key of a person match in its list: (ROME level, person). Their
/// names, which order the list, are read from the view by the query, so a
/// cursor names no one.
pub type PersonMatchKey = (i32, Uuid);

/// The people `structure` follows (enrolled, not exited, not erased) whose
/// current project fits `codes`: exact codes first, then same domain, then
/// by name. Only that structure's people, whoever else follows someone.
pub async fn people_for(
    db: impl PgExecutor<'_>,
    structure: Uuid,
    codes: &[String],
    after: Option<PersonMatchKey>,
    limit: i64,
) -> Result<Vec<PersonMatchRow>, sqlx::Error> {
    if codes.is_empty() {
        return Ok(Vec::new());
    }
    let (r, id) = match after {
        Some((r, id)) => (Some(r), Some(id)),
        None => (None, None),
    };
    sqlx::query_as(
        "select * from (
             select p.person_id, p.first_name, p.last_name, p.target_rome_codes,
                    case when p.target_rome_codes && $2 then 0 else 1 end as rome_level
             from people.people p
             where p.structure = $1 and not p.erased and p.exited_on is null
               and p.first_name is not null and p.last_name is not null
               and p.target_rome_codes && $3
         ) m
         where $4::int is null or rome_level > $4
            or (rome_level = $4 and (last_name, first_name, person_id) > (
                (select q.last_name from people.people q where q.person_id = $5 and q.structure = $1),
                (select q.first_name from people.people q where q.person_id = $5 and q.structure = $1),
                $5))
         order by rome_level, last_name, first_name, person_id
         limit $6",
    )
    .bind(structure)
    .bind(codes)
    .bind(fitting(codes))
    .bind(r)
    .bind(id)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// A former participant whose path went through the same jobs: first name
/// only.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PeerRow {
    pub person_id: Uuid,
    pub first_name: String,
    pub consents: Vec<String>,
    pub rome_level: i32,
}

impl PeerRow {
    pub fn rome_match(&self) -> RomeMatch {
        RomeMatch::of(self.rome_level)
    }

    /// Whether their consent to share their testimony holds now.
    pub fn shares_testimonies(&self) -> bool {
        self.consents.contains(&tag(&ConsentPurpose::Testimony))
    }
}

/// The key of a peer in its list: (ROME level, person); their first name,
/// which orders the list, is read by the query.
pub type PeerKey = (i32, Uuid);

/// The former participants of `structure` (exited, or with an immersion
/// completed), other than `person`, who consent now to share their
/// testimony or to meet peers, and whose path (a version of their project,
/// or the need of an immersion that started) went through a code that
/// fits `codes`: exact codes first, then same domain, then by first name.
pub async fn peers(
    db: impl PgExecutor<'_>,
    structure: Uuid,
    person: Uuid,
    codes: &[String],
    after: Option<PeerKey>,
    limit: i64,
) -> Result<Vec<PeerRow>, sqlx::Error> {
    if codes.is_empty() {
        return Ok(Vec::new());
    }
    let consents = vec![
        tag(&ConsentPurpose::Testimony),
        tag(&ConsentPurpose::PeerContact),
    ];
    let (r, id) = match after {
        Some((r, id)) => (Some(r), Some(id)),
        None => (None, None),
    };
    sqlx::query_as(
        "select * from (
             select p.person_id, p.first_name, p.consents,
                    (select min(case when x.codes && $3 then 0 else 1 end)
                     from (select v.target_rome_codes as codes from people.project_versions v
                           where v.person_id = p.person_id
                           union all
                           select n.rome_codes from immersions.immersions i
                           join needs.needs n on n.need_id = i.need_id
                           where i.person_id = p.person_id
                             and i.stage in ('started', 'interrupted', 'completed')) x
                     where x.codes && $4) as rome_level
             from people.people p
             where p.structure = $1 and p.person_id <> $2 and not p.erased
               and p.first_name is not null
               and p.consents && $5
               and (p.exited_on is not null
                    or exists (select 1 from immersions.immersions i
                               where i.person_id = p.person_id and i.stage = 'completed'))
         ) m
         where rome_level is not null
           and ($6::int is null or rome_level > $6
                or (rome_level = $6 and (first_name, person_id) > (
                    (select q.first_name from people.people q
                     where q.person_id = $7 and q.structure = $1),
                    $7)))
         order by rome_level, first_name, person_id
         limit $8",
    )
    .bind(structure)
    .bind(person)
    .bind(codes)
    .bind(fitting(codes))
    .bind(consents)
    .bind(r)
    .bind(id)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// The testimonies people recorded, by stream (`testimony-<id>`), oldest
/// first: their current state is read from each stream.
pub async fn testimony_streams(
    db: impl PgExecutor<'_>,
    people: &[Uuid],
) -> Result<Vec<(Uuid, String)>, sqlx::Error> {
    sqlx::query_as(
        "select person_id, stream_id from people.timeline
         where person_id = any($1) and event_type = 'testimony_recorded'
         order by transaction_id, global_position",
    )
    .bind(people)
    .fetch_all(db)
    .await
}

/// The people of `structure`, other than `person`, who had a mentor and
/// whose project went through a code that fits `codes`: exact codes first,
/// at most `limit` of them. Their mentors are read from their own streams,
/// where the names are sealed with their key.
pub async fn mentored(
    db: impl PgExecutor<'_>,
    structure: Uuid,
    person: Uuid,
    codes: &[String],
    limit: i64,
) -> Result<Vec<(Uuid, i32)>, sqlx::Error> {
    if codes.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query_as(
        "select person_id, rome_level from (
             select p.person_id,
                    (select min(case when v.target_rome_codes && $3 then 0 else 1 end)
                     from people.project_versions v
                     where v.person_id = p.person_id
                       and v.target_rome_codes && $4) as rome_level
             from people.people p
             -- One lookup by person in the timeline's key: a semi-join
             -- would read the whole timeline for a structure's few people.
             cross join lateral (select 1 from people.timeline t
                                 where t.person_id = p.person_id
                                   and t.event_type = 'mentorship_started'
                                 limit 1) mentored
             where p.structure = $1 and p.person_id <> $2 and not p.erased
         ) m
         where rome_level is not null
         order by rome_level, person_id
         limit $5",
    )
    .bind(structure)
    .bind(person)
    .bind(codes)
    .bind(fitting(codes))
    .bind(limit)
    .fetch_all(db)
    .await
}
