//! What is done to accounts after they exist: creation by an administrator, policies, password
//! changes, disabling, deletion and logging out. Each command states its policy next to it.

use distribox_domain::account::{account_id_for, AccountCommand, Username};
use distribox_domain::policy::{Policy, PolicySet};
use uuid::Uuid;

use crate::secrets::{generated_password, hash_password, verify_password};
use crate::{CommandBus, CommandError, Committed, ErrorCode, RequestContext};

/// How long a human password may be. The upper bound keeps argon2's input sane.
const PASSWORD_CHARS: std::ops::RangeInclusive<usize> = 10..=1024;

/// A new account, and its password when Distribox generated it (shown once).
#[derive(Debug, Clone)]
pub struct CreatedAccount {
    pub id: Uuid,
    pub committed: Committed,
    pub generated_password: Option<String>,
}

/// `field` is the argument the password came in (`password`, `new`).
fn check_password(field: &'static str, password: &str) -> Result<(), CommandError> {
    if PASSWORD_CHARS.contains(&password.chars().count()) {
        Ok(())
    } else {
        Err(CommandError::bad_field(
            field,
            format!(
                "password must be {} to {} characters",
                PASSWORD_CHARS.start(),
                PASSWORD_CHARS.end()
            ),
        ))
    }
}

/// Only `distribox:admin` may hand out `distribox:admin`: everybody else could make themselves
/// all-powerful through a second account. `field` is the argument the names came in.
fn check_grantable(
    ctx: &RequestContext,
    field: &'static str,
    policies: &[String],
) -> Result<(), CommandError> {
    let grants_admin = PolicySet::parse(policies)
        .map_err(|e| e.in_field(field))?
        .iter()
        .any(|policy| policy == Policy::DistriboxAdmin);
    if grants_admin {
        ctx.authorize(Policy::DistriboxAdmin)?;
    }
    Ok(())
}

impl CommandBus {
    /// `users:create`. Without `password`, one is generated and returned once.
    pub async fn create_account(
        &self,
        ctx: &RequestContext,
        username: &str,
        password: Option<String>,
        policies: Vec<String>,
    ) -> Result<CreatedAccount, CommandError> {
        ctx.authorize(Policy::UsersCreate)?;
        let name = Username::parse(username)?;
        check_grantable(ctx, "policies", &policies)?;
        if let Some(password) = &password {
            check_password("password", password)?;
        }
        let generated = password.is_none();
        let password = password.unwrap_or_else(generated_password);
        let shown = password.clone();
        let password_hash = self.password_work(move || hash_password(&password)).await?;
        let id = account_id_for(&name);
        let command = AccountCommand::Create {
            username: name.as_str().to_owned(),
            password_hash,
            policies,
        };
        let committed = self.execute_account(ctx, &id.to_string(), command).await?;
        Ok(CreatedAccount {
            id,
            committed,
            generated_password: generated.then_some(shown),
        })
    }

    /// `users:updatePolicies`: replaces account `id`'s global policies.
    pub async fn set_account_policies(
        &self,
        ctx: &RequestContext,
        id: Uuid,
        policies: Vec<String>,
    ) -> Result<Committed, CommandError> {
        ctx.authorize(Policy::UsersUpdatePolicies)?;
        check_grantable(ctx, "policies", &policies)?;
        // Taking `distribox:admin` away is as strong as giving it.
        if self.holds_admin(id).await? {
            ctx.authorize(Policy::DistriboxAdmin)?;
        }
        let command = AccountCommand::SetPolicies { policies };
        self.execute_account(ctx, &id.to_string(), command).await
    }

    /// `users:updatePolicies`: grants (`grant`) or takes away `policy` from account `id`,
    /// globally or (`vm`) on one VM — taking away on a VM covers an owner's right there too.
    /// Changing an account that holds `distribox:admin` needs `distribox:admin`.
    pub async fn change_policy(
        &self,
        ctx: &RequestContext,
        id: Uuid,
        policy: String,
        vm: Option<Uuid>,
        grant: bool,
    ) -> Result<Committed, CommandError> {
        ctx.authorize(Policy::UsersUpdatePolicies)?;
        check_grantable(ctx, "policy", std::slice::from_ref(&policy))?;
        if self.holds_admin(id).await? {
            ctx.authorize(Policy::DistriboxAdmin)?;
        }
        self.require_vm(vm).await?;
        let command = if grant {
            AccountCommand::Grant { policy, vm }
        } else {
            AccountCommand::Revoke { policy, vm }
        };
        self.execute_account(ctx, &id.to_string(), command).await
    }

