DROP TRIGGER cloud_agents_notify_token_delete ON cloud_agents;
DROP TRIGGER cloud_agents_notify_token_change ON cloud_agents;
DROP FUNCTION notify_agent_change();
