//! People accompanied, their projects and the timeline of their path: only
//! their own structure reaches them.

use async_graphql::{Context, ErrorExtensions as _, ID, InputObject, Object, Result, SimpleObject};
use passerelle_app::{Views, policy};
use passerelle_domain::Personal;
use passerelle_domain::person::{
    CauseKind, ConsentProof, ConsentPurpose, ExitReason, ExitReasonKind, Identity, LegalBasis,
    Person as PersonAggregate, PersonCommand, PersonState, Project, ReadjustmentCause,
};
use passerelle_domain::values::{
    AgeBand, CommuneCode, ContractType, Email, ImmersionId, InquiryId, MeetingId, MentorshipId,
    PersonId, PhoneNumber, RomeCode, search_key,
};
use passerelle_projections::views::people::{
    self, PeopleFilter, PersonRow, PersonStage, ProjectVersion, TimelineEntry,
};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::context::{actor, gateway, meta, new_id, staff, user_of};
use crate::error::{self, on_field};
use crate::input::{
    MOST_PER_PAGE, after as after_key, cursor, label, optional_text, page_size, parse_id,
    rome_codes, text,
};
use crate::kinds::stored;
use crate::person_record::{
    ConsentRecord, DisabilityRecognition, History, IdentityCorrection, JobInquiry, Mentorship,
    PeerMeeting, PersonExit, PersonIdentity, ReferentChange, Situation,
};
use crate::primitives::{PageInfo, page, payloads};

/// A person accompanied, and what is recorded about them once read.
#[derive(Debug)]
pub struct Person(pub PersonRow, History);

/// What the viewer may do with a person's consents.
#[derive(SimpleObject, Debug)]
pub struct PersonViewerMay {
    /// Give a consent (the person, online) or record one she gave (staff,
    /// on a signed form or orally).
    pub give_consent: bool,
    /// Withdraw a consent she gave, or record its withdrawal.
    pub withdraw_consent: bool,
}

impl From<PersonRow> for Person {
    fn from(row: PersonRow) -> Self {
        Self(row, History::default())
    }
}

impl Person {
    /// Whether the viewer reads the person's health data, and so sees on
    /// her timeline that it was recorded.
    fn reads_health(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(policy::reads_person_record(
            &actor(ctx)?,
            policy::PersonRecord::Health,
            self.0.referent,
        ))
    }
}

