//! Authorization over the real server: every root field of the schema, read
//! from the schema itself so that a new field cannot be left out, tried by
//! every kind of viewer outside structure A on structure A's objects.
//!
//! Structure A ("Mission locale de Nantes") accompanies a person, has an
//! immersion for her at its employer (accepted by both, convention drafted),
//! and logged a visit and a need at that employer. Structure B ("PLIE Nord")
//! has its own employer, person and immersion, and its mediator added a
//! contact of B's own to A's employer. The viewers: nobody, B's mediator,
//! B's manager, B's employer's contact, B's person, and that contact B
//! added at A's employer, each by their own session.
//!
//! What the policy says (`app::policy`, ARCHITECTURE.md): people and
//! immersions belong to one structure and only its staff reach them;
//! employers, their visits and needs are shared with every structure's
//! staff, but a visit's observations are notes for staff only; an employer
//! by magic link reaches its establishment's immersions of the structure
//! that vouched for its contact, a person only themself; what is out of
//! reach answers as if it did not exist, and no refused command appends
//! anything.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use async_graphql::parser::types::{OperationType, Selection, TypeKind, TypeSystemDefinition};
use common::*;
use futures::{SinkExt as _, StreamExt as _};
use passerelle_store::testkit::TestDb;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

/// Who tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Viewer {
    Anonymous,
    MediatorB,
    ManagerB,
    /// An admin administers its own structure, not the territory.
    AdminB,
    /// The contact of B's own employer, by magic link.
    EmployerB,
    /// B's person, by magic link.
    PersonB,
    /// The contact B's mediator added to A's employer, by magic link.
    ContactBAtA,
}

const VIEWERS: [Viewer; 7] = [
    Viewer::Anonymous,
    Viewer::MediatorB,
    Viewer::ManagerB,
    Viewer::AdminB,
    Viewer::EmployerB,
    Viewer::PersonB,
    Viewer::ContactBAtA,
];

impl Viewer {
    fn name(self) -> &'static str {
        match self {
            Viewer::Anonymous => "anonymous",
            Viewer::MediatorB => "mediator of B",
            Viewer::ManagerB => "manager of B",
            Viewer::AdminB => "admin of B",
            Viewer::EmployerB => "employer of B (link)",
            Viewer::PersonB => "person of B (link)",
            Viewer::ContactBAtA => "B's contact at A's employer (link)",
        }
    }

    fn staff(self) -> bool {
        matches!(self, Viewer::MediatorB | Viewer::ManagerB | Viewer::AdminB)
    }
}

/// What a viewer should get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Out of reach: refused (UNAUTHENTICATED, FORBIDDEN, NOT_FOUND) or
    /// answered as absent (null, empty list), nothing appended.
    Denied,
    /// Allowed by design (shared employers, visits and needs; the viewer's
    /// own structure, session or list): not refused, though a rule may
    /// still say no; a command may append.
    Allowed,
    /// Open to anyone (logging in, links, the viewer's own session): any
    /// typed answer, nothing appended.
    Public,
    /// A dashboard: allowed, with no count under the small-cell threshold.
    Figures,
}

use Expect::{Allowed, Denied, Figures, Public};

/// One per viewer, in the order of [`VIEWERS`].
type Expectations = [Expect; 7];

const ALL_DENIED: Expectations = [Denied; 7];
const STAFF: Expectations = [Denied, Allowed, Allowed, Allowed, Denied, Denied, Denied];
const PUBLIC: Expectations = [Public; 7];
const FIGURES: Expectations = [Denied, Figures, Figures, Figures, Denied, Denied, Denied];
/// A viewer's own list: empty of anything of A.
const OWN_LIST: Expectations = [Denied, Allowed, Allowed, Allowed, Allowed, Allowed, Allowed];

/// One operation on one root field, and what each viewer should get.
struct Case {
    /// `Query.person`, `Mutation.immersionAccept`, `Subscription.inboxChanged`.
    field: &'static str,
    /// What this case tries, when a field has several.
    what: &'static str,
    document: &'static str,
    expect: Expectations,
}

const fn case(
    field: &'static str,
    what: &'static str,
    document: &'static str,
    expect: Expectations,
) -> Case {
    Case {
        field,
        what,
        document,
        expect,
    }
}

