//! The command path: load → context → decide → append → inline views,
//! retried on a version conflict. The stream is read with the command id's
//! lookup in one statement; the append and the inline views are written in
//! one statement when the views allow it (`Projection::inline_writes`), in
//! one transaction otherwise. On a state kept from an earlier command, the
//! command is decided before the read, and the read is skipped when that
//! one statement appends it, with the read's checks in it.

use std::sync::Arc;

use async_trait::async_trait;
use passerelle_domain::EventType;
use passerelle_store::projection::Projections;
use passerelle_store::{
    Append, AppendResult, AppendedCommand, ExpectedVersion, Guard, LogPosition, Metadata, NewEvent,
    RecordedEvent, Store, StoreError,
};
use sqlx::PgConnection;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::actor::Actor;
use crate::aggregate::Aggregate;
use crate::cache::StateCache;
use crate::clock::Clock;
use crate::error::AppError;

/// How many times a command is decided again after losing a race on its
/// stream before the caller is told to retry.
const MAX_ATTEMPTS: usize = 5;

/// How many aggregate states are kept between commands, and for how long.
const CACHED_STATES: usize = 10_000;
const CACHED_STATE_TTL: std::time::Duration = std::time::Duration::from_secs(60);

tokio::task_local! {
    /// The check every command carried within [`Handler::checking`] makes
    /// in the statement that reads its stream, or in its append's.
    static CHECK: Option<Guard>;
}

/// What identifies one issuing of a command.
#[derive(Debug, Clone)]
pub struct CommandMeta {
    /// Chosen by the client: the same id sent twice appends once.
    pub command_id: Uuid,
    /// Groups everything one request or job run caused.
    pub correlation_id: Uuid,
    pub causation_id: Option<Uuid>,
    pub actor: Actor,
}

/// Reads what a decision needs beyond the stream, inside the command's
/// transaction: today's date and facts from views.
#[async_trait]
pub trait ContextSource<A: Aggregate>: Send + Sync {
    async fn context(
        &self,
        conn: &mut PgConnection,
        state: &A::State,
        command: &A::Command,
        now: OffsetDateTime,
        today: Date,
    ) -> Result<A::Context, AppError>;
}

/// What a command did.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub stream_id: String,
    /// The stream's version after the command.
    pub version: i64,
    /// The events appended now: empty when the decision changed nothing or
    /// when the command had already been carried out.
    pub events: Vec<RecordedEvent>,
    /// True when the same command id had already been appended: nothing was
    /// decided or written this time.
    pub replayed: bool,
    /// What the inline views' writes returned, by projection, when they
    /// ran in the append's own statement (`Projection::inline_writes`):
    /// rows as the command left them, for its answer without reading them
    /// again. Empty otherwise.
    pub written: Vec<(&'static str, serde_json::Value)>,
}

/// Carries commands to the store. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Handler {
    store: Store,
    projections: Arc<Projections>,
    clock: Arc<dyn Clock>,
    /// The stream ids subscribers hear: commits made here, and those other
    /// replicas made once `fanout` relays them.
    changes: tokio::sync::broadcast::Sender<String>,
    /// The stream ids of commits made here only, which `fanout` publishes.
    committed: tokio::sync::broadcast::Sender<String>,
    pub(crate) states: Arc<StateCache>,
}

