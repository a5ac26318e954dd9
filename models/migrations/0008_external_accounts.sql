-- Where the technical workflows importSharedAudience and
-- exportSharedAudience find the audience library. Secrets are stored
-- encrypted (AES-GCM) and never shown back.
CREATE TABLE external_accounts (
	name TEXT PRIMARY KEY CHECK (name IN ('importSharedAudience', 'exportSharedAudience')),
	mode TEXT NOT NULL DEFAULT 'embedded' CHECK (mode IN ('embedded', 'remote')),
	base_url TEXT NOT NULL DEFAULT '',
	token_sealed TEXT NOT NULL DEFAULT '',
	api_key_sealed TEXT NOT NULL DEFAULT '',
	updated_by TEXT NOT NULL DEFAULT '',
	updated_at {{time}} NOT NULL
);
INSERT INTO external_accounts (name, mode, updated_at) VALUES ('importSharedAudience', 'embedded', CURRENT_TIMESTAMP);
INSERT INTO external_accounts (name, mode, updated_at) VALUES ('exportSharedAudience', 'embedded', CURRENT_TIMESTAMP);
