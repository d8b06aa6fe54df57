//! The browser the page tests share: headless Chromium driven over
//! WebDriver (chromedriver, fantoccini) on a 375 px wide window, axe-core's
//! audit at that width and a desktop's, and the steps a page test takes
//! (fill, click and wait for the next page, tick, read back).

#![allow(dead_code, reason = "each test binary uses part of the helpers")]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// The phone's viewport, and a desktop's.
pub(crate) const PHONE: (u32, u32) = (375, 812);
pub(crate) const DESKTOP: (u32, u32) = (1280, 900);

/// A Chrome DevTools command, through chromedriver.
#[derive(Debug)]
pub(crate) struct Cdp {
    cmd: &'static str,
    params: Value,
}

impl fantoccini::wd::WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/goog/cdp/execute",
            session.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (axum::http::Method, Option<String>) {
        let body = json!({ "cmd": self.cmd, "params": self.params });
        (axum::http::Method::POST, Some(body.to_string()))
    }
}

pub(crate) struct Browser {
    pub(crate) client: Client,
    driver: Child,
    axe: String,
    _profile: tempdir::Dir,
}

pub(crate) fn required() -> bool {
    std::env::var("REQUIRE_BROWSER_TESTS").is_ok_and(|v| v == "1")
}

pub(crate) fn axe_path() -> PathBuf {
    std::env::var_os("AXE_CORE_JS").map_or_else(
        || {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("target/axe/node_modules/axe-core/axe.min.js")
        },
        PathBuf::from,
    )
}

/// chromedriver on a port picked free, once it listens.
async fn chromedriver() -> (Child, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let driver = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not listen");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (driver, port)
}

/// Headless Chromium with its profile in `profile`, on a phone's viewport.
fn capabilities(profile: &tempdir::Dir) -> serde_json::Map<String, Value> {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--lang=fr-FR",
                "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                format!("--user-data-dir={}", profile.path().display()),
            ],
            // A phone's viewport, exactly: a headless window has a
            // minimum width of its own.
            "mobileEmulation": {
                "deviceMetrics": { "width": PHONE.0, "height": PHONE.1, "pixelRatio": 1.0 },
            },
        }),
    );
    caps
}

