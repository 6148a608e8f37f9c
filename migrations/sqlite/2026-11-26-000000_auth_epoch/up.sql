-- A counter that moves whenever a session or an account is changed or deleted (inserts
-- leave it alone). The gateway caches what a token resolves to together with the counter
-- it read with it, and trusts an entry only while the counter stands still.
CREATE TABLE auth_epoch (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n BIGINT NOT NULL
);
INSERT INTO auth_epoch (id, n) VALUES (1, 0);

CREATE TRIGGER session_updated AFTER UPDATE ON session
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER session_deleted AFTER DELETE ON session
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER auth_updated AFTER UPDATE ON auth
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER auth_deleted AFTER DELETE ON auth
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
