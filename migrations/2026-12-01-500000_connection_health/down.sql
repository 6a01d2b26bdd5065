DROP INDEX connection_tests_age;
DROP TABLE connection_test_daily;
DROP INDEX connection_tests_timeline;
ALTER TABLE connection_tests DROP COLUMN trigger;
DROP TRIGGER connections_follow_schedule ON connections;
DROP FUNCTION connections_follow_schedule();
DROP FUNCTION check_interval(TEXT);
DROP INDEX connections_health;
DROP INDEX connections_due;
ALTER TABLE connections
    DROP COLUMN streak_first_message,
    DROP COLUMN streak_started_at,
    DROP COLUMN failure_streak,
    DROP COLUMN health_since,
    DROP COLUMN health,
    DROP COLUMN failure_threshold,
    DROP COLUMN next_check_at,
    DROP COLUMN check_query,
    DROP COLUMN check_every;
