//! Matching on the demo territory: a seeded history of two structures,
//! carried out through the command path on a real PostgreSQL, then
//! `matchingNeeds`, `matchingEmployers`, `peers`, `possibleMentors` and
//! `Need.matchingPeople` asked for chosen people and needs. Each answer is
//! compared with what a fold over the facts the history carried out says
//! it must be (the rules of `views::matching`, written again here over the
//! commands, not over the views the queries read).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use passerelle_accounts::{StaffRole, User};
use passerelle_app::{FixedClock, Handler};
use passerelle_demo::{Fact, History, Options};
use passerelle_domain::employer::EmployerCommand;
use passerelle_domain::immersion::ImmersionCommand;
use passerelle_domain::need::NeedCommand;
use passerelle_domain::person::{ConsentPurpose, PersonCommand};
use passerelle_domain::values::{CommuneCode, StructureId, UserId};
use passerelle_graphql::{Viewer, prepare};
use serde_json::{Value, json};
use time::Date;
use time::macros::{date, datetime};
use uuid::Uuid;

#[derive(Default, Clone)]
struct EmployerFacts {
    name: String,
    commune: String,
}

#[derive(Clone)]
struct NeedFacts {
    employer: Uuid,
    codes: Vec<String>,
    surfaced_on: Date,
    open: bool,
}

#[derive(Default, Clone)]
struct PersonFacts {
    structure: Uuid,
    first_name: String,
    last_name: String,
    commune: Option<String>,
    target: Vec<String>,
    /// Every version of their project.
    versions: Vec<Vec<String>>,
    exited: bool,
    consents: BTreeSet<ConsentPurpose>,
    /// Mentors by name, with the job recorded.
    mentors: Vec<(String, Option<String>)>,
}

#[derive(Clone)]
struct ImmersionFacts {
    person: Uuid,
    employer: Uuid,
    structure: Uuid,
    need: Option<Uuid>,
    stage: &'static str,
}

/// The territory as the facts left it.
#[derive(Default)]
struct Territory {
    employers: BTreeMap<Uuid, EmployerFacts>,
    needs: BTreeMap<Uuid, NeedFacts>,
    people: BTreeMap<Uuid, PersonFacts>,
    immersions: BTreeMap<Uuid, ImmersionFacts>,
}

fn codes(codes: &[passerelle_domain::values::RomeCode]) -> Vec<String> {
    codes.iter().map(|c| c.as_str().to_owned()).collect()
}

impl Territory {
    fn of(history: &History) -> Self {
        let mut t = Self::default();
        for fact in history.done() {
            match fact {
                Fact::Employer(id, EmployerCommand::Register { name, commune, .. }) => {
                    t.employers.insert(
                        id.0,
                        EmployerFacts {
                            name: name.as_str().to_owned(),
                            commune: commune.as_str().to_owned(),
                        },
                    );
                }
                Fact::Need(
                    id,
                    NeedCommand::Surface {
                        employer_id,
                        description,
                        surfaced_on,
                        ..
                    },
                ) => {
                    t.needs.insert(
                        id.0,
                        NeedFacts {
                            employer: employer_id.0,
                            codes: codes(&description.rome_codes),
                            surfaced_on: *surfaced_on,
                            open: true,
                        },
                    );
                }
                Fact::Need(
                    id,
                    NeedCommand::Qualify { description, .. }
                    | NeedCommand::Correct { description, .. },
                ) => {
                    t.needs.get_mut(&id.0).unwrap().codes = codes(&description.rome_codes);
                }
                Fact::Need(
                    id,
                    NeedCommand::Close { .. } | NeedCommand::FormaliseAsOffer { .. },
                ) => {
                    t.needs.get_mut(&id.0).unwrap().open = false;
                }
                Fact::Person(id, command) => {
                    let p = t.people.entry(id.0).or_default();
                    match command {
                        PersonCommand::Enroll {
                            structure,
                            identity,
                            commune,
                            ..
                        } => {
                            p.structure = structure.as_uuid();
                            p.first_name = identity.first_name.as_str().to_owned();
                            p.last_name = identity.last_name.as_str().to_owned();
                            p.commune = commune.as_ref().map(|c| c.as_str().to_owned());
                        }
                        PersonCommand::StateProject { project, .. }
                        | PersonCommand::ReadjustProject { project, .. } => {
                            p.target = codes(&project.target_rome_codes);
                            p.versions.push(p.target.clone());
                        }
                        PersonCommand::CorrectIdentity { changes, .. } => {
                            if let Some(first) = &changes.first_name {
                                p.first_name = first.as_str().to_owned();
                            }
                            if let Some(last) = &changes.last_name {
                                p.last_name = last.as_str().to_owned();
                            }
                        }
                        PersonCommand::Exit { .. } => p.exited = true,
                        PersonCommand::GiveConsent { purpose, .. } => {
                            p.consents.insert(*purpose);
                        }
                        PersonCommand::WithdrawConsent { purpose, .. } => {
                            p.consents.remove(purpose);
                        }
                        PersonCommand::StartMentorship {
                            mentor, mentor_job, ..
                        } => p.mentors.push((
                            mentor.as_str().to_owned(),
                            mentor_job.as_ref().map(|j| j.as_str().to_owned()),
                        )),
                        _ => {}
                    }
                }
                Fact::Immersion(id, command) => match command {
                    ImmersionCommand::Propose {
                        person_id,
                        employer_id,
                        need_id,
                        structure,
                        ..
                    } => {
                        t.immersions.insert(
                            id.0,
                            ImmersionFacts {
                                person: person_id.0,
                                employer: employer_id.0,
                                structure: structure.as_uuid(),
                                need: need_id.map(|n| n.0),
                                stage: "proposed",
                            },
                        );
                    }
                    ImmersionCommand::Start { .. } => {
                        t.immersions.get_mut(&id.0).unwrap().stage = "started";
                    }
                    ImmersionCommand::Interrupt { .. } => {
                        t.immersions.get_mut(&id.0).unwrap().stage = "interrupted";
                    }
                    ImmersionCommand::Complete { .. } => {
                        t.immersions.get_mut(&id.0).unwrap().stage = "completed";
                    }
                    _ => {}
                },
                _ => {}
            }
        }
        t
    }

