//! The access log of health data: every read of a person's disability
//! recognition, by whom, when and through what, for the structure's
//! managers to consult. Owns the `health_data_reads` table.

use sqlx::PgExecutor;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::AccountError;

/// Where the health data was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
pub enum ReadThrough {
    /// The person's file (the `disabilityRecognition` field).
    PersonFile,
    /// The export of everything held about the person.
    DataExport,
}

impl ReadThrough {
    pub fn as_str(self) -> &'static str {
        match self {
            ReadThrough::PersonFile => "person_file",
            ReadThrough::DataExport => "data_export",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [ReadThrough::PersonFile, ReadThrough::DataExport]
            .into_iter()
            .find(|t| t.as_str() == s)
    }
}

/// One read of a person's health data.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct HealthRead {
    pub id: i64,
    pub structure_id: Uuid,
    pub person_id: Uuid,
    /// `user:<id>` or `person:<id>`.
    pub reader: String,
    pub reader_role: String,
    /// The staff member's name as their account holds it now; none for the
    /// person herself.
    pub reader_name: Option<String>,
    pub through: String,
    pub read_at: OffsetDateTime,
}

/// Who reads, as recorded.
#[derive(Debug, Clone, Copy)]
pub struct Reader<'a> {
    pub structure: Uuid,
    /// `user:<id>` or `person:<id>`.
    pub id: &'a str,
    pub role: &'a str,
}

/// Records that `reader` read `person`'s health data through `through`.
pub async fn record_read(
    db: impl PgExecutor<'_>,
    reader: Reader<'_>,
    person: Uuid,
    through: ReadThrough,
    at: OffsetDateTime,
) -> Result<(), AccountError> {
    sqlx::query(
        "insert into health_data_reads (structure_id, person_id, reader, reader_role, through, read_at)
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(reader.structure)
    .bind(person)
    .bind(reader.id)
    .bind(reader.role)
    .bind(through.as_str())
    .bind(at)
    .execute(db)
    .await?;
    Ok(())
}

/// The structure's reads, newest first: of one person when given, below the
/// id `before` when given, at most `limit`.
pub async fn reads(
    db: impl PgExecutor<'_>,
    structure: Uuid,
    person: Option<Uuid>,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<HealthRead>, AccountError> {
    Ok(sqlx::query_as(
        "select r.id, r.structure_id, r.person_id, r.reader, r.reader_role, u.name as reader_name,
                r.through, r.read_at
         from health_data_reads r
         left join users u
           on u.user_id = case when r.reader ~ '^user:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                               then substr(r.reader, 6)::uuid end
          and u.structure_id = r.structure_id
         where r.structure_id = $1
           and ($2::uuid is null or r.person_id = $2)
           and ($3::bigint is null or r.id < $3)
         order by r.id desc limit $4",
    )
    .bind(structure)
    .bind(person)
    .bind(before)
    .bind(limit)
    .fetch_all(db)
    .await?)
}
