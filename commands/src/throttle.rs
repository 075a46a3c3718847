//! Login throttling: after too many failures in a window, for one account or from one client
//! address, further attempts are refused before any password is checked — they cost the server
//! nothing and tell the attacker nothing — until the window ends. Every attempt is counted
//! before it is checked, and a success takes its count back: clearing the account's, and
//! giving the address one attempt back (not all: one right guess must not reset a spray).

use std::time::Duration;

use sqlx::PgPool;

use crate::{CommandError, ErrorCode};

/// How many failures a key may have in one window.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub failures: i32,
    pub window: Duration,
}

#[derive(Debug, Clone, Copy)]
pub struct LoginLimits {
    /// Guessing one account's password.
    pub per_account: Limit,
    /// One address trying many accounts (password spraying).
    pub per_address: Limit,
}

impl Default for LoginLimits {
    fn default() -> Self {
        let window = Duration::from_secs(15 * 60);
        Self {
            per_account: Limit {
                failures: 5,
                window,
            },
            per_address: Limit {
                failures: 20,
                window,
            },
        }
    }
}

/// The keys one attempt counts against, each with its limit.
pub(crate) struct Keys {
    keys: Vec<(String, Limit)>,
}

impl Keys {
    pub(crate) fn new(limits: &LoginLimits, username: &str, address: Option<&str>) -> Self {
        // Usernames are at most 32 characters; anything longer is cut, not stored whole.
        let username: String = username.trim().to_lowercase().chars().take(64).collect();
        let mut keys = vec![(format!("account:{username}"), limits.per_account)];
        if let Some(address) = address {
            keys.push((format!("address:{address}"), limits.per_address));
        }
        Self { keys }
    }

    /// Wrong credential secrets, counted per client address apart from logins.
    pub(crate) fn for_credentials(limits: &LoginLimits, address: Option<&str>) -> Self {
        let keys = address
            .map(|address| vec![(format!("credential-address:{address}"), limits.per_address)])
            .unwrap_or_default();
        Self { keys }
    }

    /// Counts this attempt against every key before anything is checked — so concurrent
    /// attempts can't all slip under the limit — and refuses with `RATE_LIMITED` once a key has
    /// more than its limit in the current window (a new window starts where the old one ended).
    pub(crate) async fn reserve(&self, pool: &PgPool) -> Result<(), CommandError> {
        let mut over = false;
        for (key, limit) in &self.keys {
            let attempts: i32 = sqlx::query_scalar(
                "INSERT INTO login_throttle AS t (key, failures, window_started)
                 VALUES ($1, 1, now())
                 ON CONFLICT (key) DO UPDATE SET
                   failures = CASE WHEN t.window_started > now() - make_interval(secs => $2)
                                   THEN t.failures + 1 ELSE 1 END,
                   window_started = CASE WHEN t.window_started > now() - make_interval(secs => $2)
                                         THEN t.window_started ELSE now() END
                 RETURNING failures",
            )
            .bind(key)
            .bind(limit.window.as_secs_f64())
            .fetch_one(pool)
            .await?;
            over |= attempts > limit.failures;
        }
        if over {
            return Err(CommandError::refused(
                ErrorCode::RateLimited,
                "too many failed logins; try again later",
            ));
        }
        Ok(())
    }

    /// A success was no failure: it clears the account's count and gives the address its
    /// attempt back.
    pub(crate) async fn succeeded(&self, pool: &PgPool) -> Result<(), CommandError> {
        for (key, _) in &self.keys {
            if key.starts_with("account:") {
                sqlx::query("DELETE FROM login_throttle WHERE key = $1")
                    .bind(key)
                    .execute(pool)
                    .await?;
            } else {
                sqlx::query(
                    "UPDATE login_throttle SET failures = greatest(failures - 1, 0) WHERE key = $1",
                )
                .bind(key)
                .execute(pool)
                .await?;
            }
        }
        Ok(())
    }
}
