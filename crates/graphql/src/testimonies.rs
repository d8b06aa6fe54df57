//! Testimonies (parcours vécu): a person of the structure shares their path,
//! with their consent, to the audience they choose, and may change it or
//! withdraw it at any time. Only the author's structure records them; she
//! changes their audience or withdraws them from her own space too
//! (`policy::may_issue_on_testimony`). Each answers with the author, as
//! `people` shows them, and the testimony's id. `Person.testimonies`
//! (`person_record`) lists hers, withdrawn ones included.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use passerelle_app::{Views, policy};
use passerelle_domain::testimony::{Audience, Testimony, TestimonyCommand};
use passerelle_domain::values::{PersonId, TestimonyId};
use passerelle_projections::views::people;
use time::Date;
use uuid::Uuid;

use crate::context::{actor, gateway, meta, new_id};
use crate::error;
use crate::input::{parse_id, rome_codes, text};
use crate::people::Person;

#[derive(InputObject, Debug)]
pub struct TestimonyRecordInput {
    pub command_id: Option<Uuid>,
    /// The author: a person of the viewer's structure who consented to
    /// share their testimony.
    pub person_id: ID,
    /// The account, in the author's words.
    pub account: String,
    /// The jobs their path went through.
    #[graphql(default)]
    pub rome_codes: Vec<String>,
    pub audience: Audience,
    pub recorded_on: Option<Date>,
}

#[derive(InputObject, Debug)]
pub struct TestimonyAudienceChangeInput {
    pub command_id: Option<Uuid>,
    pub testimony_id: ID,
    pub audience: Audience,
}

#[derive(InputObject, Debug)]
pub struct TestimonyWithdrawInput {
    pub command_id: Option<Uuid>,
    pub testimony_id: ID,
    pub withdrawn_on: Option<Date>,
}

/// Declares one payload per testimony mutation: the author and the
/// testimony.
macro_rules! testimony_payloads {
    ($($name:ident),* $(,)?) => {$(
        #[derive(SimpleObject, Debug)]
        pub struct $name {
            pub person: Person,
            pub testimony_id: ID,
        }
    )*};
}

testimony_payloads!(
    TestimonyRecordPayload,
    TestimonyAudienceChangePayload,
    TestimonyWithdrawPayload,
);

#[derive(Default, Debug)]
pub struct TestimonyMutation;

/// Carries a command on a testimony whose author the viewer reaches, and
/// answers with the author; else the testimony does not exist for them.
async fn on_testimony(
    ctx: &Context<'_>,
    id: TestimonyId,
    author: Option<PersonId>,
    command_id: Option<Uuid>,
    command: impl FnOnce(Date) -> Result<TestimonyCommand>,
) -> Result<(Person, ID)> {
    let actor = actor(ctx)?;
    let gw = gateway(ctx);
    let author = match author {
        Some(a) => Some(a),
        None => people::testimony_author(&gw.pool, id.as_uuid())
            .await
            .map_err(error::db)?,
    };
    let Some(author) = author else {
        return Err(error::not_found("Témoignage"));
    };
    if !policy::reaches_person(&gw.pool, &actor, author)
        .await
        .map_err(error::app)?
    {
        return Err(error::not_found("Témoignage"));
    }
    let command = command(gw.handler.clock().today())?;
    if !policy::may_issue_on_testimony(&actor, &command) {
        return Err(error::forbidden());
    }
    gw.handler
        .execute::<Testimony>(id, &command, &meta(actor, command_id), &Views)
        .await
        .map_err(error::app)?;
    let person = people::get(&gw.pool, author)
        .await
        .map_err(error::db)?
        .map(Person::from)
        .ok_or_else(|| error::not_found("Personne"))?;
    Ok((person, ID(id.to_string())))
}

#[Object]
impl TestimonyMutation {
    /// Records a person's testimony, shared with the audience they chose.
    async fn testimony_record(
        &self,
        ctx: &Context<'_>,
        input: TestimonyRecordInput,
    ) -> Result<TestimonyRecordPayload> {
        let author = PersonId(parse_id(&input.person_id, "Personne")?);
        let id = TestimonyId(new_id(input.command_id, "testimony"));
        on_testimony(ctx, id, Some(author), input.command_id, |today| {
            Ok(TestimonyCommand::Record {
                testimony_id: id,
                author,
                account: text("account", &input.account)?,
                rome_codes: rome_codes("romeCodes", &input.rome_codes)?,
                audience: input.audience,
                recorded_on: input.recorded_on.unwrap_or(today),
            })
        })
        .await
        .map(|(person, testimony_id)| TestimonyRecordPayload {
            person,
            testimony_id,
        })
    }

    /// Changes who may read the testimony, as its author asks.
    async fn testimony_audience_change(
        &self,
        ctx: &Context<'_>,
        input: TestimonyAudienceChangeInput,
    ) -> Result<TestimonyAudienceChangePayload> {
        let id = TestimonyId(parse_id(&input.testimony_id, "Témoignage")?);
        on_testimony(ctx, id, None, input.command_id, |_| {
            Ok(TestimonyCommand::ChangeAudience {
                audience: input.audience,
            })
        })
        .await
        .map(|(person, testimony_id)| TestimonyAudienceChangePayload {
            person,
            testimony_id,
        })
    }

    /// Withdraws the testimony, as its author asks: no one reads it since.
    async fn testimony_withdraw(
        &self,
        ctx: &Context<'_>,
        input: TestimonyWithdrawInput,
    ) -> Result<TestimonyWithdrawPayload> {
        let id = TestimonyId(parse_id(&input.testimony_id, "Témoignage")?);
        on_testimony(ctx, id, None, input.command_id, |today| {
            Ok(TestimonyCommand::Withdraw {
                withdrawn_on: input.withdrawn_on.unwrap_or(today),
            })
        })
        .await
        .map(|(person, testimony_id)| TestimonyWithdrawPayload {
            person,
            testimony_id,
        })
    }
}
