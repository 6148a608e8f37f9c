-- What an account's owner sees of each of its sessions (auth.listSessions): the client
-- address and the User-Agent (cleaned and bounded) of the request that made it. Written
-- once, with the session.
ALTER TABLE session ADD COLUMN "userAgent" TEXT;
ALTER TABLE session ADD COLUMN "clientAddress" TEXT;

-- When a session was last used (unix seconds), coarsely: a gateway writes it at most once an
-- hour per session. A table of its own, without the auth epoch's triggers: recording a use
-- is no change to what a credential resolves to, so it leaves every cached session valid.
CREATE TABLE session_activity (
    "sessionId" TEXT NOT NULL PRIMARY KEY REFERENCES session (id) ON DELETE CASCADE,
    "lastUsedAt" BIGINT NOT NULL
);
