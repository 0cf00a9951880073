//! The SQLite file as a key store for personal data ([`es_core::personal::KeyStore`]).

use crate::classify::store_error;
use crate::row::micros;
use crate::store::SqliteStore;
use async_trait::async_trait;
use chrono::Utc;
use es_core::StoreError;
use es_core::personal::{DataKey, ForgetRequest, KeyStore};
use sqlx::Row;

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
impl KeyStore for SqliteStore {
    async fn data_key(&self, subject: &str) -> Result<DataKey, StoreError> {
        let fresh = DataKey::generate();
        // Insert unless present, then read what is stored: two racing writers get the same key.
        sqlx::query(
            "INSERT INTO es_keys (subject, key_id, data_key, created_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (subject) DO NOTHING",
        )
        .bind(subject)
        .bind(fresh.id.simple().to_string())
        .bind(&fresh.key[..])
        .bind(micros(Utc::now()))
        .execute(self.pool())
        .await
        .map_err(store_error)?;
        match self.existing_key(subject).await? {
            Some(key) => Ok(key),
            None => Err(StoreError::database(format!(
                "the key of subject {subject} was deleted while it was created"
            ))),
        }
    }

    async fn existing_key(&self, subject: &str) -> Result<Option<DataKey>, StoreError> {
        let row = sqlx::query("SELECT key_id, data_key FROM es_keys WHERE subject = ?1")
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
        let mut conn = self.pool().acquire().await.map_err(store_error)?;
        // Overwrite the deleted key's bytes in the file instead of leaving them in a free page.
        sqlx::query("PRAGMA secure_delete = ON")
            .execute(&mut *conn)
            .await
            .map_err(store_error)?;
        let mut tx = sqlx::Connection::begin(&mut *conn)
            .await
            .map_err(store_error)?;
        let deleted = sqlx::query("DELETE FROM es_keys WHERE subject = ?1")
            .bind(subject)
            .execute(&mut *tx)
            .await
            .map_err(store_error)?
            .rows_affected();
        sqlx::query(
            "INSERT INTO es_forgotten (subject, requested_by, reason, had_key, forgotten_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .bind(subject)
        .bind(&request.requested_by)
        .bind(&request.reason)
        .bind(deleted > 0)
        .bind(micros(Utc::now()))
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        tx.commit().await.map_err(store_error)?;
        // The WAL still holds the page images with the key: write them back and truncate it.
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut *conn)
            .await
            .map_err(store_error)?;
        Ok(deleted > 0)
    }
}
