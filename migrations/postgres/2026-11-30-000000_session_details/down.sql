DROP TABLE session_activity;
ALTER TABLE session DROP COLUMN "clientAddress";
ALTER TABLE session DROP COLUMN "userAgent";
