-- People who signed in to the web pages, as their identity provider verified them (PostgreSQL):
-- how a Slack user's verified email is matched to an approver. And where each approval's Slack
-- message is, so any replica can update it after a decision. Same shape as ../sqlite.
CREATE TABLE people (
    issuer TEXT NOT NULL,
    subject TEXT NOT NULL,
    email TEXT NOT NULL,
    kind TEXT NOT NULL,
    groups TEXT NOT NULL,
    login_at BIGINT NOT NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX people_by_email ON people (email);
CREATE TABLE slack_messages (
    approval_id TEXT NOT NULL,
    channel_name TEXT NOT NULL,
    channel TEXT NOT NULL,
    ts TEXT NOT NULL,
    PRIMARY KEY (approval_id, channel_name)
);
