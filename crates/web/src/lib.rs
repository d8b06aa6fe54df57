//! The web pages, in French, served at `/`: the staff's login and inbox, a
//! visit logged from a phone, the employer portal's need form, and the
//! immersion funnel as an SVG chart with its table and CSV. Each page runs
//! a GraphQL operation in-process as the viewer, so authorization lives in
//! the gateway alone, and renders a compile-checked template. No script:
//! plain forms, each carrying a CSRF token (a cookie the form must repeat).
//! The dashboards' CSV downloads (`/exports/<name>.csv`) run the pages'
//! operations too.

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

mod admin;
mod answer;
mod assessment_print;
mod consents;
mod contact_add;
mod convention_print;
mod correction;
mod dashboards;
mod data_export;
mod disability;
mod employers;
mod encounters;
mod erasure;
mod erasures;
mod export;
mod files;
mod home;
mod hosting;
mod immersion_list;
mod immersions;
mod job_runs;
mod labels;
mod links;
mod login;
mod mails;
mod mentorships;
mod need;
mod needs;
mod own_space;
mod page;
mod path_steps;
mod people;
mod person_exit;
mod project;
mod renewal;
mod retention;
mod retention_warnings;
mod situation;
mod testimonies;
mod visit;

pub use export::OwnRefusal;
use page::message;
pub use page::{
    Api, ApiCell, client_address, cookie, error_page, protect, session_token, with_navigation,
};

const STYLESHEET: &str = include_str!("../static/app.css");

