-- The auth epoch now moves to a value that never repeats: at least the current time in
-- microseconds. A store restored from a backup then never brings back a value a running
-- gateway has cached sessions at, and the gateway notices that the epoch went back.
-- Sessions added move a counter of their own, `added` (caches need not follow inserts): a
-- restore takes it back too, which the gateway notices as well. (SQLite has no TRUNCATE: a
-- DELETE without WHERE fires the delete triggers.)
ALTER TABLE auth_epoch ADD COLUMN added BIGINT NOT NULL DEFAULT 0;
DROP TRIGGER session_updated;
DROP TRIGGER session_deleted;
DROP TRIGGER auth_updated;
DROP TRIGGER auth_deleted;

CREATE TRIGGER session_inserted AFTER INSERT ON session
BEGIN UPDATE auth_epoch SET added = added + 1 WHERE id = 1; END;
CREATE TRIGGER session_updated AFTER UPDATE ON session
BEGIN UPDATE auth_epoch SET n = max(n + 1, CAST(unixepoch('subsec') * 1000000 AS INTEGER)) WHERE id = 1; END;
CREATE TRIGGER session_deleted AFTER DELETE ON session
BEGIN UPDATE auth_epoch SET n = max(n + 1, CAST(unixepoch('subsec') * 1000000 AS INTEGER)) WHERE id = 1; END;
CREATE TRIGGER auth_updated AFTER UPDATE ON auth
BEGIN UPDATE auth_epoch SET n = max(n + 1, CAST(unixepoch('subsec') * 1000000 AS INTEGER)) WHERE id = 1; END;
CREATE TRIGGER auth_deleted AFTER DELETE ON auth
BEGIN UPDATE auth_epoch SET n = max(n + 1, CAST(unixepoch('subsec') * 1000000 AS INTEGER)) WHERE id = 1; END;

UPDATE auth_epoch SET n = max(n + 1, CAST(unixepoch('subsec') * 1000000 AS INTEGER)) WHERE id = 1;
