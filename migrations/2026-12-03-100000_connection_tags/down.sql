DROP INDEX connections_tags;
ALTER TABLE connections DROP COLUMN tags;
