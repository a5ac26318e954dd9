-- Uploaded files, stored in the database in chunks so that any worker
-- process can read them, and recipient imports with their staging rows and
-- rejected rows.
CREATE TABLE uploads (
	id {{pk}},
	file_name TEXT NOT NULL,
	size BIGINT NOT NULL DEFAULT 0,
	created_by BIGINT NULL REFERENCES operators (id) ON DELETE SET NULL,
	created_at {{time}} NOT NULL
);

CREATE TABLE upload_chunks (
	upload_id BIGINT NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
	seq INTEGER NOT NULL,
	data {{blob}} NOT NULL,
	PRIMARY KEY (upload_id, seq)
);

CREATE TABLE recipient_imports (
	id {{pk}},
	upload_id BIGINT NULL REFERENCES uploads (id) ON DELETE SET NULL,
	file_name TEXT NOT NULL,
	source TEXT NOT NULL DEFAULT 'console',
	settings_json TEXT NOT NULL,
	list_id BIGINT NULL REFERENCES lists (id) ON DELETE SET NULL,
	status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
	total_bytes BIGINT NOT NULL DEFAULT 0,
	processed_bytes BIGINT NOT NULL DEFAULT 0,
	lines_done BIGINT NOT NULL DEFAULT 0,
	rows_read BIGINT NOT NULL DEFAULT 0,
	created_count BIGINT NOT NULL DEFAULT 0,
	updated_count BIGINT NOT NULL DEFAULT 0,
	skipped_count BIGINT NOT NULL DEFAULT 0,
	rejected_count BIGINT NOT NULL DEFAULT 0,
	error TEXT NOT NULL DEFAULT '',
	created_by BIGINT NULL REFERENCES operators (id) ON DELETE SET NULL,
	queued_at {{time}} NOT NULL,
	started_at {{time}} NULL,
	finished_at {{time}} NULL
);
CREATE INDEX recipient_imports_queued ON recipient_imports (queued_at);

-- Rows of an import being applied; kept until the import ends so that an
-- e-mail seen in an earlier batch is recognised as a duplicate.
CREATE TABLE import_rows (
	import_id BIGINT NOT NULL REFERENCES recipient_imports (id) ON DELETE CASCADE,
	line BIGINT NOT NULL,
	email TEXT NOT NULL,
	first_name TEXT NOT NULL,
	last_name TEXT NOT NULL,
	crm_id TEXT NOT NULL,
	visitor_id TEXT NOT NULL,
	raw TEXT NOT NULL,
	-- new, then done, skipped or rejected (with its reason).
	status TEXT NOT NULL DEFAULT 'new',
	reason TEXT NULL,
	recipient_id BIGINT NULL,
	changed BOOLEAN NOT NULL DEFAULT FALSE,
	PRIMARY KEY (import_id, line)
);
CREATE INDEX import_rows_email ON import_rows (import_id, email, line);
CREATE INDEX import_rows_crm ON import_rows (import_id, crm_id, line);

CREATE TABLE import_rejections (
	import_id BIGINT NOT NULL REFERENCES recipient_imports (id) ON DELETE CASCADE,
	line BIGINT NOT NULL,
	reason TEXT NOT NULL,
	raw TEXT NOT NULL,
	PRIMARY KEY (import_id, line)
);
