-- Shared-audience lists and the sync runs that fill them (the technical
-- workflows importSharedAudience and, later, exportSharedAudience).

-- The audience a shared-audience list follows, as the library named it when
-- the list was saved or last synchronised.
ALTER TABLE lists ADD COLUMN segment_id BIGINT NULL;
ALTER TABLE lists ADD COLUMN segment_name TEXT NOT NULL DEFAULT '';
-- The segment's update time seen by the last sync: a remote library is
-- polled for a newer one.
ALTER TABLE lists ADD COLUMN segment_updated_at {{time}} NULL;
-- Minutes between scheduled syncs; 0 turns the schedule off.
ALTER TABLE lists ADD COLUMN sync_every_minutes INTEGER NOT NULL DEFAULT 60;
ALTER TABLE lists ADD COLUMN next_sync_at {{time}} NULL;
ALTER TABLE lists ADD COLUMN last_run_id BIGINT NULL;
CREATE INDEX lists_segment ON lists (segment_id);
CREATE INDEX lists_next_sync ON lists (next_sync_at);

CREATE TABLE sync_runs (
	id {{pk}},
	kind TEXT NOT NULL CHECK (kind IN ('import', 'export')),
	list_id BIGINT NULL REFERENCES lists (id) ON DELETE CASCADE,
	workflow_id BIGINT NULL,
	status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
	-- What asked for the run: created, manual, api, schedule, audienceChanged, retry.
	trigger TEXT NOT NULL,
	requested_by BIGINT NULL REFERENCES operators (id) ON DELETE SET NULL,
	retry_of BIGINT NULL,
	segment_id BIGINT NULL,
	data_source_id BIGINT NULL,
	queued_at {{time}} NOT NULL,
	started_at {{time}} NULL,
	finished_at {{time}} NULL,
	-- Refreshed every few seconds by the worker running it: a run whose
	-- heartbeat stopped belongs to a dead process and is taken over.
	heartbeat_at {{time}} NULL,
	attempts INTEGER NOT NULL DEFAULT 0,
	phase TEXT NOT NULL DEFAULT '',
	progress_done BIGINT NOT NULL DEFAULT 0,
	progress_total BIGINT NOT NULL DEFAULT 0,
	received BIGINT NOT NULL DEFAULT 0,
	reconciled BIGINT NOT NULL DEFAULT 0,
	not_recognized BIGINT NOT NULL DEFAULT 0,
	-- The reasons of not_recognized that are not "no recipient has it".
	malformed BIGINT NOT NULL DEFAULT 0,
	hash_mismatch BIGINT NOT NULL DEFAULT 0,
	added BIGINT NOT NULL DEFAULT 0,
	removed BIGINT NOT NULL DEFAULT 0,
	exported BIGINT NOT NULL DEFAULT 0,
	complement BIGINT NOT NULL DEFAULT 0,
	list_size BIGINT NOT NULL DEFAULT 0,
	error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sync_runs_list ON sync_runs (list_id, id);
CREATE INDEX sync_runs_status ON sync_runs (status, heartbeat_at);
-- At most one waiting run per list: asking again while one waits returns
-- it (this is what debounces a burst of audience changes).
CREATE UNIQUE INDEX sync_runs_one_queued ON sync_runs (list_id) WHERE status = 'queued' AND list_id IS NOT NULL;

-- A capped sample of the identifiers a run did not carry, with the reason.
CREATE TABLE sync_unrecognized (
	run_id BIGINT NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
	identifier TEXT NOT NULL,
	reason TEXT NOT NULL,
	PRIMARY KEY (run_id, identifier)
);
