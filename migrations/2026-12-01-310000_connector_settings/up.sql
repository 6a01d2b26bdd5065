-- A connector's own fields move to one JSONB object, keyed by the field names of the connector's
-- description ({"implementation_type": "network_api", "server_url": "https://…"}), so a connector
-- with other fields needs no new column. The API key stays sealed in api_key_ciphertext.
--
-- The HasOffers columns implementation_type and server_url stay, kept equal to the settings by a
-- trigger in both directions, so the previous version keeps working during a rolling upgrade:
-- what it writes there reaches the settings, and what this version writes to the settings
-- reaches them. A later migration drops them once no instance of the previous version runs.

-- The name of a query parameter as a server reads it: %XX decoded, + as a space. A %00 is
-- dropped (PostgreSQL text holds no NUL).
CREATE FUNCTION junction_url_decode(part TEXT) RETURNS TEXT
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT coalesce(string_agg(
        CASE
            WHEN m[1] ~ '^%[0-9A-Fa-f]{2}$' AND substr(m[1], 2, 2) <> '00'
                THEN chr(('x' || substr(m[1], 2, 2))::bit(8)::int)
            WHEN m[1] ~ '^%[0-9A-Fa-f]{2}$' THEN ''
            ELSE m[1]
        END, '' ORDER BY n), '')
    FROM regexp_matches(replace(part, '+', ' '), '(%[0-9A-Fa-f]{2}|[^%]+|%)', 'g')
        WITH ORDINALITY AS t(m, n)
$$;

-- Whether a parameter so named carries a credential; the same rule as the connectors crate's
-- `is_credential_parameter`: decoded, lower-cased, letters and digits only, it names a token,
-- key, secret, password, signature or session.
CREATE FUNCTION junction_is_credential_parameter(name TEXT) RETURNS BOOLEAN
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT plain ~ '(token|key|secret|password|passwd|auth|credential)'
        OR plain IN ('pwd', 'sig', 'signature', 'session', 'sessionid')
    FROM (SELECT regexp_replace(lower(junction_url_decode(name)), '[^a-z0-9]', '', 'g') AS plain) AS p
$$;

-- An address without what carries credentials: user:password, credential query parameters and
-- a fragment holding one; the same rule the connection form applies.
CREATE FUNCTION junction_strip_url_credentials(url TEXT) RETURNS TEXT
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
    base TEXT := url;
    query TEXT;
    fragment TEXT;
    kept TEXT[] := '{}';
    segment TEXT;
    result TEXT;
BEGIN
    IF position('#' IN base) > 0 THEN
        fragment := substr(base, position('#' IN base) + 1);
        base := substr(base, 1, position('#' IN base) - 1);
    END IF;
    IF position('?' IN base) > 0 THEN
        query := substr(base, position('?' IN base) + 1);
        base := substr(base, 1, position('?' IN base) - 1);
    END IF;
    base := regexp_replace(base, '^([A-Za-z][A-Za-z0-9+.-]*://)[^/]*@', '\1');
    IF query IS NOT NULL THEN
        FOREACH segment IN ARRAY string_to_array(query, '&') LOOP
            IF NOT junction_is_credential_parameter(split_part(segment, '=', 1)) THEN
                kept := kept || segment;
            END IF;
        END LOOP;
    END IF;
    result := base;
    IF cardinality(kept) > 0 THEN
        result := result || '?' || array_to_string(kept, '&');
    END IF;
    IF fragment IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM unnest(string_to_array(fragment, '&')) AS s
        WHERE junction_is_credential_parameter(split_part(s, '=', 1))
    ) THEN
        result := result || '#' || fragment;
    END IF;
    RETURN result;
END;
$$;

-- Server URLs saved with a key in them (the form used to keep the query string): the key was in
-- plain text in the row and in the audit trail. Remove it from both, and say so in the trail.
INSERT INTO audit_events (user_label, action, entity_type, entity_id, entity_name, entity_version, detail)
SELECT 'Junction', 'redact', 'Connection', id::text, name, version,
       'A key or password was taken out of the stored Server URL and out of its earlier audit '
       || 'entries: keys go in API Key. Check the API Key of this connection.'
FROM connections
WHERE server_url IS DISTINCT FROM junction_strip_url_credentials(server_url);

UPDATE connections SET server_url = junction_strip_url_credentials(server_url)
WHERE server_url IS DISTINCT FROM junction_strip_url_credentials(server_url);

-- The trail is append-only for the app; this one rewrite removes secrets it should never have
-- held, and only them.
ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only;
UPDATE audit_events SET changes = (
    SELECT jsonb_agg(
        CASE WHEN change->>'field' = 'Server URL' THEN
            change
            || jsonb_build_object('before', junction_strip_url_credentials(change->>'before'))
            || jsonb_build_object('after', junction_strip_url_credentials(change->>'after'))
        ELSE change END
        ORDER BY n)
    FROM jsonb_array_elements(changes) WITH ORDINALITY AS c(change, n)
)
WHERE entity_type = 'Connection'
  AND jsonb_typeof(changes) = 'array'
  AND EXISTS (
    SELECT 1 FROM jsonb_array_elements(changes) AS c(change)
    WHERE change->>'field' = 'Server URL'
      AND (change->>'before' IS DISTINCT FROM junction_strip_url_credentials(change->>'before')
        OR change->>'after' IS DISTINCT FROM junction_strip_url_credentials(change->>'after'))
  );
ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only;

ALTER TABLE connections
    ADD COLUMN settings JSONB NOT NULL DEFAULT '{}'::jsonb
        CHECK (jsonb_typeof(settings) = 'object');

UPDATE connections
SET settings = jsonb_build_object('implementation_type', implementation_type, 'server_url', server_url)
WHERE connector = 'hasoffers';

-- Keeps settings and the legacy columns equal, whichever version wrote. A row inserted with the
-- legacy columns and no settings comes from the previous version; a change of the legacy columns
-- alone too. Connectors without these fields leave them empty.
CREATE FUNCTION connections_sync_settings() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' AND NEW.settings = '{}'::jsonb AND NEW.server_url IS NOT NULL THEN
        NEW.server_url := junction_strip_url_credentials(NEW.server_url);
        NEW.settings := jsonb_build_object(
            'implementation_type', NEW.implementation_type, 'server_url', NEW.server_url);
    ELSIF TG_OP = 'UPDATE' AND NEW.settings IS NOT DISTINCT FROM OLD.settings
        AND (NEW.implementation_type IS DISTINCT FROM OLD.implementation_type
             OR NEW.server_url IS DISTINCT FROM OLD.server_url) THEN
        NEW.server_url := junction_strip_url_credentials(NEW.server_url);
        NEW.settings := NEW.settings || jsonb_build_object(
            'implementation_type', NEW.implementation_type, 'server_url', NEW.server_url);
    ELSE
        NEW.implementation_type := coalesce(NEW.settings->>'implementation_type', '');
        NEW.server_url := coalesce(NEW.settings->>'server_url', '');
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER connections_sync_settings BEFORE INSERT OR UPDATE ON connections
    FOR EACH ROW EXECUTE FUNCTION connections_sync_settings();
