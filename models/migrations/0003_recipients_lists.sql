-- Recipients with their tracked visitor IDs, and recipient lists.
CREATE TABLE recipients (
	id {{pk}},
	-- Stored lower-cased: e-mail addresses are unique regardless of case.
	email TEXT NOT NULL,
	first_name TEXT NOT NULL DEFAULT '',
	last_name TEXT NOT NULL DEFAULT '',
	-- NULL when unset, so that uniqueness applies only to CRM IDs that exist.
	crm_id TEXT NULL,
	created_at {{time}} NOT NULL,
	updated_at {{time}} NOT NULL
);
CREATE UNIQUE INDEX recipients_email ON recipients (email);
CREATE UNIQUE INDEX recipients_crm_id ON recipients (crm_id);
CREATE INDEX recipients_updated ON recipients (updated_at);

CREATE TABLE recipient_visitor_ids (
	recipient_id BIGINT NOT NULL REFERENCES recipients (id) ON DELETE CASCADE,
	visitor_id TEXT NOT NULL,
	first_seen_at {{time}} NOT NULL,
	PRIMARY KEY (recipient_id, visitor_id)
);
CREATE INDEX recipient_visitor_ids_visitor ON recipient_visitor_ids (visitor_id);

CREATE TABLE lists (
	id {{pk}},
	label TEXT NOT NULL,
	internal_name TEXT NOT NULL UNIQUE,
	type TEXT NOT NULL CHECK (type IN ('regular', 'sharedAudience')),
	description TEXT NOT NULL DEFAULT '',
	data_source_id BIGINT NULL REFERENCES amc_data_sources (id),
	-- Kept up to date with list_members so list pages never count members.
	size BIGINT NOT NULL DEFAULT 0,
	created_by BIGINT NULL REFERENCES operators (id) ON DELETE SET NULL,
	created_at {{time}} NOT NULL,
	updated_at {{time}} NOT NULL
);
CREATE INDEX lists_updated ON lists (updated_at);

CREATE TABLE list_members (
	list_id BIGINT NOT NULL REFERENCES lists (id) ON DELETE CASCADE,
	recipient_id BIGINT NOT NULL REFERENCES recipients (id) ON DELETE CASCADE,
	added_at {{time}} NOT NULL,
	PRIMARY KEY (list_id, recipient_id)
);
CREATE INDEX list_members_recipient ON list_members (recipient_id);
