-- The lower-cased name, stored once per row: the key that names are unique by, that the list
-- sorts by and that search matches. Computed at read time, lower() cost a search about as much
-- as reading the rows did (each trigram match is rechecked, and each row of a page compared).
ALTER TABLE connections ADD COLUMN name_key TEXT GENERATED ALWAYS AS (lower(name)) STORED NOT NULL;

DROP INDEX connections_name_unique;
CREATE UNIQUE INDEX connections_name_unique ON connections (name_key);
DROP INDEX connections_name_trgm;
CREATE INDEX connections_name_trgm ON connections USING gin (name_key gin_trgm_ops);
DROP INDEX connections_connector_sort;
CREATE INDEX connections_connector_sort ON connections (connector, name_key, id);
DROP INDEX connections_agent_sort;
CREATE INDEX connections_agent_sort ON connections (cloud_agent_id, name_key, id);
DROP INDEX connections_active_sort;
CREATE INDEX connections_active_sort ON connections (is_active, name_key, id);
DROP INDEX connections_source_sort;
CREATE INDEX connections_source_sort ON connections (is_source, name_key, id);
DROP INDEX connections_target_sort;
CREATE INDEX connections_target_sort ON connections (is_target, name_key, id);
DROP INDEX connections_health;
CREATE INDEX connections_health ON connections (health, name_key, id);

-- The new column and the rebuilt indexes have no statistics yet: without them a search is
-- planned blind until autovacuum gets round to the table.
ANALYZE connections;
