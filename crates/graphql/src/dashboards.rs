//! Dashboards on immersion outcomes: the funnel and the outcomes at each
//! milestone, filtered, "as of" any past date, with small cells masked for
//! whoever looks beyond their own structure.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use passerelle_domain::immersion::{Milestone, Objective, OutcomeKind};
use passerelle_domain::need::NeedSourceKind;
use passerelle_domain::person::CauseKind;
use passerelle_domain::values::{AgeBand, ContractType, NafDivision, RomeCode};
use passerelle_projections::dashboards::{
    self, DashboardError, Filter, FunnelStep as StepRow, FunnelStepName, OutcomeCount,
};
use time::{Date, Duration, OffsetDateTime};

use crate::context::{gateway, staff};
use crate::error::{self, Code};
use crate::input::parse_id;
use crate::reads::lagging;

/// What every dashboard can be restricted to.
#[derive(InputObject, Debug, Default, Clone)]
pub struct DashboardFilter {
    /// Immersions proposed from this day…
    pub from: Option<Date>,
    /// …to this day, inclusive.
    pub to: Option<Date>,
    pub structure_id: Option<ID>,
    pub mediator_id: Option<ID>,
    /// A département's INSEE code (`44`, `2A`), from the host's commune.
    pub departement: Option<String>,
    /// A région's INSEE code (`52`), from the host's commune.
    pub region: Option<String>,
    /// The host's NAF division (`56`).
    pub naf: Option<String>,
    /// A ROME code of the need the immersion answers.
    pub rome: Option<String>,
    pub objective: Option<Objective>,
    pub age_band: Option<AgeBand>,
    /// People whose disability recognition (RQTH) was recorded with consent.
    pub disability: Option<bool>,
}

impl DashboardFilter {
    fn parse(&self) -> Result<Filter> {
        if let (Some(from), Some(to)) = (self.from, self.to)
            && from > to
        {
            return Err(field_error(
                "filter.to",
                "La fin de la période précède son début.",
            ));
        }
        let id = |value: &Option<ID>, what| value.as_ref().map(|v| parse_id(v, what)).transpose();
        let trimmed = |value: &Option<String>| {
            value
                .as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_uppercase)
        };
        // A code the referentials do not know is refused on its field: it
        // would narrow the figures to nothing without a word.
        let departement = trimmed(&self.departement);
        if let Some(code) = departement.as_deref()
            && passerelle_domain::values::departement_name(code).is_none()
        {
            return Err(field_error(
                "filter.departement",
                &crate::input::unknown_departement(code),
            ));
        }
        let region = trimmed(&self.region);
        if let Some(code) = region.as_deref()
            && passerelle_domain::values::region_name(code).is_none()
        {
            return Err(field_error(
                "filter.region",
                &format!(
                    "La région « {} » n'existe pas : indiquez son code INSEE, par exemple 52 pour les Pays de la Loire.",
                    passerelle_domain::echoed(code)
                ),
            ));
        }
        let naf = trimmed(&self.naf)
            .map(|code| NafDivision::parse(&code).map(|d| d.as_str().to_owned()))
            .transpose()
            .map_err(|e| error::on_field("filter.naf", e))?;
        let rome = trimmed(&self.rome)
            .map(|code| RomeCode::parse(&code).map(|c| c.as_str().to_owned()))
            .transpose()
            .map_err(|e| error::on_field("filter.rome", e))?;
        Ok(Filter {
            from: self.from,
            to: self.to,
            structure: id(&self.structure_id, "Structure")?,
            mediator: id(&self.mediator_id, "Médiateur")?,
            departement,
            region,
            naf,
            rome,
            objective: self.objective,
            age_band: self.age_band,
            disability: self.disability,
        })
    }
}

