//! The `Account` aggregate: a person (or the host) who logs in to Distribox.
//!
//! An account's id is derived from its username, so the event store's optimistic-concurrency key
//! is what makes usernames unique — two concurrent creations of `alice` collide on one aggregate.
//! Usernames are never reused, which keeps the audit log unambiguous.

mod aggregate;
mod username;

pub use aggregate::{Account, AccountCommand, AccountEvent, LoginFailure, ADMIN_USERNAME};
pub use username::{account_id_for, Username};

#[cfg(test)]
mod tests;
