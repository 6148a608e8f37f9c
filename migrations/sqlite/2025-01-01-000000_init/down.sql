DROP TABLE login_challenge;
DROP TABLE throttle_failure;
DROP TABLE session;
DROP TABLE "user";
DROP TABLE admin;
DROP TABLE auth;
