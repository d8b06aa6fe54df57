//! What the page tests share: a client that does not follow redirects, a
//! form's token with its cookies, a page fetched with a session's cookies,
//! and a session opened through the login form.

use crate::common::{PASSWORD, Server};

/// A client that does not follow redirects: a page test reads the 303.
pub(crate) fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The home page's form token and the cookies it must come back with.
pub(crate) struct Form {
    pub(crate) cookies: Vec<String>,
    pub(crate) csrf: String,
}

impl Form {
    pub(crate) async fn fetch(server: &Server, cookies: &[String]) -> Self {
        let page = no_redirects()
            .get(format!("{}/", server.base))
            .header("cookie", cookies.join("; "))
            .send()
            .await
            .unwrap();
        let mut all: Vec<String> = cookies.to_vec();
        for c in page.headers().get_all("set-cookie") {
            all.push(c.to_str().unwrap().split(';').next().unwrap().to_owned());
        }
        let html = page.text().await.unwrap();
        let needle = "name=\"csrf\" value=\"";
        let at = html.find(needle).expect("a form token") + needle.len();
        let csrf = html[at..at + html[at..].find('"').unwrap()].to_owned();
        Self { cookies: all, csrf }
    }

    pub(crate) async fn post(&self, server: &Server, path: &str, body: &str) -> reqwest::Response {
        no_redirects()
            .post(format!("{}{path}", server.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", self.cookies.join("; "))
            .body(format!("{body}&csrf={}", self.csrf))
            .send()
            .await
            .unwrap()
    }
}

/// A page as the browser holding `cookies` gets it, redirects not followed.
pub(crate) async fn get_with(server: &Server, path: &str, cookies: &[String]) -> reqwest::Response {
    no_redirects()
        .get(format!("{}{path}", server.base))
        .header("cookie", cookies.join("; "))
        .send()
        .await
        .unwrap()
}

/// The cookies of a session opened through the login form.
pub(crate) async fn signed_in(server: &Server, email: &str) -> Vec<String> {
    let form = Form::fetch(server, &[]).await;
    let answer = form
        .post(
            server,
            "/connexion",
            &format!(
                "email={}&password={}",
                email.replace('@', "%40"),
                PASSWORD.replace(' ', "+")
            ),
        )
        .await;
    assert_eq!(answer.status(), 303);
    let mut cookies = form.cookies.clone();
    cookies.extend(
        answer
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned()),
    );
    cookies
}
