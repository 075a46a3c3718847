//! VM credentials: issued with a secret shown once (only its hash is recorded), revoked, and
//! exchanged for a console — the one thing a credential can do. Wrong secrets are throttled per
//! client address like logins, and recorded.

use chrono::{DateTime, Utc};
use distribox_domain::access::AccessCommand;
use distribox_domain::policy::Policy;
use distribox_domain::vm::VmCommand;
use uuid::Uuid;

use crate::secrets::{random_token, token_hash};
use crate::throttle::Keys;
use crate::{CommandBus, CommandError, Committed, ErrorCode, RequestContext};

/// A new credential and its secret, which is never shown again.
#[derive(Debug, Clone)]
pub struct IssuedCredential {
    pub id: Uuid,
    pub secret: String,
    pub committed: Committed,
}

/// What a valid secret grants: a console of one VM, as that credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CredentialGrant {
    pub credential: Uuid,
    pub vm: Uuid,
    pub expires_at: Option<DateTime<Utc>>,
}

/// The form a credential secret is recorded and looked up in.
fn secret_hash(secret: &str) -> String {
    hex::encode(token_hash(secret))
}

impl CommandBus {
    /// `vms:credentials:create` on VM `vm`, and `vms:connect` there too: a credential opens
    /// its console, so handing one out must not give more than the issuer has.
    pub async fn issue_vm_credential(
        &self,
        ctx: &RequestContext,
        vm: Uuid,
        name: String,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<IssuedCredential, CommandError> {
        ctx.authorize_vm(Policy::VmsConnect, vm, self.vm_owner(vm).await?)?;
        let id = Uuid::new_v4();
        let secret = random_token();
        let command = VmCommand::IssueCredential {
            id,
            name,
            secret_hash: secret_hash(&secret),
            expires_at,
            at: Utc::now(),
        };
        let committed = self.vm_command(ctx, vm, command).await?;
        Ok(IssuedCredential {
            id,
            secret,
            committed,
        })
    }

    /// Checks a credential secret. Unknown, revoked and expired secrets get one answer, count
    /// against the caller's address and are recorded; too many and even a good one is refused.
    pub async fn redeem_credential(
        &self,
        ctx: &RequestContext,
        secret: &str,
    ) -> Result<CredentialGrant, CommandError> {
        let throttle = Keys::for_credentials(&self.login_limits, ctx.client_addr.as_deref());
        if let Err(refused) = throttle.reserve(&self.pool).await {
            self.record_attempt(
                ctx,
                AccessCommand::RecordCredentialRefused { throttled: true },
            )
            .await?;
            return Err(refused);
        }
        let grant: Option<(Uuid, Uuid, Option<DateTime<Utc>>)> = sqlx::query_as(
            "UPDATE vm_credentials SET last_used_at = now()
              WHERE secret_hash = $1 AND revoked_at IS NULL
                AND (expires_at IS NULL OR expires_at > now())
              RETURNING id, vm_id, expires_at",
        )
        .bind(secret_hash(secret))
        .fetch_optional(&self.pool)
        .await?;
        match grant {
            Some((credential, vm, expires_at)) => {
                throttle.succeeded(&self.pool).await?;
                Ok(CredentialGrant {
                    credential,
                    vm,
                    expires_at,
                })
            }
            None => {
                self.record_attempt(
                    ctx,
                    AccessCommand::RecordCredentialRefused { throttled: false },
                )
                .await?;
                Err(CommandError::refused(
                    ErrorCode::Unauthenticated,
                    "this credential is not valid (wrong, revoked or expired)",
                ))
            }
        }
    }
}
