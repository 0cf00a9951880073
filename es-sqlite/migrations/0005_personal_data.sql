-- Personal data (crypto-shredding): one data key per subject, and the record of every forgetting.
-- Forgetting deletes the key row (with secure_delete, see SqliteStore's KeyStore impl).
CREATE TABLE es_keys (
    subject    TEXT    PRIMARY KEY,
    key_id     TEXT    NOT NULL,   -- stored with every value encrypted with this key
    data_key   BLOB    NOT NULL,
    created_at INTEGER NOT NULL    -- microseconds since the Unix epoch, UTC
);

CREATE TABLE es_forgotten (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    subject      TEXT    NOT NULL,
    requested_by TEXT    NOT NULL,
    reason       TEXT    NOT NULL,
    had_key      INTEGER NOT NULL,
    forgotten_at INTEGER NOT NULL  -- microseconds since the Unix epoch, UTC
);
