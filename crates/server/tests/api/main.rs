//! The gateway over HTTP: real servers on real stores (SQLite, and PostgreSQL when
//! `TEST_DATABASE_URL` is set), driven as clients drive them. One module per concern.

#[macro_use]
mod helpers;

mod auth_api;
mod backup;
mod backup_codes;
mod bad_input;
mod cors;
mod cross_site;
mod dokploy;
mod forward_auth;
mod hostile_tokens;
mod logs;
mod outage;
mod passwords;
mod process;
mod protocol_rejects;
mod purge;
mod races;
mod readme_reliability;
mod revocation;
mod rotation;
mod secrets_at_rest;
mod sessions_list;
mod slow_clients;
mod structure;
mod throttle;
mod validation;
