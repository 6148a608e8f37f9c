//! The migrations, embedded in the binary: one set per backend under `migrations/`, with the
//! same version names in both.

use diesel::Connection;
use diesel::migration::MigrationSource;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::advisory_lock::{self, Lock};
use crate::{DbConn, StoreError};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// Which migrations a database has and lacks, by version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationStatus {
    pub applied: Vec<String>,
    pub pending: Vec<String>,
    /// Applied there, but not known to this binary: a newer version ran on the database.
    pub unknown: Vec<String>,
}

/// Reads the migration status without changing anything.
pub(crate) fn status(conn: &mut DbConn) -> Result<MigrationStatus, StoreError> {
    type BoxError = Box<dyn std::error::Error + Send + Sync>;
    let read = |applied: Result<Vec<diesel::migration::MigrationVersion<'static>>, BoxError>,
                known: Result<Vec<String>, BoxError>|
     -> Result<MigrationStatus, BoxError> {
        let applied: Vec<String> = versions(applied?);
        let known = known?;
        Ok(MigrationStatus {
            pending: known.iter().filter(|v| !applied.contains(v)).cloned().collect(),
            unknown: applied.iter().filter(|v| !known.contains(v)).cloned().collect(),
            applied,
        })
    };
    fn known<M: MigrationSource<B>, B: diesel::backend::Backend>(
        m: M,
    ) -> Result<Vec<String>, Box<dyn std::error::Error + Send + Sync>> {
        Ok(m.migrations()?.iter().map(|m| m.name().version().to_string()).collect())
    }
    let status = match conn {
        DbConn::Sqlite(c) => read(c.applied_migrations(), known::<_, diesel::sqlite::Sqlite>(SQLITE_MIGRATIONS)),
        DbConn::Postgres(c) => read(c.applied_migrations(), known::<_, diesel::pg::Pg>(POSTGRES_MIGRATIONS)),
    };
    status.map_err(|e| StoreError::Database(format!("reading the migrations: {e}")))
}

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