#[Object]
impl Person {
    async fn id(&self) -> ID {
        ID(self.0.person_id.to_string())
    }
    /// Null once their personal data was erased.
    async fn first_name(&self) -> Option<&str> {
        self.0.first_name.as_deref()
    }
    async fn last_name(&self) -> Option<&str> {
        self.0.last_name.as_deref()
    }
    async fn referent_id(&self) -> ID {
        ID(self.0.referent.to_string())
    }
    /// `under_26`, `26_to_49` or `50_and_over`, at enrolment.
    #[graphql(deprecation = "Use `ageBandAtEnrolment`, the same value as an enum.")]
    async fn age_band(&self) -> &str {
        &self.0.age_band
    }
    /// Their age band at enrolment.
    async fn age_band_at_enrolment(&self) -> Result<AgeBand> {
        stored(self.0.age_band())
    }
    async fn enrolled_on(&self) -> Date {
        self.0.enrolled_on
    }
    async fn exited_on(&self) -> Option<Date> {
        self.0.exited_on
    }
    async fn target_rome_codes(&self) -> &[String] {
        &self.0.target_rome_codes
    }
    /// The consents standing now.
    #[graphql(deprecation = "Use `consentsGiven`, the same values as enums.")]
    async fn consents(&self) -> &[String] {
        &self.0.consents
    }
    /// What the person consents to now.
    async fn consents_given(&self) -> Result<Vec<ConsentPurpose>> {
        stored(self.0.consents())
    }
    /// Each version of the project, with what caused it.
    async fn project_versions(&self, ctx: &Context<'_>) -> Result<Vec<ProjectVersionObject>> {
        let versions = people::project_versions(&gateway(ctx).pool, PersonId(self.0.person_id))
            .await
            .map_err(error::db)?;
        // Their constraints are sealed in the stream, not in the view: read
        // only when asked, of a project that has versions.
        let asked = ctx.look_ahead().field("constraints").exists();
        let mut constraints = if versions.is_empty() || !asked {
            std::collections::HashMap::new()
        } else {
            self.1.project_constraints(ctx, &self.0).await?
        };
        Ok(versions
            .into_iter()
            .map(|v| {
                let words = constraints.remove(&i64::from(v.version));
                ProjectVersionObject(v, words)
            })
            .collect())
    }
    /// Who they are and how to reach them (name, birth date, email, phone,
    /// address), as enrolled with the corrections since; null once their
    /// data was erased.
    async fn identity(&self, ctx: &Context<'_>) -> Result<Option<PersonIdentity>> {
        self.1.identity(ctx, &self.0).await
    }
    /// Their situation in their own words, as last stated; null when never
    /// stated.
    async fn situation(&self, ctx: &Context<'_>) -> Result<Option<Situation>> {
        self.1.situation(ctx, &self.0).await
    }
    /// Each job inquiry they held, oldest first.
    async fn job_inquiries(&self, ctx: &Context<'_>) -> Result<Vec<JobInquiry>> {
        self.1.job_inquiries(ctx, &self.0).await
    }
    /// Each meeting with a peer, oldest first.
    async fn peer_meetings(&self, ctx: &Context<'_>) -> Result<Vec<PeerMeeting>> {
        self.1.peer_meetings(ctx, &self.0).await
    }
    /// Each mentorship, oldest first, with its end once ended.
    async fn mentorships(&self, ctx: &Context<'_>) -> Result<Vec<Mentorship>> {
        self.1.mentorships(ctx, &self.0).await
    }
    /// Every consent given or withdrawn, oldest first: the history behind
    /// `consentsGiven`.
    async fn consent_records(&self, ctx: &Context<'_>) -> Result<Vec<ConsentRecord>> {
        self.1.consent_records(ctx, &self.0).await
    }
    /// What the viewer may do with their consents, as the policy allows it
    /// (`policy::consent_acts`), so that pages offer only that: give one
    /// while their accompaniment runs, withdraw one at any time. Whether a
    /// purpose is given now is told by `consentsGiven`.
    async fn viewer_may(&self, ctx: &Context<'_>) -> Result<PersonViewerMay> {
        let acts =
            policy::consent_acts(&gateway(ctx).pool, &actor(ctx)?, PersonId(self.0.person_id))
                .await
                .map_err(error::app)?;
        Ok(PersonViewerMay {
            give_consent: acts.give,
            withdraw_consent: acts.withdraw,
        })
    }
    /// Each correction of their identity or contact, oldest first, with
    /// who made it and why; for whoever reads who they are (their
    /// structure's staff, the person themself).
    async fn identity_corrections(&self, ctx: &Context<'_>) -> Result<Vec<IdentityCorrection>> {
        self.1.identity_corrections(ctx, &self.0).await
    }
    /// Each hand-over of their follow-up to another referent, oldest
    /// first; for staff.
    async fn referent_changes(&self, ctx: &Context<'_>) -> Result<Vec<ReferentChange>> {
        self.1.referent_changes(ctx, &self.0).await
    }
    /// How their accompaniment ended; null while it goes on, and for
    /// anyone but staff.
    async fn exit(&self, ctx: &Context<'_>) -> Result<Option<PersonExit>> {
        self.1.exit(ctx, &self.0).await
    }
    /// Their disability recognition (RQTH) as last recorded: health data,
    /// null for anyone but their referent and the structure's managers.
    /// Every read that returns it is recorded (`healthDataReads`).
    async fn disability_recognition(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Option<DisabilityRecognition>> {
        let read = self.1.disability_recognition(ctx, &self.0).await?;
        if read.is_some() {
            crate::health_log::record(
                ctx,
                &actor(ctx)?,
                PersonId(self.0.person_id),
                passerelle_accounts::health_log::ReadThrough::PersonFile,
            )
            .await?;
        }
        Ok(read)
    }
    /// Whether the viewer may keep this person's data longer
    /// (`personRetentionExtend`): her referent's, a manager's or an admin's
    /// of her structure, so pages offer it to them only.
    async fn may_extend_retention(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(!self.0.erased
            && policy::extends_retention(
                &actor(ctx)?,
                passerelle_domain::values::UserId(self.0.referent),
            ))
    }
    /// Whether the viewer may record her disability recognition
    /// (`disabilityRecognitionRecord`): health data, her referent's, a
    /// manager's or an admin's of her structure to record, so pages offer
    /// it to them only. Her consent to it is the domain's to check.
    async fn may_record_disability_recognition(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(!self.0.erased && policy::records_health_data(&actor(ctx)?, self.0.referent))
    }
    /// The extensions of her data's retention, the newest first. Staff
    /// only (a reason may name her): empty for anyone else.
    async fn retention_extensions(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Vec<crate::retention::RetentionExtension>> {
        if staff(ctx).is_err() {
            return Ok(Vec::new());
        }
        crate::retention::extensions_of(&gateway(ctx).pool, self.0.person_id).await
    }
    /// Whether the viewer may erase this person's data (`personErase`):
    /// a manager's or an admin's of their structure, so pages offer it to
    /// them only.
    async fn may_erase(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(!self.0.erased && policy::erases_people(&actor(ctx)?))
    }
    /// Every event of their path, in order, with who did it; the record of
    /// a disability recognition only for those who read health data. The
    /// first 100 only; `timelineEvents` gives them all, a page at a time.
    #[graphql(deprecation = "Use `timelineEvents`, the same events a page at a time.")]
    async fn timeline(&self, ctx: &Context<'_>) -> Result<Vec<TimelineItem>> {
        let health = self.reads_health(ctx)?;
        let id = PersonId(self.0.person_id);
        Ok(
            people::timeline_page(&gateway(ctx).pool, id, None, MOST_PER_PAGE, health)
                .await
                .map_err(error::db)?
                .into_iter()
                .map(|p| TimelineItem(p.entry))
                .collect(),
        )
    }
    /// Every event of their path, in the order it was recorded, with who
    /// did it; the record of a disability recognition (health data) only
    /// for their referent and the structure's managers. The cursor is the
    /// event's place in the log, never who it is about.
    async fn timeline_events(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<TimelineItemConnection> {
        let limit = page_size(first)?;
        let after = after_key(after, 2, |key| {
            Some((key[0].parse().ok()?, key[1].parse().ok()?))
        })?;
        let rows = people::timeline_page(
            &gateway(ctx).pool,
            PersonId(self.0.person_id),
            after,
            limit + 1,
            self.reads_health(ctx)?,
        )
        .await
        .map_err(error::db)?;
        let (edges, page_info) = page(
            rows,
            limit,
            |r| {
                cursor(&[
                    &r.transaction_id.to_string(),
                    &r.global_position.to_string(),
                ])
            },
            |cursor, r| TimelineItemEdge {
                cursor,
                node: TimelineItem(r.entry),
            },
        );
        Ok(TimelineItemConnection { edges, page_info })
    }
    /// The territory's open needs that fit their project: nearest first,
    /// then exact codes, then newest. Empty to anyone but their structure's
    /// staff.
    async fn matching_needs(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<crate::matching::NeedMatchConnection> {
        crate::matching::needs_of(ctx, &self.0, first, after).await
    }
    /// The employers whose open needs or past hosting fit their project,
    /// nearest first. Empty to anyone but their structure's staff.
    async fn matching_employers(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<crate::matching::EmployerMatchConnection> {
        crate::matching::employers_of(ctx, &self.0, first, after).await
    }
    /// Their testimonies, oldest first, withdrawn ones included: for
    /// them and their structure's staff, empty to anyone else.
    async fn testimonies(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Vec<crate::person_record::PersonTestimony>> {
        crate::person_record::testimonies_of(ctx, &self.0).await
    }
    /// Former participants of their structure who walked the same path and
    /// consent to share it, first names only, with their testimonies. Empty
    /// to anyone but their structure's staff.
    async fn peers(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<crate::matching::PeerConnection> {
        crate::matching::peers_of(ctx, &self.0, first, after).await
    }
    /// Mentors, by the name recorded, who already mentored people of their
    /// structure whose project fits theirs. Empty to anyone but their
    /// structure's staff.
    async fn possible_mentors(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<crate::matching::PossibleMentorConnection> {
        crate::matching::mentors_of(ctx, &self.0, first, after).await
    }
}

/// A version of a project, and its constraints in the person's words.
#[derive(Debug)]
pub struct ProjectVersionObject(ProjectVersion, Option<String>);

#[Object(name = "ProjectVersion")]
impl ProjectVersionObject {
    async fn version(&self) -> i32 {
        self.0.version
    }
    async fn target_rome_codes(&self) -> &[String] {
        &self.0.target_rome_codes
    }
    /// The contracts wished for.
    async fn contract_wishes(&self) -> Result<Vec<ContractType>> {
        stored(self.0.contract_wishes())
    }
    /// How far they can travel to work, in kilometres (0: not said).
    async fn mobility_radius_km(&self) -> i32 {
        self.0.mobility_radius_km
    }
    /// Hours, childcare, transport… in their words; null when not said,
    /// once erased, or for a viewer who may not read their path.
    async fn constraints(&self) -> Option<&str> {
        self.1.as_deref()
    }
    /// What caused it: `immersion_feedback`, `job_inquiry`, `peer_meeting`
    /// or `mentorship`; null for the first statement.
    #[graphql(deprecation = "Use `cause`, the same value as an enum.")]
    async fn cause_kind(&self) -> Option<&str> {
        self.0.cause_kind.as_deref()
    }
    /// What caused it; null for the first statement.
    async fn cause(&self) -> Result<Option<CauseKind>> {
        stored(self.0.cause_kind())
    }
    async fn cause_id(&self) -> Option<ID> {
        self.0.cause_id.map(|c| ID(c.to_string()))
    }
    async fn what_changed(&self) -> Option<&str> {
        self.0.what_changed.as_deref()
    }
    async fn changed_on(&self) -> Date {
        self.0.changed_on
    }
}

#[derive(Debug)]
pub struct TimelineItem(TimelineEntry);

#[Object]
impl TimelineItem {
    async fn event_type(&self) -> &str {
        &self.0.event_type
    }
    async fn stream(&self) -> &str {
        &self.0.stream_id
    }
    /// Who did it (`user:<id>`, `employer:<id>`, `person:<id>`…).
    async fn actor(&self) -> &str {
        &self.0.actor
    }
    async fn role(&self) -> &str {
        &self.0.role
    }
    async fn recorded_at(&self) -> OffsetDateTime {
        self.0.recorded_at
    }
}

#[derive(SimpleObject, Debug)]
pub struct TimelineItemEdge {
    pub cursor: String,
    pub node: TimelineItem,
}

#[derive(SimpleObject, Debug)]
pub struct TimelineItemConnection {
    pub edges: Vec<TimelineItemEdge>,
    pub page_info: PageInfo,
}

#[derive(SimpleObject, Debug)]
pub struct PersonEdge {
    pub cursor: String,
    pub node: Person,
}

#[derive(SimpleObject, Debug)]
pub struct PersonConnection {
    pub edges: Vec<PersonEdge>,
    pub page_info: PageInfo,
}

/// The person, when the viewer reaches them; otherwise as if absent.
async fn reachable(ctx: &Context<'_>, id: PersonId) -> Result<Option<Person>> {
    reachable_by(ctx, &staff(ctx)?, id).await
}

/// The person, when `actor` reaches them.
async fn reachable_by(
    ctx: &Context<'_>,
    actor: &passerelle_app::Actor,
    id: PersonId,
) -> Result<Option<Person>> {
    let pool = &gateway(ctx).pool;
    if !policy::reaches_person(pool, actor, id)
        .await
        .map_err(error::app)?
    {
        return Ok(None);
    }
    Ok(people::get(pool, id)
        .await
        .map_err(error::db)?
        .map(Person::from))
}

#[derive(Default, Debug)]
pub struct PeopleQuery;

#[Object]
impl PeopleQuery {
    /// A person of the viewer's structure; for a person by magic link,
    /// themself.
    async fn person(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Person>> {
        let id = PersonId(parse_id(&id, "Personne")?);
        let viewer = actor(ctx)?;
        let pool = &gateway(ctx).pool;
        if !policy::reaches_person(pool, &viewer, id)
            .await
            .map_err(error::app)?
        {
            return Ok(None);
        }
        Ok(people::get(pool, id)
            .await
            .map_err(error::db)?
            .map(Person::from))
    }

    /// The people of the viewer's structure, by name, narrowed by
    /// `filter`.
    async fn people(
        &self,
        ctx: &Context<'_>,
        filter: Option<PeopleFilterInput>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<PersonConnection> {
        let actor = staff(ctx)?;
        let filter = filter.map(|f| f.parse()).transpose()?.unwrap_or_default();
        let limit = page_size(first)?;
        // The cursor is the last person's id, not their name: a page's URL
        // names no one.
        let after = after_key(after, 1, |key| key[0].parse::<Uuid>().ok())?;
        // A list may lag: from the standby when it serves (`reads`).
        let (structure, filter) = (actor.structure, &filter);
        let (rows, lost) = crate::reads::lagging(ctx, |pool| async move {
            let rows = people::page(&pool, structure, filter, after, limit + 1).await?;
            // Nothing after a cursor whose person was erased since: a
            // cursor no longer valid, which a page says before starting
            // the list again, rather than an end of the list.
            let lost = match after {
                Some(person) if rows.is_empty() => {
                    !people::listed(&pool, structure, person).await?
                }
                _ => false,
            };
            Ok::<_, sqlx::Error>((rows, lost))
        })
        .await
        .map_err(error::db)?;
        if lost {
            return Err(crate::input::bad_cursor());
        }
        let (edges, page_info) = page(
            rows,
            limit,
            |r| cursor(&[&r.person_id.to_string()]),
            |cursor, r| PersonEdge {
                cursor,
                node: Person::from(r),
            },
        );
        Ok(PersonConnection { edges, page_info })
    }
}

/// Which people a list shows: every part given must hold.
#[derive(InputObject, Debug)]
pub struct PeopleFilterInput {
    /// Part of the first or last name, or several words each found in
    /// either: any case, with or without accents ("helene" finds
    /// "Hélène").
    pub name: Option<String>,
    /// The people this staff member follows.
    pub referent_id: Option<ID>,
    /// A ROME code of their current project.
    pub rome_code: Option<String>,
    pub stage: Option<PersonStage>,
}

/// A name searched for holds this many words at most: enough for any name.
const MAX_NAME_WORDS: usize = 5;

impl PeopleFilterInput {
    fn parse(&self) -> Result<PeopleFilter> {
        let name_words: Vec<String> = match self.name.as_deref().map(str::trim) {
            None | Some("") => Vec::new(),
            Some(name) => search_key(label("filter.name", name)?.as_str())
                .split(' ')
                .map(str::to_owned)
                .collect(),
        };
        if name_words.len() > MAX_NAME_WORDS {
            return Err(error::error(
                error::Code::BadUserInput,
                format!("Un nom cherché tient en {MAX_NAME_WORDS} mots au plus."),
            )
            .extend_with(|_, e| e.set("field", "filter.name")));
        }
        let referent = self
            .referent_id
            .as_ref()
            .map(|id| {
                id.parse::<Uuid>().map_err(|_| {
                    error::error(
                        error::Code::BadUserInput,
                        "Cet identifiant de référent n'est pas valide.",
                    )
                    .extend_with(|_, e| e.set("field", "filter.referentId"))
                })
            })
            .transpose()?;
        let rome_code = self
            .rome_code
            .as_deref()
            .map(|c| RomeCode::parse(c).map_err(|e| on_field("filter.romeCode", e)))
            .transpose()?
            .map(|c| c.as_str().to_owned());
        Ok(PeopleFilter {
            name_words,
            referent,
            rome_code,
            stage: self.stage,
        })
    }
}

#[derive(InputObject, Debug)]
pub struct PersonEnrollInput {
    pub command_id: Option<Uuid>,
    pub first_name: String,
    pub last_name: String,
    pub birth_date: Date,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    /// INSEE code of the commune they live in.
    pub commune: Option<String>,
    /// Today when left out.
    pub enrolled_on: Option<Date>,
    /// Enrols even though a person of the same name and birth date is
    /// followed by the viewer's structure (else `CONFIRMATION_REQUIRED`);
    /// false when left out.
    pub confirm_duplicate: Option<bool>,
}

#[derive(InputObject, Debug)]
pub struct ProjectInput {
    pub target_rome_codes: Vec<String>,
    #[graphql(default)]
    pub contract_wishes: Vec<ContractType>,
    /// How far they can travel to work, in kilometres: 0 (not said) to
    /// 1000.
    #[graphql(default)]
    pub mobility_radius_km: i32,
    /// Hours, childcare, transport… in their words (health data has its
    /// own record, `disabilityRecognitionRecord`, read by fewer).
    pub constraints: Option<String>,
}

/// The farthest a person may say they can travel to work, in kilometres.
const MOST_KM: u16 = 1000;

impl ProjectInput {
    fn parse(&self) -> Result<Project> {
        Ok(Project {
            target_rome_codes: rome_codes("project.targetRomeCodes", &self.target_rome_codes)?,
            contract_wishes: self.contract_wishes.clone(),
            mobility_radius_km: u16::try_from(self.mobility_radius_km)
                .ok()
                .filter(|km| *km <= MOST_KM)
                .ok_or_else(|| {
                    error::error(
                        error::Code::BadUserInput,
                        format!("La mobilité se dit en kilomètres, de 0 à {MOST_KM}."),
                    )
                    .extend_with(|_, e| e.set("field", "project.mobilityRadiusKm"))
                })?,
            constraints: optional_text("project.constraints", self.constraints.as_deref())?
                .map(Personal::Known),
        })
    }
}

#[derive(InputObject, Debug)]
pub struct SituationStateInput {
    pub command_id: Option<Uuid>,
    pub person_id: ID,
    /// In the person's own words.
    pub words: String,
    pub stated_on: Option<Date>,
}

#[derive(InputObject, Debug)]
pub struct ProjectStateInput {
    pub command_id: Option<Uuid>,
    pub person_id: ID,
    pub project: ProjectInput,
    pub stated_on: Option<Date>,
}

#[derive(InputObject, Debug)]
pub struct CauseInput {
    pub kind: CauseKind,
    /// The immersion, job inquiry, peer meeting or mentorship.
    pub id: ID,
}

#[derive(InputObject, Debug)]
pub struct ProjectReadjustInput {
    pub command_id: Option<Uuid>,
    pub person_id: ID,
    pub project: ProjectInput,
    pub cause: CauseInput,
    pub what_changed: String,
    pub readjusted_on: Option<Date>,
}

#[derive(InputObject, Debug)]
pub struct JobInquiryLogInput {
    pub command_id: Option<Uuid>,
    pub person_id: ID,
    pub rome_code: String,
    pub with_whom: String,
    pub learned: Option<String>,
    pub held_on: Option<Date>,
}

#[derive(InputObject, Debug)]
pub struct PeerMeetingLogInput {
    pub command_id: Option<Uuid>,
    pub person_id: ID,
    pub testimony_id: Option<ID>,
    /// Who the peer is, without naming them.
    pub peer: String,
    pub rome_codes: Vec<String>,
    pub takeaways: Option<String>,
    pub held_on: Option<Date>,
}

#[derive(InputObject, Debug)]
pub struct ConsentGiveInput {
    pub command_id: Option<Uuid>,
    pub person_id: ID,
    pub purpose: ConsentPurpose,
    /// The version of the text agreed to.
    pub text_version: String,
    /// True when the person signed a form; otherwise the mediator records an
    /// oral consent.
    #[graphql(default)]
    pub signed_form: bool,
    pub given_on: Option<Date>,
}

#[derive(InputObject, Debug)]
pub struct ConsentWithdrawInput {
    pub command_id: Option<Uuid>,
    pub person_id: ID,
    pub purpose: ConsentPurpose,
    pub withdrawn_on: Option<Date>,
}

#[derive(SimpleObject, Debug)]
pub struct JobInquiryLogPayload {
    pub person: Person,
    /// The inquiry, for a readjustment to name as its cause.
    pub inquiry_id: ID,
}

#[derive(SimpleObject, Debug)]
pub struct PeerMeetingLogPayload {
    pub person: Person,
    /// The meeting, for a readjustment to name as its cause.
    pub meeting_id: ID,
}

#[derive(InputObject, Debug)]
pub struct PersonReferentChangeInput {
    pub command_id: Option<Uuid>,
    pub person_id: ID,
    /// A staff member of the person's structure.
    pub referent_id: ID,
}

#[derive(InputObject, Debug)]
pub struct PersonExitInput {
    pub command_id: Option<Uuid>,
    pub person_id: ID,
    pub reason: ExitReasonKind,
    /// Required with `EMPLOYMENT`.
    pub contract: Option<ContractType>,
    /// Required with `OTHER`.
    pub explanation: Option<String>,
    pub exited_on: Option<Date>,
}

#[derive(InputObject, Debug)]
pub struct DisabilityRecognitionRecordInput {
    pub command_id: Option<Uuid>,
    pub person_id: ID,
    /// Whether the person holds a recognition (RQTH) now.
    pub recognised: bool,
    pub recorded_on: Option<Date>,
}

payloads!(person: Person =>
    PersonEnrollPayload,
    SituationStatePayload,
    ProjectStatePayload,
    ProjectReadjustPayload,
    ConsentGivePayload,
    ConsentWithdrawPayload,
    PersonReferentChangePayload,
    PersonExitPayload,
    DisabilityRecognitionRecordPayload,
);

/// The context of an enrolment: the views' ([`Views`]), and, unless the
/// viewer confirmed it is another person, the people `structure` follows
/// now whose folded first and last name and birth date are those enrolled:
/// the same person enrolled twice splits their path in two. Read on the
/// command's connection once its stream read checked the session, so a
/// session that no longer stands never learns who is followed. Only the
/// viewer's own structure is looked at, so nothing is told of who another
/// structure follows; the ids kept are of people the viewer reaches. The
/// birth dates are sealed in the candidates' enrolments, read only when a
/// name matches (rarely): the usual enrolment costs the name's lookup only.
struct Enrolment {
    handler: passerelle_app::Handler,
    confirmed: bool,
    /// The people found the same, when the command was stopped for them.
    same: std::sync::Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl passerelle_app::ContextSource<PersonAggregate> for Enrolment {
    async fn context(
        &self,
        conn: &mut sqlx::PgConnection,
        state: &<PersonAggregate as passerelle_domain::Decider>::State,
        command: &PersonCommand,
        now: OffsetDateTime,
        today: Date,
    ) -> std::result::Result<passerelle_domain::person::PersonContext, passerelle_app::AppError>
    {
        if !self.confirmed
            && let PersonCommand::Enroll {
                person_id,
                structure,
                identity,
                ..
            } = command
        {
            let name = search_key(&format!(
                "{} {}",
                identity.first_name.as_str(),
                identity.last_name.as_str()
            ));
            let mut same = Vec::new();
            for candidate in people::followed_with_name(&mut *conn, *structure, &name).await? {
                if candidate == *person_id {
                    continue;
                }
                // On the command's connection: no second one held by
                // a command waiting for it.
                let stream = <PersonAggregate as passerelle_app::Aggregate>::stream_id(candidate);
                let mut state = PersonState::default();
                for recorded in self.handler.store().read_stream(conn, &stream, 1).await? {
                    let event =
                        recorded
                            .decode()
                            .map_err(|source| passerelle_app::AppError::Decode {
                                event_type: recorded.event_type.clone(),
                                source,
                            })?;
                    state = <PersonAggregate as passerelle_domain::Decider>::evolve(state, &event);
                }
                if state
                    .identity
                    .is_some_and(|i| i.birth_date == identity.birth_date)
                {
                    same.push(candidate.to_string());
                }
            }
            if !same.is_empty() {
                *self.same.lock().unwrap_or_else(|e| e.into_inner()) = same;
                return Err(passerelle_app::AppError::Stopped);
            }
        }
        passerelle_app::ContextSource::<PersonAggregate>::context(
            &Views, conn, state, command, now, today,
        )
        .await
    }
}

impl Enrolment {
    /// `CONFIRMATION_REQUIRED` on `confirmDuplicate`, naming the people
    /// found the same, when the command was stopped for them.
    fn refusal(&self, identity: &Identity) -> Option<async_graphql::Error> {
        let same = std::mem::take(&mut *self.same.lock().unwrap_or_else(|e| e.into_inner()));
        if same.is_empty() {
            return None;
        }
        Some(error::confirmation_required(
            "confirmDuplicate",
            format!(
                "{} {}, né(e) le {}, est déjà suivi(e) par votre structure : ouvrez sa fiche plutôt que de l'inscrire une seconde fois, ou confirmez qu'il s'agit d'une autre personne.",
                identity.first_name.as_str(),
                identity.last_name.as_str(),
                passerelle_domain::fr::date(identity.birth_date),
            ),
            same,
        ))
    }
}

#[derive(Default, Debug)]
pub struct PeopleMutation;

impl PeopleMutation {
    /// Runs a command on a person the viewer reaches, and answers with them.
    async fn on_person(
        &self,
        ctx: &Context<'_>,
        person: &ID,
        command_id: Option<Uuid>,
        command: impl FnOnce(Date) -> Result<PersonCommand>,
    ) -> Result<Person> {
        on_person(ctx, person, command_id, |_, _| true, command).await
    }
}

/// Runs a command on a person the viewer reaches, when `allowed` lets the
/// viewer issue it on them (else `FORBIDDEN`: they know the person), and
/// answers with them.
pub(crate) async fn on_person(
    ctx: &Context<'_>,
    person: &ID,
    command_id: Option<Uuid>,
    allowed: impl FnOnce(&passerelle_app::Actor, &PersonRow) -> bool,
    command: impl FnOnce(Date) -> Result<PersonCommand>,
) -> Result<Person> {
    on_person_as(ctx, staff(ctx)?, person, command_id, allowed, command).await
}

/// [`on_person`] issued as `actor`, staff or the person by their own
/// session: what `allowed` lets them issue.
pub(crate) async fn on_person_as(
    ctx: &Context<'_>,
    actor: passerelle_app::Actor,
    person: &ID,
    command_id: Option<Uuid>,
    allowed: impl FnOnce(&passerelle_app::Actor, &PersonRow) -> bool,
    command: impl FnOnce(Date) -> Result<PersonCommand>,
) -> Result<Person> {
    let gw = gateway(ctx);
    let id = PersonId(parse_id(person, "Personne")?);
    let Some(found) = reachable_by(ctx, &actor, id).await? else {
        return Err(error::not_found("Personne"));
    };
    if !allowed(&actor, &found.0) {
        return Err(error::forbidden());
    }
    let command = command(gw.handler.clock().today())?;
    gw.handler
        .execute::<PersonAggregate>(id, &command, &meta(actor.clone(), command_id), &Views)
        .await
        .map_err(error::app)?;
    reachable_by(ctx, &actor, id)
        .await?
        .ok_or_else(|| error::not_found("Personne"))
}

#[Object]
impl PeopleMutation {
    /// Enrolls a person in the viewer's structure, the viewer as referent.
    async fn person_enroll(
        &self,
        ctx: &Context<'_>,
        input: PersonEnrollInput,
    ) -> Result<PersonEnrollPayload> {
        let actor = staff(ctx)?;
        let gw = gateway(ctx);
        let id = PersonId(new_id(input.command_id, "person"));
        let command = PersonCommand::Enroll {
            person_id: id,
            structure: actor.structure,
            referent: passerelle_domain::values::UserId(user_of(&actor)),
            identity: Identity {
                first_name: label("firstName", &input.first_name)?,
                last_name: label("lastName", &input.last_name)?,
                birth_date: input.birth_date,
                email: input
                    .email
                    .as_deref()
                    .filter(|e| !e.trim().is_empty())
                    .map(|e| Email::parse(e).map_err(|err| on_field("email", err)))
                    .transpose()?,
                phone: input
                    .phone
                    .as_deref()
                    .filter(|p| !p.trim().is_empty())
                    .map(|p| PhoneNumber::parse(p).map_err(|err| on_field("phone", err)))
                    .transpose()?,
                address: optional_text("address", input.address.as_deref())?,
            },
            commune: input
                .commune
                .as_deref()
                .filter(|c| !c.trim().is_empty())
                .map(|c| CommuneCode::parse(c).map_err(|err| on_field("commune", err)))
                .transpose()?,
            legal_basis: LegalBasis::PublicInterestMission,
            enrolled_on: input
                .enrolled_on
                .unwrap_or_else(|| gw.handler.clock().today()),
        };
        let enrolment = Enrolment {
            handler: gw.handler.clone(),
            confirmed: input.confirm_duplicate.unwrap_or(false),
            same: std::sync::Mutex::default(),
        };
        let outcome = gw
            .handler
            .execute::<PersonAggregate>(
                id,
                &command,
                &meta(actor.clone(), input.command_id),
                &enrolment,
            )
            .await;
        if let PersonCommand::Enroll { identity, .. } = &command
            && let Some(refusal) = enrolment.refusal(identity)
        {
            return Err(refusal);
        }
        // The input is flat where the command groups the identity.
        let outcome = outcome
            .map_err(|e| error::app_renamed(e, |f| f.strip_prefix("identity.").unwrap_or(f)))?;
        // The row as the command's own statement left it, when it wrote the
        // view there: no read again, the policy's reach checked on it.
        let person = match people::written(&outcome.written, id) {
            Some(row) => policy::reaches_person_row(&actor, &row).then(|| Person::from(row)),
            None => reachable(ctx, id).await?,
        }
        .ok_or_else(|| error::not_found("Personne"))?;
        Ok(PersonEnrollPayload { person })
    }

    /// Records the person's situation, in their own words.
    async fn situation_state(
        &self,
        ctx: &Context<'_>,
        input: SituationStateInput,
    ) -> Result<SituationStatePayload> {
        self.on_person(ctx, &input.person_id, input.command_id, |today| {
            Ok(PersonCommand::StateSituation {
                words: text("words", &input.words)?,
                stated_on: input.stated_on.unwrap_or(today),
            })
        })
        .await
        .map(|person| SituationStatePayload { person })
    }

    /// States the person's first project.
    async fn project_state(
        &self,
        ctx: &Context<'_>,
        input: ProjectStateInput,
    ) -> Result<ProjectStatePayload> {
        self.on_person(ctx, &input.person_id, input.command_id, |today| {
            Ok(PersonCommand::StateProject {
                project: input.project.parse()?,
                stated_on: input.stated_on.unwrap_or(today),
            })
        })
        .await
        .map(|person| ProjectStatePayload { person })
    }

    /// Readjusts the project, naming the experience that caused it.
    async fn project_readjust(
        &self,
        ctx: &Context<'_>,
        input: ProjectReadjustInput,
    ) -> Result<ProjectReadjustPayload> {
        self.on_person(ctx, &input.person_id, input.command_id, |today| {
            let id = parse_id(&input.cause.id, "Expérience")?;
            let cause = match input.cause.kind {
                CauseKind::ImmersionFeedback => ReadjustmentCause::ImmersionFeedback {
                    immersion_id: ImmersionId(id),
                },
                CauseKind::JobInquiry => ReadjustmentCause::JobInquiry {
                    inquiry_id: InquiryId(id),
                },
                CauseKind::PeerMeeting => ReadjustmentCause::PeerMeeting {
                    meeting_id: MeetingId(id),
                },
                CauseKind::Mentorship => ReadjustmentCause::Mentorship {
                    mentorship_id: MentorshipId(id),
                },
            };
            Ok(PersonCommand::ReadjustProject {
                project: input.project.parse()?,
                cause,
                what_changed: text("whatChanged", &input.what_changed)?,
                readjusted_on: input.readjusted_on.unwrap_or(today),
            })
        })
        .await
        .map(|person| ProjectReadjustPayload { person })
    }

    /// Logs a job inquiry (enquête métier) the person held.
    async fn job_inquiry_log(
        &self,
        ctx: &Context<'_>,
        input: JobInquiryLogInput,
    ) -> Result<JobInquiryLogPayload> {
        let inquiry = InquiryId(new_id(input.command_id, "inquiry"));
        self.on_person(ctx, &input.person_id, input.command_id, |today| {
            Ok(PersonCommand::LogJobInquiry {
                inquiry_id: inquiry,
                held_on: input.held_on.unwrap_or(today),
                rome_code: RomeCode::parse(&input.rome_code)
                    .map_err(|e| on_field("romeCode", e))?,
                with_whom: label("withWhom", &input.with_whom)?,
                learned: optional_text("learned", input.learned.as_deref())?,
            })
        })
        .await
        .map(|person| JobInquiryLogPayload {
            person,
            inquiry_id: ID(inquiry.to_string()),
        })
    }

    /// Logs a meeting with a peer (parcours vécu).
    async fn peer_meeting_log(
        &self,
        ctx: &Context<'_>,
        input: PeerMeetingLogInput,
    ) -> Result<PeerMeetingLogPayload> {
        let meeting = MeetingId(new_id(input.command_id, "meeting"));
        // A meeting names only a testimony the viewer could have shown:
        // never a made-up id, a withdrawn one or another structure's.
        staff(ctx)?;
        let testimony_id = match &input.testimony_id {
            Some(t) => Some(crate::matching::readable_testimony(ctx, "testimonyId", t).await?),
            None => None,
        };
        self.on_person(ctx, &input.person_id, input.command_id, |today| {
            Ok(PersonCommand::LogPeerMeeting {
                meeting_id: meeting,
                held_on: input.held_on.unwrap_or(today),
                testimony_id,
                peer: label("peer", &input.peer)?,
                rome_codes: rome_codes("romeCodes", &input.rome_codes)?,
                takeaways: optional_text("takeaways", input.takeaways.as_deref())?,
            })
        })
        .await
        .map(|person| PeerMeetingLogPayload {
            person,
            meeting_id: ID(meeting.to_string()),
        })
    }

    /// Records a consent the person gave, for one purpose.
    async fn consent_give(
        &self,
        ctx: &Context<'_>,
        input: ConsentGiveInput,
    ) -> Result<ConsentGivePayload> {
        let actor = staff(ctx)?;
        let mediator = passerelle_domain::values::UserId(user_of(&actor));
        self.on_person(ctx, &input.person_id, input.command_id, |today| {
            Ok(PersonCommand::GiveConsent {
                purpose: input.purpose,
                text_version: crate::input::text_version(
                    "textVersion",
                    input.purpose,
                    &input.text_version,
                )?,
                proof: if input.signed_form {
                    ConsentProof::SignedForm
                } else {
                    ConsentProof::Oral {
                        recorded_by: mediator,
                    }
                },
                given_on: input.given_on.unwrap_or(today),
            })
        })
        .await
        .map(|person| ConsentGivePayload { person })
    }

    /// Records the withdrawal of a consent.
    async fn consent_withdraw(
        &self,
        ctx: &Context<'_>,
        input: ConsentWithdrawInput,
    ) -> Result<ConsentWithdrawPayload> {
        self.on_person(ctx, &input.person_id, input.command_id, |today| {
            Ok(PersonCommand::WithdrawConsent {
                purpose: input.purpose,
                withdrawn_on: input.withdrawn_on.unwrap_or(today),
            })
        })
        .await
        .map(|person| ConsentWithdrawPayload { person })
    }

    /// Hands the person's follow-up to another staff member of their
    /// structure: a manager's or an admin's decision.
    async fn person_referent_change(
        &self,
        ctx: &Context<'_>,
        input: PersonReferentChangeInput,
    ) -> Result<PersonReferentChangePayload> {
        let actor = staff(ctx)?;
        if !policy::reassigns_referents(&actor) {
            return Err(error::forbidden());
        }
        let unknown = || {
            on_field(
                "referentId",
                passerelle_domain::DomainError::not_found(
                    passerelle_domain::Rule::UnknownAggregate,
                    "referentId",
                    "Ce membre de l'équipe n'existe pas dans votre structure.",
                ),
            )
        };
        let referent = input.referent_id.parse::<Uuid>().map_err(|_| unknown())?;
        // Another structure's staff member answers as unknown: the caseload
        // stays in the structure.
        let member = passerelle_accounts::staff_member(
            &gateway(ctx).pool,
            passerelle_domain::values::UserId(referent),
        )
        .await
        .map_err(|e| error::internal(&e))?
        .filter(|m| policy::reaches_colleague(&actor, m.structure))
        .ok_or_else(unknown)?;
        on_person(
            ctx,
            &input.person_id,
            input.command_id,
            |_, _| true,
            |_| {
                Ok(PersonCommand::ChangeReferent {
                    referent: member.user_id,
                })
            },
        )
        .await
        .map(|person| PersonReferentChangePayload { person })
    }

    /// Ends the person's accompaniment, saying why: their path stops
    /// growing and their magic-link sessions end.
    async fn person_exit(
        &self,
        ctx: &Context<'_>,
        input: PersonExitInput,
    ) -> Result<PersonExitPayload> {
        self.on_person(ctx, &input.person_id, input.command_id, |today| {
            let explanation = || text("explanation", input.explanation.as_deref().unwrap_or(""));
            let reason = match input.reason {
                ExitReasonKind::Employment => ExitReason::Employment {
                    contract: input.contract.ok_or_else(|| {
                        on_field(
                            "contract",
                            passerelle_domain::DomainError::invalid(
                                passerelle_domain::Rule::Required,
                                "contract",
                                "Indiquez le contrat signé.",
                            ),
                        )
                    })?,
                },
                ExitReasonKind::Training => ExitReason::Training,
                ExitReasonKind::Moved => ExitReason::Moved,
                ExitReasonKind::NoLongerInTouch => ExitReason::NoLongerInTouch,
                ExitReasonKind::EndOfSupport => ExitReason::EndOfSupport,
                ExitReasonKind::Other => ExitReason::Other {
                    explanation: Personal::Known(explanation()?),
                },
            };
            Ok(PersonCommand::Exit {
                reason,
                exited_on: input.exited_on.unwrap_or(today),
            })
        })
        .await
        .map(|person| PersonExitPayload { person })
    }

    /// Records whether the person holds a disability recognition (RQTH):
    /// health data, recorded by their referent or a manager only, with the
    /// person's consent.
    async fn disability_recognition_record(
        &self,
        ctx: &Context<'_>,
        input: DisabilityRecognitionRecordInput,
    ) -> Result<DisabilityRecognitionRecordPayload> {
        on_person(
            ctx,
            &input.person_id,
            input.command_id,
            |actor, row| policy::records_health_data(actor, row.referent),
            |today| {
                Ok(PersonCommand::RecordDisabilityRecognition {
                    recognised: input.recognised,
                    recorded_on: input.recorded_on.unwrap_or(today),
                })
            },
        )
        .await
        .map(|person| DisabilityRecognitionRecordPayload { person })
    }
}
