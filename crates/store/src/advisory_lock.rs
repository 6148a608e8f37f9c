//! PostgreSQL advisory locks: what the gateway serializes across processes, and the one way
//! it takes a lock: transaction-scoped, so a lock never outlives its transaction. (SQLite
//! has one writer: its write transaction is the lock.)

use diesel::PgConnection;
use diesel::RunQueryDsl;
use diesel::result::QueryResult;
use diesel::sql_types::{BigInt, Text};

/// What a lock serializes.
pub(crate) enum Lock<'a> {
    /// Applying migrations: replicas starting together apply them once.
    Migrations,
    /// Writes to one key (a throttle counter, say): writers of a key wait for each other and
    /// for no one else. Its id is the key's 64-bit hash.
    Key(&'a str),
}

/// The id of [`Lock::Migrations`].
const MIGRATIONS_ID: i64 = 7242012;

/// Waits for `lock`, held until the current transaction ends.
pub(crate) fn wait_for(pg: &mut PgConnection, lock: Lock<'_>) -> QueryResult<()> {
    match lock {
        Lock::Migrations => {
            diesel::sql_query("SELECT pg_advisory_xact_lock($1)").bind::<BigInt, _>(MIGRATIONS_ID).execute(pg)?
        }
        Lock::Key(key) => diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind::<Text, _>(key)
            .execute(pg)?,
    };
    Ok(())
}
