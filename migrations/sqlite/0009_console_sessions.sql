-- Console sign-ins (SPEC §13). The cookie's value is never stored, only its SHA-256.
CREATE TABLE console_sessions (
    token_hash    TEXT PRIMARY KEY,
    holder        TEXT NOT NULL,
    csrf_token    TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL
);
CREATE INDEX console_sessions_by_last_seen ON console_sessions (last_seen_at);
