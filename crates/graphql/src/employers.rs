//! Employers, their visits and their needs: shared across the territory.

use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use passerelle_app::Views;
use passerelle_app::policy::{self, Field};
use passerelle_domain::Personal;
use passerelle_domain::employer::{
    Employer as EmployerAggregate, EmployerCommand, EmployerEvent, VisitPurpose,
};
use passerelle_domain::need::{
    HiringIntent, Horizon, Need as NeedAggregate, NeedCloseReason, NeedCloseReasonKind,
    NeedCommand, NeedDescription, NeedSource, NeedSourceKind, NeedStatus,
};
use passerelle_domain::values::{
    CommuneCode, ContactId, Email, EmployerId, NafDivision, NeedId, PhoneNumber, RomeCode, Siret,
    StructureId, UserId, VisitId, departement_name, search_key,
};
use passerelle_projections::views::employers::{
    self, ContactRow, EmployerRow, EmployerSearch, VisitRow,
};
use passerelle_projections::views::needs::{self, NeedRow, NeedSearch};
use time::Date;
use uuid::Uuid;

use crate::contact_record;
use crate::context::{actor, gateway, meta, new_id, staff, user_of};
use crate::error::{self, on_field};
use crate::input::{
    MOST_PER_PAGE, after as after_key, cursor, dated_cursor, dated_key, label, optional_text,
    page_size, parse_id, rome_codes, text,
};
use crate::kinds::stored;
use crate::loaders::{ContactsOf, Lists, NeedPageOf, VisitPageOf};
use crate::primitives::{PageInfo, Recording, page, payloads};

/// An establishment, as every structure of the territory sees it.
#[derive(Debug)]
pub struct Employer(pub EmployerRow);

impl Employer {
    /// Its contacts kept, or removed, before the policy's filter.
    async fn contacts_of(&self, ctx: &Context<'_>, removed: bool) -> Result<Vec<ContactRow>> {
        let loader = ctx.data_unchecked::<DataLoader<Lists>>();
        Ok(loader
            .load_one(ContactsOf {
                employer: self.0.employer_id,
                removed,
            })
            .await?
            .unwrap_or_default())
    }
}

