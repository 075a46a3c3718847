//! Ending live connections when the access behind them ends. Each console and subscription
//! socket registers the keys that can end it — `session:<id>` (logout), `account:<id>` (password
//! change, disabled, deleted), `credential:<id>` (revoked), `vm:<id>` (deleted) — and a
//! revocation of any of them closes it at once, with the reason.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::watch;

/// Why access ended, as the closed connection is told.
pub type Reason = String;

/// The connections registered under one key, by registration id.
type Registered = HashMap<u64, watch::Sender<Option<Reason>>>;

#[derive(Default)]
pub struct Revocations {
    next: AtomicU64,
    live: Mutex<HashMap<String, Registered>>,
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

    /// Registers a connection that any of `keys` can end.
    pub fn register(self: &Arc<Self>, keys: Vec<String>) -> Revocable {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (sender, ended) = watch::channel(None);
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

    /// Ends every connection registered under `key`; answers how many.
    pub fn revoke(&self, key: &str, reason: &str) -> usize {
        let live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        let Some(connections) = live.get(key) else {
            return 0;
        };
        for sender in connections.values() {
            sender.send_replace(Some(reason.to_owned()));
        }
        connections.len()
    }

    /// How many connections are registered (each counted once).
    pub fn len(&self) -> usize {
        let live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        let mut ids: Vec<u64> = live.values().flat_map(|c| c.keys().copied()).collect();
        ids.sort_unstable();
        ids.dedup();
        ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
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

    #[tokio::test]
    async fn a_revoked_key_ends_its_connections_only_and_dropping_unregisters() {
        let registry = Revocations::new();
        let mut alice = registry.register(vec!["session:1".into(), "account:a".into()]);
        let mut bob = registry.register(vec!["session:2".into(), "account:b".into()]);
        assert_eq!(registry.len(), 2);
        assert_eq!(registry.revoke("account:a", "password changed"), 1);
        assert_eq!(alice.revoked().await, "password changed");
        let still_open = tokio::time::timeout(Duration::from_millis(50), bob.revoked()).await;
        assert!(still_open.is_err());
        drop(alice);
        assert_eq!(registry.revoke("session:1", "logged out"), 0);
        assert_eq!(registry.len(), 1);
        drop(bob);
        assert!(registry.is_empty());
    }
}
