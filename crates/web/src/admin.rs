//! Administration and one's own account: `/administration` for a
//! structure's managers and admins (its staff a page at a time, a member
//! invited, deactivated or given another role, the structure's settings,
//! the record of changes to accounts and the access log of health data);
//! `/compte` for any staff member (their password); `/mot-de-passe-oublie`
//! (a reset link asked for) and `/mot-de-passe/<token>` (the mailed link of
//! a reset or an invitation, where the password is chosen). Each runs the
//! gateway's operations as the viewer: who may do what is the policy's.

use askama::Template;
use axum::extract::{Form, Path, Query};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use passerelle_app::policy;
use passerelle_graphql::{AccountChange, StaffRole, StructureSetting, role_of, staff_actor};
use serde::{Deserialize, Deserializer};
use serde_json::json;

use crate::answer::{Paged, moment, read_or_return};
use crate::page::{FormState, GqlError, Nav, Page, list_href, message};

/// A role as the API names it (`MANAGER`), read into the accounts' type.
#[derive(Clone, Copy, Debug)]
struct Role(StaffRole);

impl<'de> Deserialize<'de> for Role {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        StaffRole::parse(&name.to_ascii_lowercase())
            .map(Role)
            .ok_or_else(|| serde::de::Error::custom("unknown role"))
    }
}

/// A change as the API names it, read into the accounts' type.
#[derive(Clone, Copy, Debug)]
struct Action(AccountChange);

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        AccountChange::parse(&name.to_ascii_lowercase())
            .map(Action)
            .ok_or_else(|| serde::de::Error::custom("unknown change"))
    }
}

#[derive(Clone, Copy, Debug)]
struct Setting(StructureSetting);

impl<'de> Deserialize<'de> for Setting {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        StructureSetting::parse(&name.to_ascii_lowercase())
            .map(Setting)
            .ok_or_else(|| serde::de::Error::custom("unknown setting"))
    }
}