/// Every root field's cases. Variables: `e` A's employer, `p` A's person,
/// `i` A's immersion, `n` A's need, `m` A's mediator, `s` A's structure,
/// `ct` A's contact at its employer, `d` a failed mail of A, `pe` A's
/// person's address, `siret` A's
/// employer's, `c` a convention for A's immersion, `t` today, `tm` a
/// testimony of A's person, `at` now.
fn table() -> Vec<Case> {
    const FUNNEL: &str = "query($s: ID!) {
        theirs: immersionFunnel(filter: { structureId: $s }) { masked steps { step count } }
        all: immersionFunnel { masked steps { step count } } }";
    const OUTCOMES: &str = "query($s: ID!) {
        theirs: immersionOutcomes(filter: { structureId: $s }) { masked cells { milestone outcome count } }
        all: immersionOutcomes { masked cells { milestone outcome count } } }";
    const NEEDS: &str = "query($s: ID!) {
        theirs: needsConversion(filter: { structureId: $s }) { masked visits
            bySource { source needs becameImmersion becameOffer ledToHire } }
        all: needsConversion { masked visits
            bySource { source needs becameImmersion becameOffer ledToHire } } }";
    const READJUSTMENTS: &str = "query($s: ID!) {
        theirs: projectReadjustments(filter: { structureId: $s }) { masked projects
            byIterations { people } byCause { cause readjustments } }
        all: projectReadjustments { masked projects
            byIterations { people } byCause { cause readjustments } } }";
    const ENGAGEMENT: &str = "query($s: ID!) {
        theirs: employerEngagement(filter: { structureId: $s }) { masked employersVisited visits
            employersWithNeeds needs employersHosting immersionsHosted proposals
            proposalsAnswered waitingOverSevenDays }
        all: employerEngagement { masked employersVisited visits employersWithNeeds needs
            employersHosting immersionsHosted proposals proposalsAnswered waitingOverSevenDays } }";
    vec![
        // Queries.
        case(
            "Query.deliveries",
            "every mail the viewer sees",
            "{ deliveries(first: 100) { id immersionId recipient label template state } }",
            STAFF,
        ),
        case(
            "Query.deliveries",
            "the mails of A's immersion",
            "query($i: ID!) { deliveries(filter: { immersionId: $i }) { id immersionId recipient } }",
            STAFF,
        ),
        case(
            "Query.mailDeliveries",
            "every mail the viewer sees",
            "{ mailDeliveries(first: 100) { edges { cursor node { id immersionId recipient label state } } } }",
            STAFF,
        ),
        case(
            "Query.mailDeliveries",
            "the mails of A's immersion",
            "query($i: ID!) { mailDeliveries(filter: { immersionId: $i }) { edges { node { id immersionId recipient } } } }",
            STAFF,
        ),
        case(
            "Query.employer",
            "A's employer, its pages of visits and needs",
            "query($e: ID!) { employer(id: $e) { id name
                loggedVisits(first: 100) { edges { node { id structureId observations nextStep } } }
                surfacedNeeds(first: 100) { edges { node { id activities } } } } }",
            [Denied, Allowed, Allowed, Allowed, Denied, Denied, Allowed],
        ),
        case(
            "Query.employer",
            "A's employer, its visits and needs",
            "query($e: ID!) { employer(id: $e) { id name siret contacts { id email structureId }
                visits { id structureId observations nextStep } needs { id activities } } }",
            [Denied, Allowed, Allowed, Allowed, Denied, Denied, Allowed],
        ),
        case("Query.employerEngagement", "", ENGAGEMENT, FIGURES),
        case(
            "Query.employers",
            "",
            "{ employers(first: 100) { edges { node { id name contacts { email }
                visits { observations } needs { activities } } } } }",
            STAFF,
        ),
        case(
            "Query.employers",
            "searched",
            "{ employers(first: 100, filter: { visitedByMyStructure: true, departement: \"44\" }) {
                edges { node { id name } } } }",
            STAFF,
        ),
        case(
            "Query.immersion",
            "",
            "query($i: ID!) { immersion(id: $i) { id personId employerName stage goals signatures } }",
            ALL_DENIED,
        ),
        case("Query.immersionFunnel", "", FUNNEL, FIGURES),
        case("Query.immersionOutcomes", "", OUTCOMES, FIGURES),
        case(
            "Query.immersions",
            "the viewer's list",
            "{ immersions(first: 100) { edges { node { id personId employerId goals } } } }",
            OWN_LIST,
        ),
        case(
            "Query.immersions",
            "filtered on A's person",
            "query($p: ID!) { immersions(filter: { personId: $p }) { edges { node { id personId } } } }",
            OWN_LIST,
        ),
        case(
            "Query.immersions",
            "filtered on A's employer",
            "query($e: ID!) { immersions(filter: { employerId: $e }) { edges { node { id personId } } } }",
            OWN_LIST,
        ),
        case(
            "Query.inbox",
            "the viewer's own",
            "{ inbox { overdue tasks { kind title immersionId employerName link } } }",
            STAFF,
        ),
        case(
            "Query.inbox",
            "A's mediator's",
            "query($m: ID) { inbox(mediatorId: $m) { overdue tasks { kind title immersionId link } } }",
            ALL_DENIED,
        ),
        case(
            "Query.jobRuns",
            "",
            "{ jobRuns { job items succeeded } }",
            [Denied, Denied, Allowed, Allowed, Denied, Denied, Denied],
        ),
        case(
            "Query.scheduledJobRuns",
            "",
            "{ scheduledJobRuns(first: 100) { edges { cursor node { job items succeeded } } } }",
            [Denied, Denied, Allowed, Allowed, Denied, Denied, Denied],
        ),
        case(
            "Query.me",
            "",
            "{ me { id email name role structureId structureName } }",
            PUBLIC,
        ),
        case(
            "Query.need",
            "",
            "query($n: ID!) { need(id: $n) { id activities employerId visitId status } }",
            STAFF,
        ),
        case(
            "Query.needs",
            "",
            "{ needs(first: 100) { edges { node { id activities employerId visitId } } } }",
            STAFF,
        ),
        case(
            "Query.needs",
            "searched",
            "{ needs(first: 100, filter: { departement: \"44\", olderThanDays: 0 }) {
                edges { node { id activities } } } }",
            STAFF,
        ),
        case("Query.needsConversion", "", NEEDS, FIGURES),
        case(
            "Query.notificationPreferences",
            "an unknown link",
            "{ notificationPreferences(token: \"jeton-inconnu\") }",
            PUBLIC,
        ),
        case(
            "Query.people",
            "",
            "{ people(first: 100) { edges { node { id firstName lastName } } } }",
            STAFF,
        ),
        case(
            "Query.person",
            "",
            "query($p: ID!) { person(id: $p) { id firstName lastName consents
                timeline { eventType actor } } }",
            ALL_DENIED,
        ),
        case(
            "Query.consentTexts",
            "",
            "{ consentTexts { purpose version title } }",
            OWN_LIST,
        ),
        case(
            "Query.healthDataReads",
            "",
            "query($p: ID!) { theirs: healthDataReads(personId: $p) { edges { node { personId reader } } }
                all: healthDataReads { edges { node { personId reader readerRole through } } } }",
            [Denied, Denied, Allowed, Allowed, Denied, Denied, Denied],
        ),
        case(
            "Query.staffMembers",
            "the viewer's own structure's",
            "{ staffMembers { edges { node { id name email role active lastLoginAt } } } }",
            [Denied, Denied, Allowed, Allowed, Denied, Denied, Denied],
        ),
        case(
            "Query.personErasures",
            "the viewer's own structure's",
            "{ personErasures(first: 100) { edges { cursor node { personId reason erasedOn
                recorded { role } } } } }",
            [Denied, Denied, Allowed, Allowed, Denied, Denied, Denied],
        ),
        case(
            "Query.retentionWarnings",
            "the viewer's own structure's",
            "{ retentionWarnings(first: 100) { edges { cursor node { person { id firstName }
                lastActivity warnedOn erasedOn } } } }",
            STAFF,
        ),
        case(
            "Query.accountChanges",
            "the viewer's own structure's",
            "{ accountChanges { edges { node { id action actorName subjectName role at } } } }",
            [Denied, Denied, Allowed, Allowed, Denied, Denied, Denied],
        ),
        case(
            "Query.personDataExport",
            "",
            "query($p: ID!) { personDataExport(personId: $p) { format document } }",
            ALL_DENIED,
        ),
        case("Query.projectReadjustments", "", READJUSTMENTS, FIGURES),
        // Mutations: what changes A's shared objects comes last, so that
        // the refusals are tried on A's objects as set up.
        case(
            "Mutation.consentGive",
            "",
            "mutation($p: ID!) { consentGive(input: { personId: $p, purpose: TESTIMONY,
                textVersion: \"v1\" }) { person { id firstName } } }",
            ALL_DENIED,
        ),
        case(
            "Mutation.consentWithdraw",
            "",
            "mutation($p: ID!) { consentWithdraw(input: { personId: $p, purpose: TESTIMONY }) {
                person { id firstName } } }",
            ALL_DENIED,
        ),
        case(
            "Mutation.conventionCancel",
            "",
            "mutation($i: ID!) { conventionCancel(input: { immersionId: $i, by: EMPLOYER,
                reason: \"Plus possible\" }) { immersion { id stage } } }",
            ALL_DENIED,
        ),
        case(
            "Mutation.conventionDraft",
            "",
            "mutation($i: ID!, $c: ConventionInput!) { conventionDraft(input: { immersionId: $i,
                convention: $c }) { immersion { id goals } } }",
            ALL_DENIED,
        ),
        case(
            "Mutation.conventionRenew",
            "",
            "mutation($i: ID!, $t: Date!) { conventionRenew(input: { immersionId: $i,
                period: { start: $t, end: $t }, schedule: \"De 9 h à 16 h\", weeklyHours: 35,
                objective: DISCOVER_JOB_OR_SECTOR, goals: \"Approfondir\",
                whyGoalsNotReached: \"Trop court\" }) { immersion { id } } }",
            ALL_DENIED,
        ),
        case(
            "Mutation.conventionSign",
            "as the host",
            "mutation($i: ID!) { conventionSign(input: { immersionId: $i, signatory: HOST }) {
                immersion { id signatures } } }",
            ALL_DENIED,
        ),
        case(
            "Mutation.conventionSign",
            "as the person",
            "mutation($i: ID!) { conventionSign(input: { immersionId: $i, signatory: PERSON }) {
                immersion { id signatures } } }",
            ALL_DENIED,
        ),
        case(
            "Mutation.conventionSign",
            "as the prescriber",
            "mutation($i: ID!) { conventionSign(input: { immersionId: $i, signatory: PRESCRIBER }) {
                immersion { id signatures } } }",
            ALL_DENIED,
        ),
        case(
            "Mutation.conventionValidate",
            "",
            "mutation($i: ID!) { conventionValidate(input: { immersionId: $i }) { immersion { id } } }",
            ALL_DENIED,
        ),
        case(
            "Mutation.deliveryRetry",
            "a failed mail of A",
            "mutation($d: ID!) { deliveryRetry(id: $d) { delivery { id immersionId recipient } } }",
            ALL_DENIED,
        ),
        case(
            "Mutation.feedbackRecord",
            "the host's assessment",
            "mutation($i: ID!) { feedbackRecord(input: { immersionId: $i, host: {
                attendance: COMPLETED, goalsReached: true } }) { immersion { id feedbackFrom } } }",
            ALL_DENIED,
        ),
        case(
            "Mutation.feedbackRecord",
            "the person's words",
            "mutation($i: ID!) { feedbackRecord(input: { immersionId: $i, person: {
                words: \"Très bien\" } }) { immersion { id feedbackFrom } } }",
            ALL_DENIED,
        ),
        case(
            "Mutation.feedbackRecord",
            "the mediator's notes",
            "mutation($i: ID!) { feedbackRecord(input: { immersionId: $i, mediator: {
                notes: \"RAS\", goalsReached: true } }) { immersion { id feedbackFrom } } }",
            ALL_DENIED,
        ),
        case(
            "Mutation.immersionStartCorrect",
            "",
            "mutation($i: ID!, $t: Date!) { immersionStartCorrect(input: { immersionId: $i, on: $t,
                reason: \"Erreur\" }) { immersion { id } } }",
            ALL_DENIED,
        ),
        case(
            "Mutation.immersionEndCorrect",
            "",
            "mutation($i: ID!, $t: Date!) { immersionEndCorrect(input: { immersionId: $i, on: $t,
                reason: \"Erreur\" }) { immersion { id } } }",
            ALL_DENIED,
        ),
        case(
            "Mutation.feedbackCorrect",
            "the host's assessment",
            "mutation($i: ID!) { feedbackCorrect(input: { immersionId: $i, host: {
                attendance: COMPLETED, goalsReached: false }, reason: \"Erreur\" }) {
                immersion { id feedbackFrom } } }",
            ALL_DENIED,
        ),
        case(
            "Mutation.feedbackCorrect",
            "the person's words",
            "mutation($i: ID!) { feedbackCorrect(input: { immersionId: $i, person: {
                words: \"Bien\" }, reason: \"Erreur\" }) { immersion { id feedbackFrom } } }",
            ALL_DENIED,
        ),
        case(
            "Mutation.feedbackCorrect",
            "the mediator's notes",
            "mutation($i: ID!) { feedbackCorrect(input: { immersionId: $i, mediator: {
                notes: \"RAS\", goalsReached: false }, reason: \"Erreur\" }) {
                immersion { id feedbackFrom } } }",
            ALL_DENIED,
        ),
        case(
            "Mutation.assessmentAnswer",
            "the person countersigning the host's assessment",
            "mutation($i: ID!) { assessmentAnswer(input: { immersionId: $i, countersigns: true }) {
                immersion { id feedbackFrom } } }",
            ALL_DENIED,
        ),
        case(
            "Mutation.immersionAccept",
            "by the employer",
            "mutation($i: ID!) { immersionAccept(input: { immersionId: $i, by: EMPLOYER }) {
                immersion { id stage } } }",
            ALL_DENIED,
        ),
        case(
            "Mutation.immersionAccept",
            "by the person",
            "mutation($i: ID!) { immersionAccept(input: { immersionId: $i, by: PERSON }) {
                immersion { id stage } } }",
            ALL_DENIED,
        ),
        case(
            "Mutation.immersionComplete",
            "",
            "mutation($i: ID!) { immersionComplete(input: { immersionId: $i }) { immersion { id } } }",
            ALL_DENIED,
        ),
        case(
            "Mutation.immersionDecline",
            "by the employer",
            "mutation($i: ID!) { immersionDecline(input: { immersionId: $i, by: EMPLOYER,
                reason: \"Pas de place\" }) { immersion { id stage } } }",
            ALL_DENIED,
        ),
        case(
            "Mutation.immersionDecline",
            "by the person",
            "mutation($i: ID!) { immersionDecline(input: { immersionId: $i, by: PERSON,
                reason: \"Plus intéressée\" }) { immersion { id stage } } }",
            ALL_DENIED,
        ),
        case(
            "Mutation.immersionInterrupt",
            "",
            "mutation($i: ID!) { immersionInterrupt(input: { immersionId: $i, by: EMPLOYER,
                reason: \"Absences\" }) { immersion { id } } }",
            ALL_DENIED,
        ),
        case(
            "Mutation.immersionPropose",
            "A's person at A's employer",
            "mutation($p: ID!, $e: ID!) { immersionPropose(input: { personId: $p, employerId: $e,
                objective: DISCOVER_JOB_OR_SECTOR }) { immersion { id personId } } }",
            ALL_DENIED,
        ),
        case(
            "Mutation.immersionStart",
            "",
            "mutation($i: ID!) { immersionStart(input: { immersionId: $i }) { immersion { id } } }",
            ALL_DENIED,
        ),
        case(
            "Mutation.jobInquiryLog",
            "",
            "mutation($p: ID!) { jobInquiryLog(input: { personId: $p, romeCode: \"D1102\",
                withWhom: \"Un artisan\" }) { inquiryId person { id } } }",
            ALL_DENIED,
        ),
        case(
            "Mutation.login",
            "an unknown address",
            "mutation { login(input: { email: \"personne@nulle-part.fr\",
                password: \"pas le bon mot de passe\" }) { token me { id } } }",
            PUBLIC,
        ),
        case(
            "Mutation.magicLinkRedeem",
            "an unknown token",
            "mutation { magicLinkRedeem(input: { token: \"jeton-inconnu\" }) { token kind id } }",
            PUBLIC,
        ),
        case(
            "Mutation.magicLinkRequest",
            "for A's person's address",
            "mutation($pe: String!) { magicLinkRequest(input: { email: $pe }) { sent } }",
            PUBLIC,
        ),
        case(
            "Mutation.notificationPreferencesSet",
            "an unknown link",
            "mutation { notificationPreferencesSet(input: { token: \"jeton-inconnu\",
                muted: true }) { muted } }",
            PUBLIC,
        ),
        case(
            "Mutation.outcomeRecord",
            "",
            "mutation($i: ID!) { outcomeRecord(input: { immersionId: $i, milestone: END,
                outcome: TRAINING }) { immersion { id outcomes } } }",
            ALL_DENIED,
        ),
        case(
            "Mutation.peerMeetingLog",
            "",
            "mutation($p: ID!) { peerMeetingLog(input: { personId: $p, peer: \"Une menuisière\",
                romeCodes: [\"D1102\"] }) { meetingId person { id } } }",
            ALL_DENIED,
        ),
        case(
            "Mutation.projectReadjust",
            "",
            "mutation($p: ID!, $i: ID!) { projectReadjust(input: { personId: $p,
                project: { targetRomeCodes: [\"D1102\"] },
                cause: { kind: IMMERSION_FEEDBACK, id: $i }, whatChanged: \"Autre voie\" }) {
                person { id firstName } } }",
            ALL_DENIED,
        ),
        case(
            "Mutation.projectState",
            "",
            "mutation($p: ID!) { projectState(input: { personId: $p,
                project: { targetRomeCodes: [\"D1102\"] } }) { person { id firstName } } }",
            ALL_DENIED,
        ),
        case(
            "Mutation.situationState",
            "",
            "mutation($p: ID!) { situationState(input: { personId: $p, words: \"En recherche\" }) {
                person { id firstName } } }",
            ALL_DENIED,
        ),
        case(
            "Mutation.personEnroll",
            "in the viewer's own structure",
            "mutation { personEnroll(input: { firstName: \"Nouvelle\", lastName: \"Inscrite\",
                birthDate: \"1999-01-01\" }) { person { id firstName } } }",
            STAFF,
        ),
        case(
            "Mutation.employerRegister",
            "A's employer's SIRET again",
            "mutation($siret: String!) { employerRegister(input: { siret: $siret,
                name: \"Menuiserie Kerbrat bis\", naf: \"16\", commune: \"44109\" }) {
                employer { id name } } }",
            STAFF,
        ),
        case(
            "Mutation.employerVisitLog",
            "at A's employer",
            "mutation($e: ID!) { employerVisitLog(input: { employerId: $e, purpose: FOLLOW_UP,
                observations: \"Passage de la structure B\" }) { employer { id visitCount } } }",
            STAFF,
        ),
        case(
            "Mutation.employerContactRemove",
            "A's contact at A's employer",
            "mutation($e: ID!, $ct: ID!) { employerContactRemove(input: { employerId: $e,
                contactId: $ct }) { employer { id contacts { id email } } } }",
            ALL_DENIED,
        ),
        case(
            "Mutation.employerContactErase",
            "A's contact at A's employer, confirmed",
            "mutation($e: ID!, $ct: ID!) { employerContactErase(input: { employerId: $e,
                contactId: $ct, confirm: true }) { employerId contactId erasedOn } }",
            ALL_DENIED,
        ),
        case(
            "Mutation.employerContactAdd",
            "at A's employer, no address",
            "mutation($e: ID!) { employerContactAdd(input: { employerId: $e, name: \"Autre contact\",
                jobTitle: \"Gérant\" }) { employer { id name } } }",
            // The establishment's own contact adds a colleague, for the
            // structure of its session.
            [Denied, Allowed, Allowed, Allowed, Denied, Denied, Allowed],
        ),
        case(
            "Mutation.needSurface",
            "at A's employer, by phone",
            "mutation($e: ID!) { needSurface(input: { employerId: $e, source: { kind: PHONE },
                description: { activities: \"Ponçage\", horizon: NOW, hiringIntent: POSSIBLE } }) {
                need { id activities } } }",
            STAFF,
        ),
        case(
            "Mutation.needSurface",
            "at A's employer, heard during A's visit",
            "mutation($e: ID!, $v: ID!) { needSurface(input: { employerId: $e,
                source: { kind: VISIT, visitId: $v },
                description: { activities: \"Débit\", horizon: NOW, hiringIntent: POSSIBLE } }) {
                need { id activities } } }",
            // A need from a visit counts for the visit's structure: only
            // its staff note one.
            ALL_DENIED,
        ),
        case(
            "Mutation.needSurface",
            "at A's employer, from the portal",
            "mutation($e: ID!) { needSurface(input: { employerId: $e, source: { kind: PORTAL },
                description: { activities: \"Vernissage\", horizon: NOW, hiringIntent: POSSIBLE } }) {
                need { id activities } } }",
            [Denied, Allowed, Allowed, Allowed, Denied, Denied, Allowed],
        ),
        case(
            "Mutation.needQualify",
            "A's need, same words",
            "mutation($n: ID!) { needQualify(input: { needId: $n, description: {
                activities: \"Tournage et finition (besoin A-8842)\", romeCodes: [\"D1102\"],
                horizon: NOW, hiringIntent: POSSIBLE } }) { need { id activities } } }",
            STAFF,
        ),
        case(
            "Mutation.needClose",
            "A's need",
            "mutation($n: ID!) { needClose(input: { needId: $n, reason: NO_LONGER_NEEDED }) {
                need { id status } } }",
            STAFF,
        ),
        case(
            "Mutation.employerHostingCapacitySet",
            "A's employer",
            "mutation($e: ID!) { employerHostingCapacitySet(input: { employerId: $e,
                simultaneousImmersions: 2 }) { employer { id simultaneousImmersions } } }",
            STAFF,
        ),
        case(
            "Mutation.needFormalise",
            "A's need",
            "mutation($n: ID!) { needFormalise(input: { needId: $n, offerReference: \"OF-1\" }) {
                need { id status } } }",
            STAFF,
        ),
        case(
            "Mutation.personCorrect",
            "A's person's name",
            "mutation($p: ID!) { personCorrect(input: { personId: $p,
                changes: { lastName: \"Autrement\" }, reason: \"Essai\" }) {
                person { id lastName } } }",
            ALL_DENIED,
        ),
        case(
            "Mutation.employerVisitCorrect",
            "A's visit at A's employer",
            "mutation($e: ID!, $v: ID!) { employerVisitCorrect(input: { employerId: $e,
                visitId: $v, changes: { observations: \"Réécrit par B\" }, reason: \"Essai\" }) {
                employer { id } } }",
            ALL_DENIED,
        ),
        case(
            "Mutation.employerCorrect",
            "A's employer's address",
            "mutation($e: ID!) { employerCorrect(input: { employerId: $e,
                changes: { address: \"14 quai de la Fosse\" }, reason: \"Adresse exacte\" }) {
                employer { id address } } }",
            STAFF,
        ),
        case(
            "Mutation.needCorrect",
            "A's need, another headcount",
            "mutation($n: ID!) { needCorrect(input: { needId: $n, description: {
                activities: \"Tournage et finition (besoin A-8842)\", romeCodes: [\"D1102\"],
                headcount: 2, horizon: NOW, hiringIntent: POSSIBLE }, reason: \"Deux postes\" }) {
                need { id headcount } } }",
            STAFF,
        ),
        case(
            "Mutation.personReferentChange",
            "to A's mediator",
            "mutation($p: ID!, $m: ID!) { personReferentChange(input: { personId: $p,
                referentId: $m }) { person { id firstName } } }",
            ALL_DENIED,
        ),
        case(
            "Mutation.personExit",
            "",
            "mutation($p: ID!) { personExit(input: { personId: $p, reason: MOVED }) {
                person { id firstName exitedOn } } }",
            ALL_DENIED,
        ),
        case(
            "Mutation.consentGiveOnline",
            "",
            "mutation($p: ID!) { consentGiveOnline(input: { personId: $p, purpose: TESTIMONY,
                textVersion: \"v1\" }) { person { id consentsGiven } } }",
            ALL_DENIED,
        ),
        case(
            "Mutation.consentWithdrawOnline",
            "",
            "mutation($p: ID!) { consentWithdrawOnline(input: { personId: $p, purpose: TESTIMONY }) {
                person { id consentsGiven } } }",
            ALL_DENIED,
        ),
        case(
            "Mutation.personErase",
            "A's person, confirmed",
            "mutation($p: ID!) { personErase(input: { personId: $p, reason: PERSON_REQUEST,
                confirm: true }) { personId erasedOn } }",
            ALL_DENIED,
        ),
        case(
            "Mutation.personRetentionExtend",
            "A's person",
            "mutation($p: ID!) { personRetentionExtend(input: { personId: $p,
                reason: \"Accompagnement en cours\", months: 6 }) { personId retainedUntil } }",
            ALL_DENIED,
        ),
        case(
            "Mutation.disabilityRecognitionRecord",
            "",
            "mutation($p: ID!) { disabilityRecognitionRecord(input: { personId: $p,
                recognised: true }) { person { id firstName } } }",
            ALL_DENIED,
        ),
        case(
            "Mutation.mentorshipStart",
            "",
            "mutation($p: ID!) { mentorshipStart(input: { personId: $p, mentor: \"Un menuisier\" }) {
                person { id firstName } mentorshipId } }",
            ALL_DENIED,
        ),
        case(
            "Mutation.mentorshipEnd",
            "",
            "mutation($p: ID!) { mentorshipEnd(input: { personId: $p, mentorshipId: $p }) {
                person { id firstName } } }",
            ALL_DENIED,
        ),
        case(
            "Mutation.testimonyRecord",
            "A's person as author",
            "mutation($p: ID!) { testimonyRecord(input: { personId: $p, account: \"Mon parcours\",
                audience: TERRITORY }) { person { id firstName } testimonyId } }",
            ALL_DENIED,
        ),
        case(
            "Mutation.testimonyAudienceChange",
            "A's testimony",
            "mutation($tm: ID!) { testimonyAudienceChange(input: { testimonyId: $tm,
                audience: TERRITORY }) { person { id firstName } testimonyId } }",
            ALL_DENIED,
        ),
        case(
            "Mutation.testimonyWithdraw",
            "A's testimony",
            "mutation($tm: ID!) { testimonyWithdraw(input: { testimonyId: $tm }) {
                person { id firstName } testimonyId } }",
            ALL_DENIED,
        ),
        case(
            "Mutation.conventionPrevalidate",
            "",
            "mutation($i: ID!) { conventionPrevalidate(input: { immersionId: $i }) {
                immersion { id goals } } }",
            ALL_DENIED,
        ),
        case(
            "Mutation.conventionReject",
            "",
            "mutation($i: ID!) { conventionReject(input: { immersionId: $i,
                justification: \"Incomplète\" }) { immersion { id goals } } }",
            ALL_DENIED,
        ),
        case(
            "Mutation.conventionDeprecate",
            "",
            "mutation($i: ID!) { conventionDeprecate(input: { immersionId: $i,
                justification: \"Dates passées\" }) { immersion { id goals } } }",
            ALL_DENIED,
        ),
        case(
            "Mutation.accidentReport",
            "",
            "mutation($i: ID!, $at: DateTime!) { accidentReport(input: { immersionId: $i,
                occurredAt: $at, structureInformedAt: $at, description: \"Coupure\" }) {
                immersion { id goals } accidentId } }",
            ALL_DENIED,
        ),
        case(
            "Mutation.accidentDeclarationRecord",
            "",
            "mutation($i: ID!, $at: DateTime!) { accidentDeclarationRecord(input: {
                immersionId: $i, accidentId: $i, filedAt: $at }) { immersion { id goals } } }",
            ALL_DENIED,
        ),
        case(
            "Query.structure",
            "the viewer's own",
            "{ structure { id name prevalidationRequired } }",
            STAFF,
        ),
        case(
            "Mutation.structureSettingsUpdate",
            "the viewer's own structure",
            "mutation { structureSettingsUpdate(input: { prevalidationRequired: false }) {
                structure { id name prevalidationRequired } } }",
            [Denied, Denied, Allowed, Allowed, Denied, Denied, Denied],
        ),
        case(
            "Mutation.structureUpdate",
            "the viewer's own structure",
            "mutation { structureUpdate(input: { prevalidationRequired: false,
                departements: [\"44\"] }) {
                structure { id name prevalidationRequired departements { code name } } } }",
            [Denied, Denied, Allowed, Allowed, Denied, Denied, Denied],
        ),
        case(
            "Mutation.staffCreate",
            "in the viewer's own structure",
            "mutation { staffCreate(input: { name: \"Nouvelle Recrue\",
                email: \"recrue@plie-nord.fr\", role: MEDIATOR }) {
                member { id name email role active } } }",
            [Denied, Denied, Allowed, Allowed, Denied, Denied, Denied],
        ),
        case(
            "Mutation.staffDeactivate",
            "A's mediator",
            "mutation($m: ID!) { staffDeactivate(input: { userId: $m }) {
                member { id name email active } } }",
            ALL_DENIED,
        ),
        case(
            "Mutation.staffRoleChange",
            "A's mediator",
            "mutation($m: ID!) { staffRoleChange(input: { userId: $m, role: MANAGER }) {
                member { id name email role } } }",
            ALL_DENIED,
        ),
        case(
            "Mutation.passwordChange",
            "the viewer's own, to the same",
            "mutation { passwordChange(input: { currentPassword: \"correct horse battery\",
                newPassword: \"correct horse battery\" }) { me { id email } } }",
            STAFF,
        ),
        case(
            "Mutation.passwordResetRequest",
            "A's person's address",
            "mutation($pe: String!) { passwordResetRequest(input: { email: $pe }) { sent } }",
            PUBLIC,
        ),
        case(
            "Mutation.passwordResetComplete",
            "an unknown token",
            "mutation { passwordResetComplete(input: { token: \"jeton-inconnu\",
                newPassword: \"un mot de passe assez long\" }) { passwordSet } }",
            PUBLIC,
        ),
        // Ends the viewer's session: tried last.
        case(
            "Mutation.logout",
            "the viewer's own session",
            "mutation { logout { loggedOut } }",
            PUBLIC,
        ),
        // Subscriptions, over WebSocket.
        case(
            "Subscription.immersionChanged",
            "A's immersion",
            "subscription($i: ID!) { immersionChanged(id: $i) { id personId stage goals signatures } }",
            ALL_DENIED,
        ),
        case(
            "Subscription.inboxChanged",
            "the viewer's own",
            "subscription { inboxChanged { overdue tasks { kind title immersionId link } } }",
            STAFF,
        ),
    ]
}

