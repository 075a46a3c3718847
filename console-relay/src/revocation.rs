//! Ending live connections when the access behind them ends. Each console and subscription
//! socket registers the keys that can end it — `session:<id>` (logout), `account:<id>` (password
//! change, policies changed, disabled, deleted), `credential:<id>` (revoked), `vm:<id>`
//! (deleted) — and a revocation of any of them closes it at once, with the reason.
//!
//! A connection authorized before a revocation but registered after it (a console ticket
//! redeemed a few seconds later) must not escape: revocations are remembered for a while, and a
//! registration whose authorization is older than one of its keys' revocations is born revoked.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use tokio::sync::watch;

/// Why access ended, as the closed connection is told.
pub type Reason = String;

/// The connections registered under one key, by registration id.
type Registered = HashMap<u64, watch::Sender<Option<Reason>>>;

/// How long a revocation is remembered: longer than a console ticket lives (30 s by default)
/// plus any lag between authorizing a connection and registering it.
const REMEMBERED: Duration = Duration::from_secs(300);

#[derive(Default)]
pub struct Revocations {
    next: AtomicU64,
    live: Mutex<HashMap<String, Registered>>,
    /// Recent revocations: key → (when, why).
    recent: Mutex<HashMap<String, (Instant, Reason)>>,
}

/// One registered connection. Dropping it unregisters.
pub struct Revocable {
    id: u64,
    keys: Vec<String>,
    ended: watch::Receiver<Option<Reason>>,
    registry: Weak<Revocations>,
}

impl Revocations {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Registers a connection, authorized at `authorized_at`, that any of `keys` can end. If
    /// one of them was revoked after that moment, the connection is ended from the start.
    pub fn register(self: &Arc<Self>, keys: Vec<String>, authorized_at: Instant) -> Revocable {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let already = {
            let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
            recent.retain(|_, (at, _)| at.elapsed() < REMEMBERED);
            keys.iter()
                .filter_map(|key| recent.get(key))
                .find(|(at, _)| *at >= authorized_at)
                .map(|(_, reason)| reason.clone())
        };
        let (sender, ended) = watch::channel(already);
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        for key in &keys {
            live.entry(key.clone())
                .or_default()
                .insert(id, sender.clone());
        }
        Revocable {
            id,
            keys,
            ended,
            registry: Arc::downgrade(self),
        }
    }

    /// Ends every connection registered under `key`, and those authorized before now that
    /// register later; answers how many were open.
    pub fn revoke(&self, key: &str, reason: &str) -> usize {
        self.recent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.to_owned(), (Instant::now(), reason.to_owned()));
        let live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        let Some(connections) = live.get(key) else {
            return 0;
        };
        for sender in connections.values() {
            sender.send_replace(Some(reason.to_owned()));
        }
        connections.len()
    }
}

impl Revocable {
    /// Resolves with the reason once any of the connection's keys is revoked.
    pub async fn revoked(&mut self) -> Reason {
        loop {
            if let Some(reason) = self.ended.borrow_and_update().clone() {
                return reason;
            }
            if self.ended.changed().await.is_err() {
                // The registry is gone: nothing can revoke any more.
                std::future::pending::<()>().await;
            }
        }
    }
}

impl Drop for Revocable {
    fn drop(&mut self) {
        let Some(registry) = self.registry.upgrade() else {
            return;
        };
        let mut live = registry.live.lock().unwrap_or_else(|p| p.into_inner());
        for key in &self.keys {
            if let Some(connections) = live.get_mut(key) {
                connections.remove(&self.id);
                if connections.is_empty() {
                    live.remove(key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// How many connections are registered (each counted once).
    fn registered(registry: &Revocations) -> usize {
        let live = registry.live.lock().unwrap();
        let mut ids: Vec<u64> = live.values().flat_map(|c| c.keys().copied()).collect();
        ids.sort_unstable();
        ids.dedup();
        ids.len()
    }

    #[tokio::test]
    async fn a_revoked_key_ends_its_connections_only_and_dropping_unregisters() {
        let registry = Revocations::new();
        let now = Instant::now();
        let mut alice = registry.register(vec!["session:1".into(), "account:a".into()], now);
        let mut bob = registry.register(vec!["session:2".into(), "account:b".into()], now);
        assert_eq!(registered(&registry), 2);
        assert_eq!(registry.revoke("account:a", "password changed"), 1);
        assert_eq!(alice.revoked().await, "password changed");
        let still_open = tokio::time::timeout(Duration::from_millis(50), bob.revoked()).await;
        assert!(still_open.is_err());
        drop(alice);
        assert_eq!(registry.revoke("session:1", "logged out"), 0);
        assert_eq!(registered(&registry), 1);
        drop(bob);
        assert_eq!(registered(&registry), 0);
    }

    #[tokio::test]
    async fn a_connection_authorized_before_a_revocation_is_born_revoked() {
        let registry = Revocations::new();
        let authorized = Instant::now();
        registry.revoke("credential:c", "the credential was revoked");
        let mut late = registry.register(vec!["credential:c".into()], authorized);
        assert_eq!(late.revoked().await, "the credential was revoked");
        // Authorized after the revocation (a new login, a new credential): not affected.
        let mut fresh = registry.register(vec!["credential:c".into()], Instant::now());
        let open = tokio::time::timeout(Duration::from_millis(50), fresh.revoked()).await;
        assert!(open.is_err());
    }
}
