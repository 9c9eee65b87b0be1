-- Approvals, votes and the append-only event log (SQLite). Same shape as ../postgres.
CREATE TABLE approvals (
    id TEXT PRIMARY KEY,
    digest TEXT NOT NULL,
    requester_subject TEXT NOT NULL,
    requester_issuer TEXT NOT NULL,
    requester TEXT NOT NULL,
    action TEXT NOT NULL,
    requirement TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    decide_by BIGINT NOT NULL,
    decided_at BIGINT,
    use_by BIGINT,
    consumed_at BIGINT,
    forced BIGINT NOT NULL DEFAULT 0,
    reason TEXT,
    receipt TEXT,
    created_by TEXT NOT NULL,
    version BIGINT NOT NULL DEFAULT 0
);
-- One pending approval per action and requester: a repeated create returns it.
CREATE UNIQUE INDEX approvals_one_pending ON approvals (digest, requester_subject, requester_issuer) WHERE status = 'pending';
CREATE INDEX approvals_by_status ON approvals (status, decide_by);
CREATE TABLE votes (
    approval_id TEXT NOT NULL REFERENCES approvals (id),
    subject TEXT NOT NULL,
    issuer TEXT NOT NULL,
    decision TEXT NOT NULL,
    reason TEXT,
    groups TEXT NOT NULL,
    at BIGINT NOT NULL,
    forced BIGINT NOT NULL DEFAULT 0,
    position BIGINT NOT NULL,
    PRIMARY KEY (approval_id, subject)
);
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    approval_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL,
    source TEXT
);
