//! Online backups of an SQLite store. `VACUUM INTO` copies the database as one read
//! transaction sees it (in WAL mode, writers carry on meanwhile) into a new file. The copy
//! is written under a temporary name beside the target and takes the target's name only
//! once complete and synced, so a file with that name is always a whole backup. A
//! PostgreSQL store is backed up with `pg_dump` instead (the README says what to dump).

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::Text;

use crate::connection::sqlite_file;
use crate::schema::auth;
use crate::{ConnManager, DbConn, StoreError};

/// What [`to_file`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    /// The backup file, as an absolute path.
    pub path: PathBuf,
    pub bytes: u64,
    /// Accounts in the copy, read back from it.
    pub accounts: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("the database is PostgreSQL: back it up with pg_dump (see \"Backup and restore\" in the README)")]
    Postgres,
    #[error("no database at {0}: give the gateway's --data-dir or --database-url")]
    NoDatabase(String),
    #[error("{0} already exists: a backup never replaces a file")]
    Exists(PathBuf),
    #[error("{0}: {1}")]
    File(PathBuf, std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Copies the SQLite database at `url` to `target`, a file that must not exist yet; it
/// gets mode 0600 (it holds password hashes and sealed secrets). Safe while a gateway
/// serves from the database and writes to it.
pub fn to_file(url: &str, target: &Path) -> Result<Backup, BackupError> {
    let source = sqlite_file(url).ok_or(BackupError::Postgres)?;
    // Opening a missing file would create an empty database, and back that up.
    if !Path::new(source).is_file() {
        return Err(BackupError::NoDatabase(source.to_owned()));
    }
    // Absolute, so that SQLite never reads the name as a `file:` URI.
    let target = std::path::absolute(target).map_err(|e| BackupError::File(target.to_owned(), e))?;
    if target.symlink_metadata().is_ok() {
        return Err(BackupError::Exists(target));
    }
    let (Some(dir), Some(name)) = (target.parent(), target.file_name()) else {
        return Err(BackupError::File(target, std::io::ErrorKind::InvalidInput.into()));
    };
    let partial = Partial::create(dir.join(format!(".{}.{}.partial", name.to_string_lossy(), std::process::id())))?;
    let partial_name = partial
        .0
        .to_str()
        .ok_or_else(|| BackupError::File(target.clone(), std::io::Error::other("the file name is not valid UTF-8")))?;

    // The timeout only bounds PostgreSQL connections.
    let manager = ConnManager::new(url, Duration::from_secs(5))?;
    let mut conn = r2d2::ManageConnection::connect(&manager).map_err(|e| StoreError::Unavailable(e.to_string()))?;
    let DbConn::Sqlite(sqlite) = &mut conn else { return Err(BackupError::Postgres) };
    // VACUUM INTO writes into an empty file: this one, made private beforehand.
    diesel::sql_query("VACUUM INTO ?").bind::<Text, _>(partial_name).execute(sqlite).map_err(StoreError::from)?;
    drop(conn);

    let mut copy = SqliteConnection::establish(partial_name).map_err(StoreError::from)?;
    let accounts = auth::table.count().get_result::<i64>(&mut copy).map_err(StoreError::from)?;
    drop(copy);
    let file = File::open(&partial.0).map_err(|e| BackupError::File(partial.0.clone(), e))?;
    file.sync_all().map_err(|e| BackupError::File(partial.0.clone(), e))?;
    let bytes = file.metadata().map_err(|e| BackupError::File(partial.0.clone(), e))?.len();
    partial.publish(&target)?;
    Ok(Backup { path: target, bytes, accounts })
}

/// The backup under its temporary name; removed when dropped.
struct Partial(PathBuf);

impl Partial {
    fn create(path: PathBuf) -> Result<Partial, BackupError> {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        // Named by its directory: the temporary name means nothing to the operator.
        let dir = path.parent().unwrap_or(&path).to_owned();
        options.open(&path).map_err(|e| BackupError::File(dir, e))?;
        Ok(Partial(path))
    }

    /// Gives the file the name `target`, unless a file took that name meanwhile: a hard
    /// link never replaces one (a rename would). Where links are not supported, a rename.
    fn publish(self, target: &Path) -> Result<(), BackupError> {
        match std::fs::hard_link(&self.0, target) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(BackupError::Exists(target.to_owned()));
            }
            Err(_) => std::fs::rename(&self.0, target).map_err(|e| BackupError::File(target.to_owned(), e))?,
        }
        // The directory entry too, so that the name survives a crash.
        if let Some(dir) = target.parent() {
            let _ = File::open(dir).and_then(|d| d.sync_all());
        }
        Ok(())
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{NewAuth, Role};
    use crate::{PoolOptions, Store, testing};

    #[test]
    fn a_backup_is_a_private_copy_under_any_file_name_and_never_replaces_a_file() {
        let db = testing::fresh_sqlite();
        let store = Store::open(&db.url, PoolOptions::default()).unwrap();
        let admin =
            NewAuth { id: "a1", email: "a@x.io", password: "h", rol: Role::Admin, image: None, created_at: "now" };
        store.run(|c| crate::admin::create(c, admin, "adm1", "now")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        // A name SQLite would misread if it were pasted into the statement.
        let target = dir.path().join("it's a backup; DROP TABLE auth.db");
        let backup = to_file(&db.url, &target).unwrap();
        assert_eq!((backup.path.as_path(), backup.accounts), (target.as_path(), 1));
        assert_eq!(backup.bytes, std::fs::metadata(&target).unwrap().len());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&target).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(names, [target.file_name().unwrap()], "nothing else is left beside it");

        let before = std::fs::read(&target).unwrap();
        assert!(matches!(to_file(&db.url, &target), Err(BackupError::Exists(_))));
        assert_eq!(std::fs::read(&target).unwrap(), before, "the file is left as it was");
        assert!(matches!(to_file("postgres://u@127.0.0.1:1/db", &dir.path().join("pg")), Err(BackupError::Postgres)));
        let missing = dir.path().join("missing.db");
        let to_missing = to_file(&format!("sqlite://{}", missing.display()), &dir.path().join("m"));
        assert!(matches!(to_missing, Err(BackupError::NoDatabase(_))));
        assert!(!missing.exists(), "no database is created to back up");
    }
}
