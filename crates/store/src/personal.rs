//! Crypto-shredding of personal data.
//!
//! The domain marks a personal value as `{"$personal": value}` in an event's
//! JSON. Before the event is stored, each such value is sealed with the data
//! key of the event's subject (XChaCha20-Poly1305, the subject id as associated
//! data) into `{"$sealed": {"subject": id, "box": base64(nonce | ciphertext)}}`.
//! Data keys live in `subject_keys`, wrapped with the deployment's master key.
//! Reading opens each sealed value back into `{"$personal": value}`, or into
//! `{"$erased": true}` once the subject's key has been deleted. This module
//! knows that convention only, never what the values mean.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::{Result, StoreError};

/// The key under which the domain marks a personal value.
pub const PERSONAL: &str = "$personal";
/// The key under which a sealed value is stored.
pub const SEALED: &str = "$sealed";
/// The key that replaces a value whose subject was erased.
pub const ERASED: &str = "$erased";

const NONCE_LEN: usize = 24;
const CHECK_TEXT: &[u8] = b"passerelle master key";

/// The deployment's key-encryption key. Never logged.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

#[derive(Debug, thiserror::Error)]
#[error("a master key is 32 bytes written in base64")]
pub struct BadMasterKey;

impl MasterKey {
    pub fn generate() -> Self {
        Self(XChaCha20Poly1305::generate_key(&mut OsRng).into())
    }

    pub fn from_base64(text: &str) -> Result<Self, BadMasterKey> {
        let bytes = B64.decode(text.trim()).map_err(|_| BadMasterKey)?;
        Ok(Self(bytes.try_into().map_err(|_| BadMasterKey)?))
    }

    pub fn to_base64(&self) -> String {
        B64.encode(self.0)
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&self.0.into())
    }
}

/// Seals and opens personal values; holds the master key.
#[derive(Clone)]
pub struct Keyring {
    master: XChaCha20Poly1305,
    /// Keys the digests of commands, derived from the master key.
    fingerprint_key: [u8; 32],
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Keyring(..)")
    }
}

/// HMAC-SHA-256 (RFC 2104).
pub(crate) fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let hashed: [u8; 32];
    let key = if key.len() > 64 {
        hashed = Sha256::digest(key).into();
        &hashed[..]
    } else {
        key
    };
    let pad = |byte: u8| -> [u8; 64] {
        let mut block = [byte; 64];
        for (b, k) in block.iter_mut().zip(key) {
            *b ^= k;
        }
        block
    };
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

fn seal_bytes(cipher: &XChaCha20Poly1305, plain: &[u8], subject: Uuid) -> Result<Vec<u8>> {
    let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
    let mut out = nonce.to_vec();
    let sealed = cipher
        .encrypt(
            &nonce,
            Payload {
                msg: plain,
                aad: subject.as_bytes(),
            },
        )
        .map_err(|_| StoreError::Crypto)?;
    out.extend_from_slice(&sealed);
    Ok(out)
}

fn open_bytes(cipher: &XChaCha20Poly1305, sealed: &[u8], subject: Uuid) -> Result<Vec<u8>> {
    if sealed.len() < NONCE_LEN {
        return Err(StoreError::Crypto);
    }
    let (nonce, body) = sealed.split_at(NONCE_LEN);
    cipher
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: body,
                aad: subject.as_bytes(),
            },
        )
        .map_err(|_| StoreError::Crypto)
}

impl Keyring {
    pub fn new(master: &MasterKey) -> Self {
        let fingerprint_key = Sha256::new()
            .chain_update(b"passerelle command fingerprint\0")
            .chain_update(master.0)
            .finalize()
            .into();
        Self {
            master: master.cipher(),
            fingerprint_key,
        }
    }

    pub(crate) fn fingerprint(&self, message: &[u8]) -> [u8; 32] {
        hmac_sha256(&self.fingerprint_key, message)
    }

    /// Seals bytes with the master key, bound to `id` (a value kept briefly
    /// that belongs to no one subject, such as a command's answer).
    pub(crate) fn seal_transient(&self, plain: &[u8], id: Uuid) -> Result<Vec<u8>> {
        seal_bytes(&self.master, plain, id)
    }

    pub(crate) fn open_transient(&self, sealed: &[u8], id: Uuid) -> Result<Vec<u8>> {
        open_bytes(&self.master, sealed, id)
    }

