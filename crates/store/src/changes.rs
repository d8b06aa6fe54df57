//! Telling the other replicas which streams changed: one `NOTIFY` per
//! stream on [`CHANNEL`], sent after the commit that changed them (a
//! notification is delivered at its own transaction's commit, so it is
//! never sent from inside an append: a failed publish cannot undo a command).

use sqlx::PgExecutor;
use uuid::Uuid;

/// The channel every replica listens on.
pub const CHANNEL: &str = "passerelle_changes";

/// What a payload names instead of a stream when whatever a listener heard
/// before may be incomplete: subscribers read everything again.
pub const EVERYTHING: &str = "*";

/// A notification's payload: the replica that sent it and the stream.
pub fn payload(origin: Uuid, stream: &str) -> String {
    format!("{} {stream}", origin.simple())
}

/// The replica and the stream a payload names; `None` when it is not ours.
pub fn parse(payload: &str) -> Option<(Uuid, &str)> {
    let (origin, stream) = payload.split_once(' ')?;
    Some((Uuid::try_parse(origin).ok()?, stream))
}

/// Sends one notification per stream, in one statement. PostgreSQL folds
/// identical notifications of one transaction into one.
pub async fn publish(
    db: impl PgExecutor<'_>,
    origin: Uuid,
    streams: &[String],
) -> Result<(), sqlx::Error> {
    if streams.is_empty() {
        return Ok(());
    }
    let payloads: Vec<String> = streams.iter().map(|s| payload(origin, s)).collect();
    sqlx::query("select pg_notify($1, p) from unnest($2::text[]) p")
        .bind(CHANNEL)
        .bind(&payloads)
        .execute(db)
        .await?;
    Ok(())
}