#[Object]
impl Employer {
    async fn id(&self) -> ID {
        ID(self.0.employer_id.to_string())
    }
    async fn siret(&self) -> &str {
        &self.0.siret
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// NAF division (2 digits).
    async fn naf(&self) -> &str {
        &self.0.naf
    }
    async fn naf_label(&self) -> Option<&'static str> {
        NafDivision::parse(&self.0.naf).ok().and_then(|n| n.label())
    }
    /// INSEE code of the commune.
    async fn commune(&self) -> &str {
        &self.0.commune
    }
    async fn commune_name(&self) -> Option<&'static str> {
        CommuneCode::parse(&self.0.commune)
            .ok()
            .and_then(|c| c.commune())
            .map(|c| c.name)
    }
    /// INSEE code of the commune it counts under in figures by commune:
    /// Paris (75056), Lyon (69123) or Marseille (13055) for an
    /// establishment in one of their arrondissements, else `commune`.
    async fn municipality(&self) -> &str {
        &self.0.municipality
    }
    async fn departement(&self) -> Option<&str> {
        self.0.departement.as_deref()
    }
    async fn region(&self) -> Option<&str> {
        self.0.region.as_deref()
    }
    async fn address(&self) -> Option<&str> {
        self.0.address.as_deref()
    }
    /// How many immersions it can host at once, when it said so.
    async fn simultaneous_immersions(&self) -> Option<i32> {
        self.0.simultaneous_immersions
    }
    /// Its hosting capacity as last set (`employerHostingCapacitySet`),
    /// with who set it and when; its notes for staff only. Null when never
    /// set.
    async fn hosting_capacity(&self, ctx: &Context<'_>) -> Result<Option<HostingCapacity>> {
        if self.0.simultaneous_immersions.is_none() {
            return Ok(None);
        }
        let noted = policy::may_read(&actor(ctx)?, Field::HostingCapacityNotes);
        let facts = crate::correction_record::employer_facts(ctx, self.0.employer_id).await?;
        Ok(facts.iter().rev().find_map(|r| match &r.event {
            EmployerEvent::HostingCapacitySet(e) => Some(HostingCapacity {
                simultaneous_immersions: i32::from(e.simultaneous_immersions),
                notes: e
                    .notes
                    .as_ref()
                    .filter(|_| noted)
                    .map(|n| n.as_str().to_owned()),
                recorded: r.into(),
            }),
            _ => None,
        }))
    }
    async fn visit_count(&self) -> i32 {
        self.0.visits
    }
    async fn last_visit(&self) -> Option<Date> {
        self.0.last_visit
    }
    /// Every structure's visits, newest first: who came, when, why; the
    /// first 100 only (`loggedVisits` gives them all, a page at a time).
    #[graphql(deprecation = "Use `loggedVisits`, the same visits a page at a time.")]
    async fn visits(&self, ctx: &Context<'_>) -> Result<Vec<Visit>> {
        let loader = ctx.data_unchecked::<DataLoader<Lists>>();
        Ok(loader
            .load_one(VisitPageOf {
                employer: self.0.employer_id,
                after: None,
                limit: MOST_PER_PAGE,
            })
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(Visit)
            .collect())
    }
    /// The contacts the viewer manages (`employerContactRemove`): those its
    /// structure added, every one for the structure that registered the
    /// establishment; for an employer by magic link, those of its own
    /// establishment that the structure of its session added; none for a
    /// person.
    async fn contacts(&self, ctx: &Context<'_>) -> Result<Vec<EmployerContact>> {
        let actor = actor(ctx)?;
        Ok(self
            .contacts_of(ctx, false)
            .await?
            .into_iter()
            .filter(|c| policy::manages_contact(&actor, c, self.0.registered_by_structure))
            .map(EmployerContact::of)
            .collect())
    }
    /// The contacts taken off its list and not erased, whose name, job
    /// title and phone the log still holds: for the staff of the structure
    /// that added each, who may erase them at its request
    /// (`employerContactErase`); empty for anyone else.
    async fn removed_contacts(&self, ctx: &Context<'_>) -> Result<Vec<EmployerContact>> {
        let actor = actor(ctx)?;
        Ok(self
            .contacts_of(ctx, true)
            .await?
            .into_iter()
            .filter(|c| policy::reads_removed_contact(&actor, c))
            .map(EmployerContact::of)
            .collect())
    }
    /// One of its visits, by its id: null when it has none of that id.
    async fn visit(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Visit>> {
        let Ok(visit) = id.parse::<Uuid>() else {
            return Ok(None);
        };
        Ok(employers::visit(&gateway(ctx).pool, VisitId(visit))
            .await
            .map_err(error::db)?
            .filter(|v| v.employer_id == self.0.employer_id)
            .map(Visit))
    }
    /// Every structure's visits, newest first (then by id): who came,
    /// when, why.
    async fn logged_visits(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<VisitConnection> {
        let limit = page_size(first)?;
        let key = VisitPageOf {
            employer: self.0.employer_id,
            after: dated_key(after)?,
            limit: limit + 1,
        };
        let rows = ctx
            .data_unchecked::<DataLoader<Lists>>()
            .load_one(key)
            .await?
            .unwrap_or_default();
        let (edges, page_info) = page(
            rows,
            limit,
            |r| dated_cursor(r.visited_on, r.visit_id),
            |cursor, r| VisitEdge {
                cursor,
                node: Visit(r),
            },
        );
        Ok(VisitConnection { edges, page_info })
    }
    /// Its needs, newest first (then by id), whatever their status.
    async fn surfaced_needs(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<NeedConnection> {
        let limit = page_size(first)?;
        let key = NeedPageOf {
            employer: self.0.employer_id,
            after: dated_key(after)?,
            limit: limit + 1,
        };
        let rows = ctx
            .data_unchecked::<DataLoader<Lists>>()
            .load_one(key)
            .await?
            .unwrap_or_default();
        let (edges, page_info) = page(
            rows,
            limit,
            |r| dated_cursor(r.surfaced_on, r.need_id),
            |cursor, r| NeedEdge {
                cursor,
                node: Need(r),
            },
        );
        Ok(NeedConnection { edges, page_info })
    }
    /// The corrections of its file (`employerCorrect`), oldest first: the
    /// fields, their new values, why, and who recorded each; null for a
    /// viewer who does not reach it.
    async fn corrections(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Option<Vec<crate::correction_record::EmployerCorrection>>> {
        crate::correction_record::of_employer(ctx, self.0.employer_id).await
    }
    /// Its needs, newest first; the first 100 only (`surfacedNeeds` gives
    /// them all, a page at a time).
    #[graphql(deprecation = "Use `surfacedNeeds`, the same needs a page at a time.")]
    async fn needs(&self, ctx: &Context<'_>) -> Result<Vec<Need>> {
        let loader = ctx.data_unchecked::<DataLoader<Lists>>();
        Ok(loader
            .load_one(NeedPageOf {
                employer: self.0.employer_id,
                after: None,
                limit: MOST_PER_PAGE,
            })
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(Need)
            .collect())
    }
}

#[derive(SimpleObject, Debug)]
pub struct VisitEdge {
    pub cursor: String,
    pub node: Visit,
}

#[derive(SimpleObject, Debug)]
pub struct VisitConnection {
    pub edges: Vec<VisitEdge>,
    pub page_info: PageInfo,
}

#[derive(Debug)]
pub struct Visit(pub VisitRow);

#[Object]
impl Visit {
    async fn id(&self) -> ID {
        ID(self.0.visit_id.to_string())
    }
    async fn visited_on(&self) -> Date {
        self.0.visited_on
    }
    async fn mediator_id(&self) -> ID {
        ID(self.0.mediator.to_string())
    }
    /// The structure the mediator belongs to.
    async fn structure_id(&self) -> ID {
        ID(self.0.structure.to_string())
    }
    async fn purpose(&self) -> Result<VisitPurpose> {
        stored(passerelle_projections::views::untag(&self.0.purpose))
    }
    /// Whether the viewer answers for this visit (staff of the structure
    /// that logged it): they correct it and note the needs heard during it.
    async fn answered_for_by_me(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(policy::answers_for_visit(&actor(ctx)?, self.0.structure))
    }
    /// What the mediator noted, for staff: null for an employer by magic
    /// link.
    async fn observations(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        let actor = actor(ctx)?;
        Ok(policy::may_read(&actor, Field::VisitObservations).then_some(&*self.0.observations))
    }
    /// What the mediator plans next, for staff: null for an employer by
    /// magic link.
    async fn next_step(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        let actor = actor(ctx)?;
        Ok(self
            .0
            .next_step
            .as_deref()
            .filter(|_| policy::may_read(&actor, Field::VisitNextStep)))
    }
    /// The corrections of this visit (`employerVisitCorrect`), oldest
    /// first, with why and who recorded each: for staff, null for an
    /// employer by magic link (a correction may carry internal notes).
    async fn corrections(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Option<Vec<crate::correction_record::VisitCorrection>>> {
        crate::correction_record::of_visit(ctx, self.0.employer_id, self.0.visit_id).await
    }
}

/// How many immersions an establishment hosts at once, as last set.
#[derive(SimpleObject, Debug)]
pub struct HostingCapacity {
    pub simultaneous_immersions: i32,
    /// What staff noted with it; null for an employer by magic link.
    pub notes: Option<String>,
    pub recorded: Recording,
}

/// A contact at an establishment, through whom it opens its space by magic
/// link, for the immersions of the structure that added it.
#[derive(Debug)]
pub struct EmployerContact(
    pub ContactRow,
    /// Its card, read from the establishment's stream once for all the
    /// fields that ask for it.
    tokio::sync::OnceCell<Option<contact_record::Card>>,
);

impl EmployerContact {
    pub(crate) fn of(row: ContactRow) -> Self {
        Self(row, tokio::sync::OnceCell::new())
    }

    async fn card(&self, ctx: &Context<'_>) -> Result<Option<&contact_record::Card>> {
        Ok(self
            .1
            .get_or_try_init(|| contact_record::card(ctx, &self.0))
            .await?
            .as_ref())
    }
}

#[Object]
impl EmployerContact {
    async fn id(&self) -> ID {
        ID(self.0.contact_id.to_string())
    }
    /// Where its magic links go; null once it was taken off the list or
    /// erased (a contact removed keeps no address).
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }
    /// The structure that added it: the immersions its space reaches.
    async fn structure_id(&self) -> ID {
        ID(self.0.structure.to_string())
    }
    /// Whether the viewer may erase its personal data for good
    /// (`employerContactErase`): staff of the structure that added it, so
    /// pages offer it to them only.
    async fn may_erase(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(policy::erases_contact(&actor(ctx)?, &self.0))
    }
    /// Its name, as added; null once its data was erased.
    async fn name(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        Ok(self.card(ctx).await?.and_then(|c| c.name.as_deref()))
    }
    /// Its job title (« Responsable RH »…), when one was given.
    async fn job_title(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        Ok(self.card(ctx).await?.and_then(|c| c.job_title.as_deref()))
    }
    /// Its phone number (`+33612345678`), when one was given; null once its
    /// data was erased.
    async fn phone(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        Ok(self.card(ctx).await?.and_then(|c| c.phone.as_deref()))
    }
    /// Who added it and when.
    async fn added(&self, ctx: &Context<'_>) -> Result<Option<&Recording>> {
        Ok(self.card(ctx).await?.map(|c| &c.added))
    }
    /// Whether it was taken off the establishment's list
    /// (`employerContactRemove`): it then gets no link.
    async fn removed(&self) -> bool {
        self.0.removed
    }
    /// Who took it off the list and when; null while it is on it.
    async fn removal(&self, ctx: &Context<'_>) -> Result<Option<&Recording>> {
        Ok(self.card(ctx).await?.and_then(|c| c.removal.as_ref()))
    }
}

/// An emerging need.
#[derive(Debug)]
pub struct Need(pub NeedRow);

#[Object]
impl Need {
    async fn id(&self) -> ID {
        ID(self.0.need_id.to_string())
    }
    async fn employer_id(&self) -> ID {
        ID(self.0.employer_id.to_string())
    }
    /// `visit`, `portal` or `phone`.
    #[graphql(deprecation = "Use `sourceKind`, the same value as an enum.")]
    async fn source(&self) -> &str {
        &self.0.source
    }
    /// Where the need was first heard.
    async fn source_kind(&self) -> Result<NeedSourceKind> {
        stored(self.0.source())
    }
    async fn visit_id(&self) -> Option<ID> {
        self.0.visit_id.map(|v| ID(v.to_string()))
    }
    async fn activities(&self) -> &str {
        &self.0.activities
    }
    async fn rome_codes(&self) -> &[String] {
        &self.0.rome_codes
    }
    async fn conditions(&self) -> Option<&str> {
        self.0.conditions.as_deref()
    }
    async fn headcount(&self) -> i32 {
        self.0.headcount
    }
    #[graphql(deprecation = "Use `neededWithin`, the same value as an enum.")]
    async fn horizon(&self) -> &str {
        &self.0.horizon
    }
    /// When the employer would need someone.
    async fn needed_within(&self) -> Result<Horizon> {
        stored(self.0.horizon())
    }
    #[graphql(deprecation = "Use `wouldHire`, the same value as an enum.")]
    async fn hiring_intent(&self) -> &str {
        &self.0.hiring_intent
    }
    /// Whether the employer would hire at the end.
    async fn would_hire(&self) -> Result<HiringIntent> {
        stored(self.0.hiring_intent())
    }
    async fn qualified(&self) -> bool {
        self.0.qualified
    }
    /// `open`, `formalised_as_offer` or `closed`.
    #[graphql(deprecation = "Use `currentStatus`, the same value as an enum.")]
    async fn status(&self) -> &str {
        &self.0.status
    }
    /// Where the need stands.
    async fn current_status(&self) -> Result<NeedStatus> {
        stored(self.0.status())
    }
    async fn surfaced_on(&self) -> Date {
        self.0.surfaced_on
    }
    /// The offer's reference it was formalised with (`needFormalise`), if
    /// one was given.
    async fn offer_reference(&self) -> Option<&str> {
        self.0.offer_reference.as_deref()
    }
    /// The corrections of its description (`needCorrect`), oldest first,
    /// with why and who recorded each; null for a viewer who does not reach
    /// its establishment.
    async fn corrections(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Option<Vec<crate::correction_record::NeedCorrection>>> {
        crate::correction_record::of_need(ctx, self.0.employer_id, self.0.need_id).await
    }
    /// Its last qualification (`needQualify`): when, by whom; null while
    /// it has none.
    async fn qualification(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Option<crate::need_record::NeedQualification>> {
        // Its stream is read only for a need the view says is qualified.
        if !self.0.qualified {
            return Ok(None);
        }
        crate::need_record::qualification(ctx, self.0.employer_id, self.0.need_id).await
    }
    /// Its formalisation as a job offer (`needFormalise`): the offer's
    /// reference, when, by whom; null while it has none.
    async fn formalisation(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Option<crate::need_record::NeedFormalisation>> {
        // An open need was never formalised: its stream is not read.
        if matches!(self.0.status(), Ok(NeedStatus::Open)) {
            return Ok(None);
        }
        crate::need_record::formalisation(ctx, self.0.employer_id, self.0.need_id).await
    }
    /// How it was closed (`needClose`): why, when, by whom; null while it
    /// is not.
    async fn closure(&self, ctx: &Context<'_>) -> Result<Option<crate::need_record::NeedClosure>> {
        // Its stream is read only for a need the view says is closed.
        if self.0.closed_on.is_none() {
            return Ok(None);
        }
        crate::need_record::closure(ctx, self.0.employer_id, self.0.need_id).await
    }
    /// The people the viewer's structure follows whose project fits the
    /// need: exact codes first, then same domain. Empty to anyone but
    /// staff.
    async fn matching_people(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<crate::matching::PersonMatchConnection> {
        crate::matching::people_of(ctx, &self.0, first, after).await
    }
}

#[derive(SimpleObject, Debug)]
pub struct EmployerEdge {
    pub cursor: String,
    pub node: Employer,
}

#[derive(SimpleObject, Debug)]
pub struct EmployerConnection {
    pub edges: Vec<EmployerEdge>,
    pub page_info: PageInfo,
}

/// What a search of employers keeps: every criterion given must hold.
#[derive(InputObject, Default, Debug)]
pub struct EmployerFilter {
    /// Part of the name, whatever its case and accents.
    pub name_contains: Option<String>,
    /// Part of the name (whatever its case and accents), or the first
    /// digits of the SIRET (a SIREN finds every establishment of the
    /// company); spaces, dots and dashes between digits are ignored.
    pub name_or_siret: Option<String>,
    /// A commune's INSEE code (not its postal code); Paris (75056), Lyon
    /// (69123) and Marseille (13055) also find every arrondissement.
    pub commune: Option<String>,
    /// A département's INSEE code (`44`, `2A`).
    pub departement: Option<String>,
    /// A NAF division (`56`), or an APE code (`56.10A`) for its division.
    pub naf: Option<String>,
    /// Establishments with an open need for any of these ROME codes (20 at
    /// most).
    pub rome_codes: Option<Vec<String>>,
    /// Only the establishments the viewer's structure visited at least
    /// once (true); false or absent: every one.
    pub visited_by_my_structure: Option<bool>,
}

/// A filter's text: blank is no filter; else one line, bounded as a label.
fn search_text(field: &'static str, value: Option<&str>) -> Result<Option<String>> {
    value
        .filter(|v| !v.trim().is_empty())
        .map(|v| label(field, v).map(|l| l.as_str().to_owned()))
        .transpose()
}

fn search_commune(field: &'static str, value: Option<&str>) -> Result<Option<String>> {
    search_text(field, value)?
        .map(|v| {
            CommuneCode::parse(&v)
                .map(|c| c.as_str().to_owned())
                .map_err(|e| on_field(field, e))
        })
        .transpose()
}

fn search_departement(field: &'static str, value: Option<&str>) -> Result<Option<String>> {
    search_text(field, value)?
        .map(|v| {
            let code = v.to_ascii_uppercase();
            if departement_name(&code).is_some() {
                Ok(code)
            } else {
                Err(bad_input(field, crate::input::unknown_departement(&v)))
            }
        })
        .transpose()
}

fn search_rome_codes(field: &'static str, codes: Option<&[String]>) -> Result<Vec<String>> {
    let codes = codes.unwrap_or_default();
    if codes.len() > RomeCode::MAX_SEARCHED {
        return Err(bad_input(
            field,
            format!(
                "{} codes ROME : une recherche en prend {} au plus.",
                codes.len(),
                RomeCode::MAX_SEARCHED
            ),
        ));
    }
    Ok(rome_codes(field, codes)?
        .into_iter()
        .map(|c| c.as_str().to_owned())
        .collect())
}

fn bad_input(field: &'static str, message: String) -> async_graphql::Error {
    use async_graphql::ErrorExtensions as _;
    error::error(error::Code::BadUserInput, message).extend_with(|_, e| e.set("field", field))
}

impl EmployerFilter {
    /// The search, every value parsed and bounded, on its field.
    fn parse(&self, structure: StructureId) -> Result<EmployerSearch> {
        let mut search = EmployerSearch {
            name_keys: search_text("filter.nameContains", self.name_contains.as_deref())?
                .map(|v| search_key(&v))
                .into_iter()
                .collect(),
            commune: search_commune("filter.commune", self.commune.as_deref())?,
            departement: search_departement("filter.departement", self.departement.as_deref())?,
            naf: search_text("filter.naf", self.naf.as_deref())?
                .map(|v| {
                    NafDivision::parse(&v)
                        .map(|n| n.as_str().to_owned())
                        .map_err(|e| on_field("filter.naf", e))
                })
                .transpose()?,
            rome_codes: search_rome_codes("filter.romeCodes", self.rome_codes.as_deref())?,
            visited_by: (self.visited_by_my_structure == Some(true)).then(|| structure.as_uuid()),
            ..EmployerSearch::default()
        };
        if let Some(v) = search_text("filter.nameOrSiret", self.name_or_siret.as_deref())? {
            // Spaces, dots and dashes between groups, as a SIRET is typed.
            let digits: String = v
                .chars()
                .filter(|c| !c.is_whitespace() && !matches!(c, '.' | '-'))
                .collect();
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                if digits.len() > 14 {
                    return Err(bad_input(
                        "filter.nameOrSiret",
                        format!(
                            "« {} » a {} chiffres : un SIRET en a 14, un SIREN 9.",
                            passerelle_domain::echoed(&v),
                            digits.len()
                        ),
                    ));
                }
                search.siret_prefix = Some(digits);
            } else {
                search.name_keys.push(search_key(&v));
            }
        }
        Ok(search)
    }
}

#[derive(SimpleObject, Debug)]
pub struct NeedEdge {
    pub cursor: String,
    pub node: Need,
}

#[derive(SimpleObject, Debug)]
pub struct NeedConnection {
    pub edges: Vec<NeedEdge>,
    pub page_info: PageInfo,
}

/// How many days back `olderThanDays` reaches: ten years.
const MAX_NEED_AGE_DAYS: i32 = 3650;

/// What a search of the territory's open needs keeps: every criterion
/// given must hold.
#[derive(InputObject, Default, Debug)]
pub struct NeedFilterInput {
    /// Needs for any of these ROME codes (20 at most).
    pub rome_codes: Option<Vec<String>>,
    /// The employer's commune, by its INSEE code (not its postal code);
    /// Paris (75056), Lyon (69123) and Marseille (13055) also find every
    /// arrondissement.
    pub commune: Option<String>,
    /// The employer's département, by its INSEE code (`44`, `2A`).
    pub departement: Option<String>,
    /// Needs surfaced on this day or later…
    pub surfaced_from: Option<Date>,
    /// …and on this day or earlier.
    pub surfaced_to: Option<Date>,
    /// Needs surfaced more than this many days ago (0 to 3650), still
    /// waiting for an answer.
    pub older_than_days: Option<i32>,
    /// Where the need was first heard.
    pub source: Option<NeedSourceKind>,
}

impl NeedFilterInput {
    /// The search, every value parsed and bounded, on its field; `today`
    /// in Paris gives the age of needs.
    fn parse(&self, today: Date) -> Result<NeedSearch> {
        if let (Some(from), Some(to)) = (self.surfaced_from, self.surfaced_to)
            && from > to
        {
            return Err(bad_input(
                "filter.surfacedTo",
                "La fin de la période précède son début.".to_owned(),
            ));
        }
        let older_than = match self.older_than_days {
            None => None,
            Some(days @ 0..=MAX_NEED_AGE_DAYS) => {
                today.checked_sub(time::Duration::days(i64::from(days) + 1))
            }
            Some(_) => {
                return Err(bad_input(
                    "filter.olderThanDays",
                    format!("« olderThanDays » va de 0 à {MAX_NEED_AGE_DAYS} jours."),
                ));
            }
        };
        Ok(NeedSearch {
            rome_codes: search_rome_codes("filter.romeCodes", self.rome_codes.as_deref())?,
            commune: search_commune("filter.commune", self.commune.as_deref())?,
            departement: search_departement("filter.departement", self.departement.as_deref())?,
            surfaced_from: self.surfaced_from,
            surfaced_until: match (self.surfaced_to, older_than) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
            source: self.source.map(|s| passerelle_projections::views::tag(&s)),
        })
    }
}

/// The actor of a search of the territory, when the policy lets it search.
fn searcher(ctx: &Context<'_>) -> Result<passerelle_app::Actor> {
    let actor = actor(ctx)?;
    if policy::searches_territory(&actor) {
        Ok(actor)
    } else {
        Err(error::forbidden())
    }
}

#[derive(Default, Debug)]
pub struct EmployerQuery;

#[Object]
impl EmployerQuery {
    /// An establishment: any staff member sees it; an employer by magic
    /// link sees its own.
    async fn employer(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Employer>> {
        let actor = actor(ctx)?;
        if !policy::reads_employers(&actor) {
            return Err(error::forbidden());
        }
        let id = EmployerId(parse_id(&id, "Employeur")?);
        if !policy::reaches_employer(&actor, id) {
            return Ok(None);
        }
        Ok(employers::get(&gateway(ctx).pool, id)
            .await
            .map_err(error::db)?
            .map(Employer))
    }

    /// Employers by name, searched (for staff of any structure: they are
    /// shared across the territory).
    async fn employers(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<EmployerFilter>,
    ) -> Result<EmployerConnection> {
        let actor = searcher(ctx)?;
        let limit = page_size(first)?;
        let after = after_key(after, 2, |mut key| {
            let id = key[1].parse().ok()?;
            Some((key.swap_remove(0), id))
        })?;
        let search = filter.unwrap_or_default().parse(actor.structure)?;
        let rows = employers::page(&gateway(ctx).pool, after, &search, limit + 1)
            .await
            .map_err(error::db)?;
        let (edges, page_info) = page(
            rows,
            limit,
            |r| cursor(&[&r.name, &r.employer_id.to_string()]),
            |cursor, r| EmployerEdge {
                cursor,
                node: Employer(r),
            },
        );
        Ok(EmployerConnection { edges, page_info })
    }

    /// The open needs of the territory, newest first (for staff of any
    /// structure: needs are shared with employers).
    async fn needs(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<NeedFilterInput>,
    ) -> Result<NeedConnection> {
        searcher(ctx)?;
        let limit = page_size(first)?;
        let after = after_key(after, 2, |key| {
            // Within the dates the product holds, as PostgreSQL's are.
            let day = passerelle_domain::values::parse_date(&key[0]).ok()?;
            Some((day, key[1].parse().ok()?))
        })?;
        let today = gateway(ctx).handler.clock().today();
        let search = filter.unwrap_or_default().parse(today)?;
        // A list may lag: from the standby when it serves (`reads`).
        let search = &search;
        let rows = crate::reads::lagging(ctx, |pool| async move {
            needs::open_page(&pool, after, search, limit + 1).await
        })
        .await
        .map_err(error::db)?;
        let (edges, page_info) = page(
            rows,
            limit,
            |r| cursor(&[&r.surfaced_on.to_string(), &r.need_id.to_string()]),
            |cursor, r| NeedEdge {
                cursor,
                node: Need(r),
            },
        );
        Ok(NeedConnection { edges, page_info })
    }

    async fn need(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Need>> {
        staff(ctx)?;
        let id = parse_id(&id, "Besoin")?;
        Ok(needs::get(&gateway(ctx).pool, NeedId(id))
            .await
            .map_err(error::db)?
            .map(Need))
    }
}

#[derive(InputObject, Debug)]
pub struct EmployerRegisterInput {
    pub command_id: Option<Uuid>,
    pub siret: String,
    pub name: String,
    /// The APE code (56.10A) or its division (56).
    pub naf: String,
    /// INSEE code of the commune (not the postal code).
    pub commune: String,
    pub address: Option<String>,
}

payloads!(employer: Employer =>
    EmployerRegisterPayload,
    EmployerContactAddPayload,
    EmployerContactRemovePayload,
);

#[derive(async_graphql::SimpleObject, Debug)]
pub struct EmployerVisitLogPayload {
    pub employer: Employer,
    /// The visit logged: a need heard during it names it in `needSurface`'s
    /// `source.visitId`.
    pub visit_id: ID,
}

#[derive(InputObject, Debug)]
pub struct EmployerContactRemoveInput {
    pub command_id: Option<Uuid>,
    pub employer_id: ID,
    pub contact_id: ID,
}

#[derive(InputObject, Debug)]
pub struct EmployerContactAddInput {
    pub command_id: Option<Uuid>,
    pub employer_id: ID,
    pub name: String,
    pub job_title: Option<String>,
    /// Where the employer's magic links go.
    pub email: Option<String>,
    pub phone: Option<String>,
}

#[derive(InputObject, Debug)]
pub struct EmployerVisitLogInput {
    pub command_id: Option<Uuid>,
    pub employer_id: ID,
    /// Today when left out.
    pub visited_on: Option<Date>,
    pub purpose: VisitPurpose,
    pub observations: String,
    pub next_step: Option<String>,
}

#[derive(InputObject, Debug)]
pub struct NeedSourceInput {
    pub kind: NeedSourceKind,
    /// For a need heard during a visit.
    pub visit_id: Option<ID>,
}

#[derive(InputObject, Debug)]
pub struct NeedDescriptionInput {
    pub activities: String,
    #[graphql(default)]
    pub rome_codes: Vec<String>,
    pub conditions: Option<String>,
    #[graphql(default = 1)]
    pub headcount: i32,
    pub horizon: Horizon,
    pub hiring_intent: HiringIntent,
}

impl NeedDescriptionInput {
    pub(crate) fn parse(&self) -> Result<NeedDescription> {
        Ok(NeedDescription {
            activities: text("description.activities", &self.activities)?,
            rome_codes: rome_codes("description.romeCodes", &self.rome_codes)?,
            conditions: optional_text("description.conditions", self.conditions.as_deref())?,
            headcount: u16::try_from(self.headcount).unwrap_or(0),
            horizon: self.horizon,
            hiring_intent: self.hiring_intent,
        })
    }
}

#[derive(InputObject, Debug)]
pub struct NeedSurfaceInput {
    pub command_id: Option<Uuid>,
    pub employer_id: ID,
    pub source: NeedSourceInput,
    pub description: NeedDescriptionInput,
    /// Today when left out.
    pub surfaced_on: Option<Date>,
}

#[derive(InputObject, Debug)]
pub struct NeedQualifyInput {
    pub command_id: Option<Uuid>,
    pub need_id: ID,
    pub description: NeedDescriptionInput,
    pub qualified_on: Option<Date>,
}

#[derive(InputObject, Debug)]
pub struct NeedCloseInput {
    pub command_id: Option<Uuid>,
    pub need_id: ID,
    pub reason: NeedCloseReasonKind,
    /// Required with `OTHER`.
    pub explanation: Option<String>,
    pub closed_on: Option<Date>,
}

payloads!(need: Need => NeedSurfacePayload, NeedQualifyPayload, NeedClosePayload);

#[derive(InputObject, Debug)]
pub struct EmployerHostingCapacitySetInput {
    pub command_id: Option<Uuid>,
    pub employer_id: ID,
    /// How many immersions the establishment can host at once; 0 when it
    /// cannot host for now.
    pub simultaneous_immersions: i32,
    pub notes: Option<String>,
}

#[derive(InputObject, Debug)]
pub struct NeedFormaliseInput {
    pub command_id: Option<Uuid>,
    pub need_id: ID,
    /// The offer's reference (France Travail, the employer's own…), if any.
    pub offer_reference: Option<String>,
    pub formalised_on: Option<Date>,
}

payloads!(employer: Employer => EmployerHostingCapacitySetPayload);
payloads!(need: Need => NeedFormalisePayload);

#[derive(Default, Debug)]
pub struct EmployerMutation;

/// Carries a command on an employer and answers with it, as the view the
/// same transaction updated has it.
pub(crate) async fn on_employer(
    ctx: &Context<'_>,
    actor: passerelle_app::Actor,
    id: EmployerId,
    command: &EmployerCommand,
    command_id: Option<Uuid>,
) -> Result<Employer> {
    let gw = gateway(ctx);
    let outcome = gw
        .handler
        .execute::<EmployerAggregate>(id, command, &meta(actor, command_id), &Views)
        .await
        .map_err(error::app)?;
    // The row as the command's own statement left it, when it wrote the
    // view there: no read again.
    if let Some(row) = employers::written(&outcome.written, id) {
        return Ok(Employer(row));
    }
    employers::get(&gw.pool, id)
        .await
        .map_err(error::db)?
        .map(Employer)
        .ok_or_else(|| error::not_found("Employeur"))
}

/// Carries a command on a need and answers with it.
pub(crate) async fn on_need(
    ctx: &Context<'_>,
    actor: passerelle_app::Actor,
    id: NeedId,
    command: &NeedCommand,
    command_id: Option<Uuid>,
) -> Result<Need> {
    let gw = gateway(ctx);
    let outcome = gw
        .handler
        .execute::<NeedAggregate>(id, command, &meta(actor, command_id), &Views)
        .await
        .map_err(error::app)?;
    // The row as the command's own statement left it, when it wrote the
    // view there: no read again.
    if let Some(row) = needs::written(&outcome.written, id) {
        return Ok(Need(row));
    }
    needs::get(&gw.pool, id)
        .await
        .map_err(error::db)?
        .map(Need)
        .ok_or_else(|| error::not_found("Besoin"))
}

#[Object]
impl EmployerMutation {
    /// Registers an establishment by its SIRET.
    async fn employer_register(
        &self,
        ctx: &Context<'_>,
        input: EmployerRegisterInput,
    ) -> Result<EmployerRegisterPayload> {
        let actor = staff(ctx)?;
        let id = EmployerId(new_id(input.command_id, "employer"));
        let command = EmployerCommand::Register {
            employer_id: id,
            siret: Siret::parse(&input.siret).map_err(|e| on_field("siret", e))?,
            name: label("name", &input.name)?,
            naf: NafDivision::parse(&input.naf).map_err(|e| on_field("naf", e))?,
            commune: CommuneCode::parse(&input.commune).map_err(|e| on_field("commune", e))?,
            address: input
                .address
                .as_deref()
                .filter(|a| !a.trim().is_empty())
                .map(|a| label("address", a))
                .transpose()?,
        };
        let employer = on_employer(ctx, actor, id, &command, input.command_id).await?;
        Ok(EmployerRegisterPayload { employer })
    }

    /// Logs a visit to an employer.
    async fn employer_visit_log(
        &self,
        ctx: &Context<'_>,
        input: EmployerVisitLogInput,
    ) -> Result<EmployerVisitLogPayload> {
        let actor = staff(ctx)?;
        let gw = gateway(ctx);
        let id = EmployerId(parse_id(&input.employer_id, "Employeur")?);
        let visit_id = VisitId(new_id(input.command_id, "visit"));
        let command = EmployerCommand::LogVisit {
            visit_id,
            visited_on: input
                .visited_on
                .unwrap_or_else(|| gw.handler.clock().today()),
            mediator: UserId(user_of(&actor)),
            structure: StructureId(actor.structure.as_uuid()),
            purpose: input.purpose,
            observations: text("observations", &input.observations)?,
            next_step: optional_text("nextStep", input.next_step.as_deref())?,
        };
        let employer = on_employer(ctx, actor, id, &command, input.command_id).await?;
        Ok(EmployerVisitLogPayload {
            employer,
            visit_id: ID(visit_id.0.to_string()),
        })
    }

    /// Adds a contact person at an employer: staff at any establishment, an
    /// employer by magic link at its own, for the structure of its session
    /// (`policy::adds_contact`).
    async fn employer_contact_add(
        &self,
        ctx: &Context<'_>,
        input: EmployerContactAddInput,
    ) -> Result<EmployerContactAddPayload> {
        let actor = actor(ctx)?;
        let id = EmployerId(parse_id(&input.employer_id, "Employeur")?);
        if !policy::adds_contact(&actor, id) {
            return Err(error::forbidden());
        }
        let command = EmployerCommand::AddContact {
            contact_id: ContactId(new_id(input.command_id, "contact")),
            name: Personal::Known(label("name", &input.name)?),
            job_title: input
                .job_title
                .as_deref()
                .filter(|t| !t.trim().is_empty())
                .map(|t| label("jobTitle", t))
                .transpose()?,
            email: input
                .email
                .as_deref()
                .filter(|e| !e.trim().is_empty())
                .map(|e| {
                    Email::parse(e)
                        .map(Personal::Known)
                        .map_err(|err| on_field("email", err))
                })
                .transpose()?,
            phone: input
                .phone
                .as_deref()
                .filter(|p| !p.trim().is_empty())
                .map(|p| {
                    PhoneNumber::parse(p)
                        .map(Personal::Known)
                        .map_err(|err| on_field("phone", err))
                })
                .transpose()?,
        };
        let employer = on_employer(ctx, actor, id, &command, input.command_id).await?;
        Ok(EmployerContactAddPayload { employer })
    }

    /// Removes a contact of an establishment: it no longer gets links, and
    /// the sessions the establishment holds through the contact's structure
    /// end (the contacts still kept ask for a new link). Open to the staff
    /// of the structure that added the contact and of the structure that
    /// registered the establishment, and to the establishment's own
    /// contacts by a session of the structure that added it
    /// (`policy::manages_contact`); to others the contact does not exist.
    async fn employer_contact_remove(
        &self,
        ctx: &Context<'_>,
        input: EmployerContactRemoveInput,
    ) -> Result<EmployerContactRemovePayload> {
        let actor = actor(ctx)?;
        let gw = gateway(ctx);
        let id = EmployerId(parse_id(&input.employer_id, "Employeur")?);
        let unknown = || {
            error::on_field(
                "contactId",
                passerelle_domain::DomainError::not_found(
                    passerelle_domain::Rule::ContactUnknown,
                    "contactId",
                    "Ce contact n'existe pas chez cet employeur.",
                ),
            )
        };
        let contact = input.contact_id.parse::<Uuid>().map_err(|_| unknown())?;
        let mut conn = gw.pool.acquire().await.map_err(error::db)?;
        // A contact already removed is still found, so that a retried
        // removal answers as the first did and ends the sessions again; a
        // new removal of it is refused by the employer's rules.
        let contact = policy::managed_contact(&mut conn, &actor, id, contact)
            .await
            .map_err(error::app)?
            .ok_or_else(unknown)?;
        drop(conn);
        let command = EmployerCommand::RemoveContact {
            contact_id: ContactId(contact.contact_id),
        };
        let employer = on_employer(ctx, actor, id, &command, input.command_id).await?;
        passerelle_accounts::revoke_employer_access(
            &gw.pool,
            id,
            StructureId(contact.structure),
            gw.handler.clock().now(),
        )
        .await
        .map_err(|e| error::internal(&e))?;
        Ok(EmployerContactRemovePayload { employer })
    }

    /// Records a need an employer put into words: staff for any source, an
    /// employer by magic link for its own establishment from the portal.
    async fn need_surface(
        &self,
        ctx: &Context<'_>,
        input: NeedSurfaceInput,
    ) -> Result<NeedSurfacePayload> {
        let actor = actor(ctx)?;
        let employer = input.employer_id.parse::<Uuid>().ok().map(EmployerId);
        let from_portal = input.source.kind == NeedSourceKind::Portal;
        if !policy::may_surface_need(&actor, employer, from_portal) {
            return Err(error::forbidden());
        }
        let gw = gateway(ctx);
        let id = NeedId(new_id(input.command_id, "need"));
        let source = match (input.source.kind, &input.source.visit_id) {
            (NeedSourceKind::Visit, Some(v)) => {
                let visit_id = VisitId(parse_id(v, "Visite")?);
                // Visits are read across the territory, but a need heard
                // during one counts for the structure that logged it: only
                // that structure notes it. (Whether the visit took place at
                // this employer is the decision's to say.)
                let logged_by = employers::visit(&gw.pool, visit_id)
                    .await
                    .map_err(error::db)?
                    .map(|row| row.structure);
                if logged_by.is_some_and(|s| !policy::answers_for_visit(&actor, s)) {
                    return Err(error::forbidden());
                }
                NeedSource::Visit { visit_id }
            }
            (NeedSourceKind::Visit, None) => {
                return Err(error::on_field(
                    "source.visitId",
                    passerelle_domain::DomainError::invalid(
                        passerelle_domain::Rule::Required,
                        "source.visitId",
                        "Indiquez la visite pendant laquelle le besoin est apparu.",
                    ),
                ));
            }
            (NeedSourceKind::Portal, _) => NeedSource::Portal,
            (NeedSourceKind::Phone, _) => NeedSource::Phone,
        };
        let command = NeedCommand::Surface {
            need_id: id,
            employer_id: EmployerId(parse_id(&input.employer_id, "Employeur")?),
            source,
            description: input.description.parse()?,
            surfaced_on: input
                .surfaced_on
                .unwrap_or_else(|| gw.handler.clock().today()),
        };
        let need = on_need(ctx, actor, id, &command, input.command_id).await?;
        Ok(NeedSurfacePayload { need })
    }

    /// Qualifies a need with the employer: jobs, conditions, headcount.
    async fn need_qualify(
        &self,
        ctx: &Context<'_>,
        input: NeedQualifyInput,
    ) -> Result<NeedQualifyPayload> {
        let actor = staff(ctx)?;
        let gw = gateway(ctx);
        let id = NeedId(parse_id(&input.need_id, "Besoin")?);
        let command = NeedCommand::Qualify {
            description: input.description.parse()?,
            qualified_on: input
                .qualified_on
                .unwrap_or_else(|| gw.handler.clock().today()),
        };
        let need = on_need(ctx, actor, id, &command, input.command_id).await?;
        Ok(NeedQualifyPayload { need })
    }

    /// Closes a need, saying why.
    async fn need_close(
        &self,
        ctx: &Context<'_>,
        input: NeedCloseInput,
    ) -> Result<NeedClosePayload> {
        let actor = staff(ctx)?;
        let gw = gateway(ctx);
        let id = NeedId(parse_id(&input.need_id, "Besoin")?);
        let reason = match input.reason {
            NeedCloseReasonKind::Met => NeedCloseReason::Met,
            NeedCloseReasonKind::NoLongerNeeded => NeedCloseReason::NoLongerNeeded,
            NeedCloseReasonKind::NoSuitableCandidate => NeedCloseReason::NoSuitableCandidate,
            NeedCloseReasonKind::Other => NeedCloseReason::Other {
                explanation: text("explanation", input.explanation.as_deref().unwrap_or(""))?,
            },
        };
        let command = NeedCommand::Close {
            reason,
            closed_on: input
                .closed_on
                .unwrap_or_else(|| gw.handler.clock().today()),
        };
        let need = on_need(ctx, actor, id, &command, input.command_id).await?;
        Ok(NeedClosePayload { need })
    }

    /// Records how many immersions the establishment can host at once:
    /// any staff member, the file being shared.
    async fn employer_hosting_capacity_set(
        &self,
        ctx: &Context<'_>,
        input: EmployerHostingCapacitySetInput,
    ) -> Result<EmployerHostingCapacitySetPayload> {
        let actor = staff(ctx)?;
        let id = EmployerId(parse_id(&input.employer_id, "Employeur")?);
        let simultaneous_immersions = u8::try_from(input.simultaneous_immersions)
            .ok()
            .filter(|n| *n <= 50)
            .ok_or_else(|| {
                on_field(
                    "simultaneousImmersions",
                    passerelle_domain::DomainError::invalid(
                        passerelle_domain::Rule::HeadcountRange,
                        "simultaneousImmersions",
                        "Indiquez de 0 à 50 immersions accueillies en même temps.",
                    ),
                )
            })?;
        let command = EmployerCommand::SetHostingCapacity {
            simultaneous_immersions,
            notes: optional_text("notes", input.notes.as_deref())?,
        };
        let employer = on_employer(ctx, actor, id, &command, input.command_id).await?;
        Ok(EmployerHostingCapacitySetPayload { employer })
    }

    /// Records that a qualified need became a real offer or a hire: any
    /// staff member.
    async fn need_formalise(
        &self,
        ctx: &Context<'_>,
        input: NeedFormaliseInput,
    ) -> Result<NeedFormalisePayload> {
        let actor = staff(ctx)?;
        let gw = gateway(ctx);
        let id = NeedId(parse_id(&input.need_id, "Besoin")?);
        let command = NeedCommand::FormaliseAsOffer {
            offer_reference: input
                .offer_reference
                .as_deref()
                .filter(|r| !r.trim().is_empty())
                .map(|r| label("offerReference", r))
                .transpose()?,
            formalised_on: input
                .formalised_on
                .unwrap_or_else(|| gw.handler.clock().today()),
        };
        let need = on_need(ctx, actor, id, &command, input.command_id).await?;
        Ok(NeedFormalisePayload { need })
    }
}
