//! VM credentials: what the host hands to people who have no account. A credential opens that
//! VM's console and nothing else, until it is revoked or expires. Only a hash of its secret is
//! ever recorded.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::spec::display_name;
use crate::DomainError;

/// Live (unrevoked) credentials a VM may have at once.
pub const MAX_LIVE_CREDENTIALS: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    pub id: Uuid,
    pub name: String,
    pub issued_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked: bool,
}

impl Credential {
    /// Neither revoked nor expired at `now`.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        !self.revoked && self.expires_at.is_none_or(|at| at > now)
    }
}

pub fn parse_credential_name(raw: &str) -> Result<String, DomainError> {
    display_name("credential name", raw)
}

/// An expiry must lie ahead of the moment it is set.
pub fn check_expiry(
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    match expires_at {
        Some(at) if at <= now => Err(DomainError::bad_field(
            "expiresAt",
            "expiresAt must be in the future",
        )),
        _ => Ok(()),
    }
}
