-- Connections imported without their API key: inactive until someone enters the key.
ALTER TABLE connections ADD COLUMN needs_key BOOLEAN NOT NULL DEFAULT FALSE;

-- An uploaded import waiting for its Apply: the parsed document (keys removed) and the keys
-- re-sealed under the server's secret key, so nothing is trusted from the browser at apply
-- time and no plaintext key or passphrase is stored. Kept one hour.
CREATE TABLE pending_imports (
    id UUID PRIMARY KEY,
    created_by UUID REFERENCES users (id) ON DELETE CASCADE,
    created_by_label TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ NOT NULL,
    document JSONB NOT NULL,
    sealed_keys JSONB NOT NULL,
    -- What the preview showed, so Apply notices when the database changed since.
    preview_digest TEXT NOT NULL
);

CREATE INDEX pending_imports_expiry ON pending_imports (expires_at);
