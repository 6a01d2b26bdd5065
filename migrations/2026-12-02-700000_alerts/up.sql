-- Who hears of a connection's changes of state, besides the default recipients set in the
-- environment: email addresses and webhooks. A webhook's URL is sealed like API keys (some
-- services, Slack's among them, put the credential in the path) and so is its signing secret;
-- only its host is kept readable, for the page.
CREATE TABLE alert_recipients (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    connection_id UUID NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('email', 'webhook')),
    -- An email recipient's address.
    address TEXT,
    host TEXT,
    url_ciphertext BYTEA,
    format TEXT CHECK (format IN ('json', 'slack')),
    secret_ciphertext BYTEA,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (connection_id, kind, address),
    CHECK (CASE kind
        WHEN 'email' THEN address IS NOT NULL
        ELSE address IS NULL AND host IS NOT NULL AND url_ciphertext IS NOT NULL AND format IS NOT NULL
    END)
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

-- Scheduled work yields to people's clicks at a network's rate budget: it never takes the last
-- `p_reserve` starts of a window, and never books a start ahead (that would queue later clicks
-- behind it). It takes a slot only when one is free now; otherwise it is told how long to wait
-- and asks again, booking nothing.
CREATE FUNCTION take_rate_slot_yielding(
    p_key TEXT,
    p_limit INTEGER,
    p_reserve INTEGER,
    p_window_ms BIGINT
) RETURNS TABLE (granted BOOLEAN, wait_ms BIGINT)
LANGUAGE plpgsql AS $$
DECLARE
    v_window INTERVAL := p_window_ms * INTERVAL '1 millisecond';
    v_share INTEGER := greatest(p_limit - p_reserve, 1);
    v_slots TIMESTAMPTZ[];
    v_now TIMESTAMPTZ;
    v_n INTEGER;
    v_at TIMESTAMPTZ;
BEGIN
    INSERT INTO rate_budgets (key) VALUES (p_key) ON CONFLICT (key) DO NOTHING;
    SELECT b.slots INTO v_slots FROM rate_budgets b WHERE b.key = p_key FOR UPDATE;
    v_now := clock_timestamp();
    v_n := coalesce(array_length(v_slots, 1), 0);
    v_at := v_now;
    IF v_n >= v_share THEN
        v_at := greatest(v_at, v_slots[v_n - v_share + 1] + v_window);
    END IF;
    IF v_n > 0 THEN
        v_at := greatest(v_at, v_slots[v_n]);
    END IF;
    IF v_at > v_now THEN
        RETURN QUERY SELECT FALSE, ceil(extract(epoch FROM v_at - v_now) * 1000)::BIGINT;
        RETURN;
    END IF;
    v_slots := v_slots || v_now;
    v_n := v_n + 1;
    -- The full limit's worth is kept, as take_rate_slot keeps it, for the clicks' reckoning.
    IF v_n > p_limit THEN
        v_slots := v_slots[v_n - p_limit + 1 : v_n];
    END IF;
    UPDATE rate_budgets SET slots = v_slots, updated_at = v_now WHERE key = p_key;
    RETURN QUERY SELECT TRUE, 0::BIGINT;
END;
$$;