    /// The immersions that started (and may have ended since).
    fn went_ahead(&self) -> impl Iterator<Item = &ImmersionFacts> {
        self.immersions
            .values()
            .filter(|i| matches!(i.stage, "started" | "interrupted" | "completed"))
    }
}

/// How `codes` fit `wanted`: 0 when one code is the same, 1 when one
/// shares its ROME domain (the first three characters), none otherwise.
fn fit(codes: &[String], wanted: &[String]) -> Option<i32> {
    if codes.iter().any(|c| wanted.contains(c)) {
        Some(0)
    } else if codes
        .iter()
        .any(|c| wanted.iter().any(|w| w.get(..3) == c.get(..3)))
    {
        Some(1)
    } else {
        None
    }
}

/// How near an employer's commune is to a person's: 0 the same
/// municipality, 1 the département, 2 the region, 3 farther.
fn proximity(person: Option<&str>, employer: &str) -> i32 {
    let Some(person) = person.and_then(|c| CommuneCode::parse(c).ok()) else {
        return 3;
    };
    let employer = CommuneCode::parse(employer).unwrap();
    let (p, e) = (person.commune().unwrap(), employer.commune().unwrap());
    if person.municipality() == employer.municipality() {
        0
    } else if p.departement == e.departement {
        1
    } else if p.region == e.region {
        2
    } else {
        3
    }
}

fn rome_match(level: i32) -> &'static str {
    if level == 0 { "EXACT" } else { "SAME_DOMAIN" }
}

fn proximity_name(level: i32) -> &'static str {
    ["SAME_COMMUNE", "SAME_DEPARTEMENT", "SAME_REGION", "FARTHER"][level as usize]
}

/// A need's place in `matchingNeeds`' order: proximity, exactness, newest
/// first, then the need itself.
type NeedRank = (i32, i32, std::cmp::Reverse<(Date, Uuid)>, Uuid);

impl Territory {
    /// `matchingNeeds`: open needs whose codes fit the project, nearest
    /// first, then exact codes, then newest.
    fn needs_for(&self, person: &PersonFacts) -> Vec<Value> {
        let mut rows: Vec<NeedRank> = self
            .needs
            .iter()
            .filter(|(_, n)| n.open)
            .filter_map(|(id, n)| {
                let level = fit(&n.codes, &person.target)?;
                let e = &self.employers[&n.employer];
                let near = proximity(person.commune.as_deref(), &e.commune);
                Some((near, level, std::cmp::Reverse((n.surfaced_on, *id)), *id))
            })
            .collect();
        rows.sort();
        rows.into_iter()
            .map(|(near, level, _, id)| {
                json!({ "needId": id.to_string(), "romeMatch": rome_match(level),
                        "proximity": proximity_name(near) })
            })
            .collect()
    }

