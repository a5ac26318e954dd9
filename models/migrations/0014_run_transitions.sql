-- An export run's transitions as bitmaps, one row per batch: bit i of
-- targeted is set when recipient lo+1+i was targeted, of result when it was
-- exported (Complement is targeted without result). A million-recipient
-- export writes 250 KB here where one row per recipient wrote tens of MB,
-- which was half the time of the export.
--
-- The transitions of the runs before this migration are not carried over:
-- their counts stay in the run records, their sets can no longer be saved
-- as a list or downloaded.
CREATE TABLE run_transitions (
	run_id BIGINT NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
	lo BIGINT NOT NULL,
	hi BIGINT NOT NULL,
	targeted {{blob}} NOT NULL,
	result {{blob}} NOT NULL,
	PRIMARY KEY (run_id, lo)
);
DROP TABLE run_recipients;
