-- The evidence ledger (SQLite). Same shape as ../postgres. Versions from 1001: the approval
-- service's migrations share the database and the migrations table.
CREATE TABLE evidence_entries (
    idx BIGINT PRIMARY KEY,
    kind TEXT NOT NULL,
    stream TEXT NOT NULL,
    seq BIGINT NOT NULL,
    data TEXT NOT NULL,
    received_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX evidence_entries_by_stream ON evidence_entries (stream, seq);
CREATE TABLE evidence_hashes (
    idx BIGINT PRIMARY KEY,
    hash TEXT NOT NULL
);
CREATE TABLE evidence_head (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    size BIGINT NOT NULL
);
INSERT INTO evidence_head (id, size) VALUES (1, 0);
CREATE TABLE evidence_checkpoints (
    size BIGINT PRIMARY KEY,
    root TEXT NOT NULL,
    note TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE evidence_policies (
    version TEXT PRIMARY KEY,
    document TEXT NOT NULL,
    received_at BIGINT NOT NULL
);