    /// `matchingEmployers`: by an open need that fits, or by a fitting
    /// need of an immersion of the viewer's structure that went ahead.
    fn employers_for(&self, person: &PersonFacts) -> Vec<Value> {
        let mut rows = Vec::new();
        for (id, e) in &self.employers {
            let open = self
                .needs
                .values()
                .filter(|n| n.employer == *id && n.open)
                .filter_map(|n| fit(&n.codes, &person.target))
                .min();
            let hosted = self
                .went_ahead()
                .filter(|i| i.employer == *id && i.structure == person.structure)
                .filter_map(|i| {
                    i.need
                        .and_then(|n| fit(&self.needs[&n].codes, &person.target))
                })
                .min();
            let level = match (open, hosted) {
                (None, None) => continue,
                (a, b) => a.into_iter().chain(b).min().unwrap(),
            };
            let near = proximity(person.commune.as_deref(), &e.commune);
            rows.push((
                near,
                level,
                e.name.clone(),
                *id,
                open.is_some(),
                hosted.is_some(),
            ));
        }
        rows.sort();
        rows.into_iter()
            .map(|(near, level, _, id, by_open_need, by_hosting)| {
                json!({ "employerId": id.to_string(), "romeMatch": rome_match(level),
                        "proximity": proximity_name(near), "byOpenNeed": by_open_need,
                        "byHosting": by_hosting })
            })
            .collect()
    }

    /// `peers`: former participants of the structure (exited, or with an
    /// immersion completed) who consent to share their testimony or to meet
    /// peers, whose path (a project version, or the need of an immersion
    /// that went ahead) fits.
    fn peers_of(&self, id: Uuid, person: &PersonFacts) -> Vec<Value> {
        let mut rows = Vec::new();
        for (other, p) in &self.people {
            if *other == id
                || p.structure != person.structure
                || !(p.consents.contains(&ConsentPurpose::Testimony)
                    || p.consents.contains(&ConsentPurpose::PeerContact))
            {
                continue;
            }
            let completed = self
                .immersions
                .values()
                .any(|i| i.person == *other && i.stage == "completed");
            if !(p.exited || completed) {
                continue;
            }
            let path = p.versions.iter().cloned().chain(
                self.went_ahead()
                    .filter(|i| i.person == *other)
                    .filter_map(|i| i.need.map(|n| self.needs[&n].codes.clone())),
            );
            if let Some(level) = path.filter_map(|codes| fit(&codes, &person.target)).min() {
                rows.push((level, p.first_name.clone(), *other));
            }
        }
        rows.sort();
        rows.into_iter()
            .map(|(level, first_name, _)| {
                json!({ "firstName": first_name, "romeMatch": rome_match(level) })
            })
            .collect()
    }

    /// `possibleMentors`: the mentors of the structure's other people who
    /// consent to mentoring and whose project went through a fitting code,
    /// each with their closest fit.
    fn mentors_of(&self, id: Uuid, person: &PersonFacts) -> Vec<Value> {
        let mut mentors: BTreeMap<String, (i32, Option<String>)> = BTreeMap::new();
        for (other, p) in &self.people {
            // A mentor is named from a mentee who consents to mentoring now.
            if *other == id
                || p.structure != person.structure
                || p.mentors.is_empty()
                || !p.consents.contains(&ConsentPurpose::Mentoring)
            {
                continue;
            }
            let Some(level) = p
                .versions
                .iter()
                .filter_map(|codes| fit(codes, &person.target))
                .min()
            else {
                continue;
            };
            for (name, job) in &p.mentors {
                let entry = mentors.entry(name.clone()).or_insert((level, None));
                entry.0 = entry.0.min(level);
                if entry.1.is_none() {
                    entry.1.clone_from(job);
                }
            }
        }
        let mut rows: Vec<(i32, String, Option<String>)> = mentors
            .into_iter()
            .map(|(name, (level, job))| (level, name, job))
            .collect();
        rows.sort();
        rows.into_iter()
            .map(|(level, name, _)| json!({ "name": name, "romeMatch": rome_match(level) }))
            .collect()
    }

    /// `Need.matchingPeople`: the people the structure follows, not
    /// exited, whose current project fits the need.
    fn people_for(&self, structure: Uuid, need: &NeedFacts) -> Vec<Value> {
        let mut rows: Vec<(i32, String, String, Uuid)> = self
            .people
            .iter()
            .filter(|(_, p)| p.structure == structure && !p.exited)
            .filter_map(|(id, p)| {
                let level = fit(&p.target, &need.codes)?;
                Some((level, p.last_name.clone(), p.first_name.clone(), *id))
            })
            .collect();
        rows.sort();
        rows.into_iter()
            .map(|(level, _, _, id)| {
                json!({ "personId": id.to_string(), "romeMatch": rome_match(level) })
            })
            .collect()
    }
}

const PERSON: &str = "query($p: ID!) { person(id: $p) {
    matchingNeeds(first: 100) { edges { node { needId romeMatch proximity } } pageInfo { hasNextPage } }
    matchingEmployers(first: 100) { edges { node { employerId romeMatch proximity byOpenNeed byHosting } }
                                    pageInfo { hasNextPage } }
    peers(first: 100) { edges { node { firstName romeMatch } } pageInfo { hasNextPage } }
    possibleMentors(first: 100) { edges { node { name romeMatch } } pageInfo { hasNextPage } } } }";

