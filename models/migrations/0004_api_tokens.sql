-- Personal API tokens: only a SHA-256 hash of each token is kept.
CREATE TABLE api_tokens (
	id {{pk}},
	operator_id BIGINT NOT NULL REFERENCES operators (id) ON DELETE CASCADE,
	name TEXT NOT NULL,
	token_hash TEXT NOT NULL UNIQUE,
	-- The first characters, shown so an operator can recognise a token.
	prefix TEXT NOT NULL,
	created_at {{time}} NOT NULL,
	last_used_at {{time}} NULL,
	revoked_at {{time}} NULL
);
CREATE INDEX api_tokens_operator ON api_tokens (operator_id);
