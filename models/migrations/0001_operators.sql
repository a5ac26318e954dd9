-- Operators of the console, their entitlements, their sessions, sign-in
-- attempts (for throttling) and the audit log of every administrative change.
CREATE TABLE operators (
	id {{pk}},
	login TEXT NOT NULL UNIQUE,
	name TEXT NOT NULL DEFAULT '',
	email TEXT NOT NULL DEFAULT '',
	role TEXT NOT NULL CHECK (role IN ('admin', 'marketer')),
	password_hash TEXT NOT NULL,
	disabled_at {{time}} NULL,
	last_login_at {{time}} NULL,
	created_at {{time}} NOT NULL,
	updated_at {{time}} NOT NULL
);

CREATE TABLE operator_entitlements (
	operator_id BIGINT NOT NULL REFERENCES operators (id) ON DELETE CASCADE,
	entitlement TEXT NOT NULL CHECK (entitlement IN ('audience-library', 'aam-admin')),
	granted_at {{time}} NOT NULL,
	granted_by TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (operator_id, entitlement)
);

CREATE TABLE sessions (
	id_hash TEXT PRIMARY KEY,
	operator_id BIGINT NOT NULL REFERENCES operators (id) ON DELETE CASCADE,
	created_at {{time}} NOT NULL,
	last_seen_at {{time}} NOT NULL,
	expires_at {{time}} NOT NULL,
	ip TEXT NOT NULL DEFAULT '',
	user_agent TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_operator ON sessions (operator_id);

CREATE TABLE login_attempts (
	id {{pk}},
	login TEXT NOT NULL,
	ip TEXT NOT NULL,
	succeeded BOOLEAN NOT NULL,
	at {{time}} NOT NULL
);
CREATE INDEX login_attempts_login ON login_attempts (login, at);
CREATE INDEX login_attempts_ip ON login_attempts (ip, at);

CREATE TABLE audit_events (
	id {{pk}},
	at {{time}} NOT NULL,
	actor_id BIGINT NULL REFERENCES operators (id) ON DELETE SET NULL,
	actor TEXT NOT NULL,
	action TEXT NOT NULL,
	target_type TEXT NOT NULL,
	target_id TEXT NOT NULL DEFAULT '',
	target_label TEXT NOT NULL DEFAULT '',
	summary TEXT NOT NULL DEFAULT '',
	before_json TEXT NOT NULL DEFAULT '',
	after_json TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX audit_events_target ON audit_events (target_type, target_id);