const NEED: &str = "query($n: ID!) { need(id: $n) {
    matchingPeople(first: 100) { edges { node { personId romeMatch } } pageInfo { hasNextPage } } } }";

/// The nodes of a connection's single page.
fn nodes(connection: &Value) -> Vec<Value> {
    assert_eq!(connection["pageInfo"]["hasNextPage"], false, "{connection}");
    connection["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{connection}"))
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

#[tokio::test]
async fn matching_on_the_demo_territory_gives_what_its_history_implies() {
    let started = Instant::now();
    let db = passerelle_store::testkit::TestDb::new().await;
    let projections = support::projections(&db).await;
    let clock = Arc::new(FixedClock::new(datetime!(2025-01-01 08:00 UTC)));
    let handler = Handler::new(projections.clone(), clock.clone());
    let (gateway, schema) = support::gateway(handler.clone(), &db);
    // Two structures of neighbouring départements, three mediators each.
    let staff = support::staff(&[("44", 1), ("49", 2)], 3);
    let options = Options {
        seed: 2026,
        people: 140,
        employers: 45,
        months: 24,
        end: date!(2026 - 06 - 30),
    };
    let mut history = History::plan(&staff, &options);
    history
        .run_until(&handler, &clock, options.end)
        .await
        .unwrap();
    projections.catch_up().await.unwrap();
    let seeded = started.elapsed();
    let territory = Territory::of(&history);

    let viewer = |structure: StructureId, user: UserId| Viewer {
        user: Some(User {
            user_id: user,
            structure,
            structure_name: "Structure".into(),
            role: StaffRole::Mediator,
            email: "mediatrice@structure.example.org".into(),
            name: "Médiatrice".into(),
        }),
        principal: None,
        token: None,
        client: None,
    };
    let query = async |viewer: &Viewer, query: &str, variables: Value| {
        let request = async_graphql::Request::new(query)
            .variables(async_graphql::Variables::from_json(variables));
        let response = schema
            .execute(prepare(request, &gateway, viewer.clone()))
            .await;
        assert!(response.errors.is_empty(), "{:?}", response.errors);
        response.data.into_json().unwrap()
    };

    // Every person of each structure is asked; those with the most of
    // each list are remembered, so that a list the history left empty
    // everywhere does not pass unseen.
    let mut most = BTreeMap::<&str, usize>::new();
    let mut asked = 0;
    for s in &staff {
        let mediator = viewer(s.structure, s.mediators[0]);
        let people: Vec<(&Uuid, &PersonFacts)> = territory
            .people
            .iter()
            .filter(|(_, p)| p.structure == s.structure.as_uuid() && !p.target.is_empty())
            .collect();
        // Every fifth, to keep the test quick, and each one the history
        // gives peers or mentors (they are few).
        for (n, (id, person)) in people.into_iter().enumerate() {
            if n % 5 != 0
                && territory.peers_of(*id, person).is_empty()
                && territory.mentors_of(*id, person).is_empty()
            {
                continue;
            }
            asked += 1;
            let answer = query(&mediator, PERSON, json!({ "p": id.to_string() })).await;
            let got = &answer["person"];
            for (list, expected) in [
                ("matchingNeeds", territory.needs_for(person)),
                ("matchingEmployers", territory.employers_for(person)),
                ("peers", territory.peers_of(*id, person)),
                ("possibleMentors", territory.mentors_of(*id, person)),
            ] {
                assert_eq!(
                    nodes(&got[list]),
                    expected,
                    "{list} of person {id} (project {:?}, commune {:?})",
                    person.target,
                    person.commune
                );
                let count = most.entry(list).or_default();
                *count = (*count).max(expected.len());
            }
        }
        // Open needs of the territory, for this structure's people.
        for (id, need) in territory.needs.iter().filter(|(_, n)| n.open).step_by(4) {
            let answer = query(&mediator, NEED, json!({ "n": id.to_string() })).await;
            let expected = territory.people_for(s.structure.as_uuid(), need);
            assert_eq!(
                nodes(&answer["need"]["matchingPeople"]),
                expected,
                "people for need {id} ({:?})",
                need.codes
            );
            let count = most.entry("matchingPeople").or_default();
            *count = (*count).max(expected.len());
        }
    }
    for list in [
        "matchingNeeds",
        "matchingEmployers",
        "peers",
        "possibleMentors",
        "matchingPeople",
    ] {
        assert!(
            most.get(list).copied().unwrap_or_default() > 0,
            "the demo territory gives no {list} to anyone asked: {most:?}"
        );
    }
    eprintln!(
        "{:?}; {asked} people asked; history seeded and projected in {:.1} s, all in {:.1} s; largest lists {most:?}",
        history.report(),
        seeded.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}
