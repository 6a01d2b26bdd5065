DROP FUNCTION take_rate_slot_yielding(TEXT, INTEGER, INTEGER, BIGINT);
DROP TABLE alert_deliveries;
DROP TABLE alert_recipients;
