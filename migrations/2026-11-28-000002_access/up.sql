CREATE TABLE users (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    email TEXT NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    -- Argon2id PHC string; never the password.
    password_hash TEXT NOT NULL,
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    is_system_admin BOOLEAN NOT NULL DEFAULT FALSE,
    is_connections_admin BOOLEAN NOT NULL DEFAULT FALSE,
    is_agents_admin BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_sign_in_at TIMESTAMPTZ
);
CREATE UNIQUE INDEX users_email_unique ON users (lower(email));

-- Server-side sessions, so any app instance behind a load balancer can serve any request.
-- Only a hash of the session token is stored: a leaked table does not sign anyone in.
CREATE TABLE sessions (
    token_hash BYTEA PRIMARY KEY,
    user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_seen_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    ip TEXT
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_last_seen ON sessions (last_seen_at);

-- Failed sign-ins, to slow down guessing per account and per address.
CREATE TABLE sign_in_failures (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subject TEXT NOT NULL,
    failed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX sign_in_failures_subject ON sign_in_failures (subject, failed_at);

-- The audit trail: append-only from the app's side.
CREATE TABLE audit_events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    user_id UUID REFERENCES users (id) ON DELETE SET NULL,
    user_label TEXT NOT NULL,
    ip TEXT,
    action TEXT NOT NULL,
    entity_type TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    entity_name TEXT NOT NULL,
    entity_version INTEGER,
    -- [{"field": "...", "before": "...", "after": "..."}]; secrets appear as fingerprints only.
    changes JSONB NOT NULL DEFAULT '[]'::jsonb,
    detail TEXT
);
CREATE INDEX audit_events_time ON audit_events (occurred_at DESC, id DESC);
CREATE INDEX audit_events_entity ON audit_events (entity_type, entity_id, occurred_at DESC);
CREATE INDEX audit_events_name ON audit_events USING gin (lower(entity_name) gin_trgm_ops);
CREATE INDEX audit_events_user ON audit_events (lower(user_label));
CREATE INDEX audit_events_action ON audit_events (action, occurred_at DESC);

-- Entries cannot be changed once written, whatever the app does.
CREATE FUNCTION audit_events_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit entries cannot be changed or deleted';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();

-- Soft delete: a deleted connection can be restored for 30 days; its name stays reserved.
ALTER TABLE connections ADD COLUMN deleted_at TIMESTAMPTZ;
CREATE INDEX connections_deleted ON connections (deleted_at) WHERE deleted_at IS NOT NULL;
