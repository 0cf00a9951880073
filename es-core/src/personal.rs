//! Personal data in an immutable log: crypto-shredding.
//!
//! Fields marked `#[personal(subject = user_id)]` in `#[derive(DomainEvent)]` are stored encrypted
//! with a key per data subject (AES-256-GCM, a fresh nonce per value, the event id as associated
//! data). [`Protected::forget`] deletes the subject's key: from then on every read path yields those
//! fields as erased (the field type's `Default`, or [`Personal::Erased`]) — never an error and never
//! the plaintext — while the stored events stay as they are.
//!
//! ```
//! use es_core::prelude::*;
//! use es_core::personal::{ForgetRequest, Protected};
//! use es_core::{MemoryStore, NewEvent, RecordedEvent};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
//! #[event(name = "user.registered")]
//! struct Registered {
//!     user_id: String,
//!     #[personal(subject = user_id)]
//!     email: String,
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store = Protected::new(MemoryStore::new(), MemoryStore::new());
//! let stream = StreamId::new("user-u1").unwrap();
//! let event = Registered { user_id: "u1".into(), email: "ada@example.com".into() };
//! store.append(&stream, ExpectedVersion::NoStream, vec![NewEvent::from_event(&event, Metadata::new()).unwrap()]).await.unwrap();
//!
//! // Stored encrypted; read back in plaintext through the protected store.
//! let raw: Vec<RecordedEvent> = store.inner().read_all(ReadAll::new()).try_collect().await.unwrap();
//! assert!(!raw[0].payload.to_string().contains("ada@example.com"));
//! let read: Vec<RecordedEvent> = store.read_all(ReadAll::new()).try_collect().await.unwrap();
//! assert_eq!(read[0].decode::<Registered>().unwrap().event, event);
//!
//! // Forgotten: the field reads as erased, everywhere.
//! store.forget("u1", &ForgetRequest::new("dpo@example.com", "GDPR art. 17 request #12")).await.unwrap();
//! let read: Vec<RecordedEvent> = store.read_all(ReadAll::new()).try_collect().await.unwrap();
//! assert_eq!(read[0].decode::<Registered>().unwrap().event.email, "");
//! # });
//! ```

use crate::dcb::{AppendCondition, Query, QueryItem, StreamAppend};
use crate::envelope::{
    AppendResult, AppendedEvent, NewEvent, RecordedEvent, ReplayedEvent, StoredPayload,
};
use crate::error::{CorruptEvent, StoreError};
use crate::id::{Checkpoint, EventId, ExpectedVersion, Position, StreamId, Version};
use crate::store::{
    CheckpointStore, EventStore, EventStream, ReadAll, ReplayStream, Snapshot, SnapshotStore,
};
use aes_gcm::aead::{Aead, Generate, Key, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::watch;

mod text;

/// The key of the object a personal value is stored in: `{"es:personal": {...}}`.
pub const MARKER: &str = "es:personal";

/// The tag every event with personal data of a subject carries: `personal:<subject>`, so the
/// subject's events and streams are found by a query ([`subject_query`]).
pub fn subject_tag(subject: &str) -> String {
    crate::dcb::tag("personal", subject)
}

/// The query of every event with personal data of `subject`.
pub fn subject_query(subject: &str) -> Query {
    Query::item(QueryItem::new().tags([subject_tag(subject)]))
}

/// A 256-bit data key of one subject, with its id. Every value is stored with the id of the key
/// it was encrypted with, so a value of a key that is gone (a forgotten subject that came back has
/// a new key) reads as erased rather than failing to decrypt.
#[derive(Clone)]
pub struct DataKey {
    /// The key's id (random; stored beside the key and with every value encrypted with it).
    pub id: uuid::Uuid,
    /// The key.
    pub key: [u8; 32],
    /// The cipher with the key schedule, built once per key (not per value).
    cipher: Arc<Aes256Gcm>,
}

impl PartialEq for DataKey {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id && self.key == other.key
    }
}

