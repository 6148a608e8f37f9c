-- 2FA backup codes: single-use, kept as keyed hashes (a copy of the database alone gives
-- no usable code). A used code is deleted, so of two racing uses only one wins.
CREATE TABLE backup_code (
    hash TEXT CONSTRAINT "backup_code.hash" PRIMARY KEY,
    "authId" TEXT NOT NULL REFERENCES auth (id) ON DELETE CASCADE,
    "createdAt" TEXT NOT NULL
);
CREATE INDEX backup_code_auth_id ON backup_code ("authId");
