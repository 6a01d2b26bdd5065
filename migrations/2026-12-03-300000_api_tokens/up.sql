-- Personal API tokens: a token acts as its user with the user's roles of the moment, so only
-- the link to the user is stored, never a copy of the roles. Only the token's SHA-256 is kept;
-- `prefix` is its first characters, enough to recognise it in a list or the audit trail.
CREATE TABLE api_tokens (
    id UUID PRIMARY KEY,
    user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_hash BYTEA NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ
);

CREATE INDEX api_tokens_user_id ON api_tokens (user_id, created_at DESC);