impl Eq for DataKey {}

impl DataKey {
    /// A fresh random key with a fresh id.
    pub fn generate() -> Self {
        let key = Key::<Aes256Gcm>::generate();
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(key.as_slice());
        Self::new(uuid::Uuid::now_v7(), bytes)
    }

    /// A key from its stored id and 32 bytes.
    pub fn from_parts(id: uuid::Uuid, bytes: &[u8]) -> Option<Self> {
        <[u8; 32]>::try_from(bytes)
            .ok()
            .map(|key| Self::new(id, key))
    }

    fn new(id: uuid::Uuid, key: [u8; 32]) -> Self {
        Self {
            id,
            key,
            cipher: Arc::new(Aes256Gcm::new(&Key::<Aes256Gcm>::from(key))),
        }
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

/// Who asked to forget a subject, and why: recorded with the forgetting (the shipped key stores
/// write it to `es_forgotten`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForgetRequest {
    /// Who asked (a user, an operator, a system).
    pub requested_by: String,
    /// Why (a ticket, a legal basis).
    pub reason: String,
}

impl ForgetRequest {
    /// A request by `requested_by` for `reason`.
    pub fn new(requested_by: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            requested_by: requested_by.into(),
            reason: reason.into(),
        }
    }
}

/// Stores the data keys of subjects. The shipped stores (memory, SQLite, PostgreSQL) keep them in
/// the same database as the events (`es_keys`); implement it to use a KMS instead.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// The subject's key, created (and stored) if it has none. A subject forgotten before gets a
    /// new key: events appended after forgetting are readable, the ones before are not.
    async fn data_key(&self, subject: &str) -> Result<DataKey, StoreError>;

    /// The subject's key, if it has one.
    async fn existing_key(&self, subject: &str) -> Result<Option<DataKey>, StoreError>;

    /// Deletes the subject's key and records the request; `false` if it had none.
    async fn forget_key(&self, subject: &str, request: &ForgetRequest) -> Result<bool, StoreError>;
}

/// A personal value as an event or state holds it: the value, or `Erased` after its subject was
/// forgotten (or when it could not be decrypted). Serializes as the value itself (`null` when
/// erased); `Default` is `Erased`, which is what a `#[personal]` field of this type reads as after
/// forgetting.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Personal<T> {
    /// The value.
    Value(T),
    /// Forgotten.
    #[default]
    Erased,
}

impl<T> Personal<T> {
    /// The value, unless erased.
    pub fn value(&self) -> Option<&T> {
        match self {
            Personal::Value(v) => Some(v),
            Personal::Erased => None,
        }
    }

    /// Whether it was erased.
    pub fn is_erased(&self) -> bool {
        matches!(self, Personal::Erased)
    }
}

impl<T> From<T> for Personal<T> {
    fn from(value: T) -> Self {
        Personal::Value(value)
    }
}

impl<T: Serialize> Serialize for Personal<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Personal::Value(v) => v.serialize(serializer),
            Personal::Erased => serializer.serialize_none(),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Personal<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(deserializer)? {
            Some(v) => Personal::Value(v),
            None => Personal::Erased,
        })
    }
}

// ---- the stored form ---------------------------------------------------------------------------

/// Wraps `value` as a plaintext personal value of `subject` (what `to_payload` writes; the
/// protected store encrypts it before it is stored).
pub fn mark(subject: &str, value: Value) -> Value {
    let mut inner = Map::new();
    inner.insert("subject".into(), Value::String(subject.to_owned()));
    inner.insert("value".into(), value);
    let mut outer = Map::new();
    outer.insert(MARKER.into(), Value::Object(inner));
    Value::Object(outer)
}

fn marker(value: &Value) -> Option<&Map<String, Value>> {
    match value {
        Value::Object(map) if map.len() == 1 => map.get(MARKER)?.as_object(),
        _ => None,
    }
}