/// A filter the dashboard cannot apply is the user's to fix; anything else
/// is ours.
fn failed(e: DashboardError) -> async_graphql::Error {
    match e {
        DashboardError::NotApplicable(name) => {
            // Named as the pages' form names it (its labels in
            // crates/web/templates/dashboard.html change with these); the
            // API's name is the field's.
            let (field, label): (&'static str, &str) = match name {
                "structureId" => ("filter.structureId", "Structure"),
                "mediatorId" => ("filter.mediatorId", "Médiateur ou médiatrice"),
                "departement" => ("filter.departement", "Département"),
                "region" => ("filter.region", "Région"),
                "naf" => ("filter.naf", "Secteur (division NAF)"),
                "rome" => ("filter.rome", "Métier (code ROME)"),
                "objective" => ("filter.objective", "Objectif"),
                "ageBand" => ("filter.ageBand", "Âge"),
                _ => ("filter.disability", "Reconnaissance du handicap"),
            };
            field_error(
                field,
                &format!("Le filtre « {label} » ne s'applique pas à ce tableau : retirez-le."),
            )
        }
        DashboardError::Sql(e) => error::internal(&e),
        DashboardError::Stored(e) => error::internal(&e),
    }
}

fn field_error(field: &'static str, message: &str) -> async_graphql::Error {
    use async_graphql::ErrorExtensions as _;
    error::error(Code::BadUserInput, message).extend_with(|_, e| e.set("field", field))
}

/// The last instant of `day` in Paris.
fn end_of_day(day: Date) -> Option<OffsetDateTime> {
    let next = day.next_day()?.midnight();
    let offset = passerelle_app::paris_offset(next.assume_utc());
    Some(next.assume_offset(offset) - Duration::microseconds(1))
}

/// Checks the request and says which figures to mask.
struct Scope {
    filter: Filter,
    as_of: Option<OffsetDateTime>,
    /// Counts below this are hidden (0 shows nothing to hide).
    mask_below: i64,
    /// The same filter restricted to the viewer's own structure, when the
    /// figures count it among others: she sees its figures in full, so a
    /// count would tell the others' share by difference, and that share
    /// must not be small either.
    mine: Option<Filter>,
}

fn scope(ctx: &Context<'_>, filter: Option<DashboardFilter>, as_of: Option<Date>) -> Result<Scope> {
    let actor = staff(ctx)?;
    let filter = filter.unwrap_or_default().parse()?;
    let gateway = gateway(ctx);
    let today = gateway.handler.clock().today();
    if as_of.is_some_and(|d| d > today) {
        return Err(field_error(
            "asOf",
            "La date « au » ne peut pas être dans le futur : laissez-la vide pour les chiffres du jour.",
        ));
    }
    let own = passerelle_app::policy::reads_figures_in_full(&actor, filter.structure);
    let mine = (!own && filter.structure.is_none()).then(|| Filter {
        structure: Some(actor.structure.as_uuid()),
        ..filter.clone()
    });
    Ok(Scope {
        filter,
        as_of: as_of.and_then(end_of_day),
        mask_below: if own { 0 } else { gateway.small_cell_threshold },
        mine,
    })
}

impl Scope {
    /// `count`, or null when it could point at someone: when it is below
    /// the threshold, or when what it counts beyond the viewer's own
    /// structure (`own`, its share, which she reads in full) is.
    fn show(&self, count: i64, own: i64) -> Option<i64> {
        let enough = |n: i64| n == 0 || n >= self.mask_below;
        // The two figures are read one after the other: a share read as
        // negative (her structure's grew meanwhile) is not trusted either.
        let others = count - own;
        (enough(count) && (self.mask_below == 0 || enough(others))).then_some(count)
    }

    /// The figures of the viewer's own structure under the same filter,
    /// when the figures count it among others (see `mine`); `None` when
    /// they do not.
    async fn own<T, F, Fut>(&self, ctx: &Context<'_>, figures: F) -> Result<Option<T>>
    where
        F: Fn(sqlx::PgPool, Filter) -> Fut + Send + Sync,
        Fut: std::future::Future<Output = Result<T, DashboardError>> + Send,
        T: Send,
    {
        let Some(mine) = &self.mine else {
            return Ok(None);
        };
        lagging(ctx, |pool| figures(pool, mine.clone()))
            .await
            .map(Some)
            .map_err(failed)
    }
}

/// One step of the funnel. A count below the small-cell threshold is null
/// (masked) for a viewer outside the structure, and so are the rates and
/// delays drawn from it.
#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct FunnelStep {
    pub step: FunnelStepName,
    pub count: Option<i64>,
    /// Share of the previous step's immersions that reached this one (0–1).
    pub rate_from_previous: Option<f64>,
    /// Median days from the previous step, among those that reached this one.
    pub median_days_from_previous: Option<f64>,
}

