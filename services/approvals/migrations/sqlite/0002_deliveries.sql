-- Notifications to people's channels (webhooks, Teams, Slack): one row per channel and event,
-- retried until delivered or given up (SQLite). Same shape as ../postgres.
CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    channel TEXT NOT NULL,
    event_seq BIGINT NOT NULL,
    approval_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_at BIGINT NOT NULL,
    status TEXT NOT NULL,
    last_error TEXT,
    UNIQUE (channel, event_seq)
);
CREATE INDEX deliveries_due ON deliveries (status, next_at);
-- How far the event log has been turned into deliveries.
CREATE TABLE delivery_cursor (
    id BIGINT PRIMARY KEY,
    seq BIGINT NOT NULL
);
INSERT INTO delivery_cursor (id, seq) VALUES (1, 0);