/// Replaces every personal value in `payload` by its plaintext, or by `null` when it is erased or
/// still encrypted (read around a [`Protected`] store). What event decoding does first.
pub fn unmark(payload: &mut Value) {
    if let Some(inner) = marker(payload) {
        *payload = inner.get("value").cloned().unwrap_or(Value::Null);
        return;
    }
    match payload {
        Value::Object(map) => map.values_mut().for_each(unmark),
        Value::Array(items) => items.iter_mut().for_each(unmark),
        _ => {}
    }
}

/// Whether a JSON value holds personal values.
pub fn may_contain_personal_value(value: &Value) -> bool {
    match value {
        Value::Object(map) => {
            map.contains_key(MARKER) || map.values().any(may_contain_personal_value)
        }
        Value::Array(items) => items.iter().any(may_contain_personal_value),
        _ => false,
    }
}

/// Whether JSON text may hold personal values (a cheap check before parsing it).
pub fn may_contain_personal(json: &str) -> bool {
    json.contains(MARKER)
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        text.push(char::from(DIGITS[usize::from(b >> 4)]));
        text.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    text
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes
        .chunks_exact(2)
        .map(|pair| Some(nibble(pair[0])? << 4 | nibble(pair[1])?))
        .collect()
}

/// Visits every personal value of `value` (subject, inner object), depth first.
fn each_marker(value: &mut Value, f: &mut dyn FnMut(&mut Map<String, Value>)) {
    if let Value::Object(map) = value
        && map.len() == 1
        && let Some(Value::Object(inner)) = map.get_mut(MARKER)
    {
        f(inner);
        return;
    }
    match value {
        Value::Object(map) => map.values_mut().for_each(|v| each_marker(v, f)),
        Value::Array(items) => items.iter_mut().for_each(|v| each_marker(v, f)),
        _ => {}
    }
}

fn subjects(value: &mut Value) -> Vec<String> {
    let mut found = Vec::new();
    each_marker(value, &mut |inner| {
        if let Some(Value::String(s)) = inner.get("subject")
            && !found.contains(s)
        {
            found.push(s.clone());
        }
    });
    found
}

/// Encrypts every plaintext personal value of `value` in place with the keys in `keys`.
fn encrypt(value: &mut Value, keys: &HashMap<String, DataKey>, aad: &[u8]) -> Result<(), String> {
    let mut error = None;
    each_marker(value, &mut |inner| {
        let (Some(Value::String(subject)), Some(plain)) =
            (inner.get("subject"), inner.get("value"))
        else {
            return;
        };
        let Some(key) = keys.get(subject) else {
            error = Some(format!("no key for subject {subject}"));
            return;
        };
        let cipher = &key.cipher;
        let nonce = Nonce::generate();
        let text = plain.to_string();
        match cipher.encrypt(
            &nonce,
            Payload {
                msg: text.as_bytes(),
                aad,
            },
        ) {
            Ok(data) => {
                inner.remove("value");
                inner.insert("key".into(), Value::String(key.id.simple().to_string()));
                inner.insert("nonce".into(), Value::String(hex(nonce.as_slice())));
                inner.insert("data".into(), Value::String(hex(&data)));
            }
            Err(e) => error = Some(format!("encryption failed: {e}")),
        }
    });
    error.map_or(Ok(()), Err)
}

/// Opens one sealed value of `subject`: its plaintext JSON text, or `None` when its key is gone
/// (forgotten, or it was sealed with an older key of the subject): erased. A value that does not
/// open with its key (tampered, or another key) is an error.
fn open(
    keys: &HashMap<String, Option<DataKey>>,
    subject: &str,
    key_id: Option<&str>,
    nonce: &str,
    data: &str,
    aad: &[u8],
) -> Result<Option<Vec<u8>>, String> {
    let Some(Some(key)) = keys.get(subject) else {
        return Ok(None);
    };
    if key_id.and_then(|k| uuid::Uuid::parse_str(k).ok()) != Some(key.id) {
        return Ok(None);
    }
    let nonce = unhex(nonce).and_then(|n| Nonce::try_from(n.as_slice()).ok());
    let (Some(nonce), Some(data)) = (nonce, unhex(data)) else {
        return Err("personal value is not hex".to_owned());
    };
    key.cipher
        .decrypt(&nonce, Payload { msg: &data, aad })
        .map(Some)
        .map_err(|_| {
            format!(
                "personal data of subject {subject} does not decrypt (tampered, or another key)"
            )
        })
}

