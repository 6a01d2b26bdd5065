DROP TRIGGER agent_jobs_notify_queued ON agent_jobs;
DROP FUNCTION notify_job_queued();
