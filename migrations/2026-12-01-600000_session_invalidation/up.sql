-- Every instance keeps signed-in sessions in memory for a moment; these notifications tell all of
-- them at once when a session ends or a user's access changes, so a sign-out, a deactivation or a
-- role change holds everywhere at once rather than when the memory expires. A session's row
-- changes at most once a minute (its idle clock), so notifying on every change costs little.
CREATE FUNCTION notify_session_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'sessions' AND TG_OP = 'DELETE' THEN
        PERFORM pg_notify('junction_sessions', OLD.user_id::text);
        RETURN OLD;
    ELSIF TG_TABLE_NAME = 'sessions' THEN
        PERFORM pg_notify('junction_sessions', NEW.user_id::text);
        RETURN NEW;
    END IF;
    PERFORM pg_notify('junction_sessions', NEW.id::text);
    RETURN NEW;
END;
$$;

CREATE TRIGGER sessions_notify_change
    AFTER UPDATE OR DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION notify_session_change();

-- Only what a session grants: a sign-in's `last_sign_in_at` stamp must not empty every cache.
CREATE TRIGGER users_notify_change
    AFTER UPDATE ON users
    FOR EACH ROW
    WHEN (OLD.email IS DISTINCT FROM NEW.email
          OR OLD.is_active IS DISTINCT FROM NEW.is_active
          OR OLD.is_system_admin IS DISTINCT FROM NEW.is_system_admin
          OR OLD.is_connections_admin IS DISTINCT FROM NEW.is_connections_admin
          OR OLD.is_agents_admin IS DISTINCT FROM NEW.is_agents_admin)
    EXECUTE FUNCTION notify_session_change();
