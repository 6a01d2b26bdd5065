-- Bulk runs: a person's bulk Test over many connections, queued in PostgreSQL so any instance
-- runs its items and the progress page survives reloads and restarts. No secret is stored here:
-- each item opens its connection's key when it runs, as the Test Connection button does.
CREATE TABLE bulk_runs (
    id UUID PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('test')),
    created_by UUID REFERENCES users (id) ON DELETE SET NULL,
    -- Who asked, as the test history and the audit trail name them.
    created_by_label TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at TIMESTAMPTZ,
    total INTEGER NOT NULL DEFAULT 0
);

-- No foreign key to connections: an item keeps its name and result after its connection is
-- purged for good.
CREATE TABLE bulk_run_items (
    id BIGSERIAL PRIMARY KEY,
    run_id UUID NOT NULL REFERENCES bulk_runs (id) ON DELETE CASCADE,
    connection_id UUID NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'running', 'passed', 'failed', 'skipped')),
    outcome_code TEXT,
    message TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    -- The claim of the instance running it: a fresh token per claim, and when it lapses.
    claim_token UUID,
    claimed_at TIMESTAMPTZ,
    lease_expires_at TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,
    UNIQUE (run_id, connection_id)
);

-- What the workers look for: waiting items, and running ones whose lease may have lapsed.
CREATE INDEX bulk_run_items_pending ON bulk_run_items (id)
    WHERE status IN ('queued', 'running');
