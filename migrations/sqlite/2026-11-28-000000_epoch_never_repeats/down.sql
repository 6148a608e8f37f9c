DROP TRIGGER session_inserted;
DROP TRIGGER session_updated;
DROP TRIGGER session_deleted;
DROP TRIGGER auth_updated;
DROP TRIGGER auth_deleted;
CREATE TRIGGER session_updated AFTER UPDATE ON session
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER session_deleted AFTER DELETE ON session
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER auth_updated AFTER UPDATE ON auth
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER auth_deleted AFTER DELETE ON auth
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
ALTER TABLE auth_epoch DROP COLUMN added;
