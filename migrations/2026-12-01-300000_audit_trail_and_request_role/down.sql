-- The role itself stays: it belongs to the cluster, and other databases may use it.
DO $$
DECLARE
    role_name text := coalesce(nullif(current_setting('junction.request_role', true), ''), 'junction_request');
    here text := current_schema();
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = role_name) THEN
        EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I REVOKE ALL ON TABLES FROM %I', here, role_name);
        EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I REVOKE ALL ON SEQUENCES FROM %I', here, role_name);
        EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM %I', here, role_name);
        EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA %I FROM %I', here, role_name);
        EXECUTE format('REVOKE USAGE ON SCHEMA %I FROM %I', here, role_name);
    END IF;
END;
$$;
DROP FUNCTION junction_grant_request_role(text);

DROP FUNCTION audit_events_expire(integer, integer);
DROP TRIGGER audit_events_no_truncate ON audit_events;
DROP FUNCTION audit_events_refuse_truncate();
CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit entries cannot be changed or deleted';
END;
$$ LANGUAGE plpgsql;

-- NOT VALID: entries of users deleted meanwhile keep their id.
ALTER TABLE audit_events ADD CONSTRAINT audit_events_user_id_fkey
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE SET NULL NOT VALID;
