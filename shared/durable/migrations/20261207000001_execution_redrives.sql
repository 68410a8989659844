-- Redrives of stopped executions (Step Functions' RedriveExecution): how many times an execution
-- was started again from where it failed, and when last (milliseconds since the Unix epoch).
ALTER TABLE executions ADD COLUMN redrive_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE executions ADD COLUMN redrive_date BIGINT;
