-- TUNE's rate limit is per network, whichever instance calls: the start times of a network's
-- latest calls are kept here, so every app instance paces against the same budget. A slot is
-- taken in one round trip (take_rate_slot below); a caller that must wait sleeps without
-- holding a connection.
CREATE TABLE rate_budgets (
    -- The network: host and network id (src/pacing; never a key).
    key TEXT PRIMARY KEY,
    -- When the latest calls start (at most `limit` of them, oldest first). An entry in the
    -- future is a call that was given a later start and waits for it.
    slots TIMESTAMPTZ[] NOT NULL DEFAULT '{}',
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Takes a call slot of `p_key`'s budget: at most `p_limit` call starts in any `p_window_ms`.
--
-- The call is given the earliest start that keeps every window within the limit: now, or when
-- the call `p_limit` places back leaves the window, and never before the latest start given
-- (starts stay in order). When that start is more than `p_max_wait_ms` away, the call is
-- refused and takes nothing. `granted` says which; `wait_ms` is the wait before the start.
-- The row lock makes concurrent callers on one network take turns, on every instance, and the
-- database's clock is the one clock they all share.
CREATE FUNCTION take_rate_slot(
    p_key TEXT,
    p_limit INTEGER,
    p_window_ms BIGINT,
    p_max_wait_ms BIGINT
) RETURNS TABLE (granted BOOLEAN, wait_ms BIGINT)
LANGUAGE plpgsql AS $$
DECLARE
    v_window INTERVAL := p_window_ms * INTERVAL '1 millisecond';
    v_slots TIMESTAMPTZ[];
    v_now TIMESTAMPTZ;
    v_n INTEGER;
    v_at TIMESTAMPTZ;
BEGIN
    INSERT INTO rate_budgets (key) VALUES (p_key) ON CONFLICT (key) DO NOTHING;
    SELECT b.slots INTO v_slots FROM rate_budgets b WHERE b.key = p_key FOR UPDATE;
    -- Read once the lock is held, so a caller that queued on the lock sees its own time.
    v_now := clock_timestamp();
    v_n := coalesce(array_length(v_slots, 1), 0);
    v_at := v_now;
    IF v_n >= p_limit THEN
        v_at := greatest(v_at, v_slots[v_n - p_limit + 1] + v_window);
    END IF;
    IF v_n > 0 THEN
        v_at := greatest(v_at, v_slots[v_n]);
    END IF;
    IF v_at - v_now > p_max_wait_ms * INTERVAL '1 millisecond' THEN
        RETURN QUERY SELECT FALSE, ceil(extract(epoch FROM v_at - v_now) * 1000)::BIGINT;
        RETURN;
    END IF;
    v_slots := v_slots || v_at;
    v_n := v_n + 1;
    IF v_n > p_limit THEN
        v_slots := v_slots[v_n - p_limit + 1 : v_n];
    END IF;
    UPDATE rate_budgets SET slots = v_slots, updated_at = v_now WHERE key = p_key;
    RETURN QUERY SELECT TRUE, ceil(extract(epoch FROM v_at - v_now) * 1000)::BIGINT;
END;
$$;
