ALTER TABLE connections
    DROP COLUMN last_test_at,
    DROP COLUMN last_test_code,
    DROP COLUMN last_test_close;
DROP TABLE connection_tests;
