-- Targeting workflows: a Query activity, an "Update shared audience"
-- activity and its Result and Complement transitions; the exportSharedAudience
-- runs that send them to the audience library.
CREATE TABLE workflows (
	id {{pk}},
	label TEXT NOT NULL,
	internal_name TEXT NOT NULL UNIQUE,
	description TEXT NOT NULL DEFAULT '',
	-- The Query activity: its label and its conditions as JSON
	-- [{"field","op","value"}], AND-ed.
	has_query BOOLEAN NOT NULL DEFAULT FALSE,
	query_label TEXT NOT NULL DEFAULT 'Query',
	conditions TEXT NOT NULL DEFAULT '[]',
	-- The "Update shared audience" activity.
	has_export BOOLEAN NOT NULL DEFAULT FALSE,
	export_label TEXT NOT NULL DEFAULT 'Save as shared audience',
	segment_id BIGINT NULL,
	segment_name TEXT NOT NULL DEFAULT '',
	-- A segment to create in the library on the first run.
	new_segment_name TEXT NOT NULL DEFAULT '',
	data_source_id BIGINT NULL REFERENCES amc_data_sources (id),
	result_label TEXT NOT NULL DEFAULT 'Result',
	complement_enabled BOOLEAN NOT NULL DEFAULT FALSE,
	complement_label TEXT NOT NULL DEFAULT 'Complement',
	-- once, daily (at schedule_time, HH:MM UTC) or hours (every schedule_hours).
	schedule_kind TEXT NOT NULL DEFAULT 'once' CHECK (schedule_kind IN ('once', 'daily', 'hours')),
	schedule_time TEXT NOT NULL DEFAULT '',
	schedule_hours INTEGER NOT NULL DEFAULT 0,
	next_run_at {{time}} NULL,
	last_run_id BIGINT NULL,
	created_by BIGINT NULL REFERENCES operators (id) ON DELETE SET NULL,
	created_at {{time}} NOT NULL,
	updated_at {{time}} NOT NULL
);
CREATE INDEX workflows_updated ON workflows (updated_at);
CREATE INDEX workflows_next_run ON workflows (next_run_at);

-- Where an interrupted export resumes: the recipient id its last committed
-- batch ended at.
ALTER TABLE sync_runs ADD COLUMN resume_after BIGINT NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX sync_runs_one_queued_workflow ON sync_runs (workflow_id) WHERE status = 'queued' AND workflow_id IS NOT NULL;
CREATE INDEX sync_runs_workflow ON sync_runs (workflow_id, id);

-- The recipients of an export run's transitions: Result (in_result) and
-- Complement, kept so that either can be saved as a list or downloaded.
CREATE TABLE run_recipients (
	run_id BIGINT NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
	recipient_id BIGINT NOT NULL,
	in_result BOOLEAN NOT NULL,
	PRIMARY KEY (run_id, recipient_id)
-- One B-tree on SQLite: a million-recipient export writes its rows once.
) {{without_rowid}};
