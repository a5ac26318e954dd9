-- The console and worker processes sharing the database, for the
-- diagnostics page: each one beats seen_at every few seconds.
CREATE TABLE processes (
	id TEXT PRIMARY KEY,
	host TEXT NOT NULL,
	pid INTEGER NOT NULL,
	-- "console", "worker" or "console+worker".
	role TEXT NOT NULL,
	started_at {{time}} NOT NULL,
	seen_at {{time}} NOT NULL,
	stopped_at {{time}} NULL
);
CREATE INDEX processes_seen ON processes (seen_at);