/// Every field of `Query`, `Mutation` and `Subscription`, as `Type.field`,
/// from the schema the server serves.
fn schema_fields() -> BTreeSet<String> {
    let document = async_graphql::parser::parse_schema(passerelle_graphql::sdl())
        .expect("the schema's SDL parses");
    let mut fields = BTreeSet::new();
    for definition in document.definitions {
        let TypeSystemDefinition::Type(ty) = definition else {
            continue;
        };
        let ty = ty.node;
        let root = ty.name.node.as_str().to_owned();
        if !matches!(root.as_str(), "Query" | "Mutation" | "Subscription") {
            continue;
        }
        if let TypeKind::Object(object) = ty.kind {
            for field in object.fields {
                fields.insert(format!("{root}.{}", field.node.name.node));
            }
        }
    }
    fields
}

/// The root fields a document's operation selects, as `Type.field`.
fn roots(document: &str) -> Result<Vec<String>, String> {
    let parsed = async_graphql::parser::parse_query(document).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for (_, operation) in parsed.operations.iter() {
        let root = match operation.node.ty {
            OperationType::Query => "Query",
            OperationType::Mutation => "Mutation",
            OperationType::Subscription => "Subscription",
        };
        for item in &operation.node.selection_set.node.items {
            if let Selection::Field(field) = &item.node {
                out.push(format!("{root}.{}", field.node.name.node));
            }
        }
    }
    Ok(out)
}