#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct ImmersionFunnel {
    /// The day the figures stand at; null for now.
    pub as_of: Option<Date>,
    /// Whether some figures are hidden because they are too small.
    pub masked: bool,
    pub steps: Vec<FunnelStep>,
}

/// Immersions at one outcome, at one milestone, for one objective.
#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct OutcomeCell {
    pub milestone: Milestone,
    pub objective: Objective,
    pub outcome: OutcomeKind,
    /// For a hire, the contract.
    pub contract: Option<ContractType>,
    /// Null when masked.
    pub count: Option<i64>,
}

#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct ImmersionOutcomes {
    pub as_of: Option<Date>,
    pub masked: bool,
    pub cells: Vec<OutcomeCell>,
}

fn funnel(
    scope: &Scope,
    rows: Vec<StepRow>,
    own: Option<Vec<StepRow>>,
    as_of: Option<Date>,
) -> ImmersionFunnel {
    let mut steps: Vec<FunnelStep> = Vec::with_capacity(rows.len());
    let mut previous: Option<Option<i64>> = None;
    for row in rows {
        let mine = own
            .iter()
            .flatten()
            .find(|o| o.step == row.step)
            .map_or(0, |o| o.count);
        let count = scope.show(row.count, mine);
        let rate = match (previous, count) {
            (Some(Some(before)), Some(now)) if before > 0 => Some(now as f64 / before as f64),
            _ => None,
        };
        steps.push(FunnelStep {
            step: row.step,
            count,
            rate_from_previous: rate,
            median_days_from_previous: count.and(row.median_days),
        });
        previous = Some(count);
    }
    ImmersionFunnel {
        as_of,
        masked: steps.iter().any(|s| s.count.is_none()),
        steps,
    }
}

fn outcome_cell(scope: &Scope, row: &OutcomeCount, own: Option<&[OutcomeCount]>) -> OutcomeCell {
    let mine = own
        .into_iter()
        .flatten()
        .find(|o| {
            (o.milestone, o.objective, o.outcome, o.contract)
                == (row.milestone, row.objective, row.outcome, row.contract)
        })
        .map_or(0, |o| o.count);
    OutcomeCell {
        milestone: row.milestone,
        objective: row.objective,
        outcome: row.outcome,
        contract: row.contract,
        count: scope.show(row.count, mine),
    }
}

/// The needs one source surfaced and what became of them. Counts are null
/// when masked.
#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct NeedsFromSource {
    pub source: NeedSourceKind,
    pub needs: Option<i64>,
    pub became_immersion: Option<i64>,
    pub became_offer: Option<i64>,
    pub led_to_hire: Option<i64>,
}

#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct NeedsConversion {
    pub as_of: Option<Date>,
    pub masked: bool,
    pub visits: Option<i64>,
    /// Needs surfaced on a visit, per visit.
    pub needs_per_visit: Option<f64>,
    pub by_source: Vec<NeedsFromSource>,
}

#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct PeopleByIterations {
    /// Readjustments the project needed (3 stands for 3 or more).
    pub readjustments: i32,
    pub people: Option<i64>,
}

#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct ReadjustmentsByCause {
    pub cause: CauseKind,
    pub readjustments: Option<i64>,
}

#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct ProjectReadjustments {
    pub as_of: Option<Date>,
    pub masked: bool,
    /// People with a project stated.
    pub projects: Option<i64>,
    pub by_iterations: Vec<PeopleByIterations>,
    pub by_cause: Vec<ReadjustmentsByCause>,
}

#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct EmployerEngagement {
    pub as_of: Option<Date>,
    pub masked: bool,
    pub employers_visited: Option<i64>,
    pub visits: Option<i64>,
    pub employers_with_needs: Option<i64>,
    pub needs: Option<i64>,
    pub employers_hosting: Option<i64>,
    pub immersions_hosted: Option<i64>,
    pub proposals: Option<i64>,
    pub proposals_answered: Option<i64>,
    /// Median days from a proposal to the employer's answer.
    pub median_days_to_answer: Option<f64>,
    /// Proposals the employer had not answered 7 days after.
    pub waiting_over_seven_days: Option<i64>,
}

