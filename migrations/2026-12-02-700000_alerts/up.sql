-- Who hears of a connection's changes of state, besides the default recipients set in the
-- environment: email addresses and webhooks (a webhook's signing secret sealed like API keys).
CREATE TABLE alert_recipients (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    connection_id UUID NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('email', 'webhook')),
    address TEXT NOT NULL,
    format TEXT CHECK (format IN ('json', 'slack')),
    secret_ciphertext BYTEA,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (connection_id, kind, address),
    CHECK ((kind = 'webhook') = (format IS NOT NULL))
);

-- One row per alert and channel: emails go out as one message, each webhook on its own. Claimed
-- with SKIP LOCKED like scheduled tests, so each is sent once whichever instance gets there;
-- next_attempt_at is NULL once it is done, and holds the claim's lease while it is sent.
CREATE TABLE alert_deliveries (
    id BIGSERIAL PRIMARY KEY,
    connection_id UUID NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    recipient_id UUID REFERENCES alert_recipients (id) ON DELETE SET NULL,
    event TEXT NOT NULL CHECK (event IN ('failing', 'recovered', 'test')),
    channel TEXT NOT NULL CHECK (channel IN ('email', 'webhook')),
    -- What the page shows: the addresses, or the webhook's host.
    target TEXT NOT NULL,
    -- What the alert says, fixed when it was raised.
    facts JSONB NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'sent', 'failed', 'skipped')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ DEFAULT now(),
    -- The HTTP status or SMTP reply code of the last attempt; never a response body.
    status_code INTEGER,
    error TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at TIMESTAMPTZ
);
CREATE INDEX alert_deliveries_due ON alert_deliveries (next_attempt_at)
    WHERE next_attempt_at IS NOT NULL;
CREATE INDEX alert_deliveries_of_connection ON alert_deliveries (connection_id, id DESC);
