-- Corporate agents become real processes: a token to call in with, a status, and a queue of
-- work in PostgreSQL that any app instance can hand out and answer.

ALTER TABLE cloud_agents
    -- SHA-256 of the agent's 32-byte random token; the token itself is shown once, never stored.
    ADD COLUMN token_hash BYTEA UNIQUE,
    ADD COLUMN token_created_at TIMESTAMPTZ,
    ADD COLUMN is_active BOOLEAN NOT NULL DEFAULT TRUE,
    ADD COLUMN last_seen_at TIMESTAMPTZ,
    ADD COLUMN agent_version TEXT,
    ADD COLUMN hostname TEXT,
    ADD COLUMN remote_addr TEXT,
    -- The name as compared: case, invisible characters, compatibility forms and look-alikes
    -- folded (computed by the app, which fills it for older rows at start-up).
    ADD COLUMN name_key TEXT;
CREATE UNIQUE INDEX cloud_agents_name_key_unique ON cloud_agents (name_key);
UPDATE cloud_agents SET name_key = 'iconduct' WHERE is_builtin;
-- Agents made before: their names were unique ignoring case; the app folds further from now on.
UPDATE cloud_agents SET name_key = lower(btrim(name)) WHERE NOT is_builtin;

CREATE TABLE agent_jobs (
    id UUID PRIMARY KEY,
    agent_id UUID NOT NULL REFERENCES cloud_agents (id) ON DELETE CASCADE,
    -- Test of unsaved settings (later) has none; a deleted connection takes its jobs along.
    connection_id UUID REFERENCES connections (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('test_connection', 'test_query', 'export_csv')),
    -- 0: a person waits for it; larger: background work.
    priority SMALLINT NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
    -- The work: connector, non-secret settings, query. Never the key.
    payload JSONB NOT NULL,
    -- The connection's key sealed under `agent_jobs/{id}/secret`; emptied when the job ends.
    secret_sealed BYTEA,
    attempts INTEGER NOT NULL DEFAULT 0,
    lease_token UUID,
    lease_expires_at TIMESTAMPTZ,
    -- A download sent its first chunk: it is never run again.
    output_started BOOLEAN NOT NULL DEFAULT FALSE,
    queued_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    claimed_at TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,
    result JSONB,
    error TEXT,
    -- How long the agent itself took, as it reported.
    agent_ms INTEGER,
    queued_by TEXT NOT NULL,
    CHECK (status IN ('queued', 'running') OR secret_sealed IS NULL)
);
-- The next job of an agent, a person's clicks first.
CREATE INDEX agent_jobs_claim ON agent_jobs (agent_id, priority, queued_at) WHERE status = 'queued';
-- Leases to reap.
CREATE INDEX agent_jobs_running ON agent_jobs (lease_expires_at) WHERE status = 'running';
CREATE INDEX agent_jobs_finished ON agent_jobs (finished_at) WHERE finished_at IS NOT NULL;

-- One chunk of a download per row, deleted once the downloading request has sent it.
CREATE TABLE agent_job_chunks (
    job_id UUID NOT NULL REFERENCES agent_jobs (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL CHECK (seq >= 0),
    data BYTEA NOT NULL,
    PRIMARY KEY (job_id, seq)
);
