-- Scheduled tests: a due time per connection, claimed by whichever instance gets there first.
ALTER TABLE connections
    ADD COLUMN check_every TEXT NOT NULL DEFAULT 'off'
        CHECK (check_every IN ('off', '5m', '15m', '60m', 'daily')),
    ADD COLUMN check_query BOOLEAN NOT NULL DEFAULT FALSE,
    -- NULL when checks are off, or the connection is inactive or deleted; while a test runs it
    -- holds the claim's lease (when the claim expires if the instance running it dies).
    ADD COLUMN next_check_at TIMESTAMPTZ,
    ADD COLUMN failure_threshold INTEGER NOT NULL DEFAULT 2
        CHECK (failure_threshold BETWEEN 1 AND 20),
    -- Health, kept on the row so the list needs no join.
    ADD COLUMN health TEXT NOT NULL DEFAULT 'unknown'
        CHECK (health IN ('healthy', 'failing', 'degraded', 'unknown')),
    ADD COLUMN health_since TIMESTAMPTZ,
    ADD COLUMN failure_streak INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN streak_started_at TIMESTAMPTZ,
    ADD COLUMN streak_first_message TEXT;

CREATE INDEX connections_due ON connections (next_check_at) WHERE next_check_at IS NOT NULL;
CREATE INDEX connections_health ON connections (health, lower(name), id);

-- How often each setting tests; one definition for the scheduler's SQL.
CREATE FUNCTION check_interval(every TEXT) RETURNS INTERVAL AS $$
    SELECT CASE every
        WHEN '5m' THEN INTERVAL '5 minutes'
        WHEN '15m' THEN INTERVAL '15 minutes'
        WHEN '60m' THEN INTERVAL '60 minutes'
        WHEN 'daily' THEN INTERVAL '1 day'
    END
$$ LANGUAGE sql IMMUTABLE;

-- The due time follows Is Active, deletion and the setting, however the row is written (form,
-- toggle, import, SQL): inactive, deleted or off means no due time; becoming monitored means a
-- test now.
CREATE FUNCTION connections_follow_schedule() RETURNS trigger AS $$
BEGIN
    IF NOT NEW.is_active OR NEW.deleted_at IS NOT NULL OR NEW.check_every = 'off' THEN
        NEW.next_check_at := NULL;
    ELSIF TG_OP = 'INSERT' THEN
        NEW.next_check_at := COALESCE(NEW.next_check_at, now());
    ELSIF NEW.next_check_at IS NULL
        OR NEW.check_every IS DISTINCT FROM OLD.check_every
        OR NOT OLD.is_active
        OR OLD.deleted_at IS NOT NULL THEN
        NEW.next_check_at := CASE
            WHEN NEW.check_every IS DISTINCT FROM OLD.check_every AND OLD.is_active
                AND OLD.deleted_at IS NULL AND OLD.next_check_at IS NOT NULL
                THEN LEAST(OLD.next_check_at, now() + check_interval(NEW.check_every))
            ELSE now()
        END;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER connections_follow_schedule
    BEFORE INSERT OR UPDATE OF is_active, deleted_at, check_every, next_check_at ON connections
    FOR EACH ROW EXECUTE FUNCTION connections_follow_schedule();

ALTER TABLE connection_tests
    ADD COLUMN trigger TEXT NOT NULL DEFAULT 'manual' CHECK (trigger IN ('manual', 'schedule'));
-- The timeline reads a time window of one connection, whatever its age.
CREATE INDEX connection_tests_timeline ON connection_tests (connection_id, ran_at);

-- Raw runs are kept 30 days; older Test Connection runs are rolled up per connection and day
-- first. The sum (not the average) of the time taken, so that roll-ups add up exactly.
CREATE TABLE connection_test_daily (
    connection_id UUID NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    day DATE NOT NULL,
    runs INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    degraded INTEGER NOT NULL,
    sum_ms BIGINT NOT NULL,
    max_ms INTEGER NOT NULL,
    PRIMARY KEY (connection_id, day)
);
-- Finds what is past the retention window, whoever it belongs to.
CREATE INDEX connection_tests_age ON connection_tests (ran_at);