/// The token is in the path: never send it on to another site.
fn no_referrer(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MemberAnswer {
    id: String,
    name: String,
    email: String,
    role: Role,
    active: bool,
    password_set: bool,
    last_login_at: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChangeAnswer {
    action: Action,
    actor_name: Option<String>,
    actor_role: Option<Role>,
    subject_name: Option<String>,
    role: Option<Role>,
    previous_role: Option<Role>,
    settings: Vec<Setting>,
    at: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReadAnswer {
    person_id: String,
    reader_user_id: Option<String>,
    reader_name: Option<String>,
    reader_role: String,
    through: String,
    read_at: String,
}

#[derive(Deserialize)]
struct DepartementAnswer {
    code: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StructureAnswer {
    name: String,
    prevalidation_required: bool,
    departements: Vec<DepartementAnswer>,
}

#[derive(Deserialize)]
struct MeAnswer {
    id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AdminAnswer {
    me: MeAnswer,
    structure: Option<StructureAnswer>,
    staff_members: Paged<MemberAnswer>,
    account_changes: Paged<ChangeAnswer>,
    health_data_reads: Paged<ReadAnswer>,
}

/// A member as the page lists them.
struct MemberShown {
    id: String,
    name: String,
    email: String,
    role: StaffRole,
    role_label: &'static str,
    state: &'static str,
    last_login: String,
    /// Whether the viewer may act on them here (not themself, active).
    actionable: bool,
    error: Option<String>,
}

struct ChangeShown {
    at: String,
    what: String,
    by: String,
}

struct ReadShown {
    at: String,
    person_id: String,
    reader: String,
    through: &'static str,
}

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminTemplate {
    nav: Nav,
    structure_name: String,
    members: Vec<MemberShown>,
    /// A refusal about a member not on this page of the team.
    team_error: Option<String>,
    staff_pages: Pages,
    roles: Vec<(&'static str, &'static str)>,
    create: FormState,
    settings: FormState,
    changes: Vec<ChangeShown>,
    change_pages: Pages,
    reads: Vec<ReadShown>,
    read_pages: Pages,
}

/// Where each list's page starts, as the URL gives it.
#[derive(Debug, Default, Deserialize, Clone)]
pub(crate) struct AdminQuery {
    #[serde(default)]
    apres: String,
    #[serde(default)]
    journal: String,
    #[serde(default)]
    lectures: String,
    #[serde(default)]
    fait: String,
}

/// A list's next and first pages, the other lists left where they are.
struct Pages {
    next: Option<String>,
    first: Option<String>,
}

impl AdminQuery {
    fn pages(&self, which: &str, next: Option<String>) -> Pages {
        let at = |cursor: &str| -> String {
            let mut q = vec![
                ("apres", self.apres.as_str()),
                ("journal", self.journal.as_str()),
                ("lectures", self.lectures.as_str()),
            ];
            for (k, v) in q.iter_mut() {
                if *k == which {
                    *v = cursor;
                }
            }
            let mut href = list_href("/administration", &q);
            href.push_str(match which {
                "apres" => "#personnel",
                "journal" => "#journal",
                _ => "#lectures",
            });
            href
        };
        let current = match which {
            "apres" => &self.apres,
            "journal" => &self.journal,
            _ => &self.lectures,
        };
        Pages {
            next: next.map(|c| at(&c)),
            first: (!current.is_empty()).then(|| at("")),
        }
    }

    fn notice(&self) -> Option<String> {
        Some(
            match self.fait.as_str() {
                "invite" => "Compte créé : une invitation a été envoyée par e-mail.",
                "desactive" => "Compte désactivé : ses sessions sont fermées.",
                "role" => "Rôle modifié.",
                "structure" => "Paramètres de la structure enregistrés.",
                _ => return None,
            }
            .to_owned(),
        )
    }
}

fn role_label(role: StaffRole) -> &'static str {
    role.label()
}

fn reader_role_label(role: &str) -> &'static str {
    match StaffRole::parse(role) {
        Some(r) => r.label(),
        None if role == "person" => "La personne elle-même",
        None => "Autre",
    }
}

fn change_text(c: &ChangeAnswer) -> String {
    let subject = c.subject_name.clone().unwrap_or_default();
    let role = |r: Option<Role>| r.map_or("", |r| r.0.label());
    match c.action.0 {
        AccountChange::StaffCreated => {
            format!("{} : {subject} ({})", c.action.0.label(), role(c.role))
        }
        AccountChange::StaffRoleChanged => format!(
            "{} : {subject}, de {} à {}",
            c.action.0.label(),
            role(c.previous_role),
            role(c.role)
        ),
        AccountChange::StructureUpdated => format!(
            "{} : {}",
            c.action.0.label(),
            c.settings
                .iter()
                .map(|s| s.0.label())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ => format!("{} : {subject}", c.action.0.label()),
    }
}

const ADMIN_QUERY: &str = "query($a: String, $j: String, $l: String) {
    me { id }
    structure { name prevalidationRequired departements { code } }
    staffMembers(first: 20, after: $a) {
        edges { node { id name email role active passwordSet lastLoginAt } }
        pageInfo { hasNextPage endCursor } }
    accountChanges(first: 20, after: $j) {
        edges { node { action actorName actorRole subjectName role previousRole settings at } }
        pageInfo { hasNextPage endCursor } }
    healthDataReads(first: 20, after: $l) {
        edges { node { personId readerUserId readerName readerRole through readAt } }
        pageInfo { hasNextPage endCursor } }
}";

/// What the page shows besides the lists: what was typed in a form that
/// was refused, and an error beside a member's row.
#[derive(Default)]
struct Typed {
    create: Option<FormState>,
    settings: Option<FormState>,
    row_error: Option<(String, String)>,
}

async fn render_admin(page: Page, q: &AdminQuery, typed: Typed, status: StatusCode) -> Response {
    // Signed out: to the sign-in form, as every page sends there.
    let Some(viewer) = page.viewer.user.as_ref() else {
        return page.sign_in_first();
    };
    let actor = staff_actor(viewer);
    if !policy::administers_staff(&actor) {
        return message(
            StatusCode::FORBIDDEN,
            "Accès réservé",
            "L'administration de la structure est réservée à ses responsables et administrateurs.",
        );
    }
    let read = |q: &AdminQuery| {
        page.run(
            ADMIN_QUERY,
            json!({
                "a": crate::page::given(&q.apres),
                "j": crate::page::given(&q.journal),
                "l": crate::page::given(&q.lectures),
            }),
        )
    };
    let mut out = read(q).await;
    // A page's link no longer valid: every list from its start, saying so.
    let stale = out.bad_cursor();
    let from_start;
    let q = if stale {
        from_start = AdminQuery {
            fait: q.fait.clone(),
            ..AdminQuery::default()
        };
        out = read(&from_start).await;
        &from_start
    } else {
        q
    };
    if let Some(e) = out.errors.first() {
        return message(StatusCode::BAD_REQUEST, "Page introuvable", &e.message);
    }
    let answer: AdminAnswer = read_or_return!(out);
    let me = answer.me.id;
    let (members, next) = answer.staff_members.split();
    let team_error = typed
        .row_error
        .as_ref()
        .filter(|(id, _)| !members.iter().any(|m| m.id == *id))
        .map(|(_, e)| e.clone());
    let members = members
        .into_iter()
        .map(|m| {
            let error = typed
                .row_error
                .as_ref()
                .filter(|(id, _)| *id == m.id)
                .map(|(_, e)| e.clone());
            MemberShown {
                actionable: m.active && m.id != me,
                state: if !m.active {
                    "Désactivé"
                } else if m.password_set {
                    "Actif"
                } else {
                    "Invitation en attente"
                },
                last_login: m
                    .last_login_at
                    .as_deref()
                    .map_or_else(|| "Jamais".to_owned(), moment),
                role: m.role.0,
                role_label: role_label(m.role.0),
                id: m.id,
                name: m.name,
                email: m.email,
                error,
            }
        })
        .collect();
    let staff_pages = q.pages("apres", next);
    let (changes, next) = answer.account_changes.split();
    let changes = changes
        .iter()
        .map(|c| ChangeShown {
            at: moment(&c.at),
            what: change_text(c),
            by: match (&c.actor_name, c.actor_role) {
                (Some(name), Some(r)) => format!("{name} ({})", r.0.label()),
                (Some(name), None) => name.clone(),
                _ => "Ligne de commande".to_owned(),
            },
        })
        .collect();
    let change_pages = q.pages("journal", next);
    let (reads, next) = answer.health_data_reads.split();
    let reads = reads
        .into_iter()
        .map(|r| ReadShown {
            at: moment(&r.read_at),
            reader: match (r.reader_user_id, r.reader_name) {
                (Some(_), Some(name)) => format!(
                    "{name} ({})",
                    reader_role_label(&r.reader_role.to_ascii_lowercase())
                ),
                (Some(_), None) => {
                    reader_role_label(&r.reader_role.to_ascii_lowercase()).to_owned()
                }
                (None, _) => "La personne elle-même".to_owned(),
            },
            through: match r.through.as_str() {
                "DATA_EXPORT" => "Export de ses données",
                _ => "Sa fiche (reconnaissance de handicap)",
            },
            person_id: r.person_id,
        })
        .collect();
    let read_pages = q.pages("lectures", next);
    let structure = answer.structure.unwrap_or(StructureAnswer {
        name: String::new(),
        prevalidation_required: false,
        departements: Vec::new(),
    });
    let settings = typed.settings.unwrap_or_else(|| {
        FormState::with(&[
            ("nom_structure", &structure.name),
            (
                "prevalidation",
                if structure.prevalidation_required {
                    "oui"
                } else {
                    ""
                },
            ),
            (
                "departements",
                &structure
                    .departements
                    .iter()
                    .map(|d| d.code.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        ])
    });
    let roles = StaffRole::ALL
        .into_iter()
        .filter(|r| policy::grants_role(&actor, role_of(*r)))
        .map(|r| (r.as_str(), r.label()))
        .collect();
    let body = AdminTemplate {
        nav: page.nav(if stale {
            Some(crate::page::STALE_PAGE.to_owned())
        } else {
            q.notice()
        }),
        structure_name: structure.name,
        members,
        team_error,
        staff_pages,
        roles,
        create: typed
            .create
            .unwrap_or_else(|| FormState::with(&[("role", "mediator")])),
        settings,
        changes,
        change_pages,
        reads,
        read_pages,
    }
    .render();
    page.render(status, body)
}

pub(crate) async fn administration(page: Page, Query(q): Query<AdminQuery>) -> Response {
    render_admin(page, &q, Typed::default(), StatusCode::OK).await
}

#[derive(Debug, Deserialize)]
pub(crate) struct CreateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    nom: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
}

/// The API's name of a role chosen in a form (`mediator` → `MEDIATOR`);
/// a value the form does not offer is refused here, never read as another
/// role.
fn role_name(form_value: &str) -> Result<String, GqlError> {
    StaffRole::parse(form_value)
        .map(|role| role.as_str().to_ascii_uppercase())
        .ok_or_else(|| GqlError {
            field: Some("role".to_owned()),
            message: "Choisissez l'un des rôles proposés.".to_owned(),
            code: Some("BAD_USER_INPUT".to_owned()),
        })
}

pub(crate) async fn create(page: Page, Form(form): Form<CreateForm>) -> Response {
    if let Err(r) = page.checked(&form.csrf) {
        return *r;
    }
    let errors = match role_name(&form.role) {
        Ok(role) => {
            let out = page
                .run(
                    "mutation($n: String!, $e: String!, $r: StaffRole!) {
                        staffCreate(input: { name: $n, email: $e, role: $r }) { member { id } } }",
                    json!({ "n": form.nom, "e": form.email, "r": role }),
                )
                .await;
            if out.errors.is_empty() {
                return page.redirect("/administration?fait=invite", Vec::new());
            }
            out.errors
        }
        Err(refused) => vec![refused],
    };
    let mut state = FormState::with(&[
        ("nom", &form.nom),
        ("email", &form.email),
        ("role", &form.role),
    ]);
    state.absorb(
        &errors,
        &[("name", "nom"), ("email", "email"), ("role", "role")],
    );
    let typed = Typed {
        create: Some(state),
        ..Typed::default()
    };
    let status = crate::page::refusal_status(&errors);
    render_admin(page, &AdminQuery::default(), typed, status).await
}

#[derive(Debug, Deserialize)]
pub(crate) struct MemberForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    role: String,
}

pub(crate) async fn member_action(
    page: Page,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<MemberForm>,
) -> Response {
    if let Err(r) = page.checked(&form.csrf) {
        return *r;
    }
    let (errors, done) = match action.as_str() {
        "desactiver" => (
            page.run(
                "mutation($u: ID!) { staffDeactivate(input: { userId: $u }) { member { id } } }",
                json!({ "u": id }),
            )
            .await
            .errors,
            "desactive",
        ),
        "role" => (
            match role_name(&form.role) {
                Ok(role) => {
                    page.run(
                        "mutation($u: ID!, $r: StaffRole!) {
                            staffRoleChange(input: { userId: $u, role: $r }) { member { id } } }",
                        json!({ "u": id, "r": role }),
                    )
                    .await
                    .errors
                }
                Err(refused) => vec![refused],
            },
            "role",
        ),
        _ => {
            return message(
                StatusCode::NOT_FOUND,
                "Page introuvable",
                "Cette action n'existe pas.",
            );
        }
    };
    match errors.first() {
        None => page.redirect(&format!("/administration?fait={done}"), Vec::new()),
        Some(e) => {
            let typed = Typed {
                row_error: Some((id, e.message.clone())),
                ..Typed::default()
            };
            let status = crate::page::refusal_status(&errors);
            render_admin(page, &AdminQuery::default(), typed, status).await
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct SettingsForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    nom_structure: String,
    #[serde(default)]
    prevalidation: String,
    #[serde(default)]
    departements: String,
}

pub(crate) async fn settings(page: Page, Form(form): Form<SettingsForm>) -> Response {
    if let Err(r) = page.checked(&form.csrf) {
        return *r;
    }
    let departements: Vec<&str> = form
        .departements
        .split([',', ' ', ';'])
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    let out = page
        .run(
            "mutation($i: StructureUpdateInput!) { structureUpdate(input: $i) { structure { id } } }",
            json!({ "i": {
                "name": form.nom_structure,
                "prevalidationRequired": form.prevalidation == "oui",
                "departements": departements,
            } }),
        )
        .await;
    if out.errors.is_empty() {
        return page.redirect("/administration?fait=structure", Vec::new());
    }
    let mut state = FormState::with(&[
        ("nom_structure", &form.nom_structure),
        ("prevalidation", &form.prevalidation),
        ("departements", &form.departements),
    ]);
    state.absorb(
        &out.errors,
        &[("name", "nom_structure"), ("departements", "departements")],
    );
    let typed = Typed {
        settings: Some(state),
        ..Typed::default()
    };
    let status = out.refusal_status();
    render_admin(page, &AdminQuery::default(), typed, status).await
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountTemplate {
    nav: Nav,
    form: FormState,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Done {
    #[serde(default)]
    fait: String,
}

pub(crate) async fn account(page: Page, Query(q): Query<Done>) -> Response {
    if page.viewer.user.is_none() {
        return page.sign_in_first();
    }
    let notice = (q.fait == "mot-de-passe")
        .then(|| "Mot de passe modifié : vos autres sessions sont fermées.".to_owned());
    let body = AccountTemplate {
        nav: page.nav(notice),
        form: FormState::default(),
    }
    .render();
    page.render(StatusCode::OK, body)
}

#[derive(Debug, Deserialize)]
pub(crate) struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    actuel: String,
    #[serde(default)]
    nouveau: String,
}

pub(crate) async fn password_change(page: Page, Form(form): Form<PasswordForm>) -> Response {
    if let Err(r) = page.checked(&form.csrf) {
        return *r;
    }
    let out = page
        .run(
            "mutation($c: String!, $n: String!) {
                passwordChange(input: { currentPassword: $c, newPassword: $n }) { me { id } } }",
            json!({ "c": form.actuel, "n": form.nouveau }),
        )
        .await;
    if out.errors.is_empty() {
        return page.redirect("/compte?fait=mot-de-passe", Vec::new());
    }
    // Passwords are not typed back into the page.
    let mut state = FormState::default();
    state.absorb(
        &out.errors,
        &[("currentPassword", "actuel"), ("newPassword", "nouveau")],
    );
    let body = AccountTemplate {
        nav: page.nav(None),
        form: state,
    }
    .render();
    page.render(out.refusal_status(), body)
}

#[derive(Template)]
#[template(path = "password_forgot.html")]
struct ForgotTemplate {
    nav: Nav,
    form: FormState,
    sent: bool,
}

pub(crate) async fn forgot(page: Page, Query(q): Query<Done>) -> Response {
    let body = ForgotTemplate {
        nav: page.nav(None),
        form: FormState::default(),
        sent: q.fait == "envoye",
    }
    .render();
    page.render(StatusCode::OK, body)
}

#[derive(Debug, Deserialize)]
pub(crate) struct ForgotForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
}

pub(crate) async fn forgot_request(page: Page, Form(form): Form<ForgotForm>) -> Response {
    if let Err(r) = page.checked(&form.csrf) {
        return *r;
    }
    let out = page
        .run(
            "mutation($e: String!) { passwordResetRequest(input: { email: $e }) { sent } }",
            json!({ "e": form.email }),
        )
        .await;
    if out.errors.is_empty() {
        return page.redirect("/mot-de-passe-oublie?fait=envoye", Vec::new());
    }
    let mut state = FormState::with(&[("email", &form.email)]);
    state.absorb(&out.errors, &[("email", "email")]);
    let body = ForgotTemplate {
        nav: page.nav(None),
        form: state,
        sent: false,
    }
    .render();
    page.render(out.refusal_status(), body)
}

#[derive(Template)]
#[template(path = "password_reset.html")]
struct ResetTemplate {
    nav: Nav,
    token: String,
    form: FormState,
}

/// The mailed link's page: it shows the form and uses nothing, so a mail
/// scanner that fetches it leaves the link working.
pub(crate) async fn reset_page(page: Page, Path(token): Path<String>) -> Response {
    let body = ResetTemplate {
        nav: page.nav(None),
        token,
        form: FormState::default(),
    }
    .render();
    no_referrer(page.render(StatusCode::OK, body))
}

#[derive(Debug, Deserialize)]
pub(crate) struct ResetForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    nouveau: String,
}

pub(crate) async fn reset(page: Page, Form(form): Form<ResetForm>) -> Response {
    if let Err(r) = page.checked(&form.csrf) {
        return *r;
    }
    let out = page
        .run(
            "mutation($t: String!, $n: String!) {
                passwordResetComplete(input: { token: $t, newPassword: $n }) { passwordSet } }",
            json!({ "t": form.token, "n": form.nouveau }),
        )
        .await;
    if out.errors.is_empty() {
        let body = crate::page::MessageTemplate {
            nav: page.nav(None),
            title: "Mot de passe enregistré",
            message: "Votre mot de passe est enregistré : connectez-vous avec lui depuis la page d'accueil.",
        }
        .render();
        return no_referrer(page.render(StatusCode::OK, body));
    }
    let mut state = FormState::default();
    state.absorb(&out.errors, &[("newPassword", "nouveau")]);
    let body = ResetTemplate {
        nav: page.nav(None),
        token: form.token,
        form: state,
    }
    .render();
    no_referrer(page.render(out.refusal_status(), body))
}
