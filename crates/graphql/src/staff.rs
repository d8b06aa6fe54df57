//! A structure's staff as its managers and admins administer them: the
//! list, a member invited (`staffCreate`: they choose their password from
//! the mailed link, no password goes through the API), deactivated, given
//! another role; and the record of every change to accounts and settings
//! (`accountChanges`). Who may do what is `policy::administers_staff`,
//! `grants_role` and `manages_colleague`; nothing crosses structures: a
//! member of another structure answers as absent.
//!
//! Role rules: an admin gives any role, a manager a manager's or a
//! mediator's; a manager neither deactivates an admin nor changes an
//! admin's role; nobody deactivates themself or changes their own role;
//! and the structure keeps at least one active manager or admin (checked
//! under a lock on the structure, so two managers acting on each other at
//! once cannot leave none).

use async_graphql::{Context, ErrorExtensions as _, ID, InputObject, Object, Result, SimpleObject};
use passerelle_accounts::staff::{self, AccountChange, Change, Recorded, StaffMember};
use passerelle_accounts::{AccountError, StaffRole, StructureSetting};
use passerelle_app::{Actor, policy};
use passerelle_domain::values::{Email, UserId};
use passerelle_projections::views::UnknownTag;
use time::OffsetDateTime;

use crate::context::{gateway, role_of, staff as staff_actor, user_of};
use crate::error::{self, Code};
use crate::input::{after as after_key, cursor, label, page_size, parse_id};
use crate::kinds::stored;
use crate::primitives::{PageInfo, page};

fn refused(code: Code, field: &'static str, message: &str) -> async_graphql::Error {
    error::error(code, message).extend_with(|_, e| e.set("field", field))
}

/// The actor, when it administers its structure's staff.
fn administrator(ctx: &Context<'_>) -> Result<Actor> {
    let actor = staff_actor(ctx)?;
    if !policy::administers_staff(&actor) {
        return Err(error::forbidden());
    }
    Ok(actor)
}

/// A member of the viewer's structure's staff.
#[derive(Debug)]
pub struct StaffMemberNode(StaffMember);