/// Decrypts every encrypted personal value of `value` in place: with its subject's key to a
/// plaintext value, without one (forgotten) to an erased one. A value that does not decrypt with
/// its key (tampered, or another key) is an error.
fn decrypt(
    value: &mut Value,
    keys: &HashMap<String, Option<DataKey>>,
    aad: &[u8],
) -> Result<(), String> {
    let mut error = None;
    each_marker(value, &mut |inner| {
        let (Some(Value::String(subject)), Some(Value::String(nonce)), Some(Value::String(data))) =
            (inner.get("subject"), inner.get("nonce"), inner.get("data"))
        else {
            return;
        };
        let key_id = inner.get("key").and_then(Value::as_str);
        let plain = match open(keys, subject, key_id, nonce, data, aad).and_then(|p| {
            p.map(|p| serde_json::from_slice::<Value>(&p).map_err(|e| e.to_string()))
                .transpose()
        }) {
            Ok(plain) => plain,
            Err(e) => {
                error = Some(e);
                return;
            }
        };
        inner.remove("nonce");
        inner.remove("data");
        inner.remove("key");
        match plain {
            Some(plain) => {
                inner.insert("value".into(), plain);
            }
            None => {
                inner.insert("erased".into(), Value::Bool(true));
            }
        }
    });
    error.map_or(Ok(()), Err)
}

/// Decrypts the encrypted personal values in JSON text (what a replay reads): each becomes its
/// plaintext value itself, or an erased marker.
fn decrypt_text(
    text: &str,
    found: &[text::Found<'_>],
    keys: &HashMap<String, Option<DataKey>>,
    aad: &[u8],
) -> Result<String, String> {
    text::splice(text, found, |sealed| {
        let opened = open(
            keys,
            &sealed.subject,
            sealed.key.as_deref(),
            &sealed.nonce,
            &sealed.data,
            aad,
        )?;
        match opened {
            Some(plain) => String::from_utf8(plain).map_err(|e| e.to_string()),
            None => {
                let subject = serde_json::to_string(&*sealed.subject).map_err(|e| e.to_string())?;
                Ok(format!(
                    r#"{{"{MARKER}":{{"subject":{subject},"erased":true}}}}"#
                ))
            }
        }
    })
}

// ---- the protected store -------------------------------------------------------------------------

struct CachedKey {
    key: Option<DataKey>,
    at: Instant,
}

/// The keys read recently, bounded, each for at most `ttl` (so a key forgotten by another process
/// stops decrypting here within `ttl`).
struct KeyCache {
    keys: Mutex<HashMap<String, CachedKey>>,
    capacity: usize,
    ttl: Duration,
}

impl KeyCache {
    fn get(&self, subject: &str) -> Option<Option<DataKey>> {
        let keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        keys.get(subject)
            .filter(|c| c.at.elapsed() < self.ttl)
            .map(|c| c.key.clone())
    }

    fn put(&self, subject: &str, key: Option<DataKey>) {
        let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        if keys.len() >= self.capacity && !keys.contains_key(subject) {
            // Drop the oldest entry.
            if let Some(oldest) = keys
                .iter()
                .min_by_key(|(_, c)| c.at)
                .map(|(s, _)| s.clone())
            {
                keys.remove(&oldest);
            }
        }
        keys.insert(
            subject.to_owned(),
            CachedKey {
                key,
                at: Instant::now(),
            },
        );
    }

    fn remove(&self, subject: &str) {
        self.keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(subject);
    }
}

/// An event and snapshot store that encrypts personal values on the way in and decrypts them on
/// the way out, with keys from `K` (cached: 10,000 keys, 30 s by default). Wrap any store:
/// `Protected::new(store.clone(), store)` keeps the keys in the store's own database. Every read
/// through it — loads, history, `read_all`, projections and subscriptions that read from it,
/// rebuilds — yields forgotten subjects' values as erased.
pub struct Protected<S, K> {
    inner: S,
    keys: Arc<K>,
    cache: Arc<KeyCache>,
    /// Appends hold it shared, `forget` exclusively: an append through this store either ends
    /// before a forgetting begins (and is erased by it) or begins after it ended (new key).
    forgetting: Arc<tokio::sync::RwLock<()>>,
}

impl<S: Clone, K> Clone for Protected<S, K> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            keys: Arc::clone(&self.keys),
            cache: Arc::clone(&self.cache),
            forgetting: Arc::clone(&self.forgetting),
        }
    }
}

