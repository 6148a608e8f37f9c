//! The migrations, embedded in the binary: one set per backend under `migrations/`, with the
//! same version names in both.

use diesel::Connection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::advisory_lock::{self, Lock};
use crate::{DbConn, StoreError};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// Runs the pending migrations in one transaction holding the write lock (SQLite) or an
/// advisory lock (PostgreSQL), so replicas starting together apply them once. Returns the
/// versions applied.
pub(crate) fn run(conn: &mut DbConn) -> Result<Vec<String>, StoreError> {
    type BoxError = Box<dyn std::error::Error + Send + Sync>;
    let applied = match conn {
        DbConn::Sqlite(c) => c.immediate_transaction(|c| -> Result<_, BoxError> {
            Ok(versions(c.run_pending_migrations(SQLITE_MIGRATIONS)?))
        }),
        DbConn::Postgres(c) => c.transaction(|c| -> Result<_, BoxError> {
            advisory_lock::wait_for(c, Lock::Migrations)?;
            Ok(versions(c.run_pending_migrations(POSTGRES_MIGRATIONS)?))
        }),
    };
    applied.map_err(|e| match e.downcast::<diesel::result::Error>() {
        Ok(e) => StoreError::from(*e),
        Err(e) => StoreError::Database(format!("migration failed: {e}")),
    })
}

fn versions(applied: Vec<diesel::migration::MigrationVersion<'_>>) -> Vec<String> {
    applied.iter().map(ToString::to_string).collect()
}
