-- Notifications in the console (the bell): an unread item for each failed
-- run and each sharp drop of a list's match rate, for the operator who owns
-- the list or the workflow.
CREATE TABLE notifications (
	id {{pk}},
	operator_id BIGINT NOT NULL REFERENCES operators (id) ON DELETE CASCADE,
	-- runFailed or matchRateDrop.
	kind TEXT NOT NULL,
	title TEXT NOT NULL,
	body TEXT NOT NULL DEFAULT '',
	-- The console page to open: the run, or the workflow.
	href TEXT NOT NULL DEFAULT '',
	run_id BIGINT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
	created_at {{time}} NOT NULL,
	read_at {{time}} NULL
);
CREATE INDEX notifications_operator ON notifications (operator_id, id);
CREATE INDEX notifications_unread ON notifications (operator_id) WHERE read_at IS NULL;
-- A run notifies its owner once, even when its end is observed twice.
CREATE UNIQUE INDEX notifications_once ON notifications (operator_id, run_id, kind) WHERE run_id IS NOT NULL;

-- Outgoing webhooks: one per operator (the events of their notifications)
-- and one global (every event), set by an administrator. The secret that
-- signs the bodies is sealed like the external accounts' secrets.
CREATE TABLE webhooks (
	id {{pk}},
	-- NULL for the global webhook.
	operator_id BIGINT NULL REFERENCES operators (id) ON DELETE CASCADE,
	url TEXT NOT NULL,
	secret_sealed TEXT NOT NULL,
	created_at {{time}} NOT NULL,
	updated_at {{time}} NOT NULL,
	-- What the last delivery attempt met, for the settings page.
	last_delivery_at {{time}} NULL,
	last_delivery TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX webhooks_owner ON webhooks ((COALESCE(operator_id, 0)));
