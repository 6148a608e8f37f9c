DROP TRIGGER auth_truncated ON auth;
DROP TRIGGER session_truncated ON session;
DROP TRIGGER session_inserted ON session;
DROP FUNCTION bump_auth_epoch_on_truncate();
DROP FUNCTION count_added_sessions();
ALTER TABLE auth_epoch DROP COLUMN added;
CREATE OR REPLACE FUNCTION bump_auth_epoch() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    next BIGINT;
BEGIN
    IF EXISTS (SELECT 1 FROM changed) THEN
        UPDATE auth_epoch SET n = n + 1 WHERE id = 1 RETURNING n INTO next;
        PERFORM pg_notify('auth_epoch', next::text);
    END IF;
    RETURN NULL;
END
$$;
DROP FUNCTION move_auth_epoch();
