//! Console tickets: 256 random bits, about 30 seconds to live, single use, bound to the principal,
//! VM and console kind they were issued for. Only their SHA-256 is kept, so a memory dump or a
//! log line never yields a usable ticket.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use distribox_domain::console::ConsoleKind;
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub const TICKET_TTL: Duration = Duration::from_secs(30);

/// What a ticket grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    pub vm_id: Uuid,
    pub kind: ConsoleKind,
    /// Who asked for it, as recorded in the audit log (`account:<id>`, `credential:<id>`).
    pub principal: String,
    /// What ends the console once open (see [`crate::Revocations`]).
    pub revoked_by: Vec<String>,
    /// When the access behind it runs out (a credential's expiry), if ever.
    pub ends_at: Option<chrono::DateTime<chrono::Utc>>,
    /// When the caller's access was checked: a revocation after it ends the console even if
    /// the ticket is redeemed later.
    pub authorized_at: Instant,
    /// Watch only: what this viewer types is dropped.
    pub view_only: bool,
}

/// A ticket as handed to the client, once.
#[derive(Debug, Clone)]
pub struct IssuedTicket {
    pub secret: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TicketError {
    /// Unknown, already used or expired: indistinguishable on purpose.
    #[error("invalid or expired console ticket")]
    Invalid,
}

#[derive(Debug)]
pub struct TicketStore {
    tickets: Mutex<HashMap<[u8; 32], (Ticket, Instant)>>,
    ttl: Duration,
}

fn hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

impl TicketStore {
    /// A store whose tickets live `ttl` ([`TICKET_TTL`] unless configured otherwise).
    pub fn new(ttl: Duration) -> Self {
        Self {
            tickets: Mutex::default(),
            ttl,
        }
    }

    pub fn issue(&self, ticket: Ticket) -> IssuedTicket {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let secret = URL_SAFE_NO_PAD.encode(bytes);
        let now = Instant::now();
        let mut tickets = self.tickets.lock().expect("ticket store");
        // Expired tickets are dropped here, so the map never outgrows the issue rate × TTL.
        tickets.retain(|_, (_, expires)| *expires > now);
        tickets.insert(hash(&secret), (ticket, now + self.ttl));
        let ttl = chrono::Duration::from_std(self.ttl).unwrap_or(chrono::Duration::seconds(30));
        IssuedTicket {
            secret,
            expires_at: chrono::Utc::now() + ttl,
        }
    }

    /// Consumes a ticket: a second redemption of the same secret fails.
    pub fn redeem(&self, secret: &str) -> Result<Ticket, TicketError> {
        let mut tickets = self.tickets.lock().expect("ticket store");
        match tickets.remove(&hash(secret)) {
            Some((ticket, expires)) if expires > Instant::now() => Ok(ticket),
            _ => Err(TicketError::Invalid),
        }
    }
}

/// The first few characters of a secret, for logs that must not carry the secret itself.
pub(crate) fn masked(secret: &str) -> String {
    let prefix: String = secret.chars().take(4).collect();
    format!("{prefix}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket() -> Ticket {
        Ticket {
            vm_id: Uuid::new_v4(),
            kind: ConsoleKind::Serial,
            principal: "account:x".to_owned(),
            revoked_by: vec!["account:x".to_owned()],
            ends_at: None,
            authorized_at: Instant::now(),
            view_only: false,
        }
    }

    #[test]
    fn a_ticket_works_once() {
        let store = TicketStore::new(TICKET_TTL);
        let t = ticket();
        let issued = store.issue(t.clone());
        assert!(issued.secret.len() >= 43, "256 bits of base64");
        assert_eq!(store.redeem(&issued.secret), Ok(t));
        assert_eq!(store.redeem(&issued.secret), Err(TicketError::Invalid));
        assert_eq!(store.redeem("made-up"), Err(TicketError::Invalid));
    }

    #[test]
    fn an_expired_ticket_is_refused() {
        let store = TicketStore::new(Duration::from_millis(20));
        let issued = store.issue(ticket());
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(store.redeem(&issued.secret), Err(TicketError::Invalid));
    }

    #[test]
    fn masking_keeps_only_a_prefix() {
        assert_eq!(masked("abcdefgh"), "abcd…");
    }
}
