//! The store's schema as a key store for personal data ([`es_core::personal::KeyStore`]).

use crate::classify::store_error;
use crate::store::PgStore;
use async_trait::async_trait;
use es_core::StoreError;
use es_core::personal::{DataKey, ForgetRequest, KeyStore};
use sqlx::{AssertSqlSafe, Row};

fn stored_key(subject: &str, id: &str, bytes: &[u8]) -> Result<DataKey, StoreError> {
    uuid::Uuid::parse_str(id)
        .ok()
        .and_then(|id| DataKey::from_parts(id, bytes))
        .ok_or_else(|| {
            StoreError::database(format!(
                "the stored key of subject {subject} is not a key id and 32 bytes"
            ))
        })
}

#[async_trait]
impl KeyStore for PgStore {
    async fn data_key(&self, subject: &str) -> Result<DataKey, StoreError> {
        let s = self.schema().quoted();
        let fresh = DataKey::generate();
        // Insert unless present and return what is stored: two racing writers get the same key.
        let row = sqlx::query(AssertSqlSafe(format!(
            "WITH new AS (INSERT INTO {s}.es_keys (subject, key_id, data_key) VALUES ($1, $2, $3)
                          ON CONFLICT (subject) DO NOTHING RETURNING key_id, data_key)
             SELECT key_id, data_key FROM new
             UNION ALL SELECT key_id, data_key FROM {s}.es_keys WHERE subject = $1
             LIMIT 1"
        )))
        .bind(subject)
        .bind(fresh.id.simple().to_string())
        .bind(&fresh.key[..])
        .fetch_optional(self.pool())
        .await
        .map_err(store_error)?;
        match row {
            Some(row) => {
                let id: String = row.try_get(0).map_err(store_error)?;
                let bytes: Vec<u8> = row.try_get(1).map_err(store_error)?;
                stored_key(subject, &id, &bytes)
            }
            // A concurrent insert not yet visible to this statement's snapshot: read again.
            None => self.existing_key(subject).await?.ok_or_else(|| {
                StoreError::database(format!(
                    "the key of subject {subject} vanished while created"
                ))
            }),
        }
    }

    async fn existing_key(&self, subject: &str) -> Result<Option<DataKey>, StoreError> {
        let s = self.schema().quoted();
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT key_id, data_key FROM {s}.es_keys WHERE subject = $1"
        )))
        .bind(subject)
        .fetch_optional(self.pool())
        .await
        .map_err(store_error)?;
        row.map(|row| {
            let id: String = row.try_get(0).map_err(store_error)?;
            let bytes: Vec<u8> = row.try_get(1).map_err(store_error)?;
            stored_key(subject, &id, &bytes)
        })
        .transpose()
    }

    async fn forget_key(&self, subject: &str, request: &ForgetRequest) -> Result<bool, StoreError> {
        let s = self.schema().quoted();
        let had_key: bool = sqlx::query_scalar(AssertSqlSafe(format!(
            "WITH gone AS (DELETE FROM {s}.es_keys WHERE subject = $1 RETURNING 1)
             INSERT INTO {s}.es_forgotten (subject, requested_by, reason, had_key)
             SELECT $1, $2, $3, EXISTS (SELECT 1 FROM gone) RETURNING had_key"
        )))
        .bind(subject)
        .bind(&request.requested_by)
        .bind(&request.reason)
        .fetch_one(self.pool())
        .await
        .map_err(store_error)?;
        Ok(had_key)
    }
}
