ALTER TABLE agent_job_chunks DROP CONSTRAINT agent_job_chunks_one_chunk;
ALTER TABLE agent_jobs DROP COLUMN chunks_stored;