#[derive(Default, Debug)]
pub struct DashboardQuery;

#[Object]
impl DashboardQuery {
    /// Proposed → accepted → signed → validated → started → completed →
    /// hired or trained: how many immersions reached each step, the rate
    /// from one step to the next and the median delay.
    async fn immersion_funnel(
        &self,
        ctx: &Context<'_>,
        filter: Option<DashboardFilter>,
        as_of: Option<Date>,
    ) -> Result<ImmersionFunnel> {
        let scope = scope(ctx, filter, as_of)?;
        let (filter, day) = (&scope.filter, scope.as_of);
        let rows = lagging(ctx, |pool| async move {
            dashboards::funnel(&pool, filter, day).await
        })
        .await
        .map_err(failed)?;
        let own = scope
            .own(ctx, |pool, mine| async move {
                dashboards::funnel(&pool, &mine, day).await
            })
            .await?;
        Ok(funnel(&scope, rows, own, as_of))
    }

    /// Where the people stood at the end and at 1, 3 and 6 months, by
    /// objective: hired (by contract), in training, in a new immersion,
    /// with a readjusted project, or nothing yet.
    async fn immersion_outcomes(
        &self,
        ctx: &Context<'_>,
        filter: Option<DashboardFilter>,
        as_of: Option<Date>,
    ) -> Result<ImmersionOutcomes> {
        let scope = scope(ctx, filter, as_of)?;
        let (filter, day) = (&scope.filter, scope.as_of);
        let rows = lagging(ctx, |pool| async move {
            dashboards::outcomes(&pool, filter, day).await
        })
        .await
        .map_err(failed)?;
        let own = scope
            .own(ctx, |pool, mine| async move {
                dashboards::outcomes(&pool, &mine, day).await
            })
            .await?;
        let cells: Vec<OutcomeCell> = rows
            .iter()
            .map(|r| outcome_cell(&scope, r, own.as_deref()))
            .collect();
        Ok(ImmersionOutcomes {
            as_of,
            masked: cells.iter().any(|c| c.count.is_none()),
            cells,
        })
    }

    /// Visits, the needs surfaced per source, and how many became an
    /// immersion, an offer and a hire.
    async fn needs_conversion(
        &self,
        ctx: &Context<'_>,
        filter: Option<DashboardFilter>,
        as_of: Option<Date>,
    ) -> Result<NeedsConversion> {
        let scope = scope(ctx, filter, as_of)?;
        let (filter, day) = (&scope.filter, scope.as_of);
        let figures = lagging(ctx, |pool| async move {
            dashboards::needs_conversion(&pool, filter, day).await
        })
        .await
        .map_err(failed)?;
        let own = scope
            .own(ctx, |pool, mine| async move {
                dashboards::needs_conversion(&pool, &mine, day).await
            })
            .await?;
        let own_source = |source| {
            own.as_ref()
                .and_then(|o| o.by_source.iter().find(|s| s.source == source))
        };
        let from_visits = |f: &dashboards::NeedsConversion| {
            f.by_source
                .iter()
                .find(|s| s.source == NeedSourceKind::Visit)
                .map_or(0, |s| s.needs)
        };
        let visits = scope.show(figures.visits, own.as_ref().map_or(0, |o| o.visits));
        let by_source: Vec<NeedsFromSource> = figures
            .by_source
            .iter()
            .map(|s| {
                let mine = own_source(s.source);
                let show = |count: i64, of: fn(&dashboards::NeedsBySource) -> i64| {
                    scope.show(count, mine.map_or(0, of))
                };
                NeedsFromSource {
                    source: s.source,
                    needs: show(s.needs, |m| m.needs),
                    became_immersion: show(s.became_immersion, |m| m.became_immersion),
                    became_offer: show(s.became_offer, |m| m.became_offer),
                    led_to_hire: show(s.led_to_hire, |m| m.led_to_hire),
                }
            })
            .collect();
        let per_visit = match (
            visits,
            scope.show(from_visits(&figures), own.as_ref().map_or(0, from_visits)),
        ) {
            (Some(v), Some(n)) if v > 0 => Some(n as f64 / v as f64),
            _ => None,
        };
        let masked = visits.is_none()
            || by_source.iter().any(|s| {
                [s.needs, s.became_immersion, s.became_offer, s.led_to_hire]
                    .iter()
                    .any(Option::is_none)
            });
        Ok(NeedsConversion {
            as_of,
            masked,
            visits,
            needs_per_visit: per_visit,
            by_source,
        })
    }

