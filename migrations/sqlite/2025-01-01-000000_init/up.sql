CREATE TABLE auth (
    id TEXT NOT NULL PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
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
    "adminId" TEXT NOT NULL PRIMARY KEY,
    "authId" TEXT NOT NULL UNIQUE REFERENCES auth (id) ON DELETE CASCADE,
    "createdAt" TEXT NOT NULL,
    -- Always 1 and unique: the database itself allows a single admin, even under races.
    singleton INTEGER NOT NULL DEFAULT 1 UNIQUE CHECK (singleton = 1)
);

CREATE TABLE "user" (
    "userId" TEXT NOT NULL PRIMARY KEY,
    "authId" TEXT NOT NULL REFERENCES auth (id) ON DELETE CASCADE,
    "adminId" TEXT NOT NULL REFERENCES admin ("adminId") ON DELETE CASCADE,
    token TEXT NOT NULL UNIQUE,
    "isRegistered" BOOLEAN NOT NULL DEFAULT false,
    "expirationDate" TEXT NOT NULL,
    "createdAt" TEXT NOT NULL
);
CREATE INDEX user_auth_id ON "user" ("authId");

CREATE TABLE session (
    id TEXT NOT NULL PRIMARY KEY,
    "authId" TEXT NOT NULL REFERENCES auth (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    "expiresAt" BIGINT NOT NULL,
    "createdAt" TEXT NOT NULL
);
CREATE INDEX session_auth_id ON session ("authId");

-- One row per failed attempt, so recording a failure never races another.
CREATE TABLE throttle_failure (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX throttle_failure_key_at ON throttle_failure (key, at);

CREATE TABLE login_challenge (
    id TEXT NOT NULL PRIMARY KEY,
    "authId" TEXT NOT NULL REFERENCES auth (id) ON DELETE CASCADE,
    "expiresAt" BIGINT NOT NULL,
    failures INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX login_challenge_auth_id ON login_challenge ("authId");