impl<S, K> std::fmt::Debug for Protected<S, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Protected").finish_non_exhaustive()
    }
}

impl<S, K: KeyStore> Protected<S, K> {
    /// Protects `inner` with the keys of `keys`.
    pub fn new(inner: S, keys: K) -> Self {
        Self {
            inner,
            keys: Arc::new(keys),
            cache: Arc::new(KeyCache {
                keys: Mutex::new(HashMap::new()),
                capacity: 10_000,
                ttl: Duration::from_secs(30),
            }),
            forgetting: Arc::new(tokio::sync::RwLock::new(())),
        }
    }

    /// How many keys to cache, and for how long (a key forgotten by another process may decrypt
    /// here for up to `ttl`).
    pub fn with_key_cache(self, capacity: usize, ttl: Duration) -> Self {
        Self {
            cache: Arc::new(KeyCache {
                keys: Mutex::new(HashMap::new()),
                capacity: capacity.max(1),
                ttl,
            }),
            ..self
        }
    }

    /// The wrapped store (reads through it see personal values encrypted).
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The key store.
    pub fn key_store(&self) -> &K {
        &self.keys
    }

    async fn keys_for_writing(
        &self,
        subjects: Vec<String>,
    ) -> Result<HashMap<String, DataKey>, StoreError> {
        let mut keys = HashMap::new();
        for subject in subjects {
            let key = match self.cache.get(&subject) {
                Some(Some(key)) => key,
                _ => {
                    let key = self.keys.data_key(&subject).await?;
                    self.cache.put(&subject, Some(key.clone()));
                    key
                }
            };
            keys.insert(subject, key);
        }
        Ok(keys)
    }

    async fn keys_for_reading(
        &self,
        subjects: Vec<String>,
    ) -> Result<HashMap<String, Option<DataKey>>, StoreError> {
        let mut keys = HashMap::new();
        for subject in subjects {
            let key = match self.cache.get(&subject) {
                Some(key) => key,
                None => {
                    let key = self.keys.existing_key(&subject).await?;
                    self.cache.put(&subject, key.clone());
                    key
                }
            };
            keys.insert(subject, key);
        }
        Ok(keys)
    }

    async fn encrypt_event(&self, mut event: NewEvent) -> Result<NewEvent, StoreError> {
        let subjects = subjects(&mut event.payload);
        if subjects.is_empty() {
            return Ok(event);
        }
        for subject in &subjects {
            let tag = subject_tag(subject);
            if !event.tags.contains(&tag) {
                event.tags.push(tag);
            }
        }
        let keys = self.keys_for_writing(subjects).await?;
        encrypt(&mut event.payload, &keys, event.event_id.0.as_bytes())
            .map_err(StoreError::database)?;
        Ok(event)
    }

