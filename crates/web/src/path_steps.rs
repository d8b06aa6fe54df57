//! The steps a person takes to build her project (job inquiries, meetings
//! with peers, mentorships), as the API reads them back (`Person.jobInquiries`,
//! `peerMeetings`, `mentorships`) and the pages list them: her file for
//! staff, her own space for her.

use passerelle_domain::fr;
use serde::Deserialize;

use crate::answer::Day;

/// The fields the steps are read with, as a fragment a query appends and
/// spreads on a person (`person(id: $p) { ...Steps }`).
pub(crate) const STEPS_FRAGMENT: &str = "
    fragment Steps on Person {
        jobInquiries { id heldOn romeCode withWhom learned }
        peerMeetings { id heldOn peer romeCodes takeaways testimonyId }
        mentorships { id startedOn endedOn mentor mentorJob endReason } }";

/// One entry of a list of a person's file or space: when, what, and
/// details.
pub(crate) struct Line {
    pub(crate) when: String,
    pub(crate) what: String,
    pub(crate) details: Vec<String>,
}

/// The steps, oldest first, as [`STEPS_FRAGMENT`] reads them.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Steps {
    pub(crate) job_inquiries: Vec<JobInquiry>,
    pub(crate) peer_meetings: Vec<PeerMeeting>,
    pub(crate) mentorships: Vec<Mentorship>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct JobInquiry {
    pub(crate) id: String,
    pub(crate) held_on: Day,
    pub(crate) rome_code: String,
    pub(crate) with_whom: String,
    learned: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PeerMeeting {
    pub(crate) id: String,
    pub(crate) held_on: Day,
    pub(crate) peer: String,
    rome_codes: Vec<String>,
    takeaways: Option<String>,
    testimony_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Mentorship {
    pub(crate) id: String,
    pub(crate) started_on: Day,
    pub(crate) ended_on: Option<Day>,
    pub(crate) mentor: Option<String>,
    mentor_job: Option<String>,
    end_reason: Option<String>,
}

impl Steps {
    /// The inquiries, the meetings and the mentorships, each as lines.
    pub(crate) fn lines(&self) -> (Vec<Line>, Vec<Line>, Vec<Line>) {
        let inquiries = self
            .job_inquiries
            .iter()
            .map(|i| Line {
                when: i.held_on.french(),
                what: fr::rome(&i.rome_code),
                details: std::iter::once(format!("Avec : {}", i.with_whom))
                    .chain(
                        i.learned
                            .as_ref()
                            .map(|l| format!("Ce qui en ressort : {l}")),
                    )
                    .collect(),
            })
            .collect();
        let meetings = self
            .peer_meetings
            .iter()
            .map(|m| Line {
                when: m.held_on.french(),
                what: m.peer.clone(),
                details: std::iter::once(
                    m.rome_codes
                        .iter()
                        .map(|c| fr::rome(c))
                        .collect::<Vec<_>>()
                        .join(" ; "),
                )
                .filter(|jobs| !jobs.is_empty())
                .chain(
                    m.testimony_id
                        .as_ref()
                        .map(|_| "Venue d'un témoignage de son parcours".to_owned()),
                )
                .chain(
                    m.takeaways
                        .as_ref()
                        .map(|t| format!("Ce qui en ressort : {t}")),
                )
                .collect(),
            })
            .collect();
        let mentorships = self
            .mentorships
            .iter()
            .map(|m| Line {
                when: match m.ended_on {
                    Some(end) => format!("Du {} au {}", m.started_on.french(), end.french()),
                    None => format!("Depuis le {}", m.started_on.french()),
                },
                what: m.mentor.clone().unwrap_or_else(|| "(effacé)".to_owned()),
                details: m
                    .mentor_job
                    .as_ref()
                    .map(|j| format!("Métier : {}", fr::rome(j)))
                    .into_iter()
                    .chain(m.end_reason.as_ref().map(|r| format!("Fin : {r}")))
                    .collect(),
            })
            .collect();
        (inquiries, meetings, mentorships)
    }
}
