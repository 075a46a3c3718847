use async_trait::async_trait;
use cqrs_es::Aggregate;
use distribox_domain::account::{Account, AccountEvent};
use distribox_domain::policy::{PolicySet, ScopedPolicies};
use sqlx::PgConnection;

use crate::runner::Projection;
use crate::{ProjectionError, StoredEvent};

/// Applies `change` to account `id`'s global and per-VM policies.
async fn change_policies(
    tx: &mut PgConnection,
    id: uuid::Uuid,
    sequence: i64,
    change: impl FnOnce(&mut PolicySet, &mut ScopedPolicies),
) -> Result<(), ProjectionError> {
    let (policies, scoped): (Vec<String>, serde_json::Value) =
        sqlx::query_as("SELECT policies, scoped FROM accounts WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
    let mut policies =
        PolicySet::parse(&policies).map_err(|e| ProjectionError::Other(e.message))?;
    let mut scoped: ScopedPolicies =
        serde_json::from_value(scoped).map_err(|e| ProjectionError::Other(e.to_string()))?;
    change(&mut policies, &mut scoped);
    let policies: Vec<String> = policies.iter().map(String::from).collect();
    let scoped =
        serde_json::to_value(&scoped).map_err(|e| ProjectionError::Other(e.to_string()))?;
    sqlx::query("UPDATE accounts SET policies = $2, scoped = $3, version = $4 WHERE id = $1")
        .bind(id)
        .bind(policies)
        .bind(scoped)
        .bind(sequence)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// The `accounts` table: who can log in, with which password hash and policies.
pub struct AccountsProjection;

#[async_trait]
impl Projection for AccountsProjection {
    fn name(&self) -> &'static str {
        "accounts"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["accounts"]
    }

    async fn apply(
        &self,
        tx: &mut PgConnection,
        event: &StoredEvent,
    ) -> Result<(), ProjectionError> {
        if event.aggregate_type != Account::TYPE {
            return Ok(());
        }
        let id = event.aggregate_uuid()?;
        match event.decode::<AccountEvent>()? {
            AccountEvent::AccountCreated {
                username,
                password_hash,
                policies,
            } => {
                let policies: Vec<String> = policies.iter().map(String::from).collect();
                sqlx::query(
                    "INSERT INTO accounts (id, username, password_hash, policies, version, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(id)
                .bind(username.as_str())
                .bind(password_hash)
                .bind(policies)
                .bind(event.sequence)
                .bind(event.recorded_at)
                .execute(&mut *tx)
                .await?;
            }
            AccountEvent::PoliciesSet { policies } => {
                let policies: Vec<String> = policies.iter().map(String::from).collect();
                sqlx::query("UPDATE accounts SET policies = $2, version = $3 WHERE id = $1")
                    .bind(id)
                    .bind(policies)
                    .bind(event.sequence)
                    .execute(&mut *tx)
                    .await?;
            }
            AccountEvent::PolicyGranted { policy, vm } => {
                change_policies(tx, id, event.sequence, |policies, scoped| match vm {
                    Some(vm) => scoped.grant(policy, vm),
                    None => {
                        policies.insert(policy);
                    }
                })
                .await?;
            }
            AccountEvent::PolicyRevoked { policy, vm } => {
                change_policies(tx, id, event.sequence, |policies, scoped| match vm {
                    Some(vm) => scoped.revoke(policy, vm),
                    None => {
                        policies.remove(policy);
                    }
                })
                .await?;
            }
            AccountEvent::PasswordChanged { password_hash } => {
                sqlx::query(
                    "UPDATE accounts SET password_hash = $2, sessions_valid_after = $3, version = $4
                      WHERE id = $1",
                )
                .bind(id)
                .bind(password_hash)
                .bind(event.recorded_at)
                .bind(event.sequence)
                .execute(&mut *tx)
                .await?;
            }
            AccountEvent::AccountDisabled => {
                sqlx::query(
                    "UPDATE accounts SET disabled = true, sessions_valid_after = $2, version = $3
                      WHERE id = $1",
                )
                .bind(id)
                .bind(event.recorded_at)
                .bind(event.sequence)
                .execute(&mut *tx)
                .await?;
            }
            // Sessions ended by the disable stay ended: `sessions_valid_after` is kept.
            AccountEvent::AccountEnabled => {
                sqlx::query("UPDATE accounts SET disabled = false, version = $2 WHERE id = $1")
                    .bind(id)
                    .bind(event.sequence)
                    .execute(&mut *tx)
                    .await?;
            }
            // Its sessions die with the row: authentication joins on it.
            AccountEvent::AccountDeleted => {
                sqlx::query("DELETE FROM accounts WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            AccountEvent::LoggedIn { .. }
            | AccountEvent::LoginFailed { .. }
            | AccountEvent::LoggedOut { .. } => {
                sqlx::query("UPDATE accounts SET version = $2 WHERE id = $1")
                    .bind(id)
                    .bind(event.sequence)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        Ok(())
    }
}