    /// `users:updatePolicies`: grants every one of `policies` to account `id`, globally or
    /// (`vm`) on one VM, in one change: all of them or, if one is refused, none.
    pub async fn grant_policies(
        &self,
        ctx: &RequestContext,
        id: Uuid,
        policies: Vec<String>,
        vm: Option<Uuid>,
    ) -> Result<Committed, CommandError> {
        ctx.authorize(Policy::UsersUpdatePolicies)?;
        check_grantable(ctx, "policies", &policies)?;
        if self.holds_admin(id).await? {
            ctx.authorize(Policy::DistriboxAdmin)?;
        }
        self.require_vm(vm).await?;
        let command = AccountCommand::GrantAll { policies, vm };
        self.execute_account(ctx, &id.to_string(), command).await
    }

    async fn require_vm(&self, vm: Option<Uuid>) -> Result<(), CommandError> {
        match vm {
            Some(vm) if self.vm_owner(vm).await?.is_none() => {
                Err(CommandError::refused(ErrorCode::NotFound, "VM not found"))
            }
            _ => Ok(()),
        }
    }

    /// `users:delete`: disables account `id`, or with `delete` deletes it. Both take its
    /// access away, so one policy covers both; nobody does either to their own account.
    pub async fn end_account_access(
        &self,
        ctx: &RequestContext,
        id: Uuid,
        delete: bool,
    ) -> Result<Committed, CommandError> {
        ctx.authorize(Policy::UsersDelete)?;
        // Ending an administrator's access is as strong as taking `distribox:admin` away.
        if self.holds_admin(id).await? {
            ctx.authorize(Policy::DistriboxAdmin)?;
        }
        let (verb, command) = if delete {
            ("delete", AccountCommand::Delete)
        } else {
            ("disable", AccountCommand::Disable)
        };
        self.require_not_self(ctx, id, verb)?;
        self.execute_account(ctx, &id.to_string(), command).await
    }

    /// `users:delete`, which takes access away, also gives it back: enables disabled account
    /// `id`. Enabling an administrator needs `distribox:admin`, as disabling one does.
    pub async fn enable_account(
        &self,
        ctx: &RequestContext,
        id: Uuid,
    ) -> Result<Committed, CommandError> {
        ctx.authorize(Policy::UsersDelete)?;
        if self.holds_admin(id).await? {
            ctx.authorize(Policy::DistriboxAdmin)?;
        }
        self.execute_account(ctx, &id.to_string(), AccountCommand::Enable)
            .await
    }

    /// `auth:changePassword`, for the caller's own account, after checking `current`. Every
    /// session of the account ends, this one included.
    pub async fn change_password(
        &self,
        ctx: &RequestContext,
        current: String,
        new: String,
    ) -> Result<Committed, CommandError> {
        ctx.authorize(Policy::AuthChangePassword)?;
        let id = ctx
            .account_id()
            .ok_or_else(|| CommandError::refused(ErrorCode::Unauthenticated, "log in first"))?;
        check_password("new", &new)?;
        let hash: Option<String> =
            sqlx::query_scalar("SELECT password_hash FROM accounts WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        let hash =
            hash.ok_or_else(|| CommandError::refused(ErrorCode::NotFound, "account not found"))?;
        if !self
            .password_work(move || verify_password(&current, &hash))
            .await?
        {
            return Err(CommandError::bad_field(
                "current",
                "the current password is wrong",
            ));
        }
        let password_hash = self.password_work(move || hash_password(&new)).await?;
        let command = AccountCommand::ChangePassword { password_hash };
        self.execute_account(ctx, &id.to_string(), command).await
    }

    /// Ends the caller's session.
    pub async fn logout(&self, ctx: &RequestContext) -> Result<Committed, CommandError> {
        let (Some(id), Some(session)) = (ctx.account_id(), ctx.session) else {
            return Err(CommandError::refused(
                ErrorCode::Unauthenticated,
                "log in first",
            ));
        };
        self.revoke_session(session).await?;
        let command = AccountCommand::RecordLogout {
            session_id: session.to_string(),
        };
        self.execute_account(ctx, &id.to_string(), command).await
    }

    /// Accounts can't lock themselves out by accident.
    fn require_not_self(
        &self,
        ctx: &RequestContext,
        id: Uuid,
        verb: &str,
    ) -> Result<(), CommandError> {
        if ctx.account_id() == Some(id) {
            return Err(CommandError::refused(
                ErrorCode::Conflict,
                format!("you cannot {verb} your own account"),
            ));
        }
        Ok(())
    }

    async fn holds_admin(&self, id: Uuid) -> Result<bool, CommandError> {
        let policies: Option<Vec<String>> =
            sqlx::query_scalar("SELECT policies FROM accounts WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(policies.is_some_and(|p| p.iter().any(|p| p == Policy::DistriboxAdmin.as_str())))
    }
}