impl Browser {
    /// Chromium on a phone-sized window, or `None` (and why) when this
    /// machine has no browser and the tests are not required.
    pub(crate) async fn start() -> Option<Self> {
        let missing = ["chromedriver", "chromium"]
            .into_iter()
            .filter(|b| Command::new(b).arg("--version").output().is_err())
            .collect::<Vec<_>>();
        let axe = std::fs::read_to_string(axe_path());
        if !missing.is_empty() || axe.is_err() {
            let why = format!(
                "browser tests skipped: missing {missing:?}{}",
                if axe.is_err() { " and axe-core" } else { "" }
            );
            assert!(!required(), "{why}");
            eprintln!("{why}");
            return None;
        }
        let profile = data_dir();
        // The port is free when picked but not held: another process of the
        // suite may take it before chromedriver does, and the session then
        // goes to that listener. Such a start is tried again on a new port.
        let mut attempt = 0;
        let (client, driver) = loop {
            attempt += 1;
            let (driver, port) = chromedriver().await;
            match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(capabilities(&profile))
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(client) => break (client, driver),
                Err(e) if attempt < 3 => {
                    eprintln!("a Chromium session did not start ({e}): once more");
                    let mut driver = driver;
                    let _ = driver.kill();
                    let _ = driver.wait();
                }
                Err(e) => panic!("a Chromium session: {e:?}"),
            }
        };
        Some(Self {
            client,
            driver,
            axe: axe.unwrap(),
            _profile: profile,
        })
    }

    pub(crate) async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    pub(crate) async fn fill(&self, css: &str, text: &str) {
        let field = self.client.find(Locator::Css(css)).await.unwrap();
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    /// Clicks, then waits for the next page to load (every click here
    /// submits a form or follows a link).
    pub(crate) async fn click(&self, css: &str) {
        self.client
            .execute("window.__leaving = true;", vec![])
            .await
            .unwrap();
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let loaded = self
                .client
                .execute(
                    "return window.__leaving === undefined && document.readyState === 'complete';",
                    vec![],
                )
                .await
                .unwrap_or(json!(false));
            if loaded == json!(true) {
                return;
            }
            assert!(Instant::now() < deadline, "no page after clicking {css}");
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    }

    pub(crate) async fn text(&self, css: &str) -> String {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub(crate) async fn body(&self) -> String {
        self.text("body").await
    }

    pub(crate) async fn screenshot(&self, name: &str) {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    /// axe-core's WCAG 2.1 A/AA rules on the page, on the phone and on a
    /// desktop's screen: no serious or critical violation, and the page is
    /// as wide as the screen (nothing to scroll sideways).
    pub(crate) async fn audit(&self, page: &str) {
        self.audit_at(page, PHONE).await;
        self.screen(DESKTOP).await;
        self.audit_at(&format!("{page}, {} px", DESKTOP.0), DESKTOP)
            .await;
        self.screen(PHONE).await;
    }

    /// The viewport as a screen of this size (a phone's is touch and mobile).
    pub(crate) async fn screen(&self, (width, height): (u32, u32)) {
        let mobile = width == PHONE.0;
        self.client
            .issue_cmd(Cdp {
                cmd: "Emulation.setDeviceMetricsOverride",
                params: json!({ "width": width, "height": height, "deviceScaleFactor": 1,
                    "mobile": mobile }),
            })
            .await
            .unwrap();
    }

    pub(crate) async fn audit_at(&self, page: &str, (width, _): (u32, u32)) {
        // axe-core is half a megabyte of script: sent and parsed once per
        // page loaded, not again for the page's second width.
        let loaded = self
            .client
            .execute("return typeof window.axe === 'object';", vec![])
            .await
            .unwrap();
        if loaded != Value::Bool(true) {
            self.client.execute(&self.axe, vec![]).await.unwrap();
        }
        let violations = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] })
                    .then(r => done(r.violations.map(v => ({ id: v.id, impact: v.impact,
                        help: v.help, nodes: v.nodes.map(n => n.html) }))))
                    .catch(e => done([{ id: 'axe-error', impact: 'critical', help: String(e) }]));",
                vec![],
            )
            .await
            .unwrap();
        let grave: Vec<&Value> = violations
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
            .collect();
        assert!(grave.is_empty(), "{page}: {grave:#?}");
        // The page's width beyond its visible width (a desktop's scroll
        // bar takes some of the window).
        let widths = self
            .client
            .execute(
                "const root = document.documentElement;
                 return [window.innerWidth, root.scrollWidth - root.clientWidth];",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(
            widths,
            json!([width, 0]),
            "{page}: viewport, then what overflows it"
        );
    }

    /// Reloads `url` until its text contains `needle` (views fed by the
    /// projection runner follow within moments).
    pub(crate) async fn until(&self, url: &str, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            self.goto(url).await;
            let body = self.body().await;
            if body.contains(needle) {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "{url} never showed {needle:?}:\n{body}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub(crate) async fn close(mut self) {
        let _ = self.client.close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// The magic link the server logged last (mail goes to files here).
pub(crate) async fn logged_link(server: &Server, seen: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let links = server.logged("magic_link_token");
        if links.len() > seen {
            let entry: Value = serde_json::from_str(&links[seen]).unwrap();
            return entry["magic_link_token"].as_str().unwrap().to_owned();
        }
        assert!(Instant::now() < deadline, "no magic link logged");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

impl Browser {
    /// Signs Camille in from the home page.
    pub(crate) async fn sign_in(&self, base: &str) {
        self.goto(&format!("{base}/")).await;
        self.fill("#email", "camille@ml-nantes.fr").await;
        self.fill("#password", PASSWORD).await;
        self.click("form[action='/connexion'] button").await;
    }

    /// Ticks or unticks a box (no page follows).
    pub(crate) async fn tick(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }

    /// A field's current value.
    pub(crate) async fn value(&self, css: &str) -> String {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap()
            .unwrap_or_default()
    }

    /// A date field set as its picker would (typing into one depends on the
    /// browser's locale).
    pub(crate) async fn set_date(&self, id: &str, day: &str) {
        self.client
            .execute(
                "document.getElementById(arguments[0]).value = arguments[1];",
                vec![json!(id), json!(day)],
            )
            .await
            .unwrap();
    }

    /// The field is marked invalid, its error beside it says `says`, and
    /// the page still passes the audit.
    pub(crate) async fn refused(&self, id: &str, says: &str) {
        let field = self
            .client
            .find(Locator::Css(&format!("#{id}")))
            .await
            .unwrap();
        assert_eq!(
            field.attr("aria-invalid").await.unwrap().as_deref(),
            Some("true"),
            "{id}: {}",
            self.body().await
        );
        assert_eq!(
            field.attr("aria-describedby").await.unwrap(),
            Some(format!("{id}-erreur"))
        );
        let said = self.text(&format!("#{id}-erreur")).await;
        assert!(said.contains(says), "{id}: {said}");
    }
}

impl Browser {
    /// Signs a staff member in from the home page.
    pub(crate) async fn sign_in_as(&self, base: &str, email: &str) {
        self.goto(&format!("{base}/")).await;
        self.fill("#email", email).await;
        self.fill("#password", PASSWORD).await;
        self.click("form[action='/connexion'] button").await;
    }
}
