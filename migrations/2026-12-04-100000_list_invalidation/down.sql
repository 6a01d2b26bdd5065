DROP TRIGGER cloud_agents_notify_list_rename ON cloud_agents;
DROP TRIGGER cloud_agents_notify_list_change ON cloud_agents;
DROP TRIGGER connections_notify_list_truncate ON connections;
DROP TRIGGER connections_notify_list_change ON connections;
DROP FUNCTION notify_list_change();
