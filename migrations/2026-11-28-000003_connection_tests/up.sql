-- Every Test Connection / Test Query run: the outcome people saw, never a secret.
CREATE TABLE connection_tests (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    connection_id UUID NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('connection', 'query')),
    ran_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    user_label TEXT NOT NULL,
    outcome_code TEXT NOT NULL,
    message TEXT NOT NULL,
    hint TEXT,
    elapsed_ms INTEGER NOT NULL,
    close_to_timeout BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX connection_tests_recent ON connection_tests (connection_id, ran_at DESC, id DESC);

-- The last Test Connection, kept on the row so the list shows it without a join per row.
ALTER TABLE connections
    ADD COLUMN last_test_at TIMESTAMPTZ,
    ADD COLUMN last_test_code TEXT,
    ADD COLUMN last_test_close BOOLEAN NOT NULL DEFAULT FALSE;
