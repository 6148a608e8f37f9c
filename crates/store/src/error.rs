use diesel::result::{DatabaseErrorInformation, DatabaseErrorKind, Error as DieselError};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached: pool checkout timed out, connection refused or lost,
    /// or SQLite stayed locked past its busy timeout.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A unique constraint refused a write. The label is [`EMAIL`] for a taken email,
    /// [`ADMIN`] for a second admin, and `table.column` for any other constraint
    /// (for example `user.token`).
    #[error("unique constraint violated: {0}")]
    UniqueViolation(String),
    #[error("not found")]
    NotFound,
    #[error("database error: {0}")]
    Database(String),
}

/// [`StoreError::UniqueViolation`] label: the email belongs to another account.
pub const EMAIL: &str = "email";
/// [`StoreError::UniqueViolation`] label: an admin already exists.
pub const ADMIN: &str = "admin";

impl StoreError {
    /// True when this is a unique violation with the given label.
    pub fn is_unique(&self, label: &str) -> bool {
        matches!(self, StoreError::UniqueViolation(l) if l == label)
    }
}

impl From<DieselError> for StoreError {
    fn from(e: DieselError) -> Self {
        match e {
            DieselError::NotFound => StoreError::NotFound,
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                StoreError::UniqueViolation(unique_label(info.as_ref()))
            }
            // A connection the server dropped (restart, outage) fails to send or is closed.
            DieselError::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                info,
            ) => StoreError::Unavailable(info.message().to_owned()),
            // SQLITE_BUSY after busy_timeout: overload, not a bad request.
            DieselError::DatabaseError(_, info) if info.message().contains("database is locked") => {
                StoreError::Unavailable(info.message().to_owned())
            }
            other => StoreError::Database(other.to_string()),
        }
    }
}

impl From<diesel::ConnectionError> for StoreError {
    fn from(e: diesel::ConnectionError) -> Self {
        StoreError::Unavailable(e.to_string())
    }
}

/// `table.column` of the violated constraint: PostgreSQL gives the constraint name (the
/// migrations name them so), SQLite only the message "UNIQUE constraint failed: t.c".
fn unique_label(info: &dyn DatabaseErrorInformation) -> String {
    let target = info
        .constraint_name()
        .or_else(|| info.message().strip_prefix("UNIQUE constraint failed: "))
        .unwrap_or(info.message());
    match target {
        "auth.email" => EMAIL.to_owned(),
        "admin.singleton" | "admin.authId" => ADMIN.to_owned(),
        other => other.to_owned(),
    }
}
