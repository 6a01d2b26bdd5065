DROP INDEX connections_name_unique;
DROP INDEX connections_name_trgm;
DROP INDEX connections_connector_sort;
DROP INDEX connections_agent_sort;
DROP INDEX connections_active_sort;
DROP INDEX connections_source_sort;
DROP INDEX connections_target_sort;
DROP INDEX connections_health;
ALTER TABLE connections DROP COLUMN name_key;

CREATE UNIQUE INDEX connections_name_unique ON connections (lower(name));
CREATE INDEX connections_name_trgm ON connections USING gin (lower(name) gin_trgm_ops);
CREATE INDEX connections_connector_sort ON connections (connector, lower(name), id);
CREATE INDEX connections_agent_sort ON connections (cloud_agent_id, lower(name), id);
CREATE INDEX connections_active_sort ON connections (is_active, lower(name), id);
CREATE INDEX connections_source_sort ON connections (is_source, lower(name), id);
CREATE INDEX connections_target_sort ON connections (is_target, lower(name), id);
CREATE INDEX connections_health ON connections (health, lower(name), id);
