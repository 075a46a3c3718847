//! Field guards: each GraphQL field says who may call it.

use async_graphql::{Context, Guard, Result};
use distribox_commands::{Actor, CommandError, ErrorCode, RequestContext};
use distribox_domain::policy::Policy;
use uuid::Uuid;

use crate::app::AppState;
use crate::error::ApiError;
use crate::reads::VmRow;

/// The access a field needs.
pub enum Access {
    /// Anyone, logged in or not (only `login`).
    Public,
    /// Any logged-in account, whatever its policies (only `logout`: nobody should be unable to
    /// end their own session).
    LoggedIn,
    /// A logged-in account holding the policy (or `distribox:admin`).
    Policy(Policy),
    /// A logged-in account holding the policy on the VM the field is about — globally, granted
    /// for that VM, or as its owner. The guard lets accounts through; the resolver (or the
    /// command it runs) checks the VM, answering `NOT_FOUND` for VMs the caller may not see.
    PerVm(Policy),
}

impl Access {
    pub fn policy(policy: Policy) -> Self {
        Access::Policy(policy)
    }

    pub fn vm(policy: Policy) -> Self {
        Access::PerVm(policy)
    }
}

impl Guard for Access {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        match self {
            Access::Public => Ok(()),
            Access::LoggedIn => match request(ctx)?.account_id() {
                Some(_) => Ok(()),
                None => Err(ApiError::new(ErrorCode::Unauthenticated, "log in first").into()),
            },
            Access::PerVm(policy) => {
                let caller = request(ctx)?;
                let Actor::Account {
                    id,
                    policies,
                    scoped,
                    ..
                } = &caller.actor
                else {
                    return caller
                        .authorize(*policy)
                        .map_err(|e| ApiError::from(e).into());
                };
                // Callers who can hold it on no VM at all are refused here, saying which
                // policy is missing (that reveals nothing about any VM).
                // (Seeing VMs needs no grant of its own: any grant shows that VM.)
                let listing = matches!(policy, Policy::VmsGet | Policy::VmsGetById);
                let granted_somewhere = policies.allows(*policy)
                    || scoped
                        .grants
                        .values()
                        .any(|set| listing || set.contains(*policy))
                    || ctx.data::<AppState>()?.reads.owns_any_vm(*id).await?;
                if granted_somewhere {
                    Ok(())
                } else {
                    Err(ApiError::from(CommandError::forbidden(*policy)).into())
                }
            }
            Access::Policy(policy) => {
                let request = request(ctx)?;
                request
                    .authorize(*policy)
                    .map_err(|e| ApiError::from(e).into())
            }
        }
    }
}

/// Checks `policy` on VM `vm` for the caller (see [`Access::PerVm`]); a VM the caller may
/// not see, or that does not exist, is `NOT_FOUND`.
pub async fn authorize_vm(ctx: &Context<'_>, policy: Policy, vm: Uuid) -> Result<VmRow> {
    let state = ctx.data::<AppState>()?;
    let row = state.reads.vm(vm).await?;
    request(ctx)?
        .authorize_vm(policy, vm, row.as_ref().map(|row| row.owner))
        .map_err(ApiError::from)?;
    Ok(row.ok_or_else(|| ApiError::not_found("VM"))?)
}

/// The caller of the current operation.
pub fn request<'a>(ctx: &'a Context<'_>) -> Result<&'a RequestContext> {
    ctx.data::<RequestContext>()
        .map_err(|_| ApiError::internal("request without a RequestContext").into())
}
