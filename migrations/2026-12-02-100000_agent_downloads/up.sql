-- Downloads through corporate agents: the next chunk the server expects of a job, so a chunk
-- the agent sends again (its answer was lost) is not stored twice, and a row never holds more
-- than one chunk.
ALTER TABLE agent_jobs ADD COLUMN chunks_stored INTEGER NOT NULL DEFAULT 0 CHECK (chunks_stored >= 0);
ALTER TABLE agent_job_chunks
    ADD CONSTRAINT agent_job_chunks_one_chunk CHECK (octet_length(data) <= 65536);
