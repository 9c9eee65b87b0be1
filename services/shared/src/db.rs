//! The database both services store in: which backend a URL names, the connection pool, and
//! the migrations each service owns. One schema history (sqlx's `_sqlx_migrations` table) is
//! shared by every service in a database, so each owns a range of versions, written here.

use sqlx::any::AnyPoolOptions;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::AnyPool;
use std::borrow::Cow;
use std::ops::RangeInclusive;
use std::time::Duration;

/// Which database a service stores in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file (one replica).
    Sqlite,
    /// PostgreSQL (one or several replicas).
    Postgres,
}

/// The URL `sqlx` opens for `url` and its backend: `postgres://…` as given, `sqlite://<file>`
/// created if absent (`?mode=rwc`, any other options dropped). Anything else is refused with
/// a message naming the two forms.
pub fn parse_url(url: &str) -> Result<(Backend, String), sqlx::Error> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok((Backend::Postgres, url.to_string()))
    } else if let Some(path) = url.strip_prefix("sqlite://") {
        let path = path.split('?').next().unwrap_or(path);
        Ok((Backend::Sqlite, format!("sqlite://{path}?mode=rwc")))
    } else {
        Err(sqlx::Error::Configuration("database: use sqlite://<file> or postgres://<user>@<host>/<database>".into()))
    }
}

/// A pool on `url` (see [`parse_url`]): one connection for SQLite (one writer at a time; one
/// connection avoids "database is locked"), ten for PostgreSQL; a connection not had within
/// five seconds is an error (the services answer 503), never a wait without end.
pub async fn connect(url: &str) -> Result<(AnyPool, Backend, String), sqlx::Error> {
    sqlx::any::install_default_drivers();
    let (backend, url) = parse_url(url)?;
    let max = if backend == Backend::Sqlite { 1 } else { 10 };
    let pool = AnyPoolOptions::new().max_connections(max).acquire_timeout(Duration::from_secs(5)).connect(&url).await?;
    Ok((pool, backend, url))
}

/// One migration: version, description, SQLite text, PostgreSQL text.
pub type Step = (i64, &'static str, &'static str, &'static str);

/// A service's migrations and the versions it owns.
#[derive(Debug, Clone)]
pub struct Schema {
    /// The service (for errors).
    pub service: &'static str,
    /// The versions this service may use; no two services' ranges overlap ([`OWNERS`]).
    pub versions: RangeInclusive<i64>,
    /// Its migrations, in version order.
    pub steps: &'static [Step],
}

/// Who owns which migration versions in a shared database.
pub const OWNERS: [(&str, RangeInclusive<i64>); 2] = [("approval service", 1..=999), ("evidence ledger", 1001..=1999)];

/// Why a schema cannot be applied.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// A step's version is outside the service's range, or steps are out of order.
    #[error("{service}: migration {version} is outside its versions {range:?} or out of order")]
    Misnumbered {
        /// The service.
        service: &'static str,
        /// The step's version.
        version: i64,
        /// The service's range.
        range: RangeInclusive<i64>,
    },
    /// The database refused a migration (nothing of it is applied).
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl Schema {
    /// Checks the service's range against [`OWNERS`] and the steps' numbering against it.
    pub fn check(&self) -> Result<(), MigrateError> {
        let owned = OWNERS.iter().any(|(service, range)| *service == self.service && *range == self.versions);
        let mut last = if owned { i64::MIN } else { i64::MAX };
        for (version, ..) in self.steps {
            if !self.versions.contains(version) || *version <= last {
                return Err(MigrateError::Misnumbered {
                    service: self.service,
                    version: *version,
                    range: self.versions.clone(),
                });
            }
            last = *version;
        }
        Ok(())
    }

    /// Applies the steps not yet applied, under sqlx's migration lock (replicas starting
    /// together apply each once); other services' migrations in the same database are left
    /// alone.
    pub async fn migrate(&self, pool: &AnyPool, backend: Backend) -> Result<(), MigrateError> {
        self.check()?;
        let migrations = self
            .steps
            .iter()
            .map(|(version, description, sqlite, postgres)| {
                let sql = if backend == Backend::Sqlite { sqlite } else { postgres };
                Migration::new(*version, Cow::Borrowed(description), MigrationType::Simple, Cow::Borrowed(sql), false)
            })
            .collect::<Vec<_>>();
        let migrator = Migrator { migrations: Cow::Owned(migrations), ignore_missing: true, ..Migrator::DEFAULT };
        migrator.run(pool).await.map_err(|e| MigrateError::Database(sqlx::Error::Migrate(Box::new(e))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_their_backend_and_anything_else_is_refused() {
        assert_eq!(parse_url("postgres://u@h/d").ok(), Some((Backend::Postgres, "postgres://u@h/d".into())));
        assert_eq!(
            parse_url("sqlite:///tmp/a.db?x=1").ok(),
            Some((Backend::Sqlite, "sqlite:///tmp/a.db?mode=rwc".into()))
        );
        assert!(parse_url("mysql://h/d").is_err());
    }

    #[test]
    fn owners_do_not_overlap_and_misnumbered_steps_are_refused() {
        let [(_, a), (_, b)] = OWNERS;
        assert!(a.end() < b.start());
        let steps: &'static [Step] = &[(1001, "x", "", "")];
        let wrong = Schema { service: "approval service", versions: OWNERS[0].1.clone(), steps };
        assert!(matches!(wrong.check(), Err(MigrateError::Misnumbered { version: 1001, .. })));
    }
}
