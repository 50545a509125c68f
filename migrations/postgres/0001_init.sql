-- Orgs, API keys and the audit log: the base every later table hangs off.
CREATE TABLE orgs (
    slug        text PRIMARY KEY,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL
);

CREATE TABLE api_keys (
    id          text PRIMARY KEY,
    org         text NOT NULL REFERENCES orgs (slug),
    name        text NOT NULL,
    scopes      text[] NOT NULL,
    token_hash  text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);
CREATE INDEX api_keys_by_org ON api_keys (org, id);

CREATE TABLE audit_log (
    id       text PRIMARY KEY,
    org      text NOT NULL REFERENCES orgs (slug),
    actor    text NOT NULL,
    action   text NOT NULL,
    target   text NOT NULL,
    details  jsonb NOT NULL,
    at       timestamptz NOT NULL
);
CREATE INDEX audit_log_by_org ON audit_log (org, id);
