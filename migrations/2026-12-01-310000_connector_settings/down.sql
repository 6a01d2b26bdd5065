-- The legacy columns were kept equal to the settings, so they hold every HasOffers value.
-- Credentials taken out of Server URLs and audit entries stay out.
DROP TRIGGER connections_sync_settings ON connections;
DROP FUNCTION connections_sync_settings();
ALTER TABLE connections DROP COLUMN settings;
DROP FUNCTION junction_strip_url_credentials(TEXT);
DROP FUNCTION junction_is_credential_parameter(TEXT);
DROP FUNCTION junction_url_decode(TEXT);