pub fn router(api: ApiCell) -> Router {
    Router::new()
        .route("/", get(home::home))
        .route("/recherche", post(home::search))
        .route("/mon-espace/accords", post(home::consent))
        .route(
            "/mon-espace/coordonnees",
            get(own_space::contact_form).post(own_space::correct_contact),
        )
        .route("/mon-espace/temoignages", get(testimonies::own_list))
        .route(
            "/mon-espace/temoignages/{id}/public",
            post(testimonies::own_audience),
        )
        .route(
            "/mon-espace/temoignages/{id}/retirer",
            get(testimonies::withdraw_form).post(testimonies::withdraw),
        )
        .route(
            "/mon-espace/contacts",
            get(own_space::contacts).post(own_space::add_contact),
        )
        .route(
            "/mon-espace/contacts/{id}/retirer",
            post(own_space::remove_contact),
        )
        .route("/connexion", post(login::login))
        .route("/deconnexion", post(login::logout))
        .route("/lien", post(login::link_request))
        .route(
            "/portail/besoin",
            get(need::need_form).post(need::need_submit),
        )
        .route("/visites/nouvelle", get(visit::visit_form))
        .route("/visites", post(visit::visit_submit))
        .route("/tableaux/{board}", get(dashboards::page))
        .route("/courriels", get(mails::list))
        .route("/courriels/{id}/renvoyer", post(mails::retry))
        .route("/exports/{name}", get(export::download))
        .route("/employers", get(employers::list).post(employers::register))
        .route("/employers/nouvelle", get(employers::register_form))
        .route("/employers/recherche", post(employers::search))
        .route("/employers/{id}", get(files::employer))
        .route(
            "/employers/{id}/contact",
            get(contact_add::form).post(contact_add::add),
        )
        .route(
            "/employers/{id}/capacite",
            get(hosting::capacity_form).post(hosting::capacity_set),
        )
        .route(
            "/employers/{id}/contacts/{contact}/retirer",
            get(hosting::remove_form).post(hosting::remove),
        )
        .route(
            "/employers/{id}/contacts/{contact}/effacer",
            get(hosting::remove_form).post(hosting::erase),
        )
        .route("/besoins", get(needs::list))
        .route("/needs/{id}", get(files::need))
        .route(
            "/needs/{id}/corriger",
            get(correction::need_form).post(correction::correct_need),
        )
        .route("/needs/{id}/{action}", post(files::need_action))
        .route("/people", get(people::list).post(people::enrol))
        .route("/people/nouvelle", get(people::enrol_form))
        .route("/people/recherche", post(people::search))
        .route("/people/effacements-a-venir", get(retention_warnings::list))
        .route("/people/{id}", get(people::file))
        .route("/people/{id}/projet", post(people::readjust))
        .route("/people/{id}/premier-projet", post(people::state))
        .route("/people/{id}/pistes/{liste}", get(people::leads_list))
        .route(
            "/people/{id}/enquete",
            get(encounters::inquiry_form).post(encounters::inquiry_log),
        )
        .route(
            "/people/{id}/sortie",
            get(person_exit::exit_form).post(person_exit::exit),
        )
        .route(
            "/people/{id}/referent",
            get(person_exit::referent_form).post(person_exit::referent_change),
        )
        .route("/people/{id}/accords", get(consents::list))
        .route(
            "/people/{id}/accords/{purpose}",
            get(consents::give_form).post(consents::give),
        )
        .route(
            "/people/{id}/accords/{purpose}/retirer",
            get(consents::withdraw_form).post(consents::withdraw),
        )
        .route(
            "/people/{id}/situation",
            get(situation::form).post(situation::state),
        )
        .route(
            "/people/{id}/rencontre",
            get(encounters::meeting_form).post(encounters::meeting_log),
        )
        .route(
            "/people/{id}/parrainage",
            get(mentorships::start_form).post(mentorships::start),
        )
        .route(
            "/people/{id}/parrainages/{mentorship}/terminer",
            get(mentorships::end_form).post(mentorships::end),
        )
        .route(
            "/people/{id}/temoignage",
            get(testimonies::record_form).post(testimonies::record),
        )
        .route(
            "/people/{id}/temoignages/{testimony}/public",
            post(testimonies::audience),
        )
        .route(
            "/people/{id}/temoignages/{testimony}/retirer",
            get(testimonies::withdraw_for_form).post(testimonies::withdraw_for),
        )
        .route(
            "/people/{id}/conservation",
            get(retention::page).post(retention::extend),
        )
        .route("/people/{id}/donnees", get(data_export::page))
        .route(
            "/people/{id}/complements",
            get(disability::page).post(disability::record),
        )
        .route(
            "/people/{id}/corriger",
            get(correction::form).post(correction::correct),
        )
        .route(
            "/employers/{id}/corriger",
            get(correction::employer_form).post(correction::correct_employer),
        )
        .route("/employers/{id}/visites/{visit}", get(visit::visit_page))
        .route(
            "/employers/{id}/besoin",
            get(need::phone_need_form).post(need::phone_need_submit),
        )
        .route(
            "/employers/{id}/visites/{visit}/besoin",
            get(need::visit_need_form).post(need::visit_need_submit),
        )
        .route(
            "/employers/{id}/visites/{visit}/corriger",
            get(correction::visit_form).post(correction::correct_visit),
        )
        .route(
            "/people/{id}/effacer",
            get(erasure::form).post(erasure::erase),
        )
        .route("/people/{id}/donnees.json", get(data_export::download))
        .route("/immersions/nouvelle", get(immersions::propose_form))
        .route(
            "/immersions",
            get(immersion_list::list).post(immersions::propose),
        )
        .route("/immersions/{id}", get(immersions::page))
        .route(
            "/immersions/{id}/renouvellement",
            get(renewal::form).post(renewal::renew),
        )
        .route(
            "/immersions/{id}/{action}",
            get(immersions::back).post(immersions::action),
        )
        .route(
            "/immersions/{id}/convention",
            get(immersions::convention_form).post(immersions::convention),
        )
        .route(
            "/immersions/{id}/convention/imprimer",
            get(convention_print::page),
        )
        .route(
            "/immersions/{id}/bilan/imprimer",
            get(assessment_print::page),
        )
        .route("/administration", get(admin::administration))
        .route("/administration/taches", get(job_runs::list))
        .route("/administration/effacements", get(erasures::list))
        .route("/administration/personnel", post(admin::create))
        .route(
            "/administration/personnel/{id}/{action}",
            post(admin::member_action),
        )
        .route("/administration/structure", post(admin::settings))
        .route("/compte", get(admin::account).post(admin::password_change))
        .route(
            "/mot-de-passe-oublie",
            get(admin::forgot).post(admin::forgot_request),
        )
        .route("/mot-de-passe/{token}", get(admin::reset_page))
        .route("/mot-de-passe", post(admin::reset))
        .route("/acces/{token}", get(links::access_page))
        .route("/acces", post(links::access))
        .route(
            "/preferences/{token}",
            get(links::preferences_page).post(links::set_preferences),
        )
        .route("/static/app.css", get(stylesheet))
        .fallback(not_found_page)
        .with_state(api)
}

/// Any other path: a French page that says so, with a way back.
async fn not_found_page() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "Page introuvable",
        "Cette adresse ne mène à aucune page : vérifiez-la, ou repartez de l'accueil.",
    )
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLESHEET,
    )
        .into_response()
}