    async fn decrypt_recorded(
        &self,
        mut event: RecordedEvent,
    ) -> Result<RecordedEvent, StoreError> {
        let subjects = subjects(&mut event.payload);
        if subjects.is_empty() {
            return Ok(event);
        }
        let keys = self.keys_for_reading(subjects).await?;
        let aad = *event.meta.event_id.0.as_bytes();
        decrypt(&mut event.payload, &keys, &aad).map_err(|message| {
            let m = &event.meta;
            StoreError::from(CorruptEvent::new(
                m.stream_id.as_str(),
                i64::try_from(m.version.0).unwrap_or(i64::MAX),
                m.position.0,
                m.commit,
                &m.event_type,
                Some(m.event_id),
                message,
            ))
        })?;
        Ok(event)
    }

    async fn decrypt_replayed(
        &self,
        stream: &StreamId,
        mut event: ReplayedEvent,
    ) -> Result<ReplayedEvent, StoreError> {
        let aad = *event.event_id.0.as_bytes();
        let decrypted = match &mut event.payload {
            StoredPayload::Value(value) => {
                let subjects = subjects(value);
                if subjects.is_empty() {
                    return Ok(event);
                }
                let keys = self.keys_for_reading(subjects).await?;
                decrypt(value, &keys, &aad)
            }
            StoredPayload::Json(json) => {
                if !may_contain_personal(json) {
                    return Ok(event);
                }
                let found = text::find(json);
                if found.is_empty() {
                    return Ok(event);
                }
                let mut subjects: Vec<String> = Vec::with_capacity(1);
                for f in &found {
                    if !subjects.iter().any(|s| *s == f.sealed.subject) {
                        subjects.push(f.sealed.subject.to_string());
                    }
                }
                let keys = self.keys_for_reading(subjects).await?;
                decrypt_text(json, &found, &keys, &aad).map(|plain| *json = plain)
            }
        };
        decrypted.map_err(|message| {
            StoreError::from(CorruptEvent::new(
                stream.as_str(),
                i64::try_from(event.version.0).unwrap_or(i64::MAX),
                event.position.0,
                0,
                &event.event_type,
                Some(event.event_id),
                message,
            ))
        })?;
        Ok(event)
    }

    /// Forgets a subject: deletes its key (recording `request`), drops the snapshots of the
    /// streams holding its personal data (a snapshot may hold them in plaintext), and clears this
    /// store's cached key. Appends through this store (and its clones) wait while the key is
    /// deleted: every event appended before is erased, every one appended after gets a new key
    /// and is readable (appending for a forgotten subject is allowed: it comes back). Appends in
    /// other processes that hold the key in their cache may still encrypt with it for up to the
    /// cache's ttl; those events read as erased. Every read through a `Protected` store then yields the subject's
    /// personal values as erased (other processes within their key cache's ttl). Returns whether
    /// the subject had a key. Logged at `info` with who asked and why.
    pub async fn forget(&self, subject: &str, request: &ForgetRequest) -> Result<bool, StoreError>
    where
        S: EventStore + SnapshotStore,
    {
        let forgetting = self.forgetting.write().await;
        let had_key = self.keys.forget_key(subject, request).await?;
        self.cache.remove(subject);
        drop(forgetting);
        let streams: Vec<StreamId> = self
            .inner
            .read_all(ReadAll::new().matching(subject_query(subject)))
            .map_ok(|e| e.meta.stream_id)
            .try_collect()
            .await?;
        let mut dropped = Vec::new();
        for stream in streams {
            if !dropped.contains(&stream) {
                self.inner.delete_snapshot(&stream).await?;
                dropped.push(stream);
            }
        }
        tracing::info!(
            subject,
            requested_by = %request.requested_by,
            reason = %request.reason,
            had_key,
            snapshots_dropped = dropped.len(),
            "forgot a data subject"
        );
        Ok(had_key)
    }

