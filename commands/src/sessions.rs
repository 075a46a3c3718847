//! Login sessions: opaque 256-bit bearer tokens, stored only as SHA-256, with an idle timeout and
//! an absolute lifetime.

use std::time::Duration;

use distribox_domain::policy::{PolicySet, ScopedPolicies};
use uuid::Uuid;

use crate::secrets::{random_token, token_hash};
use crate::{Actor, CommandBus, CommandError, ErrorCode};

#[derive(Debug, Clone, Copy)]
pub struct SessionLifetimes {
    /// A session unused for this long is dead.
    pub idle: Duration,
    /// No session lives longer than this, however active.
    pub absolute: Duration,
}

impl Default for SessionLifetimes {
    fn default() -> Self {
        Self {
            idle: Duration::from_secs(2 * 3600),
            absolute: Duration::from_secs(12 * 3600),
        }
    }
}

/// A live session and what its account may do.
#[derive(sqlx::FromRow)]
struct SessionRow {
    session: Uuid,
    account: Uuid,
    username: String,
    policies: Vec<String>,
    scoped: sqlx::types::Json<ScopedPolicies>,
    /// `last_seen_at` is due for a refresh.
    stale: bool,
}

/// `last_seen_at` is refreshed at most this often, so busy clients don't write on every request.
const TOUCH_INTERVAL_SECS: f64 = 30.0;

impl SessionLifetimes {
    /// How stale `last_seen_at` may get: never so stale that an active session looks idle.
    fn touch_interval_secs(&self) -> f64 {
        TOUCH_INTERVAL_SECS.min(self.idle.as_secs_f64() / 4.0)
    }
}

impl CommandBus {
    /// Stores a new session for `account_id` and returns its id and bearer token.
    pub(crate) async fn open_session(
        &self,
        session_id: Uuid,
        account_id: Uuid,
    ) -> Result<String, CommandError> {
        let token = random_token();
        sqlx::query(
            "INSERT INTO sessions (token_hash, id, account_id, expires_at)
             VALUES ($1, $2, $3, now() + make_interval(secs => $4))",
        )
        .bind(token_hash(&token))
        .bind(session_id)
        .bind(account_id)
        .bind(self.sessions.absolute.as_secs_f64())
        .execute(&self.pool)
        .await?;
        Ok(token)
    }

    /// Resolves a bearer token to its session and the account it belongs to, with that
    /// account's current policies. Unknown, revoked, idle and expired tokens, tokens of a
    /// disabled or deleted account and tokens older than its last password change all get the
    /// same answer.
    pub async fn authenticate(&self, token: &str) -> Result<(Actor, Uuid), CommandError> {
        let row: Option<SessionRow> = sqlx::query_as(
            "SELECT s.id AS session, a.id AS account, a.username, a.policies, a.scoped,
                    s.last_seen_at < now() - make_interval(secs => $3) AS stale
               FROM sessions s JOIN accounts a ON a.id = s.account_id
              WHERE s.token_hash = $1
                AND s.revoked_at IS NULL
                AND s.expires_at > now()
                AND s.last_seen_at > now() - make_interval(secs => $2)
                AND NOT a.disabled
                AND (a.sessions_valid_after IS NULL OR s.created_at > a.sessions_valid_after)",
        )
        .bind(token_hash(token))
        .bind(self.sessions.idle.as_secs_f64())
        .bind(self.sessions.touch_interval_secs())
        .fetch_optional(&self.pool)
        .await?;
        let Some(SessionRow {
            session,
            account,
            username,
            policies,
            scoped,
            stale,
        }) = row
        else {
            return Err(CommandError::refused(
                ErrorCode::Unauthenticated,
                "invalid or expired session",
            ));
        };
        if stale {
            sqlx::query("UPDATE sessions SET last_seen_at = now() WHERE token_hash = $1")
                .bind(token_hash(token))
                .execute(&self.pool)
                .await?;
        }
        // Policies in the read model were validated when they were granted; an unknown name here
        // would mean a newer Distribox wrote it, and granting nothing for it is the safe reading.
        let policies: PolicySet = policies.iter().filter_map(|p| p.parse().ok()).collect();
        let actor = Actor::Account {
            id: account,
            username,
            policies,
            scoped: scoped.0,
        };
        Ok((actor, session))
    }

    /// Ends session `id` (logout). Ending it twice is harmless.
    pub(crate) async fn revoke_session(&self, id: Uuid) -> Result<(), CommandError> {
        sqlx::query("UPDATE sessions SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
