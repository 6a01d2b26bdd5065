DROP INDEX connections_deleted;
ALTER TABLE connections DROP COLUMN deleted_at;
DROP TRIGGER audit_events_append_only ON audit_events;
DROP FUNCTION audit_events_append_only();
DROP TABLE audit_events;
DROP TABLE sign_in_failures;
DROP TABLE sessions;
DROP TABLE users;
