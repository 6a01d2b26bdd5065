-- Trigram search over connection names; trusted since PostgreSQL 13, so the database owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE app_meta (
    key TEXT PRIMARY KEY,
    value BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE cloud_agents (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    is_builtin BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX cloud_agents_name_unique ON cloud_agents (lower(name));

-- The built-in cloud agent every connection can run on.
INSERT INTO cloud_agents (id, name, is_builtin)
VALUES ('00000000-0000-0000-0000-000000000001', 'IConduct', TRUE);

-- The built-in agent is referenced by default everywhere: refuse its deletion even from SQL.
CREATE FUNCTION cloud_agents_keep_builtin() RETURNS trigger AS $$
BEGIN
    IF OLD.is_builtin THEN
        RAISE EXCEPTION 'the built-in cloud agent % cannot be deleted', OLD.name;
    END IF;
    RETURN OLD;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER cloud_agents_keep_builtin BEFORE DELETE ON cloud_agents
    FOR EACH ROW EXECUTE FUNCTION cloud_agents_keep_builtin();

CREATE TABLE connections (
    id UUID PRIMARY KEY,
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    connector TEXT NOT NULL,
    is_active BOOLEAN NOT NULL DEFAULT FALSE,
    cloud_agent_id UUID NOT NULL REFERENCES cloud_agents (id),
    implementation_type TEXT NOT NULL,
    is_source BOOLEAN NOT NULL DEFAULT FALSE,
    is_target BOOLEAN NOT NULL DEFAULT FALSE,
    timeout_ms INTEGER NOT NULL DEFAULT 30000 CHECK (timeout_ms BETWEEN 1 AND 600000),
    query TEXT NOT NULL DEFAULT '',
    datetime_format TEXT,
    server_url TEXT NOT NULL,
    -- XChaCha20-Poly1305 ciphertext (version byte, nonce, sealed key); never the key itself.
    api_key_ciphertext BYTEA NOT NULL,
    api_key_changed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    version INTEGER NOT NULL DEFAULT 1
);

-- Names are unique regardless of case.
CREATE UNIQUE INDEX connections_name_unique ON connections (lower(name));
-- Search as you type: substring match on the name.
CREATE INDEX connections_name_trgm ON connections USING gin (lower(name) gin_trgm_ops);
-- One index per sortable column, each with id as the tie-breaker so pages are stable.
CREATE INDEX connections_connector_sort ON connections (connector, lower(name), id);
CREATE INDEX connections_agent_sort ON connections (cloud_agent_id, lower(name), id);
CREATE INDEX connections_updated_sort ON connections (updated_at, id);
CREATE INDEX connections_active_sort ON connections (is_active, lower(name), id);
CREATE INDEX connections_source_sort ON connections (is_source, lower(name), id);
CREATE INDEX connections_target_sort ON connections (is_target, lower(name), id);