    /// Checks that this is the master key the database's data was sealed
    /// with, registering it on first use.
    pub async fn verify(&self, pool: &sqlx::PgPool) -> Result<()> {
        let probe = seal_bytes(&self.master, CHECK_TEXT, Uuid::nil())?;
        sqlx::query("insert into master_key_check (sealed) values ($1) on conflict do nothing")
            .bind(&probe)
            .execute(pool)
            .await?;
        let stored: Vec<u8> = sqlx::query_scalar("select sealed from master_key_check")
            .fetch_one(pool)
            .await?;
        match open_bytes(&self.master, &stored, Uuid::nil()) {
            Ok(text) if text == CHECK_TEXT => Ok(()),
            _ => Err(StoreError::WrongMasterKey),
        }
    }

    fn unwrap_key(&self, subject: Uuid, wrapped: &[u8]) -> Result<XChaCha20Poly1305> {
        let key = open_bytes(&self.master, wrapped, subject)?;
        let key: [u8; 32] = key.try_into().map_err(|_| StoreError::Crypto)?;
        Ok(XChaCha20Poly1305::new(&key.into()))
    }

    /// The subject's data key, made on first use. Refused for an erased subject.
    async fn data_key(&self, conn: &mut PgConnection, subject: Uuid) -> Result<XChaCha20Poly1305> {
        let fresh: [u8; 32] = XChaCha20Poly1305::generate_key(&mut OsRng).into();
        let wrapped = seal_bytes(&self.master, &fresh, subject)?;
        // Insert-or-read in one statement; the erased check keeps an erased
        // subject from getting a new key.
        let row: Option<(Vec<u8>,)> = sqlx::query_as(
            "with made as (
                 insert into subject_keys (subject_id, wrapped_key)
                 select $1, $2
                 where not exists (select 1 from erased_subjects where subject_id = $1)
                 on conflict (subject_id) do nothing
                 returning wrapped_key
             )
             select wrapped_key from made
             union all
             select wrapped_key from subject_keys where subject_id = $1
             limit 1",
        )
        .bind(subject)
        .bind(&wrapped)
        .fetch_optional(&mut *conn)
        .await?;
        match row {
            Some((wrapped,)) => self.unwrap_key(subject, &wrapped),
            None => {
                let erased: bool = sqlx::query_scalar(
                    "select exists (select 1 from erased_subjects where subject_id = $1)",
                )
                .bind(subject)
                .fetch_one(&mut *conn)
                .await?;
                if erased {
                    Err(StoreError::SubjectErased(subject))
                } else {
                    // Another writer inserted the key after this statement's
                    // snapshot was taken: it is committed now.
                    let (wrapped,): (Vec<u8>,) = sqlx::query_as(
                        "select wrapped_key from subject_keys where subject_id = $1",
                    )
                    .bind(subject)
                    .fetch_one(&mut *conn)
                    .await?;
                    self.unwrap_key(subject, &wrapped)
                }
            }
        }
    }

    /// `data` with every personal value replaced by its sealed form; borrowed
    /// as is when it holds none, which is most events.
    pub(crate) async fn seal<'a>(
        &self,
        conn: &mut PgConnection,
        event_type: &str,
        subject: Option<Uuid>,
        data: &'a Value,
    ) -> Result<Cow<'a, Value>> {
        if !contains_key(data, PERSONAL) {
            return Ok(Cow::Borrowed(data));
        }
        let subject = subject.ok_or_else(|| StoreError::MissingSubject {
            event_type: event_type.to_owned(),
        })?;
        let key = self.data_key(conn, subject).await?;
        let mut sealed = data.clone();
        seal_in_place(&mut sealed, &key, subject)?;
        Ok(Cow::Owned(sealed))
    }

    /// `data` sealed like [`Keyring::seal`] does, with a key made here
    /// rather than read: the first of the append is kept in `fresh`, for the
    /// append's own statement to insert ([`FreshKey`]). Refused with
    /// [`StoreError::NotFused`] when the events name several subjects.
    pub(crate) fn seal_fresh<'a>(
        &self,
        fresh: &mut Option<FreshKey>,
        event_type: &str,
        subject: Option<Uuid>,
        data: &'a Value,
    ) -> Result<Cow<'a, Value>> {
        if !contains_key(data, PERSONAL) {
            return Ok(Cow::Borrowed(data));
        }
        let subject = subject.ok_or_else(|| StoreError::MissingSubject {
            event_type: event_type.to_owned(),
        })?;
        let key = match fresh {
            Some(key) if key.subject == subject => key,
            Some(_) => return Err(StoreError::NotFused),
            None => {
                let plain: [u8; 32] = XChaCha20Poly1305::generate_key(&mut OsRng).into();
                fresh.insert(FreshKey {
                    subject,
                    wrapped: seal_bytes(&self.master, &plain, subject)?,
                    cipher: XChaCha20Poly1305::new(&plain.into()),
                })
            }
        };
        let mut sealed = data.clone();
        seal_in_place(&mut sealed, &key.cipher, subject)?;
        Ok(Cow::Owned(sealed))
    }

    /// Opens every sealed value of every event, fetching the keys in one query.
    pub(crate) async fn open_all<'a>(
        &self,
        conn: &mut PgConnection,
        data: impl Iterator<Item = &'a mut Value>,
    ) -> Result<()> {
        let sealed: Vec<&mut Value> = data.collect();
        if sealed.is_empty() {
            return Ok(());
        }
        let mut subjects = HashSet::new();
        for d in &sealed {
            collect_subjects(d, &mut subjects);
        }
        let ids: Vec<Uuid> = subjects.into_iter().collect();
        let rows: Vec<(Uuid, Vec<u8>)> = sqlx::query_as(
            "select subject_id, wrapped_key from subject_keys where subject_id = any($1)",
        )
        .bind(&ids)
        .fetch_all(&mut *conn)
        .await?;
        let mut keys = HashMap::with_capacity(rows.len());
        for (subject, wrapped) in rows {
            keys.insert(subject, self.unwrap_key(subject, &wrapped)?);
        }
        for d in sealed {
            open_in_place(d, &keys)?;
        }
        Ok(())
    }
}