    /// How many readjustments the projects needed, and what caused them.
    async fn project_readjustments(
        &self,
        ctx: &Context<'_>,
        filter: Option<DashboardFilter>,
        as_of: Option<Date>,
    ) -> Result<ProjectReadjustments> {
        let scope = scope(ctx, filter, as_of)?;
        let (filter, day) = (&scope.filter, scope.as_of);
        let figures = lagging(ctx, |pool| async move {
            dashboards::project_readjustments(&pool, filter, day).await
        })
        .await
        .map_err(failed)?;
        let own = scope
            .own(ctx, |pool, mine| async move {
                dashboards::project_readjustments(&pool, &mine, day).await
            })
            .await?;
        let by_iterations: Vec<PeopleByIterations> = figures
            .by_iterations
            .iter()
            .zip(0..)
            .map(|(&people, readjustments)| PeopleByIterations {
                readjustments,
                people: scope.show(
                    people,
                    own.as_ref()
                        .map_or(0, |o| o.by_iterations[readjustments as usize]),
                ),
            })
            .collect();
        let by_cause: Vec<ReadjustmentsByCause> = figures
            .by_cause
            .iter()
            .map(|&(cause, n)| ReadjustmentsByCause {
                cause,
                readjustments: scope.show(
                    n,
                    own.as_ref()
                        .and_then(|o| o.by_cause.iter().find(|c| c.0 == cause))
                        .map_or(0, |c| c.1),
                ),
            })
            .collect();
        // The people by readjustments add up to the projects: with one of
        // them masked, the total would give it back.
        let projects = if by_iterations.iter().any(|b| b.people.is_none()) {
            None
        } else {
            scope.show(figures.projects, own.as_ref().map_or(0, |o| o.projects))
        };
        Ok(ProjectReadjustments {
            as_of,
            masked: projects.is_none()
                || by_iterations.iter().any(|b| b.people.is_none())
                || by_cause.iter().any(|c| c.readjustments.is_none()),
            projects,
            by_iterations,
            by_cause,
        })
    }

    /// Employers' part: visits, needs, immersions hosted, and how fast they
    /// answer a proposal.
    async fn employer_engagement(
        &self,
        ctx: &Context<'_>,
        filter: Option<DashboardFilter>,
        as_of: Option<Date>,
    ) -> Result<EmployerEngagement> {
        let scope = scope(ctx, filter, as_of)?;
        let now = gateway(ctx).handler.clock().now();
        let (filter, day) = (&scope.filter, scope.as_of);
        let f = lagging(ctx, |pool| async move {
            dashboards::employer_engagement(&pool, filter, day, now).await
        })
        .await
        .map_err(failed)?;
        let own = scope
            .own(ctx, |pool, mine| async move {
                dashboards::employer_engagement(&pool, &mine, day, now).await
            })
            .await?;
        let counted = |f: &dashboards::EmployerEngagement| {
            [
                f.employers_visited,
                f.visits,
                f.employers_with_needs,
                f.needs,
                f.employers_hosting,
                f.immersions_hosted,
                f.proposals,
                f.proposals_answered,
                f.waiting_over_seven_days,
            ]
        };
        let mine = own.as_ref().map_or([0; 9], counted);
        let mut counts = counted(&f).map(Some);
        for (count, own) in counts.iter_mut().zip(mine) {
            *count = count.and_then(|n| scope.show(n, own));
        }
        Ok(EmployerEngagement {
            as_of,
            masked: counts.iter().any(Option::is_none),
            employers_visited: counts[0],
            visits: counts[1],
            employers_with_needs: counts[2],
            needs: counts[3],
            employers_hosting: counts[4],
            immersions_hosted: counts[5],
            proposals: counts[6],
            proposals_answered: counts[7],
            median_days_to_answer: counts[7].and(f.median_days_to_answer),
            waiting_over_seven_days: counts[8],
        })
    }
}
