//! A contact's card read back from its establishment's stream: the name,
//! job title and phone it was added with (personal values, sealed under
//! the contact's own key, read as null once erased), who added it and
//! when, and who took it off the list. The view keeps only what links and
//! mails need (its address); the rest is read where it was recorded.
//! The caller has found the contact through the policy
//! (`Employer.contacts`, `Employer.removedContacts`).

use passerelle_domain::employer::EmployerEvent;
use passerelle_projections::views::employers::ContactRow;

use async_graphql::{Context, Result};

use crate::correction_record::employer_facts;
use crate::primitives::Recording;

/// What a contact was added with, and its removal.
#[derive(Debug)]
pub(crate) struct Card {
    pub name: Option<String>,
    pub job_title: Option<String>,
    pub phone: Option<String>,
    pub added: Recording,
    pub removal: Option<Recording>,
}

/// The contact's card, from the last time it was added (a contact removed
/// can be added again under the same id); none when the log holds no
/// addition of it, which the view does not show.
pub(crate) async fn card(ctx: &Context<'_>, contact: &ContactRow) -> Result<Option<Card>> {
    let facts = employer_facts(ctx, contact.employer_id).await?;
    let mut card: Option<Card> = None;
    for recorded in facts.iter() {
        match &recorded.event {
            EmployerEvent::ContactAdded(e) if e.contact_id.0 == contact.contact_id => {
                card = Some(Card {
                    name: e.name.known().map(|n| n.as_str().to_owned()),
                    job_title: e.job_title.as_ref().map(|t| t.as_str().to_owned()),
                    phone: e
                        .phone
                        .as_ref()
                        .and_then(|p| p.known())
                        .map(|p| p.international().to_owned()),
                    added: recorded.into(),
                    removal: None,
                });
            }
            EmployerEvent::ContactRemoved(e) if e.contact_id.0 == contact.contact_id => {
                if let Some(card) = card.as_mut() {
                    card.removal = Some(recorded.into());
                }
            }
            _ => {}
        }
    }
    Ok(card)
}
