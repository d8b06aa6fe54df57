//! The connection to PostgreSQL over TLS, as `DATABASE_URL` asks for it
//! (`sslmode`, `sslrootcert`): a server that takes TLS connections only,
//! with a certificate signed by a CA of the test's own (as CloudNativePG's
//! `<cluster>-ca`), reached by `passerelle migrate`.

mod pg_cluster;

use std::path::Path;
use std::process::Command;

use pg_cluster::{Scratch, Server, run};

const BIN: &str = env!("CARGO_BIN_EXE_passerelle");

fn openssl(dir: &Path, args: &[&str]) {
    run(Command::new("openssl").args(args).current_dir(dir));
}

/// A CA, and a certificate for 127.0.0.1 it signs: `<name>-ca.crt`,
/// `<name>-server.crt`, `<name>-server.key` in `dir`.
fn certificates(dir: &Path, name: &str) {
    let subject = format!("/CN={name} CA");
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-keyout",
            &format!("{name}-ca.key"),
            "-out",
            &format!("{name}-ca.crt"),
            "-subj",
            &subject,
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            &format!("{name}-server.key"),
            "-out",
            &format!("{name}-server.csr"),
        ],
    );
    std::fs::write(
        dir.join(format!("{name}-server.ext")),
        "subjectAltName = IP:127.0.0.1, DNS:localhost\nbasicConstraints = CA:FALSE\n\
         keyUsage = digitalSignature, keyEncipherment\nextendedKeyUsage = serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-days",
            "2",
            "-in",
            &format!("{name}-server.csr"),
            "-CA",
            &format!("{name}-ca.crt"),
            "-CAkey",
            &format!("{name}-ca.key"),
            "-CAcreateserial",
            "-out",
            &format!("{name}-server.crt"),
            "-extfile",
            &format!("{name}-server.ext"),
        ],
    );
}

/// `passerelle migrate` against `url`: whether it succeeded, and its error output.
fn migrate(url: &str) -> (bool, String) {
    let data = tempfile_dir();
    let out = Command::new(BIN)
        .arg("migrate")
        .env("DATABASE_URL", url)
        .env("PASSERELLE_DATA_DIR", &data)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&data);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("passerelle-tls-data-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_database_is_reached_over_tls_and_its_certificate_checked() {
    if Command::new("openssl").arg("version").output().is_err() {
        eprintln!("skipped: openssl is not installed");
        return;
    }
    let scratch = Scratch::new("tls");
    let dir = scratch.path();
    certificates(dir, "cluster");
    certificates(dir, "other");
    for file in ["cluster-server.key", "cluster-server.crt"] {
        scratch.give(&dir.join(file));
    }
    // TLS connections only: a connection in clear is refused by the server.
    let mut tls = Server::init(
        &scratch,
        "tls",
        "hostssl all all 127.0.0.1/32 trust\n",
        &format!(
            "ssl = on\nssl_cert_file = '{}'\nssl_key_file = '{}'\n",
            dir.join("cluster-server.crt").display(),
            dir.join("cluster-server.key").display()
        ),
    );
    tls.start();
    let mut plain = Server::init(&scratch, "plain", "host all all 127.0.0.1/32 trust\n", "");
    plain.start();

    let ca = dir.join("cluster-ca.crt");
    let (ok, err) = migrate(&tls.url(
        "postgres",
        &format!("?sslmode=verify-full&sslrootcert={}", ca.display()),
    ));
    assert!(
        ok,
        "verify-full with the cluster's CA: {err}\n{}",
        tls.log()
    );

    let (ok, err) = migrate(&tls.url("postgres", "?sslmode=require"));
    assert!(ok, "require (encrypted, certificate unchecked): {err}");

    // Another CA: the server's certificate is refused, nothing migrated.
    let other = dir.join("other-ca.crt");
    let (ok, err) = migrate(&tls.url(
        "postgres",
        &format!("?sslmode=verify-full&sslrootcert={}", other.display()),
    ));
    assert!(!ok, "a certificate from another CA was accepted");
    assert!(
        err.contains("cannot connect to the database")
            && err.to_lowercase().contains("certificate"),
        "{err}"
    );

    // In clear, the TLS-only server refuses.
    let (ok, err) = migrate(&tls.url("postgres", "?sslmode=disable"));
    assert!(!ok, "a connection in clear was accepted");
    assert!(err.contains("cannot connect to the database"), "{err}");

    // TLS required from a server without it: refused, and said so.
    let (ok, err) = migrate(&plain.url("postgres", "?sslmode=require"));
    assert!(!ok, "sslmode=require went on without TLS");
    assert!(
        err.contains("cannot connect to the database") && err.contains("TLS"),
        "{err}"
    );
    tls.stop();
    plain.stop();
}
