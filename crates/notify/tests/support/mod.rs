//! A real SMTP server on loopback (Python's aiosmtpd, `smtp_sink.py`) and
//! what it received.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, serde::Deserialize)]
pub struct Mail {
    pub n: u64,
    pub rcpt_to: Vec<String>,
    pub to: String,
    pub subject: String,
    pub message_id: String,
    pub content_type: String,
    pub text: String,
    pub text_charset: String,
    pub html: String,
}

impl Mail {
    /// The first link to this path prefix in the text part.
    pub fn link(&self, prefix: &str) -> Option<String> {
        self.text
            .split_whitespace()
            .find(|w| w.contains(prefix))
            .map(str::to_owned)
    }
}

#[derive(Debug)]
pub struct SmtpSink {
    child: Child,
    dir: PathBuf,
    pub port: u16,
}

impl SmtpSink {
    pub async fn start() -> Self {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let dir = std::env::temp_dir().join(format!("passerelle-smtp-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        // This file serves the notify crate's tests and the binary's: find
        // the script beside it from either package.
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .map(|dir| Path::new(dir).join(file!()).with_file_name("smtp_sink.py"))
            .find(|p| p.exists())
            .expect("smtp_sink.py beside the SMTP test support");
        let child = Command::new("python3")
            .arg(&script)
            .arg(port.to_string())
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs (the tests need aiosmtpd: pip install aiosmtpd)");
        let sink = Self { child, dir, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !sink.dir.join("ready").exists() {
            assert!(
                Instant::now() < deadline,
                "the SMTP sink did not start: is aiosmtpd installed (pip install aiosmtpd)?"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        sink
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn set_mode(&self, mode: &str) {
        std::fs::write(self.dir.join("mode"), mode).unwrap();
    }

    pub fn hanging(&self) -> bool {
        self.dir.join("hanging").exists()
    }

    pub fn mails(&self) -> Vec<Mail> {
        let mut files: Vec<_> = std::fs::read_dir(self.dir.join("new"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        files
            .iter()
            .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
            .collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
