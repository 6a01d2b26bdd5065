DROP TABLE pending_imports;
ALTER TABLE connections DROP COLUMN needs_key;
