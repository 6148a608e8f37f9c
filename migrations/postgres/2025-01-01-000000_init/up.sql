-- Unique constraints are named "table.column", the way SQLite reports a violation,
-- so the store maps a violation to the same label on both backends.

CREATE TABLE auth (
    id TEXT CONSTRAINT "auth.id" PRIMARY KEY,
    email TEXT NOT NULL CONSTRAINT "auth.email" UNIQUE,
    password TEXT NOT NULL,
    rol TEXT NOT NULL,
    image TEXT,
    secret TEXT,
    token TEXT,
    "is2FAEnabled" BOOLEAN NOT NULL DEFAULT false,
    "createdAt" TEXT NOT NULL,
    -- Last accepted TOTP time step: a pin is never accepted twice.
    "totpLastStep" BIGINT
);

CREATE TABLE admin (
    "adminId" TEXT CONSTRAINT "admin.adminId" PRIMARY KEY,
    "authId" TEXT NOT NULL CONSTRAINT "admin.authId" UNIQUE REFERENCES auth (id) ON DELETE CASCADE,
    "createdAt" TEXT NOT NULL,
    -- Always 1 and unique: the database itself allows a single admin, even under races.
    singleton INTEGER NOT NULL DEFAULT 1 CONSTRAINT "admin.singleton" UNIQUE CHECK (singleton = 1)
);

CREATE TABLE "user" (
    "userId" TEXT CONSTRAINT "user.userId" PRIMARY KEY,
    "authId" TEXT NOT NULL REFERENCES auth (id) ON DELETE CASCADE,
    "adminId" TEXT NOT NULL REFERENCES admin ("adminId") ON DELETE CASCADE,
    token TEXT NOT NULL CONSTRAINT "user.token" UNIQUE,
    "isRegistered" BOOLEAN NOT NULL DEFAULT false,
    "expirationDate" TEXT NOT NULL,
    "createdAt" TEXT NOT NULL
);
CREATE INDEX user_auth_id ON "user" ("authId");

CREATE TABLE session (
    id TEXT CONSTRAINT "session.id" PRIMARY KEY,
    "authId" TEXT NOT NULL REFERENCES auth (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    "expiresAt" BIGINT NOT NULL,
    "createdAt" TEXT NOT NULL
);
CREATE INDEX session_auth_id ON session ("authId");

-- One row per failed attempt, so recording a failure never races another.
CREATE TABLE throttle_failure (
    id BIGSERIAL PRIMARY KEY,
    key TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX throttle_failure_key_at ON throttle_failure (key, at);

CREATE TABLE login_challenge (
    id TEXT CONSTRAINT "login_challenge.id" PRIMARY KEY,
    "authId" TEXT NOT NULL REFERENCES auth (id) ON DELETE CASCADE,
    "expiresAt" BIGINT NOT NULL,
    failures INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX login_challenge_auth_id ON login_challenge ("authId");
