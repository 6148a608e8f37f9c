DROP TRIGGER auth_deleted ON auth;
DROP TRIGGER auth_updated ON auth;
DROP TRIGGER session_deleted ON session;
DROP TRIGGER session_updated ON session;
DROP FUNCTION bump_auth_epoch();
DROP TABLE auth_epoch;
