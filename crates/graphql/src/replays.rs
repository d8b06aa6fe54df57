//! A mutation sent again under the same `commandId` is answered as the
//! first time was. The command path already appends nothing the second
//! time; without the answer kept, the payload would show the object as it
//! stands since, which a client retrying after a lost response would take
//! for the effect of its own command.
//!
//! The answer of a top-level mutation field is kept (sealed, an hour, in
//! `store`) under its command id with a digest of the field, its arguments
//! and its selection, and the actor. The same request by the same actor
//! gets it back; anything else goes to the command path, which refuses
//! another command under a used id with `CONFLICT`.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest, NextResolve, ResolveInfo,
};
use async_graphql::{Name, Request, ServerResult, Value, Variables};
use uuid::Uuid;

use crate::context::{Gateway, SessionCheck, Viewer, viewer_of_token};

/// The extension that keeps and gives back mutations' answers.
pub(crate) struct Replays;

impl ExtensionFactory for Replays {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ReplaysExtension)
    }
}

struct ReplaysExtension;

/// The request's variables, for the arguments of a field that names them.
struct RequestVariables(Variables);

#[async_trait::async_trait]
impl Extension for ReplaysExtension {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let variables = RequestVariables(request.variables.clone());
        next.run(ctx, request.data(variables)).await
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        if info.parent_type != "Mutation" {
            return next.run(ctx, info).await;
        }
        let Some(request) = KeyedRequest::of(ctx, &info) else {
            return next.run(ctx, info).await;
        };
        let Some(gateway) = ctx.data_opt::<Gateway>() else {
            return next.run(ctx, info).await;
        };
        // A session taken as it was is checked by the command only
        // (`context::viewer_of_request`): before an answer is given
        // without the command, it is looked up. One that no longer stands
        // goes to the command, which refuses it.
        if ctx.data_opt::<SessionCheck>().is_some() && !still_stands(ctx, gateway).await {
            return next.run(ctx, info).await;
        }
        let store = gateway.handler.store();
        let now = gateway.handler.clock().now();
        let digest = store.request_digest(request.text.as_bytes());
        match store
            .kept_answer(store.pool(), request.command_id, now)
            .await
        {
            Ok(Some(kept)) if kept.actor == request.actor && kept.request_digest == digest => {
                // Read as GraphQL's value, whose objects keep their
                // fields' order: the answer given again is the same text.
                if let Ok(value) = serde_json::from_slice::<Value>(&kept.answer) {
                    return Ok(Some(value));
                }
            }
            Ok(_) => {}
            // Without the kept answer the command path still appends
            // nothing twice: the request goes on.
            Err(e) => tracing::warn!(error = %e, "kept answer unreadable"),
        }
        let answer = next.run(ctx, info).await?;
        if let Some(value) = &answer
            && let Err(e) = store
                .keep_answer(
                    store.pool(),
                    request.command_id,
                    &request.actor,
                    &digest,
                    value,
                    now,
                )
                .await
        {
            tracing::warn!(error = %e, "answer not kept for its command id");
        }
        Ok(answer)
    }
}

/// Forgets the answers kept for the staff and the sessions of the
/// structure of `person`, who is being erased: an answer of the last hour
/// may quote them (their name in a payload), and only their structure's
/// actors reach them. Part of the erasure's transaction. A retry of one of
/// those requests then goes to the command path, which appends nothing
/// twice and answers with the object as it stands. Returns how many
/// answers went.
pub(crate) async fn forget_answers_about(
    conn: &mut sqlx::PgConnection,
    person: Uuid,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "with theirs as (
             select tenant from streams where stream_id = 'person-' || $1::text
         )
         delete from command_answers
         where actor like '%@' || (select tenant::text from theirs)
            or actor in (select 'user:' || u.user_id::text
                         from users u join theirs t on u.structure_id = t.tenant)",
    )
    .bind(person)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}

/// Forgets every answer kept under a command id, for the erasure of an
/// employer's contact: any actor who reaches the establishment may have had
/// the contact's name or address in an answer, and answers are sealed, so
/// they cannot be searched for it. They are kept an hour only; a retry then
/// goes to the command path, which appends nothing twice. Part of the
/// erasure's transaction.
pub(crate) async fn forget_all_answers(conn: &mut sqlx::PgConnection) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("delete from command_answers")
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected())
}

/// Whether the request's staff session, taken as it was, still stands for
/// the same user, structure and role.
async fn still_stands(ctx: &ExtensionContext<'_>, gateway: &Gateway) -> bool {
    let Some(viewer) = ctx.data_opt::<Viewer>() else {
        return false;
    };
    match viewer_of_token(gateway, viewer.token.clone()).await {
        Ok(now) => now.user.is_some() && now.user == viewer.user,
        Err(e) => {
            tracing::error!(error = %e, "session lookup failed");
            false
        }
    }
}

/// A mutation field sent with a command id, by someone.
struct KeyedRequest {
    command_id: Uuid,
    actor: String,
    /// The field, its arguments with the variables in place, and its
    /// selection: what must be the same for the answer to be.
    text: String,
}

impl KeyedRequest {
    fn of(ctx: &ExtensionContext<'_>, info: &ResolveInfo<'_>) -> Option<Self> {
        let viewer = ctx.data_opt::<Viewer>()?;
        let actor = match (&viewer.user, &viewer.principal) {
            (Some(user), _) => format!("user:{}", user.user_id.0),
            (None, Some(session)) => {
                format!("{:?}@{}", session.principal, session.structure.as_uuid())
            }
            (None, None) => return None,
        };
        let variables = ctx.data_opt::<RequestVariables>();
        let mut arguments = std::collections::BTreeMap::new();
        for (name, value) in &info.field.arguments {
            let value = value
                .node
                .clone()
                .into_const_with(|var: Name| {
                    variables.and_then(|v| v.0.get(&var).cloned()).ok_or(())
                })
                .ok()?;
            arguments.insert(name.node.to_string(), canonical(value.into_json().ok()?));
        }
        let command_id = arguments
            .get("commandId")
            .or_else(|| arguments.get("input")?.get("commandId"))?
            .as_str()?
            .parse()
            .ok()?;
        // Keys in order at every level: the same arguments give the same
        // text whatever order they were written in.
        let text = format!(
            "{}\u{0}{}\u{0}{:?}",
            info.name,
            serde_json::to_string(&arguments).ok()?,
            info.field.selection_set.node
        );
        Some(Self {
            command_id,
            actor,
            text,
        })
    }
}

/// A JSON value with its objects' keys sorted, at every level.
fn canonical(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => {
            let sorted: std::collections::BTreeMap<String, serde_json::Value> =
                map.into_iter().map(|(k, v)| (k, canonical(v))).collect();
            serde_json::Value::Object(sorted.into_iter().collect())
        }
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.into_iter().map(canonical).collect())
        }
        other => other,
    }
}