/// What of A's must not reach whom.
struct Markers {
    /// A's person, immersion and staff: no one outside A.
    private: Vec<String>,
    /// A visit's observations: staff only.
    internal: Vec<String>,
    /// A's need: staff, and the establishment itself.
    shared: Vec<String>,
}

impl Markers {
    fn forbidden_to(&self, viewer: Viewer) -> Vec<&str> {
        let mut out: Vec<&str> = self.private.iter().map(String::as_str).collect();
        if !viewer.staff() {
            out.extend(self.internal.iter().map(String::as_str));
        }
        if matches!(
            viewer,
            Viewer::Anonymous | Viewer::EmployerB | Viewer::PersonB
        ) {
            out.extend(self.shared.iter().map(String::as_str));
        }
        out
    }

    fn leaked<'a>(&'a self, viewer: Viewer, answer: &str) -> Vec<&'a str> {
        self.forbidden_to(viewer)
            .into_iter()
            .filter(|m| answer.contains(m))
            .collect()
    }
}

const REFUSALS: [&str; 3] = ["UNAUTHENTICATED", "FORBIDDEN", "NOT_FOUND"];

/// Whether a JSON value says nothing: nulls, `false`, empty lists.
fn carries_nothing(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(_) | Value::String(_) => false,
        Value::Array(items) => items.iter().all(carries_nothing),
        Value::Object(fields) => fields.values().all(carries_nothing),
    }
}

