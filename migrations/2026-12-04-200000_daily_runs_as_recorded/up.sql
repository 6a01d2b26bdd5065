-- The uptime timeline read every run of the last 30 days at each view and after each Test
-- Connection (43,200 rows for a connection tested every minute); it now reads one row a day,
-- counted as each run is recorded. Raw runs past retention are then only removed.
CREATE FUNCTION count_run_in_its_day() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO connection_test_daily AS d
        (connection_id, day, runs, failures, degraded, sum_ms, max_ms)
    VALUES (
        NEW.connection_id,
        (NEW.ran_at AT TIME ZONE 'UTC')::date,
        1,
        (NEW.outcome_code NOT IN ('success', 'rate_limited'))::int,
        (NEW.outcome_code = 'rate_limited'
            OR (NEW.outcome_code = 'success' AND NEW.close_to_timeout))::int,
        NEW.elapsed_ms,
        NEW.elapsed_ms)
    ON CONFLICT (connection_id, day) DO UPDATE SET
        runs = d.runs + 1,
        failures = d.failures + excluded.failures,
        degraded = d.degraded + excluded.degraded,
        sum_ms = d.sum_ms + excluded.sum_ms,
        max_ms = GREATEST(d.max_ms, excluded.max_ms);
    RETURN NULL;
END;
$$;

CREATE TRIGGER connection_tests_count_in_day
    AFTER INSERT ON connection_tests
    FOR EACH ROW WHEN (NEW.kind = 'connection')
    EXECUTE FUNCTION count_run_in_its_day();

-- The runs kept so far join the days already rolled up (whose runs are gone).
INSERT INTO connection_test_daily AS d
    (connection_id, day, runs, failures, degraded, sum_ms, max_ms)
SELECT connection_id, (ran_at AT TIME ZONE 'UTC')::date, count(*),
       count(*) FILTER (WHERE outcome_code NOT IN ('success', 'rate_limited')),
       count(*) FILTER (WHERE outcome_code = 'rate_limited'
                        OR (outcome_code = 'success' AND close_to_timeout)),
       sum(elapsed_ms), max(elapsed_ms)
FROM connection_tests
WHERE kind = 'connection'
GROUP BY 1, 2
ON CONFLICT (connection_id, day) DO UPDATE SET
    runs = d.runs + excluded.runs,
    failures = d.failures + excluded.failures,
    degraded = d.degraded + excluded.degraded,
    sum_ms = d.sum_ms + excluded.sum_ms,
    max_ms = GREATEST(d.max_ms, excluded.max_ms);
