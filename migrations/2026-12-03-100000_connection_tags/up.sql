-- Free-form labels such as env:prod or team:emea, normalised lower-case by the app.
ALTER TABLE connections ADD COLUMN tags text[] NOT NULL DEFAULT '{}';
-- The list's tag filter asks `tags @> ARRAY[...]`, which a GIN index answers.
CREATE INDEX connections_tags ON connections USING gin (tags);