/// Counts in 1..threshold: figures small enough to point at someone.
fn small_counts(value: &Value, threshold: i64, path: &str, out: &mut Vec<String>) {
    match value {
        Value::Number(n) => {
            if let Some(n) = n.as_i64()
                && (1..threshold).contains(&n)
            {
                out.push(format!("{path} = {n}"));
            }
        }
        Value::Array(items) => {
            for (k, item) in items.iter().enumerate() {
                small_counts(item, threshold, &format!("{path}[{k}]"), out);
            }
        }
        Value::Object(fields) => {
            for (name, field) in fields {
                small_counts(field, threshold, &format!("{path}.{name}"), out);
            }
        }
        _ => {}
    }
}

/// The errors' codes; `None` for an error without one (a document the
/// server did not take, or an untyped failure).
fn error_codes(errors: &[Value]) -> Vec<Option<String>> {
    errors
        .iter()
        .map(|e| e["extensions"]["code"].as_str().map(str::to_owned))
        .collect()
}

const SMALL_CELL_THRESHOLD: i64 = 5;

/// What is wrong with a GraphQL answer (over HTTP, or one WebSocket
/// message's payload) for what was expected.
fn judge(expect: Expect, answer: &Value, leaked: &[&str]) -> Vec<String> {
    let mut problems = Vec::new();
    if !leaked.is_empty() {
        problems.push(format!("shows A's {}", leaked.join(", ")));
    }
    if answer.get("data").is_none() && answer.get("errors").is_none() {
        problems.push("not a GraphQL answer".to_owned());
        return problems;
    }
    let errors = answer["errors"].as_array().cloned().unwrap_or_default();
    let codes = error_codes(&errors);
    for (error, code) in errors.iter().zip(&codes) {
        match code.as_deref() {
            None => problems.push(format!(
                "error without a code: {}",
                error["message"].as_str().unwrap_or_default()
            )),
            Some("INTERNAL") => problems.push("INTERNAL error".to_owned()),
            // A document or variables that do not fit the schema: the case
            // would prove nothing.
            Some("BAD_USER_INPUT") => problems.push(format!(
                "BAD_USER_INPUT, so the case proves nothing: {}",
                error["message"].as_str().unwrap_or_default()
            )),
            _ => {}
        }
    }
    let data = &answer["data"];
    match expect {
        Denied => {
            for code in codes.iter().flatten() {
                if !REFUSALS.contains(&code.as_str())
                    && !matches!(code.as_str(), "INTERNAL" | "BAD_USER_INPUT")
                {
                    problems.push(format!("answered {code}, as if it reached the object"));
                }
            }
            if !carries_nothing(data) {
                problems.push("answered with data".to_owned());
            }
        }
        Allowed | Figures => {
            for code in codes.iter().flatten() {
                if REFUSALS.contains(&code.as_str()) {
                    problems.push(format!("refused ({code}) though allowed by design"));
                }
            }
            if expect == Figures {
                let mut small = Vec::new();
                small_counts(data, SMALL_CELL_THRESHOLD, "data", &mut small);
                if !small.is_empty() {
                    problems.push(format!(
                        "counts under the small-cell threshold: {}",
                        small.join(", ")
                    ));
                }
            }
        }
        Public => {}
    }
    problems
}

struct Failure {
    field: String,
    viewer: &'static str,
    what: String,
    problem: String,
    answer: String,
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max).collect();
    format!("{cut}…")
}