/// A subject's data key made for an append that inserts it in its own
/// statement (`subject_keys`, refused for an erased subject as
/// [`Keyring::seal`]'s statement refuses it): the events are sealed with it
/// before the statement is sent.
pub(crate) struct FreshKey {
    pub subject: Uuid,
    /// The key wrapped with the master key, as `subject_keys` keeps it.
    pub wrapped: Vec<u8>,
    cipher: XChaCha20Poly1305,
}

/// Whether an event's JSON text may hold a sealed value: a cheap test that
/// spares the others from being parsed.
pub(crate) fn may_hold_sealed(json: &str) -> bool {
    json.contains(SEALED)
}

/// Erases a subject: their key is deleted, so every value sealed with it is
/// unreadable from now on. Returns false when they were already erased.
pub(crate) async fn erase(conn: &mut PgConnection, subject: Uuid) -> Result<bool> {
    let first =
        sqlx::query("insert into erased_subjects (subject_id) values ($1) on conflict do nothing")
            .bind(subject)
            .execute(&mut *conn)
            .await?
            .rows_affected()
            == 1;
    sqlx::query("delete from subject_keys where subject_id = $1")
        .bind(subject)
        .execute(&mut *conn)
        .await?;
    Ok(first)
}

/// Replaces every personal value still in clear (`{"$personal": v}`) with
/// `{"$erased": true}`; says whether there was one. Stored data holds such
/// values only once an upcaster read a text recorded in clear before it was
/// sealed: everything marked personal when appended is sealed.
pub(crate) fn erase_clear(value: &mut Value) -> bool {
    match value {
        Value::Object(map) => {
            if single_entry(map, PERSONAL).is_some() {
                *value = json!({ ERASED: true });
                return true;
            }
            // Every value visited: no short circuit.
            let mut erased = false;
            for v in map.values_mut() {
                erased |= erase_clear(v);
            }
            erased
        }
        Value::Array(items) => {
            let mut erased = false;
            for v in items {
                erased |= erase_clear(v);
            }
            erased
        }
        _ => false,
    }
}

fn contains_key(value: &Value, key: &str) -> bool {
    match value {
        Value::Object(map) => map.contains_key(key) || map.values().any(|v| contains_key(v, key)),
        Value::Array(items) => items.iter().any(|v| contains_key(v, key)),
        _ => false,
    }
}

fn single_entry<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    if map.len() == 1 { map.get(key) } else { None }
}

fn seal_in_place(value: &mut Value, key: &XChaCha20Poly1305, subject: Uuid) -> Result<()> {
    match value {
        Value::Object(map) => {
            if let Some(plain) = single_entry(map, PERSONAL) {
                let bytes = serde_json::to_vec(plain).map_err(|_| StoreError::Crypto)?;
                let sealed = seal_bytes(key, &bytes, subject)?;
                *value = json!({ SEALED: { "subject": subject, "box": B64.encode(sealed) } });
                return Ok(());
            }
            map.values_mut()
                .try_for_each(|v| seal_in_place(v, key, subject))
        }
        Value::Array(items) => items
            .iter_mut()
            .try_for_each(|v| seal_in_place(v, key, subject)),
        _ => Ok(()),
    }
}

