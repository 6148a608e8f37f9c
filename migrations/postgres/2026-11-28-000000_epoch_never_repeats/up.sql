-- The auth epoch now also moves on TRUNCATE, and to a value that never repeats: at least the
-- current time in microseconds. A store restored from a backup then never brings back a
-- value a running gateway has cached sessions at, and the gateway notices that the epoch
-- went back. Sessions added move a counter of their own, `added` (caches need not follow
-- inserts): a restore takes it back too, which the gateway notices as well.
ALTER TABLE auth_epoch ADD COLUMN added BIGINT NOT NULL DEFAULT 0;

CREATE FUNCTION move_auth_epoch() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    next BIGINT;
BEGIN
    UPDATE auth_epoch SET n = GREATEST(n + 1, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint)
        WHERE id = 1 RETURNING n INTO next;
    PERFORM pg_notify('auth_epoch', next::text);
END
$$;

CREATE OR REPLACE FUNCTION bump_auth_epoch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Statement triggers fire even when no row matched: only real changes count.
    IF EXISTS (SELECT 1 FROM changed) THEN
        PERFORM move_auth_epoch();
    END IF;
    RETURN NULL;
END
$$;

-- TRUNCATE triggers have no transition table.
CREATE FUNCTION bump_auth_epoch_on_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM move_auth_epoch();
    RETURN NULL;
END
$$;

CREATE FUNCTION count_added_sessions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM changed) THEN
        UPDATE auth_epoch SET added = added + 1 WHERE id = 1;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER session_inserted AFTER INSERT ON session
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION count_added_sessions();
CREATE TRIGGER session_truncated AFTER TRUNCATE ON session
    FOR EACH STATEMENT EXECUTE FUNCTION bump_auth_epoch_on_truncate();
CREATE TRIGGER auth_truncated AFTER TRUNCATE ON auth
    FOR EACH STATEMENT EXECUTE FUNCTION bump_auth_epoch_on_truncate();

SELECT move_auth_epoch();