fn table_of(failures: &[Failure]) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "{:<34} | {:<34} | {:<32} | {}\n",
        "field", "viewer", "case", "what went wrong — what came back"
    ));
    out.push_str(&format!("{}\n", "-".repeat(160)));
    for f in failures {
        out.push_str(&format!(
            "{:<34} | {:<34} | {:<32} | {} — {}\n",
            f.field,
            f.viewer,
            shorten(&f.what, 32),
            f.problem,
            shorten(&f.answer, 400)
        ));
    }
    out
}

// The server, accounts and sessions.

/// The server, stopped however the test ends.
struct Running(Option<Server>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut server) = self.0.take() {
            let _ = server.child.kill();
            let _ = server.child.wait();
        }
    }
}

/// A GraphQL request over HTTP; the answer, or what came instead of one.
async fn post(server: &Server, token: Option<&str>, query: &str, variables: &Value) -> Value {
    let mut request = reqwest::Client::new()
        .post(format!("{}/graphql", server.base))
        .header("content-type", "application/json")
        .body(json!({ "query": query, "variables": variables }).to_string());
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let body = response.text().await.unwrap();
    serde_json::from_str(&body).unwrap_or_else(|_| json!({ "httpStatus": status, "body": body }))
}

/// A step of the set-up, which must go through: its data.
async fn step(server: &Server, token: &str, query: &str, variables: Value) -> Value {
    let answer = post(server, Some(token), query, &variables).await;
    assert!(answer["errors"].is_null(), "{query}: {answer}");
    answer["data"].clone()
}

