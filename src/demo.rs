//! `passerelle demo seed`: a realistic history on an empty database, with a
//! staff account per mediator to look at it.

use std::sync::Arc;

use anyhow::Context as _;
use passerelle_accounts::StaffRole;
use passerelle_app::{Clock as _, FixedClock, Handler, SystemClock};
use passerelle_demo::{Options, Staff};
use passerelle_domain::values::{Email, Label};

use crate::config::Config;
use crate::database::Database;

/// Every demo account's password: the demo holds no real data.
pub const PASSWORD: &str = "passerelle-demo";

/// The territory's structures: name, département, email domain.
const STRUCTURES: [(&str, &str, &str); 3] = [
    ("Mission locale de Nantes", "44", "ml-nantes.example.org"),
    (
        "Cap Emploi Ille-et-Vilaine",
        "35",
        "capemploi35.example.org",
    ),
    ("PLIE d'Angers", "49", "plie-angers.example.org"),
];
const MEDIATORS: [&str; 3] = ["Camille Durand", "Karim Benali", "Sophie Lemaire"];

#[derive(Debug, Clone)]
pub struct SeedArgs {
    pub seed: u64,
    pub people: usize,
    pub employers: usize,
    pub months: u32,
}

pub async fn seed(config: &Config, db: &Database, args: SeedArgs) -> anyhow::Result<()> {
    crate::wiring::migrate(db).await?;
    let events: i64 = sqlx::query_scalar("select count(*) from events")
        .fetch_one(&db.pool)
        .await?;
    anyhow::ensure!(
        events == 0,
        "the database already holds {events} events: seed a new one (another --data-dir or DATABASE_URL)"
    );
    let projections = Arc::new(crate::wiring::wire(config, &db.pool).await?);
    let mut staff = Vec::new();
    println!("Comptes de démonstration (mot de passe « {PASSWORD} ») :");
    for (name, departement, domain) in STRUCTURES {
        let structure = Label::parse(name).expect("a structure name");
        let mut mediators = Vec::new();
        let mut structure_id = None;
        for (n, person) in MEDIATORS.iter().enumerate() {
            let (first, last) = person.split_once(' ').expect("a full name");
            let email = format!("{}.{}@{domain}", first.to_lowercase(), last.to_lowercase());
            let role = if n == 0 {
                StaffRole::Manager
            } else {
                StaffRole::Mediator
            };
            let user = passerelle_accounts::create_user(
                &db.pool,
                &structure,
                role,
                &Email::parse(&email).expect("a demo email"),
                &Label::parse(person).expect("a name"),
                PASSWORD,
            )
            .await
            .with_context(|| format!("cannot create {email}"))?;
            println!("  {email:<45} {name}");
            structure_id = Some(user.structure);
            mediators.push(user.user_id);
        }
        staff.push(Staff {
            structure: structure_id.expect("three mediators"),
            departement,
            mediators,
        });
    }
    let today = SystemClock.today();
    let clock = Arc::new(FixedClock::new(SystemClock.now()));
    let handler = Handler::new(projections.clone(), clock.clone());
    let started = std::time::Instant::now();
    let report = passerelle_demo::seed(
        &handler,
        &clock,
        &staff,
        &Options {
            seed: args.seed,
            people: args.people,
            employers: args.employers,
            months: args.months,
            end: today,
        },
    )
    .await?;
    // The dashboards are asynchronous: brought up to date here so the demo
    // shows them at once.
    projections.catch_up().await?;
    println!(
        "{} employeurs, {} personnes, {} immersions : {} commandes, {} événements en {:.1} s ({} refusées par les règles).",
        report.employers,
        report.people,
        report.immersions,
        report.commands,
        report.events,
        started.elapsed().as_secs_f64(),
        report.refused
    );
    Ok(())
}