    /// The streams holding personal data of `subject`, in the order of their first such event.
    pub async fn streams_of(&self, subject: &str) -> Result<Vec<StreamId>, StoreError>
    where
        S: EventStore,
    {
        let mut streams: Vec<StreamId> = Vec::new();
        let mut events = self
            .inner
            .read_all(ReadAll::new().matching(subject_query(subject)));
        while let Some(event) = events.try_next().await? {
            if !streams.contains(&event.meta.stream_id) {
                streams.push(event.meta.stream_id);
            }
        }
        Ok(streams)
    }
}

#[async_trait]
impl<S: EventStore, K: KeyStore> EventStore for Protected<S, K> {
    async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError> {
        let _appending = self.forgetting.read().await;
        let mut encrypted = Vec::with_capacity(events.len());
        for event in events {
            encrypted.push(self.encrypt_event(event).await?);
        }
        self.inner.append(stream, expected, encrypted).await
    }

    async fn append_streams(
        &self,
        appends: Vec<StreamAppend>,
        condition: Option<AppendCondition>,
    ) -> Result<Vec<AppendResult>, StoreError> {
        let _appending = self.forgetting.read().await;
        let mut encrypted = Vec::with_capacity(appends.len());
        for mut append in appends {
            let mut events = Vec::with_capacity(append.events.len());
            for event in append.events {
                events.push(self.encrypt_event(event).await?);
            }
            append.events = events;
            encrypted.push(append);
        }
        self.inner.append_streams(encrypted, condition).await
    }

    fn read_stream<'a>(&'a self, stream: &'a StreamId, from: Version) -> EventStream<'a> {
        self.inner
            .read_stream(stream, from)
            .and_then(move |e| self.decrypt_recorded(e))
            .boxed()
    }

    /// Decrypts in the JSON text the inner store's replay reads: a plaintext personal value
    /// becomes the value itself (no marker left, so the event type deserializes the text
    /// directly), an erased one an erased marker.
    fn replay_stream<'a>(&'a self, stream: &'a StreamId, from: Version) -> ReplayStream<'a> {
        self.inner
            .replay_stream(stream, from)
            .and_then(move |e| self.decrypt_replayed(stream, e))
            .boxed()
    }

    fn read_all<'a>(&'a self, query: ReadAll) -> EventStream<'a> {
        self.inner
            .read_all(query)
            .and_then(move |e| self.decrypt_recorded(e))
            .boxed()
    }

    async fn stream_version(&self, stream: &StreamId) -> Result<Version, StoreError> {
        self.inner.stream_version(stream).await
    }

    async fn list_streams(
        &self,
        prefix: &str,
        after: Option<&StreamId>,
        limit: usize,
    ) -> Result<Vec<(StreamId, Version)>, StoreError> {
        self.inner.list_streams(prefix, after, limit).await
    }

    async fn head_position(&self) -> Result<Position, StoreError> {
        self.inner.head_position().await
    }

    async fn head_checkpoint(&self) -> Result<Checkpoint, StoreError> {
        self.inner.head_checkpoint().await
    }

    fn append_signal(&self) -> Option<watch::Receiver<u64>> {
        self.inner.append_signal()
    }

    async fn find_events(
        &self,
        ids: &[EventId],
    ) -> Result<Vec<(StreamId, AppendedEvent)>, StoreError> {
        self.inner.find_events(ids).await
    }
}

#[async_trait]
impl<S: SnapshotStore, K: KeyStore> SnapshotStore for Protected<S, K> {
    async fn load_snapshot(&self, stream: &StreamId) -> Result<Option<Snapshot>, StoreError> {
        let Some(mut snapshot) = self.inner.load_snapshot(stream).await? else {
            return Ok(None);
        };
        let subjects = subjects(&mut snapshot.state);
        if subjects.is_empty() {
            return Ok(Some(snapshot));
        }
        let keys = self.keys_for_reading(subjects).await?;
        if decrypt(&mut snapshot.state, &keys, stream.as_str().as_bytes()).is_err() {
            // A snapshot is a cache: one that does not decrypt is ignored and the stream replayed.
            tracing::warn!(%stream, "ignoring a snapshot whose personal data does not decrypt");
            return Ok(None);
        }
        Ok(Some(snapshot))
    }

