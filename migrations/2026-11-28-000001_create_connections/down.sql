DROP TABLE connections;
DROP TRIGGER cloud_agents_keep_builtin ON cloud_agents;
DROP FUNCTION cloud_agents_keep_builtin();
DROP TABLE cloud_agents;
DROP TABLE app_meta;