impl Handler {
    pub fn new(projections: Arc<Projections>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store: projections.store().clone(),
            projections,
            clock,
            changes: tokio::sync::broadcast::channel(1024).0,
            committed: tokio::sync::broadcast::channel(1024).0,
            states: Arc::new(StateCache::new(CACHED_STATES, CACHED_STATE_TTL)),
        }
    }

    /// Stream ids as commands change them, from now on.
    pub fn changes(&self) -> tokio::sync::broadcast::Receiver<String> {
        self.changes.subscribe()
    }

    /// Stream ids as commands carried by this process change them, from now
    /// on: what other replicas are told.
    pub fn committed(&self) -> tokio::sync::broadcast::Receiver<String> {
        self.committed.subscribe()
    }

    /// Tells subscribers of a change committed elsewhere (a stream id, or
    /// [`crate::RESYNC`]).
    pub fn announce(&self, stream_id: String) {
        let _ = self.changes.send(stream_id);
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The views a command keeps; an erasure purges them in its own
    /// transaction.
    pub fn projections(&self) -> &Projections {
        &self.projections
    }

    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    /// Runs `work` with `check` made by each command it carries, in the
    /// statement that reads the command's stream (no round trip of its
    /// own), or in the append's when the command was decided on a kept
    /// state before its stream was read (views only read then): a command
    /// whose check fails is refused with [`AppError::CheckFailed`] before
    /// anything is written or said of what was read. The
    /// gateway checks there a session it knew already, instead of looking
    /// it up again first.
    pub async fn checking<F: std::future::Future>(check: Option<Guard>, work: F) -> F::Output {
        CHECK.scope(check, work).await
    }

    /// Decides `command` on the aggregate `id` and appends what it yields.
    /// A refusal appends nothing; a retried command id answers as the first
    /// time did, without deciding again, and a command id already used for
    /// another command is refused with [`AppError::CommandReused`].
    pub async fn execute<A: Aggregate>(
        &self,
        id: A::Id,
        command: &A::Command,
        meta: &CommandMeta,
        source: &dyn ContextSource<A>,
    ) -> Result<Outcome, AppError> {
        let stream_id = A::stream_id(id);
        let fingerprint = self.fingerprint(&stream_id, command, meta);
        let check = CHECK.try_with(Clone::clone).ok().flatten();
        for attempt in 1..=MAX_ATTEMPTS {
            // Outside a transaction until the append: the compare-and-set on
            // the stream's version guards the decision, and a statement
            // reads what was committed before it either way.
            // Kept warm: a connection whose statements all completed goes
            // back without the pool's ping, a round trip of its own.
            let mut conn = self.store.acquire_warm().await?;
            // A state kept from an earlier command here: only the events
            // appended since (by this replica or another) are read.
            let (cached, mut state) = self.states.take::<A::State>(&stream_id).unwrap_or_default();
            // On a state kept from an earlier command here, the command is
            // decided before its stream is read, and appended with the
            // read's checks (the session, in the statement; the stream's
            // version, by the compare-and-set) when the views can be
            // written in the same statement: a round trip fewer. Whatever
            // else (a refusal, nothing to do, an append in a transaction,
            // the stream moved, this command id already used, the check
            // not held) goes through the read, which the decision stands
            // after when it brings no event.
            let mut early = None;
            // A context that cannot be read is said after the read, which
            // checks the session first.
            let context = if A::DECIDED_BEFORE_READ && attempt == 1 && cached > 0 {
                let now = self.clock.now();
                source
                    .context(&mut conn, &state, command, now, self.clock.today())
                    .await
                    .ok()
                    .map(|context| (now, context))
            } else {
                None
            };
            if let Some((now, context)) = context {
                let decided = A::decide(command, &state, &context);
                // One event, sealed with no key (its subject, given the
                // state before it, is this state's): the kept state is
                // moved on only once it is appended.
                if let Ok([event]) = decided.as_deref()
                    && A::subject(&state, event).is_none()
                    && let Ok(new) = new_event::<A>(event, None)
                    && let Some(outcome) = self
                        .append_kept(
                            &mut conn,
                            &stream_id,
                            cached,
                            std::slice::from_ref(&new),
                            meta,
                            now,
                            &fingerprint,
                            check.as_ref(),
                        )
                        .await
                {
                    conn.finished();
                    self.states
                        .put(&stream_id, outcome.version, A::evolve(state, event));
                    return Ok(outcome);
                }
                early = Some((now, decided));
            }
            // The command id is looked up in the same statement: one
            // snapshot for both, so a first attempt of this command that the
            // read sees is found too, and the command is not decided against
            // its own effects.
            let (recorded, done, allowed) = self
                .store
                .read_stream_guarded(
                    &mut conn,
                    &stream_id,
                    cached + 1,
                    meta.command_id,
                    check.as_ref(),
                )
                .await?;
            if !allowed {
                conn.finished();
                return Err(AppError::CheckFailed);
            }
            let done = already_done(done, &stream_id, &fingerprint, meta)?;
            let version = recorded.last().map_or(cached, |e| e.version);
            for event in &recorded {
                let event: A::Event = event.decode().map_err(|source| AppError::Decode {
                    event_type: event.event_type.clone(),
                    source,
                })?;
                state = A::evolve(state, &event);
            }
            if let Some(done) = done {
                conn.finished();
                self.states.put(&stream_id, version, state);
                return Ok(done);
            }
            // Decided on the state the read found unchanged: decided again
            // only when the read brought events.
            let (now, decided) = match early.filter(|_| recorded.is_empty()) {
                Some(early) => early,
                None => {
                    let now = self.clock.now();
                    let context = source
                        .context(&mut conn, &state, command, now, self.clock.today())
                        .await?;
                    (now, A::decide(command, &state, &context))
                }
            };
            let decided = match decided {
                Ok(decided) => decided,
                Err(refused) => {
                    conn.finished();
                    self.states.put(&stream_id, version, state);
                    return Err(refused.into());
                }
            };
            if decided.is_empty() {
                conn.finished();
                self.states.put(&stream_id, version, state);
                return Ok(Outcome {
                    stream_id,
                    version,
                    events: Vec::new(),
                    replayed: false,
                    written: Vec::new(),
                });
            }
            let (new_events, after) = to_append::<A>(&decided, state)?;
            state = after;
            let metadata = metadata(meta);
            let append = Append {
                stream_id: &stream_id,
                expected: ExpectedVersion::Exact(version),
                events: &new_events,
                metadata: &metadata,
                // The injected clock's time: the instant the decision was
                // taken, which dashboards "as of" a date compare with (and
                // which a seeded history sets in the past).
                recorded_at: Some(now),
            };
            // The append and the inline views in one statement when the
            // views can be written without reading them first. Events about
            // a subject born with this stream (a person enrolled) are sealed
            // with a key made for them, which that statement inserts; about
            // another subject, with their key, read in a transaction.
            let own = stream_id
                .split_once('-')
                .and_then(|(_, id)| id.parse::<Uuid>().ok());
            let fused = if new_events
                .iter()
                .all(|e| e.subject.is_none() || (version == 0 && e.subject == own))
            {
                let preview = preview(&append, version, now);
                self.projections
                    .append_inline(&mut conn, &append, Some(&fingerprint), &preview, None)
                    .await
                    .transpose()
            } else {
                None
            };
            let appended = match fused {
                Some(fused) => fused.map(|(result, written)| (result, written, None)),
                None => {
                    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                    match self
                        .store
                        .append_command_in(&mut tx, &append, Some(&fingerprint))
                        .await
                    {
                        Ok(result) => Ok((result, Vec::new(), Some(tx))),
                        Err(e) => {
                            tx.rollback().await?;
                            Err(e)
                        }
                    }
                }
            };
            let mut committed = None;
            // Moved into the match, so a transaction left in it ends there.
            match std::convert::identity(appended) {
                Ok((result, _, _)) if result.replayed => {
                    return Ok(Outcome {
                        stream_id,
                        version: result.stream_version,
                        events: Vec::new(),
                        replayed: true,
                        written: Vec::new(),
                    });
                }
                Ok((result, written, tx)) => {
                    let events = result.recorded(&new_events, &metadata, &stream_id);
                    if let Some(mut tx) = tx {
                        self.projections.apply_inline(&mut tx, &events).await?;
                        tx.commit().await?;
                    }
                    self.states.put(&stream_id, result.stream_version, state);
                    committed = Some(self.announced(stream_id.clone(), result, events, written));
                }
                Err(StoreError::Conflict { .. }) => {
                    tracing::debug!(stream = %stream_id, attempt, "version conflict, deciding again");
                }
                Err(StoreError::CommandReused { command_id }) => {
                    return Err(AppError::CommandReused { command_id });
                }
                Err(e) => return Err(e.into()),
            }
            if let Some(outcome) = committed {
                // The transaction, if any, ended: the connection is idle.
                conn.finished();
                return Ok(outcome);
            }
        }
        Err(AppError::Busy { stream_id })
    }

    /// Appends `new_events`, decided on the state kept at `cached`, with
    /// the inline views in one statement that also makes `check`: the
    /// outcome when they were appended. `None` when anything else happened
    /// (the views not writable in one statement, the stream moved, the
    /// check not held, this command id already used, an error): nothing
    /// was appended now, and the caller reads the stream, which says which,
    /// the session checked before anything is said.
    #[expect(clippy::too_many_arguments, reason = "one command's parts")]
    async fn append_kept(
        &self,
        conn: &mut PgConnection,
        stream_id: &str,
        cached: i64,
        new_events: &[NewEvent],
        meta: &CommandMeta,
        now: OffsetDateTime,
        fingerprint: &[u8],
        check: Option<&Guard>,
    ) -> Option<Outcome> {
        let metadata = metadata(meta);
        let append = Append {
            stream_id,
            expected: ExpectedVersion::Exact(cached),
            events: new_events,
            metadata: &metadata,
            recorded_at: Some(now),
        };
        let preview = preview(&append, cached, now);
        match self
            .projections
            .append_inline(conn, &append, Some(fingerprint), &preview, check)
            .await
        {
            Ok(Some((result, written))) if !result.replayed => {
                let events = result.recorded(new_events, &metadata, stream_id);
                Some(self.announced(stream_id.to_owned(), result, events, written))
            }
            Ok(_) => None,
            Err(e) => {
                tracing::debug!(stream = %stream_id, kind = ?std::mem::discriminant(&e), "not appended on the kept state: read first");
                None
            }
        }
    }

    /// Tells the store's readers and this process's subscribers of a
    /// command's events committed, and says its outcome.
    fn announced(
        &self,
        stream_id: String,
        result: AppendResult,
        events: Vec<RecordedEvent>,
        written: Vec<(&'static str, serde_json::Value)>,
    ) -> Outcome {
        self.store.notify_appended();
        // Nobody listening is not an error.
        let _ = self.changes.send(stream_id.clone());
        let _ = self.committed.send(stream_id.clone());
        Outcome {
            stream_id,
            version: result.stream_version,
            events,
            replayed: false,
            written,
        }
    }

    /// What the command is, for telling a retry from another command sent
    /// under the same id: its stream, who issues it and its whole content
    /// (every command type derives `Debug`, which writes every field). The
    /// request's correlation id is left out: a retry is another request.
    fn fingerprint<C: std::fmt::Debug>(
        &self,
        stream_id: &str,
        command: &C,
        meta: &CommandMeta,
    ) -> [u8; 32] {
        let actor = &meta.actor;
        let text = format!(
            "{stream_id}\n{}\n{:?}\n{}\n{command:?}",
            actor.id,
            actor.role,
            actor.structure.as_uuid(),
        );
        self.store.command_fingerprint(text.as_bytes())
    }
}

/// The outcome of this command id if this command was already appended.
fn already_done(
    done: Option<AppendedCommand>,
    stream_id: &str,
    fingerprint: &[u8],
    meta: &CommandMeta,
) -> Result<Option<Outcome>, AppError> {
    match done {
        None => Ok(None),
        Some(done) if done.is_same(stream_id, fingerprint) => Ok(Some(Outcome {
            stream_id: done.stream_id,
            version: done.version,
            events: Vec::new(),
            replayed: true,
            written: Vec::new(),
        })),
        Some(_) => Err(AppError::CommandReused {
            command_id: meta.command_id,
        }),
    }
}

/// The events `decided` as the store takes them (each with the subject
/// whose key seals it, given the state before it), and the state after
/// them.
fn to_append<A: Aggregate>(
    decided: &[A::Event],
    mut state: A::State,
) -> Result<(Vec<NewEvent>, A::State), AppError> {
    let mut new_events = Vec::with_capacity(decided.len());
    for event in decided {
        new_events.push(new_event::<A>(event, A::subject(&state, event))?);
        state = A::evolve(state, event);
    }
    Ok((new_events, state))
}

/// `event` as the store takes it, sealed with `subject`'s key.
fn new_event<A: Aggregate>(event: &A::Event, subject: Option<Uuid>) -> Result<NewEvent, AppError> {
    let data = serde_json::to_value(event).map_err(|source| AppError::Decode {
        event_type: event.event_type().to_owned(),
        source,
    })?;
    let mut new = NewEvent::new(event.event_type(), event.schema_version(), data);
    new.subject = subject;
    Ok(new)
}

fn metadata(meta: &CommandMeta) -> Metadata {
    Metadata {
        actor: meta.actor.id.clone(),
        role: meta.actor.role.as_str().to_owned(),
        structure: meta.actor.structure.as_uuid(),
        correlation_id: meta.correlation_id,
        causation_id: meta.causation_id,
        command_id: meta.command_id,
    }
}

/// The events as a fused append will record them, for the views written
/// in its statement: their positions are not known before.
fn preview(append: &Append<'_>, version: i64, now: OffsetDateTime) -> Vec<RecordedEvent> {
    AppendResult {
        stream_version: version + append.events.len() as i64,
        positions: vec![LogPosition::START; append.events.len()],
        recorded_at: now,
        replayed: false,
    }
    .recorded(append.events, append.metadata, append.stream_id)
}