/// The session a magic link opens for `email`: its token, kind and id.
async fn link_session(server: &Server, email: &str) -> (String, String, String) {
    let seen = logged_links(server).len();
    let asked = post(
        server,
        None,
        "mutation($m: String!) { magicLinkRequest(input: { email: $m }) { sent } }",
        &json!({ "m": email }),
    )
    .await;
    assert_eq!(asked["data"]["magicLinkRequest"]["sent"], true, "{asked}");
    let mut link = None;
    for _ in 0..250 {
        if let Some(l) = logged_links(server).get(seen) {
            link = Some(l.clone());
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let link = link.unwrap_or_else(|| panic!("no magic link logged for {email}"));
    let redeemed = post(
        server,
        None,
        "mutation($t: String!) { magicLinkRedeem(input: { token: $t }) { token kind id } }",
        &json!({ "t": link }),
    )
    .await;
    let session = &redeemed["data"]["magicLinkRedeem"];
    assert!(session["token"].is_string(), "{redeemed}");
    (
        session["token"].as_str().unwrap().to_owned(),
        session["kind"].as_str().unwrap().to_owned(),
        session["id"].as_str().unwrap().to_owned(),
    )
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A `graphql-transport-ws` connection with one subscription started.
async fn subscribe(server: &Server, token: Option<&str>, query: &str, variables: &Value) -> Socket {
    let url = format!("{}/graphql/ws", server.base.replace("http://", "ws://"));
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let payload = match token {
        Some(t) => json!({ "authorization": format!("Bearer {t}") }),
        None => json!({}),
    };
    ws.send(Message::Text(
        json!({ "type": "connection_init", "payload": payload })
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    ws.send(Message::Text(
        json!({ "id": "1", "type": "subscribe",
                "payload": { "query": query, "variables": variables } })
        .to_string()
        .into(),
    ))
    .await
    .unwrap();
    ws
}

/// The messages that came until `deadline` (at least a short look),
/// acknowledgements and pings aside.
async fn received(ws: &mut Socket, deadline: Instant) -> Vec<Value> {
    let mut out = Vec::new();
    loop {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(30));
        match tokio::time::timeout(left, ws.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => {
                let value: Value = serde_json::from_str(&text)
                    .unwrap_or_else(|_| json!({ "type": "text", "text": text.to_string() }));
                if !matches!(
                    value["type"].as_str(),
                    Some("connection_ack" | "ping" | "pong")
                ) {
                    out.push(value);
                }
            }
            Ok(Some(Ok(Message::Close(frame)))) => {
                out.push(json!({ "type": "closed", "frame": format!("{frame:?}") }));
                return out;
            }
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(e))) => {
                out.push(json!({ "type": "broken", "error": e.to_string() }));
                return out;
            }
            Ok(None) | Err(_) => return out,
        }
        if Instant::now() >= deadline {
            return out;
        }
    }
}

/// What is wrong with the messages a subscription sent a viewer.
fn judge_messages(expect: Expect, messages: &[Value], leaked: &[&str]) -> Vec<String> {
    let mut problems = Vec::new();
    if !leaked.is_empty() {
        problems.push(format!("shows A's {}", leaked.join(", ")));
    }
    for message in messages {
        match message["type"].as_str() {
            Some("next") => {
                for p in judge(expect, &message["payload"], &[]) {
                    if !problems.contains(&p) {
                        problems.push(p);
                    }
                }
            }
            // `error` carries a list of errors, not a result.
            Some("error") => {
                let answer = json!({ "data": null, "errors": message["payload"] });
                for p in judge(expect, &answer, &[]) {
                    if !problems.contains(&p) {
                        problems.push(p);
                    }
                }
            }
            _ => {}
        }
    }
    if expect == Allowed
        && !messages
            .iter()
            .any(|m| m["type"] == "next" && !m["payload"]["data"].is_null())
    {
        problems.push("received nothing, though allowed".to_owned());
    }
    problems
}

/// A lawful convention for A's immersion, one day long from `today`.
fn convention_of_a(today: &str, siret: &str) -> Value {
    json!({
        "prescriber": { "name": "Mission locale de Nantes",
                        "signatory": { "name": "Dominique Martin" } },
        "person": {
            "identity": { "firstName": "Zephyrine", "lastName": "Quillebeuf",
                          "birthDate": "2000-03-04",
                          "address": "5 rue des Tanneurs, 44000 Nantes" },
            "situation": { "kind": "JOB_SEEKER" }
        },
        "host": { "siret": siret, "name": "Menuiserie Kerbrat",
                  "activity": "Menuiserie", "collectiveAgreement": "IDCC 1527",
                  "signatory": { "name": "Jean Kerbrat" },
                  "tutor": { "name": "Lucie Bernard", "jobTitle": "Menuisière" } },
        "period": { "start": today, "end": today },
        "schedule": "De 8 h à 15 h",
        "weeklyHours": 35.0,
        "place": { "address": "12 quai de la Fosse", "commune": "44109" },
        "objective": "DISCOVER_JOB_OR_SECTOR",
        "goals": "Decouvrir le tournage sur bois (objectif A-7319)",
        "evaluation": "Grille remplie avec la tutrice",
        "tasks": "Poncer, assembler",
        "forbiddenUsesExcluded": true
    })
}

#[tokio::test]
async fn no_viewer_outside_a_structure_reaches_its_people_or_immersions_by_any_root_field() {
    let started = Instant::now();
    let mut failures: Vec<Failure> = Vec::new();

    // Every root field has its cases, and every case names a field that
    // exists and that its document selects.
    let cases = table();
    let in_schema = schema_fields();
    let in_table: BTreeSet<String> = cases.iter().map(|c| c.field.to_owned()).collect();
    for missing in in_schema.difference(&in_table) {
        failures.push(Failure {
            field: missing.clone(),
            viewer: "-",
            what: "-".to_owned(),
            problem: "a field of the schema with no expectation in this test's table".to_owned(),
            answer: "add its cases to `table()`".to_owned(),
        });
    }
    for stale in in_table.difference(&in_schema) {
        failures.push(Failure {
            field: stale.clone(),
            viewer: "-",
            what: "-".to_owned(),
            problem: "an expectation for a field the schema no longer has".to_owned(),
            answer: "remove or rename its cases in `table()`".to_owned(),
        });
    }
    for case in &cases {
        match roots(case.document) {
            Ok(roots) if roots.iter().any(|r| r == case.field) => {}
            Ok(roots) => failures.push(Failure {
                field: case.field.to_owned(),
                viewer: "-",
                what: case.what.to_owned(),
                problem: "the case's document does not select its field".to_owned(),
                answer: roots.join(", "),
            }),
            Err(e) => failures.push(Failure {
                field: case.field.to_owned(),
                viewer: "-",
                what: case.what.to_owned(),
                problem: "the case's document does not parse".to_owned(),
                answer: e,
            }),
        }
    }

    // The server, with magic links in its log and room for every attempt.
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut running = Running(Some(Server::start(|cmd| {
        cmd.env("DATABASE_URL", db.url())
            .env("PASSERELLE_DATA_DIR", dir.path())
            .env("PASSERELLE_API__MAGIC_LINKS_IN_LOG", "true")
            .env("PASSERELLE_API__MAX_ATTEMPTS", "1000")
            .env("PASSERELLE_API__MAX_ATTEMPTS_PER_CLIENT", "1000")
            .env(
                "PASSERELLE_DASHBOARDS__SMALL_CELL_THRESHOLD",
                SMALL_CELL_THRESHOLD.to_string(),
            );
    })));
    let server = running.0.as_ref().unwrap();
    wait_for_status(server, "/ready", 200).await;
    let (structure_a, structure_b) = ("Mission locale de Nantes", "PLIE Nord");
    create_staff(&db, &dir, structure_a, "mediator", "camille@ml-nantes.fr");
    create_staff(&db, &dir, structure_a, "manager", "direction@ml-nantes.fr");
    create_staff(&db, &dir, structure_b, "mediator", "lea@plie-nord.fr");
    create_staff(&db, &dir, structure_b, "manager", "direction@plie-nord.fr");
    create_staff(&db, &dir, structure_b, "admin", "admin@plie-nord.fr");
    let mediator_a = login(server, "camille@ml-nantes.fr").await;
    let manager_a = login(server, "direction@ml-nantes.fr").await;
    let mediator_b = login(server, "lea@plie-nord.fr").await;
    let manager_b = login(server, "direction@plie-nord.fr").await;
    let admin_b = login(server, "admin@plie-nord.fr").await;
    let me_a = step(server, &mediator_a, "{ me { id structureId } }", json!({})).await;
    let (mediator_a_id, structure_a_id) = (
        me_a["me"]["id"].as_str().unwrap().to_owned(),
        me_a["me"]["structureId"].as_str().unwrap().to_owned(),
    );
    let me_manager_a = step(server, &manager_a, "{ me { structureId } }", json!({})).await;
    assert_eq!(me_manager_a["me"]["structureId"], structure_a_id.as_str());

    // A's objects.
    let siret_a = "73282932000074";
    let a = Some(mediator_a.as_str());
    let employer_a = step(
        server,
        &mediator_a,
        "mutation($s: String!) { employerRegister(input: { siret: $s, name: \"Menuiserie Kerbrat\",
            naf: \"16\", commune: \"44109\" }) { employer { id } } }",
        json!({ "s": siret_a }),
    )
    .await["employerRegister"]["employer"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let contacts = step(
        server,
        &mediator_a,
        "mutation($e: ID!) { employerContactAdd(input: { employerId: $e, name: \"Jean Kerbrat\",
            email: \"jean@menuiserie-kerbrat.fr\" }) { employer { contacts { id email } } } }",
        json!({ "e": employer_a }),
    )
    .await;
    let contact_a = contacts["employerContactAdd"]["employer"]["contacts"]
        .as_array()
        .and_then(|all| {
            all.iter()
                .find(|c| c["email"] == "jean@menuiserie-kerbrat.fr")
        })
        .and_then(|c| c["id"].as_str())
        .unwrap_or_else(|| panic!("A's contact is not listed to A: {contacts}"))
        .to_owned();
    let visited = step(
        server,
        &mediator_a,
        "mutation($e: ID!) { employerVisitLog(input: { employerId: $e, purpose: PROSPECTION,
            observations: \"Depart en retraite du chef d'atelier (note A-5521)\" }) {
            employer { visits { id } } } }",
        json!({ "e": employer_a }),
    )
    .await;
    let visit_a = visited["employerVisitLog"]["employer"]["visits"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let need_a = step(
        server,
        &mediator_a,
        "mutation($e: ID!, $v: ID!) { needSurface(input: { employerId: $e,
            source: { kind: VISIT, visitId: $v },
            description: { activities: \"Tournage et finition (besoin A-8842)\", horizon: NOW,
                           hiringIntent: POSSIBLE } }) { need { id } } }",
        json!({ "e": employer_a, "v": visit_a }),
    )
    .await["needSurface"]["need"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let person_a = step(
        server,
        &mediator_a,
        "mutation { personEnroll(input: { firstName: \"Zephyrine\", lastName: \"Quillebeuf\",
            birthDate: \"2000-03-04\", email: \"zephyrine.q@exemple.fr\" }) {
            person { id enrolledOn } } }",
        json!({}),
    )
    .await["personEnroll"]["person"]
        .clone();
    let today = person_a["enrolledOn"].as_str().unwrap().to_owned();
    let person_a = person_a["id"].as_str().unwrap().to_owned();
    let immersion_a = step(
        server,
        &mediator_a,
        "mutation($p: ID!, $e: ID!, $n: ID!) { immersionPropose(input: { personId: $p,
            employerId: $e, needId: $n, objective: DISCOVER_JOB_OR_SECTOR }) { immersion { id } } }",
        json!({ "p": person_a, "e": employer_a, "n": need_a }),
    )
    .await["immersionPropose"]["immersion"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for by in ["PERSON", "EMPLOYER"] {
        step(
            server,
            &mediator_a,
            "mutation($i: ID!, $by: Party!) { immersionAccept(input: { immersionId: $i, by: $by }) {
                immersion { id } } }",
            json!({ "i": immersion_a, "by": by }),
        )
        .await;
    }
    let convention = convention_of_a(&today, siret_a);
    step(
        server,
        &mediator_a,
        "mutation($i: ID!, $c: ConventionInput!) { conventionDraft(input: { immersionId: $i,
            convention: $c }) { immersion { id } } }",
        json!({ "i": immersion_a, "c": convention }),
    )
    .await;

    // B's objects, and the contact B's mediator adds at A's employer, with
    // an address B controls.
    let employer_b = step(
        server,
        &mediator_b,
        "mutation { employerRegister(input: { siret: \"44306184100047\", name: \"Garage Central\",
            naf: \"45\", commune: \"44109\" }) { employer { id } } }",
        json!({}),
    )
    .await["employerRegister"]["employer"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    step(
        server,
        &mediator_b,
        "mutation($e: ID!) { employerContactAdd(input: { employerId: $e, name: \"Paul Garnier\",
            email: \"atelier@garage-central.fr\" }) { employer { id } } }",
        json!({ "e": employer_b }),
    )
    .await;
    let person_b = step(
        server,
        &mediator_b,
        "mutation { personEnroll(input: { firstName: \"Noé\", lastName: \"Bertin\",
            birthDate: \"1998-07-21\", email: \"noe.bertin@exemple.fr\" }) { person { id } } }",
        json!({}),
    )
    .await["personEnroll"]["person"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    step(
        server,
        &mediator_b,
        "mutation($p: ID!, $e: ID!) { immersionPropose(input: { personId: $p, employerId: $e,
            objective: CONFIRM_PROJECT }) { immersion { id } } }",
        json!({ "p": person_b, "e": employer_b }),
    )
    .await;
    step(
        server,
        &mediator_b,
        "mutation($e: ID!) { employerContactAdd(input: { employerId: $e, name: \"Contact PLIE\",
            email: \"entreprises@plie-nord.fr\" }) { employer { id } } }",
        json!({ "e": employer_a }),
    )
    .await;

    // A testimony of A's person, for the testimonies' mutations.
    step(
        server,
        &mediator_a,
        "mutation($p: ID!) { consentGive(input: { personId: $p, purpose: TESTIMONY,
            textVersion: \"v1\", signedForm: true }) { person { id } } }",
        json!({ "p": person_a }),
    )
    .await;
    let testimony_a = step(
        server,
        &mediator_a,
        "mutation($p: ID!) { testimonyRecord(input: { personId: $p,
            account: \"Mon parcours A-7319\", romeCodes: [\"D1102\"],
            audience: OWN_STRUCTURE_MEDIATORS }) {
            testimonyId } }",
        json!({ "p": person_a }),
    )
    .await["testimonyRecord"]["testimonyId"]
        .as_str()
        .unwrap()
        .to_owned();

    // The sessions by magic link.
    let (employer_b_session, kind, id) = link_session(server, "atelier@garage-central.fr").await;
    assert_eq!(
        (kind.as_str(), id.as_str()),
        ("EMPLOYER", employer_b.as_str())
    );
    let (person_b_session, kind, id) = link_session(server, "noe.bertin@exemple.fr").await;
    assert_eq!((kind.as_str(), id.as_str()), ("PERSON", person_b.as_str()));
    let (contact_at_a, kind, id) = link_session(server, "entreprises@plie-nord.fr").await;
    assert_eq!(
        (kind.as_str(), id.as_str()),
        ("EMPLOYER", employer_a.as_str())
    );
    let tokens: [Option<&str>; 7] = [
        None,
        Some(&mediator_b),
        Some(&manager_b),
        Some(&admin_b),
        Some(&employer_b_session),
        Some(&person_b_session),
        Some(&contact_at_a),
    ];

    // What A's own staff see: the markers below are really there.
    let own = step(
        server,
        &mediator_a,
        "query($p: ID!, $i: ID!, $e: ID!) { person(id: $p) { firstName lastName }
            immersion(id: $i) { goals } employer(id: $e) { visits { observations }
            needs { activities } } }",
        json!({ "p": person_a, "i": immersion_a, "e": employer_a }),
    )
    .await;
    let own_text = own.to_string();
    for marker in [
        "Zephyrine",
        "Quillebeuf",
        "A-7319",
        "note A-5521",
        "besoin A-8842",
    ] {
        assert!(own_text.contains(marker), "{marker} not in {own}");
    }
    let markers = Markers {
        private: vec![
            "Zephyrine".into(),
            "Quillebeuf".into(),
            "zephyrine.q@exemple.fr".into(),
            person_a.clone(),
            immersion_a.clone(),
            "A-7319".into(),
            "camille@ml-nantes.fr".into(),
            "direction@ml-nantes.fr".into(),
            "jean@menuiserie-kerbrat.fr".into(),
        ],
        internal: vec!["note A-5521".into()],
        shared: vec!["besoin A-8842".into()],
    };

    // The dashboards count A's immersion before anyone looks at them.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let funnel = step(
            server,
            &mediator_a,
            "query($s: ID!) { immersionFunnel(filter: { structureId: $s }) { steps { step count } } }",
            json!({ "s": structure_a_id }),
        )
        .await;
        let proposed = funnel["immersionFunnel"]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["step"] == "PROPOSED")
            .map(|s| s["count"].clone());
        if proposed == Some(json!(1)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the dashboards never counted A's immersion: {funnel}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A mail of A's that failed, for `deliveryRetry`.
    let mut delivery_a: Option<i64> = None;
    let deadline = Instant::now() + Duration::from_secs(15);
    while delivery_a.is_none() && Instant::now() < deadline {
        delivery_a = sqlx::query_scalar(
            "update outbox set state = 'failed', last_answer = '550 refusé'
             where id = (select id from outbox where structure_id = $1
                         and state in ('sent', 'cancelled') order by id limit 1)
             returning id",
        )
        .bind(uuid::Uuid::parse_str(&structure_a_id).unwrap())
        .fetch_optional(&db.pool)
        .await
        .unwrap();
        if delivery_a.is_none() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let mut notes: Vec<String> = Vec::new();
    if delivery_a.is_none() {
        notes.push(
            "no mail of A was sent within 15 s: deliveryRetry was tried on an unknown id".into(),
        );
    }
    let delivery_state = |id: Option<i64>| {
        let pool = db.pool.clone();
        async move {
            match id {
                Some(id) => sqlx::query_scalar::<_, String>(
                    "select state || '/' || attempts from outbox where id = $1",
                )
                .bind(id)
                .fetch_one(&pool)
                .await
                .unwrap(),
                None => String::new(),
            }
        }
    };

    let variables = json!({
        "e": employer_a,
        "p": person_a,
        "i": immersion_a,
        "n": need_a,
        "v": visit_a,
        "ct": contact_a,
        "m": mediator_a_id,
        "s": structure_a_id,
        "d": delivery_a.map_or_else(|| "0".to_owned(), |d| d.to_string()),
        "pe": "zephyrine.q@exemple.fr",
        "siret": siret_a,
        "c": convention,
        "t": today,
        "tm": testimony_a,
        "at": time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap(),
    });

    // Subscriptions: every viewer subscribes; A's mediator too, as the
    // control that the change below is sent at all.
    let subscriptions: Vec<&Case> = cases
        .iter()
        .filter(|c| c.field.starts_with("Subscription."))
        .collect();
    let mut sockets = Vec::new();
    for case in &subscriptions {
        for (k, viewer) in VIEWERS.iter().enumerate() {
            let ws = subscribe(server, tokens[k], case.document, &variables).await;
            sockets.push((*case, *viewer, k, ws));
        }
    }
    let immersion_changed = cases
        .iter()
        .find(|c| c.field == "Subscription.immersionChanged")
        .map_or(
            "subscription($i: ID!) { immersionChanged(id: $i) { id stage } }",
            |c| c.document,
        );
    let mut control = subscribe(server, a, immersion_changed, &variables).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut before_change = Vec::new();
    for (_, _, _, ws) in &mut sockets {
        before_change.push(received(ws, Instant::now()).await);
    }
    // A change on A's immersion, by A's mediator.
    step(
        server,
        &mediator_a,
        "mutation($i: ID!) { conventionSign(input: { immersionId: $i, signatory: PRESCRIBER }) {
            immersion { id } } }",
        json!({ "i": immersion_a }),
    )
    .await;
    // The others are read once A's own mediator got the change (or 10 s
    // passed), and a second more, so that a slow server is no excuse.
    let updated = |messages: &[Value]| {
        messages.iter().any(|m| {
            m["type"] == "next" && m["payload"]["data"]["immersionChanged"]["id"].is_string()
        })
    };
    let waited = Instant::now() + Duration::from_secs(10);
    let mut controlled = Vec::new();
    while !updated(&controlled) && Instant::now() < waited {
        controlled
            .extend(received(&mut control, Instant::now() + Duration::from_millis(100)).await);
    }
    if !updated(&controlled) {
        failures.push(Failure {
            field: "Subscription.immersionChanged".into(),
            viewer: "mediator of A (control)",
            what: "A's immersion".into(),
            problem: "A's own mediator got no update: the check of the others proves nothing"
                .into(),
            answer: Value::Array(controlled).to_string(),
        });
    }
    let deadline = Instant::now() + Duration::from_secs(1);
    for ((case, viewer, k, ws), mut messages) in sockets.iter_mut().zip(before_change) {
        messages.extend(received(ws, deadline).await);
        let text = Value::Array(messages.clone()).to_string();
        let leaked = markers.leaked(*viewer, &text);
        for problem in judge_messages(case.expect[*k], &messages, &leaked) {
            failures.push(Failure {
                field: case.field.to_owned(),
                viewer: viewer.name(),
                what: case.what.to_owned(),
                problem,
                answer: text.clone(),
            });
        }
    }
    drop(sockets);
    drop(control);

    // Queries and mutations over HTTP, each viewer in turn; logging out
    // last, since it ends the viewer's session.
    let mut http: Vec<&Case> = cases
        .iter()
        .filter(|c| !c.field.starts_with("Subscription."))
        .collect();
    http.sort_by_key(|c| c.field == "Mutation.logout");
    let mut tried = 0;
    for case in http {
        for (k, viewer) in VIEWERS.iter().enumerate() {
            let expect = case.expect[k];
            let events_before = events(&db).await;
            let outbox_before = delivery_state(delivery_a).await;
            let answer = post(server, tokens[k], case.document, &variables).await;
            let appended = events(&db).await - events_before;
            let outbox_after = delivery_state(delivery_a).await;
            tried += 1;
            let text = answer.to_string();
            let leaked = markers.leaked(*viewer, &text);
            let mut problems = judge(expect, &answer, &leaked);
            if appended != 0 && expect != Allowed {
                problems.push(format!("appended {appended} event(s)"));
            }
            if outbox_after != outbox_before {
                problems.push(format!(
                    "changed A's failed mail: {outbox_before} → {outbox_after}"
                ));
            }
            for problem in problems {
                failures.push(Failure {
                    field: case.field.to_owned(),
                    viewer: viewer.name(),
                    what: case.what.to_owned(),
                    problem,
                    answer: text.clone(),
                });
            }
        }
    }

    let _ = running.0.take().unwrap().terminate();
    println!(
        "{} root fields, {} cases, {tried} HTTP attempts and {} subscriptions in {:.1} s",
        in_schema.len(),
        cases.len(),
        subscriptions.len() * VIEWERS.len(),
        started.elapsed().as_secs_f64()
    );
    for note in &notes {
        println!("note: {note}");
    }
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        table_of(&failures)
    );
}
