//! The schema migrations of each engine, embedded so the binary needs no files beside it.
//!
//! PostgreSQL has its own set in `migrations/postgres/`, mirroring the SQLite one file for
//! file (same version, same description): the column types differ (BLOB and BYTEA,
//! AUTOINCREMENT and identity columns, SQLite's one INTEGER and PostgreSQL's BIGINT), and
//! SQLite rebuilds tables where PostgreSQL alters them in place. A new migration adds one
//! line to each list.

use std::borrow::Cow;

use sqlx::migrate::{Migration, MigrationType, Migrator};

/// A migration: version, description, SQL.
pub(super) type Step = (i64, &'static str, &'static str);

/// The SQLite migrations.
pub(super) const SQLITE: &[Step] = &[
    (
        1,
        "initial",
        include_str!("../../migrations/0001_initial.sql"),
    ),
    (
        2,
        "v2 sign type",
        include_str!("../../migrations/0002_v2_sign_type.sql"),
    ),
    (3, "money", include_str!("../../migrations/0003_money.sql")),
    (
        4,
        "money and secrets",
        include_str!("../../migrations/0004_money_and_secrets.sql"),
    ),
    (
        5,
        "reconciliation",
        include_str!("../../migrations/0005_reconciliation.sql"),
    ),
    (
        6,
        "prepay columns",
        include_str!("../../migrations/0006_prepay_columns.sql"),
    ),
];

/// The PostgreSQL migrations (same versions and descriptions).
pub(super) const POSTGRES: &[Step] = &[
    (
        1,
        "initial",
        include_str!("../../migrations/postgres/0001_initial.sql"),
    ),
    (
        2,
        "v2 sign type",
        include_str!("../../migrations/postgres/0002_v2_sign_type.sql"),
    ),
    (
        3,
        "money",
        include_str!("../../migrations/postgres/0003_money.sql"),
    ),
    (
        4,
        "money and secrets",
        include_str!("../../migrations/postgres/0004_money_and_secrets.sql"),
    ),
    (
        5,
        "reconciliation",
        include_str!("../../migrations/postgres/0005_reconciliation.sql"),
    ),
    (
        6,
        "prepay columns",
        include_str!("../../migrations/postgres/0006_prepay_columns.sql"),
    ),
];

/// A migrator over `steps`.
pub(super) fn migrator(steps: &[Step]) -> Migrator {
    let migrations = steps
        .iter()
        .map(|&(version, description, sql)| {
            let (description, sql) = (Cow::Borrowed(description), Cow::Borrowed(sql));
            Migration::new(version, description, MigrationType::Simple, sql, false)
        })
        .collect();
    Migrator {
        migrations: Cow::Owned(migrations),
        ..Migrator::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sqlite_migration_has_its_postgres_twin() {
        let versions = |steps: &[Step]| steps.iter().map(|s| (s.0, s.1)).collect::<Vec<_>>();
        assert_eq!(versions(SQLITE), versions(POSTGRES));
    }
}
