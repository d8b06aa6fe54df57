//! Consent texts, by purpose and version, and consent given or withdrawn
//! online by the person themself from their own space. A consent recorded
//! by staff (`consentGive`, on a signed form or orally) names a version of
//! these texts too.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use passerelle_app::policy;
use passerelle_domain::consent_texts::{self, ConsentText};
use passerelle_domain::person::{ConsentProof, ConsentPurpose, PersonCommand};
use uuid::Uuid;

use crate::context::actor;
use crate::input::text_version;
use crate::people::{Person, on_person_as};

/// A version of the text a person agrees to for a purpose.
#[derive(SimpleObject, Debug)]
#[graphql(name = "ConsentText")]
pub struct ConsentTextObject {
    purpose: ConsentPurpose,
    /// `v1`, `v2`…: what a consent records.
    version: &'static str,
    title: &'static str,
    /// Paragraphs separated by blank lines.
    body: &'static str,
    /// Whether this is the version shown from now on.
    current: bool,
}

impl From<ConsentText> for ConsentTextObject {
    fn from(text: ConsentText) -> Self {
        Self {
            purpose: text.purpose,
            version: text.version,
            title: text.title,
            body: text.body,
            current: consent_texts::current(text.purpose).version == text.version,
        }
    }
}

#[derive(Default, Debug)]
pub struct ConsentQuery;

#[Object]
impl ConsentQuery {
    /// The texts a person agrees to: the current version of each purpose's,
    /// or every version of one purpose's. Open to every session (staff, and
    /// the person who reads what they agree to).
    async fn consent_texts(
        &self,
        ctx: &Context<'_>,
        purpose: Option<ConsentPurpose>,
    ) -> Result<Vec<ConsentTextObject>> {
        actor(ctx)?;
        Ok(match purpose {
            Some(purpose) => consent_texts::all()
                .filter(|t| t.purpose == purpose)
                .map(ConsentTextObject::from)
                .collect(),
            None => consent_texts::all()
                .filter(|t| consent_texts::current(t.purpose).version == t.version)
                .map(ConsentTextObject::from)
                .collect(),
        })
    }
}

#[derive(InputObject, Debug)]
pub struct ConsentGiveOnlineInput {
    pub command_id: Option<Uuid>,
    pub person_id: ID,
    pub purpose: ConsentPurpose,
    /// The version of the text the person read (`consentTexts`).
    pub text_version: String,
}

#[derive(InputObject, Debug)]
pub struct ConsentWithdrawOnlineInput {
    pub command_id: Option<Uuid>,
    pub person_id: ID,
    pub purpose: ConsentPurpose,
}

#[derive(SimpleObject, Debug)]
pub struct ConsentGiveOnlinePayload {
    person: Person,
}

#[derive(SimpleObject, Debug)]
pub struct ConsentWithdrawOnlinePayload {
    person: Person,
}

#[derive(Default, Debug)]
pub struct ConsentMutation;

impl ConsentMutation {
    /// Runs the person's own consent command, from their own session.
    async fn own(
        ctx: &Context<'_>,
        person: &ID,
        command_id: Option<Uuid>,
        command: impl FnOnce(time::Date) -> Result<PersonCommand>,
    ) -> Result<Person> {
        on_person_as(
            ctx,
            actor(ctx)?,
            person,
            command_id,
            |actor, _| policy::consents_online(actor),
            command,
        )
        .await
    }
}

#[Object]
impl ConsentMutation {
    /// The person gives a consent online, from their own space, on the
    /// version of the text they read.
    async fn consent_give_online(
        &self,
        ctx: &Context<'_>,
        input: ConsentGiveOnlineInput,
    ) -> Result<ConsentGiveOnlinePayload> {
        let text_version = text_version("textVersion", input.purpose, &input.text_version)?;
        Self::own(ctx, &input.person_id, input.command_id, |today| {
            Ok(PersonCommand::GiveConsent {
                purpose: input.purpose,
                text_version,
                proof: ConsentProof::Online,
                given_on: today,
            })
        })
        .await
        .map(|person| ConsentGiveOnlinePayload { person })
    }

    /// The person withdraws a consent online, as easily as they gave it.
    async fn consent_withdraw_online(
        &self,
        ctx: &Context<'_>,
        input: ConsentWithdrawOnlineInput,
    ) -> Result<ConsentWithdrawOnlinePayload> {
        Self::own(ctx, &input.person_id, input.command_id, |today| {
            Ok(PersonCommand::WithdrawConsent {
                purpose: input.purpose,
                withdrawn_on: today,
            })
        })
        .await
        .map(|person| ConsentWithdrawOnlinePayload { person })
    }
}
