//! Login throttling: after too many failures in a window, for one account or from one client
//! address, further attempts are refused before any password is checked — they cost the server
//! nothing and tell the attacker nothing — until the window ends. A success clears the
//! account's count (not the address's: one right guess must not reset a spray).

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
        let mut keys = vec![(
            format!("account:{}", username.trim().to_lowercase()),
            limits.per_account,
        )];
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

    /// Refuses with `RATE_LIMITED` if any key has used up its window.
    pub(crate) async fn check(&self, pool: &PgPool) -> Result<(), CommandError> {
        for (key, limit) in &self.keys {
            let blocked: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM login_throttle
                   WHERE key = $1 AND failures >= $2
                     AND window_started > now() - make_interval(secs => $3))",
            )
            .bind(key)
            .bind(limit.failures)
            .bind(limit.window.as_secs_f64())
            .fetch_one(pool)
            .await?;
            if blocked {
                return Err(CommandError::refused(
                    ErrorCode::RateLimited,
                    "too many failed logins; try again later",
                ));
            }
        }
        Ok(())
    }

    /// Counts a failure against every key, starting a new window where the old one ended.
    pub(crate) async fn failed(&self, pool: &PgPool) -> Result<(), CommandError> {
        for (key, limit) in &self.keys {
            sqlx::query(
                "INSERT INTO login_throttle AS t (key, failures, window_started)
                 VALUES ($1, 1, now())
                 ON CONFLICT (key) DO UPDATE SET
                   failures = CASE WHEN t.window_started > now() - make_interval(secs => $2)
                                   THEN t.failures + 1 ELSE 1 END,
                   window_started = CASE WHEN t.window_started > now() - make_interval(secs => $2)
                                         THEN t.window_started ELSE now() END",
            )
            .bind(key)
            .bind(limit.window.as_secs_f64())
            .execute(pool)
            .await?;
        }
        Ok(())
    }

    /// A successful login clears the account's count.
    pub(crate) async fn succeeded(&self, pool: &PgPool) -> Result<(), CommandError> {
        if let Some((key, _)) = self
            .keys
            .first()
            .filter(|(key, _)| key.starts_with("account:"))
        {
            sqlx::query("DELETE FROM login_throttle WHERE key = $1")
                .bind(key)
                .execute(pool)
                .await?;
        }
        Ok(())
    }
}
