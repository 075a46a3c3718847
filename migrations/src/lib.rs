//! The database schema. The `sql/*.sql` files of this crate are the only place it is defined;
//! they are embedded here so the `distribox` binary carries them.

#[cfg(feature = "test-db")]
pub mod test_db;

/// Every migration, in order.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./sql");
