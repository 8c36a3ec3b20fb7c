//! The shipped migrations and which of them a database still needs.
//!
//! Each backend applies them in one transaction under a lock (PostgreSQL: an advisory
//! lock; SQLite: `BEGIN IMMEDIATE`), recording each in its own table,
//! `portcullis_api_keys_migrations`, rather than sqlx's `_sqlx_migrations`: an
//! application that runs its own sqlx migrations on the same database then sees none
//! of ours (sqlx refuses to run when the table holds versions it does not know).

use sha2::{Digest, Sha256};

use crate::store::StoreError;

/// A migration shipped with the crate (`migrations/<backend>/NNNN_name.sql`): applied
/// once per database, in version order, and never changed once released.
#[derive(Debug)]
pub(crate) struct Migration {
    /// Its number, from the file name.
    pub(crate) version: i64,
    /// What it does, from the file name.
    pub(crate) description: &'static str,
    /// Its statements.
    pub(crate) sql: &'static str,
}

impl Migration {
    /// The SHA-256 of its SQL, recorded when applied.
    pub(crate) fn checksum(&self) -> Vec<u8> {
        Sha256::digest(self.sql.as_bytes()).to_vec()
    }
}

/// A shipped migration that differs from the one applied to the database.
#[derive(Debug, thiserror::Error)]
#[error(
    "migration {version} ({description}) of the API key store differs from the one applied to this database"
)]
struct ChangedMigration {
    version: i64,
    description: &'static str,
}

/// The migrations of `shipped` missing from `applied` (version and checksum), in
/// version order. A version applied with another checksum is an error; versions
/// applied but not shipped (by a newer release, during a rolling deploy) are left
/// alone.
pub(crate) fn pending<'a>(
    shipped: &'a [Migration],
    applied: &[(i64, Vec<u8>)],
) -> Result<Vec<&'a Migration>, StoreError> {
    let mut pending = Vec::new();
    for migration in shipped {
        match applied
            .iter()
            .find(|(version, _)| *version == migration.version)
        {
            None => pending.push(migration),
            Some((_, checksum)) if *checksum == migration.checksum() => {}
            Some(_) => {
                return Err(StoreError::backend(ChangedMigration {
                    version: migration.version,
                    description: migration.description,
                }));
            }
        }
    }
    pending.sort_by_key(|migration| migration.version);
    Ok(pending)
}

/// Asserts that `shipped` lists every file of `migrations/<backend>`, under the
/// version and description its name gives, in order.
#[cfg(test)]
pub(crate) fn assert_ships_every_file(backend: &str, shipped: &[Migration]) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    let mut files: Vec<(i64, String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let stem = path.file_stem().unwrap().to_str().unwrap().to_owned();
            let (version, description) = stem.split_once('_').unwrap();
            let sql = std::fs::read_to_string(&path).unwrap();
            (version.parse().unwrap(), description.replace('_', " "), sql)
        })
        .collect();
    files.sort();
    let listed: Vec<(i64, String, String)> = shipped
        .iter()
        .map(|m| (m.version, m.description.to_owned(), m.sql.to_owned()))
        .collect();
    assert_eq!(listed, files, "migrations/{backend}");
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIPPED: &[Migration] = &[
        Migration {
            version: 1,
            description: "one",
            sql: "CREATE TABLE one (x INT);",
        },
        Migration {
            version: 2,
            description: "two",
            sql: "CREATE TABLE two (x INT);",
        },
    ];

    fn versions(pending: Vec<&Migration>) -> Vec<i64> {
        pending.into_iter().map(|m| m.version).collect()
    }

    #[test]
    fn a_new_database_needs_every_migration_in_order() {
        assert_eq!(versions(pending(SHIPPED, &[]).unwrap()), [1, 2]);
    }

    #[test]
    fn applied_migrations_are_skipped_and_newer_unknown_ones_ignored() {
        let applied = [(1, SHIPPED[0].checksum()), (3, vec![0; 32])];
        assert_eq!(versions(pending(SHIPPED, &applied).unwrap()), [2]);
        let all = [(2, SHIPPED[1].checksum()), (1, SHIPPED[0].checksum())];
        assert!(pending(SHIPPED, &all).unwrap().is_empty());
    }

    #[test]
    fn a_changed_migration_is_an_error() {
        let error = pending(SHIPPED, &[(2, vec![1; 32])]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "API key store failed: migration 2 (two) of the API key store differs from the one applied to this database"
        );
    }
}
