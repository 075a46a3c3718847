use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::DomainError;

/// Fixed namespace for deriving account ids from usernames; never change it.
const ACCOUNT_NAMESPACE: Uuid = Uuid::from_u128(0x6d1f_0c2a_5a8e_4f0b_9c51_3b7e_2f4d_a001);

/// A login name: 1–32 characters of `a-z 0-9 . _ -`, starting with a letter or digit, compared
/// case-insensitively (stored lower-case).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let name = raw.trim().to_lowercase();
        let valid_chars = name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
        let valid_start = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric());
        if name.is_empty() || name.len() > 32 || !valid_chars || !valid_start {
            return Err(DomainError::bad_field(
                "username",
                "username must be 1-32 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit",
            ));
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The aggregate id of the account with this username.
pub fn account_id_for(username: &Username) -> Uuid {
    Uuid::new_v5(&ACCOUNT_NAMESPACE, username.as_str().as_bytes())
}
