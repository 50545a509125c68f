-- Console sign-ins (SPEC §13). The cookie's value is never stored, only its SHA-256.
CREATE TABLE console_sessions (
    token_hash    text PRIMARY KEY,
    holder        text NOT NULL,
    csrf_token    text NOT NULL,
    created_at    timestamptz NOT NULL,
    last_seen_at  timestamptz NOT NULL
);
-- The janitor deletes idle sessions.
CREATE INDEX console_sessions_by_last_seen ON console_sessions (last_seen_at);
