DROP TRIGGER auth_deleted;
DROP TRIGGER auth_updated;
DROP TRIGGER session_deleted;
DROP TRIGGER session_updated;
DROP TABLE auth_epoch;
