-- A queued job wakes its agent's poll, on whichever instance holds it, from the inserting
-- statement itself: queueing is one round trip, where an insert and a NOTIFY sent together
-- needed a transaction of three (BEGIN, the pair, COMMIT).
CREATE FUNCTION notify_job_queued() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('junction_agent_work', NEW.agent_id::text);
    RETURN NULL;
END;
$$;

CREATE TRIGGER agent_jobs_notify_queued
    AFTER INSERT ON agent_jobs
    FOR EACH ROW EXECUTE FUNCTION notify_job_queued();
