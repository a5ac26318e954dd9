-- Batch files of the embedded audience library. One row per file (a part of
-- an upload: ftp_dpm_<DPID>_<time>.<mode> with an optional split number) and
-- one per user of that file, so that the rows-per-user limit and an
-- .overwrite's "replace each listed user once" hold across the batches of a
-- file and across the split files of one upload. Kept for a day.
CREATE TABLE lib_batch_parts (
	id {{pk}},
	upload TEXT NOT NULL,
	part INTEGER NOT NULL,
	processed_at {{time}} NOT NULL,
	UNIQUE (upload, part)
);
CREATE INDEX lib_batch_parts_processed ON lib_batch_parts (processed_at);

CREATE TABLE lib_batch_users (
	part_id BIGINT NOT NULL REFERENCES lib_batch_parts (id) ON DELETE CASCADE,
	member TEXT NOT NULL,
	-- The user's rows in this file (valid user ID, whatever their keys).
	row_count INTEGER NOT NULL,
	-- 1 once an .overwrite replaced the user's memberships.
	listed INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (part_id, member)
);
