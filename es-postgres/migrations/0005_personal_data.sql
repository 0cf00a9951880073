-- Personal data (crypto-shredding): one data key per subject, and the record of every forgetting.
-- Forgetting deletes the key row; the dead tuple is gone from the table's files after VACUUM.
CREATE TABLE es_keys (
    subject    text        PRIMARY KEY,
    key_id     text        NOT NULL,   -- stored with every value encrypted with this key
    data_key   bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE es_forgotten (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subject      text        NOT NULL,
    requested_by text        NOT NULL,
    reason       text        NOT NULL,
    had_key      boolean     NOT NULL,
    forgotten_at timestamptz NOT NULL DEFAULT now()
);
