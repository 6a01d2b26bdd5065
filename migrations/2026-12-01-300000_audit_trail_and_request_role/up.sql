-- The audit trail outlives the accounts it names: an entry keeps the id and the email of whoever
-- made it, so deleting a user no longer tries to rewrite (and so fails on) their entries.
ALTER TABLE audit_events DROP CONSTRAINT audit_events_user_id_fkey;

-- Append-only, with one exception: audit_events_expire() may remove entries older than the cutoff
-- it sets for its own transaction, and only when run with the table owner's rights (never by the
-- request role). Any other UPDATE or DELETE, by anyone, is refused.
CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger AS $$
DECLARE
    cutoff text := current_setting('junction.audit_cutoff', true);
    caller text;
BEGIN
    IF TG_OP = 'DELETE' AND coalesce(cutoff, '') <> '' THEN
        GET DIAGNOSTICS caller = PG_CONTEXT;
        IF caller LIKE '%function %audit_events_expire(integer,integer) line %'
           AND OLD.occurred_at < cutoff::timestamptz
           AND pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'USAGE')
        THEN
            RETURN OLD;
        END IF;
    END IF;
    RAISE EXCEPTION 'audit entries cannot be changed or deleted';
END;
$$ LANGUAGE plpgsql;

-- The row trigger never sees TRUNCATE.
CREATE FUNCTION audit_events_refuse_truncate() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail cannot be truncated';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse_truncate();

-- Audit retention: removes at most max_rows entries older than keep_days, and records how many
-- in an entry of its own, in the same transaction. Only the owner may run it.
CREATE FUNCTION audit_events_expire(keep_days integer, max_rows integer) RETURNS bigint AS $$
DECLARE
    cutoff timestamptz;
    removed bigint;
BEGIN
    IF keep_days IS NULL OR keep_days < 1 OR max_rows IS NULL OR max_rows < 1 THEN
        RAISE EXCEPTION 'audit retention needs at least one day and one entry';
    END IF;
    -- Instances expiring at the same moment take turns: the later one finds nothing left.
    PERFORM pg_advisory_xact_lock(7242002);
    cutoff := date_trunc('second', now()) - make_interval(days => keep_days);
    PERFORM set_config('junction.audit_cutoff', cutoff::text, true);
    DELETE FROM audit_events
    WHERE id IN (
        SELECT id FROM audit_events
        WHERE occurred_at < cutoff
        ORDER BY occurred_at, id
        LIMIT max_rows
    );
    GET DIAGNOSTICS removed = ROW_COUNT;
    PERFORM set_config('junction.audit_cutoff', '', true);
    IF removed > 0 THEN
        INSERT INTO audit_events (user_label, action, entity_type, entity_id, entity_name, detail)
        VALUES (
            'Junction', 'purge', 'Audit trail', 'retention', 'Audit trail',
            format(
                'Removed %s %s older than %s days (before %s UTC), as JUNCTION_AUDIT_RETENTION_DAYS asks.',
                removed,
                CASE WHEN removed = 1 THEN 'entry' ELSE 'entries' END,
                keep_days,
                to_char(cutoff AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI')
            )
        );
    END IF;
    RETURN removed;
END;
$$ LANGUAGE plpgsql;
REVOKE ALL ON FUNCTION audit_events_expire(integer, integer) FROM PUBLIC;

-- Requests are served as a role that owns nothing (each pooled connection runs SET ROLE to it),
-- so the app cannot drop, truncate or rewrite what it must not. Roles belong to the cluster, not
-- the database: creating it tolerates another database (a test's, say) doing the same at the same
-- moment. Returns NULL when the role is ready, else why not; start-up calls it after every
-- migration run, so tables created later (by whichever role) get their grants, and a database
-- restored into a fresh cluster gets the role back.
CREATE FUNCTION junction_grant_request_role(role_name text) RETURNS text AS $$
DECLARE
    here text := current_schema();
    audit_owner oid := (SELECT relowner FROM pg_class WHERE oid = 'audit_events'::regclass);
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = role_name) THEN
        BEGIN
            EXECUTE format('CREATE ROLE %I NOLOGIN', role_name);
        EXCEPTION
            WHEN duplicate_object OR unique_violation THEN NULL;
            WHEN insufficient_privilege THEN
                RETURN format(
                    'the database user %s may not create roles; as a superuser, run once: CREATE ROLE %I NOLOGIN; GRANT %I TO %I;',
                    current_user, role_name, role_name, current_user
                );
        END;
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = role_name AND (rolsuper OR rolbypassrls))
       OR pg_has_role(role_name, audit_owner, 'USAGE')
    THEN
        RETURN format(
            'the role %s has the rights of a superuser or of the owner of the tables, so serving requests as it would protect nothing',
            role_name
        );
    END IF;
    -- PostgreSQL 16 names the right to SET ROLE on its own; before, membership gave it.
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
       AND NOT pg_has_role(
           current_user, role_name,
           CASE WHEN current_setting('server_version_num')::int >= 160000 THEN 'SET' ELSE 'MEMBER' END
       )
    THEN
        BEGIN
            EXECUTE format('GRANT %I TO %I', role_name, current_user);
        EXCEPTION
            WHEN unique_violation THEN NULL;
            WHEN insufficient_privilege OR invalid_grant_operation THEN
                RETURN format(
                    'the database user %s may not become %s; as a superuser, run once: GRANT %I TO %I;',
                    current_user, role_name, role_name, current_user
                );
        END;
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', here, role_name);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO %I', here, role_name);
    EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO %I', here, role_name);
    -- The audit trail is read and appended to, nothing else; the migrations table is read only.
    EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON audit_events FROM %I', role_name);
    EXECUTE format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON __diesel_schema_migrations FROM %I', role_name);
    EXECUTE format('REVOKE ALL ON FUNCTION audit_events_expire(integer, integer) FROM %I', role_name);
    -- Tables and sequences this user creates later get the same grants as they are created.
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO %I', here, role_name);
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT USAGE, SELECT ON SEQUENCES TO %I', here, role_name);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
REVOKE ALL ON FUNCTION junction_grant_request_role(text) FROM PUBLIC;

-- The role's name comes from the app (JUNCTION_DB_REQUEST_ROLE); a failure here is reported at
-- start-up, and never stops the migration.
DO $$
DECLARE
    problem text;
BEGIN
    problem := junction_grant_request_role(
        coalesce(nullif(current_setting('junction.request_role', true), ''), 'junction_request')
    );
    IF problem IS NOT NULL THEN
        RAISE WARNING 'requests will run as the database owner: %', problem;
    END IF;
EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'requests will run as the database owner: %', SQLERRM;
END;
$$;