#[Object(name = "StaffMember")]
impl StaffMemberNode {
    async fn id(&self) -> ID {
        ID(self.0.user_id.to_string())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn email(&self) -> &str {
        &self.0.email
    }
    async fn role(&self) -> StaffRole {
        self.0.role
    }
    /// False once deactivated: they can no longer log in.
    async fn active(&self) -> bool {
        self.0.active
    }
    /// False while an invited member has not chosen their password.
    async fn password_set(&self) -> bool {
        self.0.password_set
    }
    async fn last_login_at(&self) -> Option<OffsetDateTime> {
        self.0.last_login_at
    }
    async fn created_at(&self) -> OffsetDateTime {
        self.0.created_at
    }
}

#[derive(SimpleObject, Debug)]
pub struct StaffMemberEdge {
    cursor: String,
    node: StaffMemberNode,
}

#[derive(SimpleObject, Debug)]
pub struct StaffMemberConnection {
    edges: Vec<StaffMemberEdge>,
    page_info: PageInfo,
}

/// One change to accounts or to the structure's settings: who made it,
/// when, on whom.
#[derive(Debug)]
pub struct AccountChangeEntry(Recorded);

fn stored_role(value: &Option<String>) -> Result<Option<StaffRole>> {
    value
        .as_deref()
        .map(|r| {
            stored(StaffRole::parse(r).ok_or_else(|| UnknownTag {
                kind: "StaffRole",
                value: r.to_owned(),
            }))
        })
        .transpose()
}

#[Object]
impl AccountChangeEntry {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn at(&self) -> OffsetDateTime {
        self.0.at
    }
    async fn action(&self) -> Result<AccountChange> {
        stored(
            AccountChange::parse(&self.0.action).ok_or_else(|| UnknownTag {
                kind: "AccountChange",
                value: self.0.action.clone(),
            }),
        )
    }
    /// The staff member who made it; null when made from the command line.
    async fn actor_id(&self) -> Option<ID> {
        self.0.actor_user_id.map(|u| ID(u.to_string()))
    }
    async fn actor_name(&self) -> Option<&str> {
        self.0.actor_name.as_deref()
    }
    /// Their role when they made it.
    async fn actor_role(&self) -> Result<Option<StaffRole>> {
        stored_role(&Some(self.0.actor_role.clone()))
    }
    /// The account changed, if one was.
    async fn subject_id(&self) -> Option<ID> {
        self.0.subject_user_id.map(|u| ID(u.to_string()))
    }
    async fn subject_name(&self) -> Option<&str> {
        self.0.subject_name.as_deref()
    }
    /// The role given (an account created, a role changed).
    async fn role(&self) -> Result<Option<StaffRole>> {
        stored_role(&self.0.role)
    }
    /// The role before (a role changed).
    async fn previous_role(&self) -> Result<Option<StaffRole>> {
        stored_role(&self.0.previous_role)
    }
    /// The settings changed (the structure's settings updated).
    async fn settings(&self) -> Result<Vec<StructureSetting>> {
        self.0
            .fields
            .iter()
            .map(|f| {
                stored(StructureSetting::parse(f).ok_or_else(|| UnknownTag {
                    kind: "StructureSetting",
                    value: f.clone(),
                }))
            })
            .collect()
    }
}

#[derive(SimpleObject, Debug)]
pub struct AccountChangeEdge {
    cursor: String,
    node: AccountChangeEntry,
}

#[derive(SimpleObject, Debug)]
pub struct AccountChangeConnection {
    edges: Vec<AccountChangeEdge>,
    page_info: PageInfo,
}

#[derive(Default, Debug)]
pub struct StaffQuery;

#[Object]
impl StaffQuery {
    /// The viewer's structure's staff, active or not, by name: for its
    /// managers and admins. The cursor names no one.
    async fn staff_members(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<StaffMemberConnection> {
        let actor = administrator(ctx)?;
        let limit = page_size(first)?;
        let after = after_key(after, 1, |key| {
            key[0].parse::<uuid::Uuid>().ok().map(UserId)
        })?;
        let rows = staff::members(&gateway(ctx).pool, actor.structure, after, limit + 1)
            .await
            .map_err(|e| error::internal(&e))?;
        let (edges, page_info) = page(
            rows,
            limit,
            |m| cursor(&[&m.user_id.to_string()]),
            |cursor, m| StaffMemberEdge {
                cursor,
                node: StaffMemberNode(m),
            },
        );
        Ok(StaffMemberConnection { edges, page_info })
    }

    /// Every change to the viewer's structure's accounts and settings,
    /// newest first: for its managers and admins.
    async fn account_changes(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<AccountChangeConnection> {
        let actor = administrator(ctx)?;
        let limit = page_size(first)?;
        let before = after_key(after, 1, |key| key[0].parse::<i64>().ok())?;
        let rows = staff::changes(&gateway(ctx).pool, actor.structure, before, limit + 1)
            .await
            .map_err(|e| error::internal(&e))?;
        let (edges, page_info) = page(
            rows,
            limit,
            |r| cursor(&[&r.id.to_string()]),
            |cursor, r| AccountChangeEdge {
                cursor,
                node: AccountChangeEntry(r),
            },
        );
        Ok(AccountChangeConnection { edges, page_info })
    }
}

#[derive(InputObject, Debug)]
pub struct StaffCreateInput {
    pub name: String,
    pub email: String,
    pub role: StaffRole,
}

#[derive(InputObject, Debug)]
pub struct StaffDeactivateInput {
    pub user_id: ID,
}

#[derive(InputObject, Debug)]
pub struct StaffRoleChangeInput {
    pub user_id: ID,
    pub role: StaffRole,
}

crate::primitives::payloads!(
    member: StaffMemberNode =>
    StaffCreatePayload,
    StaffDeactivatePayload,
    StaffRoleChangePayload,
);

fn cannot_grant() -> async_graphql::Error {
    refused(
        Code::Forbidden,
        "role",
        "Seul un administrateur peut donner le rôle d'administrateur.",
    )
}

/// The colleague the actor acts on, in its structure, under the
/// structure's lock; refused in French on `userId` when the actor may not.
async fn colleague(conn: &mut sqlx::PgConnection, actor: &Actor, id: &ID) -> Result<StaffMember> {
    let user = UserId(parse_id(id, "Compte")?);
    staff::lock_structure(conn, actor.structure)
        .await
        .map_err(|e| error::internal(&e))?;
    let member = staff::member(&mut *conn, actor.structure, user)
        .await
        .map_err(|e| error::internal(&e))?
        .ok_or_else(|| error::not_found("Compte"))?;
    if user_of(actor) == member.user_id.0 {
        return Err(refused(
            Code::RuleViolated,
            "userId",
            "Vous ne pouvez pas modifier votre propre compte ici : demandez-le à un autre responsable.",
        ));
    }
    if !policy::manages_colleague(actor, member.user_id, role_of(member.role)) {
        return Err(refused(
            Code::Forbidden,
            "userId",
            "Seul un administrateur peut désactiver un administrateur ou changer son rôle.",
        ));
    }
    Ok(member)
}

/// Refuses a change that would leave the structure without an active
/// manager or admin.
async fn keeps_a_leader(
    conn: &mut sqlx::PgConnection,
    actor: &Actor,
    member: &StaffMember,
) -> Result<()> {
    let leader = matches!(member.role, StaffRole::Admin | StaffRole::Manager);
    if leader && member.active {
        let others = staff::other_leaders(conn, actor.structure, member.user_id)
            .await
            .map_err(|e| error::internal(&e))?;
        if others == 0 {
            return Err(refused(
                Code::RuleViolated,
                "userId",
                "La structure doit garder au moins un responsable ou un administrateur actif.",
            ));
        }
    }
    Ok(())
}

fn change<'a>(actor: &'a Actor, action: AccountChange, member: &StaffMember) -> Change<'a> {
    Change {
        structure: actor.structure,
        actor: Some(UserId(user_of(actor))),
        actor_role: actor.role.as_str(),
        action,
        subject: Some(member.user_id),
        role: None,
        previous_role: None,
        fields: &[],
    }
}

#[derive(Default, Debug)]
pub struct StaffMutation;

#[Object]
impl StaffMutation {
    /// Creates a staff account in the viewer's structure and mails its
    /// owner a link to choose their password (valid 7 days). Managers and
    /// admins; only an admin gives the admin role.
    async fn staff_create(
        &self,
        ctx: &Context<'_>,
        input: StaffCreateInput,
    ) -> Result<StaffCreatePayload> {
        let actor = administrator(ctx)?;
        let name = label("name", &input.name)?;
        let email = Email::parse(&input.email).map_err(|e| error::on_field("email", e))?;
        if !policy::grants_role(&actor, role_of(input.role)) {
            return Err(cannot_grant());
        }
        let gw = gateway(ctx);
        let now = gw.handler.clock().now();
        let mut tx = gw.pool.begin().await.map_err(error::db)?;
        let member =
            match staff::invite(&mut tx, actor.structure, &email, &name, input.role, now).await {
                Ok(m) => m,
                Err(AccountError::EmailTaken(_)) => {
                    return Err(refused(
                        Code::Conflict,
                        "email",
                        "Un compte utilise déjà cette adresse.",
                    ));
                }
                Err(e) => return Err(error::internal(&e)),
            };
        let mut recorded = change(&actor, AccountChange::StaffCreated, &member);
        recorded.role = Some(input.role);
        staff::record(&mut *tx, &recorded, now)
            .await
            .map_err(|e| error::internal(&e))?;
        passerelle_notify::outbox::enqueue(
            &mut tx,
            &[passerelle_notify::Entry {
                key: format!("staff:{}:staff_invitation", member.user_id),
                template: passerelle_notify::Template::StaffInvitation,
                recipient: passerelle_notify::Recipient::Staff {
                    user_id: member.user_id.0,
                },
                params: passerelle_notify::Params::default(),
                structure: Some(actor.structure.as_uuid()),
            }],
            now,
        )
        .await
        .map_err(error::db)?;
        tx.commit().await.map_err(error::db)?;
        Ok(StaffCreatePayload {
            member: StaffMemberNode(member),
        })
    }

