//! Ends live connections when the log says the access behind them ended. A projection like any
//! other, so every process sees every revocation, in order, right after it commits; replaying
//! old events after a restart finds no connections to end.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use cqrs_es::Aggregate;
use distribox_console_relay::Revocations;
use distribox_domain::account::{Account, AccountEvent};
use distribox_domain::vm::{Vm, VmEvent};
use distribox_projections::runner::Projection;
use distribox_projections::{ProjectionError, StoredEvent};
use sqlx::PgConnection;

pub struct Revoker {
    revocations: Arc<Revocations>,
    /// (key, reason) to revoke once the batch has committed.
    pending: Mutex<Vec<(String, &'static str)>>,
}

impl Revoker {
    pub fn new(revocations: Arc<Revocations>) -> Self {
        Self {
            revocations,
            pending: Mutex::new(Vec::new()),
        }
    }
}

/// Which connections an event ends, and why.
fn revoked_by(event: &StoredEvent) -> Result<Option<(String, &'static str)>, ProjectionError> {
    let id = &event.aggregate_id;
    let revoked = if event.aggregate_type == Account::TYPE {
        match event.decode::<AccountEvent>()? {
            AccountEvent::LoggedOut { session_id } => {
                Some((format!("session:{session_id}"), "logged out"))
            }
            AccountEvent::PasswordChanged { .. } => {
                Some((format!("account:{id}"), "the password was changed"))
            }
            // What the open connections were authorized with may be gone: they reconnect and
            // are checked again.
            AccountEvent::PoliciesSet { .. } | AccountEvent::PolicyRevoked { .. } => {
                Some((format!("account:{id}"), "the account's policies changed"))
            }
            AccountEvent::AccountDisabled => {
                Some((format!("account:{id}"), "the account was disabled"))
            }
            AccountEvent::AccountDeleted => {
                Some((format!("account:{id}"), "the account was deleted"))
            }
            _ => None,
        }
    } else if event.aggregate_type == Vm::TYPE {
        match event.decode::<VmEvent>()? {
            VmEvent::VmCredentialRevoked { id } => {
                Some((format!("credential:{id}"), "the credential was revoked"))
            }
            VmEvent::VmDeleteRequested => Some((format!("vm:{id}"), "the VM is being deleted")),
            _ => None,
        }
    } else {
        None
    };
    Ok(revoked)
}

#[async_trait]
impl Projection for Revoker {
    fn name(&self) -> &'static str {
        "revocations"
    }

    async fn apply(
        &self,
        _tx: &mut PgConnection,
        event: &StoredEvent,
    ) -> Result<(), ProjectionError> {
        if let Some(revoked) = revoked_by(event)? {
            self.pending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(revoked);
        }
        Ok(())
    }

    fn committed(&self) {
        let pending = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        for (key, reason) in pending {
            let closed = self.revocations.revoke(&key, reason);
            if closed > 0 {
                tracing::info!(%key, closed, reason, "closed connections whose access ended");
            }
        }
    }

    fn discarded(&self) {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}
