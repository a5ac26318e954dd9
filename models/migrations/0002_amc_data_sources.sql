-- AMC data sources: how shared-audience identifiers reconcile with recipients.
-- The built-in "Recipient - Visitor ID" always exists.
CREATE TABLE amc_data_sources (
	id {{pk}},
	internal_name TEXT NOT NULL UNIQUE,
	label TEXT NOT NULL,
	targeting_dimension TEXT NOT NULL DEFAULT 'recipient' CHECK (targeting_dimension IN ('recipient')),
	id_type TEXT NOT NULL CHECK (id_type IN ('visitorId', 'declaredId')),
	reconciliation_key TEXT NOT NULL CHECK (reconciliation_key IN ('visitorId', 'crmId', 'email', 'id')),
	integration_code TEXT NOT NULL DEFAULT '',
	aam_data_source_id BIGINT NULL,
	aam_destination_id BIGINT NULL,
	hash_algorithm TEXT NOT NULL DEFAULT 'none' CHECK (hash_algorithm IN ('none', 'sha256')),
	comment TEXT NOT NULL DEFAULT '',
	built_in BOOLEAN NOT NULL DEFAULT FALSE,
	created_at {{time}} NOT NULL,
	updated_at {{time}} NOT NULL
);

INSERT INTO amc_data_sources (internal_name, label, targeting_dimension, id_type, reconciliation_key, hash_algorithm, comment, built_in, created_at, updated_at)
VALUES ('defaultDataSource', 'Recipient - Visitor ID', 'recipient', 'visitorId', 'visitorId', 'none',
	'Built-in: reconciles Experience Cloud visitor IDs (ECID) with the visitor IDs tracked for each recipient.', TRUE,
	CURRENT_TIMESTAMP, CURRENT_TIMESTAMP);
