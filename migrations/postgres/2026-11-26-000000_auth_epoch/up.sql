-- A counter that moves whenever a session or an account is changed or deleted (inserts
-- leave it alone). A gateway caches what a token resolves to together with the counter it
-- read with it, and trusts an entry only while the counter stands still. Every move is
-- announced on the "auth_epoch" channel, so other gateways learn of it at once.
CREATE TABLE auth_epoch (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n BIGINT NOT NULL
);
INSERT INTO auth_epoch (id, n) VALUES (1, 0);

CREATE FUNCTION bump_auth_epoch() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    next BIGINT;
BEGIN
    -- Statement triggers fire even when no row matched: only real changes count.
    IF EXISTS (SELECT 1 FROM changed) THEN
        UPDATE auth_epoch SET n = n + 1 WHERE id = 1 RETURNING n INTO next;
        PERFORM pg_notify('auth_epoch', next::text);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER session_updated AFTER UPDATE ON session
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION bump_auth_epoch();
CREATE TRIGGER session_deleted AFTER DELETE ON session
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION bump_auth_epoch();
CREATE TRIGGER auth_updated AFTER UPDATE ON auth
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION bump_auth_epoch();
CREATE TRIGGER auth_deleted AFTER DELETE ON auth
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION bump_auth_epoch();
