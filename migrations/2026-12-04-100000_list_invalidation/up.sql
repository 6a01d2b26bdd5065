-- Every instance keeps the Connections list's recent pages in memory for a moment; these
-- notifications tell all of them when what a page shows may have changed. A change to a row's
-- last test result or health (what scheduled tests write all day) names the row, so only the
-- pages holding it, or filtering on results, are dropped; any other change drops every page.
-- The scheduler's own bookkeeping (`next_check_at`) shows on no page and notifies nothing.
CREATE FUNCTION notify_list_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    before connections;
    after connections;
BEGIN
    IF TG_TABLE_NAME = 'connections' AND TG_OP = 'UPDATE' THEN
        before := OLD;
        after := NEW;
        before.next_check_at := NULL;
        after.next_check_at := NULL;
        IF before IS NOT DISTINCT FROM after THEN
            RETURN NULL;
        END IF;
        before.last_test_at := NULL;
        after.last_test_at := NULL;
        before.last_test_code := NULL;
        after.last_test_code := NULL;
        before.last_test_close := false;
        after.last_test_close := false;
        before.health := '';
        after.health := '';
        before.health_since := NULL;
        after.health_since := NULL;
        before.failure_streak := 0;
        after.failure_streak := 0;
        before.streak_started_at := NULL;
        after.streak_started_at := NULL;
        before.streak_first_message := NULL;
        after.streak_first_message := NULL;
        IF before IS NOT DISTINCT FROM after THEN
            PERFORM pg_notify('junction_lists', NEW.id::text);
            RETURN NULL;
        END IF;
    END IF;
    -- Identical payloads in one transaction are sent once: an import of 10,000 rows is one.
    PERFORM pg_notify('junction_lists', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER connections_notify_list_change
    AFTER INSERT OR UPDATE OR DELETE ON connections
    FOR EACH ROW EXECUTE FUNCTION notify_list_change();

CREATE TRIGGER connections_notify_list_truncate
    AFTER TRUNCATE ON connections
    FOR EACH STATEMENT EXECUTE FUNCTION notify_list_change();

-- Pages show agents' names (and offer them as a filter); an agent's heartbeat shows on none.
CREATE TRIGGER cloud_agents_notify_list_change
    AFTER INSERT OR DELETE ON cloud_agents
    FOR EACH STATEMENT EXECUTE FUNCTION notify_list_change();

CREATE TRIGGER cloud_agents_notify_list_rename
    AFTER UPDATE ON cloud_agents
    FOR EACH ROW
    WHEN (OLD.name IS DISTINCT FROM NEW.name)
    EXECUTE FUNCTION notify_list_change();
