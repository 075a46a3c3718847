//! Field guards: each GraphQL field says who may call it.

use async_graphql::{Context, Guard, Result};
use distribox_commands::{ErrorCode, RequestContext};
use distribox_domain::policy::Policy;

use crate::error::ApiError;

/// The access a field needs.
pub enum Access {
    /// Anyone, logged in or not (only `login`).
    Public,
    /// Any logged-in account, whatever its policies (only `logout`: nobody should be unable to
    /// end their own session).
    LoggedIn,
    /// A logged-in account holding the policy (or `distribox:admin`).
    Policy(Policy),
}

impl Access {
    pub fn policy(policy: Policy) -> Self {
        Access::Policy(policy)
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
            Access::Policy(policy) => {
                let request = request(ctx)?;
                request
                    .authorize(*policy)
                    .map_err(|e| ApiError::from(e).into())
            }
        }
    }
}

/// The caller of the current operation.
pub fn request<'a>(ctx: &'a Context<'_>) -> Result<&'a RequestContext> {
    ctx.data::<RequestContext>()
        .map_err(|_| ApiError::internal("request without a RequestContext").into())
}