fn sealed_parts(map: &Map<String, Value>) -> Option<(Uuid, &str)> {
    let inner = single_entry(map, SEALED)?.as_object()?;
    let subject = inner.get("subject")?.as_str()?.parse().ok()?;
    Some((subject, inner.get("box")?.as_str()?))
}

fn collect_subjects(value: &Value, out: &mut HashSet<Uuid>) {
    match value {
        Value::Object(map) => match sealed_parts(map) {
            Some((subject, _)) => {
                out.insert(subject);
            }
            None => map.values().for_each(|v| collect_subjects(v, out)),
        },
        Value::Array(items) => items.iter().for_each(|v| collect_subjects(v, out)),
        _ => {}
    }
}

fn open_in_place(value: &mut Value, keys: &HashMap<Uuid, XChaCha20Poly1305>) -> Result<()> {
    match value {
        Value::Object(map) => {
            if let Some((subject, sealed)) = sealed_parts(map) {
                *value = match keys.get(&subject) {
                    None => json!({ ERASED: true }),
                    Some(key) => {
                        let sealed = B64.decode(sealed).map_err(|_| StoreError::Crypto)?;
                        let plain = open_bytes(key, &sealed, subject)?;
                        let plain: Value =
                            serde_json::from_slice(&plain).map_err(|_| StoreError::Crypto)?;
                        json!({ PERSONAL: plain })
                    }
                };
                return Ok(());
            }
            map.values_mut().try_for_each(|v| open_in_place(v, keys))
        }
        Value::Array(items) => items.iter_mut().try_for_each(|v| open_in_place(v, keys)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealing_hides_the_value_and_opening_restores_it() {
        let key = XChaCha20Poly1305::new(&[7u8; 32].into());
        let subject = Uuid::new_v4();
        let original = json!({"name": {"$personal": "Awa Diallo"}, "list": [{"$personal": 3}], "city": "Lyon"});
        let mut data = original.clone();
        seal_in_place(&mut data, &key, subject).unwrap();
        let text = data.to_string();
        // The whole name: a space never appears in base64, where three
        // letters of it may by chance.
        assert!(!text.contains("Awa Diallo"), "{text}");
        assert!(text.contains("Lyon"));
        let mut subjects = HashSet::new();
        collect_subjects(&data, &mut subjects);
        assert_eq!(subjects, HashSet::from([subject]));
        open_in_place(&mut data, &HashMap::from([(subject, key)])).unwrap();
        assert_eq!(data, original);
    }

    #[test]
    fn a_value_without_its_key_reads_as_erased() {
        let key = XChaCha20Poly1305::new(&[7u8; 32].into());
        let subject = Uuid::new_v4();
        let mut data = json!({"name": {"$personal": "Awa"}});
        seal_in_place(&mut data, &key, subject).unwrap();
        open_in_place(&mut data, &HashMap::new()).unwrap();
        assert_eq!(data, json!({"name": {"$erased": true}}));
    }

    #[test]
    fn a_value_in_clear_is_erased_and_a_sealed_one_left_as_it_is() {
        let sealed = json!({ SEALED: { "subject": Uuid::nil(), "box": "AAAA" } });
        let mut data = json!({
            "why": {"$personal": "Malade"},
            "skills": [{"comment": {"$personal": "Vite"}}, {"comment": null}],
            "words": sealed,
            "kind": "other"
        });
        assert!(erase_clear(&mut data));
        assert_eq!(
            data,
            json!({
                "why": {"$erased": true},
                "skills": [{"comment": {"$erased": true}}, {"comment": null}],
                "words": sealed,
                "kind": "other"
            })
        );
        assert!(!erase_clear(&mut data), "nothing left to erase");
    }

    #[test]
    fn a_box_sealed_for_another_subject_does_not_open() {
        let key = XChaCha20Poly1305::new(&[7u8; 32].into());
        let sealed = seal_bytes(&key, b"secret", Uuid::new_v4()).unwrap();
        assert!(open_bytes(&key, &sealed, Uuid::new_v4()).is_err());
    }

    #[test]
    fn master_key_round_trips_through_base64() {
        let key = MasterKey::generate();
        let back = MasterKey::from_base64(&key.to_base64()).unwrap();
        assert_eq!(back.0, key.0);
        assert!(MasterKey::from_base64("c2hvcnQ=").is_err());
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        let hex = |mac: [u8; 32]| -> String { mac.iter().map(|b| format!("{b:02x}")).collect() };
        // Test case 2: a short key.
        assert_eq!(
            hex(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than a block.
        assert_eq!(
            hex(hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }
}