    async fn save_snapshot(&self, snapshot: &Snapshot) -> Result<(), StoreError> {
        let mut snapshot = snapshot.clone();
        let subjects = subjects(&mut snapshot.state);
        if !subjects.is_empty() {
            let keys = self.keys_for_writing(subjects).await?;
            encrypt(
                &mut snapshot.state,
                &keys,
                snapshot.stream_id.as_str().as_bytes(),
            )
            .map_err(StoreError::database)?;
        }
        self.inner.save_snapshot(&snapshot).await
    }

    async fn delete_snapshot(&self, stream: &StreamId) -> Result<(), StoreError> {
        self.inner.delete_snapshot(stream).await
    }
}

#[async_trait]
impl<S: CheckpointStore, K: KeyStore> CheckpointStore for Protected<S, K> {
    async fn load_checkpoint(&self, name: &str) -> Result<Option<Checkpoint>, StoreError> {
        self.inner.load_checkpoint(name).await
    }

    async fn save_checkpoint(&self, name: &str, checkpoint: Checkpoint) -> Result<(), StoreError> {
        self.inner.save_checkpoint(name, checkpoint).await
    }

    async fn delete_checkpoint(&self, name: &str) -> Result<(), StoreError> {
        self.inner.delete_checkpoint(name).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_round_trips_and_tampering_is_detected() {
        let key = DataKey::generate();
        let mut payload =
            serde_json::json!({ "email": mark("u1", serde_json::json!("a@b.c")), "n": 1 });
        let keys = HashMap::from([("u1".to_owned(), key.clone())]);
        encrypt(&mut payload, &keys, b"id").unwrap();
        assert!(!payload.to_string().contains("a@b.c"));
        let mut read = payload.clone();
        decrypt(
            &mut read,
            &HashMap::from([("u1".to_owned(), Some(key.clone()))]),
            b"id",
        )
        .unwrap();
        unmark(&mut read);
        assert_eq!(read, serde_json::json!({ "email": "a@b.c", "n": 1 }));
        // Another event id (associated data), another key, a flipped byte: errors.
        assert!(
            decrypt(
                &mut payload.clone(),
                &HashMap::from([("u1".to_owned(), Some(key.clone()))]),
                b"other"
            )
            .is_err()
        );
        // Other key bytes under the same key id: an error.
        let mut other = DataKey::generate();
        other.id = key.id;
        assert!(
            decrypt(
                &mut payload.clone(),
                &HashMap::from([("u1".to_owned(), Some(other))]),
                b"id"
            )
            .is_err()
        );
        // A value of an older key of the subject (forgotten, then a new key): erased, no error.
        let mut older = payload.clone();
        decrypt(
            &mut older,
            &HashMap::from([("u1".to_owned(), Some(DataKey::generate()))]),
            b"id",
        )
        .unwrap();
        unmark(&mut older);
        assert_eq!(older["email"], Value::Null);
        let data = payload["email"][MARKER]["data"]
            .as_str()
            .unwrap()
            .to_owned();
        let flipped = format!(
            "{}{}",
            if data.starts_with('0') { "1" } else { "0" },
            &data[1..]
        );
        let mut tampered = payload.clone();
        tampered["email"][MARKER]["data"] = Value::String(flipped);
        assert!(
            decrypt(
                &mut tampered,
                &HashMap::from([("u1".to_owned(), Some(key))]),
                b"id"
            )
            .is_err()
        );
        // No key: erased.
        let mut erased = payload;
        decrypt(
            &mut erased,
            &HashMap::from([("u1".to_owned(), None)]),
            b"id",
        )
        .unwrap();
        unmark(&mut erased);
        assert_eq!(erased, serde_json::json!({ "email": null, "n": 1 }));
    }
}
