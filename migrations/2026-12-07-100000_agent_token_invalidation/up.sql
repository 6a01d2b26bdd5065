-- Every instance keeps, for a moment, which agent a token belongs to, so an agent's poll, call
-- slot and result do not each cost a round trip to authenticate. These notifications tell every
-- instance at once when that changes: a rotated token, a deactivation, a rename, a deletion.
-- An agent's heartbeat (`last_seen_at`, several times a minute) changes none of it.
CREATE FUNCTION notify_agent_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('junction_agents', OLD.id::text);
    ELSE
        PERFORM pg_notify('junction_agents', NEW.id::text);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER cloud_agents_notify_token_change
    AFTER UPDATE ON cloud_agents
    FOR EACH ROW
    WHEN (OLD.token_hash IS DISTINCT FROM NEW.token_hash
          OR OLD.is_active IS DISTINCT FROM NEW.is_active
          OR OLD.name IS DISTINCT FROM NEW.name
          OR OLD.is_builtin IS DISTINCT FROM NEW.is_builtin)
    EXECUTE FUNCTION notify_agent_change();

CREATE TRIGGER cloud_agents_notify_token_delete
    AFTER DELETE ON cloud_agents
    FOR EACH ROW EXECUTE FUNCTION notify_agent_change();