    /// Deactivates a colleague's account: their sessions end at once and
    /// they can no longer log in. Not oneself, not an admin by a manager,
    /// not the structure's last active manager or admin.
    async fn staff_deactivate(
        &self,
        ctx: &Context<'_>,
        input: StaffDeactivateInput,
    ) -> Result<StaffDeactivatePayload> {
        let actor = administrator(ctx)?;
        let gw = gateway(ctx);
        let now = gw.handler.clock().now();
        let mut tx = gw.pool.begin().await.map_err(error::db)?;
        let mut member = colleague(&mut tx, &actor, &input.user_id).await?;
        if member.active {
            keeps_a_leader(&mut tx, &actor, &member).await?;
            staff::deactivate(&mut tx, member.user_id, now)
                .await
                .map_err(|e| error::internal(&e))?;
            staff::record(
                &mut *tx,
                &change(&actor, AccountChange::StaffDeactivated, &member),
                now,
            )
            .await
            .map_err(|e| error::internal(&e))?;
            member.active = false;
        }
        tx.commit().await.map_err(error::db)?;
        Ok(StaffDeactivatePayload {
            member: StaffMemberNode(member),
        })
    }

    /// Gives a colleague another role. An admin gives any; a manager gives
    /// a manager's or a mediator's, to anyone but an admin. Not one's own;
    /// the structure keeps an active manager or admin.
    async fn staff_role_change(
        &self,
        ctx: &Context<'_>,
        input: StaffRoleChangeInput,
    ) -> Result<StaffRoleChangePayload> {
        let actor = administrator(ctx)?;
        if !policy::grants_role(&actor, role_of(input.role)) {
            return Err(cannot_grant());
        }
        let gw = gateway(ctx);
        let now = gw.handler.clock().now();
        let mut tx = gw.pool.begin().await.map_err(error::db)?;
        let mut member = colleague(&mut tx, &actor, &input.user_id).await?;
        if member.role != input.role {
            if input.role == StaffRole::Mediator {
                keeps_a_leader(&mut tx, &actor, &member).await?;
            }
            staff::set_role(&mut tx, member.user_id, input.role)
                .await
                .map_err(|e| error::internal(&e))?;
            let mut recorded = change(&actor, AccountChange::StaffRoleChanged, &member);
            recorded.role = Some(input.role);
            recorded.previous_role = Some(member.role);
            staff::record(&mut *tx, &recorded, now)
                .await
                .map_err(|e| error::internal(&e))?;
            member.role = input.role;
        }
        tx.commit().await.map_err(error::db)?;
        Ok(StaffRoleChangePayload {
            member: StaffMemberNode(member),
        })
    }
}
