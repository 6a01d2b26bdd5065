DROP TRIGGER users_notify_change ON users;
DROP TRIGGER sessions_notify_change ON sessions;
DROP FUNCTION notify_session_change();
