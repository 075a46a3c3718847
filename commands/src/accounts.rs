//! Accounts: first-start bootstrap of `admin`, and password login.

use distribox_domain::access::AccessCommand;
use distribox_domain::account::{
    account_id_for, AccountCommand, LoginFailure, Username, ADMIN_USERNAME,
};
use distribox_domain::policy::Policy;
use uuid::Uuid;

use crate::secrets::{generated_password, hash_password, verify_against_dummy, verify_password};
use crate::throttle::Keys;
use crate::{Actor, CommandBus, CommandError, ErrorCode, RequestContext};

#[derive(Debug, Clone)]
pub struct LoginSuccess {
    pub token: String,
    pub account_id: Uuid,
}

fn wrong_credentials() -> CommandError {
    CommandError::refused(ErrorCode::Unauthenticated, "invalid username or password")
}

impl CommandBus {
    /// Runs slow password hashing on the blocking pool, a bounded number at a time.
    pub(crate) async fn password_work<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, CommandError> {
        let _permit = self
            .password_work
            .acquire()
            .await
            .map_err(CommandError::internal)?;
        tokio::task::spawn_blocking(f)
            .await
            .map_err(CommandError::internal)
    }

    /// Creates the `admin` account (holding `distribox:admin`) unless it exists. Returns the
    /// password when Distribox generated it, so the caller can show it once.
    pub async fn ensure_admin(
        &self,
        password: Option<String>,
    ) -> Result<Option<String>, CommandError> {
        let username = Username::parse(ADMIN_USERNAME)?;
        let id = account_id_for(&username);
        let exists: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM events WHERE aggregate_type = 'Account' AND aggregate_id = $1)",
        )
        .bind(id.to_string())
        .fetch_one(&self.pool)
        .await?;
        if exists {
            return Ok(None);
        }
        let generated = password.is_none();
        let password = password.unwrap_or_else(generated_password);
        let hash = {
            let password = password.clone();
            self.password_work(move || hash_password(&password)).await?
        };
        let command = AccountCommand::Create {
            username: ADMIN_USERNAME.to_owned(),
            password_hash: hash,
            policies: vec![Policy::DistriboxAdmin.to_string()],
        };
        match self
            .execute_account(&RequestContext::system(), &id.to_string(), command)
            .await
        {
            Ok(_) => Ok(generated.then_some(password)),
            // Another instance bootstrapped it first.
            Err(err) if err.code() == ErrorCode::Conflict => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Checks a username and password and opens a session. Unknown usernames cost the same
    /// argon2 time as wrong passwords and get the same answer.
    pub async fn login(
        &self,
        ctx: &RequestContext,
        username: &str,
        password: &str,
    ) -> Result<LoginSuccess, CommandError> {
        let password = password.to_owned();
        let account = match Username::parse(username) {
            Ok(name) => sqlx::query_as::<_, (Uuid, String, Vec<String>, bool)>(
                "SELECT id, password_hash, policies, disabled FROM accounts WHERE username = $1",
            )
            .bind(name.as_str())
            .fetch_optional(&self.pool)
            .await?
            .map(|(id, hash, policies, disabled)| (id, name, hash, policies, disabled)),
            Err(_) => None,
        };
        let throttle = Keys::new(&self.login_limits, username, ctx.client_addr.as_deref());
        if let Err(refused) = throttle.reserve(&self.pool).await {
            // Not on the account's stream: a flood of refused attempts must not grow it.
            let attempt = AccessCommand::RecordThrottledLogin {
                username: username.to_owned(),
            };
            self.record_attempt(ctx, attempt).await?;
            return Err(refused);
        }
        let Some((account_id, name, hash, policies, disabled)) = account else {
            self.password_work(move || verify_against_dummy(&password))
                .await?;
            let attempt = AccessCommand::RecordUnknownLogin {
                username: username.to_owned(),
            };
            self.record_attempt(ctx, attempt).await?;
            return Err(wrong_credentials());
        };
        if !self
            .password_work(move || verify_password(&password, &hash))
            .await?
        {
            let failure = AccountCommand::RecordLoginFailure {
                reason: LoginFailure::WrongPassword,
            };
            self.execute_account(ctx, &account_id.to_string(), failure)
                .await?;
            return Err(wrong_credentials());
        }
        // Said only to someone who knows the password.
        if disabled {
            let failure = AccountCommand::RecordLoginFailure {
                reason: LoginFailure::Disabled,
            };
            self.execute_account(ctx, &account_id.to_string(), failure)
                .await?;
            return Err(CommandError::refused(
                ErrorCode::Unauthenticated,
                "this account is disabled",
            ));
        }
        let session_id = Uuid::new_v4();
        let as_account = RequestContext {
            actor: Actor::Account {
                id: account_id,
                username: name.as_str().to_owned(),
                policies: policies.iter().filter_map(|p| p.parse().ok()).collect(),
                scoped: Default::default(),
            },
            ..ctx.clone()
        };
        let record = AccountCommand::RecordLogin {
            session_id: session_id.to_string(),
        };
        self.execute_account(&as_account, &account_id.to_string(), record)
            .await?;
        let token = self.open_session(session_id, account_id).await?;
        throttle.succeeded(&self.pool).await?;
        Ok(LoginSuccess { token, account_id })
    }
}
