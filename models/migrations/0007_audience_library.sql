-- The embedded audience library (the People core service side): its data
-- sources, segments and their members, keyed by identifier.
CREATE TABLE lib_data_sources (
	-- The DPID: chosen by the publisher or assigned.
	id BIGINT PRIMARY KEY,
	name TEXT NOT NULL,
	description TEXT NOT NULL DEFAULT '',
	integration_code TEXT NULL UNIQUE,
	id_type TEXT NOT NULL CHECK (id_type IN ('COOKIE', 'CROSS_DEVICE')),
	status TEXT NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'INACTIVE')),
	created_at {{time}} NOT NULL,
	updated_at {{time}} NOT NULL
);

CREATE TABLE lib_segments (
	sid {{pk}},
	name TEXT NOT NULL,
	description TEXT NOT NULL DEFAULT '',
	integration_code TEXT NULL UNIQUE,
	data_source_id BIGINT NOT NULL REFERENCES lib_data_sources (id),
	status TEXT NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'INACTIVE')),
	source TEXT NOT NULL DEFAULT 'Audience Manager' CHECK (source IN ('Audience Manager', 'Analytics', 'Experience Cloud', 'Campaign')),
	author TEXT NOT NULL DEFAULT '',
	size BIGINT NOT NULL DEFAULT 0,
	-- Set when the segment was created to receive an export and has not been
	-- filled yet: the picker shows "Collecting data".
	collecting BOOLEAN NOT NULL DEFAULT FALSE,
	created_at {{time}} NOT NULL,
	updated_at {{time}} NOT NULL
);
CREATE INDEX lib_segments_updated ON lib_segments (updated_at);

CREATE TABLE lib_members (
	segment_id BIGINT NOT NULL REFERENCES lib_segments (sid) ON DELETE CASCADE,
	member TEXT NOT NULL,
	PRIMARY KEY (segment_id, member)
);

-- One row per change of a segment's size, for its size history.
CREATE TABLE lib_segment_sizes (
	segment_id BIGINT NOT NULL REFERENCES lib_segments (sid) ON DELETE CASCADE,
	at {{time}} NOT NULL,
	size BIGINT NOT NULL
);
CREATE INDEX lib_segment_sizes_segment ON lib_segment_sizes (segment_id, at);

-- A replacement member list is staged here in small transactions and swapped
-- in with one short one, so a million-member replace never holds the
-- database's write lock for long.
CREATE TABLE lib_member_staging (
	token TEXT NOT NULL,
	member TEXT NOT NULL,
	PRIMARY KEY (token, member)
);
