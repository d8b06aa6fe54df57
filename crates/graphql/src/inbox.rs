//! A mediator's inbox: what to do today, most pressing first, each task
//! saying what and why in French and pointing at what to act on; and its
//! live updates over WebSocket.

use std::time::Duration as StdDuration;

use async_graphql::{Context, ID, Object, Result, SimpleObject, Subscription};
use passerelle_app::{Actor, Role};
use passerelle_domain::values::UserId;
use passerelle_projections::inbox::{self, Task, TaskKind};

use crate::context::{Gateway, gateway, staff, user_of};
use crate::error;
use crate::input::parse_id;

/// One thing to do.
#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct InboxTask {
    pub kind: TaskKind,
    /// What to do and why, in French.
    pub title: String,
    pub due_on: time::Date,
    /// 0 when on time. For assessments, 3 or 10 once past that many
    /// business days after the end; otherwise days past due.
    pub overdue_days: i64,
    /// Where to act: the immersion, need or employer concerned.
    pub link: String,
    /// The person an immersion's task is about, for the staff of her
    /// structure; null for a need's task, or once her data was erased.
    pub person_id: Option<ID>,
    /// Her name ("Awa Diallo"), as `personId`.
    pub person_name: Option<String>,
    pub immersion_id: Option<ID>,
    pub need_id: Option<ID>,
    pub accident_id: Option<ID>,
    pub employer_name: Option<String>,
}

#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct Inbox {
    pub tasks: Vec<InboxTask>,
    /// Tasks already late.
    pub overdue: i64,
}

/// A task as the API gives it, with whom it is about (her id and name)
/// when the reader may name her.
fn task(task: &Task, person: Option<&(uuid::Uuid, String)>) -> InboxTask {
    InboxTask {
        kind: task.kind,
        title: task.title(),
        due_on: task.due,
        overdue_days: task.overdue_days,
        link: task.link(),
        person_id: person.map(|(id, _)| ID(id.to_string())),
        person_name: person.map(|(_, name)| name.clone()),
        immersion_id: task.immersion_id.map(|i| ID(i.to_string())),
        need_id: task.need_id.map(|n| ID(n.to_string())),
        accident_id: task.accident_id.map(|a| ID(a.to_string())),
        employer_name: task.employer_name.clone(),
    }
}

/// `whose` tasks, as `reader` (the same, or a manager of her structure)
/// reads them: the people named as the policy lets the reader name them.
async fn inbox_of(gateway: &Gateway, whose: &Actor, reader: &Actor) -> Result<Inbox> {
    let facts = inbox::facts(&gateway.pool, user_of(whose), whose.structure.as_uuid())
        .await
        .map_err(|e| error::internal(&e))?;
    let clock = gateway.handler.clock();
    let found = inbox::tasks(&facts, clock.today(), clock.now());
    let ids: Vec<uuid::Uuid> = found.iter().filter_map(|t| t.immersion_id).collect();
    let named = match passerelle_app::policy::names_people_of(reader) {
        Some(structure) if !ids.is_empty() => {
            passerelle_projections::views::people::named_in_immersions(
                &gateway.pool,
                structure,
                &ids,
            )
            .await
            .map_err(|e| error::internal(&e))?
        }
        _ => std::collections::HashMap::new(),
    };
    let tasks: Vec<InboxTask> = found
        .iter()
        .map(|t| task(t, t.immersion_id.and_then(|i| named.get(&i))))
        .collect();
    Ok(Inbox {
        overdue: tasks.iter().filter(|t| t.overdue_days > 0).count() as i64,
        tasks,
    })
}

#[derive(Default, Debug)]
pub struct InboxQuery;

#[Object]
impl InboxQuery {
    /// A mediator's tasks, most pressing first: the logged-in staff
    /// member's, or (for a manager or an admin) a colleague's of the same
    /// structure.
    async fn inbox(&self, ctx: &Context<'_>, mediator_id: Option<ID>) -> Result<Inbox> {
        let actor = staff(ctx)?;
        let gw = gateway(ctx);
        let whose = match mediator_id {
            None => actor.clone(),
            Some(id) => {
                let id = UserId(parse_id(&id, "Médiateur")?);
                if id.0 == user_of(&actor) {
                    actor.clone()
                } else if !passerelle_app::policy::reads_colleagues_inbox(&actor) {
                    return Err(error::forbidden());
                } else {
                    // A deactivated colleague's tasks are still to be done.
                    let member = passerelle_accounts::staff_member_even_deactivated(&gw.pool, id)
                        .await
                        .map_err(|e| error::internal(&e))?;
                    match member {
                        // Another structure's staff answer as if unknown.
                        Some(user)
                            if passerelle_app::policy::reaches_colleague(
                                &actor,
                                user.structure,
                            ) =>
                        {
                            Actor::user(user.user_id, Role::Mediator, user.structure)
                        }
                        _ => return Err(error::not_found("Médiateur")),
                    }
                }
            }
        };
        inbox_of(gw, &whose, &actor).await
    }
}

/// When the inbox is read again after a command: it is kept by the runner,
/// shortly after the command's own transaction, later when a long
/// transaction elsewhere on the server holds the runner back.
const SETTLE: [StdDuration; 4] = [
    StdDuration::from_millis(300),
    StdDuration::from_millis(700),
    StdDuration::from_secs(2),
    StdDuration::from_secs(5),
];
/// Tasks also come due with time alone.
const TICK: StdDuration = StdDuration::from_secs(60);

#[derive(Default, Debug)]
pub struct InboxSubscription;

#[Subscription]
impl InboxSubscription {
    /// The logged-in mediator's inbox now, then each time it changes.
    async fn inbox_changed(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl futures::Stream<Item = Result<Inbox>> + use<>> {
        let actor = staff(ctx)?;
        let gw = gateway(ctx).clone();
        let changes = gw.handler.changes();
        Ok(futures::stream::unfold(
            (changes, gw, actor, None::<Inbox>),
            |(mut changes, gw, actor, last)| async move {
                let Some(last) = last else {
                    // The inbox as it stands, at once.
                    return Some(match inbox_of(&gw, &actor, &actor).await {
                        Ok(inbox) => (Ok(inbox.clone()), (changes, gw, actor, Some(inbox))),
                        // Said once; the next read waits for a change or a tick.
                        Err(e) => {
                            let empty = Inbox {
                                tasks: Vec::new(),
                                overdue: 0,
                            };
                            (Err(e), (changes, gw, actor, Some(empty)))
                        }
                    });
                };
                loop {
                    let ticked = match tokio::time::timeout(TICK, changes.recv()).await {
                        Err(_) => true,
                        Ok(Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {
                            false
                        }
                        Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) => return None,
                    };
                    let waits: &[StdDuration] = if ticked {
                        &[StdDuration::ZERO]
                    } else {
                        &SETTLE
                    };
                    for wait in waits {
                        tokio::time::sleep(*wait).await;
                        // Commands that came meanwhile are covered by this read.
                        while changes.try_recv().is_ok() {}
                        match inbox_of(&gw, &actor, &actor).await {
                            Ok(inbox) if inbox == last => continue,
                            Ok(inbox) => {
                                return Some((
                                    Ok(inbox.clone()),
                                    (changes, gw, actor, Some(inbox)),
                                ));
                            }
                            Err(e) => return Some((Err(e), (changes, gw, actor, Some(last)))),
                        }
                    }
                }
            },
        ))
    }
}
