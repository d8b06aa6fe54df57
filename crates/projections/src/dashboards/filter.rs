//! What the figures are restricted to, and where each filter reads in a
//! dashboard's query.

use passerelle_domain::immersion::Objective;
use passerelle_domain::values::AgeBand;
use sqlx::{Postgres, QueryBuilder};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::views::tag;

/// What the figures are restricted to. Every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Immersions proposed from this day…
    pub from: Option<Date>,
    /// …to this day, inclusive.
    pub to: Option<Date>,
    pub structure: Option<Uuid>,
    pub mediator: Option<Uuid>,
    pub departement: Option<String>,
    pub region: Option<String>,
    pub naf: Option<String>,
    pub rome: Option<String>,
    pub objective: Option<Objective>,
    pub age_band: Option<AgeBand>,
    /// People with a disability recognition recorded with their consent.
    pub disability: Option<bool>,
}

/// A query failed, or a filter was given that a dashboard cannot apply.
#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    /// The filter field (its GraphQL name) that does not apply.
    #[error("the filter {0} does not apply to this dashboard")]
    NotApplicable(&'static str),
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
    /// A row holds a value this code does not know.
    #[error(transparent)]
    Stored(#[from] crate::views::UnknownTag),
}

/// Where each filter reads in one dashboard's query: a column expression,
/// or `None` when the filter does not apply there.
pub(super) struct Columns {
    /// The day the period filters read, if they apply.
    pub(super) day: Option<&'static str>,
    pub(super) structure: Option<&'static str>,
    pub(super) mediator: Option<&'static str>,
    pub(super) departement: Option<&'static str>,
    pub(super) region: Option<&'static str>,
    pub(super) naf: Option<&'static str>,
    /// An array column.
    pub(super) rome: Option<&'static str>,
    pub(super) objective: Option<&'static str>,
    pub(super) age_band: Option<&'static str>,
    /// The person the row is about, for the disability filter.
    pub(super) person: Option<&'static str>,
}

pub(super) const IMMERSION_COLUMNS: Columns = Columns {
    day: Some("i.proposed_on"),
    structure: Some("i.structure"),
    mediator: Some("i.mediator"),
    departement: Some("i.departement"),
    region: Some("i.region"),
    naf: Some("i.naf"),
    rome: Some("i.rome_codes"),
    objective: Some("i.objective"),
    age_band: Some("i.age_band"),
    person: Some("i.person_id"),
};

/// Appends ` and …` conditions for `filter`, reading where `columns` says.
pub(super) fn restrict(
    q: &mut QueryBuilder<Postgres>,
    filter: &Filter,
    columns: &Columns,
) -> Result<(), DashboardError> {
    fn column(
        column: Option<&'static str>,
        name: &'static str,
    ) -> Result<&'static str, DashboardError> {
        column.ok_or(DashboardError::NotApplicable(name))
    }
    if let Some(from) = filter.from {
        q.push(format_args!(" and {} >= ", column(columns.day, "from")?))
            .push_bind(from);
    }
    if let Some(to) = filter.to {
        q.push(format_args!(" and {} <= ", column(columns.day, "to")?))
            .push_bind(to);
    }
    // Objective and age band as the rows keep them (`views::tag`).
    let texts = [
        (
            columns.departement,
            "departement",
            filter.departement.clone(),
        ),
        (columns.region, "region", filter.region.clone()),
        (columns.naf, "naf", filter.naf.clone()),
        (
            columns.objective,
            "objective",
            filter.objective.as_ref().map(tag),
        ),
        (
            columns.age_band,
            "ageBand",
            filter.age_band.as_ref().map(tag),
        ),
    ];
    for (at, name, value) in texts {
        if let Some(value) = value {
            q.push(format_args!(" and {} = ", column(at, name)?))
                .push_bind(value);
        }
    }
    let ids = [
        (columns.structure, "structureId", filter.structure),
        (columns.mediator, "mediatorId", filter.mediator),
    ];
    for (at, name, value) in ids {
        if let Some(value) = value {
            q.push(format_args!(" and {} = ", column(at, name)?))
                .push_bind(value);
        }
    }
    if let Some(rome) = &filter.rome {
        let at = column(columns.rome, "rome")?;
        q.push(" and ")
            .push_bind(rome.clone())
            .push(format_args!(" = any({at})"));
    }
    if let Some(disability) = filter.disability {
        let at = column(columns.person, "disability")?;
        q.push(format_args!(
            " and exists (select 1 from dashboards.people d where d.person_id = {at} and d.disability = "
        ))
        .push_bind(disability)
        .push(")");
    }
    Ok(())
}

/// The instant bound of an `as_of` (now when `None`), as a SQL expression
/// pushed into `q`.
pub(super) fn push_as_of(q: &mut QueryBuilder<Postgres>, as_of: Option<OffsetDateTime>) {
    q.push("coalesce(")
        .push_bind(as_of)
        .push("::timestamptz, 'infinity')");
}

pub(super) const VISIT_COLUMNS: Columns = Columns {
    day: Some("v.visited_on"),
    structure: Some("v.structure"),
    mediator: Some("v.mediator"),
    departement: Some("e.departement"),
    region: Some("e.region"),
    naf: Some("e.naf"),
    rome: None,
    objective: None,
    age_band: None,
    person: None,
};

pub(super) const NEED_COLUMNS: Columns = Columns {
    day: Some("n.surfaced_on"),
    structure: Some("n.structure"),
    mediator: Some("n.mediator"),
    departement: Some("e.departement"),
    region: Some("e.region"),
    naf: Some("e.naf"),
    rome: None,
    objective: None,
    age_band: None,
    person: None,
};

/// The join from visits or needs to their employers, which only the
/// employers' own filters need: every visit and need is of a registered
/// employer (a visit is logged on the employer's stream, and a need for an
/// employer the views do not know is refused), so without those filters the
/// join selects every row and costs a hash of the employers for nothing.
pub(super) fn employers_join(filter: &Filter) -> &'static str {
    if filter.departement.is_some() || filter.region.is_some() || filter.naf.is_some() {
        " join dashboards.employers e using (employer_id)"
    } else {
        ""
    }
}
