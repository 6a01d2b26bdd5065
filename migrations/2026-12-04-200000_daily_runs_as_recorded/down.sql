DROP TRIGGER connection_tests_count_in_day ON connection_tests;
DROP FUNCTION count_run_in_its_day();
-- Days that still have raw runs go back to being counted from them (a day that was partly
-- rolled up before loses that part).
DELETE FROM connection_test_daily d
WHERE EXISTS (
    SELECT 1 FROM connection_tests t
    WHERE t.connection_id = d.connection_id AND t.kind = 'connection'
      AND (t.ran_at AT TIME ZONE 'UTC')::date = d.day);
